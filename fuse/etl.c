/* Transformed views: see etl.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etl.h"
#include "fs.h"
#include "fileio.h"
#include "log.h"

#define ETL_BUCKETS 1024

struct entry {
	struct afs_etl_out out; /* first: what callers hold */
	uint64_t ino;
	uint64_t ident; /* the version it was made of */
	unsigned users; /* holders; the table's own does not count */
	bool loading;	/* being fetched: wait on e->done */
	bool hashed;	/* in the table (else freed at its last release) */
	struct entry *hnext;
	struct entry *prev, *next; /* the LRU of idle entries */
};

struct afs_etl {
	pthread_mutex_t mu;
	pthread_cond_t done; /* a fetch ended */
	struct entry *tab[ETL_BUCKETS];
	struct entry *lru_head, *lru_tail; /* idle, oldest first */
	unsigned idle;
	uint64_t idle_bytes;
};

int afs_etl_new(struct afs_etl **out)
{
	struct afs_etl *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->done, NULL);
	*out = e;
	return 0;
}

static void entry_free(struct entry *x)
{
	if (x->out.fd >= 0)
		close(x->out.fd);
	free(x);
}

void afs_etl_free(struct afs_etl *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < ETL_BUCKETS; i++) {
		while (e->tab[i]) {
			struct entry *x = e->tab[i];

			e->tab[i] = x->hnext;
			entry_free(x);
		}
	}
	pthread_cond_destroy(&e->done);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static struct entry **slot(struct afs_etl *e, uint64_t ino)
{
	return &e->tab[(ino * 0x9E3779B97F4A7C15ull) >> 54];
}

/* Under mu. */
static void lru_remove(struct afs_etl *e, struct entry *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		e->lru_head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		e->lru_tail = x->prev;
	x->prev = x->next = NULL;
	e->idle--;
	e->idle_bytes -= x->out.size;
}

static void unhash(struct afs_etl *e, struct entry *x)
{
	struct entry **pp;

	for (pp = slot(e, x->ino); *pp; pp = &(*pp)->hnext)
		if (*pp == x) {
			*pp = x->hnext;
			break;
		}
	x->hashed = false;
}

/* Under mu: the oldest idle outputs go while there are too many. */
static void trim(struct afs_etl *e)
{
	while (e->lru_head &&
	       (e->idle > AFS_ETL_KEEP || e->idle_bytes > AFS_ETL_KEEP_BYTES)) {
		struct entry *x = e->lru_head;

		lru_remove(e, x);
		unhash(e, x);
		entry_free(x);
	}
}

/* Where an output is written as it comes: a memfd, moved to a spool file
 * once it grows past AFS_ETL_MEM_MAX. */
struct sink {
	const char *spool;
	int fd;
	bool in_mem;
	uint64_t size;
};

static int sink_write(void *arg, const void *buf, size_t len)
{
	struct sink *s = arg;
	int rc;

	if (s->in_mem && s->size + len > AFS_ETL_MEM_MAX) {
		int fd = open(s->spool, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		off_t off = 0;

		if (fd < 0) {
			rc = -errno;
			ais_log(LOG_ERR, "etl: spool %s: %s", s->spool,
				strerror(errno));
			return rc;
		}
		while ((uint64_t)off < s->size) {
			ssize_t n = sendfile(fd, s->fd, &off,
					     (size_t)(s->size - (uint64_t)off));

			if (n <= 0) {
				rc = n < 0 ? -errno : -EIO;
				close(fd);
				return rc;
			}
		}
		close(s->fd);
		s->fd = fd;
		s->in_mem = false;
	}
	rc = ais_write_all(s->fd, buf, len);
	if (rc)
		return rc;
	s->size += len;
	return 0;
}

/* Runs the transform for in into memory or a spool file. */
static int fetch(struct afs_fs *fs, struct afs_inode *in, struct entry *x)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct sink s = {.spool = fs->opts.spool_dir, .in_mem = true};
	struct ais_obj_meta m;
	struct afs_loc loc;
	int rc;

	rc = afs_locate(fs, in, &loc);
	if (rc)
		return rc;
	s.fd = memfd_create("aisfs-etl", MFD_CLOEXEC);
	if (s.fd < 0) {
		rc = -errno;
		ais_log(LOG_ERR, "etl: memfd: %s", strerror(errno));
		return rc;
	}
	rc = ais_client_get_etl_cb(
	    fs->client, loc.bucket, loc.key, afs_loc_member(&loc), fs->opts.etl,
	    fs->opts.etl_args, sink_write, &s, &m, errmsg);
	if (rc) {
		close(s.fd);
		return -afs_errno(rc, "etl", &loc, errmsg);
	}
	x->out.fd = s.fd;
	x->out.size = s.size;
	return 0;
}

int afs_etl_hold(struct afs_fs *fs, struct afs_inode *in,
		 struct afs_etl_out **out)
{
	struct afs_etl *e = fs->etl;
	struct entry *x, *fresh = NULL;
	uint64_t ident;
	bool have;
	int rc;

	afs_inode_lock(in);
	have = in->have_meta;
	ident = in->meta.ident;
	afs_inode_unlock(in);
	if (!have)
		return -ENOENT;
	pthread_mutex_lock(&e->mu);
	for (;;) {
		for (x = *slot(e, in->ino); x && x->ino != in->ino;
		     x = x->hnext)
			;
		if (x && x->ident != ident) {
			/* An older version's: its readers keep it. */
			if (!x->users && !x->loading) {
				lru_remove(e, x);
				unhash(e, x);
				entry_free(x);
			} else {
				unhash(e, x);
			}
			x = NULL;
		}
		if (!x || !x->loading)
			break;
		pthread_cond_wait(&e->done, &e->mu);
	}
	if (x) {
		if (!x->users)
			lru_remove(e, x);
		x->users++;
		pthread_mutex_unlock(&e->mu);
		*out = &x->out;
		return 0;
	}
	/* Fetched outside the lock; whoever else wants it waits. */
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		pthread_mutex_unlock(&e->mu);
		return -ENOMEM;
	}
	fresh->out.fd = -1;
	fresh->ino = in->ino;
	fresh->ident = ident;
	fresh->users = 1;
	fresh->loading = true;
	fresh->hashed = true;
	fresh->hnext = *slot(e, in->ino);
	*slot(e, in->ino) = fresh;
	pthread_mutex_unlock(&e->mu);

	rc = fetch(fs, in, fresh);

	pthread_mutex_lock(&e->mu);
	fresh->loading = false;
	if (rc) {
		if (fresh->hashed)
			unhash(e, fresh);
		entry_free(fresh);
		fresh = NULL;
	}
	pthread_cond_broadcast(&e->done);
	pthread_mutex_unlock(&e->mu);
	if (rc)
		return rc;
	*out = &fresh->out;
	return 0;
}

void afs_etl_release(struct afs_fs *fs, struct afs_etl_out *out)
{
	struct afs_etl *e = fs->etl;
	struct entry *x = (struct entry *)out;

	if (!out)
		return;
	pthread_mutex_lock(&e->mu);
	if (--x->users == 0) {
		if (!x->hashed) {
			entry_free(x);
		} else {
			x->prev = e->lru_tail;
			x->next = NULL;
			if (e->lru_tail)
				e->lru_tail->next = x;
			else
				e->lru_head = x;
			e->lru_tail = x;
			e->idle++;
			e->idle_bytes += x->out.size;
			trim(e);
		}
	}
	pthread_mutex_unlock(&e->mu);
}
