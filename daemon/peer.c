/* Requests from this node to other nodes. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "frame.h"
#include "fileio.h"
#include "util.h"

#include "peer.h"

#define IDLE_PER_PEER 8
#define DOWN_MS	      5000

struct peer {
	char addr[AIS_HOST_MAX + 8]; /* "host:port" */
	int idle[IDLE_PER_PEER];
	int nidle;
	uint64_t down_until; /* monotonic ns */
};

struct peers {
	pthread_mutex_t mu;
	struct peer *v;
	size_t n, cap;
	int connect_ms, io_ms, down_ms;
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
	return p;
}

void peers_free(struct peers *p)
{
	size_t i;
	int j;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		for (j = 0; j < p->v[i].nidle; j++)
			close(p->v[i].idle[j]);
	free(p->v);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* The entry of addr, created if new. Called under p->mu. */
static struct peer *lookup(struct peers *p, const char *addr)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].addr, addr))
			return &p->v[i];
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct peer *nv = realloc(p->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		p->v = nv;
		p->cap = cap;
	}
	memset(&p->v[p->n], 0, sizeof(p->v[0]));
	snprintf(p->v[p->n].addr, sizeof(p->v[0].addr), "%s", addr);
	return &p->v[p->n++];
}

static int connect_to(const struct ais_node *n, int connect_ms, int io_ms)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	struct timeval tv = {io_ms / 1000, (io_ms % 1000) * 1000};
	char port[8];
	int fd = -1, rc = -ECONNREFUSED;

	snprintf(port, sizeof(port), "%u", n->port);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(n->host, port, &hints, &res))
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t len = sizeof(int);
		int err = 0, one = 1;

		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			rc = -errno;
			goto next;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, connect_ms) <= 0) {
			rc = -ETIMEDOUT;
			goto next;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			rc = -err;
			goto next;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		freeaddrinfo(res);
		return fd;
	next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return rc;
}

/* One request/answer on fd. */
static int exchange(int fd, const Ais__Request *req, Ais__Response **resp,
		    char *errmsg)
{
	uint8_t hdr[AIS_FRAME_HDR_LEN], *buf = NULL, *head = NULL;
	struct ais_frame_hdr h;
	size_t len;
	int rc;

	rc = ais_frame_pack(1, 0, &req->base, 0, &buf, &len);
	if (rc)
		return ais_errf(errmsg, rc, "pack: %s", strerror(-rc));
	rc = ais_write_all(fd, buf, len);
	free(buf);
	if (!rc)
		rc = ais_read_all(fd, hdr, sizeof(hdr));
	if (rc == -EAGAIN || rc == -EWOULDBLOCK)
		rc = -ETIMEDOUT;
	if (rc)
		return ais_errf(errmsg, rc, "%s", strerror(-rc));
	rc = ais_frame_hdr_decode(hdr, &h, errmsg);
	if (rc)
		return rc;
	if (h.body_len)
		return ais_errf(errmsg, -EPROTO, "unexpected body");
	head = malloc(h.head_len);
	if (!head)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	rc = ais_read_all(fd, head, h.head_len);
	if (rc) {
		free(head);
		return ais_errf(errmsg, rc, "%s", strerror(-rc));
	}
	*resp = ais__response__unpack(NULL, h.head_len, head);
	free(head);
	if (!*resp)
		return ais_errf(errmsg, -EPROTO, "answer does not unpack");
	return 0;
}

int peers_call(struct peers *p, const struct ais_node *n,
	       const Ais__Request *req, Ais__Response **resp, char *errmsg)
{
	char addr[AIS_HOST_MAX + 8], em[AIS_ERRMSG_LEN];
	struct peer *e;
	int fd = -1, rc, attempt;

	snprintf(addr, sizeof(addr), "%s:%u", n->host, n->port);
	for (attempt = 0; attempt < 2; attempt++) {
		bool reused = false;

		pthread_mutex_lock(&p->mu);
		e = lookup(p, addr);
		if (e && e->down_until > ais_now_mono_ns()) {
			pthread_mutex_unlock(&p->mu);
			return ais_errf(errmsg, -EHOSTDOWN,
					"node %s: unreachable a moment ago",
					addr);
		}
		if (e && e->nidle > 0) {
			fd = e->idle[--e->nidle];
			reused = true;
		}
		pthread_mutex_unlock(&p->mu);
		if (fd < 0) {
			fd = connect_to(n, p->connect_ms, p->io_ms);
			if (fd < 0) {
				pthread_mutex_lock(&p->mu);
				e = lookup(p, addr);
				if (e)
					e->down_until =
					    ais_now_mono_ns() +
					    (uint64_t)p->down_ms * 1000000ull;
				pthread_mutex_unlock(&p->mu);
				return ais_errf(errmsg, fd, "node %s: %s", addr,
						strerror(-fd));
			}
		}
		rc = exchange(fd, req, resp, em);
		if (rc == 0) {
			pthread_mutex_lock(&p->mu);
			e = lookup(p, addr);
			if (e && e->nidle < IDLE_PER_PEER) {
				e->idle[e->nidle++] = fd;
				fd = -1;
			}
			pthread_mutex_unlock(&p->mu);
			if (fd >= 0)
				close(fd);
			return 0;
		}
		close(fd);
		fd = -1;
		/* A pooled connection the node closed meanwhile: once more
		 * on a fresh one. */
		if (!reused)
			break;
	}
	return ais_errf(errmsg, rc, "node %s: %s", addr, em);
}
