/* Integration: crashes. A node killed with SIGKILL and restarted (`ais
 * local up --dir` again) still serves every object it had; a node killed in
 * the middle of a large PUT shows the old version (or nothing) after the
 * restart, never a partial object, and its .ais/tmp is cleaned. */
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "map.h"

static struct ais_test_cluster tc;
#define C (tc.client)

#define MiB  (1u << 20)
#define NOBJ 300

static struct ais_map *map;

static uint64_t size_of(int i)
{
	static const uint64_t s[] = {0, 1, 4096, 65536, 1000, 200000};

	return i % 50 == 7 ? 4 * MiB + 3 : s[i % 6];
}

static void check_get(const char *name, uint64_t seed, uint64_t size)
{
	struct ais_test_verify v;
	char msg[AIS_ERRMSG_LEN] = "";
	int rc;

	ais_test_verify_init(&v, seed, 0);
	rc = ais_client_get_cb(C, "test", name, 0, 0, ais_test_verify_write, &v,
			       NULL, msg);
	ck_assert_msg(rc == 0, "GET %s: %d %s", name, rc, msg);
	ck_assert_msg(v.got == size, "GET %s: %llu bytes, want %llu", name,
		      (unsigned long long)v.got, (unsigned long long)size);
	ck_assert_msg(v.bad_at < 0, "GET %s: wrong byte at %lld", name,
		      (long long)v.bad_at);
}

static void check_all(const char *when)
{
	char name[64];
	struct ais_list_page pg;
	char msg[AIS_ERRMSG_LEN] = "";
	size_t total = 0;
	char *token = NULL;

	fprintf(stderr, "# checking %d objects %s\n", NOBJ, when);
	for (int i = 0; i < NOBJ; i++) {
		snprintf(name, sizeof(name), "keep/%03d", i);
		check_get(name, 9000 + (uint64_t)i, size_of(i));
	}
	/* And the listing is complete. */
	do {
		int rc = ais_client_list(C, "test", "keep/", NULL, token, 100,
					 &pg, msg);

		ck_assert_msg(rc == 0, "list %s: %d %s", when, rc, msg);
		total += pg.n;
		free(token);
		token = pg.next_token ? strdup(pg.next_token) : NULL;
		ais_list_page_free(&pg);
	} while (token != NULL);
	ck_assert_uint_eq(total, NOBJ);
}

/* Index of the node owning name. */
static int owner_index(const char *bucket, const char *name)
{
	const struct ais_node *o = ais_map_owner(map, bucket, name);

	ck_assert_ptr_nonnull(o);
	return o->port - tc.port;
}

/* Every mountpath's .ais/tmp of node i is empty (within 5 s: a node
 * that was not killed drops the temporary file of a copy whose sender
 * died when it sees the connection close). */
static void check_tmp_clean(int i)
{
	char pat[PATH_MAX + 64];
	glob_t g;

	snprintf(pat, sizeof(pat), "%s/node%d/*/.ais/tmp/*", tc.cluster_dir, i);
	for (int tries = 0; tries < 50; tries++) {
		size_t left = 0;

		if (glob(pat, GLOB_PERIOD, NULL, &g) == 0) {
			for (size_t k = 0; k < g.gl_pathc; k++) {
				const char *b = strrchr(g.gl_pathv[k], '/') + 1;

				left += strcmp(b, ".") && strcmp(b, "..");
			}
			globfree(&g);
		}
		if (!left)
			break;
		usleep(100000);
	}
	if (glob(pat, GLOB_PERIOD, NULL, &g) == 0) {
		for (size_t k = 0; k < g.gl_pathc; k++) {
			const char *b = strrchr(g.gl_pathv[k], '/') + 1;

			ck_assert_msg(
			    strcmp(b, ".") == 0 || strcmp(b, "..") == 0,
			    "left in tmp after restart: %s", g.gl_pathv[k]);
		}
		globfree(&g);
	}
	/* The dir itself exists (the layout is what we think it is). */
	snprintf(pat, sizeof(pat), "%s/node%d/*/.ais/tmp", tc.cluster_dir, i);
	ck_assert_int_eq(glob(pat, 0, NULL, &g), 0);
	ck_assert_uint_gt(g.gl_pathc, 0);
	globfree(&g);
}

START_TEST(test_setup)
{
	char msg[AIS_ERRMSG_LEN] = "";
	char name[64];

	map = ais_test_cluster_map(C);
	ck_assert_uint_eq(map->n, 3);
	for (int i = 0; i < NOBJ; i++) {
		struct ais_test_gen g = {.seed = 9000 + (uint64_t)i,
					 .size = size_of(i)};
		int rc;

		snprintf(name, sizeof(name), "keep/%03d", i);
		rc = ais_client_put_cb(C, "test", name, g.size,
				       ais_test_gen_read, &g, NULL, NULL, msg);
		ck_assert_msg(rc == 0, "PUT %s: %d %s", name, rc, msg);
	}
	check_all("after PUT");
}
END_TEST

START_TEST(test_sigkill_restart)
{
	for (int node = 0; node < 3; node++) {
		pid_t old = ais_test_node_pid(&tc, node);

		ck_assert_int_eq(ais_test_node_kill(&tc, node, SIGKILL), 0);
		ck_assert_int_eq(ais_test_node_restart(&tc), 0);
		ck_assert_int_gt(ais_test_node_pid(&tc, node), 0);
		ck_assert_int_ne(ais_test_node_pid(&tc, node), old);
		check_all("after SIGKILL and restart");
	}
}
END_TEST

START_TEST(test_sigterm_restart)
{
	ck_assert_int_eq(ais_test_node_kill(&tc, 1, SIGTERM), 0);
	ck_assert_int_eq(ais_test_node_restart(&tc), 0);
	check_all("after SIGTERM and restart");
}
END_TEST

/* A PUT source that SIGKILLs node `victim` once `at` bytes were sent. */
struct killer {
	struct ais_test_gen g;
	uint64_t at;
	int victim;
	bool killed;
};

static ssize_t killer_read(void *arg, void *buf, size_t len)
{
	struct killer *k = arg;

	if (!k->killed && k->g.off >= k->at) {
		ais_test_node_kill(&tc, k->victim, SIGKILL);
		k->killed = true;
	}
	return ais_test_gen_read(&k->g, buf, len);
}

/* The object files of bucket/name on every node's disks, and their sizes
 * (at most 8). */
static size_t copies_on_disk(const char *bucket, const char *name,
			     uint64_t *sizes)
{
	char pat[PATH_MAX + 128];
	glob_t g;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "%s/node*/*/%s/%s", tc.cluster_dir, bucket,
		 name);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	for (size_t k = 0; k < g.gl_pathc && n < 8; k++) {
		struct stat st;

		ck_assert_int_eq(stat(g.gl_pathv[k], &st), 0);
		sizes[n++] = (uint64_t)st.st_size;
	}
	globfree(&g);
	return n;
}

/* With copies, the index of the node a PUT of bucket/name goes to: the
 * first of its copy set, once the client's map has every node of the set
 * up (a node restarted just before may still be marked down, and the PUT
 * would go to the next one). */
static int copy_owner_index(const char *bucket, const char *name, size_t copies)
{
	for (int tries = 0; tries < 300; tries++) {
		struct ais_node_loc loc[4];
		char msg[AIS_ERRMSG_LEN] = "";
		size_t n, i;
		bool up;

		ck_assert_int_eq(ais_client_refresh_map(C, msg), 0);
		n = ais_client_locate(C, bucket, name, loc, 4);
		up = n == copies;
		for (i = 0; i < n; i++)
			up = up && !loc[i].down;
		if (up)
			return loc[0].port - tc.port;
		usleep(100000);
	}
	ck_abort_msg("%s/%s: its copy set is not all up after 30 s", bucket,
		     name);
	return -1;
}

/* SIGKILLs the node taking a PUT of bucket/name (its owner) after `at` of
 * `size` bytes of the body. After the restart: no partial object anywhere,
 * on any copy's node; the old version (if any) whole on `copies` nodes. */
static void kill_mid_put(const char *bucket, const char *name, bool had_old,
			 uint64_t size, uint64_t at, size_t copies)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct killer k = {.g = {.seed = 31337, .size = size}, .at = at};
	struct ais_obj_meta h;
	uint64_t sizes[8];
	size_t n;
	int rc;

	k.victim = copies > 1 ? copy_owner_index(bucket, name, copies)
			      : owner_index(bucket, name);
	if (had_old) {
		struct ais_test_gen g = {.seed = 1111, .size = 3 * MiB};

		ck_assert_int_eq(ais_client_put_cb(C, bucket, name, g.size,
						   ais_test_gen_read, &g, NULL,
						   NULL, msg),
				 0);
		ck_assert_uint_eq(copies_on_disk(bucket, name, sizes), copies);
	}
	rc = ais_client_put_cb(C, bucket, name, k.g.size, killer_read, &k, NULL,
			       NULL, msg);
	ck_assert(k.killed);
	ck_assert_msg(rc < 0, "a PUT whose node was killed returned %d", rc);
	fprintf(stderr, "# PUT into a killed node: %d (%s)\n", rc, msg);
	ck_assert_int_eq(ais_test_node_restart(&tc), 0);
	for (int i = 0; i < 3; i++)
		check_tmp_clean(i);
	n = copies_on_disk(bucket, name, sizes);
	rc = ais_client_head(C, bucket, name, &h, msg);
	if (had_old) {
		ck_assert_msg(rc == 0, "old version lost: %d %s", rc, msg);
		ck_assert_uint_eq(h.size, 3 * MiB);
		ck_assert_uint_eq(h.version, 1);
		ck_assert_uint_eq(n, copies);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(sizes[i] == 3 * MiB,
				      "a copy of %llu bytes on disk",
				      (unsigned long long)sizes[i]);
		{
			struct ais_test_verify v;

			ais_test_verify_init(&v, 1111, 0);
			rc = ais_client_get_cb(C, bucket, name, 0, 0,
					       ais_test_verify_write, &v, NULL,
					       msg);
			ck_assert_msg(rc == 0, "GET %s: %d %s", name, rc, msg);
			ck_assert_uint_eq(v.got, 3 * MiB);
			ck_assert_int_lt(v.bad_at, 0);
		}
	} else {
		ck_assert_msg(rc == -ENOENT,
			      "partial object visible: %d (%llu "
			      "bytes)",
			      rc, (unsigned long long)h.size);
		ck_assert_msg(n == 0, "%zu files of a killed PUT on disk", n);
	}
}

START_TEST(test_kill_mid_put_overwrite)
{
	kill_mid_put("test", "big/overwrite", true, 1ull << 30, 200 * MiB, 1);
	check_all("after a node died in a PUT");
}
END_TEST

START_TEST(test_kill_mid_put_new)
{
	kill_mid_put("test", "big/new", false, 1ull << 30, 200 * MiB, 1);
	check_all("after a node died in a PUT of a new object");
}
END_TEST

/* With copies=2: the node coordinating a PUT dies mid-body; no copy of
 * the half object is anywhere, the old version is on both copies. */
START_TEST(test_kill_mid_put_copies)
{
	char msg[AIS_ERRMSG_LEN] = "";

	ck_assert_int_eq(ais_client_bucket_create_copies(C, "rep", 2, msg), 0);
	kill_mid_put("rep", "over", true, 256 * MiB, 64 * MiB, 2);
	kill_mid_put("rep", "new", false, 256 * MiB, 64 * MiB, 2);
	check_all("after a node died in a PUT with copies");
}
END_TEST

START_TEST(test_serving_after_all)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_test_gen g = {.seed = 5, .size = 10 * MiB};
	struct ais_cluster_info *ci = NULL;

	/* The same client (its pool saw every node die) carries on. */
	ck_assert_int_eq(ais_client_put_cb(C, "test", "final", g.size,
					   ais_test_gen_read, &g, NULL, NULL,
					   msg),
			 0);
	check_get("final", 5, 10 * MiB);
	ck_assert_int_eq(ais_client_cluster_info(C, &ci, msg), 0);
	ck_assert_uint_eq(ci->n_nodes, 3);
	for (size_t i = 0; i < ci->n_nodes; i++)
		ck_assert_msg(ci->nodes[i].status == 0, "node %zu: status %d",
			      i, ci->nodes[i].status);
	ais_cluster_info_free(ci);
	ais_map_free(map);
	map = NULL;
}
END_TEST

START_TEST(test_node_down_errors)
{
	/* While a node is down: its objects fail fast with a connection
	 * error (no hang), the others are served, and a LIST fails rather
	 * than return a partial listing that would look like lost data. */
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_list_page pg;
	int down = 2, served = 0, failed = 0;
	uint64_t t0;
	int rc;

	ck_assert_int_eq(ais_test_node_kill(&tc, down, SIGKILL), 0);
	for (int i = 0; i < 30; i++) {
		char name[64];
		struct ais_test_verify v;

		snprintf(name, sizeof(name), "keep/%03d", i);
		ais_test_verify_init(&v, 9000 + (uint64_t)i, 0);
		t0 = ais_now_mono_ns();
		rc = ais_client_get_cb(C, "test", name, 0, 0,
				       ais_test_verify_write, &v, NULL, msg);
		ck_assert_msg(ais_now_mono_ns() - t0 < 15000000000ull,
			      "GET %s took %.1f s with a node down", name,
			      (double)(ais_now_mono_ns() - t0) / 1e9);
		if (owner_index("test", name) == down) {
			ck_assert_msg(rc < 0, "GET %s from a dead node: %d",
				      name, rc);
			ck_assert_msg(msg[0] != '\0', "no message");
			failed++;
		} else {
			ck_assert_msg(rc == 0, "GET %s from a live node: %d %s",
				      name, rc, msg);
			ck_assert_int_lt(v.bad_at, 0);
			served++;
		}
	}
	ck_assert_int_gt(failed, 0);
	ck_assert_int_gt(served, 0);
	t0 = ais_now_mono_ns();
	rc = ais_client_list(C, "test", "keep/", NULL, NULL, 1000, &pg, msg);
	ck_assert_msg(rc < 0, "LIST with a node down returned %d (%zu entries)",
		      rc, rc == 0 ? pg.n : 0);
	ck_assert(ais_now_mono_ns() - t0 < 15000000000ull);
	ck_assert_int_eq(ais_test_node_restart(&tc), 0);
	check_all("after a node was down");
}
END_TEST

START_TEST(test_unreachable_endpoint)
{
	/* A client for a cluster that is not there fails fast and says why;
	 * so does a malformed endpoint. */
	char msg[AIS_ERRMSG_LEN] = "";
	char ep[64];
	struct ais_client *c;
	uint64_t t0 = ais_now_mono_ns();

	snprintf(ep, sizeof(ep), "127.0.0.1:%u", tc.port + 9);
	c = ais_client_new(ep, NULL, msg);
	ck_assert_ptr_null(c);
	ck_assert_msg(msg[0] != '\0', "no message for an unreachable cluster");
	ck_assert_msg(ais_now_mono_ns() - t0 < 10000000000ull,
		      "ais_client_new to a dead endpoint took %.1f s",
		      (double)(ais_now_mono_ns() - t0) / 1e9);
	fprintf(stderr, "# unreachable: %s\n", msg);
	msg[0] = '\0';
	c = ais_client_new("no-port-here", NULL, msg);
	ck_assert_ptr_null(c);
	ck_assert(msg[0] != '\0');
}
END_TEST

static Suite *restart_suite(void)
{
	Suite *s = suite_create("restart");
	TCase *t = tcase_create("restart");

	tcase_add_test(t, test_setup);
	tcase_add_test(t, test_sigkill_restart);
	tcase_add_test(t, test_sigterm_restart);
	tcase_add_test(t, test_node_down_errors);
	tcase_add_test(t, test_kill_mid_put_overwrite);
	tcase_add_test(t, test_kill_mid_put_new);
	tcase_add_test(t, test_kill_mid_put_copies);
	tcase_add_test(t, test_serving_after_all);
	tcase_add_test(t, test_unreachable_endpoint);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return ais_test_main(&tc, "restart", 3, restart_suite());
}
