/* Highest random weight (rendezvous) hashing over XXH3-64. */
#include "hrw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

uint64_t ais_hrw_weight(const char *id, const char *key, size_t keylen)
{
	uint64_t seed = XXH3_64bits(id, strlen(id));

	return XXH3_64bits_withSeed(key, keylen, seed);
}

/* True if (wa, a) ranks before (wb, b): higher weight first, then the
 * smaller id, so that equal weights still give one answer everywhere. */
static int ranks_before(uint64_t wa, const char *a, uint64_t wb, const char *b)
{
	if (wa != wb)
		return wa > wb;
	return strcmp(a, b) < 0;
}

int ais_hrw_pick(const char *const *ids, size_t n, const char *key,
		 size_t keylen)
{
	uint64_t best_w = 0;
	int best = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t w = ais_hrw_weight(ids[i], key, keylen);

		if (best < 0 || ranks_before(w, ids[i], best_w, ids[best])) {
			best = (int)i;
			best_w = w;
		}
	}
	return best;
}

void ais_hrw_rank(const char *const *ids, size_t n, const char *key,
		  size_t keylen, int *order)
{
	uint64_t *w;
	size_t i, j;

	w = malloc(n * sizeof(*w));
	for (i = 0; i < n; i++) {
		order[i] = (int)i;
		if (w != NULL)
			w[i] = ais_hrw_weight(ids[i], key, keylen);
	}
	if (w == NULL) {
		/* Out of memory: still a valid order for the first pick. */
		int best = ais_hrw_pick(ids, n, key, keylen);

		if (best > 0) {
			order[best] = 0;
			order[0] = best;
		}
		return;
	}
	/* Insertion sort: n is the number of nodes or disks, small. */
	for (i = 1; i < n; i++) {
		int cur = order[i];

		for (j = i;
		     j > 0 && ranks_before(w[cur], ids[cur], w[order[j - 1]],
					   ids[order[j - 1]]);
		     j--)
			order[j] = order[j - 1];
		order[j] = cur;
	}
	free(w);
}

int ais_hrw_key(const char *bucket, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", bucket, name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}
