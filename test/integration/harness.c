/* Harness for the C integration tests; see harness.h. One file over ~800
 * lines because it is one fixture: the cluster's processes, the test data
 * and the raw-frame helpers share its state (the cluster directory, ports,
 * the client), and every C test links all of it. */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "fileio.h"
#include "tls.h"
#include "frame.h"
#include "hash.h"

extern char **environ;

/* The one cluster of this process, for the atexit and signal teardown. */
/* Ports of aisd processes started by ais_test_spawn_aisd: plain TCP. */
static uint16_t plain_ports[AIS_TEST_MAX_PIDS];
static int n_plain_ports;

static struct ais_test_cluster *the_tc;
/* Pids to SIGKILL from a signal handler (nodes and lone aisds). */
static volatile pid_t kill_pids[AIS_TEST_MAX_PIDS * 2];
static volatile int n_kill_pids;

static const char *env_or_die(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr,
			"harness: $%s is not set (run through meson "
			"test)\n",
			name);
		return NULL;
	}
	return v;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Reaps every exited child (orphaned aisd processes are reparented to us). */
static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Whether pid is still running in any sense that matters: a process killed
 * with many threads first turns its leader into a zombie while the other
 * threads are still exiting and still hold its files (and flock()s), so
 * "gone" means reaped, or a zombie whose /proc/PID/task lists only itself
 * (for a zombie that is not our child and that nobody reaps). */
static bool alive(pid_t pid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd, tasks = 0;
	char *p;
	DIR *d;
	struct dirent *e;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || (p[2] != 'Z' && p[2] != 'X'))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			tasks++;
	closedir(d);
	return tasks > 1;
}

/* Waits (up to timeout_ms) until pid is gone (see alive()) and reaps it
 * when it is our child. Returns 0 or -ETIMEDOUT. */
static int wait_gone(pid_t pid, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		reap_all();
		if (!alive(pid))
			break;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		sleep_ms(20);
	}
	/* A zombie that is ours: reap it now that its threads are gone. */
	for (int i = 0; i < 100 && kill(pid, 0) == 0; i++) {
		if (waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		sleep_ms(10);
	}
	return 0;
}

static void remember_pid(pid_t pid)
{
	for (int i = 0; i < n_kill_pids; i++)
		if (kill_pids[i] == pid)
			return;
	if (n_kill_pids < (int)(sizeof(kill_pids) / sizeof(kill_pids[0])))
		kill_pids[n_kill_pids++] = pid;
}

/* Writes the last 50 lines of path to stderr with only async-signal-safe
 * calls (used from the fatal-signal handler too). */
static void print_tail(const char *path)
{
	static char buf[16384];
	off_t size, start;
	ssize_t n;
	int fd, lines = 0;
	ssize_t from;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	start = size > (off_t)sizeof(buf) ? size - (off_t)sizeof(buf) : 0;
	if (size < 0 || lseek(fd, start, SEEK_SET) < 0) {
		close(fd);
		return;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return;
	from = n;
	while (from > 0) {
		if (buf[from - 1] == '\n' && from != n && ++lines == 50)
			break;
		from--;
	}
	(void)!write(2, "==== last 50 lines of ", 22);
	(void)!write(2, path, strlen(path));
	(void)!write(2, " ====\n", 6);
	(void)!write(2, buf + from, (size_t)(n - from));
	if (buf[n - 1] != '\n')
		(void)!write(2, "\n", 1);
}

static void print_logs(struct ais_test_cluster *tc)
{
	char path[PATH_MAX + 64];

	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "%s/node%d/aisd.log",
			 tc->cluster_dir, i);
		if (access(path, R_OK) == 0)
			print_tail(path);
	}
	for (int i = 0; i < tc->n_extra; i++) {
		snprintf(path, sizeof(path), "%s/aisd-%d.log", tc->dir, i);
		if (access(path, R_OK) == 0)
			print_tail(path);
	}
}

/* Prints the sanitizer reports in path (from the first report line, up to
 * 200 lines); returns whether there was one. */
static bool scan_sanitizer(const char *path)
{
	static const char *const marks[] = {
	    "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
	    "runtime error:",	       "WARNING: ThreadSanitizer",
	    "ERROR: ThreadSanitizer",
	};
	FILE *f = fopen(path, "r");
	char line[1024];
	int printing = 0;
	bool found = false;

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		for (size_t i = 0;
		     !printing && i < sizeof(marks) / sizeof(marks[0]); i++) {
			if (strstr(line, marks[i]) != NULL) {
				if (!found)
					fprintf(stderr,
						"==== sanitizer report in %s "
						"====\n",
						path);
				found = true;
				printing = 200;
			}
		}
		if (printing > 0) {
			fputs(line, stderr);
			printing--;
		}
	}
	fclose(f);
	return found;
}

static bool scan_logs(struct ais_test_cluster *tc)
{
	char path[PATH_MAX + 64];
	bool found = false;

	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "%s/node%d/aisd.log",
			 tc->cluster_dir, i);
		found |= scan_sanitizer(path);
	}
	for (int i = 0; i < tc->n_extra; i++) {
		snprintf(path, sizeof(path), "%s/aisd-%d.log", tc->dir, i);
		found |= scan_sanitizer(path);
	}
	return found;
}

static void fatal_signal(int sig)
{
	for (int i = 0; i < n_kill_pids; i++)
		if (kill_pids[i] > 0)
			kill(kill_pids[i], SIGKILL);
	if (the_tc != NULL) {
		(void)!write(2, "harness: fatal signal, nodes killed\n", 36);
		for (int i = 0; i < 10; i++) {
			char path[PATH_MAX + 64];
			/* snprintf is not async-signal-safe in theory; the
			 * process is dying anyway and the logs matter. */
			snprintf(path, sizeof(path), "%s/node%d/aisd.log",
				 the_tc->cluster_dir, i);
			print_tail(path);
		}
	}
	/* Unmounts and the like (umount2 is a plain system call). */
	if (the_tc != NULL)
		while (the_tc->n_hooks > 0) {
			the_tc->n_hooks--;
			the_tc->hook[the_tc->n_hooks](
			    the_tc->hook_arg[the_tc->n_hooks]);
		}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void at_exit(void)
{
	if (the_tc != NULL)
		ais_test_teardown(the_tc);
}

bool ais_test_require_all(void)
{
	const char *f = getenv("AIS_TEST_REQUIRE_FUSE");
	const char *ci = getenv("CI");

	return (f != NULL && strcmp(f, "1") == 0) ||
	       (ci != NULL && strcmp(ci, "true") == 0);
}

static bool port_free(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* A random multiple of 20 in 20000..39980 (below the ephemeral ports) with
 * twenty free ports (nodes on base+I, their Raft on base+N+I), reserved by
 * an atomic mkdir of a lock dir that concurrent tests (C or shell) honour;
 * a lock whose owner died is reclaimed. */
static int pick_port(struct ais_test_cluster *tc)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	unsigned seed = (unsigned)getpid() ^ (unsigned)now_ms();
	int top = 40000, eph = 0;
	FILE *pr = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	/* Stay below the kernel's ephemeral range when it starts inside
	 * ours, so that no outgoing connection takes a node's port. */
	if (pr != NULL) {
		if (fscanf(pr, "%d", &eph) == 1 && eph > 21000 && eph < 40000)
			top = eph;
		fclose(pr);
	}
	for (int tries = 0; tries < 200; tries++) {
		uint16_t base =
		    (uint16_t)(20000 +
			       (rand_r(&seed) % ((top - 20000) / 20)) * 20);
		char pidf[PATH_MAX + 16];
		bool ok = true;
		FILE *f;

		snprintf(tc->lock, sizeof(tc->lock), "%s/ais-test-port-%u.lock",
			 tmp, base);
		if (mkdir(tc->lock, 0700) < 0) {
			int owner = 0;

			snprintf(pidf, sizeof(pidf), "%s/pid", tc->lock);
			f = fopen(pidf, "r");
			if (f != NULL) {
				if (fscanf(f, "%d", &owner) != 1)
					owner = 0;
				fclose(f);
			}
			if (owner > 0 && kill(owner, 0) < 0 && errno == ESRCH) {
				unlink(pidf);
				rmdir(tc->lock);
			}
			continue;
		}
		snprintf(pidf, sizeof(pidf), "%s/pid", tc->lock);
		f = fopen(pidf, "w");
		if (f != NULL) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
		for (int i = 0; i < 20 && ok; i++)
			ok = port_free((uint16_t)(base + i));
		if (ok) {
			tc->port = base;
			return 0;
		}
		unlink(pidf);
		rmdir(tc->lock);
	}
	tc->lock[0] = '\0';
	fprintf(stderr, "harness: no free port range in 20000-39999\n");
	return -EADDRINUSE;
}

int ais_test_init(struct ais_test_cluster *tc, const char *name)
{
	const char *ais = env_or_die("AIS");
	const char *aisd = env_or_die("AISD");
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct sigaction sa;
	static const int sigs[] = {SIGINT,  SIGTERM, SIGHUP, SIGSEGV,
				   SIGABRT, SIGBUS,  SIGFPE, SIGILL};
	int rc;

	if (ais == NULL || aisd == NULL)
		return -EINVAL;
	if (the_tc != NULL)
		return -EBUSY;
	snprintf(tc->name, sizeof(tc->name), "%s", name);
	setenv("AIS_AISD", aisd, 1);
	/* Detached nodes whose `ais local up` parent exited are reparented
	 * to us, so that we reap them (PID 1 may not) and a killed node is
	 * not mistaken for a live zombie. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		fprintf(stderr, "harness: PR_SET_CHILD_SUBREAPER: %s\n",
			strerror(errno));
	snprintf(tc->dir, sizeof(tc->dir), "%s/ais-test-%s.XXXXXX", tmp, name);
	if (mkdtemp(tc->dir) == NULL) {
		rc = -errno;
		fprintf(stderr, "harness: mkdtemp %s: %s\n", tc->dir,
			strerror(errno));
		return rc;
	}
	snprintf(tc->cluster_dir, sizeof(tc->cluster_dir), "%s/cluster",
		 tc->dir);
	rc = pick_port(tc);
	if (rc < 0) {
		rmdir(tc->dir);
		return rc;
	}
	snprintf(tc->endpoint, sizeof(tc->endpoint), "127.0.0.1:%u", tc->port);
	setenv("AIS_ENDPOINT", tc->endpoint, 1);
	{
		/* ais local up saves its admin token here, where the test's
		 * clients find it. */
		char xdg[PATH_MAX];

		snprintf(xdg, sizeof(xdg), "%s/xdg", tc->dir);
		setenv("XDG_CONFIG_HOME", xdg, 1);
	}
	signal(SIGPIPE, SIG_IGN);

	the_tc = tc;
	atexit(at_exit);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fatal_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	fprintf(stderr, "# %s: temp dir %s, port %u\n", name, tc->dir,
		tc->port);
	return 0;
}

int ais_test_run(struct ais_test_cluster *tc, const char *tag,
		 char *const argv[], int timeout_s)
{
	posix_spawn_file_actions_t fa;
	char out[PATH_MAX + 64];
	uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000;
	pid_t pid;
	int rc, st;

	snprintf(out, sizeof(out), "%s/%s.out", tc->dir, tag);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out,
					 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "harness: spawn %s: %s\n", argv[0],
			strerror(rc));
		return -rc;
	}
	for (;;) {
		/* Reap anything: orphaned nodes die while we wait. */
		pid_t r = waitpid(-1, &st, WNOHANG);

		if (r == pid)
			break;
		if (r > 0)
			continue;
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fprintf(stderr, "harness: %s timed out after %d s\n",
				argv[0], timeout_s);
			print_tail(out);
			return -ETIMEDOUT;
		}
		sleep_ms(20);
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return -EINTR;
}

const char *ais_test_node_dir(struct ais_test_cluster *tc, int i, char *buf,
			      size_t len)
{
	snprintf(buf, len, "%s/node%d", tc->cluster_dir, i);
	return buf;
}

uint16_t ais_test_node_port(struct ais_test_cluster *tc, int i)
{
	return (uint16_t)(tc->port + i);
}

pid_t ais_test_node_pid(struct ais_test_cluster *tc, int i)
{
	char path[PATH_MAX + 64];
	FILE *f;
	int pid = -1;

	snprintf(path, sizeof(path), "%s/node%d/aisd.pid", tc->cluster_dir, i);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%d", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

static void remember_node_pids(struct ais_test_cluster *tc)
{
	for (int i = 0; i < tc->nodes; i++) {
		pid_t p = ais_test_node_pid(tc, i);

		if (p > 0)
			remember_pid(p);
	}
}

static int local_up(struct ais_test_cluster *tc, int nodes)
{
	const char *ais = getenv("AIS");
	char nbuf[16], pbuf[16];
	char *argv_new[] = {(char *)ais, (char *)"local", (char *)"up",
			    (char *)"--dir", tc->cluster_dir, (char *)"--port",
			    pbuf, (char *)"--nodes", nbuf,
			    /* The C tests reserve port..port+9 only. */
			    (char *)"--s3-port", (char *)"0", NULL};
	char *argv_again[] = {(char *)ais,     (char *)"local", (char *)"up",
			      (char *)"--dir", tc->cluster_dir, NULL};
	char out[PATH_MAX + 64];
	int rc;

	snprintf(nbuf, sizeof(nbuf), "%d", nodes);
	snprintf(pbuf, sizeof(pbuf), "%u", tc->port);
	rc =
	    ais_test_run(tc, "local-up", nodes > 0 ? argv_new : argv_again, 90);
	remember_node_pids(tc);
	if (rc != 0) {
		snprintf(out, sizeof(out), "%s/local-up.out", tc->dir);
		print_tail(out);
		fprintf(stderr, "harness: ais local up failed (%d)\n", rc);
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

int ais_test_cluster_up(struct ais_test_cluster *tc, int nodes)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_client_opts o;
	int rc;

	tc->nodes = nodes;
	tc->up = true;
	rc = local_up(tc, nodes);
	if (rc < 0) {
		tc->failed = true;
		return rc;
	}
	ais_client_opts_default(&o);
	o.io_timeout_ms = 60000;
	tc->client = ais_client_new(tc->endpoint, &o, msg);
	if (tc->client == NULL) {
		tc->failed = true;
		fprintf(stderr, "harness: client: %s\n", msg);
		return -ECONNREFUSED;
	}
	/* The map must list every node (ais local up waited for that). */
	for (int i = 0;
	     i < 50 && ais_client_node_count(tc->client) < (size_t)nodes; i++) {
		sleep_ms(100);
		ais_client_refresh_map(tc->client, NULL);
	}
	if (ais_client_node_count(tc->client) != (size_t)nodes) {
		tc->failed = true;
		fprintf(stderr, "harness: map has %zu nodes, want %d\n",
			ais_client_node_count(tc->client), nodes);
		return -EIO;
	}
	return 0;
}

int ais_test_node_kill(struct ais_test_cluster *tc, int i, int sig)
{
	pid_t pid = ais_test_node_pid(tc, i);

	if (pid <= 0)
		return -ESRCH;
	if (kill(pid, sig) < 0)
		return -errno;
	if (sig != SIGKILL && sig != SIGTERM && sig != SIGINT)
		return 0;
	return wait_gone(pid, 15000);
}

int ais_test_node_restart(struct ais_test_cluster *tc)
{
	char msg[AIS_ERRMSG_LEN] = "";
	int rc;

	reap_all();
	rc = local_up(tc, 0);
	if (rc < 0)
		return rc;
	if (tc->client != NULL && ais_client_refresh_map(tc->client, msg) < 0)
		fprintf(stderr, "harness: refresh map: %s\n", msg);
	return 0;
}

pid_t ais_test_spawn_aisd(struct ais_test_cluster *tc, const char *tag,
			  uint16_t port, const char *mountpath)
{
	const char *aisd = getenv("AISD");
	posix_spawn_file_actions_t fa;
	char pbuf[16], rbuf[16], log[PATH_MAX + 64], pidfile[PATH_MAX + 64];
	char *argv[] = {(char *)aisd,
			(char *)"-l",
			(char *)"127.0.0.1",
			(char *)"-p",
			pbuf,
			(char *)"-m",
			(char *)mountpath,
			(char *)"--pidfile",
			pidfile,
			(char *)"--raft-port",
			rbuf,
			NULL};
	uint64_t deadline = now_ms() + 10000;
	pid_t pid;
	int rc;

	(void)tag;
	if (tc->n_extra >= AIS_TEST_MAX_PIDS)
		return -ENOSPC;
	snprintf(pbuf, sizeof(pbuf), "%u", port);
	snprintf(rbuf, sizeof(rbuf), "%u", port + 10);
	snprintf(log, sizeof(log), "%s/aisd-%d.log", tc->dir, tc->n_extra);
	snprintf(pidfile, sizeof(pidfile), "%s/aisd-%d.pid", tc->dir,
		 tc->n_extra);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log,
					 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawn(&pid, aisd, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -rc;
	tc->extra[tc->n_extra++] = pid;
	remember_pid(pid);
	if (n_plain_ports < AIS_TEST_MAX_PIDS)
		plain_ports[n_plain_ports++] = port;
	while (now_ms() < deadline) {
		int fd, st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "harness: aisd exited at start\n");
			print_tail(log);
			tc->extra[--tc->n_extra] = 0;
			return -ECHILD;
		}
		fd = ais_test_connect(port);
		if (fd >= 0) {
			char ep[64], msg[AIS_ERRMSG_LEN];
			struct ais_client_opts o;
			struct ais_client *c;

			ais_test_close(fd);
			/* Listening is not serving: the node first makes or
			 * joins its cluster (a map). */
			snprintf(ep, sizeof(ep), "127.0.0.1:%u", port);
			ais_client_opts_default(&o);
			o.ca_file = "none"; /* it runs without TLS */
			c = ais_client_new(ep, &o, msg);
			if (c) {
				ais_client_free(c);
				return pid;
			}
		}
		sleep_ms(50);
	}
	print_tail(log);
	return -ETIMEDOUT;
}

static int rm_one(const char *path, const struct stat *sb, int type,
		  struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void ais_test_teardown(struct ais_test_cluster *tc)
{
	const char *ais = getenv("AIS");

	if (tc->dir[0] == '\0')
		return;
	if (tc->failed)
		print_logs(tc);
	if (tc->client != NULL) {
		ais_client_free(tc->client);
		tc->client = NULL;
	}
	if (tc->up && ais != NULL) {
		char *argv[] = {(char *)ais,	 (char *)"local",
				(char *)"down",	 (char *)"--dir",
				tc->cluster_dir, NULL};

		if (ais_test_run(tc, "local-down", argv, 40) != 0)
			fprintf(stderr, "harness: ais local down failed\n");
		tc->up = false;
	}
	for (int i = 0; i < tc->n_extra; i++) {
		if (tc->extra[i] > 0 && alive(tc->extra[i])) {
			kill(tc->extra[i], SIGTERM);
			for (int k = 0; k < 100 && alive(tc->extra[i]); k++) {
				reap_all();
				sleep_ms(50);
			}
			if (alive(tc->extra[i]))
				kill(tc->extra[i], SIGKILL);
		}
	}
	/* Whatever is left (a node restarted under a new pid, a failed
	 * down): SIGKILL. */
	remember_node_pids(tc);
	for (int i = 0; i < n_kill_pids; i++)
		if (alive(kill_pids[i]))
			kill(kill_pids[i], SIGKILL);
	sleep_ms(50);
	reap_all();
	if (scan_logs(tc))
		tc->sanitizer_report = true;
	while (tc->n_hooks > 0) {
		tc->n_hooks--;
		tc->hook[tc->n_hooks](tc->hook_arg[tc->n_hooks]);
	}
	nftw(tc->dir, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (rmdir(tc->dir) < 0 && errno != ENOENT)
		fprintf(stderr, "harness: could not remove %s: %s\n", tc->dir,
			strerror(errno));
	if (tc->lock[0]) {
		char pidf[PATH_MAX + 16];

		snprintf(pidf, sizeof(pidf), "%s/pid", tc->lock);
		unlink(pidf);
		rmdir(tc->lock);
		tc->lock[0] = '\0';
	}
	tc->dir[0] = '\0';
	if (the_tc == tc)
		the_tc = NULL;
}

void ais_test_on_teardown(struct ais_test_cluster *tc, void (*fn)(void *),
			  void *arg)
{
	if (tc->n_hooks < 8) {
		tc->hook[tc->n_hooks] = fn;
		tc->hook_arg[tc->n_hooks++] = arg;
	}
}

long ais_test_vmhwm_kib(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int ais_test_main(struct ais_test_cluster *tc, const char *name, int nodes,
		  Suite *s)
{
	char msg[AIS_ERRMSG_LEN] = "";
	SRunner *sr;
	int failed, rc;

	if (ais_test_init(tc, name) < 0)
		return 1;
	if (nodes > 0) {
		if (ais_test_cluster_up(tc, nodes) < 0) {
			fprintf(stderr, "FAIL: the cluster did not come up\n");
			ais_test_teardown(tc);
			return 1;
		}
		rc = ais_client_bucket_create(tc->client, "test", msg);
		if (rc < 0) {
			fprintf(stderr, "FAIL: bucket create test: %s\n", msg);
			tc->failed = true;
			ais_test_teardown(tc);
			return 1;
		}
	}
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_VERBOSE);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tc->failed = failed > 0;
	ais_test_teardown(tc);
	if (tc->sanitizer_report)
		fprintf(stderr, "FAIL: a node reported a sanitizer error\n");
	return failed == 0 && !tc->sanitizer_report ? 0 : 1;
}

/* ---- deterministic data ------------------------------------------------ */

void ais_test_fill(uint64_t seed, uint64_t off, void *buf, size_t len)
{
	unsigned char *p = buf;
	uint64_t key = ais_mix64(seed);

	while (len > 0) {
		uint64_t block = off / 8, v = ais_mix64(key ^ block);
		size_t in = (size_t)(off % 8), n = 8 - in;

		if (n > len)
			n = len;
		if (in == 0 && n == 8) {
			memcpy(p, &v, 8);
		} else {
			unsigned char b[8];

			memcpy(b, &v, 8);
			memcpy(p, b + in, n);
		}
		p += n;
		off += n;
		len -= n;
	}
}

ssize_t ais_test_gen_read(void *arg, void *buf, size_t len)
{
	struct ais_test_gen *g = arg;
	uint64_t left = g->size - g->off;

	if (len > left)
		len = (size_t)left;
	ais_test_fill(g->seed, g->off, buf, len);
	g->off += len;
	return (ssize_t)len;
}

void ais_test_verify_init(struct ais_test_verify *v, uint64_t seed,
			  uint64_t off)
{
	v->seed = seed;
	v->off = off;
	v->got = 0;
	v->bad_at = -1;
}

int ais_test_verify_write(void *arg, const void *buf, size_t len)
{
	struct ais_test_verify *v = arg;
	const unsigned char *p = buf;
	unsigned char want[65536];

	while (len > 0) {
		size_t n = len < sizeof(want) ? len : sizeof(want);

		ais_test_fill(v->seed, v->off, want, n);
		if (v->bad_at < 0 && memcmp(want, p, n) != 0) {
			for (size_t i = 0; i < n; i++) {
				if (want[i] != p[i]) {
					v->bad_at = (int64_t)(v->off + i);
					break;
				}
			}
		}
		p += n;
		v->off += n;
		v->got += n;
		len -= n;
	}
	return 0;
}

void ais_test_stream_cksum(uint64_t seed, uint64_t size,
			   char hex[AIS_CKSUM_HEX_MAX])
{
	static unsigned char buf[1 << 20];
	XXH3_state_t *st = XXH3_createState();
	uint64_t off = 0;

	XXH3_64bits_reset(st);
	while (off < size) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off)
						    : sizeof(buf);

		ais_test_fill(seed, off, buf, n);
		XXH3_64bits_update(st, buf, n);
		off += n;
	}
	snprintf(hex, AIS_CKSUM_HEX_MAX, "%016llx",
		 (unsigned long long)XXH3_64bits_digest(st));
	XXH3_freeState(st);
}

/* ---- raw protocol ------------------------------------------------------ */

/* The client TLS configuration of the test cluster (its DIR/ca.pem), made
 * at the first connection; NULL for a cluster without TLS. */
static struct ais_tls *test_tls(uint16_t port)
{
	static struct ais_tls *t;
	static char made_for[PATH_MAX + 16];
	char ca[PATH_MAX + 16], msg[AIS_ERRMSG_LEN];
	struct ais_tls_files f = {ca, NULL, NULL};

	for (int i = 0; i < n_plain_ports; i++)
		if (plain_ports[i] == port)
			return NULL;
	if (!the_tc || !the_tc->cluster_dir[0])
		return NULL;
	snprintf(ca, sizeof(ca), "%s/ca.pem", the_tc->cluster_dir);
	if (access(ca, F_OK) < 0)
		return NULL;
	if (t && strcmp(made_for, ca) == 0)
		return t;
	if (ais_tls_new(AIS_TLS_CLIENT, &f, &t, msg)) {
		fprintf(stderr, "harness: TLS: %s\n", msg);
		return NULL;
	}
	snprintf(made_for, sizeof(made_for), "%s", ca);
	return t;
}

static int connect_tls(uint16_t port, struct ais_tls *t);

int ais_test_connect(uint16_t port)
{
	return connect_tls(port, test_tls(port));
}

int ais_test_connect_node(uint16_t port)
{
	static struct ais_tls *t;
	char ca[PATH_MAX + 16], cert[PATH_MAX + 16], key[PATH_MAX + 16];
	char msg[AIS_ERRMSG_LEN];
	struct ais_tls_files f = {ca, cert, key};

	if (!test_tls(port))
		return ais_test_connect(port);
	if (!t) {
		snprintf(ca, sizeof(ca), "%s/ca.pem", the_tc->cluster_dir);
		snprintf(cert, sizeof(cert), "%s/node0/tls.crt",
			 the_tc->cluster_dir);
		snprintf(key, sizeof(key), "%s/node0/tls.key",
			 the_tc->cluster_dir);
		if (ais_tls_new(AIS_TLS_CLIENT, &f, &t, msg)) {
			fprintf(stderr, "harness: TLS as a node: %s\n", msg);
			return -EINVAL;
		}
	}
	return connect_tls(port, t);
}

bool ais_test_tls(void)
{
	return the_tc && test_tls(the_tc->port) != NULL;
}

static int connect_tls(uint16_t port, struct ais_tls *t)
{
	int fd = ais_test_connect_plain(port);
	char msg[AIS_ERRMSG_LEN];
	struct ais_tls_conn *c;
	int rc;

	if (fd < 0 || !t)
		return fd;
	c = ais_tls_conn_new(t);
	rc = c ? ais_tls_handshake_fd(c, fd, 10000, msg) : -ENOMEM;
	if (!rc)
		rc = ais_tls_fd_set(fd, c);
	if (rc) {
		fprintf(stderr, "harness: TLS to port %u: %s\n", port,
			rc == -ENOMEM ? "out of memory" : msg);
		ais_tls_conn_free(c);
		close(fd);
		return rc;
	}
	return fd;
}

void ais_test_close(int fd)
{
	ais_tls_fd_close(fd);
}

int ais_test_write_all(int fd, const void *buf, size_t len)
{
	struct ais_tls_conn *c = ais_tls_fd_get(fd);

	if (c)
		return ais_tls_send(c, fd, buf, len, 10000);
	return ais_write_all(fd, buf, len);
}

int ais_test_read_all(int fd, void *buf, size_t len)
{
	struct ais_tls_conn *c = ais_tls_fd_get(fd);
	char *p = buf;

	if (!c)
		return ais_read_all(fd, buf, len);
	while (len > 0) {
		ssize_t n = ais_tls_recv(c, fd, p, len, 10000);

		if (n == -ECONNRESET)
			return -EIO; /* as ais_read_all says at EOF */
		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ais_test_connect_plain(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {10, 0};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

void ais_test_add_token(Ais__Request *q)
{
	static uint8_t tok[AIS_TOKEN_MAX];
	static size_t toklen;

	if (!q->token.len && the_tc && the_tc->up && !toklen) {
		char path[PATH_MAX + 16];

		snprintf(path, sizeof(path), "%s/token", the_tc->cluster_dir);
		if (ais_token_file_read(path, tok, &toklen, NULL))
			toklen = 0;
	}
	if (!q->token.len && toklen) {
		q->token.data = tok;
		q->token.len = toklen;
	}
}

int ais_test_send_req(int fd, uint32_t id, const Ais__Request *req,
		      const void *body, uint64_t body_len)
{
	Ais__Request q = *req;

	/* The cluster's admin token, unless the request has its own. */
	ais_test_add_token(&q);
	return ais_test_send_req_as(fd, id, &q, body, body_len);
}

int ais_test_send_req_as(int fd, uint32_t id, const Ais__Request *req,
			 const void *body, uint64_t body_len)
{
	static const unsigned char zeros[65536];
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = ais_frame_pack(id, 0, &req->base, body_len, &buf, &len);
	if (rc < 0)
		return rc;
	rc = ais_test_write_all(fd, buf, len);
	free(buf);
	while (rc == 0 && body_len > 0) {
		size_t n =
		    body_len < sizeof(zeros) ? (size_t)body_len : sizeof(zeros);

		rc = ais_test_write_all(fd, body ? body : zeros, n);
		if (body)
			body = (const char *)body + n;
		body_len -= n;
	}
	return rc;
}

int ais_test_recv_resp(int fd, Ais__Response **out, uint64_t *body_len)
{
	uint8_t hdr[AIS_FRAME_HDR_LEN];
	struct ais_frame_hdr h;
	char msg[AIS_ERRMSG_LEN];
	uint8_t *head;
	int rc;

	*out = NULL;
	rc = ais_test_read_all(fd, hdr, sizeof(hdr));
	if (rc == -EIO)
		return -ECONNRESET;
	if (rc < 0)
		return rc == -EAGAIN ? -ETIMEDOUT : rc;
	rc = ais_frame_hdr_decode(hdr, &h, msg);
	if (rc < 0) {
		fprintf(stderr, "harness: bad response header: %s\n", msg);
		return rc;
	}
	head = malloc(h.head_len);
	if (head == NULL)
		return -ENOMEM;
	rc = ais_test_read_all(fd, head, h.head_len);
	if (rc < 0) {
		free(head);
		return rc == -EIO ? -ECONNRESET : rc;
	}
	*out = ais__response__unpack(NULL, h.head_len, head);
	free(head);
	if (*out == NULL)
		return -EPROTO;
	if (body_len != NULL)
		*body_len = h.body_len;
	for (uint64_t left = h.body_len; left > 0;) {
		char sink[65536];
		size_t n = left < sizeof(sink) ? (size_t)left : sizeof(sink);

		rc = ais_test_read_all(fd, sink, n);
		if (rc < 0) {
			ais__response__free_unpacked(*out, NULL);
			*out = NULL;
			return rc == -EIO ? -ECONNRESET : rc;
		}
		left -= n;
	}
	return 0;
}

bool ais_test_wait_closed(int fd, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = (int64_t)(deadline - now_ms());
		char buf[4096];
		ssize_t n;

		if (left <= 0)
			return false;
		if (poll(&p, 1, (int)left) <= 0)
			return false;
		if (ais_tls_fd_get(fd)) {
			n = ais_tls_recv(ais_tls_fd_get(fd), fd, buf,
					 sizeof(buf), 0);
			if (n == -ETIMEDOUT)
				continue;
			if (n == -ECONNRESET || n == -EPROTO)
				return true;
			if (n < 0)
				return true;
			continue;
		}
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return true;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return true; /* reset */
	}
}

struct ais_map *ais_test_cluster_map(struct ais_client *c)
{
	struct ais_cluster_info *ci = NULL;
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_map *m = ais_map_new();

	ck_assert_ptr_nonnull(m);
	ck_assert_msg(ais_client_cluster_info(c, &ci, msg) == 0, "%s", msg);
	for (size_t i = 0; i < ci->n_nodes; i++) {
		struct ais_node n;

		memset(&n, 0, sizeof(n));
		snprintf(n.id, sizeof(n.id), "%s", ci->nodes[i].id);
		snprintf(n.host, sizeof(n.host), "%s", ci->nodes[i].host);
		n.port = ci->nodes[i].port;
		ck_assert_int_ge(ais_map_add(m, &n), 0);
	}
	ais_cluster_info_free(ci);
	return m;
}
