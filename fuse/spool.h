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
	int fd;
	bool loaded;	/* holds the object's bytes (or started empty) */
	bool dirty;	/* changed since the last PUT */
	bool mtime_set; /* utimens while dirty: the PUT keeps this mtime */
	int64_t mtime_ns;
};

/* Creates an empty spool file in dir. Returns 0 or -errno with the reason
 * in errmsg; free *out with afs_spool_free. */
int afs_spool_new(const char *dir, struct afs_spool **out, char *errmsg);
void afs_spool_free(struct afs_spool *sp);

/* Checks that dir can hold spool files (for mount-time errors). */
int afs_spool_check_dir(const char *dir, char *errmsg);

/* Current size of the staged data. Returns 0 or -errno. */
int afs_spool_size(struct afs_spool *sp, uint64_t *size);

#endif
