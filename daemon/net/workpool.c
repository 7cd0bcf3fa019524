/* A small fixed pool of threads for short requests (or, niced, for a
 * rebalance's copies). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "net/workpool.h"

struct workpool {
	uv_async_t async;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct workpool_item *qhead, *qtail; /* to run */
	struct workpool_item *done;	     /* finished, for the loop */
	pthread_t *thr;
	int nthr;
	int nice;
	bool stop;
};

static void *worker(void *arg)
{
	struct workpool *wp = arg;
	struct workpool_item *it;

	/* Linux: a thread's nice value is its own. */
	if (wp->nice)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), wp->nice);
	pthread_mutex_lock(&wp->mu);
	for (;;) {
		while (!wp->qhead && !wp->stop)
			pthread_cond_wait(&wp->cv, &wp->mu);
		if (!wp->qhead)
			break;
		it = wp->qhead;
		wp->qhead = it->next;
		if (!wp->qhead)
			wp->qtail = NULL;
		pthread_mutex_unlock(&wp->mu);
		it->work(it);
		pthread_mutex_lock(&wp->mu);
		it->next = wp->done;
		wp->done = it;
		uv_async_send(&wp->async);
	}
	pthread_mutex_unlock(&wp->mu);
	return NULL;
}

static void on_async(uv_async_t *a)
{
	struct workpool *wp = a->data;
	struct workpool_item *list, *rev = NULL, *next;

	pthread_mutex_lock(&wp->mu);
	list = wp->done;
	wp->done = NULL;
	pthread_mutex_unlock(&wp->mu);
	/* Completion order: oldest first. */
	for (; list; list = next) {
		next = list->next;
		list->next = rev;
		rev = list;
	}
	for (; rev; rev = next) {
		next = rev->next;
		rev->done(rev);
	}
}

int workpool_new(uv_loop_t *loop, int nthreads, int nice, struct workpool **out)
{
	struct workpool *wp = calloc(1, sizeof(*wp));
	int i, rc;

	if (!wp)
		return -ENOMEM;
	wp->nice = nice;
	wp->thr = calloc((size_t)nthreads, sizeof(pthread_t));
	if (!wp->thr) {
		free(wp);
		return -ENOMEM;
	}
	pthread_mutex_init(&wp->mu, NULL);
	pthread_cond_init(&wp->cv, NULL);
	rc = uv_async_init(loop, &wp->async, on_async);
	if (rc) {
		free(wp->thr);
		free(wp);
		return rc;
	}
	wp->async.data = wp;
	for (i = 0; i < nthreads; i++) {
		rc = pthread_create(&wp->thr[i], NULL, worker, wp);
		if (rc)
			break;
		wp->nthr++;
	}
	*out = wp;
	return wp->nthr ? 0 : -rc;
}

void workpool_submit(struct workpool *wp, struct workpool_item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&wp->mu);
	if (wp->qtail)
		wp->qtail->next = it;
	else
		wp->qhead = it;
	wp->qtail = it;
	pthread_cond_signal(&wp->cv);
	pthread_mutex_unlock(&wp->mu);
}

static void on_closed(uv_handle_t *h)
{
	struct workpool *wp = h->data;

	pthread_mutex_destroy(&wp->mu);
	pthread_cond_destroy(&wp->cv);
	free(wp->thr);
	free(wp);
}

void workpool_close(struct workpool *wp)
{
	int i;

	pthread_mutex_lock(&wp->mu);
	wp->stop = true;
	pthread_cond_broadcast(&wp->cv);
	pthread_mutex_unlock(&wp->mu);
	for (i = 0; i < wp->nthr; i++)
		pthread_join(wp->thr[i], NULL);
	uv_close((uv_handle_t *)&wp->async, on_closed);
}
