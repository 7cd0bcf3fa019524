/* A libraft transport over TLS 1.3 (struct raft_uv_transport), in place of
 * raft_uv_tcp: every Raft connection between nodes is mutual TLS with the
 * nodes' certificates of the cluster CA, and a peer without one is refused.
 *
 * libraft reads, writes and closes its connections as libuv streams, which
 * cannot carry TLS; so each connection is a proxy: libraft gets one end of
 * a socketpair as a uv_pipe_t on its loop, and a thread of this file owns
 * the other end and the TCP socket with its TLS session, and moves the
 * bytes between them. Raft traffic is metadata: a thread per connection
 * (about 2 * (nodes - 1) of them) costs little.
 *
 * The lifecycle mirrors raft_uv_tcp's: raft_tls_init, then
 * raft_uv_init(&io, loop, dir, t); libraft calls the transport's init,
 * listen, connect and close on the loop's thread; raft_tls_close after
 * raft_uv_close (in raft_close's callback). */
#ifndef AIS_CLUSTER_RAFT_TLS_H
#define AIS_CLUSTER_RAFT_TLS_H

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "tls.h"

/* Makes t a TLS transport on loop (the loop libraft runs on). server is
 * the node's listener configuration (AIS_TLS_SERVER), client its
 * configuration for calling other nodes (AIS_TLS_CLIENT with the node's
 * certificate and key); both are borrowed and must outlive t. t->data is
 * kept (libraft uses it). Returns 0, or -ENOMEM with errmsg. */
int raft_tls_init(struct raft_uv_transport *t, uv_loop_t *loop,
		  struct ais_tls *server, struct ais_tls *client, char *errmsg);

/* The address to listen on, "HOST:PORT" ("0.0.0.0:7001", "[::]:7001"), as
 * raft_uv_tcp_set_bind_address; without it the transport listens on the
 * address given to raft_init. Call before raft_start. 0 or -EINVAL
 * (-ENOMEM). */
int raft_tls_set_bind_address(struct raft_uv_transport *t, const char *address);

/* Frees what raft_tls_init allocated. Call once the transport's close
 * callback has run (raft_uv_close, as for raft_uv_tcp_close), or when
 * libraft never started it (no listen or connect was made). */
void raft_tls_close(struct raft_uv_transport *t);

#endif
