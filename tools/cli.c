/* Plumbing shared by the commands of the ais command line.
 *
 * The user-facing lines ("ais: get ais://b/x: No such file or directory
 * (...)") are the command line's interface, not log records, so they are
 * written to stderr directly; diagnostics go through ais_log. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "log.h"
#include "progress.h"
#include "util.h"

const char *cli_endpoint;
const char *cli_token_file;
const char *cli_ca_file;
const char *cli_secret_file;
volatile sig_atomic_t cli_interrupted;

static void on_signal(int sig)
{
	if (cli_interrupted) {
		/* Second signal: the user insists, die now. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	cli_interrupted = 1;
}

void cli_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void vline(const char *fmt, va_list ap, const char *tail)
{
	char buf[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	progress_out_lock();
	fprintf(stderr, "ais: %s%s\n", buf, tail ? tail : "");
	fflush(stderr);
	progress_out_unlock();
}

int cli_fail(int rc, const char *errmsg, const char *what_fmt, ...)
{
	char tail[AIS_ERRMSG_LEN + 160];
	const char *es = strerror(rc < 0 ? -rc : rc);
	va_list ap;

	if (cli_interrupted && (rc == -EINTR || rc == -ECANCELED))
		return CLI_INTERRUPTED;
	if (errmsg && errmsg[0] && strstr(errmsg, es))
		snprintf(tail, sizeof(tail), ": %s", errmsg);
	else if (errmsg && errmsg[0])
		snprintf(tail, sizeof(tail), ": %s (%s)", es, errmsg);
	else
		snprintf(tail, sizeof(tail), ": %s", es);
	va_start(ap, what_fmt);
	vline(what_fmt, ap, tail);
	va_end(ap);
	return cli_interrupted ? CLI_INTERRUPTED : CLI_FAIL;
}

int cli_failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(fmt, ap, NULL);
	va_end(ap);
	return CLI_FAIL;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(fmt, ap, NULL);
	va_end(ap);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	progress_out_lock();
	if (cmd)
		fprintf(stderr, "ais: %s: %s (see 'ais %s --help')\n", cmd, buf,
			cmd);
	else
		fprintf(stderr, "ais: %s (see 'ais --help')\n", buf);
	fflush(stderr);
	progress_out_unlock();
	return CLI_USAGE;
}

int cli_bad_option(const char *cmd, char **argv, int c)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		return cli_usage(cmd, "option %s needs a value", arg);
	if (optopt && optopt != '?')
		return cli_usage(cmd, "unknown option -%c", optopt);
	return cli_usage(cmd, "unknown option %s", arg);
}

int cli_dispatch(const char *group, const char *help,
		 const struct cli_cmd *cmds, int argc, char **argv)
{
	const struct cli_cmd *cmd;

	if (argc < 2) {
		char names[256] = "";
		size_t off = 0;

		for (cmd = cmds; cmd->name && off < sizeof(names); cmd++)
			off += (size_t)snprintf(names + off,
						sizeof(names) - off, "%s%s",
						off ? ", " : "", cmd->name);
		return cli_usage(group, "expected a subcommand: %s", names);
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		fputs(help, stdout);
		return CLI_OK;
	}
	for (cmd = cmds; cmd->name; cmd++)
		if (!strcmp(cmd->name, argv[1]))
			return cmd->run(argc - 1, argv + 1);
	return cli_usage(group, "unknown subcommand '%s'", argv[1]);
}

struct ais_client *cli_client(const char *what)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	const char *secret = cli_secret_file;
	struct ais_client_opts o;
	struct ais_auth_key key;
	struct ais_client *c;

	ais_client_opts_default(&o);
	o.token_file = cli_token_file;
	o.ca_file = cli_ca_file;
	if (!secret || !secret[0])
		secret = getenv("AIS_SECRET_FILE");
	if (secret && secret[0]) {
		if (ais_auth_key_load(secret, &key, errmsg)) {
			cli_failf("%s: %s", what, errmsg);
			return NULL;
		}
		o.root_key = &key;
	}
	c = ais_client_new(cli_endpoint, &o, errmsg);
	if (!c) {
		/* The reason already names the endpoint and the errno text. */
		cli_failf("%s: %s", what,
			  errmsg[0] ? errmsg : "cannot connect to the cluster");
	}
	return c;
}

int cli_parse_uri(const char *cmd, const char *uri, bool need_name,
		  char bucket[AIS_BUCKET_MAX + 1], const char **name)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	const char *nm = "";

	if (ais_uri_parse(uri, bucket, AIS_BUCKET_MAX + 1, &nm, errmsg) < 0) {
		if (errmsg[0] && strstr(errmsg, uri))
			return cli_usage(cmd, "%s", errmsg);
		return cli_usage(cmd, "%s: %s", uri,
				 errmsg[0] ? errmsg : "not an ais:// URI");
	}
	if (need_name && !nm[0])
		return cli_usage(cmd, "%s: expected ais://BUCKET/NAME", uri);
	if (need_name && ais_name_check_object(nm, strlen(nm), errmsg) < 0)
		return cli_usage(cmd, "%s: %s", uri, errmsg);
	*name = nm;
	return 0;
}

int cli_parse_size_opt(const char *cmd, const char *opt, const char *s,
		       uint64_t *out)
{
	if (ais_parse_size(s, out) < 0)
		return cli_usage(cmd, "%s: '%s' is not a size", opt, s);
	return 0;
}

int cli_parse_uint_opt(const char *cmd, const char *opt, const char *s,
		       unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return cli_usage(cmd, "%s: expected a number from %u to %u",
				 opt, min, max);
	*out = (unsigned)v;
	return 0;
}

char *cli_format_time(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
	return buf;
}

char *cli_format_duration(uint64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%us", (unsigned)s);
	else if (s < 3600)
		snprintf(buf, len, "%um%02us", (unsigned)(s / 60),
			 (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%uh%02um", (unsigned)(s / 3600),
			 (unsigned)(s / 60 % 60));
	else
		snprintf(buf, len, "%ud%02uh", (unsigned)(s / 86400),
			 (unsigned)(s / 3600 % 24));
	return buf;
}

char *cli_format_rate(uint64_t bytes, uint64_t ns, char *buf, size_t len)
{
	char sz[32];
	uint64_t rate = ns ? (uint64_t)((double)bytes * 1e9 / (double)ns) : 0;

	snprintf(buf, len, "%s/s", ais_format_size(rate, sz, sizeof(sz)));
	return buf;
}
