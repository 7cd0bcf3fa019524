/* One TCP connection to a node: connect and byte I/O bounded by timeouts,
 * and the sending and receiving of protocol frames. Used by the client and
 * by node-to-node calls. */
#ifndef AIS_CONN_H
#define AIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ais.pb-c.h"

/* Why an exchange on a connection failed, which decides whether the
 * request may be sent again. */
enum ais_conn_fail {
	AIS_CONN_FAIL_NONE = 0,
	AIS_CONN_FAIL_STALE, /* a reused connection, dead before any answer
				byte: the node never saw the request */
	AIS_CONN_FAIL_CONN,  /* connect or socket error */
	AIS_CONN_FAIL_OTHER, /* timeout, protocol or local error: no retry */
};

/* The class of a socket error rc (reused: the connection came from a pool;
 * got_any: some byte of the answer arrived). A timeout is never retried: a
 * node that holds a connection open without answering is alive but stuck,
 * and a second wait would only double the caller's wait for the same
 * error. */
enum ais_conn_fail ais_conn_classify(int rc, bool reused, bool got_any);

/* Connects to host:port (numeric or resolvable) within timeout_ms, with
 * TCP_NODELAY and SO_RCVTIMEO = io_timeout_ms. Returns the socket
 * (blocking mode: sends use MSG_DONTWAIT and poll, receives block for at
 * most io_timeout_ms, the timeout every receive below must be given) or
 * -errno with "connect: <reason>" in errmsg. The caller closes the fd. */
int ais_conn_connect(const char *host, uint16_t port, int timeout_ms,
		     int io_timeout_ms, char *errmsg);

struct ais_tls;

/* ais_conn_connect, then (tls not NULL) the TLS handshake within
 * timeout_ms, verifying the node's certificate: the socket is registered
 * with its session (tls.h), and every function below speaks TLS on it.
 * Close it with ais_conn_close. */
int ais_conn_connect_tls(const char *host, uint16_t port, int timeout_ms,
			 int io_timeout_ms, struct ais_tls *tls, char *errmsg);

/* Closes a connection's socket, and frees its TLS session if it has one. */
void ais_conn_close(int fd);

/* Sets the socket's SO_RCVTIMEO (what ais_conn_connect set) to
 * io_timeout_ms, for a call that waits longer than others on a pooled
 * connection. 0 or -errno. */
int ais_conn_set_timeout(int fd, int io_timeout_ms);

/* True if an idle connection still looks usable: nothing readable (no EOF,
 * no stray bytes, no error) is pending on it. */
bool ais_conn_idle_ok(int fd);

/* Sends all len bytes, waiting at most timeout_ms for each bit of progress.
 * With watch_in, stops early when the peer has something to read for us
 * (an early answer) and sets *readable. Returns 0 or -errno (-EPIPE,
 * -ECONNRESET, -ETIMEDOUT...). SIGPIPE is never raised. */
int ais_conn_send(int fd, const void *buf, size_t len, int timeout_ms,
		  bool watch_in, bool *readable);

/* Sends len bytes of file fd from offset off on the blocking socket sock
 * with sendfile(2) (made non-blocking meanwhile), the rules of
 * ais_conn_send otherwise (timeout_ms without progress; with watch_in,
 * stops at once when an answer is readable: *readable). -ENODATA if the
 * file is shorter. Returns 0 or -errno. */
int ais_conn_sendfile(int sock, int fd, uint64_t off, uint64_t len,
		      int timeout_ms, bool watch_in, bool *readable);

/* Receives up to len bytes (at least 1) within timeout_ms, which must be
 * the socket's SO_RCVTIMEO (ais_conn_connect's io_timeout_ms): one blocking
 * recv(2), no poll(2). Returns the count, -ECONNRESET on EOF, -ETIMEDOUT,
 * or -errno. */
ssize_t ais_conn_recv_some(int fd, void *buf, size_t len, int timeout_ms);

/* Receives what is there without waiting: the count, -EAGAIN if nothing
 * is, -ECONNRESET on EOF (or a broken TLS record), or -errno. */
ssize_t ais_conn_recv_nowait(int fd, void *buf, size_t len);

/* Receives exactly len bytes; *got counts what arrived (even on failure).
 * Returns 0, -ECONNRESET on EOF, or -errno. */
int ais_conn_recv_all(int fd, void *buf, size_t len, int timeout_ms,
		      size_t *got);

/* Receives one response frame head: header (validated; request_id must be
 * want_id, no unknown flags, no compressed body) and the unpacked Response,
 * freed by the caller with ais__response__free_unpacked. *body_len is the
 * number of body bytes of the frame. To save system calls the first read
 * takes up to rcap bytes into rbuf: the first *rlen bytes of the body may
 * be left there (never more than the body). *got_any is set once any byte
 * arrived (a dead pooled connection shows as failure with *got_any false).
 * Returns 0, a socket -errno, or -EPROTO (bad frame; errmsg says why). */
int ais_conn_recv_response(int fd, uint32_t want_id, int timeout_ms,
			   Ais__Response **resp, uint64_t *body_len,
			   uint8_t *rbuf, size_t rcap, size_t *rlen,
			   bool *got_any, char *errmsg);

#endif
