/* The one string hash of the tree (hash tables, lock stripes, synthetic
 * inode numbers): XXH3-64, the hash HRW placement uses too. Not for
 * anything persistent across versions, nor for security. */
#ifndef AIS_HASH_H
#define AIS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of len bytes at p, with seed. Chaining (the hash of one part as
 * the seed of the next) hashes several parts without gluing them. */
uint64_t ais_hash(const void *p, size_t len, uint64_t seed);

/* ais_hash of a NUL-terminated string. */
uint64_t ais_hash_str(const char *s, uint64_t seed);

/* The one integer mixer (splitmix64's step and finalizer): a bijection
 * of 64-bit values with good avalanche, for seeds, keys and hash slots.
 * ais_mix64(s), ais_mix64(s + 1), ... is the splitmix64 sequence from s. */
static inline uint64_t ais_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#endif
