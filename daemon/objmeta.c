/* Object metadata in the "user.ais" xattr. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include "mountpath.h"
#include "objmeta.h"

#define XATTR_MAX 512 /* an ObjMeta is < 150 bytes */

static int decode(const uint8_t *buf, ssize_t n, struct objmeta *m)
{
	Ais__ObjMeta *pb = ais__obj_meta__unpack(NULL, (size_t)n, buf);

	if (!pb)
		return -EBADMSG;
	memset(m, 0, sizeof(*m));
	m->size = pb->size;
	m->cksum_type = pb->cksum_type;
	if (pb->cksum_value)
		snprintf(m->cksum, sizeof(m->cksum), "%s", pb->cksum_value);
	m->version = pb->version;
	m->mtime_ns = pb->mtime_ns;
	m->mode = pb->mode;
	m->uid = pb->uid;
	m->gid = pb->gid;
	ais__obj_meta__free_unpacked(pb, NULL);
	return 0;
}

int objmeta_read_fd(int fd, struct objmeta *m)
{
	uint8_t buf[XATTR_MAX];
	ssize_t n = fgetxattr(fd, AISD_XATTR, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	return decode(buf, n, m);
}

int objmeta_read_path(const char *path, struct objmeta *m)
{
	uint8_t buf[XATTR_MAX];
	ssize_t n = lgetxattr(path, AISD_XATTR, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	return decode(buf, n, m);
}

static size_t encode(const struct objmeta *m, uint8_t *buf)
{
	Ais__ObjMeta pb;

	objmeta_to_pb(m, &pb);
	return ais__obj_meta__pack(&pb, buf);
}

int objmeta_write_fd(int fd, const struct objmeta *m)
{
	uint8_t buf[XATTR_MAX];
	size_t n = encode(m, buf);

	return fsetxattr(fd, AISD_XATTR, buf, n, 0) < 0 ? -errno : 0;
}

int objmeta_write_path(const char *path, const struct objmeta *m)
{
	uint8_t buf[XATTR_MAX];
	size_t n = encode(m, buf);

	return lsetxattr(path, AISD_XATTR, buf, n, 0) < 0 ? -errno : 0;
}

void objmeta_from_stat(const struct stat *st, struct objmeta *m)
{
	memset(m, 0, sizeof(*m));
	m->size = (uint64_t)st->st_size;
	m->version = 1;
	m->mtime_ns =
	    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	m->mode = st->st_mode & 07777;
	m->uid = st->st_uid;
	m->gid = st->st_gid;
}

void objmeta_to_pb(const struct objmeta *m, Ais__ObjMeta *pb)
{
	ais__obj_meta__init(pb);
	pb->size = m->size;
	pb->cksum_type = (Ais__CksumType)m->cksum_type;
	pb->cksum_value = (char *)m->cksum;
	pb->version = m->version;
	pb->mtime_ns = m->mtime_ns;
	pb->mode = m->mode;
	pb->uid = m->uid;
	pb->gid = m->gid;
}
