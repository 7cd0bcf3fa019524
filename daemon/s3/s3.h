/* The S3 endpoint: an HTTP/1.1 front end inside aisd, on its own port
 * (s3_port), that serves the S3 API from any node with no redirect. It has
 * its own libuv loop and thread, which parses request heads
 * (libhttp-parser) and lends each connection to one of its worker threads
 * for the request; the worker checks the SigV4 signature against the
 * cluster's S3 keys (cluster/), then serves a GET of an object this node
 * holds from its disk with sendfile(2) (store/), and everything else
 * through the cluster client (libais-client) from the owner, streamed.
 * See aisd(8), "S3 endpoint". */
#ifndef AISD_S3_S3_H
#define AISD_S3_S3_H

#include "aisd.h"

struct s3;

/* Binds o->s3_listen:o->s3_port and starts the loop's thread. 0 with *out,
 * or -errno with errmsg ("S3 listen 0.0.0.0:8080: Address already in
 * use"). */
int s3_start(struct aisd *d, struct s3 **out, char *errmsg);

/* After SIGTERM (the loop stops accepting on it, and drains): waits for the
 * thread to end and frees s. NULL: nothing. */
void s3_stop(struct s3 *s);

#endif
