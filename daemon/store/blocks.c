/* Per-block checksums (blocks.h): the writer, the table's encoding in an
 * xattr or a sidecar file, the cache of sidecar tables, and the checks. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include "cksum.h"
#include "fileio.h"
#include "hash.h"
#include "log.h"
#include "util.h"
#include "xxh3_fast.h"

#include "store/blocks.h"
#include "store/mountpath.h"

#define BLK_MAGIC 0x31424941u /* "AIB1" */
#define HDR_FIXED (4 + 1 + 1 + 2 + 8 + 8)
#define XATTR_BUF (HDR_FIXED + AIS_CKSUM_HEX_MAX + 8 * BLK_XATTR_MAX)

/* ---- the writer ------------------------------------------------------- */

int blk_writer_init(struct blk_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->state = XXH3_createState();
	if (!w->state)
		return -ENOMEM;
	XXH3_64bits_reset(w->state);
	return 0;
}

static void push(struct blk_writer *w, uint64_t h)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		uint64_t *v = realloc(w->h, cap * sizeof(*v));

		if (!v) {
			w->oom = true;
			return;
		}
		w->h = v;
		w->cap = cap;
	}
	w->h[w->n++] = h;
}

void blk_writer_update(struct blk_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0 && w->state) {
		size_t take = BLK_SIZE - (size_t)w->in_block;

		if (take == BLK_SIZE && len >= BLK_SIZE) {
			/* A whole block at once: hashed in one go. */
			push(w, ais_xxh3(p, BLK_SIZE));
			p += BLK_SIZE;
			len -= BLK_SIZE;
			continue;
		}
		if (take > len)
			take = len;
		ais_xxh3_update(w->state, p, take);
		w->in_block += take;
		p += take;
		len -= take;
		if (w->in_block == BLK_SIZE) {
			push(w, XXH3_64bits_digest(w->state));
			XXH3_64bits_reset(w->state);
			w->in_block = 0;
		}
	}
}

/* The last, shorter block. */
static void writer_finish(struct blk_writer *w)
{
	if (w->state && w->in_block) {
		push(w, XXH3_64bits_digest(w->state));
		XXH3_64bits_reset(w->state);
		w->in_block = 0;
	}
}

void blk_writer_free(struct blk_writer *w)
{
	if (w->state)
		XXH3_freeState(w->state);
	free(w->h);
	memset(w, 0, sizeof(*w));
}

/* ---- encoding --------------------------------------------------------- */

static size_t enc_size(size_t n, const struct ais_obj_meta *m)
{
	return HDR_FIXED + strlen(m->cksum) + 8 * n;
}

static void encode(uint8_t *out, const uint64_t *h, size_t n,
		   const struct ais_obj_meta *m)
{
	uint32_t magic = htole32(BLK_MAGIC);
	uint16_t hl = htole16((uint16_t)strlen(m->cksum));
	uint64_t v;
	size_t i;

	memcpy(out, &magic, 4);
	out[4] = BLK_SHIFT;
	out[5] = (uint8_t)m->cksum_type;
	memcpy(out + 6, &hl, 2);
	v = htole64(m->size);
	memcpy(out + 8, &v, 8);
	v = htole64((uint64_t)n);
	memcpy(out + 16, &v, 8);
	memcpy(out + HDR_FIXED, m->cksum, le16toh(hl));
	out += HDR_FIXED + le16toh(hl);
	for (i = 0; i < n; i++) {
		v = htole64(h[i]);
		memcpy(out + 8 * i, &v, 8);
	}
}

static size_t blocks_of(uint64_t size)
{
	return (size_t)((size + BLK_SIZE - 1) >> BLK_SHIFT);
}

/* An object of one block whose checksum is XXH3-64: that checksum is its
 * block's, and it needs no table. */
static bool one_block_xxh3(const struct ais_obj_meta *m)
{
	return m->cksum_type == AIS_CKSUM_XXH3 && blocks_of(m->size) == 1 &&
	       strlen(m->cksum) == 16 &&
	       strspn(m->cksum, "0123456789abcdefABCDEF") == 16;
}

/* Parses a header; 0 with *n and *hdr (its length) if it is a table of
 * the object m, -ESTALE if it is another's, -EBADMSG if malformed. */
static int decode_hdr(const uint8_t *buf, size_t len,
		      const struct ais_obj_meta *m, size_t *n, size_t *hdr)
{
	uint32_t magic;
	uint16_t hl;
	uint64_t size, cnt;

	if (len < HDR_FIXED)
		return -EBADMSG;
	memcpy(&magic, buf, 4);
	memcpy(&hl, buf + 6, 2);
	memcpy(&size, buf + 8, 8);
	memcpy(&cnt, buf + 16, 8);
	hl = le16toh(hl);
	size = le64toh(size);
	cnt = le64toh(cnt);
	if (le32toh(magic) != BLK_MAGIC || buf[4] != BLK_SHIFT ||
	    hl >= AIS_CKSUM_HEX_MAX || len < HDR_FIXED + (size_t)hl ||
	    cnt != blocks_of(size))
		return -EBADMSG;
	if (size != m->size || buf[5] != (uint8_t)m->cksum_type ||
	    strlen(m->cksum) != hl || memcmp(buf + HDR_FIXED, m->cksum, hl))
		return -ESTALE;
	*n = (size_t)cnt;
	*hdr = HDR_FIXED + hl;
	return 0;
}

/* ---- the sidecar and its cache ---------------------------------------- */

/* Tables of sidecar objects, by (device, inode): a chained hash of
 * CACHE_SLOTS chains (a member read looks its shard's table up in O(1)),
 * evicted least recently used past BLK_CACHE_BYTES (a scan, at inserts
 * only: one per big object's first read). */
#define CACHE_SLOTS 1024

struct blk_ent {
	struct blk_ent *next; /* in its chain */
	dev_t dev;
	ino_t ino;
	uint64_t size;
	char cksum[AIS_CKSUM_HEX_MAX];
	size_t n;
	uint64_t *h;
	uint64_t used; /* LRU tick */
};

struct blk_cache {
	pthread_mutex_t mu;
	struct blk_ent *slot[CACHE_SLOTS];
	size_t bytes;
	uint64_t tick;
};

struct blk_cache *blk_cache_new(void)
{
	struct blk_cache *c = calloc(1, sizeof(*c));

	if (c)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

static void ent_free(struct blk_cache *c, struct blk_ent *e)
{
	c->bytes -= e->n * 8;
	free(e->h);
	free(e);
}

void blk_cache_free(struct blk_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < CACHE_SLOTS; i++)
		while (c->slot[i]) {
			struct blk_ent *e = c->slot[i];

			c->slot[i] = e->next;
			ent_free(c, e);
		}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static struct blk_ent **chain_of(struct blk_cache *c, dev_t dev, ino_t ino)
{
	return &c->slot[ais_mix64((uint64_t)ino * 31 + (uint64_t)dev) %
			CACHE_SLOTS];
}

/* The link that points at (dev, ino)'s entry (*link NULL if none). */
static struct blk_ent **cache_find(struct blk_cache *c, dev_t dev, ino_t ino)
{
	struct blk_ent **pp = chain_of(c, dev, ino);

	while (*pp && ((*pp)->dev != dev || (*pp)->ino != ino))
		pp = &(*pp)->next;
	return pp;
}

static void cache_unlink(struct blk_cache *c, struct blk_ent **pp)
{
	struct blk_ent *e = *pp;

	*pp = e->next;
	ent_free(c, e);
}

/* Copies h[first .. first+cnt) of (dev, ino) for object m into out: 0,
 * or -ENOENT (not cached or stale). */
static int cache_get(struct blk_cache *c, dev_t dev, ino_t ino,
		     const struct ais_obj_meta *m, size_t first, size_t cnt,
		     uint64_t *out)
{
	struct blk_ent **pp, *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&c->mu);
	pp = cache_find(c, dev, ino);
	e = *pp;
	if (e && (e->size != m->size || strcmp(e->cksum, m->cksum) ||
		  first + cnt > e->n)) {
		cache_unlink(c, pp);
	} else if (e) {
		memcpy(out, e->h + first, cnt * 8);
		e->used = ++c->tick;
		rc = 0;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Drops (dev, ino)'s entry, if any. */
static void cache_forget(struct blk_cache *c, dev_t dev, ino_t ino)
{
	struct blk_ent **pp;

	pthread_mutex_lock(&c->mu);
	pp = cache_find(c, dev, ino);
	if (*pp)
		cache_unlink(c, pp);
	pthread_mutex_unlock(&c->mu);
}

/* Takes h (n entries) into the cache. */
static void cache_put(struct blk_cache *c, dev_t dev, ino_t ino,
		      const struct ais_obj_meta *m, uint64_t *h, size_t n)
{
	struct blk_ent **pp, *e;

	if (!c || n * 8 > BLK_CACHE_BYTES / 4 || !(e = calloc(1, sizeof(*e)))) {
		free(h);
		return;
	}
	e->dev = dev;
	e->ino = ino;
	e->size = m->size;
	snprintf(e->cksum, sizeof(e->cksum), "%s", m->cksum);
	e->n = n;
	e->h = h;
	pthread_mutex_lock(&c->mu);
	pp = cache_find(c, dev, ino);
	if (*pp)
		cache_unlink(c, pp);
	while (c->bytes && c->bytes + n * 8 > BLK_CACHE_BYTES) {
		struct blk_ent **lru = NULL;
		size_t i;

		for (i = 0; i < CACHE_SLOTS; i++)
			for (pp = &c->slot[i]; *pp; pp = &(*pp)->next)
				if (!lru || (*pp)->used < (*lru)->used)
					lru = pp;
		cache_unlink(c, lru);
	}
	e->used = ++c->tick;
	pp = chain_of(c, dev, ino);
	e->next = *pp;
	*pp = e;
	c->bytes += n * 8;
	pthread_mutex_unlock(&c->mu);
}

/* The sidecar path of the file open on fd (its file system's first
 * mountpath; st filled). -ENOENT if no mountpath is on its device. */
static int sidecar_path(const struct mpset *mps, int fd, struct stat *st,
			char *path)
{
	size_t i;

	if (fstat(fd, st) < 0)
		return -errno;
	for (i = 0; i < mps->n; i++) {
		struct stat ms;

		if (stat(mps->paths[i], &ms) == 0 && ms.st_dev == st->st_dev) {
			snprintf(path, AISD_PATH_MAX, "%s/.ais/blk/%llx",
				 mps->paths[i], (unsigned long long)st->st_ino);
			return 0;
		}
	}
	return -ENOENT;
}

static int write_sidecar(const char *path, const uint8_t *buf, size_t len)
{
	char dir[AISD_PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	return ais_file_replace(path, buf, len, 0644);
}

int blk_store(const struct mpset *mps, struct blk_cache *c,
	      struct blk_writer *w, int fd, const struct ais_obj_meta *m,
	      char *errmsg)
{
	char path[AISD_PATH_MAX];
	struct stat st;
	uint8_t *buf;
	size_t len;
	int rc;

	writer_finish(w);
	if (one_block_xxh3(m))
		return 0; /* its checksum is its block's */
	if (w->oom)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	if (w->n != blocks_of(m->size))
		return ais_errf(errmsg, -EINVAL,
				"block table of %zu blocks for %llu bytes",
				w->n, (unsigned long long)m->size);
	len = enc_size(w->n, m);
	buf = malloc(len);
	if (!buf)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	encode(buf, w->h, w->n, m);
	if (w->n <= BLK_XATTR_MAX) {
		rc = fsetxattr(fd, BLK_XATTR, buf, len, 0) < 0 ? -errno : 0;
		if (rc != -ENOSPC && rc != -E2BIG && rc != -ERANGE) {
			free(buf);
			return rc ? ais_errf(errmsg, rc,
					     "block checksums xattr: %s",
					     strerror(-rc))
				  : 0;
		}
		/* This file system holds less in an xattr: a sidecar. */
	}
	rc = sidecar_path(mps, fd, &st, path);
	if (!rc)
		rc = write_sidecar(path, buf, len);
	free(buf);
	if (rc)
		return ais_errf(errmsg, rc, "block checksums %s: %s", path,
				strerror(-rc));
	/* A table of another block size in the xattr (an older aisd's) is
	 * no use: gone, rather than kept stale. */
	(void)fremovexattr(fd, BLK_XATTR);
	if (c) {
		uint64_t *h = malloc(w->n * 8);

		if (h) {
			memcpy(h, w->h, w->n * 8);
			cache_put(c, st.st_dev, st.st_ino, m, h, w->n);
		}
	}
	return 0;
}

void blk_forget(const struct mpset *mps, struct blk_cache *c, const char *path)
{
	char side[AISD_PATH_MAX];
	struct stat st;
	size_t i;

	/* Only objects with more blocks than an xattr holds have one. */
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    blocks_of((uint64_t)st.st_size) <= BLK_XATTR_MAX)
		return;
	for (i = 0; i < mps->n; i++) {
		struct stat ms;

		if (stat(mps->paths[i], &ms) == 0 && ms.st_dev == st.st_dev) {
			snprintf(side, sizeof(side), "%s/.ais/blk/%llx",
				 mps->paths[i], (unsigned long long)st.st_ino);
			unlink(side);
			break;
		}
	}
	if (c)
		cache_forget(c, st.st_dev, st.st_ino);
}

/* ---- loading and checking -------------------------------------------- */

/* h[first .. first+cnt) from the sidecar open on sfd (the file st names).
 * A table the cache takes is read whole and cached; a bigger one (or with
 * no cache, or no memory for it) only its header and the slice asked
 * for. 0 or -ENOENT (no
 * valid table there), -errno. */
static int load_sidecar(int sfd, struct blk_cache *c, const struct stat *st,
			const struct ais_obj_meta *m, size_t first, size_t cnt,
			uint64_t *out)
{
	uint8_t head[HDR_FIXED + AIS_CKSUM_HEX_MAX], *buf = NULL;
	size_t nb = blocks_of(m->size), n, hdr, i;
	struct stat ss;
	ssize_t got;
	uint64_t *h = NULL;

	if (fstat(sfd, &ss) < 0)
		return -errno;
	got = pread(sfd, head, sizeof(head), 0);
	if (got < 0)
		return -errno;
	if (decode_hdr(head, (size_t)got, m, &n, &hdr) != 0 ||
	    (uint64_t)ss.st_size != hdr + 8 * (uint64_t)n || n != nb ||
	    first + cnt > n)
		return -ENOENT;
	if (c && n * 8 <= BLK_CACHE_BYTES / 4) {
		buf = malloc(n * 8);
		h = malloc(n * 8);
		if (!buf || !h) { /* the slice will do */
			free(buf);
			free(h);
			c = NULL;
		}
	}
	if (!c || n * 8 > BLK_CACHE_BYTES / 4) {
		uint8_t slice[64 * 8];

		if (cnt > 64)
			return -EINVAL;
		if (ais_pread_all(sfd, slice, cnt * 8, hdr + 8 * first) < 0)
			return -ENOENT;
		for (i = 0; i < cnt; i++) {
			uint64_t v;

			memcpy(&v, slice + 8 * i, 8);
			out[i] = le64toh(v);
		}
		return 0;
	}
	if (ais_pread_all(sfd, buf, n * 8, hdr) < 0) {
		free(buf);
		free(h);
		return -ENOENT;
	}
	for (i = 0; i < n; i++) {
		uint64_t v;

		memcpy(&v, buf + 8 * i, 8);
		h[i] = le64toh(v);
	}
	free(buf);
	memcpy(out, h + first, cnt * 8);
	cache_put(c, st->st_dev, st->st_ino, m, h, n);
	return 0;
}

/* h[first .. first+cnt) of the table of the object on fd: 0, -ENOENT (no
 * valid table), -EAGAIN (nowait, and it would read a file), -errno. */
static int load(const struct mpset *mps, struct blk_cache *c, int fd,
		const struct ais_obj_meta *m, size_t first, size_t cnt,
		bool nowait, uint64_t *out)
{
	uint8_t xb[XATTR_BUF];
	char path[AISD_PATH_MAX];
	struct stat st;
	size_t n, hdr, i;
	ssize_t len;
	int rc, sfd;

	/* A big object's table is in a sidecar, and likely in the cache:
	 * one fstat(2) to find it, no xattr, no path. */
	if (blocks_of(m->size) > BLK_XATTR_MAX && c) {
		if (fstat(fd, &st) < 0)
			return -errno;
		if (cache_get(c, st.st_dev, st.st_ino, m, first, cnt, out) == 0)
			return 0;
	}
	len = fgetxattr(fd, BLK_XATTR, xb, sizeof(xb));
	if (len > 0 && decode_hdr(xb, (size_t)len, m, &n, &hdr) == 0 &&
	    (size_t)len == hdr + 8 * n && first + cnt <= n) {
		for (i = 0; i < cnt; i++) {
			uint64_t v;

			memcpy(&v, xb + hdr + 8 * (first + i), 8);
			out[i] = le64toh(v);
		}
		return 0;
	}
	if (blocks_of(m->size) <= BLK_XATTR_MAX && len < 0 &&
	    errno != ENODATA && errno != ERANGE)
		return -errno;
	rc = sidecar_path(mps, fd, &st, path);
	if (rc)
		return rc == -ENOENT ? -ENOENT : rc;
	if (c && cache_get(c, st.st_dev, st.st_ino, m, first, cnt, out) == 0)
		return 0;
	if (nowait)
		return -EAGAIN;
	sfd = open(path, O_RDONLY | O_CLOEXEC);
	if (sfd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	rc = load_sidecar(sfd, c, &st, m, first, cnt, out);
	close(sfd);
	return rc;
}

/* Reads block b (len bytes) of fd into scratch. */
/* Reads len bytes from block b on into scratch (at most BLK_SCRATCH: a
 * run of blocks in one call). */
static int read_blocks(int fd, uint64_t b, size_t len, uint8_t *scratch,
		       bool nowait)
{
	struct iovec iov = {scratch, len};
	size_t got = 0;

	while (got < len) {
		ssize_t r;

		iov.iov_base = scratch + got;
		iov.iov_len = len - got;
		r = preadv2(fd, &iov, 1, (off_t)((b << BLK_SHIFT) + got),
			    nowait ? RWF_NOWAIT : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN || errno == EOPNOTSUPP ? -EAGAIN
								      : -errno;
		if (r == 0)
			return nowait ? -EAGAIN : -EIO; /* shorter than its
							   metadata */
		got += (size_t)r;
	}
	return 0;
}

/* The bytes of blocks [b, b + cnt) of an object of size bytes, the last
 * one maybe shorter. */
static size_t run_bytes(uint64_t b, size_t cnt, uint64_t size)
{
	uint64_t end = (b + cnt) << BLK_SHIFT;

	return (size_t)((end < size ? end : size) - (b << BLK_SHIFT));
}

#define RUN_MAX (BLK_SCRATCH / BLK_SIZE)

int blk_rebuild(const struct mpset *mps, struct blk_cache *c, int fd,
		const struct ais_obj_meta *m, uint8_t *scratch, char *errmsg)
{
	struct blk_writer w;
	struct ais_cksum ck;
	char hex[AIS_CKSUM_HEX_MAX];
	uint64_t b, nb = blocks_of(m->size);
	int rc;

	if (m->cksum_type == AIS_CKSUM_NONE || !m->cksum[0])
		return 0; /* nothing to check against (placed by hand) */
	rc = ais_cksum_init(&ck, m->cksum_type);
	if (rc)
		return ais_errf(errmsg, rc, "checksum type %d", m->cksum_type);
	rc = blk_writer_init(&w);
	if (rc) {
		ais_cksum_abort(&ck);
		return ais_errf(errmsg, rc, "out of memory");
	}
	for (b = 0; b < nb && !rc; b += RUN_MAX) {
		size_t len = run_bytes(b, RUN_MAX, m->size);

		rc = read_blocks(fd, b, len, scratch, false);
		if (rc) {
			ais_errf(errmsg, rc, "read: %s", strerror(-rc));
			break;
		}
		ais_cksum_update(&ck, scratch, len);
		blk_writer_update(&w, scratch, len);
	}
	if (rc) {
		ais_cksum_abort(&ck);
		blk_writer_free(&w);
		return rc;
	}
	ais_cksum_final(&ck, hex);
	if (strcasecmp(hex, m->cksum)) {
		blk_writer_free(&w);
		return ais_errf(errmsg, -EBADMSG,
				"its bytes do not match its checksum (%s %s, "
				"read %s): corrupt copy",
				ais_cksum_name(m->cksum_type), m->cksum, hex);
	}
	rc = blk_store(mps, c, &w, fd, m, errmsg);
	blk_writer_free(&w);
	return rc;
}

/* A block whose hash is not want: -EBADMSG naming it. */
static int bad_block(uint64_t k, size_t blen, char *errmsg)
{
	return ais_errf(errmsg, -EBADMSG,
			"block %llu (bytes %llu-%llu) does not match its "
			"checksum: corrupt copy",
			(unsigned long long)k,
			(unsigned long long)(k << BLK_SHIFT),
			(unsigned long long)((k << BLK_SHIFT) + blen - 1));
}

int blk_verify(const struct mpset *mps, struct blk_cache *c, int fd,
	       const struct ais_obj_meta *m, uint64_t off, uint64_t len,
	       uint8_t *scratch, bool nowait, char *errmsg)
{
	uint64_t want[64], first, last, b;
	int rc;

	if (len == 0 || m->cksum_type == AIS_CKSUM_NONE || !m->cksum[0])
		return 0;
	if (off >= m->size)
		return 0;
	if (off + len > m->size)
		len = m->size - off;
	if (one_block_xxh3(m)) {
		/* Its checksum is its block's: no table. */
		rc = read_blocks(fd, 0, (size_t)m->size, scratch, nowait);
		if (rc)
			return rc == -EAGAIN ? rc
					     : ais_errf(errmsg, rc, "read: %s",
							strerror(-rc));
		return blk_check_read(mps, c, fd, m, 0, scratch,
				      (size_t)m->size, nowait, errmsg);
	}
	first = off >> BLK_SHIFT;
	last = (off + len - 1) >> BLK_SHIFT;
	for (b = first; b <= last; b += 64) {
		size_t cnt = last - b + 1 > 64 ? 64 : (size_t)(last - b + 1), i;

		rc = load(mps, c, fd, m, (size_t)b, cnt, nowait, want);
		if (rc == -ENOENT) {
			/* No table: the whole object against its checksum
			 * (which makes the table). */
			if (nowait)
				return -EAGAIN;
			return blk_rebuild(mps, c, fd, m, scratch, errmsg);
		}
		if (rc)
			return rc == -EAGAIN
				   ? rc
				   : ais_errf(errmsg, rc, "block checksums: %s",
					      strerror(-rc));
		for (i = 0; i < cnt; i += RUN_MAX) {
			size_t run = cnt - i < RUN_MAX ? cnt - i : RUN_MAX, j;

			rc = read_blocks(fd, b + i,
					 run_bytes(b + i, run, m->size),
					 scratch, nowait);
			if (rc)
				return rc == -EAGAIN
					   ? rc
					   : ais_errf(errmsg, rc, "read: %s",
						      strerror(-rc));
			for (j = 0; j < run; j++) {
				uint64_t k = b + i + j;
				size_t blen = run_bytes(k, 1, m->size);

				if (ais_xxh3(scratch + (j << BLK_SHIFT),
					     blen) != want[i + j])
					return bad_block(k, blen, errmsg);
			}
		}
	}
	return 0;
}

int blk_check_read(const struct mpset *mps, struct blk_cache *c, int fd,
		   const struct ais_obj_meta *m, uint64_t off, const void *data,
		   size_t len, bool nowait, char *errmsg)
{
	const uint8_t *p = data;
	uint64_t want[64], first = off >> BLK_SHIFT, k;
	size_t cnt, i;
	int rc;

	if (len == 0 || m->cksum_type == AIS_CKSUM_NONE || !m->cksum[0])
		return 0;
	if ((off & (BLK_SIZE - 1)) || off + len > m->size ||
	    ((off + len) & (BLK_SIZE - 1) && off + len != m->size))
		return -EINVAL;
	if (one_block_xxh3(m))
		return ais_xxh3(p, len) == strtoull(m->cksum, NULL, 16)
			   ? 0
			   : bad_block(0, len, errmsg);
	cnt = (size_t)(((off + len - 1) >> BLK_SHIFT) - first + 1);
	if (cnt > 64)
		return -EINVAL;
	rc = load(mps, c, fd, m, (size_t)first, cnt, nowait, want);
	if (rc)
		return rc;
	for (i = 0, k = first; i < cnt; i++, k++) {
		size_t blen = run_bytes(k, 1, m->size);

		if (ais_xxh3(p + (i << BLK_SHIFT), blen) != want[i])
			return bad_block(k, blen, errmsg);
	}
	return 0;
}
