/* The one string hash: XXH3-64; and XXH3 over object bytes on the widest
 * vector unit (xxh3_fast.h). */
#include "hash.h"
#include "xxh3_fast.h"

#include <stdbool.h>
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

#ifdef AIS_XXH3_AVX2
static bool have_avx2(void)
{
	return __builtin_cpu_supports("avx2");
}
#else
static bool have_avx2(void)
{
	return false;
}
#endif

uint64_t ais_xxh3(const void *p, size_t len)
{
	if (have_avx2())
		return ais__xxh3_avx2(p, len);
	return XXH3_64bits(p, len);
}

void ais_xxh3_update(void *state, const void *p, size_t len)
{
	if (have_avx2())
		ais__xxh3_avx2_update(state, p, len);
	else
		(void)XXH3_64bits_update(state, p, len);
}

const char *ais_xxh3_impl(void)
{
	return have_avx2() ? "avx2" : "libxxhash";
}
