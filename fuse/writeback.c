/* Write-back: a queue of files closed with unsaved bytes, and uploader
 * threads that take what is queued in rounds. A round copies the bytes of
 * each small file out of its spool (marking the spool uploading, so a PUT
 * of the same file waits), sends them with ais_client_put_batch, and
 * applies each answer as a PUT at close would. Files too large for a batch
 * are PUT alone (afs_file_commit). A round starts once WB_GATHER files are
 * queued, or WB_GATHER_NS after the oldest was, or at once when someone
 * waits for the uploads (a sync, a listing, a full queue, the unmount):
 * each batch is a flush on its node, and a copy of many small files sent
 * a few to a batch made the nodes flush several times as often, with the
 * CPU the copy itself needed (BENCHMARKS.md, issue 13 session 8). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fileio.h"
#include "fs.h"
#include "lease.h"
#include "log.h"
#include "spool.h"
#include "writeback.h"

/* Uploader threads: rounds to different nodes overlap, and one round's
 * flush on a node does not hold up the others. */
#define WB_THREADS 4
/* Files queued at most (and at most a quarter of the descriptors aisfs
 * may open: each holds its spool's); a close then waits for room. */
#define WB_QUEUE_MAX 4096
/* Bytes one round copies out at most (a batch of AIS_PUT_BATCH_BYTES for
 * each of a few nodes): bounds the memory of the uploads to
 * WB_THREADS times this. */
#define WB_ROUND_BYTES (8u << 20)
/* A round waits for this many files (or the queue's room, if less)... */
#define WB_GATHER 32
/* ...for at most this long after the oldest was queued: what write-back
 * adds to the time another client waits to see a file. */
#define WB_GATHER_NS (10 * 1000 * 1000)

struct wb_ent {
	struct wb_ent *next;
	struct afs_inode *in; /* holds a ref and a spool user reference */
	uint64_t seq;
	uint64_t queued_ns; /* CLOCK_MONOTONIC */
};

struct afs_wb {
	pthread_mutex_t lock;
	pthread_cond_t work; /* something queued, or stopping */
	pthread_cond_t done; /* a round ended (room in the queue, syncs) */
	struct wb_ent *head, *tail; /* sorted by seq */
	size_t queued, max;
	uint64_t next_seq;
	/* The oldest seq each thread's round holds, UINT64_MAX between
	 * rounds: with the queue's head, what a sync waits for. */
	uint64_t busy[WB_THREADS];
	unsigned hurry;	   /* callers waiting for the uploads */
	uint64_t errs;	   /* uploads failed so far */
	uint64_t reported; /* errs when a sync last reported them */
	bool stopping;
	unsigned nthreads; /* started, for the join */
	unsigned ids;	   /* handed to the threads (busy[]) */
	pthread_t threads[WB_THREADS];
	struct afs_fs *fs;
};

/* One queued file in a round. */
struct wb_item {
	struct wb_ent *e;
	struct afs_spool *sp;
	enum { W_SKIP, W_BATCH, W_ALONE, W_BACK } how;
	uint64_t gen;
	uint32_t missing;
	struct afs_trust_tok tok;
	struct ais_put_item pi;
	void *buf;
	struct afs_loc loc;
};

static void ent_free(struct afs_fs *fs, struct wb_ent *e)
{
	afs_spool_drop(fs, e->in);
	afs_inode_put(fs->itable, e->in);
	free(e);
}

/* Under wb->lock: the files a round waits for. */
static size_t gather_count(const struct afs_wb *wb)
{
	return wb->max < WB_GATHER ? wb->max : WB_GATHER;
}

/* Under wb->lock, with something queued: 0 if a round may start now,
 * else the CLOCK_MONOTONIC time at which it may. */
static uint64_t gathered(const struct afs_wb *wb)
{
	uint64_t at = wb->head->queued_ns + WB_GATHER_NS;

	if (wb->stopping || wb->hurry || wb->queued >= gather_count(wb) ||
	    ais_now_mono_ns() >= at)
		return 0;
	return at;
}

bool afs_wb_queue(struct afs_fs *fs, struct afs_inode *in)
{
	struct afs_wb *wb = fs->wb;
	struct afs_spool *sp;
	struct wb_ent *e;
	bool dirty;

	if (!wb)
		return false;
	sp = afs_spool_hold(in);
	if (!sp)
		return true;
	pthread_mutex_lock(&sp->lock);
	dirty = sp->dirty;
	pthread_mutex_unlock(&sp->lock);
	e = dirty ? calloc(1, sizeof(*e)) : NULL;
	if (e)
		e->in = afs_inode_get(fs->itable, afs_nodeid(in));
	if (!e || !e->in) {
		free(e);
		afs_spool_drop(fs, in);
		return !dirty; /* out of memory: the caller PUTs it */
	}
	pthread_mutex_lock(&wb->lock);
	while (!wb->stopping && !sp->queued && wb->queued >= wb->max)
		pthread_cond_wait(&wb->done, &wb->lock);
	/* Already queued and not yet taken: that upload copies the bytes
	 * when its round starts, these included. */
	if (wb->stopping || sp->queued) {
		bool stopping = wb->stopping;

		pthread_mutex_unlock(&wb->lock);
		ent_free(fs, e);
		return !stopping;
	}
	sp->queued = true;
	e->seq = wb->next_seq++;
	e->queued_ns = ais_now_mono_ns();
	if (wb->tail)
		wb->tail->next = e;
	else
		wb->head = e;
	wb->tail = e;
	wb->queued++;
	/* The first starts a thread's wait for more; a full round starts
	 * it; the ones between wake nobody. */
	if (wb->queued == 1 || wb->queued == gather_count(wb))
		pthread_cond_signal(&wb->work);
	pthread_mutex_unlock(&wb->lock);
	return true;
}

/* Takes the spool's bytes for a batch, or says why not. */
static void take(struct afs_fs *fs, struct wb_item *it, uint64_t *bytes)
{
	struct afs_inode *in = it->e->in;
	struct afs_spool *sp = it->sp;
	uint64_t size = 0;
	int rc;

	pthread_mutex_lock(&sp->lock);
	if (sp->uploading) {
		/* Another round's (queued twice): waiting here could wait on
		 * a round that waits on this one's; alone, after it. */
		pthread_mutex_unlock(&sp->lock);
		it->how = W_ALONE;
		return;
	}
	rc = afs_put_prepare(fs, in, sp, &it->pi.opts, &it->loc, &size);
	if (rc <= 0) {
		pthread_mutex_unlock(&sp->lock);
		if (rc < 0)
			ais_log(LOG_ERR, "inode %llu: write-back: %s",
				(unsigned long long)in->ino, strerror(-rc));
		it->how = rc < 0 ? W_ALONE : W_SKIP; /* W_ALONE reports it */
		return;
	}
	if (size > AIS_PUT_BATCH_ITEM_MAX) {
		pthread_mutex_unlock(&sp->lock);
		it->how = W_ALONE;
		return;
	}
	it->buf = malloc(size ? size : 1);
	rc = it->buf ? ais_pread_all(sp->fd, it->buf, size, 0) : -ENOMEM;
	if (rc) {
		pthread_mutex_unlock(&sp->lock);
		free(it->buf);
		it->buf = NULL;
		it->how = W_ALONE;
		return;
	}
	it->gen = sp->gen;
	sp->uploading = true;
	pthread_mutex_unlock(&sp->lock);
	afs_trust_begin(fs, it->loc.bucket, it->loc.key, &it->tok);
	it->pi.name = it->loc.key;
	it->pi.buf = it->buf;
	it->pi.len = size;
	it->pi.opts.copies_missing = &it->missing;
	it->how = W_BATCH;
	*bytes += size;
}

/* Sends the taken items of one bucket at a time. */
static void send_items(struct afs_fs *fs, struct wb_item *items, size_t n)
{
	struct ais_put_item *pis = calloc(n, sizeof(*pis));
	size_t *idx = calloc(n, sizeof(*idx));
	bool *sent = calloc(n, sizeof(*sent));
	size_t i, j, m;

	for (i = 0; i < n; i++) {
		const char *bucket = items[i].loc.bucket;

		if (items[i].how != W_BATCH || (sent && sent[i]))
			continue;
		if (!pis || !idx || !sent) {
			/* Out of memory: one at a time. */
			ais_client_put_batch(fs->client, bucket, &items[i].pi,
					     1);
			continue;
		}
		for (m = 0, j = i; j < n; j++) {
			if (items[j].how != W_BATCH || sent[j] ||
			    strcmp(items[j].loc.bucket, bucket) != 0)
				continue;
			sent[j] = true;
			idx[m] = j;
			pis[m++] = items[j].pi;
		}
		ais_client_put_batch(fs->client, bucket, pis, m);
		for (j = 0; j < m; j++)
			items[idx[j]].pi = pis[j];
	}
	free(pis);
	free(idx);
	free(sent);
}

/* Applies a batch item's answer. A failed one is PUT again alone
 * (W_ALONE), after the round's batch items are finished; only that one
 * counts. */
static void finish(struct afs_fs *fs, struct wb_item *it)
{
	struct afs_inode *in = it->e->in;
	struct afs_spool *sp = it->sp;
	int rc = it->pi.rc;

	pthread_mutex_lock(&sp->lock);
	sp->uploading = false;
	if (rc == 0) {
		afs_put_done(fs, in, sp, it->gen, &it->loc, &it->tok,
			     &it->pi.meta, it->missing);
	} else {
		afs_put_failed(fs, in, &it->loc);
		ais_log(LOG_WARNING, "%s/%s: write-back: %s%s%s (trying alone)",
			it->loc.bucket, it->loc.key, strerror(-rc),
			it->pi.errmsg[0] ? ": " : "", it->pi.errmsg);
		it->how = W_ALONE;
	}
	pthread_cond_broadcast(&sp->idle);
	pthread_mutex_unlock(&sp->lock);
	free(it->buf);
	it->buf = NULL;
}

/* A file PUT alone by a round: its error is logged (afs_file_commit) and
 * counted. */
static int alone(struct afs_fs *fs, struct wb_item *it)
{
	int rc = afs_file_commit(fs, it->e->in);

	if (rc)
		ais_log(LOG_ERR,
			"inode %llu: write-back failed: %s (a directory fsync "
			"reports it; the bytes are kept while the file is "
			"open)",
			(unsigned long long)it->e->in->ino, strerror(rc));
	return rc != 0;
}

static int seq_cmp(const void *a, const void *b)
{
	const struct wb_ent *x = *(struct wb_ent *const *)a;
	const struct wb_ent *y = *(struct wb_ent *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Puts entries back in the queue for a later round, where their sequence
 * numbers go: the queue stays sorted, so its head is its oldest entry
 * (oldest(), which syncs wait on). */
static void push_back(struct afs_wb *wb, struct wb_item *items, size_t n)
{
	struct wb_ent *back[AIS_PUT_BATCH_MAX], **pp, *e;
	size_t i, k = 0;

	for (i = 0; i < n && k < AIS_PUT_BATCH_MAX; i++)
		if (items[i].how == W_BACK)
			back[k++] = items[i].e;
	if (!k)
		return;
	qsort(back, k, sizeof(back[0]), seq_cmp);
	pthread_mutex_lock(&wb->lock);
	pp = &wb->head;
	for (i = 0; i < k; i++) {
		while (*pp && (*pp)->seq < back[i]->seq)
			pp = &(*pp)->next;
		e = back[i];
		e->next = *pp;
		*pp = e;
		pp = &e->next;
		if (!e->next)
			wb->tail = e;
		afs_inode_spool(e->in)->queued = true;
	}
	wb->queued += k;
	pthread_cond_signal(&wb->work);
	pthread_mutex_unlock(&wb->lock);
}

/* One round over ents[0..n) (taken off the queue). Returns how many
 * uploads failed. */
static uint64_t round_run(struct afs_wb *wb, struct wb_ent **ents, size_t n)
{
	struct afs_fs *fs = wb->fs;
	struct wb_item *items = calloc(n, sizeof(*items));
	uint64_t bytes = 0, failed = 0;
	size_t i;

	if (!items) {
		/* Out of memory: each one as a close without write-back. */
		for (i = 0; i < n; i++) {
			struct wb_item it = {.e = ents[i]};

			failed += alone(fs, &it);
			ent_free(fs, ents[i]);
		}
		return failed;
	}
	for (i = 0; i < n; i++) {
		items[i].e = ents[i];
		items[i].sp = afs_inode_spool(ents[i]->in); /* a user holds */
		if (bytes >= WB_ROUND_BYTES)
			items[i].how = W_BACK;
		else
			take(fs, &items[i], &bytes);
	}
	push_back(wb, items, n);
	send_items(fs, items, n);
	for (i = 0; i < n; i++)
		if (items[i].how == W_BATCH)
			finish(fs, &items[i]);
	/* Only now, with none of this round's spools uploading, may a PUT
	 * wait for another round's. */
	for (i = 0; i < n; i++) {
		if (items[i].how == W_ALONE)
			failed += alone(fs, &items[i]);
		if (items[i].how != W_BACK)
			ent_free(fs, items[i].e);
	}
	free(items);
	return failed;
}

static void *uploader(void *arg)
{
	struct afs_wb *wb = arg;
	struct wb_ent *ents[AIS_PUT_BATCH_MAX];
	unsigned me;
	uint64_t failed;
	size_t n;

	pthread_mutex_lock(&wb->lock);
	me = wb->ids++;
	for (;;) {
		uint64_t at;

		while (!wb->head && !wb->stopping)
			pthread_cond_wait(&wb->work, &wb->lock);
		if (!wb->head)
			break; /* stopping, and nothing left */
		at = gathered(wb);
		if (at) {
			struct timespec ts = {
			    .tv_sec = (time_t)(at / 1000000000),
			    .tv_nsec = (long)(at % 1000000000)};

			pthread_cond_timedwait(&wb->work, &wb->lock, &ts);
			continue;
		}
		for (n = 0; wb->head && n < AIS_PUT_BATCH_MAX; n++) {
			struct wb_ent *e = wb->head;

			wb->head = e->next;
			if (!wb->head)
				wb->tail = NULL;
			afs_inode_spool(e->in)->queued = false;
			ents[n] = e;
		}
		wb->queued -= n;
		wb->busy[me] = ents[0]->seq; /* the queue is sorted */
		if (wb->head)
			pthread_cond_signal(&wb->work); /* the rest: another */
		pthread_cond_broadcast(&wb->done);
		pthread_mutex_unlock(&wb->lock);

		failed = round_run(wb, ents, n);

		pthread_mutex_lock(&wb->lock);
		wb->errs += failed;
		wb->busy[me] = UINT64_MAX;
		pthread_cond_broadcast(&wb->done);
	}
	pthread_mutex_unlock(&wb->lock);
	return NULL;
}

int afs_wb_start(struct afs_fs *fs)
{
	struct afs_wb *wb = calloc(1, sizeof(*wb));
	pthread_condattr_t ca;
	struct rlimit rl;
	unsigned i;
	int rc;

	if (!wb)
		return -ENOMEM;
	pthread_mutex_init(&wb->lock, NULL);
	/* The gather wait's deadline is on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wb->work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&wb->done, NULL);
	wb->fs = fs;
	wb->max = WB_QUEUE_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 4 < wb->max)
		wb->max = rl.rlim_cur / 4 > 16 ? rl.rlim_cur / 4 : 16;
	for (i = 0; i < WB_THREADS; i++)
		wb->busy[i] = UINT64_MAX;
	for (i = 0; i < WB_THREADS; i++) {
		rc = pthread_create(&wb->threads[i], NULL, uploader, wb);
		if (rc) {
			ais_log(LOG_ERR, "write-back: cannot start: %s",
				strerror(rc));
			fs->wb = wb;
			wb->nthreads = i;
			afs_wb_stop(fs);
			return -rc;
		}
	}
	wb->nthreads = WB_THREADS;
	fs->wb = wb;
	return 0;
}

void afs_wb_stop(struct afs_fs *fs)
{
	struct afs_wb *wb = fs->wb;
	unsigned i, n;

	if (!wb)
		return;
	pthread_mutex_lock(&wb->lock);
	if (wb->queued)
		ais_log(LOG_NOTICE,
			"write-back: uploading the %zu files "
			"closed before the unmount",
			wb->queued);
	wb->stopping = true;
	pthread_cond_broadcast(&wb->work);
	pthread_cond_broadcast(&wb->done);
	n = wb->nthreads;
	pthread_mutex_unlock(&wb->lock);
	for (i = 0; i < n; i++)
		pthread_join(wb->threads[i], NULL);
	if (wb->errs)
		ais_log(LOG_ERR,
			"write-back: %llu uploads failed while mounted (see "
			"above)",
			(unsigned long long)wb->errs);
	fs->wb = NULL;
	pthread_cond_destroy(&wb->work);
	pthread_cond_destroy(&wb->done);
	pthread_mutex_destroy(&wb->lock);
	free(wb);
}

void afs_wb_failed(struct afs_fs *fs)
{
	struct afs_wb *wb = fs->wb;

	if (!wb)
		return;
	pthread_mutex_lock(&wb->lock);
	wb->errs++;
	pthread_mutex_unlock(&wb->lock);
}

uint64_t afs_wb_sample(struct afs_fs *fs)
{
	struct afs_wb *wb = fs->wb;
	uint64_t r;

	if (!wb)
		return 0;
	pthread_mutex_lock(&wb->lock);
	r = wb->reported;
	pthread_mutex_unlock(&wb->lock);
	return r;
}

/* Under wb->lock: the oldest seq queued or in a round. */
static uint64_t oldest(const struct afs_wb *wb)
{
	uint64_t o = wb->head ? wb->head->seq : UINT64_MAX;
	unsigned i;

	for (i = 0; i < WB_THREADS; i++)
		if (wb->busy[i] < o)
			o = wb->busy[i];
	return o;
}

int afs_wb_sync(struct afs_fs *fs, uint64_t *since)
{
	struct afs_wb *wb = fs->wb;
	uint64_t target;
	int rc = 0;

	if (!wb)
		return 0;
	pthread_mutex_lock(&wb->lock);
	target = wb->next_seq;
	if (oldest(wb) < target) {
		/* No round waits for more while someone waits for it. */
		wb->hurry++;
		pthread_cond_broadcast(&wb->work);
		while (oldest(wb) < target)
			pthread_cond_wait(&wb->done, &wb->lock);
		wb->hurry--;
	}
	if (since && wb->errs != *since) {
		*since = wb->errs;
		wb->reported = wb->errs;
		rc = -EIO;
	}
	pthread_mutex_unlock(&wb->lock);
	return rc;
}
