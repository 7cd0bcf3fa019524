/* Unit tests of daemon/rpc/ops.c: the op table (a row for every wire op,
 * its name, which ops take a body, have a loop fast path, run on the data
 * threads), rpc_admit's refusals, and requests run end to end through
 * rpc_run and the handlers, without the event loop, on a one-node aisd
 * built by hand: the answer frame read from the other end of a socketpair.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ais.pb-c.h"
#include "cksum.h"
#include "fileio.h"
#include "frame.h"
#include "map.h"
#include "objmeta.h"
#include "util.h"

#include "aisd.h"
#include "cluster/cluster.h"
#include "cluster/peer.h"
#include "rpc/rpc.h"
#include "shard/shard.h"
#include "store/bucket.h"
#include "store/store.h"

#include "scratch.h"

#define BUCKET "bkt"

static bool op_is(int op, const int *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i] == op)
			return true;
	return false;
}

#define OP_IS(op, ...)                                                         \
	op_is((op), (const int[]){__VA_ARGS__},                                \
	      sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

/* Every op of the protocol (protobuf-c's enum descriptor) but OP_NONE has a
 * row, and its name is the protocol's without "OP_"; the rows say what the
 * dispatch relies on: only PUT, PUT_BATCH, SHARD_APPEND and MPU_PART take a
 * body (any other op with a body is refused before it runs), only GET and HEAD
 * have a loop fast path, and GET, PUT, PUT_BATCH, RENAME and BUCKET_DESTROY run
 * on the data threads (object bytes, or waits on other nodes: the cluster
 * changes that wait for Raft), the rest on the metadata pool. Ops that must not
 * be retried after a lost answer are not idempotent: BUCKET_CREATE,
 * BUCKET_DESTROY, RENAME, SHARD_APPEND, CLUSTER_CHANGE, META_PROPOSE. */
START_TEST(test_table)
{
	const ProtobufCEnumDescriptor *d = &ais__op__descriptor;
	unsigned i, rows = 0;

	ck_assert_uint_gt(d->n_values, 10);
	for (i = 0; i < d->n_values; i++) {
		const ProtobufCEnumValue *v = &d->values[i];
		const struct rpc_op *op = rpc_op_find(v->value);

		if (v->value == AIS__OP__OP_NONE) {
			ck_assert_ptr_null(op);
			continue;
		}
		rows++;
		ck_assert_msg(op != NULL, "%s (%d) has no row", v->name,
			      v->value);
		ck_assert_ptr_nonnull(op->run);
		ck_assert_int_eq(strncmp(v->name, "OP_", 3), 0);
		ck_assert_str_eq(rpc_op_name(v->value), v->name + 3);
		ck_assert_msg(op->body == OP_IS(v->value, AIS__OP__OP_PUT,
						AIS__OP__OP_PUT_BATCH,
						AIS__OP__OP_SHARD_APPEND,
						AIS__OP__OP_MPU_PART),
			      "%s: body %d", v->name, op->body);
		ck_assert_msg((op->nowait != NULL) ==
				  OP_IS(v->value, AIS__OP__OP_GET,
					AIS__OP__OP_HEAD, AIS__OP__OP_RESOLVE),
			      "%s: nowait", v->name);
		ck_assert_msg(
		    (op->thread == RPC_DATA) ==
			OP_IS(v->value, AIS__OP__OP_GET, AIS__OP__OP_PUT,
			      AIS__OP__OP_PUT_BATCH, AIS__OP__OP_RENAME,
			      AIS__OP__OP_BUCKET_DESTROY,
			      AIS__OP__OP_BUCKET_CREATE,
			      AIS__OP__OP_BUCKET_PROPS, AIS__OP__OP_JOIN,
			      AIS__OP__OP_DELETE, AIS__OP__OP_SET_META,
			      AIS__OP__OP_COPIES_SYNC,
			      AIS__OP__OP_CLUSTER_CHANGE,
			      AIS__OP__OP_META_PROPOSE, AIS__OP__OP_RESOLVE,
			      AIS__OP__OP_ETL_INIT, AIS__OP__OP_ETL_REMOVE,
			      AIS__OP__OP_ETL_STATE, AIS__OP__OP_ETL_BUCKET,
			      AIS__OP__OP_JOB_STOP, AIS__OP__OP_JOB_REMOVE,
			      AIS__OP__OP_S3_KEY_ADD, AIS__OP__OP_S3_KEY_REMOVE,
			      AIS__OP__OP_MPU_CREATE, AIS__OP__OP_MPU_PART,
			      AIS__OP__OP_MPU_COMPLETE, AIS__OP__OP_MPU_ABORT,
			      AIS__OP__OP_AUTH_LOGIN, AIS__OP__OP_USER_ADD,
			      AIS__OP__OP_USER_REMOVE, AIS__OP__OP_USER_GRANT,
			      AIS__OP__OP_TOKEN_REVOKE),
		    "%s: thread %d", v->name, op->thread);
		/* Only OP_WATCH is held open on purpose: its own pool. */
		ck_assert_msg((op->thread == RPC_WAIT) ==
				  (v->value == AIS__OP__OP_WATCH),
			      "%s: thread %d", v->name, op->thread);
		ck_assert_msg(
		    !op->idempotent ==
			OP_IS(v->value, AIS__OP__OP_BUCKET_CREATE,
			      AIS__OP__OP_BUCKET_DESTROY, AIS__OP__OP_RENAME,
			      AIS__OP__OP_SHARD_APPEND,
			      AIS__OP__OP_CLUSTER_CHANGE,
			      AIS__OP__OP_META_PROPOSE, AIS__OP__OP_ETL_INIT,
			      AIS__OP__OP_ETL_REMOVE, AIS__OP__OP_ETL_BUCKET,
			      AIS__OP__OP_JOB_REMOVE, AIS__OP__OP_S3_KEY_ADD,
			      AIS__OP__OP_S3_KEY_REMOVE, AIS__OP__OP_MPU_CREATE,
			      AIS__OP__OP_MPU_COMPLETE, AIS__OP__OP_MPU_ABORT,
			      AIS__OP__OP_USER_ADD, AIS__OP__OP_USER_REMOVE),
		    "%s: idempotent %d", v->name, op->idempotent);
	}
	ck_assert_uint_eq(rows, d->n_values - 1);
	ck_assert_str_eq(rpc_op_name(AIS__OP__OP_SHARD_APPEND), "SHARD_APPEND");
	ck_assert_str_eq(rpc_op_name(AIS__OP__OP_GET), "GET");
}
END_TEST

/* A number that is no op (between, beyond or below the enum's values, and
 * OP_NONE) has no row; one outside the enum is named "?". (OP_NONE is in
 * the enum, so rpc_op_name(0) is "NONE": only its missing row matters,
 * and rpc_admit answers it "unknown op 0", see test_admit.) */
START_TEST(test_unknown_ops)
{
	static const int odd[] = {
	    -1, 7, 9, 14, 19, 35, 99, 1000, -1000, 2147483647, -2147483647 - 1};
	size_t i;
	int op;

	ck_assert_ptr_null(rpc_op_find(0));
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		ck_assert_msg(rpc_op_find(odd[i]) == NULL, "op %d has a row",
			      odd[i]);
		ck_assert_str_eq(rpc_op_name(odd[i]), "?");
	}
	/* Every hole up to past the last op. */
	for (op = 1; op < 64; op++)
		if (!protobuf_c_enum_descriptor_get_value(&ais__op__descriptor,
							  op)) {
			ck_assert_msg(rpc_op_find(op) == NULL,
				      "op %d has a row", op);
			ck_assert_str_eq(rpc_op_name(op), "?");
		}
}
END_TEST

static int admit(int op, uint16_t flags, uint64_t body_len, bool nul, char *msg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct rpc_job j;

	memset(&j, 0, sizeof(j));
	req.op = op;
	j.req = &req;
	j.hdr.flags = flags;
	j.hdr.body_len = body_len;
	j.nul_in_string = nul;
	msg[0] = '\0';
	return rpc_admit(rpc_op_find(op), &j, msg);
}

/* rpc_admit refuses what must not run, each with the errno and words the
 * client gets: an LZ4 body (-EOPNOTSUPP), a body on an op that takes none
 * (-EINVAL, "takes no body"), a NUL inside a name (-EINVAL), an unknown op
 * (-EOPNOTSUPP, "unknown op 99"); a sound PUT or SHARD_APPEND with a body,
 * and a GET without one, pass. */
START_TEST(test_admit)
{
	char msg[AIS_ERRMSG_LEN];

	ck_assert_int_eq(
	    admit(AIS__OP__OP_PUT, AIS_FRAME_FLAG_LZ4, 10, false, msg),
	    -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(msg, "LZ4"));

	ck_assert_int_eq(admit(AIS__OP__OP_GET, 0, 5, false, msg), -EINVAL);
	ck_assert_msg(strstr(msg, "GET takes no body"), "message \"%s\"", msg);
	ck_assert_int_eq(admit(AIS__OP__OP_DELETE, 0, 1, false, msg), -EINVAL);
	ck_assert_msg(strstr(msg, "takes no body"), "message \"%s\"", msg);

	ck_assert_int_eq(admit(AIS__OP__OP_PUT, 0, 10, true, msg), -EINVAL);
	ck_assert_msg(strstr(msg, "NUL"), "message \"%s\"", msg);

	ck_assert_int_eq(admit(99, 0, 0, false, msg), -EOPNOTSUPP);
	ck_assert_str_eq(msg, "unknown op 99");
	ck_assert_int_eq(admit(0, 0, 0, false, msg), -EOPNOTSUPP);
	ck_assert_str_eq(msg, "unknown op 0");

	ck_assert_int_eq(admit(AIS__OP__OP_PUT, 0, 10, false, msg), 0);
	ck_assert_int_eq(admit(AIS__OP__OP_PUT, 0, 0, false, msg), 0);
	ck_assert_int_eq(admit(AIS__OP__OP_SHARD_APPEND, 0, 512, false, msg),
			 0);
	ck_assert_int_eq(admit(AIS__OP__OP_GET, 0, 0, false, msg), 0);
}
END_TEST

/* An op this node does not know, sent with a body (a newer client's new op
 * that carries data, at an older node), is answered -EOPNOTSUPP "unknown
 * op N", not -EINVAL "takes no body": HACKING.md ("Adding a wire op")
 * promises that old nodes fail cleanly, and a client cannot tell such an
 * -EINVAL from a malformed request of its own. (It was -EINVAL once.) */
START_TEST(test_unknown_op_with_body)
{
	char msg[AIS_ERRMSG_LEN];

	ck_assert_int_eq(admit(99, 0, 100, false, msg), -EOPNOTSUPP);
	ck_assert_str_eq(msg, "unknown op 99");
}
END_TEST

/* A one-node aisd over one scratch mountpath, with the bucket BUCKET, and
 * the two ends of a connection: srv (non-blocking, as the loop lends it)
 * and cli. */
struct node {
	char dir[PATH_MAX];
	char mp[PATH_MAX];
	char *paths[1];
	struct aisd d;
	int srv, cli;
	uint32_t next_id;
	int fds; /* open before the node: as many after it */
};

static void node_open(struct node *n)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct timeval tv = {.tv_sec = 10};
	struct ais_node self;
	int sv[2], rc;

	memset(n, 0, sizeof(*n));
	/* libuv opens two descriptors once per process, with the first
	 * loop, that outlive every loop (its signal pipe): they are not
	 * leaks of ours. */
	n->fds = scratch_open_fds() + 2;
	scratch_dir(n->dir, "node");
	scratch_subdir(n->mp, n->dir, "mp0");
	n->paths[0] = n->mp;
	rc = store_new(n->paths, 1, &n->d.store, msg);
	ck_assert_msg(rc == 0, "store_new: %d %s", rc, msg);
	ck_assert_int_eq(shards_new(n->d.store, 0, &n->d.shards), 0);
	memset(&self, 0, sizeof(self));
	snprintf(self.id, sizeof(self.id), "%s", n->d.store->mps->node_id);
	snprintf(self.host, sizeof(self.host), "127.0.0.1");
	self.port = 51080;
	/* A real one-node cluster. With one node no peer is ever asked. */
	n->d.peers = peers_new(1000, 5000, 5000);
	ck_assert_ptr_nonnull(n->d.peers);
	n->d.probes = probes_new();
	ck_assert_ptr_nonnull(n->d.probes);
	scratch_cluster_up(&n->d, &self, n->dir, BUCKET);
	n->d.start_mono_ns = ais_now_mono_ns();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	n->srv = sv[0];
	n->cli = sv[1];
	/* A missing answer fails the case at once, not at its timeout. */
	ck_assert_int_eq(
	    setsockopt(n->cli, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(
	    fcntl(n->srv, F_SETFL, fcntl(n->srv, F_GETFL) | O_NONBLOCK), 0);
}

static void node_close(struct node *n)
{
	close(n->srv);
	close(n->cli);
	scratch_cluster_down(&n->d);
	shards_free(n->d.shards);
	peers_free(n->d.peers);
	store_free(n->d.store);
	probes_free(n->d.probes);
	ck_assert_int_eq(scratch_open_fds(), n->fds);
	scratch_rm(n->dir);
}

/* One answer as a client reads it. */
struct answer {
	struct ais_frame_hdr h;
	Ais__Response *resp;
	uint8_t *body;
	int rc; /* 0, or how reading it failed */
	char err[AIS_ERRMSG_LEN];
};

static void answer_free(struct answer *a)
{
	if (a->resp)
		ais__response__free_unpacked(a->resp, NULL);
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/* The client's side, on its own thread (the socket buffer is smaller than
 * some bodies): sends the part of the body the loop has not "read" yet,
 * then reads one answer frame and its body. */
struct client {
	int fd;
	const uint8_t *send;
	size_t sendlen;
	struct answer *a;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct answer *a = c->a;
	uint8_t hdr[AIS_FRAME_HDR_LEN], *head;
	int rc;

	if (c->sendlen && (rc = ais_write_all(c->fd, c->send, c->sendlen))) {
		a->rc =
		    ais_errf(a->err, rc, "sending the body: %s", strerror(-rc));
		return NULL;
	}
	rc = ais_read_all(c->fd, hdr, sizeof(hdr));
	if (rc) {
		a->rc = ais_errf(a->err, rc, "reading the frame header: %s",
				 strerror(-rc));
		return NULL;
	}
	rc = ais_frame_hdr_decode(hdr, &a->h, a->err);
	if (rc) {
		a->rc = rc;
		return NULL;
	}
	head = malloc(a->h.head_len);
	if (!head || ais_read_all(c->fd, head, a->h.head_len)) {
		free(head);
		a->rc = ais_errf(a->err, -EIO, "reading the head");
		return NULL;
	}
	a->resp = ais__response__unpack(NULL, a->h.head_len, head);
	free(head);
	if (!a->resp) {
		a->rc = ais_errf(a->err, -EBADMSG, "the head does not unpack");
		return NULL;
	}
	a->body = malloc(a->h.body_len + 1);
	if (!a->body || ais_read_all(c->fd, a->body, (size_t)a->h.body_len)) {
		a->rc = ais_errf(a->err, -EIO, "reading the body");
		return NULL;
	}
	return NULL;
}

/* Runs req through rpc_run as a worker would, with body (len bytes) of
 * which the first pre bytes came with the head (read ahead by the loop)
 * and the rest arrives on the socket; *a gets the answer and *j the job
 * after the run (close, body_left). */
static void call(struct node *n, Ais__Request *req, const void *body,
		 size_t len, size_t pre, uint16_t flags, struct answer *a,
		 struct rpc_job *j)
{
	struct client c;
	pthread_t t;
	uint8_t extra;

	memset(a, 0, sizeof(*a));
	memset(j, 0, sizeof(*j));
	j->hdr.magic = AIS_FRAME_MAGIC;
	j->hdr.version = AIS_FRAME_VERSION;
	j->hdr.flags = flags;
	j->hdr.request_id = ++n->next_id;
	j->hdr.head_len = (uint32_t)ais__request__get_packed_size(req);
	j->hdr.body_len = len;
	j->req = req;
	j->io.fd = n->srv;
	j->io.timeout_ms = 5000;
	j->io.pre = body;
	j->io.prelen = pre;
	j->io.body_left = len;
	j->peer = "test";
	c.fd = n->cli;
	c.send = (const uint8_t *)body + pre;
	c.sendlen = len - pre;
	c.a = a;
	ck_assert_int_eq(pthread_create(&t, NULL, client_main, &c), 0);
	rpc_run(&n->d, j);
	pthread_join(t, NULL);
	ck_assert_msg(a->rc == 0, "%s: %s", rpc_op_name(req->op), a->err);
	ck_assert_uint_eq(a->h.request_id, n->next_id);
	ck_assert_uint_eq(a->h.flags, 0);
	/* One frame, nothing after it. */
	ck_assert_int_eq(recv(n->cli, &extra, 1, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

static Ais__Request mkreq(int op, const char *name)
{
	Ais__Request q = AIS__REQUEST__INIT;

	q.op = op;
	q.bucket = (char *)BUCKET;
	q.name = (char *)name;
	return q;
}

/* The answer is status 0, on a connection that stays open. */
static void assert_ok(const struct answer *a, const struct rpc_job *j)
{
	ck_assert_msg(a->resp->status == 0, "status %d: %s", a->resp->status,
		      a->resp->message);
	ck_assert(!j->close);
	ck_assert_uint_eq(j->io.body_left, 0);
}

static void assert_status(const struct answer *a, const struct rpc_job *j,
			  int status, const char *words)
{
	ck_assert_msg(a->resp->status == status, "status %d (%s), want %d",
		      a->resp->status, a->resp->message, status);
	ck_assert_msg(strstr(a->resp->message, words),
		      "message \"%s\" lacks \"%s\"", a->resp->message, words);
	ck_assert_uint_eq(a->h.body_len, 0);
	ck_assert(!j->close);
	ck_assert_uint_eq(j->io.body_left, 0);
}

static void assert_meta(const Ais__ObjMeta *pb, uint64_t size, uint64_t version,
			const void *data)
{
	char hex[AIS_CKSUM_HEX_MAX];

	ck_assert_ptr_nonnull(pb);
	ck_assert_uint_eq(pb->size, size);
	ck_assert_uint_eq(pb->version, version);
	ck_assert_int_eq(pb->cksum_type, AIS__CKSUM_TYPE__CKSUM_XXH3);
	ck_assert_int_eq(ais_cksum_buf(AIS_CKSUM_XXH3, data, size, hex), 0);
	ck_assert_str_eq(pb->cksum_value, hex);
	ck_assert_uint_eq(pb->mode, 0640);
	ck_assert_int_eq(pb->mtime_ns, 1700000000000000001LL);
}

/* PUT, GET (whole, a range, at the end), HEAD through the handlers: the
 * bytes PUT are the bytes GET returns, with the metadata PUT answered; the
 * body may come with the head (read ahead by the loop), from the socket,
 * or both. */
START_TEST(test_put_get_head)
{
	enum { BIG = 1 << 20 };
	uint8_t small[3000], *big = malloc(BIG);
	Ais__Request q;
	struct answer a;
	struct rpc_job j;
	struct node n;

	ck_assert_ptr_nonnull(big);
	scratch_fill(small, sizeof(small), 1);
	scratch_fill(big, BIG, 2);
	node_open(&n);

	/* The whole body read ahead. */
	q = mkreq(AIS__OP__OP_PUT, "dir/small");
	q.mode = 0640;
	q.mtime_ns = 1700000000000000001LL;
	call(&n, &q, small, sizeof(small), sizeof(small), 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert_uint_eq(a.h.body_len, 0);
	ck_assert_uint_eq(j.io.preused, sizeof(small));
	assert_meta(a.resp->meta, sizeof(small), 1, small);
	ck_assert_uint_eq(a.resp->map_version, cluster_version(n.d.cluster));
	answer_free(&a);

	/* A MiB, its first KB read ahead and the rest from the socket,
	 * twice: the second PUT is version 2. */
	q = mkreq(AIS__OP__OP_PUT, "big");
	q.mode = 0640;
	q.mtime_ns = 1700000000000000001LL;
	call(&n, &q, big, BIG, 1000, 0, &a, &j);
	assert_ok(&a, &j);
	assert_meta(a.resp->meta, BIG, 1, big);
	answer_free(&a);
	call(&n, &q, big, BIG, 0, 0, &a, &j);
	assert_ok(&a, &j);
	assert_meta(a.resp->meta, BIG, 2, big);
	answer_free(&a);

	q = mkreq(AIS__OP__OP_GET, "big");
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert_uint_eq(a.h.body_len, BIG);
	ck_assert_msg(!memcmp(a.body, big, BIG), "GET: the bytes differ");
	ck_assert_uint_eq(a.resp->object_size, BIG);
	assert_meta(a.resp->meta, BIG, 2, big);
	answer_free(&a);

	q = mkreq(AIS__OP__OP_GET, "dir/small");
	q.offset = 100;
	q.length = 1000;
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert_uint_eq(a.h.body_len, 1000);
	ck_assert_mem_eq(a.body, small + 100, 1000);
	ck_assert_uint_eq(a.resp->object_size, sizeof(small));
	answer_free(&a);

	/* A range that runs past the end is cut at the end; one starting
	 * at the end is empty. */
	q.offset = 2500;
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert_uint_eq(a.h.body_len, 500);
	ck_assert_mem_eq(a.body, small + 2500, 500);
	answer_free(&a);
	q.offset = sizeof(small);
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert_uint_eq(a.h.body_len, 0);
	answer_free(&a);

	q = mkreq(AIS__OP__OP_HEAD, "dir/small");
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert_uint_eq(a.h.body_len, 0);
	assert_meta(a.resp->meta, sizeof(small), 1, small);
	answer_free(&a);

	/* RESOLVE: an object (its HEAD), a directory, nothing. */
	q = mkreq(AIS__OP__OP_RESOLVE, "dir/small");
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert(!a.resp->is_dir);
	assert_meta(a.resp->meta, sizeof(small), 1, small);
	answer_free(&a);
	q = mkreq(AIS__OP__OP_RESOLVE, "dir");
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert(a.resp->is_dir);
	ck_assert_ptr_null(a.resp->meta);
	answer_free(&a);
	q = mkreq(AIS__OP__OP_RESOLVE, "dir/none");
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	ck_assert_int_eq(a.resp->status, -ENOENT);
	ck_assert(!a.resp->is_dir);
	answer_free(&a);
	q = mkreq(AIS__OP__OP_RESOLVE, "dir/small/under");
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	ck_assert_int_eq(a.resp->status, -ENOENT);
	answer_free(&a);
	free(big);
	node_close(&n);
}
END_TEST

/* Errors are answered with the errno and words, and the connection stays
 * usable (each next request on it is answered): a GET of a missing name
 * (-ENOENT), an offset past the end (-EINVAL), an unknown op
 * (-EOPNOTSUPP), a body on GET (-EINVAL: the body, read ahead, is skipped),
 * a PUT into a missing bucket (-ENOENT: its small body is read and
 * dropped), an LZ4 body (-EOPNOTSUPP), a checksum mismatch (-EBADMSG, the
 * old object kept). PING answers the map version. */
START_TEST(test_errors)
{
	uint8_t data[2000], other[5000];
	Ais__Request q;
	struct answer a;
	struct rpc_job j;
	struct node n;

	scratch_fill(data, sizeof(data), 3);
	scratch_fill(other, sizeof(other), 4);
	node_open(&n);
	q = mkreq(AIS__OP__OP_PUT, "obj");
	q.mode = 0640;
	q.mtime_ns = 1700000000000000001LL;
	call(&n, &q, data, sizeof(data), sizeof(data), 0, &a, &j);
	assert_ok(&a, &j);
	answer_free(&a);

	q = mkreq(AIS__OP__OP_GET, "missing");
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_status(&a, &j, -ENOENT, "no such object");
	answer_free(&a);

	q = mkreq(AIS__OP__OP_GET, "obj");
	q.offset = sizeof(data) + 1;
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_status(&a, &j, -EINVAL, "past the end");
	answer_free(&a);

	q = mkreq(AIS__OP__OP_PING, "");
	q.bucket = (char *)"";
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert_uint_ge(cluster_version(n.d.cluster), 1);
	ck_assert_uint_eq(a.resp->map_version, cluster_version(n.d.cluster));
	answer_free(&a);

	q = mkreq(99, "obj");
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_status(&a, &j, -EOPNOTSUPP, "unknown op 99");
	answer_free(&a);

	q = mkreq(AIS__OP__OP_GET, "obj");
	call(&n, &q, "12345", 5, 5, 0, &a, &j);
	assert_status(&a, &j, -EINVAL, "takes no body");
	ck_assert_uint_eq(j.io.preused, 5);
	answer_free(&a);

	q = mkreq(AIS__OP__OP_PUT, "x");
	q.bucket = (char *)"nope";
	call(&n, &q, other, sizeof(other), 0, 0, &a, &j);
	assert_status(&a, &j, -ENOENT, "does not exist");
	answer_free(&a);

	q = mkreq(AIS__OP__OP_PUT, "obj");
	call(&n, &q, other, sizeof(other), sizeof(other), AIS_FRAME_FLAG_LZ4,
	     &a, &j);
	assert_status(&a, &j, -EOPNOTSUPP, "LZ4");
	answer_free(&a);

	q = mkreq(AIS__OP__OP_PUT, "obj");
	q.cksum_type = AIS__CKSUM_TYPE__CKSUM_XXH3;
	q.cksum_value = (char *)"0123456789abcdef";
	call(&n, &q, other, sizeof(other), 100, 0, &a, &j);
	assert_status(&a, &j, -EBADMSG, "mismatch");
	answer_free(&a);

	/* After all that, the object is the first PUT's. */
	q = mkreq(AIS__OP__OP_GET, "obj");
	call(&n, &q, NULL, 0, 0, 0, &a, &j);
	assert_ok(&a, &j);
	ck_assert_uint_eq(a.h.body_len, sizeof(data));
	ck_assert_mem_eq(a.body, data, sizeof(data));
	assert_meta(a.resp->meta, sizeof(data), 1, data);
	answer_free(&a);
	node_close(&n);
}
END_TEST

/* PUT of name with a small body. */
static void put_small(struct node *n, const char *name)
{
	Ais__Request q = mkreq(AIS__OP__OP_PUT, name);
	struct answer a;
	struct rpc_job j;

	call(n, &q, "x", 1, 1, 0, &a, &j);
	assert_ok(&a, &j);
	answer_free(&a);
}

/* LIST (list_since 0: a page) into names joined by ' ' ("dir/" for a
 * prefix entry); *arrivals and *moving from the answer. */
static void list(struct node *n, const char *prefix, const char *delim,
		 const char *after, uint64_t since, char *out, size_t outlen,
		 uint64_t *arrivals, bool *moving, int status)
{
	Ais__Request q = mkreq(AIS__OP__OP_LIST, "");
	struct answer a;
	struct rpc_job j;
	size_t i;

	q.prefix = (char *)prefix;
	q.delimiter = (char *)delim;
	q.start_after = (char *)after;
	q.list_since = since;
	call(n, &q, NULL, 0, 0, 0, &a, &j);
	ck_assert_msg(a.resp->status == status, "status %d (%s), want %d",
		      a.resp->status, a.resp->message, status);
	out[0] = 0;
	for (i = 0; i < a.resp->n_entries; i++) {
		const Ais__ListEntry *e = a.resp->entries[i];

		ck_assert(e->is_prefix == (e->meta == NULL));
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s",
			 i ? " " : "", e->name);
	}
	if (arrivals)
		*arrivals = a.resp->arrivals;
	if (moving)
		*moving = a.resp->moving;
	answer_free(&a);
}

/* The arrivals of a listing (daemon/store/arrivals.h): a page says its
 * arrival number and whether anything left lately; asked since that
 * number the node answers the names that appeared after it as a listing
 * would show them (rolled up, after start_after, under the prefix, each
 * once, only those still there), and -ESTALE once its ring has moved
 * past the number, or for a number it never gave. */
START_TEST(test_list_arrivals)
{
	char got[512];
	uint64_t s0, s1, s2;
	struct node n;
	bool moving;
	int i;

	node_open(&n);
	put_small(&n, "a/x");
	put_small(&n, "b");
	list(&n, "", "/", "", 0, got, sizeof(got), &s0, &moving, 0);
	ck_assert_str_eq(got, "a/ b");
	ck_assert_uint_ge(s0, 3); /* numbers start at 1; two PUTs */
	ck_assert(!moving);

	put_small(&n, "d/e/f");
	put_small(&n, "c");
	put_small(&n, "a/z");
	put_small(&n, "c"); /* again: one entry */
	list(&n, "", "/", "", s0, got, sizeof(got), &s1, NULL, 0);
	ck_assert_str_eq(got, "a/ c d/");
	ck_assert_uint_eq(s1, s0 + 4);
	list(&n, "", "", "a/z", s0, got, sizeof(got), NULL, NULL, 0);
	ck_assert_str_eq(got, "c d/e/f");
	list(&n, "d/", "", "", s0, got, sizeof(got), NULL, NULL, 0);
	ck_assert_str_eq(got, "d/e/f");
	list(&n, "", "", "", s1, got, sizeof(got), NULL, NULL, 0);
	ck_assert_str_eq(got, "");

	/* A name that went again is not answered. */
	{
		Ais__Request q = mkreq(AIS__OP__OP_DELETE, "c");
		struct answer a;
		struct rpc_job j;

		call(&n, &q, NULL, 0, 0, 0, &a, &j);
		assert_ok(&a, &j);
		answer_free(&a);
	}
	list(&n, "", "", "", s0, got, sizeof(got), NULL, NULL, 0);
	ck_assert_str_eq(got, "a/z d/e/f");

	/* Something left: pages say so. */
	arrivals_departed(n.d.store->arr);
	list(&n, "", "/", "", 0, got, sizeof(got), NULL, &moving, 0);
	ck_assert(moving);

	/* The ring moves past s0. */
	for (i = 0; i < ARRIVALS_DEFAULT + 1; i++)
		arrivals_note(n.d.store->arr, BUCKET, "zz");
	list(&n, "", "", "", s0, got, sizeof(got), NULL, NULL, -ESTALE);
	s2 = arrivals_seq(n.d.store->arr);
	list(&n, "", "", "", s2 - 10, got, sizeof(got), NULL, NULL, 0);
	ck_assert_str_eq(got, ""); /* "zz" is no object */
	/* A number this run never gave (from before a restart). */
	list(&n, "", "", "", s2 + 1000, got, sizeof(got), NULL, NULL, -ESTALE);
	node_close(&n);
}
END_TEST

static Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("ops");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_unknown_ops);
	tcase_add_test(tc, test_admit);
	tcase_add_test(tc, test_put_get_head);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_list_arrivals);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_unknown_op_with_body);
	return s;
}

int main(void)
{
	scratch_init("ops");
	return scratch_run(ops_suite());
}
