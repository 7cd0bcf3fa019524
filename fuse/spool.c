/* Spool files: O_TMPFILE where the file system has it, else mkstemp and
 * unlink right away. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

static int open_tmp(const char *dir)
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

int afs_spool_new(const char *dir, struct afs_spool **out, char *errmsg)
{
	struct afs_spool *sp;
	int fd = open_tmp(dir);

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
	*out = sp;
	return 0;
}

void afs_spool_free(struct afs_spool *sp)
{
	if (!sp)
		return;
	close(sp->fd);
	pthread_cond_destroy(&sp->idle);
	pthread_mutex_destroy(&sp->lock);
	free(sp);
}

int afs_spool_check_dir(const char *dir, char *errmsg)
{
	int fd = open_tmp(dir);

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
	sp->mtime_set = true;
}

void afs_spool_wait_idle(struct afs_spool *sp)
{
	while (sp->uploading)
		pthread_cond_wait(&sp->idle, &sp->lock);
}
