/* OP_LIST on one node: the sorted names of a bucket's objects across the
 * mountpaths, paginated, with '/' roll-up into common prefixes. Memory is
 * bounded by the page size, and with a delimiter only the directory holding
 * the prefix is read. Blocking: run on worker threads. */
#ifndef AISD_STORE_LISTING_H
#define AISD_STORE_LISTING_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

#define LISTING_PAGE_DEFAULT 1000
#define LISTING_PAGE_MAX     10000

struct listing_entry {
	char *name;		  /* heap */
	bool is_prefix;		  /* "dir/" */
	int mp;			  /* mountpath it was found on */
	struct ais_obj_meta meta; /* objects only */
};

struct listing {
	struct listing_entry *e; /* heap array of n */
	size_t n;
	bool more; /* next_token = e[n - 1].name */
};

/* Lists names > start_after that begin with prefix (delimiter "" or "/";
 * page_size 0 = default, capped). Returns 0 with *out filled (free with
 * listing_free), or -errno with errmsg (-ENOENT: no such bucket). */
int listing_run(struct store *st, const char *bucket, const char *prefix,
		const char *delimiter, const char *start_after,
		unsigned page_size, struct listing *out, char *errmsg);
void listing_free(struct listing *l);

#endif
