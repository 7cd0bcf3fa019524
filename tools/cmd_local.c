/* ais local up | down | status: a whole cluster of aisd processes on
 * loopback with its data under one directory. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "cli.h"
#include "fileio.h"
#include "local_cluster.h"
#include "log.h"
#include "transfer.h"
#include "util.h"

#define READY_TIMEOUT_S 30
#define STOP_TIMEOUT_S	10
#define POLL_MS		100
#define LOG_TAIL_LINES	20

static const char local_help[] =
    "Usage: ais local COMMAND [OPTIONS]\n"
    "\n"
    "Runs a whole cluster on this machine: N aisd processes on 127.0.0.1,\n"
    "with all data, logs and pidfiles under one directory (--dir; default\n"
    "$AIS_LOCAL_DIR, else /tmp/ais-local-UID).\n"
    "\n"
    "Commands:\n"
    "  up      start the nodes (or restart the dead ones) and wait until\n"
    "          the cluster is ready\n"
    "  down    stop the nodes (SIGTERM, then SIGKILL after 10 s)\n"
    "  status  show which nodes run and answer\n"
    "\n"
    "Run 'ais local COMMAND --help' for a command's options.\n"
    "\n"
    "Examples:\n"
    "  ais local up --nodes 3 --dir /tmp/ais\n"
    "  AIS_ENDPOINT=127.0.0.1:51080 ais bucket create ais://b\n"
    "  ais local down --dir /tmp/ais --purge\n";

static const char up_help[] =
    "Usage: ais local up [OPTIONS]\n"
    "\n"
    "Starts N aisd processes on 127.0.0.1 ports P..P+N-1 (their Raft on\n"
    "P+N..P+2N-1), each with M mountpaths DIR/nodeI/mpJ (I and J from 0),\n"
    "all seeded with every node's address (the first starts the cluster,\n"
    "the others join it), and waits until every node answers with a map\n"
    "of N nodes, none marked down. Each node runs detached (own session, stdin "
    "/dev/null, "
    "output\n"
    "appended to DIR/nodeI/aisd.log, pid in DIR/nodeI/aisd.pid). The layout\n"
    "is kept in DIR/cluster.conf: a later up, down or status needs only\n"
    "--dir. Running nodes are left alone and dead ones are restarted on\n"
    "their old data, so up is safe to repeat.\n"
    "\n"
    "Options:\n"
    "  -n, --nodes N       number of nodes (default 3, at most 64)\n"
    "  -d, --dir DIR       data directory (default $AIS_LOCAL_DIR, else\n"
    "                      /tmp/ais-local-UID)\n"
    "  -p, --port P        port of node 0 (default 51080)\n"
    "  -m, --mountpaths M  mountpaths per node (default 2, at most 16)\n"
    "  -t, --timeout S     seconds to wait for readiness (default 30)\n"
    "      --log-level L   aisd log level (err, warning, notice, info, "
    "debug)\n"
    "      --config FILE   an aisd configuration file for every node "
    "(the settings\n"
    "                      ais local does not pass itself, e.g. "
    "rebalance_rate_mb)\n"
    "      --etl-dir DIR   the programs transforms may run (ais etl; "
    "kept in\n"
    "                      cluster.conf; default none: no transforms)\n"
    "      --s3-port P     node I serves S3 on P+I (default: after the "
    "Raft\n"
    "                      ports, P+2N; 0: no S3 endpoint)\n"
    "      --insecure      no auth and no TLS: anyone who reaches the "
    "ports may do\n"
    "                      anything, and read it all on the wire\n"
    "      --no-tls        auth but no TLS: tokens and data in clear text "
    "(a\n"
    "                      network of its own; for measuring TLS)\n"
    "                      (for benchmarks; kept in cluster.conf)\n"
    "  -h, --help          show this help\n"
    "\n"
    "The aisd binary is $AIS_AISD, else found next to ais (., ../daemon,\n"
    "../sbin), else in $PATH.\n"
    "\n"
    "Unless --insecure, a new cluster gets a secret (DIR/secret; its nodes\n"
    "run with auth_secret_file) and a cluster admin, user admin, whose\n"
    "password is DIR/admin.password; every up logs admin in for 30 days\n"
    "and saves the token in DIR/token and ~/.config/ais/tokens/KEYID,\n"
    "where ais, aisfs and aisloader of this user find it on their own\n"
    "(ais auth; HACKING.md \"Users, tokens, rights\").\n"
    "\n"
    "Unless --insecure, the nodes also speak TLS only, with certificates\n"
    "of the cluster's own CA (DIR/ca.pem, made with its key DIR/ca.key;\n"
    "node I's in DIR/nodeI/tls.crt, renewed by up when it has less than\n"
    "30 days left). up copies the CA to ~/.config/ais/ca/HOST:PORT.pem\n"
    "for every node, where this user's clients find it by the address\n"
    "they dial (elsewhere: AIS_CA_FILE=DIR/ca.pem).\n"
    "\n"
    "With S3 on, up makes sure DIR/s3.env holds an access key the cluster\n"
    "knows (adding one, 'ais local' in ais s3 keys ls) and the endpoint\n"
    "(https:// with TLS, the CA in AWS_CA_BUNDLE, which the AWS SDKs and\n"
    "CLI take; rclone --ca-cert, s3cmd --ca-certs=, curl --cacert):\n"
    "  . DIR/s3.env; aws --endpoint-url \"$AIS_S3_ENDPOINT\" s3 ls\n"
    "\n"
    "Examples:\n"
    "  ais local up\n"
    "  ais local up --nodes 5 --port 54000 --dir /tmp/ais5\n";

static const char down_help[] =
    "Usage: ais local down [OPTIONS]\n"
    "\n"
    "Stops every node of the local cluster in DIR: SIGTERM, then SIGKILL\n"
    "for nodes still running after 10 s; removes the pidfiles. The data is\n"
    "kept unless --purge is given.\n"
    "\n"
    "Options:\n"
    "  -d, --dir DIR  data directory (default $AIS_LOCAL_DIR, else\n"
    "                 /tmp/ais-local-UID)\n"
    "      --purge    also delete DIR with all data and logs\n"
    "  -h, --help     show this help\n"
    "\n"
    "Example:\n"
    "  ais local down --dir /tmp/ais --purge\n";

static const char status_help[] =
    "Usage: ais local status [OPTIONS]\n"
    "\n"
    "Shows, for every node of the local cluster in DIR, its address, pid,\n"
    "whether the process runs and whether it answers (with its map version\n"
    "and node count). Exits with 0 when every node runs and answers, else 1.\n"
    "\n"
    "Options:\n"
    "  -d, --dir DIR  data directory (default $AIS_LOCAL_DIR, else\n"
    "                 /tmp/ais-local-UID)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Example:\n"
    "  ais local status --dir /tmp/ais\n";

enum {
	OPT_LOG_LEVEL = 0x100,
	OPT_PURGE,
	OPT_CONFIG,
	OPT_ETL_DIR,
	OPT_S3_PORT,
	OPT_INSECURE,
	OPT_NO_TLS
};

struct local_opts {
	struct local_layout l;
	bool have_nodes, have_port, have_mpaths, have_etl_dir, have_s3_port;
	bool insecure, no_tls;
	unsigned timeout_s;
	const char *log_level;
	char config[PATH_MAX];
	const char *config_arg;
	bool purge;
};

/* Parses the options of "local CMD" (valid letters in shortopts);
 * returns 0, -1 after help, or CLI_USAGE. Makes o->l.dir absolute. */
static int parse_opts(const char *cmd, const char *help, const char *shortopts,
		      int argc, char **argv, struct local_opts *o)
{
	static const struct option longopts[] = {
	    {"nodes", required_argument, NULL, 'n'},
	    {"dir", required_argument, NULL, 'd'},
	    {"port", required_argument, NULL, 'p'},
	    {"mountpaths", required_argument, NULL, 'm'},
	    {"timeout", required_argument, NULL, 't'},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"etl-dir", required_argument, NULL, OPT_ETL_DIR},
	    {"s3-port", required_argument, NULL, OPT_S3_PORT},
	    {"purge", no_argument, NULL, OPT_PURGE},
	    {"insecure", no_argument, NULL, OPT_INSECURE},
	    {"no-tls", no_argument, NULL, OPT_NO_TLS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	bool up = !strcmp(cmd, "local up");
	bool down = !strcmp(cmd, "local down");
	char cwd[PATH_MAX];
	int c, rc;

	o->l.nodes = LOCAL_NODES_DEFAULT;
	o->l.mountpaths = LOCAL_MPATHS_DEFAULT;
	o->l.port = LOCAL_PORT_DEFAULT;
	o->timeout_s = READY_TIMEOUT_S;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case 'n':
			rc = cli_parse_uint_opt(cmd, "--nodes", optarg, 1,
						LOCAL_NODES_MAX, &o->l.nodes);
			o->have_nodes = true;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'p':
			rc = cli_parse_uint_opt(cmd, "--port", optarg, 1, 65535,
						&o->l.port);
			o->have_port = true;
			break;
		case 'm':
			rc = cli_parse_uint_opt(cmd, "--mountpaths", optarg, 1,
						LOCAL_MPATHS_MAX,
						&o->l.mountpaths);
			o->have_mpaths = true;
			break;
		case 't':
			rc = cli_parse_uint_opt(cmd, "--timeout", optarg, 1,
						3600, &o->timeout_s);
			break;
		case OPT_LOG_LEVEL:
			if (!up)
				return cli_usage(cmd,
						 "unknown option --log-level");
			if (ais_log_parse_level(optarg) < 0)
				return cli_usage(cmd,
						 "--log-level: unknown "
						 "level '%s'",
						 optarg);
			o->log_level = optarg;
			break;
		case OPT_CONFIG:
			if (!up)
				return cli_usage(cmd,
						 "unknown option --config");
			if (!realpath(optarg, o->config))
				return cli_usage(cmd, "--config %s: %s", optarg,
						 strerror(errno));
			o->config_arg = o->config;
			break;
		case OPT_ETL_DIR:
			if (!up)
				return cli_usage(cmd,
						 "unknown option --etl-dir");
			if (!realpath(optarg, o->l.etl_dir))
				return cli_usage(cmd, "--etl-dir %s: %s",
						 optarg, strerror(errno));
			o->have_etl_dir = true;
			break;
		case OPT_S3_PORT:
			if (!up)
				return cli_usage(cmd,
						 "unknown option --s3-port");
			rc = cli_parse_uint_opt(cmd, "--s3-port", optarg, 0,
						65535, &o->l.s3_port);
			o->have_s3_port = true;
			break;
		case OPT_PURGE:
			if (!down)
				return cli_usage(cmd, "unknown option --purge");
			o->purge = true;
			break;
		case OPT_INSECURE:
			if (!up)
				return cli_usage(cmd,
						 "unknown option --insecure");
			o->insecure = true;
			break;
		case OPT_NO_TLS:
			if (!up)
				return cli_usage(cmd,
						 "unknown option --no-tls");
			o->no_tls = true;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			return cli_bad_option(cmd, argv, c);
		}
		if (rc)
			return rc;
	}
	if (argc != optind)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (o->l.port + 2 * o->l.nodes - 1 > 65535)
		return cli_usage(cmd, "ports %u..%u: beyond 65535", o->l.port,
				 o->l.port + 2 * o->l.nodes - 1);
	if (!o->have_s3_port)
		o->l.s3_port = local_s3_default_port(&o->l);
	if (o->l.s3_port && o->l.s3_port + o->l.nodes - 1 > 65535)
		return cli_usage(cmd, "S3 ports %u..%u: beyond 65535",
				 o->l.s3_port, o->l.s3_port + o->l.nodes - 1);
	if (dir && !dir[0])
		return cli_usage(cmd, "--dir: empty");
	if (!dir) {
		local_default_dir(o->l.dir, sizeof(o->l.dir));
	} else if (dir[0] == '/') {
		snprintf(o->l.dir, sizeof(o->l.dir), "%s", dir);
	} else {
		/* aisd runs in its node directory: paths must be absolute. */
		if (!getcwd(cwd, sizeof(cwd)) ||
		    snprintf(o->l.dir, sizeof(o->l.dir), "%s/%s", cwd, dir) >=
			(int)sizeof(o->l.dir))
			return cli_usage(cmd, "--dir %s: path too long", dir);
	}
	return 0;
}

/* Loads DIR/cluster.conf for down/status; prints the failure. */
static int load_existing(const char *cmd, struct local_layout *l)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	int rc = local_conf_load(l, errmsg);

	if (rc == -ENOENT)
		return cli_failf("%s: no local cluster in %s (no %s; start one "
				 "with 'ais local up --dir %s')",
				 cmd, l->dir, LOCAL_CONF, l->dir);
	if (rc < 0)
		return cli_fail(rc, errmsg, "%s", cmd);
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The cluster's CA for a client of l: its own, or "none" (plain TCP). */
static void local_ca_opt(const struct local_layout *l,
			 struct ais_client_opts *o, char *buf, size_t cap)
{
	if (l->tls)
		snprintf(buf, cap, "%s/%s", l->dir, LOCAL_CA);
	else
		snprintf(buf, cap, "none");
	o->ca_file = buf;
}

/* Asks node i for its map: 1 if it holds want nodes or more (nodes that
 * joined from elsewhere count too) and marks none of them down, 0 if not
 * (*down: how many it marks down), -errno if it does not answer. A node
 * restarted after a crash may come back to a map that still marks it down
 * until the leader hears from it again; clients skip it until then. */
static int node_ready(const struct local_layout *l, unsigned i, unsigned want,
		      uint64_t *version, size_t *count, size_t *down,
		      char *errmsg)
{
	struct ais_client_opts opts;
	struct ais_node_loc *nodes;
	struct ais_client *c;
	size_t k, n;
	char ep[64], ca[PATH_MAX + 16];

	ais_client_opts_default(&opts);
	opts.connect_timeout_ms = 1000;
	opts.io_timeout_ms = 2000;
	local_ca_opt(l, &opts, ca, sizeof(ca));
	snprintf(ep, sizeof(ep), "%s:%u", LOCAL_HOST, l->port + i);
	c = ais_client_new(ep, &opts, errmsg);
	if (!c)
		return -ECONNREFUSED;
	*version = ais_client_map_version(c);
	*count = ais_client_node_count(c);
	*down = 0;
	nodes = calloc(*count ? *count : 1, sizeof(*nodes));
	if (nodes) {
		n = ais_client_nodes(c, nodes, *count, NULL);
		for (k = 0; k < n && k < *count; k++)
			*down += nodes[k].down;
		free(nodes);
	}
	ais_client_free(c);
	return *count >= want && !*down ? 1 : 0;
}

/* Sends sig to the pids and waits up to timeout_s for them to go; the
 * entries of those gone are zeroed. Reaps our own children. */
static void signal_and_wait(pid_t *pids, unsigned n, int sig,
			    unsigned timeout_s)
{
	uint64_t deadline = ais_now_mono_ns() + timeout_s * 1000000000ull;
	unsigned i, left;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], sig);
	for (;;) {
		for (i = 0, left = 0; i < n; i++) {
			if (pids[i] <= 0)
				continue;
			waitpid(pids[i], NULL, WNOHANG);
			if (local_pid_alive(pids[i]))
				left++;
			else
				pids[i] = 0;
		}
		if (!left || ais_now_mono_ns() >= deadline)
			return;
		sleep_ms(50);
	}
}

/* Stops the nodes this "up" started, after it failed. */
static void stop_started(pid_t *started, unsigned n)
{
	signal_and_wait(started, n, SIGTERM, 5);
	signal_and_wait(started, n, SIGKILL, 2);
}

/* A client of node 0 that acts as root with the cluster's secret (a
 * cluster with auth), or as nobody. NULL with errmsg. */
static struct ais_client *local_client(const struct local_layout *l,
				       char *errmsg)
{
	char ep[64], secret[PATH_MAX + 16], ca[PATH_MAX + 16];
	struct ais_client_opts o;
	struct ais_auth_key key;
	struct ais_client *c;

	ais_client_opts_default(&o);
	local_ca_opt(l, &o, ca, sizeof(ca));
	if (l->auth) {
		snprintf(secret, sizeof(secret), "%s/%s", l->dir, LOCAL_SECRET);
		if (ais_auth_key_load(secret, &key, errmsg))
			return NULL;
		o.root_key = &key;
	}
	snprintf(ep, sizeof(ep), "%s:%u", LOCAL_HOST, l->port);
	c = ais_client_new(ep, &o, errmsg);
	OPENSSL_cleanse(&key, sizeof(key));
	return c;
}

/* Makes sure the cluster has its admin (a new password in
 * DIR/admin.password) and saves a fresh token of it in DIR/token and
 * where clients look for it. 0 or -errno with errmsg. */
static int admin_ensure(const struct local_layout *l, char *tokpath,
			size_t tokcap, char *errmsg)
{
	char pwpath[PATH_MAX + 32], pw[64], text[AIS_TOKEN_TEXT_MAX];
	char home[PATH_MAX];
	uint8_t raw[AIS_TOKEN_MAX], rnd[18];
	struct ais_user *v = NULL;
	struct ais_claims cl;
	struct ais_client *c;
	bool have = false;
	size_t n = 0;
	ssize_t len;
	int rc;

	snprintf(pwpath, sizeof(pwpath), "%s/%s", l->dir, LOCAL_ADMIN_PW);
	snprintf(tokpath, tokcap, "%s/%s", l->dir, LOCAL_TOKEN);
	c = local_client(l, errmsg);
	if (!c)
		return -EIO;
	rc = ais_client_user_list(c, &v, &n, errmsg);
	for (size_t i = 0; !rc && i < n; i++)
		have |= !strcmp(v[i].name, "admin");
	ais_users_free(v, n);
	if (!rc && !have) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			ais_client_free(c);
			return ais_errf(errmsg, -EIO, "no random bytes");
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
		rc = ais_token_file_write(pwpath, pw, errmsg);
		if (!rc)
			rc = ais_client_user_add(c, "admin", pw, true, errmsg);
	}
	if (!rc) {
		ssize_t m = ais_read_file(pwpath, pw, sizeof(pw) - 1);

		if (m <= 0)
			rc = ais_errf(errmsg, m < 0 ? (int)m : -ENOENT,
				      "%s: cannot read admin's password: %s",
				      pwpath,
				      strerror(m < 0 ? (int)-m : ENOENT));
		else {
			pw[m] = 0;
			pw[strcspn(pw, "\r\n")] = 0;
		}
	}
	if (!rc)
		rc = ais_client_login(c, "admin", pw, 30 * 86400, text, errmsg);
	OPENSSL_cleanse(pw, sizeof(pw));
	ais_client_free(c);
	if (!rc)
		rc = ais_token_file_write(tokpath, text, errmsg);
	len = rc ? -1 : ais_token_from_text(text, raw, sizeof(raw));
	if (len > 0 && !ais_token_peek(raw, (size_t)len, &cl) &&
	    !ais_token_default_path(cl.kid, home, sizeof(home)))
		(void)ais_token_file_write(home, text, NULL);
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

/* The access key and its secret named by an existing s3.env into ak
 * (130) and sk (130), or "". */
static void s3_env_key(const char *path, char *ak, char *sk)
{
	char buf[4096], *p;
	ssize_t n = ais_read_file(path, buf, sizeof(buf) - 1);

	ak[0] = sk[0] = 0;
	if (n <= 0)
		return;
	buf[n] = 0;
	p = strstr(buf, "AWS_ACCESS_KEY_ID=");
	if (p)
		sscanf(p + 18, "%129[A-Za-z0-9]", ak);
	p = strstr(buf, "AWS_SECRET_ACCESS_KEY=");
	if (p)
		sscanf(p + 22, "%129[^\n]", sk);
}

/* Writes path (DIR/s3.env, mode 0600: it holds the secret) for key ak and
 * secret sk, unless it already says just that. The endpoint is https://
 * when the nodes speak TLS, with the cluster's CA in AWS_CA_BUNDLE, which
 * the AWS SDKs and CLI take (other clients: --ca-cert "$AWS_CA_BUNDLE").
 * 0 or -errno with errmsg. */
static int s3_env_write(const struct local_layout *l, const char *path,
			const char *ak, const char *sk, char *errmsg)
{
	const char *scheme = l->tls ? "https" : "http";
	char buf[4 * PATH_MAX], old[sizeof(buf)], ca[PATH_MAX + 64] = "";
	ssize_t have;
	int rc, len;

	if (l->tls)
		snprintf(ca, sizeof(ca), "AWS_CA_BUNDLE=%s/%s\n", l->dir,
			 LOCAL_CA);
	len = snprintf(
	    buf, sizeof(buf),
	    "# The S3 endpoint of the ais local cluster in %s and "
	    "an access key\n# of it, written by 'ais local up'. "
	    "Use: . %s\n"
	    "AIS_S3_ENDPOINT=%s://%s:%u\n"
	    "AWS_ENDPOINT_URL=%s://%s:%u\n"
	    "%s"
	    "AWS_ACCESS_KEY_ID=%s\n"
	    "AWS_SECRET_ACCESS_KEY=%s\n"
	    "AWS_DEFAULT_REGION=%s\n"
	    "AWS_REGION=%s\n"
	    "export AIS_S3_ENDPOINT AWS_ENDPOINT_URL %sAWS_ACCESS_KEY_ID "
	    "AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_REGION\n",
	    l->dir, path, scheme, LOCAL_HOST, l->s3_port, scheme, LOCAL_HOST,
	    l->s3_port, ca, ak, sk, LOCAL_S3_REGION, LOCAL_S3_REGION,
	    l->tls ? "AWS_CA_BUNDLE " : "");
	if (len < 0 || (size_t)len >= sizeof(buf))
		return ais_errf(errmsg, -ENAMETOOLONG, "%s: path too long",
				path);
	have = ais_read_file(path, old, sizeof(old));
	rc = have == len && !memcmp(old, buf, (size_t)len)
		 ? 0
		 : ais_file_replace(path, buf, (size_t)len, 0600);
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(old, sizeof(old));
	if (rc < 0)
		return ais_errf(errmsg, rc, "writing %s: %s", path,
				strerror(-rc));
	return 0;
}

/* Makes sure path (DIR/s3.env) names a key the cluster has: kept when it
 * does (the file rewritten if the endpoint changed), else a new key is
 * added and the file written. 0 or -errno with errmsg. */
static int s3_env_ensure(const struct local_layout *l, const char *path,
			 char *errmsg)
{
	struct ais_s3_key in = {0}, out, *v = NULL;
	struct ais_client *c;
	char ak[130], sk[130];
	size_t n = 0;
	int rc;

	c = local_client(l, errmsg);
	if (!c)
		return -EIO;
	s3_env_key(path, ak, sk);
	rc = ais_client_s3_key_list(c, &v, &n, errmsg);
	for (size_t i = 0; !rc && ak[0] && sk[0] && i < n; i++)
		if (!strcmp(v[i].access_key, ak)) {
			free(v);
			ais_client_free(c);
			rc = s3_env_write(l, path, ak, sk, errmsg);
			OPENSSL_cleanse(sk, sizeof(sk));
			return rc;
		}
	free(v);
	OPENSSL_cleanse(sk, sizeof(sk));
	if (!rc) {
		snprintf(in.comment, sizeof(in.comment), "ais local (%.200s)",
			 path);
		if (l->auth)
			snprintf(in.user, sizeof(in.user), "admin");
		rc = ais_client_s3_key_add(c, &in, &out, errmsg);
	}
	ais_client_free(c);
	if (rc)
		return rc;
	rc = s3_env_write(l, path, out.access_key, out.secret, errmsg);
	OPENSSL_cleanse(&out, sizeof(out));
	return rc;
}

static int local_up(int argc, char **argv)
{
	struct local_opts o = {0};
	struct local_layout *l = &o.l, saved;
	char errmsg[AIS_ERRMSG_LEN] = "", aisd[PATH_MAX] = "";
	pid_t started[LOCAL_NODES_MAX] = {0}, running[LOCAL_NODES_MAX] = {0};
	bool renewed[LOCAL_NODES_MAX] = {0};
	unsigned i, n_started = 0, bad = 0;
	uint64_t deadline, version = 0;
	size_t count = 0, down = 0;
	int rc, status, ready_rc = 0;

	rc = parse_opts("local up", up_help, ":n:d:p:m:t:h", argc, argv, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = xfer_mkdir_p(l->dir, errmsg);
	if (rc < 0)
		return cli_fail(rc, errmsg, "local up");

	/* An existing cluster keeps its layout. */
	saved = *l;
	rc = local_conf_load(&saved, errmsg);
	if (rc < 0 && rc != -ENOENT)
		return cli_fail(rc, errmsg, "local up");
	if (rc == 0) {
		if ((o.have_nodes && saved.nodes != l->nodes) ||
		    (o.have_port && saved.port != l->port) ||
		    (o.have_s3_port && saved.s3_port != l->s3_port) ||
		    (o.have_mpaths && saved.mountpaths != l->mountpaths))
			return cli_failf(
			    "local up: %s holds a cluster of %u nodes on port "
			    "%u with %u mountpaths; use those options, or "
			    "'ais local down --purge --dir %s' first",
			    l->dir, saved.nodes, saved.port, saved.mountpaths,
			    l->dir);
		/* A new etl_dir is kept for the nodes started from now on
		 * (running ones keep theirs until restarted). */
		if (o.have_etl_dir && strcmp(saved.etl_dir, l->etl_dir) != 0) {
			memcpy(saved.etl_dir, l->etl_dir,
			       sizeof(saved.etl_dir));
			rc = local_conf_save(&saved, errmsg);
			if (rc < 0)
				return cli_fail(rc, errmsg, "local up");
		}
		if (o.insecure && saved.auth)
			return cli_failf(
			    "local up: %s holds a cluster with auth; "
			    "--insecure needs 'ais local down --purge --dir "
			    "%s' first",
			    l->dir, l->dir);
		*l = saved;
	} else {
		l->auth = !o.insecure;
		l->tls = !o.insecure && !o.no_tls;
		if (l->auth) {
			char secret[PATH_MAX + 16];

			snprintf(secret, sizeof(secret), "%s/%s", l->dir,
				 LOCAL_SECRET);
			rc = ais_auth_secret_create(secret, errmsg);
			if (rc < 0 && rc != -EEXIST)
				return cli_fail(rc, errmsg, "local up");
		}
		/* A new cluster runs the shipped transforms unless told
		 * otherwise. */
		if (!o.have_etl_dir &&
		    local_find_aisd(aisd, sizeof(aisd), errmsg) == 0 &&
		    local_find_etl_dir(aisd, l->etl_dir) < 0)
			l->etl_dir[0] = '\0';
		rc = local_conf_save(l, errmsg);
		if (rc < 0)
			return cli_fail(rc, errmsg, "local up");
	}

	if (l->tls) {
		rc = local_tls_ensure(l, renewed, errmsg);
		if (rc < 0)
			return cli_fail(rc, errmsg, "local up");
	}
	for (i = 0; i < l->nodes; i++) {
		running[i] = local_node_pid(l, i);
		/* A running node takes its renewed certificate now. */
		if (running[i] && renewed[i])
			(void)kill(running[i], SIGHUP);
		if (running[i])
			continue;
		if (!aisd[0]) {
			rc = local_find_aisd(aisd, sizeof(aisd), errmsg);
			if (rc < 0) {
				stop_started(started, l->nodes);
				return cli_fail(rc, errmsg, "local up");
			}
			ais_log(LOG_DEBUG, "using %s", aisd);
		}
		rc = local_spawn(l, i, aisd, o.log_level, o.config_arg,
				 &started[i], errmsg);
		if (rc < 0) {
			stop_started(started, l->nodes);
			return cli_fail(rc, errmsg, "local up");
		}
		running[i] = started[i];
		n_started++;
	}

	/* Ready when every node answers with a map of all the nodes. */
	deadline = ais_now_mono_ns() + o.timeout_s * 1000000000ull;
	for (;;) {
		/* A node that died is reported at once, whatever the others
		 * do. */
		for (i = 0; i < l->nodes; i++) {
			if (started[i] && waitpid(started[i], &status,
						  WNOHANG) == started[i]) {
				started[i] = 0;
				stop_started(started, l->nodes);
				cli_failf(
				    "local up: node%u (%s:%u) exited "
				    "with %s %d",
				    i, LOCAL_HOST, l->port + i,
				    WIFSIGNALED(status) ? "signal" : "status",
				    WIFSIGNALED(status) ? WTERMSIG(status)
							: WEXITSTATUS(status));
				local_log_tail(l, i, stderr, LOG_TAIL_LINES);
				return CLI_FAIL;
			}
			if (!started[i] && !local_pid_alive(running[i])) {
				stop_started(started, l->nodes);
				cli_failf("local up: node%u (%s:%u, pid %d) "
					  "died",
					  i, LOCAL_HOST, l->port + i,
					  (int)running[i]);
				local_log_tail(l, i, stderr, LOG_TAIL_LINES);
				return CLI_FAIL;
			}
		}
		for (i = 0, bad = l->nodes; i < l->nodes; i++) {
			errmsg[0] = '\0';
			ready_rc = node_ready(l, i, l->nodes, &version, &count,
					      &down, errmsg);
			if (ready_rc != 1) {
				bad = i;
				break;
			}
		}
		if (bad == l->nodes)
			break;
		if (cli_interrupted) {
			stop_started(started, l->nodes);
			cli_failf("local up: interrupted");
			return CLI_INTERRUPTED;
		}
		if (ais_now_mono_ns() >= deadline) {
			stop_started(started, l->nodes);
			if (ready_rc < 0)
				cli_failf(
				    "local up: node%u (%s:%u) not ready "
				    "after %u s: %s",
				    bad, LOCAL_HOST, l->port + bad, o.timeout_s,
				    errmsg[0] ? errmsg : "does not answer");
			else
				cli_failf("local up: node%u (%s:%u) not ready "
					  "after %u s: its map has %zu of %u "
					  "nodes, %zu marked down",
					  bad, LOCAL_HOST, l->port + bad,
					  o.timeout_s, count, l->nodes, down);
			local_log_tail(l, bad, stderr, LOG_TAIL_LINES);
			return CLI_FAIL;
		}
		sleep_ms(POLL_MS);
	}

	printf("ais local: %u node%s up on %s:%u-%u (%u started, map version "
	       "%llu)\n",
	       l->nodes, l->nodes == 1 ? "" : "s", LOCAL_HOST, l->port,
	       l->port + l->nodes - 1, n_started, (unsigned long long)version);
	printf("  data:     %s (logs: %s/nodeI/aisd.log)\n", l->dir, l->dir);
	printf("  endpoint: export AIS_ENDPOINT=%s:%u\n", LOCAL_HOST, l->port);
	if (l->tls) {
		char copy[PATH_MAX + 16], ca[PATH_MAX + 16];

		/* This user's clients find the CA there, by the address
		 * they dial (client.h). */
		snprintf(ca, sizeof(ca), "%s/%s", l->dir, LOCAL_CA);
		rc = 0;
		for (i = 0; i < l->nodes && rc == 0; i++) {
			rc = local_tls_ca_copy_path(l, i, copy, sizeof(copy),
						    errmsg);
			if (rc == 0)
				rc = local_copy_file(ca, copy, errmsg);
		}
		if (rc < 0)
			cli_warn("local up: the CA for clients: %s", errmsg);
		printf("  tls:      on; the cluster's CA is %s (saved for "
		       "this user's clients in %s)\n",
		       ca, rc < 0 ? "(failed)" : "~/.config/ais/ca/");
	}
	if (!l->tls) {
		char stale[PATH_MAX + 16];

		/* A CA saved for these addresses was another cluster's:
		 * clients would speak TLS to these nodes. */
		for (i = 0; i < l->nodes; i++)
			if (!local_tls_ca_copy_path(l, i, stale, sizeof(stale),
						    NULL))
				unlink(stale);
	}
	if (!l->tls && l->auth)
		fprintf(stderr,
			"ais local: WARNING: no TLS: tokens and data cross "
			"ports %u-%u in clear text\n",
			l->port, l->port + l->nodes - 1);
	if (l->auth) {
		char tok[PATH_MAX + 16];

		rc = admin_ensure(l, tok, sizeof(tok), errmsg);
		if (rc < 0)
			cli_warn("local up: admin's token: %s", errmsg);
		else
			printf("  auth:     on; token of user admin (cluster "
			       "admin) in %s (ais auth whoami)\n",
			       tok);
	} else {
		fprintf(stderr,
			"ais local: WARNING: --insecure: no auth and no TLS; "
			"anyone who reaches ports %u-%u may read, write and "
			"delete everything, and see it all on the wire\n",
			l->port, l->port + l->nodes - 1);
	}
	if (l->etl_dir[0])
		printf("  etl_dir:  %s (ais etl; ais-etl(7))\n", l->etl_dir);
	if (l->s3_port) {
		char env[PATH_MAX + 16];

		snprintf(env, sizeof(env), "%s/%s", l->dir, LOCAL_S3_ENV);
		rc = s3_env_ensure(l, env, errmsg);
		if (rc < 0)
			cli_warn("local up: S3 key: %s", errmsg);
		else
			printf("  s3:       %s://%s:%u-%u, key in %s%s\n"
			       "            . %s; aws --endpoint-url "
			       "\"$AIS_S3_ENDPOINT\" s3 ls\n",
			       l->tls ? "https" : "http", LOCAL_HOST,
			       l->s3_port, l->s3_port + l->nodes - 1, env,
			       l->tls ? " (CA: AWS_CA_BUNDLE)" : "", env);
	}
	printf("  stop:     ais local down --dir %s\n", l->dir);
	return CLI_OK;
}

static int local_down(int argc, char **argv)
{
	struct local_opts o = {0};
	struct local_layout *l = &o.l;
	pid_t pids[LOCAL_NODES_MAX] = {0};
	char errmsg[AIS_ERRMSG_LEN] = "", pidfile[PATH_MAX + 16];
	unsigned i, n_running = 0, n_killed = 0;
	int rc;

	rc = parse_opts("local down", down_help, ":d:h", argc, argv, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = load_existing("local down", l);
	if (rc)
		return rc;
	for (i = 0; i < l->nodes; i++) {
		pids[i] = local_node_pid(l, i);
		if (pids[i])
			n_running++;
	}
	signal_and_wait(pids, l->nodes, SIGTERM, STOP_TIMEOUT_S);
	for (i = 0; i < l->nodes; i++) {
		if (pids[i]) {
			cli_warn("local down: node%u (pid %d) still runs after "
				 "%u s: killing it",
				 i, (int)pids[i], STOP_TIMEOUT_S);
			n_killed++;
		}
	}
	if (n_killed)
		signal_and_wait(pids, l->nodes, SIGKILL, 5);
	for (i = 0; i < l->nodes; i++) {
		if (pids[i])
			return cli_failf("local down: node%u (pid %d) survived "
					 "SIGKILL",
					 i, (int)pids[i]);
		local_node_path(l, i, "aisd.pid", pidfile, sizeof(pidfile));
		unlink(pidfile);
	}
	if (o.purge) {
		char path[PATH_MAX + 16], home[PATH_MAX];
		struct ais_auth_key key;

		/* The token and CA saved for this cluster go with it. */
		snprintf(path, sizeof(path), "%s/%s", l->dir, LOCAL_SECRET);
		if (l->auth && !ais_auth_key_load(path, &key, NULL) &&
		    !ais_token_default_path(key.kid, home, sizeof(home)))
			unlink(home);
		for (i = 0; l->tls && i < l->nodes; i++)
			if (!local_tls_ca_copy_path(l, i, home, sizeof(home),
						    NULL))
				unlink(home);
		OPENSSL_cleanse(&key, sizeof(key));
		rc = local_rm_rf(l->dir, errmsg);
		if (rc < 0)
			return cli_fail(rc, errmsg, "local down --purge");
		printf("ais local: stopped %u of %u nodes; removed %s\n",
		       n_running, l->nodes, l->dir);
	} else {
		printf("ais local: stopped %u of %u nodes; data kept in %s\n",
		       n_running, l->nodes, l->dir);
	}
	return CLI_OK;
}

static int local_status(int argc, char **argv)
{
	struct local_opts o = {0};
	struct local_layout *l = &o.l;
	char errmsg[AIS_ERRMSG_LEN], addr[64], pid_s[16], map_s[64];
	unsigned i, n_ok = 0;
	uint64_t version;
	size_t count, down;
	pid_t pid;
	int rc;

	rc = parse_opts("local status", status_help, ":d:h", argc, argv, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = load_existing("local status", l);
	if (rc)
		return rc;
	printf("%-6s  %-21s  %-8s  %-8s  %s\n", "NODE", "ADDRESS", "PID",
	       "PROCESS", "MAP");
	for (i = 0; i < l->nodes; i++) {
		snprintf(addr, sizeof(addr), "%s:%u", LOCAL_HOST, l->port + i);
		pid = local_node_pid(l, i);
		snprintf(pid_s, sizeof(pid_s), pid ? "%d" : "-", (int)pid);
		if (!pid) {
			snprintf(map_s, sizeof(map_s), "-");
		} else {
			errmsg[0] = '\0';
			rc = node_ready(l, i, l->nodes, &version, &count, &down,
					errmsg);
			if (rc < 0) {
				snprintf(map_s, sizeof(map_s), "not answering");
			} else {
				snprintf(map_s, sizeof(map_s),
					 "version %llu, %zu node%s%s",
					 (unsigned long long)version, count,
					 count == 1 ? "" : "s",
					 down ? " (some marked down)" : "");
				n_ok++;
			}
		}
		printf("node%-2u  %-21s  %-8s  %-8s  %s\n", i, addr, pid_s,
		       pid ? "running" : "stopped", map_s);
	}
	printf("%u of %u nodes running and answering; %u mountpath%s per node "
	       "under %s\n",
	       n_ok, l->nodes, l->mountpaths, l->mountpaths == 1 ? "" : "s",
	       l->dir);
	return n_ok == l->nodes ? CLI_OK : CLI_FAIL;
}

int cmd_local(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"up", local_up, "start a cluster on this machine"},
	    {"down", local_down, "stop it"},
	    {"status", local_status, "show its nodes"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("local", local_help, cmds, argc, argv);
}
