/* Appending members to a plain .tar shard in place.
 *
 * A tar ends with zero blocks after its last member. An append writes the
 * new members over those blocks (at E, the end of the last member), then a
 * new pair of zero blocks, so the old members' bytes never move or change:
 * member reads in flight stay correct. Before the first byte of the object
 * is touched, the undo journal (journal.h) is durable; it is removed once
 * the new metadata is. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cksum.h"
#include "fileio.h"
#include "log.h"
#include "names.h"
#include "shard_index.h"
#include "util.h"

#include "shard/append.h"
#include "shard/journal.h"
#include "shard/shard_i.h"
#include "store/blocks.h"

#define APPEND_BUF    (256 * 1024)
#define BODY_TAIL_MAX (1024 * 1024) /* zero padding accepted after a body */
#define TAR_BLOCK     512
#define PAUSE_S	      3

static const uint8_t zero_blocks[2 * TAR_BLOCK];

int shard_append_crash_parse(const char *v)
{
	if (!v)
		return SHARD_CRASH_NONE;
	if (!strcmp(v, "append-journal"))
		return SHARD_CRASH_JOURNAL;
	if (!strcmp(v, "append-data"))
		return SHARD_CRASH_DATA;
	if (!strcmp(v, "append-meta"))
		return SHARD_CRASH_META;
	if (!strcmp(v, "append-pause"))
		return SHARD_CRASH_PAUSE;
	return SHARD_CRASH_NONE;
}

static void crash_point(const struct shards *sh, int step, const char *what)
{
	if (sh->crash_at == SHARD_CRASH_PAUSE && step == SHARD_CRASH_DATA) {
		ais_log(LOG_WARNING,
			"AISD_TEST_CRASH_AT=append-pause: pausing %d s after "
			"the data of a shard append (test hook)",
			PAUSE_S);
		sleep(PAUSE_S);
		return;
	}
	if (sh->crash_at != step)
		return;
	ais_log(LOG_WARNING,
		"AISD_TEST_CRASH_AT=%s: exiting in the middle "
		"of a shard append (test hook)",
		what);
	_exit(99);
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
 * *size, 1 if the body broke off, or -errno with errmsg. */
static int spool_body(struct mpset *mps, int mp, shard_body_cb body, void *arg,
		      uint8_t *buf, int *fdp, uint64_t *size, char *errmsg)
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
	while ((n = body(arg, buf, APPEND_BUF)) > 0) {
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
	if (!rc && n < 0)
		rc = 1; /* the body source said why */
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

/* The object's checksum over its first size bytes and its block
 * checksums (into w), read once. */
static int object_cksum(int fd, uint64_t size, int type, uint8_t *buf,
			char *hex, struct blk_writer *w)
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
		blk_writer_update(w, buf, k);
		off += k;
	}
	ais_cksum_final(&ck, hex);
	return 0;
}

/* The part under the object's lock: validate against the shard as it is
 * now, journal, write, commit. */
static int append_locked(struct shards *sh, const char *bucket,
			 const char *name, int bfd, uint64_t bend,
			 const struct ais_shard_index *bidx, bool replace,
			 uint8_t *buf, struct shard_append_result *res,
			 char *errmsg)
{
	struct mpset *mps = sh->st->mps;
	char path[AISD_PATH_MAX];
	uint8_t xattr[JOURNAL_XATTR_MAX], *tail = NULL;
	struct shard_ref *ref = NULL;
	struct ais_obj_meta old, m;
	struct journal j;
	struct stat st;
	const char *err;
	uint64_t brk = 0, end, new_size;
	ssize_t xl;
	struct blk_writer w = {0};
	bool zero;
	int mp, fd, rc, type;

	rc = store_find(sh->st, bucket, name, path, &mp, errmsg);
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
	rc = shard_get(sh, bucket, name, fd, &old, &ref, errmsg);
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
	if (old.size - end > JOURNAL_TAIL_MAX) {
		rc =
		    ais_errf(errmsg, -EINVAL,
			     "cannot append to %s/%s: %llu bytes of padding "
			     "follow its last member (at most %u are taken)",
			     bucket, name, (unsigned long long)(old.size - end),
			     JOURNAL_TAIL_MAX);
		goto out;
	}
	rc = check_members(bidx, ref->idx, replace, errmsg);
	if (rc)
		goto out;
	/* The bytes kept are checked against their blocks first: the new
	 * checksum is made over them, and must not bless a corrupt copy. */
	if (sh->st->verify) {
		char em[AIS_ERRMSG_LEN] = "";

		rc = blk_verify(mps, sh->st->blk, fd, &old, 0, end, buf, false,
				em);
		if (rc) {
			rc = ais_errf(errmsg, rc, "cannot append to %s/%s: %s",
				      bucket, name, em);
			goto out;
		}
	}
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
	memset(&j, 0, sizeof(j));
	j.end = end;
	j.old_size = old.size;
	j.ino = (uint64_t)st.st_ino;
	/* The path relative to the mountpath: a journal found on a mountpath
	 * applies to that mountpath, wherever it is mounted next time. */
	j.rel = path + strlen(mps->paths[mp]) + 1;
	j.xattr_len = xl < 0 ? -1 : (int32_t)xl;
	j.xattr = xattr;
	j.tail_len = (uint32_t)(old.size - end);
	j.tail = tail;
	rc = journal_write(mps, mp, &j);
	if (rc) {
		rc = ais_errf(errmsg, rc,
			      rc == -ENOSPC ? "no space left on mountpath %s "
					      "for the append journal"
					    : "append journal on mountpath %s: "
					      "%s",
			      mps->paths[mp], strerror(-rc));
		goto out;
	}
	crash_point(sh, SHARD_CRASH_JOURNAL, "append-journal");

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
	crash_point(sh, SHARD_CRASH_DATA, "append-data");

	/* The new metadata: the version and checksum of the new bytes. */
	m = old;
	m.size = new_size;
	m.version = (old.version ? old.version : 1) + 1;
	m.mtime_ns = ais_now_real_ns();
	/* Later than the replaced bytes' whatever the clock did: copies
	 * elsewhere take the newer one. */
	m.written_ns =
	    m.mtime_ns > old.written_ns ? m.mtime_ns : old.written_ns + 1;
	m.ctime_ns = m.written_ns;
	type = old.cksum_type ? old.cksum_type : AIS_CKSUM_XXH3;
	m.cksum_type = type;
	rc = blk_writer_init(&w);
	if (!rc)
		rc = object_cksum(fd, new_size, type, buf, m.cksum, &w);
	if (!rc)
		rc = objmeta_write_fd(fd, &m);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (rc) {
		rc = ais_errf(errmsg, rc, "updating the metadata of %s: %s",
			      path, strerror(-rc));
		goto undo;
	}
	crash_point(sh, SHARD_CRASH_META, "append-meta");
	/* A journal left behind would undo an acknowledged append at the
	 * next start: if it cannot go, the append fails now. */
	rc = journal_remove(&j);
	if (rc) {
		rc = ais_errf(errmsg, rc, "cannot remove journal %s: %s",
			      j.path, strerror(-rc));
		goto undo;
	}
	res->meta = m;
	rc = 0;
	/* The block checksums of the new bytes, from the pass that made
	 * the checksum (the old table no longer matches). */
	{
		char em[AIS_ERRMSG_LEN];
		int brc = blk_store(mps, sh->st->blk, &w, fd, &m, em);

		if (brc)
			ais_log(LOG_WARNING,
				"%s: block checksums after the append: %s "
				"(made at the next read)",
				path, em);
	}
	goto out;
undo:
	if (journal_undo(fd, &j) == 0) {
		journal_remove(&j);
	} else {
		ais_log(LOG_ERR,
			"append to %s failed and cannot be undone now; journal "
			"%s is rolled back at the next start",
			path, j.path);
	}
out:
	blk_writer_free(&w);
	shard_ref_put(ref);
	free(tail);
	close(fd);
	return rc;
}

int shard_append_run(struct shards *sh, uint64_t body_len, shard_body_cb body,
		     void *arg, const char *peer, const char *bucket,
		     const char *name, bool replace,
		     struct shard_append_result *res, char *errmsg)
{
	struct store *st = sh->st;
	enum ais_shard_format fmt = ais_shard_format_from_name(name);
	char path[AISD_PATH_MAX], what[AIS_BUCKET_MAX + AIS_NAME_MAX + 2];
	struct ais_shard_index *bidx = NULL;
	struct shard_ref *ref;
	struct ais_obj_meta m;
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
	rc = store_find(st, bucket, name, path, &mp, errmsg);
	if (rc)
		return rc;
	if (body_len == 0)
		return ais_errf(errmsg, -EINVAL,
				"nothing to append (the request has no body)");
	buf = malloc(APPEND_BUF);
	if (!buf)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	rc = spool_body(st->mps, mp, body, arg, buf, &bfd, &bsize, errmsg);
	if (rc)
		goto out;
	rc = check_body(bfd, bsize, buf, &bidx, &bend, errmsg);
	if (rc)
		goto out;

	store_lock(st, bucket, name);
	rc = append_locked(sh, bucket, name, bfd, bend, bidx, replace, buf, res,
			   errmsg);
	store_unlock(st, bucket, name);
	if (rc)
		goto out;

	/* The index of the new bytes, now: the next member read finds it. */
	if (store_open(st, bucket, name, &fd, &m, path) == 0) {
		if (shard_get(sh, bucket, name, fd, &m, &ref, path) == 0) {
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

int shard_append_recover(struct shards *sh, char *errmsg)
{
	static const char *const names[] = {
	    [SHARD_CRASH_JOURNAL] = "append-journal",
	    [SHARD_CRASH_DATA] = "append-data",
	    [SHARD_CRASH_META] = "append-meta",
	    [SHARD_CRASH_PAUSE] = "append-pause",
	};

	if (sh->crash_at)
		ais_log(LOG_WARNING,
			"test hook AISD_TEST_CRASH_AT=%s armed: "
			"shard appends will kill this node",
			names[sh->crash_at]);
	return journal_recover(sh->st->mps, errmsg);
}
