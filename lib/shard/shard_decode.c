/* The decoders of compressed shards: a gzip stream (concatenated members
 * too) inflated through a 32 KiB window, and LZ4 frames parsed here with
 * their blocks decoded by liblz4 (content checksums checked when whole
 * frames are decoded). Either can start at a seek point (with its window)
 * and offers new seek points to a callback while it decodes; a plain tar
 * passes through. The ais_shard_stream_* functions of shard_read.h. */
#include "shard_i.h"
#include "fileio.h"

#include <errno.h>
#include <inttypes.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#define GZ_WIN	 32768u
#define GZ_IBUF	 65536u
#define LZ4_DICT 65536u
#define LZ4_BMAX (4u << 20)

struct ais_shard_stream {
	enum ais_shard_format fmt;
	int fd;
	bool own_fd;   /* parked in a cache: fd is a dup the stream closes */
	uint64_t in;   /* next compressed byte to fetch from fd */
	uint64_t out;  /* decompressed offset of the next byte handed out */
	uint64_t prod; /* decompressed bytes produced so far */
	bool eof;
	ais_shard_point_cb cb;
	void *cbarg;
	uint64_t span, last_pt;
	/* gzip */
	z_stream z;
	bool zinit;
	bool raw; /* started at a point: gzip trailers are skipped by hand */
	uint8_t *ibuf;
	uint8_t *win; /* circular output window; [wcons, whave) is unread */
	size_t whave, wcons;
	/* lz4 */
	bool in_frame;
	uint8_t flg, bd;
	size_t bmax;
	uint8_t *cblk, *blk, *dict;
	size_t blen, bpos, dlen;
	XXH32_state_t *xxh; /* content checksum, when decoding whole frames */
	bool xxh_on;
};

/* A seek point is due span bytes of output after the last one. */
static bool point_due(const struct ais_shard_stream *s)
{
	return s->cb != NULL && s->prod > 0 && s->prod - s->last_pt >= s->span;
}

/* ---- gzip ---- */

static uint64_t gz_inpos(const struct ais_shard_stream *s)
{
	return s->in - s->z.avail_in;
}

static int gz_fill(struct ais_shard_stream *s)
{
	ssize_t r;

	if (s->z.avail_in > 0)
		return 0;
	if ((r = ais__shard_pread(s->fd, s->ibuf, GZ_IBUF, s->in)) < 0)
		return (int)r;
	s->z.next_in = s->ibuf;
	s->z.avail_in = (uInt)r;
	s->in += (uint64_t)r;
	return 0;
}

/* Reads one compressed byte (for trailers and member headers); -1 at EOF. */
static int gz_byte(struct ais_shard_stream *s, int *rc)
{
	*rc = gz_fill(s);
	if (*rc < 0 || s->z.avail_in == 0)
		return -1;
	s->z.avail_in--;
	return *s->z.next_in++;
}

/* After a gzip member's end: another member follows, or the stream ends
 * (trailing bytes that are not a gzip header are ignored, as gzip does). */
static int gz_next_member(struct ais_shard_stream *s, char *errmsg)
{
	int rc;

	if (s->raw) {
		for (int i = 0; i < 8; i++)
			if (gz_byte(s, &rc) < 0) {
				if (rc < 0)
					return rc;
				s->eof = true;
				return 0;
			}
		s->raw = false;
	}
	if ((rc = gz_fill(s)) < 0)
		return rc;
	if (s->z.avail_in == 0 || s->z.next_in[0] != 0x1f) {
		s->eof = true;
		return 0;
	}
	if (inflateReset2(&s->z, 31) != Z_OK)
		return ais_errf(errmsg, -EBADMSG, "gzip: cannot reset inflate");
	return 0;
}

static int gz_point(struct ais_shard_stream *s)
{
	struct ais_shard_point pt;
	uint8_t *w;
	int rc;

	if (!point_due(s))
		return 0;
	if ((w = malloc(GZ_WIN)) == NULL)
		return -ENOMEM;
	/* The window is the last 32 KiB of output, oldest first. */
	memcpy(w, s->win + s->whave, GZ_WIN - s->whave);
	memcpy(w + GZ_WIN - s->whave, s->win, s->whave);
	memset(&pt, 0, sizeof(pt));
	pt.out = s->prod;
	pt.in = gz_inpos(s);
	pt.bits = (uint8_t)(s->z.data_type & 7);
	pt.wlen = GZ_WIN;
	rc = s->cb(s->cbarg, &pt, w);
	free(w);
	s->last_pt = s->prod;
	return rc;
}

/* Produces more output into the window; on return [wcons, whave) holds
 * new bytes, or s->eof is set. */
static int gz_produce(struct ais_shard_stream *s, char *errmsg)
{
	int rc;

	if (s->whave == GZ_WIN)
		s->whave = 0;
	s->wcons = s->whave;
	while (!s->eof && s->wcons == s->whave) {
		size_t before;
		int zr;

		if ((rc = gz_fill(s)) < 0)
			return rc;
		if (s->z.avail_in == 0)
			return ais_errf(errmsg, -EBADMSG,
					"truncated gzip: compressed data ends "
					"at offset %" PRIu64
					" (decompressed %" PRIu64 ")",
					s->in, s->prod);
		s->z.next_out = s->win + s->whave;
		s->z.avail_out = (uInt)(GZ_WIN - s->whave);
		before = s->z.avail_out;
		zr = inflate(&s->z, Z_BLOCK);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return ais_errf(errmsg, -EBADMSG,
					"corrupt gzip data near compressed "
					"offset %" PRIu64
					" (decompressed %" PRIu64 "): %s",
					gz_inpos(s), s->prod,
					s->z.msg ? s->z.msg : "inflate error");
		s->whave += before - s->z.avail_out;
		s->prod += before - s->z.avail_out;
		if (zr == Z_STREAM_END) {
			if ((rc = gz_next_member(s, errmsg)) < 0)
				return rc;
		} else if ((s->z.data_type & 128) && !(s->z.data_type & 64)) {
			if ((rc = gz_point(s)) < 0)
				return rc;
		}
		if (s->whave == GZ_WIN && s->wcons == s->whave)
			s->whave = s->wcons = 0;
	}
	return 0;
}

static int gz_open(struct ais_shard_stream *s, const struct ais_shard_point *pt,
		   const void *window, char *errmsg)
{
	int rc;

	s->ibuf = malloc(GZ_IBUF);
	s->win = calloc(1, GZ_WIN);
	if (s->ibuf == NULL || s->win == NULL)
		return ais_errf(errmsg, -ENOMEM, "gzip: out of memory");
	if (pt == NULL) {
		if (inflateInit2(&s->z, 31) != Z_OK)
			return ais_errf(errmsg, -ENOMEM, "gzip: inflateInit");
		s->zinit = true;
		return 0;
	}
	if (inflateInit2(&s->z, -15) != Z_OK)
		return ais_errf(errmsg, -ENOMEM, "gzip: inflateInit");
	s->zinit = true;
	s->raw = true;
	if (pt->bits > 7 || (pt->bits > 0 && pt->in == 0))
		return ais_errf(errmsg, -EINVAL, "gzip: bad seek point");
	s->in = pt->in - (pt->bits ? 1 : 0);
	if (pt->bits) {
		int c = gz_byte(s, &rc);

		if (c < 0)
			return rc < 0 ? rc
				      : ais_errf(errmsg, -EBADMSG,
						 "gzip: seek point past the "
						 "end of the object");
		inflatePrime(&s->z, pt->bits, c >> (8 - pt->bits));
	}
	if (pt->wlen > 0 &&
	    inflateSetDictionary(&s->z, window, pt->wlen) != Z_OK)
		return ais_errf(errmsg, -EINVAL, "gzip: bad seek window");
	return 0;
}

/* ---- lz4 frames (parsed here; blocks decoded by liblz4) ---- */

static int lz4_set_frame(struct ais_shard_stream *s, uint8_t flg, uint8_t bd,
			 uint64_t at, char *errmsg)
{
	unsigned bs = (bd >> 4) & 7;

	if ((flg >> 6) != 1 || bs < 4)
		return ais_errf(errmsg, -EBADMSG,
				"corrupt lz4: bad frame descriptor at offset "
				"%" PRIu64,
				at);
	if (flg & 0x01)
		return ais_errf(errmsg, -EBADMSG,
				"lz4: frame at offset %" PRIu64
				" needs a dictionary (not supported)",
				at);
	s->flg = flg;
	s->bd = bd;
	s->bmax = (size_t)1 << (8 + 2 * bs);
	s->in_frame = true;
	return 0;
}

/* Reads frame headers (skipping skippable frames) up to the first block. */
static int lz4_frame_header(struct ais_shard_stream *s, char *errmsg)
{
	uint8_t h[19];
	ssize_t got;
	size_t hl;
	int rc;

	for (;;) {
		uint32_t magic;

		if ((got = ais__shard_pread(s->fd, h, 4, s->in)) < 0)
			return (int)got;
		if (got == 0) {
			s->eof = true;
			return 0;
		}
		if (got < 4)
			return ais_errf(errmsg, -EBADMSG,
					"truncated lz4: frame header at offset "
					"%" PRIu64 " is cut short",
					s->in);
		magic = ais__shard_le32(h);
		if ((magic & 0xfffffff0u) == 0x184d2a50u) {
			if ((got = ais__shard_pread(s->fd, h, 8, s->in)) < 0)
				return (int)got;
			if (got < 8)
				return ais_errf(errmsg, -EBADMSG,
						"truncated lz4: skippable "
						"frame at offset %" PRIu64,
						s->in);
			s->in += 8 + (uint64_t)ais__shard_le32(h + 4);
			continue;
		}
		if (magic == 0x184c2102u)
			return ais_errf(errmsg, -EBADMSG,
					"lz4: legacy format at offset %" PRIu64
					" is not supported (use the frame "
					"format)",
					s->in);
		if (magic != 0x184d2204u)
			return ais_errf(errmsg, -EBADMSG,
					"not lz4 data: bad frame magic at "
					"offset %" PRIu64,
					s->in);
		if ((got = ais__shard_pread(s->fd, h, 7, s->in)) < 0)
			return (int)got;
		if (got < 7)
			return ais_errf(errmsg, -EBADMSG,
					"truncated lz4: frame header at offset "
					"%" PRIu64 " is cut short",
					s->in);
		if ((rc = lz4_set_frame(s, h[4], h[5], s->in, errmsg)) < 0)
			return rc;
		hl = 4 + 2 + ((h[4] & 0x08) ? 8 : 0) + ((h[4] & 0x01) ? 4 : 0) +
		     1;
		s->in += hl;
		s->xxh_on = s->xxh != NULL && (h[4] & 0x04);
		if (s->xxh_on)
			XXH32_reset(s->xxh, 0);
		return 0;
	}
}

static int lz4_point(struct ais_shard_stream *s)
{
	struct ais_shard_point pt;
	int rc;

	if (!point_due(s))
		return 0;
	memset(&pt, 0, sizeof(pt));
	pt.out = s->prod;
	pt.in = s->in;
	pt.flg = s->flg;
	pt.bd = s->bd;
	pt.wlen = (s->flg & 0x20) ? 0 : (uint32_t)s->dlen;
	rc = s->cb(s->cbarg, &pt, s->dict);
	s->last_pt = s->prod;
	return rc;
}

/* Decodes the next block into s->blk. */
static int lz4_produce(struct ais_shard_stream *s, char *errmsg)
{
	uint8_t h[4];
	ssize_t got;
	size_t csz;
	uint32_t bs;
	uint64_t boff;
	int rc, n;

	s->blen = s->bpos = 0;
	while (!s->eof && s->blen == 0) {
		if (!s->in_frame) {
			if ((rc = lz4_frame_header(s, errmsg)) < 0)
				return rc;
			continue;
		}
		if ((rc = lz4_point(s)) < 0)
			return rc;
		boff = s->in;
		if ((got = ais__shard_pread(s->fd, h, 4, s->in)) < 0)
			return (int)got;
		if (got < 4)
			return ais_errf(errmsg, -EBADMSG,
					"truncated lz4: block header at offset "
					"%" PRIu64 " is cut short",
					boff);
		s->in += 4;
		bs = ais__shard_le32(h);
		if (bs == 0) { /* end mark */
			if (s->xxh_on) {
				uint8_t c[4];

				got = ais__shard_pread(s->fd, c, 4, s->in);
				if (got < 0)
					return (int)got;
				if (got < 4)
					return ais_errf(
					    errmsg, -EBADMSG,
					    "truncated lz4: content "
					    "checksum at offset "
					    "%" PRIu64 " is cut short",
					    s->in);
				if (ais__shard_le32(c) != XXH32_digest(s->xxh))
					return ais_errf(errmsg, -EBADMSG,
							"corrupt lz4: content "
							"checksum mismatch for "
							"the frame ending at "
							"offset %" PRIu64,
							s->in);
			}
			s->in += (s->flg & 0x04) ? 4 : 0;
			s->in_frame = false;
			s->dlen = 0;
			continue;
		}
		csz = bs & 0x7fffffffu;
		if (csz > s->bmax)
			return ais_errf(errmsg, -EBADMSG,
					"corrupt lz4: block at offset %" PRIu64
					" claims %zu bytes (maximum %zu)",
					boff, csz, s->bmax);
		if ((got = ais__shard_pread(s->fd, s->cblk, csz, s->in)) < 0)
			return (int)got;
		if ((size_t)got < csz)
			return ais_errf(
			    errmsg, -EBADMSG,
			    "truncated lz4: block at offset %" PRIu64
			    " claims %zu bytes, data ends at "
			    "%" PRIu64,
			    boff, csz, s->in + (uint64_t)got);
		s->in += csz + ((s->flg & 0x10) ? 4 : 0);
		if (bs & 0x80000000u) {
			memcpy(s->blk, s->cblk, csz);
			n = (int)csz;
		} else if (s->flg & 0x20) {
			n = LZ4_decompress_safe((const char *)s->cblk,
						(char *)s->blk, (int)csz,
						(int)s->bmax);
		} else {
			n = LZ4_decompress_safe_usingDict(
			    (const char *)s->cblk, (char *)s->blk, (int)csz,
			    (int)s->bmax, (const char *)s->dict, (int)s->dlen);
		}
		if (n < 0)
			return ais_errf(errmsg, -EBADMSG,
					"corrupt lz4: block at offset %" PRIu64
					" does not decode (decompressed "
					"%" PRIu64 ")",
					boff, s->prod);
		s->blen = (size_t)n;
		s->prod += (uint64_t)n;
		if (s->xxh_on)
			XXH32_update(s->xxh, s->blk, s->blen);
		if (!(s->flg & 0x20)) { /* linked blocks: keep 64 KiB back */
			if (s->blen >= LZ4_DICT) {
				memcpy(s->dict, s->blk + s->blen - LZ4_DICT,
				       LZ4_DICT);
				s->dlen = LZ4_DICT;
			} else {
				size_t keep = s->dlen + s->blen > LZ4_DICT
						  ? LZ4_DICT - s->blen
						  : s->dlen;

				memmove(s->dict, s->dict + s->dlen - keep,
					keep);
				memcpy(s->dict + keep, s->blk, s->blen);
				s->dlen = keep + s->blen;
			}
		}
	}
	return 0;
}

static int lz4_open(struct ais_shard_stream *s,
		    const struct ais_shard_point *pt, const void *window,
		    char *errmsg)
{
	int rc;

	s->cblk = malloc(LZ4_BMAX);
	s->blk = malloc(LZ4_BMAX);
	s->dict = malloc(LZ4_DICT);
	if (s->cblk == NULL || s->blk == NULL || s->dict == NULL)
		return ais_errf(errmsg, -ENOMEM, "lz4: out of memory");
	if (pt == NULL) {
		/* From the start, whole frames are decoded: check them. */
		if ((s->xxh = XXH32_createState()) == NULL)
			return ais_errf(errmsg, -ENOMEM, "lz4: out of memory");
		return 0;
	}
	if ((rc = lz4_set_frame(s, pt->flg, pt->bd, pt->in, errmsg)) < 0)
		return rc;
	if (pt->wlen > LZ4_DICT)
		return ais_errf(errmsg, -EINVAL, "lz4: bad seek window");
	if (pt->wlen > 0)
		memcpy(s->dict, window, pt->wlen);
	s->dlen = pt->wlen;
	s->in = pt->in;
	return 0;
}

/* ---- the stream ---- */

int ais_shard_stream_new(int obj_fd, enum ais_shard_format fmt,
			 const struct ais_shard_point *pt, const void *window,
			 struct ais_shard_stream **out, char *errmsg)
{
	struct ais_shard_stream *s;
	int rc = 0;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ais_errf(errmsg, -ENOMEM, "shard stream: out of memory");
	s->fmt = fmt;
	s->fd = obj_fd;
	if (pt != NULL) {
		s->out = s->prod = s->last_pt = pt->out;
		if (pt->wlen > 0 && window == NULL)
			rc = ais_errf(errmsg, -EINVAL,
				      "shard stream: seek point without its "
				      "window");
	}
	if (rc == 0) {
		switch (fmt) {
		case AIS_SHARD_TGZ:
			rc = gz_open(s, pt, window, errmsg);
			break;
		case AIS_SHARD_TLZ4:
			rc = lz4_open(s, pt, window, errmsg);
			break;
		case AIS_SHARD_TAR:
			s->in = pt ? pt->out : 0;
			break;
		default:
			rc = ais_errf(errmsg, -EINVAL,
				      "shard stream: format %s has no stream",
				      ais_shard_format_str(fmt));
		}
	}
	if (rc < 0) {
		ais_shard_stream_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void ais_shard_stream_on_point(struct ais_shard_stream *s, uint64_t span,
			       ais_shard_point_cb cb, void *arg)
{
	s->span = span;
	s->cb = cb;
	s->cbarg = arg;
}

uint64_t ais_shard_stream_offset(const struct ais_shard_stream *s)
{
	return s->out;
}

int ais_shard_stream_read(struct ais_shard_stream *s, void *buf, size_t len,
			  size_t *got, char *errmsg)
{
	uint8_t *p = buf;
	int rc;

	*got = 0;
	if (s->fmt == AIS_SHARD_TAR) { /* the object's bytes as they are */
		ssize_t r = ais__shard_pread(s->fd, buf, len, s->in);

		if (r < 0)
			return (int)r;
		s->in += (uint64_t)r;
		s->out += (uint64_t)r;
		*got = (size_t)r;
		return 0;
	}
	while (*got < len) {
		/* Either decoder's unread output: [*at, end) of out. */
		bool gz = s->fmt == AIS_SHARD_TGZ;
		const uint8_t *out = gz ? s->win : s->blk;
		size_t *at = gz ? &s->wcons : &s->bpos;
		size_t end = gz ? s->whave : s->blen, k;

		if (*at == end) {
			if (s->eof)
				break;
			rc = (gz ? gz_produce : lz4_produce)(s, errmsg);
			if (rc < 0)
				return rc;
			continue;
		}
		k = end - *at < len - *got ? end - *at : len - *got;
		memcpy(p + *got, out + *at, k);
		*at += k;
		*got += k;
		s->out += k;
	}
	return 0;
}

void ais_shard_stream_free(struct ais_shard_stream *s)
{
	if (s == NULL)
		return;
	if (s->zinit)
		inflateEnd(&s->z);
	if (s->own_fd)
		close(s->fd);
	free(s->ibuf);
	free(s->win);
	free(s->cblk);
	free(s->blk);
	free(s->dict);
	if (s->xxh != NULL)
		XXH32_freeState(s->xxh);
	free(s);
}

void ais__shard_stream_own_fd(struct ais_shard_stream *s)
{
	s->own_fd = true;
}

bool ais__shard_stream_ended(const struct ais_shard_stream *s)
{
	return s->eof;
}
