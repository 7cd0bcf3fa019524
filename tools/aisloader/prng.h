/* aisloader: fast seeded pseudo-random numbers (xoshiro256**) and keyed
 * permutations of [0, n) for visiting every name once per epoch. */
#ifndef AISLOADER_PRNG_H
#define AISLOADER_PRNG_H

#include <stddef.h>
#include <stdint.h>

/* One generator per thread; not thread-safe. 32 bytes, no heap. */
struct al_prng {
	uint64_t s[4];
};

#include "hash.h" /* ais_mix64: seeds and keys */

/* Seeds g from seed and a stream number (e.g. the worker index), so that
 * each (seed, stream) pair yields its own reproducible sequence. */
void al_prng_seed(struct al_prng *g, uint64_t seed, uint64_t stream);

static inline uint64_t al_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t al_prng_next(struct al_prng *g)
{
	uint64_t *s = g->s;
	uint64_t r = al_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = al_rotl(s[3], 45);
	return r;
}

/* A uniform value in [0, n) (n > 0), by Lemire's multiply-shift; the bias
 * for n far below 2^64 is negligible for load generation. */
static inline uint64_t al_prng_below(struct al_prng *g, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)al_prng_next(g) * n) >> 64);
}

/* Fills len bytes of buf with pseudo-random data (several GB/s). */
void al_prng_fill(struct al_prng *g, void *buf, size_t len);

/* A keyed bijection of [0, n): a 4-round Feistel network over the smallest
 * even-bit power-of-two domain >= n, walked until the value falls into
 * [0, n). Stateless, so any thread can map any index without locks or a
 * table. Different keys give unrelated orders. */
struct al_perm {
	uint64_t n;
	uint64_t key;
	unsigned half_bits;
	uint64_t half_mask;
};

void al_perm_init(struct al_perm *p, uint64_t n, uint64_t key);
/* i < p->n; returns the image of i, also < p->n. */
uint64_t al_perm_map(const struct al_perm *p, uint64_t i);

#endif
