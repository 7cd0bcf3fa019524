/* Transforms run on a node: see etl.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ais_config.h"
#include "log.h"
#include "names.h"
#include "util.h"

#include "etl/etl_i.h"

/* A host shipped with aisd (ais-etl-python): beside the aisd that runs
 * (a build tree), else where it is installed. "" if neither has it. */
static void find_host(char *path, const char *name)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	path[0] = '\0';
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(path, PATH_MAX, "%s/%s", self, name) <
				PATH_MAX &&
			    access(path, X_OK) == 0)
				return;
		}
	}
	snprintf(path, PATH_MAX, "%s/%s", AIS_LIBEXECDIR, name);
	if (access(path, X_OK) != 0)
		path[0] = '\0';
}

int etl_new(const char *dir, const char *user, const char *spool_dir,
	    uint64_t output_max, struct etl **out, char *errmsg)
{
	struct etl *e = calloc(1, sizeof(*e));
	struct passwd pw, *res = NULL;
	pthread_condattr_t ca;
	char buf[4096];
	struct stat st;
	int rc;

	if (!e)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->errs_lock, NULL);
	/* Waits for a worker end at a monotonic deadline. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->freed, &ca);
	pthread_cond_init(&e->keeper_cv, &ca);
	pthread_condattr_destroy(&ca);
	find_host(e->host_python, AIS_ETL_PYTHON_HOST);
	e->output_max = output_max ? output_max : ETL_OUTPUT_MAX;
	e->spool = strdup(spool_dir);
	if (!e->spool) {
		etl_free(e);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	if (dir) {
		errno = 0;
		e->dir = realpath(dir, NULL);
		if (!e->dir || stat(e->dir, &st) || !S_ISDIR(st.st_mode)) {
			rc = !e->dir || errno ? -errno : -ENOTDIR;
			etl_free(e);
			return ais_errf(errmsg, rc, "etl_dir %s: %s", dir,
					strerror(-rc));
		}
	}
	if (!e->dir) {
		*out = e; /* no transforms: nobody to run them as */
		return 0;
	}
	if (!user && geteuid() == 0)
		user = "nobody";
	if (user) {
		rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
		if (rc || !res) {
			etl_free(e);
			return ais_errf(errmsg, -ENOENT,
					"etl_user %s: no such user", user);
		}
		e->uid = pw.pw_uid;
		e->gid = pw.pw_gid;
		e->drop = pw.pw_uid != geteuid() || pw.pw_gid != getegid();
		if (e->drop && geteuid() != 0) {
			etl_free(e);
			return ais_errf(errmsg, -EPERM,
					"etl_user %s: only a node running as "
					"root can run transforms as another "
					"user",
					user);
		}
		snprintf(e->user, sizeof(e->user), "%s", user);
	} else {
		e->uid = geteuid();
		e->gid = getegid();
		snprintf(e->user, sizeof(e->user), "uid %u", (unsigned)e->uid);
	}
	if (e->dir)
		ais_log(LOG_INFO, "etl: programs under %s run as %s", e->dir,
			e->user);
	rc = etl_keeper_start(e);
	if (rc) {
		etl_free(e);
		return ais_errf(errmsg, rc, "etl: cannot start a thread: %s",
				strerror(-rc));
	}
	*out = e;
	return 0;
}

void etl_free(struct etl *e)
{
	if (!e)
		return;
	etl_pools_free(e);
	pthread_cond_destroy(&e->freed);
	pthread_cond_destroy(&e->keeper_cv);
	pthread_mutex_destroy(&e->lock);
	for (size_t i = 0; i < ETL_ERRORS_KEEP; i++) {
		free(e->errs[i].name);
		free(e->errs[i].message);
	}
	pthread_mutex_destroy(&e->errs_lock);
	free(e->dir);
	free(e->spool);
	free(e);
}

/* path (a program, or the Python host's script) checked: its directory
 * must be etl_dir or below, whatever links lead there; the file itself
 * may be a link the administrator put there (to /bin/gzip, say), and
 * runs under its own name. The real directory and that name go to out
 * (PATH_MAX), so that what runs is what was checked even if a directory
 * on the given path changes after. */
static int under_dir(const struct etl *e, const Ais__EtlSpec *spec,
		     const char *path, bool program, char *out, char *errmsg)
{
	const char *what = program ? "program" : "script";
	char dir[PATH_MAX], *real, *slash;
	const char *base;
	struct stat st;
	size_t n;
	int rc = 0;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(dir))
		return ais_errf(errmsg, -EINVAL,
				"transform %s: the %s must be an absolute "
				"path",
				spec->name, what);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	base = strrchr(path, '/') + 1;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return ais_errf(errmsg, -EINVAL,
				"transform %s: %s %s is not a file name",
				spec->name, what, path);
	real = realpath(dir, NULL);
	if (!real)
		return ais_errf(errmsg, -errno, "transform %s: %s %s: %s",
				spec->name, what, path, strerror(errno));
	n = strlen(e->dir);
	if (strncmp(real, e->dir, n) != 0 || (real[n] != '/' && real[n]))
		rc = ais_errf(errmsg, -EPERM,
			      "transform %s: %s %s is not under the "
			      "nodes' etl_dir %s",
			      spec->name, what, path, e->dir);
	else if (stat(path, &st) < 0)
		rc = ais_errf(errmsg, -errno, "transform %s: %s %s: %s",
			      spec->name, what, path, strerror(errno));
	else if (!S_ISREG(st.st_mode) || (program && !(st.st_mode & 0111)))
		rc = ais_errf(errmsg, -EPERM,
			      "transform %s: %s %s is not %s file", spec->name,
			      what, path,
			      program ? "an executable" : "a regular");
	else if (out &&
		 snprintf(out, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "",
			  base) >= PATH_MAX)
		rc = ais_errf(errmsg, -ENAMETOOLONG,
			      "transform %s: %s path too long", spec->name,
			      what);
	free(real);
	return rc;
}

int etl_exe(const struct etl *e, const Ais__EtlSpec *spec, char *exe,
	    char *script, char *errmsg)
{
	const char *prog = spec->n_argv ? spec->argv[0] : NULL;
	int rc;

	if (!e || !e->dir)
		return ais_errf(errmsg, -EOPNOTSUPP,
				"transforms are off on this node (no etl_dir "
				"in its configuration)");
	rc = ais_etl_argv_check(spec->name, spec->argv, spec->n_argv, errmsg);
	if (rc)
		return rc;
	if (prog[0] == '/') {
		rc = under_dir(e, spec, prog, true, exe, errmsg);
		if (script)
			script[0] = '\0';
	} else if (!e->host_python[0]) {
		rc = ais_errf(errmsg, -ENOENT,
			      "transform %s: " AIS_ETL_PYTHON_HOST
			      " is not installed on this node",
			      spec->name);
	} else {
		/* The host is aisd's own; the script is the transform. */
		if (exe)
			snprintf(exe, PATH_MAX, "%s", e->host_python);
		rc = under_dir(e, spec, spec->argv[1], false, script, errmsg);
	}
	for (size_t i = 0; !rc && i < spec->n_env; i++)
		rc = ais_etl_env_check(spec->env[i], errmsg);
	return rc;
}

int etl_check(const struct etl *e, const Ais__EtlSpec *spec, char *errmsg)
{
	return etl_exe(e, spec, NULL, NULL, errmsg);
}

void *etl_child_args(const Ais__EtlSpec *spec, const char *exe,
		     const char *script, const char *bucket, const char *name,
		     const char *args, char ***argv, char ***envp)
{
	static const char *const fixed[] = {"PATH=/usr/local/bin:/usr/bin:/bin",
					    "HOME=/", "LANG=C.UTF-8"};
	static const char *const keys[] = {
	    "AIS_ETL_NAME=", "AIS_ETL_ARGS=", "AIS_BUCKET=", "AIS_OBJECT="};
	const char *vals[] = {spec->name, args, bucket, name};
	size_t nfix = sizeof(fixed) / sizeof(fixed[0]), i, k, len = 0, ne;
	size_t nkeys = bucket ? 4 : 1;
	char **av, **ev, *p;
	void *blk;

	ne = nfix + nkeys + spec->n_env;
	for (i = 0; i < spec->n_argv; i++)
		len += strlen(spec->argv[i]) + 1;
	len += strlen(exe) + strlen(script) + 2;
	for (i = 0; i < spec->n_env; i++)
		len += strlen(spec->env[i]) + 1;
	for (i = 0; i < nkeys; i++)
		len += strlen(keys[i]) + strlen(vals[i]) + 1;
	blk = malloc((spec->n_argv + 1 + ne + 1) * sizeof(char *) + len);
	if (!blk)
		return NULL;
	av = blk;
	ev = av + spec->n_argv + 1;
	p = (char *)(ev + ne + 1);
	for (i = 0; i < spec->n_argv; i++) {
		const char *w = spec->argv[i];

		/* The host by its path, the script checked; a program keeps
		 * the name it was given (exe is what runs). */
		if (i == 0 && script[0])
			w = exe;
		else if (i == 1 && script[0])
			w = script;
		av[i] = p;
		p = stpcpy(p, w) + 1;
	}
	av[i] = NULL;
	k = 0;
	for (i = 0; i < nfix; i++)
		ev[k++] = (char *)fixed[i];
	for (i = 0; i < nkeys; i++) {
		ev[k++] = p;
		p = stpcpy(stpcpy(p, keys[i]), vals[i]) + 1;
	}
	for (i = 0; i < spec->n_env; i++) {
		ev[k++] = p;
		p = stpcpy(p, spec->env[i]) + 1;
	}
	ev[k] = NULL;
	*argv = av;
	*envp = ev;
	return blk;
}

void etl_child(const struct etl *e, const Ais__EtlSpec *spec, const char *exe,
	       pid_t parent, int in, int out, int err, char **argv, char **envp,
	       bool worker)
{
	static const char failed[] = "aisd: cannot start the program\n";
	unsigned timeout_ms =
	    spec->timeout_ms ? spec->timeout_ms : ETL_TIMEOUT_DEFAULT_MS;
	struct sigaction sa;
	struct rlimit rl;
	sigset_t none;
	int sig;

	/* aisd's own dispositions (SIGPIPE ignored) and mask are not the
	 * program's. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	syscall(SYS_close_range, 3, ~0u, 0);
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	/* A worker's time is bounded per request, by its timeout. */
	if (!worker) {
		rl.rlim_cur = timeout_ms / 1000 + 1;
		rl.rlim_max = rl.rlim_cur + 1;
		setrlimit(RLIMIT_CPU, &rl);
	}
	rl.rlim_cur = rl.rlim_max = ETL_MEMORY_MAX;
	setrlimit(RLIMIT_AS, &rl);
	rl.rlim_cur = rl.rlim_max = ETL_FILES_MAX;
	setrlimit(RLIMIT_NOFILE, &rl);
	/* One byte more than allowed: a program that ignores SIGXFSZ and
	 * its write errors still leaves an output found too long. */
	rl.rlim_cur = rl.rlim_max = e->output_max + 1;
	setrlimit(RLIMIT_FSIZE, &rl);
	if (e->drop) {
		/* The user's processes at most (a fork bomb stops there). */
		rl.rlim_cur = rl.rlim_max = ETL_PROCS_MAX;
		setrlimit(RLIMIT_NPROC, &rl);
	}
	/* Raw calls: glibc's wrappers would signal threads the child does
	 * not have. */
	if (e->drop &&
	    (syscall(SYS_setgroups, 0, NULL) || syscall(SYS_setgid, e->gid) ||
	     syscall(SYS_setuid, e->uid)))
		_exit(127);
	/* After the change of user, which clears it; and aisd may have
	 * died before it was set. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (chdir("/"))
		_exit(127);
	execve(exe, argv, envp);
	if (write(2, failed, sizeof(failed) - 1) < 0)
		_exit(127);
	_exit(127);
}

/* The last non-empty line of buf[0..n), printable, into line. */
void etl_last_line(const char *buf, size_t n, char *line, size_t cap)
{
	size_t end = n, start, k = 0;

	while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r' ||
			   buf[end - 1] == ' '))
		end--;
	start = end;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	for (; start < end && k + 1 < cap; start++)
		line[k++] =
		    (buf[start] >= ' ' && buf[start] < 127) ? buf[start] : '?';
	line[k] = '\0';
}

bool etl_keep_err(int fd, char *keep, size_t *n)
{
	char buf[4096];
	ssize_t got;
	int rounds = 0;

	/* At most 64 KiB a call: a program that floods stderr must not keep
	 * the caller from its timeout. */
	while ((got = read(fd, buf, sizeof(buf))) != 0) {
		if (++rounds > 16)
			return true;
		if (got < 0)
			return errno == EAGAIN || errno == EINTR;
		size_t g = (size_t)got;

		if (g >= ETL_ERR_KEEP) {
			memcpy(keep, buf + g - ETL_ERR_KEEP, ETL_ERR_KEEP);
			*n = ETL_ERR_KEEP;
		} else {
			if (*n + g > ETL_ERR_KEEP) {
				size_t drop = *n + g - ETL_ERR_KEEP;

				memmove(keep, keep + drop, *n - drop);
				*n -= drop;
			}
			memcpy(keep + *n, buf, g);
			*n += g;
		}
	}
	return false;
}

void etl_status_str(int status, char *buf, size_t cap)
{
	if (WIFSIGNALED(status))
		snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, cap, "exit status %d", WEXITSTATUS(status));
}

/* Waits for pid up to deadline (monotonic ns) reading its stderr; kills
 * its group at the deadline. Returns its wait status, and whether it was
 * killed for time in *timed_out. */
static int wait_child(const struct etl *e, pid_t pid, int errfd,
		      uint64_t deadline, char *keep, size_t *kept,
		      bool *timed_out)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	bool err_open = true;
	int status = 0;

	*timed_out = false;
	for (;;) {
		struct pollfd pf[2];
		uint64_t now = ais_now_mono_ns();
		uint64_t left;
		siginfo_t si;
		int nf = 0, ms;

		/* Exited, not yet reaped: its pid (and group id) cannot
		 * be reused before the group is killed below. */
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si,
			   WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == pid)
			break;
		/* The node stops: as if its time were up. */
		if (atomic_load(&e->closing))
			now = deadline;
		if (now >= deadline) {
			*timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitid(P_PID, (id_t)pid, &si,
				      WEXITED | WNOWAIT) < 0 &&
			       errno == EINTR)
				;
			break;
		}
		left = (deadline - now) / 1000000 + 1;
		ms = left > 1000 ? 1000 : (int)left;
		if (err_open) {
			pf[nf].fd = errfd;
			pf[nf++].events = POLLIN;
		}
		if (pidfd >= 0) {
			pf[nf].fd = pidfd;
			pf[nf++].events = POLLIN;
		} else if (ms > 10) {
			ms = 10; /* no pidfd: look again soon */
		}
		if (nf == 0) {
			struct timespec ts = {0, 1000000};

			nanosleep(&ts, NULL);
			continue;
		}
		if (poll(pf, (nfds_t)nf, ms) < 0 && errno != EINTR)
			break;
		/* At EOF everyone closed stderr. */
		if (err_open && pf[0].revents)
			err_open = etl_keep_err(errfd, keep, kept);
	}
	etl_keep_err(errfd, keep, kept);
	if (pidfd >= 0)
		close(pidfd);
	/* Whatever it left running in its group goes with it, then it is
	 * reaped. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

int etl_enter(struct etl *e, const char *etl, const char *bucket,
	      const char *name, char *errmsg)
{
	if (atomic_fetch_add(&e->running, 1) >= ETL_RUNNING_MAX) {
		atomic_fetch_sub(&e->running, 1);
		return ais_errf(errmsg, -EBUSY,
				"transform %s on %s/%s: %d transforms run on "
				"this node already; try again",
				etl, bucket, name, ETL_RUNNING_MAX);
	}
	return 0;
}

void etl_leave(struct etl *e)
{
	atomic_fetch_sub(&e->running, 1);
}

int etl_spool_open(const struct etl *e, char *errmsg)
{
	int fd = open(e->spool, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return ais_errf(errmsg, -errno,
				"transform output spool in %s: %s", e->spool,
				strerror(errno));
	return fd;
}

void etl_output_free(struct etl_output *o)
{
	if (o->fd >= 0)
		close(o->fd);
	free(o->buf);
	o->fd = -1;
	o->buf = NULL;
	o->size = 0;
}

/* The program's stdin: a description of its own of the whole file (the
 * caller's may be shared, by the open cache, and the program reads from
 * the start), or a spool file with the range copied in. */
static int filter_input(const struct etl *e, int fd, uint64_t off, uint64_t len,
			char *errmsg)
{
	char path[64], buf[65536];
	struct stat st;
	int in;

	if (fstat(fd, &st) < 0)
		return ais_errf(errmsg, -errno, "input: %s", strerror(errno));
	if (off == 0 && len == (uint64_t)st.st_size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		in = open(path, O_RDONLY | O_CLOEXEC);
		if (in < 0)
			return ais_errf(errmsg, -errno, "%s: %s", path,
					strerror(errno));
		return in;
	}
	in = etl_spool_open(e, errmsg);
	if (in < 0)
		return in;
	for (uint64_t done = 0; done < len;) {
		size_t step = len - done < sizeof(buf) ? (size_t)(len - done)
						       : sizeof(buf);
		ssize_t got = pread(fd, buf, step, (off_t)(off + done));

		if (got <= 0 || write(in, buf, (size_t)got) != got) {
			int err = got == 0 ? EIO : errno;

			close(in);
			return ais_errf(errmsg, -err, "input: %s",
					strerror(err));
		}
		done += (uint64_t)got;
	}
	if (lseek(in, 0, SEEK_SET) < 0) {
		close(in);
		return ais_errf(errmsg, -errno, "input: %s", strerror(errno));
	}
	return in;
}

static int filter_run(struct etl *e, const Ais__EtlSpec *spec,
		      const char *bucket, const char *name, const char *args,
		      int fd, uint64_t off, uint64_t len,
		      struct etl_output *res, char *errmsg)
{
	unsigned timeout_ms =
	    spec->timeout_ms ? spec->timeout_ms : ETL_TIMEOUT_DEFAULT_MS;
	char keep[ETL_ERR_KEEP], line[256], how[128], exe[PATH_MAX],
	    script[PATH_MAX];
	int in = -1, out = -1, errp[2] = {-1, -1}, rc, status;
	char **argv = NULL, **envp = NULL;
	char why[AIS_ERRMSG_LEN];
	size_t kept = 0;
	bool timed_out;
	struct stat st;
	void *blk;
	pid_t pid, parent;

	rc = etl_exe(e, spec, exe, script, errmsg);
	if (rc)
		return rc;
	in = filter_input(e, fd, off, len, why);
	if (in < 0)
		return ais_errf(errmsg, in, "transform %s on %s/%s: %s",
				spec->name, bucket, name, why);
	out = etl_spool_open(e, errmsg);
	if (out < 0) {
		rc = out;
		goto out;
	}
	if (pipe2(errp, O_CLOEXEC | O_NONBLOCK)) {
		rc = ais_errf(errmsg, -errno, "transform %s: pipe: %s",
			      spec->name, strerror(errno));
		goto out;
	}
	blk =
	    etl_child_args(spec, exe, script, bucket, name, args, &argv, &envp);
	if (!blk) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	parent = getpid();
	pid = fork();
	if (pid == 0)
		etl_child(e, spec, exe, parent, in, out, errp[1], argv, envp,
			  false);
	free(blk);
	if (pid < 0) {
		rc = ais_errf(errmsg, -errno,
			      "transform %s on %s/%s: cannot start: %s",
			      spec->name, bucket, name, strerror(errno));
		goto out;
	}
	close(errp[1]);
	errp[1] = -1;
	close(in);
	in = -1;
	status = wait_child(e, pid, errp[0],
			    ais_now_mono_ns() + (uint64_t)timeout_ms * 1000000,
			    keep, &kept, &timed_out);
	etl_last_line(keep, kept, line, sizeof(line));
	etl_status_str(status, how, sizeof(how));
	if (timed_out && atomic_load(&e->closing)) {
		rc = ais_errf(errmsg, -ECANCELED,
			      "transform %s on %s/%s: the node is stopping",
			      spec->name, bucket, name);
	} else if (timed_out ||
		   (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)) {
		rc = ais_errf(errmsg, -ETIMEDOUT,
			      "transform %s on %s/%s: killed after %u ms "
			      "(its timeout)",
			      spec->name, bucket, name, timeout_ms);
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ) {
		rc = ais_errf(errmsg, -EFBIG,
			      "transform %s on %s/%s: output over %llu bytes "
			      "(etl_output_max)",
			      spec->name, bucket, name,
			      (unsigned long long)e->output_max);
	} else if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0) {
		rc = ais_errf(errmsg, -EIO, "transform %s on %s/%s: %s%s%s",
			      spec->name, bucket, name, how,
			      line[0] ? ": " : "", line);
	} else if (fstat(out, &st) || lseek(out, 0, SEEK_SET) < 0) {
		rc = ais_errf(errmsg, -errno, "transform %s: output: %s",
			      spec->name, strerror(errno));
	} else if ((uint64_t)st.st_size > e->output_max) {
		rc = ais_errf(errmsg, -EFBIG,
			      "transform %s on %s/%s: output over %llu bytes "
			      "(etl_output_max)",
			      spec->name, bucket, name,
			      (unsigned long long)e->output_max);
	} else {
		res->size = (uint64_t)st.st_size;
		res->fd = out;
		out = -1;
	}
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	return rc;
}

int etl_run(struct etl *e, const Ais__EtlSpec *spec, const char *bucket,
	    const char *name, const char *args, int fd, uint64_t off,
	    uint64_t len, struct etl_output *out, char *errmsg)
{
	int rc;

	out->fd = -1;
	out->buf = NULL;
	out->size = 0;
	if (!args)
		args = "";
	rc = etl_enter(e, spec->name, bucket, name, errmsg);
	if (rc)
		return rc;
	if (spec->mode == AIS__ETL_MODE__ETL_WORKER)
		rc = etl_worker_run(e, spec, bucket, name, args, fd, off, len,
				    out, errmsg);
	else
		rc = filter_run(e, spec, bucket, name, args, fd, off, len, out,
				errmsg);
	etl_leave(e);
	return rc;
}

void etl_note_error(struct etl *e, const char *etl, const char *bucket,
		    const char *name, const char *message, const char *job_id)
{
	struct etl_err *x;
	char *n = strdup(name), *m = strdup(message);

	if (!e || !n || !m) {
		free(n);
		free(m);
		return;
	}
	pthread_mutex_lock(&e->errs_lock);
	x = &e->errs[e->errs_next];
	e->errs_next = (e->errs_next + 1) % ETL_ERRORS_KEEP;
	free(x->name);
	free(x->message);
	x->time_ns = ais_now_real_ns();
	snprintf(x->etl, sizeof(x->etl), "%s", etl);
	snprintf(x->bucket, sizeof(x->bucket), "%s", bucket);
	snprintf(x->job_id, sizeof(x->job_id), "%s", job_id ? job_id : "");
	x->name = n;
	x->message = m;
	pthread_mutex_unlock(&e->errs_lock);
}

int etl_errors(struct etl *e, const char *etl, Ais__EtlError ***out, size_t *n)
{
	Ais__EtlError **v = calloc(ETL_ERRORS_KEEP, sizeof(*v));
	size_t k = 0;
	int rc = 0;

	*out = v;
	*n = 0;
	if (!v)
		return -ENOMEM;
	pthread_mutex_lock(&e->errs_lock);
	for (size_t i = 0; i < ETL_ERRORS_KEEP && !rc; i++) {
		/* Newest first: backwards from the last one written. */
		const struct etl_err *x =
		    &e->errs[(e->errs_next + ETL_ERRORS_KEEP - 1 - i) %
			     ETL_ERRORS_KEEP];
		Ais__EtlError *o;

		if (!x->name || strcmp(x->etl, etl))
			continue;
		o = calloc(1, sizeof(*o));
		if (o) {
			ais__etl_error__init(o);
			o->time_ns = x->time_ns;
			o->bucket = strdup(x->bucket);
			o->name = strdup(x->name);
			o->message = strdup(x->message);
			o->job_id = strdup(x->job_id);
			v[k++] = o;
		}
		if (!o || !o->bucket || !o->name || !o->message || !o->job_id)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&e->errs_lock);
	*n = k;
	return rc;
}

void etl_errors_free(Ais__EtlError **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i]->bucket);
		free(v[i]->name);
		free(v[i]->message);
		free(v[i]->job_id);
		free(v[i]);
	}
	free(v);
}
