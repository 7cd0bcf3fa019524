/* Buckets on this node. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "names.h"
#include "fileio.h"
#include "util.h"

#include "store/bucket.h"

int bucket_create(struct store *st, const char *bucket, char *errmsg)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	int existed = 0;
	size_t i;

	for (i = 0; i < mps->n; i++) {
		mpset_bucket_path(mps, (int)i, bucket, path);
		if (mkdir(path, 0755) == 0)
			continue;
		if (errno != EEXIST)
			return ais_errf(errmsg, -errno, "cannot create %s: %s",
					path, strerror(errno));
		existed = 1;
	}
	if (existed)
		return ais_errf(errmsg, -EEXIST, "bucket %s already exists",
				bucket);
	return 0;
}

#define BUCKET_XATTR "user.ais.bucket"

int64_t bucket_stamp(struct store *st, const char *bucket)
{
	char path[AISD_PATH_MAX], v[32];
	size_t i;
	ssize_t n;

	for (i = 0; i < st->mps->n; i++) {
		mpset_bucket_path(st->mps, (int)i, bucket, path);
		n = getxattr(path, BUCKET_XATTR, v, sizeof(v) - 1);
		if (n > 0) {
			v[n] = 0;
			return strtoll(v, NULL, 10);
		}
	}
	return 0;
}

int bucket_stamp_set(struct store *st, const char *bucket, int64_t ns)
{
	char path[AISD_PATH_MAX], v[32];
	size_t i;
	int len = snprintf(v, sizeof(v), "%lld", (long long)ns);

	for (i = 0; i < st->mps->n; i++) {
		mpset_bucket_path(st->mps, (int)i, bucket, path);
		if (setxattr(path, BUCKET_XATTR, v, (size_t)len, 0) < 0 &&
		    errno != ENOENT)
			return -errno;
	}
	return 0;
}

int bucket_destroy(struct store *st, const char *bucket, char ***trash,
		   char *errmsg)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX], tmp[AISD_PATH_MAX];
	char **v = calloc(mps->n + 1, sizeof(char *));
	size_t i, n = 0;
	int rc = 0;

	if (!v)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	for (i = 0; i < mps->n; i++) {
		mpset_bucket_path(mps, (int)i, bucket, path);
		mpset_tmp_path(mps, (int)i, "destroy", tmp);
		if (rename(path, tmp) < 0) {
			if (errno == ENOENT)
				continue;
			rc = ais_errf(errmsg, -errno, "cannot remove %s: %s",
				      path, strerror(errno));
			break;
		}
		v[n] = strdup(tmp);
		if (v[n])
			n++;
	}
	/* The open cache holds no object of the trash: its space comes back
	 * as the trash is emptied. */
	atomic_fetch_add_explicit(&st->all_gen, 1, memory_order_release);
	ocache_forget_bucket(st->oc, bucket);
	if (!rc && n == 0)
		rc = ais_errf(errmsg, -ENOENT, "bucket %s does not exist",
			      bucket);
	*trash = v;
	return rc;
}

void bucket_destroy_finish(char **trash)
{
	size_t i;

	if (!trash)
		return;
	for (i = 0; trash[i]; i++)
		ais_rm_rf(trash[i]);
	ais_strv_free(trash);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int bucket_list(struct store *st, char ***names, size_t *np, char *errmsg)
{
	struct mpset *mps = st->mps;
	char path[AISD_PATH_MAX];
	char **v = NULL, **nv;
	size_t n = 0, cap = 0, i, j;
	struct dirent *de;
	struct stat sb;
	DIR *d;

	for (i = 0; i < mps->n; i++) {
		d = opendir(mps->paths[i]);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' ||
			    ais_name_check_bucket(de->d_name, NULL))
				continue;
			snprintf(path, sizeof(path), "%s/%s", mps->paths[i],
				 de->d_name);
			if (lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
				continue;
			if (n + 2 > cap) {
				cap = cap ? cap * 2 : 16;
				nv = realloc(v, cap * sizeof(char *));
				if (!nv)
					goto err_nomem;
				v = nv;
			}
			if (!(v[n] = strdup(de->d_name)))
				goto err_nomem;
			v[++n] = NULL;
		}
		closedir(d);
	}
	if (!v && !(v = calloc(1, sizeof(char *))))
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	qsort(v, n, sizeof(char *), cmp_str);
	/* The same bucket is on every mountpath: keep one of each. */
	for (i = 0, j = 0; i < n; i++) {
		if (j && !strcmp(v[j - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	v[j] = NULL;
	*names = v;
	*np = j;
	return 0;
err_nomem:
	closedir(d);
	if (v) {
		v[n] = NULL;
		ais_strv_free(v);
	}
	return ais_errf(errmsg, -ENOMEM, "out of memory");
}
