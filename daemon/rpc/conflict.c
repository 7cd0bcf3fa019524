/* "a" and "a/b" cannot both exist, even when different nodes own them. */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "map.h"
#include "names.h"

#include "cluster/peer.h"
#include "rpc/rpc_i.h"
#include "store/store.h"

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
	path[len] = '/';
	path[len + 1] = 0;
	for (i = 0; i < m->n; i++) {
		const struct ais_node *o = &m->nodes[i];
		Ais__Request q = AIS__REQUEST__INIT;

		if (o->state != AIS_NODE_ONLINE || !strcmp(o->id, self->id))
			continue;
		q.op = AIS__OP__OP_LIST;
		q.bucket = (char *)bucket;
		q.prefix = path;
		q.delimiter = (char *)"/";
		q.page_size = 1;
		q.map_version = m->version;
		rc = peers_call(r->d->peers, o, &q, &a, em);
		if (rc) {
			ais_log(LOG_DEBUG, "conflict probe: %s", em);
			continue;
		}
		rc = a->status == 0 && a->n_entries > 0;
		ais__response__free_unpacked(a, NULL);
		if (rc)
			return ais_errf(r->errmsg, -EISDIR,
					"%s is a directory (objects exist "
					"under %s/)",
					name, name);
	}
	return 0;
}
