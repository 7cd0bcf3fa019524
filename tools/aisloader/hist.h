/* aisloader: fixed-size log-linear latency histograms (HDR-style), written
 * by one thread without locks and merged by another. */
#ifndef AISLOADER_HIST_H
#define AISLOADER_HIST_H

#include <stdatomic.h>
#include <stdint.h>

/* Values are nanoseconds. Below 2^AL_HIST_SUB_BITS each value has its own
 * bucket; above, every power of two is split into 2^AL_HIST_SUB_BITS equal
 * buckets, so a bucket is at most 1/128 (0.8%) of its values wide and the
 * midpoint reported for a percentile is within 0.4% of the truth. Values at
 * or above 2^AL_HIST_MAX_BITS ns (about 18 minutes) land in the top bucket.
 * Memory: AL_HIST_BUCKETS * 8 bytes = 34 KiB. */
#define AL_HIST_SUB_BITS 7
#define AL_HIST_MAX_BITS 40
#define AL_HIST_BUCKETS                                                        \
	((AL_HIST_MAX_BITS - AL_HIST_SUB_BITS + 1) << AL_HIST_SUB_BITS)

/* Counters are atomics accessed with relaxed loads and stores: exactly one
 * thread records into a histogram, and any thread may read it (a reader
 * sees each counter either before or after an update, never torn). Zeroed
 * memory (calloc, memset) is an empty histogram. */
struct al_hist {
	_Atomic uint64_t count;
	_Atomic uint64_t max; /* exact largest recorded value */
	_Atomic uint64_t buckets[AL_HIST_BUCKETS];
};

/* The bucket index of value v, and the range [lo, hi] a bucket covers. */
unsigned al_hist_index(uint64_t v);
void al_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi);

/* Single writer only. No locks, no allocation. */
static inline void al_hist_record(struct al_hist *h, uint64_t v)
{
	_Atomic uint64_t *b = &h->buckets[al_hist_index(v)];

	atomic_store_explicit(b,
			      atomic_load_explicit(b, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(
	    &h->count,
	    atomic_load_explicit(&h->count, memory_order_relaxed) + 1,
	    memory_order_relaxed);
	if (v > atomic_load_explicit(&h->max, memory_order_relaxed))
		atomic_store_explicit(&h->max, v, memory_order_relaxed);
}

void al_hist_reset(struct al_hist *h);

/* dst += src (dst must not be written concurrently; src may be). The
 * count is recomputed from the buckets so that dst is self-consistent even
 * when src changes while it is read. */
void al_hist_add(struct al_hist *dst, const struct al_hist *src);

/* dst = a - b, where b is an earlier snapshot of the same cumulative
 * histogram as a (so every bucket of a is >= that of b). max becomes the
 * upper end of the highest non-empty bucket of the difference, since the
 * exact maximum of an interval is not kept. */
void al_hist_diff(struct al_hist *dst, const struct al_hist *a,
		  const struct al_hist *b);

/* The value at quantile q (0 < q <= 1): the midpoint of the bucket holding
 * the ceil(q * count)-th smallest value, never above max. 0 when empty. */
uint64_t al_hist_quantile(const struct al_hist *h, double q);

#endif
