/* AWS Signature Version 4 as S3 checks it: the canonical request, the
 * string to sign and the signing key, for the Authorization header and for
 * presigned URLs (query parameters), and the signatures of an aws-chunked
 * body's chunks. Pure functions (OpenSSL's HMAC and SHA-256), no state:
 * test/unit/test_s3.c runs AWS's published examples through them. */
#ifndef AISD_S3_SIGV4_H
#define AISD_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One query parameter or header, as the request had it (names of headers
 * lowercase, values trimmed; query names and values decoded). */
struct s3_kv {
	const char *name;
	const char *value;
};

/* What a request's signature claims (from its Authorization header or its
 * X-Amz-* query parameters). */
struct sigv4_auth {
	char access_key[130];
	char date[9]; /* YYYYMMDD of the credential scope */
	char region[64];
	char service[32];
	char signed_headers[1024]; /* "host;x-amz-date", lowercase, sorted */
	char signature[65];
	char amz_date[17]; /* YYYYMMDDTHHMMSSZ */
	long expires;	   /* presigned: X-Amz-Expires (s); else -1 */
	bool presigned;
};

/* Percent-encodes len bytes of in as SigV4 does (A-Z a-z 0-9 - . _ ~ kept,
 * '/' kept when keep_slash, the rest %XX in upper case) into out (room for
 * 3 * len + 1). Returns the length. */
size_t s3_uri_encode(const char *in, size_t len, bool keep_slash, char *out);

/* Decodes %XX (and '+' as a blank when plus) of in[0..len) into out (room
 * for len + 1, NUL-terminated). Returns the length, or -1 for a malformed
 * escape or a decoded NUL. */
long s3_uri_decode(const char *in, size_t len, bool plus, char *out);

/* Parses "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=HEX" (amz_date is the caller's to fill).
 * 0 or -EINVAL with errmsg. */
int sigv4_parse_header(const char *authz, struct sigv4_auth *a, char *errmsg);

/* Parses the X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders
 * and -Signature query parameters of a presigned URL. 0, 1 when there is
 * no X-Amz-Signature (not presigned), or -EINVAL with errmsg. */
int sigv4_parse_query(const struct s3_kv *q, size_t nq, struct sigv4_auth *a,
		      char *errmsg);

/* "YYYYMMDDTHHMMSSZ" as seconds since the epoch, or -1. */
long long sigv4_parse_time(const char *amz_date);

/* The signing key of secret for a's date, region and service. */
void sigv4_signing_key(const char *secret, const struct sigv4_auth *a,
		       uint8_t key[32]);

/* The signature (lowercase hex) of a request: its method, its path as the
 * canonical URI (already encoded as SigV4 wants), its query parameters
 * (decoded; X-Amz-Signature left out), its headers (lowercase names,
 * those a->signed_headers names are used; a header named there and
 * missing: -EINVAL), and the payload hash (x-amz-content-sha256, or
 * "UNSIGNED-PAYLOAD"). The canonical request goes into creq (cap bytes,
 * may be NULL) for the error message S3 gives. 0 or -EINVAL / -E2BIG. */
int sigv4_sign(const uint8_t key[32], const struct sigv4_auth *a,
	       const char *method, const char *canon_uri,
	       const struct s3_kv *query, size_t nq, const struct s3_kv *hdrs,
	       size_t nh, const char *payload_hash, char sig[65], char *creq,
	       size_t cap, char *errmsg);

/* The signature of one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-
 * PAYLOAD) whose data hashes to data_sha256 (hex), after prev_sig (the
 * seed: the request's signature). */
void sigv4_chunk_sign(const uint8_t key[32], const struct sigv4_auth *a,
		      const char *prev_sig, const char *data_sha256,
		      char sig[65]);

/* Hex of the SHA-256 of len bytes. */
void sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

/* Compares two hex signatures in constant time. */
bool sigv4_equal(const char *a, const char *b);

#endif
