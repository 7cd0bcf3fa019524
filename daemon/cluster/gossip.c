/* Gossip: a thread that sends OP_JOIN {self} to every seed and every
 * known peer, every second until each seed has answered once, then every
 * three seconds, and merges the maps they answer with (membership.c
 * decides what changes). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

#include "cluster/cluster_i.h"

#define GOSSIP_FAST_MS 1000 /* until every seed has answered */
#define GOSSIP_SLOW_MS 3000

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
