/* TLS 1.3 on the cluster's connections (OpenSSL).
 *
 * One cluster CA signs a certificate for every node. A node presents its
 * certificate on every port it listens on and on every connection it opens
 * to another node; it accepts a client with no certificate (clients prove
 * who they are with tokens), and takes a connection whose certificate the
 * CA signed as a node's (mutual TLS: only such connections may use the
 * node-to-node ops and JOIN). Clients verify that the node they reach has
 * a certificate of the cluster's CA. The CA is private to the cluster:
 * every certificate it signs is a node of this cluster, so no host name is
 * checked (nodes are reached by the addresses in the map, which a node
 * cannot choose for another).
 *
 * Only TLS 1.3 is spoken, with no session tickets (connections are pooled
 * and long-lived; a ticket would only be one more thing to protect).
 *
 * A connection's TLS runs over two memory BIOs: the caller moves the
 * ciphertext between the socket and the session. This is what lets the
 * node's event loop read through libuv and a worker thread write the
 * answer on the same connection, and what the blocking helpers at the end
 * of this file do for threads that own their socket. */
#ifndef AIS_TLS_H
#define AIS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ais_tls_role {
	AIS_TLS_SERVER, /* a node's listener */
	AIS_TLS_CLIENT, /* a client, or a node calling another node */
};

struct ais_tls_files {
	const char *ca_file;   /* the cluster's CA (PEM): required; or a
				  directory: every *.pem file in it */
	const char *cert_file; /* this side's certificate (PEM); required
				  for a server, a node's for a node client,
				  NULL for a plain client */
	const char *key_file;  /* its private key (PEM, not readable by
				  group or others) */
};

/* One configuration: the files, and the OpenSSL context made of them.
 * Thread-safe; shared by every connection of a role. */
struct ais_tls;

/* Loads the files and makes the context. Returns 0 with *out, or -errno
 * with errmsg naming the file and what is wrong with it ("tls_key_file
 * /x/node.key: readable by others: chmod 600 it"). */
int ais_tls_new(enum ais_tls_role role, const struct ais_tls_files *f,
		struct ais_tls **out, char *errmsg);

/* Reads the files again (after a certificate was renewed): handshakes
 * from now on use them; connections already set up keep theirs. On
 * failure the old ones stay in use and errmsg says why. 0 or -errno. */
int ais_tls_reload(struct ais_tls *t, char *errmsg);

/* The subject name of the certificate in use ("CN=node-1"), for logs. */
void ais_tls_describe(struct ais_tls *t, char *out, size_t cap);

/* Frees t; connections made from it keep working until freed. */
void ais_tls_free(struct ais_tls *t);

/* One connection's TLS session. */
struct ais_tls_conn;

/* A session for one new connection, of t's role. NULL on ENOMEM. */
struct ais_tls_conn *ais_tls_conn_new(struct ais_tls *t);
void ais_tls_conn_free(struct ais_tls_conn *c);

/* Gives the session ciphertext read from the socket. 0 or -ENOMEM. */
int ais_tls_conn_feed(struct ais_tls_conn *c, const void *p, size_t n);

/* Drives the handshake with what was fed: 1 when it is done, 0 when it
 * needs more ciphertext (send the output first), -EPROTO/-EACCES with
 * errmsg ("certificate verify failed: unable to get local issuer
 * certificate") when it failed. */
int ais_tls_conn_handshake(struct ais_tls_conn *c, char *errmsg);
bool ais_tls_conn_ready(const struct ais_tls_conn *c);

/* Decrypts what was fed into buf (the handshake first, if not done).
 * Returns the plaintext byte count (> 0), 0 when more ciphertext is
 * needed, -ECONNRESET when the peer closed the session (close_notify), or
 * -EPROTO with errmsg. */
ssize_t ais_tls_conn_read(struct ais_tls_conn *c, void *buf, size_t cap,
			  char *errmsg);

/* True if read may have bytes without more ciphertext: decrypted bytes
 * not yet taken, or a whole record fed and not yet decrypted. */
bool ais_tls_conn_pending(const struct ais_tls_conn *c);

/* Encrypts len bytes of plaintext; the ciphertext waits in the session
 * for the caller to send (ais_tls_conn_out). 0, -ENOMEM or -EPROTO. */
int ais_tls_conn_write(struct ais_tls_conn *c, const void *p, size_t len,
		       char *errmsg);

/* The ciphertext waiting to be sent: *p and the byte count (0: none).
 * After sending n of them, ais_tls_conn_out_done(c, n). */
size_t ais_tls_conn_out(struct ais_tls_conn *c, const uint8_t **p);
void ais_tls_conn_out_done(struct ais_tls_conn *c, size_t n);

/* True once the handshake verified a certificate of the cluster's CA from
 * the peer: the peer is a node. */
bool ais_tls_conn_peer_is_node(const struct ais_tls_conn *c);

/* The peer's certificate subject ("CN=node-2"), or "-" without one. */
void ais_tls_conn_peer_name(const struct ais_tls_conn *c, char *out,
			    size_t cap);

/* -- Blocking helpers: a thread that has the socket to itself -----------
 * fd may be blocking or not; every wait is a poll(2) of at most
 * timeout_ms without progress (-ETIMEDOUT). SIGPIPE is never raised. */

/* Sends all ciphertext waiting in c. 0 or -errno. */
int ais_tls_flush(struct ais_tls_conn *c, int fd, int timeout_ms);

/* Runs the handshake to its end over fd. 0 or -errno with errmsg. */
int ais_tls_handshake_fd(struct ais_tls_conn *c, int fd, int timeout_ms,
			 char *errmsg);

/* Encrypts and sends len bytes. 0 or -errno. */
int ais_tls_send(struct ais_tls_conn *c, int fd, const void *buf, size_t len,
		 int timeout_ms);

/* Receives up to len bytes of plaintext (at least 1), reading the socket
 * as needed. Returns the count, -ECONNRESET on EOF or close_notify,
 * -ETIMEDOUT, -EPROTO (a bad record) or -errno. */
ssize_t ais_tls_recv(struct ais_tls_conn *c, int fd, void *buf, size_t len,
		     int timeout_ms);

/* Sends len bytes of file ffd from off (read into a buffer and encrypted:
 * there is no sendfile(2) through a user-space TLS session). -ENODATA if
 * the file is shorter. 0 or -errno. */
int ais_tls_sendfile(struct ais_tls_conn *c, int fd, int ffd, uint64_t off,
		     uint64_t len, int timeout_ms);

/* -- Sockets that carry TLS, by file descriptor --------------------------
 * The client library and node-to-node calls pass connected sockets around
 * as file descriptors (pools, retries); a socket with TLS has its session
 * registered here, and the socket functions of conn.h use it. */

/* Registers c as the session of fd (replacing none). 0 or -EMFILE for an
 * fd beyond the table (1 << 20). */
int ais_tls_fd_set(int fd, struct ais_tls_conn *c);

/* The session of fd, or NULL for a plain socket. */
struct ais_tls_conn *ais_tls_fd_get(int fd);

/* Frees fd's session (if any) and closes fd. */
void ais_tls_fd_close(int fd);

/* -- Certificates, for `ais local up` and `ais tls` ----------------------
 * Keys are ECDSA P-256; key files are written with mode 0600, atomically
 * (a temporary file renamed into place). */

/* A new self-signed CA: cert_path and key_path, valid for days. */
int ais_tls_make_ca(const char *cert_path, const char *key_path, const char *cn,
		    int days, char *errmsg);

/* A node certificate signed by the CA: subject CN=cn, subject alternative
 * names sans[] ("127.0.0.1", "::1" as IP addresses, anything else as DNS
 * names), for both server and client authentication, valid for days. */
int ais_tls_make_cert(const char *ca_cert, const char *ca_key,
		      const char *cert_path, const char *key_path,
		      const char *cn, const char *const *sans, size_t nsans,
		      int days, char *errmsg);

/* Seconds until the certificate in path expires (negative: expired), or
 * -errno... as INT64_MIN with errmsg when it cannot be read. */
int64_t ais_tls_cert_seconds_left(const char *path, char *errmsg);

/* The first 16 hex digits of the SHA-256 of the certificate in path: a
 * name for it (`ais local up` keeps a copy of its CA under it). */
int ais_tls_cert_id(const char *path, char out[17], char *errmsg);

#endif
