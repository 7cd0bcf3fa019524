/* Object metadata kept in the "user.ais" xattr of each object file,
 * encoded as the protobuf ObjMeta. */
#ifndef AISD_OBJMETA_H
#define AISD_OBJMETA_H

#include <stdint.h>
#include <sys/stat.h>

#include "ais.pb-c.h"
#include "cksum.h"

struct objmeta {
	uint64_t size;
	int cksum_type;
	char cksum[AIS_CKSUM_HEX_MAX];
	uint64_t version;
	int64_t mtime_ns;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
};

/* Read the xattr of an open file / a path (no symlinks followed).
 * Return 0, -ENODATA if the file has none, -EBADMSG if it does not unpack,
 * or another -errno. */
int objmeta_read_fd(int fd, struct objmeta *m);
int objmeta_read_path(const char *path, struct objmeta *m);

/* Write the xattr. Return 0 or -errno (-ENOSPC on a full disk). */
int objmeta_write_fd(int fd, const struct objmeta *m);
int objmeta_write_path(const char *path, const struct objmeta *m);

/* The metadata of a file that has no xattr (placed there by hand). */
void objmeta_from_stat(const struct stat *st, struct objmeta *m);

/* Fills pb (caller's, initialised here) pointing into m: m must outlive it. */
void objmeta_to_pb(const struct objmeta *m, Ais__ObjMeta *pb);

#endif
