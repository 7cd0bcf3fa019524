/* ais cluster show: the nodes of the cluster map with their state and
 * capacity. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "map.h"
#include "util.h"

static const char cluster_help[] =
    "Usage: ais cluster COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  show  the nodes of the cluster: address, state, mountpaths,\n"
    "        capacity, uptime; then the map version and total capacity\n"
    "\n"
    "Example:\n"
    "  ais --endpoint 127.0.0.1:51080 cluster show\n";

static const char show_help[] =
    "Usage: ais cluster show [OPTIONS]\n"
    "\n"
    "Asks every node of the cluster map for its state and prints a table:\n"
    "node id, address, map state, whether it answers, mountpaths, used and\n"
    "total capacity, uptime and requests served; then a line with the map\n"
    "version, the node count and the free capacity. A node that does not\n"
    "answer is shown as down with the reason.\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais cluster show\n";

static int cluster_show(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char errmsg[AIS_ERRMSG_LEN] = "";
	char addr[AIS_HOST_MAX + 8], used_s[32], tot_s[32], free_s[32];
	char cap[80], up_s[32], req_s[32];
	struct ais_cluster_info *ci = NULL;
	struct ais_cluster_info one = {0};
	uint64_t all_total = 0, all_free = 0;
	struct ais_client *c;
	size_t i, idw = 4, addrw = 7, up = 0;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch != 'h')
			return cli_bad_option("cluster show", argv, ch);
		fputs(show_help, stdout);
		return CLI_OK;
	}
	if (argc != optind)
		return cli_usage("cluster show", "unexpected argument '%s'",
				 argv[optind]);
	c = cli_client("cluster show");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_cluster_info(c, &ci, errmsg);
	ais_client_free(c);
	if (rc < 0)
		return cli_fail(rc, errmsg, "cluster show");

	for (i = 0; i < ci->n_nodes; i++) {
		struct ais_node_info *n = &ci->nodes[i];

		snprintf(addr, sizeof(addr), "%s:%u", n->host, n->port);
		if (strlen(n->id) > idw)
			idw = strlen(n->id);
		if (strlen(addr) > addrw)
			addrw = strlen(addr);
	}
	printf("%-*s  %-*s  %-11s  %-4s  %6s  %-23s  %7s  %s\n", (int)idw,
	       "NODE", (int)addrw, "ADDRESS", "STATE", "UP", "MPATHS",
	       "USED / TOTAL", "UPTIME", "REQUESTS");
	for (i = 0; i < ci->n_nodes; i++) {
		struct ais_node_info *n = &ci->nodes[i];
		uint64_t total = 0, freeb = 0;

		snprintf(addr, sizeof(addr), "%s:%u", n->host, n->port);
		if (n->status != 0) {
			printf("%-*s  %-*s  %-11s  %-4s  %6s  %-23s  %7s  %s\n",
			       (int)idw, n->id, (int)addrw, addr,
			       n->state == AIS_NODE_MAINTENANCE ? "maintenance"
								: "online",
			       "down", "-", strerror(-n->status), "-", "-");
			continue;
		}
		up++;
		/* This node's distinct file systems. */
		one.n_nodes = 1;
		one.nodes = (struct ais_node_info *)n;
		ais_cluster_info_capacity(&one, &total, &freeb);
		ais_format_size(total - (freeb < total ? freeb : total), used_s,
				sizeof(used_s));
		ais_format_size(total, tot_s, sizeof(tot_s));
		snprintf(cap, sizeof(cap), "%s / %s", used_s, tot_s);
		snprintf(req_s, sizeof(req_s), "%llu",
			 (unsigned long long)n->requests);
		printf("%-*s  %-*s  %-11s  %-4s  %6zu  %-23s  %7s  %s\n",
		       (int)idw, n->id, (int)addrw, addr,
		       n->state == AIS_NODE_MAINTENANCE ? "maintenance"
							: "online",
		       "up", n->n_mountpaths, cap,
		       cli_format_duration(n->uptime_s, up_s, sizeof(up_s)),
		       req_s);
	}
	ais_cluster_info_capacity(ci, &all_total, &all_free);
	ais_format_size(all_free, free_s, sizeof(free_s));
	ais_format_size(all_total, tot_s, sizeof(tot_s));
	printf("map version %llu, %zu node%s (%zu up), capacity %s of %s "
	       "free\n",
	       (unsigned long long)ci->map_version, ci->n_nodes,
	       ci->n_nodes == 1 ? "" : "s", up, free_s, tot_s);
	ais_cluster_info_free(ci);
	return CLI_OK;
}

int cmd_cluster(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"show", cluster_show, "nodes, addresses, capacity, map version"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("cluster", cluster_help, cmds, argc, argv);
}
