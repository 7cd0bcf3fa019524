/* Objects: PUT, GET, HEAD, DELETE, RENAME, SET_META (on a worker; the loop
 * thread's GET and HEAD are in inline.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "names.h"

#include "rpc/rpc_i.h"
#include "store/store.h"

#define PUT_BUF (256 * 1024)

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
	    .no_overwrite = q->no_overwrite,
	};
	struct store *st = r->d->store;
	struct store_put p;
	uint8_t *buf;
	ssize_t n;
	int rc;

	rc = rpc_check_mine(r);
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
	buf = malloc(PUT_BUF);
	if (!buf) {
		store_put_abort(&p);
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	}
	while ((n = sock_io_read_body(&r->j->io, buf, PUT_BUF)) > 0) {
		rc = store_put_write(&p, buf, (size_t)n, r->errmsg);
		if (rc)
			break;
	}
	free(buf);
	if (n < 0) {
		store_put_abort(&p);
		ais_log(LOG_INFO, "%s: PUT %s/%s: body: %s; closing",
			r->j->peer, q->bucket, q->name, sock_io_strerror(n));
		r->j->close = true;
		return 1; /* no answer: the connection is gone */
	}
	if (rc) {
		store_put_abort(&p);
		return rc;
	}
	rc = store_put_commit(&p, &r->meta, r->errmsg);
	if (rc)
		return rc;
	/* A shard's index is built in the background: the request is
	 * answered once the object is durable. */
	shard_written(r->d->shards, q->bucket, q->name);
	rpc_set_meta(r);
	return 0;
}

int rpc_get(struct rpc *r)
{
	Ais__Request *q = r->req;
	uint64_t len = 0;
	int fd, rc;

	rc = rpc_check_mine(r);
	if (!rc)
		rc = store_open(r->d->store, q->bucket, q->name, &fd, &r->meta,
				r->errmsg);
	if (rc)
		return rc;
	if (q->archpath[0]) {
		rc = rpc_member_get(r, fd);
		close(fd);
		return rc;
	}
	rc = rpc_clamp_range(r, r->meta.size, &len);
	if (!rc) {
		rpc_send_range(r, fd, q->offset, len, r->meta.size);
		rc = 1; /* answered */
	}
	close(fd);
	return rc;
}

int rpc_head(struct rpc *r)
{
	Ais__Request *q = r->req;
	int rc;

	rc = rpc_check_mine(r);
	if (!rc && q->archpath[0]) {
		struct shard_ref *ref;
		struct ais_shard_member m;
		int fd;

		rc = store_open(r->d->store, q->bucket, q->name, &fd, &r->meta,
				r->errmsg);
		if (rc)
			return rc;
		rc = rpc_member_lookup(r, fd, &ref, &m);
		close(fd);
		if (rc)
			return rc;
		shard_ref_put(ref);
		rpc_set_meta(r);
		return 0;
	}
	if (!rc)
		rc = store_head(r->d->store, q->bucket, q->name, &r->meta,
				r->errmsg);
	if (!rc)
		rpc_set_meta(r);
	return rc;
}

int rpc_delete(struct rpc *r)
{
	Ais__Request *q = r->req;
	int rc;

	rc = rpc_check_mine(r);
	if (!rc)
		rc = store_delete(r->d->store, q->bucket, q->name, r->errmsg);
	if (!rc)
		shard_on_delete(r->d->shards, q->bucket, q->name);
	return rc;
}

int rpc_rename(struct rpc *r)
{
	Ais__Request *q = r->req;
	int rc;

	rc = rpc_check_mine(r);
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
	int rc;

	rc = rpc_check_mine(r);
	if (!rc)
		rc = store_set_meta(r->d->store, q->bucket, q->name,
				    q->set_mode, q->mode, q->set_mtime,
				    q->mtime_ns, q->set_owner, q->uid, q->gid,
				    &r->meta, r->errmsg);
	if (!rc)
		rpc_set_meta(r);
	return rc;
}
