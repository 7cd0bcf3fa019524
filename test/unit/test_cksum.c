/* Unit tests of lib/core/cksum.c: known vectors, streaming equals one-shot,
 * independent references (libxxhash, OpenSSL, a bitwise CRC32C), names. */
#include <check.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cksum.h"
#include "xxh3_fast.h"

static void expect_buf(int type, const char *s, const char *want)
{
	char hex[AIS_CKSUM_HEX_MAX];

	memset(hex, 'q', sizeof(hex));
	ck_assert_int_eq(ais_cksum_buf(type, s, strlen(s), hex), 0);
	ck_assert_msg(strcmp(hex, want) == 0, "%s(\"%s\") = %s, want %s",
		      ais_cksum_name(type), s, hex, want);
}

START_TEST(test_vectors)
{
	/* XXH3-64: xxhsum -H3 (0.8.1). */
	expect_buf(AIS_CKSUM_XXH3, "", "2d06800538d394c2");
	expect_buf(AIS_CKSUM_XXH3, "abc", "78af5f94892f3950");
	expect_buf(AIS_CKSUM_XXH3, "123456789", "72dcb18b67a17dff");
	expect_buf(
	    AIS_CKSUM_SHA256, "123456789",
	    "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225");
	expect_buf(
	    AIS_CKSUM_SHA256, "",
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_buf(AIS_CKSUM_MD5, "123456789",
		   "25f9e794323b453885f5181f1b624d0b");
	expect_buf(AIS_CKSUM_MD5, "", "d41d8cd98f00b204e9800998ecf8427e");
	expect_buf(AIS_CKSUM_CRC32C, "123456789", "e3069283");
	expect_buf(AIS_CKSUM_CRC32C, "", "00000000");
	expect_buf(AIS_CKSUM_NONE, "123456789", "");
}
END_TEST

/* Bitwise CRC32C (Castagnoli, reflected 0x82F63B78). */
static uint32_t ref_crc32c(const unsigned char *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void ref_hex(int type, const unsigned char *p, size_t n, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	switch (type) {
	case AIS_CKSUM_XXH3:
		snprintf(hex, AIS_CKSUM_HEX_MAX, "%016llx",
			 (unsigned long long)XXH3_64bits(p, n));
		return;
	case AIS_CKSUM_CRC32C:
		snprintf(hex, AIS_CKSUM_HEX_MAX, "%08x", ref_crc32c(p, n));
		return;
	case AIS_CKSUM_SHA256:
		EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
		break;
	case AIS_CKSUM_MD5:
		EVP_Digest(p, n, md, &mdlen, EVP_md5(), NULL);
		break;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

static const int all_types[] = {AIS_CKSUM_XXH3, AIS_CKSUM_SHA256, AIS_CKSUM_MD5,
				AIS_CKSUM_CRC32C};

START_TEST(test_against_reference)
{
	/* Random lengths and contents, including values whose hex starts with
	 * zeros (the digest must keep its full width). */
	unsigned seed = 7;
	unsigned char *buf = malloc(70000);

	for (size_t i = 0; i < 70000; i++)
		buf[i] = (unsigned char)rand_r(&seed);
	for (int iter = 0; iter < 300; iter++) {
		size_t len =
		    iter < 100 ? (size_t)iter : (size_t)rand_r(&seed) % 70000;
		for (size_t t = 0; t < 4; t++) {
			char got[AIS_CKSUM_HEX_MAX], want[AIS_CKSUM_HEX_MAX];

			ck_assert_int_eq(
			    ais_cksum_buf(all_types[t], buf, len, got), 0);
			ref_hex(all_types[t], buf, len, want);
			ck_assert_msg(strcmp(got, want) == 0,
				      "%s of %zu bytes: %s, want %s",
				      ais_cksum_name(all_types[t]), len, got,
				      want);
		}
	}
	free(buf);
}
END_TEST

START_TEST(test_streaming)
{
	/* Updating in pieces of any size equals one-shot. */
	const size_t len = 3u << 20;
	unsigned seed = 99;
	unsigned char *buf = malloc(len);

	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)rand_r(&seed);
	for (size_t t = 0; t < 4; t++) {
		char one[AIS_CKSUM_HEX_MAX], pieces[AIS_CKSUM_HEX_MAX];
		struct ais_cksum c;
		size_t off = 0;

		ck_assert_int_eq(ais_cksum_buf(all_types[t], buf, len, one), 0);

		ck_assert_int_eq(ais_cksum_init(&c, all_types[t]), 0);
		while (off < len) {
			size_t n = (size_t)rand_r(&seed) % 70000;
			if (n > len - off)
				n = len - off;
			ais_cksum_update(&c, buf + off, n); /* n may be 0 */
			off += n;
		}
		ais_cksum_final(&c, pieces);
		ck_assert_str_eq(pieces, one);

		/* Byte by byte over a shorter prefix. */
		ck_assert_int_eq(ais_cksum_init(&c, all_types[t]), 0);
		for (size_t i = 0; i < 5000; i++)
			ais_cksum_update(&c, buf + i, 1);
		ais_cksum_final(&c, pieces);
		ck_assert_int_eq(ais_cksum_buf(all_types[t], buf, 5000, one),
				 0);
		ck_assert_str_eq(pieces, one);
		/* abort after final is safe */
		ais_cksum_abort(&c);
	}
	free(buf);
}
END_TEST

/* ais_xxh3 (AVX2 where the CPU has it) gives libxxhash's values, one-shot
 * and streamed in uneven pieces, across XXH3's length classes. */
START_TEST(test_xxh3_fast)
{
	static const size_t lens[] = {
	    0,	 1,    3,    16,    17,	   128,	  129,	   240,
	    241, 1024, 4096, 65535, 65536, 65537, 1 << 20, (1 << 20) + 7};
	size_t max = (1 << 20) + 7;
	unsigned char *b = malloc(max);

	ck_assert_ptr_nonnull(b);
	fprintf(stderr, "ais_xxh3 runs %s\n", ais_xxh3_impl());
#if defined(__x86_64__)
	/* Built with the AVX2 file on x86-64: a CPU with AVX2 runs it (else
	 * this test compares libxxhash with itself). */
	if (__builtin_cpu_supports("avx2"))
		ck_assert_str_eq(ais_xxh3_impl(), "avx2");
#endif
	for (size_t i = 0; i < max; i++)
		b[i] = (unsigned char)(i * 131 + (i >> 9));
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t len = lens[k], off = 0, step = 1;
		XXH3_state_t *st = XXH3_createState();

		ck_assert_uint_eq(ais_xxh3(b, len), XXH3_64bits(b, len));
		/* Unaligned too. */
		if (len + 3 <= max)
			ck_assert_uint_eq(ais_xxh3(b + 3, len),
					  XXH3_64bits(b + 3, len));
		XXH3_64bits_reset(st);
		while (off < len) {
			size_t take = len - off < step ? len - off : step;

			ais_xxh3_update(st, b + off, take);
			off += take;
			step = step * 3 + 1;
		}
		ck_assert_uint_eq(XXH3_64bits_digest(st), XXH3_64bits(b, len));
		XXH3_freeState(st);
	}
	free(b);
}
END_TEST

START_TEST(test_abort)
{
	/* An aborted checksum frees its state (ASan/valgrind see leaks). */
	for (size_t t = 0; t < 4; t++) {
		struct ais_cksum c;

		ck_assert_int_eq(ais_cksum_init(&c, all_types[t]), 0);
		ais_cksum_update(&c, "abc", 3);
		ais_cksum_abort(&c);
	}
}
END_TEST

START_TEST(test_none_and_unknown)
{
	struct ais_cksum c;
	char hex[AIS_CKSUM_HEX_MAX] = "junk";

	ck_assert_int_eq(ais_cksum_init(&c, AIS_CKSUM_NONE), 0);
	ais_cksum_update(&c, "abc", 3);
	ais_cksum_final(&c, hex);
	ck_assert_str_eq(hex, "");
	ck_assert_int_eq(ais_cksum_init(&c, 99), -EINVAL);
	ck_assert_int_eq(ais_cksum_init(&c, -1), -EINVAL);
	ck_assert_int_eq(ais_cksum_buf(5, "a", 1, hex), -EINVAL);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_int_eq(ais_cksum_parse("xxh3"), AIS_CKSUM_XXH3);
	ck_assert_int_eq(ais_cksum_parse("xxhash"), AIS_CKSUM_XXH3);
	ck_assert_int_eq(ais_cksum_parse("sha256"), AIS_CKSUM_SHA256);
	ck_assert_int_eq(ais_cksum_parse("md5"), AIS_CKSUM_MD5);
	ck_assert_int_eq(ais_cksum_parse("crc32c"), AIS_CKSUM_CRC32C);
	ck_assert_int_eq(ais_cksum_parse("none"), AIS_CKSUM_NONE);
	ck_assert_int_eq(ais_cksum_parse("sha1"), -EINVAL);
	ck_assert_int_eq(ais_cksum_parse(""), -EINVAL);
	for (int t = AIS_CKSUM_NONE; t <= AIS_CKSUM_CRC32C; t++) {
		const char *n = ais_cksum_name(t);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(ais_cksum_parse(n), t);
	}
}
END_TEST

static Suite *cksum_suite(void)
{
	Suite *s = suite_create("cksum");
	TCase *tc = tcase_create("cksum");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_against_reference);
	tcase_add_test(tc, test_streaming);
	tcase_add_test(tc, test_abort);
	tcase_add_test(tc, test_xxh3_fast);
	tcase_add_test(tc, test_none_and_unknown);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cksum_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
