/* The scrub: a job that walks every object this node holds (of one bucket
 * and prefix, or all) and checks each copy block by block (store/blocks.h);
 * a corrupt copy is replaced by a good one from another node of its copy
 * set, or reported; a copy missing on another node of the set is made;
 * a copy on this node outside its set (left by a rebalance that was cut
 * short) goes once every node of the set has the object. One object at a
 * time, on a thread of its own at nice 10, pausing while clients are
 * served; started by OP_SCRUB (`ais scrub`) or every scrub_interval_h. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "names.h"

#include "aisd.h"
#include "cluster/cluster.h"
#include "cluster/peer.h"
#include "move/move_i.h"
#include "move/walk.h"
#include "shard/shard.h"
#include "store/blocks.h"
#include "store/store.h"
#include "store/xattr.h"

#define UNREPAIRED_MAX 100
#define PAUSE_NS                                                               \
	(2ull * 1000000ull) /* per object while clients are                    \
				 served */

struct scrub_walk {
	struct move *mv;
	uint8_t *scratch;
	bool count_only;
};

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull),
			      (long)(ns % 1000000000ull)};

	nanosleep(&ts, NULL);
}

static void scrub_error(struct move *mv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void scrub_error(struct move *mv, const char *fmt, ...)
{
	char msg[AIS_ERRMSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&mv->scrub.errors, 1);
	pthread_mutex_lock(&mv->scrub.mu);
	snprintf(mv->scrub.last_error, sizeof(mv->scrub.last_error), "%s", msg);
	pthread_mutex_unlock(&mv->scrub.mu);
	ais_log(LOG_WARNING, "scrub: %s", msg);
}

static void unrepaired(struct move *mv, const char *bucket, const char *name)
{
	pthread_mutex_lock(&mv->scrub.mu);
	if (mv->scrub.nunrepaired < UNREPAIRED_MAX) {
		char *s = malloc(strlen(bucket) + strlen(name) + 2);

		if (s) {
			sprintf(s, "%s/%s", bucket, name);
			mv->scrub.unrepaired[mv->scrub.nunrepaired++] = s;
		}
	}
	pthread_mutex_unlock(&mv->scrub.mu);
}

static bool in_scope(struct move *mv, const char *bucket, const char *name)
{
	return (!mv->scrub.bucket[0] || !strcmp(mv->scrub.bucket, bucket)) &&
	       !strncmp(name, mv->scrub.prefix, strlen(mv->scrub.prefix));
}

/* Reads node n's copy of bucket/name whole (that node checks its blocks
 * as it sends) and compares its checksum with m's, this node's good copy
 * of the same version. 0 when they match, or when n has a newer version
 * or none (deleted): nothing of this copy is needed there; else -errno
 * with errmsg. */
struct verify_sink {
	struct ais_cksum ck;
	const struct ais_obj_meta *want;
	bool started;
	bool newer; /* a newer version there: this copy is no longer needed */
	uint64_t got;
};

static int verify_head(void *arg, const Ais__Response *resp, uint64_t body_len,
		       char *errmsg)
{
	struct verify_sink *v = arg;
	struct ais_obj_meta there;

	ais_obj_meta_from_pb(resp->meta, &there);
	if (there.written_ns > v->want->written_ns) {
		v->newer = true;
		return -EALREADY; /* the body is not needed */
	}
	if (there.written_ns != v->want->written_ns ||
	    body_len != v->want->size)
		return ais_errf(errmsg, -ESTALE, "an older version there");
	if (ais_cksum_init(&v->ck, v->want->cksum_type) < 0)
		return ais_errf(errmsg, -EINVAL, "unknown checksum type %d",
				v->want->cksum_type);
	v->started = true;
	return 0;
}

static int verify_body(void *arg, const void *buf, size_t len, char *errmsg)
{
	struct verify_sink *v = arg;

	(void)errmsg;
	ais_cksum_update(&v->ck, buf, len);
	v->got += len;
	return 0;
}

static int verify_copy(struct move *mv, const struct ais_node *n, uint64_t mapv,
		       const char *bucket, const char *name,
		       const struct ais_obj_meta *m, char *errmsg)
{
	struct verify_sink v = {.want = m};
	struct peer_sink sink = {verify_head, verify_body, &v};
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp = NULL;
	char hex[AIS_CKSUM_HEX_MAX];
	int rc;

	if (m->cksum_type == AIS_CKSUM_NONE || !m->cksum[0])
		return ais_errf(errmsg, -EINVAL, "no checksum to compare");
	req.op = AIS__OP__OP_GET;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	req.peer_local = true;
	req.map_version = mapv;
	rc = peers_get_sink(mv->d->peers, n, &req, &sink, &resp, errmsg);
	if (v.newer)
		return 0; /* overwritten since: nothing of this copy to keep */
	if (rc == 0) {
		rc = resp->status;
		if (rc)
			ais_errf(errmsg, rc, "node %s: %s", n->id,
				 resp->message ? resp->message : strerror(-rc));
		ais__response__free_unpacked(resp, NULL);
	}
	/* Deleted there (the copy was made or refused just before): this
	 * copy is of a deleted object. */
	if (rc == -ENOENT && !v.started)
		return 0;
	if (!v.started)
		return rc ? rc : -EIO;
	ais_cksum_final(&v.ck, hex);
	if (rc)
		return rc;
	if (v.got != m->size || strcmp(hex, m->cksum))
		return ais_errf(errmsg, -EBADMSG,
				"node %s's copy differs from this one", n->id);
	return 0;
}

/* A copy here that its copy set does not include: it goes once every node
 * of the set has the object (made there from this copy if needed) and
 * each of their copies, read whole, is the same as this one: a stray may
 * be the last good copy. */
static void stray(struct move *mv, struct cluster_map *cm, const char *bucket,
		  const char *name, int mp, int fd,
		  const struct ais_obj_meta *m)
{
	const struct ais_node *others[AIS_COPIES_MAX];
	char em[AIS_ERRMSG_LEN] = "";
	size_t n, i;
	bool mine;
	int rc;

	/* A rebalance in flight moves it (and may need it here a while); a
	 * bucket this map does not know is not judged. */
	if (cm->nhistory || !cm->self_rebalanced ||
	    !cluster_has_bucket(cm, bucket))
		return;
	n = move__other_copies(mv->d, cm, bucket, name, others, &mine);
	if (mine || !n)
		return;
	for (i = 0; i < n; i++) {
		rc =
		    others[i]->down
			? -EHOSTDOWN
			: move__make_copy(mv->d, others[i], cm->m->version,
					  bucket, name, fd, m, true, false, em);
		if (rc < 0)
			return; /* kept until the next scrub */
	}
	for (i = 0; i < n; i++) {
		rc = verify_copy(mv, others[i], cm->m->version, bucket, name, m,
				 em);
		if (rc < 0) {
			ais_log(LOG_WARNING,
				"scrub: %s/%s: the stray copy here is kept: "
				"%s",
				bucket, name, em);
			return;
		}
	}
	rc = store_delete_if_same(mv->st, bucket, name, mp, m, em);
	if (rc == 0) {
		if (mv->sh)
			shard_on_delete(mv->sh, bucket, name);
		atomic_fetch_add(&mv->scrub.strays, 1);
		ais_log(LOG_INFO,
			"scrub: %s/%s: a stray copy here (its copy set is on "
			"other nodes, which have it) removed",
			bucket, name);
	}
}

static int scrub_one(void *arg, const char *bucket, const char *name, int mp)
{
	struct scrub_walk *w = arg;
	struct move *mv = w->mv;
	const struct ais_node *others[AIS_COPIES_MAX];
	char path[AISD_PATH_MAX], em[AIS_ERRMSG_LEN] = "";
	struct cluster_map *cm;
	struct ais_obj_meta m;
	struct stat sb;
	uint64_t last;
	size_t n, i;
	bool mine;
	int fd, rc;

	if (atomic_load(&mv->stop) || atomic_load(&mv->scrub.cancel))
		return -ECANCELED;
	if (strlen(bucket) > AIS_BUCKET_MAX || !in_scope(mv, bucket, name))
		return 0;
	if (w->count_only) {
		atomic_fetch_add(&mv->scrub.total, 1);
		return 0;
	}
	/* Training reads first. */
	last = atomic_load(&mv->d->client_ns);
	if (last && ais_now_mono_ns() - last < MOVE_PACE_NS)
		sleep_ns(PAUSE_NS);

	mpset_obj_path(mv->st->mps, mp, bucket, name, path);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone meanwhile */
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return 0;
	}
	if (objmeta_read_fd(fd, &m))
		objmeta_from_stat(&sb, &m);
	m.size = (uint64_t)sb.st_size;
	rc = blk_verify(mv->st->mps, mv->st->blk, fd, &m, 0, m.size, w->scratch,
			false, em);
	atomic_fetch_add(&mv->scrub.checked, 1);
	atomic_fetch_add(&mv->scrub.bytes, m.size);
	if (rc == -EBADMSG) {
		/* Not while a writer in place (a shard append) is at it. */
		char em2[AIS_ERRMSG_LEN] = "";
		int c = store_confirm_corrupt(mv->st, bucket, name, &m, 0,
					      m.size, w->scratch, em2);

		if (c != -EBADMSG) {
			close(fd);
			return 0;
		}
	}
	cm = cluster_map_get(mv->c);
	if (rc == -EBADMSG) {
		const char *from;

		close(fd);
		atomic_fetch_add(&mv->scrub.corrupt, 1);
		ais_log(LOG_ERR, "scrub: %s/%s on mountpath %s: %s", bucket,
			name, mv->st->mps->paths[mp], em);
		em[0] = 0;
		if (ais_map_copies(cm->m, bucket) > 1 &&
		    move_repair(mv->d, cm, bucket, name, &from, em) == 0) {
			atomic_fetch_add(&mv->scrub.repaired, 1);
			ais_log(LOG_NOTICE,
				"scrub: %s/%s: corrupt copy replaced by node "
				"%s's good copy",
				bucket, name, from);
		} else {
			unrepaired(mv, bucket, name);
			ais_log(LOG_ERR,
				"scrub: %s/%s: corrupt, and no good copy to "
				"repair it from%s%s",
				bucket, name, em[0] ? ": " : "", em);
		}
		cluster_map_put(cm);
		return 0;
	}
	if (rc) {
		scrub_error(mv, "%s/%s: %s", bucket, name, em);
		close(fd);
		cluster_map_put(cm);
		return 0;
	}
	/* A good copy: every node of the set that holds one makes the
	 * copies missing elsewhere in the set (a HEAD each; a node whose
	 * copy is gone cannot); a copy outside the set may be a stray. */
	n = move__other_copies(mv->d, cm, bucket, name, others, &mine);
	if (!mine) {
		stray(mv, cm, bucket, name, mp, fd, &m);
	} else {
		for (i = 0; i < n; i++) {
			if (others[i]->down)
				continue;
			rc = move__make_copy(mv->d, others[i], cm->m->version,
					     bucket, name, fd, &m, true, false,
					     em);
			if (rc > 0) {
				atomic_fetch_add(&mv->scrub.made, 1);
				ais_log(LOG_INFO,
					"scrub: %s/%s: the copy on node %s "
					"was missing or stale: made",
					bucket, name, others[i]->id);
			} else if (rc < 0) {
				scrub_error(mv, "%s/%s: copy on node %s: %s",
					    bucket, name, others[i]->id, em);
			}
		}
	}
	close(fd);
	cluster_map_put(cm);
	return 0;
}

/* Runs the job; true if it walked everything (not stopped, not out of
 * memory). */
static bool run_job(struct move *mv)
{
	struct scrub_walk w = {mv, malloc(BLK_SCRATCH), true};
	size_t i;
	int rc = 0;

	if (!w.scratch) {
		scrub_error(mv, "out of memory");
		return false;
	}
	ais_log(LOG_NOTICE, "scrub %llu: started (%s%s%s)",
		(unsigned long long)mv->scrub.id,
		mv->scrub.bucket[0] ? mv->scrub.bucket : "every bucket",
		mv->scrub.prefix[0] ? "/" : "", mv->scrub.prefix);
	for (i = 0; i < mv->st->mps->n && rc != -ECANCELED; i++)
		rc = walk_mountpath(mv->st->mps->paths[i], (int)i, scrub_one,
				    &w, &mv->stop);
	w.count_only = false;
	for (i = 0; i < mv->st->mps->n && rc != -ECANCELED; i++) {
		rc = walk_mountpath(mv->st->mps->paths[i], (int)i, scrub_one,
				    &w, &mv->stop);
		if (rc && rc != -ECANCELED)
			scrub_error(mv, "walk of %s: %s", mv->st->mps->paths[i],
				    strerror(-rc));
	}
	free(w.scratch);
	ais_log(LOG_NOTICE,
		"scrub %llu: %s: %llu objects (%llu bytes) checked, %llu "
		"corrupt (%llu repaired), %llu copies made, %llu strays "
		"removed, %llu errors",
		(unsigned long long)mv->scrub.id,
		rc == -ECANCELED ? "stopped" : "done",
		(unsigned long long)atomic_load(&mv->scrub.checked),
		(unsigned long long)atomic_load(&mv->scrub.bytes),
		(unsigned long long)atomic_load(&mv->scrub.corrupt),
		(unsigned long long)atomic_load(&mv->scrub.repaired),
		(unsigned long long)atomic_load(&mv->scrub.made),
		(unsigned long long)atomic_load(&mv->scrub.strays),
		(unsigned long long)atomic_load(&mv->scrub.errors));
	return rc != -ECANCELED;
}

static void reset(struct move *mv, const char *bucket, const char *prefix)
{
	size_t i;

	for (i = 0; i < mv->scrub.nunrepaired; i++)
		free(mv->scrub.unrepaired[i]);
	mv->scrub.nunrepaired = 0;
	snprintf(mv->scrub.bucket, sizeof(mv->scrub.bucket), "%s", bucket);
	snprintf(mv->scrub.prefix, sizeof(mv->scrub.prefix), "%s", prefix);
	mv->scrub.last_error[0] = 0;
	atomic_store(&mv->scrub.total, 0);
	atomic_store(&mv->scrub.checked, 0);
	atomic_store(&mv->scrub.bytes, 0);
	atomic_store(&mv->scrub.corrupt, 0);
	atomic_store(&mv->scrub.repaired, 0);
	atomic_store(&mv->scrub.made, 0);
	atomic_store(&mv->scrub.strays, 0);
	atomic_store(&mv->scrub.errors, 0);
	mv->scrub.started_ns = ais_now_real_ns();
	mv->scrub.finished_ns = 0;
	mv->scrub.id++;
}

/* The periodic scrub's schedule survives restarts: the end of the last
 * scrub of everything is kept in <mp0>/.ais/scrub.last (CLOCK_REALTIME ns,
 * decimal), so a node restarted more often than scrub_interval_h still
 * scrubs. One that was due while the node was down runs a tenth of the
 * interval after the start (at most 10 minutes), not during the catch-up
 * and rebalance that follow a start. */
#define SCRUB_LAST "scrub.last"

/* Nanoseconds in an "hour" of scrub_interval_h: a real hour, or the test
 * hook AISD_TEST_SCRUB_HOUR_MS's milliseconds. */
static uint64_t hour_ns(void)
{
	const char *v = getenv("AISD_TEST_SCRUB_HOUR_MS");
	unsigned long ms = v ? strtoul(v, NULL, 10) : 0;

	if (ms > 0) {
		ais_log(LOG_NOTICE,
			"test hook AISD_TEST_SCRUB_HOUR_MS=%lu armed: an hour "
			"of scrub_interval_h lasts %lu ms",
			ms, ms);
		return (uint64_t)ms * 1000000ull;
	}
	return 3600000000000ull;
}

static void last_path(struct move *mv, char *out)
{
	snprintf(out, AISD_PATH_MAX, "%s/.ais/%s", mv->st->mps->paths[0],
		 SCRUB_LAST);
}

/* When (CLOCK_MONOTONIC) the first periodic scrub is due. */
static uint64_t first_due(struct move *mv, uint64_t every_ns)
{
	char path[AISD_PATH_MAX], buf[32];
	uint64_t now = ais_now_mono_ns(), soon = every_ns / 10, last, due;
	int64_t real = ais_now_real_ns();
	ssize_t n;

	if (soon > 600000000000ull)
		soon = 600000000000ull;
	last_path(mv, path);
	n = ais_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return now + every_ns; /* never scrubbed: a full interval */
	buf[n] = 0;
	last = strtoull(buf, NULL, 10);
	if (last == 0 || last > (uint64_t)real)
		return now + every_ns;
	due = last + every_ns;
	if (due <= (uint64_t)real + soon)
		return now + soon;
	return now + (due - (uint64_t)real);
}

static void remember_last(struct move *mv, int64_t end_ns)
{
	char path[AISD_PATH_MAX], buf[32];
	int n, rc;

	last_path(mv, path);
	n = snprintf(buf, sizeof(buf), "%lld\n", (long long)end_ns);
	rc = ais_file_replace(path, buf, (size_t)n, 0644);
	if (rc)
		ais_log(LOG_WARNING,
			"scrub: cannot record its end in %s: %s (the next "
			"periodic scrub is counted from this node's start)",
			path, strerror(-rc));
}

static void *scrub_main(void *arg)
{
	struct move *mv = arg;
	uint64_t hours = mv->d->opts ? mv->d->opts->scrub_interval_h : 0;
	uint64_t every = hours ? hours * hour_ns() : 0;
	uint64_t next = every ? first_due(mv, every) : 0;

	pthread_setname_np(pthread_self(), "aisd-scrub");
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), MOVE_NICE);
	pthread_mutex_lock(&mv->scrub.mu);
	while (!atomic_load(&mv->stop)) {
		bool all;

		if (!mv->scrub.want && next && ais_now_mono_ns() >= next) {
			ais_log(LOG_NOTICE,
				"scrub: the periodic scrub of every bucket "
				"starts (scrub_interval_h %llu)",
				(unsigned long long)hours);
			reset(mv, "", "");
			mv->scrub.want = true;
		}
		if (!mv->scrub.want) {
			struct timespec ts;
			uint64_t wait = 60000000000ull, now = ais_now_mono_ns();

			if (next && next > now && next - now < wait)
				wait = next - now;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(wait / 1000000000ull);
			ts.tv_nsec += (long)(wait % 1000000000ull);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&mv->scrub.cv, &mv->scrub.mu,
					       &ts);
			continue;
		}
		mv->scrub.want = false;
		all = !mv->scrub.bucket[0] && !mv->scrub.prefix[0];
		atomic_store(&mv->scrub.cancel, false);
		atomic_store(&mv->scrub.running, true);
		pthread_mutex_unlock(&mv->scrub.mu);
		/* A whole scrub of everything, asked for or periodic,
		 * restarts the period (recorded before the lock is taken
		 * again: the file is made durable); one cut short does
		 * not. */
		all = run_job(mv) && all && !atomic_load(&mv->stop);
		if (all)
			remember_last(mv, ais_now_real_ns());
		pthread_mutex_lock(&mv->scrub.mu);
		mv->scrub.finished_ns = ais_now_real_ns();
		atomic_store(&mv->scrub.running, false);
		if (all && every)
			next = ais_now_mono_ns() + every;
	}
	pthread_mutex_unlock(&mv->scrub.mu);
	return NULL;
}

int move__scrub_start_thread(struct move *mv)
{
	int rc;

	pthread_mutex_init(&mv->scrub.mu, NULL);
	pthread_cond_init(&mv->scrub.cv, NULL);
	rc = pthread_create(&mv->scrub.thr, NULL, scrub_main, mv);
	if (rc)
		return -rc;
	mv->scrub.thr_running = true;
	return 0;
}

void move__scrub_stop_thread(struct move *mv)
{
	size_t i;

	if (!mv->scrub.thr_running)
		return;
	atomic_store(&mv->scrub.cancel, true);
	pthread_mutex_lock(&mv->scrub.mu);
	pthread_cond_broadcast(&mv->scrub.cv);
	pthread_mutex_unlock(&mv->scrub.mu);
	pthread_join(mv->scrub.thr, NULL);
	mv->scrub.thr_running = false;
	for (i = 0; i < mv->scrub.nunrepaired; i++)
		free(mv->scrub.unrepaired[i]);
	mv->scrub.nunrepaired = 0;
	pthread_cond_destroy(&mv->scrub.cv);
	pthread_mutex_destroy(&mv->scrub.mu);
}

int move_scrub_start(struct move *mv, const char *bucket, const char *prefix,
		     char *errmsg)
{
	int rc = 0;

	if (!mv || !mv->scrub.thr_running)
		return ais_errf(errmsg, -EAGAIN, "the node is starting");
	pthread_mutex_lock(&mv->scrub.mu);
	if (atomic_load(&mv->scrub.running) || mv->scrub.want) {
		/* The same scope joins the job that runs. */
		if (strcmp(mv->scrub.bucket, bucket) ||
		    strcmp(mv->scrub.prefix, prefix))
			rc = ais_errf(errmsg, -EBUSY,
				      "a scrub of %s%s%s runs on this node",
				      mv->scrub.bucket[0] ? mv->scrub.bucket
							  : "every bucket",
				      mv->scrub.prefix[0] ? "/" : "",
				      mv->scrub.prefix);
	} else {
		reset(mv, bucket, prefix);
		mv->scrub.want = true;
		pthread_cond_broadcast(&mv->scrub.cv);
	}
	pthread_mutex_unlock(&mv->scrub.mu);
	return rc;
}

int move_scrub_status(struct move *mv, Ais__ScrubStatus *st)
{
	size_t i;

	ais__scrub_status__init(st);
	if (!mv || !mv->scrub.thr_running)
		return 0;
	pthread_mutex_lock(&mv->scrub.mu);
	st->id = mv->scrub.id;
	st->running = atomic_load(&mv->scrub.running) || mv->scrub.want;
	st->bucket = strdup(mv->scrub.bucket);
	st->prefix = strdup(mv->scrub.prefix);
	st->last_error = strdup(mv->scrub.last_error);
	st->unrepaired = calloc(mv->scrub.nunrepaired + 1, sizeof(char *));
	for (i = 0; st->unrepaired && i < mv->scrub.nunrepaired; i++)
		if ((st->unrepaired[st->n_unrepaired] =
			 strdup(mv->scrub.unrepaired[i])))
			st->n_unrepaired++;
	st->started_ns = mv->scrub.started_ns;
	st->finished_ns = mv->scrub.finished_ns;
	pthread_mutex_unlock(&mv->scrub.mu);
	st->objects_total = atomic_load(&mv->scrub.total);
	st->objects_checked = atomic_load(&mv->scrub.checked);
	st->bytes_checked = atomic_load(&mv->scrub.bytes);
	st->corrupt = atomic_load(&mv->scrub.corrupt);
	st->repaired = atomic_load(&mv->scrub.repaired);
	st->copies_made = atomic_load(&mv->scrub.made);
	st->strays_removed = atomic_load(&mv->scrub.strays);
	st->errors = atomic_load(&mv->scrub.errors);
	if (!st->bucket || !st->prefix || !st->last_error) {
		move_scrub_status_free(st);
		return -ENOMEM;
	}
	return 0;
}

void move_scrub_status_free(Ais__ScrubStatus *st)
{
	size_t i;

	/* An initialised status points at protobuf-c's empty string. */
	if (st->bucket != protobuf_c_empty_string)
		free(st->bucket);
	if (st->prefix != protobuf_c_empty_string)
		free(st->prefix);
	if (st->last_error != protobuf_c_empty_string)
		free(st->last_error);
	for (i = 0; i < st->n_unrepaired; i++)
		free(st->unrepaired[i]);
	free(st->unrepaired);
	ais__scrub_status__init(st);
}
