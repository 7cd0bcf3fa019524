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

/* One request lent to a worker, with the connection's fd in io. */
struct job {
	struct ais_frame_hdr hdr;
	Ais__Request *req; /* owned by the caller */
	struct sock_io io;
	const char *peer;   /* "ADDR:PORT" for logs */
	bool nul_in_string; /* a string field of the head holds a NUL */
	bool close;	    /* out: close the connection afterwards */
};

/* protobuf-c cuts a string at an embedded NUL without an error, so the raw
 * head (already known to unpack) is checked for NULs in its string fields. */
bool handler_head_has_nul(const uint8_t *head, size_t len);

/* Handles j completely (response written, body consumed or the connection
 * marked for closing). Blocking; never touches the event loop. */
void handler_run(struct aisd *d, struct job *j);

#endif
