/* Per-node pools of idle client connections. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "conn_pool.h"
#include "util.h"

/* A connection given back this recently is reused without the poll(2)
 * that checks it is still open: a node closes idle connections only after
 * much longer, and one that died meanwhile (a restart) fails before any
 * answer byte, which the caller retries on a fresh connection. */
#define FRESH_IDLE_NS (1000ull * 1000 * 1000)

struct ais_pool *ais_pool_new(const char *host, uint16_t port, int max_idle,
			      struct ais_tls *tls)
{
	struct ais_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (max_idle < 0)
		max_idle = 0;
	p->idle = calloc(max_idle > 0 ? (size_t)max_idle : 1, sizeof(*p->idle));
	if (!p->idle) {
		free(p);
		return NULL;
	}
	snprintf(p->host, sizeof(p->host), "%s", host);
	p->port = port;
	if (strchr(host, ':'))
		snprintf(p->addr, sizeof(p->addr), "[%s]:%u", host,
			 (unsigned)port);
	else
		snprintf(p->addr, sizeof(p->addr), "%s:%u", host,
			 (unsigned)port);
	p->max_idle = max_idle;
	p->tls = tls;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void ais_pool_free(struct ais_pool *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->n_idle; i++)
		ais_conn_close(p->idle[i].fd);
	pthread_mutex_destroy(&p->lock);
	free(p->idle);
	free(p);
}

int ais_pool_get(struct ais_pool *p, bool fresh, int connect_timeout_ms,
		 int io_timeout_ms, bool *reused, char *errmsg)
{
	*reused = false;
	while (!fresh) {
		uint64_t since = 0;
		int fd = -1;

		pthread_mutex_lock(&p->lock);
		if (p->n_idle > 0) {
			p->n_idle--;
			fd = p->idle[p->n_idle].fd;
			since = p->idle[p->n_idle].since_ns;
		}
		pthread_mutex_unlock(&p->lock);
		if (fd < 0)
			break;
		/* The node may have closed it (idle timeout, restart): a
		 * cheap check here saves most retries later. */
		if (ais_now_mono_ns() - since < FRESH_IDLE_NS ||
		    ais_conn_idle_ok(fd)) {
			*reused = true;
			return fd;
		}
		ais_conn_close(fd);
	}
	return ais_conn_connect_tls(p->host, p->port, connect_timeout_ms,
				    io_timeout_ms, p->tls, errmsg);
}

void ais_pool_put(struct ais_pool *p, int fd)
{
	uint64_t now = ais_now_mono_ns();

	pthread_mutex_lock(&p->lock);
	if (p->n_idle < p->max_idle) {
		p->idle[p->n_idle].fd = fd;
		p->idle[p->n_idle].since_ns = now;
		p->n_idle++;
		fd = -1;
	}
	pthread_mutex_unlock(&p->lock);
	if (fd >= 0)
		ais_conn_close(fd);
}
