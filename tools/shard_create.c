/* ais shard create: samples, packing, parallel upload. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "hash.h"
#include "names.h"
#include "progress.h"
#include "shard_create.h"
#include "util.h"

#define WALK_FDS  64
#define COPY_BUF  (256 * 1024)
#define TAR_BLOCK 512

struct sfile {
	char *rel; /* path relative to the source directory */
	size_t keylen;
	uint64_t size;
	uint32_t mode;
	int64_t mtime;
};

struct sample {
	size_t first, n; /* files[first .. first+n) */
	uint64_t bytes;	 /* estimated archive bytes */
};

struct shard {
	size_t first, n; /* order[first .. first+n) are its samples */
	uint64_t files, in_bytes;
	uint64_t out_bytes; /* the uploaded object's size */
	int rc;
};

struct job {
	const struct shard_create_opts *o;
	struct ais_client *c;
	struct progress *p;
	struct sfile *files;
	size_t nfiles;
	struct sample *samples;
	size_t nsamples;
	size_t *order; /* sample indexes in shard order */
	struct shard *shards;
	size_t nshards;
	atomic_size_t next;
	atomic_int failed;
};

/* nftw() has no context argument. */
static struct walk_state {
	struct sfile *v;
	size_t n, cap;
	size_t rootlen;
	int err;
	uint64_t skipped;
} walk;

size_t shard_sample_key_len(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot;

	base = base ? base + 1 : path;
	if (!base[0])
		return strlen(path);
	dot = strchr(base + 1, '.');
	if (!dot)
		return strlen(path);
	return (size_t)(dot - path);
}

static int walk_cb(const char *path, const struct stat *sb, int type,
		   struct FTW *ftw)
{
	struct sfile *f;

	(void)ftw;
	if (cli_interrupted)
		return 1;
	if (type == FTW_D || type == FTW_DP)
		return 0;
	if (type == FTW_DNR || type == FTW_NS) {
		cli_warn("shard create: cannot read %s; skipped", path);
		walk.skipped++;
		return 0;
	}
	if (type != FTW_F || !S_ISREG(sb->st_mode)) {
		cli_warn("shard create: %s is not a regular file; skipped",
			 path);
		walk.skipped++;
		return 0;
	}
	if (walk.n == walk.cap) {
		size_t cap = walk.cap ? walk.cap * 2 : 1024;
		struct sfile *v = realloc(walk.v, cap * sizeof(*v));

		if (!v) {
			walk.err = -ENOMEM;
			return 1;
		}
		walk.v = v;
		walk.cap = cap;
	}
	f = &walk.v[walk.n];
	f->rel = strdup(path + walk.rootlen + 1);
	if (!f->rel) {
		walk.err = -ENOMEM;
		return 1;
	}
	f->keylen = shard_sample_key_len(f->rel);
	f->size = (uint64_t)sb->st_size;
	f->mode = sb->st_mode & 07777;
	f->mtime = sb->st_mtim.tv_sec;
	walk.n++;
	return 0;
}

/* By sample key, then by path: a sample's files end up adjacent. */
static int cmp_file(const void *a, const void *b)
{
	const struct sfile *x = a, *y = b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = memcmp(x->rel, y->rel, n);

	if (c)
		return c;
	if (x->keylen != y->keylen)
		return x->keylen < y->keylen ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

static bool same_key(const struct sfile *a, const struct sfile *b)
{
	return a->keylen == b->keylen && !memcmp(a->rel, b->rel, a->keylen);
}

/* The bytes a member costs in the archive, roughly: a tar header (two with
 * a pax header for long names) and the data padded to 512; for zip the
 * local and central headers. Compressed formats count as uncompressed. */
static uint64_t member_cost(const struct sfile *f, enum ais_shard_format fmt)
{
	size_t pl = strlen(f->rel);

	if (fmt == AIS_SHARD_ZIP)
		return 30 + 46 + 2 * pl + f->size + 16;
	return TAR_BLOCK * (pl > 99 ? 3 : 1) +
	       (f->size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
}

static int arch_err(struct archive *a, char *errmsg, const char *what)
{
	int e = archive_errno(a);

	return ais_errf(errmsg, e > 0 ? -e : -EIO, "%s: %s", what,
			archive_error_string(a) ? archive_error_string(a)
						: "libarchive error");
}

int shard_archive_open(int fd, enum ais_shard_format fmt, struct archive **out,
		       char *errmsg)
{
	struct archive *a = archive_write_new();
	int rc;

	*out = NULL;
	if (!a)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	if (fmt == AIS_SHARD_ZIP) {
		rc = archive_write_set_format_zip(a);
	} else {
		rc = archive_write_set_format_pax_restricted(a);
		if (rc == ARCHIVE_OK && fmt == AIS_SHARD_TGZ)
			rc = archive_write_add_filter_gzip(a);
		if (rc == ARCHIVE_OK && fmt == AIS_SHARD_TLZ4)
			rc = archive_write_add_filter_lz4(a);
	}
	if (rc == ARCHIVE_OK)
		rc = archive_write_set_bytes_in_last_block(a, 1);
	if (rc == ARCHIVE_OK)
		rc = archive_write_open_fd(a, fd);
	if (rc != ARCHIVE_OK) {
		rc = arch_err(a, errmsg, "archive");
		archive_write_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

int shard_archive_add_file(struct archive *a, struct archive_entry *e, int in,
			   const char *path, const char *member, uint64_t size,
			   uint32_t mode, int64_t mtime, uint8_t *buf,
			   size_t bufsize, char *errmsg)
{
	uint64_t left = size;

	archive_entry_clear(e);
	archive_entry_set_pathname_utf8(e, member);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, mtime, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		return arch_err(a, errmsg, member);
	while (left > 0) {
		size_t want = left < bufsize ? (size_t)left : bufsize;
		ssize_t n = read(in, buf, want);

		if (n <= 0)
			return ais_errf(errmsg, n < 0 ? -errno : -EIO, "%s: %s",
					path,
					n < 0 ? strerror(errno)
					      : "file shrank while packing");
		if (archive_write_data(a, buf, (size_t)n) != n)
			return arch_err(a, errmsg, member);
		left -= (uint64_t)n;
	}
	return 0;
}

/* Writes shard s into the (empty) file fd. */
static int write_shard(struct job *j, const struct shard *s, int fd,
		       uint8_t *buf, char *errmsg)
{
	struct archive *a = NULL;
	struct archive_entry *e = archive_entry_new();
	char path[PATH_MAX];
	size_t i, k;
	int rc = 0, in;

	if (!e) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	rc = shard_archive_open(fd, j->o->format, &a, errmsg);
	if (rc)
		goto out;
	for (i = s->first; i < s->first + s->n; i++) {
		const struct sample *sm = &j->samples[j->order[i]];

		for (k = sm->first; k < sm->first + sm->n; k++) {
			const struct sfile *f = &j->files[k];

			snprintf(path, sizeof(path), "%s/%s", j->o->src,
				 f->rel);
			in = open(path, O_RDONLY | O_CLOEXEC);
			if (in < 0) {
				rc = ais_errf(errmsg, -errno, "cannot open %s",
					      path);
				goto out;
			}
			rc = shard_archive_add_file(a, e, in, path, f->rel,
						    f->size, f->mode, f->mtime,
						    buf, COPY_BUF, errmsg);
			close(in);
			if (rc)
				goto out;
			if (cli_interrupted) {
				rc = -EINTR;
				goto out;
			}
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = arch_err(a, errmsg, "closing the archive");
out:
	if (e)
		archive_entry_free(e);
	if (a)
		archive_write_free(a);
	return rc;
}

static int spool_dir(const char **dir)
{
	const char *t = getenv("TMPDIR");

	*dir = t && t[0] ? t : "/tmp";
	return 0;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	char errmsg[AIS_ERRMSG_LEN], tmp[PATH_MAX], name[AIS_NAME_MAX + 64];
	uint8_t *buf = malloc(COPY_BUF);
	const char *dir;
	size_t i;

	spool_dir(&dir);
	while ((i = atomic_fetch_add(&j->next, 1)) < j->nshards) {
		struct shard *s = &j->shards[i];
		struct ais_put_opts po = {0};
		struct stat st;
		int fd, rc;

		if (cli_interrupted || !buf) {
			s->rc = buf ? -EINTR : -ENOMEM;
			continue;
		}
		errmsg[0] = 0;
		snprintf(name, sizeof(name), "%s%s%06zu.%s", j->o->prefix,
			 j->o->prefix[strlen(j->o->prefix) - 1] == '/' ? ""
								       : "-",
			 i, ais_shard_format_str(j->o->format));
		snprintf(tmp, sizeof(tmp), "%s/ais-shard-XXXXXX", dir);
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0) {
			rc = ais_errf(errmsg, -errno,
				      "cannot create a file in %s", dir);
			goto done;
		}
		unlink(tmp);
		rc = write_shard(j, s, fd, buf, errmsg);
		if (rc == 0 && fstat(fd, &st) < 0)
			rc = ais_errf(errmsg, -errno, "stat %s", tmp);
		if (rc == 0) {
			s->out_bytes = (uint64_t)st.st_size;
			po.mode = 0644;
			rc = ais_client_put_fd(j->c, j->o->bucket, name, fd,
					       s->out_bytes, &po, NULL, errmsg);
		}
		close(fd);
	done:
		s->rc = rc;
		if (rc) {
			atomic_fetch_add(&j->failed, 1);
			progress_out_lock();
			fprintf(stderr, "ais: shard create: ais://%s/%s: %s\n",
				j->o->bucket, name,
				errmsg[0] ? errmsg : strerror(-rc));
			progress_out_unlock();
		}
		progress_add_bytes(j->p, (int64_t)s->in_bytes);
		progress_file_done(j->p, rc == 0);
	}
	free(buf);
	return NULL;
}

/* Splits the samples, in order, into shards of at most o->size estimated
 * bytes (a sample bigger than that gets a shard of its own). */
static int plan_shards(struct job *j)
{
	size_t i, cap = 16;
	struct shard *s;

	j->shards = calloc(cap, sizeof(*j->shards));
	if (!j->shards)
		return -ENOMEM;
	j->nshards = 0;
	for (i = 0; i < j->nsamples; i++) {
		const struct sample *sm = &j->samples[j->order[i]];

		s = j->nshards ? &j->shards[j->nshards - 1] : NULL;
		if (!s ||
		    (s->n > 0 &&
		     s->out_bytes + sm->bytes + 2 * TAR_BLOCK > j->o->size)) {
			if (j->nshards == cap) {
				struct shard *v =
				    realloc(j->shards, 2 * cap * sizeof(*v));

				if (!v)
					return -ENOMEM;
				j->shards = v;
				cap *= 2;
			}
			s = &j->shards[j->nshards++];
			memset(s, 0, sizeof(*s));
			s->first = i;
		}
		s->n++;
		s->files += sm->n;
		s->out_bytes += sm->bytes; /* the estimate, for now */
		s->in_bytes += j->files[sm->first].size;
		for (size_t k = sm->first + 1; k < sm->first + sm->n; k++)
			s->in_bytes += j->files[k].size;
	}
	for (i = 0; i < j->nshards; i++)
		j->shards[i].out_bytes = 0;
	return 0;
}

int shard_create_run(const struct shard_create_opts *o)
{
	struct job j = {.o = o};
	pthread_t th[64];
	unsigned nth = 0, t;
	uint64_t in_total = 0, out_total = 0, mn = UINT64_MAX, mx = 0;
	uint64_t t0 = ais_now_mono_ns();
	char errmsg[AIS_ERRMSG_LEN] = "", b1[32], b2[32], b3[32], b4[32];
	size_t i, k, rootlen = strlen(o->src);
	struct stat st;
	int rc = CLI_OK;

	if (stat(o->src, &st) < 0)
		return cli_fail(-errno, NULL, "shard create %s", o->src);
	if (!S_ISDIR(st.st_mode))
		return cli_fail(-ENOTDIR, NULL, "shard create %s", o->src);
	if (!o->prefix[0])
		return cli_usage("shard create",
				 "ais://%s/PREFIX: the shards need a name "
				 "prefix",
				 o->bucket);
	if (snprintf(errmsg, sizeof(errmsg), "%s-000000.%s", o->prefix,
		     ais_shard_format_str(o->format)) >= (int)sizeof(errmsg) ||
	    ais_name_check_object(errmsg, strlen(errmsg), NULL) < 0)
		return cli_usage("shard create", "invalid prefix '%s'",
				 o->prefix);
	errmsg[0] = 0;
	while (rootlen > 1 && o->src[rootlen - 1] == '/')
		rootlen--;

	/* 1. The files, grouped into samples. */
	memset(&walk, 0, sizeof(walk));
	walk.rootlen = rootlen;
	if (nftw(o->src, walk_cb, WALK_FDS, FTW_PHYS) < 0) {
		rc = cli_fail(-errno, NULL, "shard create: walking %s", o->src);
		goto out;
	}
	if (walk.err || cli_interrupted) {
		rc = cli_fail(walk.err ? walk.err : -EINTR, NULL,
			      "shard create: walking %s", o->src);
		goto out;
	}
	j.files = walk.v;
	j.nfiles = walk.n;
	if (j.nfiles == 0) {
		rc = cli_failf("shard create: no files under %s", o->src);
		goto out;
	}
	qsort(j.files, j.nfiles, sizeof(*j.files), cmp_file);
	j.samples = calloc(j.nfiles, sizeof(*j.samples));
	j.order = calloc(j.nfiles, sizeof(*j.order));
	if (!j.samples || !j.order) {
		rc = cli_fail(-ENOMEM, NULL, "shard create");
		goto out;
	}
	for (i = 0; i < j.nfiles; i++) {
		struct sample *sm;

		if (i == 0 || !same_key(&j.files[i - 1], &j.files[i])) {
			sm = &j.samples[j.nsamples];
			sm->first = i;
			j.order[j.nsamples] = j.nsamples;
			j.nsamples++;
		}
		sm = &j.samples[j.nsamples - 1];
		sm->n++;
		sm->bytes += member_cost(&j.files[i], o->format);
		in_total += j.files[i].size;
	}

	/* 2. Their order, then the shards. */
	if (o->shuffle) {
		uint64_t s = o->seed;

		/* The splitmix64 sequence from the seed (its step is the
		 * golden ratio), as since the first release: a seed gives
		 * the same shards in every version. */
		for (i = j.nsamples - 1; i > 0; i--) {
			size_t r = (size_t)(ais_mix64(s) % (i + 1));

			s += 0x9e3779b97f4a7c15ull;

			k = j.order[i];
			j.order[i] = j.order[r];
			j.order[r] = k;
		}
	}
	if (plan_shards(&j) < 0) {
		rc = cli_fail(-ENOMEM, NULL, "shard create");
		goto out;
	}

	/* 3. Pack and upload. */
	j.c = cli_client("shard create");
	if (!j.c) {
		rc = CLI_FAIL;
		goto out;
	}
	j.p = progress_new("shard create", !o->quiet);
	progress_add_total(j.p, j.nshards, in_total);
	progress_total_final(j.p);
	for (t = 0; t < o->jobs && t < j.nshards && t < 64; t++) {
		if (pthread_create(&th[t], NULL, worker, &j) != 0)
			break;
		nth++;
	}
	if (nth == 0)
		worker(&j);
	for (t = 0; t < nth; t++)
		pthread_join(th[t], NULL);
	progress_stop(j.p);
	progress_free(j.p);
	ais_client_free(j.c);

	for (i = 0; i < j.nshards; i++) {
		uint64_t b = j.shards[i].out_bytes;

		if (j.shards[i].rc)
			continue;
		out_total += b;
		if (b < mn)
			mn = b;
		if (b > mx)
			mx = b;
	}
	if (cli_interrupted) {
		rc = CLI_INTERRUPTED;
		goto out;
	}
	if (j.failed) {
		rc = cli_failf("shard create: %d of %zu shards failed",
			       (int)j.failed, j.nshards);
		goto out;
	}
	if (!o->quiet)
		printf("shard create: %zu samples (%zu files, %s) in %zu %s "
		       "shards ais://%s/%s-*, %s in total (smallest %s, "
		       "largest %s), %.1f s\n",
		       j.nsamples, j.nfiles,
		       ais_format_size(in_total, b1, sizeof(b1)), j.nshards,
		       ais_shard_format_str(o->format), o->bucket, o->prefix,
		       ais_format_size(out_total, b2, sizeof(b2)),
		       ais_format_size(mn, b3, sizeof(b3)),
		       ais_format_size(mx, b4, sizeof(b4)),
		       (double)(ais_now_mono_ns() - t0) / 1e9);
out:
	for (i = 0; i < walk.n; i++)
		free(walk.v[i].rel);
	free(walk.v);
	memset(&walk, 0, sizeof(walk));
	free(j.samples);
	free(j.order);
	free(j.shards);
	return rc;
}
