/* libais client: creation, the cluster map, cluster info and buckets.
 * Object operations are in client_obj.c, listing in client_list.c, the
 * request machinery in client_call.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_i.h"
#include "map.h"
#include "names.h"
#include "util.h"

void ais_client_opts_default(struct ais_client_opts *o)
{
	o->connect_timeout_ms = 3000;
	o->io_timeout_ms = 30000;
	o->max_idle_per_node = 32;
}

/* OP_GET_MAP to one pool; adopts the answer (forced: an explicit fetch
 * takes the node's view even if its version is not higher). */
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
	if (rc < 0)
		rc = ais_errf(errmsg, rc, "out of memory");
	else
		rc = 0;
out:
	ais__response__free_unpacked(a, NULL);
	return rc;
}

struct ais_client *ais_client_new(const char *endpoint,
				  const struct ais_client_opts *opts,
				  char *errmsg)
{
	char host[AIS_HOST_MAX], em[AIS_ERRMSG_LEN] = "";
	struct ais_client *c;
	uint16_t port;
	const char *colon;
	int rc;

	if (!endpoint || !*endpoint)
		endpoint = getenv("AIS_ENDPOINT");
	if (!endpoint || !*endpoint)
		endpoint = AIS_DEFAULT_ENDPOINT;
	if (ais_parse_hostport(endpoint, host, sizeof(host), &port) < 0) {
		/* A bare host means the default port. */
		colon = strchr(endpoint, ':');
		if (colon || strlen(endpoint) >= sizeof(host)) {
			ais_errf(errmsg, -EINVAL,
				 "bad endpoint '%s' (expected HOST:PORT)",
				 endpoint);
			return NULL;
		}
		snprintf(host, sizeof(host), "%s", endpoint);
		port = AIS_DEFAULT_PORT;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
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

	c->ep_pool = ais__client_pool(c, host, port);
	if (!c->ep_pool) {
		ais_errf(errmsg, -ENOMEM, "out of memory");
		goto err_free;
	}
	rc = fetch_map(c, c->ep_pool, true, em);
	if (rc < 0) {
		/* For a bad answer say what was wrong with it, without
		 * naming the node twice. */
		const char *reason = strerror(-rc);
		size_t plen = strlen(c->ep_pool->addr);

		if (rc == -EPROTO || rc == -EINVAL) {
			reason = em;
			if (strncmp(em, "node ", 5) == 0 &&
			    strncmp(em + 5, c->ep_pool->addr, plen) == 0 &&
			    strncmp(em + 5 + plen, ": ", 2) == 0)
				reason = em + 5 + plen + 2;
		}
		ais_errf(errmsg, rc, "cannot reach %s: %s", c->ep_pool->addr,
			 reason);
		goto err_free;
	}
	return c;

err_free:
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
	pthread_mutex_destroy(&c->map_lock);
	pthread_mutex_destroy(&c->pools_lock);
	free(c);
}

int ais_client_refresh_map(struct ais_client *c, char *errmsg)
{
	struct ais__mapref *r;
	int rc;
	size_t i;

	/* Done when a node answered and no node has told of a newer map
	 * than the one we now hold (the endpoint may lag behind). */
	rc = fetch_map(c, c->ep_pool, false, errmsg);
	if (rc == 0 &&
	    atomic_load(&c->map_version) >= atomic_load(&c->seen_version))
		return 0;
	r = ais__mapref_get(c);
	for (i = 0; i < r->map->n; i++) {
		int rc2;

		if (r->pools[i] == c->ep_pool)
			continue;
		rc2 = fetch_map(c, r->pools[i], false, errmsg);
		if (rc2 == 0)
			rc = 0;
		if (rc == 0 && atomic_load(&c->map_version) >=
				   atomic_load(&c->seen_version))
			break;
	}
	if (rc == 0 && errmsg)
		errmsg[0] = '\0';
	ais__mapref_put(r);
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

static int fill_node_info(struct ais_node_info *ni, const struct ais_node *n,
			  const Ais__Response *a, int rc)
{
	const Ais__NodeInfo *in = a ? a->info : NULL;
	size_t i;

	ni->id = xstrdup(n->id);
	ni->host = xstrdup(n->host);
	ni->port = n->port;
	ni->state = n->state;
	ni->status = rc;
	if (rc == 0 && !in)
		ni->status = -EPROTO;
	ni->version = xstrdup(in ? in->version : "");
	if (!ni->id || !ni->host || !ni->version)
		return -ENOMEM;
	if (ni->status != 0)
		return 0;
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
	req.op = AIS__OP__OP_NODE_INFO;
	rc = fanout_run(c, &req, &f, errmsg);
	if (rc < 0)
		return rc;
	ci = calloc(1, sizeof(*ci));
	if (!ci)
		goto err_nomem;
	ci->map_version = f.r->map->version;
	ci->nodes = calloc(f.n, sizeof(*ci->nodes));
	if (!ci->nodes)
		goto err_nomem;
	for (i = 0; i < f.n; i++) {
		ci->n_nodes++;
		if (fill_node_info(&ci->nodes[i], &f.r->map->nodes[i],
				   f.resps[i], f.rcs[i]) < 0)
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

void ais_cluster_info_free(struct ais_cluster_info *ci)
{
	size_t i, j;

	if (!ci)
		return;
	for (i = 0; i < ci->n_nodes; i++) {
		struct ais_node_info *ni = &ci->nodes[i];

		free(ni->id);
		free(ni->host);
		free(ni->version);
		for (j = 0; j < ni->n_mountpaths; j++) {
			free(ni->mountpaths[j].path);
			free(ni->mountpaths[j].fs_type);
		}
		free(ni->mountpaths);
	}
	free(ci->nodes);
	free(ci);
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

/* Runs a bucket op on every node and folds the answers: any error other
 * than benign (EEXIST for create, ENOENT for destroy) wins (the first in
 * map order); benign is returned only if every node said it. */
static int bucket_broadcast(struct ais_client *c, int op, const char *bucket,
			    int benign, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct fanout f;
	size_t i, n_benign = 0;
	int rc;

	rc = ais_name_check_bucket(bucket, errmsg);
	if (rc < 0)
		return rc;
	req.op = op;
	req.bucket = (char *)bucket;
	/* A rare admin op: start from the newest map so that no node is
	 * missed (a second round after a stale map could not tell "created
	 * now" from "existed"). */
	(void)ais_client_refresh_map(c, NULL);
	rc = fanout_run(c, &req, &f, errmsg);
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

int ais_client_bucket_create(struct ais_client *c, const char *bucket,
			     char *errmsg)
{
	return bucket_broadcast(c, AIS__OP__OP_BUCKET_CREATE, bucket, -EEXIST,
				errmsg);
}

int ais_client_bucket_destroy(struct ais_client *c, const char *bucket,
			      char *errmsg)
{
	return bucket_broadcast(c, AIS__OP__OP_BUCKET_DESTROY, bucket, -ENOENT,
				errmsg);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ais_client_bucket_list(struct ais_client *c, char ***names, size_t *n,
			   char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct fanout f;
	size_t i, j, total = 0, k = 0;
	char **v;
	int rc;

	*names = NULL;
	*n = 0;
	req.op = AIS__OP__OP_BUCKET_LIST;
	rc = fanout_run(c, &req, &f, errmsg);
	if (rc < 0)
		return rc;
	/* A node that is down could hold a bucket no other node knows. */
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
	for (i = 0; i < f.n; i++) {
		for (j = 0; j < f.resps[i]->n_buckets; j++) {
			v[k] = strdup(f.resps[i]->buckets[j]);
			if (!v[k])
				goto err_nomem;
			k++;
		}
	}
	qsort(v, k, sizeof(*v), cmp_str);
	for (i = 0, j = 0; i < k; i++) {
		if (j > 0 && strcmp(v[j - 1], v[i]) == 0) {
			free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	v[j] = NULL;
	fanout_free(&f);
	*names = v;
	*n = j;
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
	struct ais__mapref *r;
	size_t i, j;
	int rc;

	rc = ais_name_check_bucket(bucket, errmsg);
	if (rc < 0)
		return rc;
	req.op = AIS__OP__OP_BUCKET_LIST;
	r = ais__mapref_get(c);
	rc = ais_errf(errmsg, -EHOSTUNREACH, "the cluster map has no nodes");
	for (i = 0; i < r->map->n; i++) {
		Ais__Response *a;

		rc =
		    ais__call_simple(c, r->pools[i], &req, true, 1, &a, errmsg);
		if (rc < 0)
			continue; /* the first reachable node decides */
		rc = ais__resp_status(a, errmsg);
		if (rc == 0) {
			rc = ais_errf(errmsg, -ENOENT, "bucket %s: not found",
				      bucket);
			for (j = 0; j < a->n_buckets; j++)
				if (strcmp(a->buckets[j], bucket) == 0)
					rc = 0;
		}
		ais__response__free_unpacked(a, NULL);
		break;
	}
	ais__mapref_put(r);
	if (rc == 0 && errmsg)
		errmsg[0] = '\0';
	return rc;
}
