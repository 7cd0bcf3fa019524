/* Member reads: a plain range of the object (tar, stored zip), a deflated
 * zip member inflated from its start, a tar.gz / tar.lz4 member decoded
 * from the nearest seek point, a GNU sparse member with its holes as zeros;
 * and the cache of parked tar.gz decoders that lets consecutive reads of a
 * member go on where the last one stopped. */
#include "shard_i.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static __thread ais_shard_reader reader;
static __thread void *reader_arg;

void ais_shard_set_reader(ais_shard_reader fn, void *arg)
{
	reader = fn;
	reader_arg = arg;
}

ssize_t ais__shard_pread(int fd, void *buf, size_t len, uint64_t off)
{
	return reader ? reader(reader_arg, fd, buf, len, off)
		      : ais_pread_upto(fd, buf, len, off);
}

#define READ_BUF (256u << 10)
#define ZIP_IBUF 65536u /* deflated input read at a time */

/* ---- member reads ---- */

bool ais_shard_member_range(const struct ais_shard_index *idx,
			    const struct ais_shard_member *m, uint64_t *obj_off)
{
	enum ais_shard_format fmt = ais_shard_index_format(idx);

	if (m->method != AIS_SHARD_STORED || m->type == AIS_SHARD_DIR ||
	    (m->flags & (AIS_SHARD_F_IMPLICIT | AIS_SHARD_F_SPARSE)))
		return false;
	if (fmt != AIS_SHARD_TAR && fmt != AIS_SHARD_ZIP)
		return false;
	*obj_off = m->data_off;
	return true;
}

static int read_range(int fd, uint64_t at, uint64_t len, ais_shard_write_cb cb,
		      void *arg, char *errmsg)
{
	uint8_t *buf = malloc(len < READ_BUF ? (size_t)len : READ_BUF);
	int rc = 0;

	if (buf == NULL)
		return ais_errf(errmsg, -ENOMEM, "shard read: out of memory");
	while (len > 0) {
		size_t k = len < READ_BUF ? (size_t)len : READ_BUF;
		ssize_t r = ais__shard_pread(fd, buf, k, at);

		if (r < 0) {
			rc = ais_errf(errmsg, (int)r, "shard read: %s",
				      strerror((int)-r));
			break;
		}
		if (r == 0) {
			rc = ais_errf(errmsg, -EBADMSG,
				      "shard read: object ends at offset "
				      "%" PRIu64 " inside a member (object "
				      "changed since indexing?)",
				      at);
			break;
		}
		if ((rc = cb(arg, buf, (size_t)r)) < 0)
			break;
		at += (uint64_t)r;
		len -= (uint64_t)r;
	}
	free(buf);
	return rc;
}

/* Inflates a zip member, handing [off, off + len) of its output to cb. */
static int read_deflate(int fd, const struct ais_shard_member *m, uint64_t off,
			uint64_t len, ais_shard_write_cb cb, void *arg,
			char *errmsg)
{
	uint8_t *ibuf = malloc(ZIP_IBUF), *obuf = malloc(READ_BUF);
	uint64_t in = m->data_off, in_end = m->data_off + m->csize, pos = 0;
	bool whole = off == 0 && len == m->size;
	uLong crc = crc32(0, Z_NULL, 0);
	z_stream z;
	int rc = 0, zr = Z_OK;

	memset(&z, 0, sizeof(z));
	if (ibuf == NULL || obuf == NULL || inflateInit2(&z, -15) != Z_OK) {
		free(ibuf);
		free(obuf);
		return ais_errf(errmsg, -ENOMEM, "zip inflate: out of memory");
	}
	while (pos < off + len && zr != Z_STREAM_END) {
		size_t produced;

		if (z.avail_in == 0 && in < in_end) {
			size_t k = in_end - in < ZIP_IBUF
				       ? (size_t)(in_end - in)
				       : ZIP_IBUF;
			ssize_t r = ais__shard_pread(fd, ibuf, k, in);

			if (r <= 0) {
				rc = r < 0 ? ais_errf(errmsg, (int)r,
						      "zip read: %s",
						      strerror((int)-r))
					   : ais_errf(errmsg, -EBADMSG,
						      "zip member '%s': "
						      "object ends at %" PRIu64,
						      m->path, in);
				goto out;
			}
			z.next_in = ibuf;
			z.avail_in = (uInt)r;
			in += (uint64_t)r;
		}
		z.next_out = obuf;
		z.avail_out = READ_BUF;
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END &&
		    !(zr == Z_BUF_ERROR && z.avail_in == 0 && in < in_end)) {
			rc =
			    ais_errf(errmsg, -EBADMSG,
				     "zip member '%s': corrupt deflate data "
				     "(decompressed %" PRIu64 "): %s",
				     m->path, pos, z.msg ? z.msg : "truncated");
			goto out;
		}
		produced = READ_BUF - z.avail_out;
		if (whole)
			crc = crc32(crc, obuf, (uInt)produced);
		/* Hand out the part of [pos, pos + produced) in range. */
		if (pos + produced > off && pos < off + len) {
			uint64_t a = off > pos ? off - pos : 0;
			uint64_t e = off + len < pos + produced
					 ? off + len - pos
					 : produced;

			if ((rc = cb(arg, obuf + a, (size_t)(e - a))) < 0)
				goto out;
		}
		pos += produced;
	}
	if (pos < off + len)
		rc = ais_errf(errmsg, -EBADMSG,
			      "zip member '%s': data ends at %" PRIu64
			      ", expected %" PRIu64 " bytes",
			      m->path, pos, m->size);
	else if (whole && (pos != m->size || crc != m->crc32))
		rc = ais_errf(errmsg, -EBADMSG,
			      "zip member '%s': CRC-32 mismatch (corrupt data)",
			      m->path);
out:
	inflateEnd(&z);
	free(ibuf);
	free(obuf);
	return rc;
}

/* Opens a decoder of the shard at the last seek point at or before the
 * decompressed offset target (the start when there is none). */
static int stream_at(int fd, const struct ais_shard_index *idx, uint64_t target,
		     struct ais_shard_stream **out, char *errmsg)
{
	struct ais_shard_point pt;
	const void *win = NULL;
	int rc;

	rc = ais_shard_index_point(idx, target, &pt, &win);
	if (rc == -EBADMSG)
		return ais_errf(errmsg, rc, "shard index: corrupt seek point");
	return ais_shard_stream_new(fd, ais_shard_index_format(idx),
				    rc == 0 ? &pt : NULL, win, out, errmsg);
}

/* Skips s forward to the decompressed offset target (s is at or before
 * it), then hands len bytes to cb. */
static int stream_copy(struct ais_shard_stream *s,
		       const struct ais_shard_member *m, uint64_t target,
		       uint64_t len, ais_shard_write_cb cb, void *arg,
		       char *errmsg)
{
	uint8_t *buf;
	int rc = 0;

	if ((buf = malloc(READ_BUF)) == NULL)
		return ais_errf(errmsg, -ENOMEM, "shard read: out of memory");
	while (rc == 0 && (ais_shard_stream_offset(s) < target || len > 0)) {
		uint64_t at = ais_shard_stream_offset(s);
		bool skipping = at < target;
		uint64_t want = skipping ? target - at : len;
		size_t k = want < READ_BUF ? (size_t)want : READ_BUF, got;

		rc = ais_shard_stream_read(s, buf, k, &got, errmsg);
		if (rc < 0)
			break;
		if (got == 0) {
			rc = ais_errf(errmsg, -EBADMSG,
				      "shard member '%s': decompressed data "
				      "ends at %" PRIu64
				      " before the member's end",
				      m->path, at);
			break;
		}
		if (!skipping) {
			rc = cb(arg, buf, got);
			len -= got;
		}
	}
	free(buf);
	return rc;
}

/* Decodes [target, target + len) of a tar.gz / tar.lz4 stream from the
 * nearest seek point. */
static int read_stream(int fd, const struct ais_shard_index *idx,
		       const struct ais_shard_member *m, uint64_t target,
		       uint64_t len, ais_shard_write_cb cb, void *arg,
		       char *errmsg)
{
	struct ais_shard_stream *s;
	int rc;

	rc = stream_at(fd, idx, target, &s, errmsg);
	if (rc < 0)
		return rc;
	rc = stream_copy(s, m, target, len, cb, arg, errmsg);
	ais_shard_stream_free(s);
	return rc;
}

/* Stored bytes [at, at + len) of a tar, tar.gz or tar.lz4. */
static int read_stored(int fd, const struct ais_shard_index *idx,
		       const struct ais_shard_member *m, uint64_t at,
		       uint64_t len, ais_shard_write_cb cb, void *arg,
		       char *errmsg)
{
	if (ais_shard_index_format(idx) == AIS_SHARD_TAR)
		return read_range(fd, at, len, cb, arg, errmsg);
	return read_stream(fd, idx, m, at, len, cb, arg, errmsg);
}

static int write_zeros(uint64_t n, ais_shard_write_cb cb, void *arg)
{
	static const uint8_t zero[65536];
	int rc = 0;

	while (n > 0 && rc == 0) {
		size_t k = n < sizeof(zero) ? (size_t)n : sizeof(zero);

		rc = cb(arg, zero, k);
		n -= k;
	}
	return rc;
}

/* A GNU sparse member: map chunks come from the stored data, holes are
 * zeros. The map was validated when the index was built. */
static int read_sparse(int fd, const struct ais_shard_index *idx,
		       const struct ais_shard_member *m, uint64_t off,
		       uint64_t len, ais_shard_write_cb cb, void *arg,
		       char *errmsg)
{
	const char *p = m->sparse_map ? m->sparse_map : "";
	uint64_t pos = off, end = off + len, stored = 0;
	int rc = 0;

	while (rc == 0 && pos < end && *p) {
		char *e;
		uint64_t co = strtoull(p, &e, 10), cl;

		if (*e != ',')
			return ais_errf(errmsg, -EBADMSG,
					"shard member '%s': bad sparse map",
					m->path);
		cl = strtoull(e + 1, &e, 10);
		p = *e == ',' ? e + 1 : e;
		if (pos < co) {
			uint64_t z = (co < end ? co : end) - pos;

			rc = write_zeros(z, cb, arg);
			pos += z;
		}
		if (rc == 0 && pos < end && pos < co + cl) {
			uint64_t n = (co + cl < end ? co + cl : end) - pos;

			rc = read_stored(fd, idx, m,
					 m->data_off + stored + (pos - co), n,
					 cb, arg, errmsg);
			pos += n;
		}
		stored += cl;
	}
	if (rc == 0 && pos < end)
		rc = write_zeros(end - pos, cb, arg);
	return rc;
}

int ais_shard_member_read(int obj_fd, const struct ais_shard_index *idx,
			  const struct ais_shard_member *m, uint64_t off,
			  uint64_t len, ais_shard_write_cb cb, void *arg,
			  char *errmsg)
{
	uint64_t at;

	if (m->type == AIS_SHARD_DIR)
		return ais_errf(errmsg, -EISDIR,
				"shard member '%s' is a "
				"directory",
				m->path);
	if (m->method == AIS_SHARD_UNSUPPORTED) {
		const char *why =
		    (m->flags & AIS_SHARD_F_SPARSE)
			? "its GNU sparse map is malformed or too large"
		    : (m->flags & AIS_SHARD_F_ENCRYPTED)
			? "encrypted zip members are not supported"
			: "only stored and deflated zip members are "
			  "supported";

		return ais_errf(errmsg, -ENOTSUP,
				"shard member '%s' cannot be read: %s", m->path,
				why);
	}
	if (off >= m->size || len == 0)
		return 0;
	if (len > m->size - off)
		len = m->size - off;
	if (ais_shard_member_range(idx, m, &at))
		return read_range(obj_fd, at + off, len, cb, arg, errmsg);
	if (m->method == AIS_SHARD_DEFLATE)
		return read_deflate(obj_fd, m, off, len, cb, arg, errmsg);
	if (m->flags & AIS_SHARD_F_SPARSE)
		return read_sparse(obj_fd, idx, m, off, len, cb, arg, errmsg);
	return read_stream(obj_fd, idx, m, m->data_off + off, len, cb, arg,
			   errmsg);
}

/* ---- parked decoders ---- */

struct parked {
	struct ais_shard_stream *s; /* NULL: a free slot */
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	uint64_t used; /* LRU tick */
};

struct ais_shard_stream_cache {
	pthread_mutex_t lock;
	uint64_t tick;
	unsigned n;
	struct parked slot[];
};

struct ais_shard_stream_cache *ais_shard_stream_cache_new(unsigned slots)
{
	struct ais_shard_stream_cache *c;

	c = calloc(1, sizeof(*c) + slots * sizeof(c->slot[0]));
	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->n = slots;
	return c;
}

void ais_shard_stream_cache_free(struct ais_shard_stream_cache *c)
{
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		ais_shard_stream_free(c->slot[i].s);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void ais_shard_stream_cache_clear(struct ais_shard_stream_cache *c)
{
	struct ais_shard_stream *s;
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		pthread_mutex_lock(&c->lock);
		s = c->slot[i].s;
		c->slot[i].s = NULL;
		pthread_mutex_unlock(&c->lock);
		ais_shard_stream_free(s);
	}
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static bool same_file(const struct parked *p, const struct stat *st)
{
	return p->dev == st->st_dev && p->ino == st->st_ino &&
	       p->size == st->st_size && p->mtime_ns == mtime_ns(st);
}

/* Takes the parked decoder of this file that is furthest along but not
 * past target, if it is no further back than from (where a fresh decoder
 * would start). */
static struct ais_shard_stream *cache_take(struct ais_shard_stream_cache *c,
					   const struct stat *st, uint64_t from,
					   uint64_t target)
{
	struct ais_shard_stream *s = NULL;
	struct parked *best = NULL;
	unsigned i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++) {
		struct parked *p = &c->slot[i];
		uint64_t at;

		if (p->s == NULL || !same_file(p, st))
			continue;
		at = ais_shard_stream_offset(p->s);
		if (at < from || at > target)
			continue;
		if (best == NULL || at > ais_shard_stream_offset(best->s))
			best = p;
	}
	if (best != NULL) {
		s = best->s;
		best->s = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	return s;
}

/* Parks s (which owns its descriptor), pushing out the least recently
 * used decoder when every slot is taken. */
static void cache_park(struct ais_shard_stream_cache *c,
		       struct ais_shard_stream *s, const struct stat *st)
{
	struct ais_shard_stream *old;
	struct parked *p = NULL;
	unsigned i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++) {
		struct parked *q = &c->slot[i];

		if (q->s == NULL) {
			p = q;
			break;
		}
		if (p == NULL || q->used < p->used)
			p = q;
	}
	if (p == NULL) { /* no slots at all */
		pthread_mutex_unlock(&c->lock);
		ais_shard_stream_free(s);
		return;
	}
	old = p->s;
	p->s = s;
	p->dev = st->st_dev;
	p->ino = st->st_ino;
	p->size = st->st_size;
	p->mtime_ns = mtime_ns(st);
	p->used = ++c->tick;
	pthread_mutex_unlock(&c->lock);
	ais_shard_stream_free(old);
}

int ais_shard_member_read_cached(struct ais_shard_stream_cache *c, int obj_fd,
				 const struct ais_shard_index *idx,
				 const struct ais_shard_member *m, uint64_t off,
				 uint64_t len, ais_shard_write_cb cb, void *arg,
				 char *errmsg)
{
	struct ais_shard_stream *s;
	struct ais_shard_point pt;
	const void *win = NULL;
	uint64_t target, from;
	struct stat st;
	int rc, fd;

	/* Only plain tar.gz members go through a parked decoder; everything
	 * else (and every error case) is ais_shard_member_read()'s. */
	if (c == NULL || ais_shard_index_format(idx) != AIS_SHARD_TGZ ||
	    m->type == AIS_SHARD_DIR || m->method == AIS_SHARD_UNSUPPORTED ||
	    m->method == AIS_SHARD_DEFLATE || (m->flags & AIS_SHARD_F_SPARSE) ||
	    off >= m->size || len == 0 || fstat(obj_fd, &st) < 0)
		return ais_shard_member_read(obj_fd, idx, m, off, len, cb, arg,
					     errmsg);
	if (len > m->size - off)
		len = m->size - off;
	target = m->data_off + off;
	rc = ais_shard_index_point(idx, target, &pt, &win);
	if (rc == -EBADMSG)
		return ais_errf(errmsg, rc, "shard index: corrupt seek point");
	from = rc == 0 ? pt.out : 0;
	s = cache_take(c, &st, from, target);
	if (s == NULL) {
		fd = fcntl(obj_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return ais_shard_member_read(obj_fd, idx, m, off, len,
						     cb, arg, errmsg);
		rc = ais_shard_stream_new(
		    fd, AIS_SHARD_TGZ, rc == 0 ? &pt : NULL, win, &s, errmsg);
		if (rc < 0) {
			close(fd);
			return rc;
		}
		ais__shard_stream_own_fd(s);
	}
	rc = stream_copy(s, m, target, len, cb, arg, errmsg);
	if (rc == 0 && !ais__shard_stream_ended(s))
		cache_park(c, s, &st);
	else
		ais_shard_stream_free(s);
	return rc;
}

struct membuf {
	uint8_t *p;
	size_t len, got;
};

static int membuf_write(void *arg, const void *buf, size_t len)
{
	struct membuf *mb = arg;

	if (len > mb->len - mb->got)
		len = mb->len - mb->got;
	memcpy(mb->p + mb->got, buf, len);
	mb->got += len;
	return 0;
}

int ais_shard_member_pread(int obj_fd, const struct ais_shard_index *idx,
			   const struct ais_shard_member *m, void *buf,
			   size_t len, uint64_t off, size_t *got, char *errmsg)
{
	struct membuf mb = {.p = buf, .len = len, .got = 0};
	int rc = ais_shard_member_read(obj_fd, idx, m, off, len, membuf_write,
				       &mb, errmsg);

	*got = mb.got;
	return rc;
}
