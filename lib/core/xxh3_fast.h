/* XXH3-64 on the widest vector unit the CPU has (AVX2 on x86-64 where
 * present, else libxxhash as built). For the hot paths that hash object
 * bytes: whole-object checksums and block tables. The same values as
 * XXH3_64bits() and XXH3_64bits_update(). */
#ifndef AIS_XXH3_FAST_H
#define AIS_XXH3_FAST_H

#include <stddef.h>
#include <stdint.h>

/* XXH3_64bits(p, len). */
uint64_t ais_xxh3(const void *p, size_t len);

/* XXH3_64bits_update(state, p, len) of an XXH3_state_t made by libxxhash
 * (XXH3_createState, XXH3_64bits_reset); its digest is taken as usual. */
void ais_xxh3_update(void *state, const void *p, size_t len);

/* Which code ais_xxh3 runs: "avx2" or "libxxhash". */
const char *ais_xxh3_impl(void);

/* xxh3_avx2.c: only where AIS_XXH3_AVX2 is defined, only on CPUs with
 * AVX2. */
uint64_t ais__xxh3_avx2(const void *p, size_t len);
void ais__xxh3_avx2_update(void *state, const void *p, size_t len);

#endif
