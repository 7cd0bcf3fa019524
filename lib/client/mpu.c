/* libais client: multipart uploads (the S3 endpoint's), kept at the first
 * node of the object (see aisd's rpc/mpu.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_i.h"
#include "util.h"

/* A completion reads every part through the object's PUT on its node:
 * minutes for a large one, with nothing on the wire meanwhile. */
#define COMPLETE_IO_MS (30 * 60 * 1000)

/* A body-less request to the first node of bucket/name (never another
 * copy: the upload lives there), following WRONG_NODE. io_ms as
 * ais__call_start_io. 0 with *resp (status 0), or -errno. */
static int call_first(struct ais_client *c, const char *bucket,
		      const char *name, Ais__Request *req, bool idempotent,
		      int io_ms, Ais__Response **resp, char *errmsg)
{
	struct ais__retry r;
	int rc;

	*resp = NULL;
	rc = ais__check_obj_names(bucket, name, errmsg);
	if (rc < 0)
		return rc;
	req->bucket = (char *)bucket;
	req->name = (char *)name;
	ais__retry_init(&r, idempotent ? 1 : 0);
	for (;;) {
		struct ais_pool *pool;
		struct ais__call k;

		rc = ais__owner_pool(c, bucket, name, &pool, errmsg);
		if (rc < 0)
			return rc;
		rc = ais__call_start_io(&k, c, pool, req, 0, r.fresh, io_ms,
					errmsg);
		if (rc == 0) {
			rc = ais__call_recv_head(&k, errmsg);
			if (rc == 0) {
				Ais__Response *a = k.resp;

				k.resp = NULL;
				ais__call_finish(&k, true);
				if (a->status == -EREMOTE &&
				    ais__retry_wrong_node(&r, c, a, true)) {
					ais__response__free_unpacked(a, NULL);
					continue;
				}
				rc = ais__resp_status(a, errmsg);
				if (rc < 0) {
					ais__response__free_unpacked(a, NULL);
					return rc;
				}
				*resp = a;
				return 0;
			}
			ais__call_finish(&k, false);
		}
		if (!ais__retry_conn(&r, k.fail, idempotent))
			return rc;
	}
}

int ais_client_mpu_create(struct ais_client *c, const char *bucket,
			  const char *name, const char *upload_id,
			  const uint8_t *ext, size_t ext_len, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	req.op = AIS__OP__OP_MPU_CREATE;
	req.upload_id = (char *)upload_id;
	req.ext.data = (uint8_t *)ext;
	req.ext.len = ext ? ext_len : 0;
	rc = call_first(c, bucket, name, &req, false, 0, &a, errmsg);
	if (rc)
		return rc;
	ais__response__free_unpacked(a, NULL);
	return 0;
}

int ais_client_mpu_complete(struct ais_client *c, const char *bucket,
			    const char *name, const char *upload_id,
			    const struct ais_mpu_part *parts, size_t n,
			    struct ais_obj_meta *out, char *etag, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__MpuPart *pv = calloc(n ? n : 1, sizeof(*pv));
	Ais__MpuPart **pp = calloc(n ? n : 1, sizeof(*pp));
	Ais__Response *a;
	int rc;

	if (!pv || !pp) {
		free(pv);
		free(pp);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		ais__mpu_part__init(&pv[i]);
		pv[i].number = parts[i].number;
		pv[i].etag = (char *)parts[i].etag;
		pp[i] = &pv[i];
	}
	req.op = AIS__OP__OP_MPU_COMPLETE;
	req.upload_id = (char *)upload_id;
	req.n_mpu_parts = n;
	req.mpu_parts = pp;
	rc = call_first(c, bucket, name, &req, false, COMPLETE_IO_MS, &a,
			errmsg);
	free(pv);
	free(pp);
	if (rc)
		return rc;
	if (out)
		ais_obj_meta_from_pb(a->meta, out);
	if (etag)
		ais_obj_ext_etag(a->ext.data, a->ext.len, etag, AIS_ETAG_MAX);
	ais__response__free_unpacked(a, NULL);
	return 0;
}

int ais_client_mpu_abort(struct ais_client *c, const char *bucket,
			 const char *name, const char *upload_id, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	req.op = AIS__OP__OP_MPU_ABORT;
	req.upload_id = (char *)upload_id;
	rc = call_first(c, bucket, name, &req, false, 0, &a, errmsg);
	if (rc)
		return rc;
	ais__response__free_unpacked(a, NULL);
	return 0;
}

int ais_client_mpu_parts(struct ais_client *c, const char *bucket,
			 const char *name, const char *upload_id,
			 struct ais_mpu_part **out, size_t *n, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	*out = NULL;
	*n = 0;
	req.op = AIS__OP__OP_MPU_LIST;
	req.upload_id = (char *)upload_id;
	rc = call_first(c, bucket, name, &req, true, 0, &a, errmsg);
	if (rc)
		return rc;
	*out = calloc(a->n_mpu_parts + 1, sizeof(**out));
	if (!*out) {
		ais__response__free_unpacked(a, NULL);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < a->n_mpu_parts; i++) {
		struct ais_mpu_part *p = &(*out)[i];

		p->number = a->mpu_parts[i]->number;
		snprintf(p->etag, sizeof(p->etag), "%s",
			 a->mpu_parts[i]->etag ? a->mpu_parts[i]->etag : "");
		p->size = a->mpu_parts[i]->size;
		p->mtime_ns = a->mpu_parts[i]->mtime_ns;
	}
	*n = a->n_mpu_parts;
	ais__response__free_unpacked(a, NULL);
	return 0;
}

static int upload_cmp(const void *x, const void *y)
{
	const struct ais_mpu_upload *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c
		 : (a->created_ns > b->created_ns) -
		       (a->created_ns < b->created_ns);
}

void ais_mpu_uploads_free(struct ais_mpu_upload *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
}

int ais_client_mpu_uploads(struct ais_client *c, const char *bucket,
			   const char *prefix, struct ais_mpu_upload **out,
			   size_t *nout, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct ais__mapref *r;
	Ais__Response **resps;
	char(*msgs)[AIS_ERRMSG_LEN];
	struct ais_mpu_upload *v = NULL;
	size_t n, total = 0, k = 0;
	int *rcs, rc = 0;

	*out = NULL;
	*nout = 0;
	req.op = AIS__OP__OP_MPU_LIST;
	req.bucket = (char *)bucket;
	req.prefix = (char *)(prefix ? prefix : "");
	r = ais__mapref_get(c);
	n = r->map->n;
	resps = calloc(n + 1, sizeof(*resps));
	rcs = calloc(n + 1, sizeof(*rcs));
	msgs = calloc(n + 1, sizeof(*msgs));
	if (!resps || !rcs || !msgs) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	(void)ais__call_all(c, r, &req, resps, rcs, msgs);
	for (size_t i = 0; i < n; i++) {
		if (rcs[i] < 0 && r->map->nodes[i].state != AIS_NODE_JOINING) {
			rc = ais_errf(errmsg, rcs[i], "%s", msgs[i]);
			goto out;
		}
		if (resps[i] && !rcs[i])
			total += resps[i]->n_mpu_uploads;
	}
	v = calloc(total + 1, sizeof(*v));
	if (!v) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0;
		     resps[i] && !rcs[i] && j < resps[i]->n_mpu_uploads; j++) {
			const Ais__MpuInfo *u = resps[i]->mpu_uploads[j];

			v[k].name = strdup(u->name ? u->name : "");
			if (!v[k].name) {
				rc = ais_errf(errmsg, -ENOMEM, "out of memory");
				goto out;
			}
			snprintf(v[k].upload_id, sizeof(v[k].upload_id), "%s",
				 u->upload_id ? u->upload_id : "");
			v[k].created_ns = u->created_ns;
			k++;
		}
	}
	qsort(v, k, sizeof(*v), upload_cmp);
	*out = v;
	*nout = k;
	v = NULL;
out:
	ais_mpu_uploads_free(v, k);
	for (size_t i = 0; resps && i < n; i++)
		if (resps[i])
			ais__response__free_unpacked(resps[i], NULL);
	free(resps);
	free(rcs);
	free(msgs);
	ais__mapref_put(r);
	return rc;
}
