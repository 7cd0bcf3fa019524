/* The snapshots the data path reads: built on the Raft thread from the
 * metadata and Raft's view (leader, roles), swapped in under a mutex,
 * reference-counted so readers never wait; and the life of struct cluster
 * (new, start, stop, free). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"

#include "log.h"
#include "util.h"

#include "cluster/cluster_i.h"

static void cmap_free(struct cluster_map *cm)
{
	size_t i;

	ais_map_free(cm->m);
	ais_strv_free(cm->buckets);
	free(cm->bucket_created);
	for (i = 0; i < cm->nhistory; i++)
		ais_map_free(cm->history[i]);
	free(cm->history);
	for (i = 0; i < cm->netls; i++)
		ais__etl_spec__free_unpacked(cm->etls[i], NULL);
	free(cm->etls);
	for (i = 0; i < cm->njobs; i++)
		ais__etl_job__free_unpacked(cm->jobs[i], NULL);
	free(cm->jobs);
	for (i = 0; i < cm->ns3keys; i++)
		ais__s3_key__free_unpacked(cm->s3keys[i], NULL);
	free(cm->s3keys);
	meta_users_clear(&cm->users);
	free(cm);
}

const Ais__S3Key *cluster_s3_key_find(const struct cluster_map *cm,
				      const char *access_key)
{
	long i = meta_s3_keys_find(cm->s3keys, cm->ns3keys, access_key);

	return i >= 0 ? cm->s3keys[i] : NULL;
}

const Ais__User *cluster_user_find(const struct cluster_map *cm,
				   const char *name)
{
	long i = meta_user_find(&cm->users, name);

	return i >= 0 ? cm->users.users[i] : NULL;
}

bool cluster_token_revoked(const struct cluster_map *cm, const uint8_t *id)
{
	return meta_token_revoked(cm->users.revoked, cm->users.nrevoked, id);
}

int cluster_user_right(const Ais__User *u, const char *bucket)
{
	int best = AIS__RIGHT__RIGHT_NONE;
	long i;

	if (u->cluster_admin)
		return AIS__RIGHT__RIGHT_ADMIN;
	i = meta_sorted_find((void *const *)u->grants, u->n_grants,
			     offsetof(Ais__Grant, bucket), bucket);
	if (i >= 0)
		best = (int)u->grants[i]->right;
	i = meta_sorted_find((void *const *)u->grants, u->n_grants,
			     offsetof(Ais__Grant, bucket), "*");
	if (i >= 0 && (int)u->grants[i]->right > best)
		best = (int)u->grants[i]->right;
	return best;
}

const Ais__EtlSpec *cluster_etl_find(const struct cluster_map *cm,
				     const char *name)
{
	long i = meta_etls_find(cm->etls, cm->netls, name);

	return i >= 0 ? cm->etls[i] : NULL;
}

void cluster_map_put(struct cluster_map *cm)
{
	if (cm && __atomic_sub_fetch(&cm->refs, 1, __ATOMIC_ACQ_REL) == 0)
		cmap_free(cm);
}

struct cluster_map *cluster_map_get(struct cluster *c)
{
	struct cluster_map *cm;

	pthread_mutex_lock(&c->mu);
	cm = c->cur;
	__atomic_add_fetch(&cm->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&c->mu);
	return cm;
}

uint64_t cluster_version(struct cluster *c)
{
	uint64_t v;

	pthread_mutex_lock(&c->mu);
	v = c->cur->m->version;
	pthread_mutex_unlock(&c->mu);
	return v;
}

const struct ais_node *cluster_self(const struct cluster *c)
{
	return &c->self;
}

const char *cluster_raft_dir(const struct cluster *c)
{
	return c->raft_dir;
}

bool cluster_has_bucket(const struct cluster_map *cm, const char *bucket)
{
	size_t lo = 0, hi = cm->nbuckets;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(cm->buckets[mid], bucket);

		if (d == 0)
			return true;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void cluster_on_change(struct cluster *c, cluster_change_cb cb, void *arg)
{
	if (c->nsubs < CLUSTER_SUBS_MAX) {
		c->subs[c->nsubs].cb = cb;
		c->subs[c->nsubs].arg = arg;
		c->nsubs++;
	}
}

/* A flag of c, read under c->mu. */
static bool flag(struct cluster *c, const bool *f)
{
	bool v;

	pthread_mutex_lock(&c->mu);
	v = *f;
	pthread_mutex_unlock(&c->mu);
	return v;
}

bool cluster_joined(struct cluster *c)
{
	return flag(c, &c->joined);
}

bool cluster_serving(struct cluster *c)
{
	return flag(c, &c->online);
}

bool cluster_stopping(struct cluster *c)
{
	return flag(c, &c->stopping);
}

int cluster_wait_joined(struct cluster *c, unsigned timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->online && !c->stopping && rc == 0)
		rc = pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	rc = c->online ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

bool cluster_sleep(struct cluster *c, unsigned ms)
{
	struct timespec ts;
	bool go;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->mu);
	if (!c->stopping)
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	go = !c->stopping;
	pthread_mutex_unlock(&c->mu);
	return go;
}

static void log_map(const struct ais_map *m)
{
	char line[1024];
	size_t i, off = 0;

	line[0] = 0;
	for (i = 0; i < m->n && off < sizeof(line) - 96; i++) {
		const struct ais_node *n = &m->nodes[i];
		int k = snprintf(
		    line + off, sizeof(line) - off, "%s%.8s %s:%u%s%s%s",
		    i ? ", " : "", n->id, n->host, n->port,
		    n->state != AIS_NODE_ONLINE ? " " : "",
		    n->state != AIS_NODE_ONLINE ? ais_node_state_name(n->state)
						: "",
		    n->down ? " down" : "");

		if (k < 0)
			break;
		off += (size_t)k;
	}
	if (i < m->n)
		snprintf(line + off, sizeof(line) - off, ", ...");
	ais_log(LOG_NOTICE, "map v%llu: %zu node%s (%s)",
		(unsigned long long)m->version, m->n, m->n == 1 ? "" : "s",
		line);
}

/* Raft's view: the leader's node id, and each node's role. */
static uint64_t raft_view(struct cluster *c, struct ais_map *m)
{
	raft_id lid = 0;
	const char *laddr = NULL;
	uint64_t digest = 0;
	unsigned j;
	size_t i;

	if (c->raft.state == RAFT_LEADER || c->raft.state == RAFT_FOLLOWER ||
	    c->raft.state == RAFT_CANDIDATE)
		raft_leader(&c->raft, &lid, &laddr);
	for (i = 0; i < m->n; i++) {
		raft_id rid = cluster_rid(m->nodes[i].id);

		m->nodes[i].role = AIS_ROLE_NONE;
		for (j = 0; j < c->raft.configuration.n; j++)
			if (c->raft.configuration.servers[j].id == rid) {
				switch (c->raft.configuration.servers[j].role) {
				case RAFT_VOTER:
					m->nodes[i].role = AIS_ROLE_VOTER;
					break;
				case RAFT_STANDBY:
					m->nodes[i].role = AIS_ROLE_STANDBY;
					break;
				default:
					m->nodes[i].role = AIS_ROLE_SPARE;
				}
			}
		if (lid && rid == lid)
			snprintf(m->leader, sizeof(m->leader), "%s",
				 m->nodes[i].id);
		digest = digest * 31 + (uint64_t)m->nodes[i].role + 1;
	}
	/* A leader not yet in its own map (a new cluster's first node). */
	if (lid && lid == c->self_rid && !m->leader[0])
		snprintf(m->leader, sizeof(m->leader), "%s", c->self.id);
	return digest;
}

/* A node that left the map must not come back by restarting with its old
 * Raft state (it would serve its last map for ever): a marker says so. */
static void mark_removed(struct cluster *c)
{
	char path[4096], text[256];
	int n, rc;

	snprintf(path, sizeof(path), "%s/removed", c->raft_dir);
	n = snprintf(text, sizeof(text),
		     "node %s left the cluster map (decommissioned or "
		     "removed) at %lld\n",
		     c->self.id, (long long)(ais_now_real_ns() / 1000000000));
	rc = ais_file_replace(path, text, (size_t)n, 0644);
	if (rc)
		ais_log(LOG_WARNING, "cannot write %s: %s", path,
			strerror(-rc));
}

void cluster_publish(struct cluster *c)
{
	struct cluster_map *cm = calloc(1, sizeof(*cm)), *old;
	const struct meta *mt = c->meta;
	uint64_t digest;
	size_t i;
	int idx;
	bool joined, online;

	if (!cm)
		goto nomem;
	cm->refs = 1;
	cm->m = ais_map_dup(mt->nodes);
	if (cm->m)
		memcpy(cm->m->auth_kid, c->auth_kid, sizeof(c->auth_kid));
	cm->buckets = calloc(mt->nbuckets + 1, sizeof(char *));
	cm->bucket_created =
	    calloc(mt->nbuckets + 1, sizeof(*cm->bucket_created));
	cm->history = calloc(mt->nhistory + 1, sizeof(*cm->history));
	cm->etls = calloc(mt->netls + 1, sizeof(*cm->etls));
	cm->jobs = calloc(mt->njobs + 1, sizeof(*cm->jobs));
	cm->s3keys = calloc(mt->ns3keys + 1, sizeof(*cm->s3keys));
	if (!cm->m || !cm->buckets || !cm->bucket_created || !cm->history ||
	    !cm->etls || !cm->jobs || !cm->s3keys)
		goto nomem;
	if (meta_users_copy(&cm->users, &mt->u, NULL))
		goto nomem;
	for (i = 0; i < mt->ns3keys; i++) {
		cm->s3keys[i] = meta_s3_key_copy(mt->s3keys[i]);
		if (!cm->s3keys[i])
			goto nomem;
		cm->ns3keys++;
	}
	for (i = 0; i < mt->njobs; i++) {
		cm->jobs[i] = meta_job_copy(mt->jobs[i]);
		if (!cm->jobs[i])
			goto nomem;
		cm->njobs++;
	}
	for (i = 0; i < mt->netls; i++) {
		cm->etls[i] = meta_etl_copy(mt->etls[i]);
		if (!cm->etls[i])
			goto nomem;
		cm->netls++;
	}
	for (i = 0; i < mt->nbuckets; i++) {
		cm->buckets[i] = strdup(mt->buckets[i].name);
		if (!cm->buckets[i])
			goto nomem;
		cm->bucket_created[i] = mt->buckets[i].created_ns;
		cm->nbuckets++;
	}
	for (i = 0; i < mt->nhistory; i++) {
		struct ais_map *h = ais_map_dup(mt->history[i]);
		size_t k;

		if (!h)
			goto nomem;
		/* A node that left the map cannot be asked: mark it down. */
		for (k = 0; k < h->n; k++) {
			int at = ais_map_find(mt->nodes, h->nodes[k].id);

			if (at < 0) {
				h->nodes[k].down = true;
				continue;
			}
			/* Its address and liveness now; its state stays the
			 * placement's (HRW over that map must pick the
			 * owner it picked then). */
			memcpy(h->nodes[k].host, mt->nodes->nodes[at].host,
			       sizeof(h->nodes[k].host));
			h->nodes[k].port = mt->nodes->nodes[at].port;
			h->nodes[k].down = mt->nodes->nodes[at].down;
		}
		cm->history[cm->nhistory++] = h;
	}
	cm->rebalance_id = mt->rebalance_id;
	cm->self_rebalanced = meta_rebalanced(mt, c->self.id);
	digest = raft_view(c, cm->m);
	cm->read_only = cm->m->leader[0] == 0;
	idx = ais_map_find(cm->m, c->self.id);
	joined = idx >= 0 && cm->m->nodes[idx].port == c->self.port &&
		 !strcmp(cm->m->nodes[idx].host, c->self.host) &&
		 !strcmp(cm->m->nodes[idx].raft_addr, c->self.raft_addr);
	online = joined && cm->m->nodes[idx].state != AIS_NODE_JOINING;

	if (idx >= 0 && !__atomic_load_n(&c->left, __ATOMIC_ACQUIRE))
		c->was_member = true;
	else if (c->was_member && !c->removed) {
		c->removed = true;
		ais_log(LOG_WARNING,
			"cluster: this node is no longer in the map "
			"(decommissioned or removed)");
		mark_removed(c);
	}
	cm->self_removed = c->removed;

	pthread_mutex_lock(&c->mu);
	old = c->cur;
	if (old && old->m->version == cm->m->version &&
	    !strcmp(old->m->leader, cm->m->leader) &&
	    c->published_roles == digest && old->nbuckets == cm->nbuckets &&
	    old->nhistory == cm->nhistory &&
	    old->self_rebalanced == cm->self_rebalanced &&
	    old->self_removed == cm->self_removed) {
		/* Nothing a reader could see changed. */
		pthread_mutex_unlock(&c->mu);
		cmap_free(cm);
		return;
	}
	pthread_mutex_unlock(&c->mu);
	/* The subscribers first (a new bucket's directories, the
	 * rebalance), then the readers: a request that sees a bucket in the
	 * table finds its directory. */
	for (i = 0; i < c->nsubs; i++)
		c->subs[i].cb(c->subs[i].arg, cm);
	pthread_mutex_lock(&c->mu);
	c->cur = cm;
	c->published_roles = digest;
	if (joined != c->joined || online != c->online) {
		c->joined = joined;
		c->online = online;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (old && strcmp(old->m->leader, cm->m->leader))
		ais_log(cm->m->leader[0] ? LOG_NOTICE : LOG_WARNING,
			"cluster: %s%s", cm->m->leader[0] ? "leader " : "",
			cm->m->leader[0] ? cm->m->leader
					 : "no leader: metadata is read-only");
	if (cm->m->version != c->logged_version) {
		c->logged_version = cm->m->version;
		log_map(cm->m);
	}
	cluster_map_put(old);
	return;
nomem:
	/* The previous snapshot stays; the next change publishes again. */
	ais_log(LOG_ERR, "cluster: out of memory publishing the map");
	if (cm) {
		cm->refs = 0;
		cmap_free(cm);
	}
}

int cluster_new(const struct cluster_opts *o, struct peers *peers,
		struct cluster **out, char *errmsg)
{
	struct cluster *c = calloc(1, sizeof(*c));

	if (!c)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->self = o->self;
	c->self.role = AIS_ROLE_NONE;
	c->self.down = false;
	c->self_rid = cluster_rid(o->self.id);
	c->peers = peers;
	c->down_after_ms = o->down_after_ms ? o->down_after_ms : 3000;
	if (o->auth_key)
		memcpy(c->auth_kid, o->auth_key->kid, sizeof(c->auth_kid));
	c->tls_server = o->tls_server;
	c->tls_client = o->tls_client;
	c->seeds = ais_strv_dup(o->seeds, o->nseeds);
	c->nseeds = o->nseeds;
	c->join = o->join ? strdup(o->join) : NULL;
	c->raft_dir = strdup(o->raft_dir);
	c->local_buckets = ais_strv_dup(o->local_buckets, o->nlocal_buckets);
	c->nlocal_buckets = o->nlocal_buckets;
	c->meta = meta_new();
	c->probe = peers_new(500, 1500, 0);
	if (c->probe && o->auth_key) {
		char name[AIS_USER_MAX + 2];

		snprintf(name, sizeof(name), "@%s", o->self.id);
		peers_set_key(c->probe, o->auth_key, name);
	}
	if (c->probe)
		peers_set_tls(c->probe, o->tls_client);
	if (!c->seeds || (o->join && !c->join) || !c->raft_dir ||
	    !c->local_buckets || !c->meta || !c->probe)
		goto err;
	c->cur = calloc(1, sizeof(*c->cur));
	if (!c->cur)
		goto err;
	c->cur->refs = 1;
	c->cur->m = ais_map_new();
	c->cur->buckets = calloc(1, sizeof(char *));
	c->cur->history = calloc(1, sizeof(*c->cur->history));
	if (!c->cur->m || !c->cur->buckets || !c->cur->history)
		goto err;
	c->cur->read_only = true;
	*out = c;
	return 0;
err:
	cluster_free(c);
	return ais_errf(errmsg, -ENOMEM, "out of memory");
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	ais_strv_free(c->seeds);
	free(c->join);
	free(c->raft_dir);
	ais_strv_free(c->local_buckets);
	meta_free(c->meta);
	peers_free(c->probe);
	if (c->cur)
		cluster_map_put(c->cur);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

int cluster_start(struct cluster *c, char *errmsg)
{
	char marker[4096];
	int rc;

	snprintf(marker, sizeof(marker), "%s/removed", c->raft_dir);
	if (access(marker, F_OK) == 0)
		return ais_errf(errmsg, -EPERM,
				"this node left the cluster (decommissioned "
				"or removed: see %s); to join again as a new "
				"member, delete %s and start with --join",
				marker, c->raft_dir);
	c->bootstrap = cluster_should_bootstrap(c);
	rc = cluster_raft_start(c, errmsg);
	if (rc)
		return rc;
	rc = cluster_join_start(c);
	if (rc == 0)
		rc = cluster_watch_start(c);
	if (rc) {
		cluster_stop(c);
		return ais_errf(errmsg, rc, "cannot start a cluster thread");
	}
	return 0;
}

void cluster_stop(struct cluster *c)
{
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	cluster_join_stop(c);
	cluster_watch_stop(c);
	cluster_raft_stop(c);
}
