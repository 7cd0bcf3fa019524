/* Shard (tar, tar.gz, tar.lz4, zip) member indexes and their mmap-able sidecar.
 */
#ifndef AIS_SHARD_INDEX_H
#define AIS_SHARD_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shard_names.h"

/*
 * An index lists the members of one archive object ("shard") sorted by path,
 * with where each member's bytes are, so that a member is read, listed or
 * stat'ed without parsing the archive again. It lives in a sidecar file in a
 * compact binary format used straight from mmap: loading is O(1) and a
 * lookup is a binary search touching a few pages, so a 1,000,000-member
 * index costs about its file size in page cache and almost no heap.
 *
 * Paths are normalised: leading "/" and "./" are stripped, "//" and "/./"
 * collapse, a trailing "/" is dropped. When a tar holds the same path twice,
 * the last one wins (as with tar -x). Members are ordered component-wise
 * ('/' sorts before every other byte), so each directory's subtree is
 * contiguous and its children come out sorted by name.
 *
 * All functions are pure: no logging, no globals; an index is immutable and
 * may be shared by threads.
 */

/* How a member's bytes are stored. */
enum ais_shard_method {
	AIS_SHARD_STORED = 0,	     /* plain bytes (in the decoded stream) */
	AIS_SHARD_DEFLATE = 8,	     /* zip raw deflate */
	AIS_SHARD_UNSUPPORTED = 255, /* listed, but a read gives -ENOTSUP */
};

/* Member flags. A sparse member's holes read as zeros; if its map cannot
 * be read, its method is AIS_SHARD_UNSUPPORTED. */
#define AIS_SHARD_F_IMPLICIT  0x01 /* directory implied by deeper paths */
#define AIS_SHARD_F_SPARSE    0x02 /* GNU sparse tar member */
#define AIS_SHARD_F_ENCRYPTED 0x04 /* encrypted zip member (not readable) */

/* Identity of the object an index was built from, to detect staleness.
 * version is opaque to the index (e.g. the object's version or checksum). */
struct ais_shard_stamp {
	uint64_t size;
	int64_t mtime_ns;
	uint64_t version;
};

/* One member, decoded. The strings point into the index (or, for an implicit
 * directory returned by lookup, to the caller's path argument) and are valid
 * while the index is. */
struct ais_shard_member {
	const char *path; /* normalised, NUL-terminated */
	const char *link; /* symlink/hardlink target (normalised for hardlinks),
			     "" if none */
	uint64_t header_off; /* first header of the member (tar: incl. long-name
				and pax headers; zip: local header) */
	uint64_t data_off;   /* first data byte: an object offset for tar and
				zip, an offset in the decompressed stream for
				tar.gz and tar.lz4 */
	uint64_t size;	     /* bytes a read of the member returns (0 for
				directories and symlinks: a symlink's st_size
				is strlen(link)) */
	uint64_t csize;	     /* bytes stored in the object (zip deflate) */
	int64_t mtime;	     /* seconds since the epoch */
	uint32_t mode;	     /* S_IF* type bits and permission bits */
	uint32_t crc32;	     /* zip: CRC-32 of the data; 0 otherwise */
	uint8_t type;	     /* enum ais_shard_type */
	uint8_t method;	     /* enum ais_shard_method */
	uint8_t flags;	     /* AIS_SHARD_F_* */
	const char *sparse_map; /* GNU sparse members: "off,len,..." data
				   chunks (in file offsets), stored one after
				   the other from data_off; else NULL */
};

struct ais_shard_index; /* opaque, immutable once built or loaded */

/* Indexes the archive on obj_fd (read with pread; the offset is not used)
 * and writes the sidecar to out_fd, which must be an empty file opened
 * O_RDWR; out_fd < 0 makes an anonymous in-memory sidecar. stamp (may be
 * NULL) is recorded for ais_shard_index_is_stale(). If out is not NULL,
 * *out gets the index mapped from the sidecar (free with
 * ais_shard_index_free(); it keeps its own reference to the file).
 *
 * A malformed or truncated archive is not a failure: the index holds the
 * members before the break and ais_shard_index_error() says what broke and
 * where. Returns 0, or -errno on I/O errors, -ENOMEM, -EINVAL for an
 * unknown format, -EFBIG past the format's limits (4 GiB of path strings). */
int ais_shard_index_build(int obj_fd, enum ais_shard_format fmt,
			  const struct ais_shard_stamp *stamp, int out_fd,
			  struct ais_shard_index **out, char *errmsg);

/* Builds the index of obj_fd into "<path>.tmp.<pid>", fsyncs it, renames it
 * to path and fsyncs the directory (ais_file_commit()), so readers see the
 * old sidecar or the new one, never part. The directory must exist. out as
 * in ais_shard_index_build(). A sidecar in use is mapped: replace it this
 * way (or unlink it), never rewrite it in place. */
int ais_shard_index_save(int obj_fd, enum ais_shard_format fmt,
			 const struct ais_shard_stamp *stamp, const char *path,
			 struct ais_shard_index **out, char *errmsg);

/* Maps a sidecar file (the index keeps its own reference to it; fd may be
 * closed afterwards). Validates the header in O(1); a record found
 * inconsistent later makes that accessor return -EBADMSG. Returns 0,
 * -EBADMSG (not a sidecar, wrong version, truncated) or -errno. */
int ais_shard_index_open(int fd, struct ais_shard_index **out, char *errmsg);

/* ais_shard_index_open() of the file at path; -ENOENT if there is none. */
int ais_shard_index_load(const char *path, struct ais_shard_index **out,
			 char *errmsg);

/* Unmaps and frees; NULL is a no-op. */
void ais_shard_index_free(struct ais_shard_index *idx);

/* True when the index was built from an object other than cur (size, mtime
 * or version differ), or the index is of an older sidecar version: the
 * caller should rebuild it. */
bool ais_shard_index_is_stale(const struct ais_shard_index *idx,
			      const struct ais_shard_stamp *cur);

enum ais_shard_format ais_shard_index_format(const struct ais_shard_index *idx);
void ais_shard_index_stamp(const struct ais_shard_index *idx,
			   struct ais_shard_stamp *out);

/* Number of members (implicit directories not counted). */
size_t ais_shard_index_count(const struct ais_shard_index *idx);

/* Size of the sidecar file, bytes. */
uint64_t ais_shard_index_file_size(const struct ais_shard_index *idx);

/* NULL for a sound archive, else why indexing stopped, e.g. "truncated tar:
 * member 'x/y.jpg' header at offset 1536 claims 10000 bytes, archive ends at
 * 4096"; *break_off (if not NULL) gets the archive offset where it broke
 * (decompressed offset for tar.gz/tar.lz4). The string lives in the index. */
const char *ais_shard_index_error(const struct ais_shard_index *idx,
				  uint64_t *break_off);

/* The i-th member in path order (0 <= i < count). Returns 0, -ERANGE or
 * -EBADMSG (corrupt sidecar). */
int ais_shard_index_at(const struct ais_shard_index *idx, size_t i,
		       struct ais_shard_member *m);

/* Position of the first member whose path sorts after start_after (""
 * or NULL: 0), for paged listings: list with ais_shard_index_at() from it. */
size_t ais_shard_index_seek(const struct ais_shard_index *idx,
			    const char *start_after);

/* Looks a path up (normalised first; "" is the root). Fills m with the
 * member, or with a synthetic directory (AIS_SHARD_F_IMPLICIT, mode 040755)
 * when only deeper paths exist, or for the root. Returns 0, -ENOENT or
 * -EBADMSG. */
int ais_shard_index_lookup(const struct ais_shard_index *idx, const char *path,
			   struct ais_shard_member *m);

/* Called per directory entry; name is the entry's last component. Both name
 * and m->path are valid only during the call. Return 0 to go on, > 0 to stop
 * (page full) or -errno to stop with that error. */
typedef int (*ais_shard_dirent_cb)(void *arg, const char *name,
				   const struct ais_shard_member *m);

/* Lists the entries directly under directory dir ("" = root) in name order,
 * starting after the entry named start_after (NULL or "": from the first),
 * at most limit entries (0: no limit), including implicit directories for
 * paths whose parents have no entry of their own. Cost: O(log n) per entry
 * plus the entries visited. Returns the callback's positive value or 0 when
 * done, -ENOENT if dir is not a directory of the index, -ENOMEM, -EBADMSG,
 * or the callback's negative value. */
int ais_shard_index_readdir(const struct ais_shard_index *idx, const char *dir,
			    const char *start_after, size_t limit,
			    ais_shard_dirent_cb cb, void *arg);

#endif
