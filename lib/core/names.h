/* Validation of bucket and object names, and "ais://BUCKET/NAME" URIs. */
#ifndef AIS_NAMES_H
#define AIS_NAMES_H

#include <stddef.h>

#define AIS_BUCKET_MAX	  64
#define AIS_NAME_MAX	  1024 /* object name, bytes */
#define AIS_COMPONENT_MAX 255  /* one '/'-separated component, bytes */

/* A bucket name is 1..64 bytes of [A-Za-z0-9._-], not starting with '.' or
 * '-'. Returns 0 or -EINVAL with a reason in errmsg. */
int ais_name_check_bucket(const char *bucket, char *errmsg);

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

#endif
