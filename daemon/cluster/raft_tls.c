/* libraft's transport over TLS 1.3: each Raft connection is a TCP socket
 * with a TLS session, proxied by a thread to a socketpair whose other end
 * libraft uses as a uv_pipe_t (raft_tls.h says why).
 *
 * Threads and the loop. libraft calls listen, connect and close on its
 * loop's thread, and every libuv handle (the listener's uv_poll_t, the
 * uv_async_t, the pipes handed to libraft) is touched on that thread only.
 * A link is one connection: the loop makes it (accept4 on the listener,
 * or a connect request) and starts its thread; the thread sets the TCP
 * connection up (connect, TLS handshake, the Raft hello), then says so
 * (ready) and proxies the bytes until either side ends, then says that
 * (exited). Either news is a flag under the transport's lock and a
 * uv_async_send; the loop then scans the links: it hands a ready link's
 * stream to libraft, and joins and frees an exited one. A thread closes
 * no descriptor: the loop does, after the join, so that close() can
 * shutdown(2) the sockets of running threads without racing a reuse.
 *
 * On the wire, inside TLS, after the handshake:
 *   connecting side: its raft id (uint64 LE), the length of its address
 *                    (uint16 LE, 1..255) and the address;
 *   accepting side:  one byte, HELLO_OK, once it took the hello.
 * The answer is there because with TLS 1.3 a client's handshake ends
 * before the server has looked at the client's certificate: without it, a
 * node refused for its certificate would see its connect succeed and its
 * messages vanish. With it, libraft's connect fails and is retried (and
 * logged) as for a node that is down. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "map.h"
#include "util.h"

#include "cluster/raft_tls.h"

#define HANDSHAKE_MS  5000  /* TLS handshake, hello and answer, each side */
#define CONNECT_MS    2000  /* TCP connect */
#define STALL_MS      30000 /* ciphertext the peer does not take: dead */
#define MAX_ACCEPTING 64    /* handshakes of unknown peers at once */
#define ADDRESS_MAX   255   /* a Raft address in the hello */
#define HELLO_OK      0x01
#define IO_BUF	      16384
#define WARN_EVERY_NS (60ULL * 1000000000ULL)
#define WARN_LEN      (AIS_ERRMSG_LEN + ADDRESS_MAX + 64)

enum link_kind { LINK_ACCEPT, LINK_CONNECT };

struct tr;

/* One Raft connection and its thread. */
struct link {
	struct tr *tr;
	struct link *next; /* in tr->links (the loop's) */
	enum link_kind kind;
	pthread_t thr;
	struct ais_tls_conn *tls;
	int pair[2]; /* [0] libraft's end until handed over, [1] the proxy's */
	/* The TCP socket: set before the thread starts (accept), or by the
	 * thread under tr->mu once it exists (connect), so that close can
	 * shut it down. */
	int tcp;
	/* Under tr->mu: set by the thread, read by the loop. */
	bool ready;  /* the connection is set up; pair[] made */
	int status;  /* with ready, for a connect: 0 or RAFT_NOCONNECTION */
	bool exited; /* the thread has nothing more to do */
	/* The loop's. */
	bool delivered; /* libraft was told (stream, status or cancel) */
	struct raft_uv_connect *req; /* connect */
	/* connect: the peer to call; accept: the peer's hello. */
	raft_id id;
	char address[ADDRESS_MAX + 1];
	char peer[INET6_ADDRSTRLEN + 8]; /* accept: "ip:port", for logs */
};

/* The transport (t->impl). */
struct tr {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	struct ais_tls *server, *client; /* borrowed */
	raft_id id;
	char *address;	    /* this node's, from init */
	char *bind_address; /* NULL: listen on address */
	raft_uv_accept_cb accept_cb;
	int lfd;	  /* the listening socket, or -1 */
	uv_poll_t poll;	  /* on lfd */
	bool polling;	  /* poll is initialized and its close cb to come */
	uv_async_t async; /* the threads' news */
	bool async_on;	  /* async initialized and its close cb to come */
	int stop_fd;	  /* eventfd, readable once close began */
	struct link *links;
	bool closing;
	raft_uv_transport_close_cb close_cb;
	pthread_mutex_t mu;  /* the links' thread flags, stopping, warn */
	bool stopping;	     /* close began: threads end, quietly */
	char warn[WARN_LEN]; /* the last connect failure warned of */
	uint64_t warn_ns;
};

static void on_async(uv_async_t *a);

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t now_ms(void)
{
	return ais_now_mono_ns() / 1000000ULL;
}

/* Every Raft socket: no Nagle delay (the proxy writes what libraft wrote
 * as it comes), and keepalives: an accepting side only reads, so without
 * them a peer that vanished would keep its thread here for good. */
static void tune_socket(int fd)
{
	int one = 1, idle = 30, intvl = 10, cnt = 3;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static bool stopping(struct tr *tr)
{
	bool s;

	pthread_mutex_lock(&tr->mu);
	s = tr->stopping;
	pthread_mutex_unlock(&tr->mu);
	return s;
}

/* -- The threads ---------------------------------------------------------- */

/* Tells the loop that l is ready (status for a connect) and/or exited. */
static void post(struct link *l, bool ready, int status, bool exited)
{
	struct tr *tr = l->tr;

	pthread_mutex_lock(&tr->mu);
	if (ready) {
		l->ready = true;
		l->status = status;
	}
	if (exited)
		l->exited = true;
	pthread_mutex_unlock(&tr->mu);
	/* The loop joins l only after exited, and closes the async handle
	 * only when every link is joined: tr->async is alive here. */
	uv_async_send(&tr->async);
}

/* A failure to reach a peer, for the log: once a minute at WARNING for the
 * same message (libraft retries every second), else at DEBUG. */
static void warn_connect(struct tr *tr, const char *msg)
{
	uint64_t now = ais_now_mono_ns();
	bool loud;

	pthread_mutex_lock(&tr->mu);
	loud = !tr->stopping && (strcmp(tr->warn, msg) != 0 ||
				 now - tr->warn_ns >= WARN_EVERY_NS);
	if (loud) {
		snprintf(tr->warn, sizeof(tr->warn), "%s", msg);
		tr->warn_ns = now;
	}
	pthread_mutex_unlock(&tr->mu);
	ais_log(loud ? LOG_WARNING : LOG_DEBUG, "%s", msg);
}

/* Reads exactly n bytes of plaintext before deadline (monotonic ms). */
static int recv_full(struct link *l, void *buf, size_t n, uint64_t deadline)
{
	uint8_t *p = buf;

	while (n > 0) {
		uint64_t now = now_ms();
		ssize_t r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = ais_tls_recv(l->tls, l->tcp, p, n, (int)(deadline - now));
		if (r < 0)
			return (int)r;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Moves bytes between the TLS connection and libraft's pipe until either
 * side ends or the transport closes. Both directions go at once, without
 * blocking on either: a thread blocked sending to a peer that is itself
 * blocked sending to us would wait forever. Back-pressure: the pipe is read
 * only when the session has no ciphertext left to send (the socket's
 * buffer is the queue), and the socket only when the session has no whole
 * record left to decrypt and its plaintext went to the pipe. */
static void pump(struct link *l)
{
	struct tr *tr = l->tr;
	uint8_t up[IO_BUF], down[IO_BUF], raw[IO_BUF];
	size_t down_off = 0, down_len = 0, out;
	bool need_tcp = false, tcp_hup = false;
	uint64_t stalled_since = 0;
	char errmsg[AIS_ERRMSG_LEN];
	const uint8_t *p;
	struct pollfd pf[3];
	ssize_t n;

	for (;;) {
		if (down_len == 0 && !need_tcp) {
			n = ais_tls_conn_read(l->tls, down, sizeof(down),
					      errmsg);
			if (n < 0) {
				if (n != -ECONNRESET)
					ais_log(LOG_INFO, "raft: %s: %s",
						l->address, errmsg);
				return;
			}
			if (n == 0)
				need_tcp = true;
			down_off = 0;
			down_len = (size_t)n;
		}
		if (down_len > 0) {
			n = send(l->pair[1], down + down_off, down_len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return; /* libraft closed its end */
			if (n > 0) {
				down_off += (size_t)n;
				down_len -= (size_t)n;
				if (down_len == 0)
					continue;
			}
		}
		out = ais_tls_conn_out(l->tls, &p);
		if (out > 0) {
			n = send(l->tcp, p, out, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return;
			if (n > 0) {
				ais_tls_conn_out_done(l->tls, (size_t)n);
				stalled_since = 0;
				out = ais_tls_conn_out(l->tls, &p);
			}
		}
		if (out > 0 && stalled_since == 0)
			stalled_since = now_ms();
		if (out > 0 && now_ms() - stalled_since >= STALL_MS) {
			ais_log(LOG_INFO,
				"raft: %s: took nothing for %d s; closed",
				l->address, STALL_MS / 1000);
			return;
		}

		pf[0] = (struct pollfd){tr->stop_fd, POLLIN, 0};
		pf[1] = (struct pollfd){l->tcp, 0, 0};
		if (need_tcp)
			pf[1].events |= POLLIN;
		if (out > 0)
			pf[1].events |= POLLOUT;
		/* A hung-up socket we do not read yet would wake poll again
		 * and again: leave it out until there is a reason to use it
		 * (its read or send then fails). */
		if (pf[1].events == 0 && tcp_hup)
			pf[1].fd = -1;
		pf[2] = (struct pollfd){l->pair[1], 0, 0};
		if (out == 0)
			pf[2].events |= POLLIN;
		if (down_len > 0)
			pf[2].events |= POLLOUT;
		if (poll(pf, 3, out > 0 ? 1000 : -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pf[0].revents)
			return;
		if ((pf[1].revents & (POLLHUP | POLLERR)) && !need_tcp)
			tcp_hup = true;
		if (need_tcp &&
		    (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = recv(l->tcp, raw, sizeof(raw), MSG_DONTWAIT);
			if (n == 0)
				return; /* the peer closed */
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return;
			if (n > 0) {
				if (ais_tls_conn_feed(l->tls, raw, (size_t)n))
					return;
				need_tcp = false;
			}
		}
		if (pf[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(l->pair[1], up, sizeof(up), MSG_DONTWAIT);
			if (n == 0) {
				/* libraft closed the stream: what it wrote
				 * before goes out, if the peer takes it. */
				ais_tls_flush(l->tls, l->tcp, 1000);
				return;
			}
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return;
			if (n > 0 &&
			    ais_tls_conn_write(l->tls, up, (size_t)n, errmsg)) {
				ais_log(LOG_INFO, "raft: %s: %s", l->address,
					errmsg);
				return;
			}
		}
	}
}

/* After the pump: both ends see the connection end. */
static void hang_up(struct link *l)
{
	shutdown(l->tcp, SHUT_RDWR);
	shutdown(l->pair[1], SHUT_RDWR);
}

/* The socketpair, set under the lock: close() may shut it down. */
static int make_pair(struct link *l)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pthread_mutex_lock(&l->tr->mu);
	l->pair[0] = sv[0];
	l->pair[1] = sv[1];
	pthread_mutex_unlock(&l->tr->mu);
	return 0;
}

/* The accepting side: TLS, the peer's certificate, its hello; then the
 * proxy. */
static void *accept_main(void *arg)
{
	struct link *l = arg;
	struct tr *tr = l->tr;
	char errmsg[AIS_ERRMSG_LEN];
	uint8_t head[10], ok = HELLO_OK;
	uint64_t deadline;
	size_t len;
	int rc;

	rc = ais_tls_handshake_fd(l->tls, l->tcp, HANDSHAKE_MS, errmsg);
	if (rc) {
		if (!stopping(tr))
			ais_log(LOG_NOTICE, "raft: %s: %s; closed", l->peer,
				errmsg);
		goto out;
	}
	if (!ais_tls_conn_peer_is_node(l->tls)) {
		ais_log(LOG_NOTICE,
			"raft: %s has no node certificate of this cluster; "
			"closed",
			l->peer);
		goto out;
	}
	deadline = now_ms() + HANDSHAKE_MS;
	rc = recv_full(l, head, sizeof(head), deadline);
	len = (size_t)get_le(head + 8, 2);
	if (rc == 0 && (len == 0 || len > ADDRESS_MAX))
		rc = -EPROTO;
	if (rc == 0)
		rc = recv_full(l, l->address, len, deadline);
	if (rc == 0) {
		l->address[len] = 0;
		l->id = get_le(head, 8);
		if (l->id == 0 || strlen(l->address) != len)
			rc = -EPROTO;
	}
	if (rc) {
		if (!stopping(tr))
			ais_log(LOG_NOTICE,
				"raft: %s: no Raft hello (%s); closed", l->peer,
				rc == -EPROTO ? "a malformed one"
					      : strerror(-rc));
		goto out;
	}
	rc = make_pair(l);
	if (rc) {
		ais_log(LOG_WARNING, "raft: %s: socketpair: %s; closed",
			l->peer, strerror(-rc));
		goto out;
	}
	rc = ais_tls_send(l->tls, l->tcp, &ok, 1, HANDSHAKE_MS);
	if (rc)
		goto out;
	ais_log(LOG_DEBUG, "raft: %s is node %llu (%s)", l->peer,
		(unsigned long long)l->id, l->address);
	post(l, true, 0, false);
	pump(l);
out:
	hang_up(l);
	post(l, false, 0, true);
	return NULL;
}

/* A non-blocking TCP connect to l->address, waiting up to CONNECT_MS (and
 * not past the transport's close). 0, with l->tcp, or -errno with errmsg. */
static int tcp_connect(struct link *l, char *errmsg)
{
	struct tr *tr = l->tr;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai;
	char host[AIS_HOST_MAX], port[8];
	struct pollfd pf[2];
	socklen_t sl;
	uint16_t pt;
	int fd, rc, err;

	if (ais_parse_hostport(l->address, host, sizeof(host), &pt))
		return ais_errf(errmsg, -EINVAL, "bad address %s", l->address);
	snprintf(port, sizeof(port), "%u", pt);
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc)
		return ais_errf(errmsg, -EHOSTUNREACH, "%s: %s", host,
				gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		rc = -errno;
		freeaddrinfo(ai);
		return ais_errf(errmsg, rc, "socket: %s", strerror(-rc));
	}
	pthread_mutex_lock(&tr->mu);
	l->tcp = fd;
	pthread_mutex_unlock(&tr->mu);
	tune_socket(fd);
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc < 0 && errno != EINPROGRESS)
		return ais_errf(errmsg, -errno, "connect: %s", strerror(errno));
	if (rc < 0) {
		pf[0] = (struct pollfd){fd, POLLOUT, 0};
		pf[1] = (struct pollfd){tr->stop_fd, POLLIN, 0};
		do {
			rc = poll(pf, 2, CONNECT_MS);
		} while (rc < 0 && errno == EINTR);
		if (rc == 0)
			return ais_errf(errmsg, -ETIMEDOUT,
					"connect: no answer in %d ms",
					CONNECT_MS);
		if (rc < 0 || pf[1].revents)
			return ais_errf(errmsg, -ECANCELED, "connect: closing");
		sl = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = errno;
		if (err)
			return ais_errf(errmsg, -err, "connect: %s",
					strerror(err));
	}
	return 0;
}

/* The connecting side: TCP, TLS, the server's certificate, the hello and
 * its answer; then the proxy. */
static void *connect_main(void *arg)
{
	struct link *l = arg;
	struct tr *tr = l->tr;
	char errmsg[AIS_ERRMSG_LEN], msg[WARN_LEN];
	uint8_t hello[10 + ADDRESS_MAX], ok;
	size_t len = strlen(tr->address);
	int rc;

	rc = tcp_connect(l, errmsg);
	if (rc) {
		ais_log(LOG_DEBUG, "raft: node %llu at %s: %s",
			(unsigned long long)l->id, l->address, errmsg);
		goto fail;
	}
	rc = ais_tls_handshake_fd(l->tls, l->tcp, HANDSHAKE_MS, errmsg);
	if (rc == 0 && !ais_tls_conn_peer_is_node(l->tls)) {
		rc = -EACCES;
		snprintf(errmsg, sizeof(errmsg),
			 "no node certificate of this cluster");
	}
	if (rc == 0) {
		put_le(hello, tr->id, 8);
		put_le(hello + 8, len, 2);
		memcpy(hello + 10, tr->address, len);
		rc =
		    ais_tls_send(l->tls, l->tcp, hello, 10 + len, HANDSHAKE_MS);
		if (rc == 0)
			rc = recv_full(l, &ok, 1, now_ms() + HANDSHAKE_MS);
		if (rc == 0 && ok != HELLO_OK)
			rc = -EPROTO;
		if (rc)
			snprintf(errmsg, sizeof(errmsg),
				 "refused after the TLS handshake (%s): does "
				 "it take this node's certificate?",
				 strerror(-rc));
	}
	if (rc) {
		snprintf(msg, sizeof(msg), "raft: node %llu at %s: %s",
			 (unsigned long long)l->id, l->address, errmsg);
		if (rc == -ETIMEDOUT || rc == -ECONNRESET)
			ais_log(LOG_DEBUG, "%s", msg);
		else
			warn_connect(tr, msg);
		goto fail;
	}
	rc = make_pair(l);
	if (rc) {
		ais_log(LOG_WARNING, "raft: socketpair: %s", strerror(-rc));
		goto fail;
	}
	post(l, true, 0, false);
	pump(l);
	hang_up(l);
	post(l, false, 0, true);
	return NULL;
fail:
	if (l->tcp >= 0)
		shutdown(l->tcp, SHUT_RDWR);
	post(l, true, RAFT_NOCONNECTION, true);
	return NULL;
}

/* -- The loop's side ------------------------------------------------------ */

static struct link *link_new(struct tr *tr, enum link_kind kind,
			     struct ais_tls *cfg)
{
	struct link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->tls = ais_tls_conn_new(cfg);
	if (!l->tls) {
		free(l);
		return NULL;
	}
	l->tr = tr;
	l->kind = kind;
	l->tcp = -1;
	l->pair[0] = l->pair[1] = -1;
	return l;
}

static void link_free(struct link *l)
{
	if (l->tcp >= 0)
		close(l->tcp);
	if (l->pair[0] >= 0)
		close(l->pair[0]);
	if (l->pair[1] >= 0)
		close(l->pair[1]);
	ais_tls_conn_free(l->tls);
	free(l);
}

/* Starts l's thread with every signal blocked (signals are the main
 * thread's business) and puts l on the list. 0 or -errno (l untouched). */
static int link_start(struct tr *tr, struct link *l, void *(*fn)(void *))
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->thr, NULL, fn, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	l->next = tr->links;
	tr->links = l;
	return 0;
}

static void free_handle(uv_handle_t *h)
{
	raft_free(h);
}

/* libraft's end of l as a stream on the loop, or NULL (the fd stays l's). */
static uv_stream_t *pipe_of(struct tr *tr, struct link *l)
{
	uv_pipe_t *p = raft_malloc(sizeof(*p));

	if (!p)
		return NULL;
	if (uv_pipe_init(tr->loop, p, 0)) {
		raft_free(p);
		return NULL;
	}
	if (uv_pipe_open(p, l->pair[0])) {
		uv_close((uv_handle_t *)p, free_handle);
		return NULL;
	}
	l->pair[0] = -1; /* the pipe's: libraft closes it */
	return (uv_stream_t *)p;
}

/* Tells libraft about l, once: its stream, a failed or canceled connect.
 * A stream libraft does not get is closed here (the proxy then ends). */
static void deliver(struct tr *tr, struct link *l, int status)
{
	uv_stream_t *s = NULL;
	struct raft_uv_connect *req = l->req;

	l->delivered = true;
	if (tr->closing)
		status = RAFT_CANCELED;
	if (status == 0) {
		s = pipe_of(tr, l);
		if (!s)
			status = RAFT_NOCONNECTION;
	}
	if (!s && l->pair[0] >= 0) {
		close(l->pair[0]);
		l->pair[0] = -1;
	}
	if (l->kind == LINK_CONNECT)
		req->cb(req, s, status);
	else if (s)
		tr->accept_cb(tr->t, l->id, l->address, s);
}

static void maybe_closed(struct tr *tr);

/* Tells libraft what l's thread has news of, if anything. */
static void tell(struct tr *tr, struct link *l)
{
	bool ready;
	int status;

	if (l->delivered)
		return;
	pthread_mutex_lock(&tr->mu);
	ready = l->ready;
	status = l->status;
	pthread_mutex_unlock(&tr->mu);
	/* A connect canceled by close is answered now, not when its thread
	 * is done. */
	if (ready || (tr->closing && l->kind == LINK_CONNECT))
		deliver(tr, l, status);
}

/* The threads' news: streams for libraft, threads to join. libraft's
 * callbacks may call connect (a new link at the head of the list), so the
 * ended links leave the list before any callback runs. */
static void scan(struct tr *tr)
{
	struct link **pp = &tr->links, *l, *next, *dead = NULL;
	bool exited;

	while ((l = *pp) != NULL) {
		pthread_mutex_lock(&tr->mu);
		exited = l->exited;
		pthread_mutex_unlock(&tr->mu);
		if (exited) {
			*pp = l->next;
			l->next = dead;
			dead = l;
		} else {
			pp = &l->next;
		}
	}
	for (l = tr->links; l; l = next) {
		next = l->next;
		tell(tr, l);
	}
	for (l = dead; l; l = next) {
		next = l->next;
		tell(tr, l);
		if (!l->delivered && l->kind == LINK_CONNECT)
			deliver(tr, l, RAFT_NOCONNECTION);
		pthread_join(l->thr, NULL);
		link_free(l);
	}
	if (tr->closing)
		maybe_closed(tr);
}

static void on_async(uv_async_t *a)
{
	scan(a->data);
}

static void on_async_closed(uv_handle_t *h)
{
	struct tr *tr = h->data;

	tr->async_on = false;
	tr->close_cb(tr->t);
}

/* The close callback, once nothing of the transport is left running. */
static void maybe_closed(struct tr *tr)
{
	if (tr->links || tr->polling || !tr->async_on ||
	    uv_is_closing((uv_handle_t *)&tr->async))
		return;
	uv_close((uv_handle_t *)&tr->async, on_async_closed);
}

static int async_start(struct tr *tr)
{
	int rc;

	if (tr->async_on)
		return 0;
	tr->async.data = tr;
	rc = uv_async_init(tr->loop, &tr->async, on_async);
	if (rc)
		return rc;
	tr->async_on = true;
	return 0;
}

static void format_peer(const struct sockaddr_storage *ss, char *out,
			size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

static unsigned count_accepting(struct tr *tr)
{
	unsigned n = 0;

	for (struct link *l = tr->links; l; l = l->next)
		n += l->kind == LINK_ACCEPT && !l->delivered;
	return n;
}

static void on_acceptable(uv_poll_t *h, int status, int events)
{
	struct tr *tr = h->data;
	struct sockaddr_storage ss;
	char peer[INET6_ADDRSTRLEN + 8];
	struct link *l;
	socklen_t sl;
	int fd, rc;

	(void)status;
	(void)events;
	while (!tr->closing) {
		sl = sizeof(ss);
		fd = accept4(tr->lfd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				ais_log(LOG_WARNING, "raft: accept: %s",
					strerror(errno));
			return;
		}
		format_peer(&ss, peer, sizeof(peer));
		if (count_accepting(tr) >= MAX_ACCEPTING) {
			ais_log(LOG_NOTICE,
				"raft: %s: %d handshakes in progress "
				"already; closed",
				peer, MAX_ACCEPTING);
			close(fd);
			continue;
		}
		tune_socket(fd);
		l = link_new(tr, LINK_ACCEPT, tr->server);
		if (!l) {
			ais_log(LOG_WARNING, "raft: %s: out of memory; closed",
				peer);
			close(fd);
			continue;
		}
		l->tcp = fd;
		snprintf(l->peer, sizeof(l->peer), "%s", peer);
		rc = link_start(tr, l, accept_main);
		if (rc) {
			ais_log(LOG_WARNING, "raft: %s: no thread (%s); closed",
				peer, strerror(-rc));
			link_free(l);
		}
	}
}

/* -- struct raft_uv_transport ------------------------------------------- */

static int tls_init(struct raft_uv_transport *t, raft_id id,
		    const char *address)
{
	struct tr *tr = t->impl;
	char *copy;

	if (strlen(address) == 0 || strlen(address) > ADDRESS_MAX) {
		snprintf(t->errmsg, sizeof(t->errmsg),
			 "Raft address of %zu bytes (1 to %d)", strlen(address),
			 ADDRESS_MAX);
		return RAFT_INVALID;
	}
	copy = strdup(address);
	if (!copy)
		return RAFT_NOMEM;
	free(tr->address);
	tr->address = copy;
	tr->id = id;
	return 0;
}

static int tls_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct tr *tr = t->impl;
	const char *addr = tr->bind_address ? tr->bind_address : tr->address;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai;
	char host[AIS_HOST_MAX], port[8];
	uint16_t pt;
	int fd, rc, one = 1;

	assert(!tr->polling && !tr->closing);
	if (!addr || ais_parse_hostport(addr, host, sizeof(host), &pt)) {
		snprintf(t->errmsg, sizeof(t->errmsg), "bad Raft address %s",
			 addr ? addr : "(none)");
		return RAFT_INVALID;
	}
	snprintf(port, sizeof(port), "%u", pt);
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		snprintf(t->errmsg, sizeof(t->errmsg), "listen on %s: %s", addr,
			 gai_strerror(rc));
		return RAFT_IOERR;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto err_errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0)
		goto err_errno;
	freeaddrinfo(ai);
	rc = async_start(tr);
	if (rc)
		goto err_uv;
	tr->poll.data = tr;
	rc = uv_poll_init(tr->loop, &tr->poll, fd);
	if (rc)
		goto err_uv;
	tr->polling = true;
	tr->lfd = fd;
	tr->accept_cb = cb;
	rc = uv_poll_start(&tr->poll, UV_READABLE, on_acceptable);
	if (rc) {
		/* The poll handle is closed by close(), with the socket. */
		snprintf(t->errmsg, sizeof(t->errmsg), "listen on %s: %s", addr,
			 uv_strerror(rc));
		return RAFT_IOERR;
	}
	return 0;
err_uv:
	snprintf(t->errmsg, sizeof(t->errmsg), "listen on %s: %s", addr,
		 uv_strerror(rc));
	close(fd);
	return RAFT_IOERR;
err_errno:
	rc = errno;
	snprintf(t->errmsg, sizeof(t->errmsg), "listen on %s: %s", addr,
		 strerror(rc));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return RAFT_IOERR;
}

static int tls_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
		       raft_id id, const char *address, raft_uv_connect_cb cb)
{
	struct tr *tr = t->impl;
	struct link *l;

	assert(!tr->closing);
	if (!tr->address || strlen(address) > ADDRESS_MAX)
		return RAFT_INVALID;
	if (async_start(tr))
		return RAFT_NOMEM;
	l = link_new(tr, LINK_CONNECT, tr->client);
	if (!l)
		return RAFT_NOMEM;
	l->req = req;
	l->id = id;
	snprintf(l->address, sizeof(l->address), "%s", address);
	req->cb = cb;
	if (link_start(tr, l, connect_main)) {
		link_free(l);
		return RAFT_NOMEM;
	}
	return 0;
}

static void on_poll_closed(uv_handle_t *h)
{
	struct tr *tr = h->data;

	close(tr->lfd);
	tr->lfd = -1;
	tr->polling = false;
	maybe_closed(tr);
}

static void tls_close(struct raft_uv_transport *t,
		      raft_uv_transport_close_cb cb)
{
	struct tr *tr = t->impl;
	uint64_t one = 1;
	ssize_t rc;

	assert(!tr->closing);
	tr->closing = true;
	tr->close_cb = cb;
	if (tr->polling)
		uv_close((uv_handle_t *)&tr->poll, on_poll_closed);
	/* Every thread ends: those in a poll of their own see stop_fd, those
	 * in the TLS helpers' waits their socket shut down. */
	pthread_mutex_lock(&tr->mu);
	tr->stopping = true;
	for (struct link *l = tr->links; l; l = l->next) {
		if (l->tcp >= 0)
			shutdown(l->tcp, SHUT_RDWR);
		if (l->pair[1] >= 0)
			shutdown(l->pair[1], SHUT_RDWR);
	}
	pthread_mutex_unlock(&tr->mu);
	rc = write(tr->stop_fd, &one, sizeof(one));
	(void)rc;
	if (!tr->async_on) {
		/* Neither listen nor connect ever ran: nothing to wait for. */
		cb(t);
		return;
	}
	/* Cancels the connects, joins what has ended (from the loop, not
	 * from inside this call). */
	uv_async_send(&tr->async);
}

/* -- Public --------------------------------------------------------------- */

int raft_tls_init(struct raft_uv_transport *t, uv_loop_t *loop,
		  struct ais_tls *server, struct ais_tls *client, char *errmsg)
{
	void *data = t->data;
	struct tr *tr;
	int rc;

	memset(t, 0, sizeof(*t));
	t->data = data;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return ais_errf(errmsg, -ENOMEM, "raft transport: no memory");
	tr->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (tr->stop_fd < 0) {
		rc = -errno;
		free(tr);
		return ais_errf(errmsg, rc, "raft transport: eventfd: %s",
				strerror(-rc));
	}
	pthread_mutex_init(&tr->mu, NULL);
	tr->t = t;
	tr->loop = loop;
	tr->server = server;
	tr->client = client;
	tr->lfd = -1;
	t->impl = tr;
	t->init = tls_init;
	t->listen = tls_listen;
	t->connect = tls_connect;
	t->close = tls_close;
	return 0;
}

int raft_tls_set_bind_address(struct raft_uv_transport *t, const char *address)
{
	struct tr *tr = t->impl;
	char host[AIS_HOST_MAX];
	uint16_t port;
	char *copy;

	if (ais_parse_hostport(address, host, sizeof(host), &port))
		return -EINVAL;
	copy = strdup(address);
	if (!copy)
		return -ENOMEM;
	free(tr->bind_address);
	tr->bind_address = copy;
	return 0;
}

void raft_tls_close(struct raft_uv_transport *t)
{
	struct tr *tr = t->impl;

	if (!tr)
		return;
	/* After the close callback (or with nothing ever started) no thread
	 * and no handle is left. */
	assert(!tr->links && !tr->polling && !tr->async_on);
	close(tr->stop_fd);
	pthread_mutex_destroy(&tr->mu);
	free(tr->address);
	free(tr->bind_address);
	free(tr);
	t->impl = NULL;
}
