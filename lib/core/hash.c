/* The one string hash: XXH3-64. */
#include "hash.h"

#include <string.h>

#include <xxhash.h>

uint64_t ais_hash(const void *p, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, len, seed);
}

uint64_t ais_hash_str(const char *s, uint64_t seed)
{
	return XXH3_64bits_withSeed(s, strlen(s), seed);
}
