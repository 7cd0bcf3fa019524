/* ais bucket create | ls | rm | props. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

static const char bucket_help[] =
    "Usage: ais bucket COMMAND [OPTIONS] ...\n"
    "\n"
    "Commands:\n"
    "  create ais://BUCKET...  create buckets\n"
    "  ls                      list the buckets\n"
    "  rm ais://BUCKET...      destroy buckets and every object in them\n"
    "  props ais://BUCKET      show a bucket's properties\n"
    "  props set ais://BUCKET copies=N\n"
    "                          change them\n"
    "  summary ais://BUCKET... objects, bytes, copies, degraded objects\n"
    "\n"
    "Run 'ais bucket COMMAND --help' for a command's options.\n"
    "\n"
    "Examples:\n"
    "  ais bucket create ais://train --copies 2\n"
    "  ais bucket ls\n"
    "  ais bucket props set ais://train copies=3\n"
    "  ais bucket rm ais://scratch\n";

static const char create_help[] =
    "Usage: ais bucket create [OPTIONS] ais://BUCKET...\n"
    "\n"
    "Creates buckets in the cluster's bucket table. Bucket names are 1 to 64\n"
    "characters of A-Z a-z 0-9 . _ - and do not start with '.' or '-'.\n"
    "\n"
    "Options:\n"
    "  -c, --copies N         keep N copies of every object, each on a\n"
    "                         different node (1 up to the number of nodes;\n"
    "                         default 1). Reads fail over across copies: up\n"
    "                         to N-1 nodes may be down.\n"
    "  -i, --ignore-existing  do not fail when a bucket already exists\n"
    "  -h, --help             show this help\n"
    "\n"
    "Example:\n"
    "  ais bucket create ais://train --copies 2\n";

static const char summary_help[] =
    "Usage: ais bucket summary ais://BUCKET...\n"
    "\n"
    "For each bucket: its objects and their bytes (one copy each; a listing,\n"
    "so it takes a while for millions), the copies of each object, and the\n"
    "degraded objects: those whose copies are not all made yet because a\n"
    "node was down or full when they were written (the node that took the\n"
    "write makes them when it can).\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais bucket summary ais://train\n";

static const char props_help[] =
    "Usage: ais bucket props ais://BUCKET\n"
    "       ais bucket props set ais://BUCKET copies=N\n"
    "\n"
    "Shows a bucket's properties, or changes them. Changing copies starts a\n"
    "rebalance on every node that adds or drops the copies of the objects\n"
    "already there ('ais job show' follows it); new PUTs get N copies at\n"
    "once.\n"
    "\n"
    "Properties:\n"
    "  copies=N    copies of every object, each on a different node\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Examples:\n"
    "  ais bucket props ais://train\n"
    "  ais bucket props set ais://train copies=2\n";

static const char ls_help[] =
    "Usage: ais bucket ls [OPTIONS]\n"
    "\n"
    "Lists the buckets of the cluster, one ais://BUCKET per line.\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais bucket ls\n";

static const char rm_help[] =
    "Usage: ais bucket rm [OPTIONS] ais://BUCKET...\n"
    "\n"
    "Destroys buckets with every object in them, on every node.\n"
    "\n"
    "Options:\n"
    "  -i, --ignore-missing  do not fail when a bucket does not exist\n"
    "  -h, --help            show this help\n"
    "\n"
    "Example:\n"
    "  ais bucket rm ais://scratch\n";

/* Parses [-i] [-h]; returns 0, -1 after printing help, or CLI_USAGE. */
static int opts(const char *cmd, const char *help, const char *ilong, int argc,
		char **argv, bool *ignore)
{
	const struct option longopts[] = {
	    {ilong ? ilong : "help", no_argument, NULL, ilong ? 'i' : 'h'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ilong ? ":ih" : ":h", longopts,
				NULL)) != -1) {
		if (c == 'i') {
			*ignore = true;
		} else if (c == 'h') {
			fputs(help, stdout);
			return -1;
		} else {
			return cli_bad_option(cmd, argv, c);
		}
	}
	return 0;
}

static int check_buckets(const char *cmd, int argc, char **argv)
{
	char bucket[AIS_BUCKET_MAX + 1];
	const char *name;
	int i, rc;

	if (argc == optind)
		return cli_usage(cmd, "expected ais://BUCKET");
	for (i = optind; i < argc; i++) {
		rc = cli_parse_uri(cmd, argv[i], false, bucket, &name);
		if (rc)
			return rc;
		if (name[0])
			return cli_usage(cmd,
					 "%s: expected ais://BUCKET "
					 "without an object name",
					 argv[i]);
	}
	return 0;
}

/* N of copies=N or --copies N: 1..AIS_COPIES_MAX; 0 if malformed. */
static uint32_t parse_copies(const char *s)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > AIS_COPIES_MAX)
		return 0;
	return (uint32_t)v;
}

static int bucket_create(int argc, char **argv)
{
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN];
	const struct option longopts[] = {
	    {"copies", required_argument, NULL, 'c'},
	    {"ignore-existing", no_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ais_client *c;
	const char *name;
	bool ignore = false;
	uint32_t copies = 0;
	int i, rc, ret = CLI_OK;

	optind = 0;
	opterr = 0;
	while ((rc = getopt_long(argc, argv, ":c:ih", longopts, NULL)) != -1) {
		if (rc == 'i') {
			ignore = true;
		} else if (rc == 'c') {
			copies = parse_copies(optarg);
			if (!copies)
				return cli_usage("bucket create",
						 "--copies takes a number from "
						 "1 to %d, not '%s'",
						 AIS_COPIES_MAX, optarg);
		} else if (rc == 'h') {
			fputs(create_help, stdout);
			return CLI_OK;
		} else {
			return cli_bad_option("bucket create", argv, rc);
		}
	}
	rc = check_buckets("bucket create", argc, argv);
	if (rc)
		return rc;
	c = cli_client("bucket create");
	if (!c)
		return CLI_FAIL;
	for (i = optind; i < argc; i++) {
		cli_parse_uri("bucket create", argv[i], false, bucket, &name);
		errmsg[0] = '\0';
		rc = ais_client_bucket_create_copies(c, bucket, copies, errmsg);
		if (rc == -EEXIST && ignore)
			continue;
		if (rc < 0)
			ret = cli_fail(rc, errmsg, "bucket create ais://%s",
				       bucket);
	}
	ais_client_free(c);
	return ret;
}

static int bucket_ls(int argc, char **argv)
{
	char errmsg[AIS_ERRMSG_LEN] = "", **names = NULL;
	struct ais_client *c;
	size_t i, n = 0;
	int rc;

	rc = opts("bucket ls", ls_help, NULL, argc, argv, NULL);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (argc != optind)
		return cli_usage("bucket ls", "unexpected argument '%s'",
				 argv[optind]);
	c = cli_client("bucket ls");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_bucket_list(c, &names, &n, errmsg);
	ais_client_free(c);
	if (rc < 0)
		return cli_fail(rc, errmsg, "bucket ls");
	for (i = 0; i < n; i++)
		printf("ais://%s\n", names[i]);
	ais_strv_free(names);
	return CLI_OK;
}

static int bucket_rm(int argc, char **argv)
{
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN];
	struct ais_client *c;
	const char *name;
	bool ignore = false;
	int i, rc, ret = CLI_OK;

	rc = opts("bucket rm", rm_help, "ignore-missing", argc, argv, &ignore);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = check_buckets("bucket rm", argc, argv);
	if (rc)
		return rc;
	c = cli_client("bucket rm");
	if (!c)
		return CLI_FAIL;
	for (i = optind; i < argc; i++) {
		cli_parse_uri("bucket rm", argv[i], false, bucket, &name);
		errmsg[0] = '\0';
		rc = ais_client_bucket_destroy(c, bucket, errmsg);
		if (rc == -ENOENT && ignore)
			continue;
		if (rc < 0)
			ret =
			    cli_fail(rc, errmsg, "bucket rm ais://%s", bucket);
	}
	ais_client_free(c);
	return ret;
}

static int bucket_props(int argc, char **argv)
{
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_bucket_props p;
	struct ais_client *c;
	const char *name, *uri;
	bool set = false;
	uint32_t copies = 0;
	int i, rc;

	rc = opts("bucket props", props_help, NULL, argc, argv, NULL);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	i = optind;
	if (i < argc && !strcmp(argv[i], "set")) {
		set = true;
		i++;
	}
	if (i >= argc)
		return cli_usage("bucket props", "expected ais://BUCKET");
	uri = argv[i++];
	rc = cli_parse_uri("bucket props", uri, false, bucket, &name);
	if (rc)
		return rc;
	if (name[0])
		return cli_usage("bucket props",
				 "%s: expected ais://BUCKET without an object "
				 "name",
				 uri);
	if (set && i >= argc)
		return cli_usage("bucket props", "expected PROPERTY=VALUE "
						 "(copies=N)");
	if (!set && i < argc)
		return cli_usage("bucket props", "unexpected argument '%s'",
				 argv[i]);
	for (; i < argc; i++) {
		if (strncmp(argv[i], "copies=", 7))
			return cli_usage("bucket props",
					 "unknown property '%s' (known: "
					 "copies=N)",
					 argv[i]);
		copies = parse_copies(argv[i] + 7);
		if (!copies)
			return cli_usage("bucket props",
					 "copies takes a number from 1 to %d, "
					 "not '%s'",
					 AIS_COPIES_MAX, argv[i] + 7);
	}
	c = cli_client("bucket props");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_bucket_props(c, bucket, set, copies, &p, errmsg);
	ais_client_free(c);
	if (rc < 0)
		return cli_fail(rc, errmsg, "bucket props ais://%s", bucket);
	if (set)
		printf("ais://%s: copies=%u (existing objects follow in a "
		       "rebalance: 'ais job show')\n",
		       bucket, p.copies);
	else {
		char when[64];

		printf("PROPERTY  VALUE\n"
		       "copies    %u\n"
		       "created   %s\n",
		       p.copies,
		       p.created_ns
			   ? cli_format_time(p.created_ns, when, sizeof(when))
			   : "-");
	}
	return CLI_OK;
}

static int bucket_summary(int argc, char **argv)
{
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN];
	struct ais_bucket_summary sm;
	struct ais_client *c;
	const char *name;
	int i, rc, ret = CLI_OK;

	rc = opts("bucket summary", summary_help, NULL, argc, argv, NULL);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = check_buckets("bucket summary", argc, argv);
	if (rc)
		return rc;
	c = cli_client("bucket summary");
	if (!c)
		return CLI_FAIL;
	printf("%-24s  %12s  %10s  %6s  %s\n", "BUCKET", "OBJECTS", "SIZE",
	       "COPIES", "DEGRADED");
	for (i = optind; i < argc; i++) {
		char size[32], uri[AIS_BUCKET_MAX + 8];

		cli_parse_uri("bucket summary", argv[i], false, bucket, &name);
		errmsg[0] = '\0';
		rc = ais_client_bucket_summary(c, bucket, &sm, errmsg);
		if (rc < 0) {
			ret = cli_fail(rc, errmsg, "bucket summary ais://%s",
				       bucket);
			continue;
		}
		ais_format_size(sm.bytes, size, sizeof(size));
		snprintf(uri, sizeof(uri), "ais://%s", bucket);
		printf("%-24s  %12llu  %10s  %6u  %llu\n", uri,
		       (unsigned long long)sm.objects, size, sm.props.copies,
		       (unsigned long long)sm.degraded);
		if (sm.nodes_unknown)
			fprintf(stderr,
				"ais: bucket summary ais://%s: %zu node%s did "
				"not answer: the degraded objects may be "
				"more\n",
				bucket, sm.nodes_unknown,
				sm.nodes_unknown == 1 ? "" : "s");
	}
	ais_client_free(c);
	return ret;
}

int cmd_bucket(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"create", bucket_create, "create buckets"},
	    {"ls", bucket_ls, "list buckets"},
	    {"rm", bucket_rm, "destroy buckets"},
	    {"props", bucket_props, "show or set a bucket's properties"},
	    {"summary", bucket_summary, "objects, bytes, degraded objects"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("bucket", bucket_help, cmds, argc, argv);
}
