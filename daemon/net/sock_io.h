/* Blocking-with-timeout socket I/O for worker threads that borrow a
 * connection's fd from the event loop: body reads, response writes,
 * sendfile(2) of object data and the "lingering close". */
#ifndef AISD_NET_SOCK_IO_H
#define AISD_NET_SOCK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The worker's view of one borrowed connection while a request runs.
 * pre/prelen are bytes the loop already read past the request head (body
 * bytes first, then possibly the next request); they are not owned here. */
struct sock_io {
	int fd;		    /* non-blocking socket, owned by the loop */
	int timeout_ms;	    /* no progress for this long: -ETIMEDOUT */
	const uint8_t *pre; /* bytes read ahead by the loop */
	size_t prelen;
	size_t preused;	    /* consumed from pre so far */
	uint64_t body_left; /* request body bytes not yet consumed */
	int broken;	    /* set once a write or read failed: close after */
	/* The connection's TLS session (NULL: plain TCP): every function
	 * below reads and writes through it; sendfile(2) becomes read +
	 * encrypt + send. */
	struct ais_tls_conn *tls;
};

/* Reads up to len bytes of the request body (never past body_len) into buf.
 * Returns the byte count (> 0), 0 when the body is complete, or -errno
 * (-ETIMEDOUT, -ECONNRESET, -EPIPE for an EOF before the body's end). */
ssize_t sock_io_read_body(struct sock_io *io, void *buf, size_t len);

/* Reads and discards the rest of the body. Returns 0 or -errno. */
int sock_io_discard_body(struct sock_io *io);

/* Writes all of buf. Returns 0 or -errno. */
int sock_io_write_all(struct sock_io *io, const void *buf, size_t len);

/* Same, with MSG_MORE when more is set: the head of a GET goes out in one
 * segment with the start of its sendfile(2) body (with TLS: it waits,
 * encrypted, for the body's first send). With len 0, sends what waits. */
int sock_io_write_more(struct sock_io *io, const void *buf, size_t len,
		       bool more);

/* Sends len bytes of file fd from offset off with sendfile(2). Returns 0 or
 * -errno (-EIO if the file ends early). */
int sock_io_sendfile(struct sock_io *io, int fd, off_t off, uint64_t len);

/* How a failed read or send of the connection reads in a log line: "no
 * progress (io timeout)", "connection closed early", or strerror. */
const char *sock_io_strerror(ssize_t rc);

/* The lingering close after an early error answer: shut down our sending
 * side, then read and discard whatever the peer still sends for up to
 * linger_ms or until EOF. The caller closes the socket afterwards. */
void sock_io_linger(struct sock_io *io, int linger_ms);

#endif
