/* Unit tests of the client's endpoint lists and "any node" rules
 * (lib/client/endpoint.c, call.c, client.c, list.c) against fake nodes in
 * this process: threads that speak the wire protocol on loopback and
 * answer from a map the test sets (Raft roles, leader, nodes marked down),
 * counting the requests each node gets. They stand in for the Raft daemon
 * (replicated bucket table, down marks, OP_CLUSTER_CHANGE), which the
 * integration tests cannot start yet. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ais.pb-c.h"
#include "client.h"
#include "frame.h"
#include "map.h"
#include "util.h"

/* ---- endpoint lists --------------------------------------------------- */

START_TEST(test_endpoints_parse)
{
	struct ais_endpoint eps[4];
	char msg[AIS_ERRMSG_LEN];
	int n;

	n = ais_endpoints_parse("10.0.0.1:51080", eps, 4, msg);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(eps[0].host, "10.0.0.1");
	ck_assert_uint_eq(eps[0].port, 51080);

	/* Order kept, blanks trimmed, bare host = default port, IPv6. */
	n = ais_endpoints_parse(" a:1 , b ,[::1]:3,c:4", eps, 4, msg);
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(eps[0].host, "a");
	ck_assert_uint_eq(eps[0].port, 1);
	ck_assert_str_eq(eps[1].host, "b");
	ck_assert_uint_eq(eps[1].port, AIS_DEFAULT_PORT);
	ck_assert_str_eq(eps[2].host, "::1");
	ck_assert_uint_eq(eps[2].port, 3);
	ck_assert_str_eq(eps[3].host, "c");

	/* A repeated address counts once (and not against max). */
	n = ais_endpoints_parse("a:1,b:2,a:1,b:2,a:1", eps, 2, msg);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(eps[1].host, "b");

	ck_assert_int_eq(ais_endpoints_parse("a:1,b:2,c:3", eps, 2, msg),
			 -E2BIG);
	ck_assert_int_eq(ais_endpoints_parse("", eps, 4, msg), -EINVAL);
	ck_assert_int_eq(ais_endpoints_parse(NULL, eps, 4, msg), -EINVAL);
	ck_assert_int_eq(ais_endpoints_parse("a:1,,b:2", eps, 4, msg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "empty element"));
	ck_assert_int_eq(ais_endpoints_parse("a:1,", eps, 4, msg), -EINVAL);
	ck_assert_int_eq(ais_endpoints_parse("a:0", eps, 4, msg), -EINVAL);
	ck_assert_int_eq(ais_endpoints_parse("a:1,b:99999", eps, 4, msg),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "b:99999"));
	ck_assert_int_eq(ais_endpoints_parse("a:x", eps, 4, msg), -EINVAL);
	ck_assert_int_eq(ais_endpoints_parse("a:1;b:2", eps, 4, msg), -EINVAL);
}
END_TEST

/* ---- fake nodes ------------------------------------------------------- */

#define FN_MAX	   4
#define FN_CONNS   16
#define FN_OPS	   64
#define NODE_ID(i) ("node-" #i)

/* One fake node: a listening socket served by a thread. */
struct fnode {
	int idx;
	int lfd;
	uint16_t port;
	pthread_t th;
	atomic_bool stop;
	bool silent; /* accepts, never answers */
	atomic_int accepts;
	atomic_int ops[FN_OPS];
	/* The last OP_CLUSTER_CHANGE. */
	pthread_mutex_t lock;
	int ch_kind;
	char ch_node[64];
	bool ch_force;
};

/* The cluster the fake nodes share: the map they all answer with. */
struct fcluster {
	pthread_mutex_t lock;
	struct ais_map *map;
	struct fnode nodes[FN_MAX];
	size_t n;
};

static struct fcluster FC;

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *)buf + done, len - done,
				 MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* What an answer points to, kept until it is sent. */
struct answer_parts {
	char *buckets[2];
	Ais__NodeInfo info;
	Ais__RebalanceStatus rb;
	Ais__ObjMeta meta;
};

static void answer(struct fnode *fn, const Ais__Request *q, Ais__Response *a,
		   struct answer_parts *p, Ais__ClusterMap **mpb)
{
	Ais__NodeInfo info = AIS__NODE_INFO__INIT;
	Ais__RebalanceStatus rb = AIS__REBALANCE_STATUS__INIT;
	Ais__ObjMeta meta = AIS__OBJ_META__INIT;

	p->buckets[0] = (char *)"b1";
	p->buckets[1] = (char *)"b2";
	p->info = info;
	p->rb = rb;
	p->meta = meta;
	pthread_mutex_lock(&FC.lock);
	a->map_version = FC.map->version;
	switch (q->op) {
	case AIS__OP__OP_GET_MAP:
		*mpb = ais_map_to_pb(FC.map);
		a->map = *mpb;
		break;
	case AIS__OP__OP_BUCKET_LIST:
		a->n_buckets = 2;
		a->buckets = p->buckets;
		break;
	case AIS__OP__OP_NODE_INFO:
		p->info.version = (char *)"fake";
		p->rb.id = 7;
		p->rb.running = true;
		p->rb.objects_moved = 10;
		p->rb.bytes_moved = 1000;
		p->rb.objects_left = 5;
		p->rb.last_error = (char *)"";
		p->info.rebalance = &p->rb;
		a->info = &p->info;
		break;
	case AIS__OP__OP_CLUSTER_CHANGE:
		pthread_mutex_lock(&fn->lock);
		fn->ch_kind = q->change ? (int)q->change->kind : -1;
		snprintf(fn->ch_node, sizeof(fn->ch_node), "%s",
			 q->change && q->change->node ? q->change->node : "");
		fn->ch_force = q->change && q->change->force;
		pthread_mutex_unlock(&fn->lock);
		break;
	case AIS__OP__OP_HEAD:
		p->meta.size = 3;
		p->meta.version = 1;
		a->meta = &p->meta;
		break;
	case AIS__OP__OP_LIST:
	case AIS__OP__OP_BUCKET_CREATE:
	case AIS__OP__OP_BUCKET_DESTROY:
		break;
	default:
		a->status = -EOPNOTSUPP;
		a->message = (char *)"fake node: unsupported op";
	}
	pthread_mutex_unlock(&FC.lock);
}

/* Serves one request on fd; -1 when the connection is done. */
static int serve_one(struct fnode *fn, int fd)
{
	uint8_t hdr[AIS_FRAME_HDR_LEN], *head, *out;
	struct ais_frame_hdr h;
	Ais__Response a = AIS__RESPONSE__INIT;
	Ais__ClusterMap *mpb = NULL;
	struct answer_parts parts;
	Ais__Request *q;
	char em[AIS_ERRMSG_LEN];
	size_t olen;
	int rc = -1;

	if (read_full(fd, hdr, sizeof(hdr)) < 0 ||
	    ais_frame_hdr_decode(hdr, &h, em) < 0 || h.body_len)
		return -1;
	head = malloc(h.head_len);
	if (!head || read_full(fd, head, h.head_len) < 0) {
		free(head);
		return -1;
	}
	q = ais__request__unpack(NULL, h.head_len, head);
	free(head);
	if (!q)
		return -1;
	if ((int)q->op < FN_OPS)
		atomic_fetch_add(&fn->ops[q->op], 1);
	answer(fn, q, &a, &parts, &mpb);
	if (ais_frame_pack(h.request_id, 0, &a.base, 0, &out, &olen) == 0) {
		rc = write_full(fd, out, olen);
		free(out);
	}
	if (mpb)
		ais_map_pb_free(mpb);
	ais__request__free_unpacked(q, NULL);
	return rc;
}

static void *fnode_thread(void *arg)
{
	struct fnode *fn = arg;
	struct pollfd pf[FN_CONNS + 1];
	int n = 0, i;

	pf[0].fd = fn->lfd;
	pf[0].events = POLLIN;
	while (!atomic_load(&fn->stop)) {
		if (poll(pf, (nfds_t)n + 1, 20) <= 0)
			continue;
		for (i = 1; i <= n; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (fn->silent || serve_one(fn, pf[i].fd) == 0)
				continue;
			close(pf[i].fd);
			pf[i--] = pf[n--];
		}
		if (pf[0].revents & POLLIN) {
			int fd = accept(fn->lfd, NULL, NULL);

			if (fd < 0)
				continue;
			atomic_fetch_add(&fn->accepts, 1);
			if (n == FN_CONNS) {
				close(fd);
				continue;
			}
			n++;
			pf[n].fd = fd;
			pf[n].events = fn->silent ? 0 : POLLIN;
			pf[n].revents = 0;
		}
	}
	for (i = 1; i <= n; i++)
		close(pf[i].fd);
	close(fn->lfd);
	return NULL;
}

/* A listening loopback socket on a free port. */
static int listen_any(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A port with nothing listening (connections are refused at once). */
static uint16_t dead_port(void)
{
	uint16_t port;
	int fd = listen_any(&port);

	close(fd);
	return port;
}

/* Starts n fake nodes, all in the map (version 5), online; role VOTER and
 * node-0 the leader if replicated, else no roles (an older cluster). */
static void fc_start(size_t n, bool replicated)
{
	size_t i;

	memset(&FC, 0, sizeof(FC));
	pthread_mutex_init(&FC.lock, NULL);
	FC.map = ais_map_new();
	ck_assert_ptr_nonnull(FC.map);
	FC.map->version = 5;
	FC.n = n;
	for (i = 0; i < n; i++) {
		struct fnode *fn = &FC.nodes[i];
		struct ais_node nd;

		fn->idx = (int)i;
		pthread_mutex_init(&fn->lock, NULL);
		fn->lfd = listen_any(&fn->port);
		memset(&nd, 0, sizeof(nd));
		snprintf(nd.id, sizeof(nd.id), "node-%zu", i);
		snprintf(nd.host, sizeof(nd.host), "127.0.0.1");
		nd.port = fn->port;
		nd.role = replicated ? AIS_ROLE_VOTER : AIS_ROLE_NONE;
		snprintf(nd.raft_addr, sizeof(nd.raft_addr), "127.0.0.1:%u",
			 30000u + (unsigned)i);
		ck_assert_int_eq(ais_map_add(FC.map, &nd), 1);
	}
	if (replicated)
		snprintf(FC.map->leader, sizeof(FC.map->leader), "node-0");
	for (i = 0; i < n; i++)
		ck_assert_int_eq(pthread_create(&FC.nodes[i].th, NULL,
						fnode_thread, &FC.nodes[i]),
				 0);
}

/* Stops node i's thread and closes its socket: it is dead from now on. */
static void fc_kill(size_t i)
{
	struct fnode *fn = &FC.nodes[i];

	if (atomic_exchange(&fn->stop, true))
		return;
	pthread_join(fn->th, NULL);
}

static void fc_stop(void)
{
	size_t i;

	for (i = 0; i < FC.n; i++)
		fc_kill(i);
	ais_map_free(FC.map);
}

/* Changes node i in the map (down mark, state) with a new version. */
static void fc_mark(size_t i, bool down)
{
	char id[16];
	int k;

	snprintf(id, sizeof(id), "node-%zu", i);
	pthread_mutex_lock(&FC.lock);
	k = ais_map_find(FC.map, id);
	ck_assert_int_ge(k, 0);
	FC.map->nodes[k].down = down;
	FC.map->version++;
	pthread_mutex_unlock(&FC.lock);
}

static int ops_of(size_t i, int op)
{
	return atomic_load(&FC.nodes[i].ops[op]);
}

static int ops_total(int op)
{
	int n = 0;

	for (size_t i = 0; i < FC.n; i++)
		n += ops_of(i, op);
	return n;
}

/* The index of the fake node with this id. */
static size_t fc_index(const char *id)
{
	return (size_t)atoi(id + strlen("node-"));
}

/* An object name whose owner in the map is node i. */
static void name_owned_by(size_t i, char *name, size_t len)
{
	for (int k = 0; k < 10000; k++) {
		const struct ais_node *o;

		snprintf(name, len, "obj-%d", k);
		pthread_mutex_lock(&FC.lock);
		o = ais_map_owner(FC.map, "b1", name);
		pthread_mutex_unlock(&FC.lock);
		if (o && fc_index(o->id) == i)
			return;
	}
	ck_abort_msg("no name owned by node %zu", i);
}

static struct ais_client *client_for(const char *spec)
{
	struct ais_client_opts o;
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_client *c;

	ais_client_opts_default(&o);
	o.connect_timeout_ms = 2000;
	o.io_timeout_ms = 4000;
	c = ais_client_new(spec, &o, msg);
	ck_assert_msg(c != NULL, "ais_client_new(%s): %s", spec, msg);
	return c;
}

static uint64_t ms_since(uint64_t t0)
{
	return (ais_now_mono_ns() - t0) / 1000000u;
}

/* ---- endpoint lists and failover -------------------------------------- */

START_TEST(test_endpoint_list_first_that_answers)
{
	char spec[128], msg[AIS_ERRMSG_LEN];
	uint16_t dead = dead_port();
	struct ais_client *c;

	fc_start(2, true);
	/* The first address is dead: the map comes from the second. */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u,127.0.0.1:%u", dead,
		 FC.nodes[1].port);
	c = client_for(spec);
	ck_assert_uint_eq(ais_client_map_version(c), 5);
	ck_assert_uint_eq(ais_client_node_count(c), 2);
	ck_assert_int_eq(ops_of(1, AIS__OP__OP_GET_MAP), 1);
	ais_client_free(c);

	/* None answers: one message naming each address. */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u,127.0.0.1:%u", dead,
		 dead_port());
	ck_assert_ptr_null(ais_client_new(spec, NULL, msg));
	ck_assert_msg(strstr(msg, "cannot reach any of 127.0.0.1:") == msg,
		      "%s", msg);
	ck_assert_msg(strstr(msg, "Connection refused"), "%s", msg);

	/* One address: the message of old. */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", dead);
	ck_assert_ptr_null(ais_client_new(spec, NULL, msg));
	snprintf(spec, sizeof(spec),
		 "cannot reach 127.0.0.1:%u: Connection "
		 "refused",
		 dead);
	ck_assert_str_eq(msg, spec);

	/* A malformed list is refused before any connection. */
	ck_assert_ptr_null(ais_client_new("127.0.0.1:1,,x:2", NULL, msg));
	ck_assert_ptr_nonnull(strstr(msg, "empty element"));
	fc_stop();
}
END_TEST

START_TEST(test_any_node_failover)
{
	char spec[64], msg[AIS_ERRMSG_LEN];
	struct ais_client *c;
	char **names;
	size_t n;

	fc_start(3, true);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", FC.nodes[0].port);
	c = client_for(spec);
	/* The node in the endpoint dies, unmarked: the map, the bucket
	 * table and bucket changes come from the others. */
	fc_kill(0);
	ck_assert_int_eq(ais_client_refresh_map(c, msg), 0);
	ck_assert_int_eq(ais_client_bucket_list(c, &names, &n, msg), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "b1");
	ck_assert_str_eq(names[1], "b2");
	ck_assert_ptr_null(names[2]);
	ais_strv_free(names);
	ck_assert_int_eq(ais_client_bucket_head(c, "b2", msg), 0);
	ck_assert_int_eq(ais_client_bucket_head(c, "b3", msg), -ENOENT);
	/* The replicated table: one node creates, one destroys. */
	ck_assert_int_eq(ais_client_bucket_create(c, "b3", msg), 0);
	ck_assert_int_eq(ops_total(AIS__OP__OP_BUCKET_CREATE), 1);
	ck_assert_int_eq(ais_client_bucket_destroy(c, "b3", msg), 0);
	ck_assert_int_eq(ops_total(AIS__OP__OP_BUCKET_DESTROY), 1);
	/* Once a node answered it is asked first: the bucket ops above
	 * all went to one node. */
	ck_assert(ops_of(1, AIS__OP__OP_BUCKET_LIST) == 0 ||
		  ops_of(2, AIS__OP__OP_BUCKET_LIST) == 0);

	/* Every node dead: an error naming them, not a hang. */
	fc_kill(1);
	fc_kill(2);
	ck_assert_int_lt(ais_client_bucket_list(c, &names, &n, msg), 0);
	ck_assert_msg(strstr(msg, "Connection refused"), "%s", msg);
	ais_client_free(c);
	fc_stop();
}
END_TEST

START_TEST(test_older_cluster_broadcast)
{
	char spec[64], msg[AIS_ERRMSG_LEN];
	struct ais_client *c;
	char **names;
	size_t n;

	/* No Raft roles in the map: buckets are per node, as before. */
	fc_start(3, false);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", FC.nodes[2].port);
	c = client_for(spec);
	ck_assert_int_eq(ais_client_bucket_create(c, "b3", msg), 0);
	ck_assert_int_eq(ops_total(AIS__OP__OP_BUCKET_CREATE), 3);
	ck_assert_int_eq(ais_client_bucket_list(c, &names, &n, msg), 0);
	ck_assert_int_eq(ops_total(AIS__OP__OP_BUCKET_LIST), 3);
	ck_assert_uint_eq(n, 2);
	ais_strv_free(names);
	ais_client_free(c);
	fc_stop();
}
END_TEST

/* ---- nodes marked down ------------------------------------------------ */

START_TEST(test_down_owner_fails_fast)
{
	char spec[64], msg[AIS_ERRMSG_LEN], name[32], want[128];
	struct ais_list_page page;
	struct ais_obj_meta meta;
	struct ais_client *c;
	uint64_t t0;
	int maps;

	fc_start(3, true);
	/* Node 1 holds connections without ever answering: asking it would
	 * cost the whole I/O timeout (4 s). */
	FC.nodes[1].silent = true;
	fc_mark(1, true);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", FC.nodes[0].port);
	c = client_for(spec);

	name_owned_by(1, name, sizeof(name));
	t0 = ais_now_mono_ns();
	ck_assert_int_eq(ais_client_head(c, "b1", name, &meta, msg), -EIO);
	ck_assert_uint_lt(ms_since(t0), 1000);
	snprintf(want, sizeof(want), "node node-1 (127.0.0.1:%u) is down",
		 FC.nodes[1].port);
	ck_assert_msg(strstr(msg, want), "%s", msg);
	/* The map was fresh: no refresh for that. */
	maps = ops_total(AIS__OP__OP_GET_MAP);
	ck_assert_int_eq(maps, 1);

	/* Objects on the other nodes are served. */
	name_owned_by(2, name, sizeof(name));
	ck_assert_int_eq(ais_client_head(c, "b1", name, &meta, msg), 0);
	ck_assert_uint_eq(meta.size, 3);

	/* A listing needs every node: EIO at once, never a partial page. */
	t0 = ais_now_mono_ns();
	ck_assert_int_eq(
	    ais_client_list(c, "b1", "dir/", "/", NULL, 0, &page, msg), -EIO);
	ck_assert_uint_lt(ms_since(t0), 1000);
	ck_assert_msg(strstr(msg, "listing of b1/dir/ incomplete: node "
				  "node-1 (127.0.0.1:"),
		      "%s", msg);
	ck_assert_msg(strstr(msg, "is down"), "%s", msg);

	/* The cluster info shows it without asking it. */
	struct ais_cluster_info *ci;
	ck_assert_int_eq(ais_client_cluster_info(c, &ci, msg), 0);
	ck_assert_uint_eq(ci->n_nodes, 3);
	ck_assert(ci->replicated);
	ck_assert_str_eq(ci->leader, "node-0");
	ck_assert(ci->nodes[0].is_leader);
	ck_assert(!ci->nodes[1].is_leader);
	ck_assert(ci->nodes[1].down);
	ck_assert_int_eq(ci->nodes[1].status, -EHOSTDOWN);
	ck_assert_int_eq(ci->nodes[2].status, 0);
	ck_assert_int_eq(ci->nodes[2].role, AIS_ROLE_VOTER);
	ck_assert_uint_eq(ci->nodes[2].map_version, 6);
	ck_assert(ci->nodes[2].rebalance.present);
	ck_assert(ci->nodes[2].rebalance.running);
	ck_assert_uint_eq(ci->nodes[2].rebalance.objects_left, 5);
	ck_assert_uint_eq(ci->nodes[2].rebalance.bytes_moved, 1000);
	ck_assert_str_eq(ci->nodes[2].raft_addr, "127.0.0.1:30002");
	ais_cluster_info_free(ci);
	ck_assert_int_eq(atomic_load(&FC.nodes[1].accepts), 0);

	/* The node comes back (a new map): after a second the client asks
	 * for the map once before failing, and finds it up. */
	FC.nodes[1].silent = false;
	fc_kill(1);
	fc_mark(1, false);
	usleep(1100 * 1000);
	maps = ops_total(AIS__OP__OP_GET_MAP);
	name_owned_by(1, name, sizeof(name));
	ck_assert_int_eq(ais_client_head(c, "b1", name, &meta, msg),
			 -ECONNREFUSED);
	ck_assert_int_eq(ops_total(AIS__OP__OP_GET_MAP), maps + 1);
	ais_client_free(c);
	fc_stop();
}
END_TEST

START_TEST(test_down_nodes_last_for_any_node)
{
	char spec[64], msg[AIS_ERRMSG_LEN];
	struct ais_client *c;
	char **names;
	size_t n;

	fc_start(3, true);
	FC.nodes[0].silent = true;
	fc_mark(0, true);
	/* The client starts from node 2, then forgets it: node 2 dies. The
	 * map's other nodes are 0 (down, silent) and 1: node 1 answers, and
	 * node 0 is never asked. */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", FC.nodes[2].port);
	c = client_for(spec);
	fc_kill(2);
	ck_assert_int_eq(ais_client_bucket_list(c, &names, &n, msg), 0);
	ais_strv_free(names);
	ck_assert_int_eq(ops_of(1, AIS__OP__OP_BUCKET_LIST), 1);
	ck_assert_int_eq(atomic_load(&FC.nodes[0].accepts), 0);
	FC.nodes[0].silent = false;
	ais_client_free(c);
	fc_stop();
}
END_TEST

/* ---- cluster changes -------------------------------------------------- */

START_TEST(test_cluster_change)
{
	char spec[64], msg[AIS_ERRMSG_LEN];
	struct ais_client *c;
	int total;

	fc_start(2, true);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", FC.nodes[1].port);
	c = client_for(spec);
	ck_assert_int_eq(ais_client_cluster_change(c,
						   AIS_CHANGE_MAINTENANCE_START,
						   "node-0", false, msg),
			 0);
	ck_assert_int_eq(ops_total(AIS__OP__OP_CLUSTER_CHANGE), 1);
	ck_assert_int_eq(FC.nodes[1].ch_kind, AIS_CHANGE_MAINTENANCE_START);
	ck_assert_str_eq(FC.nodes[1].ch_node, "node-0");
	ck_assert(!FC.nodes[1].ch_force);

	/* REMOVE needs force; nothing is sent without it. */
	total = ops_total(AIS__OP__OP_CLUSTER_CHANGE);
	ck_assert_int_eq(ais_client_cluster_change(c, AIS_CHANGE_REMOVE,
						   "node-0", false, msg),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "lost"));
	ck_assert_int_eq(ais_client_cluster_change(c, 99, "node-0", true, msg),
			 -EINVAL);
	ck_assert_int_eq(ais_client_cluster_change(c, AIS_CHANGE_DECOMMISSION,
						   "", false, msg),
			 -EINVAL);
	ck_assert_int_eq(ops_total(AIS__OP__OP_CLUSTER_CHANGE), total);
	ck_assert_int_eq(ais_client_cluster_change(c, AIS_CHANGE_REMOVE,
						   "127.0.0.1:1", true, msg),
			 0);
	ck_assert_str_eq(FC.nodes[1].ch_node, "127.0.0.1:1");
	ck_assert(FC.nodes[1].ch_force);
	ck_assert_str_eq(ais_change_kind_name(AIS_CHANGE_DECOMMISSION),
			 "decommission");
	ais_client_free(c);
	fc_stop();
}
END_TEST

static Suite *failover_suite(void)
{
	Suite *s = suite_create("client_failover");
	TCase *tc = tcase_create("client_failover");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_endpoints_parse);
	tcase_add_test(tc, test_endpoint_list_first_that_answers);
	tcase_add_test(tc, test_any_node_failover);
	tcase_add_test(tc, test_older_cluster_broadcast);
	tcase_add_test(tc, test_down_owner_fails_fast);
	tcase_add_test(tc, test_down_nodes_last_for_any_node);
	tcase_add_test(tc, test_cluster_change);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* The fake nodes speak plain TCP, whatever CA this user has saved
	 * for their ports (client.h, ca_file). */
	setenv("AIS_CA_FILE", "none", 1);
	sr = srunner_create(failover_suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
