/* The node's shards: the indexes of the shards it holds (sidecars under
 * <mp>/.ais/shardidx/<bucket>/<name>.idx, built in the background after a
 * PUT or RENAME, rebuilt when missing or stale, dropped with their object),
 * a small LRU of open indexes, parked tar.gz decoders for member reads in
 * consecutive ranges, and appends in place (shard/append.h). Everything
 * hangs off one struct shards; the subsystem calls the store, never the
 * network. */
#ifndef AISD_SHARD_SHARD_H
#define AISD_SHARD_SHARD_H

#include "objmeta.h"
#include "shard_index.h"
#include "shard_read.h"
#include "store/store.h"

#define SHARD_CACHE_MAX 64

struct shards;

/* The shard subsystem over st (which must outlive it), with its indexer
 * thread started. crash_at arms the test hook of shard/append.h (0: none).
 * Returns 0 with *out, or -errno. */
int shards_new(struct store *st, int crash_at, struct shards **out);

/* Lets the index build in progress finish, drops the queued ones (a member
 * read builds a missing index on demand), and frees everything. */
void shards_free(struct shards *sh);

/* A counted reference to an open index; release with shard_ref_put. */
struct shard_ref {
	struct ais_shard_index *idx;
	/* private */
	struct shards *sh;
	int refs;
};

/* The index of bucket/name, whose object is open on fd with metadata m:
 * from the cache, else from the sidecar, else built now (and saved as the
 * sidecar on the object's mountpath; if that cannot be written the index
 * lives in memory only). Blocking. Returns 0 with *out, or -errno with
 * errmsg. */
int shard_get(struct shards *sh, const char *bucket, const char *name, int fd,
	      const struct ais_obj_meta *m, struct shard_ref **out,
	      char *errmsg);
/* shard_get for the event loop thread: only an index already in the
 * cache (and still fresh for m), else -EAGAIN (run shard_get on a worker).
 */
int shard_get_nowait(struct shards *sh, const char *bucket, const char *name,
		     const struct ais_obj_meta *m, struct shard_ref **out);
void shard_ref_put(struct shard_ref *r);

/* ais_shard_member_read() of a member of the shard open on fd, continuing
 * a parked decoder where one fits (tar.gz read in consecutive ranges). */
int shard_member_read(struct shards *sh, int fd,
		      const struct ais_shard_index *idx,
		      const struct ais_shard_member *m, uint64_t off,
		      uint64_t len, ais_shard_write_cb cb, void *arg,
		      char *errmsg);

/* After a committed write of bucket/name (PUT, RENAME onto it): if the name
 * is a shard, drops its old index now and queues the build of the new one
 * (built here, blocking, when the queue is full). Thread-safe. */
void shard_written(struct shards *sh, const char *bucket, const char *name);

/* The object is gone: removes its sidecars and cache entry. */
void shard_on_delete(struct shards *sh, const char *bucket, const char *name);

/* The bucket is gone: removes <mp>/.ais/shardidx/<bucket> everywhere and
 * the bucket's cache entries. */
void shard_on_bucket_destroy(struct shards *sh, const char *bucket);

#endif
