/* ais ls: listing a bucket one level at a time or recursively, one page in
 * memory at a time. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

static const char ls_help[] =
    "Usage: ais ls [OPTIONS] [ais://BUCKET[/PREFIX]]\n"
    "\n"
    "Lists the objects of a bucket one level at a time: names are cut at the\n"
    "next '/' into directory entries shown with a trailing '/'. When PREFIX\n"
    "names a directory (objects exist under PREFIX/), its contents are\n"
    "listed; otherwise the names starting with PREFIX. Without an argument,\n"
    "lists the buckets.\n"
    "\n"
    "Options:\n"
    "  -r, --recursive  list every object under the prefix, no directories\n"
    "  -l, --long       show size, version, modification time and name\n"
    "  -b, --bytes      with -l, sizes in bytes instead of KiB/MiB/...\n"
    "  -h, --help       show this help\n"
    "\n"
    "Examples:\n"
    "  ais ls ais://train\n"
    "  ais ls -l ais://train/v1/\n"
    "  ais ls -r ais://train/v1\n";

struct ls_opts {
	bool recursive, long_fmt, bytes;
};

static void print_entry(const struct ls_opts *o, const struct ais_list_entry *e)
{
	char size_s[32], time_s[64];

	if (!o->long_fmt) {
		printf("%s\n", e->name);
		return;
	}
	if (e->is_prefix) {
		printf("%10s  %6s  %-19s  %s\n", "-", "-", "-", e->name);
		return;
	}
	if (o->bytes)
		snprintf(size_s, sizeof(size_s), "%llu",
			 (unsigned long long)e->meta.size);
	else
		ais_format_size(e->meta.size, size_s, sizeof(size_s));
	cli_format_time(e->meta.mtime_ns, time_s, sizeof(time_s));
	printf("%10s  %6llu  %-19s  %s%s\n", size_s,
	       (unsigned long long)e->meta.version, time_s, e->name,
	       S_ISLNK(e->meta.mode) ? " (symbolic link)" : "");
}

/* True if there is at least one name under dir ("prefix/"). */
static int has_entries(struct ais_client *c, const char *bucket,
		       const char *dir, char *errmsg)
{
	struct ais_list_page page = {0};
	int rc;

	rc = ais_client_list(c, bucket, dir, "/", NULL, 1, &page, errmsg);
	if (rc < 0)
		return rc;
	rc = page.n > 0;
	ais_list_page_free(&page);
	return rc;
}

static int list_buckets(void)
{
	char errmsg[AIS_ERRMSG_LEN] = "", **names = NULL;
	struct ais_client *c;
	size_t i, n = 0;
	int rc;

	c = cli_client("ls");
	if (!c)
		return CLI_FAIL;
	rc = ais_client_bucket_list(c, &names, &n, errmsg);
	ais_client_free(c);
	if (rc < 0)
		return cli_fail(rc, errmsg, "ls");
	for (i = 0; i < n; i++)
		printf("ais://%s\n", names[i]);
	ais_strv_free(names);
	return CLI_OK;
}

int cmd_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"recursive", no_argument, NULL, 'r'},
	    {"long", no_argument, NULL, 'l'},
	    {"bytes", no_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char bucket[AIS_BUCKET_MAX + 1], errmsg[AIS_ERRMSG_LEN] = "";
	struct ls_opts o = {0};
	struct ais_list_page page;
	struct ais_client *c;
	const char *prefix;
	char *dir = NULL, *token = NULL;
	unsigned long long shown = 0;
	size_t i;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":rlbh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o.recursive = true;
			break;
		case 'l':
			o.long_fmt = true;
			break;
		case 'b':
			o.bytes = true;
			break;
		case 'h':
			fputs(ls_help, stdout);
			return CLI_OK;
		default:
			return cli_bad_option("ls", argv, ch);
		}
	}
	if (argc - optind > 1)
		return cli_usage("ls", "expected one ais://BUCKET[/PREFIX]");
	if (argc == optind)
		return list_buckets();
	rc = cli_parse_uri("ls", argv[optind], false, bucket, &prefix);
	if (rc)
		return rc;
	if (prefix[0] && ais_name_check_prefix(prefix, errmsg) < 0)
		return cli_usage("ls", "%s: %s", argv[optind], errmsg);

	c = cli_client("ls");
	if (!c)
		return CLI_FAIL;
	/* "ais ls ais://b/dir" shows the directory, as ls(1) would. */
	if (prefix[0] && prefix[strlen(prefix) - 1] != '/') {
		if (asprintf(&dir, "%s/", prefix) < 0) {
			rc = cli_fail(-ENOMEM, NULL, "ls");
			goto out;
		}
		rc = has_entries(c, bucket, dir, errmsg);
		if (rc < 0) {
			rc = cli_fail(rc, errmsg, "ls %s", argv[optind]);
			goto out;
		}
		if (rc)
			prefix = dir;
	}

	do {
		memset(&page, 0, sizeof(page));
		errmsg[0] = '\0';
		rc =
		    ais_client_list(c, bucket, prefix, o.recursive ? NULL : "/",
				    token, 0, &page, errmsg);
		free(token);
		token = NULL;
		if (rc < 0) {
			rc = cli_fail(rc, errmsg, "ls %s", argv[optind]);
			goto out;
		}
		for (i = 0; i < page.n; i++)
			print_entry(&o, &page.entries[i]);
		shown += page.n;
		if (page.next_token && !cli_interrupted) {
			token = strdup(page.next_token);
			if (!token) {
				ais_list_page_free(&page);
				rc = cli_fail(-ENOMEM, NULL, "ls");
				goto out;
			}
		}
		ais_list_page_free(&page);
	} while (token);
	if (fflush(stdout) == EOF) {
		rc = cli_fail(-errno, NULL, "ls: writing stdout");
		goto out;
	}
	if (cli_interrupted)
		rc = CLI_INTERRUPTED;
	else if (shown == 0 && prefix[0])
		rc = cli_fail(-ENOENT, "no object names start with it", "ls %s",
			      argv[optind]);
	else
		rc = CLI_OK;
out:
	free(dir);
	ais_client_free(c);
	return rc;
}
