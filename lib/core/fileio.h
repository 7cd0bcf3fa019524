/* File I/O every program shares: whole reads and writes that survive short
 * counts and EINTR, reads up to a length, waiting on one descriptor, and
 * the one way a file is replaced durably (write a temporary file, fsync,
 * rename, fsync the directory). */
#ifndef AIS_FILEIO_H
#define AIS_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes exactly len bytes. Returns 0 or -errno. */
int ais_write_all(int fd, const void *buf, size_t len);
/* The same at file offset off (pwrite; the file offset is not moved). */
int ais_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* Reads until len bytes arrived or the file ended. Returns the count (short
 * only at end of file) or -errno. */
ssize_t ais_read_upto(int fd, void *buf, size_t len);
/* The same at file offset off (pread). */
ssize_t ais_pread_upto(int fd, void *buf, size_t len, uint64_t off);

/* Reads at most len bytes from the start of the file at path (a /proc file
 * too, whose size says 0). Returns the count or -errno. */
ssize_t ais_read_file(const char *path, void *buf, size_t len);

/* Reads exactly len bytes: 0, -EIO if the file ends before, or -errno. */
int ais_read_all(int fd, void *buf, size_t len);
int ais_pread_all(int fd, void *buf, size_t len, uint64_t off);

/* Waits until fd is ready for events (POLLIN, POLLOUT) or timeout_ms pass
 * (negative: no limit), retrying on EINTR. Returns the revents (> 0), 0 on
 * timeout, or -errno. */
int ais_wait_fd(int fd, short events, int timeout_ms);

/* fsync(2) of a directory, and of the directory that holds path. Return 0
 * or -errno. */
int ais_fsync_dir(const char *dir);
int ais_fsync_parent(const char *path);

/* Finishes the durable replacement of path by tmp, a file in the same file
 * system that the caller wrote through fd (still open; the caller closes
 * it): fsync(fd), rename(tmp, path), fsync of path's directory. Readers see
 * the old file or the new one, never part of it, and after a crash the
 * rename is either lost whole or kept whole. Returns 0 or -errno: tmp is
 * removed if the fsync or the rename fails; if only the directory's fsync
 * fails, path is the new file already, but not known to be durable (a
 * caller for whom that matters removes it). */
int ais_file_commit(int fd, const char *tmp, const char *path);

/* Replaces (or creates) the file at path with len bytes of buf, durably:
 * written to "<path>.tmp" with mode, then ais_file_commit (whose failure
 * cases it shares). Writers of one path must be serialised by the caller
 * (the temporary name is fixed, so a crash leaves at most one behind,
 * overwritten by the next replacement). Returns 0 or -errno. */
int ais_file_replace(const char *path, const void *buf, size_t len,
		     mode_t mode);

/* Removes path and everything below it without following symlinks or
 * crossing mounts. Returns 0 (also if path did not exist) or the first
 * -errno. */
int ais_rm_rf(const char *path);

#endif
