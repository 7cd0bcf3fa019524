/* Internal to daemon/rpc/: the state of one request being handled, the
 * helpers every handler uses (reply.c), and the handlers the op table
 * (ops.c) points at, by family of ops. */
#ifndef AISD_RPC_RPC_I_H
#define AISD_RPC_RPC_I_H

#include <stdbool.h>
#include <stdint.h>

#include "objmeta.h"
#include "shard_index.h"
#include "util.h"

#include "cluster/cluster.h"
#include "rpc/rpc.h"
#include "shard/shard.h"

/* Room left in a response head for everything but the list entries. */
#define RPC_HEAD_SLACK 4096

struct rpc {
	struct aisd *d;
	struct rpc_job *j;
	Ais__Request *req;
	Ais__Response resp;
	struct cluster_map *cm; /* the map this request is answered under */
	Ais__ClusterMap *mappb; /* freed after the answer */
	Ais__ObjMeta metapb;
	Ais__BucketProps props;
	Ais__ScrubStatus scrub; /* OP_SCRUB's answer (freed after it) */
	bool have_scrub;
	struct ais_obj_meta meta;
	struct ais_obj_meta obj;   /* the object's own (a member read's meta is
				      the member's) */
	uint64_t bad_off, bad_len; /* the range a check found corrupt */
	char **changed;		   /* OP_WATCH's answer (freed after it) */
	size_t nchanged;
	uint32_t *hits;		 /* OP_PROBE_DIRS's answer (freed after it) */
	struct rpc_batch *batch; /* OP_PUT_BATCH's answer (freed after it) */
	char job_id[32];	 /* OP_ETL_BUCKET's answer */
	/* OP_S3_KEY_ADD's answer; OP_S3_KEY_LIST's (freed after it). */
	Ais__S3Key s3key, *s3keyp;
	char s3ak[130], s3sk[130], s3user[AIS_USER_MAX + 2];
	Ais__S3Key *s3keys, **s3keyv;
	/* OP_MPU_LIST's answer (freed after it): MpuPart or MpuInfo. */
	void **mpu;
	size_t nmpu;
	bool mpu_infos;
	/* OP_GET, OP_HEAD with want_ext: the object's ObjExt. */
	uint8_t ext[AIS_OBJ_EXT_MAX];
	size_t ext_len;
	/* Who asks (rpc_authorize): NULL when the cluster has no auth or
	 * the op needs none; admin: a root token or a cluster admin. */
	const struct ais_claims *who;
	bool admin;
	/* OP_AUTH_LOGIN's and OP_USER_LIST's answers (freed after it). */
	char token_text[AIS_TOKEN_TEXT_MAX];
	Ais__User *users, **userv;
	char **bucketv;	    /* OP_BUCKET_LIST's for a user (strings borrowed) */
	Ais__EtlJob **jobv; /* OP_ETL_LIST's for a user (jobs borrowed) */
	char errmsg[AIS_ERRMSG_LEN];
};

/* ---- reply.c: answers and common checks ------------------------------ */

/* Writes the response head; body_len bytes must follow. On failure the
 * connection is marked for closing. Returns 0 or -errno. */
int rpc_send_resp(struct rpc *r, uint64_t body_len);
/* Sends a (body-less) answer made elsewhere (another node's, relayed) as
 * this request's, with this node's map version. */
int rpc_send_answer(struct rpc *r, Ais__Response *a);

/* Answers with status rc and the message in r->errmsg. A body still in
 * flight is dropped: skipped if the loop already read all of it, read and
 * discarded if small, else a lingering close. */
void rpc_reply_error(struct rpc *r, int rc);

/* The debug line of every request. */
void rpc_log(const struct rpc *r);

/* After a change of the cluster metadata: r answers under the current
 * snapshot, whose version has the change, so that the client's next
 * request makes any node catch up to it first. */
void rpc_answer_new_version(struct rpc *r);

/* Bucket and object name rules (lib/core/names.h): 0 or -errno. */
int rpc_check_bucket(struct rpc *r, const char *bucket);
int rpc_check_object(struct rpc *r, const char *bucket, const char *name);

/* Does this node hold one of bucket/name's copies in r's map (the HRW
 * owner, or one of the next copies-1 nodes)? If not: -EREMOTE (WRONG_NODE)
 * with the owner named and the map attached to the answer. */
int rpc_check_owner(struct rpc *r, const char *bucket, const char *name);

/* The request's bucket and object names are valid and this node owns the
 * object: rpc_check_object, then rpc_check_owner. */
int rpc_check_mine(struct rpc *r);

/* Another node's answer a's ext into r's (with want_ext). */
void rpc_copy_ext(struct rpc *r, const Ais__Response *a);

/* r->meta into the answer. */
void rpc_set_meta(struct rpc *r);

/* Clamps the request's range to size: *len gets the byte count. -EINVAL if
 * the offset is past the end. */
int rpc_clamp_range(struct rpc *r, uint64_t size, uint64_t *len);

/* Answers a GET of [file_off, file_off+len) of the file on fd (a whole
 * object, or a member's plain range within it; r->obj its metadata) with
 * sendfile, size being what the client sees as the full size, every
 * block checked against its checksum first (store/blocks.h). Closes
 * nothing. Returns 1 (answered, or the connection closed after a broken
 * send or a corrupt block found after the answer began), or -EBADMSG with
 * r->errmsg when the first blocks are corrupt (nothing sent: the caller
 * repairs the copy or answers the error). */
int rpc_send_range(struct rpc *r, int fd, uint64_t file_off, uint64_t len,
		   uint64_t size);

/* This thread's scratch buffer for checks (BLK_SCRATCH bytes; NULL on
 * ENOMEM). */
uint8_t *rpc_scratch(void);

/* Checks [off, off+len) of the object open on fd (r->obj) against its
 * block checksums: 0, -EBADMSG with r->errmsg (logged; the range kept in
 * r->bad_off, r->bad_len), or -errno. */
int rpc_verify(struct rpc *r, int fd, uint64_t off, uint64_t len);

/* A read found r->obj's blocks not matching their checksums: that range
 * checked again under the object's lock (store_confirm_corrupt). -ESTALE when
 * the read should simply go again (the object changed, or is good now),
 * -EBADMSG with r->errmsg when the copy is corrupt. */
int rpc_confirm(struct rpc *r);

/* A corrupt copy here (found by a read): replaced by a good copy from
 * another node of the object's copy set when there is one. 0 when it was
 * (read again), else -EBADMSG with r->errmsg saying so. */
int rpc_repair(struct rpc *r);

/* The member r->req->archpath of the shard whose object is open on fd
 * looked up in its index, with the member's metadata in r->meta (its size,
 * mode and mtime, the shard's version, no checksum). On success *ref holds
 * the index (release with shard_ref_put). */
int rpc_member_lookup(struct rpc *r, int fd, struct shard_ref **ref,
		      struct ais_shard_member *m);
/* The bytes of the member the request names, for a transform: a range of
 * fd (checked against its blocks' checksums) in *off and *len, or, for a
 * compressed shard, the member decoded into an unlinked file (*staged,
 * offset 0; the caller closes it). 0 or -errno with r->errmsg. */
int rpc_member_source(struct rpc *r, int fd, uint64_t *off, uint64_t *len,
		      int *staged);

/* r->meta for member m (of a shard whose metadata r->meta holds). */
void rpc_member_meta(struct rpc *r, const struct ais_shard_member *m);

/* ---- the handlers ---------------------------------------------------- */

/* node.c: the node and the cluster */
int rpc_ping(struct rpc *r);
/* lease.c */
int rpc_watch(struct rpc *r);
/* A change op succeeded: numbers it for the mounts that watch, and waits
 * until they applied it (or lost their lease) before it is answered. */
void rpc_lease_commit(struct rpc *r);
int rpc_get_map(struct rpc *r);
int rpc_join(struct rpc *r);
int rpc_node_info(struct rpc *r);
int rpc_cluster_change(struct rpc *r);
int rpc_meta_propose(struct rpc *r);
int rpc_copies_sync(struct rpc *r);
int rpc_scrub(struct rpc *r);

/* bucket.c */
int rpc_bucket_create(struct rpc *r);
int rpc_bucket_destroy(struct rpc *r);
int rpc_bucket_list(struct rpc *r);
int rpc_bucket_props(struct rpc *r);

/* obj.c: objects */
int rpc_put(struct rpc *r);
int rpc_get(struct rpc *r);
int rpc_head(struct rpc *r);
int rpc_delete(struct rpc *r);
int rpc_rename(struct rpc *r);
int rpc_set_meta_op(struct rpc *r);

/* conflict.c: the "a" and "a/b" rule for the names of a batch at once:
 * rcs[k] (0, or -ENOTDIR / -EISDIR; left alone where it is set already)
 * and errmsgs[k]. */
void rpc_check_conflicts_many(struct rpc *r, const char *bucket,
			      const char *const *names, size_t n, int *rcs,
			      char (*errmsgs)[AIS_ERRMSG_LEN]);

/* etl.c: transforms (ais etl) */
int rpc_etl_init(struct rpc *r);
int rpc_etl_list(struct rpc *r);
int rpc_etl_remove(struct rpc *r);
int rpc_etl_state(struct rpc *r);
int rpc_etl_bucket(struct rpc *r);
int rpc_job_stop(struct rpc *r);
int rpc_job_remove(struct rpc *r);
int rpc_etl_errors(struct rpc *r);

/* ---- s3keys.c -------------------------------------------------------- */
/* auth.c: ais auth. */
int rpc_auth_login(struct rpc *r);
int rpc_user_add(struct rpc *r);
int rpc_user_remove(struct rpc *r);
int rpc_user_list(struct rpc *r);
int rpc_user_grant(struct rpc *r);
int rpc_token_revoke(struct rpc *r);

int rpc_s3_key_add(struct rpc *r);
int rpc_s3_key_remove(struct rpc *r);
int rpc_s3_key_list(struct rpc *r);

/* ---- mpu.c ----------------------------------------------------------- */
int rpc_mpu_create(struct rpc *r);
int rpc_mpu_part(struct rpc *r);
int rpc_mpu_complete(struct rpc *r);
int rpc_mpu_abort(struct rpc *r);
int rpc_mpu_list(struct rpc *r);
void rpc_mpu_free(struct rpc *r);
/* A GET naming a transform: the checks before anything is read (the
 * transform exists here and runs, the request is not a range or a member).
 * 0 or -errno with r->errmsg. */
int rpc_etl_check(struct rpc *r);
/* The GET of the object open on fd (r->meta, r->obj) through the
 * transform: every block checked, the program run, its output sent.
 * Returns as rpc_send_range. */
int rpc_etl_get(struct rpc *r, int fd);

/* batch.c */
int rpc_put_batch(struct rpc *r);
void rpc_batch_free(struct rpc_batch *b);

/* obj.c: what GET, HEAD and the shard ops share. The request's names are
 * valid and, unless it is peer_local (another node asking for this node's
 * copy only), this node holds one of the object's copies and is not
 * catching up (rpc_check_caught_up). */
int rpc_check_read(struct rpc *r);
/* A client's read in a bucket with copies, on a node still catching up
 * (move_catching_up): -EAGAIN with resp.catching_up, so that the client
 * reads another copy. 0 otherwise. */
int rpc_check_caught_up(struct rpc *r, const char *bucket);
/* The condition of rpc_check_caught_up alone. */
bool rpc_catching_up(struct rpc *r, const char *bucket);
/* Opens the request's object for reading (*fd: the caller closes; r->meta
 * filled); -ENOENT with r->errmsg if it is not here. */
int rpc_open_obj(struct rpc *r, int *fd);
/* A read of an object that is not here while objects may still be on
 * their way (the map has history): asked of its previous owners
 * (move_read_history), nothing stored here. With answer NULL (a GET) the
 * owner's answer is relayed to the client and 1 returned (the connection
 * closed if it broke off); else *answer gets the owner's body-less answer
 * (free it) and 0 is returned. -ENOENT when the object is here, or no
 * owner has it (then read it here: it may have just arrived); -EIO or an
 * owner's error with r->errmsg. */
int rpc_relay_read(struct rpc *r, Ais__Response **answer);
/* For the ops that change an object in place (RENAME, SET_META, shard
 * append): the same fetch, when the object is missing here. Returns 0
 * (fetched or not: the op then finds what it finds) or -EIO & co with
 * r->errmsg. */
int rpc_fetch_missing(struct rpc *r);
/* After a client's PUT (or shard append) committed here as r->meta: its
 * copies on the other nodes of its copy set (move_replicate); the answer
 * says how many could not be made now (copies_missing). */
void rpc_replicate(struct rpc *r);

/* inline.c: GET and HEAD on the loop thread, and the tail of an answer
 * begun there */
enum rpc_inline rpc_read_nowait(struct rpc *r, uint8_t *buf, size_t cap);
void rpc_finish_tail(struct rpc_job *j);

/* list.c */
int rpc_list(struct rpc *r);
/* LIST on a node still joining (no map, no bucket table): nothing is here
 * yet, but objects may arrive as soon as it is online, so it answers an
 * empty page with its arrival number, and a second round with what
 * arrived (store/arrivals.h), instead of refusing. */
int rpc_list_joining(struct rpc *r);

/* shard.c: members and shards */
int rpc_member_get(struct rpc *r, int fd);
int rpc_shard_list(struct rpc *r);
int rpc_shard_append(struct rpc *r);

/* How long after an object left this node its listings (and its answers
 * to OP_PROBE_DIRS) say "moving". A listing's round (one page from every
 * node) is far shorter: a node's answer waits at most the client's receive
 * timeout (30 s by default; a client configured to wait longer than this
 * for one page could, in theory, miss a name that moved meanwhile). */
#define RPC_MOVING_SECS 120

/* conflict.c: "a" and "a/b" cannot both exist, across nodes: 0, or
 * -ENOTDIR / -EISDIR with r->errmsg. */
int rpc_check_conflicts(struct rpc *r, const char *bucket, const char *name);
/* OP_PROBE_DIRS: another node's batch of those questions. */
int rpc_probe_dirs(struct rpc *r);
/* OP_RESOLVE: an object (as HEAD), a directory anywhere, or neither. */
int rpc_resolve(struct rpc *r);

#endif
