/* "a" and "a/b" cannot both exist, even when different nodes own them. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "map.h"
#include "names.h"
#include "util.h"

#include "cluster/peer.h"
#include "rpc/rpc_i.h"
#include "store/arrivals.h"
#include "store/store.h"

/* The "is name/ a directory on you?" question of every PUT goes to every
 * other node. Concurrent PUTs share the requests (as concurrent commits
 * share a journal flush): an OP_PROBE_DIRS carries every name that waited
 * for its peer, up to PROBE_INFLIGHT_MAX of them in flight per peer (so
 * that one slow answer does not hold up every PUT behind it); a caller
 * whose name still waits and finds a free slot sends the next one, to
 * every such peer at once (peers_call_all: one round trip, not one per
 * node). An ingest of small objects asked two questions per object of a
 * 3-node cluster before, a few per hundred now. The same questions answer
 * OP_RESOLVE (a mount's lookup of a name that is no object). A node too
 * old for the op is asked the old way, one OP_LIST per name, for a
 * while. */
#define PROBE_BATCH_MAX	   256
#define PROBE_INFLIGHT_MAX 4
#define PROBE_LEGACY_NS	   (60 * 1000000000ull) /* then the op again */

struct probe_item {
	const struct ais_node *node; /* the map's, held by the caller */
	const char *bucket, *name;   /* the caller's */
	char *key;		     /* "bucket/name" (the caller's) */
	struct probe_item *next;
	int rc;		      /* of the call that carried it */
	uint64_t map_version; /* the peer's, in its answer */
	bool hit, moving, taken, done;
};

struct probe_q {
	char *id; /* the node's */
	struct probe_item *head, **tail;
	unsigned inflight;     /* requests sent and not answered yet */
	uint64_t legacy_until; /* monotonic ns: OP_LIST until then */
	pthread_cond_t cv;     /* a request of this queue was answered */
	struct probe_q *next;
};

struct probes {
	pthread_mutex_t mu;
	struct probe_q *qs;
};

struct probes *probes_new(void)
{
	struct probes *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

void probes_free(struct probes *p)
{
	struct probe_q *q;

	if (!p)
		return;
	while ((q = p->qs)) {
		p->qs = q->next;
		pthread_cond_destroy(&q->cv);
		free(q->id);
		free(q);
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* The queue of node id, made if new (one per node ever asked). Under mu. */
static struct probe_q *queue_of(struct probes *p, const char *id)
{
	struct probe_q *q;

	for (q = p->qs; q; q = q->next)
		if (!strcmp(q->id, id))
			return q;
	q = calloc(1, sizeof(*q));
	if (!q || !(q->id = strdup(id))) {
		free(q);
		return NULL;
	}
	pthread_cond_init(&q->cv, NULL);
	q->tail = &q->head;
	q->next = p->qs;
	p->qs = q;
	return q;
}

/* The old way, for a node that does not know OP_PROBE_DIRS: a listing of
 * "name/", one entry long. */
static void probe_by_list(struct rpc *r, struct probe_item *it)
{
	Ais__Request q = AIS__REQUEST__INIT;
	char path[AIS_NAME_MAX + 2], em[AIS_ERRMSG_LEN];
	Ais__Response *a;

	snprintf(path, sizeof(path), "%s/", it->name);
	q.op = AIS__OP__OP_LIST;
	q.bucket = (char *)it->bucket;
	q.prefix = path;
	q.delimiter = (char *)"/";
	q.page_size = 1;
	q.map_version = r->cm->m->version;
	it->rc = peers_call(r->d->peers, it->node, &q, &a, em);
	if (it->rc) {
		ais_log(LOG_DEBUG, "conflict probe: %s", em);
		return;
	}
	it->rc = a->status;
	it->hit = a->status == 0 && a->n_entries > 0;
	it->moving = a->moving;
	it->map_version = a->map_version;
	ais__response__free_unpacked(a, NULL);
}

/* One request of names for one peer, from being taken off its queue to
 * its answers handed out. */
struct batch {
	struct probe_q *q;
	struct probe_item *its[PROBE_BATCH_MAX];
	char *keys[PROBE_BATCH_MAX];
	size_t n;
	bool legacy;
	Ais__Request req;
};

/* Takes what waits on q (up to PROBE_BATCH_MAX names) into b. Under mu. */
static void take_batch(struct probe_q *q, struct batch *b)
{
	b->q = q;
	b->n = 0;
	while (q->head && b->n < PROBE_BATCH_MAX) {
		b->its[b->n] = q->head;
		b->its[b->n]->taken = true;
		b->keys[b->n++] = q->head->key;
		q->head = q->head->next;
	}
	if (!q->head)
		q->tail = &q->head;
	q->inflight++;
	b->legacy = q->legacy_until > ais_now_mono_ns();
}

/* Marks the names of b answered and frees its slot. Under mu. */
static void finish_batch(struct batch *b)
{
	size_t k;

	if (b->legacy && b->q->legacy_until <= ais_now_mono_ns())
		b->q->legacy_until = ais_now_mono_ns() + PROBE_LEGACY_NS;
	for (k = 0; k < b->n; k++)
		b->its[k]->done = true;
	b->q->inflight--;
	pthread_cond_broadcast(&b->q->cv);
}

/* Asks the peers of batches b[0..nb) at once (mu not held), then hands out
 * the answers (under mu, which it returns with); the batches of older
 * nodes, asked one name at a time, last. */
static void run_batches(struct rpc *r, struct probes *p, struct batch *b,
			size_t nb)
{
	const struct ais_node *nodes[nb];
	const Ais__Request *reqs[nb];
	Ais__Response *as[nb];
	char(*ems)[AIS_ERRMSG_LEN];
	size_t i, k, nc = 0;
	bool any_legacy = false;
	int rcs[nb];

	ems = calloc(nb, sizeof(*ems));
	for (i = 0; i < nb; i++) {
		if (b[i].legacy)
			continue;
		b[i].req = (Ais__Request)AIS__REQUEST__INIT;
		b[i].req.op = AIS__OP__OP_PROBE_DIRS;
		b[i].req.n_probe_dirs = b[i].n;
		b[i].req.probe_dirs = b[i].keys;
		b[i].req.map_version = r->cm->m->version;
		nodes[nc] = b[i].its[0]->node;
		reqs[nc++] = &b[i].req;
	}
	if (nc && ems)
		peers_call_all(r->d->peers, nc, nodes, reqs, as, rcs, ems);
	for (i = 0, nc = 0; i < nb; i++) {
		struct batch *c = &b[i];
		Ais__Response *a;
		size_t ci;
		int rc;

		if (c->legacy)
			continue;
		ci = nc++;
		if (!ems) {
			for (k = 0; k < c->n; k++)
				c->its[k]->rc = -ENOMEM;
			continue;
		}
		a = as[ci];
		rc = rcs[ci];
		if (!rc && a->status)
			rc = ais_errf(ems[ci], a->status, "%s", a->message);
		if (rc == -EOPNOTSUPP) {
			ais_log(LOG_WARNING,
				"node %s is too old for batched name-conflict "
				"probes: asking it one name at a time",
				c->its[0]->node->id);
			c->legacy = true;
		} else if (rc) {
			ais_log(LOG_DEBUG,
				"conflict probe of %s (%zu names): %s",
				c->its[0]->node->id, c->n, ems[ci]);
		}
		for (k = 0; !c->legacy && k < c->n; k++) {
			c->its[k]->rc = rc;
			if (!rc) {
				c->its[k]->moving = a->moving;
				c->its[k]->map_version = a->map_version;
			}
		}
		for (k = 0; !c->legacy && !rc && k < a->n_probe_hits; k++)
			if (a->probe_hits[k] < c->n)
				c->its[a->probe_hits[k]]->hit = true;
		if (a)
			ais__response__free_unpacked(a, NULL);
		any_legacy = any_legacy || c->legacy;
	}
	free(ems);
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < nb; i++)
		if (!b[i].legacy)
			finish_batch(&b[i]);
	if (!any_legacy)
		return;
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < nb; i++)
		for (k = 0; b[i].legacy && k < b[i].n; k++)
			probe_by_list(r, b[i].its[k]);
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < nb; i++)
		if (b[i].legacy)
			finish_batch(&b[i]);
}

/* Asks every other online node whether each of names[0..nn) (of bucket)
 * is a directory there: hit[k] if one says so; all[k] if every one
 * answered for sure (not a node the map marks down, nor one that did not
 * answer, nor one whose objects were on the move, nor one with a newer map
 * than this request's), which only then makes "no" certain. The names
 * join the queues of concurrent callers: nn names cost a request per
 * PROBE_BATCH_MAX of them per peer. Returns 0 or -ENOMEM. */
static int probe_dirs_many(struct rpc *r, const char *bucket,
			   const char *const *names, size_t nn, bool *hit,
			   bool *all)
{
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct ais_map *m = r->cm->m;
	struct probes *p = r->d->probes;
	struct probe_item *items;
	struct probe_q **qs;
	struct batch *b;
	char **keys;
	size_t i, j, k, np = 0, nb;
	bool skipped = false, oom = false;

	items = calloc(m->n * nn, sizeof(*items));
	qs = calloc(m->n, sizeof(*qs));
	b = malloc(m->n * sizeof(*b));
	keys = calloc(nn, sizeof(*keys));
	for (k = 0; keys && k < nn; k++)
		if (asprintf(&keys[k], "%s/%s", bucket, names[k]) < 0) {
			keys[k] = NULL;
			oom = true;
		}
	if (!items || !qs || !b || !keys || oom) {
		for (k = 0; keys && k < nn; k++)
			free(keys[k]);
		free(keys);
		free(items);
		free(qs);
		free(b);
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < m->n; i++) {
		const struct ais_node *o = &m->nodes[i];

		if (o->state != AIS_NODE_ONLINE || !strcmp(o->id, self->id))
			continue;
		if (o->down) { /* not waited for: as if it did not answer */
			skipped = true;
			continue;
		}
		qs[np] = queue_of(p, o->id);
		if (!qs[np]) { /* out of memory: the same */
			skipped = true;
			continue;
		}
		for (k = 0; k < nn; k++) {
			struct probe_item *it = &items[k * m->n + np];

			it->node = o;
			it->bucket = bucket;
			it->name = names[k];
			it->key = keys[k];
			*qs[np]->tail = it;
			qs[np]->tail = &it->next;
		}
		np++;
	}
	for (;;) {
		/* Every queue where a name still waits and a request may go:
		 * sent now, all at once. */
		for (j = 0, nb = 0; j < np; j++) {
			for (k = 0; k < nn && items[k * m->n + j].taken; k++)
				;
			if (k < nn && qs[j]->inflight < PROBE_INFLIGHT_MAX)
				take_batch(qs[j], &b[nb++]);
		}
		if (nb) {
			pthread_mutex_unlock(&p->mu);
			run_batches(r, p, b, nb);
			continue;
		}
		for (i = 0; i < nn * m->n; i++)
			if (i % m->n < np && !items[i].done)
				break;
		if (i == nn * m->n)
			break;
		pthread_cond_wait(&qs[i % m->n]->cv, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	for (k = 0; k < nn; k++) {
		hit[k] = false;
		all[k] = !skipped;
		for (j = 0; j < np; j++) {
			const struct probe_item *it = &items[k * m->n + j];

			hit[k] = hit[k] || (!it->rc && it->hit);
			all[k] = all[k] && !it->rc && !it->moving &&
				 it->map_version <= m->version;
		}
		free(keys[k]);
	}
	free(keys);
	free(items);
	free(qs);
	free(b);
	return 0;
}

static int probe_dirs(struct rpc *r, const char *bucket, const char *name,
		      bool *hit, bool *all)
{
	return probe_dirs_many(r, bucket, &name, 1, hit, all);
}

/* The parents a batch asked about already (rpc_check_conflicts_many): an
 * ingest's batch holds many names of one new directory. */
#define PARENTS_SEEN 32

struct parents_seen {
	size_t n, next;
	char *path[PARENTS_SEEN];
	bool object[PARENTS_SEEN];
};

static bool seen_find(const struct parents_seen *ps, const char *path,
		      bool *object)
{
	size_t i;

	for (i = 0; ps && i < ps->n; i++)
		if (!strcmp(ps->path[i], path)) {
			*object = ps->object[i];
			return true;
		}
	return false;
}

static void seen_add(struct parents_seen *ps, const char *path, bool object)
{
	char *copy;

	if (!ps || !(copy = strdup(path)))
		return;
	if (ps->n < PARENTS_SEEN) {
		ps->path[ps->n] = copy;
		ps->object[ps->n++] = object;
		return;
	}
	free(ps->path[ps->next]);
	ps->path[ps->next] = copy;
	ps->object[ps->next] = object;
	ps->next = (ps->next + 1) % PARENTS_SEEN;
}

/* Asks the owner of each parent prefix of name whether it holds that
 * prefix as an object: -ENOTDIR with errmsg if one does. A parent that is
 * a directory here is no object anywhere while the rule holds, so it is
 * not asked, nor one in ps (may be NULL), which keeps the answers. */
static int parents_conflict(struct rpc *r, const char *bucket, const char *name,
			    struct parents_seen *ps, char *errmsg)
{
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct ais_map *m = r->cm->m;
	char path[AIS_NAME_MAX + 2], em[AIS_ERRMSG_LEN];
	Ais__Response *a;
	size_t i, len = strlen(name);
	bool object;
	int rc;

	memcpy(path, name, len + 1);
	for (i = 0; i < len; i++) {
		const struct ais_node *o;
		Ais__Request q = AIS__REQUEST__INIT;

		if (path[i] != '/')
			continue;
		path[i] = 0;
		o = ais_map_owner(m, bucket, path);
		if (seen_find(ps, path, &object)) {
			if (object)
				return ais_errf(errmsg, -ENOTDIR,
						"cannot create %s: object %s "
						"exists",
						name, path);
		} else if (o && strcmp(o->id, self->id) &&
			   !store_has_dir(r->d->store, bucket, path)) {
			q.op = AIS__OP__OP_HEAD;
			q.bucket = (char *)bucket;
			q.name = path;
			q.map_version = m->version;
			rc = peers_call(r->d->peers, o, &q, &a, em);
			if (rc)
				ais_log(LOG_DEBUG, "conflict probe: %s", em);
			if (!rc) {
				int st = a->status;

				ais__response__free_unpacked(a, NULL);
				seen_add(ps, path, st == 0);
				if (st == 0)
					return ais_errf(errmsg, -ENOTDIR,
							"cannot create %s: "
							"object %s exists",
							name, path);
			}
		}
		path[i] = '/';
	}
	return 0;
}

/* Asks the owner of each parent prefix of name whether it holds that prefix
 * as an object, and every other node whether it holds objects under
 * "name/". Best effort: a node that cannot be reached is skipped, and two
 * racing PUTs on two nodes can both pass. Local state answers most of it
 * for free while the rule holds: a parent that is a directory here is no
 * object anywhere, and nothing lives under a name that is an object here
 * (an overwrite), so those probes are skipped. */
int rpc_check_conflicts(struct rpc *r, const char *bucket, const char *name)
{
	int rc = 0;

	rpc_check_conflicts_many(r, bucket, &name, 1, &rc, &r->errmsg);
	return rc;
}

void rpc_check_conflicts_many(struct rpc *r, const char *bucket,
			      const char *const *names, size_t n, int *rcs,
			      char (*errmsgs)[AIS_ERRMSG_LEN])
{
	const char **ask = malloc(n * sizeof(*ask));
	size_t *of = malloc(n * sizeof(*of));
	bool *hit = malloc(n * sizeof(*hit));
	bool *all = malloc(n * sizeof(*all));
	struct parents_seen seen = {0};
	size_t k, na = 0;
	int rc = 0;

	if (!ask || !of || !hit || !all) {
		for (k = 0; k < n; k++)
			if (!rcs[k])
				rcs[k] = ais_errf(errmsgs[k], -ENOMEM,
						  "out of memory");
		goto out;
	}
	for (k = 0; r->cm->m->n > 1 && k < n; k++) {
		if (rcs[k] || strlen(names[k]) > AIS_NAME_MAX)
			continue;
		rcs[k] =
		    parents_conflict(r, bucket, names[k], &seen, errmsgs[k]);
		if (!rcs[k] &&
		    !store_has_object(r->d->store, bucket, names[k])) {
			of[na] = k;
			ask[na++] = names[k];
		}
	}
	if (na)
		rc = probe_dirs_many(r, bucket, ask, na, hit, all);
	for (k = 0; k < na; k++) {
		size_t i = of[k];

		if (rc) /* -ENOMEM, the only failure */
			rcs[i] = ais_errf(errmsgs[i], rc, "out of memory");
		else if (hit[k])
			rcs[i] = ais_errf(errmsgs[i], -EISDIR,
					  "%s is a directory (objects exist "
					  "under %s/)",
					  names[i], names[i]);
	}
out:
	for (k = 0; k < seen.n; k++)
		free(seen.path[k]);
	free(ask);
	free(of);
	free(hit);
	free(all);
}

int rpc_resolve(struct rpc *r)
{
	Ais__Request *q = r->req;
	bool hit = false, all = false;
	int rc;

	if (q->archpath[0])
		return ais_errf(r->errmsg, -EINVAL,
				"RESOLVE names objects, not shard members");
	rc = rpc_head(r);
	if (rc != -ENOENT && rc != -EISDIR && rc != -ENOTDIR)
		return rc; /* an object (answered as HEAD), or an error */
	/* Names in flight between nodes could pass between the probes:
	 * only a listing (with its second round) tells then. */
	if (r->cm->nhistory ||
	    arrivals_departed_within(r->d->store->arr, RPC_MOVING_SECS))
		return ais_errf(r->errmsg, -EAGAIN,
				"objects are on the move: list %s/ instead",
				q->name);
	if (store_dir_nonempty(r->d->store, q->bucket, q->name)) {
		r->resp.is_dir = true;
		return 0;
	}
	if (r->cm->m->n < 2)
		return ais_errf(r->errmsg, -ENOENT, "%s/%s: no such object",
				q->bucket, q->name);
	rc = probe_dirs(r, q->bucket, q->name, &hit, &all);
	if (rc)
		return rc;
	if (hit) {
		r->resp.is_dir = true;
		return 0;
	}
	if (!all || cluster_version(r->d->cluster) > r->cm->m->version)
		return ais_errf(r->errmsg, -EAGAIN,
				"not every node answered for sure: list %s/ "
				"instead",
				q->name);
	return ais_errf(r->errmsg, -ENOENT,
			"%s/%s: no such object or directory", q->bucket,
			q->name);
}

int rpc_probe_dirs(struct rpc *r)
{
	Ais__Request *q = r->req;
	uint32_t *hits;
	size_t i, n = 0;

	if (!q->n_probe_dirs)
		return 0;
	hits = malloc(q->n_probe_dirs * sizeof(*hits));
	if (!hits)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	for (i = 0; i < q->n_probe_dirs; i++) {
		char *key = q->probe_dirs[i], *slash = strchr(key, '/');
		char em[AIS_ERRMSG_LEN];
		bool hit;

		if (!slash)
			continue;
		*slash = 0;
		hit = ais_name_check_bucket(key, em) == 0 &&
		      ais_name_check_object(slash + 1, strlen(slash + 1), em) ==
			  0 &&
		      store_dir_nonempty(r->d->store, key, slash + 1);
		*slash = '/';
		if (hit)
			hits[n++] = (uint32_t)i;
	}
	r->hits = hits;
	r->resp.n_probe_hits = n;
	r->resp.probe_hits = hits;
	/* As a listing says it: a name may have left this node between
	 * the asker's probes. */
	r->resp.moving =
	    arrivals_departed_within(r->d->store->arr, RPC_MOVING_SECS);
	return 0;
}
