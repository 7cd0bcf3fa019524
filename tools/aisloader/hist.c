/* aisloader: log-linear latency histograms (see hist.h). */
#include "hist.h"

#include <math.h>
#include <string.h>

#define SUB	    (1ULL << AL_HIST_SUB_BITS)
#define LOAD(p)	    atomic_load_explicit((p), memory_order_relaxed)
#define STORE(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)

unsigned al_hist_index(uint64_t v)
{
	unsigned m;

	if (v < SUB)
		return (unsigned)v;
	if (v >> AL_HIST_MAX_BITS)
		return AL_HIST_BUCKETS - 1;
	m = 63 - (unsigned)__builtin_clzll(v); /* AL_HIST_SUB_BITS..MAX-1 */
	return (unsigned)(((m - AL_HIST_SUB_BITS + 1) << AL_HIST_SUB_BITS) +
			  ((v >> (m - AL_HIST_SUB_BITS)) - SUB));
}

void al_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi)
{
	unsigned m, shift;

	if (idx < SUB) {
		*lo = *hi = idx;
		return;
	}
	m = (idx >> AL_HIST_SUB_BITS) + AL_HIST_SUB_BITS - 1;
	shift = m - AL_HIST_SUB_BITS;
	*lo = (SUB + (idx & (SUB - 1))) << shift;
	*hi = *lo + (1ULL << shift) - 1;
}

void al_hist_reset(struct al_hist *h)
{
	memset((void *)h, 0, sizeof(*h));
}

void al_hist_add(struct al_hist *dst, const struct al_hist *src)
{
	uint64_t total = 0, c, m;
	unsigned i;

	for (i = 0; i < AL_HIST_BUCKETS; i++) {
		c = LOAD(&src->buckets[i]);
		if (c) {
			STORE(&dst->buckets[i], LOAD(&dst->buckets[i]) + c);
			total += c;
		}
	}
	STORE(&dst->count, LOAD(&dst->count) + total);
	m = LOAD(&src->max);
	if (m > LOAD(&dst->max))
		STORE(&dst->max, m);
}

void al_hist_diff(struct al_hist *dst, const struct al_hist *a,
		  const struct al_hist *b)
{
	uint64_t total = 0, c, ca, cb, lo, hi = 0;
	unsigned i;

	for (i = 0; i < AL_HIST_BUCKETS; i++) {
		ca = LOAD(&a->buckets[i]);
		cb = LOAD(&b->buckets[i]);
		c = ca > cb ? ca - cb : 0;
		STORE(&dst->buckets[i], c);
		total += c;
		if (c)
			al_hist_bucket_range(i, &lo, &hi);
	}
	STORE(&dst->count, total);
	/* The exact maximum of a is a better bound when it lies in the top
	 * bucket of the difference. */
	if (total && LOAD(&a->max) <= hi)
		hi = LOAD(&a->max);
	STORE(&dst->max, total ? hi : 0);
}

uint64_t al_hist_quantile(const struct al_hist *h, double q)
{
	uint64_t count = LOAD(&h->count), max = LOAD(&h->max), target, seen = 0;
	uint64_t lo, hi, mid;
	unsigned i;

	if (count == 0)
		return 0;
	if (q > 1)
		q = 1;
	target = (uint64_t)ceil(q * (double)count);
	if (target < 1)
		target = 1;
	for (i = 0; i < AL_HIST_BUCKETS; i++) {
		seen += LOAD(&h->buckets[i]);
		if (seen >= target) {
			al_hist_bucket_range(i, &lo, &hi);
			mid = lo + (hi - lo) / 2;
			return mid > max ? max : mid;
		}
	}
	return max;
}
