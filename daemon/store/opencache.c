/* The loop's cache of open objects: a chained hash table over a fixed
 * array of entries, evicted in CLOCK order. See opencache.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/opencache.h"

struct oc_ent {
	char *key; /* "bucket\0name"; NULL: a free slot */
	size_t klen;
	uint64_t hash;
	int32_t next; /* the chain in the table, or the free list; -1: end */
	int fd, mp;
	unsigned stripe, sgen, agen;
	struct timespec ctime;
	uint64_t used; /* oc->tick when last served */
	bool ref;      /* served since the hand last passed */
	struct ais_obj_meta meta;
};

struct ocache {
	struct oc_ent *e;
	size_t cap;
	size_t fresh; /* slots [0, fresh) have been used */
	size_t live;
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

/* Closes slot i and puts it on the free list. */
static void drop(struct ocache *oc, int32_t i)
{
	struct oc_ent *e = &oc->e[i];
	int32_t *p = &oc->heads[e->hash & oc->mask];

	while (*p != i)
		p = &oc->e[*p].next;
	*p = e->next;
	close(e->fd);
	free(e->key);
	e->key = NULL;
	e->next = oc->free_head;
	oc->free_head = i;
	oc->live--;
}

static bool gens_good(const struct ocache *oc, const struct oc_ent *e)
{
	return atomic_load_explicit(&oc->sg[e->stripe], memory_order_acquire) ==
		   e->sgen &&
	       atomic_load_explicit(oc->ag, memory_order_acquire) == e->agen;
}

int ocache_get(struct ocache *oc, const struct ocache_key *k, int *fd, int *mp,
	       struct ais_obj_meta *m)
{
	struct oc_ent *e;
	struct stat sb;
	int32_t i;

	if (!oc)
		return -ENOENT;
	i = find(oc, k, strlen(k->bucket), strlen(k->name));
	if (i < 0)
		return -ENOENT;
	e = &oc->e[i];
	if (!gens_good(oc, e) || fstat(e->fd, &sb) != 0 || sb.st_nlink == 0 ||
	    (uint64_t)sb.st_size != e->meta.size ||
	    sb.st_ctim.tv_sec != e->ctime.tv_sec ||
	    sb.st_ctim.tv_nsec != e->ctime.tv_nsec) {
		drop(oc, i);
		return -ENOENT;
	}
	e->ref = true;
	e->used = oc->tick;
	*fd = e->fd;
	*mp = e->mp;
	*m = e->meta;
	return 0;
}

/* A slot to fill: a free one, else the CLOCK hand's victim. */
static int32_t take_slot(struct ocache *oc)
{
	int32_t i;

	if (oc->free_head >= 0) {
		i = oc->free_head;
		oc->free_head = oc->e[i].next;
		return i;
	}
	if (oc->fresh < oc->cap)
		return (int32_t)oc->fresh++;
	for (;;) {
		struct oc_ent *e = &oc->e[oc->hand];

		i = (int32_t)oc->hand;
		oc->hand = (oc->hand + 1) % oc->cap;
		if (!e->key)
			continue;
		if (e->ref) {
			e->ref = false;
			continue;
		}
		drop(oc, i);
		oc->free_head = e->next; /* drop pushed it: take it back */
		return i;
	}
}

void ocache_put(struct ocache *oc, const struct ocache_key *k,
		struct ocache_gen g, int fd, int mp,
		const struct ais_obj_meta *m)
{
	size_t blen, nlen;
	struct oc_ent *e;
	struct stat sb;
	char *key;
	int32_t i;
	int nfd;

	if (!oc)
		return;
	blen = strlen(k->bucket);
	nlen = strlen(k->name);
	i = find(oc, k, blen, nlen);
	if (i >= 0)
		drop(oc, i);
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != m->size)
		return;
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
	i = take_slot(oc);
	e = &oc->e[i];
	e->key = key;
	e->klen = blen + 1 + nlen;
	e->hash = k->hash;
	e->fd = nfd;
	e->mp = mp;
	e->stripe = k->stripe;
	e->sgen = g.stripe;
	e->agen = g.all;
	e->ctime = sb.st_ctim;
	e->used = oc->tick;
	e->ref = false;
	e->meta = *m;
	e->next = oc->heads[k->hash & oc->mask];
	oc->heads[k->hash & oc->mask] = i;
	oc->live++;
}

size_t ocache_sweep(struct ocache *oc)
{
	size_t i;

	if (!oc)
		return 0;
	oc->tick++;
	for (i = 0; i < oc->fresh; i++) {
		struct oc_ent *e = &oc->e[i];

		if (e->key &&
		    (!gens_good(oc, e) || oc->tick - e->used > OCACHE_IDLE_S))
			drop(oc, (int32_t)i);
	}
	return oc->live;
}
