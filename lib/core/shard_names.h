/* What a shard and its members are called: the archive formats an object
 * name's suffix selects, the member types (also sent on the wire in
 * listings), and member path normalisation. Shared by the node, which
 * indexes shards (lib/shard/), and by every client that shows them. */
#ifndef AIS_SHARD_NAMES_H
#define AIS_SHARD_NAMES_H

#include <stddef.h>

enum ais_shard_format {
	AIS_SHARD_NONE = 0, /* not a shard */
	AIS_SHARD_TAR = 1,  /* .tar */
	AIS_SHARD_TGZ = 2,  /* .tar.gz, .tgz (single- or multi-member gzip) */
	AIS_SHARD_TLZ4 = 3, /* .tar.lz4 (LZ4 frame format) */
	AIS_SHARD_ZIP = 4,  /* .zip (zip64 too) */
};

enum ais_shard_type {
	AIS_SHARD_FILE = 0,
	AIS_SHARD_DIR = 1,
	AIS_SHARD_SYMLINK = 2,
	AIS_SHARD_HARDLINK = 3, /* data resolved to its target's when found */
	AIS_SHARD_OTHER = 4,	/* device, fifo: listed, no data */
};

/* The shard format of an object by its name's suffix (case-insensitive):
 * .tar, .tar.gz, .tgz, .tar.lz4, .zip; AIS_SHARD_NONE otherwise. */
enum ais_shard_format ais_shard_format_from_name(const char *name);

/* "tar", "tar.gz", "tar.lz4", "zip" or "none". */
const char *ais_shard_format_str(enum ais_shard_format fmt);

/* Writes the normalised form of path into out (outlen bytes): leading "/"
 * and "./" are stripped, "//" and "/./" collapse, a trailing "/" is dropped.
 * Returns its length, or -ENAMETOOLONG. */
int ais_shard_path_normalize(const char *path, size_t len, char *out,
			     size_t outlen);

#endif
