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

/* A CA file or directory found (not named) is taken only if it is the
 * caller's own (or root's) and nobody else may write it: whoever could
 * would choose which nodes this client trusts. */
static bool found_ok(const char *path, bool dir)
{
	struct stat st;

	if (stat(path, &st) < 0 ||
	    (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
		return false;
	return (st.st_uid == getuid() || st.st_uid == 0) && !(st.st_mode & 022);
}

/* Appends path to the ':'-separated list out if it is there and safe. */
static void add_found(char *out, size_t cap, const char *path, bool dir)
{
	size_t used = strlen(out);

	if (!found_ok(path, dir) || strchr(path, ':'))
		return;
	snprintf(out + used, cap - used, "%s%s", used ? ":" : "", path);
}

int ais__client_ca_path(const char *named, char *out, size_t cap)
{
	char path[512];

	out[0] = '\0';
	if (!named || !named[0])
		named = getenv("AIS_CA_FILE");
	if (named && named[0]) {
		if (!strcmp(named, "none"))
			return -ENOENT;
		snprintf(out, cap, "%s", named);
		return 0;
	}
	/* Every CA the user has: ~/.config/ais/ca.pem (copied by hand),
	 * ~/.config/ais/ca/ (one file per `ais local up` cluster), the
	 * local cluster's. */
	if (ais_config_path("ca.pem", path, sizeof(path)) == 0)
		add_found(out, cap, path, false);
	if (ais_config_path("ca", path, sizeof(path)) == 0)
		add_found(out, cap, path, true);
	ais_local_dir(path, sizeof(path) - 8);
	strcat(path, "/ca.pem");
	add_found(out, cap, path, false);
	return out[0] ? 0 : -ENOENT;
}

int ais__client_tls_setup(struct ais_client *c, char *errmsg)
{
	char ca[1600];
	struct ais_tls_files f = {0};
	int rc;

	if (c->opts.tls) {
		c->tls = c->opts.tls;
		return 0;
	}
	if (ais__client_ca_path(c->opts.ca_file, ca, sizeof(ca)))
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
