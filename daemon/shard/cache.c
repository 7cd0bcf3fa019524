/* Shard indexes on the node: sidecars, rebuilds, the LRU of open ones, and
 * the parked decoders; the life of struct shards. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "hash.h"
#include "hrw.h"
#include "log.h"
#include "names.h"
#include "util.h"

#include "shard/append.h"
#include "shard/shard_i.h"

#define SHARD_DIR "/.ais/shardidx/"
#define KEY_MAX	  (AIS_BUCKET_MAX + AIS_NAME_MAX + 2)
/* Parked tar.gz decoders (lib/shard/shard_read.h): a client reading a
 * member in consecutive ranges continues one instead of inflating again
 * from a seek point. */
#define STREAM_SLOTS 8

int shards_new(struct store *st, int crash_at, struct shards **out)
{
	struct shards *sh = calloc(1, sizeof(*sh));
	size_t i;
	int rc;

	if (!sh)
		return -ENOMEM;
	sh->st = st;
	sh->crash_at = crash_at;
	pthread_mutex_init(&sh->cache_lock, NULL);
	for (i = 0; i < SHARD_BUILD_STRIPES; i++)
		pthread_mutex_init(&sh->build[i], NULL);
	sh->streams = ais_shard_stream_cache_new(STREAM_SLOTS);
	if (!sh->streams) {
		shards_free(sh);
		return -ENOMEM;
	}
	rc = indexer_new(sh, &sh->ix);
	if (rc) {
		shards_free(sh);
		return rc;
	}
	*out = sh;
	return 0;
}

static void drop_slot_locked(struct shard_centry *e);

void shards_free(struct shards *sh)
{
	size_t i;

	if (!sh)
		return;
	indexer_free(sh->ix);
	for (i = 0; i < SHARD_CACHE_MAX; i++)
		if (sh->cache[i].key)
			drop_slot_locked(&sh->cache[i]);
	ais_shard_stream_cache_free(sh->streams);
	for (i = 0; i < SHARD_BUILD_STRIPES; i++)
		pthread_mutex_destroy(&sh->build[i]);
	pthread_mutex_destroy(&sh->cache_lock);
	free(sh);
}

static void ref_put_locked(struct shard_ref *r)
{
	if (--r->refs == 0) {
		ais_shard_index_free(r->idx);
		free(r);
	}
}

void shard_ref_put(struct shard_ref *r)
{
	struct shards *sh;

	if (!r)
		return;
	sh = r->sh;
	pthread_mutex_lock(&sh->cache_lock);
	ref_put_locked(r);
	pthread_mutex_unlock(&sh->cache_lock);
}

static void drop_slot_locked(struct shard_centry *e)
{
	free(e->key);
	e->key = NULL;
	if (e->sfd >= 0)
		close(e->sfd);
	e->sfd = -1;
	ref_put_locked(e->ref);
	e->ref = NULL;
}

/* Drops the cache entries of key (or, with prefix set, of every key that
 * starts with it). */
static void cache_drop(struct shards *sh, const char *key, bool prefix)
{
	size_t i, kl = strlen(key);

	pthread_mutex_lock(&sh->cache_lock);
	for (i = 0; i < SHARD_CACHE_MAX; i++) {
		struct shard_centry *e = &sh->cache[i];

		if (!e->key)
			continue;
		if (prefix ? !strncmp(e->key, key, kl) : !strcmp(e->key, key))
			drop_slot_locked(e);
	}
	pthread_mutex_unlock(&sh->cache_lock);
}

static bool stamp_eq(const struct ais_shard_stamp *a,
		     const struct ais_shard_stamp *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns &&
	       a->version == b->version;
}

/* A fresh cached index of key for stamp (sidecar still in place), with a
 * reference for the caller; NULL if none. Never waits for the disk. */
static struct shard_ref *cache_find(struct shards *sh, const char *key,
				    const struct ais_shard_stamp *st)
{
	struct shard_ref *r = NULL;
	struct stat sb;
	size_t i;

	pthread_mutex_lock(&sh->cache_lock);
	for (i = 0; i < SHARD_CACHE_MAX; i++) {
		struct shard_centry *e = &sh->cache[i];

		if (!e->key || strcmp(e->key, key))
			continue;
		/* A sidecar removed or replaced behind our back means the
		 * cached copy is not what is on disk: reload. Either leaves
		 * the file we hold open without a name; fstat(2) of an open
		 * file costs no path walk. */
		if (!stamp_eq(&e->stamp, st) ||
		    ais_shard_index_is_stale(e->ref->idx, st) ||
		    (e->sfd >= 0 &&
		     (fstat(e->sfd, &sb) < 0 || sb.st_nlink == 0))) {
			drop_slot_locked(e);
			continue;
		}
		e->used = ++sh->cache_tick;
		r = e->ref;
		r->refs++;
		break;
	}
	pthread_mutex_unlock(&sh->cache_lock);
	return r;
}

/* Caches r for key; takes sfd (closed here if not kept). */
static void cache_insert(struct shards *sh, const char *key,
			 const struct ais_shard_stamp *st, int mp, int sfd,
			 struct shard_ref *r)
{
	struct shard_centry *victim = NULL;
	char *k = strdup(key);
	size_t i;

	if (!k) {
		if (sfd >= 0)
			close(sfd);
		return;
	}
	pthread_mutex_lock(&sh->cache_lock);
	for (i = 0; i < SHARD_CACHE_MAX; i++) {
		struct shard_centry *e = &sh->cache[i];

		if (e->key && !strcmp(e->key, key))
			drop_slot_locked(e);
		if (!e->key) {
			if (!victim || victim->key)
				victim = e;
		} else if (!victim || (victim->key && e->used < victim->used)) {
			victim = e;
		}
	}
	if (victim->key)
		drop_slot_locked(victim);
	victim->key = k;
	victim->stamp = *st;
	victim->mp = mp;
	victim->sfd = sfd;
	victim->used = ++sh->cache_tick;
	victim->ref = r;
	r->refs++;
	pthread_mutex_unlock(&sh->cache_lock);
}

static int sidecar_path(const struct mpset *mps, int mp, const char *bucket,
			const char *name, char *buf)
{
	int n = snprintf(buf, AISD_PATH_MAX, "%s" SHARD_DIR "%s/%s.idx",
			 mps->paths[mp], bucket, name);

	return n < 0 || n >= AISD_PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Creates the directories above path. */
static int make_dirs(const char *path)
{
	char tmp[AISD_PATH_MAX];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	p = strrchr(tmp, '/');
	if (!p)
		return 0;
	*p = 0;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The mountpath holding the object open on fd. */
static int object_mp(const struct mpset *mps, const char *bucket,
		     const char *name, int fd)
{
	char path[AISD_PATH_MAX];
	int order[mps->n], first = -1;
	struct stat fs, st;
	size_t i;

	if (fstat(fd, &fs) < 0)
		return -errno;
	mpset_order(mps, bucket, name, order);
	for (i = 0; i < mps->n; i++) {
		mpset_obj_path(mps, order[i], bucket, name, path);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_dev == fs.st_dev && st.st_ino == fs.st_ino)
			return order[i];
		if (first < 0)
			first = order[i];
	}
	return first >= 0 ? first : order[0];
}

static void stamp_of(const struct ais_obj_meta *m, struct ais_shard_stamp *st)
{
	st->size = m->size;
	st->mtime_ns = m->mtime_ns;
	st->version = m->version;
}

int shard_get(struct shards *sh, const char *bucket, const char *name, int fd,
	      const struct ais_obj_meta *m, struct shard_ref **out,
	      char *errmsg)
{
	const struct mpset *mps = sh->st->mps;
	enum ais_shard_format fmt = ais_shard_format_from_name(name);
	char key[KEY_MAX], sp[AISD_PATH_MAX], em[AIS_ERRMSG_LEN];
	struct ais_shard_stamp st;
	struct ais_shard_index *idx = NULL;
	struct shard_ref *r;
	unsigned stripe;
	int sfd = -1;
	int mp, rc;

	*out = NULL;
	if (fmt == AIS_SHARD_NONE)
		return ais_errf(errmsg, -EINVAL,
				"%s/%s is not a shard (.tar, .tar.gz, .tgz, "
				".tar.lz4 or .zip)",
				bucket, name);
	rc = ais_hrw_key(bucket, name, key, sizeof(key));
	if (rc < 0)
		return ais_errf(errmsg, rc, "name too long");
	stamp_of(m, &st);
	mp = object_mp(mps, bucket, name, fd);
	if (mp < 0)
		return ais_errf(errmsg, mp, "%s/%s: %s", bucket, name,
				strerror(-mp));
	rc = sidecar_path(mps, mp, bucket, name, sp);
	if (rc)
		return ais_errf(errmsg, rc, "%s/%s: sidecar path too long",
				bucket, name);
	r = cache_find(sh, key, &st);
	if (r) {
		*out = r;
		return 0;
	}

	stripe = (unsigned)(ais_hash_str(key, 0) % SHARD_BUILD_STRIPES);
	pthread_mutex_lock(&sh->build[stripe]);
	rc = ais_shard_index_load(sp, &idx, em);
	if (rc == 0 && ais_shard_index_is_stale(idx, &st)) {
		ais_shard_index_free(idx);
		idx = NULL;
		rc = -ESTALE;
	}
	if (rc && rc != -ENOENT && rc != -ESTALE)
		ais_log(LOG_WARNING, "shard index %s: %s; rebuilding", sp, em);
	if (rc) {
		rc = make_dirs(sp);
		if (rc == 0)
			rc = ais_shard_index_save(fd, fmt, &st, sp, &idx, em);
		else
			snprintf(em, sizeof(em), "mkdir: %s", strerror(-rc));
		if (rc == 0) {
			ais_log(LOG_DEBUG, "indexed %s/%s: %zu members", bucket,
				name, ais_shard_index_count(idx));
		} else {
			/* Serve from memory rather than fail the read. */
			ais_log(LOG_WARNING,
				"cannot save shard index %s: %s; keeping it "
				"in memory",
				sp, em);
			rc = ais_shard_index_build(fd, fmt, &st, -1, &idx,
						   errmsg);
			if (rc) {
				pthread_mutex_unlock(&sh->build[stripe]);
				return rc;
			}
		}
	}
	if (idx)
		sfd = open(sp, O_RDONLY | O_CLOEXEC);
	pthread_mutex_unlock(&sh->build[stripe]);

	r = calloc(1, sizeof(*r));
	if (!r) {
		if (sfd >= 0)
			close(sfd);
		ais_shard_index_free(idx);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	r->idx = idx;
	r->sh = sh;
	r->refs = 1;
	cache_insert(sh, key, &st, mp, sfd, r);
	*out = r;
	return 0;
}

int shard_get_nowait(struct shards *sh, const char *bucket, const char *name,
		     const struct ais_obj_meta *m, struct shard_ref **out)
{
	char key[KEY_MAX];
	struct ais_shard_stamp st;

	*out = NULL;
	if (ais_hrw_key(bucket, name, key, sizeof(key)) < 0)
		return -EAGAIN;
	stamp_of(m, &st);
	*out = cache_find(sh, key, &st);
	return *out ? 0 : -EAGAIN;
}

static void unlink_sidecars(const struct mpset *mps, const char *bucket,
			    const char *name)
{
	char sp[AISD_PATH_MAX];
	size_t i;

	for (i = 0; i < mps->n; i++)
		if (sidecar_path(mps, (int)i, bucket, name, sp) == 0 &&
		    unlink(sp) < 0 && errno != ENOENT && errno != ENOTDIR)
			ais_log(LOG_WARNING, "cannot remove %s: %s", sp,
				strerror(errno));
}

int shard_member_read(struct shards *sh, int fd,
		      const struct ais_shard_index *idx,
		      const struct ais_shard_member *m, uint64_t off,
		      uint64_t len, ais_shard_write_cb cb, void *arg,
		      char *errmsg)
{
	return ais_shard_member_read_cached(sh->streams, fd, idx, m, off, len,
					    cb, arg, errmsg);
}

void shard_on_delete(struct shards *sh, const char *bucket, const char *name)
{
	char key[KEY_MAX];

	if (ais_shard_format_from_name(name) == AIS_SHARD_NONE)
		return;
	/* A parked decoder holds its shard open: let the space of a deleted
	 * or replaced one go. */
	if (ais_shard_format_from_name(name) == AIS_SHARD_TGZ)
		ais_shard_stream_cache_clear(sh->streams);
	if (ais_hrw_key(bucket, name, key, sizeof(key)) < 0)
		return;
	cache_drop(sh, key, false);
	unlink_sidecars(sh->st->mps, bucket, name);
}

void shard_on_bucket_destroy(struct shards *sh, const char *bucket)
{
	const struct mpset *mps = sh->st->mps;
	char path[AISD_PATH_MAX], key[KEY_MAX];
	size_t i;

	snprintf(key, sizeof(key), "%s/", bucket);
	cache_drop(sh, key, true);
	ais_shard_stream_cache_clear(sh->streams);
	for (i = 0; i < mps->n; i++) {
		int n = snprintf(path, sizeof(path), "%s" SHARD_DIR "%s",
				 mps->paths[i], bucket);

		if (n > 0 && n < (int)sizeof(path))
			ais_rm_rf(path);
	}
}
