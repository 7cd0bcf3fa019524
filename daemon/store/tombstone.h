/* Tombstones: the names deleted on this node while a rebalance may be in
 * flight, with the time of the delete, so that a copy of an older version
 * still on its way from a previous owner (a rebalance, a fetch) is
 * refused instead of resurrecting a deleted object. Kept in memory (a hash
 * table, at most `max` names: the oldest goes first) and in an append-only
 * log <mp>/.ais/tombstones that survives restarts, compacted when it grows,
 * emptied when no rebalance has been in flight for a while (the caller
 * decides when: tombs_clear). Thread-safe. */
#ifndef AISD_STORE_TOMBSTONE_H
#define AISD_STORE_TOMBSTONE_H

#include <stddef.h>
#include <stdint.h>

#define TOMBS_MAX_DEFAULT 200000

struct tombs;

/* Loads the log at path (the first of paths[], created if missing), and
 * merges into it the logs at the other paths (left by an earlier set of
 * mountpaths; removed afterwards). max 0 = TOMBS_MAX_DEFAULT. Returns 0
 * with *out (free with tombs_free) or -errno with errmsg. */
int tombs_open(char *const *paths, size_t npaths, size_t max,
	       struct tombs **out, char *errmsg);
void tombs_free(struct tombs *t);

/* Records bucket/name as deleted at ns (a later time for a known name
 * replaces the earlier one), durably (the log is fdatasync'ed) before it
 * returns. Returns 0 or -errno. */
int tombs_add(struct tombs *t, const char *bucket, const char *name,
	      int64_t ns);

/* The time bucket/name was deleted, or 0 if no tombstone holds it. */
int64_t tombs_get(struct tombs *t, const char *bucket, const char *name);

/* The number of tombstones. */
size_t tombs_count(struct tombs *t);

/* Forgets every tombstone (memory and log). Returns 0 or -errno. */
int tombs_clear(struct tombs *t);

#endif
