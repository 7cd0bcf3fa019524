/* Tar extensions that describe the next member: the data of GNU long-name
 * and pax headers, pax records (path, linkpath, size, mtime, GNU sparse
 * keys), and GNU sparse maps in their three forms (old GNU 'S' headers, pax
 * 0.0/0.1 keys, pax 1.0 maps that open the member's data), kept as
 * "off,len,..." text and checked before a member is called readable. */
#include "shard_i.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMAP_MAX (1u << 20) /* sparse map text cap */

/* Appends the text [p, p + n) and a ',' to the sparse map. */
static int smap_add(struct ais__shard_tar_pending *t, const char *p, size_t n)
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

static int smap_add_num(struct ais__shard_tar_pending *t, uint64_t v)
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

int ais__shard_pax_parse(const char *buf, size_t len,
			 struct ais__shard_tar_pending *t)
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
			if ((t->path = ais__shard_memdup(val, t->path_len)) ==
			    NULL)
				return -ENOMEM;
		} else if (KEY("linkpath")) {
			free(t->link);
			t->link_len = (size_t)(end - val);
			if ((t->link = ais__shard_memdup(val, t->link_len)) ==
			    NULL)
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
int ais__shard_tar_read_ext(struct ais__shard_builder *b,
			    struct ais__shard_src *s, uint64_t size,
			    uint64_t hoff, const char *what, char **out)
{
	uint64_t pad = (512 - size % 512) % 512, skipped = 0;
	size_t got = 0;
	char *buf;
	int rc;

	*out = NULL;
	if (size > TAR_EXT_MAX) {
		ais__shard_set_broken(b, hoff,
				      "tar: %s header at offset %" PRIu64
				      " is %" PRIu64 " bytes (limit %u)",
				      what, hoff, size, TAR_EXT_MAX);
		return 1;
	}
	if ((buf = malloc(size + 1)) == NULL)
		return -ENOMEM;
	rc = ais__shard_src_read(s, buf, size, &got);
	if (rc == 0 && got == size)
		rc = ais__shard_src_skip(s, pad, &skipped);
	if (rc < 0 && rc != -EBADMSG) {
		free(buf);
		return rc;
	}
	if (rc == -EBADMSG || got < size || skipped < pad) {
		free(buf);
		if (rc == -EBADMSG)
			ais__shard_set_broken(b, s->pos, "%s", s->serr);
		else
			ais__shard_set_broken(
			    b, hoff,
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
int ais__shard_gnu_sparse_map(struct ais__shard_builder *b,
			      struct ais__shard_src *s, const uint8_t *h,
			      struct ais__shard_tar_pending *t, uint64_t hoff)
{
	uint8_t blk[512];
	const uint8_t *e = h + 386;
	int n = 4, rc;
	bool ext = h[482] != 0;
	size_t got;

	for (;;) {
		for (int i = 0; i < n && e[i * 24] != 0; i++) {
			int64_t o, l;

			if (ais__shard_tar_num(e + i * 24, 12, &o) < 0 ||
			    ais__shard_tar_num(e + i * 24 + 12, 12, &l) < 0 ||
			    o < 0 || l < 0) {
				t->smap_bad = true;
				break;
			}
			if ((rc = smap_add_num(t, (uint64_t)o)) < 0 ||
			    (rc = smap_add_num(t, (uint64_t)l)) < 0)
				return rc;
		}
		if (!ext)
			return 0;
		rc = ais__shard_src_read(s, blk, 512, &got);
		if ((rc = ais__shard_src_broken(b, s, rc, hoff)) != 0)
			return rc;
		if (got < 512) {
			ais__shard_set_broken(
			    b, hoff,
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
int ais__shard_pax_sparse_map(struct ais__shard_builder *b,
			      struct ais__shard_src *s,
			      struct ais__shard_tar_pending *t, uint64_t hoff,
			      uint64_t size, uint64_t *maplen)
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
		rc = ais__shard_src_read(s, buf + len, 512, &got);
		if (rc == -EBADMSG || (rc == 0 && got < 512)) {
			if (rc == -EBADMSG)
				ais__shard_set_broken(b, hoff, "%s", s->serr);
			else
				ais__shard_set_broken(
				    b, hoff,
				    "truncated tar: sparse map of the "
				    "member at offset %" PRIu64 " is cut short",
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
bool ais__shard_smap_ok(const char *m, uint64_t realsize, uint64_t stored)
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
