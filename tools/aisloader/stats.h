/* aisloader: per-worker counters and latency histograms (lock-free on the
 * hot path), merged by the reporting thread into interval lines, the final
 * summary and the --json object. */
#ifndef AISLOADER_STATS_H
#define AISLOADER_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"

enum al_op { AL_OP_GET = 0, AL_OP_PUT = 1, AL_OP_N };

/* errno values 1..AL_ERRNO_SLOTS-1 are counted one by one; larger ones
 * share slot 0. */
#define AL_ERRNO_SLOTS 160
/* How many error messages are kept verbatim for the report. */
#define AL_FIRST_ERRORS 5

struct al_opstats {
	_Atomic uint64_t ops; /* successful operations */
	_Atomic uint64_t bytes;
	_Atomic uint64_t errors;
	struct al_hist lat; /* latency of successful operations, ns */
};

/* Written by one worker thread only (relaxed atomics, no locks), read by
 * the reporter. Cache-line aligned so that workers do not share lines. */
struct al_wstats {
	struct al_opstats op[AL_OP_N];
	_Atomic uint64_t by_errno[AL_ERRNO_SLOTS];
} __attribute__((aligned(64)));

struct al_stats;

/* Allocates the statistics of nworkers workers. NULL on ENOMEM. */
struct al_stats *al_stats_new(unsigned nworkers);
void al_stats_free(struct al_stats *s);

/* Names op in interval lines, the summary and logged errors (default
 * "GET", "PUT"); label must outlive s. The JSON keys do not change. */
void al_stats_set_label(struct al_stats *s, enum al_op op, const char *label);

struct al_wstats *al_stats_worker(struct al_stats *s, unsigned i);

static inline void al_ctr_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* A successful operation: latency in ns, bytes moved. Lock-free. */
static inline void al_stats_ok(struct al_wstats *w, enum al_op op,
			       uint64_t lat_ns, uint64_t bytes)
{
	al_ctr_add(&w->op[op].ops, 1);
	al_ctr_add(&w->op[op].bytes, bytes);
	al_hist_record(&w->op[op].lat, lat_ns);
}

/* A failed operation (rc < 0). The first AL_FIRST_ERRORS messages are kept
 * (and logged) under a mutex taken only while that many are still missing;
 * object is "bucket/name"; msg may be NULL or empty. */
void al_stats_err(struct al_stats *s, struct al_wstats *w, enum al_op op,
		  int rc, const char *object, const char *msg);

/* Total failed operations so far. */
uint64_t al_stats_errors(struct al_stats *s);

/* Prints one line per op type in mask (bit 1 << AL_OP_*) for the interval
 * since the previous call (or the start): "  5.0s  GET 12,345 ops/s ...".
 * elapsed_ns is the time since the start, dt_ns the interval's length. */
void al_stats_interval(struct al_stats *s, unsigned mask, uint64_t elapsed_ns,
		       uint64_t dt_ns, FILE *out);

/* What the summary and the JSON object report besides the counters. */
struct al_run_info {
	const char *bucket;
	const char *prefix;
	unsigned workers;
	unsigned conns; /* requests in flight */
	uint64_t seed;
	unsigned put_pct;
	const char *order;
	uint64_t duration_ns;
	bool interrupted;
	bool cleanup;
	uint64_t cleanup_deleted;
	uint64_t cleanup_errors;
	/* --members: the GETs read shard members of this table. */
	bool members;
	uint64_t shards;
	uint64_t shard_members;
	uint64_t shard_member_bytes;
	uint64_t shards_with_errors;
};

/* The final human-readable summary, per op type in mask and in total,
 * errors by errno and the first messages. */
void al_stats_summary(struct al_stats *s, unsigned mask,
		      const struct al_run_info *ri, FILE *out);

/* One JSON object (and a newline) with the totals, by op and by errno. */
void al_stats_json(struct al_stats *s, const struct al_run_info *ri, FILE *out);

/* "12,345,678" into buf; returns buf. */
char *al_fmt_count(uint64_t n, char *buf, size_t len);

#endif
