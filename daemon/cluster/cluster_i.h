/* Internal to daemon/cluster/: the layout of struct cluster, shared by
 * membership.c (the map: snapshots, persistence, joins, merges) and
 * gossip.c (the thread that asks seeds and peers). */
#ifndef AISD_CLUSTER_CLUSTER_I_H
#define AISD_CLUSTER_CLUSTER_I_H

#include <pthread.h>
#include <stdbool.h>

#include "cluster/cluster.h"
#include "cluster/peer.h"

struct gossip_target {
	char *addr;	/* "HOST:PORT" */
	bool ok;	/* answered a JOIN at least once */
	unsigned fails; /* consecutive failures, to keep the log quiet */
};

struct cluster {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cluster_map *cur;
	struct ais_node self;
	struct gossip_target *seeds; /* the seeds and the join target */
	size_t nseeds;
	char **state_files; /* <mp>/.ais/map: the last map, for restarts */
	size_t nstate;
	struct peers *peers; /* gossip connections */
	pthread_t thr;
	bool running;
	bool stop;
	cluster_buckets_cb buckets_cb;
	void *buckets_arg;
	bool buckets_synced; /* the first round has run */
};

/* Merges a map received from a peer (membership.c). Returns 0 or -ENOMEM.
 */
int cluster_merge(struct cluster *c, const struct ais_map *other);

#endif
