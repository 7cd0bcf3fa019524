/* GET and HEAD on the event loop thread: answered at once when that needs
 * no waiting at all (the path in the kernel's lookup cache, the data in
 * the page cache, a shard's index in the node's cache, room in the socket
 * buffer), else left to a worker; and the worker's side of an answer begun
 * here (the tail). No GET reads object bytes into a buffer it keeps. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "map.h"
#include "names.h"
#include "tls.h"

#include "move/move.h"
#include "rpc/rpc_i.h"
#include "store/store.h"

#define INLINE_HEAD_MAX (RPC_TAIL_HEAD_MAX - AIS_FRAME_HDR_LEN)
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
	uint64_t page = (uint64_t)getpagesize();

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

/* Reads the blocks of r->obj that [off, off+len) touches into buf (room
 * for cap bytes) without waiting, and checks them against their
 * checksums (store/blocks.h): *data then points at off's byte. Not 0:
 * the worker reads and checks (the data is not in the page cache, the
 * table not in memory, too big for buf, or a corrupt block). */
static int read_checked(struct rpc *r, int fd, uint64_t off, uint64_t len,
			uint8_t *buf, size_t cap, const uint8_t **data)
{
	uint64_t b0 = off & ~(uint64_t)(BLK_SIZE - 1);
	uint64_t b1 = (off + len + BLK_SIZE - 1) & ~(uint64_t)(BLK_SIZE - 1);
	struct iovec iov;
	ssize_t n;

	if (b1 > r->obj.size)
		b1 = r->obj.size;
	if (off + len > b1 || b1 - b0 > cap)
		return -EAGAIN;
	iov.iov_base = buf;
	iov.iov_len = (size_t)(b1 - b0);
	n = preadv2(fd, &iov, 1, (off_t)b0, RWF_NOWAIT);
	if (n != (ssize_t)(b1 - b0))
		return -EAGAIN;
	*data = buf + (off - b0);
	return blk_check_read(r->d->store->mps, r->d->store->blk, fd, &r->obj,
			      b0, buf, (size_t)(b1 - b0), true, NULL);
}

/* Encrypts the head (hlen bytes) and the body (len bytes of data) into
 * j's TLS session and sends what the socket takes without waiting: 0 when
 * all went, 1 when some waits in the session, -1 with errno on a broken
 * connection. */
static int tls_nowait(struct rpc_job *j, const uint8_t *head, size_t hlen,
		      const uint8_t *data, size_t len)
{
	const uint8_t *p;
	size_t n;
	ssize_t w;

	if (ais_tls_conn_write(j->io.tls, head, hlen, NULL) ||
	    (len && ais_tls_conn_write(j->io.tls, data, len, NULL))) {
		errno = EPROTO;
		return -1;
	}
	while ((n = ais_tls_conn_out(j->io.tls, &p)) > 0) {
		w = send(j->io.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			ais_tls_conn_out_done(j->io.tls, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (w == 0)
			errno = EPIPE;
		return -1;
	}
	return 0;
}

/* Sends the success answer of r (a HEAD, or a GET of len bytes of fd from
 * off) without waiting: the frame in one sendmsg() with a small body read
 * into buf behind the head, or head + sendfile(2). With check, the bytes
 * sent are checked against their blocks first (a small body: the blocks
 * read into buf and sent from there; else: blk_verify, then sendfile).
 * What the socket does not take at once becomes j->tail, with fd (a
 * duplicate of it if lent). Gives fd back (store_open_done). */
static enum rpc_inline answer_nowait(struct rpc *r, int fd, int32_t lent,
				     uint64_t off, uint64_t len, uint8_t *buf,
				     size_t cap, bool check)
{
	struct rpc_job *j = r->j;
	struct ais_frame_hdr h = {
	    .magic = AIS_FRAME_MAGIC,
	    .version = AIS_FRAME_VERSION,
	    .request_id = j->hdr.request_id,
	    .body_len = len,
	};
	size_t hs, total, sent = 0;
	const uint8_t *data = NULL;
	struct iovec out[2];
	struct msghdr msg = {.msg_iov = out};
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
	if (len && len <= INLINE_COPY_MAX && total + len <= cap && check) {
		if (read_checked(r, fd, off, len, buf + total, cap - total,
				 &data))
			goto not_now;
		copy = true;
	} else if (len && len <= INLINE_COPY_MAX && total + len <= cap) {
		struct iovec iov = {buf + total, (size_t)len};

		/* RWF_NOWAIT: a page not in the cache fails with EAGAIN or
		 * a short read instead of waiting for the disk. */
		n = preadv2(fd, &iov, 1, (off_t)off, RWF_NOWAIT);
		if (n != (ssize_t)len)
			goto tail; /* the disk is read on a worker */
		data = buf + total;
		copy = true;
	} else if (len) {
		uint8_t *sb = check ? rpc_scratch() : NULL;

		/* Every block the answer sends is checked first; one not in
		 * the page cache, a missing table or a corrupt block is the
		 * worker's. */
		if (check &&
		    (!sb || blk_verify(r->d->store->mps, r->d->store->blk, fd,
				       &r->obj, off, len, sb, true, NULL)))
			goto not_now;
		if (!range_cached(fd, off, len))
			goto tail;
	}
	if (j->io.tls) {
		/* Nothing sent yet: a worker encrypts a file's bytes. */
		if (len && !copy)
			goto tail;
		switch (tls_nowait(j, buf, total, data, (size_t)len)) {
		case 0:
			rpc_log(r);
			store_open_done(r->d->store, fd, lent);
			return RPC_INLINE_DONE;
		case 1:
			/* The rest waits, encrypted, in the session: a worker
			 * sends it. */
			rpc_log(r);
			store_open_done(r->d->store, fd, lent);
			j->tail.pending = true;
			j->tail.fd = -1;
			j->tail.off = j->tail.len = 0;
			j->tail.hlen = 0;
			return RPC_INLINE_TAIL;
		default:
			goto broken;
		}
	}
	out[0].iov_base = buf;
	out[0].iov_len = total;
	out[1].iov_base = (void *)data;
	out[1].iov_len = copy ? (size_t)len : 0;
	msg.msg_iovlen = copy ? 2 : 1;
	n = sendmsg(j->io.fd, &msg,
		    MSG_DONTWAIT | MSG_NOSIGNAL |
			(len && !copy ? MSG_MORE : 0));
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
		rpc_log(r);
		store_open_done(r->d->store, fd, lent);
		return RPC_INLINE_DONE;
	}
tail:
	/* The socket buffer is full, or the data is not in the page cache:
	 * a worker sends the rest, without looking the object up again. */
	if (lent >= 0) {
		int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);

		if (own < 0 && sent == 0)
			goto not_now; /* a worker opens it again */
		store_open_done(r->d->store, fd, lent);
		fd = own;
		lent = -1;
		if (fd < 0) {
			ais_log(LOG_WARNING,
				"%s: %s %s/%s: cannot go on sending: %s; "
				"closing",
				j->peer, rpc_op_name(j->req->op),
				j->req->bucket, j->req->name, strerror(errno));
			j->close = true;
			return RPC_INLINE_DONE;
		}
	}
	rpc_log(r);
	j->tail.pending = true;
	j->tail.fd = fd;
	j->tail.off = off;
	j->tail.len = len;
	j->tail.hlen = total - sent;
	memcpy(j->tail.head, buf + sent, total - sent);
	return RPC_INLINE_TAIL;

not_now:
	store_open_done(r->d->store, fd, lent);
	return RPC_INLINE_NO;
broken:
	ais_log(LOG_INFO, "%s: %s %s/%s: sending: %s; closing", j->peer,
		rpc_op_name(j->req->op), j->req->bucket, j->req->name,
		strerror(errno));
	store_open_done(r->d->store, fd, lent);
	j->close = true;
	return RPC_INLINE_DONE;
}

/* The member part of rpc_read_nowait: -EAGAIN unless the shard's index
 * is cached and the member a plain range of the object (*obj_off). */
static int member_nowait(struct rpc *r, uint64_t *obj_off, uint64_t *len)
{
	Ais__Request *q = r->req;
	struct shard_ref *ref;
	struct ais_shard_member m;
	int rc;

	if (strlen(q->archpath) > 4 * AIS_NAME_MAX)
		return -EAGAIN;
	if (shard_get_nowait(r->d->shards, q->bucket, q->name, &r->meta, &ref))
		return -EAGAIN;
	rc = ais_shard_index_lookup(ref->idx, q->archpath, &m);
	if (!rc && m.type == AIS_SHARD_DIR)
		rc = -EISDIR;
	if (!rc && q->op == AIS__OP__OP_GET) {
		rc = rpc_clamp_range(r, m.size, len);
		if (!rc && !ais_shard_member_range(ref->idx, &m, obj_off))
			rc = -EAGAIN;
		*obj_off += q->offset;
	}
	shard_ref_put(ref);
	if (rc)
		return -EAGAIN;
	rpc_member_meta(r, &m);
	return 0;
}

enum rpc_inline rpc_read_nowait(struct rpc *r, uint8_t *buf, size_t cap)
{
	struct aisd *d = r->d;
	Ais__Request *q = r->req;
	const struct ais_node *self, *owner;
	uint64_t off = 0, len = 0;
	int32_t lent;
	int fd, mp;

	/* A transform runs a program: never on the loop. */
	if (rpc_check_object(r, q->bucket, q->name) ||
	    (q->op == AIS__OP__OP_RESOLVE && q->archpath[0]) ||
	    (q->op == AIS__OP__OP_GET && q->etl_name[0]) || q->want_ext)
		return RPC_INLINE_NO;
	self = cluster_self(d->cluster);
	owner = ais_map_owner(r->cm->m, q->bucket, q->name);
	/* peer_local: another node asks for this node's copy, owned or not.
	 * Another copy than the owner's, or one that may be stale (the node
	 * is catching up), is the worker's to judge. */
	if ((!q->peer_local && (!owner || strcmp(owner->id, self->id) ||
				(move_catching_up(d->move) &&
				 ais_map_copies(r->cm->m, q->bucket) > 1))) ||
	    store_open_nowait(d->store, q->bucket, q->name, &fd, &mp, &r->meta,
			      &lent))
		return RPC_INLINE_NO;
	r->obj = r->meta;
	if (q->archpath[0]) {
		if (member_nowait(r, &off, &len)) {
			store_open_done(r->d->store, fd, lent);
			return RPC_INLINE_NO;
		}
	} else if (q->op == AIS__OP__OP_GET) {
		if (rpc_clamp_range(r, r->meta.size, &len)) {
			store_open_done(r->d->store, fd, lent);
			return RPC_INLINE_NO;
		}
		off = q->offset;
	}
	rpc_set_meta(r);
	if (q->op == AIS__OP__OP_GET)
		r->resp.object_size = r->meta.size;
	return answer_nowait(r, fd, lent, off, len, buf, cap,
			     q->op == AIS__OP__OP_GET && d->store->verify);
}

/* Sends j->tail: the rest of an answer begun on the loop thread. */
void rpc_finish_tail(struct rpc_job *j)
{
	struct rpc_tail *t = &j->tail;
	int rc;

	rc = sock_io_write_more(&j->io, t->head, t->hlen, t->len > 0);
	if (!rc && t->len)
		rc = sock_io_sendfile(&j->io, t->fd, (off_t)t->off, t->len);
	if (rc) {
		ais_log(LOG_INFO, "%s: %s %s/%s: sending: %s; closing", j->peer,
			rpc_op_name(j->req->op), j->req->bucket, j->req->name,
			sock_io_strerror(rc));
		j->close = true;
	}
	if (t->fd >= 0)
		close(t->fd);
	t->pending = false;
}
