/* Requests: where a request is dispatched. The op table (ops.c) gives, for
 * each wire op, its handler, an optional fast path for the event loop, the
 * thread class that runs it, whether it takes a body, whether it is
 * idempotent, and the right it will need. net/ hands every parsed request
 * here; the handlers (one file per family of ops) call store/, shard/ and
 * cluster/, and write the answer on the borrowed connection. */
#ifndef AISD_RPC_RPC_H
#define AISD_RPC_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ais.pb-c.h"
#include "auth.h"
#include "frame.h"

#include "aisd.h"
#include "net/sock_io.h"

#define RPC_TAIL_HEAD_MAX 1024 /* frame header + response head */

/* The rest of an answer that rpc_try_inline began on the loop thread and a
 * worker finishes: head[0..hlen) (the unsent end of the frame head), then
 * len bytes of the open file fd from offset off (fd is closed by the
 * finisher). */
struct rpc_tail {
	bool pending;
	int fd;
	uint64_t off, len;
	size_t hlen;
	uint8_t head[RPC_TAIL_HEAD_MAX];
};

/* One request lent to the handlers, with the connection's fd in io. */
struct rpc_job {
	struct ais_frame_hdr hdr;
	Ais__Request *req; /* owned by the caller */
	struct sock_io io;
	const char *peer;   /* "ADDR:PORT" for logs */
	bool nul_in_string; /* a string field of the head holds a NUL */
	bool close;	    /* out: close the connection afterwards */
	struct rpc_auth_cache *auth; /* the connection's */
	bool tls;		     /* the connection speaks TLS ... */
	bool peer_node;	      /* ... and its peer showed a node certificate */
	struct rpc_tail tail; /* set by rpc_try_inline only */
};

/* Which threads run an op's handler (after its loop fast path, if any). */
enum rpc_thread {
	RPC_META, /* net/workpool: a few threads for short metadata requests */
	RPC_DATA, /* the libuv threadpool: object bytes, and requests that
		     wait on other nodes (so that two nodes probing each
		     other never use up each other's threads) */
	RPC_WAIT, /* net/workpool of its own: requests held open on purpose
		     (OP_WATCH), which must not take the others' threads */
};

/* The right a request needs (rpc/auth.c checks it when the cluster has a
 * secret; HACKING.md, "Users, tokens, rights"). */
enum rpc_perm {
	RPC_PERM_NONE,	  /* anyone who can connect (PING, the map, login) */
	RPC_PERM_AUTH,	  /* any valid token */
	RPC_PERM_READ,	  /* on the bucket: GET, HEAD, listings */
	RPC_PERM_WRITE,	  /* on the bucket: PUT, DELETE, RENAME, append */
	RPC_PERM_ADMIN,	  /* on the bucket: create, destroy, props, scrub */
	RPC_PERM_CLUSTER, /* a cluster admin: membership, users, transforms */
	RPC_PERM_NODE,	  /* another node (a root token): JOIN, proposals */
};

/* What a connection remembers of the last token it verified, so that the
 * next request with the same token costs a comparison, not an HMAC. */
struct rpc_auth_cache {
	size_t len;
	uint8_t tok[AIS_TOKEN_MAX];
	struct ais_claims claims;
	uint64_t not_revoked_at; /* metadata version where it was not */
};

/* What a fast path did on the loop thread. */
enum rpc_inline {
	RPC_INLINE_NO,	 /* nothing sent: run the handler on a worker */
	RPC_INLINE_DONE, /* answered (or j->close set): go on */
	RPC_INLINE_TAIL, /* answer begun: a worker sends j->tail */
};

struct rpc; /* one request being handled (rpc_i.h) */

struct rpc_op {
	/* On a worker: 0 (answer success), 1 (already answered) or -errno
	 * (answer that error with the handler's message). */
	int (*run)(struct rpc *r);
	/* On the loop thread, or NULL: answers at once if that needs no
	 * waiting at all, else leaves the request to run. buf (cap bytes,
	 * >= 64 KiB) is scratch space; the socket is non-blocking. */
	enum rpc_inline (*nowait)(struct rpc *r, uint8_t *buf, size_t cap);
	enum rpc_thread thread;
	bool body;	 /* takes a request body */
	bool idempotent; /* running it twice has the effect of once, so a
			    lost answer may be retried (for node-to-node
			    forwarding and replication, which come next) */
	enum rpc_perm perm;
};

/* The row of op, or NULL for an op this node does not know. */
const struct rpc_op *rpc_op_find(int op);

/* "PUT", "GET", ...: the op's name in the protocol (from protobuf-c's
 * enum descriptor), or "?" for an unknown op. */
const char *rpc_op_name(int op);

/* Whether a parsed request may run at all: a known op (-EOPNOTSUPP first,
 * body or not), no compressed body, a body only where the op takes one, no
 * NUL in its names. Returns 0 or -errno with errmsg (the answer to send).
 * op may be NULL (unknown). */
int rpc_admit(const struct rpc_op *op, const struct rpc_job *j, char *errmsg);

/* Whether the request may run as far as tokens and rights go: 0, or
 * -EACCES with the reason in errmsg ("the token of alice expired at ...",
 * "user bob may not PUT in bucket b: it has read there, write is
 * needed"), logged (at most once a second) unless quiet. Sets r's who
 * (the caller's claims: NULL without auth) and admin. */
struct rpc;
int rpc_authorize(struct rpc *r, const struct rpc_op *op, bool quiet);

/* Handles j completely on a worker (response written, body consumed or the
 * connection marked for closing), or, if j->tail is pending, sends the
 * rest of an answer begun by rpc_try_inline. Blocking; never touches the
 * event loop. */
void rpc_run(struct aisd *d, struct rpc_job *j);

/* conflict.c: the batched name-conflict probes of concurrent PUTs
 * (d->probes, needed by every node of a map of more than one). NULL on
 * ENOMEM; free with probes_free (NULL is fine) once no request runs. */
struct probes *probes_new(void);
void probes_free(struct probes *p);

struct cluster_map;
/* A cluster_change_cb (arg = struct aisd *): makes this node's buckets
 * follow the cluster's bucket table — creates the directories of new
 * buckets, deletes the buckets that left the table. */
void rpc_buckets_follow(void *arg, struct cluster_map *cm);

/* The loop thread's try: the op's fast path, if it has one and the request
 * is admitted; errors are always left to rpc_run, which words them. */
enum rpc_inline rpc_try_inline(struct aisd *d, struct rpc_job *j, uint8_t *buf,
			       size_t cap);

#endif
