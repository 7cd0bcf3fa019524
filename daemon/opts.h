/* aisd settings: command-line flags over the configuration file over the
 * built-in defaults. */
#ifndef AISD_OPTS_H
#define AISD_OPTS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define AISD_DEFAULT_CONFIG	"/etc/ais/aisd.conf"
#define AISD_DEFAULT_PORT	51080
#define AISD_DEFAULT_IO_TIMEOUT 60

/* All strings are heap copies owned by the struct (aisd_opts_free). */
struct aisd_opts {
	char *config; /* file read, or NULL */
	char *listen; /* "0.0.0.0" */
	uint16_t port;
	char *advertise;   /* NULL: derived from listen */
	char **mountpaths; /* NULL-terminated */
	size_t nmountpaths;
	char **seeds; /* "HOST:PORT" each, NULL-terminated */
	size_t nseeds;
	char *join;  /* "HOST:PORT" or NULL */
	int threads; /* 0: max(32, 8 * ncpu) */
	int io_timeout_s;
	int idle_timeout_s; /* 0: idle connections are kept */
	char *pidfile;
	int log_level;		/* LOG_* */
	char *raft_dir;		/* NULL: <first mountpath>/.ais/raft */
	uint16_t raft_port;	/* default port + 1000 */
	unsigned down_after_ms; /* the leader marks a silent node down */
	int rebalance_workers;	/* objects moved at once (default 4) */
	int rebalance_rate_mb;	/* MB/s a rebalance sends at most; 0 = no limit
				 */
	bool verify_reads;	/* check read blocks against their checksums
				   (default on) */
	unsigned scrub_interval_h; /* a scrub of everything this often; 0 =
				      only when asked */
	unsigned lease_ms;   /* mounts' leases (lease/lease.h); 0: default */
	unsigned open_cache; /* objects the loop keeps open (0: none) */
	char *etl_dir;	     /* programs transforms may run (NULL: none) */
	char *etl_user;	     /* the user they run as (NULL: "nobody" when
				aisd runs as root, else aisd's own) */
	uint64_t etl_output_max; /* bytes a transform may write (0: the
				    default, ETL_OUTPUT_MAX) */
	uint16_t s3_port;	 /* the S3 endpoint's port (0: none) */
	char *s3_listen;	 /* its address (default: listen) */
	char *s3_region;	 /* the region it names (us-east-1) */
	int s3_anonymous;	 /* what requests without a signature may
				    do: AISD_S3_ANON_* */
	char *auth_secret_file;	 /* the cluster's secret (auth.h); NULL: no
				    auth, anyone who reaches a port may do
				    anything */
	/* TLS (tls.h) on every port: the cluster's CA, this node's
	 * certificate and key; NULL: plain TCP. */
	char *tls_ca_file, *tls_cert_file, *tls_key_file;
};

enum {
	AISD_S3_ANON_NONE = 0, /* nothing: every request is signed */
	AISD_S3_ANON_READ,     /* GET, HEAD and listings */
	AISD_S3_ANON_WRITE,    /* everything */
};

/* Parses argv and the configuration file into o. Returns 0 to run, 1 when
 * the program should exit 0 (--help, --version: already printed), or -1
 * after printing one line on stderr (the caller exits 2). */
int aisd_opts_parse(struct aisd_opts *o, int argc, char **argv);
void aisd_opts_free(struct aisd_opts *o);

#endif
