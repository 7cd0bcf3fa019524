/* The read side of a sidecar: mapping and checking it
 * (ais_shard_index_open/load/free), its header's accessors, members by
 * position, path lookups, paged listings, directory listings (with the
 * directories deeper paths imply) and seek points. Every function reads the
 * map in place; nothing here writes. */
#include "shard_i.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int ais_shard_index_open(int fd, struct ais_shard_index **out, char *errmsg)
{
	struct ais_shard_index *idx;
	const struct sc_header *h;
	struct stat st;
	void *map;
	uint64_t fs;

	*out = NULL;
	if (fstat(fd, &st) < 0)
		return ais_errf(errmsg, -errno, "shard index: fstat: %s",
				strerror(errno));
	fs = (uint64_t)st.st_size;
	if (fs < SC_HDR)
		return ais_errf(
		    errmsg, -EBADMSG,
		    "shard index: file too short (%" PRIu64 " bytes)", fs);
	map = mmap(NULL, (size_t)fs, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return ais_errf(errmsg, -errno, "shard index: mmap: %s",
				strerror(errno));
	h = map;
	if (memcmp(h->magic, SC_MAGIC, sizeof(SC_MAGIC)) != 0 ||
	    h->version != SC_VERSION || h->file_size != fs ||
	    h->pt_off < SC_HDR || h->pt_off % 8 || h->rec_off % 8 ||
	    h->pt_count > fs / 32 || h->count > fs / 72 ||
	    h->pt_off + h->pt_count * 32 > h->str_off || h->str_off > fs ||
	    h->str_len > fs - h->str_off || h->str_len == 0 ||
	    h->str_off + h->str_len > h->rec_off || h->rec_off > fs ||
	    h->count * 72 > fs - h->rec_off || h->max_path > h->str_len ||
	    (h->err_len > 0 &&
	     (uint64_t)h->err_str + h->err_len >= h->str_len)) {
		munmap(map, (size_t)fs);
		return ais_errf(errmsg, -EBADMSG,
				"shard index: not a valid sidecar (bad magic, "
				"version or layout)");
	}
	if ((idx = calloc(1, sizeof(*idx))) == NULL) {
		munmap(map, (size_t)fs);
		return ais_errf(errmsg, -ENOMEM, "shard index: out of memory");
	}
	idx->map = map;
	idx->map_len = (size_t)fs;
	idx->hdr = h;
	idx->recs = (const struct sc_rec *)(idx->map + h->rec_off);
	idx->strs = (const char *)idx->map + h->str_off;
	idx->pts = (const struct ais_shard_point *)(idx->map + h->pt_off);
	*out = idx;
	return 0;
}

int ais_shard_index_load(const char *path, struct ais_shard_index **out,
			 char *errmsg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	*out = NULL;
	if (fd < 0)
		return ais_errf(errmsg, -errno, "shard index %s: %s", path,
				strerror(errno));
	rc = ais_shard_index_open(fd, out, errmsg);
	close(fd);
	return rc;
}

void ais_shard_index_free(struct ais_shard_index *idx)
{
	if (idx == NULL)
		return;
	munmap((void *)idx->map, idx->map_len);
	free(idx);
}

bool ais_shard_index_is_stale(const struct ais_shard_index *idx,
			      const struct ais_shard_stamp *cur)
{
	return idx->hdr->version != SC_VERSION ||
	       idx->hdr->obj_size != cur->size ||
	       idx->hdr->obj_mtime_ns != cur->mtime_ns ||
	       idx->hdr->obj_version != cur->version;
}

enum ais_shard_format ais_shard_index_format(const struct ais_shard_index *idx)
{
	return (enum ais_shard_format)idx->hdr->format;
}

void ais_shard_index_stamp(const struct ais_shard_index *idx,
			   struct ais_shard_stamp *out)
{
	out->size = idx->hdr->obj_size;
	out->mtime_ns = idx->hdr->obj_mtime_ns;
	out->version = idx->hdr->obj_version;
}

size_t ais_shard_index_count(const struct ais_shard_index *idx)
{
	return (size_t)idx->hdr->count;
}

uint64_t ais_shard_index_file_size(const struct ais_shard_index *idx)
{
	return idx->hdr->file_size;
}

const char *ais_shard_index_error(const struct ais_shard_index *idx,
				  uint64_t *break_off)
{
	if (idx->hdr->err_len == 0)
		return NULL;
	if (break_off != NULL)
		*break_off = idx->hdr->err_off;
	return idx->strs + idx->hdr->err_str;
}

/* A string of the table, or NULL when out of bounds (corrupt sidecar). */
static const char *sc_str(const struct ais_shard_index *idx, uint32_t off,
			  uint32_t len)
{
	if ((uint64_t)off + len >= idx->hdr->str_len ||
	    idx->strs[off + len] != '\0')
		return NULL;
	return idx->strs + off;
}

/* Path of record i, "" when corrupt (the accessors then say -EBADMSG). */
static const char *rec_path(const struct ais_shard_index *idx, size_t i,
			    size_t *len)
{
	const struct sc_rec *r = &idx->recs[i];
	const char *p = sc_str(idx, r->path_off, r->path_len);

	/* A path longer than the header's max_path (a corrupt sidecar)
	 * would overflow the buffers sized by it: read as "". */
	if (r->path_len > idx->hdr->max_path)
		p = NULL;
	*len = p ? r->path_len : 0;
	return p ? p : "";
}

int ais_shard_index_at(const struct ais_shard_index *idx, size_t i,
		       struct ais_shard_member *m)
{
	const struct sc_rec *r;

	if (i >= idx->hdr->count)
		return -ERANGE;
	r = &idx->recs[i];
	m->path = sc_str(idx, r->path_off, r->path_len);
	m->link = sc_str(idx, r->link_off, r->link_len);
	if (m->path == NULL || m->link == NULL)
		return -EBADMSG;
	m->sparse_map = NULL;
	if (r->flags & AIS_SHARD_F_SPARSE) {
		m->sparse_map = m->link;
		m->link = "";
	}
	m->header_off = r->header_off;
	m->data_off = r->data_off;
	m->size = r->size;
	m->csize = r->csize;
	m->mtime = r->mtime;
	m->mode = r->mode;
	m->crc32 = r->crc32;
	m->type = r->type;
	m->method = r->method;
	m->flags = r->flags;
	return 0;
}

/* First index in [lo, hi) whose path is not < key. */
static size_t lower_bound(const struct ais_shard_index *idx, size_t lo,
			  size_t hi, const char *key, size_t kl)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, pl;
		const char *p = rec_path(idx, mid, &pl);

		if (ais__shard_pathcmp(p, pl, key, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index in [lo, hi) past key and all of key's descendants. */
static size_t subtree_end(const struct ais_shard_index *idx, size_t lo,
			  size_t hi, const char *key, size_t kl)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, pl;
		const char *p = rec_path(idx, mid, &pl);
		bool inside =
		    pl > kl && memcmp(p, key, kl) == 0 && p[kl] == '/';

		if (inside || ais__shard_pathcmp(p, pl, key, kl) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t ais_shard_index_seek(const struct ais_shard_index *idx,
			    const char *start_after)
{
	size_t n = (size_t)idx->hdr->count, kl, lo;
	char *key;
	int k;

	if (start_after == NULL || start_after[0] == '\0')
		return 0;
	kl = strlen(start_after);
	if ((key = malloc(kl + 2)) == NULL)
		return n;
	k = ais_shard_path_normalize(start_after, kl, key, kl + 2);
	kl = k < 0 ? 0 : (size_t)k;
	lo = lower_bound(idx, 0, n, key, kl);
	if (lo < n) {
		size_t pl;
		const char *p = rec_path(idx, lo, &pl);

		if (ais__shard_pathcmp(p, pl, key, kl) == 0)
			lo++;
	}
	free(key);
	return lo;
}

static void implicit_dir(struct ais_shard_member *m, const char *path)
{
	memset(m, 0, sizeof(*m));
	m->path = path;
	m->link = "";
	m->sparse_map = NULL;
	m->mode = S_IFDIR | 0755;
	m->type = AIS_SHARD_DIR;
	m->flags = AIS_SHARD_F_IMPLICIT;
}

/* Looks up normalised key; 0 and *pos = record, 1 = implicit dir (*pos =
 * first descendant), -ENOENT. */
static int find(const struct ais_shard_index *idx, const char *key, size_t kl,
		size_t *pos)
{
	size_t n = (size_t)idx->hdr->count, i = lower_bound(idx, 0, n, key, kl),
	       pl;
	const char *p;

	*pos = i;
	if (i >= n)
		return -ENOENT;
	p = rec_path(idx, i, &pl);
	if (ais__shard_pathcmp(p, pl, key, kl) == 0)
		return 0;
	if (pl > kl && memcmp(p, key, kl) == 0 && p[kl] == '/')
		return 1;
	return -ENOENT;
}

int ais_shard_index_lookup(const struct ais_shard_index *idx, const char *path,
			   struct ais_shard_member *m)
{
	size_t kl = strlen(path), pos;
	char stackbuf[512], *key = stackbuf;
	int k, rc;

	if (kl + 2 > sizeof(stackbuf) && (key = malloc(kl + 2)) == NULL)
		return -ENOMEM;
	k = ais_shard_path_normalize(path, kl, key, kl + 2);
	if (k == 0) {
		implicit_dir(m, path);
		rc = 0;
		goto out;
	}
	rc = find(idx, key, (size_t)k, &pos);
	if (rc == 0)
		rc = ais_shard_index_at(idx, pos, m);
	else if (rc == 1) {
		implicit_dir(m, path);
		rc = 0;
	}
out:
	if (key != stackbuf)
		free(key);
	return rc;
}

int ais_shard_index_readdir(const struct ais_shard_index *idx, const char *dir,
			    const char *start_after, size_t limit,
			    ais_shard_dirent_cb cb, void *arg)
{
	size_t n = (size_t)idx->hdr->count, dl = strlen(dir), lo, hi, i,
	       emitted = 0, cap;
	char *buf;
	int rc = 0, k;

	cap = (size_t)idx->hdr->max_path + dl +
	      (start_after ? strlen(start_after) : 0) + 4;
	if ((buf = malloc(cap)) == NULL)
		return -ENOMEM;
	k = ais_shard_path_normalize(dir, dl, buf, cap);
	if (k < 0) {
		rc = -ENOENT;
		goto out;
	}
	dl = (size_t)k;
	if (dl == 0) {
		lo = 0;
		hi = n;
	} else {
		size_t pos;

		rc = find(idx, buf, dl, &pos);
		if (rc < 0)
			goto out;
		lo = rc == 0 ? pos + 1 : pos;
		hi = subtree_end(idx, lo, n, buf, dl);
		if (rc == 0 && idx->recs[pos].type != AIS_SHARD_DIR &&
		    lo == hi) {
			rc = -ENOTDIR;
			goto out;
		}
		rc = 0;
		buf[dl++] = '/'; /* buf is now the children's prefix */
	}
	if (start_after != NULL && start_after[0] != '\0') {
		size_t sl = strlen(start_after);

		memcpy(buf + dl, start_after, sl);
		lo = subtree_end(idx, lo, hi, buf, dl + sl);
	}
	for (i = lo; i < hi && (limit == 0 || emitted < limit);) {
		size_t pl, cl;
		const char *p = rec_path(idx, i, &pl), *slash;
		struct ais_shard_member m;

		if (pl <= dl) { /* corrupt sidecar */
			rc = -EBADMSG;
			break;
		}
		slash = memchr(p + dl, '/', pl - dl);
		if (slash == NULL) {
			if ((rc = ais_shard_index_at(idx, i, &m)) < 0)
				break;
			rc = cb(arg, p + dl, &m);
			cl = pl - dl;
		} else {
			cl = (size_t)(slash - (p + dl));
			memcpy(buf + dl, p + dl, cl);
			buf[dl + cl] = '\0';
			implicit_dir(&m, buf);
			rc = cb(arg, buf + dl, &m);
		}
		emitted++;
		if (rc != 0)
			break;
		memcpy(buf + dl, p + dl, cl);
		i = subtree_end(idx, i + 1, hi, buf, dl + cl);
	}
out:
	free(buf);
	return rc;
}

int ais_shard_index_point(const struct ais_shard_index *idx, uint64_t off,
			  struct ais_shard_point *pt, const void **window)
{
	size_t lo = 0, hi = (size_t)idx->hdr->pt_count;

	/* Last point with out <= off. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx->pts[mid].out <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -ENOENT;
	*pt = idx->pts[lo - 1];
	if (pt->wlen > 0 && (pt->woff < SC_HDR || pt->woff > idx->map_len ||
			     pt->wlen > idx->map_len - pt->woff))
		return -EBADMSG;
	*window = pt->wlen > 0 ? idx->map + pt->woff : NULL;
	return 0;
}
