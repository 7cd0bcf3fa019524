/* Group commit of the node's file systems (flush.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#include "store/flush.h"
#include "store/mountpath.h"

/* One file system. Callers take tickets; a flush started after a ticket
 * was taken covers it. */
struct fs_flusher {
	dev_t dev;
	int fd;
	const char *path; /* the mountpath, for messages */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t asked;	   /* tickets taken */
	uint64_t done;	   /* tickets covered by a finished flush */
	uint64_t failures; /* flushes that failed */
	int last_err;	   /* the last failure's */
	bool running;
};

struct flushers {
	size_t n;
	struct fs_flusher *fs;
	int *of_mp; /* mountpath -> index into fs */
};

int flushers_new(const struct mpset *mps, struct flushers **out, char *errmsg)
{
	struct flushers *f = calloc(1, sizeof(*f));
	size_t i, k;

	if (!f || !(f->fs = calloc(mps->n, sizeof(*f->fs))) ||
	    !(f->of_mp = calloc(mps->n, sizeof(*f->of_mp)))) {
		flushers_free(f);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	for (i = 0; i < mps->n; i++) {
		struct stat sb;
		int rc;

		if (stat(mps->paths[i], &sb) < 0) {
			rc = -errno;
			flushers_free(f);
			return ais_errf(errmsg, rc, "stat %s: %s",
					mps->paths[i], strerror(-rc));
		}
		for (k = 0; k < f->n && f->fs[k].dev != sb.st_dev; k++)
			;
		f->of_mp[i] = (int)k;
		if (k < f->n)
			continue;
		f->fs[k].fd =
		    open(mps->paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (f->fs[k].fd < 0) {
			rc = -errno;
			flushers_free(f);
			return ais_errf(errmsg, rc, "open %s: %s",
					mps->paths[i], strerror(-rc));
		}
		f->fs[k].dev = sb.st_dev;
		f->fs[k].path = mps->paths[i];
		pthread_mutex_init(&f->fs[k].mu, NULL);
		pthread_cond_init(&f->fs[k].cv, NULL);
		f->n++;
	}
	*out = f;
	return 0;
}

void flushers_free(struct flushers *f)
{
	size_t k;

	if (!f)
		return;
	for (k = 0; k < f->n; k++) {
		close(f->fs[k].fd);
		pthread_mutex_destroy(&f->fs[k].mu);
		pthread_cond_destroy(&f->fs[k].cv);
	}
	free(f->fs);
	free(f->of_mp);
	free(f);
}

uint64_t flushers_mark(struct flushers *f, int mp)
{
	struct fs_flusher *d = &f->fs[f->of_mp[mp]];
	uint64_t failures;

	pthread_mutex_lock(&d->mu);
	failures = d->failures;
	pthread_mutex_unlock(&d->mu);
	return failures;
}

int flushers_sync(struct flushers *f, int mp, uint64_t mark, char *errmsg)
{
	struct fs_flusher *d = &f->fs[f->of_mp[mp]];
	uint64_t mine;
	int rc = 0;

	pthread_mutex_lock(&d->mu);
	mine = ++d->asked;
	while (d->done < mine) {
		uint64_t upto;

		if (d->running) {
			pthread_cond_wait(&d->cv, &d->mu);
			continue;
		}
		/* No flush runs: this caller makes one for every ticket
		 * taken so far. */
		d->running = true;
		upto = d->asked;
		pthread_mutex_unlock(&d->mu);
		rc = syncfs(d->fd) < 0 ? -errno : 0;
		pthread_mutex_lock(&d->mu);
		if (rc) {
			d->failures++;
			d->last_err = rc;
		}
		d->running = false;
		d->done = upto;
		pthread_cond_broadcast(&d->cv);
	}
	/* A failure of any flush since the mark may have been the one that
	 * reported the caller's lost writes: reported. */
	rc = d->failures != mark ? d->last_err : 0;
	pthread_mutex_unlock(&d->mu);
	if (rc)
		return ais_errf(errmsg, rc,
				"flush of the file system of %s: %s", d->path,
				strerror(-rc));
	return 0;
}

int flushers_domain(const struct flushers *f, int mp)
{
	return f->of_mp[mp];
}
