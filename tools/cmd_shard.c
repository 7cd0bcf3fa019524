/* ais shard ls | create: list a shard's members, pack a directory into
 * shards (WebDataset convention: the files of one sample stay together). */
#include <errno.h>
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
#include "shard_index.h"
#include "util.h"

#define LS_PAGE 1000

static const char shard_help[] =
    "Usage: ais shard COMMAND [OPTIONS] ...\n"
    "\n"
    "Shards are objects named .tar, .tar.gz, .tgz, .tar.lz4 or .zip; the\n"
    "node that holds one indexes its members when it is written.\n"
    "\n"
    "Commands:\n"
    "  ls ais://BUCKET/SHARD             list the members of a shard\n"
    "  create DIR ais://BUCKET/PREFIX    pack a directory into shards\n"
    "\n"
    "Run 'ais shard COMMAND --help' for a command's options.\n"
    "\n"
    "Examples:\n"
    "  ais shard ls --long ais://train/s-000000.tar\n"
    "  ais shard create ./dataset ais://train/s --size 256MiB\n"
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

int cmd_shard(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
	    {"ls", shard_ls, "list the members of a shard"},
	    {"create", shard_create, "pack a directory into shards"},
	    {NULL, NULL, NULL},
	};

	return cli_dispatch("shard", shard_help, cmds, argc, argv);
}
