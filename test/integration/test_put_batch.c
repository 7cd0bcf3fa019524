/* Integration: PUTs in batches (OP_PUT_BATCH, ais_client_put_batch) on a
 * 3-node cluster. Every object comes back byte for byte with its version;
 * each item gets an OP_PUT's own answer (bad name, wrong node, checksum
 * mismatch, exists, name conflicts) while the others are stored; a batch
 * whose sizes do not add up stores nothing; "x" and "x/y" in one batch
 * never both; a body that breaks off leaves
 * nothing visible and no work file behind; concurrent batches and PUTs of
 * the same names number every version exactly once. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "frame.h"
#include "harness.h"
#include "map.h"

static struct ais_test_cluster tc;
#define C (tc.client)

/* The bytes of item k of a round: stream seed*1000+k, size sz. */
static void *make_buf(uint64_t seed, size_t sz)
{
	void *b = malloc(sz ? sz : 1);

	ck_assert_ptr_nonnull(b);
	ais_test_fill(seed, 0, b, sz);
	return b;
}

static void expect_object(const char *name, uint64_t seed, uint64_t size,
			  uint64_t version)
{
	struct ais_test_verify v;
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN] = "";
	int rc;

	ais_test_verify_init(&v, seed, 0);
	rc = ais_client_get_cb(C, "test", name, 0, 0, ais_test_verify_write, &v,
			       &m, msg);
	ck_assert_msg(rc == 0, "GET %s: %d %s", name, rc, msg);
	ck_assert_uint_eq(v.got, size);
	ck_assert_msg(v.bad_at < 0, "%s: wrong byte at %lld", name,
		      (long long)v.bad_at);
	if (version)
		ck_assert_uint_eq(m.version, version);
}

static void expect_absent(const char *name)
{
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN] = "";
	int rc = ais_client_head(C, "test", name, &m, msg);

	ck_assert_msg(rc == -ENOENT || rc == -ENOTDIR,
		      "%s should not exist: %d %s", name, rc, msg);
}

/* 300 objects (more than one request per node), sizes 0 to 200 KiB and one
 * of 2 MiB (too big for a batch: it goes alone), then all of them again. */
START_TEST(test_roundtrip)
{
	enum { N = 300 };
	static struct ais_put_item it[N];
	static char names[N][64];
	void *bufs[N];

	for (int round = 1; round <= 2; round++) {
		for (int k = 0; k < N; k++) {
			size_t sz = k == 7	  ? 2u << 20
				    : k % 10 == 0 ? 0
						  : (size_t)(k * 677) % 200000;

			snprintf(names[k], sizeof(names[k]), "rt/d%d/o%03d",
				 k % 7, k);
			memset(&it[k], 0, sizeof(it[k]));
			bufs[k] = make_buf((uint64_t)round * 1000 + k, sz);
			it[k].name = names[k];
			it[k].buf = bufs[k];
			it[k].len = sz;
			it[k].opts.mode = 0640;
		}
		ck_assert_uint_eq(ais_client_put_batch(C, "test", it, N), 0);
		for (int k = 0; k < N; k++) {
			ck_assert_msg(it[k].rc == 0, "%s: %d %s", names[k],
				      it[k].rc, it[k].errmsg);
			ck_assert_uint_eq(it[k].meta.size, it[k].len);
			ck_assert_uint_eq(it[k].meta.version, (uint64_t)round);
			ck_assert_uint_eq(it[k].meta.mode & 0777, 0640);
			expect_object(names[k], (uint64_t)round * 1000 + k,
				      it[k].len, (uint64_t)round);
			free(bufs[k]);
		}
	}
}
END_TEST

/* Each item gets its own answer; the good ones are stored. */
START_TEST(test_item_errors)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_put_item it[6];
	uint8_t data[100];

	ais_test_fill(5, 0, data, sizeof(data));
	ck_assert_int_eq(
	    ais_client_put_buf(C, "test", "ie/obj", data, 10, NULL, NULL, msg),
	    0);
	ck_assert_int_eq(ais_client_put_buf(C, "test", "ie/dir/x", data, 10,
					    NULL, NULL, msg),
			 0);
	ck_assert_int_eq(ais_client_put_buf(C, "test", "ie/exists", data, 10,
					    NULL, NULL, msg),
			 0);
	memset(it, 0, sizeof(it));
	it[0].name = "ie/ok1";
	it[1].name = "ie/bad//name";
	it[2].name = "ie/exists";
	it[2].opts.no_overwrite = true;
	it[3].name = "ie/obj/sub"; /* under an object */
	it[4].name = "ie/dir";	   /* a directory */
	it[5].name = "ie/ok2";
	for (int k = 0; k < 6; k++) {
		it[k].buf = data;
		it[k].len = sizeof(data);
	}
	ck_assert_uint_eq(ais_client_put_batch(C, "test", it, 6), 4);
	ck_assert_int_eq(it[0].rc, 0);
	ck_assert_int_eq(it[1].rc, -EINVAL);
	ck_assert_int_eq(it[2].rc, -EEXIST);
	ck_assert_int_eq(it[3].rc, -ENOTDIR);
	ck_assert_int_eq(it[4].rc, -EISDIR);
	ck_assert_int_eq(it[5].rc, 0);
	ck_assert_msg(strstr(it[2].errmsg, "exists"), "%s", it[2].errmsg);
	expect_object("ie/ok1", 5, sizeof(data), 1);
	expect_object("ie/ok2", 5, sizeof(data), 1);
	expect_object("ie/exists", 5, 10, 1);
	expect_object("ie/obj", 5, 10, 1);
	expect_absent("ie/obj/sub");
}
END_TEST

/* A name owned by node i (of the map), with a given prefix. */
static void owned_by(struct ais_map *m, int i, const char *prefix, int from,
		     char *out, size_t len)
{
	for (int k = from; k < from + 10000; k++) {
		const struct ais_node *o;

		snprintf(out, len, "%s%d", prefix, k);
		o = ais_map_owner(m, "test", out);
		if (o->port == ais_test_node_port(&tc, i))
			return;
	}
	ck_abort_msg("no name owned by node %d", i);
}

static Ais__Response *raw_batch(int fd, Ais__PutItem **pv, size_t n,
				const void *body, uint64_t body_len)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp = NULL;

	req.op = AIS__OP__OP_PUT_BATCH;
	req.bucket = (char *)"test";
	req.n_put_items = n;
	req.put_items = pv;
	ck_assert_int_eq(ais_test_send_req(fd, 3, &req, body, body_len), 0);
	ck_assert_int_eq(ais_test_recv_resp(fd, &resp, NULL), 0);
	return resp;
}

/* The node's own answers, item by item, on one raw request. */
START_TEST(test_raw_results)
{
	struct ais_map *m = ais_test_cluster_map(C);
	char mine[64], other[64], badck[64];
	Ais__PutItem pi[4], *pv[4];
	char hex[AIS_CKSUM_HEX_MAX];
	uint8_t body[4 * 1000];
	Ais__Response *resp;
	int fd;

	owned_by(m, 0, "raw-mine-", 0, mine, sizeof(mine));
	owned_by(m, 1, "raw-other-", 0, other, sizeof(other));
	owned_by(m, 0, "raw-badck-", 0, badck, sizeof(badck));
	ais_map_free(m);
	for (int k = 0; k < 4; k++) {
		ais__put_item__init(&pi[k]);
		pi[k].size = 1000;
		pv[k] = &pi[k];
		ais_test_fill(40 + k, 0, body + k * 1000, 1000);
	}
	ais_test_stream_cksum(40, 1000, hex);
	pi[0].name = mine;
	pi[0].cksum_type = AIS__CKSUM_TYPE__CKSUM_XXH3;
	pi[0].cksum_value = hex;
	pi[1].name = other;
	pi[2].name = (char *)"../escape";
	pi[3].name = badck;
	pi[3].cksum_type = AIS__CKSUM_TYPE__CKSUM_XXH3;
	pi[3].cksum_value = hex; /* of item 0's bytes */

	fd = ais_test_connect(ais_test_node_port(&tc, 0));
	ck_assert_int_ge(fd, 0);
	resp = raw_batch(fd, pv, 4, body, sizeof(body));
	ck_assert_msg(resp->status == 0, "%d %s", resp->status, resp->message);
	ck_assert_uint_eq(resp->n_put_results, 4);
	ck_assert_int_eq(resp->put_results[0]->status, 0);
	ck_assert_ptr_nonnull(resp->put_results[0]->meta);
	ck_assert_str_eq(resp->put_results[0]->meta->cksum_value, hex);
	ck_assert_int_eq(resp->put_results[1]->status, -EREMOTE);
	ck_assert_int_eq(resp->put_results[2]->status, -EINVAL);
	ck_assert_int_eq(resp->put_results[3]->status, -EBADMSG);
	ck_assert_msg(strstr(resp->put_results[3]->message, "checksum"), "%s",
		      resp->put_results[3]->message);
	ais__response__free_unpacked(resp, NULL);

	/* Sizes that do not add up to the body: nothing is stored. */
	pi[0].name = (char *)"raw-sum-a";
	pi[1].name = (char *)"raw-sum-b";
	pi[0].cksum_type = AIS__CKSUM_TYPE__CKSUM_NONE;
	pi[0].cksum_value = (char *)"";
	resp = raw_batch(fd, pv, 2, body, 1500);
	ck_assert_int_eq(resp->status, -EINVAL);
	ck_assert_msg(strstr(resp->message, "add up"), "%s", resp->message);
	ais__response__free_unpacked(resp, NULL);
	ais_test_close(fd);

	expect_object(mine, 40, 1000, 1);
	expect_absent(other);
	expect_absent(badck);
	expect_absent("raw-sum-a");
	expect_absent("raw-sum-b");
}
END_TEST

static int tmp_files;

static int count_tmp(const char *path, const struct stat *sb, int type,
		     struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_F && strstr(path, "/.ais/tmp/"))
		tmp_files++;
	return 0;
}

/* A body that breaks off after some of its objects: none of them is
 * visible, no work file is left, and the node still serves. */
START_TEST(test_broken_body)
{
	struct ais_map *m = ais_test_cluster_map(C);
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__PutItem pi[8], *pv[8];
	char names[8][64], dir[PATH_MAX];
	uint8_t body[8 * 5000], *frame;
	size_t flen;
	int fd;

	for (int k = 0; k < 8; k++) {
		owned_by(m, 2, "broken-", k * 10000, names[k],
			 sizeof(names[k]));
		ais__put_item__init(&pi[k]);
		pi[k].name = names[k];
		pi[k].size = 5000;
		pv[k] = &pi[k];
	}
	ais_map_free(m);
	ais_test_fill(77, 0, body, sizeof(body));
	req.op = AIS__OP__OP_PUT_BATCH;
	req.bucket = (char *)"test";
	req.n_put_items = 8;
	req.put_items = pv;
	ais_test_add_token(&req);
	ck_assert_int_eq(
	    ais_frame_pack(9, 0, &req.base, sizeof(body), &frame, &flen), 0);
	fd = ais_test_connect(ais_test_node_port(&tc, 2));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ais_test_write_all(fd, frame, flen), 0);
	/* Five objects and a half, then the client dies. */
	ck_assert_int_eq(ais_test_write_all(fd, body, 5 * 5000 + 2500), 0);
	free(frame);
	usleep(200 * 1000);
	ais_test_close(fd);
	/* The node sees the end of the body, drops every staged file. */
	for (int tries = 0; tries < 50; tries++) {
		tmp_files = 0;
		ais_test_node_dir(&tc, 2, dir, sizeof(dir));
		ck_assert_int_eq(nftw(dir, count_tmp, 16, FTW_PHYS), 0);
		if (tmp_files == 0)
			break;
		usleep(100 * 1000);
	}
	ck_assert_int_eq(tmp_files, 0);
	for (int k = 0; k < 8; k++)
		expect_absent(names[k]);
	/* And the node takes the next batch. */
	{
		struct ais_put_item it[2] = {
		    {.name = names[0], .buf = body, .len = 5000},
		    {.name = names[1], .buf = body, .len = 5000},
		};

		ck_assert_uint_eq(ais_client_put_batch(C, "test", it, 2), 0);
		expect_object(names[0], 77, 5000, 1);
		expect_object(names[1], 77, 5000, 1);
	}
}
END_TEST

/* "x" and "x/y" in one batch to one node: one of them is stored, never
 * both (with two mountpaths per node, each could land on its own). */
START_TEST(test_in_batch_conflict)
{
	struct ais_map *m = ais_test_cluster_map(C);
	struct ais_put_item it[20];
	char names[20][64];
	uint8_t data[10];
	int pairs = 0;

	memset(it, 0, sizeof(it));
	memset(data, 'x', sizeof(data));
	for (int k = 0; k < 1000 && pairs < 10; k++) {
		char a[64], b[64];

		snprintf(a, sizeof(a), "ibc/p%d", k);
		snprintf(b, sizeof(b), "ibc/p%d/child", k);
		if (ais_map_owner(m, "test", a) != ais_map_owner(m, "test", b))
			continue;
		strcpy(names[2 * pairs], a);
		strcpy(names[2 * pairs + 1], b);
		pairs++;
	}
	ais_map_free(m);
	ck_assert_int_eq(pairs, 10);
	for (int k = 0; k < 20; k++) {
		it[k].name = names[k];
		it[k].buf = data;
		it[k].len = sizeof(data);
	}
	ck_assert_uint_eq(ais_client_put_batch(C, "test", it, 20), 10);
	for (int k = 0; k < 10; k++) {
		struct ais_obj_meta om;
		char msg[AIS_ERRMSG_LEN] = "";

		ck_assert_int_eq(it[2 * k].rc, 0);
		ck_assert_int_eq(it[2 * k + 1].rc, -ENOTDIR);
		ck_assert_int_eq(
		    ais_client_head(C, "test", names[2 * k], &om, msg), 0);
		expect_absent(names[2 * k + 1]);
	}
}
END_TEST

/* Concurrent batches and single PUTs of the same names: every PUT gets its
 * own version, and the last one's bytes are what is stored. */
enum { RACE_NAMES = 40, RACE_ROUNDS = 15, RACE_THREADS = 4 };

static void *race_main(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct ais_put_item it[RACE_NAMES];
	char names[RACE_NAMES][32];
	uint8_t data[RACE_NAMES][64];
	char msg[AIS_ERRMSG_LEN];

	for (int round = 0; round < RACE_ROUNDS; round++) {
		memset(it, 0, sizeof(it));
		for (int k = 0; k < RACE_NAMES; k++) {
			snprintf(names[k], sizeof(names[k]), "race/%02d", k);
			ais_test_fill((uint64_t)(t * 100 + round), 0, data[k],
				      sizeof(data[k]));
			it[k].name = names[k];
			it[k].buf = data[k];
			it[k].len = sizeof(data[k]);
		}
		if (t == 0) { /* one thread PUTs one by one */
			for (int k = 0; k < RACE_NAMES; k++)
				if (ais_client_put_buf(C, "test", names[k],
						       data[k], 64, NULL, NULL,
						       msg))
					return (void *)1;
		} else if (ais_client_put_batch(C, "test", it, RACE_NAMES)) {
			return (void *)1;
		}
	}
	return NULL;
}

START_TEST(test_race_versions)
{
	pthread_t th[RACE_THREADS];

	for (int t = 0; t < RACE_THREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, race_main,
						(void *)(intptr_t)t),
				 0);
	for (int t = 0; t < RACE_THREADS; t++) {
		void *ret;

		ck_assert_int_eq(pthread_join(th[t], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	for (int k = 0; k < RACE_NAMES; k++) {
		char name[32], msg[AIS_ERRMSG_LEN] = "";
		struct ais_test_verify v;
		struct ais_obj_meta m;
		int rc;

		snprintf(name, sizeof(name), "race/%02d", k);
		ck_assert_int_eq(ais_client_head(C, "test", name, &m, msg), 0);
		ck_assert_uint_eq(m.version, RACE_ROUNDS * RACE_THREADS);
		/* Whole and checksum-verified: one writer's bytes. */
		ais_test_verify_init(&v, 0, 0);
		rc = ais_client_get_cb(C, "test", name, 0, 0,
				       ais_test_verify_write, &v, NULL, msg);
		ck_assert_msg(rc == 0, "GET %s: %d %s", name, rc, msg);
		ck_assert_uint_eq(v.got, 64);
	}
}
END_TEST

static Suite *batch_suite(void)
{
	Suite *s = suite_create("put_batch");
	TCase *t = tcase_create("batch");

	tcase_set_timeout(t, 240);
	tcase_add_test(t, test_roundtrip);
	tcase_add_test(t, test_item_errors);
	tcase_add_test(t, test_raw_results);
	tcase_add_test(t, test_broken_body);
	tcase_add_test(t, test_in_batch_conflict);
	tcase_add_test(t, test_race_versions);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return ais_test_main(&tc, "put_batch", 3, batch_suite());
}
