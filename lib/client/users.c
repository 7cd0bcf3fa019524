/* libais client: users and tokens (ais auth). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "client.h"
#include "client_i.h"
#include "util.h"

static int simple(struct ais_client *c, Ais__Request *req, bool idem,
		  char *errmsg)
{
	return ais__call_any_ok(c, req, idem, NULL, errmsg);
}

int ais_client_login(struct ais_client *c, const char *user,
		     const char *password, uint32_t ttl_s, char *token,
		     char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	req.op = AIS__OP__OP_AUTH_LOGIN;
	req.name = (char *)user;
	req.password = (char *)password;
	req.token_ttl_s = ttl_s;
	rc = ais__call_any_ok(c, &req, true, &a, errmsg);
	if (rc)
		return rc;
	if (!a->token || strlen(a->token) >= AIS_TOKEN_TEXT_MAX)
		rc = ais_errf(errmsg, -EPROTO,
			      "the node answered the login without a token");
	else
		snprintf(token, AIS_TOKEN_TEXT_MAX, "%s", a->token);
	if (a->token)
		OPENSSL_cleanse(a->token, strlen(a->token));
	ais__response__free_unpacked(a, NULL);
	return rc;
}

int ais_client_user_add(struct ais_client *c, const char *user,
			const char *password, bool cluster_admin, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = AIS__OP__OP_USER_ADD;
	req.name = (char *)user;
	req.password = (char *)password;
	req.cluster_admin = cluster_admin;
	return simple(c, &req, false, errmsg);
}

int ais_client_user_remove(struct ais_client *c, const char *user, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = AIS__OP__OP_USER_REMOVE;
	req.name = (char *)user;
	return simple(c, &req, false, errmsg);
}

int ais_client_grant(struct ais_client *c, const char *user, const char *bucket,
		     int right, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = AIS__OP__OP_USER_GRANT;
	req.name = (char *)user;
	req.bucket = (char *)(bucket ? bucket : "");
	req.right = (Ais__Right)right;
	return simple(c, &req, true, errmsg);
}

int ais_client_revoke_user(struct ais_client *c, const char *user, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = AIS__OP__OP_TOKEN_REVOKE;
	req.name = (char *)user;
	return simple(c, &req, true, errmsg);
}

int ais_client_revoke_token(struct ais_client *c, const uint8_t *id,
			    int64_t expires_ns, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = AIS__OP__OP_TOKEN_REVOKE;
	req.token_id.data = (uint8_t *)id;
	req.token_id.len = AIS_TOKEN_ID_LEN;
	req.token_expires_ns = expires_ns;
	return simple(c, &req, true, errmsg);
}

void ais_users_free(struct ais_user *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].grants);
	free(v);
}

int ais_client_user_list(struct ais_client *c, struct ais_user **out, size_t *n,
			 char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	*out = NULL;
	*n = 0;
	req.op = AIS__OP__OP_USER_LIST;
	rc = ais__call_any_ok(c, &req, true, &a, errmsg);
	if (rc)
		return rc;
	*out = calloc(a->n_users + 1, sizeof(**out));
	if (!*out) {
		ais__response__free_unpacked(a, NULL);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < a->n_users; i++) {
		const Ais__User *u = a->users[i];
		struct ais_user *o = &(*out)[i];

		snprintf(o->name, sizeof(o->name), "%s",
			 u->name ? u->name : "");
		o->cluster_admin = u->cluster_admin;
		o->created_ns = u->created_ns;
		o->revoked_ns = u->revoked_ns;
		o->grants = calloc(u->n_grants + 1, sizeof(*o->grants));
		if (!o->grants) {
			*n = i;
			ais_users_free(*out, i + 1);
			*out = NULL;
			*n = 0;
			ais__response__free_unpacked(a, NULL);
			return ais_errf(errmsg, -ENOMEM, "out of memory");
		}
		for (size_t g = 0; g < u->n_grants; g++) {
			snprintf(o->grants[g].bucket,
				 sizeof(o->grants[g].bucket), "%s",
				 u->grants[g]->bucket ? u->grants[g]->bucket
						      : "");
			o->grants[g].right = (int)u->grants[g]->right;
		}
		o->ngrants = u->n_grants;
	}
	*n = a->n_users;
	ais__response__free_unpacked(a, NULL);
	return 0;
}
