/* The life of one client request, map snapshots and pools. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_i.h"
#include "conn.h"
#include "frame.h"
#include "names.h"
#include "util.h"

/* ---- map snapshots and pools ------------------------------------------ */

struct ais__mapref *ais__mapref_get(struct ais_client *c)
{
	struct ais__mapref *r;

	pthread_mutex_lock(&c->map_lock);
	r = c->cur;
	atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&c->map_lock);
	return r;
}

void ais__mapref_put(struct ais__mapref *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	ais_map_free(r->map);
	free(r->pools);
	free(r);
}

struct ais_pool *ais__client_pool(struct ais_client *c, const char *host,
				  uint16_t port)
{
	struct ais_pool *p = NULL, **v;
	size_t i;

	pthread_mutex_lock(&c->pools_lock);
	for (i = 0; i < c->n_pools; i++) {
		if (c->pools[i]->port == port &&
		    strcmp(c->pools[i]->host, host) == 0) {
			p = c->pools[i];
			goto out;
		}
	}
	v = realloc(c->pools, (c->n_pools + 1) * sizeof(*v));
	if (!v)
		goto out;
	c->pools = v;
	p = ais_pool_new(host, port, c->opts.max_idle_per_node, c->tls);
	if (p)
		c->pools[c->n_pools++] = p;
out:
	pthread_mutex_unlock(&c->pools_lock);
	return p;
}

int ais__client_adopt(struct ais_client *c, struct ais_map *m, bool force)
{
	struct ais__mapref *r, *old;
	bool take;
	size_t i;

	r = calloc(1, sizeof(*r));
	if (!r)
		goto err_free_map;
	r->pools = calloc(m->n ? m->n : 1, sizeof(*r->pools));
	if (!r->pools)
		goto err_free_ref;
	for (i = 0; i < m->n; i++) {
		r->pools[i] =
		    ais__client_pool(c, m->nodes[i].host, m->nodes[i].port);
		if (!r->pools[i])
			goto err_free_pools;
	}
	r->map = m;
	atomic_init(&r->refs, 1);

	pthread_mutex_lock(&c->map_lock);
	old = c->cur;
	take = !old || m->version > old->map->version ||
	       (force && (m->version != old->map->version ||
			  !ais_map_same_nodes(m, old->map)));
	if (take) {
		c->cur = r;
		atomic_store(&c->map_version, m->version);
		atomic_store(&c->map_checked_ns, ais_now_mono_ns());
	}
	pthread_mutex_unlock(&c->map_lock);
	ais__mapref_put(take ? old : r);
	return take ? 1 : 0;

err_free_pools:
	free(r->pools);
err_free_ref:
	free(r);
err_free_map:
	ais_map_free(m);
	return -ENOMEM;
}

int ais__client_adopt_pb(struct ais_client *c, const Ais__ClusterMap *pb,
			 char *errmsg)
{
	struct ais_map *m;
	int rc;

	if (!pb)
		return 0;
	rc = ais_map_from_pb(pb, &m, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__client_adopt(c, m, false);
	if (rc < 0)
		return ais_errf(errmsg, rc, "out of memory");
	return rc;
}

uint64_t ais__client_version_hint(struct ais_client *c)
{
	uint64_t m = atomic_load(&c->map_version);
	uint64_t s = atomic_load(&c->seen_version);

	return s > m ? s : m;
}

void ais__client_saw_version(struct ais_client *c, uint64_t v)
{
	uint64_t cur = atomic_load(&c->seen_version);

	while (v > cur &&
	       !atomic_compare_exchange_weak(&c->seen_version, &cur, v))
		;
}

void ais__follow_wrong_node(struct ais_client *c, const Ais__Response *a)
{
	if (a->map)
		(void)ais__client_adopt_pb(c, a->map, NULL);
	/* Another thread may have adopted it already: no fetch then. */
	if (atomic_load(&c->map_version) < a->map_version ||
	    (!a->map && atomic_load(&c->map_version) == a->map_version))
		(void)ais_client_refresh_map(c, NULL);
}

/* ---- one exchange ----------------------------------------------------- */

void ais__retry_init(struct ais__retry *r, int conn_retries)
{
	r->stale_left = 1;
	r->conn_left = conn_retries;
	r->wrong_left = AIS__WRONG_NODE_RETRIES;
	r->fresh = false;
	r->ntried = 0;
	r->catchup_waits = 0;
}

bool ais__retry_conn(struct ais__retry *r, int fail, bool may_repeat)
{
	if (!may_repeat)
		return false;
	/* A dead pooled connection never reached the node: past its own
	 * budget it may still spend the connection-error one. */
	if (fail == AIS_CONN_FAIL_STALE && r->stale_left > 0)
		r->stale_left--;
	else if ((fail == AIS_CONN_FAIL_CONN || fail == AIS_CONN_FAIL_STALE) &&
		 r->conn_left > 0)
		r->conn_left--;
	else
		return false;
	r->fresh = true;
	return true;
}

bool ais__retry_wrong_node(struct ais__retry *r, struct ais_client *c,
			   const Ais__Response *a, bool may_repeat)
{
	ais__follow_wrong_node(c, a);
	if (!may_repeat || r->wrong_left <= 0)
		return false;
	r->wrong_left--;
	r->fresh = false;
	r->ntried = 0; /* a new map: a new copy set */
	return true;
}

bool ais__retry_copy(struct ais__retry *r, struct ais_client *c,
		     const char *bucket, const char *name,
		     struct ais_pool *pool, bool node_failed)
{
	struct ais_pool *next;

	if (node_failed)
		ais__pool_failed(pool);
	if (r->ntried < AIS_COPIES_MAX)
		r->tried[r->ntried++] = pool;
	if (ais__copy_pool(c, bucket, name, r, &next, NULL) != 0) {
		/* Every copy failed: the retry rules start over from the
		 * best one. */
		r->ntried = 0;
		return false;
	}
	r->fresh = true;
	return true;
}

int ais__call_start(struct ais__call *k, struct ais_client *c,
		    struct ais_pool *pool, Ais__Request *req, uint64_t body_len,
		    bool fresh, char *errmsg)
{
	return ais__call_start_io(k, c, pool, req, body_len, fresh, 0, errmsg);
}

int ais__call_start_io(struct ais__call *k, struct ais_client *c,
		       struct ais_pool *pool, Ais__Request *req,
		       uint64_t body_len, bool fresh, int io_ms, char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "";
	uint8_t *buf;
	size_t len;
	int rc;

	/* Not memset: rbuf needs no clearing. */
	k->c = c;
	k->pool = pool;
	k->fd = -1;
	k->io_ms = io_ms > 0 ? io_ms : c->opts.io_timeout_ms;
	k->own = k->io_ms != c->opts.io_timeout_ms;
	k->sent = false;
	k->reused = false;
	k->resp = NULL;
	k->body_left = 0;
	k->fail = AIS_CONN_FAIL_NONE;
	k->rlen = 0;
	k->roff = 0;
	k->id = atomic_fetch_add(&c->next_id, 1);
	req->map_version = ais__client_version_hint(c);
	switch (req->op) {
	case AIS__OP__OP_PUT:
	case AIS__OP__OP_PUT_BATCH:
	case AIS__OP__OP_DELETE:
	case AIS__OP__OP_RENAME:
	case AIS__OP__OP_SET_META:
	case AIS__OP__OP_SHARD_APPEND:
		req->origin = atomic_load(&c->origin);
		break;
	default:
		break;
	}

	rc = ais_pool_get(pool, fresh, c->opts.connect_timeout_ms, k->io_ms,
			  &k->reused, em);
	if (rc < 0) {
		k->fail =
		    rc == -ETIMEDOUT ? AIS_CONN_FAIL_OTHER : AIS_CONN_FAIL_CONN;
		return ais_errf(errmsg, rc, "node %s: %s", pool->addr, em);
	}
	k->fd = rc;
	/* A pooled connection waits as long as this call may (a transform
	 * runs before its answer begins); back to the client's at finish. */
	if (k->own && k->reused)
		ais_conn_set_timeout(k->fd, k->io_ms);
	{
		uint8_t tok[AIS_TOKEN_MAX];

		ais__client_token_refresh(c);
		req->token.len = ais_token_src_get(&c->tok, tok);
		req->token.data = tok;
		rc = ais_frame_pack(k->id, 0, &req->base, body_len, &buf, &len);
		req->token.len = 0;
		req->token.data = NULL;
	}
	if (rc < 0) {
		k->fail = AIS_CONN_FAIL_OTHER;
		ais__call_finish(k, false);
		return ais_errf(errmsg, rc, "cannot encode request: %s",
				strerror(-rc));
	}
	rc = ais_conn_send(k->fd, buf, len, k->io_ms, false, NULL);
	free(buf);
	if (rc < 0) {
		k->fail = ais_conn_classify(rc, k->reused, false);
		/* Some of it may have reached the node. */
		k->sent = true;
		ais__call_finish(k, false);
		return ais_errf(errmsg, rc, "node %s: send: %s", pool->addr,
				strerror(-rc));
	}
	k->sent = true;
	return 0;
}

int ais__call_send_body(struct ais__call *k, const void *buf, size_t len,
			bool *answered, char *errmsg)
{
	int rc = ais_conn_send(k->fd, buf, len, k->io_ms, true, answered);

	if (rc < 0) {
		k->fail = ais_conn_classify(rc, k->reused, false);
		return ais_errf(errmsg, rc, "node %s: send: %s", k->pool->addr,
				strerror(-rc));
	}
	return 0;
}

int ais__call_recv_head(struct ais__call *k, char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "";
	bool got_any = false;
	int rc;

	k->roff = 0;
	rc = ais_conn_recv_response(k->fd, k->id, k->io_ms, &k->resp,
				    &k->body_left, k->rbuf, sizeof(k->rbuf),
				    &k->rlen, &got_any, em);
	if (rc == 0) {
		uint64_t now = ais_now_mono_ns();

		if (k->resp->status == 0)
			atomic_store(&k->pool->ok_ns, now ? now : 1);
		ais__client_saw_version(k->c, k->resp->map_version);
		return 0;
	}
	if (rc == -EPROTO || rc == -ENOMEM) {
		k->fail = AIS_CONN_FAIL_OTHER;
		return ais_errf(errmsg, rc, "node %s: bad answer: %s",
				k->pool->addr, em);
	}
	k->fail = ais_conn_classify(rc, k->reused, got_any);
	if (rc == -ECONNRESET && !got_any)
		return ais_errf(errmsg, rc,
				"node %s: connection closed before the answer",
				k->pool->addr);
	return ais_errf(errmsg, rc, "node %s: receive: %s", k->pool->addr,
			strerror(-rc));
}

int ais__call_recv_after_body(struct ais__call *k, int send_rc, char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "";
	int fail = k->fail, rc;

	if (send_rc == 0) {
		rc = ais__call_recv_head(k, errmsg);
	} else {
		k->fail = AIS_CONN_FAIL_NONE;
		rc = ais__call_recv_head(k, em);
		if (rc < 0) {
			k->fail = fail;
			rc = send_rc;
		}
	}
	if (rc < 0)
		ais__call_finish(k, false);
	return rc;
}

int ais__call_judge(struct ais__call *k, struct ais__retry *r, bool may_repeat,
		    uint64_t sent, uint64_t size, const char *what,
		    char *errmsg)
{
	int st = k->resp->status, rc;

	if (st == 0 && sent == size)
		return 0;
	if (st == 0)
		rc = ais_errf(errmsg, -EPROTO,
			      "node %s: accepted %s after %llu of %llu bytes",
			      k->pool->addr, what, (unsigned long long)sent,
			      (unsigned long long)size);
	else if (st == -EREMOTE &&
		 ais__retry_wrong_node(r, k->c, k->resp, may_repeat))
		rc = 1;
	else
		rc = ais__resp_status(k->resp, errmsg);
	ais__call_finish(k, false);
	return rc;
}

ssize_t ais__call_recv_body(struct ais__call *k, void *buf, size_t len,
			    char *errmsg)
{
	ssize_t n;

	if (len > k->body_left)
		len = (size_t)k->body_left;
	if (len == 0)
		return 0;
	if (k->roff < k->rlen) {
		n = (ssize_t)(k->rlen - k->roff);
		if ((size_t)n > len)
			n = (ssize_t)len;
		memcpy(buf, k->rbuf + k->roff, (size_t)n);
		k->roff += (size_t)n;
		k->body_left -= (uint64_t)n;
		return n;
	}
	n = ais_conn_recv_some(k->fd, buf, len, k->io_ms);
	if (n < 0) {
		k->fail = ais_conn_classify((int)n, false, true);
		return ais_errf(errmsg, (int)n,
				"node %s: receive: %s (%llu bytes of the "
				"answer missing)",
				k->pool->addr, strerror((int)-n),
				(unsigned long long)k->body_left);
	}
	k->body_left -= (uint64_t)n;
	return n;
}

void ais__call_finish(struct ais__call *k, bool clean)
{
	if (k->fd >= 0) {
		if (clean && k->body_left == 0 &&
		    k->fail == AIS_CONN_FAIL_NONE &&
		    (!k->own || ais_conn_set_timeout(
				    k->fd, k->c->opts.io_timeout_ms) == 0))
			ais_pool_put(k->pool, k->fd);
		else
			ais_conn_close(k->fd);
		k->fd = -1;
	}
	if (k->resp) {
		ais__response__free_unpacked(k->resp, NULL);
		k->resp = NULL;
	}
}

/* ---- whole requests with retries -------------------------------------- */

int ais__call_simple(struct ais_client *c, struct ais_pool *pool,
		     Ais__Request *req, bool idempotent, int conn_retries,
		     Ais__Response **resp, char *errmsg)
{
	struct ais__retry r;
	struct ais__call k;
	int rc;

	*resp = NULL;
	ais__retry_init(&r, idempotent ? conn_retries : 0);
	do {
		rc = ais__call_start(&k, c, pool, req, 0, r.fresh, errmsg);
		if (rc == 0) {
			rc = ais__call_recv_head(&k, errmsg);
			if (rc == 0) {
				*resp = k.resp;
				k.resp = NULL;
				/* An unexpected body is not read: the
				 * connection is closed instead. */
				ais__call_finish(&k, true);
				return 0;
			}
			ais__call_finish(&k, false);
		}
	} while (ais__retry_conn(&r, k.fail, true));
	return rc;
}

int ais__resp_status(const Ais__Response *resp, char *errmsg)
{
	int st = resp->status;

	if (st == 0)
		return 0;
	if (st > 0 || st < -4095)
		return ais_errf(errmsg, -EPROTO,
				"node answered with invalid status %d: %s", st,
				resp->message ? resp->message : "");
	if (resp->message && resp->message[0])
		return ais_errf(errmsg, st, "%s", resp->message);
	return ais_errf(errmsg, st, "%s", strerror(-st));
}

int ais__check_obj_names(const char *bucket, const char *name, char *errmsg)
{
	int rc = ais_name_check_bucket(bucket, errmsg);

	if (rc < 0)
		return rc;
	return ais_name_check_object(name, strlen(name), errmsg);
}

int ais__check_member_names(const char *bucket, const char *shard,
			    const char *path, char *errmsg)
{
	int rc = ais__check_obj_names(bucket, shard, errmsg);

	if (rc < 0)
		return rc;
	if (!path || !path[0])
		return ais_errf(errmsg, -EINVAL, "empty member path");
	if (strlen(path) > 4 * AIS_NAME_MAX)
		return ais_errf(errmsg, -ENAMETOOLONG,
				"member path longer than %d bytes",
				4 * AIS_NAME_MAX);
	return 0;
}

bool ais__map_replicated(const struct ais_map *m)
{
	size_t i;

	if (m->leader[0])
		return true;
	for (i = 0; i < m->n; i++)
		if (m->nodes[i].role != AIS_ROLE_NONE)
			return true;
	return false;
}

bool ais__refresh_if_down(struct ais_client *c)
{
	struct ais__mapref *r = ais__mapref_get(c);
	bool any_down = false;
	size_t i;

	for (i = 0; i < r->map->n && !any_down; i++)
		any_down = r->map->nodes[i].down;
	ais__mapref_put(r);
	if (!any_down || ais_now_mono_ns() - atomic_load(&c->map_checked_ns) <
			     AIS__MAP_FRESH_NS)
		return false;
	(void)ais_client_refresh_map(c, NULL);
	return true;
}

/* The owner of bucket/name in snapshot r: 0 with *pool, or -errno. */
static int owner_in(const struct ais__mapref *r, const char *bucket,
		    const char *name, struct ais_pool **pool, char *errmsg)
{
	const struct ais_node *node = ais_map_owner(r->map, bucket, name);

	if (!node)
		return ais_errf(errmsg, -EHOSTUNREACH,
				"no online node in the cluster map (version "
				"%llu)",
				(unsigned long long)r->map->version);
	/* "down" is the leader's view, advisory and up to a watch period
	 * late: a node that answered us a moment ago is tried. */
	if (node->down &&
	    !(atomic_load(&r->pools[node - r->map->nodes]->ok_ns) &&
	      ais_now_mono_ns() -
		      atomic_load(&r->pools[node - r->map->nodes]->ok_ns) <
		  AIS__MAP_FRESH_NS))
		return ais_errf(errmsg, -EIO,
				"node %s (%s:%u) is down (cluster map v%llu): "
				"%s/%s is on it",
				node->id, node->host, node->port,
				(unsigned long long)r->map->version, bucket,
				name);
	*pool = r->pools[node - r->map->nodes];
	return 0;
}

int ais__owner_pool(struct ais_client *c, const char *bucket, const char *name,
		    struct ais_pool **pool, char *errmsg)
{
	struct ais__mapref *r = ais__mapref_get(c);
	int rc = owner_in(r, bucket, name, pool, errmsg);

	ais__mapref_put(r);
	/* The owner may be back, or the object placed elsewhere, in a map
	 * newer than ours: ask for one once, unless ours is fresh. */
	if (rc == -EIO && ais_now_mono_ns() - atomic_load(&c->map_checked_ns) >=
			      AIS__MAP_FRESH_NS) {
		(void)ais_client_refresh_map(c, NULL);
		r = ais__mapref_get(c);
		rc = owner_in(r, bucket, name, pool, errmsg);
		ais__mapref_put(r);
	}
	return rc;
}

bool ais__retry_catching_up(struct ais__retry *r, struct ais_client *c,
			    const char *bucket, const char *name,
			    struct ais_pool *pool)
{
	struct ais_pool *next;

	if (r->ntried < AIS_COPIES_MAX)
		r->tried[r->ntried++] = pool;
	if (ais__copy_pool(c, bucket, name, r, &next, NULL) == 0)
		return true;
	/* No other copy to read: this one soon, once it caught up (not
	 * for a caller that must not block: an event loop). */
	if (r->no_wait || r->catchup_waits >= AIS__CATCHUP_WAITS)
		return false;
	r->catchup_waits++;
	r->ntried = 0;
	usleep(AIS__CATCHUP_WAIT_MS * 1000);
	return true;
}

size_t ais_client_locate(struct ais_client *c, const char *bucket,
			 const char *name, struct ais_node_loc *out, size_t cap)
{
	struct ais__mapref *r = ais__mapref_get(c);
	int idx[AIS_COPIES_MAX];
	size_t n, i;

	n = ais_map_copy_set(r->map, bucket, name, idx,
			     cap < AIS_COPIES_MAX ? cap : AIS_COPIES_MAX);
	for (i = 0; i < n; i++) {
		const struct ais_node *o = &r->map->nodes[idx[i]];

		snprintf(out[i].id, sizeof(out[i].id), "%s", o->id);
		snprintf(out[i].host, sizeof(out[i].host), "%s", o->host);
		out[i].port = o->port;
		out[i].down = o->down;
	}
	ais__mapref_put(r);
	return n;
}

uint32_t ais__bucket_copies(struct ais_client *c, const char *bucket)
{
	struct ais__mapref *r = ais__mapref_get(c);
	uint32_t n = ais_map_copies(r->map, bucket);

	ais__mapref_put(r);
	return n;
}

void ais__pool_failed(struct ais_pool *p)
{
	uint64_t now = ais_now_mono_ns();

	atomic_store(&p->fail_ns, now ? now : 1);
}

static bool pool_suspect(struct ais_pool *p)
{
	uint64_t f = atomic_load(&p->fail_ns);

	return f && ais_now_mono_ns() - f < AIS__SUSPECT_NS;
}

int ais__copy_pool(struct ais_client *c, const char *bucket, const char *name,
		   const struct ais__retry *rt, struct ais_pool **pool,
		   char *errmsg)
{
	struct ais__mapref *r = ais__mapref_get(c);
	int idx[AIS_COPIES_MAX], score[AIS_COPIES_MAX];
	unsigned ntried = rt ? rt->ntried : 0, t;
	size_t n, i, j;

	if (ais_map_copies(r->map, bucket) < 2) {
		int rc =
		    ntried ? -ENOENT : owner_in(r, bucket, name, pool, errmsg);

		ais__mapref_put(r);
		/* The owner marked down: ais__owner_pool refreshes a map
		 * that is not fresh. */
		return rc == -EIO
			   ? ais__owner_pool(c, bucket, name, pool, errmsg)
			   : rc;
	}
	n = ais_map_copy_set(r->map, bucket, name, idx, AIS_COPIES_MAX);
	if (n == 0) {
		int rc = owner_in(r, bucket, name, pool, errmsg);

		ais__mapref_put(r);
		return rc;
	}
	/* Best first: HRW order, but nodes that failed us lately after the
	 * others, and nodes the map marks down last (a stable sort). */
	for (i = 0; i < n; i++)
		score[i] = (r->map->nodes[idx[i]].down ? 2 : 0) +
			   (pool_suspect(r->pools[idx[i]]) ? 1 : 0);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && score[j - 1] > score[j]; j--) {
			int t = score[j];

			score[j] = score[j - 1];
			score[j - 1] = t;
			t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		for (t = 0; t < ntried; t++)
			if (rt->tried[t] == r->pools[idx[i]])
				break;
		if (t == ntried) {
			*pool = r->pools[idx[i]];
			ais__mapref_put(r);
			return 0;
		}
	}
	ais__mapref_put(r);
	return -ENOENT;
}

int ais__call_obj(struct ais_client *c, const char *bucket, const char *name,
		  Ais__Request *req, bool idempotent, Ais__Response **resp,
		  char *errmsg)
{
	struct ais__retry r;
	int rc;

	*resp = NULL;
	ais__retry_init(&r, 0);
	for (;;) {
		struct ais_pool *pool;
		Ais__Response *a;

		rc = ais__copy_pool(c, bucket, name, &r, &pool, errmsg);
		if (rc < 0)
			return rc;
		rc = ais__call_simple(c, pool, req, idempotent, 1, &a, errmsg);
		/* Another copy, if the bucket has one. */
		if (rc < 0 && idempotent &&
		    ais__retry_copy(&r, c, bucket, name, pool, true))
			continue;
		if (rc < 0)
			return rc;
		if (a->status == -EREMOTE &&
		    ais__retry_wrong_node(&r, c, a, true)) {
			ais__response__free_unpacked(a, NULL);
			continue;
		}
		if (a->status == -EAGAIN && a->catching_up &&
		    ais__retry_catching_up(&r, c, bucket, name, pool)) {
			ais__response__free_unpacked(a, NULL);
			continue;
		}
		rc = ais__resp_status(a, errmsg);
		if (rc < 0) {
			ais__response__free_unpacked(a, NULL);
			return rc;
		}
		*resp = a;
		return 0;
	}
}

bool ais__call_each(struct ais_client *c, struct ais__mapref *r,
		    Ais__Request *const *reqs, Ais__Response **resps, int *rcs,
		    char (*msgs)[AIS_ERRMSG_LEN])
{
	size_t n = r->map->n, i;
	bool stale = false;
	struct ais__call *ks = calloc(n ? n : 1, sizeof(*ks));
	int *fails = calloc(n ? n : 1, sizeof(*fails));

	for (i = 0; i < n; i++) {
		const struct ais_node *nd = &r->map->nodes[i];

		resps[i] = NULL;
		rcs[i] = 0;
		msgs[i][0] = '\0';
		if (!reqs[i])
			continue; /* not asked */
		/* Not worth a connect timeout: the leader cannot reach it. */
		if (nd->down)
			rcs[i] = ais_errf(msgs[i], -EHOSTDOWN,
					  "node %s (%s:%u) is down", nd->id,
					  nd->host, nd->port);
	}
	if (!ks || !fails) {
		/* No memory for the parallel path: one node at a time. */
		free(fails);
		fails = NULL;
		goto sequential;
	}

	/* Send everything first so that the nodes work in parallel. */
	for (i = 0; i < n; i++) {
		if (!reqs[i] || rcs[i] < 0) {
			fails[i] = AIS_CONN_FAIL_OTHER; /* not asked */
			continue;
		}
		rcs[i] = ais__call_start(&ks[i], c, r->pools[i], reqs[i], 0,
					 false, msgs[i]);
		if (rcs[i] < 0)
			fails[i] = ks[i].fail;
	}
	for (i = 0; i < n; i++) {
		if (!reqs[i] || rcs[i] < 0)
			continue;
		rcs[i] = ais__call_recv_head(&ks[i], msgs[i]);
		if (rcs[i] == 0) {
			resps[i] = ks[i].resp;
			ks[i].resp = NULL;
			ais__call_finish(&ks[i], true);
		} else {
			fails[i] = ks[i].fail;
			ais__call_finish(&ks[i], false);
		}
	}

sequential:
	for (i = 0; i < n; i++) {
		if (!reqs[i] || resps[i] || r->map->nodes[i].down)
			continue;
		if (fails && fails[i] != AIS_CONN_FAIL_STALE &&
		    fails[i] != AIS_CONN_FAIL_CONN)
			continue;
		msgs[i][0] = '\0';
		rcs[i] = ais__call_simple(
		    c, r->pools[i], reqs[i], true,
		    fails && fails[i] == AIS_CONN_FAIL_CONN ? 0 : 1, &resps[i],
		    msgs[i]);
	}
	for (i = 0; i < n; i++) {
		if (!resps[i])
			continue;
		rcs[i] = ais__resp_status(resps[i], msgs[i]);
		if (resps[i]->map_version > r->map->version)
			stale = true;
	}
	free(ks);
	free(fails);
	return stale;
}

bool ais__call_all(struct ais_client *c, struct ais__mapref *r,
		   Ais__Request *req, Ais__Response **resps, int *rcs,
		   char (*msgs)[AIS_ERRMSG_LEN])
{
	size_t n = r->map->n, i;
	Ais__Request **reqs = calloc(n ? n : 1, sizeof(*reqs));
	bool stale;

	if (!reqs) {
		for (i = 0; i < n; i++) {
			resps[i] = NULL;
			rcs[i] = ais_errf(msgs[i], -ENOMEM, "out of memory");
		}
		return false;
	}
	for (i = 0; i < n; i++)
		reqs[i] = req;
	stale = ais__call_each(c, r, reqs, resps, rcs, msgs);
	free(reqs);
	return stale;
}

size_t ais__any_order(struct ais_client *c, const struct ais__mapref *r,
		      struct ais_pool **pools)
{
	struct ais_pool *home = atomic_load(&c->home);
	size_t n = 0, i, j;
	bool home_down = false;

	/* Whether the map marks the home node down (it may be an endpoint
	 * outside the map: then it is not). */
	for (i = 0; i < r->map->n && home; i++)
		if (r->pools[i] == home && r->map->nodes[i].down)
			home_down = true;
	if (home_down)
		home = NULL;
	if (home)
		pools[n++] = home;
	for (i = 0; i < r->map->n; i++)
		if (!r->map->nodes[i].down && r->pools[i] != home)
			pools[n++] = r->pools[i];
	for (i = 0; i < c->n_ep; i++) {
		bool known = false;

		for (j = 0; j < r->map->n && !known; j++)
			known = r->pools[j] == c->ep_pools[i];
		for (j = 0; j < n && !known; j++)
			known = pools[j] == c->ep_pools[i];
		if (!known)
			pools[n++] = c->ep_pools[i];
	}
	/* The nodes marked down are the last resort: asked only when no
	 * other node answered. */
	for (i = 0; i < r->map->n; i++)
		if (r->map->nodes[i].down)
			pools[n++] = r->pools[i];
	return n;
}

/* One node's attempt for ais__call_any: 0 with *resp, or -errno with
 * *move_on telling whether the next node may be asked. */
static int any_one(struct ais_client *c, struct ais_pool *pool,
		   Ais__Request *req, bool idempotent, int io_ms,
		   Ais__Response **resp, bool *move_on, char *errmsg)
{
	struct ais__retry r;
	struct ais__call k;
	int rc;

	ais__retry_init(&r, idempotent ? 1 : 0);
	do {
		rc = ais__call_start_io(&k, c, pool, req, 0, r.fresh, io_ms,
					errmsg);
		if (rc == 0) {
			rc = ais__call_recv_head(&k, errmsg);
			if (rc == 0) {
				*resp = k.resp;
				k.resp = NULL;
				ais__call_finish(&k, true);
				return 0;
			}
			ais__call_finish(&k, false);
		}
	} while (ais__retry_conn(&r, k.fail, true));
	/* Safe to ask another node: this one never saw the request (no
	 * connection, or a pooled one that was dead), or asking twice does
	 * no harm and it is not a stuck node. */
	*move_on = !k.sent || k.fail == AIS_CONN_FAIL_STALE ||
		   (idempotent && k.fail == AIS_CONN_FAIL_CONN);
	return rc;
}

int ais__call_any(struct ais_client *c, Ais__Request *req, bool idempotent,
		  int io_ms, Ais__Response **resp, char *errmsg)
{
	struct ais__mapref *r = ais__mapref_get(c);
	struct ais_pool **pools;
	char em[AIS_ERRMSG_LEN] = "", tried[AIS_ERRMSG_LEN] = "";
	size_t n, i, tlen = 0;
	int rc = -EHOSTUNREACH;

	*resp = NULL;
	pools = calloc(r->map->n + c->n_ep + 1, sizeof(*pools));
	if (!pools) {
		ais__mapref_put(r);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	n = ais__any_order(c, r, pools);
	ais__mapref_put(r);
	for (i = 0; i < n; i++) {
		bool move_on = false;

		em[0] = '\0';
		rc = any_one(c, pools[i], req, idempotent, io_ms, resp,
			     &move_on, em);
		if (rc == 0) {
			atomic_store(&c->home, pools[i]);
			break;
		}
		if (tlen < sizeof(tried))
			tlen +=
			    (size_t)snprintf(tried + tlen, sizeof(tried) - tlen,
					     "%s%s", tlen ? "; " : "", em);
		if (!move_on)
			break;
	}
	free(pools);
	if (rc == 0) {
		if (errmsg)
			errmsg[0] = '\0';
		return 0;
	}
	if (n == 0)
		return ais_errf(errmsg, rc, "no node to ask");
	return ais_errf(errmsg, rc, "%s", tried);
}

int ais__call_any_ok(struct ais_client *c, Ais__Request *req, bool idempotent,
		     Ais__Response **resp, char *errmsg)
{
	Ais__Response *a;
	int rc;

	req->map_version = ais__client_version_hint(c);
	rc = ais__call_any(c, req, idempotent, 0, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	if (rc || !resp)
		ais__response__free_unpacked(a, NULL);
	else
		*resp = a;
	return rc;
}
