/* Shards: member GETs on a worker, SHARD_LIST, SHARD_APPEND. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "fileio.h"
#include "log.h"
#include "names.h"

#include "etl/etl.h"
#include "move/move.h"
#include "rpc/rpc_i.h"
#include "shard/append.h"
#include "store/listing.h"
#include "store/store.h"

/* Streams decoded member bytes: the head goes out with the first bytes, so
 * an error before any data can still be answered as an error. */
struct member_out {
	struct rpc *r;
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
		rpc_set_meta(o->r);
		o->r->resp.object_size = o->r->meta.size;
		rc = rpc_send_resp(o->r, o->len);
		if (rc)
			return rc;
	}
	rc = sock_io_write_all(&o->r->j->io, buf, len);
	if (rc)
		return rc;
	o->sent += len;
	return 0;
}

/* The shard's bytes a decoder reads, checked against their blocks'
 * checksums first (lib/shard's reader). */
static ssize_t checked_pread(void *arg, int fd, void *buf, size_t len,
			     uint64_t off)
{
	struct rpc *r = arg;
	int rc = rpc_verify(r, fd, off, len);

	if (rc)
		return rc;
	return ais_pread_upto(fd, buf, len, off);
}

/* rpc_member_lookup of a member with data: a directory is -EISDIR (and
 * *ref is then put). */
static int lookup_file(struct rpc *r, int fd, struct shard_ref **ref,
		       struct ais_shard_member *m)
{
	Ais__Request *q = r->req;
	int rc = rpc_member_lookup(r, fd, ref, m);

	if (rc || m->type != AIS_SHARD_DIR)
		return rc;
	shard_ref_put(*ref);
	*ref = NULL;
	return ais_errf(r->errmsg, -EISDIR, "%s/%s: member '%s' is a directory",
			q->bucket, q->name, q->archpath);
}

int rpc_member_get(struct rpc *r, int fd)
{
	Ais__Request *q = r->req;
	struct shard_ref *ref;
	struct ais_shard_member m;
	struct member_out o = {.r = r};
	uint64_t len = 0, obj_off;
	int rc;

	rc = lookup_file(r, fd, &ref, &m);
	if (rc)
		return rc;
	rc = rpc_clamp_range(r, m.size, &len);
	if (rc)
		goto out;
	if (ais_shard_member_range(ref->idx, &m, &obj_off)) {
		rc = rpc_send_range(r, fd, obj_off + q->offset, len, m.size);
		goto out;
	}
	o.len = len;
	if (len == 0) {
		rc = rpc_send_range(r, fd, 0, 0, m.size);
		goto out;
	}
	ais_shard_set_reader(checked_pread, r);
	rc = shard_member_read(r->d->shards, fd, ref->idx, &m, q->offset, len,
			       member_write, &o, r->errmsg);
	ais_shard_set_reader(NULL, NULL);
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

static int stage_write(void *arg, const void *buf, size_t len)
{
	return ais_write_all(*(int *)arg, buf, len);
}

int rpc_member_source(struct rpc *r, int fd, uint64_t *off, uint64_t *len,
		      int *staged)
{
	struct shard_ref *ref;
	struct ais_shard_member m;
	uint64_t obj_off;
	int rc, tmp;

	*staged = -1;
	rc = lookup_file(r, fd, &ref, &m);
	if (rc)
		return rc;
	if (ais_shard_member_range(ref->idx, &m, &obj_off)) {
		/* Stored as is: the transform reads it in place. */
		rc = rpc_verify(r, fd, obj_off, m.size);
		*off = obj_off;
		*len = m.size;
	} else {
		/* Compressed: decoded into a spool file first. */
		tmp = etl_spool_open(r->d->etl, r->errmsg);
		rc = tmp < 0 ? tmp : 0;
		if (!rc) {
			ais_shard_set_reader(checked_pread, r);
			rc = shard_member_read(r->d->shards, fd, ref->idx, &m,
					       0, m.size, stage_write, &tmp,
					       r->errmsg);
			ais_shard_set_reader(NULL, NULL);
			if (rc)
				close(tmp);
			else
				*staged = tmp;
		}
		*off = 0;
		*len = m.size;
	}
	shard_ref_put(ref);
	return rc;
}

/* One page of OP_SHARD_LIST being collected. */
struct shard_page {
	Ais__ListEntry *ents;
	Ais__ObjMeta *metas;
	size_t n, cap;
	size_t bytes, max; /* packed size so far, head budget */
	uint64_t version;
	int64_t written_ns; /* the shard's: as a member HEAD carries it */
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
	mt->written_ns = p->written_ns;
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

int rpc_shard_list(struct rpc *r)
{
	Ais__Request *q = r->req;
	Ais__Response *a = NULL;
	struct shard_page p = {0};
	Ais__ListEntry **ptrs = NULL;
	struct shard_ref *ref = NULL;
	char dir[AIS_NAME_MAX * 4 + 1], errbuf[AIS_ERRMSG_LEN + 64] = "";
	const char *err, *after;
	uint64_t brk = 0;
	size_t i;
	int fd, rc;

	rc = rpc_check_read(r);
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
	/* Not here yet during a rebalance: the previous owner lists it. */
	rc = rpc_relay_read(r, &a);
	if (rc == 0) {
		rpc_send_answer(r, a);
		ais__response__free_unpacked(a, NULL);
		return 1;
	}
	if (rc != -ENOENT)
		return rc;
	rc = rpc_open_obj(r, &fd);
	if (rc)
		return rc;
	rc = shard_get(r->d->shards, q->bucket, q->name, fd, &r->meta, &ref,
		       r->errmsg);
	close(fd);
	if (rc)
		return rc;
	p.cap = q->page_size ? q->page_size : LISTING_PAGE_DEFAULT;
	if (p.cap > LISTING_PAGE_MAX)
		p.cap = LISTING_PAGE_MAX;
	p.max = AIS_FRAME_HEAD_MAX - RPC_HEAD_SLACK - sizeof(errbuf);
	p.version = r->meta.version;
	p.written_ns = r->meta.written_ns;
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
	rpc_send_resp(r, 0);
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

/* The append's body source: the request body, with a log line if the
 * connection breaks. */
static ssize_t read_body(void *arg, void *buf, size_t len)
{
	struct rpc *r = arg;
	ssize_t n = sock_io_read_body(&r->j->io, buf, len);

	if (n < 0)
		ais_log(LOG_INFO, "%s: SHARD_APPEND %s/%s: body: %s; closing",
			r->j->peer, r->req->bucket, r->req->name,
			sock_io_strerror(n));
	return n;
}

/* Members appended in place to a .tar shard (shard/append.h). */
int rpc_shard_append(struct rpc *r)
{
	Ais__Request *q = r->req;
	struct shard_append_result res;
	int rc;

	rc = rpc_check_mine(r);
	/* An append in place to a copy that may be stale would push the
	 * stale shard over the others. */
	if (!rc)
		rc = rpc_check_caught_up(r, q->bucket);
	if (!rc)
		rc = rpc_fetch_missing(r);
	if (!rc)
		rc = shard_append_run(
		    r->d->shards, r->j->io.body_left, read_body, r, r->j->peer,
		    q->bucket, q->name, q->replace_members, &res, r->errmsg);
	if (rc == 1)
		r->j->close = true; /* the body broke off: no answer */
	if (rc)
		return rc;
	r->meta = res.meta;
	rpc_set_meta(r);
	r->resp.appended_members = res.appended;
	r->resp.shard_members = res.members;
	/* The copies get the whole new shard. */
	rpc_replicate(r);
	return 0;
}
