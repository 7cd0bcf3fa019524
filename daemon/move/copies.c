/* An object's other copies (buckets with copies > 1): the coordinator of a
 * PUT, DELETE or SET_META makes the same change at the other nodes of the
 * object's copy set; what it could not (a node down, a full disk) is
 * remembered in a log on this node's first mountpath and made by the
 * repair thread when it can. The log is append-only and read as a stream:
 * memory stays the same whatever the outage's length.
 *
 *   <mp0>/.ais/copies.pending   records appended by PUTs and DELETEs
 *   <mp0>/.ais/copies.work      the records a repair round works through
 *
 * A record is one byte (P: make the copies of the object here; D: delete
 * the copies elsewhere), the bucket and the name, each ending in NUL. A
 * round renames pending to work, and appends what still fails to the new
 * pending; a work file found at start (a round cut short) is finished
 * first. Repeats are harmless: a copy that is already there is skipped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "store/store.h"

#define REPAIR_MS    2000 /* a round at least this often while any is pending */
#define ROUND_GAP_MS 500  /* and at most this often */
#define REC_MAX	     (2 + AIS_BUCKET_MAX + 1 + AIS_NAME_MAX + 1)

static void log_path(struct move *mv, const char *leaf, char *out)
{
	snprintf(out, AISD_PATH_MAX, "%s/.ais/%s", mv->st->mps->paths[0], leaf);
}

/* Appends one record (mv->copies_mu held). */
static int append_locked(struct move *mv, char kind, const char *bucket,
			 const char *name)
{
	char rec[REC_MAX];
	size_t bl = strlen(bucket), nl = strlen(name), len;
	struct stat sb;
	int rc;

	if (bl > AIS_BUCKET_MAX || nl > AIS_NAME_MAX)
		return -ENAMETOOLONG;
	if (mv->copies_fd < 0) {
		char path[AISD_PATH_MAX];

		log_path(mv, "copies.pending", path);
		mv->copies_fd =
		    open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (mv->copies_fd < 0)
			return -errno;
	}
	rec[0] = kind;
	memcpy(rec + 1, bucket, bl + 1);
	memcpy(rec + 2 + bl, name, nl + 1);
	len = 3 + bl + nl;
	/* One write: a process killed here leaves a whole record or none
	 * (a torn tail is skipped when read). Not fsynced: a crash of the
	 * machine may lose it; `ais scrub` finds what it lost. A write cut
	 * short (a full disk) is cut off again, so that the next record
	 * does not start inside it. */
	if (fstat(mv->copies_fd, &sb) < 0)
		return -errno;
	rc = ais_write_all(mv->copies_fd, rec, len);
	if (rc == 0) {
		atomic_fetch_add(&mv->copies_pending, 1);
		return 0;
	}
	if (ftruncate(mv->copies_fd, sb.st_size) < 0)
		ais_log(LOG_ERR,
			"copies: cannot cut a torn record off the pending log "
			"(%s): the record after it may be lost",
			strerror(errno));
	return rc;
}

void move_copies_note(struct move *mv, char kind, const char *bucket,
		      const char *name)
{
	int rc;

	if (!mv)
		return;
	pthread_mutex_lock(&mv->copies_mu);
	rc = append_locked(mv, kind, bucket, name);
	pthread_cond_signal(&mv->copies_cv);
	pthread_mutex_unlock(&mv->copies_mu);
	if (rc)
		ais_log(LOG_ERR,
			"%s/%s: cannot remember that its copies are to be "
			"%s: %s",
			bucket, name, kind == 'D' ? "deleted" : "made",
			strerror(-rc));
}

uint64_t move_copies_pending(struct move *mv)
{
	return mv ? atomic_load(&mv->copies_pending) : 0;
}

/* Counts the records of a log file (of bucket only, unless NULL). */
static uint64_t count_records(const char *path, const char *bucket)
{
	FILE *f = fopen(path, "re");
	char b[AIS_BUCKET_MAX + 2];
	uint64_t n = 0;
	size_t len = 0;
	int c, nul = 0;

	if (!f)
		return 0;
	while ((c = getc(f)) != EOF) {
		/* After the kind byte, the bucket up to its NUL. */
		if (nul == 0 && len <= AIS_BUCKET_MAX + 1)
			b[len++] = (char)c;
		if (c != 0 || ++nul < 2)
			continue;
		if (!bucket ||
		    (len >= 2 && b[len - 1] == 0 && !strcmp(b + 1, bucket)))
			n++;
		nul = 0;
		len = 0;
	}
	fclose(f);
	return n;
}

uint64_t move_copies_pending_bucket(struct move *mv, const char *bucket)
{
	char path[AISD_PATH_MAX];
	uint64_t n;

	if (!mv)
		return 0;
	log_path(mv, "copies.pending", path);
	n = count_records(path, bucket);
	log_path(mv, "copies.work", path);
	return n + count_records(path, bucket);
}

int move__copies_open(struct move *mv)
{
	char path[AISD_PATH_MAX];

	mv->copies_fd = -1;
	atomic_store(&mv->catching_up, true);
	pthread_mutex_init(&mv->round_mu, NULL);
	pthread_mutex_init(&mv->copies_mu, NULL);
	pthread_cond_init(&mv->copies_cv, NULL);
	log_path(mv, "copies.pending", path);
	atomic_store(&mv->copies_pending, count_records(path, NULL));
	log_path(mv, "copies.work", path);
	atomic_fetch_add(&mv->copies_pending, count_records(path, NULL));
	return 0;
}

void move__copies_close(struct move *mv)
{
	if (mv->copies_fd >= 0)
		close(mv->copies_fd);
	mv->copies_fd = -1;
	pthread_cond_destroy(&mv->copies_cv);
	pthread_mutex_destroy(&mv->copies_mu);
	pthread_mutex_destroy(&mv->round_mu);
}

bool move_catching_up(struct move *mv)
{
	return mv && atomic_load(&mv->catching_up);
}

/* ---- one object's copies at one node --------------------------------- */

/* The metadata of bucket/name at node n (a peer_local HEAD): 0 with *m,
 * -ENOENT, or -errno with errmsg (not reachable, an error there). */
static int peer_head(struct aisd *d, const struct ais_node *n, uint64_t mapv,
		     const char *bucket, const char *name,
		     struct ais_obj_meta *m, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp;
	int rc;

	req.op = AIS__OP__OP_HEAD;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	req.peer_local = true;
	req.map_version = mapv;
	rc = peers_call(d->peers, n, &req, &resp, errmsg);
	if (rc)
		return rc;
	rc = resp->status;
	if (rc == 0 && resp->meta)
		ais_obj_meta_from_pb(resp->meta, m);
	else if (rc && rc != -ENOENT)
		ais_errf(errmsg, rc, "node %s: %s", n->id,
			 resp->message ? resp->message : strerror(-rc));
	ais__response__free_unpacked(resp, NULL);
	return rc;
}

/* A body-less peer_local request (DELETE, SET_META) at node n: 0, -ENOENT,
 * or -errno with errmsg. */
static int peer_simple(struct aisd *d, const struct ais_node *n,
		       const Ais__Request *req, char *errmsg)
{
	Ais__Response *resp;
	int rc = peers_call(d->peers, n, req, &resp, errmsg);

	if (rc)
		return rc;
	rc = resp->status;
	if (rc && rc != -ENOENT)
		ais_errf(errmsg, rc, "node %s: %s", n->id,
			 resp->message ? resp->message : strerror(-rc));
	ais__response__free_unpacked(resp, NULL);
	return rc;
}

int move__peer_delete(struct aisd *d, const struct ais_node *n, uint64_t mapv,
		      const char *bucket, const char *name, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = AIS__OP__OP_DELETE;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	req.peer_local = true;
	req.map_version = mapv;
	return peer_simple(d, n, &req, errmsg);
}

static bool same_attrs(const struct ais_obj_meta *a,
		       const struct ais_obj_meta *b)
{
	/* Not the access and change times: a node from before them keeps
	 * neither, and a repair would never end. The owner only where there
	 * is one (a SET_META cannot take one away). */
	return a->mode == b->mode && a->mtime_ns == b->mtime_ns &&
	       (!b->owned ||
		(a->owned && a->uid == b->uid && a->gid == b->gid));
}

int move__make_copy(struct aisd *d, const struct ais_node *n, uint64_t mapv,
		    const char *bucket, const char *name, int fd,
		    const struct ais_obj_meta *m, bool check, bool attrs,
		    char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__ObjMeta mpb;
	Ais__Response *resp = NULL;
	struct ais_obj_meta there;
	int rc;

	if (check) {
		rc = peer_head(d, n, mapv, bucket, name, &there, errmsg);
		if (rc && rc != -ENOENT)
			return rc;
		if (rc == 0 && there.written_ns > m->written_ns)
			return 0; /* newer there: its coordinator repairs us */
		if (rc == 0 && there.written_ns == m->written_ns &&
		    there.size == m->size) {
			if (!attrs || same_attrs(&there, m))
				return 0;
			req.op = AIS__OP__OP_SET_META;
			req.bucket = (char *)bucket;
			req.name = (char *)name;
			req.peer_local = true;
			req.map_version = mapv;
			req.set_mode = req.set_mtime = req.set_atime = true;
			req.mode = m->mode;
			req.mtime_ns = m->mtime_ns;
			req.atime_ns = m->atime_ns;
			req.ctime_ns = m->ctime_ns;
			/* An object without an owner keeps none. */
			req.set_owner = m->owned;
			req.uid = m->uid;
			req.gid = m->gid;
			return peer_simple(d, n, &req, errmsg);
		}
	}
	req.op = AIS__OP__OP_PUT;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	req.map_version = mapv;
	req.migrate = true;
	req.replica = true;
	ais_obj_meta_to_pb(m, &mpb);
	req.meta = &mpb;
	rc = peers_put_fd(d->peers, n, &req, fd, 0, m->size, &resp, errmsg);
	if (rc)
		return rc;
	rc = resp->status;
	if (rc == 0 && check)
		rc = 1; /* a copy made */
	if (rc == -EALREADY)
		rc = 0; /* as new or newer there, or deleted there since */
	else if (rc)
		ais_errf(errmsg, rc, "node %s refused the copy: %s", n->id,
			 resp->message && resp->message[0] ? resp->message
							   : strerror(-rc));
	ais__response__free_unpacked(resp, NULL);
	return rc;
}

size_t move__other_copies(struct aisd *d, const struct cluster_map *cm,
			  const char *bucket, const char *name,
			  const struct ais_node **others, bool *mine)
{
	const struct ais_node *self = cluster_self(d->cluster);
	int idx[AIS_COPIES_MAX];
	size_t n, i, k = 0;

	n = ais_map_copy_set(cm->m, bucket, name, idx, AIS_COPIES_MAX);
	*mine = false;
	for (i = 0; i < n; i++) {
		const struct ais_node *o = &cm->m->nodes[idx[i]];

		if (!strcmp(o->id, self->id))
			*mine = true;
		else
			others[k++] = o;
	}
	return k;
}

int move_replicate(struct aisd *d, struct cluster_map *cm, const char *bucket,
		   const char *name, const struct ais_obj_meta *m,
		   unsigned *missing, char *errmsg)
{
	const struct ais_node *others[AIS_COPIES_MAX];
	struct ais_obj_meta cur;
	size_t n, i;
	bool mine;
	int fd, rc;

	*missing = 0;
	if (ais_map_copies(cm->m, bucket) < 2)
		return 0;
	n = move__other_copies(d, cm, bucket, name, others, &mine);
	if (!n)
		return 0;
	rc = store_open(d->store, bucket, name, &fd, &cur, NULL);
	if (rc == -ENOENT)
		return 0; /* deleted since: that DELETE goes to the copies */
	if (rc)
		return ais_errf(errmsg, rc, "%s/%s: open for its copies: %s",
				bucket, name, strerror(-rc));
	if (cur.written_ns != m->written_ns) {
		/* Replaced meanwhile: the newer PUT makes its copies. */
		close(fd);
		return 0;
	}
	for (i = 0; i < n; i++) {
		char em[AIS_ERRMSG_LEN] = "";

		if (others[i]->down) {
			ais_errf(em, -EHOSTDOWN, "node %s is down",
				 others[i]->id);
			rc = -EHOSTDOWN;
		} else {
			rc = move__make_copy(d, others[i], cm->m->version,
					     bucket, name, fd, &cur, false,
					     false, em);
		}
		if (rc) {
			if (!*missing)
				snprintf(errmsg, AIS_ERRMSG_LEN, "%s", em);
			(*missing)++;
		}
	}
	close(fd);
	if (*missing) {
		ais_log(LOG_WARNING,
			"%s/%s: %u of its %zu copies could not be made now "
			"(%s); they will be made when the node%s can take "
			"them",
			bucket, name, *missing, n + 1, errmsg,
			*missing == 1 ? "" : "s");
		move_copies_note(d->move, 'P', bucket, name);
	}
	return 0;
}

int move_delete_copies(struct aisd *d, struct cluster_map *cm,
		       const char *bucket, const char *name, bool *had,
		       char *errmsg)
{
	const struct ais_node *others[AIS_COPIES_MAX];
	size_t n, i;
	bool mine, failed = false;
	int rc;

	*had = false;
	if (ais_map_copies(cm->m, bucket) < 2)
		return 0;
	n = move__other_copies(d, cm, bucket, name, others, &mine);
	for (i = 0; i < n; i++) {
		char em[AIS_ERRMSG_LEN] = "";

		rc = others[i]->down
			 ? -EHOSTDOWN
			 : move__peer_delete(d, others[i], cm->m->version,
					     bucket, name, em);
		if (rc == 0)
			*had = true;
		else if (rc != -ENOENT) {
			if (!failed)
				snprintf(errmsg, AIS_ERRMSG_LEN, "%s",
					 em[0] ? em : strerror(-rc));
			failed = true;
		}
	}
	if (failed) {
		ais_log(LOG_WARNING,
			"%s/%s: deleted here; a copy elsewhere could not be "
			"deleted now (%s): it will be when its node can",
			bucket, name, errmsg);
		move_copies_note(d->move, 'D', bucket, name);
	}
	return 0;
}

int move_set_meta_copies(struct aisd *d, struct cluster_map *cm,
			 const Ais__Request *q, const struct ais_obj_meta *m)
{
	const struct ais_node *others[AIS_COPIES_MAX];
	Ais__Request req = *q;
	size_t n, i;
	bool mine, failed = false;

	if (ais_map_copies(cm->m, q->bucket) < 2)
		return 0;
	n = move__other_copies(d, cm, q->bucket, q->name, others, &mine);
	req.peer_local = true;
	req.map_version = cm->m->version;
	/* Exactly the values applied here (mtime 0 meant "now"). */
	req.mode = m->mode;
	req.mtime_ns = m->mtime_ns;
	req.atime_ns = m->atime_ns;
	req.ctime_ns = m->ctime_ns;
	req.uid = m->uid;
	req.gid = m->gid;
	for (i = 0; i < n; i++) {
		char em[AIS_ERRMSG_LEN] = "";
		int rc = others[i]->down ? -EHOSTDOWN
					 : peer_simple(d, others[i], &req, em);

		if (rc && rc != -ENOENT)
			failed = true;
	}
	if (failed)
		move_copies_note(d->move, 'P', q->bucket, q->name);
	return 0;
}

/* ---- the repair thread ------------------------------------------------ */

/* One record: 0 when done (or nothing left to do), -errno when it must
 * be tried again. */
/* Whether n is to be skipped (marked down, unless a round is for it). */
static bool skip_down(struct move *mv, const struct ais_node *n)
{
	return n->down && strcmp(n->id, mv->sync_for);
}

static int repair_one(struct move *mv, struct cluster_map *cm, char kind,
		      const char *bucket, const char *name)
{
	struct aisd *d = mv->d;
	const struct ais_node *others[AIS_COPIES_MAX];
	char em[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta m;
	size_t n, i;
	bool mine, failed = false;
	int fd, rc;

	if (!cluster_has_bucket(cm, bucket) ||
	    ais_map_copies(cm->m, bucket) < 2)
		return 0;
	n = move__other_copies(d, cm, bucket, name, others, &mine);
	rc = store_open(d->store, bucket, name, &fd, &m, NULL);
	if (rc == -ENOENT && kind == 'D') {
		for (i = 0; i < n; i++) {
			rc = skip_down(mv, others[i])
				 ? -EHOSTDOWN
				 : move__peer_delete(d, others[i],
						     cm->m->version, bucket,
						     name, em);
			if (rc && rc != -ENOENT &&
			    !strcmp(others[i]->id, mv->sync_for))
				mv->sync_failed++;
			if (rc && rc != -ENOENT)
				failed = true;
		}
		return failed ? -EAGAIN : 0;
	}
	if (rc == -ENOENT)
		return 0; /* gone since: its DELETE has a record of its own */
	if (rc)
		return rc;
	if (!mine) {
		/* Not placed here any more: the rebalance moves it. */
		close(fd);
		return 0;
	}
	for (i = 0; i < n; i++) {
		rc = skip_down(mv, others[i])
			 ? -EHOSTDOWN
			 : move__make_copy(d, others[i], cm->m->version, bucket,
					   name, fd, &m, true, true, em);
		if (rc < 0 && !strcmp(others[i]->id, mv->sync_for))
			mv->sync_failed++;
		if (rc < 0) {
			failed = true;
			ais_log(LOG_DEBUG, "copy of %s/%s to node %s: %s",
				bucket, name, others[i]->id,
				em[0] ? em : strerror(-rc));
		}
	}
	close(fd);
	return failed ? -EAGAIN : 0;
}

/* Works through one log file; what fails goes back to pending. Returns
 * the number of records that failed. */
static uint64_t repair_file(struct move *mv, const char *path, bool *keep)
{
	FILE *f = fopen(path, "re");
	char rec[REC_MAX];
	uint64_t failed = 0, done = 0;
	size_t len = 0;
	int c, nul = 0;

	if (!f) {
		*keep = true; /* read it next time */
		return 0;
	}
	while ((c = getc(f)) != EOF && !atomic_load(&mv->stop)) {
		if (len < sizeof(rec))
			rec[len++] = (char)c;
		if (c != 0 || ++nul < 2)
			continue;
		/* A whole record: kind, bucket NUL, name NUL. */
		nul = 0;
		if (len >= 4 && len < sizeof(rec) &&
		    (rec[0] == 'P' || rec[0] == 'D')) {
			struct cluster_map *cm = cluster_map_get(mv->c);
			const char *bucket = rec + 1;
			const char *name = bucket + strlen(bucket) + 1;
			int rc = repair_one(mv, cm, rec[0], bucket, name);

			cluster_map_put(cm);
			if (rc) {
				pthread_mutex_lock(&mv->copies_mu);
				if (append_locked(mv, rec[0], bucket, name))
					*keep = true; /* not lost: the work
							 file is read again */
				pthread_mutex_unlock(&mv->copies_mu);
				failed++;
			} else {
				done++;
			}
		}
		len = 0;
		{
			uint64_t v = atomic_load(&mv->copies_pending);

			while (v && !atomic_compare_exchange_weak(
					&mv->copies_pending, &v, v - 1))
				;
		}
	}
	fclose(f);
	if (done)
		ais_log(LOG_INFO,
			"copies: %llu made or deleted, %llu still "
			"waiting for their nodes",
			(unsigned long long)done, (unsigned long long)failed);
	return failed;
}

/* One round (mv->round_mu held): the work file left by a round cut
 * short, else the pending log renamed to it; then through it. */
static void round_locked(struct move *mv)
{
	char pending[AISD_PATH_MAX], work[AISD_PATH_MAX];
	struct stat sb;

	log_path(mv, "copies.pending", pending);
	log_path(mv, "copies.work", work);
	if (stat(work, &sb) != 0) {
		pthread_mutex_lock(&mv->copies_mu);
		if (stat(pending, &sb) != 0 || sb.st_size == 0 ||
		    rename(pending, work) != 0) {
			pthread_mutex_unlock(&mv->copies_mu);
			return;
		}
		if (mv->copies_fd >= 0)
			close(mv->copies_fd);
		mv->copies_fd = -1; /* reopened (created) by the next append */
		pthread_mutex_unlock(&mv->copies_mu);
	}
	{
		bool keep = false;

		(void)repair_file(mv, work, &keep);
		if (!atomic_load(&mv->stop) && !keep)
			unlink(work);
	}
}

void move__copies_round(struct move *mv)
{
	pthread_mutex_lock(&mv->round_mu);
	round_locked(mv);
	pthread_mutex_unlock(&mv->round_mu);
}

int move_copies_sync(struct move *mv, const struct ais_node *from)
{
	int failed;

	if (!mv || !atomic_load(&mv->copies_pending))
		return 0;
	pthread_mutex_lock(&mv->round_mu);
	/* It asks, so it is up (whatever a round before this one found). */
	peers_alive(mv->d->peers, from);
	snprintf(mv->sync_for, sizeof(mv->sync_for), "%s", from->id);
	mv->sync_failed = 0;
	round_locked(mv);
	failed = mv->sync_failed;
	mv->sync_for[0] = 0;
	pthread_mutex_unlock(&mv->round_mu);
	return failed;
}

/* At start: every other node makes now the copies this one missed while
 * it was away, before this one serves its copies. */
static void catch_up(struct move *mv)
{
	Ais__Request req = AIS__REQUEST__INIT;
	const struct ais_node *self = cluster_self(mv->c);
	Ais__Node me;
	struct cluster_map *cm;
	size_t i, asked = 0, failed = 0;
	int tries;
	uint64_t t0 = ais_now_mono_ns();

	/* The map as the leader has it (a node replaying its log holds
	 * older ones: buckets without their copies yet). */
	while ((!cluster_serving(mv->c) || cluster_sync(mv->c, 2000) != 0) &&
	       !atomic_load(&mv->stop)) {
		struct timespec ts = {0, 100 * 1000000L};

		nanosleep(&ts, NULL);
	}
	cm = cluster_map_get(mv->c);
	req.op = AIS__OP__OP_COPIES_SYNC;
	req.map_version = cm->m->version;
	{
		static Ais__Node init = AIS__NODE__INIT;

		me = init;
		me.id = (char *)self->id;
		req.node = &me;
	}
	for (i = 0; i < cm->m->n && cm->m->nbcopies && !atomic_load(&mv->stop);
	     i++) {
		const struct ais_node *n = &cm->m->nodes[i];
		char em[AIS_ERRMSG_LEN] = "";
		Ais__Response *resp;
		int rc;

		if (!strcmp(n->id, self->id) || n->down ||
		    n->state == AIS_NODE_JOINING)
			continue;
		asked++;
		for (tries = 0;; tries++) {
			struct timespec pause = {0, 250000000L};

			rc = peers_call(mv->relay, n, &req, &resp, em);
			if (rc == 0) {
				rc = resp->status;
				if (rc)
					snprintf(em, sizeof(em), "%s",
						 resp->message ? resp->message
							       : "");
				ais__response__free_unpacked(resp, NULL);
			}
			/* -EAGAIN: some copies could not reach this node
			 * yet (it was just starting): again, a few times. */
			if (rc != -EAGAIN || tries >= 20 ||
			    atomic_load(&mv->stop))
				break;
			nanosleep(&pause, NULL);
		}
		if (rc) {
			failed++;
			ais_log(LOG_INFO,
				"copies: node %s could not send what this node "
				"missed: %s",
				n->id, em[0] ? em : strerror(-rc));
		}
	}
	if (asked)
		ais_log(
		    LOG_NOTICE,
		    "copies: caught up (%zu node%s asked for the copies "
		    "this node missed, %zu could not answer) in %llu ms",
		    asked, asked == 1 ? "" : "s", failed,
		    (unsigned long long)((ais_now_mono_ns() - t0) / 1000000));
	cluster_map_put(cm);
	atomic_store(&mv->catching_up, false);
}

static void *copies_thread(void *arg)
{
	struct move *mv = arg;

	pthread_setname_np(pthread_self(), "aisd-copies");
	catch_up(mv);
	for (;;) {
		struct timespec ts;

		pthread_mutex_lock(&mv->copies_mu);
		if (!atomic_load(&mv->stop)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += REPAIR_MS / 1000;
			pthread_cond_timedwait(&mv->copies_cv, &mv->copies_mu,
					       &ts);
		}
		pthread_mutex_unlock(&mv->copies_mu);
		if (atomic_load(&mv->stop))
			break;
		if (atomic_load(&mv->copies_pending) &&
		    cluster_serving(mv->c)) {
			struct timespec gap = {0, ROUND_GAP_MS * 1000000L};

			move__copies_round(mv);
			nanosleep(&gap, NULL);
		}
	}
	return NULL;
}

int move__copies_start(struct move *mv)
{
	int rc = pthread_create(&mv->copies_thr, NULL, copies_thread, mv);

	if (rc)
		return -rc;
	mv->copies_running = true;
	return 0;
}

void move__copies_stop(struct move *mv)
{
	if (!mv->copies_running)
		return;
	pthread_mutex_lock(&mv->copies_mu);
	pthread_cond_broadcast(&mv->copies_cv);
	pthread_mutex_unlock(&mv->copies_mu);
	pthread_join(mv->copies_thr, NULL);
	mv->copies_running = false;
}
