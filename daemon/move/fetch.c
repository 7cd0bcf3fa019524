/* Reads relayed from an object's previous owners, the fetch of an object
 * (for an op that changes it in place) from them, and a delete at
 * them: what makes a rebalance invisible to clients. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "map.h"
#include "objmeta.h"

#include "aisd.h"
#include "cluster/cluster.h"
#include "cluster/peer.h"
#include "move/move_i.h"
#include "shard/shard.h"
#include "store/bucket.h"
#include "store/store.h"

/* The previous owners of bucket/name: the nodes of its copy set in each
 * placement of cm->history, newest first, each once, not self (room for
 * (nhistory + 1) * AIS_COPIES_MAX). *ndown counts those skipped as marked down
 * in the current map (their names go to down, if not NULL). */
static size_t prev_owners(struct aisd *d, struct cluster_map *cm,
			  const char *bucket, const char *name,
			  const struct ais_node **out, size_t *ndown,
			  char *down, size_t downlen)
{
	const struct ais_node *self = cluster_self(d->cluster), *o;
	int idx[AIS_COPIES_MAX];
	size_t i, c, nc, j, n = 0;
	int k;

	*ndown = 0;
	/* Every copy of every earlier placement, newest first. */
	for (i = 0; i < cm->nhistory; i++) {
		nc = ais_map_copy_set(cm->history[i], bucket, name, idx,
				      AIS_COPIES_MAX);
		for (c = 0; c < nc; c++) {
			o = &cm->history[i]->nodes[idx[c]];
			if (!strcmp(o->id, self->id))
				continue;
			for (j = 0; j < n && strcmp(out[j]->id, o->id); j++)
				;
			if (j < n)
				continue;
			/* The current map has the node's address and down
			 * flag as they are now. */
			k = ais_map_find(cm->m, o->id);
			if (k >= 0)
				o = &cm->m->nodes[k];
			if (o->down) {
				if (!*ndown && down)
					snprintf(down, downlen, "%s at %s:%u",
						 o->id, o->host, o->port);
				(*ndown)++;
				continue;
			}
			out[n++] = o;
		}
	}
	return n;
}

/* The bucket must exist here for a copy to be stored: created if the
 * cluster's bucket table has it (a node that joined after it was made). */
static void ensure_bucket(struct aisd *d, struct cluster_map *cm,
			  const char *bucket)
{
	char em[AIS_ERRMSG_LEN];
	size_t i;

	if (store_bucket_exists(d->store, bucket))
		return;
	for (i = 0; i < cm->nbuckets; i++)
		if (!strcmp(cm->buckets[i], bucket)) {
			if (bucket_create(d->store, bucket, em) &&
			    !store_bucket_exists(d->store, bucket))
				ais_log(LOG_WARNING, "bucket %s: %s", bucket,
					em);
			return;
		}
}

/* The sink of a fetch: the answer's body into a migrate PUT. */
struct fetch_sink {
	struct store *st;
	const char *bucket, *name;
	struct ais_obj_meta meta;
	struct store_put p;
	bool open;
	bool repair; /* replaces a corrupt copy as new as it */
};

static int sink_head(void *arg, const Ais__Response *resp, uint64_t body_len,
		     char *errmsg)
{
	struct fetch_sink *s = arg;
	struct store_put_args a;
	int rc;

	ais_obj_meta_from_pb(resp->meta, &s->meta);
	if (s->meta.size != body_len)
		return ais_errf(errmsg, -EPROTO,
				"answer of %llu bytes for an object of %llu",
				(unsigned long long)body_len,
				(unsigned long long)s->meta.size);
	memset(&a, 0, sizeof(a));
	a.bucket = s->bucket;
	a.name = s->name;
	a.migrate = &s->meta;
	a.repair = s->repair;
	rc = store_put_begin(s->st, &a, &s->p, errmsg);
	if (rc == 0) {
		s->open = true;
		return 0;
	}
	/* A copy here as new or newer (or a delete since): nothing to
	 * fetch; the exchange ends here. */
	return rc == -EALREADY ? rc : -EIO;
}

static int sink_body(void *arg, const void *buf, size_t len, char *errmsg)
{
	struct fetch_sink *s = arg;

	return store_put_write(&s->p, buf, len, errmsg);
}

/* Fetches from node o. Returns 0 (stored or refused as older: read
 * again), -ENOENT (o has none), -EIO and friends (errmsg). */
static int fetch_from(struct aisd *d, const struct ais_node *o,
		      const char *bucket, const char *name, bool repair,
		      char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct fetch_sink s = {
	    .st = d->store, .bucket = bucket, .name = name, .repair = repair};
	struct peer_sink sink = {sink_head, sink_body, &s};
	struct ais_obj_meta stored;
	Ais__Response *resp = NULL;
	int rc;

	req.op = AIS__OP__OP_GET;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	req.peer_local = true;
	req.want_ext = true;
	rc = peers_get_sink(d->peers, o, &req, &sink, &resp, errmsg);
	if (rc) {
		if (s.open)
			store_put_abort(&s.p);
		/* A repair that the copy here refuses (as new or newer)
		 * repaired nothing. */
		return rc == -EALREADY && !repair ? 0 : rc;
	}
	rc = resp->status;
	if (rc)
		ais_errf(errmsg, rc, "node %s at %s:%u: %s", o->id, o->host,
			 o->port,
			 resp->message && resp->message[0] ? resp->message
							   : strerror(-rc));
	ais__response__free_unpacked(resp, NULL);
	if (rc)
		return rc;
	if (!s.open) /* an empty answer that never reached sink_head */
		return ais_errf(errmsg, -EPROTO, "node %s: no object in answer",
				o->id);
	rc = store_put_commit(&s.p, &stored, errmsg);
	if (rc == 0 && d->shards)
		shard_written(d->shards, bucket, name);
	return rc == -EALREADY && !repair ? 0 : rc;
}

/* Concurrent readers of one missing object: the first fetches, the others
 * wait for it (then all read the local copy). Returns true for the one
 * that fetches. */
static bool fetch_enter(struct move *mv, const char *key,
			struct fetch_wait **out)
{
	struct fetch_wait *w;

	pthread_mutex_lock(&mv->mu);
	for (w = mv->fetching; w; w = w->next)
		if (!strcmp(w->key, key))
			break;
	if (w) {
		w->waiters++;
		while (!w->done)
			pthread_cond_wait(&mv->cv, &mv->mu);
		if (--w->waiters == 0)
			free(w); /* unlinked by the fetcher */
		pthread_mutex_unlock(&mv->mu);
		*out = NULL;
		return false;
	}
	w = calloc(1, sizeof(*w));
	if (w)
		w->key = strdup(key);
	if (w && w->key) {
		w->next = mv->fetching;
		mv->fetching = w;
	} else if (w) {
		free(w);
		w = NULL;
	}
	pthread_mutex_unlock(&mv->mu);
	*out = w;
	return true;
}

static void fetch_leave(struct move *mv, struct fetch_wait *w)
{
	struct fetch_wait **pp;

	if (!w)
		return;
	pthread_mutex_lock(&mv->mu);
	for (pp = &mv->fetching; *pp != w; pp = &(*pp)->next)
		;
	*pp = w->next;
	free(w->key);
	w->key = NULL;
	w->done = true;
	pthread_cond_broadcast(&mv->cv);
	if (w->waiters == 0)
		free(w);
	pthread_mutex_unlock(&mv->mu);
}

int move_fetch(struct aisd *d, struct cluster_map *cm, const char *bucket,
	       const char *name, char *errmsg)
{
	const struct ais_node *prev[(cm->nhistory + 1) * AIS_COPIES_MAX];
	char em[AIS_ERRMSG_LEN] = "",
	     down[AIS_ERRMSG_LEN + AIS_HOST_MAX + 64] = "",
	     key[AIS_ERRMSG_LEN * 5];
	struct fetch_wait *w = NULL;
	size_t n, ndown, i, unreachable = 0;
	int rc = -ENOENT;

	if (!cm->nhistory)
		return -ENOENT;
	n = prev_owners(d, cm, bucket, name, prev, &ndown, down, sizeof(down));
	if (!n && !ndown)
		return -ENOENT;
	snprintf(key, sizeof(key), "%s/%s", bucket, name);
	if (d->move && !fetch_enter(d->move, key, &w))
		return 0; /* another reader fetched it: read again */
	ensure_bucket(d, cm, bucket);
	for (i = 0; i < n; i++) {
		rc = fetch_from(d, prev[i], bucket, name, false, em);
		if (rc == 0) {
			if (d->move)
				atomic_fetch_add(&d->move->n.fetched, 1);
			ais_log(LOG_INFO,
				"%s/%s: fetched from its previous owner %s",
				bucket, name, prev[i]->id);
			break;
		}
		if (rc == -ENOENT)
			continue;
		/* Unreachable or failing: the object may be there. */
		ais_log(LOG_WARNING, "%s/%s: fetch from previous owner: %s",
			bucket, name, em);
		if (!unreachable++)
			snprintf(down, sizeof(down), "%s", em);
	}
	if (d->move)
		fetch_leave(d->move, w);
	if (rc == 0)
		return 0;
	if (unreachable || ndown)
		return ais_errf(errmsg, -EIO,
				"%s/%s is not here yet and its previous owner "
				"could not be asked: %s",
				bucket, name, down);
	return -ENOENT;
}

/* The caller's sink, and whether it has seen an answer's head. */
struct relay {
	const struct peer_sink *to;
	bool started;
};

static int relay_head(void *arg, const Ais__Response *resp, uint64_t body_len,
		      char *errmsg)
{
	struct relay *rl = arg;

	rl->started = true;
	return rl->to->head(rl->to->arg, resp, body_len, errmsg);
}

static int relay_body(void *arg, const void *buf, size_t len, char *errmsg)
{
	struct relay *rl = arg;

	return rl->to->body(rl->to->arg, buf, len, errmsg);
}

int move_read_history(struct aisd *d, struct cluster_map *cm,
		      const Ais__Request *q, const struct peer_sink *sink,
		      Ais__Response **answer, char *errmsg)
{
	const struct ais_node *prev[(cm->nhistory + 1) * AIS_COPIES_MAX];
	char em[AIS_ERRMSG_LEN] = "",
	     down[AIS_ERRMSG_LEN + AIS_HOST_MAX + 64] = "";
	struct relay rl = {.to = sink};
	struct peer_sink wrap = {relay_head, relay_body, &rl};
	Ais__Request req = *q;
	size_t n, ndown, i, unreachable = 0;
	int rc;

	if (!cm->nhistory)
		return -ENOENT;
	n = prev_owners(d, cm, q->bucket, q->name, prev, &ndown, down,
			sizeof(down));
	req.peer_local = true;
	for (i = 0; i < n; i++) {
		struct peers *pp = d->move ? d->move->relay : d->peers;
		Ais__Response *resp = NULL;

		if (sink)
			rc =
			    peers_get_sink(pp, prev[i], &req, &wrap, &resp, em);
		else
			rc = peers_call(pp, prev[i], &req, &resp, em);
		if (rc && rl.started)
			return ais_errf(errmsg, rc, "%s", em); /* broke off */
		if (rc == 0) {
			rc = resp->status;
			if (rc == 0 && !sink) {
				*answer = resp;
				return 0;
			}
			if (rc)
				ais_errf(em, rc, "%s",
					 resp->message && resp->message[0]
					     ? resp->message
					     : strerror(-rc));
			ais__response__free_unpacked(resp, NULL);
			if (rc == 0)
				return 0;
			if (rc != -ENOENT) /* its answer (a range past the
					      end...) is the answer */
				return ais_errf(errmsg, rc, "%s", em);
			continue;
		}
		if (!unreachable++)
			snprintf(down, sizeof(down), "%s", em);
	}
	if (unreachable || ndown)
		return ais_errf(errmsg, -EIO,
				"%s/%s is not here yet and its previous owner "
				"could not be asked: %s",
				q->bucket, q->name, down);
	return -ENOENT;
}

int move_delete_history(struct aisd *d, struct cluster_map *cm,
			const char *bucket, const char *name, char *errmsg)
{
	const struct ais_node *prev[(cm->nhistory + 1) * AIS_COPIES_MAX];
	char em[AIS_ERRMSG_LEN] = "",
	     down[AIS_ERRMSG_LEN + AIS_HOST_MAX + 64] = "";
	size_t n, ndown, i, unreachable = 0;
	bool had = false;
	int rc;

	if (!cm->nhistory)
		return -ENOENT;
	n = prev_owners(d, cm, bucket, name, prev, &ndown, down, sizeof(down));
	for (i = 0; i < n; i++) {
		rc = move__peer_delete(d, prev[i], cm->m->version, bucket, name,
				       em);
		if (rc == 0)
			had = true;
		else if (rc != -ENOENT) {
			ais_log(LOG_WARNING,
				"delete of %s/%s at its previous owner: %s",
				bucket, name, em);
			if (!unreachable++)
				snprintf(down, sizeof(down), "%s", em);
		}
	}
	if (had)
		return 0;
	if (unreachable || ndown)
		return ais_errf(errmsg, -EIO,
				"%s/%s: its previous owner could not be asked "
				"to delete it: %s",
				bucket, name, down);
	return -ENOENT;
}

int move_repair(struct aisd *d, struct cluster_map *cm, const char *bucket,
		const char *name, const char **from, char *errmsg)
{
	const struct ais_node *self = cluster_self(d->cluster);
	int idx[AIS_COPIES_MAX];
	size_t n, i;
	int rc = -ENOENT;

	*from = NULL;
	n = ais_map_copy_set(cm->m, bucket, name, idx, AIS_COPIES_MAX);
	for (i = 0; i < n; i++) {
		const struct ais_node *o = &cm->m->nodes[idx[i]];
		char em[AIS_ERRMSG_LEN] = "";

		if (!strcmp(o->id, self->id) || o->down)
			continue;
		rc = fetch_from(d, o, bucket, name, true, em);
		if (rc == 0 && store_has_object(d->store, bucket, name)) {
			*from = o->id;
			return 0;
		}
		if (!rc)
			rc = -ENOENT;
		snprintf(errmsg, AIS_ERRMSG_LEN, "node %s: %s", o->id,
			 em[0] ? em : strerror(-rc));
	}
	if (rc == -ENOENT && !errmsg[0])
		snprintf(errmsg, AIS_ERRMSG_LEN, "no other copy");
	return rc ? rc : -ENOENT;
}
