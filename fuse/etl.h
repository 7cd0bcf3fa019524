/* A transformed view (aisfs -o etl=NAME[,etl_args=A]): every file of the
 * mount, object or shard member, shows the output of transform NAME
 * (ais-etl(7)), run by the node that holds it. An output is fetched once,
 * by the first lookup, stat or open that needs it, into memory (a memfd:
 * no file system journal for a sample) or, past AFS_ETL_MEM_MAX, an
 * unlinked file in the spool directory; it stays while a handle reads it
 * and, after, in a bounded LRU (AFS_ETL_KEEP outputs, AFS_ETL_KEEP_BYTES
 * bytes): the
 * size stat shows and the bytes read() returns come from the same run. A
 * new version of the object gets a new run. */
#ifndef AISFS_ETL_H
#define AISFS_ETL_H

#include <stdint.h>

#define AFS_ETL_KEEP	   512
#define AFS_ETL_KEEP_BYTES (64ull << 20)
#define AFS_ETL_MEM_MAX	   (1u << 20)

struct afs_fs;
struct afs_inode;
struct afs_etl;

/* One output, held by a caller. */
struct afs_etl_out {
	int fd; /* read with pread */
	uint64_t size;
};

int afs_etl_new(struct afs_etl **out);
void afs_etl_free(struct afs_etl *e);

/* The output of in (a regular file or member whose metadata is known),
 * fetched if it is not here for in's current version: 0 with *out held,
 * or -errno for the kernel (the transform's failure is logged). */
int afs_etl_hold(struct afs_fs *fs, struct afs_inode *in,
		 struct afs_etl_out **out);
void afs_etl_release(struct afs_fs *fs, struct afs_etl_out *out);

#endif
