/* aisloader: command-line parsing (see opts.h). */
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ais_config.h"
#include "client.h"
#include "log.h"
#include "names.h"
#include "util.h"

enum {
	OPT_ENDPOINT = 256,
	OPT_TOKEN_FILE,
	OPT_CA_FILE,
	OPT_BUCKET,
	OPT_PREFIX,
	OPT_WORKERS,
	OPT_DURATION,
	OPT_EPOCHS,
	OPT_PUT_PCT,
	OPT_SIZE,
	OPT_SEED,
	OPT_ORDER,
	OPT_NO_SHUFFLE,
	OPT_OBJECTS,
	OPT_READ_WHOLE,
	OPT_READ_SIZE,
	OPT_CLEANUP,
	OPT_JSON,
	OPT_INTERVAL,
	OPT_MEMBERS,
	OPT_TIMEOUT,
	OPT_CONNS,
	OPT_ETL,
	OPT_ETL_ARGS,
	OPT_VERSION,
};

static const struct option long_opts[] = {
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"bucket", required_argument, NULL, OPT_BUCKET},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"conns", required_argument, NULL, OPT_CONNS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"put-pct", required_argument, NULL, OPT_PUT_PCT},
    {"size", required_argument, NULL, OPT_SIZE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"order", required_argument, NULL, OPT_ORDER},
    {"no-shuffle", no_argument, NULL, OPT_NO_SHUFFLE},
    {"objects", required_argument, NULL, OPT_OBJECTS},
    {"read-whole", no_argument, NULL, OPT_READ_WHOLE},
    {"read-size", required_argument, NULL, OPT_READ_SIZE},
    {"cleanup", no_argument, NULL, OPT_CLEANUP},
    {"json", no_argument, NULL, OPT_JSON},
    {"stats-interval", required_argument, NULL, OPT_INTERVAL},
    {"members", no_argument, NULL, OPT_MEMBERS},
    {"etl", required_argument, NULL, OPT_ETL},
    {"etl-args", required_argument, NULL, OPT_ETL_ARGS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void al_opts_usage(FILE *out)
{
	fputs(
	    "Usage: aisloader --bucket BUCKET [options]\n"
	    "\n"
	    "Generates GET/PUT load on an aisd cluster through libais and "
	    "reports\n"
	    "throughput and latency percentiles.\n"
	    "\n"
	    "Target:\n"
	    "  --endpoint HOST:PORT[,HOST:PORT...]\n"
	    "                        nodes of the cluster, the first that\n"
	    "                        answers is used (default $AIS_ENDPOINT,\n"
	    "                        then " AIS_DEFAULT_ENDPOINT ")\n"
	    "  --token-file F        the token requests carry (default\n"
	    "                        $AIS_TOKEN_FILE, else the one saved for\n"
	    "                        the cluster; ais auth)\n"
	    "  --ca-file F           the cluster's CA: TLS (default "
	    "$AIS_CA_FILE,\n"
	    "                        else those `ais local up` saved; none:\n"
	    "                        plain TCP)\n"
	    "  --bucket B            the bucket (must exist)\n"
	    "  --prefix P            only names under P; PUT names are\n"
	    "                        P/aisloader-SEED-N\n"
	    "  --members             GET the members of the shards (.tar,\n"
	    "                        .tar.gz, .tgz, .tar.lz4, .zip) under the\n"
	    "                        bucket/prefix instead of whole objects\n"
	    "                        (GET only)\n"
	    "  --etl NAME            GET every object (or member) through\n"
	    "                        transform NAME (ais etl), run by the "
	    "node\n"
	    "                        that holds it (GET only, whole objects)\n"
	    "  --etl-args A          the transform's arguments\n"
	    "\n"
	    "Workload:\n"
	    "  --workers N           worker threads (default 16)\n"
	    "  --conns N             requests in flight in all, shared by the\n"
	    "                        workers, each over its own connection\n"
	    "                        (default: one per worker; more than the\n"
	    "                        workers needs --put-pct 0)\n"
	    "  --duration D          run time: 30s, 2m, 500ms; 0 = until "
	    "stopped\n"
	    "                        (default 30s unless --epochs is given)\n"
	    "  --epochs N            stop after N passes over the name space\n"
	    "  --put-pct P           percent of operations that are PUTs, "
	    "0..100\n"
	    "                        (default 0: GET only)\n"
	    "  --size S | MIN-MAX    PUT object size, fixed or uniform in a "
	    "range\n"
	    "                        (4KiB, 1KiB-1MiB; default 4KiB)\n"
	    "  --objects N           PUT name space size (default: the number "
	    "of\n"
	    "                        listed objects, or 1000 if there are "
	    "none)\n"
	    "  --order random|seq    random picks, or every name once per "
	    "epoch\n"
	    "                        (seq; reshuffled each epoch from the "
	    "seed)\n"
	    "  --no-shuffle          with --order seq: listing (byte) order\n"
	    "  --seed N              seed for names, order, sizes and content\n"
	    "                        (default: from the clock, printed)\n"
	    "  --read-whole          GET whole objects (default)\n"
	    "  --read-size S         GET ranges of S bytes at random offsets\n"
	    "  --cleanup             delete the objects PUT by this run at the "
	    "end\n"
	    "  --timeout D           give up on a stalled request after D "
	    "(default 30s)\n"
	    "\n"
	    "Output:\n"
	    "  --stats-interval D    print a line every D (default 5s; 0 = "
	    "never)\n"
	    "  --json                one JSON object on stdout at the end "
	    "(lines go\n"
	    "                        to stderr)\n"
	    "  -q, --quiet           no periodic lines\n"
	    "  -v, --verbose         debug logging\n"
	    "  -h, --help            this help\n"
	    "      --version         print the version\n"
	    "\n"
	    "Exit status: 0 all operations succeeded, 1 an operation or the "
	    "setup\n"
	    "failed, 2 usage error. See aisloader(1).\n",
	    out);
}

int al_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
	    {"", 1e9}, {"s", 1e9},  {"sec", 1e9},  {"ms", 1e6},	  {"us", 1e3},
	    {"ns", 1}, {"m", 60e9}, {"min", 60e9}, {"h", 3600e9},
	};
	char *end;
	double v;
	size_t i;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) == 0) {
			v *= units[i].mult;
			if (v > 1e18)
				return -EINVAL;
			*ns = (uint64_t)llround(v);
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "4KiB" or "1KiB-1MiB". */
static int parse_size_range(const char *s, uint64_t *lo, uint64_t *hi)
{
	char buf[64];
	const char *dash = strchr(s, '-');
	size_t n;

	if (!dash)
		return ais_parse_size(s, lo) < 0 ? -EINVAL : (*hi = *lo, 0);
	n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (ais_parse_size(buf, lo) < 0 || ais_parse_size(dash + 1, hi) < 0)
		return -EINVAL;
	return *lo <= *hi ? 0 : -EINVAL;
}

int al_opts_parse(struct al_opts *o, int argc, char **argv, char *errmsg)
{
	bool duration_set = false;
	uint64_t v;
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->prefix = "";
	o->workers = AL_DEFAULT_WORKERS;
	o->size_min = o->size_max = AL_DEFAULT_SIZE;
	o->order = AL_ORDER_RANDOM;
	o->shuffle = true;
	o->interval_ns = AL_DEFAULT_INTERVAL_NS;
	o->log_level = LOG_NOTICE;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":qvh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_ENDPOINT: {
			struct ais_endpoint eps[AIS_ENDPOINTS_MAX];
			char em[AIS_ERRMSG_LEN] = "";

			if (ais_endpoints_parse(optarg, eps, AIS_ENDPOINTS_MAX,
						em) < 0)
				return ais_errf(errmsg, -EINVAL,
						"--endpoint %s: %s (expected "
						"HOST:PORT[,HOST:PORT...])",
						optarg, em);
			o->endpoint = optarg;
			break;
		}
		case OPT_TOKEN_FILE:
			o->token_file = optarg;
			break;
		case OPT_CA_FILE:
			o->ca_file = optarg;
			break;
		case OPT_BUCKET:
			o->bucket = optarg;
			break;
		case OPT_PREFIX:
			o->prefix = optarg;
			break;
		case OPT_WORKERS:
			if (parse_u64(optarg, &v) < 0 || v < 1 ||
			    v > AL_MAX_WORKERS)
				return ais_errf(errmsg, -EINVAL,
						"--workers %s: expected 1..%d",
						optarg, AL_MAX_WORKERS);
			o->workers = (unsigned)v;
			break;
		case OPT_CONNS:
			if (parse_u64(optarg, &v) < 0 || v < 1 ||
			    v > AL_MAX_CONNS)
				return ais_errf(errmsg, -EINVAL,
						"--conns %s: expected 1..%d",
						optarg, AL_MAX_CONNS);
			o->conns = (unsigned)v;
			break;
		case OPT_DURATION:
			if (al_parse_duration(optarg, &o->duration_ns) < 0)
				return ais_errf(errmsg, -EINVAL,
						"--duration %s: expected a "
						"duration such as 30s, 2m, "
						"500ms",
						optarg);
			duration_set = true;
			break;
		case OPT_EPOCHS:
			if (parse_u64(optarg, &o->epochs) < 0 ||
			    o->epochs < 1 || o->epochs > 1000000000ULL)
				return ais_errf(errmsg, -EINVAL,
						"--epochs %s: expected a "
						"positive number",
						optarg);
			break;
		case OPT_PUT_PCT:
			if (parse_u64(optarg, &v) < 0 || v > 100)
				return ais_errf(errmsg, -EINVAL,
						"--put-pct %s: expected "
						"0..100",
						optarg);
			o->put_pct = (unsigned)v;
			break;
		case OPT_SIZE:
			if (parse_size_range(optarg, &o->size_min,
					     &o->size_max) < 0)
				return ais_errf(errmsg, -EINVAL,
						"--size %s: expected a size "
						"(4KiB) or a range "
						"(1KiB-1MiB, min <= max)",
						optarg);
			break;
		case OPT_SEED:
			if (parse_u64(optarg, &o->seed) < 0)
				return ais_errf(errmsg, -EINVAL,
						"--seed %s: expected an "
						"unsigned integer",
						optarg);
			o->seed_set = true;
			break;
		case OPT_ORDER:
			if (strcmp(optarg, "random") == 0)
				o->order = AL_ORDER_RANDOM;
			else if (strcmp(optarg, "seq") == 0 ||
				 strcmp(optarg, "sequential") == 0)
				o->order = AL_ORDER_SEQ;
			else
				return ais_errf(errmsg, -EINVAL,
						"--order %s: expected random "
						"or seq",
						optarg);
			break;
		case OPT_NO_SHUFFLE:
			o->shuffle = false;
			break;
		case OPT_OBJECTS:
			if (parse_u64(optarg, &o->objects) < 0 ||
			    o->objects < 1 || o->objects > AL_MAX_OBJECTS)
				return ais_errf(
				    errmsg, -EINVAL,
				    "--objects %s: expected "
				    "1..%llu",
				    optarg, (unsigned long long)AL_MAX_OBJECTS);
			break;
		case OPT_READ_WHOLE:
			o->read_size = 0;
			break;
		case OPT_READ_SIZE:
			if (ais_parse_size(optarg, &o->read_size) < 0 ||
			    o->read_size == 0)
				return ais_errf(errmsg, -EINVAL,
						"--read-size %s: expected a "
						"size > 0 such as 1MiB",
						optarg);
			break;
		case OPT_CLEANUP:
			o->cleanup = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_INTERVAL:
			if (al_parse_duration(optarg, &o->interval_ns) < 0 ||
			    (o->interval_ns && o->interval_ns < 100000000ULL))
				return ais_errf(errmsg, -EINVAL,
						"--stats-interval %s: expected "
						"0 or a duration of at least "
						"100ms",
						optarg);
			break;
		case OPT_MEMBERS:
			o->members = true;
			break;
		case OPT_ETL:
			if (ais_name_check_etl(optarg, errmsg) < 0)
				return -EINVAL;
			o->etl = optarg;
			break;
		case OPT_ETL_ARGS:
			o->etl_args = optarg;
			break;
		case OPT_TIMEOUT:
			if (al_parse_duration(optarg, &v) < 0 ||
			    v < 1000000ULL || v > 3600000000000ULL)
				return ais_errf(errmsg, -EINVAL,
						"--timeout %s: expected a "
						"duration between 1ms and 1h",
						optarg);
			o->io_timeout_ms = (int)(v / 1000000ULL);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->log_level = LOG_DEBUG;
			break;
		case 'h':
			al_opts_usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("aisloader %s\n", AIS_VERSION);
			return 1;
		case ':':
			return ais_errf(errmsg, -EINVAL,
					"%s: missing argument (see --help)",
					argv[optind - 1]);
		default:
			/* getopt_long leaves a known long option's value in
			 * optopt when it was given an argument it takes not. */
			if (optopt >= OPT_ENDPOINT)
				return ais_errf(errmsg, -EINVAL,
						"%s: the option takes no "
						"argument (see --help)",
						argv[optind - 1]);
			return ais_errf(errmsg, -EINVAL,
					"%s: unknown option (see --help)",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ais_errf(errmsg, -EINVAL,
				"unexpected argument '%s' (see --help)",
				argv[optind]);
	if (!o->bucket)
		return ais_errf(errmsg, -EINVAL,
				"--bucket is required (see --help)");
	rc = ais_name_check_bucket(o->bucket, errmsg);
	if (rc < 0)
		return -EINVAL;
	if (*o->prefix && ais_name_check_prefix(o->prefix, errmsg) < 0)
		return -EINVAL;
	if (!duration_set)
		o->duration_ns = o->epochs ? 0 : AL_DEFAULT_DURATION_NS;
	if (o->shuffle == false && o->order != AL_ORDER_SEQ)
		return ais_errf(errmsg, -EINVAL,
				"--no-shuffle needs --order seq");
	if (o->members && o->put_pct > 0)
		return ais_errf(errmsg, -EINVAL,
				"--members reads shard members, which are "
				"read-only: it cannot be combined with "
				"--put-pct %u (PUT whole shards without "
				"--members)",
				o->put_pct);
	if (o->etl_args && !o->etl)
		return ais_errf(errmsg, -EINVAL, "--etl-args needs --etl");
	if (o->etl && (o->put_pct > 0 || o->read_size))
		return ais_errf(errmsg, -EINVAL,
				"--etl reads whole objects through a "
				"transform: not with --put-pct or "
				"--read-size");
	if (!o->conns)
		o->conns = o->workers;
	if (o->conns < o->workers)
		return ais_errf(errmsg, -EINVAL,
				"--conns %u is less than --workers %u: every "
				"worker keeps at least one request in flight",
				o->conns, o->workers);
	if (o->conns > o->workers && o->put_pct > 0)
		return ais_errf(
		    errmsg, -EINVAL,
		    "--conns %u above --workers %u needs a GET-only "
		    "load (--put-pct 0): a PUT blocks its worker",
		    o->conns, o->workers);
	if (o->cleanup && o->put_pct == 0)
		return ais_errf(errmsg, -EINVAL,
				"--cleanup deletes what this run PUT; it "
				"needs --put-pct > 0");
	if (!o->seed_set)
		o->seed =
		    ((uint64_t)ais_now_real_ns() ^ ((uint64_t)getpid() << 32)) %
		    1000000000ULL;
	return 0;
}
