/* Unit tests of daemon/shard/journal.c, the undo journal of a shard append:
 * a journal written before an append and found at start-up puts the shard
 * back byte for byte (tail, size, xattr); a removed journal undoes nothing;
 * a damaged journal, or the temporary file of one that was never put in
 * place, is discarded without touching the shard; a journal whose object
 * is another file now (another inode) is discarded too. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"

#include "scratch.h"
#include "shard/journal.h"
#include "store/mountpath.h"

#define OLD_SIZE 3072 /* members up to 2048, then two zero blocks */
#define END	 2048

/* A shard-like file at <mp>/b/s.tar: OLD_SIZE bytes (a pattern, then zero
 * blocks from END) and an xattr; *rel gets its path under the mountpath. */
static int make_object(struct scratch_store *f, char *path, const char **rel)
{
	uint8_t buf[OLD_SIZE];
	int fd;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = i < END ? (uint8_t)(i * 7 + 1) : 0;
	ck_assert_int_lt(snprintf(path, PATH_MAX, "%s/b/s.tar", f->mp[0]),
			 PATH_MAX);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ais_write_all(fd, buf, sizeof(buf)), 0);
	ck_assert_int_eq(fsetxattr(fd, AISD_XATTR, "old-meta", 8, 0), 0);
	*rel = path + strlen(f->mp[0]) + 1;
	return fd;
}

/* What an append does to the object: members over the old zero blocks,
 * new zero blocks, a longer file, new metadata. */
static void fake_append(int fd)
{
	uint8_t more[4096];

	memset(more, 0xab, sizeof(more));
	ck_assert_int_eq(ais_pwrite_all(fd, more, sizeof(more), END), 0);
	ck_assert_int_eq(fsetxattr(fd, AISD_XATTR, "new-meta!", 9, 0), 0);
}

/* The object is as make_object left it: size, bytes, xattr. */
static void assert_old(const char *path)
{
	uint8_t buf[OLD_SIZE + 1];
	char x[32];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, OLD_SIZE);
	n = ais_pread_upto(fd, buf, sizeof(buf), 0);
	ck_assert_int_eq(n, OLD_SIZE);
	for (size_t i = 0; i < OLD_SIZE; i++)
		ck_assert_msg(buf[i] == (i < END ? (uint8_t)(i * 7 + 1) : 0),
			      "byte %zu is %u", i, buf[i]);
	n = fgetxattr(fd, AISD_XATTR, x, sizeof(x));
	ck_assert_int_eq(n, 8);
	ck_assert(!memcmp(x, "old-meta", 8));
	close(fd);
}

static size_t file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (size_t)st.st_size;
}

/* A store over one mountpath, the shard-like object (open on fd, at path)
 * and the durable journal of an append to it, as append.c writes it before
 * touching the shard. */
struct jfx {
	struct scratch_store f;
	char path[PATH_MAX];
	const char *rel;
	int fd;
	char xattr[8];
	uint8_t tail[OLD_SIZE - END];
	struct journal j;
};

static void jfx_begin(struct jfx *x, const char *tag)
{
	struct stat st;

	scratch_store_open(&x->f, tag, 1, "b");
	x->fd = make_object(&x->f, x->path, &x->rel);
	ck_assert_int_eq(fstat(x->fd, &st), 0);
	memset(&x->j, 0, sizeof(x->j));
	x->j.end = END;
	x->j.old_size = OLD_SIZE;
	x->j.ino = (uint64_t)st.st_ino;
	x->j.rel = x->rel;
	memcpy(x->xattr, "old-meta", 8);
	x->j.xattr = (const uint8_t *)x->xattr;
	x->j.xattr_len = 8;
	memset(x->tail, 0, sizeof(x->tail));
	x->j.tail = x->tail;
	x->j.tail_len = OLD_SIZE - END;
	ck_assert_int_eq(journal_write(x->f.st->mps, 0, &x->j), 0);
}

static int journal_count(const char *mp)
{
	char dir[PATH_MAX];

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/.ais/journal", mp),
			 (int)sizeof(dir));
	return scratch_count_entries(dir);
}

START_TEST(test_roll_back)
{
	struct jfx x;
	char msg[AIS_ERRMSG_LEN] = "";

	jfx_begin(&x, "rollback");
	ck_assert_int_eq(journal_count(x.f.mp[0]), 1);
	fake_append(x.fd);
	close(x.fd);
	ck_assert_uint_eq(file_size(x.path), END + 4096);
	/* The node died before journal_remove: the next start undoes it. */
	ck_assert_int_eq(journal_recover(x.f.st->mps, msg), 0);
	assert_old(x.path);
	ck_assert_int_eq(journal_count(x.f.mp[0]), 0);
	scratch_store_close(&x.f);
}
END_TEST

START_TEST(test_removed_journal_undoes_nothing)
{
	struct jfx x;
	char msg[AIS_ERRMSG_LEN] = "";

	jfx_begin(&x, "removed");
	fake_append(x.fd);
	ck_assert_int_eq(journal_remove(&x.j), 0);
	close(x.fd);
	ck_assert_int_eq(journal_recover(x.f.st->mps, msg), 0);
	ck_assert_uint_eq(file_size(x.path), END + 4096);
	scratch_store_close(&x.f);
}
END_TEST

/* A journal cut short or with a wrong checksum was not complete when the
 * node died, so the shard was not touched yet: discarded, shard as is. */
START_TEST(test_damaged_and_tmp_discarded)
{
	struct jfx x;
	char msg[AIS_ERRMSG_LEN] = "";
	char cut[PATH_MAX + 8], tmp[PATH_MAX + 8];
	uint8_t raw[8192];
	ssize_t n;
	int jfd;

	jfx_begin(&x, "damaged");
	jfd = open(x.j.path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(jfd, 0);
	n = ais_read_upto(jfd, raw, sizeof(raw));
	close(jfd);
	ck_assert_int_gt(n, 100);
	/* The same journal, whole, as the temporary file of a journal_write
	 * that died before its rename; and cut short under a journal name. */
	ck_assert_int_lt(snprintf(tmp, sizeof(tmp), "%s.tmp", x.j.path),
			 (int)sizeof(tmp));
	ck_assert_int_eq(rename(x.j.path, tmp), 0);
	ck_assert_int_lt(snprintf(cut, sizeof(cut), "%s/append.1.999", x.j.dir),
			 (int)sizeof(cut));
	ck_assert_int_eq(ais_file_replace(cut, raw, (size_t)n - 7, 0600), 0);
	fake_append(x.fd);
	close(x.fd);
	ck_assert_int_eq(journal_recover(x.f.st->mps, msg), 0);
	/* Neither rolled the (here: appended) shard back. */
	ck_assert_uint_eq(file_size(x.path), END + 4096);
	ck_assert_int_eq(journal_count(x.f.mp[0]), 0);
	scratch_store_close(&x.f);
}
END_TEST

/* The object was replaced since (another inode): nothing to roll back.
 * (The old file stays open meanwhile, so that the new one cannot reuse its
 * inode number, as file systems do with a freed one.) */
START_TEST(test_other_file_now)
{
	struct jfx x;
	char other[PATH_MAX + 8], msg[AIS_ERRMSG_LEN] = "";
	int nfd;

	jfx_begin(&x, "otherfile");
	ck_assert_int_lt(snprintf(other, sizeof(other), "%s.new", x.path),
			 (int)sizeof(other));
	nfd = open(other, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ck_assert_int_ge(nfd, 0);
	ck_assert_int_eq(ais_write_all(nfd, "new object", 10), 0);
	close(nfd);
	ck_assert_int_eq(rename(other, x.path), 0);
	ck_assert_int_eq(journal_recover(x.f.st->mps, msg), 0);
	close(x.fd);
	ck_assert_uint_eq(file_size(x.path), 10);
	ck_assert_int_eq(journal_count(x.f.mp[0]), 0);
	scratch_store_close(&x.f);
}
END_TEST

static Suite *journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");

	tcase_add_test(tc, test_roll_back);
	tcase_add_test(tc, test_removed_journal_undoes_nothing);
	tcase_add_test(tc, test_damaged_and_tmp_discarded);
	tcase_add_test(tc, test_other_file_now);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	scratch_init("journal");
	return scratch_run(journal_suite());
}
