/* libais client: the cluster's S3 access keys (ais s3 keys). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_i.h"
#include "util.h"

static void key_from_pb(const Ais__S3Key *k, struct ais_s3_key *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->access_key, sizeof(out->access_key), "%s",
		 k->access_key ? k->access_key : "");
	snprintf(out->secret, sizeof(out->secret), "%s",
		 k->secret ? k->secret : "");
	snprintf(out->comment, sizeof(out->comment), "%s",
		 k->comment ? k->comment : "");
	out->created_ns = k->created_ns;
	snprintf(out->user, sizeof(out->user), "%s", k->user ? k->user : "");
}

/* An S3 key op (not resent: an add would make a second key): 0 with *a,
 * or -errno with errmsg. */
static int key_call(struct ais_client *c, int op, Ais__S3Key *k, bool idem,
		    Ais__Response **a, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = op;
	req.s3_key = k;
	return ais__call_any_ok(c, &req, idem, a, errmsg);
}

int ais_client_s3_key_add(struct ais_client *c, const struct ais_s3_key *in,
			  struct ais_s3_key *out, char *errmsg)
{
	Ais__S3Key k = AIS__S3_KEY__INIT;
	Ais__Response *a;
	int rc;

	k.access_key = (char *)in->access_key;
	k.secret = (char *)in->secret;
	k.comment = (char *)in->comment;
	k.user = (char *)in->user;
	rc = key_call(c, AIS__OP__OP_S3_KEY_ADD, &k, false, &a, errmsg);
	if (rc)
		return rc;
	if (a->n_s3_keys != 1) {
		ais__response__free_unpacked(a, NULL);
		return ais_errf(errmsg, -EPROTO,
				"the node did not answer with the new key");
	}
	key_from_pb(a->s3_keys[0], out);
	ais__response__free_unpacked(a, NULL);
	return 0;
}

int ais_client_s3_key_remove(struct ais_client *c, const char *access_key,
			     char *errmsg)
{
	Ais__S3Key k = AIS__S3_KEY__INIT;
	Ais__Response *a;
	int rc;

	k.access_key = (char *)access_key;
	rc = key_call(c, AIS__OP__OP_S3_KEY_REMOVE, &k, false, &a, errmsg);
	if (rc)
		return rc;
	ais__response__free_unpacked(a, NULL);
	return 0;
}

int ais_client_s3_key_list(struct ais_client *c, struct ais_s3_key **out,
			   size_t *n, char *errmsg)
{
	Ais__Response *a;
	int rc;

	*out = NULL;
	*n = 0;
	rc = key_call(c, AIS__OP__OP_S3_KEY_LIST, NULL, true, &a, errmsg);
	if (rc)
		return rc;
	if (a->n_s3_keys) {
		*out = calloc(a->n_s3_keys, sizeof(**out));
		if (!*out) {
			ais__response__free_unpacked(a, NULL);
			return ais_errf(errmsg, -ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < a->n_s3_keys; i++)
		key_from_pb(a->s3_keys[i], &(*out)[i]);
	*n = a->n_s3_keys;
	ais__response__free_unpacked(a, NULL);
	return 0;
}
