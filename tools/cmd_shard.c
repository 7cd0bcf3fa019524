/* ais shard ls | create | append: list a shard's members, pack a directory
 * into shards (WebDataset convention: the files of one sample stay
 * together), add members to a .tar shard in place. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "shard_create.h"
#include "shard_names.h"
#include "fileio.h"
#include "util.h"

#define LS_PAGE	     1000
#define COPY_BUF_CLI (256 * 1024)

static const char shard_help[] =
    "Usage: ais shard COMMAND [OPTIONS] ...\n"
    "\n"
    "Shards are objects named .tar, .tar.gz, .tgz, .tar.lz4 or .zip; the\n"
    "node that holds one indexes its members when it is written.\n"
    "\n"
    "Commands:\n"
    "  ls ais://BUCKET/SHARD             list the members of a shard\n"
    "  create DIR ais://BUCKET/PREFIX    pack a directory into shards\n"
    "  append ais://BUCKET/SHARD FILE... add members to a .tar shard\n"
    "\n"
    "Run 'ais shard COMMAND --help' for a command's options.\n"
    "\n"
    "Examples:\n"
    "  ais shard ls --long ais://train/s-000000.tar\n"
    "  ais shard create ./dataset ais://train/s --size 256MiB\n"
    "  ais shard append ais://train/s-000000.tar extra/ --as more\n"
    "  ais get ais://train/s-000000.tar --member a/img_0001.jpg x.jpg\n";

static const char ls_help[] =
    "Usage: ais shard ls [OPTIONS] ais://BUCKET/SHARD\n"
    "\n"
    "Lists every member of the shard in path order, one per line (no\n"
    "trailing '/' on directories). If the archive is truncated or malformed,\n"
    "the members before the break are listed, the reason and the offset go\n"
    "to stderr, and the exit status is 1.\n"
    "\n"
    "Options:\n"
    "  -l, --long  type (- file, d directory, l symlink, h hard link,\n"
    "              o other), size, mode, mtime, path (-> link target)\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais shard ls --long ais://train/s-000000.tar\n";

static const char create_help[] =
    "Usage: ais shard create [OPTIONS] DIR ais://BUCKET/PREFIX\n"
    "\n"
    "Packs the regular files under DIR into shards named PREFIX-000000.tar,\n"
    "PREFIX-000001.tar, ... of about --size each, with member paths relative\n"
    "to DIR. The files of one sample (the same path without its extensions:\n"
    "a/img_0001.jpg and a/img_0001.cls) always go into one shard. Samples\n"
    "are ordered by that key, or shuffled with --shuffle (deterministic for\n"
    "a given --seed). Shards are built in temporary files and uploaded in\n"
    "parallel.\n"
    "\n"
    "Options:\n"
    "  -s, --size SIZE      target shard size (default 256MiB)\n"
    "  -f, --format FMT     tar (default), tar.gz, tar.lz4 or zip\n"
    "      --shuffle        shuffle the samples\n"
    "      --seed N         the shuffle's seed (default 0)\n"
    "  -j, --jobs N         shards built and uploaded at once (default 4)\n"
    "  -q, --quiet          no progress line and no summary\n"
    "  -h, --help           show this help\n"
    "\n"
    "Example:\n"
    "  ais shard create ./imagenet/train ais://train/in --size 1GiB "
    "--shuffle --seed 7\n";

static char type_char(uint32_t t)
{
	switch (t) {
	case AIS_SHARD_FILE:
		return '-';
	case AIS_SHARD_DIR:
		return 'd';
	case AIS_SHARD_SYMLINK:
		return 'l';
	case AIS_SHARD_HARDLINK:
		return 'h';
	default:
		return 'o';
	}
}

static int shard_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"long", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN] = "";
	char *token = NULL, *serr = NULL;
	const char *name;
	struct ais_client *c;
	bool lng = false;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":lh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			lng = true;
			break;
		case 'h':
			fputs(ls_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("shard ls", argv, ch);
		}
	}
	if (argc - optind != 1)
		return cli_usage("shard ls", "expected one ais://BUCKET/SHARD");
	rc = cli_parse_uri("shard ls", argv[optind], true, bucket, &name);
	if (rc)
		return rc;
	if (ais_shard_format_from_name(name) == AIS_SHARD_NONE)
		return cli_usage("shard ls",
				 "%s is not a shard (.tar, .tar.gz, .tgz, "
				 ".tar.lz4 or .zip)",
				 argv[optind]);
	c = cli_client("shard ls");
	if (!c)
		return CLI_FAIL;
	do {
		struct ais_list_page pg;
		char *e = NULL;
		size_t i;

		rc = ais_client_shard_list(c, bucket, name, "", true, token,
					   LS_PAGE, &pg, &e, errmsg);
		free(token);
		token = NULL;
		if (rc < 0) {
			rc = cli_fail(rc, errmsg, "shard ls ais://%s/%s",
				      bucket, name);
			goto out;
		}
		if (e) {
			free(serr);
			serr = e;
		}
		for (i = 0; i < pg.n; i++) {
			const struct ais_list_entry *en = &pg.entries[i];
			char tbuf[32];

			if (!lng) {
				printf("%s\n", en->name);
				continue;
			}
			printf("%c %12llu %04o %s %s%s%s\n",
			       type_char(en->member_type),
			       (unsigned long long)en->meta.size,
			       en->meta.mode & 07777,
			       cli_format_time(en->meta.mtime_ns, tbuf,
					       sizeof(tbuf)),
			       en->name,
			       en->link_target && en->link_target[0] ? " -> "
								     : "",
			       en->link_target ? en->link_target : "");
		}
		if (pg.next_token)
			token = strdup(pg.next_token);
		ais_list_page_free(&pg);
		if (cli_interrupted) {
			rc = CLI_INTERRUPTED;
			goto out;
		}
	} while (token);
	rc = CLI_OK;
	if (fflush(stdout) != 0)
		rc = cli_fail(-errno, NULL, "writing stdout");
	if (serr) {
		cli_warn("ais://%s/%s: %s", bucket, name, serr);
		rc = CLI_FAIL;
	}
out:
	free(token);
	free(serr);
	ais_client_free(c);
	return rc;
}

enum { OPT_SHUFFLE = 0x100, OPT_SEED };

static int shard_create(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"format", required_argument, NULL, 'f'},
	    {"shuffle", no_argument, NULL, OPT_SHUFFLE},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"jobs", required_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct shard_create_opts o = {
	    .size = 256u << 20,
	    .format = AIS_SHARD_TAR,
	    .jobs = 4,
	};
	char bucket[AIS_BUCKET_MAX + 1];
	const char *prefix;
	char *end;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:f:j:qh", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 's':
			rc = cli_parse_size_opt("shard create", "--size",
						optarg, &o.size);
			if (rc)
				return rc;
			if (o.size == 0)
				return cli_usage("shard create",
						 "--size must be > 0");
			break;
		case 'f':
			if (!strcmp(optarg, "tar"))
				o.format = AIS_SHARD_TAR;
			else if (!strcmp(optarg, "tar.gz") ||
				 !strcmp(optarg, "tgz"))
				o.format = AIS_SHARD_TGZ;
			else if (!strcmp(optarg, "tar.lz4"))
				o.format = AIS_SHARD_TLZ4;
			else if (!strcmp(optarg, "zip"))
				o.format = AIS_SHARD_ZIP;
			else
				return cli_usage("shard create",
						 "unknown --format '%s' (tar, "
						 "tar.gz, tar.lz4 or zip)",
						 optarg);
			break;
		case OPT_SHUFFLE:
			o.shuffle = true;
			break;
		case OPT_SEED:
			errno = 0;
			o.seed = strtoull(optarg, &end, 0);
			if (errno || !optarg[0] || *end || optarg[0] == '-')
				return cli_usage("shard create",
						 "--seed needs a number, not "
						 "'%s'",
						 optarg);
			o.have_seed = true;
			break;
		case 'j':
			rc = cli_parse_uint_opt("shard create", "--jobs",
						optarg, 1, 64, &o.jobs);
			if (rc)
				return rc;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			fputs(create_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("shard create", argv, ch);
		}
	}
	if (argc - optind != 2)
		return cli_usage(
		    "shard create",
		    "expected a directory and ais://BUCKET/PREFIX");
	if (o.have_seed && !o.shuffle)
		return cli_usage("shard create", "--seed needs --shuffle");
	rc = cli_parse_uri("shard create", argv[optind + 1], true, bucket,
			   &prefix);
	if (rc)
		return rc;
	o.src = argv[optind];
	o.bucket = bucket;
	o.prefix = prefix;
	return shard_create_run(&o);
}

static const char append_help[] =
    "Usage: ais shard append [OPTIONS] ais://BUCKET/SHARD FILE...\n"
    "\n"
    "Adds members to an existing uncompressed .tar shard in place, on the\n"
    "node that holds it: the shard is not rewritten, its old members keep\n"
    "their bytes and offsets, its index is updated and its version goes up\n"
    "by one. Each FILE becomes a member named as given (a leading '/' and\n"
    "'./' are dropped; '..' is refused); a directory adds the regular files\n"
    "under it. A member path the shard already has is refused unless\n"
    "--force. A crash of the node in the middle leaves the shard as it was.\n"
    "\n"
    "Options:\n"
    "      --as PATH  member path of the single FILE (for a directory: the\n"
    "                 directory its files go under); FILE '-' reads stdin\n"
    "                 and needs --as\n"
    "  -f, --force    append members whose path the shard already has (the\n"
    "                 last copy wins, as with tar -x)\n"
    "  -q, --quiet    no summary line\n"
    "  -h, --help     show this help\n"
    "\n"
    "Examples:\n"
    "  ais shard append ais://train/s-000000.tar a/img_9999.jpg "
    "a/img_9999.cls\n"
    "  ais shard append ais://train/s-000000.tar labels.json --as meta/l.json\n"
    "  curl -s URL | ais shard append ais://b/x.tar - --as data/blob.bin\n";

/* One file to append. */
struct afile {
	char *src;    /* local path ("-": the spooled stdin) */
	char *member; /* member path, normalised */
	uint64_t size;
	uint32_t mode;
	int64_t mtime;
	int fd; /* stdin's spool, else -1 */
};

/* nftw() has no context argument. */
static struct append_walk {
	struct afile *v;
	size_t n, cap;
	const char *base; /* member prefix of the directory being walked */
	size_t rootlen;
	int err;
} aw;

static int afile_add(const char *src, const char *member, const struct stat *st,
		     int fd)
{
	struct afile *f;

	if (aw.n == aw.cap) {
		size_t cap = aw.cap ? aw.cap * 2 : 64;
		struct afile *v = realloc(aw.v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		aw.v = v;
		aw.cap = cap;
	}
	f = &aw.v[aw.n];
	f->src = strdup(src);
	f->member = strdup(member);
	if (!f->src || !f->member) {
		free(f->src);
		free(f->member);
		return -ENOMEM;
	}
	f->size = (uint64_t)st->st_size;
	f->mode = st->st_mode & 07777;
	f->mtime = st->st_mtim.tv_sec;
	f->fd = fd;
	aw.n++;
	return 0;
}

/* Normalises a member path into out (PATH_MAX): no leading '/' or './',
 * no '//'; -EINVAL for a '..' component, -ENAMETOOLONG. */
static int member_path(const char *p, char *out)
{
	const char *c;
	int n = ais_shard_path_normalize(p, strlen(p), out, PATH_MAX);

	if (n < 0)
		return n;
	for (c = out; c; c = strchr(c, '/')) {
		c += *c == '/';
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || !c[2]))
			return -EINVAL;
	}
	return 0;
}

static int append_walk_cb(const char *path, const struct stat *sb, int type,
			  struct FTW *ftw)
{
	char member[2 * PATH_MAX];

	(void)ftw;
	if (cli_interrupted)
		return 1;
	if (type == FTW_D || type == FTW_DP)
		return 0;
	if (type != FTW_F || !S_ISREG(sb->st_mode)) {
		cli_warn("shard append: %s is not a readable regular file; "
			 "skipped",
			 path);
		return 0;
	}
	snprintf(member, sizeof(member), "%s%s%s", aw.base,
		 aw.base[0] ? "/" : "", path + aw.rootlen + 1);
	if (strlen(member) >= PATH_MAX) {
		aw.err = -ENAMETOOLONG;
		return 1;
	}
	aw.err = afile_add(path, member, sb, -1);
	return aw.err ? 1 : 0;
}

/* Copies stdin into an unlinked temp file: its size must be known before
 * the tar header is written. */
static int spool_stdin(int *fdp, struct stat *st)
{
	const char *t = getenv("TMPDIR");
	char tmp[PATH_MAX];
	uint8_t *buf = malloc(COPY_BUF_CLI);
	ssize_t n;
	int fd, rc = 0;

	if (!buf)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s/ais-append-XXXXXX",
		 t && t[0] ? t : "/tmp");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	unlink(tmp);
	while ((n = read(STDIN_FILENO, buf, COPY_BUF_CLI)) != 0) {
		if (n < 0 && errno == EINTR && !cli_interrupted)
			continue;
		if (n < 0) {
			rc = cli_interrupted ? -EINTR : -errno;
			break;
		}
		rc = ais_write_all(fd, buf, (size_t)n);
		if (rc)
			break;
	}
	free(buf);
	if (!rc && (fstat(fd, st) < 0 || lseek(fd, 0, SEEK_SET) < 0))
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	st->st_mode = S_IFREG | 0644;
	*fdp = fd;
	return 0;
}

/* Collects the members for one FILE argument (as: its --as, or NULL). */
static int collect(const char *arg, const char *as)
{
	char member[PATH_MAX];
	struct stat st;
	int rc, fd = -1;

	rc = member_path(as ? as : arg, member);
	if (rc == -EINVAL)
		return cli_usage("shard append",
				 "'%s': a member path cannot contain '..' "
				 "(name it with --as)",
				 as ? as : arg);
	if (rc)
		return cli_usage("shard append", "'%s': path too long",
				 as ? as : arg);
	if (!strcmp(arg, "-")) {
		rc = spool_stdin(&fd, &st);
		if (rc)
			return cli_fail(rc, NULL,
					"shard append: reading stdin");
		if (!member[0])
			return cli_usage("shard append",
					 "--as needs a member path");
		rc = afile_add("-", member, &st, fd);
		if (rc)
			close(fd);
		return rc ? cli_fail(rc, NULL, "shard append") : CLI_OK;
	}
	if (stat(arg, &st) < 0)
		return cli_fail(-errno, NULL, "shard append %s", arg);
	if (S_ISDIR(st.st_mode)) {
		size_t len = strlen(arg);

		while (len > 1 && arg[len - 1] == '/')
			len--;
		aw.base = member;
		aw.rootlen = len;
		aw.err = 0;
		if (nftw(arg, append_walk_cb, 64, FTW_PHYS) < 0)
			return cli_fail(-errno, NULL,
					"shard append: walking %s", arg);
		if (aw.err || cli_interrupted)
			return cli_fail(aw.err ? aw.err : -EINTR, NULL,
					"shard append: walking %s", arg);
		return CLI_OK;
	}
	if (!S_ISREG(st.st_mode))
		return cli_failf("shard append: %s is not a regular file or a "
				 "directory",
				 arg);
	if (!member[0])
		return cli_usage("shard append",
				 "'%s' is no member path (use "
				 "--as)",
				 arg);
	rc = afile_add(arg, member, &st, -1);
	return rc ? cli_fail(rc, NULL, "shard append") : CLI_OK;
}

/* Packs the collected files into the temp file fd as a tar stream. */
static int pack(int fd, char *errmsg)
{
	struct archive *a = NULL;
	struct archive_entry *e = archive_entry_new();
	uint8_t *buf = malloc(COPY_BUF_CLI);
	size_t i;
	int rc, in;

	if (!e || !buf) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	rc = shard_archive_open(fd, AIS_SHARD_TAR, &a, errmsg);
	if (rc)
		goto out;
	for (i = 0; i < aw.n && !rc; i++) {
		struct afile *f = &aw.v[i];

		if (f->fd >= 0) {
			in = f->fd;
		} else {
			in = open(f->src, O_RDONLY | O_CLOEXEC);
			if (in < 0) {
				rc = ais_errf(errmsg, -errno, "cannot open %s",
					      f->src);
				break;
			}
		}
		rc = shard_archive_add_file(
		    a, e, in, f->fd >= 0 ? "stdin" : f->src, f->member, f->size,
		    f->mode, f->mtime, buf, COPY_BUF_CLI, errmsg);
		if (f->fd < 0)
			close(in);
		if (!rc && cli_interrupted)
			rc = -EINTR;
	}
	if (!rc && archive_write_close(a) != ARCHIVE_OK)
		rc = ais_errf(errmsg, -EIO, "closing the archive: %s",
			      archive_error_string(a) ? archive_error_string(a)
						      : "libarchive error");
out:
	if (a)
		archive_write_free(a);
	if (e)
		archive_entry_free(e);
	free(buf);
	return rc;
}

static int cmp_afile(const void *a, const void *b)
{
	return strcmp(((const struct afile *)a)->member,
		      ((const struct afile *)b)->member);
}

/* "1,027" */
static char *format_count(uint64_t n, char *buf, size_t len)
{
	char tmp[32];
	size_t i, k, dl;

	dl = (size_t)snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
	for (i = 0, k = 0; i < dl && k + 2 < len; i++) {
		if (i && (dl - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = tmp[i];
	}
	buf[k] = 0;
	return buf;
}

enum { OPT_AS = 0x200 };

static int shard_append(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"as", required_argument, NULL, OPT_AS},
	    {"force", no_argument, NULL, 'f'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN] = "";
	char tmp[PATH_MAX], b1[32], b2[32], b3[32];
	struct ais_shard_append_result res;
	enum ais_shard_format fmt;
	struct ais_client *c = NULL;
	const char *name, *as = NULL, *t;
	bool force = false, quiet = false;
	struct stat st;
	int ch, rc, fd = -1, i;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":fqh", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_AS:
			as = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(append_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("shard append", argv, ch);
		}
	}
	if (argc - optind < 2)
		return cli_usage("shard append",
				 "expected ais://BUCKET/SHARD and FILE...");
	if (as && argc - optind > 2)
		return cli_usage("shard append", "--as names one FILE, not %d",
				 argc - optind - 1);
	rc = cli_parse_uri("shard append", argv[optind], true, bucket, &name);
	if (rc)
		return rc;
	fmt = ais_shard_format_from_name(name);
	if (fmt != AIS_SHARD_TAR)
		return cli_failf(
		    "shard append %s: append works on uncompressed "
		    ".tar shards; %s is %s",
		    argv[optind], name,
		    fmt == AIS_SHARD_NONE ? "not a shard"
					  : ais_shard_format_str(fmt));
	for (i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "-") && !as) {
			rc = cli_usage("shard append",
				       "FILE '-' (stdin) needs --as PATH");
			goto out;
		}
		rc = collect(argv[i], as);
		if (rc)
			goto out;
	}
	if (aw.n == 0) {
		rc = cli_failf("shard append: no files to append");
		goto out;
	}
	qsort(aw.v, aw.n, sizeof(*aw.v), cmp_afile);

	/* The tar stream, in a temp file: the node needs its size first. */
	t = getenv("TMPDIR");
	snprintf(tmp, sizeof(tmp), "%s/ais-append-XXXXXX",
		 t && t[0] ? t : "/tmp");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = cli_fail(-errno, NULL, "shard append: temp file in %s",
			      t && t[0] ? t : "/tmp");
		goto out;
	}
	unlink(tmp);
	rc = pack(fd, errmsg);
	if (!rc && fstat(fd, &st) < 0)
		rc = -errno;
	if (rc) {
		rc = cli_fail(rc, errmsg, "shard append: packing");
		goto out;
	}
	c = cli_client("shard append");
	if (!c) {
		rc = CLI_FAIL;
		goto out;
	}
	rc = ais_client_shard_append_fd(
	    c, bucket, name, fd, (uint64_t)st.st_size, force, &res, errmsg);
	if (rc) {
		rc = cli_fail(rc, errmsg, "shard append ais://%s/%s", bucket,
			      name);
		goto out;
	}
	if (!quiet) {
		if (res.members)
			printf("appended %s member%s to ais://%s/%s (now %s "
			       "members, %s, version %llu)\n",
			       format_count(res.appended, b1, sizeof(b1)),
			       res.appended == 1 ? "" : "s", bucket, name,
			       format_count(res.members, b2, sizeof(b2)),
			       ais_format_size(res.meta.size, b3, sizeof(b3)),
			       (unsigned long long)res.meta.version);
		else
			printf("appended %s member%s to ais://%s/%s (now %s, "
			       "version %llu)\n",
			       format_count(res.appended, b1, sizeof(b1)),
			       res.appended == 1 ? "" : "s", bucket, name,
			       ais_format_size(res.meta.size, b3, sizeof(b3)),
			       (unsigned long long)res.meta.version);
	}
	rc = CLI_OK;
out:
	if (fd >= 0)
		close(fd);
	ais_client_free(c);
	for (size_t k = 0; k < aw.n; k++) {
		free(aw.v[k].src);
		free(aw.v[k].member);
		if (aw.v[k].fd >= 0)
			close(aw.v[k].fd);
	}
	free(aw.v);
	memset(&aw, 0, sizeof(aw));
	return rc;
}

int cmd_shard(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"ls", shard_ls, "list the members of a shard"},
	    {"create", shard_create, "pack a directory into shards"},
	    {"append", shard_append, "add members to a .tar shard in place"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("shard", shard_help, cmds, argc, argv);
}
