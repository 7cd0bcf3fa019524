/* Membership: which nodes are in the cluster, the map the data path places
 * objects by, and how a node joins. This small interface is all the rest of
 * aisd sees of it: the data path takes immutable, reference-counted
 * snapshots of the map; OP_JOIN hands a joiner in. Today the map is decided
 * by gossip (membership.c keeps and persists it, gossip.c asks seeds and
 * peers and merges what they know); Raft replaces gossip behind the same
 * calls. */
#ifndef AISD_CLUSTER_CLUSTER_H
#define AISD_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "map.h"

struct cluster;

/* An immutable snapshot of the cluster metadata; cluster_map_get takes a
 * reference, cluster_map_put drops it. Nothing in it changes while held. */
struct cluster_map {
	int refs;	   /* atomic */
	struct ais_map *m; /* nodes, version, leader (as this node knows it) */
	char **buckets;	   /* the bucket table, sorted */
	size_t nbuckets;
	/* Placement generations: rebalance_id grows by one whenever the set
	 * of nodes that take data changes. history[] are the earlier
	 * placements (newest first) whose objects may not all have reached
	 * their owners under m yet: the maps since the last rebalance that
	 * every node finished. A node that misses an object looks for it at
	 * its owners in these maps. */
	uint64_t rebalance_id;
	struct ais_map **history;
	size_t nhistory;
	bool self_rebalanced; /* this node reported rebalance_id done */
	bool read_only; /* no leader reachable: changes fail, data serves */
};

/* Starts from the saved map with the highest version among state_files
 * (or an empty one), with self added; every later map is saved durably to
 * all of them. seeds/join ("HOST:PORT") and the paths are copied. Returns
 * NULL on ENOMEM. Free with cluster_free (after cluster_stop). */
struct cluster *cluster_new(const struct ais_node *self, char *const *seeds,
			    size_t nseeds, const char *join,
			    char *const *state_files, size_t nstate);
void cluster_free(struct cluster *c);

/* Called from the gossip thread with the buckets a peer holds, for every
 * peer that answers in the first gossip round after start. */
typedef void (*cluster_buckets_cb)(void *arg, char *const *names, size_t n);
void cluster_on_peer_buckets(struct cluster *c, cluster_buckets_cb cb,
			     void *arg);

/* Starts / stops the gossip thread (stop waits for it). */
int cluster_start(struct cluster *c);
void cluster_stop(struct cluster *c);

const struct ais_node *cluster_self(const struct cluster *c);

/* Takes a reference to the current snapshot (never NULL). */
struct cluster_map *cluster_map_get(struct cluster *c);
void cluster_map_put(struct cluster_map *cm);
uint64_t cluster_version(struct cluster *c);

/* OP_JOIN from another node: adds or updates it (new version if the map
 * changed). Returns 0 or -ENOMEM. */
int cluster_join(struct cluster *c, const struct ais_node *joiner);

/* Called on the cluster thread after every new snapshot, with it
 * (borrowed: take a reference to keep it). Must not block. */
typedef void (*cluster_change_cb)(void *arg, struct cluster_map *cm);
void cluster_on_change(struct cluster *c, cluster_change_cb cb, void *arg);

/* This node has moved everything it holds that placement generation id
 * places elsewhere (its rebalance for id is done). Blocks until committed;
 * -EAGAIN with no leader. */
int cluster_rebalance_done(struct cluster *c, uint64_t id, char *errmsg);

#endif
