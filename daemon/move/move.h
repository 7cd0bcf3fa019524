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

#include <stdbool.h>
#include <stdint.h>

#include "ais.pb-c.h"

struct aisd;
struct cluster_map;
struct store_obj_meta;

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

#endif
