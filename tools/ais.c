/* ais: the command line of an aisd cluster. This file holds the global
 * options and the dispatch to the commands (tools/cmd_*.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ais_config.h"
#include "cli.h"
#include "log.h"

static const struct cli_cmd commands[] = {
    {"local", cmd_local, "start, stop and inspect a cluster on this machine"},
    {"cluster", cmd_cluster, "show the nodes; maintenance, decommission"},
    {"job", cmd_job, "rebalances and offline transforms: show, stop, rm"},
    {"scrub", cmd_scrub, "check every copy; repair, make missing copies"},
    {"bucket", cmd_bucket, "create, list and destroy buckets"},
    {"put", cmd_put, "upload a file, stdin or a directory tree"},
    {"get", cmd_get, "download an object, a range or a prefix"},
    {"ls", cmd_ls, "list buckets or the objects of a bucket"},
    {"stat", cmd_stat, "show an object's metadata"},
    {"rm", cmd_rm, "delete objects or everything under a prefix"},
    {"mv", cmd_mv, "rename an object within its bucket"},
    {"shard", cmd_shard, "list shard members, pack a directory into shards"},
    {"etl", cmd_etl, "transforms the nodes run on the objects they hold"},
    {"s3", cmd_s3, "the S3 endpoint's access keys"},
    {"auth", cmd_auth, "users, rights and tokens: login, grant, revoke"},
    {"tls", cmd_tls, "certificates: a cluster CA, node certificates"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
	const struct cli_cmd *c;

	fprintf(out, "Usage: ais [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
		     "\n"
		     "The command line of an aisd object storage cluster.\n"
		     "\n"
		     "Commands:\n");
	for (c = commands; c->name; c++)
		fprintf(out, "  %-8s %s\n", c->name, c->summary);
	fprintf(
	    out,
	    "\n"
	    "Global options (before or after the command):\n"
	    "  --endpoint HOST:PORT[,HOST:PORT...]\n"
	    "                        nodes of the cluster, tried in order "
	    "until\n"
	    "                        one answers (default $AIS_ENDPOINT, else\n"
	    "                        " AIS_DEFAULT_ENDPOINT ")\n"
	    "  --token-file FILE     the token requests carry (default "
	    "$AIS_TOKEN_FILE,\n"
	    "                        else the one `ais auth login` or `ais "
	    "local up`\n"
	    "                        saved for this cluster)\n"
	    "  --ca-file FILE        the cluster's CA: TLS (default $AIS_CA_FILE,\n"
	    "                        else the CAs saved by `ais local up` in\n"
	    "                        ~/.config/ais/ca/; none: plain TCP)\n"
	    "  --secret-file FILE    act as root with the cluster's secret "
	    "(on a node;\n"
	    "                        default $AIS_SECRET_FILE)\n"
	    "  --verbose             log diagnostics to stderr (as "
	    "AIS_LOG=debug)\n"
	    "  -h, --help            show this help; 'ais COMMAND --help' "
	    "for a command\n"
	    "  --version             print the version\n"
	    "\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n"
	    "\n"
	    "Examples:\n"
	    "  ais local up --dir /tmp/ais\n"
	    "  ais bucket create ais://data\n"
	    "  ais put -r ./dataset ais://data/v1\n"
	    "  ais ls -l ais://data/v1/\n"
	    "  ais get ais://data/v1/a.jpg a.jpg\n");
}

/* A malformed endpoint list is a usage error, found before any command
 * runs. */
static bool check_endpoint(const char *spec)
{
	struct ais_endpoint eps[AIS_ENDPOINTS_MAX];
	char errmsg[AIS_ERRMSG_LEN] = "";

	if (ais_endpoints_parse(spec, eps, AIS_ENDPOINTS_MAX, errmsg) > 0)
		return true;
	cli_usage(NULL, "--endpoint: %s", errmsg);
	return false;
}

/* Removes the global options from argv wherever they are (up to a "--"),
 * so that "ais ls --endpoint H:P ais://b" works like "ais --endpoint H:P ls
 * ais://b". Returns the new argc, or -1 after a usage error. */
static int strip_globals(int argc, char **argv, bool *verbose)
{
	int i, out = 1;

	for (i = 1; i < argc; i++) {
		char *a = argv[i];

		if (!strcmp(a, "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "--endpoint")) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				cli_usage(NULL, "--endpoint needs HOST:PORT");
				return -1;
			}
			cli_endpoint = argv[++i];
			if (!check_endpoint(cli_endpoint))
				return -1;
			continue;
		}
		if (!strncmp(a, "--endpoint=", 11)) {
			if (!a[11]) {
				cli_usage(NULL, "--endpoint needs HOST:PORT");
				return -1;
			}
			cli_endpoint = a + 11;
			if (!check_endpoint(cli_endpoint))
				return -1;
			continue;
		}
		if (!strcmp(a, "--ca-file")) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				cli_usage(NULL, "%s needs a file", a);
				return -1;
			}
			cli_ca_file = argv[++i];
			continue;
		}
		if (!strncmp(a, "--ca-file=", 10)) {
			cli_ca_file = a + 10;
			continue;
		}
		if (!strcmp(a, "--token-file") || !strcmp(a, "--secret-file")) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				cli_usage(NULL, "%s needs a file", a);
				return -1;
			}
			if (a[2] == 't')
				cli_token_file = argv[++i];
			else
				cli_secret_file = argv[++i];
			continue;
		}
		if (!strncmp(a, "--token-file=", 13)) {
			cli_token_file = a + 13;
			continue;
		}
		if (!strncmp(a, "--secret-file=", 14)) {
			cli_secret_file = a + 14;
			continue;
		}
		if (!strcmp(a, "--verbose")) {
			*verbose = true;
			continue;
		}
		argv[out++] = a;
	}
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	const struct cli_cmd *c;
	const char *env = getenv("AIS_LOG");
	bool verbose = false;
	int level = LOG_WARNING;

	argc = strip_globals(argc, argv, &verbose);
	if (argc < 0)
		return CLI_USAGE;
	if (env && env[0] && ais_log_parse_level(env) >= 0)
		level = ais_log_parse_level(env);
	if (verbose)
		level = LOG_DEBUG;
	ais_log_init("ais", level);
	cli_signals_init();

	if (argc < 2)
		return cli_usage(
		    NULL, "expected a command: local, cluster, "
			  "job, bucket, put, get, ls, stat, rm, mv, shard");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("ais %s\n", AIS_VERSION);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage(stdout);
			return CLI_OK;
		}
		/* "ais help put" is "ais put --help". */
		char *help_argv[] = {argv[2], (char *)"--help", NULL};

		for (c = commands; c->name; c++)
			if (!strcmp(c->name, argv[2]))
				return c->run(2, help_argv);
		return cli_usage(NULL, "help: unknown command '%s'", argv[2]);
	}
	for (c = commands; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			return c->run(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return cli_usage(NULL, "unknown option %s", argv[1]);
	return cli_usage(NULL, "unknown command '%s'", argv[1]);
}
