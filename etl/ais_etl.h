/* ais_etl.h: a transform worker for aisd in C, in one header.
 *
 * aisd runs a worker-mode transform (ais etl init NAME --mode worker)
 * as long-lived processes that read requests on stdin and write answers
 * on stdout, one object at a time (the protocol is in ais-etl(7)). This
 * header does the protocol; a worker is a function:
 *
 *	#include "ais_etl.h"
 *
 *	static int upper(const struct ais_etl_req *req,
 *			 struct ais_etl_out *out, void *arg)
 *	{
 *		unsigned char *p = ais_etl_alloc(out, req->size);
 *
 *		if (!p)
 *			return ais_etl_fail(out, "out of memory");
 *		for (size_t i = 0; i < req->size; i++)
 *			p[i] = toupper(req->data[i]);
 *		return 0;
 *	}
 *
 *	int main(void) { return ais_etl_serve(upper, NULL); }
 *
 * The function returns 0 with the output in out (ais_etl_alloc,
 * ais_etl_write, or ais_etl_set for bytes it keeps, such as req->data),
 * or ais_etl_fail(out, fmt, ...): that object fails with the message and
 * the worker goes on. A worker that crashes or hangs fails its object
 * and is restarted by aisd. Anything meant for a log goes to stderr:
 * stdout is the protocol's. */
#ifndef AIS_ETL_H
#define AIS_ETL_H

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One object to transform. */
struct ais_etl_req {
	const char *bucket; /* NUL-terminated */
	const char *name;   /* the object's name; a member's is SHARD/PATH */
	const char *args;   /* the reader's --etl-args, "" if none */
	const unsigned char *data;
	size_t size;
};

/* The answer being built. */
struct ais_etl_out {
	const void *data; /* the output */
	size_t size;
	int failed;	    /* set by ais_etl_fail: data is the message */
	unsigned char *buf; /* the header's own buffer, reused */
	size_t cap;
	char msg[4096];
};

typedef int (*ais_etl_fn)(const struct ais_etl_req *req,
			  struct ais_etl_out *out, void *arg);

/* The output is len bytes the function keeps valid until it returns
 * (req->data, or a buffer of its own). */
static inline void ais_etl_set(struct ais_etl_out *out, const void *data,
			       size_t len)
{
	out->data = data;
	out->size = len;
}

/* The output is len bytes to fill in, returned (NULL: out of memory). */
static inline unsigned char *ais_etl_alloc(struct ais_etl_out *out, size_t len)
{
	if (len > out->cap || !out->buf) {
		size_t cap = len ? len : 1;
		unsigned char *b = (unsigned char *)realloc(out->buf, cap);

		if (!b)
			return NULL;
		out->buf = b;
		out->cap = cap;
	}
	out->data = out->buf;
	out->size = len;
	return out->buf;
}

/* Appends len bytes to the output ais_etl_alloc or ais_etl_write began:
 * 0, or -1 out of memory. */
static inline int ais_etl_write(struct ais_etl_out *out, const void *p,
				size_t len)
{
	size_t have = out->data == out->buf ? out->size : 0;

	if (len > (size_t)-1 - have)
		return -1;
	if (have + len > out->cap) {
		size_t cap = out->cap ? out->cap : 4096;
		unsigned char *b;

		while (cap < have + len)
			cap = cap > (size_t)-1 / 2 ? have + len : cap * 2;
		b = (unsigned char *)realloc(out->buf, cap);
		if (!b)
			return -1;
		out->buf = b;
		out->cap = cap;
	}
	memcpy(out->buf + have, p, len);
	out->data = out->buf;
	out->size = have + len;
	return 0;
}

/* Fails the object with a message (printf-style); returns 1 for the
 * function to return. */
static inline int ais_etl_fail(struct ais_etl_out *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	out->failed = 1;
	out->data = out->msg;
	out->size =
	    (size_t)n < sizeof(out->msg) ? (size_t)n : sizeof(out->msg) - 1;
	return 1;
}

/* n bytes from fd: 1, 0 at a clean end before the first byte, -1 on an
 * error or an end inside. */
static inline int ais_etl__read(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 && got == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

static inline int ais_etl__write(int fd, const void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, (const char *)p + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

/* Serves requests on stdin and stdout until stdin ends: 0, or 1 when the
 * stream breaks (said on stderr). */
static inline int ais_etl_serve(ais_etl_fn fn, void *arg)
{
	struct ais_etl_out out;
	struct ais_etl_req req;
	unsigned char head[24], ans[16];
	char *meta = NULL;
	unsigned char *data = NULL;
	size_t meta_cap = 0, data_cap = 0;
	int rc = 1, wfd;

	memset(&out, 0, sizeof(out));
	/* What the function prints goes to stderr: stdout is the
	 * protocol's. */
	fflush(stdout);
	wfd = dup(1);
	if (wfd < 0 || dup2(2, 1) < 0) {
		fprintf(stderr, "ais_etl: cannot set stdout aside\n");
		return 1;
	}
	for (;;) {
		uint32_t bl, nl, al, st;
		uint64_t size, sz;
		size_t ml;
		int r = ais_etl__read(0, head, sizeof(head));

		if (r == 0) {
			rc = 0;
			break;
		}
		if (r < 0 || memcmp(head, "AISQ", 4) != 0) {
			fprintf(stderr, "ais_etl: not a request on stdin\n");
			break;
		}
		memcpy(&bl, head + 4, 4);
		memcpy(&nl, head + 8, 4);
		memcpy(&al, head + 12, 4);
		memcpy(&size, head + 16, 8);
		bl = le32toh(bl);
		nl = le32toh(nl);
		al = le32toh(al);
		size = le64toh(size);
		ml = (size_t)bl + nl + al + 3;
		if (ml > meta_cap) {
			char *m = (char *)realloc(meta, ml);

			if (!m)
				break;
			meta = m;
			meta_cap = ml;
		}
		if (size > data_cap) {
			unsigned char *d = (unsigned char *)realloc(data, size);

			if (!d) {
				fprintf(stderr,
					"ais_etl: no memory for %llu "
					"bytes\n",
					(unsigned long long)size);
				break;
			}
			data = d;
			data_cap = size;
		}
		/* 1 for each (0 bytes read as 1 too): an end here is in
		 * the middle of a request. */
		if (ais_etl__read(0, meta, bl) != 1 ||
		    ais_etl__read(0, meta + bl + 1, nl) != 1 ||
		    ais_etl__read(0, meta + bl + nl + 2, al) != 1 ||
		    ais_etl__read(0, data, size) != 1) {
			fprintf(stderr, "ais_etl: stdin ended in a request\n");
			break;
		}
		meta[bl] = meta[bl + 1 + nl] = meta[bl + nl + 2 + al] = '\0';
		req.bucket = meta;
		req.name = meta + bl + 1;
		req.args = meta + bl + nl + 2;
		req.data = data;
		req.size = size;
		out.data = NULL;
		out.size = 0;
		out.failed = 0;
		if (fn(&req, &out, arg) != 0 && !out.failed)
			ais_etl_fail(&out, "failed");
		st = htole32(out.failed ? 1 : 0);
		sz = htole64((uint64_t)out.size);
		memcpy(ans, "AISA", 4);
		memcpy(ans + 4, &st, 4);
		memcpy(ans + 8, &sz, 8);
		if (ais_etl__write(wfd, ans, sizeof(ans)) ||
		    ais_etl__write(wfd, out.data, out.size))
			break; /* aisd went away */
	}
	close(wfd);
	free(meta);
	free(data);
	free(out.buf);
	return rc;
}

#endif
