/* aisloader: the worker threads (GET/PUT loop, name selection, generated
 * content) and the parallel cleanup of what a run PUT. */
#ifndef AISLOADER_WORKER_H
#define AISLOADER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "members.h"
#include "names.h"
#include "nametable.h"
#include "opts.h"
#include "prng.h"
#include "stats.h"

#include "client_async.h"

struct ais_client;

/* Per-worker scratch buffer: PUTs up to this size are generated into it and
 * sent with ais_client_put_buf; larger ones are generated chunk by chunk
 * while streaming. GET data is copied through it. */
#define AL_BUF_SIZE (256 * 1024)

/* State shared by all workers of a run. Set up by the caller before
 * al_run_start; the atomics are the only fields written during the run. */
struct al_run {
	const struct al_opts *o;
	struct ais_client *client;
	struct al_stats *stats;
	const struct al_names *names; /* listed objects (GET targets) */
	/* --members: the shard members to GET (names is then &members->members,
	 * so that picking and epochs work on members as on objects); NULL
	 * otherwise. */
	const struct al_members *members;

	/* Generated names: "<gen_prefix>aisloader-<seed>-<n>", n < n_gen.
	 * written has a bit per name, set once a PUT of it succeeded: GETs
	 * read them when nothing was listed, and --cleanup deletes them. */
	char gen_prefix[AIS_NAME_MAX + 1];
	uint64_t n_gen;
	_Atomic uint64_t *written; /* (n_gen + 63) / 64 words, or NULL */

	uint64_t epoch_ops; /* operations per epoch */
	uint64_t op_limit;  /* epochs * epoch_ops, or 0 for none */

	_Atomic uint64_t tickets;    /* operations started (for op_limit) */
	_Atomic uint64_t get_cursor; /* --order seq positions */
	_Atomic uint64_t put_cursor;
	atomic_bool stop;
	atomic_uint running;  /* workers not yet finished */
	atomic_bool cleaning; /* cleanup, not load */

	uint64_t start_ns;
	_Atomic uint64_t end_ns; /* when the last worker finished */
	_Atomic uint64_t cleanup_deleted;
	_Atomic uint64_t cleanup_errors;
};

struct al_worker;

/* One GET in flight of a worker: its request, its target and its start. */
struct al_slot {
	struct ais_aget g;
	struct al_worker *w;
	uint64_t t0;
	bool busy;
	/* The target for messages ("shard/path" for a member, possibly
	 * truncated); also the object name the GET asks for. */
	char name[AIS_NAME_MAX + 64];
};

struct al_worker {
	struct al_run *run;
	unsigned id;
	pthread_t tid;
	bool started;
	struct al_prng g;
	struct al_wstats *ws;
	unsigned char *buf; /* AL_BUF_SIZE */
	/* Cached permutations of the current seq epochs. */
	uint64_t get_epoch, put_epoch;
	struct al_perm get_perm, put_perm;
	unsigned consecutive_errors;
	/* GETs go through an ais_async with n_slots of them in flight (the
	 * worker's share of --conns); a PUT (only with one slot) blocks. */
	struct ais_async *async;
	struct al_slot *slots;
	unsigned n_slots;
	size_t sink_pos; /* where GET data is copied into buf next */
	char name[AIS_NAME_MAX + 64]; /* the PUT's or cleanup's object */
};

/* Formats generated name n into buf (AIS_NAME_MAX + 64 bytes). */
void al_gen_name(const struct al_run *r, uint64_t n, char *buf, size_t len);

/* The size of generated object n: fixed, or uniform in [min, max] as a
 * function of (seed, n), so that a GET knows it without asking. */
uint64_t al_gen_size(const struct al_run *r, uint64_t n);

/* Starts n workers (w is caller-allocated and zeroed), which share
 * r->o->conns GETs in flight. With cleanup false they run the load until
 * r->stop or the op limit; with cleanup true they delete the generated names
 * whose written bit is set (sharing put_cursor, which this resets). r->running
 * counts the live ones. Returns 0 or -errno (then the workers already started
 * are stopped and joined). */
int al_workers_start(struct al_run *r, struct al_worker *w, unsigned n,
		     bool cleanup);

/* Joins the started workers (their buffers stay for the next start). */
void al_workers_join(struct al_worker *w, unsigned n);

/* Frees the workers' buffers (after the last join). */
void al_workers_free(struct al_worker *w, unsigned n);

#endif
