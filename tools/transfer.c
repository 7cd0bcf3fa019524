/* Single-object transfers between local files and the cluster. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "transfer.h"
#include "fileio.h"
#include "util.h"

#define SPOOL_BUF    (1u << 20) /* fixed buffer for spooling stdin */
#define TMP_BASE_MAX 200	/* room for ".<base>.ais-XXXXXX" in 255 bytes */

static mode_t cur_umask;
static pthread_once_t umask_once = PTHREAD_ONCE_INIT;

/* umask() can only be read by setting it, which would race with the other
 * workers creating files: read /proc/self/status instead when possible. */
static void read_umask(void)
{
	char line[128];
	unsigned m;
	FILE *f = fopen("/proc/self/status", "re");

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Umask: %o", &m) == 1) {
				cur_umask = (mode_t)m;
				fclose(f);
				return;
			}
		}
		fclose(f);
	}
	cur_umask = umask(0);
	umask(cur_umask);
}

#define PUT_ATTEMPTS 3

/* Errors after which one more attempt is worth it: the node may simply have
 * closed an idle pooled connection under us. libais retries those itself
 * only while it can replay the body, i.e. within the first chunk of a
 * callback source; our sources are seekable files, so we start over. */
static bool retryable(int rc)
{
	return rc == -ECONNRESET || rc == -EPIPE || rc == -ECONNABORTED;
}

/* For PUT also WRONG_NODE (-EREMOTE) past the first chunk: libais has
 * adopted the newer map by then, so a new attempt goes to the new owner. */
static bool put_retryable(int rc)
{
	return retryable(rc) || rc == -EREMOTE;
}

/* ---- PUT ---------------------------------------------------------------- */

struct put_src {
	int fd;
	uint64_t off, size;
	struct progress *p;
	bool shrunk; /* the file ended before size bytes */
};

static ssize_t put_read(void *arg, void *buf, size_t len)
{
	struct put_src *s = arg;
	ssize_t n;

	if (cli_interrupted)
		return -EINTR;
	if (len > s->size - s->off)
		len = (size_t)(s->size - s->off);
	if (len == 0)
		return 0;
	do {
		n = pread(s->fd, buf, len, (off_t)s->off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0) {
		s->shrunk = true;
		return -EIO;
	}
	s->off += (uint64_t)n;
	progress_add_bytes(s->p, n);
	return n;
}

/* PUTs size bytes of the seekable fd through a callback (which counts the
 * progress), starting over after a connection error or WRONG_NODE. */
atomic_uint_fast64_t xfer_degraded;

void xfer_report_degraded(const char *cmd)
{
	uint64_t n = atomic_load(&xfer_degraded);

	if (n == 0)
		return;
	fprintf(stderr,
		"ais %s: %llu object%s stored with fewer copies than the "
		"bucket keeps (a node down, unreachable or out of space); "
		"the nodes make the missing copies when they can (ais bucket "
		"summary counts them)\n",
		cmd, (unsigned long long)n, n == 1 ? "" : "s");
}

static int put_seekable(struct ais_client *c, const char *bucket,
			const char *name, int fd, uint64_t size, uint32_t mode,
			const char *label, struct progress *p, char *errmsg)
{
	uint32_t missing = 0;
	struct ais_put_opts opts = {.mode = mode, .copies_missing = &missing};
	struct put_src s = {.fd = fd, .size = size, .p = p};
	int rc, attempt;

	for (attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
		s.off = 0;
		rc = ais_client_put_cb(c, bucket, name, size, put_read, &s,
				       &opts, NULL, errmsg);
		if (rc == 0) {
			if (missing)
				atomic_fetch_add(&xfer_degraded, 1);
			return 0;
		}
		progress_add_bytes(p, -(int64_t)s.off);
		if (s.shrunk)
			return ais_errf(errmsg, -EIO,
					"%s shrank while being read", label);
		if (cli_interrupted)
			return -EINTR;
		if (!put_retryable(rc))
			break;
	}
	return rc;
}

int xfer_put_path(struct ais_client *c, const char *bucket, const char *name,
		  const char *path, struct progress *p, char *errmsg)
{
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return ais_errf(errmsg, -errno, "cannot open %s", path);
	if (fstat(fd, &st) < 0) {
		rc = ais_errf(errmsg, -errno, "cannot stat %s", path);
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = ais_errf(errmsg, -EISDIR, "%s is a directory (use -r)",
			      path);
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc =
		    ais_errf(errmsg, -EINVAL, "%s is not a regular file", path);
		goto out_close;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = put_seekable(c, bucket, name, fd, (uint64_t)st.st_size,
			  S_IFREG | (st.st_mode & 0777), path, p, errmsg);
out_close:
	close(fd);
	return rc;
}

/* Reads the whole of the small file at path into *buf (heap) and *len,
 * with its mode. 1 if it is no longer a small regular file (or changed
 * size while read): it then goes alone. */
static int read_small(const char *path, void **buf, size_t *len, uint32_t *mode,
		      char *errmsg)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	uint8_t *b;
	int fd, rc = 0;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return ais_errf(errmsg, -errno, "cannot open %s", path);
	if (fstat(fd, &st) < 0) {
		rc = ais_errf(errmsg, -errno, "cannot stat %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)XFER_SMALL_MAX) {
		rc = 1;
		goto out;
	}
	/* One byte more than its size: a file that grew is seen so. */
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		n = read(fd, b + got, (size_t)st.st_size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == (size_t)st.st_size + 1)
			break;
	}
	if (n < 0) {
		rc = ais_errf(errmsg, -errno, "cannot read %s", path);
		free(b);
	} else if (got != (size_t)st.st_size) {
		rc = 1;
		free(b);
	} else {
		*buf = b;
		*len = got;
		*mode = S_IFREG | (st.st_mode & 0777);
	}
out:
	close(fd);
	return rc;
}

static void small_failed(int rc, const char *errmsg, const char *bucket,
			 const struct xfer_small *f, struct progress *p)
{
	progress_file_done(p, false);
	if (!cli_interrupted)
		cli_fail(rc, errmsg, "put %s ais://%s/%s", f->path, bucket,
			 f->name);
}

/* A file of the batch that goes alone. */
static size_t small_alone(struct ais_client *c, const char *bucket,
			  const struct xfer_small *f, struct progress *p)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	int rc = xfer_put_path(c, bucket, f->name, f->path, p, errmsg);

	if (rc < 0) {
		small_failed(rc, errmsg, bucket, f, p);
		return 1;
	}
	progress_file_done(p, true);
	return 0;
}

size_t xfer_put_small(struct ais_client *c, const char *bucket,
		      const struct xfer_small *files, size_t n,
		      struct progress *p)
{
	struct ais_put_item *items = calloc(n, sizeof(*items));
	uint32_t *missing = calloc(n, sizeof(*missing));
	const struct xfer_small **of = calloc(n, sizeof(*of));
	char errmsg[AIS_ERRMSG_LEN];
	size_t i, m = 0, failed = 0;
	uint32_t mode = 0;

	if (!items || !missing || !of) {
		for (i = 0; i < n; i++)
			small_failed(-ENOMEM, NULL, bucket, &files[i], p);
		failed = n;
		goto out;
	}
	for (i = 0; i < n && !cli_interrupted; i++) {
		struct ais_put_item *it = &items[m];
		void *buf;
		int rc;

		errmsg[0] = '\0';
		rc = read_small(files[i].path, &buf, &it->len, &mode, errmsg);
		if (rc < 0) {
			small_failed(rc, errmsg, bucket, &files[i], p);
			failed++;
			continue;
		}
		if (rc > 0) {
			failed += small_alone(c, bucket, &files[i], p);
			continue;
		}
		it->name = files[i].name;
		it->buf = buf; /* freed below */
		it->opts.mode = mode;
		it->opts.copies_missing = &missing[m];
		of[m++] = &files[i];
	}
	if (cli_interrupted) {
		failed += m + (n - i); /* not sent, not read */
		goto out;
	}
	ais_client_put_batch(c, bucket, items, m);
	for (i = 0; i < m; i++) {
		const struct ais_put_item *it = &items[i];

		if (it->rc == 0) {
			progress_add_bytes(p, (int64_t)it->len);
			progress_file_done(p, true);
			if (missing[i])
				atomic_fetch_add(&xfer_degraded, 1);
		} else if (put_retryable(it->rc) && !cli_interrupted) {
			failed += small_alone(c, bucket, of[i], p);
		} else {
			small_failed(it->rc, it->errmsg, bucket, of[i], p);
			failed++;
		}
	}
out:
	for (i = 0; items && i < m; i++)
		free((void *)items[i].buf);
	free(items);
	free(missing);
	free(of);
	return failed;
}

/* Opens an unlinked temporary file in $TMPDIR (or /tmp). */
static int spool_open(const char **dir_out, char *errmsg)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[PATH_MAX];
	int fd;

	if (!dir || !dir[0])
		dir = "/tmp";
	*dir_out = dir;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* File systems without O_TMPFILE: create, then unlink at once. */
	if (snprintf(tmpl, sizeof(tmpl), "%s/ais-stdin-XXXXXX", dir) >=
	    (int)sizeof(tmpl))
		return ais_errf(errmsg, -ENAMETOOLONG, "TMPDIR %s", dir);
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return ais_errf(errmsg, -errno,
				"cannot create a spool file in %s", dir);
	unlink(tmpl);
	return fd;
}

int xfer_put_stdin(struct ais_client *c, const char *bucket, const char *name,
		   struct progress *p, char *errmsg)
{
	struct stat st;
	const char *dir;
	uint64_t size = 0;
	char *buf;
	ssize_t n;
	int fd, rc;

	/* A regular file redirected from the start needs no spooling. */
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
	    lseek(STDIN_FILENO, 0, SEEK_CUR) == 0) {
		progress_add_total(p, 0, (uint64_t)st.st_size);
		progress_total_final(p);
		return put_seekable(c, bucket, name, STDIN_FILENO,
				    (uint64_t)st.st_size, 0, "stdin", p,
				    errmsg);
	}

	fd = spool_open(&dir, errmsg);
	if (fd < 0)
		return fd;
	buf = malloc(SPOOL_BUF);
	if (!buf) {
		rc = ais_errf(errmsg, -ENOMEM, "spool buffer");
		goto out_close;
	}
	for (;;) {
		if (cli_interrupted) {
			rc = -EINTR;
			goto out_free;
		}
		n = read(STDIN_FILENO, buf, SPOOL_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ais_errf(errmsg, -errno, "reading stdin");
			goto out_free;
		}
		if (n == 0)
			break;
		rc = ais_write_all(fd, buf, (size_t)n);
		if (rc < 0) {
			ais_errf(errmsg, rc, "spooling stdin to %s", dir);
			goto out_free;
		}
		size += (uint64_t)n;
	}
	free(buf);
	buf = NULL;
	progress_add_total(p, 0, size);
	progress_total_final(p);
	rc = put_seekable(c, bucket, name, fd, size, 0, "stdin spool", p,
			  errmsg);
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

/* ---- GET ---------------------------------------------------------------- */

struct get_dst {
	int fd;
	uint64_t written;
	struct progress *p;
	int werr; /* the local write failed with this */
};

static int get_write(void *arg, const void *buf, size_t len)
{
	struct get_dst *d = arg;
	int rc;

	if (cli_interrupted)
		return -EINTR;
	rc = ais_write_all(d->fd, buf, len);
	if (rc < 0) {
		d->werr = rc;
		return rc;
	}
	d->written += len;
	progress_add_bytes(d->p, (int64_t)len);
	return 0;
}

static const char *get_etl, *get_etl_args;

void xfer_set_etl(const char *etl, const char *args)
{
	get_etl = etl;
	get_etl_args = args;
}

/* GETs into d->fd; when the fd can be rewound, once more after a
 * connection error. */
static int get_into(struct ais_client *c, const char *bucket, const char *name,
		    const char *member, uint64_t off, uint64_t len,
		    struct get_dst *d, bool rewindable, const char *label,
		    struct ais_obj_meta *meta, char *errmsg)
{
	int rc, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		d->written = 0;
		if (get_etl)
			rc = ais_client_get_etl_cb(c, bucket, name, member,
						   get_etl, get_etl_args,
						   get_write, d, meta, errmsg);
		else if (member)
			rc = ais_client_member_get_cb(c, bucket, name, member,
						      off, len, get_write, d,
						      meta, errmsg);
		else
			rc = ais_client_get_cb(c, bucket, name, off, len,
					       get_write, d, meta, errmsg);
		if (rc == 0)
			return 0;
		if (d->werr)
			return ais_errf(errmsg, d->werr, "writing %s", label);
		if (cli_interrupted)
			return -EINTR;
		/* Once more would run a transform's program again. */
		if (!rewindable || get_etl || !retryable(rc))
			return rc;
		progress_add_bytes(d->p, -(int64_t)d->written);
		if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0)
			return rc;
	}
	return rc;
}

int xfer_mkdir_p(const char *dir, char *errmsg)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);
	struct stat st;
	char *s;

	if (len == 0)
		return 0;
	if (len >= sizeof(buf))
		return ais_errf(errmsg, -ENAMETOOLONG, "%s", dir);
	memcpy(buf, dir, len + 1);
	for (s = buf + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char save = *s;

		*s = '\0';
		if (mkdir(buf, 0777) < 0) {
			if (errno != EEXIST)
				return ais_errf(errmsg, -errno,
						"cannot create %s", buf);
			if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode))
				return ais_errf(
				    errmsg, -ENOTDIR,
				    "%s exists and is not a directory", buf);
		}
		*s = save;
		if (!save)
			break;
		while (s[1] == '/')
			s++;
		if (!s[1])
			break;
	}
	return 0;
}

/* An object that is a symbolic link (made through a mount: its mode says
 * so, its bytes are the target), fetched into tmp (fd): a link at path
 * instead (replacing what is there, a link too, as tar -x does), made
 * beside it and renamed over it. */
static int link_instead(int fd, const char *tmp, const char *path,
			uint64_t size, char *errmsg)
{
	char target[4096];
	ssize_t n;

	if (size >= sizeof(target))
		return ais_errf(errmsg, -ENAMETOOLONG,
				"%s: link target of %llu bytes", path,
				(unsigned long long)size);
	n = pread(fd, target, (size_t)size, 0);
	if (n != (ssize_t)size)
		return ais_errf(errmsg, n < 0 ? -errno : -EIO, "reading %s",
				tmp);
	target[n] = '\0';
	/* The link takes the temporary file's (unique, short) name. */
	if (unlink(tmp) < 0 || symlink(target, tmp) < 0)
		return ais_errf(errmsg, -errno, "cannot make a link at %s",
				tmp);
	if (rename(tmp, path) < 0)
		return ais_errf(errmsg, -errno, "cannot rename %s to %s", tmp,
				path);
	return 0;
}

static int get_path(struct ais_client *c, const char *bucket, const char *name,
		    const char *member, uint64_t off, uint64_t len,
		    const char *path, bool mkdirs, struct progress *p,
		    char *errmsg)
{
	const char *given = path;
	bool replace_link = false;
	char dir[PATH_MAX], tmp[PATH_MAX], real[PATH_MAX];
	struct get_dst d = {.p = p};
	struct ais_obj_meta meta;
	const char *base, *slash;
	struct stat st;
	size_t dirlen;
	int rc;

	pthread_once(&umask_once, read_umask);
	/* Write through a symlink like cp does, rather than replace it;
	 * unless the object is a link itself: that replaces the link. */
	if (!member && off == 0 && len == 0 && lstat(path, &st) == 0 &&
	    S_ISLNK(st.st_mode)) {
		char hm[AIS_ERRMSG_LEN];

		replace_link =
		    ais_client_head(c, bucket, name, &meta, hm) == 0 &&
		    S_ISLNK(meta.mode);
	}
	if (!replace_link && lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
	    realpath(path, real))
		path = real;
	if (!replace_link && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return ais_errf(errmsg, -EISDIR, "%s is a directory",
					path);
		d.fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		if (d.fd < 0)
			return ais_errf(errmsg, -errno, "cannot open %s", path);
		rc = get_into(c, bucket, name, member, off, len, &d, false,
			      path, &meta, errmsg);
		close(d.fd);
		return rc;
	}

	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	dirlen = slash ? (size_t)(slash - path) : 0;
	if (dirlen >= sizeof(dir))
		return ais_errf(errmsg, -ENAMETOOLONG, "%s", path);
	if (slash) {
		memcpy(dir, path, dirlen ? dirlen : 1);
		dir[dirlen ? dirlen : 1] = '\0'; /* "/x" -> "/" */
	} else {
		strcpy(dir, ".");
	}
	if (mkdirs) {
		rc = xfer_mkdir_p(dir, errmsg);
		if (rc < 0)
			return rc;
	}
	if (snprintf(tmp, sizeof(tmp), "%s/.%.*s.ais-XXXXXX", dir, TMP_BASE_MAX,
		     base) >= (int)sizeof(tmp))
		return ais_errf(errmsg, -ENAMETOOLONG, "%s", path);
	d.fd = mkostemp(tmp, O_CLOEXEC);
	if (d.fd < 0)
		return ais_errf(errmsg, -errno, "cannot create a file in %s",
				dir);
	rc = get_into(c, bucket, name, member, off, len, &d, true, path, &meta,
		      errmsg);
	if (rc < 0)
		goto err_unlink;
	if (!member && off == 0 && len == 0 && S_ISLNK(meta.mode)) {
		rc = link_instead(d.fd, tmp, given, meta.size, errmsg);
		goto err_unlink; /* the fetched bytes go either way */
	}
	if (fchmod(d.fd, (meta.mode ? (meta.mode & 0777) : 0666) & ~cur_umask) <
	    0) {
		rc = ais_errf(errmsg, -errno, "chmod %s", tmp);
		goto err_unlink;
	}
	if (close(d.fd) < 0) {
		d.fd = -1;
		rc = ais_errf(errmsg, -errno, "writing %s", path);
		goto err_unlink;
	}
	d.fd = -1;
	if (rename(tmp, path) < 0) {
		rc = ais_errf(errmsg, -errno, "cannot rename %s to %s", tmp,
			      path);
		goto err_unlink;
	}
	return 0;

err_unlink:
	if (d.fd >= 0)
		close(d.fd);
	unlink(tmp);
	return rc;
}

int xfer_get_stdout(struct ais_client *c, const char *bucket, const char *name,
		    uint64_t off, uint64_t len, struct progress *p,
		    char *errmsg)
{
	struct get_dst d = {.fd = STDOUT_FILENO, .p = p};

	return get_into(c, bucket, name, NULL, off, len, &d, false, "stdout",
			NULL, errmsg);
}

int xfer_get_path(struct ais_client *c, const char *bucket, const char *name,
		  uint64_t off, uint64_t len, const char *path, bool mkdirs,
		  struct progress *p, char *errmsg)
{
	return get_path(c, bucket, name, NULL, off, len, path, mkdirs, p,
			errmsg);
}

int xfer_member_get_path(struct ais_client *c, const char *bucket,
			 const char *shard, const char *member, uint64_t off,
			 uint64_t len, const char *path, struct progress *p,
			 char *errmsg)
{
	return get_path(c, bucket, shard, member, off, len, path, false, p,
			errmsg);
}

int xfer_member_get_stdout(struct ais_client *c, const char *bucket,
			   const char *shard, const char *member, uint64_t off,
			   uint64_t len, struct progress *p, char *errmsg)
{
	struct get_dst d = {.fd = STDOUT_FILENO, .p = p};

	return get_into(c, bucket, shard, member, off, len, &d, false, "stdout",
			NULL, errmsg);
}
