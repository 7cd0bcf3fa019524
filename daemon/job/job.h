/* Offline transforms (ais etl bucket): the jobs in the cluster metadata
 * (cluster_job_start) run on every node, one at a time, oldest first. A
 * node transforms the objects of the source bucket it is the first owner
 * of (under the map of the moment), so no input byte crosses the network,
 * and PUTs each output to its owner in the destination bucket, as a
 * client would (a whole object or nothing; copies made by that owner).
 * Several objects are in flight at once (up to the transform's workers,
 * at most JOB_THREADS).
 *
 * A node records under its first mountpath's .ais/etl-jobs/ that it began
 * a job (ID.started) and that it finished its part (ID.done, with its
 * counts). A node that restarts in the middle walks again, and skips an
 * object whose output is in the destination already, written since the
 * job began (a HEAD at its owner). Without continue_on_error, the first
 * failure stops the job on every node (through the metadata). */
#ifndef AISD_JOB_JOB_H
#define AISD_JOB_JOB_H

#include <stddef.h>

#include "ais.pb-c.h"

#define JOB_THREADS 8

struct aisd;
struct cluster_map;
struct jobs;

/* Needs d->store, d->cluster, d->peers, d->etl. 0 or -errno with errmsg. */
int jobs_new(struct aisd *d, struct jobs **out, char *errmsg);
/* Starts its thread; jobs_stop cancels the running job and waits. */
int jobs_start(struct jobs *j);
void jobs_stop(struct jobs *j);
void jobs_free(struct jobs *j);

/* A new snapshot (on the Raft thread, never blocks): a job stopped or
 * removed is cancelled here, a new one is started. */
void jobs_follow(struct jobs *j, struct cluster_map *cm);

/* This node's part of every job it knows, for OP_NODE_INFO: *out an array
 * of n statuses (free with jobs_status_free). 0 or -ENOMEM. */
int jobs_status(struct jobs *j, Ais__EtlJobStatus ***out, size_t *n);
void jobs_status_free(Ais__EtlJobStatus **v, size_t n);

#endif
