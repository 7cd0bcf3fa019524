/* ais tls: the certificates of a cluster that speaks TLS: a CA, a node's
 * certificate signed by it, and what a certificate says (aisd(8), TLS). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tls.h"
#include "transfer.h"
#include "util.h"

#define SANS_MAX 32

static const char tls_help[] =
    "Usage: ais tls COMMAND [ARGS...]\n"
    "\n"
    "Certificates for a cluster whose nodes speak TLS (aisd(8): tls_ca_file,\n"
    "tls_cert_file, tls_key_file). One CA per cluster signs a certificate\n"
    "for every node; nodes take each other (and only each other) by it, and\n"
    "clients check that the node they reach has one (AIS_CA_FILE). `ais\n"
    "local up` does all of this itself.\n"
    "\n"
    "Commands:\n"
    "  ca --out DIR [--days N]\n"
    "                 a new CA: DIR/ca.pem (give it to nodes and clients)\n"
    "                 and DIR/ca.key (mode 0600: keep it off the nodes)\n"
    "  cert --ca DIR --name NAME --host H[,H...] --out PREFIX [--days N]\n"
    "                 a node certificate signed by the CA in DIR, for the\n"
    "                 host names and addresses H (what clients dial):\n"
    "                 PREFIX.crt and PREFIX.key (mode 0600)\n"
    "  show FILE      a certificate's subject and days left\n"
    "\n"
    "After replacing a node's certificate files, `kill -HUP` the node: new\n"
    "connections get the new certificate, open ones keep theirs.\n"
    "\n"
    "Examples:\n"
    "  ais tls ca --out /etc/ais/ca\n"
    "  ais tls cert --ca /etc/ais/ca --name node1 --host 10.0.0.11,n1.lan "
    "\\\n"
    "      --out /etc/ais/node1\n";

static int tls_ca(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"days", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char errmsg[AIS_ERRMSG_LEN], cert[PATH_MAX], key[PATH_MAX];
	const char *out = NULL;
	long days = 3660;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:d:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'd':
			days = strtol(optarg, NULL, 10);
			if (days < 1 || days > 36600)
				return cli_usage("tls ca",
						 "--days: 1 to 36600");
			break;
		case 'h':
			fputs(tls_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("tls ca", argv, c);
		}
	}
	if (!out || optind != argc)
		return cli_usage("tls ca", "needs --out DIR and nothing else");
	rc = xfer_mkdir_p(out, errmsg);
	if (rc < 0)
		return cli_fail(rc, errmsg, "tls ca");
	snprintf(cert, sizeof(cert), "%s/ca.pem", out);
	snprintf(key, sizeof(key), "%s/ca.key", out);
	if (access(cert, F_OK) == 0 || access(key, F_OK) == 0)
		return cli_failf("tls ca: %s already holds a CA: a new one "
				 "would leave every node certificate "
				 "untrusted",
				 out);
	rc = ais_tls_make_ca(cert, key, "aisfs cluster CA", (int)days, errmsg);
	if (rc < 0)
		return cli_fail(rc, errmsg, "tls ca");
	printf("%s\n%s\n", cert, key);
	return CLI_OK;
}

static int tls_cert(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"ca", required_argument, NULL, 'c'},
	    {"name", required_argument, NULL, 'n'},
	    {"host", required_argument, NULL, 'H'},
	    {"out", required_argument, NULL, 'o'},
	    {"days", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char errmsg[AIS_ERRMSG_LEN], cacert[PATH_MAX], cakey[PATH_MAX];
	char cert[PATH_MAX], key[PATH_MAX], hosts[4096];
	const char *ca = NULL, *name = NULL, *host = NULL, *out = NULL;
	const char *sans[SANS_MAX];
	size_t nsans = 0;
	long days = 366;
	char *save = NULL, *h;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":c:n:H:o:d:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			ca = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'd':
			days = strtol(optarg, NULL, 10);
			if (days < 1 || days > 36600)
				return cli_usage("tls cert",
						 "--days: 1 to 36600");
			break;
		case 'h':
			fputs(tls_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("tls cert", argv, c);
		}
	}
	if (!ca || !name || !host || !out || optind != argc)
		return cli_usage("tls cert",
				 "needs --ca DIR --name NAME --host H --out "
				 "PREFIX");
	if (strlen(name) > 64)
		return cli_usage("tls cert", "--name: at most 64 characters");
	snprintf(hosts, sizeof(hosts), "%s", host);
	for (h = strtok_r(hosts, ",", &save); h; h = strtok_r(NULL, ",", &save))
		if (nsans < SANS_MAX)
			sans[nsans++] = h;
	snprintf(cacert, sizeof(cacert), "%s/ca.pem", ca);
	snprintf(cakey, sizeof(cakey), "%s/ca.key", ca);
	snprintf(cert, sizeof(cert), "%s.crt", out);
	snprintf(key, sizeof(key), "%s.key", out);
	rc = ais_tls_make_cert(cacert, cakey, cert, key, name, sans, nsans,
			       (int)days, errmsg);
	if (rc < 0)
		return cli_fail(rc, errmsg, "tls cert");
	printf("%s\n%s\n", cert, key);
	return CLI_OK;
}

static int tls_show(int argc, char **argv)
{
	char errmsg[AIS_ERRMSG_LEN], id[17];
	int64_t left;

	if (argc != 2)
		return cli_usage("tls show", "needs one certificate file");
	left = ais_tls_cert_seconds_left(argv[1], errmsg);
	if (left == INT64_MIN)
		return cli_fail(-EINVAL, errmsg, "tls show");
	if (ais_tls_cert_id(argv[1], id, errmsg) < 0)
		return cli_fail(-EINVAL, errmsg, "tls show");
	printf("%s: id %s, %s %lld days\n", argv[1], id,
	       left < 0 ? "EXPIRED" : "expires in",
	       (long long)((left < 0 ? -left : left) / 86400));
	return left < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_tls(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"ca", tls_ca, "make a cluster CA"},
	    {"cert", tls_cert, "make a node certificate signed by the CA"},
	    {"show", tls_show, "what a certificate says"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("tls", tls_help, cmds, argc, argv);
}
