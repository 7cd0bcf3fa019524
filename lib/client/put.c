/* libais client: PUT. The body streams from a file, a callback or a buffer
 * through one fixed chunk; see client.h for the retry rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cksum.h"
#include "client.h"
#include "client_i.h"
#include "util.h"

#define PUT_CHUNK (256 * 1024) /* bytes read from a source at a time */

enum { SRC_FD, SRC_CB, SRC_BUF };

/* Where PUT bytes come from. Sources that cannot be re-read (a pipe, a
 * callback) keep their current chunk in tmp; while that chunk is the
 * object's first one, a retry replays it instead of re-reading. */
struct put_src {
	int kind;
	int fd;
	bool seekable;
	ais_read_cb cb;
	void *arg;
	const uint8_t *buf;
	uint64_t size;
	uint8_t *tmp;
	size_t tmp_cap;
	uint64_t tmp_off; /* tmp holds bytes [tmp_off, tmp_off + tmp_len) */
	size_t tmp_len;
	int src_err; /* the source's own -errno, if it failed */
};

static bool src_rewindable(const struct put_src *s)
{
	return s->kind == SRC_BUF || (s->kind == SRC_FD && s->seekable) ||
	       s->tmp_off == 0;
}

/* Reads up to want bytes at the source's current position into p. Returns
 * the count (0 at EOF) or -errno. */
static ssize_t src_read(struct put_src *s, uint64_t off, uint8_t *p,
			size_t want)
{
	ssize_t n;

	for (;;) {
		if (s->kind == SRC_CB)
			n = s->cb(s->arg, p, want);
		else if (s->seekable)
			n = pread(s->fd, p, want, (off_t)off);
		else
			n = read(s->fd, p, want);
		if (n >= 0 || s->kind == SRC_CB || errno != EINTR)
			break;
	}
	if (n < 0 && s->kind != SRC_CB)
		n = -errno;
	if (n > (ssize_t)want)
		n = -EINVAL; /* a callback that overfills: refuse it */
	return n;
}

/* The next chunk of the body at off (the attempt's progress, sequential
 * from 0): *p and *n. Returns 0 or -errno with the reason in errmsg. */
static int src_chunk(struct put_src *s, uint64_t off, const uint8_t **p,
		     size_t *n, char *errmsg)
{
	uint64_t left = s->size - off;
	size_t want = left < PUT_CHUNK ? (size_t)left : PUT_CHUNK;
	size_t fill = 0;

	if (s->kind == SRC_BUF) {
		*p = s->buf + off;
		*n = want;
		return 0;
	}
	if (!s->seekable && off >= s->tmp_off &&
	    off < s->tmp_off + s->tmp_len) {
		/* Replay of bytes already taken from the source. */
		*p = s->tmp + (off - s->tmp_off);
		*n = (size_t)(s->tmp_off + s->tmp_len - off);
		return 0;
	}
	if (want > s->tmp_cap)
		want = s->tmp_cap;
	while (fill < want) {
		ssize_t r = src_read(s, off + fill, s->tmp + fill, want - fill);

		if (r < 0) {
			s->src_err = (int)r;
			return ais_errf(errmsg, (int)r, "reading source: %s",
					strerror((int)-r));
		}
		if (r == 0)
			break;
		fill += (size_t)r;
	}
	s->tmp_off = off;
	s->tmp_len = fill;
	if (fill == 0)
		return ais_errf(
		    errmsg, -EIO, "source ended after %llu of %llu bytes",
		    (unsigned long long)off, (unsigned long long)s->size);
	*p = s->tmp;
	*n = fill;
	return 0;
}

static int put_common(struct ais_client *c, const char *bucket,
		      const char *name, struct put_src *src,
		      const struct ais_put_opts *opts, struct ais_obj_meta *out,
		      char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	int verify_type = AIS_CKSUM_NONE;
	struct ais__retry r;
	int rc;

	rc = ais__check_obj_names(bucket, name, errmsg);
	if (rc < 0)
		return rc;
	req.op = AIS__OP__OP_PUT;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	if (opts && opts->upload_id) {
		/* A part: the node keeps its MD5 (its etag), no checksum. */
		req.op = AIS__OP__OP_MPU_PART;
		req.upload_id = (char *)opts->upload_id;
		req.part_number = opts->part_number;
	} else if (opts && opts->cksum && opts->cksum[0]) {
		/* The node verifies the caller's checksum before commit. */
		req.cksum_type =
		    opts->cksum_type ? opts->cksum_type : AIS_CKSUM_XXH3;
		req.cksum_value = (char *)opts->cksum;
	} else {
		verify_type = opts && opts->cksum_type ? opts->cksum_type
						       : AIS_CKSUM_XXH3;
		req.cksum_type = verify_type;
	}
	if (opts) {
		req.mode = opts->mode;
		req.mtime_ns = opts->mtime_ns;
		req.uid = opts->uid;
		req.gid = opts->gid;
		req.set_owner = opts->owned;
		req.atime_ns = opts->atime_ns;
		req.no_overwrite = opts->no_overwrite;
		req.ext.data = (uint8_t *)opts->ext;
		req.ext.len = opts->ext ? opts->ext_len : 0;
		req.want_md5 = opts->want_md5;
		if (opts->content_md5)
			req.content_md5 = (char *)opts->content_md5;
	}
	if (src->kind != SRC_BUF) {
		src->tmp_cap =
		    src->size < PUT_CHUNK ? (size_t)src->size : PUT_CHUNK;
		if (src->tmp_cap == 0)
			src->tmp_cap = 1;
	}
	if (src->tmp_cap) {
		src->tmp = malloc(src->tmp_cap);
		if (!src->tmp)
			return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	ais__retry_init(&r, 1);

	for (;;) {
		struct ais_pool *pool;
		struct ais__call k;
		struct ais_cksum ck;
		bool answered = false;
		uint64_t off = 0;

		rc = ais__copy_pool(c, bucket, name, &r, &pool, errmsg);
		if (rc < 0)
			goto out;
		rc = ais_cksum_init(&ck, verify_type);
		if (rc < 0) {
			rc = ais_errf(errmsg, rc, "checksum type %d: %s",
				      verify_type, strerror(-rc));
			goto out;
		}
		rc = ais__call_start(&k, c, pool, &req, src->size, r.fresh,
				     errmsg);
		if (rc < 0) {
			ais_cksum_abort(&ck);
			goto retry;
		}
		while (off < src->size && !answered) {
			const uint8_t *p = NULL;
			size_t n = 0;

			rc = src_chunk(src, off, &p, &n, errmsg);
			if (rc < 0) {
				/* The node sees a short body and discards
				 * its partial file. */
				ais_cksum_abort(&ck);
				k.fail = AIS_CONN_FAIL_OTHER;
				ais__call_finish(&k, false);
				goto out;
			}
			ais_cksum_update(&ck, p, n);
			rc = ais__call_send_body(&k, p, n, &answered, errmsg);
			if (rc < 0)
				break;
			if (!answered)
				off += n;
		}
		rc = ais__call_recv_after_body(&k, rc, errmsg);
		if (rc < 0) {
			ais_cksum_abort(&ck);
			goto retry;
		}
		/* A node catching up refuses a create-only PUT before the
		 * body: another copy's node takes it. */
		if (k.resp->status == -EAGAIN && k.resp->catching_up &&
		    src_rewindable(src)) {
			ais_cksum_abort(&ck);
			ais__call_finish(&k, false);
			if (ais__retry_catching_up(&r, c, bucket, name, pool))
				continue;
			rc = ais_errf(errmsg, -EAGAIN,
				      "%s/%s: its node is still catching up",
				      bucket, name);
			goto out;
		}
		rc = ais__call_judge(&k, &r, src_rewindable(src), off,
				     src->size, "a PUT", errmsg);
		if (rc) {
			ais_cksum_abort(&ck);
			if (rc > 0)
				continue;
			goto out;
		}
		if (verify_type != AIS_CKSUM_NONE) {
			char hex[AIS_CKSUM_HEX_MAX];
			const Ais__ObjMeta *m = k.resp->meta;

			ais_cksum_final(&ck, hex);
			if (m && (int)m->cksum_type == verify_type &&
			    strcmp(m->cksum_value, hex) != 0) {
				rc =
				    ais_errf(errmsg, -EIO,
					     "checksum mismatch after PUT of "
					     "%s/%s: sent %s, node stored %s",
					     bucket, name, hex, m->cksum_value);
				ais__call_finish(&k, true);
				goto out;
			}
		} else {
			ais_cksum_abort(&ck);
		}
		if (out)
			ais_obj_meta_from_pb(k.resp->meta, out);
		if (opts && opts->copies_missing)
			*opts->copies_missing = k.resp->copies_missing;
		if (opts && opts->etag)
			ais_obj_ext_etag(k.resp->ext.data, k.resp->ext.len,
					 opts->etag, AIS_ETAG_MAX);
		ais__call_finish(&k, true);
		if (errmsg)
			errmsg[0] = '\0';
		rc = 0;
		goto out;

	retry:
		/* With copies, any copy's node takes the PUT (and makes the
		 * others): the next one, if the body can be sent again. */
		if (k.fail != AIS_CONN_FAIL_NONE &&
		    k.fail != AIS_CONN_FAIL_STALE && src_rewindable(src) &&
		    ais__retry_copy(&r, c, bucket, name, pool, true))
			continue;
		if (ais__retry_conn(&r, k.fail, src_rewindable(src)))
			continue;
		goto out;
	}
out:
	free(src->tmp);
	src->tmp = NULL;
	return rc;
}

int ais_client_put_fd(struct ais_client *c, const char *bucket,
		      const char *name, int fd, uint64_t size,
		      const struct ais_put_opts *opts, struct ais_obj_meta *out,
		      char *errmsg)
{
	struct put_src s = {.kind = SRC_FD, .fd = fd, .size = size};

	s.seekable = lseek(fd, 0, SEEK_CUR) >= 0;
	return put_common(c, bucket, name, &s, opts, out, errmsg);
}

int ais_client_put_cb(struct ais_client *c, const char *bucket,
		      const char *name, uint64_t size, ais_read_cb cb,
		      void *arg, const struct ais_put_opts *opts,
		      struct ais_obj_meta *out, char *errmsg)
{
	struct put_src s = {.kind = SRC_CB, .cb = cb, .arg = arg, .size = size};

	return put_common(c, bucket, name, &s, opts, out, errmsg);
}

int ais_client_put_buf(struct ais_client *c, const char *bucket,
		       const char *name, const void *buf, size_t len,
		       const struct ais_put_opts *opts,
		       struct ais_obj_meta *out, char *errmsg)
{
	struct put_src s = {.kind = SRC_BUF, .buf = buf, .size = len};

	return put_common(c, bucket, name, &s, opts, out, errmsg);
}
