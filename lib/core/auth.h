/* Users' tokens and the cluster's secret, as every program sees them.
 *
 * A cluster with auth has one secret (a file of at least 32 bytes on every
 * node, mode 0600). From it come two values: the key that signs tokens
 * (HMAC-SHA256) and the key id, 16 hex digits that tell clients which of
 * their tokens belongs to this cluster (ClusterMap.auth_kid) without
 * telling anything of the key.
 *
 * A token is a packed TokenClaims (ais.proto: user, issued, expires, a
 * random id, the key id) followed by its 32-byte HMAC. On the wire
 * (Request.token) it travels raw; in a token file it is one line
 * "ais-token-1.BASE64URL". Nodes mint user tokens at login (OP_AUTH_LOGIN);
 * holders of the secret (nodes themselves, `ais local up`, an operator on a
 * node) mint root tokens. Whether a verified token is still good (expiry,
 * revocation, the user's rights) is for the nodes to say. */
#ifndef AIS_AUTH_H
#define AIS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#define AIS_SECRET_MIN	   32 /* bytes of a secret file */
#define AIS_SECRET_MAX	   4096
#define AIS_KID_LEN	   16  /* hex digits */
#define AIS_TOKEN_MAX	   512 /* raw bytes */
#define AIS_TOKEN_TEXT_MAX 720 /* "ais-token-1." + base64url, NUL */
#define AIS_USER_MAX	   64
#define AIS_TOKEN_ID_LEN   8
#define AIS_SCRYPT_LOG_N   15 /* 32 MiB, about 0.1 s per password */

struct ais_auth_key {
	uint8_t mac[32];
	char kid[AIS_KID_LEN + 1];
};

struct ais_claims {
	char user[AIS_USER_MAX + 2]; /* a user, or "@..." for root */
	int64_t issued_ns, expires_ns;
	uint8_t id[AIS_TOKEN_ID_LEN];
	char kid[AIS_KID_LEN + 1];
	bool root;
	uint64_t epoch; /* the user's (User.epoch) at login */
	bool tls;	/* minted by a node with TLS: never sent in clear */
};

/* The key of secret[0..len) (len >= AIS_SECRET_MIN). */
void ais_auth_key_from(const void *secret, size_t len, struct ais_auth_key *k);

/* Reads the secret file at path and derives its key. The file must be a
 * regular file that neither group nor others may read, of
 * AIS_SECRET_MIN..AIS_SECRET_MAX bytes after trailing blanks. 0, or -errno
 * with errmsg ("auth secret /x: readable by others (chmod 600 /x)"). */
int ais_auth_key_load(const char *path, struct ais_auth_key *k, char *errmsg);

/* Creates a secret file at path (O_EXCL, mode 0600): 64 random hex digits
 * and a newline. 0 or -errno with errmsg (-EEXIST if it is there). */
int ais_auth_secret_create(const char *path, char *errmsg);

/* Signs c (its kid is set from k, and a random id if c->id is all zero)
 * into out[0..cap): the raw token's length, or -ENAMETOOLONG / -EIO. */
ssize_t ais_token_mint(const struct ais_auth_key *k, struct ais_claims *c,
		       uint8_t *out, size_t cap);

/* Checks raw[0..len) against k and fills *c. Expiry and revocation are
 * not looked at. 0, or -EACCES with the reason (malformed, signed with
 * another cluster's key, altered). */
int ais_token_verify(const struct ais_auth_key *k, const uint8_t *raw,
		     size_t len, struct ais_claims *c, char *errmsg);

/* The claims of raw[0..len) as they are, unverified (a client finding the
 * token of a cluster). 0 or -EINVAL. */
int ais_token_peek(const uint8_t *raw, size_t len, struct ais_claims *c);

/* raw <-> the text of a token file ("ais-token-1.BASE64URL"). to_text:
 * 0 or -ENAMETOOLONG (cap too small); from_text: the raw length, or
 * -EINVAL (not a token) / -ENAMETOOLONG. Blanks around text are ignored. */
int ais_token_to_text(const uint8_t *raw, size_t len, char *out, size_t cap);
ssize_t ais_token_from_text(const char *text, uint8_t *out, size_t cap);

/* Reads the token file at path into raw[0..AIS_TOKEN_MAX): its length in
 * *len. 0, or -errno with errmsg naming the file. */
int ais_token_file_read(const char *path, uint8_t *raw, size_t *len,
			char *errmsg);

/* Writes text and a newline to path with mode 0600, by a rename (the
 * parent directory is made, mode 0700, if missing). 0 or -errno. */
int ais_token_file_write(const char *path, const char *text, char *errmsg);

/* $XDG_CONFIG_HOME/ais/REL, else ~/.config/ais/REL, into out. 0, -ENOENT
 * (neither is set) or -ENAMETOOLONG. */
int ais_config_path(const char *rel, char *out, size_t cap);

/* Where `ais auth login` keeps the token of the cluster with key id kid:
 * $XDG_CONFIG_HOME/ais/tokens/KID, else ~/.config/ais/tokens/KID. 0, or
 * -ENOENT (no home). */
int ais_token_default_path(const char *kid, char *out, size_t cap);

/* The directory of `ais local up`: $AIS_LOCAL_DIR, else
 * /tmp/ais-local-UID. */
void ais_local_dir(char *out, size_t cap);

/* Whether name may be a user's: 1..AIS_USER_MAX of [A-Za-z0-9._-], not
 * starting with '.' or '-'. 0 or -EINVAL with errmsg. */
int ais_user_name_check(const char *name, char *errmsg);

/* scrypt(password, salt) with N = 2^log_n, r = 8, p = 1 into out[32].
 * 0 or -EINVAL (log_n out of 10..20) / -ENOMEM. */
int ais_password_hash(const char *password, const uint8_t *salt, size_t saltlen,
		      unsigned log_n, uint8_t out[32]);

/* Where a program's requests get their token: a fixed one (read from a
 * token file), or root tokens it mints itself with the cluster's key
 * (nodes; `ais local up`), each good for a day and made again after an
 * hour. Thread-safe. */
struct ais_token_src {
	pthread_mutex_t mu;
	bool have_key;
	struct ais_auth_key key;
	char name[AIS_USER_MAX + 2];
	uint8_t tok[AIS_TOKEN_MAX];
	size_t len;
	int64_t minted_ns;
};

/* No token (len 0); then one of the setters. */
void ais_token_src_init(struct ais_token_src *s);
void ais_token_src_destroy(struct ais_token_src *s);
void ais_token_src_set_raw(struct ais_token_src *s, const uint8_t *raw,
			   size_t len);
/* name: "@..." (a root identity). */
void ais_token_src_set_key(struct ais_token_src *s,
			   const struct ais_auth_key *k, const char *name);
/* The current token into out[AIS_TOKEN_MAX]: its length, 0 for none. */
size_t ais_token_src_get(struct ais_token_src *s, uint8_t *out);

/* "2026-12-06 07:30:00 UTC" of ns (wall clock) into out. */
void ais_format_time(int64_t ns, char *out, size_t cap);

#endif
