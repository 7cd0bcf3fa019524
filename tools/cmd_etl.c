/* ais etl init | ls | show | rm | stop | start: transforms registered
 * cluster-wide, run by the node that holds each object (ais-etl(7)); ais etl
 * bucket | errors: offline jobs, and failures. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

static const char etl_help[] =
    "Usage: ais etl COMMAND [OPTIONS] ...\n"
    "\n"
    "Transforms: programs installed on the nodes (under their etl_dir) that\n"
    "the node holding an object runs on it, so that a GET (ais get --etl,\n"
    "libais, aisfs -o etl=) reads the result. See ais-etl(7).\n"
    "\n"
    "Commands:\n"
    "  init NAME --cmd 'PROGRAM [ARG...]' [OPTIONS]\n"
    "                 register a transform cluster-wide\n"
    "  ls             list the transforms\n"
    "  show NAME      show one\n"
    "  stop NAME      refuse it until started again\n"
    "  start NAME     serve it again\n"
    "  rm NAME        unregister it\n"
    "  bucket NAME ais://SRC[/PREFIX] ais://DST [OPTIONS]\n"
    "                 transform every object of SRC into DST, on the nodes\n"
    "                 that hold them (a job: ais job show)\n"
    "  errors NAME    its latest failures on every node, newest first\n"
    "\n"
    "Run 'ais etl COMMAND --help' for a command's options.\n"
    "\n"
    "Examples:\n"
    "  ais etl init gz --cmd '/srv/ais/etl/gzip -c'\n"
    "  ais get --etl gz ais://data/a.txt a.txt.gz\n"
    "  ais etl rm gz\n";

static const char init_help[] =
    "Usage: ais etl init NAME --cmd 'PROGRAM [ARG...]' [OPTIONS]\n"
    "\n"
    "Registers transform NAME in the cluster's metadata: every node, also\n"
    "one that joins later, may run it on the objects it holds. PROGRAM is\n"
    "an absolute path under the nodes' etl_dir (aisd(8); ais local up\n"
    "--etl-dir), or ais-etl-python followed by the absolute path of a Python\n"
    "script there; anything else is refused. The command is split into words\n"
    "as a shell would ('single' and \"double\" quotes, backslash), but no\n"
    "shell runs it: no variables, globs or pipes.\n"
    "\n"
    "In filter mode (the default) the node starts the program once per\n"
    "object, with the object's bytes on its stdin; what it writes to stdout\n"
    "is the result; it must exit 0, else the GET fails with the last line it\n"
    "wrote to stderr. Its environment has AIS_ETL_NAME, AIS_ETL_ARGS (ais get\n"
    "--etl-args), AIS_BUCKET and AIS_OBJECT.\n"
    "\n"
    "In worker mode every node keeps --workers processes of it running,\n"
    "each serving one object at a time over the protocol of ais-etl(7) on\n"
    "its stdin and stdout: per-object costs of microseconds, not a process\n"
    "start. A worker that crashes, hangs or breaks the protocol fails its\n"
    "object and is restarted. ais-etl-python FILE.py serves the function\n"
    "transform(data, name, args) of FILE.py this way; ais_etl.h does it for\n"
    "C.\n"
    "\n"
    "Options:\n"
    "  -c, --cmd 'PROGRAM [ARG...]'  the program and its arguments (required)\n"
    "  -m, --mode filter|worker      how the node talks to it (default "
    "filter)\n"
    "  -w, --workers N               worker mode: processes per node, 1-64\n"
    "                                (default 2)\n"
    "  -t, --timeout DURATION        per object, e.g. 500ms, 30s, 2m (default\n"
    "                                30s, at most 1h); the program is killed\n"
    "                                after it\n"
    "  -e, --env K=V                 add to its environment (repeatable; not\n"
    "                                LD_*, PYTHON*, PATH, AIS_* and the like)\n"
    "  -h, --help                    show this help\n"
    "\n"
    "Examples:\n"
    "  ais etl init gz --cmd '/srv/ais/etl/gzip -c' --timeout 10s\n"
    "  ais etl init md5 --mode worker --workers 4 \\\n"
    "      --cmd 'ais-etl-python /srv/ais/etl/hash.py'\n";

static const char ls_help[] =
    "Usage: ais etl ls\n"
    "\n"
    "Lists the registered transforms: name, mode, state, timeout, command.\n";

static const char name_help[] =
    "Usage: ais etl show|stop|start|rm NAME\n"
    "\n"
    "show: a transform's settings. stop: GETs through it are refused (EPERM)\n"
    "until start. rm: unregister it.\n";

/* Splits s into words as a shell would (quotes, backslash), with nothing
 * expanded: a NULL-terminated vector (ais_strv_free), or NULL with a
 * reason in errmsg. */
static char **split_words(const char *s, char *errmsg)
{
	size_t n = 0, cap = 8, len = strlen(s);
	char **v = calloc(cap, sizeof(*v));
	char *w = malloc(len + 1);
	const char *p = s;

	if (!v || !w)
		goto nomem;
	for (;;) {
		size_t k = 0;
		bool have = false;
		char q = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		for (; *p; p++) {
			if (q) {
				if (*p == q)
					q = 0;
				else if (q == '"' && *p == '\\' && p[1] &&
					 strchr("\"\\$`", p[1]))
					w[k++] = *++p;
				else
					w[k++] = *p;
			} else if (*p == '\'' || *p == '"') {
				q = *p;
				have = true;
			} else if (*p == '\\' && p[1]) {
				w[k++] = *++p;
			} else if (*p == ' ' || *p == '\t' || *p == '\n') {
				break;
			} else {
				w[k++] = *p;
			}
			have = true;
		}
		if (q) {
			snprintf(errmsg, AIS_ERRMSG_LEN,
				 "unterminated %c quote", q);
			ais_strv_free(v);
			free(w);
			return NULL;
		}
		if (!have)
			continue;
		if (n + 2 > cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof(*v));

			if (!nv)
				goto nomem;
			v = nv;
		}
		w[k] = '\0';
		v[n] = strdup(w);
		if (!v[n])
			goto nomem;
		v[++n] = NULL;
	}
	free(w);
	if (n == 0) {
		snprintf(errmsg, AIS_ERRMSG_LEN, "no program given");
		ais_strv_free(v);
		return NULL;
	}
	return v;
nomem:
	snprintf(errmsg, AIS_ERRMSG_LEN, "out of memory");
	ais_strv_free(v);
	free(w);
	return NULL;
}

/* "500ms", "30s", "2m", "30" (seconds) into milliseconds; 0 if bad. */
static uint32_t parse_ms(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return 0;
	v = strtoul(s, &end, 10);
	if (errno)
		return 0;
	if (!strcmp(end, "ms"))
		;
	else if (!*end || !strcmp(end, "s"))
		v *= 1000;
	else if (!strcmp(end, "m"))
		v *= 60000;
	else
		return 0;
	return v > 0 && v <= AIS_ETL_TIMEOUT_MAX_MS ? (uint32_t)v : 0;
}

static int etl_init(int argc, char **argv)
{
	const struct option longopts[] = {
	    {"cmd", required_argument, NULL, 'c'},
	    {"mode", required_argument, NULL, 'm'},
	    {"workers", required_argument, NULL, 'w'},
	    {"timeout", required_argument, NULL, 't'},
	    {"env", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_etl e;
	struct ais_client *c;
	const char *cmd = NULL;
	size_t nenv = 0;
	int rc, ret;

	memset(&e, 0, sizeof(e));
	optind = 0;
	opterr = 0;
	while ((rc = getopt_long(argc, argv, ":c:m:w:t:e:h", longopts, NULL)) !=
	       -1) {
		switch (rc) {
		case 'c':
			cmd = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "filter")) {
				e.mode = AIS_ETL_FILTER;
			} else if (!strcmp(optarg, "worker")) {
				e.mode = AIS_ETL_WORKER;
			} else {
				ais_strv_free(e.env);
				return cli_usage("etl init",
						 "--mode takes filter or "
						 "worker, not '%s'",
						 optarg);
			}
			break;
		case 'w': {
			char *end;
			unsigned long w = strtoul(optarg, &end, 10);

			if (*end || end == optarg || w < 1 || w > 64) {
				ais_strv_free(e.env);
				return cli_usage("etl init",
						 "--workers takes 1 to 64, "
						 "not '%s'",
						 optarg);
			}
			e.workers = (uint32_t)w;
			break;
		}
		case 't':
			e.timeout_ms = parse_ms(optarg);
			if (!e.timeout_ms) {
				ais_strv_free(e.env);
				return cli_usage("etl init",
						 "--timeout takes a duration "
						 "such as 500ms, 30s or 2m, "
						 "at most 1 hour, not '%s'",
						 optarg);
			}
			break;
		case 'e':
			if (ais_etl_env_check(optarg, errmsg)) {
				ais_strv_free(e.env);
				return cli_usage("etl init", "--env: %s",
						 errmsg);
			}
			if (ais_strv_push(&e.env, &nenv, optarg)) {
				ais_strv_free(e.env);
				return cli_failf("etl init: out of memory");
			}
			break;
		case 'h':
			fputs(init_help, stdout);
			ais_strv_free(e.env);
			return CLI_OK;
		default:
			ais_strv_free(e.env);
			return cli_bad_option("etl init", argv, rc);
		}
	}
	if (argc - optind != 1 || !cmd) {
		ais_strv_free(e.env);
		return cli_usage("etl init", "expected NAME and --cmd");
	}
	if (e.workers && e.mode != AIS_ETL_WORKER) {
		ais_strv_free(e.env);
		return cli_usage("etl init", "--workers is for --mode worker");
	}
	if (strlen(argv[optind]) >= sizeof(e.name)) {
		ais_strv_free(e.env);
		return cli_usage("etl init", "a transform's name has at most "
					     "64 characters");
	}
	snprintf(e.name, sizeof(e.name), "%s", argv[optind]);
	e.argv = split_words(cmd, errmsg);
	if (!e.argv) {
		ais_strv_free(e.env);
		return cli_usage("etl init", "--cmd: %s", errmsg);
	}
	c = cli_client("etl init");
	ret = CLI_FAIL;
	if (c) {
		rc = ais_client_etl_init(c, &e, errmsg);
		ais_client_free(c);
		ret = rc ? cli_fail(rc, errmsg, "etl init %s", e.name) : CLI_OK;
	}
	ais_strv_free(e.argv);
	ais_strv_free(e.env);
	return ret;
}

/* The command as one line, words with spaces quoted. */
static void print_cmd(char *const *argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		printf(strpbrk(argv[i], " \t'\"") || !argv[i][0] ? "%s'%s'"
								 : "%s%s",
		       i ? " " : "", argv[i]);
}

static int name_only(const char *cmd, int argc, char **argv)
{
	if (argc == 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(name_help, stdout);
		return -1;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage(cmd, "expected NAME");
	return 0;
}

static int etl_ls(int argc, char **argv)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_client *c;
	struct ais_etl *v;
	size_t n, i;
	int rc;

	if (argc == 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(ls_help, stdout);
		return CLI_OK;
	}
	if (argc != 1)
		return cli_usage("etl ls", "takes no arguments");
	c = cli_client("etl ls");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_etl_list(c, &v, &n, errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "etl ls");
	printf("%-20s  %-6s  %-7s  %8s  %s\n", "NAME", "MODE", "STATE",
	       "TIMEOUT", "COMMAND");
	for (i = 0; i < n; i++) {
		printf("%-20s  %-6s  %-7s  %7us  ", v[i].name,
		       v[i].mode == AIS_ETL_WORKER ? "worker" : "filter",
		       v[i].stopped ? "stopped" : "running",
		       (v[i].timeout_ms ? v[i].timeout_ms : 30000) / 1000);
		print_cmd(v[i].argv);
		putchar('\n');
	}
	ais_etl_list_free(v, n);
	return CLI_OK;
}

static int etl_show(int argc, char **argv)
{
	char errmsg[AIS_ERRMSG_LEN] = "", when[64];
	struct ais_client *c;
	struct ais_etl *v;
	size_t n, i, k;
	int rc = name_only("etl show", argc, argv);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	c = cli_client("etl show");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_etl_list(c, &v, &n, errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "etl show %s", argv[1]);
	for (i = 0; i < n && strcmp(v[i].name, argv[1]); i++)
		;
	if (i == n) {
		ais_etl_list_free(v, n);
		return cli_failf("etl show: no transform %s (ais etl ls)",
				 argv[1]);
	}
	printf("name     %s\nmode     %s\n", v[i].name,
	       v[i].mode == AIS_ETL_WORKER ? "worker" : "filter");
	if (v[i].mode == AIS_ETL_WORKER)
		printf("workers  %u a node\n", v[i].workers ? v[i].workers : 2);
	printf("state    %s\ntimeout  %ums\ncommand  ",
	       v[i].stopped ? "stopped" : "running",
	       v[i].timeout_ms ? v[i].timeout_ms : 30000);
	print_cmd(v[i].argv);
	putchar('\n');
	for (k = 0; v[i].env && v[i].env[k]; k++)
		printf("env      %s\n", v[i].env[k]);
	printf("created  %s\n",
	       cli_format_time(v[i].created_ns, when, sizeof(when)));
	ais_etl_list_free(v, n);
	return CLI_OK;
}

static int etl_named(const char *cmd, int argc, char **argv, int op)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_client *c;
	int rc = name_only(cmd, argc, argv);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	rc = op == 0   ? ais_client_etl_remove(c, argv[1], errmsg)
	     : op == 1 ? ais_client_etl_state(c, argv[1], true, errmsg)
		       : ais_client_etl_state(c, argv[1], false, errmsg);
	ais_client_free(c);
	return rc ? cli_fail(rc, errmsg, "%s %s", cmd, argv[1]) : CLI_OK;
}

static int etl_rm(int argc, char **argv)
{
	return etl_named("etl rm", argc, argv, 0);
}

static int etl_stop(int argc, char **argv)
{
	return etl_named("etl stop", argc, argv, 1);
}

static int etl_start(int argc, char **argv)
{
	return etl_named("etl start", argc, argv, 2);
}

static const char bucket_help[] =
    "Usage: ais etl bucket NAME ais://SRC[/PREFIX] ais://DST [OPTIONS]\n"
    "\n"
    "Starts a job that runs transform NAME over every object of bucket SRC\n"
    "(under PREFIX) and writes each output to bucket DST under the same\n"
    "name. Every node transforms the objects it holds, so that no input\n"
    "byte crosses the network, and sends each output to its owner in DST:\n"
    "an output is stored whole or not at all. The job survives the restart\n"
    "of a node (which skips what it had written already) and is shown by\n"
    "'ais job show'. The command waits for it with a progress line and exits\n"
    "0 only if every object was transformed; without --continue-on-error\n"
    "the first failure stops the job everywhere. Interrupted (Ctrl-C), it\n"
    "leaves the job running: 'ais job stop ID' stops it.\n"
    "\n"
    "Options:\n"
    "      --etl-args A          the transform's arguments\n"
    "      --ext FROM:TO         only names ending in .FROM, written as .TO\n"
    "                            (e.g. jpg:npy)\n"
    "      --members             every member of every shard (tar, tar.gz,\n"
    "                            tar.lz4) through the transform (with --ext,\n"
    "                            those members; the others are copied), into\n"
    "                            a new tar shard of the same name (.tar for a\n"
    "                            compressed one), members in their order: a\n"
    "                            WebDataset re-encoded sample by sample\n"
    "      --dry-run             transform and count, write nothing\n"
    "      --continue-on-error   go on after a failure (ais etl errors NAME\n"
    "                            lists them)\n"
    "      --async               print the job's id and return at once\n"
    "  -q, --quiet               no progress line\n"
    "  -h, --help                show this help\n"
    "\n"
    "Example:\n"
    "  ais etl bucket resize ais://raw/train/ ais://train-224 --ext "
    "jpg:jpg\n"
    "  ais etl bucket resize ais://wds/ ais://wds-npy --members --ext "
    "jpg:npy \\\n"
    "      --etl-args 224,npy\n";

static const char errors_help[] =
    "Usage: ais etl errors NAME\n"
    "\n"
    "The latest failures of transform NAME (GETs through it and jobs) on\n"
    "every node that answers, newest first: time, node, object, job, and\n"
    "why. Each node keeps its last 256, in memory.\n";

/* Waits for job id to end on every node, with a progress line on a
 * terminal. CLI_OK if every node finished with no failure. */
static int wait_job(struct ais_client *c, const char *id, bool quiet)
{
	char errmsg[AIS_ERRMSG_LEN] = "", last[AIS_ERRMSG_LEN] = "";
	bool tty = !quiet && isatty(STDERR_FILENO);
	uint64_t t0 = ais_now_mono_ns();

	for (;;) {
		struct ais_cluster_info *ci = NULL;
		uint64_t total = 0, ok = 0, skipped = 0, failed = 0, bin = 0,
			 bout = 0;
		size_t i, k, ended = 0, stopped = 0, away = 0;
		char in_s[32], out_s[32];
		int rc;

		if (cli_interrupted) {
			if (tty)
				fputs("\r\033[K", stderr);
			fprintf(stderr,
				"ais: etl bucket: the job %s goes on (ais job "
				"show; ais job stop %s)\n",
				id, id);
			return CLI_INTERRUPTED;
		}
		rc = ais_client_cluster_info(c, &ci, errmsg);
		if (rc < 0)
			return cli_fail(rc, errmsg, "etl bucket: job %s", id);
		for (i = 0; i < ci->n_nodes; i++) {
			const struct ais_node_info *n = &ci->nodes[i];
			const struct ais_etl_job_status *s = NULL;

			if (n->status) {
				away++;
				continue;
			}
			for (k = 0; k < n->n_etl_jobs; k++)
				if (!strcmp(n->etl_jobs[k].id, id))
					s = &n->etl_jobs[k];
			if (!s)
				continue;
			total += s->total;
			ok += s->transformed;
			skipped += s->skipped;
			failed += s->failed;
			bin += s->bytes_in;
			bout += s->bytes_out;
			if (s->done || s->stopped)
				ended++;
			if (s->stopped)
				stopped++;
			if (s->last_error[0])
				snprintf(last, sizeof(last), "%s: %s", n->id,
					 s->last_error);
		}
		ais_format_size(bin, in_s, sizeof(in_s));
		ais_format_size(bout, out_s, sizeof(out_s));
		if (ended == ci->n_nodes) {
			double secs = (double)(ais_now_mono_ns() - t0) / 1e9;

			if (tty)
				fputs("\r\033[K", stderr);
			printf("etl job %s: %llu transformed (%s in, %s out), "
			       "%llu already there, %llu failed of %llu, in "
			       "%.1f s%s\n",
			       id, (unsigned long long)ok, in_s, out_s,
			       (unsigned long long)skipped,
			       (unsigned long long)failed,
			       (unsigned long long)total, secs,
			       stopped ? " (stopped)" : "");
			ais_cluster_info_free(ci);
			if (failed || stopped) {
				if (last[0])
					fprintf(stderr, "ais: etl bucket: %s\n",
						last);
				return CLI_FAIL;
			}
			return CLI_OK;
		}
		if (tty)
			fprintf(stderr,
				"\r\033[Ketl %s: %llu/%llu objects, %llu "
				"failed, %s -> %s%s",
				id, (unsigned long long)(ok + skipped + failed),
				(unsigned long long)total,
				(unsigned long long)failed, in_s, out_s,
				away ? " (a node does not answer)" : "");
		ais_cluster_info_free(ci);
		usleep(300000);
	}
}

static int etl_bucket(int argc, char **argv)
{
	enum {
		OPT_ARGS = 256,
		OPT_EXT,
		OPT_DRY,
		OPT_CONT,
		OPT_ASYNC,
		OPT_MEMB
	};
	static const struct option longopts[] = {
	    {"etl-args", required_argument, NULL, OPT_ARGS},
	    {"ext", required_argument, NULL, OPT_EXT},
	    {"dry-run", no_argument, NULL, OPT_DRY},
	    {"continue-on-error", no_argument, NULL, OPT_CONT},
	    {"async", no_argument, NULL, OPT_ASYNC},
	    {"members", no_argument, NULL, OPT_MEMB},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char errmsg[AIS_ERRMSG_LEN] = "", id[48] = "";
	struct ais_etl_job job;
	struct ais_client *c;
	const char *prefix, *dname;
	bool async = false, quiet = false;
	int ch, rc;

	memset(&job, 0, sizeof(job));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_ARGS:
			if (strlen(optarg) >= sizeof(job.etl_args))
				return cli_usage("etl bucket",
						 "--etl-args: too long");
			snprintf(job.etl_args, sizeof(job.etl_args), "%s",
				 optarg);
			break;
		case OPT_EXT: {
			const char *colon = strchr(optarg, ':');

			if (!colon || colon == optarg || !colon[1] ||
			    (size_t)(colon - optarg) >= sizeof(job.ext_from) ||
			    strlen(colon + 1) >= sizeof(job.ext_to) ||
			    strchr(optarg, '/'))
				return cli_usage("etl bucket",
						 "--ext takes FROM:TO, e.g. "
						 "jpg:npy, not '%s'",
						 optarg);
			snprintf(job.ext_from, sizeof(job.ext_from), "%.*s",
				 (int)(colon - optarg), optarg);
			snprintf(job.ext_to, sizeof(job.ext_to), "%s",
				 colon + 1);
			break;
		}
		case OPT_DRY:
			job.dry_run = true;
			break;
		case OPT_CONT:
			job.continue_on_error = true;
			break;
		case OPT_ASYNC:
			async = true;
			break;
		case OPT_MEMB:
			job.members = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(bucket_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("etl bucket", argv, ch);
		}
	}
	if (argc - optind != 3)
		return cli_usage("etl bucket",
				 "expected NAME ais://SRC[/PREFIX] ais://DST");
	if (strlen(argv[optind]) >= sizeof(job.etl))
		return cli_usage("etl bucket", "a transform's name has at most "
					       "64 characters");
	snprintf(job.etl, sizeof(job.etl), "%s", argv[optind]);
	rc = cli_parse_uri("etl bucket", argv[optind + 1], false,
			   job.src_bucket, &prefix);
	if (rc)
		return rc;
	rc = cli_parse_uri("etl bucket", argv[optind + 2], false,
			   job.dst_bucket, &dname);
	if (rc)
		return rc;
	if (dname[0])
		return cli_usage("etl bucket",
				 "the destination is a bucket: ais://%s, not "
				 "ais://%s/%s (outputs keep their names)",
				 job.dst_bucket, job.dst_bucket, dname);
	if (strlen(prefix) >= sizeof(job.prefix))
		return cli_usage("etl bucket", "prefix too long");
	snprintf(job.prefix, sizeof(job.prefix), "%s", prefix);
	c = cli_client("etl bucket");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_etl_bucket(c, &job, id, errmsg);
	if (rc) {
		ais_client_free(c);
		return cli_fail(rc, errmsg, "etl bucket %s", job.etl);
	}
	if (async) {
		printf("%s\n", id);
		ais_client_free(c);
		return CLI_OK;
	}
	if (!quiet)
		fprintf(stderr, "etl job %s started (ais job show)\n", id);
	rc = wait_job(c, id, quiet);
	ais_client_free(c);
	return rc;
}

static int etl_errors_cmd(int argc, char **argv)
{
	char errmsg[AIS_ERRMSG_LEN] = "", when[64];
	struct ais_etl_error *v;
	struct ais_client *c;
	size_t n, i;
	int rc;

	if (argc == 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(errors_help, stdout);
		return CLI_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage("etl errors", "expected NAME");
	c = cli_client("etl errors");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_etl_errors(c, argv[1], &v, &n, errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "etl errors %s", argv[1]);
	for (i = 0; i < n; i++)
		printf("%s  %s  ais://%s/%s  %s  %s\n",
		       cli_format_time(v[i].time_ns, when, sizeof(when)),
		       v[i].node, v[i].bucket, v[i].name,
		       v[i].job_id[0] ? v[i].job_id : "get", v[i].message);
	if (n == 0)
		fprintf(stderr,
			"no failures of %s on the nodes that answered\n",
			argv[1]);
	ais_etl_errors_free(v, n);
	return CLI_OK;
}

int cmd_etl(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"init", etl_init, "register a transform"},
	    {"ls", etl_ls, "list the transforms"},
	    {"show", etl_show, "show a transform"},
	    {"stop", etl_stop, "refuse a transform until started"},
	    {"start", etl_start, "serve a stopped transform again"},
	    {"rm", etl_rm, "unregister a transform"},
	    {"bucket", etl_bucket, "transform a bucket into another"},
	    {"errors", etl_errors_cmd, "a transform's latest failures"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("etl", etl_help, cmds, argc, argv);
}
