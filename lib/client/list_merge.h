/* Merging the sorted LIST pages of several nodes into one page, with a
 * continuation token that is valid for every node. */
#ifndef AIS_LIST_MERGE_H
#define AIS_LIST_MERGE_H

#include <stdbool.h>
#include <stddef.h>

#include "ais.pb-c.h"

/* One node's answer to OP_LIST: its entries (sorted by name, strictly
 * increasing) and whether it has more after the last one (next_token set). */
struct ais_list_src {
	Ais__ListEntry **entries;
	size_t n;
	bool more;
};

/* Merges srcs into out[] (caller-allocated, room for page_size pointers):
 *  - entries are taken in name order; equal names (a common prefix "d/"
 *    reported by several nodes, or the same object held by two nodes
 *    during a rebalance) are emitted once: for an object, the entry whose
 *    meta.written_ns is largest (on a tie, the first source's);
 *  - a source that has more stops the merge at its last entry: nothing beyond
 *    the smallest such "horizon" is emitted, since that node may still hold
 *    smaller names after it;
 *  - at most page_size entries are emitted.
 * The out[] pointers point into the sources (no copies). *more is set when
 * the listing continues after out[*n - 1] (the next start_after); if *n is 0
 * and *more is set, that can only happen with page_size 0 (never). */
void ais_list_merge(const struct ais_list_src *srcs, size_t nsrc,
		    size_t page_size, Ais__ListEntry **out, size_t *n,
		    bool *more);

#endif
