/* A small "key = value" configuration file reader (aisd.conf). Lines are
 * "key = value", "# comment" or blank; a key may repeat (mountpath, seed). */
#ifndef AIS_CONFIG_H
#define AIS_CONFIG_H

/* Called once per setting in file order. Return 0 to go on, or -errno to stop
 * (the error is returned by ais_config_load, with file:line prefixed to the
 * message the callback left in errmsg). */
typedef int (*ais_config_cb)(void *arg, const char *key, const char *value,
			     char *errmsg);

/* Reads path and calls cb for each setting. Returns 0, -errno from open/read
 * ("path: No such file or directory"), -EINVAL for a syntax error
 * ("path:12: expected key = value"), or the callback's error. */
int ais_config_load(const char *path, ais_config_cb cb, void *arg,
		    char *errmsg);

#endif
