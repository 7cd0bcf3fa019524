/* aisloader: the shard member table (see members.h). */
#include "members.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "shard_names.h"

/* Members per shard listing page: the node's maximum keeps the number of
 * round trips low for big shards. */
#define MEMBER_PAGE 1000

int al_members_add(struct al_members *t, uint32_t shard, const char *path,
		   size_t len, uint64_t size)
{
	size_t n = t->members.n;
	int rc;

	if (n == t->shard_of_cap) {
		/* Grow like the name table: by half again. */
		size_t cap = t->shard_of_cap ? t->shard_of_cap : 1024;
		uint32_t *p;

		while (cap < n + 1)
			cap += cap / 2;
		p = realloc(t->shard_of, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->shard_of = p;
		t->shard_of_cap = cap;
	}
	rc = al_names_add(&t->members, path, len, size);
	if (rc < 0)
		return rc;
	t->shard_of[n] = shard;
	t->member_bytes += size;
	return 0;
}

long al_members_add_page(struct al_members *t, uint32_t shard,
			 const struct ais_list_page *page)
{
	long added = 0;
	size_t i;
	int rc;

	for (i = 0; i < page->n; i++) {
		const struct ais_list_entry *e = &page->entries[i];

		/* Only regular files have bytes of their own to read; a hard
		 * link would read its target twice. */
		if (e->is_prefix || e->member_type != AIS_SHARD_FILE)
			continue;
		rc = al_members_add(t, shard, e->name, strlen(e->name),
				    e->meta.size);
		if (rc < 0)
			return rc;
		added++;
	}
	return added;
}

/* Errors that say nothing about the shard itself but about the cluster or
 * this process: the run would read a silently partial table, so the load
 * fails instead of skipping the shard. */
static bool cluster_error(int rc)
{
	switch (-rc) {
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EPIPE:
	case EPROTO:
	case EAGAIN:
	case ENOMEM:
		return true;
	default:
		return false;
	}
}

static bool is_shard_name(const char *name)
{
	return ais_shard_format_from_name(name) != AIS_SHARD_NONE;
}

/* Lists the members of shard number s into t. Returns 0 (also for a shard
 * skipped or cut short, with its warning logged) or -errno with errmsg. */
static int list_one_shard(struct al_members *t, struct ais_client *c,
			  const char *bucket, uint32_t s, char *errmsg)
{
	const char *shard = al_names_get(&t->shards, s);
	struct ais_list_page page;
	char why[AIS_ERRMSG_LEN], *token = NULL, *serr = NULL, *first = NULL;
	size_t before = t->members.n;
	long added;
	int rc;

	for (;;) {
		rc = ais_client_shard_list(c, bucket, shard, NULL, true, token,
					   MEMBER_PAGE, &page, &serr, why);
		if (rc < 0) {
			free(token);
			free(first);
			if (cluster_error(rc))
				return ais_errf(errmsg, rc,
						"list members of %s/%s: %s",
						bucket, shard, why);
			t->bad_shards++;
			ais_log(LOG_WARNING,
				"shard %s/%s: cannot list its members (%s); "
				"%s",
				bucket, shard, why,
				t->members.n > before ? "using those listed"
						      : "skipped");
			return 0;
		}
		/* Every page repeats the index error: keep the first. */
		if (serr && !first)
			first = serr;
		else
			free(serr);
		serr = NULL;
		if (token && page.next_token &&
		    strcmp(token, page.next_token) == 0) {
			free(token);
			free(first);
			ais_list_page_free(&page);
			return ais_errf(errmsg, -EPROTO,
					"list members of %s/%s: the node "
					"returned the same continuation token "
					"twice",
					bucket, shard);
		}
		free(token);
		token = NULL;
		added = al_members_add_page(t, s, &page);
		if (added < 0) {
			free(first);
			ais_list_page_free(&page);
			return ais_errf(errmsg, (int)added,
					"list members of %s/%s: out of memory "
					"after %zu members",
					bucket, shard, t->members.n);
		}
		if (!page.next_token) {
			ais_list_page_free(&page);
			break;
		}
		token = strdup(page.next_token);
		ais_list_page_free(&page);
		if (!token) {
			free(first);
			return ais_errf(errmsg, -ENOMEM,
					"list members of %s/%s: out of memory",
					bucket, shard);
		}
	}
	if (first) {
		t->bad_shards++;
		if (t->members.n > before)
			ais_log(LOG_WARNING,
				"shard %s/%s: %s; reading the %zu members "
				"listed before it",
				bucket, shard, first, t->members.n - before);
		else
			ais_log(LOG_WARNING,
				"shard %s/%s: %s; no members to read", bucket,
				shard, first);
		free(first);
	}
	return 0;
}

int al_members_load(struct al_members *t, struct ais_client *c,
		    const char *bucket, const char *prefix, char *errmsg)
{
	uint32_t s;
	int rc;

	/* Shards are numbered with 32 bits in the member table. */
	rc = al_names_load(&t->shards, c, bucket, prefix, is_shard_name,
			   UINT32_MAX, errmsg);
	if (rc < 0)
		return rc;
	for (s = 0; s < t->shards.n; s++) {
		rc = list_one_shard(t, c, bucket, s, errmsg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void al_members_free(struct al_members *t)
{
	al_names_free(&t->shards);
	al_names_free(&t->members);
	free(t->shard_of);
	memset(t, 0, sizeof(*t));
}
