/* Building an index: the builder the archive parsers (shard_tar.c,
 * shard_zip.c) add members and seek points to, and what happens once an
 * archive is parsed: members sorted by path, duplicates dropped (the last
 * wins), hard links resolved, and the sidecar written (its layout is in
 * shard_i.h); ais_shard_index_build() and ais_shard_index_save(). */
#include "shard_i.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the builder ---- */

/* A member and its arrival order (the last of equal paths wins). */
struct ais__shard_brec {
	struct sc_rec r;
	uint64_t seq;
};

#define WBUF_SIZE (1u << 20)

static int out_flush(struct ais__shard_builder *b)
{
	int rc = ais_pwrite_all(b->out_fd, b->wbuf, b->wlen, b->wflushed);

	if (rc < 0)
		return rc;
	b->wflushed += b->wlen;
	b->wlen = 0;
	return 0;
}

static int out_write(struct ais__shard_builder *b, const void *data, size_t len)
{
	const uint8_t *p = data;
	int rc;

	while (len > 0) {
		size_t k = WBUF_SIZE - b->wlen;

		if (k > len)
			k = len;
		memcpy(b->wbuf + b->wlen, p, k);
		b->wlen += k;
		p += k;
		len -= k;
		if (b->wlen == WBUF_SIZE && (rc = out_flush(b)) < 0)
			return rc;
	}
	return 0;
}

static uint64_t out_pos(const struct ais__shard_builder *b)
{
	return b->wflushed + b->wlen;
}

static int out_align8(struct ais__shard_builder *b)
{
	static const uint8_t zero[8];
	size_t pad = (8 - out_pos(b) % 8) % 8;

	return out_write(b, zero, pad);
}

/* Seek points arrive from the decompressor while the tar is parsed. */
int ais__shard_add_point(void *arg, const struct ais_shard_point *pt,
			 const void *window)
{
	struct ais__shard_builder *b = arg;
	struct ais_shard_point p = *pt;
	int rc;

	if (b->npts == b->ptcap) {
		size_t cap = b->ptcap ? b->ptcap * 2 : 256;
		void *np = realloc(b->pts, cap * sizeof(*b->pts));

		if (np == NULL)
			return -ENOMEM;
		b->pts = np;
		b->ptcap = cap;
	}
	p.woff = 0;
	if (p.wlen > 0) {
		p.woff = out_pos(b);
		if ((rc = out_write(b, window, p.wlen)) < 0)
			return rc;
	}
	b->pts[b->npts++] = p;
	return 0;
}

/* Appends a string (and a NUL) to the arena; returns its offset or -errno. */
static int64_t arena_add(struct ais__shard_builder *b, const char *s,
			 size_t len, bool normalize)
{
	size_t need = b->alen + len + 2;
	int64_t off = (int64_t)b->alen;

	if (need > UINT32_MAX)
		return -EFBIG;
	if (need > b->acap) {
		size_t cap = b->acap ? b->acap : 1 << 16;
		char *na;

		while (cap < need)
			cap *= 2;
		na = realloc(b->arena, cap);
		if (na == NULL)
			return -ENOMEM;
		b->arena = na;
		b->acap = cap;
	}
	if (normalize) {
		int n = ais_shard_path_normalize(s, len, b->arena + b->alen,
						 len + 2);
		if (n < 0)
			return n;
		b->alen += (size_t)n + 1;
	} else {
		memcpy(b->arena + b->alen, s, len);
		b->arena[b->alen + len] = '\0';
		b->alen += len + 1;
	}
	return off;
}

int ais__shard_add_member(struct ais__shard_builder *b, struct sc_rec *r,
			  const char *path, size_t plen, const char *link,
			  size_t llen, bool norm_link)
{
	int64_t po, lo = -1;
	size_t n;

	po = arena_add(b, path, plen, true);
	if (po < 0)
		return (int)po;
	n = strlen(b->arena + po);
	if (n == 0) {
		b->alen = (size_t)po;
		return 0;
	}
	if (llen > 0 && (lo = arena_add(b, link, llen, norm_link)) < 0)
		return (int)lo;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct ais__shard_brec *nr =
		    realloc(b->recs, cap * sizeof(*nr));

		if (nr == NULL)
			return -ENOMEM;
		b->recs = nr;
		b->cap = cap;
	}
	r->path_off = (uint32_t)po;
	r->path_len = (uint32_t)n;
	if (lo >= 0) {
		r->link_off = (uint32_t)lo;
		r->link_len = (uint32_t)strlen(b->arena + lo);
	} else {
		/* The arena's first byte is never a path's end, so point at
		 * an empty string: the NUL after the path just added. */
		r->link_off = (uint32_t)(po + (int64_t)n);
		r->link_len = 0;
	}
	if (n > b->max_path)
		b->max_path = n;
	b->recs[b->n].r = *r;
	b->recs[b->n].seq = b->seq++;
	b->n++;
	return 0;
}

void ais__shard_set_broken(struct ais__shard_builder *b, uint64_t off,
			   const char *fmt, ...)
{
	va_list ap;

	if (b->broken)
		return;
	b->broken = true;
	b->err_off = off;
	va_start(ap, fmt);
	vsnprintf(b->err, sizeof(b->err), fmt, ap);
	va_end(ap);
}

uint32_t ais__shard_type_mode(uint8_t type)
{
	switch (type) {
	case AIS_SHARD_DIR:
		return S_IFDIR;
	case AIS_SHARD_SYMLINK:
		return S_IFLNK;
	case AIS_SHARD_OTHER:
		return 0;
	default:
		return S_IFREG;
	}
}

char *ais__shard_memdup(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* ---- finishing: sort, dedup, hard links, write ---- */

static int brec_cmp(const void *a, const void *b, void *arg)
{
	const struct ais__shard_brec *x = a, *y = b;
	const char *ar = arg;
	int c = ais__shard_pathcmp(ar + x->r.path_off, x->r.path_len,
				   ar + y->r.path_off, y->r.path_len);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static ssize_t brec_find(const struct ais__shard_builder *b, const char *p,
			 size_t n)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct sc_rec *r = &b->recs[mid].r;
		int c = ais__shard_pathcmp(b->arena + r->path_off, r->path_len,
					   p, n);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void finish_members(struct ais__shard_builder *b)
{
	size_t i, o = 0;

	if (b->n > 1)
		qsort_r(b->recs, b->n, sizeof(*b->recs), brec_cmp, b->arena);
	/* Keep the last of equal paths (highest seq sorts last). */
	for (i = 0; i < b->n; i++) {
		if (i + 1 < b->n &&
		    ais__shard_pathcmp(b->arena + b->recs[i].r.path_off,
				       b->recs[i].r.path_len,
				       b->arena + b->recs[i + 1].r.path_off,
				       b->recs[i + 1].r.path_len) == 0)
			continue;
		b->recs[o++] = b->recs[i];
	}
	b->n = o;
	/* A hard link without data of its own reads as its target. */
	for (i = 0; i < b->n; i++) {
		struct sc_rec *r = &b->recs[i].r;
		const struct sc_rec *t = r;

		if (r->type != AIS_SHARD_HARDLINK || r->size > 0)
			continue;
		for (int hop = 0; hop < 8 && t->type == AIS_SHARD_HARDLINK;
		     hop++) {
			ssize_t j =
			    brec_find(b, b->arena + t->link_off, t->link_len);
			if (j < 0 || &b->recs[j].r == r)
				break;
			t = &b->recs[j].r;
		}
		if (t != r && t->type == AIS_SHARD_FILE) {
			r->data_off = t->data_off;
			r->size = t->size;
			r->csize = t->csize;
			r->method = t->method;
			r->flags |= t->flags;
			r->crc32 = t->crc32;
		}
	}
}

static int write_sidecar(struct ais__shard_builder *b,
			 const struct ais_shard_stamp *st)
{
	struct sc_header h;
	uint64_t so;
	int rc;

	memset(&h, 0, sizeof(h));
	if ((rc = out_align8(b)) < 0)
		return rc;
	h.pt_off = out_pos(b);
	h.pt_count = b->npts;
	if ((rc = out_write(b, b->pts, b->npts * sizeof(*b->pts))) < 0)
		return rc;
	/* Strings go out in path order, so that lookups and listings touch
	 * neighbouring pages; offsets are rewritten to the new table. */
	h.str_off = out_pos(b);
	if ((rc = out_write(b, "", 1)) < 0)
		return rc;
	so = 1;
	for (size_t i = 0; i < b->n; i++) {
		struct sc_rec *r = &b->recs[i].r;

		if ((rc = out_write(b, b->arena + r->path_off,
				    r->path_len + 1)) < 0)
			return rc;
		r->path_off = (uint32_t)so;
		so += r->path_len + 1;
		if (r->link_len == 0) {
			r->link_off = (uint32_t)(so - 1);
			continue;
		}
		if ((rc = out_write(b, b->arena + r->link_off,
				    r->link_len + 1)) < 0)
			return rc;
		r->link_off = (uint32_t)so;
		so += r->link_len + 1;
	}
	if (b->broken) {
		h.err_str = (uint32_t)so;
		h.err_len = (uint32_t)strlen(b->err);
		if ((rc = out_write(b, b->err, h.err_len + 1)) < 0)
			return rc;
		so += h.err_len + 1;
	}
	h.str_len = so;
	if ((rc = out_align8(b)) < 0)
		return rc;
	h.rec_off = out_pos(b);
	h.count = b->n;
	for (size_t i = 0; i < b->n; i++)
		if ((rc = out_write(b, &b->recs[i].r, sizeof(struct sc_rec))) <
		    0)
			return rc;
	h.file_size = out_pos(b);
	if ((rc = out_flush(b)) < 0)
		return rc;
	memcpy(h.magic, SC_MAGIC, sizeof(SC_MAGIC));
	h.version = SC_VERSION;
	h.format = b->fmt;
	if (st != NULL) {
		h.obj_size = st->size;
		h.obj_mtime_ns = st->mtime_ns;
		h.obj_version = st->version;
	}
	h.err_off = b->broken ? b->err_off : UINT64_MAX;
	h.max_path = b->max_path;
	b->wflushed = 0;
	if ((rc = out_write(b, &h, sizeof(h))) < 0)
		return rc;
	return out_flush(b);
}

int ais_shard_index_build(int obj_fd, enum ais_shard_format fmt,
			  const struct ais_shard_stamp *stamp, int out_fd,
			  struct ais_shard_index **out, char *errmsg)
{
	struct ais__shard_builder b;
	struct stat stt;
	bool own_out = false;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (fmt != AIS_SHARD_TAR && fmt != AIS_SHARD_TGZ &&
	    fmt != AIS_SHARD_TLZ4 && fmt != AIS_SHARD_ZIP)
		return ais_errf(errmsg, -EINVAL, "not a shard format (%d)",
				(int)fmt);
	if (fstat(obj_fd, &stt) < 0)
		return ais_errf(errmsg, -errno, "shard: fstat: %s",
				strerror(errno));
	if (out_fd < 0) {
		out_fd = memfd_create("ais-shard-index", MFD_CLOEXEC);
		if (out_fd < 0)
			return ais_errf(errmsg, -errno,
					"shard index: memfd_create: %s",
					strerror(errno));
		own_out = true;
	} else if (ftruncate(out_fd, 0) < 0) {
		return ais_errf(errmsg, -errno, "shard index: truncate: %s",
				strerror(errno));
	}
	memset(&b, 0, sizeof(b));
	b.fmt = fmt;
	b.obj_fd = obj_fd;
	b.obj_size = (uint64_t)stt.st_size;
	b.out_fd = out_fd;
	b.wflushed = SC_HDR;
	b.wbuf = malloc(WBUF_SIZE);
	if (b.wbuf == NULL) {
		rc = ais_errf(errmsg, -ENOMEM, "shard index: out of memory");
		goto out;
	}
	/* The arena's first byte is a NUL no path ends at. */
	if ((rc = (int)arena_add(&b, "", 0, false)) < 0)
		goto out;

	if (fmt == AIS_SHARD_ZIP)
		rc = ais__shard_zip_parse(&b, errmsg);
	else
		rc = ais__shard_tar_parse(&b, errmsg);
	if (rc < 0)
		goto out;
	finish_members(&b);
	if ((rc = write_sidecar(&b, stamp)) < 0) {
		ais_errf(errmsg, rc, "shard index: writing sidecar: %s",
			 strerror(-rc));
		goto out;
	}
	if (out != NULL)
		rc = ais_shard_index_open(out_fd, out, errmsg);
out:
	free(b.wbuf);
	free(b.recs);
	free(b.arena);
	free(b.pts);
	if (own_out)
		close(out_fd);
	return rc;
}

/* True when path names the file open on fd. */
static bool is_file(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int ais_shard_index_save(int obj_fd, enum ais_shard_format fmt,
			 const struct ais_shard_stamp *stamp, const char *path,
			 struct ais_shard_index **out, char *errmsg)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (out != NULL)
		*out = NULL;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return ais_errf(errmsg, -ENAMETOOLONG,
				"shard index: path too long: %s", path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return ais_errf(errmsg, -errno, "shard index: create %s: %s",
				tmp, strerror(errno));
	rc = ais_shard_index_build(obj_fd, fmt, stamp, fd, NULL, errmsg);
	if (rc < 0) {
		unlink(tmp);
		goto out;
	}
	/* fsync, rename, fsync of the directory; tmp is gone on failure. */
	rc = ais_file_commit(fd, tmp, path);
	if (rc < 0 && is_file(fd, path)) /* renamed: the directory's fsync */
		ais_errf(errmsg, rc,
			 "shard index: %s is in place, but the fsync of its "
			 "directory failed: %s",
			 path, strerror(-rc));
	else if (rc < 0)
		ais_errf(errmsg, rc,
			 "shard index: fsync %s or rename to %s: %s", tmp, path,
			 strerror(-rc));
	else if (out != NULL)
		rc = ais_shard_index_open(fd, out, errmsg);
out:
	close(fd);
	return rc;
}
