/* LIST: one page of a bucket's names on this node (store/listing.h), or
 * the names that arrived here since a listing's first round
 * (store/arrivals.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "log.h"
#include "names.h"

#include "rpc/rpc_i.h"
#include "store/listing.h"

/* Test hook: AISD_TEST_LIST_DELAY_MS=N in the node's environment (read
 * once) makes each page's scan start after a pseudo-random 0..N ms, so
 * that the nodes of one listing scan at clearly different times while
 * objects move (test_cluster_lifecycle.sh). Inert without it. */
static unsigned list_delay_ms;
static pthread_once_t list_delay_once = PTHREAD_ONCE_INIT;

static void list_delay_init(void)
{
	const char *v = getenv("AISD_TEST_LIST_DELAY_MS");

	list_delay_ms = v ? (unsigned)strtoul(v, NULL, 10) : 0;
	if (list_delay_ms)
		ais_log(LOG_WARNING,
			"test hook AISD_TEST_LIST_DELAY_MS=%u armed: listings "
			"are slowed down",
			list_delay_ms);
}

static void list_delay(void)
{
	struct timespec ts;
	unsigned ms;

	pthread_once(&list_delay_once, list_delay_init);
	if (!list_delay_ms)
		return;
	ms = (unsigned)(ais_now_mono_ns() / 1000 % (list_delay_ms + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* The entries of the arrivals matching a listing: names, or with the
 * delimiter the "dir/" they roll up into. */
struct arrived {
	const char *prefix;
	size_t plen;
	bool delim;
	const char *after;
	char **v;
	size_t n, cap;
};

static int arrived_add(void *arg, const char *name)
{
	struct arrived *a = arg;
	const char *slash;
	size_t len;
	char *e;

	if (strncmp(name, a->prefix, a->plen))
		return 0;
	slash = a->delim ? strchr(name + a->plen, '/') : NULL;
	len = slash ? (size_t)(slash - name) + 1 : strlen(name);
	e = strndup(name, len);
	if (!e)
		return -ENOMEM;
	if (strcmp(e, a->after) <= 0) { /* at or before start_after */
		free(e);
		return 0;
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v) {
			free(e);
			return -ENOMEM;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = e;
	return 0;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The arrivals after q->list_since as a listing: sorted, each once, each
 * still here (an object with its metadata, a "dir/" with objects under
 * it), at most a page. */
static int list_arrivals(struct rpc *r, struct listing *l)
{
	Ais__Request *q = r->req;
	struct store *st = r->d->store;
	struct arrived a = {
	    .prefix = q->prefix,
	    .plen = strlen(q->prefix),
	    .delim = q->delimiter[0] != 0,
	    .after = q->start_after,
	};
	size_t page = q->page_size ? q->page_size : LISTING_PAGE_DEFAULT;
	char em[AIS_ERRMSG_LEN];
	const char *prev = NULL; /* kept alive: in l->e or in a.v */
	uint64_t now;
	size_t i;
	int rc;

	memset(l, 0, sizeof(*l));
	if (page > LISTING_PAGE_MAX)
		page = LISTING_PAGE_MAX;
	rc = arrivals_since(st->arr, q->list_since, q->bucket, arrived_add, &a,
			    &now);
	if (rc == -ESTALE)
		rc = ais_errf(r->errmsg, rc,
			      "this node no longer remembers its arrivals "
			      "since %llu (now %llu): list again",
			      (unsigned long long)q->list_since,
			      (unsigned long long)now);
	else if (rc)
		rc = ais_errf(r->errmsg, rc, "out of memory");
	if (!rc && a.n) {
		qsort(a.v, a.n, sizeof(*a.v), cmp_str);
		l->e = calloc(a.n, sizeof(*l->e));
		if (!l->e)
			rc = ais_errf(r->errmsg, -ENOMEM, "out of memory");
	}
	for (i = 0; !rc && i < a.n; i++) {
		struct listing_entry *e = &l->e[l->n];
		size_t len = strlen(a.v[i]);

		if (i && prev && !strcmp(a.v[i], prev))
			continue;
		prev = a.v[i];
		if (l->n == page) {
			l->more = true;
			break;
		}
		e->is_prefix = a.v[i][len - 1] == '/';
		if (e->is_prefix) {
			bool there;

			a.v[i][len - 1] = 0;
			there = store_has_dir(st, q->bucket, a.v[i]);
			a.v[i][len - 1] = '/';
			if (!there)
				continue;
		} else if (store_head(st, q->bucket, a.v[i], &e->meta, em)) {
			continue; /* gone again (moved on, deleted) */
		}
		e->name = a.v[i];
		a.v[i] = NULL;
		l->n++;
	}
	for (i = 0; i < a.n; i++)
		free(a.v[i]);
	free(a.v);
	r->resp.arrivals = now;
	if (rc)
		listing_free(l);
	return rc;
}

/* Answers the page l (freed here). Returns 1 (answered) or -errno. */
static int send_page(struct rpc *r, struct listing *l)
{
	Ais__ListEntry *ents = NULL, **ptrs = NULL;
	Ais__ObjMeta *metas = NULL;
	size_t i, total = 0, max;
	int rc = 1;

	if (l->n) {
		ents = calloc(l->n, sizeof(*ents));
		ptrs = calloc(l->n, sizeof(*ptrs));
		metas = calloc(l->n, sizeof(*metas));
		if (!ents || !ptrs || !metas) {
			rc = ais_errf(r->errmsg, -ENOMEM, "out of memory");
			goto out;
		}
	}
	/* The page must fit in one response head (AIS_FRAME_HEAD_MAX). */
	max = AIS_FRAME_HEAD_MAX - RPC_HEAD_SLACK;
	for (i = 0; i < l->n; i++) {
		ais__list_entry__init(&ents[i]);
		ents[i].name = l->e[i].name;
		ents[i].is_prefix = l->e[i].is_prefix;
		if (!l->e[i].is_prefix) {
			ais_obj_meta_to_pb(&l->e[i].meta, &metas[i]);
			ents[i].meta = &metas[i];
		}
		total += ais__list_entry__get_packed_size(&ents[i]) + 4;
		if (total > max) {
			l->more = true;
			break;
		}
		ptrs[i] = &ents[i];
	}
	r->resp.n_entries = i;
	r->resp.entries = ptrs;
	r->resp.next_token = l->more && i ? l->e[i - 1].name : (char *)"";
	r->resp.status = 0;
	rpc_send_resp(r, 0);
out:
	free(ents);
	free(ptrs);
	free(metas);
	listing_free(l);
	return rc;
}

int rpc_list_joining(struct rpc *r)
{
	struct listing l;
	int rc;

	if (!r->req->list_since) {
		/* Nothing here yet; what arrives once the node is online
		 * is numbered after this. */
		r->resp.arrivals = arrivals_seq(r->d->store->arr);
		r->resp.next_token = (char *)"";
		return 0;
	}
	rc = list_arrivals(r, &l);
	return rc ? rc : send_page(r, &l);
}

int rpc_list(struct rpc *r)
{
	Ais__Request *q = r->req;
	struct listing l;
	int rc;

	rc = rpc_check_bucket(r, q->bucket);
	if (!rc)
		rc = ais_name_check_prefix(q->prefix, r->errmsg);
	if (rc)
		return rc;
	if (q->delimiter[0] && strcmp(q->delimiter, "/"))
		return ais_errf(r->errmsg, -EINVAL,
				"delimiter must be \"\" or \"/\", not \"%s\"",
				q->delimiter);
	if (strlen(q->start_after) > AIS_NAME_MAX + 1)
		return ais_errf(r->errmsg, -ENAMETOOLONG,
				"start_after is longer than %d bytes",
				AIS_NAME_MAX + 1);
	rc = rpc_check_caught_up(r, q->bucket);
	if (rc)
		return rc;
	if (q->list_since) {
		rc = list_arrivals(r, &l);
	} else {
		/* Read before the scan: what arrives later is numbered
		 * after it. */
		list_delay();
		r->resp.arrivals = arrivals_seq(r->d->store->arr);
		rc =
		    listing_run(r->d->store, q->bucket, q->prefix, q->delimiter,
				q->start_after, q->page_size, &l, r->errmsg);
		/* After it: an object that left during the scan counts,
		 * and so does a map that changed during it (the answer
		 * carries the version as of now: a client that sees a newer
		 * map than its own asks again, as a node may have joined). */
		r->resp.moving =
		    arrivals_departed_within(r->d->store->arr, RPC_MOVING_SECS);
		cluster_map_put(r->cm);
		r->cm = cluster_map_get(r->d->cluster);
	}
	if (rc)
		return rc;
	return send_page(r, &l);
}
