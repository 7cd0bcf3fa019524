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
#include "store/store.h"

/* The "is name/ a directory on you?" question of every PUT goes to every
 * other node. Concurrent PUTs share the requests (as concurrent commits
 * share a journal flush): an OP_PROBE_DIRS carries every name that waited
 * for its peer, up to PROBE_INFLIGHT_MAX of them in flight per peer (so
 * that one slow answer does not hold up every PUT behind it); a caller
 * whose name still waits and finds a free slot sends the next one. An
 * ingest of small objects asked two questions per object of a 3-node
 * cluster before, a few per hundred now. A node too old for the op is
 * asked the old way, one OP_LIST per name, for a while. */
#define PROBE_BATCH_MAX	   256
#define PROBE_INFLIGHT_MAX 4
#define PROBE_LEGACY_NS	   (60 * 1000000000ull) /* then the op again */

struct probe_item {
	const struct ais_node *node; /* the map's, held by the caller */
	const char *bucket, *name;   /* the caller's */
	char *key;		     /* "bucket/name" (the caller's) */
	struct probe_item *next;
	int rc; /* of the call that carried it */
	bool hit, taken, done;
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
	it->hit = a->status == 0 && a->n_entries > 0;
	ais__response__free_unpacked(a, NULL);
}

/* Sends what waits on q (up to PROBE_BATCH_MAX names) as one request and
 * hands out the answers. Called and returns under mu, which it drops for
 * the call. */
static void send_batch(struct rpc *r, struct probes *p, struct probe_q *q)
{
	struct probe_item *its[PROBE_BATCH_MAX];
	char *keys[PROBE_BATCH_MAX];
	Ais__Request req = AIS__REQUEST__INIT;
	char em[AIS_ERRMSG_LEN];
	Ais__Response *a = NULL;
	bool legacy;
	size_t n = 0, i;
	int rc = 0;

	while (q->head && n < PROBE_BATCH_MAX) {
		its[n] = q->head;
		its[n]->taken = true;
		keys[n++] = q->head->key;
		q->head = q->head->next;
	}
	if (!q->head)
		q->tail = &q->head;
	q->inflight++;
	legacy = q->legacy_until > ais_now_mono_ns();
	pthread_mutex_unlock(&p->mu);

	if (!legacy) {
		req.op = AIS__OP__OP_PROBE_DIRS;
		req.n_probe_dirs = n;
		req.probe_dirs = keys;
		req.map_version = r->cm->m->version;
		rc = peers_call(r->d->peers, its[0]->node, &req, &a, em);
		if (!rc && a->status)
			rc = ais_errf(em, a->status, "%s", a->message);
		if (rc == -EOPNOTSUPP) {
			ais_log(LOG_WARNING,
				"node %s is too old for batched name-conflict "
				"probes: asking it one name at a time",
				its[0]->node->id);
			legacy = true;
		} else if (rc) {
			ais_log(LOG_DEBUG,
				"conflict probe of %s (%zu names): %s",
				its[0]->node->id, n, em);
		}
	}
	for (i = 0; i < n; i++) {
		its[i]->next = NULL;
		if (legacy) {
			probe_by_list(r, its[i]);
		} else {
			its[i]->rc = rc;
			its[i]->hit = false;
		}
	}
	for (i = 0; !legacy && !rc && i < a->n_probe_hits; i++)
		if (a->probe_hits[i] < n)
			its[a->probe_hits[i]]->hit = true;
	if (a)
		ais__response__free_unpacked(a, NULL);

	pthread_mutex_lock(&p->mu);
	if (legacy && q->legacy_until <= ais_now_mono_ns())
		q->legacy_until = ais_now_mono_ns() + PROBE_LEGACY_NS;
	for (i = 0; i < n; i++)
		its[i]->done = true;
	q->inflight--;
	pthread_cond_broadcast(&q->cv);
}

/* Asks every other online node whether bucket/name is a directory there.
 * Returns 0 or -EISDIR (with the message). Unreachable nodes are skipped. */
static int probe_dirs(struct rpc *r, const char *bucket, const char *name)
{
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct ais_map *m = r->cm->m;
	struct probes *p = r->d->probes;
	struct probe_item *items;
	struct probe_q **qs;
	size_t i, n = 0;
	char *key;
	int rc = 0;

	items = calloc(m->n, sizeof(*items));
	qs = calloc(m->n, sizeof(*qs));
	if (asprintf(&key, "%s/%s", bucket, name) < 0)
		key = NULL;
	if (!items || !qs || !key) {
		free(items);
		free(qs);
		free(key);
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < m->n; i++) {
		const struct ais_node *o = &m->nodes[i];

		if (o->state != AIS_NODE_ONLINE || !strcmp(o->id, self->id))
			continue;
		qs[n] = queue_of(p, o->id);
		if (!qs[n])
			continue; /* out of memory: as if unreachable */
		items[n].node = o;
		items[n].bucket = bucket;
		items[n].name = name;
		items[n].key = key;
		*qs[n]->tail = &items[n];
		qs[n]->tail = &items[n].next;
		n++;
	}
	for (i = 0; i < n; i++)
		while (!items[i].done) {
			if (!items[i].taken &&
			    qs[i]->inflight < PROBE_INFLIGHT_MAX)
				send_batch(r, p, qs[i]);
			else
				pthread_cond_wait(&qs[i]->cv, &p->mu);
		}
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < n && !rc; i++)
		if (!items[i].rc && items[i].hit)
			rc = ais_errf(r->errmsg, -EISDIR,
				      "%s is a directory (objects exist under "
				      "%s/)",
				      name, name);
	free(items);
	free(qs);
	free(key);
	return rc;
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
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct ais_map *m = r->cm->m;
	char path[AIS_NAME_MAX + 2], em[AIS_ERRMSG_LEN];
	Ais__Response *a;
	size_t i, len = strlen(name);
	int rc;

	if (m->n < 2 || len > AIS_NAME_MAX)
		return 0;
	memcpy(path, name, len + 1);
	for (i = 0; i < len; i++) {
		const struct ais_node *o;
		Ais__Request q = AIS__REQUEST__INIT;

		if (path[i] != '/')
			continue;
		path[i] = 0;
		o = ais_map_owner(m, bucket, path);
		if (o && strcmp(o->id, self->id) &&
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
				if (st == 0)
					return ais_errf(r->errmsg, -ENOTDIR,
							"cannot create %s: "
							"object %s exists",
							name, path);
			}
		}
		path[i] = '/';
	}
	if (store_has_object(r->d->store, bucket, name))
		return 0;
	return probe_dirs(r, bucket, name);
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
	return 0;
}
