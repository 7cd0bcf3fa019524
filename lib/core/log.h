/* Levelled logging for the programs (aisd, aisfs, ais): one line per event to
 * stderr, which the journal collects under systemd. lib/ code never logs. */
#ifndef AIS_LOG_H
#define AIS_LOG_H

#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

extern int ais_log_level;

/* Sets the program name and level. Under systemd (JOURNAL_STREAM set) lines
 * carry a "<N>" syslog prefix instead of a timestamp. */
void ais_log_init(const char *progname, int level);

/* "err", "warning"/"warn", "notice", "info", "debug" -> LOG_*; -1 if unknown.
 */
int ais_log_parse_level(const char *s);

void ais_log_emit(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The level is tested before the arguments are evaluated. */
#define ais_log(level, ...)                                                    \
	do {                                                                   \
		if ((level) <= ais_log_level)                                  \
			ais_log_emit((level), __VA_ARGS__);                    \
	} while (0)

#endif
