/* libais: many GETs in flight from one thread.
 *
 * The calls of client.h block their thread for the whole exchange, so a
 * program that wants N requests in flight needs N threads, and every answer
 * wakes one of them. A struct ais_async instead keeps one connection per
 * request in flight (to the object's owner, as client.h does) under one
 * epoll set, and ais_async_run() handles whatever answers are ready, many
 * per wake-up: N requests in flight from one thread, as an event-driven
 * HTTP client does. It is what aisloader's --conns runs on.
 *
 * One struct ais_async belongs to one thread (it has no lock); several may
 * share one struct ais_client. Requests follow the rules of client.h: a
 * pooled connection found dead before any answer byte is retried on a fresh
 * one; a connection error is retried once more while no body byte has been
 * handed to the caller; WRONG_NODE is followed up to three times; a
 * whole-object GET verifies the checksum (-EBADMSG); no progress for
 * io_timeout_ms gives -ETIMEDOUT. Connecting is the one blocking step
 * (bounded by connect_timeout_ms); it happens once per connection, which is
 * then kept for the next requests.
 */
#ifndef AIS_CLIENT_ASYNC_H
#define AIS_CLIENT_ASYNC_H

#include <stdint.h>

#include "client.h"

struct ais_async;

/* One GET, owned by the caller until its done() has been called. */
struct ais_aget {
	/* In. The strings must stay valid until done(). */
	const char *bucket;
	const char *name;     /* the object, or the shard of archpath */
	const char *archpath; /* NULL: the object itself; else a member */
	uint64_t off, len;    /* len 0: to the end */
	const char *etl;      /* NULL, or read through this transform (the
				 whole object or member: off, len 0); its
				 -EBUSY is the caller's to retry */
	const char *etl_args;
	ais_write_cb cb; /* body bytes as they arrive; NULL: dropped */
	void *arg;
	/* Called once, from ais_async_run, with 0 or -errno and a one-line
	 * message (empty on success). It may submit new GETs. */
	void (*done)(struct ais_aget *g, int rc, const char *errmsg);
	void *user;

	/* Out, valid in done(). */
	uint64_t bytes;		  /* body bytes handed to cb */
	struct ais_obj_meta meta; /* meta.size: the whole object's size */
};

/* A new, empty multiplexer over client c (which must outlive it). NULL on
 * ENOMEM or when epoll is not available, with errmsg set. */
struct ais_async *ais_async_new(struct ais_client *c, char *errmsg);

/* Fails every GET still in flight with -ECANCELED (calling their done();
 * a GET those submit is refused with -ECANCELED and its done() not called),
 * gives clean idle connections back to the client's pools and frees a. */
void ais_async_free(struct ais_async *a);

/* Sends g to the owner of its object. Returns 0: g is in flight and its
 * done() will be called by a later ais_async_run; or -errno with errmsg set
 * (bad names, no node, cannot connect): done() is not called. */
int ais_async_get(struct ais_async *a, struct ais_aget *g, char *errmsg);

/* Waits at most timeout_ms (-1: until something happens; 0: not at all)
 * for answers, handles every one that is ready and calls the done() of the
 * GETs that finished. Returns how many finished, 0 if none (nothing in
 * flight, or the time ran out), or -errno if the wait itself failed. */
int ais_async_run(struct ais_async *a, int timeout_ms);

/* GETs submitted whose done() has not been called yet. */
unsigned ais_async_inflight(const struct ais_async *a);

#endif
