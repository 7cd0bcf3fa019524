/* Worker mode: long-lived processes per transform, one object at a time
 * each, over the protocol of ais-etl(7):
 *
 *   request (to its stdin):   "AISQ" u32 bucket_len u32 name_len
 *                             u32 args_len u64 size, then bucket, name,
 *                             args and size bytes of data;
 *   answer (from its stdout): "AISA" u32 status u64 size, then size
 *                             bytes: the output when status is 0, else a
 *                             message saying why.
 *
 * All integers little-endian. A request is fed from the object's file by
 * splice and the answer read as it comes, in one poll loop, so a worker
 * may stream (answer before it has read everything) without a deadlock;
 * only an answer that ends before the request was read is wrong.
 *
 * Workers are started (and replaced, and reaped when idle and dead) by one
 * thread, the keeper: PR_SET_PDEATHSIG kills a child when the *thread*
 * that forked it ends, so no request or job thread may fork one; and the
 * Raft thread that retires a pool must not wait on forks and reaps. A
 * worker that dies within a second of its start three times running is
 * not started again for a while (up to a minute): its requests fail at
 * once with what it said. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pb.h"
#include "util.h"

#include "etl/etl_i.h"

#define REQ_MAGIC "AISQ"
#define ANS_MAGIC "AISA"
#define REQ_HEAD  24
#define ANS_HEAD  16
/* A worker's error message, at most. */
#define FAIL_MAX 4096
/* Bytes spliced into a worker's stdin at a time, and its pipes' size. */
#define FEED_STEP (1u << 20)

/* A start that failed, or a worker that died this soon after its start,
 * counts toward the backoff. */
#define QUICK_DEATH_NS (1000000000ull)
#define BACKOFF_MAX_NS (60000000000ull)

struct etl_worker {
	pid_t pid;	  /* 0: not running */
	int in, out, err; /* its stdin (written), stdout, stderr (read) */
	bool busy;
	uint64_t started_ns;
	uint64_t served;
};

struct etl_pool {
	struct etl_pool *next;
	Ais__EtlSpec *spec; /* a copy, as when the pool started */
	unsigned n, busy, waiting;
	bool retired; /* the transform changed: stop when nobody uses it */
	/* Starts that fail (or workers that die at once): none before
	 * retry_ns; the reason, for the requests meanwhile. */
	unsigned failures;
	uint64_t retry_ns;
	char why[2 * AIS_ERRMSG_LEN];
	struct etl_worker w[];
};

static unsigned spec_workers(const Ais__EtlSpec *s)
{
	return s->workers ? s->workers : ETL_WORKERS_DEFAULT;
}

static unsigned spec_timeout(const Ais__EtlSpec *s)
{
	return s->timeout_ms ? s->timeout_ms : ETL_TIMEOUT_DEFAULT_MS;
}

/* Kills w with its process group and reaps it: its wait status. What it
 * had written to stderr goes to keep (*kept bytes) if keep is not NULL. */
static int worker_stop(struct etl_worker *w, char *keep, size_t *kept)
{
	int status = 0;

	if (!w->pid)
		return 0;
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (keep)
		etl_keep_err(w->err, keep, kept);
	close(w->in);
	close(w->out);
	close(w->err);
	w->pid = 0;
	w->in = w->out = w->err = -1;
	return status;
}

/* Whether w is still running (an exited worker is not yet reaped). */
static bool worker_alive(const struct etl_worker *w)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (!w->pid)
		return false;
	return !(waitid(P_PID, (id_t)w->pid, &si,
			WEXITED | WNOHANG | WNOWAIT) == 0 &&
		 si.si_pid == w->pid);
}

static int worker_spawn(struct etl *e, const Ais__EtlSpec *spec,
			struct etl_worker *w, unsigned idx, char *errmsg)
{
	char exe[PATH_MAX], script[PATH_MAX];
	int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1}, rc;
	char **argv, **envp;
	pid_t pid, parent;
	void *blk;

	rc = etl_exe(e, spec, exe, script, errmsg);
	if (rc)
		return rc;
	if (pipe2(inp, O_CLOEXEC) || pipe2(outp, O_CLOEXEC) ||
	    pipe2(errp, O_CLOEXEC)) {
		rc = ais_errf(errmsg, -errno, "transform %s: pipe: %s",
			      spec->name, strerror(errno));
		goto fail;
	}
	/* Non-blocking on aisd's side only. */
	if (fcntl(inp[1], F_SETFL, O_NONBLOCK) ||
	    fcntl(outp[0], F_SETFL, O_NONBLOCK) ||
	    fcntl(errp[0], F_SETFL, O_NONBLOCK)) {
		rc = ais_errf(errmsg, -errno, "transform %s: pipe: %s",
			      spec->name, strerror(errno));
		goto fail;
	}
	/* Larger pipes, fewer wake-ups for large objects (may be refused
	 * past /proc/sys/fs/pipe-max-size: the default is fine). */
	(void)fcntl(inp[1], F_SETPIPE_SZ, FEED_STEP);
	(void)fcntl(outp[0], F_SETPIPE_SZ, FEED_STEP);
	blk = etl_child_args(spec, exe, script, NULL, NULL, NULL, &argv, &envp);
	if (!blk) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto fail;
	}
	parent = getpid();
	pid = fork();
	if (pid == 0)
		etl_child(e, spec, exe, parent, inp[0], outp[1], errp[1], argv,
			  envp, true);
	free(blk);
	if (pid < 0) {
		rc = ais_errf(errmsg, -errno,
			      "transform %s: cannot start a worker: %s",
			      spec->name, strerror(errno));
		goto fail;
	}
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	w->pid = pid;
	w->in = inp[1];
	w->out = outp[0];
	w->err = errp[0];
	w->served = 0;
	w->started_ns = ais_now_mono_ns();
	ais_log(LOG_INFO, "etl: %s: worker %u started (pid %d)", spec->name,
		idx, (int)pid);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (inp[i] >= 0)
			close(inp[i]);
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return rc;
}

static struct etl_pool *pool_new(const Ais__EtlSpec *spec)
{
	unsigned n = spec_workers(spec);
	struct etl_pool *p = calloc(1, sizeof(*p) + n * sizeof(p->w[0]));

	if (!p)
		return NULL;
	p->spec = (Ais__EtlSpec *)ais_pb_dup(&spec->base);
	if (!p->spec) {
		free(p);
		return NULL;
	}
	p->n = n;
	for (unsigned i = 0; i < n; i++)
		p->w[i].in = p->w[i].out = p->w[i].err = -1;
	return p;
}

static void unlink_pool(struct etl_pool **head, struct etl_pool *p)
{
	for (struct etl_pool **pp = head; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->next = NULL;
}

/* Under e->lock, not on the Raft thread (it reaps): a retired pool nobody
 * uses any more goes. */
static void pool_maybe_free(struct etl *e, struct etl_pool *p)
{
	if (!p->retired || p->busy || p->waiting)
		return;
	for (unsigned i = 0; i < p->n; i++)
		worker_stop(&p->w[i], NULL, NULL);
	unlink_pool(&e->retired, p);
	ais__etl_spec__free_unpacked(p->spec, NULL);
	free(p);
}

/* Under e->lock: p leaves the active list for the keeper's retired one;
 * its idle workers are killed now (reaped by the keeper), the busy ones
 * when their request ends. Never waits: the Raft thread calls it. */
static void pool_retire(struct etl *e, struct etl_pool *p)
{
	unlink_pool(&e->pools, p);
	p->retired = true;
	p->next = e->retired;
	e->retired = p;
	for (unsigned i = 0; i < p->n; i++)
		if (!p->w[i].busy && p->w[i].pid) {
			kill(-p->w[i].pid, SIGKILL);
			kill(p->w[i].pid, SIGKILL);
		}
	ais_log(LOG_INFO, "etl: %s: workers stopped", p->spec->name);
	pthread_cond_broadcast(&e->freed);
	pthread_cond_signal(&e->keeper_cv);
}

static struct etl_pool *pool_find(struct etl *e, const char *name)
{
	for (struct etl_pool *p = e->pools; p; p = p->next)
		if (!strcmp(p->spec->name, name))
			return p;
	return NULL;
}

/* Under e->lock, on the keeper: starts the workers of p that do not run
 * (unless its starts are backing off), and reaps idle ones that died. */
static void pool_tend(struct etl *e, struct etl_pool *p, uint64_t now)
{
	char errmsg[AIS_ERRMSG_LEN], line[256], how[128], keep[ETL_ERR_KEEP];

	for (unsigned i = 0; i < p->n; i++) {
		struct etl_worker *w = &p->w[i];
		size_t kept = 0;
		bool quick;

		if (w->busy || !w->pid || worker_alive(w))
			continue;
		quick = now - w->started_ns < QUICK_DEATH_NS;
		etl_status_str(worker_stop(w, keep, &kept), how, sizeof(how));
		etl_last_line(keep, kept, line, sizeof(line));
		snprintf(p->why, sizeof(p->why),
			 "transform %s: its worker exited (%s)%s%s",
			 p->spec->name, how, line[0] ? ": " : "", line);
		ais_log(LOG_WARNING, "etl: %s", p->why);
		if (quick) {
			uint64_t wait = 1000000000ull
					<< (p->failures < 6 ? p->failures : 6);

			p->failures++;
			if (p->failures >= 3)
				p->retry_ns = now + (wait < BACKOFF_MAX_NS
							 ? wait
							 : BACKOFF_MAX_NS);
		} else {
			p->failures = 0;
		}
	}
	if (now < p->retry_ns) {
		/* Requests waiting for a start learn why now. */
		pthread_cond_broadcast(&e->freed);
		return;
	}
	for (unsigned i = 0; i < p->n; i++) {
		struct etl_worker *w = &p->w[i];

		if (w->busy || w->pid)
			continue;
		if (worker_spawn(e, p->spec, w, i, errmsg)) {
			if (strcmp(errmsg, p->why))
				ais_log(LOG_WARNING, "etl: %s", errmsg);
			snprintf(p->why, sizeof(p->why), "%s", errmsg);
			p->failures++;
			p->retry_ns = now + (p->failures < 6
						 ? 1000000000ull << p->failures
						 : BACKOFF_MAX_NS);
			break;
		}
	}
	pthread_cond_broadcast(&e->freed);
}

static void *keeper_main(void *arg)
{
	struct etl *e = arg;
	struct timespec ts;

	pthread_mutex_lock(&e->lock);
	while (!e->keeper_stop) {
		uint64_t now = ais_now_mono_ns(), next;
		struct etl_pool *p, *nx;

		for (p = e->pools; p; p = p->next)
			pool_tend(e, p, now);
		for (p = e->retired; p; p = nx) {
			nx = p->next;
			for (unsigned i = 0; i < p->n; i++)
				if (!p->w[i].busy)
					worker_stop(&p->w[i], NULL, NULL);
			pool_maybe_free(e, p);
		}
		/* Once a second: idle workers that died are found here. */
		next = ais_now_mono_ns() + 1000000000ull;
		ts.tv_sec = (time_t)(next / 1000000000ull);
		ts.tv_nsec = (long)(next % 1000000000ull);
		pthread_cond_timedwait(&e->keeper_cv, &e->lock, &ts);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int etl_keeper_start(struct etl *e)
{
	int rc;

	if (!e->dir)
		return 0;
	rc = pthread_create(&e->keeper, NULL, keeper_main, e);
	if (rc)
		return -rc;
	e->keeper_started = true;
	return 0;
}

void etl_shutdown(struct etl *e)
{
	if (!e)
		return;
	atomic_store(&e->closing, true);
	pthread_mutex_lock(&e->lock);
	pthread_cond_broadcast(&e->freed);
	pthread_mutex_unlock(&e->lock);
}

void etl_follow(struct etl *e, Ais__EtlSpec *const *specs, size_t n)
{
	struct etl_pool *p, *next;
	size_t i;

	if (!e || !e->dir)
		return;
	pthread_mutex_lock(&e->lock);
	for (p = e->pools; p; p = next) {
		const Ais__EtlSpec *s = NULL;

		next = p->next;
		for (i = 0; i < n && !s; i++)
			if (!strcmp(specs[i]->name, p->spec->name))
				s = specs[i];
		if (!s || s->stopped || s->mode != AIS__ETL_MODE__ETL_WORKER ||
		    s->created_ns != p->spec->created_ns)
			pool_retire(e, p);
	}
	for (i = 0; i < n; i++) {
		const Ais__EtlSpec *s = specs[i];

		if (s->stopped || s->mode != AIS__ETL_MODE__ETL_WORKER ||
		    pool_find(e, s->name))
			continue;
		p = pool_new(s);
		if (!p) {
			ais_log(LOG_WARNING, "etl: %s: out of memory", s->name);
			continue;
		}
		p->next = e->pools;
		e->pools = p;
	}
	/* The keeper starts them. */
	pthread_cond_signal(&e->keeper_cv);
	pthread_mutex_unlock(&e->lock);
}

void etl_pools_free(struct etl *e)
{
	struct etl_pool *p;

	if (e->keeper_started) {
		pthread_mutex_lock(&e->lock);
		e->keeper_stop = true;
		pthread_cond_signal(&e->keeper_cv);
		pthread_mutex_unlock(&e->lock);
		pthread_join(e->keeper, NULL);
		e->keeper_started = false;
	}
	pthread_mutex_lock(&e->lock);
	while (e->pools)
		pool_retire(e, e->pools);
	while ((p = e->retired)) {
		for (unsigned i = 0; i < p->n; i++)
			p->w[i].busy = false;
		p->busy = p->waiting = 0;
		pool_maybe_free(e, p);
	}
	pthread_mutex_unlock(&e->lock);
}

/* An idle, running worker of spec's pool, waiting for one (the keeper
 * starts them) until deadline. */
static int take(struct etl *e, const Ais__EtlSpec *spec, uint64_t deadline,
		struct etl_pool **pp, struct etl_worker **wp, char *errmsg)
{
	struct etl_worker *w = NULL;
	struct etl_pool *p;
	struct timespec ts;
	int rc = 0;

	pthread_mutex_lock(&e->lock);
	p = pool_find(e, spec->name);
	if (p && p->spec->created_ns > spec->created_ns) {
		/* The request holds an older snapshot than the pool's. */
		pthread_mutex_unlock(&e->lock);
		return ais_errf(errmsg, -EAGAIN,
				"transform %s was registered again; try again",
				spec->name);
	}
	if (p && p->spec->created_ns < spec->created_ns) {
		pool_retire(e, p);
		p = NULL;
	}
	if (!p) {
		p = pool_new(spec);
		if (!p) {
			pthread_mutex_unlock(&e->lock);
			return ais_errf(errmsg, -ENOMEM, "out of memory");
		}
		p->next = e->pools;
		e->pools = p;
		pthread_cond_signal(&e->keeper_cv);
	}
	for (;;) {
		bool idle = false;

		if (atomic_load(&e->closing)) {
			rc = ais_errf(errmsg, -ECANCELED,
				      "transform %s: the node is stopping",
				      spec->name);
			break;
		}
		if (p->retired) {
			rc = ais_errf(errmsg, -EAGAIN,
				      "transform %s changed while this request "
				      "waited for a worker; try again",
				      spec->name);
			break;
		}
		for (unsigned i = 0; i < p->n && !w; i++) {
			struct etl_worker *c = &p->w[i];

			if (c->busy)
				continue;
			idle = true;
			if (c->pid && worker_alive(c))
				w = c;
			else if (c->pid)
				pthread_cond_signal(&e->keeper_cv);
		}
		if (w)
			break;
		/* Idle ones that do not run: the keeper starts them, unless
		 * their starts fail (then say why at once). */
		if (idle && p->retry_ns > ais_now_mono_ns()) {
			rc = ais_errf(errmsg, -EIO, "%s", p->why);
			break;
		}
		if (idle)
			pthread_cond_signal(&e->keeper_cv);
		ts.tv_sec = (time_t)(deadline / 1000000000);
		ts.tv_nsec = (long)(deadline % 1000000000);
		p->waiting++;
		rc = pthread_cond_timedwait(&e->freed, &e->lock, &ts);
		p->waiting--;
		if (rc == ETIMEDOUT) {
			rc = idle ? ais_errf(errmsg, -ETIMEDOUT,
					     "transform %s: no worker started "
					     "within its timeout (%u ms)%s%s",
					     spec->name, spec_timeout(spec),
					     p->why[0] ? ": " : "", p->why)
				  : ais_errf(errmsg, -ETIMEDOUT,
					     "transform %s: its %u workers on "
					     "this node stayed busy for its "
					     "timeout (%u ms)",
					     spec->name, p->n,
					     spec_timeout(spec));
			break;
		}
		rc = 0;
	}
	if (rc) {
		pool_maybe_free(e, p);
		pthread_mutex_unlock(&e->lock);
		return rc;
	}
	w->busy = true;
	p->busy++;
	pthread_mutex_unlock(&e->lock);
	*pp = p;
	*wp = w;
	return 0;
}

static void give(struct etl *e, struct etl_pool *p, struct etl_worker *w)
{
	pthread_mutex_lock(&e->lock);
	if (p->retired)
		worker_stop(w, NULL, NULL);
	w->busy = false;
	p->busy--;
	if (!w->pid)
		pthread_cond_signal(&e->keeper_cv); /* to be replaced */
	pthread_cond_broadcast(&e->freed);
	pool_maybe_free(e, p);
	pthread_mutex_unlock(&e->lock);
}

/* One request to a worker, and its answer. */
struct exchange {
	struct etl *e;
	const Ais__EtlSpec *spec;
	struct etl_worker *w;
	const char *bucket, *name;
	char *head; /* the request's head, bucket, name and args */
	size_t head_len, head_done;
	int src;
	loff_t src_off;
	uint64_t src_left;
	unsigned char ans[ANS_HEAD];
	size_t ans_got;
	uint32_t status;
	uint64_t body_len, body_got;
	struct etl_output *out;
	char fail[FAIL_MAX + 1];
	char keep[ETL_ERR_KEEP];
	size_t kept;
	bool dead; /* the worker must be replaced */
};

/* The worker broke the protocol, or died: it is replaced, and the
 * request fails with what is known. */
static int worker_lost(struct exchange *x, int rc, const char *what,
		       char *errmsg)
{
	char line[256], how[128];
	int status;

	x->dead = true;
	status = worker_stop(x->w, x->keep, &x->kept);
	if (rc == -EPIPE) {
		/* It exited: say how, and what it said last. */
		etl_status_str(status, how, sizeof(how));
		etl_last_line(x->keep, x->kept, line, sizeof(line));
		return ais_errf(errmsg, -EIO,
				"transform %s on %s/%s: its worker exited (%s)"
				"%s%s; it is restarted",
				x->spec->name, x->bucket, x->name, how,
				line[0] ? ": " : "", line);
	}
	return ais_errf(errmsg, rc, "transform %s on %s/%s: %s", x->spec->name,
			x->bucket, x->name, what);
}

/* Feeds the request; 0, or -EPIPE when the worker is gone. */
static int feed(struct exchange *x)
{
	ssize_t n;

	while (x->head_done < x->head_len) {
		n = write(x->w->in, x->head + x->head_done,
			  x->head_len - x->head_done);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
		x->head_done += (size_t)n;
	}
	while (x->src_left) {
		size_t step =
		    x->src_left < FEED_STEP ? (size_t)x->src_left : FEED_STEP;

		n = splice(x->src, &x->src_off, x->w->in, NULL, step,
			   SPLICE_F_NONBLOCK);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0 && errno == EPIPE)
			return -EPIPE;
		if (n <= 0)
			return n == 0 ? -ENODATA : -errno;
		x->src_left -= (uint64_t)n;
	}
	return 0;
}

/* Reads what the answer has; 1 once it is whole, 0 for more, or -errno
 * (the worker was lost, errmsg says why). */
static int collect(struct exchange *x, char *errmsg)
{
	struct etl_output *o = x->out;
	char what[160];
	ssize_t n;
	int avail = 0;

	if (x->ans_got < ANS_HEAD) {
		n = read(x->w->out, x->ans + x->ans_got, ANS_HEAD - x->ans_got);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR
				   ? 0
				   : worker_lost(x, -EPIPE, NULL, errmsg);
		if (n == 0)
			return worker_lost(x, -EPIPE, NULL, errmsg);
		x->ans_got += (size_t)n;
		if (x->ans_got < ANS_HEAD)
			return 0;
		if (memcmp(x->ans, ANS_MAGIC, 4) != 0) {
			char shown[9];

			for (int i = 0; i < 8; i++)
				shown[i] = x->ans[i] >= ' ' && x->ans[i] < 127
					       ? (char)x->ans[i]
					       : '.';
			shown[8] = '\0';
			snprintf(what, sizeof(what),
				 "its worker broke the protocol (an answer "
				 "starting \"%s\", not \"" ANS_MAGIC
				 "\"); it is restarted",
				 shown);
			return worker_lost(x, -EIO, what, errmsg);
		}
		memcpy(&x->status, x->ans + 4, 4);
		memcpy(&x->body_len, x->ans + 8, 8);
		x->status = le32toh(x->status);
		x->body_len = le64toh(x->body_len);
		if (x->status == 0 && x->body_len > x->e->output_max)
			return worker_lost(x, -EFBIG,
					   "output over etl_output_max; its "
					   "worker is restarted",
					   errmsg);
		if (x->status != 0 && x->body_len > FAIL_MAX)
			return worker_lost(x, -EIO,
					   "its worker broke the protocol (an "
					   "error message over 4096 bytes); it "
					   "is restarted",
					   errmsg);
		if (x->status == 0 && x->body_len > ETL_OUTPUT_MEM_MAX) {
			char why[AIS_ERRMSG_LEN];

			o->fd = etl_spool_open(x->e, why);
			if (o->fd < 0)
				return worker_lost(x, o->fd, why, errmsg);
		} else if (x->status == 0 && x->body_len) {
			o->buf = malloc(x->body_len);
			if (!o->buf)
				return worker_lost(x, -ENOMEM, "out of memory",
						   errmsg);
		}
	}
	while (x->body_got < x->body_len) {
		uint64_t left = x->body_len - x->body_got;

		if (x->status != 0)
			n = read(x->w->out, x->fail + x->body_got, left);
		else if (o->fd >= 0)
			n = splice(x->w->out, NULL, o->fd, NULL,
				   left < FEED_STEP ? left : FEED_STEP,
				   SPLICE_F_NONBLOCK);
		else
			n = read(x->w->out, o->buf + x->body_got, left);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0 && x->status == 0 && o->fd >= 0 &&
		    (errno == ENOSPC || errno == EDQUOT || errno == EFBIG ||
		     errno == EIO || errno == EROFS)) {
			snprintf(what, sizeof(what),
				 "the output spool in %s: %s; its worker is "
				 "restarted",
				 x->e->spool, strerror(errno));
			return worker_lost(x, -errno, what, errmsg);
		}
		if (n <= 0)
			return worker_lost(x, -EPIPE, NULL, errmsg);
		x->body_got += (uint64_t)n;
	}
	/* Whole. An answer before the whole request was read, or bytes
	 * after it, would shift every later one. */
	if (x->head_done < x->head_len || x->src_left)
		return worker_lost(x, -EIO,
				   "its worker answered before it read the "
				   "whole object (ais-etl(7)); it is "
				   "restarted",
				   errmsg);
	if (ioctl(x->w->out, FIONREAD, &avail) == 0 && avail > 0)
		return worker_lost(x, -EIO,
				   "its worker wrote more than its answer "
				   "(ais-etl(7)); it is restarted",
				   errmsg);
	/* Or answered without reading all the request's bytes. */
	if (ioctl(x->w->in, FIONREAD, &avail) == 0 && avail > 0)
		return worker_lost(x, -EIO,
				   "its worker answered before it read the "
				   "whole object (ais-etl(7)); it is "
				   "restarted",
				   errmsg);
	return 1;
}

/* The request's head, bucket, name and args in one buffer. */
static char *request_head(const char *bucket, const char *name,
			  const char *args, uint64_t size, size_t *len)
{
	uint32_t bl = (uint32_t)strlen(bucket), nl = (uint32_t)strlen(name),
		 al = (uint32_t)strlen(args), v;
	uint64_t sz = htole64(size);
	char *h = malloc(REQ_HEAD + bl + nl + al);

	if (!h)
		return NULL;
	memcpy(h, REQ_MAGIC, 4);
	v = htole32(bl);
	memcpy(h + 4, &v, 4);
	v = htole32(nl);
	memcpy(h + 8, &v, 4);
	v = htole32(al);
	memcpy(h + 12, &v, 4);
	memcpy(h + 16, &sz, 8);
	memcpy(h + REQ_HEAD, bucket, bl);
	memcpy(h + REQ_HEAD + bl, name, nl);
	memcpy(h + REQ_HEAD + bl + nl, args, al);
	*len = REQ_HEAD + bl + nl + al;
	return h;
}

static int exchange(struct exchange *x, uint64_t deadline, char *errmsg)
{
	bool err_open = true;
	int rc;

	for (;;) {
		uint64_t now = ais_now_mono_ns();
		struct pollfd pf[3];
		int ms;

		if (now >= deadline) {
			char what[128];

			snprintf(what, sizeof(what),
				 "killed after %u ms (its timeout); its worker "
				 "is restarted",
				 spec_timeout(x->spec));
			return worker_lost(x, -ETIMEDOUT, what, errmsg);
		}
		if (atomic_load(&x->e->closing))
			return worker_lost(x, -ECANCELED,
					   "the node is stopping", errmsg);
		ms = (int)((deadline - now) / 1000000) + 1;
		if (ms > 1000)
			ms = 1000; /* to see closing */
		/* Nothing left to feed: not polled (a closed stdin would
		 * report POLLERR forever). */
		pf[0].fd =
		    x->head_done < x->head_len || x->src_left ? x->w->in : -1;
		pf[0].events = POLLOUT;
		pf[1].fd = x->w->out;
		pf[1].events = POLLIN;
		pf[2].fd = err_open ? x->w->err : -1;
		pf[2].events = POLLIN;
		if (poll(pf, 3, ms) < 0 && errno != EINTR)
			return worker_lost(x, -errno, strerror(errno), errmsg);
		if (pf[2].revents)
			err_open = etl_keep_err(x->w->err, x->keep, &x->kept);
		if (pf[0].revents & (POLLOUT | POLLERR)) {
			rc = feed(x);
			if (rc == -EPIPE) {
				/* It may have answered (an error) first. */
				rc = collect(x, errmsg);
				return rc < 0 ? rc
					      : worker_lost(x, -EPIPE, NULL,
							    errmsg);
			}
			if (rc)
				return worker_lost(
				    x, rc, "reading the object failed", errmsg);
		}
		if (pf[1].revents) {
			rc = collect(x, errmsg);
			if (rc)
				return rc < 0 ? rc : 0;
		}
	}
}

int etl_worker_run(struct etl *e, const Ais__EtlSpec *spec, const char *bucket,
		   const char *name, const char *args, int fd, uint64_t off,
		   uint64_t len, struct etl_output *out, char *errmsg)
{
	uint64_t deadline =
	    ais_now_mono_ns() + (uint64_t)spec_timeout(spec) * 1000000;
	uint64_t t0;
	struct exchange x = {.e = e,
			     .spec = spec,
			     .bucket = bucket,
			     .name = name,
			     .src = fd,
			     .src_off = (loff_t)off,
			     .src_left = len,
			     .out = out};
	struct etl_pool *p = NULL;
	int rc;

	/* The program is checked when a worker starts (worker_spawn), not
	 * for every object: one taken out of etl_dir stops being started,
	 * and those running stop with the transform (ais etl stop). */
	if (!e || !e->dir)
		return ais_errf(errmsg, -EOPNOTSUPP,
				"transforms are off on this node (no etl_dir "
				"in its configuration)");
	x.head = request_head(bucket, name, args, len, &x.head_len);
	if (!x.head)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	rc = take(e, spec, deadline, &p, &x.w, errmsg);
	if (rc) {
		free(x.head);
		return rc;
	}
	/* The object's own time starts once a worker has it. */
	t0 = ais_now_mono_ns();
	rc = exchange(&x, t0 + (uint64_t)spec_timeout(spec) * 1000000, errmsg);
	if (!rc && x.status != 0) {
		/* The worker said no: it goes on serving. */
		size_t k;

		x.fail[x.body_got] = '\0';
		for (k = 0; k < x.body_got; k++)
			if (x.fail[k] < ' ' || x.fail[k] >= 127)
				x.fail[k] = '?';
		rc = ais_errf(errmsg, -EIO, "transform %s on %s/%s: %s",
			      spec->name, bucket, name,
			      x.body_got ? x.fail : "failed (no message)");
	}
	if (!rc) {
		out->size = x.body_len;
		if (out->fd >= 0 && lseek(out->fd, 0, SEEK_SET) < 0)
			rc =
			    ais_errf(errmsg, -errno, "transform %s: output: %s",
				     spec->name, strerror(errno));
		x.w->served++;
	}
	if (rc) {
		etl_output_free(out);
		/* Its replacement is the keeper's (give tells it). */
		if (x.dead)
			ais_log(LOG_WARNING, "etl: %s", errmsg);
	}
	give(e, p, x.w);
	free(x.head);
	return rc;
}
