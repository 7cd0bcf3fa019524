/* Unit tests of the S3 endpoint's pure parts: SigV4 against AWS's
 * published examples (the S3 API reference's GET, PUT, lifecycle, list
 * and presigned URL signatures, and its aws-chunked upload's seed and
 * chunk signatures), URI encoding and decoding, the Authorization header
 * and presigned query parsers, and the S3 keys in the cluster metadata. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "util.h"

#include "cluster/meta.h"
#include "s3/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void auth_of(struct sigv4_auth *a, const char *signed_headers)
{
	memset(a, 0, sizeof(*a));
	strcpy(a->access_key, "AKIAIOSFODNN7EXAMPLE");
	strcpy(a->date, "20130524");
	strcpy(a->region, "us-east-1");
	strcpy(a->service, "s3");
	strcpy(a->amz_date, "20130524T000000Z");
	strcpy(a->signed_headers, signed_headers);
	a->expires = -1;
}

static void sign_ok(const struct sigv4_auth *a, const char *method,
		    const char *uri, const struct s3_kv *q, size_t nq,
		    const struct s3_kv *h, size_t nh, const char *payload,
		    const char *want)
{
	uint8_t key[32];
	char sig[65], em[AIS_ERRMSG_LEN] = "";

	sigv4_signing_key(SECRET, a, key);
	ck_assert_int_eq(sigv4_sign(key, a, method, uri, q, nq, h, nh, payload,
				    sig, NULL, 0, em),
			 0);
	ck_assert_str_eq(sig, want);
}

START_TEST(test_aws_get_object)
{
	struct sigv4_auth a;
	const struct s3_kv h[] = {
	    {"host", "examplebucket.s3.amazonaws.com"},
	    {"range", "bytes=0-9"},
	    {"x-amz-content-sha256", EMPTY},
	    {"x-amz-date", "20130524T000000Z"},
	    {"user-agent", "not signed"},
	};

	auth_of(&a, "host;range;x-amz-content-sha256;x-amz-date");
	sign_ok(&a, "GET", "/test.txt", NULL, 0, h, 5, EMPTY,
		"f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb"
		"41");
}
END_TEST

START_TEST(test_aws_put_object)
{
	struct sigv4_auth a;
	const char *body_sha =
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e4"
	    "2034a8b803f8b072";
	const struct s3_kv h[] = {
	    {"host", "examplebucket.s3.amazonaws.com"},
	    {"date", "Fri, 24 May 2013 00:00:00 GMT"},
	    {"x-amz-date", "20130524T000000Z"},
	    {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
	    {"x-amz-content-sha256", body_sha},
	};
	char sha[65];

	sigv4_sha256_hex("Welcome to Amazon S3.", 21, sha);
	ck_assert_str_eq(sha, body_sha);
	auth_of(&a, "date;host;x-amz-content-sha256;x-amz-date;"
		    "x-amz-storage-class");
	sign_ok(&a, "PUT", "/test%24file.text", NULL, 0, h, 5, body_sha,
		"98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108"
		"bd");
}
END_TEST

START_TEST(test_aws_lifecycle_and_list)
{
	struct sigv4_auth a;
	const struct s3_kv h[] = {
	    {"host", "examplebucket.s3.amazonaws.com"},
	    {"x-amz-date", "20130524T000000Z"},
	    {"x-amz-content-sha256", EMPTY},
	};
	const struct s3_kv lifecycle[] = {{"lifecycle", ""}};
	/* Out of order on purpose: the canonical query sorts them. */
	const struct s3_kv list[] = {{"prefix", "J"}, {"max-keys", "2"}};

	auth_of(&a, "host;x-amz-content-sha256;x-amz-date");
	sign_ok(&a, "GET", "/", lifecycle, 1, h, 3, EMPTY,
		"fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a01367835"
		"43");
	sign_ok(&a, "GET", "/", list, 2, h, 3, EMPTY,
		"34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6"
		"f7");
}
END_TEST

START_TEST(test_aws_presigned)
{
	const struct s3_kv q[] = {
	    {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
	    {"X-Amz-Credential",
	     "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
	    {"X-Amz-Date", "20130524T000000Z"},
	    {"X-Amz-Expires", "86400"},
	    {"X-Amz-SignedHeaders", "host"},
	    {"X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c26"
				"5957d157751f604d404"},
	};
	const struct s3_kv h[] = {{"host", "examplebucket.s3.amazonaws.com"}};
	struct sigv4_auth a;
	char em[AIS_ERRMSG_LEN];

	ck_assert_int_eq(sigv4_parse_query(q, 6, &a, em), 0);
	ck_assert(a.presigned);
	ck_assert_int_eq(a.expires, 86400);
	ck_assert_str_eq(a.access_key, "AKIAIOSFODNN7EXAMPLE");
	sign_ok(&a, "GET", "/test.txt", q, 6, h, 1, "UNSIGNED-PAYLOAD",
		a.signature);
	ck_assert_int_eq(sigv4_parse_query(q, 3, &a, em), 1); /* unsigned */
	{
		struct s3_kv bad[6];

		memcpy(bad, q, sizeof(bad));
		bad[3].value = "604801";
		ck_assert_int_eq(sigv4_parse_query(bad, 6, &a, em), -EINVAL);
		bad[3].value = "86400";
		bad[1].value = "AKIA/20130524/us-east-1/s3";
		ck_assert_int_eq(sigv4_parse_query(bad, 6, &a, em), -EINVAL);
	}
}
END_TEST

START_TEST(test_aws_chunked)
{
	struct sigv4_auth a;
	const struct s3_kv h[] = {
	    {"host", "s3.amazonaws.com"},
	    {"x-amz-date", "20130524T000000Z"},
	    {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
	    {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
	    {"content-encoding", "aws-chunked"},
	    {"x-amz-decoded-content-length", "66560"},
	    {"content-length", "66824"},
	};
	char *data = malloc(65536), sha[65], sig[65];
	uint8_t key[32];

	auth_of(&a, "content-encoding;content-length;host;x-amz-content-"
		    "sha256;x-amz-date;x-amz-decoded-content-length;x-amz-"
		    "storage-class");
	sign_ok(&a, "PUT", "/examplebucket/chunkObject.txt", NULL, 0, h, 7,
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
		"4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0"
		"a9");
	sigv4_signing_key(SECRET, &a, key);
	memset(data, 'a', 65536);
	sigv4_sha256_hex(data, 65536, sha);
	sigv4_chunk_sign(key, &a,
			 "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7"
			 "db9fa80a0a9",
			 sha, sig);
	ck_assert_str_eq(sig, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0a"
			      "de35a65485a288648");
	sigv4_sha256_hex(data, 1024, sha);
	sigv4_chunk_sign(key, &a, sig, sha, sig);
	ck_assert_str_eq(sig, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7"
			      "d234b86a503ef5497");
	sigv4_chunk_sign(key, &a, sig, EMPTY, sig);
	ck_assert_str_eq(sig, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81c"
			      "eb9323e279d449df9");
	free(data);
}
END_TEST

START_TEST(test_header_parse)
{
	struct sigv4_auth a;
	char em[AIS_ERRMSG_LEN];

	ck_assert_int_eq(
	    sigv4_parse_header(
		"AWS4-HMAC-SHA256 Credential=AK/20130524/eu-west-1/s3/"
		"aws4_request, SignedHeaders=host;x-amz-date, Signature="
		"f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bd"
		"b41",
		&a, em),
	    0);
	ck_assert_str_eq(a.access_key, "AK");
	ck_assert_str_eq(a.region, "eu-west-1");
	ck_assert_str_eq(a.signed_headers, "host;x-amz-date");
	/* No spaces after the commas (some clients). */
	ck_assert_int_eq(
	    sigv4_parse_header(
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/"
		"aws4_request,SignedHeaders=host,Signature="
		"f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bd"
		"b41",
		&a, em),
	    0);
	ck_assert_int_eq(sigv4_parse_header("AWS AK:sig", &a, em), -EINVAL);
	ck_assert_int_eq(sigv4_parse_header("AWS4-HMAC-SHA256 Credential=AK/"
					    "x/us-east-1/s3/aws4_request, "
					    "SignedHeaders=host, Signature=00",
					    &a, em),
			 -EINVAL);
	ck_assert_int_eq(sigv4_parse_header("AWS4-HMAC-SHA256 ", &a, em),
			 -EINVAL);
	ck_assert_int_eq(sigv4_parse_time("20130524T000000Z"), 1369353600);
	ck_assert_int_eq(sigv4_parse_time("2013-05-24"), -1);
	ck_assert(sigv4_equal("abc", "abc"));
	ck_assert(!sigv4_equal("abc", "abd"));
	ck_assert(!sigv4_equal("abc", "ab"));
}
END_TEST

START_TEST(test_uri)
{
	char out[64];
	long n;

	s3_uri_encode("a b/c~d+é", 10, true, out);
	ck_assert_str_eq(out, "a%20b/c~d%2B%C3%A9");
	s3_uri_encode("a/b", 3, false, out);
	ck_assert_str_eq(out, "a%2Fb");
	n = s3_uri_decode("a%20b+c%2f", 10, true, out);
	ck_assert_int_eq(n, 6);
	ck_assert_str_eq(out, "a b c/");
	ck_assert_int_eq(s3_uri_decode("a+b", 3, false, out), 3);
	ck_assert_str_eq(out, "a+b");
	ck_assert_int_eq(s3_uri_decode("%", 1, false, out), -1);
	ck_assert_int_eq(s3_uri_decode("%4", 2, false, out), -1);
	ck_assert_int_eq(s3_uri_decode("%zz", 3, false, out), -1);
	ck_assert_int_eq(s3_uri_decode("a%00b", 5, false, out), -1);
}
END_TEST

static int key_cmd(struct meta *m, int kind, const char *ak, const char *sk)
{
	Ais__MetaCmd c = AIS__META_CMD__INIT;
	Ais__S3Key k = AIS__S3_KEY__INIT;

	k.access_key = (char *)ak;
	k.secret = (char *)sk;
	c.kind = kind;
	c.s3_key = &k;
	c.time_ns = 42;
	return meta_apply(m, &c);
}

START_TEST(test_meta_keys)
{
	char errmsg[AIS_ERRMSG_LEN];
	struct meta *m = meta_new(), *d = NULL;
	void *buf;
	size_t len;

	ck_assert_int_eq(key_cmd(m, AIS__META_CMD__KIND__S3_KEY_ADD,
				 "ZZZZZZZZZZZZZZZZ", "secret-0123456789"),
			 0);
	ck_assert_int_eq(key_cmd(m, AIS__META_CMD__KIND__S3_KEY_ADD,
				 "AAAAAAAAAAAAAAAA", "secret/0123456789+"),
			 0);
	ck_assert_int_eq(key_cmd(m, AIS__META_CMD__KIND__S3_KEY_ADD,
				 "AAAAAAAAAAAAAAAA", "other-0123456789"),
			 -EEXIST);
	ck_assert_int_eq(key_cmd(m, AIS__META_CMD__KIND__S3_KEY_ADD, "short",
				 "secret-0123456789"),
			 -EINVAL);
	ck_assert_int_eq(key_cmd(m, AIS__META_CMD__KIND__S3_KEY_ADD,
				 "BBBBBBBBBBBBBBBB", "has blank 0123456789"),
			 -EINVAL);
	ck_assert_int_eq(key_cmd(m, AIS__META_CMD__KIND__S3_KEY_ADD,
				 "BBBB-BBBBBBBBBBBB", "secret-0123456789"),
			 -EINVAL);
	ck_assert_uint_eq(m->ns3keys, 2);
	ck_assert_str_eq(m->s3keys[0]->access_key, "AAAAAAAAAAAAAAAA");
	ck_assert_int_eq(m->s3keys[0]->created_ns, 42);
	ck_assert_int_ge(
	    meta_s3_keys_find(m->s3keys, m->ns3keys, "ZZZZZZZZZZZZZZZZ"), 0);
	ck_assert_int_lt(
	    meta_s3_keys_find(m->s3keys, m->ns3keys, "MMMMMMMMMMMMMMMM"), 0);
	/* Kept in snapshots. */
	ck_assert_int_eq(meta_encode(m, &buf, &len), 0);
	ck_assert_int_eq(meta_decode(buf, len, &d, errmsg), 0);
	raft_free(buf);
	ck_assert_uint_eq(d->ns3keys, 2);
	ck_assert_str_eq(d->s3keys[1]->secret, "secret-0123456789");
	meta_free(d);
	ck_assert_int_eq(key_cmd(m, AIS__META_CMD__KIND__S3_KEY_REMOVE,
				 "ZZZZZZZZZZZZZZZZ", NULL),
			 0);
	ck_assert_int_eq(key_cmd(m, AIS__META_CMD__KIND__S3_KEY_REMOVE,
				 "ZZZZZZZZZZZZZZZZ", NULL),
			 -ENOENT);
	ck_assert_uint_eq(m->ns3keys, 1);
	meta_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sigv4");
	TCase *tc = tcase_create("sigv4");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_aws_get_object);
	tcase_add_test(tc, test_aws_put_object);
	tcase_add_test(tc, test_aws_lifecycle_and_list);
	tcase_add_test(tc, test_aws_presigned);
	tcase_add_test(tc, test_aws_chunked);
	tcase_add_test(tc, test_header_parse);
	tcase_add_test(tc, test_uri);
	tcase_add_test(tc, test_meta_keys);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
