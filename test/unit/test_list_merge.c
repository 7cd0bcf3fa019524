/* Unit tests of lib/client/list_merge.c: k-way merge, dedupe of common
 * prefixes, the horizon rule, the page cap; random inputs against a brute-force
 * reference, and whole paged listings against the union of all nodes; an
 * object held by two nodes (a rebalance) listed once, as its newest copy
 * (written_ns), on every page boundary. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list_merge.h"

#define MAXN 400

/* A source built from a list of names ("d/" style names are prefixes). */
struct src {
	Ais__ListEntry ent[MAXN];
	Ais__ListEntry *ptr[MAXN];
	Ais__ObjMeta meta[MAXN];
	char names[MAXN][16];
	size_t n;
	bool more;
};

/* As src_set, with written_ns[i] for the objects (NULL: all 0). */
static void src_set_ns(struct src *s, const char *const *names,
		       const int64_t *written_ns, size_t n, bool more)
{
	s->n = n;
	s->more = more;
	for (size_t i = 0; i < n; i++) {
		Ais__ListEntry init = AIS__LIST_ENTRY__INIT;
		Ais__ObjMeta minit = AIS__OBJ_META__INIT;

		snprintf(s->names[i], sizeof(s->names[i]), "%s", names[i]);
		s->ent[i] = init;
		s->ent[i].name = s->names[i];
		s->ent[i].is_prefix =
		    s->names[i][strlen(s->names[i]) - 1] == '/';
		s->meta[i] = minit;
		s->meta[i].written_ns = written_ns ? written_ns[i] : 0;
		if (!s->ent[i].is_prefix)
			s->ent[i].meta = &s->meta[i];
		s->ptr[i] = &s->ent[i];
	}
}

static void src_set(struct src *s, const char *const *names, size_t n,
		    bool more)
{
	src_set_ns(s, names, NULL, n, more);
}

static struct ais_list_src as_src(struct src *s)
{
	struct ais_list_src l = {.entries = s->ptr, .n = s->n, .more = s->more};

	return l;
}

/* Runs the merge over up to 4 sources and renders the output as
 * "a,b,c|more" for easy comparison. */
static void run(struct src *s, size_t nsrc, size_t page, char *outstr,
		size_t len)
{
	struct ais_list_src l[8];
	Ais__ListEntry *out[MAXN * 8];
	size_t n = 12345;
	bool more = false;
	size_t k = 0;

	for (size_t i = 0; i < nsrc; i++)
		l[i] = as_src(&s[i]);
	ais_list_merge(l, nsrc, page, out, &n, &more);
	ck_assert_uint_le(n, page);
	outstr[0] = '\0';
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(outstr + k, len - k, "%s%s", i ? "," : "",
				      out[i]->name);
	snprintf(outstr + k, len - k, "|%s", more ? "more" : "end");
}

START_TEST(test_basic_merge)
{
	struct src s[3];
	static const char *const a[] = {"a", "d/", "m"};
	static const char *const b[] = {"b", "d/", "z"};
	static const char *const c[] = {"c", "d/"};
	char out[1024];

	src_set(&s[0], a, 3, false);
	src_set(&s[1], b, 3, false);
	src_set(&s[2], c, 2, false);
	run(s, 3, 1000, out, sizeof(out));
	ck_assert_str_eq(out, "a,b,c,d/,m,z|end");
	/* Page cap: the rest continues after the last emitted name. */
	run(s, 3, 4, out, sizeof(out));
	ck_assert_str_eq(out, "a,b,c,d/|more");
	run(s, 3, 1, out, sizeof(out));
	ck_assert_str_eq(out, "a|more");
	/* Exactly the number of distinct names: nothing more. */
	run(s, 3, 6, out, sizeof(out));
	ck_assert_str_eq(out, "a,b,c,d/,m,z|end");
}
END_TEST

START_TEST(test_horizon)
{
	struct src s[2];
	static const char *const a[] = {"a", "c", "e", "g"};
	static const char *const b[] = {"b", "d"};
	char out[1024];

	/* b has more after "d": nothing beyond "d" may be emitted. */
	src_set(&s[0], a, 4, false);
	src_set(&s[1], b, 2, true);
	run(s, 2, 1000, out, sizeof(out));
	ck_assert_str_eq(out, "a,b,c,d|more");
	/* Two sources with more: the smaller horizon wins. */
	src_set(&s[0], a, 4, true);
	run(s, 2, 1000, out, sizeof(out));
	ck_assert_str_eq(out, "a,b,c,d|more");
	static const char *const b2[] = {"b", "h"};
	src_set(&s[1], b2, 2, true);
	run(s, 2, 1000, out, sizeof(out));
	ck_assert_str_eq(out, "a,b,c,e,g|more");
	/* The horizon entry itself is emitted once, even when shared. */
	static const char *const a3[] = {"a", "d/"};
	static const char *const b3[] = {"d/", "e"};
	src_set(&s[0], a3, 2, true);
	src_set(&s[1], b3, 2, false);
	run(s, 2, 1000, out, sizeof(out));
	ck_assert_str_eq(out, "a,d/|more");
}
END_TEST

START_TEST(test_empty)
{
	struct src s[3];
	char out[1024];
	static const char *const a[] = {"x"};

	src_set(&s[0], NULL, 0, false);
	src_set(&s[1], NULL, 0, false);
	run(s, 2, 10, out, sizeof(out));
	ck_assert_str_eq(out, "|end");
	run(s, 0, 10, out, sizeof(out));
	ck_assert_str_eq(out, "|end");
	src_set(&s[2], a, 1, false);
	run(s, 3, 10, out, sizeof(out));
	ck_assert_str_eq(out, "x|end");
}
END_TEST

START_TEST(test_same_object_twice)
{
	/* The same object reported by two nodes (e.g. during a move) is
	 * listed once. */
	struct src s[2];
	static const char *const a[] = {"k1", "k2", "k3"};
	static const char *const b[] = {"k2"};
	char out[1024];

	src_set(&s[0], a, 3, false);
	src_set(&s[1], b, 1, false);
	run(s, 2, 100, out, sizeof(out));
	ck_assert_str_eq(out, "k1,k2,k3|end");
}
END_TEST

START_TEST(test_newest_copy_wins)
{
	/* The old owner still holds k2 (written at 100), the new owner has
	 * the overwrite (200): one k2, the newer. The same the other way
	 * round, and with three sources. */
	struct src s[3];
	static const char *const a[] = {"d/", "k1", "k2", "k3"};
	static const char *const b[] = {"d/", "k2"};
	static const char *const c[] = {"k2", "k3"};
	static const int64_t na[] = {0, 5, 100, 300};
	static const int64_t nb[] = {0, 200};
	static const int64_t nc[] = {150, 400};
	struct ais_list_src l[3];
	Ais__ListEntry *out[16];
	size_t n;
	bool more;

	src_set_ns(&s[0], a, na, 4, false);
	src_set_ns(&s[1], b, nb, 2, false);
	src_set_ns(&s[2], c, nc, 2, false);
	for (int i = 0; i < 3; i++)
		l[i] = as_src(&s[i]);
	ais_list_merge(l, 2, 100, out, &n, &more);
	ck_assert_uint_eq(n, 4);
	ck_assert(!more);
	ck_assert_str_eq(out[0]->name, "d/");
	ck_assert_str_eq(out[2]->name, "k2");
	ck_assert_ptr_eq(out[2], &s[1].ent[1]);
	ck_assert_int_eq(out[2]->meta->written_ns, 200);

	/* Source order does not matter. */
	l[0] = as_src(&s[1]);
	l[1] = as_src(&s[0]);
	ais_list_merge(l, 2, 100, out, &n, &more);
	ck_assert_int_eq(out[2]->meta->written_ns, 200);

	/* Three copies; k3 from the third source (400 > 300). */
	l[0] = as_src(&s[0]);
	l[1] = as_src(&s[1]);
	ais_list_merge(l, 3, 100, out, &n, &more);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(out[2]->meta->written_ns, 200);
	ck_assert_str_eq(out[3]->name, "k3");
	ck_assert_int_eq(out[3]->meta->written_ns, 400);

	/* A tie (or nodes that do not send written_ns): the first source's. */
	src_set(&s[0], a, 4, false);
	src_set(&s[1], b, 2, false);
	l[0] = as_src(&s[0]);
	l[1] = as_src(&s[1]);
	ais_list_merge(l, 2, 100, out, &n, &more);
	ck_assert_ptr_eq(out[2], &s[0].ent[2]);

	/* A page that ends on the duplicate: k2 is the last entry and the
	 * newest copy; the next page starts after it and holds no k2. */
	src_set_ns(&s[0], a, na, 4, false);
	src_set_ns(&s[1], b, nb, 2, false);
	l[0] = as_src(&s[0]);
	l[1] = as_src(&s[1]);
	ais_list_merge(l, 2, 3, out, &n, &more);
	ck_assert_uint_eq(n, 3);
	ck_assert(more);
	ck_assert_int_eq(out[2]->meta->written_ns, 200);
}
END_TEST

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Brute force: union, dedupe, cut at the smallest horizon, cap. */
static void reference(struct src *s, size_t nsrc, size_t page, char *outstr,
		      size_t len)
{
	const char *all[MAXN * 8];
	size_t n = 0, u = 0, k = 0, emitted = 0;
	const char *horizon = NULL;
	bool any_more = false, more;

	for (size_t i = 0; i < nsrc; i++) {
		for (size_t j = 0; j < s[i].n; j++)
			all[n++] = s[i].names[j];
		if (s[i].more && s[i].n > 0) {
			any_more = true;
			const char *last = s[i].names[s[i].n - 1];
			if (!horizon || strcmp(last, horizon) < 0)
				horizon = last;
		}
	}
	qsort(all, n, sizeof(all[0]), cmpstr);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || strcmp(all[i], all[u - 1]) != 0)
			all[u++] = all[i];
	outstr[0] = '\0';
	for (size_t i = 0; i < u && emitted < page; i++) {
		if (horizon && strcmp(all[i], horizon) > 0)
			break;
		k += (size_t)snprintf(outstr + k, len - k, "%s%s",
				      emitted ? "," : "", all[i]);
		emitted++;
	}
	more = any_more || emitted < u;
	snprintf(outstr + k, len - k, "|%s", more ? "more" : "end");
}

/* A random sorted set of names over a small alphabet, so that sources
 * overlap (shared "x/" prefixes and shared objects). */
static size_t random_names(unsigned *seed, char names[][16], size_t max)
{
	const char *tmp[MAXN];
	char pool[MAXN][16];
	size_t n = (size_t)rand_r(seed) % max, u = 0;

	for (size_t i = 0; i < n; i++) {
		int l = 1 + rand_r(seed) % 3;
		for (int c = 0; c < l; c++)
			pool[i][c] = (char)('a' + rand_r(seed) % 6);
		pool[i][l] = '\0';
		if (rand_r(seed) % 4 == 0)
			strcat(pool[i], "/");
		tmp[i] = pool[i];
	}
	qsort(tmp, n, sizeof(tmp[0]), cmpstr);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || strcmp(tmp[i], names[u - 1]) != 0)
			snprintf(names[u++], 16, "%s", tmp[i]);
	return u;
}

START_TEST(test_random_vs_reference)
{
	unsigned seed = 2024;

	for (int iter = 0; iter < 3000; iter++) {
		struct src s[5];
		size_t nsrc = 1 + (size_t)rand_r(&seed) % 5;
		size_t page = 1 + (size_t)rand_r(&seed) % 20;
		char got[MAXN * 20], want[MAXN * 20];

		for (size_t i = 0; i < nsrc; i++) {
			char names[MAXN][16];
			const char *p[MAXN];
			size_t n = random_names(&seed, names, 30);

			for (size_t j = 0; j < n; j++)
				p[j] = names[j];
			/* A node with more always sent at least one entry. */
			src_set(&s[i], p, n, n > 0 && rand_r(&seed) % 3 == 0);
		}
		run(s, nsrc, page, got, sizeof(got));
		reference(s, nsrc, page, want, sizeof(want));
		ck_assert_msg(strcmp(got, want) == 0,
			      "iteration %d (page %zu): got %s, want %s", iter,
			      page, got, want);
	}
}
END_TEST

/* A whole listing driven page by page as the client does: each node
 * answers with up to its page size of names > the token; the merged pages
 * concatenated must be exactly the sorted union, each name once. */
START_TEST(test_paged_listing)
{
	unsigned seed = 77;

	for (int iter = 0; iter < 500; iter++) {
		size_t nnodes = 1 + (size_t)rand_r(&seed) % 4;
		static char node[4][MAXN][16];
		size_t nn[4];
		size_t node_page = 1 + (size_t)rand_r(&seed) % 8;
		size_t page = 1 + (size_t)rand_r(&seed) % 8;
		char token[16] = "";
		bool have_token = false;
		char listed[MAXN * 4][16];
		size_t nlisted = 0;
		int pages = 0;

		for (size_t i = 0; i < nnodes; i++)
			nn[i] = random_names(&seed, node[i], 60);
		for (;;) {
			struct src s[4];
			struct ais_list_src l[4];
			Ais__ListEntry *out[64];
			size_t n;
			bool more;

			for (size_t i = 0; i < nnodes; i++) {
				const char *p[MAXN];
				size_t k = 0, j = 0;

				while (j < nn[i] && have_token &&
				       strcmp(node[i][j], token) <= 0)
					j++;
				for (; j < nn[i] && k < node_page; j++)
					p[k++] = node[i][j];
				src_set(&s[i], p, k, j < nn[i]);
				l[i] = as_src(&s[i]);
			}
			ais_list_merge(l, nnodes, page, out, &n, &more);
			ck_assert_uint_le(n, page);
			for (size_t j = 0; j < n; j++) {
				ck_assert_uint_lt(nlisted, MAXN * 4);
				snprintf(listed[nlisted++], 16, "%s",
					 out[j]->name);
			}
			if (!more)
				break;
			ck_assert_msg(n > 0, "more set on an empty page");
			snprintf(token, sizeof(token), "%s", out[n - 1]->name);
			have_token = true;
			ck_assert_int_lt(++pages, 10000);
		}
		/* Reference: the sorted union of every node's names. */
		const char *all[MAXN * 4];
		size_t na = 0, u = 0;
		for (size_t i = 0; i < nnodes; i++)
			for (size_t j = 0; j < nn[i]; j++)
				all[na++] = node[i][j];
		qsort(all, na, sizeof(all[0]), cmpstr);
		for (size_t i = 0; i < na; i++)
			if (u == 0 || strcmp(all[i], all[u - 1]) != 0)
				all[u++] = all[i];
		ck_assert_msg(nlisted == u,
			      "iteration %d: listed %zu names, want %zu", iter,
			      nlisted, u);
		for (size_t i = 0; i < u; i++)
			ck_assert_str_eq(listed[i], all[i]);
	}
}
END_TEST

/* When node i wrote name (a deterministic pseudo-random stamp). */
static int64_t stamp(size_t node, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ node;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return (int64_t)(h % 1000);
}

/* Paged listings over nodes that share many object names (every copy
 * stamped differently): each name is listed exactly once across all
 * pages, as the copy with the largest written_ns of all nodes. The nodes
 * answer with small pages, so the duplicates fall on every kind of page
 * boundary (in the page, at a horizon, at the page cap). */
START_TEST(test_paged_newest)
{
	unsigned seed = 4242;

	for (int iter = 0; iter < 500; iter++) {
		size_t nnodes = 2 + (size_t)rand_r(&seed) % 3;
		static char node[4][MAXN][16];
		size_t nn[4];
		size_t node_page = 1 + (size_t)rand_r(&seed) % 6;
		size_t page = 1 + (size_t)rand_r(&seed) % 6;
		char token[16] = "";
		bool have_token = false;
		char listed[MAXN * 4][16];
		int64_t listed_ns[MAXN * 4];
		size_t nlisted = 0;

		for (size_t i = 0; i < nnodes; i++)
			nn[i] = random_names(&seed, node[i], 40);
		for (int pages = 0;; pages++) {
			struct src s[4];
			struct ais_list_src l[4];
			Ais__ListEntry *out[64];
			size_t n;
			bool more;

			ck_assert_int_lt(pages, 10000);
			for (size_t i = 0; i < nnodes; i++) {
				const char *p[MAXN];
				int64_t ns[MAXN];
				size_t k = 0, j = 0;

				while (j < nn[i] && have_token &&
				       strcmp(node[i][j], token) <= 0)
					j++;
				for (; j < nn[i] && k < node_page; j++) {
					ns[k] = stamp(i, node[i][j]);
					p[k++] = node[i][j];
				}
				src_set_ns(&s[i], p, ns, k, j < nn[i]);
				l[i] = as_src(&s[i]);
			}
			ais_list_merge(l, nnodes, page, out, &n, &more);
			for (size_t j = 0; j < n; j++) {
				snprintf(listed[nlisted], 16, "%s",
					 out[j]->name);
				listed_ns[nlisted++] =
				    out[j]->is_prefix
					? -1
					: out[j]->meta->written_ns;
			}
			if (!more)
				break;
			snprintf(token, sizeof(token), "%s", out[n - 1]->name);
			have_token = true;
		}
		for (size_t i = 0; i < nlisted; i++) {
			int64_t want = -1;

			if (i > 0)
				ck_assert_msg(strcmp(listed[i - 1], listed[i]) <
						  0,
					      "iteration %d: %s after %s", iter,
					      listed[i], listed[i - 1]);
			for (size_t k = 0; k < nnodes; k++)
				for (size_t j = 0; j < nn[k]; j++)
					if (!strcmp(node[k][j], listed[i]) &&
					    listed[i][strlen(listed[i]) - 1] !=
						'/' &&
					    stamp(k, listed[i]) > want)
						want = stamp(k, listed[i]);
			ck_assert_msg(listed_ns[i] == want,
				      "iteration %d: %s listed as written at "
				      "%lld, newest %lld",
				      iter, listed[i], (long long)listed_ns[i],
				      (long long)want);
		}
	}
}
END_TEST

static Suite *list_merge_suite(void)
{
	Suite *s = suite_create("list_merge");
	TCase *tc = tcase_create("list_merge");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_basic_merge);
	tcase_add_test(tc, test_horizon);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_same_object_twice);
	tcase_add_test(tc, test_newest_copy_wins);
	tcase_add_test(tc, test_paged_newest);
	tcase_add_test(tc, test_random_vs_reference);
	tcase_add_test(tc, test_paged_listing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(list_merge_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
