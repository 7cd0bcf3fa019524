/* ais job show: the jobs of the nodes; today the rebalance each node runs
 * when placement changes. */
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
    "  show  the rebalance of every node: running or done, objects and\n"
    "        bytes moved, objects left, errors\n"
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
    "A node that does not answer is shown as unreachable; one that reports\n"
    "no rebalance (a node without it, or none yet) as '-'.\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais job show\n";

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
	ais_cluster_info_free(ci);
	return CLI_OK;
}

int cmd_job(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"show", job_show, "the rebalance of every node"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("job", job_help, cmds, argc, argv);
}
