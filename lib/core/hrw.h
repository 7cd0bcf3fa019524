/* Highest random weight (rendezvous) hashing: the owner of a key among a set
 * of ids. Used for node placement (ids = node ids, key = "bucket/name") and,
 * inside a node, for mountpath placement (ids = mountpath paths). */
#ifndef AIS_HRW_H
#define AIS_HRW_H

#include <stddef.h>
#include <stdint.h>

/* The weight of key for one id: XXH3-64 of the key seeded by XXH3-64(id). */
uint64_t ais_hrw_weight(const char *id, const char *key, size_t keylen);

/* Index of the id with the highest weight for key (ties: the smaller id by
 * strcmp); -1 when n == 0. */
int ais_hrw_pick(const char *const *ids, size_t n, const char *key,
		 size_t keylen);

/* Fills order[0..n-1] with the indexes of ids from highest weight to lowest
 * (order[0] == ais_hrw_pick). For replicas and fallbacks. */
void ais_hrw_rank(const char *const *ids, size_t n, const char *key,
		  size_t keylen, int *order);

/* Builds the placement key "bucket/name" into buf; returns its length, or
 * -ENAMETOOLONG if it does not fit. */
int ais_hrw_key(const char *bucket, const char *name, char *buf, size_t len);

#endif
