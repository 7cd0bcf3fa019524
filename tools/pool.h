/* A fixed pool of worker threads fed through a bounded job queue, for the
 * parallel transfers of put -r, get -r and rm -r. */
#ifndef AIS_TOOLS_POOL_H
#define AIS_TOOLS_POOL_H

#include <stddef.h>
#include <stdint.h>

/* One unit of work. The strings are heap copies owned by the pool once
 * pushed, and freed after the job ran. */
struct pool_job {
	char *src; /* local path or object name */
	char *dst; /* object name or local path */
	uint64_t size;
	/* Or work of the caller's own shape (put -r: a batch of small
	 * files), owned by the pool like the strings: freed with
	 * batch_free after the job ran, or when it is dropped. */
	void *batch;
	void (*batch_free)(void *batch);
};

/* Runs one job on a worker thread; reports its own failures. Returns 0 or
 * -errno (counted by the pool). */
typedef int (*pool_fn)(void *ctx, const struct pool_job *job);

struct pool;

/* Starts nthreads workers (at least one must start) calling fn(ctx, job);
 * the queue holds at most qcap jobs. NULL on failure (errno set). */
struct pool *pool_new(unsigned nthreads, size_t qcap, pool_fn fn, void *ctx);

/* Queues a job, waiting while the queue is full. Takes ownership of the
 * job's strings in every case. Returns 0, or -ECANCELED when interrupted
 * (cli_interrupted); the job is then dropped. */
int pool_push(struct pool *p, struct pool_job job);

/* Waits until every queued job ran (or, when interrupted, until the workers
 * stopped), joins the workers and frees the pool. Returns the number of jobs
 * whose fn failed. */
uint64_t pool_finish(struct pool *p);

#endif
