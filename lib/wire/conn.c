/* One client TCP connection: connect, bounded I/O, frames. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "fileio.h"
#include "frame.h"
#include "tls.h"
#include "util.h"

static bool is_reset(int rc)
{
	return rc == -EPIPE || rc == -ECONNRESET || rc == -ECONNABORTED ||
	       rc == -ENOTCONN;
}

enum ais_conn_fail ais_conn_classify(int rc, bool reused, bool got_any)
{
	if (rc == -ETIMEDOUT)
		return AIS_CONN_FAIL_OTHER;
	if (reused && !got_any && is_reset(rc))
		return AIS_CONN_FAIL_STALE;
	return AIS_CONN_FAIL_CONN;
}

static int connect_one(const struct addrinfo *ai, int timeout_ms,
		       int io_timeout_ms)
{
	struct timeval tv = {.tv_sec = io_timeout_ms / 1000,
			     .tv_usec = (io_timeout_ms % 1000) * 1000};
	int fd, rc, one = 1, soerr = 0, flags;
	socklen_t sl = sizeof(soerr);

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			goto err_close;
		}
		rc = ais_wait_fd(fd, POLLOUT, timeout_ms);
		if (rc < 0)
			goto err_close;
		if (rc == 0) {
			rc = -ETIMEDOUT;
			goto err_close;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
			rc = -errno;
			goto err_close;
		}
		if (soerr) {
			rc = -soerr;
			goto err_close;
		}
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Receives block in recv(2) itself, bounded by SO_RCVTIMEO: one
	 * system call per answer instead of poll() + recv(). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		rc = -errno;
		goto err_close;
	}
	/* Back to blocking mode: sends pass MSG_DONTWAIT and wait in poll(),
	 * receives wait at most SO_RCVTIMEO, so a timeout always bounds the
	 * wait. */
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		(void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;

err_close:
	close(fd);
	return rc;
}

int ais_conn_set_timeout(int fd, int io_timeout_ms)
{
	struct timeval tv = {.tv_sec = io_timeout_ms / 1000,
			     .tv_usec = (io_timeout_ms % 1000) * 1000};

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0
		   ? -errno
		   : 0;
}

int ais_conn_connect(const char *host, uint16_t port, int timeout_ms,
		     int io_timeout_ms, char *errmsg)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
	struct addrinfo *res, *ai;
	char svc[8];
	int rc, fd = -ECONNREFUSED;

	snprintf(svc, sizeof(svc), "%u", (unsigned)port);
	rc = getaddrinfo(host, svc, &hints, &res);
	if (rc != 0)
		return ais_errf(errmsg,
				rc == EAI_SYSTEM ? -errno : -EHOSTUNREACH,
				"resolve: %s", gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai, timeout_ms, io_timeout_ms);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ais_errf(errmsg, fd, "connect: %s", strerror(-fd));
	return fd;
}

int ais_conn_connect_tls(const char *host, uint16_t port, int timeout_ms,
			 int io_timeout_ms, struct ais_tls *tls, char *errmsg)
{
	struct ais_tls_conn *c;
	int fd, rc;

	fd = ais_conn_connect(host, port, timeout_ms, io_timeout_ms, errmsg);
	if (fd < 0 || !tls)
		return fd;
	c = ais_tls_conn_new(tls);
	if (!c) {
		close(fd);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	rc = ais_tls_handshake_fd(c, fd, timeout_ms, errmsg);
	if (!rc)
		rc = ais_tls_fd_set(fd, c);
	if (rc) {
		if (rc == -EMFILE)
			ais_errf(errmsg, rc, "too many open files");
		ais_tls_conn_free(c);
		close(fd);
		return rc;
	}
	return fd;
}

void ais_conn_close(int fd)
{
	ais_tls_fd_close(fd);
}

bool ais_conn_idle_ok(int fd)
{
	struct ais_tls_conn *c = ais_tls_fd_get(fd);

	if (c && ais_tls_conn_pending(c))
		return false;
	return ais_wait_fd(fd, POLLIN, 0) == 0;
}

/* ais_conn_send on a TLS socket: a chunk at a time, looking for an early
 * answer between chunks. */
static int tls_send(struct ais_tls_conn *c, int fd, const void *buf, size_t len,
		    int timeout_ms, bool watch_in, bool *readable)
{
	const char *p = buf;

	do {
		size_t part = len > 65536 ? 65536 : len;
		int rc;

		if (watch_in && (ais_tls_conn_pending(c) ||
				 ais_wait_fd(fd, POLLIN, 0) > 0)) {
			*readable = true;
			return 0;
		}
		rc = ais_tls_send(c, fd, p, part, timeout_ms);
		if (rc)
			return rc;
		p += part;
		len -= part;
	} while (len > 0);
	return 0;
}

int ais_conn_send(int fd, const void *buf, size_t len, int timeout_ms,
		  bool watch_in, bool *readable)
{
	const char *p = buf;
	short events = POLLOUT | (watch_in ? POLLIN : 0);

	struct ais_tls_conn *c = ais_tls_fd_get(fd);

	if (readable)
		*readable = false;
	if (c)
		return tls_send(c, fd, buf, len, timeout_ms, watch_in,
				readable);
	while (len > 0) {
		ssize_t n;
		int ev;

		if (watch_in) {
			/* An early answer (a PUT refused before its body) must
			 * stop the sending at once. */
			ev = ais_wait_fd(fd, POLLIN, 0);
			if (ev < 0)
				return ev;
			if (ev & POLLIN) {
				*readable = true;
				return 0;
			}
		}
		n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ev = ais_wait_fd(fd, events, timeout_ms);
		if (ev < 0)
			return ev;
		if (ev == 0)
			return -ETIMEDOUT;
		if (watch_in && (ev & POLLIN)) {
			*readable = true;
			return 0;
		}
		/* POLLERR/POLLHUP: the next send() reports the error. */
	}
	return 0;
}

/* sendfile(2) has no MSG_NOSIGNAL: to a peer that has closed, it raises
 * SIGPIPE, which kills a program that did not ignore it (aisd does; a
 * program using the library need not). The signal is blocked on this
 * thread for the call, and one it raised is taken off the thread's pending
 * set before the mask is restored; one that was pending already is left. */
struct pipe_guard {
	sigset_t old;
	bool was_pending;
};

static void pipe_block(struct pipe_guard *g)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pending);
	g->was_pending =
	    sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void pipe_restore(struct pipe_guard *g, int rc)
{
	if (rc == -EPIPE && !g->was_pending) {
		sigset_t set;
		struct timespec zero = {0, 0};

		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int sendfile_loop(int sock, int fd, off_t o, uint64_t len,
			 int timeout_ms, bool watch_in, bool *readable)
{
	short events = POLLOUT | (watch_in ? POLLIN : 0);
	int rc = 0;

	while (len > 0) {
		size_t want = len > (1u << 20) ? (1u << 20) : (size_t)len;
		ssize_t n;
		int ev;

		if (watch_in) {
			ev = ais_wait_fd(sock, POLLIN, 0);
			if (ev < 0 || (ev & POLLIN)) {
				rc = ev < 0 ? ev : 0;
				*readable = ev > 0;
				break;
			}
		}
		n = sendfile(sock, fd, &o, want);
		if (n > 0) {
			len -= (uint64_t)n;
			continue;
		}
		if (n == 0) {
			rc = -ENODATA; /* the file is shorter than len */
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			rc = -errno;
			break;
		}
		ev = ais_wait_fd(sock, events, timeout_ms);
		if (ev <= 0) {
			rc = ev < 0 ? ev : -ETIMEDOUT;
			break;
		}
		if (watch_in && (ev & POLLIN)) {
			*readable = true;
			break;
		}
	}
	return rc;
}

/* ais_conn_sendfile on a TLS socket: the file is read and encrypted. */
static int tls_sendfile(struct ais_tls_conn *c, int sock, int fd, uint64_t off,
			uint64_t len, int timeout_ms, bool watch_in,
			bool *readable)
{
	uint8_t *buf = malloc(65536);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (len > 0 && !rc) {
		size_t want = len > 65536 ? 65536 : (size_t)len;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -ENODATA;
			break;
		}
		rc = tls_send(c, sock, buf, (size_t)n, timeout_ms, watch_in,
			      readable);
		if (!rc && readable && *readable)
			break;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	free(buf);
	return rc;
}

int ais_conn_sendfile(int sock, int fd, uint64_t off, uint64_t len,
		      int timeout_ms, bool watch_in, bool *readable)
{
	struct ais_tls_conn *c = ais_tls_fd_get(sock);
	struct pipe_guard g;
	int flags, rc;

	if (readable)
		*readable = false;
	if (c)
		return tls_sendfile(c, sock, fd, off, len, timeout_ms, watch_in,
				    readable);
	flags = fcntl(sock, F_GETFL);
	if (flags < 0 || fcntl(sock, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	pipe_block(&g);
	rc = sendfile_loop(sock, fd, (off_t)off, len, timeout_ms, watch_in,
			   readable);
	pipe_restore(&g, rc);
	(void)fcntl(sock, F_SETFL, flags);
	return rc;
}

ssize_t ais_conn_recv_some(int fd, void *buf, size_t len, int timeout_ms)
{
	/* A plain socket waits in recv(2) itself (SO_RCVTIMEO = timeout_ms);
	 * a TLS one in poll(2). */
	struct ais_tls_conn *c = ais_tls_fd_get(fd);

	if (c) {
		ssize_t n;

		if (len == 0)
			return 0;
		n = ais_tls_recv(c, fd, buf, len, timeout_ms);
		return n == -EPROTO ? -ECONNRESET : n;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n > 0)
			return n;
		if (n == 0)
			return len == 0 ? 0 : -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -ETIMEDOUT;
		return -errno;
	}
}

ssize_t ais_conn_recv_nowait(int fd, void *buf, size_t len)
{
	struct ais_tls_conn *c = ais_tls_fd_get(fd);
	uint8_t raw[16384];
	ssize_t n;

	for (;;) {
		if (c) {
			n = ais_tls_conn_read(c, buf, len, NULL);
			if (n > 0)
				return n;
			if (n < 0)
				return n == -EPROTO ? -ECONNRESET : n;
			if (ais_tls_flush(c, fd, 1000) < 0)
				return -ECONNRESET;
			n = recv(fd, raw, sizeof(raw), MSG_DONTWAIT);
		} else {
			n = recv(fd, buf, len, MSG_DONTWAIT);
		}
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (!c)
			return n;
		if (ais_tls_conn_feed(c, raw, (size_t)n))
			return -ENOMEM;
	}
}

int ais_conn_recv_all(int fd, void *buf, size_t len, int timeout_ms,
		      size_t *got)
{
	char *p = buf;

	*got = 0;
	while (*got < len) {
		ssize_t n =
		    ais_conn_recv_some(fd, p + *got, len - *got, timeout_ms);

		if (n < 0)
			return (int)n;
		*got += (size_t)n;
	}
	return 0;
}

int ais_conn_recv_response(int fd, uint32_t want_id, int timeout_ms,
			   Ais__Response **resp, uint64_t *body_len,
			   uint8_t *rbuf, size_t rcap, size_t *rlen,
			   bool *got_any, char *errmsg)
{
	struct ais_frame_hdr h;
	const uint8_t *headp;
	uint8_t *head = NULL;
	size_t have = 0, inbuf, got;
	int rc;

	*resp = NULL;
	*rlen = 0;
	*got_any = false;
	/* A blocking recv(): the answer cannot be there yet right after the
	 * request, and SO_RCVTIMEO bounds the wait. */
	while (have < AIS_FRAME_HDR_LEN) {
		ssize_t n = ais_conn_recv_some(fd, rbuf + have, rcap - have,
					       timeout_ms);

		if (n < 0)
			return (int)n;
		have += (size_t)n;
		*got_any = true;
	}
	rc = ais_frame_hdr_decode(rbuf, &h, errmsg);
	if (rc < 0)
		return rc;
	if (h.request_id != want_id)
		return ais_errf(errmsg, -EPROTO,
				"response to request %u, expected %u",
				h.request_id, want_id);
	if (h.flags & AIS_FRAME_FLAG_LZ4)
		return ais_errf(errmsg, -EPROTO,
				"compressed response body not requested");
	inbuf = have - AIS_FRAME_HDR_LEN;
	if (inbuf >= h.head_len) {
		headp = rbuf + AIS_FRAME_HDR_LEN;
	} else {
		head = malloc(h.head_len);
		if (!head)
			return ais_errf(errmsg, -ENOMEM, "out of memory");
		memcpy(head, rbuf + AIS_FRAME_HDR_LEN, inbuf);
		rc = ais_conn_recv_all(fd, head + inbuf, h.head_len - inbuf,
				       timeout_ms, &got);
		if (rc < 0) {
			free(head);
			return rc;
		}
		headp = head;
		inbuf = h.head_len;
	}
	*resp = ais__response__unpack(NULL, h.head_len, headp);
	free(head);
	if (!*resp)
		return ais_errf(errmsg, -EPROTO, "malformed response head");
	/* Bytes read past the head are the start of the body. */
	inbuf -= h.head_len;
	if (inbuf > h.body_len) {
		ais__response__free_unpacked(*resp, NULL);
		*resp = NULL;
		return ais_errf(errmsg, -EPROTO,
				"%zu bytes after a %llu-byte body", inbuf,
				(unsigned long long)h.body_len);
	}
	if (inbuf > 0)
		memmove(rbuf, rbuf + AIS_FRAME_HDR_LEN + h.head_len, inbuf);
	*rlen = inbuf;
	*body_len = h.body_len;
	return 0;
}
