/* Requests from this node to other nodes, over lib/wire's connections. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "conn_pool.h"
#include "frame.h"
#include "util.h"

#include "cluster/peer.h"

#define IDLE_PER_PEER 8
#define RBUF	      4096 /* header + head of an answer, usually whole */

struct peer {
	struct ais_pool *pool;
	uint64_t down_until; /* monotonic ns */
};

struct peers {
	pthread_mutex_t mu; /* guards v[] and down_until */
	struct peer *v;
	size_t n, cap;
	int connect_ms, io_ms, down_ms;
	atomic_uint next_id;
};

struct peers *peers_new(int connect_ms, int io_ms, int down_ms)
{
	struct peers *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	p->connect_ms = connect_ms;
	p->io_ms = io_ms;
	p->down_ms = down_ms;
	atomic_init(&p->next_id, 1);
	return p;
}

void peers_free(struct peers *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		ais_pool_free(p->v[i].pool);
	free(p->v);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* The entry of node n, created if new. Called under p->mu. */
static struct peer *lookup(struct peers *p, const struct ais_node *n)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->v[i].pool->port == n->port &&
		    !strcmp(p->v[i].pool->host, n->host))
			return &p->v[i];
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct peer *nv = realloc(p->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n].pool = ais_pool_new(n->host, n->port, IDLE_PER_PEER);
	if (!p->v[p->n].pool)
		return NULL;
	p->v[p->n].down_until = 0;
	return &p->v[p->n++];
}

/* One request and its answer on fd. */
static int exchange(struct peers *p, int fd, const Ais__Request *req,
		    Ais__Response **resp, char *errmsg)
{
	uint32_t id = atomic_fetch_add(&p->next_id, 1);
	uint8_t rbuf[RBUF], *buf;
	uint64_t body_len;
	size_t len, rlen;
	bool got_any;
	int rc;

	rc = ais_frame_pack(id, 0, &req->base, 0, &buf, &len);
	if (rc)
		return ais_errf(errmsg, rc, "cannot encode the request: %s",
				strerror(-rc));
	rc = ais_conn_send(fd, buf, len, p->io_ms, false, NULL);
	free(buf);
	if (rc)
		return ais_errf(errmsg, rc, "send: %s", strerror(-rc));
	rc = ais_conn_recv_response(fd, id, p->io_ms, resp, &body_len, rbuf,
				    sizeof(rbuf), &rlen, &got_any, errmsg);
	if (rc == 0 && body_len) {
		ais__response__free_unpacked(*resp, NULL);
		*resp = NULL;
		return ais_errf(errmsg, -EPROTO, "unexpected body");
	}
	if (rc && rc != -EPROTO && rc != -ENOMEM)
		ais_errf(errmsg, rc, "receive: %s", strerror(-rc));
	return rc;
}

int peers_call(struct peers *p, const struct ais_node *n,
	       const Ais__Request *req, Ais__Response **resp, char *errmsg)
{
	char em[AIS_ERRMSG_LEN] = "";
	struct ais_pool *pool;
	struct peer *e;
	bool fresh = false;
	int fd, rc;

	pthread_mutex_lock(&p->mu);
	e = lookup(p, n);
	if (!e) {
		pthread_mutex_unlock(&p->mu);
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	}
	pool = e->pool; /* pools live as long as p */
	if (e->down_until > ais_now_mono_ns()) {
		pthread_mutex_unlock(&p->mu);
		return ais_errf(errmsg, -EHOSTDOWN,
				"node %s: unreachable a moment ago",
				pool->addr);
	}
	pthread_mutex_unlock(&p->mu);
	for (;;) {
		bool reused;

		fd = ais_pool_get(pool, fresh, p->connect_ms, p->io_ms, &reused,
				  em);
		if (fd < 0) {
			pthread_mutex_lock(&p->mu);
			e = lookup(p, n);
			if (e)
				e->down_until =
				    ais_now_mono_ns() +
				    (uint64_t)p->down_ms * 1000000ull;
			pthread_mutex_unlock(&p->mu);
			return ais_errf(errmsg, fd, "node %s: %s", pool->addr,
					em);
		}
		rc = exchange(p, fd, req, resp, em);
		if (rc == 0) {
			ais_pool_put(pool, fd);
			return 0;
		}
		close(fd);
		/* A pooled connection the node closed meanwhile: once more
		 * on a fresh one. */
		if (!reused)
			break;
		fresh = true;
	}
	return ais_errf(errmsg, rc, "node %s: %s", pool->addr, em);
}
