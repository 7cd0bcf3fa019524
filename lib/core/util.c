/* Small helpers every program shares. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int ais_errf(char *errmsg, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errmsg == NULL)
		return rc;
	va_start(ap, fmt);
	vsnprintf(errmsg, AIS_ERRMSG_LEN, fmt, ap);
	va_end(ap);
	return rc;
}

int ais_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		int shift;
	} units[] = {
	    {"", 0},	 {"b", 0},   {"k", 10},	  {"kb", 10},  {"kib", 10},
	    {"m", 20},	 {"mb", 20}, {"mib", 20}, {"g", 30},   {"gb", 30},
	    {"gib", 30}, {"t", 40},  {"tb", 40},  {"tib", 40},
	};
	unsigned long long ull = 0;
	bool exact = false;
	char *end;
	double v;
	size_t i;

	if (s == NULL || *s == '\0' || *s == '-' || isspace((unsigned char)*s))
		return -EINVAL;
	/* Plain digits are parsed exactly (sizes past 2^53 stay exact);
	 * only a fraction goes through a double. */
	errno = 0;
	ull = strtoull(s, &end, 10);
	if (errno == 0 && end != s && *end != '.') {
		v = (double)ull;
		exact = true;
	} else {
		errno = 0;
		v = strtod(s, &end);
		if (errno != 0 || end == s || !isfinite(v) || v < 0)
			return -EINVAL;
	}
	while (*end == ' ')
		end++;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (exact) {
			if (units[i].shift > 0 &&
			    ull > (UINT64_MAX >> units[i].shift))
				return -EINVAL;
			*out = ull << units[i].shift;
			return 0;
		} else {
			double bytes = ldexp(v, units[i].shift);

			if (bytes >= 18446744073709551615.0)
				return -EINVAL;
			/* A fraction of a byte makes no sense: "1.5" is not
			 * a size, "1.5K" is. */
			if (bytes != floor(bytes))
				return -EINVAL;
			*out = (uint64_t)bytes;
			return 0;
		}
	}
	return -EINVAL;
}

char *ais_format_size(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB"};
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

int ais_parse_hostport(const char *s, char *host, size_t hostlen,
		       uint16_t *port)
{
	const char *colon, *hstart, *hend;
	unsigned long p;
	char *end;
	size_t n;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (s[0] == '[') {
		hstart = s + 1;
		hend = strchr(hstart, ']');
		if (hend == NULL || hend[1] != ':')
			return -EINVAL;
		colon = hend + 1;
	} else {
		hstart = s;
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		hend = colon;
	}
	n = (size_t)(hend - hstart);
	if (n == 0 || n >= hostlen)
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p == 0 ||
	    p > 65535)
		return -EINVAL;
	memcpy(host, hstart, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}

uint64_t ais_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t ais_now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int ais_raise_nofile(uint64_t *limit)
{
	struct rlimit rl;
	int rc = 0;

	*limit = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = {rl.rlim_max, rl.rlim_max};
		unsigned long long nr = 0;
		FILE *f;

		/* "unlimited" cannot be set: the kernel's own cap can. */
		if (want.rlim_cur == RLIM_INFINITY &&
		    (f = fopen("/proc/sys/fs/nr_open", "r"))) {
			if (fscanf(f, "%llu", &nr) == 1 && nr > rl.rlim_cur)
				want.rlim_cur = (rlim_t)nr;
			fclose(f);
		}

		if (setrlimit(RLIMIT_NOFILE, &want) < 0)
			rc = -errno;
		else
			rl = want;
	}
	*limit = (uint64_t)rl.rlim_cur;
	return rc;
}

int ais_strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

char **ais_strv_dup(char *const *v, size_t n)
{
	char **d = calloc(n + 1, sizeof(char *));
	size_t i;

	for (i = 0; d && i < n; i++)
		if (!(d[i] = strdup(v[i]))) {
			ais_strv_free(d);
			return NULL;
		}
	return d;
}

void ais_strv_free(char **v)
{
	char **p;

	if (v == NULL)
		return;
	for (p = v; *p != NULL; p++)
		free(*p);
	free(v);
}
