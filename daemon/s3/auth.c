/* Who sent an S3 request: SigV4 in the Authorization header or in a
 * presigned URL's query, checked against the cluster's S3 keys
 * (cluster/), the clock within 15 minutes; or nobody, where s3_anonymous
 * allows it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "log.h"

#include "cluster/cluster.h"
#include "s3/s3_i.h"

static bool is_read(const struct s3_req *r)
{
	return r->method == HTTP_GET || r->method == HTTP_HEAD;
}

static int deny(struct s3_fail *f, int status, const char *code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int deny(struct s3_fail *f, int status, const char *code,
		const char *fmt, ...)
{
	va_list ap;

	f->status = status;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int anonymous(struct s3_req *r, struct s3_fail *f)
{
	int anon = r->s->d->opts->s3_anonymous;

	if (anon == AISD_S3_ANON_WRITE ||
	    (anon == AISD_S3_ANON_READ && is_read(r)))
		return 0;
	return deny(f, 403, "AccessDenied",
		    "%s needs a signed request (AWS Signature Version "
		    "4)%s",
		    is_read(r) ? "reading" : "this",
		    anon == AISD_S3_ANON_READ ? ""
					      : "; this endpoint "
						"takes none "
						"unsigned");
}

/* The right a request needs on its bucket. */
static int need_of(const struct s3_req *r)
{
	if (!r->key[0]) {
		/* CreateBucket, DeleteBucket; DeleteObjects. */
		if (r->method == HTTP_PUT || r->method == HTTP_DELETE)
			return AIS__RIGHT__RIGHT_ADMIN;
		if (r->method == HTTP_POST)
			return AIS__RIGHT__RIGHT_WRITE;
		return AIS__RIGHT__RIGHT_READ;
	}
	return is_read(r) ? AIS__RIGHT__RIGHT_READ : AIS__RIGHT__RIGHT_WRITE;
}

/* The Date header's time as YYYYMMDDTHHMMSSZ. */
static int date_to_amz(const char *date, char out[17])
{
	int64_t ns = s3_parse_http_date(date);
	time_t t;
	struct tm tm;

	if (ns < 0)
		return -1;
	t = (time_t)(ns / 1000000000);
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
	return 0;
}

static bool hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

int s3_auth_parse(struct s3_req *r, struct s3_fail *f)
{
	struct sigv4_auth *a = &r->auth;
	const char *authz = s3_header(r, "authorization");
	char em[AIS_ERRMSG_LEN] = "";
	int rc;

	if (authz) {
		if (!strncmp(authz, "AWS ", 4))
			return deny(f, 400, "InvalidRequest",
				    "Signature Version 2 is not supported: "
				    "sign with AWS Signature Version 4 "
				    "(s3cmd: signature_v2 = False)");
		if (sigv4_parse_header(authz, a, em))
			return deny(f, 400, "AuthorizationHeaderMalformed",
				    "%s", em);
		if (s3_header(r, "x-amz-date"))
			snprintf(a->amz_date, sizeof(a->amz_date), "%s",
				 s3_header(r, "x-amz-date"));
		else if (!s3_header(r, "date") ||
			 date_to_amz(s3_header(r, "date"), a->amz_date))
			return deny(f, 403, "AccessDenied",
				    "a signed request needs a valid "
				    "X-Amz-Date or Date header");
		r->payload_hash = s3_header(r, "x-amz-content-sha256");
		if (!r->payload_hash)
			return deny(f, 400, "InvalidRequest",
				    "Missing required header for this "
				    "request: x-amz-content-sha256");
	} else {
		if (s3_has_query(r, "AWSAccessKeyId") &&
		    s3_has_query(r, "Signature"))
			return deny(f, 400, "InvalidRequest",
				    "Signature Version 2 is not supported: "
				    "presign with AWS Signature Version 4 "
				    "(boto3: Config(signature_version="
				    "'s3v4'))");
		rc = sigv4_parse_query(r->q, r->nq, a, em);
		if (rc < 0)
			return deny(f, 400, "AuthorizationQueryParametersError",
				    "%s", em);
		if (rc == 1)
			return 1;
		r->payload_hash = "UNSIGNED-PAYLOAD";
	}
	if (strcmp(r->payload_hash, "UNSIGNED-PAYLOAD") &&
	    strcmp(r->payload_hash, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") &&
	    strcmp(r->payload_hash, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") &&
	    !hex64(r->payload_hash))
		return deny(f, 400, "InvalidArgument",
			    "x-amz-content-sha256 must be the payload's "
			    "SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* "
			    "value, not '%.80s'",
			    r->payload_hash);
	r->streaming =
	    !strcmp(r->payload_hash, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
	if (sigv4_parse_time(a->amz_date) < 0)
		return deny(f, 403, "AccessDenied",
			    "X-Amz-Date '%s' is not YYYYMMDDTHHMMSSZ",
			    a->amz_date);
	if (strncmp(a->amz_date, a->date, 8))
		return deny(f, 403, "SignatureDoesNotMatch",
			    "the credential's date %s is not the "
			    "request's (%s)",
			    a->date, a->amz_date);
	if (strcmp(a->service, "s3"))
		return deny(f, 403, "SignatureDoesNotMatch",
			    "the credential names service '%s', not s3",
			    a->service);
	return 0;
}

int s3_auth_sign(struct s3_req *r, char sig[65], char *creq, size_t cap,
		 char *em)
{
	struct sigv4_auth *a = &r->auth;
	size_t pl = strlen(r->path);
	char *uri, *dec;
	long n;
	int rc;

	/* The canonical URI: the path decoded and encoded again as SigV4
	 * says, else (a client that signs what it sent) the path as sent. */
	uri = malloc(3 * pl + 1);
	dec = malloc(pl + 1);
	if (!uri || !dec) {
		free(uri);
		free(dec);
		return ais_errf(em, -ENOMEM, "out of memory");
	}
	n = s3_uri_decode(r->path, pl, false, dec);
	if (n >= 0)
		s3_uri_encode(dec, (size_t)n, true, uri);
	else
		snprintf(uri, 3 * pl + 1, "%s", r->path);
	rc = sigv4_sign(r->key32, a, r->method_name, uri, r->q, r->nq, r->h,
			r->nh, r->payload_hash, sig, creq, cap, em);
	if (!rc && !sigv4_equal(sig, a->signature) && strcmp(uri, r->path))
		rc = sigv4_sign(r->key32, a, r->method_name, r->path, r->q,
				r->nq, r->h, r->nh, r->payload_hash, sig, NULL,
				0, em);
	free(uri);
	free(dec);
	return rc;
}

int s3_auth_check(struct s3_req *r, struct s3_fail *f)
{
	struct sigv4_auth *a = &r->auth;
	const Ais__S3Key *k;
	struct cluster_map *cm;
	char em[AIS_ERRMSG_LEN] = "", secret[160], sig[65];
	char creq[2048];
	long long t, now = (long long)time(NULL);
	int rc;

	rc = s3_auth_parse(r, f);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return anonymous(r, f) ? -1
		       : r->bucket[0]  ? s3_may(r, r->bucket, need_of(r), f)
				       : 0;
	t = sigv4_parse_time(a->amz_date);
	if (a->presigned) {
		if (now > t + a->expires)
			return deny(f, 403, "AccessDenied",
				    "Request has expired (%lld s ago)",
				    now - t - a->expires);
		if (t > now + S3_SKEW_S)
			return deny(f, 403, "AccessDenied",
				    "Request is not valid yet");
	} else if (t > now + S3_SKEW_S || t < now - S3_SKEW_S) {
		return deny(f, 403, "RequestTimeTooSkewed",
			    "The difference between the request time "
			    "(%s) and the server's time is more than 15 "
			    "minutes",
			    a->amz_date);
	}

	cm = cluster_map_get(r->s->d->cluster);
	k = cluster_s3_key_find(cm, a->access_key);
	if (k) {
		snprintf(secret, sizeof(secret), "%s", k->secret);
		snprintf(r->user, sizeof(r->user), "%s",
			 k->user ? k->user : "");
	}
	cluster_map_put(cm);
	if (!k)
		return deny(f, 403, "InvalidAccessKeyId",
			    "The AWS Access Key Id you provided does not "
			    "exist in our records (ais s3 keys ls)");
	sigv4_signing_key(secret, a, r->key32);
	OPENSSL_cleanse(secret, sizeof(secret));
	rc = s3_auth_sign(r, sig, creq, sizeof(creq), em);
	if (rc == -ENOMEM)
		return deny(f, 500, "InternalError", "out of memory");
	if (rc)
		return deny(f, 403, "SignatureDoesNotMatch", "%s", em);
	if (!sigv4_equal(sig, a->signature)) {
		if (f->quiet)
			return deny(f, 403, "SignatureDoesNotMatch", "-");
		ais_log(LOG_INFO,
			"%s: S3 %s %s: signature of %s does not match; "
			"canonical request:\n%s",
			r->c->peer, r->method_name, r->path, a->access_key,
			creq);
		return deny(f, 403, "SignatureDoesNotMatch",
			    "The request signature we calculated does not "
			    "match the signature you provided. Check your "
			    "key and signing method.");
	}
	/* ListBuckets shows what the user may read (s3_list_buckets). */
	if (!r->bucket[0])
		return 0;
	return s3_may(r, r->bucket, need_of(r), f);
}

static const char *right_word(int right)
{
	return right == AIS__RIGHT__RIGHT_ADMIN	  ? "admin"
	       : right == AIS__RIGHT__RIGHT_WRITE ? "write"
	       : right == AIS__RIGHT__RIGHT_READ  ? "read"
						  : "no right";
}

int s3_may(struct s3_req *r, const char *bucket, int need, struct s3_fail *f)
{
	struct cluster_map *cm;
	const Ais__User *u;
	int have = AIS__RIGHT__RIGHT_NONE;

	if (!r->s->d->auth_key)
		return 0;
	/* Unsigned requests (as far as s3_anonymous lets them) have the
	 * rights of user "anonymous", if the cluster has one. */
	if (!r->auth.access_key[0])
		snprintf(r->user, sizeof(r->user), "%s", S3_ANON_USER);
	else if (!r->user[0])
		return deny(f, 403, "AccessDenied",
			    "access key %s acts as no user (made before the "
			    "cluster had auth): make another with ais s3 "
			    "keys add --user NAME",
			    r->auth.access_key);
	cm = cluster_map_get(r->s->d->cluster);
	u = cluster_user_find(cm, r->user);
	if (u)
		have = cluster_user_right(u, bucket);
	cluster_map_put(cm);
	if (!u && !r->auth.access_key[0])
		return deny(f, 403, "AccessDenied",
			    "unsigned requests have the rights of user %s, "
			    "which this cluster does not have (ais auth user "
			    "add %s; ais auth grant %s ais://BUCKET read)",
			    S3_ANON_USER, S3_ANON_USER, S3_ANON_USER);
	if (!u)
		return deny(f, 403, "AccessDenied",
			    "user %s of access key %s no longer exists",
			    r->user, r->auth.access_key);
	if (have >= need)
		return 0;
	return deny(f, 403, "AccessDenied",
		    "user %s may not %s %s in bucket %s: it has %s there, %s "
		    "is needed",
		    r->user, r->method_name, r->key[0] ? "objects" : "it",
		    bucket, right_word(have), right_word(need));
}

int s3_authorize(struct s3_req *r, const char *bucket, int need)
{
	struct s3_fail f = {0};

	if (s3_may(r, bucket, need, &f) == 0)
		return 0;
	s3_error(r, f.status, f.code, "%s", f.msg);
	return -1;
}

int s3_authenticate(struct s3_req *r)
{
	struct s3_fail f = {0};

	if (s3_auth_check(r, &f) == 0)
		return 0;
	return s3_error(r, f.status, f.code, "%s", f.msg);
}
