/* ais cluster show | maintenance | decommission | remove: the nodes of the
 * cluster map with their state, Raft role and rebalance, and the changes of
 * a node's lifecycle. */
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
    "  show                       the nodes: address, Raft address, state,\n"
    "                             role, map version, rebalance, capacity\n"
    "  maintenance start|stop NODE  take a node out of placement (its data\n"
    "                             stays and is served) or put it back\n"
    "  decommission NODE          move a node's data away, then remove it\n"
    "  remove NODE --force        remove a node that is gone for good\n"
    "\n"
    "NODE is a node id or its HOST:PORT. Run 'ais cluster COMMAND --help'\n"
    "for a command's options.\n"
    "\n"
    "Examples:\n"
    "  ais --endpoint 127.0.0.1:51080 cluster show\n"
    "  ais cluster maintenance start 127.0.0.1:51082\n";

static const char show_help[] =
    "Usage: ais cluster show [OPTIONS]\n"
    "\n"
    "Asks every node of the cluster map for its state and prints a header\n"
    "line (the map version and the Raft leader; 'metadata READ-ONLY' when\n"
    "no leader is elected), then one line per node: node id, address, Raft\n"
    "address, state in the map (online, maintenance, decommissioning), role\n"
    "(leader, voter, standby, spare), whether it is up, the version of the\n"
    "map it holds, mountpaths, used and total capacity, uptime and requests\n"
    "served. A node with a rebalance has a second line with its progress;\n"
    "one that the map marks down (the leader cannot reach it) is not asked;\n"
    "one that does not answer is shown as unreachable with the reason. A\n"
    "node that took writes whose copies on other nodes it could not make\n"
    "yet (a copy's node down or full) says how many objects are degraded;\n"
    "it makes those copies when their nodes can take them.\n"
    "Last, the node count, the free capacity and the degraded objects.\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais cluster show\n";

static const char maint_help[] =
    "Usage: ais cluster maintenance start|stop [OPTIONS] NODE\n"
    "\n"
    "start: takes NODE (a node id or HOST:PORT) out of placement: new\n"
    "objects go elsewhere and a rebalance moves its share to the other\n"
    "nodes, while it keeps and serves what it holds (for a reboot, a disk\n"
    "swap). stop: puts it back into placement. Returns once the change is\n"
    "committed (a rebalance may go on: see 'ais job show').\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Examples:\n"
    "  ais cluster maintenance start 127.0.0.1:51082\n"
    "  ais cluster maintenance stop 3f2a9c1e\n";

static const char decom_help[] =
    "Usage: ais cluster decommission [OPTIONS] NODE\n"
    "\n"
    "Takes NODE (a node id or HOST:PORT) out of placement, moves every\n"
    "object it holds to the other nodes, and then removes it from the map;\n"
    "no data is lost. Returns once the decommission has started; follow it\n"
    "with 'ais job show' and 'ais cluster show'.\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais cluster decommission 127.0.0.1:51083\n";

static const char remove_help[] =
    "Usage: ais cluster remove --force [OPTIONS] NODE\n"
    "\n"
    "Removes NODE (a node id or HOST:PORT) from the map at once, for a\n"
    "node that is gone for good (a dead machine). Nothing is moved off it:\n"
    "its objects that exist nowhere else are lost, which is why --force is\n"
    "required. For a node that still runs, use 'ais cluster decommission'.\n"
    "\n"
    "Options:\n"
    "  --force     confirm that the node's data may be lost\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais cluster remove --force 127.0.0.1:51083\n";

/* "12 objects (3.4 MiB) moved, 5 objects (1.2 MiB) left, 0 errors" into
 * buf. */
static void format_rebalance(const struct ais_rebalance_info *rb, char *buf,
			     size_t len)
{
	char bytes[32], left[32];

	ais_format_size(rb->bytes_moved, bytes, sizeof(bytes));
	ais_format_size(rb->bytes_left, left, sizeof(left));
	snprintf(buf, len,
		 "rebalance %llu %s: %llu objects (%s) moved, %llu objects "
		 "(%s) left, %llu errors%s%s",
		 (unsigned long long)rb->id, rb->running ? "running" : "done",
		 (unsigned long long)rb->objects_moved, bytes,
		 (unsigned long long)rb->objects_left, left,
		 (unsigned long long)rb->errors,
		 rb->last_error[0] ? "; last: " : "", rb->last_error);
}

/* The role shown for a node: "leader" for the Raft leader. */
static const char *role_name(const struct ais_node_info *n)
{
	return n->is_leader ? "leader" : ais_node_role_name(n->role);
}

static const char *up_name(const struct ais_node_info *n)
{
	if (n->status == 0)
		return "up";
	return n->down ? "down" : "unreachable";
}

/* Column widths of the node table. */
struct widths {
	int id, addr, raft;
};

static void print_node(const struct ais_node_info *n, const struct widths *w)
{
	char addr[AIS_ADDR_MAX], used_s[32], tot_s[32], cap[80], up_s[32];
	char req_s[32], map_s[32], rb[AIS_ERRMSG_LEN + 160];
	struct ais_cluster_info one = {0};
	uint64_t total = 0, freeb = 0;

	snprintf(addr, sizeof(addr), "%s:%u", n->host, n->port);
	if (n->status != 0) {
		printf("%-*s  %-*s  %-*s  %-15s  %-7s  %-11s  %5s  %6s  %-23s  "
		       "%7s  %s\n",
		       w->id, n->id, w->addr, addr, w->raft,
		       n->raft_addr[0] ? n->raft_addr : "-",
		       ais_node_state_name(n->state), role_name(n), up_name(n),
		       "-", "-", "-", "-", "-");
		printf("  %s: %s\n",
		       n->down ? "marked down in the map (not asked)"
			       : "unreachable",
		       n->errmsg[0] ? n->errmsg : strerror(-n->status));
		return;
	}
	/* This node's distinct file systems. */
	one.n_nodes = 1;
	one.nodes = (struct ais_node_info *)n;
	ais_cluster_info_capacity(&one, &total, &freeb);
	ais_format_size(total - (freeb < total ? freeb : total), used_s,
			sizeof(used_s));
	ais_format_size(total, tot_s, sizeof(tot_s));
	snprintf(cap, sizeof(cap), "%s / %s", used_s, tot_s);
	snprintf(req_s, sizeof(req_s), "%llu", (unsigned long long)n->requests);
	snprintf(map_s, sizeof(map_s), "v%llu",
		 (unsigned long long)n->map_version);
	printf("%-*s  %-*s  %-*s  %-15s  %-7s  %-11s  %5s  %6zu  %-23s  %7s  "
	       "%s\n",
	       w->id, n->id, w->addr, addr, w->raft,
	       n->raft_addr[0] ? n->raft_addr : "-",
	       ais_node_state_name(n->state), role_name(n), up_name(n), map_s,
	       n->n_mountpaths, cap,
	       cli_format_duration(n->uptime_s, up_s, sizeof(up_s)), req_s);
	/* A node that has never had a rebalance has nothing to show. */
	if (n->rebalance.present && (n->rebalance.id || n->rebalance.running)) {
		format_rebalance(&n->rebalance, rb, sizeof(rb));
		printf("  %s\n", rb);
	}
	if (n->copies_pending)
		printf("  degraded: %llu object%s whose copies on other nodes "
		       "wait for those nodes\n",
		       (unsigned long long)n->copies_pending,
		       n->copies_pending == 1 ? "" : "s");
}

static int cluster_show(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char errmsg[AIS_ERRMSG_LEN] = "";
	char addr[AIS_ADDR_MAX], tot_s[32], free_s[32];
	struct ais_cluster_info *ci = NULL;
	uint64_t all_total = 0, all_free = 0;
	struct widths w = {4, 7, 4};
	struct ais_client *c;
	uint64_t degraded = 0;
	size_t i, up = 0;
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
		if ((int)strlen(n->id) > w.id)
			w.id = (int)strlen(n->id);
		if ((int)strlen(addr) > w.addr)
			w.addr = (int)strlen(addr);
		if ((int)strlen(n->raft_addr) > w.raft)
			w.raft = (int)strlen(n->raft_addr);
		if (n->status == 0)
			up++;
		degraded += n->copies_pending;
	}
	if (!ci->replicated)
		printf("cluster map v%llu (no Raft metadata on these nodes)\n",
		       (unsigned long long)ci->map_version);
	else if (ci->leader[0])
		printf("cluster map v%llu, leader %s\n",
		       (unsigned long long)ci->map_version, ci->leader);
	else
		printf("cluster map v%llu, no leader: metadata READ-ONLY: no "
		       "Raft leader (majority of voters lost)\n",
		       (unsigned long long)ci->map_version);
	printf("%-*s  %-*s  %-*s  %-15s  %-7s  %-11s  %5s  %6s  %-23s  %7s  "
	       "%s\n",
	       w.id, "NODE", w.addr, "ADDRESS", w.raft, "RAFT", "STATE", "ROLE",
	       "UP", "MAP", "MPATHS", "USED / TOTAL", "UPTIME", "REQUESTS");
	for (i = 0; i < ci->n_nodes; i++)
		print_node(&ci->nodes[i], &w);
	ais_cluster_info_capacity(ci, &all_total, &all_free);
	ais_format_size(all_free, free_s, sizeof(free_s));
	ais_format_size(all_total, tot_s, sizeof(tot_s));
	printf("%zu node%s (%zu up), capacity %s of %s free", ci->n_nodes,
	       ci->n_nodes == 1 ? "" : "s", up, free_s, tot_s);
	if (degraded)
		printf(", %llu degraded object%s (copies missing)",
		       (unsigned long long)degraded, degraded == 1 ? "" : "s");
	printf("\n");
	ais_cluster_info_free(ci);
	return CLI_OK;
}

/* Parses "[--force] NODE" (force_ok: --force is an option here) for cmd
 * and sends the change. done: what happened, for "node X: DONE; map vN". */
static int change_cmd(const char *cmd, const char *help, int kind,
		      bool force_ok, const char *done, int argc, char **argv)
{
	static const struct option with_force[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_client *c;
	bool force = false;
	const char *node;
	int ch, rc;

	optind = 0;
	opterr = 0;
	/* Without --force: the table after it. */
	while ((ch = getopt_long(argc, argv, ":h",
				 force_ok ? with_force : with_force + 1,
				 NULL)) != -1) {
		if (ch == 'h') {
			fputs(help, stdout);
			return CLI_OK;
		}
		if (ch != 'f')
			return cli_bad_option(cmd, argv, ch);
		force = true;
	}
	if (argc == optind)
		return cli_usage(cmd, "expected NODE (a node id or HOST:PORT)");
	if (argc - optind > 1)
		return cli_usage(cmd, "unexpected argument '%s'",
				 argv[optind + 1]);
	node = argv[optind];
	if (kind == AIS_CHANGE_REMOVE && !force)
		return cli_usage(cmd,
				 "removing node %s drops it from the map at "
				 "once, moving nothing: its objects that exist "
				 "nowhere else are lost. If it is gone for "
				 "good, add --force; if it still runs, use "
				 "'ais cluster decommission'",
				 node);
	c = cli_client(cmd);
	if (!c)
		return CLI_FAIL;
	rc = ais_client_cluster_change(c, kind, node, force, errmsg);
	if (rc == 0)
		printf("node %s: %s; map v%llu\n", node, done,
		       (unsigned long long)ais_client_map_version(c));
	ais_client_free(c);
	if (rc < 0)
		return cli_fail(rc, errmsg, "%s %s", cmd, node);
	return CLI_OK;
}

static int cluster_maintenance(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (!strcmp(what, "-h") || !strcmp(what, "--help")) {
		fputs(maint_help, stdout);
		return CLI_OK;
	}
	if (!strcmp(what, "start"))
		return change_cmd("cluster maintenance start", maint_help,
				  AIS_CHANGE_MAINTENANCE_START, false,
				  "maintenance started", argc - 1, argv + 1);
	if (!strcmp(what, "stop"))
		return change_cmd("cluster maintenance stop", maint_help,
				  AIS_CHANGE_MAINTENANCE_STOP, false,
				  "maintenance stopped", argc - 1, argv + 1);
	if (!what[0])
		return cli_usage("cluster maintenance",
				 "expected start or stop, then NODE");
	return cli_usage("cluster maintenance", "'%s': expected start or stop",
			 what);
}

static int cluster_decommission(int argc, char **argv)
{
	return change_cmd("cluster decommission", decom_help,
			  AIS_CHANGE_DECOMMISSION, false,
			  "decommission started (its objects move to the "
			  "other nodes, then it leaves the map)",
			  argc, argv);
}

static int cluster_remove(int argc, char **argv)
{
	return change_cmd("cluster remove", remove_help, AIS_CHANGE_REMOVE,
			  true, "removed from the map", argc, argv);
}

int cmd_cluster(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"show", cluster_show, "nodes, addresses, roles, rebalance"},
	    {"maintenance", cluster_maintenance,
	     "take a node out of placement or back"},
	    {"decommission", cluster_decommission,
	     "move a node's data away, then remove it"},
	    {"remove", cluster_remove, "remove a node that is gone for good"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("cluster", cluster_help, cmds, argc, argv);
}
