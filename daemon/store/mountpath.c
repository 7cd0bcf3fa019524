/* The node's mountpaths: checks, node id, placement, layout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"
#include "hrw.h"
#include "util.h"

#include "store/mountpath.h"

/* Empties dir without removing it. */
static int clean_dir(const char *dir, char *errmsg)
{
	char path[AISD_PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d)
		return ais_errf(errmsg, -errno, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		rc = ais_rm_rf(path);
		if (rc) {
			ais_errf(errmsg, rc, "cannot clean %s: %s", path,
				 strerror(-rc));
			break;
		}
	}
	closedir(d);
	return rc;
}

static int mkdir_ok(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int probe_xattr(const char *mp, char *errmsg)
{
	char path[AISD_PATH_MAX];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/.ais/tmp/xattr-probe", mp);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ais_errf(errmsg, -errno,
				"mountpath %s: cannot create "
				"%s: %s",
				mp, path, strerror(errno));
	if (fsetxattr(fd, AISD_XATTR ".probe", "1", 1, 0) < 0) {
		rc = -errno;
		if (rc == -EOPNOTSUPP || rc == -ENOTSUP)
			ais_errf(errmsg, rc,
				 "mountpath %s: no user xattr "
				 "support (mount with user_xattr)",
				 mp);
		else
			ais_errf(errmsg, rc,
				 "mountpath %s: cannot set an "
				 "xattr: %s",
				 mp, strerror(-rc));
	}
	close(fd);
	unlink(path);
	return rc;
}

/* Reads <mp>/.ais/node into id; -ENOENT if there is none. */
static int read_node_id(const char *mp, char *id, char *errmsg)
{
	char path[AISD_PATH_MAX], buf[64];
	ssize_t n;
	int i;

	snprintf(path, sizeof(path), "%s/.ais/node", mp);
	n = ais_read_file(path, buf, sizeof(buf) - 1);
	if (n == -ENOENT)
		return -ENOENT;
	if (n < 0)
		return ais_errf(errmsg, (int)n, "%s: %s", path,
				strerror((int)-n));
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	if (n != AISD_NODE_ID_LEN)
		return ais_errf(errmsg, -EINVAL,
				"%s: not a node id (16 hex digits)", path);
	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", buf[i]))
			return ais_errf(errmsg, -EINVAL,
					"%s: not a node id (16 hex digits)",
					path);
	memcpy(id, buf, AISD_NODE_ID_LEN + 1);
	return 0;
}

/* The id is what HRW places objects by: it must survive a power cut, so
 * it is replaced durably (its directory too). */
static int write_node_id(const char *mp, const char *id, char *errmsg)
{
	char path[AISD_PATH_MAX], line[32];
	int rc;

	snprintf(path, sizeof(path), "%s/.ais/node", mp);
	snprintf(line, sizeof(line), "%s\n", id);
	rc = ais_file_replace(path, line, strlen(line), 0644);
	if (rc)
		return ais_errf(errmsg, rc, "cannot write %s: %s", path,
				strerror(-rc));
	return 0;
}

static int new_node_id(char *id, char *errmsg)
{
	unsigned char r[AISD_NODE_ID_LEN / 2];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return ais_errf(errmsg, -EIO, "getrandom: %s", strerror(errno));
	for (i = 0; i < sizeof(r); i++)
		sprintf(id + 2 * i, "%02x", r[i]);
	return 0;
}

/* Checks one mountpath and prepares .ais/. */
static int prepare(const char *mp, int *lockfd, char *errmsg)
{
	char path[AISD_PATH_MAX];
	struct stat st;
	int rc;

	if (stat(mp, &st) < 0)
		return ais_errf(errmsg, -errno, "mountpath %s: %s", mp,
				strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ais_errf(errmsg, -ENOTDIR,
				"mountpath %s: not a directory", mp);
	if (access(mp, W_OK | X_OK) < 0)
		return ais_errf(errmsg, -errno,
				"mountpath %s: not writable: %s", mp,
				strerror(errno));
	snprintf(path, sizeof(path), "%s/.ais", mp);
	rc = mkdir_ok(path);
	if (rc)
		return ais_errf(errmsg, rc,
				"mountpath %s: cannot create %s: %s", mp, path,
				strerror(-rc));
	/* One aisd per mountpath: the lock is held until the process ends
	 * (the fd is never closed), and taken before .ais/tmp is cleaned. */
	snprintf(path, sizeof(path), "%s/.ais/lock", mp);
	*lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*lockfd < 0)
		return ais_errf(errmsg, -errno, "mountpath %s: %s: %s", mp,
				path, strerror(errno));
	if (flock(*lockfd, LOCK_EX | LOCK_NB) < 0)
		return ais_errf(errmsg, -EBUSY,
				"mountpath %s is in use by another aisd", mp);
	snprintf(path, sizeof(path), "%s/.ais/tmp", mp);
	rc = mkdir_ok(path);
	if (rc)
		return ais_errf(errmsg, rc,
				"mountpath %s: cannot create %s: %s", mp, path,
				strerror(-rc));
	rc = clean_dir(path, errmsg);
	if (rc)
		return rc;
	return probe_xattr(mp, errmsg);
}

int mpset_open(char *const *paths, size_t n, struct mpset **out, char *errmsg)
{
	struct mpset *m;
	char id[AISD_NODE_ID_LEN + 1] = "", one[AISD_NODE_ID_LEN + 1];
	const char *id_from = NULL;
	size_t i, j;
	int rc;

	m = calloc(1, sizeof(*m));
	if (!m || !(m->paths = calloc(n + 1, sizeof(char *))) ||
	    !(m->lockfds = calloc(n + 1, sizeof(int)))) {
		if (m)
			free(m->paths);
		free(m);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	/* -1: not opened (0 may be a lock file, if stdin was closed). */
	for (i = 0; i <= n; i++)
		m->lockfds[i] = -1;
	for (i = 0; i < n; i++) {
		char *rp = realpath(paths[i], NULL);

		if (!rp) {
			rc = ais_errf(errmsg, -errno, "mountpath %s: %s",
				      paths[i], strerror(errno));
			goto err;
		}
		if (strlen(rp) > AISD_MP_PATH_MAX) {
			free(rp);
			rc = ais_errf(errmsg, -ENAMETOOLONG,
				      "mountpath %s: path too long", paths[i]);
			goto err;
		}
		for (j = 0; j < m->n; j++) {
			if (!strcmp(m->paths[j], rp)) {
				free(rp);
				rc = ais_errf(errmsg, -EINVAL,
					      "mountpath %s given twice",
					      paths[i]);
				goto err;
			}
		}
		m->paths[m->n++] = rp;
		rc = prepare(rp, &m->lockfds[m->n - 1], errmsg);
		if (rc)
			goto err;
	}
	for (i = 0; i < m->n; i++) {
		rc = read_node_id(m->paths[i], one, errmsg);
		if (rc == -ENOENT)
			continue;
		if (rc)
			goto err;
		if (!id_from) {
			memcpy(id, one, sizeof(id));
			id_from = m->paths[i];
		} else if (strcmp(id, one)) {
			rc = ais_errf(errmsg, -EINVAL,
				      "mountpaths disagree on the node id: "
				      "%s/.ais/node has %s, %s/.ais/node has "
				      "%s (mountpaths of different nodes?)",
				      id_from, id, m->paths[i], one);
			goto err;
		}
	}
	if (!id_from && (rc = new_node_id(id, errmsg)))
		goto err;
	for (i = 0; i < m->n; i++) {
		if (read_node_id(m->paths[i], one, NULL) == 0)
			continue;
		rc = write_node_id(m->paths[i], id, errmsg);
		if (rc)
			goto err;
	}
	memcpy(m->node_id, id, sizeof(id));
	*out = m;
	return 0;
err:
	mpset_free(m);
	return rc;
}

void mpset_free(struct mpset *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->paths[i]);
		if (m->lockfds[i] >= 0)
			close(m->lockfds[i]);
	}
	free(m->paths);
	free(m->lockfds);
	free(m);
}

void mpset_order(const struct mpset *m, const char *bucket, const char *name,
		 int *order)
{
	char key[AISD_PATH_MAX];
	int len = ais_hrw_key(bucket, name, key, sizeof(key));
	size_t i;

	if (m->n == 1 || len < 0) {
		for (i = 0; i < m->n; i++)
			order[i] = (int)i;
		return;
	}
	ais_hrw_rank((const char *const *)m->paths, m->n, key, (size_t)len,
		     order);
}

void mpset_bucket_path(const struct mpset *m, int mp, const char *bucket,
		       char *buf)
{
	snprintf(buf, AISD_PATH_MAX, "%s/%s", m->paths[mp], bucket);
}

void mpset_obj_path(const struct mpset *m, int mp, const char *bucket,
		    const char *name, char *buf)
{
	snprintf(buf, AISD_PATH_MAX, "%s/%s/%s", m->paths[mp], bucket, name);
}

void mpset_tmp_path(struct mpset *m, int mp, const char *tag, char *buf)
{
	unsigned long seq = atomic_fetch_add(&m->tmp_seq, 1);

	snprintf(buf, AISD_PATH_MAX, "%s/.ais/tmp/%s.%ld.%lu.%llx",
		 m->paths[mp], tag, (long)getpid(), seq,
		 (unsigned long long)(ais_now_mono_ns() & 0xffffffffffull));
}

static const struct {
	unsigned long magic;
	const char *name;
} fstypes[] = {
    {0xef53, "ext4"},	   {0x58465342, "xfs"},	    {0x9123683e, "btrfs"},
    {0x01021994, "tmpfs"}, {0x794c7630, "overlay"}, {0x2fc12fc1, "zfs"},
    {0x6969, "nfs"},	   {0x65735546, "fuse"},    {0xf2f52010, "f2fs"},
    {0x5346544e, "ntfs"},  {0x4d44, "vfat"},
};

int mpset_statfs(const struct mpset *m, int mp, uint64_t *total, uint64_t *fsid,
		 uint64_t *avail, char *fstype, size_t fstypelen)
{
	struct statfs s;
	size_t i;

	if (statfs(m->paths[mp], &s) < 0)
		return -errno;
	*total = (uint64_t)s.f_blocks * (uint64_t)s.f_bsize;
	*avail = (uint64_t)s.f_bavail * (uint64_t)s.f_bsize;
	memcpy(fsid, &s.f_fsid,
	       sizeof(*fsid) < sizeof(s.f_fsid) ? sizeof(*fsid)
						: sizeof(s.f_fsid));
	snprintf(fstype, fstypelen, "0x%lx", (unsigned long)s.f_type);
	for (i = 0; i < sizeof(fstypes) / sizeof(fstypes[0]); i++)
		if ((unsigned long)s.f_type == fstypes[i].magic)
			snprintf(fstype, fstypelen, "%s", fstypes[i].name);
	return 0;
}
