/* Transforms: ETL_INIT, ETL_LIST, ETL_REMOVE and ETL_STATE act on the
 * cluster's table of transforms (through Raft, from any node); a GET that
 * names one runs it here, on the node that holds the object (etl/). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "names.h"

#include "etl/etl.h"
#include "net/sock_io.h"
#include "rpc/rpc_i.h"

int rpc_etl_init(struct rpc *r)
{
	Ais__EtlSpec *spec = r->req->etl;
	int rc;

	if (!spec)
		return ais_errf(r->errmsg, -EINVAL, "no transform given");
	rc = ais_name_check_etl(spec->name, r->errmsg);
	/* This node's etl_dir says whether the program may run; every node
	 * checks again before it runs it. */
	if (!rc)
		rc = etl_check(r->d->etl, spec, r->errmsg);
	if (rc)
		return rc;
	rc = cluster_etl_init(r->d->cluster, spec, r->errmsg);
	rpc_answer_new_version(r);
	if (!rc)
		ais_log(LOG_NOTICE, "etl: %s registered (%s)", spec->name,
			spec->argv[0]);
	return rc;
}

/* Whether the caller may read bucket: always without auth or as an
 * admin. */
static bool may_read(struct rpc *r, const Ais__User *u, const char *bucket)
{
	return !r->who || r->admin ||
	       (u && cluster_user_right(u, bucket) >= AIS__RIGHT__RIGHT_READ);
}

int rpc_etl_list(struct rpc *r)
{
	const Ais__User *u =
	    r->who ? cluster_user_find(r->cm, r->who->user) : NULL;
	size_t n = 0;

	r->resp.n_etls = r->cm->netls;
	r->resp.etls = r->cm->etls;
	r->resp.n_etl_jobs = r->cm->njobs;
	r->resp.etl_jobs = r->cm->jobs;
	if (!r->who || r->admin)
		return 0;
	/* A user sees the jobs of the buckets it may read. */
	r->jobv = calloc(r->cm->njobs + 1, sizeof(*r->jobv));
	if (!r->jobv)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	for (size_t i = 0; i < r->cm->njobs; i++) {
		const Ais__EtlJob *j = r->cm->jobs[i];

		if (may_read(r, u, j->src_bucket) &&
		    may_read(r, u, j->dst_bucket))
			r->jobv[n++] = r->cm->jobs[i];
	}
	r->resp.n_etl_jobs = n;
	r->resp.etl_jobs = r->jobv;
	return 0;
}

/* An extension of ais etl bucket --ext: 1 to 32 of [A-Za-z0-9_-.]. */
static bool ext_ok(const char *x)
{
	size_t n = strlen(x);

	if (n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)x[i]) && !strchr("._-", x[i]))
			return false;
	return true;
}

int rpc_etl_bucket(struct rpc *r)
{
	const Ais__EtlJob *in = r->req->etl_job;
	Ais__EtlJob job;
	uint8_t rnd[6];
	char id[32];
	int rc;

	if (!in)
		return ais_errf(r->errmsg, -EINVAL, "no job given");
	rc = ais_name_check_etl(in->etl, r->errmsg);
	if (!rc)
		rc = ais_name_check_bucket(in->src_bucket, r->errmsg);
	if (!rc)
		rc = ais_name_check_bucket(in->dst_bucket, r->errmsg);
	if (!rc && in->prefix[0])
		rc = ais_name_check_prefix(in->prefix, r->errmsg);
	if (rc)
		return rc;
	if (!ext_ok(in->ext_from) || !ext_ok(in->ext_to) ||
	    !in->ext_from[0] != !in->ext_to[0])
		return ais_errf(r->errmsg, -EINVAL,
				"--ext takes FROM:TO, two extensions of "
				"letters, digits, '.', '_' or '-'");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return ais_errf(r->errmsg, -EIO, "no random bytes: %s",
				strerror(errno));
	snprintf(id, sizeof(id), "etl-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
		 rnd[2], rnd[3], rnd[4], rnd[5]);
	job = *in;
	job.id = id;
	rc = cluster_job_start(r->d->cluster, &job, r->errmsg);
	rpc_answer_new_version(r);
	if (rc)
		return rc;
	ais_log(LOG_NOTICE, "etl job %s: %s ais://%s/%s -> ais://%s", id,
		in->etl, in->src_bucket, in->prefix, in->dst_bucket);
	snprintf(r->job_id, sizeof(r->job_id), "%s", id);
	r->resp.job_id = r->job_id;
	return 0;
}

int rpc_job_stop(struct rpc *r)
{
	int rc = cluster_job_stop(r->d->cluster, r->req->job_id, r->errmsg);

	rpc_answer_new_version(r);
	return rc;
}

int rpc_job_remove(struct rpc *r)
{
	int rc = cluster_job_remove(r->d->cluster, r->req->job_id, r->errmsg);

	rpc_answer_new_version(r);
	return rc;
}

int rpc_etl_errors(struct rpc *r)
{
	Ais__EtlError **v = NULL;
	size_t n = 0;
	int rc = ais_name_check_etl(r->req->etl_name, r->errmsg);

	if (rc)
		return rc;
	if (!r->d->etl)
		return 0;
	rc = etl_errors(r->d->etl, r->req->etl_name, &v, &n);
	if (rc && !v)
		return ais_errf(r->errmsg, rc, "out of memory");
	r->resp.etl_errors = v;
	r->resp.n_etl_errors = n;
	if (r->who && !r->admin) {
		/* A user sees the failures in the buckets it may read. */
		const Ais__User *u = cluster_user_find(r->cm, r->who->user);
		Ais__EtlError **mine = calloc(n + 1, sizeof(*mine));
		size_t k = 0;

		if (!mine) {
			etl_errors_free(v, n);
			return ais_errf(r->errmsg, -ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < n; i++)
			if (may_read(r, u, v[i]->bucket))
				mine[k++] = v[i];
		r->resp.etl_errors = mine;
		r->resp.n_etl_errors = k;
		rpc_send_resp(r, 0);
		free(mine);
		etl_errors_free(v, n);
		return 1;
	}
	rpc_send_resp(r, 0);
	etl_errors_free(v, n);
	return 1;
}

int rpc_etl_remove(struct rpc *r)
{
	const char *name = r->req->etl_name;
	int rc = ais_name_check_etl(name, r->errmsg);

	if (rc)
		return rc;
	rc = cluster_etl_remove(r->d->cluster, name, r->errmsg);
	rpc_answer_new_version(r);
	return rc;
}

int rpc_etl_state(struct rpc *r)
{
	const char *name = r->req->etl_name;
	int rc = ais_name_check_etl(name, r->errmsg);

	if (rc)
		return rc;
	rc =
	    cluster_etl_state(r->d->cluster, name, r->req->etl_stop, r->errmsg);
	rpc_answer_new_version(r);
	return rc;
}

/* The transform the request names, in r->cm (caught up with the leader
 * once if it is not there: it may have just been registered elsewhere). */
static const Ais__EtlSpec *etl_lookup(struct rpc *r)
{
	const Ais__EtlSpec *spec = cluster_etl_find(r->cm, r->req->etl_name);

	if (!spec && cluster_sync(r->d->cluster, 2000) == 0) {
		rpc_answer_new_version(r);
		spec = cluster_etl_find(r->cm, r->req->etl_name);
	}
	return spec;
}

int rpc_etl_check(struct rpc *r)
{
	Ais__Request *q = r->req;
	const Ais__EtlSpec *spec;
	int rc = ais_name_check_etl(q->etl_name, r->errmsg);

	if (rc)
		return rc;
	if (q->offset || q->length)
		return ais_errf(r->errmsg, -EINVAL,
				"a transformed GET reads the whole output: "
				"no range");
	spec = etl_lookup(r);
	if (!spec)
		return ais_errf(r->errmsg, -EINVAL,
				"no transform %s (ais etl ls shows them)",
				q->etl_name);
	if (spec->stopped)
		return ais_errf(r->errmsg, -EPERM,
				"transform %s is stopped (ais etl start %s)",
				spec->name, spec->name);
	/* Whether this node may run it is etl_run's to say (it checks the
	 * program before each run of a filter and each start of a
	 * worker). */
	return 0;
}

/* Sends the output as the answer's body. */
static int send_output(struct rpc *r, const struct etl_output *o)
{
	Ais__Request *q = r->req;
	uint64_t done = 0;
	int rc;

	rpc_set_meta(r);
	r->resp.object_size = o->size;
	rc = rpc_send_resp(r, o->size);
	if (!rc && o->fd < 0 && o->size)
		rc = sock_io_write_all(&r->j->io, o->buf, o->size);
	while (!rc && o->fd >= 0 && done < o->size) {
		uint64_t step =
		    o->size - done < (1u << 20) ? o->size - done : (1u << 20);

		rc = sock_io_sendfile(&r->j->io, o->fd, (off_t)done, step);
		done += step;
	}
	if (rc) {
		ais_log(LOG_INFO,
			"%s: GET %s/%s (etl %s): sending: %s; closing",
			r->j->peer, q->bucket, q->name, q->etl_name,
			rc == -ETIMEDOUT ? "no progress (io timeout)"
					 : strerror(-rc));
		r->j->close = true;
	}
	return 1;
}

int rpc_etl_get(struct rpc *r, int fd)
{
	Ais__Request *q = r->req;
	const Ais__EtlSpec *spec = cluster_etl_find(r->cm, q->etl_name);
	struct etl_output out;
	uint64_t off = 0, len = r->obj.size;
	char name[AIS_NAME_MAX * 5 + 2];
	int staged = -1, rc;

	if (!spec)
		return ais_errf(r->errmsg, -EINVAL, "no transform %s",
				q->etl_name);
	/* The program reads the file itself: every block it reads is
	 * checked first, so that it never sees a wrong byte (a corrupt copy
	 * is repaired by the caller, as for a plain GET). A member is found
	 * in its shard, or decoded into a file. */
	if (q->archpath[0])
		rc = rpc_member_source(r, fd, &off, &len, &staged);
	else
		rc = rpc_verify(r, fd, 0, len);
	if (rc)
		return rc;
	/* What the program sees as the name: the member's path in the
	 * shard after the shard's name, as the mount shows it. */
	snprintf(name, sizeof(name), "%s%s%s", q->name,
		 q->archpath[0] ? "/" : "", q->archpath);
	rc = etl_run(r->d->etl, spec, q->bucket, name, q->etl_args,
		     staged >= 0 ? staged : fd, off, len, &out, r->errmsg);
	if (staged >= 0)
		close(staged);
	if (rc) {
		ais_log(LOG_WARNING, "%s: %s", r->j->peer, r->errmsg);
		/* A refusal for load is asked again, not a failure. */
		if (rc != -EBUSY)
			etl_note_error(r->d->etl, spec->name, q->bucket, name,
				       r->errmsg, NULL);
		return rc;
	}
	/* What the client gets is the output: its size, no checksum of the
	 * object's; the object's (or member's) version and times. */
	r->meta.size = out.size;
	r->meta.cksum_type = AIS_CKSUM_NONE;
	r->meta.cksum[0] = '\0';
	/* A link's output is a file's bytes, not a target. */
	if ((r->meta.mode & S_IFMT) == S_IFLNK)
		r->meta.mode = 0;
	rc = send_output(r, &out);
	etl_output_free(&out);
	return rc;
}
