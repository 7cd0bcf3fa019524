/* aisloader: the table of shard members a --members GET workload reads (the
 * shards under a bucket/prefix and their regular-file members, listed into
 * compact name tables: no allocation per member). */
#ifndef AISLOADER_MEMBERS_H
#define AISLOADER_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "nametable.h"

struct ais_client;
struct ais_list_page;

/* Immutable once loaded, so any number of threads may read it. Member i is
 * the path al_names_get(&members, i), members.size[i] bytes long, of the
 * shard object al_names_get(&shards, shard_of[i]). Per member the cost is
 * its path length + 1 (arena) + 20 bytes (offset, size, shard number): a
 * million members named like "n01440764/sample-00012345.jpg" take about
 * 50 MB. Zero it before use; free with al_members_free. */
struct al_members {
	struct al_names shards;	 /* shard objects (size: the shard's) */
	struct al_names members; /* member paths and sizes */
	uint32_t *shard_of;	 /* shard number of each member */
	size_t shard_of_cap;
	uint64_t member_bytes; /* sum of members.size */
	size_t bad_shards;     /* shards with an index error or not listed */
};

/* Appends one member of shard number shard (< shards.n). Returns 0 or
 * -ENOMEM (then t is unchanged). */
int al_members_add(struct al_members *t, uint32_t shard, const char *path,
		   size_t len, uint64_t size);

/* Appends the regular-file members of one shard listing page (entries that
 * are neither prefixes nor directories, links or special files) as members
 * of shard number shard. Returns how many were added, or -ENOMEM. */
long al_members_add_page(struct al_members *t, uint32_t shard,
			 const struct ais_list_page *page);

/* Lists every shard object (a name ais_shard_format_from_name recognizes)
 * of bucket under prefix, then each shard's members recursively, into t.
 * A shard whose index reports an error keeps the members listed before the
 * break; a shard that cannot be listed for a reason of its own (gone since
 * the bucket listing, not an archive) is skipped. Either way one warning
 * line per such shard is logged and bad_shards counts it. Returns 0, or
 * -errno with errmsg set when the bucket listing fails, a node cannot be
 * reached or memory runs out. On failure t holds what was read so far; free
 * it with al_members_free either way. */
int al_members_load(struct al_members *t, struct ais_client *c,
		    const char *bucket, const char *prefix, char *errmsg);

/* Frees what t owns and zeroes it. */
void al_members_free(struct al_members *t);

#endif
