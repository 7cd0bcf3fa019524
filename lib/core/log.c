/* Levelled logging to stderr: timestamps on a terminal or in a file, syslog
 * "<N>" prefixes under the systemd journal. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int ais_log_level = LOG_NOTICE;

static char log_prog[32] = "ais";
static int log_journal;

void ais_log_init(const char *progname, int level)
{
	snprintf(log_prog, sizeof(log_prog), "%s", progname);
	ais_log_level = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

int ais_log_parse_level(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
	    {"err", LOG_ERR},	      {"error", LOG_ERR},
	    {"warning", LOG_WARNING}, {"warn", LOG_WARNING},
	    {"notice", LOG_NOTICE},   {"info", LOG_INFO},
	    {"debug", LOG_DEBUG},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].level;
	return -1;
}

void ais_log_emit(int level, const char *fmt, ...)
{
	static const char *const tags[] = {"EMERG", "ALERT", "CRIT", "ERROR",
					   "WARN",  "NOTE",  "INFO", "DEBUG"};
	char line[2048];
	size_t off = 0;
	va_list ap;

	if (level < 0 || level > LOG_DEBUG)
		level = LOG_ERR;
	if (log_journal) {
		off = (size_t)snprintf(line, sizeof(line), "<%d>%s: ", level,
				       tags[level]);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		off = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
		off +=
		    (size_t)snprintf(line + off, sizeof(line) - off,
				     ".%03ld %s[%d] %s: ", ts.tv_nsec / 1000000,
				     log_prog, (int)getpid(), tags[level]);
	}
	va_start(ap, fmt);
	if (off < sizeof(line))
		vsnprintf(line + off, sizeof(line) - off, fmt, ap);
	va_end(ap);
	/* One write per line so that lines from threads don't interleave. */
	off = strlen(line);
	if (off >= sizeof(line) - 1)
		off = sizeof(line) - 2;
	line[off++] = '\n';
	fwrite(line, 1, off, stderr);
	fflush(stderr);
}
