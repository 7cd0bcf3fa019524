/* The nodes of the map, and one OP_WATCH poll (client.h, "leases"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_i.h"

size_t ais_client_nodes(struct ais_client *c, struct ais_node_loc *out,
			size_t cap, uint64_t *version)
{
	struct ais__mapref *r = ais__mapref_get(c);
	size_t i, n = r->map->n;

	for (i = 0; i < n && i < cap; i++) {
		const struct ais_node *o = &r->map->nodes[i];

		snprintf(out[i].id, sizeof(out[i].id), "%s", o->id);
		snprintf(out[i].host, sizeof(out[i].host), "%s", o->host);
		out[i].port = o->port;
		out[i].down = o->down;
	}
	if (version)
		*version = r->map->version;
	ais__mapref_put(r);
	return n;
}

void ais_client_set_origin(struct ais_client *c, uint64_t id)
{
	atomic_store(&c->origin, id);
}

void ais_watch_answer_free(struct ais_watch_answer *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->changed[i]);
	free(a->changed);
	a->changed = NULL;
	a->n = 0;
}

/* One OP_WATCH: a poll, or (release) the mount's goodbye. */
static int watch_call(struct ais_client *c, const struct ais_node_loc *node,
		      uint64_t id, const char *bucket, uint64_t since,
		      uint64_t run, unsigned wait_ms, bool release,
		      struct ais_watch_answer *out, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct ais_pool *pool;
	struct ais__call k;
	size_t i;
	int rc, io_ms = 0;

	memset(out, 0, sizeof(*out));
	pool = ais__client_pool(c, node->host, node->port);
	if (!pool)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	req.op = AIS__OP__OP_WATCH;
	/* A release names no valid bucket: a node older than the flag
	 * refuses it (EINVAL) rather than take it for a poll, which would
	 * renew the lease it ends. */
	req.bucket = (char *)(release ? "?" : bucket ? bucket : "");
	req.watch_id = id;
	req.watch_since = since;
	req.watch_run = run;
	req.watch_wait_ms = wait_ms;
	req.watch_release = release;
	req.map_version = ais__client_version_hint(c);
	/* The node may hold the answer wait_ms: a pooled connection's
	 * receive timeout must allow for it, else one of its own. */
	if ((unsigned)c->opts.io_timeout_ms < wait_ms + 2000)
		io_ms = (int)wait_ms + 2000;
	rc = ais__call_start_io(&k, c, pool, &req, 0, false, io_ms, errmsg);
	if (rc)
		return rc;
	rc = ais__call_recv_head(&k, errmsg);
	if (rc) {
		ais__call_finish(&k, false);
		return rc;
	}
	out->seq = k.resp->watch_seq;
	out->map_version = k.resp->map_version;
	out->lease_ms = k.resp->lease_ms;
	out->run = k.resp->watch_run;
	ais__client_saw_version(c, k.resp->map_version);
	rc = ais__resp_status(k.resp, errmsg);
	if (rc == 0 && k.resp->n_changed) {
		out->changed = calloc(k.resp->n_changed, sizeof(char *));
		if (!out->changed)
			rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		for (i = 0; !rc && i < k.resp->n_changed; i++) {
			out->changed[i] = strdup(k.resp->changed[i]);
			if (!out->changed[i])
				rc = ais_errf(errmsg, -ENOMEM, "out of memory");
			else
				out->n++;
		}
	}
	ais__call_finish(&k, true);
	if (rc && rc != -ESTALE)
		ais_watch_answer_free(out);
	return rc;
}

int ais_client_watch(struct ais_client *c, const struct ais_node_loc *node,
		     uint64_t id, const char *bucket, uint64_t since,
		     uint64_t run, unsigned wait_ms,
		     struct ais_watch_answer *out, char *errmsg)
{
	return watch_call(c, node, id, bucket, since, run, wait_ms, false, out,
			  errmsg);
}

int ais_client_watch_release(struct ais_client *c,
			     const struct ais_node_loc *node, uint64_t id,
			     char *errmsg)
{
	struct ais_watch_answer a;
	int rc = watch_call(c, node, id, "", 0, 0, 0, true, &a, errmsg);

	ais_watch_answer_free(&a);
	return rc;
}
