/* Group commit: what PUTs wrote to a file system made durable by one
 * syncfs(2) shared by every caller that asks while one runs, as a journal
 * commit is shared by the transactions that wait for it. One flusher per
 * file system of the node's mountpaths (two mountpaths on one file system
 * share theirs).
 *
 * syncfs writes back everything dirty on the file system, not only the
 * caller's files: on a mountpath of its own (the intended setup) that is
 * the node's own writes; on a shared file system it also flushes other
 * programs' writes, which costs time but never correctness. */
#ifndef AISD_STORE_FLUSH_H
#define AISD_STORE_FLUSH_H

#include <stdint.h>

struct mpset;
struct flushers;

/* One flusher per distinct file system of mps (each holds an open
 * descriptor of its first mountpath). Returns 0 with *out or -errno with
 * errmsg. */
int flushers_new(const struct mpset *mps, struct flushers **out, char *errmsg);
void flushers_free(struct flushers *f);

/* The count of failed flushes of mountpath mp's file system: note it
 * before writing what a later flushers_sync must make durable. */
uint64_t flushers_mark(struct flushers *f, int mp);

/* Returns when everything written to mountpath mp's file system before
 * the call is durable: 0, or -errno with errmsg when a flush failed after
 * mark (flushers_mark, noted before the caller wrote): a write-back error
 * is reported by one syncfs only, which may have been another caller's,
 * and then what the caller wrote may be lost. Errors reach syncfs on
 * Linux 5.8 and later. */
int flushers_sync(struct flushers *f, int mp, uint64_t mark, char *errmsg);

/* The index of mountpath mp's file system (0..): equal for mountpaths
 * that share one. */
int flushers_domain(const struct flushers *f, int mp);

#endif
