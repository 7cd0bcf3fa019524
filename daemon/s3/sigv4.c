/* AWS Signature Version 4 (see sigv4.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util.h"

#include "s3/sigv4.h"

#define ALGO "AWS4-HMAC-SHA256"

size_t s3_uri_encode(const char *in, size_t len, bool keep_slash, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || (c == '/' && keep_slash)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = 0;
	return o;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long s3_uri_decode(const char *in, size_t len, bool plus, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= len || (h = hexval(in[i + 1])) < 0 ||
			    (l = hexval(in[i + 2])) < 0)
				return -1;
			c = (char)(h << 4 | l);
			i += 2;
			if (!c)
				return -1;
		} else if (c == '+' && plus) {
			c = ' ';
		} else if (!c) {
			return -1;
		}
		out[o++] = c;
	}
	out[o] = 0;
	return (long)o;
}

/* Copies the value of "key=" up to a ',' or the end from s into out
 * (cap); 0, or -1 when missing or too long. */
static int field(const char *s, const char *key, char *out, size_t cap)
{
	const char *p = s, *e;
	size_t kl = strlen(key);

	for (;;) {
		p = strstr(p, key);
		if (!p)
			return -1;
		if (p == s || p[-1] == ' ' || p[-1] == ',')
			break;
		p += kl;
	}
	p += kl;
	e = strchr(p, ',');
	if (!e)
		e = p + strlen(p);
	while (e > p && e[-1] == ' ')
		e--;
	if ((size_t)(e - p) >= cap)
		return -1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = 0;
	return 0;
}

/* "AK/DATE/REGION/SERVICE/aws4_request" into a. */
static int parse_credential(const char *cred, struct sigv4_auth *a,
			    char *errmsg)
{
	char buf[512], *parts[5], *save = NULL, *t;
	int n = 0;

	if (strlen(cred) >= sizeof(buf))
		return ais_errf(errmsg, -EINVAL, "credential too long");
	snprintf(buf, sizeof(buf), "%s", cred);
	for (t = strtok_r(buf, "/", &save); t && n < 5;
	     t = strtok_r(NULL, "/", &save))
		parts[n++] = t;
	if (n != 5 || t || strcmp(parts[4], "aws4_request") ||
	    strlen(parts[1]) != 8 ||
	    strlen(parts[0]) >= sizeof(a->access_key) ||
	    strlen(parts[2]) >= sizeof(a->region) ||
	    strlen(parts[3]) >= sizeof(a->service))
		return ais_errf(errmsg, -EINVAL,
				"malformed credential '%s': expected "
				"ACCESSKEY/YYYYMMDD/REGION/SERVICE/"
				"aws4_request",
				cred);
	snprintf(a->access_key, sizeof(a->access_key), "%s", parts[0]);
	snprintf(a->date, sizeof(a->date), "%s", parts[1]);
	snprintf(a->region, sizeof(a->region), "%s", parts[2]);
	snprintf(a->service, sizeof(a->service), "%s", parts[3]);
	return 0;
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (hexval(*s) < 0)
			return false;
	return true;
}

int sigv4_parse_header(const char *authz, struct sigv4_auth *a, char *errmsg)
{
	char cred[512];

	memset(a, 0, sizeof(*a));
	a->expires = -1;
	if (strncmp(authz, ALGO " ", sizeof(ALGO)) != 0)
		return ais_errf(errmsg, -EINVAL,
				"unsupported authorization: only "
				"AWS4-HMAC-SHA256 (Signature Version 4) is "
				"accepted");
	authz += sizeof(ALGO);
	if (field(authz, "Credential=", cred, sizeof(cred)) ||
	    field(authz, "SignedHeaders=", a->signed_headers,
		  sizeof(a->signed_headers)) ||
	    field(authz, "Signature=", a->signature, sizeof(a->signature)))
		return ais_errf(errmsg, -EINVAL,
				"malformed Authorization header: it needs "
				"Credential, SignedHeaders and Signature");
	if (!is_hex64(a->signature))
		return ais_errf(errmsg, -EINVAL,
				"malformed Authorization header: a signature "
				"is 64 hex digits");
	return parse_credential(cred, a, errmsg);
}

static const char *qget(const struct s3_kv *q, size_t nq, const char *name)
{
	for (size_t i = 0; i < nq; i++)
		if (!strcmp(q[i].name, name))
			return q[i].value;
	return NULL;
}

int sigv4_parse_query(const struct s3_kv *q, size_t nq, struct sigv4_auth *a,
		      char *errmsg)
{
	const char *algo = qget(q, nq, "X-Amz-Algorithm");
	const char *cred = qget(q, nq, "X-Amz-Credential");
	const char *date = qget(q, nq, "X-Amz-Date");
	const char *exp = qget(q, nq, "X-Amz-Expires");
	const char *sh = qget(q, nq, "X-Amz-SignedHeaders");
	const char *sig = qget(q, nq, "X-Amz-Signature");
	char *end;

	memset(a, 0, sizeof(*a));
	a->expires = -1;
	if (!sig)
		return 1;
	if (!algo || strcmp(algo, ALGO))
		return ais_errf(errmsg, -EINVAL,
				"X-Amz-Algorithm must be AWS4-HMAC-SHA256");
	if (!cred || !date || !exp || !sh)
		return ais_errf(errmsg, -EINVAL,
				"a presigned URL needs X-Amz-Credential, "
				"X-Amz-Date, X-Amz-Expires and "
				"X-Amz-SignedHeaders");
	if (!is_hex64(sig) || strlen(date) != 16 ||
	    strlen(sh) >= sizeof(a->signed_headers))
		return ais_errf(errmsg, -EINVAL, "malformed presigned URL");
	a->expires = strtol(exp, &end, 10);
	if (*end || end == exp || a->expires < 1 || a->expires > 604800)
		return ais_errf(errmsg, -EINVAL,
				"X-Amz-Expires must be 1 to 604800 seconds");
	snprintf(a->signature, sizeof(a->signature), "%s", sig);
	snprintf(a->amz_date, sizeof(a->amz_date), "%s", date);
	snprintf(a->signed_headers, sizeof(a->signed_headers), "%s", sh);
	a->presigned = true;
	return parse_credential(cred, a, errmsg);
}

long long sigv4_parse_time(const char *s)
{
	struct tm tm;
	const char *e;

	if (!s || strlen(s) != 16)
		return -1;
	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
	if (!e || *e)
		return -1;
	return (long long)timegm(&tm);
}

static void hmac(const void *key, size_t klen, const void *data, size_t dlen,
		 uint8_t out[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &n);
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = 0;
}

void sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
	uint8_t md[32];
	unsigned int n = 32;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	to_hex(md, 32, hex);
}

void sigv4_signing_key(const char *secret, const struct sigv4_auth *a,
		       uint8_t key[32])
{
	char k0[160];
	uint8_t k1[32], k2[32], k3[32];
	int n = snprintf(k0, sizeof(k0), "AWS4%s", secret);

	hmac(k0, (size_t)n, a->date, strlen(a->date), k1);
	hmac(k1, 32, a->region, strlen(a->region), k2);
	hmac(k2, 32, a->service, strlen(a->service), k3);
	hmac(k3, 32, "aws4_request", 12, key);
	OPENSSL_cleanse(k0, sizeof(k0));
}

/* A growable string. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool fail;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->fail)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > (1u << 20) || !(np = realloc(b->p, cap))) {
			b->fail = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* A query parameter, encoded. */
struct qenc {
	char *name, *value;
};

static int qenc_cmp(const void *x, const void *y)
{
	const struct qenc *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : strcmp(a->value, b->value);
}

/* A header value trimmed, its runs of blanks made one. */
static void sb_header_value(struct sbuf *b, const char *v)
{
	bool blank = false;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			blank = true;
			continue;
		}
		if (blank)
			sb_add(b, " ", 1);
		blank = false;
		sb_add(b, v, 1);
	}
}

int sigv4_sign(const uint8_t key[32], const struct sigv4_auth *a,
	       const char *method, const char *canon_uri,
	       const struct s3_kv *query, size_t nq, const struct s3_kv *hdrs,
	       size_t nh, const char *payload_hash, char sig[65], char *creq,
	       size_t cap, char *errmsg)
{
	struct sbuf b = {0}, sts = {0};
	struct qenc *qe = calloc(nq + 1, sizeof(*qe));
	char hash[65], scope[160];
	const char *h, *next;
	uint8_t mac[32];
	size_t nqe = 0, i;
	int rc = 0;

	if (!qe)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	for (i = 0; i < nq; i++) {
		size_t nl = strlen(query[i].name), vl = strlen(query[i].value);

		if (!strcmp(query[i].name, "X-Amz-Signature"))
			continue;
		qe[nqe].name = malloc(3 * nl + 1);
		qe[nqe].value = malloc(3 * vl + 1);
		if (!qe[nqe].name || !qe[nqe].value) {
			free(qe[nqe].name);
			free(qe[nqe].value);
			rc = ais_errf(errmsg, -ENOMEM, "out of memory");
			goto out;
		}
		s3_uri_encode(query[i].name, nl, false, qe[nqe].name);
		s3_uri_encode(query[i].value, vl, false, qe[nqe].value);
		nqe++;
	}
	qsort(qe, nqe, sizeof(*qe), qenc_cmp);

	sb_str(&b, method);
	sb_str(&b, "\n");
	sb_str(&b, canon_uri);
	sb_str(&b, "\n");
	for (i = 0; i < nqe; i++) {
		if (i)
			sb_str(&b, "&");
		sb_str(&b, qe[i].name);
		sb_str(&b, "=");
		sb_str(&b, qe[i].value);
	}
	sb_str(&b, "\n");
	/* The signed headers, in the order the client listed them (sorted,
	 * as SigV4 requires of it). */
	for (h = a->signed_headers; *h; h = next) {
		size_t hl;
		bool found = false;

		next = strchr(h, ';');
		hl = next ? (size_t)(next - h) : strlen(h);
		next = next ? next + 1 : h + hl;
		if (!hl)
			continue;
		sb_add(&b, h, hl);
		sb_str(&b, ":");
		for (i = 0; i < nh; i++) {
			if (strlen(hdrs[i].name) != hl ||
			    strncmp(hdrs[i].name, h, hl))
				continue;
			if (found)
				sb_str(&b, ",");
			sb_header_value(&b, hdrs[i].value);
			found = true;
		}
		if (!found) {
			rc = ais_errf(errmsg, -EINVAL,
				      "signed header '%.*s' is not in the "
				      "request",
				      (int)hl, h);
			goto out;
		}
		sb_str(&b, "\n");
	}
	sb_str(&b, "\n");
	sb_str(&b, a->signed_headers);
	sb_str(&b, "\n");
	sb_str(&b, payload_hash);
	if (b.fail) {
		rc = ais_errf(errmsg, -E2BIG, "request too large to sign");
		goto out;
	}
	if (creq && cap)
		snprintf(creq, cap, "%s", b.p);
	sigv4_sha256_hex(b.p, b.len, hash);

	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", a->date,
		 a->region, a->service);
	sb_str(&sts, ALGO "\n");
	sb_str(&sts, a->amz_date);
	sb_str(&sts, "\n");
	sb_str(&sts, scope);
	sb_str(&sts, "\n");
	sb_str(&sts, hash);
	if (sts.fail) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	hmac(key, 32, sts.p, sts.len, mac);
	to_hex(mac, 32, sig);
out:
	for (i = 0; i < nqe; i++) {
		free(qe[i].name);
		free(qe[i].value);
	}
	free(qe);
	free(b.p);
	free(sts.p);
	return rc;
}

void sigv4_chunk_sign(const uint8_t key[32], const struct sigv4_auth *a,
		      const char *prev_sig, const char *data_sha256,
		      char sig[65])
{
	char sts[512];
	uint8_t mac[32];
	/* The SHA-256 of nothing: the chunk's (absent) headers. */
	static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb924"
				    "27ae41e4649b934ca495991b7852b855";
	int n = snprintf(sts, sizeof(sts),
			 ALGO "-PAYLOAD\n%s\n%s/%s/%s/aws4_request\n%s\n%s\n%s",
			 a->amz_date, a->date, a->region, a->service, prev_sig,
			 empty, data_sha256);

	hmac(key, 32, sts, (size_t)n, mac);
	to_hex(mac, 32, sig);
}

bool sigv4_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}
