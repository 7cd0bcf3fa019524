/* The client's shared state (map snapshots, pools) and the life of one
 * request: take a connection, send the frame, read the answer, give the
 * connection back; with the retry rules of client.h. Internal to
 * lib/client (the ais__ names). */
#ifndef AIS_CLIENT_I_H
#define AIS_CLIENT_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ais.pb-c.h"
#include "auth.h"
#include "client.h"
#include "conn.h"
#include "conn_pool.h"
#include "map.h"

/* An immutable, refcounted snapshot of the map with one pool per node
 * (pools[i] for map->nodes[i]). Threads take a reference under a short
 * mutex and use it without any lock. */
struct ais__mapref {
	atomic_int refs;
	struct ais_map *map;
	struct ais_pool **pools;
};

struct ais_client {
	struct ais_client_opts opts;
	struct ais_pool **ep_pools; /* the endpoint list of ais_client_new */
	size_t n_ep;
	/* The node that answered the last request any node could answer:
	 * asked first next time (its connections are warm, it was alive). */
	_Atomic(struct ais_pool *) home;

	pthread_mutex_t map_lock; /* guards cur only */
	struct ais__mapref *cur;

	pthread_mutex_t pools_lock; /* guards pools[] (one per address) */
	struct ais_pool **pools;
	size_t n_pools;

	atomic_uint next_id;
	_Atomic uint64_t map_version;	 /* cur->map->version, lock-free */
	_Atomic uint64_t seen_version;	 /* highest map version a node named */
	_Atomic uint64_t map_checked_ns; /* monotonic time a node last gave us
					    the map (adopted or as current) */
	_Atomic uint64_t origin;	 /* ais_client_set_origin */
	/* A node answered OP_PUT_BATCH with "unknown op": PUT one by one. */
	atomic_bool no_put_batch;
	/* What every request carries as its token (client_auth.c). */
	struct ais_token_src tok;
	char token_path[512]; /* the file it came from, "" for none */
	/* That file as last read, looked at again every few seconds, so
	 * that a renewed token (ais auth login again) is taken. */
	pthread_mutex_t tokf_mu;
	_Atomic uint64_t tokf_checked_ns;
	struct timespec tokf_mtime;
	uint64_t tokf_ino, tokf_size;
	char tok_kid[AIS_KID_LEN + 1];
	/* TLS on every connection (NULL: plain TCP); own_tls is freed with
	 * the client, opts.tls is the caller's. */
	struct ais_tls *tls, *own_tls;
};

/* The CA file a client of endpoints eps[n] uses (client.h, ca_file): 0
 * with out, or -ENOENT for none (plain TCP). */
int ais__client_ca_path(const char *named, const struct ais_endpoint *eps,
			size_t n, char *out, size_t cap);

/* Makes c->tls from the options (before any connection). 0 or -errno. */
int ais__client_tls_setup(struct ais_client *c,
			  const struct ais_endpoint *eps, size_t n,
			  char *errmsg);

/* Takes the token file again if it changed (at most every few seconds;
 * a cheap no-op otherwise). */
void ais__client_token_refresh(struct ais_client *c);

/* After the first map: the token requests carry (ais_client_opts,
 * $AIS_TOKEN_FILE, else the cluster's own token file if there is one).
 * 0, or -errno with errmsg for a token file named but unusable. */
int ais__client_token_setup(struct ais_client *c, char *errmsg);

/* A map is "fresh" for this long after a node gave it: a node marked down
 * in a fresher map is not worth a refresh before failing. */
#define AIS__MAP_FRESH_NS 1000000000ull

/* True if the map comes from the Raft metadata (some node has a role, or
 * there is a leader): then the bucket table is cluster-wide. */
bool ais__map_replicated(const struct ais_map *m);

/* If the map marks some node down and is not fresh, fetches it again
 * (once). Returns true if it fetched one. */
bool ais__refresh_if_down(struct ais_client *c);

/* The newest metadata version this client knows of (its map's, or a newer
 * one a node reported): sent as Request.map_version, so that a node that
 * is behind it catches up before answering (a bucket just created
 * elsewhere, a node just joined). */
uint64_t ais__client_version_hint(struct ais_client *c);

/* Notes a map version some node reported (Response.map_version). */
void ais__client_saw_version(struct ais_client *c, uint64_t v);

/* A reference to the current map snapshot; release with ais__mapref_put. */
struct ais__mapref *ais__mapref_get(struct ais_client *c);
void ais__mapref_put(struct ais__mapref *r);

/* The pool for host:port (created on first use; lives as long as c). NULL
 * on ENOMEM. */
struct ais_pool *ais__client_pool(struct ais_client *c, const char *host,
				  uint16_t port);

/* Adopts m (taking ownership) if its version is higher than the current
 * map's, or if force is set and it differs. Returns 1 if adopted, 0 if not
 * (m freed), -ENOMEM. */
int ais__client_adopt(struct ais_client *c, struct ais_map *m, bool force);
/* Adopts a map that came in a Response (WRONG_NODE). */
int ais__client_adopt_pb(struct ais_client *c, const Ais__ClusterMap *pb,
			 char *errmsg);

/* Handles a WRONG_NODE answer: adopts the map it carries, and fetches one
 * only if we still know no map as new as the node's. */
void ais__follow_wrong_node(struct ais_client *c, const Ais__Response *a);

/* ---- the retry rules of client.h, for every request ---- */

#define AIS__WRONG_NODE_RETRIES 3

/* The retry budget of one request. */
struct ais__retry {
	int stale_left; /* dead pooled connections still forgiven */
	int conn_left;	/* connection errors still retried */
	int wrong_left; /* WRONG_NODE answers still followed */
	bool fresh;	/* the next attempt takes a new connection */
	/* Copies of the object that failed this request (not asked again). */
	struct ais_pool *tried[AIS_COPIES_MAX];
	unsigned ntried;
	unsigned catchup_waits; /* waits for a node catching up */
	bool no_wait;		/* never sleeps (an event loop's request) */
};

/* A new budget: a dead pooled connection once, conn_retries connection
 * errors (0 for a request that must not run twice), and
 * AIS__WRONG_NODE_RETRIES redirections. */
void ais__retry_init(struct ais__retry *r, int conn_retries);

/* An exchange failed with class fail: true if the request should be sent
 * again (then on a fresh connection). A dead pooled connection spends the
 * stale budget, then the connection-error one; a connection error the
 * latter; anything else is final. may_repeat is false when sending it
 * again is not safe whatever the failure (a body source that cannot be
 * rewound, bytes already handed to the caller). */
bool ais__retry_conn(struct ais__retry *r, int fail, bool may_repeat);

/* A node answered WRONG_NODE with a: adopts the map it carries (always, so
 * that the next request goes right), and returns true if this one should
 * go again to the owner in that map. */
bool ais__retry_wrong_node(struct ais__retry *r, struct ais_client *c,
			   const Ais__Response *a, bool may_repeat);

#define AIS__CALL_RBUF 8192 /* read-ahead: header, head, small bodies */

/* One exchange on one connection. */
struct ais__call {
	struct ais_client *c;
	struct ais_pool *pool;
	int fd;
	int io_ms; /* the socket's receive timeout */
	bool own;  /* io_ms is not the client's: the socket's timeout is
		      set back before it returns to the pool */
	bool sent; /* the request head left on the socket */
	bool reused;
	uint32_t id;
	Ais__Response *resp;
	uint64_t body_left; /* response body bytes not yet consumed */
	int fail;	    /* enum ais_conn_fail of the last error */
	size_t rlen, roff;  /* body bytes read ahead: rbuf[roff..rlen) */
	uint8_t rbuf[AIS__CALL_RBUF];
};

/* Takes a connection (fresh: a new one) and sends req as a frame whose body
 * of body_len bytes the caller sends next with ais__call_send_body. On error
 * the call is finished (nothing to clean up) and errmsg names the node. */
int ais__call_start(struct ais__call *k, struct ais_client *c,
		    struct ais_pool *pool, Ais__Request *req, uint64_t body_len,
		    bool fresh, char *errmsg);
/* ais__call_start with an answer awaited for io_ms (0: the client's
 * io_timeout_ms); any other value takes a connection of its own, closed at
 * the end, as a pooled one keeps the client's receive timeout. */
int ais__call_start_io(struct ais__call *k, struct ais_client *c,
		       struct ais_pool *pool, Ais__Request *req,
		       uint64_t body_len, bool fresh, int io_ms, char *errmsg);
/* Sends body bytes; sets *answered (and stops) if the node already sent its
 * answer (an early rejection). On error the call is left for
 * ais__call_recv_head (the node may have answered) or ais__call_finish. */
int ais__call_send_body(struct ais__call *k, const void *buf, size_t len,
			bool *answered, char *errmsg);
/* Reads the answer head into k->resp and k->body_left. */
int ais__call_recv_head(struct ais__call *k, char *errmsg);

/* Reads the answer to a request whose body was sent (send_rc: how sending
 * it went, with its message in errmsg). A node that refuses a request
 * early answers and closes before the whole body arrived, so after a
 * failed send its answer may still be waiting in the socket: it is taken
 * if it is there, else the send error stands. Returns 0 with k->resp, or
 * -errno with the call finished (k->fail says whether to retry). */
int ais__call_recv_after_body(struct ais__call *k, int send_rc, char *errmsg);

/* Judges the answer to a request with a body of size bytes, sent of them
 * sent (what: "a PUT", for messages): 0 (accepted; k->resp stays), 1 (a
 * WRONG_NODE followed: send it again), or -errno (the node's status, or
 * -EPROTO for a body accepted before it all arrived). The call is
 * finished unless 0 is returned. */
int ais__call_judge(struct ais__call *k, struct ais__retry *r, bool may_repeat,
		    uint64_t sent, uint64_t size, const char *what,
		    char *errmsg);
/* Reads up to len bytes of the body (at most body_left). Returns the count
 * (0 when the body is done) or -errno. */
ssize_t ais__call_recv_body(struct ais__call *k, void *buf, size_t len,
			    char *errmsg);
/* Ends the call: the connection goes back to the pool if clean is set and
 * the whole answer was read, else it is closed. Frees k->resp. */
void ais__call_finish(struct ais__call *k, bool clean);

/* A whole body-less request to one node with the retry rules (a dead
 * pooled connection: once on a fresh one; then, if idempotent, conn_retries
 * more times after a connection error). *resp is the node's answer
 * (status may be != 0), freed by the caller with
 * ais__response__free_unpacked. Returns 0 or the connection -errno. */
int ais__call_simple(struct ais_client *c, struct ais_pool *pool,
		     Ais__Request *req, bool idempotent, int conn_retries,
		     Ais__Response **resp, char *errmsg);

/* The pools to try, best first, for a request any node can answer: the
 * home node (unless the map marks it down), the map's nodes not marked
 * down, the endpoints not in the map, then the nodes marked down; each
 * once. Fills pools[] (room for r->map->n + c->n_ep + 1) and returns the
 * count. */
size_t ais__any_order(struct ais_client *c, const struct ais__mapref *r,
		      struct ais_pool **pools);

/* A body-less request any node can answer, sent to the nodes of
 * ais__any_order until one answers (whatever its status): the nodes marked
 * down only if no other one answered. A node is left for the next after a
 * failure before the request reached it (connect failure or timeout, a
 * dead pooled connection), or, if idempotent, after a connection error
 * (not a timeout: a node that holds the request without answering is
 * stuck, and another wait would only double the caller's). io_ms: as
 * ais__call_start_io. Returns 0 with *resp (freed by the caller; status
 * may be != 0; it becomes the home node), or the last -errno with errmsg
 * naming the nodes tried. */
int ais__call_any(struct ais_client *c, Ais__Request *req, bool idempotent,
		  int io_ms, Ais__Response **resp, char *errmsg);

/* ais__call_any of req with the client's version hint, the answer's
 * status checked: 0 with *resp (freed by the caller; resp NULL: freed
 * here), or -errno with errmsg (the node's refusal, or no node). */
int ais__call_any_ok(struct ais_client *c, Ais__Request *req, bool idempotent,
		     Ais__Response **resp, char *errmsg);

/* The node's status with its message copied to errmsg (0 if fine). A
 * positive or absurd status becomes -EPROTO. */
int ais__resp_status(const Ais__Response *resp, char *errmsg);

/* Checks a bucket and object name (ais__check_obj_names), and also a
 * shard member's path (ais__check_member_names): 0 or -errno with errmsg. */
int ais__check_obj_names(const char *bucket, const char *name, char *errmsg);
int ais__check_member_names(const char *bucket, const char *shard,
			    const char *path, char *errmsg);

/* The pool of the node that owns bucket/name in the current map (pools
 * live as long as the client: no reference to hold). Returns 0,
 * -EHOSTUNREACH when the map has no online node, or -EIO ("node ID
 * (HOST:PORT) is down") when the map marks the owner down, after one
 * refresh of a map that is not fresh. */
int ais__owner_pool(struct ais_client *c, const char *bucket, const char *name,
		    struct ais_pool **pool, char *errmsg);

/* The node to ask for bucket/name next: the nodes of its copy set in HRW
 * order (the owner first), those that failed this client within
 * AIS__SUSPECT_NS after the others and those the map marks down last, the
 * ones in r->tried (may be NULL) left out. Returns 0 with *pool, -ENOENT
 * when every copy was tried (errmsg untouched), or with nothing tried
 * what ais__owner_pool returns (a bucket with one copy: exactly
 * ais__owner_pool). */
#define AIS__SUSPECT_NS 3000000000ull
int ais__copy_pool(struct ais_client *c, const char *bucket, const char *name,
		   const struct ais__retry *r, struct ais_pool **pool,
		   char *errmsg);
/* A node of bucket/name's copies (pool) failed this request: notes it
 * (r->tried; with node_failed, the node could not be reached:
 * ais__pool_failed too) and returns true if a copy is left to ask (then
 * on a fresh connection). */
bool ais__retry_copy(struct ais__retry *r, struct ais_client *c,
		     const char *bucket, const char *name,
		     struct ais_pool *pool, bool node_failed);

/* A node of bucket/name's copies answered that it is catching up (it
 * restarted and is getting the copies it missed): true to ask again, the
 * next copy at once, or, with none left, the first after a short wait (up
 * to AIS__CATCHUP_WAITS times). */
#define AIS__CATCHUP_WAITS   40
#define AIS__CATCHUP_WAIT_MS 250
bool ais__retry_catching_up(struct ais__retry *r, struct ais_client *c,
			    const char *bucket, const char *name,
			    struct ais_pool *pool);

/* The copies of each object of bucket, as the current map says. */
uint32_t ais__bucket_copies(struct ais_client *c, const char *bucket);
/* Notes that pool's node could not be reached (ais__copy_pool then asks
 * it last for a while). */
void ais__pool_failed(struct ais_pool *p);

/* A body-less request to the owner of bucket/name (with copies, the first
 * copy that answers: a connection failure of an idempotent request moves
 * on to the next copy), following WRONG_NODE up to three times. Returns 0 with
 * *resp whose status is 0, or -errno (node status or connection error). */
int ais__call_obj(struct ais_client *c, const char *bucket, const char *name,
		  Ais__Request *req, bool idempotent, Ais__Response **resp,
		  char *errmsg);

/* The same body-less request sent to every node of snapshot r, in parallel
 * (all sent, then all answers read). For each node i: resps[i] (may be
 * NULL) and rcs[i] (connection -errno, the node's status, or -EHOSTDOWN
 * for a node the map marks down, which is not asked) with msgs[i]
 * (AIS_ERRMSG_LEN each). Arrays are caller-allocated with r->map->n
 * slots; resps[] are freed by the caller. Always idempotent. Returns true
 * if some node has a newer map than r (the caller should refresh the map
 * and ask again, or it may miss a node). */
bool ais__call_all(struct ais_client *c, struct ais__mapref *r,
		   Ais__Request *req, Ais__Response **resps, int *rcs,
		   char (*msgs)[AIS_ERRMSG_LEN]);
/* ais__call_all with a request of its own for each node i, reqs[i]; a
 * node whose reqs[i] is NULL is not asked (resps[i] NULL, rcs[i] 0). */
bool ais__call_each(struct ais_client *c, struct ais__mapref *r,
		    Ais__Request *const *reqs, Ais__Response **resps, int *rcs,
		    char (*msgs)[AIS_ERRMSG_LEN]);

#endif
