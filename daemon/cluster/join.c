/* How a node gets into the map. A node with Raft state resumes (and, if its
 * address changed, says so through the leader). A fresh node either starts
 * a new cluster — when it is the first of the seeds and no seed knows a
 * cluster — or asks a node of the cluster (--join, or the seeds) with
 * OP_JOIN, which the leader commits; the leader then adds it to Raft's
 * configuration and the log brings it the map. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#include "cluster/cluster_i.h"

static bool raft_state_exists(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/metadata1", dir);
	if (access(path, F_OK) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/metadata2", dir);
	return access(path, F_OK) == 0;
}

static bool is_self(struct cluster *c, const char *addr)
{
	char host[AIS_HOST_MAX];
	uint16_t port;

	if (ais_parse_hostport(addr, host, sizeof(host), &port))
		return false;
	return port == c->self.port &&
	       (!strcmp(host, c->self.host) || !strcmp(host, "localhost") ||
		!strcmp(host, "127.0.0.1") || !strcmp(host, "0.0.0.0"));
}

/* Orders "HOST:PORT" by host, then by port as a number. */
static int addr_cmp(const char *host_a, uint16_t port_a, const char *host_b,
		    uint16_t port_b)
{
	int c = strcmp(host_a, host_b);

	if (c)
		return c;
	return (int)port_a - (int)port_b;
}

/* Asks addr for its map: 1 if it knows a cluster (a map with nodes), 0 if
 * not or if it does not answer. */
static int knows_cluster(struct cluster *c, const char *addr)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp = NULL;
	char errmsg[AIS_ERRMSG_LEN];
	struct ais_node n;
	int known;

	memset(&n, 0, sizeof(n));
	if (ais_parse_hostport(addr, n.host, sizeof(n.host), &n.port))
		return 0;
	req.op = AIS__OP__OP_GET_MAP;
	if (peers_call(c->probe, &n, &req, &resp, errmsg))
		return 0;
	known = resp->status == 0 && resp->map && resp->map->n_nodes > 0;
	ais__response__free_unpacked(resp, NULL);
	return known;
}

bool cluster_should_bootstrap(struct cluster *c)
{
	char host[AIS_HOST_MAX];
	uint16_t port;
	size_t i;

	if (raft_state_exists(c->raft_dir) || c->join)
		return false;
	for (i = 0; i < c->nseeds; i++) {
		if (is_self(c, c->seeds[i]) ||
		    ais_parse_hostport(c->seeds[i], host, sizeof(host), &port))
			continue;
		if (addr_cmp(host, port, c->self.host, c->self.port) < 0)
			return false; /* an earlier seed starts it */
	}
	/* The first seed; but if it lost its state while the others kept
	 * a cluster, it must join that one, not start a second. */
	for (i = 0; i < c->nseeds; i++)
		if (!is_self(c, c->seeds[i]) && knows_cluster(c, c->seeds[i])) {
			ais_log(LOG_NOTICE,
				"cluster: seed %s knows a cluster; joining "
				"it",
				c->seeds[i]);
			return false;
		}
	return true;
}

/* OP_JOIN {self, local buckets} to addr, which commits it through its
 * leader. */
static int join_via(struct cluster *c, const char *addr, char *errmsg)
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
	node.raft_addr = c->self.raft_addr;
	req.op = AIS__OP__OP_JOIN;
	req.node = &node;
	req.buckets = c->local_buckets;
	req.n_buckets = c->nlocal_buckets;
	rc = peers_call(c->peers, &peer, &req, &resp, errmsg);
	if (rc)
		return rc;
	rc = resp->status;
	if (rc)
		ais_errf(errmsg, rc, "%s: %s", addr,
			 resp->message ? resp->message : strerror(-rc));
	ais__response__free_unpacked(resp, NULL);
	return rc;
}

static int join_once(struct cluster *c, char *errmsg)
{
	struct cluster_map *cm = cluster_map_get(c);
	bool leader = cm->m->leader[0] != 0;
	size_t i;
	int rc = -EAGAIN;

	cluster_map_put(cm);
	if (leader)
		return cluster_join(c, &c->self, c->local_buckets,
				    c->nlocal_buckets, errmsg);
	if (c->join && !is_self(c, c->join)) {
		rc = join_via(c, c->join, errmsg);
		if (rc == 0)
			return 0;
	}
	for (i = 0; i < c->nseeds; i++) {
		if (is_self(c, c->seeds[i]))
			continue;
		rc = join_via(c, c->seeds[i], errmsg);
		if (rc == 0)
			return 0;
	}
	if (rc == -EAGAIN && !errmsg[0])
		snprintf(errmsg, AIS_ERRMSG_LEN, "no leader known yet");
	return rc;
}

/* This node's state in the current map (-1 if it is not in it). */
static int self_state(struct cluster *c)
{
	struct cluster_map *cm = cluster_map_get(c);
	int idx = ais_map_find(cm->m, c->self.id);
	int st = idx >= 0 ? cm->m->nodes[idx].state : -1;

	cluster_map_put(cm);
	return st;
}

static void *join_thread(void *arg)
{
	struct cluster *c = arg;
	char errmsg[AIS_ERRMSG_LEN];
	unsigned tries = 0;
	int rc;

	pthread_setname_np(pthread_self(), "aisd-join");
	/* A node with Raft state is in the map already: the log says so
	 * once the leader has been heard. Ask only if it does not. */
	for (int i = 0; i < 30 && !c->bootstrap &&
			raft_state_exists(c->raft_dir) && !cluster_joined(c);
	     i++)
		if (!cluster_sleep(c, 100))
			return NULL;
	while (!cluster_joined(c)) {
		errmsg[0] = 0;
		rc = join_once(c, errmsg);
		if (rc == 0) {
			/* Committed: the log brings the map here once the
			 * leader has made this node a member. */
			for (int i = 0; i < 50 && !cluster_joined(c); i++)
				if (!cluster_sleep(c, 100))
					return NULL;
			if (cluster_joined(c))
				break;
		} else if (tries % 20 == 4) {
			ais_log(tries > 4 ? LOG_WARNING : LOG_INFO,
				"cluster: joining: %s", errmsg);
		}
		tries++;
		if (!cluster_sleep(c, 500))
			return NULL;
	}
	ais_log(LOG_NOTICE, "cluster: this node is in the map (Raft %s)",
		c->self.raft_addr);
	/* New in the map, and with the log now: ready to take data. */
	for (tries = 0; self_state(c) == AIS_NODE_JOINING; tries++) {
		Ais__MetaCmd cmd = AIS__META_CMD__INIT;

		cmd.kind = AIS__META_CMD__KIND__NODE_STATE;
		cmd.node_id = c->self.id;
		cmd.state = AIS_NODE_ONLINE;
		cmd.time_ns = ais_now_real_ns();
		rc = cluster_propose(c, &cmd, errmsg);
		if (rc == 0)
			break;
		if (tries % 20 == 4)
			ais_log(LOG_WARNING, "cluster: going online: %s",
				errmsg);
		if (!cluster_sleep(c, 500))
			return NULL;
	}
	return NULL;
}

int cluster_join_start(struct cluster *c)
{
	int rc = pthread_create(&c->join_thr, NULL, join_thread, c);

	if (rc)
		return -rc;
	c->join_started = true;
	return 0;
}

void cluster_join_stop(struct cluster *c)
{
	if (c->join_started) {
		pthread_join(c->join_thr, NULL);
		c->join_started = false;
	}
}
