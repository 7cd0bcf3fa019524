/* OP_LIST on one node. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#include "store/listing.h"

/* A bounded max-heap of the cap smallest candidate names. */
struct heap {
	struct listing_entry *e;
	size_t n, cap;
	int mp;
};

struct walk {
	struct heap *h;
	const char *prefix;
	size_t plen;
	const char *after;
	char path[AISD_PATH_MAX]; /* absolute path of the current dir */
	size_t base; /* where the name relative to the bucket starts */
	int err;
};

static void sift_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct listing_entry t;

		if (l < h->n && strcmp(h->e[l].name, h->e[m].name) > 0)
			m = l;
		if (r < h->n && strcmp(h->e[r].name, h->e[m].name) > 0)
			m = r;
		if (m == i)
			return;
		t = h->e[i];
		h->e[i] = h->e[m];
		h->e[m] = t;
		i = m;
	}
}

static void sift_up(struct heap *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		struct listing_entry t;

		if (strcmp(h->e[p].name, h->e[i].name) >= 0)
			return;
		t = h->e[i];
		h->e[i] = h->e[p];
		h->e[p] = t;
		i = p;
	}
}

static const char *heap_top(const struct heap *h)
{
	return h->n == h->cap ? h->e[0].name : NULL;
}

/* Offers a candidate (already known to be > after and to match prefix). */
static int heap_offer(struct heap *h, const char *name, size_t len,
		      bool is_prefix)
{
	char *copy;

	if (h->n == h->cap && strcmp(name, h->e[0].name) >= 0)
		return 0;
	copy = malloc(len + 1 + is_prefix);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, name, len);
	if (is_prefix)
		copy[len++] = '/';
	copy[len] = 0;
	if (h->n == h->cap) {
		free(h->e[0].name);
		h->e[0].name = copy;
		h->e[0].is_prefix = is_prefix;
		h->e[0].mp = h->mp;
		sift_down(h, 0);
		return 0;
	}
	h->e[h->n].name = copy;
	h->e[h->n].is_prefix = is_prefix;
	h->e[h->n].mp = h->mp;
	h->n++;
	sift_up(h, h->n - 1);
	return 0;
}

static bool is_dir_entry(struct walk *w, struct dirent *de, bool *is_reg)
{
	struct stat sb;

	*is_reg = false;
	if (de->d_type == DT_DIR)
		return true;
	if (de->d_type == DT_REG) {
		*is_reg = true;
		return false;
	}
	if (de->d_type != DT_UNKNOWN)
		return false;
	if (lstat(w->path, &sb) < 0)
		return false;
	*is_reg = S_ISREG(sb.st_mode);
	return S_ISDIR(sb.st_mode);
}

/* Can the subtree "rel/" (length len, with the '/') hold a name we want? */
static bool subtree_wanted(struct walk *w, const char *rel, size_t len)
{
	size_t n = len < w->plen ? len : w->plen;
	const char *top;

	if (strncmp(rel, w->prefix, n))
		return false;
	/* Every name under rel sorts after rel's first len bytes decide. */
	if (strncmp(rel, w->after, len) < 0)
		return false;
	top = heap_top(w->h);
	if (top && strncmp(rel, top, len) > 0)
		return false;
	return true;
}

/* Calls visit for each entry of directory w->path but "." and "..", with
 * the entry's name appended to w->path (dlen: the directory's length, nlen:
 * the name's); w->path is restored after each. Stops at w->err. */
static void walk_entries(struct walk *w,
			 void (*visit)(struct walk *w, struct dirent *de,
				       size_t dlen, size_t nlen))
{
	size_t dlen = strlen(w->path), nlen;
	struct dirent *de;
	DIR *d;

	d = opendir(w->path);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			w->err = -errno;
		return;
	}
	while (!w->err && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		nlen = strlen(de->d_name);
		if (dlen + nlen + 2 >= sizeof(w->path))
			continue;
		memcpy(w->path + dlen, de->d_name, nlen + 1);
		visit(w, de, dlen, nlen);
		w->path[dlen] = 0;
	}
	closedir(d);
}

static void walk_tree(struct walk *w);

static void tree_visit(struct walk *w, struct dirent *de, size_t dlen,
		       size_t nlen)
{
	const char *rel = w->path + w->base;
	size_t rlen = dlen + nlen - w->base;
	bool is_reg;

	if (is_dir_entry(w, de, &is_reg)) {
		w->path[dlen + nlen] = '/';
		w->path[dlen + nlen + 1] = 0;
		if (subtree_wanted(w, rel, rlen + 1))
			walk_tree(w);
	} else if (is_reg && !strncmp(rel, w->prefix, w->plen) &&
		   strcmp(rel, w->after) > 0) {
		w->err = heap_offer(w->h, rel, rlen, false);
	}
}

/* Recursive walk below w->path (a directory; its bucket-relative name, with
 * a trailing '/' unless it is the bucket, starts at w->path + w->base). */
static void walk_tree(struct walk *w)
{
	walk_entries(w, tree_visit);
}

static void dir_visit(struct walk *w, struct dirent *de, size_t dlen,
		      size_t nlen)
{
	const char *rel = w->path + w->base;
	size_t rlen = dlen + nlen - w->base;
	bool is_reg;

	if (strncmp(rel, w->prefix, w->plen))
		return;
	if (is_dir_entry(w, de, &is_reg)) {
		/* Compare on the rolled-up key "name/". */
		w->path[dlen + nlen] = '/';
		w->path[dlen + nlen + 1] = 0;
		if (strcmp(rel, w->after) > 0)
			w->err = heap_offer(w->h, rel, rlen, true);
	} else if (is_reg && strcmp(rel, w->after) > 0) {
		w->err = heap_offer(w->h, rel, rlen, false);
	}
}

/* With delimiter '/': only the directory that holds the prefix. */
static void walk_dir(struct walk *w)
{
	walk_entries(w, dir_visit);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct listing_entry *)a)->name,
		      ((const struct listing_entry *)b)->name);
}

static void heap_free(struct heap *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->e[i].name);
	free(h->e);
}

void listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* Merges the sorted per-mountpath candidates, dropping duplicates, into at
 * most page entries; takes the names out of the heaps. */
static int merge(struct heap *hs, size_t nh, size_t page, struct listing *out)
{
	size_t pos[nh];
	size_t i;

	memset(pos, 0, sizeof(pos));
	out->e = calloc(page, sizeof(*out->e));
	if (!out->e)
		return -ENOMEM;
	for (;;) {
		int best = -1;

		for (i = 0; i < nh; i++) {
			if (pos[i] >= hs[i].n)
				continue;
			if (best < 0 || strcmp(hs[i].e[pos[i]].name,
					       hs[best].e[pos[best]].name) < 0)
				best = (int)i;
		}
		if (best < 0)
			return 0;
		struct listing_entry *c = &hs[best].e[pos[best]++];

		if (out->n && !strcmp(out->e[out->n - 1].name, c->name))
			continue;
		if (out->n == page) {
			out->more = true;
			return 0;
		}
		out->e[out->n] = *c;
		c->name = NULL;
		out->n++;
	}
}

int listing_run(struct store *st, const char *bucket, const char *prefix,
		const char *delimiter, const char *start_after,
		unsigned page_size, struct listing *out, char *errmsg)
{
	struct mpset *mps = st->mps;
	struct heap hs[mps->n];
	struct walk w;
	size_t page, i, j, dirlen;
	const char *slash;
	char path[AISD_PATH_MAX];
	struct stat sb;
	bool delim = delimiter && *delimiter;
	int rc = 0, found = 0;

	memset(out, 0, sizeof(*out));
	memset(hs, 0, sizeof(hs));
	page = page_size ? page_size : LISTING_PAGE_DEFAULT;
	if (page > LISTING_PAGE_MAX)
		page = LISTING_PAGE_MAX;
	slash = strrchr(prefix, '/');
	dirlen = slash ? (size_t)(slash - prefix) + 1 : 0;
	for (i = 0; i < mps->n && !rc; i++) {
		mpset_bucket_path(mps, (int)i, bucket, path);
		if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		found = 1;
		hs[i].cap = page + 1;
		hs[i].mp = (int)i;
		hs[i].e = calloc(hs[i].cap, sizeof(struct listing_entry));
		if (!hs[i].e) {
			rc = -ENOMEM;
			break;
		}
		memset(&w, 0, sizeof(w));
		w.h = &hs[i];
		w.prefix = prefix;
		w.plen = strlen(prefix);
		w.after = start_after;
		w.base = strlen(path);
		memcpy(w.path, path, w.base);
		w.path[w.base++] = '/';
		w.path[w.base] = 0;
		/* Start in the directory that holds the prefix. */
		if (w.base + dirlen + 1 >= sizeof(w.path))
			continue;
		memcpy(w.path + w.base, prefix, dirlen);
		w.path[w.base + dirlen] = 0;
		if (delim)
			walk_dir(&w);
		else
			walk_tree(&w);
		rc = w.err;
		qsort(hs[i].e, hs[i].n, sizeof(struct listing_entry),
		      cmp_entry);
	}
	if (!rc && !found)
		rc = -ENOENT;
	if (!rc)
		rc = merge(hs, mps->n, page, out);
	for (i = 0; i < mps->n; i++)
		heap_free(&hs[i]);
	if (rc) {
		listing_free(out);
		if (rc == -ENOENT)
			return ais_errf(errmsg, rc, "bucket %s does not exist",
					bucket);
		return ais_errf(errmsg, rc, "listing %s: %s", bucket,
				strerror(-rc));
	}
	/* Metadata only for what is returned; an object deleted meanwhile
	 * is dropped from the page. */
	for (i = 0, j = 0; i < out->n; i++) {
		struct listing_entry *e = &out->e[i];

		if (!e->is_prefix) {
			mpset_obj_path(mps, e->mp, bucket, e->name, path);
			if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
				if (i + 1 < out->n || !out->more) {
					free(e->name);
					continue;
				}
				/* Keep the last one as the continuation
				 * point even if it just went away. */
				memset(&sb, 0, sizeof(sb));
			}
			if (objmeta_read_path(path, &e->meta))
				objmeta_from_stat(&sb, &e->meta);
			e->meta.size = (uint64_t)sb.st_size;
		}
		out->e[j++] = *e;
	}
	out->n = j;
	return 0;
}
