/* Parsing of the aisfs mount options. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mount_opts.h"

void afs_opts_default(struct afs_opts *o)
{
	const char *tmp = getenv("TMPDIR");

	memset(o, 0, sizeof(*o));
	o->attr_timeout = 1.0;
	o->entry_timeout = 1.0;
	o->lease_timeout = 60.0;
	o->kernel_open = -1;
	o->negative_timeout = 0.0;
	o->shards = AFS_SHARDS_VIEW;
	o->uid = getuid();
	o->gid = getgid();
	o->timeout_s = 20;
	o->max_threads = 16;
	snprintf(o->spool_dir, sizeof(o->spool_dir), "%s",
		 tmp && *tmp ? tmp : "/var/tmp");
}

static int parse_seconds(const char *key, const char *v, double *out,
			 char *errmsg)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || d < 0 || d > 86400)
		return ais_errf(errmsg, -EINVAL,
				"%s=%s: expected seconds (0 to 86400)", key, v);
	*out = d;
	return 0;
}

static int parse_uint(const char *key, const char *v, unsigned long max,
		      unsigned long *out, char *errmsg)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || n > max)
		return ais_errf(errmsg, -EINVAL,
				"%s=%s: expected a number (0 to %lu)", key, v,
				max);
	*out = n;
	return 0;
}

/* Options of mount(8) and fstab that say nothing to aisfs. */
static bool is_generic(const char *key)
{
	static const char *const generic[] = {
	    "defaults",	  "_netdev",	 "rw",
	    "auto",	  "noauto",	 "user",
	    "nouser",	  "users",	 "owner",
	    "nofail",	  "dev",	 "nodev",
	    "suid",	  "nosuid",	 "exec",
	    "noexec",	  "atime",	 "noatime",
	    "relatime",	  "strictatime", "nodiratime",
	    "diratime",	  "async",	 "lazytime",
	    "nolazytime", "comment",	 "default_permissions",
	    "loop",	  NULL,
	};
	size_t i;

	if (strncmp(key, "x-", 2) == 0)
		return true;
	for (i = 0; generic[i]; i++) {
		if (strcmp(key, generic[i]) == 0)
			return true;
	}
	return false;
}

static int set_str(char *dst, size_t len, const char *key, const char *v,
		   char *errmsg)
{
	if (!v || !*v)
		return ais_errf(errmsg, -EINVAL, "%s= needs a value", key);
	if (strlen(v) >= len)
		return ais_errf(errmsg, -EINVAL, "%s=: value too long", key);
	strcpy(dst, v);
	return 0;
}

static int apply(struct afs_opts *o, char *key, char *val, char *errmsg)
{
	static const char *const need_value[] = {
	    "attr_timeout",  "entry_timeout", "negative_timeout",
	    "lease_timeout", "uid",	      "gid",
	    "timeout",	     "max_threads",   NULL,
	};
	unsigned long n;
	size_t i;
	int rc;

	for (i = 0; need_value[i]; i++) {
		if (strcmp(key, need_value[i]) == 0 && (!val || !*val))
			return ais_errf(errmsg, -EINVAL, "%s= needs a value",
					key);
	}
	if (strcmp(key, "ro") == 0) {
		o->ro = true;
	} else if (strcmp(key, "allow_other") == 0) {
		o->allow_other = true;
	} else if (strcmp(key, "debug") == 0) {
		o->debug = true;
	} else if (strcmp(key, "nocto") == 0) {
		o->nocto = true;
	} else if (strcmp(key, "cto") == 0) {
		o->nocto = false;
	} else if (strcmp(key, "kernel_open") == 0) {
		o->kernel_open = 1;
	} else if (strcmp(key, "nokernel_open") == 0) {
		o->kernel_open = 0;
	} else if (strcmp(key, "noleases") == 0) {
		o->noleases = true;
	} else if (strcmp(key, "leases") == 0) {
		o->noleases = false;
	} else if (strcmp(key, "writeback") == 0) {
		o->writeback = true;
	} else if (strcmp(key, "nowriteback") == 0) {
		o->writeback = false;
	} else if (strcmp(key, "bucket") == 0) {
		rc = set_str(o->bucket, sizeof(o->bucket), key, val, errmsg);
		if (rc)
			return rc;
		rc = ais_name_check_bucket(o->bucket, errmsg);
		if (rc)
			return rc;
	} else if (strcmp(key, "etl") == 0) {
		rc = set_str(o->etl, sizeof(o->etl), key, val, errmsg);
		if (rc)
			return rc;
		rc = ais_name_check_etl(o->etl, errmsg);
		if (rc)
			return rc;
		o->ro = true;
	} else if (strcmp(key, "etl_args") == 0) {
		return set_str(o->etl_args, sizeof(o->etl_args), key, val,
			       errmsg);
	} else if (strcmp(key, "attr_timeout") == 0 && val) {
		return parse_seconds(key, val, &o->attr_timeout, errmsg);
	} else if (strcmp(key, "entry_timeout") == 0 && val) {
		return parse_seconds(key, val, &o->entry_timeout, errmsg);
	} else if (strcmp(key, "lease_timeout") == 0 && val) {
		o->lease_timeout_given = true;
		return parse_seconds(key, val, &o->lease_timeout, errmsg);
	} else if (strcmp(key, "negative_timeout") == 0 && val) {
		return parse_seconds(key, val, &o->negative_timeout, errmsg);
	} else if (strcmp(key, "shards") == 0) {
		if (val && strcmp(val, "view") == 0)
			o->shards = AFS_SHARDS_VIEW;
		else if (val && strcmp(val, "dir") == 0)
			o->shards = AFS_SHARDS_DIR;
		else if (val && strcmp(val, "file") == 0)
			o->shards = AFS_SHARDS_FILE;
		else
			return ais_errf(errmsg, -EINVAL,
					"shards=%s: expected view, dir or file",
					val ? val : "");
	} else if (strcmp(key, "uid") == 0 && val) {
		rc = parse_uint(key, val, UINT_MAX - 1, &n, errmsg);
		if (rc)
			return rc;
		o->uid = (uid_t)n;
		o->uid_given = true;
	} else if (strcmp(key, "gid") == 0 && val) {
		rc = parse_uint(key, val, UINT_MAX - 1, &n, errmsg);
		if (rc)
			return rc;
		o->gid = (gid_t)n;
		o->gid_given = true;
	} else if (strcmp(key, "timeout") == 0 && val) {
		rc = parse_uint(key, val, 3600, &n, errmsg);
		if (rc)
			return rc;
		if (n == 0)
			return ais_errf(errmsg, -EINVAL,
					"timeout=0: must be at least 1 second");
		o->timeout_s = (int)n;
	} else if (strcmp(key, "max_threads") == 0 && val) {
		rc = parse_uint(key, val, 1024, &n, errmsg);
		if (rc)
			return rc;
		if (n == 0)
			return ais_errf(errmsg, -EINVAL,
					"max_threads=0: must be at least 1");
		o->max_threads = (unsigned)n;
	} else if (strcmp(key, "spool") == 0) {
		return set_str(o->spool_dir, sizeof(o->spool_dir), key, val,
			       errmsg);
	} else if (strcmp(key, "token_file") == 0 ||
		   strcmp(key, "ca_file") == 0) {
		char *dst = key[0] == 't' ? o->token_file : o->ca_file;
		size_t cap = key[0] == 't' ? sizeof(o->token_file)
					   : sizeof(o->ca_file);
		char cwd[2048];

		/* The mount runs on in / (daemonised): a relative path is
		 * taken from where it was given. */
		if (val && val[0] && val[0] != '/' && strcmp(val, "none") &&
		    getcwd(cwd, sizeof(cwd))) {
			int n = snprintf(dst, cap, "%s/%s", cwd, val);

			if (n < 0 || (size_t)n >= cap)
				return ais_errf(errmsg, -EINVAL,
						"%s: path too long", key);
			return 0;
		}
		return set_str(dst, cap, key, val, errmsg);
	} else if (strcmp(key, "log") == 0) {
		return set_str(o->log_file, sizeof(o->log_file), key, val,
			       errmsg);
	} else if (strcmp(key, "endpoint") == 0) {
		return set_str(o->endpoint, sizeof(o->endpoint), key, val,
			       errmsg);
	} else if (is_generic(key)) {
		return 0;
	} else {
		return ais_errf(errmsg, -EINVAL,
				"unknown mount option '%s%s%s' (see aisfs(1))",
				key, val ? "=" : "", val ? val : "");
	}
	return 0;
}

/* One more address of the endpoint list being given ("endpoint=A,B"). */
static int append_endpoint(struct afs_opts *o, const char *addr, char *errmsg)
{
	size_t len = strlen(o->endpoint);

	if (len + 1 + strlen(addr) >= sizeof(o->endpoint))
		return ais_errf(errmsg, -EINVAL, "endpoint: list too long");
	snprintf(o->endpoint + len, sizeof(o->endpoint) - len, ",%s", addr);
	return 0;
}

int afs_opts_parse(struct afs_opts *o, const char *list, char *errmsg)
{
	char *copy = strdup(list), *save = NULL, *tok, *eq;
	bool in_endpoint = false;
	int rc = 0;

	if (!copy)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		eq = strchr(tok, '=');
		if (in_endpoint && !eq && strchr(tok, ':')) {
			rc = append_endpoint(o, tok, errmsg);
			if (rc)
				break;
			continue;
		}
		if (eq)
			*eq++ = '\0';
		in_endpoint = strcmp(tok, "endpoint") == 0;
		rc = apply(o, tok, eq, errmsg);
		if (rc)
			break;
	}
	free(copy);
	return rc;
}
