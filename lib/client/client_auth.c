/* libais client: which token requests carry (client.h, ais_client_opts). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "client_i.h"
#include "util.h"

/* Reads path and takes its token if it is for the cluster of key id kid.
 * 1 taken, 0 not for this cluster, or -errno with errmsg. */
static int take_file(struct ais_client *c, const char *path, const char *kid,
		     bool named, char *errmsg)
{
	uint8_t raw[AIS_TOKEN_MAX];
	struct ais_claims cl;
	struct stat st;
	size_t len;
	int rc;

	/* One found, not named: ours, and no one else's to write. */
	if (stat(path, &st) < 0) {
		if (!named)
			return 0;
		memset(&st, 0, sizeof(st));
	} else if (!named && (st.st_uid != geteuid() || (st.st_mode & 022))) {
		return 0;
	}
	rc = ais_token_file_read(path, raw, &len, errmsg);
	if (rc)
		return rc;
	if (ais_token_peek(raw, len, &cl))
		return ais_errf(errmsg, -EINVAL, "token file %s: not a token",
				path);
	if (strcmp(cl.kid, kid)) {
		if (!named)
			return 0;
		return ais_errf(errmsg, -EACCES,
				"token file %s is for another cluster (key id "
				"%s; this cluster's is %s)",
				path, cl.kid, kid);
	}
	/* A token a TLS node minted never crosses plain TCP: a client
	 * without the CA may be talking to an impostor that pretends the
	 * cluster has no TLS. */
	if (cl.tls && !c->tls)
		return ais_errf(errmsg, -EACCES,
				"token file %s is for a cluster that speaks "
				"TLS, and this client has no CA for it: give "
				"it (AIS_CA_FILE, --ca-file) so that the token "
				"is not sent in clear",
				path);
	ais_token_src_set_raw(&c->tok, raw, len);
	snprintf(c->token_path, sizeof(c->token_path), "%s", path);
	snprintf(c->tok_kid, sizeof(c->tok_kid), "%s", kid);
	c->tokf_mtime = st.st_mtim;
	c->tokf_ino = st.st_ino;
	c->tokf_size = (uint64_t)st.st_size;
	atomic_store(&c->tokf_checked_ns, ais_now_mono_ns());
	return 1;
}

#define TOKEN_RECHECK_NS (5 * 1000000000ull)

void ais__client_token_refresh(struct ais_client *c)
{
	uint64_t now = ais_now_mono_ns();
	struct stat st;

	if (c->token_path[0] != '/' ||
	    now - atomic_load(&c->tokf_checked_ns) < TOKEN_RECHECK_NS ||
	    pthread_mutex_trylock(&c->tokf_mu))
		return;
	atomic_store(&c->tokf_checked_ns, now);
	if (stat(c->token_path, &st) == 0 &&
	    (st.st_mtim.tv_sec != c->tokf_mtime.tv_sec ||
	     st.st_mtim.tv_nsec != c->tokf_mtime.tv_nsec ||
	     (uint64_t)st.st_ino != c->tokf_ino ||
	     (uint64_t)st.st_size != c->tokf_size)) {
		uint8_t raw[AIS_TOKEN_MAX];
		struct ais_claims cl;
		size_t len;

		/* A token of this cluster only; a broken file is ignored
		 * (the old token goes on until it is refused). */
		if (ais_token_file_read(c->token_path, raw, &len, NULL) == 0 &&
		    ais_token_peek(raw, len, &cl) == 0 &&
		    !strcmp(cl.kid, c->tok_kid) && (c->tls || !cl.tls)) {
			ais_token_src_set_raw(&c->tok, raw, len);
			c->tokf_mtime = st.st_mtim;
			c->tokf_ino = st.st_ino;
			c->tokf_size = (uint64_t)st.st_size;
		}
	}
	pthread_mutex_unlock(&c->tokf_mu);
}

int ais__client_token_setup(struct ais_client *c, char *errmsg)
{
	struct ais__mapref *r = ais__mapref_get(c);
	char kid[AIS_KID_LEN + 1], path[512];
	const char *named = c->opts.token_file;
	int rc;

	snprintf(kid, sizeof(kid), "%s", r->map->auth_kid);
	ais__mapref_put(r);
	if (c->opts.root_key) {
		/* A root token is never revoked: to this cluster only. */
		if (strcmp(kid, c->opts.root_key->kid))
			return ais_errf(errmsg, -EACCES,
					"the secret given is not this "
					"cluster's (key id %s; the cluster's "
					"is %s)",
					c->opts.root_key->kid,
					kid[0] ? kid : "none: it has no auth");
		ais_token_src_set_key(&c->tok, c->opts.root_key, "@root");
		snprintf(c->token_path, sizeof(c->token_path), "(key)");
		return 0;
	}
	if (!named || !named[0])
		named = getenv("AIS_TOKEN_FILE");
	/* A cluster without auth gets no token, even one named: it would
	 * go to whoever runs it. */
	if (!kid[0])
		return 0;
	if (named && named[0]) {
		rc = take_file(c, named, kid, true, errmsg);
		return rc < 0 ? rc : 0;
	}
	if (ais_token_default_path(kid, path, sizeof(path)) == 0 &&
	    take_file(c, path, kid, false, NULL) == 1)
		return 0;
	ais_local_dir(path, sizeof(path) - 8);
	strcat(path, "/token");
	(void)take_file(c, path, kid, false, NULL);
	return 0;
}

int ais_client_token_info(struct ais_client *c, char *path, size_t cap,
			  struct ais_claims *claims)
{
	uint8_t raw[AIS_TOKEN_MAX];
	size_t len = ais_token_src_get(&c->tok, raw);

	snprintf(path, cap, "%s", c->token_path);
	if (!len)
		return -ENOENT;
	return ais_token_peek(raw, len, claims) ? -ENOENT : 0;
}
