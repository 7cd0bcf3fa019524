/* Streaming checksums: XXH3-64 (default, libxxhash), SHA-256 and MD5
 * (OpenSSL EVP), CRC32C (ISA-L). Values travel as lowercase hex. */
#ifndef AIS_CKSUM_H
#define AIS_CKSUM_H

#include <stddef.h>
#include <stdint.h>

enum ais_cksum_type { /* same numbers as ais.proto CksumType */
		      AIS_CKSUM_NONE = 0,
		      AIS_CKSUM_XXH3 = 1,
		      AIS_CKSUM_SHA256 = 2,
		      AIS_CKSUM_MD5 = 3,
		      AIS_CKSUM_CRC32C = 4,
};

#define AIS_CKSUM_HEX_MAX 65 /* SHA-256 hex + NUL */

struct ais_cksum {
	int type;
	void *state; /* XXH3_state_t * or EVP_MD_CTX *; owned */
	uint32_t crc;
};

/* Starts a checksum of the given type. Returns 0, -EINVAL (unknown type) or
 * -ENOMEM. AIS_CKSUM_NONE is valid and computes nothing. */
int ais_cksum_init(struct ais_cksum *c, int type);
void ais_cksum_update(struct ais_cksum *c, const void *data, size_t len);
/* Writes the hex digest ("" for NONE) and frees the state. */
void ais_cksum_final(struct ais_cksum *c, char hex[AIS_CKSUM_HEX_MAX]);
/* Frees the state without a digest (error paths). Safe after _final. */
void ais_cksum_abort(struct ais_cksum *c);

/* One-shot over a buffer. */
int ais_cksum_buf(int type, const void *data, size_t len,
		  char hex[AIS_CKSUM_HEX_MAX]);

/* "xxh3"/"xxhash", "sha256", "md5", "crc32c", "none" <-> type; -EINVAL
 * if unknown. */
int ais_cksum_parse(const char *name);
const char *ais_cksum_name(int type);

#endif
