/* Per-block checksums: an object's bytes are checked whenever they are read
 * from its file, block by block, so that a range read needs only the
 * blocks it touches. XXH3-64 of every 16 KiB block (the last one may be
 * shorter), made while the object is written. 16 KiB: a 40 KiB sample in
 * a shard is checked by reading 48-64 KiB (64 KiB blocks read 64-128);
 * the blocks of a longer range are read in runs of BLK_SCRATCH, so the
 * calls are as few as with bigger blocks. A table of another block size
 * (an older aisd's) is stale, and made again.
 *
 * An object of one block whose checksum is XXH3-64 has no table: its
 * checksum is its block's (most samples: one syscall less per PUT and per
 * read).
 *
 * Where the table lives: in the "user.ais.blk" xattr of the object's file
 * up to BLK_XATTR_MAX blocks (objects up to 4 MiB: an xattr holds a few
 * KiB on every file system), else in a sidecar file named by the file's
 * inode, <mp>/.ais/blk/<inode>, on the first mountpath of the object's
 * file system. Either one names the object's size and whole checksum: a
 * table that does not match them is stale (a shard appended in place, an
 * inode reused) and ignored. An object without a table (written before
 * tables existed, a lost sidecar, a copy moved to another file system) is
 * checked whole against its checksum once, and gets its table then.
 * Sidecar tables are kept in a small cache (BLK_CACHE_BYTES), so that a
 * member read of a big shard costs no file open. */
#ifndef AISD_STORE_BLOCKS_H
#define AISD_STORE_BLOCKS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "objmeta.h"

#define BLK_SHIFT 14
#define BLK_SIZE  (1u << BLK_SHIFT)
/* The scratch buffer of blk_verify and blk_rebuild: runs of blocks are
 * read with one call. */
#define BLK_SCRATCH	(64u << 10)
#define BLK_XATTR	"user.ais.blk"
#define BLK_XATTR_MAX	256
#define BLK_CACHE_BYTES (32u << 20)

struct mpset;

/* The checksums of one object (a table). */
struct blk_table {
	uint64_t size;
	int cksum_type;
	char cksum[AIS_CKSUM_HEX_MAX]; /* the whole object's, as in its meta */
	size_t n;
	uint64_t *h; /* n block checksums */
};

/* Made while an object is written: feed every byte in order. */
struct blk_writer {
	void *state; /* XXH3 state of the block being written */
	uint64_t in_block;
	uint64_t *h;
	size_t n, cap;
	bool oom;
};

int blk_writer_init(struct blk_writer *w);
void blk_writer_update(struct blk_writer *w, const void *buf, size_t len);
void blk_writer_free(struct blk_writer *w);

/* The cache of sidecar tables, per node (struct store). */
struct blk_cache;
struct blk_cache *blk_cache_new(void);
void blk_cache_free(struct blk_cache *c);

/* Stores w's table for the object whose file is open on fd and whose
 * metadata (size, checksum) is m: in its xattr, or in its sidecar (made
 * durable). Call before the file is renamed into place. Returns 0 or
 * -errno with errmsg. */
int blk_store(const struct mpset *mps, struct blk_cache *c,
	      struct blk_writer *w, int fd, const struct ais_obj_meta *m,
	      char *errmsg);

/* Drops the sidecar of the object file at path, if it has one (call it
 * before the file is unlinked or replaced). */
void blk_forget(const struct mpset *mps, struct blk_cache *c, const char *path);

/* Checks [off, off + len) of the object open on fd (metadata m) against
 * its table, reading every block the range touches into scratch
 * (BLK_SCRATCH bytes). Without a valid table, the whole object is checked
 * against m's checksum and the table is made (nowait: -EAGAIN instead).
 * With nowait, never waits for the disk: -EAGAIN when a block or the
 * table is not in memory. Returns 0, -EBADMSG with errmsg naming the
 * first bad block (a corrupt copy), -EAGAIN, or -errno. */
int blk_verify(const struct mpset *mps, struct blk_cache *c, int fd,
	       const struct ais_obj_meta *m, uint64_t off, uint64_t len,
	       uint8_t *scratch, bool nowait, char *errmsg);

/* Checks blocks the caller has read itself (to send them from its own
 * buffer): data holds len bytes of the object from off, which starts a
 * block; len ends at a block's end or at the object's end. An object of
 * one block with an XXH3 checksum needs no table (its checksum is its
 * block's). Returns 0, -EBADMSG with errmsg, -EAGAIN (nowait: the table
 * is not in memory), -ENOENT (no table: use blk_verify), or -errno. */
int blk_check_read(const struct mpset *mps, struct blk_cache *c, int fd,
		   const struct ais_obj_meta *m, uint64_t off, const void *data,
		   size_t len, bool nowait, char *errmsg);

/* Makes and stores the table of the object open on fd by reading it all
 * (through scratch, BLK_SCRATCH bytes), after checking it against m's
 * checksum (-EBADMSG if it does not match: no table then). For objects
 * written in place (shard append). */
int blk_rebuild(const struct mpset *mps, struct blk_cache *c, int fd,
		const struct ais_obj_meta *m, uint8_t *scratch, char *errmsg);

#endif
