/* Reading shard members: plain object ranges, or decoding from seek points. */
#ifndef AIS_SHARD_READ_H
#define AIS_SHARD_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shard_index.h"

/*
 * Member reads. A tar member and a stored zip member are a plain range of the
 * object (ais_shard_member_range() says which, so a daemon can sendfile()
 * it); a deflated zip member is inflated from its start; a tar.gz or tar.lz4
 * member is decoded from the nearest seek point at or before the requested
 * offset, so a read decodes at most AIS_SHARD_GZ_SPAN plus one deflate block
 * (blocks of very repetitive data can decode to a few MiB more), or
 * AIS_SHARD_LZ4_SPAN plus one LZ4 block, before the data it returns; never
 * the shard from its start.
 * Memory is bounded: fixed buffers of at most a few MiB per read.
 */

/* A gzip seek point is recorded about every AIS_SHARD_GZ_SPAN bytes of
 * decompressed output (at a deflate block boundary), an LZ4 one at the first
 * block start AIS_SHARD_LZ4_SPAN bytes after the previous point. */
#define AIS_SHARD_GZ_SPAN  (3u << 20)
#define AIS_SHARD_LZ4_SPAN (1u << 20)

/* A place a decoder can start from, as stored in the sidecar (32 bytes,
 * little-endian). The window (gzip: the 32 KiB of output before the point;
 * LZ4 linked blocks: up to 64 KiB) is stored separately. */
struct ais_shard_point {
	uint64_t out;  /* decompressed offset */
	uint64_t in;   /* gzip: byte holding the first bit; lz4: block header */
	uint64_t woff; /* window's offset in the sidecar (set by the index) */
	uint32_t wlen; /* window length, 0 for none */
	uint8_t bits;  /* gzip: bits of byte in-1 still to use (0..7) */
	uint8_t flg;   /* lz4: the frame's FLG byte */
	uint8_t bd;    /* lz4: the frame's BD byte */
	uint8_t pad;
};

/* Sequential decoder of a compressed shard (tar.gz, tar.lz4; tar passes the
 * bytes through) starting at a seek point, or at the start for pt == NULL.
 * Opaque; one per reader. */
struct ais_shard_stream;

/* Called (while building an index) for every candidate seek point; window
 * holds pt->wlen bytes, valid during the call. Return 0 or -errno (stops
 * the stream with that error). */
typedef int (*ais_shard_point_cb)(void *arg, const struct ais_shard_point *pt,
				  const void *window);

/* Opens a decoder of fmt over obj_fd at pt (with its window) or at the
 * start. Free with ais_shard_stream_free(). Returns 0,
 * -EINVAL (format, point) or -ENOMEM. */
int ais_shard_stream_new(int obj_fd, enum ais_shard_format fmt,
			 const struct ais_shard_point *pt, const void *window,
			 struct ais_shard_stream **out, char *errmsg);

/* Asks for seek points about every span decompressed bytes. */
void ais_shard_stream_on_point(struct ais_shard_stream *s, uint64_t span,
			       ais_shard_point_cb cb, void *arg);

/* Reads up to len decompressed bytes; *got < len only at the end of the
 * stream. Returns 0, -EBADMSG for corrupt or truncated compressed data
 * (reason and compressed offset in errmsg), or -errno. */
int ais_shard_stream_read(struct ais_shard_stream *s, void *buf, size_t len,
			  size_t *got, char *errmsg);

/* Decompressed offset of the next byte read. */
uint64_t ais_shard_stream_offset(const struct ais_shard_stream *s);

void ais_shard_stream_free(struct ais_shard_stream *s);

/* Receives member bytes in order; return 0 to go on or -errno to stop. */
typedef int (*ais_shard_write_cb)(void *arg, const void *buf, size_t len);

/* True when the member's bytes are exactly the object range
 * [*obj_off, *obj_off + m->size) (tar, stored zip), so the caller may
 * sendfile() it; false when they need decoding (ais_shard_member_read()). */
bool ais_shard_member_range(const struct ais_shard_index *idx,
			    const struct ais_shard_member *m,
			    uint64_t *obj_off);

/* The reads of an archive's bytes that member reads make (decoders, the
 * data of stored zip members, plain ranges read by the library) go
 * through this thread's reader: pread(2) by default, or a caller's that
 * checks what it reads (the node's block checksums). Returns the count
 * (short only at the end of the file) or -errno. */
typedef ssize_t (*ais_shard_reader)(void *arg, int fd, void *buf, size_t len,
				    uint64_t off);
void ais_shard_set_reader(ais_shard_reader fn, void *arg);

/* Hands the member's bytes [off, off + len) (clamped to its size) to cb in
 * order, from the object on obj_fd. Reading a whole deflated zip member
 * checks its CRC-32. Returns 0; -ENOTSUP (sparse, encrypted or unsupported
 * compression method), -EISDIR (not a file), -EBADMSG (corrupt data or
 * object changed), -errno, or cb's error. Errors met while streaming come
 * after cb has had part of the data. */
int ais_shard_member_read(int obj_fd, const struct ais_shard_index *idx,
			  const struct ais_shard_member *m, uint64_t off,
			  uint64_t len, ais_shard_write_cb cb, void *arg,
			  char *errmsg);

/* ais_shard_member_read() into buf; *got is the count (short only at the
 * member's end). */
int ais_shard_member_pread(int obj_fd, const struct ais_shard_index *idx,
			   const struct ais_shard_member *m, void *buf,
			   size_t len, uint64_t off, size_t *got, char *errmsg);

/* Parked decoders of compressed shards (tar.gz), so that a reader going
 * through a member in consecutive ranges (a FUSE client's sequential reads)
 * continues the decoder where its last read stopped instead of decoding
 * again from a seek point, up to AIS_SHARD_GZ_SPAN per read. Thread-safe;
 * at most `slots` decoders (about 150 KiB each) are parked, least recently
 * used first out. A parked decoder holds its own descriptor of the object
 * and is used again only for the same file (device, inode, size, mtime). */
struct ais_shard_stream_cache;

/* Returns NULL when out of memory (callers then read without one). */
struct ais_shard_stream_cache *ais_shard_stream_cache_new(unsigned slots);
void ais_shard_stream_cache_free(struct ais_shard_stream_cache *c);

/* Frees every parked decoder (and closes its descriptor, so that a deleted
 * shard's space is given back). */
void ais_shard_stream_cache_clear(struct ais_shard_stream_cache *c);

/* ais_shard_member_read(), taking and parking tar.gz decoders in c (c may
 * be NULL: the same as ais_shard_member_read()). */
int ais_shard_member_read_cached(struct ais_shard_stream_cache *c, int obj_fd,
				 const struct ais_shard_index *idx,
				 const struct ais_shard_member *m, uint64_t off,
				 uint64_t len, ais_shard_write_cb cb, void *arg,
				 char *errmsg);

/* The last seek point at or before decompressed offset off (tar.gz and
 * tar.lz4 indexes); *window points into the index. Returns 0 or -ENOENT
 * (no point before off: start from the beginning), -EBADMSG. Implemented
 * in shard_index.c. */
int ais_shard_index_point(const struct ais_shard_index *idx, uint64_t off,
			  struct ais_shard_point *pt, const void **window);

#endif
