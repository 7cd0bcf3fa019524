/* Integration: LIST across a 3-node cluster with prefixes, the "/"
 * delimiter and paging (page sizes 1, 7, 1000) equals a sorted reference
 * computed here; "dir/" prefixes appear once although their objects live on
 * every node. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "harness.h"
#include "map.h"

static struct ais_test_cluster tc;
#define C (tc.client)

#define MAXOBJ 1024

static char *names[MAXOBJ];
static size_t nnames;

static uint64_t size_of(const char *name)
{
	return ais_hash_str(name, 0) % 300;
}

static void add_name(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void add_name(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ck_assert_uint_lt(nnames, MAXOBJ);
	names[nnames++] = strdup(buf);
}

static void populate(void)
{
	char msg[AIS_ERRMSG_LEN] = "";
	char data[300];

	/* Names around '/' in byte order: '-' and '.' sort before '/', '0'
	 * after, so "a-b" < "a.b" < "a/..." < "a0". */
	add_name("a-b");
	add_name("a.b");
	add_name("a0");
	add_name("a/x");
	add_name("a/y/z");
	add_name("top");
	add_name("caf\xc3\xa9/cr\xc3\xa8me");	   /* café/crème */
	add_name("\xe6\x97\xa5\xe6\x9c\xac/file"); /* 日本/file */
	add_name("with space/file one");
	for (int d = 0; d < 12; d++)
		for (int f = 0; f < 30; f++)
			add_name("dir%02d/file%03d", d, f);
	for (int s = 0; s < 5; s++)
		for (int f = 0; f < 20; f++)
			add_name("dir01/sub%d/leaf%02d", s, f);
	for (int f = 0; f < 40; f++)
		add_name("flat%03d", f);
	add_name("deep/a/b/c/d/e/f/g");

	for (size_t i = 0; i < nnames; i++) {
		uint64_t sz = size_of(names[i]);
		int rc;

		ais_test_fill(i, 0, data, sz);
		rc = ais_client_put_buf(C, "test", names[i], data, sz, NULL,
					NULL, msg);
		ck_assert_msg(rc == 0, "PUT %s: %d %s", names[i], rc, msg);
	}
}

struct ref_entry {
	char name[512];
	bool is_prefix;
};

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(((const struct ref_entry *)a)->name,
		      ((const struct ref_entry *)b)->name);
}

/* The listing as it must be: names starting with prefix, rolled up at the
 * first '/' after the prefix when delim is set, sorted, deduplicated. */
static size_t reference(const char *prefix, bool delim, struct ref_entry *out)
{
	size_t n = 0, u = 0, pl = strlen(prefix);

	for (size_t i = 0; i < nnames; i++) {
		const char *slash;

		if (strncmp(names[i], prefix, pl) != 0)
			continue;
		slash = delim ? strchr(names[i] + pl, '/') : NULL;
		if (slash != NULL) {
			size_t l = (size_t)(slash - names[i]) + 1;

			memcpy(out[n].name, names[i], l);
			out[n].name[l] = '\0';
			out[n].is_prefix = true;
		} else {
			snprintf(out[n].name, sizeof(out[n].name), "%s",
				 names[i]);
			out[n].is_prefix = false;
		}
		n++;
	}
	qsort(out, n, sizeof(out[0]), cmp_ref);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || strcmp(out[i].name, out[u - 1].name) != 0)
			out[u++] = out[i];
	return u;
}

/* Pages through the whole listing and compares it with the reference. */
static void check_listing(const char *prefix, bool delim, size_t page_size)
{
	static struct ref_entry ref[MAXOBJ];
	size_t nref = reference(prefix, delim, ref);
	char *token = NULL;
	size_t got = 0;
	int pages = 0;

	for (;;) {
		struct ais_list_page pg;
		char msg[AIS_ERRMSG_LEN] = "";
		int rc = ais_client_list(C, "test", prefix, delim ? "/" : NULL,
					 token, page_size, &pg, msg);

		ck_assert_msg(rc == 0, "list '%s' delim %d page %zu: %d %s",
			      prefix, delim, page_size, rc, msg);
		ck_assert_msg(pg.n <= page_size, "page of %zu > %zu", pg.n,
			      page_size);
		for (size_t i = 0; i < pg.n; i++, got++) {
			const struct ais_list_entry *e = &pg.entries[i];

			ck_assert_msg(got < nref,
				      "list '%s' delim %d page %zu: extra "
				      "entry %s",
				      prefix, delim, page_size, e->name);
			ck_assert_msg(strcmp(e->name, ref[got].name) == 0,
				      "list '%s' delim %d page %zu: entry %zu "
				      "is %s, want %s",
				      prefix, delim, page_size, got, e->name,
				      ref[got].name);
			ck_assert_int_eq(e->is_prefix, ref[got].is_prefix);
			if (!e->is_prefix)
				ck_assert_uint_eq(e->meta.size,
						  size_of(e->name));
		}
		free(token);
		token = pg.next_token ? strdup(pg.next_token) : NULL;
		if (token != NULL)
			ck_assert_msg(pg.n > 0, "an empty page with a token");
		ais_list_page_free(&pg);
		if (token == NULL)
			break;
		ck_assert_int_lt(++pages, 5000);
	}
	ck_assert_msg(got == nref,
		      "list '%s' delim %d page %zu: %zu entries, "
		      "want %zu",
		      prefix, delim, page_size, got, nref);
}

static const size_t page_sizes[] = {1, 7, 1000};

START_TEST(test_flat)
{
	for (size_t p = 0; p < 3; p++) {
		check_listing("", false, page_sizes[p]);
		check_listing("dir01/", false, page_sizes[p]);
		check_listing("flat", false, page_sizes[p]);
	}
}
END_TEST

START_TEST(test_delimiter)
{
	for (size_t p = 0; p < 3; p++) {
		check_listing("", true, page_sizes[p]);
		check_listing("dir01/", true, page_sizes[p]);
		check_listing("dir01/sub3/", true, page_sizes[p]);
		check_listing("a", true, page_sizes[p]);
		check_listing("deep/a/", true, page_sizes[p]);
		check_listing("caf\xc3\xa9/", true, page_sizes[p]);
	}
}
END_TEST

START_TEST(test_partial_prefix)
{
	check_listing("dir0", true, 7);
	check_listing("dir0", false, 1000);
	check_listing("dir01/file00", false, 7);
	check_listing("with space/", true, 1);
}
END_TEST

START_TEST(test_empty_results)
{
	check_listing("nothing/", true, 7);
	check_listing("zzz", false, 1000);
	/* An object's full name as a prefix lists just it. */
	check_listing("top", true, 1000);
}
END_TEST

START_TEST(test_prefix_on_every_node)
{
	/* The objects under dir01/ live on all three nodes, yet the root
	 * listing shows "dir01/" exactly once (checked by check_listing);
	 * make sure the first half of that statement holds. */
	struct ais_map *m = ais_test_cluster_map(C);
	int owners[3] = {0};

	ck_assert_uint_eq(m->n, 3);
	for (size_t i = 0; i < nnames; i++) {
		if (strncmp(names[i], "dir01/", 6) != 0)
			continue;
		const struct ais_node *o = ais_map_owner(m, "test", names[i]);
		ck_assert_ptr_nonnull(o);
		owners[ais_map_find(m, o->id)]++;
	}
	for (int i = 0; i < 3; i++)
		ck_assert_msg(owners[i] > 0,
			      "node %d owns nothing under dir01/", i);
	ais_map_free(m);
}
END_TEST

START_TEST(test_listing_after_changes)
{
	char msg[AIS_ERRMSG_LEN] = "";

	/* Delete every object of dir05/ and one of dir06/: dir05/ vanishes
	 * from the root listing. */
	for (size_t i = 0; i < nnames; i++) {
		if (strncmp(names[i], "dir05/", 6) == 0 ||
		    strcmp(names[i], "dir06/file000") == 0) {
			ck_assert_int_eq(
			    ais_client_delete(C, "test", names[i], msg), 0);
			free(names[i]);
			names[i--] = names[--nnames];
		}
	}
	add_name("dir99/new");
	/* size_of() decides the size the check expects. */
	{
		char data[300];
		uint64_t sz = size_of("dir99/new");

		ais_test_fill(1, 0, data, sz);
		ck_assert_int_eq(ais_client_put_buf(C, "test", "dir99/new",
						    data, sz, NULL, NULL, msg),
				 0);
	}
	for (size_t p = 0; p < 3; p++) {
		check_listing("", true, page_sizes[p]);
		check_listing("dir06/", true, page_sizes[p]);
	}
	check_listing("", false, 7);
}
END_TEST

START_TEST(test_bad_list_args)
{
	struct ais_list_page pg;
	char msg[AIS_ERRMSG_LEN] = "";

	ck_assert_int_eq(
	    ais_client_list(C, "test", "/abs", NULL, NULL, 0, &pg, msg),
	    -EINVAL);
	ck_assert_int_eq(
	    ais_client_list(C, "test", "a/../b", "/", NULL, 0, &pg, msg),
	    -EINVAL);
}
END_TEST

START_TEST(test_populate)
{
	populate();
}
END_TEST

static Suite *listing_suite(void)
{
	Suite *s = suite_create("listing");
	TCase *p = tcase_create("populate");
	TCase *t = tcase_create("listing");

	/* Check runs test cases in the order they were added. */
	tcase_add_test(p, test_populate);
	suite_add_tcase(s, p);
	tcase_add_test(t, test_flat);
	tcase_add_test(t, test_delimiter);
	tcase_add_test(t, test_partial_prefix);
	tcase_add_test(t, test_empty_results);
	tcase_add_test(t, test_prefix_on_every_node);
	tcase_add_test(t, test_listing_after_changes);
	tcase_add_test(t, test_bad_list_args);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return ais_test_main(&tc, "listing", 3, listing_suite());
}
