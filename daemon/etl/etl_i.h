/* Inside etl/: what etl.c (the node's setup, the checks, filter mode) and
 * worker.c (worker mode) share. */
#ifndef AISD_ETL_ETL_I_H
#define AISD_ETL_ETL_I_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "etl/etl.h"

/* The stderr kept of a run or of a worker's request: its end, where the
 * reason is. */
#define ETL_ERR_KEEP 1024

struct etl_pool;

struct etl {
	char *dir; /* real path, NULL: no transforms here */
	char *spool;
	char host_python[PATH_MAX]; /* AIS_ETL_PYTHON_HOST, "" if missing */
	uint64_t output_max;
	atomic_uint running; /* runs now, at most ETL_RUNNING_MAX */
	bool drop;	     /* change to uid/gid in the child */
	uid_t uid;
	gid_t gid;
	char user[64];

	/* etl_note_error's ring: next is where the next one goes. */
	pthread_mutex_t errs_lock;
	struct etl_err {
		int64_t time_ns;
		char etl[65];
		char bucket[65];
		char job_id[48];
		char *name, *message;
	} errs[ETL_ERRORS_KEEP];
	size_t errs_next;

	/* Worker mode (worker.c): a pool of processes per transform. */
	pthread_mutex_t lock;
	pthread_cond_t freed; /* a worker became idle, or a pool retired */
	struct etl_pool *pools;
	struct etl_pool *retired; /* left for the keeper to reap and free */
	pthread_t keeper;	  /* starts, replaces and reaps workers */
	bool keeper_started, keeper_stop;
	pthread_cond_t keeper_cv;
	atomic_bool closing; /* etl_shutdown: runs end now */
};

/* What to execute for spec, checked: exe (PATH_MAX) is the program's real
 * directory and its name there; for the Python host, exe is the host and
 * script (PATH_MAX) the checked script, else script is "". */
int etl_exe(const struct etl *e, const Ais__EtlSpec *spec, char *exe,
	    char *script, char *errmsg);

/* argv and envp for a child, made before the fork (the child may only make
 * system calls): spec's argv (argv[0] replaced by exe, argv[1] by script
 * when it is not ""), and the environment etl.h describes; bucket, name
 * and args NULL for a worker (they come with each request). One
 * allocation: free the returned block. */
void *etl_child_args(const Ais__EtlSpec *spec, const char *exe,
		     const char *script, const char *bucket, const char *name,
		     const char *args, char ***argv, char ***envp);

/* In the child, between fork and exec (system calls only): in, out and
 * err become 0, 1 and 2; limits, user, process group; never returns.
 * worker: a long-lived process, without the CPU-time limit of a run. */
void etl_child(const struct etl *e, const Ais__EtlSpec *spec, const char *exe,
	       pid_t parent, int in, int out, int err, char **argv, char **envp,
	       bool worker);

/* Reads what fd (non-blocking) has, keeping the last ETL_ERR_KEEP bytes
 * in keep (*n of them). Returns false at end of file. */
bool etl_keep_err(int fd, char *keep, size_t *n);
/* The last non-empty line of buf[0..n), printable, into line. */
void etl_last_line(const char *buf, size_t n, char *line, size_t cap);
/* "exit status 3", "killed by signal 11 (Segmentation fault)". */
void etl_status_str(int status, char *buf, size_t cap);

/* Counts a run against ETL_RUNNING_MAX: 0, or -EBUSY with errmsg. */
int etl_enter(struct etl *e, const char *etl, const char *bucket,
	      const char *name, char *errmsg);
void etl_leave(struct etl *e);

/* Worker mode (worker.c). */
int etl_worker_run(struct etl *e, const Ais__EtlSpec *spec, const char *bucket,
		   const char *name, const char *args, int fd, uint64_t off,
		   uint64_t len, struct etl_output *out, char *errmsg);
void etl_pools_free(struct etl *e);
/* Starts the keeper thread (no-op without etl_dir). 0 or -errno. */
int etl_keeper_start(struct etl *e);

#endif
