/* Tombstones of names deleted while a rebalance may be in flight. The log
 * is a sequence of records: int64 ns (little-endian), uint16 key length,
 * the key "bucket/name"; a torn last record (a crash mid-append) is
 * dropped when the log is loaded, and the log is rewritten then, so that
 * appends always follow a whole record. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "hash.h"
#include "log.h"
#include "util.h"

#include "store/tombstone.h"

#define KEY_MAX	   1200 /* bucket (64) + '/' + name (1024) */
#define REC_HDR	   10	/* ns + key length */
#define COMPACT_AT 1024 /* log records beyond 2 x live ones */

struct tomb {
	struct tomb *hnext;	    /* hash chain */
	struct tomb *older, *newer; /* insertion order: oldest evicted first */
	int64_t ns;
	uint64_t h;
	uint16_t klen;
	char key[];
};

struct tombs {
	pthread_mutex_t mu;
	struct tomb **tab;
	size_t nb; /* buckets, a power of two */
	size_t n, max;
	struct tomb *oldest, *newest;
	char *path;
	int fd;		 /* the log, O_APPEND */
	size_t nrecords; /* in the log */
};

static void make_key(const char *bucket, const char *name, char *key,
		     size_t *klen)
{
	int n = snprintf(key, KEY_MAX, "%s/%s", bucket, name);

	*klen = n < 0 ? 0 : (size_t)n >= KEY_MAX ? KEY_MAX - 1 : (size_t)n;
}

static struct tomb *find(struct tombs *t, const char *key, size_t klen,
			 uint64_t h, struct tomb ***link)
{
	struct tomb **pp = &t->tab[h & (t->nb - 1)], *e;

	for (; (e = *pp); pp = &e->hnext)
		if (e->h == h && e->klen == klen && !memcmp(e->key, key, klen))
			break;
	if (link)
		*link = pp;
	return e;
}

static void list_unlink(struct tombs *t, struct tomb *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	e->older = e->newer = NULL;
}

static void list_push(struct tombs *t, struct tomb *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest)
		t->newest->newer = e;
	else
		t->oldest = e;
	t->newest = e;
}

static void drop(struct tombs *t, struct tomb *e)
{
	struct tomb **pp;

	find(t, e->key, e->klen, e->h, &pp);
	*pp = e->hnext;
	list_unlink(t, e);
	free(e);
	t->n--;
}

/* The in-memory part of an add. Returns 0 or -ENOMEM. */
static int insert(struct tombs *t, const char *key, size_t klen, int64_t ns)
{
	uint64_t h = ais_hash(key, klen, 0);
	struct tomb **pp, *e = find(t, key, klen, h, &pp);

	if (e) {
		if (ns > e->ns)
			e->ns = ns;
		list_unlink(t, e);
		list_push(t, e);
		return 0;
	}
	if (t->n >= t->max)
		drop(t, t->oldest);
	e = malloc(sizeof(*e) + klen);
	if (!e)
		return -ENOMEM;
	e->h = h;
	e->ns = ns;
	e->klen = (uint16_t)klen;
	memcpy(e->key, key, klen);
	find(t, key, klen, h, &pp);
	e->hnext = NULL;
	*pp = e;
	list_push(t, e);
	t->n++;
	return 0;
}

static size_t encode(uint8_t *buf, const char *key, size_t klen, int64_t ns)
{
	uint64_t v = htole64((uint64_t)ns);
	uint16_t l = htole16((uint16_t)klen);

	memcpy(buf, &v, 8);
	memcpy(buf + 8, &l, 2);
	memcpy(buf + REC_HDR, key, klen);
	return REC_HDR + klen;
}

/* Reads the records of the log at path into t; a missing file is empty.
 */
static int load(struct tombs *t, const char *path)
{
	uint8_t hdr[REC_HDR];
	char key[KEY_MAX];
	uint64_t v;
	uint16_t l;
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fread(hdr, 1, REC_HDR, f) == REC_HDR) {
		memcpy(&v, hdr, 8);
		memcpy(&l, hdr + 8, 2);
		l = le16toh(l);
		if (l == 0 || l >= KEY_MAX || fread(key, 1, l, f) != l)
			break; /* torn or bad: the rest is dropped */
		rc = insert(t, key, l, (int64_t)le64toh(v));
		if (rc)
			break;
	}
	fclose(f);
	return rc;
}

/* Rewrites the log with the live tombstones, oldest first, and reopens
 * it for appends. Called with t->mu held (or before t is shared). */
static int compact(struct tombs *t)
{
	uint8_t *buf, *p;
	size_t len = 0;
	struct tomb *e;
	int rc, fd;

	for (e = t->oldest; e; e = e->newer)
		len += REC_HDR + e->klen;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	for (p = buf, e = t->oldest; e; e = e->newer)
		p += encode(p, e->key, e->klen, e->ns);
	rc = ais_file_replace(t->path, buf, len, 0644);
	free(buf);
	if (rc)
		return rc;
	fd = open(t->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = fd;
	t->nrecords = t->n;
	return 0;
}

int tombs_open(char *const *paths, size_t npaths, size_t max,
	       struct tombs **out, char *errmsg)
{
	struct tombs *t = calloc(1, sizeof(*t));
	char other[4096];
	size_t i;
	int rc;

	if (!t)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	pthread_mutex_init(&t->mu, NULL);
	t->fd = -1;
	t->max = max ? max : TOMBS_MAX_DEFAULT;
	for (t->nb = 1024; t->nb < t->max / 2; t->nb *= 2)
		;
	t->tab = calloc(t->nb, sizeof(*t->tab));
	if (!t->tab || asprintf(&t->path, "%s/.ais/tombstones", paths[0]) < 0) {
		t->path = NULL;
		tombs_free(t);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	rc = load(t, t->path);
	for (i = 1; !rc && i < npaths; i++) {
		snprintf(other, sizeof(other), "%s/.ais/tombstones", paths[i]);
		rc = load(t, other);
	}
	if (!rc)
		rc = compact(t);
	if (rc) {
		ais_errf(errmsg, rc, "tombstones %s: %s", t->path,
			 strerror(-rc));
		tombs_free(t);
		return rc;
	}
	/* The merged log is durable at paths[0]: the others may go. */
	for (i = 1; i < npaths; i++) {
		snprintf(other, sizeof(other), "%s/.ais/tombstones", paths[i]);
		unlink(other);
	}
	*out = t;
	return 0;
}

void tombs_free(struct tombs *t)
{
	struct tomb *e, *next;

	if (!t)
		return;
	for (e = t->oldest; e; e = next) {
		next = e->newer;
		free(e);
	}
	if (t->fd >= 0)
		close(t->fd);
	free(t->tab);
	free(t->path);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int tombs_add(struct tombs *t, const char *bucket, const char *name, int64_t ns)
{
	uint8_t rec[REC_HDR + KEY_MAX];
	char key[KEY_MAX];
	size_t klen, len;
	int rc;

	make_key(bucket, name, key, &klen);
	len = encode(rec, key, klen, ns);
	pthread_mutex_lock(&t->mu);
	rc = insert(t, key, klen, ns);
	if (!rc)
		rc = ais_write_all(t->fd, rec, len);
	if (!rc && fdatasync(t->fd) < 0)
		rc = -errno;
	if (!rc && ++t->nrecords > 2 * t->n + COMPACT_AT) {
		rc = compact(t);
		if (rc)
			ais_log(LOG_WARNING, "tombstones %s: compaction: %s",
				t->path, strerror(-rc));
		rc = 0; /* the record is durable in the old log */
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int64_t tombs_get(struct tombs *t, const char *bucket, const char *name)
{
	char key[KEY_MAX];
	struct tomb *e;
	int64_t ns;
	size_t klen;

	make_key(bucket, name, key, &klen);
	pthread_mutex_lock(&t->mu);
	if (!t->n) {
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	e = find(t, key, klen, ais_hash(key, klen, 0), NULL);
	ns = e ? e->ns : 0;
	pthread_mutex_unlock(&t->mu);
	return ns;
}

size_t tombs_count(struct tombs *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->n;
	pthread_mutex_unlock(&t->mu);
	return n;
}

int tombs_clear(struct tombs *t)
{
	int rc = 0;

	pthread_mutex_lock(&t->mu);
	while (t->oldest)
		drop(t, t->oldest);
	if (t->nrecords) {
		if (ftruncate(t->fd, 0) < 0 || fdatasync(t->fd) < 0)
			rc = -errno;
		else
			t->nrecords = 0;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}
