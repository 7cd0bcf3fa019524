/* Integration: tokens and rights on a 3-node cluster with auth (ais local
 * up's default). Every op of the protocol, sent raw: refused without a
 * token (or allowed, for the few that need none); refused to a user one
 * right short of what it needs, allowed to one that has it; node-to-node
 * ops refused to every user and allowed to a node's root token. Then the
 * token's own checks: altered, another cluster's, expired, revoked (on
 * every node within seconds, one token or all of a user's), its user
 * removed; a wrong password; a bucket list that shows a user only its
 * buckets. The expected rights are written out here, from the protocol's
 * documentation, not read from the node's op table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "fileio.h"
#include "harness.h"

static struct ais_test_cluster tc;
#define C (tc.client)

enum need { N_NONE, N_AUTH, N_READ, N_WRITE, N_ADMIN, N_CLUSTER, N_NODE };

/* What each op needs (ais.proto, HACKING.md "Users, tokens, rights"). */
static const struct {
	int op;
	enum need need;
	bool generic; /* the "allowed" probe applies (no handler rules) */
} want[] = {
    {AIS__OP__OP_PING, N_NONE, true},
    {AIS__OP__OP_GET_MAP, N_NONE, true},
    {AIS__OP__OP_AUTH_LOGIN, N_NONE, false},
    {AIS__OP__OP_JOIN, N_NODE, true},
    {AIS__OP__OP_META_PROPOSE, N_NODE, false},
    {AIS__OP__OP_COPIES_SYNC, N_NODE, true},
    {AIS__OP__OP_PROBE_DIRS, N_NODE, true},
    {AIS__OP__OP_NODE_INFO, N_AUTH, true},
    {AIS__OP__OP_BUCKET_LIST, N_AUTH, true},
    {AIS__OP__OP_ETL_LIST, N_AUTH, true},
    {AIS__OP__OP_ETL_ERRORS, N_AUTH, true},
    {AIS__OP__OP_USER_LIST, N_AUTH, true},
    {AIS__OP__OP_S3_KEY_LIST, N_AUTH, true},
    {AIS__OP__OP_S3_KEY_ADD, N_AUTH, false},
    {AIS__OP__OP_S3_KEY_REMOVE, N_AUTH, false},
    {AIS__OP__OP_TOKEN_REVOKE, N_AUTH, false},
    {AIS__OP__OP_GET, N_READ, true},
    {AIS__OP__OP_HEAD, N_READ, true},
    {AIS__OP__OP_LIST, N_READ, true},
    {AIS__OP__OP_SHARD_LIST, N_READ, true},
    {AIS__OP__OP_RESOLVE, N_READ, true},
    {AIS__OP__OP_WATCH, N_READ, true},
    {AIS__OP__OP_MPU_LIST, N_READ, true},
    {AIS__OP__OP_PUT, N_WRITE, true},
    {AIS__OP__OP_PUT_BATCH, N_WRITE, true},
    {AIS__OP__OP_DELETE, N_WRITE, true},
    {AIS__OP__OP_RENAME, N_WRITE, true},
    {AIS__OP__OP_SET_META, N_WRITE, true},
    {AIS__OP__OP_SHARD_APPEND, N_WRITE, true},
    {AIS__OP__OP_MPU_CREATE, N_WRITE, true},
    {AIS__OP__OP_MPU_PART, N_WRITE, true},
    {AIS__OP__OP_MPU_COMPLETE, N_WRITE, true},
    {AIS__OP__OP_MPU_ABORT, N_WRITE, true},
    {AIS__OP__OP_BUCKET_CREATE, N_ADMIN, true},
    {AIS__OP__OP_BUCKET_DESTROY, N_ADMIN, true},
    {AIS__OP__OP_BUCKET_PROPS, N_ADMIN, true}, /* with set_copies */
    {AIS__OP__OP_SCRUB, N_ADMIN, true},
    {AIS__OP__OP_ETL_BUCKET, N_ADMIN, true},
    {AIS__OP__OP_CLUSTER_CHANGE, N_CLUSTER, true},
    {AIS__OP__OP_ETL_INIT, N_CLUSTER, true},
    {AIS__OP__OP_ETL_REMOVE, N_CLUSTER, true},
    {AIS__OP__OP_ETL_STATE, N_CLUSTER, true},
    {AIS__OP__OP_JOB_STOP, N_CLUSTER, true},
    {AIS__OP__OP_JOB_REMOVE, N_CLUSTER, true},
    {AIS__OP__OP_USER_ADD, N_CLUSTER, true},
    {AIS__OP__OP_USER_REMOVE, N_CLUSTER, true},
    {AIS__OP__OP_USER_GRANT, N_CLUSTER, true},
};

#define PW "a-long-enough-password"

/* Raw tokens of the users: one per right on bucket "authz" (which does
 * not exist: what an allowed op does there fails after the check), a
 * cluster admin, and a node's root token. */
struct tok {
	uint8_t raw[AIS_TOKEN_MAX];
	size_t len;
};
static struct tok t_auth, t_read, t_write, t_admin, t_cluster, t_root;
static struct ais_auth_key key;

static void login(const char *user, uint32_t ttl, struct tok *t)
{
	char msg[AIS_ERRMSG_LEN] = "", text[AIS_TOKEN_TEXT_MAX];
	ssize_t n;

	ck_assert_msg(ais_client_login(C, user, PW, ttl, text, msg) == 0,
		      "login %s: %s", user, msg);
	n = ais_token_from_text(text, t->raw, sizeof(t->raw));
	ck_assert_int_gt(n, 0);
	t->len = (size_t)n;
}

static void add_user(const char *user, const char *bucket, int right)
{
	char msg[AIS_ERRMSG_LEN] = "";

	ck_assert_msg(ais_client_user_add(C, user, PW, false, msg) == 0,
		      "user add %s: %s", user, msg);
	if (bucket)
		ck_assert_msg(ais_client_grant(C, user, bucket, right, msg) ==
				  0,
			      "grant %s: %s", user, msg);
}

/* One raw request to node i: its status and message (msg, 256); with
 * as_node, on a connection that shows a node's certificate. */
static int ask_on(int i, const Ais__Request *req, const struct tok *t,
		  char *msg, bool as_node)
{
	Ais__Request q = *req;
	Ais__Response *a;
	int fd = as_node ? ais_test_connect_node(ais_test_node_port(&tc, i))
			 : ais_test_connect(ais_test_node_port(&tc, i)),
	    st;
	static uint32_t id = 1;

	ck_assert_int_ge(fd, 0);
	q.token.data = t ? (uint8_t *)t->raw : NULL;
	q.token.len = t ? t->len : 0;
	ck_assert_int_eq(ais_test_send_req_as(fd, id++, &q, NULL, 0), 0);
	ck_assert_int_eq(ais_test_recv_resp(fd, &a, NULL), 0);
	st = a->status;
	snprintf(msg, AIS_ERRMSG_LEN, "%s", a->message ? a->message : "");
	ais__response__free_unpacked(a, NULL);
	ais_test_close(fd);
	return st;
}

static int ask(int i, const Ais__Request *req, const struct tok *t, char *msg)
{
	return ask_on(i, req, t, msg, false);
}

/* A request of op that is harmless when allowed: names that do not
 * exist, nothing to wait for. */
static void probe_req(Ais__Request *q, int op, Ais__EtlJob *job,
		      Ais__ClusterChange *ch)
{
	ais__request__init(q);
	q->op = op;
	q->bucket = (char *)"authz";
	q->name = (char *)"no-such-object";
	q->watch_wait_ms = 1;
	q->etl_name = (char *)"no-such-etl";
	q->job_id = (char *)"no-such-job";
	q->upload_id = (char *)"00000000000000000000000000000000";
	q->part_number = 1;
	if (op == AIS__OP__OP_BUCKET_PROPS)
		q->set_copies = true, q->copies = 1;
	if (op == AIS__OP__OP_USER_REMOVE || op == AIS__OP__OP_USER_GRANT)
		q->name = (char *)"no-such-user";
	if (op == AIS__OP__OP_ETL_BUCKET) {
		ais__etl_job__init(job);
		job->etl = (char *)"no-such-etl";
		job->src_bucket = (char *)"authz";
		job->dst_bucket = (char *)"authz";
		q->etl_job = job;
	}
	if (op == AIS__OP__OP_CLUSTER_CHANGE) {
		ais__cluster_change__init(ch);
		ch->kind = AIS__CLUSTER_CHANGE__KIND__MAINTENANCE_STOP;
		ch->node = (char *)"no-such-node";
		q->change = ch;
	}
}

static bool refused(int st, const char *msg)
{
	return st == -EACCES &&
	       (strstr(msg, "needs a token") || strstr(msg, "may not") ||
		strstr(msg, "only nodes") || strstr(msg, "node certificate"));
}

static int ask(int i, const Ais__Request *req, const struct tok *t, char *msg);
static void probe_req(Ais__Request *q, int op, Ais__EtlJob *job,
		      Ais__ClusterChange *ch);
static bool refused(int st, const char *msg);

/* The rights of the users on bucket authz, given again; returns once
 * every node has them. */
static void grant_all(void)
{
	char msg[AIS_ERRMSG_LEN] = "";
	uint64_t t0 = ais_now_mono_ns();
	Ais__Request q;

	ck_assert_int_eq(
	    ais_client_grant(C, "u-read", "authz", AIS_RIGHT_READ, msg), 0);
	ck_assert_int_eq(
	    ais_client_grant(C, "u-write", "authz", AIS_RIGHT_WRITE, msg), 0);
	ck_assert_int_eq(
	    ais_client_grant(C, "u-admin", "authz", AIS_RIGHT_ADMIN, msg), 0);
	probe_req(&q, AIS__OP__OP_LIST, NULL, NULL);
	for (int i = 0; i < 3; i++)
		while (refused(ask(i, &q, &t_admin, msg), msg))
			ck_assert_msg(ais_now_mono_ns() - t0 < 5000000000ull,
				      "node %d: no grant after 5 s", i);
}

START_TEST(test_setup)
{
	char path[PATH_MAX + 16], msg[AIS_ERRMSG_LEN] = "";
	struct ais_claims cl;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/secret", tc.cluster_dir);
	ck_assert_msg(ais_auth_key_load(path, &key, msg) == 0, "%s", msg);
	memset(&cl, 0, sizeof(cl));
	snprintf(cl.user, sizeof(cl.user), "@test-node");
	cl.issued_ns = ais_now_real_ns();
	cl.expires_ns = cl.issued_ns + 600 * 1000000000ll;
	cl.root = true;
	n = ais_token_mint(&key, &cl, t_root.raw, sizeof(t_root.raw));
	ck_assert_int_gt(n, 0);
	t_root.len = (size_t)n;

	add_user("u-auth", NULL, 0);
	add_user("u-read", "authz", AIS_RIGHT_READ);
	add_user("u-write", "authz", AIS_RIGHT_WRITE);
	add_user("u-admin", "authz", AIS_RIGHT_ADMIN);
	add_user("u-cluster", "", AIS_RIGHT_ADMIN);
	login("u-auth", 0, &t_auth);
	login("u-read", 0, &t_read);
	login("u-write", 0, &t_write);
	login("u-admin", 0, &t_admin);
	login("u-cluster", 0, &t_cluster);
}
END_TEST

/* Every op the node knows is in the table above: a new op must say what
 * it needs. */
START_TEST(test_every_op_listed)
{
	const ProtobufCEnumDescriptor *d = &ais__op__descriptor;

	for (unsigned i = 0; i < d->n_values; i++) {
		int op = d->values[i].value;
		bool found = op == AIS__OP__OP_NONE;

		for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
			found |= want[k].op == op;
		ck_assert_msg(found, "op %s: not in test_auth's table",
			      d->values[i].name);
	}
}
END_TEST

START_TEST(test_no_token)
{
	char msg[AIS_ERRMSG_LEN];

	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		Ais__EtlJob job;
		Ais__ClusterChange ch;
		Ais__Request q;
		int st;

		probe_req(&q, want[k].op, &job, &ch);
		st = ask((int)(k % 3), &q, NULL, msg);
		if (want[k].need == N_NONE)
			ck_assert_msg(!strstr(msg, "needs a token"),
				      "op %d without a token: %d %s",
				      want[k].op, st, msg);
		else
			/* With TLS, what only nodes send is refused first
			 * for the missing node certificate. */
			ck_assert_msg(st == -EACCES &&
					  (strstr(msg, "needs a token") ||
					   (want[k].need == N_NODE &&
					    ais_test_tls() &&
					    strstr(msg, "node certificate"))),
				      "op %d without a token: %d %s",
				      want[k].op, st, msg);
	}
}
END_TEST

/* For each op: the token one right short is refused, the token with the
 * right is not (whatever the op then makes of the names). */
START_TEST(test_rights_per_op)
{
	static const struct tok *by_need[] = {
	    [N_AUTH] = &t_auth,	      [N_READ] = &t_read,
	    [N_WRITE] = &t_write,     [N_ADMIN] = &t_admin,
	    [N_CLUSTER] = &t_cluster, [N_NODE] = &t_root,
	};
	static const struct tok *short_of[] = {
	    [N_READ] = &t_auth,	    [N_WRITE] = &t_read,   [N_ADMIN] = &t_write,
	    [N_CLUSTER] = &t_admin, [N_NODE] = &t_cluster,
	};
	char msg[AIS_ERRMSG_LEN];

	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		enum need nd = want[k].need;
		Ais__EtlJob job;
		Ais__ClusterChange ch;
		Ais__Request q;
		int st;

		if (nd == N_NONE)
			continue;
		probe_req(&q, want[k].op, &job, &ch);
		if (nd != N_AUTH) {
			st = ask((int)(k % 3), &q, short_of[nd], msg);
			ck_assert_msg(refused(st, msg),
				      "op %d one right short: %d %s",
				      want[k].op, st, msg);
		}
		if (!want[k].generic)
			continue;
		/* What only nodes send needs, with TLS, a node's
		 * certificate too: a root token alone is refused. */
		if (nd == N_NODE && ais_test_tls()) {
			st = ask((int)((k + 1) % 3), &q, &t_root, msg);
			ck_assert_msg(refused(st, msg) &&
					  strstr(msg, "node certificate"),
				      "op %d, root token, no node "
				      "certificate: %d %s",
				      want[k].op, st, msg);
		}
		st = ask_on((int)((k + 1) % 3), &q, by_need[nd], msg,
			    nd == N_NODE);
		ck_assert_msg(!refused(st, msg),
			      "op %d with its right: refused: %s", want[k].op,
			      msg);
		if (want[k].op == AIS__OP__OP_BUCKET_DESTROY) {
			/* It was made by BUCKET_CREATE above, and went with
			 * every right on it: granted again for what
			 * follows. */
			ck_assert_int_eq(st, 0);
			probe_req(&q, AIS__OP__OP_LIST, &job, &ch);
			st = ask(0, &q, &t_admin, msg);
			ck_assert_msg(refused(st, msg),
				      "a right outlived its bucket: %d %s", st,
				      msg);
			grant_all();
		}
	}
}
END_TEST

/* Reading a bucket's properties needs read; setting them, admin. Node
 * flags are refused to every user. */
START_TEST(test_special_cases)
{
	char msg[AIS_ERRMSG_LEN];
	Ais__Request q;
	int st;

	probe_req(&q, AIS__OP__OP_BUCKET_PROPS, NULL, NULL);
	q.set_copies = false;
	st = ask(0, &q, &t_read, msg);
	ck_assert_msg(!refused(st, msg), "props read: %s", msg);
	st = ask(0, &q, &t_auth, msg);
	ck_assert_msg(refused(st, msg), "props read, no right: %s", msg);

	probe_req(&q, AIS__OP__OP_GET, NULL, NULL);
	q.peer_local = true;
	st = ask(1, &q, &t_cluster, msg);
	ck_assert_msg(st == -EACCES && (strstr(msg, "only nodes") ||
					strstr(msg, "nodes only")),
		      "peer_local from a user: %d %s", st, msg);
	probe_req(&q, AIS__OP__OP_PUT, NULL, NULL);
	q.migrate = true;
	/* Even on a connection with a node's certificate, a user's token
	 * does not make node-to-node requests. */
	st = ask_on(2, &q, &t_admin, msg, true);
	ck_assert_msg(st == -EACCES && strstr(msg, "only nodes"),
		      "migrate from a user: %d %s", st, msg);

	/* A bucket op with no bucket: every bucket, a cluster admin's. */
	probe_req(&q, AIS__OP__OP_SCRUB, NULL, NULL);
	q.bucket = (char *)"";
	st = ask(0, &q, &t_admin, msg);
	ck_assert_msg(refused(st, msg), "scrub of all by a bucket admin: %s",
		      msg);
	probe_req(&q, AIS__OP__OP_LIST, NULL, NULL);
	q.bucket = (char *)"";
	st = ask(1, &q, &t_admin, msg);
	ck_assert_msg(refused(st, msg), "a listing of no bucket: %s", msg);

	/* An offline transform reads its source: admin on the destination
	 * is not enough. */
	{
		Ais__EtlJob job;

		probe_req(&q, AIS__OP__OP_ETL_BUCKET, &job, NULL);
		job.src_bucket = (char *)"test";
		st = ask(2, &q, &t_admin, msg);
		ck_assert_msg(refused(st, msg) && strstr(msg, "bucket test"),
			      "a transform from a bucket it may not read: %d "
			      "%s",
			      st, msg);
	}

	/* Any mount may end its lease (bucket "?"), and watch every bucket
	 * (it hears of the changes in those it may read). */
	probe_req(&q, AIS__OP__OP_WATCH, NULL, NULL);
	q.bucket = (char *)"?";
	q.watch_release = true;
	q.watch_id = 12345;
	st = ask(0, &q, &t_read, msg);
	ck_assert_msg(st == 0, "a lease's release: %d %s", st, msg);
	probe_req(&q, AIS__OP__OP_WATCH, NULL, NULL);
	q.bucket = (char *)"";
	q.watch_id = 12346;
	st = ask(1, &q, &t_auth, msg);
	ck_assert_msg(!refused(st, msg), "a watch of all: %d %s", st, msg);
	q.watch_release = true;
	q.bucket = (char *)"?";
	ck_assert_int_eq(ask(1, &q, &t_auth, msg), 0);
}
END_TEST

START_TEST(test_bad_tokens)
{
	char msg[AIS_ERRMSG_LEN];
	struct ais_auth_key other;
	struct ais_claims cl;
	struct tok t;
	Ais__Request q;
	ssize_t n;
	int st;

	probe_req(&q, AIS__OP__OP_LIST, NULL, NULL);
	/* Altered: one byte of the claims. */
	t = t_read;
	t.raw[3] ^= 1;
	st = ask(0, &q, &t, msg);
	ck_assert_msg(st == -EACCES && (strstr(msg, "signature") ||
					strstr(msg, "malformed")),
		      "altered: %d %s", st, msg);
	/* The signature cut short. */
	t = t_read;
	t.len -= 5;
	st = ask(0, &q, &t, msg);
	ck_assert_msg(st == -EACCES, "short: %d %s", st, msg);
	/* Garbage. */
	memset(t.raw, 0xa5, 100);
	t.len = 100;
	st = ask(1, &q, &t, msg);
	ck_assert_msg(st == -EACCES && strstr(msg, "malformed"),
		      "garbage: %d %s", st, msg);
	/* Another cluster's root token. */
	ais_auth_key_from("another cluster's secret, 32+ bytes long", 41,
			  &other);
	memset(&cl, 0, sizeof(cl));
	snprintf(cl.user, sizeof(cl.user), "@impostor");
	cl.issued_ns = ais_now_real_ns();
	cl.expires_ns = cl.issued_ns + 600 * 1000000000ll;
	cl.root = true;
	n = ais_token_mint(&other, &cl, t.raw, sizeof(t.raw));
	ck_assert_int_gt(n, 0);
	t.len = (size_t)n;
	st = ask(2, &q, &t, msg);
	ck_assert_msg(st == -EACCES && strstr(msg, "another cluster"),
		      "another cluster: %d %s", st, msg);
	/* This cluster's key id, another key: the signature fails. */
	memcpy(other.kid, key.kid, sizeof(key.kid));
	memset(cl.id, 0, sizeof(cl.id));
	n = ais_token_mint(&other, &cl, t.raw, sizeof(t.raw));
	t.len = (size_t)n;
	st = ask(2, &q, &t, msg);
	ck_assert_msg(st == -EACCES && strstr(msg, "signature"),
		      "forged kid: %d %s", st, msg);
	/* And the node still serves the right token. */
	st = ask(2, &q, &t_read, msg);
	ck_assert_msg(!refused(st, msg), "%s", msg);
}
END_TEST

START_TEST(test_login_refused)
{
	char msg[AIS_ERRMSG_LEN] = "", text[AIS_TOKEN_TEXT_MAX];

	ck_assert_int_eq(
	    ais_client_login(C, "u-read", "not-the-password", 0, text, msg),
	    -EACCES);
	ck_assert_msg(strstr(msg, "login refused"), "%s", msg);
	ck_assert_int_eq(ais_client_login(C, "nobody", PW, 0, text, msg),
			 -EACCES);
	ck_assert_int_eq(ais_client_user_add(C, "u-short", "short", false, msg),
			 -EINVAL);
	ck_assert_int_eq(ais_client_user_add(C, "bad/name", PW, false, msg),
			 -EINVAL);
	ck_assert_int_eq(ais_client_user_add(C, "u-read", PW, false, msg),
			 -EEXIST);
}
END_TEST

START_TEST(test_expired)
{
	char msg[AIS_ERRMSG_LEN];
	struct tok t;
	Ais__Request q;
	int st;

	login("u-read", 1, &t);
	probe_req(&q, AIS__OP__OP_LIST, NULL, NULL);
	st = ask(0, &q, &t, msg);
	ck_assert_msg(!refused(st, msg), "fresh: %s", msg);
	usleep(1300 * 1000);
	st = ask(0, &q, &t, msg);
	ck_assert_msg(st == -EACCES && strstr(msg, "expired"), "%d %s", st,
		      msg);
}
END_TEST

/* Every node refuses within seconds; returns how long it took. */
static double until_refused_everywhere(const struct tok *t, const char *why)
{
	uint64_t t0 = ais_now_mono_ns();
	char msg[AIS_ERRMSG_LEN];
	Ais__Request q;

	probe_req(&q, AIS__OP__OP_LIST, NULL, NULL);
	for (int i = 0; i < 3; i++) {
		for (;;) {
			int st = ask(i, &q, t, msg);

			if (st == -EACCES && strstr(msg, why))
				break;
			ck_assert_msg(ais_now_mono_ns() - t0 < 5000000000ull,
				      "node %d still takes the token after 5 "
				      "s: %d %s",
				      i, st, msg);
			usleep(20000);
		}
	}
	return (double)(ais_now_mono_ns() - t0) / 1e9;
}

START_TEST(test_revoke)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_claims cl;
	struct tok one, two, later;
	Ais__Request q;
	double s;
	int st;

	/* One token. */
	login("u-write", 0, &one);
	login("u-write", 0, &two);
	ck_assert_int_eq(ais_token_peek(one.raw, one.len, &cl), 0);
	ck_assert_int_eq(ais_client_revoke_token(C, cl.id, cl.expires_ns, msg),
			 0);
	s = until_refused_everywhere(&one, "revoked");
	printf("one token revoked on 3 nodes in %.2f s\n", s);
	probe_req(&q, AIS__OP__OP_LIST, NULL, NULL);
	st = ask(1, &q, &two, msg);
	ck_assert_msg(!refused(st, msg), "the other token: %s", msg);

	/* Every token of a user; a new login works again. */
	ck_assert_int_eq(ais_client_revoke_user(C, "u-write", msg), 0);
	s = until_refused_everywhere(&two, "revoked");
	printf("user's tokens revoked on 3 nodes in %.2f s\n", s);
	usleep(10000);
	login("u-write", 0, &later);
	st = ask(2, &q, &later, msg);
	ck_assert_msg(!refused(st, msg), "after a new login: %s", msg);

	/* A user's own: another user's tokens are not its to revoke. */
	{
		struct ais_client_opts o;
		struct ais_client *c;
		char path[PATH_MAX + 16], text[AIS_TOKEN_TEXT_MAX];

		ck_assert_int_eq(ais_token_to_text(t_read.raw, t_read.len, text,
						   sizeof(text)),
				 0);
		snprintf(path, sizeof(path), "%s/read.token", tc.dir);
		ck_assert_int_eq(ais_token_file_write(path, text, msg), 0);
		ais_client_opts_default(&o);
		o.token_file = path;
		c = ais_client_new(tc.endpoint, &o, msg);
		ck_assert_msg(c != NULL, "%s", msg);
		ck_assert_int_eq(ais_client_revoke_user(c, "u-write", msg),
				 -EACCES);
		ck_assert_int_eq(ais_client_user_remove(c, "u-write", msg),
				 -EACCES);
		ais_client_free(c);
	}

	/* The user goes: its tokens with it. */
	ck_assert_int_eq(ais_client_user_remove(C, "u-write", msg), 0);
	until_refused_everywhere(&later, "no longer exists");
}
END_TEST

/* The bucket list of token t on connection fd: whether it has "test" and
 * "vis-read". */
static void list_buckets(int fd, uint32_t id, const struct tok *t, bool *test,
			 bool *vis)
{
	Ais__Request q;
	Ais__Response *a;

	ais__request__init(&q);
	q.op = AIS__OP__OP_BUCKET_LIST;
	q.token.data = (uint8_t *)t->raw;
	q.token.len = t->len;
	ck_assert_int_eq(ais_test_send_req_as(fd, id, &q, NULL, 0), 0);
	ck_assert_int_eq(ais_test_recv_resp(fd, &a, NULL), 0);
	ck_assert_int_eq(a->status, 0);
	*test = *vis = false;
	for (size_t i = 0; i < a->n_buckets; i++) {
		*test |= !strcmp(a->buckets[i], "test");
		*vis |= !strcmp(a->buckets[i], "vis-read");
	}
	ais__response__free_unpacked(a, NULL);
}

/* A user sees the buckets it has a right on; a cluster admin, all; one
 * connection that changes tokens sees with each its own. */
START_TEST(test_bucket_list_filtered)
{
	char msg[AIS_ERRMSG_LEN] = "";
	bool test, vis;
	int fd;

	ck_assert_int_eq(ais_client_bucket_create(C, "vis-read", msg), 0);
	ck_assert_int_eq(
	    ais_client_grant(C, "u-read", "vis-read", AIS_RIGHT_READ, msg), 0);
	usleep(300 * 1000); /* every node applies the grant */
	fd = ais_test_connect(ais_test_node_port(&tc, 0));
	ck_assert_int_ge(fd, 0);
	list_buckets(fd, 1, &t_cluster, &test, &vis);
	ck_assert_msg(test && vis, "a cluster admin sees every bucket");
	list_buckets(fd, 2, &t_read, &test, &vis);
	ck_assert_msg(!test && vis, "u-read sees test %d, vis-read %d", test,
		      vis);
	list_buckets(fd, 3, &t_cluster, &test, &vis);
	ck_assert_msg(test && vis, "the admin's token again");
	ais_test_close(fd);
}
END_TEST

/* A user removed and added again under the same name: the tokens of the
 * first are not the second's. */
START_TEST(test_user_again)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct tok old, fresh;
	Ais__Request q;
	int st;

	add_user("u-again", "authz", AIS_RIGHT_READ);
	login("u-again", 0, &old);
	ck_assert_int_eq(ais_client_user_remove(C, "u-again", msg), 0);
	add_user("u-again", "authz", AIS_RIGHT_READ);
	usleep(300 * 1000);
	probe_req(&q, AIS__OP__OP_LIST, NULL, NULL);
	for (int i = 0; i < 3; i++) {
		st = ask(i, &q, &old, msg);
		ck_assert_msg(st == -EACCES && strstr(msg, "revoked"),
			      "node %d takes the first u-again's token: %d %s",
			      i, st, msg);
	}
	login("u-again", 0, &fresh);
	st = ask(0, &q, &fresh, msg);
	ck_assert_msg(!refused(st, msg), "the new token: %s", msg);
}
END_TEST

/* The cluster's jobs as token t sees them: whether job id is there. */
static bool sees_job(const struct tok *t, const char *id)
{
	char path[PATH_MAX + 16], msg[AIS_ERRMSG_LEN] = "";
	char text[AIS_TOKEN_TEXT_MAX];
	struct ais_client_opts o;
	struct ais_etl_job *v;
	struct ais_client *c;
	bool seen = false;
	size_t n;

	ck_assert_int_eq(ais_token_to_text(t->raw, t->len, text, sizeof(text)),
			 0);
	snprintf(path, sizeof(path), "%s/jobs.token", tc.dir);
	ck_assert_int_eq(ais_token_file_write(path, text, msg), 0);
	ais_client_opts_default(&o);
	o.token_file = path;
	c = ais_client_new(tc.endpoint, &o, msg);
	ck_assert_msg(c != NULL, "%s", msg);
	ck_assert_msg(ais_client_etl_jobs(c, &v, &n, msg) == 0, "%s", msg);
	for (size_t i = 0; i < n; i++)
		seen |= !strcmp(v[i].id, id);
	free(v);
	ais_client_free(c);
	return seen;
}

/* A user sees the offline transforms of buckets it may read only. */
START_TEST(test_jobs_filtered)
{
	char conf[PATH_MAX + 16], buf[8192], prog[PATH_MAX + 16];
	char msg[AIS_ERRMSG_LEN] = "", id[48];
	char *argv[2] = {prog, NULL};
	struct ais_etl e;
	struct ais_etl_job job;
	const char *p;
	ssize_t len;

	snprintf(conf, sizeof(conf), "%s/cluster.conf", tc.cluster_dir);
	len = ais_read_file(conf, buf, sizeof(buf) - 1);
	ck_assert_int_gt(len, 0);
	buf[len] = 0;
	p = strstr(buf, "etl_dir = ");
	ck_assert_msg(p != NULL, "ais local up gave the cluster no etl_dir");
	snprintf(prog, sizeof(prog), "%.*s/identity",
		 (int)strcspn(p + 10, "\n"), p + 10);
	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "ident");
	e.argv = argv;
	e.mode = AIS_ETL_FILTER;
	ck_assert_msg(ais_client_etl_init(C, &e, msg) == 0, "%s", msg);
	ck_assert_int_eq(ais_client_bucket_create(C, "etl-dst", msg), 0);
	memset(&job, 0, sizeof(job));
	snprintf(job.etl, sizeof(job.etl), "ident");
	snprintf(job.src_bucket, sizeof(job.src_bucket), "test");
	snprintf(job.dst_bucket, sizeof(job.dst_bucket), "etl-dst");
	ck_assert_msg(ais_client_etl_bucket(C, &job, id, msg) == 0, "%s", msg);
	ck_assert(sees_job(&t_cluster, id));
	ck_assert_msg(!sees_job(&t_read, id), "u-read sees a job of test");
	ck_assert_int_eq(
	    ais_client_grant(C, "u-read", "test", AIS_RIGHT_READ, msg), 0);
	ck_assert_int_eq(
	    ais_client_grant(C, "u-read", "etl-dst", AIS_RIGHT_READ, msg), 0);
	usleep(300 * 1000);
	ck_assert_msg(sees_job(&t_read, id), "u-read, with read on both");
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *t = tcase_create("auth");

	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_setup);
	tcase_add_test(t, test_every_op_listed);
	tcase_add_test(t, test_no_token);
	tcase_add_test(t, test_rights_per_op);
	tcase_add_test(t, test_special_cases);
	tcase_add_test(t, test_bad_tokens);
	tcase_add_test(t, test_login_refused);
	tcase_add_test(t, test_expired);
	tcase_add_test(t, test_revoke);
	tcase_add_test(t, test_bucket_list_filtered);
	tcase_add_test(t, test_user_again);
	tcase_add_test(t, test_jobs_filtered);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return ais_test_main(&tc, "auth", 3, auth_suite());
}
