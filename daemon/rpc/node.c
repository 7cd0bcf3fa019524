/* The node and the cluster: PING, GET_MAP, JOIN, NODE_INFO. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ais_config.h"
#include "map.h"

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
	char **names;
	size_t nb;
	int rc;

	if (!pb || !pb->id || !pb->id[0] || strlen(pb->id) >= AIS_NODE_ID_MAX ||
	    !pb->host || !pb->host[0] || strlen(pb->host) >= AIS_HOST_MAX ||
	    pb->port == 0 || pb->port > 65535)
		return ais_errf(r->errmsg, -EINVAL,
				"JOIN needs a node with an id, a host and a "
				"port");
	memset(&n, 0, sizeof(n));
	snprintf(n.id, sizeof(n.id), "%s", pb->id);
	snprintf(n.host, sizeof(n.host), "%s", pb->host);
	n.port = (uint16_t)pb->port;
	n.state = pb->state == AIS__NODE__STATE__MAINTENANCE
		      ? AIS_NODE_MAINTENANCE
		      : AIS_NODE_ONLINE;
	rc = cluster_join(r->d->cluster, &n);
	if (rc)
		return ais_errf(r->errmsg, rc, "join: %s", strerror(-rc));
	cluster_map_put(r->cm);
	r->cm = cluster_map_get(r->d->cluster);
	r->mappb = ais_map_to_pb(r->cm->m);
	if (!r->mappb)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	r->resp.map = r->mappb;
	/* The buckets too, so that a node that joins (or comes back) late
	 * creates the ones it missed: bucket ops are broadcast only to the
	 * nodes in the client's map at the time. */
	if (bucket_list(r->d->store, &names, &nb, r->errmsg) == 0) {
		r->resp.n_buckets = nb;
		r->resp.buckets = names;
		rpc_send_resp(r, 0);
		ais_strv_free(names);
		return 1;
	}
	return 0;
}

int rpc_node_info(struct rpc *r)
{
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct mpset *mps = r->d->store->mps;
	Ais__NodeInfo info = AIS__NODE_INFO__INIT;
	Ais__Node node = AIS__NODE__INIT;
	Ais__Mountpath mp[mps->n], *mpp[mps->n];
	char fstype[mps->n][32];
	size_t i;

	node.id = (char *)self->id;
	node.host = (char *)self->host;
	node.port = self->port;
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
	r->resp.info = &info;
	rpc_send_resp(r, 0);
	return 1;
}
