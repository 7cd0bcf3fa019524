/* Unit: daemon/cluster/raft_tls, libraft's transport over TLS, used as
 * libraft uses it (its streams read and written with libuv on one loop):
 * a node connects to another, which learns its id and address; 1 MiB goes
 * each way at once, bytes equal; a client with a certificate of another
 * CA, or with none, is refused (no accept, the connect fails) and logged;
 * plain TCP, garbage or silence, gets nothing and the listener serves a
 * node after it; closing a transport with connections open, a connect
 * pending and a handshake in progress cancels the connect, ends the
 * connections at the peer, and leaves no handle, thread or byte behind;
 * two real libraft instances elect a leader and commit an entry over it.
 * Every case ends with uv_loop_close() == 0: no libuv handle is left. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "fileio.h"
#include "tls.h"
#include "util.h"

#include "cluster/raft_tls.h"

static char dir[] = "/tmp/ais-test-raft-tls-XXXXXX";
static uv_loop_t loop;
static uv_timer_t ticker; /* keeps uv_run(ONCE) from sleeping long */

static const char *path(const char *name)
{
	static char buf[16][512];
	static int i;
	char *p = buf[i++ % 16];

	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

static uint64_t now_ms(void)
{
	return ais_now_mono_ns() / 1000000ULL;
}

/* Runs the loop until cond holds or ms pass; the caller asserts cond. */
#define RUN_UNTIL(cond, ms)                                                    \
	do {                                                                   \
		uint64_t dl_ = now_ms() + (ms);                                \
		while (!(cond) && now_ms() < dl_)                              \
			uv_run(&loop, UV_RUN_ONCE);                            \
	} while (0)

static void run_for(int ms)
{
	uint64_t dl = now_ms() + (uint64_t)ms;

	while (now_ms() < dl)
		uv_run(&loop, UV_RUN_ONCE);
}

static void tick(uv_timer_t *t)
{
	(void)t;
}

/* Outside a test case: failures are told and end the program. */
static void need(int rc, const char *what, const char *msg)
{
	if (rc == 0)
		return;
	fprintf(stderr, "test_raft_tls: %s: %s\n", what, msg);
	exit(1);
}

static void make_certs(void)
{
	char msg[AIS_ERRMSG_LEN] = "";
	const char *sans[] = {"127.0.0.1"};

	need(mkdtemp(dir) ? 0 : -errno, dir, strerror(errno));
	need(
	    ais_tls_make_ca(path("ca.pem"), path("ca.key"), "test CA", 30, msg),
	    "CA", msg);
	need(ais_tls_make_cert(path("ca.pem"), path("ca.key"), path("n1.pem"),
			       path("n1.key"), "node-1", sans, 1, 30, msg),
	     "node-1", msg);
	need(ais_tls_make_cert(path("ca.pem"), path("ca.key"), path("n2.pem"),
			       path("n2.key"), "node-2", sans, 1, 30, msg),
	     "node-2", msg);
	/* Another cluster's. */
	need(ais_tls_make_ca(path("oca.pem"), path("oca.key"), "other CA", 30,
			     msg),
	     "other CA", msg);
	need(ais_tls_make_cert(path("oca.pem"), path("oca.key"), path("o1.pem"),
			       path("o1.key"), "node-1", sans, 1, 30, msg),
	     "other node", msg);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	uv_timer_init(&loop, &ticker);
	uv_timer_start(&ticker, tick, 5, 5);
}

/* Every handle closed: the transport left none behind. */
static void teardown(void)
{
	uv_close((uv_handle_t *)&ticker, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static struct ais_tls *cfg(enum ais_tls_role role, const char *ca,
			   const char *cert, const char *key)
{
	struct ais_tls_files f = {path(ca), cert ? path(cert) : NULL,
				  key ? path(key) : NULL};
	struct ais_tls *t = NULL;
	char msg[AIS_ERRMSG_LEN];
	int rc = ais_tls_new(role, &f, &t, msg);

	ck_assert_msg(rc == 0, "ais_tls_new: %s", msg);
	return t;
}

/* A port nobody listens on now. */
static unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void free_handle(uv_handle_t *h)
{
	raft_free(h);
}

/* -- A transport, as libraft would drive it ------------------------------ */

struct node {
	struct raft_uv_transport t;
	struct ais_tls *server, *client;
	char addr[64];
	int accepts;
	raft_id peer_id;
	char peer_addr[256];
	uv_stream_t *in; /* the last stream accepted */
	bool closed;
};

static void on_accept(struct raft_uv_transport *t, raft_id id,
		      const char *address, uv_stream_t *s)
{
	struct node *n = t->data;

	n->accepts++;
	n->peer_id = id;
	snprintf(n->peer_addr, sizeof(n->peer_addr), "%s", address);
	if (n->in) /* one kept at a time */
		uv_close((uv_handle_t *)n->in, free_handle);
	n->in = s;
}

static void on_closed(struct raft_uv_transport *t)
{
	struct node *n = t->data;

	n->closed = true;
}

/* A node with cert/key (of ca) for both roles; listening if asked. */
static void node_start(struct node *n, raft_id id, const char *ca,
		       const char *cert, const char *key, bool listen)
{
	char msg[AIS_ERRMSG_LEN];

	memset(n, 0, sizeof(*n));
	/* A node without a certificate of its own for calls still needs
	 * one to listen. */
	n->server = cfg(AIS_TLS_SERVER, "ca.pem", cert ? cert : "n1.pem",
			key ? key : "n1.key");
	n->client = cfg(AIS_TLS_CLIENT, ca, cert, key);
	n->t.data = n;
	ck_assert_int_eq(raft_tls_init(&n->t, &loop, n->server, n->client, msg),
			 0);
	ck_assert_ptr_eq(n->t.data, n);
	snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%u", free_port());
	ck_assert_int_eq(n->t.init(&n->t, id, n->addr), 0);
	if (listen)
		ck_assert_int_eq(n->t.listen(&n->t, on_accept), 0);
}

static void node_stop(struct node *n)
{
	if (n->in)
		uv_close((uv_handle_t *)n->in, free_handle);
	n->in = NULL;
	n->t.close(&n->t, on_closed);
	RUN_UNTIL(n->closed, 5000);
	ck_assert(n->closed);
	raft_tls_close(&n->t);
	ais_tls_free(n->server);
	ais_tls_free(n->client);
}

struct dial {
	struct raft_uv_connect req;
	int calls;
	int status;
	uv_stream_t *s;
};

static void on_connect(struct raft_uv_connect *req, uv_stream_t *s, int status)
{
	struct dial *d = req->data;

	d->calls++;
	d->status = status;
	d->s = s;
}

static void dial(struct node *from, struct dial *d, raft_id id,
		 const char *addr)
{
	memset(d, 0, sizeof(*d));
	d->req.data = d;
	ck_assert_int_eq(
	    from->t.connect(&from->t, &d->req, id, addr, on_connect), 0);
}

/* -- Bytes through a stream ---------------------------------------------- */

struct io {
	uv_stream_t *s;
	uint8_t *got;
	size_t len, cap;
	bool eof;
	uv_write_t w;
	uint8_t *out;
	int wstatus; /* 1 until the write's callback */
};

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)h;
	(void)hint;
	b->base = malloc(65536);
	b->len = 65536;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct io *io = s->data;

	if (n > 0) {
		ck_assert_uint_le(io->len + (size_t)n, io->cap);
		memcpy(io->got + io->len, b->base, (size_t)n);
		io->len += (size_t)n;
	} else if (n < 0) {
		io->eof = true;
		uv_read_stop(s);
	}
	free(b->base);
}

static void write_cb(uv_write_t *w, int status)
{
	struct io *io = w->data;

	io->wstatus = status;
}

static uint8_t pattern(size_t i, unsigned seed)
{
	return (uint8_t)(i * 31 + seed + (i >> 11));
}

/* Starts reading up to cap bytes from s and writing len bytes of pattern
 * seed to it. */
static void io_start(struct io *io, uv_stream_t *s, size_t cap, size_t len,
		     unsigned seed)
{
	uv_buf_t b;

	memset(io, 0, sizeof(*io));
	io->s = s;
	s->data = io;
	io->cap = cap;
	io->got = malloc(cap ? cap : 1);
	ck_assert_int_eq(uv_read_start(s, alloc_cb, read_cb), 0);
	io->wstatus = 1;
	if (len == 0) {
		io->wstatus = 0;
		return;
	}
	io->out = malloc(len);
	for (size_t i = 0; i < len; i++)
		io->out[i] = pattern(i, seed);
	b = uv_buf_init((char *)io->out, (unsigned)len);
	io->w.data = io;
	ck_assert_int_eq(uv_write(&io->w, s, &b, 1, write_cb), 0);
}

static void io_check(struct io *io, size_t len, unsigned seed)
{
	ck_assert_uint_eq(io->len, len);
	for (size_t i = 0; i < len; i++)
		if (io->got[i] != pattern(i, seed))
			ck_abort_msg("byte %zu differs", i);
}

static void io_free(struct io *io)
{
	free(io->got);
	free(io->out);
}

#define MIB (1u << 20)

/* Node 2 connects to node 1: node 1 learns who; 1 MiB each way at once. */
START_TEST(test_connect_and_bytes)
{
	struct node a, b;
	struct dial d;
	struct io ia, ib;

	node_start(&a, 1, "ca.pem", "n1.pem", "n1.key", true);
	node_start(&b, 2, "ca.pem", "n2.pem", "n2.key", true);
	dial(&b, &d, 1, a.addr);
	RUN_UNTIL(d.calls && a.accepts, 5000);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.status, 0);
	ck_assert_ptr_nonnull(d.s);
	ck_assert_int_eq(a.accepts, 1);
	ck_assert_uint_eq(a.peer_id, 2);
	ck_assert_str_eq(a.peer_addr, b.addr);

	io_start(&ia, a.in, MIB, MIB, 1); /* node 1 -> node 2 */
	io_start(&ib, d.s, MIB, MIB, 2);  /* node 2 -> node 1 */
	RUN_UNTIL(ia.len == MIB && ib.len == MIB && ia.wstatus <= 0 &&
		      ib.wstatus <= 0,
		  20000);
	ck_assert_int_eq(ia.wstatus, 0);
	ck_assert_int_eq(ib.wstatus, 0);
	io_check(&ia, MIB, 2);
	io_check(&ib, MIB, 1);

	/* Node 2 hangs up: node 1 sees the end of its stream. */
	uv_close((uv_handle_t *)d.s, free_handle);
	RUN_UNTIL(ia.eof, 5000);
	ck_assert(ia.eof);
	ck_assert_uint_eq(ia.len, MIB);
	node_stop(&b);
	node_stop(&a);
	io_free(&ia);
	io_free(&ib);
}
END_TEST

/* stderr, into a file for the length of a case. */
static int saved_stderr = -1;

static void capture_stderr(void)
{
	int fd = open(path("stderr.log"), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static char *release_stderr(void)
{
	static char text[65536];
	int fd;
	ssize_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fd = open(path("stderr.log"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	return text;
}

/* Clients that are not nodes of this cluster: a certificate of another
 * CA, or none. Refused before libraft hears of them, and logged; the
 * listener then serves a node. */
START_TEST(test_not_a_node_refused)
{
	struct node a, other, nocert, b;
	struct dial d1, d2, d3;
	char *log;

	node_start(&a, 1, "ca.pem", "n1.pem", "n1.key", true);
	/* It trusts our CA (so the refusal is the listener's), and shows a
	 * certificate of its own CA. */
	node_start(&other, 7, "ca.pem", "o1.pem", "o1.key", false);
	node_start(&nocert, 8, "ca.pem", NULL, NULL, false);
	capture_stderr();
	dial(&other, &d1, 1, a.addr);
	dial(&nocert, &d2, 1, a.addr);
	RUN_UNTIL(d1.calls && d2.calls, 8000);
	run_for(200);
	log = release_stderr();
	ck_assert_int_eq(d1.calls, 1);
	ck_assert_int_eq(d1.status, RAFT_NOCONNECTION);
	ck_assert_ptr_null(d1.s);
	ck_assert_int_eq(d2.calls, 1);
	ck_assert_int_eq(d2.status, RAFT_NOCONNECTION);
	ck_assert_int_eq(a.accepts, 0);
	ck_assert_msg(strstr(log, "has no node certificate of this cluster; "
				  "closed"),
		      "log: %s", log);
	ck_assert_msg(strstr(log, "certificate verify failed"), "log: %s", log);

	/* A node still gets in. */
	node_start(&b, 2, "ca.pem", "n2.pem", "n2.key", false);
	dial(&b, &d3, 1, a.addr);
	RUN_UNTIL(d3.calls && a.accepts, 5000);
	ck_assert_int_eq(d3.status, 0);
	ck_assert_int_eq(a.accepts, 1);
	ck_assert_uint_eq(a.peer_id, 2);
	uv_close((uv_handle_t *)d3.s, free_handle);
	node_stop(&b);
	node_stop(&nocert);
	node_stop(&other);
	node_stop(&a);
}
END_TEST

/* A node that cannot verify the listener (its CA is another) fails its
 * connect too. */
START_TEST(test_server_of_other_ca)
{
	struct node a, b;
	struct dial d;

	node_start(&a, 1, "ca.pem", "n1.pem", "n1.key", true);
	node_start(&b, 2, "oca.pem", "o1.pem", "o1.key", false);
	dial(&b, &d, 1, a.addr);
	RUN_UNTIL(d.calls, 8000);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.status, RAFT_NOCONNECTION);
	ck_assert_int_eq(a.accepts, 0);
	/* Nobody there at all: a failed connect as well. */
	dial(&b, &d, 3, "127.0.0.1:1");
	RUN_UNTIL(d.calls, 5000);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.status, RAFT_NOCONNECTION);
	node_stop(&b);
	node_stop(&a);
}
END_TEST

struct plain {
	unsigned port;
	bool garbage; /* else silent */
	size_t got;
	uint8_t first;
	bool eof;
	uint64_t ms; /* until the end */
	atomic_bool done;
};

/* A plain TCP client: sends garbage (or nothing) and reads what comes
 * back until the listener closes. */
static void *plain_client(void *arg)
{
	struct plain *p = arg;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)p->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	uint64_t t0 = now_ms();
	uint8_t buf[4096];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		if (p->garbage) {
			static const char junk[] =
			    "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
			    "\x16\x03\x01\xff\xff garbage \x00\x01\x02";
			for (int i = 0; i < 64; i++)
				send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
		}
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			if (p->got == 0)
				p->first = buf[0];
			p->got += (size_t)n;
		}
		p->eof = n == 0 || errno == ECONNRESET;
	}
	close(fd);
	p->ms = now_ms() - t0;
	atomic_store(&p->done, true);
	return NULL;
}

/* Plain TCP gets nothing (at most a TLS alert) and is closed: garbage at
 * once, silence after the handshake's timeout. The listener serves a node
 * afterwards. */
START_TEST(test_plain_tcp)
{
	struct node a, b;
	struct plain g = {0}, s = {0};
	pthread_t tg, ts;
	struct dial d;
	unsigned port;

	node_start(&a, 1, "ca.pem", "n1.pem", "n1.key", true);
	port = (unsigned)atoi(strchr(a.addr, ':') + 1);
	g.port = s.port = port;
	g.garbage = true;
	capture_stderr();
	pthread_create(&tg, NULL, plain_client, &g);
	pthread_create(&ts, NULL, plain_client, &s);
	RUN_UNTIL(atomic_load(&g.done) && atomic_load(&s.done), 12000);
	pthread_join(tg, NULL);
	pthread_join(ts, NULL);
	release_stderr();
	ck_assert(g.eof);
	ck_assert_msg(g.got == 0 || (g.got == 7 && g.first == 0x15),
		      "garbage got %zu bytes back", g.got);
	ck_assert_uint_lt(g.ms, 3000);
	ck_assert(s.eof);
	ck_assert_uint_eq(s.got, 0);
	ck_assert_uint_ge(s.ms, 4000); /* the handshake's 5 s */
	ck_assert_uint_lt(s.ms, 9000);
	ck_assert_int_eq(a.accepts, 0);

	node_start(&b, 2, "ca.pem", "n2.pem", "n2.key", false);
	dial(&b, &d, 1, a.addr);
	RUN_UNTIL(d.calls && a.accepts, 5000);
	ck_assert_int_eq(d.status, 0);
	ck_assert_int_eq(a.accepts, 1);
	uv_close((uv_handle_t *)d.s, free_handle);
	node_stop(&b);
	node_stop(&a);
}
END_TEST

/* Closing a transport with everything in flight: connections both ways
 * with bytes moving, a connect stuck in its handshake (a port that never
 * accepts), a stranger's handshake in progress. The close is quick, the
 * connect is canceled once, the peer sees its connections end. ASan (and
 * uv_loop_close in teardown) check that nothing is left. */
START_TEST(test_close_busy)
{
	struct node a, b;
	struct dial ab, ba, stuck;
	struct io i_ab, i_ba;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	char hole[64];
	int lfd, cfd;
	uint64_t t0;

	node_start(&a, 1, "ca.pem", "n1.pem", "n1.key", true);
	node_start(&b, 2, "ca.pem", "n2.pem", "n2.key", true);
	dial(&a, &ab, 2, b.addr);
	dial(&b, &ba, 1, a.addr);
	RUN_UNTIL(ab.calls && ba.calls && a.accepts && b.accepts, 5000);
	ck_assert_int_eq(ab.status, 0);
	ck_assert_int_eq(ba.status, 0);
	/* Bytes from A to B: into A's dialed stream, out of B's accepted
	 * one. */
	io_start(&i_ab, ab.s, 0, 4 * MIB, 3); /* A writes to B */
	io_start(&i_ba, b.in, 4 * MIB, 0, 0); /* B reads it */

	/* A socket that listens and never accepts: the TCP connect works,
	 * the TLS handshake waits. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(hole, sizeof(hole), "127.0.0.1:%u", ntohs(sa.sin_port));
	dial(&a, &stuck, 9, hole);
	/* A stranger connected to A, silent. */
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = htons((uint16_t)atoi(strchr(a.addr, ':') + 1));
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	run_for(300);
	ck_assert_int_eq(stuck.calls, 0);
	ck_assert(i_ba.len > 0); /* bytes are moving */

	t0 = now_ms();
	/* As libraft does: streams first (not all: the one A accepted stays
	 * open, the transport must cope), then the transport. */
	uv_close((uv_handle_t *)ba.s, free_handle);
	a.t.close(&a.t, on_closed);
	RUN_UNTIL(a.closed, 5000);
	ck_assert(a.closed);
	ck_assert_uint_lt(now_ms() - t0, 1500);
	ck_assert_int_eq(stuck.calls, 1);
	ck_assert_int_eq(stuck.status, RAFT_CANCELED);
	ck_assert_ptr_null(stuck.s);
	/* B sees the connection from A end. */
	RUN_UNTIL(i_ba.eof, 5000);
	ck_assert(i_ba.eof);
	ck_assert_uint_le(i_ba.len, 4 * MIB);
	for (size_t i = 0; i < i_ba.len; i++)
		if (i_ba.got[i] != pattern(i, 3))
			ck_abort_msg("byte %zu differs", i);
	/* A's streams are the user's to close, after the transport too. */
	uv_close((uv_handle_t *)ab.s, free_handle);
	raft_tls_close(&a.t);
	ais_tls_free(a.server);
	ais_tls_free(a.client);
	if (a.in)
		uv_close((uv_handle_t *)a.in, free_handle);
	node_stop(&b);
	close(cfd);
	close(lfd);
	io_free(&i_ab);
	io_free(&i_ba);
}
END_TEST

/* A transport closed before it ever listened or connected. */
START_TEST(test_close_idle)
{
	struct node a;

	node_start(&a, 1, "ca.pem", "n1.pem", "n1.key", false);
	node_stop(&a);
	/* And one never started by libraft at all. */
	node_start(&a, 1, "ca.pem", "n1.pem", "n1.key", false);
	raft_tls_close(&a.t);
	ais_tls_free(a.server);
	ais_tls_free(a.client);
}
END_TEST

/* -- Real libraft -------------------------------------------------------- */

struct rnode {
	struct node n;
	struct raft_io io;
	struct raft raft;
	struct raft_fsm fsm;
	char dir[512];
	int applied;
	uint64_t value;
	bool closed;
};

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct rnode *r = fsm->data;
	const uint8_t *p = buf->base;

	ck_assert_uint_eq(buf->len, 8);
	r->value = 0;
	for (int i = 7; i >= 0; i--)
		r->value = (r->value << 8) | p[i];
	r->applied++;
	*result = NULL;
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
			unsigned *n)
{
	struct rnode *r = fsm->data;

	*bufs = raft_malloc(sizeof(**bufs));
	(*bufs)[0].base = raft_malloc(8);
	(*bufs)[0].len = 8;
	memcpy((*bufs)[0].base, &r->value, 8);
	*n = 1;
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct rnode *r = fsm->data;

	memcpy(&r->value, buf->base, 8);
	raft_free(buf->base);
	return 0;
}

static void rnode_start(struct rnode *r, raft_id id, const char *cert,
			const char *key, const struct raft_configuration *conf,
			const char *addr)
{
	char msg[AIS_ERRMSG_LEN];

	memset(r, 0, sizeof(*r));
	r->n.server = cfg(AIS_TLS_SERVER, "ca.pem", cert, key);
	r->n.client = cfg(AIS_TLS_CLIENT, "ca.pem", cert, key);
	ck_assert_int_eq(
	    raft_tls_init(&r->n.t, &loop, r->n.server, r->n.client, msg), 0);
	snprintf(r->n.addr, sizeof(r->n.addr), "%s", addr);
	snprintf(r->dir, sizeof(r->dir), "%s/raft-%llu", dir,
		 (unsigned long long)id);
	ck_assert_int_eq(mkdir(r->dir, 0700), 0);
	ck_assert_int_eq(raft_uv_init(&r->io, &loop, r->dir, &r->n.t), 0);
	r->fsm.version = 1;
	r->fsm.data = r;
	r->fsm.apply = fsm_apply;
	r->fsm.snapshot = fsm_snapshot;
	r->fsm.restore = fsm_restore;
	ck_assert_int_eq(raft_init(&r->raft, &r->io, &r->fsm, id, addr), 0);
	r->raft.data = r;
	raft_set_election_timeout(&r->raft, 300);
	raft_set_heartbeat_timeout(&r->raft, 50);
	ck_assert_int_eq(raft_bootstrap(&r->raft, conf), 0);
	ck_assert_int_eq(raft_start(&r->raft), 0);
}

static void rnode_closed(struct raft *raft)
{
	struct rnode *r = raft->data;

	raft_uv_close(&r->io);
	raft_tls_close(&r->n.t);
	r->closed = true;
}

struct apply {
	struct raft_apply req;
	int calls;
	int status;
};

static void on_applied(struct raft_apply *req, int status, void *result)
{
	struct apply *a = req->data;

	(void)result;
	a->calls++;
	a->status = status;
}

/* Two libraft nodes, both voters, over this transport: a leader, and an
 * entry committed (which takes both) and applied on both. */
START_TEST(test_raft)
{
	static struct rnode r1, r2;
	struct raft_configuration conf;
	struct raft_buffer buf;
	struct apply ap = {0};
	struct rnode *leader;
	char a1[64], a2[64];
	uint64_t v = 0x0123456789abcdefULL;

	snprintf(a1, sizeof(a1), "127.0.0.1:%u", free_port());
	snprintf(a2, sizeof(a2), "127.0.0.1:%u", free_port());
	raft_configuration_init(&conf);
	ck_assert_int_eq(raft_configuration_add(&conf, 1, a1, RAFT_VOTER), 0);
	ck_assert_int_eq(raft_configuration_add(&conf, 2, a2, RAFT_VOTER), 0);
	rnode_start(&r1, 1, "n1.pem", "n1.key", &conf, a1);
	rnode_start(&r2, 2, "n2.pem", "n2.key", &conf, a2);
	raft_configuration_close(&conf);

	RUN_UNTIL(raft_state(&r1.raft) == RAFT_LEADER ||
		      raft_state(&r2.raft) == RAFT_LEADER,
		  15000);
	leader = raft_state(&r1.raft) == RAFT_LEADER ? &r1 : &r2;
	ck_assert_int_eq(raft_state(&leader->raft), RAFT_LEADER);

	buf.len = 8;
	buf.base = raft_malloc(8);
	for (int i = 0; i < 8; i++)
		((uint8_t *)buf.base)[i] = (uint8_t)(v >> (8 * i));
	ap.req.data = &ap;
	ck_assert_int_eq(
	    raft_apply(&leader->raft, &ap.req, &buf, 1, on_applied), 0);
	RUN_UNTIL(ap.calls && r1.applied && r2.applied, 10000);
	ck_assert_int_eq(ap.calls, 1);
	ck_assert_int_eq(ap.status, 0);
	ck_assert_int_eq(r1.applied, 1);
	ck_assert_int_eq(r2.applied, 1);
	ck_assert_uint_eq(r1.value, v);
	ck_assert_uint_eq(r2.value, v);

	raft_close(&r1.raft, rnode_closed);
	raft_close(&r2.raft, rnode_closed);
	RUN_UNTIL(r1.closed && r2.closed, 10000);
	ck_assert(r1.closed && r2.closed);
	ais_tls_free(r1.n.server);
	ais_tls_free(r1.n.client);
	ais_tls_free(r2.n.server);
	ais_tls_free(r2.n.client);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("raft_tls");
	TCase *tc = tcase_create("raft_tls");
	SRunner *sr;
	int failed;

	make_certs();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_connect_and_bytes);
	tcase_add_test(tc, test_not_a_node_refused);
	tcase_add_test(tc, test_server_of_other_ca);
	tcase_add_test(tc, test_plain_tcp);
	tcase_add_test(tc, test_close_busy);
	tcase_add_test(tc, test_close_idle);
	tcase_add_test(tc, test_raft);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	ais_rm_rf(dir);
	return failed ? 1 : 0;
}
