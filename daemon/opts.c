/* aisd settings: command-line flags over the configuration file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ais_config.h"
#include "config.h"
#include "log.h"
#include "util.h"

#include "opts.h"
#include "store/opencache.h"

/* One source of settings (file or command line); unset fields are 0/NULL. */
struct src {
	char *listen;
	int port; /* -1 unset */
	char *advertise;
	char **mountpaths;
	size_t nmountpaths;
	char **seeds;
	size_t nseeds;
	char *join;
	int threads;	    /* -1 unset */
	int io_timeout_s;   /* -1 unset */
	int idle_timeout_s; /* -1 unset */
	char *pidfile;
	int log_level; /* -1 unset */
	char *raft_dir;
	int raft_port;	       /* -1 unset */
	int down_after_ms;     /* -1 unset */
	int rebalance_workers; /* -1 unset */
	int rebalance_rate_mb; /* -1 unset */
	int verify_reads;      /* -1 unset */
	int scrub_interval_h;  /* -1 unset */
	int lease_ms;	       /* -1 unset */
	int open_cache;	       /* -1 unset */
	char *etl_dir;
	char *etl_user;
	uint64_t etl_output_max; /* 0 unset */
	int s3_port;		 /* -1 unset */
	char *s3_listen;
	char *s3_region;
	int s3_anonymous; /* -1 unset */
	char *auth_secret_file;
	char *tls_ca_file, *tls_cert_file, *tls_key_file;
};

static void src_init(struct src *s)
{
	memset(s, 0, sizeof(*s));
	s->port = -1;
	s->threads = -1;
	s->io_timeout_s = -1;
	s->idle_timeout_s = -1;
	s->log_level = -1;
	s->raft_port = -1;
	s->down_after_ms = -1;
	s->rebalance_workers = -1;
	s->rebalance_rate_mb = -1;
	s->verify_reads = -1;
	s->scrub_interval_h = -1;
	s->lease_ms = -1;
	s->open_cache = -1;
	s->s3_port = -1;
	s->s3_anonymous = -1;
}

static void src_free(struct src *s)
{
	free(s->listen);
	free(s->advertise);
	ais_strv_free(s->mountpaths);
	ais_strv_free(s->seeds);
	free(s->join);
	free(s->pidfile);
	free(s->raft_dir);
	free(s->etl_dir);
	free(s->etl_user);
	free(s->s3_listen);
	free(s->s3_region);
	free(s->auth_secret_file);
	free(s->tls_ca_file);
	free(s->tls_cert_file);
	free(s->tls_key_file);
}

static int set_str(char **dst, const char *v)
{
	char *c = strdup(v);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

static int parse_int(const char *v, long lo, long hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return -EINVAL;
	*out = (int)n;
	return 0;
}

/* Applies one "key = value" setting; what names the key for messages. */
static int apply(struct src *s, const char *key, const char *v,
		 const char *what, char *errmsg)
{
	char host[AIS_ERRMSG_LEN];
	uint16_t port;
	int n;

	if (!strcmp(key, "listen"))
		return set_str(&s->listen, v);
	if (!strcmp(key, "port")) {
		if (parse_int(v, 1, 65535, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': a port 1..65535", what,
					v);
		s->port = n;
		return 0;
	}
	if (!strcmp(key, "advertise"))
		return set_str(&s->advertise, v);
	if (!strcmp(key, "mountpath")) {
		if (!*v)
			return ais_errf(errmsg, -EINVAL, "empty %s", what);
		return ais_strv_push(&s->mountpaths, &s->nmountpaths, v);
	}
	if (!strcmp(key, "seed")) {
		char *copy = strdup(v), *save = NULL, *tok;
		int rc = 0;

		if (!copy)
			return -ENOMEM;
		for (tok = strtok_r(copy, ", ", &save); tok && !rc;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (ais_parse_hostport(tok, host, sizeof(host),
					       &port) ||
			    port == 0)
				rc = ais_errf(errmsg, -EINVAL,
					      "bad %s '%s': expected HOST:PORT",
					      what, tok);
			else
				rc = ais_strv_push(&s->seeds, &s->nseeds, tok);
		}
		free(copy);
		return rc;
	}
	if (!strcmp(key, "join")) {
		if (ais_parse_hostport(v, host, sizeof(host), &port) ||
		    port == 0)
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': expected HOST:PORT", what,
					v);
		return set_str(&s->join, v);
	}
	if (!strcmp(key, "threads")) {
		if (parse_int(v, 1, 1024, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': a number 1..1024", what,
					v);
		s->threads = n;
		return 0;
	}
	if (!strcmp(key, "io_timeout")) {
		if (parse_int(v, 1, 86400, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': seconds 1..86400", what,
					v);
		s->io_timeout_s = n;
		return 0;
	}
	if (!strcmp(key, "idle_timeout")) {
		if (parse_int(v, 0, 86400 * 30, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': seconds (0 = off)", what,
					v);
		s->idle_timeout_s = n;
		return 0;
	}
	if (!strcmp(key, "pidfile"))
		return set_str(&s->pidfile, v);
	if (!strcmp(key, "raft_dir")) {
		if (!*v)
			return ais_errf(errmsg, -EINVAL, "empty %s", what);
		return set_str(&s->raft_dir, v);
	}
	if (!strcmp(key, "raft_port")) {
		if (parse_int(v, 1, 65535, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': a port 1..65535", what,
					v);
		s->raft_port = n;
		return 0;
	}
	if (!strcmp(key, "down_after")) {
		if (parse_int(v, 500, 3600000, &n))
			return ais_errf(
			    errmsg, -EINVAL,
			    "bad %s '%s': milliseconds 500..3600000", what, v);
		s->down_after_ms = n;
		return 0;
	}
	if (!strcmp(key, "log_level")) {
		n = ais_log_parse_level(v);
		if (n < 0)
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': err, warning, notice, "
					"info or debug",
					what, v);
		s->log_level = n;
		return 0;
	}
	if (!strcmp(key, "rebalance_workers")) {
		if (parse_int(v, 1, 64, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': a number 1..64", what, v);
		s->rebalance_workers = n;
		return 0;
	}
	if (!strcmp(key, "rebalance_rate_mb")) {
		if (parse_int(v, 0, 1000000, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': MB/s (0 = no limit)",
					what, v);
		s->rebalance_rate_mb = n;
		return 0;
	}
	if (!strcmp(key, "scrub_interval_h")) {
		if (parse_int(v, 0, 24 * 365, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': hours (0 = never)", what,
					v);
		s->scrub_interval_h = n;
		return 0;
	}
	if (!strcmp(key, "lease_ms")) {
		if (parse_int(v, 500, 60000, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': milliseconds 500..60000",
					what, v);
		s->lease_ms = n;
		return 0;
	}
	if (!strcmp(key, "open_cache")) {
		if (parse_int(v, 0, 1 << 20, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': objects 0..1048576 (0 = "
					"none)",
					what, v);
		s->open_cache = n;
		return 0;
	}
	if (!strcmp(key, "etl_dir")) {
		if (v[0] != '/')
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': an absolute path", what,
					v);
		return set_str(&s->etl_dir, v);
	}
	if (!strcmp(key, "etl_output_max")) {
		char *end;
		unsigned long long bytes;

		errno = 0;
		bytes = strtoull(v, &end, 10);
		if (errno || end == v || *end || bytes < 4096)
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': bytes, at least 4096",
					what, v);
		s->etl_output_max = bytes;
		return 0;
	}
	if (!strcmp(key, "s3_port")) {
		if (parse_int(v, 0, 65535, &n))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': a port 1..65535, or 0 "
					"for no S3 endpoint",
					what, v);
		s->s3_port = n;
		return 0;
	}
	if (!strcmp(key, "s3_listen")) {
		if (!*v)
			return ais_errf(errmsg, -EINVAL, "empty %s", what);
		return set_str(&s->s3_listen, v);
	}
	if (!strcmp(key, "auth_secret_file")) {
		if (!*v)
			return ais_errf(errmsg, -EINVAL, "empty %s", what);
		return set_str(&s->auth_secret_file, v);
	}
	if (!strcmp(key, "tls_ca_file") || !strcmp(key, "tls_cert_file") ||
	    !strcmp(key, "tls_key_file")) {
		if (!*v)
			return ais_errf(errmsg, -EINVAL, "empty %s", what);
		if (!strcmp(key, "tls_ca_file"))
			return set_str(&s->tls_ca_file, v);
		if (!strcmp(key, "tls_cert_file"))
			return set_str(&s->tls_cert_file, v);
		return set_str(&s->tls_key_file, v);
	}
	if (!strcmp(key, "s3_region")) {
		if (!*v || strlen(v) > 63 || strpbrk(v, " /\t"))
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': a region name such as "
					"us-east-1",
					what, v);
		return set_str(&s->s3_region, v);
	}
	if (!strcmp(key, "s3_anonymous")) {
		if (!strcmp(v, "none"))
			s->s3_anonymous = AISD_S3_ANON_NONE;
		else if (!strcmp(v, "read"))
			s->s3_anonymous = AISD_S3_ANON_READ;
		else if (!strcmp(v, "write"))
			s->s3_anonymous = AISD_S3_ANON_WRITE;
		else
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': none, read or write",
					what, v);
		return 0;
	}
	if (!strcmp(key, "etl_user")) {
		if (!*v)
			return ais_errf(errmsg, -EINVAL, "empty %s", what);
		return set_str(&s->etl_user, v);
	}
	if (!strcmp(key, "verify_reads")) {
		if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
			s->verify_reads = 1;
		else if (!strcmp(v, "off") || !strcmp(v, "false") ||
			 !strcmp(v, "0"))
			s->verify_reads = 0;
		else
			return ais_errf(errmsg, -EINVAL,
					"bad %s '%s': on or off", what, v);
		return 0;
	}
	return ais_errf(errmsg, -EINVAL, "unknown setting '%s'", key);
}

static int file_cb(void *arg, const char *key, const char *value, char *errmsg)
{
	return apply(arg, key, value, key, errmsg);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: aisd [OPTION]...\n"
	    "The aisfs storage node daemon: keeps whole objects on local "
	    "mountpaths and\nserves them over the aisfs wire protocol.\n"
	    "\n"
	    "  -c, --config FILE       configuration file (default "
	    "%s if it exists)\n"
	    "  -l, --listen ADDR       address to listen on (default "
	    "0.0.0.0)\n"
	    "  -p, --port N            TCP port (default %d)\n"
	    "  -a, --advertise HOST    address put in the cluster map "
	    "(default: the listen\n"
	    "                          address; for 0.0.0.0 the first "
	    "non-loopback IPv4)\n"
	    "  -m, --mountpath DIR     a directory to store objects in, "
	    "one per disk;\n"
	    "                          repeatable; at least one required\n"
	    "  -s, --seed HOST:PORT[,HOST:PORT...]\n"
	    "                          cluster seed nodes (repeatable); "
	    "default none\n"
	    "  -j, --join HOST:PORT    join the cluster of this node; "
	    "default none\n"
	    "      --threads N         threads for data requests (default "
	    "max(32, 8 x CPUs))\n"
	    "      --io-timeout SEC    close a connection stalled this long "
	    "within a request\n"
	    "                          (default %d)\n"
	    "      --idle-timeout SEC  close connections idle this long "
	    "(default 0: never)\n"
	    "      --pidfile FILE      write the process id here "
	    "(default none)\n"
	    "      --raft-dir DIR      Raft's log and snapshots of the "
	    "cluster metadata\n"
	    "                          (default MOUNTPATH/.ais/raft, the "
	    "first mountpath)\n"
	    "      --raft-port N       TCP port for Raft (default: port + "
	    "1000)\n"
	    "      --down-after MS     the leader marks a node that does "
	    "not answer this\n"
	    "                          long down (default 3000)\n"
	    "      --etl-dir DIR       the programs transforms (ais etl) "
	    "may run\n"
	    "                          (default none: no transforms)\n"
	    "      --s3-port N         serve the S3 API on this port "
	    "(default none)\n"
	    "      --auth-secret-file F  the cluster's secret: every request "
	    "needs a token\n"
	    "                          (default none: no auth at all)\n"
	    "      --tls-ca-file F     the cluster's CA: TLS on every port "
	    "(with the two\n"
	    "                          below; default none: plain TCP)\n"
	    "      --tls-cert-file F   this node's certificate, signed by "
	    "the CA\n"
	    "      --tls-key-file F    its private key (mode 0600)\n"
	    "      --log-level LEVEL   err, warning, notice, info, debug "
	    "(default info;\n"
	    "                          AIS_LOG=LEVEL in the environment "
	    "too)\n"
	    "  -v, --verbose           same as --log-level debug\n"
	    "  -h, --help              print this help and exit\n"
	    "  -V, --version           print the version and exit\n"
	    "\n"
	    "Configuration keys (\"key = value\" lines): listen, port, "
	    "advertise,\nmountpath, seed, join, threads, io_timeout, "
	    "idle_timeout, pidfile, log_level, raft_dir, raft_port, "
	    "down_after,\nrebalance_workers (objects a rebalance moves at "
	    "once, default 4),\nrebalance_rate_mb (MB/s a rebalance sends at "
	    "most, default 0: no limit),\nverify_reads (on: every block "
	    "read from disk is checked against its\nchecksum; default on), "
	    "scrub_interval_h (a scrub of everything this\noften; default 0: "
	    "only when asked),\nlease_ms (how long a mount trusts what it "
	    "cached without hearing from\nthis node; default 4000),\n"
	    "open_cache (objects kept open for fast reads; default 8192, "
	    "0: none),\netl_dir (the directory of the programs transforms "
	    "may run; default none:\nno transforms), etl_user (the user "
	    "they run as; default nobody when\naisd runs as root), "
	    "etl_output_max (bytes a transform may write per\nobject; "
	    "default 4 GiB),\ns3_port (the S3 endpoint's port; default 0: "
	    "none), s3_listen (its address;\ndefault: listen), s3_region "
	    "(default us-east-1), s3_anonymous (what\nunsigned S3 requests "
	    "may do: none, read or write; default none),\n"
	    "auth_secret_file (the cluster's secret, mode 0600, the same on "
	    "every node:\nrequests need tokens; default none: no auth),\n"
	    "tls_ca_file, tls_cert_file, tls_key_file (TLS 1.3 on every "
	    "port with\ncertificates of the cluster's CA; reloaded on "
	    "SIGHUP; default none: plain TCP).\n"
	    "Command-line flags "
	    "override the file. See aisd(8).\n",
	    AISD_DEFAULT_CONFIG, AISD_DEFAULT_PORT, AISD_DEFAULT_IO_TIMEOUT);
}

static char *dup_or(const char *a, const char *b)
{
	return strdup(a ? a : b);
}

/* Flags win over the file; repeatable flags replace the file's list. */
static int merge(struct aisd_opts *o, struct src *cli, struct src *file)
{
	struct src *pick;
	const char *env;
	int env_level;

	o->listen = dup_or(cli->listen ? cli->listen : file->listen, "0.0.0.0");
	o->port = cli->port > 0	   ? (uint16_t)cli->port
		  : file->port > 0 ? (uint16_t)file->port
				   : AISD_DEFAULT_PORT;
	if (cli->advertise || file->advertise)
		o->advertise = dup_or(cli->advertise, file->advertise);
	pick = cli->nmountpaths ? cli : file;
	o->mountpaths = pick->mountpaths;
	o->nmountpaths = pick->nmountpaths;
	pick->mountpaths = NULL;
	pick = cli->nseeds ? cli : file;
	o->seeds = pick->seeds;
	o->nseeds = pick->nseeds;
	pick->seeds = NULL;
	if (cli->join || file->join)
		o->join = dup_or(cli->join, file->join);
	o->threads = cli->threads > 0	 ? cli->threads
		     : file->threads > 0 ? file->threads
					 : 0;
	o->io_timeout_s = cli->io_timeout_s > 0	   ? cli->io_timeout_s
			  : file->io_timeout_s > 0 ? file->io_timeout_s
						   : AISD_DEFAULT_IO_TIMEOUT;
	o->idle_timeout_s = cli->idle_timeout_s >= 0	? cli->idle_timeout_s
			    : file->idle_timeout_s >= 0 ? file->idle_timeout_s
							: 0;
	if (cli->pidfile || file->pidfile)
		o->pidfile = dup_or(cli->pidfile, file->pidfile);
	if (cli->raft_dir || file->raft_dir)
		o->raft_dir = dup_or(cli->raft_dir, file->raft_dir);
	o->raft_port = cli->raft_port > 0	 ? (uint16_t)cli->raft_port
		       : file->raft_port > 0	 ? (uint16_t)file->raft_port
		       : o->port <= 65535 - 1000 ? (uint16_t)(o->port + 1000)
						 : 0;
	o->down_after_ms = cli->down_after_ms > 0 ? (unsigned)cli->down_after_ms
			   : file->down_after_ms > 0
			       ? (unsigned)file->down_after_ms
			       : 3000;
	env = getenv("AIS_LOG");
	env_level = env && *env ? ais_log_parse_level(env) : -1;
	o->log_level = cli->log_level >= 0    ? cli->log_level
		       : env_level >= 0	      ? env_level
		       : file->log_level >= 0 ? file->log_level
					      : LOG_INFO;
	o->rebalance_workers =
	    file->rebalance_workers > 0 ? file->rebalance_workers : 4;
	o->rebalance_rate_mb =
	    file->rebalance_rate_mb >= 0 ? file->rebalance_rate_mb : 0;
	o->verify_reads = file->verify_reads != 0;
	o->scrub_interval_h =
	    file->scrub_interval_h > 0 ? (unsigned)file->scrub_interval_h : 0;
	o->lease_ms = file->lease_ms > 0 ? (unsigned)file->lease_ms : 0;
	o->open_cache =
	    file->open_cache >= 0 ? (unsigned)file->open_cache : OCACHE_DEFAULT;
	if (cli->etl_dir || file->etl_dir)
		o->etl_dir = dup_or(cli->etl_dir, file->etl_dir);
	if (file->etl_user)
		o->etl_user = strdup(file->etl_user);
	o->etl_output_max = file->etl_output_max;
	o->s3_port = cli->s3_port >= 0	  ? (uint16_t)cli->s3_port
		     : file->s3_port >= 0 ? (uint16_t)file->s3_port
					  : 0;
	o->s3_listen = dup_or(file->s3_listen, o->listen);
	o->s3_region = dup_or(file->s3_region, "us-east-1");
	o->s3_anonymous =
	    file->s3_anonymous >= 0 ? file->s3_anonymous : AISD_S3_ANON_NONE;
	if (cli->auth_secret_file || file->auth_secret_file)
		o->auth_secret_file =
		    dup_or(cli->auth_secret_file, file->auth_secret_file);
	if (cli->tls_ca_file || file->tls_ca_file)
		o->tls_ca_file = dup_or(cli->tls_ca_file, file->tls_ca_file);
	if (cli->tls_cert_file || file->tls_cert_file)
		o->tls_cert_file =
		    dup_or(cli->tls_cert_file, file->tls_cert_file);
	if (cli->tls_key_file || file->tls_key_file)
		o->tls_key_file = dup_or(cli->tls_key_file, file->tls_key_file);
	if (!o->listen || !o->s3_listen || !o->s3_region)
		return -ENOMEM;
	return 0;
}

int aisd_opts_parse(struct aisd_opts *o, int argc, char **argv)
{
	enum {
		OPT_THREADS = 256,
		OPT_IO_TIMEOUT,
		OPT_IDLE_TIMEOUT,
		OPT_PIDFILE,
		OPT_LOG_LEVEL,
		OPT_RAFT_DIR,
		OPT_RAFT_PORT,
		OPT_DOWN_AFTER,
		OPT_ETL_DIR,
		OPT_S3_PORT,
		OPT_AUTH_SECRET_FILE,
		OPT_TLS_CA_FILE,
		OPT_TLS_CERT_FILE,
		OPT_TLS_KEY_FILE
	};
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},
	    {"port", required_argument, NULL, 'p'},
	    {"advertise", required_argument, NULL, 'a'},
	    {"mountpath", required_argument, NULL, 'm'},
	    {"seed", required_argument, NULL, 's'},
	    {"join", required_argument, NULL, 'j'},
	    {"threads", required_argument, NULL, OPT_THREADS},
	    {"io-timeout", required_argument, NULL, OPT_IO_TIMEOUT},
	    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	    {"pidfile", required_argument, NULL, OPT_PIDFILE},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"raft-dir", required_argument, NULL, OPT_RAFT_DIR},
	    {"raft-port", required_argument, NULL, OPT_RAFT_PORT},
	    {"down-after", required_argument, NULL, OPT_DOWN_AFTER},
	    {"etl-dir", required_argument, NULL, OPT_ETL_DIR},
	    {"s3-port", required_argument, NULL, OPT_S3_PORT},
	    {"auth-secret-file", required_argument, NULL, OPT_AUTH_SECRET_FILE},
	    {"tls-ca-file", required_argument, NULL, OPT_TLS_CA_FILE},
	    {"tls-cert-file", required_argument, NULL, OPT_TLS_CERT_FILE},
	    {"tls-key-file", required_argument, NULL, OPT_TLS_KEY_FILE},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char errmsg[AIS_ERRMSG_LEN] = "", flag[32];
	struct src cli, file;
	const char *config = NULL;
	const char *key;
	int c, rc = 0, explicit_config = 0;

	memset(o, 0, sizeof(*o));
	src_init(&cli);
	src_init(&file);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":c:l:p:a:m:s:j:vhV", longopts,
				NULL)) != -1) {
		key = NULL;
		switch (c) {
		case 'c':
			config = optarg;
			explicit_config = 1;
			continue;
		case 'l':
			key = "listen";
			break;
		case 'p':
			key = "port";
			break;
		case 'a':
			key = "advertise";
			break;
		case 'm':
			key = "mountpath";
			break;
		case 's':
			key = "seed";
			break;
		case 'j':
			key = "join";
			break;
		case OPT_THREADS:
			key = "threads";
			break;
		case OPT_IO_TIMEOUT:
			key = "io_timeout";
			break;
		case OPT_IDLE_TIMEOUT:
			key = "idle_timeout";
			break;
		case OPT_PIDFILE:
			key = "pidfile";
			break;
		case OPT_LOG_LEVEL:
			key = "log_level";
			break;
		case OPT_RAFT_DIR:
			key = "raft_dir";
			break;
		case OPT_RAFT_PORT:
			key = "raft_port";
			break;
		case OPT_DOWN_AFTER:
			key = "down_after";
			break;
		case OPT_ETL_DIR:
			key = "etl_dir";
			break;
		case OPT_S3_PORT:
			key = "s3_port";
			break;
		case OPT_AUTH_SECRET_FILE:
			key = "auth_secret_file";
			break;
		case OPT_TLS_CA_FILE:
			key = "tls_ca_file";
			break;
		case OPT_TLS_CERT_FILE:
			key = "tls_cert_file";
			break;
		case OPT_TLS_KEY_FILE:
			key = "tls_key_file";
			break;
		case 'v':
			cli.log_level = LOG_DEBUG;
			continue;
		case 'h':
			usage(stdout);
			rc = 1;
			goto out;
		case 'V':
			printf("aisd %s\n", AIS_VERSION);
			rc = 1;
			goto out;
		case ':':
			fprintf(stderr,
				"aisd: option '%s' needs a value "
				"(see aisd --help)\n",
				argv[optind - 1]);
			rc = -1;
			goto out;
		default:
			fprintf(stderr,
				"aisd: unknown option '%s' (see aisd "
				"--help)\n",
				argv[optind - 1]);
			rc = -1;
			goto out;
		}
		snprintf(flag, sizeof(flag), "--%s", key);
		for (char *f = flag; *f; f++)
			if (*f == '_')
				*f = '-';
		rc = apply(&cli, key, optarg, flag, errmsg);
		if (rc) {
			fprintf(stderr, "aisd: %s\n",
				rc == -ENOMEM ? "out of memory" : errmsg);
			rc = -1;
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"aisd: unexpected argument '%s' (see aisd "
			"--help)\n",
			argv[optind]);
		rc = -1;
		goto out;
	}
	if (!config && access(AISD_DEFAULT_CONFIG, F_OK) == 0)
		config = AISD_DEFAULT_CONFIG;
	if (config) {
		rc = ais_config_load(config, file_cb, &file, errmsg);
		if (rc) {
			fprintf(stderr, "aisd: %s\n", errmsg);
			rc = -1;
			goto out;
		}
		o->config = strdup(config);
	}
	(void)explicit_config;
	if (merge(o, &cli, &file)) {
		fprintf(stderr, "aisd: out of memory\n");
		rc = -1;
		goto out;
	}
	if (o->nmountpaths == 0) {
		fprintf(stderr, "aisd: no mountpath: give -m DIR or "
				"'mountpath = DIR' in the config file\n");
		rc = -1;
	} else if (o->raft_port == 0 || o->raft_port == o->port) {
		fprintf(stderr, "aisd: give a Raft port (--raft-port or "
				"'raft_port = N'), not the data port\n");
		rc = -1;
	}
out:
	src_free(&cli);
	src_free(&file);
	return rc;
}

void aisd_opts_free(struct aisd_opts *o)
{
	free(o->config);
	free(o->listen);
	free(o->advertise);
	ais_strv_free(o->mountpaths);
	ais_strv_free(o->seeds);
	free(o->join);
	free(o->pidfile);
	free(o->raft_dir);
	free(o->etl_dir);
	free(o->etl_user);
	free(o->s3_listen);
	free(o->s3_region);
	free(o->auth_secret_file);
	free(o->tls_ca_file);
	free(o->tls_cert_file);
	free(o->tls_key_file);
	memset(o, 0, sizeof(*o));
}
