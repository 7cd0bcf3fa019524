/* The tar parser: reads a tar stream (the object, or the tar.gz / tar.lz4
 * decoder's output) header by header through a byte source with read-ahead,
 * and adds each member to the builder with where its data is. Archive errors
 * stop the parse and are recorded with their offset; what came before stays
 * listed. The extensions a member's header may depend on (GNU long names,
 * pax records, sparse maps) are read by shard_tar_ext.c. */
#include "shard_i.h"
#include "fileio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- byte source: the object, or a decoder ---- */

#define SCRATCH 65536

int ais__shard_src_read(struct ais__shard_src *s, void *buf, size_t len,
			size_t *got)
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
		r = ais_pread_upto(s->fd, s->scratch, k, s->pos);
		if (r < 0)
			return (int)r;
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

int ais__shard_src_skip(struct ais__shard_src *s, uint64_t len, uint64_t *done)
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
		int rc = ais__shard_src_read(s, s->scratch, k, &got);

		*done += got;
		if (rc < 0)
			return rc;
		if (got < k)
			break;
	}
	return 0;
}

int ais__shard_src_broken(struct ais__shard_builder *b,
			  const struct ais__shard_src *s, int rc, uint64_t off)
{
	if (rc != -EBADMSG)
		return rc;
	ais__shard_set_broken(b, off, "%s", s->serr);
	return 1;
}

/* ---- tar headers ---- */

static void pending_reset(struct ais__shard_tar_pending *t)
{
	free(t->path);
	free(t->link);
	free(t->smap);
	memset(t, 0, sizeof(*t));
	t->first_off = UINT64_MAX;
}

int ais__shard_tar_num(const uint8_t *f, size_t n, int64_t *out)
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

	if (ais__shard_tar_num(h + 148, 8, &want) < 0)
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

/* Parses a tar stream from s into b. Returns 0 (archive errors are
 * recorded in b) or -errno. */
static int read_members(struct ais__shard_builder *b, struct ais__shard_src *s)
{
	struct ais__shard_tar_pending t;
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

		rc = ais__shard_src_read(s, h, 512, &got);
		if ((rc = ais__shard_src_broken(b, s, rc, hoff)) != 0) {
			rc = rc > 0 ? 0 : rc;
			break;
		}
		if (got == 0) {
			/* EOF on a header boundary without the two zero
			 * blocks: tar accepts it, unless a long name or pax
			 * header was waiting for its member. */
			if (t.first_off != UINT64_MAX)
				ais__shard_set_broken(
				    b, t.first_off,
				    "truncated tar: extension header at "
				    "offset %" PRIu64
				    " has no member, archive ends at "
				    "%" PRIu64,
				    t.first_off, hoff);
			else if (hoff > 0) /* an empty object is an empty tar */
				ais__shard_set_broken(
				    b, hoff,
				    "truncated tar: no end-of-archive "
				    "marker, archive ends at %" PRIu64
				    " after a member (all members "
				    "before it are listed)",
				    hoff);
			break;
		}
		if (got < 512) {
			ais__shard_set_broken(
			    b, hoff,
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
				ais__shard_set_broken(
				    b, 0,
				    "not a tar archive: bad header "
				    "checksum at offset 0");
			else
				ais__shard_set_broken(
				    b, hoff,
				    "corrupt tar: bad header checksum "
				    "at offset %" PRIu64,
				    hoff);
			break;
		}
		tf = (char)h[156];
		if (ais__shard_tar_num(h + 124, 12, &v) < 0 || v < 0) {
			ais__shard_set_broken(
			    b, hoff,
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
			rc = ais__shard_tar_read_ext(b, s, size, hoff, what,
						     &buf);
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
				rc = ais__shard_pax_parse(buf, size, &t);
			} else {
				/* Global pax headers: nothing we index. */
				rc = 0;
			}
			free(buf);
			if (rc == -EBADMSG) {
				ais__shard_set_broken(
				    b, hoff,
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
			ais__shard_set_broken(
			    b, hoff,
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
		if (ais__shard_tar_num(h + 100, 8, &v) < 0)
			v = 0644;
		r.mode = ((uint32_t)v & 07777) | ais__shard_type_mode(r.type);
		if (r.type == AIS_SHARD_OTHER)
			r.mode |= tf == '3'   ? S_IFCHR
				  : tf == '4' ? S_IFBLK
					      : S_IFIFO;
		if (t.has_mtime)
			r.mtime = t.mtime;
		else if (ais__shard_tar_num(h + 136, 12, &v) == 0)
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
			else if (tf == 'S' &&
				 ais__shard_tar_num(h + 483, 12, &rs) == 0)
				r.size = (uint64_t)rs;
			if (tf == 'S')
				rc = ais__shard_gnu_sparse_map(b, s, h, &t,
							       hoff);
			else if (t.sparse_v1)
				rc = ais__shard_pax_sparse_map(b, s, &t, hoff,
							       size, &maplen);
			if (rc != 0) {
				rc = rc > 0 ? 0 : rc;
				break;
			}
			r.data_off = s->pos;
			if (t.smap_bad || t.smap == NULL ||
			    !ais__shard_smap_ok(t.smap, r.size, size - maplen))
				r.method = AIS_SHARD_UNSUPPORTED;
			else {
				/* The map travels in the link string. */
				t.smap[--t.smap_len] = '\0';
				link = t.smap;
				linklen = t.smap_len;
			}
		}
		r.csize = size - maplen;

		rc = ais__shard_src_skip(s, size - maplen, &skipped);
		if ((rc = ais__shard_src_broken(b, s, rc, hoff)) != 0) {
			rc = rc > 0 ? 0 : rc;
			break;
		}
		if (skipped < size - maplen) {
			char shown[128];

			snprintf(shown, sizeof(shown), "%.*s",
				 (int)(plen < 100 ? plen : 100), path);
			ais__shard_set_broken(
			    b, hoff,
			    "truncated tar: member '%s%s' header at "
			    "offset %" PRIu64 " claims %" PRIu64
			    " bytes, archive ends at %" PRIu64,
			    shown, plen > 100 ? "..." : "", hoff, size, s->pos);
			break;
		}
		if (tf != 'V') { /* a volume label is not a member */
			rc = ais__shard_add_member(
			    b, &r, path, plen, link, linklen,
			    r.type == AIS_SHARD_HARDLINK);
			if (rc < 0)
				break;
		}
		pending_reset(&t);
		pad = (512 - size % 512) % 512;
		rc = ais__shard_src_skip(s, pad, &skipped);
		if ((rc = ais__shard_src_broken(b, s, rc, s->pos)) != 0) {
			rc = rc > 0 ? 0 : rc;
			break;
		}
		if (skipped < pad) {
			ais__shard_set_broken(
			    b, s->pos,
			    "truncated tar: archive ends at %" PRIu64
			    " inside the padding after member data",
			    s->pos);
			break;
		}
	}
	pending_reset(&t);
	return rc;
}

/* Decodes the compressed stream to its end after the tar's end marker, so
 * that the gzip CRC (which covers every member) is checked. */
static int drain(struct ais__shard_builder *b, struct ais__shard_src *s)
{
	uint64_t skipped;
	int rc = ais__shard_src_skip(s, UINT64_MAX, &skipped);

	rc = ais__shard_src_broken(b, s, rc, s->pos);
	return rc > 0 ? 0 : rc;
}

int ais__shard_tar_parse(struct ais__shard_builder *b, char *errmsg)
{
	struct ais__shard_src s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.fd = b->obj_fd;
	s.size = b->obj_size;
	if ((s.scratch = malloc(SCRATCH)) == NULL)
		return ais_errf(errmsg, -ENOMEM, "shard index: out of memory");
	if (b->fmt != AIS_SHARD_TAR) {
		rc = ais_shard_stream_new(b->obj_fd, b->fmt, NULL, NULL, &s.st,
					  errmsg);
		if (rc < 0)
			goto out;
		ais_shard_stream_on_point(s.st,
					  b->fmt == AIS_SHARD_TGZ
					      ? AIS_SHARD_GZ_SPAN
					      : AIS_SHARD_LZ4_SPAN,
					  ais__shard_add_point, b);
	}
	rc = read_members(b, &s);
	if (rc == 0 && s.st != NULL && !b->broken)
		rc = drain(b, &s);
	if (rc < 0)
		ais_errf(errmsg, rc, "shard index: %s", strerror(-rc));
out:
	ais_shard_stream_free(s.st);
	free(s.scratch);
	return rc;
}
