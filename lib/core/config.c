/* The "key = value" configuration file reader. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int ais_config_load(const char *path, ais_config_cb cb, void *arg, char *errmsg)
{
	char *line = NULL, *key, *value, *eq;
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (f == NULL) {
		rc = -errno;
		return ais_errf(errmsg, rc, "%s: %s", path, strerror(-rc));
	}
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		key = trim(line);
		if (*key == '\0' || *key == '#' || *key == ';')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			rc = ais_errf(errmsg, -EINVAL,
				      "%s:%u: expected key = value", path,
				      lineno);
			break;
		}
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		if (*key == '\0') {
			rc = ais_errf(errmsg, -EINVAL, "%s:%u: missing key",
				      path, lineno);
			break;
		}
		/* A value may be quoted to keep leading/trailing blanks. */
		if (value[0] == '"' && strlen(value) >= 2 &&
		    value[strlen(value) - 1] == '"') {
			value[strlen(value) - 1] = '\0';
			value++;
		}
		rc = cb(arg, key, value, errmsg);
		if (rc < 0) {
			char inner[AIS_ERRMSG_LEN];

			snprintf(inner, sizeof(inner), "%s",
				 errmsg ? errmsg : "");
			ais_errf(errmsg, rc, "%s:%u: %s", path, lineno, inner);
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = ais_errf(errmsg, -EIO, "%s: read error", path);
	free(line);
	fclose(f);
	return rc;
}
