/* Unit: tokens (mint, verify, what breaks them, the text form, token
 * files), the cluster secret's file rules, password hashes, and the users
 * of the cluster metadata (add, grants and the rights they give, revoke,
 * remove with their S3 keys, revoked tokens pruned, snapshots). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <raft.h>

#include "auth.h"
#include "util.h"

#include "cluster/cluster.h"
#include "cluster/meta.h"

static const char secret[] = "0123456789abcdef0123456789abcdef-test";

static ssize_t mint(const struct ais_auth_key *k, const char *user, int64_t exp,
		    uint8_t *out)
{
	struct ais_claims c;

	memset(&c, 0, sizeof(c));
	snprintf(c.user, sizeof(c.user), "%s", user);
	c.issued_ns = 1000;
	c.expires_ns = exp;
	return ais_token_mint(k, &c, out, AIS_TOKEN_MAX);
}

START_TEST(test_token_round_trip)
{
	struct ais_auth_key k, other;
	uint8_t raw[AIS_TOKEN_MAX], back[AIS_TOKEN_MAX];
	char text[AIS_TOKEN_TEXT_MAX], msg[AIS_ERRMSG_LEN];
	struct ais_claims c;
	ssize_t n, m;

	ais_auth_key_from(secret, strlen(secret), &k);
	ck_assert_uint_eq(strlen(k.kid), AIS_KID_LEN);
	n = mint(&k, "alice", 5000, raw);
	ck_assert_int_gt(n, 32);
	ck_assert_int_eq(ais_token_verify(&k, raw, (size_t)n, &c, msg), 0);
	ck_assert_str_eq(c.user, "alice");
	ck_assert_str_eq(c.kid, k.kid);
	ck_assert_int_eq(c.expires_ns, 5000);
	ck_assert(!c.root);

	/* Text form and back. */
	ck_assert_int_eq(ais_token_to_text(raw, (size_t)n, text, sizeof(text)),
			 0);
	ck_assert(!strncmp(text, "ais-token-1.", 12));
	ck_assert(!strpbrk(text + 12, "+/="));
	m = ais_token_from_text(text, back, sizeof(back));
	ck_assert_int_eq(m, n);
	ck_assert(!memcmp(raw, back, (size_t)n));
	ck_assert_int_eq(ais_token_from_text("  \n", back, sizeof(back)),
			 -EINVAL);
	ck_assert_int_eq(
	    ais_token_from_text("ais-token-1.a$b", back, sizeof(back)),
	    -EINVAL);
	ck_assert_int_eq(
	    ais_token_from_text("ais-token-1.", back, sizeof(back)), -EINVAL);

	/* Every flipped bit breaks it. */
	for (ssize_t i = 0; i < n; i++) {
		raw[i] ^= 0x10;
		ck_assert_int_eq(ais_token_verify(&k, raw, (size_t)n, &c, msg),
				 -EACCES);
		raw[i] ^= 0x10;
	}
	/* Cut short. */
	ck_assert_int_eq(ais_token_verify(&k, raw, (size_t)n - 1, &c, msg),
			 -EACCES);
	ck_assert_int_eq(ais_token_verify(&k, raw, 10, &c, msg), -EACCES);
	/* Another secret. */
	ais_auth_key_from("another secret, at least thirty-two bytes", 41,
			  &other);
	ck_assert_str_ne(other.kid, k.kid);
	ck_assert_int_eq(ais_token_verify(&other, raw, (size_t)n, &c, msg),
			 -EACCES);
	ck_assert(strstr(msg, "another cluster") != NULL);
	/* Two tokens of one user differ (their ids). */
	m = mint(&k, "alice", 5000, back);
	ck_assert(m != n || memcmp(raw, back, (size_t)n));
}
END_TEST

static char dir[] = "/tmp/ais-test-auth.XXXXXX";

static void write_file(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	fchmod(fd, mode);
	close(fd);
}

START_TEST(test_secret_file)
{
	char path[256], msg[AIS_ERRMSG_LEN];
	struct ais_auth_key k, k2;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	ck_assert_int_eq(ais_auth_secret_create(path, msg), 0);
	ck_assert_int_eq(ais_auth_secret_create(path, msg), -EEXIST);
	ck_assert_int_eq(ais_auth_key_load(path, &k, msg), 0);
	/* Readable by others: refused, saying how to fix it. */
	chmod(path, 0644);
	ck_assert_int_eq(ais_auth_key_load(path, &k2, msg), -EPERM);
	ck_assert(strstr(msg, "chmod 600") != NULL);
	/* Too short. */
	write_file(path, "short\n", 0600);
	ck_assert_int_eq(ais_auth_key_load(path, &k2, msg), -EINVAL);
	/* A trailing newline does not change the key. */
	write_file(path, secret, 0600);
	ck_assert_int_eq(ais_auth_key_load(path, &k, msg), 0);
	write_file(path, "0123456789abcdef0123456789abcdef-test\n\n", 0600);
	ck_assert_int_eq(ais_auth_key_load(path, &k2, msg), 0);
	ck_assert(!memcmp(&k, &k2, sizeof(k)));
	unlink(path);
	ck_assert_int_eq(ais_auth_key_load(path, &k2, msg), -ENOENT);
}
END_TEST

START_TEST(test_token_file)
{
	char path[256], msg[AIS_ERRMSG_LEN], text[AIS_TOKEN_TEXT_MAX];
	uint8_t raw[AIS_TOKEN_MAX], back[AIS_TOKEN_MAX];
	struct ais_auth_key k;
	struct stat st;
	size_t len;
	ssize_t n;

	ais_auth_key_from(secret, strlen(secret), &k);
	n = mint(&k, "bob", 7, raw);
	ck_assert_int_eq(ais_token_to_text(raw, (size_t)n, text, sizeof(text)),
			 0);
	snprintf(path, sizeof(path), "%s/a/b/token", dir);
	ck_assert_int_eq(ais_token_file_write(path, text, msg), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(ais_token_file_read(path, back, &len, msg), 0);
	ck_assert_uint_eq(len, (size_t)n);
	ck_assert(!memcmp(raw, back, len));
	write_file(path, "not a token\n", 0600);
	ck_assert_int_eq(ais_token_file_read(path, back, &len, msg), -EINVAL);
	ck_assert(strstr(msg, "ais auth login") != NULL);
}
END_TEST

START_TEST(test_password_hash)
{
	uint8_t s1[16] = {1}, s2[16] = {2}, a[32], b[32], c[32];

	ck_assert_int_eq(ais_password_hash("pw-one", s1, 16, 10, a), 0);
	ck_assert_int_eq(ais_password_hash("pw-one", s1, 16, 10, b), 0);
	ck_assert(!memcmp(a, b, 32));
	ck_assert_int_eq(ais_password_hash("pw-one", s2, 16, 10, c), 0);
	ck_assert(memcmp(a, c, 32));
	ck_assert_int_eq(ais_password_hash("pw-two", s1, 16, 10, c), 0);
	ck_assert(memcmp(a, c, 32));
	ck_assert_int_eq(ais_password_hash("pw", s1, 16, 9, c), -EINVAL);
	ck_assert_int_eq(ais_user_name_check("alice.b-c_d", NULL), 0);
	ck_assert_int_eq(ais_user_name_check("", NULL), -EINVAL);
	ck_assert_int_eq(ais_user_name_check(".x", NULL), -EINVAL);
	ck_assert_int_eq(ais_user_name_check("a/b", NULL), -EINVAL);
	ck_assert_int_eq(ais_user_name_check("@root", NULL), -EINVAL);
}
END_TEST

static int user_cmd(struct meta *m, int kind, const char *name,
		    const char *bucket, int right, int64_t t)
{
	static uint8_t salt[16], hash[32];
	Ais__MetaCmd c = AIS__META_CMD__INIT;
	Ais__User u = AIS__USER__INIT;
	Ais__Grant g = AIS__GRANT__INIT;

	u.name = (char *)name;
	u.salt.data = salt;
	u.salt.len = 16;
	u.hash.data = hash;
	u.hash.len = 32;
	u.scrypt_log_n = 15;
	g.bucket = (char *)bucket;
	g.right = (Ais__Right)right;
	c.kind = kind;
	c.user = &u;
	c.grant = bucket ? &g : NULL;
	c.time_ns = t;
	return meta_apply(m, &c);
}

static int right_of(struct meta *m, const char *name, const char *bucket)
{
	long i = meta_user_find(&m->u, name);

	ck_assert_int_ge(i, 0);
	return cluster_user_right(m->u.users[i], bucket);
}

START_TEST(test_meta_users)
{
	char errmsg[AIS_ERRMSG_LEN];
	struct meta *m = meta_new(), *d = NULL;
	Ais__MetaCmd c = AIS__META_CMD__INIT;
	Ais__S3Key k = AIS__S3_KEY__INIT;
	Ais__RevokedToken rt = AIS__REVOKED_TOKEN__INIT;
	uint8_t id1[8] = {1}, id2[8] = {2};
	void *buf;
	size_t len;

	enum {
		ADD = AIS__META_CMD__KIND__USER_ADD,
		RM = AIS__META_CMD__KIND__USER_REMOVE,
		GRANT = AIS__META_CMD__KIND__USER_GRANT,
		REVOKE = AIS__META_CMD__KIND__USER_REVOKE
	};

	ck_assert_int_eq(user_cmd(m, ADD, "zed", NULL, 0, 10), 0);
	ck_assert_int_eq(user_cmd(m, ADD, "alice", NULL, 0, 11), 0);
	ck_assert_int_eq(user_cmd(m, ADD, "alice", NULL, 0, 12), -EEXIST);
	ck_assert_int_eq(user_cmd(m, ADD, "bad/name", NULL, 0, 12), -EINVAL);
	ck_assert_uint_eq(m->u.nusers, 2);
	ck_assert_str_eq(m->u.users[0]->name, "alice");
	ck_assert_int_eq(m->u.users[0]->created_ns, 11);

	/* Grants: per bucket, "*" for all, the larger wins, NONE removes. */
	ck_assert_int_eq(right_of(m, "alice", "b1"), AIS__RIGHT__RIGHT_NONE);
	ck_assert_int_eq(
	    user_cmd(m, GRANT, "alice", "b1", AIS__RIGHT__RIGHT_WRITE, 20), 0);
	ck_assert_int_eq(
	    user_cmd(m, GRANT, "alice", "*", AIS__RIGHT__RIGHT_READ, 21), 0);
	ck_assert_int_eq(
	    user_cmd(m, GRANT, "alice", "a0", AIS__RIGHT__RIGHT_ADMIN, 22), 0);
	ck_assert_int_eq(right_of(m, "alice", "b1"), AIS__RIGHT__RIGHT_WRITE);
	ck_assert_int_eq(right_of(m, "alice", "other"), AIS__RIGHT__RIGHT_READ);
	ck_assert_int_eq(right_of(m, "alice", "a0"), AIS__RIGHT__RIGHT_ADMIN);
	ck_assert_uint_eq(m->u.users[0]->n_grants, 3);
	ck_assert_str_eq(m->u.users[0]->grants[0]->bucket, "*");
	ck_assert_str_eq(m->u.users[0]->grants[1]->bucket, "a0");
	ck_assert_int_eq(
	    user_cmd(m, GRANT, "alice", "b1", AIS__RIGHT__RIGHT_READ, 23), 0);
	ck_assert_int_eq(right_of(m, "alice", "b1"), AIS__RIGHT__RIGHT_READ);
	ck_assert_int_eq(
	    user_cmd(m, GRANT, "alice", "*", AIS__RIGHT__RIGHT_NONE, 24), 0);
	ck_assert_int_eq(right_of(m, "alice", "other"), AIS__RIGHT__RIGHT_NONE);
	ck_assert_uint_eq(m->u.users[0]->n_grants, 2);
	ck_assert_int_eq(user_cmd(m, GRANT, "alice", "bad/bucket",
				  AIS__RIGHT__RIGHT_READ, 25),
			 -EINVAL);
	ck_assert_int_eq(
	    user_cmd(m, GRANT, "nobody", "b1", AIS__RIGHT__RIGHT_READ, 25),
	    -ENOENT);
	/* The cluster: admin or nothing. */
	ck_assert_int_eq(
	    user_cmd(m, GRANT, "zed", "", AIS__RIGHT__RIGHT_READ, 26), -EINVAL);
	ck_assert_int_eq(
	    user_cmd(m, GRANT, "zed", "", AIS__RIGHT__RIGHT_ADMIN, 26), 0);
	ck_assert_int_eq(right_of(m, "zed", "anything"),
			 AIS__RIGHT__RIGHT_ADMIN);

	/* Each revocation gives a new epoch (no clock involved); the time
	 * is only told. */
	{
		uint64_t e0 = m->u.users[0]->epoch, e1;

		ck_assert_uint_gt(e0, 0);
		ck_assert_int_eq(user_cmd(m, REVOKE, "alice", NULL, 0, 30), 0);
		e1 = m->u.users[0]->epoch;
		ck_assert_uint_gt(e1, e0);
		ck_assert_int_eq(m->u.users[0]->revoked_ns, 30);
		ck_assert_int_eq(user_cmd(m, REVOKE, "alice", NULL, 0, 29), 0);
		ck_assert_uint_gt(m->u.users[0]->epoch, e1);
	}
	/* A destroyed bucket takes its grants with it. */
	ck_assert_int_eq(meta_users_bucket_gone(m, "a0"), 0);
	ck_assert_int_eq(right_of(m, "alice", "a0"), AIS__RIGHT__RIGHT_NONE);
	ck_assert_int_eq(right_of(m, "alice", "b1"), AIS__RIGHT__RIGHT_READ);
	ck_assert_int_eq(
	    user_cmd(m, GRANT, "alice", "a0", AIS__RIGHT__RIGHT_ADMIN, 31), 0);

	/* Tokens revoked one by one; expired ones dropped. */
	c.kind = AIS__META_CMD__KIND__TOKEN_REVOKE;
	c.revoked = &rt;
	rt.id.data = id1;
	rt.id.len = 8;
	rt.expires_ns = 100;
	c.time_ns = 40;
	ck_assert_int_eq(meta_apply(m, &c), 0);
	ck_assert(meta_token_revoked(m->u.revoked, m->u.nrevoked, id1));
	ck_assert(!meta_token_revoked(m->u.revoked, m->u.nrevoked, id2));
	rt.id.data = id2;
	rt.expires_ns = 300;
	c.time_ns = 200;
	ck_assert_int_eq(meta_apply(m, &c), 0);
	/* Expired, but kept an hour longer (clocks differ). */
	ck_assert_uint_eq(m->u.nrevoked, 2);
	c.time_ns = 100 + 3600 * 1000000000ll;
	ck_assert_int_eq(meta_apply(m, &c), 0);
	ck_assert_uint_eq(m->u.nrevoked, 1);
	ck_assert(!meta_token_revoked(m->u.revoked, m->u.nrevoked, id1));
	ck_assert(meta_token_revoked(m->u.revoked, m->u.nrevoked, id2));
	rt.id.len = 3;
	ck_assert_int_eq(meta_apply(m, &c), -EINVAL);

	/* S3 keys of users: their user must exist, and goes with it. */
	memset(&c, 0, sizeof(c));
	ais__meta_cmd__init(&c);
	c.kind = AIS__META_CMD__KIND__S3_KEY_ADD;
	c.s3_key = &k;
	k.access_key = (char *)"AAAAAAAAAAAAAAAA";
	k.secret = (char *)"secret-0123456789";
	k.user = (char *)"nobody";
	ck_assert_int_eq(meta_apply(m, &c), -ENOENT);
	k.user = (char *)"alice";
	ck_assert_int_eq(meta_apply(m, &c), 0);
	k.access_key = (char *)"BBBBBBBBBBBBBBBB";
	k.user = (char *)"zed";
	ck_assert_int_eq(meta_apply(m, &c), 0);

	/* Kept in snapshots. */
	ck_assert_int_eq(meta_encode(m, &buf, &len), 0);
	ck_assert_int_eq(meta_decode(buf, len, &d, errmsg), 0);
	raft_free(buf);
	ck_assert_uint_eq(d->u.nusers, 2);
	ck_assert_uint_eq(d->u.nrevoked, 1);
	ck_assert_int_eq(right_of(d, "alice", "a0"), AIS__RIGHT__RIGHT_ADMIN);
	ck_assert(d->u.users[1]->cluster_admin);
	meta_free(d);

	{
		uint64_t old = m->u.users[0]->epoch;

		ck_assert_int_eq(user_cmd(m, RM, "alice", NULL, 0, 50), 0);
		ck_assert_int_eq(user_cmd(m, RM, "alice", NULL, 0, 51),
				 -ENOENT);
		ck_assert_uint_eq(m->u.nusers, 1);
		ck_assert_uint_eq(m->ns3keys, 1);
		ck_assert_str_eq(m->s3keys[0]->user, "zed");
		/* Added again: the tokens of the first alice stay refused. */
		ck_assert_int_eq(user_cmd(m, ADD, "alice", NULL, 0, 52), 0);
		ck_assert_uint_ne(m->u.users[0]->epoch, old);
		ck_assert_uint_eq(m->u.users[0]->n_grants, 0);
	}
	meta_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_token_round_trip);
	tcase_add_test(tc, test_secret_file);
	tcase_add_test(tc, test_token_file);
	tcase_add_test(tc, test_password_hash);
	tcase_add_test(tc, test_meta_users);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (dir[sizeof(dir) - 2] != 'X' && system(cmd))
			return 1;
	}
	return failed ? 1 : 0;
}
