/* The rebalance job: one walk over every mountpath (the walker on this
 * thread, `workers` threads moving objects from a small bounded queue),
 * repeated while objects failed, until this node holds nothing that the
 * placement of the job's generation puts elsewhere. Each object moves all
 * or nothing (send.c, store_resilver), so a job superseded by a newer
 * generation leaves nothing half done: it just stops. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "map.h"
#include "names.h"

#include "aisd.h"
#include "cluster/cluster.h"
#include "move/move_i.h"
#include "move/walk.h"
#include "shard/shard.h"
#include "store/store.h"

#define QUEUE_PER_WORKER 4
#define BACKOFF_MAX_MS	 30000

struct item {
	char bucket[AIS_NAME_MAX + 2]; /* a bucket is shorter; room for odd
					  directory names, skipped later */
	char name[AIS_NAME_MAX + 2];
	int mp;
};

/* One pass: the walker fills q, the workers drain it. */
struct pass {
	struct move *mv;
	struct cluster_map *cm;
	const struct ais_node *self;
	uint64_t job;
	bool send; /* false in maintenance: keep everything */
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct item *q;
	size_t cap, head, n;
	bool closed;
	atomic_ulong failed; /* objects to try again in a later pass */
};

bool move__superseded(struct move *mv, uint64_t job)
{
	return atomic_load(&mv->stop) || atomic_load(&mv->seen_id) != job;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

void move__throttle(struct move *mv, uint64_t len, uint64_t job)
{
	uint64_t now, start, cost;

	if (!mv->rate_bps || !len)
		return;
	cost = len * 1000000000ull / mv->rate_bps;
	pthread_mutex_lock(&mv->rate_mu);
	now = ais_now_mono_ns();
	start = mv->rate_next_ns > now ? mv->rate_next_ns : now;
	mv->rate_next_ns = start + cost;
	pthread_mutex_unlock(&mv->rate_mu);
	/* Waits in short steps so that a newer job or a stop is seen. */
	while ((now = ais_now_mono_ns()) < start && !move__superseded(mv, job))
		sleep_ms((start - now) / 1000000 > 100
			     ? 100
			     : (unsigned)((start - now) / 1000000) + 1);
}

void move__pace(struct move *mv, bool *held)
{
	uint64_t last = atomic_load(&mv->d->client_ns);

	*held = last && ais_now_mono_ns() - last < MOVE_PACE_NS;
	if (*held)
		pthread_mutex_lock(&mv->pace_mu);
}

void move__unpace(struct move *mv, bool held)
{
	if (held)
		pthread_mutex_unlock(&mv->pace_mu);
}

/* What the job's placement asks of this node's copy of bucket/name: keep
 * it (mine) or not, and the nodes to send it to first. With one copy: the
 * owner, unless it is this node. With copies: a node that keeps its copy
 * sends it to the nodes new in the copy set (every such node does: one
 * of them may lack it or hold a corrupt copy; a receiver refuses a copy
 * it has before the body), and a node that drops its copy sends it to
 * every node of the new set first. An object this node holds outside the old
 * set (a stray, or placed by an earlier generation) goes to every other node of
 * the new set. */
struct plan {
	bool mine;
	size_t n;
	const struct ais_node *to[AIS_COPIES_MAX];
};

static bool in_set(const struct ais_map *m, const int *idx, size_t n,
		   const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(m->nodes[idx[i]].id, id))
			return true;
	return false;
}

static void plan_of(const struct cluster_map *cm, const struct ais_node *self,
		    const char *bucket, const char *name, struct plan *p)
{
	const struct ais_map *m = cm->m,
			     *old = cm->nhistory ? cm->history[0] : NULL;
	int nidx[AIS_COPIES_MAX], oidx[AIS_COPIES_MAX];
	size_t nn, no = 0, i;
	bool was_mine = false;

	p->n = 0;
	/* A bucket this snapshot does not know (created after it): its
	 * copies are not known either; kept as it is. */
	if (!cluster_has_bucket(cm, bucket)) {
		p->mine = true;
		return;
	}
	nn = ais_map_copy_set(m, bucket, name, nidx, AIS_COPIES_MAX);
	p->mine = in_set(m, nidx, nn, self->id);
	if (nn == 1) {
		if (!p->mine)
			p->to[p->n++] = &m->nodes[nidx[0]];
		return;
	}
	if (old) {
		no = ais_map_copy_set(old, bucket, name, oidx, AIS_COPIES_MAX);
		was_mine = in_set(old, oidx, no, self->id);
	}
	for (i = 0; i < nn; i++) {
		const struct ais_node *o = &m->nodes[nidx[i]];

		if (!strcmp(o->id, self->id))
			continue;
		if (p->mine && was_mine && in_set(old, oidx, no, o->id))
			continue;
		p->to[p->n++] = o;
	}
}

/* The progress counts (objects and bytes left) before a pass: a walk
 * that only looks. */
struct count {
	struct move *mv;
	struct cluster_map *cm;
	const struct ais_node *self;
	uint64_t job;
};

static uint64_t obj_size(struct move *mv, const char *bucket, const char *name,
			 int mp)
{
	char path[AISD_PATH_MAX];
	struct stat sb;

	mpset_obj_path(mv->st->mps, mp, bucket, name, path);
	return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static int count_one(void *arg, const char *bucket, const char *name, int mp)
{
	struct count *c = arg;
	struct plan p;

	if (move__superseded(c->mv, c->job))
		return -ECANCELED;
	if (strlen(bucket) > AIS_NAME_MAX)
		return 0;
	plan_of(c->cm, c->self, bucket, name, &p);
	if (p.mine && !p.n)
		return 0;
	atomic_fetch_add(&c->mv->n.left, 1);
	atomic_fetch_add(&c->mv->n.bytes_left,
			 obj_size(c->mv, bucket, name, mp));
	return 0;
}

static void count_pass(struct move *mv, struct cluster_map *cm, uint64_t job)
{
	struct count c = {mv, cm, cluster_self(mv->c), job};
	int k = ais_map_find(cm->m, c.self->id);
	size_t i;

	atomic_store(&mv->n.left, 0);
	atomic_store(&mv->n.bytes_left, 0);
	if (k >= 0 && cm->m->nodes[k].state == AIS_NODE_MAINTENANCE)
		return; /* it keeps everything */
	for (i = 0; i < mv->st->mps->n; i++)
		if (walk_mountpath(mv->st->mps->paths[i], (int)i, count_one, &c,
				   &mv->stop) == -ECANCELED)
			return;
}

/* One object fewer to move (moved, or gone meanwhile), of size bytes:
 * never below zero (a pass may meet objects its count did not see). */
static void counted_done(struct move *mv, uint64_t size)
{
	unsigned long v = atomic_load(&mv->n.left);

	while (v && !atomic_compare_exchange_weak(&mv->n.left, &v, v - 1))
		;
	v = atomic_load(&mv->n.bytes_left);
	while (v && !atomic_compare_exchange_weak(&mv->n.bytes_left, &v,
						  v > size ? v - size : 0))
		;
}

/* One object: where the job's placement puts it. */
static void move_item(struct pass *ps, const struct item *it)
{
	struct move *mv = ps->mv;
	char em[AIS_ERRMSG_LEN] = "";
	char path[AISD_PATH_MAX];
	uint64_t bytes = 0, size;
	struct plan p;
	bool paced;
	size_t i;
	int rc, mp = it->mp;

	plan_of(ps->cm, ps->self, it->bucket, it->name, &p);
	if (p.mine) {
		/* Ours: onto the right mountpath (resilver). */
		rc = store_resilver(mv->st, it->bucket, it->name, it->mp, em);
		if (rc == 0) {
			atomic_fetch_add(&mv->n.resilvered, 1);
			if (mv->sh)
				shard_written(mv->sh, it->bucket, it->name);
		} else if (rc < 0 && rc != -ESTALE) {
			move__error(mv, "resilver of %s/%s: %s", it->bucket,
				    it->name, em);
			atomic_fetch_add(&ps->failed, 1);
			return;
		}
		if (!p.n)
			return;
		/* Resilvered or not, it is on some mountpath: find it. */
		if (store_find(mv->st, it->bucket, it->name, path, &mp, NULL))
			return;
	}
	if (!ps->send)
		return;
	if (!p.n) {
		move__error(mv, "%s/%s: no online node to take it", it->bucket,
			    it->name);
		atomic_fetch_add(&ps->failed, 1);
		return;
	}
	for (i = 0; i < p.n; i++)
		if (p.to[i]->down) {
			/* Advisory, but a send would only wait for a
			 * timeout. */
			atomic_fetch_add(&ps->failed, 1);
			return;
		}
	size = obj_size(mv, it->bucket, it->name, mp);
	move__pace(mv, &paced);
	rc = move__send(mv, p.to, p.n, ps->cm->m->version, it->bucket, it->name,
			mp, !p.mine, &bytes, em);
	move__unpace(mv, paced);
	if (rc == 0 || rc == 1) {
		counted_done(mv, size);
		if (rc == 0) {
			atomic_fetch_add(&mv->n.moved, 1);
			atomic_fetch_add(&mv->n.bytes, bytes);
		}
		return;
	}
	atomic_fetch_add(&ps->failed, 1);
	if (rc != -ESTALE)
		move__error(mv, "%s/%s: %s", it->bucket, it->name, em);
}

static void *worker(void *arg)
{
	struct pass *ps = arg;
	struct item it;

	/* Clients' requests get the CPU first (the receiving node runs its
	 * side niced too: net/server.c). */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), MOVE_NICE);

	for (;;) {
		pthread_mutex_lock(&ps->mu);
		while (!ps->n && !ps->closed)
			pthread_cond_wait(&ps->not_empty, &ps->mu);
		if (!ps->n) {
			pthread_mutex_unlock(&ps->mu);
			return NULL;
		}
		it = ps->q[ps->head];
		ps->head = (ps->head + 1) % ps->cap;
		ps->n--;
		pthread_cond_signal(&ps->not_full);
		pthread_mutex_unlock(&ps->mu);
		if (move__superseded(ps->mv, ps->job))
			continue; /* drain without work */
		move_item(ps, &it);
	}
}

static int enqueue(void *arg, const char *bucket, const char *name, int mp)
{
	struct pass *ps = arg;
	struct item *it;

	if (move__superseded(ps->mv, ps->job))
		return -ECANCELED;
	if (strlen(bucket) > AIS_NAME_MAX)
		return 0;
	pthread_mutex_lock(&ps->mu);
	while (ps->n == ps->cap)
		pthread_cond_wait(&ps->not_full, &ps->mu);
	it = &ps->q[(ps->head + ps->n) % ps->cap];
	snprintf(it->bucket, sizeof(it->bucket), "%s", bucket);
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->mp = mp;
	ps->n++;
	pthread_cond_signal(&ps->not_empty);
	pthread_mutex_unlock(&ps->mu);
	return 0;
}

/* One walk. Returns the number of objects to retry, or -ECANCELED /
 * -errno. */
static long run_pass(struct move *mv, struct cluster_map *cm, uint64_t job)
{
	const struct ais_node *self = cluster_self(mv->c);
	struct pass ps;
	pthread_t thr[64];
	int nthr = mv->workers < 1 ? 1 : mv->workers > 64 ? 64 : mv->workers;
	int i, k, started = 0, rc = 0;

	memset(&ps, 0, sizeof(ps));
	ps.mv = mv;
	ps.cm = cm;
	ps.self = self;
	ps.job = job;
	k = ais_map_find(cm->m, self->id);
	ps.send = k < 0 || cm->m->nodes[k].state != AIS_NODE_MAINTENANCE;
	ps.cap = (size_t)nthr * QUEUE_PER_WORKER;
	ps.q = calloc(ps.cap, sizeof(*ps.q));
	if (!ps.q)
		return -ENOMEM;
	pthread_mutex_init(&ps.mu, NULL);
	pthread_cond_init(&ps.not_empty, NULL);
	pthread_cond_init(&ps.not_full, NULL);
	for (i = 0; i < nthr; i++)
		if (pthread_create(&thr[started], NULL, worker, &ps) == 0)
			started++;
	if (!started) {
		rc = -EAGAIN;
	} else {
		for (i = 0; i < (int)mv->st->mps->n && !rc; i++) {
			rc = walk_mountpath(mv->st->mps->paths[i], i, enqueue,
					    &ps, &mv->stop);
			if (rc && rc != -ECANCELED)
				move__error(mv, "walk of %s: %s",
					    mv->st->mps->paths[i],
					    strerror(-rc));
		}
	}
	pthread_mutex_lock(&ps.mu);
	ps.closed = true;
	pthread_cond_broadcast(&ps.not_empty);
	pthread_mutex_unlock(&ps.mu);
	for (i = 0; i < started; i++)
		pthread_join(thr[i], NULL);
	pthread_cond_destroy(&ps.not_full);
	pthread_cond_destroy(&ps.not_empty);
	pthread_mutex_destroy(&ps.mu);
	free(ps.q);
	if (move__superseded(mv, job))
		return -ECANCELED;
	if (rc && rc != -ECANCELED)
		return rc;
	return (long)atomic_load(&ps.failed);
}

/* Sleeps ms unless the job is superseded first. */
static void backoff(struct move *mv, uint64_t job, unsigned ms)
{
	unsigned slept;

	for (slept = 0; slept < ms && !move__superseded(mv, job); slept += 100)
		sleep_ms(100);
}

int move__rebalance(struct move *mv, struct cluster_map *cm)
{
	uint64_t job = cm->rebalance_id;
	char em[AIS_ERRMSG_LEN];
	unsigned wait = 1000;
	long left;
	int rc, pass = 0;

	for (;;) {
		pass++;
		count_pass(mv, cm, job);
		left = run_pass(mv, cm, job);
		if (left == -ECANCELED)
			return -ECANCELED;
		if (left == 0)
			break;
		ais_log(LOG_WARNING,
			"rebalance %llu: pass %d left %ld object%s (%s); "
			"again in %u s",
			(unsigned long long)job, pass, left < 0 ? 0 : left,
			left == 1 ? "" : "s",
			left < 0 ? strerror((int)-left) : "see the errors",
			wait / 1000);
		backoff(mv, job, wait);
		if (move__superseded(mv, job))
			return -ECANCELED;
		wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	}
	ais_log(LOG_NOTICE,
		"rebalance %llu: this node is done (%lu moved, %lu bytes, "
		"%lu resilvered, %lu errors, %d pass%s)",
		(unsigned long long)job, atomic_load(&mv->n.moved),
		atomic_load(&mv->n.bytes), atomic_load(&mv->n.resilvered),
		atomic_load(&mv->n.errors), pass, pass == 1 ? "" : "es");
	for (wait = 500;;) {
		rc = cluster_rebalance_done(mv->c, job, em);
		if (rc == 0)
			return 0;
		if (rc == -ENOSYS) {
			/* No placement generations to report to (gossip). */
			ais_log(LOG_INFO, "rebalance %llu: %s",
				(unsigned long long)job, em);
			return 0;
		}
		if (rc != -EAGAIN)
			ais_log(LOG_WARNING,
				"rebalance %llu: cannot report it done: %s",
				(unsigned long long)job, em);
		backoff(mv, job, wait);
		if (move__superseded(mv, job))
			return -ECANCELED;
		wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	}
}
