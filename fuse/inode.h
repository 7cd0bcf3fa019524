/* The FUSE client's inode table: (parent, name) <-> inode, with lookup counts.
 */
#ifndef AISFS_INODE_H
#define AISFS_INODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "lease.h"

#define AFS_ROOT_INO 1

/* The suffix of an archive's view directory (fs.h AFS_SHARD_VIEW). */
#define AFS_SHARD_VIEW_SUFFIX ".d"

/* What an inode is. With shards=dir an archive object (x.tar) is an
 * AFS_SHARD directory; the entries below it are its members, read-only. */
enum afs_kind {
	AFS_DIR = 1,   /* a prefix of object names (or a bucket, the root) */
	AFS_FILE = 2,  /* an object */
	AFS_SHARD = 3, /* an archive object shown as a directory */
	AFS_MDIR = 4,  /* a directory inside a shard */
	AFS_MFILE = 5, /* a file (or hard link, device, fifo) inside a shard */
	AFS_MLINK = 6, /* a symbolic link inside a shard */
};

/* Directories the kernel may open and look names up in. */
static inline bool afs_kind_is_dir(int kind)
{
	return kind == AFS_DIR || kind == AFS_SHARD || kind == AFS_MDIR;
}

/* Inside a shard, or the shard directory itself: nothing can be created,
 * changed or removed there (EROFS). */
static inline bool afs_kind_in_shard(int kind)
{
	return kind >= AFS_SHARD && kind <= AFS_MLINK;
}

/* A member of a shard (not the shard itself). */
static inline bool afs_kind_is_member(int kind)
{
	return kind >= AFS_MDIR && kind <= AFS_MLINK;
}

struct afs_spool;

/* What an inode keeps of an object's metadata: what stat shows, and an
 * identity that tells two writes apart (ident: version, size, mtime,
 * checksum and commit time hashed), in 36 bytes instead of the 120 of
 * struct ais_obj_meta: a million inodes the kernel holds must fit in the
 * mount's memory budget. Packed to 4-byte alignment so that it fills the
 * hole after the inode's 4-byte fields. */
struct afs_meta {
	uint32_t mode;
	uint64_t size;
	uint64_t version;
	int64_t mtime_ns;
	uint64_t ident;
} __attribute__((packed, aligned(4)));

/* m into *d. */
void afs_meta_set(struct afs_meta *d, const struct ais_obj_meta *m);
/* The identity afs_meta_set gives m (d->ident). */
uint64_t afs_meta_ident(const struct ais_obj_meta *m);
/* d as an ais_obj_meta (no checksum, owner or commit time). */
void afs_meta_get(const struct afs_meta *d, struct ais_obj_meta *m);

/* What few inodes need, out of line (afs_inode_ext). */
struct afs_iext {
	char *name; /* the name after a rename (heap); table lock */
	/* Under the inode's lock: */
	struct afs_spool *spool; /* write staging shared by writers, or NULL */
	int spool_users;
	char *link; /* AFS_MLINK: the target once known (heap), or NULL */
	/* A directory this mount made: while the token holds
	 * (afs_trust_dir), every name in it is in this table, and a name
	 * that is not is missing without asking. gen 0: none. */
	struct afs_trust_tok made;
	/* Under the inode's lock: the access and change times, when either
	 * differs from meta.mtime_ns (times_set). Most objects' do not (put
	 * by ais put, or written through a mount, without utimensat: the
	 * node stamps mtime and ctime with one clock reading): their inodes
	 * need no ext for them. */
	bool times_set;
	int64_t atime_ns, ctime_ns;
	/* Under the inode's lock: the owner of an owned inode when it is not
	 * the default owner (afs_inode_default_owner), which it is for every
	 * file a single-user mount makes. */
	bool owner_set;
	uint32_t uid, gid;
	/* Directories, under dirtime.c's mutex: the time a name in it was
	 * last added or removed here and not stored yet (0: none), a store
	 * of its times on its way, it is queued for one. */
	int64_t dir_touched_ns;
	bool dir_busy, dir_queued;
	/* Directories, under the inode's lock: when (monotonic ns) their
	 * marker's attributes were last asked for (or failed to come). */
	uint64_t dir_meta_ns;
};

/* One inode the kernel knows (nlookup > 0) or that is still referenced from
 * inside aisfs (refs > 0: its children, open handles, operations in flight).
 * The kernel knows it by its address (afs_nodeid: the root is 1); ino is
 * what stat shows, never reused. ino, kind and the parent chain are
 * managed by the table; the fields below "lock" are protected by it.
 * An inode is freed when both counts are zero.
 *
 * Compact, because the kernel keeps an inode for every file an epoch has
 * read (a million of them): 95 bytes plus the name, rounded to 8, no
 * malloc header (inode.c's slab). Rarely needed state is in ext. */
struct afs_inode {
	uint64_t ino;
	struct afs_inode *parent;    /* NULL for the root; holds a ref on it */
	struct afs_inode *next_name; /* hash chain */
	_Atomic(struct afs_iext *) ext; /* NULL until needed; never replaced */
	uint32_t nlookup; /* saturates: such an inode is never freed */
	uint32_t refs;
	/* Protected by lock (a spin lock: 4 bytes, held for a few loads and
	 * stores; no call that can block is made under it). */
	uint32_t trust; /* lease.h: the trust generation it was confirmed
			   under, 0 if none (or changed since) */
	pthread_spinlock_t lock;
	uint64_t seen_ns;     /* monotonic time the cluster last confirmed it */
	struct afs_meta meta; /* last known object metadata (files) */
	uint8_t kind;
	bool hashed; /* reachable by (parent, name); table lock */
	bool have_meta : 1;
	bool owned : 1;	     /* it has an owner (ObjMeta.owned): the default
				one, or ext's */
	bool owner_lost : 1; /* owned, and no room to say by whom */
	/* The kernel may hold this object's bytes, as of meta.ident, in its
	 * page cache (set at open and after our own PUT; cleared when meta
	 * changes to another ident): an open keeps the cache only then. */
	bool have_page : 1;
	bool unlinked : 1; /* deleted while open: staged data is dropped */
	char iname[];	   /* the name as created ("" for the root) */
};

/* The number the kernel knows in by. */
static inline uint64_t afs_nodeid(const struct afs_inode *in)
{
	return in->parent ? (uint64_t)(uintptr_t)in : AFS_ROOT_INO;
}

/* in's out-of-line state, or NULL if it has none yet. */
static inline struct afs_iext *afs_iext(struct afs_inode *in)
{
	return atomic_load_explicit(&in->ext, memory_order_acquire);
}

/* in's out-of-line state, made if it has none. NULL on ENOMEM. */
struct afs_iext *afs_inode_ext(struct afs_inode *in);

/* in's spool, or NULL. Under in's lock (or holding a spool user). */
static inline struct afs_spool *afs_inode_spool(struct afs_inode *in)
{
	struct afs_iext *x = afs_iext(in);

	return x ? x->spool : NULL;
}

/* in's link target (AFS_MLINK), or NULL. Under in's lock. */
static inline const char *afs_inode_link_target(struct afs_inode *in)
{
	struct afs_iext *x = afs_iext(in);

	return x ? x->link : NULL;
}

/* A name of directory dir leaves the table while it may still exist (the
 * kernel forgot it, or a change could not be followed): the table no
 * longer holds every name of dir (afs_iext.made). */
void afs_inode_forget_made(struct afs_inode *dir);

/* Under in's lock: its meta is now *m (have_meta set); the page cache
 * stops being trusted if that is another write than before. Returns true
 * if the kernel may hold pages of the write before. Times other than the
 * mtime need in's ext: made beforehand by afs_inode_meta_room (without
 * it, they read as the mtime). */
bool afs_inode_set_meta(struct afs_inode *in, const struct ais_obj_meta *m);

/* Before afs_inode_set_meta(in, m), not under in's lock (it may
 * allocate): makes the room m's times and owner need. */
void afs_inode_meta_room(struct afs_inode *in, const struct ais_obj_meta *m);

/* The owner most inodes have (the mount's user), which takes no room in
 * them. Set once, before the first inode is made. */
void afs_inode_default_owner(uint32_t uid, uint32_t gid);

/* Before afs_inode_set_owner(in, uid, gid), not under in's lock: makes
 * the room that owner needs. */
void afs_inode_owner_room(struct afs_inode *in, uint32_t uid, uint32_t gid);

/* Under in's lock: owned by uid:gid from now on (room made beforehand,
 * else it shows as owned by nobody, 65534). */
void afs_inode_set_owner(struct afs_inode *in, uint32_t uid, uint32_t gid);

/* Under in's lock: its metadata as afs_inode_set_meta stored it (no
 * checksum or commit time). */
void afs_inode_meta_get(struct afs_inode *in, struct ais_obj_meta *m);

/* Under in's lock: its access and change times are atime and ctime (its
 * mtime being meta.mtime_ns); ext made beforehand if they differ. */
void afs_inode_set_times(struct afs_inode *in, int64_t atime, int64_t ctime);

static inline void afs_inode_lock(struct afs_inode *in)
{
	pthread_spin_lock(&in->lock);
}

static inline void afs_inode_unlock(struct afs_inode *in)
{
	pthread_spin_unlock(&in->lock);
}

struct afs_itable;

/* Creates the table with its root directory (AFS_ROOT_INO, never freed).
 * Returns NULL on ENOMEM. */
struct afs_itable *afs_itable_new(void);
void afs_itable_free(struct afs_itable *t);

/* The inode the kernel knows by nodeid, with one more ref (drop with
 * afs_inode_put), or NULL if it is not in use. */
struct afs_inode *afs_inode_get(struct afs_itable *t, uint64_t nodeid);

/* The hashed child (parent, name) with one more ref, or NULL. */
struct afs_inode *afs_inode_find(struct afs_itable *t, struct afs_inode *parent,
				 const char *name);

/* Finds or creates the child (parent, name) of this kind and counts one
 * kernel lookup on it (the caller is about to send it in an entry reply).
 * An existing child of the other kind is unhashed and replaced by a new
 * inode. Returns it with one extra ref for the caller (afs_inode_put after
 * replying), or NULL on ENOMEM. */
struct afs_inode *afs_inode_link(struct afs_itable *t, struct afs_inode *parent,
				 const char *name, int kind);

/* afs_inode_link, creating the inode (if it must be) with number want when
 * that is not in use (0 or taken: the next number, as afs_inode_link). The
 * caller picks want from a space the sequential numbers never reach (bit
 * 63 set), so that a name gets the same number every time it is looked up
 * again after the kernel forgot it. */
struct afs_inode *afs_inode_link_ino(struct afs_itable *t,
				     struct afs_inode *parent, const char *name,
				     int kind, uint64_t want);

/* afs_inode_link_ino for a name whose object is now the write ident
 * (afs_meta_ident): if the kernel may hold pages of another write of it
 * (have_page), the name gets a new inode, so that the kernel, seeing
 * another node id, drops its name and starts the new file with no pages
 * (the old inode lives on for the descriptors open on it). For mounts
 * whose opens do not reach aisfs, where nothing else would drop them. */
struct afs_inode *afs_inode_link_ident(struct afs_itable *t,
				       struct afs_inode *parent,
				       const char *name, int kind,
				       uint64_t want, uint64_t ident);

/* Counts one more kernel lookup on in, and a ref for the caller, if in is
 * still reachable by its name (a lookup that found it and answers with it,
 * having let go of the table lock meanwhile). False if it was unhashed
 * since: look the name up again. */
bool afs_inode_relink(struct afs_itable *t, struct afs_inode *in);

/* How many lookups of in the kernel has not forgotten yet. */
uint32_t afs_inode_lookups(struct afs_itable *t, struct afs_inode *in);

/* Drops one ref; frees the inode (and maybe its ancestors) when unused. */
void afs_inode_put(struct afs_itable *t, struct afs_inode *in);

/* The kernel forgets n lookups of nodeid. */
void afs_inode_forget(struct afs_itable *t, uint64_t nodeid, uint64_t n);

/* How many inodes the table holds, and the bytes they take. */
void afs_itable_stats(struct afs_itable *t, size_t *count, size_t *bytes);

/* Makes in unreachable by name (unlink, rmdir, replaced by a rename). */
void afs_inode_unhash(struct afs_itable *t, struct afs_inode *in);

/* Re-keys in as (newparent, newname), unhashing whatever was there. Returns
 * 0 or -ENOMEM. */
int afs_inode_move(struct afs_itable *t, struct afs_inode *in,
		   struct afs_inode *newparent, const char *newname);

/* Writes the components from the root down to in, joined by '/' ("" for
 * the root) into buf: the object name it stands for (an archive's view
 * "x.tar.d" is written "x.tar"). Returns the number of components, or
 * -ENAMETOOLONG. */
int afs_inode_path(struct afs_itable *t, struct afs_inode *in, char *buf,
		   size_t len);

/* Like afs_inode_path; *shard_end (if not NULL) gets the length of the
 * part of buf that names the nearest AFS_SHARD at or above in (the shard
 * object), or (size_t)-1 when in is not in a shard. */
int afs_inode_path_split(struct afs_itable *t, struct afs_inode *in, char *buf,
			 size_t len, size_t *shard_end);

#endif
