/* The streaming object walk over one mountpath. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names.h"

#include "move/walk.h"
#include "store/mountpath.h"

struct frame {
	DIR *d;
	size_t len; /* of the name prefix at this level ("a/b/") */
};

static bool dot_or_dotdot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/* The type of entry de of directory dir: DT_DIR, DT_REG or other. */
static int entry_type(DIR *dir, const struct dirent *de)
{
	struct stat sb;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG : 0;
}

static DIR *open_sub(DIR *parent, const char *name)
{
	int fd = openat(dirfd(parent), name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

/* Walks one bucket directory (open as top). */
static int walk_bucket(DIR *top, const char *bucket, int mp, walk_cb cb,
		       void *arg, const atomic_bool *stop)
{
	struct frame *st = NULL;
	size_t depth = 0, cap = 0, nlen;
	char *name = malloc(AIS_NAME_MAX + 2);
	struct dirent *de;
	int rc = 0, type;

	if (!name)
		return -ENOMEM;
	cap = 16;
	st = malloc(cap * sizeof(*st));
	if (!st) {
		free(name);
		return -ENOMEM;
	}
	st[0].d = top;
	st[0].len = 0;
	depth = 1;
	while (depth > 0 && !rc) {
		struct frame *f = &st[depth - 1];

		if (stop && atomic_load(stop)) {
			rc = -ECANCELED;
			break;
		}
		errno = 0;
		de = readdir(f->d);
		if (!de) {
			/* This directory is done (or was removed). */
			if (depth > 1)
				closedir(f->d);
			depth--;
			continue;
		}
		if (dot_or_dotdot(de->d_name))
			continue;
		nlen = strlen(de->d_name);
		if (f->len + nlen + 1 > AIS_NAME_MAX)
			continue; /* not an object name of ours */
		type = entry_type(f->d, de);
		memcpy(name + f->len, de->d_name, nlen);
		name[f->len + nlen] = 0;
		if (type == DT_REG) {
			rc = cb(arg, bucket, name, mp);
		} else if (type == DT_DIR) {
			DIR *sub = open_sub(f->d, de->d_name);
			size_t flen = f->len;

			if (!sub)
				continue; /* pruned meanwhile */
			if (depth == cap) {
				struct frame *n =
				    realloc(st, 2 * cap * sizeof(*st));

				if (!n) {
					closedir(sub);
					rc = -ENOMEM;
					break;
				}
				st = n;
				cap *= 2;
			}
			name[flen + nlen] = '/';
			st[depth].d = sub;
			st[depth].len = flen + nlen + 1;
			depth++;
		}
	}
	while (depth > 1)
		closedir(st[--depth].d);
	free(st);
	free(name);
	return rc;
}

int walk_mountpath(const char *root, int mp, walk_cb cb, void *arg,
		   const atomic_bool *stop)
{
	DIR *d = opendir(root), *b;
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -errno;
	while (!rc && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* .ais/, and no bucket starts with '.' */
		if (entry_type(d, de) != DT_DIR)
			continue;
		b = open_sub(d, de->d_name);
		if (!b)
			continue;
		rc = walk_bucket(b, de->d_name, mp, cb, arg, stop);
		closedir(b);
	}
	closedir(d);
	return rc;
}
