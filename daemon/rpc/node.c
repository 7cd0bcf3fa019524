/* The node and the cluster: PING, GET_MAP, JOIN, NODE_INFO, CLUSTER_CHANGE,
 * META_PROPOSE. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ais_config.h"
#include "map.h"

#include "job/job.h"
#include "move/move.h"
#include "rpc/rpc_i.h"
#include "store/bucket.h"

int rpc_ping(struct rpc *r)
{
	(void)r;
	return 0;
}

int rpc_get_map(struct rpc *r)
{
	r->mappb = ais_map_to_pb(r->cm->m);
	if (!r->mappb)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	r->resp.map = r->mappb;
	return 0;
}

int rpc_join(struct rpc *r)
{
	Ais__Node *pb = r->req->node;
	struct ais_node n;
	size_t i;
	int rc;

	if (!pb || !pb->id || !pb->id[0] || strlen(pb->id) >= AIS_NODE_ID_MAX ||
	    !pb->host || !pb->host[0] || strlen(pb->host) >= AIS_HOST_MAX ||
	    pb->port == 0 || pb->port > 65535 || !pb->raft_addr ||
	    !pb->raft_addr[0] || strlen(pb->raft_addr) >= AIS_ADDR_MAX)
		return ais_errf(r->errmsg, -EINVAL,
				"JOIN needs a node with an id, a host, a port "
				"and a Raft address");
	for (i = 0; i < r->req->n_buckets; i++) {
		rc = rpc_check_bucket(r, r->req->buckets[i]);
		if (rc)
			return rc;
	}
	memset(&n, 0, sizeof(n));
	snprintf(n.id, sizeof(n.id), "%s", pb->id);
	snprintf(n.host, sizeof(n.host), "%s", pb->host);
	n.port = (uint16_t)pb->port;
	snprintf(n.raft_addr, sizeof(n.raft_addr), "%s", pb->raft_addr);
	rc = cluster_join(r->d->cluster, &n, r->req->buckets, r->req->n_buckets,
			  r->errmsg);
	if (rc)
		return rc;
	cluster_map_put(r->cm);
	r->cm = cluster_map_get(r->d->cluster);
	return rpc_get_map(r);
}

int rpc_cluster_change(struct rpc *r)
{
	int rc = cluster_change(r->d->cluster, r->req->change, r->errmsg);

	cluster_map_put(r->cm);
	r->cm = cluster_map_get(r->d->cluster);
	if (rc)
		return rc;
	return rpc_get_map(r);
}

int rpc_meta_propose(struct rpc *r)
{
	int rc = cluster_propose_packed(r->d->cluster, r->req->meta_cmd.data,
					r->req->meta_cmd.len, r->errmsg);

	/* The answer's version has the change (the proposer waits for it). */
	cluster_map_put(r->cm);
	r->cm = cluster_map_get(r->d->cluster);
	return rc;
}

int rpc_node_info(struct rpc *r)
{
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct mpset *mps = r->d->store->mps;
	Ais__NodeInfo info = AIS__NODE_INFO__INIT;
	Ais__RebalanceStatus rs = AIS__REBALANCE_STATUS__INIT;
	Ais__ScrubStatus scrub;
	bool have_scrub = false;
	char last_error[AIS_ERRMSG_LEN];
	Ais__Node node = AIS__NODE__INIT;
	Ais__Mountpath mp[mps->n], *mpp[mps->n];
	char fstype[mps->n][32];
	size_t i;

	node.id = (char *)self->id;
	node.host = (char *)self->host;
	node.port = self->port;
	node.raft_addr = (char *)self->raft_addr;
	{
		int at = ais_map_find(r->cm->m, self->id);

		if (at >= 0) {
			node.state =
			    (Ais__Node__State)r->cm->m->nodes[at].state;
			node.role = (Ais__Node__Role)r->cm->m->nodes[at].role;
			node.down = r->cm->m->nodes[at].down;
		}
	}
	for (i = 0; i < mps->n; i++) {
		ais__mountpath__init(&mp[i]);
		mp[i].path = mps->paths[i];
		if (mpset_statfs(mps, (int)i, &mp[i].total_bytes, &mp[i].fs_id,
				 &mp[i].free_bytes, fstype[i], 32))
			snprintf(fstype[i], 32, "?");
		mp[i].fs_type = fstype[i];
		mpp[i] = &mp[i];
	}
	info.node = &node;
	info.n_mountpaths = mps->n;
	info.mountpaths = mpp;
	info.version = (char *)AIS_VERSION;
	info.uptime_s = (ais_now_mono_ns() - r->d->start_mono_ns) / 1000000000u;
	info.connections = atomic_load(&r->d->connections);
	info.requests = atomic_load(&r->d->requests);
	info.raft_dir = (char *)cluster_raft_dir(r->d->cluster);
	if (r->d->move) {
		move_status(r->d->move, &rs, last_error, sizeof(last_error));
		info.rebalance = &rs;
		if (move_scrub_status(r->d->move, &scrub) == 0) {
			info.scrub = &scrub;
			have_scrub = true;
		}
		info.copies_pending =
		    r->req->bucket[0]
			? move_copies_pending_bucket(r->d->move, r->req->bucket)
			: move_copies_pending(r->d->move);
	}
	if (r->d->jobs)
		(void)jobs_status(r->d->jobs, &info.etl_jobs, &info.n_etl_jobs);
	r->resp.info = &info;
	rpc_send_resp(r, 0);
	if (have_scrub)
		move_scrub_status_free(&scrub);
	if (info.etl_jobs)
		jobs_status_free(info.etl_jobs, info.n_etl_jobs);
	return 1;
}

int rpc_scrub(struct rpc *r)
{
	Ais__Request *q = r->req;
	int rc;

	if (q->bucket[0]) {
		rc = rpc_check_bucket(r, q->bucket);
		if (rc)
			return rc;
		if (!cluster_has_bucket(r->cm, q->bucket))
			return ais_errf(r->errmsg, -ENOENT,
					"bucket %s does not exist", q->bucket);
	}
	if (strlen(q->prefix) > AIS_NAME_MAX)
		return ais_errf(r->errmsg, -ENAMETOOLONG, "prefix too long");
	rc = move_scrub_start(r->d->move, q->bucket, q->prefix, r->errmsg);
	if (rc)
		return rc;
	rc = move_scrub_status(r->d->move, &r->scrub);
	if (rc)
		return ais_errf(r->errmsg, rc, "out of memory");
	r->have_scrub = true;
	r->resp.scrub = &r->scrub;
	return 0;
}

int rpc_copies_sync(struct rpc *r)
{
	struct ais_node from;
	int idx;

	if (!r->req->node || !r->req->node->id)
		return ais_errf(r->errmsg, -EINVAL,
				"COPIES_SYNC needs the asking node");
	idx = ais_map_find(r->cm->m, r->req->node->id);
	if (idx < 0)
		return ais_errf(r->errmsg, -ENOENT, "no node %s in the map",
				r->req->node->id);
	from = r->cm->m->nodes[idx];
	idx = move_copies_sync(r->d->move, &from);
	if (idx > 0)
		return ais_errf(r->errmsg, -EAGAIN,
				"%d of the copies node %s missed could not be "
				"made yet",
				idx, from.id);
	return 0;
}
