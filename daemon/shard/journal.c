/* The undo journal of an append in place (see journal.h): its file format,
 * writing, removal, undo, and the roll-back at start-up. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cksum.h"
#include "fileio.h"
#include "log.h"
#include "util.h"

#include "shard/journal.h"

#define JOURNAL_DIR   "/.ais/journal"
#define JOURNAL_MAGIC "AISAPPJ1"
#define JOURNAL_SUM   16 /* XXH3-64 hex of everything before it */

/* The fixed head of a journal file; then the object path (under the
 * mountpath), the old xattr, the old tail bytes and the checksum. Native
 * byte order: a journal is read back by the same node. */
struct jhead {
	char magic[8];
	uint64_t end;
	uint64_t old_size;
	uint64_t ino;
	uint32_t path_len;
	int32_t xattr_len;
	uint32_t tail_len;
	uint32_t pad;
};

static void journal_dir(const struct mpset *mps, int mp, char *buf)
{
	snprintf(buf, AISD_PATH_MAX, "%s" JOURNAL_DIR, mps->paths[mp]);
}

int journal_write(struct mpset *mps, int mp, struct journal *j)
{
	size_t pl = strlen(j->rel);
	size_t xl = j->xattr_len > 0 ? (size_t)j->xattr_len : 0;
	size_t len = sizeof(struct jhead) + pl + xl + j->tail_len;
	char sum[AIS_CKSUM_HEX_MAX];
	struct jhead h;
	uint8_t *raw, *p;
	int rc;

	journal_dir(mps, mp, j->dir);
	if (snprintf(j->path, sizeof(j->path), "%s/append.%ld.%lu", j->dir,
		     (long)getpid(), atomic_fetch_add(&mps->tmp_seq, 1)) >=
	    (int)sizeof(j->path))
		return -ENAMETOOLONG;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, JOURNAL_MAGIC, 8);
	h.end = j->end;
	h.old_size = j->old_size;
	h.ino = j->ino;
	h.path_len = (uint32_t)pl;
	h.xattr_len = j->xattr_len;
	h.tail_len = j->tail_len;
	raw = malloc(len + JOURNAL_SUM);
	if (!raw)
		return -ENOMEM;
	p = raw;
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, j->rel, pl);
	p += pl;
	if (xl)
		memcpy(p, j->xattr, xl);
	p += xl;
	if (j->tail_len)
		memcpy(p, j->tail, j->tail_len);
	rc = ais_cksum_buf(AIS_CKSUM_XXH3, raw, len, sum);
	if (!rc) {
		memcpy(raw + len, sum, JOURNAL_SUM);
		if (mkdir(j->dir, 0755) < 0 && errno != EEXIST)
			rc = -errno;
	}
	if (!rc) {
		rc = ais_file_replace(j->path, raw, len + JOURNAL_SUM, 0600);
		/* A journal that is not known durable must not stay: the
		 * append fails, and a journal left behind would undo later
		 * appends at the next start. */
		if (rc)
			unlink(j->path);
	}
	free(raw);
	return rc;
}

int journal_remove(const struct journal *j)
{
	if (unlink(j->path) < 0)
		return -errno;
	if (ais_fsync_dir(j->dir) < 0)
		ais_log(LOG_WARNING, "fsync of %s failed after an append",
			j->dir);
	return 0;
}

int journal_undo(int fd, const struct journal *j)
{
	int rc;

	if (j->tail_len &&
	    (rc = ais_pwrite_all(fd, j->tail, j->tail_len, j->end)))
		return rc;
	if (ftruncate(fd, (off_t)j->old_size) < 0)
		return -errno;
	if (j->xattr_len >= 0) {
		if (fsetxattr(fd, AISD_XATTR, j->xattr, (size_t)j->xattr_len,
			      0) < 0)
			return -errno;
	} else if (fremovexattr(fd, AISD_XATTR) < 0 && errno != ENODATA) {
		return -errno;
	}
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

/* Parses a journal read whole into raw: j points into it (and rel into
 * relbuf). -EBADMSG if it is incomplete or damaged. */
static int journal_parse(const uint8_t *raw, size_t len, struct journal *j,
			 char *relbuf)
{
	char sum[AIS_CKSUM_HEX_MAX];
	struct jhead h;
	size_t need, xl;

	if (len < sizeof(h) + JOURNAL_SUM)
		return -EBADMSG;
	memcpy(&h, raw, sizeof(h));
	if (memcmp(h.magic, JOURNAL_MAGIC, 8) || h.path_len >= AISD_PATH_MAX ||
	    h.path_len == 0 || h.xattr_len > JOURNAL_XATTR_MAX ||
	    h.xattr_len < -1 || h.tail_len > JOURNAL_TAIL_MAX ||
	    h.old_size - h.end != h.tail_len)
		return -EBADMSG;
	xl = h.xattr_len > 0 ? (size_t)h.xattr_len : 0;
	need = sizeof(h) + h.path_len + xl + h.tail_len;
	if (len != need + JOURNAL_SUM)
		return -EBADMSG;
	if (ais_cksum_buf(AIS_CKSUM_XXH3, raw, need, sum) ||
	    memcmp(sum, raw + need, JOURNAL_SUM))
		return -EBADMSG;
	memcpy(relbuf, raw + sizeof(h), h.path_len);
	relbuf[h.path_len] = 0;
	j->end = h.end;
	j->old_size = h.old_size;
	j->ino = h.ino;
	j->rel = relbuf;
	j->xattr_len = h.xattr_len;
	j->xattr = raw + sizeof(h) + h.path_len;
	j->tail_len = h.tail_len;
	j->tail = j->xattr + xl;
	return 0;
}

/* Done with the journal at jpath: gone, durably. */
static void discard(const char *jdir, const char *jpath)
{
	unlink(jpath);
	ais_fsync_dir(jdir);
}

/* Applies one journal file found at start-up. */
static int recover_one(const char *mpath, const char *jdir, const char *jpath,
		       char *errmsg)
{
	char obj[AISD_PATH_MAX], rel[AISD_PATH_MAX];
	struct journal j;
	struct stat st;
	uint8_t *raw;
	size_t max = sizeof(struct jhead) + AISD_PATH_MAX + JOURNAL_XATTR_MAX +
		     JOURNAL_TAIL_MAX + JOURNAL_SUM;
	int fd, rc;

	fd = open(jpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return ais_errf(errmsg, rc, "append journal %s: %s", jpath,
				strerror(-rc));
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		raw = NULL;
		rc = -EBADMSG;
	} else {
		raw = malloc((size_t)st.st_size + 1);
		rc = raw ? ais_pread_all(fd, raw, (size_t)st.st_size, 0)
			 : -ENOMEM;
		close(fd);
		if (rc && rc != -EIO) {
			free(raw);
			return ais_errf(errmsg, rc, "append journal %s: %s",
					jpath, strerror(-rc));
		}
		rc = rc ? -EBADMSG
			: journal_parse(raw, (size_t)st.st_size, &j, rel);
	}
	if (rc) {
		/* The journal is made durable before the shard is touched:
		 * one that is incomplete means the shard was not changed. */
		ais_log(LOG_WARNING,
			"discarding incomplete append journal %s (the shard "
			"was not changed yet)",
			jpath);
		free(raw);
		discard(jdir, jpath);
		return 0;
	}
	if (snprintf(obj, sizeof(obj), "%s/%s", mpath, j.rel) >=
	    (int)sizeof(obj)) {
		errno = ENAMETOOLONG;
		fd = -1;
	} else {
		fd = open(obj, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_ino != j.ino) {
		ais_log(LOG_WARNING,
			"append journal %s: %s is %s; nothing to roll back",
			jpath, obj,
			fd < 0 ? strerror(errno) : "another file now");
		if (fd >= 0)
			close(fd);
		free(raw);
		discard(jdir, jpath);
		return 0;
	}
	rc = journal_undo(fd, &j);
	close(fd);
	free(raw);
	if (rc)
		return ais_errf(errmsg, rc,
				"cannot roll back the interrupted append to "
				"%s: %s (journal %s kept)",
				obj, strerror(-rc), jpath);
	ais_log(LOG_NOTICE,
		"rolled back an interrupted shard append: %s is %llu bytes "
		"again, as before the append",
		obj, (unsigned long long)j.old_size);
	discard(jdir, jpath);
	return 0;
}

static bool is_tmp(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".tmp");
}

int journal_recover(struct mpset *mps, char *errmsg)
{
	char jdir[AISD_PATH_MAX], jpath[AISD_PATH_MAX];
	struct dirent *de;
	size_t i;
	DIR *d;
	int rc = 0;

	for (i = 0; i < mps->n && !rc; i++) {
		journal_dir(mps, (int)i, jdir);
		if (mkdir(jdir, 0755) < 0 && errno != EEXIST)
			return ais_errf(errmsg, -errno, "cannot create %s: %s",
					jdir, strerror(errno));
		d = opendir(jdir);
		if (!d)
			return ais_errf(errmsg, -errno, "%s: %s", jdir,
					strerror(errno));
		while ((de = readdir(d)) && !rc) {
			if (strncmp(de->d_name, "append.", 7))
				continue;
			if (snprintf(jpath, sizeof(jpath), "%s/%s", jdir,
				     de->d_name) >= (int)sizeof(jpath))
				continue;
			/* A journal's temporary file (ais_file_replace): the
			 * crash came before the journal was in place, so the
			 * shard was not touched. */
			if (is_tmp(de->d_name)) {
				discard(jdir, jpath);
				continue;
			}
			rc = recover_one(mps->paths[i], jdir, jpath, errmsg);
		}
		closedir(d);
	}
	return rc;
}
