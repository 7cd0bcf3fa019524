/* Spool files: a memfd while small (a budget shared by all), else
 * O_TMPFILE where the file system has it, else mkstemp and unlink right
 * away. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "spool.h"
#include "util.h"

int afs_spool_tmpfile(const char *dir)
{
	char path[4200];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	snprintf(path, sizeof(path), "%s/.aisfs-spool-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

/* Bytes of AFS_SPOOL_MEM_TOTAL held by spools in memory. */
static _Atomic uint64_t mem_used;

/* Takes n bytes of the memory budget, if it has them. */
static bool mem_take(uint64_t n)
{
	uint64_t cur = atomic_load(&mem_used);

	do {
		if (cur + n > AFS_SPOOL_MEM_TOTAL)
			return false;
	} while (!atomic_compare_exchange_weak(&mem_used, &cur, cur + n));
	return true;
}

int afs_spool_new(const char *dir, bool mem, struct afs_spool **out,
		  char *errmsg)
{
	struct afs_spool *sp;
	int fd = -1;

	if (mem && atomic_load(&mem_used) < AFS_SPOOL_MEM_TOTAL)
		fd = memfd_create("aisfs-spool", MFD_CLOEXEC);
	mem = fd >= 0;
	if (!mem)
		fd = afs_spool_tmpfile(dir);
	if (fd < 0)
		return ais_errf(errmsg, fd, "spool %s: %s", dir, strerror(-fd));
	sp = calloc(1, sizeof(*sp));
	if (!sp) {
		close(fd);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&sp->lock, NULL);
	pthread_cond_init(&sp->idle, NULL);
	sp->fd = fd;
	sp->dir = dir;
	sp->mem = mem;
	*out = sp;
	return 0;
}

/* Copies the memfd's bytes into a new spool file and puts that file in
 * its place, under the same descriptor number. */
static int to_disk(struct afs_spool *sp)
{
	char buf[65536];
	uint64_t off = 0, size = 0;
	ssize_t n;
	int fd, rc;

	rc = afs_spool_size(sp, &size);
	if (rc)
		return rc;
	fd = afs_spool_tmpfile(sp->dir);
	if (fd < 0)
		return fd;
	while (off < size) {
		n = ais_pread_upto(sp->fd, buf, sizeof(buf), off);
		rc = n <= 0 ? (n < 0 ? (int)n : -EIO)
			    : ais_pwrite_all(fd, buf, (size_t)n, off);
		if (rc) {
			close(fd);
			return rc;
		}
		off += (uint64_t)n;
	}
	if (ftruncate(fd, (off_t)size) < 0 || dup2(fd, sp->fd) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	close(fd);
	atomic_fetch_sub(&mem_used, sp->mem_resv);
	sp->mem_resv = 0;
	sp->mem = false;
	return 0;
}

int afs_spool_reserve(struct afs_spool *sp, uint64_t end)
{
	if (!sp->mem || end <= sp->mem_resv)
		return 0;
	if (end <= AFS_SPOOL_MEM_FILE && mem_take(end - sp->mem_resv)) {
		sp->mem_resv = end;
		return 0;
	}
	return to_disk(sp);
}

void afs_spool_free(struct afs_spool *sp)
{
	if (!sp)
		return;
	if (sp->mem)
		atomic_fetch_sub(&mem_used, sp->mem_resv);
	close(sp->fd);
	pthread_cond_destroy(&sp->idle);
	pthread_mutex_destroy(&sp->lock);
	free(sp);
}

int afs_spool_check_dir(const char *dir, char *errmsg)
{
	int fd = afs_spool_tmpfile(dir);

	if (fd < 0)
		return ais_errf(errmsg, fd,
				"spool directory %s: %s (set spool=DIR)", dir,
				strerror(-fd));
	close(fd);
	return 0;
}

int afs_spool_size(struct afs_spool *sp, uint64_t *size)
{
	struct stat st;

	if (fstat(sp->fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

void afs_spool_touch(struct afs_spool *sp)
{
	sp->dirty = true;
	sp->gen++;
	sp->mtime_ns = ais_now_real_ns();
	sp->ctime_ns = sp->mtime_ns;
	sp->mtime_set = true;
	sp->mtime_given = false;
}

void afs_spool_wait_idle(struct afs_spool *sp)
{
	while (sp->uploading)
		pthread_cond_wait(&sp->idle, &sp->lock);
}
