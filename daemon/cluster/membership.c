/* Where membership is decided (today, from what gossip brings): the
 * current map and its snapshots, its persistence across restarts, joins and
 * merges. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "util.h"

#include "cluster/cluster_i.h"

#define GOSSIP_CONNECT_MS 1000
#define GOSSIP_IO_MS	  3000
#define MAP_FILE_MAX	  (1 << 16)

void cluster_on_peer_buckets(struct cluster *c, cluster_buckets_cb cb,
			     void *arg)
{
	c->buckets_cb = cb;
	c->buckets_arg = arg;
}

static struct cluster_map *cmap_new(struct ais_map *m)
{
	struct cluster_map *cm = malloc(sizeof(*cm));

	if (!cm)
		return NULL;
	memset(cm, 0, sizeof(*cm));
	cm->refs = 1;
	cm->m = m;
	return cm;
}

void cluster_map_put(struct cluster_map *cm)
{
	if (cm && __atomic_sub_fetch(&cm->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		ais_map_free(cm->m);
		free(cm);
	}
}

struct cluster_map *cluster_map_get(struct cluster *c)
{
	struct cluster_map *cm;

	pthread_mutex_lock(&c->mu);
	cm = c->cur;
	__atomic_add_fetch(&cm->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&c->mu);
	return cm;
}

uint64_t cluster_version(struct cluster *c)
{
	uint64_t v;

	pthread_mutex_lock(&c->mu);
	v = c->cur->m->version;
	pthread_mutex_unlock(&c->mu);
	return v;
}

const struct ais_node *cluster_self(const struct cluster *c)
{
	return &c->self;
}

static void log_map(const struct ais_map *m)
{
	char line[1024];
	size_t i, off = 0;

	line[0] = 0;
	for (i = 0; i < m->n && off < sizeof(line) - 64; i++) {
		int n =
		    snprintf(line + off, sizeof(line) - off, "%s%.4s.. %s:%u",
			     i ? ", " : "", m->nodes[i].id, m->nodes[i].host,
			     m->nodes[i].port);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (i < m->n)
		snprintf(line + off, sizeof(line) - off, ", ...");
	ais_log(LOG_NOTICE, "map v%llu: %zu node%s (%s)",
		(unsigned long long)m->version, m->n, m->n == 1 ? "" : "s",
		line);
}

/* Writes m durably to every state file, so that a restarted node starts
 * from its last map: its version keeps growing and it does not claim other
 * nodes' objects before gossip has run. */
static void save_map(struct cluster *c, const struct ais_map *m)
{
	Ais__ClusterMap *pb = ais_map_to_pb(m);
	uint8_t *buf;
	size_t len, i;
	int rc;

	if (!pb)
		return;
	len = ais__cluster_map__get_packed_size(pb);
	buf = malloc(len ? len : 1);
	if (!buf) {
		ais_map_pb_free(pb);
		return;
	}
	ais__cluster_map__pack(pb, buf);
	ais_map_pb_free(pb);
	for (i = 0; i < c->nstate; i++) {
		rc = ais_file_replace(c->state_files[i], buf, len, 0644);
		if (rc)
			ais_log(LOG_WARNING, "cannot save the map to %s: %s",
				c->state_files[i], strerror(-rc));
	}
	free(buf);
}

/* The saved map with the highest version, or NULL. */
static struct ais_map *load_map(char *const *files, size_t n)
{
	struct ais_map *best = NULL, *m;
	char errmsg[AIS_ERRMSG_LEN];
	Ais__ClusterMap *pb;
	uint8_t *buf = malloc(MAP_FILE_MAX);
	ssize_t len;
	size_t i;

	for (i = 0; buf && i < n; i++) {
		len = ais_read_file(files[i], buf, MAP_FILE_MAX);
		if (len <= 0 || len == MAP_FILE_MAX)
			continue;
		pb = ais__cluster_map__unpack(NULL, (size_t)len, buf);
		if (!pb)
			continue;
		m = NULL;
		if (ais_map_from_pb(pb, &m, errmsg) == 0 &&
		    (!best || m->version > best->version)) {
			ais_map_free(best);
			best = m;
			m = NULL;
		}
		ais_map_free(m);
		ais__cluster_map__free_unpacked(pb, NULL);
	}
	free(buf);
	return best;
}

/* Replaces the current snapshot with m (owned). Called under c->mu. */
static void publish(struct cluster *c, struct ais_map *m)
{
	struct cluster_map *cm = cmap_new(m), *old = c->cur;

	if (!cm) {
		ais_map_free(m);
		return;
	}
	c->cur = cm;
	cluster_map_put(old);
	log_map(m);
	save_map(c, m);
}

struct cluster *cluster_new(const struct ais_node *self, char *const *seeds,
			    size_t nseeds, const char *join,
			    char *const *state_files, size_t nstate)
{
	struct cluster *c = calloc(1, sizeof(*c));
	struct ais_map *m;
	size_t i;
	int rc;

	if (!c)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->self = *self;
	c->seeds = calloc(nseeds + 1, sizeof(struct gossip_target));
	c->peers = peers_new(GOSSIP_CONNECT_MS, GOSSIP_IO_MS, 0);
	if (!c->peers)
		goto err_c;
	c->state_files = calloc(nstate + 1, sizeof(char *));
	if (!c->seeds || !c->state_files)
		goto err_c;
	for (i = 0; i < nstate; i++)
		if ((c->state_files[c->nstate] = strdup(state_files[i])))
			c->nstate++;
	m = load_map(state_files, nstate);
	if (!m) {
		m = ais_map_new();
		if (!m)
			goto err_c;
	}
	rc = ais_map_add(m, self);
	if (rc < 0)
		goto err;
	if (rc > 0 || m->version == 0)
		m->version++;
	for (i = 0; i < nseeds; i++)
		c->seeds[c->nseeds++].addr = strdup(seeds[i]);
	if (join)
		c->seeds[c->nseeds++].addr = strdup(join);
	c->cur = cmap_new(m);
	if (!c->cur)
		goto err;
	log_map(m);
	save_map(c, m);
	return c;
err:
	ais_map_free(m);
err_c:
	cluster_free(c);
	return NULL;
}

void cluster_free(struct cluster *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; c->seeds && i < c->nseeds; i++)
		free(c->seeds[i].addr);
	free(c->seeds);
	for (i = 0; i < c->nstate; i++)
		free(c->state_files[i]);
	free(c->state_files);
	peers_free(c->peers);
	if (c->cur)
		cluster_map_put(c->cur);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* Puts our own entry back if a peer's older view changed it. */
static int fix_self(struct cluster *c, struct ais_map *m)
{
	int rc = ais_map_add(m, &c->self);

	if (rc > 0)
		m->version++;
	return rc;
}

int cluster_join(struct cluster *c, const struct ais_node *joiner)
{
	struct ais_map *m;
	int rc;

	if (!strcmp(joiner->id, c->self.id) &&
	    (strcmp(joiner->host, c->self.host) ||
	     joiner->port != c->self.port)) {
		ais_log(LOG_WARNING,
			"node %s:%u claims this node's id %s (copied "
			"mountpath?); ignored",
			joiner->host, joiner->port, joiner->id);
		return 0;
	}
	pthread_mutex_lock(&c->mu);
	m = ais_map_dup(c->cur->m);
	if (!m) {
		pthread_mutex_unlock(&c->mu);
		return -ENOMEM;
	}
	rc = ais_map_add(m, joiner);
	if (rc > 0) {
		m->version++;
		publish(c, m);
	} else {
		ais_map_free(m);
	}
	pthread_mutex_unlock(&c->mu);
	return rc < 0 ? rc : 0;
}

int cluster_merge(struct cluster *c, const struct ais_map *other)
{
	struct ais_map *m;
	int rc, rc2;

	pthread_mutex_lock(&c->mu);
	m = ais_map_dup(c->cur->m);
	if (!m) {
		pthread_mutex_unlock(&c->mu);
		return -ENOMEM;
	}
	rc = ais_map_merge(m, other);
	rc2 = rc >= 0 ? fix_self(c, m) : 0;
	if (rc < 0 || rc2 < 0) {
		ais_map_free(m);
		pthread_mutex_unlock(&c->mu);
		return -ENOMEM;
	}
	if (rc > 0 || rc2 > 0)
		publish(c, m);
	else
		ais_map_free(m);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* Transitional (gossip has no placement generations): Raft replaces. */
void cluster_on_change(struct cluster *c, cluster_change_cb cb, void *arg)
{
	(void)c;
	(void)cb;
	(void)arg;
}

int cluster_rebalance_done(struct cluster *c, uint64_t id, char *errmsg)
{
	(void)c;
	(void)id;
	return ais_errf(errmsg, -ENOSYS, "no rebalance under gossip");
}
