/* Shard names: formats by suffix, member path normalisation. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "shard_names.h"

static bool has_suffix(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && strcasecmp(s + n - k, suf) == 0;
}

enum ais_shard_format ais_shard_format_from_name(const char *name)
{
	size_t n = strlen(name);

	if (has_suffix(name, n, ".tar"))
		return AIS_SHARD_TAR;
	if (has_suffix(name, n, ".tar.gz") || has_suffix(name, n, ".tgz"))
		return AIS_SHARD_TGZ;
	if (has_suffix(name, n, ".tar.lz4"))
		return AIS_SHARD_TLZ4;
	if (has_suffix(name, n, ".zip"))
		return AIS_SHARD_ZIP;
	return AIS_SHARD_NONE;
}

const char *ais_shard_format_str(enum ais_shard_format fmt)
{
	switch (fmt) {
	case AIS_SHARD_TAR:
		return "tar";
	case AIS_SHARD_TGZ:
		return "tar.gz";
	case AIS_SHARD_TLZ4:
		return "tar.lz4";
	case AIS_SHARD_ZIP:
		return "zip";
	default:
		return "none";
	}
}

int ais_shard_path_normalize(const char *p, size_t len, char *out,
			     size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t s, cl;

		while (i < len && p[i] == '/')
			i++;
		s = i;
		while (i < len && p[i] != '/')
			i++;
		cl = i - s;
		if (cl == 0 || (cl == 1 && p[s] == '.'))
			continue;
		if (o + cl + 2 > outlen)
			return -ENAMETOOLONG;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, p + s, cl);
		o += cl;
	}
	if (outlen == 0)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return (int)o;
}
