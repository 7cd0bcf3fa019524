/* Unit tests of lib/core/names.c: bucket names, object names, prefixes, URIs.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "util.h"

static void bucket_ok(const char *b)
{
	char msg[AIS_ERRMSG_LEN] = "";
	int rc = ais_name_check_bucket(b, msg);

	ck_assert_msg(rc == 0, "bucket \"%s\" rejected (%d: %s)", b, rc, msg);
}

static void bucket_bad(const char *b)
{
	char msg[AIS_ERRMSG_LEN] = "";
	int rc = ais_name_check_bucket(b, msg);

	ck_assert_msg(rc == -EINVAL, "bucket \"%s\": %d, want -EINVAL", b, rc);
	ck_assert_msg(msg[0] != '\0', "bucket \"%s\": no reason given", b);
}

START_TEST(test_bucket)
{
	char b[AIS_BUCKET_MAX + 2];

	bucket_ok("b");
	bucket_ok("my-bucket_1.x");
	bucket_ok("ABC.def-9_");
	bucket_ok("0");
	memset(b, 'a', sizeof(b));
	b[AIS_BUCKET_MAX] = '\0';
	bucket_ok(b);
	b[AIS_BUCKET_MAX] = 'a';
	b[AIS_BUCKET_MAX + 1] = '\0';
	bucket_bad(b);

	bucket_bad("");
	bucket_bad(".x");
	bucket_bad(".");
	bucket_bad("..");
	bucket_bad("-x");
	bucket_bad("a/b");
	bucket_bad("a b");
	bucket_bad("a:b");
	bucket_bad("b\xc3\xbc"); /* "bü" */
	bucket_bad("ais://b");
}
END_TEST

static void obj_ok_len(const char *n, size_t len)
{
	char msg[AIS_ERRMSG_LEN] = "";
	int rc = ais_name_check_object(n, len, msg);

	ck_assert_msg(rc == 0, "object \"%.60s\" (len %zu) rejected (%d: %s)",
		      n, len, rc, msg);
}

static void obj_ok(const char *n)
{
	obj_ok_len(n, strlen(n));
}

static void obj_bad_len(const char *n, size_t len, int want, const char *what)
{
	char msg[AIS_ERRMSG_LEN] = "";
	int rc = ais_name_check_object(n, len, msg);

	ck_assert_msg(rc == want, "object %s: %d, want %d", what, rc, want);
	ck_assert_msg(msg[0] != '\0', "object %s: no reason given", what);
	/* NULL errmsg is accepted. */
	ck_assert_int_eq(ais_name_check_object(n, len, NULL), want);
}

static void obj_bad(const char *n, int want)
{
	char what[128];

	snprintf(what, sizeof(what), "\"%.60s\"", n);
	obj_bad_len(n, strlen(n), want, what);
}

START_TEST(test_object_valid)
{
	obj_ok("a");
	obj_ok("a/b/c");
	obj_ok("dir/file.txt");
	obj_ok(".hidden");
	obj_ok("a/.b/..c/c..");
	obj_ok("...");
	obj_ok("with space/and\ttab");
	/* "héllo/ж/日本" and an emoji (U+1F600) */
	obj_ok("h\xc3\xa9llo/\xd0\xb6/\xe6\x97\xa5\xe6\x9c\xac");
	obj_ok("emoji \xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_object_components)
{
	obj_bad("", -EINVAL);
	obj_bad(".", -EINVAL);
	obj_bad("..", -EINVAL);
	obj_bad("a/..", -EINVAL);
	obj_bad("../a", -EINVAL);
	obj_bad("a/../b", -EINVAL);
	obj_bad("a/./b", -EINVAL);
	obj_bad("./a", -EINVAL);
	obj_bad("a//b", -EINVAL);
	obj_bad("/a", -EINVAL);
	obj_bad("/", -EINVAL);
	obj_bad("a/", -EINVAL);
	obj_bad("a/b/", -EINVAL);
	obj_bad_len("a\0b", 3, -EINVAL, "with an embedded NUL");
	obj_bad_len("ab\0", 3, -EINVAL, "with a trailing NUL");
}
END_TEST

START_TEST(test_object_lengths)
{
	char n[AIS_NAME_MAX + 2];

	/* 1024 bytes in components of 200 (with '/' separators) is fine. */
	memset(n, 'x', sizeof(n));
	for (size_t i = 200; i < AIS_NAME_MAX; i += 201)
		n[i] = '/';
	n[AIS_NAME_MAX] = '\0';
	ck_assert_uint_eq(strlen(n), 1024);
	obj_ok(n);
	/* 1025 is too long. */
	n[AIS_NAME_MAX] = 'x';
	n[AIS_NAME_MAX + 1] = '\0';
	obj_bad(n, -ENAMETOOLONG);

	/* One component of 255 bytes is fine, 256 is not. */
	memset(n, 'c', 256);
	n[255] = '\0';
	obj_ok(n);
	n[255] = 'c';
	n[256] = '\0';
	obj_bad(n, -ENAMETOOLONG);
	/* The same as a later component. */
	memcpy(n, "dir/", 4);
	memset(n + 4, 'c', 256);
	n[260] = '\0';
	obj_bad(n, -ENAMETOOLONG);
	n[259] = '\0';
	obj_ok(n);
}
END_TEST

START_TEST(test_object_utf8)
{
	obj_bad("\xff", -EINVAL);
	obj_bad("a\xfe", -EINVAL);
	obj_bad("caf\xc3", -EINVAL);	      /* truncated 2-byte sequence */
	obj_bad("\xe6\x97", -EINVAL);	      /* truncated 3-byte sequence */
	obj_bad("x\x80y", -EINVAL);	      /* lone continuation byte */
	obj_bad("\xc0\xaf", -EINVAL);	      /* overlong "/" */
	obj_bad("\xe0\x80\xaf", -EINVAL);     /* overlong "/" */
	obj_bad("\xed\xa0\x80", -EINVAL);     /* UTF-16 surrogate */
	obj_bad("\xf4\x90\x80\x80", -EINVAL); /* above U+10FFFF */
}
END_TEST

START_TEST(test_prefix)
{
	char msg[AIS_ERRMSG_LEN];

	ck_assert_int_eq(ais_name_check_prefix("", msg), 0);
	ck_assert_int_eq(ais_name_check_prefix("a", msg), 0);
	ck_assert_int_eq(ais_name_check_prefix("dir/", msg), 0);
	ck_assert_int_eq(ais_name_check_prefix("dir/sub/fi", msg), 0);
	ck_assert_int_eq(ais_name_check_prefix("/a", msg), -EINVAL);
	ck_assert_int_eq(ais_name_check_prefix("a//", msg), -EINVAL);
	ck_assert_int_eq(ais_name_check_prefix("../", msg), -EINVAL);
	ck_assert_int_eq(ais_name_check_prefix("a/../b", msg), -EINVAL);
	ck_assert_int_eq(ais_name_check_prefix("\xff", msg), -EINVAL);
}
END_TEST

START_TEST(test_uri)
{
	char b[AIS_BUCKET_MAX + 1];
	char msg[AIS_ERRMSG_LEN] = "";
	const char *name = NULL;
	const char *uri;

	uri = "ais://bkt/x/y z";
	ck_assert_msg(ais_uri_parse(uri, b, sizeof(b), &name, msg) == 0, "%s",
		      msg);
	ck_assert_str_eq(b, "bkt");
	ck_assert_str_eq(name, "x/y z");
	ck_assert_ptr_eq(name, uri + strlen("ais://bkt/"));

	uri = "bkt/x";
	ck_assert_int_eq(ais_uri_parse(uri, b, sizeof(b), &name, msg), 0);
	ck_assert_str_eq(b, "bkt");
	ck_assert_str_eq(name, "x");

	ck_assert_int_eq(ais_uri_parse("ais://bkt", b, sizeof(b), &name, msg),
			 0);
	ck_assert_str_eq(b, "bkt");
	ck_assert_str_eq(name, "");

	ck_assert_int_eq(ais_uri_parse("ais://bkt/", b, sizeof(b), &name, msg),
			 0);
	ck_assert_str_eq(b, "bkt");
	ck_assert_str_eq(name, "");

	ck_assert_int_eq(ais_uri_parse("bkt", b, sizeof(b), &name, msg), 0);
	ck_assert_str_eq(b, "bkt");
	ck_assert_str_eq(name, "");
}
END_TEST

START_TEST(test_uri_bad)
{
	char b[AIS_BUCKET_MAX + 1];
	char small[4];
	char msg[AIS_ERRMSG_LEN];
	const char *name;
	static const char *const bad[] = {
	    "",		  "ais://",	  "ais:///x",	 "s3://bkt/x",
	    "ais:/bkt/x", "ais://.bkt/x", "ais://b b/x", "ais://-b",
	    "ais:bkt",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		int rc = ais_uri_parse(bad[i], b, sizeof(b), &name, msg);
		ck_assert_msg(rc == -EINVAL, "uri \"%s\": %d, want -EINVAL",
			      bad[i], rc);
		ck_assert_msg(msg[0] != '\0', "uri \"%s\": no reason", bad[i]);
	}
	/* A bucket that does not fit the caller's buffer. */
	ck_assert_int_eq(
	    ais_uri_parse("ais://longer/x", small, sizeof(small), &name, msg),
	    -EINVAL);
}
END_TEST

static Suite *names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, test_bucket);
	tcase_add_test(tc, test_object_valid);
	tcase_add_test(tc, test_object_components);
	tcase_add_test(tc, test_object_lengths);
	tcase_add_test(tc, test_object_utf8);
	tcase_add_test(tc, test_prefix);
	tcase_add_test(tc, test_uri);
	tcase_add_test(tc, test_uri_bad);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(names_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
