/* Internal to daemon/s3/: one connection and one request of the S3
 * endpoint, the HTTP side (http.c: heads, bodies, answers), the
 * signatures (auth.c), and the operations (bucket.c, object.c, list.c,
 * xml.c). */
#ifndef AISD_S3_S3_I_H
#define AISD_S3_S3_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <http_parser.h>
#include <uv.h>

#include "client.h"
#include "objmeta.h"
#include "util.h"

#include "net/sock_io.h"
#include "net/workpool.h"
#include "s3/s3.h"
#include "s3/sigv4.h"

#define S3_HEAD_MAX  (32 * 1024) /* request line and headers */
#define S3_BUF	     (64 * 1024) /* socket reads, decoded body */
#define S3_HDRS_MAX  128
#define S3_QUERY_MAX 64
#define S3_THREADS   64
#define S3_META_MAX  2048 /* x-amz-meta-* in all, as S3 */
#define S3_SKEW_S    900  /* a signed request's time may be this far off */
#define S3_PUT_MAX   (5ull << 30) /* a chunked body of unknown length */
/* An answer's head: the object's kept headers and ours. */
#define S3_ANSWER_HEAD_MAX (AIS_OBJ_EXT_MAX + 8192)
/* The loop's own arena for heads it parses (2 x the largest head). */
#define S3_ARENA_MAX (2 * S3_HEAD_MAX + 256)

struct s3_conn;

struct s3 {
	struct aisd *d;
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_timer_t sweep;
	uv_timer_t drain;
	uv_signal_t sigterm, sigint;
	pthread_t thr;
	struct workpool *pool;
	struct s3_conn *conns; /* list */
	unsigned nconns;
	bool stopping;
	bool aux_closed;
	bool drain_timed_out;
	uint64_t io_timeout_ns, idle_timeout_ns;
	char where[96]; /* "0.0.0.0:8080" */
	/* The cluster client the requests share (made at the first one:
	 * the node's own port must be serving). */
	pthread_mutex_t mu;
	struct ais_client *client;
	uint64_t last_accept_warn;
	atomic_ulong requests;
	atomic_ulong inlined; /* of them, answered on the loop */
	/* The loop thread's own: a request it tries (s3_try_inline), its
	 * arena, and the answer it builds. */
	struct s3_req *ireq;
	char *iarena;
	uint8_t *ibuf; /* S3_ANSWER_HEAD_MAX + S3_INLINE_MAX + 2 blocks */
	/* With TLS (the node's d->tls_server): the loop's reads land here
	 * (S3_BUF) and are decrypted into the connection's buf at once. */
	uint8_t *tls_rbuf;
};

struct s3_req;

struct s3_conn {
	uv_tcp_t tcp;
	struct s3 *s;
	struct s3_conn *prev, *next;
	char peer[64];
	uint8_t *buf; /* bytes read: the head, then the body or the next */
	size_t len, cap;
	size_t pos;	/* parsed up to */
	size_t scanned; /* searched for the head's end up to */
	bool reading, lent, closing;
	int fd; /* the socket, for the worker */
	uint64_t last_ns;
	struct workpool_item witem;
	http_parser parser;
	struct s3_req *req; /* the worker's */
	uint8_t *body;	    /* S3_BUF: decoded body bytes */
	uint8_t *tail;	    /* S3_INLINE_TAIL: what is left to send */
	size_t tail_len;
	bool tail_close; /* close once it is sent */
	/* HTTPS: the session (NULL: plain HTTP). buf holds plaintext; the
	 * worker reads and writes through the session (r->io.tls). */
	struct ais_tls_conn *tls;
	bool tls_started; /* its first bytes arrived */
	bool tail_tls;	  /* S3_INLINE_TAIL: the rest waits, encrypted, in
			     the session (no tail buffer) */
};

/* One request, on the worker thread. */
struct s3_req {
	struct s3 *s;
	struct s3_conn *c;
	struct sock_io io;
	/* The head. Strings live in arena. */
	int method; /* enum http_method */
	const char *method_name;
	char *path;   /* as sent ("/bucket/key"), without the query */
	char *bucket; /* decoded; "" for the service */
	char *key;    /* decoded; "" for a bucket */
	struct s3_kv q[S3_QUERY_MAX];
	size_t nq;
	struct s3_kv h[S3_HDRS_MAX];
	size_t nh;
	bool has_length;
	uint64_t content_length;
	bool chunked;
	bool keep_alive;
	bool expect_100;
	/* The body as http_parser decodes it. */
	size_t body_len, body_off;
	bool body_done, body_started, sent_100;
	int body_err; /* -errno once reading broke */
	/* The answer. */
	bool answered; /* a whole answer (or its head) went out */
	bool close;    /* close the connection after it */
	int status;
	char id[17]; /* x-amz-request-id */
	/* Who signed it (access_key "" for an anonymous request), and the
	 * user its key acts as ("" for a key of a cluster without auth). */
	struct sigv4_auth auth;
	char user[AIS_USER_MAX + 2];
	uint8_t key32[32];
	bool streaming; /* aws-chunked body with chunk signatures */
	const char *payload_hash;
	/* The head's strings. */
	char *arena;
	size_t arena_len, arena_cap;
	/* Parser state while the head is parsed. */
	int last_cb;
	char errmsg[AIS_ERRMSG_LEN];
};

/* ---- http.c ---------------------------------------------------------- */

/* Parses the head in c->buf[0, end) into r (r->arena: the caller's of
 * S3_ARENA_MAX bytes, or NULL to allocate one); c->pos gets what the
 * parser took. 0, or -1 with r->errmsg (malformed). */
int s3_parse_head(struct s3_req *r, size_t end);
/* An answer's head into buf (cap): its length, or -E2BIG. */
long s3_format_head(struct s3_req *r, int status, const char *extra,
		    long long len, char *buf, size_t cap);
void s3_request_id(char out[17]);

/* The value of header name (lowercase) or query parameter name, or
 * NULL. */
const char *s3_header(const struct s3_req *r, const char *name);
const char *s3_query(const struct s3_req *r, const char *name);
bool s3_has_query(const struct s3_req *r, const char *name);

/* Encrypts len bytes into c's TLS session and sends what the socket takes
 * without waiting (the loop's answers): 0 when all went, 1 when some waits
 * in the session (a worker sends it: c->tail_tls), or a libuv error
 * (< 0). */
int s3_tls_try_write(struct s3_conn *c, const void *p, size_t len);

/* The cluster client (NULL with errmsg while the node cannot make one). */
struct ais_client *s3_client(struct s3 *s, char *errmsg);

/* The interim "100 Continue" a client that sent Expect: 100-continue
 * waits for, once (before the first body byte is read, or as the
 * operation that takes a body starts: also for an empty one, which some
 * clients wait for too). 0 or -errno. */
int s3_send_continue(struct s3_req *r);

/* Up to cap bytes of the request's body (decoded from chunked transfer
 * encoding; aws-chunked is object.c's). > 0, 0 at its end, or -errno. */
ssize_t s3_body_read(struct s3_req *r, void *buf, size_t cap);

/* Sends the head of an answer: status, the headers in extra ("Name:
 * value\r\n" each, may be NULL), Content-Length: len (when len >= 0).
 * more: the body follows at once (MSG_MORE). 0 or -errno. */
int s3_send_head(struct s3_req *r, int status, const char *extra, long long len,
		 bool more);
/* A whole answer with a body (type: its Content-Type, NULL: none). */
int s3_send(struct s3_req *r, int status, const char *extra, const char *type,
	    const void *body, size_t len);
/* An S3 error answer: <Error><Code>code</Code><Message>... */
int s3_error(struct s3_req *r, int status, const char *code, const char *fmt,
	     ...) __attribute__((format(printf, 4, 5)));
/* An error of the cluster (a libais -errno and its message) as S3's. */
int s3_error_errno(struct s3_req *r, int rc, const char *errmsg, bool bucket);

/* ---- auth.c ---------------------------------------------------------- */

/* Checks the request's signature (header or presigned) against the
 * cluster's keys, and whether an unsigned request may do what it asks.
 * 0, or the S3 error already answered (< 0). */
int s3_authenticate(struct s3_req *r);
/* The same without an answer: 0, or -1 with why in *f (quiet: no log
 * line for a bad signature, the loop's attempt). */
struct s3_fail {
	bool quiet;
	int status;
	const char *code;
	char msg[AIS_ERRMSG_LEN + 64];
};
int s3_auth_check(struct s3_req *r, struct s3_fail *f);
/* Its first part, which needs no keys nor clock: the signature's claim
 * read from the head into r->auth, r->payload_hash and r->streaming. 0
 * signed, 1 unsigned (the anonymous rules apply), or -1 with *f. */
int s3_auth_parse(struct s3_req *r, struct s3_fail *f);
/* The signature of r with r->key32 over its path made canonical, or over
 * the path as sent when that one does not match r->auth.signature. 0 with
 * sig (and the canonical request in creq, cap bytes), or -ENOMEM /
 * sigv4_sign's error with em. */
int s3_auth_sign(struct s3_req *r, char sig[65], char *creq, size_t cap,
		 char *em);

/* Whether the request's user has right need (an AIS__RIGHT__*) on bucket:
 * 0, or -1 with f filled (AccessDenied, saying why). Unsigned requests
 * (as far as s3_anonymous allows them) have the rights of user
 * S3_ANON_USER; on a cluster without auth everything passes. */
int s3_may(struct s3_req *r, const char *bucket, int need, struct s3_fail *f);
#define S3_ANON_USER "anonymous"
/* s3_may that answers the refusal itself: 0 or -1 (answered). */
int s3_authorize(struct s3_req *r, const char *bucket, int need);

/* ---- ops ------------------------------------------------------------- */

/* ---- inline.c: GET and HEAD answered on the loop ----------------------- */

/* The request whose head ends at end in c->buf, answered on the loop
 * thread when that needs no waiting: an unconditional GET (of at most
 * S3_INLINE_MAX bytes) or HEAD of an object this node holds the first
 * copy of, its blocks in the page cache and checked, its answer taken by
 * the socket at once. S3_INLINE_DONE (c->pos past the request),
 * S3_INLINE_CLOSE (answered; close the connection), S3_INLINE_TAIL
 * (c->tail holds what the socket did not take, or with TLS c->tail_tls:
 * it waits in the session; a worker sends it), or
 * S3_INLINE_NO (nothing done: a worker runs the request). */
#define S3_INLINE_MAX (64 * 1024)
enum { S3_INLINE_NO, S3_INLINE_DONE, S3_INLINE_CLOSE, S3_INLINE_TAIL };
int s3_try_inline(struct s3_conn *c, size_t end);
/* The loop's buffers for it (s3_start, s3_stop). */
int s3_inline_init(struct s3 *s);
void s3_inline_free(struct s3 *s);

/* Runs the request (its head parsed and authenticated). */
void s3_dispatch(struct s3_req *r);

/* XML helpers (xml.c). */
struct s3_xml {
	char *p;
	size_t len, cap;
	bool fail;
};
void s3_xml_raw(struct s3_xml *x, const char *s);
void s3_xml_text(struct s3_xml *x, const char *s); /* escaped */
void s3_xml_elem(struct s3_xml *x, const char *tag, const char *text);
void s3_xml_printf(struct s3_xml *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void s3_xml_free(struct s3_xml *x);
int s3_send_xml(struct s3_req *r, int status, struct s3_xml *x);

/* Parses a request body's XML: calls elem(arg, path, text) for every
 * element with text, path being its tags from the root joined by '/'
 * ("Delete/Object/Key"), and start(arg, path) as each opens (may be
 * NULL). 0 or -EINVAL with errmsg. */
int s3_xml_parse(const char *body, size_t len,
		 void (*start)(void *arg, const char *path),
		 void (*elem)(void *arg, const char *path, const char *text),
		 void *arg, char *errmsg);

/* Times: "Sun, 06 Dec 2026 03:30:50 GMT" and "2026-12-06T03:30:50.000Z". */
void s3_http_date(int64_t ns, char *out, size_t cap);
void s3_iso_date(int64_t ns, char *out, size_t cap);
/* An HTTP date as ns since the epoch, or -1. */
int64_t s3_parse_http_date(const char *s);

/* ---- payload.c --------------------------------------------------------- */

/* A request's payload, checked as it streams (see payload.c). */
struct s3_payload {
	struct s3_req *r;
	uint64_t total; /* the payload's length (unknown: UINT64_MAX) */
	bool unknown;	/* a chunked body without a length */
	uint64_t done;	/* handed over */
	bool aws_chunked, signed_chunks, in_chunk, ended;
	uint64_t chunk_left;
	char chunk_sig[65], prev_sig[65];
	char want_sha[65]; /* a signed plain payload's SHA-256 */
	void *sha;	   /* EVP_MD_CTX */
	uint8_t *raw;	   /* aws-chunked: the body's bytes */
	size_t raw_len, raw_off;
	char *line;
	/* Why it failed (status 0: the socket's error in rc). */
	int rc, status;
	const char *code;
	char msg[256];
};

/* 0, or the error answered (< 0): no length, bad headers. */
int s3_payload_open(struct s3_req *r, struct s3_payload *p);
/* Up to cap payload bytes: > 0, 0 at its end, or -errno. */
ssize_t s3_payload_read(struct s3_payload *p, void *buf, size_t cap);
void s3_payload_close(struct s3_payload *p);
/* The whole payload (a request's XML), at most max bytes, into a heap
 * buffer with a NUL after it: 0, or the error answered (< 0). */
int s3_payload_slurp(struct s3_payload *p, size_t max, char **out, size_t *len);
/* Answers a failure of an operation fed by p: p's own reason if it broke
 * (a signature, a short body), else rc and errmsg as s3_error_errno. */
int s3_payload_error(struct s3_payload *p, int rc, const char *errmsg);

/* Every header an object's GET or HEAD answers with but the length
 * (Last-Modified, ETag, the kept ones, response-* overrides) appended to h
 * (HDRS_MAX bytes) at *len. */
#define HDRS_MAX (AIS_OBJ_EXT_MAX + 4096)
void s3_object_headers(struct s3_req *r, const struct ais_obj_meta *m,
		       const uint8_t *ext, size_t ext_len, const char *etag,
		       char *h, size_t *len);

/* An object's ETag, quoted: its ObjExt's, else the MD5 checksum, else one
 * made of its checksum and version (no MD5: 16 digits and a dash). */
void s3_obj_etag(const struct ais_obj_meta *m, const uint8_t *ext,
		 size_t ext_len, char *out, size_t cap);

/* ---- object.c: what multipart.c shares -------------------------------- */

/* The request's headers to keep (Content-Type..., x-amz-meta-*) as an
 * encoded ObjExt into out (AIS_OBJ_EXT_MAX): its length, or the error
 * answered (< 0). */
long s3_ext_from_request(struct s3_req *r, uint8_t *out);
/* Content-MD5 as hex into out: 0, 1 none, -1 malformed. */
int s3_content_md5(struct s3_req *r, char out[33]);
/* The source of a copy (x-amz-copy-source) decoded: 0 or -1. */
int s3_copy_source(const char *src, char **bucket, char **key);
/* RFC 9110's conditions (prefix "if-" or "x-amz-copy-source-if-"): 0 to
 * go on, 304 or 412. */
int s3_conditions(struct s3_req *r, const char *prefix, const char *etag,
		  int64_t mtime_ns, bool get);
/* The Range header h (may be NULL) against size: 0 the whole object, 1
 * [*off, *off+*len), -1 unsatisfiable. A malformed or multi-range header
 * is ignored (the whole object), as S3 does. */
int s3_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len);
/* A body of unknown length (chunked) into an unnamed work file on the
 * first mountpath: 0 with *fd (its bytes from offset 0) and *size, or the
 * error answered (< 0). */
int s3_spool(struct s3_req *r, struct s3_payload *p, int *fd, uint64_t *size);
/* An ais_read_cb over a struct s3_payload. */
ssize_t s3_put_src(void *arg, void *buf, size_t len);

/* A copy's source streamed through a pipe by a thread of its own:
 * s3_copy_open (c, bucket, key, off, len; want, the bytes the PUT takes;
 * version and written_ns, the HEAD's) starts it; s3_copy_src is the PUT's
 * source, which hands over the last bytes only once the reader ended
 * cleanly with the version the HEAD saw (a PUT commits at its last byte:
 * a source that changed or failed never becomes an object); s3_copy_close
 * ends it: 0, or the source's -errno (em says why). */
struct s3_copy {
	struct ais_client *c;
	const char *bucket, *key;
	uint64_t off, len;
	uint64_t want, done;
	uint64_t version;
	int64_t written_ns;
	struct ais_obj_meta got_meta;
	int rfd, wfd;
	pthread_t thr;
	bool joined;
	int rc, bad;
	char em[AIS_ERRMSG_LEN];
};
int s3_copy_open(struct s3_copy *f);
ssize_t s3_copy_src(void *arg, void *buf, size_t len);
int s3_copy_close(struct s3_copy *f);

/* ---- bucket.c, object.c, list.c, multipart.c -------------------------- */
void s3_list_uploads(struct s3_req *r);
void s3_create_upload(struct s3_req *r);
void s3_upload_part(struct s3_req *r);
void s3_complete_upload(struct s3_req *r);
void s3_abort_upload(struct s3_req *r);
void s3_list_parts(struct s3_req *r);
void s3_list_buckets(struct s3_req *r);
void s3_bucket_op(struct s3_req *r);
void s3_object_op(struct s3_req *r);
void s3_list_objects(struct s3_req *r);
void s3_delete_objects(struct s3_req *r);

/* Whether bucket exists (this node's snapshot, then a read barrier for a
 * miss): 0, or the NoSuchBucket answer sent (< 0). */
int s3_need_bucket(struct s3_req *r);

#endif
