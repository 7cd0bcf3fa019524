/* Data movement between nodes: the rebalance that follows a change of
 * placement (a node joins, goes into maintenance, is decommissioned or
 * removed) and the fetch of an object from its previous owner when a node
 * is asked for one it owns but does not hold yet. It follows snapshots from
 * cluster/ (cluster_on_change), walks store/ for what this node holds that
 * another node now owns, streams each such object to its owner over
 * cluster/peer's connections (OP_PUT with `migrate`), and deletes its copy
 * only once the owner has it durable. See DESIGN ("Rebalance"). */
#ifndef AISD_MOVE_MOVE_H
#define AISD_MOVE_MOVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ais.pb-c.h"
#include "objmeta.h"

struct aisd;
struct ais_node;
struct cluster_map;
struct store_obj_meta;
struct store;
struct shards;

struct move;

/* Needs d->store, d->cluster, d->peers. Returns 0 or -errno with errmsg.
 * Free with move_free (after move_stop). */
int move_new(struct aisd *d, struct move **out, char *errmsg);
void move_free(struct move *mv);

/* Starts the rebalance thread; it resumes an unfinished rebalance (state
 * under <mountpath>/.ais/rebalance) and follows cluster snapshots.
 * move_stop waits for it. */
int move_start(struct move *mv);
void move_stop(struct move *mv);

/* A new cluster snapshot (called on the cluster thread: never blocks). A
 * new rebalance_id supersedes the rebalance under way. */
void move_on_map(struct move *mv, struct cluster_map *cm);

/* For OP_NODE_INFO: fills st (strings point into mv, valid until the next
 * call from the same thread... copied by the caller before replying). */
void move_status(struct move *mv, Ais__RebalanceStatus *st, char *last_error,
		 size_t last_error_len);

/* ---- for rpc/: reads and deletes while objects move ----------------- */

/* The read side of "no read fails": this node owns bucket/name under
 * cm->m but does not hold it, and cm has history. Asks its owners in
 * cm->history (newest first; not itself, not nodes the map marks down) for
 * their copy (a peer_local GET) and stores it here through the migrate
 * rule (newest wins, tombstones refuse). Returns 0 when the caller should
 * read its local copy again (fetched, or a newer copy / a tombstone here:
 * then the read finds what it finds), -ENOENT (no previous owner has it,
 * or no history), -EIO (a previous owner could not be asked: errmsg names
 * it; the object may exist), or another -errno with errmsg. Concurrent
 * fetches of one object share the first one's (when d->move is set, which
 * also counts them). Blocking: run on a worker. */
int move_fetch(struct aisd *d, struct cluster_map *cm, const char *bucket,
	       const char *name, char *errmsg);

/* A read (q: a GET, HEAD or SHARD_LIST as the client sent it) asked of
 * the object's previous owners in cm->history (newest placement first; a
 * peer_local read), storing nothing here: the first that has it answers.
 * A GET's answer goes to sink as it comes (its head and length, then the
 * body); without sink (an answer without body) *answer gets it (free with
 * ais__response__free_unpacked). Returns 0 when one
 * answered, -ENOENT when none has it (or there is no history), -EIO with
 * errmsg when an owner that may have it could not be asked, an owner's
 * own error (a range past the end, a shard member that is a directory),
 * or the -errno that broke the answer off after sink->head (the caller's
 * own answer is then broken too). Blocking: run on a worker. */
struct peer_sink;
int move_read_history(struct aisd *d, struct cluster_map *cm,
		      const Ais__Request *q, const struct peer_sink *sink,
		      Ais__Response **answer, char *errmsg);

/* The delete side: deletes the copies of bucket/name at its owners in
 * cm->history (peer_local DELETE; not itself, not nodes marked down), so
 * that a copy in flight cannot bring it back. Returns 0 if some node had
 * it, -ENOENT if none had, -EIO with errmsg if none had it that answered
 * but some could not be asked. */
int move_delete_history(struct aisd *d, struct cluster_map *cm,
			const char *bucket, const char *name, char *errmsg);

/* Whether a DELETE now records a tombstone: cm has history, or had until
 * less than 10 minutes ago (or mv is NULL and cm has history). */
bool move_tombstones_wanted(struct move *mv, const struct cluster_map *cm);

/* ---- copies: buckets whose objects live on more than one node -------- */

/* After a PUT here committed bucket/name as m: makes the copies on the
 * other nodes of its copy set under cm (a replica PUT each, streamed from
 * the local file), and counts in *missing those that could not be made now
 * (a node down, unreachable, out of space): they are remembered and made
 * by the repair thread when their node can take them (the object is
 * "degraded" until then). Nothing to do for copies = 1, or when a newer
 * PUT replaced the object meanwhile (it makes its own copies). Returns 0
 * (errmsg: why the first missing copy failed). Blocking: run on a worker. */
int move_replicate(struct aisd *d, struct cluster_map *cm, const char *bucket,
		   const char *name, const struct ais_obj_meta *m,
		   unsigned *missing, char *errmsg);

/* After a DELETE here: deletes the other copies (peer_local); *had says
 * whether one had it. A copy that cannot be deleted now is remembered.
 * Returns 0. */
int move_delete_copies(struct aisd *d, struct cluster_map *cm,
		       const char *bucket, const char *name, bool *had,
		       char *errmsg);

/* After a SET_META here (q, with the result m): the same at the other
 * copies, or remembered. Returns 0. */
int move_set_meta_copies(struct aisd *d, struct cluster_map *cm,
			 const Ais__Request *q, const struct ais_obj_meta *m);

/* Remembers that bucket/name's copies elsewhere are to be made from the
 * copy here (kind 'P') or deleted (kind 'D'); the repair thread does it. */
void move_copies_note(struct move *mv, char kind, const char *bucket,
		      const char *name);

/* A corrupt copy of bucket/name here: replaced by the copy of another
 * node of its copy set under cm (a peer_local GET, which that node checks
 * block by block, stored as a repair). 0 with *from (that node's id), or
 * -errno with errmsg (no other copy, none good, none reachable). */
int move_repair(struct aisd *d, struct cluster_map *cm, const char *bucket,
		const char *name, const char **from, char *errmsg);

/* Records not yet done: objects whose copies are missing somewhere. */
uint64_t move_copies_pending(struct move *mv);
/* The same for one bucket (reads the pending log). */
uint64_t move_copies_pending_bucket(struct move *mv, const char *bucket);

/* OP_COPIES_SYNC from node `from` (just restarted, to get what it
 * missed): a round through the pending log now, with `from` taken as up
 * whatever the map says; returns once it is done, with the number of
 * records that could not reach `from` (still pending). */
int move_copies_sync(struct move *mv, const struct ais_node *from);

/* True while this node, just started, waits for the other nodes to make
 * the copies it missed (OP_COPIES_SYNC at each): its copies of objects in
 * buckets with copies may be stale, so it does not serve them. */
bool move_catching_up(struct move *mv);

/* ---- scrub ---------------------------------------------------------- */

/* Starts a scrub of bucket ("" = all) under prefix on this node (see
 * scrub.c), or joins the one that runs with the same scope: 0, -EBUSY
 * (another scope runs) with errmsg. */
int move_scrub_start(struct move *mv, const char *bucket, const char *prefix,
		     char *errmsg);
/* The current (or last) scrub into st (heap strings: free with
 * move_scrub_status_free). 0 or -ENOMEM. */
int move_scrub_status(struct move *mv, Ais__ScrubStatus *st);
void move_scrub_status_free(Ais__ScrubStatus *st);

/* ---- resilver: objects onto the mountpath HRW picks for them -------- */

/* Walks every mountpath of st and moves each object found off its HRW
 * mountpath onto it (store_resilver; a shard's index follows through sh,
 * which may be NULL). *moved (may be NULL) counts objects moved or
 * dropped as older duplicates. Stops with -ECANCELED once *stop (may be
 * NULL) is true. Returns 0 or the first -errno (errmsg): objects that
 * failed are left in place, still readable (lookups try every
 * mountpath). */
int move_resilver(struct store *st, struct shards *sh, const atomic_bool *stop,
		  uint64_t *moved, char *errmsg);

/* Whether the mountpath set differs from the one remembered under
 * <mp>/.ais/mountpaths (on any mountpath; a mountpath without the file
 * counts as changed), and remembering the current one (durably, on every
 * mountpath). */
bool move_mountpaths_changed(struct store *st);
int move_mountpaths_remember(struct store *st, char *errmsg);

#endif
