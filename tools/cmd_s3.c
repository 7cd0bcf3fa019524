/* ais s3 keys add | ls | rm: the access keys the nodes' S3 endpoints take
 * (kept in the cluster's replicated metadata). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "util.h"

static const char s3_help[] =
    "Usage: ais s3 keys COMMAND [OPTIONS]\n"
    "\n"
    "The access keys of the S3 endpoint every node serves (aisd's s3_port;\n"
    "aisd(8), \"S3 endpoint\"). Requests are signed with AWS Signature\n"
    "Version 4 by one of these keys; the cluster's metadata keeps them, so\n"
    "a key added through any node works on every node within a moment.\n"
    "\n"
    "Commands:\n"
    "  keys add [--user NAME] [--access-key A] [--secret S] [--comment T]\n"
    "           adds a key (made at random unless given) and prints it\n"
    "           with its secret: the only time the secret is shown; a\n"
    "           request it signs has the rights of user NAME (ais auth;\n"
    "           default: the caller's own user)\n"
    "  keys ls  lists the access keys (never their secrets): all of\n"
    "           them for a cluster admin, else the caller's\n"
    "  keys rm ACCESS_KEY\n"
    "           removes one: requests it signs are refused from then on\n"
    "\n"
    "Examples:\n"
    "  ais s3 keys add --comment 'training jobs'\n"
    "  ais s3 keys ls\n"
    "  ais s3 keys rm AISQ3XJ6W2ZQ7K4M5N2P\n";

static int keys_add(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"access-key", required_argument, NULL, 'a'},
	    {"secret", required_argument, NULL, 's'},
	    {"comment", required_argument, NULL, 'c'},
	    {"user", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "s3 keys add";
	struct ais_s3_key in = {0}, out;
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_client *c;
	int o, rc;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":a:s:c:u:h", longopts, NULL)) !=
	       -1) {
		switch (o) {
		case 'a':
			snprintf(in.access_key, sizeof(in.access_key), "%s",
				 optarg);
			break;
		case 's':
			snprintf(in.secret, sizeof(in.secret), "%s", optarg);
			break;
		case 'c':
			snprintf(in.comment, sizeof(in.comment), "%s", optarg);
			break;
		case 'u':
			snprintf(in.user, sizeof(in.user), "%s", optarg);
			break;
		case 'h':
			fputs(s3_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option(cmd, argv, o);
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	rc = ais_client_s3_key_add(c, &in, &out, errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s", cmd);
	printf("AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n",
	       out.access_key, out.secret);
	return CLI_OK;
}

static int keys_ls(int argc, char **argv)
{
	const char *cmd = "s3 keys ls";
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_s3_key *v;
	struct ais_client *c;
	size_t n;
	int rc;

	if (argc > 1) {
		if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			fputs(s3_help, stdout);
			return CLI_OK;
		}
		return cli_usage(cmd, "unexpected argument '%s'", argv[1]);
	}
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	rc = ais_client_s3_key_list(c, &v, &n, errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s", cmd);
	printf("%-24s  %-16s  %-20s  %s\n", "ACCESS KEY", "USER", "CREATED",
	       "COMMENT");
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)(v[i].created_ns / 1000000000);
		struct tm tm;
		char when[32];

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-24s  %-16s  %-20s  %s\n", v[i].access_key,
		       v[i].user[0] ? v[i].user : "-", when,
		       v[i].comment[0] ? v[i].comment : "-");
	}
	free(v);
	return CLI_OK;
}

static int keys_rm(int argc, char **argv)
{
	const char *cmd = "s3 keys rm";
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_client *c;
	int rc;

	if (argc == 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(s3_help, stdout);
		return CLI_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage(cmd,
				 "expected an access key (ais s3 keys ls)");
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	rc = ais_client_s3_key_remove(c, argv[1], errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s %s", cmd, argv[1]);
	return CLI_OK;
}

static int s3_keys(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"add", keys_add, "add an access key (its secret shown once)"},
	    {"ls", keys_ls, "list the access keys"},
	    {"rm", keys_rm, "remove an access key"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("s3 keys", s3_help, cmds, argc, argv);
}

int cmd_s3(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"keys", s3_keys, "the S3 endpoint's access keys: add, ls, rm"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("s3", s3_help, cmds, argc, argv);
}
