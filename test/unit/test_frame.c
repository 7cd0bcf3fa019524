/* Unit tests of lib/wire/frame.c: header encode/decode, every rejection, pack.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ais.pb-c.h"
#include "conn.h"
#include "frame.h"
#include "util.h"

static struct ais_frame_hdr good_hdr(void)
{
	struct ais_frame_hdr h = {
	    .magic = AIS_FRAME_MAGIC,
	    .version = AIS_FRAME_VERSION,
	    .flags = 0,
	    .request_id = 0xdeadbeef,
	    .head_len = 77,
	    .body_len = 0x0000012345678901ull,
	};
	return h;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

START_TEST(test_encode_layout)
{
	struct ais_frame_hdr h = good_hdr();
	uint8_t b[AIS_FRAME_HDR_LEN];

	h.flags = AIS_FRAME_FLAG_LZ4;
	ais_frame_hdr_encode(&h, b);
	ck_assert_int_eq(memcmp(b, "AIS1", 4), 0);
	ck_assert_uint_eq(b[4] | b[5] << 8, AIS_FRAME_VERSION);
	ck_assert_uint_eq(b[6] | b[7] << 8, AIS_FRAME_FLAG_LZ4);
	ck_assert_uint_eq(le32(b + 8), 0xdeadbeef);
	ck_assert_uint_eq(le32(b + 12), 77);
	ck_assert_uint_eq(le32(b + 16), 0x45678901u);
	ck_assert_uint_eq(le32(b + 20), 0x123u);
}
END_TEST

START_TEST(test_round_trip)
{
	static const uint64_t bodies[] = {0, 1, 4096, 1ull << 32,
					  AIS_FRAME_BODY_MAX};
	static const uint32_t heads[] = {1, 2, 1000, AIS_FRAME_HEAD_MAX};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		for (size_t j = 0; j < sizeof(heads) / sizeof(heads[0]); j++) {
			struct ais_frame_hdr h = good_hdr(), d;
			uint8_t b[AIS_FRAME_HDR_LEN];
			char msg[AIS_ERRMSG_LEN] = "";

			h.body_len = bodies[i];
			h.head_len = heads[j];
			h.request_id = (uint32_t)(i * 31 + j);
			h.flags = (i & 1) ? AIS_FRAME_FLAG_LZ4 : 0;
			ais_frame_hdr_encode(&h, b);
			memset(&d, 0xa5, sizeof(d));
			ck_assert_msg(ais_frame_hdr_decode(b, &d, msg) == 0,
				      "decode failed: %s", msg);
			ck_assert_uint_eq(d.magic, h.magic);
			ck_assert_uint_eq(d.version, h.version);
			ck_assert_uint_eq(d.flags, h.flags);
			ck_assert_uint_eq(d.request_id, h.request_id);
			ck_assert_uint_eq(d.head_len, h.head_len);
			ck_assert_uint_eq(d.body_len, h.body_len);
		}
	}
}
END_TEST

/* Encodes h, decodes it, expects -EPROTO and a reason. */
static void expect_reject(struct ais_frame_hdr h, const char *what)
{
	uint8_t b[AIS_FRAME_HDR_LEN];
	struct ais_frame_hdr d;
	char msg[AIS_ERRMSG_LEN] = "";
	int rc;

	ais_frame_hdr_encode(&h, b);
	rc = ais_frame_hdr_decode(b, &d, msg);
	ck_assert_msg(rc == -EPROTO, "%s: decode = %d, want -EPROTO", what, rc);
	ck_assert_msg(msg[0] != '\0', "%s: no reason in errmsg", what);
	/* A NULL errmsg is allowed too. */
	ck_assert_int_eq(ais_frame_hdr_decode(b, &d, NULL), -EPROTO);
}

START_TEST(test_reject)
{
	struct ais_frame_hdr h;

	h = good_hdr();
	h.magic = 0x32534941u; /* "AIS2" */
	expect_reject(h, "bad magic");
	h = good_hdr();
	h.magic = 0;
	expect_reject(h, "zero magic");
	h = good_hdr();
	h.version = 0;
	expect_reject(h, "version 0");
	h = good_hdr();
	h.version = AIS_FRAME_VERSION + 1;
	expect_reject(h, "version 2");
	h = good_hdr();
	h.flags = 0x0002;
	expect_reject(h, "unknown flag 0x2");
	h = good_hdr();
	h.flags = 0x8000 | AIS_FRAME_FLAG_LZ4;
	expect_reject(h, "unknown flag 0x8000");
	h = good_hdr();
	h.head_len = 0;
	expect_reject(h, "head_len 0");
	h = good_hdr();
	h.head_len = AIS_FRAME_HEAD_MAX + 1;
	expect_reject(h, "head_len 1 MiB + 1");
	h = good_hdr();
	h.head_len = 2u << 20;
	expect_reject(h, "head_len 2 MiB");
	h = good_hdr();
	h.head_len = UINT32_MAX;
	expect_reject(h, "head_len 4 GiB");
	h = good_hdr();
	h.body_len = AIS_FRAME_BODY_MAX + 1;
	expect_reject(h, "body too large");
	h = good_hdr();
	h.body_len = UINT64_MAX;
	expect_reject(h, "body UINT64_MAX");
}
END_TEST

START_TEST(test_reject_garbage)
{
	/* Random bytes are practically never a valid header. */
	unsigned seed = 12345;
	int accepted = 0;

	for (int i = 0; i < 10000; i++) {
		uint8_t b[AIS_FRAME_HDR_LEN];
		struct ais_frame_hdr d;

		for (size_t k = 0; k < sizeof(b); k++)
			b[k] = (uint8_t)rand_r(&seed);
		if (ais_frame_hdr_decode(b, &d, NULL) == 0)
			accepted++;
	}
	ck_assert_int_eq(accepted, 0);
}
END_TEST

START_TEST(test_pack)
{
	Ais__Request req = AIS__REQUEST__INIT;
	uint8_t *out = NULL;
	size_t outlen = 0;
	struct ais_frame_hdr d;
	char msg[AIS_ERRMSG_LEN] = "";
	Ais__Request *back;

	req.op = AIS__OP__OP_PUT;
	req.bucket = (char *)"bkt";
	req.name = (char *)"dir/obj name ü";
	req.offset = 99;
	req.cksum_type = AIS__CKSUM_TYPE__CKSUM_SHA256;
	ck_assert_int_eq(
	    ais_frame_pack(42, 0, &req.base, 123456789012ull, &out, &outlen),
	    0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(outlen, AIS_FRAME_HDR_LEN +
				      ais__request__get_packed_size(&req));
	ck_assert_msg(ais_frame_hdr_decode(out, &d, msg) == 0, "%s", msg);
	ck_assert_uint_eq(d.request_id, 42);
	ck_assert_uint_eq(d.flags, 0);
	ck_assert_uint_eq(d.head_len, outlen - AIS_FRAME_HDR_LEN);
	ck_assert_uint_eq(d.body_len, 123456789012ull);
	back = ais__request__unpack(NULL, d.head_len, out + AIS_FRAME_HDR_LEN);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(back->op, AIS__OP__OP_PUT);
	ck_assert_str_eq(back->bucket, "bkt");
	ck_assert_str_eq(back->name, "dir/obj name ü");
	ck_assert_uint_eq(back->offset, 99);
	ck_assert_int_eq(back->cksum_type, AIS__CKSUM_TYPE__CKSUM_SHA256);
	ais__request__free_unpacked(back, NULL);
	free(out);
}
END_TEST

START_TEST(test_pack_empty_message)
{
	/* An all-default Response packs to 0 bytes of protobuf, but head_len 0
	 * is malformed: pack must either refuse it or produce a frame that
	 * decodes, never a frame the other side will drop. */
	Ais__Response resp = AIS__RESPONSE__INIT;
	uint8_t *out = NULL;
	size_t outlen = 0;
	struct ais_frame_hdr d;
	char msg[AIS_ERRMSG_LEN] = "";
	Ais__Response *back;
	int rc = ais_frame_pack(1, 0, &resp.base, 0, &out, &outlen);

	if (rc != 0) {
		ck_assert_int_lt(rc, 0);
		return;
	}
	ck_assert_msg(ais_frame_hdr_decode(out, &d, msg) == 0,
		      "pack produced an undecodable frame: %s", msg);
	ck_assert_uint_eq(d.head_len, outlen - AIS_FRAME_HDR_LEN);
	back = ais__response__unpack(NULL, d.head_len, out + AIS_FRAME_HDR_LEN);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(back->status, 0);
	ais__response__free_unpacked(back, NULL);
	free(out);
}
END_TEST

START_TEST(test_pack_too_big)
{
	/* A head over 1 MiB cannot be framed. */
	Ais__Response resp = AIS__RESPONSE__INIT;
	uint8_t *out = NULL;
	size_t outlen = 0;
	char *big = malloc(AIS_FRAME_HEAD_MAX + 16);

	memset(big, 'x', AIS_FRAME_HEAD_MAX + 15);
	big[AIS_FRAME_HEAD_MAX + 15] = '\0';
	resp.message = big;
	ck_assert_int_eq(ais_frame_pack(1, 0, &resp.base, 0, &out, &outlen),
			 -EMSGSIZE);
	free(big);
}
END_TEST

/* sendfile(2) to a peer that has gone fails with EPIPE and, unlike send()
 * with MSG_NOSIGNAL, raises SIGPIPE; the library takes it, so a program
 * that keeps SIGPIPE's default (this one) is not killed, and nothing is
 * left pending or blocked. */
START_TEST(test_sendfile_closed_peer)
{
	FILE *f = tmpfile();
	char buf[4096];
	sigset_t pending, mask;
	int sv[2], rc;

	ck_assert_ptr_nonnull(f);
	memset(buf, 'a', sizeof(buf));
	ck_assert_uint_eq(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
	ck_assert_int_eq(fflush(f), 0);
	ck_assert_int_eq(signal(SIGPIPE, SIG_DFL) != SIG_ERR, 1);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	rc = ais_conn_sendfile(sv[0], fileno(f), 0, sizeof(buf), 1000, false,
			       NULL);
	ck_assert_int_eq(rc, -EPIPE);
	ck_assert_int_eq(sigpending(&pending), 0);
	ck_assert_int_eq(sigismember(&pending, SIGPIPE), 0);
	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &mask), 0);
	ck_assert_int_eq(sigismember(&mask, SIGPIPE), 0);
	close(sv[0]);
	fclose(f);
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("frame");

	tcase_add_test(tc, test_encode_layout);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_reject);
	tcase_add_test(tc, test_reject_garbage);
	tcase_add_test(tc, test_pack);
	tcase_add_test(tc, test_pack_empty_message);
	tcase_add_test(tc, test_pack_too_big);
	tcase_add_test(tc, test_sendfile_closed_peer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
