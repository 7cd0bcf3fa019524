/* Appending members to a plain .tar shard in place, and the undo journal.
 *
 * A tar ends with zero blocks after its last member. An append writes the
 * new members over those blocks (at E, the end of the last member), then a
 * new pair of zero blocks, so the old members' bytes never move or change:
 * member reads in flight stay correct. Before the first byte of the object
 * is touched, a journal with everything needed to undo it (E, the old size,
 * the old bytes [E, old size) -- only zero blocks, at most TAIL_MAX -- and
 * the old metadata xattr) is made durable in <mp>/.ais/journal/ (not in
 * .ais/tmp, which mpset_open empties before anyone could read it). The
 * journal is removed once the new metadata is durable; a journal found at
 * start-up means the append did not finish and is rolled back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cksum.h"
#include "log.h"
#include "names.h"
#include "shard_index.h"
#include "fileio.h"
#include "util.h"

#include "shard.h"
#include "shard_append.h"
#include "store.h"

#define APPEND_BUF    (256 * 1024)
#define TAIL_MAX      (64 * 1024)   /* old end-of-archive region we save */
#define BODY_TAIL_MAX (1024 * 1024) /* zero padding accepted after a body */
#define XATTR_MAX     4096
#define TAR_BLOCK     512
#define JOURNAL_DIR   "/.ais/journal"
#define JOURNAL_MAGIC "AISAPPJ1"
#define JOURNAL_SUM   16 /* XXH3-64 hex of everything before it */

/* Test hook steps; CRASH_PAUSE sleeps between the data and the metadata
 * (to make readers overlap an append) instead of exiting. */
enum { CRASH_NONE, CRASH_JOURNAL, CRASH_DATA, CRASH_META, CRASH_PAUSE };

#define PAUSE_S 3

/* AISD_TEST_CRASH_AT, read once at start-up (shard_append_recover). */
static int crash_at;

static const uint8_t zero_blocks[2 * TAR_BLOCK];

/* The fixed head of a journal file; then the object path (under the
 * mountpath), the old xattr, the old tail bytes and the checksum. Native
 * byte order: a journal is read back by the same node. */
struct jhead {
	char magic[8];
	uint64_t end;	   /* where the appended members start */
	uint64_t old_size; /* the object's size before */
	uint64_t ino;	   /* the object's inode */
	uint32_t path_len;
	int32_t xattr_len; /* -1: the object had no xattr */
	uint32_t tail_len; /* old_size - end */
	uint32_t pad;
};

/* A journal in memory: pointers into raw (heap). */
struct jinfo {
	struct jhead h;
	char rel[AISD_PATH_MAX]; /* object path under the mountpath */
	const uint8_t *xattr;
	const uint8_t *tail;
	uint8_t *raw;
};

static void crash_point(int step, const char *what)
{
	if (crash_at == CRASH_PAUSE && step == CRASH_DATA) {
		ais_log(LOG_WARNING,
			"AISD_TEST_CRASH_AT=append-pause: pausing %d s after "
			"the data of a shard append (test hook)",
			PAUSE_S);
		sleep(PAUSE_S);
		return;
	}
	if (crash_at != step)
		return;
	ais_log(LOG_WARNING,
		"AISD_TEST_CRASH_AT=%s: exiting in the middle "
		"of a shard append (test hook)",
		what);
	_exit(99);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Is [off, off + len) of fd all zero? Reads through buf (APPEND_BUF). */
static int range_is_zero(int fd, uint64_t off, uint64_t len, uint8_t *buf,
			 bool *zero)
{
	*zero = true;
	while (len > 0) {
		size_t k = len < APPEND_BUF ? (size_t)len : APPEND_BUF;
		int rc = ais_pread_all(fd, buf, k, off);

		if (rc)
			return rc;
		if (!is_zero(buf, k)) {
			*zero = false;
			return 0;
		}
		off += k;
		len -= k;
	}
	return 0;
}

/* Where the end-of-archive blocks of the indexed tar begin: past the data
 * (padded to a block) of the member that ends last. Never past the true end
 * of a member: data_off + csize and the first header are both inside it. */
static int members_end(const struct ais_shard_index *idx, uint64_t *end)
{
	size_t i, n = ais_shard_index_count(idx);
	struct ais_shard_member m;
	uint64_t e = 0, x;
	int rc;

	for (i = 0; i < n; i++) {
		rc = ais_shard_index_at(idx, i, &m);
		if (rc)
			return rc;
		x = m.data_off + m.csize;
		x = (x + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
		if (m.header_off + TAR_BLOCK > x)
			x = m.header_off + TAR_BLOCK;
		if (x > e)
			e = x;
	}
	*end = e;
	return 0;
}

/* Receives the body into an unlinked file in .ais/tmp of mountpath mp: a
 * connection lost mid-body leaves nothing behind. Returns 0 with *fdp and
 * *size, 1 if the connection broke (logged), or -errno with errmsg. */
static int spool_body(const struct mpset *mps, int mp, struct sock_io *io,
		      const char *peer, const char *what, uint8_t *buf,
		      int *fdp, uint64_t *size, char *errmsg)
{
	char tmp[AISD_PATH_MAX];
	ssize_t n;
	int fd, rc = 0;

	*size = 0;
	mpset_tmp_path(mps, mp, "append", tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ais_errf(errmsg, -errno,
				"cannot create a work file on mountpath %s: %s",
				mps->paths[mp], strerror(errno));
	unlink(tmp);
	while ((n = sock_io_read_body(io, buf, APPEND_BUF)) > 0) {
		rc = ais_write_all(fd, buf, (size_t)n);
		if (rc) {
			rc = ais_errf(errmsg, rc,
				      rc == -ENOSPC
					  ? "no space left on mountpath %s"
					  : "write on mountpath %s: %s",
				      mps->paths[mp], strerror(-rc));
			break;
		}
		*size += (uint64_t)n;
	}
	if (!rc && n < 0) {
		ais_log(LOG_INFO, "%s: SHARD_APPEND %s: body: %s; closing",
			peer, what,
			n == -ETIMEDOUT ? "no progress (io timeout)"
			: n == -EPIPE	? "connection closed early"
					: strerror((int)-n));
		rc = 1;
	}
	if (rc) {
		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}

static const char *type_str(uint8_t t)
{
	switch (t) {
	case AIS_SHARD_HARDLINK:
		return "hard link";
	case AIS_SHARD_OTHER:
		return "device or fifo";
	default:
		return "sparse file";
	}
}

static bool has_dotdot(const char *p)
{
	for (;;) {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return true;
		p = strchr(p, '/');
		if (!p)
			return false;
		p++;
	}
}

/* Checks the members of the body (bidx) against the shard's (old). */
static int check_members(const struct ais_shard_index *bidx,
			 const struct ais_shard_index *old, bool replace,
			 char *errmsg)
{
	size_t i, n = ais_shard_index_count(bidx);
	struct ais_shard_member m, o;
	char pre[4 * AIS_NAME_MAX + 1];
	int rc;

	for (i = 0; i < n; i++) {
		bool mdir, odir;
		size_t k;

		rc = ais_shard_index_at(bidx, i, &m);
		if (rc)
			return ais_errf(errmsg, rc,
					"index of the new members: %s",
					strerror(-rc));
		if ((m.type != AIS_SHARD_FILE && m.type != AIS_SHARD_DIR &&
		     m.type != AIS_SHARD_SYMLINK) ||
		    (m.flags & AIS_SHARD_F_SPARSE))
			return ais_errf(errmsg, -EINVAL,
					"member '%s' is a %s: append takes "
					"regular files, directories and "
					"symlinks",
					m.path, type_str(m.type));
		if (has_dotdot(m.path))
			return ais_errf(errmsg, -EINVAL,
					"member path '%s' has a '..' component",
					m.path);
		if (strlen(m.path) >= sizeof(pre))
			return ais_errf(errmsg, -ENAMETOOLONG,
					"member path '%.64s...' is too long",
					m.path);
		mdir = m.type == AIS_SHARD_DIR;
		/* A parent that is a file in the shard cannot hold it. */
		for (k = 0; m.path[k]; k++) {
			if (m.path[k] != '/')
				continue;
			memcpy(pre, m.path, k);
			pre[k] = 0;
			if (ais_shard_index_lookup(old, pre, &o) == 0 &&
			    o.type != AIS_SHARD_DIR)
				return ais_errf(errmsg, -ENOTDIR,
						"cannot append '%s': '%s' is a "
						"file in the shard",
						m.path, pre);
		}
		rc = ais_shard_index_lookup(old, m.path, &o);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return ais_errf(errmsg, rc, "shard index: %s",
					strerror(-rc));
		odir = o.type == AIS_SHARD_DIR;
		if (mdir && odir)
			continue; /* a directory entry again changes nothing */
		if (mdir != odir)
			return ais_errf(errmsg, -EEXIST,
					"cannot append %s '%s': it is a %s in "
					"the shard",
					mdir ? "directory" : "file", m.path,
					odir ? "directory" : "file");
		if (!replace)
			return ais_errf(errmsg, -EEXIST,
					"member '%s' exists in the shard "
					"(append it anyway with --force: the "
					"last copy wins)",
					m.path);
	}
	return 0;
}

/* Indexes and checks the spooled body; *bend gets the end of its last
 * member (the bytes to copy). */
static int check_body(int bfd, uint64_t bsize, uint8_t *buf,
		      struct ais_shard_index **bidx, uint64_t *bend,
		      char *errmsg)
{
	const char *err;
	uint64_t brk = 0;
	bool zero;
	int rc;

	rc = ais_shard_index_build(bfd, AIS_SHARD_TAR, NULL, -1, bidx, errmsg);
	if (rc)
		return rc;
	rc = members_end(*bidx, bend);
	if (rc)
		return ais_errf(errmsg, rc, "index of the new members: %s",
				strerror(-rc));
	err = ais_shard_index_error(*bidx, &brk);
	/* A stream that ends right after a member, without the zero blocks,
	 * is complete: the node writes them. */
	if (err && !(brk == bsize && *bend == bsize &&
		     ais_shard_index_count(*bidx) > 0))
		return ais_errf(errmsg, -EBADMSG,
				"the tar stream to append is malformed: %s",
				err);
	if (ais_shard_index_count(*bidx) == 0)
		return ais_errf(errmsg, -EINVAL,
				"the tar stream to append has no members");
	if (bsize - *bend > BODY_TAIL_MAX)
		return ais_errf(errmsg, -EINVAL,
				"the tar stream to append has %llu bytes after "
				"its end-of-archive marker",
				(unsigned long long)(bsize - *bend));
	rc = range_is_zero(bfd, *bend, bsize - *bend, buf, &zero);
	if (rc)
		return ais_errf(errmsg, rc, "reading the work file: %s",
				strerror(-rc));
	if (!zero)
		return ais_errf(errmsg, -EINVAL,
				"the tar stream to append has data after its "
				"end-of-archive marker (concatenated "
				"archives are not taken)");
	return 0;
}

/* ---- the journal ---- */

static void journal_dir(const struct mpset *mps, int mp, char *buf)
{
	snprintf(buf, AISD_PATH_MAX, "%s" JOURNAL_DIR, mps->paths[mp]);
}

/* A fresh journal name "<jdir>/append.<pid>.<seq>" into buf. */
static void journal_path(const char *jdir, char *buf)
{
	static atomic_ulong seq;

	if (snprintf(buf, AISD_PATH_MAX, "%s/append.%ld.%lu", jdir,
		     (long)getpid(),
		     atomic_fetch_add(&seq, 1)) >= AISD_PATH_MAX)
		buf[0] = 0; /* cannot happen: mountpaths are short */
}

/* Writes and fsyncs the journal at jpath (a new file) and its directory. */
static int journal_write(const char *jdir, const char *jpath,
			 const struct jhead *h, const char *obj,
			 const uint8_t *xattr, const uint8_t *tail)
{
	size_t xl = h->xattr_len > 0 ? (size_t)h->xattr_len : 0;
	size_t len = sizeof(*h) + h->path_len + xl + h->tail_len;
	char sum[AIS_CKSUM_HEX_MAX];
	uint8_t *raw, *p;
	int fd, rc;

	raw = malloc(len + JOURNAL_SUM);
	if (!raw)
		return -ENOMEM;
	p = raw;
	memcpy(p, h, sizeof(*h));
	p += sizeof(*h);
	memcpy(p, obj, h->path_len);
	p += h->path_len;
	if (xl)
		memcpy(p, xattr, xl);
	p += xl;
	if (h->tail_len)
		memcpy(p, tail, h->tail_len);
	rc = ais_cksum_buf(AIS_CKSUM_XXH3, raw, len, sum);
	if (rc) {
		free(raw);
		return rc;
	}
	memcpy(raw + len, sum, JOURNAL_SUM);
	if (mkdir(jdir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		free(raw);
		return rc;
	}
	fd = open(jpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		free(raw);
		return rc;
	}
	rc = ais_write_all(fd, raw, len + JOURNAL_SUM);
	free(raw);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (!rc)
		rc = fsync_dir(jdir);
	if (rc)
		unlink(jpath);
	return rc;
}

/* Parses a journal read whole into raw (taken over by j). -EBADMSG if it
 * is incomplete or damaged. */
static int journal_parse(uint8_t *raw, size_t len, struct jinfo *j)
{
	char sum[AIS_CKSUM_HEX_MAX];
	size_t need, xl;

	memset(j, 0, sizeof(*j));
	j->raw = raw;
	if (len < sizeof(j->h) + JOURNAL_SUM)
		return -EBADMSG;
	memcpy(&j->h, raw, sizeof(j->h));
	if (memcmp(j->h.magic, JOURNAL_MAGIC, 8) ||
	    j->h.path_len >= AISD_PATH_MAX || j->h.path_len == 0 ||
	    j->h.xattr_len > XATTR_MAX || j->h.xattr_len < -1 ||
	    j->h.tail_len > TAIL_MAX ||
	    j->h.old_size - j->h.end != j->h.tail_len)
		return -EBADMSG;
	xl = j->h.xattr_len > 0 ? (size_t)j->h.xattr_len : 0;
	need = sizeof(j->h) + j->h.path_len + xl + j->h.tail_len;
	if (len != need + JOURNAL_SUM)
		return -EBADMSG;
	if (ais_cksum_buf(AIS_CKSUM_XXH3, raw, need, sum) ||
	    memcmp(sum, raw + need, JOURNAL_SUM))
		return -EBADMSG;
	memcpy(j->rel, raw + sizeof(j->h), j->h.path_len);
	j->rel[j->h.path_len] = 0;
	j->xattr = raw + sizeof(j->h) + j->h.path_len;
	j->tail = j->xattr + xl;
	return 0;
}

/* Puts the object open on fd back as it was: old tail bytes, old size, old
 * metadata; fsync. */
static int undo(int fd, const struct jhead *h, const uint8_t *xattr,
		const uint8_t *tail)
{
	int rc;

	if (h->tail_len && (rc = ais_pwrite_all(fd, tail, h->tail_len, h->end)))
		return rc;
	if (ftruncate(fd, (off_t)h->old_size) < 0)
		return -errno;
	if (h->xattr_len >= 0) {
		if (fsetxattr(fd, AISD_XATTR, xattr, (size_t)h->xattr_len, 0) <
		    0)
			return -errno;
	} else if (fremovexattr(fd, AISD_XATTR) < 0 && errno != ENODATA) {
		return -errno;
	}
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

/* Applies one journal file found at start-up. */
static int recover_one(const char *mpath, const char *jdir, const char *jpath,
		       char *errmsg)
{
	char obj[AISD_PATH_MAX];
	struct jinfo j;
	struct stat st;
	uint8_t *raw;
	size_t max = sizeof(struct jhead) + AISD_PATH_MAX + XATTR_MAX +
		     TAIL_MAX + JOURNAL_SUM;
	int fd, rc;

	fd = open(jpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return ais_errf(errmsg, rc, "append journal %s: %s", jpath,
				strerror(-rc));
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		raw = NULL;
		rc = -EBADMSG;
	} else {
		raw = malloc((size_t)st.st_size + 1);
		rc = raw ? ais_pread_all(fd, raw, (size_t)st.st_size, 0)
			 : -ENOMEM;
		close(fd);
		if (rc && rc != -EIO) {
			free(raw);
			return ais_errf(errmsg, rc, "append journal %s: %s",
					jpath, strerror(-rc));
		}
		rc = rc ? -EBADMSG : journal_parse(raw, (size_t)st.st_size, &j);
	}
	if (rc) {
		/* The journal is made durable before the shard is touched:
		 * one that is incomplete means the shard was not changed. */
		ais_log(LOG_WARNING,
			"discarding incomplete append journal %s (the shard "
			"was not changed yet)",
			jpath);
		free(raw);
		unlink(jpath);
		fsync_dir(jdir);
		return 0;
	}
	if (snprintf(obj, sizeof(obj), "%s/%s", mpath, j.rel) >=
	    (int)sizeof(obj)) {
		errno = ENAMETOOLONG;
		fd = -1;
	} else {
		fd = open(obj, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_ino != j.h.ino) {
		ais_log(LOG_WARNING,
			"append journal %s: %s is %s; nothing to roll back",
			jpath, obj,
			fd < 0 ? strerror(errno) : "another file now");
		if (fd >= 0)
			close(fd);
		free(raw);
		unlink(jpath);
		fsync_dir(jdir);
		return 0;
	}
	rc = undo(fd, &j.h, j.xattr, j.tail);
	close(fd);
	if (rc) {
		free(raw);
		return ais_errf(errmsg, rc,
				"cannot roll back the interrupted append to "
				"%s: %s (journal %s kept)",
				obj, strerror(-rc), jpath);
	}
	ais_log(LOG_NOTICE,
		"rolled back an interrupted shard append: %s is %llu bytes "
		"again, as before the append",
		obj, (unsigned long long)j.h.old_size);
	free(raw);
	unlink(jpath);
	fsync_dir(jdir);
	return 0;
}

int shard_append_recover(const struct mpset *mps, char *errmsg)
{
	const char *env = getenv("AISD_TEST_CRASH_AT");
	char jdir[AISD_PATH_MAX], jpath[AISD_PATH_MAX];
	struct dirent *de;
	size_t i;
	DIR *d;
	int rc = 0;

	if (env && !strcmp(env, "append-journal"))
		crash_at = CRASH_JOURNAL;
	else if (env && !strcmp(env, "append-data"))
		crash_at = CRASH_DATA;
	else if (env && !strcmp(env, "append-meta"))
		crash_at = CRASH_META;
	else if (env && !strcmp(env, "append-pause"))
		crash_at = CRASH_PAUSE;
	if (crash_at)
		ais_log(LOG_WARNING,
			"test hook AISD_TEST_CRASH_AT=%s armed: "
			"shard appends will kill this node",
			env);
	for (i = 0; i < mps->n && !rc; i++) {
		journal_dir(mps, (int)i, jdir);
		if (mkdir(jdir, 0755) < 0 && errno != EEXIST)
			return ais_errf(errmsg, -errno, "cannot create %s: %s",
					jdir, strerror(errno));
		d = opendir(jdir);
		if (!d)
			return ais_errf(errmsg, -errno, "%s: %s", jdir,
					strerror(errno));
		while ((de = readdir(d)) && !rc) {
			if (strncmp(de->d_name, "append.", 7))
				continue;
			if (snprintf(jpath, sizeof(jpath), "%s/%s", jdir,
				     de->d_name) >= (int)sizeof(jpath))
				continue;
			rc = recover_one(mps->paths[i], jdir, jpath, errmsg);
		}
		closedir(d);
	}
	return rc;
}

/* ---- the append ---- */

/* Copies [0, len) of src to dst at off. */
static int copy_at(int src, int dst, uint64_t off, uint64_t len, uint8_t *buf)
{
	loff_t in = 0, out = (loff_t)off;
	uint64_t done = 0;
	ssize_t n;
	int rc;

	while (done < len) {
		n = copy_file_range(src, &in, dst, &out, (size_t)(len - done),
				    0);
		if (n > 0) {
			done += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	/* No copy offload here: a fixed buffer. */
	while (done < len) {
		size_t k =
		    len - done < APPEND_BUF ? (size_t)(len - done) : APPEND_BUF;

		rc = ais_pread_all(src, buf, k, done);
		if (!rc)
			rc = ais_pwrite_all(dst, buf, k, off + done);
		if (rc)
			return rc;
		done += k;
	}
	return 0;
}

/* The object's checksum over its first size bytes, read once. */
static int object_cksum(int fd, uint64_t size, int type, uint8_t *buf,
			char *hex)
{
	struct ais_cksum ck;
	uint64_t off = 0;
	int rc = ais_cksum_init(&ck, type);

	if (rc)
		return rc;
	while (off < size) {
		size_t k =
		    size - off < APPEND_BUF ? (size_t)(size - off) : APPEND_BUF;

		rc = ais_pread_all(fd, buf, k, off);
		if (rc) {
			ais_cksum_abort(&ck);
			return rc;
		}
		ais_cksum_update(&ck, buf, k);
		off += k;
	}
	ais_cksum_final(&ck, hex);
	return 0;
}

/* The part under the object's lock: validate against the shard as it is
 * now, journal, write, commit. */
static int append_locked(const struct mpset *mps, const char *bucket,
			 const char *name, int bfd, uint64_t bend,
			 const struct ais_shard_index *bidx, bool replace,
			 uint8_t *buf, struct shard_append_result *res,
			 char *errmsg)
{
	char path[AISD_PATH_MAX], jdir[AISD_PATH_MAX], jpath[AISD_PATH_MAX];
	uint8_t xattr[XATTR_MAX], *tail = NULL;
	struct shard_ref *ref = NULL;
	struct objmeta old, m;
	struct jhead h;
	struct stat st;
	const char *err, *rel;
	uint64_t brk = 0, end, new_size;
	ssize_t xl;
	bool zero;
	int mp, fd, rc, type;

	rc = store_find(mps, bucket, name, path, &mp, errmsg);
	if (rc)
		return rc;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return ais_errf(errmsg, rc, "open %s: %s", path, strerror(-rc));
	}
	if (objmeta_read_fd(fd, &old))
		objmeta_from_stat(&st, &old);
	old.size = (uint64_t)st.st_size;
	xl = fgetxattr(fd, AISD_XATTR, xattr, sizeof(xattr));
	if (xl < 0 && errno != ENODATA) {
		rc = ais_errf(errmsg, -errno, "read xattr of %s: %s", path,
			      strerror(errno));
		goto out;
	}

	/* The shard as it is now. */
	rc = shard_get(mps, bucket, name, fd, &old, &ref, errmsg);
	if (rc)
		goto out;
	err = ais_shard_index_error(ref->idx, &brk);
	if (err) {
		rc = ais_errf(errmsg, -EBADMSG,
			      "cannot append to %s/%s: the archive is damaged: "
			      "%s (index stops at offset %llu)",
			      bucket, name, err, (unsigned long long)brk);
		goto out;
	}
	rc = members_end(ref->idx, &end);
	if (rc) {
		rc = ais_errf(errmsg, rc, "%s/%s: shard index: %s", bucket,
			      name, strerror(-rc));
		goto out;
	}
	if (end > old.size) {
		rc = ais_errf(errmsg, -EBADMSG,
			      "%s/%s: the index says the last member ends at "
			      "%llu, past the object's end (%llu)",
			      bucket, name, (unsigned long long)end,
			      (unsigned long long)old.size);
		goto out;
	}
	/* Only zero blocks may follow the last member: nothing else is ever
	 * overwritten. A long run of them is looked at only up to 1 MiB. */
	rc = range_is_zero(fd, end,
			   old.size - end < BODY_TAIL_MAX ? old.size - end
							  : BODY_TAIL_MAX,
			   buf, &zero);
	if (rc) {
		rc = ais_errf(errmsg, rc, "read %s: %s", path, strerror(-rc));
		goto out;
	}
	if (!zero) {
		rc = ais_errf(errmsg, -EINVAL,
			      "cannot append to %s/%s: there is data after its "
			      "end-of-archive marker at offset %llu (append "
			      "never overwrites it)",
			      bucket, name, (unsigned long long)end);
		goto out;
	}
	if (old.size - end > TAIL_MAX) {
		rc = ais_errf(errmsg, -EINVAL,
			      "cannot append to %s/%s: %llu bytes of padding "
			      "follow its last member (at most %u are taken)",
			      bucket, name,
			      (unsigned long long)(old.size - end), TAIL_MAX);
		goto out;
	}
	rc = check_members(bidx, ref->idx, replace, errmsg);
	if (rc)
		goto out;
	res->appended = ais_shard_index_count(bidx);
	res->members = ais_shard_index_count(ref->idx) + res->appended;
	shard_ref_put(ref);
	ref = NULL;

	/* The journal, durable before the shard is touched. */
	tail = malloc(old.size - end + 1);
	if (!tail) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	rc = ais_pread_all(fd, tail, (size_t)(old.size - end), end);
	if (rc) {
		rc = ais_errf(errmsg, rc, "read %s: %s", path, strerror(-rc));
		goto out;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, JOURNAL_MAGIC, 8);
	h.end = end;
	h.old_size = old.size;
	h.ino = (uint64_t)st.st_ino;
	/* The path relative to the mountpath: a journal found on a mountpath
	 * applies to that mountpath, wherever it is mounted next time. */
	rel = path + strlen(mps->paths[mp]) + 1;
	h.path_len = (uint32_t)strlen(rel);
	h.xattr_len = xl < 0 ? -1 : (int32_t)xl;
	h.tail_len = (uint32_t)(old.size - end);
	journal_dir(mps, mp, jdir);
	journal_path(jdir, jpath);
	rc = journal_write(jdir, jpath, &h, rel, xattr, tail);
	if (rc) {
		rc = ais_errf(errmsg, rc,
			      rc == -ENOSPC ? "no space left on mountpath %s "
					      "for the append journal"
					    : "append journal on mountpath %s: "
					      "%s",
			      mps->paths[mp], strerror(-rc));
		goto out;
	}
	crash_point(CRASH_JOURNAL, "append-journal");

	/* The new members over the old end-of-archive blocks, then new ones. */
	new_size = end + bend + sizeof(zero_blocks);
	rc = copy_at(bfd, fd, end, bend, buf);
	if (!rc)
		rc = ais_pwrite_all(fd, zero_blocks, sizeof(zero_blocks),
				    end + bend);
	if (!rc && ftruncate(fd, (off_t)new_size) < 0)
		rc = -errno;
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (rc) {
		rc = ais_errf(errmsg, rc,
			      rc == -ENOSPC ? "no space left on mountpath %s"
					    : "write on mountpath %s: %s",
			      mps->paths[mp], strerror(-rc));
		goto undo;
	}
	crash_point(CRASH_DATA, "append-data");

	/* The new metadata: the version and checksum of the new bytes. */
	m = old;
	m.size = new_size;
	m.version = (old.version ? old.version : 1) + 1;
	m.mtime_ns = ais_now_real_ns();
	type = old.cksum_type ? old.cksum_type : AIS_CKSUM_XXH3;
	m.cksum_type = type;
	rc = object_cksum(fd, new_size, type, buf, m.cksum);
	if (!rc)
		rc = objmeta_write_fd(fd, &m);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (rc) {
		rc = ais_errf(errmsg, rc, "updating the metadata of %s: %s",
			      path, strerror(-rc));
		goto undo;
	}
	crash_point(CRASH_META, "append-meta");
	/* A journal left behind would undo an acknowledged append at the
	 * next start: if it cannot go, the append fails now. */
	if (unlink(jpath) < 0) {
		rc = ais_errf(errmsg, -errno, "cannot remove journal %s: %s",
			      jpath, strerror(errno));
		goto undo;
	}
	if (fsync_dir(jdir) < 0)
		ais_log(LOG_WARNING, "fsync of %s failed after an append",
			jdir);
	res->meta = m;
	rc = 0;
	goto out;
undo:
	if (undo(fd, &h, xattr, tail) == 0) {
		unlink(jpath);
		fsync_dir(jdir);
	} else {
		ais_log(LOG_ERR,
			"append to %s failed and cannot be undone now; journal "
			"%s is rolled back at the next start",
			path, jpath);
	}
out:
	shard_ref_put(ref);
	free(tail);
	close(fd);
	return rc;
}

int shard_append_run(const struct mpset *mps, struct sock_io *io,
		     const char *peer, const char *bucket, const char *name,
		     bool replace, struct shard_append_result *res,
		     char *errmsg)
{
	enum ais_shard_format fmt = ais_shard_format_from_name(name);
	char path[AISD_PATH_MAX], what[AIS_BUCKET_MAX + AIS_NAME_MAX + 2];
	struct ais_shard_index *bidx = NULL;
	struct shard_ref *ref;
	struct objmeta m;
	uint64_t bsize, bend = 0;
	uint8_t *buf;
	int mp, bfd = -1, fd, rc;

	memset(res, 0, sizeof(*res));
	snprintf(what, sizeof(what), "%s/%s", bucket, name);
	if (fmt == AIS_SHARD_NONE)
		return ais_errf(errmsg, -EOPNOTSUPP,
				"append works on uncompressed .tar shards; %s "
				"is not a shard",
				what);
	if (fmt != AIS_SHARD_TAR)
		return ais_errf(errmsg, -EOPNOTSUPP,
				"append works on uncompressed .tar shards; %s "
				"is %s",
				what, ais_shard_format_str(fmt));
	rc = store_find(mps, bucket, name, path, &mp, errmsg);
	if (rc)
		return rc;
	if (io->body_left == 0)
		return ais_errf(errmsg, -EINVAL,
				"nothing to append (the request has no body)");
	buf = malloc(APPEND_BUF);
	if (!buf)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	rc = spool_body(mps, mp, io, peer, what, buf, &bfd, &bsize, errmsg);
	if (rc)
		goto out;
	rc = check_body(bfd, bsize, buf, &bidx, &bend, errmsg);
	if (rc)
		goto out;

	store_lock(bucket, name);
	rc = append_locked(mps, bucket, name, bfd, bend, bidx, replace, buf,
			   res, errmsg);
	store_unlock(bucket, name);
	if (rc)
		goto out;

	/* The index of the new bytes, now: the next member read finds it. */
	if (store_open(mps, bucket, name, &fd, &m, path) == 0) {
		if (shard_get(mps, bucket, name, fd, &m, &ref, path) == 0) {
			res->members = ais_shard_index_count(ref->idx);
			shard_ref_put(ref);
		} else {
			ais_log(LOG_WARNING, "%s: index after append: %s", what,
				path);
		}
		close(fd);
	}
	ais_log(LOG_INFO,
		"%s: appended %llu member%s to %s (now %llu bytes, "
		"version %llu)",
		peer, (unsigned long long)res->appended,
		res->appended == 1 ? "" : "s", what,
		(unsigned long long)res->meta.size,
		(unsigned long long)res->meta.version);
out:
	ais_shard_index_free(bidx);
	if (bfd >= 0)
		close(bfd);
	free(buf);
	return rc;
}
