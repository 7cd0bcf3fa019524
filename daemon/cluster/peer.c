/* Requests from this node to other nodes, over lib/wire's connections. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "conn.h"
#include "conn_pool.h"
#include "frame.h"
#include "util.h"

#include "cluster/peer.h"

#define IDLE_PER_PEER 8
#define RBUF	      4096 /* header + head of an answer, usually whole */

struct peer {
	struct ais_pool *pool;
	uint64_t down_until; /* monotonic ns */
	char why[160];	     /* why it was marked so */
};

struct peers {
	pthread_mutex_t mu; /* guards v[] and down_until */
	struct peer *v;
	size_t n, cap;
	int connect_ms, io_ms, down_ms;
	atomic_uint next_id;
	struct ais_token_src tok; /* root tokens, with the cluster's key */
	struct ais_tls *tls;	  /* mutual TLS with the node's certificate */
};

struct peers *peers_new(int connect_ms, int io_ms, int down_ms)
{
	struct peers *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	p->connect_ms = connect_ms;
	p->io_ms = io_ms;
	p->down_ms = down_ms;
	atomic_init(&p->next_id, 1);
	ais_token_src_init(&p->tok);
	return p;
}

void peers_set_key(struct peers *p, const struct ais_auth_key *k,
		   const char *name)
{
	ais_token_src_set_key(&p->tok, k, name);
}

void peers_set_tls(struct peers *p, struct ais_tls *tls)
{
	p->tls = tls;
}

void peers_auth_like(struct peers *p, struct peers *from)
{
	p->tls = from->tls;
	pthread_mutex_lock(&from->tok.mu);
	if (from->tok.have_key) {
		struct ais_auth_key k = from->tok.key;
		char name[sizeof(from->tok.name)];

		memcpy(name, from->tok.name, sizeof(name));
		pthread_mutex_unlock(&from->tok.mu);
		ais_token_src_set_key(&p->tok, &k, name);
		OPENSSL_cleanse(&k, sizeof(k));
		return;
	}
	pthread_mutex_unlock(&from->tok.mu);
}

/* ais_frame_pack of req with this node's token. */
static int pack(struct peers *p, uint32_t id, const Ais__Request *req,
		uint64_t body_len, uint8_t **out, size_t *outlen)
{
	uint8_t tok[AIS_TOKEN_MAX];
	Ais__Request q = *req;

	q.token.len = ais_token_src_get(&p->tok, tok);
	q.token.data = tok;
	return ais_frame_pack(id, 0, &q.base, body_len, out, outlen);
}

void peers_free(struct peers *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		ais_pool_free(p->v[i].pool);
	free(p->v);
	pthread_mutex_destroy(&p->mu);
	ais_token_src_destroy(&p->tok);
	free(p);
}

/* The entry of node n, created if new. Called under p->mu. */
static struct peer *lookup(struct peers *p, const struct ais_node *n)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->v[i].pool->port == n->port &&
		    !strcmp(p->v[i].pool->host, n->host))
			return &p->v[i];
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct peer *nv = realloc(p->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n].pool = ais_pool_new(n->host, n->port, IDLE_PER_PEER, p->tls);
	if (!p->v[p->n].pool)
		return NULL;
	p->v[p->n].down_until = 0;
	return &p->v[p->n++];
}

/* Node n could not be reached (why): calls to it fail at once for a
 * while, saying why. */
static void mark_down(struct peers *p, const struct ais_node *n,
		      const char *why)
{
	struct peer *e;

	pthread_mutex_lock(&p->mu);
	e = lookup(p, n);
	if (e) {
		e->down_until =
		    ais_now_mono_ns() + (uint64_t)p->down_ms * 1000000ull;
		snprintf(e->why, sizeof(e->why), "%s", why);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Sends req on fd; *id is its frame id. Returns 0 or -errno (errmsg). */
static int send_request(struct peers *p, int fd, const Ais__Request *req,
			uint32_t *id, char *errmsg)
{
	uint8_t *buf;
	size_t len;
	int rc;

	*id = atomic_fetch_add(&p->next_id, 1);
	rc = pack(p, *id, req, 0, &buf, &len);
	if (rc)
		return ais_errf(errmsg, rc, "cannot encode the request: %s",
				strerror(-rc));
	rc = ais_conn_send(fd, buf, len, p->io_ms, false, NULL);
	free(buf);
	if (rc)
		return ais_errf(errmsg, rc, "send: %s", strerror(-rc));
	return 0;
}

/* Reads the (body-less) answer to request id on fd. Returns 0 with *resp,
 * or -errno (errmsg). */
static int recv_answer(struct peers *p, int fd, uint32_t id,
		       Ais__Response **resp, char *errmsg)
{
	uint8_t rbuf[RBUF];
	uint64_t body_len;
	size_t rlen;
	bool got_any;
	int rc;

	rc = ais_conn_recv_response(fd, id, p->io_ms, resp, &body_len, rbuf,
				    sizeof(rbuf), &rlen, &got_any, errmsg);
	if (rc == 0 && body_len) {
		ais__response__free_unpacked(*resp, NULL);
		*resp = NULL;
		return ais_errf(errmsg, -EPROTO, "unexpected body");
	}
	if (rc && rc != -EPROTO && rc != -ENOMEM)
		ais_errf(errmsg, rc, "receive: %s", strerror(-rc));
	return rc;
}

/* One request and its answer on fd. */
static int exchange(struct peers *p, int fd, const Ais__Request *req,
		    Ais__Response **resp, char *errmsg)
{
	uint32_t id;
	int rc = send_request(p, fd, req, &id, errmsg);

	return rc ? rc : recv_answer(p, fd, id, resp, errmsg);
}

int peers_call(struct peers *p, const struct ais_node *n,
	       const Ais__Request *req, Ais__Response **resp, char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "";
	struct ais_pool *pool;
	struct peer *e;
	bool fresh = false;
	int fd, rc;

	pthread_mutex_lock(&p->mu);
	e = lookup(p, n);
	if (!e) {
		pthread_mutex_unlock(&p->mu);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	pool = e->pool; /* pools live as long as p */
	if (e->down_until > ais_now_mono_ns()) {
		rc = ais_errf(errmsg, -EHOSTDOWN,
			      "node %s: unreachable a moment ago (%s)",
			      pool->addr, e->why);
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	pthread_mutex_unlock(&p->mu);
	for (;;) {
		bool reused;

		fd = ais_pool_get(pool, fresh, p->connect_ms, p->io_ms, &reused,
				  em);
		if (fd < 0) {
			mark_down(p, n, em);
			return ais_errf(errmsg, fd, "node %s: %s", pool->addr,
					em);
		}
		rc = exchange(p, fd, req, resp, em);
		if (rc == 0) {
			ais_pool_put(pool, fd);
			return 0;
		}
		ais_conn_close(fd);
		/* A pooled connection the node closed meanwhile: once more
		 * on a fresh one. */
		if (!reused)
			break;
		fresh = true;
	}
	return ais_errf(errmsg, rc, "node %s: %s", pool->addr, em);
}

/* A connection to node n (a pooled one unless fresh), or -errno with
 * errmsg; n is remembered as unreachable when it cannot be connected to. */
static int peer_conn(struct peers *p, const struct ais_node *n, bool fresh,
		     struct ais_pool **poolp, bool *reused, char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "";
	struct ais_pool *pool;
	struct peer *e;
	int fd, rc;

	pthread_mutex_lock(&p->mu);
	e = lookup(p, n);
	if (!e) {
		pthread_mutex_unlock(&p->mu);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	pool = e->pool;
	if (e->down_until > ais_now_mono_ns()) {
		rc = ais_errf(errmsg, -EHOSTDOWN,
			      "node %s: unreachable a moment ago (%s)",
			      pool->addr, e->why);
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	pthread_mutex_unlock(&p->mu);
	*poolp = pool;
	fd = ais_pool_get(pool, fresh, p->connect_ms, p->io_ms, reused, em);
	if (fd < 0) {
		mark_down(p, n, em);
		return ais_errf(errmsg, fd, "node %s: %s", pool->addr, em);
	}
	return fd;
}

void peers_call_all(struct peers *p, size_t n, const struct ais_node **nodes,
		    const Ais__Request **reqs, Ais__Response **resps, int *rcs,
		    char (*errmsgs)[AIS_ERRMSG_LEN])
{
	struct ais_pool *pools[n];
	uint32_t ids[n];
	bool reused[n];
	int fds[n];
	size_t i;

	/* Every request out first, then every answer in: the calls take as
	 * long as the slowest, not as all of them together. */
	for (i = 0; i < n; i++) {
		resps[i] = NULL;
		fds[i] = peer_conn(p, nodes[i], false, &pools[i], &reused[i],
				   errmsgs[i]);
		rcs[i] = fds[i] < 0 ? fds[i]
				    : send_request(p, fds[i], reqs[i], &ids[i],
						   errmsgs[i]);
	}
	for (i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (!rcs[i])
			rcs[i] = recv_answer(p, fds[i], ids[i], &resps[i],
					     errmsgs[i]);
		if (rcs[i] == 0) {
			ais_pool_put(pools[i], fds[i]);
			continue;
		}
		ais_conn_close(fds[i]);
		/* A pooled connection the node closed meanwhile: once more,
		 * alone, on a fresh one. */
		if (reused[i])
			rcs[i] = peers_call(p, nodes[i], reqs[i], &resps[i],
					    errmsgs[i]);
		else {
			char em[AIS_ERRMSG_LEN];

			snprintf(em, sizeof(em), "%s", errmsgs[i]);
			ais_errf(errmsgs[i], rcs[i], "node %s: %s",
				 pools[i]->addr, em);
		}
	}
}

static void set_rcvtimeo(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

#define BODY_BUF (256 * 1024)

/* One PUT with a body from a file on sock; *clean says whether sock may
 * be pooled afterwards, *got_any whether some answer byte arrived. */
static int put_exchange(struct peers *p, int sock, const Ais__Request *req,
			int fd, uint64_t off, uint64_t len,
			Ais__Response **resp, bool *clean, bool *got_any,
			char *errmsg)
{
	uint32_t id = atomic_fetch_add(&p->next_id, 1);
	uint8_t rbuf[RBUF], *head;
	uint64_t sent = 0, body_len;
	bool early = false;
	size_t hlen, rlen;
	int rc;

	*clean = false;
	*got_any = false;
	rc = pack(p, id, req, len, &head, &hlen);
	if (rc)
		return ais_errf(errmsg, rc, "cannot encode the request: %s",
				strerror(-rc));
	rc = ais_conn_send(sock, head, hlen, p->io_ms, false, NULL);
	free(head);
	if (!rc && len) {
		/* Straight from the page cache to the socket. */
		rc = ais_conn_sendfile(sock, fd, off, len, p->io_ms, true,
				       &early);
		if (rc == -ENODATA)
			return ais_errf(errmsg, -EIO,
					"reading the local copy: it shrank "
					"while sent");
		if (!rc && !early)
			sent = len;
	}
	/* A send that broke may still have an answer behind it (the
	 * receiver refused and closed): look for it before giving up. */
	if (rc && rc != -EPIPE && rc != -ECONNRESET)
		return ais_errf(errmsg, rc, "send: %s", strerror(-rc));
	set_rcvtimeo(sock, PEERS_ANSWER_MS);
	rc = ais_conn_recv_response(sock, id, PEERS_ANSWER_MS, resp, &body_len,
				    rbuf, sizeof(rbuf), &rlen, got_any, errmsg);
	set_rcvtimeo(sock, p->io_ms);
	if (rc == 0 && body_len) {
		ais__response__free_unpacked(*resp, NULL);
		*resp = NULL;
		return ais_errf(errmsg, -EPROTO, "unexpected body");
	}
	if (rc && rc != -EPROTO && rc != -ENOMEM)
		ais_errf(errmsg, rc, "receive: %s", strerror(-rc));
	*clean = rc == 0 && sent == len && !early;
	return rc;
}

int peers_put_fd(struct peers *p, const struct ais_node *n,
		 const Ais__Request *req, int fd, uint64_t off, uint64_t len,
		 Ais__Response **resp, char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "";
	struct ais_pool *pool = NULL;
	bool fresh = false, reused, clean, got_any;
	int sock, rc;

	for (;;) {
		sock = peer_conn(p, n, fresh, &pool, &reused, errmsg);
		if (sock < 0)
			return sock;
		rc = put_exchange(p, sock, req, fd, off, len, resp, &clean,
				  &got_any, em);
		if (clean)
			ais_pool_put(pool, sock);
		else
			ais_conn_close(sock);
		/* A pooled connection the node had closed: once more on a
		 * fresh one (the body is read again from the file). */
		if (rc == 0 || !reused || got_any || rc == -EPROTO)
			break;
		fresh = true;
	}
	if (rc)
		return ais_errf(errmsg, rc, "node %s: %s", pool->addr, em);
	return 0;
}

/* One GET whose body goes to sink. */
static int sink_exchange(struct peers *p, int sock, const Ais__Request *req,
			 const struct peer_sink *sink, Ais__Response **resp,
			 bool *clean, bool *got_any, bool *sink_failed,
			 char *errmsg)
{
	uint32_t id = atomic_fetch_add(&p->next_id, 1);
	uint8_t rbuf[RBUF], *head, *buf = NULL;
	uint64_t body_len, got;
	size_t hlen, rlen;
	ssize_t n;
	int rc;

	*clean = false;
	*sink_failed = false;
	*got_any = false;
	rc = pack(p, id, req, 0, &head, &hlen);
	if (rc)
		return ais_errf(errmsg, rc, "cannot encode the request: %s",
				strerror(-rc));
	rc = ais_conn_send(sock, head, hlen, p->io_ms, false, NULL);
	free(head);
	if (rc)
		return ais_errf(errmsg, rc, "send: %s", strerror(-rc));
	rc = ais_conn_recv_response(sock, id, p->io_ms, resp, &body_len, rbuf,
				    sizeof(rbuf), &rlen, got_any, errmsg);
	if (rc) {
		if (rc != -EPROTO && rc != -ENOMEM)
			ais_errf(errmsg, rc, "receive: %s", strerror(-rc));
		return rc;
	}
	if ((*resp)->status) {
		*clean = body_len == 0;
		return 0;
	}
	rc = sink->head(sink->arg, *resp, body_len, errmsg);
	if (!rc && rlen)
		rc = sink->body(sink->arg, rbuf, rlen, errmsg);
	got = rlen;
	if (!rc && got < body_len && !(buf = malloc(BODY_BUF)))
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
	if (rc) {
		*sink_failed = true;
		goto fail;
	}
	while (got < body_len) {
		size_t want = body_len - got < BODY_BUF
				  ? (size_t)(body_len - got)
				  : BODY_BUF;

		n = ais_conn_recv_some(sock, buf, want, p->io_ms);
		if (n < 0) {
			rc =
			    ais_errf(errmsg, (int)n,
				     "receive: %s after %llu of %llu body "
				     "bytes",
				     strerror((int)-n), (unsigned long long)got,
				     (unsigned long long)body_len);
			goto fail;
		}
		rc = sink->body(sink->arg, buf, (size_t)n, errmsg);
		if (rc) {
			*sink_failed = true;
			goto fail;
		}
		got += (uint64_t)n;
	}
	free(buf);
	*clean = true;
	return 0;
fail:
	free(buf);
	ais__response__free_unpacked(*resp, NULL);
	*resp = NULL;
	return rc;
}

int peers_get_sink(struct peers *p, const struct ais_node *n,
		   const Ais__Request *req, const struct peer_sink *sink,
		   Ais__Response **resp, char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "";
	struct ais_pool *pool = NULL;
	bool fresh = false, reused, clean, got_any, sink_failed;
	int sock, rc;

	for (;;) {
		sock = peer_conn(p, n, fresh, &pool, &reused, errmsg);
		if (sock < 0)
			return sock;
		rc = sink_exchange(p, sock, req, sink, resp, &clean, &got_any,
				   &sink_failed, em);
		if (clean)
			ais_pool_put(pool, sock);
		else
			ais_conn_close(sock);
		if (sink_failed) {
			snprintf(errmsg, AIS_ERRMSG_LEN, "%s", em);
			return rc;
		}
		if (rc == 0 || !reused || got_any)
			break;
		fresh = true;
	}
	if (rc)
		return ais_errf(errmsg, rc, "node %s: %s", pool->addr, em);
	return 0;
}

void peers_alive(struct peers *p, const struct ais_node *n)
{
	struct peer *e;

	pthread_mutex_lock(&p->mu);
	e = lookup(p, n);
	if (e)
		e->down_until = 0;
	pthread_mutex_unlock(&p->mu);
}
