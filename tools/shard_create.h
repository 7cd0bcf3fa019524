/* ais shard create: groups the files of a directory into samples, packs the
 * samples into shards of about a target size with libarchive, and uploads
 * the shards in parallel. */
#ifndef AIS_TOOLS_SHARD_CREATE_H
#define AIS_TOOLS_SHARD_CREATE_H

#include <stdbool.h>
#include <stdint.h>

#include "shard_index.h"

struct shard_create_opts {
	const char *src;    /* local directory */
	const char *bucket; /* checked */
	const char *prefix; /* shards are PREFIX-%06u.EXT */
	uint64_t size;	    /* target shard size, bytes */
	enum ais_shard_format format;
	bool shuffle;
	bool have_seed;
	uint64_t seed;
	unsigned jobs;
	bool quiet;
};

/* Runs the command; returns a CLI exit status (reasons on stderr). */
int shard_create_run(const struct shard_create_opts *o);

/* The sample key of a relative path: the path without the extensions of
 * its last component ("a/b/img_0001.seg.png" -> "a/b/img_0001"); a leading
 * '.' of the component is not an extension. Returns the key's length. */
size_t shard_sample_key_len(const char *path);

#endif
