/* Unit tests of lib/core/hrw.c: determinism, the weight definition, balance
 * over 3 and 5 nodes, minimal movement when a node joins or leaves, rank order.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "hrw.h"

#define NKEYS 100000

/* Node ids as aisd makes them: 16 random hex digits. */
static const char *const ids6[] = {
    "3f9a1c07b2e45d18", "a0b1c2d3e4f50617", "5e6d7c8b9a0f1e2d",
    "0000000000000001", "ffffffffffff0000", "77c3e1d90a4b2f68",
};

static int key_of(int i, char *buf, size_t len)
{
	return snprintf(buf, len, "bucket/dir%d/obj-%d.jpg", i % 97, i);
}

START_TEST(test_weight_definition)
{
	/* "XXH3-64 of the key seeded by XXH3-64(id)". */
	static const char *const keys[] = {"b/x", "", "bucket/a/b/c.tar"};

	for (size_t i = 0; i < 6; i++) {
		for (size_t k = 0; k < 3; k++) {
			uint64_t seed = XXH3_64bits(ids6[i], strlen(ids6[i]));
			uint64_t want = XXH3_64bits_withSeed(
			    keys[k], strlen(keys[k]), seed);
			ck_assert_uint_eq(
			    ais_hrw_weight(ids6[i], keys[k], strlen(keys[k])),
			    want);
		}
	}
}
END_TEST

START_TEST(test_pick_deterministic)
{
	char key[64];

	ck_assert_int_eq(ais_hrw_pick(ids6, 0, "b/x", 3), -1);
	ck_assert_int_eq(ais_hrw_pick(ids6, 1, "b/x", 3), 0);
	for (int i = 0; i < 2000; i++) {
		int len = key_of(i, key, sizeof(key));
		int a = ais_hrw_pick(ids6, 6, key, (size_t)len);
		int b = ais_hrw_pick(ids6, 6, key, (size_t)len);
		uint64_t best = 0;
		int besti = -1;

		ck_assert_int_eq(a, b);
		/* The pick is the argmax of the weights. */
		for (int j = 0; j < 6; j++) {
			uint64_t w = ais_hrw_weight(ids6[j], key, (size_t)len);
			if (besti < 0 || w > best ||
			    (w == best && strcmp(ids6[j], ids6[besti]) < 0)) {
				best = w;
				besti = j;
			}
		}
		ck_assert_int_eq(a, besti);
	}
}
END_TEST

START_TEST(test_pick_order_independent)
{
	/* The owner is a property of the id set, not of the array order. */
	const char *rev[6];
	char key[64];

	for (int j = 0; j < 6; j++)
		rev[j] = ids6[5 - j];
	for (int i = 0; i < 2000; i++) {
		int len = key_of(i, key, sizeof(key));
		int a = ais_hrw_pick(ids6, 6, key, (size_t)len);
		int b = ais_hrw_pick(rev, 6, key, (size_t)len);

		ck_assert_str_eq(ids6[a], rev[b]);
	}
}
END_TEST

static void check_balance(size_t n)
{
	int count[8] = {0};
	char key[64];
	double expect = (double)NKEYS / (double)n;

	for (int i = 0; i < NKEYS; i++) {
		int len = key_of(i, key, sizeof(key));
		int o = ais_hrw_pick(ids6, n, key, (size_t)len);

		ck_assert(o >= 0 && (size_t)o < n);
		count[o]++;
	}
	for (size_t j = 0; j < n; j++) {
		double dev = (count[j] - expect) / expect;
		ck_assert_msg(
		    dev > -0.03 && dev < 0.03,
		    "%zu nodes: node %zu owns %d keys, expected ~%.0f "
		    "(%.1f%% off)",
		    n, j, count[j], expect, dev * 100);
	}
}

START_TEST(test_balance_3)
{
	check_balance(3);
}
END_TEST

START_TEST(test_balance_5)
{
	check_balance(5);
}
END_TEST

/* Adding node n to nodes 0..n-1: every key that changes owner moves to the
 * new node, and about 1/(n+1) of the keys move. */
static void check_add(size_t n)
{
	char key[64];
	int moved = 0;
	double expect = 1.0 / (double)(n + 1);

	for (int i = 0; i < NKEYS; i++) {
		int len = key_of(i, key, sizeof(key));
		int before = ais_hrw_pick(ids6, n, key, (size_t)len);
		int after = ais_hrw_pick(ids6, n + 1, key, (size_t)len);

		if (before != after) {
			ck_assert_msg((size_t)after == n,
				      "key %s moved from %d to %d, not to the "
				      "new node",
				      key, before, after);
			moved++;
		}
	}
	double frac = (double)moved / NKEYS;
	ck_assert_msg(frac > expect * 0.95 && frac < expect * 1.05,
		      "%zu -> %zu nodes: %.2f%% of keys moved, expected %.2f%%",
		      n, n + 1, frac * 100, expect * 100);
}

START_TEST(test_add_node)
{
	check_add(3);
	check_add(5);
}
END_TEST

START_TEST(test_remove_node)
{
	/* Removing node 1 of 5 moves exactly the keys it owned. */
	const char *rest[4] = {ids6[0], ids6[2], ids6[3], ids6[4]};
	char key[64];

	for (int i = 0; i < NKEYS; i += 3) {
		int len = key_of(i, key, sizeof(key));
		int before = ais_hrw_pick(ids6, 5, key, (size_t)len);
		int after = ais_hrw_pick(rest, 4, key, (size_t)len);

		if (before != 1)
			ck_assert_str_eq(ids6[before], rest[after]);
	}
}
END_TEST

START_TEST(test_rank)
{
	char key[64];

	for (int i = 0; i < 5000; i++) {
		int len = key_of(i, key, sizeof(key));
		int order[6];
		int seen[6] = {0};

		memset(order, 0xff, sizeof(order));
		ais_hrw_rank(ids6, 6, key, (size_t)len, order);
		ck_assert_int_eq(order[0],
				 ais_hrw_pick(ids6, 6, key, (size_t)len));
		for (int j = 0; j < 6; j++) {
			ck_assert(order[j] >= 0 && order[j] < 6);
			ck_assert_int_eq(seen[order[j]]++, 0);
			if (j > 0) {
				uint64_t hi = ais_hrw_weight(ids6[order[j - 1]],
							     key, (size_t)len);
				uint64_t lo = ais_hrw_weight(ids6[order[j]],
							     key, (size_t)len);
				ck_assert(hi >= lo);
			}
		}
	}
}
END_TEST

START_TEST(test_key)
{
	char buf[16];

	ck_assert_int_eq(ais_hrw_key("b", "n/x", buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "b/n/x");
	/* "b/n" needs 4 bytes with its NUL. */
	ck_assert_int_eq(ais_hrw_key("b", "n", buf, 4), 3);
	ck_assert_str_eq(buf, "b/n");
	ck_assert_int_eq(ais_hrw_key("b", "n", buf, 3), -ENAMETOOLONG);
	ck_assert_int_eq(ais_hrw_key("bucket", "0123456789", buf, sizeof(buf)),
			 -ENAMETOOLONG);
}
END_TEST

static Suite *hrw_suite(void)
{
	Suite *s = suite_create("hrw");
	TCase *tc = tcase_create("hrw");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_weight_definition);
	tcase_add_test(tc, test_pick_deterministic);
	tcase_add_test(tc, test_pick_order_independent);
	tcase_add_test(tc, test_balance_3);
	tcase_add_test(tc, test_balance_5);
	tcase_add_test(tc, test_add_node);
	tcase_add_test(tc, test_remove_node);
	tcase_add_test(tc, test_rank);
	tcase_add_test(tc, test_key);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hrw_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
