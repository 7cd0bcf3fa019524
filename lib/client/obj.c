/* libais client: HEAD, DELETE, SET_META and RENAME of objects (PUT and GET
 * are put.c and get.c); see client.h for the retry rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "client_i.h"
#include "cksum.h"
#include "names.h"
#include "fileio.h"
#include "util.h"

/* An idempotent body-less request about bucket/name whose answer carries
 * the object's metadata, into out (may be NULL). */
static int call_meta(struct ais_client *c, const char *bucket, const char *name,
		     Ais__Request *req, struct ais_obj_meta *out, char *errmsg)
{
	Ais__Response *a;
	int rc = ais__call_obj(c, bucket, name, req, true, &a, errmsg);

	if (rc < 0)
		return rc;
	if (out)
		ais_obj_meta_from_pb(a->meta, out);
	ais__response__free_unpacked(a, NULL);
	return 0;
}

/* HEAD of bucket/name, or of its member archpath (names checked). */
static int head_common(struct ais_client *c, const char *bucket,
		       const char *name, const char *archpath,
		       struct ais_obj_meta *out, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = AIS__OP__OP_HEAD;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	if (archpath)
		req.archpath = (char *)archpath;
	return call_meta(c, bucket, name, &req, out, errmsg);
}

int ais_client_member_head(struct ais_client *c, const char *bucket,
			   const char *shard, const char *path,
			   struct ais_obj_meta *out, char *errmsg)
{
	int rc = ais__check_member_names(bucket, shard, path, errmsg);

	if (rc < 0)
		return rc;
	return head_common(c, bucket, shard, path, out, errmsg);
}

int ais_client_head_ext(struct ais_client *c, const char *bucket,
			const char *name, const char *archpath,
			struct ais_obj_meta *out, uint8_t *ext, size_t *ext_len,
			char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc = archpath
		     ? ais__check_member_names(bucket, name, archpath, errmsg)
		     : ais__check_obj_names(bucket, name, errmsg);

	*ext_len = 0;
	if (rc < 0)
		return rc;
	req.op = AIS__OP__OP_HEAD;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	if (archpath)
		req.archpath = (char *)archpath;
	req.want_ext = true;
	rc = ais__call_obj(c, bucket, name, &req, true, &a, errmsg);
	if (rc < 0)
		return rc;
	if (out)
		ais_obj_meta_from_pb(a->meta, out);
	if (a->ext.len && a->ext.len <= AIS_OBJ_EXT_MAX) {
		memcpy(ext, a->ext.data, a->ext.len);
		*ext_len = a->ext.len;
	}
	ais__response__free_unpacked(a, NULL);
	return 0;
}

/* ---- HEAD, DELETE, SET_META ------------------------------------------- */

int ais_client_head(struct ais_client *c, const char *bucket, const char *name,
		    struct ais_obj_meta *out, char *errmsg)
{
	int rc = ais__check_obj_names(bucket, name, errmsg);

	if (rc < 0)
		return rc;
	return head_common(c, bucket, name, NULL, out, errmsg);
}

/* An idempotent body-less op on bucket/name (names checked): 0 with *a
 * (free it), or -errno. */
static int call_named(struct ais_client *c, int op, const char *bucket,
		      const char *name, Ais__Response **a, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	int rc = ais__check_obj_names(bucket, name, errmsg);

	if (rc < 0)
		return rc;
	req.op = op;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	return ais__call_obj(c, bucket, name, &req, true, a, errmsg);
}

int ais_client_resolve(struct ais_client *c, const char *bucket,
		       const char *name, struct ais_obj_meta *out, char *errmsg)
{
	Ais__Response *a;
	int rc = call_named(c, AIS__OP__OP_RESOLVE, bucket, name, &a, errmsg);

	if (rc < 0)
		return rc;
	rc = a->is_dir ? 1 : 0;
	if (!rc && out)
		ais_obj_meta_from_pb(a->meta, out);
	ais__response__free_unpacked(a, NULL);
	return rc;
}

int ais_client_delete(struct ais_client *c, const char *bucket,
		      const char *name, char *errmsg)
{
	Ais__Response *a;
	int rc = call_named(c, AIS__OP__OP_DELETE, bucket, name, &a, errmsg);

	if (rc < 0)
		return rc;
	ais__response__free_unpacked(a, NULL);
	return 0;
}

int ais_client_set_meta(struct ais_client *c, const char *bucket,
			const char *name, const struct ais_meta_change *ch,
			struct ais_obj_meta *out, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	const uint32_t *uid = ch->uid, *gid = ch->gid;
	int rc;

	rc = ais__check_obj_names(bucket, name, errmsg);
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
	if (ch->mode) {
		req.mode = *ch->mode;
		req.set_mode = true;
	}
	if (ch->mtime_ns) {
		req.mtime_ns = *ch->mtime_ns;
		req.set_mtime = true;
	}
	if (ch->atime_ns) {
		req.atime_ns = *ch->atime_ns;
		req.set_atime = true;
	}
	return call_meta(c, bucket, name, &req, out, errmsg);
}

/* ---- RENAME ----------------------------------------------------------- */

/* An open GET of a whole object whose body is pulled by a PUT callback:
 * the copy of a rename flows node to node through one PUT_CHUNK buffer. */
struct get_stream {
	struct ais__call k;
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
	struct ais__retry r;
	int rc;

	s->verify = false;
	s->err = 0;
	s->errmsg[0] = '\0';
	s->want[0] = '\0';
	s->k.fd = -1;
	s->k.resp = NULL;
	req.op = AIS__OP__OP_GET;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	ais__retry_init(&r, 1);
	for (;;) {
		struct ais_pool *pool;
		const Ais__ObjMeta *m;

		rc = ais__owner_pool(c, bucket, name, &pool, errmsg);
		if (rc < 0)
			return rc;
		rc = ais__call_start(&s->k, c, pool, &req, 0, r.fresh, errmsg);
		if (rc == 0) {
			rc = ais__call_recv_head(&s->k, errmsg);
			if (rc < 0)
				ais__call_finish(&s->k, false);
		}
		if (rc < 0) {
			if (ais__retry_conn(&r, s->k.fail, true))
				continue;
			return rc;
		}
		if (s->k.resp->status == -EREMOTE &&
		    ais__retry_wrong_node(&r, c, s->k.resp, true)) {
			ais__call_finish(&s->k, false);
			continue;
		}
		rc = ais__resp_status(s->k.resp, errmsg);
		if (rc < 0) {
			ais__call_finish(&s->k, false);
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
	ssize_t n = ais__call_recv_body(&s->k, buf, len, s->errmsg);

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
	ais__call_finish(&s->k, rc == 0);
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
		po.atime_ns = m->atime_ns;
		po.uid = m->uid;
		po.gid = m->gid;
		po.owned = m->owned;
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
		*retryable = s.k.fail == AIS_CONN_FAIL_CONN;
		rc = ais_errf(errmsg, s.err, "%s", s.errmsg);
	}
	if (rc < 0) {
		s.k.fail = AIS_CONN_FAIL_OTHER;
		if (s.verify)
			ais_cksum_abort(&s.ck);
		s.verify = false;
		ais__call_finish(&s.k, false);
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
	struct ais__retry r;
	int rc, copy_retries = 1;

	rc = ais__check_obj_names(bucket, name, errmsg);
	if (rc < 0)
		return rc;
	rc = ais_name_check_object(new_name, strlen(new_name), errmsg);
	if (rc < 0)
		return rc;
	if (strcmp(name, new_name) == 0)
		return ais_client_head(c, bucket, name, NULL, errmsg);

	ais__retry_init(&r, 0);
	for (;;) {
		Ais__Request req = AIS__REQUEST__INIT;
		struct ais_pool *p_old, *p_new;
		bool retryable = false;
		Ais__Response *a;

		rc = ais__owner_pool(c, bucket, name, &p_old, errmsg);
		if (rc == 0)
			rc = ais__owner_pool(c, bucket, new_name, &p_new,
					     errmsg);
		if (rc < 0)
			return rc;
		if (p_old != p_new || ais__bucket_copies(c, bucket) > 1) {
			/* Different nodes, or copies on several: a copy and
			 * a delete (each made at every copy). */
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
			/* The GET or PUT inside adopted the new map. */
			if (rc == -EREMOTE && r.wrong_left-- > 0)
				continue;
			if (retryable && copy_retries-- > 0)
				continue;
			return rc;
		}
		/* One owner for both names: an atomic rename on it. */
		req.op = AIS__OP__OP_RENAME;
		req.bucket = (char *)bucket;
		req.name = (char *)name;
		req.new_name = (char *)new_name;
		req.no_overwrite = no_overwrite;
		rc = ais__call_simple(c, p_old, &req, false, 0, &a, errmsg);
		if (rc < 0)
			return rc;
		if (a->status == -EREMOTE &&
		    ais__retry_wrong_node(&r, c, a, true)) {
			ais__response__free_unpacked(a, NULL);
			continue;
		}
		rc = ais__resp_status(a, errmsg);
		ais__response__free_unpacked(a, NULL);
		return rc;
	}
}
