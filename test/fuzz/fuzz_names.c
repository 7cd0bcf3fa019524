/* Fuzz target: names and the strings that name things. The input is one
 * string: an object name (checked with its full length, NULs included),
 * and up to its first NUL a bucket, a prefix, a transform's name and
 * environment entry, an "ais://BUCKET/NAME" URI as the CLI splits it
 * (tools/cli.c: ais_uri_parse, then the name's check), a size ("256MiB"),
 * HOST:PORT, an endpoint list, a shard member path to normalise, and, split
 * at newlines, a transform's argv. */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "names.h"
#include "shard_names.h"
#include "util.h"

#include "fuzz.h"

#define WORDS_MAX 16

static void argv_check(char *s)
{
	char *words[WORDS_MAX], *save = NULL, *w;
	char errmsg[AIS_ERRMSG_LEN];
	size_t n = 0;

	for (w = strtok_r(s, "\n", &save); w && n < WORDS_MAX;
	     w = strtok_r(NULL, "\n", &save))
		words[n++] = w;
	ais_etl_argv_check("fuzz", words, n, errmsg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errmsg[AIS_ERRMSG_LEN], bucket[AIS_BUCKET_MAX + 1];
	char host[256], norm[AIS_NAME_MAX + 1];
	struct ais_endpoint eps[8];
	const char *name = "";
	uint64_t sz;
	uint16_t port;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ais_name_check_object(s, size, errmsg);
	ais_name_check_bucket(s, errmsg);
	ais_name_check_prefix(s, errmsg);
	ais_name_check_etl(s, errmsg);
	ais_etl_env_check(s, errmsg);
	if (ais_uri_parse(s, bucket, sizeof(bucket), &name, errmsg) == 0) {
		if (strlen(bucket) > AIS_BUCKET_MAX)
			abort();
		if (name[0])
			ais_name_check_object(name, strlen(name), errmsg);
	}
	ais_parse_size(s, &sz);
	ais_parse_hostport(s, host, sizeof(host), &port);
	ais_endpoints_parse(s, eps, sizeof(eps) / sizeof(eps[0]), errmsg);
	ais_shard_path_normalize(s, strlen(s), norm, sizeof(norm));
	ais_shard_format_from_name(s);
	argv_check(s);
	free(s);
	return 0;
}
