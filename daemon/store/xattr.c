/* Object metadata in the "user.ais" xattr. */
#include <errno.h>
#include <string.h>
#include <sys/xattr.h>

#include "store/mountpath.h"
#include "store/xattr.h"

int objmeta_read_fd(int fd, struct ais_obj_meta *m)
{
	uint8_t buf[AIS_OBJ_META_MAX];
	ssize_t n = fgetxattr(fd, AISD_XATTR, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	return ais_obj_meta_decode(buf, (size_t)n, m);
}

int objmeta_read_path(const char *path, struct ais_obj_meta *m)
{
	uint8_t buf[AIS_OBJ_META_MAX];
	ssize_t n = lgetxattr(path, AISD_XATTR, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	return ais_obj_meta_decode(buf, (size_t)n, m);
}

int objmeta_write_fd(int fd, const struct ais_obj_meta *m)
{
	uint8_t buf[AIS_OBJ_META_MAX];
	size_t n = ais_obj_meta_encode(m, buf);

	return fsetxattr(fd, AISD_XATTR, buf, n, 0) < 0 ? -errno : 0;
}

int objmeta_write_path(const char *path, const struct ais_obj_meta *m)
{
	uint8_t buf[AIS_OBJ_META_MAX];
	size_t n = ais_obj_meta_encode(m, buf);

	return lsetxattr(path, AISD_XATTR, buf, n, 0) < 0 ? -errno : 0;
}

long objext_read_fd(int fd, uint8_t *buf, size_t cap)
{
	ssize_t n = fgetxattr(fd, AISD_XATTR_EXT, buf, cap);

	if (n < 0)
		return errno == ENODATA ? 0 : -errno;
	return (long)n;
}

int objext_write_fd(int fd, const uint8_t *buf, size_t len)
{
	if (!len)
		return 0;
	return fsetxattr(fd, AISD_XATTR_EXT, buf, len, 0) < 0 ? -errno : 0;
}

int objext_copy_fd(int from, int to)
{
	uint8_t buf[AIS_OBJ_EXT_MAX];
	long n = objext_read_fd(from, buf, sizeof(buf));

	return n < 0 ? (int)n : objext_write_fd(to, buf, (size_t)n);
}

void objmeta_from_stat(const struct stat *st, struct ais_obj_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->size = (uint64_t)st->st_size;
	m->version = 1;
	m->mtime_ns =
	    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	m->mode = st->st_mode & 07777;
	m->uid = st->st_uid;
	m->gid = st->st_gid;
	m->ctime_ns = m->atime_ns = m->mtime_ns;
}
