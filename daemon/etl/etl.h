/* Transforms (ais etl): the programs a node runs on the objects it holds.
 * A transform is registered cluster-wide (cluster/, an EtlSpec in the
 * replicated metadata); this folder runs it here. Only programs under the
 * node's etl_dir may run, as its etl_user, each in a process group of its
 * own with limits on CPU time, memory, open files and output size, no core
 * dumps, and a timeout after which the group is killed. The command is an
 * argv, never a shell string.
 *
 * Filter mode (the only one so far): one process per object, the object's
 * bytes on stdin, the result on stdout into a spool file on the node's
 * disk (so memory stays bounded whatever the output size), exit 0 for
 * success; otherwise the last line the program wrote to stderr says why.
 *
 * The program sees AIS_ETL_NAME, AIS_ETL_ARGS (the caller's arguments),
 * AIS_BUCKET and AIS_OBJECT in its environment, beside the spec's own
 * K=V entries, PATH=/usr/local/bin:/usr/bin:/bin, HOME=/ and LANG=C.UTF-8;
 * nothing of aisd's environment. */
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

struct etl;

/* Sets transforms up for a node: dir (NULL: none may run) must be an
 * existing directory (its real path is kept); user (NULL: "nobody" when
 * aisd runs as root, else aisd's own user) must exist; spool_dir is where
 * outputs are staged (a mountpath's .ais/tmp); output_max bounds each
 * output (0: ETL_OUTPUT_MAX). Returns 0 with *out or -errno with errmsg. */
int etl_new(const char *dir, const char *user, const char *spool_dir,
	    uint64_t output_max, struct etl **out, char *errmsg);
void etl_free(struct etl *e);

/* Whether this node may run spec: its program (argv[0]) resolves to a
 * regular, executable file under etl_dir. 0, or -EPERM / -ENOENT /
 * -EOPNOTSUPP (no etl_dir here) with errmsg. */
int etl_check(const struct etl *e, const Ais__EtlSpec *spec, char *errmsg);

/* Runs filter spec over the bytes readable from in_fd (from its start),
 * for bucket/name with args. Returns a descriptor of the output (an
 * unlinked file, offset 0) and its size in *size, or -errno with errmsg
 * naming the transform and the object: -EIO (the program failed: its
 * exit status or signal and the last line of its stderr), -ETIMEDOUT,
 * -EFBIG (output over ETL_OUTPUT_MAX), or what stood in the way of
 * starting it. */
int etl_run_filter(const struct etl *e, const Ais__EtlSpec *spec,
		   const char *bucket, const char *name, const char *args,
		   int in_fd, uint64_t *size, char *errmsg);

#endif
