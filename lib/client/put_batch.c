/* libais client: small PUTs in batches (OP_PUT_BATCH), one request per
 * node that owns some of them; whatever a batch did not store is PUT
 * alone, with the retry rules of put.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cksum.h"
#include "client.h"
#include "client_i.h"
#include "util.h"

#define PENDING 1 /* an item's rc until it is done */

static void put_alone(struct ais_client *c, const char *bucket,
		      struct ais_put_item *it)
{
	it->rc = ais_client_put_buf(c, bucket, it->name, it->buf, it->len,
				    &it->opts, &it->meta, it->errmsg);
}

/* The checksum the node verifies: the caller's, or one made here (of the
 * caller's type, XXH3 by default, as put.c chooses). */
static void item_cksum(const struct ais_put_item *it, Ais__PutItem *pi,
		       char *hex)
{
	struct ais_cksum ck;

	pi->cksum_type =
	    it->opts.cksum_type ? it->opts.cksum_type : AIS_CKSUM_XXH3;
	if (it->opts.cksum && it->opts.cksum[0]) {
		pi->cksum_value = (char *)it->opts.cksum;
		return;
	}
	if (ais_cksum_init(&ck, pi->cksum_type) < 0) {
		/* Not reached: such items go alone. */
		pi->cksum_type = AIS__CKSUM_TYPE__CKSUM_NONE;
		return;
	}
	ais_cksum_update(&ck, it->buf, it->len);
	ais_cksum_final(&ck, hex);
	pi->cksum_value = hex;
}

/* One OP_PUT_BATCH of items[idx[0..n)] to pool. Items it stored get rc 0,
 * those the node refused its error; the others (not answered, another
 * node's, a node catching up) stay PENDING, then go alone. */
static void send_batch(struct ais_client *c, const char *bucket,
		       struct ais_pool *pool, struct ais_put_item *items,
		       const size_t *idx, size_t n)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__PutItem *pis = calloc(n, sizeof(*pis));
	Ais__PutItem **pv = calloc(n, sizeof(*pv));
	char(*hex)[AIS_CKSUM_HEX_MAX] = calloc(n, sizeof(*hex));
	char em[AIS_ERRMSG_LEN] = "";
	struct ais__call k;
	uint64_t body = 0;
	bool answered = false;
	size_t i;
	int rc = 0;

	if (!pis || !pv || !hex)
		goto out;
	for (i = 0; i < n; i++) {
		const struct ais_put_item *it = &items[idx[i]];
		Ais__PutItem *pi = &pis[i];

		ais__put_item__init(pi);
		pi->name = (char *)it->name;
		pi->size = it->len;
		item_cksum(it, pi, hex[i]);
		pi->mode = it->opts.mode;
		pi->mtime_ns = it->opts.mtime_ns;
		pi->uid = it->opts.uid;
		pi->gid = it->opts.gid;
		pi->set_owner = it->opts.owned;
		pi->atime_ns = it->opts.atime_ns;
		pi->no_overwrite = it->opts.no_overwrite;
		pv[i] = pi;
		body += it->len;
	}
	req.op = AIS__OP__OP_PUT_BATCH;
	req.bucket = (char *)bucket;
	req.n_put_items = n;
	req.put_items = pv;
	if (ais__call_start(&k, c, pool, &req, body, false, em) < 0)
		goto out;
	for (i = 0; i < n && rc == 0 && !answered; i++)
		if (items[idx[i]].len)
			rc = ais__call_send_body(&k, items[idx[i]].buf,
						 items[idx[i]].len, &answered,
						 em);
	if (ais__call_recv_after_body(&k, rc, em) < 0)
		goto out;
	if (k.resp->status || k.resp->n_put_results != n) {
		if (k.resp->status == -EOPNOTSUPP)
			atomic_store(&c->no_put_batch, true);
		ais__call_finish(&k, false);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const Ais__PutResult *res = k.resp->put_results[i];
		struct ais_put_item *it = &items[idx[i]];

		/* The node's word on the item is final, but where a PUT of
		 * its own would follow the map or go to another copy. */
		if (res->status && res->status != -EREMOTE &&
		    res->status != -EAGAIN && res->status < 0 &&
		    res->status > -4096) {
			snprintf(it->errmsg, AIS_ERRMSG_LEN, "%s",
				 res->message);
			it->rc = res->status;
			continue;
		}
		if (res->status || !res->meta)
			continue; /* alone */
		if (pis[i].cksum_type != AIS__CKSUM_TYPE__CKSUM_NONE &&
		    ((int)res->meta->cksum_type != (int)pis[i].cksum_type ||
		     strcasecmp(res->meta->cksum_value, pis[i].cksum_value)))
			continue;
		ais_obj_meta_from_pb(res->meta, &it->meta);
		if (it->opts.copies_missing)
			*it->opts.copies_missing = res->copies_missing;
		it->errmsg[0] = '\0';
		it->rc = 0;
	}
	ais__call_finish(&k, true);
out:
	free(pis);
	free(pv);
	free(hex);
}

size_t ais_client_put_batch(struct ais_client *c, const char *bucket,
			    struct ais_put_item *items, size_t n)
{
	struct ais_pool **pools = calloc(n ? n : 1, sizeof(*pools));
	size_t *idx = calloc(n ? n : 1, sizeof(*idx));
	size_t i, j, failed = 0;

	for (i = 0; i < n; i++) {
		struct ais_put_item *it = &items[i];
		struct ais__retry r;

		it->errmsg[0] = '\0';
		it->rc = ais__check_obj_names(bucket, it->name, it->errmsg);
		if (it->rc < 0)
			continue;
		it->rc = PENDING;
		/* Alone: what a batch cannot carry, and a checksum type
		 * that a PUT refuses with its own words. */
		if (!pools || !idx || atomic_load(&c->no_put_batch) ||
		    it->len > AIS_PUT_BATCH_ITEM_MAX ||
		    (it->opts.cksum_type &&
		     !ais_cksum_name(it->opts.cksum_type)))
			continue;
		ais__retry_init(&r, 1);
		if (ais__copy_pool(c, bucket, it->name, &r, &pools[i],
				   it->errmsg) < 0)
			pools[i] = NULL;
	}
	/* One node's items at a time, in requests of at most
	 * AIS_PUT_BATCH_MAX objects and AIS_PUT_BATCH_BYTES bytes. */
	for (i = 0; pools && idx && i < n; i++) {
		struct ais_pool *pool = pools[i];
		uint64_t bytes = 0;
		size_t m = 0;

		if (!pool || items[i].rc != PENDING)
			continue;
		for (j = i; j < n; j++) {
			if (pools[j] != pool || items[j].rc != PENDING)
				continue;
			if (m == AIS_PUT_BATCH_MAX ||
			    (m && bytes + items[j].len > AIS_PUT_BATCH_BYTES)) {
				send_batch(c, bucket, pool, items, idx, m);
				m = 0;
				bytes = 0;
			}
			idx[m++] = j;
			bytes += items[j].len;
			pools[j] = NULL;
		}
		send_batch(c, bucket, pool, items, idx, m);
	}
	for (i = 0; i < n; i++) {
		if (items[i].rc == PENDING)
			put_alone(c, bucket, &items[i]);
		if (items[i].rc < 0)
			failed++;
	}
	free(pools);
	free(idx);
	return failed;
}
