/* Which TLS a client speaks: the CA it verifies nodes with, found the way
 * its token is (client.h, ais_client_opts.ca_file). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_i.h"
#include "tls.h"

/* A CA file found (not named) is taken only if it is the caller's own
 * and nobody else may write it or its directory: whoever could would
 * choose which nodes this client trusts. */
static bool found_ok(const char *path)
{
	char dir[512];
	struct stat st;
	char *slash;

	/* Not a symbolic link (to a bundle of public CAs, say), in a
	 * directory nobody else may write to either. */
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != getuid() || (st.st_mode & 022))
		return false;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return false;
	*slash = '\0';
	return stat(dir, &st) == 0 &&
	       (st.st_uid == getuid() || st.st_uid == 0) && !(st.st_mode & 022);
}

int ais__client_ca_path(const char *named, const struct ais_endpoint *eps,
			size_t n, char *out, size_t cap)
{
	char path[512], rel[AIS_HOST_MAX + 32];

	out[0] = '\0';
	if (!named || !named[0])
		named = getenv("AIS_CA_FILE");
	if (named && named[0]) {
		if (!strcmp(named, "none"))
			return -ENOENT;
		snprintf(out, cap, "%s", named);
		return 0;
	}
	/* The CA saved for the cluster at one of the endpoints (`ais local
	 * up` saves one per node address), else the user's CA for every
	 * cluster, ~/.config/ais/ca.pem. */
	for (size_t i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "ca/%s:%u.pem", eps[i].host,
			 (unsigned)eps[i].port);
		if (ais_config_path(rel, path, sizeof(path)) == 0 &&
		    found_ok(path)) {
			snprintf(out, cap, "%s", path);
			return 0;
		}
	}
	if (ais_config_path("ca.pem", path, sizeof(path)) == 0 &&
	    found_ok(path)) {
		snprintf(out, cap, "%s", path);
		return 0;
	}
	return -ENOENT;
}

int ais__client_tls_setup(struct ais_client *c, const struct ais_endpoint *eps,
			  size_t n, char *errmsg)
{
	char ca[512];
	struct ais_tls_files f = {0};
	int rc;

	if (c->opts.tls) {
		c->tls = c->opts.tls;
		return 0;
	}
	if (ais__client_ca_path(c->opts.ca_file, eps, n, ca, sizeof(ca)))
		return 0; /* plain TCP */
	f.ca_file = ca;
	f.cert_file = c->opts.cert_file;
	f.key_file = c->opts.key_file;
	rc = ais_tls_new(AIS_TLS_CLIENT, &f, &c->own_tls, errmsg);
	if (rc)
		return rc;
	c->tls = c->own_tls;
	return 0;
}

bool ais_client_tls(const struct ais_client *c)
{
	return c->tls != NULL;
}
