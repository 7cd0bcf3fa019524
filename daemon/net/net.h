/* The event loop side of aisd: the libuv TCP listener, connections, frame
 * reading (header + head), GETs and HEADs answered on the loop when that
 * needs no waiting, lending the connection to a worker thread for every
 * other request, I/O timeouts, and the graceful stop on SIGTERM/SIGINT. */
#ifndef AISD_NET_NET_H
#define AISD_NET_NET_H

#include "aisd.h"

struct server;

/* Binds and listens on host:port. Returns 0 with *out, or -errno with
 * errmsg ("listen 0.0.0.0:51080: Address already in use"). */
int server_new(struct aisd *d, const char *host, unsigned port,
	       struct server **out, char *errmsg);

/* Runs the loop until SIGTERM/SIGINT and the drain that follows. Returns 0,
 * or 1 if requests were still running when the drain timed out. */
int server_run(struct server *s);

/* Frees the server after server_run returned 0. */
void server_free(struct server *s);

#endif
