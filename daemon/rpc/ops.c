/* The op table: every wire op's handler and rules on one screen, and the
 * dispatch of one request through it. A new op is one row here and one
 * handler in the file of its family. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "map.h"

#include "lease/lease.h"
#include "move/move.h"
#include "rpc/rpc_i.h"

#define LINGER_MS   2000
#define CATCH_UP_MS 2000

/* clang-format off */
static const struct rpc_op ops[] = {
	/* op                           run                 nowait           thread    body   idem   perm */
	[AIS__OP__OP_PING]           = {rpc_ping,           NULL,            RPC_META, false, true,  RPC_PERM_NONE},
	[AIS__OP__OP_GET_MAP]        = {rpc_get_map,        NULL,            RPC_META, false, true,  RPC_PERM_NONE},
	[AIS__OP__OP_JOIN]           = {rpc_join,           NULL,            RPC_DATA, false, true,  RPC_PERM_NODE},
	[AIS__OP__OP_NODE_INFO]      = {rpc_node_info,      NULL,            RPC_META, false, true,  RPC_PERM_AUTH},
	[AIS__OP__OP_CLUSTER_CHANGE] = {rpc_cluster_change, NULL,            RPC_DATA, false, false, RPC_PERM_CLUSTER},
	[AIS__OP__OP_META_PROPOSE]   = {rpc_meta_propose,   NULL,            RPC_DATA, false, false, RPC_PERM_NODE},
	[AIS__OP__OP_BUCKET_CREATE]  = {rpc_bucket_create,  NULL,            RPC_DATA, false, false, RPC_PERM_ADMIN},
	[AIS__OP__OP_BUCKET_DESTROY] = {rpc_bucket_destroy, NULL,            RPC_DATA, false, false, RPC_PERM_ADMIN},
	[AIS__OP__OP_BUCKET_LIST]    = {rpc_bucket_list,    NULL,            RPC_META, false, true,  RPC_PERM_AUTH},
	[AIS__OP__OP_BUCKET_PROPS]   = {rpc_bucket_props,   NULL,            RPC_DATA, false, true,  RPC_PERM_ADMIN},
	[AIS__OP__OP_PUT]            = {rpc_put,            NULL,            RPC_DATA, true,  true,  RPC_PERM_WRITE},
	[AIS__OP__OP_GET]            = {rpc_get,            rpc_read_nowait, RPC_DATA, false, true,  RPC_PERM_READ},
	[AIS__OP__OP_HEAD]           = {rpc_head,           rpc_read_nowait, RPC_META, false, true,  RPC_PERM_READ},
	[AIS__OP__OP_DELETE]         = {rpc_delete,         NULL,            RPC_DATA, false, true,  RPC_PERM_WRITE},
	[AIS__OP__OP_LIST]           = {rpc_list,           NULL,            RPC_META, false, true,  RPC_PERM_READ},
	[AIS__OP__OP_RENAME]         = {rpc_rename,         NULL,            RPC_DATA, false, false, RPC_PERM_WRITE},
	[AIS__OP__OP_SET_META]       = {rpc_set_meta_op,    NULL,            RPC_DATA, false, true,  RPC_PERM_WRITE},
	[AIS__OP__OP_SHARD_LIST]     = {rpc_shard_list,     NULL,            RPC_META, false, true,  RPC_PERM_READ},
	[AIS__OP__OP_SHARD_APPEND]   = {rpc_shard_append,   NULL,            RPC_META, true,  false, RPC_PERM_WRITE},
	[AIS__OP__OP_COPIES_SYNC]    = {rpc_copies_sync,    NULL,            RPC_DATA, false, true,  RPC_PERM_NODE},
	[AIS__OP__OP_SCRUB]          = {rpc_scrub,          NULL,            RPC_META, false, true,  RPC_PERM_ADMIN},
	[AIS__OP__OP_WATCH]          = {rpc_watch,          NULL,            RPC_WAIT, false, true,  RPC_PERM_READ},
	[AIS__OP__OP_PROBE_DIRS]     = {rpc_probe_dirs,     NULL,            RPC_META, false, true,  RPC_PERM_NODE},
	[AIS__OP__OP_RESOLVE]        = {rpc_resolve,        rpc_read_nowait, RPC_DATA, false, true,  RPC_PERM_READ},
	[AIS__OP__OP_PUT_BATCH]      = {rpc_put_batch,      NULL,            RPC_DATA, true,  true,  RPC_PERM_WRITE},
	[AIS__OP__OP_ETL_INIT]       = {rpc_etl_init,       NULL,            RPC_DATA, false, false, RPC_PERM_CLUSTER},
	[AIS__OP__OP_ETL_LIST]       = {rpc_etl_list,       NULL,            RPC_META, false, true,  RPC_PERM_AUTH},
	[AIS__OP__OP_ETL_REMOVE]     = {rpc_etl_remove,     NULL,            RPC_DATA, false, false, RPC_PERM_CLUSTER},
	[AIS__OP__OP_ETL_STATE]      = {rpc_etl_state,      NULL,            RPC_DATA, false, true,  RPC_PERM_CLUSTER},
	[AIS__OP__OP_ETL_BUCKET]     = {rpc_etl_bucket,     NULL,            RPC_DATA, false, false, RPC_PERM_ADMIN},
	[AIS__OP__OP_JOB_STOP]       = {rpc_job_stop,       NULL,            RPC_DATA, false, true,  RPC_PERM_CLUSTER},
	[AIS__OP__OP_JOB_REMOVE]     = {rpc_job_remove,     NULL,            RPC_DATA, false, false, RPC_PERM_CLUSTER},
	[AIS__OP__OP_ETL_ERRORS]     = {rpc_etl_errors,     NULL,            RPC_META, false, true,  RPC_PERM_AUTH},
	[AIS__OP__OP_S3_KEY_ADD]     = {rpc_s3_key_add,     NULL,            RPC_DATA, false, false, RPC_PERM_AUTH},
	[AIS__OP__OP_S3_KEY_REMOVE]  = {rpc_s3_key_remove,  NULL,            RPC_DATA, false, false, RPC_PERM_AUTH},
	[AIS__OP__OP_S3_KEY_LIST]    = {rpc_s3_key_list,    NULL,            RPC_META, false, true,  RPC_PERM_AUTH},
	[AIS__OP__OP_MPU_CREATE]     = {rpc_mpu_create,     NULL,            RPC_DATA, false, false, RPC_PERM_WRITE},
	[AIS__OP__OP_MPU_PART]       = {rpc_mpu_part,       NULL,            RPC_DATA, true,  true,  RPC_PERM_WRITE},
	[AIS__OP__OP_MPU_COMPLETE]   = {rpc_mpu_complete,   NULL,            RPC_DATA, false, false, RPC_PERM_WRITE},
	[AIS__OP__OP_MPU_ABORT]      = {rpc_mpu_abort,      NULL,            RPC_DATA, false, false, RPC_PERM_WRITE},
	[AIS__OP__OP_MPU_LIST]       = {rpc_mpu_list,       NULL,            RPC_META, false, true,  RPC_PERM_READ},
	[AIS__OP__OP_AUTH_LOGIN]     = {rpc_auth_login,     NULL,            RPC_DATA, false, true,  RPC_PERM_NONE},
	[AIS__OP__OP_USER_ADD]       = {rpc_user_add,       NULL,            RPC_DATA, false, false, RPC_PERM_CLUSTER},
	[AIS__OP__OP_USER_REMOVE]    = {rpc_user_remove,    NULL,            RPC_DATA, false, false, RPC_PERM_CLUSTER},
	[AIS__OP__OP_USER_LIST]      = {rpc_user_list,      NULL,            RPC_META, false, true,  RPC_PERM_AUTH},
	[AIS__OP__OP_USER_GRANT]     = {rpc_user_grant,     NULL,            RPC_DATA, false, true,  RPC_PERM_CLUSTER},
	[AIS__OP__OP_TOKEN_REVOKE]   = {rpc_token_revoke,   NULL,            RPC_DATA, false, true,  RPC_PERM_AUTH},
};
/* clang-format on */

const struct rpc_op *rpc_op_find(int op)
{
	if (op < 0 || (size_t)op >= sizeof(ops) / sizeof(ops[0]) ||
	    !ops[op].run)
		return NULL;
	return &ops[op];
}

const char *rpc_op_name(int op)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&ais__op__descriptor, op);

	if (!v || strncmp(v->name, "OP_", 3))
		return "?";
	return v->name + 3;
}

int rpc_admit(const struct rpc_op *op, const struct rpc_job *j, char *errmsg)
{
	/* An op this node does not know fails as such first, with or
	 * without a body: a newer client learns that this node is older. */
	if (!op)
		return ais_errf(errmsg, -EOPNOTSUPP, "unknown op %d",
				j->req->op);
	if (j->hdr.flags & AIS_FRAME_FLAG_LZ4)
		return ais_errf(errmsg, -EOPNOTSUPP,
				"LZ4-compressed bodies are not supported by "
				"this node");
	if (j->hdr.body_len && !op->body)
		return ais_errf(errmsg, -EINVAL, "%s takes no body",
				rpc_op_name(j->req->op));
	if (j->nul_in_string)
		return ais_errf(errmsg, -EINVAL,
				"a name in the request contains a NUL byte");
	return 0;
}

static void rpc_init(struct rpc *r, struct aisd *d, struct rpc_job *j)
{
	memset(r, 0, sizeof(*r));
	r->d = d;
	r->j = j;
	r->req = j->req;
	ais__response__init(&r->resp);
	r->cm = cluster_map_get(d->cluster);
}

/* The client has seen a newer version of the metadata than this node has
 * applied (a bucket just created, a node just joined): wait a little for
 * it rather than answer from the past (no such bucket, not the owner). */
static void catch_up(struct rpc *r)
{
	uint64_t want = r->req->map_version;
	int i;

	if (want <= r->cm->m->version)
		return;
	for (i = 0; i < CATCH_UP_MS / 5; i++) {
		if (cluster_version(r->d->cluster) >= want)
			break;
		usleep(5000);
	}
	cluster_map_put(r->cm);
	r->cm = cluster_map_get(r->d->cluster);
}

static void rpc_done(struct rpc *r)
{
	if (r->mappb)
		ais_map_pb_free(r->mappb);
	if (r->have_scrub)
		move_scrub_status_free(&r->scrub);
	while (r->nchanged)
		free(r->changed[--r->nchanged]);
	free(r->changed);
	free(r->hits);
	free(r->s3keys);
	free(r->users);
	free(r->bucketv);
	free(r->jobv);
	OPENSSL_cleanse(r->token_text, sizeof(r->token_text));
	if (r->req->password)
		OPENSSL_cleanse(r->req->password, strlen(r->req->password));
	rpc_mpu_free(r);
	rpc_batch_free(r->batch);
	cluster_map_put(r->cm);
}

/* A request that reads or writes object bytes for a client: a client's,
 * or another node's on a client's behalf (a relayed read, a fetch); not a
 * rebalance's copy (a migrate PUT). */
static bool is_client_io(const Ais__Request *q)
{
	switch (q->op) {
	case AIS__OP__OP_GET:
	case AIS__OP__OP_HEAD:
	case AIS__OP__OP_RESOLVE:
	case AIS__OP__OP_PUT:
	case AIS__OP__OP_PUT_BATCH:
	case AIS__OP__OP_SHARD_LIST:
	case AIS__OP__OP_SHARD_APPEND:
		return !q->migrate || q->replica;
	default:
		return false;
	}
}

void rpc_run(struct aisd *d, struct rpc_job *j)
{
	const struct rpc_op *op;
	struct rpc r;
	bool client, joining_list;
	int rc;

	if (j->tail.pending) {
		rpc_finish_tail(j);
		return;
	}
	rpc_init(&r, d, j);
	op = rpc_op_find(j->req->op);
	rc = rpc_admit(op, j, r.errmsg);
	if (rc == 0) {
		bool newer = j->req->map_version > r.cm->m->version;

		rc = rpc_authorize(&r, op, newer);
		/* The client has seen newer metadata (a grant, a user just
		 * made elsewhere): hear it, then ask again. */
		if (rc == -EACCES && newer) {
			catch_up(&r);
			rc = rpc_authorize(&r, op, false);
		}
	}
	/* A joining node answers listings (rpc_list_joining), at once. */
	joining_list = rc == 0 && j->req->op == AIS__OP__OP_LIST &&
		       !cluster_serving(d->cluster);
	if (rc == 0 && !joining_list && j->req->op >= AIS__OP__OP_BUCKET_CREATE)
		catch_up(&r);
	if (rc == 0 && !joining_list && !cluster_serving(d->cluster) &&
	    j->req->op != AIS__OP__OP_JOIN &&
	    j->req->op != AIS__OP__OP_META_PROPOSE &&
	    j->req->op != AIS__OP__OP_NODE_INFO)
		rc = ais_errf(r.errmsg, -EAGAIN,
			      "node %s is joining the cluster: no map yet",
			      cluster_self(d->cluster)->id);
	if (rc == 0 && !joining_list && j->req->op >= AIS__OP__OP_PUT &&
	    j->req->bucket[0] && !cluster_has_bucket(r.cm, j->req->bucket)) {
		/* Another client may have just created it: before saying
		 * "no such bucket", hear from the leader. */
		(void)cluster_sync(d->cluster, CATCH_UP_MS);
		cluster_map_put(r.cm);
		r.cm = cluster_map_get(d->cluster);
	}
	client = rc == 0 && is_client_io(j->req);
	if (client)
		atomic_store(&d->client_ns, ais_now_mono_ns());
	if (rc == 0 && cluster_serving(d->cluster))
		leases_serving(d->leases);
	if (rc == 0)
		rc = joining_list ? rpc_list_joining(&r) : op->run(&r);
	if (rc == 0)
		rpc_lease_commit(&r);
	if (rc < 0)
		rpc_reply_error(&r, rc);
	else if (rc == 0)
		rpc_send_resp(&r, 0);
	if (client)
		atomic_store(&d->client_ns, ais_now_mono_ns());
	/* A PUT whose body was not all read cannot keep the connection. */
	if (j->io.body_left && !j->close) {
		sock_io_linger(&j->io, LINGER_MS);
		j->close = true;
	}
	rpc_log(&r);
	rpc_done(&r);
}

enum rpc_inline rpc_try_inline(struct aisd *d, struct rpc_job *j, uint8_t *buf,
			       size_t cap)
{
	const struct rpc_op *op = rpc_op_find(j->req->op);
	enum rpc_inline res;
	struct rpc r;

	if (!op || !op->nowait || j->hdr.flags || rpc_admit(op, j, NULL))
		return RPC_INLINE_NO;
	rpc_init(&r, d, j);
	if (j->req->map_version > r.cm->m->version || r.cm->m->version == 0 ||
	    (j->req->bucket[0] && !cluster_has_bucket(r.cm, j->req->bucket))) {
		/* rpc_run waits for the map; this thread must not. */
		rpc_done(&r);
		return RPC_INLINE_NO;
	}
	if (rpc_authorize(&r, op, true)) {
		/* A worker answers the refusal. */
		rpc_done(&r);
		return RPC_INLINE_NO;
	}
	res = op->nowait(&r, buf, cap);
	if (res != RPC_INLINE_NO && is_client_io(j->req))
		atomic_store(&d->client_ns, ais_now_mono_ns());
	rpc_done(&r);
	return res;
}
