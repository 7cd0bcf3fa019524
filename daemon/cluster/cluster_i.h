/* Internal to daemon/cluster/: the layout of struct cluster, shared by
 * raft.c (the Raft thread: log, snapshots, configuration), publish.c (the
 * snapshots the data path reads), propose.c (changes, forwarded to the
 * leader), join.c (how a node gets into the map) and watch.c (the leader's
 * liveness checks). Fields are grouped by the thread that owns them. */
#ifndef AISD_CLUSTER_CLUSTER_I_H
#define AISD_CLUSTER_CLUSTER_I_H

#include <pthread.h>
#include <stdbool.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "cluster/peer.h"

#define CLUSTER_SUBS_MAX 8

/* A change waiting to be committed: made by a worker thread, applied by
 * the Raft thread, and freed by whichever of the two lets go last. */
struct proposal {
	struct proposal *next;
	void *buf; /* packed MetaCmd */
	size_t len;
	struct raft_apply req;
	struct cluster *c;
	int refs; /* under c->mu */
	bool done;
	int status;
	char msg[AIS_ERRMSG_LEN];
};

struct cluster {
	/* Set at cluster_new, read-only after. */
	struct ais_node self;
	raft_id self_rid;
	char **seeds;
	size_t nseeds;
	char *join;
	char *raft_dir;
	char **local_buckets;
	size_t nlocal_buckets;
	unsigned down_after_ms;
	char auth_kid[AIS_KID_LEN + 1]; /* "" = no auth */
	struct peers *peers;		/* borrowed: node-to-node calls */
	struct peers *probe; /* short timeouts: liveness, bootstrap probes */
	struct {
		cluster_change_cb cb;
		void *arg;
	} subs[CLUSTER_SUBS_MAX];
	size_t nsubs;

	/* Under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cluster_map *cur; /* the published snapshot */
	struct proposal *queue, *queue_tail;
	bool joined;	/* self is in a committed map, at its address */
	bool online;	/* ... and no longer joining */
	bool is_leader; /* as of the last tick or apply */
	bool stopping;
	bool running;

	/* The Raft thread's. */
	pthread_t thr;
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t tick;
	struct raft_uv_transport transport;
	/* TLS (cluster_opts): Raft's transport is raft_tls then, not
	 * raft_uv_tcp. */
	struct ais_tls *tls_server, *tls_client;
	struct raft_io io;
	struct raft_fsm fsm;
	struct raft raft;
	struct meta *meta;
	struct raft_change change; /* the configuration change in flight */
	bool changing;
	struct raft_transfer transfer;
	bool transferring;
	char published_leader[AIS_NODE_ID_MAX];
	uint64_t published_roles; /* a digest of the roles last published */
	uint64_t logged_version;
	bool was_member; /* self was in a map applied here */
	bool removed;	 /* ... and then left it */
	bool left; /* atomic: the leader's map has no self any more (the log
		      that says so may never reach a node out of Raft) */
	bool bootstrap; /* decided by cluster_start: start a new cluster */

	/* The joiner and watch threads. */
	pthread_t join_thr, watch_thr;
	bool join_started, watch_started;
};

/* The Raft id of a node id (a 64-bit hash, never 0). */
raft_id cluster_rid(const char *node_id);

/* publish.c: builds a snapshot from c->meta and the Raft configuration and
 * makes it current (Raft thread). */
void cluster_publish(struct cluster *c);

/* raft.c: the Raft thread (started by cluster_start). */
int cluster_raft_start(struct cluster *c, char *errmsg);
void cluster_raft_stop(struct cluster *c);
/* Queues a proposal for the Raft thread (any thread). */
void cluster_raft_submit(struct cluster *c, struct proposal *p);

/* propose.c: commits cmd through the leader, forwarding as needed. */
int cluster_propose(struct cluster *c, const Ais__MetaCmd *cmd, char *errmsg);
/* Marks node id down (or up again) in the map. */
int cluster_mark_down(struct cluster *c, const char *id, bool down,
		      char *errmsg);

/* join.c: the thread that gets this node into the map. */
int cluster_join_start(struct cluster *c);
void cluster_join_stop(struct cluster *c);
/* Whether to bootstrap a new cluster (fresh Raft state, no seed knows one,
 * and this node is the first seed). */
bool cluster_should_bootstrap(struct cluster *c);

/* watch.c: the leader's liveness checks. */
int cluster_watch_start(struct cluster *c);
void cluster_watch_stop(struct cluster *c);

/* Sleeps ms unless the cluster stops first; returns false if stopping. */
bool cluster_sleep(struct cluster *c, unsigned ms);

#endif
