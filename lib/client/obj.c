/* libais client: object operations (PUT, GET, HEAD, DELETE, RENAME,
 * SET_META). Bodies stream through fixed buffers; see client.h for the
 * retry rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "client_i.h"
#include "cksum.h"
#include "names.h"
#include "util.h"

#define PUT_CHUNK	   (256 * 1024) /* bytes read from a source at a time */
#define GET_CHUNK	   (256 * 1024) /* bytes received into a sink at a time */
#define WRONG_NODE_RETRIES 3

/* ---- PUT -------------------------------------------------------------- */

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
	int stale_left = 1, conn_left = 1, wrong = 0;
	bool fresh = false;
	int rc;

	rc = ais_check_obj_names(bucket, name, errmsg);
	if (rc < 0)
		return rc;
	req.op = AIS__OP__OP_PUT;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	if (opts && opts->cksum && opts->cksum[0]) {
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
		req.no_overwrite = opts->no_overwrite;
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

	for (;;) {
		struct ais_pool *pool;
		struct ais_call k;
		struct ais_cksum ck;
		bool answered = false;
		uint64_t off = 0;
		char em[AIS_ERRMSG_LEN] = "";
		int st;

		rc = ais_owner_pool(c, bucket, name, &pool, errmsg);
		if (rc < 0)
			goto out;
		rc = ais_cksum_init(&ck, verify_type);
		if (rc < 0) {
			rc = ais_errf(errmsg, rc, "checksum type %d: %s",
				      verify_type, strerror(-rc));
			goto out;
		}
		rc =
		    ais_call_start(&k, c, pool, &req, src->size, fresh, errmsg);
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
				k.fail = AIS_CALL_OTHER;
				ais_call_finish(&k, false);
				goto out;
			}
			ais_cksum_update(&ck, p, n);
			rc = ais_call_send_body(&k, p, n, &answered, errmsg);
			if (rc < 0)
				break;
			if (!answered)
				off += n;
		}
		if (rc < 0) {
			/* The node may have refused the PUT and closed: its
			 * answer can still be waiting in our socket. */
			int fail = k.fail;

			k.fail = AIS_CALL_OK;
			if (ais_call_recv_head(&k, em) < 0) {
				k.fail = fail;
				ais_cksum_abort(&ck);
				ais_call_finish(&k, false);
				goto retry;
			}
			answered = true;
		} else {
			rc = ais_call_recv_head(&k, errmsg);
			if (rc < 0) {
				ais_cksum_abort(&ck);
				ais_call_finish(&k, false);
				goto retry;
			}
		}

		st = k.resp->status;
		if (st == 0 && off < src->size) {
			ais_cksum_abort(&ck);
			rc = ais_errf(errmsg, -EPROTO,
				      "node %s: accepted a PUT after %llu of "
				      "%llu bytes",
				      pool->addr, (unsigned long long)off,
				      (unsigned long long)src->size);
			ais_call_finish(&k, false);
			goto out;
		}
		if (st == -EREMOTE) {
			ais_cksum_abort(&ck);
			ais_client_follow_wrong_node(c, k.resp);
			rc = ais_resp_status(k.resp, errmsg);
			ais_call_finish(&k, false);
			if (wrong++ < WRONG_NODE_RETRIES &&
			    src_rewindable(src)) {
				fresh = false;
				continue;
			}
			goto out;
		}
		if (st != 0) {
			ais_cksum_abort(&ck);
			rc = ais_resp_status(k.resp, errmsg);
			ais_call_finish(&k, false);
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
				ais_call_finish(&k, true);
				goto out;
			}
		} else {
			ais_cksum_abort(&ck);
		}
		if (out)
			ais_meta_from_pb(k.resp->meta, out);
		ais_call_finish(&k, true);
		if (errmsg)
			errmsg[0] = '\0';
		rc = 0;
		goto out;

	retry:
		if (k.fail == AIS_CALL_STALE && stale_left > 0 &&
		    src_rewindable(src)) {
			stale_left--;
			fresh = true;
			continue;
		}
		if (k.fail == AIS_CALL_CONN && conn_left > 0 &&
		    src_rewindable(src)) {
			conn_left--;
			fresh = true;
			continue;
		}
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

/* ---- GET -------------------------------------------------------------- */

enum { SINK_FD, SINK_CB, SINK_BUF };

struct get_sink {
	int kind;
	int fd;
	ais_write_cb cb;
	void *arg;
	uint8_t *buf; /* SINK_BUF: cap bytes */
	size_t cap;
	uint64_t done;	      /* bytes delivered so far */
	const char *archpath; /* a shard member, or NULL for the object */
};

static int sink_write(struct get_sink *s, const uint8_t *p, size_t n,
		      char *errmsg)
{
	int rc;

	if (s->kind == SINK_FD) {
		rc = ais_write_all(s->fd, p, n);
		if (rc < 0)
			return ais_errf(errmsg, rc, "writing output: %s",
					strerror(-rc));
	} else {
		rc = s->cb(s->arg, p, n);
		if (rc < 0)
			return ais_errf(errmsg, rc,
					"GET aborted by receiver: %s",
					strerror(-rc));
	}
	return 0;
}

/* GET of [off, off+len) into sink. A connection lost mid-body is resumed
 * with a range request from where it stopped, provided the object is still
 * the same version. Returns the number of bytes delivered or -errno. */
static ssize_t get_common(struct ais_client *c, const char *bucket,
			  const char *name, uint64_t off, uint64_t len,
			  struct get_sink *sink, struct ais_obj_meta *out,
			  char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct ais_cksum ck = {0};
	char want[AIS_CKSUM_HEX_MAX] = "";
	bool have_meta = false, verify = false, fresh = false;
	uint64_t version = 0, size = 0;
	int stale_left = 1, conn_left = 1, wrong = 0;
	uint8_t *tmp = NULL;
	size_t tmp_cap = 0;
	ssize_t rc;

	rc = ais_check_obj_names(bucket, name, errmsg);
	if (rc < 0)
		return rc;
	req.op = AIS__OP__OP_GET;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	if (sink->archpath)
		req.archpath = (char *)sink->archpath;

	for (;;) {
		struct ais_pool *pool;
		struct ais_call k;
		const Ais__ObjMeta *m;
		int st;

		rc = ais_owner_pool(c, bucket, name, &pool, errmsg);
		if (rc < 0)
			goto out;
		req.offset = off + sink->done;
		req.length = len ? len - sink->done : 0;
		rc = ais_call_start(&k, c, pool, &req, 0, fresh, errmsg);
		if (rc < 0)
			goto retry;
		rc = ais_call_recv_head(&k, errmsg);
		if (rc < 0) {
			ais_call_finish(&k, false);
			goto retry;
		}
		st = k.resp->status;
		if (st == -EREMOTE && wrong++ < WRONG_NODE_RETRIES) {
			ais_client_follow_wrong_node(c, k.resp);
			ais_call_finish(&k, false);
			fresh = false;
			continue;
		}
		if (st != 0) {
			rc = ais_resp_status(k.resp, errmsg);
			ais_call_finish(&k, false);
			goto out;
		}
		m = k.resp->meta;
		if (!have_meta) {
			have_meta = true;
			version = m ? m->version : 0;
			size = m ? m->size : 0;
			if (out) {
				ais_meta_from_pb(m, out);
				if (k.resp->object_size)
					out->size = k.resp->object_size;
			}
			if (off == 0 && len == 0 && m &&
			    m->cksum_type != AIS__CKSUM_TYPE__CKSUM_NONE &&
			    ais_cksum_init(&ck, (int)m->cksum_type) == 0) {
				verify = true;
				snprintf(want, sizeof(want), "%s",
					 m->cksum_value);
			}
		} else if (!m || m->version != version || m->size != size) {
			rc = ais_errf(errmsg, -EIO,
				      "%s/%s changed while being read", bucket,
				      name);
			ais_call_finish(&k, false);
			goto out;
		}
		if (sink->kind == SINK_BUF &&
		    k.body_left > sink->cap - sink->done) {
			rc = ais_errf(errmsg, -EPROTO,
				      "node %s: sent %llu bytes for a %zu-byte "
				      "read",
				      pool->addr,
				      (unsigned long long)k.body_left,
				      sink->cap);
			k.fail = AIS_CALL_OTHER;
			ais_call_finish(&k, false);
			goto out;
		}
		if (sink->kind != SINK_BUF && !tmp && k.body_left > 0) {
			size_t sz = k.body_left < GET_CHUNK
					? (size_t)k.body_left
					: GET_CHUNK;

			tmp = malloc(sz);
			tmp_cap = sz;
			if (!tmp) {
				rc = ais_errf(errmsg, -ENOMEM, "out of memory");
				ais_call_finish(&k, false);
				goto out;
			}
		}
		while (k.body_left > 0) {
			uint8_t *p = sink->kind == SINK_BUF
					 ? sink->buf + sink->done
					 : tmp;
			size_t room = sink->kind == SINK_BUF
					  ? sink->cap - (size_t)sink->done
					  : tmp_cap;
			ssize_t n;

			if (sink->kind != SINK_BUF && room > k.body_left)
				room = (size_t)k.body_left;
			n = ais_call_recv_body(&k, p, room, errmsg);
			if (n < 0) {
				rc = n;
				break;
			}
			if (verify)
				ais_cksum_update(&ck, p, (size_t)n);
			if (sink->kind != SINK_BUF) {
				rc = sink_write(sink, p, (size_t)n, errmsg);
				if (rc < 0) {
					k.fail = AIS_CALL_OTHER;
					ais_call_finish(&k, false);
					goto out;
				}
			}
			sink->done += (uint64_t)n;
		}
		if (rc < 0) {
			ais_call_finish(&k, false);
			goto retry;
		}
		ais_call_finish(&k, true);
		if (verify) {
			char got[AIS_CKSUM_HEX_MAX];

			ais_cksum_final(&ck, got);
			verify = false;
			if (strcmp(got, want) != 0) {
				rc = ais_errf(errmsg, -EBADMSG,
					      "checksum mismatch on GET of "
					      "%s/%s: expected %s, got %s",
					      bucket, name, want, got);
				goto out;
			}
		}
		if (errmsg)
			errmsg[0] = '\0';
		rc = (ssize_t)sink->done;
		goto out;

	retry:
		if (k.fail == AIS_CALL_STALE && stale_left > 0) {
			stale_left--;
			fresh = true;
			continue;
		}
		if (k.fail == AIS_CALL_CONN && conn_left > 0) {
			conn_left--;
			fresh = true;
			continue;
		}
		goto out;
	}
out:
	if (verify)
		ais_cksum_abort(&ck);
	free(tmp);
	return rc;
}

int ais_client_get_fd(struct ais_client *c, const char *bucket,
		      const char *name, uint64_t off, uint64_t len, int fd,
		      struct ais_obj_meta *out, char *errmsg)
{
	struct get_sink s = {.kind = SINK_FD, .fd = fd};
	ssize_t rc = get_common(c, bucket, name, off, len, &s, out, errmsg);

	return rc < 0 ? (int)rc : 0;
}

int ais_client_get_cb(struct ais_client *c, const char *bucket,
		      const char *name, uint64_t off, uint64_t len,
		      ais_write_cb cb, void *arg, struct ais_obj_meta *out,
		      char *errmsg)
{
	struct get_sink s = {.kind = SINK_CB, .cb = cb, .arg = arg};
	ssize_t rc = get_common(c, bucket, name, off, len, &s, out, errmsg);

	return rc < 0 ? (int)rc : 0;
}

ssize_t ais_client_read(struct ais_client *c, const char *bucket,
			const char *name, uint64_t off, void *buf, size_t len,
			struct ais_obj_meta *out, char *errmsg)
{
	struct get_sink s = {.kind = SINK_BUF, .buf = buf, .cap = len};

	if (len == 0)
		return 0;
	return get_common(c, bucket, name, off, len, &s, out, errmsg);
}

/* ---- shard members ---------------------------------------------------- */

int ais_client_member_get_fd(struct ais_client *c, const char *bucket,
			     const char *shard, const char *path, uint64_t off,
			     uint64_t len, int fd, struct ais_obj_meta *out,
			     char *errmsg)
{
	struct get_sink s = {.kind = SINK_FD, .fd = fd, .archpath = path};
	ssize_t rc = ais_check_member_names(bucket, shard, path, errmsg);

	if (rc == 0)
		rc = get_common(c, bucket, shard, off, len, &s, out, errmsg);
	return rc < 0 ? (int)rc : 0;
}

int ais_client_member_get_cb(struct ais_client *c, const char *bucket,
			     const char *shard, const char *path, uint64_t off,
			     uint64_t len, ais_write_cb cb, void *arg,
			     struct ais_obj_meta *out, char *errmsg)
{
	struct get_sink s = {
	    .kind = SINK_CB, .cb = cb, .arg = arg, .archpath = path};
	ssize_t rc = ais_check_member_names(bucket, shard, path, errmsg);

	if (rc == 0)
		rc = get_common(c, bucket, shard, off, len, &s, out, errmsg);
	return rc < 0 ? (int)rc : 0;
}

ssize_t ais_client_member_read(struct ais_client *c, const char *bucket,
			       const char *shard, const char *path,
			       uint64_t off, void *buf, size_t len,
			       struct ais_obj_meta *out, char *errmsg)
{
	struct get_sink s = {
	    .kind = SINK_BUF, .buf = buf, .cap = len, .archpath = path};
	ssize_t rc = ais_check_member_names(bucket, shard, path, errmsg);

	if (rc < 0 || len == 0)
		return rc;
	return get_common(c, bucket, shard, off, len, &s, out, errmsg);
}

/* HEAD of bucket/name, or of its member archpath (names checked). */
static int head_common(struct ais_client *c, const char *bucket,
		       const char *name, const char *archpath,
		       struct ais_obj_meta *out, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	req.op = AIS__OP__OP_HEAD;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	if (archpath)
		req.archpath = (char *)archpath;
	rc = ais_call_obj(c, bucket, name, &req, true, &a, errmsg);
	if (rc < 0)
		return rc;
	if (out)
		ais_meta_from_pb(a->meta, out);
	ais__response__free_unpacked(a, NULL);
	return 0;
}

int ais_client_member_head(struct ais_client *c, const char *bucket,
			   const char *shard, const char *path,
			   struct ais_obj_meta *out, char *errmsg)
{
	int rc = ais_check_member_names(bucket, shard, path, errmsg);

	if (rc < 0)
		return rc;
	return head_common(c, bucket, shard, path, out, errmsg);
}

/* ---- HEAD, DELETE, SET_META ------------------------------------------- */

int ais_client_head(struct ais_client *c, const char *bucket, const char *name,
		    struct ais_obj_meta *out, char *errmsg)
{
	int rc = ais_check_obj_names(bucket, name, errmsg);

	if (rc < 0)
		return rc;
	return head_common(c, bucket, name, NULL, out, errmsg);
}

int ais_client_delete(struct ais_client *c, const char *bucket,
		      const char *name, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	rc = ais_check_obj_names(bucket, name, errmsg);
	if (rc < 0)
		return rc;
	req.op = AIS__OP__OP_DELETE;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	rc = ais_call_obj(c, bucket, name, &req, true, &a, errmsg);
	if (rc < 0)
		return rc;
	ais__response__free_unpacked(a, NULL);
	return 0;
}

int ais_client_set_meta(struct ais_client *c, const char *bucket,
			const char *name, const uint32_t *mode,
			const int64_t *mtime_ns, const uint32_t *uid,
			const uint32_t *gid, struct ais_obj_meta *out,
			char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	rc = ais_check_obj_names(bucket, name, errmsg);
	if (rc < 0)
		return rc;
	if ((uid == NULL) != (gid == NULL)) {
		/* The wire sets owner as a pair: fill the missing half from
		 * the current metadata. */
		struct ais_obj_meta cur;

		rc = ais_client_head(c, bucket, name, &cur, errmsg);
		if (rc < 0)
			return rc;
		req.uid = uid ? *uid : cur.uid;
		req.gid = gid ? *gid : cur.gid;
		req.set_owner = true;
	} else if (uid && gid) {
		req.uid = *uid;
		req.gid = *gid;
		req.set_owner = true;
	}
	req.op = AIS__OP__OP_SET_META;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	if (mode) {
		req.mode = *mode;
		req.set_mode = true;
	}
	if (mtime_ns) {
		req.mtime_ns = *mtime_ns;
		req.set_mtime = true;
	}
	rc = ais_call_obj(c, bucket, name, &req, true, &a, errmsg);
	if (rc < 0)
		return rc;
	if (out)
		ais_meta_from_pb(a->meta, out);
	ais__response__free_unpacked(a, NULL);
	return 0;
}

/* ---- RENAME ----------------------------------------------------------- */

/* An open GET of a whole object whose body is pulled by a PUT callback:
 * the copy of a rename flows node to node through one PUT_CHUNK buffer. */
struct get_stream {
	struct ais_call k;
	struct ais_cksum ck;
	bool verify;
	char want[AIS_CKSUM_HEX_MAX];
	int err;
	char errmsg[AIS_ERRMSG_LEN];
};

/* Opens a GET of bucket/name (following WRONG_NODE and retrying dead
 * connections); on success s->k.resp has the meta and the body is pending.
 * Close with stream_close. */
static int stream_open(struct ais_client *c, const char *bucket,
		       const char *name, struct get_stream *s, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	int stale_left = 1, conn_left = 1, wrong = 0, rc;
	bool fresh = false;

	s->verify = false;
	s->err = 0;
	s->errmsg[0] = '\0';
	s->want[0] = '\0';
	s->k.fd = -1;
	s->k.resp = NULL;
	req.op = AIS__OP__OP_GET;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	for (;;) {
		struct ais_pool *pool;
		const Ais__ObjMeta *m;

		rc = ais_owner_pool(c, bucket, name, &pool, errmsg);
		if (rc < 0)
			return rc;
		rc = ais_call_start(&s->k, c, pool, &req, 0, fresh, errmsg);
		if (rc == 0) {
			rc = ais_call_recv_head(&s->k, errmsg);
			if (rc < 0)
				ais_call_finish(&s->k, false);
		}
		if (rc < 0) {
			if (s->k.fail == AIS_CALL_STALE && stale_left-- > 0) {
				fresh = true;
				continue;
			}
			if (s->k.fail == AIS_CALL_CONN && conn_left-- > 0) {
				fresh = true;
				continue;
			}
			return rc;
		}
		if (s->k.resp->status == -EREMOTE &&
		    wrong++ < WRONG_NODE_RETRIES) {
			ais_client_follow_wrong_node(c, s->k.resp);
			ais_call_finish(&s->k, false);
			fresh = false;
			continue;
		}
		rc = ais_resp_status(s->k.resp, errmsg);
		if (rc < 0) {
			ais_call_finish(&s->k, false);
			return rc;
		}
		m = s->k.resp->meta;
		if (m && m->cksum_type != AIS__CKSUM_TYPE__CKSUM_NONE &&
		    ais_cksum_init(&s->ck, (int)m->cksum_type) == 0) {
			s->verify = true;
			snprintf(s->want, sizeof(s->want), "%s",
				 m->cksum_value);
		}
		return 0;
	}
}

static ssize_t stream_read(void *arg, void *buf, size_t len)
{
	struct get_stream *s = arg;
	ssize_t n = ais_call_recv_body(&s->k, buf, len, s->errmsg);

	if (n < 0) {
		s->err = (int)n;
		return n;
	}
	if (s->verify)
		ais_cksum_update(&s->ck, buf, (size_t)n);
	return n;
}

/* Ends the stream; returns -EBADMSG if the whole body arrived but does not
 * match its checksum (or -EIO if it did not all arrive). */
static int stream_close(struct get_stream *s, const char *what, char *errmsg)
{
	int rc = 0;

	if (s->verify) {
		char got[AIS_CKSUM_HEX_MAX];

		ais_cksum_final(&s->ck, got);
		if (s->k.body_left == 0 && strcmp(got, s->want) != 0)
			rc = ais_errf(errmsg, -EBADMSG,
				      "checksum mismatch on GET of %s: "
				      "expected %s, got %s",
				      what, s->want, got);
	}
	if (rc == 0 && s->k.body_left != 0)
		rc = ais_errf(errmsg, -EIO, "GET of %s ended early", what);
	ais_call_finish(&s->k, rc == 0);
	return rc;
}

/* Copies bucket/name to new_name on another node and deletes the old one. */
static int rename_copy(struct ais_client *c, const char *bucket,
		       const char *name, const char *new_name,
		       bool no_overwrite, bool *retryable, char *errmsg)
{
	struct ais_put_opts po = {0};
	struct get_stream s;
	const Ais__ObjMeta *m;
	uint64_t size;
	int rc, rc2;

	rc = stream_open(c, bucket, name, &s, errmsg);
	if (rc < 0)
		return rc;
	m = s.k.resp->meta;
	size = s.k.body_left;
	if (m) {
		po.mode = m->mode;
		po.mtime_ns = m->mtime_ns;
		po.uid = m->uid;
		po.gid = m->gid;
		/* The new owner verifies the bytes end to end. */
		if (m->cksum_type != AIS__CKSUM_TYPE__CKSUM_NONE &&
		    m->cksum_value[0] && m->size == size) {
			po.cksum_type = (int)m->cksum_type;
			po.cksum = m->cksum_value;
		}
	}
	po.no_overwrite = no_overwrite;
	rc = ais_client_put_cb(c, bucket, new_name, size, stream_read, &s, &po,
			       NULL, errmsg);
	if (rc < 0 && s.err) {
		/* The GET side broke: nothing was committed, so the whole
		 * copy may run again. */
		*retryable = s.k.fail == AIS_CALL_CONN;
		rc = ais_errf(errmsg, s.err, "%s", s.errmsg);
	}
	if (rc < 0) {
		s.k.fail = AIS_CALL_OTHER;
		if (s.verify)
			ais_cksum_abort(&s.ck);
		s.verify = false;
		ais_call_finish(&s.k, false);
		return rc;
	}
	rc2 = stream_close(&s, name, errmsg);
	if (rc2 < 0)
		return rc2; /* the node already verified: should not happen */
	rc = ais_client_delete(c, bucket, name, errmsg);
	if (rc < 0 && rc != -ENOENT) {
		char em[AIS_ERRMSG_LEN];

		snprintf(em, sizeof(em), "%s", errmsg ? errmsg : "");
		return ais_errf(errmsg, rc,
				"copied %s/%s to %s but could not delete the "
				"old name: %s",
				bucket, name, new_name, em);
	}
	if (errmsg)
		errmsg[0] = '\0';
	return 0;
}

int ais_client_rename(struct ais_client *c, const char *bucket,
		      const char *name, const char *new_name, bool no_overwrite,
		      char *errmsg)
{
	int wrong, rc, copy_retries = 1;

	rc = ais_check_obj_names(bucket, name, errmsg);
	if (rc < 0)
		return rc;
	rc = ais_name_check_object(new_name, strlen(new_name), errmsg);
	if (rc < 0)
		return rc;
	if (strcmp(name, new_name) == 0)
		return ais_client_head(c, bucket, name, NULL, errmsg);

	for (wrong = 0;; wrong++) {
		Ais__Request req = AIS__REQUEST__INIT;
		struct ais_pool *p_old, *p_new;
		bool retryable = false;
		Ais__Response *a;

		rc = ais_owner_pool(c, bucket, name, &p_old, errmsg);
		if (rc == 0)
			rc =
			    ais_owner_pool(c, bucket, new_name, &p_new, errmsg);
		if (rc < 0)
			return rc;
		if (p_old != p_new) {
			if (no_overwrite) {
				rc = ais_client_head(c, bucket, new_name, NULL,
						     errmsg);
				if (rc == 0)
					return ais_errf(errmsg, -EEXIST,
							"%s/%s: already "
							"exists",
							bucket, new_name);
				if (rc != -ENOENT)
					return rc;
			}
			rc = rename_copy(c, bucket, name, new_name,
					 no_overwrite, &retryable, errmsg);
			if (rc == -EREMOTE && wrong < WRONG_NODE_RETRIES)
				continue;
			if (retryable && copy_retries-- > 0) {
				wrong--; /* not a WRONG_NODE round */
				continue;
			}
			return rc;
		}
		/* One owner for both names: an atomic rename on it. */
		req.op = AIS__OP__OP_RENAME;
		req.bucket = (char *)bucket;
		req.name = (char *)name;
		req.new_name = (char *)new_name;
		req.no_overwrite = no_overwrite;
		rc = ais_call_simple(c, p_old, &req, false, 0, &a, errmsg);
		if (rc < 0)
			return rc;
		if (a->status == -EREMOTE && wrong < WRONG_NODE_RETRIES) {
			ais_client_follow_wrong_node(c, a);
			ais__response__free_unpacked(a, NULL);
			continue;
		}
		rc = ais_resp_status(a, errmsg);
		ais__response__free_unpacked(a, NULL);
		return rc;
	}
}
