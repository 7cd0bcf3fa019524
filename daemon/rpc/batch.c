/* OP_PUT_BATCH: many small objects of one bucket in one request, for an
 * ingest of small samples (`ais put -r`). Each object is checked and
 * staged (its bytes and metadata in a tmp file), then every staged file
 * is flushed at once, published (renamed into place), and flushed once
 * more before the answer: two flushes per batch, shared with concurrent
 * batches (store/flush.h), instead of two fsyncs per object, and one
 * request, one worker hand-off and one name-conflict probe per batch
 * instead of per object. What each object goes through is an OP_PUT's
 * (obj.c): the same checks, the same errors, one result per item. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"

#include "move/move.h"
#include "net/sock_io.h"
#include "rpc/rpc_i.h"
#include "store/bucket.h"
#include "store/store.h"

/* What one request may carry; the client's batches are smaller. */
#define BATCH_ITEMS_MAX	 1024
#define BATCH_ITEM_BYTES (4u << 20)
#define BATCH_BUF	 (64 * 1024)

/* The answer's results, freed after it (rpc_done). */
struct rpc_batch {
	Ais__PutResult **v;
	Ais__PutResult *res;
	Ais__ObjMeta *meta;
	struct ais_obj_meta *om; /* what meta points into */
	char (*msg)[AIS_ERRMSG_LEN];
};

void rpc_batch_free(struct rpc_batch *b)
{
	if (!b)
		return;
	free(b->v);
	free(b->res);
	free(b->meta);
	free(b->om);
	free(b->msg);
	free(b);
}

static struct rpc_batch *batch_new(size_t n)
{
	struct rpc_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->v = calloc(n, sizeof(*b->v));
	b->res = calloc(n, sizeof(*b->res));
	b->meta = calloc(n, sizeof(*b->meta));
	b->om = calloc(n, sizeof(*b->om));
	b->msg = calloc(n, sizeof(*b->msg));
	if (!b->v || !b->res || !b->meta || !b->om || !b->msg) {
		rpc_batch_free(b);
		return NULL;
	}
	return b;
}

/* Whole-request checks: anything wrong here fails every item. */
static int check_request(struct rpc *r)
{
	Ais__Request *q = r->req;
	uint64_t sum = 0;
	size_t k;
	int rc;

	rc = rpc_check_bucket(r, q->bucket);
	if (rc)
		return rc;
	if (q->n_put_items == 0 || q->n_put_items > BATCH_ITEMS_MAX)
		return ais_errf(r->errmsg, -EINVAL,
				"a batch holds 1 to %d objects, not %zu",
				BATCH_ITEMS_MAX, q->n_put_items);
	for (k = 0; k < q->n_put_items; k++) {
		if (q->put_items[k]->size > BATCH_ITEM_BYTES)
			return ais_errf(
			    r->errmsg, -EFBIG,
			    "object %zu of the batch has %llu "
			    "bytes: at most %u in a batch (PUT it "
			    "alone)",
			    k, (unsigned long long)q->put_items[k]->size,
			    BATCH_ITEM_BYTES);
		sum += q->put_items[k]->size;
	}
	if (sum != r->j->hdr.body_len)
		return ais_errf(r->errmsg, -EINVAL,
				"the batch's sizes add up to %llu bytes, its "
				"body has %llu",
				(unsigned long long)sum,
				(unsigned long long)r->j->hdr.body_len);
	if (!store_bucket_exists(r->d->store, q->bucket))
		return ais_errf(r->errmsg, -ENOENT, "bucket %s does not exist",
				q->bucket);
	return 0;
}

/* An item's own checks, before its bytes: those of an OP_PUT. */
static int check_item(struct rpc *r, const Ais__PutItem *pi, char *errmsg)
{
	const char *bucket = r->req->bucket;
	int rc;

	rc = ais_name_check_object(pi->name, strlen(pi->name), errmsg);
	if (rc)
		return rc;
	rc = rpc_check_owner(r, bucket, pi->name);
	if (rc)
		return ais_errf(errmsg, rc, "%s", r->errmsg);
	if (pi->cksum_type == AIS__CKSUM_TYPE__CKSUM_NONE && pi->cksum_value[0])
		return ais_errf(errmsg, -EINVAL,
				"a checksum value needs a checksum type");
	/* "Create unless it exists" on a copy that may be stale: PUT it
	 * alone, which the client's retry rules send to another copy. */
	if (pi->no_overwrite && rpc_catching_up(r, bucket))
		return ais_errf(errmsg, -EAGAIN,
				"this node just started and is getting the "
				"copies it missed: PUT %s alone",
				pi->name);
	return 0;
}

/* Reads the next len bytes of the body into p, the item's PUT, while
 * *rc is 0 (*begun false once it is not: p was released). Returns 0, or
 * the socket's error (the body broke off). */
static ssize_t read_item(struct rpc *r, int *rc, struct store_put *p,
			 bool *begun, uint64_t len, uint8_t *buf, char *errmsg)
{
	while (len) {
		size_t want = len < BATCH_BUF ? (size_t)len : BATCH_BUF;
		ssize_t n = sock_io_read_body(&r->j->io, buf, want);

		if (n <= 0)
			return n < 0 ? n : -EPIPE;
		len -= (uint64_t)n;
		if (*rc)
			continue;
		*rc = store_put_write(p, buf, (size_t)n, errmsg);
		if (*rc) {
			store_put_abort(p);
			*begun = false;
		}
	}
	return 0;
}

/* Flushes the file systems of the items still staged (their bytes) or
 * published (their names: staged is false), one flush each for the
 * oldest mark of its items; an item whose flush failed gets the error,
 * and a staged one is dropped. */
static void flush_items(struct rpc *r, struct store_staged *items, int *rcs,
			size_t n, char (*msg)[AIS_ERRMSG_LEN], bool staged)
{
	struct store *st = r->d->store;
	size_t nd = st->mps->n, k, d;
	char(*em)[AIS_ERRMSG_LEN] = calloc(nd, sizeof(*em));
	uint64_t mark[nd];
	int mp[nd], rc[nd];

	for (d = 0; d < nd; d++)
		mp[d] = -1;
	for (k = 0; k < n; k++) {
		const struct store_staged *it = &items[k];

		if (rcs[k] || (it->tmp != NULL) != staged)
			continue;
		d = (size_t)store_flush_domain(st, it->mp);
		if (mp[d] < 0 || it->flush_mark < mark[d])
			mark[d] = it->flush_mark;
		mp[d] = it->mp;
	}
	for (d = 0; d < nd; d++) {
		rc[d] = 0;
		if (mp[d] < 0)
			continue;
		rc[d] = store_flush(st, mp[d], mark[d], em ? em[d] : r->errmsg);
		if (rc[d])
			ais_log(LOG_ERR, "%s", em ? em[d] : r->errmsg);
	}
	for (k = 0; k < n; k++) {
		struct store_staged *it = &items[k];

		if (rcs[k] || (it->tmp != NULL) != staged)
			continue;
		d = (size_t)store_flush_domain(st, it->mp);
		if (!rc[d])
			continue;
		rcs[k] = rc[d];
		snprintf(msg[k], AIS_ERRMSG_LEN, "%.190s%s",
			 em ? em[d] : r->errmsg,
			 staged ? ""
				: " (the object is in place, its name may not "
				  "be durable)");
		store_staged_drop(it);
	}
	free(em);
}

struct named {
	const char *name;
	size_t k;
};

static int named_cmp(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name,
		      ((const struct named *)b)->name);
}

/* "a" and "a/b" both in this batch (each passed its checks, which only
 * see what is stored): the deeper one fails as it would after the other.
 * Needed with several mountpaths, where both renames could succeed. */
static void batch_conflicts(const char **names, size_t n, int *rcs,
			    char (*msg)[AIS_ERRMSG_LEN])
{
	struct named *v = malloc(n * sizeof(*v));
	char path[AIS_NAME_MAX + 1];
	size_t k, i;

	if (!v)
		return; /* then only the renames find such a pair */
	for (k = 0; k < n; k++)
		v[k] = (struct named){names[k], k};
	qsort(v, n, sizeof(*v), named_cmp);
	for (k = 0; k < n; k++) {
		size_t len = strlen(names[k]);

		if (rcs[k] || len > AIS_NAME_MAX)
			continue;
		memcpy(path, names[k], len + 1);
		for (i = 0; i < len; i++) {
			struct named key = {path, 0}, *hit;

			if (path[i] != '/')
				continue;
			path[i] = '\0';
			hit = bsearch(&key, v, n, sizeof(*v), named_cmp);
			path[i] = '/';
			if (hit && !rcs[hit->k]) {
				rcs[k] = ais_errf(msg[k], -ENOTDIR,
						  "cannot create %s: object "
						  "%.*s exists",
						  names[k], (int)i, names[k]);
				break;
			}
		}
	}
	free(v);
}

int rpc_put_batch(struct rpc *r)
{
	Ais__Request *q = r->req;
	size_t n = q->n_put_items, k;
	struct store_staged *items = NULL;
	const char **names = NULL;
	struct rpc_batch *b = NULL;
	uint8_t *buf = NULL;
	int *rcs = NULL;
	struct store_put p;
	bool begun = false;
	ssize_t brc = 0;
	int rc;

	rc = check_request(r);
	if (rc)
		return rc;
	b = batch_new(n);
	items = calloc(n, sizeof(*items));
	names = calloc(n, sizeof(*names));
	rcs = calloc(n, sizeof(*rcs));
	buf = malloc(BATCH_BUF);
	if (!b || !items || !names || !rcs || !buf) {
		rpc_batch_free(b);
		rc = ais_errf(r->errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	r->batch = b;
	for (k = 0; k < n; k++) {
		names[k] = q->put_items[k]->name;
		rcs[k] = check_item(r, q->put_items[k], b->msg[k]);
	}
	batch_conflicts(names, n, rcs, b->msg);
	/* Not the owner of some: the map rides along for them, not as the
	 * request's status. */
	r->errmsg[0] = '\0';
	rpc_check_conflicts_many(r, q->bucket, names, n, rcs, b->msg);

	/* Stage each, as its bytes arrive (items[k].tmp set while staged). */
	for (k = 0; k < n && brc == 0; k++) {
		const Ais__PutItem *pi = q->put_items[k];
		struct store_put_args a = {
		    .bucket = q->bucket,
		    .name = pi->name,
		    .cksum_type = pi->cksum_type,
		    .cksum_value = pi->cksum_value,
		    .mode = pi->mode,
		    .mtime_ns = pi->mtime_ns,
		    .uid = pi->uid,
		    .gid = pi->gid,
		    .owned = pi->set_owner,
		    .atime_ns = pi->atime_ns,
		    .no_overwrite = pi->no_overwrite,
		};

		if (!rcs[k]) {
			rcs[k] =
			    store_put_begin(r->d->store, &a, &p, b->msg[k]);
			begun = rcs[k] == 0;
		}
		brc =
		    read_item(r, &rcs[k], &p, &begun, pi->size, buf, b->msg[k]);
		if (brc == 0 && begun) {
			begun = false;
			rcs[k] = store_put_stage(&p, &items[k], b->msg[k]);
		}
	}
	if (brc) {
		if (begun)
			store_put_abort(&p);
		for (k = 0; k < n; k++)
			store_staged_drop(&items[k]);
		ais_log(LOG_INFO,
			"%s: PUT_BATCH %s (%zu objects): body: %s; closing",
			r->j->peer, q->bucket, n, sock_io_strerror(brc));
		r->j->close = true;
		rc = 1;
		goto out;
	}

	/* Their bytes durable, then their names. */
	flush_items(r, items, rcs, n, b->msg, true);
	for (k = 0; k < n; k++)
		if (!rcs[k])
			rcs[k] = store_put_publish(&items[k], b->msg[k]);
	flush_items(r, items, rcs, n, b->msg, false);

	for (k = 0; k < n; k++) {
		Ais__PutResult *res = &b->res[k];

		ais__put_result__init(res);
		b->v[k] = res;
		if (rcs[k]) {
			res->status = rcs[k];
			res->message = b->msg[k];
			continue;
		}
		b->om[k] = items[k].m;
		shard_written(r->d->shards, q->bucket, names[k]);
		if (ais_map_copies(r->cm->m, q->bucket) >= 2) {
			char em[AIS_ERRMSG_LEN] = "";

			(void)move_replicate(r->d, r->cm, q->bucket, names[k],
					     &b->om[k], &res->copies_missing,
					     em);
		}
		ais_obj_meta_to_pb(&b->om[k], &b->meta[k]);
		res->meta = &b->meta[k];
	}
	r->resp.n_put_results = n;
	r->resp.put_results = b->v;
	rc = 0;
out:
	free(names);
	free(items);
	free(rcs);
	free(buf);
	return rc;
}
