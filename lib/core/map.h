/* The cluster map: versioned set of nodes, HRW owner lookup, merging of two
 * nodes' views, conversion to and from the protobuf ClusterMap. */
#ifndef AIS_MAP_H
#define AIS_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "ais.pb-c.h"

#define AIS_NODE_ID_MAX 40
#define AIS_HOST_MAX	256

enum ais_node_state { AIS_NODE_ONLINE = 0, AIS_NODE_MAINTENANCE = 1 };

struct ais_node {
	char id[AIS_NODE_ID_MAX];
	char host[AIS_HOST_MAX];
	uint16_t port;
	int state;
};

/* nodes[] is kept sorted by id. */
struct ais_map {
	uint64_t version;
	size_t n;
	struct ais_node *nodes;
};

/* Heap map with no nodes and version 0; freed with ais_map_free. NULL on
 * ENOMEM. */
struct ais_map *ais_map_new(void);
void ais_map_free(struct ais_map *m);
struct ais_map *ais_map_dup(const struct ais_map *m);

/* Index of the node with this id, or -1. */
int ais_map_find(const struct ais_map *m, const char *id);

/* Adds node (or updates its address/state if the id is known). Returns 1 if
 * the map changed, 0 if not, -ENOMEM. Does not touch the version. */
int ais_map_add(struct ais_map *m, const struct ais_node *node);

/* Merges other into m: the union of the nodes (for a node in both, the entry
 * from the map with the higher version wins). Version: if the result equals
 * other's node set, max(m, other); if it equals neither, max + 1 (a new view
 * both sides will converge on). Returns 1 if m changed, 0, or -ENOMEM. */
int ais_map_merge(struct ais_map *m, const struct ais_map *other);

/* True if both maps have the same nodes (ids, addresses, states). */
int ais_map_same_nodes(const struct ais_map *a, const struct ais_map *b);

/* The ONLINE node that owns bucket/name by HRW, or NULL if none. */
const struct ais_node *ais_map_owner(const struct ais_map *m,
				     const char *bucket, const char *name);

/* From protobuf (validates ids, hosts, ports: -EPROTO with errmsg). *out is
 * a new heap map. */
int ais_map_from_pb(const Ais__ClusterMap *pb, struct ais_map **out,
		    char *errmsg);

/* To protobuf: a heap message that points into m's strings, so m must
 * outlive it; free with ais_map_pb_free (which frees only what this
 * allocated). NULL on ENOMEM. */
Ais__ClusterMap *ais_map_to_pb(const struct ais_map *m);
void ais_map_pb_free(Ais__ClusterMap *pb);

#endif
