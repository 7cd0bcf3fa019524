/* libais client: appending members to a .tar shard (OP_SHARD_APPEND). The
 * tar stream is sent from a seekable file through a fixed buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "client_i.h"
#include "names.h"
#include "util.h"

#define APPEND_CHUNK (256 * 1024)

/* Sends size bytes of fd as the body. Returns 0, or -errno: a read error
 * of fd (k->fail = AIS_CONN_FAIL_OTHER) or a send error; *off is what was sent,
 * *answered tells that the node answered early. */
static int send_body(struct ais__call *k, int fd, uint64_t size, uint8_t *buf,
		     uint64_t *off, bool *answered, char *errmsg)
{
	int rc;

	*off = 0;
	*answered = false;
	while (*off < size && !*answered) {
		size_t want = size - *off < APPEND_CHUNK ? (size_t)(size - *off)
							 : APPEND_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)*off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			k->fail = AIS_CONN_FAIL_OTHER;
			return ais_errf(errmsg, n < 0 ? -errno : -EIO,
					"reading the tar stream: %s",
					n < 0 ? strerror(errno)
					      : "file shrank");
		}
		rc = ais__call_send_body(k, buf, (size_t)n, answered, errmsg);
		if (rc < 0)
			return rc;
		if (!*answered)
			*off += (uint64_t)n;
	}
	return 0;
}

int ais_client_shard_append_fd(struct ais_client *c, const char *bucket,
			       const char *shard, int fd, uint64_t size,
			       bool replace,
			       struct ais_shard_append_result *out,
			       char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	struct ais__retry r;
	uint8_t *buf;
	int rc;

	rc = ais__check_obj_names(bucket, shard, errmsg);
	if (rc < 0)
		return rc;
	if (size == 0)
		return ais_errf(errmsg, -EINVAL, "nothing to append");
	req.op = AIS__OP__OP_SHARD_APPEND;
	req.bucket = (char *)bucket;
	req.name = (char *)shard;
	req.replace_members = replace;
	buf = malloc(size < APPEND_CHUNK ? (size_t)size : APPEND_CHUNK);
	if (!buf)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	/* An append is not idempotent: no retry after a connection error
	 * (only a pooled connection found dead before the node saw the
	 * request is tried again). */
	ais__retry_init(&r, 0);

	for (;;) {
		struct ais_pool *pool = NULL;
		struct ais__call k;
		bool answered;
		uint64_t off;

		rc = ais__copy_pool(c, bucket, shard, &r, &pool, errmsg);
		if (rc < 0)
			goto out;
		rc = ais__call_start(&k, c, pool, &req, size, r.fresh, errmsg);
		if (rc < 0)
			goto retry;
		rc = send_body(&k, fd, size, buf, &off, &answered, errmsg);
		if (rc < 0 && k.fail == AIS_CONN_FAIL_OTHER) {
			/* The node sees a short body and changes nothing. */
			ais__call_finish(&k, false);
			goto out;
		}
		rc = ais__call_recv_after_body(&k, rc, errmsg);
		if (rc < 0)
			goto retry;
		/* A node catching up refuses before the body: another copy's
		 * node takes it (or this one, a moment later). */
		if (k.resp->status == -EAGAIN && k.resp->catching_up) {
			ais__call_finish(&k, false);
			if (ais__retry_catching_up(&r, c, bucket, shard, pool))
				continue;
			rc = ais_errf(errmsg, -EAGAIN,
				      "%s/%s: its node is still catching up",
				      bucket, shard);
			goto out;
		}
		rc = ais__call_judge(&k, &r, true, off, size, "an append",
				     errmsg);
		if (rc > 0)
			continue;
		if (rc < 0)
			goto out;
		if (out) {
			ais_obj_meta_from_pb(k.resp->meta, &out->meta);
			out->appended = k.resp->appended_members;
			out->members = k.resp->shard_members;
		}
		ais__call_finish(&k, true);
		if (errmsg)
			errmsg[0] = '\0';
		rc = 0;
		goto out;

	retry:
		if (ais__retry_conn(&r, k.fail, true))
			continue;
		goto out;
	}
out:
	free(buf);
	return rc;
}
