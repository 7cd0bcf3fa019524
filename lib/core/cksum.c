/* Streaming checksums: XXH3-64 (libxxhash), SHA-256 and MD5 (OpenSSL EVP),
 * CRC32C (ISA-L). */
#include "cksum.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <isa-l/crc.h>
#include <openssl/evp.h>
#include <xxhash.h>

#include "xxh3_fast.h"

int ais_cksum_init(struct ais_cksum *c, int type)
{
	c->type = type;
	c->state = NULL;
	c->crc = 0;
	switch (type) {
	case AIS_CKSUM_NONE:
	case AIS_CKSUM_CRC32C:
		return 0;
	case AIS_CKSUM_XXH3:
		c->state = XXH3_createState();
		if (c->state == NULL)
			return -ENOMEM;
		XXH3_64bits_reset(c->state);
		return 0;
	case AIS_CKSUM_SHA256:
	case AIS_CKSUM_MD5:
		c->state = EVP_MD_CTX_new();
		if (c->state == NULL)
			return -ENOMEM;
		if (EVP_DigestInit_ex(c->state,
				      type == AIS_CKSUM_MD5 ? EVP_md5()
							    : EVP_sha256(),
				      NULL) != 1) {
			EVP_MD_CTX_free(c->state);
			c->state = NULL;
			return -ENOMEM;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

void ais_cksum_update(struct ais_cksum *c, const void *data, size_t len)
{
	switch (c->type) {
	case AIS_CKSUM_XXH3:
		ais_xxh3_update(c->state, data, len);
		break;
	case AIS_CKSUM_SHA256:
	case AIS_CKSUM_MD5:
		EVP_DigestUpdate(c->state, data, len);
		break;
	case AIS_CKSUM_CRC32C:
		/* ISA-L's crc32_iscsi takes and returns the raw register:
		 * start from ~0 and invert at the end for standard CRC32C. */
		while (len > 0) {
			int n = len > (1u << 30) ? (1 << 30) : (int)len;

			c->crc =
			    ~crc32_iscsi((unsigned char *)data, n, ~c->crc);
			data = (const char *)data + n;
			len -= (size_t)n;
		}
		break;
	default:
		break;
	}
}

static void to_hex(const unsigned char *b, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[b[i] >> 4];
		hex[2 * i + 1] = digits[b[i] & 15];
	}
	hex[2 * n] = '\0';
}

void ais_cksum_final(struct ais_cksum *c, char hex[AIS_CKSUM_HEX_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	hex[0] = '\0';
	switch (c->type) {
	case AIS_CKSUM_XXH3:
		snprintf(hex, AIS_CKSUM_HEX_MAX, "%016llx",
			 (unsigned long long)XXH3_64bits_digest(c->state));
		break;
	case AIS_CKSUM_SHA256:
	case AIS_CKSUM_MD5:
		EVP_DigestFinal_ex(c->state, md, &mdlen);
		to_hex(md, mdlen, hex);
		break;
	case AIS_CKSUM_CRC32C:
		snprintf(hex, AIS_CKSUM_HEX_MAX, "%08x", c->crc);
		break;
	default:
		break;
	}
	ais_cksum_abort(c);
}

void ais_cksum_abort(struct ais_cksum *c)
{
	if (c->state == NULL)
		return;
	if (c->type == AIS_CKSUM_XXH3)
		XXH3_freeState(c->state);
	else
		EVP_MD_CTX_free(c->state);
	c->state = NULL;
}

int ais_cksum_buf(int type, const void *data, size_t len,
		  char hex[AIS_CKSUM_HEX_MAX])
{
	struct ais_cksum c;
	int rc = ais_cksum_init(&c, type);

	if (rc < 0)
		return rc;
	ais_cksum_update(&c, data, len);
	ais_cksum_final(&c, hex);
	return 0;
}

static const struct {
	const char *name;
	int type;
} cksum_names[] = {
    {"none", AIS_CKSUM_NONE},	{"xxh3", AIS_CKSUM_XXH3},
    {"xxhash", AIS_CKSUM_XXH3}, {"sha256", AIS_CKSUM_SHA256},
    {"md5", AIS_CKSUM_MD5},	{"crc32c", AIS_CKSUM_CRC32C},
};

int ais_cksum_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cksum_names) / sizeof(cksum_names[0]); i++)
		if (strcasecmp(name, cksum_names[i].name) == 0)
			return cksum_names[i].type;
	return -EINVAL;
}

const char *ais_cksum_name(int type)
{
	size_t i;

	for (i = 0; i < sizeof(cksum_names) / sizeof(cksum_names[0]); i++)
		if (cksum_names[i].type == type)
			return cksum_names[i].name;
	return "unknown";
}
