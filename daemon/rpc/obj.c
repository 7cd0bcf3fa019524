/* Objects: PUT, GET, HEAD, DELETE, RENAME, SET_META (on a worker; the loop
 * thread's GET and HEAD are in inline.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "names.h"

#include "cluster/peer.h"
#include "move/move.h"
#include "net/sock_io.h"
#include "rpc/rpc_i.h"
#include "store/bucket.h"
#include "store/store.h"
#include "store/xattr.h"

#define PUT_BUF (256 * 1024)

bool rpc_catching_up(struct rpc *r, const char *bucket)
{
	return !r->req->peer_local && move_catching_up(r->d->move) &&
	       ais_map_copies(r->cm->m, bucket) >= 2;
}

int rpc_check_caught_up(struct rpc *r, const char *bucket)
{
	if (!rpc_catching_up(r, bucket))
		return 0;
	r->resp.catching_up = true;
	return ais_errf(r->errmsg, -EAGAIN,
			"this node just started and is getting the copies it "
			"missed; read another copy of %s/%s",
			bucket, r->req->name);
}

int rpc_check_read(struct rpc *r)
{
	int rc;

	if (r->req->peer_local)
		return rpc_check_object(r, r->req->bucket, r->req->name);
	rc = rpc_check_mine(r);
	return rc ? rc : rpc_check_caught_up(r, r->req->bucket);
}

int rpc_open_obj(struct rpc *r, int *fd)
{
	Ais__Request *q = r->req;
	int rc;

	rc = store_open(r->d->store, q->bucket, q->name, fd, &r->meta,
			r->errmsg);
	if (rc == 0)
		r->obj = r->meta;
	if (rc == -ENOENT && !q->peer_local && r->cm->nhistory)
		ais_log(LOG_INFO,
			"%s/%s: not here, nor at its owners in %zu earlier "
			"placement%s (map v%llu)",
			q->bucket, q->name, r->cm->nhistory,
			r->cm->nhistory == 1 ? "" : "s",
			(unsigned long long)r->cm->m->version);
	return rc;
}

/* The client's side of a relayed GET: the previous owner's head as ours,
 * then its body bytes as they come. */
struct relay_to {
	struct rpc *r;
	bool sent; /* our head went out: the answer is under way */
};

void rpc_copy_ext(struct rpc *r, const Ais__Response *a)
{
	if (!r->req->want_ext || !a->ext.len || a->ext.len > sizeof(r->ext))
		return;
	memcpy(r->ext, a->ext.data, a->ext.len);
	r->resp.ext.data = r->ext;
	r->resp.ext.len = a->ext.len;
}

static int relay_to_head(void *arg, const Ais__Response *resp,
			 uint64_t body_len, char *errmsg)
{
	struct relay_to *t = arg;
	struct rpc *r = t->r;

	if (resp->meta)
		ais_obj_meta_from_pb(resp->meta, &r->meta);
	r->resp.object_size = resp->object_size;
	rpc_set_meta(r);
	rpc_copy_ext(r, resp);
	t->sent = true;
	if (rpc_send_resp(r, body_len))
		return ais_errf(errmsg, -EPIPE, "the client went away");
	return 0;
}

static int relay_to_body(void *arg, const void *buf, size_t len, char *errmsg)
{
	struct relay_to *t = arg;
	int rc = sock_io_write_all(&t->r->j->io, buf, len);

	if (rc)
		return ais_errf(errmsg, rc, "sending to the client: %s",
				strerror(-rc));
	return 0;
}

int rpc_relay_read(struct rpc *r, Ais__Response **answer)
{
	Ais__Request *q = r->req;
	struct relay_to t = {.r = r};
	struct peer_sink sink = {relay_to_head, relay_to_body, &t};
	char em[AIS_ERRMSG_LEN] = "";
	int rc;

	if (q->peer_local || !r->cm->nhistory ||
	    store_has_object(r->d->store, q->bucket, q->name))
		return -ENOENT;
	rc = move_read_history(r->d, r->cm, q, answer ? NULL : &sink, answer,
			       em);
	if (t.sent) {
		/* The answer went out, whole or broken off. */
		if (rc) {
			ais_log(LOG_INFO,
				"%s: GET %s/%s from its previous owner: %s; "
				"closing",
				r->j->peer, q->bucket, q->name, em);
			r->j->close = true;
		}
		return 1;
	}
	if (rc && rc != -ENOENT)
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", em);
	return rc;
}

int rpc_confirm(struct rpc *r)
{
	Ais__Request *q = r->req;
	char em[AIS_ERRMSG_LEN] = "";
	uint8_t *sb = rpc_scratch();
	int rc;

	if (!sb)
		return -EBADMSG;
	/* The range that failed, not the whole object: the object's lock
	 * (its stripe's PUTs wait) is held for a few blocks, not for a read
	 * of a big shard. */
	if (!r->bad_len) {
		r->bad_off = 0;
		r->bad_len = r->obj.size;
	}
	rc = store_confirm_corrupt(r->d->store, q->bucket, q->name, &r->obj,
				   r->bad_off, r->bad_len, sb, em);
	r->bad_len = 0;
	if (rc == -EBADMSG)
		snprintf(r->errmsg, sizeof(r->errmsg), "%s/%s: %.200s",
			 q->bucket, q->name, em);
	return rc == 0 ? -ESTALE : rc;
}

int rpc_repair(struct rpc *r)
{
	Ais__Request *q = r->req;
	char em[AIS_ERRMSG_LEN] = "", was[AIS_ERRMSG_LEN];
	const char *from;
	int rc;

	snprintf(was, sizeof(was), "%s", r->errmsg);
	if (ais_map_copies(r->cm->m, q->bucket) < 2) {
		snprintf(r->errmsg, sizeof(r->errmsg),
			 "%.160s; the bucket keeps one copy: nothing to "
			 "repair it from",
			 was);
		return -EBADMSG;
	}
	rc = move_repair(r->d, r->cm, q->bucket, q->name, &from, em);
	if (rc) {
		ais_log(LOG_ERR, "%s/%s: corrupt copy here not repaired: %s",
			q->bucket, q->name, em);
		snprintf(r->errmsg, sizeof(r->errmsg),
			 "%.120s; not repaired from another copy: %.90s", was,
			 em);
		return -EBADMSG;
	}
	ais_log(LOG_NOTICE,
		"%s/%s: corrupt copy here replaced by node %s's good copy",
		q->bucket, q->name, from);
	return 0;
}

int rpc_fetch_missing(struct rpc *r)
{
	Ais__Request *q = r->req;
	char em[AIS_ERRMSG_LEN] = "";
	int rc;

	if (!r->cm->nhistory ||
	    store_has_object(r->d->store, q->bucket, q->name))
		return 0;
	rc = move_fetch(r->d, r->cm, q->bucket, q->name, em);
	if (rc && rc != -ENOENT) {
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", em);
		return rc;
	}
	return 0;
}

/* The bucket of a migrated copy: created here if the cluster's bucket
 * table has it (a node that joined after the bucket was made). */
static void migrate_bucket(struct rpc *r, const char *bucket)
{
	struct cluster_map *cm = r->cm;
	char em[AIS_ERRMSG_LEN];
	size_t i;

	if (store_bucket_exists(r->d->store, bucket))
		return;
	for (i = 0; i < cm->nbuckets; i++)
		if (!strcmp(cm->buckets[i], bucket)) {
			if (bucket_create(r->d->store, bucket, em) &&
			    !store_bucket_exists(r->d->store, bucket))
				ais_log(LOG_WARNING, "bucket %s: %s", bucket,
					em);
			return;
		}
}

/* The rest of a PUT begun with store_put_begin (p): the body from the
 * socket into p, then the commit. Returns 0 (r->meta set; a shard's index
 * is built in the background: the request is answered once the object is
 * durable), -errno, or 1 when the body broke off (no answer: the
 * connection is closed). */
static int put_body(struct rpc *r, struct store_put *p, const char *what)
{
	Ais__Request *q = r->req;
	uint8_t *buf = malloc(PUT_BUF);
	ssize_t n;
	int rc = 0;

	if (!buf) {
		store_put_abort(p);
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	}
	while ((n = sock_io_read_body(&r->j->io, buf, PUT_BUF)) > 0) {
		rc = store_put_write(p, buf, (size_t)n, r->errmsg);
		if (rc)
			break;
	}
	free(buf);
	if (n < 0) {
		store_put_abort(p);
		ais_log(LOG_INFO, "%s: %s %s/%s: body: %s; closing", r->j->peer,
			what, q->bucket, q->name, sock_io_strerror(n));
		r->j->close = true;
		return 1;
	}
	if (rc) {
		store_put_abort(p);
		return rc;
	}
	rc = store_put_commit(p, &r->meta, r->errmsg);
	if (rc)
		return rc;
	shard_written(r->d->shards, q->bucket, q->name);
	rpc_set_meta(r);
	if (q->want_md5) {
		long n = ais_obj_ext_with_etag(NULL, 0, p->md5hex, r->ext);

		if (n > 0) {
			r->resp.ext.data = r->ext;
			r->resp.ext.len = (size_t)n;
		}
	}
	if (!q->migrate)
		rpc_replicate(r);
	return 0;
}

void rpc_replicate(struct rpc *r)
{
	Ais__Request *q = r->req;
	char em[AIS_ERRMSG_LEN] = "";
	unsigned missing = 0;

	if (ais_map_copies(r->cm->m, q->bucket) < 2)
		return;
	(void)move_replicate(r->d, r->cm, q->bucket, q->name, &r->meta,
			     &missing, em);
	r->resp.copies_missing = missing;
}

/* OP_PUT with migrate: a copy of an object from a node that held it
 * (rebalance, or this node's fetch), stored with its metadata if it is
 * newer than what is here (store_put_args.migrate). Accepted if this node
 * owns the object, or if the sender's map is newer than this node's (it
 * will own it once it catches up). */
static int put_migrate(struct rpc *r)
{
	Ais__Request *q = r->req;
	struct store *st = r->d->store;
	struct store_put_args a;
	struct ais_obj_meta m;
	struct store_put p;
	int rc;

	rc = rpc_check_object(r, q->bucket, q->name);
	if (!rc && q->map_version <= r->cm->m->version)
		rc = rpc_check_owner(r, q->bucket, q->name);
	if (!rc && !q->meta)
		rc = ais_errf(r->errmsg, -EINVAL,
			      "a migrate PUT needs the object's metadata");
	if (!rc)
		rc = ais_obj_ext_check(q->ext.data, q->ext.len, r->errmsg);
	if (rc)
		return rc;
	ais_obj_meta_from_pb(q->meta, &m);
	migrate_bucket(r, q->bucket);
	memset(&a, 0, sizeof(a));
	a.bucket = q->bucket;
	a.name = q->name;
	a.migrate = &m;
	a.ext = q->ext.data;
	a.ext_len = q->ext.len;
	rc = store_put_begin(st, &a, &p, r->errmsg);
	if (rc)
		return rc;
	return put_body(r, &p, "migrate PUT");
}

int rpc_put(struct rpc *r)
{
	Ais__Request *q = r->req;
	struct store_put_args a = {
	    .bucket = q->bucket,
	    .name = q->name,
	    .cksum_type = q->cksum_type,
	    .cksum_value = q->cksum_value,
	    .mode = q->mode,
	    .mtime_ns = q->mtime_ns,
	    .uid = q->uid,
	    .gid = q->gid,
	    .owned = q->set_owner,
	    .atime_ns = q->atime_ns,
	    .no_overwrite = q->no_overwrite,
	    .ext = q->ext.data,
	    .ext_len = q->ext.len,
	    .want_md5 = q->want_md5,
	    .content_md5 = q->content_md5,
	};
	struct store *st = r->d->store;
	struct store_put p;
	int rc;

	if (q->migrate)
		return put_migrate(r);
	rc = rpc_check_mine(r);
	/* "Create unless it exists" on a copy that may be stale. */
	if (!rc && q->no_overwrite)
		rc = rpc_check_caught_up(r, q->bucket);
	if (!rc)
		rc = ais_obj_ext_check(q->ext.data, q->ext.len, r->errmsg);
	if (!rc && q->cksum_type == AIS__CKSUM_TYPE__CKSUM_NONE &&
	    q->cksum_value[0])
		rc = ais_errf(r->errmsg, -EINVAL,
			      "a checksum value needs a checksum type");
	if (!rc && !store_bucket_exists(st, q->bucket))
		rc = ais_errf(r->errmsg, -ENOENT, "bucket %s does not exist",
			      q->bucket);
	/* The other nodes are asked only after every local check passed. */
	if (!rc)
		rc = store_put_begin(st, &a, &p, r->errmsg);
	if (!rc) {
		rc = rpc_check_conflicts(r, q->bucket, q->name);
		if (rc)
			store_put_abort(&p);
	}
	if (rc)
		return rc;
	return put_body(r, &p, "PUT");
}

/* With want_ext, the object's ObjExt (open on fd) into the answer. */
static int set_ext(struct rpc *r, int fd)
{
	long n;

	if (!r->req->want_ext || r->req->archpath[0])
		return 0;
	n = objext_read_fd(fd, r->ext, sizeof(r->ext));
	if (n < 0)
		return ais_errf(r->errmsg, (int)n, "%s/%s: S3 metadata: %s",
				r->req->bucket, r->req->name,
				strerror((int)-n));
	r->resp.ext.data = r->ext;
	r->resp.ext.len = (size_t)n;
	return 0;
}

int rpc_get(struct rpc *r)
{
	Ais__Request *q = r->req;
	uint64_t len = 0;
	int fd, rc, tries;

	rc = rpc_check_read(r);
	if (!rc && q->etl_name[0])
		rc = rpc_etl_check(r);
	if (rc)
		return rc;
	/* Not here yet during a rebalance: the previous owner answers
	 * through this node (the rebalance brings the object). */
	rc = rpc_relay_read(r, NULL);
	if (rc != -ENOENT)
		return rc;
	for (tries = 0;; tries++) {
		rc = rpc_open_obj(r, &fd);
		if (rc)
			return rc;
		rc = set_ext(r, fd);
		if (rc) {
			close(fd);
			return rc;
		}
		if (q->etl_name[0]) {
			rc = rpc_etl_get(r, fd);
		} else if (q->archpath[0]) {
			rc = rpc_member_get(r, fd);
		} else {
			rc = rpc_clamp_range(r, r->meta.size, &len);
			if (!rc)
				rc = rpc_send_range(r, fd, q->offset, len,
						    r->meta.size);
		}
		close(fd);
		/* Another node reading this node's copy (a repair, a relay)
		 * gets the error: it has copies of its own to try, and a
		 * repair from here would ask it back. */
		if (rc != -EBADMSG || tries > 2 || q->peer_local)
			return rc;
		/* Changed under the read (a shard append in place): read
		 * again. Else a corrupt copy: repaired from another copy,
		 * then read again. */
		rc = rpc_confirm(r);
		if (rc == -ESTALE)
			continue;
		if (rc == -EBADMSG && rpc_repair(r))
			return rc;
	}
}

int rpc_head(struct rpc *r)
{
	Ais__Request *q = r->req;
	Ais__Response *a = NULL;

	struct shard_ref *ref;
	struct ais_shard_member m;
	int fd, rc;

	rc = rpc_check_read(r);
	if (rc)
		return rc;
	/* Not here yet during a rebalance: the previous owner's metadata,
	 * without moving the object for a stat. */
	rc = rpc_relay_read(r, &a);
	if (rc == 0) {
		if (a->meta)
			ais_obj_meta_from_pb(a->meta, &r->meta);
		rpc_copy_ext(r, a);
		ais__response__free_unpacked(a, NULL);
		rpc_set_meta(r);
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	rc = rpc_open_obj(r, &fd);
	if (rc)
		return rc;
	if (q->archpath[0]) {
		rc = rpc_member_lookup(r, fd, &ref, &m);
		close(fd);
		if (rc)
			return rc;
		shard_ref_put(ref);
		rpc_set_meta(r);
		return 0;
	}
	rc = set_ext(r, fd);
	close(fd);
	if (rc)
		return rc;
	rpc_set_meta(r);
	return 0;
}

/* DELETE. While objects may be on their way (the map has history, or had
 * a short while ago) the delete leaves a tombstone, so that an older copy
 * arriving later is refused; and at the owner, the copies at the previous
 * owners are deleted too (a later fetch or move cannot bring the object
 * back): -ENOENT only if no node had it. peer_local: this node's copy
 * only. */
int rpc_delete(struct rpc *r)
{
	Ais__Request *q = r->req;
	char em[AIS_ERRMSG_LEN] = "";
	int64_t tomb = 0;
	int rc, hrc;

	rc = rpc_check_read(r);
	if (rc)
		return rc;
	/* A copy in flight (a rebalance, a copy being made or repaired)
	 * must not bring the object back. */
	if (move_tombstones_wanted(r->d->move, r->cm) ||
	    ais_map_copies(r->cm->m, q->bucket) > 1)
		tomb = ais_now_real_ns();
	rc =
	    store_delete_tomb(r->d->store, q->bucket, q->name, tomb, r->errmsg);
	if (!rc)
		shard_on_delete(r->d->shards, q->bucket, q->name);
	if (!q->peer_local && (rc == 0 || rc == -ENOENT) &&
	    ais_map_copies(r->cm->m, q->bucket) > 1) {
		bool had = false;

		(void)move_delete_copies(r->d, r->cm, q->bucket, q->name, &had,
					 em);
		if (had && rc == -ENOENT)
			rc = 0;
	}
	if (q->peer_local || !r->cm->nhistory || (rc && rc != -ENOENT))
		return rc;
	hrc = move_delete_history(r->d, r->cm, q->bucket, q->name, em);
	if (rc == -ENOENT && hrc != -ENOENT) {
		rc = hrc;
		if (rc)
			snprintf(r->errmsg, sizeof(r->errmsg), "%s", em);
	}
	return rc;
}

int rpc_rename(struct rpc *r)
{
	Ais__Request *q = r->req;
	int rc;

	rc = rpc_check_mine(r);
	if (!rc && ais_map_copies(r->cm->m, q->bucket) > 1)
		rc = ais_errf(r->errmsg, -EXDEV,
			      "bucket %s keeps %u copies of each object: a "
			      "rename there is a copy and a delete (the "
			      "client makes them)",
			      q->bucket, ais_map_copies(r->cm->m, q->bucket));
	if (!rc)
		rc = rpc_fetch_missing(r);
	if (!rc)
		rc = ais_name_check_object(q->new_name, strlen(q->new_name),
					   r->errmsg);
	if (!rc)
		rc = rpc_check_owner(r, q->bucket, q->new_name);
	if (!rc)
		rc = rpc_check_conflicts(r, q->bucket, q->new_name);
	if (!rc)
		rc = store_rename(r->d->store, q->bucket, q->name, q->new_name,
				  q->no_overwrite, &r->meta, r->errmsg);
	if (!rc) {
		shard_on_delete(r->d->shards, q->bucket, q->name);
		shard_written(r->d->shards, q->bucket, q->new_name);
		rpc_set_meta(r);
	}
	return rc;
}

int rpc_set_meta_op(struct rpc *r)
{
	Ais__Request *q = r->req;
	struct store_meta_set c = {
	    .set_mode = q->set_mode,
	    .mode = q->mode,
	    .set_mtime = q->set_mtime,
	    .mtime_ns = q->mtime_ns,
	    .set_atime = q->set_atime,
	    .atime_ns = q->atime_ns,
	    .set_owner = q->set_owner,
	    .uid = q->uid,
	    .gid = q->gid,
	    /* Only a copy of a change keeps the time it was made at. */
	    .ctime_ns = q->peer_local ? q->ctime_ns : 0,
	};
	int rc;

	rc = rpc_check_read(r);
	if (!rc && !q->peer_local)
		rc = rpc_fetch_missing(r);
	if (!rc)
		rc = store_set_meta(r->d->store, q->bucket, q->name, &c,
				    &r->meta, r->errmsg);
	if (!rc)
		rpc_set_meta(r);
	if (!rc && !q->peer_local)
		(void)move_set_meta_copies(r->d, r->cm, q, &r->meta);
	return rc;
}
