/* Unit tests of daemon/store/mountpath.c: the start-up checks of a node's
 * mountpaths (.ais/tmp made and emptied, one lock per mountpath, the same
 * directory not twice), the node id every mountpath keeps and agrees on,
 * HRW placement of objects over the mountpaths, and work-file names. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hrw.h"
#include "util.h"

#include "store/mountpath.h"

#include "scratch.h"

#define NMP 3

/* A test's directory with n empty mountpaths below it: mp0, mp1, ... */
struct mps {
	char dir[PATH_MAX];
	char mp[NMP + 1][PATH_MAX];
	char *paths[NMP + 1];
	int fds; /* open before: as many at the end (refusals included) */
};

static void mps_make(struct mps *t, const char *tag, int n)
{
	char name[16];
	int i;

	t->fds = scratch_open_fds();
	scratch_dir(t->dir, tag);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "mp%d", i);
		scratch_subdir(t->mp[i], t->dir, name);
		t->paths[i] = t->mp[i];
	}
}

static void mps_done(struct mps *t)
{
	ck_assert_int_eq(scratch_open_fds(), t->fds);
	scratch_rm(t->dir);
}

static void path_of(char *buf, const char *mp, const char *rel)
{
	ck_assert_int_lt(snprintf(buf, PATH_MAX, "%s/%s", mp, rel), PATH_MAX);
}

/* The node id kept in <mp>/.ais/node: 16 lowercase hex digits and a
 * newline, into id (17 bytes). */
static void read_id_file(const char *mp, char *id)
{
	char path[PATH_MAX], buf[64];
	ssize_t n;
	int i;

	path_of(path, mp, ".ais/node");
	n = ais_read_file(path, buf, sizeof(buf) - 1);
	ck_assert_msg(n == AISD_NODE_ID_LEN + 1, "%s: %zd bytes", path, n);
	buf[n] = '\0';
	ck_assert_int_eq(buf[AISD_NODE_ID_LEN], '\n');
	for (i = 0; i < AISD_NODE_ID_LEN; i++)
		ck_assert_msg(strchr("0123456789abcdef", buf[i]) && buf[i],
			      "%s: \"%s\" is not 16 hex digits", path, buf);
	memcpy(id, buf, AISD_NODE_ID_LEN);
	id[AISD_NODE_ID_LEN] = '\0';
}

static struct mpset *open_ok(char *const *paths, size_t n)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct mpset *m = NULL;
	int rc = mpset_open(paths, n, &m, msg);

	ck_assert_msg(rc == 0, "mpset_open: %d %s", rc, msg);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n, n);
	return m;
}

/* One mountpath: .ais/tmp is made, leftovers of killed PUTs in it (files
 * and whole trees) are removed, the node id is written to .ais/node and
 * equals m->node_id, and reopening keeps that id. */
START_TEST(test_open_one)
{
	char path[PATH_MAX], id[AISD_NODE_ID_LEN + 1], real[PATH_MAX];
	struct mps t;
	struct mpset *m;
	struct stat sb;

	mps_make(&t, "one", 1);
	m = open_ok(t.paths, 1);
	ck_assert_ptr_nonnull(realpath(t.mp[0], real));
	ck_assert_str_eq(m->paths[0], real);
	path_of(path, t.mp[0], ".ais/tmp");
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_int_eq(scratch_count_entries(path), 0);
	read_id_file(t.mp[0], id);
	ck_assert_str_eq(m->node_id, id);
	mpset_free(m);

	/* Leftovers: a work file and a tree (a bucket being destroyed). */
	path_of(path, t.mp[0], ".ais/tmp/put.123.0.abc");
	scratch_write_file(path, "partial", 7);
	path_of(path, t.mp[0], ".ais/tmp/trash");
	ck_assert_int_eq(mkdir(path, 0755), 0);
	path_of(path, t.mp[0], ".ais/tmp/trash/sub");
	ck_assert_int_eq(mkdir(path, 0755), 0);
	path_of(path, t.mp[0], ".ais/tmp/trash/sub/obj");
	scratch_write_file(path, "old", 3);

	m = open_ok(t.paths, 1);
	path_of(path, t.mp[0], ".ais/tmp");
	ck_assert_int_eq(scratch_count_entries(path), 0);
	ck_assert_str_eq(m->node_id, id);
	read_id_file(t.mp[0], id);
	ck_assert_str_eq(m->node_id, id);
	mpset_free(m);
	mps_done(&t);
}
END_TEST

/* Three mountpaths share one node id, written to each; reopening them (in
 * another order) keeps it; a new empty mountpath added later takes the
 * same id rather than making a new one: objects are placed by it. */
START_TEST(test_open_three)
{
	char id[NMP + 1][AISD_NODE_ID_LEN + 1], path[PATH_MAX];
	char *rev[NMP];
	struct mps t;
	struct mpset *m;
	int i;

	mps_make(&t, "three", NMP + 1);
	m = open_ok(t.paths, NMP);
	for (i = 0; i < NMP; i++) {
		read_id_file(t.mp[i], id[i]);
		ck_assert_str_eq(id[i], m->node_id);
		path_of(path, t.mp[i], ".ais/tmp");
		ck_assert_int_eq(scratch_count_entries(path), 0);
	}
	mpset_free(m);

	for (i = 0; i < NMP; i++)
		rev[i] = t.paths[NMP - 1 - i];
	m = open_ok(rev, NMP);
	ck_assert_str_eq(m->node_id, id[0]);
	mpset_free(m);

	/* mp3 is new and has no id yet. */
	m = open_ok(t.paths, NMP + 1);
	ck_assert_str_eq(m->node_id, id[0]);
	read_id_file(t.mp[NMP], id[NMP]);
	ck_assert_str_eq(id[NMP], id[0]);
	mpset_free(m);
	mps_done(&t);
}
END_TEST

/* Mountpaths of two different nodes (different ids) are refused with
 * -EINVAL and a message that names both ids; neither id is overwritten. */
START_TEST(test_ids_disagree)
{
	char a[AISD_NODE_ID_LEN + 1], b[AISD_NODE_ID_LEN + 1];
	char msg[AIS_ERRMSG_LEN] = "", again[AISD_NODE_ID_LEN + 1];
	char path[PATH_MAX];
	struct mpset *m = NULL;
	struct mps t;

	mps_make(&t, "disagree", 2);
	m = open_ok(&t.paths[0], 1);
	snprintf(a, sizeof(a), "%s", m->node_id);
	mpset_free(m);
	m = open_ok(&t.paths[1], 1);
	snprintf(b, sizeof(b), "%s", m->node_id);
	mpset_free(m);
	/* Two random 64-bit ids. */
	ck_assert_str_ne(a, b);

	m = NULL;
	ck_assert_int_eq(mpset_open(t.paths, 2, &m, msg), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(msg, a) && strstr(msg, b),
		      "message \"%s\" does not name both %s and %s", msg, a, b);
	/* And where each id was found. */
	ck_assert_ptr_nonnull(realpath(t.mp[0], path));
	ck_assert_msg(strstr(msg, path), "message \"%s\" lacks %s", msg, path);
	ck_assert_ptr_nonnull(realpath(t.mp[1], path));
	ck_assert_msg(strstr(msg, path), "message \"%s\" lacks %s", msg, path);
	read_id_file(t.mp[0], again);
	ck_assert_str_eq(again, a);
	read_id_file(t.mp[1], again);
	ck_assert_str_eq(again, b);

	/* A node file that is not an id is refused too, not replaced. */
	path_of(path, t.mp[1], ".ais/node");
	scratch_write_file(path, "not-an-id\n", 10);
	ck_assert_int_eq(mpset_open(&t.paths[1], 1, &m, msg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "not a node id"));
	mps_done(&t);
}
END_TEST

/* The same directory twice is refused (-EINVAL), also when spelt
 * differently: "<mp>", "<mp>/." and a symlink to it. */
START_TEST(test_same_dir_twice)
{
	char msg[AIS_ERRMSG_LEN] = "", dot[PATH_MAX], link[PATH_MAX];
	char *two[2];
	struct mpset *m = NULL;
	struct mps t;

	mps_make(&t, "twice", 1);
	two[0] = t.mp[0];
	two[1] = t.mp[0];
	ck_assert_int_eq(mpset_open(two, 2, &m, msg), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(msg, "given twice"));

	path_of(dot, t.mp[0], ".");
	two[1] = dot;
	ck_assert_int_eq(mpset_open(two, 2, &m, msg), -EINVAL);

	path_of(link, t.dir, "link");
	ck_assert_int_eq(symlink(t.mp[0], link), 0);
	two[1] = link;
	ck_assert_int_eq(mpset_open(two, 2, &m, msg), -EINVAL);
	ck_assert_ptr_null(m);

	/* The refusals left the mountpath usable. */
	m = open_ok(t.paths, 1);
	mpset_free(m);
	mps_done(&t);
}
END_TEST

/* A mountpath in use by another mpset (another aisd) is refused with
 * -EBUSY: flock(2) locks belong to the open file description, so a second
 * open in the same process conflicts as a second process would. The
 * refused open must not have emptied the other's .ais/tmp (PUTs in
 * flight live there). Once the first is freed, the mountpath opens. */
START_TEST(test_busy)
{
	char msg[AIS_ERRMSG_LEN] = "", path[PATH_MAX];
	struct mpset *m1, *m2 = NULL;
	struct mps t;

	mps_make(&t, "busy", 2);
	m1 = open_ok(&t.paths[1], 1);
	path_of(path, t.mp[1], ".ais/tmp/put.in-flight");
	scratch_write_file(path, "data", 4);

	ck_assert_int_eq(mpset_open(&t.paths[1], 1, &m2, msg), -EBUSY);
	ck_assert_ptr_null(m2);
	ck_assert_msg(strstr(msg, "in use"), "message \"%s\"", msg);
	ck_assert_int_eq(access(path, F_OK), 0);

	/* Also when the busy one comes after a free one. */
	ck_assert_int_eq(mpset_open(t.paths, 2, &m2, msg), -EBUSY);
	ck_assert_ptr_null(m2);
	ck_assert_int_eq(access(path, F_OK), 0);

	mpset_free(m1);
	m2 = open_ok(t.paths, 2);
	/* Now it is ours, and its leftovers go. */
	ck_assert_int_eq(access(path, F_OK), -1);
	mpset_free(m2);
	mps_done(&t);
}
END_TEST

/* A missing mountpath gives -ENOENT, a file -ENOTDIR, each with the path
 * in the message. */
START_TEST(test_missing)
{
	char msg[AIS_ERRMSG_LEN] = "", missing[PATH_MAX], file[PATH_MAX];
	char *p[1];
	struct mpset *m = NULL;
	struct mps t;

	mps_make(&t, "missing", 0);
	path_of(missing, t.dir, "nowhere");
	p[0] = missing;
	ck_assert_int_eq(mpset_open(p, 1, &m, msg), -ENOENT);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(msg, "nowhere"));

	path_of(file, t.dir, "file");
	scratch_write_file(file, "x", 1);
	p[0] = file;
	ck_assert_int_eq(mpset_open(p, 1, &m, msg), -ENOTDIR);
	ck_assert_ptr_null(m);
	mps_done(&t);
}
END_TEST

/* "bucket/name", the key mountpaths are ranked by. */
static size_t key_of(const char *bucket, const char *name, char *key,
		     size_t len)
{
	int n = snprintf(key, len, "%s/%s", bucket, name);

	ck_assert(n > 0 && (size_t)n < len);
	return (size_t)n;
}

/* mpset_order is a permutation of 0..n-1, the same on every call, whose
 * first entry is the HRW pick over the mountpath paths for "bucket/name"
 * and whose rest is the HRW rank (the fallbacks); over 3000 names each of
 * 3 mountpaths comes first about a third of the time. */
START_TEST(test_order)
{
	int order[NMP], again[NMP], rank[NMP], first[NMP] = {0};
	char name[64], key[128];
	struct mpset *m;
	struct mps t;
	size_t klen;
	int i, j;

	mps_make(&t, "order", NMP);
	m = open_ok(t.paths, NMP);
	for (i = 0; i < 3000; i++) {
		int seen[NMP] = {0};

		snprintf(name, sizeof(name), "dir%d/obj-%d.bin", i % 31, i);
		mpset_order(m, "bkt", name, order);
		for (j = 0; j < NMP; j++) {
			ck_assert(order[j] >= 0 && order[j] < NMP);
			ck_assert_msg(!seen[order[j]], "%s: %d twice", name,
				      order[j]);
			seen[order[j]] = 1;
		}
		mpset_order(m, "bkt", name, again);
		ck_assert_mem_eq(order, again, sizeof(order));

		klen = key_of("bkt", name, key, sizeof(key));
		ck_assert_int_eq(ais_hrw_pick((const char *const *)m->paths,
					      m->n, key, klen),
				 order[0]);
		ais_hrw_rank((const char *const *)m->paths, m->n, key, klen,
			     rank);
		ck_assert_mem_eq(order, rank, sizeof(order));
		first[order[0]]++;
	}
	for (j = 0; j < NMP; j++)
		ck_assert_msg(first[j] >= 800 && first[j] <= 1200,
			      "mountpath %d first for %d of 3000 names", j,
			      first[j]);

	/* The bucket is part of the key: the same name in other buckets
	 * does not always land on the same mountpath. */
	for (i = 0, j = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		mpset_order(m, name, "same-name", order);
		mpset_order(m, "bkt", "same-name", again);
		j += order[0] != again[0];
	}
	ck_assert_int_gt(j, 0);
	mpset_free(m);

	/* One mountpath: always 0. */
	m = open_ok(t.paths, 1);
	mpset_order(m, "bkt", "x", order);
	ck_assert_int_eq(order[0], 0);
	mpset_free(m);
	mps_done(&t);
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Work-file names: under <mp>/.ais/tmp/, start with the tag, and never
 * repeat (two PUTs of one name must not share a work file). */
START_TEST(test_tmp_path)
{
	enum { N = 2000 };
	char prefix[PATH_MAX], *seen[N];
	struct mpset *m;
	struct mps t;
	size_t plen;
	int i;

	mps_make(&t, "tmppath", 2);
	m = open_ok(t.paths, 2);
	ck_assert_int_lt(
	    snprintf(prefix, sizeof(prefix), "%s/.ais/tmp/put.", m->paths[1]),
	    PATH_MAX);
	plen = strlen(prefix);
	for (i = 0; i < N; i++) {
		char buf[AISD_PATH_MAX];

		mpset_tmp_path(m, 1, "put", buf);
		ck_assert_msg(!strncmp(buf, prefix, plen), "%s not under %s",
			      buf, prefix);
		ck_assert_ptr_null(strchr(buf + plen, '/'));
		seen[i] = strdup(buf);
		ck_assert_ptr_nonnull(seen[i]);
	}
	qsort(seen, N, sizeof(seen[0]), cmp_str);
	for (i = 1; i < N; i++)
		if (!strcmp(seen[i - 1], seen[i]))
			ck_abort_msg("%s returned twice", seen[i]);
	for (i = 0; i < N; i++)
		free(seen[i]);
	mpset_free(m);
	mps_done(&t);
}
END_TEST

/* The layout: "<mp>/<bucket>" and "<mp>/<bucket>/<name>". */
START_TEST(test_paths)
{
	char buf[AISD_PATH_MAX], want[PATH_MAX];
	struct mpset *m;
	struct mps t;

	mps_make(&t, "paths", 2);
	m = open_ok(t.paths, 2);
	mpset_bucket_path(m, 1, "bkt", buf);
	path_of(want, m->paths[1], "bkt");
	ck_assert_str_eq(buf, want);
	mpset_obj_path(m, 0, "bkt", "a/b/c", buf);
	path_of(want, m->paths[0], "bkt/a/b/c");
	ck_assert_str_eq(buf, want);
	mpset_free(m);
	mps_done(&t);
}
END_TEST

/* A lock file opened as descriptor 0 (a process started with stdin closed)
 * is closed by mpset_free with its flock, so the mountpath can be opened
 * again in the same process (a node restarted in-process, as the tests that
 * link libaisd do). It was kept once: "> 0" stood for "opened". */
START_TEST(test_lockfd_zero)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct mpset *m;
	struct mps t;
	int saved, rc;

	mps_make(&t, "fdzero", 1);
	saved = dup(0);
	ck_assert_int_ge(saved, 0);
	close(0);
	m = open_ok(t.paths, 1);
	/* The lock file is the first descriptor mpset_open opens. */
	ck_assert_int_eq(m->lockfds[0], 0);
	mpset_free(m);
	m = NULL;
	rc = mpset_open(t.paths, 1, &m, msg);
	if (rc == 0)
		mpset_free(m);
	ck_assert_int_eq(dup2(saved, 0), 0);
	close(saved);
	ck_assert_msg(rc == 0, "reopen after mpset_free: %d %s", rc, msg);
	mps_done(&t);
}
END_TEST

static Suite *mountpath_suite(void)
{
	Suite *s = suite_create("mountpath");
	TCase *tc = tcase_create("mountpath");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_open_one);
	tcase_add_test(tc, test_open_three);
	tcase_add_test(tc, test_ids_disagree);
	tcase_add_test(tc, test_same_dir_twice);
	tcase_add_test(tc, test_busy);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_tmp_path);
	tcase_add_test(tc, test_paths);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_lockfd_zero);
	return s;
}

int main(void)
{
	scratch_init("mountpath");
	return scratch_run(mountpath_suite());
}
