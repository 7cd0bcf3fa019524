/* aisloader: statistics merging and reporting (see stats.h). */
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define LOAD(p) atomic_load_explicit((p), memory_order_relaxed)

static const char *const op_names[AL_OP_N] = {"GET", "PUT"};
static const char *const op_keys[AL_OP_N] = {"get", "put"};

struct first_error {
	enum al_op op;
	int rc;
	char object[320];
	char msg[AIS_ERRMSG_LEN];
};

struct al_stats {
	unsigned n;
	const char *label[AL_OP_N]; /* op names in lines and messages */
	struct al_wstats *w;	    /* n of them */
	/* Reporter-only state: the cumulative totals at the previous interval
	 * line, and scratch space (histograms are too big for the stack). */
	struct al_opstats prev[AL_OP_N];
	struct al_opstats cur;
	struct al_opstats tmp;
	pthread_mutex_t mu;
	atomic_uint n_first;
	struct first_error first[AL_FIRST_ERRORS];
};

struct al_stats *al_stats_new(unsigned nworkers)
{
	struct al_stats *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->n = nworkers;
	memcpy(s->label, op_names, sizeof(s->label));
	s->w = aligned_alloc(64, sizeof(*s->w) * nworkers);
	if (!s->w) {
		free(s);
		return NULL;
	}
	memset((void *)s->w, 0, sizeof(*s->w) * nworkers);
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

void al_stats_free(struct al_stats *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->w);
	free(s);
}

void al_stats_set_label(struct al_stats *s, enum al_op op, const char *label)
{
	s->label[op] = label;
}

struct al_wstats *al_stats_worker(struct al_stats *s, unsigned i)
{
	return &s->w[i];
}

void al_stats_err(struct al_stats *s, struct al_wstats *w, enum al_op op,
		  int rc, const char *object, const char *msg)
{
	int e = rc < 0 ? -rc : rc;
	struct first_error *f;
	unsigned k;

	al_ctr_add(&w->op[op].errors, 1);
	al_ctr_add(&w->by_errno[e > 0 && e < AL_ERRNO_SLOTS ? e : 0], 1);
	if (atomic_load_explicit(&s->n_first, memory_order_relaxed) >=
	    AL_FIRST_ERRORS)
		return;
	pthread_mutex_lock(&s->mu);
	k = atomic_load(&s->n_first);
	if (k < AL_FIRST_ERRORS) {
		f = &s->first[k];
		f->op = op;
		f->rc = rc;
		snprintf(f->object, sizeof(f->object), "%s", object);
		snprintf(f->msg, sizeof(f->msg), "%s",
			 msg && *msg ? msg : strerror(e));
		atomic_store(&s->n_first, k + 1);
		ais_log(LOG_WARNING, "%s %s: %s", s->label[op], f->object,
			f->msg);
		if (k + 1 == AL_FIRST_ERRORS)
			ais_log(LOG_WARNING, "further errors are counted, not "
					     "logged");
	}
	pthread_mutex_unlock(&s->mu);
}

/* dst = the sum over all workers of op (or of every op if op < 0). */
static void merge(struct al_stats *s, int op, struct al_opstats *dst)
{
	uint64_t ops = 0, bytes = 0, errors = 0;
	unsigned i;
	int k;

	al_hist_reset(&dst->lat);
	for (i = 0; i < s->n; i++) {
		for (k = 0; k < AL_OP_N; k++) {
			const struct al_opstats *src = &s->w[i].op[k];

			if (op >= 0 && k != op)
				continue;
			ops += LOAD(&src->ops);
			bytes += LOAD(&src->bytes);
			errors += LOAD(&src->errors);
			al_hist_add(&dst->lat, &src->lat);
		}
	}
	atomic_store_explicit(&dst->ops, ops, memory_order_relaxed);
	atomic_store_explicit(&dst->bytes, bytes, memory_order_relaxed);
	atomic_store_explicit(&dst->errors, errors, memory_order_relaxed);
}

uint64_t al_stats_errors(struct al_stats *s)
{
	uint64_t n = 0;
	unsigned i;
	int k;

	for (i = 0; i < s->n; i++)
		for (k = 0; k < AL_OP_N; k++)
			n += LOAD(&s->w[i].op[k].errors);
	return n;
}

char *al_fmt_count(uint64_t n, char *buf, size_t len)
{
	char digits[32];
	size_t nd, i, o = 0;

	nd = (size_t)snprintf(digits, sizeof(digits), "%llu",
			      (unsigned long long)n);
	for (i = 0; i < nd && o + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* Latencies print with about two significant digits: 0.41ms, 2.1ms, 12ms,
 * 340ms, 1.4s. */
static char *fmt_lat(uint64_t ns, bool any, char *buf, size_t len)
{
	double ms = (double)ns / 1e6;

	if (!any)
		snprintf(buf, len, "-");
	else if (ms < 100)
		snprintf(buf, len, "%.2gms", ms);
	else if (ms < 1000)
		snprintf(buf, len, "%.0fms", ms);
	else
		snprintf(buf, len, "%.1fs", ms / 1000);
	return buf;
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* "12,345 ops/s  48.2 MiB/s  p50 ... max ...  err N" for ops and bytes over
 * dt_ns with latency histogram h. */
static void print_rates(FILE *out, uint64_t ops, uint64_t bytes,
			uint64_t errors, const struct al_hist *h,
			uint64_t dt_ns)
{
	double secs = dt_ns ? (double)dt_ns / 1e9 : 1;
	bool any = LOAD(&h->count) > 0;
	char c[32], l[5][24];

	fprintf(
	    out,
	    "%s ops/s  %.1f MiB/s  p50 %s p90 %s p99 %s p99.9 %s max %s  "
	    "err %llu",
	    al_fmt_count((uint64_t)((double)ops / secs + 0.5), c, sizeof(c)),
	    mib(bytes) / secs,
	    fmt_lat(al_hist_quantile(h, 0.50), any, l[0], sizeof(l[0])),
	    fmt_lat(al_hist_quantile(h, 0.90), any, l[1], sizeof(l[1])),
	    fmt_lat(al_hist_quantile(h, 0.99), any, l[2], sizeof(l[2])),
	    fmt_lat(al_hist_quantile(h, 0.999), any, l[3], sizeof(l[3])),
	    fmt_lat(LOAD(&h->max), any, l[4], sizeof(l[4])),
	    (unsigned long long)errors);
}

void al_stats_interval(struct al_stats *s, unsigned mask, uint64_t elapsed_ns,
		       uint64_t dt_ns, FILE *out)
{
	struct al_opstats *prev;
	int op;

	for (op = 0; op < AL_OP_N; op++) {
		prev = &s->prev[op];
		merge(s, op, &s->cur);
		if (mask & (1u << op)) {
			al_hist_diff(&s->tmp.lat, &s->cur.lat, &prev->lat);
			fprintf(out, "%7.1fs  %s ", (double)elapsed_ns / 1e9,
				s->label[op]);
			print_rates(out, LOAD(&s->cur.ops) - LOAD(&prev->ops),
				    LOAD(&s->cur.bytes) - LOAD(&prev->bytes),
				    LOAD(&s->cur.errors) - LOAD(&prev->errors),
				    &s->tmp.lat, dt_ns);
			fputc('\n', out);
		}
		memcpy((void *)prev, (void *)&s->cur, sizeof(*prev));
	}
	fflush(out);
}

static const char *errno_name(int e, char *buf, size_t len)
{
	const char *n = e ? strerrorname_np(e) : NULL;

	if (n)
		return n;
	if (e == 0)
		return "other";
	snprintf(buf, len, "E%d", e);
	return buf;
}

static void print_summary_line(FILE *out, const char *label,
			       const struct al_opstats *t, uint64_t dur_ns)
{
	char c[32], sz[32];

	fprintf(out, "%-6s %s ops, %s in %.1fs: ", label,
		al_fmt_count(LOAD(&t->ops), c, sizeof(c)),
		ais_format_size(LOAD(&t->bytes), sz, sizeof(sz)),
		(double)dur_ns / 1e9);
	print_rates(out, LOAD(&t->ops), LOAD(&t->bytes), LOAD(&t->errors),
		    &t->lat, dur_ns);
	fputc('\n', out);
}

static uint64_t errno_total(struct al_stats *s, int slot)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < s->n; i++)
		n += LOAD(&s->w[i].by_errno[slot]);
	return n;
}

void al_stats_summary(struct al_stats *s, unsigned mask,
		      const struct al_run_info *ri, FILE *out)
{
	char nb[16];
	bool first = true;
	unsigned k, nf;
	uint64_t n;
	int op, e;

	fprintf(out,
		"--- aisloader %s/%s: %u workers, %u in flight, %.1fs%s, "
		"seed %llu\n",
		ri->bucket, ri->prefix, ri->workers, ri->conns,
		(double)ri->duration_ns / 1e9,
		ri->interrupted ? " (interrupted)" : "",
		(unsigned long long)ri->seed);
	for (op = 0; op < AL_OP_N; op++) {
		if (!(mask & (1u << op)))
			continue;
		merge(s, op, &s->cur);
		print_summary_line(out, s->label[op], &s->cur, ri->duration_ns);
	}
	if ((mask & 3) == 3) {
		merge(s, -1, &s->cur);
		print_summary_line(out, "TOTAL", &s->cur, ri->duration_ns);
	}
	for (e = 1; e <= AL_ERRNO_SLOTS; e++) {
		n = errno_total(s, e % AL_ERRNO_SLOTS);
		if (!n)
			continue;
		fprintf(out, "%s%s %llu", first ? "errors: " : ", ",
			errno_name(e % AL_ERRNO_SLOTS, nb, sizeof(nb)),
			(unsigned long long)n);
		first = false;
	}
	if (!first)
		fputc('\n', out);
	nf = atomic_load(&s->n_first);
	if (nf)
		fprintf(out, "first errors:\n");
	for (k = 0; k < nf; k++)
		fprintf(out, "  %s %s: %s\n", s->label[s->first[k].op],
			s->first[k].object, s->first[k].msg);
	if (ri->cleanup)
		fprintf(out, "cleanup: deleted %llu objects, %llu errors\n",
			(unsigned long long)ri->cleanup_deleted,
			(unsigned long long)ri->cleanup_errors);
	fflush(out);
}

static void json_str(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void json_opstats(FILE *out, const struct al_opstats *t, uint64_t dur_ns)
{
	double secs = dur_ns ? (double)dur_ns / 1e9 : 1;
	const struct al_hist *h = &t->lat;

	fprintf(out,
		"\"ops\":%llu,\"bytes\":%llu,\"ops_per_s\":%.3f,"
		"\"mib_per_s\":%.3f,\"latency_us\":{\"p50\":%.1f,"
		"\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
		"\"errors\":%llu",
		(unsigned long long)LOAD(&t->ops),
		(unsigned long long)LOAD(&t->bytes),
		(double)LOAD(&t->ops) / secs, mib(LOAD(&t->bytes)) / secs,
		(double)al_hist_quantile(h, 0.50) / 1e3,
		(double)al_hist_quantile(h, 0.90) / 1e3,
		(double)al_hist_quantile(h, 0.99) / 1e3,
		(double)al_hist_quantile(h, 0.999) / 1e3,
		(double)LOAD(&h->max) / 1e3,
		(unsigned long long)LOAD(&t->errors));
}

void al_stats_json(struct al_stats *s, const struct al_run_info *ri, FILE *out)
{
	char nb[16];
	bool first = true;
	unsigned k, nf;
	uint64_t n;
	int op, e;

	fputs("{\"bucket\":", out);
	json_str(out, ri->bucket);
	fputs(",\"prefix\":", out);
	json_str(out, ri->prefix);
	fprintf(out,
		",\"workers\":%u,\"conns\":%u,\"seed\":%llu,\"put_pct\":%u,"
		"\"order\":\"%s\",\"duration_s\":%.3f,\"interrupted\":%s,",
		ri->workers, ri->conns, (unsigned long long)ri->seed,
		ri->put_pct, ri->order, (double)ri->duration_ns / 1e9,
		ri->interrupted ? "true" : "false");
	if (ri->members)
		fprintf(out,
			"\"members\":true,\"shards\":%llu,"
			"\"shard_members\":%llu,\"shard_member_bytes\":%llu,"
			"\"shards_with_errors\":%llu,",
			(unsigned long long)ri->shards,
			(unsigned long long)ri->shard_members,
			(unsigned long long)ri->shard_member_bytes,
			(unsigned long long)ri->shards_with_errors);
	else
		fputs("\"members\":false,", out);
	merge(s, -1, &s->cur);
	json_opstats(out, &s->cur, ri->duration_ns);
	fputs(",\"errors_by_errno\":{", out);
	for (e = 1; e <= AL_ERRNO_SLOTS; e++) {
		n = errno_total(s, e % AL_ERRNO_SLOTS);
		if (!n)
			continue;
		fprintf(out, "%s\"%s\":%llu", first ? "" : ",",
			errno_name(e % AL_ERRNO_SLOTS, nb, sizeof(nb)),
			(unsigned long long)n);
		first = false;
	}
	fputs("},\"first_errors\":[", out);
	nf = atomic_load(&s->n_first);
	for (k = 0; k < nf; k++) {
		fprintf(out, "%s{\"op\":\"%s\",\"errno\":%d,\"object\":",
			k ? "," : "", op_keys[s->first[k].op], -s->first[k].rc);
		json_str(out, s->first[k].object);
		fputs(",\"message\":", out);
		json_str(out, s->first[k].msg);
		fputc('}', out);
	}
	fputs("],\"by_op\":{", out);
	for (op = 0; op < AL_OP_N; op++) {
		merge(s, op, &s->cur);
		fprintf(out, "%s\"%s\":{", op ? "," : "", op_keys[op]);
		json_opstats(out, &s->cur, ri->duration_ns);
		fputc('}', out);
	}
	fputc('}', out);
	if (ri->cleanup)
		fprintf(out, ",\"cleanup\":{\"deleted\":%llu,\"errors\":%llu}",
			(unsigned long long)ri->cleanup_deleted,
			(unsigned long long)ri->cleanup_errors);
	fputs("}\n", out);
	fflush(out);
}
