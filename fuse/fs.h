/* The aisfs file system: shared state and helpers of the FUSE operations. */
#ifndef AISFS_FS_H
#define AISFS_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "client.h"
#include "inode.h"
#include "mount_opts.h"
#include "names.h"

/* The zero-byte object that keeps an empty directory: "DIR/.aisfs.dir". It
 * is hidden from listings and lookups. */
#define AFS_DIR_MARKER ".aisfs.dir"

/* A directory the kernel already holds is trusted without asking the
 * cluster for this long after it was last seen there (listing, lookup,
 * mkdir): path walks cost nothing, and survive a node that is down. */
#define AFS_DIR_TRUST_NS (10ULL * 1000000000ULL)

/* Longest member path inside a shard (as the client library allows). */
#define AFS_MEMBER_MAX (4 * AIS_NAME_MAX)

/* A symbolic link is an object whose mode is S_IFLNK | 0777 and whose
 * bytes are its target (at most AFS_LINK_MAX of them, as Linux allows):
 * stored, copied and moved as any object, seen by every client. */
#define AFS_LINK_MODE (S_IFLNK | 0777)
#define AFS_LINK_MAX  4095

static inline bool afs_mode_is_link(uint32_t mode)
{
	return (mode & S_IFMT) == S_IFLNK;
}

/* Room for a full path below the root: bucket, '/', object name, and a
 * member path when the object is a shard. */
#define AFS_PATH_MAX                                                           \
	(AIS_BUCKET_MAX + 1 + AIS_NAME_MAX + 1 + AFS_MEMBER_MAX + 1)

/* st_blksize of every file: the I/O size applications are told to prefer.
 * Readers size their buffers from it (Python allocates one per open file,
 * stdio per FILE), so it must be small: at 1 MiB every open of a small
 * sample cost a 1 MiB allocation and its page faults; at 128 KiB, glibc
 * still gave each buffer back to the kernel (brk, TLB flushes): a warm
 * epoch over 6,000 samples spent 4.7 s in the kernel against 0.8 s at
 * 4 KiB, which is what local file systems (and passthrough_ll) report.
 * coreutils reads 128 KiB at a time whatever it says, and the kernel's
 * readahead still sends large FUSE reads. */
#define AFS_BLKSIZE 4096

/* Listing page size asked of the cluster per readdir round trip. */
#define AFS_LIST_PAGE 1000

struct afs_leases;
struct afs_wb;
struct afs_dirtimes;
struct afs_spool;
struct afs_trust_tok;

struct afs_fs {
	struct ais_client *client;
	struct afs_leases *leases; /* lease.h; NULL with -o noleases */
	struct afs_wb *wb;	   /* writeback.h; NULL without -o writeback */
	struct afs_dirtimes *dirtimes; /* dirtime.h; NULL if not started */
	struct afs_etl *etl;	       /* etl.h; NULL without -o etl= */
	struct afs_itable *itable;
	struct afs_opts opts;
	struct timespec mount_time;
	struct fuse_session *se;
	/* Monotonic ns: a node did not know OP_RESOLVE; until then lookups
	 * HEAD and list (then the op is tried again). */
	_Atomic uint64_t no_resolve_until;
	/* ro mount: open answers ENOSYS, so the kernel stops sending opens
	 * (and releases) and keeps the page cache across opens. Close-to-open
	 * then rests on what the kernel may cache: names and attributes of
	 * files no longer than the lease has left (afs_cache_time), pages
	 * until a change is pushed (lease.h) or a revalidation finds another
	 * write (afs_inode_link_ident). Set before the session starts;
	 * turned off by the FUSE init if the kernel cannot. */
	atomic_bool no_open;
};

/* Where an inode lives in the cluster. bucket is "" for the root of a mount
 * without bucket= (the list of buckets); key is "" for a bucket's root.
 * For a shard and its members, key is the shard object's name and member
 * (see afs_loc_member) the path inside it ("" for the shard itself). */
struct afs_loc {
	char bucket[AIS_BUCKET_MAX + 1];
	char key[AIS_NAME_MAX + 1 + AFS_MEMBER_MAX + 1];
	bool in_shard;
	size_t member_off; /* in_shard: the member path starts at key + this */
};

/* The member path of a location in a shard ("" for the shard itself, and
 * for locations outside shards). */
static inline const char *afs_loc_member(const struct afs_loc *loc)
{
	return loc->in_shard ? loc->key + loc->member_off : "";
}

/* The operation table handed to fuse_session_new; userdata is the afs_fs. */
extern const struct fuse_lowlevel_ops afs_ops;

/* Resolves in to its bucket and key (and member path in a shard). Returns
 * 0 or -ENAMETOOLONG. */
int afs_locate(struct afs_fs *fs, struct afs_inode *in, struct afs_loc *loc);

/* Joins a directory key and a child name into out ("" + n -> n, "a" + n ->
 * "a/n"). Returns 0, or -ENAMETOOLONG / -EINVAL when the result is not a
 * valid object name. */
int afs_child_key(const char *dirkey, const char *name, char *out, size_t len);

/* Looks bucket/key up in the cluster: *kind becomes AFS_FILE (meta filled,
 * may be NULL), AFS_DIR (an object below key/ exists) or 0 (neither: the
 * function then returns -ENOENT). Other errors are the client's: when the
 * owner of key does not answer, that error comes back after one timeout
 * (the directory check would need the same node). */
int afs_resolve(struct afs_fs *fs, const char *bucket, const char *key,
		int *kind, struct ais_obj_meta *meta);

/* Converts a client error into what the kernel gets: names errors pass
 * through, everything about an unreachable or misbehaving cluster is EIO.
 * Logs the reason (errmsg may be empty) with what and key. */
int afs_errno(int rc, const char *what, const struct afs_loc *loc,
	      const char *errmsg);

/* The attributes of in as the kernel should see them. Returns 0 or -errno. */
int afs_fill_attr(struct afs_fs *fs, struct afs_inode *in, struct stat *st);
void afs_meta_to_stat(struct afs_fs *fs, const struct ais_obj_meta *m,
		      struct stat *st);
void afs_dir_stat(struct afs_fs *fs, struct stat *st);

/* The name of the marker object of directory dirkey ("" for a bucket's
 * top) into out; -ENAMETOOLONG if it does not fit a name. */
int afs_dir_marker(const char *dirkey, char *out, size_t len);

/* The attributes a directory keeps in its marker: *m, all zero for a
 * directory that has none (made by ais put, not mkdir). 0, or -errno
 * (logged) when the marker's owner did not answer. */
int afs_dir_meta(struct afs_fs *fs, const char *bucket, const char *dirkey,
		 struct ais_obj_meta *m);

/* Stores t as dir's mtime in its marker (never making one: -ENOENT when
 * it has none) and shows what the node answered. 0 or -errno. */
int afs_dir_store_mtime(struct afs_fs *fs, struct afs_inode *dir, int64_t t);

/* Under dir's lock: whether its attributes (from its marker) are current:
 * under a lease on the marker, or asked for within attr_timeout. */
bool afs_dir_attrs_fresh(struct afs_fs *fs, struct afs_inode *dir);

/* dir's attributes came from its marker just now (or could not: asked
 * again after attr_timeout all the same). */
void afs_dir_meta_asked(struct afs_inode *dir);

/* The owner of what req makes in parent: the calling user and group, or
 * the group of a set-group-ID parent (whose bit a new directory, of mode
 * *dir_mode, gets too). */
void afs_creator(fuse_req_t req, struct afs_inode *parent, uint32_t *uid,
		 uint32_t *gid, uint32_t *dir_mode);

/* True when name is an archive to show as a directory (shards=dir). */
bool afs_is_shard_name(struct afs_fs *fs, const char *name);

/* With shards=view (the default), the members of archive x.tar are under
 * the directory x.tar.d: looked up, never listed, so that du, find and cp
 * -r see an archive's bytes once (as the file). */
#define AFS_SHARD_VIEW AFS_SHARD_VIEW_SUFFIX
/* With shards=view: whether name is the view of an archive ("x.tar.d"),
 * and that archive's name into stem (of len bytes). */
bool afs_shard_view_stem(struct afs_fs *fs, const char *name, char *stem,
			 size_t len);

/* Fills e for in (attr timeouts from the options), for the answer to a
 * lookup. */
int afs_fill_entry(struct afs_fs *fs, struct afs_inode *in,
		   struct fuse_entry_param *e);
/* The same for an entry of a listing (readdirplus), whose names the kernel
 * may link after the lease's guard dropped every name (lease.c): never the
 * long time of afs_lease_long. */
int afs_fill_entry_listed(struct afs_fs *fs, struct afs_inode *in,
			  struct fuse_entry_param *e);

/* How long the kernel may cache in's name and attributes: base, or
 * lease_timeout while a lease covers in (a change made elsewhere then
 * invalidates the kernel's copy at once: lease.h). Plain objects, shards
 * and shard members; not directories (prefixes that any PUT or delete
 * may make or end). On a no_open mount, files only, and only as long as
 * the lease has left (at most NO_OPEN_CACHE_MAX) unless long_ok and
 * afs_lease_long allow lease_timeout. */
double afs_cache_time(struct afs_fs *fs, struct afs_inode *in, double base,
		      bool long_ok);

/* A lease covers member in: its shard was confirmed since it last
 * changed, and in carries the shard's version. */
bool afs_member_covered(struct afs_fs *fs, struct afs_inode *in);

/* Answers a lookup-like request with in's entry (or the error filling it
 * gave), takes back the kernel's reference if the answer could not be
 * sent, and drops the caller's reference to in. */
void afs_reply_entry(fuse_req_t req, struct afs_fs *fs, struct afs_inode *in);

/* Answers a getattr-like request: rc, else in's attributes. Drops the
 * caller's reference to in. */
void afs_reply_attr(fuse_req_t req, struct afs_fs *fs, struct afs_inode *in,
		    int rc);

/* The metadata of shard member in, asked of the shard's owner; what: the
 * operation, for the error message. Returns 0 or -errno (as afs_errno). */
int afs_member_head(struct afs_fs *fs, struct afs_inode *in, const char *what,
		    struct ais_obj_meta *m);

/* Operation halves, one file per concern. */
void afs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void afs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void afs_op_forget_multi(fuse_req_t req, size_t count,
			 struct fuse_forget_data *forgets);
void afs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void afs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		    int to_set, struct fuse_file_info *fi);
void afs_op_statfs(fuse_req_t req, fuse_ino_t ino);
void afs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     size_t size);
void afs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void afs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     const char *value, size_t size, int flags);
void afs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

void afs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void afs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void afs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi);
void afs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void afs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi);
void afs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode);
void afs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);

void afs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void afs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode, struct fuse_file_info *fi);
void afs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, dev_t rdev);
void afs_op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		    const char *name);
void afs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		 const char *newname);
/* A plain object that is a symbolic link, as last known. */
bool afs_inode_is_link(struct afs_inode *in);
/* readlink of a plain object that is a link (afs_mode_is_link). */
void afs_file_readlink(fuse_req_t req, struct afs_fs *fs, struct afs_inode *in);
void afs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void afs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		  off_t off, struct fuse_file_info *fi);
void afs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void afs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi);
void afs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void afs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void afs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		   fuse_ino_t newparent, const char *newname,
		   unsigned int flags);

/* -ENOTEMPTY if the directory prefix ("key/", or "" for a bucket's root)
 * holds anything but its marker object; 0 if empty; else -errno for the
 * kernel. */
int afs_dir_check_empty(struct afs_fs *fs, const struct afs_loc *loc,
			const char *prefix);

/* Truncates the object of in to size: in the shared spool when the file
 * is open for writing (the PUT follows at close), else right away with a
 * PUT of the truncated object. Returns 0 or -errno. */
int afs_file_truncate(struct afs_fs *fs, struct afs_inode *in, uint64_t size);

/* Takes a user reference on in's spool (so it outlives the caller's use
 * of it), or returns NULL when in has none. Drop with afs_spool_drop, which
 * frees the spool with its last user (trying one last PUT if it still holds
 * unsaved changes). */
struct afs_spool *afs_spool_hold(struct afs_inode *in);
void afs_spool_drop(struct afs_fs *fs, struct afs_inode *in);

/* On a no_open mount, after afs_inode_set_meta said the kernel may hold
 * pages of another write of in (stale) where the name could not get a new
 * inode at once (a getattr): the name stops leading to in, so that its
 * next lookup makes a new one (afs_inode_link_ident). Descriptors open on
 * in keep what they read, as after a change while open. */
void afs_pages_stale(struct afs_fs *fs, struct afs_inode *in, bool stale);

/* True if in has a loaded spool (its attributes are local). */
bool afs_has_local_data(struct afs_inode *in);
/* The same, under in's lock. */
bool afs_has_staged(struct afs_inode *in);
/* Whether every name of directory dir is in the inode table: one this
 * mount made, with nothing made in it since but by this mount, and no
 * name of it forgotten (afs_iext.made). */
bool afs_dir_complete(struct afs_fs *fs, struct afs_inode *dir);

/* PUTs the staged data of in if it has unsaved changes (after any
 * write-back upload of it on its way). Returns 0 or a positive errno,
 * already converted for fuse_reply_err. */
int afs_file_commit(struct afs_fs *fs, struct afs_inode *in);

/* Before the DELETE (or replacing rename) of a file written here: marks
 * it unlinked, so no upload of its bytes follows, and waits for one on its
 * way. *was: whether it was marked already. Returns its spool, held (or
 * NULL), for afs_unlink_end. */
struct afs_spool *afs_unlink_begin(struct afs_fs *fs, struct afs_inode *in,
				   bool *was);
/* After it: if the DELETE failed, the file is back (its bytes are saved by
 * the last user of the spool, maybe this call). */
void afs_unlink_end(struct afs_fs *fs, struct afs_inode *in,
		    struct afs_spool *sp, bool failed, bool was);

/* The steps of such a PUT, shared with write-back (writeback.c). Under
 * sp->lock: whether in's spool holds unsaved bytes: 1 with the PUT's
 * options, location and size filled, 0 nothing to PUT (an unlinked file's
 * bytes are dropped), or -errno. */
int afs_put_prepare(struct afs_fs *fs, struct afs_inode *in,
		    struct afs_spool *sp, struct ais_put_opts *po,
		    struct afs_loc *loc, uint64_t *size);
/* Under sp->lock: the PUT of generation gen of the spool (sp->gen when its
 * bytes were taken) stored out; tok is from afs_trust_begin before it. */
void afs_put_done(struct afs_fs *fs, struct afs_inode *in, struct afs_spool *sp,
		  uint64_t gen, const struct afs_loc *loc,
		  const struct afs_trust_tok *tok,
		  const struct ais_obj_meta *out, uint32_t missing);
/* The PUT failed: it may have been stored all the same. */
void afs_put_failed(struct afs_fs *fs, struct afs_inode *in,
		    const struct afs_loc *loc);

/* Shards as directories (fs_shard.c). */

/* The kind of a member from its listing type (enum ais_shard_type) or,
 * when type is negative, from the S_IF bits of its mode. */
int afs_member_kind(int type, uint32_t mode);

/* Joins the member path of a shard directory and a child name into out.
 * Returns 0 or -ENAMETOOLONG. */
int afs_member_child(const char *dir, const char *name, char *out, size_t len);

/* Looks name up in the shard directory parent (the shard or a directory
 * in it) and replies to the kernel. */
void afs_shard_lookup(fuse_req_t req, struct afs_fs *fs,
		      struct afs_inode *parent, const char *name);

/* True if the metadata held for member in is current without asking the
 * node: it carries the version of its shard, and the cluster confirmed
 * that version less than attr_timeout ago (a shard's bytes, and so its
 * members', change only with its version). Never with attr_timeout=0. */
bool afs_member_fresh(struct afs_fs *fs, struct afs_inode *in);

/* Notes that the cluster just said the shard of in (a member) has this
 * version: if that is the version held for the shard, its confirmation
 * time is now; if not, the shard was replaced and is no longer trusted
 * (as afs_shard_doubt). */
void afs_shard_confirm(struct afs_inode *in, uint64_t version);

/* Forgets the last confirmation of the shard of in (a read met another
 * version): the next open of any of its members asks the node. */
void afs_shard_doubt(struct afs_inode *in);

/* Refreshes the metadata of a member file or link (member HEAD, skipped
 * while afs_member_fresh). Returns 0 or -errno for the kernel. */
int afs_member_refresh(struct afs_fs *fs, struct afs_inode *in);

/* The inode number of member name in the shard directory at dir: the same
 * every time for the mount's life (bit 63 set, apart from the sequential
 * numbers of other inodes). */
uint64_t afs_member_ino(const struct afs_loc *dir, const char *name);

/* The mtime of the shard that in belongs to (for directories the archive
 * only implies, which have none of their own). */
int64_t afs_shard_mtime(struct afs_inode *in);

/* Stores member metadata (and a link target, may be NULL) in in. */
void afs_member_set(struct afs_fs *fs, struct afs_inode *in,
		    const struct ais_obj_meta *m, const char *link);
/* m of a member as an inode keeps it (afs_member_set, an open): what a
 * listing of it does not carry (a checksum) zeroed. */
void afs_member_norm(const struct ais_obj_meta *m, struct ais_obj_meta *n);
/* The identity (afs_meta_ident) of a member, as afs_member_set keeps it. */
uint64_t afs_member_ident(const struct ais_obj_meta *m);

void afs_op_readlink(fuse_req_t req, fuse_ino_t ino);

#endif
