/* The cluster map: nodes sorted by id, HRW owner lookup, merging, protobuf
 * conversion. */
#include "map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hrw.h"
#include "names.h"
#include "util.h"

struct ais_map *ais_map_new(void)
{
	return calloc(1, sizeof(struct ais_map));
}

void ais_map_free(struct ais_map *m)
{
	if (m == NULL)
		return;
	free(m->nodes);
	free(m->bcopies);
	free(m);
}

struct ais_map *ais_map_dup(const struct ais_map *m)
{
	struct ais_map *d = ais_map_new();

	if (d == NULL)
		return NULL;
	d->version = m->version;
	memcpy(d->leader, m->leader, sizeof(d->leader));
	memcpy(d->auth_kid, m->auth_kid, sizeof(d->auth_kid));
	d->n = m->n;
	if (m->n > 0) {
		d->nodes = malloc(m->n * sizeof(*d->nodes));
		if (d->nodes == NULL) {
			free(d);
			return NULL;
		}
		memcpy(d->nodes, m->nodes, m->n * sizeof(*d->nodes));
	}
	if (m->nbcopies > 0) {
		d->bcopies = malloc(m->nbcopies * sizeof(*d->bcopies));
		if (d->bcopies == NULL) {
			ais_map_free(d);
			return NULL;
		}
		memcpy(d->bcopies, m->bcopies,
		       m->nbcopies * sizeof(*d->bcopies));
		d->nbcopies = m->nbcopies;
	}
	return d;
}

/* Binary search: the index of id, or -(insertion point) - 1. */
static long map_search(const struct ais_map *m, const char *id)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->nodes[mid].id, id);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

int ais_map_find(const struct ais_map *m, const char *id)
{
	long i = map_search(m, id);

	return i >= 0 ? (int)i : -1;
}

static int node_equal(const struct ais_node *a, const struct ais_node *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->host, b->host) == 0 &&
	       a->port == b->port && a->state == b->state &&
	       a->down == b->down && a->role == b->role &&
	       strcmp(a->raft_addr, b->raft_addr) == 0;
}

int ais_map_lookup(const struct ais_map *m, const char *id_or_addr)
{
	char host[AIS_HOST_MAX];
	uint16_t port;
	size_t i;
	int idx = ais_map_find(m, id_or_addr);

	if (idx >= 0 ||
	    ais_parse_hostport(id_or_addr, host, sizeof(host), &port) < 0)
		return idx;
	for (i = 0; i < m->n; i++)
		if (m->nodes[i].port == port && !strcmp(m->nodes[i].host, host))
			return (int)i;
	return -1;
}

int ais_map_remove(struct ais_map *m, const char *id)
{
	long i = map_search(m, id);

	if (i < 0)
		return 0;
	memmove(m->nodes + i, m->nodes + i + 1,
		(m->n - (size_t)i - 1) * sizeof(*m->nodes));
	m->n--;
	return 1;
}

bool ais_map_same_placement(const struct ais_map *a, const struct ais_map *b)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < a->n && a->nodes[i].state != AIS_NODE_ONLINE)
			i++;
		while (j < b->n && b->nodes[j].state != AIS_NODE_ONLINE)
			j++;
		if (i == a->n || j == b->n)
			return i == a->n && j == b->n;
		if (strcmp(a->nodes[i].id, b->nodes[j].id))
			return false;
		i++;
		j++;
	}
}

const char *ais_node_state_name(int state)
{
	switch (state) {
	case AIS_NODE_ONLINE:
		return "online";
	case AIS_NODE_MAINTENANCE:
		return "maintenance";
	case AIS_NODE_JOINING:
		return "joining";
	case AIS_NODE_DECOMMISSIONING:
		return "decommissioning";
	}
	return "unknown";
}

const char *ais_node_role_name(int role)
{
	switch (role) {
	case AIS_ROLE_VOTER:
		return "voter";
	case AIS_ROLE_STANDBY:
		return "standby";
	case AIS_ROLE_SPARE:
		return "spare";
	}
	return "-";
}

int ais_map_add(struct ais_map *m, const struct ais_node *node)
{
	long i = map_search(m, node->id);
	struct ais_node *nodes;
	size_t at;

	if (i >= 0) {
		if (node_equal(&m->nodes[i], node))
			return 0;
		m->nodes[i] = *node;
		return 1;
	}
	at = (size_t)(-i - 1);
	nodes = realloc(m->nodes, (m->n + 1) * sizeof(*nodes));
	if (nodes == NULL)
		return -ENOMEM;
	memmove(nodes + at + 1, nodes + at, (m->n - at) * sizeof(*nodes));
	nodes[at] = *node;
	m->nodes = nodes;
	m->n++;
	return 1;
}

int ais_map_same_nodes(const struct ais_map *a, const struct ais_map *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!node_equal(&a->nodes[i], &b->nodes[i]))
			return 0;
	return 1;
}

int ais_map_merge(struct ais_map *m, const struct ais_map *other)
{
	struct ais_map *u = ais_map_dup(m);
	uint64_t version;
	size_t i;
	int changed;

	if (u == NULL)
		return -ENOMEM;
	for (i = 0; i < other->n; i++) {
		int idx = ais_map_find(u, other->nodes[i].id);

		/* For a node in both, the newer map's entry wins. */
		if (idx >= 0 && m->version >= other->version)
			continue;
		if (ais_map_add(u, &other->nodes[i]) < 0) {
			ais_map_free(u);
			return -ENOMEM;
		}
	}
	version = m->version > other->version ? m->version : other->version;
	if (!ais_map_same_nodes(u, other) && !ais_map_same_nodes(u, m))
		version++;
	else if (!ais_map_same_nodes(u, other))
		/* u equals m, not other: m's view, at least as new as
		 * other's version. If other was newer but lacked nodes we
		 * hold, bump so other adopts ours instead of the reverse. */
		version = m->version > other->version ? m->version
						      : other->version + 1;
	changed = version != m->version || !ais_map_same_nodes(u, m);
	free(m->nodes);
	m->nodes = u->nodes;
	m->n = u->n;
	m->version = version;
	u->nodes = NULL;
	ais_map_free(u);
	return changed;
}

/* Binary search in bcopies: the index of bucket, or -(insertion point)-1. */
static long bcopies_search(const struct ais_map *m, const char *bucket)
{
	size_t lo = 0, hi = m->nbcopies;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->bcopies[mid].name, bucket);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

uint32_t ais_map_copies(const struct ais_map *m, const char *bucket)
{
	long i = bcopies_search(m, bucket);

	return i >= 0 ? m->bcopies[i].copies : 1;
}

int ais_map_set_copies(struct ais_map *m, const char *bucket, uint32_t copies)
{
	long i = bcopies_search(m, bucket);
	struct ais_bucket_copies *b;
	size_t at;

	if (copies == 0 || copies > AIS_COPIES_MAX ||
	    strlen(bucket) > AIS_BUCKET_MAX)
		return -EINVAL;
	if (i >= 0) {
		if (copies > 1) {
			m->bcopies[i].copies = copies;
			return 0;
		}
		memmove(m->bcopies + i, m->bcopies + i + 1,
			(m->nbcopies - (size_t)i - 1) * sizeof(*m->bcopies));
		m->nbcopies--;
		return 0;
	}
	if (copies == 1)
		return 0;
	at = (size_t)(-i - 1);
	b = realloc(m->bcopies, (m->nbcopies + 1) * sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	memmove(b + at + 1, b + at, (m->nbcopies - at) * sizeof(*b));
	snprintf(b[at].name, sizeof(b[at].name), "%s", bucket);
	b[at].copies = copies;
	m->bcopies = b;
	m->nbcopies++;
	return 0;
}

size_t ais_map_copy_set(const struct ais_map *m, const char *bucket,
			const char *name, int *idx, size_t cap)
{
	const char *stack_ids[64];
	const char **ids = stack_ids;
	int sidx[64], *pidx = sidx, sorder[64], *order = sorder;
	char key[AIS_BUCKET_MAX + 1 + AIS_NAME_MAX + 1];
	size_t i, n = 0, want = ais_map_copies(m, bucket);
	int keylen;

	keylen = ais_hrw_key(bucket, name, key, sizeof(key));
	if (keylen < 0 || m->n == 0 || cap == 0)
		return 0;
	if (m->n > 64) {
		ids = malloc(m->n * sizeof(*ids));
		pidx = malloc(m->n * sizeof(*pidx));
		order = malloc(m->n * sizeof(*order));
		if (ids == NULL || pidx == NULL || order == NULL)
			goto out;
	}
	for (i = 0; i < m->n; i++) {
		if (m->nodes[i].state != AIS_NODE_ONLINE)
			continue;
		ids[n] = m->nodes[i].id;
		pidx[n] = (int)i;
		n++;
	}
	if (want == 1 || n <= 1) {
		/* The common case: one pick, no sort. */
		int best = ais_hrw_pick(ids, n, key, (size_t)keylen);

		n = 0;
		if (best >= 0)
			idx[n++] = pidx[best];
		goto out;
	}
	ais_hrw_rank(ids, n, key, (size_t)keylen, order);
	if (want > n)
		want = n;
	if (want > cap)
		want = cap;
	for (i = 0; i < want; i++)
		idx[i] = pidx[order[i]];
	n = want;
out:
	if (ids != stack_ids) {
		if (ids == NULL || pidx == NULL || order == NULL)
			n = 0;
		free(ids);
		free(pidx);
		free(order);
	}
	return n;
}

const struct ais_node *ais_map_owner(const struct ais_map *m,
				     const char *bucket, const char *name)
{
	int idx;

	if (ais_map_copy_set(m, bucket, name, &idx, 1) == 0)
		return NULL;
	return &m->nodes[idx];
}

int ais_map_copy_rank(const struct ais_map *m, const char *bucket,
		      const char *name, const char *id)
{
	int idx[AIS_COPIES_MAX];
	size_t n = ais_map_copy_set(m, bucket, name, idx, AIS_COPIES_MAX), i;

	for (i = 0; i < n; i++)
		if (!strcmp(m->nodes[idx[i]].id, id))
			return (int)i;
	return -1;
}

int ais_map_from_pb(const Ais__ClusterMap *pb, struct ais_map **out,
		    char *errmsg)
{
	struct ais_map *m = ais_map_new();
	size_t i;

	if (m == NULL)
		return -ENOMEM;
	m->version = pb->version;
	if (pb->leader && strlen(pb->leader) < sizeof(m->leader))
		strcpy(m->leader, pb->leader);
	if (pb->auth_kid && strlen(pb->auth_kid) < sizeof(m->auth_kid))
		strcpy(m->auth_kid, pb->auth_kid);
	for (i = 0; i < pb->n_nodes; i++) {
		const Ais__Node *pn = pb->nodes[i];
		struct ais_node node;
		int rc;

		memset(&node, 0, sizeof(node));
		if (pn->id == NULL || pn->id[0] == '\0' ||
		    strlen(pn->id) >= sizeof(node.id) || pn->host == NULL ||
		    pn->host[0] == '\0' ||
		    strlen(pn->host) >= sizeof(node.host) || pn->port == 0 ||
		    pn->port > 65535) {
			ais_map_free(m);
			return ais_errf(errmsg, -EPROTO,
					"cluster map v%llu: node %zu is "
					"malformed",
					(unsigned long long)pb->version, i);
		}
		strcpy(node.id, pn->id);
		strcpy(node.host, pn->host);
		node.port = (uint16_t)pn->port;
		node.state = pn->state == AIS__NODE__STATE__MAINTENANCE
				 ? AIS_NODE_MAINTENANCE
			     : pn->state == AIS__NODE__STATE__DECOMMISSIONING
				 ? AIS_NODE_DECOMMISSIONING
			     : pn->state == AIS__NODE__STATE__JOINING
				 ? AIS_NODE_JOINING
				 : AIS_NODE_ONLINE;
		node.down = pn->down;
		node.role = pn->role <= AIS__NODE__ROLE__SPARE ? (int)pn->role
							       : AIS_ROLE_NONE;
		if (pn->raft_addr &&
		    strlen(pn->raft_addr) < sizeof(node.raft_addr))
			strcpy(node.raft_addr, pn->raft_addr);
		rc = ais_map_add(m, &node);
		if (rc < 0) {
			ais_map_free(m);
			return rc;
		}
	}
	for (i = 0; i < pb->n_buckets; i++) {
		const Ais__BucketCopies *b = pb->buckets[i];
		int rc;

		if (b->name == NULL || strlen(b->name) > AIS_BUCKET_MAX ||
		    b->copies == 0 || b->copies > AIS_COPIES_MAX) {
			ais_map_free(m);
			return ais_errf(errmsg, -EPROTO,
					"cluster map v%llu: bucket entry %zu "
					"is malformed",
					(unsigned long long)pb->version, i);
		}
		rc = ais_map_set_copies(m, b->name, b->copies);
		if (rc < 0) {
			ais_map_free(m);
			return rc;
		}
	}
	*out = m;
	return 0;
}

/* The message and its node array are allocated in one block after the
 * ClusterMap, so that ais_map_pb_free is a single free(). */
Ais__ClusterMap *ais_map_to_pb(const struct ais_map *m)
{
	Ais__ClusterMap *pb;
	Ais__Node *nodes;
	Ais__Node **ptrs;
	Ais__BucketCopies *bc;
	Ais__BucketCopies **bcp;
	size_t i;

	pb = malloc(sizeof(*pb) + m->n * (sizeof(*ptrs) + sizeof(*nodes)) +
		    m->nbcopies * (sizeof(*bcp) + sizeof(*bc)));
	if (pb == NULL)
		return NULL;
	ptrs = (Ais__Node **)(pb + 1);
	nodes = (Ais__Node *)(ptrs + m->n);
	bcp = (Ais__BucketCopies **)(nodes + m->n);
	bc = (Ais__BucketCopies *)(bcp + m->nbcopies);
	ais__cluster_map__init(pb);
	pb->version = m->version;
	pb->leader = (char *)m->leader;
	pb->auth_kid = (char *)m->auth_kid;
	pb->n_nodes = m->n;
	pb->nodes = ptrs;
	for (i = 0; i < m->n; i++) {
		ais__node__init(&nodes[i]);
		nodes[i].id = (char *)m->nodes[i].id;
		nodes[i].host = (char *)m->nodes[i].host;
		nodes[i].port = m->nodes[i].port;
		nodes[i].state = (Ais__Node__State)m->nodes[i].state;
		nodes[i].down = m->nodes[i].down;
		nodes[i].role = (Ais__Node__Role)m->nodes[i].role;
		nodes[i].raft_addr = (char *)m->nodes[i].raft_addr;
		ptrs[i] = &nodes[i];
	}
	pb->n_buckets = m->nbcopies;
	pb->buckets = bcp;
	for (i = 0; i < m->nbcopies; i++) {
		ais__bucket_copies__init(&bc[i]);
		bc[i].name = (char *)m->bcopies[i].name;
		bc[i].copies = m->bcopies[i].copies;
		bcp[i] = &bc[i];
	}
	return pb;
}

void ais_map_pb_free(Ais__ClusterMap *pb)
{
	free(pb);
}
