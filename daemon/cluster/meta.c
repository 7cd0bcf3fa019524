/* The cluster metadata and its rules (see meta.h): joins, buckets, node
 * states, placement generations and their history, the end of a
 * rebalance. Every rule is a pure function of the state and the command. */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "names.h"
#include "pb.h"
#include "util.h"

#include "cluster/meta.h"

struct meta *meta_new(void)
{
	struct meta *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->nodes = ais_map_new();
	if (!m->nodes) {
		free(m);
		return NULL;
	}
	return m;
}

static void meta_clear(struct meta *m)
{
	size_t i;

	ais_map_free(m->nodes);
	for (i = 0; i < m->nbuckets; i++)
		free(m->buckets[i].name);
	free(m->buckets);
	for (i = 0; i < m->nhistory; i++)
		ais_map_free(m->history[i]);
	free(m->history);
	for (i = 0; i < m->nrebalanced; i++)
		free(m->rebalanced[i]);
	free(m->rebalanced);
	for (i = 0; i < m->netls; i++)
		ais__etl_spec__free_unpacked(m->etls[i], NULL);
	free(m->etls);
	for (i = 0; i < m->njobs; i++)
		ais__etl_job__free_unpacked(m->jobs[i], NULL);
	free(m->jobs);
	for (i = 0; i < m->ns3keys; i++)
		ais__s3_key__free_unpacked(m->s3keys[i], NULL);
	free(m->s3keys);
	meta_users_clear(&m->u);
	memset(m, 0, sizeof(*m));
}

Ais__EtlJob *meta_job_copy(const Ais__EtlJob *j)
{
	return (Ais__EtlJob *)ais_pb_dup(&j->base);
}

int meta_job_find(const struct meta *m, const char *id)
{
	for (size_t i = 0; id && i < m->njobs; i++)
		if (!strcmp(m->jobs[i]->id, id))
			return (int)i;
	return -1;
}

/* The rules a job must follow to be kept (what exists, and names). */
static int job_check(const struct meta *m, const Ais__EtlJob *j, char *errmsg)
{
	if (!j || !j->id || strncmp(j->id, "etl-", 4) != 0 ||
	    strlen(j->id) > 40)
		return ais_errf(errmsg, -EINVAL, "a job needs an id");
	if (meta_etl_find(m, j->etl) < 0)
		return ais_errf(errmsg, -ENOENT, "no transform %s", j->etl);
	if (meta_bucket_find(m, j->src_bucket) < 0)
		return ais_errf(errmsg, -ENOENT, "bucket %s does not exist",
				j->src_bucket);
	if (meta_bucket_find(m, j->dst_bucket) < 0)
		return ais_errf(errmsg, -ENOENT,
				"bucket %s does not exist (ais bucket create "
				"%s)",
				j->dst_bucket, j->dst_bucket);
	if (!strcmp(j->src_bucket, j->dst_bucket))
		return ais_errf(errmsg, -EINVAL,
				"the destination must be another bucket than "
				"the source");
	if (strlen(j->etl_args) > META_ETL_WORD_LEN ||
	    strlen(j->prefix) > 1024 || strlen(j->ext_from) > 64 ||
	    strlen(j->ext_to) > 64 || (!j->ext_from[0] != !j->ext_to[0]))
		return ais_errf(errmsg, -EINVAL,
				"job %s: bad arguments, prefix or extensions",
				j->id);
	if (meta_job_find(m, j->id) >= 0)
		return ais_errf(errmsg, -EEXIST, "job %s exists", j->id);
	if (m->njobs >= META_JOBS_MAX)
		return ais_errf(errmsg, -ENOSPC,
				"%d jobs kept already: ais job rm some",
				META_JOBS_MAX);
	return 0;
}

Ais__EtlSpec *meta_etl_copy(const Ais__EtlSpec *e)
{
	return (Ais__EtlSpec *)ais_pb_dup(&e->base);
}

long meta_etls_find(Ais__EtlSpec *const *v, size_t n, const char *name)
{
	return meta_sorted_find((void *const *)v, n,
				offsetof(Ais__EtlSpec, name), name);
}

int meta_etl_find(const struct meta *m, const char *name)
{
	return (int)meta_etls_find(m->etls, m->netls, name);
}

long meta_s3_keys_find(Ais__S3Key *const *v, size_t n, const char *ak)
{
	return meta_sorted_find((void *const *)v, n,
				offsetof(Ais__S3Key, access_key), ak);
}

static bool s3_word_ok(const char *w, bool alnum_only)
{
	size_t n = w ? strlen(w) : 0;

	if (n < 16 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)w[i];

		if (alnum_only ? !((ch >= '0' && ch <= '9') ||
				   (ch >= 'A' && ch <= 'Z') ||
				   (ch >= 'a' && ch <= 'z'))
			       : (ch <= ' ' || ch >= 0x7f))
			return false;
	}
	return true;
}

int meta_s3_key_check(const Ais__S3Key *k, char *errmsg)
{
	if (!k || !s3_word_ok(k->access_key, true))
		return ais_errf(errmsg, -EINVAL,
				"an S3 access key is 16 to 128 letters and "
				"digits");
	if (!s3_word_ok(k->secret, false))
		return ais_errf(errmsg, -EINVAL,
				"an S3 secret key is 16 to 128 printable "
				"ASCII characters, no blank");
	if (k->comment && strlen(k->comment) > 256)
		return ais_errf(errmsg, -EINVAL,
				"an S3 key's comment is at most 256 bytes");
	return 0;
}

Ais__S3Key *meta_s3_key_copy(const Ais__S3Key *k)
{
	return (Ais__S3Key *)ais_pb_dup(&k->base);
}

/* The rules a transform's spec must follow to be kept: what every node can
 * check without looking at its disks (whether the program is under its
 * etl_dir is the node's to check, when it runs it). */
static int etl_spec_check(const Ais__EtlSpec *e, char *errmsg)
{
	size_t i;

	if (!e)
		return ais_errf(errmsg, -EINVAL, "no transform given");
	if (ais_name_check_etl(e->name, errmsg))
		return -EINVAL;
	if (ais_etl_argv_check(e->name, e->argv, e->n_argv, errmsg))
		return -EINVAL;
	if (e->mode != AIS__ETL_MODE__ETL_FILTER &&
	    e->mode != AIS__ETL_MODE__ETL_WORKER)
		return ais_errf(errmsg, -EINVAL,
				"transform %s: unknown mode %d", e->name,
				(int)e->mode);
	if (e->workers > 64)
		return ais_errf(errmsg, -EINVAL,
				"transform %s: at most 64 workers a node",
				e->name);
	if (e->timeout_ms > AIS_ETL_TIMEOUT_MAX_MS)
		return ais_errf(errmsg, -EINVAL,
				"transform %s: a timeout of at most %u s",
				e->name, AIS_ETL_TIMEOUT_MAX_MS / 1000);
	/* Small enough that a listing of many fits an answer's head. */
	if (e->n_argv > META_ETL_WORDS_MAX || e->n_env > META_ETL_WORDS_MAX)
		return ais_errf(errmsg, -EINVAL,
				"transform %s: at most %d words and %d "
				"environment entries",
				e->name, META_ETL_WORDS_MAX,
				META_ETL_WORDS_MAX);
	for (i = 0; i < e->n_argv; i++)
		if (!e->argv[i] || strlen(e->argv[i]) > META_ETL_WORD_LEN)
			return ais_errf(errmsg, -EINVAL,
					"transform %s: a word of at most %d "
					"bytes",
					e->name, META_ETL_WORD_LEN);
	for (i = 0; i < e->n_env; i++) {
		if (!e->env[i] || strlen(e->env[i]) > META_ETL_WORD_LEN)
			return ais_errf(errmsg, -EINVAL,
					"transform %s: an environment entry of "
					"at most %d bytes",
					e->name, META_ETL_WORD_LEN);
		if (ais_etl_env_check(e->env[i], errmsg))
			return -EINVAL;
	}
	return 0;
}

void meta_free(struct meta *m)
{
	if (!m)
		return;
	meta_clear(m);
	free(m);
}

static struct meta *meta_dup(const struct meta *m)
{
	struct meta *d = calloc(1, sizeof(*d));
	size_t i;

	if (!d)
		return NULL;
	d->nodes = ais_map_dup(m->nodes);
	d->buckets = calloc(m->nbuckets + 1, sizeof(*d->buckets));
	d->history = calloc(m->nhistory + 1, sizeof(*d->history));
	d->rebalanced = calloc(m->nrebalanced + 1, sizeof(*d->rebalanced));
	d->etls = calloc(m->netls + 1, sizeof(*d->etls));
	d->jobs = calloc(m->njobs + 1, sizeof(*d->jobs));
	d->s3keys = calloc(m->ns3keys + 1, sizeof(*d->s3keys));
	if (!d->nodes || !d->buckets || !d->history || !d->rebalanced ||
	    !d->etls || !d->jobs || !d->s3keys)
		goto err;
	if (meta_users_copy(&d->u, &m->u, NULL))
		goto err;
	for (; d->ns3keys < m->ns3keys; d->ns3keys++)
		if (!(d->s3keys[d->ns3keys] =
			  meta_s3_key_copy(m->s3keys[d->ns3keys])))
			goto err;
	for (; d->njobs < m->njobs; d->njobs++)
		if (!(d->jobs[d->njobs] = meta_job_copy(m->jobs[d->njobs])))
			goto err;
	for (; d->netls < m->netls; d->netls++)
		if (!(d->etls[d->netls] = meta_etl_copy(m->etls[d->netls])))
			goto err;
	for (; d->nbuckets < m->nbuckets; d->nbuckets++) {
		i = d->nbuckets;
		d->buckets[i].name = strdup(m->buckets[i].name);
		if (!d->buckets[i].name)
			goto err;
		d->buckets[i].created_ns = m->buckets[i].created_ns;
		d->buckets[i].copies = m->buckets[i].copies;
	}
	for (; d->nhistory < m->nhistory; d->nhistory++)
		if (!(d->history[d->nhistory] =
			  ais_map_dup(m->history[d->nhistory])))
			goto err;
	for (; d->nrebalanced < m->nrebalanced; d->nrebalanced++)
		if (!(d->rebalanced[d->nrebalanced] =
			  strdup(m->rebalanced[d->nrebalanced])))
			goto err;
	d->rebalance_id = m->rebalance_id;
	return d;
err:
	meta_free(d);
	return NULL;
}

int meta_bucket_find(const struct meta *m, const char *name)
{
	size_t lo = 0, hi = m->nbuckets;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->buckets[mid].name, name);

		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(int)lo - 1;
}

bool meta_rebalanced(const struct meta *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->nrebalanced; i++)
		if (!strcmp(m->rebalanced[i], id))
			return true;
	return false;
}

static size_t count_online(const struct ais_map *nodes, const char *except)
{
	size_t i, n = 0;

	for (i = 0; i < nodes->n; i++)
		if (nodes->nodes[i].state == AIS_NODE_ONLINE &&
		    (!except || strcmp(nodes->nodes[i].id, except)))
			n++;
	return n;
}

static int node_from_pb(const Ais__Node *pb, struct ais_node *n, char *errmsg)
{
	memset(n, 0, sizeof(*n));
	if (!pb || !pb->id || !pb->id[0] || strlen(pb->id) >= sizeof(n->id) ||
	    !pb->host || !pb->host[0] || strlen(pb->host) >= sizeof(n->host) ||
	    pb->port == 0 || pb->port > 65535 ||
	    (pb->raft_addr && strlen(pb->raft_addr) >= sizeof(n->raft_addr)))
		return ais_errf(errmsg, -EINVAL,
				"a node needs an id, a host and a port");
	strcpy(n->id, pb->id);
	strcpy(n->host, pb->host);
	n->port = (uint16_t)pb->port;
	if (pb->raft_addr)
		strcpy(n->raft_addr, pb->raft_addr);
	n->state = pb->state <= AIS__NODE__STATE__JOINING ? (int)pb->state
							  : AIS_NODE_ONLINE;
	n->down = pb->down;
	return 0;
}

/* copies (0 = 1) is at most the nodes in the map (and AIS_COPIES_MAX). */
static int check_copies(const struct meta *m, uint32_t copies, char *errmsg)
{
	size_t i, n = 0;

	for (i = 0; i < m->nodes->n; i++)
		if (m->nodes->nodes[i].state != AIS_NODE_JOINING)
			n++;
	if (copies > AIS_COPIES_MAX)
		return ais_errf(errmsg, -EINVAL, "copies=%u: at most %d",
				copies, AIS_COPIES_MAX);
	if (copies > 1 && copies > n)
		return ais_errf(errmsg, -EINVAL,
				"copies=%u: the cluster has %zu node%s (each "
				"copy is on a different node)",
				copies, n, n == 1 ? "" : "s");
	return 0;
}

int meta_check(const struct meta *m, const Ais__MetaCmd *cmd, char *errmsg)
{
	const struct ais_node *n = NULL;
	struct ais_node joiner;
	int i, idx = -1;

	if (cmd->node_id && cmd->node_id[0]) {
		idx = ais_map_find(m->nodes, cmd->node_id);
		n = idx >= 0 ? &m->nodes->nodes[idx] : NULL;
	}
	switch (cmd->kind) {
	case AIS__META_CMD__KIND__JOIN:
		if (node_from_pb(cmd->node, &joiner, errmsg))
			return -EINVAL;
		for (i = 0; i < (int)m->nodes->n; i++) {
			const struct ais_node *o = &m->nodes->nodes[i];

			if (strcmp(o->id, joiner.id) &&
			    o->port == joiner.port &&
			    !strcmp(o->host, joiner.host))
				return ais_errf(errmsg, -EEXIST,
						"node %s already has address "
						"%s:%u (remove it first)",
						o->id, o->host, o->port);
		}
		for (i = 0; i < (int)cmd->n_buckets; i++)
			if (ais_name_check_bucket(cmd->buckets[i], errmsg))
				return -EINVAL;
		return 0;
	case AIS__META_CMD__KIND__BUCKET_CREATE:
		if (!cmd->bucket || ais_name_check_bucket(cmd->bucket, errmsg))
			return -EINVAL;
		if (meta_bucket_find(m, cmd->bucket) >= 0)
			return ais_errf(errmsg, -EEXIST,
					"bucket %s already exists",
					cmd->bucket);
		return check_copies(m, cmd->copies, errmsg);
	case AIS__META_CMD__KIND__BUCKET_PROPS:
		if (!cmd->bucket || meta_bucket_find(m, cmd->bucket) < 0)
			return ais_errf(errmsg, -ENOENT,
					"bucket %s does not exist",
					cmd->bucket ? cmd->bucket : "");
		return check_copies(m, cmd->copies, errmsg);
	case AIS__META_CMD__KIND__BUCKET_DESTROY:
		if (!cmd->bucket || meta_bucket_find(m, cmd->bucket) < 0)
			return ais_errf(errmsg, -ENOENT,
					"bucket %s does not exist",
					cmd->bucket ? cmd->bucket : "");
		return 0;
	case AIS__META_CMD__KIND__NODE_STATE:
		if (!n)
			return ais_errf(errmsg, -ENOENT,
					"no node %s in the map",
					cmd->node_id ? cmd->node_id : "");
		if (cmd->state > AIS_NODE_JOINING)
			return ais_errf(errmsg, -EINVAL,
					"unknown node state %u", cmd->state);
		if ((int)cmd->state == n->state)
			return 0;
		if (cmd->state == AIS_NODE_JOINING)
			return ais_errf(errmsg, -EINVAL,
					"node %s: only a new node is joining",
					n->id);
		if (cmd->state == AIS_NODE_ONLINE &&
		    n->state == AIS_NODE_DECOMMISSIONING)
			return ais_errf(errmsg, -EBUSY,
					"node %s is being decommissioned",
					n->id);
		if (cmd->state != AIS_NODE_ONLINE &&
		    n->state == AIS_NODE_ONLINE &&
		    count_online(m->nodes, n->id) == 0)
			return ais_errf(errmsg, -EBUSY,
					"node %s is the last node that takes "
					"data",
					n->id);
		return 0;
	case AIS__META_CMD__KIND__ETL_INIT:
		if (etl_spec_check(cmd->etl, errmsg))
			return -EINVAL;
		if (meta_etl_find(m, cmd->etl->name) >= 0)
			return ais_errf(errmsg, -EEXIST,
					"transform %s already exists (ais etl "
					"rm it first)",
					cmd->etl->name);
		if (m->netls >= META_ETLS_MAX)
			return ais_errf(errmsg, -ENOSPC,
					"%d transforms registered already: rm "
					"one first",
					META_ETLS_MAX);
		return 0;
	case AIS__META_CMD__KIND__ETL_REMOVE:
	case AIS__META_CMD__KIND__ETL_STATE:
		if (!cmd->etl_name || meta_etl_find(m, cmd->etl_name) < 0)
			return ais_errf(errmsg, -ENOENT, "no transform %s",
					cmd->etl_name ? cmd->etl_name : "");
		return 0;
	case AIS__META_CMD__KIND__JOB_START:
		return job_check(m, cmd->job, errmsg);
	case AIS__META_CMD__KIND__S3_KEY_ADD:
		if (meta_s3_key_check(cmd->s3_key, errmsg))
			return -EINVAL;
		if (meta_s3_keys_find(m->s3keys, m->ns3keys,
				      cmd->s3_key->access_key) >= 0)
			return ais_errf(errmsg, -EEXIST,
					"S3 access key %s exists already",
					cmd->s3_key->access_key);
		if (m->ns3keys >= META_S3_KEYS_MAX)
			return ais_errf(errmsg, -ENOSPC,
					"%d S3 keys kept already: rm one "
					"first",
					META_S3_KEYS_MAX);
		if (cmd->s3_key->user && cmd->s3_key->user[0] &&
		    meta_user_find(&m->u, cmd->s3_key->user) < 0)
			return ais_errf(errmsg, -ENOENT, "no user %s",
					cmd->s3_key->user);
		return 0;
	case AIS__META_CMD__KIND__USER_ADD:
	case AIS__META_CMD__KIND__USER_REMOVE:
	case AIS__META_CMD__KIND__USER_GRANT:
	case AIS__META_CMD__KIND__USER_REVOKE:
	case AIS__META_CMD__KIND__TOKEN_REVOKE:
		return meta_users_check(m, cmd, errmsg);
	case AIS__META_CMD__KIND__S3_KEY_REMOVE:
		if (!cmd->s3_key || !cmd->s3_key->access_key ||
		    meta_s3_keys_find(m->s3keys, m->ns3keys,
				      cmd->s3_key->access_key) < 0)
			return ais_errf(errmsg, -ENOENT, "no S3 access key %s",
					cmd->s3_key && cmd->s3_key->access_key
					    ? cmd->s3_key->access_key
					    : "");
		return 0;
	case AIS__META_CMD__KIND__JOB_STOP:
	case AIS__META_CMD__KIND__JOB_REMOVE:
		if (meta_job_find(m, cmd->job_id) < 0)
			return ais_errf(errmsg, -ENOENT, "no job %s",
					cmd->job_id ? cmd->job_id : "");
		return 0;
	case AIS__META_CMD__KIND__NODE_DOWN:
	case AIS__META_CMD__KIND__NODE_REMOVE:
	case AIS__META_CMD__KIND__REBALANCE_DONE:
		if (!n)
			return ais_errf(errmsg, -ENOENT,
					"no node %s in the map",
					cmd->node_id ? cmd->node_id : "");
		if (cmd->kind == AIS__META_CMD__KIND__NODE_REMOVE &&
		    n->state == AIS_NODE_ONLINE &&
		    count_online(m->nodes, n->id) == 0)
			return ais_errf(errmsg, -EBUSY,
					"node %s is the last node that takes "
					"data",
					n->id);
		return 0;
	default:
		return 0; /* a kind from a newer version: a no-op */
	}
}

static int bucket_add(struct meta *m, const char *name, int64_t created_ns,
		      uint32_t copies)
{
	struct meta_bucket *b;
	int i = meta_bucket_find(m, name);
	size_t at;

	if (i >= 0)
		return 0;
	at = (size_t)(-i - 1);
	b = realloc(m->buckets, (m->nbuckets + 1) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	m->buckets = b;
	memmove(b + at + 1, b + at, (m->nbuckets - at) * sizeof(*b));
	b[at].name = strdup(name);
	if (!b[at].name) {
		memmove(b + at, b + at + 1, (m->nbuckets - at) * sizeof(*b));
		return -ENOMEM;
	}
	b[at].created_ns = created_ns;
	b[at].copies = copies ? copies : 1;
	m->nbuckets++;
	if (ais_map_set_copies(m->nodes, name, b[at].copies) < 0)
		return -ENOMEM;
	return 1;
}

static void rebalanced_drop(struct meta *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->nrebalanced; i++)
		if (!strcmp(m->rebalanced[i], id)) {
			free(m->rebalanced[i]);
			m->rebalanced[i] = m->rebalanced[--m->nrebalanced];
			return;
		}
}

/* The ONLINE nodes of m, as a map whose version is the generation id. */
static struct ais_map *placement_of(const struct ais_map *nodes, uint64_t id)
{
	struct ais_map *p = ais_map_new();
	size_t i;

	if (!p)
		return NULL;
	p->version = id;
	for (i = 0; i < nodes->n; i++)
		if (nodes->nodes[i].state == AIS_NODE_ONLINE &&
		    ais_map_add(p, &nodes->nodes[i]) < 0) {
			ais_map_free(p);
			return NULL;
		}
	for (i = 0; i < nodes->nbcopies; i++)
		if (ais_map_set_copies(p, nodes->bcopies[i].name,
				       nodes->bcopies[i].copies) < 0) {
			ais_map_free(p);
			return NULL;
		}
	return p;
}

/* After a change of m->nodes: if the placement differs from before's, the
 * old one joins the history and a new generation starts. */
static int placement_new(struct meta *m, const struct ais_map *before)
{
	struct ais_map *old;
	size_t i;

	old = placement_of(before, m->rebalance_id);
	if (!old)
		return -ENOMEM;
	if (old->n == 0) {
		ais_map_free(old);
	} else {
		if (m->nhistory == META_HISTORY_MAX)
			ais_map_free(m->history[--m->nhistory]);
		struct ais_map **h =
		    realloc(m->history, (m->nhistory + 1) * sizeof(*h));
		if (!h) {
			ais_map_free(old);
			return -ENOMEM;
		}
		memmove(h + 1, h, m->nhistory * sizeof(*h));
		h[0] = old;
		m->history = h;
		m->nhistory++;
	}
	m->rebalance_id++;
	for (i = 0; i < m->nrebalanced; i++)
		free(m->rebalanced[i]);
	m->nrebalanced = 0;
	return 0;
}

static int placement_follow(struct meta *m, const struct ais_map *before)
{
	if (ais_map_same_placement(before, m->nodes))
		return 0;
	return placement_new(m, before);
}

/* When every node has finished the current generation and none keeps data
 * in maintenance, every object is at its owner: the history goes. A
 * decommissioning node that has finished leaves the map. */
static void rebalance_settle(struct meta *m)
{
	size_t i;

	for (i = 0; i < m->nodes->n;) {
		const struct ais_node *n = &m->nodes->nodes[i];

		if (n->state == AIS_NODE_DECOMMISSIONING &&
		    meta_rebalanced(m, n->id)) {
			rebalanced_drop(m, n->id);
			ais_map_remove(m->nodes, n->id);
			continue;
		}
		i++;
	}
	for (i = 0; i < m->nodes->n; i++)
		if (!meta_rebalanced(m, m->nodes->nodes[i].id) ||
		    m->nodes->nodes[i].state == AIS_NODE_MAINTENANCE)
			return;
	for (i = 0; i < m->nhistory; i++)
		ais_map_free(m->history[i]);
	m->nhistory = 0;
}

/* Applies cmd to m in place; m may be half-changed on -ENOMEM (the caller
 * works on a copy). Returns 1 if m changed, 0 if not, or -errno. */
static int apply_to(struct meta *m, const Ais__MetaCmd *cmd)
{
	struct ais_map *before = NULL;
	struct ais_node node;
	char errmsg[AIS_ERRMSG_LEN];
	size_t i;
	int idx = -1, rc = 0;

	if (cmd->node_id && cmd->node_id[0])
		idx = ais_map_find(m->nodes, cmd->node_id);
	before = ais_map_dup(m->nodes);
	if (!before)
		return -ENOMEM;
	switch (cmd->kind) {
	case AIS__META_CMD__KIND__JOIN:
		node_from_pb(cmd->node, &node, errmsg);
		idx = ais_map_find(m->nodes, node.id);
		if (idx >= 0) {
			/* A known node again: its address may have moved;
			 * its state is the cluster's, not its own, and
			 * whether it is down is the leader's to say. */
			node.state = m->nodes->nodes[idx].state;
			node.down = m->nodes->nodes[idx].down;
		} else {
			/* Out of placement until it has the log and says
			 * so (NODE_STATE ONLINE from the node itself). */
			node.state = AIS_NODE_JOINING;
			node.down = false;
		}
		node.role = AIS_ROLE_NONE;
		rc = ais_map_add(m->nodes, &node);
		for (i = 0; rc >= 0 && i < cmd->n_buckets; i++) {
			int r = bucket_add(m, cmd->buckets[i], cmd->time_ns, 1);

			rc = r < 0 ? r : rc | r;
		}
		break;
	case AIS__META_CMD__KIND__BUCKET_CREATE:
		rc = bucket_add(m, cmd->bucket, cmd->time_ns, cmd->copies);
		break;
	case AIS__META_CMD__KIND__BUCKET_PROPS:
		idx = meta_bucket_find(m, cmd->bucket);
		{
			uint32_t copies = cmd->copies ? cmd->copies : 1;

			if (m->buckets[idx].copies == copies)
				break;
			m->buckets[idx].copies = copies;
			rc = ais_map_set_copies(m->nodes, cmd->bucket, copies);
			if (rc == 0)
				rc = placement_new(m, before);
			if (rc == 0)
				rc = 1;
		}
		break;
	case AIS__META_CMD__KIND__BUCKET_DESTROY:
		idx = meta_bucket_find(m, cmd->bucket);
		(void)ais_map_set_copies(m->nodes, cmd->bucket, 1);
		free(m->buckets[idx].name);
		memmove(m->buckets + idx, m->buckets + idx + 1,
			(m->nbuckets - (size_t)idx - 1) * sizeof(*m->buckets));
		m->nbuckets--;
		/* Rights on it go with it: a bucket made again under its name
		 * is another's to grant. */
		rc = meta_users_bucket_gone(m, cmd->bucket);
		if (rc == 0)
			rc = 1;
		break;
	case AIS__META_CMD__KIND__ETL_INIT: {
		Ais__EtlSpec *e = meta_etl_copy(cmd->etl), **v;
		size_t at = (size_t)(-meta_etl_find(m, cmd->etl->name) - 1);

		v = e ? realloc(m->etls, (m->netls + 1) * sizeof(*v)) : NULL;
		if (!v) {
			if (e)
				ais__etl_spec__free_unpacked(e, NULL);
			rc = -ENOMEM;
			break;
		}
		m->etls = v;
		e->created_ns = cmd->time_ns;
		e->stopped = false;
		memmove(v + at + 1, v + at, (m->netls - at) * sizeof(*v));
		v[at] = e;
		m->netls++;
		rc = 1;
		break;
	}
	case AIS__META_CMD__KIND__ETL_REMOVE:
		idx = meta_etl_find(m, cmd->etl_name);
		ais__etl_spec__free_unpacked(m->etls[idx], NULL);
		memmove(m->etls + idx, m->etls + idx + 1,
			(m->netls - (size_t)idx - 1) * sizeof(*m->etls));
		m->netls--;
		rc = 1;
		break;
	case AIS__META_CMD__KIND__ETL_STATE:
		idx = meta_etl_find(m, cmd->etl_name);
		rc = m->etls[idx]->stopped != cmd->etl_stop;
		m->etls[idx]->stopped = cmd->etl_stop;
		break;
	case AIS__META_CMD__KIND__JOB_START: {
		Ais__EtlJob *j = meta_job_copy(cmd->job), **v;

		v = j ? realloc(m->jobs, (m->njobs + 1) * sizeof(*v)) : NULL;
		if (!v) {
			if (j)
				ais__etl_job__free_unpacked(j, NULL);
			rc = -ENOMEM;
			break;
		}
		m->jobs = v;
		j->created_ns = cmd->time_ns;
		j->stopped = false;
		v[m->njobs++] = j;
		rc = 1;
		break;
	}
	case AIS__META_CMD__KIND__S3_KEY_ADD: {
		Ais__S3Key *k = meta_s3_key_copy(cmd->s3_key), **v;
		size_t at =
		    (size_t)(-meta_s3_keys_find(m->s3keys, m->ns3keys,
						cmd->s3_key->access_key) -
			     1);

		v = k ? realloc(m->s3keys, (m->ns3keys + 1) * sizeof(*v))
		      : NULL;
		if (!v) {
			if (k)
				ais__s3_key__free_unpacked(k, NULL);
			rc = -ENOMEM;
			break;
		}
		m->s3keys = v;
		k->created_ns = cmd->time_ns;
		memmove(v + at + 1, v + at, (m->ns3keys - at) * sizeof(*v));
		v[at] = k;
		m->ns3keys++;
		rc = 1;
		break;
	}
	case AIS__META_CMD__KIND__S3_KEY_REMOVE:
		idx = (int)meta_s3_keys_find(m->s3keys, m->ns3keys,
					     cmd->s3_key->access_key);
		ais__s3_key__free_unpacked(m->s3keys[idx], NULL);
		memmove(m->s3keys + idx, m->s3keys + idx + 1,
			(m->ns3keys - (size_t)idx - 1) * sizeof(*m->s3keys));
		m->ns3keys--;
		rc = 1;
		break;
	case AIS__META_CMD__KIND__USER_ADD:
	case AIS__META_CMD__KIND__USER_REMOVE:
	case AIS__META_CMD__KIND__USER_GRANT:
	case AIS__META_CMD__KIND__USER_REVOKE:
	case AIS__META_CMD__KIND__TOKEN_REVOKE:
		rc = meta_users_apply(m, cmd);
		break;
	case AIS__META_CMD__KIND__JOB_STOP:
		idx = meta_job_find(m, cmd->job_id);
		rc = !m->jobs[idx]->stopped;
		m->jobs[idx]->stopped = true;
		break;
	case AIS__META_CMD__KIND__JOB_REMOVE:
		idx = meta_job_find(m, cmd->job_id);
		ais__etl_job__free_unpacked(m->jobs[idx], NULL);
		memmove(m->jobs + idx, m->jobs + idx + 1,
			(m->njobs - (size_t)idx - 1) * sizeof(*m->jobs));
		m->njobs--;
		rc = 1;
		break;
	case AIS__META_CMD__KIND__NODE_STATE:
		rc = m->nodes->nodes[idx].state != (int)cmd->state;
		m->nodes->nodes[idx].state = (int)cmd->state;
		break;
	case AIS__META_CMD__KIND__NODE_DOWN:
		rc = m->nodes->nodes[idx].down != cmd->down;
		m->nodes->nodes[idx].down = cmd->down;
		break;
	case AIS__META_CMD__KIND__NODE_REMOVE:
		rebalanced_drop(m, cmd->node_id);
		ais_map_remove(m->nodes, cmd->node_id);
		rc = 1;
		break;
	case AIS__META_CMD__KIND__REBALANCE_DONE:
		if (cmd->rebalance_id != m->rebalance_id ||
		    meta_rebalanced(m, cmd->node_id))
			break;
		{
			char **v = realloc(m->rebalanced,
					   (m->nrebalanced + 1) * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			m->rebalanced = v;
			v[m->nrebalanced] = strdup(cmd->node_id);
			if (!v[m->nrebalanced]) {
				rc = -ENOMEM;
				break;
			}
			m->nrebalanced++;
		}
		rc = 1;
		break;
	default:
		break;
	}
	if (rc > 0) {
		int r = placement_follow(m, before);

		if (r < 0)
			rc = r;
		else
			rebalance_settle(m);
	}
	ais_map_free(before);
	return rc;
}

int meta_apply(struct meta *m, const Ais__MetaCmd *cmd)
{
	char errmsg[AIS_ERRMSG_LEN];
	struct meta *d;
	int rc = meta_check(m, cmd, errmsg);

	if (rc)
		return rc;
	d = meta_dup(m);
	if (!d)
		return -ENOMEM;
	rc = apply_to(d, cmd);
	if (rc <= 0) {
		meta_free(d);
		return rc;
	}
	d->nodes->version = m->nodes->version + 1;
	meta_clear(m);
	*m = *d;
	free(d);
	return 0;
}

int meta_encode(const struct meta *m, void **buf, size_t *len)
{
	Ais__MetaState st = AIS__META_STATE__INIT;
	Ais__ClusterMap *nodes = ais_map_to_pb(m->nodes);
	Ais__MetaBucket *bk = calloc(m->nbuckets + 1, sizeof(*bk));
	Ais__MetaBucket **bkp = calloc(m->nbuckets + 1, sizeof(*bkp));
	Ais__MetaPlacement *pl = calloc(m->nhistory + 1, sizeof(*pl));
	Ais__MetaPlacement **plp = calloc(m->nhistory + 1, sizeof(*plp));
	Ais__ClusterMap **hmaps = calloc(m->nhistory + 1, sizeof(*hmaps));
	size_t i;
	int rc = -ENOMEM;

	if (!nodes || !bk || !bkp || !pl || !plp || !hmaps)
		goto out;
	st.version = m->nodes->version;
	st.n_nodes = nodes->n_nodes;
	st.nodes = nodes->nodes;
	for (i = 0; i < m->nbuckets; i++) {
		ais__meta_bucket__init(&bk[i]);
		bk[i].name = m->buckets[i].name;
		bk[i].created_ns = m->buckets[i].created_ns;
		bk[i].copies =
		    m->buckets[i].copies > 1 ? m->buckets[i].copies : 0;
		bkp[i] = &bk[i];
	}
	st.n_buckets = m->nbuckets;
	st.buckets = bkp;
	st.rebalance_id = m->rebalance_id;
	for (i = 0; i < m->nhistory; i++) {
		hmaps[i] = ais_map_to_pb(m->history[i]);
		if (!hmaps[i])
			goto out;
		ais__meta_placement__init(&pl[i]);
		pl[i].rebalance_id = m->history[i]->version;
		pl[i].n_nodes = hmaps[i]->n_nodes;
		pl[i].nodes = hmaps[i]->nodes;
		pl[i].n_buckets = hmaps[i]->n_buckets;
		pl[i].buckets = hmaps[i]->buckets;
		plp[i] = &pl[i];
	}
	st.n_history = m->nhistory;
	st.history = plp;
	st.n_rebalanced = m->nrebalanced;
	st.rebalanced = m->rebalanced;
	st.n_etls = m->netls;
	st.etls = m->etls;
	st.n_etl_jobs = m->njobs;
	st.etl_jobs = m->jobs;
	st.n_s3_keys = m->ns3keys;
	st.s3_keys = m->s3keys;
	st.n_users = m->u.nusers;
	st.users = m->u.users;
	st.n_revoked = m->u.nrevoked;
	st.revoked = m->u.revoked;
	/* As log entries: a length, the message, zeros to a multiple of 8
	 * (libraft's unit of storage). */
	{
		size_t n = ais__meta_state__get_packed_size(&st);
		uint32_t le = htole32((uint32_t)n);

		*len = (4 + n + 7) & ~(size_t)7;
		*buf = raft_calloc(1, *len);
		if (!*buf)
			goto out;
		memcpy(*buf, &le, 4);
		ais__meta_state__pack(&st, (uint8_t *)*buf + 4);
	}
	rc = 0;
out:
	for (i = 0; hmaps && i < m->nhistory; i++)
		ais_map_pb_free(hmaps[i]);
	free(hmaps);
	free(plp);
	free(pl);
	free(bkp);
	free(bk);
	ais_map_pb_free(nodes);
	return rc;
}

/* A ClusterMap view of nodes (and copies per bucket), to reuse
 * ais_map_from_pb's checks. */
static int nodes_from_pb(uint64_t version, Ais__Node **nodes, size_t n,
			 Ais__BucketCopies **bc, size_t nbc,
			 struct ais_map **out, char *errmsg)
{
	Ais__ClusterMap cm = AIS__CLUSTER_MAP__INIT;

	cm.version = version;
	cm.n_nodes = n;
	cm.nodes = nodes;
	cm.n_buckets = nbc;
	cm.buckets = bc;
	return ais_map_from_pb(&cm, out, errmsg);
}

int meta_decode(const void *buf, size_t len, struct meta **out, char *errmsg)
{
	Ais__MetaState *st = NULL;
	struct meta *m;
	uint32_t n;
	size_t i;
	int rc = -ENOMEM;

	if (len >= 4) {
		memcpy(&n, buf, 4);
		n = le32toh(n);
		if (n <= len - 4)
			st = ais__meta_state__unpack(NULL, n,
						     (const uint8_t *)buf + 4);
	}
	if (!st)
		return ais_errf(errmsg, -EPROTO,
				"cluster metadata snapshot does not parse");
	m = calloc(1, sizeof(*m));
	if (!m)
		goto out;
	rc = nodes_from_pb(st->version, st->nodes, st->n_nodes, NULL, 0,
			   &m->nodes, errmsg);
	if (rc)
		goto err;
	rc = -ENOMEM;
	m->buckets = calloc(st->n_buckets + 1, sizeof(*m->buckets));
	m->history = calloc(st->n_history + 1, sizeof(*m->history));
	m->rebalanced = calloc(st->n_rebalanced + 1, sizeof(*m->rebalanced));
	m->etls = calloc(st->n_etls + 1, sizeof(*m->etls));
	m->jobs = calloc(st->n_etl_jobs + 1, sizeof(*m->jobs));
	m->s3keys = calloc(st->n_s3_keys + 1, sizeof(*m->s3keys));
	if (!m->buckets || !m->history || !m->rebalanced || !m->etls ||
	    !m->jobs || !m->s3keys)
		goto err;
	{
		struct cluster_users view = {st->users, st->n_users,
					     st->revoked, st->n_revoked};

		rc = meta_users_copy(&m->u, &view, errmsg);
	}
	if (rc)
		goto err;
	rc = -ENOMEM;
	for (i = 0; i < st->n_s3_keys; i++) {
		/* Sorted when kept, as the transforms below. */
		if (!st->s3_keys[i]->access_key ||
		    (i && strcmp(st->s3_keys[i - 1]->access_key,
				 st->s3_keys[i]->access_key) >= 0)) {
			rc = ais_errf(errmsg, -EPROTO,
				      "cluster metadata snapshot: S3 keys out "
				      "of order");
			goto err;
		}
		if (!(m->s3keys[m->ns3keys] = meta_s3_key_copy(st->s3_keys[i])))
			goto err;
		m->ns3keys++;
	}
	for (i = 0; i < st->n_etl_jobs; i++) {
		if (!(m->jobs[m->njobs] = meta_job_copy(st->etl_jobs[i])))
			goto err;
		m->njobs++;
	}
	for (i = 0; i < st->n_etls; i++) {
		/* Sorted when kept; a snapshot out of order would break
		 * the lookups, so it is refused. */
		if (!st->etls[i]->name ||
		    (i &&
		     strcmp(st->etls[i - 1]->name, st->etls[i]->name) >= 0)) {
			rc = ais_errf(errmsg, -EPROTO,
				      "cluster metadata snapshot: transforms "
				      "out of order");
			goto err;
		}
		if (!(m->etls[m->netls] = meta_etl_copy(st->etls[i])))
			goto err;
		m->netls++;
	}
	for (i = 0; i < st->n_buckets; i++) {
		if (!st->buckets[i]->name)
			continue;
		m->buckets[m->nbuckets].name = strdup(st->buckets[i]->name);
		if (!m->buckets[m->nbuckets].name)
			goto err;
		m->buckets[m->nbuckets].created_ns = st->buckets[i]->created_ns;
		m->buckets[m->nbuckets].copies =
		    st->buckets[i]->copies ? st->buckets[i]->copies : 1;
		if (ais_map_set_copies(m->nodes, m->buckets[m->nbuckets].name,
				       m->buckets[m->nbuckets].copies) < 0) {
			m->nbuckets++;
			goto err;
		}
		m->nbuckets++;
	}
	for (i = 0; i < st->n_history; i++) {
		rc = nodes_from_pb(
		    st->history[i]->rebalance_id, st->history[i]->nodes,
		    st->history[i]->n_nodes, st->history[i]->buckets,
		    st->history[i]->n_buckets, &m->history[m->nhistory],
		    errmsg);
		if (rc)
			goto err;
		m->nhistory++;
	}
	rc = -ENOMEM;
	for (i = 0; i < st->n_rebalanced; i++)
		if (!(m->rebalanced[m->nrebalanced++] =
			  strdup(st->rebalanced[i])))
			goto err;
	m->rebalance_id = st->rebalance_id;
	*out = m;
	rc = 0;
	goto out;
err:
	meta_free(m);
out:
	ais__meta_state__free_unpacked(st, NULL);
	return rc;
}
