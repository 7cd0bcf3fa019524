/* Tests of lib/shard/ (indexes and member reads) against real archivers.
 * Longer than ~800 lines on purpose: the cases share archives that the
 * setup builds once with external tools (GNU tar, bsdtar, zip, ...), which
 * is most of the program's run time. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shard_index.h"
#include "shard_read.h"
#include "util.h"

/*
 * The archives are made at test time in a private temp directory by GNU tar,
 * bsdtar, Python's tarfile, zip, gzip and lz4, from one source tree. Every
 * member read is compared with what tar -x / unzip extract from the same
 * archive, and every listing with tar -t / unzip -Z1.
 */

static char tmp[512]; /* private temp dir */
static char errmsg[AIS_ERRMSG_LEN];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command in tmp; fails the test if it fails. */
static void sh(const char *fmt, ...)
{
	char cmd[8192];
	int n, rc;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", tmp);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static bool have(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static int open_in_tmp(const char *name)
{
	char p[1024];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tmp, name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", p, strerror(errno));
	return fd;
}

/* Builds an in-memory index of tmp/name. */
static struct ais_shard_index *build(const char *name, int *fdp)
{
	struct ais_shard_index *idx = NULL;
	int fd = open_in_tmp(name), rc;

	rc = ais_shard_index_build(fd, ais_shard_format_from_name(name), NULL,
				   -1, &idx, errmsg);
	ck_assert_msg(rc == 0, "build %s: %d %s", name, rc, errmsg);
	ck_assert_ptr_nonnull(idx);
	if (fdp != NULL)
		*fdp = fd;
	else
		close(fd);
	return idx;
}

/* ---- the source tree ---- */

static void make_tree(void)
{
	char deep[512];
	size_t n = 0;

	sh("mkdir -p src/a/b src/emptydir src/long 'src/ünïcødé'");
	sh("head -c 5000 /dev/urandom > src/a/b/c.jpg");
	sh("printf '3\\n' > src/a/b/c.cls");
	sh(": > src/empty.txt");
	sh("head -c 300000 /dev/urandom > src/a/blob.bin");
	sh("printf 'utf8\\n' > 'src/ünïcødé/日本語.txt'");
	/* A name over 100 bytes, and a path over 255 bytes. */
	sh("printf x > src/long/%0120d", 7);
	for (int i = 0; i < 5; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%s%060d",
				      i ? "/" : "", i);
	sh("mkdir -p src/%s && printf deep > src/%s/f.txt", deep, deep);
	sh("ln -s b/c.jpg src/a/sym.jpg");
	sh("ln src/a/b/c.jpg src/a/hard.jpg");
	/* Compressible data over several gzip seek-point spans. */
	sh("head -c 6000000 /dev/urandom | base64 > src/a/big.txt");
	/* ustar cannot hold the deep path: a smaller tree for it. */
	sh("mkdir -p small/a && cp -a src/a/b src/a/sym.jpg src/a/hard.jpg "
	   "src/empty.txt src/emptydir small/a/");
	/* ustar splits a long path into its prefix and name fields. */
	sh("mkdir -p small/p/%080d && printf split > small/p/%080d/%090d", 1, 1,
	   2);
}

/* ---- listing and content comparison ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads "cmd" output lines, normalised, sorted, unique, into a vector. */
static char **lines_of(const char *cmd, size_t *np)
{
	char full[4096], line[8192];
	FILE *f;
	char **v = NULL;
	size_t n = 0, o = 0;

	snprintf(full, sizeof(full), "cd '%s' && %s", tmp, cmd);
	f = popen(full, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char norm[8192];
		size_t l = strcspn(line, "\n");
		int k = ais_shard_path_normalize(line, l, norm, sizeof(norm));

		ck_assert_int_ge(k, 0);
		if (k == 0)
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(norm);
	}
	ck_assert_int_eq(pclose(f), 0);
	qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (o > 0 && strcmp(v[o - 1], v[i]) == 0) {
			free(v[i]);
			continue;
		}
		v[o++] = v[i];
	}
	*np = o;
	return v;
}

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void check_listing(struct ais_shard_index *idx, const char *cmd)
{
	size_t n, cnt = ais_shard_index_count(idx);
	char **want = lines_of(cmd, &n);
	char **got = calloc(cnt + 1, sizeof(*got));

	for (size_t i = 0; i < cnt; i++) {
		struct ais_shard_member m;

		ck_assert_int_eq(ais_shard_index_at(idx, i, &m), 0);
		got[i] = (char *)m.path;
	}
	qsort(got, cnt, sizeof(*got), cmp_str);
	for (size_t i = 0; i < n || i < cnt; i++)
		ck_assert_msg(i < n && i < cnt && strcmp(want[i], got[i]) == 0,
			      "%s: listing differs at %zu: want '%s', index "
			      "has '%s' (%zu vs %zu entries)",
			      cmd, i, i < n ? want[i] : "(end)",
			      i < cnt ? got[i] : "(end)", n, cnt);
	free(got);
	free_lines(want, n);
}

struct cmpctx {
	FILE *f;
	uint64_t pos;
	bool differ;
};

static int cmp_write(void *arg, const void *buf, size_t len)
{
	struct cmpctx *c = arg;
	char tmpb[65536];
	size_t done = 0;

	while (done < len) {
		size_t k =
		    len - done > sizeof(tmpb) ? sizeof(tmpb) : len - done;

		if (fread(tmpb, 1, k, c->f) != k ||
		    memcmp(tmpb, (const char *)buf + done, k) != 0) {
			c->differ = true;
			return -EBADMSG;
		}
		done += k;
	}
	c->pos += len;
	return 0;
}

/* Parked decoders check_range() reads through (NULL: none). */
static struct ais_shard_stream_cache *range_cache;

/* Member bytes [off, off+len) equal the extracted file's. */
static void check_range(int fd, struct ais_shard_index *idx,
			const struct ais_shard_member *m, const char *file,
			uint64_t off, uint64_t len)
{
	struct cmpctx c = {.f = fopen(file, "rb")};
	uint64_t want = off >= m->size	      ? 0
			: len > m->size - off ? m->size - off
					      : len;
	int rc;

	ck_assert_msg(c.f != NULL, "open %s", file);
	ck_assert_int_eq(fseeko(c.f, (off_t)off, SEEK_SET), 0);
	rc = ais_shard_member_read_cached(range_cache, fd, idx, m, off, len,
					  cmp_write, &c, errmsg);
	ck_assert_msg(rc == 0 && !c.differ && c.pos == want,
		      "member '%s' [%" PRIu64 ", +%" PRIu64 "): rc %d (%s), "
		      "%s, got %" PRIu64 " of %" PRIu64 " bytes",
		      m->path, off, len, rc, rc ? errmsg : "",
		      c.differ ? "bytes differ" : "bytes equal", c.pos, want);
	fclose(c.f);
}

/* Every member of idx against the tree extracted in tmp/xdir. */
static void check_members(int fd, struct ais_shard_index *idx, const char *xdir)
{
	size_t cnt = ais_shard_index_count(idx), files = 0;

	for (size_t i = 0; i < cnt; i++) {
		struct ais_shard_member m, m2;
		char p[2048], lnk[1024];
		struct stat st;
		ssize_t ll;

		ck_assert_int_eq(ais_shard_index_at(idx, i, &m), 0);
		snprintf(p, sizeof(p), "%s/%s/%s", tmp, xdir, m.path);
		ck_assert_msg(lstat(p, &st) == 0, "extracted %s missing", p);
		ck_assert_int_eq(ais_shard_index_lookup(idx, m.path, &m2), 0);
		ck_assert_str_eq(m2.path, m.path);
		switch (m.type) {
		case AIS_SHARD_DIR:
			ck_assert_msg(S_ISDIR(st.st_mode), "%s not a dir", p);
			ck_assert(S_ISDIR(m.mode));
			break;
		case AIS_SHARD_SYMLINK:
			ck_assert_msg(S_ISLNK(st.st_mode), "%s not a link", p);
			ll = readlink(p, lnk, sizeof(lnk) - 1);
			ck_assert_int_ge(ll, 0);
			lnk[ll] = '\0';
			ck_assert_str_eq(m.link, lnk);
			break;
		default:
			ck_assert_msg(S_ISREG(st.st_mode), "%s not a file", p);
			ck_assert_msg((uint64_t)st.st_size == m.size,
				      "%s: size %" PRIu64 ", extracted %lld",
				      m.path, m.size, (long long)st.st_size);
			ck_assert_int_eq(m.mode & 0777, st.st_mode & 0777);
			check_range(fd, idx, &m, p, 0, UINT64_MAX);
			if (m.size > 10) {
				check_range(fd, idx, &m, p, m.size / 3,
					    m.size / 2);
				check_range(fd, idx, &m, p, m.size - 7, 100);
			}
			files++;
		}
	}
	ck_assert_uint_ge(files, 4);
}

struct walk {
	const struct ais_shard_index *idx;
	size_t real;
	char dirs[64][1024];
	size_t ndirs;
};

static int walk_cb(void *arg, const char *name,
		   const struct ais_shard_member *m)
{
	struct walk *w = arg;
	const char *slash = strrchr(m->path, '/');

	/* The entry's path ends with its name. */
	ck_assert_str_eq(slash ? slash + 1 : m->path, name);
	if (!(m->flags & AIS_SHARD_F_IMPLICIT))
		w->real++;
	if (m->type == AIS_SHARD_DIR) {
		ck_assert_uint_lt(w->ndirs, 64);
		snprintf(w->dirs[w->ndirs++], sizeof(w->dirs[0]), "%s",
			 m->path);
	}
	return 0;
}

/* Walking the tree with readdir meets every member exactly once. */
static void check_walk(const struct ais_shard_index *idx)
{
	struct walk w = {.idx = idx};

	ck_assert_int_eq(ais_shard_index_readdir(idx, "", NULL, 0, walk_cb, &w),
			 0);
	for (size_t i = 0; i < w.ndirs; i++) {
		char d[1024];

		snprintf(d, sizeof(d), "%s", w.dirs[i]);
		ck_assert_int_eq(
		    ais_shard_index_readdir(idx, d, NULL, 0, walk_cb, &w), 0);
	}
	ck_assert_uint_eq(w.real, ais_shard_index_count(idx));
}

/* Index of tmp/name vs `tar -t` and extraction with `xcmd`. */
static void check_archive(const char *name, const char *listcmd,
			  const char *xcmd)
{
	struct ais_shard_index *idx;
	char cmd[1024], xdir[256];
	int fd;

	idx = build(name, &fd);
	ck_assert_msg(ais_shard_index_error(idx, NULL) == NULL,
		      "%s: unexpected error: %s", name,
		      ais_shard_index_error(idx, NULL));
	snprintf(cmd, sizeof(cmd), listcmd, name);
	check_listing(idx, cmd);
	check_walk(idx);
	snprintf(xdir, sizeof(xdir), "x-%s", name);
	snprintf(cmd, sizeof(cmd), xcmd, name, xdir);
	sh("rm -rf '%s' && mkdir '%s' && %s", xdir, xdir, cmd);
	check_members(fd, idx, xdir);
	sh("rm -rf '%s'", xdir);
	ais_shard_index_free(idx);
	close(fd);
}

#define TAR_T "tar --quoting-style=literal -tf %s"
#define TAR_X "tar -xf %s -C %s"
#define ZIP_T "unzip -Z1 %s"
#define ZIP_X "unzip -q %s -d %s"

/* libarchive's view of a tar must match the hand parser's (names, sizes,
 * types, and data offsets through archive_read_header_position()). */
static void check_libarchive(const char *name)
{
	struct ais_shard_index *idx = build(name, NULL);
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char p[1024];
	size_t seen = 0;
	int rc;

	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	snprintf(p, sizeof(p), "%s/%s", tmp, name);
	ck_assert_int_eq(archive_read_open_filename(a, p, 65536), ARCHIVE_OK);
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK ||
	       rc == ARCHIVE_WARN) {
		struct ais_shard_member m;
		char norm[4096];
		const char *ap = archive_entry_pathname(e);

		ck_assert_int_ge(ais_shard_path_normalize(ap, strlen(ap), norm,
							  sizeof(norm)),
				 0);
		if (norm[0] == '\0')
			continue;
		ck_assert_msg(ais_shard_index_lookup(idx, norm, &m) == 0,
			      "%s: libarchive lists '%s', index does not", name,
			      norm);
		if (archive_entry_filetype(e) == AE_IFREG &&
		    archive_entry_hardlink(e) == NULL)
			ck_assert_msg((int64_t)m.size == archive_entry_size(e),
				      "%s: '%s' size %" PRIu64 " vs %" PRId64,
				      name, norm, m.size,
				      (int64_t)archive_entry_size(e));
		if (archive_entry_filetype(e) == AE_IFDIR)
			ck_assert_int_eq(m.type, AIS_SHARD_DIR);
		if (archive_entry_filetype(e) == AE_IFLNK)
			ck_assert_str_eq(m.link, archive_entry_symlink(e));
		ck_assert_int_eq(m.mtime, archive_entry_mtime(e));
		seen++;
	}
	ck_assert_msg(rc == ARCHIVE_EOF, "%s: libarchive: %s", name,
		      archive_error_string(a));
	ck_assert_uint_eq(seen, ais_shard_index_count(idx));
	archive_read_free(a);
	ais_shard_index_free(idx);
}

/* ---- tests ---- */

START_TEST(test_format_names)
{
	ck_assert_int_eq(ais_shard_format_from_name("a/b.tar"), AIS_SHARD_TAR);
	ck_assert_int_eq(ais_shard_format_from_name("x.TAR.GZ"), AIS_SHARD_TGZ);
	ck_assert_int_eq(ais_shard_format_from_name("x.tgz"), AIS_SHARD_TGZ);
	ck_assert_int_eq(ais_shard_format_from_name("x.tar.lz4"),
			 AIS_SHARD_TLZ4);
	ck_assert_int_eq(ais_shard_format_from_name("x.zip"), AIS_SHARD_ZIP);
	ck_assert_int_eq(ais_shard_format_from_name("x.gz"), AIS_SHARD_NONE);
	ck_assert_int_eq(ais_shard_format_from_name("tar"), AIS_SHARD_NONE);
}
END_TEST

START_TEST(test_normalize)
{
	static const char *const cases[][2] = {
	    {"./a/b", "a/b"}, {"a/b/", "a/b"},	  {"/a//b", "a/b"},
	    {"./", ""},	      {"a/./b/.", "a/b"}, {"././x", "x"},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = ais_shard_path_normalize(
		    cases[i][0], strlen(cases[i][0]), out, sizeof(out));
		ck_assert_int_eq(n, (int)strlen(cases[i][1]));
		ck_assert_str_eq(out, cases[i][1]);
	}
	ck_assert_int_eq(ais_shard_path_normalize("abcdef", 6, out, 4),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(test_gnu_tar_formats)
{
	sh("tar -C src -cf gnu_default.tar .");
	sh("tar -C src --format=gnu -cf gnu_gnu.tar a empty.txt emptydir "
	   "long ünïcødé 000000000000000000000000000000000000000000000000000"
	   "000000000");
	sh("tar -C src --format=pax -cf gnu_pax.tar .");
	sh("tar -C small --format=ustar -cf gnu_ustar.tar .");
	sh("tar -C src --format=v7 -cf gnu_v7.tar a/b");
	check_archive("gnu_default.tar", TAR_T, TAR_X);
	check_archive("gnu_gnu.tar", TAR_T, TAR_X);
	check_archive("gnu_pax.tar", TAR_T, TAR_X);
	check_archive("gnu_ustar.tar", TAR_T, TAR_X);
	check_libarchive("gnu_default.tar");
	check_libarchive("gnu_gnu.tar");
	check_libarchive("gnu_pax.tar");
	check_libarchive("gnu_ustar.tar");
	{
		struct ais_shard_index *idx = build("gnu_v7.tar", NULL);

		check_listing(idx, "tar --quoting-style=literal -tf "
				   "gnu_v7.tar");
		ais_shard_index_free(idx);
	}
}
END_TEST

START_TEST(test_bsdtar_python)
{
	sh("bsdtar -C src -cf bsd.tar .");
	sh("bsdtar -C src --format=pax -cf bsd_pax.tar .");
	sh("python3 -c 'import tarfile,sys\n"
	   "for fmt,n in ((tarfile.PAX_FORMAT,\"py_pax.tar\"),"
	   "(tarfile.GNU_FORMAT,\"py_gnu.tar\")):\n"
	   "  t=tarfile.open(n,\"w\",format=fmt)\n"
	   "  t.add(\"src\",arcname=\".\")\n"
	   "  t.close()'");
	check_archive("bsd.tar", TAR_T, TAR_X);
	check_archive("bsd_pax.tar", TAR_T, TAR_X);
	check_archive("py_pax.tar", TAR_T, TAR_X);
	check_archive("py_gnu.tar", TAR_T, TAR_X);
	check_libarchive("bsd.tar");
	check_libarchive("py_pax.tar");
	check_libarchive("py_gnu.tar");
}
END_TEST

START_TEST(test_zip)
{
	sh("cd src && zip -q -r -y -0 ../stored.zip .");
	sh("cd src && zip -q -r -y ../deflated.zip .");
	sh("cd src && zip -q -r -y -fz ../zip64.zip .");
	check_archive("stored.zip", ZIP_T, ZIP_X);
	check_archive("deflated.zip", ZIP_T, ZIP_X);
	check_archive("zip64.zip", ZIP_T, ZIP_X);
	/* Python's zipfile (data descriptors off, no unix symlinks). */
	sh("python3 -c 'import zipfile,os\n"
	   "z=zipfile.ZipFile(\"py.zip\",\"w\",zipfile.ZIP_DEFLATED)\n"
	   "for r,ds,fs in os.walk(\"src\"):\n"
	   "  for f in fs:\n"
	   "    p=os.path.join(r,f)\n"
	   "    if not os.path.islink(p): z.write(p,os.path.relpath(p,"
	   "\"src\"))\n"
	   "z.close()'");
	check_archive("py.zip", ZIP_T, ZIP_X);
	/* Encrypted and bzip2 members are listed; reading says -ENOTSUP. */
	sh("cd src && zip -q -P secret ../enc.zip a/b/c.cls && zip -q -Z "
	   "bzip2 ../bz.zip a/big.txt");
	{
		static const char *const z[][2] = {{"enc.zip", "a/b/c.cls"},
						   {"bz.zip", "a/big.txt"}};

		for (size_t i = 0; i < 2; i++) {
			struct ais_shard_index *idx;
			struct ais_shard_member m;
			char buf[16];
			size_t got;
			int fd;

			idx = build(z[i][0], &fd);
			ck_assert_int_eq(
			    ais_shard_index_lookup(idx, z[i][1], &m), 0);
			ck_assert_int_eq(m.method, AIS_SHARD_UNSUPPORTED);
			ck_assert_int_eq(
			    ais_shard_member_pread(
				fd, idx, &m, buf, sizeof(buf), 0, &got, errmsg),
			    -ENOTSUP);
			ck_assert_msg(strstr(errmsg, i ? "deflated"
						       : "encrypted") != NULL,
				      "%s", errmsg);
			ais_shard_index_free(idx);
			close(fd);
		}
	}
}
END_TEST

START_TEST(test_compressed_tars)
{
	struct ais_shard_index *idx;
	size_t members = 0;

	sh("tar -C src -czf t.tar.gz .");
	sh("tar -C src -I lz4 -cf t.tar.lz4 .");
	/* Small linked LZ4 blocks (dictionary per seek point). */
	sh("tar -C src -cf - . | lz4 -q -B4 -BD > linked.tar.lz4");
	/* Multi-member gzip, split mid-stream (as pigz or cat would). */
	sh("tar -C src --format=pax -cf mm.tar . && split -b 1000000 mm.tar "
	   "mm.part. && for p in mm.part.*; do gzip -c $p; done > mm.tar.gz");
	check_archive("t.tar.gz", TAR_T, TAR_X);
	check_archive("t.tar.lz4", "tar -I lz4 --quoting-style=literal -tf %s",
		      "tar -I lz4 -xf %s -C %s");
	check_archive("linked.tar.lz4",
		      "tar -I lz4 --quoting-style=literal -tf %s",
		      "tar -I lz4 -xf %s -C %s");
	check_archive("mm.tar.gz", TAR_T, TAR_X);
	if (have("pigz")) {
		sh("tar -C src -cf - . | pigz > pigz.tar.gz");
		check_archive("pigz.tar.gz", TAR_T, TAR_X);
	}
	/* The 8 MiB member spans several seek points: a read near its end
	 * must not start from the shard's beginning. */
	idx = build("t.tar.gz", NULL);
	for (uint64_t off = 0; off < 8000000; off += 1000000) {
		struct ais_shard_point pt;
		const void *w;

		if (ais_shard_index_point(idx, off, &pt, &w) == 0) {
			ck_assert_uint_le(pt.out, off);
			ck_assert_uint_le(off - pt.out, 4u << 20);
			ck_assert_uint_eq(pt.wlen, 32768);
			members++;
		}
	}
	ck_assert_uint_ge(members, 4);
	ais_shard_index_free(idx);
}
END_TEST

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reads the member from its start to its end in step-byte ranges, through
 * range_cache; returns the CPU time it took. */
static uint64_t read_sequentially(int fd, struct ais_shard_index *idx,
				  const struct ais_shard_member *m,
				  const char *src, uint64_t step)
{
	uint64_t t0 = thread_cpu_ns();

	for (uint64_t off = 0; off < m->size; off += step)
		check_range(fd, idx, m, src, off, step);
	return thread_cpu_ns() - t0;
}

/* Parked tar.gz decoders: consecutive ranges continue one decoder instead
 * of inflating again from a seek point; interleaved and backward reads
 * still get the right bytes; a replaced file never continues an old
 * decoder. */
START_TEST(test_stream_cache)
{
	struct ais_shard_stream_cache *sc = ais_shard_stream_cache_new(2);
	struct ais_shard_index *idx;
	struct ais_shard_member m;
	uint64_t plain, cached, a, b;
	char src[600], src2[600];
	int fd;

	ck_assert_ptr_nonnull(sc);
	sh("tar -C src -czf sc.tar.gz a");
	snprintf(src, sizeof(src), "%s/src/a/big.txt", tmp);
	idx = build("sc.tar.gz", &fd);
	ck_assert_int_eq(ais_shard_index_lookup(idx, "a/big.txt", &m), 0);
	ck_assert_uint_gt(m.size, 2 * AIS_SHARD_GZ_SPAN);

	range_cache = NULL;
	plain = read_sequentially(fd, idx, &m, src, 128 << 10);
	range_cache = sc;
	cached = read_sequentially(fd, idx, &m, src, 128 << 10);
	fprintf(stderr,
		"stream cache: %" PRIu64 " bytes in 128 KiB reads: %.3f s CPU "
		"without, %.3f s with parked decoders\n",
		m.size, (double)plain / 1e9, (double)cached / 1e9);
	/* Without parking, every read inflates up to a span again. */
	ck_assert_uint_lt(cached * 3, plain);

	/* Two readers taking turns, then one going backwards. */
	for (a = 0, b = m.size / 2; b < m.size; a += 100000, b += 100000) {
		check_range(fd, idx, &m, src, a, 100000);
		check_range(fd, idx, &m, src, b, 100000);
	}
	for (a = m.size - 200000; a > 700000; a -= 700000)
		check_range(fd, idx, &m, src, a, 200000);
	ais_shard_index_free(idx);
	close(fd);

	/* The same name, other bytes (a new inode): a read right where a
	 * parked decoder of the old file stands must not continue it. */
	sh("rm -rf src2 && cp -a src src2 && tr a-z A-Z < src/a/big.txt > "
	   "src2/a/big.txt && tar -C src2 -czf sc2.tar.gz a && "
	   "mv sc2.tar.gz sc.tar.gz");
	snprintf(src2, sizeof(src2), "%s/src2/a/big.txt", tmp);
	idx = build("sc.tar.gz", &fd);
	ck_assert_int_eq(ais_shard_index_lookup(idx, "a/big.txt", &m), 0);
	check_range(fd, idx, &m, src2, 0, 100000);
	check_range(fd, idx, &m, src2, 100000, 100000);
	check_range(fd, idx, &m, src2, m.size / 2 + 100000, 100000);

	range_cache = NULL;
	ais_shard_stream_cache_clear(sc);
	ais_shard_stream_cache_free(sc);
	ais_shard_index_free(idx);
	close(fd);
	sh("rm -rf src2 sc.tar.gz");
}
END_TEST

START_TEST(test_duplicates_and_dirs)
{
	struct ais_shard_index *idx;
	struct ais_shard_member m;
	char buf[64];
	size_t got;
	int fd;

	/* The same path twice: the last one wins, as with tar -x. */
	sh("mkdir -p dup && printf first > dup/f && tar -C dup -cf dup.tar f "
	   "&& printf second-version > dup/f && tar -C dup -rf dup.tar f");
	idx = build("dup.tar", &fd);
	ck_assert_uint_eq(ais_shard_index_count(idx), 1);
	ck_assert_int_eq(ais_shard_index_lookup(idx, "./f", &m), 0);
	ck_assert_int_eq(ais_shard_member_pread(fd, idx, &m, buf, sizeof(buf),
						0, &got, errmsg),
			 0);
	ck_assert_uint_eq(got, 14);
	ck_assert_int_eq(memcmp(buf, "second-version", 14), 0);
	ais_shard_index_free(idx);
	close(fd);
}
END_TEST

struct dirlist {
	char names[64][128];
	uint8_t types[64];
	uint8_t flags[64];
	size_t n;
};

static int collect(void *arg, const char *name,
		   const struct ais_shard_member *m)
{
	struct dirlist *d = arg;

	ck_assert_uint_lt(d->n, 64);
	snprintf(d->names[d->n], sizeof(d->names[0]), "%s", name);
	d->types[d->n] = m->type;
	d->flags[d->n] = m->flags;
	d->n++;
	return 0;
}

START_TEST(test_readdir_implicit)
{
	struct ais_shard_index *idx;
	struct ais_shard_member m;
	struct dirlist d;

	/* No directory entries at all: "a", "a/b" and "z" are implied. */
	sh("mkdir -p rd/a/b rd/z && touch rd/a/b/c.jpg rd/a/b/c.cls rd/a/b.txt "
	   "rd/a/bc rd/z/1 rd/top && tar -C rd --no-recursion -cf rd.tar "
	   "a/b/c.jpg a/b/c.cls a/b.txt a/bc z/1 top");
	idx = build("rd.tar", NULL);
	ck_assert_uint_eq(ais_shard_index_count(idx), 6);

	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(ais_shard_index_readdir(idx, "", NULL, 0, collect, &d),
			 0);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_str_eq(d.names[0], "a");
	ck_assert_int_eq(d.flags[0], AIS_SHARD_F_IMPLICIT);
	ck_assert_str_eq(d.names[1], "top");
	ck_assert_str_eq(d.names[2], "z");

	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "a", NULL, 0, collect, &d), 0);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_str_eq(d.names[0], "b");
	ck_assert_int_eq(d.types[0], AIS_SHARD_DIR);
	ck_assert_str_eq(d.names[1], "b.txt");
	ck_assert_str_eq(d.names[2], "bc");

	/* Paging: one entry at a time, resuming after the last name. */
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "a/", NULL, 1, collect, &d), 0);
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "a", d.names[0], 1, collect, &d), 0);
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "a", d.names[1], 1, collect, &d), 0);
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "a", d.names[2], 1, collect, &d), 0);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_str_eq(d.names[2], "bc");

	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "a/b", NULL, 0, collect, &d), 0);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_str_eq(d.names[0], "c.cls");
	ck_assert_str_eq(d.names[1], "c.jpg");

	ck_assert_int_eq(ais_shard_index_lookup(idx, "a/b", &m), 0);
	ck_assert_int_eq(m.flags, AIS_SHARD_F_IMPLICIT);
	ck_assert(S_ISDIR(m.mode));
	ck_assert_int_eq(ais_shard_index_lookup(idx, "", &m), 0);
	ck_assert_int_eq(ais_shard_index_lookup(idx, "a/b/c", &m), -ENOENT);
	ck_assert_int_eq(ais_shard_index_lookup(idx, "a/", &m), 0);
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "nope", NULL, 0, collect, &d),
	    -ENOENT);
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "top", NULL, 0, collect, &d),
	    -ENOTDIR);
	/* Flat paging. */
	ck_assert_uint_eq(ais_shard_index_seek(idx, NULL), 0);
	ck_assert_uint_eq(ais_shard_index_seek(idx, "a/bc"), 4);
	ck_assert_uint_eq(ais_shard_index_seek(idx, "zzz"), 6);
	ais_shard_index_free(idx);
}
END_TEST

START_TEST(test_sidecar_save_load_stale)
{
	struct ais_shard_index *idx, *idx2;
	struct ais_shard_stamp st = {.size = 1, .mtime_ns = 2, .version = 3},
			       st2;
	struct ais_shard_member m;
	char path[600], junk[600];
	int fd, jfd;

	sh("test -f t.tar.gz || tar -C src -czf t.tar.gz .");
	fd = open_in_tmp("t.tar.gz");
	snprintf(path, sizeof(path), "%s/t.tar.gz.idx", tmp);
	ck_assert_int_eq(
	    ais_shard_index_save(fd, AIS_SHARD_TGZ, &st, path, &idx, errmsg),
	    0);
	ck_assert_int_eq(ais_shard_index_load(path, &idx2, errmsg), 0);
	ck_assert_uint_eq(ais_shard_index_count(idx),
			  ais_shard_index_count(idx2));
	ck_assert_int_eq(ais_shard_index_format(idx2), AIS_SHARD_TGZ);
	ais_shard_index_stamp(idx2, &st2);
	ck_assert(!ais_shard_index_is_stale(idx2, &st));
	st2.mtime_ns++;
	ck_assert(ais_shard_index_is_stale(idx2, &st2));
	ck_assert_int_eq(ais_shard_index_lookup(idx2, "a/big.txt", &m), 0);
	ais_shard_index_free(idx);
	ais_shard_index_free(idx2);
	/* Deleted: -ENOENT, so the daemon rebuilds. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(ais_shard_index_load(path, &idx2, errmsg), -ENOENT);
	/* Not a sidecar / truncated sidecar: -EBADMSG, not a crash. */
	snprintf(junk, sizeof(junk), "%s/junk.idx", tmp);
	jfd = open(junk, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(
	    ais_shard_index_build(fd, AIS_SHARD_TGZ, &st, jfd, NULL, errmsg),
	    0);
	ck_assert_int_eq(ftruncate(jfd, 4000), 0);
	ck_assert_int_eq(ais_shard_index_open(jfd, &idx2, errmsg), -EBADMSG);
	ck_assert_int_eq(ftruncate(jfd, 0), 0);
	ck_assert_int_eq(write(jfd, tmp, 300), 300);
	ck_assert_int_eq(ais_shard_index_open(jfd, &idx2, errmsg), -EBADMSG);
	close(jfd);
	close(fd);
}
END_TEST

static int copy_prefix(int from, int to, uint64_t len)
{
	char buf[65536];
	uint64_t at = 0;

	while (at < len) {
		size_t k =
		    len - at < sizeof(buf) ? (size_t)(len - at) : sizeof(buf);
		ssize_t r = pread(from, buf, k, (off_t)at);

		if (r <= 0 || write(to, buf, (size_t)r) != r)
			return -EIO;
		at += (uint64_t)r;
	}
	return 0;
}

/* Cuts name at many offsets: each cut gives an index (never a crash) that
 * lists a prefix of the members, each readable and equal to the original,
 * plus an error whenever the cut loses a member's bytes. */
static void check_truncations(const char *name, uint64_t step_hint)
{
	struct ais_shard_index *full;
	int ffd;
	struct stat st;
	char cut[300], p[1024];
	uint64_t offs[400];
	size_t no = 0;

	full = build(name, &ffd);
	ck_assert_int_eq(fstat(ffd, &st), 0);
	/* Every header start and middle, plus a sweep. */
	for (size_t i = 0; i < ais_shard_index_count(full) && no < 200; i++) {
		struct ais_shard_member m;

		ais_shard_index_at(full, i, &m);
		if (ais_shard_index_format(full) == AIS_SHARD_TAR ||
		    ais_shard_index_format(full) == AIS_SHARD_ZIP) {
			offs[no++] = m.header_off + 100;
			offs[no++] = m.data_off + m.size / 2;
		}
	}
	for (uint64_t o = 0; o < (uint64_t)st.st_size && no < 400;
	     o += step_hint)
		offs[no++] = o;
	snprintf(cut, sizeof(cut), "cut-%s", name);
	snprintf(p, sizeof(p), "%s/%s", tmp, cut);
	for (size_t k = 0; k < no; k++) {
		struct ais_shard_index *idx;
		int fd;
		size_t cnt;

		/* An empty object is an empty tar: 0 is not a cut. */
		if (offs[k] == 0 || offs[k] >= (uint64_t)st.st_size)
			continue;
		fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(copy_prefix(ffd, fd, offs[k]), 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(
		    ais_shard_index_build(fd, ais_shard_format_from_name(name),
					  NULL, -1, &idx, errmsg),
		    0);
		cnt = ais_shard_index_count(idx);
		ck_assert_uint_le(cnt, ais_shard_index_count(full));
		if (cnt < ais_shard_index_count(full))
			ck_assert_msg(ais_shard_index_error(idx, NULL) != NULL,
				      "%s cut at %" PRIu64 ": members lost "
				      "without an error",
				      name, offs[k]);
		for (size_t i = 0; i < cnt; i++) {
			struct ais_shard_member m, mf;
			char b1[4096], b2[4096];
			size_t g1 = 0, g2 = 0;
			int r1, r2;

			ck_assert_int_eq(ais_shard_index_at(idx, i, &m), 0);
			ck_assert_int_eq(
			    ais_shard_index_lookup(full, m.path, &mf), 0);
			/* Zip local headers (all a cut zip has left) do not
			 * say a member is a symlink: it reads as a file. */
			if (mf.type == AIS_SHARD_SYMLINK)
				continue;
			ck_assert_uint_eq(m.size, mf.size);
			if (m.type == AIS_SHARD_DIR ||
			    m.method == AIS_SHARD_UNSUPPORTED)
				continue;
			r1 = ais_shard_member_pread(fd, idx, &m, b1, sizeof(b1),
						    0, &g1, errmsg);
			r2 = ais_shard_member_pread(ffd, full, &mf, b2,
						    sizeof(b2), 0, &g2, errmsg);
			ck_assert_int_eq(r2, 0);
			if (r1 == 0) {
				ck_assert_uint_eq(g1, g2);
				ck_assert_int_eq(memcmp(b1, b2, g1), 0);
			}
		}
		ais_shard_index_free(idx);
		close(fd);
	}
	ais_shard_index_free(full);
	close(ffd);
}

START_TEST(test_truncated)
{
	struct ais_shard_index *idx;
	uint64_t off = 0;
	const char *e;
	int fd;

	sh("test -f gnu_pax.tar || tar -C src --format=pax -cf gnu_pax.tar .");
	sh("tar -C small -cf small.tar . && gzip -c small.tar > small.tar.gz "
	   "&& lz4 -q -B4 -BD small.tar small.tar.lz4 && "
	   "(cd small && zip -q -r -y ../small.zip .)");
	/* The exact message for a member cut short. */
	sh("mkdir -p tr && head -c 10000 /dev/urandom > tr/big.jpg && "
	   "printf x > tr/a && tar -C tr -cf tr.tar a big.jpg && "
	   "head -c 4096 tr.tar > trunc.tar");
	idx = build("trunc.tar", NULL);
	e = ais_shard_index_error(idx, &off);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e, "truncated tar: member 'big.jpg' header at offset "
			    "1024 claims 10000 bytes, archive ends at 4096");
	ck_assert_uint_eq(off, 1024);
	ck_assert_uint_eq(ais_shard_index_count(idx), 1);
	ais_shard_index_free(idx);

	check_truncations("small.tar", 131);
	check_truncations("small.tar.gz", 37);
	check_truncations("small.tar.lz4", 37);
	check_truncations("small.zip", 61);
	/* Garbage: a clear error, no members, no crash. */
	sh("head -c 100000 /dev/urandom > garbage.tar && cp garbage.tar "
	   "garbage.zip && cp garbage.tar garbage.tar.gz && cp garbage.tar "
	   "garbage.tar.lz4 && : > empty.tar && head -c 10240 /dev/zero > "
	   "zeros.tar");
	{
		static const char *const g[] = {"garbage.tar", "garbage.zip",
						"garbage.tar.gz",
						"garbage.tar.lz4"};
		for (size_t i = 0; i < 4; i++) {
			idx = build(g[i], NULL);
			ck_assert_msg(ais_shard_index_error(idx, NULL) != NULL,
				      "%s: no error", g[i]);
			ck_assert_uint_eq(ais_shard_index_count(idx), 0);
			ais_shard_index_free(idx);
		}
	}
	/* Hostile zips of local headers only: a zip64 size of 2^64 - 40
	 * (which wrapped past the end once, and re-added the same member
	 * until memory ran out), and a name that claims more bytes than are
	 * left. Clear errors, no member, no read past the data. */
	sh("python3 -c 'import struct,sys\n"
	   "def lh(name, cs, xl, extra):\n"
	   "  return struct.pack(\"<IHHHHHIIIHH\", 0x04034b50, 45, 0, 0, 0, "
	   "0, 0, cs, cs, len(name), xl) + name + extra\n"
	   "x = struct.pack(\"<HHQQ\", 1, 16, 2**64 - 40, 2**64 - 40)\n"
	   "open(\"wrap.zip\",\"wb\").write(lh(b\"a\", 0xffffffff, len(x), x) "
	   "+ b\"payload\" * 8)\n"
	   "open(\"shortname.zip\",\"wb\").write(lh(b\"\", 0, 0, b\"\")[:26] + "
	   "struct.pack(\"<HH\", 60000, 4) + b\"n\" * 10)'");
	{
		static const char *const z[] = {"wrap.zip", "shortname.zip"};

		for (size_t i = 0; i < 2; i++) {
			idx = build(z[i], NULL);
			e = ais_shard_index_error(idx, NULL);
			ck_assert_msg(e != NULL, "%s: no error", z[i]);
			ck_assert_msg(strstr(e, i ? "local header cut short"
						  : "member data cut short"),
				      "%s: %s", z[i], e);
			ck_assert_uint_eq(ais_shard_index_count(idx), 0);
			ais_shard_index_free(idx);
		}
	}
	idx = build("garbage.tar", NULL);
	ck_assert_str_eq(ais_shard_index_error(idx, NULL),
			 "not a tar archive: bad header checksum at offset 0");
	ais_shard_index_free(idx);
	idx = build("empty.tar", NULL);
	ck_assert_ptr_null(ais_shard_index_error(idx, NULL));
	ais_shard_index_free(idx);
	idx = build("zeros.tar", NULL);
	ck_assert_ptr_null(ais_shard_index_error(idx, NULL));
	ck_assert_uint_eq(ais_shard_index_count(idx), 0);
	ais_shard_index_free(idx);
	/* Corrupt compressed data in the middle: error, earlier members. */
	sh("cp t.tar.gz bad.tar.gz 2>/dev/null || tar -C src -czf bad.tar.gz "
	   ". ; printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' | dd of=bad.tar.gz "
	   "bs=1 seek=200000 conv=notrunc status=none");
	idx = build("bad.tar.gz", NULL);
	e = ais_shard_index_error(idx, NULL);
	ck_assert_ptr_nonnull(e);
	/* Garbage may still inflate (the CRC would catch it at the end):
	 * then the tar layer reports it. */
	ck_assert_msg(strstr(e, "gzip") != NULL || strstr(e, "tar") != NULL,
		      "%s", e);
	ais_shard_index_free(idx);
	/* Same for LZ4: the content checksum catches it. */
	sh("tar -C src -I lz4 -cf bad.tar.lz4 . ; printf 'XXXXXXXX' | dd "
	   "of=bad.tar.lz4 bs=1 seek=100000 conv=notrunc status=none");
	idx = build("bad.tar.lz4", NULL);
	e = ais_shard_index_error(idx, NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(strstr(e, "lz4") != NULL || strstr(e, "tar") != NULL,
		      "%s", e);
	ais_shard_index_free(idx);
	(void)fd;
}
END_TEST

static void put_tar_header(int fd, uint64_t at, const char *name, uint64_t size,
			   bool base256)
{
	unsigned char h[512];
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	if (base256) {
		h[124] = 0x80;
		for (int i = 0; i < 8; i++)
			h[135 - i] = (unsigned char)(size >> (8 * i));
	} else {
		char oct[32];

		snprintf(oct, sizeof(oct), "%011" PRIo64, size);
		memcpy(h + 124, oct, 11);
	}
	memcpy(h + 136, "14000000000", 12);
	h[156] = '0';
	memcpy(h + 257, "ustar  ", 8); /* GNU magic: base-256 allowed */
	memset(h + 148, ' ', 8);
	for (int k = 0; k < 512; k++)
		sum += h[k];
	snprintf((char *)h + 148, 8, "%06o", sum);
	ck_assert_int_eq(pwrite(fd, h, 512, (off_t)at), 512);
}

/* GNU sparse members (old GNU, pax 0.0, 0.1 and 1.0 maps; the old format
 * with extension blocks for many chunks) read as the source file, holes as
 * zeros; a member over 8 GiB (base-256 size) is indexed exactly. */
START_TEST(test_sparse_and_huge)
{
	static const char *const sparse[] = {
	    "sparse_gnu.tar", "sparse_pax.tar",	   "sparse_p00.tar",
	    "sparse_p01.tar", "sparse_pax.tar.gz", "sparse_gnu.tar.lz4"};
	const uint64_t huge = 9ull << 30;
	struct ais_shard_index *idx;
	struct ais_shard_member m;
	char buf[200], p[600], srcp[600];
	size_t got;
	int fd;

	/* 30 data islands in 5 MiB of holes. */
	sh("mkdir -p sp && truncate -s 5M sp/s.bin && for i in $(seq 1 30); "
	   "do printf \"island $i\" | dd of=sp/s.bin bs=1 seek=$((i * "
	   "150000 + i)) conv=notrunc status=none; done && printf x > "
	   "sp/after");
	sh("tar -C sp --sparse --format=gnu -cf sparse_gnu.tar s.bin after && "
	   "tar -C sp --sparse --format=pax -cf sparse_pax.tar s.bin after && "
	   "tar -C sp --sparse --format=pax --sparse-version=0.0 -cf "
	   "sparse_p00.tar s.bin after && tar -C sp --sparse --format=pax "
	   "--sparse-version=0.1 -cf sparse_p01.tar s.bin after && gzip -c "
	   "sparse_pax.tar > sparse_pax.tar.gz && lz4 -q sparse_gnu.tar "
	   "sparse_gnu.tar.lz4");
	snprintf(srcp, sizeof(srcp), "%s/sp/s.bin", tmp);
	for (size_t i = 0; i < sizeof(sparse) / sizeof(sparse[0]); i++) {
		idx = build(sparse[i], &fd);
		ck_assert_ptr_null(ais_shard_index_error(idx, NULL));
		if (strstr(sparse[i], "lz4") != NULL)
			snprintf(p, sizeof(p), "lz4 -dc %s | tar -tf -",
				 sparse[i]);
		else
			snprintf(p, sizeof(p), TAR_T, sparse[i]);
		check_listing(idx, p);
		ck_assert_int_eq(ais_shard_index_lookup(idx, "s.bin", &m), 0);
		ck_assert_uint_eq(m.size, 5u << 20);
		ck_assert(m.flags & AIS_SHARD_F_SPARSE);
		ck_assert_msg(m.method == AIS_SHARD_STORED, "%s: map unread",
			      sparse[i]);
		check_range(fd, idx, &m, srcp, 0, UINT64_MAX);
		check_range(fd, idx, &m, srcp, 150000 * 7, 150000 * 3 + 11);
		check_range(fd, idx, &m, srcp, (5u << 20) - 10, 100);
		ck_assert_int_eq(ais_shard_index_lookup(idx, "after", &m), 0);
		ck_assert_int_eq(ais_shard_member_pread(fd, idx, &m, buf, 10, 0,
							&got, errmsg),
				 0);
		ck_assert_uint_eq(got, 1);
		ck_assert_int_eq(buf[0], 'x');
		ais_shard_index_free(idx);
		close(fd);
	}

	snprintf(p, sizeof(p), "%s/huge.tar", tmp);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	put_tar_header(fd, 0, "huge.bin", huge, true);
	ck_assert_int_eq(pwrite(fd, "end!", 4, (off_t)(512 + huge - 4)), 4);
	put_tar_header(fd, 512 + huge, "tail.txt", 4, false);
	ck_assert_int_eq(pwrite(fd, "tail", 4, (off_t)(1024 + huge)), 4);
	ck_assert_int_eq(ftruncate(fd, (off_t)(1024 + huge + 512 + 1024)), 0);
	close(fd);
	idx = build("huge.tar", &fd);
	ck_assert_ptr_null(ais_shard_index_error(idx, NULL));
	check_listing(idx, "tar --quoting-style=literal -tf huge.tar");
	ck_assert_int_eq(ais_shard_index_lookup(idx, "huge.bin", &m), 0);
	ck_assert_uint_eq(m.size, huge);
	ck_assert_uint_eq(m.data_off, 512);
	ck_assert_int_eq(ais_shard_member_pread(fd, idx, &m, buf, sizeof(buf),
						huge - 6, &got, errmsg),
			 0);
	ck_assert_uint_eq(got, 6);
	ck_assert_int_eq(memcmp(buf, "\0\0end!", 6), 0);
	ck_assert_int_eq(ais_shard_index_lookup(idx, "tail.txt", &m), 0);
	ck_assert_uint_eq(m.data_off, 1024 + huge);
	ck_assert_int_eq(ais_shard_member_pread(fd, idx, &m, buf, sizeof(buf),
						0, &got, errmsg),
			 0);
	ck_assert_uint_eq(got, 4);
	ck_assert_int_eq(memcmp(buf, "tail", 4), 0);
	ais_shard_index_free(idx);
	close(fd);
	sh("rm -f huge.tar");
}
END_TEST

/* A member over 1 GiB: ranges at the start, middle and end. */
START_TEST(test_large_member)
{
	static const char *const names[] = {"big.tar", "big.tar.gz"};
	const uint64_t size = 1100ull << 20;

	sh("mkdir -p bigsrc && truncate -s 1100M bigsrc/big.bin && "
	   "head -c 65536 /dev/urandom | dd of=bigsrc/big.bin conv=notrunc "
	   "status=none && head -c 65536 /dev/urandom | dd of=bigsrc/big.bin "
	   "bs=65536 seek=8000 conv=notrunc status=none && head -c 65536 "
	   "/dev/urandom | dd of=bigsrc/big.bin bs=65536 seek=17599 "
	   "conv=notrunc status=none");
	sh("tar -C bigsrc -cf big.tar big.bin && gzip -1 -c big.tar > "
	   "big.tar.gz");
	for (size_t i = 0; i < 2; i++) {
		struct ais_shard_index *idx;
		struct ais_shard_member m;
		char src[600];
		int fd;
		uint64_t t0;

		idx = build(names[i], &fd);
		ck_assert_int_eq(ais_shard_index_lookup(idx, "big.bin", &m), 0);
		ck_assert_uint_eq(m.size, size);
		snprintf(src, sizeof(src), "%s/bigsrc/big.bin", tmp);
		t0 = ais_now_mono_ns();
		check_range(fd, idx, &m, src, 0, 100000);
		check_range(fd, idx, &m, src, 8000ull * 65536 - 1000, 70000);
		check_range(fd, idx, &m, src, size - 65536 - 5, 1 << 20);
		check_range(fd, idx, &m, src, size / 3, 3 << 20);
		/* Seek points keep these reads far from a full decode. */
		ck_assert_uint_lt(ais_now_mono_ns() - t0, 2000000000ull);
		fprintf(stderr,
			"large %s: index %" PRIu64
			" bytes, 4 range reads %.3f s\n",
			names[i], ais_shard_index_file_size(idx),
			(double)(ais_now_mono_ns() - t0) / 1e9);
		ais_shard_index_free(idx);
		close(fd);
	}
	sh("rm -rf bigsrc big.tar big.tar.gz");
}
END_TEST

static long rss_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field) + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* Writes a tar of n empty members "dNNN/sNNNNNNN.jpg" (no dir entries). */
static void write_synthetic_tar(const char *path, unsigned n)
{
	FILE *f = fopen(path, "wb");
	char zero[1024] = {0};

	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < n; i++) {
		unsigned char h[512];
		unsigned sum = 0;

		memset(h, 0, sizeof(h));
		snprintf((char *)h, 100, "d%03u/s%07u.jpg", i % 1000, i);
		memcpy(h + 100, "0000644", 8);
		memcpy(h + 108, "0000000", 8);
		memcpy(h + 116, "0000000", 8);
		memcpy(h + 124, "00000000000", 12);
		memcpy(h + 136, "14000000000", 12);
		h[156] = '0';
		memcpy(h + 257, "ustar", 6);
		memcpy(h + 263, "00", 2);
		memset(h + 148, ' ', 8);
		for (int k = 0; k < 512; k++)
			sum += h[k];
		snprintf((char *)h + 148, 8, "%06o", sum);
		ck_assert_uint_eq(fwrite(h, 1, 512, f), 512);
	}
	fwrite(zero, 1, sizeof(zero), f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_million)
{
	const unsigned n = 1000000;
	struct ais_shard_index *idx;
	struct ais_shard_member m;
	struct dirlist d;
	char tarp[600], idxp[600], name[64];
	uint64_t t0, t_build, t_load, t_lookup;
	long rss0, rss1, anon0, anon1;
	int fd;

	snprintf(tarp, sizeof(tarp), "%s/million.tar", tmp);
	snprintf(idxp, sizeof(idxp), "%s/million.tar.idx", tmp);
	write_synthetic_tar(tarp, n);
	fd = open(tarp, O_RDONLY);
	t0 = ais_now_mono_ns();
	ck_assert_int_eq(
	    ais_shard_index_save(fd, AIS_SHARD_TAR, NULL, idxp, NULL, errmsg),
	    0);
	t_build = ais_now_mono_ns() - t0;
	close(fd);
	sh("rm -f million.tar");

	rss0 = rss_kib("VmRSS:");
	anon0 = rss_kib("RssAnon:");
	t0 = ais_now_mono_ns();
	ck_assert_int_eq(ais_shard_index_load(idxp, &idx, errmsg), 0);
	t_load = ais_now_mono_ns() - t0;
	ck_assert_uint_eq(ais_shard_index_count(idx), n);
	t0 = ais_now_mono_ns();
	for (unsigned i = 0; i < 1000; i++) {
		unsigned k = (i * 7919u) % n;

		snprintf(name, sizeof(name), "d%03u/s%07u.jpg", k % 1000, k);
		ck_assert_int_eq(ais_shard_index_lookup(idx, name, &m), 0);
		ck_assert_str_eq(m.path, name);
		ck_assert_uint_eq(m.header_off, (uint64_t)k * 512);
	}
	t_lookup = ais_now_mono_ns() - t0;
	ck_assert_int_eq(ais_shard_index_lookup(idx, "d999/s0000000.jpg", &m),
			 -ENOENT);
	/* The root lists 1000 implicit dirs; a dir lists 1000 files. */
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "", "d500", 64, collect, &d), 0);
	ck_assert_uint_eq(d.n, 64);
	ck_assert_str_eq(d.names[0], "d501");
	ck_assert_int_eq(d.flags[0], AIS_SHARD_F_IMPLICIT);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(
	    ais_shard_index_readdir(idx, "d007", NULL, 3, collect, &d), 0);
	ck_assert_str_eq(d.names[0], "s0000007.jpg");
	ck_assert_str_eq(d.names[1], "s0001007.jpg");
	rss1 = rss_kib("VmRSS:");
	anon1 = rss_kib("RssAnon:");
	fprintf(stderr,
		"million: build+save %.2f s, sidecar %.1f MiB (%.1f B/member), "
		"load %.1f us, 1000 lookups %.2f ms, after load, lookups and "
		"readdir: RSS +%ld KiB (heap +%ld KiB, the rest mapped "
		"sidecar pages), peak RSS %ld KiB (incl. build)\n",
		(double)t_build / 1e9,
		(double)ais_shard_index_file_size(idx) / 1048576.0,
		(double)ais_shard_index_file_size(idx) / n,
		(double)t_load / 1e3, (double)t_lookup / 1e6, rss1 - rss0,
		anon1 - anon0, rss_kib("VmHWM:"));
	ck_assert_uint_lt(t_load, 10000000ull); /* O(1): well under 10 ms */
	/* The index is used from the page cache, not copied to the heap. */
	ck_assert_int_lt(anon1 - anon0, 16 * 1024);
	ais_shard_index_free(idx);
	sh("rm -f million.tar.idx");
}
END_TEST

static void setup_tree(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(tmp, sizeof(tmp), "%s/ais-shard-test.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	make_tree();
}

static uint64_t t_start;

static void test_start(void)
{
	t_start = ais_now_mono_ns();
}

static void test_end(void)
{
	if (getenv("AIS_SHARD_TEST_TIMES"))
		fprintf(stderr, "  test took %.2f s\n",
			(double)(ais_now_mono_ns() - t_start) / 1e9);
}

static void teardown_tree(void)
{
	char cmd[700];

	if (getenv("AIS_SHARD_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmp);
	}
}

static Suite *shard_suite(void)
{
	Suite *s = suite_create("shard");
	TCase *tc = tcase_create("archives");

	tcase_add_unchecked_fixture(tc, setup_tree, teardown_tree);
	tcase_add_checked_fixture(tc, test_start, test_end);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_format_names);
	tcase_add_test(tc, test_normalize);
	tcase_add_test(tc, test_gnu_tar_formats);
	tcase_add_test(tc, test_bsdtar_python);
	tcase_add_test(tc, test_zip);
	tcase_add_test(tc, test_compressed_tars);
	tcase_add_test(tc, test_stream_cache);
	tcase_add_test(tc, test_duplicates_and_dirs);
	tcase_add_test(tc, test_readdir_implicit);
	tcase_add_test(tc, test_sidecar_save_load_stale);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_sparse_and_huge);
	if (getenv("AIS_SHARD_TEST_QUICK") == NULL) {
		tcase_add_test(tc, test_large_member);
		tcase_add_test(tc, test_million);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(shard_suite());
	int failed;

	/* Archivers must be there: the test compares with them. */
	if (!have("bsdtar") || !have("zip") || !have("unzip") || !have("lz4") ||
	    !have("python3")) {
		fprintf(stderr, "shard test: bsdtar, zip, unzip, lz4 and "
				"python3 are needed\n");
		return 77;
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
