/* Validation of bucket and object names and of ais:// URIs. */
#include "names.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* The rule of bucket and transform names; what names which in messages. */
static int check_short_name(const char *what, const char *bucket, char *errmsg)
{
	size_t i, n = strlen(bucket);

	if (n == 0)
		return ais_errf(errmsg, -EINVAL, "empty %s name", what);
	if (n > AIS_BUCKET_MAX)
		return ais_errf(errmsg, -EINVAL, "%s name longer than %d bytes",
				what, AIS_BUCKET_MAX);
	if (bucket[0] == '.' || bucket[0] == '-')
		return ais_errf(errmsg, -EINVAL,
				"%s name \"%s\" starts with '%c'", what, bucket,
				bucket[0]);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)bucket[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return ais_errf(errmsg, -EINVAL,
					"%s name \"%.*s\" has a character "
					"other than letters, digits, '.', '_' "
					"and '-'",
					what, (int)n, bucket);
	}
	return 0;
}

int ais_name_check_bucket(const char *bucket, char *errmsg)
{
	return check_short_name("bucket", bucket, errmsg);
}

int ais_name_check_etl(const char *name, char *errmsg)
{
	return check_short_name("transform", name, errmsg);
}

/* Length of the valid UTF-8 sequence at p (at most left bytes), or 0 if it
 * is not one: overlong forms, surrogates and values past U+10FFFF are
 * refused. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	uint32_t cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Checks name[0..len) component by component; allow_trailing permits the
 * prefix form "a/b/". */
static int check_path(const char *name, size_t len, bool allow_trailing,
		      const char *what, char *errmsg)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0;

	if (len > AIS_NAME_MAX)
		return ais_errf(errmsg, -ENAMETOOLONG,
				"%s is %zu bytes, longer than %d", what, len,
				AIS_NAME_MAX);
	if (len > 0 && p[0] == '/')
		return ais_errf(errmsg, -EINVAL, "%s \"%.64s\" starts with '/'",
				what, name);
	while (i < len) {
		size_t start = i, clen;

		while (i < len && p[i] != '/') {
			size_t n;

			if (p[i] == '\0')
				return ais_errf(errmsg, -EINVAL,
						"%s contains a NUL byte", what);
			n = utf8_seq(p + i, len - i);
			if (n == 0)
				return ais_errf(errmsg, -EINVAL,
						"%s \"%.64s\" is not valid "
						"UTF-8 at byte %zu",
						what, name, i);
			i += n;
		}
		clen = i - start;
		if (clen == 0)
			return ais_errf(errmsg, -EINVAL,
					"%s \"%.64s\" has an empty component "
					"(\"//\")",
					what, name);
		if ((clen == 1 && p[start] == '.') ||
		    (clen == 2 && p[start] == '.' && p[start + 1] == '.'))
			return ais_errf(errmsg, -EINVAL,
					"%s \"%.64s\" has a \"%.*s\" component",
					what, name, (int)clen, name + start);
		if (clen > AIS_COMPONENT_MAX)
			return ais_errf(errmsg, -ENAMETOOLONG,
					"%s has a component of %zu bytes, "
					"longer than %d",
					what, clen, AIS_COMPONENT_MAX);
		if (i < len) {
			i++; /* the '/' */
			if (i == len && !allow_trailing)
				return ais_errf(errmsg, -EINVAL,
						"%s \"%.64s\" ends with '/'",
						what, name);
		}
	}
	return 0;
}

int ais_name_check_object(const char *name, size_t len, char *errmsg)
{
	if (len == 0)
		return ais_errf(errmsg, -EINVAL, "empty object name");
	return check_path(name, len, false, "object name", errmsg);
}

int ais_name_check_prefix(const char *prefix, char *errmsg)
{
	size_t len = strlen(prefix);

	if (len == 0)
		return 0;
	return check_path(prefix, len, true, "prefix", errmsg);
}

int ais_uri_parse(const char *uri, char *bucket, size_t bucketlen,
		  const char **name, char *errmsg)
{
	const char *b = uri, *slash;
	size_t n;
	int rc;

	if (strncmp(b, "ais://", 6) == 0)
		b += 6;
	else if (strstr(b, "://") != NULL)
		return ais_errf(errmsg, -EINVAL,
				"%s: only ais:// URIs are supported", uri);
	slash = strchr(b, '/');
	n = slash ? (size_t)(slash - b) : strlen(b);
	if (n == 0)
		return ais_errf(errmsg, -EINVAL, "%s: no bucket name", uri);
	if (n >= bucketlen)
		return ais_errf(errmsg, -EINVAL, "%s: bucket name too long",
				uri);
	memcpy(bucket, b, n);
	bucket[n] = '\0';
	rc = ais_name_check_bucket(bucket, errmsg);
	if (rc < 0)
		return rc;
	*name = slash ? slash + 1 : b + n;
	return 0;
}

int ais_etl_env_check(const char *kv, char *errmsg)
{
	static const char *const prefixes[] = {
	    "LD_",  "GLIBC_", "MALLOC_", "GCONV_", "PYTHON", "PERL",
	    "RUBY", "NODE_",  "LUA_",	 "JAVA_",  "_JAVA",  "GIT_",
	    "AIS_", "DYLD_",  "TCL",	 "R_",	   "OCAML",  "GUILE",
	};
	static const char *const names[] = {
	    "PATH",
	    "HOME",
	    "BASH_ENV",
	    "ENV",
	    "IFS",
	    "SHELLOPTS",
	    "BASHOPTS",
	    "PS4",
	    "CDPATH",
	    "LOCPATH",
	    "NLSPATH",
	    "HOSTALIASES",
	    "RESOLV_HOST_CONF",
	    "TMPDIR",
	    "LOCALDOMAIN",
	    "RES_OPTIONS",
	    "CLASSPATH",
	    "GEM_PATH",
	    "GEM_HOME",
	    "RUBYOPT",
	    "PERL5OPT",
	    "TZDIR",
	};
	const char *eq = kv ? strchr(kv, '=') : NULL;
	size_t n, i;

	if (!eq || eq == kv)
		return ais_errf(errmsg, -EINVAL,
				"environment entry \"%s\" is not K=V",
				kv ? kv : "");
	n = (size_t)(eq - kv);
	for (i = 0; i < n; i++) {
		char c = kv[i];

		if (!(c == '_' || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || (i && c >= '0' && c <= '9')))
			return ais_errf(errmsg, -EINVAL,
					"environment entry \"%.*s\": a name of "
					"letters, digits and _",
					(int)n, kv);
	}
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (n >= strlen(prefixes[i]) &&
		    !strncasecmp(kv, prefixes[i], strlen(prefixes[i])))
			goto refused;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n == strlen(names[i]) && !strncasecmp(kv, names[i], n))
			goto refused;
	return 0;
refused:
	return ais_errf(errmsg, -EINVAL,
			"environment entry %.*s is not allowed: it could make "
			"the program load or run code from outside etl_dir, "
			"or the node sets it",
			(int)n, kv);
}

int ais_etl_argv_check(const char *name, char *const *argv, size_t n,
		       char *errmsg)
{
	if (n >= 1 && argv[0] && !strcmp(argv[0], AIS_ETL_PYTHON_HOST)) {
		if (n < 2 || !argv[1] || argv[1][0] != '/')
			return ais_errf(errmsg, -EINVAL,
					"transform %s: " AIS_ETL_PYTHON_HOST
					" needs the absolute path of a script "
					"under the nodes' etl_dir",
					name);
		return 0;
	}
	if (n == 0 || !argv[0] || argv[0][0] != '/')
		return ais_errf(errmsg, -EINVAL,
				"transform %s: the program must be an absolute "
				"path (or " AIS_ETL_PYTHON_HOST " SCRIPT)",
				name);
	return 0;
}
