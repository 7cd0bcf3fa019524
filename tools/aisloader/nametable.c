/* aisloader: the name table (see nametable.h). */
#include "nametable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* Arrays grow by half again, so the slack stays under a third and a
 * million names never need more than a few dozen reallocations. */
static size_t grow(size_t cap, size_t need, size_t min)
{
	size_t n = cap ? cap : min;

	while (n < need)
		n += n / 2;
	return n;
}

int al_names_add(struct al_names *t, const char *name, size_t len,
		 uint64_t size)
{
	if (t->n == t->cap) {
		size_t cap = grow(t->cap, t->n + 1, 1024);
		uint64_t *off, *sz;

		off = realloc(t->off, cap * sizeof(*off));
		if (!off)
			return -ENOMEM;
		t->off = off;
		sz = realloc(t->size, cap * sizeof(*sz));
		if (!sz)
			return -ENOMEM;
		t->size = sz;
		t->cap = cap;
	}
	if (t->arena_len + len + 1 > t->arena_cap) {
		size_t cap = grow(t->arena_cap, t->arena_len + len + 1, 65536);
		char *a = realloc(t->arena, cap);

		if (!a)
			return -ENOMEM;
		t->arena = a;
		t->arena_cap = cap;
	}
	memcpy(t->arena + t->arena_len, name, len);
	t->arena[t->arena_len + len] = '\0';
	t->off[t->n] = t->arena_len;
	t->size[t->n] = size;
	t->arena_len += len + 1;
	t->n++;
	return 0;
}

int al_names_load(struct al_names *t, struct ais_client *c, const char *bucket,
		  const char *prefix, bool (*keep)(const char *name),
		  size_t max, char *errmsg)
{
	struct ais_list_page page;
	char *token = NULL;
	char why[AIS_ERRMSG_LEN];
	size_t i;
	int rc;

	for (;;) {
		memset(&page, 0, sizeof(page));
		rc = ais_client_list(c, bucket, prefix, NULL, token, 1000,
				     &page, why);
		if (rc < 0) {
			free(token);
			return ais_errf(errmsg, rc, "list %s/%s: %s", bucket,
					prefix ? prefix : "", why);
		}
		/* A token that does not advance would loop forever. */
		if (token && page.next_token &&
		    strcmp(token, page.next_token) == 0) {
			free(token);
			ais_list_page_free(&page);
			return ais_errf(
			    errmsg, -EPROTO,
			    "list %s: the cluster returned the same "
			    "continuation token twice",
			    bucket);
		}
		free(token);
		token = NULL;
		for (i = 0; i < page.n; i++) {
			const struct ais_list_entry *e = &page.entries[i];

			if (e->is_prefix || (keep && !keep(e->name)))
				continue;
			rc = t->n >= max
				 ? -EOVERFLOW
				 : al_names_add(t, e->name, strlen(e->name),
						e->meta.size);
			if (rc < 0) {
				ais_list_page_free(&page);
				return ais_errf(
				    errmsg, rc, "list %s: %s after %zu names",
				    bucket,
				    rc == -EOVERFLOW ? "too many names"
						     : "out of memory",
				    t->n);
			}
		}
		if (!page.next_token) {
			ais_list_page_free(&page);
			return 0;
		}
		token = strdup(page.next_token);
		ais_list_page_free(&page);
		if (!token)
			return ais_errf(errmsg, -ENOMEM,
					"list %s: out of memory", bucket);
	}
}

void al_names_free(struct al_names *t)
{
	free(t->arena);
	free(t->off);
	free(t->size);
	memset(t, 0, sizeof(*t));
}
