/* Unit tests of the cluster metadata rules (daemon/cluster/meta.c): what
 * every node computes from the Raft log. Joins, buckets, node states, the
 * placement generations and their history, the end of a rebalance (and of
 * a decommissioned node), refusals with reasons, and the snapshot's
 * encode/decode round trip. Pure functions: no disk, no network. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "map.h"
#include "names.h"
#include "util.h"

#include "cluster/meta.h"

/* A new node joins out of placement, then goes online itself. */
static int online(struct meta *m, const char *id)
{
	Ais__MetaCmd c = AIS__META_CMD__INIT;
	int i = ais_map_find(m->nodes, id);

	ck_assert_int_ge(i, 0);
	if (m->nodes->nodes[i].state != AIS_NODE_JOINING)
		return 0;
	c.kind = AIS__META_CMD__KIND__NODE_STATE;
	c.node_id = (char *)id;
	c.state = AIS_NODE_ONLINE;
	return meta_apply(m, &c);
}

static int join(struct meta *m, const char *id, int port)
{
	Ais__MetaCmd c = AIS__META_CMD__INIT;
	Ais__Node n = AIS__NODE__INIT;
	char raft[32];

	snprintf(raft, sizeof(raft), "127.0.0.1:%d", port + 1000);
	n.id = (char *)id;
	n.host = (char *)"127.0.0.1";
	n.port = (uint32_t)port;
	n.raft_addr = raft;
	c.kind = AIS__META_CMD__KIND__JOIN;
	c.node = &n;
	return meta_apply(m, &c) ?: online(m, id);
}

static int cmd_node(struct meta *m, Ais__MetaCmd__Kind kind, const char *id,
		    unsigned state, uint64_t rid)
{
	Ais__MetaCmd c = AIS__META_CMD__INIT;

	c.kind = kind;
	c.node_id = (char *)id;
	c.state = state;
	c.rebalance_id = rid;
	c.down = state != 0;
	return meta_apply(m, &c);
}

static int bucket(struct meta *m, Ais__MetaCmd__Kind kind, const char *b)
{
	Ais__MetaCmd c = AIS__META_CMD__INIT;

	c.kind = kind;
	c.bucket = (char *)b;
	c.time_ns = 42;
	return meta_apply(m, &c);
}

static void done_all(struct meta *m)
{
	char ids[16][AIS_NODE_ID_MAX];
	size_t i, n = m->nodes->n;

	for (i = 0; i < n; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s", m->nodes->nodes[i].id);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(cmd_node(m,
					  AIS__META_CMD__KIND__REBALANCE_DONE,
					  ids[i], 0, m->rebalance_id),
				 0);
}

START_TEST(test_join_history_settle)
{
	struct meta *m = meta_new();

	ck_assert_int_eq(join(m, "a", 1), 0);
	ck_assert_uint_eq(m->nodes->version, 2); /* joining, then online */
	ck_assert_uint_eq(m->rebalance_id, 1);
	/* The first placement has nothing before it. */
	ck_assert_uint_eq(m->nhistory, 0);
	done_all(m);
	ck_assert_int_eq(join(m, "b", 2), 0);
	ck_assert_uint_eq(m->rebalance_id, 2);
	ck_assert_uint_eq(m->nhistory, 1);
	ck_assert_uint_eq(m->history[0]->n, 1);
	ck_assert_str_eq(m->history[0]->nodes[0].id, "a");
	ck_assert_uint_eq(m->history[0]->version, 1);
	/* A join again (a restart) changes nothing. */
	ck_assert_uint_eq(m->nodes->version, 5);
	ck_assert_int_eq(join(m, "b", 2), 0);
	ck_assert_uint_eq(m->nodes->version, 5);
	/* A done for an old generation counts for nothing. */
	ck_assert_int_eq(
	    cmd_node(m, AIS__META_CMD__KIND__REBALANCE_DONE, "a", 0, 1), 0);
	ck_assert(!meta_rebalanced(m, "a"));
	ck_assert_int_eq(
	    cmd_node(m, AIS__META_CMD__KIND__REBALANCE_DONE, "a", 0, 2), 0);
	ck_assert(meta_rebalanced(m, "a"));
	ck_assert_uint_eq(m->nhistory, 1);
	ck_assert_int_eq(
	    cmd_node(m, AIS__META_CMD__KIND__REBALANCE_DONE, "b", 0, 2), 0);
	/* Everyone done: every object is at its owner. */
	ck_assert_uint_eq(m->nhistory, 0);
	/* "down" does not move data: no new generation. */
	ck_assert_int_eq(cmd_node(m, AIS__META_CMD__KIND__NODE_DOWN, "b", 1, 0),
			 0);
	ck_assert(m->nodes->nodes[ais_map_find(m->nodes, "b")].down);
	ck_assert_uint_eq(m->rebalance_id, 2);
	meta_free(m);
}
END_TEST

START_TEST(test_maintenance_decommission_remove)
{
	char errmsg[AIS_ERRMSG_LEN];
	Ais__MetaCmd c = AIS__META_CMD__INIT;
	struct meta *m = meta_new();
	uint64_t v;

	join(m, "a", 1);
	join(m, "b", 2);
	join(m, "c", 3);
	done_all(m);
	ck_assert_uint_eq(m->nhistory, 0);
	/* Maintenance: out of placement, its data stays: the history is kept
	 * even when every node reports done. */
	ck_assert_int_eq(cmd_node(m, AIS__META_CMD__KIND__NODE_STATE, "c",
				  AIS_NODE_MAINTENANCE, 0),
			 0);
	ck_assert_uint_eq(m->nhistory, 1);
	ck_assert_uint_eq(m->history[0]->n, 3);
	done_all(m);
	ck_assert_uint_eq(m->nhistory, 1);
	ck_assert_int_eq(cmd_node(m, AIS__META_CMD__KIND__NODE_STATE, "c",
				  AIS_NODE_ONLINE, 0),
			 0);
	ck_assert_uint_eq(m->nhistory, 2);
	done_all(m);
	ck_assert_uint_eq(m->nhistory, 0);
	/* Decommission: the node leaves the map once it has moved its data. */
	ck_assert_int_eq(cmd_node(m, AIS__META_CMD__KIND__NODE_STATE, "b",
				  AIS_NODE_DECOMMISSIONING, 0),
			 0);
	ck_assert_int_eq(cmd_node(m, AIS__META_CMD__KIND__REBALANCE_DONE, "b",
				  0, m->rebalance_id),
			 0);
	ck_assert_int_eq(ais_map_find(m->nodes, "b"), -1);
	ck_assert_uint_eq(m->nodes->n, 2);
	ck_assert_uint_eq(m->nhistory, 1); /* a and c are not done yet */
	done_all(m);
	ck_assert_uint_eq(m->nhistory, 0);
	/* The last node that takes data cannot leave placement. */
	ck_assert_int_eq(cmd_node(m, AIS__META_CMD__KIND__NODE_STATE, "a",
				  AIS_NODE_MAINTENANCE, 0),
			 0);
	v = m->nodes->version;
	c.kind = AIS__META_CMD__KIND__NODE_STATE;
	c.node_id = (char *)"c";
	c.state = AIS_NODE_DECOMMISSIONING;
	ck_assert_int_eq(meta_check(m, &c, errmsg), -EBUSY);
	ck_assert_ptr_nonnull(strstr(errmsg, "last node"));
	ck_assert_int_eq(meta_apply(m, &c), -EBUSY);
	ck_assert_uint_eq(m->nodes->version, v);
	/* Remove: gone at once; an unknown node is refused. */
	ck_assert_int_eq(
	    cmd_node(m, AIS__META_CMD__KIND__NODE_REMOVE, "a", 0, 0), 0);
	ck_assert_int_eq(ais_map_find(m->nodes, "a"), -1);
	ck_assert_int_eq(
	    cmd_node(m, AIS__META_CMD__KIND__NODE_REMOVE, "zz", 0, 0), -ENOENT);
	meta_free(m);
}
END_TEST

START_TEST(test_buckets_and_refusals)
{
	char errmsg[AIS_ERRMSG_LEN];
	Ais__MetaCmd c = AIS__META_CMD__INIT;
	Ais__Node n = AIS__NODE__INIT;
	struct meta *m = meta_new();
	char *held[] = {(char *)"old1", (char *)"old2"};

	join(m, "a", 1);
	ck_assert_int_eq(bucket(m, AIS__META_CMD__KIND__BUCKET_CREATE, "b2"),
			 0);
	ck_assert_int_eq(bucket(m, AIS__META_CMD__KIND__BUCKET_CREATE, "b1"),
			 0);
	ck_assert_int_eq(bucket(m, AIS__META_CMD__KIND__BUCKET_CREATE, "b1"),
			 -EEXIST);
	ck_assert_uint_eq(m->nbuckets, 2);
	ck_assert_str_eq(m->buckets[0].name, "b1");
	ck_assert_int_eq(bucket(m, AIS__META_CMD__KIND__BUCKET_DESTROY, "b2"),
			 0);
	ck_assert_int_eq(bucket(m, AIS__META_CMD__KIND__BUCKET_DESTROY, "b2"),
			 -ENOENT);
	ck_assert_int_eq(bucket(m, AIS__META_CMD__KIND__BUCKET_CREATE, "../x"),
			 -EINVAL);
	/* A joiner brings the buckets it holds. */
	n.id = (char *)"b";
	n.host = (char *)"h";
	n.port = 7;
	n.raft_addr = (char *)"h:8";
	c.kind = AIS__META_CMD__KIND__JOIN;
	c.node = &n;
	c.buckets = held;
	c.n_buckets = 2;
	ck_assert_int_eq(meta_apply(m, &c), 0);
	ck_assert_uint_eq(m->nbuckets, 3);
	ck_assert_int_ge(meta_bucket_find(m, "old2"), 0);
	/* Another id at a known address is refused. */
	n.id = (char *)"c";
	c.n_buckets = 0;
	ck_assert_int_eq(meta_check(m, &c, errmsg), -EEXIST);
	ck_assert_ptr_nonnull(strstr(errmsg, "already has address"));
	/* A node without a port is refused. */
	n.port = 0;
	ck_assert_int_eq(meta_apply(m, &c), -EINVAL);
	/* A kind from a newer version is a no-op. */
	c.kind = (Ais__MetaCmd__Kind)99;
	ck_assert_int_eq(meta_apply(m, &c), 0);
	meta_free(m);
}
END_TEST

START_TEST(test_encode_decode)
{
	char errmsg[AIS_ERRMSG_LEN];
	struct meta *m = meta_new(), *d = NULL;
	void *buf;
	size_t len, i;

	join(m, "a", 1);
	join(m, "b", 2);
	cmd_node(m, AIS__META_CMD__KIND__REBALANCE_DONE, "a", 0,
		 m->rebalance_id);
	bucket(m, AIS__META_CMD__KIND__BUCKET_CREATE, "x");
	cmd_node(m, AIS__META_CMD__KIND__NODE_DOWN, "b", 1, 0);
	ck_assert_int_eq(meta_encode(m, &buf, &len), 0);
	ck_assert_uint_eq(len % 8, 0); /* libraft's unit */
	ck_assert_int_eq(meta_decode(buf, len, &d, errmsg), 0);
	ck_assert_uint_eq(d->nodes->version, m->nodes->version);
	ck_assert(ais_map_same_nodes(d->nodes, m->nodes));
	ck_assert_uint_eq(d->nbuckets, 1);
	ck_assert_str_eq(d->buckets[0].name, "x");
	ck_assert_int_eq(d->buckets[0].created_ns, 42);
	ck_assert_uint_eq(d->rebalance_id, m->rebalance_id);
	ck_assert_uint_eq(d->nhistory, m->nhistory);
	for (i = 0; i < d->nhistory; i++)
		ck_assert(ais_map_same_nodes(d->history[i], m->history[i]));
	ck_assert(meta_rebalanced(d, "a"));
	ck_assert(!meta_rebalanced(d, "b"));
	/* Truncated or garbage: refused, nothing leaks. */
	meta_free(d);
	d = NULL;
	ck_assert_int_eq(meta_decode(buf, 3, &d, errmsg), -EPROTO);
	((uint8_t *)buf)[0] = 0xff;
	ck_assert_int_eq(meta_decode(buf, len, &d, errmsg), -EPROTO);
	raft_free(buf);
	meta_free(m);
}
END_TEST

static int etl_cmd(struct meta *m, Ais__MetaCmd__Kind kind, const char *name,
		   const char *prog, bool stop)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;
	Ais__EtlSpec spec = AIS__ETL_SPEC__INIT;
	char *argv[] = {(char *)prog, (char *)"-c"};
	char *env[] = {(char *)"K=V"};

	spec.name = (char *)name;
	spec.n_argv = prog ? 2 : 0;
	spec.argv = argv;
	spec.timeout_ms = 1500;
	spec.n_env = 1;
	spec.env = env;
	cmd.kind = kind;
	cmd.etl = &spec;
	cmd.etl_name = (char *)name;
	cmd.etl_stop = stop;
	cmd.time_ns = 77;
	return meta_apply(m, &cmd);
}

/* Transforms: registered sorted, refused when malformed or taken, stopped
 * and started, removed; every change a new version; kept by a snapshot. */
START_TEST(test_etls)
{
	char errmsg[AIS_ERRMSG_LEN];
	struct meta *m = meta_new(), *d = NULL;
	uint64_t v;
	void *buf;
	size_t len;

	join(m, "a", 1);
	v = m->nodes->version;
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_INIT, "zz", "/etl/gzip", false),
	    0);
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_INIT, "aa", "/etl/up", false),
	    0);
	ck_assert_uint_eq(m->nodes->version, v + 2);
	ck_assert_uint_eq(m->netls, 2);
	ck_assert_str_eq(m->etls[0]->name, "aa");
	ck_assert_str_eq(m->etls[1]->name, "zz");
	ck_assert_int_eq(m->etls[1]->created_ns, 77);
	ck_assert_int_eq(etl_cmd(m, AIS__META_CMD__KIND__ETL_INIT, "zz",
				 "/etl/other", false),
			 -EEXIST);
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_INIT, "rel", "etl/gzip", false),
	    -EINVAL);
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_INIT, "none", NULL, false),
	    -EINVAL);
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_INIT, "-x", "/etl/gzip", false),
	    -EINVAL);
	ck_assert_int_eq(etl_cmd(m, AIS__META_CMD__KIND__ETL_INIT, "a/b",
				 "/etl/gzip", false),
			 -EINVAL);
	{
		/* The metadata rules refuse what would load code from
		 * outside etl_dir, whichever client sent it, and a timeout
		 * past the longest a client waits. */
		Ais__MetaCmd cmd = AIS__META_CMD__INIT;
		Ais__EtlSpec spec = AIS__ETL_SPEC__INIT;
		char *argv[] = {(char *)"/etl/gzip"};
		char *env[] = {(char *)"LD_PRELOAD=/data/b/x.so"};

		spec.name = (char *)"pre";
		spec.n_argv = 1;
		spec.argv = argv;
		spec.n_env = 1;
		spec.env = env;
		cmd.kind = AIS__META_CMD__KIND__ETL_INIT;
		cmd.etl = &spec;
		ck_assert_int_eq(meta_apply(m, &cmd), -EINVAL);
		env[0] = (char *)"QUALITY=90";
		spec.timeout_ms = AIS_ETL_TIMEOUT_MAX_MS + 1;
		ck_assert_int_eq(meta_apply(m, &cmd), -EINVAL);
	}
	ck_assert_uint_eq(m->nodes->version, v + 2);
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_STATE, "aa", NULL, true), 0);
	ck_assert(m->etls[0]->stopped);
	ck_assert_uint_eq(m->nodes->version, v + 3);
	/* Stopping it again changes nothing: no new version. */
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_STATE, "aa", NULL, true), 0);
	ck_assert_uint_eq(m->nodes->version, v + 3);
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_STATE, "nope", NULL, true),
	    -ENOENT);

	ck_assert_int_eq(meta_encode(m, &buf, &len), 0);
	ck_assert_int_eq(meta_decode(buf, len, &d, errmsg), 0);
	raft_free(buf);
	ck_assert_uint_eq(d->netls, 2);
	ck_assert_str_eq(d->etls[0]->name, "aa");
	ck_assert(d->etls[0]->stopped);
	ck_assert_str_eq(d->etls[1]->argv[0], "/etl/gzip");
	ck_assert_str_eq(d->etls[1]->argv[1], "-c");
	ck_assert_str_eq(d->etls[1]->env[0], "K=V");
	ck_assert_uint_eq(d->etls[1]->timeout_ms, 1500);
	meta_free(d);

	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_REMOVE, "aa", NULL, false), 0);
	ck_assert_uint_eq(m->netls, 1);
	ck_assert_str_eq(m->etls[0]->name, "zz");
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_REMOVE, "aa", NULL, false),
	    -ENOENT);
	meta_free(m);
}
END_TEST

static int job_cmd(struct meta *m, Ais__MetaCmd__Kind kind, const char *id,
		   const char *etl, const char *src, const char *dst)
{
	Ais__MetaCmd cmd = AIS__META_CMD__INIT;
	Ais__EtlJob job = AIS__ETL_JOB__INIT;

	job.id = (char *)id;
	job.etl = (char *)etl;
	job.src_bucket = (char *)src;
	job.dst_bucket = (char *)dst;
	cmd.kind = kind;
	cmd.job = kind == AIS__META_CMD__KIND__JOB_START ? &job : NULL;
	cmd.job_id = (char *)id;
	cmd.time_ns = 88;
	return meta_apply(m, &cmd);
}

/* Offline transform jobs: started only for a transform and two buckets
 * that exist, stopped, kept in snapshots in order, removed. */
START_TEST(test_jobs)
{
	const Ais__MetaCmd__Kind start = AIS__META_CMD__KIND__JOB_START;
	char errmsg[AIS_ERRMSG_LEN];
	struct meta *m = meta_new(), *d = NULL;
	void *buf;
	size_t len;

	join(m, "a", 1);
	ck_assert_int_eq(bucket(m, AIS__META_CMD__KIND__BUCKET_CREATE, "src"),
			 0);
	ck_assert_int_eq(bucket(m, AIS__META_CMD__KIND__BUCKET_CREATE, "dst"),
			 0);
	ck_assert_int_eq(
	    etl_cmd(m, AIS__META_CMD__KIND__ETL_INIT, "gz", "/etl/gzip", false),
	    0);
	ck_assert_int_eq(job_cmd(m, start, "etl-1", "gz", "src", "dst"), 0);
	ck_assert_int_eq(job_cmd(m, start, "etl-2", "gz", "src", "dst"), 0);
	ck_assert_int_eq(job_cmd(m, start, "etl-1", "gz", "src", "dst"),
			 -EEXIST);
	ck_assert_int_eq(job_cmd(m, start, "etl-3", "nope", "src", "dst"),
			 -ENOENT);
	ck_assert_int_eq(job_cmd(m, start, "etl-3", "gz", "src", "none"),
			 -ENOENT);
	ck_assert_int_eq(job_cmd(m, start, "etl-3", "gz", "src", "src"),
			 -EINVAL);
	ck_assert_int_eq(job_cmd(m, start, "bad-id", "gz", "src", "dst"),
			 -EINVAL);
	ck_assert_uint_eq(m->njobs, 2);
	ck_assert_int_eq(m->jobs[0]->created_ns, 88);
	ck_assert_int_eq(job_cmd(m, AIS__META_CMD__KIND__JOB_STOP, "etl-1",
				 NULL, NULL, NULL),
			 0);
	ck_assert(m->jobs[0]->stopped);
	ck_assert_int_eq(job_cmd(m, AIS__META_CMD__KIND__JOB_STOP, "etl-9",
				 NULL, NULL, NULL),
			 -ENOENT);
	ck_assert_int_eq(meta_encode(m, &buf, &len), 0);
	ck_assert_int_eq(meta_decode(buf, len, &d, errmsg), 0);
	raft_free(buf);
	ck_assert_uint_eq(d->njobs, 2);
	ck_assert_str_eq(d->jobs[0]->id, "etl-1");
	ck_assert(d->jobs[0]->stopped);
	ck_assert_str_eq(d->jobs[1]->id, "etl-2");
	ck_assert_str_eq(d->jobs[1]->dst_bucket, "dst");
	meta_free(d);
	ck_assert_int_eq(job_cmd(m, AIS__META_CMD__KIND__JOB_REMOVE, "etl-1",
				 NULL, NULL, NULL),
			 0);
	ck_assert_uint_eq(m->njobs, 1);
	ck_assert_str_eq(m->jobs[0]->id, "etl-2");
	meta_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meta");
	TCase *tc = tcase_create("rules");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_join_history_settle);
	tcase_add_test(tc, test_maintenance_decommission_remove);
	tcase_add_test(tc, test_buckets_and_refusals);
	tcase_add_test(tc, test_encode_decode);
	tcase_add_test(tc, test_etls);
	tcase_add_test(tc, test_jobs);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
