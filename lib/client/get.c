/* libais client: GET of objects and shard members, whole or a range, into
 * a file, a callback or a buffer, verified against the object's checksum
 * when whole; see client.h for the retry rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cksum.h"
#include "client.h"
#include "client_i.h"
#include "fileio.h"
#include "util.h"

#define GET_CHUNK (256 * 1024) /* bytes received into a sink at a time */

enum { SINK_FD, SINK_CB, SINK_BUF };

/* How long a GET through a transform waits, in all, for a node that runs
 * as many as it may (-EBUSY) before it gives up. */
#define ETL_BUSY_WAIT_MS 60000

struct get_sink {
	int kind;
	int fd;
	ais_write_cb cb;
	void *arg;
	uint8_t *buf; /* SINK_BUF: cap bytes */
	size_t cap;
	uint64_t done;	      /* bytes delivered so far */
	const char *archpath; /* a shard member, or NULL for the object */
	const char *etl;      /* a transform to read through, or NULL */
	const char *etl_args;
	struct ais_get_ext *x; /* S3's wants, or NULL */
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
	bool have_meta = false, verify = false;
	uint64_t version = 0, size = 0;
	int64_t written = 0;
	struct ais__retry r;
	uint8_t *tmp = NULL;
	size_t tmp_cap = 0;
	unsigned busy_ms = 0, busy_tries = 0;
	ssize_t rc;

	rc = ais__check_obj_names(bucket, name, errmsg);
	if (rc < 0)
		return rc;
	req.op = AIS__OP__OP_GET;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	if (sink->archpath)
		req.archpath = (char *)sink->archpath;
	req.want_ext = sink->x != NULL;
	if (sink->etl) {
		req.etl_name = (char *)sink->etl;
		req.etl_args = (char *)(sink->etl_args ? sink->etl_args : "");
	}
	/* A transform runs once per request: a GET through one is never
	 * sent again once it reached a node (only a dead pooled connection,
	 * which it never reached, is retried). */
	ais__retry_init(&r, sink->etl ? 0 : 1);

	for (;;) {
		struct ais_pool *pool;
		struct ais__call k;
		const Ais__ObjMeta *m;
		int st;

		rc = ais__copy_pool(c, bucket, name, &r, &pool, errmsg);
		if (rc < 0)
			goto out;
		req.offset = sink->etl ? 0 : off + sink->done;
		req.length = sink->etl ? 0 : len ? len - sink->done : 0;
		/* The node answers a transform's GET once the program is
		 * done: up to its timeout. */
		rc = sink->etl
			 ? ais__call_start_io(
			       &k, c, pool, &req, 0, r.fresh,
			       (int)AIS_ETL_TIMEOUT_MAX_MS + 60000, errmsg)
			 : ais__call_start(&k, c, pool, &req, 0, r.fresh,
					   errmsg);
		if (rc < 0)
			goto retry;
		rc = ais__call_recv_head(&k, errmsg);
		if (rc < 0) {
			ais__call_finish(&k, false);
			goto retry;
		}
		st = k.resp->status;
		if (st == -EREMOTE &&
		    ais__retry_wrong_node(&r, c, k.resp, true)) {
			ais__call_finish(&k, false);
			continue;
		}
		if (st == -EAGAIN && k.resp->catching_up &&
		    ais__retry_catching_up(&r, c, bucket, name, pool)) {
			ais__call_finish(&k, true);
			continue;
		}
		/* A corrupt copy its node could not repair: another copy. */
		if (st == -EBADMSG &&
		    ais__retry_copy(&r, c, bucket, name, pool, true)) {
			ais__call_finish(&k, true);
			continue;
		}
		/* The node runs as many transforms as it may: this one did
		 * not run, so asking again (a little later) is safe. */
		if (st == -EBUSY && sink->etl && busy_ms < ETL_BUSY_WAIT_MS) {
			unsigned ms = 5u << (busy_tries < 6 ? busy_tries : 6);
			struct timespec ts = {0, (long)ms * 1000000};

			ais__call_finish(&k, true);
			nanosleep(&ts, NULL);
			busy_ms += ms;
			busy_tries++;
			continue;
		}
		if (st != 0) {
			rc = ais__resp_status(k.resp, errmsg);
			ais__call_finish(&k, false);
			goto out;
		}
		m = k.resp->meta;
		if (!have_meta) {
			have_meta = true;
			version = m ? m->version : 0;
			size = m ? m->size : 0;
			written = m ? m->written_ns : 0;
			if (out) {
				ais_obj_meta_from_pb(m, out);
				if (k.resp->object_size)
					out->size = k.resp->object_size;
			}
			if (sink->x) {
				struct ais_get_ext *x = sink->x;
				struct ais_obj_meta hm;

				x->ext_len = k.resp->ext.len <= AIS_OBJ_EXT_MAX
						 ? k.resp->ext.len
						 : 0;
				if (x->ext_len)
					memcpy(x->ext, k.resp->ext.data,
					       x->ext_len);
				ais_obj_meta_from_pb(m, &hm);
				if (k.resp->object_size)
					hm.size = k.resp->object_size;
				rc = x->on_head ? x->on_head(sink->arg, &hm,
							     k.body_left)
						: 0;
				if (rc) {
					k.fail = AIS_CONN_FAIL_OTHER;
					ais__call_finish(&k, k.body_left == 0);
					goto out;
				}
			}
			if (off == 0 && len == 0 && m &&
			    m->cksum_type != AIS__CKSUM_TYPE__CKSUM_NONE &&
			    ais_cksum_init(&ck, (int)m->cksum_type) == 0) {
				verify = true;
				snprintf(want, sizeof(want), "%s",
					 m->cksum_value);
			}
		} else if (!m || m->version != version || m->size != size ||
			   m->written_ns != written) {
			rc = ais_errf(errmsg, -EIO,
				      "%s/%s changed while being read", bucket,
				      name);
			ais__call_finish(&k, false);
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
			k.fail = AIS_CONN_FAIL_OTHER;
			ais__call_finish(&k, false);
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
				ais__call_finish(&k, false);
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
			n = ais__call_recv_body(&k, p, room, errmsg);
			if (n < 0) {
				rc = n;
				break;
			}
			if (verify)
				ais_cksum_update(&ck, p, (size_t)n);
			if (sink->kind != SINK_BUF) {
				rc = sink_write(sink, p, (size_t)n, errmsg);
				if (rc < 0) {
					k.fail = AIS_CONN_FAIL_OTHER;
					ais__call_finish(&k, false);
					goto out;
				}
			}
			sink->done += (uint64_t)n;
		}
		if (rc < 0) {
			ais__call_finish(&k, false);
			goto retry;
		}
		ais__call_finish(&k, true);
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
		/* A transform's output is not resumed from the middle nor
		 * asked of another copy once the request may have reached a
		 * node: that would run the program again. (Never sent, as
		 * to a node that is down: another copy's node may run it.) */
		if (sink->etl && k.sent &&
		    (sink->done > 0 || k.fail != AIS_CONN_FAIL_STALE))
			goto out;
		/* The node could not be reached, or broke off: the next copy
		 * (the rest of the bytes from it, if the version is the
		 * same), else the retry rules on this one. */
		if (k.fail != AIS_CONN_FAIL_NONE &&
		    k.fail != AIS_CONN_FAIL_STALE &&
		    ais__retry_copy(&r, c, bucket, name, pool, true))
			continue;
		if (ais__retry_conn(&r, k.fail, true))
			continue;
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

int ais_client_get_ext_cb(struct ais_client *c, const char *bucket,
			  const char *name, uint64_t off, uint64_t len,
			  ais_write_cb cb, void *arg, struct ais_get_ext *x,
			  struct ais_obj_meta *out, char *errmsg)
{
	struct get_sink s = {.kind = SINK_CB,
			     .cb = cb,
			     .arg = arg,
			     .archpath = x->archpath,
			     .x = x};
	ssize_t rc;

	x->ext_len = 0;
	if (x->archpath) {
		rc = ais__check_member_names(bucket, name, x->archpath, errmsg);
		if (rc < 0)
			return (int)rc;
	}
	rc = get_common(c, bucket, name, off, len, &s, out, errmsg);
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

int ais_client_get_etl_fd(struct ais_client *c, const char *bucket,
			  const char *name, const char *archpath,
			  const char *etl, const char *etl_args, int fd,
			  struct ais_obj_meta *out, char *errmsg)
{
	struct get_sink s = {.kind = SINK_FD,
			     .fd = fd,
			     .archpath =
				 archpath && archpath[0] ? archpath : NULL,
			     .etl = etl,
			     .etl_args = etl_args};
	ssize_t rc;

	if (!etl || !etl[0])
		return ais_errf(errmsg, -EINVAL, "no transform named");
	rc = get_common(c, bucket, name, 0, 0, &s, out, errmsg);
	return rc < 0 ? (int)rc : 0;
}

int ais_client_get_etl_cb(struct ais_client *c, const char *bucket,
			  const char *name, const char *archpath,
			  const char *etl, const char *etl_args,
			  ais_write_cb cb, void *arg, struct ais_obj_meta *out,
			  char *errmsg)
{
	struct get_sink s = {.kind = SINK_CB,
			     .cb = cb,
			     .arg = arg,
			     .archpath =
				 archpath && archpath[0] ? archpath : NULL,
			     .etl = etl,
			     .etl_args = etl_args};
	ssize_t rc;

	if (!etl || !etl[0])
		return ais_errf(errmsg, -EINVAL, "no transform named");
	rc = get_common(c, bucket, name, 0, 0, &s, out, errmsg);
	return rc < 0 ? (int)rc : 0;
}

/* ---- shard members ---------------------------------------------------- */

int ais_client_member_get_fd(struct ais_client *c, const char *bucket,
			     const char *shard, const char *path, uint64_t off,
			     uint64_t len, int fd, struct ais_obj_meta *out,
			     char *errmsg)
{
	struct get_sink s = {.kind = SINK_FD, .fd = fd, .archpath = path};
	ssize_t rc = ais__check_member_names(bucket, shard, path, errmsg);

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
	ssize_t rc = ais__check_member_names(bucket, shard, path, errmsg);

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
	ssize_t rc = ais__check_member_names(bucket, shard, path, errmsg);

	if (rc < 0 || len == 0)
		return rc;
	return get_common(c, bucket, shard, off, len, &s, out, errmsg);
}
