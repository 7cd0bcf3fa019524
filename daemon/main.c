/* aisd: the aisfs storage node daemon. Start-up, configuration, and the
 * orderly stop; the work happens in the subsystems of libaisd (aisd.h):
 * net/ (loop), rpc/ (requests), store/ (disk), shard/ (shards) and
 * cluster/ (the map, by Raft). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ais_config.h"
#include "log.h"
#include "names.h"
#include "tls.h"
#include "util.h"

#include "aisd.h"
#include "cluster/cluster.h"
#include "cluster/peer.h"
#include "etl/etl.h"
#include "job/job.h"
#include "lease/lease.h"
#include "net/net.h"
#include "s3/s3.h"
#include "notify.h"
#include "opts.h"
#include "shard/append.h"
#include "shard/shard.h"
#include "move/move.h"
#include "rpc/rpc.h"
#include "store/bucket.h"
#include "store/store.h"

/* Returns the open file limit now (0: unknown). */
static uint64_t raise_nofile(void)
{
	uint64_t lim;
	int rc = ais_raise_nofile(&lim);

	if (rc)
		ais_log(LOG_WARNING, "cannot raise RLIMIT_NOFILE: %s",
			strerror(-rc));
	if (lim && lim < 4096)
		ais_log(LOG_WARNING,
			"open file limit is %llu: few connections possible",
			(unsigned long long)lim);
	return lim;
}

/* The open cache (store/opencache.h) as configured, within half the open
 * file limit: connections and workers keep the other half. */
static void open_cache(struct store *st, const struct aisd_opts *o,
		       uint64_t nofile)
{
	size_t cap = o->open_cache;

	if (nofile && cap > nofile / 2)
		cap = (size_t)(nofile / 2);
	if (store_open_cache(st, cap))
		ais_log(LOG_WARNING, "out of memory for the open cache: off");
	else if (cap < o->open_cache)
		ais_log(LOG_NOTICE,
			"open cache: %zu objects (half the open file limit), "
			"not %u",
			cap, o->open_cache);
}

/* The address other nodes and clients use to reach us. */
static void pick_advertise(const struct aisd_opts *o, char *out, size_t len)
{
	struct ifaddrs *ifs, *i;

	if (o->advertise) {
		snprintf(out, len, "%s", o->advertise);
		return;
	}
	if (strcmp(o->listen, "0.0.0.0") && strcmp(o->listen, "::")) {
		snprintf(out, len, "%s", o->listen);
		ais_log(LOG_INFO, "advertising the listen address %s", out);
		return;
	}
	snprintf(out, len, "127.0.0.1");
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
			    (i->ifa_flags & IFF_LOOPBACK) ||
			    !(i->ifa_flags & IFF_UP))
				continue;
			inet_ntop(
			    AF_INET,
			    &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out,
			    (socklen_t)len);
			ais_log(LOG_INFO,
				"advertising %s (first non-loopback IPv4 of "
				"%s; set --advertise to change)",
				out, i->ifa_name);
			freeifaddrs(ifs);
			return;
		}
		freeifaddrs(ifs);
	}
	ais_log(LOG_INFO, "advertising 127.0.0.1 (no other IPv4 address)");
}

/* A node that left the map (decommissioned: its data moved away; or
 * removed) has nothing to serve: it stops as if told to. */
static void stop_when_removed(void *arg, struct cluster_map *cm)
{
	(void)arg;
	if (cm->self_removed) {
		ais_log(LOG_NOTICE, "this node left the cluster; stopping");
		kill(getpid(), SIGTERM);
	}
}

/* Placement changes start (or supersede) this node's rebalance. */
static void follow_placement(void *arg, struct cluster_map *cm)
{
	move_on_map(arg, cm);
}

/* Worker transforms start, stop and restart with the cluster's table;
 * offline jobs start and stop with theirs. */
static void follow_etls(void *arg, struct cluster_map *cm)
{
	struct aisd *d = arg;

	etl_follow(d->etl, cm->etls, cm->netls);
	if (d->jobs)
		jobs_follow(d->jobs, cm);
}

struct ready {
	struct aisd *d;
	const char *raft_dir;
	int threads;
};

/* The start-up line, and readiness for systemd. */
static void announce(const struct ready *r)
{
	const struct aisd_opts *o = r->d->opts;
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct mpset *mps = r->d->store->mps;
	char status[512];
	size_t i, off;

	off = (size_t)snprintf(status, sizeof(status), "node %s on %s:%u,",
			       self->id, self->host, self->port);
	for (i = 0; i < mps->n && off < sizeof(status); i++)
		off += (size_t)snprintf(status + off, sizeof(status) - off,
					" %s", mps->paths[i]);
	ais_log(LOG_NOTICE,
		"aisd %s listening on %s:%u, node %s (advertised %s:%u, Raft "
		"%s in %s), map v%llu, %zu mountpath%s:%s, %d threads",
		AIS_VERSION, o->listen, o->port, self->id, self->host,
		self->port, self->raft_addr, r->raft_dir,
		(unsigned long long)cluster_version(r->d->cluster), mps->n,
		mps->n == 1 ? "" : "s", strchr(status, ',') + 1, r->threads);
	if (o->config)
		ais_log(LOG_INFO, "configuration from %s", o->config);
	notify_ready(status);
}

static void *announce_when_joined(void *arg)
{
	struct ready *r = arg;
	unsigned waited = 0;

	for (;;) {
		int rc = cluster_wait_joined(r->d->cluster, 1000);

		if (rc == 0)
			break;
		if (cluster_stopping(r->d->cluster))
			return NULL;
		if (++waited == 30)
			ais_log(LOG_WARNING,
				"not in the cluster map after 30 s; still "
				"trying (see the messages above)");
	}
	announce(r);
	return NULL;
}

static int write_pidfile(const char *path)
{
	char buf[32];
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fputs(buf, f) == EOF || fclose(f) == EOF)
		return -EIO;
	return 0;
}

/* TLS from the three tls_* options: all or none. */
static int tls_setup(struct aisd *d, const struct aisd_opts *o, char *errmsg)
{
	struct ais_tls_files f = {o->tls_ca_file, o->tls_cert_file,
				  o->tls_key_file};
	char who[256];
	int rc;

	if (!o->tls_ca_file && !o->tls_cert_file && !o->tls_key_file) {
		ais_log(LOG_WARNING,
			"tls: OFF (no tls_ca_file): requests, tokens and "
			"data cross the network in clear text");
		return 0;
	}
	if (!o->tls_ca_file || !o->tls_cert_file || !o->tls_key_file)
		return ais_errf(errmsg, -EINVAL,
				"tls: tls_ca_file, tls_cert_file and "
				"tls_key_file go together (%s missing)",
				!o->tls_ca_file	    ? "tls_ca_file"
				: !o->tls_cert_file ? "tls_cert_file"
						    : "tls_key_file");
	rc = ais_tls_new(AIS_TLS_SERVER, &f, &d->tls_server, errmsg);
	if (!rc)
		rc = ais_tls_new(AIS_TLS_CLIENT, &f, &d->tls_client, errmsg);
	if (rc)
		return rc;
	ais_tls_describe(d->tls_server, who, sizeof(who));
	ais_log(LOG_NOTICE,
		"tls: on (TLS 1.3) on every port, as %s, with the CA of %s; "
		"only nodes with a certificate of that CA may join",
		who, o->tls_ca_file);
	return 0;
}

int main(int argc, char **argv)
{
	char errmsg[AIS_ERRMSG_LEN], threads[16];
	char raft_dir[4096];
	struct ready ready;
	pthread_t ready_thr;
	bool ready_started = false;
	char **local_buckets = NULL;
	char lease_stamp[4200];
	struct cluster_opts copts;
	struct aisd_opts o;
	struct aisd d;
	struct ais_auth_key auth_key;
	struct server *srv = NULL;
	struct s3 *s3 = NULL;
	uint64_t nofile;
	long ncpu;
	int rc, n, exit_code = 1;

	/* A node runs a hundred threads or more (I/O pools, peers); with an
	 * arena each (up to 8 per core) most of its heap was free memory
	 * held in arenas. Four arenas, and 1 MiB buffers always mapped. */
	mallopt(M_ARENA_MAX, 4);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	rc = aisd_opts_parse(&o, argc, argv);
	if (rc) {
		aisd_opts_free(&o);
		return rc > 0 ? 0 : 2;
	}
	ais_log_init("aisd", o.log_level);
	signal(SIGPIPE, SIG_IGN);
	/* Until the loop takes it (a TLS reload), a SIGHUP must not end the
	 * node while it starts. */
	signal(SIGHUP, SIG_IGN);
	nofile = raise_nofile();

	memset(&d, 0, sizeof(d));
	d.opts = &o;
	d.start_mono_ns = ais_now_mono_ns();
	if (o.auth_secret_file) {
		rc = ais_auth_key_load(o.auth_secret_file, &auth_key, errmsg);
		if (rc) {
			ais_log(LOG_ERR, "%s", errmsg);
			goto out;
		}
		d.auth_key = &auth_key;
		ais_log(LOG_NOTICE,
			"auth: on; every request needs a token signed with "
			"the key of %s (key id %s)",
			o.auth_secret_file, auth_key.kid);
	} else {
		ais_log(LOG_WARNING,
			"auth: OFF (no auth_secret_file): anyone who reaches "
			"port %u may read, write and delete every bucket",
			o.port);
	}
	rc = tls_setup(&d, &o, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}
	rc = store_new(o.mountpaths, o.nmountpaths, &d.store, errmsg);
	if (!rc && !o.verify_reads) {
		d.store->verify = false;
		ais_log(LOG_WARNING,
			"verify_reads = off: blocks read from disk are not "
			"checked against their checksums");
	}
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}
	open_cache(d.store, &o, nofile);
	snprintf(lease_stamp, sizeof(lease_stamp), "%s/.ais/leases",
		 d.store->mps->paths[0]);
	d.leases = leases_new(o.lease_ms, lease_stamp);
	if (!d.leases) {
		ais_log(LOG_ERR, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	snprintf(lease_stamp, sizeof(lease_stamp), "%s/.ais/tmp",
		 d.store->mps->paths[0]);
	rc = etl_new(o.etl_dir, o.etl_user, lease_stamp, o.etl_output_max,
		     &d.etl, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}
	rc = shards_new(d.store,
			shard_append_crash_parse(getenv("AISD_TEST_CRASH_AT")),
			&d.shards);
	if (rc) {
		ais_log(LOG_ERR, "cannot start the shard indexer: %s",
			strerror(-rc));
		goto out;
	}
	rc = shard_append_recover(d.shards, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}

	/* The threadpool reads this once, at the first queued work. */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	n = o.threads ? o.threads : (int)(8 * (ncpu > 0 ? ncpu : 1));
	if (!o.threads && n < 32)
		n = 32;
	snprintf(threads, sizeof(threads), "%d", n);
	setenv("UV_THREADPOOL_SIZE", threads, 1);

	memset(&copts, 0, sizeof(copts));
	snprintf(copts.self.id, sizeof(copts.self.id), "%s",
		 d.store->mps->node_id);
	pick_advertise(&o, copts.self.host, sizeof(copts.self.host));
	copts.self.port = o.port;
	snprintf(copts.self.raft_addr, sizeof(copts.self.raft_addr), "%s:%u",
		 copts.self.host, o.raft_port);
	copts.seeds = o.seeds;
	copts.nseeds = o.nseeds;
	copts.join = o.join;
	if (o.raft_dir)
		snprintf(raft_dir, sizeof(raft_dir), "%s", o.raft_dir);
	else
		snprintf(raft_dir, sizeof(raft_dir), "%s/.ais/raft",
			 d.store->mps->paths[0]);
	copts.raft_dir = raft_dir;
	copts.down_after_ms = o.down_after_ms;
	copts.auth_key = d.auth_key;
	copts.tls_server = d.tls_server;
	copts.tls_client = d.tls_client;
	rc =
	    bucket_list(d.store, &local_buckets, &copts.nlocal_buckets, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}
	copts.local_buckets = local_buckets;
	d.peers = peers_new(1000, 5000, 5000);
	d.probes = probes_new();
	if (!d.peers || !d.probes) {
		ais_log(LOG_ERR, "out of memory");
		goto out;
	}
	if (d.auth_key) {
		char name[AIS_USER_MAX + 2];

		snprintf(name, sizeof(name), "@%s", copts.self.id);
		peers_set_key(d.peers, d.auth_key, name);
	}
	peers_set_tls(d.peers, d.tls_client);
	rc = cluster_new(&copts, d.peers, &d.cluster, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}
	cluster_on_change(d.cluster, rpc_buckets_follow, &d);
	cluster_on_change(d.cluster, stop_when_removed, NULL);
	rc = move_new(&d, &d.move, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}
	cluster_on_change(d.cluster, follow_placement, d.move);
	rc = jobs_new(&d, &d.jobs, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}
	cluster_on_change(d.cluster, follow_etls, &d);
	rc = server_new(&d, o.listen, o.port, &srv, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}
	if (o.pidfile && (rc = write_pidfile(o.pidfile))) {
		ais_log(LOG_ERR, "pidfile %s: %s", o.pidfile, strerror(-rc));
		goto out;
	}
	rc = cluster_start(d.cluster, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out_pidfile;
	}
	rc = move_start(d.move);
	if (rc) {
		ais_log(LOG_ERR, "cannot start the rebalance thread: %s",
			strerror(-rc));
		cluster_stop(d.cluster);
		goto out_pidfile;
	}
	rc = jobs_start(d.jobs);
	if (rc) {
		ais_log(LOG_ERR, "cannot start the jobs thread: %s",
			strerror(-rc));
		move_stop(d.move);
		cluster_stop(d.cluster);
		goto out_pidfile;
	}
	/* The loop serves at once (a joining node answers its peers); the
	 * node is announced, and systemd told it is ready, once it is in
	 * the map. */
	ready.d = &d;
	ready.raft_dir = raft_dir;
	ready.threads = n;
	if (pthread_create(&ready_thr, NULL, announce_when_joined, &ready) == 0)
		ready_started = true;
	else
		announce(&ready);

	if (o.s3_port) {
		rc = s3_start(&d, &s3, errmsg);
		if (rc)
			ais_log(LOG_ERR, "%s; serving without it", errmsg);
	}
	rc = server_run(srv);
	s3_stop(s3);
	etl_shutdown(d.etl);
	jobs_stop(d.jobs);
	move_stop(d.move);
	cluster_stop(d.cluster);
	if (ready_started)
		pthread_join(ready_thr, NULL);
	if (rc == 0) {
		server_free(srv);
		srv = NULL;
	}
	ais_log(LOG_NOTICE, "stopped");
	exit_code = 0;
out_pidfile:
	if (o.pidfile)
		unlink(o.pidfile);
out:
	if (exit_code == 0 && srv) {
		/* Drain timed out: workers may still run; leave the rest to
		 * exit(). */
		exit(0);
	}
	jobs_free(d.jobs);
	move_free(d.move);
	shards_free(d.shards);
	if (d.cluster)
		cluster_free(d.cluster);
	peers_free(d.peers);
	probes_free(d.probes);
	ais_strv_free(local_buckets);
	ais_strv_free(d.buckets_seen);
	free(d.buckets_seen_created);
	store_free(d.store);
	leases_free(d.leases);
	etl_free(d.etl);
	ais_tls_free(d.tls_server);
	ais_tls_free(d.tls_client);
	aisd_opts_free(&o);
	return exit_code;
}
