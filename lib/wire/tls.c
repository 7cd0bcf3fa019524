/* TLS 1.3 on the cluster's connections: configurations, sessions over
 * memory BIOs, the blocking helpers, sessions by fd, certificates. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fileio.h"
#include "tls.h"
#include "util.h"

#define CIPHERSUITES                                                           \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                       \
	"TLS_CHACHA20_POLY1305_SHA256"
#define STAGE_MAX (64 * 1024) /* ciphertext taken out of the BIO at once */
#define CHUNK	  (16 * 1024) /* plaintext encrypted at once: a record */
#define FD_TABLE  (1 << 20)
#define RAW_READ  (32 * 1024)
#define NODE_OU	  "aisfs node" /* the subject OU of a node's certificate */

struct ais_tls {
	pthread_mutex_t lock;
	enum ais_tls_role role;
	char *ca, *cert, *key;
	SSL_CTX *ctx;
};

struct ais_tls_conn {
	SSL *ssl;
	BIO *rb, *wb; /* owned by ssl */
	bool ready;
	bool node;
	uint8_t *stage; /* ciphertext taken out of wb, not yet sent */
	size_t stage_len, stage_off, stage_cap;
};

/* The reason of the last OpenSSL failure of this thread, for errmsg. */
static const char *ssl_reason(char *buf, size_t cap)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown TLS error";
	ERR_error_string_n(e, buf, cap);
	/* "error:0A000086:SSL routines::certificate verify failed": the
	 * text after the last ':' is the part a user can read. */
	{
		char *p = strrchr(buf, ':');

		if (p && p[1])
			memmove(buf, p + 1, strlen(p + 1) + 1);
	}
	ERR_clear_error();
	return buf;
}

static int ssl_errf(char *errmsg, int rc, const char *what)
{
	char r[256];

	return ais_errf(errmsg, rc, "%s: %s", what, ssl_reason(r, sizeof(r)));
}

/* A key file must be readable by its owner only. */
static int check_key_mode(const char *path, char *errmsg)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return ais_errf(errmsg, -errno, "tls_key_file %s: %s", path,
				strerror(errno));
	if (st.st_mode & 077)
		return ais_errf(errmsg, -EPERM,
				"tls_key_file %s: readable by others (mode "
				"%03o): chmod 600 it",
				path, (unsigned)(st.st_mode & 0777));
	return 0;
}

/* One CA file, or every *.pem file of a directory. */
static int load_ca(SSL_CTX *ctx, const char *path, char *errmsg)
{
	char what[PATH_MAX + 64], file[PATH_MAX];
	struct dirent *e;
	struct stat st;
	int rc = 0, n = 0;
	DIR *d;

	snprintf(what, sizeof(what), "tls_ca_file %s", path);
	if (stat(path, &st) < 0)
		return ais_errf(errmsg, -errno, "%s: %s", what,
				strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (!SSL_CTX_load_verify_file(ctx, path))
			return ssl_errf(errmsg, -EINVAL, what);
		return 0;
	}
	d = opendir(path);
	if (!d)
		return ais_errf(errmsg, -errno, "%s: %s", what,
				strerror(errno));
	while (!rc && (e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (l < 5 || strcmp(e->d_name + l - 4, ".pem") ||
		    e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		rc = load_ca(ctx, file, errmsg);
		n++;
	}
	closedir(d);
	if (!rc && n == 0)
		rc = ais_errf(errmsg, -ENOENT, "%s: no *.pem file in it", what);
	return rc;
}

/* Beyond the chain to the CA: the certificate shown must be a node's
 * (subject OU=NODE_OU, as `ais tls cert` and `ais local up` make them),
 * so that a CA that also signs other things (shared by clusters, a
 * company's) does not make those things nodes. */
static int verify_node(int ok, X509_STORE_CTX *x)
{
	X509_NAME *name;
	char ou[64] = "";

	if (!ok || X509_STORE_CTX_get_error_depth(x) != 0)
		return ok;
	name = X509_get_subject_name(X509_STORE_CTX_get_current_cert(x));
	if (X509_NAME_get_text_by_NID(name, NID_organizationalUnitName, ou,
				      sizeof(ou)) > 0 &&
	    strcmp(ou, NODE_OU) == 0)
		return 1;
	X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

static int make_ctx(enum ais_tls_role role, const char *ca, const char *cert,
		    const char *key, SSL_CTX **out, char *errmsg)
{
	SSL_CTX *ctx;
	char what[PATH_MAX + 64];
	int rc;

	*out = NULL;
	if (!ca || !*ca)
		return ais_errf(errmsg, -EINVAL, "tls: no CA file given");
	if (role == AIS_TLS_SERVER && (!cert || !key))
		return ais_errf(errmsg, -EINVAL,
				"tls: a node needs tls_cert_file and "
				"tls_key_file");
	if ((cert == NULL) != (key == NULL))
		return ais_errf(errmsg, -EINVAL,
				"tls: a certificate needs its key, and a key "
				"its certificate");
	if (key && (rc = check_key_mode(key, errmsg)))
		return rc;
	ERR_clear_error();
	ctx = SSL_CTX_new(role == AIS_TLS_SERVER ? TLS_server_method()
						 : TLS_client_method());
	if (!ctx)
		return ssl_errf(errmsg, -ENOMEM, "tls context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_ciphersuites(ctx, CIPHERSUITES)) {
		rc = ssl_errf(errmsg, -EINVAL, "tls cipher suites");
		goto err;
	}
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	rc = load_ca(ctx, ca, errmsg);
	if (rc)
		goto err;
	if (cert) {
		snprintf(what, sizeof(what), "tls_cert_file %s", cert);
		if (access(cert, R_OK) < 0) {
			rc = ais_errf(errmsg, -errno, "%s: %s", what,
				      strerror(errno));
			goto err;
		}
		if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
			rc = ssl_errf(errmsg, -EINVAL, what);
			goto err;
		}
		snprintf(what, sizeof(what), "tls_key_file %s", key);
		if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) &&
		    ERR_GET_REASON(ERR_peek_last_error()) !=
			X509_R_KEY_VALUES_MISMATCH) {
			rc = ssl_errf(errmsg, -EINVAL, what);
			goto err;
		}
		if (!SSL_CTX_check_private_key(ctx)) {
			rc = ais_errf(errmsg, -EINVAL,
				      "tls_key_file %s is not the key of "
				      "tls_cert_file %s",
				      key, cert);
			ERR_clear_error();
			goto err;
		}
	}
	/* A server asks for a certificate but takes a client without one
	 * (tokens are its proof); one it is shown must verify. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_node);
	SSL_CTX_set_verify_depth(ctx, 4);
	*out = ctx;
	return 0;
err:
	SSL_CTX_free(ctx);
	return rc;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int ais_tls_new(enum ais_tls_role role, const struct ais_tls_files *f,
		struct ais_tls **out, char *errmsg)
{
	struct ais_tls *t;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	t->role = role;
	t->ca = dup_or_null(f->ca_file);
	t->cert = dup_or_null(f->cert_file);
	t->key = dup_or_null(f->key_file);
	if ((f->ca_file && !t->ca) || (f->cert_file && !t->cert) ||
	    (f->key_file && !t->key)) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto err;
	}
	rc = make_ctx(role, t->ca, t->cert, t->key, &t->ctx, errmsg);
	if (rc)
		goto err;
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
err:
	free(t->ca);
	free(t->cert);
	free(t->key);
	free(t);
	return rc;
}

int ais_tls_reload(struct ais_tls *t, char *errmsg)
{
	SSL_CTX *ctx, *old;
	int rc;

	rc = make_ctx(t->role, t->ca, t->cert, t->key, &ctx, errmsg);
	if (rc)
		return rc;
	pthread_mutex_lock(&t->lock);
	old = t->ctx;
	t->ctx = ctx;
	pthread_mutex_unlock(&t->lock);
	SSL_CTX_free(old); /* sessions made from it hold a reference */
	return 0;
}

static void name_of(X509 *x, char *out, size_t cap)
{
	if (!x) {
		snprintf(out, cap, "-");
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(x), out, (int)cap);
}

void ais_tls_describe(struct ais_tls *t, char *out, size_t cap)
{
	pthread_mutex_lock(&t->lock);
	name_of(SSL_CTX_get0_certificate(t->ctx), out, cap);
	pthread_mutex_unlock(&t->lock);
}

void ais_tls_free(struct ais_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	pthread_mutex_destroy(&t->lock);
	free(t->ca);
	free(t->cert);
	free(t->key);
	free(t);
}

struct ais_tls_conn *ais_tls_conn_new(struct ais_tls *t)
{
	struct ais_tls_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_lock(&t->lock);
	c->ssl = SSL_new(t->ctx);
	pthread_mutex_unlock(&t->lock);
	c->rb = BIO_new(BIO_s_mem());
	c->wb = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rb || !c->wb) {
		SSL_free(c->ssl);
		BIO_free(c->rb);
		BIO_free(c->wb);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	/* An empty read BIO means "more to come", not end of file. */
	BIO_set_mem_eof_return(c->rb, -1);
	SSL_set_bio(c->ssl, c->rb, c->wb);
	if (t->role == AIS_TLS_SERVER)
		SSL_set_accept_state(c->ssl);
	else
		SSL_set_connect_state(c->ssl);
	return c;
}

void ais_tls_conn_free(struct ais_tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl);
	free(c->stage);
	free(c);
}

int ais_tls_conn_feed(struct ais_tls_conn *c, const void *p, size_t n)
{
	while (n > 0) {
		int part = n > INT_MAX ? INT_MAX : (int)n;
		int w = BIO_write(c->rb, p, part);

		if (w <= 0) {
			ERR_clear_error();
			return -ENOMEM;
		}
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

/* What a failed SSL call (ret) means: 0 to wait for ciphertext, else
 * -errno with errmsg. */
static int ssl_fail(struct ais_tls_conn *c, int ret, const char *what,
		    char *errmsg)
{
	char r[256];
	long v;

	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		ERR_clear_error();
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return ais_errf(errmsg, -ECONNRESET, "%s: the peer closed",
				what);
	default:
		break;
	}
	v = SSL_get_verify_result(c->ssl);
	if (v != X509_V_OK) {
		ERR_clear_error();
		return ais_errf(errmsg, -EACCES,
				"%s: certificate verify failed: %s", what,
				X509_verify_cert_error_string(v));
	}
	return ais_errf(errmsg, -EPROTO, "%s: %s", what,
			ssl_reason(r, sizeof(r)));
}

int ais_tls_conn_handshake(struct ais_tls_conn *c, char *errmsg)
{
	int ret;

	if (c->ready)
		return 1;
	ERR_clear_error();
	ret = SSL_do_handshake(c->ssl);
	if (ret == 1) {
		c->ready = true;
		c->node = SSL_get0_peer_certificate(c->ssl) != NULL &&
			  SSL_get_verify_result(c->ssl) == X509_V_OK;
		return 1;
	}
	return ssl_fail(c, ret, "TLS handshake", errmsg);
}

bool ais_tls_conn_ready(const struct ais_tls_conn *c)
{
	return c->ready;
}

ssize_t ais_tls_conn_read(struct ais_tls_conn *c, void *buf, size_t cap,
			  char *errmsg)
{
	int ret, rc;

	if (!c->ready) {
		rc = ais_tls_conn_handshake(c, errmsg);
		if (rc <= 0)
			return rc;
	}
	if (cap == 0)
		return 0;
	ERR_clear_error();
	ret = SSL_read(c->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	if (ret > 0)
		return ret;
	return ssl_fail(c, ret, "TLS", errmsg);
}

bool ais_tls_conn_pending(const struct ais_tls_conn *c)
{
	const uint8_t *p;
	long n;

	if (SSL_pending(c->ssl) > 0)
		return true;
	/* A whole record fed and not yet decrypted (a part of one is not:
	 * its rest must come from the socket first). What was fed starts at
	 * a record's header: OpenSSL reads one record at a time (no
	 * read-ahead), and every feed is followed by reads until it wants
	 * more. */
	n = BIO_get_mem_data(c->rb, (char **)&p);
	return n >= 5 && (size_t)n >= 5 + ((size_t)p[3] << 8 | p[4]);
}

int ais_tls_conn_write(struct ais_tls_conn *c, const void *p, size_t len,
		       char *errmsg)
{
	int ret, rc;

	if (!c->ready)
		return ais_errf(errmsg, -EPROTO,
				"TLS: a write before the handshake");
	while (len > 0) {
		int part = len > CHUNK ? CHUNK : (int)len;

		ERR_clear_error();
		ret = SSL_write(c->ssl, p, part);
		if (ret <= 0) {
			rc = ssl_fail(c, ret, "TLS", errmsg);
			return rc ? rc : -EPROTO;
		}
		p = (const uint8_t *)p + ret;
		len -= (size_t)ret;
	}
	return 0;
}

size_t ais_tls_conn_out(struct ais_tls_conn *c, const uint8_t **p)
{
	if (c->stage_off == c->stage_len) {
		size_t pend = BIO_ctrl_pending(c->wb);
		int n;

		c->stage_off = c->stage_len = 0;
		if (pend == 0) {
			*p = NULL;
			return 0;
		}
		/* Only as big as what waits (a small answer, a handshake). */
		if (pend > STAGE_MAX)
			pend = STAGE_MAX;
		if (!c->stage) {
			c->stage = malloc(pend);
			c->stage_cap = pend;
			if (!c->stage) {
				*p = NULL;
				return 0;
			}
		}
		n = BIO_read(c->wb, c->stage,
			     (int)(pend < c->stage_cap ? pend : c->stage_cap));
		if (n <= 0) {
			ERR_clear_error();
			*p = NULL;
			return 0;
		}
		c->stage_len = (size_t)n;
	}
	*p = c->stage + c->stage_off;
	return c->stage_len - c->stage_off;
}

void ais_tls_conn_out_done(struct ais_tls_conn *c, size_t n)
{
	c->stage_off += n;
	if (c->stage_off >= c->stage_len && BIO_ctrl_pending(c->wb) == 0) {
		/* An idle connection keeps no staging buffer. */
		free(c->stage);
		c->stage = NULL;
		c->stage_off = c->stage_len = 0;
	}
}

bool ais_tls_conn_peer_is_node(const struct ais_tls_conn *c)
{
	return c->ready && c->node;
}

void ais_tls_conn_peer_name(const struct ais_tls_conn *c, char *out, size_t cap)
{
	name_of(SSL_get0_peer_certificate(c->ssl), out, cap);
}

/* -- Blocking helpers ---------------------------------------------------- */

static int wait_ready(int fd, short events, int timeout_ms)
{
	int rc = ais_wait_fd(fd, events, timeout_ms);

	if (rc == 0)
		return -ETIMEDOUT;
	return rc < 0 ? rc : 0;
}

/* A thread's own buffers for the blocking helpers (THREAD_BUF bytes:
 * ciphertext to send, then plaintext read from a file), made once per
 * thread: a buffer per call or per connection would be allocated and
 * freed for every 64 KiB sent. A record at a time: a node has a hundred
 * threads, and each keeps its buffer. NULL on ENOMEM. */
#define PIECE	   (16 * 1024 + 512) /* a record and its overhead */
#define THREAD_BUF (2 * PIECE)
static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void buf_key_make(void)
{
	(void)pthread_key_create(&buf_key, free);
}

static uint8_t *thread_buf(void)
{
	uint8_t *b;

	pthread_once(&buf_once, buf_key_make);
	b = pthread_getspecific(buf_key);
	if (!b) {
		b = malloc(THREAD_BUF);
		if (b && pthread_setspecific(buf_key, b)) {
			free(b);
			b = NULL;
		}
	}
	return b;
}

/* Sends all len bytes of p (blocking, as ais_tls_flush). */
static int send_all(int fd, const uint8_t *p, size_t len, int timeout_ms)
{
	ssize_t n;
	int rc;

	while (len > 0) {
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
		rc = wait_ready(fd, POLLOUT, timeout_ms);
		if (rc)
			return rc;
	}
	return 0;
}

int ais_tls_flush(struct ais_tls_conn *c, int fd, int timeout_ms)
{
	uint8_t *buf = thread_buf();
	const uint8_t *p;
	size_t len;
	int n, rc;

	/* What a non-blocking send left in the connection's staging buffer
	 * goes first. */
	if (c->stage_off < c->stage_len) {
		len = ais_tls_conn_out(c, &p);
		rc = send_all(fd, p, len, timeout_ms);
		if (rc)
			return rc;
		ais_tls_conn_out_done(c, len);
	}
	if (!buf) {
		while ((len = ais_tls_conn_out(c, &p)) > 0) {
			rc = send_all(fd, p, len, timeout_ms);
			if (rc)
				return rc;
			ais_tls_conn_out_done(c, len);
		}
		return 0;
	}
	/* The rest through this thread's buffer: nothing allocated. */
	while (BIO_ctrl_pending(c->wb) > 0) {
		n = BIO_read(c->wb, buf, PIECE);
		if (n <= 0) {
			ERR_clear_error();
			return -ENOMEM;
		}
		rc = send_all(fd, buf, (size_t)n, timeout_ms);
		if (rc)
			return rc;
	}
	if (c->stage && c->stage_off == c->stage_len) {
		free(c->stage);
		c->stage = NULL;
		c->stage_off = c->stage_len = 0;
	}
	return 0;
}

/* Reads what the socket has (waiting up to timeout_ms for something) into
 * the session. 0, -ECONNRESET on EOF, or -errno. */
static int pull(struct ais_tls_conn *c, int fd, int timeout_ms)
{
	uint8_t raw[RAW_READ];
	ssize_t n;
	int rc;

	for (;;) {
		n = recv(fd, raw, sizeof(raw), MSG_DONTWAIT);
		if (n > 0)
			return ais_tls_conn_feed(c, raw, (size_t)n);
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		rc = wait_ready(fd, POLLIN, timeout_ms);
		if (rc)
			return rc;
	}
}

int ais_tls_handshake_fd(struct ais_tls_conn *c, int fd, int timeout_ms,
			 char *errmsg)
{
	int rc, hs;

	for (;;) {
		hs = ais_tls_conn_handshake(c, errmsg);
		/* The last flight (or a failure's alert) goes out either way.
		 */
		rc = ais_tls_flush(c, fd, timeout_ms);
		if (hs < 0)
			return hs;
		if (rc)
			return ais_errf(errmsg, rc, "TLS handshake: %s",
					rc == -ETIMEDOUT ? "no progress"
							 : strerror(-rc));
		if (hs == 1)
			return 0;
		rc = pull(c, fd, timeout_ms);
		if (rc == -ECONNRESET)
			return ais_errf(errmsg, -ECONNRESET,
					"TLS handshake: the peer closed the "
					"connection (does it speak TLS, and "
					"take this cluster's certificates?)");
		if (rc)
			return ais_errf(errmsg, rc, "TLS handshake: %s",
					rc == -ETIMEDOUT ? "no answer"
							 : strerror(-rc));
	}
}

int ais_tls_send(struct ais_tls_conn *c, int fd, const void *buf, size_t len,
		 int timeout_ms)
{
	const uint8_t *p = buf;
	int rc;

	/* Encrypt and send a chunk at a time: the ciphertext waiting in the
	 * session stays small. */
	do {
		size_t part = len > CHUNK ? CHUNK : len;

		rc = part ? ais_tls_conn_write(c, p, part, NULL) : 0;
		if (!rc)
			rc = ais_tls_flush(c, fd, timeout_ms);
		if (rc)
			return rc;
		p += part;
		len -= part;
	} while (len > 0);
	return 0;
}

ssize_t ais_tls_recv(struct ais_tls_conn *c, int fd, void *buf, size_t len,
		     int timeout_ms)
{
	ssize_t n;
	int rc;

	for (;;) {
		n = ais_tls_conn_read(c, buf, len, NULL);
		if (n != 0)
			return n;
		if (len == 0)
			return 0;
		/* A handshake message may want an answer. */
		rc = ais_tls_flush(c, fd, timeout_ms);
		if (rc)
			return rc;
		rc = pull(c, fd, timeout_ms);
		if (rc)
			return rc;
	}
}

int ais_tls_sendfile(struct ais_tls_conn *c, int fd, int ffd, uint64_t off,
		     uint64_t len, int timeout_ms)
{
	uint8_t *tb = thread_buf(), *buf;
	int rc = 0;

	/* The plaintext goes in the second half of the thread's buffer (the
	 * first is ais_tls_flush's). */
	if (!tb)
		return -ENOMEM;
	buf = tb + PIECE;
	while (len > 0) {
		size_t want = len > PIECE ? PIECE : (size_t)len;
		ssize_t n = pread(ffd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0) {
			rc = -ENODATA;
			break;
		}
		rc = ais_tls_send(c, fd, buf, (size_t)n, timeout_ms);
		if (rc)
			break;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return rc;
}

/* -- Sessions by fd ------------------------------------------------------ */

static _Atomic(struct ais_tls_conn *) *fd_table;
static pthread_once_t fd_once = PTHREAD_ONCE_INIT;

static void fd_table_init(void)
{
	/* Untouched pages of it cost nothing. */
	fd_table = calloc(FD_TABLE, sizeof(*fd_table));
}

int ais_tls_fd_set(int fd, struct ais_tls_conn *c)
{
	pthread_once(&fd_once, fd_table_init);
	if (!fd_table)
		return -ENOMEM;
	if (fd < 0 || fd >= FD_TABLE)
		return -EMFILE;
	atomic_store(&fd_table[fd], c);
	return 0;
}

struct ais_tls_conn *ais_tls_fd_get(int fd)
{
	/* fd_table is set once, before the first session is registered;
	 * a program that never registered one has none to find. */
	if (!fd_table || fd < 0 || fd >= FD_TABLE)
		return NULL;
	return atomic_load(&fd_table[fd]);
}

void ais_tls_fd_close(int fd)
{
	if (fd < 0)
		return;
	if (fd_table && fd < FD_TABLE)
		ais_tls_conn_free(atomic_exchange(&fd_table[fd], NULL));
	close(fd);
}

/* -- Certificates -------------------------------------------------------- */

static int write_pem(const char *path, mode_t mode, X509 *x, EVP_PKEY *k,
		     char *errmsg)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return ais_errf(errmsg, -ENAMETOOLONG, "%s: path too long",
				path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return ais_errf(errmsg, -errno, "%s: %s", tmp, strerror(errno));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	ok = x ? PEM_write_X509(f, x)
	       : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0) {
		int e = ok && errno ? errno : EIO;

		unlink(tmp);
		ERR_clear_error();
		return ais_errf(errmsg, -e, "%s: %s", path, strerror(e));
	}
	return 0;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate of key k with subject CN=cn, issued by issuer (NULL:
 * itself; the caller signs it), valid for days from an hour ago (clocks
 * of a cluster differ a little). NULL on failure. */
static X509 *new_cert(EVP_PKEY *k, const char *cn, X509 *issuer, int days)
{
	/* A node's certificate says so (verify_node); a CA's does not. */
	const char *ou = issuer ? NODE_OU : "aisfs CA";
	X509 *x = X509_new();
	BIGNUM *bn = BN_new();
	X509_NAME *name;
	bool ok;

	ok = x && bn && X509_set_version(x, 2) && BN_rand(bn, 127, 0, 0) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) &&
	     X509_set_pubkey(x, k);
	if (ok) {
		name = X509_get_subject_name(x);
		ok = X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
						(const unsigned char *)"aisfs",
						-1, -1, 0) &&
		     X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
						(const unsigned char *)ou, -1,
						-1, 0) &&
		     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
						(const unsigned char *)cn, -1,
						-1, 0) &&
		     X509_set_issuer_name(
			 x, issuer ? X509_get_subject_name(issuer) : name);
	}
	if (ok && !issuer)
		ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
		     add_ext(x, x, NID_key_usage,
			     "critical,keyCertSign,cRLSign") &&
		     add_ext(x, x, NID_subject_key_identifier, "hash");
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static EVP_PKEY *new_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

int ais_tls_make_ca(const char *cert_path, const char *key_path, const char *cn,
		    int days, char *errmsg)
{
	EVP_PKEY *k;
	X509 *x = NULL;
	int rc;

	ERR_clear_error();
	k = new_key();
	if (k)
		x = new_cert(k, cn, NULL, days);
	if (!x || !X509_sign(x, k, EVP_sha256())) {
		rc = ssl_errf(errmsg, -ENOMEM, "making the CA");
		goto out;
	}
	rc = write_pem(key_path, 0600, NULL, k, errmsg);
	if (!rc)
		rc = write_pem(cert_path, 0644, x, NULL, errmsg);
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

static X509 *read_cert(const char *path, char *errmsg)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (!f) {
		ais_errf(errmsg, -errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		ssl_errf(errmsg, -EINVAL, path);
	return x;
}

static EVP_PKEY *read_key(const char *path, char *errmsg)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (!f) {
		ais_errf(errmsg, -errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		ssl_errf(errmsg, -EINVAL, path);
	return k;
}

/* "IP:127.0.0.1,DNS:localhost" for sans[], into out. */
static int san_list(const char *const *sans, size_t n, char *out, size_t cap,
		    char *errmsg)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		unsigned char a[16];
		bool ip = inet_pton(AF_INET, sans[i], a) == 1 ||
			  inet_pton(AF_INET6, sans[i], a) == 1;
		int w;

		if (!sans[i][0] || (strpbrk(sans[i], ", \t\n:") && !ip))
			return ais_errf(errmsg, -EINVAL,
					"bad host name for a certificate: "
					"'%s'",
					sans[i]);
		w = snprintf(out + used, cap - used, "%s%s:%s", used ? "," : "",
			     ip ? "IP" : "DNS", sans[i]);
		if (w < 0 || (size_t)w >= cap - used)
			return ais_errf(errmsg, -E2BIG,
					"too many names for a certificate");
		used += (size_t)w;
	}
	return 0;
}

int ais_tls_make_cert(const char *ca_cert, const char *ca_key,
		      const char *cert_path, const char *key_path,
		      const char *cn, const char *const *sans, size_t nsans,
		      int days, char *errmsg)
{
	char san[4096];
	EVP_PKEY *cak = NULL, *k = NULL;
	X509 *ca = NULL, *x = NULL;
	int rc;

	rc = san_list(sans, nsans, san, sizeof(san), errmsg);
	if (rc)
		return rc;
	ERR_clear_error();
	ca = read_cert(ca_cert, errmsg);
	if (!ca)
		return -EINVAL;
	cak = read_key(ca_key, errmsg);
	if (!cak) {
		rc = -EINVAL;
		goto out;
	}
	k = new_key();
	if (k)
		x = new_cert(k, cn, ca, days);
	if (!x || !add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, ca, NID_key_usage,
		     "critical,digitalSignature,keyEncipherment") ||
	    !add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    !add_ext(x, ca, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, ca, NID_authority_key_identifier, "keyid") ||
	    (san[0] && !add_ext(x, ca, NID_subject_alt_name, san)) ||
	    !X509_sign(x, cak, EVP_sha256())) {
		rc = ssl_errf(errmsg, -EINVAL, "making a certificate");
		goto out;
	}
	rc = write_pem(key_path, 0600, NULL, k, errmsg);
	if (!rc)
		rc = write_pem(cert_path, 0644, x, NULL, errmsg);
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cak);
	return rc;
}

int64_t ais_tls_cert_seconds_left(const char *path, char *errmsg)
{
	X509 *x = read_cert(path, errmsg);
	int days = 0, secs = 0;
	int64_t left = INT64_MIN;

	if (!x)
		return INT64_MIN;
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
		left = (int64_t)days * 86400 + secs;
	else
		ais_errf(errmsg, -EINVAL, "%s: bad expiry time", path);
	X509_free(x);
	return left;
}

int ais_tls_cert_id(const char *path, char out[17], char *errmsg)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	X509 *x = read_cert(path, errmsg);

	if (!x)
		return -EINVAL;
	if (!X509_digest(x, EVP_sha256(), md, &len) || len < 8) {
		X509_free(x);
		return ais_errf(errmsg, -EINVAL, "%s: cannot hash it", path);
	}
	X509_free(x);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}
