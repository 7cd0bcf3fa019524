/* Integration: many GETs in flight from one thread (lib/client/client_async.h)
 * against a real 3-node cluster, and against a fake node speaking the frame
 * protocol badly. 500 objects of random sizes (0, 256 KiB + 1, several MiB)
 * with 64 GETs in flight, resubmitted from done(), and from two threads
 * sharing one client: every byte equal, every done() called once. Ranges and
 * shard members equal their source. A missing object, a receiver that aborts, a
 * corrupted file (-EBADMSG) and bad names (-EINVAL, no done()) do not disturb
 * the GETs around them. A restarted node (dead idle connections) is served
 * again; a killed node fails fast with a connection errno; a stopped node and a
 * fake node that never answers give -ETIMEDOUT after io_timeout_ms, not later;
 * malformed answers give -EPROTO; ais_async_free cancels what is in flight
 * (-ECANCELED) and leaves the client's pools sound.
 *
 * Longer than ~800 lines on purpose: one program, so that the cases share
 * the cluster and the fake node it starts once. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_async.h"
#include "frame.h"
#include "harness.h"
#include "map.h"

static struct ais_test_cluster tc;
#define C (tc.client)

#define KiB   1024u
#define MiB   (1024u * 1024u)
#define NOBJ  500
#define DEPTH 64

static struct ais_map *map;
static uint64_t obj_size[NOBJ];

static uint64_t now_ms(void)
{
	return ais_now_mono_ns() / 1000000u;
}

static void obj_name(int i, char *buf, size_t len)
{
	snprintf(buf, len, "many/%03d", i);
}

static uint64_t obj_seed(int i)
{
	return 5000 + (uint64_t)i;
}

/* Index of the node owning test/name. */
static int owner_index(const char *name)
{
	const struct ais_node *o = ais_map_owner(map, "test", name);

	ck_assert_ptr_nonnull(o);
	return o->port - tc.port;
}

/* Open file descriptors of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own */
}

/* ---- jobs: one GET each, with what it must give ------------------------ */

struct batch;

struct job {
	struct ais_aget g;
	struct ais_test_verify v;
	char name[96];
	char archpath[64];
	uint64_t want_bytes; /* body bytes expected */
	uint64_t want_size;  /* meta.size expected (0: not checked) */
	int want_rc;	     /* expected result */
	int get_rc;	     /* what ais_async_get returned */
	int calls;	     /* done() calls */
	int rc;		     /* done()'s rc */
	char msg[AIS_ERRMSG_LEN];
	uint64_t t_submit, t_done; /* ms */
	int abort_after; /* cb fails with -EIO after this many calls */
	int cb_calls;
	struct batch *b;
};

struct batch {
	struct ais_async *a;
	struct job *jobs;
	size_t n, next;
	unsigned done_calls; /* done() calls over all jobs */
	unsigned peak;	     /* highest ais_async_inflight seen */
	bool resubmit;	     /* done() submits the next job */
	bool in_free;	     /* done() ran from ais_async_free */
	int free_submit_rc;  /* what a submission from done() in free gave */
};

static int job_cb(void *arg, const void *buf, size_t len)
{
	struct job *j = arg;

	j->cb_calls++;
	if (j->abort_after > 0 && j->cb_calls > j->abort_after)
		return -EIO;
	return ais_test_verify_write(&j->v, buf, len);
}

static void submit_next(struct batch *b);

static void job_done(struct ais_aget *g, int rc, const char *msg)
{
	struct job *j = g->user;
	struct batch *b = j->b;

	j->calls++;
	j->rc = rc;
	snprintf(j->msg, sizeof(j->msg), "%s", msg ? msg : "(null)");
	j->t_done = now_ms();
	b->done_calls++;
	if (b->in_free) {
		/* A GET submitted while the multiplexer is being freed must
		 * not start (it could never finish). */
		char em[AIS_ERRMSG_LEN] = "";
		struct job *k = &b->jobs[b->n - 1];

		if (k != j && k->calls == 0 && k->get_rc == 1)
			b->free_submit_rc = ais_async_get(b->a, &k->g, em);
		return;
	}
	if (b->resubmit)
		submit_next(b);
}

/* A GET of bucket "test" name (archpath may be NULL) at [off, off+len)
 * expecting rc, and if rc is 0 the bytes [off, ..) of stream seed:
 * want_bytes of them, meta.size want_size. */
static void job_init(struct job *j, struct batch *b, const char *name,
		     const char *archpath, uint64_t seed, uint64_t off,
		     uint64_t len, uint64_t want_bytes, uint64_t want_size,
		     int want_rc)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", name);
	if (archpath)
		snprintf(j->archpath, sizeof(j->archpath), "%s", archpath);
	ais_test_verify_init(&j->v, seed, off);
	j->g.bucket = "test";
	j->g.name = j->name;
	j->g.archpath = archpath ? j->archpath : NULL;
	j->g.off = off;
	j->g.len = len;
	j->g.cb = job_cb;
	j->g.arg = j;
	j->g.done = job_done;
	j->g.user = j;
	j->want_bytes = want_bytes;
	j->want_size = want_size;
	j->want_rc = want_rc;
	j->get_rc = 1; /* not submitted */
	j->b = b;
}

/* Submits the next job; a job that ais_async_get refuses is over (its
 * get_rc says why) and the one after it is tried. */
static void submit_next(struct batch *b)
{
	while (b->next < b->n) {
		struct job *j = &b->jobs[b->next++];
		unsigned k;

		j->t_submit = now_ms();
		j->get_rc = ais_async_get(b->a, &j->g, j->msg);
		if (j->get_rc < 0) {
			j->rc = j->get_rc;
			continue;
		}
		k = ais_async_inflight(b->a);
		if (k > b->peak)
			b->peak = k;
		return;
	}
}

/* Runs the batch: depth GETs in flight (resubmitted from done()), until
 * every job is over or limit_ms passed. Checks that ais_async_run's counts
 * add up to the done() calls and that nothing is left in flight. */
static void run_batch(struct batch *b, unsigned depth, uint64_t limit_ms)
{
	uint64_t t_end = now_ms() + limit_ms;
	unsigned finished = 0, before = b->done_calls;

	b->resubmit = true;
	for (unsigned i = 0; i < depth && b->next < b->n; i++)
		submit_next(b);
	while (ais_async_inflight(b->a) > 0) {
		int n = ais_async_run(b->a, 500);

		ck_assert_msg(n >= 0, "ais_async_run: %d", n);
		finished += (unsigned)n;
		ck_assert_msg(
		    now_ms() < t_end, "GETs still in flight after %llu ms: %u",
		    (unsigned long long)limit_ms, ais_async_inflight(b->a));
	}
	ck_assert_uint_eq(finished, b->done_calls - before);
	ck_assert_uint_eq(ais_async_inflight(b->a), 0);
	/* Nothing left: run returns at once with 0. */
	t_end = now_ms();
	ck_assert_int_eq(ais_async_run(b->a, 2000), 0);
	ck_assert_msg(now_ms() - t_end < 500,
		      "ais_async_run with nothing in flight waited %llu ms",
		      (unsigned long long)(now_ms() - t_end));
}

/* Every job of the batch gave what it must. */
static void check_jobs(struct batch *b, const char *what)
{
	for (size_t i = 0; i < b->n; i++) {
		struct job *j = &b->jobs[i];
		const char *id = j->archpath[0] ? j->archpath : j->name;

		if (j->get_rc < 0) {
			ck_assert_msg(j->want_rc == j->get_rc,
				      "%s: %s: ais_async_get %d (%s), want %d",
				      what, id, j->get_rc, j->msg, j->want_rc);
			ck_assert_msg(j->calls == 0,
				      "%s: %s: done() called after a refused "
				      "submission",
				      what, id);
			ck_assert_msg(j->msg[0] != '\0', "%s: %s: no message",
				      what, id);
			continue;
		}
		ck_assert_msg(j->calls == 1, "%s: %s: done() called %d times",
			      what, id, j->calls);
		ck_assert_msg(j->rc == j->want_rc,
			      "%s: %s: rc %d (%s), want %d", what, id, j->rc,
			      j->msg, j->want_rc);
		ck_assert_msg(strchr(j->msg, '\n') == NULL,
			      "%s: %s: message of more than one line", what,
			      id);
		if (j->rc < 0) {
			ck_assert_msg(j->msg[0] != '\0',
				      "%s: %s: error %d without a message",
				      what, id, j->rc);
			continue;
		}
		ck_assert_msg(j->msg[0] == '\0',
			      "%s: %s: message on success: %s", what, id,
			      j->msg);
		ck_assert_msg(j->g.bytes == j->want_bytes &&
				  j->v.got == j->want_bytes,
			      "%s: %s: %llu bytes (%llu to cb), want %llu",
			      what, id, (unsigned long long)j->g.bytes,
			      (unsigned long long)j->v.got,
			      (unsigned long long)j->want_bytes);
		ck_assert_msg(j->v.bad_at < 0, "%s: %s: wrong byte at %lld",
			      what, id, (long long)j->v.bad_at);
		if (j->want_size)
			ck_assert_msg(j->g.meta.size == j->want_size,
				      "%s: %s: meta.size %llu, want %llu", what,
				      id, (unsigned long long)j->g.meta.size,
				      (unsigned long long)j->want_size);
	}
}

static struct ais_async *async_new(struct ais_client *c)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_async *a = ais_async_new(c, msg);

	ck_assert_msg(a != NULL, "ais_async_new: %s", msg);
	return a;
}

/* Whole-object jobs for objects idx[0..n). */
static void jobs_whole(struct batch *b, const int *idx, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[64];

		obj_name(idx[i], name, sizeof(name));
		job_init(&b->jobs[i], b, name, NULL, obj_seed(idx[i]), 0, 0,
			 obj_size[idx[i]], obj_size[idx[i]], 0);
	}
	b->n = n;
	b->next = 0;
}

static void put_stream(const char *name, uint64_t seed, uint64_t size)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_test_gen g = {.seed = seed, .size = size};
	int rc = ais_client_put_cb(C, "test", name, size, ais_test_gen_read, &g,
				   NULL, NULL, msg);

	ck_assert_msg(rc == 0, "PUT %s: %d %s", name, rc, msg);
}

/* ---- 1. many GETs in flight -------------------------------------------- */

START_TEST(test_setup)
{
	unsigned seed = 20261122;
	int per_node[3] = {0, 0, 0};

	map = ais_test_cluster_map(C);
	ck_assert_uint_eq(map->n, 3);
	for (int i = 0; i < NOBJ; i++) {
		char name[64];

		switch (i) {
		case 0:
			obj_size[i] = 0;
			break;
		case 1:
			obj_size[i] = 256 * KiB + 1;
			break;
		case 2:
			obj_size[i] = 256 * KiB;
			break;
		case 3:
			obj_size[i] = 1;
			break;
		case 4:
			obj_size[i] = 6 * MiB + 5;
			break;
		default:
			obj_size[i] = (uint64_t)rand_r(&seed) % (300 * KiB + 1);
		}
		obj_name(i, name, sizeof(name));
		put_stream(name, obj_seed(i), obj_size[i]);
		per_node[owner_index(name)]++;
	}
	for (int i = 0; i < 3; i++)
		ck_assert_msg(per_node[i] > 0, "node %d owns no object", i);
}
END_TEST

START_TEST(test_many_in_flight)
{
	static struct job jobs[NOBJ];
	struct batch b = {.jobs = jobs};
	int idx[NOBJ];
	int fds0 = count_fds();

	b.a = async_new(C);
	/* Twice over one multiplexer: the second pass runs on the
	 * connections the first one left idle. */
	for (int pass = 0; pass < 2; pass++) {
		char what[32];

		for (int i = 0; i < NOBJ; i++)
			idx[i] = pass ? NOBJ - 1 - i : i;
		jobs_whole(&b, idx, NOBJ);
		b.peak = 0;
		run_batch(&b, DEPTH, 60000);
		snprintf(what, sizeof(what), "pass %d", pass);
		check_jobs(&b, what);
		/* The metadata came with the bytes. */
		for (int i = 0; i < NOBJ; i++) {
			const struct ais_obj_meta *m = &jobs[i].g.meta;
			char hex[AIS_CKSUM_HEX_MAX];
			int o = idx[i];

			ais_test_stream_cksum(obj_seed(o), obj_size[o], hex);
			ck_assert_msg(m->cksum_type == AIS_CKSUM_XXH3 &&
					  strcmp(m->cksum, hex) == 0 &&
					  m->version >= 1 && m->mtime_ns > 0,
				      "%s: %s: meta cksum %d %s (want %s), "
				      "version %llu",
				      what, jobs[i].name, m->cksum_type,
				      m->cksum, hex,
				      (unsigned long long)m->version);
		}
		ck_assert_msg(b.peak == DEPTH, "%s: peak in flight %u, want %u",
			      what, b.peak, DEPTH);
		/* A connection per GET in flight, kept for the next GETs
		 * to that node: at most DEPTH per node, whatever the
		 * number of GETs. */
		fprintf(stderr, "# %s: %d fds open, %d before\n", what,
			count_fds(), fds0);
		ck_assert_msg(count_fds() <= fds0 + 3 * DEPTH + 4,
			      "%s: %d fds open, %d before", what, count_fds(),
			      fds0);
	}
	ck_assert_uint_eq(b.done_calls, 2 * NOBJ);
	ais_async_free(b.a);
	ck_assert_msg(count_fds() <= fds0 + 3 * 32 + 4,
		      "%d fds open after free, %d before", count_fds(), fds0);
}
END_TEST

/* One struct ais_aget per slot, resubmitted for the next object from its
 * own done() (how a load generator uses the API), in two threads that
 * share one client: 2 x 16 in flight, each thread every object. */
struct slot_run {
	struct ais_client *c;
	unsigned depth;
	int next;     /* next object to GET */
	int ok[NOBJ]; /* GETs of the object that were right */
	int done_calls;
	bool timed_out;
	char err[AIS_ERRMSG_LEN + 128]; /* the first failure */
};

struct slot {
	struct ais_aget g;
	struct ais_test_verify v;
	char name[64];
	int obj;
	struct ais_async *a;
	struct slot_run *r;
};

static void slot_fail(struct slot_run *r, const char *what, int rc,
		      const char *msg)
{
	if (r->err[0] == '\0')
		snprintf(r->err, sizeof(r->err), "%s: %d %s", what, rc, msg);
}

static void slot_start(struct slot *s)
{
	struct slot_run *r = s->r;
	char msg[AIS_ERRMSG_LEN] = "";
	int rc;

	while (r->next < NOBJ) {
		s->obj = r->next++;
		obj_name(s->obj, s->name, sizeof(s->name));
		ais_test_verify_init(&s->v, obj_seed(s->obj), 0);
		rc = ais_async_get(s->a, &s->g, msg);
		if (rc == 0)
			return;
		slot_fail(r, s->name, rc, msg);
	}
}

static void slot_done(struct ais_aget *g, int rc, const char *msg)
{
	struct slot *s = g->user;
	struct slot_run *r = s->r;
	uint64_t size = obj_size[s->obj];

	r->done_calls++;
	if (rc < 0)
		slot_fail(r, s->name, rc, msg);
	else if (g->bytes != size || s->v.got != size || s->v.bad_at >= 0 ||
		 g->meta.size != size)
		slot_fail(r, s->name, -EIO, "wrong bytes or size");
	else
		r->ok[s->obj]++;
	slot_start(s); /* the same g, for the next object */
}

static void *slot_thread(void *arg)
{
	struct slot_run *r = arg;
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_async *a = ais_async_new(r->c, msg);
	struct slot *slots = calloc(r->depth, sizeof(*slots));
	uint64_t t_end = now_ms() + 60000;

	if (!a || !slots) {
		slot_fail(r, "ais_async_new", -ENOMEM, msg);
		ais_async_free(a);
		free(slots);
		return NULL;
	}
	for (unsigned i = 0; i < r->depth; i++) {
		slots[i].a = a;
		slots[i].r = r;
		slots[i].g.bucket = "test";
		slots[i].g.name = slots[i].name;
		slots[i].g.cb = ais_test_verify_write;
		slots[i].g.arg = &slots[i].v;
		slots[i].g.done = slot_done;
		slots[i].g.user = &slots[i];
		slot_start(&slots[i]);
	}
	while (ais_async_inflight(a) > 0) {
		int n = ais_async_run(a, 500);

		if (n < 0)
			slot_fail(r, "ais_async_run", n, "");
		if (n < 0 || now_ms() > t_end) {
			r->timed_out = now_ms() > t_end;
			break;
		}
	}
	ais_async_free(a);
	free(slots);
	return NULL;
}

START_TEST(test_two_threads)
{
	static struct slot_run runs[2];
	pthread_t t[2];

	for (int i = 0; i < 2; i++) {
		memset(&runs[i], 0, sizeof(runs[i]));
		runs[i].c = C;
		runs[i].depth = 16;
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, slot_thread, &runs[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++) {
		struct slot_run *r = &runs[i];

		ck_assert_msg(!r->timed_out,
			      "thread %d: GETs still in flight "
			      "after 60 s",
			      i);
		ck_assert_msg(r->err[0] == '\0', "thread %d: %s", i, r->err);
		ck_assert_int_eq(r->done_calls, NOBJ);
		for (int o = 0; o < NOBJ; o++)
			ck_assert_msg(r->ok[o] == 1,
				      "thread %d: object %d right %d times", i,
				      o, r->ok[o]);
	}
}
END_TEST

/* ---- 2. ranges and shard members --------------------------------------- */

START_TEST(test_ranges)
{
	static struct job jobs[16];
	struct batch b = {.jobs = jobs};
	const uint64_t big = obj_size[4], med = obj_size[1];
	struct {
		int obj;
		uint64_t off, len, want;
	} r[] = {
	    {4, 0, 1, 1},
	    {4, MiB + 3, 100000, 100000},
	    {4, big - 10, 0, 10},
	    {4, 3 * MiB, 2 * MiB + 1, 2 * MiB + 1},
	    {1, 256 * KiB, 0, 1},
	    {1, 7, med - 7, med - 7},
	    {1, 0, 256 * KiB, 256 * KiB},
	    {1, med - 5, 1000, 5}, /* past the end: what there is */
	    {3, 0, 1, 1},
	};
	size_t n = sizeof(r) / sizeof(r[0]);

	b.a = async_new(C);
	for (size_t i = 0; i < n; i++) {
		char name[64];

		obj_name(r[i].obj, name, sizeof(name));
		job_init(&jobs[i], &b, name, NULL, obj_seed(r[i].obj), r[i].off,
			 r[i].len, r[i].want, obj_size[r[i].obj], 0);
	}
	b.n = n;
	run_batch(&b, (unsigned)n, 20000);
	check_jobs(&b, "ranges");
	ais_async_free(b.a);
}
END_TEST

/* The members of the test shard: path, seed, size. */
static const struct member {
	const char *path;
	uint64_t seed, size;
} members[] = {
    {"a/small.bin", 71, 1000}, {"a/b/big.bin", 72, 300000},
    {"empty", 73, 0},	       {"c/block.bin", 74, 512},
    {"c/odd.bin", 75, 513},    {"d/e/f/deep.bin", 76, 4 * MiB + 1},
};
#define NMEMBERS (sizeof(members) / sizeof(members[0]))

/* Writes a pax tar of the members to path with libarchive. */
static void make_tar(const char *path)
{
	struct archive *w = archive_write_new();
	static uint8_t buf[65536];

	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(archive_write_set_format_pax_restricted(w),
			 ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_filename(w, path), ARCHIVE_OK);
	for (size_t i = 0; i < NMEMBERS; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, members[i].path);
		archive_entry_set_size(e, (la_int64_t)members[i].size);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		ck_assert_int_eq(archive_write_header(w, e), ARCHIVE_OK);
		for (uint64_t off = 0; off < members[i].size;) {
			size_t k = members[i].size - off < sizeof(buf)
				       ? (size_t)(members[i].size - off)
				       : sizeof(buf);

			ais_test_fill(members[i].seed, off, buf, k);
			ck_assert_int_eq(archive_write_data(w, buf, k),
					 (la_ssize_t)k);
			off += k;
		}
		archive_entry_free(e);
	}
	ck_assert_int_eq(archive_write_close(w), ARCHIVE_OK);
	archive_write_free(w);
}

START_TEST(test_shard_members)
{
	static struct job jobs[32];
	struct batch b = {.jobs = jobs};
	char tar[PATH_MAX], msg[AIS_ERRMSG_LEN] = "", pat[PATH_MAX + 64];
	const char *shard = "shards/s.tar";
	struct stat st;
	size_t n = 0;
	glob_t gl;
	int fd, rc;

	snprintf(tar, sizeof(tar), "%s/s.tar", tc.dir);
	make_tar(tar);
	fd = open(tar, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	rc = ais_client_put_fd(C, "test", shard, fd, (uint64_t)st.st_size, NULL,
			       NULL, msg);
	close(fd);
	ck_assert_msg(rc == 0, "PUT %s: %d %s", shard, rc, msg);
	/* The node indexes it in the background: wait for the sidecar. */
	snprintf(pat, sizeof(pat), "%s/node*/*/.ais/shardidx/test/%s.idx",
		 tc.cluster_dir, shard);
	for (int k = 0; k < 100; k++) {
		bool found = glob(pat, 0, NULL, &gl) == 0;

		if (found)
			globfree(&gl);
		if (found)
			break;
		usleep(100 * 1000);
	}
	ck_assert_msg(glob(pat, 0, NULL, &gl) == 0, "no index for %s", shard);
	globfree(&gl);

	b.a = async_new(C);
	for (size_t i = 0; i < NMEMBERS; i++)
		job_init(&jobs[n++], &b, shard, members[i].path,
			 members[i].seed, 0, 0, members[i].size,
			 members[i].size, 0);
	/* Ranges of members. */
	job_init(&jobs[n++], &b, shard, "a/b/big.bin", 72, 1000, 5000, 5000,
		 300000, 0);
	job_init(&jobs[n++], &b, shard, "d/e/f/deep.bin", 76, 4 * MiB, 0, 1,
		 4 * MiB + 1, 0);
	job_init(&jobs[n++], &b, shard, "a/small.bin", 71, 999, 1, 1, 1000, 0);
	/* A missing member and a directory. */
	job_init(&jobs[n++], &b, shard, "no/such", 0, 0, 0, 0, 0, -ENOENT);
	job_init(&jobs[n++], &b, shard, "a/b", 0, 0, 0, 0, 0, -EISDIR);
	/* The shard itself, whole, between the members. */
	job_init(&jobs[n], &b, shard, NULL, 0, 0, 0, (uint64_t)st.st_size,
		 (uint64_t)st.st_size, 0);
	jobs[n].g.cb = NULL; /* bytes dropped; the checksum still checked */
	jobs[n].v.got = (uint64_t)st.st_size;
	n++;
	b.n = n;
	run_batch(&b, (unsigned)n, 20000);
	check_jobs(&b, "members");
	ais_async_free(b.a);
}
END_TEST

/* ---- 3. per-request errors --------------------------------------------- */

START_TEST(test_errors_isolated)
{
	static struct job jobs[64];
	struct batch b = {.jobs = jobs};
	char longname[1100], name[64];
	size_t n = 0;

	b.a = async_new(C);
	/* Missing objects (on every node) between present ones. */
	for (int i = 0; i < 30; i++) {
		if (i % 3 == 1) {
			snprintf(name, sizeof(name), "no/such/%d", i);
			job_init(&jobs[n++], &b, name, NULL, 0, 0, 0, 0, 0,
				 -ENOENT);
		} else {
			int o = 10 + i;

			obj_name(o, name, sizeof(name));
			job_init(&jobs[n++], &b, name, NULL, obj_seed(o), 0, 0,
				 obj_size[o], obj_size[o], 0);
		}
	}
	/* A range starting past the end. */
	obj_name(5, name, sizeof(name));
	job_init(&jobs[n++], &b, name, NULL, 0, obj_size[5] + 10, 0, 0, 0,
		 -EINVAL);
	/* A receiver that gives up: its error, nothing else. */
	obj_name(4, name, sizeof(name));
	job_init(&jobs[n], &b, name, NULL, obj_seed(4), 0, 0, 0, 0, -EIO);
	jobs[n++].abort_after = 2;
	/* A missing bucket. */
	job_init(&jobs[n], &b, "x", NULL, 0, 0, 0, 0, 0, -ENOENT);
	jobs[n++].g.bucket = "nosuchbucket";
	/* Bad names: refused by ais_async_get, done() never called. */
	{
		static const char *bad[] = {"",	    "../x",   "a//b",
					    "/abs", "trail/", "a/./b"};

		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
			job_init(&jobs[n++], &b, bad[k], NULL, 0, 0, 0, 0, 0,
				 -EINVAL);
	}
	job_init(&jobs[n], &b, "x", NULL, 0, 0, 0, 0, 0, -EINVAL);
	jobs[n++].g.bucket = "../test";
	job_init(&jobs[n++], &b, "shards/s.tar", "", 0, 0, 0, 0, 0, -EINVAL);
	memset(longname, 'L', 1025);
	longname[1025] = '\0';
	job_init(&jobs[n], &b, "x", NULL, 0, 0, 0, 0, 0, -ENAMETOOLONG);
	jobs[n++].g.name = longname;
	b.n = n;
	run_batch(&b, 16, 30000);
	/* A too-long name may be called either. */
	if (jobs[n - 1].get_rc == -EINVAL)
		jobs[n - 1].want_rc = -EINVAL;
	check_jobs(&b, "errors");
	ck_assert_uint_eq(b.done_calls, n - 9);

	/* errmsg may be NULL, as everywhere in the client. */
	job_init(&jobs[0], &b, "../x", NULL, 0, 0, 0, 0, 0, -EINVAL);
	ck_assert_int_eq(ais_async_get(b.a, &jobs[0].g, NULL), -EINVAL);
	obj_name(7, name, sizeof(name));
	job_init(&jobs[0], &b, name, NULL, obj_seed(7), 0, 0, obj_size[7],
		 obj_size[7], 0);
	ck_assert_int_eq(ais_async_get(b.a, &jobs[0].g, NULL), 0);
	jobs[0].get_rc = 0;
	b.n = 1;
	b.next = 1;
	run_batch(&b, 0, 20000);
	check_jobs(&b, "NULL errmsg");

	/* The same multiplexer still serves everything. */
	{
		int idx[40];

		for (int i = 0; i < 40; i++)
			idx[i] = 100 + i;
		jobs_whole(&b, idx, 40);
		run_batch(&b, 40, 20000);
		check_jobs(&b, "after errors");
	}
	ais_async_free(b.a);
}
END_TEST

/* ---- 4. a corrupted object ---------------------------------------------- */

START_TEST(test_corrupt)
{
	static struct job jobs[8];
	struct batch b = {.jobs = jobs};
	const char *name = "corrupt/obj";
	char pat[PATH_MAX + 64], other[64];
	uint8_t orig[16], flip[16];
	struct stat st0, st1;
	glob_t gl;
	int fd;

	put_stream(name, 99, 200000);
	snprintf(pat, sizeof(pat), "%s/node*/*/test/%s", tc.cluster_dir, name);
	ck_assert_int_eq(glob(pat, 0, NULL, &gl), 0);
	ck_assert_uint_eq(gl.gl_pathc, 1);
	fd = open(gl.gl_pathv[0], O_RDWR);
	ck_assert_msg(fd >= 0, "open %s: %s", gl.gl_pathv[0], strerror(errno));
	ck_assert_int_eq(fstat(fd, &st0), 0);
	ck_assert_uint_eq(st0.st_size, 200000);
	ck_assert_int_eq(pread(fd, orig, sizeof(orig), 150000), sizeof(orig));
	for (size_t i = 0; i < sizeof(flip); i++)
		flip[i] = (uint8_t)~orig[i];
	ck_assert_int_eq(pwrite(fd, flip, sizeof(flip), 150000), sizeof(flip));
	ck_assert_int_eq(fstat(fd, &st1), 0);
	ck_assert_uint_eq(st1.st_size, st0.st_size);
	close(fd);
	globfree(&gl);

	b.a = async_new(C);
	obj_name(20, other, sizeof(other));
	job_init(&jobs[0], &b, other, NULL, obj_seed(20), 0, 0, obj_size[20],
		 obj_size[20], 0);
	job_init(&jobs[1], &b, name, NULL, 99, 0, 0, 0, 0, -EBADMSG);
	/* A range in blocks that are intact reads fine: each read checks
	 * only the blocks it touches. */
	job_init(&jobs[2], &b, name, NULL, 99, 0, 1000, 1000, 200000, 0);
	obj_name(21, other, sizeof(other));
	job_init(&jobs[3], &b, other, NULL, obj_seed(21), 0, 0, obj_size[21],
		 obj_size[21], 0);
	b.n = 4;
	run_batch(&b, 4, 20000);
	check_jobs(&b, "corrupt");
	ck_assert_msg(strstr(jobs[1].msg, "checksum") != NULL,
		      "-EBADMSG message: %s", jobs[1].msg);
	/* The node checks the blocks before it sends them: no byte of the
	 * corrupt copy reaches the client. */
	ck_assert_msg(jobs[1].v.got == 0,
		      "the corrupt GET handed %llu bytes before failing",
		      (unsigned long long)jobs[1].v.got);
	/* The same GET again, on the connection kept: same answer. */
	job_init(&jobs[0], &b, name, NULL, 99, 0, 0, 0, 0, -EBADMSG);
	b.n = 1;
	b.next = 0;
	run_batch(&b, 1, 20000);
	check_jobs(&b, "corrupt again");
	ais_async_free(b.a);
}
END_TEST

/* ---- 5. restarted and killed nodes -------------------------------------- */

/* Up to n whole-object jobs for objects owned (own) or not owned (!own)
 * by node, from object first on. Returns how many. */
static size_t jobs_node(struct batch *b, size_t at, int node, bool own,
			int first, size_t n, int want_rc)
{
	size_t k = 0;

	for (int i = first; i < NOBJ && k < n; i++) {
		char name[64];

		obj_name(i, name, sizeof(name));
		if ((owner_index(name) == node) != own)
			continue;
		job_init(&b->jobs[at + k], b, name, NULL, obj_seed(i), 0, 0,
			 want_rc ? 0 : obj_size[i], want_rc ? 0 : obj_size[i],
			 want_rc);
		k++;
	}
	return k;
}

START_TEST(test_node_restart)
{
	static struct job jobs[NOBJ];
	struct batch b = {.jobs = jobs};
	int idx[90];

	b.a = async_new(C);
	/* Idle connections to every node. */
	for (int i = 0; i < 90; i++)
		idx[i] = 200 + i;
	jobs_whole(&b, idx, 90);
	run_batch(&b, 32, 20000);
	check_jobs(&b, "before restart");

	for (int node = 0; node < 3; node += 2) {
		int sig = node == 0 ? SIGKILL : SIGTERM;

		ck_assert_int_eq(ais_test_node_kill(&tc, node, sig), 0);
		ck_assert_int_eq(ais_test_node_restart(&tc), 0);
		/* The idle connections to it are dead now; no ais_async_run
		 * has seen that. Every GET must still succeed. */
		b.n = jobs_node(&b, 0, node, true, 300, 40, 0);
		b.n += jobs_node(&b, b.n, node, false, 300, 20, 0);
		b.next = 0;
		ck_assert_uint_ge(b.n, 50);
		run_batch(&b, 32, 20000);
		check_jobs(&b, node == 0 ? "after SIGKILL and restart"
					 : "after SIGTERM and restart");
	}
	ais_async_free(b.a);
}
END_TEST

static bool conn_errno(int rc)
{
	return rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -EPIPE ||
	       rc == -ECONNABORTED || rc == -EHOSTUNREACH;
}

START_TEST(test_node_killed)
{
	static struct job jobs[NOBJ];
	struct batch b = {.jobs = jobs};
	const int down = 1;
	size_t n_down, failed = 0;
	uint64_t t0;
	int idx[60];

	b.a = async_new(C);
	for (int i = 0; i < 60; i++)
		idx[i] = 300 + i;
	jobs_whole(&b, idx, 60);
	run_batch(&b, 32, 20000);
	check_jobs(&b, "before kill");

	ck_assert_int_eq(ais_test_node_kill(&tc, down, SIGKILL), 0);
	/* GETs of the dead node's objects (their errno is checked below)
	 * between GETs of the others'. */
	n_down = jobs_node(&b, 0, down, true, 0, 30, -ECONNREFUSED);
	b.n = n_down + jobs_node(&b, n_down, down, false, 0, 60, 0);
	b.next = 0;
	for (size_t i = 1, k = n_down; i < n_down && k < b.n; i += 2, k++) {
		struct job t = jobs[i];

		/* Swap jobs i and k, re-pointing each at itself. */
		job_init(&jobs[i], &b, jobs[k].name, NULL, jobs[k].v.seed, 0, 0,
			 jobs[k].want_bytes, jobs[k].want_size, 0);
		job_init(&jobs[k], &b, t.name, NULL, 0, 0, 0, 0, 0, t.want_rc);
	}
	for (size_t i = 0; i < b.n; i++)
		ck_assert((jobs[i].want_rc != 0) ==
			  (owner_index(jobs[i].name) == down));
	t0 = now_ms();
	run_batch(&b, 32, 30000);
	ck_assert_msg(now_ms() - t0 < 15000,
		      "GETs with a node down took %llu ms",
		      (unsigned long long)(now_ms() - t0));
	for (size_t i = 0; i < b.n; i++) {
		struct job *j = &jobs[i];

		if (j->want_rc == 0)
			continue;
		ck_assert_msg(conn_errno(j->rc),
			      "GET %s from the dead node: %d (%s)", j->name,
			      j->rc, j->msg);
		ck_assert_msg(j->calls == (j->get_rc == 0 ? 1 : 0),
			      "GET %s: done() called %d times", j->name,
			      j->calls);
		ck_assert_msg(strstr(j->msg, "127.0.0.1") != NULL,
			      "GET %s: message does not name the node: %s",
			      j->name, j->msg);
		j->want_rc = j->rc;
		failed++;
	}
	ck_assert_uint_ge(failed, 10);
	check_jobs(&b, "with a node down");

	ck_assert_int_eq(ais_test_node_restart(&tc), 0);
	b.n = jobs_node(&b, 0, down, true, 0, 30, 0);
	b.next = 0;
	run_batch(&b, 32, 20000);
	check_jobs(&b, "after the dead node came back");
	ais_async_free(b.a);
}
END_TEST

/* ---- 6. a stopped node --------------------------------------------------- */

static struct ais_client *client_with_timeout(const char *endpoint, int io_ms)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_client_opts o;
	struct ais_client *c;

	ais_client_opts_default(&o);
	o.connect_timeout_ms = io_ms;
	o.io_timeout_ms = io_ms;
	c = ais_client_new(endpoint, &o, msg);
	ck_assert_msg(c != NULL, "client for %s: %s", endpoint, msg);
	return c;
}

/* A node left stopped by a failed check is resumed by the next test. */
static pid_t stopped_pid = -1;

static void resume_stopped(void)
{
	if (stopped_pid > 0)
		kill(stopped_pid, SIGCONT);
	stopped_pid = -1;
}

START_TEST(test_node_stopped)
{
	static struct job jobs[64];
	struct batch b = {.jobs = jobs};
	const int stopped = 2, io_ms = 1500;
	struct ais_client *c = client_with_timeout(tc.endpoint, io_ms);
	pid_t pid = ais_test_node_pid(&tc, stopped);
	size_t n_stopped;

	ck_assert_int_gt(pid, 0);
	b.a = async_new(c);
	/* Connections to every node first (one of them then stops). */
	b.n = jobs_node(&b, 0, stopped, true, 0, 8, 0);
	b.n += jobs_node(&b, b.n, stopped, false, 0, 8, 0);
	run_batch(&b, 16, 20000);
	check_jobs(&b, "before SIGSTOP");

	stopped_pid = pid;
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	n_stopped = jobs_node(&b, 0, stopped, true, 40, 6, -ETIMEDOUT);
	b.n = n_stopped + jobs_node(&b, n_stopped, stopped, false, 40, 30, 0);
	b.next = 0;
	run_batch(&b, (unsigned)b.n, 20000);
	resume_stopped();
	check_jobs(&b, "with a node stopped");
	for (size_t i = 0; i < b.n; i++) {
		struct job *j = &jobs[i];
		uint64_t took = j->t_done - j->t_submit;

		if (i < n_stopped)
			ck_assert_msg(strstr(j->msg, "127.0.0.1") != NULL,
				      "GET %s: message does not name the node: "
				      "%s",
				      j->name, j->msg);
		if (i < n_stopped)
			ck_assert_msg(took + 100 >= (uint64_t)io_ms &&
					  took <= (uint64_t)io_ms + 1500,
				      "GET %s from a stopped node: -ETIMEDOUT "
				      "after %llu ms (io_timeout_ms %d)",
				      j->name, (unsigned long long)took, io_ms);
		else
			ck_assert_msg(took < (uint64_t)io_ms,
				      "GET %s from a live node took %llu ms "
				      "while another node was stopped",
				      j->name, (unsigned long long)took);
	}

	/* The node serves again, to this multiplexer and to the client. */
	b.n = jobs_node(&b, 0, stopped, true, 60, 10, 0);
	b.next = 0;
	run_batch(&b, 10, 20000);
	check_jobs(&b, "after SIGCONT");
	ais_async_free(b.a);
	ais_client_free(c);
	{
		/* jobs[0] is an object of the node that was stopped. */
		char msg[AIS_ERRMSG_LEN] = "";
		struct ais_test_verify v;
		int o = atoi(jobs[0].name + strlen("many/"));
		int rc;

		ais_test_verify_init(&v, obj_seed(o), 0);
		rc = ais_client_get_cb(C, "test", jobs[0].name, 0, 0,
				       ais_test_verify_write, &v, NULL, msg);
		ck_assert_msg(rc == 0, "sync GET after SIGCONT: %d %s", rc,
			      msg);
		ck_assert_uint_eq(v.got, obj_size[o]);
		ck_assert_int_lt(v.bad_at, 0);
	}
}
END_TEST

/* ---- 7. ais_async_free with GETs in flight ------------------------------ */

START_TEST(test_free_cancels)
{
	static struct job jobs[64];
	char msg[AIS_ERRMSG_LEN] = "";
	int fds0 = count_fds();

	resume_stopped();
	for (int round = 0; round < 3; round++) {
		struct batch b = {.jobs = jobs};
		int idx[40];
		size_t cancelled = 0;

		b.a = async_new(C);
		/* The big object many times, and small ones. */
		for (int i = 0; i < 40; i++)
			idx[i] = i % 4 == 0 ? 4 : 30 + i;
		jobs_whole(&b, idx, 40);
		for (size_t i = 0; i < 39; i++)
			submit_next(&b);
		ck_assert_uint_eq(ais_async_inflight(b.a), 39);
		/* Round 0: nothing received yet; round 1: some answers
		 * begun (bodies half read, checksums running); round 2:
		 * done() tries to submit the 40th GET during the free. */
		if (round >= 1) {
			uint64_t t_end = now_ms() + 20000;
			bool mid_body = false;

			while (!mid_body) {
				ck_assert_int_ge(ais_async_run(b.a, 0), 0);
				for (size_t i = 0; i < 39; i++)
					mid_body |= jobs[i].cb_calls > 0 &&
						    jobs[i].calls == 0;
				ck_assert_msg(now_ms() < t_end,
					      "no GET got part of its body");
			}
		}
		b.in_free = round == 2;
		b.free_submit_rc = 1;
		ais_async_free(b.a);
		for (size_t i = 0; i < 39; i++) {
			struct job *j = &jobs[i];

			ck_assert_msg(j->calls == 1,
				      "round %d: %s: done() called %d times",
				      round, j->name, j->calls);
			if (j->rc == -ECANCELED) {
				cancelled++;
				ck_assert(j->msg[0] != '\0');
				continue;
			}
			ck_assert_msg(round >= 1 && j->rc == 0,
				      "round %d: %s: %d (%s)", round, j->name,
				      j->rc, j->msg);
			ck_assert_uint_eq(j->v.got, j->want_bytes);
			ck_assert_int_lt(j->v.bad_at, 0);
		}
		ck_assert_msg(cancelled > 0, "round %d: nothing cancelled",
			      round);
		if (round == 0)
			ck_assert_uint_eq(cancelled, 39);
		if (round == 2) {
			ck_assert_msg(jobs[39].calls == 0,
				      "a GET submitted during free had its "
				      "done() called");
			ck_assert_msg(b.free_submit_rc < 0,
				      "a GET submitted during free was "
				      "accepted (%d)",
				      b.free_submit_rc);
		}
	}
	ck_assert_msg(count_fds() <= fds0 + 3 * 32,
		      "%d fds open after free, %d before", count_fds(), fds0);
	/* The client's pools got only clean connections back: synchronous
	 * GETs to every node work and give the right bytes. */
	for (int i = 0; i < 60; i++) {
		char name[64];
		struct ais_test_verify v;
		int o = 100 + i, rc;

		obj_name(o, name, sizeof(name));
		ais_test_verify_init(&v, obj_seed(o), 0);
		rc = ais_client_get_cb(C, "test", name, 0, 0,
				       ais_test_verify_write, &v, NULL, msg);
		ck_assert_msg(rc == 0, "sync GET %s after free: %d %s", name,
			      rc, msg);
		ck_assert_uint_eq(v.got, obj_size[o]);
		ck_assert_int_lt(v.bad_at, 0);
	}
}
END_TEST

/* ---- 8. a fake node: silence and malformed answers ---------------------- */

/* A node that answers GET_MAP with a map naming only itself and GETs as
 * the object name says. Runs on its own threads; a failure there is
 * recorded in err and checked by the test. */
#define FAKE_MAX_CONNS 128

static struct fake {
	int lfd;
	uint16_t port;
	int stop[2];
	pthread_t acceptor;
	pthread_mutex_t lock;
	pthread_t conn_thr[FAKE_MAX_CONNS];
	int n_conn;
	atomic_uint map_version;
	atomic_uint gets_closenow; /* GETs of "closenow" seen */
	atomic_uint gets_moved;	   /* GETs of "moved" seen */
	char err[AIS_ERRMSG_LEN + 64];
} fk;

#define FAKE_SEED 4242

static void fake_fail(const char *fmt, const char *arg)
{
	pthread_mutex_lock(&fk.lock);
	if (fk.err[0] == '\0')
		snprintf(fk.err, sizeof(fk.err), fmt, arg);
	pthread_mutex_unlock(&fk.lock);
}

/* Waits until fd is readable or the fake stops; false if stopping. */
static bool fake_wait(int fd)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
			      {.fd = fk.stop[0], .events = POLLIN}};

	for (;;) {
		int n = poll(p, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 && !(p[1].revents & POLLIN);
	}
}

static int fake_read(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n;

		if (!fake_wait(fd))
			return -1;
		n = recv(fd, p, len, 0);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fake_map(Ais__ClusterMap *m, Ais__Node *node, Ais__Node **nodes)
{
	ais__cluster_map__init(m);
	ais__node__init(node);
	node->id =
	    (char *)(atomic_load(&fk.map_version) == 1 ? "fake-a" : "fake-b");
	node->host = (char *)"127.0.0.1";
	node->port = fk.port;
	nodes[0] = node;
	m->version = atomic_load(&fk.map_version);
	m->n_nodes = 1;
	m->nodes = nodes;
}

/* Sends one answer to request id: a header with flags announcing body_len
 * bytes, a Response with status (and the map if with_map; on success meta
 * of body_len bytes with the XXH3 of stream FAKE_SEED, spoilt if bad_sum),
 * then send_len bytes of that stream (fewer or more than announced, to
 * lie). All in one send, or in pieces of chunk bytes gap_us apart if
 * chunk > 0. */
static int fake_answer(int fd, uint32_t id, uint16_t flags, int32_t status,
		       uint64_t body_len, uint64_t send_len, bool bad_sum,
		       bool with_map, size_t chunk, unsigned gap_us)
{
	Ais__Response r = AIS__RESPONSE__INIT;
	Ais__ObjMeta m = AIS__OBJ_META__INIT;
	Ais__ClusterMap cm;
	Ais__Node node, *nodes[1];
	char hex[AIS_CKSUM_HEX_MAX];
	uint8_t *buf = NULL, *all;
	size_t len = 0;
	int rc;

	r.status = status;
	r.map_version = atomic_load(&fk.map_version);
	if (status != 0)
		r.message = (char *)"fake error";
	if (with_map) {
		fake_map(&cm, &node, nodes);
		r.map = &cm;
	}
	if (status == 0) {
		m.size = body_len;
		m.version = 1;
		m.cksum_type = AIS__CKSUM_TYPE__CKSUM_XXH3;
		ais_test_stream_cksum(FAKE_SEED, body_len, hex);
		if (bad_sum)
			hex[0] = hex[0] == '0' ? '1' : '0';
		m.cksum_value = hex;
		r.meta = &m;
	}
	if (ais_frame_pack(id, flags, &r.base, body_len, &buf, &len) < 0)
		return -1;
	all = realloc(buf, len + send_len);
	if (!all) {
		free(buf);
		return -1;
	}
	ais_test_fill(FAKE_SEED, 0, all + len, (size_t)send_len);
	if (chunk) {
		/* The client gets the header and head in parts, some
		 * split across both. */
		for (size_t i = 0; i < len + send_len; i += chunk) {
			size_t k = len + send_len - i < chunk
				       ? len + send_len - i
				       : chunk;

			if (send(fd, all + i, k, MSG_NOSIGNAL) != (ssize_t)k)
				break;
			usleep(gap_us);
		}
		rc = 0;
	} else {
		rc = send(fd, all, len + send_len, MSG_NOSIGNAL) ==
			     (ssize_t)(len + send_len)
			 ? 0
			 : -1;
	}
	free(all);
	return rc;
}

/* Serves one connection until the client closes it or the fake stops. */
static void *fake_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t hb[AIS_FRAME_HDR_LEN], *head = NULL;

	for (;;) {
		struct ais_frame_hdr h;
		char msg[AIS_ERRMSG_LEN];
		Ais__Request *q;
		const char *nm;
		uint32_t id;
		int rc = 0;

		if (fake_read(fd, hb, sizeof(hb)) < 0)
			break;
		if (ais_frame_hdr_decode(hb, &h, msg) < 0) {
			fake_fail("fake: bad request header: %s", msg);
			break;
		}
		head = malloc(h.head_len);
		if (!head || fake_read(fd, head, h.head_len) < 0)
			break;
		q = ais__request__unpack(NULL, h.head_len, head);
		free(head);
		head = NULL;
		if (!q) {
			fake_fail("fake: bad request head%s", "");
			break;
		}
		id = h.request_id;
		nm = q->name ? q->name : "";
		if (q->op != AIS__OP__OP_GET) {
			/* GET_MAP, PING: the map. */
			rc = fake_answer(fd, id, 0, 0, 0, 0, false, true, 0, 0);
			if (q->op != AIS__OP__OP_GET_MAP &&
			    q->op != AIS__OP__OP_PING)
				fake_fail("fake: unexpected op for %s", nm);
		} else if (strncmp(nm, "ok/", 3) == 0) {
			uint64_t sz = strtoull(nm + 3, NULL, 10);

			rc = fake_answer(fd, id, 0, 0, sz, sz, false, false, 0,
					 0);
		} else if (strncmp(nm, "split/", 6) == 0) {
			size_t chunk = strtoul(nm + 6, NULL, 10);

			rc = fake_answer(fd, id, 0, 0, 100, 100, false, false,
					 chunk ? chunk : 1, 1000);
		} else if (strcmp(nm, "trickle") == 0) {
			/* Slower in total than io_timeout_ms, never silent
			 * that long. */
			rc = fake_answer(fd, id, 0, 0, 1000, 1000, false, false,
					 25, 100000);
		} else if (strcmp(nm, "stall") == 0) {
			/* Half the body, then silence. */
			rc = fake_answer(fd, id, 0, 0, 1000, 500, false, false,
					 0, 0);
		} else if (strcmp(nm, "hang") == 0) {
			rc = 0; /* never answered */
		} else if (strcmp(nm, "badmagic") == 0) {
			rc = send(fd, "HTTP/1.1 200 OK\r\n\r\nxxxxx", 24,
				  MSG_NOSIGNAL) == 24
				 ? 0
				 : -1;
		} else if (strcmp(nm, "badhead") == 0) {
			uint8_t b[AIS_FRAME_HDR_LEN + 16];
			struct ais_frame_hdr bh = {
			    AIS_FRAME_MAGIC, AIS_FRAME_VERSION, 0, id, 16, 0};

			ais_frame_hdr_encode(&bh, b);
			memset(b + AIS_FRAME_HDR_LEN, 0xff, 16);
			rc = send(fd, b, sizeof(b), MSG_NOSIGNAL) ==
				     (ssize_t)sizeof(b)
				 ? 0
				 : -1;
		} else if (strcmp(nm, "hugehead") == 0) {
			uint8_t b[AIS_FRAME_HDR_LEN];
			struct ais_frame_hdr bh = {AIS_FRAME_MAGIC,
						   AIS_FRAME_VERSION,
						   0,
						   id,
						   2u << 20,
						   0};

			ais_frame_hdr_encode(&bh, b);
			rc = send(fd, b, sizeof(b), MSG_NOSIGNAL) ==
				     (ssize_t)sizeof(b)
				 ? 0
				 : -1;
		} else if (strcmp(nm, "wrongid") == 0) {
			rc = fake_answer(fd, id + 1000, 0, 0, 10, 10, false,
					 false, 0, 0);
		} else if (strcmp(nm, "lz4") == 0) {
			rc = fake_answer(fd, id, AIS_FRAME_FLAG_LZ4, 0, 10, 10,
					 false, false, 0, 0);
		} else if (strcmp(nm, "extra") == 0) {
			rc = fake_answer(fd, id, 0, 0, 10, 30, false, false, 0,
					 0);
		} else if (strcmp(nm, "posstatus") == 0) {
			rc =
			    fake_answer(fd, id, 0, 5, 0, 0, false, false, 0, 0);
		} else if (strcmp(nm, "badsum") == 0) {
			rc = fake_answer(fd, id, 0, 0, 5000, 5000, true, false,
					 0, 0);
		} else if (strcmp(nm, "short") == 0) {
			/* 1000 bytes announced, 10 sent, then closed. */
			(void)fake_answer(fd, id, 0, 0, 1000, 10, false, false,
					  0, 0);
			rc = -1;
		} else if (strcmp(nm, "closenow") == 0) {
			atomic_fetch_add(&fk.gets_closenow, 1);
			rc = -1;
		} else if (strcmp(nm, "moved") == 0) {
			atomic_fetch_add(&fk.gets_moved, 1);
			if (q->map_version < 2) {
				/* WRONG_NODE with a newer map (the same
				 * address under another node id). */
				atomic_store(&fk.map_version, 2);
				rc = fake_answer(fd, id, 0, -EREMOTE, 0, 0,
						 false, true, 0, 0);
			} else {
				rc = fake_answer(fd, id, 0, 0, 777, 777, false,
						 false, 0, 0);
			}
		} else {
			rc = fake_answer(fd, id, 0, -ENOENT, 0, 0, false, false,
					 0, 0);
		}
		ais__request__free_unpacked(q, NULL);
		if (rc < 0)
			break;
	}
	free(head);
	close(fd);
	return NULL;
}

static void *fake_accept(void *arg)
{
	(void)arg;
	while (fake_wait(fk.lfd)) {
		int fd = accept4(fk.lfd, NULL, NULL, SOCK_CLOEXEC);

		int one = 1;

		if (fd < 0)
			continue;
		/* Small sends go out as they are ("split"). */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_mutex_lock(&fk.lock);
		if (fk.n_conn == FAKE_MAX_CONNS ||
		    pthread_create(&fk.conn_thr[fk.n_conn], NULL, fake_conn,
				   (void *)(intptr_t)fd) != 0) {
			pthread_mutex_unlock(&fk.lock);
			close(fd);
			fake_fail("fake: %s", "too many connections");
			continue;
		}
		fk.n_conn++;
		pthread_mutex_unlock(&fk.lock);
	}
	return NULL;
}

static void fake_start(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);

	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.lock, NULL);
	atomic_store(&fk.map_version, 1);
	fk.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fk.lfd, 0);
	ck_assert_int_eq(bind(fk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fk.lfd, 128), 0);
	ck_assert_int_eq(getsockname(fk.lfd, (struct sockaddr *)&sa, &sl), 0);
	fk.port = ntohs(sa.sin_port);
	ck_assert_int_eq(pipe2(fk.stop, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&fk.acceptor, NULL, fake_accept, NULL),
			 0);
}

static void fake_stop(void)
{
	ck_assert_int_eq(write(fk.stop[1], "x", 1), 1);
	pthread_join(fk.acceptor, NULL);
	for (int i = 0; i < fk.n_conn; i++)
		pthread_join(fk.conn_thr[i], NULL);
	close(fk.lfd);
	close(fk.stop[0]);
	close(fk.stop[1]);
	pthread_mutex_destroy(&fk.lock);
}

START_TEST(test_fake_node)
{
	static struct job jobs[32];
	struct batch b = {.jobs = jobs};
	const int io_ms = 1500;
	static const struct {
		const char *name;
		int rc;
		uint64_t bytes;
	} cases[] = {
	    {"ok/0", 0, 0},
	    {"ok/1", 0, 1},
	    {"ok/300000", 0, 300000},
	    {"split/1", 0, 100},
	    {"split/13", 0, 100},
	    {"split/24", 0, 100},
	    {"split/50", 0, 100},
	    {"hang", -ETIMEDOUT, 0},
	    {"stall", -ETIMEDOUT, 0},
	    {"trickle", 0, 1000},
	    {"badmagic", -EPROTO, 0},
	    {"badhead", -EPROTO, 0},
	    {"hugehead", -EPROTO, 0},
	    {"wrongid", -EPROTO, 0},
	    {"lz4", -EPROTO, 0},
	    {"extra", -EPROTO, 0},
	    {"posstatus", -EPROTO, 0},
	    {"badsum", -EBADMSG, 0},
	    {"short", -ECONNRESET, 0},
	    {"closenow", -ECONNRESET, 0},
	    {"missing", -ENOENT, 0},
	    {"ok/65536", 0, 65536},
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	char ep[64];
	struct ais_client *c;
	uint64_t t0;

	fake_start();
	snprintf(ep, sizeof(ep), "127.0.0.1:%u", fk.port);
	setenv("AIS_CA_FILE", "none", 1); /* the fake node speaks plain TCP */
	c = client_with_timeout(ep, io_ms);
	unsetenv("AIS_CA_FILE");
	b.a = async_new(c);
	for (size_t i = 0; i < n; i++)
		job_init(&jobs[i], &b, cases[i].name, NULL, FAKE_SEED, 0, 0,
			 cases[i].bytes, cases[i].rc ? 0 : cases[i].bytes,
			 cases[i].rc);
	b.n = n;
	t0 = now_ms();
	run_batch(&b, (unsigned)n, 20000);
	check_jobs(&b, "fake node");
	for (size_t i = 0; i < n; i++) {
		struct job *j = &jobs[i];
		uint64_t took = j->t_done - j->t_submit;

		if (j->want_rc == -ETIMEDOUT)
			ck_assert_msg(took + 100 >= (uint64_t)io_ms &&
					  took <= (uint64_t)io_ms + 1500,
				      "%s: -ETIMEDOUT after %llu ms "
				      "(io_timeout_ms %d)",
				      j->name, (unsigned long long)took, io_ms);
		else if (strcmp(j->name, "trickle") == 0)
			ck_assert_msg(took > 3000, "trickle: took only %llu ms",
				      (unsigned long long)took);
		else if (strncmp(j->name, "split/", 6) != 0)
			ck_assert_msg(took < (uint64_t)io_ms,
				      "%s: took %llu ms beside a silent GET",
				      j->name, (unsigned long long)took);
		if (j->want_rc == -EPROTO && strcmp(j->name, "posstatus") != 0)
			ck_assert_msg(strstr(j->msg, "127.0.0.1") != NULL,
				      "%s: message does not name the node: %s",
				      j->name, j->msg);
	}
	/* A short or stalled body: the bytes that came were handed over,
	 * and the GET was not retried (nothing may be handed twice). */
	for (size_t i = 0; i < n; i++) {
		uint64_t want = strcmp(jobs[i].name, "short") == 0   ? 10
				: strcmp(jobs[i].name, "stall") == 0 ? 500
								     : 0;

		if (!want)
			continue;
		ck_assert_uint_eq(jobs[i].g.bytes, want);
		ck_assert_uint_eq(jobs[i].v.got, want);
		ck_assert_int_lt(jobs[i].v.bad_at, 0);
	}
	/* A connection closed before any answer byte: retried, boundedly. */
	ck_assert_msg(atomic_load(&fk.gets_closenow) >= 2 &&
			  atomic_load(&fk.gets_closenow) <= 3,
		      "closenow sent %u times", atomic_load(&fk.gets_closenow));
	ck_assert_msg(now_ms() - t0 < 10000, "fake batch took %llu ms",
		      (unsigned long long)(now_ms() - t0));

	/* A deadline that passed while nobody ran the loop: the next run
	 * fails that GET and returns at once, whatever its own timeout. */
	job_init(&jobs[0], &b, "hang", NULL, FAKE_SEED, 0, 0, 0, 0, -ETIMEDOUT);
	b.n = 1;
	b.next = 0;
	b.resubmit = false;
	submit_next(&b);
	ck_assert_int_eq(jobs[0].get_rc, 0);
	usleep((useconds_t)(io_ms + 300) * 1000);
	t0 = now_ms();
	ck_assert_int_eq(ais_async_run(b.a, 10000), 1);
	ck_assert_msg(now_ms() - t0 < 1000,
		      "ais_async_run took %llu ms to report a GET that had "
		      "timed out before it was called",
		      (unsigned long long)(now_ms() - t0));
	check_jobs(&b, "late run");
	ck_assert_uint_eq(ais_async_inflight(b.a), 0);

	/* WRONG_NODE with a newer map is followed. */
	job_init(&jobs[0], &b, "moved", NULL, FAKE_SEED, 0, 0, 777, 777, 0);
	b.n = 1;
	b.next = 0;
	run_batch(&b, 1, 10000);
	check_jobs(&b, "fake WRONG_NODE");
	ck_assert_uint_eq(atomic_load(&fk.gets_moved), 2);
	ck_assert_uint_eq(ais_client_map_version(c), 2);

	ais_async_free(b.a);
	ais_client_free(c);
	fake_stop();
	ck_assert_msg(fk.err[0] == '\0', "%s", fk.err);
}
END_TEST

START_TEST(test_still_serving)
{
	/* Every node still serves after all of the above. */
	static struct job jobs[NOBJ];
	struct batch b = {.jobs = jobs};

	resume_stopped();
	b.a = async_new(C);
	for (int node = 0; node < 3; node++) {
		size_t k = jobs_node(&b, b.n, node, true, 400, 10, 0);

		ck_assert_uint_eq(k, 10);
		b.n += k;
	}
	run_batch(&b, 30, 20000);
	check_jobs(&b, "at the end");
	ais_async_free(b.a);
	ais_map_free(map);
	map = NULL;
}
END_TEST

static Suite *async_suite(void)
{
	Suite *s = suite_create("async");
	TCase *t = tcase_create("async");

	tcase_add_test(t, test_setup);
	tcase_add_test(t, test_many_in_flight);
	tcase_add_test(t, test_two_threads);
	tcase_add_test(t, test_ranges);
	tcase_add_test(t, test_shard_members);
	tcase_add_test(t, test_errors_isolated);
	tcase_add_test(t, test_corrupt);
	tcase_add_test(t, test_node_restart);
	tcase_add_test(t, test_node_killed);
	tcase_add_test(t, test_node_stopped);
	tcase_add_test(t, test_free_cancels);
	tcase_add_test(t, test_fake_node);
	tcase_add_test(t, test_still_serving);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return ais_test_main(&tc, "async", 3, async_suite());
}
