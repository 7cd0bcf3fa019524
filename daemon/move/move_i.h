/* Internal to daemon/move/: the layout of struct move, shared by move.c
 * (life cycle, the thread, snapshots, status, tombstone policy),
 * rebalance.c (the job: walk, workers, rate limit, passes), send.c (one
 * object to its new owner), fetch.c (reads relayed from previous owners,
 * a fetch from them, a delete at them) and resilver.c (objects onto their
 * mountpath). */
#ifndef AISD_MOVE_MOVE_I_H
#define AISD_MOVE_MOVE_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "map.h"
#include "util.h"

#include "move/move.h"

/* Tombstones are recorded while a rebalance may be in flight and for this
 * long after the last snapshot with history. */
#define MOVE_QUIET_NS (600ull * 1000000000ull)

struct aisd;
struct store;
struct shards;
struct peers;
struct cluster;

/* Counters of the current (or last) rebalance, and of fetches. */
struct move_counts {
	atomic_ulong moved, bytes, left, bytes_left, errors, resilvered,
	    fetched;
};

/* One object being fetched: later requests for it wait. */
struct fetch_wait {
	struct fetch_wait *next;
	char *key; /* "bucket/name" */
	bool done;
	int waiters;
};

struct move {
	struct aisd *d;
	struct store *st;
	struct shards *sh;
	struct cluster *c;
	struct peers *peers;
	struct peers *relay; /* for relayed reads: a client's answer timeout */
	int workers;	     /* objects in flight at once */
	uint64_t rate_bps;   /* bytes per second, 0 = unlimited */

	pthread_mutex_t mu; /* guards what follows, and the fetch list */
	pthread_cond_t cv;
	pthread_t thr;
	bool running;
	bool kick;	       /* a new snapshot to look at */
	atomic_bool stop;      /* move_stop */
	atomic_ullong seen_id; /* the newest rebalance_id seen */
	atomic_ullong job_id;  /* the one being worked on */
	atomic_bool job_running;
	uint64_t done_id; /* the last id reported done */
	bool synced; /* caught up with the leader since the start (move.c) */
	atomic_ullong quiet_since; /* mono ns: last time history went away */
	atomic_bool in_flight;	   /* the newest snapshot has history */
	char last_error[AIS_ERRMSG_LEN];
	struct move_counts n;

	/* The rate limit: when the next byte may go (mono ns). */
	pthread_mutex_t rate_mu;
	uint64_t rate_next_ns;
	/* While clients are served here, one object moves at a time: the
	 * worker that moves holds this (move__pace). */
	pthread_mutex_t pace_mu;

	struct fetch_wait *fetching;

	/* copies.c: what could not be made at an object's other copies. */
	pthread_mutex_t copies_mu; /* the pending log's fd and rotation */
	pthread_cond_t copies_cv;  /* something noted, or a new map */
	pthread_t copies_thr;
	bool copies_running;
	int copies_fd;		      /* <mp0>/.ais/copies.pending, or -1 */
	atomic_ullong copies_pending; /* records not yet done */
	pthread_mutex_t round_mu;     /* one round at a time */
	/* The node a round is for (OP_COPIES_SYNC; "" = none): up, whatever
	 * the map says (round_mu held). */
	char sync_for[AIS_NODE_ID_MAX];
	int sync_failed; /* records that could not reach sync_for */
	/* From the start until every other node made the copies it could
	 * not make while this one was away: reads of objects with copies
	 * are refused here (the client reads another copy). */
	atomic_bool catching_up;

	/* scrub.c: the scrub job and its counters. */
	struct {
		pthread_mutex_t mu; /* the strings, want, the thread's wait */
		pthread_cond_t cv;
		pthread_t thr;
		bool thr_running;
		bool want; /* a job asked for, not started yet */
		atomic_bool running;
		atomic_bool cancel;
		uint64_t id;
		char bucket[AIS_NAME_MAX + 2];
		char prefix[AIS_NAME_MAX + 2];
		atomic_ulong total, checked, bytes, corrupt, repaired, made,
		    strays, errors;
		char last_error[AIS_ERRMSG_LEN];
		char *unrepaired[100];
		size_t nunrepaired;
		int64_t started_ns, finished_ns;
	} scrub;
};

/* Clients come first: when this node served a client's object request
 * within the last MOVE_PACE_NS, a worker takes mv->pace_mu for its object
 * (one object in flight), and *held says so; move__unpace releases. */
#define MOVE_PACE_NS (100ull * 1000000ull)
/* The nice value of the threads that move objects. */
#define MOVE_NICE 10
void move__pace(struct move *mv, bool *held);
void move__unpace(struct move *mv, bool held);

/* Records an error of the job (counted, kept as last_error, logged). */
void move__error(struct move *mv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* rebalance.c: the rebalance for generation cm->rebalance_id, until every
 * object this node holds is where cm places it (retrying failed ones in
 * later passes) or a newer id or move_stop supersedes it. Returns 0 when
 * done, -ECANCELED when superseded or stopped. */
int move__rebalance(struct move *mv, struct cluster_map *cm);

/* send.c: sends the copy of bucket/name on mountpath mp to each node of
 * to[0..nto) as a migrate PUT and, with drop, once all have it durable (or
 * a newer copy), deletes the local copy if unchanged. *bytes gets the
 * bytes sent. Returns 0 (done), 1 (nothing to send: gone meanwhile),
 * -ESTALE (changed while sent: kept, to be sent again), or -errno with
 * errmsg (the first node that failed; the rest not tried). */
int move__send(struct move *mv, const struct ais_node *const *to, size_t nto,
	       uint64_t map_version, const char *bucket, const char *name,
	       int mp, bool drop, uint64_t *bytes, char *errmsg);

/* copies.c: makes node n's copy of bucket/name the one open here on fd
 * (metadata m): pushed unless n has it (or a newer one) already; with
 * attrs, an equal copy with other attributes (a SET_META it missed) gets
 * ours (only the node that took the SET_META knows its are the newer).
 * check: ask first (a repair, a scrub), else push at once (a PUT just
 * made it). 0 (nothing needed), 1 (check: a copy pushed), or -errno with
 * errmsg. */
int move__make_copy(struct aisd *d, const struct ais_node *n, uint64_t mapv,
		    const char *bucket, const char *name, int fd,
		    const struct ais_obj_meta *m, bool check, bool attrs,
		    char *errmsg);
/* copies.c: deletes node n's copy of bucket/name (a peer_local DELETE):
 * 0, -ENOENT (none there), or -errno with errmsg. */
int move__peer_delete(struct aisd *d, const struct ais_node *n, uint64_t mapv,
		      const char *bucket, const char *name, char *errmsg);
/* The other nodes of bucket/name's copy set under cm (not this one):
 * fills others[] (room for AIS_COPIES_MAX) and returns their count; *mine
 * says whether this node is in the set. */
size_t move__other_copies(struct aisd *d, const struct cluster_map *cm,
			  const char *bucket, const char *name,
			  const struct ais_node **others, bool *mine);

/* copies.c: the pending log (opened by move_new, closed by move_free),
 * its thread (started and stopped with the rebalance thread), one round
 * through it. */
int move__copies_open(struct move *mv);
void move__copies_close(struct move *mv);
int move__copies_start(struct move *mv);
void move__copies_stop(struct move *mv);
void move__copies_round(struct move *mv);

/* scrub.c: its thread, started and stopped with the rebalance thread. */
int move__scrub_start_thread(struct move *mv);
void move__scrub_stop_thread(struct move *mv);

/* The rate limit: waits until len more bytes may be sent (or stop / a
 * newer job). */
void move__throttle(struct move *mv, uint64_t len, uint64_t job);

/* True when job is no longer the one to work on. */
bool move__superseded(struct move *mv, uint64_t job);

#endif
