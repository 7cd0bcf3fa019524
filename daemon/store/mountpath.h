/* The node's mountpaths (one directory per disk): start-up checks, the
 * persistent node id, HRW placement of objects over them, and their
 * on-disk layout (<mp>/.ais/node, <mp>/.ais/lock, <mp>/.ais/tmp/,
 * <mp>/<bucket>/<name>). */
#ifndef AISD_STORE_MOUNTPATH_H
#define AISD_STORE_MOUNTPATH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define AISD_NODE_ID_LEN 16 /* hex characters */
#define AISD_PATH_MAX	 4096
#define AISD_MP_PATH_MAX 2048 /* leaves room for bucket and object name */
#define AISD_XATTR	 "user.ais"

struct mpset {
	size_t n;
	char **paths; /* absolute, no trailing '/'; also the HRW ids */
	int *lockfds; /* flock'ed <mp>/.ais/lock, held for the process */
	char node_id[AISD_NODE_ID_LEN + 1];
	atomic_ulong tmp_seq; /* makes mpset_tmp_path names unique */
};

/* Checks every mountpath (exists, is a writable directory, supports user
 * xattrs), creates .ais/tmp/ and empties it (leftovers of killed PUTs),
 * and reads or creates the node id shared by all of them. Refuses
 * mountpaths that name the same directory twice or whose node ids differ.
 * Returns 0 with *out (free with mpset_free) or -errno with errmsg. */
int mpset_open(char *const *paths, size_t n, struct mpset **out, char *errmsg);
void mpset_free(struct mpset *m);

/* Fills order[0..n-1] with mountpath indexes, the HRW owner of
 * "bucket/name" first. */
void mpset_order(const struct mpset *m, const char *bucket, const char *name,
		 int *order);

/* "<mp>/<bucket>" and "<mp>/<bucket>/<name>" into buf (AISD_PATH_MAX). */
void mpset_bucket_path(const struct mpset *m, int mp, const char *bucket,
		       char *buf);
void mpset_obj_path(const struct mpset *m, int mp, const char *bucket,
		    const char *name, char *buf);

/* A fresh unique path "<mp>/.ais/tmp/<tag>.<unique>" into buf. */
void mpset_tmp_path(struct mpset *m, int mp, const char *tag, char *buf);

/* Capacity and file system type of mountpath mp (fstype: 32 bytes). */
int mpset_statfs(const struct mpset *m, int mp, uint64_t *total, uint64_t *fsid,
		 uint64_t *avail, char *fstype, size_t fstypelen);

#endif
