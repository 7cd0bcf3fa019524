/* Name lookup, attributes, statfs and the read-only metadata xattrs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "dirtime.h"
#include "fs.h"
#include "lease.h"
#include "log.h"
#include "spool.h"
#include "writeback.h"

#define XATTR_CKSUM   "user.ais.checksum"
#define XATTR_VERSION "user.ais.version"

bool afs_has_staged(struct afs_inode *in)
{
	struct afs_spool *sp = afs_inode_spool(in);

	return sp && sp->loaded;
}

bool afs_has_local_data(struct afs_inode *in)
{
	bool local;

	afs_inode_lock(in);
	local = afs_has_staged(in);
	afs_inode_unlock(in);
	return local;
}

bool afs_dir_complete(struct afs_fs *fs, struct afs_inode *dir)
{
	struct afs_iext *x = afs_iext(dir);
	struct afs_trust_tok made;

	if (!x)
		return false;
	afs_inode_lock(dir);
	made = x->made;
	afs_inode_unlock(dir);
	return made.gen && afs_trust_dir(fs, &made);
}

/* Stores fresh metadata from the cluster unless local staged data rules. */
static void set_meta(struct afs_fs *fs, struct afs_inode *in,
		     const struct ais_obj_meta *m)
{
	bool stale = false;

	afs_inode_meta_room(in, m);
	afs_inode_lock(in);
	if (!afs_has_staged(in))
		stale = afs_inode_set_meta(in, m);
	afs_inode_unlock(in);
	afs_pages_stale(fs, in, stale);
}

static void reply_entry(fuse_req_t req, struct afs_fs *fs,
			struct afs_inode *parent, const char *name, int kind,
			const struct ais_obj_meta *m, bool confirmed,
			const struct afs_trust_tok *tok)
{
	struct afs_inode *in;

	/* A mount whose opens do not reach aisfs: another write of the
	 * name is another inode (afs_inode_link_ident). */
	in = afs_inode_link_ident(
	    fs->itable, parent, name, kind, 0,
	    fs->no_open && m && kind == AFS_FILE ? afs_meta_ident(m) : 0);
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (m)
		set_meta(fs, in, m);
	if (m && kind == AFS_DIR)
		afs_dir_meta_asked(in);
	if (confirmed) {
		afs_inode_lock(in);
		in->seen_ns = ais_now_mono_ns();
		if (tok && kind != AFS_DIR)
			afs_trust_set(fs, in, tok);
		afs_inode_unlock(in);
	}
	afs_reply_entry(req, fs, in);
}

static void reply_negative(fuse_req_t req, struct afs_fs *fs)
{
	struct fuse_entry_param e;

	if (fs->opts.negative_timeout <= 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.entry_timeout = fs->opts.negative_timeout;
	fuse_reply_entry(req, &e);
}

/* shards=view: the view name missed; stem (in loc's directory) is the
 * archive whose view it would be. 0 with *kind AFS_SHARD and *m the
 * archive's metadata, key its name and *tok its trust token; -ENOENT if
 * stem is no archive object (missing, a directory, a link); -errno. */
static int lookup_view(struct afs_fs *fs, const struct afs_loc *loc,
		       const char *stem, char *key, size_t keylen,
		       struct afs_trust_tok *tok, int *kind,
		       struct ais_obj_meta *m)
{
	int rc = afs_child_key(loc->key, stem, key, keylen);

	if (rc)
		return rc == -EINVAL ? -ENOENT : rc;
	afs_trust_begin(fs, loc->bucket, key, tok);
	rc = afs_resolve(fs, loc->bucket, key, kind, m);
	if (rc)
		return rc;
	if (*kind != AFS_FILE || afs_mode_is_link(m->mode))
		return -ENOENT;
	*kind = AFS_SHARD;
	return 0;
}

static void refresh_dir(struct afs_fs *fs, struct afs_inode *in);

void afs_op_lookup(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	char key[AIS_NAME_MAX + 1];
	struct afs_inode *parent, *child;
	struct afs_trust_tok tok = {0};
	struct ais_obj_meta m = {0};
	struct afs_loc loc;
	bool known_dir = false, fresh, stale = false, trusted, have;
	char stem[AIS_COMPONENT_MAX + 1];
	bool view;
	int rc, kind = 0;

	parent = afs_inode_get(fs->itable, parent_ino);
	if (!parent) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (!afs_kind_is_dir(parent->kind)) {
		fuse_reply_err(req, ENOTDIR);
		goto out;
	}
	if (strlen(name) > AIS_COMPONENT_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		goto out;
	}
	if (parent->kind != AFS_DIR) {
		afs_shard_lookup(req, fs, parent, name);
		goto out;
	}
	view = afs_shard_view_stem(fs, name, stem, sizeof(stem));
	if (strcmp(name, AFS_DIR_MARKER) == 0) {
		reply_negative(req, fs);
		goto out;
	}
	/* A file being written here and not yet PUT exists only locally. */
	child = afs_inode_find(fs->itable, parent, name);
	if (child) {
		bool local =
		    child->kind == AFS_FILE && afs_has_local_data(child);

		known_dir = child->kind == AFS_DIR;
		afs_inode_lock(child);
		fresh = known_dir &&
			ais_now_mono_ns() - child->seen_ns < AFS_DIR_TRUST_NS;
		/* A lease says it has not changed since it was confirmed. */
		trusted =
		    !known_dir && child->have_meta && afs_trusted(fs, child);
		afs_inode_unlock(child);
		/* Answered with what we hold, unless the name was given
		 * another inode meanwhile (then it is asked for). */
		if ((fresh || local || trusted) &&
		    afs_inode_relink(fs->itable, child)) {
			/* Known to exist; its attributes may have
			 * changed elsewhere. */
			if (known_dir)
				refresh_dir(fs, child);
			afs_inode_put(fs->itable, child);
			afs_reply_entry(req, fs, child);
			goto out;
		}
		afs_inode_put(fs->itable, child);
	} else if (!view && afs_dir_complete(fs, parent)) {
		/* Made here, and nothing made in it since but by us. */
		reply_negative(req, fs);
		goto out;
	}
	rc = afs_locate(fs, parent, &loc);
	if (rc) {
		fuse_reply_err(req, -rc);
		goto out;
	}
	if (!loc.bucket[0]) {
		if (ais_name_check_bucket(name, NULL) != 0) {
			reply_negative(req, fs);
			goto out;
		}
		rc = ais_client_bucket_head(fs->client, name, errmsg);
		kind = AFS_DIR;
	} else {
		rc = afs_child_key(loc.key, name, key, sizeof(key));
		if (rc == -EINVAL) {
			reply_negative(req, fs);
			goto out;
		}
		if (rc == 0) {
			afs_trust_begin(fs, loc.bucket, key, &tok);
			rc = afs_resolve(fs, loc.bucket, key, &kind, &m);
		}
		/* "x.tar.d", no such name: the members of x.tar. */
		if (rc == -ENOENT && view)
			rc = lookup_view(fs, &loc, stem, key, sizeof(key), &tok,
					 &kind, &m);
	}
	if (rc == -ENOENT) {
		reply_negative(req, fs);
		goto out;
	}
	if (rc && known_dir) {
		/* A directory is a prefix that may span every node: while one
		 * node is unreachable, keep the one the kernel already knows
		 * so that paths through it still reach the nodes that are up.
		 */
		ais_log(LOG_INFO, "lookup %s/%s/%s: %s (keeping the directory)",
			loc.bucket, loc.key, name,
			errmsg[0] ? errmsg : strerror(-rc));
		rc = 0;
		kind = AFS_DIR;
		stale = true;
	}
	if (rc) {
		if (loc.bucket[0])
			snprintf(loc.key, sizeof(loc.key), "%s", key);
		fuse_reply_err(req, afs_errno(rc, "lookup", &loc, errmsg));
		goto out;
	}
	/* A symbolic link named like an archive stays a link. */
	if (kind == AFS_FILE && afs_is_shard_name(fs, name) &&
	    !afs_mode_is_link(m.mode))
		kind = AFS_SHARD;
	have = kind != AFS_DIR;
	if (kind == AFS_DIR && !stale)
		have = afs_dir_meta(fs, loc.bucket[0] ? loc.bucket : name,
				    loc.bucket[0] ? key : "", &m) == 0;
	reply_entry(req, fs, parent, name, kind, have ? &m : NULL, !stale,
		    &tok);
out:
	afs_inode_put(fs->itable, parent);
}

void afs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct afs_fs *fs = fuse_req_userdata(req);

	afs_inode_forget(fs->itable, ino, nlookup);
	fuse_reply_none(req);
}

void afs_op_forget_multi(fuse_req_t req, size_t count,
			 struct fuse_forget_data *forgets)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	size_t i;

	for (i = 0; i < count; i++)
		afs_inode_forget(fs->itable, forgets[i].ino,
				 forgets[i].nlookup);
	fuse_reply_none(req);
}

/* HEADs a file inode without local data and refreshes its metadata. */
static int refresh_file(struct afs_fs *fs, struct afs_inode *in)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct afs_trust_tok tok;
	bool trusted;
	struct ais_obj_meta m;
	struct afs_loc loc;
	int rc;

	if (afs_kind_is_member(in->kind))
		return afs_member_refresh(fs, in);
	if ((in->kind != AFS_FILE && in->kind != AFS_SHARD) ||
	    afs_has_local_data(in))
		return 0;
	afs_inode_lock(in);
	trusted = in->have_meta && afs_trusted(fs, in);
	afs_inode_unlock(in);
	if (trusted)
		return 0;
	rc = afs_locate(fs, in, &loc);
	if (rc)
		return rc;
	afs_trust_begin(fs, loc.bucket, loc.key, &tok);
	rc = ais_client_head(fs->client, loc.bucket, loc.key, &m, errmsg);
	if (rc)
		return -afs_errno(rc, "getattr", &loc, errmsg);
	set_meta(fs, in, &m);
	afs_inode_lock(in);
	in->seen_ns = ais_now_mono_ns(); /* confirmed (nocto, shards) */
	afs_trust_set(fs, in, &tok);
	afs_inode_unlock(in);
	return 0;
}

/* A directory's attributes, asked again each time the kernel's copy
 * expires (they are kept in its marker: afs_dir_meta). A node that does
 * not answer leaves them as they were: a directory spans nodes, and the
 * others may be up. */
static void refresh_dir(struct afs_fs *fs, struct afs_inode *in)
{
	char marker[AIS_NAME_MAX + 1];
	struct afs_trust_tok tok;
	struct ais_obj_meta m;
	struct afs_loc loc;
	bool fresh;
	int rc;

	/* The kernel asks again after every name made in a directory (its
	 * permission check): under a lease on the marker (a change of it
	 * drops the trust: lease.c), or within attr_timeout of the last
	 * answer, what we have is current. A create then needs no node but
	 * its own, not the marker's. */
	afs_inode_lock(in);
	fresh = afs_dir_attrs_fresh(fs, in);
	afs_inode_unlock(in);
	if (fresh)
		return;
	if (afs_locate(fs, in, &loc) || !loc.bucket[0] ||
	    afs_dir_marker(loc.key, marker, sizeof(marker)))
		return; /* the root of every bucket keeps nothing */
	afs_trust_begin(fs, loc.bucket, marker, &tok);
	rc = afs_dir_meta(fs, loc.bucket, loc.key, &m);
	/* A node that did not answer is asked again after attr_timeout, not
	 * at every getattr (each would wait for it). */
	afs_dir_meta_asked(in);
	if (rc == 0) {
		set_meta(fs, in, &m);
		afs_inode_lock(in);
		afs_trust_set(fs, in, &tok);
		/* A marker keeps the directory: it exists (a lookup within
		 * AFS_DIR_TRUST_NS asks no more). */
		if (m.version)
			in->seen_ns = ais_now_mono_ns();
		afs_inode_unlock(in);
	}
}

void afs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct afs_inode *in = afs_inode_get(fs->itable, ino);

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (in->kind == AFS_DIR) {
		refresh_dir(fs, in);
		afs_reply_attr(req, fs, in, 0);
		return;
	}
	afs_reply_attr(req, fs, in, refresh_file(fs, in));
}

static int64_t ts_to_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* chmod, chown and utimens on a file: kept with the staged data while it
 * has unsaved changes (the PUT at close carries them), else stored in the
 * object's metadata right away. */
static int set_file_meta(struct afs_fs *fs, struct afs_inode *in,
			 const struct ais_meta_change *ch)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta m;
	struct afs_spool *sp;
	struct afs_loc loc;
	bool pending = false;
	int rc;

	sp = afs_spool_hold(in);
	if (sp) {
		if (ch->uid)
			afs_inode_owner_room(in, *ch->uid, *ch->gid);
		pthread_mutex_lock(&sp->lock);
		pending = sp->dirty;
		if (pending)
			sp->gen++; /* an upload on its way carries none */
		afs_inode_lock(in);
		if (pending) {
			sp->ctime_ns = ais_now_real_ns();
			if (ch->mtime_ns) {
				sp->mtime_set = sp->mtime_given = true;
				sp->mtime_ns = *ch->mtime_ns;
			}
			if (ch->atime_ns) {
				sp->atime_set = true;
				sp->atime_ns = *ch->atime_ns;
			}
			if (ch->uid)
				afs_inode_set_owner(in, *ch->uid, *ch->gid);
		}
		if (ch->mode)
			in->meta.mode = *ch->mode;
		afs_inode_unlock(in);
		pthread_mutex_unlock(&sp->lock);
		/* With write-back the file may be closed already: its own
		 * upload, which a directory fsync waits for. */
		if (pending)
			afs_wb_queue(fs, in);
		afs_spool_drop(fs, in);
		if (pending)
			return 0;
	}
	rc = afs_locate(fs, in, &loc);
	if (rc)
		return rc;
	rc = ais_client_set_meta(fs->client, loc.bucket, loc.key, ch, &m,
				 errmsg);
	afs_trust_own(fs, loc.bucket, loc.key);
	if (rc)
		return -afs_errno(rc, "setattr", &loc, errmsg);
	/* Staged bytes (set_meta leaves them be) are the same write. */
	afs_inode_meta_room(in, &m);
	afs_inode_lock(in);
	in->meta.mode = m.mode;
	in->meta.mtime_ns = m.mtime_ns;
	in->meta.version = m.version;
	if (m.owned)
		afs_inode_set_owner(in, m.uid, m.gid);
	afs_inode_set_times(in, m.atime_ns, m.ctime_ns);
	afs_inode_unlock(in);
	set_meta(fs, in, &m);
	return 0;
}

/* chmod, chown and utimens on a directory: stored in its marker, which a
 * directory made by ais put (a prefix) gets now if make, with the
 * attributes it showed, changed as ch says (else -ENOENT). */
static int set_dir_meta(struct afs_fs *fs, struct afs_inode *in,
			const struct ais_meta_change *ch, bool make,
			const char *what)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	char marker[AIS_NAME_MAX + 1];
	struct afs_trust_tok tok = {0};
	struct ais_put_opts po;
	struct ais_obj_meta m;
	struct afs_loc loc;
	struct stat cur;
	int rc, tries;

	rc = afs_locate(fs, in, &loc);
	if (rc)
		return rc;
	if (!loc.bucket[0])
		return 0; /* the mount's root, a list of buckets: accepted, as
			     before directories kept anything (tar, rsync) */
	rc = afs_dir_marker(loc.key, marker, sizeof(marker));
	if (!rc)
		afs_trust_begin(fs, loc.bucket, marker, &tok);
	for (tries = 0; !rc && tries < 2; tries++) {
		rc = ais_client_set_meta(fs->client, loc.bucket, marker, ch, &m,
					 errmsg);
		if (rc != -ENOENT || !make)
			break;
		rc = afs_fill_attr(fs, in, &cur);
		if (rc)
			break;
		memset(&po, 0, sizeof(po));
		po.mode =
		    S_IFDIR |
		    ((ch->mode ? *ch->mode : (uint32_t)cur.st_mode) & 07777);
		po.mtime_ns =
		    ch->mtime_ns ? *ch->mtime_ns : ts_to_ns(&cur.st_mtim);
		po.atime_ns =
		    ch->atime_ns ? *ch->atime_ns : ts_to_ns(&cur.st_atim);
		/* A prefix without an owner keeps none, unless given one. */
		po.owned = ch->uid != NULL;
		if (ch->uid) {
			po.uid = *ch->uid;
			po.gid = *ch->gid;
		}
		po.no_overwrite = true; /* made meanwhile: changed instead */
		rc = ais_client_put_buf(fs->client, loc.bucket, marker, "", 0,
					&po, &m, errmsg);
		if (rc != -EEXIST)
			break;
	}
	if (rc)
		afs_trust_own(fs, loc.bucket, marker);
	if (rc == -ENOENT && !make)
		return rc;
	if (rc && !make) {
		ais_log(LOG_INFO, "%s of %s/%s: %s (this mount shows it)", what,
			loc.bucket, loc.key,
			errmsg[0] ? errmsg : strerror(-rc));
		return rc;
	}
	if (rc)
		return -afs_errno(rc, what, &loc, errmsg);
	set_meta(fs, in, &m);
	afs_dir_meta_asked(in);
	/* Our own change is not sent back to us: what the node answered is
	 * current, unless another change came in meanwhile (as a PUT's). */
	afs_inode_lock(in);
	afs_trust_set(fs, in, &tok);
	afs_inode_unlock(in);
	afs_trust_own(fs, loc.bucket, marker);
	return 0;
}

int afs_dir_store_mtime(struct afs_fs *fs, struct afs_inode *dir, int64_t t)
{
	struct ais_meta_change ch = {.mtime_ns = &t};
	bool none;

	/* A directory known to have no marker keeps it here (dirtime.h). */
	afs_inode_lock(dir);
	none = dir->have_meta && dir->meta.version == 0;
	afs_inode_unlock(dir);
	if (none)
		return -ENOENT;
	return set_dir_meta(fs, dir, &ch, false, "storing the time");
}

/* The owner stored for in, or the mount's user for one without. */
static void stored_owner(struct afs_fs *fs, struct afs_inode *in, uint32_t *uid,
			 uint32_t *gid)
{
	struct ais_obj_meta m;

	afs_inode_lock(in);
	afs_inode_meta_get(in, &m);
	afs_inode_unlock(in);
	*uid = m.owned ? m.uid : fs->opts.uid;
	*gid = m.owned ? m.gid : fs->opts.gid;
}

/* A time of a setattr: now, the one given, or none. */
static const int64_t *attr_time(int to_set, int now_bit, int bit,
				const struct timespec *ts, int64_t *t)
{
	if (to_set & now_bit)
		*t = ais_now_real_ns();
	else if (to_set & bit)
		*t = ts_to_ns(ts);
	else
		return NULL;
	return t;
}

void afs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		    int to_set, struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct afs_inode *in = afs_inode_get(fs->itable, ino);
	struct ais_meta_change ch = {0};
	uint32_t mode, uid, gid;
	int64_t mtime, atime;
	int rc = 0;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (fs->opts.ro || afs_kind_is_member(in->kind)) {
		rc = -EROFS;
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		/* A link has no mode of its own (Linux never chmods one):
		 * storing S_IFREG would make it a file of its target's name.
		 */
		if (afs_inode_is_link(in)) {
			rc = -EOPNOTSUPP;
			goto out;
		}
		mode = (in->kind == AFS_DIR ? S_IFDIR : S_IFREG) |
		       (attr->st_mode & 07777);
		ch.mode = &mode;
	}
	ch.mtime_ns = attr_time(to_set, FUSE_SET_ATTR_MTIME_NOW,
				FUSE_SET_ATTR_MTIME, &attr->st_mtim, &mtime);
	ch.atime_ns = attr_time(to_set, FUSE_SET_ATTR_ATIME_NOW,
				FUSE_SET_ATTR_ATIME, &attr->st_atim, &atime);
	if (in->kind == AFS_SHARD) {
		/* A shard's own metadata is not changed through its
		 * directory; accepted, as tar and rsync set a directory's. */
		if (to_set & FUSE_SET_ATTR_SIZE)
			rc = -EISDIR;
		goto out;
	}
	if (in->kind == AFS_DIR && (to_set & FUSE_SET_ATTR_SIZE)) {
		rc = -EISDIR;
		goto out;
	}
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		/* The half not given stays as stored (an object without an
		 * owner gets the mount's user's: what it showed), never the
		 * owner a uid=/gid= mount only shows. */
		stored_owner(fs, in, &uid, &gid);
		if (to_set & FUSE_SET_ATTR_UID)
			uid = attr->st_uid;
		if (to_set & FUSE_SET_ATTR_GID)
			gid = attr->st_gid;
		ch.uid = &uid;
		ch.gid = &gid;
	}
	if (in->kind == AFS_DIR) {
		/* An mtime set lands after any a name moved it to
		 * (dirtime.h); other changes leave that one pending. */
		if (ch.mtime_ns)
			afs_dirtime_begin(fs, in);
		if (ch.mode || ch.mtime_ns || ch.atime_ns || ch.uid)
			rc = set_dir_meta(fs, in, &ch, true, "setattr");
		if (ch.mtime_ns)
			afs_dirtime_end(fs, in);
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		rc = afs_file_truncate(fs, in, (uint64_t)attr->st_size);
		if (rc)
			goto out;
	}
	if (ch.mode || ch.mtime_ns || ch.atime_ns || ch.uid)
		rc = set_file_meta(fs, in, &ch);
out:
	afs_reply_attr(req, fs, in, rc);
}

void afs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	uint64_t total = 0, avail = 0;
	struct statvfs sv;
	int rc;

	rc = ais_client_capacity(fs->client, &total, &avail, errmsg);
	if (rc) {
		fuse_reply_err(req, afs_errno(rc, "statfs", NULL, errmsg));
		return;
	}
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 1 << 20;
	sv.f_frsize = 4096;
	sv.f_blocks = total / 4096;
	sv.f_bfree = avail / 4096;
	sv.f_bavail = avail / 4096;
	sv.f_files = 1ULL << 32;
	sv.f_ffree = 1ULL << 32;
	sv.f_favail = 1ULL << 32;
	sv.f_namemax = AIS_COMPONENT_MAX;
	fuse_reply_statfs(req, &sv);
}

static void reply_xattr_value(fuse_req_t req, const char *val, size_t size)
{
	size_t len = strlen(val);

	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

void afs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     size_t size)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	char val[AIS_CKSUM_HEX_MAX + 32];
	struct afs_inode *in;
	struct ais_obj_meta m;
	struct afs_loc loc;
	bool cksum;
	int rc;

	/* The kernel asks for security.* on every write: answer without a
	 * round trip. */
	cksum = strcmp(name, XATTR_CKSUM) == 0;
	if (!cksum && strcmp(name, XATTR_VERSION) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	in = afs_inode_get(fs->itable, ino);
	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (in->kind != AFS_FILE && in->kind != AFS_SHARD) {
		fuse_reply_err(req, ENODATA);
		goto out;
	}
	rc = afs_locate(fs, in, &loc);
	if (!rc)
		rc = ais_client_head(fs->client, loc.bucket, loc.key, &m,
				     errmsg);
	if (rc) {
		/* A file not yet written back has no stored metadata. */
		fuse_reply_err(req, rc == -ENOENT ? ENODATA
						  : afs_errno(rc, "getxattr",
							      &loc, errmsg));
		goto out;
	}
	if (cksum) {
		if (!m.cksum[0]) {
			fuse_reply_err(req, ENODATA);
			goto out;
		}
		snprintf(val, sizeof(val), "%s:%s",
			 ais_cksum_name(m.cksum_type), m.cksum);
	} else {
		snprintf(val, sizeof(val), "%llu",
			 (unsigned long long)m.version);
	}
	reply_xattr_value(req, val, size);
out:
	afs_inode_put(fs->itable, in);
}

void afs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	static const char names[] = XATTR_CKSUM "\0" XATTR_VERSION "\0";
	struct afs_inode *in = afs_inode_get(fs->itable, ino);
	size_t len;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	/* None for links: the kernel reads no user.* xattr of a link. */
	len = (in->kind == AFS_FILE && !afs_inode_is_link(in)) ||
		      in->kind == AFS_SHARD
		  ? sizeof(names) - 1
		  : 0;
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, names, len);
	afs_inode_put(fs->itable, in);
}

void afs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     const char *value, size_t size, int flags)
{
	fuse_reply_err(req,
		       strncmp(name, "user.ais.", 9) == 0 ? EPERM : EOPNOTSUPP);
}

void afs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req,
		       strncmp(name, "user.ais.", 9) == 0 ? EPERM : EOPNOTSUPP);
}
