/* What a request's body carries as payload, checked as it streams: the
 * plain body against the signed x-amz-content-sha256, or an aws-chunked
 * body (x-amz-content-sha256: STREAMING-...) decoded chunk by chunk, each
 * chunk's signature checked. The last byte is handed over only once
 * everything before it checked: a PUT fed from here never commits a body
 * that fails its signature. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "log.h"

#include "s3/s3_i.h"

#define LINE_MAX_ 4096

static void sha_hex(EVP_MD_CTX *ctx, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[32];
	unsigned int n = 32;

	EVP_DigestFinal_ex(ctx, md, &n);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = 0;
}

static ssize_t fail(struct s3_payload *p, int status, const char *code,
		    const char *msg, int rc)
{
	p->status = status;
	p->code = code;
	snprintf(p->msg, sizeof(p->msg), "%s", msg);
	p->rc = rc;
	return rc;
}

static int payload_open(struct s3_req *r, struct s3_payload *p);

int s3_payload_open(struct s3_req *r, struct s3_payload *p)
{
	int rc = payload_open(r, p);

	if (rc)
		s3_payload_close(p);
	return rc;
}

static int payload_open(struct s3_req *r, struct s3_payload *p)
{
	const char *h = r->payload_hash;
	const char *enc = s3_header(r, "content-encoding");
	const char *dl = s3_header(r, "x-amz-decoded-content-length");

	memset(p, 0, sizeof(*p));
	p->r = r;
	p->aws_chunked = h && !strncmp(h, "STREAMING-", 10);
	p->signed_chunks = r->streaming;
	if (!p->aws_chunked && enc && strcasestr(enc, "aws-chunked"))
		p->aws_chunked = true;
	if (p->aws_chunked) {
		char *end;

		if (!dl)
			return s3_error(r, 411, "MissingContentLength",
					"an aws-chunked body needs "
					"x-amz-decoded-content-length");
		p->total = strtoull(dl, &end, 10);
		if (*end || end == dl)
			return s3_error(r, 400, "InvalidArgument",
					"bad x-amz-decoded-content-length");
		snprintf(p->prev_sig, sizeof(p->prev_sig), "%s",
			 r->auth.signature);
		p->raw = malloc(S3_BUF);
		p->line = malloc(LINE_MAX_);
		if (!p->raw || !p->line)
			return s3_error(r, 500, "InternalError",
					"out of memory");
	} else {
		/* Chunked with no length: known at its end only. */
		p->unknown = r->chunked && !r->has_length;
		p->total = p->unknown	   ? UINT64_MAX
			   : r->has_length ? r->content_length
					   : 0;
		if (h && strlen(h) == 64) {
			snprintf(p->want_sha, sizeof(p->want_sha), "%s", h);
			for (char *c = p->want_sha; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32
								   : *c);
		}
	}
	if (p->want_sha[0] || p->signed_chunks) {
		p->sha = EVP_MD_CTX_new();
		if (!p->sha || !EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL))
			return s3_error(r, 500, "InternalError",
					"out of memory");
	}
	/* An empty body is checked at once: nothing is read to check it
	 * against. */
	if (!p->aws_chunked && !p->unknown && !p->total && p->want_sha[0] &&
	    strcmp(p->want_sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4"
				"649b934ca495991b7852b855"))
		return s3_error(r, 400, "XAmzContentSHA256Mismatch",
				"The provided 'x-amz-content-sha256' header "
				"does not match what was computed");
	/* The operation takes the body: the client may send it (botocore
	 * waits for the 100 even before an empty body, and mistakes the
	 * next answer on the connection if it gets the final one first). */
	if (s3_send_continue(r)) {
		r->close = true;
		return s3_error(r, 400, "IncompleteBody",
				"the connection broke before the body");
	}
	return 0;
}

void s3_payload_close(struct s3_payload *p)
{
	EVP_MD_CTX_free(p->sha);
	free(p->raw);
	free(p->line);
	p->sha = NULL;
	p->raw = NULL;
	p->line = NULL;
}

int s3_payload_error(struct s3_payload *p, int rc, const char *errmsg)
{
	if (p->status)
		return s3_error(p->r, p->status, p->code, "%s", p->msg);
	if (rc == -EPIPE || rc == -ETIMEDOUT || rc == -ECONNRESET ||
	    rc == -EPROTO) {
		p->r->close = true;
		return s3_error(p->r, 400, "IncompleteBody",
				"the body ended early or stalled: %s",
				errmsg && errmsg[0] ? errmsg : strerror(-rc));
	}
	return s3_error_errno(p->r, rc, errmsg, false);
}

/* The plain body: bytes as they come, the last ones after the hash. */
static ssize_t plain_read(struct s3_payload *p, uint8_t *buf, size_t cap)
{
	ssize_t n;

	if (p->done >= p->total)
		return 0;
	if (cap > p->total - p->done)
		cap = (size_t)(p->total - p->done);
	n = s3_body_read(p->r, buf, cap);
	if (n < 0)
		return p->rc = (int)n;
	if (n == 0 && !p->unknown)
		return fail(p, 400, "IncompleteBody",
			    "the body ended before Content-Length bytes",
			    -EPIPE);
	if (p->sha)
		EVP_DigestUpdate(p->sha, buf, (size_t)n);
	p->done += (uint64_t)n;
	if (n == 0)
		p->total = p->done; /* the end of a chunked body */
	if (p->done == p->total && p->sha) {
		char got[65];

		sha_hex(p->sha, got);
		if (strcmp(got, p->want_sha))
			return fail(p, 400, "XAmzContentSHA256Mismatch",
				    "The provided 'x-amz-content-sha256' "
				    "header does not match what was computed",
				    -EBADMSG);
	}
	return n;
}

/* The next raw byte of an aws-chunked body, or -errno (-EPIPE at its
 * end). */
static int raw_byte(struct s3_payload *p)
{
	if (p->raw_off == p->raw_len) {
		ssize_t n = s3_body_read(p->r, p->raw, S3_BUF);

		if (n <= 0)
			return n == 0 ? -EPIPE : (int)n;
		p->raw_off = 0;
		p->raw_len = (size_t)n;
	}
	return p->raw[p->raw_off++];
}

/* One CRLF-ended line into p->line (without it). */
static int read_line(struct s3_payload *p)
{
	size_t n = 0;
	int ch;

	for (;;) {
		ch = raw_byte(p);
		if (ch < 0)
			return ch;
		if (ch == '\n')
			break;
		if (n + 1 >= LINE_MAX_)
			return -E2BIG;
		p->line[n++] = (char)ch;
	}
	if (n && p->line[n - 1] == '\r')
		n--;
	p->line[n] = 0;
	return 0;
}

static int check_chunk_sig(struct s3_payload *p)
{
	char data_sha[65], want[65];

	if (!p->signed_chunks)
		return 0;
	sha_hex(p->sha, data_sha);
	EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL);
	sigv4_chunk_sign(p->r->key32, &p->r->auth, p->prev_sig, data_sha, want);
	if (!sigv4_equal(want, p->chunk_sig))
		return -EBADMSG;
	snprintf(p->prev_sig, sizeof(p->prev_sig), "%s", want);
	return 0;
}

/* A chunk header "HEX[;chunk-signature=SIG]". */
static int chunk_header(struct s3_payload *p)
{
	char *semi, *end;
	int rc = read_line(p);

	if (rc)
		return rc == -EPIPE
			   ? (int)fail(p, 400, "IncompleteBody",
				       "the aws-chunked body ended "
				       "early",
				       -EPIPE)
			   : (int)fail(p, 400, "InvalidRequest",
				       "malformed aws-chunked body", -EPROTO);
	semi = strchr(p->line, ';');
	if (semi)
		*semi++ = 0;
	p->chunk_left = strtoull(p->line, &end, 16);
	if (*end || end == p->line || p->chunk_left > (1ull << 40))
		return (int)fail(p, 400, "InvalidRequest",
				 "malformed aws-chunked chunk size", -EPROTO);
	p->chunk_sig[0] = 0;
	if (semi && !strncmp(semi, "chunk-signature=", 16))
		snprintf(p->chunk_sig, sizeof(p->chunk_sig), "%s", semi + 16);
	if (p->signed_chunks && strlen(p->chunk_sig) != 64)
		return (int)fail(p, 403, "SignatureDoesNotMatch",
				 "an aws-chunked chunk without its signature",
				 -EBADMSG);
	if (p->done + p->chunk_left > p->total)
		return (int)fail(p, 400, "IncompleteBody",
				 "the aws-chunked body is longer than "
				 "x-amz-decoded-content-length",
				 -EPROTO);
	return 0;
}

/* The final chunk and trailers: checked before the last data goes. */
static int chunked_end(struct s3_payload *p)
{
	int rc;

	/* The zero-size chunk (signed too), then trailers up to a blank
	 * line. */
	rc = chunk_header(p);
	if (rc)
		return rc;
	if (p->chunk_left)
		return (int)fail(p, 400, "IncompleteBody",
				 "the aws-chunked body is longer than "
				 "x-amz-decoded-content-length",
				 -EPROTO);
	if (check_chunk_sig(p))
		return (int)fail(p, 403, "SignatureDoesNotMatch",
				 "the final chunk's signature does not match",
				 -EBADMSG);
	for (;;) {
		rc = read_line(p);
		if (rc == -EPIPE)
			break;
		if (rc)
			return (int)fail(p, 400, "InvalidRequest",
					 "malformed aws-chunked trailer",
					 -EPROTO);
		if (!p->line[0])
			break;
	}
	p->ended = true;
	return 0;
}

static ssize_t chunked_read(struct s3_payload *p, uint8_t *buf, size_t cap)
{
	size_t n;

	if (p->done >= p->total && p->ended)
		return 0;
	while (!p->chunk_left) {
		int rc;

		if (p->in_chunk) {
			/* The CRLF after a chunk's data. */
			if (read_line(p) || p->line[0])
				return fail(p, 400, "InvalidRequest",
					    "malformed aws-chunked body",
					    -EPROTO);
			p->in_chunk = false;
		}
		if (p->done == p->total) {
			rc = chunked_end(p);
			return rc ? rc : 0;
		}
		rc = chunk_header(p);
		if (rc)
			return rc;
		if (!p->chunk_left)
			return fail(p, 400, "IncompleteBody",
				    "the aws-chunked body is shorter than "
				    "x-amz-decoded-content-length",
				    -EPROTO);
		p->in_chunk = true;
	}
	/* Data from what is buffered, else straight from the body. */
	if (p->raw_off == p->raw_len) {
		ssize_t got = s3_body_read(p->r, p->raw, S3_BUF);

		if (got <= 0)
			return fail(p, 400, "IncompleteBody",
				    "the aws-chunked body ended early",
				    got == 0 ? -EPIPE : (int)got);
		p->raw_off = 0;
		p->raw_len = (size_t)got;
	}
	n = p->raw_len - p->raw_off;
	if (n > cap)
		n = cap;
	if (n > p->chunk_left)
		n = (size_t)p->chunk_left;
	memcpy(buf, p->raw + p->raw_off, n);
	p->raw_off += n;
	p->chunk_left -= n;
	p->done += n;
	if (p->sha)
		EVP_DigestUpdate(p->sha, buf, n);
	if (!p->chunk_left && check_chunk_sig(p))
		return fail(p, 403, "SignatureDoesNotMatch",
			    "a chunk's signature does not match", -EBADMSG);
	/* The last byte waits for the final chunk's check. */
	if (p->done == p->total) {
		int rc;

		if (read_line(p) || p->line[0])
			return fail(p, 400, "InvalidRequest",
				    "malformed aws-chunked body", -EPROTO);
		p->in_chunk = false;
		rc = chunked_end(p);
		if (rc)
			return rc;
	}
	return (ssize_t)n;
}

ssize_t s3_payload_read(struct s3_payload *p, void *buf, size_t cap)
{
	if (p->rc)
		return p->rc;
	return p->aws_chunked ? chunked_read(p, buf, cap)
			      : plain_read(p, buf, cap);
}

int s3_payload_slurp(struct s3_payload *p, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1), *nb;
	ssize_t got;

	*out = NULL;
	*len = 0;
	if (!b)
		return s3_error(p->r, 500, "InternalError", "out of memory");
	while ((got = s3_payload_read(p, b + n, cap - n)) > 0) {
		n += (size_t)got;
		if (n < cap)
			continue;
		if (cap >= max) {
			free(b);
			return s3_error(p->r, 400, "MalformedXML",
					"the request body is over %zu KiB",
					max >> 10);
		}
		nb = realloc(b, 2 * cap + 1);
		if (!nb) {
			free(b);
			return s3_error(p->r, 500, "InternalError",
					"out of memory");
		}
		b = nb;
		cap *= 2;
	}
	if (got < 0) {
		free(b);
		return s3_payload_error(p, (int)got, NULL);
	}
	b[n] = 0;
	*out = b;
	*len = n;
	return 0;
}
