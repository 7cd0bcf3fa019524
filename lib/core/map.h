/* The cluster map: versioned set of nodes, HRW owner lookup, merging of two
 * nodes' views, conversion to and from the protobuf ClusterMap. */
#ifndef AIS_MAP_H
#define AIS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ais.pb-c.h"
#include "names.h"

#define AIS_NODE_ID_MAX 40
#define AIS_HOST_MAX	256

#define AIS_ADDR_MAX (AIS_HOST_MAX + 8) /* "HOST:PORT" */

/* Values as in the protobuf Node.State and Node.Role. */
enum ais_node_state {
	AIS_NODE_ONLINE = 0,
	AIS_NODE_MAINTENANCE = 1,
	AIS_NODE_DECOMMISSIONING = 2,
	AIS_NODE_JOINING = 3,
};
enum ais_node_role {
	AIS_ROLE_NONE = 0,
	AIS_ROLE_VOTER = 1,
	AIS_ROLE_STANDBY = 2,
	AIS_ROLE_SPARE = 3,
};

struct ais_node {
	char id[AIS_NODE_ID_MAX];
	char host[AIS_HOST_MAX];
	uint16_t port;
	int state;		      /* enum ais_node_state */
	bool down;		      /* advisory: the leader cannot reach it */
	int role;		      /* enum ais_node_role */
	char raft_addr[AIS_ADDR_MAX]; /* "" if unknown */
};

/* A bucket whose objects have copies != 1 (the map carries these to
 * clients, so that they know where an object's copies are). */
struct ais_bucket_copies {
	char name[AIS_BUCKET_MAX + 1];
	uint32_t copies;
};

/* The most copies of an object (and the nodes one read may try). */
#define AIS_COPIES_MAX 16

/* nodes[] is kept sorted by id, bcopies[] by name. */
struct ais_map {
	uint64_t version;
	size_t n;
	struct ais_node *nodes;
	char leader[AIS_NODE_ID_MAX];	   /* "" = no leader known */
	struct ais_bucket_copies *bcopies; /* only buckets with copies > 1 */
	size_t nbcopies;
	char auth_kid[17]; /* the key id tokens need (auth.h); "" = none */
};

/* Heap map with no nodes and version 0; freed with ais_map_free. NULL on
 * ENOMEM. */
struct ais_map *ais_map_new(void);
void ais_map_free(struct ais_map *m);
struct ais_map *ais_map_dup(const struct ais_map *m);

/* Index of the node with this id, or -1. */
int ais_map_find(const struct ais_map *m, const char *id);

/* Index of the node named by id or "HOST:PORT" (its client address), or -1.
 */
int ais_map_lookup(const struct ais_map *m, const char *id_or_addr);

/* Removes the node with this id. Returns 1 if it was there, else 0. */
int ais_map_remove(struct ais_map *m, const char *id);

/* True if both maps place every object alike: the same ONLINE ids. */
bool ais_map_same_placement(const struct ais_map *a, const struct ais_map *b);

/* "online", "maintenance", "decommissioning", "joining"; "voter",
 * "standby", ... */
const char *ais_node_state_name(int state);
const char *ais_node_role_name(int role);

/* Adds node (or updates its address/state if the id is known). Returns 1 if
 * the map changed, 0 if not, -ENOMEM. Does not touch the version. */
int ais_map_add(struct ais_map *m, const struct ais_node *node);

/* Merges other into m: the union of the nodes (for a node in both, the entry
 * from the map with the higher version wins). Version: if the result equals
 * other's node set, max(m, other); if it equals neither, max + 1 (a new view
 * both sides will converge on). Returns 1 if m changed, 0, or -ENOMEM. */
int ais_map_merge(struct ais_map *m, const struct ais_map *other);

/* True if both maps have the same nodes (every field). */
int ais_map_same_nodes(const struct ais_map *a, const struct ais_map *b);

/* The ONLINE node that owns bucket/name by HRW, or NULL if none (nodes in
 * maintenance or decommissioning take no data; "down" does not matter). */
const struct ais_node *ais_map_owner(const struct ais_map *m,
				     const char *bucket, const char *name);

/* The copies bucket's objects have (1 unless the map lists it). */
uint32_t ais_map_copies(const struct ais_map *m, const char *bucket);

/* Sets bucket's copies in m (1 drops it from the list; at most
 * AIS_COPIES_MAX). 0 or -ENOMEM / -EINVAL. Does not touch the version. */
int ais_map_set_copies(struct ais_map *m, const char *bucket, uint32_t copies);

/* The nodes that hold bucket/name: its copies on the first ONLINE nodes of
 * its HRW order (idx[0] is ais_map_owner), as indexes into m->nodes. Fills
 * up to cap and returns how many: min(copies, ONLINE nodes, cap); 0 for a
 * name too long for a key. */
size_t ais_map_copy_set(const struct ais_map *m, const char *bucket,
			const char *name, int *idx, size_t cap);

/* Whether node id holds one of bucket/name's copies (its rank in the copy
 * set, or -1). */
int ais_map_copy_rank(const struct ais_map *m, const char *bucket,
		      const char *name, const char *id);

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
