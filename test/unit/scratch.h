/* What the daemon's unit tests share: one scratch directory per program
 * (under $TMPDIR or /tmp), made by scratch_init, which also checks that its
 * file system takes user xattrs (the store keeps every object's metadata in
 * "user.ais") and skips the whole program (exit 77) when it does not; a
 * fresh subdirectory per test case; and removal. A case removes its own
 * directory at its end; scratch_finish removes the program's, so that a
 * failed case (which exits before its clean-up) leaves nothing behind. */
#ifndef AIS_TEST_UNIT_SCRATCH_H
#define AIS_TEST_UNIT_SCRATCH_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

static char scratch_root[PATH_MAX];

/* Makes the program's scratch directory, or exits: 77 (skipped) if user
 * xattrs cannot be set there, 1 if the directory cannot be made. */
static inline void scratch_init(const char *prog)
{
	const char *tmp = getenv("TMPDIR");
	char probe[PATH_MAX + 16];
	int fd;

	/* As aisd's main does: the daemon's code writes answers with
	 * sendfile(2), which raises SIGPIPE when a peer has gone. */
	signal(SIGPIPE, SIG_IGN);
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(scratch_root, sizeof(scratch_root), "%s/ais-unit-%s.XXXXXX",
		 tmp, prog);
	if (!mkdtemp(scratch_root)) {
		fprintf(stderr, "%s: mkdtemp %s: %s\n", prog, scratch_root,
			strerror(errno));
		exit(1);
	}
	snprintf(probe, sizeof(probe), "%s/xattr-probe", scratch_root);
	fd = open(probe, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot create %s: %s\n", prog, probe,
			strerror(errno));
		ais_rm_rf(scratch_root);
		exit(1);
	}
	if (fsetxattr(fd, "user.ais.probe", "1", 1, 0) < 0) {
		fprintf(stderr,
			"%s: SKIP: cannot set a user xattr in %s (%s): the "
			"store keeps object metadata in the user.ais xattr; "
			"point TMPDIR at a file system with user xattrs\n",
			prog, tmp, strerror(errno));
		close(fd);
		ais_rm_rf(scratch_root);
		exit(77);
	}
	close(fd);
	unlink(probe);
}

/* A fresh directory for one test case into buf (PATH_MAX bytes). */
static inline void scratch_dir(char *buf, const char *tag)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s.XXXXXX", scratch_root, tag);

	ck_assert_int_lt(n, PATH_MAX);
	ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp %s: %s", buf,
		      strerror(errno));
}

/* A fresh directory below parent (PATH_MAX bytes into buf). */
static inline void scratch_subdir(char *buf, const char *parent,
				  const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", parent, name);

	ck_assert_int_lt(n, PATH_MAX);
	ck_assert_msg(mkdir(buf, 0755) == 0, "mkdir %s: %s", buf,
		      strerror(errno));
}

static inline void scratch_rm(const char *path)
{
	ck_assert_int_eq(ais_rm_rf(path), 0);
}

static inline void scratch_finish(void)
{
	if (scratch_root[0])
		ais_rm_rf(scratch_root);
}

/* Runs suite s, removes the scratch directory, and gives main's exit code.
 */
static inline int scratch_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	scratch_finish();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Writes a whole file at path (mode 0644). */
static inline void scratch_write_file(const char *path, const void *buf,
				      size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(ais_write_all(fd, buf, len), 0);
	close(fd);
}

/* The number of entries of directory path, "." and ".." aside; -1 if it
 * cannot be opened. */
static inline int scratch_count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* The number of open file descriptors of the process: equal before and
 * after a case that must not leak any. */
static inline int scratch_open_fds(void)
{
	return scratch_count_entries("/proc/self/fd");
}

/* Fills buf with bytes that depend on seed and on the position, so that
 * a shifted, truncated or mixed-up copy never compares equal. */
static inline void scratch_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* ---- a store over scratch mountpaths ---------------------------------- */

#include "objmeta.h"
#include "store/bucket.h"
#include "store/store.h"

#define SCRATCH_MP_MAX 4

/* A store over n fresh mountpaths with one bucket, and the number of open
 * descriptors before it (as many must be open after it is freed). */
struct scratch_store {
	char dir[PATH_MAX];
	char mp[SCRATCH_MP_MAX][PATH_MAX];
	char *paths[SCRATCH_MP_MAX];
	struct store *st;
	int fds;
};

static inline void scratch_store_open(struct scratch_store *f, const char *tag,
				      int n, const char *bucket)
{
	char name[16], msg[AIS_ERRMSG_LEN] = "";
	int i, rc;

	ck_assert_int_le(n, SCRATCH_MP_MAX);
	memset(f, 0, sizeof(*f));
	f->fds = scratch_open_fds();
	scratch_dir(f->dir, tag);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "mp%d", i);
		scratch_subdir(f->mp[i], f->dir, name);
		f->paths[i] = f->mp[i];
	}
	rc = store_new(f->paths, (size_t)n, &f->st, msg);
	ck_assert_msg(rc == 0, "store_new: %d %s", rc, msg);
	rc = bucket_create(f->st, bucket, msg);
	ck_assert_msg(rc == 0, "bucket_create: %d %s", rc, msg);
}

/* Frees the store, checks that no descriptor leaked, removes it all. */
static inline void scratch_store_close(struct scratch_store *f)
{
	store_free(f->st);
	ck_assert_int_eq(scratch_open_fds(), f->fds);
	scratch_rm(f->dir);
}

/* Asserts that every field of got equals want's. */
static inline void assert_meta_eq(const struct ais_obj_meta *got,
				  const struct ais_obj_meta *want,
				  const char *what)
{
	ck_assert_msg(got->size == want->size, "%s: size %llu, want %llu", what,
		      (unsigned long long)got->size,
		      (unsigned long long)want->size);
	ck_assert_msg(got->cksum_type == want->cksum_type,
		      "%s: cksum_type %d, want %d", what, got->cksum_type,
		      want->cksum_type);
	ck_assert_msg(!strcmp(got->cksum, want->cksum),
		      "%s: cksum \"%s\", want \"%s\"", what, got->cksum,
		      want->cksum);
	ck_assert_msg(got->version == want->version,
		      "%s: version %llu, want %llu", what,
		      (unsigned long long)got->version,
		      (unsigned long long)want->version);
	ck_assert_msg(got->mtime_ns == want->mtime_ns,
		      "%s: mtime_ns %lld, want %lld", what,
		      (long long)got->mtime_ns, (long long)want->mtime_ns);
	ck_assert_msg(got->mode == want->mode, "%s: mode %o, want %o", what,
		      got->mode, want->mode);
	ck_assert_msg(got->uid == want->uid, "%s: uid %u, want %u", what,
		      got->uid, want->uid);
	ck_assert_msg(got->gid == want->gid, "%s: gid %u, want %u", what,
		      got->gid, want->gid);
}

/* ---- a real one-node cluster ------------------------------------------ */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "aisd.h"
#include "cluster/cluster.h"
#include "rpc/rpc.h"

/* A loopback port nothing listens on now (bound, read, released). */
static inline uint16_t scratch_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Makes d->cluster a started one-node cluster of self (id, host, port):
 * Raft on a free loopback port, its state in DIR/raft, d's buckets
 * following the table, and bucket (if not NULL) created through it.
 * d->peers must exist. Returns once the node is in its own map. */
static inline void scratch_cluster_up(struct aisd *d,
				      const struct ais_node *self,
				      const char *dir, const char *bucket)
{
	char raft_dir[PATH_MAX + 8], msg[AIS_ERRMSG_LEN] = "";
	struct cluster_opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.self = *self;
	snprintf(o.self.raft_addr, sizeof(o.self.raft_addr), "127.0.0.1:%u",
		 scratch_free_port());
	snprintf(raft_dir, sizeof(raft_dir), "%s/raft", dir);
	o.raft_dir = raft_dir;
	rc = cluster_new(&o, d->peers, &d->cluster, msg);
	ck_assert_msg(rc == 0, "cluster_new: %d %s", rc, msg);
	cluster_on_change(d->cluster, rpc_buckets_follow, d);
	rc = cluster_start(d->cluster, msg);
	ck_assert_msg(rc == 0, "cluster_start: %d %s", rc, msg);
	ck_assert_int_eq(cluster_wait_joined(d->cluster, 15000), 0);
	if (bucket) {
		rc = cluster_bucket_create(d->cluster, bucket, 0, msg);
		ck_assert_msg(rc == 0 || rc == -EEXIST, "bucket: %d %s", rc,
			      msg);
		ck_assert(store_bucket_exists(d->store, bucket));
	}
}

static inline void scratch_cluster_down(struct aisd *d)
{
	cluster_stop(d->cluster);
	cluster_free(d->cluster);
	d->cluster = NULL;
	ais_strv_free(d->buckets_seen);
	free(d->buckets_seen_created);
	d->buckets_seen = NULL;
	d->buckets_seen_created = NULL;
	d->nbuckets_seen = 0;
}

#endif
