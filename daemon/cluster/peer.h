/* Requests from this node to other nodes (the name-conflict probes of PUT
 * and RENAME, gossip's JOINs): one pool of idle connections per node
 * (lib/wire), timeouts, and a short memory of nodes that could not be
 * reached, so that a dead node costs one connect timeout every few seconds,
 * not one per request. */
#ifndef AISD_CLUSTER_PEER_H
#define AISD_CLUSTER_PEER_H

#include "ais.pb-c.h"
#include "map.h"

struct peers;

/* A node that could not be connected to is not tried again for down_ms
 * (0: always try). NULL on ENOMEM. */
struct peers *peers_new(int connect_ms, int io_ms, int down_ms);
void peers_free(struct peers *p);

/* Sends req (no body) to node n and reads its answer (which must have no
 * body). An exchange that fails on a pooled connection is tried once more
 * on a fresh one. Returns 0 with *resp (free with
 * ais__response__free_unpacked), or -errno with errmsg (-EHOSTDOWN while n
 * is remembered as unreachable). */
int peers_call(struct peers *p, const struct ais_node *n,
	       const Ais__Request *req, Ais__Response **resp, char *errmsg);

#endif
