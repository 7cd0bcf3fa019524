/* Many GETs in flight from one thread (see client_async.h).
 *
 * Each request in flight has a connection of its own, registered once in
 * the epoll set for input (level-triggered) for as long as it is open; an
 * idle connection that turns readable was closed by its node and is
 * dropped. Answers are received into one buffer shared by all connections:
 * the frame header and protobuf head are parsed in place when a receive
 * holds them whole (the common case), else gathered in the connection's own
 * small buffer; body bytes go from the shared buffer straight to the
 * caller's callback. Connections closed while a batch of events is being
 * handled are only marked (fd -1) and freed after it, so that a later event
 * of the same batch never points at freed memory. */
#include "client_async.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_i.h"
#include "tls.h"
#include "conn.h"
#include "names.h"
#include "frame.h"
#include "util.h"

#define ASYNC_RBUF   (256 * 1024) /* one receive, shared by all */
#define ASYNC_EVENTS 64

enum aconn_state { AC_IDLE, AC_HEAD, AC_BODY };

struct aconn {
	int fd; /* -1: closed, freed after the current batch */
	struct ais_pool *pool;
	enum aconn_state st;
	bool reused;  /* this exchange runs on a connection used before */
	bool got_any; /* some byte of the answer arrived */
	uint32_t id;
	uint64_t deadline_ns;
	struct ais_aget *g;
	struct ais__retry r; /* the GET's budget: moves with it */
	struct ais_frame_hdr h;
	uint8_t *hbuf; /* header + head gathered across receives */
	size_t hlen, hcap;
	uint64_t body_left;
	bool verify;
	struct ais_cksum ck;
	char want[AIS_CKSUM_HEX_MAX];
};

struct ais_async {
	struct ais_client *c;
	int epfd;
	struct aconn **conns;
	size_t n, cap;
	unsigned inflight;
	unsigned finished; /* done() calls since ais_async_run began */
	bool dead;	   /* some conns[] closed: sweep after the batch */
	bool closing;	   /* in ais_async_free: no new GETs */
	uint8_t *rbuf;
	char msg[AIS_ERRMSG_LEN];
};

struct ais_async *ais_async_new(struct ais_client *c, char *errmsg)
{
	struct ais_async *a = calloc(1, sizeof(*a));

	if (!a) {
		ais_errf(errmsg, -ENOMEM, "out of memory");
		return NULL;
	}
	a->c = c;
	a->rbuf = malloc(ASYNC_RBUF);
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!a->rbuf || a->epfd < 0) {
		ais_errf(errmsg, a->rbuf ? -errno : -ENOMEM, "%s",
			 a->rbuf ? strerror(errno) : "out of memory");
		if (a->epfd >= 0)
			close(a->epfd);
		free(a->rbuf);
		free(a);
		return NULL;
	}
	return a;
}

unsigned ais_async_inflight(const struct ais_async *a)
{
	return a->inflight;
}

/* ---- connections -------------------------------------------------------- */

static void conn_reset(struct aconn *k)
{
	if (k->verify)
		ais_cksum_abort(&k->ck);
	k->verify = false;
	k->st = AC_IDLE;
	k->g = NULL;
	k->hlen = 0;
	k->body_left = 0;
	k->got_any = false;
}

/* Closes k's socket; the struct is freed by sweep(). */
static void conn_close(struct ais_async *a, struct aconn *k)
{
	conn_reset(k);
	if (k->fd >= 0) {
		/* Closing the socket removes it from the epoll set. */
		ais_conn_close(k->fd);
		k->fd = -1;
		a->dead = true;
	}
}

static void sweep(struct ais_async *a)
{
	size_t i, j;

	if (!a->dead)
		return;
	for (i = j = 0; i < a->n; i++) {
		if (a->conns[i]->fd >= 0) {
			a->conns[j++] = a->conns[i];
			continue;
		}
		free(a->conns[i]->hbuf);
		free(a->conns[i]);
	}
	a->n = j;
	a->dead = false;
}

/* An idle connection to pool, or a new one (fresh: always new). NULL with
 * *rc and errmsg set on failure. */
static struct aconn *conn_get(struct ais_async *a, struct ais_pool *pool,
			      bool fresh, int *rc, char *errmsg)
{
	const struct ais_client_opts *o = &a->c->opts;
	struct epoll_event ev = {.events = EPOLLIN};
	char em[AIS_ERRMSG_LEN] = "";
	struct aconn *k;
	bool reused;
	size_t i;
	int fd;

	for (i = 0; !fresh && i < a->n; i++) {
		k = a->conns[i];
		if (k->fd >= 0 && k->st == AC_IDLE && k->pool == pool) {
			k->reused = true;
			return k;
		}
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 16;
		struct aconn **v = realloc(a->conns, cap * sizeof(*v));

		if (!v) {
			*rc = ais_errf(errmsg, -ENOMEM, "out of memory");
			return NULL;
		}
		a->conns = v;
		a->cap = cap;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		*rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		return NULL;
	}
	/* The client's pool may hold an idle connection to the node. */
	fd = ais_pool_get(pool, fresh, o->connect_timeout_ms, o->io_timeout_ms,
			  &reused, em);
	if (fd < 0) {
		*rc = ais_errf(errmsg, fd, "node %s: %s", pool->addr, em);
		free(k);
		return NULL;
	}
	ev.data.ptr = k;
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		*rc = ais_errf(errmsg, -errno, "epoll: %s", strerror(errno));
		ais_conn_close(fd);
		free(k);
		return NULL;
	}
	k->fd = fd;
	k->pool = pool;
	k->reused = reused;
	a->conns[a->n++] = k;
	return k;
}

/* ---- requests ----------------------------------------------------------- */

/* g is over: done() runs (it may submit more). */
static void complete(struct ais_async *a, struct ais_aget *g, int rc,
		     const char *msg)
{
	a->inflight--;
	a->finished++;
	g->done(g, rc, rc < 0 ? msg : "");
}

/* Ends the GET on k: k is kept idle (clean, whole answer read) or closed. */
static void finish(struct ais_async *a, struct aconn *k, bool clean, int rc,
		   const char *msg)
{
	struct ais_aget *g = k->g;

	if (clean && k->body_left == 0)
		conn_reset(k);
	else
		conn_close(a, k);
	complete(a, g, rc, msg);
}

/* Sends g on a connection to its owner (a new one if r.fresh), spending r
 * on failed connects and sends. On failure nothing is in flight and errmsg
 * says why. */
static int start(struct ais_async *a, struct ais_aget *g, struct ais__retry r,
		 char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct ais_pool *pool;
	struct aconn *k;
	bool reused;
	uint8_t *buf;
	size_t len;
	int rc;

	req.op = AIS__OP__OP_GET;
	req.bucket = (char *)g->bucket;
	req.name = (char *)g->name;
	req.archpath = (char *)g->archpath;
	req.offset = g->off;
	req.length = g->len;
	if (g->etl) {
		req.etl_name = (char *)g->etl;
		req.etl_args = (char *)(g->etl_args ? g->etl_args : "");
	}
	for (;;) {
		rc =
		    ais__copy_pool(a->c, g->bucket, g->name, &r, &pool, errmsg);
		if (rc < 0)
			return rc;
		k = conn_get(a, pool, r.fresh, &rc, errmsg);
		if (!k) {
			int fail = rc == -ETIMEDOUT || rc == -ENOMEM
				       ? AIS_CONN_FAIL_OTHER
				       : AIS_CONN_FAIL_CONN;

			if (rc != -ENOMEM &&
			    ais__retry_copy(&r, a->c, g->bucket, g->name, pool,
					    true))
				continue;
			if (!ais__retry_conn(&r, fail, true))
				return rc;
			continue;
		}
		req.map_version = ais__client_version_hint(a->c);
		k->id = atomic_fetch_add(&a->c->next_id, 1);
		{
			uint8_t tok[AIS_TOKEN_MAX];

			ais__client_token_refresh(a->c);
			req.token.len = ais_token_src_get(&a->c->tok, tok);
			req.token.data = tok;
			rc = ais_frame_pack(k->id, 0, &req.base, 0, &buf, &len);
			req.token.len = 0;
			req.token.data = NULL;
		}
		if (rc < 0) {
			conn_close(a, k);
			return ais_errf(errmsg, rc, "cannot encode request: %s",
					strerror(-rc));
		}
		rc = ais_conn_send(k->fd, buf, len, a->c->opts.io_timeout_ms,
				   false, NULL);
		free(buf);
		if (rc == 0)
			break;
		ais_errf(errmsg, rc, "node %s: send: %s", pool->addr,
			 strerror(-rc));
		reused = k->reused;
		conn_close(a, k);
		if (!ais__retry_conn(&r, ais_conn_classify(rc, reused, false),
				     true))
			return rc;
	}
	k->g = g;
	k->r = r;
	k->st = AC_HEAD;
	k->hlen = 0;
	k->got_any = false;
	/* A transform's answer begins once its program is done. */
	k->deadline_ns = ais_now_mono_ns() +
			 (g->etl ? (uint64_t)AIS_ETL_TIMEOUT_MAX_MS + 60000
				 : (uint64_t)a->c->opts.io_timeout_ms) *
			     1000000ULL;
	return 0;
}

int ais_async_get(struct ais_async *a, struct ais_aget *g, char *errmsg)
{
	struct ais__retry r;
	int rc = g->archpath ? ais__check_member_names(g->bucket, g->name,
						       g->archpath, errmsg)
			     : ais__check_obj_names(g->bucket, g->name, errmsg);

	if (rc < 0)
		return rc;
	if (!g->done)
		return ais_errf(errmsg, -EINVAL, "GET without a done callback");
	/* A done() run by ais_async_free must not start a GET that would
	 * never finish (nor loop forever by resubmitting). */
	if (a->closing)
		return ais_errf(errmsg, -ECANCELED,
				"GET not started: the multiplexer is being "
				"freed");
	g->bytes = 0;
	memset(&g->meta, 0, sizeof(g->meta));
	if (g->etl && (g->off || g->len))
		return ais_errf(errmsg, -EINVAL,
				"a GET through a transform reads it all");
	/* Never sent twice once it may have reached a node: the program
	 * would run twice. */
	ais__retry_init(&r, g->etl ? 0 : 1);
	r.no_wait = true; /* this thread serves every GET in flight */
	rc = start(a, g, r, errmsg);
	if (rc < 0)
		return rc;
	a->inflight++;
	return 0;
}

/* The exchange on k broke with rc: retried on a fresh connection when the
 * rules allow and nothing was handed to the caller yet, else failed. */
static void broken(struct ais_async *a, struct aconn *k, int rc,
		   const char *what)
{
	struct ais_aget *g = k->g;
	struct ais__retry r = k->r;

	if (rc == -ECONNRESET && !k->got_any)
		ais_errf(a->msg, rc,
			 "node %s: connection closed before the answer",
			 k->pool->addr);
	else
		ais_errf(a->msg, rc, "node %s: %s: %s", k->pool->addr, what,
			 strerror(-rc));
	/* A transform's GET goes nowhere else once it may have reached a
	 * node: the program would run again (a dead pooled connection never
	 * reached it). */
	if (g->etl && ais_conn_classify(rc, k->reused, k->got_any) !=
			  AIS_CONN_FAIL_STALE) {
		finish(a, k, false, rc, a->msg);
		return;
	}
	/* Bytes already handed to done()'s callback cannot be taken back. */
	if (g->bytes == 0 &&
	    ais_conn_classify(rc, k->reused, k->got_any) !=
		AIS_CONN_FAIL_STALE &&
	    ais__retry_copy(&r, a->c, g->bucket, g->name, k->pool, true)) {
		conn_close(a, k);
		rc = start(a, g, r, a->msg);
		if (rc < 0)
			complete(a, g, rc, a->msg);
		return;
	}
	if (!ais__retry_conn(&r, ais_conn_classify(rc, k->reused, k->got_any),
			     g->bytes == 0)) {
		finish(a, k, false, rc, a->msg);
		return;
	}
	conn_close(a, k);
	rc = start(a, g, r, a->msg);
	if (rc < 0)
		complete(a, g, rc, a->msg);
}

/* The answer on k (resp, freed here) sends k's GET again under the retry
 * budget r: k is kept for the next request if nothing more of the answer
 * is to come, else closed. */
static void send_again(struct ais_async *a, struct aconn *k,
		       Ais__Response *resp, struct ais__retry r)
{
	struct ais_aget *g = k->g;
	int rc;

	ais__response__free_unpacked(resp, NULL);
	if (k->body_left == 0)
		conn_reset(k);
	else
		conn_close(a, k);
	rc = start(a, g, r, a->msg);
	if (rc < 0)
		complete(a, g, rc, a->msg);
}

/* The answer head arrived: decides what follows. Returns false if the
 * exchange on k ended (k no longer holds a GET). */
static bool on_head(struct ais_async *a, struct aconn *k, const uint8_t *hp)
{
	struct ais_aget *g = k->g;
	const Ais__ObjMeta *m;
	Ais__Response *resp;
	int rc;

	resp = ais__response__unpack(NULL, k->h.head_len, hp);
	if (!resp) {
		ais_errf(a->msg, -EPROTO,
			 "node %s: bad answer: malformed response head",
			 k->pool->addr);
		finish(a, k, false, -EPROTO, a->msg);
		return false;
	}
	ais__client_saw_version(a->c, resp->map_version);
	k->body_left = k->h.body_len;
	if (resp->status == -EREMOTE &&
	    ais__retry_wrong_node(&k->r, a->c, resp, true)) {
		send_again(a, k, resp, k->r);
		return false;
	}
	if (((resp->status == -EAGAIN && resp->catching_up) ||
	     resp->status == -EBADMSG) &&
	    g->bytes == 0) {
		struct ais__retry r = k->r;

		if (resp->status == -EBADMSG
			? ais__retry_copy(&r, a->c, g->bucket, g->name, k->pool,
					  false)
			: ais__retry_catching_up(&r, a->c, g->bucket, g->name,
						 k->pool)) {
			send_again(a, k, resp, r);
			return false;
		}
	}
	if (resp->status != 0) {
		rc = ais__resp_status(resp, a->msg);
		ais__response__free_unpacked(resp, NULL);
		finish(a, k, true, rc, a->msg);
		return false;
	}
	m = resp->meta;
	ais_obj_meta_from_pb(m, &g->meta);
	if (resp->object_size)
		g->meta.size = resp->object_size;
	if (g->off == 0 && g->len == 0 && m &&
	    m->cksum_type != AIS__CKSUM_TYPE__CKSUM_NONE &&
	    ais_cksum_init(&k->ck, (int)m->cksum_type) == 0) {
		k->verify = true;
		snprintf(k->want, sizeof(k->want), "%s", m->cksum_value);
	}
	ais__response__free_unpacked(resp, NULL);
	k->st = AC_BODY;
	return true;
}

/* Takes header + head out of p[0..n): in place when this receive holds
 * them whole, else gathered in k->hbuf. Returns the bytes used, or -1 if
 * the exchange ended. *ready is set when the head has been handled. */
static ssize_t take_head(struct ais_async *a, struct aconn *k, const uint8_t *p,
			 size_t n, bool *ready)
{
	const size_t hdr = AIS_FRAME_HDR_LEN;
	const uint8_t *hp;
	size_t used = 0, need, take;

	*ready = false;
	if (k->hlen == 0 && n >= hdr) {
		if (ais_frame_hdr_decode(p, &k->h, a->msg) < 0)
			goto bad;
		if (n >= hdr + k->h.head_len) {
			hp = p + hdr;
			used = hdr + k->h.head_len;
			goto parsed;
		}
	}
	for (;;) {
		need = k->hlen < hdr ? hdr : hdr + k->h.head_len;
		if (k->hlen == need || used == n)
			break;
		if (k->hcap < need) {
			uint8_t *b = realloc(k->hbuf, need);

			if (!b) {
				ais_errf(a->msg, -ENOMEM, "out of memory");
				finish(a, k, false, -ENOMEM, a->msg);
				return -1;
			}
			k->hbuf = b;
			k->hcap = need;
		}
		take = need - k->hlen < n - used ? need - k->hlen : n - used;
		memcpy(k->hbuf + k->hlen, p + used, take);
		k->hlen += take;
		used += take;
		if (k->hlen == hdr &&
		    ais_frame_hdr_decode(k->hbuf, &k->h, a->msg) < 0)
			goto bad;
	}
	if (k->hlen < hdr || k->hlen < hdr + k->h.head_len)
		return (ssize_t)used;
	hp = k->hbuf + hdr;
parsed:
	if (k->h.request_id != k->id) {
		snprintf(a->msg, sizeof(a->msg),
			 "response to request %u, expected %u", k->h.request_id,
			 k->id);
		goto bad;
	}
	if (k->h.flags & AIS_FRAME_FLAG_LZ4) {
		snprintf(a->msg, sizeof(a->msg),
			 "compressed response body not requested");
		goto bad;
	}
	k->hlen = 0;
	if (!on_head(a, k, hp))
		return -1;
	*ready = true;
	return (ssize_t)used;
bad : {
	char why[AIS_ERRMSG_LEN];

	snprintf(why, sizeof(why), "%s", a->msg);
	ais_errf(a->msg, -EPROTO, "node %s: bad answer: %s", k->pool->addr,
		 why);
	finish(a, k, false, -EPROTO, a->msg);
	return -1;
}
}

/* Hands body bytes to the caller; ends the GET when the body is whole. */
static void take_body(struct ais_async *a, struct aconn *k, const uint8_t *p,
		      size_t n)
{
	struct ais_aget *g = k->g;
	size_t take = k->body_left < n ? (size_t)k->body_left : n;
	char got[AIS_CKSUM_HEX_MAX];
	int rc;

	if (take) {
		if (k->verify)
			ais_cksum_update(&k->ck, p, take);
		if (g->cb) {
			rc = g->cb(g->arg, p, take);
			if (rc < 0) {
				ais_errf(a->msg, rc,
					 "GET aborted by receiver: %s",
					 strerror(-rc));
				finish(a, k, false, rc, a->msg);
				return;
			}
		}
		g->bytes += take;
		k->body_left -= take;
	}
	if (take < n) {
		ais_errf(a->msg, -EPROTO,
			 "node %s: bad answer: %zu bytes past the body",
			 k->pool->addr, n - take);
		finish(a, k, false, -EPROTO, a->msg);
		return;
	}
	if (k->body_left)
		return;
	if (k->verify) {
		ais_cksum_final(&k->ck, got);
		k->verify = false;
		if (strcmp(got, k->want) != 0) {
			ais_errf(a->msg, -EBADMSG,
				 "checksum mismatch on GET of %s/%s: expected "
				 "%s, got %s",
				 g->bucket, g->name, k->want, got);
			finish(a, k, true, -EBADMSG, a->msg);
			return;
		}
	}
	finish(a, k, true, 0, "");
}

static void on_readable(struct ais_async *a, struct aconn *k)
{
	ssize_t n, used;
	bool ready;

	if (k->fd < 0)
		return;
	n = ais_conn_recv_nowait(k->fd, a->rbuf, ASYNC_RBUF);
	if (n == -EAGAIN)
		return;
	if (k->st == AC_IDLE) {
		/* The node closed an idle connection (or sent junk). */
		conn_close(a, k);
		return;
	}
	if (n < 0) {
		broken(a, k, (int)n, "receive");
		return;
	}
	k->got_any = true;
	k->deadline_ns =
	    ais_now_mono_ns() + (uint64_t)a->c->opts.io_timeout_ms * 1000000ULL;
	used = 0;
	if (k->st == AC_HEAD) {
		used = take_head(a, k, a->rbuf, (size_t)n, &ready);
		if (used < 0 || !ready)
			return;
	}
	take_body(a, k, a->rbuf + used, (size_t)(n - used));
}

/* A TLS session may hold what one read did not take, with nothing left
 * on the socket to wake epoll. */
static bool tls_more(const struct aconn *k)
{
	struct ais_tls_conn *t = k->fd >= 0 ? ais_tls_fd_get(k->fd) : NULL;

	return t && ais_tls_conn_pending(t);
}

/* Fails the GETs whose connection made no progress for io_timeout_ms;
 * returns the milliseconds until the next deadline (or max_ms). */
static int check_deadlines(struct ais_async *a, int max_ms)
{
	uint64_t now = ais_now_mono_ns(), next = UINT64_MAX;
	size_t i, n = a->n;

	for (i = 0; i < n; i++) {
		struct aconn *k = a->conns[i];

		if (k->fd < 0 || k->st == AC_IDLE)
			continue;
		if (k->deadline_ns <= now)
			broken(a, k, -ETIMEDOUT, "receive");
		else if (k->deadline_ns < next)
			next = k->deadline_ns;
	}
	if (next == UINT64_MAX)
		return max_ms;
	next = (next - now + 999999) / 1000000;
	return max_ms >= 0 && (uint64_t)max_ms < next ? max_ms : (int)next;
}

int ais_async_run(struct ais_async *a, int timeout_ms)
{
	struct epoll_event ev[ASYNC_EVENTS];
	int n, i, wait, done;

	a->finished = 0;
	if (a->inflight == 0)
		timeout_ms = 0; /* nothing can finish */
	wait = check_deadlines(a, timeout_ms);
	if (a->finished > 0)
		wait = 0; /* GETs timed out already: report them now */
	sweep(a);
	for (size_t k = 0; k < a->n && wait != 0; k++)
		if (tls_more(a->conns[k]))
			wait = 0;
	n = epoll_wait(a->epfd, ev, ASYNC_EVENTS, wait);
	if (n < 0 && errno != EINTR)
		return -errno;
	for (i = 0; i < n; i++)
		on_readable(a, ev[i].data.ptr);
	for (size_t k = 0; k < a->n; k++)
		if (tls_more(a->conns[k]))
			on_readable(a, a->conns[k]);
	if (n == 0)
		(void)check_deadlines(a, 0);
	sweep(a);
	done = (int)a->finished;
	a->finished = 0;
	return done;
}

void ais_async_free(struct ais_async *a)
{
	size_t i;

	if (!a)
		return;
	a->closing = true;
	for (i = 0; i < a->n; i++) {
		struct aconn *k = a->conns[i];

		if (k->fd >= 0 && k->st != AC_IDLE) {
			snprintf(a->msg, sizeof(a->msg), "GET cancelled");
			finish(a, k, false, -ECANCELED, a->msg);
		}
	}
	close(a->epfd);
	for (i = 0; i < a->n; i++) {
		struct aconn *k = a->conns[i];

		if (k->fd >= 0)
			ais_pool_put(k->pool, k->fd);
		free(k->hbuf);
		free(k);
	}
	free(a->conns);
	free(a->rbuf);
	free(a);
}
