/* Unit tests of lib/core/config.c: keys and values, comments, repeated keys,
 * syntax errors with line numbers, a missing file, callback errors. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define MAXKV 32

struct seen {
	int n;
	char key[MAXKV][64];
	char value[MAXKV][256];
	int stop_at; /* fail on this call (1-based); 0 = never */
};

static int record(void *arg, const char *key, const char *value, char *errmsg)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, MAXKV);
	snprintf(s->key[s->n], sizeof(s->key[0]), "%s", key);
	snprintf(s->value[s->n], sizeof(s->value[0]), "%s", value);
	s->n++;
	if (s->stop_at && s->n == s->stop_at)
		return ais_errf(errmsg, -ERANGE, "bad value for %s", key);
	return 0;
}

static char path[64];

static void write_file(const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/ais-test-config.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void teardown(void)
{
	if (path[0])
		unlink(path);
	path[0] = '\0';
}

START_TEST(test_settings)
{
	struct seen s = {0};
	char msg[AIS_ERRMSG_LEN] = "";

	write_file("# aisd.conf\n"
		   "\n"
		   "port = 51080\n"
		   "   listen=127.0.0.1   \n"
		   "\t# indented comment\n"
		   "mountpath = /data/1\n"
		   "mountpath = /data/2\n"
		   "seed = a:1,b:2\n"
		   "log_level =  debug\n"
		   "mountpath = /data/with space\n");
	ck_assert_msg(ais_config_load(path, record, &s, msg) == 0, "%s", msg);
	ck_assert_int_eq(s.n, 7);
	ck_assert_str_eq(s.key[0], "port");
	ck_assert_str_eq(s.value[0], "51080");
	ck_assert_str_eq(s.key[1], "listen");
	ck_assert_str_eq(s.value[1], "127.0.0.1");
	/* Repeated keys arrive each time, in file order. */
	ck_assert_str_eq(s.key[2], "mountpath");
	ck_assert_str_eq(s.value[2], "/data/1");
	ck_assert_str_eq(s.key[3], "mountpath");
	ck_assert_str_eq(s.value[3], "/data/2");
	ck_assert_str_eq(s.key[4], "seed");
	ck_assert_str_eq(s.value[4], "a:1,b:2");
	ck_assert_str_eq(s.key[5], "log_level");
	ck_assert_str_eq(s.value[5], "debug");
	ck_assert_str_eq(s.value[6], "/data/with space");
}
END_TEST

START_TEST(test_no_trailing_newline)
{
	struct seen s = {0};

	write_file("a = 1\nb = 2");
	ck_assert_int_eq(ais_config_load(path, record, &s, NULL), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.key[1], "b");
	ck_assert_str_eq(s.value[1], "2");
}
END_TEST

START_TEST(test_empty_file)
{
	struct seen s = {0};

	write_file("");
	ck_assert_int_eq(ais_config_load(path, record, &s, NULL), 0);
	ck_assert_int_eq(s.n, 0);
	teardown();
	write_file("# only a comment\n\n   \n");
	ck_assert_int_eq(ais_config_load(path, record, &s, NULL), 0);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

static void expect_syntax_error(const char *text, int line)
{
	struct seen s = {0};
	char msg[AIS_ERRMSG_LEN] = "";
	char want[128];
	int rc;

	write_file(text);
	rc = ais_config_load(path, record, &s, msg);
	ck_assert_msg(rc == -EINVAL, "syntax error not reported (%d)", rc);
	snprintf(want, sizeof(want), "%s:%d:", path, line);
	ck_assert_msg(strstr(msg, want) != NULL,
		      "message \"%s\" does not start with \"%s\"", msg, want);
	teardown();
}

START_TEST(test_syntax_errors)
{
	expect_syntax_error("a = 1\nb = 2\njust some words\n", 3);
	expect_syntax_error("# c\n\n\n= value\n", 4);
	expect_syntax_error("garbage\n", 1);
	expect_syntax_error("a = 1\n\n\n\n\n\n\n\n\n\n\nkey value\n", 12);
}
END_TEST

START_TEST(test_missing_file)
{
	struct seen s = {0};
	char msg[AIS_ERRMSG_LEN] = "";
	const char *p = "/nonexistent/ais/aisd.conf";

	ck_assert_int_eq(ais_config_load(p, record, &s, msg), -ENOENT);
	ck_assert_msg(strstr(msg, p) != NULL, "message \"%s\" lacks the path",
		      msg);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

START_TEST(test_directory)
{
	struct seen s = {0};
	char msg[AIS_ERRMSG_LEN] = "";
	int rc = ais_config_load("/tmp", record, &s, msg);

	ck_assert_msg(rc < 0, "a directory was read as a config file");
	ck_assert(msg[0] != '\0');
}
END_TEST

START_TEST(test_callback_error)
{
	struct seen s = {.stop_at = 2};
	char msg[AIS_ERRMSG_LEN] = "";
	char want[128];

	write_file("a = 1\n# c\nthreads = many\nc = 3\n");
	ck_assert_int_eq(ais_config_load(path, record, &s, msg), -ERANGE);
	/* It stopped at the failing setting. */
	ck_assert_int_eq(s.n, 2);
	snprintf(want, sizeof(want), "%s:3:", path);
	ck_assert_msg(strstr(msg, want) != NULL, "message \"%s\" lacks \"%s\"",
		      msg, want);
	ck_assert_msg(strstr(msg, "bad value for threads") != NULL,
		      "message \"%s\" lost the callback's reason", msg);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_settings);
	tcase_add_test(tc, test_no_trailing_newline);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_directory);
	tcase_add_test(tc, test_callback_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
