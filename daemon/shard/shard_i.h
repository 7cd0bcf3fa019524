/* Internal to daemon/shard/: the layout of struct shards and what its files
 * share. Nothing outside this folder includes it. */
#ifndef AISD_SHARD_SHARD_I_H
#define AISD_SHARD_SHARD_I_H

#include <pthread.h>
#include <stdint.h>

#include "shard/shard.h"

#define SHARD_BUILD_STRIPES 64

/* One open index in the cache. */
struct shard_centry {
	char *key; /* "bucket/name"; NULL: free slot */
	struct ais_shard_stamp stamp;
	int mp;
	int sfd; /* the sidecar, open; -1: the index lives in memory only */
	uint64_t used;
	struct shard_ref *ref; /* the cache's own reference */
};

struct indexer;

struct shards {
	struct store *st;
	int crash_at; /* enum shard_append_crash (shard/append.h) */

	pthread_mutex_t cache_lock; /* the entries and every ref count */
	struct shard_centry cache[SHARD_CACHE_MAX];
	uint64_t cache_tick;

	/* Builds of one name are serialised: ais_shard_index_save's tmp
	 * file is named for the process, so two threads must not write it
	 * at once. */
	pthread_mutex_t build[SHARD_BUILD_STRIPES];

	struct ais_shard_stream_cache *streams; /* parked tar.gz decoders */
	struct indexer *ix;
};

/* The background indexer (indexer.c). */
int indexer_new(struct shards *sh, struct indexer **out);
void indexer_submit(struct indexer *ix, const char *bucket, const char *name);
void indexer_free(struct indexer *ix);

#endif
