/* Plumbing shared by the commands of the ais command line: exit codes, the
 * one-line error reports, option parsing helpers, the cluster client and the
 * interrupt flag. */
#ifndef AIS_TOOLS_CLI_H
#define AIS_TOOLS_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "names.h"

/* Exit statuses of every command (documented in man/ais.1). */
enum {
	CLI_OK = 0,	       /* the operation succeeded */
	CLI_FAIL = 1,	       /* the operation failed (reason on stderr) */
	CLI_USAGE = 2,	       /* bad command line (reason on stderr) */
	CLI_INTERRUPTED = 130, /* SIGINT / SIGTERM */
};

/* A command or subcommand: run gets argv[0] == name. */
struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* one line for the command list */
};

/* The cluster endpoint list ("HOST:PORT[,HOST:PORT...]") from --endpoint,
 * or NULL for $AIS_ENDPOINT and then AIS_DEFAULT_ENDPOINT (resolved by
 * ais_client_new). */
extern const char *cli_endpoint;

/* --token-file (NULL: $AIS_TOKEN_FILE, then the cluster's token found by
 * libais) and --secret-file (NULL: $AIS_SECRET_FILE; the cluster's secret:
 * requests carry root tokens minted with it, as a node's do). */
extern const char *cli_token_file;
/* --ca-file (NULL: ais_client_opts' default). */
extern const char *cli_ca_file;
extern const char *cli_secret_file;

/* Set by SIGINT/SIGTERM. Long operations poll it and stop early; a second
 * signal kills the process. */
extern volatile sig_atomic_t cli_interrupted;

/* Installs the SIGINT/SIGTERM handlers. SIGPIPE keeps its default, so that
 * "ais ls | head" ends quietly like any Unix tool; libais sends with
 * MSG_NOSIGNAL, so a closed socket is an -EPIPE, not a signal. */
void cli_signals_init(void);

/* Prints one line "ais: WHAT: strerror(-rc) (errmsg)" on stderr (the errmsg
 * part is left out when empty or already containing the strerror text) and
 * returns CLI_FAIL, or CLI_INTERRUPTED if cli_interrupted is set. */
int cli_fail(int rc, const char *errmsg, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "ais: WHAT" on stderr without an errno; returns CLI_FAIL. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "ais: CMD: MESSAGE (see 'ais CMD --help')" (cmd NULL: "ais:
 * MESSAGE (see 'ais --help')") and returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints a warning line "ais: MESSAGE" on stderr (does not fail). */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports a getopt_long failure (c is '?' or ':') for cmd; returns
 * CLI_USAGE. */
int cli_bad_option(const char *cmd, char **argv, int c);

/* Dispatches argv[1] to one of cmds (NULL-name terminated) for the command
 * group "group" ("local", "bucket", ...); prints help for -h/--help or no
 * subcommand. */
int cli_dispatch(const char *group, const char *help,
		 const struct cli_cmd *cmds, int argc, char **argv);

/* Creates the client for cli_endpoint; on failure prints the reason for
 * "what" and returns NULL. Free with ais_client_free. */
struct ais_client *cli_client(const char *what);

/* Parses "ais://BUCKET[/NAME]" into bucket and *name (points into uri).
 * need_name: the URI must name an object. Returns 0, or prints a usage line
 * for cmd and returns CLI_USAGE. */
int cli_parse_uri(const char *cmd, const char *uri, bool need_name,
		  char bucket[AIS_BUCKET_MAX + 1], const char **name);

/* Parses a size option ("4k", "1MiB", "123"); on error prints a usage line
 * and returns CLI_USAGE. */
int cli_parse_size_opt(const char *cmd, const char *opt, const char *s,
		       uint64_t *out);

/* Parses a positive integer in [min, max]; else usage line, CLI_USAGE. */
int cli_parse_uint_opt(const char *cmd, const char *opt, const char *s,
		       unsigned min, unsigned max, unsigned *out);

/* Formats ns since the epoch as "2026-11-22 10:47:03" (local time). */
char *cli_format_time(int64_t ns, char *buf, size_t len);

/* Formats seconds as "45s", "12m03s", "3h04m", "2d05h". */
char *cli_format_duration(uint64_t s, char *buf, size_t len);

/* Formats a byte rate as "160.0 MiB/s". */
char *cli_format_rate(uint64_t bytes, uint64_t ns, char *buf, size_t len);

/* The commands (one file each, tools/cmd_*.c). */
int cmd_local(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_s3(int argc, char **argv);
int cmd_auth(int argc, char **argv);
int cmd_tls(int argc, char **argv);
int cmd_scrub(int argc, char **argv);
int cmd_bucket(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_mv(int argc, char **argv);
int cmd_shard(int argc, char **argv);
int cmd_etl(int argc, char **argv);

#endif
