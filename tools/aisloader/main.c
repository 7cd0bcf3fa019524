/* aisloader: the load generator's main program: connects, lists the
 * bucket, runs the workers for a duration or a number of epochs, prints
 * interval lines and the final report, and cleans up what it PUT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "log.h"
#include "names.h"
#include "util.h"

#include "members.h"
#include "nametable.h"
#include "opts.h"
#include "stats.h"
#include "worker.h"

/* The main thread wakes at least this often to check on the workers. */
#define POLL_NS (100ULL * 1000000ULL)

struct waiter {
	struct al_run *r;
	sigset_t sigs;
	bool interrupted;
};

/* Waits until every worker has finished. Stops them at deadline_ns (0: no
 * deadline) or on SIGINT/SIGTERM; a second signal aborts the process.
 * Every interval_ns (0: never) prints the interval lines of mask to out. */
static void wait_workers(struct waiter *wt, uint64_t deadline_ns,
			 uint64_t interval_ns, unsigned mask, FILE *out)
{
	struct al_run *r = wt->r;
	/* Intervals count from the start of the run, so that the first one
	 * includes the operations done while the workers were created. */
	uint64_t now, wake, last = r->start_ns,
			    next = interval_ns ? last + interval_ns : 0;
	struct timespec ts;
	int sig;

	while (atomic_load(&r->running) > 0) {
		now = ais_now_mono_ns();
		if (deadline_ns && now >= deadline_ns) {
			atomic_store(&r->stop, true);
			deadline_ns = 0;
		}
		/* No interval lines once stopping: the summary follows. */
		if (atomic_load(&r->stop))
			next = 0;
		if (next && now >= next) {
			al_stats_interval(r->stats, mask, now - r->start_ns,
					  now - last, out);
			last = now;
			next += interval_ns;
			if (next <= now)
				next = now + interval_ns;
		}
		wake = now + POLL_NS;
		if (deadline_ns && deadline_ns < wake)
			wake = deadline_ns;
		if (next && next < wake)
			wake = next;
		/* Every target above is in the future, but never sleep less
		 * than a millisecond (nor a negative time). */
		if (wake < now + 1000000ULL)
			wake = now + 1000000ULL;
		ts.tv_sec = (time_t)((wake - now) / 1000000000ULL);
		ts.tv_nsec = (long)((wake - now) % 1000000000ULL);
		sig = sigtimedwait(&wt->sigs, NULL, &ts);
		if (sig != SIGINT && sig != SIGTERM)
			continue;
		if (wt->interrupted) {
			ais_log(LOG_ERR, "interrupted again: aborting without "
					 "waiting for requests in flight");
			exit(AL_EXIT_FAIL);
		}
		wt->interrupted = true;
		atomic_store(&r->stop, true);
		ais_log(LOG_NOTICE, "interrupted: finishing the requests in "
				    "flight (again to abort)");
	}
}

static void print_header(const struct al_opts *o, const struct al_run *r,
			 FILE *out)
{
	char a[32], b[32], c[32], d[32];

	fprintf(out, "aisloader: %s/%s, ", o->bucket, o->prefix);
	if (r->members)
		fprintf(out, "%s members (%s) of %s shards, ",
			al_fmt_count(r->members->members.n, a, sizeof(a)),
			ais_format_size(r->members->member_bytes, b, sizeof(b)),
			al_fmt_count(r->members->shards.n, c, sizeof(c)));
	else if (o->put_pct < 100)
		fprintf(out, "%s listed objects, ",
			al_fmt_count(r->names->n, a, sizeof(a)));
	if (o->put_pct > 0) {
		fprintf(out, "PUT %u%% of ops over %s names, size %s",
			o->put_pct, al_fmt_count(r->n_gen, a, sizeof(a)),
			ais_format_size(o->size_min, b, sizeof(b)));
		if (o->size_max != o->size_min)
			fprintf(out, "-%s",
				ais_format_size(o->size_max, c, sizeof(c)));
		fputs(", ", out);
	}
	fprintf(out, "%u workers", o->workers);
	if (o->conns > o->workers)
		fprintf(out, " with %u GETs in flight", o->conns);
	fprintf(out, ", order %s%s, seed %llu",
		o->order == AL_ORDER_SEQ ? "seq" : "random",
		o->order == AL_ORDER_SEQ && !o->shuffle ? " (no shuffle)" : "",
		(unsigned long long)o->seed);
	if (o->read_size)
		fprintf(out, ", GET ranges of %s",
			ais_format_size(o->read_size, d, sizeof(d)));
	if (o->duration_ns)
		fprintf(out, ", for %.1fs", (double)o->duration_ns / 1e9);
	if (o->epochs)
		fprintf(out, "%s %llu epoch%s of %s ops",
			o->duration_ns ? " or" : ", for",
			(unsigned long long)o->epochs, o->epochs > 1 ? "s" : "",
			al_fmt_count(r->epoch_ops, a, sizeof(a)));
	fputc('\n', out);
	fflush(out);
}

/* Sets up r for --members: lists the shards and their members into mem
 * (the GET name table). Returns 0, or an exit status with the reason
 * logged. */
static int prepare_members(struct al_run *r, const struct al_opts *o,
			   struct al_members *mem)
{
	char errmsg[AIS_ERRMSG_LEN], sz[32];
	uint64_t t0 = ais_now_mono_ns();
	int rc;

	rc = al_members_load(mem, r->client, o->bucket, o->prefix, errmsg);
	if (rc < 0) {
		ais_log(LOG_ERR, "%s", errmsg);
		return AL_EXIT_FAIL;
	}
	ais_log(LOG_INFO,
		"listed %zu members (%s) of %zu shards in %.2fs (%zu bytes of "
		"names)",
		mem->members.n,
		ais_format_size(mem->member_bytes, sz, sizeof(sz)),
		mem->shards.n, (double)(ais_now_mono_ns() - t0) / 1e9,
		mem->members.arena_len + mem->shards.arena_len);
	if (mem->shards.n == 0) {
		ais_log(LOG_ERR,
			"--members: nothing to GET: bucket %s has no shards "
			"(.tar, .tar.gz, .tgz, .tar.lz4, .zip) under prefix "
			"'%s'",
			o->bucket, o->prefix);
		return AL_EXIT_FAIL;
	}
	if (mem->members.n == 0) {
		ais_log(LOG_ERR,
			"--members: nothing to GET: the %zu shards under "
			"%s/%s have no regular-file members",
			mem->shards.n, o->bucket, o->prefix);
		return AL_EXIT_FAIL;
	}
	r->members = mem;
	r->names = &mem->members;
	r->n_gen = mem->members.n;
	r->epoch_ops = mem->members.n;
	return 0;
}

/* Sets up r from o: listing, generated names, epochs. Returns 0, or an
 * exit status with the reason logged. */
static int prepare(struct al_run *r, const struct al_opts *o,
		   struct al_names *names, struct al_members *mem)
{
	char errmsg[AIS_ERRMSG_LEN], longest[AIS_NAME_MAX + 64];
	size_t plen = strlen(o->prefix);
	uint64_t t0;
	int rc;

	rc = ais_client_bucket_head(r->client, o->bucket, errmsg);
	if (rc == -ENOENT) {
		ais_log(LOG_ERR,
			"bucket %s does not exist (create it first: ais "
			"bucket create %s)",
			o->bucket, o->bucket);
		return AL_EXIT_FAIL;
	}
	if (rc < 0) {
		ais_log(LOG_ERR, "bucket %s: %s", o->bucket, errmsg);
		return AL_EXIT_FAIL;
	}
	if (o->members) {
		/* Options already refused PUTs: no generated names. */
		rc = prepare_members(r, o, mem);
		if (rc)
			return rc;
		goto epochs;
	}
	if (o->put_pct < 100) {
		t0 = ais_now_mono_ns();
		rc = al_names_load(names, r->client, o->bucket, o->prefix, NULL,
				   SIZE_MAX, errmsg);
		if (rc < 0) {
			ais_log(LOG_ERR, "%s", errmsg);
			return AL_EXIT_FAIL;
		}
		ais_log(LOG_INFO,
			"listed %zu objects in %.2fs (%zu bytes of "
			"names)",
			names->n, (double)(ais_now_mono_ns() - t0) / 1e9,
			names->arena_len);
	}
	r->names = names;
	if (o->put_pct == 0 && names->n == 0) {
		ais_log(LOG_ERR,
			"nothing to GET: bucket %s has no objects under "
			"prefix '%s' (PUT some first, e.g. --put-pct 100 "
			"--objects 1000 --epochs 1)",
			o->bucket, o->prefix);
		return AL_EXIT_FAIL;
	}
	snprintf(r->gen_prefix, sizeof(r->gen_prefix), "%s%s", o->prefix,
		 plen && o->prefix[plen - 1] != '/' ? "/" : "");
	r->n_gen = o->objects ? o->objects
			      : (names->n ? names->n : AL_DEFAULT_OBJECTS);
	if (o->put_pct > 0) {
		al_gen_name(r, r->n_gen - 1, longest, sizeof(longest));
		if (ais_name_check_object(longest, strlen(longest), errmsg) <
		    0) {
			ais_log(LOG_ERR,
				"--prefix: generated names are "
				"invalid: %s",
				errmsg);
			return AL_EXIT_USAGE;
		}
		r->written = calloc((r->n_gen + 63) / 64, sizeof(*r->written));
		if (!r->written) {
			ais_log(LOG_ERR, "--objects %llu: out of memory",
				(unsigned long long)r->n_gen);
			return AL_EXIT_FAIL;
		}
	}
	/* An epoch is one pass over the listed names, or over the generated
	 * ones when the run only PUTs or nothing was listed. */
	r->epoch_ops = o->put_pct < 100 && names->n ? names->n : r->n_gen;
epochs:
	if (o->epochs) {
		if (r->epoch_ops > UINT64_MAX / o->epochs) {
			ais_log(LOG_ERR, "--epochs %llu: too many operations",
				(unsigned long long)o->epochs);
			return AL_EXIT_USAGE;
		}
		r->op_limit = o->epochs * r->epoch_ops;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ais_client_opts copts;
	struct al_opts o;
	struct al_names names;
	struct al_members mem;
	struct al_run r;
	struct al_worker *w = NULL;
	struct al_run_info ri;
	struct waiter wt;
	char errmsg[AIS_ERRMSG_LEN];
	const char *env;
	unsigned mask;
	FILE *out;
	int rc, status = AL_EXIT_FAIL;

	rc = al_opts_parse(&o, argc, argv, errmsg);
	if (rc == 1)
		return AL_EXIT_OK;
	if (rc < 0) {
		fprintf(stderr, "aisloader: %s\n", errmsg);
		return AL_EXIT_USAGE;
	}
	env = getenv("AIS_LOG");
	if (env && ais_log_parse_level(env) >= 0 && o.log_level != LOG_DEBUG)
		o.log_level = ais_log_parse_level(env);
	ais_log_init("aisloader", o.log_level);

	signal(SIGPIPE, SIG_IGN);
	memset(&wt, 0, sizeof(wt));
	sigemptyset(&wt.sigs);
	sigaddset(&wt.sigs, SIGINT);
	sigaddset(&wt.sigs, SIGTERM);

	memset(&r, 0, sizeof(r));
	memset(&names, 0, sizeof(names));
	memset(&mem, 0, sizeof(mem));
	r.o = &o;
	wt.r = &r;
	ais_client_opts_default(&copts);
	copts.token_file = o.token_file;
	copts.ca_file = o.ca_file;
	if (o.io_timeout_ms)
		copts.io_timeout_ms = o.io_timeout_ms;
	if (copts.max_idle_per_node < (int)o.conns)
		copts.max_idle_per_node = (int)o.conns;
	r.client = ais_client_new(o.endpoint, &copts, errmsg);
	if (!r.client) {
		ais_log(LOG_ERR, "%s", errmsg);
		return AL_EXIT_FAIL;
	}
	status = prepare(&r, &o, &names, &mem);
	if (status)
		goto out_free;
	status = AL_EXIT_FAIL;
	r.stats = al_stats_new(o.workers);
	w = calloc(o.workers, sizeof(*w));
	if (!r.stats || !w) {
		ais_log(LOG_ERR, "out of memory for %u workers", o.workers);
		goto out_free;
	}
	if (r.members)
		al_stats_set_label(r.stats, AL_OP_GET,
				   o.etl ? "GET-member-etl" : "GET-member");
	else if (o.etl)
		al_stats_set_label(r.stats, AL_OP_GET, "GET-etl");

	out = o.json ? stderr : stdout;
	mask = (o.put_pct < 100 ? 1u << AL_OP_GET : 0) |
	       (o.put_pct > 0 ? 1u << AL_OP_PUT : 0);
	if (!o.quiet)
		print_header(&o, &r, out);

	/* From here on SIGINT/SIGTERM are taken synchronously by the main
	 * thread (wait_workers); until now they simply end the process, which
	 * has nothing to undo while it lists. Workers block every signal. */
	pthread_sigmask(SIG_BLOCK, &wt.sigs, NULL);
	r.start_ns = ais_now_mono_ns();
	rc = al_workers_start(&r, w, o.workers, false);
	if (rc < 0) {
		ais_log(LOG_ERR, "cannot start %u workers: %s", o.workers,
			strerror(-rc));
		goto out_free;
	}
	wait_workers(&wt, o.duration_ns ? r.start_ns + o.duration_ns : 0,
		     o.quiet ? 0 : o.interval_ns, mask, out);
	al_workers_join(w, o.workers);

	memset(&ri, 0, sizeof(ri));
	ri.duration_ns = (atomic_load(&r.end_ns) ? atomic_load(&r.end_ns)
						 : ais_now_mono_ns()) -
			 r.start_ns;
	ri.interrupted = wt.interrupted;

	/* Cleanup runs after an interrupt too (a run with --duration 0 ends
	 * no other way); a second interrupt aborts it. */
	if (o.cleanup) {
		if (!o.quiet || wt.interrupted)
			ais_log(LOG_NOTICE, "cleanup: deleting the objects "
					    "this run PUT");
		atomic_store(&r.stop, false);
		rc = al_workers_start(&r, w, o.workers, true);
		if (rc < 0) {
			ais_log(LOG_ERR, "cleanup: cannot start workers: %s",
				strerror(-rc));
			atomic_fetch_add(&r.cleanup_errors, 1);
		} else {
			wait_workers(&wt, 0, 0, 0, out);
			al_workers_join(w, o.workers);
		}
		ri.cleanup = true;
		ri.cleanup_deleted = atomic_load(&r.cleanup_deleted);
		ri.cleanup_errors = atomic_load(&r.cleanup_errors);
	}

	ri.bucket = o.bucket;
	ri.prefix = o.prefix;
	ri.workers = o.workers;
	ri.conns = o.conns;
	ri.seed = o.seed;
	ri.put_pct = o.put_pct;
	ri.order = o.order == AL_ORDER_SEQ ? "seq" : "random";
	if (r.members) {
		ri.members = true;
		ri.shards = mem.shards.n;
		ri.shard_members = mem.members.n;
		ri.shard_member_bytes = mem.member_bytes;
		ri.shards_with_errors = mem.bad_shards;
	}
	if (!(o.json && o.quiet))
		al_stats_summary(r.stats, mask, &ri, out);
	if (o.json)
		al_stats_json(r.stats, &ri, stdout);
	status = al_stats_errors(r.stats) || ri.cleanup_errors ? AL_EXIT_FAIL
							       : AL_EXIT_OK;
out_free:
	if (w)
		al_workers_free(w, o.workers);
	free(w);
	al_stats_free(r.stats);
	free(r.written);
	al_names_free(&names);
	al_members_free(&mem);
	ais_client_free(r.client);
	return status;
}
