/* File I/O every program shares. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The loop of every whole or partial read and write: read(2), pread(2),
 * write(2) or pwrite(2) until len bytes moved or a read hit the end. Returns
 * the count or -errno. */
static ssize_t io_loop(int fd, void *buf, size_t len, uint64_t off, bool at_off,
		       bool writing)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n;

		if (writing)
			n = at_off ? pwrite(fd, p + done, len - done,
					    (off_t)(off + done))
				   : write(fd, p + done, len - done);
		else
			n = at_off ? pread(fd, p + done, len - done,
					   (off_t)(off + done))
				   : read(fd, p + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break; /* end of file (a write of 0 does not happen) */
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int whole(ssize_t n, size_t len)
{
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

int ais_write_all(int fd, const void *buf, size_t len)
{
	return whole(io_loop(fd, (void *)buf, len, 0, false, true), len);
}

int ais_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	return whole(io_loop(fd, (void *)buf, len, off, true, true), len);
}

ssize_t ais_read_upto(int fd, void *buf, size_t len)
{
	return io_loop(fd, buf, len, 0, false, false);
}

ssize_t ais_pread_upto(int fd, void *buf, size_t len, uint64_t off)
{
	return io_loop(fd, buf, len, off, true, false);
}

ssize_t ais_read_file(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = ais_read_upto(fd, buf, len);
	close(fd);
	return n;
}

int ais_read_all(int fd, void *buf, size_t len)
{
	return whole(ais_read_upto(fd, buf, len), len);
}

int ais_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return whole(ais_pread_upto(fd, buf, len, off), len);
}

int ais_wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rc;

	do {
		rc = poll(&p, 1, timeout_ms);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc == 0 ? 0 : p.revents;
}

int ais_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int ais_fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash)
		return ais_fsync_dir(".");
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = 0;
	return ais_fsync_dir(dir);
}

int ais_file_commit(int fd, const char *tmp, const char *path)
{
	int rc = 0;

	if (fsync(fd) < 0)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return ais_fsync_parent(path);
}

int ais_file_replace(const char *path, const void *buf, size_t len, mode_t mode)
{
	char tmp[4096];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	rc = ais_write_all(fd, buf, len);
	if (rc)
		unlink(tmp);
	else
		rc = ais_file_commit(fd, tmp, path);
	close(fd);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	int rc = (flag == FTW_DP || flag == FTW_D) ? rmdir(path) : unlink(path);

	(void)st;
	(void)ftw;
	return rc < 0 && errno != ENOENT ? -1 : 0;
}

int ais_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return errno ? -errno : -EIO;
	return 0;
}
