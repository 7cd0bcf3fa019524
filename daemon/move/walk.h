/* The streaming walk over the objects of one mountpath: every regular file
 * under <mp>/<bucket>/ for every bucket directory, depth first, in
 * directory order, with memory bounded by the depth of the tree (one open
 * directory per level), never by the number of objects. <mp>/.ais/ (work
 * files, indexes, journals) and anything else starting with '.' at the top
 * are skipped. Objects removed or directories pruned while the walk runs
 * are skipped quietly. Blocking. */
#ifndef AISD_MOVE_WALK_H
#define AISD_MOVE_WALK_H

#include <stdatomic.h>
#include <stdbool.h>

/* Called for each object: bucket and name (valid during the call). A
 * nonzero return stops the walk, which returns it. */
typedef int (*walk_cb)(void *arg, const char *bucket, const char *name, int mp);

/* Walks the mountpath at root (index mp, passed to cb). Stops early (and
 * returns -ECANCELED) once *stop is true. Returns 0, cb's nonzero value,
 * or -errno if root cannot be read. */
int walk_mountpath(const char *root, int mp, walk_cb cb, void *arg,
		   const atomic_bool *stop);

#endif
