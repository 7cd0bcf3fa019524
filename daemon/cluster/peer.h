/* Requests from this node to other nodes (the name-conflict probes of PUT
 * and RENAME, gossip's JOINs): one pool of idle connections per node
 * (lib/wire), timeouts, and a short memory of nodes that could not be
 * reached, so that a dead node costs one connect timeout every few seconds,
 * not one per request. */
#ifndef AISD_CLUSTER_PEER_H
#define AISD_CLUSTER_PEER_H

#include "ais.pb-c.h"
#include "auth.h"
#include "map.h"
#include "util.h"

struct peers;

/* A node that could not be connected to is not tried again for down_ms
 * (0: always try). NULL on ENOMEM. */
struct peers *peers_new(int connect_ms, int io_ms, int down_ms);
void peers_free(struct peers *p);

/* Requests carry root tokens minted with k for identity name ("@ID"). */
void peers_set_key(struct peers *p, const struct ais_auth_key *k,
		   const char *name);
/* Connections speak TLS with tls (the node's client configuration, with
 * its certificate; it must outlive p). Set before the first call. */
struct ais_tls;
void peers_set_tls(struct peers *p, struct ais_tls *tls);
/* p's requests carry the same tokens as from's, over the same TLS. */
void peers_auth_like(struct peers *p, struct peers *from);

/* Sends req (no body) to node n and reads its answer (which must have no
 * body). An exchange that fails on a pooled connection is tried once more
 * on a fresh one. Returns 0 with *resp (free with
 * ais__response__free_unpacked), or -errno with errmsg (-EHOSTDOWN while n
 * is remembered as unreachable). */
int peers_call(struct peers *p, const struct ais_node *n,
	       const Ais__Request *req, Ais__Response **resp, char *errmsg);

/* peers_call of reqs[i] to nodes[i] for every i < n, all sent before any
 * answer is read: rcs[i] 0 with resps[i] (free it), or -errno with
 * errmsgs[i]. */
void peers_call_all(struct peers *p, size_t n, const struct ais_node **nodes,
		    const Ais__Request **reqs, Ais__Response **resps, int *rcs,
		    char (*errmsgs)[AIS_ERRMSG_LEN]);

/* Forgets that n could not be reached (it just asked this node for
 * something, so it is up). */
void peers_alive(struct peers *p, const struct ais_node *n);

/* peers_call with a body: len bytes of the file open on fd from offset off
 * (read with pread through a fixed buffer: bounded memory whatever the
 * size), on the same pooled connections and timeouts; the answer (no body)
 * may take up to PEERS_ANSWER_MS after the body, as the receiver makes it
 * durable first. An answer that arrives before the whole body (an early
 * refusal) is read, and that connection is closed. Returns 0 with *resp
 * (free with ais__response__free_unpacked), or -errno with errmsg. */
#define PEERS_ANSWER_MS 60000
int peers_put_fd(struct peers *p, const struct ais_node *n,
		 const Ais__Request *req, int fd, uint64_t off, uint64_t len,
		 Ais__Response **resp, char *errmsg);

/* What receives the body of an answer (peers_get_sink): head() once, for
 * an answer with status 0, with its length; then body() for each piece in
 * order. A callback's -errno ends the exchange (that connection is
 * closed) and is returned, with the message it put in errmsg. */
struct peer_sink {
	int (*head)(void *arg, const Ais__Response *resp, uint64_t body_len,
		    char *errmsg);
	int (*body)(void *arg, const void *buf, size_t len, char *errmsg);
	void *arg;
};

/* Sends req (no body) and streams the answer's body into sink. Returns 0
 * with *resp (the answer's head, free with ais__response__free_unpacked;
 * its status may be an error, and then the sink saw nothing), or -errno
 * with errmsg (the node could not be reached or the body broke off: the
 * sink may have seen part of it). */
int peers_get_sink(struct peers *p, const struct ais_node *n,
		   const Ais__Request *req, const struct peer_sink *sink,
		   Ais__Response **resp, char *errmsg);

#endif
