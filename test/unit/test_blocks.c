/* Unit tests of the per-block checksums (daemon/store/blocks.c) on objects
 * PUT through a scratch store: where the table lives (xattr, sidecar), that
 * a range read checks the blocks it touches and only those, that a flipped
 * byte is found and named, that a table of another object or another block
 * size is not trusted but made again, and that a sidecar goes with its
 * object. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "scratch.h"
#include "store/blocks.h"
#include "store/mountpath.h"

#define BUCKET "b"
#define KiB    (1u << 10)
#define MiB    (1u << 20)

static struct ais_obj_meta put(struct store *st, const char *name,
			       const void *data, size_t len)
{
	const uint8_t *p = data;
	struct store_put_args a;
	struct store_put put;
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN] = "";
	size_t off, n;

	memset(&a, 0, sizeof(a));
	a.bucket = BUCKET;
	a.name = name;
	a.mode = 0644;
	ck_assert_int_eq(store_put_begin(st, &a, &put, msg), 0);
	/* Uneven pieces: the writer's blocks do not follow the writes. */
	for (off = 0; off < len; off += n) {
		n = len - off < 7777 ? len - off : 7777;
		ck_assert_int_eq(store_put_write(&put, p + off, n, msg), 0);
	}
	ck_assert_msg(store_put_commit(&put, &m, msg) == 0, "%s", msg);
	return m;
}

static void obj_path(struct store *st, const char *name, char *path)
{
	mpset_obj_path(st->mps, 0, BUCKET, name, path);
}

static int open_obj(struct store *st, const char *name, struct ais_obj_meta *m)
{
	char msg[AIS_ERRMSG_LEN] = "";
	int fd;

	ck_assert_int_eq(store_open(st, BUCKET, name, &fd, m, msg), 0);
	return fd;
}

static uint8_t scratch[BLK_SCRATCH];

static int verify(struct store *st, int fd, const struct ais_obj_meta *m,
		  uint64_t off, uint64_t len, char *msg)
{
	msg[0] = 0;
	return blk_verify(st->mps, st->blk, fd, m, off, len, scratch, false,
			  msg);
}

/* verify without the cache: a sidecar read from its file (only the slice
 * asked for), every time. */
static int verify_nc(struct store *st, int fd, const struct ais_obj_meta *m,
		     uint64_t off, uint64_t len, char *msg)
{
	msg[0] = 0;
	return blk_verify(st->mps, NULL, fd, m, off, len, scratch, false, msg);
}

/* Flips the byte at off of the object's file in place (its xattrs kept),
 * as a disk would. */
static void flip(struct store *st, const char *name, uint64_t off)
{
	char path[AISD_PATH_MAX];
	uint8_t b;
	int fd;

	obj_path(st, name, path);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static bool has_xattr(struct store *st, const char *name)
{
	char path[AISD_PATH_MAX];

	obj_path(st, name, path);
	return getxattr(path, BLK_XATTR, NULL, 0) > 0;
}

static int sidecars(struct store *st)
{
	char path[AISD_PATH_MAX];

	snprintf(path, sizeof(path), "%s/.ais/blk", st->mps->paths[0]);
	return scratch_count_entries(path) < 0 ? 0
					       : scratch_count_entries(path);
}

START_TEST(test_ranges_and_flips)
{
	struct scratch_store f;
	size_t len = 300 * KiB + 123; /* 19 blocks, the last short */
	uint8_t *data = malloc(len);
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN];
	uint64_t bad = 5 * BLK_SIZE + 77;
	int fd;

	scratch_store_open(&f, "ranges", 1, BUCKET);
	scratch_fill(data, len, 7);
	put(f.st, "o", data, len);
	ck_assert(has_xattr(f.st, "o"));
	ck_assert_int_eq(sidecars(f.st), 0);

	fd = open_obj(f.st, "o", &m);
	ck_assert_int_eq(verify(f.st, fd, &m, 0, len, msg), 0);
	ck_assert_int_eq(verify(f.st, fd, &m, len - 1, 1, msg), 0);
	ck_assert_int_eq(verify(f.st, fd, &m, len, 10, msg), 0); /* past */
	close(fd);

	flip(f.st, "o", bad);
	fd = open_obj(f.st, "o", &m);
	/* The whole object, and any range over the byte: named. */
	ck_assert_int_eq(verify(f.st, fd, &m, 0, len, msg), -EBADMSG);
	ck_assert_msg(strstr(msg, "block 5 "), "%s", msg);
	ck_assert_int_eq(verify(f.st, fd, &m, bad, 1, msg), -EBADMSG);
	ck_assert_int_eq(
	    verify(f.st, fd, &m, bad - 3 * BLK_SIZE, 4 * BLK_SIZE, msg),
	    -EBADMSG);
	/* Ranges that do not touch its block read nothing of it. */
	ck_assert_int_eq(verify(f.st, fd, &m, 0, 5 * BLK_SIZE, msg), 0);
	ck_assert_int_eq(verify(f.st, fd, &m, 6 * BLK_SIZE, len, msg), 0);
	ck_assert_int_eq(verify(f.st, fd, &m, 5 * BLK_SIZE - 10, 10, msg), 0);
	close(fd);
	free(data);
	scratch_store_close(&f);
}
END_TEST

/* Bigger than an xattr holds: a sidecar, which goes with the object. */
START_TEST(test_sidecar)
{
	struct scratch_store f;
	size_t len = 5 * MiB + 1;
	uint8_t *data = malloc(len);
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN], path[AISD_PATH_MAX];
	int fd;

	ck_assert_uint_gt(len / BLK_SIZE, BLK_XATTR_MAX);
	scratch_store_open(&f, "sidecar", 1, BUCKET);
	scratch_fill(data, len, 9);
	put(f.st, "big", data, len);
	ck_assert(!has_xattr(f.st, "big"));
	ck_assert_int_eq(sidecars(f.st), 1);
	fd = open_obj(f.st, "big", &m);
	ck_assert_int_eq(verify(f.st, fd, &m, 0, len, msg), 0);
	ck_assert_int_eq(verify_nc(f.st, fd, &m, 0, len, msg), 0);
	close(fd);
	flip(f.st, "big", 4 * MiB + 5);
	fd = open_obj(f.st, "big", &m);
	ck_assert_int_eq(verify(f.st, fd, &m, 4 * MiB, 64 * KiB, msg),
			 -EBADMSG);
	ck_assert_int_eq(verify(f.st, fd, &m, 0, 4 * MiB, msg), 0);
	/* The same from the file: the slice of the flipped block, and the
	 * last block's (the table's tail). */
	ck_assert_int_eq(verify_nc(f.st, fd, &m, 4 * MiB, 64 * KiB, msg),
			 -EBADMSG);
	ck_assert_msg(strstr(msg, "block 256 "), "%s", msg);
	ck_assert_int_eq(verify_nc(f.st, fd, &m, 0, 4 * MiB, msg), 0);
	ck_assert_int_eq(verify_nc(f.st, fd, &m, len - 1, 1, msg), 0);
	close(fd);
	obj_path(f.st, "big", path);
	blk_forget(f.st->mps, f.st->blk, path);
	ck_assert_int_eq(sidecars(f.st), 0);
	free(data);
	scratch_store_close(&f);
}
END_TEST

/* A table that is not this object's (another size or checksum), or of
 * another block size, is made again from the object once its whole
 * checksum matches; a corrupt object gets no table. */
START_TEST(test_stale_tables)
{
	struct scratch_store f;
	size_t len = 200 * KiB;
	uint8_t *data = malloc(len);
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN], path[AISD_PATH_MAX];
	ssize_t n;
	int fd;

	scratch_store_open(&f, "stale", 1, BUCKET);
	scratch_fill(data, len, 11);
	put(f.st, "o", data, len);
	obj_path(f.st, "o", path);

	/* Another block size in the header (byte 4): not used, made again. */
	{
		uint8_t *x = malloc(8192);

		n = getxattr(path, BLK_XATTR, x, 8192);
		ck_assert_int_gt(n, 8);
		ck_assert_uint_eq(x[4], BLK_SHIFT);
		x[4] = BLK_SHIFT + 2;
		ck_assert_int_eq(setxattr(path, BLK_XATTR, x, (size_t)n, 0), 0);
		fd = open_obj(f.st, "o", &m);
		ck_assert_int_eq(verify(f.st, fd, &m, 1000, 10, msg), 0);
		close(fd);
		n = getxattr(path, BLK_XATTR, x, 8192);
		ck_assert_uint_eq(x[4], BLK_SHIFT);
		free(x);
	}

	/* The object's metadata says another checksum: the table is stale;
	 * the whole object does not match either: corrupt. */
	fd = open_obj(f.st, "o", &m);
	m.cksum[0] = m.cksum[0] == '0' ? '1' : '0';
	ck_assert_int_eq(verify(f.st, fd, &m, 0, 10, msg), -EBADMSG);
	ck_assert_msg(strstr(msg, "do not match its checksum"), "%s", msg);
	close(fd);

	/* No table at all: made by the first read. */
	ck_assert_int_eq(removexattr(path, BLK_XATTR), 0);
	fd = open_obj(f.st, "o", &m);
	ck_assert_int_eq(verify(f.st, fd, &m, 0, 10, msg), 0);
	close(fd);
	ck_assert(has_xattr(f.st, "o"));
	free(data);
	scratch_store_close(&f);
}
END_TEST

/* A table written while the object had other bytes (a flip before the
 * table was made) is never made from a corrupt object. */
START_TEST(test_no_table_from_corrupt)
{
	struct scratch_store f;
	size_t len = 100 * KiB;
	uint8_t *data = malloc(len);
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN], path[AISD_PATH_MAX];
	int fd;

	scratch_store_open(&f, "corrupt", 1, BUCKET);
	scratch_fill(data, len, 13);
	put(f.st, "o", data, len);
	obj_path(f.st, "o", path);
	ck_assert_int_eq(removexattr(path, BLK_XATTR), 0);
	flip(f.st, "o", 50 * KiB);
	fd = open_obj(f.st, "o", &m);
	/* Even a range far from the flip: there is no table to say which
	 * blocks are good. */
	ck_assert_int_eq(verify(f.st, fd, &m, 0, 10, msg), -EBADMSG);
	close(fd);
	ck_assert(!has_xattr(f.st, "o"));
	free(data);
	scratch_store_close(&f);
}
END_TEST

/* One block with an XXH3 checksum: no table, the checksum is the
 * block's; a buffer the caller read is checked the same way. */
START_TEST(test_one_block)
{
	struct scratch_store f;
	size_t len = 5000;
	uint8_t data[5000], got[5000];
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN];
	int fd;

	scratch_store_open(&f, "one", 1, BUCKET);
	scratch_fill(data, len, 17);
	m = put(f.st, "s", data, len);
	ck_assert_int_eq(m.cksum_type, AIS_CKSUM_XXH3);
	ck_assert(!has_xattr(f.st, "s"));
	fd = open_obj(f.st, "s", &m);
	ck_assert_int_eq(verify(f.st, fd, &m, 100, 10, msg), 0);
	ck_assert_int_eq(pread(fd, got, len, 0), (ssize_t)len);
	ck_assert_int_eq(blk_check_read(f.st->mps, f.st->blk, fd, &m, 0, got,
					len, true, msg),
			 0);
	got[4999] ^= 1;
	ck_assert_int_eq(blk_check_read(f.st->mps, f.st->blk, fd, &m, 0, got,
					len, true, msg),
			 -EBADMSG);
	/* Not starting a block, or not ending one: refused. */
	ck_assert_int_eq(
	    blk_check_read(f.st->mps, f.st->blk, fd, &m, 1, got, 10, true, msg),
	    -EINVAL);
	close(fd);
	flip(f.st, "s", 4000);
	fd = open_obj(f.st, "s", &m);
	ck_assert_int_eq(verify(f.st, fd, &m, 0, 1, msg), -EBADMSG);
	close(fd);
	scratch_store_close(&f);
}
END_TEST

/* A buffer of several blocks read by the caller, checked against the
 * table. */
START_TEST(test_check_read)
{
	struct scratch_store f;
	size_t len = 3 * BLK_SIZE + 100;
	uint8_t *data = malloc(len);
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN];
	int fd;

	scratch_store_open(&f, "chk", 1, BUCKET);
	scratch_fill(data, len, 19);
	put(f.st, "o", data, len);
	fd = open_obj(f.st, "o", &m);
	ck_assert_int_eq(blk_check_read(f.st->mps, f.st->blk, fd, &m, 0, data,
					len, false, msg),
			 0);
	ck_assert_int_eq(blk_check_read(f.st->mps, f.st->blk, fd, &m, BLK_SIZE,
					data + BLK_SIZE, 2 * BLK_SIZE, false,
					msg),
			 0);
	ck_assert_int_eq(blk_check_read(f.st->mps, f.st->blk, fd, &m,
					3 * BLK_SIZE, data + 3 * BLK_SIZE, 100,
					false, msg),
			 0);
	data[2 * BLK_SIZE + 7] ^= 1;
	ck_assert_int_eq(blk_check_read(f.st->mps, f.st->blk, fd, &m, BLK_SIZE,
					data + BLK_SIZE, 2 * BLK_SIZE, false,
					msg),
			 -EBADMSG);
	ck_assert_msg(strstr(msg, "block 2 "), "%s", msg);
	close(fd);
	free(data);
	scratch_store_close(&f);
}
END_TEST

static Suite *blocks_suite(void)
{
	Suite *s = suite_create("blocks");
	TCase *tc = tcase_create("blocks");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ranges_and_flips);
	tcase_add_test(tc, test_sidecar);
	tcase_add_test(tc, test_stale_tables);
	tcase_add_test(tc, test_no_table_from_corrupt);
	tcase_add_test(tc, test_one_block);
	tcase_add_test(tc, test_check_read);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	scratch_init("blocks");
	return scratch_run(blocks_suite());
}
