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

int ais_client_etl_list(struct ais_client *c, struct ais_etl **out, size_t *n,
			char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	struct ais_etl *v;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	req.op = AIS__OP__OP_ETL_LIST;
	req.map_version = ais__client_version_hint(c);
	rc = ais__call_any(c, &req, true, 0, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	if (rc) {
		ais__response__free_unpacked(a, NULL);
		return rc;
	}
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

static int etl_call(struct ais_client *c, Ais__Op op, const char *name,
		    bool stop, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *a;
	int rc;

	req.op = op;
	req.etl_name = (char *)name;
	req.etl_stop = stop;
	req.map_version = ais__client_version_hint(c);
	rc = ais__call_any(c, &req, op == AIS__OP__OP_ETL_STATE, 0, &a, errmsg);
	if (rc < 0)
		return rc;
	rc = ais__resp_status(a, errmsg);
	ais__response__free_unpacked(a, NULL);
	return rc;
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
