/* Write-back (-o writeback): the close of a file written through the mount
 * answers once its bytes are in the spool, and uploader threads PUT them
 * right away, small files many to a request (ais_client_put_batch), so a
 * copy of many small files into the mount pays neither a round trip nor a
 * disk flush per file (HACKING.md, "Write-back").
 *
 * What a mount gives up with it: another client sees a file only once its
 * upload is done (tens of milliseconds, normally), a failed upload is told to
 * fsync(2) and the log rather than to close(2), and bytes not uploaded yet
 * are lost if aisfs is killed. What it keeps: this mount sees its own
 * writes at once; uploads of one file land in the order of its closes; an
 * unlink or rename of a file (or of a directory, or rmdir) waits for the
 * uploads on its way; fsync of a file returns once its bytes are durable
 * or with the error; fsync of any directory of the mount returns once
 * every upload queued before it is durable, and fails with EIO if one of
 * them failed; an unmount uploads everything queued before aisfs
 * exits. */
#ifndef AISFS_WRITEBACK_H
#define AISFS_WRITEBACK_H

#include <stdbool.h>
#include <stdint.h>

struct afs_fs;
struct afs_inode;

/* Starts the uploader threads (fs->wb). Returns 0 or -errno. */
int afs_wb_start(struct afs_fs *fs);
/* Uploads whatever is queued, then stops the threads. */
void afs_wb_stop(struct afs_fs *fs);

/* At a close of in open for writing: queues its unsaved bytes for upload.
 * Returns true when that is done (or there is nothing to save), false
 * when the caller must PUT them itself (no write-back, or stopping). Waits
 * while the queue is full. */
bool afs_wb_queue(struct afs_fs *fs, struct afs_inode *in);

/* A file's bytes could not be saved (and are dropped): counted as a failed
 * upload, for the next directory fsync to report. No-op without
 * write-back. */
void afs_wb_failed(struct afs_fs *fs);

/* Failed uploads counted so far, minus those not reported to anyone yet:
 * what a directory handle starts from (errseq, as Linux reports write-back
 * errors to syncfs). */
uint64_t afs_wb_sample(struct afs_fs *fs);
/* fsync of a directory: waits until every upload queued before the call
 * is done. Returns -EIO when an upload failed since *since (which then
 * moves on), else 0. since NULL: only waits (a listing, which comes from
 * the cluster, must show every file closed before it). */
int afs_wb_sync(struct afs_fs *fs, uint64_t *since);

#endif
