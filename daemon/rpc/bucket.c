/* Buckets on this node: BUCKET_CREATE, BUCKET_DESTROY, BUCKET_LIST. */
#include <errno.h>

#include "rpc/rpc_i.h"
#include "store/bucket.h"

int rpc_bucket_create(struct rpc *r)
{
	Ais__Request *q = r->req;
	int rc = rpc_check_bucket(r, q->bucket);

	return rc ? rc : bucket_create(r->d->store, q->bucket, r->errmsg);
}

int rpc_bucket_destroy(struct rpc *r)
{
	Ais__Request *q = r->req;
	char **trash = NULL;
	int rc;

	rc = rpc_check_bucket(r, q->bucket);
	if (rc)
		return rc;
	rc = bucket_destroy(r->d->store, q->bucket, &trash, r->errmsg);
	if (rc) {
		bucket_destroy_finish(trash);
		return rc;
	}
	shard_on_bucket_destroy(r->d->shards, q->bucket);
	/* The bucket is gone already; answer, then delete. */
	rpc_send_resp(r, 0);
	bucket_destroy_finish(trash);
	return 1;
}

int rpc_bucket_list(struct rpc *r)
{
	char **names = NULL;
	size_t n;
	int rc;

	rc = bucket_list(r->d->store, &names, &n, r->errmsg);
	if (rc)
		return rc;
	r->resp.n_buckets = n;
	r->resp.buckets = names;
	rpc_send_resp(r, 0);
	ais_strv_free(names);
	return 1;
}
