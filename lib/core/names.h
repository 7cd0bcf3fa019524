/* Validation of bucket and object names, and "ais://BUCKET/NAME" URIs. */
#ifndef AIS_NAMES_H
#define AIS_NAMES_H

#include <stddef.h>

#define AIS_BUCKET_MAX 64
/* The longest a transform (ais etl) may run on one object; a GET through
 * one waits this long (and a little more) for its answer to begin. */
#define AIS_ETL_TIMEOUT_MAX_MS (3600u * 1000)
#define AIS_NAME_MAX	       1024 /* object name, bytes */
#define AIS_COMPONENT_MAX      255  /* one '/'-separated component, bytes */

/* A bucket name is 1..64 bytes of [A-Za-z0-9._-], not starting with '.' or
 * '-'. Returns 0 or -EINVAL with a reason in errmsg. */
int ais_name_check_bucket(const char *bucket, char *errmsg);
/* A transform's name (ais etl) follows the same rule. */
int ais_name_check_etl(const char *name, char *errmsg);

/* An object name is 1..1024 bytes of valid UTF-8, no NUL (len is the full
 * length, so an embedded NUL is caught), no leading '/', no empty, "." or
 * ".." component (so no "a//b" or trailing '/'), each component at most
 * 255 bytes. Returns 0, -EINVAL or -ENAMETOOLONG with a reason in errmsg. */
int ais_name_check_object(const char *name, size_t len, char *errmsg);

/* A listing prefix: like an object name but may be empty and may end in '/'.
 * Returns 0 or -EINVAL / -ENAMETOOLONG. */
int ais_name_check_prefix(const char *prefix, char *errmsg);

/* Splits "ais://BUCKET[/NAME]" (the "ais://" may be omitted). bucket gets a
 * copy of the bucket (checked); *name points into uri after the '/', or at
 * "" when there is none. Returns 0 or -EINVAL. */
int ais_uri_parse(const char *uri, char *bucket, size_t bucketlen,
		  const char **name, char *errmsg);

/* An environment entry a transform (ais etl) may be given: "K=V" with K of
 * [A-Za-z_][A-Za-z0-9_]* and none of the names that make the dynamic
 * loader, libc or an interpreter load or run other code (LD_*, GCONV_PATH,
 * PYTHON*, PERL*, BASH_ENV, ...) or that the node sets itself (AIS_*,
 * PATH, HOME): those would get around the nodes' etl_dir. 0 or -EINVAL
 * with errmsg. */
int ais_etl_env_check(const char *kv, char *errmsg);

/* The host shipped for transforms in Python (ais-etl(7)): a transform's
 * program may be named by this name alone, and its script (the next
 * word) must then be an absolute path under the nodes' etl_dir. */
#define AIS_ETL_PYTHON_HOST "ais-etl-python"

/* A transform's argv (n words): argv[0] an absolute path, or the host
 * above followed by an absolute script path. 0 or -EINVAL with errmsg
 * naming transform name. */
int ais_etl_argv_check(const char *name, char *const *argv, size_t n,
		       char *errmsg);

#endif
