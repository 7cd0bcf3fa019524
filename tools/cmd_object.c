/* The object commands: ais put, get, stat, rm, mv. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cksum.h"
#include "progress.h"
#include "recursive.h"
#include "transfer.h"
#include "util.h"

#define JOBS_DEFAULT 32
#define JOBS_MAX     256

static const char put_help[] =
    "Usage: ais put [OPTIONS] FILE ais://BUCKET/NAME\n"
    "       ais put [OPTIONS] - ais://BUCKET/NAME\n"
    "       ais put -r [OPTIONS] DIR ais://BUCKET[/PREFIX]\n"
    "\n"
    "Uploads a file, or stdin ('-'), as one object. When NAME is missing or\n"
    "ends in '/', the file's base name is appended. With -r, uploads every\n"
    "regular file under DIR as PREFIX/relative/path in parallel (symlinks to\n"
    "files are followed, other special files skipped).\n"
    "\n"
    "In a bucket with copies, a PUT succeeds once every copy is durable or,\n"
    "when a copy's node is down or full, once the others are; the command\n"
    "then says how many objects are short of copies (the nodes make them\n"
    "later; `ais bucket summary` counts them).\n"
    "\n"
    "Options:\n"
    "  -r, --recursive  upload the directory tree DIR\n"
    "  -j, --jobs N     parallel uploads with -r (default 32, at most 256)\n"
    "  -q, --quiet      no progress line and no summary\n"
    "  -h, --help       show this help\n"
    "\n"
    "Examples:\n"
    "  ais put photo.jpg ais://images/2024/photo.jpg\n"
    "  tar c data | ais put - ais://backups/data.tar\n"
    "  ais put -r ./dataset ais://train/v1\n";

static const char get_help[] =
    "Usage: ais get [OPTIONS] ais://BUCKET/NAME [FILE|DIR|-]\n"
    "       ais get -r [OPTIONS] ais://BUCKET[/PREFIX] DIR\n"
    "\n"
    "Downloads an object into FILE (replaced only once the whole object has\n"
    "arrived), into DIR under its base name, or to stdout ('-'). Without a\n"
    "destination the object goes to its base name in the current directory.\n"
    "With -r, downloads every object under PREFIX/ into DIR/relative/path in\n"
    "parallel, creating directories as needed.\n"
    "\n"
    "Options:\n"
    "  -r, --recursive  download everything under PREFIX/\n"
    "  -j, --jobs N     parallel downloads with -r (default 32, at most 256)\n"
    "      --offset N   start at byte N (sizes like 4k, 1MiB are accepted)\n"
    "      --length N   read N bytes (default: to the end of the object)\n"
    "      --member PATH  read the member PATH of the shard (a .tar,\n"
    "                   .tar.gz, .tgz, .tar.lz4 or .zip object) instead\n"
    "      --etl NAME   the object run through transform NAME on the node\n"
    "                   that holds it (ais etl; with --member, the\n"
    "                   member): its output\n"
    "      --etl-args A the transform's arguments (its AIS_ETL_ARGS)\n"
    "  -q, --quiet      no progress line and no summary\n"
    "  -h, --help       show this help\n"
    "\n"
    "Examples:\n"
    "  ais get ais://images/2024/photo.jpg photo.jpg\n"
    "  ais get ais://logs/big.log - --offset 1MiB --length 4k\n"
    "  ais get ais://train/s-000000.tar --member a/img_0001.jpg x.jpg\n"
    "  ais get --etl resize --etl-args 50% ais://images/a.jpg small.jpg\n"
    "  ais get -r ais://train/v1 ./dataset\n";

static const char stat_help[] =
    "Usage: ais stat [OPTIONS] ais://BUCKET/NAME...\n"
    "\n"
    "Shows an object's size (bytes and human-readable), checksum\n"
    "(type:value), version, modification time and mode, and the nodes\n"
    "that hold its copies (the owner first).\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  ais stat ais://images/2024/photo.jpg\n";

static const char rm_help[] =
    "Usage: ais rm [OPTIONS] ais://BUCKET/NAME...\n"
    "       ais rm -r [OPTIONS] ais://BUCKET/PREFIX...\n"
    "\n"
    "Deletes objects. With -r, deletes the object PREFIX (if any) and every\n"
    "object under PREFIX/ (ais://BUCKET alone: every object in the bucket).\n"
    "\n"
    "Options:\n"
    "  -r, --recursive  delete everything under the prefix\n"
    "  -j, --jobs N     parallel deletes with -r (default 32, at most 256)\n"
    "  -q, --quiet      no progress line and no summary\n"
    "  -h, --help       show this help\n"
    "\n"
    "Examples:\n"
    "  ais rm ais://images/2024/photo.jpg\n"
    "  ais rm -r ais://train/v1\n";

static const char mv_help[] =
    "Usage: ais mv [OPTIONS] ais://BUCKET/NAME ais://BUCKET/NEWNAME\n"
    "\n"
    "Renames an object within its bucket, replacing NEWNAME if it exists.\n"
    "\n"
    "Options:\n"
    "  -n, --no-clobber  fail instead of replacing an existing NEWNAME\n"
    "  -h, --help        show this help\n"
    "\n"
    "Example:\n"
    "  ais mv ais://images/tmp/photo.jpg ais://images/2024/photo.jpg\n";

enum { OPT_OFFSET = 0x100, OPT_LENGTH, OPT_MEMBER, OPT_ETL, OPT_ETL_ARGS };

/* Common options of put/get/rm. */
struct xopts {
	bool recursive, quiet;
	unsigned jobs;
	bool have_offset, have_length;
	uint64_t offset, length;
	const char *member;	    /* get --member */
	const char *etl, *etl_args; /* get --etl, --etl-args */
};

static int parse_xopts(const char *cmd, const char *help, int argc, char **argv,
		       struct xopts *o)
{
	static const struct option longopts[] = {
	    {"recursive", no_argument, NULL, 'r'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"offset", required_argument, NULL, OPT_OFFSET},
	    {"length", required_argument, NULL, OPT_LENGTH},
	    {"member", required_argument, NULL, OPT_MEMBER},
	    {"etl", required_argument, NULL, OPT_ETL},
	    {"etl-args", required_argument, NULL, OPT_ETL_ARGS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, rc;

	o->jobs = JOBS_DEFAULT;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":rj:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->recursive = true;
			break;
		case 'j':
			rc = cli_parse_uint_opt(cmd, "--jobs", optarg, 1,
						JOBS_MAX, &o->jobs);
			if (rc)
				return rc;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_OFFSET:
			if (strcmp(cmd, "get"))
				return cli_usage(cmd,
						 "unknown option --offset");
			rc = cli_parse_size_opt(cmd, "--offset", optarg,
						&o->offset);
			if (rc)
				return rc;
			o->have_offset = true;
			break;
		case OPT_LENGTH:
			if (strcmp(cmd, "get"))
				return cli_usage(cmd,
						 "unknown option --length");
			rc = cli_parse_size_opt(cmd, "--length", optarg,
						&o->length);
			if (rc)
				return rc;
			if (o->length == 0)
				return cli_usage(cmd, "--length must be > 0");
			o->have_length = true;
			break;
		case OPT_MEMBER:
			if (strcmp(cmd, "get"))
				return cli_usage(cmd,
						 "unknown option --member");
			if (!optarg[0])
				return cli_usage(cmd, "empty --member path");
			o->member = optarg;
			break;
		case OPT_ETL:
		case OPT_ETL_ARGS:
			if (strcmp(cmd, "get"))
				return cli_usage(cmd, "unknown option %s",
						 c == OPT_ETL ? "--etl"
							      : "--etl-args");
			if (c == OPT_ETL && !optarg[0])
				return cli_usage(cmd, "empty --etl name");
			if (c == OPT_ETL)
				o->etl = optarg;
			else
				o->etl_args = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			return cli_bad_option(cmd, argv, c);
		}
	}
	return 0;
}

/* The last '/'-separated component of a path, ignoring trailing slashes
 * (copied into buf). */
static const char *base_name(const char *path, char *buf, size_t len)
{
	size_t n = strlen(path);
	const char *s;

	while (n > 1 && path[n - 1] == '/')
		n--;
	for (s = path + n; s > path && s[-1] != '/'; s--)
		;
	snprintf(buf, len, "%.*s", (int)(path + n - s), s);
	return buf;
}

/* A progress line for one big transfer, only on a terminal. */
static struct progress *single_progress(const char *verb, bool quiet)
{
	if (quiet || !isatty(STDERR_FILENO))
		return NULL;
	return progress_new(verb, true);
}

int cmd_put(int argc, char **argv)
{
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN] = "";
	char base[NAME_MAX + 1], *full = NULL;
	struct progress *p;
	struct ais_client *c;
	struct xopts o = {0};
	const char *src, *name;
	struct stat st;
	int rc;

	rc = parse_xopts("put", put_help, argc, argv, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (argc - optind != 2)
		return cli_usage("put", "expected a source and a destination "
					"ais://BUCKET/NAME");
	src = argv[optind];
	if (!src[0])
		return cli_usage("put", "empty source");
	rc = cli_parse_uri("put", argv[optind + 1], false, bucket, &name);
	if (rc)
		return rc;
	if (o.recursive) {
		if (!strcmp(src, "-"))
			return cli_usage("put", "-r needs a directory, not -");
		return rec_put(src, bucket, name, o.jobs, o.quiet);
	}

	/* ais://b or ais://b/dir/: append the source's base name. */
	if (!name[0] || name[strlen(name) - 1] == '/') {
		if (!strcmp(src, "-"))
			return cli_usage("put",
					 "%s: stdin needs an object name",
					 argv[optind + 1]);
		base_name(src, base, sizeof(base));
		if (asprintf(&full, "%s%s", name, base) < 0)
			return cli_fail(-ENOMEM, NULL, "put");
		name = full;
	}
	if (ais_name_check_object(name, strlen(name), errmsg) < 0) {
		rc = cli_usage("put", "%s", errmsg);
		goto out;
	}

	c = cli_client("put");
	if (!c) {
		rc = CLI_FAIL;
		goto out;
	}
	p = single_progress("put", o.quiet);
	if (p && strcmp(src, "-")) {
		if (stat(src, &st) == 0)
			progress_add_total(p, 1, (uint64_t)st.st_size);
		progress_total_final(p);
	} else if (p) {
		progress_add_total(p, 1, 0); /* the size comes after spooling */
	}
	if (!strcmp(src, "-"))
		rc = xfer_put_stdin(c, bucket, name, p, errmsg);
	else
		rc = xfer_put_path(c, bucket, name, src, p, errmsg);
	progress_free(p);
	if (rc < 0)
		rc = cli_fail(rc, errmsg, "put %s ais://%s/%s", src, bucket,
			      name);
	else
		rc = CLI_OK;
	xfer_report_degraded("put");
	ais_client_free(c);
out:
	free(full);
	return rc;
}

/* ais get --member: one member of a shard. */
static int get_member(struct ais_client *c, const char *bucket,
		      const char *name, const struct xopts *o, const char *dst,
		      struct progress *p)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta meta;
	int rc;

	if (p && !o->etl &&
	    ais_client_member_head(c, bucket, name, o->member, &meta, NULL) ==
		0) {
		uint64_t left =
		    meta.size > o->offset ? meta.size - o->offset : 0;

		if (o->length && o->length < left)
			left = o->length;
		progress_add_total(p, 1, left);
		progress_total_final(p);
	}
	if (!strcmp(dst, "-"))
		rc = xfer_member_get_stdout(c, bucket, name, o->member,
					    o->offset, o->length, p, errmsg);
	else
		rc = xfer_member_get_path(c, bucket, name, o->member, o->offset,
					  o->length, dst, p, errmsg);
	if (rc < 0 && o->etl)
		return cli_fail(rc, errmsg,
				"get ais://%s/%s --member %s --etl %s", bucket,
				name, o->member, o->etl);
	if (rc < 0)
		return cli_fail(rc, errmsg, "get ais://%s/%s --member %s",
				bucket, name, o->member);
	return CLI_OK;
}

int cmd_get(int argc, char **argv)
{
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN] = "";
	char base[NAME_MAX + 1], *full = NULL;
	const char *name, *dst;
	struct ais_obj_meta meta;
	struct progress *p;
	struct ais_client *c;
	struct xopts o = {0};
	struct stat st;
	int rc;

	rc = parse_xopts("get", get_help, argc, argv, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage("get", "expected ais://BUCKET/NAME and a "
					"destination");
	rc = cli_parse_uri("get", argv[optind], !o.recursive, bucket, &name);
	if (rc)
		return rc;
	dst = argc - optind == 2 ? argv[optind + 1] : ".";
	if (!dst[0])
		return cli_usage("get", "empty destination");
	if (o.recursive && o.member)
		return cli_usage("get", "--member needs one shard, not -r");
	if (o.etl_args && !o.etl)
		return cli_usage("get", "--etl-args needs --etl");
	if (o.etl && (o.recursive || o.have_offset || o.have_length))
		return cli_usage("get", "--etl reads one whole object or "
					"member: not with -r, --offset or "
					"--length");
	xfer_set_etl(o.etl, o.etl_args);
	if (o.recursive) {
		if (o.have_offset || o.have_length)
			return cli_usage("get",
					 "--offset/--length need one object");
		if (!strcmp(dst, "-"))
			return cli_usage("get", "-r needs a directory, not -");
		return rec_get(bucket, name, dst, o.jobs, o.quiet);
	}

	if (strcmp(dst, "-") && ((stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) ||
				 dst[strlen(dst) - 1] == '/')) {
		base_name(o.member ? o.member : name, base, sizeof(base));
		if (asprintf(&full, "%s%s%s", dst,
			     dst[strlen(dst) - 1] == '/' ? "" : "/", base) < 0)
			return cli_fail(-ENOMEM, NULL, "get");
		dst = full;
	}

	c = cli_client("get");
	if (!c) {
		rc = CLI_FAIL;
		goto out;
	}
	p = single_progress("get", o.quiet);
	if (o.member) {
		rc = get_member(c, bucket, name, &o, dst, p);
		progress_free(p);
		ais_client_free(c);
		goto out;
	}
	if (p && !o.etl && ais_client_head(c, bucket, name, &meta, NULL) == 0) {
		uint64_t left = meta.size > o.offset ? meta.size - o.offset : 0;

		if (o.length && o.length < left)
			left = o.length;
		progress_add_total(p, 1, left);
		progress_total_final(p);
	}
	if (!strcmp(dst, "-"))
		rc = xfer_get_stdout(c, bucket, name, o.offset, o.length, p,
				     errmsg);
	else
		rc = xfer_get_path(c, bucket, name, o.offset, o.length, dst,
				   false, p, errmsg);
	progress_free(p);
	if (rc < 0 && o.etl)
		rc = cli_fail(rc, errmsg, "get ais://%s/%s --etl %s", bucket,
			      name, o.etl);
	else if (rc < 0)
		rc = cli_fail(rc, errmsg, "get ais://%s/%s", bucket, name);
	else
		rc = CLI_OK;
	ais_client_free(c);
out:
	free(full);
	return rc;
}

static int simple_opts(const char *cmd, const char *help, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			return -1;
		}
		return cli_bad_option(cmd, argv, c);
	}
	return 0;
}

/* "mtime     2026-12-05 13:44:43.123456789 +0000" */
static void print_time(const char *what, int64_t ns)
{
	char time_s[64], zone[16] = "";
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (localtime_r(&t, &tm))
		strftime(zone, sizeof(zone), "%z", &tm);
	cli_format_time(ns, time_s, sizeof(time_s));
	printf("%-9s %s.%09lld %s\n", what, time_s,
	       (long long)(ns % 1000000000), zone);
}

static void print_meta(const char *bucket, const char *name,
		       const struct ais_obj_meta *m)
{
	char size_s[32];
	const char *ck = ais_cksum_name(m->cksum_type);

	ais_format_size(m->size, size_s, sizeof(size_s));
	printf("name      ais://%s/%s\n", bucket, name);
	printf("size      %llu (%s)\n", (unsigned long long)m->size, size_s);
	if (m->cksum_type && m->cksum[0])
		printf("checksum  %s:%s\n", ck ? ck : "?", m->cksum);
	else
		printf("checksum  none\n");
	printf("version   %llu\n", (unsigned long long)m->version);
	print_time("mtime", m->mtime_ns);
	/* Shown when they say something the mtime does not. */
	if (m->atime_ns != m->mtime_ns)
		print_time("atime", m->atime_ns);
	if (m->ctime_ns != m->mtime_ns)
		print_time("ctime", m->ctime_ns);
	if (S_ISLNK(m->mode))
		printf("type      symbolic link (its bytes are the target)\n");
	else if (S_ISDIR(m->mode))
		printf("type      directory marker (a mount's directory "
		       "attributes)\n");
	printf("mode      %04o\n", m->mode & 07777);
	if (m->owned)
		printf("owner     %u:%u\n", m->uid, m->gid);
	else
		printf("owner     none (a mount shows its own user)\n");
}

/* Where the object's copies are, as the client's map says (the owner
 * first). */
static void print_nodes(struct ais_client *c, const char *bucket,
			const char *name)
{
	struct ais_node_loc loc[AIS_COPIES_MAX];
	size_t n = ais_client_locate(c, bucket, name, loc, AIS_COPIES_MAX), i;

	if (!n)
		return;
	printf("nodes    ");
	for (i = 0; i < n; i++)
		printf(" %s (%s:%u)%s", loc[i].id, loc[i].host, loc[i].port,
		       loc[i].down ? " down" : "");
	printf("\n");
}

int cmd_stat(int argc, char **argv)
{
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN];
	struct ais_obj_meta meta;
	struct ais_client *c;
	const char *name;
	int i, rc, ret = CLI_OK;

	rc = simple_opts("stat", stat_help, argc, argv);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (argc - optind < 1)
		return cli_usage("stat", "expected ais://BUCKET/NAME");
	for (i = optind; i < argc; i++) {
		rc = cli_parse_uri("stat", argv[i], true, bucket, &name);
		if (rc)
			return rc;
	}
	c = cli_client("stat");
	if (!c)
		return CLI_FAIL;
	for (i = optind; i < argc && !cli_interrupted; i++) {
		cli_parse_uri("stat", argv[i], true, bucket, &name);
		errmsg[0] = '\0';
		rc = ais_client_head(c, bucket, name, &meta, errmsg);
		if (rc < 0) {
			ret = cli_fail(rc, errmsg, "stat ais://%s/%s", bucket,
				       name);
			continue;
		}
		if (i > optind)
			putchar('\n');
		print_meta(bucket, name, &meta);
		print_nodes(c, bucket, name);
	}
	fflush(stdout);
	ais_client_free(c);
	return ret;
}

int cmd_rm(int argc, char **argv)
{
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN];
	struct ais_client *c;
	struct xopts o = {0};
	const char *name;
	int i, rc, ret = CLI_OK;

	rc = parse_xopts("rm", rm_help, argc, argv, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (argc - optind < 1)
		return cli_usage("rm", "expected ais://BUCKET/NAME");
	for (i = optind; i < argc; i++) {
		rc = cli_parse_uri("rm", argv[i], !o.recursive, bucket, &name);
		if (rc)
			return rc;
	}
	if (o.recursive) {
		for (i = optind; i < argc && !cli_interrupted; i++) {
			cli_parse_uri("rm", argv[i], false, bucket, &name);
			rc = rec_rm(bucket, name, o.jobs, o.quiet);
			if (rc)
				ret = rc;
		}
		return cli_interrupted ? CLI_INTERRUPTED : ret;
	}
	c = cli_client("rm");
	if (!c)
		return CLI_FAIL;
	for (i = optind; i < argc && !cli_interrupted; i++) {
		cli_parse_uri("rm", argv[i], true, bucket, &name);
		errmsg[0] = '\0';
		rc = ais_client_delete(c, bucket, name, errmsg);
		if (rc < 0)
			ret = cli_fail(rc, errmsg, "rm ais://%s/%s", bucket,
				       name);
	}
	ais_client_free(c);
	return ret;
}

int cmd_mv(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"no-clobber", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char b1[AIS_BUCKET_MAX + 1], b2[AIS_BUCKET_MAX + 1];
	char errmsg[AIS_ERRMSG_LEN] = "";
	const char *n1, *n2;
	struct ais_client *c;
	bool no_clobber = false;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":nh", longopts, NULL)) != -1) {
		if (ch == 'n') {
			no_clobber = true;
		} else if (ch == 'h') {
			fputs(mv_help, stdout);
			return CLI_OK;
		} else {
			return cli_bad_option("mv", argv, ch);
		}
	}
	if (argc - optind != 2)
		return cli_usage("mv", "expected ais://BUCKET/NAME and "
				       "ais://BUCKET/NEWNAME");
	rc = cli_parse_uri("mv", argv[optind], true, b1, &n1);
	if (rc)
		return rc;
	rc = cli_parse_uri("mv", argv[optind + 1], true, b2, &n2);
	if (rc)
		return rc;
	if (strcmp(b1, b2))
		return cli_usage("mv", "cannot move between buckets (%s, %s)",
				 b1, b2);
	c = cli_client("mv");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_rename(c, b1, n1, n2, no_clobber, errmsg);
	ais_client_free(c);
	if (rc < 0)
		return cli_fail(rc, errmsg, "mv ais://%s/%s ais://%s/%s", b1,
				n1, b2, n2);
	return CLI_OK;
}
