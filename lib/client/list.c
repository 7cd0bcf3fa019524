/* libais client: listing a bucket across all nodes, one page at a time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_i.h"
#include "list_merge.h"
#include "names.h"
#include "util.h"

#define LIST_PAGE_DEFAULT 1000

static int copy_page(Ais__ListEntry **merged, size_t n, bool more,
		     struct ais_list_page *out)
{
	size_t i;

	out->entries = calloc(n ? n : 1, sizeof(*out->entries));
	if (!out->entries)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct ais_list_entry *e = &out->entries[i];

		e->name = strdup(merged[i]->name);
		if (!e->name)
			return -ENOMEM;
		out->n++;
		e->is_prefix = merged[i]->is_prefix;
		if (!e->is_prefix)
			ais_obj_meta_from_pb(merged[i]->meta, &e->meta);
	}
	if (more && n > 0) {
		out->next_token = strdup(merged[n - 1]->name);
		if (!out->next_token)
			return -ENOMEM;
	}
	return 0;
}

/* How many times a page is listed again when a node forgot its arrivals
 * or the map moved under the second round. */
#define LIST_TRIES 4

/* Whether the cluster's map (fetched now) has a node that r has not. */
static bool new_node_since(struct ais_client *c, struct ais__mapref *r)
{
	struct ais__mapref *now;
	bool found = false;
	size_t i, j;

	if (ais_client_refresh_map(c, NULL) < 0)
		return true; /* cannot tell: list again */
	now = ais__mapref_get(c);
	for (i = 0; i < now->map->n && !found; i++) {
		for (j = 0; j < r->map->n; j++)
			if (!strcmp(now->map->nodes[i].id, r->map->nodes[j].id))
				break;
		found = j == r->map->n;
	}
	ais__mapref_put(now);
	return found;
}

/* The second round of a page while objects move (the daemon's
 * store/arrivals.h): every node that numbered its arrivals in the first
 * round (resps[0..n)) is asked for the names that arrived since, into
 * resps[n..2n). Returns 0, -ESTALE when the page must be listed again (a
 * node forgot that far back, or restarted), or -EIO with errmsg when a
 * node does not answer. */
static int ask_arrivals(struct ais_client *c, struct ais__mapref *r,
			const Ais__Request *req, Ais__Response **resps,
			char (*msgs)[AIS_ERRMSG_LEN], char *errmsg)
{
	size_t n = r->map->n, i;
	Ais__Request *copies = calloc(n, sizeof(*copies));
	Ais__Request **reqs = calloc(n, sizeof(*reqs));
	int *rcs = calloc(n, sizeof(*rcs));
	int rc = 0;

	if (!copies || !reqs || !rcs) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!resps[i] || !resps[i]->arrivals)
			continue; /* an older node, or one that refused */
		copies[i] = *req;
		copies[i].list_since = resps[i]->arrivals;
		reqs[i] = &copies[i];
	}
	/* A newer map matters only if it has a node this round did not
	 * ask (one that joined: a name may have moved to it); every
	 * rebalance a node finishes moves the version too, and that is no
	 * reason to list again. */
	if (ais__call_each(c, r, reqs, resps + n, rcs, msgs) &&
	    new_node_since(c, r))
		rc = -ESTALE;
	for (i = 0; i < n && !rc; i++) {
		if (!reqs[i] || rcs[i] == 0)
			continue;
		if (rcs[i] == -ESTALE)
			rc = -ESTALE;
		else
			rc = ais_errf(errmsg, -EIO,
				      "listing of %s/%s incomplete: %s",
				      req->bucket, req->prefix, msgs[i]);
	}
out:
	free(copies);
	free(reqs);
	free(rcs);
	return rc;
}

int ais_client_list(struct ais_client *c, const char *bucket,
		    const char *prefix, const char *delimiter,
		    const char *start_after, size_t page_size,
		    struct ais_list_page *out, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct ais__mapref *r;
	Ais__Response **resps = NULL;
	int *rcs = NULL;
	char(*msgs)[AIS_ERRMSG_LEN] = NULL;
	struct ais_list_src *srcs = NULL;
	Ais__ListEntry **merged = NULL;
	size_t n, i, total, cnt = 0;
	bool more = false, retried = false, moving;
	uint32_t copies, absent;
	int rc, tries = 0;

	memset(out, 0, sizeof(*out));
	rc = ais_name_check_bucket(bucket, errmsg);
	if (rc < 0)
		return rc;
	if (prefix && prefix[0]) {
		rc = ais_name_check_prefix(prefix, errmsg);
		if (rc < 0)
			return rc;
	}
	if (delimiter && delimiter[0] && strcmp(delimiter, "/") != 0)
		return ais_errf(errmsg, -EINVAL,
				"unsupported delimiter '%s' (only \"/\")",
				delimiter);
	if (page_size == 0)
		page_size = LIST_PAGE_DEFAULT;
	if (page_size > UINT32_MAX)
		page_size = UINT32_MAX;

	req.op = AIS__OP__OP_LIST;
	req.bucket = (char *)bucket;
	req.prefix = (char *)(prefix ? prefix : "");
	req.delimiter = (char *)(delimiter ? delimiter : "");
	req.start_after = (char *)(start_after ? start_after : "");
	req.page_size = (uint32_t)page_size;

	/* A node marked down fails the listing; a map that is not fresh may
	 * no longer say so. */
	(void)ais__refresh_if_down(c);
again:
	r = ais__mapref_get(c);
	n = r->map->n;
	total = 0;
	if (n == 0) {
		rc = ais_errf(errmsg, -EHOSTUNREACH,
			      "the cluster map has no nodes");
		goto out_map;
	}
	/* Two rounds: [0, n) the pages, [n, 2n) the arrivals. */
	resps = calloc(2 * n, sizeof(*resps));
	rcs = calloc(n, sizeof(*rcs));
	msgs = calloc(n, sizeof(*msgs));
	srcs = calloc(2 * n, sizeof(*srcs));
	if (!resps || !rcs || !msgs || !srcs) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out_resps;
	}
	if (ais__call_all(c, r, &req, resps, rcs, msgs) && !retried) {
		/* Some node has a newer map, which may hold a node we did
		 * not ask: its names would be missing. Ask again. */
		retried = true;
		rc = -ESTALE;
		goto out_resps;
	}

	/* Every node must answer: a listing without one node's names would
	 * look like lost data (rsync --delete and training code trust it).
	 * A node that answered with an error says what is wrong (no such
	 * bucket...); one that did not, or that is down, makes it EIO. */
	/* With copies = N on different nodes, every name is on N nodes:
	 * up to N-1 that cannot be reached leave nothing out. */
	moving = false;
	absent = 0;
	copies = ais_map_copies(r->map, bucket);
	for (i = 0; i < n; i++) {
		/* A joining node holds nothing yet. It answers listings
		 * (an empty page and its arrival number, for the second
		 * round); a node from before that refused them. */
		if (rcs[i] < 0 && r->map->nodes[i].state == AIS_NODE_JOINING)
			continue;
		/* A node catching up (just restarted) may miss names the
		 * other copies have: as if it were out of reach. */
		if (rcs[i] < 0 && resps[i] && !resps[i]->catching_up) {
			rc = ais_errf(errmsg, rcs[i], "%s", msgs[i]);
			goto out_resps;
		}
		if (rcs[i] < 0 && ++absent < copies) {
			if (resps[i]) {
				ais__response__free_unpacked(resps[i], NULL);
				resps[i] = NULL;
			}
			continue;
		}
		if (rcs[i] < 0) {
			rc = ais_errf(errmsg, -EIO,
				      "listing of %s/%s incomplete: %s%s",
				      bucket, req.prefix, msgs[i],
				      copies > 1 ? " (and more nodes than "
						   "the bucket has copies "
						   "are out of reach)"
						 : "");
			goto out_resps;
		}
		moving |= resps[i]->moving;
	}
	/* An object that left a node before that node's scan ended reached
	 * its new owner first: in that owner's scan, or among its arrivals
	 * since the number it gave with its page. */
	if (moving) {
		rc = ask_arrivals(c, r, &req, resps, msgs, errmsg);
		if (rc)
			goto out_resps;
	}
	for (i = 0; i < 2 * n; i++) {
		if (!resps[i] || (i < n && rcs[i] < 0))
			continue;
		srcs[i].entries = resps[i]->entries;
		srcs[i].n = resps[i]->n_entries;
		srcs[i].more = resps[i]->next_token && resps[i]->next_token[0];
		total += srcs[i].n;
	}
	merged = calloc(total < page_size ? (total ? total : 1) : page_size,
			sizeof(*merged));
	if (!merged) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out_resps;
	}
	ais_list_merge(srcs, 2 * n, total < page_size ? total : page_size,
		       merged, &cnt, &more);
	rc = copy_page(merged, cnt, more, out);
	if (rc < 0) {
		ais_list_page_free(out);
		rc = ais_errf(errmsg, rc, "out of memory");
	} else if (errmsg) {
		errmsg[0] = '\0';
	}
	free(merged);

out_resps:
	for (i = 0; resps && i < 2 * n; i++)
		if (resps[i])
			ais__response__free_unpacked(resps[i], NULL);
	free(resps);
	free(rcs);
	free(msgs);
	free(srcs);
	resps = NULL;
	rcs = NULL;
	msgs = NULL;
	srcs = NULL;
	if (rc == -ESTALE && ++tries < LIST_TRIES) {
		/* A newer map, or a node that forgot its arrivals: list
		 * the page again, with the map as it is now. */
		ais__mapref_put(r);
		(void)ais_client_refresh_map(c, NULL);
		goto again;
	}
	if (rc == -ESTALE)
		rc = ais_errf(errmsg, -EAGAIN,
			      "listing of %s/%s: the cluster kept changing "
			      "under it (%d tries); try again",
			      bucket, req.prefix, LIST_TRIES);
out_map:
	ais__mapref_put(r);
	return rc;
}

void ais_list_page_free(struct ais_list_page *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->entries[i].name);
		free(p->entries[i].link_target);
	}
	free(p->entries);
	free(p->next_token);
	memset(p, 0, sizeof(*p));
}

int ais_client_shard_list(struct ais_client *c, const char *bucket,
			  const char *shard, const char *dir, bool recursive,
			  const char *start_after, size_t page_size,
			  struct ais_list_page *out, char **shard_error,
			  char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (shard_error)
		*shard_error = NULL;
	rc = ais__check_obj_names(bucket, shard, errmsg);
	if (rc < 0)
		return rc;
	if (page_size > UINT32_MAX)
		page_size = UINT32_MAX;
	req.op = AIS__OP__OP_SHARD_LIST;
	req.bucket = (char *)bucket;
	req.name = (char *)shard;
	req.prefix = (char *)(dir ? dir : "");
	req.recursive = recursive;
	req.start_after = (char *)(start_after ? start_after : "");
	req.page_size = (uint32_t)page_size;
	rc = ais__call_obj(c, bucket, shard, &req, true, &a, errmsg);
	if (rc < 0)
		return rc;
	out->entries =
	    calloc(a->n_entries ? a->n_entries : 1, sizeof(*out->entries));
	if (!out->entries)
		goto nomem;
	for (i = 0; i < a->n_entries; i++) {
		const Ais__ListEntry *pe = a->entries[i];
		struct ais_list_entry *e = &out->entries[i];

		e->name = strdup(pe->name);
		e->link_target = strdup(pe->link_target ? pe->link_target : "");
		if (!e->name || !e->link_target) {
			free(e->name);
			free(e->link_target);
			goto nomem;
		}
		out->n++;
		e->is_prefix = pe->is_prefix;
		e->member_type = pe->member_type;
		ais_obj_meta_from_pb(pe->meta, &e->meta);
	}
	if (a->next_token && a->next_token[0]) {
		out->next_token = strdup(a->next_token);
		if (!out->next_token)
			goto nomem;
	}
	if (shard_error && a->shard_error && a->shard_error[0]) {
		*shard_error = strdup(a->shard_error);
		if (!*shard_error)
			goto nomem;
	}
	ais__response__free_unpacked(a, NULL);
	return 0;
nomem:
	ais__response__free_unpacked(a, NULL);
	ais_list_page_free(out);
	if (shard_error) {
		free(*shard_error);
		*shard_error = NULL;
	}
	return ais_errf(errmsg, -ENOMEM, "out of memory");
}
