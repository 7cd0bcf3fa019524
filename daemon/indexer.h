/* Builds shard indexes on a background thread after a PUT or RENAME, so
 * that the request is answered as soon as the object is durable. */
#ifndef AISD_INDEXER_H
#define AISD_INDEXER_H

#include "mountpath.h"

struct indexer;

/* Starts the thread. Returns 0 with *out, or -errno. mps must outlive it. */
int indexer_new(const struct mpset *mps, struct indexer **out);

/* After a committed write of bucket/name: if the name is a shard, drops its
 * old index now and queues the build of the new one. When the queue is full
 * (or memory is short) the index is built here, blocking. Thread-safe. */
void indexer_submit(struct indexer *ix, const char *bucket, const char *name);

/* Lets the build in progress finish, drops the queued ones (a member read
 * builds a missing index on demand), joins the thread and frees ix. */
void indexer_free(struct indexer *ix);

#endif
