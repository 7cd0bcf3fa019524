/* Buckets: BUCKET_CREATE, BUCKET_DESTROY and BUCKET_LIST act on the
 * cluster's bucket table (through Raft, from any node); every node's
 * directories follow the table (rpc_buckets_follow). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#include "rpc/rpc_i.h"
#include "store/bucket.h"

static long find_sorted(char *const *v, size_t n, const char *s);

int rpc_bucket_create(struct rpc *r)
{
	Ais__Request *q = r->req;
	int rc = rpc_check_bucket(r, q->bucket);

	if (rc)
		return rc;
	rc = cluster_bucket_create(r->d->cluster, q->bucket, q->copies,
				   r->errmsg);
	rpc_answer_new_version(r);
	return rc;
}

int rpc_bucket_props(struct rpc *r)
{
	Ais__Request *q = r->req;
	static Ais__BucketProps init = AIS__BUCKET_PROPS__INIT;
	long k;
	int rc = rpc_check_bucket(r, q->bucket);

	if (rc)
		return rc;
	if (q->set_copies) {
		rc = cluster_bucket_props(r->d->cluster, q->bucket, q->copies,
					  r->errmsg);
		rpc_answer_new_version(r);
		if (rc)
			return rc;
	}
	k = find_sorted(r->cm->buckets, r->cm->nbuckets, q->bucket);
	if (k < 0 && cluster_sync(r->d->cluster, 2000) == 0) {
		rpc_answer_new_version(r);
		k = find_sorted(r->cm->buckets, r->cm->nbuckets, q->bucket);
	}
	if (k < 0)
		return ais_errf(r->errmsg, -ENOENT, "bucket %s does not exist",
				q->bucket);
	r->props = init;
	r->props.name = q->bucket;
	r->props.copies = ais_map_copies(r->cm->m, q->bucket);
	r->props.created_ns = r->cm->bucket_created[k];
	r->resp.props = &r->props;
	return 0;
}

int rpc_bucket_destroy(struct rpc *r)
{
	Ais__Request *q = r->req;
	int rc = rpc_check_bucket(r, q->bucket);

	if (rc)
		return rc;
	rc = cluster_bucket_destroy(r->d->cluster, q->bucket, r->errmsg);
	rpc_answer_new_version(r);
	return rc;
}

int rpc_bucket_list(struct rpc *r)
{
	const Ais__User *u;
	size_t n = 0;

	r->resp.n_buckets = r->cm->nbuckets;
	r->resp.buckets = r->cm->buckets;
	if (!r->who || r->admin)
		return 0;
	/* A user sees the buckets it has a right on. */
	u = cluster_user_find(r->cm, r->who->user);
	if (!u)
		return ais_errf(r->errmsg, -EACCES, "no user %s", r->who->user);
	r->bucketv = calloc(r->cm->nbuckets + 1, sizeof(char *));
	if (!r->bucketv)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	for (size_t i = 0; i < r->cm->nbuckets; i++)
		if (cluster_user_right(u, r->cm->buckets[i]) >
		    AIS__RIGHT__RIGHT_NONE)
			r->bucketv[n++] = r->cm->buckets[i];
	r->resp.n_buckets = n;
	r->resp.buckets = r->bucketv;
	return 0;
}

static void *trash_thread(void *arg)
{
	bucket_destroy_finish(arg);
	return NULL;
}

/* Deletes bucket here: gone from sight at once (renamed into the trash),
 * the files removed by a thread of its own. */
static void destroy_local(struct aisd *d, const char *bucket)
{
	char errmsg[AIS_ERRMSG_LEN];
	char **trash = NULL;
	pthread_attr_t at;
	pthread_t t;
	int rc = bucket_destroy(d->store, bucket, &trash, errmsg);

	if (rc) {
		bucket_destroy_finish(trash);
		if (rc != -ENOENT)
			ais_log(LOG_WARNING, "bucket %s: %s", bucket, errmsg);
		return;
	}
	shard_on_bucket_destroy(d->shards, bucket);
	ais_log(LOG_NOTICE, "bucket %s: destroyed (cluster bucket table)",
		bucket);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, trash_thread, trash))
		bucket_destroy_finish(trash);
	pthread_attr_destroy(&at);
}

/* The index of s in the sorted v[n], or -1. */
static long find_sorted(char *const *v, size_t n, const char *s)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid], s);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Bucket `name`, created at `created` (0: not known), is in the table:
 * its directories exist and are that bucket's. Directories stamped with
 * another creation are an earlier bucket of that name, destroyed while
 * this node was away (it got a snapshot without the destroy in it): their
 * objects go, or the new bucket would show them. */
static void follow_one(struct aisd *d, const char *name, int64_t created)
{
	char errmsg[AIS_ERRMSG_LEN];
	int64_t stamp;
	int rc;

	if (store_bucket_exists(d->store, name)) {
		stamp = bucket_stamp(d->store, name);
		if (stamp && created && stamp != created) {
			ais_log(LOG_NOTICE,
				"bucket %s: what this node holds of it belongs "
				"to an earlier bucket of that name (created at "
				"%lld, destroyed while this node was away); "
				"removing it",
				name, (long long)stamp);
			destroy_local(d, name);
		}
	}
	if (!store_bucket_exists(d->store, name) &&
	    bucket_create(d->store, name, errmsg) &&
	    !store_bucket_exists(d->store, name))
		ais_log(LOG_WARNING, "bucket %s: %s", name, errmsg);
	if (created && (rc = bucket_stamp_set(d->store, name, created)))
		ais_log(LOG_WARNING,
			"bucket %s: cannot record which bucket it "
			"is: %s",
			name, strerror(-rc));
}

void rpc_buckets_follow(void *arg, struct cluster_map *cm)
{
	struct aisd *d = arg;
	char **seen;
	int64_t *created;
	size_t i;
	long k;

	if (cm->m->n == 0)
		return; /* not a map yet (restoring, joining) */
	for (i = 0; i < cm->nbuckets; i++) {
		k = find_sorted(d->buckets_seen, d->nbuckets_seen,
				cm->buckets[i]);
		if (k < 0 ||
		    d->buckets_seen_created[k] != cm->bucket_created[i])
			follow_one(d, cm->buckets[i], cm->bucket_created[i]);
	}
	/* Only what this node saw leave the table: a restart that restores
	 * an older snapshot must not delete buckets the log adds back. */
	for (i = 0; i < d->nbuckets_seen; i++)
		if (find_sorted(cm->buckets, cm->nbuckets, d->buckets_seen[i]) <
		    0)
			destroy_local(d, d->buckets_seen[i]);
	seen = calloc(cm->nbuckets + 1, sizeof(char *));
	created = calloc(cm->nbuckets + 1, sizeof(*created));
	for (i = 0; seen && created && i < cm->nbuckets; i++) {
		created[i] = cm->bucket_created[i];
		if (!(seen[i] = strdup(cm->buckets[i]))) {
			ais_strv_free(seen);
			seen = NULL;
		}
	}
	if (!seen || !created) {
		ais_strv_free(seen);
		free(created);
		return; /* keep the old list: it errs on not deleting */
	}
	ais_strv_free(d->buckets_seen);
	free(d->buckets_seen_created);
	d->buckets_seen = seen;
	d->buckets_seen_created = created;
	d->nbuckets_seen = cm->nbuckets;
}
