/* Appends members to a plain .tar shard in place (OP_SHARD_APPEND), with an
 * undo journal that start-up rolls back after a crash. */
#ifndef AISD_SHARD_APPEND_H
#define AISD_SHARD_APPEND_H

#include <stdbool.h>
#include <stdint.h>

#include "mountpath.h"
#include "objmeta.h"
#include "sock_io.h"

/* What an append did. */
struct shard_append_result {
	struct objmeta meta; /* the shard's metadata after the append */
	uint64_t appended;   /* members the body held */
	uint64_t members;    /* members of the shard now (0: index unknown) */
};

/*
 * Appends the members of the tar stream in the request body (io) to the
 * plain .tar shard bucket/name. Checks the name and that the shard exists
 * before reading the body; spools the body into .ais/tmp on the shard's
 * mountpath and validates it (complete members, plain files, directories
 * and symlinks only, no ".." in paths, no member the shard already has
 * unless replace). Then, under the object's store lock: journal, write the
 * members over the old end-of-archive blocks, new end-of-archive, fsync,
 * new metadata (version + 1, checksum recomputed by reading the object once),
 * drop the journal. Finally rebuilds the shard's index.
 *
 * Returns 0 with *res, 1 if the connection broke while the body was read
 * (logged; nothing changed; the caller closes the connection without an
 * answer), or -errno with errmsg (the shard is unchanged). peer is for logs.
 */
int shard_append_run(const struct mpset *mps, struct sock_io *io,
		     const char *peer, const char *bucket, const char *name,
		     bool replace, struct shard_append_result *res,
		     char *errmsg);

/*
 * At start-up, before any request is served: rolls back every append that a
 * crash interrupted (journals in <mp>/.ais/journal/), restoring the shard's
 * old bytes, size and metadata, and logs one line per shard. Also reads the
 * test hook AISD_TEST_CRASH_AT (append-journal, append-data, append-meta:
 * _exit(99) at that step of every append; append-pause: sleep 3 s between
 * the data and the metadata). Returns 0, or -errno with errmsg
 * when a journal could not be applied (the node must not serve then).
 */
int shard_append_recover(const struct mpset *mps, char *errmsg);

#endif
