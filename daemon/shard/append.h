/* Appends members to a plain .tar shard in place (OP_SHARD_APPEND), with an
 * undo journal (shard/journal.h) that start-up rolls back after a crash. */
#ifndef AISD_SHARD_APPEND_H
#define AISD_SHARD_APPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "objmeta.h"
#include "shard/shard.h"

/* The test hook AISD_TEST_CRASH_AT: every append on the node _exit(99)s at
 * that step (PAUSE sleeps 3 s between the data and the metadata instead,
 * to let readers overlap an append). */
enum shard_append_crash {
	SHARD_CRASH_NONE = 0,
	SHARD_CRASH_JOURNAL, /* "append-journal": journal durable, shard not
				touched */
	SHARD_CRASH_DATA,    /* "append-data": members written, old meta */
	SHARD_CRASH_META,    /* "append-meta": new meta, journal not removed */
	SHARD_CRASH_PAUSE,   /* "append-pause" */
};

/* The step an AISD_TEST_CRASH_AT value names (NULL or unknown: NONE). */
int shard_append_crash_parse(const char *value);

/* Gives the next bytes of the request body: > 0 bytes, 0 at its end, or
 * -errno (the connection broke: the source logs why). */
typedef ssize_t (*shard_body_cb)(void *arg, void *buf, size_t len);

/* What an append did. */
struct shard_append_result {
	struct ais_obj_meta meta; /* the shard's metadata after the append */
	uint64_t appended;	  /* members the body held */
	uint64_t members;	  /* members of the shard now (0: unknown) */
};

/*
 * Appends the members of the tar stream in the request body (body_len
 * bytes, read with body(arg, ...)) to the plain .tar shard bucket/name.
 * Checks the name and that the shard exists before reading the body;
 * spools the body into .ais/tmp on the shard's mountpath and validates it
 * (complete members, plain files, directories and symlinks only, no ".."
 * in paths, no member the shard already has unless replace). Then, under
 * the object's store lock: journal, write the members over the old
 * end-of-archive blocks, new end-of-archive, fsync, new metadata (version
 * + 1, checksum recomputed by reading the object once), drop the journal.
 * Finally rebuilds the shard's index.
 *
 * Returns 0 with *res, 1 if the body broke off (nothing changed; the
 * caller closes the connection without an answer), or -errno with errmsg
 * (the shard is unchanged). peer is for logs.
 */
int shard_append_run(struct shards *sh, uint64_t body_len, shard_body_cb body,
		     void *arg, const char *peer, const char *bucket,
		     const char *name, bool replace,
		     struct shard_append_result *res, char *errmsg);

/* At start-up, before any request is served: rolls back every append that
 * a crash interrupted (journal_recover), and says so if the test hook is
 * armed. Returns 0, or -errno with errmsg (the node must not serve then). */
int shard_append_recover(struct shards *sh, char *errmsg);

#endif
