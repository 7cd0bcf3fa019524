/* The recursive forms of put, get and rm: a producer (a directory walk or a
 * paged listing) feeding a pool of workers that share one client. Each
 * returns an exit status (CLI_OK, CLI_FAIL, CLI_INTERRUPTED) after reporting
 * every failed object on stderr. */
#ifndef AIS_TOOLS_RECURSIVE_H
#define AIS_TOOLS_RECURSIVE_H

#include <stdbool.h>

/* Uploads every regular file under dir as prefix/relative/path. */
int rec_put(const char *dir, const char *bucket, const char *prefix,
	    unsigned jobs, bool quiet);

/* Downloads every object under prefix/ (the whole bucket for "") into
 * dir/relative/path. */
int rec_get(const char *bucket, const char *prefix, const char *dir,
	    unsigned jobs, bool quiet);

/* Deletes the object prefix (if any) and every object under prefix/ (the
 * whole bucket's objects for ""). */
int rec_rm(const char *bucket, const char *prefix, unsigned jobs, bool quiet);

#endif
