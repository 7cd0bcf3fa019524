/* Changes of the cluster metadata: each is a MetaCmd committed through
 * Raft. A worker thread packs it and hands it to the local Raft thread if
 * this node leads, or sends it (OP_META_PROPOSE) to the leader it knows,
 * and waits until it is committed and applied, or fails. No leader for
 * PROPOSE_WAIT_MS means a majority of voters is gone: -EAGAIN, the
 * metadata is read-only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#include "cluster/cluster_i.h"

#define PROPOSE_WAIT_MS 15000

/* Waits for p; returns its status (and message). */
static int wait_local(struct cluster *c, struct proposal *p, char *errmsg)
{
	struct timespec ts;
	int rc = 0, status;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += PROPOSE_WAIT_MS / 1000;
	pthread_mutex_lock(&c->mu);
	while (!p->done && rc == 0)
		rc = pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	if (p->done) {
		status = p->status;
		if (status && errmsg)
			snprintf(errmsg, AIS_ERRMSG_LEN, "%s", p->msg);
	} else {
		status = ais_errf(errmsg, -ETIMEDOUT,
				  "the metadata change was not committed "
				  "within %d s",
				  PROPOSE_WAIT_MS / 1000);
	}
	pthread_mutex_unlock(&c->mu);
	return status;
}

int cluster_propose_packed(struct cluster *c, const void *buf, size_t len,
			   char *errmsg)
{
	struct proposal *p = calloc(1, sizeof(*p));
	int rc;

	if (!p || !(p->buf = malloc(len ? len : 1))) {
		free(p);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	memcpy(p->buf, buf, len);
	p->len = len;
	p->c = c;
	p->refs = 2; /* this thread and the Raft thread */
	cluster_raft_submit(c, p);
	rc = wait_local(c, p, errmsg);
	pthread_mutex_lock(&c->mu);
	if (--p->refs == 0) {
		pthread_mutex_unlock(&c->mu);
		free(p->buf);
		free(p);
	} else {
		pthread_mutex_unlock(&c->mu);
	}
	return rc;
}

/* Sends the packed command to the leader node. */
static int propose_remote(struct cluster *c, const struct ais_node *leader,
			  uint8_t *buf, size_t len, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp = NULL;
	uint64_t want = 0;
	int rc, i;

	req.op = AIS__OP__OP_META_PROPOSE;
	req.meta_cmd.data = buf;
	req.meta_cmd.len = len;
	req.map_version = cluster_version(c);
	rc = peers_call(c->peers, leader, &req, &resp, errmsg);
	if (rc)
		return -EAGAIN; /* try again: the leader may be moving */
	rc = resp->status;
	if (rc)
		snprintf(errmsg, AIS_ERRMSG_LEN, "%s",
			 resp->message ? resp->message : strerror(-rc));
	else
		want = resp->map_version;
	ais__response__free_unpacked(resp, NULL);
	/* Committed: let this node apply it too before answering, so that
	 * whoever asked here reads the change here. */
	for (i = 0; rc == 0 && i < 1000 && cluster_version(c) < want; i++)
		usleep(2000);
	return rc;
}

int cluster_propose(struct cluster *c, const Ais__MetaCmd *cmd, char *errmsg)
{
	uint64_t deadline = ais_now_mono_ns() + PROPOSE_WAIT_MS * 1000000ull;
	char why[AIS_ERRMSG_LEN] = "no Raft leader";
	size_t len = ais__meta_cmd__get_packed_size(cmd);
	uint8_t *buf = malloc(len ? len : 1);
	int rc = -EAGAIN;

	if (!buf)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	ais__meta_cmd__pack(cmd, buf);
	while (ais_now_mono_ns() < deadline) {
		struct cluster_map *cm = cluster_map_get(c);
		struct ais_node leader;
		int idx =
		    cm->m->leader[0] ? ais_map_find(cm->m, cm->m->leader) : -1;
		bool self;

		if (idx >= 0)
			leader = cm->m->nodes[idx];
		if (idx < 0 && cm->m->n == 0 &&
		    strcmp(cm->m->leader, c->self.id)) {
			/* Never in a cluster: no leader will show up here
			 * before this node joins one. */
			cluster_map_put(cm);
			rc = ais_errf(why, -EAGAIN,
				      "node %s is not in a cluster yet",
				      c->self.id);
			break;
		}
		cluster_map_put(cm);
		pthread_mutex_lock(&c->mu);
		self = c->is_leader;
		if (c->stopping) {
			pthread_mutex_unlock(&c->mu);
			rc = ais_errf(why, -ESHUTDOWN, "the node is stopping");
			break;
		}
		pthread_mutex_unlock(&c->mu);
		if (self)
			rc = cluster_propose_packed(c, buf, len, why);
		else if (idx >= 0 && strcmp(leader.id, c->self.id))
			rc = propose_remote(c, &leader, buf, len, why);
		else
			rc = -EAGAIN;
		if (rc != -EAGAIN)
			break;
		if (!cluster_sleep(c, 200))
			break;
	}
	free(buf);
	if (rc == -EAGAIN)
		return ais_errf(errmsg, -EAGAIN,
				"cluster metadata is read-only: no Raft "
				"leader (a majority of the voters is "
				"unreachable; %s)",
				why);
	if (rc)
		snprintf(errmsg, AIS_ERRMSG_LEN, "%s", why);
	return rc;
}

int cluster_join(struct cluster *c, const struct ais_node *joiner,
		 char *const *buckets, size_t nbuckets, char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;
	Ais__Node node = AIS__NODE__INIT;

	node.id = (char *)joiner->id;
	node.host = (char *)joiner->host;
	node.port = joiner->port;
	node.raft_addr = (char *)joiner->raft_addr;
	cmd.kind = AIS__META_CMD__KIND__JOIN;
	cmd.node = &node;
	cmd.buckets = (char **)buckets;
	cmd.n_buckets = nbuckets;
	cmd.time_ns = ais_now_real_ns();
	return cluster_propose(c, &cmd, errmsg);
}

static int bucket_cmd(struct cluster *c, Ais__MetaCmd__Kind kind,
		      const char *bucket, uint32_t copies, char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;

	cmd.kind = kind;
	cmd.bucket = (char *)bucket;
	cmd.copies = copies;
	cmd.time_ns = ais_now_real_ns();
	return cluster_propose(c, &cmd, errmsg);
}

int cluster_bucket_create(struct cluster *c, const char *bucket,
			  uint32_t copies, char *errmsg)
{
	return bucket_cmd(c, AIS__META_CMD__KIND__BUCKET_CREATE, bucket, copies,
			  errmsg);
}

int cluster_bucket_props(struct cluster *c, const char *bucket, uint32_t copies,
			 char *errmsg)
{
	return bucket_cmd(c, AIS__META_CMD__KIND__BUCKET_PROPS, bucket, copies,
			  errmsg);
}

int cluster_bucket_destroy(struct cluster *c, const char *bucket, char *errmsg)
{
	return bucket_cmd(c, AIS__META_CMD__KIND__BUCKET_DESTROY, bucket, 0,
			  errmsg);
}

int cluster_etl_init(struct cluster *c, const Ais__EtlSpec *spec, char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;

	cmd.kind = AIS__META_CMD__KIND__ETL_INIT;
	cmd.etl = (Ais__EtlSpec *)spec;
	cmd.time_ns = ais_now_real_ns();
	return cluster_propose(c, &cmd, errmsg);
}

static int etl_cmd(struct cluster *c, Ais__MetaCmd__Kind kind, const char *name,
		   bool stop, char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;

	cmd.kind = kind;
	cmd.etl_name = (char *)name;
	cmd.etl_stop = stop;
	cmd.time_ns = ais_now_real_ns();
	return cluster_propose(c, &cmd, errmsg);
}

int cluster_etl_remove(struct cluster *c, const char *name, char *errmsg)
{
	return etl_cmd(c, AIS__META_CMD__KIND__ETL_REMOVE, name, false, errmsg);
}

int cluster_etl_state(struct cluster *c, const char *name, bool stop,
		      char *errmsg)
{
	return etl_cmd(c, AIS__META_CMD__KIND__ETL_STATE, name, stop, errmsg);
}

int cluster_job_start(struct cluster *c, const Ais__EtlJob *job, char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;

	cmd.kind = AIS__META_CMD__KIND__JOB_START;
	cmd.job = (Ais__EtlJob *)job;
	cmd.time_ns = ais_now_real_ns();
	return cluster_propose(c, &cmd, errmsg);
}

static int job_cmd(struct cluster *c, Ais__MetaCmd__Kind kind, const char *id,
		   char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;

	cmd.kind = kind;
	cmd.job_id = (char *)id;
	cmd.time_ns = ais_now_real_ns();
	return cluster_propose(c, &cmd, errmsg);
}

int cluster_job_stop(struct cluster *c, const char *id, char *errmsg)
{
	return job_cmd(c, AIS__META_CMD__KIND__JOB_STOP, id, errmsg);
}

int cluster_job_remove(struct cluster *c, const char *id, char *errmsg)
{
	return job_cmd(c, AIS__META_CMD__KIND__JOB_REMOVE, id, errmsg);
}

int cluster_s3_key_add(struct cluster *c, const Ais__S3Key *key, char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;

	cmd.kind = AIS__META_CMD__KIND__S3_KEY_ADD;
	cmd.s3_key = (Ais__S3Key *)key;
	cmd.time_ns = ais_now_real_ns();
	return cluster_propose(c, &cmd, errmsg);
}

int cluster_s3_key_remove(struct cluster *c, const char *access_key,
			  char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;
	Ais__S3Key k = AIS__S3_KEY__INIT;

	k.access_key = (char *)access_key;
	cmd.kind = AIS__META_CMD__KIND__S3_KEY_REMOVE;
	cmd.s3_key = &k;
	cmd.time_ns = ais_now_real_ns();
	return cluster_propose(c, &cmd, errmsg);
}

int cluster_users_change(struct cluster *c, int kind, const Ais__User *user,
			 const Ais__Grant *grant,
			 const Ais__RevokedToken *revoked, char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;

	cmd.kind = kind;
	cmd.user = (Ais__User *)user;
	cmd.grant = (Ais__Grant *)grant;
	cmd.revoked = (Ais__RevokedToken *)revoked;
	cmd.time_ns = ais_now_real_ns();
	return cluster_propose(c, &cmd, errmsg);
}

int cluster_change(struct cluster *c, const Ais__ClusterChange *ch,
		   char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;
	struct cluster_map *cm;
	char id[AIS_NODE_ID_MAX];
	int idx;

	if (!ch || !ch->node || !ch->node[0])
		return ais_errf(errmsg, -EINVAL,
				"a cluster change needs a node (an id or "
				"HOST:PORT)");
	cm = cluster_map_get(c);
	idx = ais_map_lookup(cm->m, ch->node);
	if (idx >= 0)
		snprintf(id, sizeof(id), "%s", cm->m->nodes[idx].id);
	cluster_map_put(cm);
	if (idx < 0)
		return ais_errf(errmsg, -ENOENT, "no node %s in the map",
				ch->node);
	cmd.node_id = id;
	cmd.time_ns = ais_now_real_ns();
	switch (ch->kind) {
	case AIS__CLUSTER_CHANGE__KIND__MAINTENANCE_START:
		cmd.kind = AIS__META_CMD__KIND__NODE_STATE;
		cmd.state = AIS_NODE_MAINTENANCE;
		break;
	case AIS__CLUSTER_CHANGE__KIND__MAINTENANCE_STOP:
		cmd.kind = AIS__META_CMD__KIND__NODE_STATE;
		cmd.state = AIS_NODE_ONLINE;
		break;
	case AIS__CLUSTER_CHANGE__KIND__DECOMMISSION:
		cmd.kind = AIS__META_CMD__KIND__NODE_STATE;
		cmd.state = AIS_NODE_DECOMMISSIONING;
		break;
	case AIS__CLUSTER_CHANGE__KIND__REMOVE:
		if (!ch->force)
			return ais_errf(errmsg, -EINVAL,
					"removing node %s loses the objects "
					"only it holds; say --force (or "
					"decommission it to move them first)",
					id);
		cmd.kind = AIS__META_CMD__KIND__NODE_REMOVE;
		break;
	default:
		return ais_errf(errmsg, -EINVAL, "unknown cluster change %d",
				(int)ch->kind);
	}
	return cluster_propose(c, &cmd, errmsg);
}

/* Whether another node of the map has applied a newer map without this
 * node in it: 1 if one has, else 0. */
static int others_dropped_self(struct cluster *c)
{
	Ais__Request req = AIS__REQUEST__INIT;
	char errmsg[AIS_ERRMSG_LEN];
	struct cluster_map *cm = cluster_map_get(c);
	size_t i, j;
	int dropped = 0;

	req.op = AIS__OP__OP_GET_MAP;
	for (i = 0; i < cm->m->n && !dropped; i++) {
		Ais__Response *resp = NULL;
		int has = 0;

		if (!strcmp(cm->m->nodes[i].id, c->self.id))
			continue;
		if (peers_call(c->probe, &cm->m->nodes[i], &req, &resp, errmsg))
			continue;
		if (resp->status == 0 && resp->map &&
		    resp->map->version > cm->m->version) {
			for (j = 0; j < resp->map->n_nodes; j++)
				if (resp->map->nodes[j]->id &&
				    !strcmp(resp->map->nodes[j]->id,
					    c->self.id))
					has = 1;
			dropped = !has;
		}
		ais__response__free_unpacked(resp, NULL);
	}
	cluster_map_put(cm);
	return dropped;
}

int cluster_rebalance_done(struct cluster *c, uint64_t id, char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;
	struct cluster_map *cm;
	bool leaving;
	int rc, i, idx;

	cm = cluster_map_get(c);
	idx = ais_map_find(cm->m, c->self.id);
	leaving =
	    idx >= 0 && cm->m->nodes[idx].state == AIS_NODE_DECOMMISSIONING;
	cluster_map_put(cm);
	cmd.kind = AIS__META_CMD__KIND__REBALANCE_DONE;
	cmd.node_id = c->self.id;
	cmd.rebalance_id = id;
	cmd.time_ns = ais_now_real_ns();
	rc = cluster_propose(c, &cmd, errmsg);
	if (rc || !leaving)
		return rc;
	/* A decommissioned node leaves the map with this entry, and Raft's
	 * configuration right after: the entry may never reach it. Ask. */
	for (i = 0; i < 50; i++) {
		if (ais_map_find((cm = cluster_map_get(c))->m, c->self.id) <
		    0) {
			cluster_map_put(cm);
			return 0;
		}
		cluster_map_put(cm);
		if (others_dropped_self(c)) {
			__atomic_store_n(&c->left, true, __ATOMIC_RELEASE);
			return 0; /* the next publish says so, and we stop */
		}
		if (!cluster_sleep(c, 200))
			break;
	}
	return 0;
}

int cluster_mark_down(struct cluster *c, const char *id, bool down,
		      char *errmsg)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;
	size_t len;
	uint8_t *buf;
	int rc;

	cmd.kind = AIS__META_CMD__KIND__NODE_DOWN;
	cmd.node_id = (char *)id;
	cmd.down = down;
	cmd.time_ns = ais_now_real_ns();
	/* Only the leader's own view counts: never forwarded (a node that
	 * was cut off and still thinks it leads must not mark the real
	 * leader down through it). */
	len = ais__meta_cmd__get_packed_size(&cmd);
	buf = malloc(len ? len : 1);
	if (!buf)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	ais__meta_cmd__pack(&cmd, buf);
	rc = cluster_propose_packed(c, buf, len, errmsg);
	free(buf);
	return rc;
}

int cluster_sync(struct cluster *c, unsigned timeout_ms)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp = NULL;
	char errmsg[AIS_ERRMSG_LEN];
	struct cluster_map *cm = cluster_map_get(c);
	struct ais_node leader;
	uint64_t want, deadline;
	int idx = cm->m->leader[0] ? ais_map_find(cm->m, cm->m->leader) : -1;

	if (idx >= 0)
		leader = cm->m->nodes[idx];
	cluster_map_put(cm);
	if (idx < 0)
		return -EAGAIN;
	if (!strcmp(leader.id, c->self.id))
		return 0; /* the leader applies what it commits */
	req.op = AIS__OP__OP_PING;
	/* The probe pool: no memory of nodes that were unreachable (at start
	 * a peer may not have listened yet). */
	if (peers_call(c->probe, &leader, &req, &resp, errmsg))
		return -EAGAIN;
	want = resp->map_version;
	ais__response__free_unpacked(resp, NULL);
	deadline = ais_now_mono_ns() + (uint64_t)timeout_ms * 1000000;
	while (cluster_version(c) < want) {
		if (ais_now_mono_ns() >= deadline)
			return -ETIMEDOUT;
		usleep(2000);
	}
	return 0;
}
