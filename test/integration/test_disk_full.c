/* Integration: a full disk. A lone aisd whose mountpath is a 16 MiB tmpfs:
 * a PUT bigger than the space fails with -ENOSPC, the old version of that
 * object is intact, nothing is left in .ais/tmp, and the node still serves.
 * Needs root (mount); skips otherwise unless CI demands every test. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "harness.h"

static struct ais_test_cluster tc;
static struct ais_client *c;
static char mnt[PATH_MAX];

#define MiB (1u << 20)

static void unmount_hook(void *arg)
{
	(void)arg;
	if (umount2(mnt, MNT_DETACH) < 0)
		fprintf(stderr, "harness: umount %s: %s\n", mnt,
			strerror(errno));
}

static int put(const char *name, uint64_t seed, uint64_t size, char *msg)
{
	struct ais_test_gen g = {.seed = seed, .size = size};

	return ais_client_put_cb(c, "full", name, size, ais_test_gen_read, &g,
				 NULL, NULL, msg);
}

static void check_get(const char *name, uint64_t seed, uint64_t size)
{
	struct ais_test_verify v;
	char msg[AIS_ERRMSG_LEN] = "";
	int rc;

	ais_test_verify_init(&v, seed, 0);
	rc = ais_client_get_cb(c, "full", name, 0, 0, ais_test_verify_write, &v,
			       NULL, msg);
	ck_assert_msg(rc == 0, "GET %s: %d %s", name, rc, msg);
	ck_assert_uint_eq(v.got, size);
	ck_assert_msg(v.bad_at < 0, "GET %s: wrong byte at %lld", name,
		      (long long)v.bad_at);
}

/* Number of entries in mnt/.ais/tmp, waiting up to 3 s for it to be 0. */
static int tmp_entries(void)
{
	char path[PATH_MAX + 16];
	int n = -1;

	snprintf(path, sizeof(path), "%s/.ais/tmp", mnt);
	for (int tries = 0; tries < 30; tries++) {
		DIR *d = opendir(path);
		struct dirent *e;

		if (d == NULL)
			return -1;
		n = 0;
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				n++;
		closedir(d);
		if (n == 0)
			break;
		usleep(100000);
	}
	return n;
}

static uint64_t free_bytes(void)
{
	struct statvfs st;

	ck_assert_int_eq(statvfs(mnt, &st), 0);
	return (uint64_t)st.f_bavail * st.f_frsize;
}

START_TEST(test_too_big_put)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta h;
	uint64_t before;
	int rc;

	ck_assert_int_eq(ais_client_bucket_create(c, "full", msg), 0);
	ck_assert_int_eq(put("obj", 1, 2 * MiB, msg), 0);
	before = free_bytes();

	msg[0] = '\0';
	rc = put("obj", 2, 32 * MiB, msg);
	ck_assert_msg(rc == -ENOSPC, "32 MiB PUT on 16 MiB: %d %s", rc, msg);
	ck_assert_msg(msg[0] != '\0', "no message for ENOSPC");
	/* The old version is intact. */
	ck_assert_int_eq(ais_client_head(c, "full", "obj", &h, msg), 0);
	ck_assert_uint_eq(h.version, 1);
	ck_assert_uint_eq(h.size, 2 * MiB);
	check_get("obj", 1, 2 * MiB);
	/* Nothing left behind: no work file, the space is back. */
	ck_assert_int_eq(tmp_entries(), 0);
	ck_assert_uint_ge(free_bytes() + 64 * 1024, before);

	/* A new name that does not fit: not created at all. */
	rc = put("new", 3, 20 * MiB, msg);
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_int_eq(ais_client_head(c, "full", "new", &h, msg), -ENOENT);
	ck_assert_int_eq(tmp_entries(), 0);
}
END_TEST

START_TEST(test_fill_up)
{
	char msg[AIS_ERRMSG_LEN] = "";
	char name[32];
	int n = 0, rc = 0;

	/* Fill with 1 MiB objects until the disk is full; every object
	 * acknowledged before stays readable. */
	while (n < 40) {
		snprintf(name, sizeof(name), "fill/%02d", n);
		rc = put(name, 100 + (uint64_t)n, MiB, msg);
		if (rc != 0)
			break;
		n++;
	}
	ck_assert_msg(rc == -ENOSPC, "filling stopped with %d %s", rc, msg);
	ck_assert_int_gt(n, 5);
	ck_assert_int_lt(n, 16);
	ck_assert_int_eq(tmp_entries(), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "fill/%02d", i);
		check_get(name, 100 + (uint64_t)i, MiB);
	}
	check_get("obj", 1, 2 * MiB);
	/* Freeing space makes PUTs work again. */
	ck_assert_int_eq(ais_client_delete(c, "full", "fill/00", msg), 0);
	ck_assert_int_eq(ais_client_delete(c, "full", "fill/01", msg), 0);
	rc = put("after", 7, MiB, msg);
	ck_assert_msg(rc == 0, "PUT after freeing space: %d %s", rc, msg);
	check_get("after", 7, MiB);
}
END_TEST

START_TEST(test_still_serving)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_list_page pg;

	check_get("obj", 1, 2 * MiB);
	ck_assert_int_eq(
	    ais_client_list(c, "full", NULL, NULL, NULL, 0, &pg, msg), 0);
	ck_assert_uint_gt(pg.n, 2);
	ais_list_page_free(&pg);
	ck_assert_int_eq(kill(tc.extra[0], 0), 0);
}
END_TEST

int main(void)
{
	char msg[AIS_ERRMSG_LEN] = "";
	Suite *s = suite_create("disk_full");
	TCase *t = tcase_create("disk_full");
	SRunner *sr;
	pid_t pid;
	int failed;

	tcase_add_test(t, test_too_big_put);
	tcase_add_test(t, test_fill_up);
	tcase_add_test(t, test_still_serving);
	suite_add_tcase(s, t);

	if (ais_test_init(&tc, "disk_full") < 0)
		return 1;
	snprintf(mnt, sizeof(mnt), "%s/tmpfs", tc.dir);
	if (mkdir(mnt, 0755) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=16m,mode=0755") < 0) {
		int e = errno;

		ais_test_teardown(&tc);
		if (ais_test_require_all()) {
			fprintf(stderr,
				"FAIL: cannot mount a tmpfs (%s) and "
				"CI requires this test\n",
				strerror(e));
			return 1;
		}
		fprintf(stderr, "SKIP: cannot mount a tmpfs: %s (needs root)\n",
			strerror(e));
		return 77;
	}
	ais_test_on_teardown(&tc, unmount_hook, NULL);
	pid = ais_test_spawn_aisd(&tc, "full", tc.port, mnt);
	if (pid < 0) {
		fprintf(stderr,
			"FAIL: aisd on a tmpfs mountpath did not start "
			"(%d)\n",
			(int)pid);
		tc.failed = true;
		ais_test_teardown(&tc);
		return 1;
	}
	c = ais_client_new(tc.endpoint, NULL, msg);
	if (c == NULL) {
		fprintf(stderr, "FAIL: client: %s\n", msg);
		tc.failed = true;
		ais_test_teardown(&tc);
		return 1;
	}
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_VERBOSE);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	ais_client_free(c);
	tc.failed = failed > 0;
	ais_test_teardown(&tc);
	if (tc.sanitizer_report)
		fprintf(stderr, "FAIL: aisd reported a sanitizer error\n");
	return failed == 0 && !tc.sanitizer_report ? 0 : 1;
}
