/* libais: the thread-safe synchronous client of an aisd cluster.
 *
 * One struct ais_client is shared by all threads of a program. It holds the
 * cluster map, places every object by HRW and talks to its owner directly
 * over a pool of TCP connections per node. A node that answers WRONG_NODE
 * (-EREMOTE) sends its newer map; the client adopts it and retries.
 *
 * Every call returns 0 (or a byte count where said) or a negative errno, and
 * fills errmsg (AIS_ERRMSG_LEN bytes, may be NULL) with one line a user can
 * act on. Node errors arrive as the node's -errno and message unchanged.
 * A cluster that does not answer gives -ETIMEDOUT/-ECONNREFUSED/-EHOSTUNREACH
 * after the bounded timeouts of ais_client_opts, never a hang.
 *
 * Any node: the map, the bucket table and cluster changes can be asked of
 * any node. Such requests go to the node that answered the last one, else
 * to the other nodes of the map (those not marked down first), else to the
 * endpoints given to ais_client_new: one dead node never fails them while
 * others are up. Object requests go to the object's owner only; an owner
 * that the map marks down (the Raft leader cannot reach it) fails them at
 * once with -EIO, after one refresh of a map older than a second, and a
 * listing that needs such a node fails the same way: never a connect
 * timeout on a node known to be down.
 *
 * Retries: a request is retried on a fresh connection when a pooled
 * connection turns out to be dead before any byte of the answer arrived, and
 * for idempotent requests (everything but PUT from a non-seekable source and
 * RENAME) once more after a connection error. WRONG_NODE is retried up to
 * three times with the refreshed map.
 */
#ifndef AIS_CLIENT_H
#define AIS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "cksum.h"
#include "map.h"
#include "objmeta.h"
#include "util.h"

#define AIS_DEFAULT_ENDPOINT "127.0.0.1:51080"
#define AIS_DEFAULT_PORT     51080

struct ais_client;

struct ais_client_opts {
	int connect_timeout_ms; /* default 3000 */
	int io_timeout_ms; /* no progress on a socket for this long: -ETIMEDOUT;
			      default 30000 */
	int max_idle_per_node; /* idle pooled connections kept; default 32 */
	/* The token requests carry, for a cluster that needs one (its map
	 * names a key id): the file token_file (NULL: $AIS_TOKEN_FILE,
	 * else the cluster's token in ~/.config/ais/tokens/KEYID, written
	 * by `ais auth login`, else the one of `ais local up` in
	 * $AIS_LOCAL_DIR/token, whichever is for this cluster). With
	 * root_key instead, root tokens minted with the cluster's key
	 * (nodes, `ais local up`, an operator with the secret). */
	const char *token_file;
	const struct ais_auth_key *root_key;
	/* TLS. A cluster whose nodes speak TLS is reached with its CA, the
	 * file ca_file (or a directory: every *.pem file in it). NULL: $AIS_CA_FILE, else the CA saved for one of the
	 * endpoints, ~/.config/ais/ca/HOST:PORT.pem (`ais local up` saves
	 * its cluster's for every node), else ~/.config/ais/ca.pem; a file
	 * found must be the caller's own and writable by nobody else. With
	 * none, or "none", the client speaks plain TCP. A node's own
	 * client shows the node's certificate too (cert_file, key_file),
	 * or passes its TLS configuration ready-made (tls, not freed). */
	const char *ca_file;
	const char *cert_file, *key_file;
	struct ais_tls *tls;
};

void ais_client_opts_default(struct ais_client_opts *o);

struct ais_tls;

/* The most addresses an endpoint list may hold. */
#define AIS_ENDPOINTS_MAX 64

/* One address of an endpoint list. */
struct ais_endpoint {
	char host[AIS_HOST_MAX];
	uint16_t port;
};

/* Parses an endpoint list "HOST:PORT[,HOST:PORT...]" into eps[] (room for
 * max): a bare HOST means AIS_DEFAULT_PORT, "[v6addr]:PORT" is an IPv6
 * address, blanks around the commas are ignored, an address given twice
 * counts once; the order is kept. Returns the count (at least 1), or
 * -EINVAL (an empty list or element, a bad port) or -E2BIG (more than max
 * distinct addresses) with errmsg naming the bad part. */
int ais_endpoints_parse(const char *spec, struct ais_endpoint *eps, size_t max,
			char *errmsg);

/* Creates a client for the cluster reachable at endpoint, an endpoint list
 * (ais_endpoints_parse; NULL or "" means $AIS_ENDPOINT, then
 * AIS_DEFAULT_ENDPOINT), and fetches the map from the first address of the
 * list that answers, trying them in order. opts may be NULL. Returns NULL
 * with errmsg set on failure: "cannot reach 127.0.0.1:51080: Connection
 * refused" for one address, "cannot reach any of A, B: A: ...; B: ..." for
 * several. Free with ais_client_free. */
struct ais_client *ais_client_new(const char *endpoint,
				  const struct ais_client_opts *opts,
				  char *errmsg);
void ais_client_free(struct ais_client *c);

/* Fetches the map again from any node (the rules of "any node" above),
 * asking further nodes while some node has told of a newer map than the
 * one fetched. Returns 0 if some node answered, else the last -errno. */
int ais_client_refresh_map(struct ais_client *c, char *errmsg);

/* Where the client's token came from ("" for none, "(key)" for root
 * tokens), and its claims (unverified): 0, or -ENOENT for no token. */
int ais_client_token_info(struct ais_client *c, char *path, size_t cap,
			  struct ais_claims *claims);

/* True if the client speaks TLS to the nodes. */
bool ais_client_tls(const struct ais_client *c);

/* Current map version and node count (no network). */
uint64_t ais_client_map_version(struct ais_client *c);
size_t ais_client_node_count(struct ais_client *c);

/* ---- cluster ---------------------------------------------------------- */

struct ais_mountpath_info {
	char *path;
	char *fs_type;
	uint64_t total_bytes;
	uint64_t free_bytes;
	uint64_t fs_id; /* same value: same file system on that host */
};

/* A node's rebalance (the data it moves when placement changes), as the
 * node reports it. */
struct ais_rebalance_info {
	bool present; /* the node reported one (older nodes do not) */
	uint64_t id;  /* the placement change it works for; 0: none yet */
	bool running; /* false: done (or never started) */
	uint64_t objects_moved;
	uint64_t bytes_moved;
	uint64_t objects_left; /* to move in this pass, not moved yet */
	uint64_t bytes_left;   /* their bytes (0 from older nodes) */
	uint64_t errors;
	uint64_t objects_fetched; /* fetched from a previous owner (by an op
				     that changes the object) */
	char *last_error;	  /* heap; "" if none */
};

/* A node's scrub (ais_client_scrub). */
struct ais_scrub_info {
	bool present; /* the node reported one */
	uint64_t id;  /* 0: none since the node started */
	bool running;
	char *bucket, *prefix; /* heap; "" = every bucket */
	uint64_t objects_total, objects_checked, bytes_checked;
	uint64_t corrupt;	 /* copies found corrupt */
	uint64_t repaired;	 /* of those, replaced by a good copy */
	uint64_t copies_made;	 /* missing copies made on other nodes */
	uint64_t strays_removed; /* copies outside their copy set removed */
	uint64_t errors;
	char *last_error; /* heap; "" if none */
	size_t n_unrepaired;
	char **unrepaired; /* "bucket/name" of corrupt copies not repaired */
	int64_t started_ns, finished_ns;
};

/* A node's part of an offline transform job (ais etl bucket). */
struct ais_etl_job_status {
	char *id;
	bool running;
	bool done;	/* this node finished its part */
	bool stopped;	/* stopped there (ais job stop, or a failure) */
	uint64_t total; /* objects it is to transform (counted first) */
	uint64_t transformed, skipped, failed;
	uint64_t bytes_in, bytes_out;
	char *last_error;
};

struct ais_node_info {
	char *id;
	char *host;
	uint16_t port;
	int state;	 /* enum ais_node_state, from the map */
	bool down;	 /* the map marks it down (not asked then) */
	int role;	 /* enum ais_node_role, from the map */
	bool is_leader;	 /* the map's Raft leader */
	char *raft_addr; /* "HOST:PORT" of its Raft endpoint; "" if unknown */
	int status;	 /* 0 if the node answered, else its -errno */
	char *errmsg;	 /* why it did not answer ("" if it did) */
	uint64_t map_version; /* of the map the node holds; 0 if no answer */
	char *version;
	uint64_t uptime_s;
	uint32_t connections;
	uint64_t requests;
	char *raft_dir; /* where it keeps the Raft log; "" if unknown */
	struct ais_rebalance_info rebalance;
	uint64_t copies_pending; /* objects whose copies elsewhere wait for
				    their nodes (degraded) */
	struct ais_scrub_info scrub;
	size_t n_mountpaths;
	struct ais_mountpath_info *mountpaths;
	size_t n_etl_jobs;
	struct ais_etl_job_status *etl_jobs;
};

struct ais_cluster_info {
	uint64_t map_version;
	char *leader;	 /* the Raft leader's node id; "" = none (metadata is
			    read-only) */
	bool replicated; /* the map comes from Raft (some node has a role or
			    there is a leader); false for older clusters */
	size_t n_nodes;
	struct ais_node_info *nodes; /* in map order (sorted by id) */
};

/* Refreshes the map (unless a node gave it within the last second), then
 * asks every node in it for its NodeInfo in parallel. A node that does not
 * answer (or that the map marks down: it is not asked) is reported with status
 * != 0 and the reason in its errmsg, not as a failure of the call. *out is
 * freed with ais_cluster_info_free. */
int ais_client_cluster_info(struct ais_client *c, struct ais_cluster_info **out,
			    char *errmsg);
void ais_cluster_info_free(struct ais_cluster_info *ci);

/* A node that holds a copy of an object (ais_client_locate). */
struct ais_node_loc {
	char id[AIS_NODE_ID_MAX];
	char host[AIS_HOST_MAX];
	uint16_t port;
	bool down; /* the map marks it down */
};
/* The nodes of bucket/name's copy set in the current map, the owner first
 * (reads try them in this order): fills up to cap, returns the count. */
size_t ais_client_locate(struct ais_client *c, const char *bucket,
			 const char *name, struct ais_node_loc *out,
			 size_t cap);

/* Every node of the current map (up or not), fills up to cap; returns the
 * count, and *version (may be NULL) the map's version. */
size_t ais_client_nodes(struct ais_client *c, struct ais_node_loc *out,
			size_t cap, uint64_t *version);

/* ---- leases: what a mount may cache (aisfs; HACKING.md, "Leases") ---- */

/* One answer to ais_client_watch. */
struct ais_watch_answer {
	char **changed; /* "bucket/name" each ("bucket/": the whole bucket) */
	size_t n;
	uint64_t seq;	      /* the next `since` */
	uint64_t map_version; /* the node's */
	uint32_t lease_ms;    /* the lease the poll renewed, from when the
				 node got it */
	uint64_t run;	      /* the node's run: another one than before means
				 its feed started over (drop what was cached) */
};
void ais_watch_answer_free(struct ais_watch_answer *a);

/* One poll of node's change feed by the watcher id (random, one per mount;
 * bucket: only that bucket's changes, "" or NULL all): the objects it
 * changed for clients after change number since (0: none asked; the answer
 * says where the feed stands) of the node's run `run` (the last answer's;
 * 0: none yet), waiting up to wait_ms (at most 2000) for
 * one. Renews the watcher's lease on that node: until the lease runs out
 * (lease_ms in aisd.conf, counted from when the node got the poll), the
 * node answers no change before this watcher has polled past it. Not
 * retried. Returns 0, or -ESTALE with out->seq (the node restarted or no
 * longer remembers back to since: whatever was cached from it must be
 * asked again, and the next poll starts at out->seq), or the node's or
 * connection's -errno. */
int ais_client_watch(struct ais_client *c, const struct ais_node_loc *node,
		     uint64_t id, const char *bucket, uint64_t since,
		     uint64_t run, unsigned wait_ms,
		     struct ais_watch_answer *out, char *errmsg);

/* Watcher id goes away (an unmount): node drops its lease at once, so
 * its changes stop waiting for it. Not retried. Returns 0 or -errno. */
int ais_client_watch_release(struct ais_client *c,
			     const struct ais_node_loc *node, uint64_t id,
			     char *errmsg);

/* The changes this client asks for (PUT, delete, rename, metadata,
 * shard append) are made on behalf of watcher id (0: none): the nodes do
 * not send them back to it, nor wait for it to apply them, as it knows. */
void ais_client_set_origin(struct ais_client *c, uint64_t id);

/* Starts a scrub of bucket ("" or NULL = every bucket) under prefix on
 * every node (each checks every copy it holds block by block, repairs
 * corrupt ones from good copies, makes missing copies, removes strays;
 * `ais scrub`). A node already scrubbing the same scope goes on. Follow it
 * with ais_client_cluster_info (each node's scrub). Returns 0 if every
 * node started; else the first node's -errno with errmsg naming the nodes
 * that did not (those that did go on). */
int ais_client_scrub(struct ais_client *c, const char *bucket,
		     const char *prefix, char *errmsg);

/* Sums total and free bytes over the distinct file systems of the nodes
 * that answered: a disk shared by several mountpaths, or by several nodes of
 * one host (ais local), counts once. */
void ais_cluster_info_capacity(const struct ais_cluster_info *ci,
			       uint64_t *total, uint64_t *free);

/* Sums capacity like ais_cluster_info_capacity (for statfs); fails only if
 * no node answered. */
int ais_client_capacity(struct ais_client *c, uint64_t *total, uint64_t *free,
			char *errmsg);

/* What ais_client_cluster_change asks for (values of the protobuf
 * ClusterChange.Kind). */
enum ais_change_kind {
	AIS_CHANGE_MAINTENANCE_START = 1, /* out of placement; data kept and
					     served */
	AIS_CHANGE_MAINTENANCE_STOP = 2,  /* back into placement */
	AIS_CHANGE_DECOMMISSION = 3,	  /* move its data away, then remove
					     it from the map */
	AIS_CHANGE_REMOVE = 4, /* a node gone for good: out of the map now;
				  its objects that exist nowhere else are
				  lost. Needs force */
};

/* Asks for a change of the cluster metadata (OP_CLUSTER_CHANGE): kind for
 * node, a node id or "HOST:PORT". Sent to any node (which forwards it to
 * the Raft leader) and answered once committed; starting a rebalance may
 * take a while, so the answer is awaited for at least 30 s. Not repeated
 * once sent: a connection lost after that is an error (the change may or
 * may not have been made: ais_client_cluster_info tells). On success the
 * client's map is the one with the change (ais_client_map_version). Errors
 * are the node's (-ENOENT: no such node, -EROFS: no Raft leader, -EINVAL,
 * -EOPNOTSUPP from nodes without it, ...) with its message, or -EINVAL for
 * a bad kind, an empty node, or REMOVE without force. */
int ais_client_cluster_change(struct ais_client *c, int kind, const char *node,
			      bool force, char *errmsg);

/* "maintenance-start", "maintenance-stop", "decommission", "remove", or
 * "?" for an unknown kind. */
const char *ais_change_kind_name(int kind);

/* ---- buckets ---------------------------------------------------------- */

/* The bucket table is cluster-wide (replicated by Raft): create, destroy
 * and list go to one node, any node (the rules of "any node" above). With
 * an older cluster whose map has no Raft roles, buckets are per node and
 * these calls go to every node as before (create: -EEXIST only if it
 * existed on all; destroy: -ENOENT only if it existed on none; list: the
 * union, and a node that does not answer fails the call). */

/* Creates the bucket: -EEXIST if it exists. Fails over to another node
 * only if the request never reached the first one, so that a create lost
 * with its node does not come back as -EEXIST. */
int ais_client_bucket_create(struct ais_client *c, const char *bucket,
			     char *errmsg);
/* ais_client_bucket_create whose objects each have `copies` copies, on
 * as many nodes (1 .. the nodes in the cluster; 0 = 1). */
int ais_client_bucket_create_copies(struct ais_client *c, const char *bucket,
				    uint32_t copies, char *errmsg);

/* A bucket's properties. */
struct ais_bucket_props {
	char name[65];
	uint32_t copies;    /* of each object, each on a different node */
	int64_t created_ns; /* when the bucket was created */
};
/* Reads the bucket's properties into *out (may be NULL); with set_copies,
 * sets its copies first: existing objects gain or lose copies in the
 * rebalance that follows (`ais job show` shows it). -ENOENT if
 * there is no such bucket, -EINVAL for more copies than nodes. */
int ais_client_bucket_props(struct ais_client *c, const char *bucket,
			    bool set_copies, uint32_t copies,
			    struct ais_bucket_props *out, char *errmsg);

/* A transform registered cluster-wide (ais etl; etl(7)): a program under
 * the nodes' etl_dir that the node holding an object runs on it. */
enum { AIS_ETL_FILTER = 0, AIS_ETL_WORKER = 1 };
struct ais_etl {
	char name[65];
	char **argv;	     /* NULL-terminated; argv[0] an absolute path */
	int mode;	     /* AIS_ETL_FILTER: a process per object, bytes on
				stdin, result on stdout */
	uint32_t workers;    /* AIS_ETL_WORKER: processes per node */
	uint32_t timeout_ms; /* per object; 0: 30 s */
	char **env;	     /* "K=V" each, NULL-terminated; may be NULL */
	bool stopped;	     /* refused until started again */
	int64_t created_ns;  /* when it was registered */
};
/* Registers e (its name not yet taken: -EEXIST). The node that takes it
 * checks the program against its etl_dir first (-EPERM outside it,
 * -EOPNOTSUPP when the node has none). */
int ais_client_etl_init(struct ais_client *c, const struct ais_etl *e,
			char *errmsg);
/* Every registered transform, sorted by name: *out (free with
 * ais_etl_list_free) and *n. */
int ais_client_etl_list(struct ais_client *c, struct ais_etl **out, size_t *n,
			char *errmsg);

/* An offline transform of a bucket (ais etl bucket; see ais-etl(7)). */
struct ais_etl_job {
	char id[48]; /* set by the cluster */
	char etl[65];
	char etl_args[513];
	char src_bucket[65];
	char prefix[1025];
	char dst_bucket[65];
	char ext_from[33], ext_to[33]; /* both or neither */
	bool dry_run;
	bool continue_on_error;
	bool members; /* every member of every shard, into new tar shards */
	bool stopped;
	int64_t created_ns;
};
/* Starts job (its id is ignored) on every node: the new job's id into
 * id (48 bytes). 0 or -errno with errmsg (-ENOENT: no such transform or
 * bucket). Its progress is in every node's NodeInfo (etl_jobs). */
int ais_client_etl_bucket(struct ais_client *c, const struct ais_etl_job *job,
			  char *id, char *errmsg);
/* The jobs the cluster keeps, oldest first (free with free()). */
int ais_client_etl_jobs(struct ais_client *c, struct ais_etl_job **out,
			size_t *n, char *errmsg);
/* Stops job id on every node; removes it (stopping it first). */
int ais_client_job_stop(struct ais_client *c, const char *id, char *errmsg);
int ais_client_job_remove(struct ais_client *c, const char *id, char *errmsg);

/* One failure of a transform (a GET or a job), on the node that ran it. */
struct ais_etl_error {
	int64_t time_ns;
	char *node; /* its id */
	char *bucket;
	char *name;
	char *message;
	char *job_id; /* "" for a GET */
};
/* The latest failures of transform etl on every node that answers (each
 * keeps its last 256, in memory), newest first: *out (free with
 * ais_etl_errors_free). Nodes that do not answer are left out. */
int ais_client_etl_errors(struct ais_client *c, const char *etl,
			  struct ais_etl_error **out, size_t *n, char *errmsg);
void ais_etl_errors_free(struct ais_etl_error *v, size_t n);
void ais_etl_list_free(struct ais_etl *v, size_t n);
/* Unregisters name (-ENOENT if there is none). */
int ais_client_etl_remove(struct ais_client *c, const char *name, char *errmsg);
/* Stops (stop) or starts name: a stopped transform is refused (-EPERM). */
int ais_client_etl_state(struct ais_client *c, const char *name, bool stop,
			 char *errmsg);

/* What a bucket holds (ais_client_bucket_summary). */
struct ais_bucket_summary {
	struct ais_bucket_props props;
	uint64_t objects;
	uint64_t bytes;	      /* of the objects, one copy each */
	uint64_t degraded;    /* objects whose copies are not all made yet (a
				 node was down or full; made when it can) */
	size_t nodes_unknown; /* nodes that did not answer: degraded may
				 be more */
};
/* Counts the bucket's objects and bytes (a listing: takes a while for
 * millions) and its degraded objects (asked of every node). */
int ais_client_bucket_summary(struct ais_client *c, const char *bucket,
			      struct ais_bucket_summary *out, char *errmsg);

/* Destroys the bucket and all its objects; -ENOENT if it does not exist.
 * Fails over like create. */
int ais_client_bucket_destroy(struct ais_client *c, const char *bucket,
			      char *errmsg);
/* The bucket table, sorted; *names is a NULL-terminated heap array freed
 * with ais_strv_free. */
int ais_client_bucket_list(struct ais_client *c, char ***names, size_t *n,
			   char *errmsg);
/* 0 if the bucket exists (as the first node that answers says), -ENOENT if
 * not. */
int ais_client_bucket_head(struct ais_client *c, const char *bucket,
			   char *errmsg);

/* ---- users and tokens (ais auth; HACKING.md "Users, tokens, rights") -- */

/* Logs in as user with password: the token's text (a token file's line)
 * into token (AIS_TOKEN_TEXT_MAX bytes), good for ttl_s seconds (0: a
 * day). -EACCES for a wrong user or password. */
int ais_client_login(struct ais_client *c, const char *user,
		     const char *password, uint32_t ttl_s, char *token,
		     char *errmsg);

/* Adds a user (cluster_admin: every right) with password (8..1024
 * characters), removes one (its tokens and S3 keys stop working). */
int ais_client_user_add(struct ais_client *c, const char *user,
			const char *password, bool cluster_admin, char *errmsg);
int ais_client_user_remove(struct ais_client *c, const char *user,
			   char *errmsg);

struct ais_grant {
	char bucket[AIS_BUCKET_MAX + 1]; /* a bucket or "*" */
	int right;			 /* AIS_RIGHT_* */
};

enum { AIS_RIGHT_NONE, AIS_RIGHT_READ, AIS_RIGHT_WRITE, AIS_RIGHT_ADMIN };

struct ais_user {
	char name[AIS_USER_MAX + 2];
	bool cluster_admin;
	int64_t created_ns;
	int64_t revoked_ns; /* when its tokens were last revoked (0: never) */
	struct ais_grant *grants; /* sorted by bucket */
	size_t ngrants;
};

/* Every user (a cluster admin asks), else the caller alone. Free with
 * ais_users_free. */
int ais_client_user_list(struct ais_client *c, struct ais_user **out, size_t *n,
			 char *errmsg);
void ais_users_free(struct ais_user *v, size_t n);

/* Gives user right (AIS_RIGHT_*; NONE takes it away) on bucket ("*":
 * every bucket; NULL or "": the cluster, where ADMIN makes a cluster admin
 * and NONE unmakes one). */
int ais_client_grant(struct ais_client *c, const char *user, const char *bucket,
		     int right, char *errmsg);

/* Revokes every token issued to user so far (user may be the caller), or
 * the one token of id (id_len AIS_TOKEN_ID_LEN) that expires at
 * expires_ns. */
int ais_client_revoke_user(struct ais_client *c, const char *user,
			   char *errmsg);
int ais_client_revoke_token(struct ais_client *c, const uint8_t *id,
			    int64_t expires_ns, char *errmsg);

/* ---- S3 access keys (ais s3 keys) --------------------------------------- */

struct ais_s3_key {
	char access_key[130];
	char secret[130]; /* "" in a listing: only an add shows it */
	char comment[260];
	int64_t created_ns;
	char user[AIS_USER_MAX + 2]; /* whose rights it has; "" on add: the
					caller's */
};

/* Adds in (an empty access key or secret: the node makes one) to the
 * cluster's keys; *out is the key kept, secret included. -EEXIST if the
 * access key is taken, -EINVAL for a malformed one. Never resent. */
int ais_client_s3_key_add(struct ais_client *c, const struct ais_s3_key *in,
			  struct ais_s3_key *out, char *errmsg);
int ais_client_s3_key_remove(struct ais_client *c, const char *access_key,
			     char *errmsg);
/* Every key, by access key, without secrets; free(*out). */
int ais_client_s3_key_list(struct ais_client *c, struct ais_s3_key **out,
			   size_t *n, char *errmsg);

/* ---- multipart uploads (the S3 endpoint's) ------------------------------ */

/* An upload (upload_id: 32 lowercase hex digits, the caller's) of
 * bucket/name begins at the object's first node; ext (encoded ObjExt) is
 * what the object will keep. Parts go with ais_client_put_cb and
 * ais_put_opts.upload_id; complete makes the object of the parts listed
 * (ascending numbers, each with the etag its upload answered; every part
 * but the last at least 5 MiB): -ENOENT no such upload, -ENODATA a part
 * missing or of another etag, -EDOM parts out of order, -ERANGE a part too
 * small. etag (AIS_ETAG_MAX, may be NULL): "MD5-N". */
struct ais_mpu_part {
	uint32_t number;
	char etag[40];
	uint64_t size;
	int64_t mtime_ns;
};
struct ais_mpu_upload {
	char *name;
	char upload_id[40];
	int64_t created_ns;
};
int ais_client_mpu_create(struct ais_client *c, const char *bucket,
			  const char *name, const char *upload_id,
			  const uint8_t *ext, size_t ext_len, char *errmsg);
int ais_client_mpu_complete(struct ais_client *c, const char *bucket,
			    const char *name, const char *upload_id,
			    const struct ais_mpu_part *parts, size_t n,
			    struct ais_obj_meta *out, char *etag, char *errmsg);
int ais_client_mpu_abort(struct ais_client *c, const char *bucket,
			 const char *name, const char *upload_id, char *errmsg);
/* The parts uploaded so far, by number; free(*out). */
int ais_client_mpu_parts(struct ais_client *c, const char *bucket,
			 const char *name, const char *upload_id,
			 struct ais_mpu_part **out, size_t *n, char *errmsg);
/* Every upload in bucket under prefix, on all nodes, by name then age;
 * free with ais_mpu_uploads_free. */
int ais_client_mpu_uploads(struct ais_client *c, const char *bucket,
			   const char *prefix, struct ais_mpu_upload **out,
			   size_t *n, char *errmsg);
void ais_mpu_uploads_free(struct ais_mpu_upload *v, size_t n);

/* ---- objects ---------------------------------------------------------- */

struct ais_put_opts {
	int cksum_type;	   /* AIS_CKSUM_NONE (0): the client computes XXH3 while
			      sending and compares with the node's answer */
	const char *cksum; /* hex; when set the node verifies it before commit
			      and fails the PUT with -EBADMSG on mismatch */
	uint32_t mode;	   /* permission bits; 0: the default (0644). With
			      S_IFREG set the bits are exact, 0000 too;
			      S_IFLNK | 0777: a symbolic link whose bytes
			      are its target (aisfs(1)) */
	int64_t mtime_ns;  /* 0: now */
	int64_t atime_ns;  /* 0: the mtime */
	uint32_t uid, gid;
	bool owned;	   /* uid/gid are the owner's (else it has none:
			      a mount shows its own user) */
	bool no_overwrite; /* -EEXIST instead of replacing */
	/* Out, may be NULL: in a bucket with copies, how many of the
	 * object's copies could not be made now (a node down, unreachable or
	 * out of space). The PUT succeeded; the node that took it makes them
	 * later (aisd(8), "Copies"). */
	uint32_t *copies_missing;
	/* For S3: an encoded ObjExt (ais.proto; at most AIS_OBJ_EXT_MAX
	 * bytes) kept with the object; with want_md5 the node makes the
	 * MD5 of the bytes its etag and, with content_md5 (hex) set, fails
	 * a body of another MD5 with -EBADMSG before the commit. etag (out,
	 * may be NULL; AIS_ETAG_MAX bytes): the etag stored. */
	const uint8_t *ext;
	size_t ext_len;
	bool want_md5;
	const char *content_md5;
	char *etag;
	/* Set: the body is part part_number of this multipart upload of
	 * the object (ais_client_mpu_create), not the object; etag gets the
	 * part's MD5. */
	const char *upload_id;
	uint32_t part_number;
};
#define AIS_ETAG_MAX 64

/* Called for the next bytes of a PUT body: fill buf with up to len bytes and
 * return how many (exactly the remaining size in total), or -errno. */
typedef ssize_t (*ais_read_cb)(void *arg, void *buf, size_t len);
/* Called with the next bytes of a GET body; return 0 or -errno to abort. */
typedef int (*ais_write_cb)(void *arg, const void *buf, size_t len);

/* PUT of size bytes read from fd (from offset 0 with pread if seekable, else
 * by read()). opts and out may be NULL. The object is visible, whole and
 * durable when this returns 0. */
int ais_client_put_fd(struct ais_client *c, const char *bucket,
		      const char *name, int fd, uint64_t size,
		      const struct ais_put_opts *opts, struct ais_obj_meta *out,
		      char *errmsg);
int ais_client_put_cb(struct ais_client *c, const char *bucket,
		      const char *name, uint64_t size, ais_read_cb cb,
		      void *arg, const struct ais_put_opts *opts,
		      struct ais_obj_meta *out, char *errmsg);
int ais_client_put_buf(struct ais_client *c, const char *bucket,
		       const char *name, const void *buf, size_t len,
		       const struct ais_put_opts *opts,
		       struct ais_obj_meta *out, char *errmsg);

/* One object of ais_client_put_batch: name, bytes and options in, what
 * became of it out. */
struct ais_put_item {
	const char *name;
	const void *buf;
	size_t len;
	struct ais_put_opts opts; /* as ais_client_put_buf's */
	int rc;			  /* out: 0 or -errno */
	struct ais_obj_meta meta; /* out, when rc is 0 */
	char errmsg[AIS_ERRMSG_LEN];
};

/* PUTs of small objects (AIS_PUT_BATCH_ITEM_MAX bytes each at most) into
 * bucket, those of one node in one request (at most AIS_PUT_BATCH_MAX
 * objects, AIS_PUT_BATCH_BYTES bytes), which it commits together: far
 * fewer round trips and disk flushes than one PUT each. Every item is
 * visible, whole and durable when its rc is 0, as after
 * ais_client_put_buf; an item the batch did not store because its node
 * changed, was catching up, could not be reached, or is too old for
 * batches is PUT alone, with the retry rules of a PUT, before this
 * returns. An item the node refused gets its error as a PUT would (a
 * failed flush after the rename: -EIO or the like while the object may be
 * in place, as with a PUT). Returns how many items failed (their rc and
 * errmsg say why). */
#define AIS_PUT_BATCH_MAX      256
#define AIS_PUT_BATCH_BYTES    (4u << 20)
#define AIS_PUT_BATCH_ITEM_MAX (1u << 20)
size_t ais_client_put_batch(struct ais_client *c, const char *bucket,
			    struct ais_put_item *items, size_t n);

/* GET of [off, off+len) (len 0: to the end) into fd / cb. A whole-object GET
 * verifies the checksum and fails with -EBADMSG on mismatch. out (may be
 * NULL) receives the object's metadata (meta.size is the whole size). */
int ais_client_get_fd(struct ais_client *c, const char *bucket,
		      const char *name, uint64_t off, uint64_t len, int fd,
		      struct ais_obj_meta *out, char *errmsg);
int ais_client_get_cb(struct ais_client *c, const char *bucket,
		      const char *name, uint64_t off, uint64_t len,
		      ais_write_cb cb, void *arg, struct ais_obj_meta *out,
		      char *errmsg);
/* What a GET for the S3 front end wants beyond ais_client_get_cb's. */
struct ais_get_ext {
	const char *archpath; /* a shard member, or NULL */
	uint8_t *ext;	      /* AIS_OBJ_EXT_MAX bytes: the object's ObjExt */
	size_t ext_len;	      /* out; 0: none */
	/* Called once before the first byte of the body (also of an empty
	 * one) with the metadata (size: the whole object's) and the body's
	 * length; ext is filled then. Not 0: the GET ends with that value
	 * (negative), nothing more read. */
	int (*on_head)(void *arg, const struct ais_obj_meta *m,
		       uint64_t body_len);
};
int ais_client_get_ext_cb(struct ais_client *c, const char *bucket,
			  const char *name, uint64_t off, uint64_t len,
			  ais_write_cb cb, void *arg, struct ais_get_ext *x,
			  struct ais_obj_meta *out, char *errmsg);
/* HEAD of bucket/name (or its member archpath, NULL: none) with the
 * object's ObjExt into ext (AIS_OBJ_EXT_MAX bytes), its length into
 * *ext_len. */
int ais_client_head_ext(struct ais_client *c, const char *bucket,
			const char *name, const char *archpath,
			struct ais_obj_meta *out, uint8_t *ext, size_t *ext_len,
			char *errmsg);

/* GET of the whole object (or, with archpath, of that member of the
 * shard) run through transform etl (ais etl) on the node that holds it,
 * with etl_args (NULL: none), into fd / cb. out->size is
 * the output's size; the output has no checksum. The answer is awaited up
 * to AIS_ETL_TIMEOUT_MAX_MS and a minute (the program runs before it
 * begins). The request is never sent twice once it may have reached a
 * node (the program would run twice): a connection lost then fails the
 * GET with that error. A failed transform: -EIO, -ETIMEDOUT or -EFBIG
 * with the reason (the program's last line on stderr) in errmsg; an
 * unknown one -EINVAL, a stopped one -EPERM. A node that runs as many
 * transforms as it may is asked again for up to a minute, then -EBUSY. */
int ais_client_get_etl_fd(struct ais_client *c, const char *bucket,
			  const char *name, const char *archpath,
			  const char *etl, const char *etl_args, int fd,
			  struct ais_obj_meta *out, char *errmsg);
int ais_client_get_etl_cb(struct ais_client *c, const char *bucket,
			  const char *name, const char *archpath,
			  const char *etl, const char *etl_args,
			  ais_write_cb cb, void *arg, struct ais_obj_meta *out,
			  char *errmsg);

/* Reads up to len bytes at off into buf; returns the count (short or 0 at
 * the end of the object) or -errno. For FUSE reads. */
ssize_t ais_client_read(struct ais_client *c, const char *bucket,
			const char *name, uint64_t off, void *buf, size_t len,
			struct ais_obj_meta *out, char *errmsg);

/* What name is, asked of its owner in one request: 0 an object (its
 * metadata in *out, as ais_client_head), 1 a directory (objects exist
 * under "name/" on some node), -ENOENT neither; -EAGAIN when the owner
 * cannot tell for sure right now (a rebalance in flight, a node that did
 * not answer) and -EOPNOTSUPP from an older node: then HEAD and list it.
 */
int ais_client_resolve(struct ais_client *c, const char *bucket,
		       const char *name, struct ais_obj_meta *out,
		       char *errmsg);

int ais_client_head(struct ais_client *c, const char *bucket, const char *name,
		    struct ais_obj_meta *out, char *errmsg);
int ais_client_delete(struct ais_client *c, const char *bucket,
		      const char *name, char *errmsg);
/* Renames within a bucket, replacing new_name if it exists (unless
 * no_overwrite). Atomic when both names live on one node; otherwise the
 * object is copied to the new owner, then the old name deleted (a reader may
 * briefly see both). */
int ais_client_rename(struct ais_client *c, const char *bucket,
		      const char *name, const char *new_name, bool no_overwrite,
		      char *errmsg);
/* What ais_client_set_meta changes: the fields that are not NULL. */
struct ais_meta_change {
	const uint32_t *mode;
	const int64_t *mtime_ns; /* 0: now */
	const int64_t *atime_ns; /* 0: now */
	/* The owner (the object is owned from then on); one without the
	 * other keeps the stored half. */
	const uint32_t *uid, *gid;
};

/* Updates the metadata in place as ch says (its change time moves too);
 * out gets the new meta. */
int ais_client_set_meta(struct ais_client *c, const char *bucket,
			const char *name, const struct ais_meta_change *ch,
			struct ais_obj_meta *out, char *errmsg);

/* ---- listing ---------------------------------------------------------- */

struct ais_list_entry {
	char *name; /* full name; a prefix ends in the delimiter */
	bool is_prefix;
	struct ais_obj_meta meta; /* zero for prefixes */
	/* Shard listings only (ais_client_shard_list): */
	uint32_t member_type; /* enum ais_shard_type */
	char *link_target;    /* heap, "" if none; NULL in bucket listings */
};

struct ais_list_page {
	size_t n;
	struct ais_list_entry *entries;
	char *next_token; /* NULL when the listing is complete */
};

/* One page (at most page_size entries; 0 = 1000) of the names in bucket
 * that start with prefix (may be "" or NULL), in byte order, merged across
 * all nodes, each name once (during a rebalance two nodes may hold an
 * object: the copy written last is listed). With delimiter "/" the names
 * are rolled up at the first '/' after the prefix into one "dir/" entry
 * (is_prefix). start_after is NULL or a previous page's next_token. Every
 * node of the map must answer: if one is marked down or does not answer,
 * the call fails with -EIO ("listing of b/prefix incomplete: node ...")
 * rather than return a partial page. Free with ais_list_page_free. */
int ais_client_list(struct ais_client *c, const char *bucket,
		    const char *prefix, const char *delimiter,
		    const char *start_after, size_t page_size,
		    struct ais_list_page *out, char *errmsg);
void ais_list_page_free(struct ais_list_page *p);

/* ---- shards ----------------------------------------------------------- */

/* One page of the members of shard bucket/shard (an object named .tar,
 * .tar.gz, .tgz, .tar.lz4 or .zip), asked of its owner. Without recursive:
 * the entries directly under directory dir ("" or NULL: the archive's root),
 * by name, directories with is_prefix set; with recursive: every member in
 * path order. Each entry's name is the member's full path (no trailing
 * '/'), meta has size, mode (with the S_IF type bits), mtime and the
 * shard's version. start_after is NULL or a previous next_token; page_size
 * 0 = the node's default (1000). If the archive is malformed or truncated,
 * the members before the break are listed and *shard_error (if not NULL)
 * gets the reason and the offset (heap, free(); NULL for a sound archive).
 * Free out with ais_list_page_free. */
int ais_client_shard_list(struct ais_client *c, const char *bucket,
			  const char *shard, const char *dir, bool recursive,
			  const char *start_after, size_t page_size,
			  struct ais_list_page *out, char **shard_error,
			  char *errmsg);

/* Metadata of member path of the shard: size, mode (with S_IF type bits),
 * mtime, and version = the shard's version; no checksum. -ENOENT if there
 * is no such member. */
int ais_client_member_head(struct ais_client *c, const char *bucket,
			   const char *shard, const char *path,
			   struct ais_obj_meta *out, char *errmsg);

/* GET of bytes [off, off+len) (len 0: to the end) of a shard member, like
 * ais_client_get_fd / _cb (out->size is the member's size). A directory
 * gives -EISDIR, a missing member -ENOENT. */
int ais_client_member_get_fd(struct ais_client *c, const char *bucket,
			     const char *shard, const char *path, uint64_t off,
			     uint64_t len, int fd, struct ais_obj_meta *out,
			     char *errmsg);
int ais_client_member_get_cb(struct ais_client *c, const char *bucket,
			     const char *shard, const char *path, uint64_t off,
			     uint64_t len, ais_write_cb cb, void *arg,
			     struct ais_obj_meta *out, char *errmsg);
/* Reads up to len bytes of the member at off into buf; returns the count
 * (short or 0 at the member's end) or -errno. For FUSE reads. */
ssize_t ais_client_member_read(struct ais_client *c, const char *bucket,
			       const char *shard, const char *path,
			       uint64_t off, void *buf, size_t len,
			       struct ais_obj_meta *out, char *errmsg);

/* What ais_client_shard_append did. */
struct ais_shard_append_result {
	struct ais_obj_meta meta; /* the shard after the append */
	uint64_t appended;	  /* members the stream held */
	uint64_t members;	  /* members of the shard now (0: unknown) */
};

/* Appends the members of a tar stream (size bytes read with pread from
 * offset 0 of the seekable fd: members, then optionally the end-of-archive
 * zero blocks) to the plain .tar shard bucket/shard, in place on its owner:
 * the old members' bytes do not move, the shard's version goes up by one.
 * The stream must hold only regular files, directories and symlinks with
 * paths the shard does not have (-EEXIST), unless replace (tar semantics:
 * the last copy wins). -EOPNOTSUPP for a shard that is not an uncompressed
 * .tar (or no shard), -ENOENT if there is none, -EBADMSG if the shard or
 * the stream is damaged; the shard is unchanged then. Not idempotent: after
 * the body is sent, a lost connection is not retried (the append may or may
 * not have happened; the version tells). out may be NULL. */
int ais_client_shard_append_fd(struct ais_client *c, const char *bucket,
			       const char *shard, int fd, uint64_t size,
			       bool replace,
			       struct ais_shard_append_result *out,
			       char *errmsg);

#endif
