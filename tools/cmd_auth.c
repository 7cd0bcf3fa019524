/* ais auth: users, their rights on buckets, and the tokens requests carry
 * (kept in the cluster's replicated metadata; HACKING.md "Users, tokens,
 * rights"). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "cli.h"
#include "util.h"

#define PW_MAX 1100

static const char auth_help[] =
    "Usage: ais auth COMMAND [ARGS...]\n"
    "\n"
    "Users, their rights and their tokens. A cluster whose nodes run with\n"
    "auth_secret_file (aisd(8); `ais local up` does so unless --insecure)\n"
    "takes a request only with a token, and only if the token's user has\n"
    "the right it needs on the bucket: read (GET, HEAD, listings), write\n"
    "(PUT, delete, rename, append) or admin (create, destroy, properties,\n"
    "offline transforms into it); a cluster admin has them all and also\n"
    "changes membership, users and transforms.\n"
    "\n"
    "Commands:\n"
    "  user add NAME [--password-file F] [--cluster-admin]\n"
    "  user rm NAME          the user goes; its tokens and S3 keys stop "
    "working\n"
    "  user ls               users, their rights (yours only, unless you are"
    "\n"
    "                        a cluster admin)\n"
    "  grant NAME ais://BUCKET read|write|admin\n"
    "  grant NAME ais://* read|write|admin    every bucket, now and later\n"
    "  grant NAME cluster    makes NAME a cluster admin\n"
    "  revoke-grant NAME ais://BUCKET|ais://*|cluster\n"
    "  login NAME [--password-file F] [--out FILE] [--ttl DURATION]\n"
    "                        writes a token file (default: where every ais\n"
    "                        program finds it, ~/.config/ais/tokens/KEYID);"
    "\n"
    "                        DURATION as 90m, 12h, 30d (default 24h, at "
    "most 366d)\n"
    "  revoke --user NAME    every token issued to NAME so far\n"
    "  revoke --token FILE   the one token in FILE (a token file)\n"
    "  whoami                the token in use, its user and rights\n"
    "\n"
    "Passwords come from --password-file (its first line; - for stdin), "
    "else\nare asked on the terminal. Every program (ais, aisfs, aisloader)"
    " takes\n--token-file FILE or $AIS_TOKEN_FILE; without either it uses "
    "the token\nsaved for the cluster it talks to.\n"
    "\n"
    "Examples:\n"
    "  ais auth user add alice --password-file alice.pw\n"
    "  ais auth grant alice ais://imagenet read\n"
    "  ais auth login alice --password-file alice.pw\n"
    "  ais auth revoke --user alice\n";

static int help_or(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(auth_help, stdout);
			return 1;
		}
	return 0;
}

/* Reads a password: the first line of file ("-": stdin), else from the
 * terminal without echo (twice if confirm). 0 or CLI_FAIL (reported). */
static int read_password(const char *file, bool confirm, char *pw, size_t cap)
{
	struct termios old, quiet;
	char again[PW_MAX];
	FILE *f;
	size_t n;

	if (file) {
		f = strcmp(file, "-") ? fopen(file, "r") : stdin;
		if (!f)
			return cli_fail(-errno, "", "password file %s", file);
		if (!fgets(pw, (int)cap, f))
			pw[0] = 0;
		if (f != stdin)
			fclose(f);
		pw[strcspn(pw, "\r\n")] = 0;
		if (!pw[0])
			return cli_failf("password file %s: empty", file);
		return 0;
	}
	if (!isatty(STDIN_FILENO))
		return cli_failf("no password: give --password-file FILE (or "
				 "- for stdin)");
	for (int round = 0; round < (confirm ? 2 : 1); round++) {
		char *dst = round ? again : pw;

		fprintf(stderr, round ? "Again: " : "Password: ");
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
		if (!fgets(dst, (int)(round ? sizeof(again) : cap), stdin))
			dst[0] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fputc('\n', stderr);
		dst[strcspn(dst, "\r\n")] = 0;
	}
	n = strlen(pw);
	if (confirm && strcmp(pw, again)) {
		OPENSSL_cleanse(again, sizeof(again));
		return cli_failf("the passwords differ");
	}
	OPENSSL_cleanse(again, sizeof(again));
	return n ? 0 : cli_failf("empty password");
}

static int user_add(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"password-file", required_argument, NULL, 'p'},
	    {"cluster-admin", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "auth user add", *pwfile = NULL;
	char errmsg[AIS_ERRMSG_LEN] = "", pw[PW_MAX];
	struct ais_client *c;
	bool admin = false;
	int o, rc;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":p:ah", longopts, NULL)) != -1) {
		switch (o) {
		case 'p':
			pwfile = optarg;
			break;
		case 'a':
			admin = true;
			break;
		case 'h':
			fputs(auth_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option(cmd, argv, o);
		}
	}
	if (optind + 1 != argc)
		return cli_usage(cmd, "expected one user name");
	if (ais_user_name_check(argv[optind], errmsg))
		return cli_usage(cmd, "%s", errmsg);
	if (read_password(pwfile, true, pw, sizeof(pw)))
		return CLI_FAIL;
	c = cli_client(cmd);
	if (!c) {
		OPENSSL_cleanse(pw, sizeof(pw));
		return CLI_FAIL;
	}
	rc = ais_client_user_add(c, argv[optind], pw, admin, errmsg);
	OPENSSL_cleanse(pw, sizeof(pw));
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s %s", cmd, argv[optind]);
	return CLI_OK;
}

static int user_rm(int argc, char **argv)
{
	const char *cmd = "auth user rm";
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_client *c;
	int rc;

	if (help_or(argc, argv))
		return CLI_OK;
	if (argc != 2)
		return cli_usage(cmd, "expected one user name");
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	rc = ais_client_user_remove(c, argv[1], errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s %s", cmd, argv[1]);
	return CLI_OK;
}

static const char *right_word(int right)
{
	return right == AIS_RIGHT_ADMIN	  ? "admin"
	       : right == AIS_RIGHT_WRITE ? "write"
	       : right == AIS_RIGHT_READ  ? "read"
					  : "none";
}

static void print_rights(const struct ais_user *u)
{
	if (u->cluster_admin) {
		printf("cluster admin");
		return;
	}
	if (!u->ngrants) {
		printf("-");
		return;
	}
	for (size_t g = 0; g < u->ngrants; g++)
		printf("%sais://%s %s", g ? ", " : "", u->grants[g].bucket,
		       right_word(u->grants[g].right));
}

static int user_ls(int argc, char **argv)
{
	const char *cmd = "auth user ls";
	char errmsg[AIS_ERRMSG_LEN] = "", when[32];
	struct ais_user *v;
	struct ais_client *c;
	size_t n;
	int rc;

	if (help_or(argc, argv))
		return CLI_OK;
	if (argc != 1)
		return cli_usage(cmd, "unexpected argument '%s'", argv[1]);
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	rc = ais_client_user_list(c, &v, &n, errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s", cmd);
	printf("%-20s  %-19s  %s\n", "USER", "CREATED", "RIGHTS");
	for (size_t i = 0; i < n; i++) {
		printf("%-20s  %-19s  ", v[i].name,
		       cli_format_time(v[i].created_ns, when, sizeof(when)));
		print_rights(&v[i]);
		putchar('\n');
	}
	ais_users_free(v, n);
	return CLI_OK;
}

static int user_cmd(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"add", user_add, "add a user"},
	    {"rm", user_rm, "remove a user"},
	    {"ls", user_ls, "list users and their rights"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("auth user", auth_help, cmds, argc, argv);
}

/* "ais://B", "ais://" "*" or "cluster" into bucket ("" for the cluster). */
static int parse_target(const char *cmd, const char *arg,
			char bucket[AIS_BUCKET_MAX + 1])
{
	const char *name;

	if (!strcmp(arg, "cluster")) {
		bucket[0] = 0;
		return 0;
	}
	if (!strcmp(arg, "ais://*") || !strcmp(arg, "ais://*/")) {
		strcpy(bucket, "*");
		return 0;
	}
	if (cli_parse_uri(cmd, arg, false, bucket, &name))
		return CLI_USAGE;
	if (name[0])
		return cli_usage(cmd, "a right is on a bucket, not on %s", arg);
	return 0;
}

static int grant_run(const char *cmd, const char *user, const char *bucket,
		     int right)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_client *c = cli_client(cmd);
	int rc;

	if (!c)
		return CLI_FAIL;
	rc = ais_client_grant(c, user, bucket, right, errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s %s", cmd, user);
	return CLI_OK;
}

static int grant(int argc, char **argv)
{
	const char *cmd = "auth grant";
	char bucket[AIS_BUCKET_MAX + 1];
	int right;

	if (help_or(argc, argv))
		return CLI_OK;
	if (argc < 3 || argc > 4)
		return cli_usage(cmd, "expected NAME ais://BUCKET RIGHT, or "
				      "NAME cluster");
	if (parse_target(cmd, argv[2], bucket))
		return CLI_USAGE;
	if (!bucket[0]) {
		if (argc == 4 && strcmp(argv[3], "admin"))
			return cli_usage(cmd, "the cluster right is admin");
		return grant_run(cmd, argv[1], "", AIS_RIGHT_ADMIN);
	}
	if (argc != 4)
		return cli_usage(cmd, "which right: read, write or admin?");
	if (!strcmp(argv[3], "read"))
		right = AIS_RIGHT_READ;
	else if (!strcmp(argv[3], "write"))
		right = AIS_RIGHT_WRITE;
	else if (!strcmp(argv[3], "admin"))
		right = AIS_RIGHT_ADMIN;
	else
		return cli_usage(cmd,
				 "unknown right '%s': read, write or "
				 "admin",
				 argv[3]);
	return grant_run(cmd, argv[1], bucket, right);
}

static int revoke_grant(int argc, char **argv)
{
	const char *cmd = "auth revoke-grant";
	char bucket[AIS_BUCKET_MAX + 1];

	if (help_or(argc, argv))
		return CLI_OK;
	if (argc != 3)
		return cli_usage(cmd, "expected NAME ais://BUCKET, or NAME "
				      "cluster");
	if (parse_target(cmd, argv[2], bucket))
		return CLI_USAGE;
	return grant_run(cmd, argv[1], bucket, AIS_RIGHT_NONE);
}

/* "90", "90s", "90m", "12h", "30d" into seconds. */
static int parse_duration(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mul = 1;

	if (end == s)
		return -EINVAL;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60;
	else if (!strcmp(end, "h"))
		mul = 3600;
	else if (!strcmp(end, "d"))
		mul = 86400;
	else
		return -EINVAL;
	if (v == 0 || v > 366ull * 86400 / mul)
		return -ERANGE;
	*out = (uint32_t)(v * mul);
	return 0;
}

static int login(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"password-file", required_argument, NULL, 'p'},
	    {"out", required_argument, NULL, 'o'},
	    {"ttl", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "auth login", *pwfile = NULL, *outf = NULL;
	char errmsg[AIS_ERRMSG_LEN] = "", pw[PW_MAX], path[512], when[32];
	char text[AIS_TOKEN_TEXT_MAX];
	uint8_t raw[AIS_TOKEN_MAX];
	struct ais_claims cl;
	struct ais_client *c;
	uint32_t ttl = 0;
	ssize_t n;
	int o, rc;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":p:o:t:h", longopts, NULL)) !=
	       -1) {
		switch (o) {
		case 'p':
			pwfile = optarg;
			break;
		case 'o':
			outf = optarg;
			break;
		case 't':
			if (parse_duration(optarg, &ttl))
				return cli_usage(cmd,
						 "bad --ttl '%s': 90m, 12h, "
						 "30d (at most 366d)",
						 optarg);
			break;
		case 'h':
			fputs(auth_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option(cmd, argv, o);
		}
	}
	if (optind + 1 != argc)
		return cli_usage(cmd, "expected one user name");
	if (read_password(pwfile, false, pw, sizeof(pw)))
		return CLI_FAIL;
	c = cli_client(cmd);
	if (!c) {
		OPENSSL_cleanse(pw, sizeof(pw));
		return CLI_FAIL;
	}
	rc = ais_client_login(c, argv[optind], pw, ttl, text, errmsg);
	OPENSSL_cleanse(pw, sizeof(pw));
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s %s", cmd, argv[optind]);
	n = ais_token_from_text(text, raw, sizeof(raw));
	if (n < 0 || ais_token_peek(raw, (size_t)n, &cl))
		return cli_failf("%s: the node's token does not parse", cmd);
	if (!outf) {
		if (ais_token_default_path(cl.kid, path, sizeof(path)))
			return cli_failf("%s: no home directory: give --out "
					 "FILE",
					 cmd);
		outf = path;
	}
	rc = ais_token_file_write(outf, text, errmsg);
	OPENSSL_cleanse(text, sizeof(text));
	if (rc)
		return cli_fail(rc, errmsg, "%s", cmd);
	printf("token of %s saved in %s (good until %s)\n", cl.user, outf,
	       cli_format_time(cl.expires_ns, when, sizeof(when)));
	return CLI_OK;
}

static int revoke_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"user", required_argument, NULL, 'u'},
	    {"token", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "auth revoke", *user = NULL, *tfile = NULL;
	char errmsg[AIS_ERRMSG_LEN] = "";
	uint8_t raw[AIS_TOKEN_MAX];
	struct ais_claims cl;
	struct ais_client *c;
	size_t len;
	int o, rc;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":u:t:h", longopts, NULL)) != -1) {
		switch (o) {
		case 'u':
			user = optarg;
			break;
		case 't':
			tfile = optarg;
			break;
		case 'h':
			fputs(auth_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option(cmd, argv, o);
		}
	}
	if (optind != argc || !user == !tfile)
		return cli_usage(cmd, "give --user NAME or --token FILE");
	if (tfile) {
		rc = ais_token_file_read(tfile, raw, &len, errmsg);
		if (rc)
			return cli_fail(rc, errmsg, "%s", cmd);
		if (ais_token_peek(raw, len, &cl))
			return cli_failf("%s: %s: not a token", cmd, tfile);
	}
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	rc = user ? ais_client_revoke_user(c, user, errmsg)
		  : ais_client_revoke_token(c, cl.id, cl.expires_ns, errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s", cmd);
	return CLI_OK;
}

static int whoami(int argc, char **argv)
{
	const char *cmd = "auth whoami";
	char errmsg[AIS_ERRMSG_LEN] = "", path[512], when[32];
	struct ais_claims cl;
	struct ais_client *c;
	struct ais_user *v;
	size_t n;
	int rc;

	if (help_or(argc, argv))
		return CLI_OK;
	if (argc != 1)
		return cli_usage(cmd, "unexpected argument '%s'", argv[1]);
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	if (ais_client_token_info(c, path, sizeof(path), &cl)) {
		ais_client_free(c);
		printf("no token (this cluster %s)\n",
		       "has no auth, or none was found for it: ais auth login "
		       "USER");
		return CLI_OK;
	}
	printf("user:    %s%s\n", cl.user, cl.root ? " (root)" : "");
	printf("token:   %s\n", path);
	printf("expires: %s\n",
	       cli_format_time(cl.expires_ns, when, sizeof(when)));
	if (cl.root) {
		ais_client_free(c);
		return CLI_OK;
	}
	rc = ais_client_user_list(c, &v, &n, errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s", cmd);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, cl.user))
			continue;
		printf("rights:  ");
		print_rights(&v[i]);
		putchar('\n');
	}
	ais_users_free(v, n);
	return CLI_OK;
}

int cmd_auth(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"user", user_cmd, "users: add, rm, ls"},
	    {"grant", grant, "give a user a right on a bucket or the cluster"},
	    {"revoke-grant", revoke_grant, "take a right away"},
	    {"login", login, "get a token and save it"},
	    {"revoke", revoke_cmd, "revoke a user's tokens, or one token"},
	    {"whoami", whoami, "the token in use and its rights"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("auth", auth_help, cmds, argc, argv);
}
