/* Membership: the cluster metadata (the node map and the bucket table, one
 * versioned state replicated by Raft), the snapshots of it that the data
 * path reads, and the changes other subsystems ask for. This small
 * interface is all the rest of aisd sees of it: raft.c, fsm.c and the
 * others behind cluster_i.h can change without touching rpc/ or move/. */
#ifndef AISD_CLUSTER_CLUSTER_H
#define AISD_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ais.pb-c.h"
#include "auth.h"
#include "map.h"

struct cluster;
struct peers;
struct ais_tls;

/* Users (sorted by name) and the tokens revoked one by one (ais auth);
 * each message unpacked on its own. */
struct cluster_users {
	Ais__User **users;
	size_t nusers;
	Ais__RevokedToken **revoked;
	size_t nrevoked;
};

/* An immutable snapshot of the cluster metadata; cluster_map_get takes a
 * reference, cluster_map_put drops it. Nothing in it changes while held. */
struct cluster_map {
	int refs;	   /* atomic */
	struct ais_map *m; /* nodes, version, leader (as this node knows it) */
	char **buckets;	   /* the bucket table, sorted */
	int64_t *bucket_created; /* [nbuckets]: when each was created (which
				    bucket of that name it is) */
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
	bool self_removed;    /* this node was in the map and is no longer
				 (decommissioned or removed) */
	bool read_only; /* no leader reachable: changes fail, data serves */
	Ais__EtlSpec **etls; /* registered transforms, sorted by name */
	size_t netls;
	Ais__EtlJob **jobs; /* offline transforms (ais etl bucket), oldest
			       first */
	size_t njobs;
	Ais__S3Key **s3keys; /* S3 access keys, sorted by access_key */
	size_t ns3keys;
	struct cluster_users users;
};

struct cluster_opts {
	struct ais_node self; /* id, host, port, raft_addr */
	char *const *seeds;   /* "HOST:PORT" of aisd nodes; may include self */
	size_t nseeds;
	const char *join; /* "HOST:PORT" of a node of the cluster, or NULL */
	const char *raft_dir;	    /* Raft's log and snapshots */
	char *const *local_buckets; /* buckets on this node's disks */
	size_t nlocal_buckets;
	unsigned down_after_ms; /* the leader marks a silent node down */
	/* The cluster's key (auth.h), or NULL: no auth. Its id goes into
	 * every map this node hands out; this node's own calls carry root
	 * tokens minted with it. */
	const struct ais_auth_key *auth_key;
	/* TLS (NULL: plain TCP): what the Raft port listens with and what
	 * this node calls others with (its certificate shown). */
	struct ais_tls *tls_server, *tls_client;
};

/* Opens the Raft state in o->raft_dir (created if missing). Everything in o
 * is copied. Returns 0 or -errno with errmsg. Free with cluster_free (after
 * cluster_stop). */
int cluster_new(const struct cluster_opts *o, struct peers *peers,
		struct cluster **out, char *errmsg);
void cluster_free(struct cluster *c);

/* Starts the Raft thread: bootstraps, joins or resumes. Returns once Raft
 * runs (not once the node has joined). */
int cluster_start(struct cluster *c, char *errmsg);
void cluster_stop(struct cluster *c);

/* Waits up to timeout_ms until this node is in a committed map and takes
 * part (not joining any more). Returns 0 or -ETIMEDOUT. */
int cluster_wait_joined(struct cluster *c, unsigned timeout_ms);
bool cluster_joined(struct cluster *c);
/* True once this node takes part (in the map, not joining): before, it
 * answers only JOIN, META_PROPOSE and NODE_INFO. */
bool cluster_serving(struct cluster *c);

/* True once cluster_stop has begun. */
bool cluster_stopping(struct cluster *c);

const struct ais_node *cluster_self(const struct cluster *c);

/* Takes a reference to the current snapshot (never NULL). */
struct cluster_map *cluster_map_get(struct cluster *c);
void cluster_map_put(struct cluster_map *cm);
uint64_t cluster_version(struct cluster *c);

/* Called on the Raft thread after every new snapshot, with it (borrowed:
 * take a reference to keep it). Must not block for long. Up to 8
 * subscribers, registered before cluster_start. */
typedef void (*cluster_change_cb)(void *arg, struct cluster_map *cm);
void cluster_on_change(struct cluster *c, cluster_change_cb cb, void *arg);

/* The changes. Each blocks until the change is committed (or fails), so
 * call them from worker threads, never from the Raft thread. On a node
 * that is not the leader they are forwarded to it. Return 0 or -errno
 * with errmsg: -EAGAIN with no leader (metadata read-only), -EEXIST /
 * -ENOENT for a bucket that is / is not there, -EINVAL with a reason. */
int cluster_join(struct cluster *c, const struct ais_node *joiner,
		 char *const *buckets, size_t nbuckets, char *errmsg);
/* copies: of each object of the bucket, on as many nodes (0 = 1). */
int cluster_bucket_create(struct cluster *c, const char *bucket,
			  uint32_t copies, char *errmsg);
/* Sets the bucket's copies; existing objects gain or lose copies in the
 * rebalance this starts (a new placement generation). */
int cluster_bucket_props(struct cluster *c, const char *bucket, uint32_t copies,
			 char *errmsg);
int cluster_bucket_destroy(struct cluster *c, const char *bucket, char *errmsg);
int cluster_change(struct cluster *c, const Ais__ClusterChange *ch,
		   char *errmsg);
/* This node has moved everything it holds that placement generation id
 * places elsewhere (its rebalance for id is done). */
int cluster_rebalance_done(struct cluster *c, uint64_t id, char *errmsg);

/* OP_META_PROPOSE: commits a packed MetaCmd if this node is the leader
 * (-EAGAIN if it is not; the proposer retries at the leader it learns). */
int cluster_propose_packed(struct cluster *c, const void *buf, size_t len,
			   char *errmsg);

/* A read barrier: waits (up to timeout_ms) until this node has applied
 * everything the leader had applied when asked. For answers that must not
 * come from the past ("no such bucket" right after another node created
 * it). 0, or -EAGAIN (no leader) / -ETIMEDOUT. */
int cluster_sync(struct cluster *c, unsigned timeout_ms);

/* Transforms (ais etl): register spec (its name not yet taken), remove
 * one, stop (stop true) or start one. Committed as the others. */
int cluster_etl_init(struct cluster *c, const Ais__EtlSpec *spec, char *errmsg);
int cluster_etl_remove(struct cluster *c, const char *name, char *errmsg);
int cluster_etl_state(struct cluster *c, const char *name, bool stop,
		      char *errmsg);
/* Offline transform jobs: start job (its id new; created_ns is set),
 * stop one, remove one. */
int cluster_job_start(struct cluster *c, const Ais__EtlJob *job, char *errmsg);
int cluster_job_stop(struct cluster *c, const char *id, char *errmsg);
int cluster_job_remove(struct cluster *c, const char *id, char *errmsg);

/* S3 access keys (ais s3 keys): add key (its access key not yet there;
 * created_ns is set), remove the one of access_key. */
int cluster_s3_key_add(struct cluster *c, const Ais__S3Key *key, char *errmsg);
int cluster_s3_key_remove(struct cluster *c, const char *access_key,
			  char *errmsg);

/* The S3 key of access_key in the snapshot (valid while cm is held), or
 * NULL. */
const Ais__S3Key *cluster_s3_key_find(const struct cluster_map *cm,
				      const char *access_key);

/* Users (ais auth): change the metadata with a MetaCmd of kind
 * USER_ADD (user, created_ns set), USER_REMOVE (user->name), USER_GRANT
 * (user->name, grant), USER_REVOKE (user->name: its tokens so far) or
 * TOKEN_REVOKE (revoked); the others may be NULL. Committed as the others. */
int cluster_users_change(struct cluster *c, int kind, const Ais__User *user,
			 const Ais__Grant *grant,
			 const Ais__RevokedToken *revoked, char *errmsg);

/* User name in the snapshot (valid while cm is held), or NULL. */
const Ais__User *cluster_user_find(const struct cluster_map *cm,
				   const char *name);
/* Whether token id is revoked on its own. */
bool cluster_token_revoked(const struct cluster_map *cm, const uint8_t *id);
/* The right u has on bucket (an AIS__RIGHT__*): its grant there or on
 * "*", whichever is more; RIGHT_ADMIN everywhere for a cluster admin. */
int cluster_user_right(const Ais__User *u, const char *bucket);

/* Transform name in the snapshot (valid while cm is held), or NULL. */
const Ais__EtlSpec *cluster_etl_find(const struct cluster_map *cm,
				     const char *name);

/* Whether bucket is in the snapshot's bucket table. */
bool cluster_has_bucket(const struct cluster_map *cm, const char *bucket);

const char *cluster_raft_dir(const struct cluster *c);

#endif
