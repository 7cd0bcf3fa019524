/* Write staging: an unlinked temporary file per object open for writing;
 * in memory (a memfd) while it is new and small, so that a copy of many
 * small files does not make and delete a file on disk for each (nor have
 * the nodes' flushes of that file system write them out). */
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
	bool mtime_set; /* stat shows mtime_ns (the last write's time, or
			   one set by utimens since) until the PUT; written
			   under the inode's lock too */
	/* Write-back (writeback.h): a copy of the bytes is on its way to the
	 * cluster without the lock held. A PUT of this spool waits for it, so
	 * PUTs of one file land in order. */
	bool uploading;
	bool queued;  /* an upload is queued (writeback.c's lock) */
	uint64_t gen; /* moves on at every change: an upload of an older
			 generation leaves the spool dirty */
	int64_t mtime_ns;
	/* While dirty: the last change made here (a write, a chmod...), and
	 * an access time set since the last PUT (atime_set). Under the
	 * inode's lock too. */
	int64_t ctime_ns;
	/* mtime_ns was set by utimensat, not by a write: the PUT carries
	 * it. Else the node takes the commit time for both mtime and ctime
	 * (equal, so the inode needs no room for a ctime of its own). */
	bool mtime_given;
	bool atime_set;
	int64_t atime_ns;
	const char *dir;   /* where it goes when it outgrows memory */
	uint64_t mem_resv; /* a memfd: bytes of the memory budget it holds */
	bool mem;	   /* fd is a memfd */
};

/* A spool in memory holds at most this many bytes; all of them together
 * at most AFS_SPOOL_MEM_TOTAL. Past either, it moves to a file in dir. */
#define AFS_SPOOL_MEM_FILE  (1u << 20)
#define AFS_SPOOL_MEM_TOTAL (64u << 20)

/* Under sp->lock and the inode's lock (attributes read the times under
 * the latter): the bytes changed now. */
void afs_spool_touch(struct afs_spool *sp);
/* Under sp->lock: waits until no upload of sp is on its way. */
void afs_spool_wait_idle(struct afs_spool *sp);

/* Creates an empty spool: in memory when mem and the budget allows, else
 * a file in dir (dir must outlive it). Returns 0 or -errno with the reason
 * in errmsg; free *out with afs_spool_free. */
int afs_spool_new(const char *dir, bool mem, struct afs_spool **out,
		  char *errmsg);
/* Under sp->lock, before its bytes grow to end (a write, a truncate):
 * keeps it in memory if it fits, else moves it to a file (the same fd
 * number, so readers without the lock carry on). Returns 0 or -errno. */
int afs_spool_reserve(struct afs_spool *sp, uint64_t end);
void afs_spool_free(struct afs_spool *sp);

/* Checks that dir can hold spool files (for mount-time errors). */
int afs_spool_check_dir(const char *dir, char *errmsg);

/* An unnamed file in dir, read-write (gone at its last close): a
 * descriptor, or -errno. */
int afs_spool_tmpfile(const char *dir);

/* Current size of the staged data. Returns 0 or -errno. */
int afs_spool_size(struct afs_spool *sp, uint64_t *size);

#endif
