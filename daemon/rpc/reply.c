/* What every handler shares: writing the answer, answering an error while
 * a body may still be arriving, the name and owner checks, ranges. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "map.h"
#include "names.h"

#include "rpc/rpc_i.h"
#include "store/blocks.h"
#include "store/store.h"

#define LINGER_MS  2000
#define SMALL_BODY (64 * 1024) /* discarded after an early error */

static int send_head(struct rpc *r, Ais__Response *resp, uint64_t body_len)
{
	uint8_t *buf;
	size_t len;
	int rc;

	resp->map_version = r->cm->m->version;
	if (resp->status && (!resp->message || !resp->message[0]))
		resp->message = (char *)strerror(-resp->status);
	rc = ais_frame_pack(r->j->hdr.request_id, 0, &resp->base, body_len,
			    &buf, &len);
	if (rc) {
		ais_log(LOG_ERR, "%s: cannot pack a response: %s", r->j->peer,
			strerror(-rc));
		r->j->close = true;
		return rc;
	}
	rc = sock_io_write_more(&r->j->io, buf, len, body_len > 0);
	free(buf);
	if (rc) {
		ais_log(LOG_INFO, "%s: sending a response: %s", r->j->peer,
			strerror(-rc));
		r->j->close = true;
	}
	return rc;
}

int rpc_send_resp(struct rpc *r, uint64_t body_len)
{
	return send_head(r, &r->resp, body_len);
}

int rpc_send_answer(struct rpc *r, Ais__Response *a)
{
	return send_head(r, a, 0);
}

void rpc_reply_error(struct rpc *r, int rc)
{
	struct sock_io *io = &r->j->io;

	r->resp.status = rc;
	r->resp.message = r->errmsg;
	rpc_send_resp(r, 0);
	if (io->body_left == 0)
		return;
	if (io->body_left <= io->prelen - io->preused) {
		io->preused += (size_t)io->body_left;
		io->body_left = 0;
		return;
	}
	/* A small body costs less to read than a new connection. */
	if (io->body_left <= SMALL_BODY && !r->j->close) {
		int saved = io->timeout_ms;

		io->timeout_ms = LINGER_MS;
		rc = sock_io_discard_body(io);
		io->timeout_ms = saved;
		if (rc == 0)
			return;
	}
	if (!r->j->close)
		sock_io_linger(io, LINGER_MS);
	r->j->close = true;
}

void rpc_log(const struct rpc *r)
{
	const struct rpc_job *j = r->j;

	ais_log(LOG_DEBUG, "%s: %s %s%s%s -> %d%s%s", j->peer,
		rpc_op_name(j->req->op), j->req->bucket,
		j->req->name[0] ? "/" : "", j->req->name, r->resp.status,
		r->resp.status ? " " : "", r->resp.status ? r->errmsg : "");
}

int rpc_check_bucket(struct rpc *r, const char *bucket)
{
	return ais_name_check_bucket(bucket, r->errmsg);
}

int rpc_check_object(struct rpc *r, const char *bucket, const char *name)
{
	int rc = ais_name_check_bucket(bucket, r->errmsg);

	if (rc)
		return rc;
	return ais_name_check_object(name, strlen(name), r->errmsg);
}

int rpc_check_owner(struct rpc *r, const char *bucket, const char *name)
{
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct ais_node *o = ais_map_owner(r->cm->m, bucket, name);

	if (o && (!strcmp(o->id, self->id) ||
		  ais_map_copy_rank(r->cm->m, bucket, name, self->id) > 0))
		return 0;
	if (!r->mappb)
		r->mappb = ais_map_to_pb(r->cm->m);
	r->resp.map = r->mappb;
	if (!o)
		return ais_errf(r->errmsg, -EREMOTE,
				"wrong node: no online node owns %s/%s (map "
				"v%llu)",
				bucket, name,
				(unsigned long long)r->cm->m->version);
	return ais_errf(r->errmsg, -EREMOTE,
			"wrong node: %s/%s belongs to node %s at %s:%u (map "
			"v%llu)",
			bucket, name, o->id, o->host, o->port,
			(unsigned long long)r->cm->m->version);
}

int rpc_check_mine(struct rpc *r)
{
	int rc = rpc_check_object(r, r->req->bucket, r->req->name);

	return rc ? rc : rpc_check_owner(r, r->req->bucket, r->req->name);
}

void rpc_set_meta(struct rpc *r)
{
	ais_obj_meta_to_pb(&r->meta, &r->metapb);
	r->resp.meta = &r->metapb;
}

int rpc_clamp_range(struct rpc *r, uint64_t size, uint64_t *len)
{
	Ais__Request *q = r->req;

	if (q->offset > size)
		return ais_errf(r->errmsg, -EINVAL,
				"offset %llu is past the end of %s/%s%s%s "
				"(size %llu)",
				(unsigned long long)q->offset, q->bucket,
				q->name, q->archpath[0] ? "/" : "", q->archpath,
				(unsigned long long)size);
	*len = size - q->offset;
	if (q->length && q->length < *len)
		*len = q->length;
	return 0;
}

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_key_make(void)
{
	(void)pthread_key_create(&scratch_key, free);
}

uint8_t *rpc_scratch(void)
{
	uint8_t *buf;

	/* Per thread, freed when the thread ends (a thread-local pointer
	 * would leak the block of every worker thread that exits). */
	pthread_once(&scratch_once, scratch_key_make);
	buf = pthread_getspecific(scratch_key);
	if (!buf) {
		buf = malloc(BLK_SCRATCH);
		if (buf && pthread_setspecific(scratch_key, buf)) {
			free(buf);
			buf = NULL;
		}
	}
	return buf;
}

int rpc_verify(struct rpc *r, int fd, uint64_t off, uint64_t len)
{
	Ais__Request *q = r->req;
	uint8_t *sb = rpc_scratch();
	char em[AIS_ERRMSG_LEN] = "";
	int rc;

	if (!r->d->store->verify)
		return 0;
	if (!sb)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	rc = blk_verify(r->d->store->mps, r->d->store->blk, fd, &r->obj, off,
			len, sb, false, em);
	if (rc == -EBADMSG) {
		ais_log(LOG_ERR, "%s/%s: %s (version %llu)", q->bucket, q->name,
			em, (unsigned long long)r->obj.version);
		r->bad_off = off;
		r->bad_len = len;
	}
	if (rc)
		return ais_errf(r->errmsg, rc, "%s/%s: %s", q->bucket, q->name,
				em);
	return 0;
}

#define VERIFY_CHUNK (4u << 20) /* checked, then sent */

int rpc_send_range(struct rpc *r, int fd, uint64_t file_off, uint64_t len,
		   uint64_t size)
{
	Ais__Request *q = r->req;
	uint64_t done = 0, step;
	int rc;

	/* The first chunk is checked before the answer begins: a corrupt
	 * copy found there is an error the caller can still answer. */
	step = len < VERIFY_CHUNK ? len : VERIFY_CHUNK;
	rc = rpc_verify(r, fd, file_off, step);
	if (rc)
		return rc == -EBADMSG ? rc : rc;
	rpc_set_meta(r);
	r->resp.object_size = size;
	rc = rpc_send_resp(r, len);
	while (!rc && done < len) {
		if (done) {
			step = len - done < VERIFY_CHUNK ? len - done
							 : VERIFY_CHUNK;
			rc = rpc_verify(r, fd, file_off + done, step);
			if (rc) {
				ais_log(LOG_INFO,
					"%s: GET %s/%s: %s; closing (the "
					"client reads the rest elsewhere)",
					r->j->peer, q->bucket, q->name,
					r->errmsg);
				r->j->close = true;
				return 1;
			}
		}
		rc = sock_io_sendfile(&r->j->io, fd, (off_t)(file_off + done),
				      step);
		if (rc) {
			ais_log(LOG_INFO, "%s: GET %s/%s: sending: %s; closing",
				r->j->peer, q->bucket, q->name,
				rc == -ETIMEDOUT ? "no progress (io timeout)"
						 : strerror(-rc));
			r->j->close = true;
		}
		done += step;
	}
	return 1;
}

void rpc_member_meta(struct rpc *r, const struct ais_shard_member *m)
{
	r->meta.size = m->size;
	r->meta.mode = m->mode;
	r->meta.mtime_ns = m->mtime * 1000000000LL;
	r->meta.cksum_type = AIS_CKSUM_NONE;
	r->meta.cksum[0] = 0;
}

int rpc_member_lookup(struct rpc *r, int fd, struct shard_ref **ref,
		      struct ais_shard_member *m)
{
	Ais__Request *q = r->req;
	int rc;

	if (strlen(q->archpath) > 4 * AIS_NAME_MAX)
		return ais_errf(r->errmsg, -ENAMETOOLONG,
				"member path too long");
	rc = shard_get(r->d->shards, q->bucket, q->name, fd, &r->meta, ref,
		       r->errmsg);
	if (rc)
		return rc;
	rc = ais_shard_index_lookup((*ref)->idx, q->archpath, m);
	if (rc == -ENOENT)
		rc = ais_errf(r->errmsg, -ENOENT,
			      "shard %s/%s has no member '%s'", q->bucket,
			      q->name, q->archpath);
	else if (rc)
		rc = ais_errf(r->errmsg, rc, "shard %s/%s: index: %s",
			      q->bucket, q->name, strerror(-rc));
	if (rc) {
		shard_ref_put(*ref);
		*ref = NULL;
		return rc;
	}
	rpc_member_meta(r, m);
	return 0;
}

void rpc_answer_new_version(struct rpc *r)
{
	cluster_map_put(r->cm);
	r->cm = cluster_map_get(r->d->cluster);
}
