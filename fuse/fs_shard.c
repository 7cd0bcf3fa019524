/* Shards as directories: member lookup, attributes and symbolic links. The
 * listing of shard directories is in fs_dir.c, member reads in fs_file.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "fs.h"
#include "lease.h"
#include "log.h"
#include "shard_names.h"

int afs_member_kind(int type, uint32_t mode)
{
	switch (type) {
	case AIS_SHARD_DIR:
		return AFS_MDIR;
	case AIS_SHARD_SYMLINK:
		return AFS_MLINK;
	case AIS_SHARD_FILE:
	case AIS_SHARD_HARDLINK:
	case AIS_SHARD_OTHER:
		return AFS_MFILE;
	default:
		break;
	}
	if (S_ISDIR(mode))
		return AFS_MDIR;
	if (S_ISLNK(mode))
		return AFS_MLINK;
	return AFS_MFILE;
}

int afs_member_child(const char *dir, const char *name, char *out, size_t len)
{
	int n;

	if (strlen(name) > AIS_COMPONENT_MAX)
		return -ENAMETOOLONG;
	n = dir[0] ? snprintf(out, len, "%s/%s", dir, name)
		   : snprintf(out, len, "%s", name);
	if (n < 0 || (size_t)n >= len || n > AFS_MEMBER_MAX)
		return -ENAMETOOLONG;
	return 0;
}

uint64_t afs_member_ino(const struct afs_loc *dir, const char *name)
{
	/* Chained: each part seeds the next, so "a"+"bc" and "ab"+"c"
	 * differ. */
	uint64_t h = ais_hash_str(dir->bucket, 0);

	h = ais_hash_str(dir->key, h);
	h = ais_hash_str(afs_loc_member(dir), h);
	return ais_hash_str(name, h) | (1ULL << 63);
}

/* What of a member's metadata it is known by: the shard's version and
 * commit time (a shard deleted and written again starts over at version
 * 1), the member's size, mode and mtime. Not a checksum, which a listing
 * does not carry: a listing and a HEAD of one member must not look like
 * two writes of it. */
void afs_member_norm(const struct ais_obj_meta *m, struct ais_obj_meta *n)
{
	*n = *m;
	n->cksum_type = 0;
	n->cksum[0] = '\0';
}

uint64_t afs_member_ident(const struct ais_obj_meta *m)
{
	struct ais_obj_meta n;

	afs_member_norm(m, &n);
	return afs_meta_ident(&n);
}

void afs_member_set(struct afs_fs *fs, struct afs_inode *in,
		    const struct ais_obj_meta *m, const char *link)
{
	char *copy = link && link[0] ? strdup(link) : NULL;
	struct afs_iext *x = copy ? afs_inode_ext(in) : NULL;
	struct ais_obj_meta n;
	bool stale;

	afs_member_norm(m, &n);
	afs_inode_lock(in);
	stale = afs_inode_set_meta(in, &n);
	in->seen_ns = ais_now_mono_ns();
	if (copy && x) {
		free(x->link);
		x->link = copy;
		copy = NULL;
	}
	afs_inode_unlock(in);
	free(copy);
	afs_pages_stale(fs, in, stale);
}

/* Finds the link target of member path (in directory dir of the shard at
 * loc) by paging through dir's listing: a member HEAD does not carry it.
 * *out is heap (free()). Returns 0, -ENOENT or -errno for the kernel. */
static int find_link(struct afs_fs *fs, const struct afs_loc *loc,
		     const char *dir, const char *path, char **out)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_list_page page;
	char *token = NULL;
	size_t i;
	int rc;

	*out = NULL;
	do {
		rc = ais_client_shard_list(fs->client, loc->bucket, loc->key,
					   dir, false, token, AFS_LIST_PAGE,
					   &page, NULL, errmsg);
		free(token);
		token = NULL;
		if (rc)
			return -afs_errno(rc, "readlink", loc, errmsg);
		for (i = 0; i < page.n && !*out; i++) {
			if (strcmp(page.entries[i].name, path) != 0)
				continue;
			if (page.entries[i].member_type != AIS_SHARD_SYMLINK)
				rc = -EINVAL;
			else if (!(*out = strdup(page.entries[i].link_target)))
				rc = -ENOMEM;
			break;
		}
		if (!*out && !rc && page.next_token && page.next_token[0] &&
		    !(token = strdup(page.next_token)))
			rc = -ENOMEM;
		ais_list_page_free(&page);
	} while (!*out && !rc && token);
	free(token);
	if (rc)
		return rc;
	return *out ? 0 : -ENOENT;
}

/* The directory part of a member path into dir ("" at the top). */
static void member_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n >= len)
		n = 0;
	memcpy(dir, path, n);
	dir[n] = '\0';
}

int afs_member_refresh(struct afs_fs *fs, struct afs_inode *in)
{
	struct ais_obj_meta m;
	int rc;

	if (in->kind != AFS_MFILE && in->kind != AFS_MLINK)
		return 0;
	/* Members change only with their shard: while the shard's version
	 * was confirmed within attr_timeout, what we hold is current. */
	if (afs_member_fresh(fs, in))
		return 0;
	rc = afs_member_head(fs, in, "getattr", &m);
	if (rc)
		return rc;
	if (afs_member_kind(-1, m.mode) != in->kind)
		return -ENOENT; /* the shard was rewritten: look it up again */
	afs_member_set(fs, in, &m, NULL);
	afs_shard_confirm(in, m.version);
	return 0;
}

static void reply_member(fuse_req_t req, struct afs_fs *fs,
			 struct afs_inode *parent, const struct afs_loc *ploc,
			 const char *name, int kind,
			 const struct ais_obj_meta *m, const char *link)
{
	struct afs_inode *in;

	in = afs_inode_link_ident(
	    fs->itable, parent, name, kind,
	    ploc ? afs_member_ino(ploc, name) : 0,
	    fs->no_open && m && kind != AFS_MDIR ? afs_member_ident(m) : 0);
	if (!in) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (m)
		afs_member_set(fs, in, m, link);
	afs_reply_entry(req, fs, in);
}

int afs_member_head(struct afs_fs *fs, struct afs_inode *in, const char *what,
		    struct ais_obj_meta *m)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct afs_loc loc;
	int rc = afs_locate(fs, in, &loc);

	if (rc)
		return rc;
	rc = ais_client_member_head(fs->client, loc.bucket, loc.key,
				    afs_loc_member(&loc), m, errmsg);
	return rc ? -afs_errno(rc, what, &loc, errmsg) : 0;
}

/* The shard inode at or above in (NULL outside shards). The parent chain
 * inside a shard never changes and children hold refs on their parents,
 * so the walk needs no table lock. */
static struct afs_inode *shard_of(struct afs_inode *in)
{
	while (in && in->kind != AFS_SHARD)
		in = in->parent;
	return in;
}

bool afs_member_fresh(struct afs_fs *fs, struct afs_inode *in)
{
	struct afs_inode *sh = shard_of(in);
	uint64_t window = (uint64_t)(fs->opts.attr_timeout * 1e9);
	uint64_t v = 0;
	bool ok;

	if (!sh || sh == in || window == 0)
		return false;
	afs_inode_lock(sh);
	/* seen_ns 0: never confirmed, or doubted since. A lease: nothing
	 * changed the shard since it was confirmed, however long ago. */
	ok = sh->have_meta &&
	     (afs_trusted(fs, sh) ||
	      (sh->seen_ns && ais_now_mono_ns() - sh->seen_ns < window));
	v = sh->meta.version;
	afs_inode_unlock(sh);
	if (!ok)
		return false;
	afs_inode_lock(in);
	ok = in->have_meta && in->meta.version == v &&
	     (in->kind != AFS_MLINK || afs_inode_link_target(in));
	afs_inode_unlock(in);
	return ok;
}

bool afs_member_covered(struct afs_fs *fs, struct afs_inode *in)
{
	struct afs_inode *sh = shard_of(in);
	uint64_t v;
	bool ok;

	if (!sh || sh == in)
		return false;
	afs_inode_lock(sh);
	ok = sh->have_meta && afs_trusted(fs, sh);
	v = sh->meta.version;
	afs_inode_unlock(sh);
	if (!ok)
		return false;
	afs_inode_lock(in);
	ok = in->have_meta && in->meta.version == v;
	afs_inode_unlock(in);
	return ok;
}

void afs_shard_confirm(struct afs_inode *in, uint64_t version)
{
	struct afs_inode *sh = shard_of(in);

	if (!sh)
		return;
	afs_inode_lock(sh);
	/* Another version: the shard was replaced since it was last looked
	 * up. Until the kernel looks it up again, every open of one of its
	 * members asks the node. */
	if (sh->have_meta && sh->meta.version == version) {
		sh->seen_ns = ais_now_mono_ns();
	} else {
		sh->seen_ns = 0;
		sh->trust = 0;
	}
	afs_inode_unlock(sh);
}

void afs_shard_doubt(struct afs_inode *in)
{
	struct afs_inode *sh = shard_of(in);

	if (!sh)
		return;
	afs_inode_lock(sh);
	sh->seen_ns = 0;
	sh->trust = 0;
	afs_inode_unlock(sh);
}

/* The version of the shard that in (a member or the shard) belongs to, as
 * last seen: the shard's inode is looked up again by the kernel every
 * entry_timeout, which refreshes it. The parent chain inside a shard never
 * changes (nothing is renamed there), and children hold refs on their
 * parents, so the walk needs no table lock. */
static uint64_t shard_version(struct afs_inode *in)
{
	uint64_t v;

	in = shard_of(in);
	if (!in)
		return 0;
	afs_inode_lock(in);
	v = in->meta.version;
	afs_inode_unlock(in);
	return v;
}

int64_t afs_shard_mtime(struct afs_inode *in)
{
	int64_t t;

	in = shard_of(in);
	if (!in)
		return 0;
	afs_inode_lock(in);
	t = in->meta.mtime_ns;
	afs_inode_unlock(in);
	return t;
}

void afs_shard_lookup(fuse_req_t req, struct afs_fs *fs,
		      struct afs_inode *parent, const char *name)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	char path[AFS_MEMBER_MAX + 1], dir[AFS_MEMBER_MAX + 1];
	struct afs_inode *child;
	struct ais_obj_meta m;
	struct afs_loc loc;
	char *link = NULL;
	int rc, kind;

	/* Members listed or looked up a moment ago are answered from memory
	 * while the shard's version is unchanged: a walk over a listed shard
	 * costs no round trip per name. */
	child = afs_inode_find(fs->itable, parent, name);
	if (child) {
		uint64_t v = shard_version(parent);
		bool fresh;

		afs_inode_lock(child);
		fresh =
		    child->have_meta && child->meta.version == v &&
		    ais_now_mono_ns() - child->seen_ns < AFS_DIR_TRUST_NS &&
		    (child->kind != AFS_MLINK || afs_inode_link_target(child));
		kind = child->kind;
		afs_inode_unlock(child);
		/* Or, however long ago it was listed: its shard's version
		 * was confirmed a moment ago. */
		if (!fresh)
			fresh = afs_member_fresh(fs, child);
		/* Unless the name was given another inode meanwhile. */
		if (fresh && afs_inode_relink(fs->itable, child)) {
			afs_inode_put(fs->itable, child);
			afs_reply_entry(req, fs, child);
			return;
		}
		afs_inode_put(fs->itable, child);
	}
	rc = afs_locate(fs, parent, &loc);
	if (!rc)
		rc = afs_member_child(afs_loc_member(&loc), name, path,
				      sizeof(path));
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = ais_client_member_head(fs->client, loc.bucket, loc.key, path, &m,
				    errmsg);
	if (rc == -ENOENT || rc == -ENOTDIR) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (rc) {
		fuse_reply_err(req, afs_errno(rc, "lookup", &loc, errmsg));
		return;
	}
	afs_shard_confirm(parent, m.version);
	kind = afs_member_kind(-1, m.mode);
	if (kind == AFS_MLINK) {
		member_dir(path, dir, sizeof(dir));
		rc = find_link(fs, &loc, dir, path, &link);
		if (rc) {
			fuse_reply_err(req, rc == -ENOENT ? ENOENT : -rc);
			return;
		}
	}
	reply_member(req, fs, parent, &loc, name, kind, &m, link);
	free(link);
}

void afs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct afs_inode *in = afs_inode_get(fs->itable, ino);
	char dir[AFS_MEMBER_MAX + 1];
	char *link = NULL, *copy;
	struct afs_iext *x;
	struct afs_loc loc;
	int rc;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (in->kind == AFS_FILE) {
		afs_file_readlink(req, fs, in);
		goto out;
	}
	if (in->kind != AFS_MLINK) {
		fuse_reply_err(req, EINVAL);
		goto out;
	}
	afs_inode_lock(in);
	if (afs_inode_link_target(in))
		link = strdup(afs_inode_link_target(in));
	afs_inode_unlock(in);
	if (!link) {
		rc = afs_locate(fs, in, &loc);
		if (!rc) {
			member_dir(afs_loc_member(&loc), dir, sizeof(dir));
			rc = find_link(fs, &loc, dir, afs_loc_member(&loc),
				       &link);
		}
		if (rc) {
			fuse_reply_err(req, -rc);
			goto out;
		}
		x = afs_inode_ext(in);
		copy = x ? strdup(link) : NULL;
		afs_inode_lock(in);
		if (copy && !x->link) {
			x->link = copy;
			copy = NULL;
		}
		afs_inode_unlock(in);
		free(copy);
	}
	fuse_reply_readlink(req, link);
	free(link);
out:
	afs_inode_put(fs->itable, in);
}
