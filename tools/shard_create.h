/* ais shard create: groups the files of a directory into samples, packs the
 * samples into shards of about a target size with libarchive, and uploads
 * the shards in parallel. */
#ifndef AIS_TOOLS_SHARD_CREATE_H
#define AIS_TOOLS_SHARD_CREATE_H

#include <stdbool.h>
#include <stdint.h>

#include "shard_names.h"

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

struct archive;
struct archive_entry;

/* Opens a libarchive writer on the empty file fd for fmt (tar formats: pax
 * restricted, plus the gzip or lz4 filter; zip), without padding the last
 * block: a tar ends with exactly its two zero blocks. Returns 0 with *out
 * (the caller closes it and frees it with archive_write_free) or -errno
 * with errmsg. Shared by shard create and shard append. */
int shard_archive_open(int fd, enum ais_shard_format fmt, struct archive **out,
		       char *errmsg);

/* Adds size bytes of the regular file open on in (path: for messages) as
 * member, with mode and mtime (seconds), through entry e (cleared here) and
 * buf (bufsize bytes). Returns 0 or -errno with errmsg. */
int shard_archive_add_file(struct archive *a, struct archive_entry *e, int in,
			   const char *path, const char *member, uint64_t size,
			   uint32_t mode, int64_t mtime, uint8_t *buf,
			   size_t bufsize, char *errmsg);

/* Runs the command; returns a CLI exit status (reasons on stderr). */
int shard_create_run(const struct shard_create_opts *o);

/* The sample key of a relative path: the path without the extensions of
 * its last component ("a/b/img_0001.seg.png" -> "a/b/img_0001"); a leading
 * '.' of the component is not an extension. Returns the key's length. */
size_t shard_sample_key_len(const char *path);

#endif
