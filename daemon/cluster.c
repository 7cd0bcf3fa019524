/* The cluster map and the gossip thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "fileio.h"
#include "util.h"

#include "cluster.h"
#include "peer.h"

#define GOSSIP_FAST_MS	  1000 /* until every seed has answered */
#define GOSSIP_SLOW_MS	  3000
#define GOSSIP_CONNECT_MS 1000
#define GOSSIP_IO_MS	  3000

struct target {
	char *addr;	/* "HOST:PORT" */
	bool seed;	/* a seed or the join target */
	bool ok;	/* answered a JOIN at least once */
	unsigned fails; /* consecutive failures, to keep the log quiet */
};

struct cluster {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cluster_map *cur;
	struct ais_node self;
	struct target *seeds;
	size_t nseeds;
	char **state_files; /* <mp>/.ais/map: the last map, for restarts */
	size_t nstate;
	struct peers *peers; /* gossip connections */
	pthread_t thr;
	bool running;
	bool stop;
	cluster_buckets_cb buckets_cb;
	void *buckets_arg;
	bool buckets_synced; /* the first round has run */
};

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

/* Writes m to every state file (tmp + rename), so that a restarted node
 * starts from its last map: its version keeps growing and it does not
 * claim other nodes' objects before gossip has run. */
static void save_map(struct cluster *c, const struct ais_map *m)
{
	Ais__ClusterMap *pb = ais_map_to_pb(m);
	char tmp[4200];
	uint8_t *buf;
	size_t len, i;
	int fd, rc;

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
		snprintf(tmp, sizeof(tmp), "%s.new", c->state_files[i]);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			rc = -errno;
		} else {
			rc = ais_write_all(fd, buf, len);
			if (!rc && fsync(fd) < 0)
				rc = -errno;
			close(fd);
			if (!rc && rename(tmp, c->state_files[i]) < 0)
				rc = -errno;
		}
		if (rc) {
			unlink(tmp);
			ais_log(LOG_WARNING, "cannot save the map to %s: %s",
				c->state_files[i], strerror(-rc));
		}
	}
	free(buf);
}

/* The saved map with the highest version, or NULL. */
static struct ais_map *load_map(char *const *files, size_t n)
{
	struct ais_map *best = NULL, *m;
	char errmsg[AIS_ERRMSG_LEN];
	Ais__ClusterMap *pb;
	uint8_t buf[1 << 16];
	ssize_t len;
	size_t i;
	int fd;

	for (i = 0; i < n; i++) {
		fd = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf));
		close(fd);
		if (len <= 0 || len == (ssize_t)sizeof(buf))
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
	c->seeds = calloc(nseeds + 1, sizeof(struct target));
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
	for (i = 0; i < nseeds; i++) {
		c->seeds[c->nseeds].addr = strdup(seeds[i]);
		c->seeds[c->nseeds++].seed = true;
	}
	if (join) {
		c->seeds[c->nseeds].addr = strdup(join);
		c->seeds[c->nseeds++].seed = true;
	}
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

/* ---- gossip ------------------------------------------------------- */

/* Sends OP_JOIN {self} to addr and returns the peer's map in *out. */
static int join_one(struct cluster *c, const char *addr, struct ais_map **out,
		    char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Node node = AIS__NODE__INIT;
	Ais__Response *resp = NULL;
	struct ais_node peer;
	int rc;

	memset(&peer, 0, sizeof(peer));
	if (ais_parse_hostport(addr, peer.host, sizeof(peer.host), &peer.port))
		return ais_errf(errmsg, -EINVAL, "bad address %s", addr);
	node.id = c->self.id;
	node.host = c->self.host;
	node.port = c->self.port;
	req.op = AIS__OP__OP_JOIN;
	req.node = &node;
	req.map_version = cluster_version(c);
	rc = peers_call(c->peers, &peer, &req, &resp, errmsg);
	if (rc)
		return rc;
	if (resp->status)
		rc = ais_errf(errmsg, resp->status, "%s: %s", addr,
			      resp->message);
	else if (!resp->map)
		rc =
		    ais_errf(errmsg, -EPROTO, "%s: no map in the answer", addr);
	else
		rc = ais_map_from_pb(resp->map, out, errmsg);
	if (rc == 0 && !c->buckets_synced && c->buckets_cb)
		c->buckets_cb(c->buckets_arg, resp->buckets, resp->n_buckets);
	ais__response__free_unpacked(resp, NULL);
	return rc;
}

static bool in_list(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/* One round: every seed and every known peer. Returns true once every seed
 * has answered at least once. */
static bool gossip_round(struct cluster *c)
{
	char errmsg[AIS_ERRMSG_LEN], selfaddr[AIS_HOST_MAX + 8];
	struct cluster_map *cm = cluster_map_get(c);
	size_t n = 0, i, cap = c->nseeds + cm->m->n;
	char **addrs = calloc(cap + 1, sizeof(char *));
	bool all = true;

	snprintf(selfaddr, sizeof(selfaddr), "%s:%u", c->self.host,
		 c->self.port);
	for (i = 0; addrs && i < c->nseeds; i++)
		if (!in_list(addrs, n, c->seeds[i].addr))
			addrs[n++] = strdup(c->seeds[i].addr);
	for (i = 0; addrs && i < cm->m->n; i++) {
		char a[AIS_HOST_MAX + 8];

		if (!strcmp(cm->m->nodes[i].id, c->self.id))
			continue;
		snprintf(a, sizeof(a), "%s:%u", cm->m->nodes[i].host,
			 cm->m->nodes[i].port);
		if (!in_list(addrs, n, a))
			addrs[n++] = strdup(a);
	}
	cluster_map_put(cm);
	if (!addrs)
		return false;
	for (i = 0; i < n && !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE);
	     i++) {
		struct ais_map *m = NULL;
		size_t j;
		int rc;

		if (!addrs[i])
			continue;
		if (!strcmp(addrs[i], selfaddr))
			rc = 0;
		else
			rc = join_one(c, addrs[i], &m, errmsg);
		if (rc == 0 && m) {
			cluster_merge(c, m);
			ais_map_free(m);
		}
		if (rc)
			ais_log(LOG_DEBUG, "gossip: %s", errmsg);
		for (j = 0; j < c->nseeds; j++) {
			if (strcmp(c->seeds[j].addr, addrs[i]))
				continue;
			if (rc == 0) {
				c->seeds[j].ok = true;
				c->seeds[j].fails = 0;
			} else if (c->seeds[j].fails++ % 60 == 0) {
				ais_log(LOG_INFO, "seed %s: %s",
					c->seeds[j].addr, errmsg);
			}
		}
	}
	c->buckets_synced = true;
	for (i = 0; i < c->nseeds; i++)
		if (!c->seeds[i].ok)
			all = false;
	for (i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
	return all;
}

static void *gossip_main(void *arg)
{
	struct cluster *c = arg;
	struct timespec ts;
	bool all;

	for (;;) {
		all = gossip_round(c);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (all ? GOSSIP_SLOW_MS : GOSSIP_FAST_MS) / 1000;
		pthread_mutex_lock(&c->mu);
		while (!c->stop &&
		       pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0)
			;
		if (c->stop) {
			pthread_mutex_unlock(&c->mu);
			return NULL;
		}
		pthread_mutex_unlock(&c->mu);
	}
}

int cluster_start(struct cluster *c)
{
	int rc = pthread_create(&c->thr, NULL, gossip_main, c);

	if (rc)
		return -rc;
	c->running = true;
	return 0;
}

void cluster_stop(struct cluster *c)
{
	if (!c->running)
		return;
	pthread_mutex_lock(&c->mu);
	__atomic_store_n(&c->stop, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thr, NULL);
	c->running = false;
}
