/* Where objects hit the disk: atomic durable PUT (tmp file, checksum, fsync,
 * xattr, rename), GET/HEAD lookup, DELETE, RENAME and SET_META, with
 * striped per-name locks, over the node's mountpaths. The store knows
 * nothing of the network or the cluster. All calls block (but
 * store_open_nowait): run them on worker threads. */
#ifndef AISD_STORE_STORE_H
#define AISD_STORE_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cksum.h"
#include "objmeta.h"
#include "store/arrivals.h"
#include "store/blocks.h"
#include "store/flush.h"
#include "store/mountpath.h"
#include "store/opencache.h"
#include "store/tombstone.h"
#include "store/xattr.h"

#define STORE_STRIPES 512

/* The node's objects: its mountpaths and the locks over them. */
struct store {
	struct mpset *mps;
	/* Striped locks keyed by a hash of "bucket/name": PUTs of one name
	 * read the old version and commit one after the other. */
	pthread_mutex_t stripes[STORE_STRIPES];
	/* Bumped by every holder of a stripe lock as it lets go, and (all)
	 * by a bucket destroy: how the open cache sees that a name may have
	 * changed. */
	atomic_uint stripe_gen[STORE_STRIPES];
	atomic_uint all_gen;
	/* The event loop's open objects (opencache.h; NULL: none). */
	struct ocache *oc;
	/* openat2(RESOLVE_CACHED) is missing (before Linux 5.12): the loop
	 * never tries it again. */
	atomic_bool no_cached_open;
	/* Names deleted while a rebalance may be in flight (tombstone.h):
	 * a migrated copy older than the delete is refused. */
	struct tombs *tombs;
	/* What became visible here lately, and when something left
	 * (arrivals.h): makes listings during a move complete. */
	struct arrivals *arr;
	/* Sidecar block checksum tables in memory (blocks.h). */
	struct blk_cache *blk;
	/* Group commit per file system (flush.h): store_flush. */
	struct flushers *flush;
	/* Reads check blocks against their checksums (config verify_reads;
	 * on unless turned off). */
	bool verify;
};

/* Opens the mountpaths (mpset_open: checks, .ais/tmp emptied, node id).
 * Returns 0 with *out (free with store_free) or -errno with errmsg. */
int store_new(char *const *paths, size_t n, struct store **out, char *errmsg);
void store_free(struct store *st);

/* Lets store_open_nowait keep up to cap objects open (0: none; see
 * opencache.h). Before the loop runs. Returns 0 or -ENOMEM. */
int store_open_cache(struct store *st, size_t cap);
/* The loop's once-a-second sweep of that cache; returns what stays open.
 */
size_t store_open_cache_sweep(struct store *st);

/* What a PUT asks for (strings are borrowed for the PUT's lifetime). */
struct store_put_args {
	const char *bucket;
	const char *name;
	int cksum_type;		 /* AIS_CKSUM_NONE: the default, XXH3 */
	const char *cksum_value; /* "" or NULL: nothing to verify */
	uint32_t mode;
	int64_t mtime_ns; /* 0: now */
	uint32_t uid;
	uint32_t gid;
	bool owned;	  /* uid/gid name the owner (ObjMeta.owned) */
	int64_t atime_ns; /* 0: the mtime */
	bool no_overwrite;
	/* A copy of an existing object (rebalance, fetch from a previous
	 * owner): stored with exactly this metadata (size and checksum are
	 * verified against the body; a checksum type of none gets XXH3
	 * computed), and only if no copy here has written_ns >= its
	 * written_ns and no tombstone here is at or after it (-EALREADY
	 * then). The checksum type and value of the args are ignored. */
	const struct ais_obj_meta *migrate;
	/* With migrate: a repair of a corrupt copy here, which a copy as new
	 * (the same written_ns) replaces too. */
	bool repair;
	/* The object's ObjExt (encoded, at most AIS_OBJ_EXT_MAX bytes; NULL
	 * or 0: none), stored in its "user.ais.x" xattr. With want_md5 the
	 * MD5 of the bytes becomes its etag; with content_md5 (hex) too, a
	 * body of another MD5 fails the commit with -EBADMSG. */
	const uint8_t *ext;
	size_t ext_len;
	bool want_md5;
	const char *content_md5;
};

/* One PUT in progress; caller-allocated, filled by store_put_begin. */
struct store_put {
	struct store *st;
	struct store_put_args a;
	int mp;
	int fd;
	char tmp[AISD_PATH_MAX];
	struct ais_cksum ck;
	struct blk_writer blk; /* the block checksums (blocks.h) */
	struct ais_cksum md5;  /* a.want_md5 */
	uint8_t *ext;	       /* what goes to the xattr (heap), ext_len */
	size_t ext_len;
	char md5hex[AIS_CKSUM_HEX_MAX]; /* a.want_md5: the bytes' MD5, once
					verified */
	uint64_t size;
	uint64_t flush_mark; /* flushers_mark before the first byte */
};

/* Checks everything that can be checked before the body arrives (bucket
 * exists, no name conflict, no_overwrite, checksum type) and opens the tmp
 * file. Returns 0, or -errno with errmsg (nothing to undo then). */
int store_put_begin(struct store *st, const struct store_put_args *a,
		    struct store_put *p, char *errmsg);
/* Appends body bytes. Returns 0 or -errno (-ENOSPC); on error call
 * store_put_abort. */
int store_put_write(struct store_put *p, const void *buf, size_t len,
		    char *errmsg);
/* Verifies the checksum, fsyncs, sets the xattrs (the metadata, the
 * block checksums), renames into place. On
 * success *out is the stored metadata, written_ns being the commit time
 * (later than the replaced copy's, whatever the clock did). -EALREADY
 * (with errmsg) when a migrate copy is not newer. Always releases p (no
 * abort after). */
int store_put_commit(struct store_put *p, struct ais_obj_meta *out,
		     char *errmsg);
/* Removes the tmp file and releases p. */
void store_put_abort(struct store_put *p);

/* A client's PUT (not a migrate one) committed in three steps, so that
 * the PUTs of a batch (OP_PUT_BATCH) share their flushes:
 *   store_put_stage each, store_flush of their mountpaths,
 *   store_put_publish each, store_flush again, then answer.
 * No name ever shows a file whose bytes and metadata are not durable,
 * and a publish is durable after the second flush. */
struct store_staged {
	struct store *st;
	struct store_put_args a; /* its strings still borrowed */
	int mp;
	char *tmp;	       /* the staged file (heap), NULL once released */
	struct ais_obj_meta m; /* what is (to be) published */
	uint64_t flush_mark;   /* for the flush of the staged bytes, then
				  (store_put_publish) of the name */
};

/* Verifies the checksum, writes the metadata (the version after the one
 * stored now, read without the name's lock) and the block checksums to
 * p's tmp file and closes it. Always releases p; on success *s holds the
 * staged file (release it with store_put_publish or store_staged_drop). */
int store_put_stage(struct store_put *p, struct store_staged *s, char *errmsg);
/* Renames a staged file into place under the name's lock. If another PUT
 * of the name committed since the stage (or it was deleted), this one
 * comes after it: s->m gets the next version and commit time, written to
 * the file and flushed on its own first. s->flush_mark is noted anew for
 * the flush of the name. Always releases s (s->m and flush_mark stay). */
int store_put_publish(struct store_staged *s, char *errmsg);
/* Removes a staged file that will not be published. */
void store_staged_drop(struct store_staged *s);
/* Everything written to mountpath mp's file system so far made durable,
 * with one syncfs shared by concurrent callers (flush.h); fails if any
 * flush failed since mark (a store_staged's flush_mark: the smallest of
 * those the flush is for). */
int store_flush(struct store *st, int mp, uint64_t mark, char *errmsg);
/* The file system of mountpath mp, as a small number: two mountpaths
 * with the same one share their flushes. */
int store_flush_domain(const struct store *st, int mp);

/* The path (AISD_PATH_MAX bytes) of name's object on the first mountpath
 * in HRW order that holds it as a regular file, and that mountpath in *mp
 * (may be NULL). Returns 0, or -ENOENT: with errmsg set ("no such
 * object", or "bucket does not exist") unless errmsg is NULL. */
int store_find(struct store *st, const char *bucket, const char *name,
	       char *path, int *mp, char *errmsg);

/* Opens an object for reading: *fd (caller closes) and its metadata (size
 * from the file). -ENOENT with errmsg if there is none. */
int store_open(struct store *st, const char *bucket, const char *name, int *fd,
	       struct ais_obj_meta *m, char *errmsg);

int store_head(struct store *st, const char *bucket, const char *name,
	       struct ais_obj_meta *m, char *errmsg);

/* store_open for the event loop thread: never waits for the disk. Returns
 * 0 with *fd, *mp (the mountpath holding it) and *m, only when the object
 * is in the open cache, or its path resolves from the kernel's lookup
 * cache and it has its xattr; -EAGAIN otherwise (not cached, missing, any
 * error): the caller then retries with store_open on a worker, which
 * words the error. Give *fd back with store_open_done(*lent), never
 * close(2) it: *lent >= 0 says it is lent by the open cache. */
int store_open_nowait(struct store *st, const char *bucket, const char *name,
		      int *fd, int *mp, struct ais_obj_meta *m, int32_t *lent);
void store_open_done(struct store *st, int fd, int32_t lent);
/* store_open_nowait and the object's ObjExt into ext (cap bytes, at least
 * AIS_OBJ_EXT_MAX), *ext_len its length (0: none); the open cache keeps
 * small ones, so a cached object reads no xattr. */
int store_open_nowait_ext(struct store *st, const char *bucket,
			  const char *name, int *fd, int *mp,
			  struct ais_obj_meta *m, int32_t *lent, uint8_t *ext,
			  size_t cap, size_t *ext_len);

/* Unlinks the object and removes parent directories left empty. */
int store_delete(struct store *st, const char *bucket, const char *name,
		 char *errmsg);

/* store_delete that, with tomb_ns != 0, first records bucket/name as
 * deleted at tomb_ns (tombstone.h), under the name's lock, whether or not
 * an object was there (-ENOENT then, with the tombstone kept). */
int store_delete_tomb(struct store *st, const char *bucket, const char *name,
		      int64_t tomb_ns, char *errmsg);

/* Unlinks the copy of bucket/name on mountpath mp only if it is still the
 * one described by m (same written_ns, version and size), under the name's
 * lock: the sender's side of a move. Returns 0, -ESTALE (changed since:
 * kept), -ENOENT (gone), or -errno with errmsg. */
int store_delete_if_same(struct store *st, const char *bucket, const char *name,
			 int mp, const struct ais_obj_meta *m, char *errmsg);

/* Resilver of one object found on mountpath from_mp: moves it to the
 * mountpath HRW picks for it (rename on one file system, else copy, fsync,
 * rename, then unlink), all or nothing; if a copy there is as new or newer
 * (written_ns), the one on from_mp is dropped instead. Returns 1 if the
 * object is already in place, 0 when moved (or dropped), -ESTALE if it
 * changed meanwhile (nothing done), or -errno with errmsg. */
int store_resilver(struct store *st, const char *bucket, const char *name,
		   int from_mp, char *errmsg);

/* The metadata of the file at path (its xattr, else from stat) with the
 * size from the file. Returns 0 or -errno. */
int store_meta_path(const char *path, struct ais_obj_meta *m);

/* Renames within the bucket; copies across mountpaths when needed. The new
 * name gets a new written_ns. */
int store_rename(struct store *st, const char *bucket, const char *name,
		 const char *new_name, bool no_overwrite,
		 struct ais_obj_meta *out, char *errmsg);

/* What a SET_META changes: the fields whose set_ flag is true. */
struct store_meta_set {
	bool set_mode, set_mtime, set_atime, set_owner;
	uint32_t mode;
	int64_t mtime_ns, atime_ns; /* 0: now */
	uint32_t uid, gid;	    /* the owner (ObjMeta.owned from then on) */
	int64_t ctime_ns; /* the change time to record; 0: now (a peer's
			     copy of a change passes the first copy's) */
};

/* Updates the metadata in the xattr as c says; *m gets the result. */
int store_set_meta(struct store *st, const char *bucket, const char *name,
		   const struct store_meta_set *c, struct ais_obj_meta *m,
		   char *errmsg);

/* True if bucket/prefix is a directory (objects live under it) on some
 * mountpath of this node. */
bool store_has_dir(struct store *st, const char *bucket, const char *prefix);
/* True if bucket/name is a directory with at least one entry (an object or
 * a directory, as a listing of "name/" would show) on some mountpath of
 * this node. */
bool store_dir_nonempty(struct store *st, const char *bucket, const char *name);
/* True if bucket/name is an object on some mountpath of this node. */
bool store_has_object(struct store *st, const char *bucket, const char *name);

/* True if the bucket directory exists on some mountpath. */
bool store_bucket_exists(struct store *st, const char *bucket);

/* A read found [off, off+len) of bucket/name (as seen: its metadata then)
 * not matching its block checksums. Checks again under the object's lock
 * (an in-place writer, a shard append, holds it while the bytes and the
 * metadata disagree): -ESTALE if the object changed since (read it
 * again), 0 if it is good now, -EBADMSG with errmsg if the copy is
 * corrupt, or -errno. */
int store_confirm_corrupt(struct store *st, const char *bucket,
			  const char *name, const struct ais_obj_meta *seen,
			  uint64_t off, uint64_t len, uint8_t *scratch,
			  char *errmsg);

/* Takes / releases the striped lock that PUT commit, DELETE, RENAME and
 * SET_META of bucket/name hold while they change the object (for in-place
 * writers such as shard append). Not recursive: call no store_* function
 * that changes bucket/name while holding it. */
void store_lock(struct store *st, const char *bucket, const char *name);
void store_unlock(struct store *st, const char *bucket, const char *name);

#endif
