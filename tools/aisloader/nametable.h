/* aisloader: the compact table of object names a GET workload reads, filled
 * by listing a bucket (one string arena plus offsets and sizes). */
#ifndef AISLOADER_NAMETABLE_H
#define AISLOADER_NAMETABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ais_client;

/* Immutable once loaded, so any number of threads may read it. Per name the
 * cost is its length + 1 (arena) + 16 bytes (offset, size): a million
 * 60-byte names take about 77 MB. */
struct al_names {
	char *arena;	  /* NUL-terminated names back to back */
	size_t arena_len; /* bytes used */
	size_t arena_cap;
	uint64_t *off;	/* off[i]: start of name i in arena */
	uint64_t *size; /* size[i]: object size from the listing */
	size_t n;
	size_t cap;
};

/* Lists every object of bucket whose name starts with prefix (recursively,
 * page by page) into t, which must be zeroed; with keep set, only the names
 * it accepts, and at most max of them (-EOVERFLOW past that). Returns 0, or
 * the client's -errno with errmsg set ("list b/p: ..."), or -ENOMEM. On
 * failure t holds what was read so far; free it with al_names_free either
 * way. */
int al_names_load(struct al_names *t, struct ais_client *c, const char *bucket,
		  const char *prefix, bool (*keep)(const char *name),
		  size_t max, char *errmsg);

/* Appends one name (for tests and callers that build a table by hand).
 * Returns 0 or -ENOMEM. */
int al_names_add(struct al_names *t, const char *name, size_t len,
		 uint64_t size);

static inline const char *al_names_get(const struct al_names *t, size_t i)
{
	return t->arena + t->off[i];
}

/* Frees what t owns and zeroes it. */
void al_names_free(struct al_names *t);

#endif
