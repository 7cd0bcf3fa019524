/* Per-node pools of idle client connections. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_conn.h"
#include "client_pool.h"

struct ais_pool *ais_pool_new(const char *host, uint16_t port, int max_idle)
{
	struct ais_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (max_idle < 0)
		max_idle = 0;
	p->idle = calloc(max_idle > 0 ? (size_t)max_idle : 1, sizeof(int));
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
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void ais_pool_free(struct ais_pool *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->n_idle; i++)
		close(p->idle[i]);
	pthread_mutex_destroy(&p->lock);
	free(p->idle);
	free(p);
}

int ais_pool_get(struct ais_pool *p, bool fresh, int connect_timeout_ms,
		 bool *reused, char *errmsg)
{
	*reused = false;
	while (!fresh) {
		int fd = -1;

		pthread_mutex_lock(&p->lock);
		if (p->n_idle > 0)
			fd = p->idle[--p->n_idle];
		pthread_mutex_unlock(&p->lock);
		if (fd < 0)
			break;
		/* The node may have closed it (idle timeout, restart): a
		 * cheap check here saves most retries later. */
		if (ais_conn_idle_ok(fd)) {
			*reused = true;
			return fd;
		}
		close(fd);
	}
	return ais_conn_connect(p->host, p->port, connect_timeout_ms, errmsg);
}

void ais_pool_put(struct ais_pool *p, int fd)
{
	pthread_mutex_lock(&p->lock);
	if (p->n_idle < p->max_idle) {
		p->idle[p->n_idle++] = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&p->lock);
	if (fd >= 0)
		close(fd);
}
