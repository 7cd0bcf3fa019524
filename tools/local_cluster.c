/* The layout and processes of an "ais local" cluster. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "tls.h"
#include "config.h"
#include "local_cluster.h"
#include "transfer.h"
#include "fileio.h"
#include "util.h"

void local_default_dir(char *buf, size_t len)
{
	ais_local_dir(buf, len);
}

int local_node_path(const struct local_layout *l, unsigned i, const char *leaf,
		    char *buf, size_t len)
{
	int n;

	if (leaf)
		n = snprintf(buf, len, "%s/node%u/%s", l->dir, i, leaf);
	else
		n = snprintf(buf, len, "%s/node%u", l->dir, i);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- cluster.conf ---------------------------------------------------------
 */

static int conf_uint(const char *key, const char *value, unsigned min,
		     unsigned max, unsigned *out, char *errmsg)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || v < min || v > max)
		return ais_errf(errmsg, -EINVAL, "%s: expected %u..%u", key,
				min, max);
	*out = (unsigned)v;
	return 0;
}

static int conf_cb(void *arg, const char *key, const char *value, char *errmsg)
{
	struct local_layout *l = arg;

	if (!strcmp(key, "nodes"))
		return conf_uint(key, value, 1, LOCAL_NODES_MAX, &l->nodes,
				 errmsg);
	if (!strcmp(key, "mountpaths"))
		return conf_uint(key, value, 1, LOCAL_MPATHS_MAX,
				 &l->mountpaths, errmsg);
	if (!strcmp(key, "port"))
		return conf_uint(key, value, 1, 65535, &l->port, errmsg);
	if (!strcmp(key, "host"))
		return 0; /* informational: always LOCAL_HOST */
	if (!strcmp(key, "s3_port"))
		return conf_uint(key, value, 0, 65535, &l->s3_port, errmsg);
	if (!strcmp(key, "auth")) {
		if (strcmp(value, "on") && strcmp(value, "off"))
			return ais_errf(errmsg, -EINVAL, "auth: on or off");
		l->auth = !strcmp(value, "on");
		return 0;
	}
	if (!strcmp(key, "tls")) {
		if (strcmp(value, "on") && strcmp(value, "off"))
			return ais_errf(errmsg, -EINVAL, "tls: on or off");
		l->tls = !strcmp(value, "on");
		return 0;
	}
	if (!strcmp(key, "etl_dir")) {
		if (value[0] != '/' || strlen(value) >= sizeof(l->etl_dir))
			return ais_errf(errmsg, -EINVAL,
					"etl_dir: an absolute path");
		snprintf(l->etl_dir, sizeof(l->etl_dir), "%s", value);
		return 0;
	}
	return ais_errf(errmsg, -EINVAL, "unknown key '%s'", key);
}

int local_conf_load(struct local_layout *l, char *errmsg)
{
	char path[PATH_MAX + 16];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", l->dir, LOCAL_CONF);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return -ENOENT;
	l->nodes = 0;
	l->mountpaths = 0;
	l->port = 0;
	l->etl_dir[0] = '\0';
	l->s3_port = UINT_MAX;
	l->auth = false;
	l->tls = false;
	rc = ais_config_load(path, conf_cb, l, errmsg);
	if (rc < 0)
		return rc;
	if (l->s3_port == UINT_MAX)
		l->s3_port = local_s3_default_port(l);
	if (l->s3_port && l->s3_port + l->nodes - 1 > 65535)
		return ais_errf(errmsg, -EINVAL, "%s: S3 ports beyond 65535",
				path);
	if (!l->nodes || !l->mountpaths || !l->port)
		return ais_errf(errmsg, -EINVAL,
				"%s: needs nodes, mountpaths and port", path);
	if (l->port + 2 * l->nodes - 1 > 65535)
		return ais_errf(errmsg, -EINVAL, "%s: ports beyond 65535",
				path);
	return 0;
}

unsigned local_s3_default_port(const struct local_layout *l)
{
	unsigned p = l->port + 2 * l->nodes;

	return p + l->nodes - 1 <= 65535 ? p : 0;
}

int local_conf_save(const struct local_layout *l, char *errmsg)
{
	char path[PATH_MAX + 16], buf[512 + PATH_MAX];
	int n, rc;

	snprintf(path, sizeof(path), "%s/%s", l->dir, LOCAL_CONF);
	n = snprintf(
	    buf, sizeof(buf),
	    "# Layout of an 'ais local' cluster, written by 'ais local "
	    "up'\n"
	    "# and read by 'ais local up|down|status --dir DIR'.\n"
	    "# Node I listens on host:port+I, its Raft on "
	    "host:port+nodes+I;\n# its data is in nodeI/mpJ.\n"
	    "# Node I's S3 endpoint is on s3_port+I (0: none).\n"
	    "# auth = on: the nodes need tokens (secret, token, "
	    "admin.password).\n"
	    "# tls = on: the nodes speak TLS (ca.pem, nodeI/tls.crt).\n"
	    "host = %s\nport = %u\nnodes = %u\nmountpaths = %u\n"
	    "s3_port = %u\nauth = %s\ntls = %s\n%s%s%s",
	    LOCAL_HOST, l->port, l->nodes, l->mountpaths, l->s3_port,
	    l->auth ? "on" : "off", l->tls ? "on" : "off",
	    l->etl_dir[0] ? "etl_dir = " : "", l->etl_dir,
	    l->etl_dir[0] ? "\n" : "");
	rc = ais_file_replace(path, buf, (size_t)n, 0644);
	if (rc < 0)
		return ais_errf(errmsg, rc, "writing %s: %s", path,
				strerror(-rc));
	return 0;
}

/* ---- processes ------------------------------------------------------------
 */

/* Reads up to len-1 bytes of a small file; returns the count or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	ssize_t n = ais_read_file(path, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

int local_pid_alive(pid_t pid)
{
	char path[64], buf[512], *s;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return 0;
	/* kill() succeeds on a zombie nobody reaped yet: look at its state. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) > 0) {
		s = strrchr(buf, ')');
		if (s && s[1] == ' ' && (s[2] == 'Z' || s[2] == 'X'))
			return 0;
	}
	return 1;
}

pid_t local_node_pid(const struct local_layout *l, unsigned i)
{
	char pidfile[PATH_MAX + 32], path[64], cmd[8192];
	char *end, *s;
	long pid;
	ssize_t n;

	local_node_path(l, i, "aisd.pid", pidfile, sizeof(pidfile));
	if (read_small(pidfile, cmd, 32) <= 0)
		return 0;
	errno = 0;
	pid = strtol(cmd, &end, 10);
	if (errno || end == cmd || pid <= 0 || pid > INT32_MAX)
		return 0;
	if (!local_pid_alive((pid_t)pid))
		return 0;
	/* A reused pid belongs to some other program: ours was started with
	 * --pidfile PIDFILE. Without /proc we trust kill(). */
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	n = read_small(path, cmd, sizeof(cmd));
	if (n < 0)
		return n == -ENOENT ? 0 : (pid_t)pid;
	for (s = cmd; s < cmd + n; s += strlen(s) + 1)
		if (!strcmp(s, pidfile))
			return (pid_t)pid;
	return 0;
}

static int exe_ok(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

int local_find_aisd(char *buf, size_t len, char *errmsg)
{
	static const char *const rel[] = {"aisd", "../daemon/aisd",
					  "../sbin/aisd"};
	const char *env = getenv("AIS_AISD"), *path;
	char self[PATH_MAX], cand[PATH_MAX + 32], *slash, *copy, *tok, *save;
	ssize_t n;
	size_t i;

	if (env && env[0]) {
		if (!exe_ok(env))
			return ais_errf(errmsg, -ENOENT,
					"AIS_AISD=%s is not an executable",
					env);
		snprintf(buf, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				snprintf(cand, sizeof(cand), "%s/%s", self,
					 rel[i]);
				if (exe_ok(cand)) {
					if (!realpath(cand, buf) ||
					    strlen(buf) >= len)
						snprintf(buf, len, "%s", cand);
					return 0;
				}
			}
		}
	}
	path = getenv("PATH");
	copy = strdup(path && path[0] ? path : "/usr/local/sbin:/usr/sbin");
	if (!copy)
		return ais_errf(errmsg, -ENOMEM, "finding aisd");
	for (tok = strtok_r(copy, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save)) {
		snprintf(cand, sizeof(cand), "%s/aisd", tok);
		if (exe_ok(cand)) {
			snprintf(buf, len, "%s", cand);
			free(copy);
			return 0;
		}
	}
	free(copy);
	return ais_errf(errmsg, -ENOENT,
			"cannot find aisd (set AIS_AISD=/path/to/aisd)");
}

int local_find_etl_dir(const char *aisd, char *buf)
{
	static const char *const rel[] = {"../etl", "../libexec/aisfs/etl"};
	char dir[PATH_MAX], cand[PATH_MAX + 32], *slash;
	struct stat st;
	size_t i;

	snprintf(dir, sizeof(dir), "%s", aisd);
	slash = strrchr(dir, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/%s", dir, rel[i]);
		if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode) &&
		    realpath(cand, buf))
			return 0;
	}
	return -ENOENT;
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void child_exec(const char *nodedir, const char *logpath,
		       const char *aisd, char **argv, int errfd)
{
	int fd, err;

	setsid();
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (chdir(nodedir) < 0)
		goto fail;
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
		goto fail;
	if (fd != STDIN_FILENO)
		close(fd);
	fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0)
		goto fail;
	if (fd > STDERR_FILENO)
		close(fd);
	/* Every other descriptor is O_CLOEXEC or closed by exec below. */
	execv(aisd, argv);
fail:
	err = errno;
	if (write(errfd, &err, sizeof(err)) < 0) {
		/* Nothing left to tell anyone. */
	}
	_exit(127);
}

/* A SIGKILLed multi-threaded aisd first becomes a zombie leader whose other
 * threads are still exiting and still hold its files (the mountpath lock):
 * wait, bounded, until only the leader is left before starting a successor
 * on the same mountpaths. */
static void wait_threads_gone(const char *pidfile)
{
	char buf[32], task[64];
	long pid;
	int tries;

	if (read_small(pidfile, buf, sizeof(buf)) <= 0)
		return;
	pid = strtol(buf, NULL, 10);
	if (pid <= 0 || pid > INT32_MAX)
		return;
	snprintf(task, sizeof(task), "/proc/%ld/task", pid);
	for (tries = 0; tries < 100; tries++) {
		DIR *d = opendir(task);
		struct dirent *e;
		int n = 0;

		if (d == NULL)
			return;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		if (n <= 1)
			return;
		usleep(100 * 1000);
	}
}

int local_spawn(const struct local_layout *l, unsigned i, const char *aisd,
		const char *log_level, const char *config, pid_t *pid_out,
		char *errmsg)
{
	char nodedir[PATH_MAX], logpath[PATH_MAX + 16], pidfile[PATH_MAX + 16];
	char mp[LOCAL_MPATHS_MAX][PATH_MAX + 16], port[16], rport[16], when[64];
	char s3port[16], secret[PATH_MAX + 16], ca[PATH_MAX + 16];
	char cert[PATH_MAX + 16], key[PATH_MAX + 16];
	char *seeds = NULL, *argv[32 + 2 * LOCAL_MPATHS_MAX];
	int pfd[2], err = 0, argc = 0, rc;
	size_t seedlen = (size_t)l->nodes * 24 + 1, off = 0;
	unsigned j;
	FILE *log;
	ssize_t n;
	pid_t pid;
	time_t now = time(NULL);

	local_node_path(l, i, NULL, nodedir, sizeof(nodedir));
	local_node_path(l, i, "aisd.log", logpath, sizeof(logpath));
	local_node_path(l, i, "aisd.pid", pidfile, sizeof(pidfile));
	wait_threads_gone(pidfile);
	for (j = 0; j < l->mountpaths; j++) {
		char leaf[16];

		snprintf(leaf, sizeof(leaf), "mp%u", j);
		local_node_path(l, i, leaf, mp[j], sizeof(mp[j]));
		rc = xfer_mkdir_p(mp[j], errmsg);
		if (rc < 0)
			return rc;
	}
	seeds = malloc(seedlen);
	if (!seeds)
		return ais_errf(errmsg, -ENOMEM, "seed list");
	for (j = 0; j < l->nodes; j++)
		off += (size_t)snprintf(seeds + off, seedlen - off, "%s%s:%u",
					j ? "," : "", LOCAL_HOST, l->port + j);
	snprintf(port, sizeof(port), "%u", l->port + i);
	snprintf(rport, sizeof(rport), "%u", l->port + l->nodes + i);

	argv[argc++] = (char *)aisd;
	argv[argc++] = (char *)"-l";
	argv[argc++] = (char *)LOCAL_HOST;
	argv[argc++] = (char *)"-p";
	argv[argc++] = port;
	argv[argc++] = (char *)"--raft-port";
	argv[argc++] = rport;
	for (j = 0; j < l->mountpaths; j++) {
		argv[argc++] = (char *)"-m";
		argv[argc++] = mp[j];
	}
	argv[argc++] = (char *)"-s";
	argv[argc++] = seeds;
	argv[argc++] = (char *)"--pidfile";
	argv[argc++] = pidfile;
	if (l->etl_dir[0]) {
		argv[argc++] = (char *)"--etl-dir";
		argv[argc++] = (char *)l->etl_dir;
	}
	if (l->auth) {
		snprintf(secret, sizeof(secret), "%s/%s", l->dir, LOCAL_SECRET);
		argv[argc++] = (char *)"--auth-secret-file";
		argv[argc++] = secret;
	}
	if (l->tls) {
		snprintf(ca, sizeof(ca), "%s/%s", l->dir, LOCAL_CA);
		local_node_path(l, i, LOCAL_NODE_CERT, cert, sizeof(cert));
		local_node_path(l, i, LOCAL_NODE_KEY, key, sizeof(key));
		argv[argc++] = (char *)"--tls-ca-file";
		argv[argc++] = ca;
		argv[argc++] = (char *)"--tls-cert-file";
		argv[argc++] = cert;
		argv[argc++] = (char *)"--tls-key-file";
		argv[argc++] = key;
	}
	if (l->s3_port) {
		snprintf(s3port, sizeof(s3port), "%u", l->s3_port + i);
		argv[argc++] = (char *)"--s3-port";
		argv[argc++] = s3port;
	}
	if (config) {
		argv[argc++] = (char *)"-c";
		argv[argc++] = (char *)config;
	}
	if (log_level) {
		argv[argc++] = (char *)"--log-level";
		argv[argc++] = (char *)log_level;
	}
	argv[argc] = NULL;

	/* A stale pidfile would make the node look alive to a later check. */
	unlink(pidfile);
	log = fopen(logpath, "ae");
	if (log) {
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
			 localtime(&now));
		fprintf(log, "=== %s ais local up: starting node%u:", when, i);
		for (j = 0; j < (unsigned)argc; j++)
			fprintf(log, " %s", argv[j]);
		fputc('\n', log);
		fclose(log);
	}

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = ais_errf(errmsg, -errno, "pipe");
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = ais_errf(errmsg, -errno, "fork");
		close(pfd[0]);
		close(pfd[1]);
		goto out;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_exec(nodedir, logpath, aisd, argv, pfd[1]);
	}
	close(pfd[1]);
	/* EOF: exec succeeded (the pipe closed on exec); else the errno. */
	do {
		n = read(pfd[0], &err, sizeof(err));
	} while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(err)) {
		waitpid(pid, NULL, 0);
		rc =
		    ais_errf(errmsg, -err, "cannot run %s for node%u", aisd, i);
		goto out;
	}
	*pid_out = pid;
	rc = 0;
out:
	free(seeds);
	return rc;
}

void local_log_tail(const struct local_layout *l, unsigned i, FILE *out,
		    unsigned lines)
{
	char path[PATH_MAX + 16], buf[8192], *s, *start;
	struct stat st;
	unsigned seen = 0;
	off_t off;
	ssize_t n;
	int fd;

	local_node_path(l, i, "aisd.log", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(out, "  (no log: %s: %s)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	off = st.st_size > (off_t)sizeof(buf) - 1
		  ? st.st_size - (off_t)sizeof(buf) + 1
		  : 0;
	n = pread(fd, buf, sizeof(buf) - 1, off);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (start = buf + n; start > buf; start--)
		if (start[-1] == '\n' && ++seen == lines)
			break;
	fprintf(out, "  --- last lines of %s ---\n", path);
	for (s = strtok(start, "\n"); s; s = strtok(NULL, "\n"))
		fprintf(out, "  | %s\n", s);
}

static int rm_cb(const char *path, const struct stat *sb, int type,
		 struct FTW *ftw)
{
	if (type == FTW_DP || type == FTW_D)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int local_rm_rf(const char *dir, char *errmsg)
{
	if (nftw(dir, rm_cb, 32, FTW_DEPTH | FTW_PHYS) < 0)
		return ais_errf(errmsg, -errno, "removing %s", dir);
	return 0;
}

#define LOCAL_CA_DAYS	(10 * 366) /* the CA of a local cluster */
#define LOCAL_NODE_DAYS 366	   /* a node's certificate, renewed by up */

int local_tls_ensure(const struct local_layout *l, bool *renewed, char *errmsg)
{
	static const char *const sans[] = {LOCAL_HOST, "localhost", "::1"};
	char ca[PATH_MAX + 16], cakey[PATH_MAX + 16], cn[64];
	char cert[PATH_MAX + 16], key[PATH_MAX + 16];
	unsigned i;
	int rc;

	snprintf(ca, sizeof(ca), "%s/%s", l->dir, LOCAL_CA);
	snprintf(cakey, sizeof(cakey), "%s/%s", l->dir, LOCAL_CA_KEY);
	if (access(ca, F_OK) < 0) {
		rc = ais_tls_make_ca(ca, cakey, "aisfs local cluster CA",
				     LOCAL_CA_DAYS, errmsg);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < l->nodes; i++) {
		char nodedir[PATH_MAX];

		local_node_path(l, i, NULL, nodedir, sizeof(nodedir));
		rc = xfer_mkdir_p(nodedir, errmsg);
		if (rc < 0)
			return rc;
		local_node_path(l, i, LOCAL_NODE_CERT, cert, sizeof(cert));
		local_node_path(l, i, LOCAL_NODE_KEY, key, sizeof(key));
		if (access(key, F_OK) == 0 &&
		    ais_tls_cert_seconds_left(cert, NULL) > 30 * 86400LL)
			continue;
		snprintf(cn, sizeof(cn), "node%u", i);
		rc = ais_tls_make_cert(ca, cakey, cert, key, cn, sans, 3,
				       LOCAL_NODE_DAYS, errmsg);
		if (rc < 0)
			return rc;
		renewed[i] = true;
	}
	return 0;
}

int local_tls_ca_copy_path(const struct local_layout *l, unsigned i, char *out,
			   size_t cap, char *errmsg)
{
	char rel[64];
	int rc;

	snprintf(rel, sizeof(rel), "ca/%s:%u.pem", LOCAL_HOST, l->port + i);
	rc = ais_config_path(rel, out, cap);
	if (rc < 0)
		return ais_errf(errmsg, rc, "no home directory for the CA");
	return 0;
}

int local_copy_file(const char *src, const char *dst, char *errmsg)
{
	char buf[65536], dir[PATH_MAX];
	char *slash;
	ssize_t n;
	int fd, rc;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ais_errf(errmsg, -errno, "%s: %s", src, strerror(errno));
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return ais_errf(errmsg, -errno, "%s: %s", src, strerror(errno));
	snprintf(dir, sizeof(dir), "%s", dst);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = xfer_mkdir_p(dir, errmsg);
		if (rc < 0)
			return rc;
		/* Clients take a CA only from a directory that is theirs
		 * alone (client.h). */
		(void)chmod(dir, 0700);
	}
	rc = ais_file_replace(dst, buf, (size_t)n, 0644);
	if (rc < 0)
		return ais_errf(errmsg, rc, "%s: %s", dst, strerror(-rc));
	return 0;
}
