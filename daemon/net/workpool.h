/* A small fixed pool of threads, apart from the libuv threadpool, that runs
 * the short metadata requests (HEAD, LIST, PING, JOIN, ...). Requests that
 * wait on other nodes (PUT and RENAME probe them for name conflicts) run in
 * the libuv pool, so two nodes probing each other can never use up each
 * other's threads and deadlock. Completions are reported on the loop. */
#ifndef AISD_NET_WORKPOOL_H
#define AISD_NET_WORKPOOL_H

#include <uv.h>

/* Caller-allocated; must stay valid until done runs (on the loop thread). */
struct workpool_item {
	struct workpool_item *next;
	void (*work)(struct workpool_item *it); /* on a pool thread */
	void (*done)(struct workpool_item *it); /* on the loop thread */
	void *data;
};

struct workpool;

/* Starts nthreads threads, at nice value `nice` (0: the process's; higher:
 * they yield the CPU to the other threads). Returns 0 with *out, or
 * -errno. */
int workpool_new(uv_loop_t *loop, int nthreads, int nice,
		 struct workpool **out);

void workpool_submit(struct workpool *wp, struct workpool_item *it);

/* Stops the threads (after the queue is empty; call when no item is
 * pending) and closes the loop handle; the pool is freed by the loop. */
void workpool_close(struct workpool *wp);

#endif
