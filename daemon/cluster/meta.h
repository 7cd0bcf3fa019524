/* Internal to daemon/cluster/: the cluster metadata as a value (struct
 * meta) and the deterministic rules that change it. Raft (raft.c) feeds
 * committed MetaCmd entries to meta_apply on every node in the same order,
 * so every node computes the same state; nothing here does I/O, reads a
 * clock or looks at anything but its arguments. */
#ifndef AISD_CLUSTER_META_H
#define AISD_CLUSTER_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "map.h"
#include "meta.pb-c.h"

#include "cluster/cluster.h"

#define META_HISTORY_MAX 32 /* placements kept for relays and fetches */
/* Transforms: how many, and the size of each spec. */
#define META_ETLS_MAX	   64
#define META_ETL_WORDS_MAX 16
#define META_ETL_WORD_LEN  512
/* Offline transform jobs kept (ais job rm removes them). */
#define META_JOBS_MAX 64
/* S3 access keys kept (ais s3 keys). */
#define META_S3_KEYS_MAX 1024
/* Users (ais auth), the grants of each, tokens revoked one by one. */
#define META_USERS_MAX	 4096
#define META_GRANTS_MAX	 256
#define META_REVOKED_MAX 4096

struct meta_bucket {
	char *name;
	int64_t created_ns;
	uint32_t copies; /* >= 1; mirrored in nodes->bcopies for placement */
};

struct meta {
	struct ais_map *nodes;	     /* ->version is the metadata version;
					->bcopies mirrors buckets[].copies */
	struct meta_bucket *buckets; /* sorted by name */
	size_t nbuckets;
	uint64_t rebalance_id;
	struct ais_map **history; /* ->version = that placement's id */
	size_t nhistory;
	char **rebalanced; /* node ids done with rebalance_id */
	size_t nrebalanced;
	Ais__EtlSpec **etls; /* registered transforms, sorted by name; each
				unpacked on its own (meta_etl_copy) */
	size_t netls;
	Ais__EtlJob **jobs; /* offline transforms, oldest first; each
			       unpacked on its own (meta_job_copy) */
	size_t njobs;
	Ais__S3Key **s3keys; /* S3 access keys, sorted by access_key; each
				unpacked on its own */
	size_t ns3keys;
	struct cluster_users u;
};

/* An empty state (version 0); NULL on ENOMEM. Free with meta_free. */
struct meta *meta_new(void);
void meta_free(struct meta *m);

/* Whether cmd can be applied to m: 0, or -errno with a reason in errmsg
 * (-EEXIST, -ENOENT, -EBUSY, -EINVAL). meta_apply runs the same check. */
int meta_check(const struct meta *m, const Ais__MetaCmd *cmd, char *errmsg);

/* Applies cmd: 0 (the version grows if anything changed), -errno if
 * meta_check refuses it (m unchanged), or -ENOMEM (m unchanged). */
int meta_apply(struct meta *m, const Ais__MetaCmd *cmd);

/* Serializes m into a new buffer allocated with raft_malloc (*buf, *len):
 * a little-endian u32 length, the MetaState message, zeros up to a
 * multiple of 8 bytes. Returns 0 or -ENOMEM. */
int meta_encode(const struct meta *m, void **buf, size_t *len);

/* Parses a buffer made by meta_encode into a new state. 0, -ENOMEM, or
 * -EPROTO with errmsg. */
int meta_decode(const void *buf, size_t len, struct meta **out, char *errmsg);

/* Index of bucket name in m->buckets, or -1. */
int meta_bucket_find(const struct meta *m, const char *name);

/* Index of transform name in v[0..n) (sorted by name), or -(where it
 * would go)-1; meta_etl_find: in m->etls. */
long meta_etls_find(Ais__EtlSpec *const *v, size_t n, const char *name);
int meta_etl_find(const struct meta *m, const char *name);

/* A copy of e on its own (free with ais__etl_spec__free_unpacked), or NULL
 * on ENOMEM. */
Ais__EtlSpec *meta_etl_copy(const Ais__EtlSpec *e);

/* A copy of j on its own (free with ais__etl_job__free_unpacked), or NULL
 * on ENOMEM; index of job id in m->jobs, or -1. */
Ais__EtlJob *meta_job_copy(const Ais__EtlJob *j);
int meta_job_find(const struct meta *m, const char *id);

/* Whether node id has reported the current rebalance done. */
/* Index of access key ak in v[0..n) (sorted), or -(where it would go)-1. */
long meta_s3_keys_find(Ais__S3Key *const *v, size_t n, const char *ak);

/* Whether k is a key the metadata may keep: access key 16..128 of
 * [A-Za-z0-9], secret 16..128 printable ASCII without blanks, a comment
 * of at most 256 bytes. 0 or -EINVAL with errmsg. */
int meta_s3_key_check(const Ais__S3Key *k, char *errmsg);
/* A copy of k on its own (free with ais__s3_key__free_unpacked), or NULL. */
Ais__S3Key *meta_s3_key_copy(const Ais__S3Key *k);

bool meta_rebalanced(const struct meta *m, const char *id);

/* Index of key in v[0..n), messages sorted by the string field at byte
 * offset off (NULL counts as ""), or -(where it would go)-1. */
long meta_sorted_find(void *const *v, size_t n, size_t off, const char *key);

/* meta_users.c: users and revoked tokens. */
long meta_user_find(const struct cluster_users *u, const char *name);
/* meta_check and meta_apply of USER_ADD, USER_REMOVE (its S3 keys go
 * too), USER_GRANT, USER_REVOKE and TOKEN_REVOKE; apply: 1 (changed), 0
 * or -ENOMEM. */
int meta_users_check(const struct meta *m, const Ais__MetaCmd *cmd,
		     char *errmsg);
int meta_users_apply(struct meta *m, const Ais__MetaCmd *cmd);
/* Whether token id (AIS_TOKEN_ID_LEN bytes) is among v[0..n). */
bool meta_token_revoked(Ais__RevokedToken *const *v, size_t n,
			const uint8_t *id);
/* Copies s into d (all unset): 0, -ENOMEM or -EPROTO (users out of order
 * or malformed) with errmsg; what was copied is d's to free either way. */
int meta_users_copy(struct cluster_users *d, const struct cluster_users *s,
		    char *errmsg);
void meta_users_clear(struct cluster_users *u);
/* Drops every user's grant on bucket (destroyed): 0 or -ENOMEM. */
int meta_users_bucket_gone(struct meta *m, const char *bucket);

#endif
