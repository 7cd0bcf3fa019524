/* rename: one object (atomic when the cluster can do it in place), or a
 * directory as a prefix, object by object (not atomic). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dirtime.h"
#include "fs.h"
#include "lease.h"
#include "log.h"
#include "writeback.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* Renames every object below from/ to below to/. */
static int rename_prefix(struct afs_fs *fs, const struct afs_loc *loc,
			 const char *from, const char *to)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	char newname[AIS_NAME_MAX + 1];
	struct ais_list_page page;
	size_t flen = strlen(from), i;
	char *token = NULL;
	int rc = 0, n;

	do {
		memset(&page, 0, sizeof(page));
		rc = ais_client_list(fs->client, loc->bucket, from, NULL, token,
				     AFS_LIST_PAGE, &page, errmsg);
		free(token);
		token = NULL;
		if (rc)
			return -afs_errno(rc, "rename", loc, errmsg);
		for (i = 0; i < page.n && !rc; i++) {
			const char *name = page.entries[i].name;

			if (page.entries[i].is_prefix ||
			    strncmp(name, from, flen) != 0)
				continue;
			n = snprintf(newname, sizeof(newname), "%s%s", to,
				     name + flen);
			if (n < 0 || (size_t)n >= sizeof(newname)) {
				rc = -ENAMETOOLONG;
				break;
			}
			rc = ais_client_rename(fs->client, loc->bucket, name,
					       newname, false, errmsg);
			afs_trust_own(fs, loc->bucket, name);
			afs_trust_own(fs, loc->bucket, newname);
			if (rc)
				rc = -afs_errno(rc, "rename", loc, errmsg);
		}
		if (!rc && page.next_token && page.next_token[0]) {
			token = strdup(page.next_token);
			if (!token)
				rc = -ENOMEM;
		}
		ais_list_page_free(&page);
	} while (!rc && token);
	free(token);
	return rc;
}

static int do_rename(struct afs_fs *fs, struct afs_inode *p1, const char *name,
		     struct afs_inode *p2, const char *newname,
		     unsigned int flags)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	char key1[AIS_NAME_MAX + 1], key2[AIS_NAME_MAX + 1];
	char from[AIS_NAME_MAX + 2], to[AIS_NAME_MAX + 2];
	char marker[AIS_NAME_MAX + 16];
	bool noreplace = flags & RENAME_NOREPLACE;
	bool dst_staged = false, dst_was = false, replaced = false;
	struct afs_spool *dst_sp = NULL;
	struct afs_inode *src = NULL, *dst = NULL;
	struct afs_loc l1, l2;
	int rc, kind = 0, dkind = 0;

	if (p1->kind != AFS_DIR || p2->kind != AFS_DIR)
		return -ENOTDIR;
	rc = afs_locate(fs, p1, &l1);
	if (!rc)
		rc = afs_locate(fs, p2, &l2);
	if (rc)
		return rc;
	if (!l1.bucket[0] || !l2.bucket[0])
		return -EPERM; /* buckets themselves are not renamed */
	if (strcmp(l1.bucket, l2.bucket) != 0)
		return -EXDEV; /* mv falls back to copy and delete */
	if (strcmp(name, AFS_DIR_MARKER) == 0 ||
	    strcmp(newname, AFS_DIR_MARKER) == 0)
		return -EINVAL;
	rc = afs_child_key(l1.key, name, key1, sizeof(key1));
	if (!rc)
		rc = afs_child_key(l2.key, newname, key2, sizeof(key2));
	if (rc)
		return rc == -EINVAL ? -ENOENT : rc;

	dst = afs_inode_find(fs->itable, p2, newname);
	src = afs_inode_find(fs->itable, p1, name);
	/* Maybe a directory: the files closed below it (write-back) are in
	 * the cluster before it is looked at, listed and moved. */
	if (!src || src->kind != AFS_FILE)
		afs_wb_sync(fs, NULL);
	if (src && src->kind == AFS_FILE && afs_has_local_data(src)) {
		/* Save what is being written first: the rename moves the
		 * object, and the writer's next close PUTs to the new name. */
		rc = afs_file_commit(fs, src);
		if (rc) {
			rc = -rc;
			goto out;
		}
	}
	rc = afs_resolve(fs, l1.bucket, key1, &kind, NULL);
	if (rc) {
		rc = -afs_errno(rc, "rename", &l1, errmsg);
		goto out;
	}
	if (strcmp(key1, key2) == 0)
		goto out;
	rc = afs_resolve(fs, l2.bucket, key2, &dkind, NULL);
	if (rc && rc != -ENOENT) {
		rc = -afs_errno(rc, "rename", &l2, errmsg);
		goto out;
	}
	rc = 0;
	if (dkind && noreplace) {
		rc = -EEXIST;
		goto out;
	}
	if (kind == AFS_FILE) {
		if (dkind == AFS_DIR) {
			rc = -EISDIR;
			goto out;
		}
		/* A file written here and about to be replaced: no upload
		 * of it may land after the rename. */
		if (dst && dst != src && dst->kind == AFS_FILE &&
		    afs_has_local_data(dst)) {
			dst_sp = afs_unlink_begin(fs, dst, &dst_was);
			dst_staged = true;
		}
		rc = ais_client_rename(fs->client, l1.bucket, key1, key2,
				       noreplace, errmsg);
		afs_trust_own(fs, l1.bucket, key1);
		afs_trust_own(fs, l1.bucket, key2);
		if (rc)
			rc = -afs_errno(rc, "rename", &l1, errmsg);
		goto moved;
	}
	if (dkind == AFS_FILE) {
		rc = -ENOTDIR;
		goto out;
	}
	snprintf(from, sizeof(from), "%s/", key1);
	snprintf(to, sizeof(to), "%s/", key2);
	if (strncmp(to, from, strlen(from)) == 0) {
		rc = -EINVAL; /* into itself */
		goto out;
	}
	if (dkind == AFS_DIR) {
		rc = afs_dir_check_empty(fs, &l2, to);
		if (rc)
			goto out;
		snprintf(marker, sizeof(marker), "%s%s", to, AFS_DIR_MARKER);
		rc = ais_client_delete(fs->client, l2.bucket, marker, errmsg);
		if (rc && rc != -ENOENT) {
			rc = -afs_errno(rc, "rename", &l2, errmsg);
			goto out;
		}
		rc = 0;
	}
	afs_trust_dirs_moved(fs);
	rc = rename_prefix(fs, &l1, from, to);
moved:
	if (rc)
		goto out;
	if (dst && dst != src) {
		/* The replaced file's writers must not resurrect it. */
		afs_inode_lock(dst);
		dst->unlinked = true;
		afs_inode_unlock(dst);
		afs_inode_unhash(fs->itable, dst);
	}
	if (src)
		rc = afs_inode_move(fs->itable, src, p2, newname);
	if (src && src->kind == AFS_FILE) {
		/* The node gave it a new change time (and commit time): the
		 * next stat asks for them. */
		afs_inode_lock(src);
		src->trust = 0;
		afs_inode_unlock(src);
	}
	/* The new name exists, and the table may not have it. */
	if (!src || rc)
		afs_inode_forget_made(p2);
	replaced = true;
out:
	if (dst_staged)
		afs_unlink_end(fs, dst, dst_sp, !replaced, dst_was);
	afs_inode_put(fs->itable, dst);
	afs_inode_put(fs->itable, src);
	return rc;
}

void afs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		   fuse_ino_t newparent, const char *newname,
		   unsigned int flags)
{
	struct afs_fs *fs = fuse_req_userdata(req);
	struct afs_inode *p1, *p2;
	int rc;

	if (fs->opts.ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (flags & ~(unsigned int)RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL); /* RENAME_EXCHANGE, WHITEOUT */
		return;
	}
	p1 = afs_inode_get(fs->itable, parent);
	p2 = afs_inode_get(fs->itable, newparent);
	if (!p1 || !p2)
		rc = -ESTALE;
	else if (afs_kind_in_shard(p1->kind) || afs_kind_in_shard(p2->kind))
		rc = -EROFS; /* shard members are read-only */
	else
		rc = do_rename(fs, p1, name, p2, newname, flags);
	if (!rc) {
		afs_dirtime_touch(fs, p1);
		if (p2 != p1)
			afs_dirtime_touch(fs, p2);
	}
	afs_inode_put(fs->itable, p2);
	afs_inode_put(fs->itable, p1);
	fuse_reply_err(req, -rc);
}
