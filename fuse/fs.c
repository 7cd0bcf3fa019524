/* Shared helpers of the FUSE operations and the operation table. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dirtime.h"
#include "etl.h"
#include "fs.h"
#include "lease.h"
#include "log.h"
#include "shard_names.h"
#include "spool.h"

/* Splits the key of a location in a shard at shard_end (an offset in key):
 * the shard's name, a NUL, the member path. */
static int split_shard(struct afs_loc *loc, size_t shard_end)
{
	size_t klen = strlen(loc->key);

	if (shard_end > klen || shard_end > AIS_NAME_MAX ||
	    klen - shard_end > AFS_MEMBER_MAX + 1)
		return -ENAMETOOLONG;
	loc->in_shard = true;
	if (shard_end == klen) {
		/* The shard itself: an empty member path after the NUL. */
		loc->key[klen + 1] = '\0';
		loc->member_off = klen + 1;
		return 0;
	}
	loc->key[shard_end] = '\0'; /* was the '/' before the member */
	loc->member_off = shard_end + 1;
	return 0;
}

int afs_locate(struct afs_fs *fs, struct afs_inode *in, struct afs_loc *loc)
{
	char path[AFS_PATH_MAX];
	size_t shard_end, boff = 0;
	const char *slash;
	int depth;

	loc->in_shard = false;
	loc->member_off = 0;
	depth = afs_inode_path_split(fs->itable, in, path, sizeof(path),
				     &shard_end);
	if (depth < 0)
		return depth;
	if (fs->opts.bucket[0]) {
		strcpy(loc->bucket, fs->opts.bucket);
		if (strlen(path) + 1 >= sizeof(loc->key))
			return -ENAMETOOLONG;
		strcpy(loc->key, path);
	} else if (depth == 0) {
		loc->bucket[0] = loc->key[0] = '\0';
		return 0;
	} else if (!(slash = strchr(path, '/'))) {
		if (strlen(path) >= sizeof(loc->bucket))
			return -ENAMETOOLONG;
		strcpy(loc->bucket, path);
		loc->key[0] = '\0';
		return 0;
	} else {
		if ((size_t)(slash - path) >= sizeof(loc->bucket) ||
		    strlen(slash + 1) + 1 >= sizeof(loc->key))
			return -ENAMETOOLONG;
		memcpy(loc->bucket, path, slash - path);
		loc->bucket[slash - path] = '\0';
		strcpy(loc->key, slash + 1);
		boff = (size_t)(slash + 1 - path);
	}
	if (shard_end != (size_t)-1)
		return shard_end >= boff ? split_shard(loc, shard_end - boff)
					 : -EINVAL;
	return strlen(loc->key) > AIS_NAME_MAX ? -ENAMETOOLONG : 0;
}

bool afs_is_shard_name(struct afs_fs *fs, const char *name)
{
	return fs->opts.shards == AFS_SHARDS_DIR &&
	       ais_shard_format_from_name(name) != AIS_SHARD_NONE;
}

bool afs_shard_view_stem(struct afs_fs *fs, const char *name, char *stem,
			 size_t len)
{
	size_t n = strlen(name), sl = strlen(AFS_SHARD_VIEW);

	if (fs->opts.shards != AFS_SHARDS_VIEW || n <= sl || n - sl >= len ||
	    strcmp(name + n - sl, AFS_SHARD_VIEW) != 0)
		return false;
	memcpy(stem, name, n - sl);
	stem[n - sl] = '\0';
	return ais_shard_format_from_name(stem) != AIS_SHARD_NONE;
}

int afs_child_key(const char *dirkey, const char *name, char *out, size_t len)
{
	int n;

	if (strlen(name) > AIS_COMPONENT_MAX)
		return -ENAMETOOLONG;
	if (dirkey[0])
		n = snprintf(out, len, "%s/%s", dirkey, name);
	else
		n = snprintf(out, len, "%s", name);
	if (n < 0 || (size_t)n >= len || n > AIS_NAME_MAX)
		return -ENAMETOOLONG;
	return ais_name_check_object(out, (size_t)n, NULL);
}

int afs_resolve(struct afs_fs *fs, const char *bucket, const char *key,
		int *kind, struct ais_obj_meta *meta)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	char prefix[AIS_NAME_MAX + 2];
	struct ais_obj_meta m;
	struct ais_list_page page = {0};
	int rc, head_rc;

	*kind = 0;
	/* One request to the owner, which asks the other nodes itself (and
	 * batches those questions with every other lookup and PUT): a miss
	 * used to cost a HEAD and a listing on every node. */
	if (ais_now_mono_ns() >= atomic_load(&fs->no_resolve_until)) {
		rc = ais_client_resolve(fs->client, bucket, key, &m, errmsg);
		if (rc == 0 || rc == 1) {
			*kind = rc ? AFS_DIR : AFS_FILE;
			if (meta && !rc)
				*meta = m;
			return 0;
		}
		if (rc == -EOPNOTSUPP) {
			ais_log(LOG_NOTICE,
				"a node does not know RESOLVE (older than "
				"this mount): lookups use HEAD and LIST for a "
				"minute");
			atomic_store(&fs->no_resolve_until,
				     ais_now_mono_ns() + 60000000000ull);
		} else if (rc != -EAGAIN) {
			/* What a HEAD would have said (its failover is the
			 * same). */
			return rc == -EISDIR || rc == -ENOTDIR ? -ENOENT : rc;
		}
		/* The owner cannot tell for sure: the long way. */
	}
	rc = ais_client_head(fs->client, bucket, key, &m, errmsg);
	if (rc == 0) {
		*kind = AFS_FILE;
		if (meta)
			*meta = m;
		return 0;
	}
	head_rc =
	    rc == -ENOENT || rc == -EISDIR || rc == -ENOTDIR ? -ENOENT : rc;
	/* The owner of "key" did not answer: the listing below would ask
	 * every node, that one included, and wait for it a second time. */
	if (head_rc != -ENOENT)
		return head_rc;
	snprintf(prefix, sizeof(prefix), "%s/", key);
	rc = ais_client_list(fs->client, bucket, prefix, "/", NULL, 1, &page,
			     errmsg);
	if (rc)
		return rc;
	if (page.n > 0)
		*kind = AFS_DIR;
	ais_list_page_free(&page);
	return *kind ? 0 : head_rc;
}

int afs_dir_marker(const char *dirkey, char *out, size_t len)
{
	int n = snprintf(out, len, "%s%s%s", dirkey, dirkey[0] ? "/" : "",
			 AFS_DIR_MARKER);

	return n < 0 || (size_t)n >= len || n > AIS_NAME_MAX ? -ENAMETOOLONG
							     : 0;
}

bool afs_dir_attrs_fresh(struct afs_fs *fs, struct afs_inode *dir)
{
	struct afs_iext *x = afs_iext(dir);

	return dir->have_meta &&
	       (afs_trusted(fs, dir) ||
		(x && x->dir_meta_ns &&
		 (double)(ais_now_mono_ns() - x->dir_meta_ns) <
		     fs->opts.attr_timeout * 1e9));
}

void afs_dir_meta_asked(struct afs_inode *dir)
{
	struct afs_iext *x = afs_inode_ext(dir);

	if (!x)
		return; /* ENOMEM: asked at every getattr */
	afs_inode_lock(dir);
	x->dir_meta_ns = ais_now_mono_ns();
	afs_inode_unlock(dir);
}

int afs_dir_meta(struct afs_fs *fs, const char *bucket, const char *dirkey,
		 struct ais_obj_meta *m)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	char marker[AIS_NAME_MAX + 1];
	int rc;

	memset(m, 0, sizeof(*m));
	rc = afs_dir_marker(dirkey, marker, sizeof(marker));
	if (!rc)
		rc = ais_client_head(fs->client, bucket, marker, m, errmsg);
	if (rc == -ENOENT || rc == -ENAMETOOLONG) {
		memset(m, 0, sizeof(*m)); /* a prefix without a marker */
		rc = 0;
	}
	if (rc)
		ais_log(LOG_INFO, "attributes of directory %s/%s: %s", bucket,
			dirkey, errmsg[0] ? errmsg : strerror(-rc));
	return rc;
}

/* At most this many EIO warnings per second: a cluster that is down must
 * not flood the log with one line per request. */
#define WARN_BURST 10

static bool warn_allowed(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t window;
	static unsigned count, dropped;
	uint64_t now = ais_now_mono_ns() / 1000000000ULL;
	bool ok;

	pthread_mutex_lock(&lock);
	if (now != window) {
		if (dropped)
			ais_log(LOG_WARNING, "%u more errors not logged",
				dropped);
		window = now;
		count = dropped = 0;
	}
	ok = count++ < WARN_BURST;
	if (!ok)
		dropped++;
	pthread_mutex_unlock(&lock);
	return ok;
}

int afs_errno(int rc, const char *what, const struct afs_loc *loc,
	      const char *errmsg)
{
	int e = rc < 0 ? -rc : rc;
	const char *b = loc ? loc->bucket : "", *k = loc ? loc->key : "";

	switch (e) {
	case 0:
		return 0;
	case ENOENT:
	case EEXIST:
	case ENOTDIR:
	case EISDIR:
	case ENOTEMPTY:
	case EINVAL:
	case ENAMETOOLONG:
	case ENOSPC:
	case EDQUOT:
	case EACCES:
	case EPERM:
	case EROFS:
	case EXDEV:
	case EFBIG:
	case ENOMEM:
	case EOPNOTSUPP:
	case ERANGE:
	case ENODATA:
	case EBADF:
		/* A refusal of the cluster (a token, a right) is the user's to
		 * know and mend: said at notice level, once a second at most.
		 */
		if (e == EACCES && errmsg && *errmsg) {
			static _Atomic int64_t last_s;
			int64_t now =
			    (int64_t)(ais_now_mono_ns() / 1000000000u);

			if (atomic_exchange(&last_s, now) != now) {
				ais_log(LOG_NOTICE, "%s %s/%s: %s: %s", what, b,
					k, strerror(e), errmsg);
				return e;
			}
		}
		ais_log(LOG_DEBUG, "%s %s/%s: %s%s%s", what, b, k, strerror(e),
			errmsg && *errmsg ? ": " : "", errmsg ? errmsg : "");
		return e;
	default:
		if (warn_allowed())
			ais_log(LOG_WARNING,
				"%s %s/%s: %s (EIO to the application)", what,
				b, k, errmsg && *errmsg ? errmsg : strerror(e));
		return EIO;
	}
}

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / 1000000000LL;
	ts->tv_nsec = ns % 1000000000LL;
	if (ts->tv_nsec < 0) {
		ts->tv_sec--;
		ts->tv_nsec += 1000000000LL;
	}
}

void afs_dir_stat(struct afs_fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | (fs->opts.ro ? 0555 : 0755);
	st->st_nlink = 1; /* unknown subdirectory count, as on btrfs */
	st->st_uid = fs->opts.uid;
	st->st_gid = fs->opts.gid;
	st->st_blksize = AFS_BLKSIZE;
	st->st_atim = st->st_mtim = st->st_ctim = fs->mount_time;
}

/* Who owns m as stat shows it: the stored owner, unless the mount names
 * one (uid=, gid=) or m has none (then the mount's user). */
static void owner_to_stat(struct afs_fs *fs, const struct ais_obj_meta *m,
			  struct stat *st)
{
	st->st_uid = m->owned && !fs->opts.uid_given ? m->uid : fs->opts.uid;
	st->st_gid = m->owned && !fs->opts.gid_given ? m->gid : fs->opts.gid;
}

void afs_creator(fuse_req_t req, struct afs_inode *parent, uint32_t *uid,
		 uint32_t *gid, uint32_t *dir_mode)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct ais_obj_meta pm;

	*uid = ctx->uid;
	*gid = ctx->gid;
	if (!parent || parent->kind != AFS_DIR)
		return;
	memset(&pm, 0, sizeof(pm));
	afs_inode_lock(parent);
	if (parent->have_meta)
		afs_inode_meta_get(parent, &pm);
	afs_inode_unlock(parent);
	if ((pm.mode & S_IFMT) != S_IFDIR || !(pm.mode & S_ISGID))
		return;
	/* A set-group-ID directory: its group (as stored, not as a gid=
	 * mount shows it), and its bit for a directory made in it, as on
	 * every Linux file system. */
	*gid = pm.owned ? pm.gid : fs->opts.gid;
	if (dir_mode)
		*dir_mode |= S_ISGID;
}

/* A directory's attributes from its marker's metadata m (afs_dir_meta)
 * over the defaults in st: a marker made before directories kept any
 * (mode 0) or none at all (all zero) leaves them. */
static void dir_meta_to_stat(struct afs_fs *fs, const struct ais_obj_meta *m,
			     struct stat *st)
{
	if ((m->mode & S_IFMT) == S_IFDIR)
		st->st_mode =
		    S_IFDIR | (m->mode & 07777 & (fs->opts.ro ? ~0222u : ~0u));
	owner_to_stat(fs, m, st);
	if (m->mtime_ns) {
		ns_to_ts(m->mtime_ns, &st->st_mtim);
		ns_to_ts(m->atime_ns, &st->st_atim);
		ns_to_ts(m->ctime_ns, &st->st_ctim);
	}
}

void afs_meta_to_stat(struct afs_fs *fs, const struct ais_obj_meta *m,
		      struct stat *st)
{
	uint32_t perm = m->mode & 07777;

	memset(st, 0, sizeof(*st));
	if (!m->mode) /* not set: the default; S_IFREG | 0: exactly 0000 */
		perm = 0644;
	if (fs->opts.ro)
		perm &= ~0222u;
	st->st_mode = S_IFREG | perm;
	if (afs_mode_is_link(m->mode))
		st->st_mode = S_IFLNK | 0777; /* the target is the content */
	st->st_nlink = 1;
	owner_to_stat(fs, m, st);
	st->st_size = (off_t)m->size;
	st->st_blocks = (blkcnt_t)((m->size + 511) / 512);
	st->st_blksize = AFS_BLKSIZE;
	ns_to_ts(m->mtime_ns, &st->st_mtim);
	ns_to_ts(m->atime_ns, &st->st_atim);
	ns_to_ts(m->ctime_ns, &st->st_ctim);
}

/* A shard member as the kernel sees it: the mode stored in the archive
 * (as tar -x would make it), always readable (and searchable, for
 * directories) by its owner, the mount's user. Changes fail with EROFS, as
 * on any read-only file system, whatever the mode says. */
static void member_to_stat(struct afs_fs *fs, struct afs_inode *in,
			   const struct afs_meta *m, const char *link,
			   struct stat *st)
{
	uint32_t perm = m->mode & 07777;
	uint32_t fmt = m->mode & S_IFMT;

	if (fs->opts.ro)
		perm &= ~0222u;

	memset(st, 0, sizeof(*st));
	switch (in->kind) {
	case AFS_MDIR:
		st->st_mode = S_IFDIR | perm | 0500;
		break;
	case AFS_MLINK:
		st->st_mode = S_IFLNK | 0777;
		st->st_size = link ? (off_t)strlen(link) : (off_t)m->size;
		break;
	default:
		if (fmt == 0 || fmt == S_IFDIR || fmt == S_IFLNK)
			fmt = S_IFREG;
		st->st_mode = fmt | perm | 0400;
		st->st_size = (off_t)m->size;
		st->st_blocks = (blkcnt_t)((m->size + 511) / 512);
		break;
	}
	st->st_nlink = 1;
	st->st_uid = fs->opts.uid;
	st->st_gid = fs->opts.gid;
	st->st_blksize = AFS_BLKSIZE;
	ns_to_ts(m->mtime_ns, &st->st_mtim);
	st->st_atim = st->st_ctim = st->st_mtim;
}

/* In a transformed view, a file's size is its output's (etl.h). */
static int etl_size(struct afs_fs *fs, struct afs_inode *in, struct stat *st)
{
	struct afs_etl_out *o;
	int rc;

	if (!fs->etl)
		return 0;
	rc = afs_etl_hold(fs, in, &o);
	if (rc)
		return rc;
	st->st_size = (off_t)o->size;
	st->st_blocks = (blkcnt_t)((o->size + 511) / 512);
	afs_etl_release(fs, o);
	return 0;
}

int afs_fill_attr(struct afs_fs *fs, struct afs_inode *in, struct stat *st)
{
	struct afs_spool *sp;
	struct ais_obj_meta m;
	int64_t touched;
	uint64_t size;
	bool have;
	int rc = 0;

	if (in->kind == AFS_DIR) {
		afs_dir_stat(fs, st);
		afs_inode_lock(in);
		if (in->have_meta)
			afs_inode_meta_get(in, &m);
		else
			memset(&m, 0, sizeof(m));
		afs_inode_unlock(in);
		dir_meta_to_stat(fs, &m, st);
		touched = afs_dirtime_pending(fs, in);
		if (touched) {
			ns_to_ts(touched, &st->st_mtim);
			st->st_ctim = st->st_mtim;
		}
		if (fs->no_open && afs_lease_long_names(fs)) {
			/* The kernel keeps its listing while this mtime
			 * holds (fs_dir.c dir_cached). */
			uint64_t ns =
			    (uint64_t)st->st_mtim.tv_nsec +
			    afs_listing_gen(fs, afs_nodeid(in)) % 1000000000ULL;

			st->st_mtim.tv_sec += (time_t)(ns / 1000000000ULL);
			st->st_mtim.tv_nsec = (long)(ns % 1000000000ULL);
		}
		st->st_ino = in->ino;
		return 0;
	}
	if (in->kind == AFS_SHARD) {
		/* The archive's own owner and times; its mode, with search
		 * where it is readable: who may not read the archive may not
		 * enter its members either. Its size is its members'. */
		afs_dir_stat(fs, st);
		afs_inode_lock(in);
		have = in->have_meta;
		if (have)
			afs_inode_meta_get(in, &m);
		afs_inode_unlock(in);
		if (have) {
			uint32_t perm = m.mode ? m.mode & 07777 : 0644;

			if (afs_mode_is_link(m.mode))
				perm = 0755;
			perm |= (perm & 0444) >> 2;
			if (fs->opts.ro)
				perm &= ~0222u;
			st->st_mode = S_IFDIR | perm;
			owner_to_stat(fs, &m, st);
			ns_to_ts(m.mtime_ns, &st->st_mtim);
		}
		st->st_atim = st->st_ctim = st->st_mtim;
		st->st_ino = in->ino;
		return 0;
	}
	if (afs_kind_is_member(in->kind)) {
		afs_inode_lock(in);
		if (in->have_meta)
			member_to_stat(fs, in, &in->meta,
				       afs_inode_link_target(in), st);
		else if (in->kind == AFS_MDIR)
			afs_dir_stat(fs, st);
		else
			rc = -ENOENT;
		afs_inode_unlock(in);
		if (!rc && in->kind == AFS_MDIR && st->st_mtim.tv_sec == 0 &&
		    st->st_mtim.tv_nsec == 0) {
			/* A directory the archive only implies. */
			ns_to_ts(afs_shard_mtime(in), &st->st_mtim);
			st->st_atim = st->st_ctim = st->st_mtim;
		}
		if (!rc && in->kind == AFS_MFILE && S_ISREG(st->st_mode))
			rc = etl_size(fs, in, st);
		st->st_ino = in->ino;
		return rc;
	}
	afs_inode_lock(in);
	afs_inode_meta_get(in, &m);
	sp = afs_inode_spool(in);
	if (sp && sp->loaded) {
		rc = afs_spool_size(sp, &size);
		m.size = size;
		if (sp->mtime_set)
			m.mtime_ns = sp->mtime_ns;
		if (sp->atime_set)
			m.atime_ns = sp->atime_ns;
		if (sp->dirty && sp->ctime_ns > m.ctime_ns)
			m.ctime_ns = sp->ctime_ns;
	} else if (!in->have_meta) {
		rc = -ENOENT;
	}
	afs_inode_unlock(in);
	if (rc)
		return rc;
	afs_meta_to_stat(fs, &m, st);
	st->st_ino = in->ino;
	return S_ISREG(st->st_mode) ? etl_size(fs, in, st) : 0;
}

static int fill_entry(struct afs_fs *fs, struct afs_inode *in,
		      struct fuse_entry_param *e, bool long_ok)
{
	memset(e, 0, sizeof(*e));
	e->ino = afs_nodeid(in);
	e->generation = 1;
	e->entry_timeout =
	    afs_cache_time(fs, in, fs->opts.entry_timeout, long_ok);
	e->attr_timeout =
	    afs_cache_time(fs, in, fs->opts.attr_timeout, long_ok);
	return afs_fill_attr(fs, in, &e->attr);
}

int afs_fill_entry(struct afs_fs *fs, struct afs_inode *in,
		   struct fuse_entry_param *e)
{
	return fill_entry(fs, in, e, true);
}

int afs_fill_entry_listed(struct afs_fs *fs, struct afs_inode *in,
			  struct fuse_entry_param *e)
{
	return fill_entry(fs, in, e, false);
}

/* How long the kernel may keep a file's name and attributes on a no_open
 * mount at most, lease or not, unless the kernel's names can all be
 * dropped at once (afs_lease_long): a node that joins serves writes to the
 * objects that move to it before this mount watches it (its grace, 2.5
 * s), and only a revalidation tells the kernel its pages are stale. */
#define NO_OPEN_CACHE_MAX 2.0
/* Where names outlive the lease (afs_lease_long), how long without
 * lease_timeout given: longer than an epoch over a million files takes,
 * cold then warm (names looked up early in a cold epoch must still be there
 * when the next one comes back to them). A lapse drops them all anyway;
 * what this bounds is the attributes a descriptor opened before a lapse
 * keeps (aisfs(1), kernel_open). */
#define LONG_NAMES_DEFAULT 600.0

static double long_time(struct afs_fs *fs)
{
	return fs->opts.lease_timeout_given ? fs->opts.lease_timeout
					    : LONG_NAMES_DEFAULT;
}

double afs_cache_time(struct afs_fs *fs, struct afs_inode *in, double base,
		      bool long_ok)
{
	bool covered = false;
	double t;

	if (fs->no_open && (in->kind == AFS_FILE || in->kind == AFS_MFILE ||
			    in->kind == AFS_MLINK)) {
		/* No open will check it: what the lease covers, while it
		 * lasts; the rest is asked again at every use. */
		if (in->kind == AFS_FILE) {
			afs_inode_lock(in);
			covered = in->have_meta && afs_trusted(fs, in);
			afs_inode_unlock(in);
		} else {
			covered = afs_member_covered(fs, in);
		}
		if (!covered)
			return 0;
		if (long_ok && afs_lease_long(fs))
			return long_time(fs);
		t = afs_lease_left(fs);
		if (t > fs->opts.lease_timeout)
			t = fs->opts.lease_timeout;
		return t < NO_OPEN_CACHE_MAX ? t : NO_OPEN_CACHE_MAX;
	}

	if (fs->no_open && in->kind == AFS_DIR && afs_lease_long_names(fs)) {
		/* Its mtime says whether the kernel's listing of it still
		 * counts (fs_dir.c dir_cached): asked again before the lease
		 * could run out on a node. */
		t = afs_lease_left(fs);
		return t > 0 && t < base ? t : base;
	}
	if (fs->opts.lease_timeout <= base || !afs_lease_valid(fs))
		return base;
	if (in->kind == AFS_FILE || in->kind == AFS_SHARD) {
		afs_inode_lock(in);
		covered = in->have_meta && !afs_inode_spool(in) &&
			  afs_trusted(fs, in);
		afs_inode_unlock(in);
	} else if (in->kind == AFS_MFILE || in->kind == AFS_MLINK) {
		covered = afs_member_covered(fs, in);
	}
	return covered ? fs->opts.lease_timeout : base;
}

void afs_pages_stale(struct afs_fs *fs, struct afs_inode *in, bool stale)
{
	if (stale && fs->no_open)
		afs_inode_unhash(fs->itable, in);
}

void afs_reply_entry(fuse_req_t req, struct afs_fs *fs, struct afs_inode *in)
{
	struct fuse_entry_param e;
	int rc = afs_fill_entry(fs, in, &e);

	if (rc) {
		afs_inode_forget(fs->itable, afs_nodeid(in), 1);
		fuse_reply_err(req, -rc);
	} else if (fuse_reply_entry(req, &e) != 0) {
		afs_inode_forget(fs->itable, afs_nodeid(in), 1);
	}
	afs_inode_put(fs->itable, in);
}

void afs_reply_attr(fuse_req_t req, struct afs_fs *fs, struct afs_inode *in,
		    int rc)
{
	struct stat st;

	if (!rc)
		rc = afs_fill_attr(fs, in, &st);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(
		    req, &st,
		    afs_cache_time(fs, in, fs->opts.attr_timeout, true));
	afs_inode_put(fs->itable, in);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct afs_fs *fs = userdata;
	unsigned want = FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_READDIRPLUS |
			FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_ASYNC_READ |
			FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_ASYNC_DIO;

	conn->want |= want & conn->capable;
	/* Plain readdirplus on every call: ls -l and find need the types and
	 * sizes anyway, and a listing page carries them for free. */
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	/* A transformed view's sizes are its outputs', which a listing
	 * does not have: the kernel looks each name up (etl.h). */
	if (fs->etl)
		conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS;
	/* Writes go through to the spool file; the kernel must not cache
	 * dirty pages we would not see at close. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE);
	/* The kernel clears set-user-ID and set-group-ID bits itself on
	 * write, truncate and chown, by a chmod it sends along (without
	 * this, aisfs would have to). */
	conn->want &= ~(unsigned)FUSE_CAP_HANDLE_KILLPRIV;
	conn->max_write = 1 << 20;
	conn->max_read = 1 << 20;
	conn->max_readahead = 1 << 20;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	ais_log(LOG_INFO, "FUSE protocol %u.%u, max_write %u, readahead %u",
		conn->proto_major, conn->proto_minor, conn->max_write,
		conn->max_readahead);
	if (fs->no_open && !(conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)) {
		/* An old kernel would fail every open answered ENOSYS. */
		fs->no_open = false;
		ais_log(LOG_NOTICE, "this kernel cannot open files by itself: "
				    "every open asks aisfs (no kernel_open)");
	}
}

const struct fuse_lowlevel_ops afs_ops = {
    .init = op_init,
    .lookup = afs_op_lookup,
    .forget = afs_op_forget,
    .forget_multi = afs_op_forget_multi,
    .getattr = afs_op_getattr,
    .setattr = afs_op_setattr,
    .statfs = afs_op_statfs,
    .getxattr = afs_op_getxattr,
    .listxattr = afs_op_listxattr,
    .setxattr = afs_op_setxattr,
    .removexattr = afs_op_removexattr,
    .opendir = afs_op_opendir,
    .readdir = afs_op_readdir,
    .readdirplus = afs_op_readdirplus,
    .releasedir = afs_op_releasedir,
    .fsyncdir = afs_op_fsyncdir,
    .mkdir = afs_op_mkdir,
    .rmdir = afs_op_rmdir,
    .open = afs_op_open,
    .create = afs_op_create,
    .mknod = afs_op_mknod,
    .read = afs_op_read,
    .write = afs_op_write,
    .flush = afs_op_flush,
    .fsync = afs_op_fsync,
    .release = afs_op_release,
    .unlink = afs_op_unlink,
    .rename = afs_op_rename,
    .symlink = afs_op_symlink,
    .readlink = afs_op_readlink,
    .link = afs_op_link,
};
