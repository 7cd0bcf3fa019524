/* Arrivals (arrivals.h): a ring of (number, bucket, name), the oldest
 * overwritten first. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "store/arrivals.h"

struct arrival {
	uint64_t seq;
	char *bucket_name; /* "bucket\0name" */
};

struct arrivals {
	pthread_mutex_t mu;
	struct arrival *ring;
	size_t cap;
	uint64_t seq;	 /* the latest number given */
	uint64_t oldest; /* every number > oldest is in the ring */
	atomic_int_fast64_t departed_ns;
};

struct arrivals *arrivals_new(size_t cap)
{
	struct arrivals *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cap = cap ? cap : ARRIVALS_DEFAULT;
	a->ring = calloc(a->cap, sizeof(*a->ring));
	if (!a->ring) {
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	/* Numbers keep growing across restarts (a client may hold one from
	 * before): they start at the wall clock in ns. */
	a->seq = (uint64_t)ais_now_real_ns();
	if (!a->seq)
		a->seq = 1;
	a->oldest = a->seq;
	atomic_init(&a->departed_ns, 0);
	return a;
}

void arrivals_free(struct arrivals *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->cap; i++)
		free(a->ring[i].bucket_name);
	free(a->ring);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

uint64_t arrivals_seq(struct arrivals *a)
{
	uint64_t s;

	pthread_mutex_lock(&a->mu);
	s = a->seq;
	pthread_mutex_unlock(&a->mu);
	return s;
}

void arrivals_note(struct arrivals *a, const char *bucket, const char *name)
{
	size_t bl = strlen(bucket), nl = strlen(name);
	char *bn = malloc(bl + nl + 2);
	struct arrival *slot;

	if (bn) {
		memcpy(bn, bucket, bl + 1);
		memcpy(bn + bl + 1, name, nl + 1);
	}
	pthread_mutex_lock(&a->mu);
	a->seq++;
	slot = &a->ring[a->seq % a->cap];
	if (slot->bucket_name && slot->seq > a->oldest)
		a->oldest = slot->seq; /* overwritten: no longer known */
	free(slot->bucket_name);
	slot->seq = a->seq;
	slot->bucket_name = bn;
	if (!bn)
		a->oldest = a->seq; /* this one is not known either */
	pthread_mutex_unlock(&a->mu);
}

void arrivals_departed(struct arrivals *a)
{
	atomic_store(&a->departed_ns, (int_fast64_t)ais_now_mono_ns());
}

bool arrivals_departed_within(struct arrivals *a, unsigned secs)
{
	int_fast64_t t = atomic_load(&a->departed_ns);

	return t && (int64_t)ais_now_mono_ns() - t < (int64_t)secs * 1000000000;
}

int arrivals_since(struct arrivals *a, uint64_t since, const char *bucket,
		   int (*fn)(void *arg, const char *name), void *arg,
		   uint64_t *now)
{
	uint64_t s;
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	*now = a->seq;
	/* Before what the ring holds, or a number from an earlier run of the
	 * node (after this run's): not known. */
	if (since < a->oldest || since > a->seq) {
		pthread_mutex_unlock(&a->mu);
		return -ESTALE;
	}
	for (s = since + 1; s <= a->seq && !rc; s++) {
		const struct arrival *e = &a->ring[s % a->cap];

		if (e->seq == s && e->bucket_name &&
		    !strcmp(e->bucket_name, bucket))
			rc = fn(arg,
				e->bucket_name + strlen(e->bucket_name) + 1);
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}
