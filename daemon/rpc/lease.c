/* OP_WATCH, and the changes a node makes for clients, numbered for the
 * mounts that cache them (lease/lease.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#include "lease/lease.h"
#include "rpc/rpc_i.h"

/* Most names and bytes in one OP_WATCH answer (a head is at most 1 MiB). */
#define WATCH_MAX_NAMES 4096
#define WATCH_MAX_BYTES (512 * 1024)

struct changed {
	struct rpc *r;
	size_t cap, bytes;
	const Ais__User *user; /* a user who is no cluster admin, or NULL */
};

static int add_changed(void *arg, const char *bucket, const char *name)
{
	struct changed *c = arg;
	struct rpc *r = c->r;
	size_t len = strlen(bucket) + 1 + strlen(name);
	char *s, **v;

	/* A user learns of the changes in the buckets it may read only. */
	if (c->user &&
	    cluster_user_right(c->user, bucket) < AIS__RIGHT__RIGHT_READ)
		return 0;
	if (r->nchanged && c->bytes + len > WATCH_MAX_BYTES)
		return 1;
	if (r->nchanged == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		v = realloc(r->changed, c->cap * sizeof(*v));
		if (!v)
			return ais_errf(r->errmsg, -ENOMEM, "out of memory");
		r->changed = v;
	}
	s = malloc(len + 1);
	if (!s)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	strcpy(s, bucket);
	strcat(s, "/");
	strcat(s, name);
	r->changed[r->nchanged++] = s;
	c->bytes += len;
	return 0;
}

int rpc_watch(struct rpc *r)
{
	Ais__Request *q = r->req;
	struct changed c = {.r = r};
	uint64_t upto = 0;
	int rc;

	if (!r->d->leases)
		return ais_errf(r->errmsg, -EOPNOTSUPP,
				"this node keeps no leases");
	if (!q->watch_id)
		return ais_errf(r->errmsg, -EINVAL,
				"OP_WATCH needs a watch_id");
	if (q->watch_release) {
		leases_release(r->d->leases, q->watch_id);
		r->resp.watch_run = leases_run(r->d->leases);
		return 0;
	}
	if (q->bucket[0]) {
		rc = rpc_check_bucket(r, q->bucket);
		if (rc)
			return rc;
	}
	if (r->who && !r->admin) {
		c.user = cluster_user_find(r->cm, r->who->user);
		if (!c.user)
			return ais_errf(r->errmsg, -EACCES, "no user %s",
					r->who->user);
	}
	rc = leases_poll(r->d->leases, q->watch_id, q->bucket, q->watch_since,
			 q->watch_run, q->watch_wait_ms, WATCH_MAX_NAMES,
			 add_changed, &c, &upto);
	r->resp.watch_seq = upto;
	r->resp.lease_ms = leases_ms(r->d->leases);
	r->resp.watch_run = leases_run(r->d->leases);
	/* The answer's map version is what the mount learns a new node
	 * from: the one now, not the one from before the poll was held. */
	cluster_map_put(r->cm);
	r->cm = cluster_map_get(r->d->cluster);
	if (rc == -ESTALE)
		return ais_errf(r->errmsg, rc,
				"this node no longer remembers its changes "
				"back to %llu (it restarted, or the mount "
				"fell behind): drop what was cached",
				(unsigned long long)q->watch_since);
	if (rc == -EBUSY)
		return ais_errf(r->errmsg, rc,
				"too many mounts watch this node (%d)",
				LEASE_HOLDERS);
	if (rc)
		return rc;
	r->resp.n_changed = r->nchanged;
	r->resp.changed = r->changed;
	return 0;
}

void rpc_lease_commit(struct rpc *r)
{
	Ais__Request *q = r->req;
	struct leases *l = r->d->leases;
	uint64_t seq;
	unsigned waited;
	size_t k;

	if (!l)
		return;
	switch (q->op) {
	case AIS__OP__OP_PUT:
		if (q->migrate)
			return; /* a copy of what was noted where it changed */
		seq = leases_note(l, q->bucket, q->name, q->origin);
		break;
	case AIS__OP__OP_DELETE:
	case AIS__OP__OP_SET_META:
		if (q->peer_local)
			return;
		seq = leases_note(l, q->bucket, q->name, q->origin);
		break;
	case AIS__OP__OP_SHARD_APPEND:
		seq = leases_note(l, q->bucket, q->name, q->origin);
		break;
	case AIS__OP__OP_PUT_BATCH:
		seq = 0;
		for (k = 0; k < r->resp.n_put_results; k++)
			if (r->resp.put_results[k]->status == 0)
				seq = leases_note(l, q->bucket,
						  q->put_items[k]->name,
						  q->origin);
		if (!seq)
			return;
		break;
	case AIS__OP__OP_RENAME:
		(void)leases_note(l, q->bucket, q->name, q->origin);
		seq = leases_note(l, q->bucket, q->new_name, q->origin);
		break;
	case AIS__OP__OP_BUCKET_DESTROY:
		seq = leases_note(l, q->bucket, "", 0);
		break;
	default:
		return;
	}
	waited = leases_wait(l, q->bucket, seq, q->origin);
	if (waited > 100)
		ais_log(LOG_INFO,
			"%s %s/%s answered after %u ms: waited for mounts' "
			"leases (a mount that stopped answering, or this "
			"node's start)",
			rpc_op_name(q->op), q->bucket, q->name, waited);
}
