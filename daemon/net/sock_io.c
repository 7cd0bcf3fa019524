/* Blocking-with-timeout socket I/O for worker threads. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fileio.h"
#include "tls.h"
#include "util.h"

#include "net/sock_io.h"

/* Waits until fd is ready for events: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	int rc = ais_wait_fd(fd, events, timeout_ms);

	if (rc == 0)
		return -ETIMEDOUT;
	return rc < 0 ? rc : 0;
}

/* A read, send or sendfile of the socket moved nothing (n <= 0, errno
 * set if n < 0): 0 to try again (EINTR, or the socket became ready within
 * the timeout), or the -errno that breaks the connection (eof_rc for
 * n == 0). */
static int stalled(struct sock_io *io, ssize_t n, int eof_rc, short events)
{
	int rc;

	if (n == 0)
		rc = eof_rc;
	else if (errno == EINTR)
		return 0;
	else if (errno != EAGAIN && errno != EWOULDBLOCK)
		rc = -errno;
	else if ((rc = wait_fd(io->fd, events, io->timeout_ms)) == 0)
		return 0;
	io->broken = 1;
	return rc;
}

const char *sock_io_strerror(ssize_t rc)
{
	if (rc == -ETIMEDOUT)
		return "no progress (io timeout)";
	if (rc == -EPIPE)
		return "connection closed early";
	return strerror((int)-rc);
}

ssize_t sock_io_read_body(struct sock_io *io, void *buf, size_t len)
{
	size_t want;
	ssize_t n;
	int rc;

	if (io->body_left == 0)
		return 0;
	want = len;
	if (want > io->body_left)
		want = (size_t)io->body_left;
	if (io->preused < io->prelen) {
		size_t avail = io->prelen - io->preused;

		if (want > avail)
			want = avail;
		memcpy(buf, io->pre + io->preused, want);
		io->preused += want;
		io->body_left -= want;
		return (ssize_t)want;
	}
	if (io->tls) {
		n = ais_tls_recv(io->tls, io->fd, buf, want, io->timeout_ms);
		if (n > 0) {
			io->body_left -= (uint64_t)n;
			return n;
		}
		io->broken = 1;
		return n == -ECONNRESET ? -EPIPE : n;
	}
	for (;;) {
		n = read(io->fd, buf, want);
		if (n > 0) {
			io->body_left -= (uint64_t)n;
			return n;
		}
		rc = stalled(io, n, -EPIPE, POLLIN);
		if (rc < 0)
			return rc;
	}
}

int sock_io_discard_body(struct sock_io *io)
{
	char buf[16384];
	ssize_t n;

	while ((n = sock_io_read_body(io, buf, sizeof(buf))) > 0)
		;
	return n < 0 ? (int)n : 0;
}

int sock_io_write_all(struct sock_io *io, const void *buf, size_t len)
{
	return sock_io_write_more(io, buf, len, false);
}

int sock_io_write_more(struct sock_io *io, const void *buf, size_t len,
		       bool more)
{
	const char *p = buf;
	ssize_t n;
	int rc;

	if (io->tls) {
		if (more && len)
			rc = ais_tls_conn_write(io->tls, buf, len, NULL);
		else
			rc = ais_tls_send(io->tls, io->fd, buf, len,
					  io->timeout_ms);
		if (rc)
			io->broken = 1;
		return rc;
	}
	while (len > 0) {
		n = send(io->fd, p, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		rc = stalled(io, n, -EPIPE, POLLOUT);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sock_io_sendfile(struct sock_io *io, int fd, off_t off, uint64_t len)
{
	ssize_t n;
	size_t chunk;
	int rc;

	if (io->tls) {
		rc = ais_tls_sendfile(io->tls, io->fd, fd, (uint64_t)off, len,
				      io->timeout_ms);
		if (rc)
			io->broken = 1;
		return rc == -ENODATA ? -EIO : rc;
	}
	while (len > 0) {
		chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		n = sendfile(io->fd, fd, &off, chunk);
		if (n > 0) {
			len -= (uint64_t)n;
			continue;
		}
		/* 0: the file ended before len bytes (it shrank). */
		rc = stalled(io, n, -EIO, POLLOUT);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void sock_io_linger(struct sock_io *io, int linger_ms)
{
	uint64_t deadline = ais_now_mono_ns() + (uint64_t)linger_ms * 1000000u;
	char buf[16384];
	ssize_t n;

	shutdown(io->fd, SHUT_WR);
	for (;;) {
		uint64_t now = ais_now_mono_ns();

		if (now >= deadline)
			return;
		if (wait_fd(io->fd, POLLIN,
			    (int)((deadline - now) / 1000000u) + 1) < 0)
			return;
		n = read(io->fd, buf, sizeof(buf));
		if (n == 0)
			return;
		if (n < 0 && errno != EINTR && errno != EAGAIN &&
		    errno != EWOULDBLOCK)
			return;
	}
}
