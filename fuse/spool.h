/* Write staging: an unlinked temporary file per object open for writing. */
#ifndef AISFS_SPOOL_H
#define AISFS_SPOOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* The bytes of one object being written. Shared by every handle open for
 * writing on the inode; the PUT at close sends the whole file. The file is
 * unlinked from the start, so a crash leaves nothing behind. */
struct afs_spool {
	pthread_mutex_t lock; /* serializes load, writes, truncates, PUT */
	pthread_cond_t idle;  /* uploading went false */
	int fd;
	bool loaded;	/* holds the object's bytes (or started empty) */
	bool dirty;	/* changed since the last PUT */
	bool mtime_set; /* the PUT carries mtime_ns (the last write's time,
			   or one set by utimens since) */
	/* Write-back (writeback.h): a copy of the bytes is on its way to the
	 * cluster without the lock held. A PUT of this spool waits for it, so
	 * PUTs of one file land in order. */
	bool uploading;
	bool queued;  /* an upload is queued (writeback.c's lock) */
	uint64_t gen; /* moves on at every change: an upload of an older
			 generation leaves the spool dirty */
	int64_t mtime_ns;
};

/* Under sp->lock: the bytes (or the times the PUT carries) changed now. */
void afs_spool_touch(struct afs_spool *sp);
/* Under sp->lock: waits until no upload of sp is on its way. */
void afs_spool_wait_idle(struct afs_spool *sp);

/* Creates an empty spool file in dir. Returns 0 or -errno with the reason
 * in errmsg; free *out with afs_spool_free. */
int afs_spool_new(const char *dir, struct afs_spool **out, char *errmsg);
void afs_spool_free(struct afs_spool *sp);

/* Checks that dir can hold spool files (for mount-time errors). */
int afs_spool_check_dir(const char *dir, char *errmsg);

/* Current size of the staged data. Returns 0 or -errno. */
int afs_spool_size(struct afs_spool *sp, uint64_t *size);

#endif
