/* Internal to daemon/shard/: the undo journal of an append in place. Before
 * the first byte of a shard changes, a journal with everything needed to
 * undo the append (where the new members start, the old size, the old
 * bytes from there to the end -- only end-of-archive zero blocks -- and
 * the old metadata xattr) is made durable in <mp>/.ais/journal/ (not in
 * .ais/tmp, which start-up empties before anyone could read it). It is
 * removed once the new metadata is durable; a journal found at start-up
 * means the append did not finish, and it is rolled back. */
#ifndef AISD_SHARD_JOURNAL_H
#define AISD_SHARD_JOURNAL_H

#include <stdint.h>

#include "store/mountpath.h"

#define JOURNAL_TAIL_MAX  (64 * 1024) /* old end-of-archive bytes kept */
#define JOURNAL_XATTR_MAX 4096

/* One append's undo record. The strings and buffers are borrowed. */
struct journal {
	uint64_t end;	   /* where the appended members start */
	uint64_t old_size; /* the object's size before */
	uint64_t ino;	   /* the object's inode */
	const char *rel;   /* object path under the mountpath */
	int32_t xattr_len; /* -1: the object had no xattr */
	const uint8_t *xattr;
	uint32_t tail_len; /* old_size - end */
	const uint8_t *tail;
	/* Set by journal_write: where the journal is. */
	char dir[AISD_PATH_MAX];
	char path[AISD_PATH_MAX];
};

/* Writes j durably on mountpath mp (file and directory fsynced). Returns 0
 * or -errno (-ENOSPC). */
int journal_write(struct mpset *mps, int mp, struct journal *j);

/* The append is complete: removes the journal (and fsyncs its directory).
 * Returns 0, or -errno if it could not be removed (it would undo the
 * append at the next start). */
int journal_remove(const struct journal *j);

/* Puts the object open on fd back as j recorded it: old tail bytes, old
 * size, old metadata; fsync. Returns 0 or -errno. */
int journal_undo(int fd, const struct journal *j);

/* At start-up, before any request is served: rolls back every append a
 * crash interrupted, logging one line per shard; discards journals that
 * were not complete (the shard was not touched then). Returns 0, or -errno
 * with errmsg when a journal could not be applied (the node must not serve
 * then). */
int journal_recover(struct mpset *mps, char *errmsg);

#endif
