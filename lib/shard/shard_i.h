/* Internal to lib/shard (as client_i.h is to lib/client): what its files
 * share and nothing else includes. The sidecar layout and the loaded index
 * (read by shard_index.c, written by shard_build.c); the builder that the
 * archive parsers (shard_tar.c, shard_tar_ext.c, shard_zip.c) add members
 * to; the tar byte source and pending extension state the two tar files
 * share; the decoder internals the decoder cache (shard_read.c) needs from
 * shard_decode.c; and the little-endian readers and the path order used
 * throughout. Names shared between files start with ais__shard_. */
#ifndef AIS_SHARD_I_H
#define AIS_SHARD_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shard_index.h"
#include "shard_read.h"
#include "util.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the shard sidecar format is little-endian and read in place"
#endif

/* ---- the sidecar ---- */

/*
 * Sidecar layout (all little-endian, read in place from mmap):
 *
 *   [0, 256)        struct sc_header
 *   [256, pt_off)   seek-point windows (written while decompressing)
 *   [pt_off, ...)   struct ais_shard_point[pt_count], sorted by out
 *   [str_off, ...)  string table: NUL-terminated paths and links in path
 *                   order, then the error message
 *   [rec_off, ...)  struct sc_rec[count], sorted component-wise by path
 */
#define SC_MAGIC   "AISSHIX"
#define SC_VERSION 1
#define SC_HDR	   256

struct sc_header {
	char magic[8];
	uint32_t version;
	uint32_t format;
	uint64_t obj_size;
	int64_t obj_mtime_ns;
	uint64_t obj_version;
	uint64_t count;
	uint64_t rec_off;
	uint64_t str_off;
	uint64_t str_len;
	uint64_t pt_off;
	uint64_t pt_count;
	uint64_t err_off; /* UINT64_MAX: no error */
	uint32_t err_str;
	uint32_t err_len;
	uint64_t file_size;
	uint64_t max_path;
};

struct sc_rec {
	uint64_t header_off;
	uint64_t data_off;
	uint64_t size;
	uint64_t csize;
	int64_t mtime;
	uint32_t path_off;
	uint32_t path_len;
	uint32_t link_off;
	uint32_t link_len;
	uint32_t mode;
	uint32_t crc32;
	uint8_t type;
	uint8_t method;
	uint8_t flags;
	uint8_t pad[5];
};

_Static_assert(sizeof(struct sc_header) <= SC_HDR, "header too big");
_Static_assert(sizeof(struct sc_rec) == 72, "record layout");
_Static_assert(sizeof(struct ais_shard_point) == 32, "point layout");

/* A sidecar mapped by ais_shard_index_open() (shard_index.c). */
struct ais_shard_index {
	const uint8_t *map;
	size_t map_len;
	const struct sc_header *hdr;
	const struct sc_rec *recs;
	const char *strs;
	const struct ais_shard_point *pts;
};

/* Component-wise order: '/' sorts before any other byte, so a directory's
 * subtree follows it contiguously. */
static inline int ais__shard_pathcmp(const char *a, size_t al, const char *b,
				     size_t bl)
{
	size_t n = al < bl ? al : bl;

	for (size_t i = 0; i < n; i++) {
		unsigned ca = (unsigned char)a[i], cb = (unsigned char)b[i];

		if (ca == cb)
			continue;
		ca = ca == '/' ? 0 : ca;
		cb = cb == '/' ? 0 : cb;
		return ca < cb ? -1 : 1;
	}
	return al < bl ? -1 : al > bl;
}

/* Little-endian fields of zip and LZ4 headers, at any alignment. */
static inline uint16_t ais__shard_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t ais__shard_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t ais__shard_le64(const uint8_t *p)
{
	uint64_t lo = ais__shard_le32(p), hi = ais__shard_le32(p + 4);

	return lo | hi << 32;
}

/* ---- the builder (shard_build.c) ---- */

struct ais__shard_brec; /* a member and its arrival order */

/* An index being built. The parsers read fmt, obj_fd, obj_size and broken,
 * and change the rest only through the functions below. */
struct ais__shard_builder {
	enum ais_shard_format fmt;
	int obj_fd;
	uint64_t obj_size;
	struct ais__shard_brec *recs;
	size_t n, cap;
	char *arena;
	size_t alen, acap;
	uint64_t seq;
	size_t max_path;
	bool broken;
	char err[AIS_ERRMSG_LEN];
	uint64_t err_off;
	/* sidecar writer */
	int out_fd;
	uint8_t *wbuf;
	size_t wlen;
	uint64_t wflushed; /* file offset of wbuf[0] */
	struct ais_shard_point *pts;
	size_t npts, ptcap;
};

/* Adds a member; r's path/link fields are set here (link normalised as a
 * path when norm_link). An empty normalised path (the archive's "./" root)
 * is not a member. Returns 0 or -errno. */
int ais__shard_add_member(struct ais__shard_builder *b, struct sc_rec *r,
			  const char *path, size_t plen, const char *link,
			  size_t llen, bool norm_link);

/* Records the first break of the archive: where (off) and why. Later calls
 * are ignored. */
void ais__shard_set_broken(struct ais__shard_builder *b, uint64_t off,
			   const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An ais_shard_point_cb (arg: the builder): stores a seek point the
 * decoder offers, and its window in the sidecar. */
int ais__shard_add_point(void *arg, const struct ais_shard_point *pt,
			 const void *window);

/* S_IF* bits of a member type (enum ais_shard_type). */
uint32_t ais__shard_type_mode(uint8_t type);

/* [p, p + n) as a NUL-terminated heap string (NULs inside are kept);
 * NULL when out of memory. */
char *ais__shard_memdup(const char *p, size_t n);

/* ---- the parsers ---- */

/* Index the archive on b->obj_fd into b: shard_tar.c a tar, tar.gz or
 * tar.lz4 (b->fmt), shard_zip.c a zip. Return 0 (archive errors are
 * recorded in b) or -errno with errmsg set. */
int ais__shard_tar_parse(struct ais__shard_builder *b, char *errmsg);
int ais__shard_zip_parse(struct ais__shard_builder *b, char *errmsg);

/* ---- tar internals (shard_tar.c, shard_tar_ext.c) ---- */

/* The tar stream being parsed: the object itself, or a decoder of it. */
struct ais__shard_src {
	int fd;
	uint64_t size; /* object size (plain tar) */
	struct ais_shard_stream *st;
	uint64_t pos;  /* tar stream offset */
	char *scratch; /* plain tar: read-ahead of [rb_off, rb_off + rb_len) */
	uint64_t rb_off;
	size_t rb_len;
	char serr[AIS_ERRMSG_LEN];
};

/* Reads up to len bytes; short only at the end. Returns 0, -EBADMSG (with
 * s->serr) or -errno. */
int ais__shard_src_read(struct ais__shard_src *s, void *buf, size_t len,
			size_t *got);
/* Skips up to len bytes; *done < len only at the end. Returns as
 * ais__shard_src_read(). */
int ais__shard_src_skip(struct ais__shard_src *s, uint64_t len, uint64_t *done);

/* After a read or skip of s: its decoder's -EBADMSG (corrupt or truncated
 * compressed data) breaks the archive at off, which is recorded in b and
 * makes this return 1; 0 and -errno come back as they are. */
int ais__shard_src_broken(struct ais__shard_builder *b,
			  const struct ais__shard_src *s, int rc, uint64_t off);

/* What extension headers (GNU long names, pax) said about the next member. */
struct ais__shard_tar_pending {
	char *path; /* from 'L' or pax path (heap) */
	size_t path_len;
	char *link;
	size_t link_len;
	bool has_size, has_mtime, sparse, has_realsize;
	uint64_t size, realsize;
	int64_t mtime;
	uint64_t first_off; /* first extension header, UINT64_MAX if none */
	/* GNU sparse map as text "off,len,off,len," (heap) */
	char *smap;
	size_t smap_len, smap_cap;
	bool sparse_v1; /* pax sparse 1.0: the map opens the data */
	bool smap_bad;	/* unreadable map: the member is not readable */
};

/* Parses a numeric tar field: octal (space/NUL padded) or base-256.
 * Returns 0, -ERANGE or -EINVAL. */
int ais__shard_tar_num(const uint8_t *f, size_t n, int64_t *out);

/* In shard_tar_ext.c. Those returning 1 found the archive broken and
 * recorded it in b; the others return 0 or -errno. */

/* Reads an extension header's data (and padding) into a heap string
 * (*out, NUL-terminated). 1 = broken. */
int ais__shard_tar_read_ext(struct ais__shard_builder *b,
			    struct ais__shard_src *s, uint64_t size,
			    uint64_t hoff, const char *what, char **out);
/* Applies pax records "LEN KEY=VALUE\n" to t. Returns 0, -EBADMSG or
 * -ENOMEM. */
int ais__shard_pax_parse(const char *buf, size_t len,
			 struct ais__shard_tar_pending *t);
/* Reads the map of an old GNU sparse member (header h, type 'S') into t.
 * 1 = broken. */
int ais__shard_gnu_sparse_map(struct ais__shard_builder *b,
			      struct ais__shard_src *s, const uint8_t *h,
			      struct ais__shard_tar_pending *t, uint64_t hoff);
/* Reads the map that opens a pax sparse 1.0 member's data (size bytes)
 * into t; *maplen gets its size. 1 = broken. */
int ais__shard_pax_sparse_map(struct ais__shard_builder *b,
			      struct ais__shard_src *s,
			      struct ais__shard_tar_pending *t, uint64_t hoff,
			      uint64_t size, uint64_t *maplen);
/* True when the sparse map m ("off,len,...,") ascends, fits in realsize
 * and adds up to the stored bytes. */
bool ais__shard_smap_ok(const char *m, uint64_t realsize, uint64_t stored);

/* ---- decoder internals (shard_decode.c) for the cache (shard_read.c) ---- */

/* Makes s close its descriptor when freed (a parked decoder owns a dup). */
void ais__shard_stream_own_fd(struct ais_shard_stream *s);
/* True when s has decoded its whole input. */
bool ais__shard_stream_ended(const struct ais_shard_stream *s);

/* pread through this thread's reader (ais_shard_set_reader). */
ssize_t ais__shard_pread(int fd, void *buf, size_t len, uint64_t off);

#endif
