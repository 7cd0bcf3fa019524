/* libais client: the "a" versus "a/b" namespace check before a create. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "client.h"
#include "client_call.h"
#include "names.h"
#include "util.h"

#define NS_TTL_NS (5ull * 1000 * 1000 * 1000) /* trust a dir for 5 s */

static uint64_t ns_hash(const char *bucket, const char *prefix, size_t len)
{
	uint64_t seed = XXH3_64bits(bucket, strlen(bucket));

	return XXH3_64bits_withSeed(prefix, len, seed) | 1; /* never 0 */
}

static struct ais_ns_slot *ns_slot(struct ais_client *c, uint64_t h)
{
	size_t n = sizeof(c->ns_cache) / sizeof(c->ns_cache[0]);

	return &c->ns_cache[h % n];
}

static bool ns_known_dir(struct ais_client *c, uint64_t h)
{
	struct ais_ns_slot *s;
	bool hit;

	pthread_mutex_lock(&c->ns_lock);
	s = ns_slot(c, h);
	hit = s->hash == h && s->expires_ns > ais_now_mono_ns();
	pthread_mutex_unlock(&c->ns_lock);
	return hit;
}

static void ns_note_dir(struct ais_client *c, uint64_t h)
{
	struct ais_ns_slot *s;

	pthread_mutex_lock(&c->ns_lock);
	s = ns_slot(c, h);
	s->hash = h;
	s->expires_ns = ais_now_mono_ns() + NS_TTL_NS;
	pthread_mutex_unlock(&c->ns_lock);
}

/* 0 if the parent prefix name[0..len) is not an object, -ENOTDIR if it is,
 * or the error of the HEAD. */
static int check_parent(struct ais_client *c, const char *bucket,
			const char *name, size_t len, char *errmsg)
{
	char parent[AIS_NAME_MAX + 1];
	uint64_t h = ns_hash(bucket, name, len);
	int rc;

	if (ns_known_dir(c, h))
		return 0;
	memcpy(parent, name, len);
	parent[len] = '\0';
	rc = ais_client_head(c, bucket, parent, NULL, errmsg);
	if (rc == 0)
		return ais_errf(errmsg, -ENOTDIR,
				"cannot create %s/%s: %s/%s is an object, "
				"not a directory",
				bucket, name, bucket, parent);
	if (rc != -ENOENT)
		return rc;
	ns_note_dir(c, h);
	return 0;
}

int ais_client_ns_check(struct ais_client *c, const char *bucket,
			const char *name, char *errmsg)
{
	char prefix[AIS_NAME_MAX + 2];
	struct ais_list_page page;
	const char *slash;
	size_t len = strlen(name);
	int rc;

	for (slash = strchr(name, '/'); slash; slash = strchr(slash + 1, '/')) {
		rc = check_parent(c, bucket, name, (size_t)(slash - name),
				  errmsg);
		if (rc < 0)
			return rc;
	}
	if (len + 1 >= sizeof(prefix))
		return 0; /* nothing can live under a name this long */
	memcpy(prefix, name, len);
	prefix[len] = '/';
	prefix[len + 1] = '\0';
	rc = ais_client_list(c, bucket, prefix, NULL, NULL, 1, &page, errmsg);
	if (rc < 0)
		return rc;
	if (page.n > 0) {
		rc = ais_errf(errmsg, -EISDIR,
			      "cannot create %s/%s: it is a directory (%s/%s "
			      "exists)",
			      bucket, name, bucket, page.entries[0].name);
		ais_list_page_free(&page);
		return rc;
	}
	ais_list_page_free(&page);
	return 0;
}
