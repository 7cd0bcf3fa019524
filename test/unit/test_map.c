/* Unit tests of lib/core/map.c: add/find, merge and its convergence rules,
 * owner lookup (stable, ONLINE only), protobuf round trip and validation. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hrw.h"
#include "map.h"
#include "util.h"

static struct ais_node mknode(const char *id, const char *host, uint16_t port,
			      int state)
{
	struct ais_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.id, sizeof(n.id), "%s", id);
	snprintf(n.host, sizeof(n.host), "%s", host);
	n.port = port;
	n.state = state;
	return n;
}

/* A map of nodes named by letters: "abc" -> ids "node-a", "node-b", ... at
 * 127.0.0.1:20000+letter. */
static struct ais_map *mkmap(const char *letters, uint64_t version)
{
	struct ais_map *m = ais_map_new();

	ck_assert_ptr_nonnull(m);
	for (const char *p = letters; *p; p++) {
		char id[16];
		struct ais_node n;

		snprintf(id, sizeof(id), "node-%c", *p);
		n = mknode(id, "127.0.0.1", (uint16_t)(20000 + *p),
			   AIS_NODE_ONLINE);
		ck_assert_int_eq(ais_map_add(m, &n), 1);
	}
	m->version = version;
	return m;
}

static void assert_sorted(const struct ais_map *m)
{
	for (size_t i = 1; i < m->n; i++)
		ck_assert_msg(strcmp(m->nodes[i - 1].id, m->nodes[i].id) < 0,
			      "nodes not sorted by id at %zu", i);
}

START_TEST(test_new_add_find)
{
	struct ais_map *m = ais_map_new();
	struct ais_node a = mknode("bbbb", "127.0.0.1", 1001, AIS_NODE_ONLINE);
	struct ais_node b = mknode("aaaa", "127.0.0.1", 1002, AIS_NODE_ONLINE);
	struct ais_node c = mknode("cccc", "127.0.0.1", 1003, AIS_NODE_ONLINE);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->version, 0);
	ck_assert_uint_eq(m->n, 0);
	ck_assert_int_eq(ais_map_find(m, "aaaa"), -1);

	ck_assert_int_eq(ais_map_add(m, &a), 1);
	ck_assert_int_eq(ais_map_add(m, &c), 1);
	ck_assert_int_eq(ais_map_add(m, &b), 1);
	ck_assert_uint_eq(m->n, 3);
	assert_sorted(m);
	ck_assert_str_eq(m->nodes[0].id, "aaaa");
	ck_assert_int_eq(ais_map_find(m, "aaaa"), 0);
	ck_assert_int_eq(ais_map_find(m, "bbbb"), 1);
	ck_assert_int_eq(ais_map_find(m, "cccc"), 2);
	ck_assert_int_eq(ais_map_find(m, "dddd"), -1);
	/* The same node again: no change; the version is never touched. */
	ck_assert_int_eq(ais_map_add(m, &a), 0);
	ck_assert_uint_eq(m->n, 3);
	ck_assert_uint_eq(m->version, 0);
	/* A new address or state for a known id: an update, not a new node. */
	a.port = 2001;
	ck_assert_int_eq(ais_map_add(m, &a), 1);
	ck_assert_uint_eq(m->n, 3);
	ck_assert_uint_eq(m->nodes[1].port, 2001);
	a.state = AIS_NODE_MAINTENANCE;
	ck_assert_int_eq(ais_map_add(m, &a), 1);
	ck_assert_int_eq(m->nodes[1].state, AIS_NODE_MAINTENANCE);
	ck_assert_uint_eq(m->version, 0);
	ais_map_free(m);
	ais_map_free(NULL);
}
END_TEST

START_TEST(test_dup_same)
{
	struct ais_map *m = mkmap("abcde", 7);
	struct ais_map *d = ais_map_dup(m);
	struct ais_map *e = mkmap("abcd", 7);

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_ne(d->nodes, m->nodes);
	ck_assert_uint_eq(d->version, 7);
	ck_assert(ais_map_same_nodes(m, d));
	ck_assert(!ais_map_same_nodes(m, e));
	d->nodes[2].port++;
	ck_assert(!ais_map_same_nodes(m, d));
	ck_assert_uint_eq(m->nodes[2].port, 20000 + 'c');
	ais_map_free(m);
	ais_map_free(d);
	ais_map_free(e);
}
END_TEST

START_TEST(test_merge_adopts_superset)
{
	/* Result == other's nodes: version = max. */
	struct ais_map *m = mkmap("ab", 3);
	struct ais_map *o = mkmap("abc", 5);

	ck_assert_int_eq(ais_map_merge(m, o), 1);
	ck_assert(ais_map_same_nodes(m, o));
	ck_assert_uint_eq(m->version, 5);
	assert_sorted(m);
	ais_map_free(m);
	ais_map_free(o);

	m = mkmap("ab", 9);
	o = mkmap("abc", 5);
	ck_assert_int_eq(ais_map_merge(m, o), 1);
	ck_assert(ais_map_same_nodes(m, o));
	ck_assert_uint_eq(m->version, 9);
	ais_map_free(m);
	ais_map_free(o);
}
END_TEST

START_TEST(test_merge_new_view)
{
	/* Result equals neither side: max + 1. */
	struct ais_map *m = mkmap("ab", 3);
	struct ais_map *o = mkmap("ac", 4);

	ck_assert_int_eq(ais_map_merge(m, o), 1);
	ck_assert_uint_eq(m->n, 3);
	ck_assert_int_ge(ais_map_find(m, "node-a"), 0);
	ck_assert_int_ge(ais_map_find(m, "node-b"), 0);
	ck_assert_int_ge(ais_map_find(m, "node-c"), 0);
	ck_assert_uint_eq(m->version, 5);
	assert_sorted(m);
	ais_map_free(m);
	ais_map_free(o);
}
END_TEST

START_TEST(test_merge_nothing_new)
{
	/* other is a subset: m keeps its nodes, and merging is idempotent. */
	struct ais_map *m = mkmap("abc", 6);
	struct ais_map *o = mkmap("a", 2);
	struct ais_map *before = ais_map_dup(m);

	ck_assert_int_eq(ais_map_merge(m, o), 0);
	ck_assert(ais_map_same_nodes(m, before));
	ck_assert_uint_eq(m->version, 6);
	ck_assert_int_eq(ais_map_merge(m, before), 0);
	ck_assert_uint_eq(m->version, 6);
	ck_assert(ais_map_same_nodes(m, before));
	ais_map_free(m);
	ais_map_free(o);
	ais_map_free(before);
}
END_TEST

START_TEST(test_merge_newer_entry_wins)
{
	/* A node in both maps with different addresses: the entry from the
	 * map with the higher version wins, whichever side it is on. */
	struct ais_map *m = mkmap("ab", 3);
	struct ais_map *o = mkmap("ab", 8);
	struct ais_node moved =
	    mknode("node-b", "10.0.0.2", 7777, AIS_NODE_ONLINE);

	ck_assert_int_eq(ais_map_add(o, &moved), 1);
	ck_assert_int_eq(ais_map_merge(m, o), 1);
	ck_assert_str_eq(m->nodes[1].host, "10.0.0.2");
	ck_assert_uint_eq(m->nodes[1].port, 7777);
	ck_assert_uint_eq(m->version, 8);
	ais_map_free(m);
	ais_map_free(o);

	m = mkmap("ab", 8);
	o = mkmap("ab", 3);
	ck_assert_int_eq(ais_map_add(o, &moved), 1);
	ais_map_merge(m, o);
	ck_assert_str_eq(m->nodes[1].host, "127.0.0.1");
	ck_assert_uint_eq(m->version, 8);
	ais_map_free(m);
	ais_map_free(o);
}
END_TEST

START_TEST(test_merge_converges)
{
	/* Gossip: three nodes that each know a different part of the cluster
	 * exchange maps pairwise until nothing changes; they must end with
	 * the same nodes and the same version, and versions never go down. */
	static const char *const start[3] = {"ab", "cd", "ae"};
	unsigned seed = 3;

	for (int trial = 0; trial < 50; trial++) {
		struct ais_map *m[3];
		int changed = 1, rounds = 0;

		for (int i = 0; i < 3; i++)
			m[i] =
			    mkmap(start[i], (uint64_t)(rand_r(&seed) % 5 + 1));
		while (changed && rounds < 100) {
			changed = 0;
			for (int k = 0; k < 6; k++) {
				int i = rand_r(&seed) % 3,
				    j = rand_r(&seed) % 3;
				uint64_t v = m[i]->version;
				int rc;

				if (i == j)
					continue;
				rc = ais_map_merge(m[i], m[j]);
				ck_assert_int_ge(rc, 0);
				ck_assert_uint_ge(m[i]->version, v);
			}
			for (int i = 0; i < 3; i++)
				for (int j = 0; j < 3; j++)
					if (!ais_map_same_nodes(m[i], m[j]) ||
					    m[i]->version != m[j]->version)
						changed = 1;
			rounds++;
		}
		ck_assert_msg(!changed, "maps did not converge in 100 rounds");
		ck_assert_uint_eq(m[0]->n, 5);
		for (int i = 0; i < 3; i++)
			ais_map_free(m[i]);
	}
}
END_TEST

START_TEST(test_owner)
{
	struct ais_map *m = mkmap("abcde", 4);
	struct ais_map *empty = ais_map_new();
	const char *ids[5];
	char key[128];

	for (size_t i = 0; i < m->n; i++)
		ids[i] = m->nodes[i].id;
	ck_assert_ptr_null(ais_map_owner(empty, "b", "x"));
	for (int i = 0; i < 3000; i++) {
		char name[64];
		const struct ais_node *o;
		int len;

		snprintf(name, sizeof(name), "dir/%d/obj%d", i % 10, i);
		o = ais_map_owner(m, "bkt", name);
		ck_assert_ptr_nonnull(o);
		len = ais_hrw_key("bkt", name, key, sizeof(key));
		ck_assert_int_gt(len, 0);
		/* The owner is HRW over the ids with key "bucket/name". */
		ck_assert_str_eq(o->id,
				 ids[ais_hrw_pick(ids, 5, key, (size_t)len)]);
	}
	ais_map_free(m);
	ais_map_free(empty);
}
END_TEST

START_TEST(test_owner_stable)
{
	/* Owners do not change with the version, a dup, or a node added in
	 * MAINTENANCE (not a placement target); a MAINTENANCE node never
	 * owns anything; adding an ONLINE node moves keys only to it. */
	struct ais_map *m = mkmap("abc", 2);
	struct ais_map *d = ais_map_dup(m);
	struct ais_map *grown = ais_map_dup(m);
	struct ais_node maint =
	    mknode("node-m", "127.0.0.1", 30000, AIS_NODE_MAINTENANCE);
	struct ais_node online =
	    mknode("node-z", "127.0.0.1", 30001, AIS_NODE_ONLINE);
	int moved = 0;

	d->version = 99;
	ck_assert_int_eq(ais_map_add(d, &maint), 1);
	ck_assert_int_eq(ais_map_add(grown, &online), 1);
	for (int i = 0; i < 5000; i++) {
		char name[32];
		const struct ais_node *a, *b, *g;

		snprintf(name, sizeof(name), "o%d", i);
		a = ais_map_owner(m, "b", name);
		b = ais_map_owner(d, "b", name);
		g = ais_map_owner(grown, "b", name);
		ck_assert_ptr_nonnull(a);
		ck_assert_ptr_nonnull(b);
		ck_assert_str_eq(a->id, b->id);
		ck_assert_str_ne(b->id, "node-m");
		if (strcmp(a->id, g->id) != 0) {
			ck_assert_str_eq(g->id, "node-z");
			moved++;
		}
	}
	ck_assert_msg(moved > 1000 && moved < 1500, "%d of 5000 moved", moved);
	ais_map_free(m);
	ais_map_free(d);
	ais_map_free(grown);
}
END_TEST

START_TEST(test_owner_all_maintenance)
{
	struct ais_map *m = ais_map_new();
	struct ais_node n = mknode("x", "127.0.0.1", 1, AIS_NODE_MAINTENANCE);

	ck_assert_int_eq(ais_map_add(m, &n), 1);
	ck_assert_ptr_null(ais_map_owner(m, "b", "o"));
	ais_map_free(m);
}
END_TEST

START_TEST(test_pb_round_trip)
{
	struct ais_map *m = mkmap("qwerty", 42);
	struct ais_node maint =
	    mknode("node-0", "::1", 65535, AIS_NODE_MAINTENANCE);
	Ais__ClusterMap *pb, *back;
	struct ais_map *m2 = NULL;
	char msg[AIS_ERRMSG_LEN] = "";
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(ais_map_add(m, &maint), 1);
	pb = ais_map_to_pb(m);
	ck_assert_ptr_nonnull(pb);
	ck_assert_uint_eq(pb->version, 42);
	ck_assert_uint_eq(pb->n_nodes, 7);
	/* Through the wire encoding, as a node would send it. */
	len = ais__cluster_map__get_packed_size(pb);
	buf = malloc(len ? len : 1);
	ais__cluster_map__pack(pb, buf);
	ais_map_pb_free(pb);
	back = ais__cluster_map__unpack(NULL, len, buf);
	free(buf);
	ck_assert_ptr_nonnull(back);
	ck_assert_msg(ais_map_from_pb(back, &m2, msg) == 0, "%s", msg);
	ais__cluster_map__free_unpacked(back, NULL);
	ck_assert(ais_map_same_nodes(m, m2));
	ck_assert_uint_eq(m2->version, 42);
	ck_assert_int_eq(m2->nodes[ais_map_find(m2, "node-0")].state,
			 AIS_NODE_MAINTENANCE);
	assert_sorted(m2);
	ais_map_free(m);
	ais_map_free(m2);
}
END_TEST

START_TEST(test_pb_unsorted_input)
{
	/* A peer may send nodes in any order; the map keeps them sorted. */
	Ais__Node n[3] = {AIS__NODE__INIT, AIS__NODE__INIT, AIS__NODE__INIT};
	Ais__Node *pn[3] = {&n[0], &n[1], &n[2]};
	Ais__ClusterMap pb = AIS__CLUSTER_MAP__INIT;
	struct ais_map *m = NULL;
	static const char *const ids[3] = {"zz", "aa", "mm"};

	for (int i = 0; i < 3; i++) {
		n[i].id = (char *)ids[i];
		n[i].host = (char *)"127.0.0.1";
		n[i].port = (uint32_t)(1000 + i);
	}
	pb.version = 3;
	pb.n_nodes = 3;
	pb.nodes = pn;
	ck_assert_int_eq(ais_map_from_pb(&pb, &m, NULL), 0);
	assert_sorted(m);
	ck_assert_uint_eq(m->nodes[ais_map_find(m, "zz")].port, 1000);
	ais_map_free(m);
}
END_TEST

/* One bad node in an otherwise good map must be refused. */
static void expect_pb_bad(const char *id, const char *host, uint32_t port,
			  const char *what)
{
	Ais__Node good = AIS__NODE__INIT, bad = AIS__NODE__INIT;
	Ais__Node *pn[2] = {&good, &bad};
	Ais__ClusterMap pb = AIS__CLUSTER_MAP__INIT;
	struct ais_map *m = NULL;
	char msg[AIS_ERRMSG_LEN] = "";
	int rc;

	good.id = (char *)"good";
	good.host = (char *)"127.0.0.1";
	good.port = 1;
	bad.id = (char *)id;
	bad.host = (char *)host;
	bad.port = port;
	pb.version = 1;
	pb.n_nodes = 2;
	pb.nodes = pn;
	rc = ais_map_from_pb(&pb, &m, msg);
	ck_assert_msg(rc == -EPROTO, "%s: %d, want -EPROTO", what, rc);
	ck_assert_msg(msg[0] != '\0', "%s: no reason", what);
	if (rc == 0)
		ais_map_free(m);
}

START_TEST(test_pb_invalid)
{
	char longid[AIS_NODE_ID_MAX + 8];
	char longhost[AIS_HOST_MAX + 8];

	memset(longid, 'i', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	memset(longhost, 'h', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	expect_pb_bad("", "127.0.0.1", 80, "empty id");
	expect_pb_bad(longid, "127.0.0.1", 80, "id too long");
	expect_pb_bad("x", "", 80, "empty host");
	expect_pb_bad("x", longhost, 80, "host too long");
	expect_pb_bad("x", "127.0.0.1", 0, "port 0");
	expect_pb_bad("x", "127.0.0.1", 65536, "port 65536");
}
END_TEST

static Suite *map_suite(void)
{
	Suite *s = suite_create("map");
	TCase *tc = tcase_create("map");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_new_add_find);
	tcase_add_test(tc, test_dup_same);
	tcase_add_test(tc, test_merge_adopts_superset);
	tcase_add_test(tc, test_merge_new_view);
	tcase_add_test(tc, test_merge_nothing_new);
	tcase_add_test(tc, test_merge_newer_entry_wins);
	tcase_add_test(tc, test_merge_converges);
	tcase_add_test(tc, test_owner);
	tcase_add_test(tc, test_owner_stable);
	tcase_add_test(tc, test_owner_all_maintenance);
	tcase_add_test(tc, test_pb_round_trip);
	tcase_add_test(tc, test_pb_unsorted_input);
	tcase_add_test(tc, test_pb_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(map_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
