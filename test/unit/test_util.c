/* Unit tests of lib/core/util.c and fileio.c: sizes, host:port, errmsg, exact
 * I/O. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

static void check_size_ok(const char *s, uint64_t want)
{
	uint64_t got = 12345;
	int rc = ais_parse_size(s, &got);

	ck_assert_msg(rc == 0, "ais_parse_size(\"%s\") = %d, want 0", s, rc);
	ck_assert_msg(got == want, "ais_parse_size(\"%s\") = %llu, want %llu",
		      s, (unsigned long long)got, (unsigned long long)want);
}

static void check_size_bad(const char *s)
{
	uint64_t got = 0;
	int rc = ais_parse_size(s, &got);

	ck_assert_msg(rc == -EINVAL,
		      "ais_parse_size(\"%s\") = %d (%llu), want -EINVAL", s, rc,
		      (unsigned long long)got);
}

START_TEST(test_parse_size)
{
	check_size_ok("0", 0);
	check_size_ok("123", 123);
	check_size_ok("4k", 4096);
	check_size_ok("4K", 4096);
	check_size_ok("4KiB", 4096);
	check_size_ok("4KB", 4096);
	check_size_ok("256MiB", 256ull << 20);
	check_size_ok("256M", 256ull << 20);
	check_size_ok("1.5GB", 3ull << 29);
	check_size_ok("2G", 2ull << 30);
	check_size_ok("1T", 1ull << 40);
	/* Plain digits are exact, also beyond 2^53 and up to UINT64_MAX. */
	check_size_ok("9007199254740993", 9007199254740993ull);
	check_size_ok("18446744073709551615", UINT64_MAX);
}
END_TEST

START_TEST(test_parse_size_bad)
{
	check_size_bad("");
	check_size_bad("abc");
	check_size_bad("k");
	check_size_bad("-1");
	check_size_bad("1X");
	check_size_bad("12 parsecs");
	check_size_bad("1.5.5");
	/* Overflow must be an error, not a wrapped value. */
	check_size_bad("18446744073709551616");
	check_size_bad("99999999999999T");
}
END_TEST

static void check_format(uint64_t n, const char *want)
{
	char buf[64];
	char *r = ais_format_size(n, buf, sizeof(buf));

	ck_assert_ptr_eq(r, buf);
	ck_assert_msg(strcmp(buf, want) == 0,
		      "ais_format_size(%llu) = \"%s\", want \"%s\"",
		      (unsigned long long)n, buf, want);
}

START_TEST(test_format_size)
{
	check_format(0, "0 B");
	check_format(1, "1 B");
	check_format(1023, "1023 B");
	check_format(1024, "1.0 KiB");
	check_format(1536, "1.5 KiB");
	check_format(1ull << 20, "1.0 MiB");
	check_format(12ull << 30, "12.0 GiB");
	check_format(3ull << 40, "3.0 TiB");
}
END_TEST

START_TEST(test_format_size_small_buffer)
{
	char buf[5];

	memset(buf, 'x', sizeof(buf));
	ais_format_size(12ull << 30, buf, sizeof(buf));
	ck_assert_msg(memchr(buf, '\0', sizeof(buf)) != NULL,
		      "result not NUL-terminated within the buffer");
}
END_TEST

START_TEST(test_format_parse_round_trip)
{
	/* What format prints for exact multiples, parse reads back. */
	static const uint64_t v[] = {1024, 3ull << 19, 1ull << 20, 5ull << 30,
				     7ull << 40};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char buf[64], num[64];
		uint64_t back;

		ais_format_size(v[i], buf, sizeof(buf));
		/* "1.0 KiB" -> "1.0KiB" */
		size_t k = 0;
		for (const char *p = buf; *p; p++)
			if (*p != ' ')
				num[k++] = *p;
		num[k] = '\0';
		ck_assert_int_eq(ais_parse_size(num, &back), 0);
		ck_assert_msg(back == v[i], "%s read back as %llu", buf,
			      (unsigned long long)back);
	}
}
END_TEST

static void check_hp_ok(const char *s, const char *host, uint16_t port)
{
	char h[256];
	uint16_t p = 0;
	int rc = ais_parse_hostport(s, h, sizeof(h), &p);

	ck_assert_msg(rc == 0, "ais_parse_hostport(\"%s\") = %d", s, rc);
	ck_assert_str_eq(h, host);
	ck_assert_uint_eq(p, port);
}

static void check_hp_bad(const char *s)
{
	char h[256];
	uint16_t p = 0;
	int rc = ais_parse_hostport(s, h, sizeof(h), &p);

	ck_assert_msg(rc == -EINVAL,
		      "ais_parse_hostport(\"%s\") = %d, want -EINVAL", s, rc);
}

START_TEST(test_hostport)
{
	check_hp_ok("127.0.0.1:51080", "127.0.0.1", 51080);
	check_hp_ok("localhost:1", "localhost", 1);
	check_hp_ok("node-7.example.com:65535", "node-7.example.com", 65535);
	check_hp_ok("[::1]:8080", "::1", 8080);
	check_hp_ok("[fe80::1]:51080", "fe80::1", 51080);
}
END_TEST

START_TEST(test_hostport_bad)
{
	check_hp_bad("");
	check_hp_bad("localhost");
	check_hp_bad(":80");
	check_hp_bad("host:");
	check_hp_bad("host:abc");
	check_hp_bad("host:65536");
	check_hp_bad("host:-1");
	check_hp_bad("host:80x");
	check_hp_bad("[::1]8080");
	check_hp_bad("[::1:8080");
}
END_TEST

START_TEST(test_hostport_small_buffer)
{
	char h[4];
	uint16_t p;

	ck_assert_int_eq(ais_parse_hostport("localhost:80", h, sizeof(h), &p),
			 -EINVAL);
	ck_assert_int_eq(ais_parse_hostport("abc:80", h, sizeof(h), &p), 0);
	ck_assert_str_eq(h, "abc");
}
END_TEST

START_TEST(test_errf)
{
	char msg[AIS_ERRMSG_LEN];
	char big[1000];

	ck_assert_int_eq(ais_errf(msg, -ENOENT, "no %s %d", "object", 7),
			 -ENOENT);
	ck_assert_str_eq(msg, "no object 7");
	ck_assert_int_eq(ais_errf(NULL, -EIO, "ignored %d", 1), -EIO);

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(ais_errf(msg, -EINVAL, "%s", big), -EINVAL);
	ck_assert_uint_eq(strlen(msg), AIS_ERRMSG_LEN - 1);
}
END_TEST

START_TEST(test_rw_all)
{
	int fds[2];
	char out[3000], in[3000];

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(ais_write_all(fds[1], out, sizeof(out)), 0);
	close(fds[1]);
	ck_assert_int_eq(ais_read_all(fds[0], in, sizeof(in)), 0);
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
	/* Nothing more in the pipe: an unexpected EOF is -EIO. */
	ck_assert_int_eq(ais_read_all(fds[0], in, 1), -EIO);
	close(fds[0]);

	/* Writing into a closed descriptor reports the errno. */
	ck_assert_int_eq(ais_write_all(fds[1], out, 1), -EBADF);
}
END_TEST

START_TEST(test_time)
{
	uint64_t a = ais_now_mono_ns();
	uint64_t b = ais_now_mono_ns();

	ck_assert(b >= a);
	/* Wall clock after 2020-01-01. */
	ck_assert(ais_now_real_ns() > 1577836800ll * 1000000000ll);
}
END_TEST

START_TEST(test_strv_free)
{
	char **v = calloc(3, sizeof(*v));

	v[0] = strdup("a");
	v[1] = strdup("b");
	ais_strv_free(v); /* ASan/valgrind would flag a leak or double free */
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_test(tc, test_parse_size);
	tcase_add_test(tc, test_parse_size_bad);
	tcase_add_test(tc, test_format_size);
	tcase_add_test(tc, test_format_size_small_buffer);
	tcase_add_test(tc, test_format_parse_round_trip);
	tcase_add_test(tc, test_hostport);
	tcase_add_test(tc, test_hostport_bad);
	tcase_add_test(tc, test_hostport_small_buffer);
	tcase_add_test(tc, test_errf);
	tcase_add_test(tc, test_rw_all);
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_strv_free);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
