/* Data movement between nodes: replication of object copies and the
 * rebalance that follows a change of the map (a node joins, leaves or is
 * removed). Nothing lives here yet; this is its place. It will subscribe to
 * map changes from cluster/, find through store/ what this node holds that
 * it no longer owns (or should hold and lacks), and move it node to node
 * over cluster/peer's connections, deleting a copy only once its new owner
 * has it durable. See DESIGN ("Rebalance"). */
#ifndef AISD_MOVE_MOVE_H
#define AISD_MOVE_MOVE_H

#endif
