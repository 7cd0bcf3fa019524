/* The leader's liveness checks: every WATCH_MS the leader pings every other
 * node of the map (OP_PING over the data port, short timeouts); a node
 * silent for down_after_ms is marked down in the map, and marked up again
 * when it answers. "down" is advisory: clients skip the node at once
 * instead of waiting a timeout on it, Raft replaces it as a voter; no data
 * moves because of it. Followers run the loop too but only watch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#include "cluster/cluster_i.h"

#define WATCH_MS 500

struct seen {
	char id[AIS_NODE_ID_MAX];
	uint64_t last_ok_ns; /* monotonic; 0 = never since we lead */
};

static bool ping(struct cluster *c, const struct ais_node *n)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp = NULL;
	char errmsg[AIS_ERRMSG_LEN];
	bool ok;

	req.op = AIS__OP__OP_PING;
	if (peers_call(c->probe, n, &req, &resp, errmsg))
		return false;
	ok = resp->status == 0;
	ais__response__free_unpacked(resp, NULL);
	return ok;
}

static struct seen *seen_find(struct seen **v, size_t *n, const char *id,
			      uint64_t now)
{
	struct seen *s;
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp((*v)[i].id, id))
			return &(*v)[i];
	s = realloc(*v, (*n + 1) * sizeof(*s));
	if (!s)
		return NULL;
	*v = s;
	s = &s[(*n)++];
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->last_ok_ns = now; /* grace: a node gets down_after_ms */
	return s;
}

static void *watch_thread(void *arg)
{
	struct cluster *c = arg;
	struct seen *seen = NULL;
	size_t nseen = 0, i;
	bool was_leader = false;

	pthread_setname_np(pthread_self(), "aisd-watch");
	while (cluster_sleep(c, WATCH_MS)) {
		struct cluster_map *cm;
		uint64_t now = ais_now_mono_ns();
		bool leader;

		pthread_mutex_lock(&c->mu);
		leader = c->is_leader;
		pthread_mutex_unlock(&c->mu);
		if (!leader) {
			was_leader = false;
			continue;
		}
		if (!was_leader) {
			/* New in office: everyone gets a fresh grace. */
			nseen = 0;
			was_leader = true;
		}
		cm = cluster_map_get(c);
		for (i = 0; i < cm->m->n; i++) {
			const struct ais_node *n = &cm->m->nodes[i];
			char errmsg[AIS_ERRMSG_LEN];
			struct seen *s;
			bool ok, down;

			if (!strcmp(n->id, c->self.id))
				continue;
			s = seen_find(&seen, &nseen, n->id, now);
			if (!s)
				break;
			ok = ping(c, n);
			if (ok)
				s->last_ok_ns = ais_now_mono_ns();
			down = !ok && ais_now_mono_ns() - s->last_ok_ns >=
					  (uint64_t)c->down_after_ms * 1000000;
			if (ok == !n->down)
				continue; /* the map says so already */
			if (!ok && !down)
				continue;
			if (cluster_mark_down(c, n->id, down, errmsg))
				ais_log(LOG_WARNING,
					"cluster: cannot mark node %s %s: %s",
					n->id, down ? "down" : "up", errmsg);
			else
				ais_log(down ? LOG_WARNING : LOG_NOTICE,
					"cluster: node %s (%s:%u) is %s", n->id,
					n->host, n->port,
					down ? "down: no answer for a while"
					     : "back up");
		}
		cluster_map_put(cm);
	}
	free(seen);
	return NULL;
}

int cluster_watch_start(struct cluster *c)
{
	int rc = pthread_create(&c->watch_thr, NULL, watch_thread, c);

	if (rc)
		return -rc;
	c->watch_started = true;
	return 0;
}

void cluster_watch_stop(struct cluster *c)
{
	if (c->watch_started) {
		pthread_join(c->watch_thr, NULL);
		c->watch_started = false;
	}
}
