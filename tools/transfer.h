/* Single-object transfers between local files and the cluster, counted in a
 * progress: PUT from a file or stdin, GET into a file (atomically, through a
 * temporary file in the same directory) or stdout. Used by put/get and, from
 * worker threads, by put -r/get -r. */
#ifndef AIS_TOOLS_TRANSFER_H
#define AIS_TOOLS_TRANSFER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "progress.h"

/* Objects PUT by this process that some of their copies missed (the
 * nodes make them later); xfer_report_degraded tells the user. */
extern atomic_uint_fast64_t xfer_degraded;
void xfer_report_degraded(const char *cmd);

/* Uploads the file at path as bucket/name with the file's permission bits.
 * p may be NULL. Returns 0 or -errno with the reason in errmsg; local
 * failures name the path ("cannot open /x: ..."), node failures carry the
 * node's message. */
int xfer_put_path(struct ais_client *c, const char *bucket, const char *name,
		  const char *path, struct progress *p, char *errmsg);

/* Files small enough to go in batches (ais_client_put_batch), and a
 * batch's size in xfer_put_small. */
#define XFER_SMALL_MAX	 (256u << 10)
#define XFER_BATCH_FILES 128
#define XFER_BATCH_BYTES (1u << 20)

/* One file of xfer_put_small. */
struct xfer_small {
	char *path; /* the local file */
	char *name; /* the object */
};

/* Uploads files[0..n) (n at most XFER_BATCH_FILES) as xfer_put_path does
 * each, their bytes read whole and sent in batches. A file that grew past
 * XFER_SMALL_MAX meanwhile, or that a batch could not store for a reason
 * worth another try, goes through xfer_put_path. Counts each in p (bytes,
 * and each file done) and reports each failure (cli_fail, as "put PATH
 * ais://BUCKET/NAME"). Returns how many failed. */
size_t xfer_put_small(struct ais_client *c, const char *bucket,
		      const struct xfer_small *files, size_t n,
		      struct progress *p);

/* Uploads everything read from stdin. A pipe is first spooled to an unlinked
 * temporary file in $TMPDIR (the protocol needs the size up front). Adds the
 * size to p's byte total once known and marks the total final. */
int xfer_put_stdin(struct ais_client *c, const char *bucket, const char *name,
		   struct progress *p, char *errmsg);

/* Downloads [off, off+len) (len 0: to the end) of bucket/name into path.
 * A regular (or missing) path is replaced only when the whole object has
 * arrived: on failure path is left as it was. Other files (devices, FIFOs)
 * are written in place. mkdirs creates missing parent directories. The file
 * gets the object's permission bits (or 0666) less the umask. */
int xfer_get_path(struct ais_client *c, const char *bucket, const char *name,
		  uint64_t off, uint64_t len, const char *path, bool mkdirs,
		  struct progress *p, char *errmsg);

/* The GETs that follow read through transform etl (ais etl) with args;
 * etl NULL: plain GETs again. Whole objects only (off and len 0). */
void xfer_set_etl(const char *etl, const char *args);

/* Downloads [off, off+len) of bucket/name to stdout. */
int xfer_get_stdout(struct ais_client *c, const char *bucket, const char *name,
		    uint64_t off, uint64_t len, struct progress *p,
		    char *errmsg);

/* The same for member path member of shard bucket/shard. */
int xfer_member_get_path(struct ais_client *c, const char *bucket,
			 const char *shard, const char *member, uint64_t off,
			 uint64_t len, const char *path, struct progress *p,
			 char *errmsg);
int xfer_member_get_stdout(struct ais_client *c, const char *bucket,
			   const char *shard, const char *member, uint64_t off,
			   uint64_t len, struct progress *p, char *errmsg);

/* Creates dir and its missing parents (mode 0777 less the umask). Returns 0
 * or -errno with errmsg. */
int xfer_mkdir_p(const char *dir, char *errmsg);

#endif
