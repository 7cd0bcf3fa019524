/* Unit tests of aisloader's pieces that need no cluster: histogram
 * accuracy and merging, keyed permutations, the name and member tables'
 * memory bounds and filtering, option parsing and generated sizes. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "hist.h"
#include "members.h"
#include "nametable.h"
#include "opts.h"
#include "prng.h"
#include "shard_names.h"
#include "util.h"
#include "worker.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_hist_index_roundtrip)
{
	uint64_t v, lo, hi;
	unsigned i, prev = 0;

	for (v = 0; v < (1ULL << 36); v = v < 1000 ? v + 1 : v + v / 37) {
		i = al_hist_index(v);
		ck_assert_uint_lt(i, AL_HIST_BUCKETS);
		ck_assert_uint_ge(i, prev);
		prev = i;
		al_hist_bucket_range(i, &lo, &hi);
		ck_assert(lo <= v && v <= hi);
		/* Relative bucket width at most 1/128. */
		ck_assert(hi - lo <= lo / 128 + 1);
	}
	ck_assert_uint_eq(al_hist_index(UINT64_MAX), AL_HIST_BUCKETS - 1);
}
END_TEST

START_TEST(test_hist_quantiles_within_1pct)
{
	static const double qs[] = {0.5, 0.9, 0.99, 0.999, 1.0};
	const size_t n = 200000;
	uint64_t *v = malloc(n * sizeof(*v)), exact, got;
	struct al_hist *h = calloc(1, sizeof(*h));
	struct al_prng g;
	size_t i, k;

	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_nonnull(h);
	al_prng_seed(&g, 42, 0);
	for (i = 0; i < n; i++) {
		/* Log-uniform over 10 us .. 1 s, like real latencies. */
		double e = 4 + 5 * ((double)al_prng_below(&g, 1000000) / 1e6);
		v[i] = (uint64_t)pow(10, e);
		al_hist_record(h, v[i]);
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	for (k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		size_t rank = (size_t)ceil(qs[k] * (double)n);

		exact = v[rank - 1];
		got = al_hist_quantile(h, qs[k]);
		ck_assert_msg(
		    got >= exact - exact / 100 && got <= exact + exact / 100,
		    "q %g: got %llu exact %llu", qs[k], (unsigned long long)got,
		    (unsigned long long)exact);
	}
	ck_assert_uint_eq(atomic_load(&h->max), v[n - 1]);
	free(v);
	free(h);
}
END_TEST

START_TEST(test_hist_add_diff)
{
	struct al_hist *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct al_hist *sum = calloc(1, sizeof(*sum)),
		       *snap = calloc(1, sizeof(*snap)),
		       *d = calloc(1, sizeof(*d));
	uint64_t i;

	for (i = 1; i <= 1000; i++)
		al_hist_record(a, i * 1000);
	for (i = 1; i <= 1000; i++)
		al_hist_record(b, 2000000 + i);
	al_hist_add(sum, a);
	al_hist_add(sum, b);
	ck_assert_uint_eq(atomic_load(&sum->count), 2000);
	ck_assert_uint_eq(atomic_load(&sum->max), 2001000);
	/* Median of the merge: between the two halves. */
	ck_assert_uint_le(al_hist_quantile(sum, 0.5), 1000000 * 101 / 100);

	al_hist_add(snap, a);
	for (i = 0; i < 10; i++)
		al_hist_record(a, 5000000);
	al_hist_diff(d, a, snap);
	ck_assert_uint_eq(atomic_load(&d->count), 10);
	ck_assert_uint_ge(al_hist_quantile(d, 0.5), 5000000 - 50000);
	ck_assert_uint_le(al_hist_quantile(d, 0.5), 5000000);
	ck_assert_uint_eq(atomic_load(&d->max), 5000000);
	free(a);
	free(b);
	free(sum);
	free(snap);
	free(d);
}
END_TEST

START_TEST(test_perm_bijection)
{
	static const uint64_t sizes[] = {1,  2,	  3,	4,    5,     7,
					 64, 100, 1000, 4097, 65536, 100003};
	struct al_perm p;
	unsigned char *seen;
	size_t k;
	uint64_t i, x, same = 0;

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		seen = calloc(sizes[k], 1);
		al_perm_init(&p, sizes[k], 12345 + k);
		for (i = 0; i < sizes[k]; i++) {
			x = al_perm_map(&p, i);
			ck_assert_uint_lt(x, sizes[k]);
			ck_assert_msg(!seen[x], "n %llu: %llu twice",
				      (unsigned long long)sizes[k],
				      (unsigned long long)x);
			seen[x] = 1;
			same += x == i;
		}
		free(seen);
	}
	/* A permutation, not the identity. */
	ck_assert_uint_lt(same, 1000);
}
END_TEST

START_TEST(test_names_million_bounded)
{
	struct al_names t;
	char name[128];
	size_t i, bytes;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < 1000000; i++) {
		int len = snprintf(name, sizeof(name),
				   "train/shard-%06zu/sample-%08zu.jpg.with."
				   "some.suffix",
				   i / 1000, i);
		ck_assert_int_eq(al_names_add(&t, name, (size_t)len, i), 0);
	}
	ck_assert_uint_eq(t.n, 1000000);
	snprintf(name, sizeof(name),
		 "train/shard-%06d/sample-%08d.jpg.with.some.suffix", 123,
		 123456);
	ck_assert_str_eq(al_names_get(&t, 123456), name);
	ck_assert_uint_eq(t.size[999999], 999999);
	/* About 60-byte names: well under 100 MB including the slack. */
	bytes = t.arena_cap + t.cap * (sizeof(*t.off) + sizeof(*t.size));
	ck_assert_msg(bytes < 100u * 1000 * 1000, "%zu bytes", bytes);
	al_names_free(&t);
}
END_TEST

START_TEST(test_members_million_bounded)
{
	struct al_members t;
	char path[128];
	size_t i, bytes;
	uint64_t total = 0;
	int len;

	memset(&t, 0, sizeof(t));
	/* 1,000 shards of 1,000 members, WebDataset-like paths. */
	for (i = 0; i < 1000; i++) {
		len = snprintf(path, sizeof(path),
			       "train/imagenet-train-%06zu.tar", i);
		ck_assert_int_eq(al_names_add(&t.shards, path, (size_t)len, 0),
				 0);
	}
	for (i = 0; i < 1000000; i++) {
		len = snprintf(path, sizeof(path), "n01440764/sample-%08zu.jpg",
			       i);
		ck_assert_int_eq(al_members_add(&t, (uint32_t)(i / 1000), path,
						(size_t)len, i % 65536),
				 0);
		total += i % 65536;
	}
	ck_assert_uint_eq(t.members.n, 1000000);
	ck_assert_uint_eq(t.member_bytes, total);
	ck_assert_str_eq(al_names_get(&t.members, 123456),
			 "n01440764/sample-00123456.jpg");
	ck_assert_str_eq(al_names_get(&t.shards, t.shard_of[123456]),
			 "train/imagenet-train-000123.tar");
	ck_assert_uint_eq(t.members.size[999999], 999999 % 65536);
	/* Everything allocated, slack included: well under 100 MB. */
	bytes =
	    t.members.arena_cap +
	    t.members.cap * (sizeof(*t.members.off) + sizeof(*t.members.size)) +
	    t.shard_of_cap * sizeof(*t.shard_of) + t.shards.arena_cap +
	    t.shards.cap * (sizeof(*t.shards.off) + sizeof(*t.shards.size));
	ck_assert_msg(bytes < 80u * 1000 * 1000, "%zu bytes", bytes);
	al_members_free(&t);
	ck_assert_uint_eq(t.members.n, 0);
	ck_assert_ptr_null(t.shard_of);
}
END_TEST

START_TEST(test_members_page_regular_files_only)
{
	static const struct {
		const char *name;
		bool is_prefix;
		uint32_t type;
		uint64_t size;
	} in[] = {
	    {"a", false, AIS_SHARD_DIR, 0},
	    {"a/1.jpg", false, AIS_SHARD_FILE, 100},
	    {"a/1.cls", false, AIS_SHARD_FILE, 0},
	    {"a/link", false, AIS_SHARD_SYMLINK, 7},
	    {"a/hard", false, AIS_SHARD_HARDLINK, 100},
	    {"a/fifo", false, AIS_SHARD_OTHER, 0},
	    {"b", true, AIS_SHARD_DIR, 0},
	    {"b/2.jpg", false, AIS_SHARD_FILE, 200},
	};
	struct ais_list_entry e[sizeof(in) / sizeof(in[0])];
	struct ais_list_page page = {.n = sizeof(in) / sizeof(in[0]),
				     .entries = e};
	struct al_members t;
	size_t i;

	memset(&t, 0, sizeof(t));
	memset(e, 0, sizeof(e));
	for (i = 0; i < page.n; i++) {
		e[i].name = (char *)in[i].name;
		e[i].is_prefix = in[i].is_prefix;
		e[i].member_type = in[i].type;
		e[i].meta.size = in[i].size;
	}
	ck_assert_int_eq(al_names_add(&t.shards, "s0.tar", 6, 0), 0);
	ck_assert_int_eq(al_names_add(&t.shards, "s1.tar", 6, 0), 0);
	ck_assert_int_eq(al_members_add_page(&t, 1, &page), 3);
	ck_assert_uint_eq(t.members.n, 3);
	ck_assert_str_eq(al_names_get(&t.members, 0), "a/1.jpg");
	ck_assert_str_eq(al_names_get(&t.members, 1), "a/1.cls");
	ck_assert_str_eq(al_names_get(&t.members, 2), "b/2.jpg");
	ck_assert_uint_eq(t.members.size[2], 200);
	ck_assert_uint_eq(t.shard_of[0], 1);
	ck_assert_uint_eq(t.shard_of[2], 1);
	ck_assert_uint_eq(t.member_bytes, 300);
	/* An empty page adds nothing. */
	page.n = 0;
	ck_assert_int_eq(al_members_add_page(&t, 0, &page), 0);
	ck_assert_uint_eq(t.members.n, 3);
	al_members_free(&t);
}
END_TEST

/* The terminator of parse()'s variadic list, typed as C requires. */
#define END ((char *)NULL)

static int parse(struct al_opts *o, char *errmsg, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	char *a;

	argv[argc++] = (char *)"aisloader";
	va_start(ap, errmsg);
	while ((a = va_arg(ap, char *)) != NULL)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return al_opts_parse(o, argc, argv, errmsg);
}

START_TEST(test_opts)
{
	struct al_opts o;
	char errmsg[AIS_ERRMSG_LEN];
	uint64_t ns;

	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--size",
			       "1KiB-1MiB", "--put-pct", "30", "--workers",
			       "32", "--duration", "20s", "--seed", "7",
			       "--order", "seq", END),
			 0);
	ck_assert_uint_eq(o.size_min, 1024);
	ck_assert_uint_eq(o.size_max, 1048576);
	ck_assert_uint_eq(o.put_pct, 30);
	ck_assert_uint_eq(o.workers, 32);
	ck_assert_uint_eq(o.duration_ns, 20000000000ULL);
	ck_assert_uint_eq(o.seed, 7);
	ck_assert_int_eq(o.order, AL_ORDER_SEQ);

	ck_assert_int_eq(
	    parse(&o, errmsg, "--bucket", "b", "--epochs", "2", END), 0);
	ck_assert_uint_eq(o.duration_ns, 0);

	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--members", END),
			 0);
	ck_assert(o.members);
	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--members",
			       "--put-pct", "0", "--read-size", "4KiB", END),
			 0);
	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--members",
			       "--put-pct", "10", END),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "--members"));
	ck_assert_ptr_nonnull(strstr(errmsg, "--put-pct 10"));
	ck_assert_int_eq(parse(&o, errmsg, "--put-pct", "100", "--bucket", "b",
			       "--members", END),
			 -EINVAL);
	ck_assert_int_eq(
	    parse(&o, errmsg, "--bucket", "b", "--put-pct", "101", END),
	    -EINVAL);
	ck_assert_int_eq(
	    parse(&o, errmsg, "--bucket", "b", "--size", "2M-1M", END),
	    -EINVAL);
	ck_assert_int_eq(
	    parse(&o, errmsg, "--bucket", "b", "--order", "x", END), -EINVAL);
	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--cleanup", END),
			 -EINVAL);
	ck_assert_int_eq(parse(&o, errmsg, "--workers", "4", END), -EINVAL);
	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "extra", END),
			 -EINVAL);
	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--bogus", END),
			 -EINVAL);
	/* An endpoint list: kept as given for ais_client_new. */
	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--endpoint",
			       "10.0.0.1:51080,10.0.0.2:51080", END),
			 0);
	ck_assert_str_eq(o.endpoint, "10.0.0.1:51080,10.0.0.2:51080");
	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--endpoint",
			       "10.0.0.1:51080,", END),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "--endpoint"));
	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--endpoint",
			       "h:1,h:70000", END),
			 -EINVAL);

	ck_assert_int_eq(al_parse_duration("1.5m", &ns), 0);
	ck_assert_uint_eq(ns, 90000000000ULL);
	ck_assert_int_eq(al_parse_duration("500ms", &ns), 0);
	ck_assert_uint_eq(ns, 500000000ULL);
	ck_assert_int_eq(al_parse_duration("3", &ns), 0);
	ck_assert_uint_eq(ns, 3000000000ULL);
	ck_assert_int_eq(al_parse_duration("-1s", &ns), -EINVAL);
	ck_assert_int_eq(al_parse_duration("5 parsecs", &ns), -EINVAL);
}
END_TEST

START_TEST(test_gen_names_sizes)
{
	struct al_opts o;
	struct al_run r;
	char errmsg[AIS_ERRMSG_LEN], name[AIS_NAME_MAX + 64];
	uint64_t i, s, lo = UINT64_MAX, hi = 0;

	ck_assert_int_eq(parse(&o, errmsg, "--bucket", "b", "--size",
			       "1000-2000", "--seed", "9", END),
			 0);
	memset(&r, 0, sizeof(r));
	r.o = &o;
	strcpy(r.gen_prefix, "p/");
	r.n_gen = 100;
	al_gen_name(&r, 42, name, sizeof(name));
	ck_assert_str_eq(name, "p/aisloader-9-42");
	for (i = 0; i < 10000; i++) {
		s = al_gen_size(&r, i);
		ck_assert_uint_eq(s, al_gen_size(&r, i));
		lo = s < lo ? s : lo;
		hi = s > hi ? s : hi;
	}
	ck_assert(lo >= 1000 && lo < 1010);
	ck_assert(hi <= 2000 && hi > 1990);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("aisloader");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hist_index_roundtrip);
	tcase_add_test(tc, test_hist_quantiles_within_1pct);
	tcase_add_test(tc, test_hist_add_diff);
	tcase_add_test(tc, test_perm_bijection);
	tcase_add_test(tc, test_names_million_bounded);
	tcase_add_test(tc, test_opts);
	tcase_add_test(tc, test_gen_names_sizes);
	suite_add_tcase(s, tc);

	tc = tcase_create("members");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_members_million_bounded);
	tcase_add_test(tc, test_members_page_regular_files_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
