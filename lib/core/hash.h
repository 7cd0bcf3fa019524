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

#endif
