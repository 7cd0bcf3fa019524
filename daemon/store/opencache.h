/* Objects the event loop opened lately, kept open: a GET or HEAD of one
 * of them costs an fstat(2) instead of a path walk, an xattr read and a
 * close (and a shard's members, read one by one, open their shard once).
 *
 * The loop looks entries up and adds them. Whoever changes a name through
 * the store bumps the generation of the name's stripe, then drops the
 * name's entry (ocache_forget), both before the change is answered; a
 * bucket destroy bumps the store's generation and drops the bucket's
 * entries. An entry is added only if neither generation moved since before
 * its open, checked under the mutex a forget takes: so it is refused, or
 * forgotten after; never kept from before a change. A deleted or replaced
 * object's space comes back when the change is answered, unless the loop
 * is sending from that descriptor right then: a lent descriptor is
 * counted, and the last ocache_done closes it. One mutex, held for table
 * work only, never for I/O.
 *
 * Changes made by hand on the disk are caught at each use by an fstat
 * (still linked, same ctime and size: to ctime's granularity). The loop's
 * sweep, once a second, closes entries unused for OCACHE_IDLE_S sweeps. */
#ifndef AISD_STORE_OPENCACHE_H
#define AISD_STORE_OPENCACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "objmeta.h"

#define OCACHE_DEFAULT 8192 /* entries (open descriptors) */
/* An object's ObjExt (its S3 headers) kept with its entry up to this
 * size: a GET through S3 of a cached object reads no xattr. */
#define OCACHE_EXT_MAX 240
#define OCACHE_IDLE_S  60

struct ocache;

/* One name, as the store hashes it. */
struct ocache_key {
	const char *bucket;
	const char *name;
	uint64_t hash;	 /* of bucket and name */
	unsigned stripe; /* its stripe of the store's locks */
};

/* cap entries at most; stripe_gens (one per stripe) and all_gen are the
 * store's generations, read here. Returns 0 or -ENOMEM. */
int ocache_new(size_t cap, const atomic_uint *stripe_gens,
	       const atomic_uint *all_gen, struct ocache **out);
void ocache_free(struct ocache *oc);

/* The generations an open that starts now must be checked against later:
 * read them before the open. */
struct ocache_gen {
	unsigned stripe, all;
};
struct ocache_gen ocache_gen_now(const struct ocache *oc,
				 const struct ocache_key *k);

/* The entry of k if the file still agrees: 0 with its descriptor lent in
 * *fd (give it back with ocache_done(*slot); never close it), *mp and *m.
 * -ENOENT if there is none, or it went bad (then it is dropped). */
int ocache_get(struct ocache *oc, const struct ocache_key *k, int *fd, int *mp,
	       struct ais_obj_meta *m, int32_t *slot);
void ocache_done(struct ocache *oc, int32_t slot);
/* ocache_get with the object's ObjExt as far as the entry knows it: into
 * ext (OCACHE_EXT_MAX bytes), *ext_len its length, or -1 when the entry
 * does not know (then read it, and ocache_set_ext it while lent). */
int ocache_get_ext(struct ocache *oc, const struct ocache_key *k, int *fd,
		   int *mp, struct ais_obj_meta *m, int32_t *slot, uint8_t *ext,
		   int *ext_len);
void ocache_set_ext(struct ocache *oc, int32_t slot, const uint8_t *ext,
		    size_t len);

/* Keeps a duplicate of fd as k on mountpath mp with metadata m, opened
 * after g was read, unless a generation moved since. Quiet on failure
 * (nothing kept). */
void ocache_put(struct ocache *oc, const struct ocache_key *k,
		struct ocache_gen g, int fd, int mp,
		const struct ais_obj_meta *m);

/* Drops the entry of k (any thread): returns its descriptor for the
 * caller to close (best after letting go of its locks: the last close of
 * an unlinked file frees its blocks), or -1. */
int ocache_forget(struct ocache *oc, const struct ocache_key *k);

/* Drops every entry of bucket (any thread; closes what it can). */
void ocache_forget_bucket(struct ocache *oc, const char *bucket);

/* Closes the entries not used in the last OCACHE_IDLE_S calls: call it
 * once a second. Returns how many entries are in the table. */
size_t ocache_sweep(struct ocache *oc);

#endif
