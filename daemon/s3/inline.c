/* GET and HEAD answered on the S3 loop thread when that needs no waiting
 * (see s3_i.h), as the native server's rpc/inline.c: no hop to a worker
 * thread and back for the small reads of a training epoch. Whatever is
 * not plain (a condition, a range, a shard member, a query, an error, an
 * object not cached, a large one) goes to a worker, which starts the
 * request over. With HTTPS the answer is encrypted here too, and what the
 * socket does not take waits in the session for a worker to send. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "map.h"
#include "names.h"

#include "cluster/cluster.h"
#include "move/move.h"
#include "s3/s3_i.h"
#include "store/blocks.h"
#include "store/store.h"
#include "store/xattr.h"

#define IBUF_MAX (S3_ANSWER_HEAD_MAX + S3_INLINE_MAX + 2 * BLK_SIZE)

/* Only the signature's query parameters (a presigned URL): any other is
 * an operation or an override, the worker's. */
static bool plain_query(const struct s3_req *r)
{
	for (size_t i = 0; i < r->nq; i++)
		if (strncmp(r->q[i].name, "X-Amz-", 6))
			return false;
	return true;
}

static bool plain_headers(const struct s3_req *r)
{
	for (size_t i = 0; i < r->nh; i++) {
		const char *n = r->h[i].name;

		if (!strcmp(n, "range") || !strncmp(n, "if-", 3))
			return false;
	}
	return true;
}

/* This node holds the first copy, and is not catching up. */
static bool first_copy_here(struct s3_req *r)
{
	struct aisd *d = r->s->d;
	struct cluster_map *cm = cluster_map_get(d->cluster);
	const struct ais_node *o = ais_map_owner(cm->m, r->bucket, r->key);
	bool ok = cluster_has_bucket(cm, r->bucket) && o &&
		  !strcmp(o->id, cluster_self(d->cluster)->id) &&
		  !(move_catching_up(d->move) &&
		    ais_map_copies(cm->m, r->bucket) > 1);

	cluster_map_put(cm);
	return ok;
}

/* The object's bytes [0, size) into buf, read without waiting and checked
 * against its blocks: 0, or not now. */
static int read_checked(struct s3_req *r, int fd, const struct ais_obj_meta *m,
			uint8_t *buf)
{
	struct store *st = r->s->d->store;
	struct iovec iov = {buf, (size_t)m->size};
	ssize_t n;

	/* RWF_NOWAIT: a page not in the cache fails instead of waiting. */
	n = preadv2(fd, &iov, 1, 0, RWF_NOWAIT);
	if (n != (ssize_t)m->size)
		return -EAGAIN;
	if (!st->verify || !m->size)
		return 0;
	return blk_check_read(st->mps, st->blk, fd, m, 0, buf, (size_t)m->size,
			      true, NULL);
}

/* The answer over TLS: the head (hl bytes at head) moved in front of the
 * body (at ibuf + 2 * S3_ANSWER_HEAD_MAX, the room of the headers it was
 * made of) to go in the same records, encrypted, and sent as far as the
 * socket takes it; the rest waits in the session for a worker. */
static int answer_tls(struct s3_conn *c, struct s3_req *r, uint8_t *head,
		      size_t hl, size_t bl)
{
	struct s3 *s = c->s;
	uint8_t *start = s->ibuf + 2 * S3_ANSWER_HEAD_MAX - hl;
	int rc;

	memmove(start, head, hl);
	rc = s3_tls_try_write(c, start, hl + bl);
	atomic_fetch_add(&s->requests, 1);
	atomic_fetch_add(&s->inlined, 1);
	if (rc < 0) {
		ais_log(LOG_INFO, "%s: S3 GET %s/%s: sending: %s; closing",
			c->peer, r->bucket, r->key, uv_strerror(rc));
		return S3_INLINE_CLOSE;
	}
	if (rc == 1) {
		c->tail_tls = true;
		c->tail_close = r->close;
		return S3_INLINE_TAIL;
	}
	return r->close ? S3_INLINE_CLOSE : S3_INLINE_DONE;
}

int s3_try_inline(struct s3_conn *c, size_t end)
{
	struct s3 *s = c->s;
	struct store *st = s->d->store;
	struct s3_req *r = s->ireq;
	struct s3_fail f = {.quiet = true};
	struct ais_obj_meta m;
	uint8_t ext[AIS_OBJ_EXT_MAX];
	char etag[AIS_ETAG_MAX + 32], *hdrs;
	uv_buf_t out[2];
	size_t hl = 0, total, xl;
	long n;
	int fd, mp, rc;
	int32_t lent;

	if (!r || c->len > end + S3_BUF)
		return S3_INLINE_NO;
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->c = c;
	r->bucket = r->key = (char *)"";
	r->method_name = "?";
	r->arena = s->iarena;
	r->arena_cap = S3_ARENA_MAX;
	if (s3_parse_head(r, end) ||
	    (r->method != HTTP_GET && r->method != HTTP_HEAD) ||
	    !r->body_done || !r->bucket[0] || !r->key[0] || !plain_query(r) ||
	    !plain_headers(r) || s3_auth_check(r, &f) ||
	    ais_name_check_object(r->key, strlen(r->key), NULL) ||
	    !first_copy_here(r))
		return S3_INLINE_NO;
	if (store_open_nowait_ext(st, r->bucket, r->key, &fd, &mp, &m, &lent,
				  ext, sizeof(ext), &xl))
		return S3_INLINE_NO;
	if (r->method == HTTP_GET && m.size > S3_INLINE_MAX)
		goto no;
	hdrs = (char *)s->ibuf;
	s3_obj_etag(&m, ext, xl, etag, sizeof(etag));
	/* The headers go after the room the head needs, then move. */
	s3_object_headers(r, &m, ext, xl, etag, hdrs + S3_ANSWER_HEAD_MAX, &hl);
	/* The body after the head's room; checked before anything goes. */
	if (r->method == HTTP_GET &&
	    read_checked(r, fd, &m, s->ibuf + 2 * S3_ANSWER_HEAD_MAX))
		goto no;
	s3_request_id(r->id);
	n = s3_format_head(r, 200, hdrs + S3_ANSWER_HEAD_MAX, (long long)m.size,
			   hdrs, S3_ANSWER_HEAD_MAX);
	store_open_done(st, fd, lent);
	if (n < 0)
		return S3_INLINE_NO;
	if (c->tls)
		return answer_tls(c, r, (uint8_t *)hdrs, (size_t)n,
				  r->method == HTTP_GET ? (size_t)m.size : 0);
	out[0] = uv_buf_init(hdrs, (unsigned)n);
	out[1] = uv_buf_init((char *)s->ibuf + 2 * S3_ANSWER_HEAD_MAX,
			     r->method == HTTP_GET ? (unsigned)m.size : 0);
	total = (size_t)n + out[1].len;
	rc = uv_try_write((uv_stream_t *)&c->tcp, out, out[1].len ? 2 : 1);
	atomic_fetch_add(&s->requests, 1);
	atomic_fetch_add(&s->inlined, 1);
	if (rc == UV_EAGAIN)
		rc = 0;
	if (rc < 0) {
		ais_log(LOG_INFO, "%s: S3 GET %s/%s: sending: %s; closing",
			c->peer, r->bucket, r->key, uv_strerror(rc));
		return S3_INLINE_CLOSE;
	}
	if ((size_t)rc < total) {
		/* The socket took part: a worker sends the rest. */
		size_t left = total - (size_t)rc, hn = (size_t)n;

		c->tail = malloc(left);
		if (!c->tail)
			return S3_INLINE_CLOSE;
		if ((size_t)rc < hn) {
			memcpy(c->tail, hdrs + rc, hn - (size_t)rc);
			memcpy(c->tail + hn - (size_t)rc, out[1].base,
			       out[1].len);
		} else {
			memcpy(c->tail, out[1].base + ((size_t)rc - hn), left);
		}
		c->tail_len = left;
		c->tail_close = r->close;
		return S3_INLINE_TAIL;
	}
	return r->close ? S3_INLINE_CLOSE : S3_INLINE_DONE;
no:
	store_open_done(st, fd, lent);
	return S3_INLINE_NO;
}

int s3_inline_init(struct s3 *s)
{
	s->ireq = calloc(1, sizeof(*s->ireq));
	s->iarena = malloc(S3_ARENA_MAX);
	s->ibuf = malloc(IBUF_MAX + S3_ANSWER_HEAD_MAX);
	return s->ireq && s->iarena && s->ibuf ? 0 : -ENOMEM;
}

void s3_inline_free(struct s3 *s)
{
	free(s->ireq);
	free(s->iarena);
	free(s->ibuf);
}
