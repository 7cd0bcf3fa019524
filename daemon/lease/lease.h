/* Leases: the mounts that cache object metadata from this node, and the
 * feed of changes that keeps their caches right without a round trip per
 * open (HACKING.md, "Leases"; aisfs(1), CONSISTENCY).
 *
 * A mount (aisfs) polls every node with OP_WATCH: "I have applied every
 * change up to `since`; tell me what changed after it". The node answers at
 * once when something did, else holds the poll up to its wait time. Each
 * poll renews the mount's lease for lease_ms from its arrival here; the
 * mount trusts what it cached only while it holds a lease from every node
 * of the map, counted from when it sent the poll (so never longer than the
 * node counts it).
 *
 * A change this node makes for a client (a PUT, delete, rename, metadata
 * change, shard append, bucket destroy) is numbered into a bounded ring and
 * answered only once every mount that holds a lease on its bucket has
 * applied it (polled again with since past it), or that mount's lease ran
 * out (it then no longer trusts anything it cached). So a close(2) that
 * returned on one machine is seen by an open(2) on any other: close-to-open
 * without asking the cluster at every open.
 *
 * A node that starts knows no leases; mounts may still hold some from its
 * previous run, or not know it at all yet (a node that just joined). So it
 * answers no change for a while after it started serving (the grace
 * period): a node that ran less than a lease ago waits until the leases it
 * granted then ran out, or until every mount that held one has polled
 * again (it keeps their ids in a small file for this, `stamp`); a node
 * that did not waits for what mounts need to learn of a new node (one
 * poll's wait).
 *
 * Thread-safe; depends on nothing else of aisd. */
#ifndef AISD_LEASE_LEASE_H
#define AISD_LEASE_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_MS_DEFAULT  4000
#define LEASE_CHANGES	  16384 /* changes remembered for a mount to catch up */
#define LEASE_HOLDERS	  4096	/* mounts watching one node */
#define LEASE_WAIT_MAX_MS 2000	/* longest a poll is held */
/* A node that did not run lately: mounts learn of a new node from their
 * next poll's answer (held up to 1 s by mounts) and watch it 200 ms
 * later at most. */
#define LEASE_NEW_GRACE_MS 2500

struct leases;

/* lease_ms 0: LEASE_MS_DEFAULT. stamp: the file that keeps the mounts
 * that hold leases, and when (NULL: none; then every start waits a whole
 * lease). NULL without memory. */
struct leases *leases_new(unsigned lease_ms, const char *stamp);
void leases_free(struct leases *l);

/* The node serves clients from now on; the first call starts the grace
 * period. Cheap after the first. */
void leases_serving(struct leases *l);

/* Numbers a change of bucket/name (name "" = the whole bucket), made by
 * this node for a client (origin: the mount that asked for it, which
 * knows of it and is not told; 0: none), and wakes the polls that wait. Returns
 * its number for leases_wait. Without memory, forgets every older change (a
 * mount behind then gets -ESTALE and drops its cache): a change is never
 * lost silently. */
uint64_t leases_note(struct leases *l, const char *bucket, const char *name,
		     uint64_t origin);

/* Waits until every mount (but origin) holding a lease on bucket has
 * applied change seq
 * or lost its lease, and the grace period is over. Returns the time it
 * waited, in ms. */
unsigned leases_wait(struct leases *l, const char *bucket, uint64_t seq,
		     uint64_t origin);

/* One poll of mount id (bucket: its filter, "" = all) that applied every
 * change up to since (0: none; the answer says where the feed stands) of
 * run (this node's run it last heard of; 0: none, or a mount that does not
 * say). Renews its lease. A poll counts as the mount's acknowledgement
 * only when it answers an earlier answer of this run: after a first poll
 * (since 0) or -ESTALE the mount drops what it cached, and only its next
 * poll says that it did (a mount of the last run ends the grace period
 * then, not before). Then calls fn for each change after since that
 * matches the filter, oldest first, at most max of them, under the lock
 * (fn must not call back in; it returns 0, or 1 when the answer has no
 * room for this one, which then starts the next poll); waits up to
 * wait_ms for one if there is none. *upto gets the number the answer
 * reaches. Returns 0, fn's first negative value, -ESTALE (since is older than
 * the ring, or from another run of this node: *upto is where to go on from),
 * -EBUSY (too many mounts). */
int leases_poll(struct leases *l, uint64_t id, const char *bucket,
		uint64_t since, uint64_t run, unsigned wait_ms, size_t max,
		int (*fn)(void *arg, const char *bucket, const char *name),
		void *arg, uint64_t *upto);

/* Mount id went away (it unmounted): its lease ends now, and changes
 * waiting for it go on. Returns whether it held one. */
bool leases_release(struct leases *l, uint64_t id);

/* Mounts whose lease is current (the unit test's view; not shown by any
 * command yet). */
size_t leases_holders(struct leases *l);

/* This run's random id: a mount that sees another one dropped what it
 * cached (change numbers from the wall clock could repeat after a clock
 * step back). */
uint64_t leases_run(struct leases *l);

/* The lease time in ms. */
unsigned leases_ms(struct leases *l);

#endif
