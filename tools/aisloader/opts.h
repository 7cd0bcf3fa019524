/* aisloader: the command line (options, defaults, validation, --help). */
#ifndef AISLOADER_OPTS_H
#define AISLOADER_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses (documented in man/aisloader.1). */
enum { AL_EXIT_OK = 0, AL_EXIT_FAIL = 1, AL_EXIT_USAGE = 2 };

enum al_order { AL_ORDER_RANDOM = 0, AL_ORDER_SEQ = 1 };

#define AL_DEFAULT_WORKERS     16
#define AL_DEFAULT_DURATION_NS (30ULL * 1000000000ULL)
#define AL_DEFAULT_INTERVAL_NS (5ULL * 1000000000ULL)
#define AL_DEFAULT_SIZE	       4096
#define AL_DEFAULT_OBJECTS     1000
#define AL_MAX_WORKERS	       1024
#define AL_MAX_CONNS	       4096
#define AL_MAX_OBJECTS	       (1ULL << 32)

/* Strings point into argv (no heap). */
struct al_opts {
	const char *endpoint;	/* NULL: $AIS_ENDPOINT, then the default */
	const char *token_file; /* NULL: ais_client_opts' default */
	const char *ca_file;	/* NULL: ais_client_opts' default */
	const char *bucket;
	const char *prefix;   /* "" for the whole bucket */
	bool members;	      /* GET the members of the shards under prefix */
	const char *etl;      /* GET through this transform (ais etl) */
	const char *etl_args; /* its arguments */
	unsigned workers;
	unsigned conns;	      /* requests in flight in all (>= workers) */
	uint64_t duration_ns; /* 0: no time limit */
	uint64_t epochs;      /* 0: no epoch limit */
	unsigned put_pct;     /* 0..100 */
	uint64_t size_min, size_max;
	uint64_t seed;
	bool seed_set;
	enum al_order order;
	bool shuffle;	    /* --order seq: permute each epoch (default on) */
	uint64_t objects;   /* PUT name space; 0: derive (see al_opts_parse) */
	uint64_t read_size; /* 0: read whole objects */
	bool cleanup;
	bool json;
	uint64_t interval_ns; /* 0: no periodic lines */
	bool quiet;
	int log_level;
	int io_timeout_ms; /* 0: the client's default */
};

/* Parses argv into o (defaults first). Returns 0 to run, 1 when --help or
 * --version was printed to stdout (exit 0), or -EINVAL with a one-line
 * reason in errmsg (exit AL_EXIT_USAGE). */
int al_opts_parse(struct al_opts *o, int argc, char **argv, char *errmsg);

void al_opts_usage(FILE *out);

/* Parses a duration: "30s", "1.5m", "500ms", "2h", "250us"; a bare number
 * is seconds. Returns 0 or -EINVAL. */
int al_parse_duration(const char *s, uint64_t *ns);

#endif
