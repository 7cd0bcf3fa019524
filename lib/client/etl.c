/* libais client: transforms (ais etl) registered cluster-wide. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_i.h"
#include "util.h"

static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int ais_client_etl_init(struct ais_client *c, const struct ais_etl *e,
			char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__EtlSpec spec = AIS__ETL_SPEC__INIT;
	Ais__Response *a;
	int rc;

	spec.name = (char *)e->name;
	spec.n_argv = strv_len(e->argv);
	spec.argv = e->argv;
	spec.mode = e->mode == AIS_ETL_WORKER ? AIS__ETL_MODE__ETL_WORKER
					      : AIS__ETL_MODE__ETL_FILTER;
	spec.workers = e->workers;
	spec.timeout_ms = e->timeout_ms;
	spec.n_env = strv_len(e->env);
	spec.env = e->env;
	if (spec.n_argv == 0)
		return ais_errf(errmsg, -EINVAL,
				"transform %s: no program given", e->name);
	req.op = AIS__OP__OP_ETL_INIT;
	req.etl = &spec;
	req.map_version = ais__client_version_hint(c);
	rc = ais__call_any(c, &req, false, 0, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	ais__response__free_unpacked(a, NULL);
	return rc;
}

void ais_etl_list_free(struct ais_etl *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++) {
		ais_strv_free(v[i].argv);
		ais_strv_free(v[i].env);
	}
	free(v);
}

/* OP_ETL_LIST's answer (the transforms and the jobs): 0 with *a, or
 * -errno with errmsg. */
static int etl_list(struct ais_client *c, Ais__Response **a, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	int rc;

	req.op = AIS__OP__OP_ETL_LIST;
	req.map_version = ais__client_version_hint(c);
	rc = ais__call_any(c, &req, true, 0, a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(*a, errmsg);
	if (rc)
		ais__response__free_unpacked(*a, NULL);
	return rc;
}

int ais_client_etl_list(struct ais_client *c, struct ais_etl **out, size_t *n,
			char *errmsg)
{
	Ais__Response *a;
	struct ais_etl *v;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	rc = etl_list(c, &a, errmsg);
	if (rc)
		return rc;
	v = calloc(a->n_etls + 1, sizeof(*v));
	for (i = 0; v && i < a->n_etls; i++) {
		const Ais__EtlSpec *s = a->etls[i];

		snprintf(v[i].name, sizeof(v[i].name), "%s",
			 s->name ? s->name : "");
		v[i].argv = ais_strv_dup(s->argv, s->n_argv);
		v[i].env = ais_strv_dup(s->env, s->n_env);
		if (!v[i].argv || !v[i].env) {
			ais_etl_list_free(v, i + 1);
			v = NULL;
			break;
		}
		v[i].mode = s->mode == AIS__ETL_MODE__ETL_WORKER
				? AIS_ETL_WORKER
				: AIS_ETL_FILTER;
		v[i].workers = s->workers;
		v[i].timeout_ms = s->timeout_ms;
		v[i].stopped = s->stopped;
		v[i].created_ns = s->created_ns;
	}
	if (!v) {
		ais__response__free_unpacked(a, NULL);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	*out = v;
	*n = a->n_etls;
	ais__response__free_unpacked(a, NULL);
	return 0;
}

/* req (an answer without data) to any node: its status, with errmsg. */
static int plain_call(struct ais_client *c, Ais__Request *req, bool idempotent,
		      char *errmsg)
{
	return ais__call_any_ok(c, req, idempotent, NULL, errmsg);
}

static int etl_call(struct ais_client *c, Ais__Op op, const char *name,
		    bool stop, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = op;
	req.etl_name = (char *)name;
	req.etl_stop = stop;
	return plain_call(c, &req, op == AIS__OP__OP_ETL_STATE, errmsg);
}

int ais_client_etl_remove(struct ais_client *c, const char *name, char *errmsg)
{
	return etl_call(c, AIS__OP__OP_ETL_REMOVE, name, false, errmsg);
}

int ais_client_etl_state(struct ais_client *c, const char *name, bool stop,
			 char *errmsg)
{
	return etl_call(c, AIS__OP__OP_ETL_STATE, name, stop, errmsg);
}

/* ---- offline jobs (ais etl bucket) ------------------------------------ */

int ais_client_etl_bucket(struct ais_client *c, const struct ais_etl_job *job,
			  char *id, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__EtlJob j = AIS__ETL_JOB__INIT;
	Ais__Response *a;
	int rc;

	j.etl = (char *)job->etl;
	j.etl_args = (char *)job->etl_args;
	j.src_bucket = (char *)job->src_bucket;
	j.prefix = (char *)job->prefix;
	j.dst_bucket = (char *)job->dst_bucket;
	j.ext_from = (char *)job->ext_from;
	j.ext_to = (char *)job->ext_to;
	j.dry_run = job->dry_run;
	j.continue_on_error = job->continue_on_error;
	j.members = job->members;
	req.op = AIS__OP__OP_ETL_BUCKET;
	req.etl_job = &j;
	req.map_version = ais__client_version_hint(c);
	/* Not idempotent: a job sent twice would run twice. */
	rc = ais__call_any(c, &req, false, 0, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	if (!rc)
		snprintf(id, sizeof(job->id), "%s", a->job_id ? a->job_id : "");
	ais__response__free_unpacked(a, NULL);
	return rc;
}

int ais_client_etl_jobs(struct ais_client *c, struct ais_etl_job **out,
			size_t *n, char *errmsg)
{
	struct ais_etl_job *v;
	Ais__Response *a;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	rc = etl_list(c, &a, errmsg);
	if (rc)
		return rc;
	v = calloc(a->n_etl_jobs + 1, sizeof(*v));
	if (!v) {
		ais__response__free_unpacked(a, NULL);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	for (i = 0; i < a->n_etl_jobs; i++) {
		const Ais__EtlJob *s = a->etl_jobs[i];
		struct ais_etl_job *o = &v[i];

		snprintf(o->id, sizeof(o->id), "%s", s->id);
		snprintf(o->etl, sizeof(o->etl), "%s", s->etl);
		snprintf(o->etl_args, sizeof(o->etl_args), "%s", s->etl_args);
		snprintf(o->src_bucket, sizeof(o->src_bucket), "%s",
			 s->src_bucket);
		snprintf(o->prefix, sizeof(o->prefix), "%s", s->prefix);
		snprintf(o->dst_bucket, sizeof(o->dst_bucket), "%s",
			 s->dst_bucket);
		snprintf(o->ext_from, sizeof(o->ext_from), "%s", s->ext_from);
		snprintf(o->ext_to, sizeof(o->ext_to), "%s", s->ext_to);
		o->dry_run = s->dry_run;
		o->continue_on_error = s->continue_on_error;
		o->members = s->members;
		o->stopped = s->stopped;
		o->created_ns = s->created_ns;
	}
	*out = v;
	*n = a->n_etl_jobs;
	ais__response__free_unpacked(a, NULL);
	return 0;
}

static int job_call(struct ais_client *c, Ais__Op op, const char *id,
		    char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;

	req.op = op;
	req.job_id = (char *)id;
	return plain_call(c, &req, op == AIS__OP__OP_JOB_STOP, errmsg);
}

int ais_client_job_stop(struct ais_client *c, const char *id, char *errmsg)
{
	return job_call(c, AIS__OP__OP_JOB_STOP, id, errmsg);
}

int ais_client_job_remove(struct ais_client *c, const char *id, char *errmsg)
{
	return job_call(c, AIS__OP__OP_JOB_REMOVE, id, errmsg);
}
