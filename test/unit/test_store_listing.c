/* Unit tests of daemon/store/listing.c: a bucket's names merged over three
 * mountpaths, in strcmp order, paged by start_after; the '/' roll-up under
 * a prefix; empty and missing cases; the page size default and cap; a name
 * found on two mountpaths listed once. The objects are laid out by hand
 * (file and xattr where the store would put them), which is what listing
 * reads, and much faster than 2,500 durable PUTs; a few real PUTs are mixed
 * in. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#include "store/bucket.h"
#include "store/listing.h"
#include "store/store.h"

#include "scratch.h"

#define NMP    3
#define BUCKET "bkt"

/* mkdir -p of the parents of path, below the bucket directory. */
static void make_parents(char *path, size_t base)
{
	char *p;

	for (p = path + base; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			ck_abort_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
}

/* An object laid out by hand on mountpath mp: a file of size bytes with
 * an xattr that says version (and a wrong size: listing must report the
 * file's). Creating a file costs nearly a millisecond on some disks, so
 * the objects of one size and version are hard links to one file in the
 * test's directory, made on first use; listing sees a regular file with
 * its xattr either way. */
static void place_on(struct scratch_store *f, int mp, const char *name,
		     uint64_t size, uint64_t version)
{
	char path[AISD_PATH_MAX], bpath[AISD_PATH_MAX], src[PATH_MAX + 64];
	struct ais_obj_meta m;
	int fd;

	snprintf(src, sizeof(src), "%s/src.%llu.%llu", f->dir,
		 (unsigned long long)size, (unsigned long long)version);
	if (access(src, F_OK) < 0) {
		fd = open(src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			ck_abort_msg("create %s: %s", src, strerror(errno));
		if (size && ftruncate(fd, (off_t)size) < 0)
			ck_abort_msg("ftruncate %s: %s", src, strerror(errno));
		memset(&m, 0, sizeof(m));
		m.size = size + 1000;
		m.version = version;
		m.mtime_ns = 1000;
		m.mode = 0644;
		if (objmeta_write_fd(fd, &m))
			ck_abort_msg("xattr on %s", src);
		close(fd);
	}
	mpset_bucket_path(f->st->mps, mp, BUCKET, bpath);
	mpset_obj_path(f->st->mps, mp, BUCKET, name, path);
	if (link(src, path) == 0)
		return;
	if (errno == ENOENT)
		make_parents(path, strlen(bpath) + 1);
	if (link(src, path) < 0)
		ck_abort_msg("link %s: %s", path, strerror(errno));
}

/* The same where the store would put it (the first of mpset_order); the
 * mountpath is returned. */
static int place(struct scratch_store *f, const char *name, uint64_t size,
		 uint64_t version)
{
	int order[NMP];

	mpset_order(f->st->mps, BUCKET, name, order);
	place_on(f, order[0], name, size, version);
	return order[0];
}

/* A real PUT, for a few of the names. */
static int put(struct scratch_store *f, const char *name, uint64_t size)
{
	struct store_put_args a;
	struct ais_obj_meta m;
	struct store_put p;
	char msg[AIS_ERRMSG_LEN] = "";
	uint8_t buf[1024];
	int order[NMP], rc;

	memset(&a, 0, sizeof(a));
	memset(buf, 'p', sizeof(buf));
	ck_assert_uint_le(size, sizeof(buf));
	a.bucket = BUCKET;
	a.name = name;
	a.mode = 0644;
	rc = store_put_begin(f->st, &a, &p, msg);
	ck_assert_msg(rc == 0, "PUT %s: %s", name, msg);
	ck_assert_int_eq(store_put_write(&p, buf, size, msg), 0);
	ck_assert_int_eq(store_put_commit(&p, &m, msg), 0);
	mpset_order(f->st->mps, BUCKET, name, order);
	return order[0];
}

/* What the test laid out, sorted by strcmp. */
struct want {
	char *name;
	uint64_t size;
	uint64_t version;
	int mp;
};

struct wants {
	struct want *w;
	size_t n, cap;
};

static void wants_add(struct wants *ws, const char *name, uint64_t size,
		      uint64_t version, int mp)
{
	if (ws->n == ws->cap) {
		ws->cap = ws->cap ? 2 * ws->cap : 256;
		ws->w = realloc(ws->w, ws->cap * sizeof(*ws->w));
		ck_assert_ptr_nonnull(ws->w);
	}
	ws->w[ws->n].name = strdup(name);
	ck_assert_ptr_nonnull(ws->w[ws->n].name);
	ws->w[ws->n].size = size;
	ws->w[ws->n].version = version;
	ws->w[ws->n].mp = mp;
	ws->n++;
}

static int cmp_want(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->name,
		      ((const struct want *)b)->name);
}

static void wants_sort(struct wants *ws)
{
	qsort(ws->w, ws->n, sizeof(*ws->w), cmp_want);
}

static void wants_free(struct wants *ws)
{
	size_t i;

	for (i = 0; i < ws->n; i++)
		free(ws->w[i].name);
	free(ws->w);
	memset(ws, 0, sizeof(*ws));
}

/* Names that sort around '/' ('-' and '.' sort before it, '0' and letters
 * after), so that a walk that went directory by directory, or skipped a
 * subtree on a careless comparison with start_after, would list them out of
 * order or not at all. */
static const char *const tricky[] = {
    "e-a",	  "e.a",
    "e/a",	  "e/b/c",
    "e0",	  "eA",
    "e~",	  "f",
    "f-/x",	  "f./y",
    "f0/z",	  "g/ space",
    "g/\xc3\xbc", "g/a/b/c/d/e/f/obj",
    "d03/x1",	  "d03/x2",
    "d03/s",	  "d03-",
    "d030",
};

/* 2,500 objects over nested directories on three mountpaths: 12 x 4 x 50
 * "dXX/sY/oZZZ", 81 "topNNN", and the tricky names; every 97th of the
 * nested ones is a real PUT. Neighbours differ in size, so that a size
 * reported for the wrong name shows. */
static void lay_out(struct scratch_store *f, struct wants *ws)
{
	char name[64];
	uint64_t size;
	size_t i;
	int d, s, o, k = 0, mp;

	for (d = 0; d < 12; d++) {
		for (s = 0; s < 4; s++) {
			for (o = 0; o < 50; o++, k++) {
				snprintf(name, sizeof(name), "d%02d/s%d/o%03d",
					 d, s, o);
				size = (uint64_t)(k % 41) * 10;
				if (k % 97 == 0) {
					mp = put(f, name, size + 1);
					wants_add(ws, name, size + 1, 1, mp);
					continue;
				}
				mp = place(f, name, size, size % 7 + 2);
				wants_add(ws, name, size, size % 7 + 2, mp);
			}
		}
	}
	for (k = 0; k < 81; k++) {
		snprintf(name, sizeof(name), "top%03d", k);
		mp = place(f, name, (uint64_t)(k % 5) * 3, 2);
		wants_add(ws, name, (uint64_t)(k % 5) * 3, 2, mp);
	}
	for (i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
		mp = place(f, tricky[i], i, 3);
		wants_add(ws, tricky[i], i, 3, mp);
	}
	wants_sort(ws);
}

static void assert_entry(const struct listing_entry *e, const struct want *w)
{
	ck_assert_msg(!strcmp(e->name, w->name), "entry %s, want %s", e->name,
		      w->name);
	ck_assert_msg(!e->is_prefix, "%s listed as a prefix", e->name);
	ck_assert_msg(e->meta.size == w->size, "%s: size %llu, want %llu",
		      e->name, (unsigned long long)e->meta.size,
		      (unsigned long long)w->size);
	ck_assert_msg(e->meta.version == w->version, "%s: version %llu",
		      e->name, (unsigned long long)e->meta.version);
	ck_assert_msg(e->mp == w->mp, "%s: found on mountpath %d, is on %d",
		      e->name, e->mp, w->mp);
}

static void run_ok(struct scratch_store *f, const char *prefix,
		   const char *delim, const char *after, unsigned page,
		   struct listing *l)
{
	char msg[AIS_ERRMSG_LEN] = "";
	int rc = listing_run(f->st, BUCKET, prefix, delim, after, page, l, msg);

	ck_assert_msg(rc == 0, "listing \"%s\" after \"%s\": %d %s", prefix,
		      after, rc, msg);
}

/* A full walk in pages of 100, each starting after the previous page's
 * last name, returns every name exactly once, in strcmp order, with its
 * size (the file's) and version (the xattr's) and the mountpath holding
 * it; every page but the last is full and says there is more. */
START_TEST(test_full_walk)
{
	struct wants ws = {0};
	struct listing l;
	char after[256] = "";
	size_t k = 0, i, pages = 0;
	struct scratch_store f;

	scratch_store_open(&f, "walk", NMP, BUCKET);
	lay_out(&f, &ws);
	ck_assert_uint_ge(ws.n, 2500);
	for (;;) {
		run_ok(&f, "", "", after, 100, &l);
		pages++;
		ck_assert_uint_le(l.n, 100);
		ck_assert_msg(k + l.n <= ws.n, "more names than laid out");
		for (i = 0; i < l.n; i++)
			assert_entry(&l.e[i], &ws.w[k + i]);
		k += l.n;
		if (!l.more) {
			listing_free(&l);
			break;
		}
		ck_assert_uint_eq(l.n, 100);
		snprintf(after, sizeof(after), "%s", l.e[l.n - 1].name);
		listing_free(&l);
	}
	ck_assert_uint_eq(k, ws.n);
	ck_assert_uint_eq(pages, (ws.n + 99) / 100);

	/* A start_after that is no name, or a directory's name, or sits
	 * among the names around '/': the page is exactly the names after
	 * it. */
	static const char *const afters[] = {
	    "d05",  "d05/", "d05/s1", "d05/s1/o0", "d05/s1/o049", "d03/s",
	    "d03-", "e",    "e-",     "e/",	   "e/b",	  "f",
	    "f-/x", "g/",   "top05",  "zzz",
	};
	for (i = 0; i < sizeof(afters) / sizeof(afters[0]); i++) {
		size_t first = 0;

		while (first < ws.n && strcmp(ws.w[first].name, afters[i]) <= 0)
			first++;
		run_ok(&f, "", "", afters[i], 50, &l);
		ck_assert_msg(l.n == (ws.n - first < 50 ? ws.n - first : 50),
			      "after \"%s\": %zu entries", afters[i], l.n);
		for (k = 0; k < l.n; k++)
			assert_entry(&l.e[k], &ws.w[first + k]);
		listing_free(&l);
	}
	wants_free(&ws);
	scratch_store_close(&f);
}
END_TEST

/* The entries a '/'-delimited listing of prefix must give: the names right
 * under it, and one "dir/" per directory below, sorted. */
static void rolled_up(const struct wants *ws, const char *prefix,
		      struct wants *out)
{
	size_t plen = strlen(prefix), i;
	char buf[256];

	for (i = 0; i < ws->n; i++) {
		const char *n = ws->w[i].name, *slash;

		if (strncmp(n, prefix, plen))
			continue;
		slash = strchr(n + plen, '/');
		if (!slash) {
			wants_add(out, n, ws->w[i].size, ws->w[i].version,
				  ws->w[i].mp);
			continue;
		}
		snprintf(buf, sizeof(buf), "%.*s", (int)(slash - n + 1), n);
		if (out->n && !strcmp(out->w[out->n - 1].name, buf))
			continue;
		wants_add(out, buf, 0, 0, -1);
	}
	wants_sort(out);
}

/* With delimiter "/" only the prefix's directory is listed: its objects,
 * and its subdirectories rolled up once each as "dir/" entries marked
 * is_prefix (though each exists on several mountpaths), in strcmp order;
 * paging by the last entry (a "dir/" too) goes on after it. */
START_TEST(test_delimiter)
{
	static const char *const prefixes[] = {"d03/", "d03/s",	  "", "e",
					       "g/",   "d03/s2/", "f"};
	struct wants ws = {0};
	struct listing l;
	size_t i, k;
	struct scratch_store f;

	scratch_store_open(&f, "delim", NMP, BUCKET);
	lay_out(&f, &ws);
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		struct wants want = {0};
		char after[256] = "";
		size_t got = 0;

		rolled_up(&ws, prefixes[i], &want);
		ck_assert_uint_gt(want.n, 0);
		/* One page. */
		run_ok(&f, prefixes[i], "/", "", 0, &l);
		ck_assert_msg(l.n == want.n,
			      "prefix \"%s\": %zu entries, want %zu",
			      prefixes[i], l.n, want.n);
		ck_assert(!l.more);
		for (k = 0; k < l.n; k++) {
			const struct want *w = &want.w[k];
			bool dir = w->mp < 0;

			ck_assert_msg(!strcmp(l.e[k].name, w->name),
				      "prefix \"%s\": entry %s, want %s",
				      prefixes[i], l.e[k].name, w->name);
			ck_assert_msg(l.e[k].is_prefix == dir,
				      "%s: is_prefix %d", l.e[k].name,
				      l.e[k].is_prefix);
			if (!dir)
				assert_entry(&l.e[k], w);
		}
		listing_free(&l);
		/* Pages of 3. */
		for (;;) {
			run_ok(&f, prefixes[i], "/", after, 3, &l);
			for (k = 0; k < l.n; k++)
				ck_assert_str_eq(l.e[k].name,
						 want.w[got + k].name);
			got += l.n;
			if (!l.more) {
				listing_free(&l);
				break;
			}
			snprintf(after, sizeof(after), "%s", l.e[l.n - 1].name);
			listing_free(&l);
		}
		ck_assert_uint_eq(got, want.n);
		wants_free(&want);
	}
	/* "d03/" holds 4 subdirectories and 3 objects. */
	run_ok(&f, "d03/", "/", "", 0, &l);
	ck_assert_uint_eq(l.n, 7);
	ck_assert_str_eq(l.e[0].name, "d03/s");
	ck_assert(!l.e[0].is_prefix);
	ck_assert_str_eq(l.e[1].name, "d03/s0/");
	ck_assert(l.e[1].is_prefix);
	ck_assert_str_eq(l.e[4].name, "d03/s3/");
	ck_assert_str_eq(l.e[6].name, "d03/x2");
	listing_free(&l);
	wants_free(&ws);
	scratch_store_close(&f);
}
END_TEST

/* A prefix that matches nothing gives an empty, complete page (0), with or
 * without a delimiter, also below a directory that does not exist; a
 * bucket that does not exist is -ENOENT with the bucket named. */
START_TEST(test_empty_and_missing)
{
	static const char *const none[] = {"zzz", "nodir/", "nodir/deeper/x",
					   "d03/s0/o999", "d03/s0/o0499"};
	char msg[AIS_ERRMSG_LEN] = "";
	struct listing l;
	size_t i;
	struct scratch_store f;

	scratch_store_open(&f, "empty", NMP, BUCKET);
	/* An empty bucket. */
	run_ok(&f, "", "", "", 0, &l);
	ck_assert_uint_eq(l.n, 0);
	ck_assert(!l.more);
	listing_free(&l);

	place(&f, "d03/s0/o000", 5, 1);
	place(&f, "d03/s0/o049", 5, 1);
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		run_ok(&f, none[i], "", "", 0, &l);
		ck_assert_msg(l.n == 0 && !l.more, "prefix %s: %zu entries",
			      none[i], l.n);
		listing_free(&l);
		run_ok(&f, none[i], "/", "", 0, &l);
		ck_assert_msg(l.n == 0 && !l.more, "prefix %s/: %zu entries",
			      none[i], l.n);
		listing_free(&l);
	}
	/* Everything is before start_after. */
	run_ok(&f, "", "", "d03/s0/o049", 0, &l);
	ck_assert_uint_eq(l.n, 0);
	listing_free(&l);

	ck_assert_int_eq(listing_run(f.st, "nope", "", "", "", 0, &l, msg),
			 -ENOENT);
	ck_assert_msg(strstr(msg, "nope") && strstr(msg, "does not exist"),
		      "message \"%s\"", msg);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(l.e);
	scratch_store_close(&f);
}
END_TEST

/* page_size 0 is LISTING_PAGE_DEFAULT and a huge page_size is capped at
 * LISTING_PAGE_MAX, both with more set when there are more names; the
 * pages hold the smallest names. */
START_TEST(test_page_size)
{
	enum { N = LISTING_PAGE_MAX + 50 };
	struct wants ws = {0};
	struct listing l;
	char name[32];
	size_t i;
	int k, mp;
	struct scratch_store f;

	scratch_store_open(&f, "pagesize", NMP, BUCKET);
	for (k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "p%d/n%05d", k % 10, k);
		mp = place(&f, name, 0, 1);
		wants_add(&ws, name, 0, 1, mp);
	}
	wants_sort(&ws);

	run_ok(&f, "", "", "", 0, &l);
	ck_assert_uint_eq(l.n, LISTING_PAGE_DEFAULT);
	ck_assert(l.more);
	for (i = 0; i < l.n; i++)
		assert_entry(&l.e[i], &ws.w[i]);
	listing_free(&l);

	run_ok(&f, "", "", "", 4000000000u, &l);
	ck_assert_uint_eq(l.n, LISTING_PAGE_MAX);
	ck_assert(l.more);
	for (i = 0; i < l.n; i++)
		if (strcmp(l.e[i].name, ws.w[i].name))
			ck_abort_msg("entry %zu: %s, want %s", i, l.e[i].name,
				     ws.w[i].name);
	listing_free(&l);

	/* The rest, after the capped page. */
	run_ok(&f, "", "", ws.w[LISTING_PAGE_MAX - 1].name, 4000000000u, &l);
	ck_assert_uint_eq(l.n, 50);
	ck_assert(!l.more);
	listing_free(&l);
	wants_free(&ws);
	scratch_store_close(&f);
}
END_TEST

/* One name on two mountpaths (a copy, xattr and all, left by an older
 * mountpath list) is listed once, in a full listing, a rolled-up one and
 * across a page boundary. */
START_TEST(test_duplicate)
{
	static const char *const names[] = {"a", "dup/x", "z"};
	struct listing l;
	char after[64] = "";
	int order[NMP];
	size_t i;
	struct scratch_store f;

	scratch_store_open(&f, "dup", NMP, BUCKET);
	put(&f, "a", 1);
	put(&f, "dup/x", 10);
	put(&f, "z", 1);
	mpset_order(f.st->mps, BUCKET, "dup/x", order);
	place_on(&f, order[1], "dup/x", 10, 1);
	ck_assert(store_has_object(f.st, BUCKET, "dup/x"));

	run_ok(&f, "", "", "", 0, &l);
	ck_assert_uint_eq(l.n, 3);
	for (i = 0; i < 3; i++)
		ck_assert_str_eq(l.e[i].name, names[i]);
	ck_assert_uint_eq(l.e[1].meta.size, 10);
	listing_free(&l);

	run_ok(&f, "", "/", "", 0, &l);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.e[1].name, "dup/");
	ck_assert(l.e[1].is_prefix);
	listing_free(&l);

	for (i = 0; i < 3; i++) {
		run_ok(&f, "", "", after, 1, &l);
		ck_assert_uint_eq(l.n, 1);
		ck_assert_str_eq(l.e[0].name, names[i]);
		ck_assert(l.more == (i < 2));
		snprintf(after, sizeof(after), "%s", l.e[0].name);
		listing_free(&l);
	}
	scratch_store_close(&f);
}
END_TEST

static Suite *listing_suite(void)
{
	Suite *s = suite_create("store_listing");
	TCase *tc = tcase_create("store_listing");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_full_walk);
	tcase_add_test(tc, test_delimiter);
	tcase_add_test(tc, test_empty_and_missing);
	tcase_add_test(tc, test_page_size);
	tcase_add_test(tc, test_duplicate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	scratch_init("store_listing");
	return scratch_run(listing_suite());
}
