/* Shard indexes: tar and zip parsers, the sidecar format, lookups. */
#include "shard_index.h"
#include "shard_read.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the shard sidecar format is little-endian and read in place"
#endif

/*
 * Sidecar layout (all little-endian, read in place from mmap):
 *
 *   [0, 256)        struct sc_header
 *   [256, pt_off)   seek-point windows (written while decompressing)
 *   [pt_off, ...)   struct ais_shard_point[pt_count], sorted by out
 *   [str_off, ...)  string table: NUL-terminated paths and links in path
 *                   order, then the error message
 *   [rec_off, ...)  struct sc_rec[count], sorted component-wise by path
 */
#define SC_MAGIC   "AISSHIX"
#define SC_VERSION 1
#define SC_HDR	   256

struct sc_header {
	char magic[8];
	uint32_t version;
	uint32_t format;
	uint64_t obj_size;
	int64_t obj_mtime_ns;
	uint64_t obj_version;
	uint64_t count;
	uint64_t rec_off;
	uint64_t str_off;
	uint64_t str_len;
	uint64_t pt_off;
	uint64_t pt_count;
	uint64_t err_off; /* UINT64_MAX: no error */
	uint32_t err_str;
	uint32_t err_len;
	uint64_t file_size;
	uint64_t max_path;
};

struct sc_rec {
	uint64_t header_off;
	uint64_t data_off;
	uint64_t size;
	uint64_t csize;
	int64_t mtime;
	uint32_t path_off;
	uint32_t path_len;
	uint32_t link_off;
	uint32_t link_len;
	uint32_t mode;
	uint32_t crc32;
	uint8_t type;
	uint8_t method;
	uint8_t flags;
	uint8_t pad[5];
};

_Static_assert(sizeof(struct sc_header) <= SC_HDR, "header too big");
_Static_assert(sizeof(struct sc_rec) == 72, "record layout");
_Static_assert(sizeof(struct ais_shard_point) == 32, "point layout");

struct ais_shard_index {
	const uint8_t *map;
	size_t map_len;
	const struct sc_header *hdr;
	const struct sc_rec *recs;
	const char *strs;
	const struct ais_shard_point *pts;
};

/* Component-wise order: '/' sorts before any other byte, so a directory's
 * subtree follows it contiguously. */
static int pathcmp(const char *a, size_t al, const char *b, size_t bl)
{
	size_t n = al < bl ? al : bl;

	for (size_t i = 0; i < n; i++) {
		unsigned ca = (unsigned char)a[i], cb = (unsigned char)b[i];

		if (ca == cb)
			continue;
		ca = ca == '/' ? 0 : ca;
		cb = cb == '/' ? 0 : cb;
		return ca < cb ? -1 : 1;
	}
	return al < bl ? -1 : al > bl;
}

/* ---- the builder ---- */

struct brec {
	struct sc_rec r;
	uint64_t seq;
};

struct builder {
	enum ais_shard_format fmt;
	int obj_fd;
	uint64_t obj_size;
	struct brec *recs;
	size_t n, cap;
	char *arena;
	size_t alen, acap;
	uint64_t seq;
	size_t max_path;
	bool broken;
	char err[AIS_ERRMSG_LEN];
	uint64_t err_off;
	/* sidecar writer */
	int out_fd;
	uint8_t *wbuf;
	size_t wlen;
	uint64_t wflushed; /* file offset of wbuf[0] */
	struct ais_shard_point *pts;
	size_t npts, ptcap;
};

#define WBUF_SIZE (1u << 20)

static int out_flush(struct builder *b)
{
	size_t done = 0;

	while (done < b->wlen) {
		ssize_t w = pwrite(b->out_fd, b->wbuf + done, b->wlen - done,
				   (off_t)(b->wflushed + done));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)w;
	}
	b->wflushed += b->wlen;
	b->wlen = 0;
	return 0;
}

static int out_write(struct builder *b, const void *data, size_t len)
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

static uint64_t out_pos(const struct builder *b)
{
	return b->wflushed + b->wlen;
}

static int out_align8(struct builder *b)
{
	static const uint8_t zero[8];
	size_t pad = (8 - out_pos(b) % 8) % 8;

	return out_write(b, zero, pad);
}

/* Seek points arrive from the decompressor while the tar is parsed. */
static int on_point(void *arg, const struct ais_shard_point *pt,
		    const void *window)
{
	struct builder *b = arg;
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
static int64_t arena_add(struct builder *b, const char *s, size_t len,
			 bool normalize)
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

/* Adds a member; r's path/link fields are set here. An empty normalised
 * path (the archive's "./" root) is not a member. */
static int add_member(struct builder *b, struct sc_rec *r, const char *path,
		      size_t plen, const char *link, size_t llen,
		      bool norm_link)
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
		struct brec *nr = realloc(b->recs, cap * sizeof(*nr));

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

static void set_broken(struct builder *b, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_broken(struct builder *b, uint64_t off, const char *fmt, ...)
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

/* ---- byte source for the tar parser: the object, or a decoder ---- */

struct src {
	int fd;
	uint64_t size; /* object size (plain tar) */
	struct ais_shard_stream *st;
	uint64_t pos;  /* tar stream offset */
	char *scratch; /* plain tar: read-ahead of [rb_off, rb_off + rb_len) */
	uint64_t rb_off;
	size_t rb_len;
	char serr[AIS_ERRMSG_LEN];
};

#define SCRATCH 65536

/* Reads up to len bytes; short only at the end. Returns 0, -EBADMSG (with
 * s->serr) or -errno. */
static int src_read(struct src *s, void *buf, size_t len, size_t *got)
{
	*got = 0;
	if (s->st != NULL) {
		int rc = ais_shard_stream_read(s->st, buf, len, got, s->serr);

		s->pos += *got;
		return rc;
	}
	/* Headers are read through a 64 KiB read-ahead: a shard of small
	 * members then costs one pread per 64 KiB, not one per header. */
	while (*got < len && s->pos < s->size) {
		size_t k;
		ssize_t r;

		if (s->pos >= s->rb_off && s->pos < s->rb_off + s->rb_len) {
			size_t at = (size_t)(s->pos - s->rb_off);

			k = s->rb_len - at < len - *got ? s->rb_len - at
							: len - *got;
			memcpy((char *)buf + *got, s->scratch + at, k);
			*got += k;
			s->pos += k;
			continue;
		}
		k = s->size - s->pos < SCRATCH ? (size_t)(s->size - s->pos)
					       : SCRATCH;
		r = pread(s->fd, s->scratch, k, (off_t)s->pos);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return ais_errf(s->serr, -EBADMSG,
					"object shrank while indexing (EOF at "
					"%" PRIu64 ")",
					s->pos);
		s->rb_off = s->pos;
		s->rb_len = (size_t)r;
	}
	return 0;
}

/* Skips up to len bytes; *done < len only at the end. */
static int src_skip(struct src *s, uint64_t len, uint64_t *done)
{
	*done = 0;
	if (s->st == NULL) {
		uint64_t k = s->size - s->pos < len ? s->size - s->pos : len;

		s->pos += k;
		*done = k;
		return 0;
	}
	while (*done < len) {
		size_t k = len - *done > SCRATCH ? SCRATCH : len - *done, got;
		int rc = src_read(s, s->scratch, k, &got);

		*done += got;
		if (rc < 0)
			return rc;
		if (got < k)
			break;
	}
	return 0;
}

/* ---- tar ---- */

struct tar_pending {
	char *path; /* from 'L' or pax path (heap) */
	size_t path_len;
	char *link;
	size_t link_len;
	bool has_size, has_mtime, sparse, has_realsize;
	uint64_t size, realsize;
	int64_t mtime;
	uint64_t first_off; /* first extension header, UINT64_MAX if none */
	/* GNU sparse map as text "off,len,off,len," (heap) */
	char *smap;
	size_t smap_len, smap_cap;
	bool sparse_v1; /* pax sparse 1.0: the map opens the data */
	bool smap_bad;	/* unreadable map: the member is not readable */
};

static void pending_reset(struct tar_pending *t)
{
	free(t->path);
	free(t->link);
	free(t->smap);
	memset(t, 0, sizeof(*t));
	t->first_off = UINT64_MAX;
}

/* Parses a numeric tar field: octal (space/NUL padded) or base-256. */
static int tar_num(const uint8_t *f, size_t n, int64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		bool neg = f[0] & 0x40;

		v = neg ? ~0ull : 0;
		for (i = 0; i < n; i++) {
			uint8_t c =
			    i == 0 ? (neg ? f[0] : (f[0] & 0x7f)) : f[i];

			if (!neg && (v >> 56) != 0)
				return -ERANGE;
			v = (v << 8) | c;
		}
		if (!neg && v > INT64_MAX)
			return -ERANGE;
		*out = (int64_t)v;
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -ERANGE;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

static bool tar_cksum_ok(const uint8_t *h)
{
	int64_t want;
	uint64_t us = 0;
	int64_t ss = 0;

	if (tar_num(h + 148, 8, &want) < 0)
		return false;
	for (int i = 0; i < 512; i++) {
		uint8_t c = (i >= 148 && i < 156) ? ' ' : h[i];

		us += c;
		ss += (int8_t)c;
	}
	return (int64_t)us == want || ss == want;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

#define SMAP_MAX (1u << 20) /* sparse map text cap */

/* Appends the text [p, p + n) and a ',' to the sparse map. */
static int smap_add(struct tar_pending *t, const char *p, size_t n)
{
	if (t->smap_len + n + 2 > SMAP_MAX) {
		t->smap_bad = true;
		return 0;
	}
	if (t->smap_len + n + 2 > t->smap_cap) {
		size_t cap = t->smap_cap ? t->smap_cap * 2 : 256;
		char *ns;

		while (cap < t->smap_len + n + 2)
			cap *= 2;
		if ((ns = realloc(t->smap, cap)) == NULL)
			return -ENOMEM;
		t->smap = ns;
		t->smap_cap = cap;
	}
	memcpy(t->smap + t->smap_len, p, n);
	t->smap_len += n;
	t->smap[t->smap_len++] = ',';
	t->smap[t->smap_len] = '\0';
	return 0;
}

static int smap_add_num(struct tar_pending *t, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	return smap_add(t, num, (size_t)n);
}

/* Parses decimal u64 from [p, e); -EINVAL if anything else is there. */
static int parse_u64(const char *p, const char *e, uint64_t *out)
{
	uint64_t v = 0;

	if (p == e)
		return -EINVAL;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

static char *dup_mem(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* Applies pax records "LEN KEY=VALUE\n" to t. Returns 0, -EBADMSG or
 * -ENOMEM. */
static int pax_parse(const char *buf, size_t len, struct tar_pending *t)
{
	size_t i = 0;

	while (i < len) {
		const char *rec = buf + i, *sp, *eq, *key, *val, *end;
		uint64_t rlen;

		if (buf[i] == '\0')
			break; /* NUL padding */
		sp = memchr(rec, ' ', len - i);
		if (sp == NULL || parse_u64(rec, sp, &rlen) < 0 || rlen == 0 ||
		    rlen > len - i || rec[rlen - 1] != '\n')
			return -EBADMSG;
		end = rec + rlen - 1;
		key = sp + 1;
		eq = memchr(key, '=', (size_t)(end - key));
		if (eq == NULL)
			return -EBADMSG;
		val = eq + 1;
#define KEY(k)                                                                 \
	((size_t)(eq - key) == strlen(k) && memcmp(key, k, strlen(k)) == 0)
		if (KEY("path") || KEY("GNU.sparse.name")) {
			free(t->path);
			t->path_len = (size_t)(end - val);
			if ((t->path = dup_mem(val, t->path_len)) == NULL)
				return -ENOMEM;
		} else if (KEY("linkpath")) {
			free(t->link);
			t->link_len = (size_t)(end - val);
			if ((t->link = dup_mem(val, t->link_len)) == NULL)
				return -ENOMEM;
		} else if (KEY("size")) {
			if (parse_u64(val, end, &t->size) < 0)
				return -EBADMSG;
			t->has_size = true;
		} else if (KEY("mtime")) {
			const char *p = val, *dot;
			uint64_t v;
			bool neg = p < end && *p == '-';

			p += neg;
			dot = memchr(p, '.', (size_t)(end - p));
			if (parse_u64(p, dot ? dot : end, &v) < 0 ||
			    v > INT64_MAX)
				return -EBADMSG;
			t->mtime = neg ? -(int64_t)v : (int64_t)v;
			t->has_mtime = true;
		} else if (KEY("GNU.sparse.realsize") ||
			   KEY("GNU.sparse.size")) {
			if (parse_u64(val, end, &t->realsize) < 0)
				return -EBADMSG;
			t->has_realsize = true;
			t->sparse = true;
		} else if (KEY("GNU.sparse.major")) {
			t->sparse = true;
			t->sparse_v1 = end - val == 1 && val[0] == '1';
		} else if (KEY("GNU.sparse.map") || KEY("GNU.sparse.offset") ||
			   KEY("GNU.sparse.numbytes")) {
			/* 0.1: one "off,len,..." list; 0.0: repeated keys. */
			t->sparse = true;
			if (smap_add(t, val, (size_t)(end - val)) < 0)
				return -ENOMEM;
		} else if (KEY("GNU.sparse.numblocks")) {
			t->sparse = true;
		}
#undef KEY
		i += rlen;
	}
	return 0;
}

#define TAR_EXT_MAX (1u << 20) /* long name / pax header cap */

/* Reads an extension header's data (and padding) into a heap buffer. */
static int tar_read_ext(struct builder *b, struct src *s, uint64_t size,
			uint64_t hoff, const char *what, char **out)
{
	uint64_t pad = (512 - size % 512) % 512, skipped = 0;
	size_t got = 0;
	char *buf;
	int rc;

	*out = NULL;
	if (size > TAR_EXT_MAX) {
		set_broken(b, hoff,
			   "tar: %s header at offset %" PRIu64 " is %" PRIu64
			   " bytes (limit %u)",
			   what, hoff, size, TAR_EXT_MAX);
		return 1;
	}
	if ((buf = malloc(size + 1)) == NULL)
		return -ENOMEM;
	rc = src_read(s, buf, size, &got);
	if (rc == 0 && got == size)
		rc = src_skip(s, pad, &skipped);
	if (rc < 0 && rc != -EBADMSG) {
		free(buf);
		return rc;
	}
	if (rc == -EBADMSG || got < size || skipped < pad) {
		free(buf);
		if (rc == -EBADMSG)
			set_broken(b, s->pos, "%s", s->serr);
		else
			set_broken(b, hoff,
				   "truncated tar: %s header at offset %" PRIu64
				   " claims %" PRIu64
				   " bytes, archive ends at %" PRIu64,
				   what, hoff, size, s->pos);
		return 1;
	}
	buf[size] = '\0';
	*out = buf;
	return 0;
}

/* Old GNU sparse ('S'): 4 map entries in the header, then extension
 * blocks of 21 while the "extended" flag is set. 1 = broken (recorded). */
static int gnu_sparse_map(struct builder *b, struct src *s, const uint8_t *h,
			  struct tar_pending *t, uint64_t hoff)
{
	uint8_t blk[512];
	const uint8_t *e = h + 386;
	int n = 4, rc;
	bool ext = h[482] != 0;
	size_t got;

	for (;;) {
		for (int i = 0; i < n && e[i * 24] != 0; i++) {
			int64_t o, l;

			if (tar_num(e + i * 24, 12, &o) < 0 ||
			    tar_num(e + i * 24 + 12, 12, &l) < 0 || o < 0 ||
			    l < 0) {
				t->smap_bad = true;
				break;
			}
			if ((rc = smap_add_num(t, (uint64_t)o)) < 0 ||
			    (rc = smap_add_num(t, (uint64_t)l)) < 0)
				return rc;
		}
		if (!ext)
			return 0;
		rc = src_read(s, blk, 512, &got);
		if (rc == -EBADMSG) {
			set_broken(b, hoff, "%s", s->serr);
			return 1;
		}
		if (rc < 0)
			return rc;
		if (got < 512) {
			set_broken(b, hoff,
				   "truncated tar: sparse map of the member at "
				   "offset %" PRIu64 " is cut short",
				   hoff);
			return 1;
		}
		e = blk;
		n = 21;
		ext = blk[504] != 0;
	}
}

/* Pax sparse 1.0: the data opens with "N\n" and N "offset\nsize\n" pairs,
 * padded to 512 bytes. Consumes the map; *maplen gets its size. 1 = broken. */
static int pax_sparse_map(struct builder *b, struct src *s,
			  struct tar_pending *t, uint64_t hoff, uint64_t size,
			  uint64_t *maplen)
{
	char *buf = NULL;
	size_t len = 0, got;
	int rc = 0;

	*maplen = 0;
	for (;;) {
		uint64_t want = 0, v, seen = 0;
		const char *p, *e;
		char *nb;

		if (len + 512 > size || len + 512 > SMAP_MAX) {
			t->smap_bad = true; /* the data is skipped whole */
			break;
		}
		if ((nb = realloc(buf, len + 513)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		buf = nb;
		rc = src_read(s, buf + len, 512, &got);
		if (rc == -EBADMSG || (rc == 0 && got < 512)) {
			if (rc == -EBADMSG)
				set_broken(b, hoff, "%s", s->serr);
			else
				set_broken(b, hoff,
					   "truncated tar: sparse map of the "
					   "member at offset %" PRIu64
					   " is cut short",
					   hoff);
			rc = 1;
			break;
		}
		if (rc < 0)
			break;
		len += 512;
		*maplen = len;
		buf[len] = '\0';
		/* Is the whole map in? */
		for (p = buf; (e = memchr(p, '\n', len - (size_t)(p - buf)));
		     p = e + 1) {
			if (parse_u64(p, e, &v) < 0) {
				t->smap_bad = true;
				goto done;
			}
			if (seen == 0 && v > SMAP_MAX / 2) {
				t->smap_bad = true;
				goto done;
			}
			if (seen == 0)
				want = v;
			seen++;
			if (seen > 1 && want <= (SMAP_MAX / 2) &&
			    seen == 1 + 2 * want)
				break;
		}
		if (seen == 0 || seen < 1 + 2 * want)
			continue;
		/* Complete: turn it into "off,len,..." text. */
		seen = 0;
		for (p = buf; seen < 1 + 2 * want; p = e + 1, seen++) {
			e = memchr(p, '\n', len - (size_t)(p - buf));
			if (seen > 0 &&
			    (rc = smap_add(t, p, (size_t)(e - p))) < 0)
				goto done;
		}
		break;
	}
done:
	free(buf);
	return rc;
}

/* A sparse map is usable when its chunks ascend, fit in the real size and
 * add up to the stored data. */
static bool smap_ok(const char *m, uint64_t realsize, uint64_t stored)
{
	uint64_t prev_end = 0, sum = 0;

	while (*m) {
		char *e;
		uint64_t o = strtoull(m, &e, 10), l;

		if (*e != ',')
			return false;
		l = strtoull(e + 1, &e, 10);
		if (*e != ',' || o < prev_end || l > realsize ||
		    o > realsize - l)
			return false;
		prev_end = o + l;
		sum += l;
		m = e + 1;
	}
	return sum == stored;
}

static uint32_t type_mode(uint8_t type)
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

/* Parses a tar stream from s into b. Returns 0 (archive errors are
 * recorded in b) or -errno. */
static int tar_parse(struct builder *b, struct src *s)
{
	struct tar_pending t;
	uint8_t h[512];
	int rc = 0;

	memset(&t, 0, sizeof(t));
	pending_reset(&t);
	for (;;) {
		uint64_t hoff = s->pos, size, pad, skipped, data_off, maplen;
		int64_t v;
		size_t got;
		char name[257], lname[101];
		size_t nlen, llen;
		const char *path, *link;
		size_t plen, linklen;
		struct sc_rec r;
		char tf;
		bool ustar, gnu;

		rc = src_read(s, h, 512, &got);
		if (rc == -EBADMSG) {
			set_broken(b, hoff, "%s", s->serr);
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		if (got == 0) {
			/* EOF on a header boundary without the two zero
			 * blocks: tar accepts it, unless a long name or pax
			 * header was waiting for its member. */
			if (t.first_off != UINT64_MAX)
				set_broken(b, t.first_off,
					   "truncated tar: extension header at "
					   "offset %" PRIu64
					   " has no member, archive ends at "
					   "%" PRIu64,
					   t.first_off, hoff);
			else if (hoff > 0) /* an empty object is an empty tar */
				set_broken(b, hoff,
					   "truncated tar: no end-of-archive "
					   "marker, archive ends at %" PRIu64
					   " after a member (all members "
					   "before it are listed)",
					   hoff);
			break;
		}
		if (got < 512) {
			set_broken(b, hoff,
				   "truncated tar: header at offset %" PRIu64
				   " is cut short, archive ends at %" PRIu64,
				   hoff, hoff + got);
			break;
		}
		if (all_zero(h, 512))
			break; /* end of archive (a second zero block follows)
				*/
		if (!tar_cksum_ok(h)) {
			if (hoff == 0)
				set_broken(b, 0,
					   "not a tar archive: bad header "
					   "checksum at offset 0");
			else
				set_broken(b, hoff,
					   "corrupt tar: bad header checksum "
					   "at offset %" PRIu64,
					   hoff);
			break;
		}
		tf = (char)h[156];
		if (tar_num(h + 124, 12, &v) < 0 || v < 0) {
			set_broken(b, hoff,
				   "corrupt tar: bad size field in header at "
				   "offset %" PRIu64,
				   hoff);
			break;
		}
		size = (uint64_t)v;
		ustar = memcmp(h + 257, "ustar\0", 6) == 0;
		gnu = memcmp(h + 257, "ustar  \0", 8) == 0;

		if (tf == 'L' || tf == 'K' || tf == 'x' || tf == 'g') {
			char *buf;
			const char *what = tf == 'L'   ? "GNU long name"
					   : tf == 'K' ? "GNU long link"
						       : "pax";

			if (t.first_off == UINT64_MAX && tf != 'g')
				t.first_off = hoff;
			rc = tar_read_ext(b, s, size, hoff, what, &buf);
			if (rc != 0) {
				rc = rc > 0 ? 0 : rc;
				break;
			}
			if (tf == 'L' || tf == 'K') {
				size_t n = strnlen(buf, size);

				if (tf == 'L') {
					free(t.path);
					t.path = buf;
					t.path_len = n;
				} else {
					free(t.link);
					t.link = buf;
					t.link_len = n;
				}
				continue;
			}
			if (tf == 'x') {
				rc = pax_parse(buf, size, &t);
			} else {
				/* Global pax headers: nothing we index. */
				rc = 0;
			}
			free(buf);
			if (rc == -EBADMSG) {
				set_broken(b, hoff,
					   "corrupt tar: bad pax header at "
					   "offset %" PRIu64,
					   hoff);
				rc = 0;
				break;
			}
			if (rc < 0)
				break;
			continue;
		}
		if (tf == 'M') {
			set_broken(b, hoff,
				   "tar: multi-volume continuation at offset "
				   "%" PRIu64 " is not supported",
				   hoff);
			break;
		}

		memset(&r, 0, sizeof(r));
		r.header_off = t.first_off != UINT64_MAX ? t.first_off : hoff;
		if (t.has_size)
			size = t.size;
		nlen = strnlen((const char *)h, 100);
		if (ustar && h[345] != '\0') {
			size_t pl = strnlen((const char *)h + 345, 155);

			memcpy(name, h + 345, pl);
			name[pl] = '/';
			memcpy(name + pl + 1, h, nlen);
			nlen += pl + 1;
		} else {
			memcpy(name, h, nlen);
		}
		name[nlen] = '\0';
		llen = strnlen((const char *)h + 157, 100);
		memcpy(lname, h + 157, llen);
		lname[llen] = '\0';
		path = t.path ? t.path : name;
		plen = t.path ? t.path_len : nlen;
		link = t.link ? t.link : lname;
		linklen = t.link ? t.link_len : llen;

		switch (tf) {
		case '1':
			r.type = AIS_SHARD_HARDLINK;
			break;
		case '2':
			r.type = AIS_SHARD_SYMLINK;
			break;
		case '5':
		case 'D':
			r.type = AIS_SHARD_DIR;
			break;
		case '3':
		case '4':
		case '6':
			r.type = AIS_SHARD_OTHER;
			break;
		default:
			r.type = AIS_SHARD_FILE;
			/* Old (v7) tars mark directories by a trailing '/'. */
			if (!ustar && !gnu && plen > 0 && path[plen - 1] == '/')
				r.type = AIS_SHARD_DIR;
			break;
		}
		if (tar_num(h + 100, 8, &v) < 0)
			v = 0644;
		r.mode = ((uint32_t)v & 07777) | type_mode(r.type);
		if (r.type == AIS_SHARD_OTHER)
			r.mode |= tf == '3'   ? S_IFCHR
				  : tf == '4' ? S_IFBLK
					      : S_IFIFO;
		if (t.has_mtime)
			r.mtime = t.mtime;
		else if (tar_num(h + 136, 12, &v) == 0)
			r.mtime = v;
		/* A symlink's size field is ignored, as tar does. */
		if (r.type == AIS_SHARD_SYMLINK)
			size = 0;
		data_off = s->pos;
		r.data_off = data_off;
		r.method = AIS_SHARD_STORED;
		if (r.type == AIS_SHARD_FILE || r.type == AIS_SHARD_HARDLINK)
			r.size = size;
		maplen = 0;
		if (tf == 'S' || t.sparse) {
			int64_t rs;

			r.flags |= AIS_SHARD_F_SPARSE;
			if (t.has_realsize)
				r.size = t.realsize;
			else if (tf == 'S' && tar_num(h + 483, 12, &rs) == 0)
				r.size = (uint64_t)rs;
			if (tf == 'S')
				rc = gnu_sparse_map(b, s, h, &t, hoff);
			else if (t.sparse_v1)
				rc = pax_sparse_map(b, s, &t, hoff, size,
						    &maplen);
			if (rc != 0) {
				rc = rc > 0 ? 0 : rc;
				break;
			}
			r.data_off = s->pos;
			if (t.smap_bad || t.smap == NULL ||
			    !smap_ok(t.smap, r.size, size - maplen))
				r.method = AIS_SHARD_UNSUPPORTED;
			else {
				/* The map travels in the link string. */
				t.smap[--t.smap_len] = '\0';
				link = t.smap;
				linklen = t.smap_len;
			}
		}
		r.csize = size - maplen;

		rc = src_skip(s, size - maplen, &skipped);
		if (rc == -EBADMSG) {
			set_broken(b, hoff, "%s", s->serr);
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		if (skipped < size - maplen) {
			char shown[128];

			snprintf(shown, sizeof(shown), "%.*s",
				 (int)(plen < 100 ? plen : 100), path);
			set_broken(b, hoff,
				   "truncated tar: member '%s%s' header at "
				   "offset %" PRIu64 " claims %" PRIu64
				   " bytes, archive ends at %" PRIu64,
				   shown, plen > 100 ? "..." : "", hoff, size,
				   s->pos);
			break;
		}
		if (tf != 'V') { /* a volume label is not a member */
			rc = add_member(b, &r, path, plen, link, linklen,
					r.type == AIS_SHARD_HARDLINK);
			if (rc < 0)
				break;
		}
		pending_reset(&t);
		pad = (512 - size % 512) % 512;
		rc = src_skip(s, pad, &skipped);
		if (rc == -EBADMSG) {
			set_broken(b, s->pos, "%s", s->serr);
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		if (skipped < pad) {
			set_broken(b, s->pos,
				   "truncated tar: archive ends at %" PRIu64
				   " inside the padding after member data",
				   s->pos);
			break;
		}
	}
	pending_reset(&t);
	return rc;
}

/* ---- zip ---- */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	*got = 0;
	while (*got < len) {
		ssize_t r = pread(fd, (char *)buf + *got, len - *got,
				  (off_t)(off + *got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

static int64_t dos_time(uint16_t t, uint16_t d)
{
	struct tm tm = {
	    .tm_year = ((d >> 9) & 0x7f) + 80,
	    .tm_mon = ((d >> 5) & 0x0f) - 1,
	    .tm_mday = d & 0x1f,
	    .tm_hour = (t >> 11) & 0x1f,
	    .tm_min = (t >> 5) & 0x3f,
	    .tm_sec = (t & 0x1f) * 2,
	    .tm_isdst = -1,
	};

	return (int64_t)mktime(&tm);
}

/* Zip entry fields common to the central directory and local headers. */
struct zent {
	uint16_t made, flags, method, mtime_dos, mdate_dos;
	uint32_t crc, eattr;
	uint64_t csize, usize, lho;
	int64_t mtime;
	bool has_ut;
};

/* Applies the extra fields (zip64 sizes, unix mtime) to e. */
static void zip_extra(const uint8_t *x, size_t n, struct zent *e, bool local)
{
	size_t i = 0;

	while (i + 4 <= n) {
		uint16_t id = le16(x + i), sz = le16(x + i + 2);
		const uint8_t *d = x + i + 4;
		size_t k = 0;

		if (i + 4 + sz > n)
			break;
		if (id == 0x0001) {
			if (e->usize == 0xffffffff && k + 8 <= sz) {
				e->usize = le64(d + k);
				k += 8;
			}
			if (e->csize == 0xffffffff && k + 8 <= sz) {
				e->csize = le64(d + k);
				k += 8;
			}
			if (!local && e->lho == 0xffffffff && k + 8 <= sz)
				e->lho = le64(d + k);
		} else if (id == 0x5455 && sz >= 5 && (d[0] & 1)) {
			e->mtime = (int32_t)le32(d + 1);
			e->has_ut = true;
		}
		i += 4 + (size_t)sz;
	}
}

#define ZIP_SYMLINK_MAX 4096

/* Reads a zip symlink's target (its data) into a heap string. */
static int zip_link_target(int fd, const struct sc_rec *r, char **out)
{
	size_t got, cl = (size_t)r->csize;
	char *c, *u;
	int rc;

	*out = NULL;
	if (r->size > ZIP_SYMLINK_MAX || r->csize > ZIP_SYMLINK_MAX ||
	    r->method == AIS_SHARD_UNSUPPORTED)
		return 0;
	c = malloc(cl + 1);
	u = malloc((size_t)r->size + 1);
	if (c == NULL || u == NULL) {
		free(c);
		free(u);
		return -ENOMEM;
	}
	rc = pread_full(fd, c, cl, r->data_off, &got);
	if (rc == 0 && got == cl) {
		if (r->method == AIS_SHARD_STORED && cl == r->size) {
			memcpy(u, c, cl);
			u[cl] = '\0';
			*out = u;
			u = NULL;
		} else if (r->method == AIS_SHARD_DEFLATE) {
			z_stream z;

			memset(&z, 0, sizeof(z));
			if (inflateInit2(&z, -15) == Z_OK) {
				z.next_in = (Bytef *)c;
				z.avail_in = (uInt)cl;
				z.next_out = (Bytef *)u;
				z.avail_out = (uInt)r->size;
				if (inflate(&z, Z_FINISH) == Z_STREAM_END &&
				    z.total_out == r->size) {
					u[r->size] = '\0';
					*out = u;
					u = NULL;
				}
				inflateEnd(&z);
			}
		}
	}
	free(c);
	free(u);
	return rc;
}

/* Fills r from a parsed entry and adds it. */
static int zip_add(struct builder *b, struct zent *e, const char *name,
		   size_t nlen, uint64_t data_off)
{
	struct sc_rec r;
	uint32_t mode = 0;
	char *target = NULL;
	int rc;

	memset(&r, 0, sizeof(r));
	r.header_off = e->lho;
	r.data_off = data_off;
	r.size = e->usize;
	r.csize = e->csize;
	r.crc32 = e->crc;
	r.mtime = e->has_ut ? e->mtime : dos_time(e->mtime_dos, e->mdate_dos);
	if ((e->made >> 8) == 3)
		mode = e->eattr >> 16;
	if (S_ISLNK(mode)) {
		r.type = AIS_SHARD_SYMLINK;
	} else if (S_ISDIR(mode) || (nlen > 0 && name[nlen - 1] == '/')) {
		r.type = AIS_SHARD_DIR;
		r.size = 0;
	} else {
		r.type = AIS_SHARD_FILE;
	}
	if ((mode & 07777) == 0 && (mode & S_IFMT) == 0)
		mode = r.type == AIS_SHARD_DIR ? 0755 : 0644;
	mode = (mode & 07777) | type_mode(r.type);
	r.mode = mode;
	if (e->method == 0)
		r.method = AIS_SHARD_STORED;
	else if (e->method == 8)
		r.method = AIS_SHARD_DEFLATE;
	else
		r.method = AIS_SHARD_UNSUPPORTED;
	if (e->flags & 1) {
		r.method = AIS_SHARD_UNSUPPORTED;
		r.flags |= AIS_SHARD_F_ENCRYPTED;
	}
	if (r.method == AIS_SHARD_STORED && r.type != AIS_SHARD_DIR &&
	    r.csize != r.size) {
		/* Which size is right is anyone's guess: leave it out. */
		set_broken(b, e->lho,
			   "corrupt zip: stored member '%.*s' at offset "
			   "%" PRIu64 " has %" PRIu64
			   " bytes stored but a size "
			   "of %" PRIu64 " (member skipped)",
			   (int)(nlen < 100 ? nlen : 100), name, e->lho,
			   r.csize, r.size);
		return 0;
	}
	if (r.type == AIS_SHARD_SYMLINK) {
		if ((rc = zip_link_target(b->obj_fd, &r, &target)) < 0)
			return rc;
		r.size = 0;
	}
	rc = add_member(b, &r, name, nlen, target ? target : "",
			target ? strlen(target) : 0, false);
	free(target);
	return rc;
}

/* Reads the local header at e->lho; sets *data_off. 1 = broken (recorded). */
static int zip_local(struct builder *b, const struct zent *e, const char *name,
		     uint64_t *data_off)
{
	uint8_t lh[30];
	size_t got;
	int rc;

	rc = pread_full(b->obj_fd, lh, 30, e->lho, &got);
	if (rc < 0)
		return rc;
	if (got < 30 || le32(lh) != 0x04034b50) {
		set_broken(b, e->lho,
			   "corrupt zip: member '%.100s' local header at "
			   "offset %" PRIu64 " is %s",
			   name, e->lho, got < 30 ? "cut short" : "missing");
		return 1;
	}
	*data_off = e->lho + 30 + le16(lh + 26) + le16(lh + 28);
	if (*data_off + e->csize > b->obj_size) {
		set_broken(b, e->lho,
			   "truncated zip: member '%.100s' at offset %" PRIu64
			   " claims %" PRIu64
			   " bytes, archive ends at %" PRIu64,
			   name, e->lho, e->csize, b->obj_size);
		return 1;
	}
	return 0;
}

/* No central directory: recover what local headers describe. */
static int zip_scan_local(struct builder *b, const char *why)
{
	uint64_t pos = 0;
	size_t found = 0;
	char *name = malloc(65536 + 1);
	int rc = 0;

	if (name == NULL)
		return -ENOMEM;
	for (;;) {
		uint8_t lh[30];
		size_t got;
		struct zent e;
		uint16_t nlen, xlen;
		uint8_t x[65536];
		const char *stop = NULL;

		if ((rc = pread_full(b->obj_fd, lh, 30, pos, &got)) < 0)
			break;
		if (got >= 4 && le32(lh) == 0x02014b50) {
			stop = "the central directory starts there, its end "
			       "record is missing";
		} else if (got < 30 || le32(lh) != 0x04034b50) {
			stop = got == 0 ? "archive ends" : "no local header";
		} else {
			memset(&e, 0, sizeof(e));
			e.flags = le16(lh + 6);
			e.method = le16(lh + 8);
			e.mtime_dos = le16(lh + 10);
			e.mdate_dos = le16(lh + 12);
			e.crc = le32(lh + 14);
			e.csize = le32(lh + 18);
			e.usize = le32(lh + 22);
			nlen = le16(lh + 26);
			xlen = le16(lh + 28);
			e.lho = pos;
			if ((rc = pread_full(b->obj_fd, name, nlen, pos + 30,
					     &got)) < 0)
				break;
			if (got == nlen)
				rc = pread_full(b->obj_fd, x, xlen,
						pos + 30 + nlen, &got);
			if (rc < 0)
				break;
			name[nlen] = '\0';
			if (got != xlen)
				stop = "local header cut short";
			else if (e.flags & 8)
				stop = "member sizes in a data descriptor";
		}
		if (stop == NULL) {
			uint64_t doff;

			zip_extra(x, xlen, &e, true);
			doff = pos + 30 + nlen + xlen;
			if (doff + e.csize > b->obj_size) {
				stop = "member data cut short";
			} else {
				rc = zip_add(b, &e, name, nlen, doff);
				if (rc < 0)
					break;
				found++;
				pos = doff + e.csize;
				continue;
			}
		}
		set_broken(b, pos,
			   "%s; %zu members recovered from local headers, "
			   "stopped at offset %" PRIu64 " (%s)",
			   why, found, pos, stop);
		break;
	}
	free(name);
	return rc;
}

static int zip_parse(struct builder *b)
{
	uint8_t *tail, *cbuf = NULL;
	size_t tlen, got, i, found = 0;
	uint64_t tail_off, eocd = UINT64_MAX, cd_off, cd_size, n_total;
	int rc;

	tlen = b->obj_size < 65557 ? (size_t)b->obj_size : 65557;
	tail_off = b->obj_size - tlen;
	if ((tail = malloc(tlen + 1)) == NULL)
		return -ENOMEM;
	if ((rc = pread_full(b->obj_fd, tail, tlen, tail_off, &got)) < 0)
		goto out;
	for (i = tlen >= 22 ? tlen - 22 + 1 : 0; i-- > 0;) {
		if (le32(tail + i) == 0x06054b50 &&
		    i + 22 + le16(tail + i + 20) <= tlen) {
			eocd = tail_off + i;
			break;
		}
	}
	if (eocd == UINT64_MAX) {
		rc = zip_scan_local(b, "zip: end of central directory not "
				       "found (truncated, or not a zip)");
		goto out;
	}
	i = (size_t)(eocd - tail_off);
	n_total = le16(tail + i + 10);
	cd_size = le32(tail + i + 12);
	cd_off = le32(tail + i + 16);
	if (eocd >= 20 && i >= 20 && le32(tail + i - 20) == 0x07064b50) {
		uint64_t z64 = le64(tail + i - 20 + 8);
		uint8_t zr[56];

		if ((rc = pread_full(b->obj_fd, zr, 56, z64, &got)) < 0)
			goto out;
		if (got < 56 || le32(zr) != 0x06064b50) {
			set_broken(b, z64,
				   "corrupt zip: zip64 end of central "
				   "directory missing at offset %" PRIu64,
				   z64);
			goto out;
		}
		n_total = le64(zr + 32);
		cd_size = le64(zr + 40);
		cd_off = le64(zr + 48);
	}
	if (cd_off > eocd || cd_size > eocd - cd_off) {
		rc = zip_scan_local(b, "corrupt zip: central directory "
				       "outside the archive");
		goto out;
	}
	/* Read the central directory in chunks; entries are < 64 KiB * 3. */
	{
		size_t cap = 4u << 20, have = 0, at = 0;
		uint64_t pos = cd_off, end = cd_off + cd_size;

		if ((cbuf = malloc(cap)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		while (found < n_total || pos + at < end) {
			struct zent e;
			uint16_t nlen, xlen, clen;
			size_t elen;
			uint64_t data_off, eoff;
			char *name;

			if (have - at < 46 + 3 * 65536 && pos + have < end) {
				size_t k;

				memmove(cbuf, cbuf + at, have - at);
				pos += at;
				have -= at;
				at = 0;
				k = cap - have;
				if (k > end - (pos + have))
					k = (size_t)(end - (pos + have));
				rc = pread_full(b->obj_fd, cbuf + have, k,
						pos + have, &got);
				if (rc < 0)
					goto out;
				have += got;
			}
			eoff = pos + at;
			if (eoff >= end)
				break;
			if (have - at < 46 || le32(cbuf + at) != 0x02014b50) {
				set_broken(b, eoff,
					   "corrupt zip: bad central directory "
					   "entry at offset %" PRIu64,
					   eoff);
				goto out;
			}
			memset(&e, 0, sizeof(e));
			e.made = le16(cbuf + at + 4);
			e.flags = le16(cbuf + at + 8);
			e.method = le16(cbuf + at + 10);
			e.mtime_dos = le16(cbuf + at + 12);
			e.mdate_dos = le16(cbuf + at + 14);
			e.crc = le32(cbuf + at + 16);
			e.csize = le32(cbuf + at + 20);
			e.usize = le32(cbuf + at + 24);
			nlen = le16(cbuf + at + 28);
			xlen = le16(cbuf + at + 30);
			clen = le16(cbuf + at + 32);
			e.eattr = le32(cbuf + at + 38);
			e.lho = le32(cbuf + at + 42);
			elen = 46 + (size_t)nlen + xlen + clen;
			if (have - at < elen) {
				set_broken(b, eoff,
					   "corrupt zip: central directory "
					   "entry at offset %" PRIu64
					   " runs past its end",
					   eoff);
				goto out;
			}
			zip_extra(cbuf + at + 46 + nlen, xlen, &e, false);
			/* The name is copied so it can be NUL-terminated. */
			name = dup_mem((char *)cbuf + at + 46, nlen);
			if (name == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			rc = zip_local(b, &e, name, &data_off);
			if (rc == 0)
				rc = zip_add(b, &e, name, nlen, data_off);
			free(name);
			if (rc != 0) {
				rc = rc > 0 ? 0 : rc;
				goto out;
			}
			found++;
			at += elen;
		}
	}
out:
	free(cbuf);
	free(tail);
	return rc;
}

/* ---- finishing: sort, dedup, hard links, write ---- */

static int brec_cmp(const void *a, const void *b, void *arg)
{
	const struct brec *x = a, *y = b;
	const char *ar = arg;
	int c = pathcmp(ar + x->r.path_off, x->r.path_len, ar + y->r.path_off,
			y->r.path_len);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static ssize_t brec_find(const struct builder *b, const char *p, size_t n)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct sc_rec *r = &b->recs[mid].r;
		int c = pathcmp(b->arena + r->path_off, r->path_len, p, n);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void finish_members(struct builder *b)
{
	size_t i, o = 0;

	if (b->n > 1)
		qsort_r(b->recs, b->n, sizeof(*b->recs), brec_cmp, b->arena);
	/* Keep the last of equal paths (highest seq sorts last). */
	for (i = 0; i < b->n; i++) {
		if (i + 1 < b->n &&
		    pathcmp(b->arena + b->recs[i].r.path_off,
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

static int write_sidecar(struct builder *b, const struct ais_shard_stamp *st)
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

/* Decodes the compressed stream to its end after the tar's end marker, so
 * that the gzip CRC (which covers every member) is checked. */
static int drain(struct builder *b, struct src *s)
{
	uint64_t skipped;
	int rc = src_skip(s, UINT64_MAX, &skipped);

	if (rc == -EBADMSG) {
		set_broken(b, s->pos, "%s", s->serr);
		rc = 0;
	}
	return rc;
}

int ais_shard_index_build(int obj_fd, enum ais_shard_format fmt,
			  const struct ais_shard_stamp *stamp, int out_fd,
			  struct ais_shard_index **out, char *errmsg)
{
	struct builder b;
	struct src s;
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
	memset(&s, 0, sizeof(s));
	b.fmt = fmt;
	b.obj_fd = obj_fd;
	b.obj_size = (uint64_t)stt.st_size;
	b.out_fd = out_fd;
	b.wflushed = SC_HDR;
	b.wbuf = malloc(WBUF_SIZE);
	s.fd = obj_fd;
	s.size = b.obj_size;
	s.scratch = malloc(SCRATCH);
	if (b.wbuf == NULL || s.scratch == NULL) {
		rc = ais_errf(errmsg, -ENOMEM, "shard index: out of memory");
		goto out;
	}
	/* The arena's first byte is a NUL no path ends at. */
	if ((rc = (int)arena_add(&b, "", 0, false)) < 0)
		goto out;

	if (fmt == AIS_SHARD_ZIP) {
		rc = zip_parse(&b);
	} else {
		if (fmt != AIS_SHARD_TAR) {
			rc = ais_shard_stream_new(obj_fd, fmt, NULL, NULL,
						  &s.st, errmsg);
			if (rc < 0)
				goto out;
			ais_shard_stream_on_point(s.st,
						  fmt == AIS_SHARD_TGZ
						      ? AIS_SHARD_GZ_SPAN
						      : AIS_SHARD_LZ4_SPAN,
						  on_point, &b);
		}
		rc = tar_parse(&b, &s);
		if (rc == 0 && s.st != NULL && !b.broken)
			rc = drain(&b, &s);
	}
	if (rc < 0) {
		ais_errf(errmsg, rc, "shard index: %s", strerror(-rc));
		goto out;
	}
	finish_members(&b);
	if ((rc = write_sidecar(&b, stamp)) < 0) {
		ais_errf(errmsg, rc, "shard index: writing sidecar: %s",
			 strerror(-rc));
		goto out;
	}
	if (out != NULL)
		rc = ais_shard_index_open(out_fd, out, errmsg);
out:
	ais_shard_stream_free(s.st);
	free(s.scratch);
	free(b.wbuf);
	free(b.recs);
	free(b.arena);
	free(b.pts);
	if (own_out)
		close(out_fd);
	return rc;
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
	if (rc < 0)
		goto err_unlink;
	if (fsync(fd) < 0) {
		rc = ais_errf(errmsg, -errno, "shard index: fsync %s: %s", tmp,
			      strerror(errno));
		goto err_unlink;
	}
	if (rename(tmp, path) < 0) {
		rc = ais_errf(errmsg, -errno, "shard index: rename to %s: %s",
			      path, strerror(errno));
		goto err_unlink;
	}
	if (out != NULL && (rc = ais_shard_index_open(fd, out, errmsg)) < 0) {
		close(fd);
		return rc;
	}
	close(fd);
	return 0;

err_unlink:
	unlink(tmp);
	close(fd);
	return rc;
}

/* ---- loading and lookups ---- */

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

		if (pathcmp(p, pl, key, kl) < 0)
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

		if (inside || pathcmp(p, pl, key, kl) <= 0)
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

		if (pathcmp(p, pl, key, kl) == 0)
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
	if (pathcmp(p, pl, key, kl) == 0)
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
