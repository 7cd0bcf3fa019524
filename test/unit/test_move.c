/* Unit tests of daemon/move/ and the store rules it relies on: the migrate
 * PUT (newest wins, older refused with -EALREADY, tombstones refuse,
 * metadata kept exactly, a bad checksum leaves nothing), tombstones across
 * a reopen, resilver across two mountpaths, the streaming walk over a few
 * thousand objects, and two in-process nodes on loopback: a rebalance send
 * (the receiver has it, the sender's copy is gone) and a read's fetch from
 * a previous owner. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cksum.h"
#include "fileio.h"
#include "map.h"
#include "util.h"

#include "aisd.h"
#include "cluster/cluster.h"
#include "cluster/peer.h"
#include "move/move.h"
#include "move/move_i.h"
#include "move/walk.h"
#include "net/net.h"
#include "shard/shard.h"
#include "store/bucket.h"
#include "store/store.h"

#include "scratch.h"

#define BUCKET "bkt"

static int put(struct store *st, const struct store_put_args *a,
	       const void *data, size_t len, struct ais_obj_meta *out,
	       char *msg)
{
	struct store_put p;
	int rc = store_put_begin(st, a, &p, msg);

	if (rc)
		return rc;
	rc = store_put_write(&p, data, len, msg);
	if (rc) {
		store_put_abort(&p);
		return rc;
	}
	return store_put_commit(&p, out, msg);
}

static struct ais_obj_meta put_plain(struct store *st, const char *name,
				     const void *data, size_t len)
{
	struct store_put_args a = {
	    .bucket = BUCKET, .name = name, .mode = 0644};
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta m;
	int rc = put(st, &a, data, len, &m, msg);

	ck_assert_msg(rc == 0, "PUT %s: %d %s", name, rc, msg);
	return m;
}

/* A migrate PUT of data with metadata m (size and checksum computed here
 * unless bad_cksum). */
static int put_migrate(struct store *st, const char *name, const void *data,
		       size_t len, struct ais_obj_meta *m, char *msg)
{
	struct store_put_args a = {.bucket = BUCKET, .name = name};
	struct ais_obj_meta out;

	m->size = len;
	a.migrate = m;
	return put(st, &a, data, len, &out, msg);
}

static struct ais_obj_meta meta_for(const void *data, size_t len,
				    int64_t written)
{
	struct ais_obj_meta m;

	memset(&m, 0, sizeof(m));
	m.size = len;
	m.cksum_type = AIS_CKSUM_XXH3;
	ck_assert_int_eq(ais_cksum_buf(AIS_CKSUM_XXH3, data, len, m.cksum), 0);
	m.version = 7;
	m.mtime_ns = 1500000000111222333LL;
	m.mode = 0600;
	m.uid = 42;
	m.gid = 43;
	m.written_ns = written;
	return m;
}

/* The bytes and metadata of an object, as a reader sees them. */
static void assert_obj(struct store *st, const char *name, const void *data,
		       size_t len, const struct ais_obj_meta *want)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta m;
	uint8_t *buf = malloc(len + 1);
	ssize_t n;
	int fd, rc;

	rc = store_open(st, BUCKET, name, &fd, &m, msg);
	ck_assert_msg(rc == 0, "open %s: %d %s", name, rc, msg);
	n = ais_read_upto(fd, buf, len + 1);
	close(fd);
	ck_assert_int_eq(n, (ssize_t)len);
	ck_assert(memcmp(buf, data, len) == 0);
	free(buf);
	assert_meta_eq(&m, want, name);
	ck_assert_int_eq(m.written_ns, want->written_ns);
}

START_TEST(test_written_ns)
{
	struct scratch_store f;
	struct ais_obj_meta a, b, h;
	char msg[AIS_ERRMSG_LEN] = "";
	int64_t t0 = ais_now_real_ns();

	scratch_store_open(&f, "written", 2, BUCKET);
	a = put_plain(f.st, "x", "one", 3);
	ck_assert(a.written_ns >= t0);
	b = put_plain(f.st, "x", "two", 3);
	ck_assert(b.written_ns > a.written_ns);
	ck_assert_int_eq(store_head(f.st, BUCKET, "x", &h, msg), 0);
	ck_assert_int_eq(h.written_ns, b.written_ns);
	/* RENAME writes the new name. */
	ck_assert_int_eq(store_rename(f.st, BUCKET, "x", "y", false, &h, msg),
			 0);
	ck_assert(h.written_ns > b.written_ns);
	scratch_store_close(&f);
}
END_TEST

START_TEST(test_migrate_rules)
{
	struct scratch_store f;
	struct ais_obj_meta local, m, old;
	char msg[AIS_ERRMSG_LEN] = "";
	char data[5000];

	scratch_fill(data, sizeof(data), 1);
	scratch_store_open(&f, "migrate", 2, BUCKET);

	/* Nothing here: stored with exactly its metadata. */
	m = meta_for(data, sizeof(data), 1000);
	ck_assert_int_eq(put_migrate(f.st, "new", data, sizeof(data), &m, msg),
			 0);
	assert_obj(f.st, "new", data, sizeof(data), &m);

	/* An older or equal copy is refused, and the local one stays. */
	local = put_plain(f.st, "x", "local", 5);
	old = meta_for(data, sizeof(data), local.written_ns - 1);
	ck_assert_int_eq(put_migrate(f.st, "x", data, sizeof(data), &old, msg),
			 -EALREADY);
	ck_assert_msg(strstr(msg, "newer copy"), "%s", msg);
	old.written_ns = local.written_ns;
	ck_assert_int_eq(put_migrate(f.st, "x", data, sizeof(data), &old, msg),
			 -EALREADY);
	assert_obj(f.st, "x", "local", 5, &local);

	/* A newer one wins, with its own metadata. */
	m = meta_for(data, 100, local.written_ns + 1);
	ck_assert_int_eq(put_migrate(f.st, "x", data, 100, &m, msg), 0);
	assert_obj(f.st, "x", data, 100, &m);

	/* A checksum that does not match: refused, nothing visible. */
	m = meta_for(data, 64, 5);
	m.cksum[0] = m.cksum[0] == '0' ? '1' : '0';
	ck_assert_int_eq(put_migrate(f.st, "bad", data, 64, &m, msg), -EBADMSG);
	ck_assert(!store_has_object(f.st, BUCKET, "bad"));
	/* A body of the wrong size too. */
	m = meta_for(data, 64, 5);
	{
		struct store_put_args a = {.bucket = BUCKET, .name = "bad"};
		struct ais_obj_meta out;

		a.migrate = &m;
		ck_assert_int_eq(put(f.st, &a, data, 63, &out, msg), -EBADMSG);
	}
	ck_assert(!store_has_object(f.st, BUCKET, "bad"));
	for (int i = 0; i < 2; i++) {
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s/.ais/tmp", f.mp[i]);
		ck_assert_int_eq(scratch_count_entries(tmp), 0);
	}
	scratch_store_close(&f);
}
END_TEST

START_TEST(test_tombstones)
{
	struct scratch_store f;
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN] = "";
	int64_t t;

	scratch_store_open(&f, "tomb", 2, BUCKET);
	put_plain(f.st, "gone", "abc", 3);
	t = ais_now_real_ns();
	ck_assert_int_eq(store_delete_tomb(f.st, BUCKET, "gone", t, msg), 0);
	/* No object, but the delete is remembered all the same. */
	ck_assert_int_eq(store_delete_tomb(f.st, BUCKET, "never", t, msg),
			 -ENOENT);

	/* A copy written before the delete is refused... */
	m = meta_for("abc", 3, t - 10);
	ck_assert_int_eq(put_migrate(f.st, "gone", "abc", 3, &m, msg),
			 -EALREADY);
	ck_assert_msg(strstr(msg, "deleted here"), "%s", msg);
	ck_assert(!store_has_object(f.st, BUCKET, "gone"));
	m = meta_for("abc", 3, t);
	ck_assert_int_eq(put_migrate(f.st, "never", "abc", 3, &m, msg),
			 -EALREADY);

	/* ...also after a restart. */
	store_free(f.st);
	ck_assert_int_eq(store_new(f.paths, 2, &f.st, msg), 0);
	ck_assert_int_eq(tombs_count(f.st->tombs), 2);
	ck_assert_int_eq(tombs_get(f.st->tombs, BUCKET, "gone"), t);
	m = meta_for("abc", 3, t - 10);
	ck_assert_int_eq(put_migrate(f.st, "gone", "abc", 3, &m, msg),
			 -EALREADY);
	/* A copy written after the delete is a new write: it wins. */
	m = meta_for("abc", 3, t + 10);
	ck_assert_int_eq(put_migrate(f.st, "gone", "abc", 3, &m, msg), 0);
	assert_obj(f.st, "gone", "abc", 3, &m);

	/* Cleared: gone for good, across a restart too. */
	ck_assert_int_eq(tombs_clear(f.st->tombs), 0);
	store_free(f.st);
	ck_assert_int_eq(store_new(f.paths, 2, &f.st, msg), 0);
	ck_assert_int_eq(tombs_count(f.st->tombs), 0);
	scratch_store_close(&f);
}
END_TEST

START_TEST(test_tombstones_bounded)
{
	char dir[PATH_MAX], sub[PATH_MAX], *paths[1] = {sub};
	char msg[AIS_ERRMSG_LEN] = "", name[32];
	struct tombs *t;
	int i;

	scratch_dir(dir, "tb");
	scratch_subdir(sub, dir, "mp");
	{
		char ais[PATH_MAX];

		scratch_subdir(ais, sub, ".ais");
	}
	ck_assert_int_eq(tombs_open(paths, 1, 100, &t, msg), 0);
	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert_int_eq(tombs_add(t, BUCKET, name, 1000 + i), 0);
	}
	/* The newest 100 are kept; the log was compacted on the way. */
	ck_assert_int_eq(tombs_count(t), 100);
	ck_assert_int_eq(tombs_get(t, BUCKET, "n0"), 0);
	ck_assert_int_eq(tombs_get(t, BUCKET, "n2999"), 3999);
	tombs_free(t);
	ck_assert_int_eq(tombs_open(paths, 1, 100, &t, msg), 0);
	ck_assert_int_eq(tombs_count(t), 100);
	ck_assert_int_eq(tombs_get(t, BUCKET, "n2900"), 3900);
	tombs_free(t);
	scratch_rm(dir);
}
END_TEST

/* ---- the walk ---------------------------------------------------------- */

struct seen {
	char (*names)[64];
	size_t n, cap;
};

static int count_cb(void *arg, const char *bucket, const char *name, int mp)
{
	struct seen *s = arg;

	(void)mp;
	ck_assert(s->n < s->cap);
	snprintf(s->names[s->n++], 64, "%s/%s", bucket, name);
	return 0;
}

static int cmp64(const void *a, const void *b)
{
	return strcmp(a, b);
}

START_TEST(test_walk)
{
	struct scratch_store f;
	struct seen s = {0};
	char name[64];
	size_t i;
	int n = 0;

	scratch_store_open(&f, "walk", 1, BUCKET);
	ck_assert_int_eq(bucket_create(f.st, "other", name), 0);
	/* 3000 objects, flat and nested up to four levels. */
	for (i = 0; i < 3000; i++) {
		if (i % 3 == 0)
			snprintf(name, sizeof(name), "o%zu", i);
		else if (i % 3 == 1)
			snprintf(name, sizeof(name), "d%zu/o%zu", i % 7, i);
		else
			snprintf(name, sizeof(name), "a%zu/b%zu/c/d/o%zu",
				 i % 5, i % 11, i);
		put_plain(f.st, name, name, strlen(name));
	}
	{
		struct store_put_args a = {.bucket = "other", .name = "z/z"};
		struct ais_obj_meta m;

		ck_assert_int_eq(put(f.st, &a, "z", 1, &m, name), 0);
	}
	/* A stray work file must not count. */
	snprintf(name, sizeof(name), "%s", "junk");
	{
		char p[PATH_MAX + 32];

		snprintf(p, sizeof(p), "%s/.ais/tmp/put.1", f.mp[0]);
		scratch_write_file(p, "x", 1);
	}
	s.cap = 4000;
	s.names = calloc(s.cap, 64);
	ck_assert_int_eq(walk_mountpath(f.mp[0], 0, count_cb, &s, NULL), 0);
	ck_assert_int_eq(s.n, 3001);
	qsort(s.names, s.n, 64, cmp64);
	for (i = 1; i < s.n; i++)
		ck_assert_msg(strcmp(s.names[i - 1], s.names[i]),
			      "%s seen twice", s.names[i]);
	for (i = 0; i < s.n; i++)
		n += !strncmp(s.names[i], BUCKET "/", strlen(BUCKET) + 1);
	ck_assert_int_eq(n, 3000);
	free(s.names);
	scratch_store_close(&f);
}
END_TEST

static int stop_cb(void *arg, const char *bucket, const char *name, int mp)
{
	atomic_bool *stop = arg;

	(void)bucket;
	(void)name;
	(void)mp;
	atomic_store(stop, true);
	return 0;
}

START_TEST(test_walk_stop)
{
	struct scratch_store f;
	atomic_bool stop = false;

	scratch_store_open(&f, "walkstop", 1, BUCKET);
	put_plain(f.st, "a/b", "1", 1);
	put_plain(f.st, "a/c", "1", 1);
	put_plain(f.st, "d", "1", 1);
	ck_assert_int_eq(walk_mountpath(f.mp[0], 0, stop_cb, &stop, &stop),
			 -ECANCELED);
	scratch_store_close(&f);
}
END_TEST

/* ---- resilver ---------------------------------------------------------- */

#define NRES 400

static int files_named(struct store *st, const char *name)
{
	char path[AISD_PATH_MAX];
	struct stat sb;
	size_t i;
	int n = 0;

	for (i = 0; i < st->mps->n; i++) {
		mpset_obj_path(st->mps, (int)i, BUCKET, name, path);
		n += lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
	}
	return n;
}

START_TEST(test_resilver)
{
	struct scratch_store f;
	struct ais_obj_meta metas[NRES], m;
	char name[64], msg[AIS_ERRMSG_LEN] = "";
	uint64_t moved = 0;
	int i, order[2], mp, on_new = 0;

	/* Objects written with one mountpath... */
	scratch_store_open(&f, "resilver", 2, BUCKET);
	store_free(f.st);
	ck_assert_int_eq(store_new(f.paths, 1, &f.st, msg), 0);
	ck_assert(move_mountpaths_changed(f.st));
	ck_assert_int_eq(move_mountpaths_remember(f.st, msg), 0);
	ck_assert(!move_mountpaths_changed(f.st));
	for (i = 0; i < NRES; i++) {
		snprintf(name, sizeof(name), "dir%d/obj%d", i % 9, i);
		metas[i] = put_plain(f.st, name, name, strlen(name));
	}
	store_free(f.st);
	/* ...then a second one is added. */
	ck_assert_int_eq(store_new(f.paths, 2, &f.st, msg), 0);
	ck_assert(move_mountpaths_changed(f.st));
	/* A leftover older duplicate on the new mountpath of one object
	 * whose place is the old one must go, not win. */
	for (i = 0; i < NRES; i++) {
		snprintf(name, sizeof(name), "dir%d/obj%d", i % 9, i);
		mpset_order(f.st->mps, BUCKET, name, order);
		if (order[0] == 0)
			break;
	}
	ck_assert_int_lt(i, NRES);
	{
		char path[AISD_PATH_MAX], dir[AISD_PATH_MAX + 64];
		struct ais_obj_meta dup = metas[i];

		mpset_obj_path(f.st->mps, 1, BUCKET, name, path);
		snprintf(dir, sizeof(dir), "%s/%s/dir%d", f.mp[1], BUCKET,
			 i % 9);
		mkdir(dir, 0755);
		scratch_write_file(path, "stale", 5);
		dup.written_ns -= 1;
		dup.size = 5;
		ck_assert_int_eq(objmeta_write_path(path, &dup), 0);
	}
	ck_assert_int_eq(move_resilver(f.st, NULL, NULL, &moved, msg), 0);
	ck_assert_int_eq(move_mountpaths_remember(f.st, msg), 0);
	for (i = 0; i < NRES; i++) {
		snprintf(name, sizeof(name), "dir%d/obj%d", i % 9, i);
		ck_assert_int_eq(files_named(f.st, name), 1);
		ck_assert_int_eq(store_find(f.st, BUCKET, name, msg, &mp, NULL),
				 0);
		mpset_order(f.st->mps, BUCKET, name, order);
		ck_assert_int_eq(mp, order[0]);
		on_new += mp == 1;
		assert_obj(f.st, name, name, strlen(name), &metas[i]);
	}
	/* About half moved (HRW over two), plus the dropped duplicate. */
	ck_assert_int_eq(moved, (uint64_t)on_new + 1);
	ck_assert(on_new > NRES / 4 && on_new < 3 * NRES / 4);
	/* Nothing left to do the second time. */
	ck_assert_int_eq(move_resilver(f.st, NULL, NULL, &moved, msg), 0);
	ck_assert_int_eq(moved, 0);
	(void)m;
	scratch_store_close(&f);
}
END_TEST

/* ---- two nodes on loopback ------------------------------------------- */

struct node {
	char dir[PATH_MAX], mp[PATH_MAX], *paths[1];
	struct aisd d;
	struct aisd_opts o;
	struct ais_node self;
	struct server *srv;
	pthread_t thr;
};

static void *serve(void *arg)
{
	struct node *n = arg;

	server_run(n->srv);
	return NULL;
}

static void node_up(struct node *n, const char *tag, bool listen)
{
	char msg[AIS_ERRMSG_LEN] = "";

	memset(n, 0, sizeof(*n));
	scratch_dir(n->dir, tag);
	scratch_subdir(n->mp, n->dir, "mp");
	n->paths[0] = n->mp;
	n->o.io_timeout_s = 10;
	n->o.rebalance_workers = 2;
	n->d.opts = &n->o;
	ck_assert_int_eq(store_new(n->paths, 1, &n->d.store, msg), 0);
	ck_assert_int_eq(bucket_create(n->d.store, BUCKET, msg), 0);
	ck_assert_int_eq(shards_new(n->d.store, 0, &n->d.shards), 0);
	snprintf(n->self.id, sizeof(n->self.id), "%s",
		 n->d.store->mps->node_id);
	snprintf(n->self.host, sizeof(n->self.host), "127.0.0.1");
	n->self.port = scratch_free_port();
	n->d.peers = peers_new(1000, 5000, 0);
	ck_assert_ptr_nonnull(n->d.peers);
	n->d.probes = probes_new();
	ck_assert_ptr_nonnull(n->d.probes);
	/* Each node a cluster of its own: it owns everything it is asked
	 * for; the tests make the maps of a rebalance by hand. */
	scratch_cluster_up(&n->d, &n->self, n->dir, BUCKET);
	ck_assert_int_eq(move_new(&n->d, &n->d.move, msg), 0);
	if (!listen)
		return;
	ck_assert_int_eq(
	    server_new(&n->d, "127.0.0.1", n->self.port, &n->srv, msg), 0);
	ck_assert_int_eq(pthread_create(&n->thr, NULL, serve, n), 0);
}

/* Stops the listening nodes (SIGTERM drains every server of the process;
 * each test case runs in its own process). */
static void nodes_down(struct node **v, size_t nv)
{
	size_t i;

	kill(getpid(), SIGTERM);
	for (i = 0; i < nv; i++) {
		if (v[i]->srv) {
			pthread_join(v[i]->thr, NULL);
			server_free(v[i]->srv);
		}
		move_free(v[i]->d.move);
		scratch_cluster_down(&v[i]->d);
		shards_free(v[i]->d.shards);
		peers_free(v[i]->d.peers);
		probes_free(v[i]->d.probes);
		store_free(v[i]->d.store);
		scratch_rm(v[i]->dir);
	}
}

START_TEST(test_two_nodes_send)
{
	struct node a, b, *v[2] = {&a, &b};
	struct ais_obj_meta m, local, got;
	char msg[AIS_ERRMSG_LEN] = "", big[300000];
	const struct ais_node *to;
	uint64_t bytes;
	int rc;

	node_up(&a, "recv", true);
	node_up(&b, "send", false);
	scratch_fill(big, sizeof(big), 9);
	m = put_plain(b.d.store, "big/obj", big, sizeof(big));

	/* b sends its copy to a: a has it, exactly; b's is gone. */
	to = &a.self;
	rc = move__send(b.d.move, &to, 1, 1, BUCKET, "big/obj", 0, true, &bytes,
			msg);
	ck_assert_msg(rc == 0, "send: %d %s", rc, msg);
	ck_assert_int_eq(bytes, sizeof(big));
	ck_assert(!store_has_object(b.d.store, BUCKET, "big/obj"));
	assert_obj(a.d.store, "big/obj", big, sizeof(big), &m);

	/* a has a newer copy: b's older one is refused, and goes. */
	local = put_plain(a.d.store, "x", "newer", 5);
	{
		struct ais_obj_meta old = meta_for("old", 3, 1);

		put_migrate(b.d.store, "x", "old", 3, &old, msg);
	}
	rc = move__send(b.d.move, &to, 1, 1, BUCKET, "x", 0, true, &bytes, msg);
	ck_assert_msg(rc == 0, "send: %d %s", rc, msg);
	ck_assert_int_eq(bytes, 0);
	ck_assert(!store_has_object(b.d.store, BUCKET, "x"));
	assert_obj(a.d.store, "x", "newer", 5, &local);

	/* A peer_local HEAD reads a's copy, even of an object a does not
	 * own (here it owns everything: its map has itself only). */
	ck_assert_int_eq(store_head(a.d.store, BUCKET, "x", &got, msg), 0);
	nodes_down(v, 2);
}
END_TEST

START_TEST(test_two_nodes_fetch)
{
	struct node a, b, *v[2] = {&a, &b};
	struct ais_map *cur, *prev, *hist[1];
	struct ais_node dead;
	struct cluster_map cm;
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN] = "", data[70000];
	int rc;

	node_up(&a, "prev", true);
	node_up(&b, "owner", false);
	scratch_fill(data, sizeof(data), 3);
	m = put_plain(a.d.store, "f/obj", data, sizeof(data));

	/* b owns everything now; a did before. */
	cur = ais_map_new();
	prev = ais_map_new();
	ck_assert_int_eq(ais_map_add(cur, &b.self), 1);
	ck_assert_int_eq(ais_map_add(prev, &a.self), 1);
	cur->version = 2;
	prev->version = 1;
	hist[0] = prev;
	memset(&cm, 0, sizeof(cm));
	cm.m = cur;
	cm.history = hist;
	cm.nhistory = 1;
	cm.rebalance_id = 2;

	rc = move_fetch(&b.d, &cm, BUCKET, "f/obj", msg);
	ck_assert_msg(rc == 0, "fetch: %d %s", rc, msg);
	assert_obj(b.d.store, "f/obj", data, sizeof(data), &m);
	ck_assert_int_eq(atomic_load(&b.d.move->n.fetched), 1);
	/* The previous owner keeps its copy (a read moves nothing). */
	ck_assert(store_has_object(a.d.store, BUCKET, "f/obj"));
	/* Fetched again (a concurrent miss): the copy here is as new. */
	ck_assert_int_eq(move_fetch(&b.d, &cm, BUCKET, "f/obj", msg), 0);

	/* Nobody has it: ENOENT. */
	ck_assert_int_eq(move_fetch(&b.d, &cm, BUCKET, "nothing", msg),
			 -ENOENT);

	/* A deleted name is not brought back: the tombstone refuses. */
	put_plain(a.d.store, "del", "d", 1);
	store_delete_tomb(b.d.store, BUCKET, "del", ais_now_real_ns(), msg);
	ck_assert_int_eq(move_fetch(&b.d, &cm, BUCKET, "del", msg), 0);
	ck_assert(!store_has_object(b.d.store, BUCKET, "del"));

	/* The delete at the previous owners. */
	ck_assert_int_eq(move_delete_history(&b.d, &cm, BUCKET, "del", msg), 0);
	ck_assert(!store_has_object(a.d.store, BUCKET, "del"));
	ck_assert_int_eq(move_delete_history(&b.d, &cm, BUCKET, "del", msg),
			 -ENOENT);

	/* A previous owner that cannot be reached: EIO naming it. */
	dead = a.self;
	snprintf(dead.id, sizeof(dead.id), "deadnode");
	dead.port = scratch_free_port();
	ck_assert_int_eq(ais_map_remove(prev, a.self.id), 1);
	ck_assert_int_eq(ais_map_add(prev, &dead), 1);
	rc = move_fetch(&b.d, &cm, BUCKET, "f/other", msg);
	ck_assert_int_eq(rc, -EIO);
	ck_assert_msg(strstr(msg, "deadnode") || strstr(msg, "127.0.0.1"), "%s",
		      msg);

	ais_map_free(cur);
	ais_map_free(prev);
	nodes_down(v, 2);
}
END_TEST

#define NREB 300

START_TEST(test_two_nodes_rebalance)
{
	/* The snapshot's bucket table: a rebalance moves only objects of
	 * buckets it knows. */
	static char bk[] = BUCKET;
	static char *bucket_table[] = {bk, NULL};
	struct node a, b, *v[2] = {&a, &b};
	struct ais_obj_meta metas[NREB];
	struct cluster_map cm;
	struct ais_map *m;
	char name[64], msg[AIS_ERRMSG_LEN] = "";
	int i, on_a = 0, rc;

	node_up(&a, "joiner", true);
	node_up(&b, "holder", false);
	for (i = 0; i < NREB; i++) {
		snprintf(name, sizeof(name), "r/%d/obj", i);
		metas[i] = put_plain(b.d.store, name, name, strlen(name));
	}
	/* a joined: generation 1 places about half on it. */
	m = ais_map_new();
	ck_assert_int_eq(ais_map_add(m, &a.self), 1);
	ck_assert_int_eq(ais_map_add(m, &b.self), 1);
	/* Not above a's own version: a newer one would make a wait to catch
	 * up with a map it never gets (its cluster is itself alone). */
	m->version = 1;
	memset(&cm, 0, sizeof(cm));
	cm.m = m;
	cm.buckets = bucket_table;
	cm.nbuckets = 1;
	cm.rebalance_id = 1;
	atomic_store(&b.d.move->seen_id, 1);
	atomic_store(&b.d.move->job_id, 1);
	rc = move__rebalance(b.d.move, &cm);
	ck_assert_int_eq(rc, 0);
	for (i = 0; i < NREB; i++) {
		const struct ais_node *o;

		snprintf(name, sizeof(name), "r/%d/obj", i);
		o = ais_map_owner(m, BUCKET, name);
		if (!strcmp(o->id, a.self.id)) {
			on_a++;
			ck_assert(!store_has_object(b.d.store, BUCKET, name));
			assert_obj(a.d.store, name, name, strlen(name),
				   &metas[i]);
		} else {
			ck_assert(!store_has_object(a.d.store, BUCKET, name));
			assert_obj(b.d.store, name, name, strlen(name),
				   &metas[i]);
		}
	}
	ck_assert(on_a > NREB / 4 && on_a < 3 * NREB / 4);
	ck_assert_int_eq(atomic_load(&b.d.move->n.moved), (unsigned long)on_a);
	ck_assert_int_eq(atomic_load(&b.d.move->n.left), 0);
	ck_assert_int_eq(atomic_load(&b.d.move->n.errors), 0);
	/* A superseded job stops at once, and says so. */
	atomic_store(&b.d.move->seen_id, 2);
	ck_assert_int_eq(move__rebalance(b.d.move, &cm), -ECANCELED);
	(void)msg;
	ais_map_free(m);
	nodes_down(v, 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("move");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_written_ns);
	tcase_add_test(tc, test_migrate_rules);
	tcase_add_test(tc, test_tombstones);
	tcase_add_test(tc, test_tombstones_bounded);
	tcase_add_test(tc, test_walk);
	tcase_add_test(tc, test_walk_stop);
	tcase_add_test(tc, test_resilver);
	tcase_add_test(tc, test_two_nodes_send);
	tcase_add_test(tc, test_two_nodes_fetch);
	tcase_add_test(tc, test_two_nodes_rebalance);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	scratch_init("move");
	return scratch_run(suite());
}
