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
#include <stdatomic.h>

#include "log.h"
#include "names.h"
#include "util.h"

#include "etl/etl.h"

/* The stderr kept of a run: its end, where the reason is. */
#define ERR_KEEP 1024

struct etl {
	char *dir; /* real path, NULL: no transforms here */
	char *spool;
	uint64_t output_max;
	atomic_uint running; /* runs now, at most ETL_RUNNING_MAX */
	bool drop;	     /* change to uid/gid in the child */
	uid_t uid;
	gid_t gid;
	char user[64];
};

int etl_new(const char *dir, const char *user, const char *spool_dir,
	    uint64_t output_max, struct etl **out, char *errmsg)
{
	struct etl *e = calloc(1, sizeof(*e));
	struct passwd pw, *res = NULL;
	char buf[4096];
	struct stat st;
	int rc;

	if (!e)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
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
	*out = e;
	return 0;
}

void etl_free(struct etl *e)
{
	if (!e)
		return;
	free(e->dir);
	free(e->spool);
	free(e);
}

/* etl_check, and the path to execute into exe (PATH_MAX): the real
 * directory and the program's own name in it, so that what runs is what
 * was checked even if a directory on the given path changes after. */
static int check_exe(const struct etl *e, const Ais__EtlSpec *spec, char *exe,
		     char *errmsg)
{
	char dir[PATH_MAX], *real, *slash;
	const char *prog, *base;
	struct stat st;
	size_t n;
	int rc = 0;

	if (!e || !e->dir)
		return ais_errf(errmsg, -EOPNOTSUPP,
				"transforms are off on this node (no etl_dir "
				"in its configuration)");
	prog = spec->n_argv ? spec->argv[0] : NULL;
	if (!prog || prog[0] != '/' || strlen(prog) >= sizeof(dir))
		return ais_errf(errmsg, -EINVAL,
				"transform %s: the program must be an absolute "
				"path",
				spec->name);
	/* The directory it is in must be etl_dir or below, whatever links
	 * lead there; the program itself may be a link the administrator
	 * put there (to /bin/gzip, say), and runs under its own name. */
	snprintf(dir, sizeof(dir), "%s", prog);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	base = strrchr(prog, '/') + 1;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return ais_errf(errmsg, -EINVAL,
				"transform %s: program %s is not a file name",
				spec->name, prog);
	real = realpath(dir, NULL);
	if (!real)
		return ais_errf(errmsg, -errno, "transform %s: program %s: %s",
				spec->name, prog, strerror(errno));
	n = strlen(e->dir);
	if (strncmp(real, e->dir, n) != 0 || (real[n] != '/' && real[n]))
		rc = ais_errf(errmsg, -EPERM,
			      "transform %s: program %s is not under the "
			      "nodes' etl_dir %s",
			      spec->name, prog, e->dir);
	else if (stat(prog, &st) < 0)
		rc = ais_errf(errmsg, -errno, "transform %s: program %s: %s",
			      spec->name, prog, strerror(errno));
	else if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		rc = ais_errf(errmsg, -EPERM,
			      "transform %s: program %s is not an executable "
			      "file",
			      spec->name, prog);
	else if (exe &&
		 snprintf(exe, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "",
			  base) >= PATH_MAX)
		rc =
		    ais_errf(errmsg, -ENAMETOOLONG,
			     "transform %s: program path too long", spec->name);
	free(real);
	for (size_t i = 0; !rc && i < spec->n_env; i++)
		rc = ais_etl_env_check(spec->env[i], errmsg);
	return rc;
}

int etl_check(const struct etl *e, const Ais__EtlSpec *spec, char *errmsg)
{
	return check_exe(e, spec, NULL, errmsg);
}

/* argv and envp for the child, made before the fork (the child may only
 * make system calls). One allocation: free the returned block. */
static void *child_args(const Ais__EtlSpec *spec, const char *bucket,
			const char *name, const char *args, char ***argv,
			char ***envp)
{
	static const char *const fixed[] = {"PATH=/usr/local/bin:/usr/bin:/bin",
					    "HOME=/", "LANG=C.UTF-8"};
	size_t nfix = sizeof(fixed) / sizeof(fixed[0]), i, k, len = 0, ne;
	char **av, **ev, *p, *v;
	void *blk;

	ne = nfix + 4 + spec->n_env;
	for (i = 0; i < spec->n_argv; i++)
		len += strlen(spec->argv[i]) + 1;
	for (i = 0; i < spec->n_env; i++)
		len += strlen(spec->env[i]) + 1;
	len += strlen(spec->name) + strlen(args) + strlen(bucket) +
	       strlen(name) + 64;
	blk = malloc((spec->n_argv + 1 + ne + 1) * sizeof(char *) + len);
	if (!blk)
		return NULL;
	av = blk;
	ev = av + spec->n_argv + 1;
	p = (char *)(ev + ne + 1);
	for (i = 0; i < spec->n_argv; i++) {
		av[i] = p;
		p = stpcpy(p, spec->argv[i]) + 1;
	}
	av[i] = NULL;
	k = 0;
	for (i = 0; i < nfix; i++)
		ev[k++] = (char *)fixed[i];
	for (i = 0; i < 4; i++) {
		static const char *const keys[] = {
		    "AIS_ETL_NAME=", "AIS_ETL_ARGS=", "AIS_BUCKET=",
		    "AIS_OBJECT="};
		const char *vals[] = {spec->name, args, bucket, name};

		ev[k++] = p;
		p = stpcpy(stpcpy(p, keys[i]), vals[i]) + 1;
	}
	for (i = 0; i < spec->n_env; i++) {
		v = spec->env[i];
		ev[k++] = p;
		p = stpcpy(p, v) + 1;
	}
	ev[k] = NULL;
	*argv = av;
	*envp = ev;
	return blk;
}

/* In the child, between fork and exec: system calls only. */
static void child(const struct etl *e, const Ais__EtlSpec *spec,
		  const char *exe, pid_t parent, int in, int out, int err,
		  char **argv, char **envp)
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
	rl.rlim_cur = timeout_ms / 1000 + 1;
	rl.rlim_max = rl.rlim_cur + 1;
	setrlimit(RLIMIT_CPU, &rl);
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
static void last_line(const char *buf, size_t n, char *line, size_t cap)
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

/* Keeps the end of what the program writes to stderr. */
static void keep_err(int fd, char *keep, size_t *n)
{
	char buf[4096];
	ssize_t got;

	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		size_t g = (size_t)got;

		if (g >= ERR_KEEP) {
			memcpy(keep, buf + g - ERR_KEEP, ERR_KEEP);
			*n = ERR_KEEP;
		} else {
			if (*n + g > ERR_KEEP) {
				size_t drop = *n + g - ERR_KEEP;

				memmove(keep, keep + drop, *n - drop);
				*n -= drop;
			}
			memcpy(keep + *n, buf, g);
			*n += g;
		}
	}
}

/* Waits for pid up to deadline (monotonic ns) reading its stderr; kills
 * its group at the deadline. Returns its wait status, and whether it was
 * killed for time in *timed_out. */
static int wait_child(pid_t pid, int errfd, uint64_t deadline, char *keep,
		      size_t *kept, bool *timed_out)
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
		ms = left > 60000 ? 60000 : (int)left;
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
		if (err_open && pf[0].revents) {
			size_t before = *kept;
			char probe;

			keep_err(errfd, keep, kept);
			/* EOF: everyone closed stderr. */
			if (*kept == before && read(errfd, &probe, 1) == 0)
				err_open = false;
		}
	}
	keep_err(errfd, keep, kept);
	if (pidfd >= 0)
		close(pidfd);
	/* Whatever it left running in its group goes with it, then it is
	 * reaped. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

int etl_run_filter(const struct etl *e, const Ais__EtlSpec *spec,
		   const char *bucket, const char *name, const char *args,
		   int in_fd, uint64_t *size, char *errmsg)
{
	unsigned timeout_ms =
	    spec->timeout_ms ? spec->timeout_ms : ETL_TIMEOUT_DEFAULT_MS;
	char path[64], keep[ERR_KEEP], line[256], exe[PATH_MAX];
	int in = -1, out = -1, errp[2] = {-1, -1}, rc, status;
	char **argv = NULL, **envp = NULL;
	size_t kept = 0;
	bool timed_out;
	struct stat st;
	void *blk;
	pid_t pid, parent;

	rc = check_exe(e, spec, exe, errmsg);
	if (rc)
		return rc;
	if (atomic_fetch_add(&((struct etl *)e)->running, 1) >=
	    ETL_RUNNING_MAX) {
		atomic_fetch_sub(&((struct etl *)e)->running, 1);
		return ais_errf(errmsg, -EBUSY,
				"transform %s on %s/%s: %d transforms run on "
				"this node already; try again",
				spec->name, bucket, name, ETL_RUNNING_MAX);
	}
	/* A description of its own: the caller's may be shared (the open
	 * cache), and the program reads from the start. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", in_fd);
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		rc = ais_errf(errmsg, -errno, "transform %s on %s/%s: %s: %s",
			      spec->name, bucket, name, path, strerror(errno));
		goto out;
	}
	out = open(e->spool, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = ais_errf(errmsg, -errno,
			      "transform %s on %s/%s: output spool in %s: %s",
			      spec->name, bucket, name, e->spool,
			      strerror(errno));
		goto out;
	}
	if (pipe2(errp, O_CLOEXEC | O_NONBLOCK)) {
		rc = ais_errf(errmsg, -errno, "transform %s: pipe: %s",
			      spec->name, strerror(errno));
		goto out;
	}
	blk = child_args(spec, bucket, name, args ? args : "", &argv, &envp);
	if (!blk) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto out;
	}
	parent = getpid();
	pid = fork();
	if (pid == 0)
		child(e, spec, exe, parent, in, out, errp[1], argv, envp);
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
	status = wait_child(pid, errp[0],
			    ais_now_mono_ns() + (uint64_t)timeout_ms * 1000000,
			    keep, &kept, &timed_out);
	last_line(keep, kept, line, sizeof(line));
	if (timed_out || (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)) {
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
	} else if (WIFSIGNALED(status)) {
		rc = ais_errf(errmsg, -EIO,
			      "transform %s on %s/%s: killed by signal %d "
			      "(%s)%s%s",
			      spec->name, bucket, name, WTERMSIG(status),
			      strsignal(WTERMSIG(status)), line[0] ? ": " : "",
			      line);
	} else if (WEXITSTATUS(status) != 0) {
		rc = ais_errf(errmsg, -EIO,
			      "transform %s on %s/%s: exit status %d%s%s",
			      spec->name, bucket, name, WEXITSTATUS(status),
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
		*size = (uint64_t)st.st_size;
		rc = out;
		out = -1;
	}
out:
	atomic_fetch_sub(&((struct etl *)e)->running, 1);
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
