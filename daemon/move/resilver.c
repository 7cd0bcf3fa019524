/* Resilver: every object onto the mountpath HRW picks for it among the
 * node's mountpaths, after the mountpath list changed; and the memory of
 * that list (<mp>/.ais/mountpaths). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "util.h"

#include "move/move.h"
#include "move/walk.h"
#include "shard/shard.h"
#include "store/store.h"

struct resilver {
	struct store *st;
	struct shards *sh;
	uint64_t moved;
	int first_err;
	char *errmsg;
};

static int resilver_one(void *arg, const char *bucket, const char *name, int mp)
{
	struct resilver *r = arg;
	char em[AIS_ERRMSG_LEN] = "";
	int rc = store_resilver(r->st, bucket, name, mp, em);

	if (rc == 0) {
		r->moved++;
		if (r->sh)
			shard_written(r->sh, bucket, name);
	} else if (rc < 0 && rc != -ESTALE) {
		ais_log(LOG_WARNING, "resilver of %s/%s from %s: %s", bucket,
			name, r->st->mps->paths[mp], em);
		if (!r->first_err) {
			r->first_err = rc;
			snprintf(r->errmsg, AIS_ERRMSG_LEN, "%s", em);
		}
	}
	return 0;
}

int move_resilver(struct store *st, struct shards *sh, const atomic_bool *stop,
		  uint64_t *moved, char *errmsg)
{
	struct resilver r = {.st = st, .sh = sh, .errmsg = errmsg};
	size_t i;
	int rc = 0;

	if (st->mps->n < 2) {
		if (moved)
			*moved = 0;
		return 0;
	}
	for (i = 0; i < st->mps->n && !rc; i++) {
		rc = walk_mountpath(st->mps->paths[i], (int)i, resilver_one, &r,
				    stop);
		if (rc && rc != -ECANCELED)
			ais_errf(errmsg, rc, "walk of %s: %s",
				 st->mps->paths[i], strerror(-rc));
	}
	if (moved)
		*moved = r.moved;
	return rc ? rc : r.first_err;
}

/* The mountpath set as one text: the sorted paths, one per line. */
static char *set_text(struct store *st)
{
	size_t i, j, len = 1;
	char **v, *out, *p;

	v = malloc(st->mps->n * sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < st->mps->n; i++) {
		v[i] = st->mps->paths[i];
		len += strlen(v[i]) + 1;
	}
	for (i = 1; i < st->mps->n; i++)
		for (j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	out = malloc(len);
	if (out) {
		for (p = out, i = 0; i < st->mps->n; i++)
			p += sprintf(p, "%s\n", v[i]);
		*p = 0;
	}
	free(v);
	return out;
}

bool move_mountpaths_changed(struct store *st)
{
	char path[AISD_PATH_MAX], *want = set_text(st), *got;
	bool changed = false;
	size_t i, len;
	ssize_t n;

	if (!want)
		return true;
	len = strlen(want);
	got = malloc(len + 2);
	for (i = 0; got && i < st->mps->n && !changed; i++) {
		snprintf(path, sizeof(path), "%s/.ais/mountpaths",
			 st->mps->paths[i]);
		n = ais_read_file(path, got, len + 1);
		if (n < 0 || (size_t)n != len || memcmp(got, want, len))
			changed = true;
	}
	if (!got)
		changed = true;
	free(got);
	free(want);
	return changed;
}

int move_mountpaths_remember(struct store *st, char *errmsg)
{
	char path[AISD_PATH_MAX], *want = set_text(st);
	size_t i;
	int rc = 0;

	if (!want)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	for (i = 0; i < st->mps->n && !rc; i++) {
		snprintf(path, sizeof(path), "%s/.ais/mountpaths",
			 st->mps->paths[i]);
		rc = ais_file_replace(path, want, strlen(want), 0644);
		if (rc)
			ais_errf(errmsg, rc, "%s: %s", path, strerror(-rc));
	}
	free(want);
	return rc;
}
