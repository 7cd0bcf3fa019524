/* Unit tests of fuse/inode: the table aisfs keeps of the inodes the kernel
 * knows. A name maps to one inode until it is unhashed; the kernel's number
 * for it (afs_nodeid) finds it again; the kernel's forgets and the ref
 * counts free it, its parents with it; a freed inode's memory is reused; a
 * rename re-keys; and a million of them fit the mount's memory budget: the
 * bytes per inode are checked, not just that it works. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "inode.h"

static struct afs_itable *t;

static void setup(void)
{
	t = afs_itable_new();
	ck_assert_ptr_nonnull(t);
}

static void teardown(void)
{
	afs_itable_free(t);
	t = NULL;
}

/* Looks (parent, name) up the way a kernel lookup does: one lookup count
 * for the kernel, the caller's ref dropped. */
static struct afs_inode *lookup(struct afs_inode *parent, const char *name,
				int kind)
{
	struct afs_inode *in = afs_inode_link(t, parent, name, kind);

	ck_assert_ptr_nonnull(in);
	afs_inode_put(t, in);
	return in;
}

static size_t count(void)
{
	size_t n, bytes;

	afs_itable_stats(t, &n, &bytes);
	return n;
}

START_TEST(test_root)
{
	struct afs_inode *root = afs_inode_get(t, AFS_ROOT_INO);

	ck_assert_ptr_nonnull(root);
	ck_assert_uint_eq(afs_nodeid(root), AFS_ROOT_INO);
	ck_assert_uint_eq(root->ino, AFS_ROOT_INO);
	afs_inode_forget(t, AFS_ROOT_INO, 100); /* never freed */
	afs_inode_put(t, root);
	ck_assert_ptr_eq(afs_inode_get(t, AFS_ROOT_INO), root);
	afs_inode_put(t, root);
	ck_assert_uint_eq(count(), 1);
}
END_TEST

START_TEST(test_link_find_forget)
{
	struct afs_inode *root = afs_inode_get(t, AFS_ROOT_INO), *b, *f, *g;
	char path[64];
	uint64_t ino;

	b = lookup(root, "bucket", AFS_DIR);
	f = lookup(b, "f1", AFS_FILE);
	ck_assert_ptr_ne(b, f);
	ck_assert_uint_ne(b->ino, f->ino);
	ck_assert_uint_gt(f->ino, AFS_ROOT_INO);
	ck_assert_uint_eq(f->nlookup, 1);
	/* The same name: the same inode, one more kernel lookup. */
	ck_assert_ptr_eq(lookup(b, "f1", AFS_FILE), f);
	ck_assert_uint_eq(f->nlookup, 2);
	/* The kernel's number finds it. */
	g = afs_inode_get(t, afs_nodeid(f));
	ck_assert_ptr_eq(g, f);
	afs_inode_put(t, g);
	g = afs_inode_find(t, b, "f1");
	ck_assert_ptr_eq(g, f);
	afs_inode_put(t, g);
	ck_assert_ptr_null(afs_inode_find(t, b, "f2"));
	ck_assert_int_eq(afs_inode_path(t, f, path, sizeof(path)), 2);
	ck_assert_str_eq(path, "bucket/f1");
	ck_assert_int_eq(afs_inode_path(t, f, path, 9), -ENAMETOOLONG);
	ck_assert_uint_eq(count(), 3);

	/* Forgotten by the kernel: freed, and the bucket with it. */
	ino = f->ino;
	afs_inode_forget(t, afs_nodeid(f), 1);
	ck_assert_ptr_eq(afs_inode_find(t, b, "f1"), f);
	afs_inode_put(t, f);
	afs_inode_forget(t, afs_nodeid(f), 5); /* more than it had */
	ck_assert_uint_eq(count(), 2);
	ck_assert_ptr_null(afs_inode_find(t, b, "f1"));
	afs_inode_forget(t, afs_nodeid(b), 1);
	ck_assert_uint_eq(count(), 1);
	afs_inode_put(t, root);

	/* Looked up again: a new number, never one handed out before. */
	b = lookup(root, "bucket", AFS_DIR);
	f = lookup(b, "f1", AFS_FILE);
	ck_assert_uint_gt(f->ino, ino);
}
END_TEST

START_TEST(test_refs_hold)
{
	struct afs_inode *root = afs_inode_get(t, AFS_ROOT_INO), *d, *f;

	d = lookup(root, "d", AFS_DIR);
	f = afs_inode_link(t, d, "f", AFS_FILE); /* a ref of ours */
	afs_inode_forget(t, afs_nodeid(d), 1);
	afs_inode_forget(t, afs_nodeid(f), 1);
	/* Our ref keeps f, and f its parent. */
	ck_assert_uint_eq(count(), 3);
	ck_assert_ptr_eq(afs_inode_get(t, afs_nodeid(f)), f);
	afs_inode_put(t, f);
	afs_inode_put(t, f);
	ck_assert_uint_eq(count(), 1);
	afs_inode_put(t, root);
}
END_TEST

START_TEST(test_kind_change_unhash)
{
	struct afs_inode *root = afs_inode_get(t, AFS_ROOT_INO), *a, *b, *c;

	a = lookup(root, "x", AFS_FILE);
	/* Now a directory elsewhere: a new inode; the old one lives on for
	 * the kernel, unreachable by name. */
	b = lookup(root, "x", AFS_DIR);
	ck_assert_ptr_ne(a, b);
	ck_assert_uint_ne(a->ino, b->ino);
	ck_assert(!a->hashed);
	ck_assert_ptr_eq(afs_inode_get(t, afs_nodeid(a)), a);
	afs_inode_put(t, a);
	/* A lookup that found b answers with it only while it is hashed. */
	ck_assert(afs_inode_relink(t, b));
	ck_assert_uint_eq(b->nlookup, 2);
	afs_inode_put(t, b);
	afs_inode_unhash(t, b);
	ck_assert(!afs_inode_relink(t, b));
	ck_assert_uint_eq(b->nlookup, 2);
	ck_assert_ptr_null(afs_inode_find(t, root, "x"));
	c = lookup(root, "x", AFS_DIR);
	ck_assert_ptr_ne(c, b);

	/* A number asked for is given, unless the inode it replaces has it. */
	a = afs_inode_link_ino(t, root, "m", AFS_MFILE, (1ULL << 63) | 7);
	ck_assert_uint_eq(a->ino, (1ULL << 63) | 7);
	b = afs_inode_link_ino(t, root, "m", AFS_MDIR, (1ULL << 63) | 7);
	ck_assert_uint_ne(b->ino, a->ino);
	afs_inode_put(t, a);
	afs_inode_put(t, b);
	afs_inode_put(t, root);
}
END_TEST

START_TEST(test_move)
{
	struct afs_inode *root = afs_inode_get(t, AFS_ROOT_INO), *d1, *d2, *f,
			 *old;
	char path[64];

	d1 = lookup(root, "d1", AFS_DIR);
	d2 = lookup(root, "d2", AFS_DIR);
	f = lookup(d1, "a", AFS_FILE);
	old = lookup(d2, "a-much-longer-name-than-before", AFS_FILE);
	ck_assert_int_eq(
	    afs_inode_move(t, f, d2, "a-much-longer-name-than-before"), 0);
	ck_assert(!old->hashed);
	ck_assert_ptr_null(afs_inode_find(t, d1, "a"));
	ck_assert_ptr_eq(
	    afs_inode_find(t, d2, "a-much-longer-name-than-before"), f);
	afs_inode_put(t, f);
	afs_inode_path(t, f, path, sizeof(path));
	ck_assert_str_eq(path, "d2/a-much-longer-name-than-before");
	/* Renamed again (the name out of line is replaced). */
	ck_assert_int_eq(afs_inode_move(t, f, d1, "b"), 0);
	afs_inode_path(t, f, path, sizeof(path));
	ck_assert_str_eq(path, "d1/b");
	/* d1 lost nothing, d2 its extra ref. */
	afs_inode_forget(t, afs_nodeid(old), 1);
	afs_inode_forget(t, afs_nodeid(d2), 1);
	ck_assert_ptr_null(afs_inode_find(t, root, "d2"));
	afs_inode_forget(t, afs_nodeid(f), 1);
	afs_inode_forget(t, afs_nodeid(d1), 1);
	ck_assert_uint_eq(count(), 1);
	afs_inode_put(t, root);
}
END_TEST

START_TEST(test_ext_and_meta)
{
	struct afs_inode *root = afs_inode_get(t, AFS_ROOT_INO), *f;
	struct ais_obj_meta m = {.size = 10, .version = 1, .mtime_ns = 5};
	struct afs_iext *x;

	f = lookup(root, "f", AFS_FILE);
	ck_assert_ptr_null(afs_iext(f));
	ck_assert_ptr_null(afs_inode_spool(f));
	x = afs_inode_ext(f);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_eq(afs_inode_ext(f), x);
	x->link = strdup("target"); /* freed with the inode */
	ck_assert_str_eq(afs_inode_link_target(f), "target");

	afs_inode_set_meta(f, &m);
	ck_assert(f->have_meta);
	ck_assert_uint_eq(f->meta.size, 10);
	f->have_page = true;
	afs_inode_set_meta(f, &m); /* the same write: pages stay */
	ck_assert(f->have_page);
	m.version = 2;
	ck_assert(afs_inode_set_meta(f, &m)); /* another: they go */
	ck_assert(!f->have_page);
	ck_assert(!afs_inode_set_meta(f, &m));
	ck_assert_uint_eq(f->meta.version, 2);
	afs_inode_put(t, root);
}
END_TEST

/* A name whose pages may be of another write than the one now known gets a
 * new inode (another node id for the kernel); the old one lives on. */
START_TEST(test_link_ident)
{
	struct afs_inode *root = afs_inode_get(t, AFS_ROOT_INO), *a, *b;
	struct ais_obj_meta m = {.size = 4, .version = 1, .mtime_ns = 9};
	uint64_t x, y;

	x = afs_meta_ident(&m);
	m.version = 2;
	y = afs_meta_ident(&m);
	ck_assert_uint_ne(x, y);
	m.version = 1;
	a = afs_inode_link_ident(t, root, "f", AFS_FILE, 0, x);
	afs_inode_set_meta(a, &m);
	afs_inode_put(t, a);
	/* No pages yet: kept, whatever the write. */
	ck_assert_ptr_eq(afs_inode_link_ident(t, root, "f", AFS_FILE, 0, y), a);
	afs_inode_put(t, a);
	a->have_page = true;
	ck_assert_ptr_eq(afs_inode_link_ident(t, root, "f", AFS_FILE, 0, x), a);
	afs_inode_put(t, a);
	b = afs_inode_link_ident(t, root, "f", AFS_FILE, 0, y);
	ck_assert_ptr_ne(b, a);
	ck_assert_uint_ne(b->ino, a->ino);
	ck_assert(!a->hashed);
	ck_assert_ptr_eq(afs_inode_find(t, root, "f"), b);
	afs_inode_put(t, b);
	afs_inode_put(t, b);
	/* The kernel still has a (three lookups): it lives until forgotten. */
	ck_assert_ptr_eq(afs_inode_get(t, afs_nodeid(a)), a);
	afs_inode_put(t, a);
	afs_inode_forget(t, afs_nodeid(a), 3);
	afs_inode_forget(t, afs_nodeid(b), 1);
	ck_assert_uint_eq(count(), 1);
	afs_inode_put(t, root);
}
END_TEST

/* The object names of a shard's view ("x.tar.d", shards=view) and of a
 * shard directory ("x.tar", shards=dir): the view stands for x.tar; a
 * directory or file named *.d stays itself. */
START_TEST(test_shard_view_path)
{
	struct afs_inode *root = afs_inode_get(t, AFS_ROOT_INO), *b, *v, *m, *d;
	char path[256];
	size_t end;

	b = lookup(root, "bucket", AFS_DIR);
	v = lookup(b, "x.tar.d", AFS_SHARD);
	m = lookup(v, "cls", AFS_MDIR);
	m = lookup(m, "1.jpg", AFS_MFILE);
	ck_assert_int_eq(afs_inode_path_split(t, m, path, sizeof(path), &end),
			 4);
	ck_assert_str_eq(path, "bucket/x.tar/cls/1.jpg");
	ck_assert_uint_eq(end, strlen("bucket/x.tar"));
	ck_assert_int_eq(afs_inode_path_split(t, v, path, sizeof(path), &end),
			 2);
	ck_assert_str_eq(path, "bucket/x.tar");
	v = lookup(b, "y.tar", AFS_SHARD);
	ck_assert_int_eq(afs_inode_path_split(t, v, path, sizeof(path), &end),
			 2);
	ck_assert_str_eq(path, "bucket/y.tar");
	d = lookup(b, "conf.d", AFS_DIR);
	d = lookup(d, "f.d", AFS_FILE);
	ck_assert_int_eq(afs_inode_path(t, d, path, sizeof(path)), 3);
	ck_assert_str_eq(path, "bucket/conf.d/f.d");
	afs_inode_put(t, root);
}
END_TEST

/* A million names, as an epoch leaves them in the kernel: the bytes the
 * table holds per inode (slots and hash buckets) stay within what a
 * 128 MiB mount can afford; freed slots are reused. */
START_TEST(test_million_compact)
{
	struct afs_inode *root = afs_inode_get(t, AFS_ROOT_INO), *d = NULL, *f;
	static struct afs_inode *files[1000];
	size_t n, bytes, bytes2, i;
	char name[32];

	for (i = 0; i < 1000000; i++) {
		if (i % 1000 == 0) {
			snprintf(name, sizeof(name), "d%04zu", i / 1000);
			d = lookup(root, name, AFS_DIR);
		}
		snprintf(name, sizeof(name), "f%07zu", i);
		f = lookup(d, name, AFS_FILE);
		if (i >= 999000)
			files[i - 999000] = f;
	}
	afs_itable_stats(t, &n, &bytes);
	ck_assert_uint_eq(n, 1001001);
	fprintf(stderr, "%zu inodes: %zu bytes, %.1f per inode\n", n, bytes,
		(double)bytes / (double)n);
	ck_assert_uint_le(bytes / n, 112);
	/* The kernel forgets the last directory: its slots come back and
	 * are used again. */
	for (i = 0; i < 1000; i++)
		afs_inode_forget(t, afs_nodeid(files[i]), 1);
	afs_itable_stats(t, &n, &bytes2);
	ck_assert_uint_eq(n, 1000001);
	ck_assert_uint_lt(bytes2, bytes);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "g%07zu", i);
		lookup(d, name, AFS_FILE);
	}
	afs_itable_stats(t, &n, &bytes2);
	ck_assert_uint_eq(bytes2, bytes);
	afs_inode_put(t, root);
}
END_TEST

static Suite *inode_suite(void)
{
	Suite *s = suite_create("inode");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_root);
	tcase_add_test(tc, test_link_find_forget);
	tcase_add_test(tc, test_refs_hold);
	tcase_add_test(tc, test_shard_view_path);
	tcase_add_test(tc, test_kind_change_unhash);
	tcase_add_test(tc, test_move);
	tcase_add_test(tc, test_ext_and_meta);
	tcase_add_test(tc, test_link_ident);
	tcase_add_test(tc, test_million_compact);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(inode_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
