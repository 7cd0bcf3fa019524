/* Directories: paged listings streamed through readdir offsets, mkdir and
 * rmdir (buckets at the root of a mount without bucket=). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "dirtime.h"
#include "fs.h"
#include "lease.h"
#include "log.h"
#include "spool.h"
#include "writeback.h"

struct dent {
	char *name; /* one component */
	int kind;
	struct ais_obj_meta meta; /* files, shards and members */
	char *link;		  /* AFS_MLINK: the target (heap) */
};

/* One open directory. Only one listing page is held at a time: the offset
 * of an entry is its index in the whole listing (plus 2 for "." and ".."),
 * and a page is found again from the continuation token of the page before
 * it. Going backwards restarts the listing from its first page. */
struct dirh {
	pthread_mutex_t lock;
	struct afs_inode *in; /* holds a ref */
	struct afs_loc loc;
	char prefix[sizeof(((struct afs_loc *)0)->key) + 1]; /* "key/", "" */
	bool buckets; /* the root of a mount without bucket= */
	bool shard;   /* the shard or a directory in it */
	bool cached;  /* the kernel may keep its listing (dir_cached) */
	bool loaded;
	struct dent *ents;
	size_t n;
	uint64_t base; /* index of ents[0] */
	char *next;    /* start_after of the next page; NULL at the end */
	/* Taken before the held page was asked for: its objects' metadata
	 * is trusted as a HEAD's would be if nothing changed since. */
	struct afs_trust_tok tok;
	uint64_t wb_since; /* write-back failures reported up to (fsyncdir) */
};

static void page_clear(struct dirh *dh)
{
	size_t i;

	for (i = 0; i < dh->n; i++) {
		free(dh->ents[i].name);
		free(dh->ents[i].link);
	}
	free(dh->ents);
	dh->ents = NULL;
	dh->n = 0;
	free(dh->next);
	dh->next = NULL;
}

/* The end of fetching a page into dh (rc: how filling it went): keeps the
 * continuation token, frees the page, and marks dh loaded, or empties it
 * on error. Returns rc (or -ENOMEM). */
static int page_done(struct dirh *dh, struct ais_list_page *page, int rc)
{
	if (!rc && page->next_token && page->next_token[0]) {
		dh->next = strdup(page->next_token);
		if (!dh->next)
			rc = -ENOMEM;
	}
	ais_list_page_free(page);
	if (rc) {
		page_clear(dh);
		return rc;
	}
	dh->loaded = true;
	return 0;
}

static int add_dent(struct dirh *dh, const char *name, size_t len, int kind,
		    const struct ais_obj_meta *m)
{
	struct dent *d = &dh->ents[dh->n];

	if (len == 0 || len > AIS_COMPONENT_MAX || memchr(name, '/', len) ||
	    (!dh->shard && len == strlen(AFS_DIR_MARKER) &&
	     memcmp(name, AFS_DIR_MARKER, len) == 0) ||
	    (dh->shard && ((len == 1 && name[0] == '.') ||
			   (len == 2 && name[0] == '.' && name[1] == '.'))))
		return 0;
	d->name = strndup(name, len);
	if (!d->name)
		return -ENOMEM;
	d->link = NULL;
	d->kind = kind;
	if (m)
		d->meta = *m;
	else
		memset(&d->meta, 0, sizeof(d->meta));
	dh->n++;
	return 0;
}

/* fetch_page of a shard directory: its members, one level. */
static int fetch_shard_page(struct afs_fs *fs, struct dirh *dh,
			    const char *start_after)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_list_page page = {0};
	const char *dir = afs_loc_member(&dh->loc), *name;
	char *shard_error = NULL;
	size_t i, n0;
	int rc;

	rc = ais_client_shard_list(fs->client, dh->loc.bucket, dh->loc.key, dir,
				   false, start_after, AFS_LIST_PAGE, &page,
				   &shard_error, errmsg);
	if (rc)
		return -afs_errno(rc, "readdir", &dh->loc, errmsg);
	if (shard_error && !start_after)
		ais_log(LOG_WARNING, "shard %s/%s: %s (listing what precedes)",
			dh->loc.bucket, dh->loc.key, shard_error);
	free(shard_error);
	dh->ents = calloc(page.n ? page.n : 1, sizeof(*dh->ents));
	if (!dh->ents) {
		ais_list_page_free(&page);
		return -ENOMEM;
	}
	for (i = 0; i < page.n && !rc; i++) {
		struct ais_list_entry *le = &page.entries[i];

		name = strrchr(le->name, '/');
		name = name ? name + 1 : le->name;
		n0 = dh->n;
		rc = add_dent(
		    dh, name, strlen(name),
		    afs_member_kind((int)le->member_type, le->meta.mode),
		    &le->meta);
		if (!rc && dh->n > n0 && dh->ents[n0].kind == AFS_MLINK &&
		    le->link_target) {
			dh->ents[n0].link = strdup(le->link_target);
			if (!dh->ents[n0].link)
				rc = -ENOMEM;
		}
	}
	return page_done(dh, &page, rc);
}

/* Replaces the held page by the one after start_after (NULL: the first). */
static int fetch_page(struct afs_fs *fs, struct dirh *dh,
		      const char *start_after)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_list_page page = {0};
	char **names = NULL;
	size_t n = 0, i, plen = strlen(dh->prefix), len, n0;
	const char *name;
	int rc;

	page_clear(dh);
	dh->loaded = false;
	if (dh->buckets) {
		rc = ais_client_bucket_list(fs->client, &names, &n, errmsg);
		if (rc)
			return -afs_errno(rc, "readdir", &dh->loc, errmsg);
		dh->ents = calloc(n ? n : 1, sizeof(*dh->ents));
		rc = dh->ents ? 0 : -ENOMEM;
		for (i = 0; i < n && !rc; i++)
			rc = add_dent(dh, names[i], strlen(names[i]), AFS_DIR,
				      NULL);
		ais_strv_free(names);
		if (rc)
			return rc;
		dh->loaded = true;
		return 0;
	}
	if (dh->shard)
		return fetch_shard_page(fs, dh, start_after);
	/* Files closed here are listed once their uploads are done. */
	if (!start_after)
		afs_wb_sync(fs, NULL);
	afs_trust_begin_all(fs, &dh->tok);
	rc = ais_client_list(fs->client, dh->loc.bucket, dh->prefix, "/",
			     start_after, AFS_LIST_PAGE, &page, errmsg);
	if (rc)
		return -afs_errno(rc, "readdir", &dh->loc, errmsg);
	dh->ents = calloc(page.n ? page.n : 1, sizeof(*dh->ents));
	if (!dh->ents) {
		ais_list_page_free(&page);
		return -ENOMEM;
	}
	for (i = 0; i < page.n && !rc; i++) {
		name = page.entries[i].name;
		len = strlen(name);
		if (len < plen || memcmp(name, dh->prefix, plen) != 0)
			continue; /* not ours: a node misbehaved */
		name += plen;
		len -= plen;
		if (page.entries[i].is_prefix) {
			if (len && name[len - 1] == '/')
				len--;
			rc = add_dent(dh, name, len, AFS_DIR, NULL);
		} else {
			n0 = dh->n;
			rc = add_dent(dh, name, len, AFS_FILE,
				      &page.entries[i].meta);
			/* An archive shows as a directory (shards=dir); a
			 * symbolic link named like one stays a link. */
			if (!rc && dh->n > n0 &&
			    afs_is_shard_name(fs, dh->ents[n0].name) &&
			    !afs_mode_is_link(page.entries[i].meta.mode))
				dh->ents[n0].kind = AFS_SHARD;
		}
	}
	return page_done(dh, &page, rc);
}

/* Makes entry idx available in the held page. Returns 0, 1 past the end,
 * or -errno. */
static int seek_entry(struct afs_fs *fs, struct dirh *dh, uint64_t idx)
{
	char *token;
	int rc;

	if (!dh->loaded || idx < dh->base) {
		dh->base = 0;
		rc = fetch_page(fs, dh, NULL);
		if (rc)
			return rc;
	}
	while (idx >= dh->base + dh->n) {
		if (!dh->next)
			return 1;
		token = dh->next;
		dh->next = NULL;
		dh->base += dh->n;
		rc = fetch_page(fs, dh, token);
		free(token);
		if (rc)
			return rc;
	}
	return 0;
}

/* Whether the kernel may keep this directory's listing from one opendir
 * to the next (FOPEN_CACHE_DIR with keep_cache): on a read-only mount whose
 * names live long (afs_lease_long), a directory of objects (not the list
 * of buckets, which no lease reports, nor a shard's). It is dropped
 *  - when a change below it comes from a lease (lease.c apply: the
 *    kernel's pages of it, before the change is acknowledged);
 *  - when the kernel finds the directory's mtime moved on (afs_fill_attr
 *    carries afs_listing_gen), which it asks again at least once a lease
 *    (afs_cache_time) and at the next lookup of the directory after the
 *    kernel's names were dropped: a lease that lapsed, a node that forgot
 *    its feed. Counted as a long grant: a lapse then drops every name. */
static bool dir_cached(struct afs_fs *fs, struct dirh *dh)
{
	return fs->no_open && dh->in->kind == AFS_DIR && !dh->buckets &&
	       !dh->shard && afs_lease_long_names(fs) &&
	       afs_dir_cache_note(fs, afs_nodeid(dh->in));
}

void afs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct afs_inode *in = afs_inode_get(fs->itable, ino);
	struct dirh *dh;
	int rc;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (!afs_kind_is_dir(in->kind)) {
		afs_inode_put(fs->itable, in);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	dh = calloc(1, sizeof(*dh));
	if (!dh) {
		afs_inode_put(fs->itable, in);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = afs_locate(fs, in, &dh->loc);
	if (rc) {
		afs_inode_put(fs->itable, in);
		free(dh);
		fuse_reply_err(req, -rc);
		return;
	}
	dh->in = in;
	dh->buckets = dh->loc.bucket[0] == '\0';
	dh->shard = dh->loc.in_shard;
	if (dh->loc.key[0] && !dh->shard)
		snprintf(dh->prefix, sizeof(dh->prefix), "%s/", dh->loc.key);
	pthread_mutex_init(&dh->lock, NULL);
	dh->wb_since = afs_wb_sample(fs);
	fi->fh = (uintptr_t)dh;
	dh->cached = dir_cached(fs, dh);
	fi->cache_readdir = fi->keep_cache = dh->cached;
	if (fuse_reply_open(req, fi) != 0) {
		pthread_mutex_destroy(&dh->lock);
		afs_inode_put(fs->itable, in);
		free(dh);
	}
}

/* fsync of a directory: with write-back, every upload queued before it is
 * done (a file system's dirty data, as syncfs would); its failures since
 * the directory was opened (or last reported) give EIO. */
void afs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;
	uint64_t since;
	int rc;

	if (!dh) {
		fuse_reply_err(req, 0);
		return;
	}
	pthread_mutex_lock(&dh->lock);
	since = dh->wb_since;
	pthread_mutex_unlock(&dh->lock);
	rc = afs_wb_sync(fs, &since);
	pthread_mutex_lock(&dh->lock);
	if (since > dh->wb_since)
		dh->wb_since = since;
	pthread_mutex_unlock(&dh->lock);
	fuse_reply_err(req, -rc);
}

static uint64_t pseudo_ino(const char *name)
{
	return ais_hash_str(name, 0) | (1ULL << 63);
}

/* Whether a listing leaves the kernel's name of child alone: on a mount
 * whose lookups give files' names a long time (afs_lease_long), a file the
 * kernel already knows (looked up, or listed, before this entry), unless
 * the listing found it another write. A listing's entry
 * would cut that time to what the lease has left (afs_fill_entry_listed),
 * and every epoch that lists its directories would look each file up
 * again. The entry still names the file; its attributes come with the
 * next lookup, or the pushed change that drops the name. */
static bool keeps_name(struct afs_fs *fs, struct afs_inode *child)
{
	return fs->no_open && afs_lease_long_names(fs) &&
	       !afs_kind_is_dir(child->kind) &&
	       afs_inode_lookups(fs->itable, child) > 1;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;
	struct fuse_entry_param e;
	struct afs_inode *child;
	size_t used = 0, sz;
	uint64_t pos = off < 0 ? 0 : (uint64_t)off;
	const char *name;
	struct dent *d;
	bool counted, stale, unknown_dir;
	char *buf;
	int rc = 0;

	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&dh->lock);
	if (dh->cached && pos == 0) {
		/* From the start (a rewinddir) of a listing the kernel keeps:
		 * what it reads now it keeps for others too, so not the page
		 * this handle read before; and the reading counts as a grant
		 * (a lapse from now on drops it). */
		dh->loaded = false;
		(void)afs_dir_cache_note(fs, afs_nodeid(dh->in));
	}
	for (;; pos++) {
		memset(&e, 0, sizeof(e));
		child = NULL;
		counted = true;
		stale = false;
		unknown_dir = false;
		if (pos < 2) {
			name = pos == 0 ? "." : "..";
			afs_dir_stat(fs, &e.attr);
			e.attr.st_ino = pos == 0 ? dh->in->ino : AFS_ROOT_INO;
		} else {
			rc = seek_entry(fs, dh, pos - 2);
			if (rc)
				break;
			d = &dh->ents[pos - 2 - dh->base];
			name = d->name;
			if (plus) {
				/* No open will check a file listed on a
				 * no_open mount: another write is another
				 * inode (afs_inode_link_ident). */
				child = afs_inode_link_ident(
				    fs->itable, dh->in, name, d->kind,
				    dh->shard ? afs_member_ino(&dh->loc, name)
					      : 0,
				    !fs->no_open || afs_kind_is_dir(d->kind) ? 0
				    : afs_kind_is_member(d->kind)
					? afs_member_ident(&d->meta)
					: afs_meta_ident(&d->meta));
				if (!child) {
					rc = -ENOMEM;
					break;
				}
				if (afs_kind_is_member(d->kind)) {
					afs_member_set(fs, child, &d->meta,
						       d->link);
				} else {
					afs_inode_meta_room(child, &d->meta);
					afs_inode_lock(child);
					child->seen_ns = ais_now_mono_ns();
					if (d->kind != AFS_DIR &&
					    !afs_has_staged(child)) {
						stale = afs_inode_set_meta(
						    child, &d->meta);
						afs_trust_set(fs, child,
							      &dh->tok);
					}
					/* A listing has no directory's
					 * attributes: a lookup gets them
					 * unless those held are current. */
					unknown_dir =
					    d->kind == AFS_DIR &&
					    !afs_dir_attrs_fresh(fs, child);
					afs_inode_unlock(child);
					afs_pages_stale(fs, child, stale);
				}
				rc = afs_fill_entry_listed(fs, child, &e);
				if (rc) {
					afs_inode_forget(fs->itable,
							 afs_nodeid(child), 1);
					afs_inode_put(fs->itable, child);
					break;
				}
				if (!stale &&
				    (unknown_dir || keeps_name(fs, child))) {
					/* Node id 0: a plain entry, the
					 * kernel's name and its time are
					 * left as they are. */
					afs_inode_forget(fs->itable,
							 afs_nodeid(child), 1);
					e.ino = 0;
					e.entry_timeout = e.attr_timeout = 0;
					counted = false;
				}
			} else if (d->kind == AFS_DIR || d->kind == AFS_SHARD) {
				afs_dir_stat(fs, &e.attr);
				e.attr.st_ino = pseudo_ino(name);
			} else if (afs_kind_is_member(d->kind)) {
				e.attr.st_mode =
				    d->kind == AFS_MDIR	   ? S_IFDIR | 0555
				    : d->kind == AFS_MLINK ? S_IFLNK | 0777
							   : S_IFREG | 0444;
				e.attr.st_ino = afs_member_ino(&dh->loc, name);
			} else {
				afs_meta_to_stat(fs, &d->meta, &e.attr);
				e.attr.st_ino = pseudo_ino(name);
			}
		}
		if (plus)
			sz =
			    fuse_add_direntry_plus(req, buf + used, size - used,
						   name, &e, (off_t)(pos + 1));
		else
			sz = fuse_add_direntry(req, buf + used, size - used,
					       name, &e.attr, (off_t)(pos + 1));
		if (sz > size - used) {
			if (child && counted)
				afs_inode_forget(fs->itable, afs_nodeid(child),
						 1);
			afs_inode_put(fs->itable, child);
			break;
		}
		afs_inode_put(fs->itable, child);
		used += sz;
	}
	pthread_mutex_unlock(&dh->lock);
	if (rc < 0 && used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void afs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void afs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void afs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;

	page_clear(dh);
	pthread_mutex_destroy(&dh->lock);
	afs_inode_put(fs->itable, dh->in);
	free(dh);
	fuse_reply_err(req, 0);
}

static void reply_dir_entry(fuse_req_t req, struct afs_fs *fs,
			    struct afs_inode *parent, const char *name,
			    const struct afs_trust_tok *made,
			    const struct ais_obj_meta *m,
			    const struct afs_trust_tok *mtok)
{
	struct fuse_entry_param e;
	struct afs_inode *in =
	    afs_inode_link(fs->itable, parent, name, AFS_DIR);
	struct afs_iext *x;

	afs_dirtime_touch(fs, parent);
	if (!in) {
		afs_inode_forget_made(parent); /* made, not in the table */
		fuse_reply_err(req, ENOMEM);
		return;
	}
	x = made && made->gen ? afs_inode_ext(in) : NULL;
	afs_inode_meta_room(in, m);
	afs_inode_lock(in);
	in->seen_ns = ais_now_mono_ns();
	if (x)
		x->made = *made;
	afs_inode_set_meta(in, m);
	/* The marker as made: current until a change of it comes in. */
	afs_trust_set(fs, in, mtok);
	afs_inode_unlock(in);
	afs_dir_meta_asked(in);
	afs_fill_entry(fs, in, &e);
	if (fuse_reply_entry(req, &e) != 0)
		afs_inode_forget(fs->itable, afs_nodeid(in), 1);
	afs_inode_put(fs->itable, in);
}

/* Checks parent and name for a directory operation and locates parent. */
static int dir_op_start(struct afs_fs *fs, fuse_ino_t parent_ino,
			const char *name, struct afs_inode **parent,
			struct afs_loc *loc)
{
	int rc;

	if (fs->opts.ro)
		return -EROFS;
	if (strlen(name) > AIS_COMPONENT_MAX)
		return -ENAMETOOLONG;
	*parent = afs_inode_get(fs->itable, parent_ino);
	if (!*parent)
		return -ESTALE;
	rc = (*parent)->kind == AFS_DIR		  ? afs_locate(fs, *parent, loc)
	     : afs_kind_in_shard((*parent)->kind) ? -EROFS
						  : -ENOTDIR;
	if (rc) {
		afs_inode_put(fs->itable, *parent);
		*parent = NULL;
	}
	return rc;
}

void afs_op_mkdir(fuse_req_t req, fuse_ino_t parent_ino, const char *name,
		  mode_t mode)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	char key[AIS_NAME_MAX + 1], marker[AIS_NAME_MAX + 16];
	struct afs_inode *parent = NULL, *child;
	struct afs_trust_tok made = {0}, mtok = {0};
	struct ais_put_opts po;
	struct ais_obj_meta m;
	struct afs_loc loc;
	int rc, kind;

	memset(&m, 0, sizeof(m)); /* a bucket keeps none yet */
	rc = dir_op_start(fs, parent_ino, name, &parent, &loc);
	if (rc)
		goto out;
	if (!loc.bucket[0]) {
		rc = ais_name_check_bucket(name, errmsg);
		if (!rc)
			rc = ais_client_bucket_create(fs->client, name, errmsg);
		if (rc) {
			ais_log(LOG_INFO, "mkdir bucket %s: %s", name, errmsg);
			rc = -afs_errno(rc, "mkdir", &loc, errmsg);
		}
		goto out;
	}
	if (strcmp(name, AFS_DIR_MARKER) == 0) {
		rc = -EINVAL;
		goto out;
	}
	rc = afs_child_key(loc.key, name, key, sizeof(key));
	if (rc)
		goto out;
	child = afs_inode_find(fs->itable, parent, name);
	if (child) {
		bool local = afs_has_local_data(child);

		afs_inode_put(fs->itable, child);
		if (local) {
			rc = -EEXIST;
			goto out;
		}
	}
	/* From before it is known to be missing: a name made in it by
	 * anyone else from then on is a change below it. */
	afs_trust_begin_dir(fs, loc.bucket, key, &made);
	/* In a directory made here, a name the table lacks is missing. */
	rc = !child && afs_dir_complete(fs, parent)
		 ? -ENOENT
		 : afs_resolve(fs, loc.bucket, key, &kind, NULL);
	if (rc == 0) {
		rc = -EEXIST;
		goto out;
	}
	if (rc != -ENOENT) {
		rc = -afs_errno(rc, "mkdir", &loc, errmsg);
		goto out;
	}
	rc = afs_dir_marker(key, marker, sizeof(marker));
	if (rc)
		goto out;
	/* The marker keeps the directory's mode (S_IFDIR: exact bits),
	 * owner and times. */
	memset(&po, 0, sizeof(po));
	po.mode = S_IFDIR | (mode & 07777);
	po.owned = true;
	afs_creator(req, parent, &po.uid, &po.gid, &po.mode);
	afs_trust_begin(fs, loc.bucket, marker, &mtok);
	rc = ais_client_put_buf(fs->client, loc.bucket, marker, "", 0, &po, &m,
				errmsg);
	if (rc)
		rc = -afs_errno(rc, "mkdir", &loc, errmsg);
out:
	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_dir_entry(req, fs, parent, name, &made, &m, &mtok);
	if (mtok.gen)
		afs_trust_own(fs, loc.bucket, marker);
	afs_inode_put(fs->itable, parent);
}

int afs_dir_check_empty(struct afs_fs *fs, const struct afs_loc *loc,
			const char *prefix)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_list_page page = {0};
	size_t i, plen = strlen(prefix);
	int rc;

	rc = ais_client_list(fs->client, loc->bucket, prefix, "/", NULL, 2,
			     &page, errmsg);
	if (rc)
		return -afs_errno(rc, "rmdir", loc, errmsg);
	for (i = 0; i < page.n; i++) {
		if (strcmp(page.entries[i].name + plen, AFS_DIR_MARKER) != 0)
			rc = -ENOTEMPTY;
	}
	ais_list_page_free(&page);
	return rc;
}

void afs_op_rmdir(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	char errmsg[AIS_ERRMSG_LEN] = "";
	char key[AIS_NAME_MAX + 1], prefix[AIS_NAME_MAX + 2];
	char marker[AIS_NAME_MAX + 16];
	struct afs_inode *parent = NULL, *child = NULL;
	struct afs_loc loc;
	int rc, kind;

	rc = dir_op_start(fs, parent_ino, name, &parent, &loc);
	if (rc)
		goto out;
	/* Files closed in it (write-back) are in the cluster first. */
	afs_wb_sync(fs, NULL);
	child = afs_inode_find(fs->itable, parent, name);
	if (child && child->kind == AFS_SHARD) {
		/* A shard is one object, removed as the file it is. */
		rc = -EROFS;
		goto out;
	}
	if (!loc.bucket[0]) {
		struct afs_loc bl = {0};

		if (ais_name_check_bucket(name, NULL) != 0) {
			rc = -ENOENT;
			goto out;
		}
		snprintf(bl.bucket, sizeof(bl.bucket), "%s", name);
		rc = afs_dir_check_empty(fs, &bl, "");
		if (!rc)
			rc =
			    ais_client_bucket_destroy(fs->client, name, errmsg);
		if (rc < 0 && rc != -ENOTEMPTY)
			rc = -afs_errno(rc, "rmdir", &bl, errmsg);
		goto done;
	}
	rc = afs_child_key(loc.key, name, key, sizeof(key));
	if (rc)
		goto out;
	rc = afs_resolve(fs, loc.bucket, key, &kind, NULL);
	if (rc == -ENOENT && child && child->kind == AFS_DIR) {
		/* Its last object went away after the kernel saw it (rm -r
		 * deletes the files first): nothing is left to remove. */
		rc = 0;
		goto done;
	}
	if (rc) {
		rc = -afs_errno(rc, "rmdir", &loc, errmsg);
		goto out;
	}
	if (kind != AFS_DIR) {
		/* A shard is one object, removed with ais rm (or
		 * shards=file and rm), not member by member. */
		rc = afs_is_shard_name(fs, name) ? -EROFS : -ENOTDIR;
		goto out;
	}
	snprintf(prefix, sizeof(prefix), "%s/", key);
	rc = afs_dir_check_empty(fs, &loc, prefix);
	if (rc)
		goto out;
	snprintf(marker, sizeof(marker), "%s/%s", key, AFS_DIR_MARKER);
	/* A time a name moved it to is not stored after the marker went. */
	if (child)
		afs_dirtime_begin(fs, child);
	rc = ais_client_delete(fs->client, loc.bucket, marker, errmsg);
	if (child)
		afs_dirtime_end(fs, child);
	if (rc == -ENOENT)
		rc = 0;
	if (rc)
		rc = -afs_errno(rc, "rmdir", &loc, errmsg);
done:
	if (!rc)
		afs_dirtime_touch(fs, parent);
	if (!rc && child)
		afs_inode_unhash(fs->itable, child);
out:
	fuse_reply_err(req, -rc);
	afs_inode_put(fs->itable, child);
	afs_inode_put(fs->itable, parent);
}
