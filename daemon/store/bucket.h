/* Buckets on this node: a directory of the same name on every mountpath.
 * Blocking calls: run them on worker threads. */
#ifndef AISD_STORE_BUCKET_H
#define AISD_STORE_BUCKET_H

#include <stddef.h>

#include "store/store.h"

/* mkdir <mp>/<bucket> on every mountpath. -EEXIST (after creating any
 * missing ones) if the bucket existed. */
int bucket_create(struct store *st, const char *bucket, char *errmsg);

/* Renames every <mp>/<bucket> into <mp>/.ais/tmp/, so the bucket disappears
 * at once, and returns those trash paths in *trash (NULL-terminated heap
 * array, for bucket_destroy_finish). -ENOENT if the bucket does not exist. */
int bucket_destroy(struct store *st, const char *bucket, char ***trash,
		   char *errmsg);

/* Deletes the trash paths recursively and frees the array. */
void bucket_destroy_finish(char **trash);

/* The buckets present on this node, sorted: *names is a NULL-terminated heap
 * array of *n heap strings (free with ais_strv_free). */
int bucket_list(struct store *st, char ***names, size_t *n, char *errmsg);

#endif
