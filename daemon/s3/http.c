/* The S3 endpoint's HTTP side: its loop and thread, connections, request
 * heads (libhttp-parser), bodies (identity or chunked, Expect:
 * 100-continue), answers, keep-alive and pipelining, timeouts, the drain
 * on SIGTERM. A connection belongs to the loop between requests and to one
 * worker thread during one (as the native server's, net/server.c).
 *
 * HTTPS when the node has TLS (d->tls_server, the native port's
 * configuration): as in net/server.c, the loop decrypts what it reads into
 * the connection's buffer, so that everything after it sees plaintext, and
 * a worker reads and writes through the session (r->io.tls). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "tls.h"

#include "cluster/cluster.h"
#include "s3/s3_i.h"

#define SWEEP_MS 1000
#define DRAIN_MS 30000
/* An error answered before the body was read: a body up to this size is
 * read and dropped to keep the connection, a larger one closes it. */
#define DISCARD_MAX (1u << 20)

static void conn_next(struct s3_conn *c);

/* ---- head parsing (worker) ------------------------------------------- */

enum { CB_NONE, CB_FIELD, CB_VALUE };

/* n bytes into the arena (room was made for the whole head). */
static char *arena_put(struct s3_req *r, const char *s, size_t n)
{
	char *p;

	if (r->arena_len + n + 1 > r->arena_cap)
		return NULL;
	p = r->arena + r->arena_len;
	memcpy(p, s, n);
	p[n] = 0;
	r->arena_len += n + 1;
	return p;
}

/* Appends to the last string put (a header split across callbacks). */
static int arena_append(struct s3_req *r, const char *s, size_t n)
{
	if (r->arena_len + n > r->arena_cap)
		return -1;
	memcpy(r->arena + r->arena_len - 1, s, n);
	r->arena_len += n;
	r->arena[r->arena_len - 1] = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct s3_req *r = p->data;
	char *u;

	/* The URL arrives whole here (the head is parsed in one piece):
	 * kept as a pointer into the arena. */
	u = arena_put(r, at, len);
	if (!u)
		return -1;
	r->path = u;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct s3_req *r = p->data;
	char *n;

	if (r->last_cb == CB_FIELD)
		return arena_append(r, at, len);
	if (r->nh >= S3_HDRS_MAX)
		return -1;
	n = arena_put(r, at, len);
	if (!n)
		return -1;
	r->h[r->nh].name = n;
	r->h[r->nh].value = "";
	r->nh++;
	r->last_cb = CB_FIELD;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct s3_req *r = p->data;
	char *v;

	if (r->last_cb == CB_VALUE)
		return arena_append(r, at, len);
	if (!r->nh)
		return -1;
	v = arena_put(r, at, len);
	if (!v)
		return -1;
	r->h[r->nh - 1].value = v;
	r->last_cb = CB_VALUE;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct s3_req *r = p->data;

	/* The input given to one execute is at most S3_BUF past the head,
	 * so the decoded bytes fit. (No buffer: the loop's attempt at a
	 * request with a body, which a worker takes.) */
	if (!r->c->body || r->body_len + len > S3_BUF)
		return -1;
	memcpy(r->c->body + r->body_len, at, len);
	r->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct s3_req *r = p->data;

	r->body_done = true;
	/* What follows is the next request's: left unparsed. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

const char *s3_header(const struct s3_req *r, const char *name)
{
	for (size_t i = 0; i < r->nh; i++)
		if (!strcmp(r->h[i].name, name))
			return r->h[i].value;
	return NULL;
}

const char *s3_query(const struct s3_req *r, const char *name)
{
	for (size_t i = 0; i < r->nq; i++)
		if (!strcmp(r->q[i].name, name))
			return r->q[i].value;
	return NULL;
}

bool s3_has_query(const struct s3_req *r, const char *name)
{
	return s3_query(r, name) != NULL;
}

/* Splits the target into the path and the decoded query parameters, and
 * the path into bucket and key. 0, or -1 (a 400). */
static int split_target(struct s3_req *r)
{
	char *t = r->path, *qs, *tok, *save = NULL, *dec;
	long n;

	/* The absolute form (a proxy's) keeps only its path. */
	if (!strncasecmp(t, "http://", 7) || !strncasecmp(t, "https://", 8)) {
		t = strchr(strchr(t, ':') + 3, '/');
		if (!t)
			return -1;
	}
	if (t[0] != '/')
		return -1;
	qs = strchr(t, '?');
	if (qs)
		*qs++ = 0;
	r->path = t;
	/* bucket/key, decoded (no '+' for a blank in a path). */
	dec = r->arena + r->arena_len;
	if (r->arena_len + strlen(t) + 1 > r->arena_cap)
		return -1;
	n = s3_uri_decode(t + 1, strlen(t + 1), false, dec);
	if (n < 0)
		return -1;
	r->arena_len += (size_t)n + 1;
	r->bucket = dec;
	r->key = strchr(dec, '/');
	if (r->key)
		*r->key++ = 0;
	else
		r->key = dec + n; /* "" */
	for (tok = qs ? strtok_r(qs, "&", &save) : NULL; tok;
	     tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '='), *name, *value;
		size_t nl = eq ? (size_t)(eq - tok) : strlen(tok);
		size_t vl = eq ? strlen(eq + 1) : 0;

		if (r->nq >= S3_QUERY_MAX ||
		    r->arena_len + nl + vl + 2 > r->arena_cap)
			return -1;
		name = r->arena + r->arena_len;
		n = s3_uri_decode(tok, nl, true, name);
		if (n < 0)
			return -1;
		r->arena_len += (size_t)n + 1;
		value = r->arena + r->arena_len;
		n = eq ? s3_uri_decode(eq + 1, vl, true, value) : 0;
		if (n < 0)
			return -1;
		value[n] = 0;
		r->arena_len += (size_t)n + 1;
		r->q[r->nq].name = name;
		r->q[r->nq].value = value;
		r->nq++;
	}
	return 0;
}

/* Parses the head in c->buf[0, end). 0, or -1 (answered 400 and marked
 * for closing). */
int s3_parse_head(struct s3_req *r, size_t end)
{
	struct s3_conn *c = r->c;
	size_t give = c->len < end + S3_BUF ? c->len : end + S3_BUF;
	const char *v;
	size_t n, i;
	enum http_errno e;

	/* The loop's attempt brings its own arena (S3_ARENA_MAX). */
	if (!r->arena) {
		r->arena_cap = 2 * end + 256;
		r->arena = malloc(r->arena_cap);
		if (!r->arena)
			return -1;
	}
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = r;
	n = http_parser_execute(&c->parser, &settings, (const char *)c->buf,
				give);
	e = HTTP_PARSER_ERRNO(&c->parser);
	if ((e != HPE_OK && e != HPE_PAUSED) || !r->path) {
		snprintf(r->errmsg, sizeof(r->errmsg), "%s",
			 e != HPE_OK ? http_errno_description(e)
				     : "no request line");
		return -1;
	}
	c->pos = n;
	if (e == HPE_PAUSED)
		http_parser_pause(&c->parser, 0);
	r->method = c->parser.method;
	r->method_name = http_method_str(c->parser.method);
	r->keep_alive = http_should_keep_alive(&c->parser);
	/* Header names in lower case, values without the blanks around. */
	for (i = 0; i < r->nh; i++) {
		char *h = (char *)r->h[i].name, *val = (char *)r->h[i].value;
		size_t vl;

		for (; *h; h++)
			*h = (char)(*h >= 'A' && *h <= 'Z' ? *h + 32 : *h);
		while (*val == ' ' || *val == '\t')
			val++;
		vl = strlen(val);
		while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t'))
			val[--vl] = 0;
		r->h[i].value = val;
	}
	v = s3_header(r, "content-length");
	if (v) {
		r->has_length = true;
		r->content_length = strtoull(v, NULL, 10);
	}
	/* Framing is the parser's (it refuses a length with chunked). */
	r->chunked = (c->parser.flags & F_CHUNKED) != 0;
	if (r->chunked)
		r->has_length = false;
	v = s3_header(r, "expect");
	r->expect_100 = v && !strcasecmp(v, "100-continue");
	if (split_target(r)) {
		snprintf(r->errmsg, sizeof(r->errmsg), "malformed target");
		return -1;
	}
	return 0;
}

/* ---- bodies (worker) -------------------------------------------------- */

int s3_send_continue(struct s3_req *r)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (!r->expect_100 || r->sent_100 || r->answered)
		return 0;
	r->sent_100 = true;
	return sock_io_write_all(&r->io, cont, sizeof(cont) - 1);
}

ssize_t s3_body_read(struct s3_req *r, void *buf, size_t cap)
{
	struct s3_conn *c = r->c;

	if (r->body_err)
		return r->body_err;
	while (r->body_off == r->body_len) {
		size_t give, n;
		enum http_errno e;

		if (r->body_done)
			return 0;
		r->body_off = r->body_len = 0;
		if (c->pos == c->len) {
			ssize_t got;

			if (s3_send_continue(r))
				return r->body_err = -EPIPE;
			c->pos = c->len = 0;
			if (c->cap < S3_BUF) {
				uint8_t *nb = realloc(c->buf, S3_BUF);

				if (!nb)
					return r->body_err = -ENOMEM;
				c->buf = nb;
				c->cap = S3_BUF;
			}
			r->io.body_left = UINT64_MAX;
			r->io.pre = NULL;
			r->io.prelen = r->io.preused = 0;
			got = sock_io_read_body(&r->io, c->buf, S3_BUF);
			if (got <= 0)
				return r->body_err =
					   got == 0 ? -EPIPE : (int)got;
			c->len = (size_t)got;
		}
		r->body_started = true;
		give = c->len - c->pos < S3_BUF ? c->len - c->pos : S3_BUF;
		n = http_parser_execute(&c->parser, &settings,
					(const char *)c->buf + c->pos, give);
		e = HTTP_PARSER_ERRNO(&c->parser);
		if (e != HPE_OK && e != HPE_PAUSED) {
			ais_log(LOG_INFO, "%s: S3 %s /%s/%s: body: %s", c->peer,
				r->method_name, r->bucket, r->key,
				http_errno_description(e));
			r->close = true;
			return r->body_err = -EPROTO;
		}
		c->pos += n;
	}
	if (cap > r->body_len - r->body_off)
		cap = r->body_len - r->body_off;
	memcpy(buf, c->body + r->body_off, cap);
	r->body_off += cap;
	return (ssize_t)cap;
}

/* After the answer: the rest of the body read and dropped when small (the
 * connection goes on), else the connection closes after a lingering
 * close, so that the client reads the answer rather than a reset. */
#define LINGER_MS 2000

static void finish_body(struct s3_req *r)
{
	uint8_t sink[4096];
	uint64_t dropped = 0;
	ssize_t n = 0;

	if (r->body_done || r->body_err)
		return;
	/* A client that waits for 100-continue sent no body. */
	if (r->expect_100 && !r->sent_100) {
		r->close = true;
		return;
	}
	if (r->chunked || !r->has_length || r->content_length <= DISCARD_MAX) {
		while ((n = s3_body_read(r, sink, sizeof(sink))) > 0) {
			dropped += (uint64_t)n;
			if (dropped > DISCARD_MAX)
				break;
		}
		if (n == 0)
			return;
	}
	r->close = true;
	if (n >= 0 || n == -ETIMEDOUT)
		sock_io_linger(&r->io, LINGER_MS);
}

/* ---- answers (worker) ------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Payload Too Large";
	case 416:
		return "Range Not Satisfiable";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 507:
		return "Insufficient Storage";
	default:
		return "Unknown";
	}
}

void s3_http_date(int64_t ns, char *out, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void s3_iso_date(int64_t ns, char *out, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	char b[32];

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%03dZ", b, (int)(ns / 1000000 % 1000));
}

int64_t s3_parse_http_date(const char *s)
{
	static const char *fmts[] = {
	    "%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
	    "%a %b %d %H:%M:%S %Y", "%Y-%m-%dT%H:%M:%S"};
	struct tm tm;

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		const char *e;

		memset(&tm, 0, sizeof(tm));
		e = strptime(s, fmts[i], &tm);
		if (e && (!*e || *e == 'Z' || *e == '.')) {
			time_t t = timegm(&tm);

			/* A year past 2262 does not fit in ns: no date. */
			if (t < 0 || t > INT64_MAX / 1000000000)
				return -1;
			return (int64_t)t * 1000000000;
		}
	}
	return -1;
}

/* The Date header's value, made once a second per thread. */
static const char *date_now(void)
{
	static __thread char date[40];
	static __thread int64_t sec;
	int64_t now = ais_now_real_ns() / 1000000000;

	if (now != sec) {
		s3_http_date(now * 1000000000, date, sizeof(date));
		sec = now;
	}
	return date;
}

long s3_format_head(struct s3_req *r, int status, const char *extra,
		    long long len, char *buf, size_t cap)
{
	int n;

	r->status = status;
	if (!r->keep_alive || r->s->stopping)
		r->close = true;
	/* A body not read (and not small enough to drop) ends the
	 * connection: say so. */
	if (!r->body_done && !r->close &&
	    ((r->expect_100 && !r->sent_100) ||
	     (!r->chunked && r->has_length && r->content_length > DISCARD_MAX)))
		r->close = true;
	n = snprintf(buf, cap,
		     "HTTP/1.1 %d %s\r\n"
		     "Date: %s\r\n"
		     "Server: aisfs\r\n"
		     "x-amz-request-id: %s\r\n"
		     "%s%s",
		     status, reason(status), date_now(), r->id,
		     extra ? extra : "",
		     r->close ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= cap - 64)
		return -E2BIG;
	if (len >= 0)
		n += snprintf(buf + n, cap - (size_t)n,
			      "Content-Length: %lld\r\n", len);
	n += snprintf(buf + n, cap - (size_t)n, "\r\n");
	return n;
}

int s3_send_head(struct s3_req *r, int status, const char *extra, long long len,
		 bool more)
{
	char *head;
	long n;
	int rc;

	if (r->answered)
		return -EALREADY;
	r->answered = true;
	head = malloc(S3_ANSWER_HEAD_MAX);
	if (!head) {
		r->close = true;
		return -ENOMEM;
	}
	n = s3_format_head(r, status, extra, len, head, S3_ANSWER_HEAD_MAX);
	rc = n < 0 ? (int)n : sock_io_write_more(&r->io, head, (size_t)n, more);
	free(head);
	if (rc)
		r->close = true;
	return rc;
}

int s3_send(struct s3_req *r, int status, const char *extra, const char *type,
	    const void *body, size_t len)
{
	char ex[8192];
	int rc;

	snprintf(ex, sizeof(ex), "%s%s%s%s", extra ? extra : "",
		 type ? "Content-Type: " : "", type ? type : "",
		 type ? "\r\n" : "");
	rc = s3_send_head(r, status, ex, (long long)len,
			  len > 0 && r->method != HTTP_HEAD);
	if (!rc && len && r->method != HTTP_HEAD) {
		rc = sock_io_write_all(&r->io, body, len);
		if (rc)
			r->close = true;
	}
	return rc;
}

int s3_error(struct s3_req *r, int status, const char *code, const char *fmt,
	     ...)
{
	struct s3_xml x = {0};
	char msg[AIS_ERRMSG_LEN + 64], res[2200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(res, sizeof(res), "/%s%s%s", r->bucket ? r->bucket : "",
		 r->key && r->key[0] ? "/" : "", r->key ? r->key : "");
	ais_log(status >= 500 ? LOG_WARNING : LOG_DEBUG,
		"%s: S3 %s %s: %d %s: %s", r->c->peer, r->method_name, res,
		status, code, msg);
	if (r->answered) {
		/* The head went out: the only signal left is the close. */
		r->close = true;
		return -1;
	}
	s3_xml_raw(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
	s3_xml_elem(&x, "Code", code);
	s3_xml_elem(&x, "Message", msg);
	s3_xml_elem(&x, "Resource", res);
	s3_xml_elem(&x, "RequestId", r->id);
	s3_xml_raw(&x, "</Error>");
	/* A HEAD's error has no body, but its status says it. */
	s3_send_xml(r, status, &x);
	return -1;
}

int s3_error_errno(struct s3_req *r, int rc, const char *errmsg, bool bucket)
{
	const char *m = errmsg && errmsg[0] ? errmsg : strerror(-rc);

	switch (rc) {
	case -ENOENT:
		if (bucket || strstr(m, "bucket"))
			return strstr(m, "bucket") && !bucket && r->key[0] &&
				       !strstr(m, "does not exist")
				   ? s3_error(r, 404, "NoSuchKey", "%s", m)
			       : bucket || strstr(m, "does not exist")
				   ? s3_error(r, 404, "NoSuchBucket", "%s", m)
				   : s3_error(r, 404, "NoSuchKey", "%s", m);
		return s3_error(r, 404, "NoSuchKey", "%s", m);
	case -EEXIST:
		return bucket ? s3_error(r, 409, "BucketAlreadyOwnedByYou",
					 "%s", m)
			      : s3_error(r, 409, "KeyConflict", "%s", m);
	case -ENOTDIR:
	case -EISDIR:
		return s3_error(r, 409, "KeyConflict", "%s", m);
	case -ENOTEMPTY:
		return s3_error(r, 409, "BucketNotEmpty", "%s", m);
	case -ENAMETOOLONG:
		return s3_error(
		    r, 400, bucket ? "InvalidBucketName" : "KeyTooLongError",
		    "%s", m);
	case -EINVAL:
		return s3_error(
		    r, 400, bucket ? "InvalidBucketName" : "InvalidArgument",
		    "%s", m);
	case -EBADMSG:
		return s3_error(r, 400, "BadDigest", "%s", m);
	case -ENOSPC:
		return s3_error(r, 507, "InsufficientStorage", "%s", m);
	case -EACCES:
	case -EPERM:
		return s3_error(r, 403, "AccessDenied", "%s", m);
	case -E2BIG:
	case -EFBIG:
		return s3_error(r, 400, "EntityTooLarge", "%s", m);
	case -EIO:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -EAGAIN:
	case -EBUSY:
		return s3_error(r, 503, "ServiceUnavailable", "%s", m);
	default:
		return s3_error(r, 500, "InternalError", "%s", m);
	}
}

/* ---- the cluster client ----------------------------------------------- */

struct ais_client *s3_client(struct s3 *s, char *errmsg)
{
	struct ais_client *c;
	const struct ais_node *self;
	char ep[AIS_HOST_MAX + 16];

	pthread_mutex_lock(&s->mu);
	c = s->client;
	if (!c) {
		struct ais_client_opts o;

		ais_client_opts_default(&o);
		/* The front end checks the S3 user's rights itself (auth.c)
		 * and asks its node as the node. */
		o.root_key = s->d->auth_key;
		/* Over the node's own TLS, as a node (or plain TCP). */
		o.tls = s->d->tls_client;
		o.ca_file = "none";
		self = cluster_self(s->d->cluster);
		snprintf(ep, sizeof(ep), "%s:%u", self->host, self->port);
		c = ais_client_new(ep, &o, errmsg);
		s->client = c;
	}
	pthread_mutex_unlock(&s->mu);
	return c;
}

/* ---- one request (worker) --------------------------------------------- */

void s3_request_id(char out[17])
{
	static atomic_ullong seq;
	static uint64_t base;
	uint64_t v;

	if (!base && getrandom(&base, sizeof(base), 0) != sizeof(base))
		base = (uint64_t)ais_now_real_ns();
	v = base + atomic_fetch_add(&seq, 1);
	snprintf(out, 17, "%016" PRIX64, v);
}

/* Finds the end of the head ("\r\n\r\n") in c->buf: its length, or 0. */
static size_t head_end(struct s3_conn *c)
{
	size_t from = c->scanned > 3 ? c->scanned - 3 : 0;

	for (size_t i = from; i + 3 < c->len; i++)
		if (c->buf[i] == '\r' && c->buf[i + 1] == '\n' &&
		    c->buf[i + 2] == '\r' && c->buf[i + 3] == '\n')
			return i + 4;
	c->scanned = c->len;
	return 0;
}

/* A request that takes longer than this is logged (a stalled client, an
 * owner that does not answer, a huge object: the log says which). */
#define SLOW_NS (10 * 1000000000ull)

static void run_request(struct workpool_item *it)
{
	struct s3_conn *c = it->data;
	struct s3 *s = c->s;
	uint64_t t0 = ais_now_mono_ns(), dt;
	struct s3_req *r = calloc(1, sizeof(*r));
	size_t end = head_end(c);

	if (!r) {
		c->req = NULL;
		return;
	}
	c->req = r;
	r->s = s;
	r->c = c;
	r->io.fd = c->fd;
	r->io.timeout_ms = (int)(s->io_timeout_ns / 1000000u);
	r->io.tls = c->tls;
	r->bucket = r->key = (char *)"";
	r->method_name = "?";
	s3_request_id(r->id);
	if (!c->body && !(c->body = malloc(S3_BUF))) {
		r->close = true;
		return;
	}
	if (s3_parse_head(r, end)) {
		ais_log(LOG_INFO, "%s: S3: malformed request: %s; closing",
			c->peer, r->errmsg[0] ? r->errmsg : "out of memory");
		r->keep_alive = false;
		r->body_done = true;
		s3_error(r, 400, "BadRequest", "malformed HTTP request: %s",
			 r->errmsg);
		r->close = true;
		return;
	}
	if (s3_authenticate(r) == 0)
		s3_dispatch(r);
	if (!r->answered)
		s3_error(r, 500, "InternalError", "no answer was made");
	/* An answer's head held back for a body that never followed (with
	 * TLS it waits in the session) goes before the connection goes on
	 * or lingers. */
	if (r->io.tls &&
	    ais_tls_flush(r->io.tls, r->io.fd, r->io.timeout_ms) < 0)
		r->close = true;
	finish_body(r);
	dt = ais_now_mono_ns() - t0;
	ais_log(dt > SLOW_NS ? LOG_NOTICE : LOG_DEBUG,
		"%s: S3 %s /%s/%s%s%s: %d in %.3f s", c->peer, r->method_name,
		r->bucket, r->key, r->nq ? "?" : "", r->nq ? r->q[0].name : "",
		r->status, (double)dt / 1e9);
	atomic_fetch_add(&s->requests, 1);
}

/* ---- the loop --------------------------------------------------------- */

static void close_aux(struct s3 *s)
{
	if (s->aux_closed)
		return;
	s->aux_closed = true;
	workpool_close(s->pool);
	uv_close((uv_handle_t *)&s->sweep, NULL);
	uv_close((uv_handle_t *)&s->drain, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct s3_conn *c = h->data;
	struct s3 *s = c->s;

	free(c->buf);
	free(c->body);
	free(c->tail);
	ais_tls_conn_free(c->tls);
	free(c);
	if (s->stopping && s->nconns == 0)
		close_aux(s);
}

static void conn_close(struct s3_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->s->nconns--;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct s3_conn *c = h->data;
	size_t want = c->len + 16384;

	(void)hint;
	/* Ciphertext is fed to the session as it arrives (read_cb): one
	 * buffer serves every connection of the loop. */
	if (c->tls) {
		buf->base = (char *)c->s->tls_rbuf;
		buf->len = S3_BUF;
		return;
	}
	if (want > c->cap) {
		size_t cap = c->cap ? c->cap : 16384;
		uint8_t *nb;

		while (cap < want)
			cap *= 2;
		nb = realloc(c->buf, cap);
		if (!nb) {
			buf->base = NULL;
			buf->len = 0;
			return;
		}
		c->buf = nb;
		c->cap = cap;
	}
	buf->base = (char *)c->buf + c->len;
	buf->len = c->cap - c->len;
}

/* ---- TLS on the loop -------------------------------------------------- */

static void tls_write_done(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
}

/* Ciphertext of a handshake that the socket did not take at once. */
struct tls_wreq {
	uv_write_t req;
	size_t len;
	char data[];
};

/* Sends what the session has to send (handshake messages): what the
 * socket does not take at once is queued on libuv, which sends it before
 * anything a worker writes can follow (the client sends a request only
 * once it has all of it). 0, or -1 when the connection was closed. */
static int tls_out(struct s3_conn *c)
{
	const uint8_t *p;
	size_t len;

	while ((len = ais_tls_conn_out(c->tls, &p)) > 0) {
		uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
		struct tls_wreq *w;
		int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);

		if (n > 0) {
			ais_tls_conn_out_done(c->tls, (size_t)n);
			continue;
		}
		if (n != UV_EAGAIN && n != UV_ENOSYS) {
			ais_log(LOG_INFO, "%s: S3: TLS: %s; closing", c->peer,
				uv_strerror(n));
			conn_close(c);
			return -1;
		}
		w = malloc(sizeof(*w) + len);
		if (!w) {
			conn_close(c);
			return -1;
		}
		memcpy(w->data, p, len);
		w->len = len;
		w->req.data = w;
		ais_tls_conn_out_done(c->tls, len);
		b = uv_buf_init(w->data, (unsigned)len);
		if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1,
			     tls_write_done)) {
			free(w);
			conn_close(c);
			return -1;
		}
	}
	return 0;
}

/* Takes the plaintext the session has into c->buf (after c->len): what
 * the loop read, or what a worker's reads left there (the next request of
 * a pipeline). 0, or -1 when the connection was closed (a failed
 * handshake or record: logged). */
static int tls_take(struct s3_conn *c)
{
	char errmsg[AIS_ERRMSG_LEN];
	bool was_ready = ais_tls_conn_ready(c->tls);
	ssize_t n;

	for (;;) {
		if (c->cap - c->len < 16384) {
			size_t cap = c->cap ? c->cap : 16384;
			uint8_t *nb;

			while (cap - c->len < 16384)
				cap *= 2;
			nb = realloc(c->buf, cap);
			if (!nb) {
				ais_log(LOG_ERR,
					"%s: S3: out of memory, "
					"closing",
					c->peer);
				conn_close(c);
				return -1;
			}
			c->buf = nb;
			c->cap = cap;
		}
		n = ais_tls_conn_read(c->tls, c->buf + c->len, c->cap - c->len,
				      errmsg);
		if (n <= 0)
			break;
		c->len += (size_t)n;
	}
	if (tls_out(c))
		return -1;
	if (n == 0) {
		if (!was_ready && ais_tls_conn_ready(c->tls))
			ais_log(LOG_DEBUG, "%s: S3: TLS up", c->peer);
		return 0;
	}
	if (n == -ECONNRESET)
		ais_log(LOG_DEBUG, "%s: S3: TLS: closed by the peer", c->peer);
	else
		ais_log(LOG_NOTICE, "%s: S3: %s; closing", c->peer, errmsg);
	conn_close(c);
	return -1;
}

/* Ciphertext from the socket: into the session, and its plaintext into
 * c->buf. 0, or -1 when the connection was closed. */
static int tls_in(struct s3_conn *c, const uint8_t *data, size_t n)
{
	/* A TLS connection begins with a handshake record (22): anything
	 * else is a client that does not speak TLS (http:// for https://),
	 * told nothing. */
	if (!c->tls_started && n > 0 && data[0] != 22) {
		ais_log(LOG_NOTICE,
			"%s: S3: not TLS (a plain-HTTP client?); this "
			"endpoint speaks HTTPS only; closing",
			c->peer);
		conn_close(c);
		return -1;
	}
	c->tls_started = true;
	if (ais_tls_conn_feed(c->tls, data, n)) {
		ais_log(LOG_ERR, "%s: S3: out of memory, closing", c->peer);
		conn_close(c);
		return -1;
	}
	return tls_take(c);
}

int s3_tls_try_write(struct s3_conn *c, const void *p, size_t len)
{
	const uint8_t *out;
	size_t n;

	if (ais_tls_conn_write(c->tls, p, len, NULL))
		return UV_EPROTO;
	while ((n = ais_tls_conn_out(c->tls, &out)) > 0) {
		uv_buf_t b = uv_buf_init((char *)out, (unsigned)n);
		int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);

		if (w > 0) {
			ais_tls_conn_out_done(c->tls, (size_t)w);
			continue;
		}
		if (w == UV_EAGAIN || w == UV_ENOSYS)
			return 1;
		return w;
	}
	return 0;
}

static void work_done(struct workpool_item *it)
{
	struct s3_conn *c = it->data;
	struct s3_req *r = c->req;
	bool close = !r || r->close || r->body_err || c->s->stopping;

	c->lent = false;
	if (r) {
		free(r->arena);
		free(r);
	}
	c->req = NULL;
	if (close) {
		conn_close(c);
		return;
	}
	/* Keep what follows the request (pipelined). */
	memmove(c->buf, c->buf + c->pos, c->len - c->pos);
	c->len -= c->pos;
	c->pos = 0;
	c->scanned = 0;
	/* The worker's reads may have left more of it in the session. */
	if (c->tls && tls_take(c))
		return;
	if (!c->len && c->cap > 4 * S3_BUF) {
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
	c->last_ns = ais_now_mono_ns();
	conn_next(c);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct s3_conn *c = st->data;

	if (nread == 0)
		return;
	if (nread < 0) {
		if (c->len && nread == UV_EOF)
			ais_log(LOG_INFO,
				"%s: S3: connection closed within a request "
				"head",
				c->peer);
		conn_close(c);
		return;
	}
	if (c->tls) {
		if (tls_in(c, (const uint8_t *)buf->base, (size_t)nread))
			return;
	} else {
		c->len += (size_t)nread;
	}
	c->last_ns = ais_now_mono_ns();
	conn_next(c);
}

/* The rest of an answer begun on the loop (c->tail), on a worker. */
static void send_tail(struct workpool_item *it)
{
	struct s3_conn *c = it->data;
	struct sock_io io = {
	    .fd = c->fd, .timeout_ms = (int)(c->s->io_timeout_ns / 1000000u)};
	int rc = c->tail_tls ? ais_tls_flush(c->tls, c->fd, io.timeout_ms)
			     : sock_io_write_all(&io, c->tail, c->tail_len);

	if (rc) {
		ais_log(LOG_INFO, "%s: S3: sending: %s; closing", c->peer,
			sock_io_strerror(rc));
		c->tail_close = true;
	}
}

static void tail_done(struct workpool_item *it)
{
	struct s3_conn *c = it->data;
	bool close = c->tail_close || c->s->stopping;

	c->lent = false;
	free(c->tail);
	c->tail = NULL;
	c->tail_len = 0;
	c->tail_tls = false;
	if (close) {
		conn_close(c);
		return;
	}
	c->last_ns = ais_now_mono_ns();
	conn_next(c);
}

/* Drops the request the loop answered from c->buf. */
static void consume(struct s3_conn *c)
{
	memmove(c->buf, c->buf + c->pos, c->len - c->pos);
	c->len -= c->pos;
	c->pos = 0;
	c->scanned = 0;
	c->last_ns = ais_now_mono_ns();
}

/* A whole head read: answer it here if that needs no waiting, else lend
 * the connection to a worker; without a whole head, read on. */
static void conn_next(struct s3_conn *c)
{
	size_t end;

again:
	/* Blank lines before a request are allowed (RFC 9112). */
	while (c->len >= 2 && c->buf[0] == '\r' && c->buf[1] == '\n') {
		memmove(c->buf, c->buf + 2, c->len - 2);
		c->len -= 2;
		c->scanned = 0;
	}
	end = c->len ? head_end(c) : 0;
	if (!end || end > S3_HEAD_MAX) {
		if (c->len > S3_HEAD_MAX) {
			static const char tl[] =
			    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
			    "Connection: close\r\nContent-Length: 0\r\n\r\n";
			uv_buf_t b = uv_buf_init((char *)tl, sizeof(tl) - 1);

			ais_log(LOG_INFO,
				"%s: S3: request head over %d bytes; closing",
				c->peer, S3_HEAD_MAX);
			if (c->tls)
				s3_tls_try_write(c, tl, sizeof(tl) - 1);
			else
				uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
			conn_close(c);
			return;
		}
		if (!c->reading) {
			int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb,
					       read_cb);

			if (rc) {
				conn_close(c);
				return;
			}
			c->reading = true;
		}
		return;
	}
	switch (c->s->stopping ? S3_INLINE_NO : s3_try_inline(c, end)) {
	case S3_INLINE_DONE:
		consume(c);
		goto again;
	case S3_INLINE_CLOSE:
		conn_close(c);
		return;
	case S3_INLINE_TAIL:
		consume(c);
		break;
	default:
		break;
	}
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	c->lent = true;
	uv_fileno((uv_handle_t *)&c->tcp, &c->fd);
	c->witem.data = c;
	c->witem.work = c->tail || c->tail_tls ? send_tail : run_request;
	c->witem.done = c->tail || c->tail_tls ? tail_done : work_done;
	workpool_submit(c->s->pool, &c->witem);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct s3 *s = l->data;
	struct s3_conn *c;
	struct sockaddr_storage ss;
	int n = sizeof(ss);
	char ip[64] = "?";
	unsigned port = 0;

	if (status < 0) {
		uint64_t now = ais_now_mono_ns();

		if (now - s->last_accept_warn > 1000000000ull) {
			ais_log(LOG_WARNING, "S3 accept: %s",
				uv_strerror(status));
			s->last_accept_warn = now;
		}
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || uv_tcp_init(&s->loop, &c->tcp)) {
		free(c);
		return;
	}
	c->tcp.data = c;
	c->s = s;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (uv_accept(l, (uv_stream_t *)&c->tcp)) {
		conn_close(c);
		return;
	}
	if (s->d->tls_server) {
		c->tls = ais_tls_conn_new(s->d->tls_server);
		if (!c->tls) {
			ais_log(LOG_ERR, "S3: out of memory for a TLS session");
			conn_close(c);
			return;
		}
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_tcp_keepalive(&c->tcp, 1, 60);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &n) == 0) {
		if (ss.ss_family == AF_INET) {
			uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, port);
	c->last_ns = ais_now_mono_ns();
	conn_next(c);
}

static void on_sweep(uv_timer_t *t)
{
	struct s3 *s = t->data;
	uint64_t now = ais_now_mono_ns();
	struct s3_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->lent || c->closing)
			continue;
		/* Slowloris: a head that does not complete (a TLS
		 * handshake under way is one too). */
		if (c->len || (c->tls && !ais_tls_conn_ready(c->tls))) {
			if (now - c->last_ns > s->io_timeout_ns) {
				ais_log(LOG_INFO,
					"%s: S3: no whole %s in %llu s; "
					"closing",
					c->peer,
					c->len ? "request head"
					       : "TLS handshake",
					(unsigned long long)(s->io_timeout_ns /
							     1000000000u));
				conn_close(c);
			}
		} else if (now - c->last_ns > s->idle_timeout_ns) {
			conn_close(c);
		}
	}
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct s3 *s = t->data;

	ais_log(LOG_WARNING, "S3: %u connection%s still busy after %d s",
		s->nconns, s->nconns == 1 ? "" : "s", DRAIN_MS / 1000);
	s->drain_timed_out = true;
	uv_stop(&s->loop);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct s3 *s = sig->data;
	struct s3_conn *c, *next;

	(void)signum;
	if (s->stopping)
		return;
	s->stopping = true;
	uv_close((uv_handle_t *)&s->listener, NULL);
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (!c->lent)
			conn_close(c);
	}
	if (s->nconns == 0) {
		close_aux(s);
		return;
	}
	uv_timer_start(&s->drain, on_drain_timeout, DRAIN_MS, 0);
}

static void *loop_thread(void *arg)
{
	struct s3 *s = arg;

	uv_run(&s->loop, UV_RUN_DEFAULT);
	return NULL;
}

int s3_start(struct aisd *d, struct s3 **out, char *errmsg)
{
	const struct aisd_opts *o = d->opts;
	struct sockaddr_storage ss;
	sigset_t all, old;
	struct s3 *s;
	int rc;

	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(o->s3_listen, o->s3_port, (struct sockaddr_in *)&ss) &&
	    uv_ip6_addr(o->s3_listen, o->s3_port, (struct sockaddr_in6 *)&ss))
		return ais_errf(errmsg, -EINVAL,
				"S3 listen address %s: not an IPv4 or IPv6 "
				"address",
				o->s3_listen);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	s->d = d;
	s->io_timeout_ns = (uint64_t)o->io_timeout_s * 1000000000ull;
	s->idle_timeout_ns =
	    (uint64_t)(o->idle_timeout_s ? o->idle_timeout_s : 300) *
	    1000000000ull;
	snprintf(s->where, sizeof(s->where), "%s:%u", o->s3_listen, o->s3_port);
	pthread_mutex_init(&s->mu, NULL);
	rc = uv_loop_init(&s->loop);
	if (rc) {
		free(s);
		return ais_errf(errmsg, rc, "S3 event loop: %s",
				uv_strerror(rc));
	}
	uv_tcp_init(&s->loop, &s->listener);
	s->listener.data = s;
	rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&s->listener, SOMAXCONN,
			       on_connection);
	if (!rc)
		rc = s3_inline_init(s);
	if (!rc && d->tls_server && !(s->tls_rbuf = malloc(S3_BUF)))
		rc = -ENOMEM;
	if (!rc)
		rc = workpool_new(&s->loop, S3_THREADS, 0, &s->pool);
	if (rc) {
		ais_errf(errmsg, rc, "S3 listen %s: %s", s->where,
			 rc < 0 && rc > -4096 ? uv_strerror(rc) : "");
		uv_close((uv_handle_t *)&s->listener, NULL);
		uv_run(&s->loop, UV_RUN_DEFAULT);
		uv_loop_close(&s->loop);
		s3_inline_free(s);
		free(s->tls_rbuf);
		free(s);
		return rc;
	}
	uv_timer_init(&s->loop, &s->sweep);
	s->sweep.data = s;
	uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	uv_timer_init(&s->loop, &s->drain);
	s->drain.data = s;
	uv_signal_init(&s->loop, &s->sigterm);
	s->sigterm.data = s;
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	uv_signal_init(&s->loop, &s->sigint);
	s->sigint.data = s;
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	/* Signals are the main loop's to take (libuv hands them to every
	 * loop that watches them). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&s->thr, NULL, loop_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		ais_errf(errmsg, -rc, "S3 thread: %s", strerror(rc));
		/* Not run: the handles go with the process. */
		return -rc;
	}
	ais_log(LOG_NOTICE, "S3 endpoint on %s://%s (region %s%s)",
		d->tls_server ? "https" : "http", s->where, o->s3_region,
		o->s3_anonymous == AISD_S3_ANON_READ	? ", anonymous reads"
		: o->s3_anonymous == AISD_S3_ANON_WRITE ? ", anonymous access"
							: "");
	*out = s;
	return 0;
}

void s3_stop(struct s3 *s)
{
	if (!s)
		return;
	pthread_join(s->thr, NULL);
	/* Workers may still run requests: what they use stays (the process
	 * is about to exit). */
	if (s->drain_timed_out)
		return;
	uv_loop_close(&s->loop);
	if (s->client)
		ais_client_free(s->client);
	pthread_mutex_destroy(&s->mu);
	s3_inline_free(s);
	free(s->tls_rbuf);
	free(s);
}
