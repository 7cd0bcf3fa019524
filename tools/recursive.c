/* The recursive forms of put, get and rm: a producer feeding a pool of
 * workers that share one client. Memory stays bounded: the walk and the
 * listing block while the job queue is full, and a listing holds one page. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "pool.h"
#include "progress.h"
#include "recursive.h"
#include "transfer.h"
#include "util.h"

#define QUEUE_PER_JOB 64 /* queued jobs per worker */
/* put -r: a job may be a batch of XFER_BATCH_FILES paths, so fewer wait
 * (the queue's memory stays that of 64 files per worker or so). */
#define QUEUE_PER_PUT_JOB 4
#define WALK_FDS	  64

struct rec {
	struct ais_client *c;
	const char *bucket;
	struct progress *p;
	struct pool *pool;
	const char *root; /* get -r: the destination directory */
};

/* Builds "prefix/rel" (prefix without trailing '/'s; just rel if empty). */
static char *join_name(const char *prefix, const char *rel)
{
	size_t n = strlen(prefix);
	char *out;

	while (n > 0 && prefix[n - 1] == '/')
		n--;
	if (n == 0)
		return strdup(rel);
	if (asprintf(&out, "%.*s/%s", (int)n, prefix, rel) < 0)
		return NULL;
	return out;
}

/* The listing prefix for "everything under prefix": "" or "prefix/". */
static char *dir_prefix(const char *prefix)
{
	return join_name(prefix, "");
}

static int start(struct rec *r, const char *verb, const char *bucket,
		 unsigned jobs, size_t per_job, bool quiet, pool_fn fn)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	int rc;

	r->bucket = bucket;
	r->c = cli_client(verb);
	if (!r->c)
		return CLI_FAIL;
	/* One clear error instead of one per object. */
	rc = ais_client_bucket_head(r->c, bucket, errmsg);
	if (rc < 0) {
		ais_client_free(r->c);
		return cli_fail(rc, errmsg, "%s -r ais://%s", verb, bucket);
	}
	r->p = progress_new(verb, !quiet);
	if (!r->p)
		goto err_client;
	r->pool = pool_new(jobs, (size_t)jobs * per_job, fn, r);
	if (!r->pool)
		goto err_progress;
	return 0;

err_progress:
	progress_free(r->p);
err_client:
	ais_client_free(r->c);
	return cli_fail(-ENOMEM, NULL, "%s -r", verb);
}

/* Waits for the workers, prints the summary, frees everything. */
static int finish(struct rec *r, bool quiet, bool producer_failed)
{
	uint64_t failed;

	progress_total_final(r->p);
	pool_finish(r->pool);
	progress_stop(r->p);
	failed = progress_failed(r->p);
	/* "no objects under ..." needs no "0 objects" summary. */
	if (!quiet && !cli_interrupted &&
	    !(producer_failed && progress_done(r->p) == 0))
		progress_summary(r->p, stdout);
	progress_free(r->p);
	ais_client_free(r->c);
	if (cli_interrupted) {
		cli_failf("interrupted");
		return CLI_INTERRUPTED;
	}
	return failed || producer_failed ? CLI_FAIL : CLI_OK;
}

/* Reports a failure of one file that never reached the pool. */
static void fail_one(struct rec *r, int rc, const char *errmsg,
		     const char *what)
{
	progress_add_total(r->p, 1, 0);
	progress_file_done(r->p, false);
	cli_fail(rc, errmsg, "%s", what);
}

/* ---- put -r -------------------------------------------------------------- */

/* Small files go in batches (xfer_put_small), filled by the walk. */
struct small_batch {
	size_t n;
	uint64_t bytes;
	struct xfer_small f[XFER_BATCH_FILES];
};

static void small_batch_free(void *arg)
{
	struct small_batch *b = arg;
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->f[i].path);
		free(b->f[i].name);
	}
	free(b);
}

static int put_one(void *ctx, const struct pool_job *job)
{
	struct rec *r = ctx;
	char errmsg[AIS_ERRMSG_LEN] = "";
	int rc;

	if (job->batch) {
		const struct small_batch *b = job->batch;

		return xfer_put_small(r->c, r->bucket, b->f, b->n, r->p) ? -EIO
									 : 0;
	}
	rc = xfer_put_path(r->c, r->bucket, job->dst, job->src, r->p, errmsg);
	progress_file_done(r->p, rc == 0);
	if (rc < 0 && !cli_interrupted)
		cli_fail(rc, errmsg, "put %s ais://%s/%s", job->src, r->bucket,
			 job->dst);
	return rc;
}

/* nftw has no user argument: the walk's state lives here (one walk at a
 * time, on the main thread). */
static struct {
	struct rec *r;
	const char *root;
	const char *prefix;
	size_t rootlen;
	struct small_batch *batch; /* being filled */
} walk;

/* Queues the batch being filled, if any. Returns 0 or -ECANCELED. */
static int push_batch(struct rec *r)
{
	struct small_batch *b = walk.batch;

	walk.batch = NULL;
	if (!b)
		return 0;
	return pool_push(r->pool, (struct pool_job){
				      .size = b->bytes,
				      .batch = b,
				      .batch_free = small_batch_free,
				  });
}

/* Adds a small file to the batch being filled (queued when full).
 * Returns 0, 1 when out of memory (then it goes alone), or -ECANCELED. */
static int add_small(struct rec *r, char *path, char *name, uint64_t size)
{
	struct small_batch *b = walk.batch;

	if (!b) {
		b = walk.batch = calloc(1, sizeof(*b));
		if (!b)
			return 1;
	}
	b->f[b->n].path = path;
	b->f[b->n].name = name;
	b->n++;
	b->bytes += size;
	if (b->n == XFER_BATCH_FILES || b->bytes >= XFER_BATCH_BYTES)
		return push_batch(r);
	return 0;
}

static int walk_cb(const char *fpath, const struct stat *sb, int type,
		   struct FTW *ftw)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct rec *r = walk.r;
	struct stat st;
	const char *rel;
	char *name, *path;

	if (cli_interrupted)
		return 1;
	switch (type) {
	case FTW_D:
	case FTW_DP:
		return 0;
	case FTW_DNR:
		fail_one(r, -EACCES, NULL, fpath);
		return 0;
	case FTW_NS:
		fail_one(r, -EACCES, "cannot stat", fpath);
		return 0;
	case FTW_SL:
	case FTW_SLN:
		/* A link to a file is uploaded as that file; a link to a
		 * directory is not followed (no cycles). */
		if (stat(fpath, &st) < 0 || !S_ISREG(st.st_mode)) {
			cli_warn("put: skipping symlink %s", fpath);
			return 0;
		}
		sb = &st;
		break;
	default:
		if (!S_ISREG(sb->st_mode)) {
			cli_warn("put: skipping special file %s", fpath);
			return 0;
		}
	}

	rel = fpath + walk.rootlen;
	while (*rel == '/')
		rel++;
	name = join_name(walk.prefix, rel);
	path = strdup(fpath);
	if (!name || !path) {
		free(name);
		free(path);
		fail_one(r, -ENOMEM, NULL, fpath);
		return 1;
	}
	if (ais_name_check_object(name, strlen(name), errmsg) < 0) {
		char what[PATH_MAX + 16];

		snprintf(what, sizeof(what), "put %s", fpath);
		fail_one(r, -EINVAL, errmsg, what);
		free(name);
		free(path);
		return 0;
	}
	progress_add_total(r->p, 1, (uint64_t)sb->st_size);
	if ((uint64_t)sb->st_size <= XFER_SMALL_MAX) {
		int rc = add_small(r, path, name, (uint64_t)sb->st_size);

		if (rc <= 0)
			return rc < 0;
	}
	if (pool_push(r->pool,
		      (struct pool_job){.src = path,
					.dst = name,
					.size = (uint64_t)sb->st_size}) < 0)
		return 1;
	return 0;
}

int rec_put(const char *dir, const char *bucket, const char *prefix,
	    unsigned jobs, bool quiet)
{
	struct rec r = {0};
	struct stat st;
	bool walk_failed = false;
	size_t rootlen = strlen(dir);
	int rc;

	if (stat(dir, &st) < 0)
		return cli_fail(-errno, NULL, "put -r %s", dir);
	if (!S_ISDIR(st.st_mode))
		return cli_fail(-ENOTDIR, NULL, "put -r %s", dir);
	if (prefix[0] && ais_name_check_prefix(prefix, NULL) < 0)
		return cli_usage("put", "ais://%s/%s: invalid prefix", bucket,
				 prefix);
	rc = start(&r, "put", bucket, jobs, QUEUE_PER_PUT_JOB, quiet, put_one);
	if (rc)
		return rc;
	while (rootlen > 1 && dir[rootlen - 1] == '/')
		rootlen--;
	walk.r = &r;
	walk.root = dir;
	walk.rootlen = rootlen;
	walk.prefix = prefix;
	walk.batch = NULL;
	rc = nftw(dir, walk_cb, WALK_FDS, FTW_PHYS);
	if (rc < 0) {
		cli_fail(-errno, NULL, "put -r: walking %s", dir);
		walk_failed = true;
	}
	(void)push_batch(&r);
	rc = finish(&r, quiet, walk_failed);
	xfer_report_degraded("put -r");
	return rc;
}

/* ---- get -r / rm -r ------------------------------------------------------ */

/* get -r never writes through a symbolic link inside the destination
 * root: one where a directory or the file of dst goes is removed first,
 * as tar -x does, so that the object lands in the tree and not where the
 * link points (a link of the bucket's own, from an earlier get -r, may
 * point anywhere). */
static int unlink_links(const char *root, const char *dst, char *errmsg)
{
	size_t rl = strlen(root);
	char path[PATH_MAX];
	struct stat st;
	char *p, *slash;

	if (strncmp(dst, root, rl) != 0 || dst[rl] != '/')
		return 0;
	if (strlen(dst) >= sizeof(path))
		return ais_errf(errmsg, -ENAMETOOLONG, "%s", dst);
	strcpy(path, dst);
	for (p = path + rl + 1;; p = slash + 1) {
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		/* Another job may have replaced the same link meanwhile
		 * (ENOENT, or EISDIR: its directory is there now). */
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
		    unlink(path) < 0) {
			int e = errno;

			if (e != ENOENT &&
			    !(lstat(path, &st) == 0 && !S_ISLNK(st.st_mode)))
				return ais_errf(errmsg, -e,
						"cannot remove the link %s",
						path);
		}
		if (!slash)
			return 0;
		*slash = '/';
	}
}

static int get_one(void *ctx, const struct pool_job *job)
{
	struct rec *r = ctx;
	char errmsg[AIS_ERRMSG_LEN] = "";
	int rc;

	rc = unlink_links(r->root, job->dst, errmsg);
	if (rc == 0)
		rc = xfer_get_path(r->c, r->bucket, job->src, 0, 0, job->dst,
				   true, r->p, errmsg);
	progress_file_done(r->p, rc == 0);
	if (rc < 0 && !cli_interrupted)
		cli_fail(rc, errmsg, "get ais://%s/%s %s", r->bucket, job->src,
			 job->dst);
	return rc;
}

static int rm_one(void *ctx, const struct pool_job *job)
{
	struct rec *r = ctx;
	char errmsg[AIS_ERRMSG_LEN] = "";
	int rc;

	rc = ais_client_delete(r->c, r->bucket, job->src, errmsg);
	if (rc == -ENOENT)
		rc = 0; /* gone meanwhile: the goal is reached */
	progress_file_done(r->p, rc == 0);
	if (rc == 0)
		progress_add_bytes(r->p, (int64_t)job->size);
	if (rc < 0 && !cli_interrupted)
		cli_fail(rc, errmsg, "rm ais://%s/%s", r->bucket, job->src);
	return rc;
}

/* Pages through the recursive listing of lp and queues one job per object:
 * src = object name, dst = dir/relative path (get) or NULL (rm). Returns the
 * number of objects queued, or -1 after reporting a failure. */
static long long queue_listing(struct rec *r, const char *verb, const char *lp,
			       const char *dir)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_list_page page;
	char *token = NULL;
	long long queued = 0;
	size_t i, lplen = strlen(lp);
	int rc;

	do {
		memset(&page, 0, sizeof(page));
		rc = ais_client_list(r->c, r->bucket, lp, NULL, token, 0, &page,
				     errmsg);
		free(token);
		token = NULL;
		if (rc < 0) {
			cli_fail(rc, errmsg, "%s -r: listing ais://%s/%s", verb,
				 r->bucket, lp);
			return -1;
		}
		for (i = 0; i < page.n && !cli_interrupted; i++) {
			const struct ais_list_entry *e = &page.entries[i];
			struct pool_job job = {.size = e->meta.size};

			if (e->is_prefix || strncmp(e->name, lp, lplen))
				continue;
			/* Never write outside dir, whatever a node sends. */
			if (dir && ais_name_check_object(
				       e->name + lplen, strlen(e->name + lplen),
				       errmsg) < 0) {
				char what[AIS_NAME_MAX + 80];

				snprintf(what, sizeof(what), "get ais://%s/%s",
					 r->bucket, e->name);
				fail_one(r, -EINVAL, errmsg, what);
				continue;
			}
			job.src = strdup(e->name);
			if (dir && asprintf(&job.dst, "%s/%s", dir,
					    e->name + lplen) < 0)
				job.dst = NULL;
			if (!job.src || (dir && !job.dst)) {
				free(job.src);
				free(job.dst);
				ais_list_page_free(&page);
				cli_fail(-ENOMEM, NULL, "%s -r", verb);
				return -1;
			}
			progress_add_total(r->p, 1, e->meta.size);
			if (pool_push(r->pool, job) < 0)
				break;
			queued++;
		}
		if (page.next_token && !cli_interrupted) {
			token = strdup(page.next_token);
			if (!token) {
				ais_list_page_free(&page);
				cli_fail(-ENOMEM, NULL, "%s -r", verb);
				return -1;
			}
		}
		ais_list_page_free(&page);
	} while (token);
	return queued;
}

int rec_get(const char *bucket, const char *prefix, const char *dir,
	    unsigned jobs, bool quiet)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct rec r = {0};
	char *lp, *root;
	long long n;
	size_t len;
	int rc;

	if (prefix[0] && ais_name_check_prefix(prefix, errmsg) < 0)
		return cli_usage("get", "ais://%s/%s: %s", bucket, prefix,
				 errmsg);
	lp = dir_prefix(prefix);
	root = strdup(dir);
	if (!lp || !root) {
		free(lp);
		free(root);
		return cli_fail(-ENOMEM, NULL, "get -r");
	}
	len = strlen(root);
	while (len > 1 && root[len - 1] == '/')
		root[--len] = '\0';
	r.root = root;
	rc = start(&r, "get", bucket, jobs, QUEUE_PER_JOB, quiet, get_one);
	if (rc)
		goto out;
	rc = xfer_mkdir_p(root, errmsg);
	if (rc < 0) {
		cli_fail(rc, errmsg, "get -r %s", root);
		rc = finish(&r, true, true);
		goto out;
	}
	n = queue_listing(&r, "get", lp, root);
	if (n == 0 && !cli_interrupted)
		cli_failf("get -r: no objects under ais://%s/%s", bucket, lp);
	rc = finish(&r, quiet, n <= 0);
out:
	free(lp);
	free(root);
	return rc;
}

int rec_rm(const char *bucket, const char *prefix, unsigned jobs, bool quiet)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct rec r = {0};
	struct ais_obj_meta meta;
	long long n;
	int rc, exact = 0;
	char *lp;

	if (prefix[0] && ais_name_check_prefix(prefix, errmsg) < 0)
		return cli_usage("rm", "ais://%s/%s: %s", bucket, prefix,
				 errmsg);
	lp = dir_prefix(prefix);
	if (!lp)
		return cli_fail(-ENOMEM, NULL, "rm -r");
	rc = start(&r, "rm", bucket, jobs, QUEUE_PER_JOB, quiet, rm_one);
	if (rc)
		goto out;
	/* The object named by the prefix itself, if there is one. */
	if (prefix[0] && prefix[strlen(prefix) - 1] != '/' &&
	    ais_client_head(r.c, bucket, prefix, &meta, NULL) == 0) {
		char *name = strdup(prefix);

		if (name) {
			progress_add_total(r.p, 1, meta.size);
			if (pool_push(r.pool,
				      (struct pool_job){
					  .src = name, .size = meta.size}) == 0)
				exact = 1;
		}
	}
	n = queue_listing(&r, "rm", lp, NULL);
	if (n == 0 && !exact && !cli_interrupted)
		cli_failf("rm -r: no objects under ais://%s/%s", bucket, lp);
	rc = finish(&r, quiet, n < 0 || (n == 0 && !exact));
out:
	free(lp);
	return rc;
}
