/* A pool of idle connections to one node (host:port): a mutex-protected
 * stack of connected sockets, each with the time it was given back. The
 * client keeps one per node; so do node-to-node calls. */
#ifndef AIS_CONN_POOL_H
#define AIS_CONN_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "map.h"

struct ais_tls;

struct ais_pool {
	char host[AIS_HOST_MAX];
	struct ais_tls *tls; /* TLS on its connections; NULL: plain TCP */
	uint16_t port;
	char addr[AIS_HOST_MAX + 8]; /* "host:port", for messages */
	pthread_mutex_t lock;
	int max_idle;
	int n_idle;
	struct ais_pool_idle {
		int fd;
		uint64_t since_ns; /* monotonic time it became idle */
	} * idle;		   /* max_idle slots */
	/* Monotonic ns of the last failure to reach the node (a client that
	 * can read a copy elsewhere asks it last for a while); 0 = none. */
	_Atomic uint64_t fail_ns;
	/* Monotonic ns of the last answer from the node; 0 = none. */
	_Atomic uint64_t ok_ns;
};

/* A pool for host:port keeping at most max_idle idle sockets, whose new
 * connections speak TLS with tls (NULL: plain TCP; tls must outlive the pool).
 * NULL on ENOMEM. Free with ais_pool_free (closes the idle sockets). */
struct ais_pool *ais_pool_new(const char *host, uint16_t port, int max_idle,
			      struct ais_tls *tls);
void ais_pool_free(struct ais_pool *p);

/* A connected socket: an idle one that still looks alive (*reused = true)
 * unless fresh is set, else a new connection (ais_conn_connect with both
 * timeouts, the handshake with the pool's tls). Returns the fd or -errno with
 * "connect: reason" in errmsg. The caller gives it back with ais_pool_put after
 * a clean exchange, or closes it with ais_conn_close. */
int ais_pool_get(struct ais_pool *p, bool fresh, int connect_timeout_ms,
		 int io_timeout_ms, bool *reused, char *errmsg);
/* Keeps fd for reuse if there is room, else closes it. */
void ais_pool_put(struct ais_pool *p, int fd);

#endif
