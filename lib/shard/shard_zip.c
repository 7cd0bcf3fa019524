/* The zip parser: finds the end of central directory (zip64 too), walks
 * the central directory checking each entry's local header, and adds the
 * members (stored or deflated; symlink targets are read from their data).
 * Without a central directory, the members local headers describe are
 * recovered by scanning from the start. */
#include "shard_i.h"
#include "fileio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

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
		uint16_t id = ais__shard_le16(x + i),
			 sz = ais__shard_le16(x + i + 2);
		const uint8_t *d = x + i + 4;
		size_t k = 0;

		if (i + 4 + sz > n)
			break;
		if (id == 0x0001) {
			if (e->usize == 0xffffffff && k + 8 <= sz) {
				e->usize = ais__shard_le64(d + k);
				k += 8;
			}
			if (e->csize == 0xffffffff && k + 8 <= sz) {
				e->csize = ais__shard_le64(d + k);
				k += 8;
			}
			if (!local && e->lho == 0xffffffff && k + 8 <= sz)
				e->lho = ais__shard_le64(d + k);
		} else if (id == 0x5455 && sz >= 5 && (d[0] & 1)) {
			e->mtime = (int32_t)ais__shard_le32(d + 1);
			e->has_ut = true;
		}
		i += 4 + (size_t)sz;
	}
}

#define ZIP_SYMLINK_MAX 4096

/* Reads a zip symlink's target (its data) into a heap string. */
static int zip_link_target(int fd, const struct sc_rec *r, char **out)
{
	size_t cl = (size_t)r->csize;
	ssize_t got;
	char *c, *u;

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
	got = ais__shard_pread(fd, c, cl, r->data_off);
	if (got == (ssize_t)cl) {
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
	return got < 0 ? (int)got : 0;
}

/* Fills r from a parsed entry and adds it. */
static int zip_add(struct ais__shard_builder *b, struct zent *e,
		   const char *name, size_t nlen, uint64_t data_off)
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
	mode = (mode & 07777) | ais__shard_type_mode(r.type);
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
		ais__shard_set_broken(
		    b, e->lho,
		    "corrupt zip: stored member '%.*s' at offset "
		    "%" PRIu64 " has %" PRIu64 " bytes stored but a size "
		    "of %" PRIu64 " (member skipped)",
		    (int)(nlen < 100 ? nlen : 100), name, e->lho, r.csize,
		    r.size);
		return 0;
	}
	if (r.type == AIS_SHARD_SYMLINK) {
		if ((rc = zip_link_target(b->obj_fd, &r, &target)) < 0)
			return rc;
		r.size = 0;
	}
	rc = ais__shard_add_member(b, &r, name, nlen, target ? target : "",
				   target ? strlen(target) : 0, false);
	free(target);
	return rc;
}

/* Reads the local header at e->lho; sets *data_off. 1 = broken (recorded). */
static int zip_local(struct ais__shard_builder *b, const struct zent *e,
		     const char *name, uint64_t *data_off)
{
	uint8_t lh[30];
	ssize_t got = ais_pread_upto(b->obj_fd, lh, 30, e->lho);

	if (got < 0)
		return (int)got;
	if (got < 30 || ais__shard_le32(lh) != 0x04034b50) {
		ais__shard_set_broken(
		    b, e->lho,
		    "corrupt zip: member '%.100s' local header at "
		    "offset %" PRIu64 " is %s",
		    name, e->lho, got < 30 ? "cut short" : "missing");
		return 1;
	}
	*data_off =
	    e->lho + 30 + ais__shard_le16(lh + 26) + ais__shard_le16(lh + 28);
	/* Compared without an addition: zip64 sizes can be near 2^64. */
	if (*data_off > b->obj_size || e->csize > b->obj_size - *data_off) {
		ais__shard_set_broken(
		    b, e->lho,
		    "truncated zip: member '%.100s' at offset %" PRIu64
		    " claims %" PRIu64 " bytes, archive ends at %" PRIu64,
		    name, e->lho, e->csize, b->obj_size);
		return 1;
	}
	return 0;
}

/* No central directory: recover what local headers describe. */
static int zip_scan_local(struct ais__shard_builder *b, const char *why)
{
	uint64_t pos = 0;
	size_t found = 0;
	char *name = malloc(65536 + 1);
	int rc = 0;

	if (name == NULL)
		return -ENOMEM;
	for (;;) {
		uint8_t lh[30];
		ssize_t got;
		struct zent e;
		uint16_t nlen, xlen;
		uint8_t x[65536];
		const char *stop = NULL;

		if ((got = ais_pread_upto(b->obj_fd, lh, 30, pos)) < 0) {
			rc = (int)got;
			break;
		}
		if (got >= 4 && ais__shard_le32(lh) == 0x02014b50) {
			stop = "the central directory starts there, its end "
			       "record is missing";
		} else if (got < 30 || ais__shard_le32(lh) != 0x04034b50) {
			stop = got == 0 ? "archive ends" : "no local header";
		} else {
			memset(&e, 0, sizeof(e));
			e.flags = ais__shard_le16(lh + 6);
			e.method = ais__shard_le16(lh + 8);
			e.mtime_dos = ais__shard_le16(lh + 10);
			e.mdate_dos = ais__shard_le16(lh + 12);
			e.crc = ais__shard_le32(lh + 14);
			e.csize = ais__shard_le32(lh + 18);
			e.usize = ais__shard_le32(lh + 22);
			nlen = ais__shard_le16(lh + 26);
			xlen = ais__shard_le16(lh + 28);
			e.lho = pos;
			got = ais_pread_upto(b->obj_fd, name, nlen, pos + 30);
			if (got == nlen) {
				ssize_t gx = ais_pread_upto(b->obj_fd, x, xlen,
							    pos + 30 + nlen);

				got = gx < 0	   ? gx
				      : gx == xlen ? nlen
						   : -EBADMSG;
			}
			if (got < 0 && got != -EBADMSG) {
				rc = (int)got;
				break;
			}
			name[nlen] = '\0';
			if (got != nlen)
				stop = "local header cut short";
			else if (e.flags & 8)
				stop = "member sizes in a data descriptor";
		}
		if (stop == NULL) {
			uint64_t doff;

			zip_extra(x, xlen, &e, true);
			doff = pos + 30 + nlen + xlen;
			if (doff > b->obj_size ||
			    e.csize > b->obj_size - doff) {
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
		ais__shard_set_broken(
		    b, pos,
		    "%s; %zu members recovered from local headers, "
		    "stopped at offset %" PRIu64 " (%s)",
		    why, found, pos, stop);
		break;
	}
	free(name);
	return rc;
}

int ais__shard_zip_parse(struct ais__shard_builder *b, char *errmsg)
{
	uint8_t *tail, *cbuf = NULL;
	size_t tlen, i, found = 0;
	ssize_t got;
	uint64_t tail_off, eocd = UINT64_MAX, cd_off, cd_size, n_total;
	int rc = 0;

	tlen = b->obj_size < 65557 ? (size_t)b->obj_size : 65557;
	tail_off = b->obj_size - tlen;
	if ((tail = malloc(tlen + 1)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((got = ais_pread_upto(b->obj_fd, tail, tlen, tail_off)) < 0) {
		rc = (int)got;
		goto out;
	}
	tlen = (size_t)got; /* less if the object shrank meanwhile */
	for (i = tlen >= 22 ? tlen - 22 + 1 : 0; i-- > 0;) {
		if (ais__shard_le32(tail + i) == 0x06054b50 &&
		    i + 22 + ais__shard_le16(tail + i + 20) <= tlen) {
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
	n_total = ais__shard_le16(tail + i + 10);
	cd_size = ais__shard_le32(tail + i + 12);
	cd_off = ais__shard_le32(tail + i + 16);
	if (eocd >= 20 && i >= 20 &&
	    ais__shard_le32(tail + i - 20) == 0x07064b50) {
		uint64_t z64 = ais__shard_le64(tail + i - 20 + 8);
		uint8_t zr[56];

		if ((got = ais_pread_upto(b->obj_fd, zr, 56, z64)) < 0) {
			rc = (int)got;
			goto out;
		}
		if (got < 56 || ais__shard_le32(zr) != 0x06064b50) {
			ais__shard_set_broken(
			    b, z64,
			    "corrupt zip: zip64 end of central "
			    "directory missing at offset %" PRIu64,
			    z64);
			goto out;
		}
		n_total = ais__shard_le64(zr + 32);
		cd_size = ais__shard_le64(zr + 40);
		cd_off = ais__shard_le64(zr + 48);
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
			uint64_t data_off = 0, eoff;
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
				got = ais_pread_upto(b->obj_fd, cbuf + have, k,
						     pos + have);
				if (got < 0) {
					rc = (int)got;
					goto out;
				}
				have += (size_t)got;
			}
			eoff = pos + at;
			if (eoff >= end)
				break;
			if (have - at < 46 ||
			    ais__shard_le32(cbuf + at) != 0x02014b50) {
				ais__shard_set_broken(
				    b, eoff,
				    "corrupt zip: bad central directory "
				    "entry at offset %" PRIu64,
				    eoff);
				goto out;
			}
			memset(&e, 0, sizeof(e));
			e.made = ais__shard_le16(cbuf + at + 4);
			e.flags = ais__shard_le16(cbuf + at + 8);
			e.method = ais__shard_le16(cbuf + at + 10);
			e.mtime_dos = ais__shard_le16(cbuf + at + 12);
			e.mdate_dos = ais__shard_le16(cbuf + at + 14);
			e.crc = ais__shard_le32(cbuf + at + 16);
			e.csize = ais__shard_le32(cbuf + at + 20);
			e.usize = ais__shard_le32(cbuf + at + 24);
			nlen = ais__shard_le16(cbuf + at + 28);
			xlen = ais__shard_le16(cbuf + at + 30);
			clen = ais__shard_le16(cbuf + at + 32);
			e.eattr = ais__shard_le32(cbuf + at + 38);
			e.lho = ais__shard_le32(cbuf + at + 42);
			elen = 46 + (size_t)nlen + xlen + clen;
			if (have - at < elen) {
				ais__shard_set_broken(
				    b, eoff,
				    "corrupt zip: central directory "
				    "entry at offset %" PRIu64
				    " runs past its end",
				    eoff);
				goto out;
			}
			zip_extra(cbuf + at + 46 + nlen, xlen, &e, false);
			/* The name is copied so it can be NUL-terminated. */
			name = ais__shard_memdup((char *)cbuf + at + 46, nlen);
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
	if (rc < 0)
		ais_errf(errmsg, rc, "shard index: %s", strerror(-rc));
	return rc;
}
