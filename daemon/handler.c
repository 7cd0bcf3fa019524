/* Runs one request on a worker thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ais_config.h"
#include "log.h"
#include "map.h"
#include "names.h"
#include "util.h"

#include "bucket.h"
#include "handler.h"
#include "listing.h"
#include "shard.h"
#include "shard_append.h"
#include "shard_read.h"
#include "store.h"

#define LINGER_MS  2000
#define SMALL_BODY (64 * 1024) /* discarded after an early error */
#define PUT_BUF	   (256 * 1024)
/* Room left in a response head for everything but the list entries. */
#define HEAD_SLACK 4096

/* Per-request state of the handler. */
struct rctx {
	struct aisd *d;
	struct job *j;
	Ais__Request *req;
	Ais__Response resp;
	struct cluster_map *cm;
	Ais__ClusterMap *mappb; /* freed after the answer */
	Ais__ObjMeta metapb;
	struct objmeta meta;
	char errmsg[AIS_ERRMSG_LEN];
};

static const char *op_name(int op)
{
	switch (op) {
	case AIS__OP__OP_PING:
		return "PING";
	case AIS__OP__OP_GET_MAP:
		return "GET_MAP";
	case AIS__OP__OP_JOIN:
		return "JOIN";
	case AIS__OP__OP_NODE_INFO:
		return "NODE_INFO";
	case AIS__OP__OP_BUCKET_CREATE:
		return "BUCKET_CREATE";
	case AIS__OP__OP_BUCKET_DESTROY:
		return "BUCKET_DESTROY";
	case AIS__OP__OP_BUCKET_LIST:
		return "BUCKET_LIST";
	case AIS__OP__OP_PUT:
		return "PUT";
	case AIS__OP__OP_GET:
		return "GET";
	case AIS__OP__OP_HEAD:
		return "HEAD";
	case AIS__OP__OP_DELETE:
		return "DELETE";
	case AIS__OP__OP_LIST:
		return "LIST";
	case AIS__OP__OP_RENAME:
		return "RENAME";
	case AIS__OP__OP_SET_META:
		return "SET_META";
	case AIS__OP__OP_SHARD_LIST:
		return "SHARD_LIST";
	case AIS__OP__OP_SHARD_APPEND:
		return "SHARD_APPEND";
	default:
		return "?";
	}
}

/* Writes the response head; body_len bytes must follow. */
static int send_resp(struct rctx *r, uint64_t body_len)
{
	uint8_t *buf;
	size_t len;
	int rc;

	r->resp.map_version = r->cm->m->version;
	if (r->resp.status && !r->resp.message[0])
		r->resp.message = (char *)strerror(-r->resp.status);
	rc = ais_frame_pack(r->j->hdr.request_id, 0, &r->resp.base, body_len,
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

/* Answers with status rc and the message in r->errmsg. A body still in
 * flight is dropped: if the loop already read all of it, it is skipped and
 * the connection kept; otherwise a lingering close. */
static void reply_error(struct rctx *r, int rc)
{
	struct sock_io *io = &r->j->io;

	r->resp.status = rc;
	r->resp.message = r->errmsg;
	send_resp(r, 0);
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

static int check_bucket(struct rctx *r, const char *bucket)
{
	return ais_name_check_bucket(bucket, r->errmsg);
}

static int check_object(struct rctx *r, const char *bucket, const char *name)
{
	int rc = ais_name_check_bucket(bucket, r->errmsg);

	if (rc)
		return rc;
	return ais_name_check_object(name, strlen(name), r->errmsg);
}

/* Is this node the HRW owner of bucket/name in its map? If not: -EREMOTE
 * with the owner named and our map attached. */
static int check_owner(struct rctx *r, const char *bucket, const char *name)
{
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct ais_node *o = ais_map_owner(r->cm->m, bucket, name);

	if (o && !strcmp(o->id, self->id))
		return 0;
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

/* "a" and "a/b" cannot both exist even when different nodes own them: asks
 * the owner of each parent prefix whether it holds that prefix as an
 * object, and every other node whether it holds objects under "name/".
 * Best effort: a node that cannot be reached is skipped, and two racing
 * PUTs on two nodes can both pass. Local state answers most of it for free
 * while the rule holds: a parent that is a directory here is no object
 * anywhere, and nothing lives under a name that is an object here (an
 * overwrite), so those probes are skipped. */
static int check_remote_conflicts(struct rctx *r, const char *bucket,
				  const char *name)
{
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct ais_map *m = r->cm->m;
	char path[AIS_NAME_MAX + 2], em[AIS_ERRMSG_LEN];
	Ais__Response *a;
	size_t i, len = strlen(name);
	int rc;

	if (m->n < 2 || len > AIS_NAME_MAX)
		return 0;
	memcpy(path, name, len + 1);
	for (i = 0; i < len; i++) {
		const struct ais_node *o;
		Ais__Request q = AIS__REQUEST__INIT;

		if (path[i] != '/')
			continue;
		path[i] = 0;
		o = ais_map_owner(m, bucket, path);
		if (o && strcmp(o->id, self->id) &&
		    !store_has_dir(r->d->mps, bucket, path)) {
			q.op = AIS__OP__OP_HEAD;
			q.bucket = (char *)bucket;
			q.name = path;
			q.map_version = m->version;
			rc = peers_call(r->d->peers, o, &q, &a, em);
			if (rc)
				ais_log(LOG_DEBUG, "conflict probe: %s", em);
			if (!rc) {
				int st = a->status;

				ais__response__free_unpacked(a, NULL);
				if (st == 0)
					return ais_errf(r->errmsg, -ENOTDIR,
							"cannot create %s: "
							"object %s exists",
							name, path);
			}
		}
		path[i] = '/';
	}
	if (store_has_object(r->d->mps, bucket, name))
		return 0;
	path[len] = '/';
	path[len + 1] = 0;
	for (i = 0; i < m->n; i++) {
		const struct ais_node *o = &m->nodes[i];
		Ais__Request q = AIS__REQUEST__INIT;

		if (o->state != AIS_NODE_ONLINE || !strcmp(o->id, self->id))
			continue;
		q.op = AIS__OP__OP_LIST;
		q.bucket = (char *)bucket;
		q.prefix = path;
		q.delimiter = (char *)"/";
		q.page_size = 1;
		q.map_version = m->version;
		rc = peers_call(r->d->peers, o, &q, &a, em);
		if (rc) {
			ais_log(LOG_DEBUG, "conflict probe: %s", em);
			continue;
		}
		rc = a->status == 0 && a->n_entries > 0;
		ais__response__free_unpacked(a, NULL);
		if (rc)
			return ais_errf(r->errmsg, -EISDIR,
					"%s is a directory (objects exist "
					"under %s/)",
					name, name);
	}
	return 0;
}

static void set_meta(struct rctx *r)
{
	objmeta_to_pb(&r->meta, &r->metapb);
	r->resp.meta = &r->metapb;
}

/* A shard written (PUT, RENAME) gets its index before the answer. The
 * object is committed either way: a failed build is logged and retried on
 * the first member read. */
/* The index of a shard is built in the background: the request is answered
 * once the object is durable (see indexer.h). */
static void index_after_write(struct rctx *r, const char *bucket,
			      const char *name)
{
	indexer_submit(r->d->indexer, bucket, name);
}

static int op_put(struct rctx *r)
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
	struct store_put p;
	uint8_t *buf;
	ssize_t n;
	int rc;

	rc = check_object(r, q->bucket, q->name);
	if (!rc)
		rc = check_owner(r, q->bucket, q->name);
	if (!rc && q->cksum_type == AIS__CKSUM_TYPE__CKSUM_NONE &&
	    q->cksum_value[0])
		rc = ais_errf(r->errmsg, -EINVAL,
			      "a checksum value needs a checksum type");
	if (!rc && !store_bucket_exists(r->d->mps, q->bucket))
		rc = ais_errf(r->errmsg, -ENOENT, "bucket %s does not exist",
			      q->bucket);
	/* The other nodes are asked only after every local check passed. */
	if (!rc)
		rc = store_put_begin(r->d->mps, &a, &p, r->errmsg);
	if (!rc) {
		rc = check_remote_conflicts(r, q->bucket, q->name);
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
			r->j->peer, q->bucket, q->name,
			n == -ETIMEDOUT ? "no progress (io timeout)"
			: n == -EPIPE	? "connection closed early"
					: strerror((int)-n));
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
	index_after_write(r, q->bucket, q->name);
	set_meta(r);
	return 0;
}

/* Answers a GET of [off, off+len) of the file on fd (a whole object, or a
 * member's plain range within it) with sendfile, size being what the client
 * sees as the full size. Closes nothing. */
static void send_range(struct rctx *r, int fd, uint64_t file_off, uint64_t len,
		       uint64_t size)
{
	Ais__Request *q = r->req;
	int rc;

	set_meta(r);
	r->resp.object_size = size;
	rc = send_resp(r, len);
	if (!rc && len) {
		rc = sock_io_sendfile(&r->j->io, fd, (off_t)file_off, len);
		if (rc) {
			ais_log(LOG_INFO, "%s: GET %s/%s: sending: %s; closing",
				r->j->peer, q->bucket, q->name,
				rc == -ETIMEDOUT ? "no progress (io timeout)"
						 : strerror(-rc));
			r->j->close = true;
		}
	}
}

/* Clamps the request's range to size: *len gets the byte count. */
static int clamp_range(struct rctx *r, uint64_t size, uint64_t *len)
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

/* A member looked up in the shard open on fd. The member's metadata goes to
 * r->meta: its size, mode and mtime, the shard's version (so that a client
 * cache keyed by version sees a rewritten shard), no checksum. */
static int member_lookup(struct rctx *r, int fd, struct shard_ref **ref,
			 struct ais_shard_member *m)
{
	Ais__Request *q = r->req;
	int rc;

	if (strlen(q->archpath) > 4 * AIS_NAME_MAX)
		return ais_errf(r->errmsg, -ENAMETOOLONG,
				"member path too long");
	rc = shard_get(r->d->mps, q->bucket, q->name, fd, &r->meta, ref,
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
	r->meta.size = m->size;
	r->meta.mode = m->mode;
	r->meta.mtime_ns = m->mtime * 1000000000LL;
	r->meta.cksum_type = AIS_CKSUM_NONE;
	r->meta.cksum[0] = 0;
	return 0;
}

/* Streams decoded member bytes: the head goes out with the first bytes, so
 * an error before any data can still be answered as an error. */
struct member_out {
	struct rctx *r;
	uint64_t len;
	uint64_t sent;
	bool head_sent;
};

static int member_write(void *arg, const void *buf, size_t len)
{
	struct member_out *o = arg;
	int rc;

	if (len > o->len - o->sent)
		len = (size_t)(o->len - o->sent);
	if (!o->head_sent) {
		o->head_sent = true;
		set_meta(o->r);
		o->r->resp.object_size = o->r->meta.size;
		rc = send_resp(o->r, o->len);
		if (rc)
			return rc;
	}
	rc = sock_io_write_all(&o->r->j->io, buf, len);
	if (rc)
		return rc;
	o->sent += len;
	return 0;
}

static int member_get(struct rctx *r, int fd)
{
	Ais__Request *q = r->req;
	struct shard_ref *ref;
	struct ais_shard_member m;
	struct member_out o = {.r = r};
	uint64_t len = 0, obj_off;
	int rc;

	rc = member_lookup(r, fd, &ref, &m);
	if (rc)
		return rc;
	if (m.type == AIS_SHARD_DIR) {
		rc = ais_errf(r->errmsg, -EISDIR,
			      "%s/%s: member '%s' is a directory", q->bucket,
			      q->name, q->archpath);
		goto out;
	}
	rc = clamp_range(r, m.size, &len);
	if (rc)
		goto out;
	if (ais_shard_member_range(ref->idx, &m, &obj_off)) {
		send_range(r, fd, obj_off + q->offset, len, m.size);
		rc = 1;
		goto out;
	}
	o.len = len;
	if (len == 0) {
		send_range(r, fd, 0, 0, m.size);
		rc = 1;
		goto out;
	}
	rc = shard_member_read(fd, ref->idx, &m, q->offset, len, member_write,
			       &o, r->errmsg);
	if (rc == 0 && o.sent < len)
		rc = ais_errf(r->errmsg, -EIO, "member ended early");
	if (rc && !o.head_sent)
		goto out; /* answered as an error */
	if (rc) {
		ais_log(LOG_INFO, "%s: GET %s/%s member %s: %s; closing",
			r->j->peer, q->bucket, q->name, q->archpath,
			r->errmsg[0] ? r->errmsg : strerror(-rc));
		r->j->close = true;
	}
	rc = 1;
out:
	shard_ref_put(ref);
	return rc;
}

static int op_get(struct rctx *r)
{
	Ais__Request *q = r->req;
	uint64_t len = 0;
	int fd, rc;

	rc = check_object(r, q->bucket, q->name);
	if (!rc)
		rc = check_owner(r, q->bucket, q->name);
	if (!rc)
		rc = store_open(r->d->mps, q->bucket, q->name, &fd, &r->meta,
				r->errmsg);
	if (rc)
		return rc;
	if (q->archpath[0]) {
		rc = member_get(r, fd);
		close(fd);
		return rc;
	}
	rc = clamp_range(r, r->meta.size, &len);
	if (!rc) {
		send_range(r, fd, q->offset, len, r->meta.size);
		rc = 1; /* answered */
	}
	close(fd);
	return rc;
}

static int op_head(struct rctx *r)
{
	Ais__Request *q = r->req;
	int rc;

	rc = check_object(r, q->bucket, q->name);
	if (!rc)
		rc = check_owner(r, q->bucket, q->name);
	if (!rc && q->archpath[0]) {
		struct shard_ref *ref;
		struct ais_shard_member m;
		int fd;

		rc = store_open(r->d->mps, q->bucket, q->name, &fd, &r->meta,
				r->errmsg);
		if (rc)
			return rc;
		rc = member_lookup(r, fd, &ref, &m);
		close(fd);
		if (rc)
			return rc;
		shard_ref_put(ref);
		set_meta(r);
		return 0;
	}
	if (!rc)
		rc = store_head(r->d->mps, q->bucket, q->name, &r->meta,
				r->errmsg);
	if (!rc)
		set_meta(r);
	return rc;
}

/* ---- GET and HEAD on the event loop thread --------------------------- */

#define INLINE_HEAD_MAX (JOB_TAIL_HEAD_MAX - AIS_FRAME_HDR_LEN)
#define INLINE_COPY_MAX (32 * 1024) /* larger bodies go by sendfile(2) */

#ifndef __NR_cachestat
#if defined(__x86_64__) || defined(__aarch64__) || defined(__riscv)
#define __NR_cachestat 451
#endif
#endif

/* True if every page of [off, off+len) of fd is in the page cache, so that
 * a sendfile(2) of it reads no disk (cachestat(2), Linux 6.5; false where
 * it is missing). */
static bool range_cached(int fd, uint64_t off, uint64_t len)
{
#ifdef __NR_cachestat
	struct {
		uint64_t off, len;
	} range = {off, len};
	struct {
		uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted,
		    nr_recently_evicted;
	} cs;
	static uint64_t page;

	if (!page)
		page = (uint64_t)sysconf(_SC_PAGESIZE);
	if (syscall(__NR_cachestat, fd, &range, &cs, 0) < 0)
		return false;
	return cs.nr_cache >= (off + len - 1) / page - off / page + 1;
#else
	(void)fd;
	(void)off;
	(void)len;
	return false;
#endif
}

static void log_request(struct rctx *r)
{
	struct job *j = r->j;

	ais_log(LOG_DEBUG, "%s: %s %s%s%s -> %d%s%s", j->peer,
		op_name(j->req->op), j->req->bucket, j->req->name[0] ? "/" : "",
		j->req->name, r->resp.status, r->resp.status ? " " : "",
		r->resp.status ? r->errmsg : "");
}

/* Sends the success answer of r (a HEAD, or a GET of len bytes of fd from
 * off) without waiting: the frame in one send() with a small body copied
 * behind the head, or head + sendfile(2). What the socket does not take at
 * once becomes j->tail. Takes fd. */
static enum handler_inline answer_nowait(struct rctx *r, int fd, uint64_t off,
					 uint64_t len, uint8_t *buf, size_t cap)
{
	struct job *j = r->j;
	struct ais_frame_hdr h = {
	    .magic = AIS_FRAME_MAGIC,
	    .version = AIS_FRAME_VERSION,
	    .request_id = j->hdr.request_id,
	    .body_len = len,
	};
	size_t hs, total, sent = 0;
	bool copy = false;
	ssize_t n;

	r->resp.map_version = r->cm->m->version;
	hs = ais__response__get_packed_size(&r->resp);
	if (hs > INLINE_HEAD_MAX)
		goto not_now;
	h.head_len = (uint32_t)hs;
	total = AIS_FRAME_HDR_LEN + hs;
	ais_frame_hdr_encode(&h, buf);
	ais__response__pack(&r->resp, buf + AIS_FRAME_HDR_LEN);
	if (len && len <= INLINE_COPY_MAX && total + len <= cap) {
		struct iovec iov = {buf + total, (size_t)len};

		/* RWF_NOWAIT: a page not in the cache fails with EAGAIN or
		 * a short read instead of waiting for the disk. */
		n = preadv2(fd, &iov, 1, (off_t)off, RWF_NOWAIT);
		if (n != (ssize_t)len)
			goto tail; /* the disk is read on a worker */
		copy = true;
	} else if (len && !range_cached(fd, off, len)) {
		goto tail;
	}
	n = send(j->io.fd, buf, total + (copy ? len : 0),
		 MSG_DONTWAIT | MSG_NOSIGNAL | (len && !copy ? MSG_MORE : 0));
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		goto broken;
	sent = n > 0 ? (size_t)n : 0;
	if (sent >= total) {
		if (copy) {
			off += sent - total;
			len -= sent - total;
		}
		sent = total;
		while (len > 0) {
			off_t o = (off_t)off;

			n = sendfile(j->io.fd, fd, &o, (size_t)len);
			if (n > 0) {
				off += (uint64_t)n;
				len -= (uint64_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n == 0)
				errno = EIO; /* the file shrank */
			goto broken;
		}
	}
	if (sent == total && len == 0) {
		log_request(r);
		close(fd);
		return HANDLER_INLINE_DONE;
	}
tail:
	/* The socket buffer is full, or the data is not in the page cache:
	 * a worker sends the rest, without looking the object up again. */
	log_request(r);
	j->tail.pending = true;
	j->tail.fd = fd;
	j->tail.off = off;
	j->tail.len = len;
	j->tail.hlen = total - sent;
	memcpy(j->tail.head, buf + sent, total - sent);
	return HANDLER_INLINE_TAIL;

not_now:
	close(fd);
	return HANDLER_INLINE_NO;
broken:
	ais_log(LOG_INFO, "%s: %s %s/%s: sending: %s; closing", j->peer,
		op_name(j->req->op), j->req->bucket, j->req->name,
		strerror(errno));
	close(fd);
	j->close = true;
	return HANDLER_INLINE_DONE;
}

/* The member part of handler_try_inline: -EAGAIN unless the shard's index
 * is cached and the member a plain range of the object (*obj_off). */
static int member_nowait(struct rctx *r, uint64_t *obj_off, uint64_t *len)
{
	Ais__Request *q = r->req;
	struct shard_ref *ref;
	struct ais_shard_member m;
	int rc;

	if (strlen(q->archpath) > 4 * AIS_NAME_MAX)
		return -EAGAIN;
	if (shard_get_nowait(q->bucket, q->name, &r->meta, &ref))
		return -EAGAIN;
	rc = ais_shard_index_lookup(ref->idx, q->archpath, &m);
	if (!rc && m.type == AIS_SHARD_DIR)
		rc = -EISDIR;
	if (!rc && q->op == AIS__OP__OP_GET) {
		rc = clamp_range(r, m.size, len);
		if (!rc && !ais_shard_member_range(ref->idx, &m, obj_off))
			rc = -EAGAIN;
		*obj_off += q->offset;
	}
	shard_ref_put(ref);
	if (rc)
		return -EAGAIN;
	r->meta.size = m.size;
	r->meta.mode = m.mode;
	r->meta.mtime_ns = m.mtime * 1000000000LL;
	r->meta.cksum_type = AIS_CKSUM_NONE;
	r->meta.cksum[0] = 0;
	return 0;
}

enum handler_inline handler_try_inline(struct aisd *d, struct job *j,
				       uint8_t *buf, size_t cap)
{
	Ais__Request *q = j->req;
	const struct ais_node *self, *owner;
	enum handler_inline res = HANDLER_INLINE_NO;
	uint64_t off = 0, len = 0;
	struct rctx r;
	int fd, mp;

	if ((q->op != AIS__OP__OP_GET && q->op != AIS__OP__OP_HEAD) ||
	    j->hdr.flags || j->hdr.body_len || j->nul_in_string)
		return HANDLER_INLINE_NO;
	memset(&r, 0, sizeof(r));
	r.d = d;
	r.j = j;
	r.req = q;
	ais__response__init(&r.resp);
	if (check_object(&r, q->bucket, q->name))
		return HANDLER_INLINE_NO;
	r.cm = cluster_map_get(d->cluster);
	self = cluster_self(d->cluster);
	owner = ais_map_owner(r.cm->m, q->bucket, q->name);
	if (!owner || strcmp(owner->id, self->id) ||
	    store_open_nowait(d->mps, q->bucket, q->name, &fd, &mp, &r.meta))
		goto out;
	if (q->archpath[0]) {
		if (member_nowait(&r, &off, &len)) {
			close(fd);
			goto out;
		}
	} else if (q->op == AIS__OP__OP_GET) {
		if (clamp_range(&r, r.meta.size, &len)) {
			close(fd);
			goto out;
		}
		off = q->offset;
	}
	set_meta(&r);
	if (q->op == AIS__OP__OP_GET)
		r.resp.object_size = r.meta.size;
	res = answer_nowait(&r, fd, off, len, buf, cap);
out:
	cluster_map_put(r.cm);
	return res;
}

/* Sends j->tail: the rest of an answer begun on the loop thread. */
static void finish_tail(struct job *j)
{
	struct job_tail *t = &j->tail;
	int rc;

	rc = sock_io_write_more(&j->io, t->head, t->hlen, t->len > 0);
	if (!rc && t->len)
		rc = sock_io_sendfile(&j->io, t->fd, (off_t)t->off, t->len);
	if (rc) {
		ais_log(LOG_INFO, "%s: %s %s/%s: sending: %s; closing", j->peer,
			op_name(j->req->op), j->req->bucket, j->req->name,
			rc == -ETIMEDOUT ? "no progress (io timeout)"
					 : strerror(-rc));
		j->close = true;
	}
	close(t->fd);
	t->pending = false;
}

static int op_delete(struct rctx *r)
{
	Ais__Request *q = r->req;
	int rc;

	rc = check_object(r, q->bucket, q->name);
	if (!rc)
		rc = check_owner(r, q->bucket, q->name);
	if (!rc)
		rc = store_delete(r->d->mps, q->bucket, q->name, r->errmsg);
	if (!rc)
		shard_on_delete(r->d->mps, q->bucket, q->name);
	return rc;
}

static int op_rename(struct rctx *r)
{
	Ais__Request *q = r->req;
	int rc;

	rc = check_object(r, q->bucket, q->name);
	if (!rc)
		rc = ais_name_check_object(q->new_name, strlen(q->new_name),
					   r->errmsg);
	if (!rc)
		rc = check_owner(r, q->bucket, q->name);
	if (!rc)
		rc = check_owner(r, q->bucket, q->new_name);
	if (!rc)
		rc = check_remote_conflicts(r, q->bucket, q->new_name);
	if (!rc)
		rc = store_rename(r->d->mps, q->bucket, q->name, q->new_name,
				  q->no_overwrite, &r->meta, r->errmsg);
	if (!rc) {
		shard_on_delete(r->d->mps, q->bucket, q->name);
		index_after_write(r, q->bucket, q->new_name);
		set_meta(r);
	}
	return rc;
}

static int op_set_meta(struct rctx *r)
{
	Ais__Request *q = r->req;
	int rc;

	rc = check_object(r, q->bucket, q->name);
	if (!rc)
		rc = check_owner(r, q->bucket, q->name);
	if (!rc)
		rc = store_set_meta(r->d->mps, q->bucket, q->name, q->set_mode,
				    q->mode, q->set_mtime, q->mtime_ns,
				    q->set_owner, q->uid, q->gid, &r->meta,
				    r->errmsg);
	if (!rc)
		set_meta(r);
	return rc;
}

static int op_list(struct rctx *r)
{
	Ais__Request *q = r->req;
	Ais__ListEntry *ents = NULL, **ptrs = NULL;
	Ais__ObjMeta *metas = NULL;
	struct listing l;
	size_t i, total = 0, max;
	int rc;

	rc = check_bucket(r, q->bucket);
	if (!rc)
		rc = ais_name_check_prefix(q->prefix, r->errmsg);
	if (rc)
		return rc;
	if (q->delimiter[0] && strcmp(q->delimiter, "/"))
		return ais_errf(r->errmsg, -EINVAL,
				"delimiter must be \"\" or \"/\", not \"%s\"",
				q->delimiter);
	if (strlen(q->start_after) > AIS_NAME_MAX + 1)
		return ais_errf(r->errmsg, -ENAMETOOLONG,
				"start_after is longer than %d bytes",
				AIS_NAME_MAX + 1);
	rc = listing_run(r->d->mps, q->bucket, q->prefix, q->delimiter,
			 q->start_after, q->page_size, &l, r->errmsg);
	if (rc)
		return rc;
	if (l.n) {
		ents = calloc(l.n, sizeof(*ents));
		ptrs = calloc(l.n, sizeof(*ptrs));
		metas = calloc(l.n, sizeof(*metas));
		if (!ents || !ptrs || !metas) {
			rc = ais_errf(r->errmsg, -ENOMEM, "out of memory");
			goto out;
		}
	}
	/* The page must fit in one response head (AIS_FRAME_HEAD_MAX). */
	max = AIS_FRAME_HEAD_MAX - HEAD_SLACK;
	for (i = 0; i < l.n; i++) {
		ais__list_entry__init(&ents[i]);
		ents[i].name = l.e[i].name;
		ents[i].is_prefix = l.e[i].is_prefix;
		if (!l.e[i].is_prefix) {
			objmeta_to_pb(&l.e[i].meta, &metas[i]);
			ents[i].meta = &metas[i];
		}
		total += ais__list_entry__get_packed_size(&ents[i]) + 4;
		if (total > max) {
			l.more = true;
			break;
		}
		ptrs[i] = &ents[i];
	}
	r->resp.n_entries = i;
	r->resp.entries = ptrs;
	r->resp.next_token = l.more && i ? l.e[i - 1].name : (char *)"";
	r->resp.status = 0;
	send_resp(r, 0);
	rc = 1;
out:
	free(ents);
	free(ptrs);
	free(metas);
	listing_free(&l);
	return rc;
}

static int op_bucket(struct rctx *r)
{
	Ais__Request *q = r->req;
	char **names = NULL, **trash = NULL;
	size_t n;
	int rc;

	switch (q->op) {
	case AIS__OP__OP_BUCKET_CREATE:
		rc = check_bucket(r, q->bucket);
		return rc ? rc : bucket_create(r->d->mps, q->bucket, r->errmsg);
	case AIS__OP__OP_BUCKET_DESTROY:
		rc = check_bucket(r, q->bucket);
		if (rc)
			return rc;
		rc = bucket_destroy(r->d->mps, q->bucket, &trash, r->errmsg);
		if (rc) {
			bucket_destroy_finish(trash);
			return rc;
		}
		shard_on_bucket_destroy(r->d->mps, q->bucket);
		/* The bucket is gone already; answer, then delete. */
		send_resp(r, 0);
		bucket_destroy_finish(trash);
		return 1;
	default:
		rc = bucket_list(r->d->mps, &names, &n, r->errmsg);
		if (rc)
			return rc;
		r->resp.n_buckets = n;
		r->resp.buckets = names;
		send_resp(r, 0);
		ais_strv_free(names);
		return 1;
	}
}

static int op_join(struct rctx *r)
{
	Ais__Node *pb = r->req->node;
	struct ais_node n;
	char **names;
	size_t nb;
	int rc;

	if (!pb || !pb->id || !pb->id[0] || strlen(pb->id) >= AIS_NODE_ID_MAX ||
	    !pb->host || !pb->host[0] || strlen(pb->host) >= AIS_HOST_MAX ||
	    pb->port == 0 || pb->port > 65535)
		return ais_errf(r->errmsg, -EINVAL,
				"JOIN needs a node with an id, a host and a "
				"port");
	memset(&n, 0, sizeof(n));
	snprintf(n.id, sizeof(n.id), "%s", pb->id);
	snprintf(n.host, sizeof(n.host), "%s", pb->host);
	n.port = (uint16_t)pb->port;
	n.state = pb->state == AIS__NODE__STATE__MAINTENANCE
		      ? AIS_NODE_MAINTENANCE
		      : AIS_NODE_ONLINE;
	rc = cluster_join(r->d->cluster, &n);
	if (rc)
		return ais_errf(r->errmsg, rc, "join: %s", strerror(-rc));
	cluster_map_put(r->cm);
	r->cm = cluster_map_get(r->d->cluster);
	r->mappb = ais_map_to_pb(r->cm->m);
	if (!r->mappb)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	r->resp.map = r->mappb;
	/* The buckets too, so that a node that joins (or comes back) late
	 * creates the ones it missed: bucket ops are broadcast only to the
	 * nodes in the client's map at the time. */
	if (bucket_list(r->d->mps, &names, &nb, r->errmsg) == 0) {
		r->resp.n_buckets = nb;
		r->resp.buckets = names;
		send_resp(r, 0);
		ais_strv_free(names);
		return 1;
	}
	return 0;
}

static int op_node_info(struct rctx *r)
{
	const struct ais_node *self = cluster_self(r->d->cluster);
	struct mpset *mps = r->d->mps;
	Ais__NodeInfo info = AIS__NODE_INFO__INIT;
	Ais__Node node = AIS__NODE__INIT;
	Ais__Mountpath mp[mps->n], *mpp[mps->n];
	char fstype[mps->n][32];
	size_t i;

	node.id = (char *)self->id;
	node.host = (char *)self->host;
	node.port = self->port;
	for (i = 0; i < mps->n; i++) {
		ais__mountpath__init(&mp[i]);
		mp[i].path = mps->paths[i];
		if (mpset_statfs(mps, (int)i, &mp[i].total_bytes, &mp[i].fs_id,
				 &mp[i].free_bytes, fstype[i], 32))
			snprintf(fstype[i], 32, "?");
		mp[i].fs_type = fstype[i];
		mpp[i] = &mp[i];
	}
	info.node = &node;
	info.n_mountpaths = mps->n;
	info.mountpaths = mpp;
	info.version = (char *)AIS_VERSION;
	info.uptime_s = (ais_now_mono_ns() - r->d->start_mono_ns) / 1000000000u;
	info.connections =
	    __atomic_load_n(&r->d->connections, __ATOMIC_RELAXED);
	info.requests = __atomic_load_n(&r->d->requests, __ATOMIC_RELAXED);
	r->resp.info = &info;
	send_resp(r, 0);
	return 1;
}

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
		shift += 7;
	}
	return -1;
}

bool handler_head_has_nul(const uint8_t *head, size_t len)
{
	const uint8_t *p = head, *end = head + len;
	uint64_t key, n;

	while (p < end) {
		if (read_varint(&p, end, &key))
			return false;
		switch (key & 7) {
		case 0:
			if (read_varint(&p, end, &n))
				return false;
			break;
		case 1:
			if (end - p < 8)
				return false;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return false;
			p += 4;
			break;
		case 2:
			if (read_varint(&p, end, &n) || n > (uint64_t)(end - p))
				return false;
			/* Only the strings of Request, not the nested Node. */
			if ((key >> 3) != 18 && memchr(p, 0, (size_t)n))
				return true;
			p += n;
			break;
		default:
			return false;
		}
	}
	return false;
}

/* One page of OP_SHARD_LIST being collected. */
struct shard_page {
	Ais__ListEntry *ents;
	Ais__ObjMeta *metas;
	size_t n, cap;
	size_t bytes, max; /* packed size so far, head budget */
	uint64_t version;
	bool more;
};

/* Adds one member; 1 when the page is full (there is more). */
static int page_add(struct shard_page *p, const struct ais_shard_member *m)
{
	Ais__ListEntry *e;
	Ais__ObjMeta *mt;

	if (p->n == p->cap) {
		p->more = true;
		return 1;
	}
	e = &p->ents[p->n];
	mt = &p->metas[p->n];
	ais__list_entry__init(e);
	ais__obj_meta__init(mt);
	e->name = strdup(m->path);
	e->link_target = strdup(m->link ? m->link : "");
	if (!e->name || !e->link_target) {
		free(e->name);
		free(e->link_target);
		return -ENOMEM;
	}
	e->is_prefix = m->type == AIS_SHARD_DIR;
	e->member_type = m->type;
	mt->size = m->size;
	mt->mode = m->mode;
	mt->mtime_ns = m->mtime * 1000000000LL;
	mt->version = p->version;
	e->meta = mt;
	p->bytes += ais__list_entry__get_packed_size(e) + 4;
	if (p->bytes > p->max) {
		free(e->name);
		free(e->link_target);
		p->more = true;
		return 1;
	}
	p->n++;
	return 0;
}

static int page_dirent(void *arg, const char *name,
		       const struct ais_shard_member *m)
{
	(void)name;
	return page_add(arg, m);
}

static int op_shard_list(struct rctx *r)
{
	Ais__Request *q = r->req;
	struct shard_page p = {0};
	Ais__ListEntry **ptrs = NULL;
	struct shard_ref *ref = NULL;
	char dir[AIS_NAME_MAX * 4 + 1], errbuf[AIS_ERRMSG_LEN + 64] = "";
	const char *err, *after;
	uint64_t brk = 0;
	size_t i;
	int fd, rc;

	rc = check_object(r, q->bucket, q->name);
	if (!rc)
		rc = check_owner(r, q->bucket, q->name);
	if (rc)
		return rc;
	if (ais_shard_format_from_name(q->name) == AIS_SHARD_NONE)
		return ais_errf(r->errmsg, -EINVAL,
				"%s/%s is not a shard (.tar, .tar.gz, .tgz, "
				".tar.lz4 or .zip)",
				q->bucket, q->name);
	if (strlen(q->start_after) >= sizeof(dir))
		return ais_errf(r->errmsg, -ENAMETOOLONG,
				"start_after too long");
	rc = ais_shard_path_normalize(q->prefix, strlen(q->prefix), dir,
				      sizeof(dir));
	if (rc < 0)
		return ais_errf(r->errmsg, -ENAMETOOLONG,
				"directory path too long");
	rc =
	    store_open(r->d->mps, q->bucket, q->name, &fd, &r->meta, r->errmsg);
	if (rc)
		return rc;
	rc = shard_get(r->d->mps, q->bucket, q->name, fd, &r->meta, &ref,
		       r->errmsg);
	close(fd);
	if (rc)
		return rc;
	p.cap = q->page_size ? q->page_size : LISTING_PAGE_DEFAULT;
	if (p.cap > LISTING_PAGE_MAX)
		p.cap = LISTING_PAGE_MAX;
	p.max = AIS_FRAME_HEAD_MAX - HEAD_SLACK - sizeof(errbuf);
	p.version = r->meta.version;
	p.ents = calloc(p.cap, sizeof(*p.ents));
	p.metas = calloc(p.cap, sizeof(*p.metas));
	ptrs = calloc(p.cap, sizeof(*ptrs));
	if (!p.ents || !p.metas || !ptrs) {
		rc = ais_errf(r->errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	if (q->recursive) {
		size_t cnt = ais_shard_index_count(ref->idx);
		struct ais_shard_member m;

		i = ais_shard_index_seek(ref->idx, q->start_after);
		for (rc = 0; i < cnt && rc == 0; i++) {
			rc = ais_shard_index_at(ref->idx, i, &m);
			if (rc == 0)
				rc = page_add(&p, &m);
		}
	} else {
		/* The continuation token is the last entry's full path;
		 * readdir wants its name. */
		after = strrchr(q->start_after, '/');
		after = after ? after + 1 : q->start_after;
		rc = ais_shard_index_readdir(ref->idx, dir, after, 0,
					     page_dirent, &p);
		if (rc == -ENOENT)
			rc = ais_errf(r->errmsg, -ENOENT,
				      "shard %s/%s has no directory '%s'",
				      q->bucket, q->name, dir);
	}
	if (rc < 0) {
		if (!r->errmsg[0])
			ais_errf(r->errmsg, rc, "shard %s/%s: %s", q->bucket,
				 q->name, strerror(-rc));
		goto out;
	}
	for (i = 0; i < p.n; i++)
		ptrs[i] = &p.ents[i];
	r->resp.n_entries = p.n;
	r->resp.entries = ptrs;
	r->resp.next_token = p.more && p.n ? p.ents[p.n - 1].name : (char *)"";
	err = ais_shard_index_error(ref->idx, &brk);
	if (err) {
		snprintf(errbuf, sizeof(errbuf),
			 "%s (index stops at offset "
			 "%llu)",
			 err, (unsigned long long)brk);
		r->resp.shard_error = errbuf;
	}
	send_resp(r, 0);
	rc = 1;
out:
	for (i = 0; i < p.n; i++) {
		free(p.ents[i].name);
		free(p.ents[i].link_target);
	}
	free(p.ents);
	free(p.metas);
	free(ptrs);
	shard_ref_put(ref);
	return rc;
}

/* Members appended in place to a .tar shard (daemon/shard_append.h). */
static int op_shard_append(struct rctx *r)
{
	Ais__Request *q = r->req;
	struct shard_append_result res;
	int rc;

	rc = check_object(r, q->bucket, q->name);
	if (!rc)
		rc = check_owner(r, q->bucket, q->name);
	if (!rc)
		rc = shard_append_run(r->d->mps, &r->j->io, r->j->peer,
				      q->bucket, q->name, q->replace_members,
				      &res, r->errmsg);
	if (rc == 1)
		r->j->close = true; /* the body broke off: no answer */
	if (rc)
		return rc;
	r->meta = res.meta;
	set_meta(r);
	r->resp.appended_members = res.appended;
	r->resp.shard_members = res.members;
	return 0;
}

/* Runs the op; returns 0 (answer with status 0), 1 (already answered) or
 * -errno (answer with that status and r->errmsg). */
static int dispatch(struct rctx *r)
{
	int op = r->req->op;

	if (r->j->hdr.flags & AIS_FRAME_FLAG_LZ4)
		return ais_errf(r->errmsg, -EOPNOTSUPP,
				"LZ4-compressed bodies are not supported by "
				"this node");
	if (r->j->hdr.body_len && op != AIS__OP__OP_PUT &&
	    op != AIS__OP__OP_SHARD_APPEND)
		return ais_errf(r->errmsg, -EINVAL, "%s takes no body",
				op_name(op));
	if (r->j->nul_in_string)
		return ais_errf(r->errmsg, -EINVAL,
				"a name in the request contains a NUL byte");
	switch (op) {
	case AIS__OP__OP_PING:
		return 0;
	case AIS__OP__OP_GET_MAP:
		r->mappb = ais_map_to_pb(r->cm->m);
		if (!r->mappb)
			return ais_errf(r->errmsg, -ENOMEM, "out of memory");
		r->resp.map = r->mappb;
		return 0;
	case AIS__OP__OP_JOIN:
		return op_join(r);
	case AIS__OP__OP_NODE_INFO:
		return op_node_info(r);
	case AIS__OP__OP_BUCKET_CREATE:
	case AIS__OP__OP_BUCKET_DESTROY:
	case AIS__OP__OP_BUCKET_LIST:
		return op_bucket(r);
	case AIS__OP__OP_PUT:
		return op_put(r);
	case AIS__OP__OP_GET:
		return op_get(r);
	case AIS__OP__OP_HEAD:
		return op_head(r);
	case AIS__OP__OP_DELETE:
		return op_delete(r);
	case AIS__OP__OP_LIST:
		return op_list(r);
	case AIS__OP__OP_RENAME:
		return op_rename(r);
	case AIS__OP__OP_SET_META:
		return op_set_meta(r);
	case AIS__OP__OP_SHARD_LIST:
		return op_shard_list(r);
	case AIS__OP__OP_SHARD_APPEND:
		return op_shard_append(r);
	default:
		return ais_errf(r->errmsg, -EOPNOTSUPP, "unknown op %d", op);
	}
}

void handler_run(struct aisd *d, struct job *j)
{
	struct rctx r;
	int rc;

	if (j->tail.pending) {
		finish_tail(j);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.d = d;
	r.j = j;
	r.req = j->req;
	ais__response__init(&r.resp);
	r.cm = cluster_map_get(d->cluster);
	rc = dispatch(&r);
	if (rc <= 0) {
		if (rc < 0) {
			reply_error(&r, rc);
		} else {
			send_resp(&r, 0);
		}
	}
	/* A PUT whose body was not all read cannot keep the connection. */
	if (j->io.body_left && !j->close) {
		sock_io_linger(&j->io, LINGER_MS);
		j->close = true;
	}
	ais_log(LOG_DEBUG, "%s: %s %s%s%s -> %d%s%s", j->peer,
		op_name(j->req->op), j->req->bucket, j->req->name[0] ? "/" : "",
		j->req->name, r.resp.status, r.resp.status ? " " : "",
		r.resp.status ? r.errmsg : "");
	if (r.mappb)
		ais_map_pb_free(r.mappb);
	cluster_map_put(r.cm);
}
