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

/* Fills j for the object open on fd (END, OLD_SIZE, its inode, its old
 * tail and xattr, which tail and xattr hold). */
static void fill_journal(struct journal *j, int fd, const char *rel,
			 uint8_t *tail, char *xattr)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	memset(j, 0, sizeof(*j));
	j->end = END;
	j->old_size = OLD_SIZE;
	j->ino = (uint64_t)st.st_ino;
	j->rel = rel;
	memcpy(xattr, "old-meta", 8);
	j->xattr = (const uint8_t *)xattr;
	j->xattr_len = 8;
	memset(tail, 0, OLD_SIZE - END);
	j->tail = tail;
	j->tail_len = OLD_SIZE - END;
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
	struct scratch_store f;
	char path[PATH_MAX], msg[AIS_ERRMSG_LEN] = "", xattr[8];
	uint8_t tail[OLD_SIZE - END];
	struct journal j;
	const char *rel;
	int fd;

	scratch_store_open(&f, "rollback", 1, "b");
	fd = make_object(&f, path, &rel);
	fill_journal(&j, fd, rel, tail, xattr);
	ck_assert_int_eq(journal_write(f.st->mps, 0, &j), 0);
	ck_assert_int_eq(journal_count(f.mp[0]), 1);
	fake_append(fd);
	close(fd);
	ck_assert_uint_eq(file_size(path), END + 4096);
	/* The node died before journal_remove: the next start undoes it. */
	ck_assert_int_eq(journal_recover(f.st->mps, msg), 0);
	assert_old(path);
	ck_assert_int_eq(journal_count(f.mp[0]), 0);
	scratch_store_close(&f);
}
END_TEST

START_TEST(test_removed_journal_undoes_nothing)
{
	struct scratch_store f;
	char path[PATH_MAX], msg[AIS_ERRMSG_LEN] = "", xattr[8];
	uint8_t tail[OLD_SIZE - END];
	struct journal j;
	const char *rel;
	int fd;

	scratch_store_open(&f, "removed", 1, "b");
	fd = make_object(&f, path, &rel);
	fill_journal(&j, fd, rel, tail, xattr);
	ck_assert_int_eq(journal_write(f.st->mps, 0, &j), 0);
	fake_append(fd);
	ck_assert_int_eq(journal_remove(&j), 0);
	close(fd);
	ck_assert_int_eq(journal_recover(f.st->mps, msg), 0);
	ck_assert_uint_eq(file_size(path), END + 4096);
	scratch_store_close(&f);
}
END_TEST

/* A journal cut short or with a wrong checksum was not complete when the
 * node died, so the shard was not touched yet: discarded, shard as is. */
START_TEST(test_damaged_and_tmp_discarded)
{
	struct scratch_store f;
	char path[PATH_MAX], msg[AIS_ERRMSG_LEN] = "", xattr[8];
	char cut[PATH_MAX + 8], tmp[PATH_MAX + 8];
	uint8_t tail[OLD_SIZE - END], raw[8192];
	struct journal j;
	const char *rel;
	ssize_t n;
	int fd, jfd;

	scratch_store_open(&f, "damaged", 1, "b");
	fd = make_object(&f, path, &rel);
	fill_journal(&j, fd, rel, tail, xattr);
	ck_assert_int_eq(journal_write(f.st->mps, 0, &j), 0);
	jfd = open(j.path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(jfd, 0);
	n = ais_read_upto(jfd, raw, sizeof(raw));
	close(jfd);
	ck_assert_int_gt(n, 100);
	/* The same journal, whole, as the temporary file of a journal_write
	 * that died before its rename; and cut short under a journal name. */
	ck_assert_int_lt(snprintf(tmp, sizeof(tmp), "%s.tmp", j.path),
			 (int)sizeof(tmp));
	ck_assert_int_eq(rename(j.path, tmp), 0);
	ck_assert_int_lt(snprintf(cut, sizeof(cut), "%s/append.1.999", j.dir),
			 (int)sizeof(cut));
	ck_assert_int_eq(ais_file_replace(cut, raw, (size_t)n - 7, 0600), 0);
	fake_append(fd);
	close(fd);
	ck_assert_int_eq(journal_recover(f.st->mps, msg), 0);
	/* Neither rolled the (here: appended) shard back. */
	ck_assert_uint_eq(file_size(path), END + 4096);
	ck_assert_int_eq(journal_count(f.mp[0]), 0);
	scratch_store_close(&f);
}
END_TEST

/* The object was replaced since (another inode): nothing to roll back.
 * (The old file stays open meanwhile, so that the new one cannot reuse its
 * inode number, as file systems do with a freed one.) */
START_TEST(test_other_file_now)
{
	struct scratch_store f;
	char path[PATH_MAX], other[PATH_MAX + 8], msg[AIS_ERRMSG_LEN] = "";
	char xattr[8];
	uint8_t tail[OLD_SIZE - END];
	struct journal j;
	const char *rel;
	int fd, nfd;

	scratch_store_open(&f, "otherfile", 1, "b");
	fd = make_object(&f, path, &rel);
	fill_journal(&j, fd, rel, tail, xattr);
	ck_assert_int_eq(journal_write(f.st->mps, 0, &j), 0);
	ck_assert_int_lt(snprintf(other, sizeof(other), "%s.new", path),
			 (int)sizeof(other));
	nfd = open(other, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ck_assert_int_ge(nfd, 0);
	ck_assert_int_eq(ais_write_all(nfd, "new object", 10), 0);
	close(nfd);
	ck_assert_int_eq(rename(other, path), 0);
	ck_assert_int_eq(journal_recover(f.st->mps, msg), 0);
	close(fd);
	ck_assert_uint_eq(file_size(path), 10);
	ck_assert_int_eq(journal_count(f.mp[0]), 0);
	scratch_store_close(&f);
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
