/* Tokens and rights on the node: every request of an op that needs a right
 * shows a token (Request.token) that this node verifies with the
 * cluster's key, then the user's right on the bucket is looked up in the
 * metadata snapshot the request runs under; and the ops of ais auth
 * (login, users, grants, revocations). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "log.h"
#include "meta.pb-c.h"

#include "rpc/rpc_i.h"

#define TOKEN_TTL_DEFAULT_S (24 * 3600)
#define TOKEN_TTL_MAX_S	    (366 * 24 * 3600)
#define LOGINS_MAX	    4 /* scrypt runs at once (32 MiB each) */
#define PASSWORD_MIN	    8
#define PASSWORD_MAX	    1024

static const char *right_name(int right)
{
	switch (right) {
	case AIS__RIGHT__RIGHT_READ:
		return "read";
	case AIS__RIGHT__RIGHT_WRITE:
		return "write";
	case AIS__RIGHT__RIGHT_ADMIN:
		return "admin";
	default:
		return "no right";
	}
}

/* One line per refusal, at most one a second (with a count of the others),
 * so that a flood of bad requests cannot flood the log. */
static void log_refusal(const struct rpc *r, const char *why)
{
	static _Atomic int64_t last_s;
	static atomic_uint skipped;
	int64_t now = (int64_t)(ais_now_mono_ns() / 1000000000u);
	int64_t prev = atomic_load(&last_s);

	if (now == prev ||
	    !atomic_compare_exchange_strong(&last_s, &prev, now)) {
		atomic_fetch_add(&skipped, 1);
		return;
	}
	ais_log(LOG_NOTICE, "%s: %s refused: %s (%u more refusals not logged)",
		r->j->peer ? r->j->peer : "?", rpc_op_name(r->req->op), why,
		atomic_exchange(&skipped, 0));
}

/* The caller's claims, checked: signature (cached per connection), expiry,
 * revocation, the user still there. 0 or -EACCES with errmsg. */
static int identify(struct rpc *r, const struct ais_claims **out,
		    const Ais__User **user)
{
	struct rpc_auth_cache *ac = r->j->auth;
	const ProtobufCBinaryData *t = &r->req->token;
	const struct ais_claims *c;
	struct ais_claims tmp;
	char when[64];
	int64_t now;
	int rc;

	*user = NULL;
	if (!t->len)
		return ais_errf(r->errmsg, -EACCES,
				"%s needs a token: this cluster requires one "
				"(ais auth login USER, or --token-file / "
				"AIS_TOKEN_FILE)",
				rpc_op_name(r->req->op));
	if (ac && ac->len == t->len &&
	    !CRYPTO_memcmp(ac->tok, t->data, t->len)) {
		c = &ac->claims;
	} else {
		rc = ais_token_verify(r->d->auth_key, t->data, t->len, &tmp,
				      r->errmsg);
		if (rc)
			return rc;
		if (ac && t->len <= sizeof(ac->tok)) {
			ac->len = t->len;
			memcpy(ac->tok, t->data, t->len);
			ac->claims = tmp;
			ac->not_revoked_at = 0;
			c = &ac->claims;
		} else {
			return ais_errf(r->errmsg, -EACCES,
					"no room for the token");
		}
	}
	now = ais_now_real_ns();
	if (c->expires_ns <= now) {
		ais_format_time(c->expires_ns, when, sizeof(when));
		return ais_errf(r->errmsg, -EACCES,
				"the token of %s expired at %s (ais auth login "
				"%s)",
				c->user, when, c->root ? "USER" : c->user);
	}
	*out = c;
	if (c->root)
		return 0;
	*user = cluster_user_find(r->cm, c->user);
	if (!*user)
		return ais_errf(r->errmsg, -EACCES,
				"the token is of user %s, who no longer exists",
				c->user);
	/* Its user's tokens revoked since (or the user removed and added
	 * again): another epoch. */
	if (c->epoch != (*user)->epoch) {
		ais_format_time((*user)->revoked_ns ? (*user)->revoked_ns
						    : (*user)->created_ns,
				when, sizeof(when));
		return ais_errf(r->errmsg, -EACCES,
				"the token of %s was revoked at %s (ais auth "
				"login %s for a new one)",
				c->user, when, c->user);
	}
	/* The list of revoked tokens is read once per metadata version. */
	if (ac->not_revoked_at == r->cm->m->version)
		return 0;
	if (cluster_token_revoked(r->cm, c->id)) {
		ais_format_time(c->issued_ns, when, sizeof(when));
		return ais_errf(r->errmsg, -EACCES,
				"the token of %s issued at %s was revoked (ais "
				"auth login %s for a new one)",
				c->user, when, c->user);
	}
	ac->not_revoked_at = r->cm->m->version;
	return 0;
}

/* 0 if u has right need (or more) on bucket, else -EACCES saying so. */
static int need_on(const Ais__User *u, const char *bucket, int need,
		   struct rpc *r)
{
	int have = cluster_user_right(u, bucket);

	if (have >= need)
		return 0;
	return ais_errf(r->errmsg, -EACCES,
			"user %s may not %s in bucket %s: it has %s there, %s "
			"is needed (ais auth grant)",
			u->name, rpc_op_name(r->req->op), bucket,
			right_name(have), right_name(need));
}

static int authorize(struct rpc *r, const struct rpc_op *op)
{
	const Ais__Request *q = r->req;
	const Ais__User *u;
	int perm = (int)op->perm, rc;

	rc = identify(r, &r->who, &u);
	if (rc)
		return rc;
	if (r->who->root) {
		r->admin = true;
		return 0;
	}
	r->admin = u->cluster_admin;
	if (q->peer_local || q->migrate || q->replica)
		return ais_errf(r->errmsg, -EACCES,
				"user %s: only nodes send node-to-node "
				"requests",
				u->name);
	/* Reading a bucket's properties needs only read. A mount's watch of
	 * every bucket gets the changes of the buckets its user may read
	 * (rpc_watch), and any mount may end its lease. */
	if (q->op == AIS__OP__OP_BUCKET_PROPS && !q->set_copies)
		perm = RPC_PERM_READ;
	if (q->op == AIS__OP__OP_WATCH && (q->watch_release || !q->bucket[0]))
		perm = RPC_PERM_AUTH;
	switch (perm) {
	case RPC_PERM_AUTH:
		return 0;
	case RPC_PERM_NODE:
		return ais_errf(r->errmsg, -EACCES,
				"user %s may not %s: only nodes do", u->name,
				rpc_op_name(q->op));
	case RPC_PERM_CLUSTER:
		if (r->admin)
			return 0;
		return ais_errf(r->errmsg, -EACCES,
				"user %s may not %s: that needs a cluster "
				"admin (ais auth grant %s cluster)",
				u->name, rpc_op_name(q->op), u->name);
	default:
		break;
	}
	if (q->op == AIS__OP__OP_ETL_BUCKET) {
		const Ais__EtlJob *job = q->etl_job;

		if (!job || !job->src_bucket || !job->dst_bucket)
			return ais_errf(r->errmsg, -EINVAL, "no job given");
		rc = need_on(u, job->src_bucket, AIS__RIGHT__RIGHT_READ, r);
		if (!rc)
			rc = need_on(u, job->dst_bucket,
				     AIS__RIGHT__RIGHT_ADMIN, r);
		return rc;
	}
	if (!q->bucket[0]) {
		/* What spans every bucket is a cluster admin's. */
		if (r->admin)
			return 0;
		return ais_errf(r->errmsg, -EACCES,
				"user %s may not %s of every bucket: that "
				"needs a cluster admin",
				u->name, rpc_op_name(q->op));
	}
	return need_on(u, q->bucket,
		       perm == RPC_PERM_READ	? AIS__RIGHT__RIGHT_READ
		       : perm == RPC_PERM_WRITE ? AIS__RIGHT__RIGHT_WRITE
						: AIS__RIGHT__RIGHT_ADMIN,
		       r);
}

int rpc_authorize(struct rpc *r, const struct rpc_op *op, bool quiet)
{
	int rc;

	r->who = NULL;
	r->admin = !r->d->auth_key;
	/* With TLS, what only nodes do needs a node's certificate on the
	 * connection, token or not: a node of this cluster's CA. */
	if (r->j->tls && !r->j->peer_node &&
	    (op->perm == RPC_PERM_NODE || r->req->peer_local ||
	     r->req->migrate || r->req->replica)) {
		rc = ais_errf(r->errmsg, -EACCES,
			      "%s is for nodes only: the connection has no "
			      "node certificate of this cluster's CA",
			      rpc_op_name(r->req->op));
		if (!quiet)
			log_refusal(r, r->errmsg);
		return rc;
	}
	if (!r->d->auth_key || op->perm == RPC_PERM_NONE)
		return 0;
	rc = authorize(r, op);
	if (rc) {
		r->who = NULL;
		r->admin = false;
		if (!quiet)
			log_refusal(r, r->errmsg);
	}
	return rc;
}

/* ---- the ops of ais auth --------------------------------------------- */

static int need_auth(struct rpc *r)
{
	if (r->d->auth_key)
		return 0;
	return ais_errf(r->errmsg, -EOPNOTSUPP,
			"this cluster has no auth (its nodes run without "
			"auth_secret_file): there are no users or tokens");
}

int rpc_auth_login(struct rpc *r)
{
	static const uint8_t dummy_salt[16];
	const char *name = r->req->name, *pw = r->req->password;
	uint64_t ttl = r->req->token_ttl_s;
	uint8_t hash[32], raw[AIS_TOKEN_MAX];
	const Ais__User *u;
	struct ais_claims c;
	bool ok;
	ssize_t n;
	int rc;

	if ((rc = need_auth(r)))
		return rc;
	if (ttl > TOKEN_TTL_MAX_S)
		return ais_errf(r->errmsg, -EINVAL,
				"a token lives at most 366 days");
	if (!ttl)
		ttl = TOKEN_TTL_DEFAULT_S;
	if (strlen(pw) > PASSWORD_MAX)
		return ais_errf(r->errmsg, -EINVAL, "password too long");
	if (atomic_fetch_add(&r->d->logins, 1) >= LOGINS_MAX) {
		atomic_fetch_sub(&r->d->logins, 1);
		return ais_errf(r->errmsg, -EBUSY,
				"too many logins at once on this node; try "
				"again");
	}
	u = cluster_user_find(r->cm, name);
	/* The same work for a user who does not exist: no timing tells. */
	rc = ais_password_hash(pw, u ? u->salt.data : dummy_salt, 16,
			       u ? u->scrypt_log_n : AIS_SCRYPT_LOG_N, hash);
	atomic_fetch_sub(&r->d->logins, 1);
	if (rc)
		return ais_errf(r->errmsg, rc, "cannot hash the password");
	ok = u && !CRYPTO_memcmp(hash, u->hash.data, sizeof(hash));
	OPENSSL_cleanse(hash, sizeof(hash));
	if (!ok) {
		ais_log(LOG_NOTICE, "%s: login as %s refused: %s",
			r->j->peer ? r->j->peer : "?",
			ais_user_name_check(name, NULL) ? "(a malformed name)"
							: name,
			u ? "wrong password" : "no such user");
		return ais_errf(r->errmsg, -EACCES,
				"login refused: no user %.64s with that "
				"password",
				name);
	}
	memset(&c, 0, sizeof(c));
	snprintf(c.user, sizeof(c.user), "%s", u->name);
	c.issued_ns = ais_now_real_ns();
	c.expires_ns = c.issued_ns + (int64_t)ttl * 1000000000;
	c.epoch = u->epoch;
	c.tls = r->d->tls_server != NULL;
	n = ais_token_mint(r->d->auth_key, &c, raw, sizeof(raw));
	rc = n < 0 || ais_token_to_text(raw, (size_t)n, r->token_text,
					sizeof(r->token_text));
	OPENSSL_cleanse(raw, sizeof(raw));
	if (rc)
		return ais_errf(r->errmsg, -EIO, "cannot make a token");
	r->resp.token = r->token_text;
	ais_log(LOG_INFO, "%s: %s logged in (token for %llu s)",
		r->j->peer ? r->j->peer : "?", u->name,
		(unsigned long long)ttl);
	return 0;
}

int rpc_user_add(struct rpc *r)
{
	const char *pw = r->req->password;
	Ais__User u = AIS__USER__INIT;
	uint8_t salt[16], hash[32];
	int rc;

	if ((rc = need_auth(r)))
		return rc;
	if (ais_user_name_check(r->req->name, r->errmsg))
		return -EINVAL;
	if (strlen(pw) < PASSWORD_MIN || strlen(pw) > PASSWORD_MAX)
		return ais_errf(r->errmsg, -EINVAL,
				"a password has %d to %d characters",
				PASSWORD_MIN, PASSWORD_MAX);
	if (cluster_user_find(r->cm, r->req->name))
		return ais_errf(r->errmsg, -EEXIST, "user %s exists already",
				r->req->name);
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		return ais_errf(r->errmsg, -EIO, "no random bytes");
	rc = ais_password_hash(pw, salt, sizeof(salt), AIS_SCRYPT_LOG_N, hash);
	if (rc)
		return ais_errf(r->errmsg, rc, "cannot hash the password");
	u.name = r->req->name;
	u.salt.data = salt;
	u.salt.len = sizeof(salt);
	u.hash.data = hash;
	u.hash.len = sizeof(hash);
	u.scrypt_log_n = AIS_SCRYPT_LOG_N;
	u.cluster_admin = r->req->cluster_admin;
	rc = cluster_users_change(r->d->cluster, AIS__META_CMD__KIND__USER_ADD,
				  &u, NULL, NULL, r->errmsg);
	OPENSSL_cleanse(hash, sizeof(hash));
	rpc_answer_new_version(r);
	if (!rc)
		ais_log(LOG_NOTICE, "auth: user %s added%s (by %s)", u.name,
			u.cluster_admin ? " as a cluster admin" : "",
			r->who ? r->who->user : "?");
	return rc;
}

int rpc_user_remove(struct rpc *r)
{
	Ais__User u = AIS__USER__INIT;
	int rc;

	if ((rc = need_auth(r)))
		return rc;
	u.name = r->req->name;
	rc = cluster_users_change(r->d->cluster,
				  AIS__META_CMD__KIND__USER_REMOVE, &u, NULL,
				  NULL, r->errmsg);
	rpc_answer_new_version(r);
	if (!rc)
		ais_log(LOG_NOTICE, "auth: user %s removed (by %s)", u.name,
			r->who ? r->who->user : "?");
	return rc;
}

int rpc_user_grant(struct rpc *r)
{
	Ais__User u = AIS__USER__INIT;
	Ais__Grant g = AIS__GRANT__INIT;
	int rc;

	if ((rc = need_auth(r)))
		return rc;
	u.name = r->req->name;
	g.bucket = r->req->bucket;
	g.right = r->req->right;
	rc =
	    cluster_users_change(r->d->cluster, AIS__META_CMD__KIND__USER_GRANT,
				 &u, &g, NULL, r->errmsg);
	rpc_answer_new_version(r);
	if (!rc)
		ais_log(LOG_NOTICE, "auth: user %s has %s on %s%s (by %s)",
			u.name, right_name((int)g.right),
			g.bucket[0] ? "bucket " : "the cluster", g.bucket,
			r->who ? r->who->user : "?");
	return rc;
}

int rpc_user_list(struct rpc *r)
{
	const struct cluster_users *all = &r->cm->users;
	size_t n = 0;
	int rc;

	if ((rc = need_auth(r)))
		return rc;
	r->users =
	    calloc(all->nusers + 1, sizeof(*r->users) + sizeof(*r->userv));
	if (!r->users)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	r->userv = (Ais__User **)(r->users + all->nusers + 1);
	for (size_t i = 0; i < all->nusers; i++) {
		if (!r->admin &&
		    (!r->who || strcmp(r->who->user, all->users[i]->name)))
			continue;
		r->users[n] = *all->users[i];
		/* Salt and hash never leave the nodes. */
		r->users[n].salt.len = 0;
		r->users[n].hash.len = 0;
		r->userv[n] = &r->users[n];
		n++;
	}
	r->resp.n_users = n;
	r->resp.users = r->userv;
	return 0;
}

int rpc_token_revoke(struct rpc *r)
{
	const Ais__Request *q = r->req;
	Ais__User u = AIS__USER__INIT;
	Ais__RevokedToken t = AIS__REVOKED_TOKEN__INIT;
	int rc;

	if ((rc = need_auth(r)))
		return rc;
	if (q->token_id.len && q->token_id.len != AIS_TOKEN_ID_LEN)
		return ais_errf(r->errmsg, -EINVAL, "a token id has %d bytes",
				AIS_TOKEN_ID_LEN);
	if (q->token_id.len) {
		bool own =
		    r->who && q->token_id.len == AIS_TOKEN_ID_LEN &&
		    !memcmp(r->who->id, q->token_id.data, AIS_TOKEN_ID_LEN);

		if (!r->admin && !own)
			return ais_errf(
			    r->errmsg, -EACCES,
			    "only a cluster admin revokes another's "
			    "token");
		t.id = q->token_id;
		t.expires_ns =
		    q->token_expires_ns
			? q->token_expires_ns
			: ais_now_real_ns() + TOKEN_TTL_MAX_S * 1000000000ll;
		if (!r->admin) {
			/* A user's own: all of its tokens (a new epoch), so
			 * that users cannot fill the list of revoked ones. */
			u.name = (char *)r->who->user;
			rc = cluster_users_change(
			    r->d->cluster, AIS__META_CMD__KIND__USER_REVOKE, &u,
			    NULL, NULL, r->errmsg);
		} else {
			rc = cluster_users_change(
			    r->d->cluster, AIS__META_CMD__KIND__TOKEN_REVOKE,
			    NULL, NULL, &t, r->errmsg);
		}
	} else {
		if (!r->admin && (!r->who || strcmp(r->who->user, q->name)))
			return ais_errf(r->errmsg, -EACCES,
					"only a cluster admin revokes another "
					"user's tokens");
		u.name = q->name;
		rc = cluster_users_change(r->d->cluster,
					  AIS__META_CMD__KIND__USER_REVOKE, &u,
					  NULL, NULL, r->errmsg);
	}
	rpc_answer_new_version(r);
	if (!rc)
		ais_log(LOG_NOTICE, "auth: %s revoked (by %s)",
			q->token_id.len ? "a token" : q->name,
			r->who ? r->who->user : "?");
	return rc;
}
