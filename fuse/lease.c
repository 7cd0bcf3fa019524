/* Leases (lease.h): a manager thread that keeps one watcher thread per
 * node of the map, and what a change does to the inode table. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "hash.h"
#include "lease.h"
#include "log.h"
#include "shard_names.h"

/* How long a node may hold a poll when nothing changes: at most this,
 * and at most a quarter of the lease. A lease runs from when the poll was
 * sent and is renewed only when the answer comes, so a poll held longer
 * than the lease minus the next one's answer would let it lapse. */
#define WATCH_WAIT_MS 1000
/* The manager's look at the map. */
#define MANAGE_MS 200
/* A lease counts for this share of what the node grants (from when the
 * poll was sent, which is before the node got it): room for clocks that
 * tick at slightly different rates. */
#define LEASE_SHARE 0.9
/* On a mount whose names the kernel keeps long (the guard, below): the
 * share of the lease after which, unrenewed since a poll was sent, the
 * kernel's names are dropped. The node counts the lease from later (when
 * it got the poll), so the guard has the rest, 0.4 of a lease (1.6 s by
 * default), to act. */
#define REVOKE_SHARE 0.6
/* And never later than this after the poll was sent, whatever the lease:
 * a node that joins serves writes 2.5 s after it started serving
 * (LEASE_NEW_GRACE_MS), and a stopped aisfs cannot learn of it. */
#define REVOKE_MAX_MS 2000
/* Such a mount has its polls held no longer than this share of the time
 * to the drop: the answer that renews is sent at most that long after the
 * poll before it was answered, so 1 - 2 x this (minus two round trips)
 * is what a late answer may be late by without making the guard drop
 * every name. */
#define GUARD_WAIT_SHARE 0.25
/* How often the guard looks. */
#define GUARD_TICK_MS 20

struct watcher {
	struct afs_leases *ls;
	struct ais_node_loc node;
	pthread_t thr;
	atomic_bool stop;
	_Atomic uint64_t valid_until; /* monotonic ns; 0: no lease */
	_Atomic uint64_t revoke_at;   /* monotonic ns; 0: no lease */
	struct watcher *next;
};

/* Names kept past the lease (afs_lease_long). On a no_open mount the
 * kernel's cache of a name is all that stands between an open and the
 * cluster, and its timeouts cannot be renewed without a lookup per name:
 * with timeouts bounded by the lease, every file of an epoch longer than a
 * lease costs a lookup. Instead the kernel keeps names for lease_timeout,
 * and they are all dropped at once (the kernel's dentry epoch, one write,
 * no lock) before a lease could run out on a node without this mount
 * having dropped them:
 * - when a node's feed starts over or a bucket goes (distrust_all, before
 *   the next poll acknowledges anything);
 * - when a lease goes unrenewed for REVOKE_SHARE of it, or the map
 *   changes: by the guard, a child process that shares this page and a
 *   descriptor of the FUSE device. A stopped, starved or stuck aisfs
 *   cannot keep names past the lease that way: the guard is another
 *   process, in a process group of its own, and dies with aisfs.
 * A lookup the kernel sends carries the epoch from before it was sent, so
 * a name granted while a drop happens is dropped too; a listing's names
 * take the epoch from when the kernel reads the answer, so a listing
 * never gives a long time (afs_fill_entry_listed; fs_dir.c keeps_name). */
struct guard_page {
	_Atomic uint64_t revoke_at; /* monotonic ns: drop by then (0: now) */
	atomic_bool granted;	    /* long names given since the last drop */
	_Atomic uint64_t drops;	    /* by the guard */
};
/* Shared between processes: the atomics must not be locks in one. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_BOOL_LOCK_FREE == 2,
	       "the guard page needs lock-free atomics");

/* The kernel's copies of what changed are dropped by a thread of their
 * own: notify_inval_entry takes the parent directory's lock in the
 * kernel, which a request of this mount may hold while it waits, through
 * a node, for this mount's acknowledgement. The acknowledgement must not
 * wait for it. Opens never rely on it (they check the inode's trust).
 *
 * Except on a mount where the kernel opens by itself (afs_fs.no_open): the
 * page cache is then all there is, so a change is acknowledged only after
 * the kernel dropped its copies (notifier_wait); such a mount is read-only,
 * so none of its own requests can hold the locks the kernel needs. */
struct notice {
	struct notice *next;
	uint64_t parent, ino;
	bool inode; /* also its attributes and pages */
	char name[];
};

struct notifier {
	struct fuse_session *se;
	bool wait; /* no_open: queue without limit, and let the watchers
		      wait for the kernel */
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv, cv_done;
	struct notice *head, **tail;
	size_t n, dropped;
	uint64_t queued, done; /* notices so far */
	bool stop;
};

#define NOTICES_MAX 65536

struct afs_leases {
	struct afs_fs *fs;
	struct notifier *nt;
	_Atomic uint64_t watched_version; /* the map the watchers follow */
	atomic_bool too_many;		  /* more nodes than watchable */
	uint64_t id;
	pthread_t mgr;
	atomic_bool stop;
	pthread_mutex_t mu; /* guards watchers */
	struct watcher *watchers;
	/* The earliest lease of all nodes (0: some node gave none, or the map
	 * changed and its new nodes are not watched yet). */
	_Atomic uint64_t valid_until;
	atomic_bool map_changed;
	atomic_bool reconciling; /* the watchers are being matched to a map */
	_Atomic uint32_t gen;
	_Atomic uint32_t ctr[AFS_TRUST_SLOTS];
	_Atomic uint32_t total; /* changes applied, all names */
	/* Changes applied below directories (afs_listing_gen), by slot. */
	_Atomic uint32_t dirgen[AFS_TRUST_SLOTS];
	/* The same by directory name (afs_trust_dir), for directories this
	 * mount may not hold an inode of yet. */
	_Atomic uint32_t below[AFS_TRUST_SLOTS];
	_Atomic uint32_t moves; /* afs_trust_dirs_moved */
	/* The directories whose listings the kernel may keep (a set of node
	 * ids, open addressing, 0 = free), since the last distrust_all. */
	pthread_mutex_t dirs_mu;
	uint64_t *dirs;
	size_t ndirs, dirs_cap;
	struct guard_page *guard; /* NULL: names live no longer than leases */
	atomic_bool guard_ok;	  /* it runs: names may be given long */
	pid_t guard_pid;
	int fuse_fd;
	uint64_t guard_drops_seen; /* the manager's, for the log */
};

/* FUSE_NOTIFY_INC_EPOCH (Linux 6.16, protocol 7.44): every name the
 * kernel holds of this mount is looked up again at its next use. Not in
 * libfuse 3.14: the notification is written as the kernel reads it, a
 * struct fuse_out_header with unique 0 and the code in error. */
#define NOTIFY_INC_EPOCH 8

static int kernel_drop_names(int fd)
{
	struct {
		uint32_t len;
		int32_t error;
		uint64_t unique;
	} h = {sizeof(h), NOTIFY_INC_EPOCH, 0};

	return write(fd, &h, sizeof(h)) == (ssize_t)sizeof(h) ? 0 : -errno;
}

/* The guard process: async-signal-safe calls only (it is forked from a
 * process with threads). */
static void guard_main(struct guard_page *g, int fd, pid_t parent)
{
	struct timespec tick = {0, GUARD_TICK_MS * 1000000L};

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	(void)setpgid(0, 0); /* no job control stops it with aisfs */
	(void)prctl(PR_SET_NAME, "aisfs-guard");
	/* It goes with aisfs (PDEATHSIG, or killed at unmount), not before:
	 * a SIGTERM to the whole group (systemd) must not leave aisfs
	 * unguarded while it shuts down. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (fd > 3)
		(void)close_range(3, (unsigned)fd - 1, 0);
	(void)close_range((unsigned)fd + 1, ~0U, 0);
	for (;;) {
		nanosleep(&tick, NULL);
		/* ais_now_mono_ns is clock_gettime alone: safe here. */
		if (ais_now_mono_ns() < atomic_load(&g->revoke_at) ||
		    !atomic_exchange(&g->granted, false))
			continue;
		if (kernel_drop_names(fd) != 0)
			_exit(0); /* unmounted */
		atomic_fetch_add(&g->drops, 1);
	}
}

/* Starts the guard if the kernel knows the dentry epoch (a first drop
 * tells). Returns true if names may live long. */
static bool guard_start(struct afs_leases *ls)
{
	struct guard_page *g;
	pid_t parent = getpid(), pid;
	int rc;

	ls->fuse_fd = fuse_session_fd(ls->fs->se);
	rc = kernel_drop_names(ls->fuse_fd);
	if (rc) {
		ais_log(LOG_INFO,
			"leases: the kernel cannot drop every name at once "
			"(%s; Linux 6.16 can): names of files live no longer "
			"than the lease",
			strerror(-rc));
		return false;
	}
	g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		return false;
	atomic_init(&g->revoke_at, 0);
	atomic_init(&g->granted, false);
	atomic_init(&g->drops, 0);
	pid = fork();
	if (pid == 0)
		guard_main(g, ls->fuse_fd, parent);
	if (pid < 0) {
		ais_log(LOG_WARNING,
			"leases: cannot start the guard (%s): names of files "
			"live no longer than the lease",
			strerror(errno));
		munmap(g, sizeof(*g));
		return false;
	}
	ls->guard = g;
	ls->guard_pid = pid;
	atomic_store(&ls->guard_ok, true);
	ais_log(LOG_INFO,
		"leases: the kernel keeps names of files up to %.0f s "
		"(lease_timeout); guard process %d drops them all if a lease "
		"lapses",
		ls->fs->opts.lease_timeout, (int)pid);
	return true;
}

/* The manager's look at the guard: if it died (killed, out of memory),
 * names are no longer given long, and the long ones go now. */
static void guard_check(struct afs_leases *ls)
{
	int st;

	if (!ls->guard || !atomic_load(&ls->guard_ok) ||
	    waitpid(ls->guard_pid, &st, WNOHANG) != ls->guard_pid)
		return;
	atomic_store(&ls->guard_ok, false);
	(void)kernel_drop_names(ls->fuse_fd);
	ais_log(LOG_WARNING,
		"leases: the guard process %d %s %d: names of files live no "
		"longer than the lease from now on",
		(int)ls->guard_pid,
		WIFSIGNALED(st) ? "was killed by signal" : "exited with",
		WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void guard_stop(struct afs_leases *ls)
{
	if (!ls->guard)
		return;
	if (atomic_exchange(&ls->guard_ok, false)) {
		kill(ls->guard_pid, SIGKILL);
		while (waitpid(ls->guard_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	munmap(ls->guard, sizeof(*ls->guard));
	ls->guard = NULL;
}

static uint32_t dir_slot(uint64_t nodeid)
{
	return (uint32_t)(ais_mix64(nodeid) & (AFS_TRUST_SLOTS - 1));
}

uint64_t afs_listing_gen(struct afs_fs *fs, uint64_t nodeid)
{
	struct afs_leases *ls = fs->leases;

	if (!ls || !ls->guard)
		return 0;
	return atomic_load(&ls->gen) + atomic_load(&ls->guard->drops) +
	       atomic_load(&ls->dirgen[dir_slot(nodeid)]);
}

static void notice_add(struct notifier *nt, uint64_t parent, const char *name,
		       uint64_t ino, bool inode);

/* Under dirs_mu: the slot of nodeid in the set, or the free one where it
 * would go. */
static size_t dirs_slot(struct afs_leases *ls, uint64_t nodeid)
{
	size_t i = (size_t)ais_mix64(nodeid) & (ls->dirs_cap - 1);

	while (ls->dirs[i] && ls->dirs[i] != nodeid)
		i = (i + 1) & (ls->dirs_cap - 1);
	return i;
}

/* Under dirs_mu. */
static bool dirs_add(struct afs_leases *ls, uint64_t nodeid)
{
	uint64_t *old = ls->dirs;
	size_t cap = ls->dirs_cap, i;

	if ((ls->ndirs + 1) * 2 > ls->dirs_cap) {
		ls->dirs_cap = cap ? cap * 2 : 64;
		ls->dirs = calloc(ls->dirs_cap, sizeof(*ls->dirs));
		if (!ls->dirs) {
			ls->dirs = old;
			ls->dirs_cap = cap;
			return false;
		}
		for (i = 0; i < cap; i++)
			if (old[i])
				ls->dirs[dirs_slot(ls, old[i])] = old[i];
		free(old);
	}
	i = dirs_slot(ls, nodeid);
	if (!ls->dirs[i]) {
		ls->dirs[i] = nodeid;
		ls->ndirs++;
	}
	return true;
}

bool afs_dir_cache_note(struct afs_fs *fs, uint64_t nodeid)
{
	struct afs_leases *ls = fs->leases;
	bool ok;

	if (!ls || !afs_lease_long(fs))
		return false;
	pthread_mutex_lock(&ls->dirs_mu);
	ok = dirs_add(ls, nodeid);
	pthread_mutex_unlock(&ls->dirs_mu);
	return ok;
}

/* A change was applied below directory nodeid: its mtime moves on, and
 * the kernel drops its listing, if it may keep one. A listing the kernel
 * was reading meanwhile, from before the change, may still fill its cache:
 * it does so under the old mtime, so the next listing finds the mtime
 * moved on and reads the directory anew. */
static void dir_changed(struct afs_leases *ls, uint64_t nodeid)
{
	bool noted;

	if (!ls->guard)
		return;
	atomic_fetch_add(&ls->dirgen[dir_slot(nodeid)], 1);
	pthread_mutex_lock(&ls->dirs_mu);
	noted = ls->dirs_cap && ls->dirs[dirs_slot(ls, nodeid)] == nodeid;
	pthread_mutex_unlock(&ls->dirs_mu);
	if (noted)
		notice_add(ls->nt, 0, "", nodeid, true);
}

/* Every listing the kernel may keep goes, with its attributes; the set
 * starts over (an opendir notes its directory again). */
static void dirs_drop_all(struct afs_leases *ls)
{
	uint64_t *dirs;
	size_t cap, i;

	pthread_mutex_lock(&ls->dirs_mu);
	dirs = ls->dirs;
	cap = ls->dirs_cap;
	ls->dirs = NULL;
	ls->dirs_cap = ls->ndirs = 0;
	pthread_mutex_unlock(&ls->dirs_mu);
	for (i = 0; i < cap; i++)
		if (dirs[i])
			notice_add(ls->nt, 0, "", dirs[i], true);
	free(dirs);
}

bool afs_lease_long_names(struct afs_fs *fs)
{
	return fs->leases && atomic_load(&fs->leases->guard_ok);
}

bool afs_lease_long(struct afs_fs *fs)
{
	struct afs_leases *ls = fs->leases;
	struct guard_page *g = ls ? ls->guard : NULL;

	if (!g || !atomic_load_explicit(&ls->guard_ok, memory_order_relaxed))
		return false;
	/* Counted first: the guard drops what a grant gives that it saw
	 * counted, so a grant must never go uncounted past its look. */
	if (!atomic_load_explicit(&g->granted, memory_order_relaxed))
		atomic_store(&g->granted, true);
	return ais_now_mono_ns() < atomic_load(&g->revoke_at);
}

static uint32_t name_slot(const char *bucket, const char *key)
{
	return (uint32_t)(ais_hash_str(key, ais_hash_str(bucket, 0)) &
			  (AFS_TRUST_SLOTS - 1));
}

/* A token on counter ctrs[slot of bucket/key] (0s without leases). */
static void tok_begin(struct afs_leases *ls, _Atomic uint32_t *ctrs,
		      const char *bucket, const char *key,
		      struct afs_trust_tok *tok)
{
	memset(tok, 0, sizeof(*tok));
	if (!ls)
		return;
	tok->slot = name_slot(bucket, key);
	tok->gen = atomic_load(&ls->gen);
	tok->ctr = atomic_load(&ctrs[tok->slot]);
	tok->moves = atomic_load(&ls->moves);
}

void afs_trust_begin(struct afs_fs *fs, const char *bucket, const char *key,
		     struct afs_trust_tok *tok)
{
	struct afs_leases *ls = fs->leases;

	tok_begin(ls, ls ? ls->ctr : NULL, bucket, key, tok);
}

void afs_trust_begin_dir(struct afs_fs *fs, const char *bucket,
			 const char *dirkey, struct afs_trust_tok *tok)
{
	struct afs_leases *ls = fs->leases;

	tok_begin(ls, ls ? ls->below : NULL, bucket, dirkey, tok);
}

void afs_trust_dirs_moved(struct afs_fs *fs)
{
	if (fs->leases)
		atomic_fetch_add(&fs->leases->moves, 1);
}

bool afs_trust_dir(struct afs_fs *fs, const struct afs_trust_tok *tok)
{
	struct afs_leases *ls = fs->leases;

	return ls && tok->gen && tok->slot < AFS_TRUST_SLOTS &&
	       atomic_load(&ls->gen) == tok->gen &&
	       atomic_load(&ls->below[tok->slot]) == tok->ctr &&
	       atomic_load(&ls->moves) == tok->moves && afs_lease_valid(fs);
}

/* A change of bucket/key was applied: below every directory above it. */
static void below_changed(struct afs_leases *ls, const char *bucket,
			  const char *key)
{
	char dir[AIS_NAME_MAX + 1];
	const char *p;
	size_t n;

	atomic_fetch_add(&ls->below[name_slot(bucket, "")], 1);
	for (p = strchr(key, '/'); p; p = strchr(p + 1, '/')) {
		n = (size_t)(p - key);
		if (n >= sizeof(dir))
			break;
		memcpy(dir, key, n);
		dir[n] = '\0';
		atomic_fetch_add(&ls->below[name_slot(bucket, dir)], 1);
	}
}

void afs_trust_begin_all(struct afs_fs *fs, struct afs_trust_tok *tok)
{
	struct afs_leases *ls = fs->leases;

	memset(tok, 0, sizeof(*tok));
	if (!ls)
		return;
	tok->slot = AFS_TRUST_ALL;
	tok->gen = atomic_load(&ls->gen);
	tok->ctr = atomic_load(&ls->total);
}

void afs_trust_set(struct afs_fs *fs, struct afs_inode *in,
		   const struct afs_trust_tok *tok)
{
	struct afs_leases *ls = fs->leases;

	if (ls && tok->gen && atomic_load(&ls->gen) == tok->gen &&
	    atomic_load(tok->slot == AFS_TRUST_ALL
			    ? &ls->total
			    : &ls->ctr[tok->slot]) == tok->ctr)
		in->trust = tok->gen;
	else
		in->trust = 0;
}

bool afs_lease_valid(struct afs_fs *fs)
{
	struct afs_leases *ls = fs->leases;

	return ls && ais_now_mono_ns() < atomic_load(&ls->valid_until) &&
	       atomic_load(&ls->watched_version) ==
		   ais_client_map_version(fs->client) &&
	       !atomic_load(&ls->too_many);
}

double afs_lease_left(struct afs_fs *fs)
{
	uint64_t now = ais_now_mono_ns(), until;

	if (!afs_lease_valid(fs))
		return 0;
	until = atomic_load(&fs->leases->valid_until);
	return until > now ? (double)(until - now) / 1e9 : 0;
}

static struct afs_inode *find_path(struct afs_fs *fs, const char *bucket,
				   const char *key, uint64_t *parent_ino,
				   bool *leaf_missing, bool changed);
static void view_changed(struct afs_leases *ls, uint64_t parent,
			 const char *name);

void afs_trust_own(struct afs_fs *fs, const char *bucket, const char *key)
{
	struct afs_leases *ls = fs->leases;
	const char *base = strrchr(key, '/');
	struct afs_inode *in;
	uint64_t parent = 0;
	bool missing = false;

	if (!ls)
		return;
	atomic_fetch_add(&ls->ctr[name_slot(bucket, key)], 1);
	atomic_fetch_add(&ls->total, 1);
	/* Our own change of an archive is in no feed: its view (which
	 * trusts the archive's version) is dropped here. */
	base = base ? base + 1 : key;
	if (fs->opts.shards != AFS_SHARDS_VIEW ||
	    ais_shard_format_from_name(base) == AIS_SHARD_NONE)
		return;
	in = find_path(fs, bucket, key, &parent, &missing, false);
	if (in || missing)
		view_changed(ls, parent, base);
	afs_inode_put(fs->itable, in);
}

bool afs_trusted(struct afs_fs *fs, const struct afs_inode *in)
{
	return in->trust && fs->leases &&
	       in->trust == atomic_load(&fs->leases->gen) &&
	       afs_lease_valid(fs);
}

/* Nothing cached so far counts any more. */
static void distrust_all(struct afs_leases *ls, const char *why)
{
	uint32_t g = atomic_fetch_add(&ls->gen, 1) + 1;

	if (g == 0) /* 0 means "not trusted" */
		atomic_fetch_add(&ls->gen, 1);
	/* And the kernel's long-lived names, before the next poll
	 * acknowledges anything: what granted them counted the grant
	 * first, so clearing the count before the drop loses none. */
	if (ls->guard && atomic_exchange(&ls->guard->granted, false) &&
	    kernel_drop_names(ls->fuse_fd) != 0) {
		/* The guard tries at once (the device went: unmounted). */
		atomic_store(&ls->guard->revoke_at, 0);
		atomic_store(&ls->guard->granted, true);
	}
	/* And the listings the kernel keeps, with the attributes their mtime
	 * is compared with (queued: the watcher waits for them before the
	 * next poll acknowledges). */
	dirs_drop_all(ls);
	ais_log(LOG_INFO, "leases: every cached object is asked again (%s)",
		why);
}

/* The inode of bucket/key if the table has it (with a ref), else NULL;
 * *parent_ino gets its parent's number. With changed, a change of it:
 * every directory on the way gets dir_changed. */
static struct afs_inode *find_path(struct afs_fs *fs, const char *bucket,
				   const char *key, uint64_t *parent_ino,
				   bool *leaf_missing, bool changed)
{
	struct afs_inode *in, *next;
	char comp[AIS_COMPONENT_MAX + 1];
	const char *p = key, *slash;
	size_t n;

	if (fs->opts.bucket[0] && strcmp(bucket, fs->opts.bucket))
		return NULL;
	in = afs_inode_get(fs->itable, AFS_ROOT_INO);
	if (in && !fs->opts.bucket[0]) {
		next = afs_inode_find(fs->itable, in, bucket);
		afs_inode_put(fs->itable, in);
		in = next;
	}
	while (in && *p) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n > AIS_COMPONENT_MAX) {
			afs_inode_put(fs->itable, in);
			return NULL;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		*parent_ino = afs_nodeid(in);
		if (changed && in->kind == AFS_DIR)
			dir_changed(fs->leases, afs_nodeid(in));
		next = afs_inode_find(fs->itable, in, comp);
		afs_inode_put(fs->itable, in);
		in = next;
		p += n + (slash ? 1 : 0);
		if (changed && in && *p && in->kind == AFS_SHARD) {
			/* A name below a shard's view (shards=view): a real
			 * directory of the view's name now, which wins. */
			afs_inode_lock(in);
			in->trust = 0;
			in->seen_ns = 0;
			afs_inode_unlock(in);
			notice_add(fs->leases->nt, *parent_ino, comp,
				   afs_nodeid(in), false);
		}
		*leaf_missing = !in && !*p;
	}
	return in;
}

static void notice_add(struct notifier *nt, uint64_t parent, const char *name,
		       uint64_t ino, bool inode)
{
	size_t len = strlen(name);
	struct notice *n;

	if (!nt)
		return;
	n = malloc(sizeof(*n) + len + 1);
	pthread_mutex_lock(&nt->mu);
	while (nt->wait && n && nt->n >= NOTICES_MAX && !nt->stop)
		pthread_cond_wait(&nt->cv_done, &nt->mu);
	if (!n || nt->n >= NOTICES_MAX) {
		/* The kernel keeps that name and its attributes up to
		 * lease_timeout; opens still check. */
		nt->dropped++;
		pthread_mutex_unlock(&nt->mu);
		free(n);
		return;
	}
	n->next = NULL;
	n->parent = parent;
	n->ino = ino;
	n->inode = inode;
	memcpy(n->name, name, len + 1);
	*nt->tail = n;
	nt->tail = &n->next;
	nt->n++;
	nt->queued++;
	pthread_cond_signal(&nt->cv);
	pthread_mutex_unlock(&nt->mu);
}

/* Wakes whoever waits on the notifier (notifier_wait, a full queue) for
 * good: the mount is going away. notifier_stop still joins it. */
static void notifier_cancel(struct notifier *nt)
{
	if (!nt)
		return;
	pthread_mutex_lock(&nt->mu);
	nt->stop = true;
	pthread_cond_signal(&nt->cv);
	pthread_cond_broadcast(&nt->cv_done);
	pthread_mutex_unlock(&nt->mu);
}

/* Until the kernel has applied every notice queued so far (or the
 * notifier stops). */
static void notifier_wait(struct notifier *nt)
{
	uint64_t target;

	if (!nt)
		return;
	pthread_mutex_lock(&nt->mu);
	target = nt->queued;
	while (nt->done < target && !nt->stop)
		pthread_cond_wait(&nt->cv_done, &nt->mu);
	pthread_mutex_unlock(&nt->mu);
}

static void *notify_thread(void *arg)
{
	struct notifier *nt = arg;
	struct notice *n;
	size_t dropped;
	int rc;

	pthread_mutex_lock(&nt->mu);
	for (;;) {
		while (!nt->head && !nt->stop)
			pthread_cond_wait(&nt->cv, &nt->mu);
		if (nt->stop)
			break;
		n = nt->head;
		nt->head = n->next;
		if (!nt->head)
			nt->tail = &nt->head;
		nt->n--;
		dropped = nt->dropped;
		nt->dropped = 0;
		pthread_mutex_unlock(&nt->mu);
		if (dropped)
			ais_log(LOG_WARNING,
				"leases: %zu kernel invalidations dropped "
				"(too many at once): stat may be stale up to "
				"lease_timeout for those names",
				dropped);
		rc = n->name[0]
			 ? fuse_lowlevel_notify_inval_entry(
			       nt->se, n->parent, n->name, strlen(n->name))
			 : 0;
		if (rc && rc != -ENOENT)
			ais_log(LOG_DEBUG, "notify_inval_entry %s: %s", n->name,
				strerror(-rc));
		if (n->inode) {
			rc = fuse_lowlevel_notify_inval_inode(nt->se, n->ino, 0,
							      0);
			if (rc && rc != -ENOENT)
				ais_log(
				    LOG_DEBUG, "notify_inval_inode %llu: %s",
				    (unsigned long long)n->ino, strerror(-rc));
		}
		free(n);
		pthread_mutex_lock(&nt->mu);
		nt->done++;
		pthread_cond_broadcast(&nt->cv_done);
	}
	pthread_cond_broadcast(&nt->cv_done);
	pthread_mutex_unlock(&nt->mu);
	return NULL;
}

static struct notifier *notifier_start(struct fuse_session *se, bool wait)
{
	struct notifier *nt;

	if (!se)
		return NULL;
	nt = calloc(1, sizeof(*nt));
	if (!nt)
		return NULL;
	nt->se = se;
	nt->wait = wait;
	nt->tail = &nt->head;
	pthread_mutex_init(&nt->mu, NULL);
	pthread_cond_init(&nt->cv, NULL);
	pthread_cond_init(&nt->cv_done, NULL);
	if (pthread_create(&nt->thr, NULL, notify_thread, nt)) {
		free(nt);
		return NULL;
	}
	return nt;
}

/* Stops the notifier. It may be stuck in the kernel on a directory whose
 * lock a request holds that nobody will answer any more (the loop has
 * ended): it is then left to the unmount (which fails its call) and the
 * process's exit, with its memory. */
static void notifier_stop(struct notifier *nt)
{
	struct timespec ts;
	struct notice *n;

	if (!nt)
		return;
	notifier_cancel(nt);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	if (pthread_timedjoin_np(nt->thr, NULL, &ts) != 0) {
		pthread_detach(nt->thr);
		return;
	}
	while ((n = nt->head)) {
		nt->head = n->next;
		free(n);
	}
	pthread_cond_destroy(&nt->cv);
	pthread_cond_destroy(&nt->cv_done);
	pthread_mutex_destroy(&nt->mu);
	free(nt);
}

/* The marker of directory dir changed: its mode, owner or times did. */
static void marker_changed(struct afs_leases *ls, uint64_t dir)
{
	struct afs_fs *fs = ls->fs;
	struct afs_inode *d = afs_inode_get(fs->itable, dir);

	if (!d)
		return;
	if (d->kind == AFS_DIR) {
		struct afs_iext *x = afs_iext(d);

		afs_inode_lock(d);
		d->trust = 0;
		if (x)
			x->dir_meta_ns = 0; /* asked at the next getattr */
		afs_inode_unlock(d);
		notice_add(ls->nt, 0, "", dir, true); /* its attributes */
	}
	afs_inode_put(fs->itable, d);
}

/* shards=view: archive name in directory parent changed; so did its
 * view (name.d), which the kernel may hold apart from the file. */
static void view_changed(struct afs_leases *ls, uint64_t parent,
			 const char *name)
{
	struct afs_fs *fs = ls->fs;
	char view[AIS_COMPONENT_MAX + sizeof(AFS_SHARD_VIEW)];
	struct afs_inode *p, *v;

	if ((size_t)snprintf(view, sizeof(view), "%s%s", name,
			     AFS_SHARD_VIEW) >= sizeof(view))
		return;
	p = afs_inode_get(fs->itable, parent);
	v = p ? afs_inode_find(fs->itable, p, view) : NULL;
	afs_inode_put(fs->itable, p);
	if (!v)
		return;
	afs_inode_lock(v);
	v->trust = 0;
	v->seen_ns = 0;
	afs_inode_unlock(v);
	notice_add(ls->nt, parent, view, afs_nodeid(v), false);
	afs_inode_put(fs->itable, v);
}

/* One change from a node's feed: "bucket/name" ("bucket/": all of it). */
static void apply(struct afs_leases *ls, const char *change)
{
	struct afs_fs *fs = ls->fs;
	char bucket[AIS_BUCKET_MAX + 1];
	const char *slash = strchr(change, '/'), *key;
	struct afs_inode *in;
	uint64_t parent = 0;
	bool leaf_missing = false;
	const char *base;

	if (!slash || (size_t)(slash - change) > AIS_BUCKET_MAX)
		return;
	memcpy(bucket, change, (size_t)(slash - change));
	bucket[slash - change] = '\0';
	key = slash + 1;
	if (!*key) {
		distrust_all(ls, "a bucket was destroyed");
		return;
	}
	atomic_fetch_add(&ls->ctr[name_slot(bucket, key)], 1);
	below_changed(ls, bucket, key);
	atomic_fetch_add(&ls->total, 1);
	/* A name added or gone changes the listing of its directory, and of
	 * every one above it that it may add or end (find_path). */
	in = find_path(fs, bucket, key, &parent, &leaf_missing, true);
	base = strrchr(key, '/');
	base = base ? base + 1 : key;
	/* parent is the leaf's only if the walk got to the leaf. */
	if (in || leaf_missing) {
		if (fs->opts.shards == AFS_SHARDS_VIEW &&
		    ais_shard_format_from_name(base) != AIS_SHARD_NONE)
			view_changed(ls, parent, base);
		if (strcmp(base, AFS_DIR_MARKER) == 0)
			marker_changed(ls, parent);
	}
	if (!in) {
		/* On a no_open mount the kernel may still have the name, for
		 * an inode no longer found by it (afs_inode_link_ident
		 * replaced it, and the new one was not delivered): the name
		 * goes all the same. */
		if (leaf_missing && fs->no_open)
			notice_add(ls->nt, parent, base, 0, false);
		return;
	}
	afs_inode_lock(in);
	in->trust = 0;
	in->seen_ns = 0; /* also what nocto and shard members go by */
	afs_inode_unlock(in);
	ais_log(LOG_DEBUG, "leases: %s/%s changed", bucket, key);
	/* The kernel's name, attributes and pages of it go too: a stat sees
	 * the change at once, and a name deleted elsewhere is looked up
	 * again (an O_CREAT open of it creates it anew, rather than opening
	 * an inode that is gone). For a shard, the names below it go with
	 * its own (the kernel drops the subtree): its members are looked up
	 * again, with their new attributes. */
	notice_add(ls->nt, parent, base, afs_nodeid(in),
		   !afs_kind_is_dir(in->kind));
	afs_inode_put(fs->itable, in);
}

/* The earliest lease over all watchers (0 if one has none). */
static void recompute(struct afs_leases *ls)
{
	struct watcher *w;
	uint64_t min = UINT64_MAX, rmin = UINT64_MAX, v;

	pthread_mutex_lock(&ls->mu);
	for (w = ls->watchers; w; w = w->next) {
		v = atomic_load(&w->valid_until);
		if (v < min)
			min = v;
		v = atomic_load(&w->revoke_at);
		if (v < rmin)
			rmin = v;
	}
	if (!ls->watchers || atomic_load(&ls->map_changed) ||
	    atomic_load(&ls->reconciling) || atomic_load(&ls->too_many))
		min = rmin = 0;
	atomic_store(&ls->valid_until, min);
	if (ls->guard)
		atomic_store(&ls->guard->revoke_at, rmin);
	pthread_mutex_unlock(&ls->mu);
}

static void *watch_thread(void *arg)
{
	struct watcher *w = arg;
	struct afs_leases *ls = w->ls;
	struct afs_fs *fs = ls->fs;
	char errmsg[AIS_ERRMSG_LEN];
	struct ais_watch_answer a;
	uint64_t since = 0, t0, grant, run = 0, lease_ns, revoke;
	unsigned backoff = 0, wait_ms = 0; /* the first answer is at once */
	bool failing = false;
	size_t i;
	int rc;

	while (!atomic_load(&w->stop)) {
		t0 = ais_now_mono_ns();
		errmsg[0] = '\0';
		rc = ais_client_watch(fs->client, &w->node, ls->id,
				      fs->opts.bucket, since, run, wait_ms, &a,
				      errmsg);
		if (rc == 0 || rc == -ESTALE) {
			if (failing)
				ais_log(LOG_NOTICE,
					"leases: node %s (%s:%u) answers again",
					w->node.id, w->node.host, w->node.port);
			failing = false;
			backoff = 0;
			/* Changes first, then the lease that covers them.
			 * A first answer, or one from a node that forgot
			 * its feed (it restarted): changes may have been
			 * missed. */
			if (rc == -ESTALE || since == 0)
				distrust_all(ls, rc ? errmsg
						    : "a node is watched "
						      "from now on");
			else if (run && a.run != run)
				distrust_all(ls, "a node restarted");
			run = a.run;
			for (i = 0; i < a.n; i++)
				apply(ls, a.changed[i]);
			/* The next poll acknowledges these: on a no_open
			 * mount, only once the kernel forgot them. */
			if (fs->no_open)
				notifier_wait(ls->nt);
			since = a.seq;
			lease_ns = (uint64_t)(a.lease_ms ? a.lease_ms : 1000) *
				   1000000ULL;
			grant = (uint64_t)((double)lease_ns * LEASE_SHARE);
			wait_ms = a.lease_ms / 4 < WATCH_WAIT_MS
				      ? a.lease_ms / 4
				      : WATCH_WAIT_MS;
			atomic_store(&w->valid_until, t0 + grant);
			revoke = (uint64_t)((double)lease_ns * REVOKE_SHARE);
			if (revoke > REVOKE_MAX_MS * 1000000ULL)
				revoke = REVOKE_MAX_MS * 1000000ULL;
			atomic_store(&w->revoke_at, t0 + revoke);
			if (ls->guard &&
			    wait_ms > revoke / 1000000 * GUARD_WAIT_SHARE)
				wait_ms = (unsigned)(revoke / 1000000 *
						     GUARD_WAIT_SHARE);
			if (a.map_version >
			    ais_client_map_version(fs->client)) {
				ais_log(LOG_DEBUG,
					"leases: node %s has map v%llu, we "
					"v%llu",
					w->node.id,
					(unsigned long long)a.map_version,
					(unsigned long long)
					    ais_client_map_version(fs->client));
				atomic_store(&ls->map_changed, true);
			}
			ais_watch_answer_free(&a);
			recompute(ls);
			continue;
		}
		if (!failing)
			ais_log(LOG_NOTICE,
				"leases: node %s (%s:%u): %s; opens ask the "
				"cluster until it answers",
				w->node.id, w->node.host, w->node.port,
				errmsg[0] ? errmsg : strerror(-rc));
		failing = true;
		if (rc == -EOPNOTSUPP) {
			/* An older node: no leases with it, ever. */
			atomic_store(&w->valid_until, 0);
			atomic_store(&w->revoke_at, 0);
			recompute(ls);
			break;
		}
		backoff =
		    backoff ? (backoff * 2 > 1000 ? 1000 : backoff * 2) : 50;
		usleep(backoff * 1000);
	}
	return NULL;
}

static int watcher_start(struct afs_leases *ls, const struct ais_node_loc *n)
{
	struct watcher *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->ls = ls;
	w->node = *n;
	rc = pthread_create(&w->thr, NULL, watch_thread, w);
	if (rc) {
		free(w);
		return -rc;
	}
	w->next = ls->watchers;
	ls->watchers = w;
	return 0;
}

/* Stops a list of watchers: all told first, as each may be in a poll
 * the node holds up to WATCH_WAIT_MS. */
static void stop_all(struct watcher *list)
{
	struct watcher *w, *next;

	for (w = list; w; w = w->next)
		atomic_store(&w->stop, true);
	for (w = list; w; w = next) {
		next = w->next;
		pthread_join(w->thr, NULL);
		free(w);
	}
}

static bool same_node(const struct ais_node_loc *a,
		      const struct ais_node_loc *b)
{
	return !strcmp(a->id, b->id) && !strcmp(a->host, b->host) &&
	       a->port == b->port;
}

/* Watches exactly the nodes of the current map. */
static uint64_t reconcile(struct afs_leases *ls)
{
	uint64_t version = 0;
	struct ais_node_loc nodes[AIS_ENDPOINTS_MAX * 4];
	struct watcher **pp, *w, *gone = NULL;
	size_t n, i;
	bool found;

	/* Until the watchers match the new map, no lease counts (nor do the
	 * long names: the guard drops them). */
	atomic_store(&ls->reconciling, true);
	recompute(ls);
	if (atomic_exchange(&ls->map_changed, false))
		(void)ais_client_refresh_map(ls->fs->client, NULL);
	n = ais_client_nodes(ls->fs->client, nodes,
			     sizeof(nodes) / sizeof(nodes[0]), &version);
	atomic_store(&ls->too_many, n > sizeof(nodes) / sizeof(nodes[0]));
	if (n > sizeof(nodes) / sizeof(nodes[0]))
		n = sizeof(nodes) / sizeof(nodes[0]);
	pthread_mutex_lock(&ls->mu);
	for (pp = &ls->watchers; (w = *pp);) {
		for (found = false, i = 0; i < n && !found; i++)
			found = same_node(&w->node, &nodes[i]);
		if (found) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->next = gone;
		gone = w;
	}
	for (i = 0; i < n; i++) {
		for (found = false, w = ls->watchers; w && !found; w = w->next)
			found = same_node(&w->node, &nodes[i]);
		if (!found && watcher_start(ls, &nodes[i]))
			ais_log(LOG_WARNING,
				"leases: cannot watch node %s: out of "
				"resources",
				nodes[i].id);
	}
	pthread_mutex_unlock(&ls->mu);
	/* The new nodes have no lease yet: nothing is trusted until they
	 * answered (recompute), whatever the gone ones take to stop. */
	atomic_store(&ls->watched_version, version);
	atomic_store(&ls->reconciling, false);
	recompute(ls);
	for (w = gone; w; w = w->next)
		ais_log(LOG_INFO, "leases: node %s left the map", w->node.id);
	stop_all(gone);
	return version;
}

static void *manage_thread(void *arg)
{
	struct afs_leases *ls = arg;
	uint64_t seen = 0, v;

	while (!atomic_load(&ls->stop)) {
		v = ais_client_map_version(ls->fs->client);
		if (v != seen || atomic_load(&ls->map_changed))
			seen = reconcile(ls);
		guard_check(ls);
		if (ls->guard && (v = atomic_load(&ls->guard->drops)) !=
				     ls->guard_drops_seen) {
			ais_log(LOG_NOTICE,
				"leases: a lease went unrenewed for %.0f%% of "
				"it, or the map changed: the guard made the "
				"kernel drop every name (drop %llu)",
				REVOKE_SHARE * 100, (unsigned long long)v);
			ls->guard_drops_seen = v;
		}
		usleep(MANAGE_MS * 1000);
	}
	return NULL;
}

static uint64_t random_id(void)
{
	uint64_t id = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &id, sizeof(id)) != sizeof(id))
			id = 0;
		close(fd);
	}
	if (!id)
		id = ais_mix64(ais_now_real_ns() ^ (uint64_t)getpid());
	return id ? id : 1;
}

int afs_leases_start(struct afs_fs *fs)
{
	struct afs_leases *ls;
	int rc;

	if (fs->opts.noleases)
		return 0;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->fs = fs;
	ls->id = random_id();
	atomic_init(&ls->gen, 1);
	pthread_mutex_init(&ls->mu, NULL);
	pthread_mutex_init(&ls->dirs_mu, NULL);
	ls->nt = notifier_start(fs->se, fs->no_open);
	if (!ls->nt && fs->se && fs->no_open) {
		/* Nothing would drop what the kernel caches of a change. */
		pthread_mutex_destroy(&ls->dirs_mu);
		pthread_mutex_destroy(&ls->mu);
		free(ls);
		return -ENOMEM;
	}
	if (fs->se && fs->no_open)
		(void)guard_start(ls);
	fs->leases = ls;
	(void)reconcile(ls);
	rc = pthread_create(&ls->mgr, NULL, manage_thread, ls);
	if (rc) {
		stop_all(ls->watchers);
		notifier_stop(ls->nt);
		guard_stop(ls);
		fs->leases = NULL;
		pthread_mutex_destroy(&ls->dirs_mu);
		pthread_mutex_destroy(&ls->mu);
		free(ls);
		return -rc;
	}
	ais_client_set_origin(fs->client, ls->id);
	ais_log(LOG_INFO, "leases: watching %s as %016llx",
		fs->opts.bucket[0] ? fs->opts.bucket : "every bucket",
		(unsigned long long)ls->id);
	return 0;
}

/* Stops the watchers, then tells each node that granted a lease still
 * current that this mount is gone: its changes need not wait for the
 * lease to run out (a node down or hung lets it run out). */
static void release_all(struct afs_leases *ls, struct watcher *list)
{
	struct ais_node_loc *nodes;
	char errmsg[AIS_ERRMSG_LEN];
	uint64_t now = ais_now_mono_ns();
	size_t n = 0, i;
	struct watcher *w;

	for (w = list; w; w = w->next)
		n++;
	nodes = calloc(n ? n : 1, sizeof(*nodes));
	n = 0;
	for (w = list; w && nodes; w = w->next)
		if (atomic_load(&w->valid_until) > now)
			nodes[n++] = w->node;
	stop_all(list);
	for (i = 0; i < n; i++) {
		errmsg[0] = '\0';
		if (ais_client_watch_release(ls->fs->client, &nodes[i], ls->id,
					     errmsg) != 0)
			ais_log(LOG_INFO,
				"leases: %s:%u was not told of the unmount "
				"(%s): its changes wait until the lease ends",
				nodes[i].host, nodes[i].port, errmsg);
	}
	free(nodes);
}

void afs_leases_stop(struct afs_fs *fs)
{
	struct afs_leases *ls = fs->leases;
	struct watcher *w;

	if (!ls)
		return;
	atomic_store(&ls->stop, true);
	/* Nothing answers from here on: the kernel's long names go first. */
	if (ls->guard && atomic_load(&ls->guard_ok))
		(void)kernel_drop_names(ls->fuse_fd);
	/* A watcher may wait for the notifier (no_open), which may be
	 * stuck in the kernel: release them first, before the manager,
	 * which may be joining one of them. */
	notifier_cancel(ls->nt);
	pthread_join(ls->mgr, NULL);
	/* No trust from here on: nothing renews it. */
	atomic_store(&ls->valid_until, 0);
	pthread_mutex_lock(&ls->mu);
	w = ls->watchers;
	ls->watchers = NULL;
	pthread_mutex_unlock(&ls->mu);
	release_all(ls, w);
	notifier_stop(ls->nt);
	guard_stop(ls);
	free(ls->dirs);
	pthread_mutex_destroy(&ls->dirs_mu);
	ais_client_set_origin(fs->client, 0);
	fs->leases = NULL;
	pthread_mutex_destroy(&ls->mu);
	free(ls);
}
