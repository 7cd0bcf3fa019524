/* Builds shard indexes on a background thread. Indexing a multi-GiB
 * compressed shard can take longer than a client waits for an answer, and
 * the connection of the PUT must not be held meanwhile either (the client
 * reuses it), so the build runs apart from every request. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "shard_index.h"
#include "util.h"

#include "shard/shard_i.h"

#define INDEXER_QUEUE_MAX 1024

struct ix_item {
	struct ix_item *next;
	char *bucket;
	char *name;
};

struct indexer {
	struct shards *sh;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ix_item *head, *tail;
	size_t n;
	bool stop;
	pthread_t thr;
};

/* Makes sure bucket/name has a current index: loads it if a member read
 * already built it, builds and saves it if not. */
static void build(struct shards *sh, const char *bucket, const char *name)
{
	char em[AIS_ERRMSG_LEN] = "";
	struct shard_ref *ref;
	struct ais_obj_meta m;
	struct stat st;
	int fd, rc;

	rc = store_open(sh->st, bucket, name, &fd, &m, em);
	if (rc == 0 && S_ISLNK(m.mode)) {
		close(fd); /* a symbolic link (aisfs(1)) named like a shard */
		return;
	}
	if (rc == 0) {
		rc = shard_get(sh, bucket, name, fd, &m, &ref, em);
		if (rc == 0)
			shard_ref_put(ref);
		/* Deleted (or replaced) while we indexed it: do not leave a
		 * sidecar behind; a replacement queued its own build. */
		if (fstat(fd, &st) == 0 && st.st_nlink == 0)
			shard_on_delete(sh, bucket, name);
		close(fd);
	}
	if (rc == -ENOENT)
		ais_log(LOG_DEBUG, "%s/%s: gone before it was indexed", bucket,
			name);
	else if (rc)
		ais_log(LOG_WARNING, "%s/%s: shard index: %s", bucket, name,
			em);
}

static void item_free(struct ix_item *it)
{
	free(it->bucket);
	free(it->name);
	free(it);
}

static void *indexer_main(void *arg)
{
	struct indexer *ix = arg;
	struct ix_item *it;

	pthread_mutex_lock(&ix->mu);
	for (;;) {
		while (ix->head == NULL && !ix->stop)
			pthread_cond_wait(&ix->cv, &ix->mu);
		if (ix->stop)
			break;
		it = ix->head;
		ix->head = it->next;
		if (ix->head == NULL)
			ix->tail = NULL;
		ix->n--;
		pthread_mutex_unlock(&ix->mu);
		build(ix->sh, it->bucket, it->name);
		item_free(it);
		pthread_mutex_lock(&ix->mu);
	}
	pthread_mutex_unlock(&ix->mu);
	return NULL;
}

int indexer_new(struct shards *sh, struct indexer **out)
{
	struct indexer *ix = calloc(1, sizeof(*ix));
	int rc;

	if (ix == NULL)
		return -ENOMEM;
	ix->sh = sh;
	pthread_mutex_init(&ix->mu, NULL);
	pthread_cond_init(&ix->cv, NULL);
	rc = pthread_create(&ix->thr, NULL, indexer_main, ix);
	if (rc) {
		pthread_cond_destroy(&ix->cv);
		pthread_mutex_destroy(&ix->mu);
		free(ix);
		return -rc;
	}
	*out = ix;
	return 0;
}

void indexer_submit(struct indexer *ix, const char *bucket, const char *name)
{
	struct ix_item *it;
	bool queued = false;

	if (ais_shard_format_from_name(name) == AIS_SHARD_NONE)
		return;
	/* The old index must not serve the new bytes in the meantime. */
	shard_on_delete(ix->sh, bucket, name);
	it = calloc(1, sizeof(*it));
	if (it != NULL) {
		it->bucket = strdup(bucket);
		it->name = strdup(name);
	}
	if (it == NULL || it->bucket == NULL || it->name == NULL) {
		if (it != NULL)
			item_free(it);
		build(ix->sh, bucket, name);
		return;
	}
	pthread_mutex_lock(&ix->mu);
	if (ix->n < INDEXER_QUEUE_MAX && !ix->stop) {
		if (ix->tail)
			ix->tail->next = it;
		else
			ix->head = it;
		ix->tail = it;
		ix->n++;
		queued = true;
		pthread_cond_signal(&ix->cv);
	}
	pthread_mutex_unlock(&ix->mu);
	if (!queued) {
		build(ix->sh, bucket, name);
		item_free(it);
	}
}

void shard_written(struct shards *sh, const char *bucket, const char *name)
{
	indexer_submit(sh->ix, bucket, name);
}

void indexer_free(struct indexer *ix)
{
	struct ix_item *it;

	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->mu);
	ix->stop = true;
	pthread_cond_signal(&ix->cv);
	pthread_mutex_unlock(&ix->mu);
	pthread_join(ix->thr, NULL);
	while ((it = ix->head) != NULL) {
		ix->head = it->next;
		item_free(it);
	}
	pthread_cond_destroy(&ix->cv);
	pthread_mutex_destroy(&ix->mu);
	free(ix);
}
