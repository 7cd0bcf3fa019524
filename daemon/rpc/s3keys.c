/* S3 access keys (ais s3 keys): S3_KEY_ADD and S3_KEY_REMOVE change the
 * cluster's keys through Raft, from any node; S3_KEY_LIST shows them
 * without their secrets. The S3 front end (s3/) reads them from the
 * snapshot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"

#include "cluster/meta.h"
#include "rpc/rpc_i.h"

/* S3 keys a user who is no cluster admin may have. */
#define S3_KEYS_PER_USER 16

/* n random characters of set into out (n + 1 bytes). */
static int random_word(char *out, size_t n, const char *set)
{
	size_t m = strlen(set);
	uint8_t rnd[128];

	if (n > sizeof(rnd) || getrandom(rnd, n, 0) != (ssize_t)n)
		return -EIO;
	for (size_t i = 0; i < n; i++)
		out[i] = set[rnd[i] % m]; /* 256 % m bias is immaterial */
	out[n] = 0;
	return 0;
}

int rpc_s3_key_add(struct rpc *r)
{
	static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789+/";
	const Ais__S3Key *in = r->req->s3_key;
	Ais__S3Key k = AIS__S3_KEY__INIT;
	char ak[24], sk[48];
	int rc;

	if (in)
		k = *in;
	if (!k.access_key || !k.access_key[0]) {
		/* As AWS makes them: 20 upper-case characters. */
		memcpy(ak, "AIS", 3);
		if (random_word(ak + 3, 17, upper))
			return ais_errf(r->errmsg, -EIO, "no random bytes");
		k.access_key = ak;
	}
	if (!k.secret || !k.secret[0]) {
		if (random_word(sk, 40, b64))
			return ais_errf(r->errmsg, -EIO, "no random bytes");
		k.secret = sk;
	}
	if (!k.comment)
		k.comment = (char *)"";
	if (r->who) {
		/* A key acts as a user: the caller, unless an admin names
		 * another. */
		if (!k.user || !k.user[0]) {
			if (r->who->root)
				return ais_errf(r->errmsg, -EINVAL,
						"name the user the key acts as "
						"(--user)");
			k.user = (char *)r->who->user;
		}
		if (!r->admin && strcmp(k.user, r->who->user))
			return ais_errf(r->errmsg, -EACCES,
					"user %s may make S3 keys for itself "
					"only",
					r->who->user);
		if (!r->admin) {
			size_t mine = 0;

			for (size_t i = 0; i < r->cm->ns3keys; i++)
				mine += r->cm->s3keys[i]->user &&
					!strcmp(r->cm->s3keys[i]->user, k.user);
			if (mine >= S3_KEYS_PER_USER)
				return ais_errf(r->errmsg, -ENOSPC,
						"user %s has %d S3 keys "
						"already: rm one first",
						k.user, S3_KEYS_PER_USER);
		}
	}
	rc = meta_s3_key_check(&k, r->errmsg);
	if (!rc)
		rc = cluster_s3_key_add(r->d->cluster, &k, r->errmsg);
	rpc_answer_new_version(r);
	if (rc)
		return rc;
	ais_log(LOG_NOTICE, "s3: access key %s added%s%s", k.access_key,
		k.comment[0] ? ": " : "", k.comment);
	r->s3key = k;
	snprintf(r->s3ak, sizeof(r->s3ak), "%s", k.access_key);
	snprintf(r->s3sk, sizeof(r->s3sk), "%s", k.secret);
	r->s3key.access_key = r->s3ak;
	r->s3key.secret = r->s3sk;
	r->s3key.comment = (char *)"";
	snprintf(r->s3user, sizeof(r->s3user), "%s", k.user ? k.user : "");
	r->s3key.user = r->s3user;
	r->s3keyp = &r->s3key;
	r->resp.n_s3_keys = 1;
	r->resp.s3_keys = &r->s3keyp;
	return 0;
}

int rpc_s3_key_remove(struct rpc *r)
{
	const Ais__S3Key *in = r->req->s3_key;
	int rc;

	if (!in || !in->access_key || !in->access_key[0])
		return ais_errf(r->errmsg, -EINVAL, "no access key given");
	if (!r->admin) {
		const Ais__S3Key *k =
		    cluster_s3_key_find(r->cm, in->access_key);

		if (k && (!k->user || strcmp(k->user, r->who->user)))
			return ais_errf(r->errmsg, -EACCES,
					"S3 access key %s is not %s's",
					in->access_key, r->who->user);
	}
	rc = cluster_s3_key_remove(r->d->cluster, in->access_key, r->errmsg);
	rpc_answer_new_version(r);
	if (!rc)
		ais_log(LOG_NOTICE, "s3: access key %s removed",
			in->access_key);
	return rc;
}

int rpc_s3_key_list(struct rpc *r)
{
	size_t n = r->cm->ns3keys;

	if (!n)
		return 0;
	r->s3keys = calloc(n, sizeof(*r->s3keys) + sizeof(Ais__S3Key *));
	if (!r->s3keys)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	r->s3keyv = (Ais__S3Key **)(r->s3keys + n);
	for (size_t i = 0, m = 0; i < n; i++) {
		const Ais__S3Key *k = r->cm->s3keys[i];

		/* A user sees its own keys; an admin, all. */
		if (!r->admin && (!k->user || strcmp(k->user, r->who->user)))
			continue;
		r->s3keys[m] = *k;
		r->s3keys[m].secret = (char *)""; /* never leaves the nodes */
		r->s3keyv[m] = &r->s3keys[m];
		r->resp.n_s3_keys = ++m;
	}
	r->resp.s3_keys = r->s3keyv;
	return 0;
}
