/* The loop's cache of open objects: a chained hash table over a fixed
 * array of entries, evicted in CLOCK order, under one mutex. See
 * opencache.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/opencache.h"

#define SWEEP_BATCH 64	 /* descriptors closed per hold of the mutex */
#define SCAN_BATCH  1024 /* slots looked at per hold of the mutex */

struct oc_ent {
	char *key; /* "bucket\0name"; NULL: a free slot */
	size_t klen;
	uint64_t hash;
	int32_t next; /* the chain in the table, or the free list; -1: end */
	int fd, mp;
	uint32_t lent; /* descriptors out with the loop */
	bool in_table; /* else forgotten while lent: freed at the last done */
	bool ref;      /* served since the hand last passed */
	uint64_t used; /* oc->tick when last served */
	struct timespec ctime;
	struct ais_obj_meta meta;
	int16_t ext_len; /* the object's ObjExt, < 0: not known here */
	uint8_t ext[OCACHE_EXT_MAX];
};

struct ocache {
	pthread_mutex_t mu;
	struct oc_ent *e;
	size_t cap;
	size_t fresh; /* slots [0, fresh) have been used */
	size_t live;  /* in the table */
	size_t hand;
	int32_t free_head;
	int32_t *heads;
	size_t mask;
	const atomic_uint *sg, *ag;
	uint64_t tick; /* sweeps so far: seconds */
};

int ocache_new(size_t cap, const atomic_uint *stripe_gens,
	       const atomic_uint *all_gen, struct ocache **out)
{
	struct ocache *oc;
	size_t nh = 16;

	*out = NULL;
	if (cap == 0)
		return 0;
	if (cap > INT32_MAX / 4)
		cap = INT32_MAX / 4;
	while (nh < 2 * cap)
		nh <<= 1;
	oc = calloc(1, sizeof(*oc));
	if (!oc)
		return -ENOMEM;
	/* calloc: the kernel hands zero pages, touched as slots fill. */
	oc->e = calloc(cap, sizeof(*oc->e));
	oc->heads = malloc(nh * sizeof(*oc->heads));
	if (!oc->e || !oc->heads) {
		free(oc->e);
		free(oc->heads);
		free(oc);
		return -ENOMEM;
	}
	memset(oc->heads, 0xff, nh * sizeof(*oc->heads)); /* -1 */
	pthread_mutex_init(&oc->mu, NULL);
	oc->cap = cap;
	oc->mask = nh - 1;
	oc->free_head = -1;
	oc->sg = stripe_gens;
	oc->ag = all_gen;
	*out = oc;
	return 0;
}

void ocache_free(struct ocache *oc)
{
	size_t i;

	if (!oc)
		return;
	for (i = 0; i < oc->fresh; i++)
		if (oc->e[i].key) {
			close(oc->e[i].fd);
			free(oc->e[i].key);
		}
	pthread_mutex_destroy(&oc->mu);
	free(oc->e);
	free(oc->heads);
	free(oc);
}

struct ocache_gen ocache_gen_now(const struct ocache *oc,
				 const struct ocache_key *k)
{
	struct ocache_gen g = {0, 0};

	if (oc) {
		g.stripe = atomic_load_explicit(&oc->sg[k->stripe],
						memory_order_acquire);
		g.all = atomic_load_explicit(oc->ag, memory_order_acquire);
	}
	return g;
}

static int32_t find(const struct ocache *oc, const struct ocache_key *k,
		    size_t blen, size_t nlen)
{
	int32_t i = oc->heads[k->hash & oc->mask];

	while (i >= 0) {
		const struct oc_ent *e = &oc->e[i];

		if (e->hash == k->hash && e->klen == blen + 1 + nlen &&
		    !memcmp(e->key, k->bucket, blen + 1) &&
		    !memcmp(e->key + blen + 1, k->name, nlen))
			return i;
		i = e->next;
	}
	return -1;
}

/* Takes slot i out of the table (mu held). Returns its descriptor for the
 * caller to close once mu is let go, or -1 if it is lent: the last
 * ocache_done closes it. */
static int unhook(struct ocache *oc, int32_t i)
{
	struct oc_ent *e = &oc->e[i];
	int32_t *p = &oc->heads[e->hash & oc->mask];
	int fd = e->fd;

	while (*p != i)
		p = &oc->e[*p].next;
	*p = e->next;
	e->in_table = false;
	oc->live--;
	if (e->lent)
		return -1;
	free(e->key);
	e->key = NULL;
	e->next = oc->free_head;
	oc->free_head = i;
	return fd;
}

/* No change to k's stripe or to the store since g was read (mu held: a
 * change bumps first, then forgets under mu, so that an entry is either
 * refused here or forgotten after). */
static bool gens_same(const struct ocache *oc, const struct ocache_key *k,
		      struct ocache_gen g)
{
	return atomic_load_explicit(&oc->sg[k->stripe], memory_order_acquire) ==
		   g.stripe &&
	       atomic_load_explicit(oc->ag, memory_order_acquire) == g.all;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

int ocache_get(struct ocache *oc, const struct ocache_key *k, int *fd, int *mp,
	       struct ais_obj_meta *m, int32_t *slot)
{
	return ocache_get_ext(oc, k, fd, mp, m, slot, NULL, NULL);
}

int ocache_get_ext(struct ocache *oc, const struct ocache_key *k, int *fd,
		   int *mp, struct ais_obj_meta *m, int32_t *slot, uint8_t *ext,
		   int *ext_len)
{
	struct oc_ent *e;
	struct stat sb;
	int32_t i;

	if (!oc)
		return -ENOENT;
	pthread_mutex_lock(&oc->mu);
	i = find(oc, k, strlen(k->bucket), strlen(k->name));
	if (i < 0) {
		pthread_mutex_unlock(&oc->mu);
		return -ENOENT;
	}
	e = &oc->e[i];
	e->lent++;
	e->ref = true;
	e->used = oc->tick;
	*fd = e->fd;
	*mp = e->mp;
	*m = e->meta;
	if (ext_len) {
		*ext_len = e->ext_len;
		if (e->ext_len > 0)
			memcpy(ext, e->ext, (size_t)e->ext_len);
	}
	pthread_mutex_unlock(&oc->mu);
	/* Lent: no forget closes it meanwhile. */
	if (fstat(*fd, &sb) != 0 || sb.st_nlink == 0 ||
	    (uint64_t)sb.st_size != m->size ||
	    sb.st_ctim.tv_sec != e->ctime.tv_sec ||
	    sb.st_ctim.tv_nsec != e->ctime.tv_nsec) {
		pthread_mutex_lock(&oc->mu);
		if (e->in_table)
			(void)unhook(oc, i); /* lent: -1, the done closes it */
		pthread_mutex_unlock(&oc->mu);
		ocache_done(oc, i);
		return -ENOENT;
	}
	*slot = i;
	return 0;
}

void ocache_set_ext(struct ocache *oc, int32_t slot, const uint8_t *ext,
		    size_t len)
{
	struct oc_ent *e = &oc->e[slot];

	if (len > OCACHE_EXT_MAX)
		return;
	pthread_mutex_lock(&oc->mu);
	/* Lent to the caller: still the entry it was given. */
	if (e->in_table) {
		if (len)
			memcpy(e->ext, ext, len);
		e->ext_len = (int16_t)len;
	}
	pthread_mutex_unlock(&oc->mu);
}

void ocache_done(struct ocache *oc, int32_t slot)
{
	struct oc_ent *e = &oc->e[slot];
	int fd = -1;

	pthread_mutex_lock(&oc->mu);
	if (--e->lent == 0 && !e->in_table) {
		fd = e->fd;
		free(e->key);
		e->key = NULL;
		e->next = oc->free_head;
		oc->free_head = slot;
	}
	pthread_mutex_unlock(&oc->mu);
	close_fd(fd);
}

/* A slot to fill (mu held): a free one, else the CLOCK hand's victim,
 * whose descriptor goes to *evicted; -1 if every entry is lent. */
static int32_t take_slot(struct ocache *oc, int *evicted)
{
	size_t n;
	int32_t i;

	if (oc->free_head >= 0) {
		i = oc->free_head;
		oc->free_head = oc->e[i].next;
		return i;
	}
	if (oc->fresh < oc->cap)
		return (int32_t)oc->fresh++;
	for (n = 0; n < 2 * oc->cap + 1; n++) {
		struct oc_ent *e = &oc->e[oc->hand];

		i = (int32_t)oc->hand;
		oc->hand = (oc->hand + 1) % oc->cap;
		if (!e->key || !e->in_table || e->lent)
			continue;
		if (e->ref) {
			e->ref = false;
			continue;
		}
		*evicted = unhook(oc, i);
		oc->free_head = e->next; /* unhook freed it: take it back */
		return i;
	}
	return -1;
}

void ocache_put(struct ocache *oc, const struct ocache_key *k,
		struct ocache_gen g, int fd, int mp,
		const struct ais_obj_meta *m)
{
	int old = -1, evicted = -1, nfd;
	size_t blen, nlen;
	struct oc_ent *e;
	struct stat sb;
	char *key;
	int32_t i;

	if (!oc)
		return;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_nlink == 0 ||
	    (uint64_t)sb.st_size != m->size)
		return;
	blen = strlen(k->bucket);
	nlen = strlen(k->name);
	key = malloc(blen + 1 + nlen);
	if (!key)
		return;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (nfd < 0) {
		free(key);
		return;
	}
	memcpy(key, k->bucket, blen + 1);
	memcpy(key + blen + 1, k->name, nlen);
	pthread_mutex_lock(&oc->mu);
	i = find(oc, k, blen, nlen);
	if (i >= 0)
		old = unhook(oc, i);
	i = gens_same(oc, k, g) ? take_slot(oc, &evicted) : -1;
	if (i < 0) {
		pthread_mutex_unlock(&oc->mu);
		close_fd(old);
		close(nfd);
		free(key);
		return;
	}
	e = &oc->e[i];
	e->key = key;
	e->klen = blen + 1 + nlen;
	e->hash = k->hash;
	e->fd = nfd;
	e->mp = mp;
	e->lent = 0;
	e->in_table = true;
	e->ref = false;
	e->used = oc->tick;
	e->ctime = sb.st_ctim;
	e->meta = *m;
	e->ext_len = -1;
	e->next = oc->heads[k->hash & oc->mask];
	oc->heads[k->hash & oc->mask] = i;
	oc->live++;
	pthread_mutex_unlock(&oc->mu);
	close_fd(old);
	close_fd(evicted);
}

int ocache_forget(struct ocache *oc, const struct ocache_key *k)
{
	int32_t i;
	int fd = -1;

	if (!oc)
		return -1;
	pthread_mutex_lock(&oc->mu);
	i = find(oc, k, strlen(k->bucket), strlen(k->name));
	if (i >= 0)
		fd = unhook(oc, i);
	pthread_mutex_unlock(&oc->mu);
	return fd;
}

/* Drops the entries that bad() picks, looking at SCAN_BATCH slots and
 * closing at most SWEEP_BATCH descriptors per hold of mu (the closes with
 * mu let go). */
static void drop_where(struct ocache *oc,
		       bool (*bad)(struct ocache *, struct oc_ent *,
				   const void *),
		       const void *arg)
{
	int fds[SWEEP_BATCH];
	size_t i = 0, n, j, end;
	bool more;

	do {
		n = 0;
		pthread_mutex_lock(&oc->mu);
		end = i + SCAN_BATCH < oc->fresh ? i + SCAN_BATCH : oc->fresh;
		for (; i < end && n < SWEEP_BATCH; i++) {
			struct oc_ent *e = &oc->e[i];
			int fd;

			if (e->key && e->in_table && bad(oc, e, arg) &&
			    (fd = unhook(oc, (int32_t)i)) >= 0)
				fds[n++] = fd;
		}
		more = i < oc->fresh;
		pthread_mutex_unlock(&oc->mu);
		for (j = 0; j < n; j++)
			close(fds[j]);
	} while (more);
}

static bool of_bucket(struct ocache *oc, struct oc_ent *e, const void *arg)
{
	(void)oc;
	return strcmp(e->key, arg) == 0;
}

void ocache_forget_bucket(struct ocache *oc, const char *bucket)
{
	if (oc)
		drop_where(oc, of_bucket, bucket);
}

static bool idle(struct ocache *oc, struct oc_ent *e, const void *arg)
{
	(void)arg;
	return oc->tick - e->used >= OCACHE_IDLE_S;
}

size_t ocache_sweep(struct ocache *oc)
{
	size_t live;

	if (!oc)
		return 0;
	pthread_mutex_lock(&oc->mu);
	oc->tick++;
	pthread_mutex_unlock(&oc->mu);
	drop_where(oc, idle, NULL);
	pthread_mutex_lock(&oc->mu);
	live = oc->live;
	pthread_mutex_unlock(&oc->mu);
	return live;
}
