/* A directory's mtime and ctime move when a name in it is added or removed
 * through this mount: at once as this mount shows it, and in the
 * directory's marker object (afs_dir_meta) within about a second. Stored
 * right away, every create would cost its directory a round trip and a
 * disk flush on a node; here a thread stores each touched directory's
 * latest time once per round, so a copy of many files into one directory
 * stores its time about once a second.
 *
 * Order: an explicit change of a directory's times (utimensat, as tar and
 * rsync do after filling it) or its removal drops the pending time and
 * waits for one on its way (afs_dirtime_begin/end); a name added after it
 * moves the time again. A directory without a marker (made by ais put)
 * keeps the moved times in this mount only. Other mounts see the stored
 * time when they next ask for the directory's attributes. */
#ifndef AISFS_DIRTIME_H
#define AISFS_DIRTIME_H

#include <stdint.h>

struct afs_fs;
struct afs_inode;

/* Starts the thread (fs->dirtimes). Returns 0 or -errno (then the times
 * move in this mount only). */
int afs_dirtime_start(struct afs_fs *fs);
/* Stores what is pending, then stops the thread. */
void afs_dirtime_stop(struct afs_fs *fs);

/* A name in dir was added or removed now. */
void afs_dirtime_touch(struct afs_fs *fs, struct afs_inode *dir);

/* The time dir was last touched and not stored yet, or 0. */
int64_t afs_dirtime_pending(struct afs_fs *fs, struct afs_inode *dir);

/* Around an explicit change of dir's attributes, or its removal: begin
 * drops the pending time and waits until no store of dir's times is on its
 * way; end lets the next one go. */
void afs_dirtime_begin(struct afs_fs *fs, struct afs_inode *dir);
void afs_dirtime_end(struct afs_fs *fs, struct afs_inode *dir);

#endif
