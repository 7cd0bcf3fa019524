/* XXH3-64 built for AVX2: libxxhash's own code, inlined from its header
 * (XXH_INLINE_ALL) into this file alone, which is compiled with -mavx2.
 * Debian's libxxhash is built for the x86-64 baseline (SSE2); AVX2 hashes
 * a 64 KiB block in half the time. The values are XXH3's whatever the
 * vector unit. Called only where the CPU has AVX2 (hash.c decides). */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "xxh3_fast.h"

uint64_t ais__xxh3_avx2(const void *p, size_t len)
{
	return XXH3_64bits(p, len);
}

/* The state is libxxhash's XXH3_state_t, the same struct under the
 * inlined names. */
void ais__xxh3_avx2_update(void *state, const void *p, size_t len)
{
	(void)XXH3_64bits_update((XXH3_state_t *)state, p, len);
}
