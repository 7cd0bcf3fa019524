/* Unit tests of an object's metadata: lib/core/objmeta.c (struct
 * ais_obj_meta <-> protobuf ObjMeta, encoded and decoded) and
 * daemon/store/xattr.c (the "user.ais" xattr of an object's file, and the
 * metadata of a file that has none). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cksum.h"
#include "objmeta.h"

#include "store/mountpath.h"
#include "store/xattr.h"

#include "scratch.h"

#define AIS_ETAG_MAX_TEST 64

/* A metadata with the checksum of some bytes of the given type. */
static struct ais_obj_meta mkmeta(int type)
{
	static const char data[] = "the quick brown fox";
	struct ais_obj_meta m;

	memset(&m, 0, sizeof(m));
	m.size = sizeof(data) - 1;
	m.cksum_type = type;
	ck_assert_int_eq(ais_cksum_buf(type, data, m.size, m.cksum), 0);
	m.version = 7;
	m.mtime_ns = 1700000000123456789LL;
	m.mode = 0640;
	m.uid = 1000;
	m.gid = 100;
	return m;
}

/* The metadata with every field at its widest: the largest encoding. */
static struct ais_obj_meta widest(void)
{
	struct ais_obj_meta m;

	memset(&m, 0, sizeof(m));
	m.size = UINT64_MAX;
	m.cksum_type = AIS_CKSUM_SHA256;
	memset(m.cksum, 'f', AIS_CKSUM_HEX_MAX - 1);
	m.cksum[AIS_CKSUM_HEX_MAX - 1] = '\0';
	m.version = UINT64_MAX;
	/* A negative int64 is a ten-byte varint, the longest there is. */
	m.mtime_ns = INT64_MIN;
	m.mode = UINT32_MAX;
	m.uid = UINT32_MAX;
	m.gid = UINT32_MAX;
	return m;
}

static void round_trip(const struct ais_obj_meta *m, const char *what)
{
	uint8_t buf[AIS_OBJ_META_MAX];
	struct ais_obj_meta got;
	size_t n;

	n = ais_obj_meta_encode(m, buf);
	ck_assert_msg(n <= AIS_OBJ_META_MAX, "%s: encoded %zu bytes", what, n);
	/* Garbage in got first: decode must set every field. */
	memset(&got, 0xa5, sizeof(got));
	ck_assert_int_eq(ais_obj_meta_decode(buf, n, &got), 0);
	assert_meta_eq(&got, m, what);
}

/* Each checksum type, with a value of its own length (as ais_cksum_buf
 * gives it), survives encode and decode; so do the extremes of every
 * number: the metadata a node writes is the metadata it reads back. */
START_TEST(test_round_trip)
{
	static const struct {
		int type;
		size_t hexlen;
	} types[] = {
	    {AIS_CKSUM_NONE, 0}, {AIS_CKSUM_XXH3, 16},	{AIS_CKSUM_SHA256, 64},
	    {AIS_CKSUM_MD5, 32}, {AIS_CKSUM_CRC32C, 8},
	};
	struct ais_obj_meta m;
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		m = mkmeta(types[i].type);
		ck_assert_uint_eq(strlen(m.cksum), types[i].hexlen);
		round_trip(&m, ais_cksum_name(types[i].type));
	}

	m = widest();
	round_trip(&m, "widest");

	/* The other extremes: size 0 with version 1 (a fresh empty object),
	 * and a negative mtime (before 1970), which a sign error would turn
	 * into a date in the far future. */
	m = mkmeta(AIS_CKSUM_XXH3);
	m.size = 0;
	m.version = 1;
	m.mtime_ns = -1500000000LL;
	round_trip(&m, "size 0, mtime before 1970");
	m.mtime_ns = -1;
	round_trip(&m, "mtime -1 ns");
	m.mtime_ns = INT64_MAX;
	m.size = UINT64_MAX - 1;
	m.version = (uint64_t)1 << 63;
	round_trip(&m, "mtime INT64_MAX");

	/* All zeroes: nothing set is still a valid encoding (of length 0 or
	 * more) that decodes to all zeroes. */
	memset(&m, 0, sizeof(m));
	round_trip(&m, "zeroes");
}
END_TEST

/* What a node stores for a typical object (an xxh3 checksum; mtime,
 * written, ctime and atime one clock reading; an owner) encodes in at
 * most 68 bytes: what an ext4 inode of 256 bytes holds beside its
 * fields, so the xattr needs no 4 KiB block of its own (an extra block
 * written per PUT, and read per cold open). ctime and atime equal to mtime
 * are left out and read back as mtime; other values round trip. */
START_TEST(test_compact)
{
	uint8_t buf[AIS_OBJ_META_MAX];
	struct ais_obj_meta m = mkmeta(AIS_CKSUM_XXH3), got;
	size_t n, same;

	m.size = 150000;
	m.version = 1;
	m.mtime_ns = 1796000000123456789LL;
	m.written_ns = m.ctime_ns = m.atime_ns = m.mtime_ns;
	m.mode = 0100644;
	m.owned = true;
	m.uid = m.gid = 100000;
	same = ais_obj_meta_encode(&m, buf);
	ck_assert_msg(same <= 68, "typical metadata: %zu bytes", same);
	memset(&got, 0xa5, sizeof(got));
	ck_assert_int_eq(ais_obj_meta_decode(buf, same, &got), 0);
	assert_meta_eq(&got, &m, "compact");
	ck_assert(got.ctime_ns == m.mtime_ns && got.atime_ns == m.mtime_ns);
	ck_assert(got.written_ns == m.written_ns && got.owned);

	/* An mtime a client gave (ais put of a file that keeps its own):
	 * the ctime, the commit, is still left out, and it still fits. */
	m.mtime_ns = m.atime_ns = 1500000000000000000LL;
	n = ais_obj_meta_encode(&m, buf);
	ck_assert_msg(n <= 68, "mtime of its own: %zu bytes", n);
	ck_assert_int_eq(ais_obj_meta_decode(buf, n, &got), 0);
	ck_assert(got.ctime_ns == m.ctime_ns && got.atime_ns == m.atime_ns);

	/* A chmod and a touch -a later: every time of its own round trips;
	 * with no commit time (a file put there by hand), ctime = mtime is
	 * what is left out. */
	m.ctime_ns = m.written_ns + 5;
	m.atime_ns = m.written_ns - 5;
	n = ais_obj_meta_encode(&m, buf);
	ck_assert_int_eq(ais_obj_meta_decode(buf, n, &got), 0);
	assert_meta_eq(&got, &m, "times of its own");
	ck_assert(got.ctime_ns == m.ctime_ns && got.atime_ns == m.atime_ns &&
		  got.written_ns == m.written_ns);
	m.written_ns = 0;
	m.ctime_ns = m.mtime_ns;
	n = ais_obj_meta_encode(&m, buf);
	ck_assert_int_eq(ais_obj_meta_decode(buf, n, &got), 0);
	ck_assert(got.ctime_ns == m.mtime_ns && got.written_ns == 0);
}
END_TEST

/* The buffer size the callers use (AIS_OBJ_META_MAX) holds the widest
 * encoding: a canary just past it is never touched, and the packed size
 * protobuf-c reports agrees with what encode returned. */
START_TEST(test_widest_fits)
{
	uint8_t buf[AIS_OBJ_META_MAX + 64];
	struct ais_obj_meta m = widest();
	Ais__ObjMeta pb;
	size_t n, i;

	memset(buf, 0xcc, sizeof(buf));
	n = ais_obj_meta_encode(&m, buf);
	ais_obj_meta_to_pb(&m, &pb);
	ck_assert_uint_eq(n, ais__obj_meta__get_packed_size(&pb));
	ck_assert_uint_le(n, AIS_OBJ_META_MAX);
	for (i = AIS_OBJ_META_MAX; i < sizeof(buf); i++)
		ck_assert_msg(buf[i] == 0xcc,
			      "byte %zu past the buffer written", i);
	/* And with the widest enum value too (a negative one is ten bytes
	 * on the wire). */
	m.cksum_type = -1;
	ais_obj_meta_to_pb(&m, &pb);
	ck_assert_uint_le(ais__obj_meta__get_packed_size(&pb),
			  AIS_OBJ_META_MAX);
}
END_TEST

/* Bytes that are no ObjMeta decode to -EBADMSG (the store then treats the
 * file as having no metadata), and never crash or read past len. */
START_TEST(test_decode_garbage)
{
	static const struct {
		const char *what;
		uint8_t b[16];
		size_t len;
	} bad[] = {
	    /* field 1 (size), a varint that never ends */
	    {"truncated varint", {0x08, 0xff, 0xff}, 3},
	    /* field 3 (cksum_value), length 5, one byte present */
	    {"string past the end", {0x1a, 0x05, 'a'}, 3},
	    /* a tag varint of eleven bytes */
	    {"overlong tag",
	     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	     11},
	    /* field number 0 is not a field */
	    {"field 0", {0x00, 0x01}, 2},
	    /* field 1 (size, a varint) sent length-delimited */
	    {"wrong wire type", {0x0a, 0x01, 0x00}, 3},
	    /* wire types 6 and 7 do not exist */
	    {"wire type 7", {0x0f, 0x00}, 2},
	};
	struct ais_obj_meta m;
	uint8_t good[AIS_OBJ_META_MAX];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ais_obj_meta_decode(bad[i].b, bad[i].len, &m) ==
				  -EBADMSG,
			      "%s: not -EBADMSG", bad[i].what);

	/* A sound encoding cut short in its last field is garbage too. */
	m = mkmeta(AIS_CKSUM_SHA256);
	n = ais_obj_meta_encode(&m, good);
	ck_assert_uint_gt(n, 2);
	ck_assert_int_eq(ais_obj_meta_decode(good, n - 1, &m), -EBADMSG);
}
END_TEST

/* to_pb points into the struct and from_pb copies back every field; a NULL
 * message (an answer without meta) gives all zeroes. */
START_TEST(test_pb)
{
	struct ais_obj_meta m = widest(), got;
	Ais__ObjMeta pb;

	ais_obj_meta_to_pb(&m, &pb);
	ck_assert_uint_eq(pb.size, UINT64_MAX);
	ck_assert_str_eq(pb.cksum_value, m.cksum);
	memset(&got, 0x5a, sizeof(got));
	ais_obj_meta_from_pb(&pb, &got);
	assert_meta_eq(&got, &m, "to_pb/from_pb");

	memset(&got, 0x5a, sizeof(got));
	ais_obj_meta_from_pb(NULL, &got);
	memset(&m, 0, sizeof(m));
	assert_meta_eq(&got, &m, "from_pb(NULL)");

	/* A message whose cksum_value is NULL (never from unpack, but a
	 * hand-built one) reads as "". */
	ais__obj_meta__init(&pb);
	pb.cksum_value = NULL;
	pb.version = 3;
	ais_obj_meta_from_pb(&pb, &got);
	ck_assert_str_eq(got.cksum, "");
	ck_assert_uint_eq(got.version, 3);
}
END_TEST

/* The metadata written to a file's xattr is read back whole, by fd and by
 * path, across each other (written by fd, read by path and back); a second
 * write replaces the first. */
START_TEST(test_xattr_round_trip)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct ais_obj_meta m = mkmeta(AIS_CKSUM_XXH3), w = widest(), got;
	int fd;

	scratch_dir(dir, "xattr");
	snprintf(path, sizeof(path), "%s/obj", dir);
	scratch_write_file(path, "payload", 7);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);

	ck_assert_int_eq(objmeta_write_fd(fd, &m), 0);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(objmeta_read_fd(fd, &got), 0);
	assert_meta_eq(&got, &m, "write_fd/read_fd");
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(objmeta_read_path(path, &got), 0);
	assert_meta_eq(&got, &m, "write_fd/read_path");

	/* The widest metadata fits the xattr and replaces the first. */
	ck_assert_int_eq(objmeta_write_path(path, &w), 0);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(objmeta_read_fd(fd, &got), 0);
	assert_meta_eq(&got, &w, "write_path/read_fd");
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(objmeta_read_path(path, &got), 0);
	assert_meta_eq(&got, &w, "write_path/read_path");

	/* It is the "user.ais" xattr, where aisd of every version looks. */
	ck_assert_int_gt(fgetxattr(fd, AISD_XATTR, NULL, 0), 0);
	close(fd);
	scratch_rm(dir);
}
END_TEST

/* A file without the xattr (put there by hand) reads -ENODATA, which the
 * store answers with objmeta_from_stat; an xattr that does not decode
 * reads -EBADMSG; a missing file -ENOENT; and read_path does not follow a
 * symlink to an object's metadata. */
START_TEST(test_xattr_missing)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], link[PATH_MAX + 16];
	char missing[PATH_MAX + 16];
	struct ais_obj_meta m = mkmeta(AIS_CKSUM_MD5), got;
	int fd;

	scratch_dir(dir, "noxattr");
	snprintf(path, sizeof(path), "%s/plain", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	scratch_write_file(path, "x", 1);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);

	ck_assert_int_eq(objmeta_read_fd(fd, &got), -ENODATA);
	ck_assert_int_eq(objmeta_read_path(path, &got), -ENODATA);
	ck_assert_int_eq(objmeta_read_path(missing, &got), -ENOENT);

	ck_assert_int_eq(fsetxattr(fd, AISD_XATTR, "\x08\xff", 2, 0), 0);
	ck_assert_int_eq(objmeta_read_fd(fd, &got), -EBADMSG);
	ck_assert_int_eq(objmeta_read_path(path, &got), -EBADMSG);

	ck_assert_int_eq(objmeta_write_fd(fd, &m), 0);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(objmeta_read_path(link, &got), -ENODATA);
	close(fd);
	scratch_rm(dir);
}
END_TEST

/* The metadata of a file without an xattr is what stat says: its size,
 * mtime to the nanosecond, permission bits (without the file type), owner,
 * version 1 and no checksum, whatever the struct held before. */
/* An encoded ObjExt of one header and an etag. */
static size_t ext_of(const char *name, const char *value, const char *etag,
		     uint8_t *out)
{
	Ais__ObjExt x = AIS__OBJ_EXT__INIT;
	Ais__ExtHeader h = AIS__EXT_HEADER__INIT, *hp = &h;

	h.name = (char *)name;
	h.value = (char *)value;
	x.etag = (char *)etag;
	x.n_headers = name ? 1 : 0;
	x.headers = &hp;
	return ais__obj_ext__pack(&x, out);
}

/* What a node keeps for S3 goes out in HTTP answers as it is: only the
 * headers S3 keeps, no control characters, a plain etag. */
START_TEST(test_ext_check)
{
	uint8_t b[AIS_OBJ_EXT_MAX], o[AIS_OBJ_EXT_MAX];
	char em[AIS_ERRMSG_LEN], etag[AIS_ETAG_MAX_TEST];
	char *big = malloc(5000);
	size_t n;
	long m;

	n = ext_of("content-type", "image/jpeg", "0a1b-2", b);
	ck_assert_int_eq(ais_obj_ext_check(b, n, em), 0);
	n = ext_of("x-amz-meta-owner", "ml team\t1", "", b);
	ck_assert_int_eq(ais_obj_ext_check(b, n, em), 0);
	ck_assert_int_eq(ais_obj_ext_check(NULL, 0, em), 0);
	n = ext_of("content-type", "a\r\nSet-Cookie: x", "", b);
	ck_assert_int_eq(ais_obj_ext_check(b, n, em), -EINVAL);
	n = ext_of("content-length", "5", "", b);
	ck_assert_int_eq(ais_obj_ext_check(b, n, em), -EINVAL);
	n = ext_of("transfer-encoding", "chunked", "", b);
	ck_assert_int_eq(ais_obj_ext_check(b, n, em), -EINVAL);
	n = ext_of("X-Amz-Meta-A", "v", "", b);
	ck_assert_int_eq(ais_obj_ext_check(b, n, em), -EINVAL);
	n = ext_of("x-amz-meta-", "v", "", b);
	ck_assert_int_eq(ais_obj_ext_check(b, n, em), -EINVAL);
	n = ext_of(NULL, NULL, "\"quoted\"", b);
	ck_assert_int_eq(ais_obj_ext_check(b, n, em), -EINVAL);
	memset(big, 'v', 4999);
	big[4999] = 0;
	n = ext_of("x-amz-meta-big", big, "", b);
	ck_assert_int_eq(ais_obj_ext_check(b, n, em), -EINVAL);
	ck_assert_int_eq(ais_obj_ext_check((const uint8_t *)"\xff\xff", 2, em),
			 -EINVAL);
	/* The etag set on the headers kept, and read back. */
	n = ext_of("content-type", "text/plain", "", b);
	m = ais_obj_ext_with_etag(b, n, "d41d8cd98f00b204e9800998ecf8427e", o);
	ck_assert_int_gt(m, 0);
	ck_assert_int_eq(ais_obj_ext_check(o, (size_t)m, em), 0);
	ais_obj_ext_etag(o, (size_t)m, etag, sizeof(etag));
	ck_assert_str_eq(etag, "d41d8cd98f00b204e9800998ecf8427e");
	ais_obj_ext_etag(NULL, 0, etag, sizeof(etag));
	ck_assert_str_eq(etag, "");
	free(big);
}
END_TEST

START_TEST(test_from_stat)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct timespec ts[2] = {{1234567890, 987654321},
				 {1234567890, 123456789}};
	uint8_t data[5000];
	struct ais_obj_meta m;
	struct stat sb;

	scratch_dir(dir, "fromstat");
	snprintf(path, sizeof(path), "%s/f", dir);
	scratch_fill(data, sizeof(data), 1);
	scratch_write_file(path, data, sizeof(data));
	ck_assert_int_eq(chmod(path, 04751), 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	ck_assert_int_eq(stat(path, &sb), 0);

	memset(&m, 0xee, sizeof(m));
	objmeta_from_stat(&sb, &m);
	ck_assert_uint_eq(m.size, sizeof(data));
	ck_assert_uint_eq(m.version, 1);
	ck_assert_int_eq(m.mtime_ns, 1234567890123456789LL);
	ck_assert_uint_eq(m.mode, 04751);
	ck_assert_uint_eq(m.uid, getuid());
	ck_assert_uint_eq(m.gid, getgid());
	ck_assert_int_eq(m.cksum_type, AIS_CKSUM_NONE);
	ck_assert_str_eq(m.cksum, "");

	/* A time before 1970: seconds and nanoseconds add up, signed. */
	sb.st_mtim.tv_sec = -2;
	sb.st_mtim.tv_nsec = 500000000;
	objmeta_from_stat(&sb, &m);
	ck_assert_int_eq(m.mtime_ns, -1500000000LL);
	scratch_rm(dir);
}
END_TEST

static Suite *objmeta_suite(void)
{
	Suite *s = suite_create("objmeta");
	TCase *tc = tcase_create("objmeta");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_ext_check);
	tcase_add_test(tc, test_widest_fits);
	tcase_add_test(tc, test_compact);
	tcase_add_test(tc, test_decode_garbage);
	tcase_add_test(tc, test_pb);
	tcase_add_test(tc, test_xattr_round_trip);
	tcase_add_test(tc, test_xattr_missing);
	tcase_add_test(tc, test_from_stat);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	scratch_init("objmeta");
	return scratch_run(objmeta_suite());
}
