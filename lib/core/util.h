/* Small helpers every program shares: error messages, sizes, time, strings. */
#ifndef AIS_UTIL_H
#define AIS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Size of every caller-supplied error-message buffer ("char errmsg[]").
 * Functions that take one accept NULL when the caller wants no message. */
#define AIS_ERRMSG_LEN 256

/* Formats a message into errmsg (if not NULL) and returns rc unchanged, so a
 * failure path reads: return ais_errf(errmsg, -EINVAL, "bad name %s", n); */
int ais_errf(char *errmsg, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses "123", "4k", "256MiB", "1.5GB", "2G" (k/M/G/T: powers of 1024;
 * "KB"/"MB"/"GB" are also read as powers of 1024, as most tools do).
 * Returns 0 or -EINVAL. */
int ais_parse_size(const char *s, uint64_t *out);

/* Formats n as a human-readable size ("0 B", "1023 B", "1.5 KiB", "12.0 GiB")
 * into buf; returns buf. */
char *ais_format_size(uint64_t n, char *buf, size_t len);

/* Parses "HOST:PORT" ("[v6]:port" too) into host (NUL-terminated) and port.
 * Returns 0 or -EINVAL. */
int ais_parse_hostport(const char *s, char *host, size_t hostlen,
		       uint16_t *port);

/* Monotonic and wall-clock time. */
uint64_t ais_now_mono_ns(void);
int64_t ais_now_real_ns(void);
/* Raises the soft limit on open files to the hard one; *limit is the soft
 * limit after. Returns 0 or -errno (setrlimit's). */
int ais_raise_nofile(uint64_t *limit);

/* Frees a NULL-terminated array of heap strings and the array itself. */
void ais_strv_free(char **v);
/* Appends a copy of s to the NULL-terminated *v of *n strings (*v may be
 * NULL when *n is 0); 0 or -ENOMEM (*v stays valid to free). */
int ais_strv_push(char ***v, size_t *n, const char *s);
/* A NULL-terminated copy of v[0..n), or NULL on ENOMEM. */
char **ais_strv_dup(char *const *v, size_t n);

#endif
