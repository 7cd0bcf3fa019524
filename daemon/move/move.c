/* Data movement: the life of struct move, its thread (the resilver at
 * start, then one rebalance job per placement generation), the snapshots
 * it follows, its status, and the policy of tombstones. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#include "aisd.h"
#include "cluster/cluster.h"
#include "cluster/peer.h"
#include "move/move_i.h"
#include "store/store.h"

#define WAKE_MS		60000 /* at least this often: tombstone pruning */
#define ERRORS_LOGGED	20    /* per job at LOG_WARNING, the rest at debug */
#define DEFAULT_WORKERS 4

int move_new(struct aisd *d, struct move **out, char *errmsg)
{
	struct move *mv;

	if (!d->store || !d->cluster || !d->peers)
		return ais_errf(errmsg, -EINVAL,
				"move_new needs the store, the cluster and "
				"the peers");
	mv = calloc(1, sizeof(*mv));
	if (!mv)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	mv->d = d;
	mv->st = d->store;
	mv->sh = d->shards;
	mv->c = d->cluster;
	mv->peers = d->peers;
	/* Relayed reads wait for the previous owner's answer as long as a
	 * client would (it may index a shard first). */
	mv->relay = peers_new(1000, PEERS_ANSWER_MS, 5000);
	if (!mv->relay) {
		free(mv);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	peers_auth_like(mv->relay, d->peers);
	mv->workers = DEFAULT_WORKERS;
	if (d->opts && d->opts->rebalance_workers > 0)
		mv->workers = d->opts->rebalance_workers;
	if (d->opts && d->opts->rebalance_rate_mb > 0)
		mv->rate_bps = (uint64_t)d->opts->rebalance_rate_mb << 20;
	pthread_mutex_init(&mv->mu, NULL);
	pthread_cond_init(&mv->cv, NULL);
	pthread_mutex_init(&mv->rate_mu, NULL);
	pthread_mutex_init(&mv->pace_mu, NULL);
	move__copies_open(mv);
	/* Until a snapshot says otherwise, a rebalance may be in flight
	 * (this node may have restarted in one): tombstones for a while. */
	atomic_store(&mv->quiet_since, ais_now_mono_ns());
	*out = mv;
	return 0;
}

void move_free(struct move *mv)
{
	if (!mv)
		return;
	peers_free(mv->relay);
	move__copies_close(mv);
	pthread_mutex_destroy(&mv->rate_mu);
	pthread_mutex_destroy(&mv->pace_mu);
	pthread_cond_destroy(&mv->cv);
	pthread_mutex_destroy(&mv->mu);
	free(mv);
}

void move__error(struct move *mv, const char *fmt, ...)
{
	char msg[AIS_ERRMSG_LEN];
	unsigned long n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = atomic_fetch_add(&mv->n.errors, 1) + 1;
	pthread_mutex_lock(&mv->mu);
	snprintf(mv->last_error, sizeof(mv->last_error), "%s", msg);
	pthread_mutex_unlock(&mv->mu);
	if (n <= ERRORS_LOGGED)
		ais_log(LOG_WARNING, "rebalance %llu: %s%s",
			(unsigned long long)atomic_load(&mv->job_id), msg,
			n == ERRORS_LOGGED ? " (further errors of this "
					     "rebalance at debug level)"
					   : "");
	else
		ais_log(LOG_DEBUG, "rebalance: %s", msg);
}

/* seen_id only grows. */
static void seen(struct move *mv, uint64_t id)
{
	unsigned long long cur = atomic_load(&mv->seen_id);

	while (id > cur &&
	       !atomic_compare_exchange_weak(&mv->seen_id, &cur, id))
		;
}

void move_on_map(struct move *mv, struct cluster_map *cm)
{
	bool hist = cm->nhistory > 0;

	if (!hist && atomic_exchange(&mv->in_flight, false))
		atomic_store(&mv->quiet_since, ais_now_mono_ns());
	else if (hist)
		atomic_store(&mv->in_flight, true);
	seen(mv, cm->rebalance_id);
	pthread_mutex_lock(&mv->mu);
	mv->kick = true;
	pthread_cond_broadcast(&mv->cv);
	pthread_mutex_unlock(&mv->mu);
	/* A node may be back: the copies it missed go now. */
	if (atomic_load(&mv->copies_pending)) {
		pthread_mutex_lock(&mv->copies_mu);
		pthread_cond_signal(&mv->copies_cv);
		pthread_mutex_unlock(&mv->copies_mu);
	}
}

bool move_tombstones_wanted(struct move *mv, const struct cluster_map *cm)
{
	if (cm->nhistory > 0)
		return true;
	if (!mv)
		return false;
	return atomic_load(&mv->in_flight) ||
	       ais_now_mono_ns() - atomic_load(&mv->quiet_since) <
		   MOVE_QUIET_NS;
}

/* Tombstones are forgotten once no rebalance has been in flight for a
 * while: no copy older than them can still be on its way. */
static void prune_tombstones(struct move *mv)
{
	size_t n;
	int rc;

	if (atomic_load(&mv->in_flight) ||
	    ais_now_mono_ns() - atomic_load(&mv->quiet_since) < MOVE_QUIET_NS)
		return;
	n = tombs_count(mv->st->tombs);
	if (!n)
		return;
	rc = tombs_clear(mv->st->tombs);
	if (rc)
		ais_log(LOG_WARNING, "cannot clear the tombstones: %s",
			strerror(-rc));
	else
		ais_log(LOG_INFO,
			"%zu tombstone%s forgotten: no rebalance in flight "
			"for 10 minutes",
			n, n == 1 ? "" : "s");
}

static void resilver_at_start(struct move *mv)
{
	char em[AIS_ERRMSG_LEN] = "";
	uint64_t moved = 0, t0 = ais_now_mono_ns();
	int rc;

	if (!move_mountpaths_changed(mv->st))
		return;
	ais_log(LOG_NOTICE,
		"the mountpath set changed: resilvering (objects onto the "
		"mountpath each belongs to)");
	rc = move_resilver(mv->st, mv->sh, &mv->stop, &moved, em);
	atomic_fetch_add(&mv->n.resilvered, moved);
	if (rc == -ECANCELED)
		return;
	if (rc) {
		ais_log(LOG_WARNING,
			"resilver: %s (%llu objects moved; the rest stays "
			"readable where it is, and is moved at the next "
			"start)",
			em, (unsigned long long)moved);
		return;
	}
	ais_log(LOG_NOTICE, "resilver done: %llu object%s moved in %.1f s",
		(unsigned long long)moved, moved == 1 ? "" : "s",
		(double)(ais_now_mono_ns() - t0) / 1e9);
	rc = move_mountpaths_remember(mv->st, em);
	if (rc)
		ais_log(LOG_WARNING, "%s", em);
}

static void reset_counts(struct move *mv)
{
	atomic_store(&mv->n.moved, 0);
	atomic_store(&mv->n.bytes, 0);
	atomic_store(&mv->n.left, 0);
	atomic_store(&mv->n.bytes_left, 0);
	atomic_store(&mv->n.errors, 0);
	atomic_store(&mv->n.resilvered, 0);
	pthread_mutex_lock(&mv->mu);
	mv->last_error[0] = 0;
	pthread_mutex_unlock(&mv->mu);
}

static void wait_kick(struct move *mv)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAKE_MS / 1000;
	pthread_mutex_lock(&mv->mu);
	while (!mv->kick && !atomic_load(&mv->stop))
		if (pthread_cond_timedwait(&mv->cv, &mv->mu, &ts) == ETIMEDOUT)
			break;
	mv->kick = false;
	pthread_mutex_unlock(&mv->mu);
}

/* True once this node has applied everything the Raft leader had when
 * asked (once per start: later snapshots arrive in order). */
static bool caught_up(struct move *mv)
{
	if (mv->synced)
		return true;
	if (!cluster_serving(mv->c) || cluster_sync(mv->c, 2000) != 0)
		return false;
	mv->synced = true;
	return true;
}

static void *move_main(void *arg)
{
	struct move *mv = arg;
	struct cluster_map *cm;
	uint64_t id;
	int rc;

	resilver_at_start(mv);
	while (!atomic_load(&mv->stop)) {
		cm = cluster_map_get(mv->c);
		id = cm->rebalance_id;
		seen(mv, id);
		/* Generation 0 is "none yet": nothing placed by it to move. */
		if (id > 0 && id != mv->done_id && !cm->self_rebalanced &&
		    !caught_up(mv)) {
			/* A node replaying its log holds states from the past
			 * (a bucket's copies not set yet): it moves nothing
			 * until it has what the leader has. */
			cluster_map_put(cm);
			if (!atomic_load(&mv->stop)) {
				struct timespec ts = {0, 200 * 1000000L};

				nanosleep(&ts, NULL);
			}
			continue;
		}
		if (id > 0 && id != mv->done_id && !cm->self_rebalanced) {
			atomic_store(&mv->job_id, id);
			reset_counts(mv);
			atomic_store(&mv->job_running, true);
			ais_log(LOG_NOTICE,
				"rebalance %llu: started (map v%llu, %zu "
				"earlier placement%s in flight)",
				(unsigned long long)id,
				(unsigned long long)cm->m->version,
				cm->nhistory, cm->nhistory == 1 ? "" : "s");
			rc = move__rebalance(mv, cm);
			atomic_store(&mv->job_running, false);
			if (rc == 0)
				mv->done_id = id;
			else if (!atomic_load(&mv->stop))
				ais_log(LOG_NOTICE,
					"rebalance %llu: superseded by %llu",
					(unsigned long long)id,
					(unsigned long long)atomic_load(
					    &mv->seen_id));
		} else if (cm->self_rebalanced) {
			/* Done before a restart (or a superseded job's
			 * successor was done in the log already): this node
			 * reports the current generation as done, not the
			 * job it last ran. */
			if (id > 0 && atomic_load(&mv->job_id) != id) {
				reset_counts(mv);
				atomic_store(&mv->job_id, id);
			}
			mv->done_id = id;
		}
		cluster_map_put(cm);
		if (atomic_load(&mv->seen_id) != id) {
			/* A newer generation: at once (its snapshot may
			 * take a moment to be current). */
			struct timespec ts = {0, 100 * 1000000L};

			nanosleep(&ts, NULL);
			continue;
		}
		wait_kick(mv);
		prune_tombstones(mv);
	}
	return NULL;
}

int move_start(struct move *mv)
{
	int rc;

	atomic_store(&mv->stop, false);
	rc = pthread_create(&mv->thr, NULL, move_main, mv);
	if (rc)
		return -rc;
	mv->running = true;
	rc = move__copies_start(mv);
	if (!rc)
		rc = move__scrub_start_thread(mv);
	if (rc) {
		move_stop(mv);
		return rc;
	}
	return 0;
}

void move_stop(struct move *mv)
{
	if (!mv || !mv->running)
		return;
	pthread_mutex_lock(&mv->mu);
	atomic_store(&mv->stop, true);
	pthread_cond_broadcast(&mv->cv);
	pthread_mutex_unlock(&mv->mu);
	pthread_join(mv->thr, NULL);
	mv->running = false;
	move__copies_stop(mv);
	move__scrub_stop_thread(mv);
}

void move_status(struct move *mv, Ais__RebalanceStatus *st, char *last_error,
		 size_t last_error_len)
{
	ais__rebalance_status__init(st);
	st->id = atomic_load(&mv->job_id);
	st->running = atomic_load(&mv->job_running);
	st->objects_moved = atomic_load(&mv->n.moved);
	st->bytes_moved = atomic_load(&mv->n.bytes);
	st->objects_left = atomic_load(&mv->n.left);
	st->bytes_left = atomic_load(&mv->n.bytes_left);
	st->errors = atomic_load(&mv->n.errors);
	st->objects_fetched = atomic_load(&mv->n.fetched);
	pthread_mutex_lock(&mv->mu);
	snprintf(last_error, last_error_len, "%s", mv->last_error);
	pthread_mutex_unlock(&mv->mu);
	st->last_error = last_error;
}
