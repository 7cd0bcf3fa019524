/* Where objects hit the disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "fileio.h"
#include "hash.h"
#include "util.h"

#include "store/store.h"

#define RENAME_RETRIES 16
/* Objects up to this size are flushed once, bytes and metadata together. */
#define SYNC_UNDER_LOCK_MAX (256 << 10)
#define COPY_BUF	    (256 * 1024)

int store_new(char *const *paths, size_t n, struct store **out, char *errmsg)
{
	struct store *st = calloc(1, sizeof(*st));
	size_t i;
	int rc;

	if (!st)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	rc = mpset_open(paths, n, &st->mps, errmsg);
	if (rc) {
		free(st);
		return rc;
	}
	rc = tombs_open(st->mps->paths, st->mps->n, 0, &st->tombs, errmsg);
	if (rc) {
		mpset_free(st->mps);
		free(st);
		return rc;
	}
	rc = flushers_new(st->mps, &st->flush, errmsg);
	if (rc) {
		tombs_free(st->tombs);
		mpset_free(st->mps);
		free(st);
		return rc;
	}
	st->arr = arrivals_new(0);
	st->blk = blk_cache_new();
	if (!st->arr || !st->blk) {
		flushers_free(st->flush);
		arrivals_free(st->arr);
		blk_cache_free(st->blk);
		tombs_free(st->tombs);
		mpset_free(st->mps);
		free(st);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	for (i = 0; i < STORE_STRIPES; i++)
		pthread_mutex_init(&st->stripes[i], NULL);
	st->verify = true;
	*out = st;
	return 0;
}

void store_free(struct store *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < STORE_STRIPES; i++)
		pthread_mutex_destroy(&st->stripes[i]);
	ocache_free(st->oc);
	flushers_free(st->flush);
	arrivals_free(st->arr);
	blk_cache_free(st->blk);
	tombs_free(st->tombs);
	mpset_free(st->mps);
	free(st);
}

/* The bucket and the name hashed as two parts. */
static uint64_t name_hash(const char *bucket, const char *name)
{
	return ais_hash_str(name, ais_hash_str(bucket, 0));
}

static unsigned stripe_of(const char *bucket, const char *name)
{
	return (unsigned)(name_hash(bucket, name) % STORE_STRIPES);
}

static void lock2(struct store *st, unsigned a, unsigned b)
{
	if (a == b) {
		pthread_mutex_lock(&st->stripes[a]);
		return;
	}
	pthread_mutex_lock(&st->stripes[a < b ? a : b]);
	pthread_mutex_lock(&st->stripes[a < b ? b : a]);
}

/* Drops bucket/name (stripe s) from the open cache: its descriptor to
 * close, or -1. */
static int forget(struct store *st, unsigned s, const char *bucket,
		  const char *name)
{
	struct ocache_key k = {bucket, name, 0, s};

	if (!st->oc)
		return -1;
	k.hash = name_hash(bucket, name);
	return ocache_forget(st->oc, &k);
}

/* Every holder of stripe s, taken for bucket/name, lets go here: the
 * stripe's generation moves (an open cache entry from an open that raced
 * with the change is refused), then the cache forgets the name, before
 * the change is answered (opencache.h). The forgotten descriptor is
 * closed last: the last close of an unlinked file frees its blocks. */
static void stripe_unlock(struct store *st, unsigned s, const char *bucket,
			  const char *name)
{
	int fd;

	atomic_fetch_add_explicit(&st->stripe_gen[s], 1, memory_order_release);
	fd = forget(st, s, bucket, name);
	pthread_mutex_unlock(&st->stripes[s]);
	if (fd >= 0)
		close(fd);
}

/* lock2's end, for names a (stripe sa) and b (stripe sb) of bucket. */
static void unlock2(struct store *st, unsigned sa, unsigned sb,
		    const char *bucket, const char *a, const char *b)
{
	int fd;

	atomic_fetch_add_explicit(&st->stripe_gen[sb], 1, memory_order_release);
	fd = forget(st, sb, bucket, b);
	stripe_unlock(st, sa, bucket, a);
	if (sa != sb)
		stripe_unlock(st, sb, bucket, b);
	if (fd >= 0)
		close(fd);
}

void store_lock(struct store *st, const char *bucket, const char *name)
{
	pthread_mutex_lock(&st->stripes[stripe_of(bucket, name)]);
}

void store_unlock(struct store *st, const char *bucket, const char *name)
{
	stripe_unlock(st, stripe_of(bucket, name), bucket, name);
}

int store_open_cache(struct store *st, size_t cap)
{
	ocache_free(st->oc);
	st->oc = NULL;
	return ocache_new(cap, st->stripe_gen, &st->all_gen, &st->oc);
}

size_t store_open_cache_sweep(struct store *st)
{
	return ocache_sweep(st->oc);
}

bool store_bucket_exists(struct store *st, const char *bucket)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	struct stat sb;
	size_t i;

	for (i = 0; i < mps->n; i++) {
		mpset_bucket_path(mps, (int)i, bucket, path);
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			return true;
	}
	return false;
}

static int no_object(struct store *st, const char *bucket, const char *name,
		     char *errmsg)
{
	if (!store_bucket_exists(st, bucket))
		return ais_errf(errmsg, -ENOENT, "bucket %s does not exist",
				bucket);
	return ais_errf(errmsg, -ENOENT, "%s/%s: no such object", bucket, name);
}

int store_find(struct store *st, const char *bucket, const char *name,
	       char *path, int *mp, char *errmsg)
{
	struct mpset *mps = st->mps;
	int order[mps->n];
	struct stat sb;
	size_t i;

	mpset_order(mps, bucket, name, order);
	for (i = 0; i < mps->n; i++) {
		mpset_obj_path(mps, order[i], bucket, name, path);
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (mp)
				*mp = order[i];
			return 0;
		}
	}
	return errmsg ? no_object(st, bucket, name, errmsg) : -ENOENT;
}

static bool has_type(struct store *st, const char *bucket, const char *name,
		     mode_t type)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	struct stat sb;
	size_t i;

	for (i = 0; i < mps->n; i++) {
		mpset_obj_path(mps, (int)i, bucket, name, path);
		if (lstat(path, &sb) == 0 && (sb.st_mode & S_IFMT) == type)
			return true;
	}
	return false;
}

bool store_has_dir(struct store *st, const char *bucket, const char *prefix)
{
	return has_type(st, bucket, prefix, S_IFDIR);
}

bool store_dir_nonempty(struct store *st, const char *bucket, const char *name)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	struct dirent *de;
	bool any = false;
	size_t i;
	DIR *d;

	for (i = 0; i < mps->n && !any; i++) {
		mpset_obj_path(mps, (int)i, bucket, name, path);
		d = opendir(path);
		if (!d)
			continue;
		while (!any && (de = readdir(d)))
			any =
			    strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
		closedir(d);
	}
	return any;
}

bool store_has_object(struct store *st, const char *bucket, const char *name)
{
	return has_type(st, bucket, name, S_IFREG);
}

/* Walks the parent directories of name on mountpath mp ("a" and "a/b" for
 * "a/b/c"), creating them if create is set. Returns 0, -ENOTDIR (with a
 * message) when one of them is an object, or -errno if one cannot be made.
 */
static int walk_parents(const struct mpset *mps, int mp, const char *bucket,
			const char *name, bool create, char *errmsg)
{
	char path[AISD_PATH_MAX];
	struct stat sb;
	size_t base;
	char *p;

	mpset_obj_path(mps, mp, bucket, name, path);
	base = strlen(path) - strlen(name);
	for (p = path + base; (p = strchr(p, '/')); p++) {
		*p = 0;
		if (create && mkdir(path, 0755) == 0) {
			*p = '/';
			continue;
		}
		if (create && errno != EEXIST)
			return ais_errf(errmsg, -errno, "cannot create %s: %s",
					path, strerror(errno));
		if (lstat(path, &sb) == 0 && !S_ISDIR(sb.st_mode))
			return ais_errf(errmsg, -ENOTDIR,
					"cannot create %s: object %s exists",
					name, path + base);
		*p = '/';
	}
	return 0;
}

/* With the object name "a/b/c": is one of "a", "a/b" a file (-ENOTDIR), or
 * "a/b/c" a directory with objects under it (-EISDIR), on any mountpath? */
static int check_conflict(struct store *st, const char *bucket,
			  const char *name, char *errmsg)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	struct stat sb;
	size_t i;
	int rc;

	for (i = 0; i < mps->n; i++) {
		mpset_obj_path(mps, (int)i, bucket, name, path);
		if (lstat(path, &sb) == 0) {
			/* An empty directory (left by a race with DELETE)
			 * is no conflict: remove it. */
			if (S_ISDIR(sb.st_mode) && rmdir(path) < 0)
				return ais_errf(errmsg, -EISDIR,
						"%s is a directory (objects "
						"exist under %s/)",
						name, name);
			continue;
		}
		if (errno != ENOTDIR)
			continue;
		rc = walk_parents(mps, (int)i, bucket, name, false, errmsg);
		if (rc)
			return rc;
	}
	return 0;
}

/* mkdir -p of the bucket directory and name's parents on mountpath mp. */
static int make_parents(struct store *st, int mp, const char *bucket,
			const char *name, char *errmsg)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];

	mpset_bucket_path(mps, mp, bucket, path);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return ais_errf(errmsg, -errno, "cannot create %s: %s", path,
				strerror(errno));
	return walk_parents(mps, mp, bucket, name, true, errmsg);
}

/* Removes the now-empty parent directories of name up to the bucket. */
static void prune_parents(struct store *st, int mp, const char *bucket,
			  const char *name)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	size_t base;
	char *slash;

	mpset_obj_path(mps, mp, bucket, name, path);
	base = strlen(path) - strlen(name);
	while ((slash = strrchr(path + base, '/'))) {
		*slash = 0;
		if (rmdir(path) < 0)
			break;
	}
}

/* Moves the file tmp to name on mountpath mp, creating parents and
 * retrying when a concurrent DELETE removed an empty parent meanwhile. */
static int move_into_place(struct store *st, int mp, const char *bucket,
			   const char *name, const char *tmp, char *dest,
			   char *errmsg)
{
	struct mpset *mps = st->mps;
	int i, rc;

	mpset_obj_path(mps, mp, bucket, name, dest);
	blk_forget(mps, st->blk, dest); /* the version it replaces */
	/* The parents usually exist (an ingest fills a directory): the
	 * rename is tried first, the mkdir -p only when it says ENOENT. */
	for (i = 0; i < RENAME_RETRIES; i++) {
		if (i) {
			rc = make_parents(st, mp, bucket, name, errmsg);
			if (rc)
				return rc;
		}
		if (rename(tmp, dest) == 0)
			return 0;
		rc = -errno;
		if (rc == -ENOENT)
			continue;
		if (rc == -EISDIR || rc == -ENOTEMPTY || rc == -EEXIST)
			return ais_errf(errmsg, -EISDIR,
					"%s is a directory (objects exist "
					"under %s/)",
					name, name);
		if (rc == -ENOTDIR)
			return check_conflict(st, bucket, name, errmsg)
				   ?: ais_errf(errmsg, rc,
					       "cannot create %s: %s", name,
					       strerror(-rc));
		return ais_errf(errmsg, rc, "rename to %s: %s", dest,
				strerror(-rc));
	}
	return ais_errf(errmsg, -EAGAIN,
			"%s: parent directories keep disappearing", name);
}

/* Unlinks copies of name on mountpaths other than keep_mp (left over from a
 * different mountpath list). */
static void unlink_others(struct store *st, int keep_mp, const char *bucket,
			  const char *name)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	struct stat sb;
	size_t i;

	for (i = 0; i < mps->n; i++) {
		if ((int)i == keep_mp)
			continue;
		mpset_obj_path(mps, (int)i, bucket, name, path);
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		/* A listing may have scanned the new copy's mountpath
		 * before it arrived and will scan this one after. */
		arrivals_departed(st->arr);
		blk_forget(mps, st->blk, path);
		if (unlink(path) == 0)
			prune_parents(st, (int)i, bucket, name);
	}
}

/* The version of the object now stored under name, or 0 if there is none;
 * *written its written_ns (0 if none). */
static uint64_t current_version(struct store *st, const char *bucket,
				const char *name, int64_t *written)
{
	char path[AISD_PATH_MAX];
	struct ais_obj_meta m;

	*written = 0;
	if (store_find(st, bucket, name, path, NULL, NULL))
		return 0;
	if (objmeta_read_path(path, &m))
		return 1;
	*written = m.written_ns;
	return m.version ? m.version : 1;
}

/* A commit time later than the replaced copy's, even if the clock stepped
 * back: of two copies the later write must win. */
static int64_t commit_time(int64_t old_written)
{
	int64_t now = ais_now_real_ns();

	return now > old_written ? now : old_written + 1;
}

int store_meta_path(const char *path, struct ais_obj_meta *m)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return -ENOENT;
	if (objmeta_read_path(path, m))
		objmeta_from_stat(&sb, m);
	m->size = (uint64_t)sb.st_size;
	return 0;
}

/* The rule of a migrate copy, under the name's lock: -EALREADY if a copy
 * here is as new or newer, or the name was deleted here since. */
static int migrate_refused(struct store *st, const char *bucket,
			   const char *name, int64_t written, bool repair,
			   char *errmsg)
{
	char path[AISD_PATH_MAX];
	struct ais_obj_meta m;
	int64_t tomb;

	if (store_find(st, bucket, name, path, NULL, NULL) == 0 &&
	    store_meta_path(path, &m) == 0 &&
	    (m.written_ns > written || (m.written_ns == written && !repair)))
		return ais_errf(errmsg, -EALREADY,
				"%s/%s: have a newer copy (written %lld >= "
				"%lld)",
				bucket, name, (long long)m.written_ns,
				(long long)written);
	tomb = tombs_get(st->tombs, bucket, name);
	if (tomb && tomb >= written)
		return ais_errf(errmsg, -EALREADY,
				"%s/%s: deleted here (at %lld, copy written "
				"%lld)",
				bucket, name, (long long)tomb,
				(long long)written);
	return 0;
}

static int disk_err(char *errmsg, int rc, const char *what, const char *mp)
{
	if (rc == -ENOSPC)
		return ais_errf(errmsg, rc, "no space left on mountpath %s",
				mp);
	return ais_errf(errmsg, rc, "%s on mountpath %s: %s", what, mp,
			strerror(-rc));
}

int store_put_begin(struct store *st, const struct store_put_args *a,
		    struct store_put *p, char *errmsg)
{
	struct store_put_args ma;
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	int order[mps->n];
	int rc, type;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (a->migrate) {
		/* Refused before the body when it is clear already (checked
		 * again under the lock at commit). */
		rc = migrate_refused(st, a->bucket, a->name,
				     a->migrate->written_ns, a->repair, errmsg);
		if (rc)
			return rc;
		ma = *a;
		ma.cksum_type = a->migrate->cksum_type;
		ma.cksum_value = a->migrate->cksum;
		ma.no_overwrite = false;
		a = &ma;
	}
	type = a->cksum_type ? a->cksum_type : AIS_CKSUM_XXH3;
	if (!ais_cksum_name(type) || ais_cksum_parse(ais_cksum_name(type)) < 0)
		return ais_errf(errmsg, -EINVAL, "unknown checksum type %d",
				a->cksum_type);
	if (!store_bucket_exists(st, a->bucket))
		return ais_errf(errmsg, -ENOENT, "bucket %s does not exist",
				a->bucket);
	rc = check_conflict(st, a->bucket, a->name, errmsg);
	if (rc)
		return rc;
	if (a->no_overwrite &&
	    store_find(st, a->bucket, a->name, path, NULL, NULL) == 0)
		return ais_errf(errmsg, -EEXIST, "%s/%s already exists",
				a->bucket, a->name);
	mpset_order(mps, a->bucket, a->name, order);
	p->st = st;
	p->a = *a;
	p->a.cksum_type = type;
	p->mp = order[0];
	rc = ais_cksum_init(&p->ck, type);
	if (rc)
		return ais_errf(errmsg, rc, "checksum %s: %s",
				ais_cksum_name(type), strerror(-rc));
	rc = blk_writer_init(&p->blk);
	if (rc) {
		ais_cksum_abort(&p->ck);
		return ais_errf(errmsg, rc, "out of memory");
	}
	if (a->ext_len > AIS_OBJ_EXT_MAX)
		rc = ais_errf(errmsg, -E2BIG,
			      "object's S3 metadata over %d bytes",
			      AIS_OBJ_EXT_MAX);
	else if (a->want_md5 &&
		 (rc = ais_cksum_init(&p->md5, AIS_CKSUM_MD5)) != 0)
		ais_errf(errmsg, rc, "MD5: %s", strerror(-rc));
	if (rc) {
		ais_cksum_abort(&p->ck);
		blk_writer_free(&p->blk);
		return rc;
	}
	p->flush_mark = flushers_mark(st->flush, p->mp);
	mpset_tmp_path(mps, p->mp, "put", p->tmp);
	p->fd = open(p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (p->fd < 0) {
		rc = -errno;
		ais_cksum_abort(&p->ck);
		blk_writer_free(&p->blk);
		return disk_err(errmsg, rc, "cannot create a work file",
				mps->paths[p->mp]);
	}
	return 0;
}

int store_put_write(struct store_put *p, const void *buf, size_t len,
		    char *errmsg)
{
	int rc = ais_write_all(p->fd, buf, len);

	if (rc)
		return disk_err(errmsg, rc, "write", p->st->mps->paths[p->mp]);
	ais_cksum_update(&p->ck, buf, len);
	if (p->a.want_md5)
		ais_cksum_update(&p->md5, buf, len);
	blk_writer_update(&p->blk, buf, len);
	p->size += len;
	return 0;
}

void store_put_abort(struct store_put *p)
{
	ais_cksum_abort(&p->ck);
	ais_cksum_abort(&p->md5);
	free(p->ext);
	p->ext = NULL;
	blk_writer_free(&p->blk);
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
		unlink(p->tmp);
	}
}

/* What p's ext xattr holds: the args' ObjExt, with the MD5 of the bytes
 * as its etag when asked (checked against content_md5 first). */
static int put_ext(struct store_put *p, char *errmsg)
{
	char md5[AIS_CKSUM_HEX_MAX];
	long n;

	if (!p->a.want_md5 && !p->a.ext_len)
		return 0;
	p->ext = malloc(AIS_OBJ_EXT_MAX);
	if (!p->ext)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	if (!p->a.want_md5) {
		memcpy(p->ext, p->a.ext, p->a.ext_len);
		p->ext_len = p->a.ext_len;
		return 0;
	}
	ais_cksum_final(&p->md5, md5);
	snprintf(p->md5hex, sizeof(p->md5hex), "%s", md5);
	if (p->a.content_md5 && p->a.content_md5[0] &&
	    strcasecmp(p->a.content_md5, md5))
		return ais_errf(errmsg, -EBADMSG,
				"Content-MD5 mismatch: expected %s, the body "
				"has %s",
				p->a.content_md5, md5);
	n = ais_obj_ext_with_etag(p->a.ext, p->a.ext_len, md5, p->ext);
	if (n < 0)
		return ais_errf(errmsg, (int)n, "object's S3 metadata: %s",
				strerror((int)-n));
	p->ext_len = (size_t)n;
	return 0;
}

/* The checksum of p's bytes into hex, checked against what the PUT
 * claimed (its size and checksum). */
static int put_verify(struct store_put *p, char *hex, char *errmsg)
{
	ais_cksum_final(&p->ck, hex);
	if (p->a.migrate && p->a.migrate->size != p->size)
		return ais_errf(errmsg, -EBADMSG,
				"size mismatch: metadata says %llu, body has "
				"%llu",
				(unsigned long long)p->a.migrate->size,
				(unsigned long long)p->size);
	if (p->a.cksum_value && p->a.cksum_value[0] &&
	    strcasecmp(p->a.cksum_value, hex))
		return ais_errf(errmsg, -EBADMSG,
				"checksum mismatch: expected %s, got %s (%s)",
				p->a.cksum_value, hex,
				ais_cksum_name(p->a.cksum_type));
	return put_ext(p, errmsg);
}

/* p's metadata but its version and commit time. */
static void put_meta(const struct store_put *p, const char *hex,
		     struct ais_obj_meta *m)
{
	memset(m, 0, sizeof(*m));
	if (p->a.migrate)
		*m = *p->a.migrate;
	m->size = p->size;
	m->cksum_type = p->a.cksum_type;
	snprintf(m->cksum, sizeof(m->cksum), "%s", hex);
	if (!p->a.migrate) {
		m->mtime_ns = p->a.mtime_ns; /* 0: put_times makes it */
		m->atime_ns = p->a.atime_ns;
		m->mode = p->a.mode;
		m->uid = p->a.uid;
		m->gid = p->a.gid;
		m->owned = p->a.owned;
	}
}

/* A client's write, committed at m->written_ns: its change time, and its
 * modification time when the client gave none (one clock reading for
 * both, so that they are equal then, as on a local file system). */
static void put_times(struct ais_obj_meta *m, const struct store_put_args *a)
{
	m->ctime_ns = m->written_ns;
	if (!a->mtime_ns)
		m->mtime_ns = m->written_ns;
	if (!a->atime_ns)
		m->atime_ns = m->mtime_ns;
}

/* The version a client's PUT of a's name takes (the one after the object
 * stored here) into *version, and the commit time it must come after
 * into *after. -EEXIST with no_overwrite when an object is stored. */
static int next_version(struct store *st, const struct store_put_args *a,
			uint64_t *version, int64_t *after, char *errmsg)
{
	uint64_t old = current_version(st, a->bucket, a->name, after);

	if (old && a->no_overwrite)
		return ais_errf(errmsg, -EEXIST, "%s/%s already exists",
				a->bucket, a->name);
	*version = old + 1;
	return 0;
}

/* m and p's block checksums into p's file's xattrs (or sidecar). */
static int write_meta(struct store_put *p, const struct ais_obj_meta *m,
		      char *errmsg)
{
	struct store *st = p->st;
	int rc = objmeta_write_fd(p->fd, m);

	if (!rc)
		rc = objext_write_fd(p->fd, p->ext, p->ext_len);
	if (!rc)
		rc = blk_store(st->mps, st->blk, &p->blk, p->fd, m, errmsg);
	return rc ? disk_err(errmsg, rc, "set xattr", st->mps->paths[p->mp])
		  : 0;
}

int store_put_commit(struct store_put *p, struct ais_obj_meta *out,
		     char *errmsg)
{
	struct store *st = p->st;
	const struct mpset *mps = st->mps;
	const char *mpath = mps->paths[p->mp];
	char hex[AIS_CKSUM_HEX_MAX], dest[AISD_PATH_MAX];
	struct ais_obj_meta m;
	int64_t after;
	unsigned s;
	int rc;

	rc = put_verify(p, hex, errmsg);
	if (rc)
		goto err;
	/* A small object's bytes and metadata reach the disk in one flush,
	 * below (under the stripe lock: 1 in STORE_STRIPES names waits for
	 * it); a big one's bytes first, here, so that the lock is held only
	 * while its metadata is flushed. */
	if (p->size > SYNC_UNDER_LOCK_MAX && fsync(p->fd) < 0) {
		rc = disk_err(errmsg, -errno, "fsync", mpath);
		goto err;
	}
	put_meta(p, hex, &m);

	s = stripe_of(p->a.bucket, p->a.name);
	pthread_mutex_lock(&st->stripes[s]);
	if (p->a.migrate) {
		rc = migrate_refused(st, p->a.bucket, p->a.name, m.written_ns,
				     p->a.repair, errmsg);
		if (rc)
			goto err_unlock;
	} else {
		rc = next_version(st, &p->a, &m.version, &after, errmsg);
		if (rc)
			goto err_unlock;
		m.written_ns = commit_time(after);
		put_times(&m, &p->a);
	}
	rc = write_meta(p, &m, errmsg);
	if (rc)
		goto err_unlock;
	if (fsync(p->fd) < 0) {
		rc = disk_err(errmsg, -errno, "fsync", mpath);
		goto err_unlock;
	}
	rc = move_into_place(st, p->mp, p->a.bucket, p->a.name, p->tmp, dest,
			     errmsg);
	if (rc)
		goto err_unlock;
	/* Numbered once visible, before an older copy elsewhere goes. */
	arrivals_note(st->arr, p->a.bucket, p->a.name);
	if (mps->n > 1)
		unlink_others(st, p->mp, p->a.bucket, p->a.name);
	stripe_unlock(st, s, p->a.bucket, p->a.name);
	close(p->fd);
	p->fd = -1;
	blk_writer_free(&p->blk);
	free(p->ext);
	p->ext = NULL;
	rc = ais_fsync_parent(dest);
	if (rc)
		return disk_err(errmsg, rc, "fsync of the directory", mpath);
	*out = m;
	return 0;
err_unlock:
	stripe_unlock(st, s, p->a.bucket, p->a.name);
err:
	store_put_abort(p);
	return rc;
}

int store_put_stage(struct store_put *p, struct store_staged *out, char *errmsg)
{
	struct store *st = p->st;
	const char *mpath = st->mps->paths[p->mp];
	struct ais_obj_meta *m = &out->m;
	char hex[AIS_CKSUM_HEX_MAX];
	int64_t after;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = put_verify(p, hex, errmsg);
	if (rc)
		goto err;
	put_meta(p, hex, m);
	/* Read without the name's lock: store_put_publish checks it again
	 * under it. */
	rc = next_version(st, &p->a, &m->version, &after, errmsg);
	if (rc)
		goto err;
	m->written_ns = commit_time(after);
	put_times(m, &p->a);
	rc = write_meta(p, m, errmsg);
	if (rc)
		goto err;
	out->tmp = strdup(p->tmp);
	if (!out->tmp) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto err;
	}
	rc = close(p->fd) < 0 ? -errno : 0;
	p->fd = -1;
	if (rc) {
		unlink(p->tmp);
		free(out->tmp);
		out->tmp = NULL;
		rc = disk_err(errmsg, rc, "close", mpath);
		goto err;
	}
	out->st = st;
	out->a = p->a;
	out->mp = p->mp;
	out->flush_mark = p->flush_mark;
	ais_cksum_abort(&p->ck);
	ais_cksum_abort(&p->md5);
	free(p->ext);
	p->ext = NULL;
	blk_writer_free(&p->blk);
	return 0;
err:
	store_put_abort(p);
	return rc;
}

void store_staged_drop(struct store_staged *s)
{
	if (!s->tmp)
		return;
	unlink(s->tmp);
	free(s->tmp);
	s->tmp = NULL;
}

/* Another PUT of s's name committed (or the name was deleted) between
 * its stage and its publish: s->m, now after that one, replaces the
 * metadata of the staged file, flushed on its own. */
static int restage(struct store_staged *s, char *errmsg)
{
	const char *mpath = s->st->mps->paths[s->mp];
	int fd = open(s->tmp, O_WRONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return disk_err(errmsg, -errno, "reopen of a staged file",
				mpath);
	rc = objmeta_write_fd(fd, &s->m);
	if (rc)
		rc = disk_err(errmsg, rc, "set xattr", mpath);
	else if (fsync(fd) < 0)
		rc = disk_err(errmsg, -errno, "fsync", mpath);
	close(fd);
	return rc;
}

int store_put_publish(struct store_staged *sp, char *errmsg)
{
	struct store *st = sp->st;
	const struct mpset *mps = st->mps;
	struct ais_obj_meta *m = &sp->m;
	char dest[AISD_PATH_MAX];
	int64_t after, tomb;
	uint64_t version = 0;
	unsigned s;
	int rc;

	s = stripe_of(sp->a.bucket, sp->a.name);
	pthread_mutex_lock(&st->stripes[s]);
	rc = next_version(st, &sp->a, &version, &after, errmsg);
	if (rc)
		goto err_unlock;
	/* A DELETE since the stage left a tombstone that a copy must not
	 * find newer than this PUT. */
	tomb = tombs_get(st->tombs, sp->a.bucket, sp->a.name);
	if (tomb > after)
		after = tomb;
	if (version != m->version || after >= m->written_ns) {
		m->version = version;
		m->written_ns = commit_time(after);
		put_times(m, &sp->a);
		rc = restage(sp, errmsg);
		if (rc)
			goto err_unlock;
	}
	sp->flush_mark = flushers_mark(st->flush, sp->mp);
	rc = move_into_place(st, sp->mp, sp->a.bucket, sp->a.name, sp->tmp,
			     dest, errmsg);
	if (rc)
		goto err_unlock;
	free(sp->tmp);
	sp->tmp = NULL;
	arrivals_note(st->arr, sp->a.bucket, sp->a.name);
	if (mps->n > 1)
		unlink_others(st, sp->mp, sp->a.bucket, sp->a.name);
	stripe_unlock(st, s, sp->a.bucket, sp->a.name);
	return 0;
err_unlock:
	stripe_unlock(st, s, sp->a.bucket, sp->a.name);
	store_staged_drop(sp);
	return rc;
}

int store_flush(struct store *st, int mp, uint64_t mark, char *errmsg)
{
	return flushers_sync(st->flush, mp, mark, errmsg);
}

int store_flush_domain(const struct store *st, int mp)
{
	return flushers_domain(st->flush, mp);
}

int store_open(struct store *st, const char *bucket, const char *name, int *fdp,
	       struct ais_obj_meta *m, char *errmsg)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	int order[mps->n];
	struct stat sb;
	size_t i;
	int fd, rc;

	mpset_order(mps, bucket, name, order);
	for (i = 0; i < mps->n; i++) {
		mpset_obj_path(mps, order[i], bucket, name, path);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR ||
			    errno == ELOOP)
				continue;
			return ais_errf(errmsg, -errno, "open %s: %s", path,
					strerror(errno));
		}
		if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			close(fd);
			continue;
		}
		rc = objmeta_read_fd(fd, m);
		if (rc) {
			objmeta_from_stat(&sb, m);
		}
		m->size = (uint64_t)sb.st_size;
		*fdp = fd;
		return 0;
	}
	return no_object(st, bucket, name, errmsg);
}

int store_head(struct store *st, const char *bucket, const char *name,
	       struct ais_obj_meta *m, char *errmsg)
{
	int fd, rc = store_open(st, bucket, name, &fd, m, errmsg);

	if (!rc)
		close(fd);
	return rc;
}

/* open(2) of path that fails with -EAGAIN unless every component is in
 * the kernel's lookup cache, so that it never waits for the disk. */
static int open_cached(struct store *st, const char *path)
{
	struct open_how how = {
	    /* O_NONBLOCK: a FIFO put there by hand must not stall the
	     * loop (regular files ignore it). */
	    .flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
	    .resolve = RESOLVE_CACHED,
	};
	long fd;

	if (atomic_load_explicit(&st->no_cached_open, memory_order_relaxed))
		return -EAGAIN;
	fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EINVAL)) {
		atomic_store_explicit(&st->no_cached_open, true,
				      memory_order_relaxed);
		return -EAGAIN;
	}
	return fd < 0 ? -errno : (int)fd;
}

void store_open_done(struct store *st, int fd, int32_t lent)
{
	if (lent >= 0)
		ocache_done(st->oc, lent);
	else
		close(fd);
}

int store_open_nowait(struct store *st, const char *bucket, const char *name,
		      int *fdp, int *mpp, struct ais_obj_meta *m, int32_t *lent)
{
	return store_open_nowait_ext(st, bucket, name, fdp, mpp, m, lent, NULL,
				     0, NULL);
}

int store_open_nowait_ext(struct store *st, const char *bucket,
			  const char *name, int *fdp, int *mpp,
			  struct ais_obj_meta *m, int32_t *lent, uint8_t *ext,
			  size_t cap, size_t *ext_len)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	int order[mps->n];
	struct ocache_key k = {bucket, name, 0, 0};
	struct ocache_gen g;
	size_t i;
	int fd, xl = -1;

	if (st->oc) {
		k.hash = name_hash(bucket, name);
		k.stripe = (unsigned)(k.hash % STORE_STRIPES);
		if (!ocache_get_ext(st->oc, &k, fdp, mpp, m, lent,
				    ext_len ? ext : NULL,
				    ext_len ? &xl : NULL)) {
			long n;

			if (!ext_len || xl >= 0) {
				if (ext_len)
					*ext_len = (size_t)xl;
				return 0;
			}
			n = objext_read_fd(*fdp, ext, cap);
			if (n < 0) {
				ocache_done(st->oc, *lent);
				return -EAGAIN;
			}
			ocache_set_ext(st->oc, *lent, ext, (size_t)n);
			*ext_len = (size_t)n;
			return 0;
		}
	}
	*lent = -1;
	/* Read before the open: a change after it is seen at the next GET. */
	g = ocache_gen_now(st->oc, &k);
	mpset_order(mps, bucket, name, order);
	for (i = 0; i < mps->n; i++) {
		mpset_obj_path(mps, order[i], bucket, name, path);
		fd = open_cached(st, path);
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
			continue;
		if (fd < 0)
			return -EAGAIN; /* not cached, or an error to word */
		/* The inode is in memory now, and so is a small in-inode
		 * xattr. Only objects have one (not directories, nor files
		 * put there by hand), and its size is the file's: a PUT
		 * writes it before the rename, an append under its journal.
		 * No fstat(2) then: one system call less per GET. */
		if (objmeta_read_fd(fd, m)) {
			close(fd);
			return -EAGAIN;
		}
		if (ext_len) {
			long n = objext_read_fd(fd, ext, cap);

			if (n < 0) {
				close(fd);
				return -EAGAIN;
			}
			*ext_len = (size_t)n;
		}
		*fdp = fd;
		*mpp = order[i];
		ocache_put(st->oc, &k, g, fd, order[i], m);
		return 0;
	}
	return -EAGAIN; /* no object: a worker says so in words */
}

int store_delete(struct store *st, const char *bucket, const char *name,
		 char *errmsg)
{
	return store_delete_tomb(st, bucket, name, 0, errmsg);
}

int store_delete_tomb(struct store *st, const char *bucket, const char *name,
		      int64_t tomb_ns, char *errmsg)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	unsigned s = stripe_of(bucket, name);
	struct stat sb;
	int found = 0;
	size_t i;

	pthread_mutex_lock(&st->stripes[s]);
	if (tomb_ns) {
		int rc = tombs_add(st->tombs, bucket, name, tomb_ns);

		if (rc) {
			stripe_unlock(st, s, bucket, name);
			return ais_errf(errmsg, rc,
					"cannot record the delete of %s/%s "
					"(tombstone on %s): %s",
					bucket, name, mps->paths[0],
					strerror(-rc));
		}
	}
	for (i = 0; i < mps->n; i++) {
		mpset_obj_path(mps, (int)i, bucket, name, path);
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		blk_forget(mps, st->blk, path);
		if (unlink(path) < 0) {
			int rc = -errno;

			stripe_unlock(st, s, bucket, name);
			return ais_errf(errmsg, rc, "unlink %s: %s", path,
					strerror(-rc));
		}
		found = 1;
		prune_parents(st, (int)i, bucket, name);
	}
	stripe_unlock(st, s, bucket, name);
	if (!found)
		return no_object(st, bucket, name, errmsg);
	return 0;
}

/* Copies src (open) into a new tmp file on mountpath mp with meta m. */
static int copy_to_tmp(struct store *st, int mp, int src,
		       const struct ais_obj_meta *m, char *tmp, char *errmsg)
{
	struct mpset *mps = st->mps;
	char *buf = NULL;
	ssize_t n;
	int fd, rc = 0;
	loff_t off_in = 0;

	mpset_tmp_path(mps, mp, "rename", tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return disk_err(errmsg, -errno, "cannot create a work file",
				mps->paths[mp]);
	for (;;) {
		n = copy_file_range(src, &off_in, fd, NULL, 1u << 30, 0);
		if (n > 0)
			continue;
		if (n == 0)
			break;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP) {
			rc = -errno;
			goto out;
		}
		/* No copy offload between these file systems: copy with a
		 * fixed buffer. */
		buf = malloc(COPY_BUF);
		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
		while ((n = pread(src, buf, COPY_BUF, off_in)) > 0) {
			rc = ais_write_all(fd, buf, (size_t)n);
			if (rc)
				goto out;
			off_in += n;
		}
		if (n < 0)
			rc = -errno;
		break;
	}
	if (!rc)
		rc = objmeta_write_fd(fd, m);
	if (!rc)
		rc = objext_copy_fd(src, fd);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
out:
	free(buf);
	close(fd);
	if (rc) {
		unlink(tmp);
		return disk_err(errmsg, rc, "copy", mps->paths[mp]);
	}
	return 0;
}

int store_rename(struct store *st, const char *bucket, const char *name,
		 const char *new_name, bool no_overwrite,
		 struct ais_obj_meta *out, char *errmsg)
{
	struct mpset *mps = st->mps;
	char src[AISD_PATH_MAX], dst[AISD_PATH_MAX], tmp[AISD_PATH_MAX];
	unsigned s1 = stripe_of(bucket, name), s2 = stripe_of(bucket, new_name);
	int order[mps->n];
	struct ais_obj_meta m;
	struct stat sb;
	int64_t old_written;
	uint64_t old;
	int src_mp, fd, rc;

	if (!strcmp(name, new_name))
		return store_head(st, bucket, name, out, errmsg);
	rc = check_conflict(st, bucket, new_name, errmsg);
	if (rc)
		return rc;
	mpset_order(mps, bucket, new_name, order);
	lock2(st, s1, s2);
	if (store_find(st, bucket, name, src, &src_mp, NULL)) {
		rc = no_object(st, bucket, name, errmsg);
		goto out;
	}
	old = current_version(st, bucket, new_name, &old_written);
	if (old && no_overwrite) {
		rc = ais_errf(errmsg, -EEXIST, "%s/%s already exists", bucket,
			      new_name);
		goto out;
	}
	fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		rc = ais_errf(errmsg, -errno, "open %s: %s", src,
			      strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (objmeta_read_fd(fd, &m))
		objmeta_from_stat(&sb, &m);
	m.size = (uint64_t)sb.st_size;
	if (old && m.version <= old)
		m.version = old + 1;
	/* The new name is a new write: it wins over any older copy of it. */
	m.written_ns = commit_time(old_written > m.written_ns ? old_written
							      : m.written_ns);
	m.ctime_ns = m.written_ns; /* a rename changes its inode's ctime */
	if (src_mp == order[0]) {
		close(fd);
		rc = objmeta_write_path(src, &m);
		if (rc) {
			rc = disk_err(errmsg, rc, "set xattr",
				      mps->paths[src_mp]);
			goto out;
		}
		rc = move_into_place(st, src_mp, bucket, new_name, src, dst,
				     errmsg);
		if (rc)
			goto out;
	} else {
		rc = copy_to_tmp(st, order[0], fd, &m, tmp, errmsg);
		close(fd);
		if (rc)
			goto out;
		rc = move_into_place(st, order[0], bucket, new_name, tmp, dst,
				     errmsg);
		if (rc) {
			unlink(tmp);
			goto out;
		}
		unlink(src);
	}
	prune_parents(st, src_mp, bucket, name);
	arrivals_note(st->arr, bucket, new_name);
	unlink_others(st, order[0], bucket, new_name);
	ais_fsync_parent(dst);
	ais_fsync_parent(src);
	*out = m;
out:
	unlock2(st, s1, s2, bucket, name, new_name);
	return rc;
}

int store_set_meta(struct store *st, const char *bucket, const char *name,
		   const struct store_meta_set *c, struct ais_obj_meta *m,
		   char *errmsg)
{
	char path[AISD_PATH_MAX];
	unsigned s = stripe_of(bucket, name);
	struct stat sb;
	int64_t now;
	int fd, rc = 0;

	pthread_mutex_lock(&st->stripes[s]);
	if (store_find(st, bucket, name, path, NULL, NULL)) {
		rc = no_object(st, bucket, name, errmsg);
		goto out;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		rc = ais_errf(errmsg, -errno, "open %s: %s", path,
			      strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (objmeta_read_fd(fd, m))
		objmeta_from_stat(&sb, m);
	m->size = (uint64_t)sb.st_size;
	now = ais_now_real_ns();
	if (c->set_mode)
		m->mode = c->mode;
	if (c->set_mtime)
		m->mtime_ns = c->mtime_ns ? c->mtime_ns : now;
	if (c->set_atime)
		m->atime_ns = c->atime_ns ? c->atime_ns : now;
	if (c->set_owner) {
		m->uid = c->uid;
		m->gid = c->gid;
		m->owned = true;
	}
	m->ctime_ns = c->ctime_ns ? c->ctime_ns : now;
	rc = objmeta_write_fd(fd, m);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc)
		rc = ais_errf(errmsg, rc, "set xattr on %s: %s", path,
			      strerror(-rc));
out:
	stripe_unlock(st, s, bucket, name);
	return rc;
}

/* The same copy of an object: what a mover read is still what is there. */
static bool same_copy(const struct ais_obj_meta *a,
		      const struct ais_obj_meta *b)
{
	return a->written_ns == b->written_ns && a->version == b->version &&
	       a->size == b->size && a->mtime_ns == b->mtime_ns;
}

int store_delete_if_same(struct store *st, const char *bucket, const char *name,
			 int mp, const struct ais_obj_meta *m, char *errmsg)
{
	char path[AISD_PATH_MAX];
	unsigned s = stripe_of(bucket, name);
	struct ais_obj_meta now;
	int rc;

	mpset_obj_path(st->mps, mp, bucket, name, path);
	pthread_mutex_lock(&st->stripes[s]);
	rc = store_meta_path(path, &now);
	if (rc == -ENOENT || rc == -ENOTDIR) {
		rc = -ENOENT;
		goto out;
	}
	if (rc) {
		rc = ais_errf(errmsg, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!same_copy(&now, m)) {
		rc = ais_errf(errmsg, -ESTALE,
			      "%s/%s changed while it was copied: kept", bucket,
			      name);
		goto out;
	}
	arrivals_departed(st->arr); /* before it goes: see arrivals.h */
	blk_forget(st->mps, st->blk, path);
	if (unlink(path) < 0) {
		rc = ais_errf(errmsg, -errno, "unlink %s: %s", path,
			      strerror(errno));
		goto out;
	}
	prune_parents(st, mp, bucket, name);
out:
	stripe_unlock(st, s, bucket, name);
	return rc;
}

int store_resilver(struct store *st, const char *bucket, const char *name,
		   int from_mp, char *errmsg)
{
	struct mpset *mps = st->mps;
	char src[AISD_PATH_MAX], dst[AISD_PATH_MAX], tmp[AISD_PATH_MAX] = "";
	unsigned s = stripe_of(bucket, name);
	struct ais_obj_meta m, now, dm;
	struct stat sb, dsb;
	int order[mps->n];
	bool same_fs;
	int fd, to, rc;

	mpset_order(mps, bucket, name, order);
	to = order[0];
	if (from_mp == to)
		return 1;
	mpset_obj_path(mps, from_mp, bucket, name, src);
	fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP
			   ? -ESTALE
			   : ais_errf(errmsg, -errno, "open %s: %s", src,
				      strerror(errno));
	if (fstat(fd, &sb) < 0 || stat(mps->paths[to], &dsb) < 0) {
		rc = ais_errf(errmsg, -errno, "stat %s: %s", src,
			      strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return -ESTALE;
	}
	if (objmeta_read_fd(fd, &m))
		objmeta_from_stat(&sb, &m);
	m.size = (uint64_t)sb.st_size;
	/* Across file systems the bytes are copied (and made durable)
	 * before the lock is taken: a writer of this name waits only for
	 * the renames. */
	same_fs = sb.st_dev == dsb.st_dev;
	rc = same_fs ? 0 : copy_to_tmp(st, to, fd, &m, tmp, errmsg);
	close(fd);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->stripes[s]);
	if (store_meta_path(src, &now) || !same_copy(&now, &m)) {
		rc = -ESTALE;
		goto out_unlock;
	}
	mpset_obj_path(mps, to, bucket, name, dst);
	if (store_meta_path(dst, &dm) == 0 && dm.written_ns >= m.written_ns) {
		/* The copy in place is as new: this one is a leftover. */
		arrivals_departed(st->arr);
		if (unlink(src) < 0) {
			rc = ais_errf(errmsg, -errno, "unlink %s: %s", src,
				      strerror(errno));
			goto out_unlock;
		}
		prune_parents(st, from_mp, bucket, name);
		rc = 0;
		goto out_unlock;
	}
	arrivals_departed(st->arr); /* before it goes: see arrivals.h */
	rc = move_into_place(st, to, bucket, name, same_fs ? src : tmp, dst,
			     errmsg);
	if (rc)
		goto out_unlock;
	tmp[0] = 0;
	arrivals_note(st->arr, bucket, name);
	if (!same_fs && unlink(src) < 0) {
		rc = ais_errf(errmsg, -errno, "unlink %s: %s", src,
			      strerror(errno));
		goto out_unlock;
	}
	prune_parents(st, from_mp, bucket, name);
out_unlock:
	stripe_unlock(st, s, bucket, name);
	if (tmp[0])
		unlink(tmp);
	if (rc == 0) {
		ais_fsync_parent(dst);
		ais_fsync_parent(src); /* may be gone with its directory */
	}
	return rc;
}

int store_confirm_corrupt(struct store *st, const char *bucket,
			  const char *name, const struct ais_obj_meta *seen,
			  uint64_t off, uint64_t len, uint8_t *scratch,
			  char *errmsg)
{
	struct ais_obj_meta m;
	unsigned s = stripe_of(bucket, name);
	int fd, rc;

	pthread_mutex_lock(&st->stripes[s]);
	rc = store_open(st, bucket, name, &fd, &m, errmsg);
	if (rc) {
		stripe_unlock(st, s, bucket, name);
		return rc == -ENOENT ? -ESTALE : rc;
	}
	if (m.written_ns != seen->written_ns || m.size != seen->size ||
	    m.version != seen->version || strcmp(m.cksum, seen->cksum)) {
		close(fd);
		stripe_unlock(st, s, bucket, name);
		return -ESTALE;
	}
	rc = blk_verify(st->mps, st->blk, fd, &m, off, len, scratch, false,
			errmsg);
	close(fd);
	stripe_unlock(st, s, bucket, name);
	return rc;
}
