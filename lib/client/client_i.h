/* The client's shared state (map snapshots, pools) and the life of one
 * request: take a connection, send the frame, read the answer, give the
 * connection back; with the retry rules of client.h. Internal to libais. */
#ifndef AIS_CLIENT_CALL_H
#define AIS_CLIENT_CALL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ais.pb-c.h"
#include "client.h"
#include "conn_pool.h"
#include "map.h"

/* An immutable, refcounted snapshot of the map with one pool per node
 * (pools[i] for map->nodes[i]). Threads take a reference under a short
 * mutex and use it without any lock. */
struct ais_mapref {
	atomic_int refs;
	struct ais_map *map;
	struct ais_pool **pools;
};

struct ais_client {
	struct ais_client_opts opts;
	struct ais_pool *ep_pool; /* the endpoint given to ais_client_new */

	pthread_mutex_t map_lock; /* guards cur only */
	struct ais_mapref *cur;

	pthread_mutex_t pools_lock; /* guards pools[] (one per address) */
	struct ais_pool **pools;
	size_t n_pools;

	atomic_uint next_id;
	_Atomic uint64_t map_version;  /* cur->map->version, lock-free */
	_Atomic uint64_t seen_version; /* highest map version a node named */
};

/* Notes a map version some node reported (Response.map_version). */
void ais_client_saw_version(struct ais_client *c, uint64_t v);

/* A reference to the current map snapshot; release with ais_mapref_put. */
struct ais_mapref *ais_mapref_get(struct ais_client *c);
void ais_mapref_put(struct ais_mapref *r);

/* The pool for host:port (created on first use; lives as long as c). NULL
 * on ENOMEM. */
struct ais_pool *ais_client_pool(struct ais_client *c, const char *host,
				 uint16_t port);

/* Adopts m (taking ownership) if its version is higher than the current
 * map's, or if force is set and it differs. Returns 1 if adopted, 0 if not
 * (m freed), -ENOMEM. */
int ais_client_adopt(struct ais_client *c, struct ais_map *m, bool force);
/* Adopts a map that came in a Response (WRONG_NODE). */
int ais_client_adopt_pb(struct ais_client *c, const Ais__ClusterMap *pb,
			char *errmsg);

/* Handles a WRONG_NODE answer: adopts the map it carries, and fetches one
 * only if we still know no map as new as the node's. */
void ais_client_follow_wrong_node(struct ais_client *c, const Ais__Response *a);

/* Why an exchange failed, which decides whether it may be retried. */
enum ais_call_fail {
	AIS_CALL_OK = 0,
	AIS_CALL_STALE, /* reused connection dead before any answer byte */
	AIS_CALL_CONN,	/* connect or socket error, timeout */
	AIS_CALL_OTHER, /* protocol error, local error: no retry */
};

#define AIS_CALL_RBUF 8192 /* read-ahead: header, head, small bodies */

/* One exchange on one connection. */
struct ais_call {
	struct ais_client *c;
	struct ais_pool *pool;
	int fd;
	bool reused;
	uint32_t id;
	Ais__Response *resp;
	uint64_t body_left; /* response body bytes not yet consumed */
	int fail;	    /* enum ais_call_fail of the last error */
	size_t rlen, roff;  /* body bytes read ahead: rbuf[roff..rlen) */
	uint8_t rbuf[AIS_CALL_RBUF];
};

/* Takes a connection (fresh: a new one) and sends req as a frame whose body
 * of body_len bytes the caller sends next with ais_call_send_body. On error
 * the call is finished (nothing to clean up) and errmsg names the node. */
int ais_call_start(struct ais_call *k, struct ais_client *c,
		   struct ais_pool *pool, Ais__Request *req, uint64_t body_len,
		   bool fresh, char *errmsg);
/* Sends body bytes; sets *answered (and stops) if the node already sent its
 * answer (an early rejection). On error the call is left for
 * ais_call_recv_head (the node may have answered) or ais_call_finish. */
int ais_call_send_body(struct ais_call *k, const void *buf, size_t len,
		       bool *answered, char *errmsg);
/* Reads the answer head into k->resp and k->body_left. */
int ais_call_recv_head(struct ais_call *k, char *errmsg);
/* Reads up to len bytes of the body (at most body_left). Returns the count
 * (0 when the body is done) or -errno. */
ssize_t ais_call_recv_body(struct ais_call *k, void *buf, size_t len,
			   char *errmsg);
/* Ends the call: the connection goes back to the pool if clean is set and
 * the whole answer was read, else it is closed. Frees k->resp. */
void ais_call_finish(struct ais_call *k, bool clean);

/* A whole body-less request to one node with the retry rules (a dead
 * pooled connection: once on a fresh one; then, if idempotent, conn_retries
 * more times after a connection error). *resp is the node's answer
 * (status may be != 0), freed by the caller with
 * ais__response__free_unpacked. Returns 0 or the connection -errno. */
int ais_call_simple(struct ais_client *c, struct ais_pool *pool,
		    Ais__Request *req, bool idempotent, int conn_retries,
		    Ais__Response **resp, char *errmsg);

/* The node's status with its message copied to errmsg (0 if fine). A
 * positive or absurd status becomes -EPROTO. */
int ais_resp_status(const Ais__Response *resp, char *errmsg);

/* Checks a bucket and object name (ais_check_obj_names), and also a
 * shard member's path (ais_check_member_names): 0 or -errno with errmsg. */
int ais_check_obj_names(const char *bucket, const char *name, char *errmsg);
int ais_check_member_names(const char *bucket, const char *shard,
			   const char *path, char *errmsg);

/* The pool of the node that owns bucket/name in the current map (pools
 * live as long as the client: no reference to hold). Returns 0 or
 * -EHOSTUNREACH when the map has no online node. */
int ais_owner_pool(struct ais_client *c, const char *bucket, const char *name,
		   struct ais_pool **pool, char *errmsg);

/* A body-less request to the owner of bucket/name, following WRONG_NODE up
 * to three times. Returns 0 with *resp whose status is 0, or -errno (node
 * status or connection error). */
int ais_call_obj(struct ais_client *c, const char *bucket, const char *name,
		 Ais__Request *req, bool idempotent, Ais__Response **resp,
		 char *errmsg);

/* The same body-less request sent to every node of snapshot r, in parallel
 * (all sent, then all answers read). For each node i: resps[i] (may be
 * NULL) and rcs[i] (connection -errno, or the node's status) with
 * msgs[i] (AIS_ERRMSG_LEN each). Arrays are caller-allocated with r->map->n
 * slots; resps[] are freed by the caller. Always idempotent. Returns true
 * if some node has a newer map than r (the caller should refresh the map
 * and ask again, or it may miss a node). */
bool ais_call_all(struct ais_client *c, struct ais_mapref *r, Ais__Request *req,
		  Ais__Response **resps, int *rcs,
		  char (*msgs)[AIS_ERRMSG_LEN]);

/* ObjMeta -> struct ais_obj_meta (NULL pb: zeroes). */
void ais_meta_from_pb(const Ais__ObjMeta *pb, struct ais_obj_meta *out);

#endif
