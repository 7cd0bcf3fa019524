/* ais scrub: every copy checked block by block on every node, corrupt
 * copies repaired from good ones, missing copies made, strays removed. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "progress.h"
#include "util.h"

static const char scrub_help[] =
    "Usage: ais scrub [OPTIONS] [ais://BUCKET[/PREFIX]]\n"
    "\n"
    "Starts a scrub on every node: each reads every copy it holds (of the\n"
    "bucket and prefix, or of everything) and checks it block by block\n"
    "against its checksums. A corrupt copy is replaced by a good copy from\n"
    "another node (buckets with copies > 1); one with no good copy anywhere\n"
    "is listed as corrupt. A copy missing on a node of an object's copy set\n"
    "is made; a copy left on a node outside the set (an interrupted\n"
    "rebalance) is removed once the set has the object. Scrubs run at low\n"
    "priority and pause while clients are served. The command waits with a\n"
    "progress line and prints what each node found.\n"
    "\n"
    "Options:\n"
    "      --async   start the scrub and return at once (follow it with\n"
    "                'ais scrub --status')\n"
    "      --status  show each node's current or last scrub, start nothing\n"
    "  -q, --quiet   no progress line\n"
    "  -h, --help    show this help\n"
    "\n"
    "Exit status: 0 when every copy is good or was repaired, 1 when a\n"
    "corrupt copy could not be repaired, a node did not scrub, or an error.\n"
    "\n"
    "Examples:\n"
    "  ais scrub\n"
    "  ais scrub ais://train/shards/\n"
    "  ais scrub --async ais://train && ais scrub --status\n";

/* One line per node; returns the unrepaired and failed count. */
static int report(const struct ais_cluster_info *ci)
{
	uint64_t tot[7] = {0};
	int bad = 0;
	size_t i, j;

	printf("%-16s  %10s  %10s  %8s  %8s  %7s  %7s  %6s  %s\n", "NODE",
	       "CHECKED", "BYTES", "CORRUPT", "REPAIRED", "MADE", "STRAYS",
	       "ERRORS", "STATE");
	for (i = 0; i < ci->n_nodes; i++) {
		const struct ais_node_info *n = &ci->nodes[i];
		const struct ais_scrub_info *s = &n->scrub;
		char bytes[32];

		if (n->status || !s->present || !s->id) {
			printf("%-16s  %s\n", n->id,
			       n->status ? (n->errmsg[0] ? n->errmsg
							 : strerror(-n->status))
					 : "no scrub");
			bad++;
			continue;
		}
		ais_format_size(s->bytes_checked, bytes, sizeof(bytes));
		printf(
		    "%-16s  %10llu  %10s  %8llu  %8llu  %7llu  %7llu  %6llu  "
		    "%s\n",
		    n->id, (unsigned long long)s->objects_checked, bytes,
		    (unsigned long long)s->corrupt,
		    (unsigned long long)s->repaired,
		    (unsigned long long)s->copies_made,
		    (unsigned long long)s->strays_removed,
		    (unsigned long long)s->errors,
		    s->running ? "running" : "done");
		tot[0] += s->objects_checked;
		tot[1] += s->bytes_checked;
		tot[2] += s->corrupt;
		tot[3] += s->repaired;
		tot[4] += s->copies_made;
		tot[5] += s->strays_removed;
		tot[6] += s->errors;
		if (s->last_error[0])
			printf("  last error: %s\n", s->last_error);
		for (j = 0; j < s->n_unrepaired; j++)
			printf("  corrupt, not repaired: ais://%s\n",
			       s->unrepaired[j]);
		bad += (int)s->n_unrepaired + (s->errors ? 1 : 0);
	}
	{
		char bytes[32];

		ais_format_size(tot[1], bytes, sizeof(bytes));
		printf(
		    "scrubbed %llu copies (%s): %llu corrupt, %llu repaired, "
		    "%llu copies made, %llu strays removed, %llu errors\n",
		    (unsigned long long)tot[0], bytes,
		    (unsigned long long)tot[2], (unsigned long long)tot[3],
		    (unsigned long long)tot[4], (unsigned long long)tot[5],
		    (unsigned long long)tot[6]);
	}
	return bad;
}

/* Waits for every node's scrub; a progress line meanwhile. */
static int wait_scrub(struct ais_client *c, bool quiet,
		      struct ais_cluster_info **out, char *errmsg)
{
	struct progress *p = progress_new("scrub", !quiet);
	uint64_t shown = 0, shown_bytes = 0, total_shown = 0;
	int rc;

	for (;;) {
		struct ais_cluster_info *ci = NULL;
		uint64_t done = 0, bytes = 0, total = 0;
		bool running = false;
		size_t i;

		rc = ais_client_cluster_info(c, &ci, errmsg);
		if (rc < 0)
			break;
		for (i = 0; i < ci->n_nodes; i++) {
			const struct ais_scrub_info *s = &ci->nodes[i].scrub;

			if (ci->nodes[i].status || !s->present)
				continue;
			running |= s->running;
			done += s->objects_checked;
			bytes += s->bytes_checked;
			total += s->objects_total;
		}
		if (total > total_shown) {
			progress_add_total(p, total - total_shown, 0);
			total_shown = total;
		}
		for (; shown < done; shown++)
			progress_file_done(p, true);
		progress_add_bytes(p, (int64_t)(bytes - shown_bytes));
		shown_bytes = bytes;
		if (cli_interrupted) {
			ais_cluster_info_free(ci);
			rc = -EINTR;
			break;
		}
		if (!running) {
			*out = ci;
			rc = 0;
			break;
		}
		ais_cluster_info_free(ci);
		{
			struct timespec ts = {0, 300 * 1000000L};

			nanosleep(&ts, NULL);
		}
	}
	progress_stop(p);
	progress_free(p);
	return rc;
}

int cmd_scrub(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"async", no_argument, NULL, 'a'},
	    {"status", no_argument, NULL, 's'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char bucket[AIS_BUCKET_MAX + 1] = "", errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_cluster_info *ci = NULL;
	bool async = false, status = false, quiet = false;
	const char *prefix = "";
	struct ais_client *c;
	int ch, rc, ret = CLI_OK;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			async = true;
			break;
		case 's':
			status = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(scrub_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("scrub", argv, ch);
		}
	}
	if (argc - optind > 1)
		return cli_usage("scrub", "unexpected argument '%s'",
				 argv[optind + 1]);
	if (argc - optind == 1) {
		rc = cli_parse_uri("scrub", argv[optind], false, bucket,
				   &prefix);
		if (rc)
			return rc;
	}
	if (status && (async || argc - optind == 1))
		return cli_usage("scrub", "--status takes no bucket and no "
					  "--async");
	c = cli_client("scrub");
	if (!c)
		return CLI_FAIL;
	if (status) {
		rc = ais_client_cluster_info(c, &ci, errmsg);
		if (rc < 0) {
			ret = cli_fail(rc, errmsg, "scrub --status");
		} else {
			report(ci);
			ais_cluster_info_free(ci);
		}
		ais_client_free(c);
		return ret;
	}
	rc = ais_client_scrub(c, bucket, prefix, errmsg);
	if (rc < 0) {
		/* The nodes that started go on: still follow them. */
		ret = cli_fail(rc, errmsg, "scrub");
	}
	if (async) {
		if (rc == 0)
			printf("scrub started on every node; 'ais scrub "
			       "--status' follows it\n");
		ais_client_free(c);
		return ret;
	}
	rc = wait_scrub(c, quiet, &ci, errmsg);
	if (rc < 0) {
		ret = cli_fail(rc, errmsg, "scrub");
	} else {
		if (report(ci))
			ret = CLI_FAIL;
		ais_cluster_info_free(ci);
	}
	ais_client_free(c);
	return ret;
}
