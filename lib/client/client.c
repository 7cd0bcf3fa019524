/* libais client: creation, the cluster map, cluster info and buckets.
 * Object operations are in obj.c, get.c and put.c, listing in list.c, the
 * request machinery (and "any node") in call.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_i.h"
#include "tls.h"
#include "map.h"
#include "names.h"
#include "util.h"

void ais_client_opts_default(struct ais_client_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 3000;
	o->io_timeout_ms = 30000;
	o->max_idle_per_node = 32;
}

/* OP_GET_MAP to one pool; adopts the answer (forced: an explicit fetch
 * takes the node's view even if its version is not higher). Either way a
 * node answered with a map no newer than the one now held: it is fresh. */
static int fetch_map(struct ais_client *c, struct ais_pool *pool, bool force,
		     char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	struct ais_map *m;
	int rc;

	req.op = AIS__OP__OP_GET_MAP;
	rc = ais__call_simple(c, pool, &req, true, 1, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	if (rc < 0)
		goto out;
	if (!a->map) {
		rc = ais_errf(errmsg, -EPROTO, "node %s: answer without a map",
			      pool->addr);
		goto out;
	}
	rc = ais_map_from_pb(a->map, &m, errmsg);
	if (rc < 0)
		goto out;
	rc = ais__client_adopt(c, m, force);
	if (rc < 0) {
		rc = ais_errf(errmsg, rc, "out of memory");
	} else {
		atomic_store(&c->map_checked_ns, ais_now_mono_ns());
		rc = 0;
	}
out:
	ais__response__free_unpacked(a, NULL);
	return rc;
}

/* "cannot reach ADDR: reason" for what fetch_map said (rc, em). For a bad
 * answer say what was wrong with it, without naming the node twice. */
static const char *reach_reason(int rc, const char *em, const char *addr)
{
	size_t plen = strlen(addr);

	/* A failed TLS handshake says why (a certificate of another CA). */
	if (rc != -EPROTO && rc != -EINVAL && !strstr(em, "TLS"))
		return strerror(-rc);
	if (strncmp(em, "node ", 5) == 0 && strncmp(em + 5, addr, plen) == 0 &&
	    strncmp(em + 5 + plen, ": ", 2) == 0)
		return em + 5 + plen + 2;
	return em;
}

struct ais_client *ais_client_new(const char *endpoint,
				  const struct ais_client_opts *opts,
				  char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "", why[AIS_ERRMSG_LEN] = "";
	char names[AIS_ERRMSG_LEN] = "";
	struct ais_endpoint *eps;
	struct ais_client *c;
	size_t i, wl = 0, nl = 0;
	int rc, n;

	if (!endpoint || !*endpoint)
		endpoint = getenv("AIS_ENDPOINT");
	if (!endpoint || !*endpoint)
		endpoint = AIS_DEFAULT_ENDPOINT;
	eps = calloc(AIS_ENDPOINTS_MAX, sizeof(*eps));
	if (!eps) {
		ais_errf(errmsg, -ENOMEM, "out of memory");
		return NULL;
	}
	n = ais_endpoints_parse(endpoint, eps, AIS_ENDPOINTS_MAX, errmsg);
	if (n < 0) {
		free(eps);
		return NULL;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		free(eps);
		ais_errf(errmsg, -ENOMEM, "out of memory");
		return NULL;
	}
	if (opts)
		c->opts = *opts;
	else
		ais_client_opts_default(&c->opts);
	if (c->opts.connect_timeout_ms <= 0)
		c->opts.connect_timeout_ms = 3000;
	if (c->opts.io_timeout_ms <= 0)
		c->opts.io_timeout_ms = 30000;
	if (c->opts.max_idle_per_node < 0)
		c->opts.max_idle_per_node = 0;
	pthread_mutex_init(&c->map_lock, NULL);
	pthread_mutex_init(&c->pools_lock, NULL);
	atomic_init(&c->next_id, 1);
	atomic_init(&c->map_version, 0);
	atomic_init(&c->seen_version, 0);
	atomic_init(&c->map_checked_ns, 0);
	atomic_init(&c->home, NULL);
	ais_token_src_init(&c->tok);
	pthread_mutex_init(&c->tokf_mu, NULL);

	if (ais__client_tls_setup(c, eps, (size_t)n, errmsg))
		goto err_free;
	c->ep_pools = calloc((size_t)n, sizeof(*c->ep_pools));
	if (!c->ep_pools) {
		ais_errf(errmsg, -ENOMEM, "out of memory");
		goto err_free;
	}
	for (i = 0; i < (size_t)n; i++) {
		c->ep_pools[i] = ais__client_pool(c, eps[i].host, eps[i].port);
		if (!c->ep_pools[i]) {
			ais_errf(errmsg, -ENOMEM, "out of memory");
			goto err_free;
		}
		c->n_ep++;
	}
	free(eps);
	eps = NULL;

	/* The first address that answers gives the map. */
	rc = -EHOSTUNREACH;
	for (i = 0; i < c->n_ep; i++) {
		struct ais_pool *p = c->ep_pools[i];

		em[0] = '\0';
		rc = fetch_map(c, p, true, em);
		if (rc == 0) {
			atomic_store(&c->home, p);
			if (ais__client_token_setup(c, errmsg)) {
				ais_client_free(c);
				return NULL;
			}
			return c;
		}
		if (wl < sizeof(why))
			wl +=
			    (size_t)snprintf(why + wl, sizeof(why) - wl,
					     "%s%s: %s", i ? "; " : "", p->addr,
					     reach_reason(rc, em, p->addr));
		if (nl < sizeof(names))
			nl += (size_t)snprintf(names + nl, sizeof(names) - nl,
					       "%s%s", i ? ", " : "", p->addr);
	}
	if (c->n_ep == 1)
		ais_errf(errmsg, rc, "cannot reach %s: %s%s",
			 c->ep_pools[0]->addr,
			 reach_reason(rc, em, c->ep_pools[0]->addr),
			 !c->tls && rc == -ECONNRESET
			     ? " (a node that speaks TLS closes plain-text "
			       "clients: give its CA, AIS_CA_FILE)"
			     : "");
	else
		ais_errf(errmsg, rc, "cannot reach any of %s%s: %s", names,
			 !c->tls && rc == -ECONNRESET
			     ? " (nodes that speak TLS close plain-text "
			       "clients: give their CA, AIS_CA_FILE)"
			     : "",
			 why);

err_free:
	free(eps);
	ais_client_free(c);
	return NULL;
}

void ais_client_free(struct ais_client *c)
{
	size_t i;

	if (!c)
		return;
	ais__mapref_put(c->cur);
	for (i = 0; i < c->n_pools; i++)
		ais_pool_free(c->pools[i]);
	free(c->pools);
	free(c->ep_pools);
	ais_tls_free(c->own_tls);
	pthread_mutex_destroy(&c->map_lock);
	pthread_mutex_destroy(&c->pools_lock);
	ais_token_src_destroy(&c->tok);
	pthread_mutex_destroy(&c->tokf_mu);
	free(c);
}

int ais_client_refresh_map(struct ais_client *c, char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "";
	struct ais__mapref *r = ais__mapref_get(c);
	struct ais_pool **pools;
	bool answered = false;
	size_t n, i;
	int rc = -EHOSTUNREACH;

	pools = calloc(r->map->n + c->n_ep + 1, sizeof(*pools));
	if (!pools) {
		ais__mapref_put(r);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	n = ais__any_order(c, r, pools);
	ais__mapref_put(r);
	/* Done when a node answered and no node has told of a newer map
	 * than the one we now hold (the node asked may lag behind). */
	for (i = 0; i < n; i++) {
		int rc2;

		em[0] = '\0';
		rc2 = fetch_map(c, pools[i], false, em);
		if (rc2 == 0) {
			if (!answered)
				atomic_store(&c->home, pools[i]);
			answered = true;
			if (atomic_load(&c->map_version) >=
			    atomic_load(&c->seen_version))
				break;
		} else if (!answered) {
			rc = ais_errf(errmsg, rc2, "%s", em);
		}
	}
	free(pools);
	if (answered) {
		if (errmsg)
			errmsg[0] = '\0';
		return 0;
	}
	if (n == 0)
		return ais_errf(errmsg, rc, "no node to ask for the map");
	return rc;
}

uint64_t ais_client_map_version(struct ais_client *c)
{
	return atomic_load(&c->map_version);
}

size_t ais_client_node_count(struct ais_client *c)
{
	struct ais__mapref *r = ais__mapref_get(c);
	size_t n = r->map->n;

	ais__mapref_put(r);
	return n;
}

/* ---- fan-out helper --------------------------------------------------- */

/* The answers of every node of one map snapshot to one request. */
struct fanout {
	struct ais__mapref *r;
	size_t n;
	Ais__Response **resps;
	int *rcs;
	char (*msgs)[AIS_ERRMSG_LEN];
};

static void fanout_free(struct fanout *f);

static int fanout_once(struct ais_client *c, Ais__Request *req,
		       struct fanout *f, bool retried, char *errmsg)
{
	size_t n;

	memset(f, 0, sizeof(*f));
	f->r = ais__mapref_get(c);
	n = f->n = f->r->map->n;
	f->resps = calloc(n ? n : 1, sizeof(*f->resps));
	f->rcs = calloc(n ? n : 1, sizeof(*f->rcs));
	f->msgs = calloc(n ? n : 1, sizeof(*f->msgs));
	if (!f->resps || !f->rcs || !f->msgs) {
		free(f->resps);
		free(f->rcs);
		free(f->msgs);
		ais__mapref_put(f->r);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	if (n == 0) {
		free(f->resps);
		free(f->rcs);
		free(f->msgs);
		ais__mapref_put(f->r);
		return ais_errf(errmsg, -EHOSTUNREACH,
				"the cluster map has no nodes");
	}
	if (ais__call_all(c, f->r, req, f->resps, f->rcs, f->msgs) &&
	    !retried) {
		/* A node knows a newer map: it may list a node we would
		 * miss. Fetch it and ask everyone again, once. */
		fanout_free(f);
		(void)ais_client_refresh_map(c, NULL);
		return fanout_once(c, req, f, true, errmsg);
	}
	return 0;
}

static int fanout_run(struct ais_client *c, Ais__Request *req, struct fanout *f,
		      char *errmsg)
{
	return fanout_once(c, req, f, false, errmsg);
}

static void fanout_free(struct fanout *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->resps[i])
			ais__response__free_unpacked(f->resps[i], NULL);
	free(f->resps);
	free(f->rcs);
	free(f->msgs);
	ais__mapref_put(f->r);
}

/* ---- cluster ---------------------------------------------------------- */

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

static int fill_rebalance(struct ais_rebalance_info *o,
			  const Ais__RebalanceStatus *rb)
{
	o->last_error = xstrdup(rb ? rb->last_error : "");
	if (!o->last_error)
		return -ENOMEM;
	if (!rb)
		return 0;
	o->present = true;
	o->id = rb->id;
	o->running = rb->running;
	o->objects_moved = rb->objects_moved;
	o->bytes_moved = rb->bytes_moved;
	o->objects_left = rb->objects_left;
	o->bytes_left = rb->bytes_left;
	o->errors = rb->errors;
	o->objects_fetched = rb->objects_fetched;
	return 0;
}

static int fill_scrub(struct ais_scrub_info *o, const Ais__ScrubStatus *sc)
{
	size_t i;

	o->bucket = xstrdup(sc ? sc->bucket : "");
	o->prefix = xstrdup(sc ? sc->prefix : "");
	o->last_error = xstrdup(sc ? sc->last_error : "");
	if (!o->bucket || !o->prefix || !o->last_error)
		return -ENOMEM;
	if (!sc)
		return 0;
	o->present = true;
	o->id = sc->id;
	o->running = sc->running;
	o->objects_total = sc->objects_total;
	o->objects_checked = sc->objects_checked;
	o->bytes_checked = sc->bytes_checked;
	o->corrupt = sc->corrupt;
	o->repaired = sc->repaired;
	o->copies_made = sc->copies_made;
	o->strays_removed = sc->strays_removed;
	o->errors = sc->errors;
	o->started_ns = sc->started_ns;
	o->finished_ns = sc->finished_ns;
	o->unrepaired = calloc(sc->n_unrepaired + 1, sizeof(char *));
	if (!o->unrepaired)
		return -ENOMEM;
	for (i = 0; i < sc->n_unrepaired; i++) {
		o->unrepaired[i] = xstrdup(sc->unrepaired[i]);
		if (!o->unrepaired[i])
			return -ENOMEM;
		o->n_unrepaired++;
	}
	return 0;
}

static int fill_node_info(struct ais_node_info *ni, const struct ais_map *m,
			  const struct ais_node *n, const Ais__Response *a,
			  int rc, const char *msg)
{
	const Ais__NodeInfo *in = a ? a->info : NULL;
	size_t i;

	ni->id = xstrdup(n->id);
	ni->host = xstrdup(n->host);
	ni->port = n->port;
	ni->state = n->state;
	ni->down = n->down;
	ni->role = n->role;
	ni->is_leader = m->leader[0] && strcmp(m->leader, n->id) == 0;
	ni->raft_addr = xstrdup(n->raft_addr);
	ni->status = rc;
	if (rc == 0 && !in) {
		ni->status = -EPROTO;
		msg = "answer without node info";
	}
	ni->errmsg = xstrdup(ni->status ? msg : "");
	ni->version = xstrdup(in ? in->version : "");
	ni->raft_dir = xstrdup(in ? in->raft_dir : "");
	if (!ni->id || !ni->host || !ni->raft_addr || !ni->errmsg ||
	    !ni->version || !ni->raft_dir)
		return -ENOMEM;
	ni->copies_pending = in ? in->copies_pending : 0;
	if (fill_scrub(&ni->scrub, in ? in->scrub : NULL) < 0)
		return -ENOMEM;
	if (fill_rebalance(&ni->rebalance, in ? in->rebalance : NULL) < 0)
		return -ENOMEM;
	if (ni->status != 0)
		return 0;
	if (in->n_etl_jobs) {
		ni->etl_jobs = calloc(in->n_etl_jobs, sizeof(*ni->etl_jobs));
		if (!ni->etl_jobs)
			return -ENOMEM;
	}
	for (i = 0; i < in->n_etl_jobs; i++) {
		const Ais__EtlJobStatus *js = in->etl_jobs[i];
		struct ais_etl_job_status *o = &ni->etl_jobs[i];

		ni->n_etl_jobs++;
		o->id = xstrdup(js->id);
		o->last_error = xstrdup(js->last_error);
		if (!o->id || !o->last_error)
			return -ENOMEM;
		o->running = js->running;
		o->done = js->done;
		o->stopped = js->stopped;
		o->total = js->total;
		o->transformed = js->transformed;
		o->skipped = js->skipped;
		o->failed = js->failed;
		o->bytes_in = js->bytes_in;
		o->bytes_out = js->bytes_out;
	}
	ni->map_version = a->map_version;
	ni->uptime_s = in->uptime_s;
	ni->connections = in->connections;
	ni->requests = in->requests;
	if (in->n_mountpaths == 0)
		return 0;
	ni->mountpaths = calloc(in->n_mountpaths, sizeof(*ni->mountpaths));
	if (!ni->mountpaths)
		return -ENOMEM;
	for (i = 0; i < in->n_mountpaths; i++) {
		const Ais__Mountpath *mp = in->mountpaths[i];
		struct ais_mountpath_info *o = &ni->mountpaths[i];

		ni->n_mountpaths++;
		o->path = xstrdup(mp->path);
		o->fs_type = xstrdup(mp->fs_type);
		o->total_bytes = mp->total_bytes;
		o->free_bytes = mp->free_bytes;
		o->fs_id = mp->fs_id;
		if (!o->path || !o->fs_type)
			return -ENOMEM;
	}
	return 0;
}

int ais_client_cluster_info(struct ais_client *c, struct ais_cluster_info **out,
			    char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct ais_cluster_info *ci;
	struct fanout f;
	size_t i;
	int rc;

	*out = NULL;
	/* Shown to a person who asks about the cluster now: the newest map
	 * (states, down marks, leader), unless a node gave it within the
	 * second (statfs asks often). Without an answer, the map held. */
	if (ais_now_mono_ns() - atomic_load(&c->map_checked_ns) >=
	    AIS__MAP_FRESH_NS)
		(void)ais_client_refresh_map(c, NULL);
	req.op = AIS__OP__OP_NODE_INFO;
	rc = fanout_run(c, &req, &f, errmsg);
	if (rc < 0)
		return rc;
	/* Refused by every node (no token, no right): that is the answer. */
	for (i = 0; i < f.n && f.rcs[i] == -EACCES; i++)
		;
	if (f.n && i == f.n) {
		ais_errf(errmsg, -EACCES, "%s", f.msgs[0]);
		fanout_free(&f);
		return -EACCES;
	}
	ci = calloc(1, sizeof(*ci));
	if (!ci)
		goto err_nomem;
	ci->map_version = f.r->map->version;
	ci->leader = xstrdup(f.r->map->leader);
	ci->replicated = ais__map_replicated(f.r->map);
	ci->nodes = calloc(f.n, sizeof(*ci->nodes));
	if (!ci->leader || !ci->nodes)
		goto err_nomem;
	for (i = 0; i < f.n; i++) {
		ci->n_nodes++;
		if (fill_node_info(&ci->nodes[i], f.r->map, &f.r->map->nodes[i],
				   f.resps[i], f.rcs[i], f.msgs[i]) < 0)
			goto err_nomem;
	}
	fanout_free(&f);
	*out = ci;
	return 0;

err_nomem:
	ais_cluster_info_free(ci);
	fanout_free(&f);
	return ais_errf(errmsg, -ENOMEM, "out of memory");
}

int ais_client_scrub(struct ais_client *c, const char *bucket,
		     const char *prefix, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	char failed[AIS_ERRMSG_LEN] = "";
	struct fanout f;
	size_t i, len = 0;
	int rc, first = 0;

	if (bucket && bucket[0]) {
		rc = ais_name_check_bucket(bucket, errmsg);
		if (rc < 0)
			return rc;
	}
	req.op = AIS__OP__OP_SCRUB;
	req.bucket = (char *)(bucket ? bucket : "");
	req.prefix = (char *)(prefix ? prefix : "");
	(void)ais_client_refresh_map(c, NULL);
	rc = fanout_run(c, &req, &f, errmsg);
	if (rc < 0)
		return rc;
	for (i = 0; i < f.n; i++) {
		int r = f.rcs[i];

		if (r == 0 && f.resps[i])
			r = ais__resp_status(f.resps[i], f.msgs[i]);
		if (r == 0)
			continue;
		if (!first)
			first = r;
		len += (size_t)snprintf(
		    failed + len,
		    len < sizeof(failed) ? sizeof(failed) - len : 0,
		    "%snode %s: %s", len ? "; " : "", f.r->map->nodes[i].id,
		    f.msgs[i]);
		if (len >= sizeof(failed))
			len = sizeof(failed) - 1;
	}
	fanout_free(&f);
	if (first)
		return ais_errf(errmsg, first, "%s", failed);
	return 0;
}

int ais_client_bucket_summary(struct ais_client *c, const char *bucket,
			      struct ais_bucket_summary *out, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct ais_list_page pg;
	char *after = NULL;
	struct fanout f;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ais_client_bucket_props(c, bucket, false, 0, &out->props, errmsg);
	if (rc < 0)
		return rc;
	/* Objects and bytes: a listing (paged: bounded memory). */
	for (;;) {
		rc = ais_client_list(c, bucket, "", "", after, 1000, &pg,
				     errmsg);
		free(after);
		after = NULL;
		if (rc < 0)
			return rc;
		for (i = 0; i < pg.n; i++) {
			out->objects++;
			out->bytes += pg.entries[i].meta.size;
		}
		if (pg.next_token)
			after = strdup(pg.next_token);
		ais_list_page_free(&pg);
		if (!after)
			break;
	}
	/* Degraded: what the nodes' pending logs hold for the bucket. */
	req.op = AIS__OP__OP_NODE_INFO;
	req.bucket = (char *)bucket;
	rc = fanout_run(c, &req, &f, errmsg);
	if (rc < 0)
		return rc;
	for (i = 0; i < f.n; i++) {
		if (f.rcs[i] == 0 && f.resps[i] && f.resps[i]->info)
			out->degraded += f.resps[i]->info->copies_pending;
		else
			out->nodes_unknown++;
	}
	fanout_free(&f);
	return 0;
}

void ais_cluster_info_free(struct ais_cluster_info *ci)
{
	size_t i, j;

	if (!ci)
		return;
	for (i = 0; i < ci->n_nodes; i++) {
		struct ais_node_info *ni = &ci->nodes[i];

		free(ni->id);
		free(ni->host);
		free(ni->raft_addr);
		free(ni->errmsg);
		free(ni->version);
		free(ni->raft_dir);
		free(ni->rebalance.last_error);
		free(ni->scrub.bucket);
		free(ni->scrub.prefix);
		free(ni->scrub.last_error);
		for (j = 0; j < ni->scrub.n_unrepaired; j++)
			free(ni->scrub.unrepaired[j]);
		free(ni->scrub.unrepaired);
		for (j = 0; j < ni->n_mountpaths; j++) {
			free(ni->mountpaths[j].path);
			free(ni->mountpaths[j].fs_type);
		}
		free(ni->mountpaths);
		for (j = 0; j < ni->n_etl_jobs; j++) {
			free(ni->etl_jobs[j].id);
			free(ni->etl_jobs[j].last_error);
		}
		free(ni->etl_jobs);
	}
	free(ci->leader);
	free(ci->nodes);
	free(ci);
}

/* ---- cluster changes -------------------------------------------------- */

/* The answer to a change may take a while: the leader commits it, and the
 * nodes start a rebalance. */
#define CLUSTER_CHANGE_IO_MS 30000

const char *ais_change_kind_name(int kind)
{
	switch (kind) {
	case AIS_CHANGE_MAINTENANCE_START:
		return "maintenance-start";
	case AIS_CHANGE_MAINTENANCE_STOP:
		return "maintenance-stop";
	case AIS_CHANGE_DECOMMISSION:
		return "decommission";
	case AIS_CHANGE_REMOVE:
		return "remove";
	default:
		return "?";
	}
}

int ais_client_cluster_change(struct ais_client *c, int kind, const char *node,
			      bool force, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__ClusterChange ch = AIS__CLUSTER_CHANGE__INIT;
	Ais__Response *a;
	int rc, io_ms = c->opts.io_timeout_ms;

	if (kind < AIS_CHANGE_MAINTENANCE_START || kind > AIS_CHANGE_REMOVE)
		return ais_errf(errmsg, -EINVAL, "unknown cluster change %d",
				kind);
	if (!node || !node[0])
		return ais_errf(errmsg, -EINVAL,
				"no node named (a node id or HOST:PORT)");
	if (strlen(node) >= AIS_ADDR_MAX)
		return ais_errf(errmsg, -EINVAL, "node '%.40s...': too long",
				node);
	if (kind == AIS_CHANGE_REMOVE && !force)
		return ais_errf(errmsg, -EINVAL,
				"removing node %s needs force: its objects "
				"that exist nowhere else are lost",
				node);
	ch.kind = (Ais__ClusterChange__Kind)kind;
	ch.node = (char *)node;
	ch.force = force;
	req.op = AIS__OP__OP_CLUSTER_CHANGE;
	req.change = &ch;
	if (io_ms < CLUSTER_CHANGE_IO_MS)
		io_ms = CLUSTER_CHANGE_IO_MS;
	rc = ais__call_any(c, &req, false, io_ms, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	if (rc == 0 && a->map)
		(void)ais__client_adopt_pb(c, a->map, NULL);
	ais__response__free_unpacked(a, NULL);
	/* The map with the change: the one the answer named, if not in it. */
	if (rc == 0 &&
	    atomic_load(&c->map_version) < atomic_load(&c->seen_version))
		(void)ais_client_refresh_map(c, NULL);
	if (rc == 0 && errmsg)
		errmsg[0] = '\0';
	return rc;
}

void ais_cluster_info_capacity(const struct ais_cluster_info *ci,
			       uint64_t *total, uint64_t *free)
{
	size_t i, j, k, l;

	*total = *free = 0;
	for (i = 0; i < ci->n_nodes; i++) {
		const struct ais_node_info *n = &ci->nodes[i];

		if (n->status != 0)
			continue;
		for (j = 0; j < n->n_mountpaths; j++) {
			const struct ais_mountpath_info *mp = &n->mountpaths[j];
			bool seen = false;

			/* Quadratic, over a cluster's disks: small. */
			for (k = 0; k <= i && !seen && mp->fs_id; k++) {
				const struct ais_node_info *o = &ci->nodes[k];

				if (o->status != 0 || strcmp(o->host, n->host))
					continue;
				for (l = 0; l < (k == i ? j : o->n_mountpaths);
				     l++)
					if (o->mountpaths[l].fs_id == mp->fs_id)
						seen = true;
			}
			if (seen)
				continue;
			*total += mp->total_bytes;
			*free += mp->free_bytes;
		}
	}
}

int ais_client_capacity(struct ais_client *c, uint64_t *total, uint64_t *free,
			char *errmsg)
{
	struct ais_cluster_info *ci;
	size_t i;
	int rc;

	*total = *free = 0;
	rc = ais_client_cluster_info(c, &ci, errmsg);
	if (rc < 0)
		return rc;
	/* Nodes that are down only shrink the numbers; none at all is an
	 * error (statfs must not report an empty cluster). */
	rc = -EHOSTUNREACH;
	for (i = 0; i < ci->n_nodes && rc < 0; i++) {
		if (ci->nodes[i].status == 0)
			rc = 0;
		else
			rc = ais_errf(errmsg, ci->nodes[i].status,
				      "node %s:%u: %s", ci->nodes[i].host,
				      ci->nodes[i].port,
				      strerror(-ci->nodes[i].status));
	}
	if (rc == 0 && errmsg)
		errmsg[0] = '\0';
	ais_cluster_info_capacity(ci, total, free);
	ais_cluster_info_free(ci);
	return rc;
}

/* ---- buckets ---------------------------------------------------------- */

/* Older clusters (no Raft roles in the map): runs a bucket op on every
 * node and folds the answers: any error other than benign (EEXIST for
 * create, ENOENT for destroy) wins (the first in map order); benign is
 * returned only if every node said it. */
static int bucket_broadcast(struct ais_client *c, Ais__Request *req, int benign,
			    char *errmsg)
{
	struct fanout f;
	size_t i, n_benign = 0;
	int rc;

	rc = fanout_run(c, req, &f, errmsg);
	if (rc < 0)
		return rc;
	for (i = 0; i < f.n && rc == 0; i++) {
		if (f.rcs[i] == benign)
			n_benign++;
		else if (f.rcs[i] < 0)
			rc = ais_errf(errmsg, f.rcs[i], "%s", f.msgs[i]);
	}
	if (rc == 0 && n_benign == f.n)
		rc = ais_errf(errmsg, benign, "%s", f.msgs[0]);
	fanout_free(&f);
	return rc;
}

/* Whether the cluster's bucket table is replicated (ais__map_replicated of
 * the current map). */
static bool buckets_replicated(struct ais_client *c)
{
	struct ais__mapref *r = ais__mapref_get(c);
	bool yes = ais__map_replicated(r->map);

	ais__mapref_put(r);
	return yes;
}

static int bucket_change(struct ais_client *c, int op, const char *bucket,
			 uint32_t copies, int benign, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	rc = ais_name_check_bucket(bucket, errmsg);
	if (rc < 0)
		return rc;
	req.op = op;
	req.bucket = (char *)bucket;
	req.copies = copies;
	/* A rare admin op: start from the newest map, so that an older
	 * cluster's broadcast misses no node (a second round after a stale
	 * map could not tell "created now" from "existed"). */
	(void)ais_client_refresh_map(c, NULL);
	if (!buckets_replicated(c))
		return bucket_broadcast(c, &req, benign, errmsg);
	/* One node, which forwards it to the leader and answers once it is
	 * committed. Not sent twice: a create lost with its node must not
	 * come back from another as -EEXIST. */
	rc = ais__call_any(c, &req, false, 0, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	ais__response__free_unpacked(a, NULL);
	/* The map carries the bucket's copies: learn them now. */
	if (rc == 0 && copies > 1)
		(void)ais_client_refresh_map(c, NULL);
	return rc;
}

int ais_client_bucket_create(struct ais_client *c, const char *bucket,
			     char *errmsg)
{
	return bucket_change(c, AIS__OP__OP_BUCKET_CREATE, bucket, 0, -EEXIST,
			     errmsg);
}

int ais_client_bucket_create_copies(struct ais_client *c, const char *bucket,
				    uint32_t copies, char *errmsg)
{
	if (copies > 1 && !buckets_replicated(c))
		return ais_errf(errmsg, -EOPNOTSUPP,
				"copies need a cluster with replicated "
				"metadata");
	return bucket_change(c, AIS__OP__OP_BUCKET_CREATE, bucket, copies,
			     -EEXIST, errmsg);
}

int ais_client_bucket_destroy(struct ais_client *c, const char *bucket,
			      char *errmsg)
{
	return bucket_change(c, AIS__OP__OP_BUCKET_DESTROY, bucket, 0, -ENOENT,
			     errmsg);
}

int ais_client_bucket_props(struct ais_client *c, const char *bucket,
			    bool set_copies, uint32_t copies,
			    struct ais_bucket_props *out, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	rc = ais_name_check_bucket(bucket, errmsg);
	if (rc < 0)
		return rc;
	req.op = AIS__OP__OP_BUCKET_PROPS;
	req.bucket = (char *)bucket;
	req.set_copies = set_copies;
	req.copies = copies;
	req.map_version = ais__client_version_hint(c);
	rc = ais__call_any(c, &req, !set_copies, 0, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	if (rc == 0 && !a->props)
		rc = ais_errf(errmsg, -EPROTO,
			      "the node sent no bucket properties");
	if (rc == 0 && out) {
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "%s", bucket);
		out->copies = a->props->copies ? a->props->copies : 1;
		out->created_ns = a->props->created_ns;
	}
	ais__response__free_unpacked(a, NULL);
	if (rc == 0 && set_copies)
		(void)ais_client_refresh_map(c, NULL);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the names of one answer to *v (k entries so far, room for cap). */
static int take_names(const Ais__Response *a, char **v, size_t *k)
{
	size_t j;

	for (j = 0; j < a->n_buckets; j++) {
		v[*k] = strdup(a->buckets[j] ? a->buckets[j] : "");
		if (!v[*k])
			return -ENOMEM;
		(*k)++;
	}
	return 0;
}

/* Sorts v[0..k) and drops repeats; NULL-terminates it; returns the count. */
static size_t sort_unique(char **v, size_t k)
{
	size_t i, j;

	qsort(v, k, sizeof(*v), cmp_str);
	for (i = 0, j = 0; i < k; i++) {
		if (j > 0 && strcmp(v[j - 1], v[i]) == 0) {
			free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	v[j] = NULL;
	return j;
}

/* The bucket table from one node (any). */
static int bucket_list_one(struct ais_client *c, char ***names, size_t *n,
			   char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	size_t k = 0;
	char **v;
	int rc;

	req.op = AIS__OP__OP_BUCKET_LIST;
	rc = ais__call_any(c, &req, true, 0, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	if (rc < 0)
		goto out;
	v = calloc(a->n_buckets + 1, sizeof(*v));
	if (!v || take_names(a, v, &k) < 0) {
		ais_strv_free(v);
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	*n = sort_unique(v, k);
	*names = v;
out:
	ais__response__free_unpacked(a, NULL);
	return rc;
}

int ais_client_bucket_list(struct ais_client *c, char ***names, size_t *n,
			   char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct fanout f;
	size_t i, total = 0, k = 0;
	char **v;
	int rc;

	*names = NULL;
	*n = 0;
	if (buckets_replicated(c))
		return bucket_list_one(c, names, n, errmsg);
	req.op = AIS__OP__OP_BUCKET_LIST;
	rc = fanout_run(c, &req, &f, errmsg);
	if (rc < 0)
		return rc;
	/* An older cluster: a node that is down could hold a bucket no
	 * other node knows. */
	for (i = 0; i < f.n; i++) {
		if (f.rcs[i] < 0) {
			rc = ais_errf(errmsg, f.rcs[i], "%s", f.msgs[i]);
			fanout_free(&f);
			return rc;
		}
		total += f.resps[i]->n_buckets;
	}
	v = calloc(total + 1, sizeof(*v));
	if (!v)
		goto err_nomem;
	for (i = 0; i < f.n; i++)
		if (take_names(f.resps[i], v, &k) < 0)
			goto err_nomem;
	fanout_free(&f);
	*n = sort_unique(v, k);
	*names = v;
	return 0;

err_nomem:
	ais_strv_free(v);
	fanout_free(&f);
	return ais_errf(errmsg, -ENOMEM, "out of memory");
}

int ais_client_bucket_head(struct ais_client *c, const char *bucket,
			   char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	size_t j;
	int rc;

	rc = ais_name_check_bucket(bucket, errmsg);
	if (rc < 0)
		return rc;
	req.op = AIS__OP__OP_BUCKET_LIST;
	/* The first node that answers decides (the whole table, or on an
	 * older cluster its own buckets, which every node has alike). */
	rc = ais__call_any(c, &req, true, 0, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	if (rc == 0) {
		rc = ais_errf(errmsg, -ENOENT, "bucket %s: not found", bucket);
		for (j = 0; j < a->n_buckets; j++)
			if (a->buckets[j] && strcmp(a->buckets[j], bucket) == 0)
				rc = 0;
	}
	ais__response__free_unpacked(a, NULL);
	if (rc == 0 && errmsg)
		errmsg[0] = '\0';
	return rc;
}

/* ---- transforms: failures on every node -------------------------------- */

static int cmp_error(const void *a, const void *b)
{
	const struct ais_etl_error *x = a, *y = b;

	return x->time_ns < y->time_ns ? 1 : x->time_ns > y->time_ns ? -1 : 0;
}

void ais_etl_errors_free(struct ais_etl_error *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].node);
		free(v[i].bucket);
		free(v[i].name);
		free(v[i].message);
		free(v[i].job_id);
	}
	free(v);
}

int ais_client_etl_errors(struct ais_client *c, const char *etl,
			  struct ais_etl_error **out, size_t *n, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct ais_etl_error *v = NULL;
	struct fanout f;
	size_t i, k, total = 0;
	int rc;

	*out = NULL;
	*n = 0;
	req.op = AIS__OP__OP_ETL_ERRORS;
	req.etl_name = (char *)etl;
	rc = fanout_run(c, &req, &f, errmsg);
	if (rc < 0)
		return rc;
	for (i = 0; i < f.n; i++)
		if (!f.rcs[i] && f.resps[i] && !f.resps[i]->status)
			total += f.resps[i]->n_etl_errors;
	v = calloc(total ? total : 1, sizeof(*v));
	if (!v) {
		fanout_free(&f);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	for (i = 0; i < f.n; i++) {
		const Ais__Response *a = f.resps[i];

		if (f.rcs[i] || !a || a->status)
			continue;
		for (k = 0; k < a->n_etl_errors; k++) {
			const Ais__EtlError *e = a->etl_errors[k];
			struct ais_etl_error *o = &v[(*n)++];

			o->time_ns = e->time_ns;
			o->node = xstrdup(f.r->map->nodes[i].id);
			o->bucket = xstrdup(e->bucket);
			o->name = xstrdup(e->name);
			o->message = xstrdup(e->message);
			o->job_id = xstrdup(e->job_id);
			if (!o->node || !o->bucket || !o->name || !o->message ||
			    !o->job_id) {
				fanout_free(&f);
				ais_etl_errors_free(v, *n);
				*n = 0;
				return ais_errf(errmsg, -ENOMEM,
						"out of memory");
			}
		}
	}
	fanout_free(&f);
	qsort(v, *n, sizeof(*v), cmp_error);
	*out = v;
	return 0;
}
