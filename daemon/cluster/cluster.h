/* Membership: which nodes are in the cluster, the map the data path places
 * objects by, and how a node joins. This small interface is all the rest of
 * aisd sees of it: the data path takes immutable, reference-counted
 * snapshots of the map; OP_JOIN hands a joiner in. Today the map is decided
 * by gossip (membership.c keeps and persists it, gossip.c asks seeds and
 * peers and merges what they know); Raft replaces gossip behind the same
 * calls. */
#ifndef AISD_CLUSTER_CLUSTER_H
#define AISD_CLUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "map.h"

struct cluster;

/* A read-only snapshot of the map; release with cluster_map_put. */
struct cluster_map {
	int refs; /* atomic */
	struct ais_map *m;
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

#endif
