/* The Raft thread: one libuv loop that runs libraft (log and snapshots in
 * the Raft directory, its own TCP port), applies committed MetaCmd entries
 * to the metadata (meta.c), takes proposals from worker threads, and, on
 * the leader, keeps Raft's configuration in line with the map: every node a
 * member, 1, 3 or 5 voters (for 1-2, 3-4, 5+ nodes), a voter that is down
 * or leaving replaced by a live standby. Consensus itself is libraft's. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hash.h"
#include "log.h"
#include "util.h"

#include "cluster/cluster_i.h"
#include "cluster/raft_tls.h"

#define TICK_MS 200

raft_id cluster_rid(const char *node_id)
{
	raft_id id = ais_hash_str(node_id, 0x61697372616674ULL);

	return id ? id : 1;
}

/* --- the state machine ------------------------------------------------ */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct cluster *c = fsm->data;
	Ais__MetaCmd *cmd = NULL;
	uint32_t len;
	int rc;

	if (buf->len >= 4) {
		memcpy(&len, buf->base, 4);
		len = le32toh(len);
		if (len <= buf->len - 4)
			cmd = ais__meta_cmd__unpack(
			    NULL, len, (const uint8_t *)buf->base + 4);
	}
	if (!cmd) {
		/* Every node gets the same bytes: skipping is deterministic. */
		ais_log(LOG_ERR,
			"cluster: log entry %llu (%zu bytes, first %02x) does "
			"not parse; skipped",
			(unsigned long long)c->raft.last_applied + 1, buf->len,
			buf->len ? ((const uint8_t *)buf->base)[0] : 0);
		*result = (void *)(intptr_t)-EPROTO;
		return 0;
	}
	rc = meta_apply(c->meta, cmd);
	if (rc == -ENOMEM) {
		/* Not deterministic: this node would diverge. Better to stop
		 * and restart from the log than to serve a wrong map. */
		ais_log(LOG_CRIT, "cluster: out of memory applying the "
				  "metadata log; exiting");
		abort();
	}
	ais__meta_cmd__free_unpacked(cmd, NULL);
	*result = (void *)(intptr_t)rc;
	if (rc == 0)
		cluster_publish(c);
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
			unsigned *n)
{
	struct cluster *c = fsm->data;
	struct raft_buffer *b = raft_malloc(sizeof(*b));

	if (!b)
		return RAFT_NOMEM;
	if (meta_encode(c->meta, &b->base, &b->len)) {
		raft_free(b);
		return RAFT_NOMEM;
	}
	*bufs = b;
	*n = 1;
	return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm,
				 struct raft_buffer *bufs[], unsigned *n)
{
	unsigned i;

	(void)fsm;
	for (i = 0; *bufs && i < *n; i++)
		raft_free((*bufs)[i].base);
	raft_free(*bufs);
	*bufs = NULL;
	*n = 0;
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct cluster *c = fsm->data;
	char errmsg[AIS_ERRMSG_LEN];
	struct meta *m;
	int rc = meta_decode(buf->base, buf->len, &m, errmsg);

	if (rc) {
		ais_log(LOG_ERR, "cluster: snapshot: %s", errmsg);
		return rc == -ENOMEM ? RAFT_NOMEM : RAFT_MALFORMED;
	}
	meta_free(c->meta);
	c->meta = m;
	raft_free(buf->base);
	cluster_publish(c);
	return 0;
}

/* --- proposals from other threads ------------------------------------- */

static void proposal_unref(struct cluster *c, struct proposal *p)
{
	bool last;

	pthread_mutex_lock(&c->mu);
	last = --p->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (last) {
		free(p->buf);
		free(p);
	}
}

static void proposal_finish(struct proposal *p, int status, const char *msg)
{
	struct cluster *c = p->c;

	pthread_mutex_lock(&c->mu);
	p->done = true;
	p->status = status;
	if (msg)
		snprintf(p->msg, sizeof(p->msg), "%s", msg);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	proposal_unref(c, p);
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct proposal *p = req->data;

	if (status) {
		char msg[AIS_ERRMSG_LEN];

		snprintf(msg, sizeof(msg), "not committed: %s",
			 raft_strerror(status));
		proposal_finish(p, -EAGAIN, msg);
		return;
	}
	proposal_finish(p, (int)(intptr_t)result, NULL);
}

static void propose_one(struct cluster *c, struct proposal *p)
{
	char errmsg[AIS_ERRMSG_LEN];
	struct raft_buffer b;
	Ais__MetaCmd *cmd;
	int rc;

	if (raft_state(&c->raft) != RAFT_LEADER) {
		proposal_finish(p, -EAGAIN, "not the leader");
		return;
	}
	cmd = ais__meta_cmd__unpack(NULL, p->len, p->buf);
	if (!cmd) {
		proposal_finish(p, -EPROTO, "malformed metadata change");
		return;
	}
	rc = meta_check(c->meta, cmd, errmsg);
	ais__meta_cmd__free_unpacked(cmd, NULL);
	if (rc) {
		proposal_finish(p, rc, errmsg);
		return;
	}
	/* libraft stores entries in 8-byte units: a length, the command,
	 * zeros up to the next multiple of 8. */
	b.len = (4 + p->len + 7) & ~(size_t)7;
	b.base = raft_calloc(1, b.len);
	if (!b.base) {
		proposal_finish(p, -ENOMEM, "out of memory");
		return;
	}
	{
		uint32_t len = htole32((uint32_t)p->len);

		memcpy(b.base, &len, 4);
	}
	memcpy((uint8_t *)b.base + 4, p->buf, p->len);
	p->req.data = p;
	rc = raft_apply(&c->raft, &p->req, &b, 1, apply_cb);
	if (rc) {
		raft_free(b.base);
		snprintf(errmsg, sizeof(errmsg), "raft: %s", raft_strerror(rc));
		proposal_finish(p, rc == RAFT_NOTLEADER ? -EAGAIN : -EIO,
				errmsg);
	}
}

void cluster_raft_submit(struct cluster *c, struct proposal *p)
{
	pthread_mutex_lock(&c->mu);
	if (!c->running || c->stopping) {
		pthread_mutex_unlock(&c->mu);
		proposal_finish(p, -ESHUTDOWN, "the node is stopping");
		return;
	}
	p->next = NULL;
	if (c->queue_tail)
		c->queue_tail->next = p;
	else
		c->queue = p;
	c->queue_tail = p;
	pthread_mutex_unlock(&c->mu);
	uv_async_send(&c->wake);
}

static void drain(struct cluster *c, bool fail)
{
	struct proposal *p;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		p = c->queue;
		if (p) {
			c->queue = p->next;
			if (!c->queue)
				c->queue_tail = NULL;
		}
		pthread_mutex_unlock(&c->mu);
		if (!p)
			return;
		if (fail)
			proposal_finish(p, -ESHUTDOWN, "the node is stopping");
		else
			propose_one(c, p);
	}
}

/* --- the leader keeps the configuration in line with the map ----------- */

static void change_cb(struct raft_change *req, int status)
{
	struct cluster *c = req->data;

	c->changing = false;
	if (status)
		ais_log(LOG_INFO, "cluster: configuration change: %s",
			raft_strerror(status));
}

static void transfer_cb(struct raft_transfer *req)
{
	struct cluster *c = req->data;

	c->transferring = false;
}

static const struct ais_node *node_of(struct cluster *c, raft_id rid)
{
	size_t i;

	for (i = 0; i < c->meta->nodes->n; i++)
		if (cluster_rid(c->meta->nodes->nodes[i].id) == rid)
			return &c->meta->nodes->nodes[i];
	return NULL;
}

static bool in_conf(struct cluster *c, const char *id)
{
	raft_id rid = cluster_rid(id);
	unsigned i;

	for (i = 0; i < c->raft.configuration.n; i++)
		if (c->raft.configuration.servers[i].id == rid)
			return true;
	return false;
}

/* A node that counts as a voter: reachable, not leaving. */
static bool fit_voter(const struct ais_node *n)
{
	return n && !n->down && n->state != AIS_NODE_DECOMMISSIONING &&
	       n->state != AIS_NODE_JOINING;
}

static int log_change(struct cluster *c, int rc, const char *what, raft_id rid)
{
	const struct ais_node *n = node_of(c, rid);

	if (rc) {
		ais_log(LOG_WARNING, "cluster: cannot %s %s: %s", what,
			n ? n->id : "?", raft_strerror(rc));
		return rc;
	}
	c->changing = true;
	ais_log(LOG_NOTICE, "cluster: %s %s", what, n ? n->id : "(gone)");
	return 0;
}

static void transfer_away(struct cluster *c)
{
	if (c->transferring)
		return;
	c->transfer.data = c;
	if (raft_transfer(&c->raft, &c->transfer, 0, transfer_cb) == 0) {
		c->transferring = true;
		ais_log(LOG_NOTICE,
			"cluster: handing leadership over (this node leaves)");
	}
}

static void reconcile(struct cluster *c)
{
	struct raft_configuration *conf = &c->raft.configuration;
	const struct ais_map *m = c->meta->nodes;
	size_t nodes = m->n, i;
	unsigned want, voters = 0, fit = 0, j;
	raft_id pick = 0;

	if (c->changing || c->transferring ||
	    c->raft.configuration_uncommitted_index != 0)
		return;
	c->change.data = c;
	/* Every node of the map is a member. */
	for (i = 0; i < nodes; i++) {
		const struct ais_node *n = &m->nodes[i];

		if (!in_conf(c, n->id) && n->raft_addr[0]) {
			log_change(c,
				   raft_add(&c->raft, &c->change,
					    cluster_rid(n->id), n->raft_addr,
					    change_cb),
				   "add to Raft", cluster_rid(n->id));
			return;
		}
	}
	/* ... and no one else. */
	for (j = 0; j < conf->n; j++) {
		/* A copy: raft_remove() replaces conf->servers. */
		raft_id id = conf->servers[j].id;

		if (node_of(c, id))
			continue;
		if (id == c->self_rid) {
			transfer_away(c);
			return;
		}
		if (log_change(c,
			       raft_remove(&c->raft, &c->change, id, change_cb),
			       "remove from Raft", id) == 0)
			ais_log(LOG_NOTICE, "cluster: Raft member %llx left",
				(unsigned long long)id);
		return;
	}
	for (j = 0; j < conf->n; j++)
		if (conf->servers[j].role == RAFT_SPARE) {
			raft_id id = conf->servers[j].id;

			log_change(c,
				   raft_assign(&c->raft, &c->change, id,
					       RAFT_STANDBY, change_cb),
				   "make standby", id);
			return;
		}
	want = nodes >= 5 ? 5 : nodes >= 3 ? 3 : 1;
	for (j = 0; j < conf->n; j++)
		if (conf->servers[j].role == RAFT_VOTER) {
			voters++;
			if (fit_voter(node_of(c, conf->servers[j].id)))
				fit++;
		}
	if (fit < want) {
		/* A live standby, ONLINE ones first. */
		for (j = 0; j < conf->n; j++) {
			const struct ais_node *n =
			    node_of(c, conf->servers[j].id);

			if (conf->servers[j].role != RAFT_STANDBY ||
			    !fit_voter(n))
				continue;
			if (!pick || n->state == AIS_NODE_ONLINE)
				pick = conf->servers[j].id;
		}
		if (pick) {
			log_change(c,
				   raft_assign(&c->raft, &c->change, pick,
					       RAFT_VOTER, change_cb),
				   "make voter", pick);
			return;
		}
	}
	if (voters > want) {
		/* Down ones first, then leaving ones, then any but self. */
		for (j = 0; j < conf->n && !pick; j++)
			if (conf->servers[j].role == RAFT_VOTER &&
			    !fit_voter(node_of(c, conf->servers[j].id)))
				pick = conf->servers[j].id;
		for (j = 0; j < conf->n && !pick; j++)
			if (conf->servers[j].role == RAFT_VOTER && fit > want &&
			    conf->servers[j].id != c->self_rid)
				pick = conf->servers[j].id;
		if (pick == c->self_rid) {
			transfer_away(c);
			return;
		}
		if (pick)
			log_change(c,
				   raft_assign(&c->raft, &c->change, pick,
					       RAFT_STANDBY, change_cb),
				   "make standby (voters beyond the "
				   "target)",
				   pick);
	}
}

/* --- the loop --------------------------------------------------------- */

static void update_leader(struct cluster *c)
{
	bool leader = raft_state(&c->raft) == RAFT_LEADER;

	pthread_mutex_lock(&c->mu);
	c->is_leader = leader;
	pthread_mutex_unlock(&c->mu);
}

static void tick_cb(uv_timer_t *t)
{
	struct cluster *c = t->data;

	update_leader(c);
	if (raft_state(&c->raft) == RAFT_LEADER)
		reconcile(c);
	/* The leader and the roles are not part of the versioned state;
	 * republish when they change (publish.c compares). */
	cluster_publish(c);
}

static void close_handle_cb(uv_handle_t *h)
{
	(void)h;
}

/* Raft's transport: over TLS when the node has it. */
static void transport_close(struct cluster *c)
{
	if (c->tls_server)
		raft_tls_close(&c->transport);
	else
		raft_uv_tcp_close(&c->transport);
}

static void on_raft_closed(struct raft *r)
{
	struct cluster *c = r->data;

	raft_uv_close(&c->io);
	transport_close(c);
	uv_close((uv_handle_t *)&c->tick, close_handle_cb);
	uv_close((uv_handle_t *)&c->wake, close_handle_cb);
}

static void wake_cb(uv_async_t *a)
{
	struct cluster *c = a->data;
	bool stopping;

	pthread_mutex_lock(&c->mu);
	stopping = c->stopping;
	pthread_mutex_unlock(&c->mu);
	if (!stopping) {
		drain(c, false);
		return;
	}
	if (uv_is_closing((uv_handle_t *)&c->wake))
		return;
	drain(c, true);
	uv_timer_stop(&c->tick);
	raft_close(&c->raft, on_raft_closed);
}

static void *raft_thread(void *arg)
{
	struct cluster *c = arg;

	pthread_setname_np(pthread_self(), "aisd-raft");
	uv_run(&c->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	char *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int cluster_raft_start(struct cluster *c, char *errmsg)
{
	char bind[AIS_ADDR_MAX + 16], host[AIS_HOST_MAX];
	struct raft_configuration conf;
	uint16_t port;
	int rc;

	rc = mkdir_p(c->raft_dir);
	if (rc)
		return ais_errf(errmsg, rc, "Raft directory %s: %s",
				c->raft_dir, strerror(-rc));
	if (ais_parse_hostport(c->self.raft_addr, host, sizeof(host), &port))
		return ais_errf(errmsg, -EINVAL, "bad Raft address %s",
				c->self.raft_addr);
	rc = uv_loop_init(&c->loop);
	if (rc)
		return ais_errf(errmsg, rc, "uv_loop_init: %s",
				uv_strerror(rc));
	c->wake.data = c;
	c->tick.data = c;
	uv_async_init(&c->loop, &c->wake, wake_cb);
	uv_timer_init(&c->loop, &c->tick);
	snprintf(bind, sizeof(bind), "0.0.0.0:%u", port);
	if (c->tls_server) {
		rc = raft_tls_init(&c->transport, &c->loop, c->tls_server,
				   c->tls_client, errmsg);
		if (rc)
			goto err_loop;
		rc = raft_tls_set_bind_address(&c->transport, bind);
		if (rc) {
			rc = ais_errf(errmsg, rc,
				      "raft transport: bad address "
				      "%s",
				      bind);
			goto err_transport;
		}
	} else {
		rc = raft_uv_tcp_init(&c->transport, &c->loop);
		if (rc) {
			rc = ais_errf(errmsg, -ENOMEM, "raft transport: %s",
				      raft_strerror(rc));
			goto err_loop;
		}
		raft_uv_tcp_set_bind_address(&c->transport, bind);
	}
	rc = raft_uv_init(&c->io, &c->loop, c->raft_dir, &c->transport);
	if (rc) {
		rc = ais_errf(errmsg, -EIO, "Raft directory %s: %s",
			      c->raft_dir, raft_strerror(rc));
		goto err_transport;
	}
	raft_uv_set_segment_size(&c->io, 1 << 20);
	c->fsm.version = 2;
	c->fsm.data = c;
	c->fsm.apply = fsm_apply;
	c->fsm.snapshot = fsm_snapshot;
	c->fsm.snapshot_finalize = fsm_snapshot_finalize;
	c->fsm.restore = fsm_restore;
	rc = raft_init(&c->raft, &c->io, &c->fsm, c->self_rid,
		       c->self.raft_addr);
	if (rc) {
		rc = ais_errf(errmsg, -EIO, "raft_init: %s", raft_strerror(rc));
		goto err_io;
	}
	c->raft.data = c;
	raft_set_election_timeout(&c->raft, 1000);
	raft_set_heartbeat_timeout(&c->raft, 100);
	raft_set_pre_vote(&c->raft, true);
	raft_set_snapshot_threshold(&c->raft, 256);
	raft_set_snapshot_trailing(&c->raft, 64);
	if (c->bootstrap) {
		raft_configuration_init(&conf);
		rc = raft_configuration_add(&conf, c->self_rid,
					    c->self.raft_addr, RAFT_VOTER);
		if (rc == 0)
			rc = raft_bootstrap(&c->raft, &conf);
		raft_configuration_close(&conf);
		if (rc && rc != RAFT_CANTBOOTSTRAP) {
			rc = ais_errf(errmsg, -EIO, "raft_bootstrap: %s",
				      raft_strerror(rc));
			goto err_raft;
		}
		if (rc == 0)
			ais_log(LOG_NOTICE,
				"cluster: a new cluster, this node its first "
				"voter (Raft in %s, %s)",
				c->raft_dir, c->self.raft_addr);
	}
	rc = raft_start(&c->raft);
	if (rc) {
		rc = ais_errf(errmsg, -EIO, "Raft (%s, port of %s): %s%s%s",
			      c->raft_dir, c->self.raft_addr, raft_strerror(rc),
			      raft_errmsg(&c->raft)[0] ? ": " : "",
			      raft_errmsg(&c->raft));
		goto err_raft;
	}
	uv_timer_start(&c->tick, tick_cb, TICK_MS, TICK_MS);
	pthread_mutex_lock(&c->mu);
	c->running = true;
	pthread_mutex_unlock(&c->mu);
	rc = pthread_create(&c->thr, NULL, raft_thread, c);
	if (rc) {
		pthread_mutex_lock(&c->mu);
		c->running = false;
		pthread_mutex_unlock(&c->mu);
		ais_errf(errmsg, -rc, "cannot start the Raft thread");
		/* raft_close needs the loop; run it here. */
		pthread_mutex_lock(&c->mu);
		c->stopping = true;
		pthread_mutex_unlock(&c->mu);
		wake_cb(&c->wake);
		uv_run(&c->loop, UV_RUN_DEFAULT);
		uv_loop_close(&c->loop);
		return -rc;
	}
	return 0;
err_raft:
	/* raft_init done: raft_close owns the rest. */
	raft_close(&c->raft, on_raft_closed);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	uv_loop_close(&c->loop);
	return rc;
err_io:
	raft_uv_close(&c->io);
err_transport:
	transport_close(c);
err_loop:
	uv_close((uv_handle_t *)&c->tick, close_handle_cb);
	uv_close((uv_handle_t *)&c->wake, close_handle_cb);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	uv_loop_close(&c->loop);
	return rc;
}

void cluster_raft_stop(struct cluster *c)
{
	pthread_mutex_lock(&c->mu);
	if (!c->running) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	c->stopping = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	uv_async_send(&c->wake);
	pthread_join(c->thr, NULL);
	if (uv_loop_close(&c->loop))
		ais_log(LOG_WARNING, "cluster: the Raft loop closed with "
				     "handles open");
	pthread_mutex_lock(&c->mu);
	c->running = false;
	pthread_mutex_unlock(&c->mu);
}
