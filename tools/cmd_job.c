/* ais job show | stop | rm: the jobs of the nodes: the rebalance each node
 * runs when placement changes, and offline transforms (ais etl bucket). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util.h"

static const char job_help[] =
    "Usage: ais job COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  show     the rebalance of every node: running or done, objects and\n"
    "           bytes moved, objects left, errors; and the offline\n"
    "           transforms (ais etl bucket) with every node's part\n"
    "  stop ID  stop offline transform ID on every node\n"
    "  rm ID    forget it (stopping it first)\n"
    "\n"
    "Example:\n"
    "  ais job show\n";

static const char show_help[] =
    "Usage: ais job show [OPTIONS]\n"
    "\n"
    "Asks every node of the cluster map for its rebalance (the moving of\n"
    "objects to their new owners after a node joins, enters maintenance,\n"
    "is decommissioned or removed) and prints one line per node: node id,\n"
    "the placement change the rebalance works for (its id), running or\n"
    "done, objects and bytes moved, objects and bytes left (counted by a\n"
    "walk before each pass), objects fetched from a previous owner (by an\n"
    "op that changes an object not moved yet; reads are relayed), errors,\n"
    "and the last error.\n"
    "Then the offline transforms the cluster keeps (ais etl bucket), one\n"
    "line per job and node: objects to transform, transformed, already there\n"
    "(a resumed node), failed, bytes in and out, state, last error.\n"
    "A node that does not answer is shown as unreachable; one that reports\n"
    "no rebalance (a node without it, or none yet) as '-'.\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais job show\n";

/* One line per offline job and node that reports it. */
static void show_etl_jobs(const struct ais_cluster_info *ci)
{
	bool head = false;

	for (size_t i = 0; i < ci->n_nodes; i++) {
		const struct ais_node_info *n = &ci->nodes[i];

		for (size_t k = 0; k < n->n_etl_jobs; k++) {
			const struct ais_etl_job_status *s = &n->etl_jobs[k];
			char in_s[32], out_s[32];

			if (!head) {
				printf("\n%-16s  %-16s  %9s  %11s  %9s  %7s  "
				       "%10s  %10s  %-8s  %s\n",
				       "ETL JOB", "NODE", "OBJECTS",
				       "TRANSFORMED", "SKIPPED", "FAILED", "IN",
				       "OUT", "STATE", "LAST ERROR");
				head = true;
			}
			ais_format_size(s->bytes_in, in_s, sizeof(in_s));
			ais_format_size(s->bytes_out, out_s, sizeof(out_s));
			printf("%-16s  %-16s  %9llu  %11llu  %9llu  %7llu  "
			       "%10s  %10s  %-8s  %s\n",
			       s->id, n->id, (unsigned long long)s->total,
			       (unsigned long long)s->transformed,
			       (unsigned long long)s->skipped,
			       (unsigned long long)s->failed, in_s, out_s,
			       s->running   ? "running"
			       : s->done    ? "done"
			       : s->stopped ? "stopped"
					    : "waiting",
			       s->last_error[0] ? s->last_error : "-");
		}
	}
}

static int job_show(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_cluster_info *ci = NULL;
	struct ais_client *c;
	int ch, rc, idw = 4;
	size_t i, running = 0;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch != 'h')
			return cli_bad_option("job show", argv, ch);
		fputs(show_help, stdout);
		return CLI_OK;
	}
	if (argc != optind)
		return cli_usage("job show", "unexpected argument '%s'",
				 argv[optind]);
	c = cli_client("job show");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_cluster_info(c, &ci, errmsg);
	ais_client_free(c);
	if (rc < 0)
		return cli_fail(rc, errmsg, "job show");
	for (i = 0; i < ci->n_nodes; i++)
		if ((int)strlen(ci->nodes[i].id) > idw)
			idw = (int)strlen(ci->nodes[i].id);
	printf("%-*s  %-9s  %-11s  %9s  %10s  %9s  %10s  %9s  %7s  %s\n", idw,
	       "NODE", "REBALANCE", "STATE", "MOVED", "BYTES", "LEFT",
	       "BYTES-LEFT", "FETCHED", "ERRORS", "LAST ERROR");
	for (i = 0; i < ci->n_nodes; i++) {
		const struct ais_node_info *n = &ci->nodes[i];
		const struct ais_rebalance_info *rb = &n->rebalance;
		char id_s[32], bytes[32], left[32];

		if (n->status != 0) {
			printf("%-*s  %-9s  %-11s  %9s  %10s  %9s  %10s  %9s  "
			       "%7s  %s\n",
			       idw, n->id, "-",
			       n->down ? "down" : "unreachable", "-", "-", "-",
			       "-", "-", "-",
			       n->errmsg[0] ? n->errmsg : strerror(-n->status));
			continue;
		}
		if (!rb->present) {
			printf("%-*s  %-9s  %-11s  %9s  %10s  %9s  %10s  %9s  "
			       "%7s  %s\n",
			       idw, n->id, "-", "-", "-", "-", "-", "-", "-",
			       "-", "-");
			continue;
		}
		if (rb->running)
			running++;
		snprintf(id_s, sizeof(id_s), "%llu",
			 (unsigned long long)rb->id);
		ais_format_size(rb->bytes_moved, bytes, sizeof(bytes));
		ais_format_size(rb->bytes_left, left, sizeof(left));
		printf("%-*s  %-9s  %-11s  %9llu  %10s  %9llu  %10s  %9llu  "
		       "%7llu  "
		       "%s\n",
		       idw, n->id, rb->id ? id_s : "-",
		       rb->running ? "running" : "done",
		       (unsigned long long)rb->objects_moved, bytes,
		       (unsigned long long)rb->objects_left, left,
		       (unsigned long long)rb->objects_fetched,
		       (unsigned long long)rb->errors,
		       rb->last_error[0] ? rb->last_error : "-");
	}
	printf("map v%llu: %zu rebalance%s running\n",
	       (unsigned long long)ci->map_version, running,
	       running == 1 ? "" : "s");
	show_etl_jobs(ci);
	ais_cluster_info_free(ci);
	return CLI_OK;
}

static int job_named(const char *cmd, int argc, char **argv, bool rm)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_client *c;
	int rc;

	if (argc == 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: ais %s ID\n\n%s\n", cmd,
		       rm ? "Forgets offline transform ID (stopping it "
			    "first); its outputs stay."
			  : "Stops offline transform ID on every node; what "
			    "it wrote stays.");
		return CLI_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage(cmd, "expected a job ID (ais job show)");
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	rc = rm ? ais_client_job_remove(c, argv[1], errmsg)
		: ais_client_job_stop(c, argv[1], errmsg);
	ais_client_free(c);
	if (rc)
		return cli_fail(rc, errmsg, "%s %s", cmd, argv[1]);
	return CLI_OK;
}

static int job_stop(int argc, char **argv)
{
	return job_named("job stop", argc, argv, false);
}

static int job_rm(int argc, char **argv)
{
	return job_named("job rm", argc, argv, true);
}

int cmd_job(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"show", job_show, "the rebalance of every node, and ETL jobs"},
	    {"stop", job_stop, "stop an offline transform"},
	    {"rm", job_rm, "forget an offline transform"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("job", job_help, cmds, argc, argv);
}
