/* libais client: parsing an endpoint list ("HOST:PORT[,HOST:PORT...]"), as
 * AIS_ENDPOINT, ais --endpoint, aisfs and aisloader take it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "util.h"

/* Parses one element (len bytes at s, blanks trimmed by the caller). */
static int parse_one(const char *s, size_t len, struct ais_endpoint *ep,
		     char *errmsg)
{
	char buf[AIS_HOST_MAX + 16];

	if (len == 0)
		return ais_errf(errmsg, -EINVAL,
				"empty element in endpoint list (expected "
				"HOST:PORT[,HOST:PORT...])");
	if (len >= sizeof(buf))
		return ais_errf(errmsg, -EINVAL, "endpoint '%.*s...': too long",
				40, s);
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (ais_parse_hostport(buf, ep->host, sizeof(ep->host), &ep->port) == 0)
		return 0;
	/* A bare host (no colon, or a bracketed IPv6 address without a
	 * port) means the default port. */
	if (!strchr(buf, ':') && !strchr(buf, '[') && !strchr(buf, ']') &&
	    len < sizeof(ep->host)) {
		memcpy(ep->host, buf, len + 1);
		ep->port = AIS_DEFAULT_PORT;
		return 0;
	}
	return ais_errf(errmsg, -EINVAL,
			"bad endpoint '%s' (expected HOST:PORT)", buf);
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

int ais_endpoints_parse(const char *spec, struct ais_endpoint *eps, size_t max,
			char *errmsg)
{
	const char *p = spec, *end, *a, *b;
	size_t n = 0, i;
	int rc;

	if (!spec || !*spec)
		return ais_errf(errmsg, -EINVAL,
				"empty endpoint (expected "
				"HOST:PORT[,HOST:PORT...])");
	for (;;) {
		struct ais_endpoint ep;
		bool dup = false;

		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		for (a = p; a < end && is_blank(*a); a++)
			;
		for (b = end; b > a && is_blank(b[-1]); b--)
			;
		rc = parse_one(a, (size_t)(b - a), &ep, errmsg);
		if (rc < 0)
			return rc;
		for (i = 0; i < n && !dup; i++)
			dup = eps[i].port == ep.port &&
			      strcmp(eps[i].host, ep.host) == 0;
		if (!dup) {
			if (n >= max)
				return ais_errf(errmsg, -E2BIG,
						"endpoint list: more than %zu "
						"addresses",
						max);
			eps[n++] = ep;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	return (int)n;
}
