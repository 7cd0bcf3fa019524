/* Arrivals: the names that became visible on this node lately (a PUT, a
 * copy moved in by a rebalance or a fetch, a resilver, a rename),
 * numbered in order, in a bounded ring; and when an object last left it
 * (sent to its new owner, or moved to another mountpath).
 *
 * They make a listing during a rebalance complete. A listing asks every
 * node for a page at about the same time, but not at the same instant: an
 * object can reach its new owner just after that node's scan and leave
 * the old one just before the other's, and be in neither answer. Each
 * node says with its page the sequence number it had before its scan and
 * whether something left it recently; if anything did, the client asks
 * each node for what arrived after that number and merges it. An object
 * that left its old owner before that node's scan ended had arrived at
 * its new owner first, so it is either in the new owner's scan or among
 * its arrivals after the number read before that scan.
 * Thread-safe. */
#ifndef AISD_STORE_ARRIVALS_H
#define AISD_STORE_ARRIVALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRIVALS_DEFAULT 16384

struct arrivals;

/* cap 0 = ARRIVALS_DEFAULT names remembered. NULL without memory. */
struct arrivals *arrivals_new(size_t cap);
void arrivals_free(struct arrivals *a);

/* The sequence number of the latest arrival (never 0, which means a node
 * that keeps none; it starts at the wall clock in ns, so numbers grow
 * across restarts). */
uint64_t arrivals_seq(struct arrivals *a);

/* bucket/name became visible on this node (after it did: the caller's
 * rename is done). Without memory the ring forgets everything before it
 * (an ask then gets -ESTALE), it never loses an arrival silently. */
void arrivals_note(struct arrivals *a, const char *bucket, const char *name);

/* An object is about to leave this node (deleted after a move, moved to
 * another mountpath, an older copy removed): called before it goes. */
void arrivals_departed(struct arrivals *a);
/* Whether one did within the last `secs` seconds. */
bool arrivals_departed_within(struct arrivals *a, unsigned secs);

/* Calls fn for every name of bucket that arrived with a number > since,
 * oldest first (a name may come more than once), under the ring's lock
 * (fn must not call back in). *now gets the latest number. Returns 0, the
 * first non-zero value of fn, or -ESTALE when the ring no longer reaches
 * back to since (or since is from an earlier run of the node). */
int arrivals_since(struct arrivals *a, uint64_t since, const char *bucket,
		   int (*fn)(void *arg, const char *name), void *arg,
		   uint64_t *now);

#endif
