/* aisloader: seeding, bulk fill and keyed permutations (see prng.h). */
#include "prng.h"

#include <string.h>

void al_prng_seed(struct al_prng *g, uint64_t seed, uint64_t stream)
{
	uint64_t x =
	    ais_mix64(seed) ^ ais_mix64(stream + 0x632be59bd9b4e019ULL);
	int i;

	for (i = 0; i < 4; i++) {
		x += 0x9e3779b97f4a7c15ULL;
		g->s[i] = ais_mix64(x);
	}
	/* xoshiro must not start from the all-zero state. */
	if ((g->s[0] | g->s[1] | g->s[2] | g->s[3]) == 0)
		g->s[0] = 1;
}

void al_prng_fill(struct al_prng *g, void *buf, size_t len)
{
	unsigned char *p = buf;
	uint64_t v;

	while (len >= 8) {
		v = al_prng_next(g);
		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		v = al_prng_next(g);
		memcpy(p, &v, len);
	}
}

void al_perm_init(struct al_perm *p, uint64_t n, uint64_t key)
{
	unsigned bits = 2;

	p->n = n;
	p->key = key;
	while (bits < 64 && (1ULL << bits) < n)
		bits += 2;
	p->half_bits = bits / 2;
	p->half_mask = (1ULL << p->half_bits) - 1;
}

static uint64_t feistel(const struct al_perm *p, uint64_t x)
{
	uint64_t l = x >> p->half_bits, r = x & p->half_mask, t;
	int round;

	for (round = 0; round < 4; round++) {
		t = r;
		r = l ^ (ais_mix64(r ^ p->key ^
				   ((uint64_t)round * 0xd6e8feb86659fd93ULL)) &
			 p->half_mask);
		l = t;
	}
	return (l << p->half_bits) | r;
}

uint64_t al_perm_map(const struct al_perm *p, uint64_t i)
{
	uint64_t x = i;

	if (p->n <= 1)
		return 0;
	/* Cycle walking: the domain is at most 4n, so this takes fewer than
	 * four steps on average, and it terminates because the Feistel
	 * network is a bijection whose cycle through i contains i itself. */
	do {
		x = feistel(p, x);
	} while (x >= p->n);
	return x;
}
