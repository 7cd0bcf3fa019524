/* Leases (lease.h): a ring of numbered changes, a table of holders, one
 * mutex and one condition variable (a new change wakes the polls; a poll
 * that acknowledges wakes the changes that wait for it). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "names.h"
#include "util.h"

#include "lease/lease.h"

struct change {
	uint64_t seq;
	uint64_t origin;
	char *bucket_name; /* "bucket\0name" */
};

struct holder {
	uint64_t id;
	uint64_t acked;	  /* every change <= acked is applied */
	uint64_t last_ns; /* monotonic arrival of its latest poll */
	char bucket[AIS_BUCKET_MAX + 1];
};

struct leases {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	uint64_t lease_ns;
	struct change *ring;
	size_t cap;
	uint64_t seq;	 /* the latest number given */
	uint64_t oldest; /* every number > oldest is in the ring */
	struct holder *holders;
	size_t nholders;
	atomic_uint_fast64_t grace_end_ns; /* 0: not serving yet */
	/* The stamp file: holders' ids when the set changes, and the time,
	 * refreshed every lease/4 while some are live. */
	char *stamp;
	uint64_t stamp_ns; /* monotonic time of the last write */
	bool stamp_dirty;
	/* Read from the stamp at start: the mounts that may still trust
	 * leases from the previous run, and when those run out (wall ns). */
	uint64_t *before;
	size_t nbefore;
	int64_t before_end_ns;
	uint64_t serving_ns; /* monotonic: leases_serving's first call */
	uint64_t run;	     /* random: tells this run from another */
};

static bool holder_live(const struct leases *l, const struct holder *h,
			uint64_t now)
{
	/* A poll that took the lock after now was read is live. */
	return h->last_ns >= now || now - h->last_ns < l->lease_ns;
}

/* The stamp: "ais-leases 1 WALL_NS\n" then one hex id per line. */
static void stamp_write(struct leases *l, uint64_t now)
{
	char tmp[4096 + 8];
	FILE *f;
	size_t i;

	if (!l->stamp)
		return;
	l->stamp_ns = now; /* tried: not again before lease/4 */
	snprintf(tmp, sizeof(tmp), "%s.tmp", l->stamp);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "ais-leases 1 %lld\n", (long long)ais_now_real_ns());
	for (i = 0; i < l->nholders; i++)
		if (holder_live(l, &l->holders[i], now))
			fprintf(f, "%016llx\n",
				(unsigned long long)l->holders[i].id);
	if (fclose(f) == 0 && rename(tmp, l->stamp) == 0)
		l->stamp_dirty = false;
	else
		(void)unlink(tmp);
}

static void stamp_read(struct leases *l)
{
	unsigned long long id;
	long long wall;
	uint64_t *v;
	FILE *f;

	l->before_end_ns = -1; /* unknown: a whole lease */
	if (!l->stamp)
		return;
	f = fopen(l->stamp, "r");
	if (!f) {
		l->before_end_ns = 0; /* never ran here: nobody to wait for */
		return;
	}
	if (fscanf(f, "ais-leases 1 %lld", &wall) == 1) {
		/* The last grant was at most lease/4 after the stamp. */
		l->before_end_ns = wall + (int64_t)(l->lease_ns * 5 / 4);
		while (fscanf(f, "%llx", &id) == 1) {
			v = realloc(l->before, (l->nbefore + 1) * sizeof(*v));
			if (!v) {
				l->before_end_ns = -1;
				break;
			}
			l->before = v;
			l->before[l->nbefore++] = id;
		}
	}
	fclose(f);
}

struct leases *leases_new(unsigned lease_ms, const char *stamp)
{
	struct leases *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;

	if (!l)
		return NULL;
	l->cap = LEASE_CHANGES;
	l->ring = calloc(l->cap, sizeof(*l->ring));
	l->holders = calloc(LEASE_HOLDERS, sizeof(*l->holders));
	if (!l->ring || !l->holders) {
		free(l->ring);
		free(l->holders);
		free(l);
		return NULL;
	}
	l->lease_ns =
	    (uint64_t)(lease_ms ? lease_ms : LEASE_MS_DEFAULT) * 1000000ULL;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* Numbers grow across restarts (a mount may hold one from the last
	 * run, which must then be refused): they start at the wall clock. */
	l->seq = (uint64_t)ais_now_real_ns();
	if (!l->seq)
		l->seq = 1;
	l->oldest = l->seq;
	atomic_init(&l->grace_end_ns, 0);
	if (stamp && !(l->stamp = strdup(stamp))) {
		leases_free(l);
		return NULL;
	}
	stamp_read(l);
	l->run = ais_mix64((uint64_t)ais_now_real_ns() ^
			   ((uint64_t)getpid() << 32) ^ (uintptr_t)l);
	return l;
}

uint64_t leases_run(struct leases *l)
{
	return l->run;
}

void leases_free(struct leases *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->cap; i++)
		free(l->ring[i].bucket_name);
	free(l->ring);
	free(l->holders);
	free(l->stamp);
	free(l->before);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

unsigned leases_ms(struct leases *l)
{
	return (unsigned)(l->lease_ns / 1000000ULL);
}

void leases_serving(struct leases *l)
{
	uint_fast64_t zero = 0;
	uint64_t now, grace;
	int64_t left;

	if (!l || atomic_load_explicit(&l->grace_end_ns, memory_order_relaxed))
		return;
	now = ais_now_mono_ns();
	if (l->before_end_ns < 0) {
		grace = l->lease_ns;
	} else {
		/* What the last run granted, and what a mount needs to hear
		 * of this node at all. */
		left = l->before_end_ns - ais_now_real_ns();
		grace = (uint64_t)LEASE_NEW_GRACE_MS * 1000000ULL;
		if (left > 0 && (uint64_t)left > grace)
			grace = (uint64_t)left;
	}
	pthread_mutex_lock(&l->mu);
	if (!l->serving_ns)
		l->serving_ns = now;
	pthread_mutex_unlock(&l->mu);
	if (atomic_compare_exchange_strong(&l->grace_end_ns, &zero,
					   now + grace))
		ais_log(LOG_INFO,
			"leases: changes are answered %llu ms from now (or "
			"once the %zu mounts of the last run are back): "
			"mounts may trust leases from before this start",
			(unsigned long long)(grace / 1000000ULL), l->nbefore);
}

/* Under the lock: when the grace period ends (0: over). It ends early
 * once every mount of the last run polled this one (each then dropped
 * what it trusted), but not before mounts can have heard of this node. */
static uint64_t grace_until(struct leases *l, uint64_t now)
{
	uint64_t g = atomic_load(&l->grace_end_ns), floor;

	if (!g || now >= g)
		return 0;
	if (l->before_end_ns >= 0 && l->nbefore == 0) {
		floor =
		    l->serving_ns + (uint64_t)LEASE_NEW_GRACE_MS * 1000000ULL;
		return now >= floor ? 0 : floor;
	}
	return g;
}

uint64_t leases_note(struct leases *l, const char *bucket, const char *name,
		     uint64_t origin)
{
	size_t bl = strlen(bucket), nl = strlen(name);
	char *bn = malloc(bl + nl + 2);
	struct change *c;
	uint64_t seq;

	if (bn) {
		memcpy(bn, bucket, bl + 1);
		memcpy(bn + bl + 1, name, nl + 1);
	}
	pthread_mutex_lock(&l->mu);
	seq = ++l->seq;
	c = &l->ring[seq % l->cap];
	free(c->bucket_name);
	c->bucket_name = bn;
	c->seq = seq;
	c->origin = origin;
	if (!bn) {
		/* Cannot remember this one: forget everything before it. */
		l->oldest = seq;
		ais_log(LOG_WARNING, "leases: out of memory: mounts behind "
				     "will drop what they cached");
	} else if (seq - l->oldest > l->cap) {
		l->oldest = seq - l->cap;
	}
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return seq;
}

static bool holder_wants(const struct holder *h, const char *bucket)
{
	return !h->bucket[0] || !strcmp(h->bucket, bucket);
}

static void holder_drop(struct leases *l, size_t i, const char *why)
{
	ais_log(LOG_NOTICE,
		"leases: mount %016llx %s; it no longer trusts "
		"its cache",
		(unsigned long long)l->holders[i].id, why);
	l->holders[i] = l->holders[--l->nholders];
}

bool leases_release(struct leases *l, uint64_t id)
{
	bool held = false;
	size_t i;

	pthread_mutex_lock(&l->mu);
	for (i = 0; i < l->nholders; i++) {
		if (l->holders[i].id == id) {
			holder_drop(l, i, "unmounted");
			held = true;
			break;
		}
	}
	/* Gone for good: a restart waits for it no more than now. */
	for (i = 0; i < l->nbefore; i++) {
		if (l->before[i] == id) {
			l->before[i] = l->before[--l->nbefore];
			break;
		}
	}
	if (held && l->stamp)
		stamp_write(l, ais_now_mono_ns());
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return held;
}

static void deadline_ts(uint64_t mono_ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(mono_ns / 1000000000ULL);
	ts->tv_nsec = (long)(mono_ns % 1000000000ULL);
}

unsigned leases_wait(struct leases *l, const char *bucket, uint64_t seq,
		     uint64_t origin)
{
	uint64_t start = ais_now_mono_ns(), now, until;
	struct timespec ts;
	size_t i;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		now = ais_now_mono_ns();
		until = grace_until(l, now);
		for (i = 0; i < l->nholders;) {
			struct holder *h = &l->holders[i];

			if (!holder_wants(h, bucket) || h->acked >= seq ||
			    h->id == origin) {
				i++;
				continue;
			}
			if (!holder_live(l, h, now)) {
				holder_drop(l, i,
					    "did not acknowledge a "
					    "change within its lease");
				continue;
			}
			if (!until || h->last_ns + l->lease_ns < until)
				until = h->last_ns + l->lease_ns;
			i++;
		}
		if (!until)
			break;
		deadline_ts(until, &ts);
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	}
	pthread_mutex_unlock(&l->mu);
	return (unsigned)((now - start) / 1000000ULL);
}

static struct holder *holder_get(struct leases *l, uint64_t id, uint64_t now)
{
	size_t i;

	for (i = 0; i < l->nholders; i++)
		if (l->holders[i].id == id)
			return &l->holders[i];
	/* Room: forget the mounts whose lease is long gone. */
	for (i = 0; i < l->nholders;) {
		if (l->holders[i].last_ns < now &&
		    now - l->holders[i].last_ns > 4 * l->lease_ns)
			l->holders[i] = l->holders[--l->nholders];
		else
			i++;
	}
	if (l->nholders == LEASE_HOLDERS)
		return NULL;
	memset(&l->holders[l->nholders], 0, sizeof(l->holders[0]));
	l->holders[l->nholders].id = id;
	return &l->holders[l->nholders++];
}

/* Whether holder id (with this bucket filter) is to be told change c. */
static bool tell(const struct change *c, uint64_t id, const char *bucket)
{
	return c->origin != id &&
	       (!bucket[0] || !strcmp(c->bucket_name, bucket));
}

/* The first change after since to tell holder id, or 0. */
static uint64_t next_wanted(struct leases *l, uint64_t id, const char *bucket,
			    uint64_t since)
{
	uint64_t s;

	for (s = since + 1; s <= l->seq; s++)
		if (tell(&l->ring[s % l->cap], id, bucket))
			return s;
	return 0;
}

int leases_poll(struct leases *l, uint64_t id, const char *bucket,
		uint64_t since, uint64_t run, unsigned wait_ms, size_t max,
		int (*fn)(void *arg, const char *bucket, const char *name),
		void *arg, uint64_t *upto)
{
	uint64_t now, end, s, first;
	char filter[AIS_BUCKET_MAX + 1];
	struct timespec ts;
	struct holder *h;
	size_t n = 0, i;
	int rc = 0;

	snprintf(filter, sizeof(filter), "%s", bucket);
	if (wait_ms > LEASE_WAIT_MAX_MS)
		wait_ms = LEASE_WAIT_MAX_MS;
	pthread_mutex_lock(&l->mu);
	now = ais_now_mono_ns(); /* under the lock: last_ns never goes back */
	end = now + (uint64_t)wait_ms * 1000000ULL;
	*upto = l->seq;
	h = holder_get(l, id, now);
	if (!h) {
		pthread_mutex_unlock(&l->mu);
		return -EBUSY;
	}
	if (!h->last_ns || !holder_live(l, h, now))
		l->stamp_dirty = true; /* a new holder, or back */
	h->last_ns = now;
	memcpy(h->bucket, filter, sizeof(filter));
	if (l->stamp && (l->stamp_dirty || now - l->stamp_ns > l->lease_ns / 4))
		stamp_write(l, now);
	/* A first poll, or one from before what this node remembers (or
	 * from its last run): the mount drops what it cached when it gets
	 * the answer, and its next poll acknowledges (until then, changes
	 * wait for it, as for any holder behind). */
	if (since == 0) {
		pthread_mutex_unlock(&l->mu);
		return 0;
	}
	if (since > l->seq || since < l->oldest || (run && run != l->run)) {
		pthread_mutex_unlock(&l->mu);
		return -ESTALE;
	}
	for (i = 0; i < l->nbefore; i++) {
		if (l->before[i] == id) { /* back from the last run */
			l->before[i] = l->before[--l->nbefore];
			break;
		}
	}
	h->acked = since;
	pthread_cond_broadcast(&l->cv);
	/* h may move (holder_drop, holder_get of others): not used below. */
	while (!(first = next_wanted(l, id, filter, since))) {
		now = ais_now_mono_ns();
		if (now >= end)
			break;
		deadline_ts(end, &ts);
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		if (since < l->oldest) {
			*upto = l->seq;
			pthread_mutex_unlock(&l->mu);
			return -ESTALE;
		}
	}
	*upto = l->seq;
	for (s = first; first && s <= l->seq; s++) {
		const char *bn = l->ring[s % l->cap].bucket_name;

		if (!tell(&l->ring[s % l->cap], id, filter))
			continue;
		rc = fn(arg, bn, bn + strlen(bn) + 1);
		if (rc > 0 && s > first) {
			/* No room for this one: the next poll starts here. */
			*upto = s - 1;
			rc = 0;
			break;
		}
		if (rc)
			break;
		if (++n == max) {
			*upto = s;
			break;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

size_t leases_holders(struct leases *l)
{
	uint64_t now;
	size_t i, n = 0;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->mu);
	now = ais_now_mono_ns();
	for (i = 0; i < l->nholders; i++)
		n += holder_live(l, &l->holders[i], now);
	pthread_mutex_unlock(&l->mu);
	return n;
}
