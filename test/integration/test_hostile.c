/* Integration: hostile input. Malformed frames (bad magic, head_len 0 and
 * 2 MiB, truncated header, garbage protobuf, random bytes, a body on a
 * HEAD), hostile names (.., a//b, NUL, 1025 bytes, empty) and 1,000 idle
 * connections: each gets a clear error or a closed connection, and every
 * node still serves GETs afterwards. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "fileio.h"
#include "harness.h"
#include "map.h"

static struct ais_test_cluster tc;
#define C (tc.client)

/* One object owned by each node, to prove every node still serves. */
static char alive[3][64];

static void make_alive_objects(void)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_map *m = ais_test_cluster_map(C);
	int found = 0;

	ck_assert_uint_eq(m->n, 3);
	for (int k = 0; k < 1000 && found < 3; k++) {
		char name[64];
		const struct ais_node *o;
		int idx;

		snprintf(name, sizeof(name), "alive-%d", k);
		o = ais_map_owner(m, "test", name);
		idx = o->port - tc.port;
		ck_assert(idx >= 0 && idx < 3);
		if (alive[idx][0] == '\0') {
			struct ais_test_gen g = {.seed = (uint64_t)idx,
						 .size = 300000};

			snprintf(alive[idx], sizeof(alive[idx]), "%s", name);
			ck_assert_int_eq(ais_client_put_cb(C, "test", name,
							   g.size,
							   ais_test_gen_read,
							   &g, NULL, NULL, msg),
					 0);
			found++;
		}
	}
	ck_assert_int_eq(found, 3);
	ais_map_free(m);
}

/* Every node answers a GET with the right bytes, and a raw PING. */
static void still_serving(const char *after)
{
	for (int i = 0; i < 3; i++) {
		struct ais_test_verify v;
		char msg[AIS_ERRMSG_LEN] = "";
		int rc;

		ais_test_verify_init(&v, (uint64_t)i, 0);
		rc = ais_client_get_cb(C, "test", alive[i], 0, 0,
				       ais_test_verify_write, &v, NULL, msg);
		ck_assert_msg(rc == 0, "after %s: GET from node %d: %d %s",
			      after, i, rc, msg);
		ck_assert_uint_eq(v.got, 300000);
		ck_assert_int_lt(v.bad_at, 0);
		ck_assert_msg(ais_test_node_pid(&tc, i) > 0 &&
				  kill(ais_test_node_pid(&tc, i), 0) == 0,
			      "after %s: node %d is gone", after, i);
	}
}

/* A raw PING on fd answers status 0. */
static void ping_ok(int fd, const char *what)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp = NULL;
	int rc;

	req.op = AIS__OP__OP_PING;
	ck_assert_int_eq(ais_test_send_req(fd, 7, &req, NULL, 0), 0);
	rc = ais_test_recv_resp(fd, &resp, NULL);
	ck_assert_msg(rc == 0, "%s: PING on the same connection: %d", what, rc);
	ck_assert_int_eq(resp->status, 0);
	ck_assert_uint_gt(resp->map_version, 0);
	ais__response__free_unpacked(resp, NULL);
}

static void send_raw(int fd, const void *buf, size_t len)
{
	/* The node may close while we send: that is fine. */
	(void)ais_test_write_all(fd, buf, len);
}

static void encode(uint8_t *b, uint32_t magic, uint16_t version, uint16_t flags,
		   uint32_t head_len, uint64_t body_len)
{
	struct ais_frame_hdr h = {magic, version, flags, 1, head_len, body_len};

	ais_frame_hdr_encode(&h, b);
}

/* Sends bytes to every node; each must close that connection. */
static void expect_close_all(const uint8_t *bytes, size_t len, const char *what)
{
	for (int i = 0; i < 3; i++) {
		int fd = ais_test_connect(ais_test_node_port(&tc, i));

		ck_assert_int_ge(fd, 0);
		send_raw(fd, bytes, len);
		ck_assert_msg(ais_test_wait_closed(fd, 10000),
			      "%s: node %d kept the connection open", what, i);
		ais_test_close(fd);
	}
	still_serving(what);
}

START_TEST(test_setup)
{
	make_alive_objects();
	still_serving("setup");
}
END_TEST

START_TEST(test_bad_magic)
{
	uint8_t b[AIS_FRAME_HDR_LEN + 16] = {0};

	encode(b, 0x50545448u /* "HTTP" */, 1, 0, 16, 0);
	expect_close_all(b, sizeof(b), "bad magic");
	memcpy(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 24);
	expect_close_all(b, 24, "an HTTP request");
}
END_TEST

START_TEST(test_bad_version_flags)
{
	uint8_t b[AIS_FRAME_HDR_LEN + 4] = {0};

	encode(b, AIS_FRAME_MAGIC, 9, 0, 4, 0);
	expect_close_all(b, sizeof(b), "version 9");
	encode(b, AIS_FRAME_MAGIC, 1, 0x4000, 4, 0);
	expect_close_all(b, sizeof(b), "unknown flag");
}
END_TEST

START_TEST(test_head_len)
{
	uint8_t b[AIS_FRAME_HDR_LEN];

	encode(b, AIS_FRAME_MAGIC, 1, 0, 0, 0);
	expect_close_all(b, sizeof(b), "head_len 0");
	/* 2 MiB announced: refused from the header alone. */
	encode(b, AIS_FRAME_MAGIC, 1, 0, 2u << 20, 0);
	expect_close_all(b, sizeof(b), "head_len 2 MiB");
	encode(b, AIS_FRAME_MAGIC, 1, 0, UINT32_MAX, UINT64_MAX);
	expect_close_all(b, sizeof(b), "head_len 4 GiB");
}
END_TEST

START_TEST(test_truncated)
{
	uint8_t b[AIS_FRAME_HDR_LEN];

	encode(b, AIS_FRAME_MAGIC, 1, 0, 10, 0);
	for (int i = 0; i < 3; i++) {
		/* Half a header, then close. */
		int fd = ais_test_connect(ais_test_node_port(&tc, i));

		ck_assert_int_ge(fd, 0);
		send_raw(fd, b, 10);
		ais_test_close(fd);
		/* A header announcing a head that never comes, then close. */
		fd = ais_test_connect(ais_test_node_port(&tc, i));
		ck_assert_int_ge(fd, 0);
		send_raw(fd, b, sizeof(b));
		send_raw(fd, "\x08", 1);
		ais_test_close(fd);
	}
	still_serving("truncated frames");

	/* A half-sent header left hanging does not stall anyone else. */
	int hang = ais_test_connect(ais_test_node_port(&tc, 0));
	ck_assert_int_ge(hang, 0);
	send_raw(hang, b, 7);
	still_serving("a hanging half header");
	ais_test_close(hang);
}
END_TEST

START_TEST(test_garbage_protobuf)
{
	uint8_t b[AIS_FRAME_HDR_LEN + 64];

	/* 0xff...: field numbers with the invalid wire type 7. */
	encode(b, AIS_FRAME_MAGIC, 1, 0, 64, 0);
	memset(b + AIS_FRAME_HDR_LEN, 0xff, 64);
	for (int i = 0; i < 3; i++) {
		int fd = ais_test_connect(ais_test_node_port(&tc, i));
		Ais__Response *resp = NULL;
		int rc;

		ck_assert_int_ge(fd, 0);
		send_raw(fd, b, sizeof(b));
		/* Either an error answer or a closed connection; never
		 * success. */
		rc = ais_test_recv_resp(fd, &resp, NULL);
		if (rc == 0) {
			ck_assert_int_lt(resp->status, 0);
			ais__response__free_unpacked(resp, NULL);
		} else {
			ck_assert_msg(rc == -ECONNRESET,
				      "garbage protobuf: node %d: %d", i, rc);
		}
		ais_test_close(fd);
	}
	still_serving("garbage protobuf");
}
END_TEST

START_TEST(test_random_bytes)
{
	unsigned seed = 4711;

	for (int round = 0; round < 5; round++) {
		static uint8_t b[65536];

		for (size_t k = 0; k < sizeof(b); k++)
			b[k] = (uint8_t)rand_r(&seed);
		expect_close_all(b, sizeof(b), "random bytes");
	}
	/* Random bytes behind a valid magic. */
	{
		uint8_t b[4096];

		for (size_t k = 0; k < sizeof(b); k++)
			b[k] = (uint8_t)rand_r(&seed);
		memcpy(b, "AIS1", 4);
		b[4] = 1;
		b[5] = 0;
		for (int i = 0; i < 3; i++) {
			int fd = ais_test_connect(ais_test_node_port(&tc, i));

			ck_assert_int_ge(fd, 0);
			send_raw(fd, b, sizeof(b));
			ais_test_wait_closed(fd, 3000);
			ais_test_close(fd);
		}
		still_serving("random bytes after a valid magic");
	}
}
END_TEST

START_TEST(test_body_on_head)
{
	for (int i = 0; i < 3; i++) {
		Ais__Request req = AIS__REQUEST__INIT;
		Ais__Response *resp = NULL;
		int fd = ais_test_connect(ais_test_node_port(&tc, i));
		int rc;

		ck_assert_int_ge(fd, 0);
		req.op = AIS__OP__OP_HEAD;
		req.bucket = (char *)"test";
		req.name = alive[i];
		ck_assert_int_eq(
		    ais_test_send_req(fd, 3, &req, "0123456789", 10), 0);
		rc = ais_test_recv_resp(fd, &resp, NULL);
		if (rc == 0) {
			ck_assert_msg(resp->status < 0,
				      "HEAD with a body answered %d",
				      resp->status);
			ais__response__free_unpacked(resp, NULL);
		} else {
			ck_assert_int_eq(rc, -ECONNRESET);
		}
		ais_test_close(fd);
	}
	still_serving("a body on a HEAD");
}
END_TEST

START_TEST(test_unknown_op)
{
	for (int i = 0; i < 3; i++) {
		Ais__Request req = AIS__REQUEST__INIT;
		Ais__Response *resp = NULL;
		int fd = ais_test_connect(ais_test_node_port(&tc, i));

		ck_assert_int_ge(fd, 0);
		req.op = (Ais__Op)99;
		ck_assert_int_eq(ais_test_send_req(fd, 3, &req, NULL, 0), 0);
		ck_assert_int_eq(ais_test_recv_resp(fd, &resp, NULL), 0);
		ck_assert_int_eq(resp->status, -EOPNOTSUPP);
		ck_assert_uint_gt(resp->map_version, 0);
		ais__response__free_unpacked(resp, NULL);
		ping_ok(fd, "unknown op");
		ais_test_close(fd);
	}
}
END_TEST

/* A request for bucket/name (name of nlen bytes; may hold NUL) of op with
 * body_len bytes, sent raw to node i; returns the status, or 1 if the node
 * closed the connection instead of answering. *keep tells whether the
 * connection still works (a PING answered). */
static int raw_named(int i, Ais__Op op, const char *bucket, const char *name,
		     size_t nlen, uint64_t body_len, bool *kept)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp = NULL;
	char *tmpname = malloc(nlen + 1);
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = ais_test_connect(ais_test_node_port(&tc, i));
	int rc, status;

	ck_assert_int_ge(fd, 0);
	/* protobuf-c takes C strings: pack with 'X' for NUL, then patch. */
	for (size_t k = 0; k < nlen; k++)
		tmpname[k] = name[k] ? name[k] : 'X';
	tmpname[nlen] = '\0';
	req.op = op;
	req.bucket = (char *)bucket;
	req.name = tmpname;
	ais_test_add_token(&req);
	ck_assert_int_eq(ais_frame_pack(5, 0, &req.base, body_len, &buf, &len),
			 0);
	if (nlen > 0) {
		uint8_t *p = memmem(buf + AIS_FRAME_HDR_LEN,
				    len - AIS_FRAME_HDR_LEN, tmpname, nlen);
		ck_assert_ptr_nonnull(p);
		memcpy(p, name, nlen);
	}
	send_raw(fd, buf, len);
	free(buf);
	free(tmpname);
	if (body_len > 0) {
		char *zeros = calloc(1, body_len);

		send_raw(fd, zeros, body_len);
		free(zeros);
	}
	rc = ais_test_recv_resp(fd, &resp, NULL);
	if (rc < 0) {
		ck_assert_int_eq(rc, -ECONNRESET);
		ais_test_close(fd);
		*kept = false;
		return 1;
	}
	status = resp->status;
	ck_assert_msg(status == 0 || (resp->message && resp->message[0]),
		      "error %d without a message", status);
	ais__response__free_unpacked(resp, NULL);
	*kept = false;
	if (body_len == 0 && op != AIS__OP__OP_PUT) {
		/* A bad name is not a framing error: the connection stays
		 * (a rejected PUT may be closed: its body could follow). */
		ping_ok(fd, "a hostile name");
		*kept = true;
	}
	ais_test_close(fd);
	return status;
}

START_TEST(test_hostile_names)
{
	struct {
		const char *name;
		size_t len;
	} bad[] = {
	    {"..", 2},		 {"a/../b", 6}, {"../../etc/passwd", 16},
	    {"a//b", 4},	 {"/abs", 4},	{"trail/", 6},
	    {"a\0b", 3},	 {"", 0},	{".", 1},
	    {"bad\xff utf8", 9},
	};
	static const Ais__Op ops[] = {AIS__OP__OP_GET, AIS__OP__OP_HEAD,
				      AIS__OP__OP_PUT, AIS__OP__OP_DELETE};
	char longname[1026];
	bool kept;

	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
		for (size_t o = 0; o < 4; o++) {
			for (int i = 0; i < 3; i++) {
				int st =
				    raw_named(i, ops[o], "test", bad[b].name,
					      bad[b].len, 0, &kept);

				ck_assert_msg(st == -EINVAL,
					      "op %d name #%zu on node %d: "
					      "status %d, want -EINVAL",
					      ops[o], b, i, st);
			}
		}
	}
	memset(longname, 'L', 1025);
	longname[1025] = '\0';
	for (int i = 0; i < 3; i++) {
		int st = raw_named(i, AIS__OP__OP_GET, "test", longname, 1025,
				   0, &kept);
		ck_assert_msg(st == -ENAMETOOLONG || st == -EINVAL,
			      "1025-byte name: %d", st);
		st = raw_named(i, AIS__OP__OP_GET, "../test", "x", 1, 0, &kept);
		ck_assert_msg(st == -EINVAL, "bucket ../test: %d", st);
		/* A PUT with a body and a bad name: an answer, or a close
		 * after it; nothing is written. */
		st = raw_named(i, AIS__OP__OP_PUT, "test", "../escape", 9,
			       100000, &kept);
		ck_assert_msg(st == -EINVAL || st == 1, "PUT ../escape: %d",
			      st);
	}
	still_serving("hostile names");
}
END_TEST

static int found_escape;

static int find_escape(const char *path, const struct stat *sb, int type,
		       struct FTW *ftw)
{
	(void)sb;
	(void)type;
	if (strcmp(path + ftw->base, "escape") == 0 ||
	    strcmp(path + ftw->base, "passwd") == 0)
		found_escape = 1;
	return 0;
}

START_TEST(test_nothing_escaped)
{
	found_escape = 0;
	nftw(tc.dir, find_escape, 32, FTW_PHYS);
	ck_assert_msg(!found_escape, "a hostile name was written to disk");
}
END_TEST

/* Reads the answer to GET id on fd: status 0 and exactly size bytes of
 * stream seed. */
static void read_get_answer(int fd, uint32_t id, uint64_t seed, uint64_t size)
{
	static uint8_t buf[65536], want[65536];
	uint8_t hb[AIS_FRAME_HDR_LEN], *head;
	char msg[AIS_ERRMSG_LEN];
	struct ais_frame_hdr h;
	Ais__Response *resp;

	ck_assert_int_eq(ais_test_read_all(fd, hb, sizeof(hb)), 0);
	ck_assert_int_eq(ais_frame_hdr_decode(hb, &h, msg), 0);
	ck_assert_uint_eq(h.request_id, id);
	head = malloc(h.head_len);
	ck_assert_ptr_nonnull(head);
	ck_assert_int_eq(ais_test_read_all(fd, head, h.head_len), 0);
	resp = ais__response__unpack(NULL, h.head_len, head);
	free(head);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(resp->status, 0);
	ais__response__free_unpacked(resp, NULL);
	ck_assert_uint_eq(h.body_len, size);
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off)
						    : sizeof(buf);

		ck_assert_int_eq(ais_test_read_all(fd, buf, n), 0);
		ais_test_fill(seed, off, want, n);
		ck_assert_msg(memcmp(buf, want, n) == 0,
			      "GET answer %u: bytes differ near offset %llu",
			      id, (unsigned long long)off);
		off += n;
	}
}

/* Pipelined GETs of a cached object that the client does not read: the
 * node fills the socket without waiting on its event loop (the rest goes
 * out from a worker), serves everyone else meanwhile, and every answer
 * then arrives whole and in order on a connection that still works. */
START_TEST(test_unread_pipelined_gets)
{
	enum { CONNS = 2, GETS = 24 };
	int fds[3][CONNS];

	still_serving("before pipelining"); /* the objects are cached now */
	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < CONNS; k++) {
			Ais__Request req = AIS__REQUEST__INIT;

			fds[i][k] =
			    ais_test_connect(ais_test_node_port(&tc, i));
			ck_assert_int_ge(fds[i][k], 0);
			req.op = AIS__OP__OP_GET;
			req.bucket = (char *)"test";
			req.name = alive[i];
			for (uint32_t g = 1; g <= GETS; g++)
				ck_assert_int_eq(ais_test_send_req(fds[i][k], g,
								   &req, NULL,
								   0),
						 0);
		}
	}
	still_serving("unread pipelined GETs");
	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < CONNS; k++) {
			for (uint32_t g = 1; g <= GETS; g++)
				read_get_answer(fds[i][k], g, (uint64_t)i,
						300000);
			ping_ok(fds[i][k], "after pipelined GETs");
			ais_test_close(fds[i][k]);
		}
	}
	still_serving("pipelined GETs");
}
END_TEST

START_TEST(test_idle_connections)
{
	enum { N = 1000 };
	static int fds[N];
	struct rlimit rl;
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_test_gen g = {.seed = 77, .size = 1u << 20};
	struct ais_test_verify v;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < N + 200) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* 1,000 connections to node 0, then more to the others. */
	for (int k = 0; k < N; k++) {
		int node = k % 10 == 0 ? 1 : k % 10 == 5 ? 2 : 0;

		fds[k] = ais_test_connect(ais_test_node_port(&tc, node));
		ck_assert_msg(fds[k] >= 0, "connection %d: %s", k,
			      strerror(-fds[k]));
	}
	still_serving("1,000 idle connections");
	ck_assert_int_eq(ais_client_put_cb(C, "test", "while-idle", g.size,
					   ais_test_gen_read, &g, NULL, NULL,
					   msg),
			 0);
	ais_test_verify_init(&v, 77, 0);
	ck_assert_int_eq(ais_client_get_cb(C, "test", "while-idle", 0, 0,
					   ais_test_verify_write, &v, NULL,
					   msg),
			 0);
	ck_assert_int_lt(v.bad_at, 0);
	/* The idle connections themselves still work. */
	for (int k = 0; k < N; k += 97)
		ping_ok(fds[k], "an idle connection");
	for (int k = 0; k < N; k++)
		ais_test_close(fds[k]);
	still_serving("closing 1,000 connections");
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *t = tcase_create("hostile");

	tcase_add_test(t, test_setup);
	tcase_add_test(t, test_bad_magic);
	tcase_add_test(t, test_bad_version_flags);
	tcase_add_test(t, test_head_len);
	tcase_add_test(t, test_truncated);
	tcase_add_test(t, test_garbage_protobuf);
	tcase_add_test(t, test_random_bytes);
	tcase_add_test(t, test_body_on_head);
	tcase_add_test(t, test_unknown_op);
	tcase_add_test(t, test_hostile_names);
	tcase_add_test(t, test_nothing_escaped);
	tcase_add_test(t, test_unread_pipelined_gets);
	tcase_add_test(t, test_idle_connections);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return ais_test_main(&tc, "hostile", 3, hostile_suite());
}
