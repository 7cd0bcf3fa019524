/* The users of the cluster metadata (ais auth): their checks and changes,
 * deterministic as the rest of meta.c, and the tokens revoked one by one. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "names.h"
#include "pb.h"
#include "util.h"

#include "cluster/meta.h"

#define REVOKED_GRACE_NS (3600 * 1000000000ll)

long meta_sorted_find(void *const *v, size_t n, size_t off, const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k = *(char *const *)((const char *)v[mid] + off);
		int c = strcmp(k ? k : "", key);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

long meta_user_find(const struct cluster_users *u, const char *name)
{
	return meta_sorted_find((void *const *)u->users, u->nusers,
				offsetof(Ais__User, name), name ? name : "");
}

/* Whether g may be kept: bucket "" (the cluster: admin or none), "*" or a
 * bucket name; a known right. */
static int grant_check(const Ais__Grant *g, char *errmsg)
{
	if (!g || !g->bucket)
		return ais_errf(errmsg, -EINVAL, "no grant given");
	if (g->right < AIS__RIGHT__RIGHT_NONE ||
	    g->right > AIS__RIGHT__RIGHT_ADMIN)
		return ais_errf(errmsg, -EINVAL, "unknown right %d",
				(int)g->right);
	if (!g->bucket[0])
		return g->right == AIS__RIGHT__RIGHT_ADMIN ||
			       g->right == AIS__RIGHT__RIGHT_NONE
			   ? 0
			   : ais_errf(errmsg, -EINVAL,
				      "the cluster right is admin or none");
	if (!strcmp(g->bucket, "*"))
		return 0;
	return ais_name_check_bucket(g->bucket, errmsg) ? -EINVAL : 0;
}

static int user_check(const Ais__User *u, char *errmsg)
{
	if (!u || !u->name)
		return ais_errf(errmsg, -EINVAL, "no user given");
	if (ais_user_name_check(u->name, errmsg))
		return -EINVAL;
	if (u->salt.len != 16 || u->hash.len != 32 || u->scrypt_log_n < 10 ||
	    u->scrypt_log_n > 20)
		return ais_errf(errmsg, -EINVAL,
				"user %s: malformed password hash", u->name);
	if (u->n_grants > META_GRANTS_MAX)
		return ais_errf(errmsg, -ENOSPC, "user %s: at most %d grants",
				u->name, META_GRANTS_MAX);
	for (size_t i = 0; i < u->n_grants; i++)
		if (grant_check(u->grants[i], errmsg) ||
		    !u->grants[i]->bucket[0] ||
		    (i && strcmp(u->grants[i - 1]->bucket,
				 u->grants[i]->bucket) >= 0))
			return ais_errf(errmsg, -EINVAL,
					"user %s: malformed grants", u->name);
	return 0;
}

int meta_users_check(const struct meta *m, const Ais__MetaCmd *cmd,
		     char *errmsg)
{
	const char *name = cmd->user && cmd->user->name ? cmd->user->name : "";
	long at = meta_user_find(&m->u, name);
	size_t n;

	switch (cmd->kind) {
	case AIS__META_CMD__KIND__USER_ADD:
		if (user_check(cmd->user, errmsg))
			return -EINVAL;
		if (at >= 0)
			return ais_errf(errmsg, -EEXIST,
					"user %s exists already", name);
		if (m->u.nusers >= META_USERS_MAX)
			return ais_errf(errmsg, -ENOSPC,
					"%d users already: rm one first",
					META_USERS_MAX);
		return 0;
	case AIS__META_CMD__KIND__USER_GRANT:
		if (grant_check(cmd->grant, errmsg))
			return -EINVAL;
		/* fall through */
	case AIS__META_CMD__KIND__USER_REMOVE:
	case AIS__META_CMD__KIND__USER_REVOKE:
		if (at < 0)
			return ais_errf(errmsg, -ENOENT, "no user %s", name);
		if (cmd->kind == AIS__META_CMD__KIND__USER_GRANT &&
		    cmd->grant->bucket[0] &&
		    m->u.users[at]->n_grants >= META_GRANTS_MAX)
			return ais_errf(errmsg, -ENOSPC,
					"user %s: at most %d grants", name,
					META_GRANTS_MAX);
		return 0;
	case AIS__META_CMD__KIND__TOKEN_REVOKE:
		if (!cmd->revoked || cmd->revoked->id.len != AIS_TOKEN_ID_LEN)
			return ais_errf(errmsg, -EINVAL, "no token id given");
		n = 0;
		for (size_t i = 0; i < m->u.nrevoked; i++)
			n += m->u.revoked[i]->expires_ns + REVOKED_GRACE_NS >
			     cmd->time_ns;
		if (n >= META_REVOKED_MAX)
			return ais_errf(errmsg, -ENOSPC,
					"%d tokens revoked one by one and not "
					"expired yet: revoke users' tokens "
					"(ais auth revoke --user) instead",
					META_REVOKED_MAX);
		return 0;
	default:
		return ais_errf(errmsg, -EINVAL, "not a user command");
	}
}

/* Replaces m->u.users[at] by a copy of u with grants g[0..ng): 1, or
 * -ENOMEM (m unchanged). */
static int user_replace(struct meta *m, long at, const Ais__User *u,
			Ais__Grant **g, size_t ng)
{
	Ais__User tmp = *u;
	Ais__User *c;

	tmp.grants = g;
	tmp.n_grants = ng;
	c = (Ais__User *)ais_pb_dup(&tmp.base);
	if (!c)
		return -ENOMEM;
	ais__user__free_unpacked(m->u.users[at], NULL);
	m->u.users[at] = c;
	return 1;
}

static int user_grant(struct meta *m, long at, const Ais__Grant *gr)
{
	const Ais__User *u = m->u.users[at];
	Ais__Grant **g, *add = (Ais__Grant *)gr;
	size_t ng = 0, i;
	bool placed = false;
	int rc;

	if (!gr->bucket[0]) {
		bool admin = gr->right == AIS__RIGHT__RIGHT_ADMIN;
		Ais__User tmp = *u;
		Ais__User *c;

		if (u->cluster_admin == admin)
			return 0;
		tmp.cluster_admin = admin;
		if (!(c = (Ais__User *)ais_pb_dup(&tmp.base)))
			return -ENOMEM;
		ais__user__free_unpacked(m->u.users[at], NULL);
		m->u.users[at] = c;
		return 1;
	}
	g = calloc(u->n_grants + 1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	for (i = 0; i < u->n_grants; i++) {
		int c = strcmp(u->grants[i]->bucket, gr->bucket);

		if (c > 0 && !placed) {
			if (gr->right != AIS__RIGHT__RIGHT_NONE)
				g[ng++] = add;
			placed = true;
		}
		if (c == 0) {
			placed = true;
			if (gr->right != AIS__RIGHT__RIGHT_NONE)
				g[ng++] = add;
			continue;
		}
		g[ng++] = u->grants[i];
	}
	if (!placed && gr->right != AIS__RIGHT__RIGHT_NONE)
		g[ng++] = add;
	rc = user_replace(m, at, u, g, ng);
	free(g);
	return rc;
}

int meta_users_bucket_gone(struct meta *m, const char *bucket)
{
	Ais__Grant none = AIS__GRANT__INIT;

	none.bucket = (char *)bucket;
	none.right = AIS__RIGHT__RIGHT_NONE;
	for (size_t i = 0; i < m->u.nusers; i++) {
		const Ais__User *u = m->u.users[i];

		if (meta_sorted_find((void *const *)u->grants, u->n_grants,
				     offsetof(Ais__Grant, bucket), bucket) < 0)
			continue;
		if (user_grant(m, (long)i, &none) < 0)
			return -ENOMEM;
	}
	return 0;
}

int meta_users_apply(struct meta *m, const Ais__MetaCmd *cmd)
{
	const char *name = cmd->user && cmd->user->name ? cmd->user->name : "";
	long at = meta_user_find(&m->u, name);

	switch (cmd->kind) {
	case AIS__META_CMD__KIND__USER_ADD: {
		Ais__User *u = (Ais__User *)ais_pb_dup(&cmd->user->base), **v;
		size_t pos = (size_t)(-at - 1);

		v = u ? realloc(m->u.users, (m->u.nusers + 1) * sizeof(*v))
		      : NULL;
		if (!v) {
			if (u)
				ais__user__free_unpacked(u, NULL);
			return -ENOMEM;
		}
		m->u.users = v;
		u->created_ns = cmd->time_ns;
		u->revoked_ns = 0;
		/* Tokens of a user of that name before have another. */
		u->epoch = m->nodes->version + 1;
		memmove(v + pos + 1, v + pos, (m->u.nusers - pos) * sizeof(*v));
		v[pos] = u;
		m->u.nusers++;
		return 1;
	}
	case AIS__META_CMD__KIND__USER_REMOVE: {
		size_t i, k = 0;

		ais__user__free_unpacked(m->u.users[at], NULL);
		memmove(m->u.users + at, m->u.users + at + 1,
			(m->u.nusers - (size_t)at - 1) * sizeof(*m->u.users));
		m->u.nusers--;
		/* Its S3 keys go with it. */
		for (i = 0; i < m->ns3keys; i++) {
			if (m->s3keys[i]->user &&
			    !strcmp(m->s3keys[i]->user, name))
				ais__s3_key__free_unpacked(m->s3keys[i], NULL);
			else
				m->s3keys[k++] = m->s3keys[i];
		}
		m->ns3keys = k;
		return 1;
	}
	case AIS__META_CMD__KIND__USER_GRANT:
		return user_grant(m, at, cmd->grant);
	case AIS__META_CMD__KIND__USER_REVOKE: {
		Ais__User tmp = *m->u.users[at];

		tmp.epoch = m->nodes->version + 1;
		tmp.revoked_ns = cmd->time_ns;
		return user_replace(m, at, &tmp, tmp.grants, tmp.n_grants);
	}
	case AIS__META_CMD__KIND__TOKEN_REVOKE: {
		Ais__RevokedToken *t, **v;
		size_t i, k = 0;

		/* Expired ones are refused anyway: drop them, an hour late
		 * (the proposer's clock may be ahead of a node's). */
		for (i = 0; i < m->u.nrevoked; i++) {
			if (m->u.revoked[i]->expires_ns + REVOKED_GRACE_NS <=
			    cmd->time_ns)
				ais__revoked_token__free_unpacked(
				    m->u.revoked[i], NULL);
			else
				m->u.revoked[k++] = m->u.revoked[i];
		}
		m->u.nrevoked = k;
		if (meta_token_revoked(m->u.revoked, m->u.nrevoked,
				       cmd->revoked->id.data))
			return 1;
		t = (Ais__RevokedToken *)ais_pb_dup(&cmd->revoked->base);
		v = t ? realloc(m->u.revoked, (m->u.nrevoked + 1) * sizeof(*v))
		      : NULL;
		if (!v) {
			if (t)
				ais__revoked_token__free_unpacked(t, NULL);
			return -ENOMEM;
		}
		m->u.revoked = v;
		v[m->u.nrevoked++] = t;
		return 1;
	}
	default:
		return -EINVAL;
	}
}

bool meta_token_revoked(Ais__RevokedToken *const *v, size_t n,
			const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->id.len == AIS_TOKEN_ID_LEN &&
		    !memcmp(v[i]->id.data, id, AIS_TOKEN_ID_LEN))
			return true;
	return false;
}

void meta_users_clear(struct cluster_users *u)
{
	for (size_t i = 0; i < u->nusers; i++)
		ais__user__free_unpacked(u->users[i], NULL);
	free(u->users);
	for (size_t i = 0; i < u->nrevoked; i++)
		ais__revoked_token__free_unpacked(u->revoked[i], NULL);
	free(u->revoked);
	memset(u, 0, sizeof(*u));
}

int meta_users_copy(struct cluster_users *d, const struct cluster_users *s,
		    char *errmsg)
{
	Ais__User *const *users = s->users;

	d->users = calloc(s->nusers + 1, sizeof(*d->users));
	d->revoked = calloc(s->nrevoked + 1, sizeof(*d->revoked));
	if (!d->users || !d->revoked)
		return -ENOMEM;
	for (size_t i = 0; i < s->nusers; i++) {
		/* Sorted when kept; a snapshot out of order would break the
		 * lookups, so it is refused. */
		if (user_check(users[i], errmsg) ||
		    (i && strcmp(users[i - 1]->name, users[i]->name) >= 0))
			return ais_errf(errmsg, -EPROTO,
					"cluster metadata snapshot: users "
					"malformed or out of order");
		d->users[i] = (Ais__User *)ais_pb_dup(&users[i]->base);
		if (!d->users[i])
			return -ENOMEM;
		d->nusers++;
	}
	for (size_t i = 0; i < s->nrevoked; i++) {
		if (s->revoked[i]->id.len != AIS_TOKEN_ID_LEN)
			return ais_errf(errmsg, -EPROTO,
					"cluster metadata snapshot: a revoked "
					"token without its id");
		d->revoked[i] =
		    (Ais__RevokedToken *)ais_pb_dup(&s->revoked[i]->base);
		if (!d->revoked[i])
			return -ENOMEM;
		d->nrevoked++;
	}
	return 0;
}
