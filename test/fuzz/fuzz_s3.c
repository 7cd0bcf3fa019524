/* Fuzz target: the S3 endpoint's reading of requests (daemon/s3/). The
 * input is what a client sent on one connection, read whole by the loop.
 * Request by request, as the loop and a worker take it (http.c: conn_next,
 * run_request): blank lines skipped, the head's end found, the head parsed
 * by libhttp-parser into headers and the target into bucket, key and the
 * decoded query (s3_parse_head); the signature's claim read from the
 * Authorization header or the query (s3_auth_parse) and the request signed
 * with a fixed key (s3_auth_sign); the headers an operation reads (Range,
 * Content-MD5, x-amz-copy-source, conditions, the kept metadata); then the
 * body as payload (identity, chunked, aws-chunked with chunk signatures)
 * slurped and parsed as XML by expat (s3_xml_parse), and the next
 * pipelined request. Answers go to a socket whose peer is closed. The
 * cluster is not there: the operations themselves are not run. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#include "aisd.h"
#include "s3/s3_i.h"

#include "fuzz.h"

#define REQUESTS_MAX 8

/* As http.c's head_end. */
static size_t head_end(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' &&
		    b[i + 3] == '\n')
			return i + 4;
	return 0;
}

static void xml_start(void *arg, const char *path)
{
	size_t *n = arg;

	*n += strlen(path);
}

static void xml_elem(void *arg, const char *path, const char *text)
{
	size_t *n = arg;

	*n += strlen(path) + strlen(text);
}

/* What the operations read of a head. */
static void headers(struct s3_req *r)
{
	uint8_t *ext = malloc(AIS_OBJ_EXT_MAX);
	char md5[33], *bucket, *key;
	uint64_t off, len;
	const char *v;

	s3_parse_range(s3_header(r, "range"), 1000, &off, &len);
	s3_parse_range(s3_header(r, "range"), UINT64_MAX, &off, &len);
	s3_content_md5(r, md5);
	v = s3_header(r, "x-amz-copy-source");
	if (v && s3_copy_source(v, &bucket, &key) == 0) {
		free(bucket);
		free(key);
	}
	s3_conditions(r, "if-", "\"0123456789abcdef\"", 1700000000000000000,
		      true);
	s3_conditions(r, "x-amz-copy-source-if-", "\"\"", 0, false);
	if (ext)
		s3_ext_from_request(r, ext);
	free(ext);
}

static void auth(struct s3_req *r)
{
	char sig[65], creq[2048], em[AIS_ERRMSG_LEN];
	struct s3_fail f = {.quiet = true};

	if (s3_auth_parse(r, &f) != 0)
		return;
	memset(r->key32, 0x5a, sizeof(r->key32));
	s3_auth_sign(r, sig, creq, sizeof(creq), em);
}

static void body(struct s3_req *r)
{
	char em[AIS_ERRMSG_LEN], *xml;
	struct s3_payload p;
	size_t len, n = 0;

	if (s3_payload_open(r, &p))
		return;
	if (s3_payload_slurp(&p, 1u << 20, &xml, &len) == 0) {
		s3_xml_parse(xml, len, xml_start, xml_elem, &n, em);
		free(xml);
	}
	s3_payload_close(&p);
}

/* One request from c->buf; false when the connection would close. */
static bool request(struct s3 *s, struct s3_conn *c)
{
	struct s3_req *r;
	size_t end;
	bool go_on;

	while (c->len >= 2 && c->buf[0] == '\r' && c->buf[1] == '\n') {
		memmove(c->buf, c->buf + 2, c->len - 2);
		c->len -= 2;
	}
	end = head_end(c->buf, c->len);
	if (!end || end > S3_HEAD_MAX)
		return false;
	r = calloc(1, sizeof(*r));
	if (!r)
		return false;
	r->s = s;
	r->c = c;
	r->io.fd = c->fd;
	r->io.timeout_ms = 1000;
	r->bucket = r->key = (char *)"";
	r->method_name = "?";
	s3_request_id(r->id);
	if (s3_parse_head(r, end)) {
		r->keep_alive = false;
		r->body_done = true;
		s3_error(r, 400, "BadRequest", "malformed HTTP request: %s",
			 r->errmsg);
		r->close = true;
	} else {
		auth(r);
		headers(r);
		body(r);
		if (!r->answered)
			s3_send(r, 200, NULL, "application/xml", "<x/>", 4);
	}
	go_on = !r->close && !r->body_err && r->body_done;
	free(r->arena);
	free(r);
	if (!go_on)
		return false;
	memmove(c->buf, c->buf + c->pos, c->len - c->pos);
	c->len -= c->pos;
	c->pos = 0;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct s3 s;
	struct s3_conn *c;
	int sv[2];

	fuzz_quiet_stderr();
	ais_log_level = LOG_DEBUG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return 0;
	c->buf = malloc(size ? size : 1);
	c->body = malloc(S3_BUF);
	if (!c->buf || !c->body ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0)
		goto out;
	/* The client has sent everything and gone: reads past the input
	 * end, answers fail (EPIPE, without a SIGPIPE). */
	close(sv[1]);
	c->s = &s;
	c->fd = sv[0];
	snprintf(c->peer, sizeof(c->peer), "fuzz");
	memcpy(c->buf, data, size);
	c->len = c->cap = size;
	for (int i = 0; i < REQUESTS_MAX && request(&s, c); i++)
		;
	close(sv[0]);
out:
	free(c->buf);
	free(c->body);
	free(c);
	return 0;
}
