/* aisfs: mount an aisd cluster as a directory tree (FUSE), unmount it, and
 * act as mount.aisfs for mount(8) and /etc/fstab. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ais_config.h"
#include "fileio.h"
#include "dirtime.h"
#include "etl.h"
#include "fs.h"
#include "lease.h"
#include "log.h"
#include "spool.h"
#include "writeback.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage:\n"
	    "  aisfs mount [-f] [-o OPT[,OPT...]] [HOST:PORT[,HOST:PORT...]] "
	    "MOUNTPOINT\n"
	    "  aisfs umount [-l] MOUNTPOINT\n"
	    "  mount -t fuse.aisfs HOST:PORT[,HOST:PORT...] MOUNTPOINT "
	    "[-o OPTS]\n"
	    "\n"
	    "Mounts the aisd cluster at HOST:PORT (default: $AIS_ENDPOINT, "
	    "then %s):\none directory per bucket, object names split on "
	    "'/' into directories.\nWith several addresses the first that "
	    "answers is used; later, any node of the\ncluster map.\n"
	    "\n"
	    "  -f            stay in the foreground (log to stderr)\n"
	    "  -o OPTS       mount options, comma separated:\n"
	    "     endpoint=H:P[,H:P]  the cluster (instead of the "
	    "HOST:PORT argument)\n"
	    "     bucket=B            mount only bucket B at the root\n"
	    "     ro                  read-only; with leases, opens never "
	    "reach aisfs\n"
	    "                         (nokernel_open: they do, as on a "
	    "writable mount;\n"
	    "                         kernel_open: also with noleases)\n"
	    "     attr_timeout=S      attribute cache time (default 1)\n"
	    "     entry_timeout=S     name cache time (default 1)\n"
	    "     negative_timeout=S  cache of missing names (default 0)\n"
	    "     nocto               an open within attr_timeout of the "
	    "last check\n"
	    "                         does not ask the cluster again\n"
	    "     lease_timeout=S     kernel cache time of names and "
	    "attributes a lease\n"
	    "                         covers (default 60; names on a "
	    "guarded ro\n"
	    "                         mount: 600, see aisfs(1))\n"
	    "     noleases            no leases from the nodes: every open "
	    "of a plain\n"
	    "                         object asks its node (the default "
	    "asks only after\n"
	    "                         a change or without a lease)\n"
	    "     writeback           a close answers before the upload; "
	    "small files go\n"
	    "                         up in batches (fast cp -r; others see "
	    "a file once\n"
	    "                         uploaded; fsync waits: see aisfs(1))\n"
	    "     timeout=S           a down cluster gives EIO after S "
	    "seconds (default 20)\n"
	    "     spool=DIR           staging directory for writes "
	    "(default $TMPDIR or /var/tmp)\n"
	    "     shards=view|dir|file  archives: files, members under "
	    "NAME.d/ (view,\n"
	    "                         the default); directories (dir); "
	    "files only\n"
	    "     etl=NAME            every file read through transform "
	    "NAME (ais etl),\n"
	    "                         run where it is stored; stat shows "
	    "the output's\n"
	    "                         size; read-only\n"
	    "     etl_args=A          the transform's arguments (no "
	    "commas)\n"
	    "     allow_other         let other users in (root, or "
	    "user_allow_other)\n"
	    "     uid=N,gid=N         owner shown for every file (else "
	    "the stored one)\n"
	    "     max_threads=N       FUSE worker threads (default 16)\n"
	    "     token_file=FILE     the token requests carry (default "
	    "$AIS_TOKEN_FILE,\n"
	    "                         else the one saved for the "
	    "cluster; ais auth)\n"
	    "     ca_file=FILE        the cluster's CA: TLS (default "
	    "$AIS_CA_FILE, else\n"
	    "                         those `ais local up` saved; none: "
	    "plain TCP)\n"
	    "     log=FILE            log here once daemonized\n"
	    "     debug               log every FUSE request\n"
	    "  -l            (umount) lazy: detach now, clean up when "
	    "unused\n"
	    "  -h, --help    this help;  -V, --version\n"
	    "\nSee aisfs(1).\n",
	    AIS_DEFAULT_ENDPOINT);
}

/* Takes spec ("[aisfs#][ais://]HOST:PORT[,HOST:PORT...]") as the endpoint
 * list after checking it. Unlike ais, a mount names every port: a bare
 * word is more likely a mistake (a mount point in the SPEC place) than a
 * host on the default port. */
static int parse_endpoint(struct afs_opts *o, const char *spec, char *errmsg)
{
	char copy[sizeof(o->endpoint)], em[AIS_ERRMSG_LEN] = "";
	struct ais_endpoint *eps;
	const char *p;
	int n;

	/* spec may be o->endpoint itself. */
	snprintf(copy, sizeof(copy), "%s", spec);
	spec = copy;
	if (strncmp(spec, "aisfs#", 6) == 0)
		spec += 6;
	if (strncmp(spec, "ais://", 6) == 0)
		spec += 6;
	eps = calloc(AIS_ENDPOINTS_MAX, sizeof(*eps));
	if (!eps)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	n = ais_endpoints_parse(spec, eps, AIS_ENDPOINTS_MAX, em);
	free(eps);
	for (p = spec; n > 0 && p; p = strchr(p, ',')) {
		const char *e;

		p += *p == ',';
		e = strchr(p, ',');
		if (!memchr(p, ':', e ? (size_t)(e - p) : strlen(p))) {
			snprintf(em, sizeof(em), "'%.*s' has no port",
				 e ? (int)(e - p) : (int)strlen(p), p);
			n = -EINVAL;
		}
	}
	if (n < 0)
		return ais_errf(errmsg, -EINVAL,
				"'%s': %s (expected HOST:PORT[,HOST:PORT...], "
				"e.g. %s)",
				spec, em, AIS_DEFAULT_ENDPOINT);
	snprintf(o->endpoint, sizeof(o->endpoint), "%s", spec);
	return 0;
}

/* Checks the mount point before anything is started, so that the common
 * mistakes get a message naming the fix. */
static int mountpoint_error(const char *mp, int err, char *errmsg)
{
	if (err == ENOTCONN)
		return ais_errf(errmsg, -ENOTCONN,
				"mountpoint %s: stale mount of a dead aisfs "
				"(run 'aisfs umount %s' first)",
				mp, mp);
	return ais_errf(errmsg, -err, "mountpoint %s: %s", mp, strerror(err));
}

static int check_mountpoint(struct afs_opts *o, const char *mp, char *errmsg)
{
	char real[PATH_MAX], parent[PATH_MAX + 4];
	struct stat st, pst;

	if (!realpath(mp, real))
		return mountpoint_error(mp, errno, errmsg);
	if (stat(real, &st) < 0)
		return mountpoint_error(mp, errno, errmsg);
	if (!S_ISDIR(st.st_mode))
		return ais_errf(errmsg, -ENOTDIR,
				"mountpoint %s: not a directory", mp);
	snprintf(parent, sizeof(parent), "%s/..", real);
	if (stat(parent, &pst) == 0 &&
	    (st.st_dev != pst.st_dev || st.st_ino == pst.st_ino))
		return ais_errf(errmsg, -EBUSY,
				"mountpoint %s is busy: something is already "
				"mounted there",
				mp);
	if (strlen(real) >= sizeof(o->mountpoint))
		return ais_errf(errmsg, -ENAMETOOLONG, "mountpoint too long");
	strcpy(o->mountpoint, real);
	return 0;
}

/* Everything that can be checked without forking. */
static int precheck(struct afs_opts *o, const char *mp, char *errmsg)
{
	int rc = check_mountpoint(o, mp, errmsg);

	if (rc)
		return rc;
	if (o->kernel_open == 1 && !o->ro)
		return ais_errf(errmsg, -EINVAL,
				"kernel_open needs ro: a writable mount must "
				"see every open (aisfs(1))");
	if (o->kernel_open == 1 && o->etl[0])
		return ais_errf(errmsg, -EINVAL,
				"kernel_open: a transformed view (etl=) must "
				"see every open (aisfs(1))");
	if (o->etl_args[0] && !o->etl[0])
		return ais_errf(errmsg, -EINVAL, "etl_args= needs etl=");
	if (o->etl[0] && o->writeback)
		return ais_errf(errmsg, -EINVAL,
				"writeback: a transformed view (etl=) is "
				"read-only");
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		return ais_errf(errmsg, -ENODEV,
				"no /dev/fuse (%s): load the fuse module, or "
				"give the container --device /dev/fuse",
				strerror(errno));
	if (o->log_file[0]) {
		int fd = open(o->log_file,
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0)
			return ais_errf(errmsg, -errno, "log=%s: %s",
					o->log_file, strerror(errno));
		close(fd);
	}
	return afs_spool_check_dir(o->spool_dir, errmsg);
}

static int build_fuse_args(const struct afs_opts *o, struct fuse_args *args)
{
	char opts[sizeof(o->endpoint) + 1024], fsname[sizeof(o->endpoint)];
	size_t i;
	int n;

	/* The file system's name in /proc/mounts: the endpoint list, with
	 * '+' between addresses, as a comma would end the option. */
	snprintf(fsname, sizeof(fsname), "%s", o->endpoint);
	for (i = 0; fsname[i]; i++)
		if (fsname[i] == ',')
			fsname[i] = '+';
	n = snprintf(opts, sizeof(opts),
		     "fsname=%s%s%s,subtype=aisfs,default_permissions,"
		     "max_read=%u%s%s",
		     fsname, o->bucket[0] ? "/" : "", o->bucket, 1u << 20,
		     o->allow_other ? ",allow_other" : "", o->ro ? ",ro" : "");
	if (n < 0 || (size_t)n >= sizeof(opts))
		return -EINVAL;
	if (fuse_opt_add_arg(args, "aisfs") || fuse_opt_add_arg(args, "-o") ||
	    fuse_opt_add_arg(args, opts))
		return -ENOMEM;
	if (o->debug && fuse_opt_add_arg(args, "-d"))
		return -ENOMEM;
	return 0;
}

/* Sends the parent of a daemonizing mount its answer. */
static void tell_parent(int *fd, const char *msg)
{
	if (*fd < 0)
		return;
	if (ais_write_all(*fd, msg, strlen(msg)) != 0)
		ais_log(LOG_WARNING, "cannot report to the parent process");
	close(*fd);
	*fd = -1;
}

static void detach_stdio(const struct afs_opts *o)
{
	int fd = open("/dev/null", O_RDWR);
	bool journal = getenv("JOURNAL_STREAM") != NULL;
	int lfd = -1;

	if (o->log_file[0])
		lfd = open(o->log_file,
			   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	/* Under systemd (a mount from fstab) stderr is the journal: keep it.
	 * Anywhere else it may be a pipe someone waits on for EOF, or a
	 * terminal: let go of it. */
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (lfd >= 0)
			dup2(lfd, STDERR_FILENO);
		else if (!journal)
			dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (lfd > STDERR_FILENO)
		close(lfd);
	if (chdir("/") < 0)
		ais_log(LOG_WARNING, "chdir /: %m");
}

/* A transformed view of a transform the cluster does not have would
 * fail every file: refused at mount. 0 or -1 (said on stderr). */
static int check_etl(struct afs_fs *fs, const char *name)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct ais_etl *v;
	size_t n, i;
	int rc = ais_client_etl_list(fs->client, &v, &n, errmsg);

	if (rc) {
		fprintf(stderr, "aisfs: etl=%s: %s\n", name, errmsg);
		return -1;
	}
	for (i = 0; i < n && strcmp(v[i].name, name); i++)
		;
	if (i == n)
		fprintf(stderr,
			"aisfs: etl=%s: no such transform (ais etl ls shows "
			"them)\n",
			name);
	else if (v[i].stopped)
		ais_log(LOG_WARNING,
			"etl=%s: the transform is stopped: files fail with "
			"EIO until it is started (ais etl start %s)",
			name, name);
	ais_etl_list_free(v, n);
	return i == n ? -1 : 0;
}

/* The mount itself: connect, mount, serve until unmounted. report_fd is
 * the pipe to the waiting parent (-1 in the foreground). */
static int serve(struct afs_opts *o, int report_fd)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct ais_client_opts co;
	struct fuse_loop_config *lc;
	struct afs_fs fs;
	int rc, ret = 1;

	memset(&fs, 0, sizeof(fs));
	fs.opts = *o;
	/* A transformed view holds each output while a handle reads it:
	 * every open must come here. */
	fs.no_open =
	    o->ro && !o->etl[0] &&
	    (o->kernel_open == 1 || (o->kernel_open == -1 && !o->noleases));
	if (o->etl[0] && afs_etl_new(&fs.etl) < 0) {
		fprintf(stderr, "aisfs: out of memory\n");
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &fs.mount_time);
	ais_client_opts_default(&co);
	co.token_file = o->token_file[0] ? o->token_file : NULL;
	co.ca_file = o->ca_file[0] ? o->ca_file : NULL;
	/* The client retries an idempotent request once after a connection
	 * error: half the budget per attempt keeps the total near timeout=. */
	co.io_timeout_ms = o->timeout_s * 500;
	if (co.io_timeout_ms < 1000)
		co.io_timeout_ms = 1000;
	co.connect_timeout_ms =
	    co.io_timeout_ms < 5000 ? co.io_timeout_ms : 5000;
	fs.client = ais_client_new(o->endpoint, &co, errmsg);
	if (!fs.client) {
		fprintf(stderr, "aisfs: cannot reach the cluster at %s: %s\n",
			o->endpoint, errmsg);
		goto out;
	}
	if (o->bucket[0]) {
		rc = ais_client_bucket_head(fs.client, o->bucket, errmsg);
		if (rc == -ENOENT) {
			fprintf(stderr,
				"aisfs: bucket %s does not exist (create it "
				"with: ais bucket create %s)\n",
				o->bucket, o->bucket);
			goto out_client;
		} else if (rc) {
			fprintf(stderr, "aisfs: bucket %s: %s\n", o->bucket,
				errmsg);
			goto out_client;
		}
	}
	if (o->etl[0] && check_etl(&fs, o->etl) != 0)
		goto out_client;
	/* Most inodes are owned by the mount's user: they keep no owner. */
	afs_inode_default_owner(o->uid, o->gid);
	fs.itable = afs_itable_new();
	if (!fs.itable || build_fuse_args(o, &args) != 0) {
		fprintf(stderr, "aisfs: out of memory\n");
		goto out_client;
	}
	fs.se = fuse_session_new(&args, &afs_ops, sizeof(afs_ops), &fs);
	if (!fs.se) {
		fprintf(stderr, "aisfs: cannot start a FUSE session\n");
		goto out_args;
	}
	if (fuse_set_signal_handlers(fs.se) != 0) {
		fprintf(stderr, "aisfs: cannot set signal handlers\n");
		goto out_session;
	}
	if (fuse_session_mount(fs.se, o->mountpoint) != 0) {
		fprintf(stderr, "aisfs: cannot mount on %s (see above)\n",
			o->mountpoint);
		goto out_signals;
	}
	if (report_fd >= 0) {
		tell_parent(&report_fd, "OK\n");
		detach_stdio(o);
	}
	ais_log(LOG_NOTICE, "mounted %s%s%s on %s", o->endpoint,
		o->bucket[0] ? " bucket " : "", o->bucket, o->mountpoint);

	lc = fuse_loop_cfg_create();
	if (!lc) {
		ais_log(LOG_ERR, "out of memory");
		goto out_unmount;
	}
	fuse_loop_cfg_set_clone_fd(lc, 1);
	fuse_loop_cfg_set_max_threads(lc, o->max_threads);
	rc = afs_leases_start(&fs);
	if (rc)
		ais_log(LOG_WARNING,
			"leases: cannot start (%s): every open asks the "
			"cluster",
			strerror(-rc));
	if (o->writeback && !o->ro) {
		uint64_t lim;

		/* Every queued file holds its spool's descriptor. */
		if (ais_raise_nofile(&lim) != 0)
			ais_log(LOG_NOTICE, "open file limit %llu (not raised)",
				(unsigned long long)lim);
		rc = afs_wb_start(&fs);
		if (rc)
			ais_log(LOG_WARNING,
				"write-back: cannot start (%s): every close "
				"uploads its file before it returns",
				strerror(-rc));
	}
	if (!o->ro) {
		rc = afs_dirtime_start(&fs);
		if (rc)
			ais_log(LOG_WARNING,
				"directory times: cannot start (%s): a "
				"directory's time moved by a new name is "
				"shown by this mount only",
				strerror(-rc));
	}
	rc = fuse_session_loop_mt(fs.se, lc);
	/* Before the leases: the uploads still note their own changes. */
	afs_wb_stop(&fs);
	afs_dirtime_stop(&fs);
	afs_leases_stop(&fs);
	fuse_loop_cfg_destroy(lc);
	if (rc < 0)
		ais_log(LOG_ERR, "FUSE loop: %s", strerror(-rc));
	ret = rc < 0 ? 1 : 0;
	ais_log(LOG_NOTICE, "unmounting %s", o->mountpoint);
out_unmount:
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_args:
	fuse_opt_free_args(&args);
	afs_itable_free(fs.itable);
out_client:
	ais_client_free(fs.client);
out:
	afs_etl_free(fs.etl);
	if (report_fd >= 0)
		close(report_fd);
	return ret;
}

static int do_mount(struct afs_opts *o, const char *mp, bool foreground)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	char answer[16] = "";
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (precheck(o, mp, errmsg) != 0) {
		fprintf(stderr, "aisfs: %s\n", errmsg);
		return 1;
	}
	if (foreground) {
		if (o->log_file[0])
			detach_stdio(o);
		return serve(o, -1);
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "aisfs: pipe: %s\n", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "aisfs: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		return serve(o, p[1]);
	}
	/* The parent exits only once the mount is live (or has failed, in
	 * which case the child has said why on our shared stderr). */
	close(p[1]);
	do {
		n = read(p[0], answer, sizeof(answer) - 1);
	} while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n > 0 && strncmp(answer, "OK", 2) == 0) {
		/* Let the child's detach finish writing through our stderr
		 * before the shell prints its prompt. */
		return 0;
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 0)
		fprintf(stderr, "aisfs: the mount process died\n");
	return 1;
}

static int cmd_mount(int argc, char **argv, bool helper)
{
	char errmsg[AIS_ERRMSG_LEN] = "";
	struct afs_opts o;
	const char *env, *mp;
	bool foreground = false, fake = false;
	int c, level;

	afs_opts_default(&o);
	env = getenv("AIS_ENDPOINT");
	snprintf(o.endpoint, sizeof(o.endpoint), "%s",
		 env && *env ? env : AIS_DEFAULT_ENDPOINT);
	optind = 1;
	while ((c = getopt(argc, argv, helper ? "+sfnvo:h" : "fdo:h")) != -1) {
		switch (c) {
		case 'f':
			/* For mount(8) helpers -f means "fake". */
			if (helper)
				fake = true;
			else
				foreground = true;
			break;
		case 'd':
			foreground = true;
			o.debug = true;
			break;
		case 'o':
			if (afs_opts_parse(&o, optarg, errmsg) != 0) {
				fprintf(stderr, "aisfs: %s\n", errmsg);
				return 2;
			}
			break;
		case 's':
		case 'n':
		case 'v':
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 1) {
		mp = argv[0];
	} else if (argc >= 2) {
		if (parse_endpoint(&o, argv[0], errmsg) != 0) {
			fprintf(stderr, "aisfs: %s\n", errmsg);
			return 2;
		}
		mp = argv[1];
		if (argc > 2 && !helper) {
			fprintf(stderr, "aisfs: unexpected argument '%s'\n",
				argv[2]);
			return 2;
		}
		/* mount(8) and mount.fuse3 pass SPEC DIR first, then the
		 * flags: -o OPTS, -sfnv. */
		for (c = 2; c < argc; c++) {
			const char *a = argv[c], *list = NULL;

			if (strcmp(a, "-o") == 0 && c + 1 < argc)
				list = argv[++c];
			else if (strncmp(a, "-o", 2) == 0)
				list = a + 2;
			else if (a[0] == '-' && strchr(a, 'f'))
				fake = true;
			else if (a[0] != '-') {
				fprintf(stderr,
					"aisfs: unexpected argument '%s'\n", a);
				return 2;
			}
			if (list && afs_opts_parse(&o, list, errmsg) != 0) {
				fprintf(stderr, "aisfs: %s\n", errmsg);
				return 2;
			}
		}
	} else {
		fprintf(stderr, "aisfs: mount: missing MOUNTPOINT\n");
		usage(stderr);
		return 2;
	}
	if (!o.endpoint[0] || parse_endpoint(&o, o.endpoint, errmsg) != 0) {
		fprintf(stderr, "aisfs: %s\n", errmsg);
		return 2;
	}
	level = o.debug ? LOG_DEBUG : LOG_INFO;
	env = getenv("AIS_LOG");
	if (env && ais_log_parse_level(env) >= 0)
		level = ais_log_parse_level(env);
	ais_log_init("aisfs", level);
	if (fake)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	return do_mount(&o, mp, foreground);
}

static int cmd_umount(int argc, char **argv)
{
	bool lazy = false;
	char real[PATH_MAX];
	const char *mp;
	pid_t pid;
	int c, status;

	optind = 1;
	while ((c = getopt(argc, argv, "lzh")) != -1) {
		if (c == 'l' || c == 'z') {
			lazy = true;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "aisfs: umount: expected one MOUNTPOINT\n");
		return 2;
	}
	mp = argv[optind];
	/* A dead mount cannot be resolved by realpath; use it as given. */
	if (!realpath(mp, real))
		snprintf(real, sizeof(real), "%s", mp);
	if (geteuid() == 0) {
		if (umount2(real, lazy ? MNT_DETACH : 0) == 0)
			return 0;
		if (errno == EINVAL) {
			fprintf(stderr, "aisfs: %s is not mounted\n", mp);
			return 1;
		}
		if (errno == EBUSY) {
			fprintf(stderr,
				"aisfs: %s is busy (files open or a process "
				"inside it; try -l)\n",
				mp);
			return 1;
		}
		fprintf(stderr, "aisfs: umount %s: %s\n", mp, strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		if (lazy)
			execlp("fusermount3", "fusermount3", "-u", "-z", real,
			       (char *)NULL);
		else
			execlp("fusermount3", "fusermount3", "-u", real,
			       (char *)NULL);
		fprintf(stderr, "aisfs: cannot run fusermount3: %s\n",
			strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	char *copy = strdup(argv[0] ? argv[0] : "aisfs");
	const char *prog = copy ? basename(copy) : "aisfs";
	bool helper = strncmp(prog, "mount.", 6) == 0;
	int rc;

	/* The FUSE workers' short-lived buffers, freed in one thread's malloc
	 * arena and never handed back while a live block sits above them,
	 * were a third of the mount's memory after an epoch: two arenas,
	 * and a fixed threshold so that 1 MiB read buffers are mapped and
	 * unmapped rather than carved from the arenas. */
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	if (helper) {
		rc = cmd_mount(argc, argv, true);
	} else if (argc < 2) {
		usage(stderr);
		rc = 2;
	} else if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
		   !strcmp(argv[1], "help")) {
		usage(stdout);
		rc = 0;
	} else if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("aisfs %s (libfuse %d)\n", AIS_VERSION, fuse_version());
		rc = 0;
	} else if (!strcmp(argv[1], "mount")) {
		rc = cmd_mount(argc - 1, argv + 1, false);
	} else if (!strcmp(argv[1], "umount") || !strcmp(argv[1], "unmount")) {
		rc = cmd_umount(argc - 1, argv + 1);
	} else if (argc >= 3 && argv[1][0] != '-') {
		/* "aisfs SPEC DIR [-o OPTS]": how mount.fuse3 runs a
		 * fuse.aisfs entry. */
		rc = cmd_mount(argc, argv, true);
	} else {
		fprintf(stderr, "aisfs: unknown command '%s'\n", argv[1]);
		usage(stderr);
		rc = 2;
	}
	free(copy);
	return rc;
}
