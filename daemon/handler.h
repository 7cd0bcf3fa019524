/* Runs one request on a worker thread: validates it, checks ownership,
 * calls the store, writes the response (and the GET body), and decides
 * whether the connection stays open. */
#ifndef AISD_HANDLER_H
#define AISD_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stddef.h>
#include <stdint.h>

#include "ais.pb-c.h"
#include "aisd.h"
#include "frame.h"
#include "sock_io.h"

#define JOB_TAIL_HEAD_MAX 1024 /* frame header + response head */

/* The rest of an answer that handler_try_inline began on the loop thread
 * and a worker finishes: head[0..hlen) (the unsent end of the frame head),
 * then len bytes of the open file fd from offset off (fd is closed by the
 * finisher). */
struct job_tail {
	bool pending;
	int fd;
	uint64_t off, len;
	size_t hlen;
	uint8_t head[JOB_TAIL_HEAD_MAX];
};

/* One request lent to a worker, with the connection's fd in io. */
struct job {
	struct ais_frame_hdr hdr;
	Ais__Request *req; /* owned by the caller */
	struct sock_io io;
	const char *peer;     /* "ADDR:PORT" for logs */
	bool nul_in_string;   /* a string field of the head holds a NUL */
	bool close;	      /* out: close the connection afterwards */
	struct job_tail tail; /* set by handler_try_inline only */
};

/* protobuf-c cuts a string at an embedded NUL without an error, so the raw
 * head (already known to unpack) is checked for NULs in its string fields. */
bool handler_head_has_nul(const uint8_t *head, size_t len);

/* Handles j completely (response written, body consumed or the connection
 * marked for closing), or, if j->tail is pending, sends the rest of an
 * answer begun by handler_try_inline. Blocking; never touches the event
 * loop. */
void handler_run(struct aisd *d, struct job *j);

enum handler_inline {
	HANDLER_INLINE_NO,   /* nothing sent: run handler_run on a worker */
	HANDLER_INLINE_DONE, /* answered (or j->close set): go on */
	HANDLER_INLINE_TAIL, /* answer begun: a worker sends j->tail */
};

/* The fast path of GET and HEAD, for the event loop thread: answers j at
 * once if that needs no waiting at all (path in the kernel's lookup cache,
 * object data in the page cache, shard index in the node's cache, room in
 * the socket buffer) and the answer is a success; anything else, errors
 * included, is left to handler_run on a worker. buf (cap bytes, >= 64 KiB)
 * is scratch space. The socket in j->io.fd must be non-blocking. */
enum handler_inline handler_try_inline(struct aisd *d, struct job *j,
				       uint8_t *buf, size_t cap);

#endif
