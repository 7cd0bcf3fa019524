/* Buckets on this node: a directory of the same name on every mountpath.
 * Blocking calls: run them on worker threads. */
#ifndef AISD_STORE_BUCKET_H
#define AISD_STORE_BUCKET_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* mkdir <mp>/<bucket> on every mountpath. -EEXIST (after creating any
 * missing ones) if the bucket existed. */
int bucket_create(struct store *st, const char *bucket, char *errmsg);

/* Which bucket of that name the directories hold: the bucket table's
 * created_ns, kept as the xattr user.ais.bucket on each <mp>/<bucket>. A
 * bucket destroyed while this node was away and then created again has a
 * new one, so its old objects are not taken for the new bucket's.
 * bucket_stamp returns the first stamp found (0: none, an older node's
 * bucket); bucket_stamp_set writes it on every mountpath, 0 or -errno. */
int64_t bucket_stamp(struct store *st, const char *bucket);
int bucket_stamp_set(struct store *st, const char *bucket, int64_t ns);

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
