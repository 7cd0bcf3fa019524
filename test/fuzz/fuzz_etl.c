/* Fuzz target: the node's reader of the ETL worker protocol (ais-etl(7)),
 * daemon/etl/worker.c. The input is what a worker writes: its first two
 * bytes (little-endian) say how many of the next bytes are its stderr, the
 * rest is its stdout, the answers "AISA" u32 status u64 size, then size
 * bytes. A request for an empty object is fed to the worker (on a socket
 * that nobody reads), and the answer collected by the node's own poll loop
 * (exchange, collect, worker_lost) as etl_worker_run does, then the
 * message of a failure made as it makes it; again while the answers go
 * on, as a worker serves one object after another.
 *
 * worker.c is compiled into this program to reach its static functions;
 * libaisd's copy is then not linked (every symbol it defines is here). */
#include "etl/worker.c"

#include <sys/socket.h>

#include "fuzz.h"

/* Requests per input, at most: a worker serves one after another. */
#define ANSWERS_MAX 4

static char spool[] = "/tmp/ais-fuzz-etl.XXXXXX";

static void cleanup(void)
{
	rmdir(spool);
}

static struct etl *setup(void)
{
	static struct etl e;
	static int done;

	if (done)
		return done > 0 ? &e : NULL;
	fuzz_quiet_stderr();
	ais_log_level = LOG_DEBUG;
	done = -1;
	if (!mkdtemp(spool))
		return NULL;
	atexit(cleanup);
	e.dir = spool;
	e.spool = spool;
	/* Small, so that the spool file is reached by a small input. */
	e.output_max = 1u << 20;
	done = 1;
	return &e;
}

/* One request and its answer, as etl_worker_run makes it. 0 while the
 * worker goes on serving. */
static int one(struct etl *e, struct etl_worker *w, const Ais__EtlSpec *spec)
{
	char errmsg[AIS_ERRMSG_LEN];
	struct etl_output out = {.fd = -1};
	struct exchange x = {.e = e,
			     .spec = spec,
			     .w = w,
			     .bucket = "b",
			     .name = "o",
			     .src = -1,
			     .out = &out};
	int rc;

	x.head = request_head("b", "o", "args", 0, &x.head_len);
	if (!x.head)
		return -ENOMEM;
	rc = exchange(&x, ais_now_mono_ns() + 2000000000ull, errmsg);
	if (!rc && x.status != 0) {
		size_t k;

		x.fail[x.body_got] = '\0';
		for (k = 0; k < x.body_got; k++)
			if (x.fail[k] < ' ' || x.fail[k] >= 127)
				x.fail[k] = '?';
		ais_errf(errmsg, -EIO, "transform %s on %s/%s: %s", spec->name,
			 x.bucket, x.name,
			 x.body_got ? x.fail : "failed (no message)");
	}
	if (!rc) {
		out.size = x.body_len;
		if (out.fd >= 0 && lseek(out.fd, 0, SEEK_SET) < 0)
			rc = -errno;
		else if (out.fd < 0 && out.size > ETL_OUTPUT_MEM_MAX)
			abort(); /* a large output is in a spool file */
	}
	etl_output_free(&out);
	free(x.head);
	return rc ? rc : x.dead ? -EIO : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[] = "fuzz";
	Ais__EtlSpec spec = AIS__ETL_SPEC__INIT;
	struct etl *e = setup();
	struct etl_worker w = {.pid = 0};
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	size_t nerr;

	if (!e || size < 2)
		return 0;
	nerr = (size_t)(data[0] | data[1] << 8);
	data += 2;
	size -= 2;
	if (nerr > size)
		nerr = size;
	spec.name = name;
	/* The worker's ends as worker_spawn makes them: non-blocking. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       in) < 0 ||
	    pipe2(out, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    pipe2(err, O_NONBLOCK | O_CLOEXEC) < 0)
		goto out;
	fcntl(out[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(err[1], F_SETPIPE_SZ, 1 << 20);
	/* What does not fit in the pipes is not said. */
	if (write(err[1], data, nerr) < 0 ||
	    write(out[1], data + nerr, size - nerr) < 0)
		goto out;
	close(out[1]);
	close(err[1]);
	out[1] = err[1] = -1;
	w.in = in[0];
	w.out = out[0];
	w.err = err[0];
	for (int i = 0; i < ANSWERS_MAX && one(e, &w, &spec) == 0; i++)
		;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return 0;
}
