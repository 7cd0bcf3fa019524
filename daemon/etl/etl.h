/* Transforms (ais etl): the programs a node runs on the objects it holds.
 * A transform is registered cluster-wide (cluster/, an EtlSpec in the
 * replicated metadata); this folder runs it here. Only programs under the
 * node's etl_dir may run, as its etl_user, each in a process group of its
 * own with limits on CPU time, memory, open files and output size, no core
 * dumps, and a timeout after which the group is killed. The command is an
 * argv, never a shell string.
 *
 * Filter mode: one process per object, the object's bytes on stdin, the
 * result on stdout into a spool file on the node's disk (so memory stays
 * bounded whatever the output size), exit 0 for success; otherwise the
 * last line the program wrote to stderr says why. The program sees
 * AIS_ETL_NAME, AIS_ETL_ARGS (the caller's arguments), AIS_BUCKET and
 * AIS_OBJECT in its environment.
 *
 * Worker mode (worker.c): spec->workers long-lived processes per node
 * (started when the transform is registered or the node starts, again
 * after one dies), each serving one object at a time over the
 * length-prefixed protocol of ais-etl(7) on its stdin and stdout. A
 * worker that crashes, overruns its timeout or breaks the protocol fails
 * the request at hand and is replaced; one that answers with an error
 * status fails only that request. A worker sees AIS_ETL_NAME.
 *
 * Both see the spec's own K=V entries, PATH=/usr/local/bin:/usr/bin:/bin,
 * HOME=/ and LANG=C.UTF-8; nothing of aisd's environment. */
#ifndef AISD_ETL_ETL_H
#define AISD_ETL_ETL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ais.pb-c.h"

/* A transform's output is cut (and the run fails) past this size, unless
 * the node's etl_output_max says otherwise. */
#define ETL_OUTPUT_MAX (4ull << 30)
/* Per object, when the spec gives none. */
#define ETL_TIMEOUT_DEFAULT_MS 30000
/* The address space a transform may map (Python with numpy and Pillow
 * needs a few hundred MiB). */
#define ETL_MEMORY_MAX (4ull << 30)
#define ETL_FILES_MAX  256
/* Processes the etl_user may have (when transforms run as another user
 * than aisd's). */
#define ETL_PROCS_MAX 512
/* Transforms running at once on a node, each holding a data thread: a
 * GET past it is refused (-EBUSY), so that slow transforms cannot take
 * every thread from plain reads and writes. */
#define ETL_RUNNING_MAX 8

/* A worker's output up to this size is kept in memory, a larger one in a
 * spool file; with ETL_RUNNING_MAX runs a node holds at most 2 MiB. */
#define ETL_OUTPUT_MEM_MAX (256u << 10)
/* Workers of one transform on a node, when the spec gives none. */
#define ETL_WORKERS_DEFAULT 2

struct etl;

/* A run's output: in a spool file (fd >= 0, read from offset 0) or in
 * memory (fd < 0, buf malloc'd or NULL when size is 0). */
struct etl_output {
	int fd;
	char *buf;
	uint64_t size;
};
void etl_output_free(struct etl_output *o);

/* Sets transforms up for a node: dir (NULL: none may run) must be an
 * existing directory (its real path is kept); user (NULL: "nobody" when
 * aisd runs as root, else aisd's own user) must exist; spool_dir is where
 * outputs are staged (a mountpath's .ais/tmp); output_max bounds each
 * output (0: ETL_OUTPUT_MAX). Returns 0 with *out or -errno with errmsg. */
int etl_new(const char *dir, const char *user, const char *spool_dir,
	    uint64_t output_max, struct etl **out, char *errmsg);
void etl_free(struct etl *e);

/* Whether this node may run spec: its program (argv[0]) resolves to a
 * regular, executable file under etl_dir, or it is AIS_ETL_PYTHON_HOST
 * (installed with aisd) and its script (argv[1]) a regular file under
 * etl_dir. 0, or -EPERM / -ENOENT / -EOPNOTSUPP (no etl_dir here) with
 * errmsg. */
int etl_check(const struct etl *e, const Ais__EtlSpec *spec, char *errmsg);

/* Runs spec over len bytes of fd from off (another node's copy never:
 * the caller's object or member), for bucket/name with args. Fills *out
 * (etl_output_free it) and returns 0, or -errno with errmsg naming the
 * transform and the object: -EIO (the program failed: its exit status or
 * signal and the last line of its stderr, or a worker's error message),
 * -ETIMEDOUT, -EFBIG (output over etl_output_max), -EBUSY (too many
 * runs), or what stood in the way of starting it. */
int etl_run(struct etl *e, const Ais__EtlSpec *spec, const char *bucket,
	    const char *name, const char *args, int fd, uint64_t off,
	    uint64_t len, struct etl_output *out, char *errmsg);

/* Failures of transforms on this node (GETs and jobs), for `ais etl
 * errors`: the last ETL_ERRORS_KEEP, in memory. */
#define ETL_ERRORS_KEEP 256
void etl_note_error(struct etl *e, const char *etl, const char *bucket,
		    const char *name, const char *message, const char *job_id);
/* Those of transform etl, newest first: *out (free with
 * etl_errors_free), 0 or -ENOMEM. */
int etl_errors(struct etl *e, const char *etl, Ais__EtlError ***out, size_t *n);
void etl_errors_free(Ais__EtlError **v, size_t n);

/* The node stops: runs waiting for a worker or for a program end now
 * (-ECANCELED), and their programs are killed. Before the threads that
 * run transforms are joined. */
void etl_shutdown(struct etl *e);

/* An unlinked file in the spool directory (for an input to stage, or an
 * output): fd, or -errno with errmsg. */
int etl_spool_open(const struct etl *e, char *errmsg);

/* The cluster's transforms now (specs[0..n), a new snapshot's): worker
 * pools of transforms removed, stopped or registered anew stop (their
 * busy workers when their request ends); worker transforms without a pool
 * here start theirs. Called on the Raft thread; does not wait for the
 * workers' start. */
void etl_follow(struct etl *e, Ais__EtlSpec *const *specs, size_t n);

#endif
