/* Shard indexes on the node: sidecars under <mp>/.ais/shardidx/<bucket>/
 * <name>.idx, built after a PUT or RENAME, rebuilt when missing or stale,
 * dropped with their object, and a small LRU of open indexes. */
#ifndef AISD_SHARD_H
#define AISD_SHARD_H

#include "mountpath.h"
#include "objmeta.h"
#include "shard_index.h"
#include "shard_read.h"

#define SHARD_CACHE_MAX 64

/* A counted reference to an open index; release with shard_ref_put. */
struct shard_ref {
	struct ais_shard_index *idx;
	/* private */
	int refs;
};

/* The index of bucket/name, whose object is open on fd with metadata m:
 * from the cache, else from the sidecar, else built now (and saved as the
 * sidecar on the object's mountpath; if that cannot be written the index
 * lives in memory only). Blocking. Returns 0 with *out, or -errno with
 * errmsg. */
int shard_get(const struct mpset *mps, const char *bucket, const char *name,
	      int fd, const struct objmeta *m, struct shard_ref **out,
	      char *errmsg);
/* shard_get for the event loop thread: only an index already in the
 * cache (and still fresh for m), else -EAGAIN (run shard_get on a worker).
 */
int shard_get_nowait(const char *bucket, const char *name,
		     const struct objmeta *m, struct shard_ref **out);
void shard_ref_put(struct shard_ref *r);

/* ais_shard_member_read() of a member of the shard open on fd, continuing
 * a parked decoder where one fits (tar.gz read in consecutive ranges). */
int shard_member_read(int fd, const struct ais_shard_index *idx,
		      const struct ais_shard_member *m, uint64_t off,
		      uint64_t len, ais_shard_write_cb cb, void *arg,
		      char *errmsg);

/* After a committed PUT (or RENAME onto name): drops old sidecars of name
 * and, if name is a shard, builds the new index. Returns 0 or -errno with
 * errmsg (the object itself is fine then; the index is rebuilt on demand). */
int shard_on_write(const struct mpset *mps, const char *bucket,
		   const char *name, char *errmsg);

/* The object is gone: removes its sidecars and cache entry. */
void shard_on_delete(const struct mpset *mps, const char *bucket,
		     const char *name);

/* The bucket is gone: removes <mp>/.ais/shardidx/<bucket> everywhere and
 * the bucket's cache entries. */
void shard_on_bucket_destroy(const struct mpset *mps, const char *bucket);

#endif
