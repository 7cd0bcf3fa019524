/* Directory times: the touched directories in a queue, and one thread
 * that stores their times in rounds (dirtime.h). The per-directory state
 * (afs_iext: dir_touched_ns, dir_busy, dir_queued) is under the module's
 * mutex, not the inode's spin lock: a store waits on it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "dirtime.h"
#include "fs.h"
#include "log.h"
#include "util.h"

/* A round gathers this long: a copy into one directory stores its time
 * about once a round. */
#define DT_ROUND_NS 1000000000LL

struct dt_ent {
	struct dt_ent *next;
	struct afs_inode *in; /* holds a ref */
};

struct afs_dirtimes {
	pthread_mutex_t mu;
	pthread_cond_t work; /* something queued, or stopping */
	pthread_cond_t idle; /* a store of some directory's times ended */
	struct dt_ent *head, **tail;
	bool stopping;
	pthread_t thread;
	struct afs_fs *fs;
};

/* Under dt->mu: in (touched) goes on the queue, with its own ref. */
static void requeue(struct afs_dirtimes *dt, struct afs_inode *in,
		    struct afs_iext *x)
{
	struct dt_ent *e = malloc(sizeof(*e));

	if (!e)
		return;
	e->in = afs_inode_get(dt->fs->itable, afs_nodeid(in));
	if (!e->in) {
		free(e);
		return;
	}
	e->next = NULL;
	*dt->tail = e;
	dt->tail = &e->next;
	x->dir_queued = true;
}

/* Stores in's pending time, waiting for an explicit change on its way. */
static void store_one(struct afs_dirtimes *dt, struct afs_inode *in)
{
	struct afs_iext *x = afs_iext(in);
	int64_t t;
	int rc;

	pthread_mutex_lock(&dt->mu);
	x->dir_queued = false;
	while (x->dir_busy)
		pthread_cond_wait(&dt->idle, &dt->mu);
	t = x->dir_touched_ns;
	if (t)
		x->dir_busy = true;
	pthread_mutex_unlock(&dt->mu);
	if (!t)
		return; /* dropped by an explicit change or a removal */
	rc = afs_dir_store_mtime(dt->fs, in, t);
	pthread_mutex_lock(&dt->mu);
	x->dir_busy = false;
	/* Stored (and applied to the inode): shown from the marker now,
	 * unless touched again meanwhile. Without a marker (-ENOENT): shown
	 * by this mount only. A node that did not answer: tried again next
	 * round (not once stopping: an unmount does not wait for it). */
	if (rc == 0 && x->dir_touched_ns == t)
		x->dir_touched_ns = 0;
	if (rc && rc != -ENOENT && x->dir_touched_ns && !x->dir_queued &&
	    !dt->stopping)
		requeue(dt, in, x);
	pthread_cond_broadcast(&dt->idle);
	pthread_mutex_unlock(&dt->mu);
}

static void *dt_thread(void *arg)
{
	struct afs_dirtimes *dt = arg;
	struct dt_ent *list, *e;
	struct timespec until;

	pthread_mutex_lock(&dt->mu);
	for (;;) {
		while (!dt->head && !dt->stopping)
			pthread_cond_wait(&dt->work, &dt->mu);
		if (!dt->head)
			break; /* stopping, nothing left */
		/* Let a round gather (a stop cuts it short). */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += DT_ROUND_NS % 1000000000LL;
		until.tv_sec +=
		    DT_ROUND_NS / 1000000000LL + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!dt->stopping &&
		       pthread_cond_timedwait(&dt->work, &dt->mu, &until) !=
			   ETIMEDOUT)
			;
		list = dt->head;
		dt->head = NULL;
		dt->tail = &dt->head;
		pthread_mutex_unlock(&dt->mu);
		while ((e = list)) {
			list = e->next;
			store_one(dt, e->in);
			afs_inode_put(dt->fs->itable, e->in);
			free(e);
		}
		pthread_mutex_lock(&dt->mu);
	}
	pthread_mutex_unlock(&dt->mu);
	return NULL;
}

int afs_dirtime_start(struct afs_fs *fs)
{
	struct afs_dirtimes *dt = calloc(1, sizeof(*dt));
	int rc;

	if (!dt)
		return -ENOMEM;
	pthread_mutex_init(&dt->mu, NULL);
	pthread_cond_init(&dt->work, NULL);
	pthread_cond_init(&dt->idle, NULL);
	dt->tail = &dt->head;
	dt->fs = fs;
	rc = pthread_create(&dt->thread, NULL, dt_thread, dt);
	if (rc) {
		pthread_cond_destroy(&dt->idle);
		pthread_cond_destroy(&dt->work);
		pthread_mutex_destroy(&dt->mu);
		free(dt);
		return -rc;
	}
	fs->dirtimes = dt;
	return 0;
}

void afs_dirtime_stop(struct afs_fs *fs)
{
	struct afs_dirtimes *dt = fs->dirtimes;

	if (!dt)
		return;
	pthread_mutex_lock(&dt->mu);
	dt->stopping = true;
	pthread_cond_broadcast(&dt->work);
	pthread_mutex_unlock(&dt->mu);
	pthread_join(dt->thread, NULL);
	fs->dirtimes = NULL;
	pthread_cond_destroy(&dt->idle);
	pthread_cond_destroy(&dt->work);
	pthread_mutex_destroy(&dt->mu);
	free(dt);
}

/* dir's ext, made if need be; NULL without the thread, for anything but a
 * directory, or on ENOMEM (then its time does not move: never queued). */
static struct afs_iext *dir_ext(struct afs_fs *fs, struct afs_inode *dir)
{
	if (!fs->dirtimes || dir->kind != AFS_DIR)
		return NULL;
	return afs_inode_ext(dir);
}

void afs_dirtime_touch(struct afs_fs *fs, struct afs_inode *dir)
{
	struct afs_dirtimes *dt = fs->dirtimes;
	struct afs_iext *x = dir_ext(fs, dir);

	if (!x)
		return;
	pthread_mutex_lock(&dt->mu);
	x->dir_touched_ns = ais_now_real_ns();
	/* Not queued (ENOMEM, stopping): shown by this mount only. */
	if (!x->dir_queued && !dt->stopping) {
		requeue(dt, dir, x);
		pthread_cond_signal(&dt->work);
	}
	pthread_mutex_unlock(&dt->mu);
}

int64_t afs_dirtime_pending(struct afs_fs *fs, struct afs_inode *dir)
{
	struct afs_dirtimes *dt = fs->dirtimes;
	struct afs_iext *x = afs_iext(dir);
	int64_t t;

	if (!dt || !x)
		return 0;
	pthread_mutex_lock(&dt->mu);
	t = x->dir_touched_ns;
	pthread_mutex_unlock(&dt->mu);
	return t;
}

void afs_dirtime_begin(struct afs_fs *fs, struct afs_inode *dir)
{
	struct afs_dirtimes *dt = fs->dirtimes;
	struct afs_iext *x = dir_ext(fs, dir);

	if (!x)
		return;
	pthread_mutex_lock(&dt->mu);
	x->dir_touched_ns = 0;
	while (x->dir_busy)
		pthread_cond_wait(&dt->idle, &dt->mu);
	x->dir_busy = true;
	pthread_mutex_unlock(&dt->mu);
}

void afs_dirtime_end(struct afs_fs *fs, struct afs_inode *dir)
{
	struct afs_dirtimes *dt = fs->dirtimes;
	struct afs_iext *x = afs_iext(dir);

	if (!dt || !x || dir->kind != AFS_DIR)
		return;
	pthread_mutex_lock(&dt->mu);
	x->dir_busy = false;
	pthread_cond_broadcast(&dt->idle);
	pthread_mutex_unlock(&dt->mu);
}
