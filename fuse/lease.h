/* Leases: what lets an open skip the round trip to the cluster (HACKING.md,
 * "Leases"). One thread per node of the map polls its change feed
 * (ais_client_watch); while every node renewed this mount's lease, an
 * object whose metadata was confirmed since it last changed is current
 * without asking: the node that changes it answers its client only after
 * this mount applied the change (or lost its lease). A change applied
 * here distrusts the inode and drops the kernel's attributes and pages of
 * it (notify_inval_inode).
 *
 * The trust of an inode is a generation: in->trust equals fs->trust_gen
 * when it is trusted, 0 when not; a change to the whole mount's trust (a
 * node that forgot its feed, a bucket destroyed) moves trust_gen on. A
 * confirmation (a HEAD) counts only if no change of that name was applied
 * while it was on its way: afs_trust_begin before asking, afs_trust_set
 * with the answer. */
#ifndef AISFS_LEASE_H
#define AISFS_LEASE_H

#include <stdbool.h>
#include <stdint.h>

struct afs_fs;
struct afs_inode;

/* Slots of the per-name change counters (a power of two). */
#define AFS_TRUST_SLOTS 4096
#define AFS_TRUST_ALL	UINT32_MAX /* tok.slot of afs_trust_begin_all */

struct afs_trust_tok {
	uint32_t gen, ctr, slot;
	uint32_t moves; /* directory renames so far (afs_trust_dir) */
};

/* Starts watching every node of the map (no-op with -o noleases). Returns
 * 0 or -errno. */
int afs_leases_start(struct afs_fs *fs);
/* Stops the threads (before the session goes). */
void afs_leases_stop(struct afs_fs *fs);

/* True while this mount holds a current lease from every node. */
bool afs_lease_valid(struct afs_fs *fs);
/* Seconds the lease has left (0 without one). */
double afs_lease_left(struct afs_fs *fs);

/* On a mount whose opens do not reach aisfs (afs_fs.no_open), whether the
 * kernel may keep a covered file's name and attributes for lease_timeout
 * rather than for what the lease has left: true when the kernel can drop
 * every name at once (its dentry epoch) and the guard process will do so
 * before any node's lease runs out unrenewed. Counts the grant: call only
 * when the answer will carry the long time. */
bool afs_lease_long(struct afs_fs *fs);
/* Whether this mount's lookups may give names that long time at all (the
 * guard runs). */
bool afs_lease_long_names(struct afs_fs *fs);

/* Where such a mount also lets the kernel keep directory listings
 * (fs_dir.c, dir_cached): a number for directory nodeid that moves on
 * whenever a change below it was applied, or what this mount cached stops
 * counting (a node forgot its feed, a bucket went, the guard dropped every
 * name). Directories carry it in their mtime, which the kernel compares
 * with the one it started its listing under. */
uint64_t afs_listing_gen(struct afs_fs *fs, uint64_t nodeid);
/* Directory nodeid was opened with its listing kept by the kernel: a
 * change below it drops the listing, and so does anything that makes the
 * mount distrust what it cached. Also counts as a long grant. Returns
 * false (do not let the kernel keep it) when no lease allows it. */
bool afs_dir_cache_note(struct afs_fs *fs, uint64_t nodeid);

/* Before asking the cluster about bucket/key. */
void afs_trust_begin(struct afs_fs *fs, const char *bucket, const char *key,
		     struct afs_trust_tok *tok);
/* Before asking the cluster about many names at once (a listing page):
 * the token then holds only while no change at all was applied. */
void afs_trust_begin_all(struct afs_fs *fs, struct afs_trust_tok *tok);
/* Before making directory bucket/dirkey (or asking for every name in it):
 * a token that holds while no change below it is applied. */
void afs_trust_begin_dir(struct afs_fs *fs, const char *bucket,
			 const char *dirkey, struct afs_trust_tok *tok);
/* Whether a lease is held and no change below the directory of tok (nor
 * one of everything) was applied since afs_trust_begin_dir. This mount's
 * own changes are not counted: they are in its inode table. */
bool afs_trust_dir(struct afs_fs *fs, const struct afs_trust_tok *tok);
/* This mount renames a directory: the directories below it change names,
 * and what afs_trust_begin_dir counted by the old names no longer holds. */
void afs_trust_dirs_moved(struct afs_fs *fs);
/* With the answer, under in->lock: trusted unless a change of that name
 * (or of everything) was applied since afs_trust_begin. */
void afs_trust_set(struct afs_fs *fs, struct afs_inode *in,
		   const struct afs_trust_tok *tok);
/* This mount changed bucket/key itself (its own changes are not sent back
 * to it): a HEAD or listing of it on its way now no longer confers trust.
 * Call after the change succeeded, after trusting what it answered. */
void afs_trust_own(struct afs_fs *fs, const char *bucket, const char *key);

/* Under in->lock: in's metadata is current without asking (a lease is
 * held and no change was applied since it was confirmed). */
bool afs_trusted(struct afs_fs *fs, const struct afs_inode *in);

#endif
