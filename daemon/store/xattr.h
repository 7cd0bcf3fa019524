/* An object's metadata where the node keeps it: the "user.ais" xattr of the
 * object's file, holding the encoded ObjMeta (lib/core/objmeta.h). */
#ifndef AISD_STORE_XATTR_H
#define AISD_STORE_XATTR_H

#include <sys/stat.h>

#include "objmeta.h"

/* Read the xattr of an open file / a path (no symlinks followed).
 * Return 0, -ENODATA if the file has none, -EBADMSG if it does not decode,
 * or another -errno. */
int objmeta_read_fd(int fd, struct ais_obj_meta *m);
int objmeta_read_path(const char *path, struct ais_obj_meta *m);

/* Write the xattr. Return 0 or -errno (-ENOSPC on a full disk). */
int objmeta_write_fd(int fd, const struct ais_obj_meta *m);
int objmeta_write_path(const char *path, const struct ais_obj_meta *m);

/* An object's ObjExt (its S3 ETag and headers), encoded, in the
 * "user.ais.x" xattr. objext_read_fd: its length into buf (cap bytes), 0
 * when the object has none, or -errno. objext_write_fd: 0 or -errno (len
 * 0 writes nothing). objext_copy_fd: from one file to another. */
#define AISD_XATTR_EXT AISD_XATTR ".x"
long objext_read_fd(int fd, uint8_t *buf, size_t cap);
int objext_write_fd(int fd, const uint8_t *buf, size_t len);
int objext_copy_fd(int from, int to);

/* The metadata of a file that has no xattr (placed there by hand): its
 * size, mtime, mode and owner, version 1, no checksum. */
void objmeta_from_stat(const struct stat *st, struct ais_obj_meta *m);

#endif
