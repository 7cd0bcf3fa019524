/* Tokens and the cluster's secret (auth.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ais.pb-c.h"
#include "auth.h"
#include "fileio.h"
#include "util.h"

#define TOKEN_PREFIX "ais-token-1."
#define MAC_LEN	     32

static void hmac(const void *key, size_t klen, const void *msg, size_t mlen,
		 uint8_t out[MAC_LEN])
{
	unsigned olen = MAC_LEN;

	HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen);
}

void ais_auth_key_from(const void *secret, size_t len, struct ais_auth_key *k)
{
	static const char hexd[] = "0123456789abcdef";
	static const char mac_label[] = "ais token key 1";
	static const char kid_label[] = "ais key id 1";
	uint8_t id[MAC_LEN];

	hmac(secret, len, mac_label, sizeof(mac_label) - 1, k->mac);
	hmac(secret, len, kid_label, sizeof(kid_label) - 1, id);
	for (int i = 0; i < AIS_KID_LEN / 2; i++) {
		k->kid[2 * i] = hexd[id[i] >> 4];
		k->kid[2 * i + 1] = hexd[id[i] & 15];
	}
	k->kid[AIS_KID_LEN] = 0;
	OPENSSL_cleanse(id, sizeof(id));
}

int ais_auth_key_load(const char *path, struct ais_auth_key *k, char *errmsg)
{
	uint8_t buf[AIS_SECRET_MAX + 2];
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ais_errf(errmsg, -errno, "auth secret %s: %s", path,
				strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = ais_errf(errmsg, -EINVAL, "auth secret %s: not a file",
			      path);
		goto out;
	}
	if (geteuid() != 0 && st.st_uid != geteuid()) {
		rc = ais_errf(errmsg, -EPERM,
			      "auth secret %s: owned by another user", path);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = ais_errf(errmsg, -EPERM,
			      "auth secret %s: group or others may read it "
			      "(chmod 600 %s)",
			      path, path);
		goto out;
	}
	n = ais_read_upto(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = ais_errf(errmsg, (int)n, "auth secret %s: %s", path,
			      strerror((int)-n));
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
			 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n < AIS_SECRET_MIN || n > AIS_SECRET_MAX) {
		rc = ais_errf(errmsg, -EINVAL,
			      "auth secret %s: %zd bytes; it must have %d to "
			      "%d (make one with: head -c 32 /dev/urandom | "
			      "od -An -tx1 | tr -d ' \\n' > FILE)",
			      path, n, AIS_SECRET_MIN, AIS_SECRET_MAX);
		goto out;
	}
	ais_auth_key_from(buf, (size_t)n, k);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

int ais_auth_secret_create(const char *path, char *errmsg)
{
	static const char hexd[] = "0123456789abcdef";
	uint8_t rnd[32];
	char text[66];
	int fd, rc = 0;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return ais_errf(errmsg, -EIO, "no random bytes");
	for (size_t i = 0; i < sizeof(rnd); i++) {
		text[2 * i] = hexd[rnd[i] >> 4];
		text[2 * i + 1] = hexd[rnd[i] & 15];
	}
	text[64] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ais_errf(errmsg, -errno, "%s: %s", path,
				strerror(errno));
	if (ais_write_all(fd, text, 65) < 0 || fsync(fd) < 0)
		rc = ais_errf(errmsg, -EIO, "%s: cannot write", path);
	close(fd);
	if (rc)
		unlink(path);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

ssize_t ais_token_mint(const struct ais_auth_key *k, struct ais_claims *c,
		       uint8_t *out, size_t cap)
{
	static const uint8_t zero[AIS_TOKEN_ID_LEN];
	Ais__TokenClaims tc = AIS__TOKEN_CLAIMS__INIT;
	size_t n;

	memcpy(c->kid, k->kid, sizeof(c->kid));
	if (!memcmp(c->id, zero, sizeof(zero)) &&
	    getrandom(c->id, sizeof(c->id), 0) != (ssize_t)sizeof(c->id))
		return -EIO;
	tc.user = c->user;
	tc.issued_ns = c->issued_ns;
	tc.expires_ns = c->expires_ns;
	tc.id.data = c->id;
	tc.id.len = sizeof(c->id);
	tc.kid = c->kid;
	tc.root = c->root;
	tc.epoch = c->epoch;
	tc.tls = c->tls;
	n = ais__token_claims__get_packed_size(&tc);
	if (n + MAC_LEN > cap || n + MAC_LEN > AIS_TOKEN_MAX)
		return -ENAMETOOLONG;
	ais__token_claims__pack(&tc, out);
	hmac(k->mac, sizeof(k->mac), out, n, out + n);
	return (ssize_t)(n + MAC_LEN);
}

int ais_token_peek(const uint8_t *raw, size_t len, struct ais_claims *c)
{
	Ais__TokenClaims *tc;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (len <= MAC_LEN || len > AIS_TOKEN_MAX)
		return -EINVAL;
	tc = ais__token_claims__unpack(NULL, len - MAC_LEN, raw);
	if (!tc)
		return -EINVAL;
	if (!tc->user || !tc->user[0] || strlen(tc->user) > AIS_USER_MAX + 1 ||
	    !tc->kid || strlen(tc->kid) != AIS_KID_LEN ||
	    strspn(tc->kid, "0123456789abcdef") != AIS_KID_LEN ||
	    tc->id.len != AIS_TOKEN_ID_LEN) {
		rc = -EINVAL;
		goto out;
	}
	/* A user's name as users have them, or "@" and such a name. */
	if (ais_user_name_check(tc->user + (tc->user[0] == '@'), NULL)) {
		rc = -EINVAL;
		goto out;
	}
	snprintf(c->user, sizeof(c->user), "%s", tc->user);
	memcpy(c->kid, tc->kid, AIS_KID_LEN + 1);
	memcpy(c->id, tc->id.data, AIS_TOKEN_ID_LEN);
	c->issued_ns = tc->issued_ns;
	c->expires_ns = tc->expires_ns;
	c->root = tc->root;
	c->epoch = tc->epoch;
	c->tls = tc->tls;
out:
	ais__token_claims__free_unpacked(tc, NULL);
	return rc;
}

int ais_token_verify(const struct ais_auth_key *k, const uint8_t *raw,
		     size_t len, struct ais_claims *c, char *errmsg)
{
	uint8_t mac[MAC_LEN];

	if (ais_token_peek(raw, len, c))
		return ais_errf(errmsg, -EACCES, "the token is malformed");
	if (strcmp(c->kid, k->kid))
		return ais_errf(errmsg, -EACCES,
				"the token is for another cluster (key id %s; "
				"this cluster's is %s)",
				c->kid, k->kid);
	hmac(k->mac, sizeof(k->mac), raw, len - MAC_LEN, mac);
	if (CRYPTO_memcmp(mac, raw + len - MAC_LEN, MAC_LEN))
		return ais_errf(errmsg, -EACCES,
				"the token's signature does not hold (altered, "
				"or signed with an earlier secret)");
	return 0;
}

int ais_token_to_text(const uint8_t *raw, size_t len, char *out, size_t cap)
{
	size_t pre = sizeof(TOKEN_PREFIX) - 1, n;
	char *p;

	if (len > AIS_TOKEN_MAX || cap < pre + 4 * ((len + 2) / 3) + 1)
		return -ENAMETOOLONG;
	memcpy(out, TOKEN_PREFIX, pre);
	p = out + pre;
	n = (size_t)EVP_EncodeBlock((unsigned char *)p, raw, (int)len);
	while (n && p[n - 1] == '=')
		n--;
	p[n] = 0;
	for (size_t i = 0; i < n; i++)
		p[i] = p[i] == '+' ? '-' : p[i] == '/' ? '_' : p[i];
	return 0;
}

ssize_t ais_token_from_text(const char *text, uint8_t *out, size_t cap)
{
	size_t pre = sizeof(TOKEN_PREFIX) - 1, n, pad;
	char b64[AIS_TOKEN_TEXT_MAX + 4];
	uint8_t tmp[AIS_TOKEN_TEXT_MAX];
	int m;

	while (*text == ' ' || *text == '\t' || *text == '\n')
		text++;
	if (strncmp(text, TOKEN_PREFIX, pre))
		return -EINVAL;
	text += pre;
	for (n = 0; text[n] && text[n] != '\n' && text[n] != '\r' &&
		    text[n] != ' ' && text[n] != '\t';
	     n++) {
		char ch = text[n];

		if (n >= AIS_TOKEN_TEXT_MAX)
			return -ENAMETOOLONG;
		if (ch == '-')
			ch = '+';
		else if (ch == '_')
			ch = '/';
		else if (!((ch >= 'A' && ch <= 'Z') ||
			   (ch >= 'a' && ch <= 'z') ||
			   (ch >= '0' && ch <= '9')))
			return -EINVAL;
		b64[n] = ch;
	}
	if (n % 4 == 1 || n == 0)
		return -EINVAL;
	pad = (4 - n % 4) % 4;
	memset(b64 + n, '=', pad);
	m = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)(n + pad));
	if (m < 0 || (size_t)m < pad)
		return -EINVAL;
	m -= (int)pad;
	if ((size_t)m > cap)
		return -ENAMETOOLONG;
	memcpy(out, tmp, (size_t)m);
	return m;
}

int ais_token_file_read(const char *path, uint8_t *raw, size_t *len,
			char *errmsg)
{
	char text[AIS_TOKEN_TEXT_MAX + 64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ais_errf(errmsg, -errno, "token file %s: %s", path,
				strerror(errno));
	n = ais_read_upto(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return ais_errf(errmsg, (int)n, "token file %s: %s", path,
				strerror((int)-n));
	text[n] = 0;
	n = ais_token_from_text(text, raw, AIS_TOKEN_MAX);
	if (n < 0)
		return ais_errf(errmsg, -EINVAL,
				"token file %s: not a token (it should hold "
				"one line \"%s...\", as `ais auth login` "
				"writes)",
				path, TOKEN_PREFIX);
	*len = (size_t)n;
	return 0;
}

/* mkdir -p of path's parent, mode 0700 for what it makes. */
static int make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *p;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = 0;
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int ais_token_file_write(const char *path, const char *text, char *errmsg)
{
	char tmp[PATH_MAX];
	size_t n = strlen(text);
	int fd, rc;

	rc = make_parent(path);
	if (rc)
		return ais_errf(errmsg, rc, "%s: cannot make its directory: %s",
				path, strerror(-rc));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return ais_errf(errmsg, -ENAMETOOLONG, "%s: name too long",
				path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return ais_errf(errmsg, -errno, "%s: %s", tmp, strerror(errno));
	if (fchmod(fd, 0600) < 0 || ais_write_all(fd, text, n) < 0 ||
	    ais_write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
		rc = ais_errf(errmsg, -EIO, "%s: cannot write", tmp);
		close(fd);
		unlink(tmp);
		return rc;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rc = ais_errf(errmsg, -errno, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

int ais_config_path(const char *rel, char *out, size_t cap)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(out, cap, "%s/ais/%s", xdg, rel);
	else if (home && home[0] == '/')
		n = snprintf(out, cap, "%s/.config/ais/%s", home, rel);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int ais_token_default_path(const char *kid, char *out, size_t cap)
{
	char rel[AIS_KID_LEN + 16];

	snprintf(rel, sizeof(rel), "tokens/%s", kid);
	return ais_config_path(rel, out, cap);
}

void ais_local_dir(char *out, size_t cap)
{
	const char *env = getenv("AIS_LOCAL_DIR");

	if (env && env[0])
		snprintf(out, cap, "%s", env);
	else
		snprintf(out, cap, "/tmp/ais-local-%u", (unsigned)getuid());
}

int ais_user_name_check(const char *name, char *errmsg)
{
	size_t n = strlen(name);

	if (n == 0 || n > AIS_USER_MAX)
		return ais_errf(errmsg, -EINVAL,
				"a user name has 1 to %d characters",
				AIS_USER_MAX);
	if (name[0] == '.' || name[0] == '-')
		return ais_errf(errmsg, -EINVAL,
				"user name \"%s\" starts with '%c'", name,
				name[0]);
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return ais_errf(errmsg, -EINVAL,
					"user name \"%.64s\": only letters, "
					"digits, '.', '_' and '-'",
					name);
	}
	return 0;
}

int ais_password_hash(const char *password, const uint8_t *salt, size_t saltlen,
		      unsigned log_n, uint8_t out[32])
{
	uint64_t n;

	if (log_n < 10 || log_n > 20)
		return -EINVAL;
	n = 1ull << log_n;
	/* 128 * r * N bytes, and a little more than that for OpenSSL. */
	if (!EVP_PBE_scrypt(password, strlen(password), salt, saltlen, n, 8, 1,
			    128ull * 8 * n + (1u << 20), out, 32))
		return -ENOMEM;
	return 0;
}

void ais_format_time(int64_t ns, char *out, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, cap, "%lld ns", (long long)ns);
}

#define ROOT_TOKEN_TTL_NS   (24 * 3600 * 1000000000ll)
#define ROOT_TOKEN_RENEW_NS (3600 * 1000000000ll)

void ais_token_src_init(struct ais_token_src *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
}

void ais_token_src_destroy(struct ais_token_src *s)
{
	pthread_mutex_destroy(&s->mu);
	OPENSSL_cleanse(&s->key, sizeof(s->key));
}

void ais_token_src_set_raw(struct ais_token_src *s, const uint8_t *raw,
			   size_t len)
{
	pthread_mutex_lock(&s->mu);
	s->have_key = false;
	s->len = len <= sizeof(s->tok) ? len : 0;
	memcpy(s->tok, raw, s->len);
	pthread_mutex_unlock(&s->mu);
}

void ais_token_src_set_key(struct ais_token_src *s,
			   const struct ais_auth_key *k, const char *name)
{
	pthread_mutex_lock(&s->mu);
	s->have_key = true;
	s->key = *k;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->len = 0;
	pthread_mutex_unlock(&s->mu);
}

size_t ais_token_src_get(struct ais_token_src *s, uint8_t *out)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	if (s->have_key) {
		int64_t now = ais_now_real_ns();

		if (!s->len || now - s->minted_ns > ROOT_TOKEN_RENEW_NS ||
		    now < s->minted_ns) {
			struct ais_claims c;
			ssize_t m;

			memset(&c, 0, sizeof(c));
			snprintf(c.user, sizeof(c.user), "%s", s->name);
			c.issued_ns = now;
			c.expires_ns = now + ROOT_TOKEN_TTL_NS;
			c.root = true;
			m = ais_token_mint(&s->key, &c, s->tok, sizeof(s->tok));
			s->len = m > 0 ? (size_t)m : 0;
			s->minted_ns = now;
		}
	}
	n = s->len;
	memcpy(out, s->tok, n);
	pthread_mutex_unlock(&s->mu);
	return n;
}
