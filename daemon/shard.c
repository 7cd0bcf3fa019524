/* Shard indexes on the node: sidecars, rebuilds and the LRU of open ones. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hrw.h"
#include "log.h"
#include "names.h"
#include "util.h"

#include "shard.h"
#include "store.h"

#define SHARD_DIR "/.ais/shardidx/"
#define NSTRIPES  64
#define KEY_MAX	  (AIS_BUCKET_MAX + AIS_NAME_MAX + 2)

struct centry {
	char *key; /* "bucket/name"; NULL: free slot */
	struct ais_shard_stamp stamp;
	int mp;
	int sfd; /* the sidecar, open; -1: the index lives in memory only */
	uint64_t used;
	struct shard_ref *ref; /* the cache's own reference */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct centry cache[SHARD_CACHE_MAX];
static uint64_t cache_tick;

/* Builds of one name are serialised: ais_shard_index_save's tmp file is
 * named for the process, so two threads must not write it at once. */
static pthread_mutex_t stripes[NSTRIPES] = {[0 ... NSTRIPES - 1] =
						PTHREAD_MUTEX_INITIALIZER};

static void ref_put_locked(struct shard_ref *r)
{
	if (--r->refs == 0) {
		ais_shard_index_free(r->idx);
		free(r);
	}
}

void shard_ref_put(struct shard_ref *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&cache_lock);
	ref_put_locked(r);
	pthread_mutex_unlock(&cache_lock);
}

static void drop_slot_locked(struct centry *e)
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
static void cache_drop(const char *key, bool prefix)
{
	size_t i, kl = strlen(key);

	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < SHARD_CACHE_MAX; i++) {
		struct centry *e = &cache[i];

		if (!e->key)
			continue;
		if (prefix ? !strncmp(e->key, key, kl) : !strcmp(e->key, key))
			drop_slot_locked(e);
	}
	pthread_mutex_unlock(&cache_lock);
}

static bool stamp_eq(const struct ais_shard_stamp *a,
		     const struct ais_shard_stamp *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns &&
	       a->version == b->version;
}

/* A fresh cached index of key for stamp (sidecar still in place), with a
 * reference for the caller; NULL if none. Never waits for the disk. */
static struct shard_ref *cache_find(const char *key,
				    const struct ais_shard_stamp *st)
{
	struct shard_ref *r = NULL;
	struct stat sb;
	size_t i;

	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < SHARD_CACHE_MAX; i++) {
		struct centry *e = &cache[i];

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
		e->used = ++cache_tick;
		r = e->ref;
		r->refs++;
		break;
	}
	pthread_mutex_unlock(&cache_lock);
	return r;
}

/* Caches r for key; takes sfd (closed here if not kept). */
static void cache_insert(const char *key, const struct ais_shard_stamp *st,
			 int mp, int sfd, struct shard_ref *r)
{
	struct centry *victim = NULL;
	char *k = strdup(key);
	size_t i;

	if (!k) {
		if (sfd >= 0)
			close(sfd);
		return;
	}
	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < SHARD_CACHE_MAX; i++) {
		struct centry *e = &cache[i];

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
	victim->used = ++cache_tick;
	victim->ref = r;
	r->refs++;
	pthread_mutex_unlock(&cache_lock);
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

static void stamp_of(const struct objmeta *m, struct ais_shard_stamp *st)
{
	st->size = m->size;
	st->mtime_ns = m->mtime_ns;
	st->version = m->version;
}

int shard_get(const struct mpset *mps, const char *bucket, const char *name,
	      int fd, const struct objmeta *m, struct shard_ref **out,
	      char *errmsg)
{
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
	r = cache_find(key, &st);
	if (r) {
		*out = r;
		return 0;
	}

	stripe =
	    (unsigned)(ais_hrw_weight("shard", key, strlen(key)) % NSTRIPES);
	pthread_mutex_lock(&stripes[stripe]);
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
				pthread_mutex_unlock(&stripes[stripe]);
				return rc;
			}
		}
	}
	if (idx)
		sfd = open(sp, O_RDONLY | O_CLOEXEC);
	pthread_mutex_unlock(&stripes[stripe]);

	r = calloc(1, sizeof(*r));
	if (!r) {
		if (sfd >= 0)
			close(sfd);
		ais_shard_index_free(idx);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	r->idx = idx;
	r->refs = 1;
	cache_insert(key, &st, mp, sfd, r);
	*out = r;
	return 0;
}

int shard_get_nowait(const char *bucket, const char *name,
		     const struct objmeta *m, struct shard_ref **out)
{
	char key[KEY_MAX];
	struct ais_shard_stamp st;

	*out = NULL;
	if (ais_hrw_key(bucket, name, key, sizeof(key)) < 0)
		return -EAGAIN;
	stamp_of(m, &st);
	*out = cache_find(key, &st);
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

/* Parked tar.gz decoders (lib/shard_read.h): a client reading a member in
 * consecutive ranges continues one instead of inflating again from a seek
 * point. */
#define STREAM_SLOTS 8

static pthread_once_t streams_once = PTHREAD_ONCE_INIT;
static struct ais_shard_stream_cache *streams;

static void streams_init(void)
{
	streams = ais_shard_stream_cache_new(STREAM_SLOTS);
}

int shard_member_read(int fd, const struct ais_shard_index *idx,
		      const struct ais_shard_member *m, uint64_t off,
		      uint64_t len, ais_shard_write_cb cb, void *arg,
		      char *errmsg)
{
	pthread_once(&streams_once, streams_init);
	return ais_shard_member_read_cached(streams, fd, idx, m, off, len, cb,
					    arg, errmsg);
}

/* A parked decoder holds its shard open: let the space of a deleted or
 * replaced one go. */
static void streams_clear(void)
{
	pthread_once(&streams_once, streams_init);
	ais_shard_stream_cache_clear(streams);
}

void shard_on_delete(const struct mpset *mps, const char *bucket,
		     const char *name)
{
	char key[KEY_MAX];

	if (ais_shard_format_from_name(name) == AIS_SHARD_NONE)
		return;
	if (ais_shard_format_from_name(name) == AIS_SHARD_TGZ)
		streams_clear();
	if (ais_hrw_key(bucket, name, key, sizeof(key)) < 0)
		return;
	cache_drop(key, false);
	unlink_sidecars(mps, bucket, name);
}

int shard_on_write(const struct mpset *mps, const char *bucket,
		   const char *name, char *errmsg)
{
	struct shard_ref *r;
	struct objmeta m;
	int fd, rc;

	if (ais_shard_format_from_name(name) == AIS_SHARD_NONE)
		return 0;
	shard_on_delete(mps, bucket, name);
	rc = store_open(mps, bucket, name, &fd, &m, errmsg);
	if (rc)
		return rc;
	rc = shard_get(mps, bucket, name, fd, &m, &r, errmsg);
	close(fd);
	if (rc)
		return rc;
	shard_ref_put(r);
	return 0;
}

void shard_on_bucket_destroy(const struct mpset *mps, const char *bucket)
{
	char path[AISD_PATH_MAX], key[KEY_MAX];
	size_t i;

	snprintf(key, sizeof(key), "%s/", bucket);
	cache_drop(key, true);
	streams_clear();
	for (i = 0; i < mps->n; i++) {
		int n = snprintf(path, sizeof(path), "%s" SHARD_DIR "%s",
				 mps->paths[i], bucket);

		if (n > 0 && n < (int)sizeof(path))
			mpset_rm_rf(path);
	}
}
