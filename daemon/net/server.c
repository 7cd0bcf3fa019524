/* The event loop side of aisd: listener, connections, framing, timeouts,
 * the orderly stop, and handing each request to the op table (rpc/) on the
 * loop or on a worker of the thread class its row names. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "frame.h"
#include "log.h"
#include "pb.h"
#include "tls.h"
#include "util.h"

#include "net/net.h"
#include "net/workpool.h"
#include "notify.h"
#include "rpc/rpc.h"
#include "store/store.h"

#define READ_BUF     (64 * 1024)
#define DRAIN_MS     30000
#define SWEEP_MS     1000
#define FAST_THREADS 16 /* metadata requests: see workpool.h */
/* A rebalance's copies (migrate PUTs) from other nodes: their own threads,
 * niced, so that clients' requests get the CPU first. */
#define MOVE_THREADS 8
#define MOVE_NICE    10
/* What a node asks of this one for work of its own that is a client's
 * (an object's copy from the node that took its PUT, a copy's delete, a
 * read of this node's copy only): threads of their own, as these never
 * wait on a third node, so that two nodes whose client threads all wait
 * on each other's copies never deadlock. */
#define PEER_THREADS 16
/* Mounts' OP_WATCH polls, each held up to 2 s when nothing changes: one
 * thread per mount watching at once (more wait their turn, and renew
 * their lease a little later). */
#define WAIT_THREADS 64

struct conn {
	uv_tcp_t tcp;
	struct server *srv;
	struct conn *prev, *next;
	char peer[64];
	uint8_t *buf; /* header + head, then bytes read past the head */
	size_t len, cap;
	struct ais_frame_hdr hdr;
	bool have_hdr;
	bool reading;
	bool lent; /* a worker owns the fd */
	bool closing;
	uint64_t last_ns;	    /* last progress */
	uv_work_t work;		    /* requests of class RPC_DATA */
	struct workpool_item witem; /* requests of class RPC_META */
	struct rpc_job job;
	struct rpc_auth_cache auth; /* the last token verified */
	struct ais_tls_conn *tls;   /* NULL: plain TCP */
	bool tls_started;	    /* its first bytes arrived */
};

/* Ciphertext of a TLS handshake that the socket did not take at once. */
struct tls_wreq {
	uv_write_t req;
	size_t len;
	char data[];
};

struct server {
	struct aisd *d;
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_timer_t sweep;
	uv_timer_t drain;
	uv_signal_t sigterm, sigint, sighup;
	struct conn head; /* list sentinel */
	unsigned nconns;
	bool stopping;
	bool drain_timed_out;
	bool aux_closed;
	struct workpool *fast;
	struct workpool *move; /* migrate PUTs */
	struct workpool *peer; /* replica PUTs, peer_local requests */
	struct workpool *wait; /* OP_WATCH */
	uint64_t io_timeout_ns, idle_timeout_ns;
	uint64_t last_accept_warn;
	uint8_t read_buf[READ_BUF]; /* the loop thread's only */
};

static void conn_dispatch_or_read(struct conn *c);

/* Closes the timers and signal handles so that the loop can end. */
static void close_aux(struct server *s)
{
	if (s->aux_closed)
		return;
	s->aux_closed = true;
	workpool_close(s->fast);
	workpool_close(s->move);
	workpool_close(s->peer);
	workpool_close(s->wait);
	uv_close((uv_handle_t *)&s->sweep, NULL);
	uv_close((uv_handle_t *)&s->drain, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sighup, NULL);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct server *s = c->srv;

	free(c->buf);
	ais_tls_conn_free(c->tls);
	free(c);
	atomic_fetch_sub(&s->d->connections, 1);
	if (s->stopping && s->nconns == 0)
		close_aux(s);
}

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->srv->nconns--;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	buf->base = (char *)c->srv->read_buf;
	buf->len = sizeof(c->srv->read_buf);
}

static int conn_append(struct conn *c, const void *data, size_t n)
{
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		uint8_t *nb;

		while (cap < c->len + n)
			cap *= 2;
		nb = realloc(c->buf, cap);
		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	return 0;
}

static void tls_write_done(uv_write_t *w, int status)
{
	free(w->data);
}

/* Sends what the TLS session has to send (handshake messages): what the
 * socket does not take at once is queued on libuv, which sends it before
 * anything a worker writes can follow (the peer answers only once it has
 * all of it). 0, or -1 when the connection was closed. */
static int tls_out(struct conn *c)
{
	const uint8_t *p;
	size_t len;

	while ((len = ais_tls_conn_out(c->tls, &p)) > 0) {
		uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
		struct tls_wreq *w;
		int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);

		if (n > 0) {
			ais_tls_conn_out_done(c->tls, (size_t)n);
			continue;
		}
		if (n != UV_EAGAIN && n != UV_ENOSYS) {
			ais_log(LOG_INFO, "%s: TLS: %s", c->peer,
				uv_strerror(n));
			conn_close(c);
			return -1;
		}
		w = malloc(sizeof(*w) + len);
		if (!w) {
			conn_close(c);
			return -1;
		}
		memcpy(w->data, p, len);
		w->len = len;
		w->req.data = w;
		ais_tls_conn_out_done(c->tls, len);
		b = uv_buf_init(w->data, (unsigned)len);
		if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1,
			     tls_write_done)) {
			free(w);
			conn_close(c);
			return -1;
		}
	}
	return 0;
}

/* Takes the plaintext the session has into c->buf. 0, or -1 when the
 * connection was closed (a failed handshake or record: logged). */
static int tls_take(struct conn *c)
{
	char errmsg[AIS_ERRMSG_LEN];
	bool was_ready = ais_tls_conn_ready(c->tls);
	ssize_t n;

	for (;;) {
		if (c->cap - c->len < 16384) {
			size_t cap = c->cap ? c->cap : 16384;
			uint8_t *nb;

			while (cap - c->len < 16384)
				cap *= 2;
			nb = realloc(c->buf, cap);
			if (!nb) {
				ais_log(LOG_ERR, "%s: out of memory, closing",
					c->peer);
				conn_close(c);
				return -1;
			}
			c->buf = nb;
			c->cap = cap;
		}
		n = ais_tls_conn_read(c->tls, c->buf + c->len, c->cap - c->len,
				      errmsg);
		if (n <= 0)
			break;
		c->len += (size_t)n;
	}
	if (tls_out(c))
		return -1;
	if (n == 0) {
		if (!was_ready && ais_tls_conn_ready(c->tls)) {
			char who[256];

			ais_tls_conn_peer_name(c->tls, who, sizeof(who));
			ais_log(LOG_DEBUG, "%s: TLS: %s%s", c->peer,
				ais_tls_conn_peer_is_node(c->tls) ? "node "
								  : "client ",
				who);
		}
		return 0;
	}
	if (n == -ECONNRESET)
		ais_log(LOG_DEBUG, "%s: TLS: closed by the peer", c->peer);
	else
		ais_log(LOG_NOTICE, "%s: %s; closing", c->peer, errmsg);
	conn_close(c);
	return -1;
}

/* Ciphertext from the socket: into the session, and its plaintext into
 * c->buf. 0, or -1 when the connection was closed. */
static int tls_in(struct conn *c, const uint8_t *data, size_t n)
{
	/* A TLS connection begins with a handshake record (22): anything
	 * else is a client that does not speak TLS, told nothing. */
	if (!ais_tls_conn_ready(c->tls) && c->len == 0 && !c->have_hdr &&
	    n > 0 && data[0] != 22 && !c->tls_started) {
		ais_log(LOG_NOTICE,
			"%s: not TLS (a plain-text client?); this node speaks "
			"TLS only; closing",
			c->peer);
		conn_close(c);
		return -1;
	}
	c->tls_started = true;
	if (ais_tls_conn_feed(c->tls, data, n)) {
		ais_log(LOG_ERR, "%s: out of memory, closing", c->peer);
		conn_close(c);
		return -1;
	}
	return tls_take(c);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;

	if (nread == 0)
		return;
	if (nread < 0) {
		if (c->have_hdr || c->len)
			ais_log(LOG_INFO,
				"%s: connection closed within a "
				"request (%s)",
				c->peer, uv_strerror((int)nread));
		else if (nread != UV_EOF)
			ais_log(LOG_DEBUG, "%s: %s", c->peer,
				uv_strerror((int)nread));
		conn_close(c);
		return;
	}
	if (c->tls) {
		if (tls_in(c, (const uint8_t *)buf->base, (size_t)nread))
			return;
	} else if (conn_append(c, buf->base, (size_t)nread)) {
		ais_log(LOG_ERR, "%s: out of memory, closing", c->peer);
		conn_close(c);
		return;
	}
	c->last_ns = ais_now_mono_ns();
	conn_dispatch_or_read(c);
}

static void work_cb(uv_work_t *w)
{
	struct conn *c = w->data;

	rpc_run(c->srv->d, &c->job);
}

static void fast_work(struct workpool_item *it)
{
	struct conn *c = it->data;

	rpc_run(c->srv->d, &c->job);
}

static void conn_after(struct conn *c);

static void after_work_cb(uv_work_t *w, int status)
{
	conn_after(w->data);
}

static void fast_done(struct workpool_item *it)
{
	conn_after(it->data);
}

/* Back on the loop after a request: keep what was read ahead, then close
 * or go on with the next request. */
static void conn_after(struct conn *c)
{
	struct server *s = c->srv;
	size_t used = c->job.io.preused;

	c->lent = false;
	atomic_fetch_add(&s->d->requests, 1);
	ais_pb_free(&c->job.req->base);
	c->job.req = NULL;
	/* Keep only what the worker did not consume (a pipelined request). */
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	if (c->len == 0 && c->cap > 2 * READ_BUF) {
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
	if (c->job.close || s->stopping) {
		conn_close(c);
		return;
	}
	/* The worker's reads may have left a pipelined request in the
	 * session. */
	if (c->tls && tls_take(c))
		return;
	c->last_ns = ais_now_mono_ns();
	conn_dispatch_or_read(c);
}

/* Parses what has been read; when a whole head is there, answers it on
 * the spot if that needs no waiting (rpc_try_inline), else lends the
 * connection to a worker. Otherwise (re)starts reading. */
static void conn_dispatch_or_read(struct conn *c)
{
	char errmsg[AIS_ERRMSG_LEN];
	const struct rpc_op *op;
	struct workpool *pool;
	Ais__Request *req;
	size_t need;
	bool nul;
	int rc;

next:
	if (!c->have_hdr && c->len >= AIS_FRAME_HDR_LEN) {
		if (ais_frame_hdr_decode(c->buf, &c->hdr, errmsg)) {
			ais_log(LOG_WARNING, "%s: malformed frame: %s; closing",
				c->peer, errmsg);
			conn_close(c);
			return;
		}
		c->have_hdr = true;
	}
	need = AIS_FRAME_HDR_LEN + (c->have_hdr ? c->hdr.head_len : 0);
	if (!c->have_hdr || c->len < need) {
		if (!c->reading) {
			rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb,
					   read_cb);
			if (rc) {
				ais_log(LOG_WARNING, "%s: read: %s", c->peer,
					uv_strerror(rc));
				conn_close(c);
				return;
			}
			c->reading = true;
		}
		return;
	}
	req = (Ais__Request *)ais_pb_unpack(&ais__request__descriptor,
					    c->hdr.head_len,
					    c->buf + AIS_FRAME_HDR_LEN, &nul);
	if (!req) {
		ais_log(LOG_WARNING,
			"%s: malformed frame: request head of %u "
			"bytes does not unpack; closing",
			c->peer, c->hdr.head_len);
		conn_close(c);
		return;
	}
	memmove(c->buf, c->buf + need, c->len - need);
	c->len -= need;
	c->have_hdr = false;
	memset(&c->job, 0, offsetof(struct rpc_job, tail));
	c->job.tail.pending = false;
	c->job.hdr = c->hdr;
	c->job.req = req;
	c->job.nul_in_string = nul;
	c->job.peer = c->peer;
	c->job.auth = &c->auth;
	c->job.io.tls = c->tls;
	c->job.tls = c->tls != NULL;
	c->job.peer_node = c->tls && ais_tls_conn_peer_is_node(c->tls);
	uv_fileno((uv_handle_t *)&c->tcp, &c->job.io.fd);
	c->job.io.timeout_ms = (int)(c->srv->io_timeout_ns / 1000000u);
	c->job.io.pre = c->buf;
	c->job.io.prelen = c->len;
	c->job.io.body_left = c->hdr.body_len;
	/* Small GETs and HEADs of cached objects: no thread hop, no
	 * context switch; the read side stays armed for the next request.
	 * read_buf is free here: read_cb has copied it to c->buf. */
	switch (rpc_try_inline(c->srv->d, &c->job, c->srv->read_buf,
			       sizeof(c->srv->read_buf))) {
	case RPC_INLINE_DONE:
		atomic_fetch_add(&c->srv->d->requests, 1);
		ais_pb_free(&req->base);
		c->job.req = NULL;
		if (c->job.close || c->srv->stopping) {
			conn_close(c);
			return;
		}
		c->last_ns = ais_now_mono_ns();
		goto next;
	case RPC_INLINE_TAIL:
	case RPC_INLINE_NO:
		break;
	}
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	c->lent = true;
	/* An unknown op is answered (with -EOPNOTSUPP) by the small pool. */
	op = rpc_op_find(req->op);
	pool = !op ? c->srv->fast
	       : req->op == AIS__OP__OP_PUT && req->migrate && !req->replica
		   ? c->srv->move
	       : req->peer_local || (req->op == AIS__OP__OP_PUT && req->replica)
		   ? c->srv->peer
	       : op->thread == RPC_WAIT ? c->srv->wait
	       : op->thread == RPC_DATA ? NULL
					: c->srv->fast;
	if (!pool) {
		c->work.data = c;
		rc = uv_queue_work(&c->srv->loop, &c->work, work_cb,
				   after_work_cb);
	} else {
		c->witem.data = c;
		c->witem.work = fast_work;
		c->witem.done = fast_done;
		workpool_submit(pool, &c->witem);
		rc = 0;
	}
	if (rc) {
		c->lent = false;
		ais_pb_free(&req->base);
		ais_log(LOG_ERR, "%s: cannot queue work: %s", c->peer,
			uv_strerror(rc));
		conn_close(c);
	}
}

static void format_peer(uv_tcp_t *t, char *out, size_t len)
{
	struct sockaddr_storage ss;
	int n = sizeof(ss);
	char ip[64] = "?";
	unsigned port = 0;

	if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &n) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			uv_ip4_name(a, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			uv_ip6_name(a, ip, sizeof(ip));
			port = ntohs(a->sin6_port);
		}
	}
	snprintf(out, len, "%s:%u", ip, port);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct server *s = l->data;
	struct conn *c;
	uint64_t now = ais_now_mono_ns();

	if (status < 0) {
		if (now - s->last_accept_warn > 1000000000ull) {
			ais_log(LOG_WARNING, "accept: %s", uv_strerror(status));
			s->last_accept_warn = now;
		}
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || uv_tcp_init(&s->loop, &c->tcp)) {
		free(c);
		return;
	}
	c->tcp.data = c;
	c->srv = s;
	c->next = s->head.next;
	c->prev = &s->head;
	s->head.next->prev = c;
	s->head.next = c;
	s->nconns++;
	atomic_fetch_add(&s->d->connections, 1);
	if (uv_accept(l, (uv_stream_t *)&c->tcp)) {
		conn_close(c);
		return;
	}
	if (s->d->tls_server) {
		c->tls = ais_tls_conn_new(s->d->tls_server);
		if (!c->tls) {
			ais_log(LOG_ERR, "out of memory for a TLS session");
			conn_close(c);
			return;
		}
	}
	uv_tcp_nodelay(&c->tcp, 1);
	/* Finds peers that vanished without a FIN among idle connections. */
	uv_tcp_keepalive(&c->tcp, 1, 60);
	format_peer(&c->tcp, c->peer, sizeof(c->peer));
	c->last_ns = now;
	conn_dispatch_or_read(c);
}

static void on_sweep(uv_timer_t *t)
{
	struct server *s = t->data;
	uint64_t now = ais_now_mono_ns();
	struct conn *c, *next;

	store_open_cache_sweep(s->d->store);
	for (c = s->head.next; c != &s->head; c = next) {
		next = c->next;
		if (c->lent || c->closing)
			continue;
		/* A TLS handshake under way is a request under way. */
		if (c->have_hdr || c->len ||
		    (c->tls && !ais_tls_conn_ready(c->tls))) {
			if (now - c->last_ns > s->io_timeout_ns) {
				ais_log(LOG_WARNING,
					"%s: no progress for %llu s within a "
					"request; closing",
					c->peer,
					(unsigned long long)(s->io_timeout_ns /
							     1000000000u));
				conn_close(c);
			}
		} else if (s->idle_timeout_ns &&
			   now - c->last_ns > s->idle_timeout_ns) {
			ais_log(LOG_DEBUG, "%s: idle; closing", c->peer);
			conn_close(c);
		}
	}
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct server *s = t->data;

	ais_log(LOG_WARNING, "%u connection%s still busy after %d s; exiting",
		s->nconns, s->nconns == 1 ? "" : "s", DRAIN_MS / 1000);
	s->drain_timed_out = true;
	uv_stop(&s->loop);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct server *s = sig->data;
	struct conn *c, *next;
	unsigned busy = 0;

	if (s->stopping) {
		ais_log(LOG_NOTICE, "%s again: still draining",
			strsignal(signum));
		return;
	}
	s->stopping = true;
	notify_stopping();
	uv_close((uv_handle_t *)&s->listener, NULL);
	for (c = s->head.next; c != &s->head; c = next) {
		next = c->next;
		if (c->lent)
			busy++;
		else
			conn_close(c);
	}
	ais_log(LOG_NOTICE, "%s: stopping; %u request%s in flight",
		strsignal(signum), busy, busy == 1 ? "" : "s");
	if (s->nconns == 0) {
		close_aux(s);
		return;
	}
	uv_timer_start(&s->drain, on_drain_timeout, DRAIN_MS, 0);
}

/* SIGHUP: the TLS certificates are read again (a renewed one is used
 * from the next handshake on; connections up keep theirs). */
static void on_sighup(uv_signal_t *sig, int signum)
{
	struct server *s = sig->data;
	char errmsg[AIS_ERRMSG_LEN], who[256];
	int rc;

	(void)signum;
	if (!s->d->tls_server) {
		ais_log(LOG_NOTICE, "SIGHUP: no TLS: nothing to reload");
		return;
	}
	/* Both read the same files: the second fails only if they changed
	 * in between. */
	rc = ais_tls_reload(s->d->tls_server, errmsg);
	if (rc) {
		ais_log(LOG_ERR,
			"SIGHUP: TLS reload failed, the certificate in use "
			"stays: %s",
			errmsg);
		return;
	}
	rc = ais_tls_reload(s->d->tls_client, errmsg);
	if (rc)
		ais_log(LOG_ERR,
			"SIGHUP: TLS reload failed for this node's calls to "
			"others (its listeners took the new files): %s",
			errmsg);
	ais_tls_describe(s->d->tls_server, who, sizeof(who));
	ais_log(LOG_NOTICE,
		"SIGHUP: TLS certificates reloaded: new connections see %s",
		who);
}

int server_new(struct aisd *d, const char *host, unsigned port,
	       struct server **out, char *errmsg)
{
	struct sockaddr_storage ss;
	struct server *s;
	int rc;

	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&ss) &&
	    uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&ss))
		return ais_errf(errmsg, -EINVAL,
				"listen address %s: not an IPv4 or IPv6 "
				"address",
				host);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	s->d = d;
	s->head.next = s->head.prev = &s->head;
	s->io_timeout_ns = (uint64_t)d->opts->io_timeout_s * 1000000000ull;
	s->idle_timeout_ns = (uint64_t)d->opts->idle_timeout_s * 1000000000ull;
	rc = uv_loop_init(&s->loop);
	if (rc) {
		free(s);
		return ais_errf(errmsg, rc, "event loop: %s", uv_strerror(rc));
	}
	uv_tcp_init(&s->loop, &s->listener);
	s->listener.data = s;
	rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&s->listener, SOMAXCONN,
			       on_connection);
	if (rc) {
		ais_errf(errmsg, rc, "listen %s:%u: %s", host, port,
			 uv_strerror(rc));
		uv_close((uv_handle_t *)&s->listener, NULL);
		uv_run(&s->loop, UV_RUN_DEFAULT);
		uv_loop_close(&s->loop);
		free(s);
		return rc;
	}
	rc = workpool_new(&s->loop, FAST_THREADS, 0, &s->fast);
	if (!rc) {
		rc = workpool_new(&s->loop, MOVE_THREADS, MOVE_NICE, &s->move);
		if (rc)
			workpool_close(s->fast); /* closed by the run below */
	}
	if (!rc) {
		rc = workpool_new(&s->loop, PEER_THREADS, 0, &s->peer);
		if (rc) {
			workpool_close(s->fast);
			workpool_close(s->move);
		}
	}
	if (!rc) {
		rc = workpool_new(&s->loop, WAIT_THREADS, 0, &s->wait);
		if (rc) {
			workpool_close(s->fast);
			workpool_close(s->move);
			workpool_close(s->peer);
		}
	}
	if (rc) {
		ais_errf(errmsg, rc, "cannot start threads: %s", strerror(-rc));
		uv_close((uv_handle_t *)&s->listener, NULL);
		uv_run(&s->loop, UV_RUN_DEFAULT);
		uv_loop_close(&s->loop);
		free(s);
		return rc;
	}
	uv_timer_init(&s->loop, &s->sweep);
	s->sweep.data = s;
	uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	uv_timer_init(&s->loop, &s->drain);
	s->drain.data = s;
	uv_signal_init(&s->loop, &s->sigterm);
	s->sigterm.data = s;
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	uv_signal_init(&s->loop, &s->sigint);
	s->sigint.data = s;
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	uv_signal_init(&s->loop, &s->sighup);
	s->sighup.data = s;
	uv_signal_start(&s->sighup, on_sighup, SIGHUP);
	*out = s;
	return 0;
}

int server_run(struct server *s)
{
	uv_run(&s->loop, UV_RUN_DEFAULT);
	return s->drain_timed_out ? 1 : 0;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	uv_loop_close(&s->loop);
	free(s);
}
