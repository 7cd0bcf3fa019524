/* Files: open with close-to-open revalidation, reads straight from the
 * owner node, writes staged in a spool file and PUT whole at close/fsync.
 * Kept in one file (just over ~800 lines) because create, open, read,
 * write, flush, fsync and release all act on one life cycle: the handle
 * and the inode's spool. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "dirtime.h"
#include "etl.h"
#include "fs.h"
#include "lease.h"
#include "log.h"
#include "spool.h"
#include "writeback.h"

struct fileh {
	struct afs_inode *in; /* holds a ref */
	bool write;	      /* holds a spool user reference */
	/* A transformed view: the output this handle reads (etl.h). */
	struct afs_etl_out *etl;
	/* Read-only handles are listed (readers_mu), so that an unlink can
	 * keep the bytes they read (keep_for_readers); kept: this one
	 * holds a spool user reference since. */
	bool kept;
	struct fileh *prev, *next;
};

/* One mount per process: the read-only handles open now. */
static pthread_mutex_t readers_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fileh *readers;

/* A file unlinked while this mount's read-only handles have it open reads
 * on from a copy in the spool directory, up to this size; past it its
 * readers get ENOENT (aisfs(1), LIMITATIONS). */
#define KEEP_FOR_READERS_MAX (1ULL << 30)

/* Under in's lock: m is now known; *keep (if not NULL) says whether the
 * page cache holds its bytes (the same write as when they were cached),
 * which it does from now on. */
static void set_meta_pages(struct afs_inode *in, const struct ais_obj_meta *m,
			   bool *keep)
{
	afs_inode_set_meta(in, m);
	if (keep)
		*keep = in->have_page;
	in->have_page = true;
}

struct afs_spool *afs_spool_hold(struct afs_inode *in)
{
	struct afs_spool *sp;

	afs_inode_lock(in);
	sp = afs_inode_spool(in);
	if (sp)
		afs_iext(in)->spool_users++;
	afs_inode_unlock(in);
	return sp;
}

void afs_spool_drop(struct afs_fs *fs, struct afs_inode *in)
{
	struct afs_iext *x = afs_iext(in); /* a spool user: it has one */
	struct afs_spool *sp;
	bool tried = false, unsaved;
	int rc = 0;

	for (;;) {
		afs_inode_lock(in);
		if (x->spool_users > 1) {
			x->spool_users--;
			afs_inode_unlock(in);
			return;
		}
		/* The last user: nobody else can change it now (writers,
		 * uploads and readers all hold a user), and whoever takes it
		 * from now on takes it before this lock. */
		sp = x->spool;
		unsaved = sp->dirty && sp->loaded && !in->unlinked;
		if (!unsaved || tried) {
			x->spool = NULL;
			x->spool_users = 0;
			afs_inode_unlock(in);
			break;
		}
		afs_inode_unlock(in);
		/* The close that should have saved these bytes failed (and
		 * told the application, or the write-back log), or they
		 * changed after it: one more try before they go. */
		rc = afs_file_commit(fs, in);
		tried = true;
	}
	if (unsaved) {
		ais_log(LOG_ERR, "inode %llu: unsaved data dropped: %s",
			(unsigned long long)in->ino, strerror(rc ? rc : EIO));
		afs_wb_failed(fs);
	}
	afs_spool_free(sp);
}

/* Fetches the object into the spool. Called with sp->lock held. */
static int load_spool(struct afs_fs *fs, struct afs_inode *in,
		      struct afs_spool *sp, bool *keep_cache)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta m;
	struct afs_loc loc;
	int rc;

	rc = afs_locate(fs, in, &loc);
	/* The GET writes without asking the memory budget: on disk. */
	if (!rc)
		rc = afs_spool_reserve(sp, UINT64_MAX);
	if (rc)
		return rc;
	if (ftruncate(sp->fd, 0) < 0 || lseek(sp->fd, 0, SEEK_SET) < 0)
		return -errno;
	rc = ais_client_get_fd(fs->client, loc.bucket, loc.key, 0, 0, sp->fd,
			       &m, errmsg);
	if (rc) {
		if (ftruncate(sp->fd, 0) < 0)
			ais_log(LOG_WARNING, "spool truncate: %m");
		return -afs_errno(rc, "open", &loc, errmsg);
	}
	afs_inode_meta_room(in, &m);
	afs_inode_lock(in);
	set_meta_pages(in, &m, keep_cache);
	sp->loaded = true;
	afs_inode_unlock(in);
	return 0;
}

/* Takes a spool user reference on in, creating and loading the spool as
 * needed; trunc empties it instead of loading. */
static int attach_spool(struct afs_fs *fs, struct afs_inode *in, bool trunc,
			bool *keep_cache)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct afs_iext *x = afs_inode_ext(in);
	struct afs_spool *sp = NULL;
	int rc = 0;

	if (!x)
		return -ENOMEM;
	/* The spool file is made outside the inode's spin lock (it is a
	 * file creation); a writer that installed one meanwhile wins. */
	afs_inode_lock(in);
	if (!x->spool) {
		afs_inode_unlock(in);
		/* In memory only if it starts empty: a load would fill it
		 * without asking the budget. */
		rc = afs_spool_new(fs->opts.spool_dir, trunc, &sp, errmsg);
		if (rc) {
			ais_log(LOG_ERR, "%s", errmsg);
			return rc;
		}
		afs_inode_lock(in);
		if (!x->spool) {
			x->spool = sp;
			sp = NULL;
		}
	}
	x->spool_users++;
	afs_inode_unlock(in);
	afs_spool_free(sp); /* NULL, or the one that lost */
	sp = x->spool;	    /* stable: we hold a user reference */

	if (keep_cache)
		*keep_cache = true;
	pthread_mutex_lock(&sp->lock);
	if (trunc) {
		if (ftruncate(sp->fd, 0) < 0) {
			rc = -errno;
		} else {
			afs_inode_lock(in);
			sp->loaded = true;
			afs_spool_touch(sp);
			afs_inode_unlock(in);
			if (keep_cache)
				*keep_cache = false;
		}
	} else if (!sp->loaded) {
		rc = load_spool(fs, in, sp, keep_cache);
	}
	pthread_mutex_unlock(&sp->lock);
	if (rc) {
		afs_inode_lock(in);
		if (--x->spool_users == 0) {
			sp = x->spool;
			x->spool = NULL;
		} else {
			sp = NULL;
		}
		afs_inode_unlock(in);
		afs_spool_free(sp);
	}
	return rc;
}

int afs_put_prepare(struct afs_fs *fs, struct afs_inode *in,
		    struct afs_spool *sp, struct ais_put_opts *po,
		    struct afs_loc *loc, uint64_t *size)
{
	struct ais_obj_meta cur;
	bool unlinked;
	int rc;

	if (!sp->dirty || !sp->loaded)
		return 0;
	memset(po, 0, sizeof(*po));
	afs_inode_lock(in);
	unlinked = in->unlinked;
	afs_inode_meta_get(in, &cur);
	afs_inode_unlock(in);
	if (unlinked)
		return 0; /* still dirty, should the unlink fail */
	po->mode = cur.mode;
	if (sp->mtime_given)
		po->mtime_ns = sp->mtime_ns;
	/* An access time set apart from the mtime stays; else it moves
	 * with the mtime, as it showed. */
	if (sp->atime_set)
		po->atime_ns = sp->atime_ns;
	else if (cur.atime_ns != cur.mtime_ns)
		po->atime_ns = cur.atime_ns;
	/* The owner stays (none stays none). */
	po->owned = cur.owned;
	po->uid = cur.uid;
	po->gid = cur.gid;
	rc = afs_locate(fs, in, loc);
	if (!rc)
		rc = afs_spool_size(sp, size);
	return rc ? rc : 1;
}

void afs_put_done(struct afs_fs *fs, struct afs_inode *in, struct afs_spool *sp,
		  uint64_t gen, const struct afs_loc *loc,
		  const struct afs_trust_tok *tok,
		  const struct ais_obj_meta *out, uint32_t missing)
{
	ais_log(LOG_DEBUG, "PUT %s/%s: %llu bytes, version %llu", loc->bucket,
		loc->key, (unsigned long long)out->size,
		(unsigned long long)out->version);
	if (missing)
		ais_log(LOG_NOTICE,
			"%s/%s: stored with %u of its copies missing (a node "
			"down or full); the nodes make them when they can",
			loc->bucket, loc->key, missing);
	/* Changed since the bytes were taken (a write-back upload): still
	 * dirty, and what the node answered is not what the mount shows. */
	if (sp->gen == gen) {
		sp->dirty = false;
		afs_inode_meta_room(in, out);
		afs_inode_lock(in);
		sp->mtime_set = false;
		sp->mtime_given = false;
		sp->atime_set = false;
		set_meta_pages(in, out, NULL);
		/* Our own change is not sent back to us
		 * (ais_client_set_origin): what the PUT answered is current,
		 * unless another change of the name came in meanwhile. */
		afs_trust_set(fs, in, tok);
		afs_inode_unlock(in);
	}
	afs_trust_own(fs, loc->bucket, loc->key);
}

void afs_put_failed(struct afs_fs *fs, struct afs_inode *in,
		    const struct afs_loc *loc)
{
	/* It may have been stored all the same (an answer lost): the next
	 * open asks. */
	afs_inode_lock(in);
	in->trust = 0;
	afs_inode_unlock(in);
	afs_trust_own(fs, loc->bucket, loc->key);
}

int afs_file_commit(struct afs_fs *fs, struct afs_inode *in)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct afs_trust_tok tok;
	struct ais_put_opts po;
	struct ais_obj_meta out;
	struct afs_spool *sp;
	struct afs_loc loc;
	uint64_t size = 0;
	uint32_t missing = 0;
	int rc;

	sp = afs_spool_hold(in);
	if (!sp)
		return 0;
	pthread_mutex_lock(&sp->lock);
	afs_spool_wait_idle(sp);
	rc = afs_put_prepare(fs, in, sp, &po, &loc, &size);
	if (rc <= 0)
		goto out;
	po.copies_missing = &missing;
	afs_trust_begin(fs, loc.bucket, loc.key, &tok);
	rc = ais_client_put_fd(fs->client, loc.bucket, loc.key, sp->fd, size,
			       &po, &out, errmsg);
	if (rc) {
		afs_put_failed(fs, in, &loc);
		rc = -afs_errno(rc, "write back", &loc, errmsg);
		goto out;
	}
	afs_put_done(fs, in, sp, sp->gen, &loc, &tok, &out, missing);
out:
	pthread_mutex_unlock(&sp->lock);
	afs_spool_drop(fs, in);
	return rc < 0 ? -rc : 0;
}

int afs_file_truncate(struct afs_fs *fs, struct afs_inode *in, uint64_t size)
{
	struct afs_spool *sp;
	bool alone;
	int rc;

	rc = attach_spool(fs, in, size == 0, NULL);
	if (rc)
		return rc;
	sp = afs_inode_spool(in); /* stable: we hold a user reference */
	pthread_mutex_lock(&sp->lock);
	rc = afs_spool_reserve(sp, size);
	if (!rc && ftruncate(sp->fd, (off_t)size) < 0)
		rc = -errno;
	if (!rc) {
		afs_inode_lock(in);
		afs_spool_touch(sp);
		afs_inode_unlock(in);
	}
	pthread_mutex_unlock(&sp->lock);
	afs_inode_lock(in);
	alone = afs_iext(in)->spool_users == 1;
	afs_inode_unlock(in);
	/* truncate(2) by path: no close will follow, so save it now. */
	if (!rc && alone)
		rc = -afs_file_commit(fs, in);
	afs_spool_drop(fs, in);
	return rc;
}

static struct fileh *fileh_new(struct afs_inode *in, bool write)
{
	struct fileh *fh = calloc(1, sizeof(*fh));

	if (fh) {
		fh->in = in;
		fh->write = write;
	}
	if (fh && !write) {
		pthread_mutex_lock(&readers_mu);
		fh->next = readers;
		if (readers)
			readers->prev = fh;
		readers = fh;
		pthread_mutex_unlock(&readers_mu);
	}
	return fh;
}

/* Frees fh, dropping the spool user reference it holds (a writer's, or a
 * reader's of an unlinked file), not its inode ref. */
static void fileh_free(struct afs_fs *fs, struct fileh *fh)
{
	bool kept = false;

	if (!fh->write) {
		pthread_mutex_lock(&readers_mu);
		if (fh->prev)
			fh->prev->next = fh->next;
		else
			readers = fh->next;
		if (fh->next)
			fh->next->prev = fh->prev;
		kept = fh->kept;
		pthread_mutex_unlock(&readers_mu);
	}
	if (fh->write || kept)
		afs_spool_drop(fs, fh->in);
	afs_etl_release(fs, fh->etl);
	free(fh);
}

/* Before the DELETE of in (which has no unsaved bytes here): if read-only
 * handles have it open, its bytes go to a spool they read from until their
 * last close, as a local file's stay until then. */
static void keep_for_readers(struct afs_fs *fs, struct afs_inode *in)
{
	struct afs_iext *x;
	struct fileh *fh;
	unsigned n = 0;
	uint64_t size;
	int rc;

	pthread_mutex_lock(&readers_mu);
	for (fh = readers; fh; fh = fh->next)
		n += fh->in == in && !fh->kept;
	pthread_mutex_unlock(&readers_mu);
	if (!n)
		return;
	afs_inode_lock(in);
	size = in->meta.size;
	afs_inode_unlock(in);
	if (size > KEEP_FOR_READERS_MAX) {
		ais_log(LOG_NOTICE,
			"unlink of a file of %llu bytes open for reading: "
			"its readers lose it (more than the %llu kept)",
			(unsigned long long)size,
			(unsigned long long)KEEP_FOR_READERS_MAX);
		return;
	}
	rc = attach_spool(fs, in, false, NULL); /* one user reference */
	if (rc) {
		ais_log(LOG_WARNING,
			"unlink of a file open for reading: its bytes could "
			"not be kept for its readers (%s)",
			strerror(rc < 0 ? -rc : rc));
		return;
	}
	x = afs_iext(in);
	n = 0;
	pthread_mutex_lock(&readers_mu);
	for (fh = readers; fh; fh = fh->next) {
		if (fh->in == in && !fh->kept) {
			fh->kept = true;
			n++;
		}
	}
	/* One reference each (the first is attach_spool's). */
	if (n > 1) {
		afs_inode_lock(in);
		x->spool_users += n - 1;
		afs_inode_unlock(in);
	}
	pthread_mutex_unlock(&readers_mu);
	if (!n)
		afs_spool_drop(fs, in); /* they all closed meanwhile */
}

/* The page cache of in is kept if the bytes it holds are those of the
 * object as now known (in->meta), which they are from now on. */
static bool keep_pages(struct afs_inode *in)
{
	bool keep;

	afs_inode_lock(in);
	keep = in->have_page;
	in->have_page = true;
	afs_inode_unlock(in);
	return keep;
}

/* Close-to-open for a shard member: its metadata carries the shard's
 * version, so the page cache survives as long as the shard is unchanged
 * (a second epoch over a data set is served from memory). The shard's
 * version is what is revalidated: while the cluster confirmed it within
 * attr_timeout (the kernel looks the shard up again every entry_timeout
 * on the way to its members), an open costs no round trip at all. */
static int open_member(struct afs_fs *fs, struct afs_inode *in, bool *keep)
{
	struct ais_obj_meta m, n;
	int rc;

	if (afs_member_fresh(fs, in)) {
		*keep = keep_pages(in);
		return 0;
	}
	rc = afs_member_head(fs, in, "open", &m);
	if (rc)
		return rc;
	if (afs_member_kind(-1, m.mode) != AFS_MFILE)
		return -ENOENT; /* the shard was rewritten */
	afs_member_norm(&m, &n);
	afs_inode_lock(in);
	set_meta_pages(in, &n, keep);
	in->seen_ns = ais_now_mono_ns();
	afs_inode_unlock(in);
	afs_shard_confirm(in, m.version);
	return 0;
}

/* The metadata of in is current without asking: a lease says nothing
 * changed since the cluster confirmed it (lease.h), or, with nocto, it
 * was confirmed (lookup, listing, getattr or open) less than attr_timeout
 * ago. */
static bool file_fresh(struct afs_fs *fs, struct afs_inode *in)
{
	uint64_t window = (uint64_t)(fs->opts.attr_timeout * 1e9);
	bool fresh;

	afs_inode_lock(in);
	fresh = in->have_meta && (afs_trusted(fs, in) ||
				  (fs->opts.nocto && window && in->seen_ns &&
				   ais_now_mono_ns() - in->seen_ns < window));
	afs_inode_unlock(in);
	return fresh;
}

void afs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	int acc = fi->flags & O_ACCMODE;
	bool write = acc == O_WRONLY || acc == O_RDWR, keep = false;
	struct afs_inode *in;
	struct afs_trust_tok tok;
	struct afs_etl_out *etl = NULL;
	struct ais_obj_meta m;
	struct afs_loc loc;
	struct fileh *fh;
	int rc = 0;

	if (fs->no_open) {
		/* The kernel opens by itself from now on: no handle, no
		 * release, the page cache kept (afs_fs.no_open). The first
		 * open of the mount gets here, and succeeds. */
		static atomic_bool told;

		if (!atomic_exchange(&told, true))
			ais_log(LOG_INFO, "read-only: files are opened by the "
					  "kernel from now on (kernel_open)");
		fuse_reply_err(req, ENOSYS);
		return;
	}
	in = afs_inode_get(fs->itable, ino);
	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (in->kind == AFS_MFILE) {
		rc = write ? -EROFS : open_member(fs, in, &keep);
		if (rc)
			goto err;
		goto opened;
	}
	if (in->kind == AFS_MLINK) {
		rc = -ELOOP;
		goto err;
	}
	if (in->kind != AFS_FILE) {
		rc = -EISDIR;
		goto err;
	}
	if (write) {
		if (fs->opts.ro) {
			rc = -EROFS;
			goto err;
		}
		rc = attach_spool(fs, in, (fi->flags & O_TRUNC) != 0, &keep);
		if (rc)
			goto err;
	} else if (afs_has_local_data(in)) {
		/* Written through this mount: the page cache is current. */
		keep = true;
	} else if (file_fresh(fs, in)) {
		keep = keep_pages(in);
	} else {
		/* Close-to-open: whatever changed since our last open must
		 * not be served from the page cache. */
		rc = afs_locate(fs, in, &loc);
		ais_log(LOG_DEBUG, "open %llu: asking (trust %u, lease %d)",
			(unsigned long long)in->ino, in->trust,
			afs_lease_valid(fs));
		if (!rc) {
			afs_trust_begin(fs, loc.bucket, loc.key, &tok);
			rc = ais_client_head(fs->client, loc.bucket, loc.key,
					     &m, errmsg);
		}
		if (rc) {
			rc = -afs_errno(rc, "open", &loc, errmsg);
			goto err;
		}
		afs_inode_meta_room(in, &m);
		afs_inode_lock(in);
		set_meta_pages(in, &m, &keep);
		in->seen_ns = ais_now_mono_ns();
		afs_trust_set(fs, in, &tok);
		afs_inode_unlock(in);
	}
opened:
	if (fs->etl && !write) {
		/* What this handle reads, fixed at open; the kernel's pages
		 * and size may be an earlier run's. */
		rc = afs_etl_hold(fs, in, &etl);
		if (rc)
			goto err;
		keep = false;
	}
	/* The object is not the one whose pages the kernel holds: its
	 * cached attributes (the size reads stop at) go too, as they may be
	 * kept long (lease_timeout). Attributes only: this never blocks. */
	if (!keep && fs->se)
		(void)fuse_lowlevel_notify_inval_inode(fs->se, afs_nodeid(in),
						       -1, 0);
	fh = fileh_new(in, write);
	if (!fh) {
		afs_etl_release(fs, etl);
		rc = -ENOMEM;
		goto err_drop;
	}
	fh->etl = etl;
	fi->fh = (uintptr_t)fh;
	fi->keep_cache = keep;
	/* Closing a read-only descriptor has nothing to save: no FLUSH round
	 * trip for close(2) to wait on. */
	fi->noflush = !write;
	if (fuse_reply_open(req, fi) != 0) {
		fileh_free(fs, fh);
		afs_inode_put(fs->itable, in);
	}
	return;
err_drop:
	if (write)
		afs_spool_drop(fs, in);
err:
	fuse_reply_err(req, -rc);
	afs_inode_put(fs->itable, in);
}

/* Checks a new file name under parent and locates parent. */
static int new_file_start(struct afs_fs *fs, fuse_ino_t parent_ino,
			  const char *name, struct afs_inode **parent,
			  struct afs_loc *loc, char *key, size_t keylen)
{
	int rc;

	if (fs->opts.ro)
		return -EROFS;
	*parent = afs_inode_get(fs->itable, parent_ino);
	if (!*parent)
		return -ESTALE;
	if (afs_kind_in_shard((*parent)->kind))
		rc = -EROFS;
	else if ((*parent)->kind != AFS_DIR)
		rc = -ENOTDIR;
	else if (strcmp(name, AFS_DIR_MARKER) == 0)
		rc = -EINVAL;
	else
		rc = afs_locate(fs, *parent, loc);
	/* Only buckets live at the root of a mount without bucket=. */
	if (!rc && !loc->bucket[0])
		rc = -EPERM;
	if (!rc)
		rc = afs_child_key(loc->key, name, key, keylen);
	if (rc) {
		afs_inode_put(fs->itable, *parent);
		*parent = NULL;
	}
	return rc;
}

void afs_op_create(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		   mode_t mode, struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	char key[AIS_NAME_MAX + 1];
	struct afs_inode *parent = NULL, *in;
	struct fuse_entry_param e;
	struct ais_obj_meta m;
	struct afs_loc loc;
	struct fileh *fh;
	uint32_t ouid, ogid;
	bool local;
	int rc, kind;

	rc = new_file_start(fs, parent_ino, name, &parent, &loc, key,
			    sizeof(key));
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	afs_creator(req, parent, &ouid, &ogid, NULL);
	/* A file written here exists, uploaded or not. In a directory this
	 * mount made, a name the table does not have is missing
	 * (afs_dir_complete); others are asked about. */
	in = (fi->flags & O_EXCL) ? afs_inode_find(fs->itable, parent, name)
				  : NULL;
	local = in && in->kind == AFS_FILE && afs_has_local_data(in);
	afs_inode_put(fs->itable, in);
	if (local) {
		fuse_reply_err(req, EEXIST);
		goto out;
	}
	if ((fi->flags & O_EXCL) && (in || !afs_dir_complete(fs, parent))) {
		rc = afs_resolve(fs, loc.bucket, key, &kind, &m);
		if (rc == 0)
			rc = -EEXIST;
		else if (rc == -ENOENT)
			rc = 0;
		if (rc) {
			fuse_reply_err(req,
				       afs_errno(rc, "create", &loc, errmsg));
			goto out;
		}
	}
	in = afs_inode_link(fs->itable, parent, name, AFS_FILE);
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	afs_inode_owner_room(in, ouid, ogid);
	afs_inode_lock(in);
	if (!afs_inode_spool(in)) {
		memset(&in->meta, 0, sizeof(in->meta));
		/* S_IFREG says "exactly these bits", 0000 included
		 * (a mode of 0 means "the default" on the wire). */
		in->meta.mode = S_IFREG | (mode & 07777);
		in->meta.mtime_ns = ais_now_real_ns();
		afs_inode_set_times(in, in->meta.mtime_ns, in->meta.mtime_ns);
		afs_inode_set_owner(in, ouid, ogid);
		in->have_meta = true;
		in->have_page = false;
	}
	in->unlinked = false;
	afs_inode_unlock(in);
	/* A new file starts empty and is PUT at close even if nothing is
	 * written to it. */
	rc = attach_spool(fs, in, true, NULL);
	if (rc)
		goto err_forget;
	fh = fileh_new(in, true);
	if (!fh) {
		rc = -ENOMEM;
		afs_spool_drop(fs, in);
		goto err_forget;
	}
	rc = afs_fill_entry(fs, in, &e);
	if (rc) {
		fileh_free(fs, fh);
		goto err_forget;
	}
	fi->fh = (uintptr_t)fh;
	fi->keep_cache = 0;
	afs_dirtime_touch(fs, parent);
	if (fuse_reply_create(req, &e, fi) != 0) {
		fileh_free(fs, fh);
		afs_inode_forget(fs->itable, afs_nodeid(in), 1);
		afs_inode_put(fs->itable, in);
	}
	/* The handle keeps the ref afs_inode_link gave us. */
	goto out;
err_forget:
	afs_inode_forget(fs->itable, afs_nodeid(in), 1);
	afs_inode_put(fs->itable, in);
	fuse_reply_err(req, -rc);
out:
	afs_inode_put(fs->itable, parent);
}

/* The object m just made as name in parent: into the table, and the
 * reply. */
static void reply_made(fuse_req_t req, struct afs_fs *fs,
		       struct afs_inode *parent, const char *name,
		       const struct ais_obj_meta *m)
{
	struct fuse_entry_param e;
	struct afs_inode *in;

	afs_dirtime_touch(fs, parent);
	in = afs_inode_link(fs->itable, parent, name, AFS_FILE);
	if (!in) {
		afs_inode_forget_made(parent); /* made, not in the table */
		fuse_reply_err(req, ENOMEM);
		return;
	}
	afs_inode_meta_room(in, m);
	afs_inode_lock(in);
	afs_inode_set_meta(in, m);
	afs_inode_unlock(in);
	afs_fill_entry(fs, in, &e);
	if (fuse_reply_entry(req, &e) != 0)
		afs_inode_forget(fs->itable, afs_nodeid(in), 1);
	afs_inode_put(fs->itable, in);
}

/* A name this mount holds with bytes not in the cluster yet (a spool, a
 * queued write-back): there all the same. */
static bool held_here(struct afs_fs *fs, struct afs_inode *parent,
		      const char *name)
{
	struct afs_inode *in = afs_inode_find(fs->itable, parent, name);
	bool held = in && afs_has_local_data(in);

	afs_inode_put(fs->itable, in);
	return held;
}

/* mknod and symlink: an object made at once (durable when the call
 * returns, refused if the name exists), with mode (S_IFREG or S_IFLNK and
 * the bits) and len bytes of body, then entered as the reply. */
static void make_object(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
			uint32_t mode, const void *body, size_t len,
			const char *what)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	char key[AIS_NAME_MAX + 1];
	struct afs_inode *parent = NULL;
	struct ais_put_opts po;
	struct ais_obj_meta m;
	struct afs_loc loc;
	int rc;

	rc = new_file_start(fs, parent_ino, name, &parent, &loc, key,
			    sizeof(key));
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (held_here(fs, parent, name)) {
		fuse_reply_err(req, EEXIST);
		goto out;
	}
	memset(&po, 0, sizeof(po));
	po.mode = mode;
	po.no_overwrite = true;
	afs_creator(req, parent, &po.uid, &po.gid, NULL);
	po.owned = true;
	rc = ais_client_put_buf(fs->client, loc.bucket, key, body, len, &po, &m,
				errmsg);
	afs_trust_own(fs, loc.bucket, key);
	if (rc)
		fuse_reply_err(req, afs_errno(rc, what, &loc, errmsg));
	else
		reply_made(req, fs, parent, name, &m);
out:
	afs_inode_put(fs->itable, parent);
}

void afs_op_mknod(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		  mode_t mode, dev_t rdev)
{
	(void)rdev;
	/* FIFOs, sockets and devices are not kept: refused before anything
	 * is made. */
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	make_object(req, parent_ino, name, S_IFREG | (mode & 07777), "", 0,
		    "mknod");
}

void afs_op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent_ino,
		    const char *name)
{
	size_t len = strlen(target);

	if (len == 0) {
		fuse_reply_err(req, ENOENT); /* as symlink(2) says */
		return;
	}
	if (len > AFS_LINK_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	make_object(req, parent_ino, name, AFS_LINK_MODE, target, len,
		    "symlink");
}

/* link(2): an object has no inode to share. The new name gets a copy of
 * the object made now, bytes, mode, times and owner (the source's unsaved
 * bytes on this mount saved first), and each name is a file of its own
 * from then on, with one link (aisfs(1), NAMESPACE). */
void afs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		 const char *newname)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	char key[AIS_NAME_MAX + 1];
	struct afs_inode *src, *parent = NULL;
	struct ais_obj_meta m, got;
	struct afs_loc sloc = {.bucket = ""}, loc;
	struct ais_put_opts po;
	int rc, fd = -1;

	src = afs_inode_get(fs->itable, ino);
	if (!src) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = new_file_start(fs, newparent, newname, &parent, &loc, key,
			    sizeof(key));
	if (!rc && afs_kind_in_shard(src->kind))
		rc = -EXDEV; /* a member is no object of its own */
	else if (!rc && src->kind != AFS_FILE)
		rc = -EPERM;
	else if (!rc && held_here(fs, parent, newname))
		rc = -EEXIST;
	if (rc) {
		fuse_reply_err(req, -rc);
		goto out;
	}
	if (afs_has_local_data(src)) {
		rc = afs_file_commit(fs, src);
		if (rc) {
			fuse_reply_err(req, rc);
			goto out;
		}
	}
	rc = afs_locate(fs, src, &sloc);
	if (!rc)
		rc = fd = afs_spool_tmpfile(fs->opts.spool_dir);
	if (rc >= 0)
		rc = ais_client_get_fd(fs->client, sloc.bucket, sloc.key, 0, 0,
				       fd, &m, errmsg);
	if (rc < 0) {
		fuse_reply_err(req, afs_errno(rc, "link", &sloc, errmsg));
		goto out;
	}
	memset(&po, 0, sizeof(po));
	po.mode = m.mode;
	po.mtime_ns = m.mtime_ns;
	po.atime_ns = m.atime_ns;
	po.uid = m.uid;
	po.gid = m.gid;
	po.owned = m.owned;
	po.no_overwrite = true;
	rc = ais_client_put_fd(fs->client, loc.bucket, key, fd, m.size, &po,
			       &got, errmsg);
	afs_trust_own(fs, loc.bucket, key);
	if (rc)
		fuse_reply_err(req, afs_errno(rc, "link", &loc, errmsg));
	else
		reply_made(req, fs, parent, newname, &got);
out:
	if (fd >= 0)
		close(fd);
	afs_inode_put(fs->itable, parent);
	afs_inode_put(fs->itable, src);
}

bool afs_inode_is_link(struct afs_inode *in)
{
	bool link;

	afs_inode_lock(in);
	link = in->kind == AFS_FILE && in->have_meta &&
	       afs_mode_is_link(in->meta.mode);
	afs_inode_unlock(in);
	return link;
}

struct link_buf {
	char data[AFS_LINK_MAX + 1];
	size_t len;
};

static int link_buf_put(void *arg, const void *buf, size_t len)
{
	struct link_buf *b = arg;

	if (len > AFS_LINK_MAX - b->len)
		return -ENAMETOOLONG;
	memcpy(b->data + b->len, buf, len);
	b->len += len;
	return 0;
}

void afs_file_readlink(fuse_req_t req, struct afs_fs *fs, struct afs_inode *in)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct link_buf b = {.len = 0};
	struct ais_obj_meta m = {0};
	struct afs_loc loc;
	int rc;

	/* Read from the cluster at every call: the kernel caches no target
	 * of a mount's link, and a link's name may point elsewhere now. */
	rc = afs_locate(fs, in, &loc);
	if (!rc)
		rc = ais_client_get_cb(fs->client, loc.bucket, loc.key, 0, 0,
				       link_buf_put, &b, &m, errmsg);
	/* m comes before the bytes: a file too big for a target is no
	 * link, whatever stopped the read. */
	if (rc && (m.version == 0 || afs_mode_is_link(m.mode))) {
		fuse_reply_err(req, afs_errno(rc, "readlink", &loc, errmsg));
		return;
	}
	afs_inode_meta_room(in, &m);
	afs_inode_lock(in);
	afs_inode_set_meta(in, &m);
	afs_inode_unlock(in);
	if (!afs_mode_is_link(m.mode)) {
		fuse_reply_err(req, EINVAL); /* replaced by a file meanwhile */
		return;
	}
	b.data[b.len] = 0;
	fuse_reply_readlink(req, b.data);
}

/* A read found the object (or the shard of a member) at version v: if that
 * is not the version the open relied on, it was replaced meanwhile. The
 * next open must ask the cluster, whatever nocto or a recent confirmation
 * of the shard say. */
static void check_version(struct afs_inode *in, uint64_t v)
{
	bool changed;

	afs_inode_lock(in);
	/* The version its pages were cached at, or a later one the
	 * cluster told since (the next open drops those pages anyway). */
	changed = in->have_meta && in->meta.version != v;
	if (changed) {
		in->seen_ns = 0;
		in->trust = 0;
	}
	afs_inode_unlock(in);
	if (!changed)
		return;
	/* No trust: the next lookup of the name asks the node, and on a
	 * no_open mount gives it a new inode (afs_inode_link_ident). */
	ais_log(LOG_DEBUG, "inode %llu: version %llu on the node, read anyway",
		(unsigned long long)in->ino, (unsigned long long)v);
	if (afs_kind_is_member(in->kind))
		afs_shard_doubt(in);
}

/* One read buffer per FUSE worker thread, grown to the largest read it
 * served (max_read, 1 MiB, at most) and freed when the thread exits: no
 * allocation, and no fresh pages to fault in, per read. */
static pthread_key_t rbuf_key;
static pthread_once_t rbuf_once = PTHREAD_ONCE_INIT;
static bool rbuf_ok;

struct rbuf {
	size_t cap;
	char data[];
};

static void rbuf_init(void)
{
	rbuf_ok = pthread_key_create(&rbuf_key, free) == 0;
}

/* A buffer of at least size bytes: the thread's (do not free), or, when
 * there can be none, a heap one in *heap (free it). NULL on ENOMEM. */
static char *read_buf(size_t size, char **heap)
{
	struct rbuf *rb;

	*heap = NULL;
	pthread_once(&rbuf_once, rbuf_init);
	if (!rbuf_ok)
		return *heap = malloc(size ? size : 1);
	rb = pthread_getspecific(rbuf_key);
	if (rb && rb->cap >= size)
		return rb->data;
	free(rb);
	pthread_setspecific(rbuf_key, NULL);
	rb = malloc(sizeof(*rb) + (size ? size : 1));
	if (!rb)
		return NULL;
	rb->cap = size ? size : 1;
	if (pthread_setspecific(rbuf_key, rb) != 0) {
		free(rb);
		return *heap = malloc(size ? size : 1);
	}
	return rb->data;
}

void afs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct fileh *fh = (struct fileh *)(uintptr_t)fi->fh;
	/* No handle: the kernel opened it by itself (no_open). */
	struct afs_inode *in = fh ? fh->in : afs_inode_get(fs->itable, ino);
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct afs_spool *sp;
	struct afs_loc loc;
	size_t got = 0;
	char *buf, *heap;
	ssize_t n;
	int rc = 0;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (!fh) {
		/* The kernel caches what this read returns, as of the
		 * object it has the attributes of (or newer: check_version) */
		afs_inode_lock(in);
		in->have_page = true;
		afs_inode_unlock(in);
	}
	buf = read_buf(size, &heap);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		if (!fh)
			afs_inode_put(fs->itable, in);
		return;
	}
	if (fh && fh->etl) {
		n = ais_pread_upto(fh->etl->fd, buf, size, (uint64_t)off);
		rc = n < 0 ? (int)n : 0;
		got = n < 0 ? 0 : (size_t)n;
		goto reply;
	}
	sp = afs_spool_hold(in);
	if (sp && !afs_has_local_data(in)) {
		afs_spool_drop(fs, in);
		sp = NULL;
	}
	if (sp) {
		ssize_t n = ais_pread_upto(sp->fd, buf, size, (uint64_t)off);

		rc = n < 0 ? (int)n : 0;
		got = n < 0 ? 0 : (size_t)n;
		afs_spool_drop(fs, in);
		goto reply;
	}
	rc = afs_locate(fs, in, &loc);
	/* A short count means the end of the object, which the kernel would
	 * take as such: keep asking until the buffer is full or EOF. The
	 * answer carries the object's size, so a read that reaches it is the
	 * last (the kernel asks for whole pages past the end: that must not
	 * cost a second round trip). A shard member is one ranged read of
	 * exactly these bytes. */
	while (!rc && got < size) {
		struct ais_obj_meta m;

		memset(&m, 0, sizeof(m));
		m.size = UINT64_MAX;
		if (loc.in_shard)
			n = ais_client_member_read(
			    fs->client, loc.bucket, loc.key,
			    afs_loc_member(&loc), (uint64_t)off + got,
			    buf + got, size - got, &m, errmsg);
		else
			n = ais_client_read(fs->client, loc.bucket, loc.key,
					    (uint64_t)off + got, buf + got,
					    size - got, &m, errmsg);
		if (n < 0)
			rc = -afs_errno((int)n, "read", &loc, errmsg);
		else if (n == 0)
			break;
		else
			got += (size_t)n;
		if (n >= 0 && m.version)
			check_version(in, m.version);
		if (n > 0 && (uint64_t)off + got >= m.size)
			break;
	}
reply:
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, got);
	free(heap);
	if (!fh)
		afs_inode_put(fs->itable, in);
}

void afs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		  off_t off, struct fuse_file_info *fi)
{
	struct fileh *fh = (struct fileh *)(uintptr_t)fi->fh;
	struct afs_spool *sp;
	int rc;

	if (!fh || !fh->write) {
		fuse_reply_err(req, EBADF);
		return;
	}
	sp = afs_inode_spool(fh->in); /* stable: the handle holds a user
					 reference */
	pthread_mutex_lock(&sp->lock);
	rc = afs_spool_reserve(sp, (uint64_t)off + size);
	if (!rc)
		rc = ais_pwrite_all(sp->fd, buf, size, (uint64_t)off);
	if (!rc) {
		afs_inode_lock(fh->in);
		afs_spool_touch(sp);
		afs_inode_unlock(fh->in);
	}
	pthread_mutex_unlock(&sp->lock);
	if (rc) {
		ais_log(LOG_ERR, "spool write: %s", strerror(-rc));
		fuse_reply_err(req, -rc);
	} else {
		fuse_reply_write(req, size);
	}
}

void afs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct fileh *fh = (struct fileh *)(uintptr_t)fi->fh;

	/* No handle (no_open, read-only): nothing to save, and ENOSYS
	 * tells the kernel not to send flushes any more. */
	if (!fh)
		fuse_reply_err(req, ENOSYS);
	else if (!fh->write || afs_wb_queue(fs, fh->in))
		fuse_reply_err(req, 0);
	else
		fuse_reply_err(req, afs_file_commit(fs, fh->in));
}

void afs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct fileh *fh = (struct fileh *)(uintptr_t)fi->fh;

	/* Any handle: a write-back upload of bytes another one wrote is
	 * waited for (and made, if it was not on its way yet). */
	fuse_reply_err(req, fh ? afs_file_commit(fs, fh->in) : 0);
}

void afs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct fileh *fh = (struct fileh *)(uintptr_t)fi->fh;

	if (fh) {
		struct afs_inode *in = fh->in;

		fileh_free(fs, fh);
		afs_inode_put(fs->itable, in);
	}
	fuse_reply_err(req, 0);
}

struct afs_spool *afs_unlink_begin(struct afs_fs *fs, struct afs_inode *in,
				   bool *was)
{
	struct afs_spool *sp = afs_spool_hold(in);

	afs_inode_lock(in);
	*was = in->unlinked;
	in->unlinked = true;
	afs_inode_unlock(in);
	if (sp) {
		pthread_mutex_lock(&sp->lock);
		afs_spool_wait_idle(sp);
		pthread_mutex_unlock(&sp->lock);
	}
	return sp;
}

void afs_unlink_end(struct afs_fs *fs, struct afs_inode *in,
		    struct afs_spool *sp, bool failed, bool was)
{
	if (failed && !was) {
		afs_inode_lock(in);
		in->unlinked = false;
		afs_inode_unlock(in);
	}
	/* Still there: the last user saves its bytes. */
	if (sp)
		afs_spool_drop(fs, in);
}

void afs_op_unlink(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	char key[AIS_NAME_MAX + 1];
	struct afs_inode *parent = NULL, *child;
	struct afs_spool *sp = NULL;
	struct afs_loc loc;
	bool local = false, was = false;
	int rc;

	rc = new_file_start(fs, parent_ino, name, &parent, &loc, key,
			    sizeof(key));
	if (rc) {
		fuse_reply_err(req, rc == -EINVAL ? ENOENT : -rc);
		return;
	}
	child = afs_inode_find(fs->itable, parent, name);
	if (child)
		local = afs_has_local_data(child);
	if (local)
		sp = afs_unlink_begin(fs, child, &was);
	else if (child && child->kind == AFS_FILE)
		keep_for_readers(fs, child);
	rc = ais_client_delete(fs->client, loc.bucket, key, errmsg);
	afs_trust_own(fs, loc.bucket, key);
	if (rc == -ENOENT && local)
		rc = 0; /* created here, never written back */
	if (local)
		afs_unlink_end(fs, child, sp, rc != 0, was);
	if (rc) {
		fuse_reply_err(req, afs_errno(rc, "unlink", &loc, errmsg));
		goto out;
	}
	if (child) {
		afs_inode_lock(child);
		child->unlinked = true;
		afs_inode_unlock(child);
		afs_inode_unhash(fs->itable, child);
	}
	afs_dirtime_touch(fs, parent);
	fuse_reply_err(req, 0);
out:
	afs_inode_put(fs->itable, child);
	afs_inode_put(fs->itable, parent);
}
