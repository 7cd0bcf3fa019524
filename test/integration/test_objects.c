/* Integration: objects on a 3-node cluster through libais: byte-exact round
 * trips of 1,000 objects, ranges, versions and metadata, rename (same node
 * and across nodes), delete, name conflicts, buckets and errors.
 *
 * Longer than the tree's ~800 lines on purpose: every case runs against the
 * one cluster and data set this program starts, which costs seconds (more
 * under ASan); split by family, each part would start its own. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "harness.h"
#include "map.h"

static struct ais_test_cluster tc;
#define C (tc.client)

#define MiB (1u << 20)

/* PUTs size bytes of stream seed through one of the three client sources
 * (0: callback, 1: buffer, 2: file descriptor). */
static int put_gen(const char *bucket, const char *name, uint64_t seed,
		   uint64_t size, int how, const struct ais_put_opts *opts,
		   struct ais_obj_meta *out, char *msg)
{
	struct ais_test_gen g = {.seed = seed, .size = size};
	int rc;

	if (how == 1 && size <= 2 * MiB) {
		char *buf = malloc(size ? size : 1);

		ais_test_fill(seed, 0, buf, size);
		rc = ais_client_put_buf(C, bucket, name, buf, size, opts, out,
					msg);
		free(buf);
		return rc;
	}
	if (how == 2) {
		char path[PATH_MAX + 32];
		char buf[65536];
		int fd;

		snprintf(path, sizeof(path), "%s/put-src", tc.dir);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		ck_assert_int_ge(fd, 0);
		for (uint64_t off = 0; off < size;) {
			size_t n =
			    size - off < sizeof(buf) ? size - off : sizeof(buf);
			ais_test_fill(seed, off, buf, n);
			ck_assert_int_eq(ais_write_all(fd, buf, n), 0);
			off += n;
		}
		rc = ais_client_put_fd(C, bucket, name, fd, size, opts, out,
				       msg);
		close(fd);
		unlink(path);
		return rc;
	}
	return ais_client_put_cb(C, bucket, name, size, ais_test_gen_read, &g,
				 opts, out, msg);
}

/* GETs the whole object and asserts it is exactly stream seed of size. */
static void check_get(const char *bucket, const char *name, uint64_t seed,
		      uint64_t size)
{
	struct ais_test_verify v;
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN] = "";
	int rc;

	ais_test_verify_init(&v, seed, 0);
	rc = ais_client_get_cb(C, bucket, name, 0, 0, ais_test_verify_write, &v,
			       &m, msg);
	ck_assert_msg(rc == 0, "GET %s/%s: %d %s", bucket, name, rc, msg);
	ck_assert_msg(v.got == size, "GET %s/%s: %llu bytes, want %llu", bucket,
		      name, (unsigned long long)v.got,
		      (unsigned long long)size);
	ck_assert_msg(v.bad_at < 0, "GET %s/%s: wrong byte at offset %lld",
		      bucket, name, (long long)v.bad_at);
	ck_assert_uint_eq(m.size, size);
}

static uint64_t size_for(int i)
{
	static const uint64_t cycle[] = {0, 1, 4096, 65536, 777, 4095, 100000};

	if (i < 3)
		return 20 * MiB;
	if (i % 40 == 0)
		return MiB + 7;
	return cycle[i % 7];
}

START_TEST(test_round_trip_1000)
{
	const int n = 1000;
	char name[128], msg[AIS_ERRMSG_LEN];

	for (int i = 0; i < n; i++) {
		struct ais_obj_meta m;
		uint64_t size = size_for(i);
		char want[AIS_CKSUM_HEX_MAX];
		int rc;

		snprintf(name, sizeof(name), "rt/d%02d/obj-%04d.bin", i % 13,
			 i);
		memset(&m, 0, sizeof(m));
		rc =
		    put_gen("test", name, 1000 + i, size, i % 3, NULL, &m, msg);
		ck_assert_msg(rc == 0, "PUT %s (%llu bytes): %d %s", name,
			      (unsigned long long)size, rc, msg);
		ck_assert_uint_eq(m.size, size);
		ck_assert_uint_eq(m.version, 1);
		ck_assert_int_eq(m.cksum_type, AIS_CKSUM_XXH3);
		ais_test_stream_cksum(1000 + i, size, want);
		ck_assert_msg(strcmp(m.cksum, want) == 0,
			      "PUT %s: node checksum %s, want %s", name,
			      m.cksum, want);
	}
	/* Read everything back after all writes (not just the last one). */
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "rt/d%02d/obj-%04d.bin", i % 13,
			 i);
		check_get("test", name, 1000 + i, size_for(i));
	}
	/* And the HEADs agree. */
	for (int i = 0; i < n; i += 37) {
		struct ais_obj_meta m;
		char want[AIS_CKSUM_HEX_MAX];

		snprintf(name, sizeof(name), "rt/d%02d/obj-%04d.bin", i % 13,
			 i);
		ck_assert_int_eq(ais_client_head(C, "test", name, &m, msg), 0);
		ck_assert_uint_eq(m.size, size_for(i));
		ais_test_stream_cksum(1000 + i, size_for(i), want);
		ck_assert_str_eq(m.cksum, want);
	}
}
END_TEST

/* GET [off, off+len) and check the bytes and count. */
static void check_range(const char *name, uint64_t seed, uint64_t size,
			uint64_t off, uint64_t len)
{
	uint64_t want =
	    len == 0 ? size - off : (off + len > size ? size - off : len);
	struct ais_test_verify v;
	struct ais_obj_meta m;
	char msg[AIS_ERRMSG_LEN] = "";
	int rc;

	ais_test_verify_init(&v, seed, off);
	rc = ais_client_get_cb(C, "test", name, off, len, ais_test_verify_write,
			       &v, &m, msg);
	ck_assert_msg(rc == 0, "range %llu+%llu: %d %s",
		      (unsigned long long)off, (unsigned long long)len, rc,
		      msg);
	ck_assert_msg(v.got == want, "range %llu+%llu: %llu bytes, want %llu",
		      (unsigned long long)off, (unsigned long long)len,
		      (unsigned long long)v.got, (unsigned long long)want);
	ck_assert_msg(v.bad_at < 0, "range %llu+%llu: wrong byte at %lld",
		      (unsigned long long)off, (unsigned long long)len,
		      (long long)v.bad_at);
	ck_assert_uint_eq(m.size, size); /* the whole object's size */
}

START_TEST(test_ranges)
{
	const uint64_t size = MiB + 7, seed = 42;
	char msg[AIS_ERRMSG_LEN] = "";
	char buf[300];
	struct ais_test_verify v;
	ssize_t n;

	ck_assert_int_eq(
	    put_gen("test", "ranges/obj", seed, size, 0, NULL, NULL, msg), 0);
	check_range("ranges/obj", seed, size, 0, 100);		/* start */
	check_range("ranges/obj", seed, size, 500000, 4096);	/* middle */
	check_range("ranges/obj", seed, size, size - 10, 10);	/* end */
	check_range("ranges/obj", seed, size, size - 10, 1000); /* past end */
	check_range("ranges/obj", seed, size, 0, 0);		/* all */
	check_range("ranges/obj", seed, size, 123457, 0);	/* to end */
	check_range("ranges/obj", seed, size, size - 1, 0);	/* last byte */
	check_range("ranges/obj", seed, size, size, 0);		/* empty */
	check_range("ranges/obj", seed, size, 1, size - 1);
	/* Starting beyond the object is an error, not data. */
	ais_test_verify_init(&v, seed, 0);
	ck_assert_int_eq(ais_client_get_cb(C, "test", "ranges/obj", size + 1,
					   10, ais_test_verify_write, &v, NULL,
					   msg),
			 -EINVAL);
	ck_assert_uint_eq(v.got, 0);

	/* ais_client_read: counts, short at the end, 0 at the end. */
	n = ais_client_read(C, "test", "ranges/obj", 1000, buf, sizeof(buf),
			    NULL, msg);
	ck_assert_int_eq(n, sizeof(buf));
	ais_test_verify_init(&v, seed, 1000);
	ais_test_verify_write(&v, buf, (size_t)n);
	ck_assert_int_lt(v.bad_at, 0);
	n = ais_client_read(C, "test", "ranges/obj", size - 5, buf, sizeof(buf),
			    NULL, msg);
	ck_assert_int_eq(n, 5);
	ais_test_verify_init(&v, seed, size - 5);
	ais_test_verify_write(&v, buf, 5);
	ck_assert_int_lt(v.bad_at, 0);
	n = ais_client_read(C, "test", "ranges/obj", size, buf, sizeof(buf),
			    NULL, msg);
	ck_assert_int_eq(n, 0);

	/* A range into a file descriptor. */
	{
		char path[PATH_MAX + 32], got[4096], want[4096];
		int fd;

		snprintf(path, sizeof(path), "%s/range-out", tc.dir);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(ais_client_get_fd(C, "test", "ranges/obj",
						   777777, 4096, fd, NULL, msg),
				 0);
		ck_assert_int_eq(lseek(fd, 0, SEEK_END), 4096);
		ck_assert_int_eq(pread(fd, got, sizeof(got), 0), 4096);
		ais_test_fill(seed, 777777, want, sizeof(want));
		ck_assert_int_eq(memcmp(got, want, sizeof(got)), 0);
		close(fd);
		unlink(path);
	}
}
END_TEST

START_TEST(test_overwrite_versions)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta m, h;
	struct ais_put_opts o;
	char want[AIS_CKSUM_HEX_MAX];
	int64_t last_mtime = 0;
	int rc;

	for (uint64_t v = 1; v <= 4; v++) {
		uint64_t size = 1000 * v;

		ck_assert_int_eq(put_gen("test", "ver/obj", 500 + v, size,
					 (int)v % 3, NULL, &m, msg),
				 0);
		ck_assert_uint_eq(m.version, v);
		ck_assert_int_eq(ais_client_head(C, "test", "ver/obj", &h, msg),
				 0);
		ck_assert_uint_eq(h.version, v);
		ck_assert_uint_eq(h.size, size);
		ais_test_stream_cksum(500 + v, size, want);
		ck_assert_str_eq(h.cksum, want);
		ck_assert_int_ge(h.mtime_ns, last_mtime);
		last_mtime = h.mtime_ns;
		check_get("test", "ver/obj", 500 + v, size);
	}

	/* no_overwrite: -EEXIST and the object is untouched. */
	memset(&o, 0, sizeof(o));
	o.no_overwrite = true;
	rc = put_gen("test", "ver/obj", 999, 10, 1, &o, NULL, msg);
	ck_assert_msg(rc == -EEXIST, "no_overwrite PUT: %d %s", rc, msg);
	ck_assert_int_eq(ais_client_head(C, "test", "ver/obj", &h, msg), 0);
	ck_assert_uint_eq(h.version, 4);
	check_get("test", "ver/obj", 504, 4000);
	/* ... and works for a new name. */
	ck_assert_int_eq(put_gen("test", "ver/new", 998, 10, 1, &o, NULL, msg),
			 0);

	/* A wrong client checksum: -EBADMSG, nothing committed. */
	memset(&o, 0, sizeof(o));
	o.cksum_type = AIS_CKSUM_XXH3;
	o.cksum = "0123456789abcdef";
	rc = put_gen("test", "ver/obj", 777, 5000, 0, &o, NULL, msg);
	ck_assert_msg(rc == -EBADMSG, "bad checksum PUT: %d %s", rc, msg);
	ck_assert_int_eq(ais_client_head(C, "test", "ver/obj", &h, msg), 0);
	ck_assert_uint_eq(h.version, 4);
	check_get("test", "ver/obj", 504, 4000);

	/* The right one (SHA-256, computed here) is accepted and kept. */
	{
		char *buf = malloc(5000);
		char sha[AIS_CKSUM_HEX_MAX];

		ais_test_fill(777, 0, buf, 5000);
		ck_assert_int_eq(
		    ais_cksum_buf(AIS_CKSUM_SHA256, buf, 5000, sha), 0);
		free(buf);
		o.cksum_type = AIS_CKSUM_SHA256;
		o.cksum = sha;
		rc = put_gen("test", "ver/obj", 777, 5000, 0, &o, &m, msg);
		ck_assert_msg(rc == 0, "sha256 PUT: %d %s", rc, msg);
		ck_assert_uint_eq(m.version, 5);
		ck_assert_int_eq(ais_client_head(C, "test", "ver/obj", &h, msg),
				 0);
		ck_assert_int_eq(h.cksum_type, AIS_CKSUM_SHA256);
		ck_assert_str_eq(h.cksum, sha);
		check_get("test", "ver/obj", 777, 5000);
	}

	/* Mode and mtime as given by the client. */
	memset(&o, 0, sizeof(o));
	o.mode = 0600;
	o.mtime_ns = 1234567890123456789ll;
	ck_assert_int_eq(put_gen("test", "ver/meta", 1, 10, 1, &o, NULL, msg),
			 0);
	ck_assert_int_eq(ais_client_head(C, "test", "ver/meta", &h, msg), 0);
	ck_assert_uint_eq(h.mode & 07777, 0600);
	ck_assert_int_eq(h.mtime_ns, 1234567890123456789ll);
	/* set_meta changes them in place; the data stays. */
	{
		uint32_t mode = 0751;
		int64_t mt = 42000000000ll;

		int64_t at = 43000000007ll;
		uint32_t gid = 4242;
		int64_t ct0;

		ck_assert_int_eq(
		    ais_client_set_meta(C, "test", "ver/meta",
					&(struct ais_meta_change){
					    .mode = &mode, .mtime_ns = &mt},
					&m, msg),
		    0);
		ck_assert_int_eq(
		    ais_client_head(C, "test", "ver/meta", &h, msg), 0);
		ck_assert_uint_eq(h.mode & 07777, 0751);
		ck_assert_int_eq(h.mtime_ns, 42000000000ll);
		ck_assert_int_eq(h.atime_ns, 1234567890123456789ll);
		ck_assert(!h.owned);
		ct0 = h.ctime_ns;
		check_get("test", "ver/meta", 1, 10);
		/* atime alone; a group alone keeps the stored uid and
		 * makes the object owned. */
		ck_assert_int_eq(
		    ais_client_set_meta(
			C, "test", "ver/meta",
			&(struct ais_meta_change){.atime_ns = &at, .gid = &gid},
			&m, msg),
		    0);
		ck_assert_int_eq(
		    ais_client_head(C, "test", "ver/meta", &h, msg), 0);
		ck_assert_int_eq(h.atime_ns, at);
		ck_assert_int_eq(h.mtime_ns, 42000000000ll);
		ck_assert(h.owned);
		ck_assert_uint_eq(h.gid, 4242);
		ck_assert_int_ge(h.ctime_ns, ct0);
	}
}
END_TEST

START_TEST(test_empty_object)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta h;

	ck_assert_int_eq(put_gen("test", "empty", 1, 0, 1, NULL, NULL, msg), 0);
	ck_assert_int_eq(ais_client_head(C, "test", "empty", &h, msg), 0);
	ck_assert_uint_eq(h.size, 0);
	ck_assert_str_eq(h.cksum, "2d06800538d394c2"); /* XXH3 of "" */
	check_get("test", "empty", 1, 0);
}
END_TEST

/* The owner of bucket/name according to the nodes' own map. */
static struct ais_map *cluster_map(void)
{
	struct ais_cluster_info *ci = NULL;
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_map *m = ais_map_new();

	ck_assert_int_eq(ais_client_cluster_info(C, &ci, msg), 0);
	ck_assert_uint_eq(ci->n_nodes, 3);
	for (size_t i = 0; i < ci->n_nodes; i++) {
		struct ais_node n;

		memset(&n, 0, sizeof(n));
		snprintf(n.id, sizeof(n.id), "%s", ci->nodes[i].id);
		snprintf(n.host, sizeof(n.host), "%s", ci->nodes[i].host);
		n.port = ci->nodes[i].port;
		n.state = ci->nodes[i].state;
		ck_assert_int_eq(ci->nodes[i].status, 0);
		ais_map_add(m, &n);
	}
	ais_cluster_info_free(ci);
	return m;
}

/* Finds names "prefix-K" such that the owner of the second is (same) or is
 * not (!same) the owner of the first. */
static void pick_pair(struct ais_map *m, const char *prefix, bool same, char *a,
		      char *b, size_t len)
{
	const struct ais_node *oa;

	snprintf(a, len, "%s-src", prefix);
	oa = ais_map_owner(m, "test", a);
	ck_assert_ptr_nonnull(oa);
	for (int k = 0; k < 1000; k++) {
		const struct ais_node *ob;

		snprintf(b, len, "%s-dst-%d", prefix, k);
		ob = ais_map_owner(m, "test", b);
		if ((strcmp(oa->id, ob->id) == 0) == same)
			return;
	}
	ck_abort_msg("no name pair found");
}

static void check_rename(struct ais_map *map, bool same)
{
	char a[64], b[64], msg[AIS_ERRMSG_LEN] = "";
	struct ais_put_opts o;
	struct ais_obj_meta h;
	struct ais_list_page pg;
	int rc;

	pick_pair(map, same ? "mv/same" : "mv/cross", same, a, b, sizeof(a));
	memset(&o, 0, sizeof(o));
	o.mode = 0640;
	o.mtime_ns = 1600000000000000000ll;
	ck_assert_int_eq(
	    put_gen("test", a, 4242, 3 * MiB + 1, 0, &o, NULL, msg), 0);
	rc = ais_client_rename(C, "test", a, b, false, msg);
	ck_assert_msg(rc == 0, "rename %s -> %s: %d %s", a, b, rc, msg);
	ck_assert_int_eq(ais_client_head(C, "test", a, &h, msg), -ENOENT);
	check_get("test", b, 4242, 3 * MiB + 1);
	ck_assert_int_eq(ais_client_head(C, "test", b, &h, msg), 0);
	ck_assert_uint_eq(h.mode & 07777, 0640);
	ck_assert_int_eq(h.mtime_ns, 1600000000000000000ll);

	/* The listing shows the new name only. */
	ck_assert_int_eq(ais_client_list(C, "test",
					 same ? "mv/same" : "mv/cross", NULL,
					 NULL, 0, &pg, msg),
			 0);
	ck_assert_uint_eq(pg.n, 1);
	ck_assert_str_eq(pg.entries[0].name, b);
	ais_list_page_free(&pg);

	/* Back onto an existing name: no_overwrite refuses, keeps both. */
	ck_assert_int_eq(put_gen("test", a, 99, 100, 1, NULL, NULL, msg), 0);
	ck_assert_int_eq(ais_client_rename(C, "test", b, a, true, msg),
			 -EEXIST);
	check_get("test", a, 99, 100);
	check_get("test", b, 4242, 3 * MiB + 1);
	/* Without it, the target is replaced. */
	ck_assert_int_eq(ais_client_rename(C, "test", b, a, false, msg), 0);
	check_get("test", a, 4242, 3 * MiB + 1);
	ck_assert_int_eq(ais_client_head(C, "test", b, &h, msg), -ENOENT);
}

START_TEST(test_rename)
{
	struct ais_map *map = cluster_map();
	char msg[AIS_ERRMSG_LEN] = "";

	check_rename(map, true);
	check_rename(map, false);
	ck_assert_int_eq(
	    ais_client_rename(C, "test", "mv/none", "mv/other", false, msg),
	    -ENOENT);
	ais_map_free(map);
}
END_TEST

START_TEST(test_delete)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta h;
	struct ais_list_page pg;
	struct ais_test_verify v;

	ck_assert_int_eq(
	    put_gen("test", "del/sub/deep/x", 5, 100, 1, NULL, NULL, msg), 0);
	ck_assert_int_eq(
	    put_gen("test", "del/keep", 6, 100, 1, NULL, NULL, msg), 0);
	ck_assert_int_eq(ais_client_delete(C, "test", "del/sub/deep/x", msg),
			 0);
	ck_assert_int_eq(ais_client_head(C, "test", "del/sub/deep/x", &h, msg),
			 -ENOENT);
	ais_test_verify_init(&v, 5, 0);
	ck_assert_int_eq(ais_client_get_cb(C, "test", "del/sub/deep/x", 0, 0,
					   ais_test_verify_write, &v, NULL,
					   msg),
			 -ENOENT);
	ck_assert_int_eq(ais_client_delete(C, "test", "del/sub/deep/x", msg),
			 -ENOENT);
	/* Neither the object nor its now-empty "directories" are listed. */
	ck_assert_int_eq(
	    ais_client_list(C, "test", "del/", "/", NULL, 0, &pg, msg), 0);
	ck_assert_uint_eq(pg.n, 1);
	ck_assert_str_eq(pg.entries[0].name, "del/keep");
	ais_list_page_free(&pg);
	ck_assert_int_eq(
	    ais_client_list(C, "test", "del/", NULL, NULL, 0, &pg, msg), 0);
	ck_assert_uint_eq(pg.n, 1);
	ais_list_page_free(&pg);
	check_get("test", "del/keep", 6, 100);
	/* The name can be used again, even as a directory now. */
	ck_assert_int_eq(put_gen("test", "del/sub", 7, 10, 1, NULL, NULL, msg),
			 0);
	check_get("test", "del/sub", 7, 10);
}
END_TEST

/* "a" and "a/b" cannot both exist, whichever comes first, and the first
 * one is left intact (DESIGN.md, "Storage on a node"). Checked with names
 * placed on the same node and on different nodes. */
static void check_conflicts(bool same)
{
	struct ais_map *map = cluster_map();
	char msg[AIS_ERRMSG_LEN] = "";
	char file[64], child[128], dir[64], dchild[128];
	const char *tag = same ? "same" : "cross";
	int rc, k;

	for (k = 0; k < 1000; k++) {
		snprintf(file, sizeof(file), "cf-%s/f%d", tag, k);
		snprintf(child, sizeof(child), "%s/child", file);
		if ((strcmp(ais_map_owner(map, "test", file)->id,
			    ais_map_owner(map, "test", child)->id) == 0) ==
		    same)
			break;
	}
	for (k = 0; k < 1000; k++) {
		snprintf(dir, sizeof(dir), "cf-%s/d%d", tag, k);
		snprintf(dchild, sizeof(dchild), "%s/child", dir);
		if ((strcmp(ais_map_owner(map, "test", dir)->id,
			    ais_map_owner(map, "test", dchild)->id) == 0) ==
		    same)
			break;
	}
	ais_map_free(map);

	ck_assert_int_eq(put_gen("test", file, 1, 10, 1, NULL, NULL, msg), 0);
	rc = put_gen("test", child, 2, 10, 1, NULL, NULL, msg);
	ck_assert_msg(rc == -ENOTDIR,
		      "PUT %s under object %s (%s node): %d, want -ENOTDIR",
		      child, file, tag, rc);
	check_get("test", file, 1, 10);

	ck_assert_int_eq(put_gen("test", dchild, 3, 10, 1, NULL, NULL, msg), 0);
	rc = put_gen("test", dir, 4, 10, 1, NULL, NULL, msg);
	ck_assert_msg(rc == -EISDIR,
		      "PUT %s onto a directory with %s (%s node): %d, want "
		      "-EISDIR",
		      dir, dchild, tag, rc);
	check_get("test", dchild, 3, 10);
	/* The connection pool survived the early rejections. */
	check_get("test", file, 1, 10);
}

START_TEST(test_name_conflicts_same_node)
{
	check_conflicts(true);
}
END_TEST

START_TEST(test_name_conflicts_across_nodes)
{
	check_conflicts(false);
}
END_TEST

START_TEST(test_bad_names)
{
	static const char *const bad[] = {"..",	  "a/../b", "a//b",
					  "/abs", "trail/", ""};
	char msg[AIS_ERRMSG_LEN];
	struct ais_obj_meta h;
	char longname[1100];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		msg[0] = '\0';
		rc = put_gen("test", bad[i], 1, 10, 1, NULL, NULL, msg);
		ck_assert_msg(rc == -EINVAL, "PUT \"%s\": %d, want -EINVAL",
			      bad[i], rc);
		ck_assert_msg(msg[0] != '\0', "PUT \"%s\": no message", bad[i]);
		ck_assert_int_eq(ais_client_head(C, "test", bad[i], &h, msg),
				 -EINVAL);
	}
	memset(longname, 'n', 1025);
	longname[1025] = '\0';
	ck_assert_int_eq(put_gen("test", longname, 1, 10, 1, NULL, NULL, msg),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(test_buckets)
{
	char msg[AIS_ERRMSG_LEN] = "";
	char **names = NULL;
	size_t n = 0;
	struct ais_obj_meta h;
	struct ais_list_page pg;
	int rc;

	ck_assert_int_eq(ais_client_bucket_create(C, "bk-two", msg), 0);
	ck_assert_int_eq(ais_client_bucket_create(C, "bk-one", msg), 0);
	ck_assert_int_eq(ais_client_bucket_create(C, "bk-one", msg), -EEXIST);
	ck_assert_int_eq(ais_client_bucket_head(C, "bk-one", msg), 0);
	ck_assert_int_eq(ais_client_bucket_list(C, &names, &n, msg), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(names[0], "bk-one");
	ck_assert_str_eq(names[1], "bk-two");
	ck_assert_str_eq(names[2], "test");
	ck_assert_ptr_null(names[3]);
	ais_strv_free(names);

	/* Objects in one bucket are not seen in another. */
	ck_assert_int_eq(put_gen("bk-one", "x", 1, 100, 1, NULL, NULL, msg), 0);
	ck_assert_int_eq(ais_client_head(C, "bk-two", "x", &h, msg), -ENOENT);
	for (int i = 0; i < 20; i++) {
		char nm[32];

		snprintf(nm, sizeof(nm), "o%d", i);
		ck_assert_int_eq(
		    put_gen("bk-one", nm, 1, 10, 1, NULL, NULL, msg), 0);
	}
	/* Destroy removes the bucket and its objects on every node. */
	ck_assert_int_eq(ais_client_bucket_destroy(C, "bk-one", msg), 0);
	ck_assert_int_eq(ais_client_bucket_head(C, "bk-one", msg), -ENOENT);
	ck_assert_int_eq(ais_client_bucket_destroy(C, "bk-one", msg), -ENOENT);
	ck_assert_int_eq(ais_client_head(C, "bk-one", "x", &h, msg), -ENOENT);
	ck_assert_int_eq(ais_client_bucket_list(C, &names, &n, msg), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "bk-two");
	ais_strv_free(names);
	/* Re-created, it is empty. */
	ck_assert_int_eq(ais_client_bucket_create(C, "bk-one", msg), 0);
	ck_assert_int_eq(
	    ais_client_list(C, "bk-one", NULL, NULL, NULL, 0, &pg, msg), 0);
	ck_assert_uint_eq(pg.n, 0);
	ais_list_page_free(&pg);
	ck_assert_int_eq(ais_client_bucket_destroy(C, "bk-one", msg), 0);
	ck_assert_int_eq(ais_client_bucket_destroy(C, "bk-two", msg), 0);

	/* Bad names never reach the disk. */
	rc = ais_client_bucket_create(C, "Bad/Name", msg);
	ck_assert_msg(rc == -EINVAL, "create Bad/Name: %d", rc);
	rc = ais_client_bucket_create(C, "..", msg);
	ck_assert_msg(rc == -EINVAL, "create ..: %d", rc);
}
END_TEST

START_TEST(test_missing)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta h;
	struct ais_list_page pg;
	struct ais_test_verify v;
	int rc;

	msg[0] = '\0';
	rc = ais_client_head(C, "test", "no/such/object", &h, msg);
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_msg(msg[0] != '\0', "no message for a missing object");
	ais_test_verify_init(&v, 1, 0);
	ck_assert_int_eq(ais_client_get_cb(C, "test", "no/such/object", 0, 0,
					   ais_test_verify_write, &v, NULL,
					   msg),
			 -ENOENT);
	ck_assert_uint_eq(v.got, 0);
	/* A missing bucket. */
	ck_assert_int_eq(ais_client_head(C, "nobucket", "x", &h, msg), -ENOENT);
	ck_assert_int_eq(ais_client_get_cb(C, "nobucket", "x", 0, 0,
					   ais_test_verify_write, &v, NULL,
					   msg),
			 -ENOENT);
	rc = put_gen("nobucket", "x", 1, 4 * MiB, 0, NULL, NULL, msg);
	ck_assert_msg(rc == -ENOENT, "PUT into a missing bucket: %d %s", rc,
		      msg);
	ck_assert_int_eq(
	    ais_client_list(C, "nobucket", NULL, NULL, NULL, 0, &pg, msg),
	    -ENOENT);
	ck_assert_int_eq(ais_client_delete(C, "nobucket", "x", msg), -ENOENT);
	ck_assert_int_eq(ais_client_bucket_head(C, "nobucket", msg), -ENOENT);
	/* The client still works after all those errors. */
	ck_assert_int_eq(
	    put_gen("test", "after-errors", 3, 100, 0, NULL, NULL, msg), 0);
	check_get("test", "after-errors", 3, 100);
}
END_TEST

/* A PUT source that stops early: returns 0 (EOF) or an error at `stop`. */
struct short_src {
	struct ais_test_gen g;
	uint64_t stop;
	int err; /* 0: EOF at stop, else -err */
};

static ssize_t short_read(void *arg, void *buf, size_t len)
{
	struct short_src *s = arg;

	if (s->g.off >= s->stop)
		return s->err ? s->err : 0;
	if (len > s->stop - s->g.off)
		len = (size_t)(s->stop - s->g.off);
	return ais_test_gen_read(&s->g, buf, len);
}

/* No work files left in any node's .ais/tmp (waiting up to 5 s). */
static void check_no_tmp_files(void)
{
	char pat[PATH_MAX + 64];
	size_t left = 0;

	snprintf(pat, sizeof(pat), "%s/node*/*/.ais/tmp/*", tc.cluster_dir);
	for (int tries = 0; tries < 50; tries++) {
		glob_t g;

		left = 0;
		if (glob(pat, 0, NULL, &g) == 0) {
			left = g.gl_pathc;
			globfree(&g);
		}
		if (left == 0)
			return;
		usleep(100000);
	}
	ck_abort_msg("%zu work files left in .ais/tmp", left);
}

static int abort_sink(void *arg, const void *buf, size_t len)
{
	uint64_t *n = arg;

	(void)buf;
	*n += len;
	return *n > 300000 ? -ECANCELED : 0;
}

START_TEST(test_aborted_transfers)
{
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta h;
	int rc;

	ck_assert_int_eq(
	    put_gen("test", "abort/old", 11, 2 * MiB, 0, NULL, NULL, msg), 0);
	/* A source that ends early: the PUT fails, nothing is committed. */
	{
		struct short_src s = {.g = {.seed = 12, .size = 8 * MiB},
				      .stop = 3 * MiB};

		rc = ais_client_put_cb(C, "test", "abort/old", 8 * MiB,
				       short_read, &s, NULL, NULL, msg);
		ck_assert_msg(rc == -EIO, "short source: %d %s", rc, msg);
		s.g.off = 0;
		rc = ais_client_put_cb(C, "test", "abort/new", 8 * MiB,
				       short_read, &s, NULL, NULL, msg);
		ck_assert_msg(rc == -EIO, "short source: %d %s", rc, msg);
	}
	/* A source that fails: its error comes back. */
	{
		struct short_src s = {.g = {.seed = 13, .size = 8 * MiB},
				      .stop = 5 * MiB,
				      .err = -ENOLINK};

		rc = ais_client_put_cb(C, "test", "abort/old", 8 * MiB,
				       short_read, &s, NULL, NULL, msg);
		ck_assert_msg(rc == -ENOLINK, "failing source: %d %s", rc, msg);
	}
	ck_assert_int_eq(ais_client_head(C, "test", "abort/old", &h, msg), 0);
	ck_assert_uint_eq(h.version, 1);
	check_get("test", "abort/old", 11, 2 * MiB);
	ck_assert_int_eq(ais_client_head(C, "test", "abort/new", &h, msg),
			 -ENOENT);
	check_no_tmp_files();

	/* A GET whose sink gives up: that error, and the client goes on. */
	{
		uint64_t n = 0;

		rc = ais_client_get_cb(C, "test", "abort/old", 0, 0, abort_sink,
				       &n, NULL, msg);
		ck_assert_msg(rc == -ECANCELED, "aborted GET: %d %s", rc, msg);
	}
	check_get("test", "abort/old", 11, 2 * MiB);
}
END_TEST

/* ---- concurrency: one client shared by many threads (as aisfs does) --- */

#define NTHREADS   8
#define PER_THREAD 40

struct worker {
	pthread_t th;
	int id;
	int rc;
	char err[AIS_ERRMSG_LEN + 64];
	uint64_t versions[PER_THREAD];
};

/* Each thread PUTs and GETs its own objects, and also overwrites one
 * shared name over and over. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char msg[AIS_ERRMSG_LEN] = "";

	for (int i = 0; i < PER_THREAD && w->rc == 0; i++) {
		char name[64];
		uint64_t seed = (uint64_t)(w->id * 1000 + i);
		uint64_t size = (uint64_t)(i * 7919 % 300000);
		struct ais_test_gen g = {.seed = seed, .size = size};
		struct ais_test_verify v;
		struct ais_obj_meta m;
		int rc;

		snprintf(name, sizeof(name), "mt/t%d/o%d", w->id, i);
		rc = ais_client_put_cb(C, "test", name, size, ais_test_gen_read,
				       &g, NULL, NULL, msg);
		if (rc == 0) {
			ais_test_verify_init(&v, seed, 0);
			rc = ais_client_get_cb(C, "test", name, 0, 0,
					       ais_test_verify_write, &v, NULL,
					       msg);
			if (rc == 0 && (v.got != size || v.bad_at >= 0))
				rc = -EILSEQ;
		}
		if (rc != 0) {
			w->rc = rc;
			snprintf(w->err, sizeof(w->err), "%s: %d %.200s", name,
				 rc, msg);
			break;
		}
		/* The shared name: 64 KiB of this thread's stream. */
		g.seed = 777000 + (uint64_t)w->id;
		g.off = 0;
		g.size = 65536;
		rc = ais_client_put_cb(C, "test", "mt/shared", g.size,
				       ais_test_gen_read, &g, NULL, &m, msg);
		if (rc != 0) {
			w->rc = rc;
			snprintf(w->err, sizeof(w->err), "shared: %d %s", rc,
				 msg);
			break;
		}
		w->versions[i] = m.version;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_concurrent_clients)
{
	static struct worker w[NTHREADS];
	static uint64_t all[NTHREADS * PER_THREAD];
	char msg[AIS_ERRMSG_LEN] = "";
	struct ais_obj_meta h;
	size_t n = 0;
	bool matched = false;

	for (int t = 0; t < NTHREADS; t++) {
		memset(&w[t], 0, sizeof(w[t]));
		w[t].id = t;
		ck_assert_int_eq(
		    pthread_create(&w[t].th, NULL, worker_main, &w[t]), 0);
	}
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(w[t].th, NULL);
	for (int t = 0; t < NTHREADS; t++) {
		ck_assert_msg(w[t].rc == 0, "thread %d: %s", t, w[t].err);
		for (int i = 0; i < PER_THREAD; i++)
			all[n++] = w[t].versions[i];
	}
	/* Concurrent overwrites of one name: every PUT got its own version,
	 * 1..N without gaps or duplicates. */
	qsort(all, n, sizeof(all[0]), cmp_u64);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(all[i] == i + 1,
			      "versions of concurrent PUTs: position %zu is "
			      "%llu",
			      i, (unsigned long long)all[i]);
	ck_assert_int_eq(ais_client_head(C, "test", "mt/shared", &h, msg), 0);
	ck_assert_uint_eq(h.version, n);
	/* The survivor is one whole write, not a mix. */
	for (int t = 0; t < NTHREADS && !matched; t++) {
		char want[AIS_CKSUM_HEX_MAX];

		ais_test_stream_cksum(777000 + (uint64_t)t, 65536, want);
		matched = strcmp(want, h.cksum) == 0;
	}
	ck_assert_msg(matched, "mt/shared is none of the written versions");
	{
		struct ais_test_verify v;
		int t;

		for (t = 0; t < NTHREADS; t++) {
			char want[AIS_CKSUM_HEX_MAX];

			ais_test_stream_cksum(777000 + (uint64_t)t, 65536,
					      want);
			if (strcmp(want, h.cksum) == 0)
				break;
		}
		ais_test_verify_init(&v, 777000 + (uint64_t)t, 0);
		ck_assert_int_eq(ais_client_get_cb(C, "test", "mt/shared", 0, 0,
						   ais_test_verify_write, &v,
						   NULL, msg),
				 0);
		ck_assert_int_lt(v.bad_at, 0);
		ck_assert_uint_eq(v.got, 65536);
	}
}
END_TEST

static Suite *objects_suite(void)
{
	Suite *s = suite_create("objects");
	TCase *tc_ = tcase_create("objects");

	tcase_add_test(tc_, test_round_trip_1000);
	tcase_add_test(tc_, test_ranges);
	tcase_add_test(tc_, test_overwrite_versions);
	tcase_add_test(tc_, test_empty_object);
	tcase_add_test(tc_, test_rename);
	tcase_add_test(tc_, test_delete);
	tcase_add_test(tc_, test_name_conflicts_same_node);
	tcase_add_test(tc_, test_name_conflicts_across_nodes);
	tcase_add_test(tc_, test_bad_names);
	tcase_add_test(tc_, test_buckets);
	tcase_add_test(tc_, test_missing);
	tcase_add_test(tc_, test_aborted_transfers);
	tcase_add_test(tc_, test_concurrent_clients);
	suite_add_tcase(s, tc_);
	return s;
}

int main(void)
{
	return ais_test_main(&tc, "objects", 3, objects_suite());
}
