/* A fixed pool of worker threads fed through a bounded job queue. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "pool.h"

#define POLL_MS 100 /* how often waiters look at cli_interrupted */

struct pool {
	pool_fn fn;
	void *ctx;

	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	struct pool_job *q; /* ring of qcap jobs */
	size_t qcap, head, count;
	bool closing; /* no more jobs will be pushed */
	uint64_t failed;

	unsigned nthreads;
	pthread_t *threads;
};

static void job_free(struct pool_job *j)
{
	free(j->src);
	free(j->dst);
	if (j->batch)
		j->batch_free(j->batch);
}

static void deadline(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += POLL_MS * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *worker_main(void *arg)
{
	struct pool *p = arg;
	struct pool_job job;
	struct timespec ts;
	int rc;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->count == 0 && !p->closing && !cli_interrupted) {
			deadline(&ts);
			pthread_cond_timedwait(&p->not_empty, &p->lock, &ts);
		}
		if (cli_interrupted || (p->count == 0 && p->closing))
			break;
		job = p->q[p->head];
		p->head = (p->head + 1) % p->qcap;
		p->count--;
		pthread_cond_signal(&p->not_full);
		pthread_mutex_unlock(&p->lock);

		rc = p->fn(p->ctx, &job);
		job_free(&job);

		pthread_mutex_lock(&p->lock);
		if (rc < 0)
			p->failed++;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct pool *pool_new(unsigned nthreads, size_t qcap, pool_fn fn, void *ctx)
{
	struct pool *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	int err = ENOMEM;

	if (!p)
		return NULL;
	p->fn = fn;
	p->ctx = ctx;
	p->qcap = qcap ? qcap : 1;
	p->q = calloc(p->qcap, sizeof(*p->q));
	p->threads = calloc(nthreads ? nthreads : 1, sizeof(*p->threads));
	if (!p->q || !p->threads)
		goto err_free;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->not_empty, &ca);
	pthread_cond_init(&p->not_full, &ca);
	pthread_condattr_destroy(&ca);
	for (p->nthreads = 0; p->nthreads < nthreads; p->nthreads++) {
		err = pthread_create(&p->threads[p->nthreads], NULL,
				     worker_main, p);
		if (err)
			break; /* run with the workers we got */
	}
	if (p->nthreads == 0)
		goto err_destroy;
	return p;

err_destroy:
	pthread_cond_destroy(&p->not_full);
	pthread_cond_destroy(&p->not_empty);
	pthread_mutex_destroy(&p->lock);
err_free:
	free(p->threads);
	free(p->q);
	free(p);
	errno = err;
	return NULL;
}

int pool_push(struct pool *p, struct pool_job job)
{
	struct timespec ts;

	pthread_mutex_lock(&p->lock);
	while (p->count == p->qcap && !cli_interrupted) {
		deadline(&ts);
		pthread_cond_timedwait(&p->not_full, &p->lock, &ts);
	}
	if (cli_interrupted) {
		pthread_mutex_unlock(&p->lock);
		job_free(&job);
		return -ECANCELED;
	}
	p->q[(p->head + p->count) % p->qcap] = job;
	p->count++;
	pthread_cond_signal(&p->not_empty);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

uint64_t pool_finish(struct pool *p)
{
	uint64_t failed;
	unsigned i;

	pthread_mutex_lock(&p->lock);
	p->closing = true;
	pthread_cond_broadcast(&p->not_empty);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* Jobs left behind by an interrupt. */
	while (p->count) {
		job_free(&p->q[p->head]);
		p->head = (p->head + 1) % p->qcap;
		p->count--;
	}
	failed = p->failed;
	pthread_cond_destroy(&p->not_full);
	pthread_cond_destroy(&p->not_empty);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->q);
	free(p);
	return failed;
}
