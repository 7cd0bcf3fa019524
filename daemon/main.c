/* aisd: the aisfs storage node daemon. Start-up, configuration, and the
 * orderly stop; the work happens in the subsystems of libaisd (aisd.h):
 * net/ (loop), rpc/ (requests), store/ (disk), shard/ (shards) and
 * cluster/ (map and gossip). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ais_config.h"
#include "log.h"
#include "names.h"
#include "util.h"

#include "aisd.h"
#include "cluster/cluster.h"
#include "cluster/peer.h"
#include "net/net.h"
#include "notify.h"
#include "opts.h"
#include "shard/append.h"
#include "shard/shard.h"
#include "store/bucket.h"
#include "store/store.h"

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			ais_log(LOG_WARNING, "cannot raise RLIMIT_NOFILE: %s",
				strerror(errno));
	}
	if (rl.rlim_cur < 4096)
		ais_log(LOG_WARNING,
			"open file limit is %llu: few connections possible",
			(unsigned long long)rl.rlim_cur);
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

/* Creates here the buckets a peer has that this node lacks (it was down or
 * not yet in the map when they were created). */
static void sync_buckets(void *arg, char *const *names, size_t n)
{
	struct store *st = arg;
	char errmsg[AIS_ERRMSG_LEN];
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (ais_name_check_bucket(names[i], errmsg) < 0)
			continue;
		rc = bucket_create(st, names[i], errmsg);
		if (rc == 0)
			ais_log(LOG_NOTICE,
				"bucket %s: created, as a peer has "
				"it",
				names[i]);
		else if (rc != -EEXIST)
			ais_log(LOG_WARNING, "bucket %s: %s", names[i], errmsg);
	}
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

int main(int argc, char **argv)
{
	char errmsg[AIS_ERRMSG_LEN], threads[16], status[512];
	char **mapfiles;
	struct aisd_opts o;
	struct aisd d;
	struct ais_node self;
	struct server *srv = NULL;
	size_t i, off;
	long ncpu;
	int rc, n, exit_code = 1;

	rc = aisd_opts_parse(&o, argc, argv);
	if (rc) {
		aisd_opts_free(&o);
		return rc > 0 ? 0 : 2;
	}
	ais_log_init("aisd", o.log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	memset(&d, 0, sizeof(d));
	d.opts = &o;
	d.start_mono_ns = ais_now_mono_ns();
	rc = store_new(o.mountpaths, o.nmountpaths, &d.store, errmsg);
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

	memset(&self, 0, sizeof(self));
	snprintf(self.id, sizeof(self.id), "%s", d.store->mps->node_id);
	pick_advertise(&o, self.host, sizeof(self.host));
	self.port = o.port;
	self.state = AIS_NODE_ONLINE;
	/* The last map is kept on every mountpath. */
	mapfiles = calloc(d.store->mps->n + 1, sizeof(char *));
	for (i = 0; mapfiles && i < d.store->mps->n; i++)
		if (asprintf(&mapfiles[i], "%s/.ais/map",
			     d.store->mps->paths[i]) < 0) {
			mapfiles[i] = NULL;
			break;
		}
	if (mapfiles && i == d.store->mps->n)
		d.cluster =
		    cluster_new(&self, o.seeds, o.nseeds, o.join, mapfiles, i);
	ais_strv_free(mapfiles);
	if (!d.cluster) {
		ais_log(LOG_ERR, "out of memory");
		goto out;
	}
	cluster_on_peer_buckets(d.cluster, sync_buckets, d.store);
	d.peers = peers_new(1000, 5000, 5000);
	if (!d.peers) {
		ais_log(LOG_ERR, "out of memory");
		goto out;
	}
	rc = server_new(&d, o.listen, o.port, &srv, errmsg);
	if (rc) {
		ais_log(LOG_ERR, "%s", errmsg);
		goto out;
	}
	if (o.pidfile && (rc = write_pidfile(o.pidfile))) {
		ais_log(LOG_ERR, "pidfile %s: %s", o.pidfile, strerror(-rc));
		goto out;
	}
	rc = cluster_start(d.cluster);
	if (rc) {
		ais_log(LOG_ERR, "cannot start the gossip thread: %s",
			strerror(-rc));
		goto out_pidfile;
	}
	off = (size_t)snprintf(status, sizeof(status), "node %s on %s:%u,",
			       self.id, self.host, self.port);
	for (i = 0; i < d.store->mps->n && off < sizeof(status); i++)
		off += (size_t)snprintf(status + off, sizeof(status) - off,
					" %s", d.store->mps->paths[i]);
	ais_log(LOG_NOTICE,
		"aisd %s listening on %s:%u, node %s (advertised %s:%u), map "
		"v%llu, %zu mountpath%s:%s, %d threads",
		AIS_VERSION, o.listen, o.port, self.id, self.host, self.port,
		(unsigned long long)cluster_version(d.cluster), d.store->mps->n,
		d.store->mps->n == 1 ? "" : "s", strchr(status, ',') + 1, n);
	if (o.config)
		ais_log(LOG_INFO, "configuration from %s", o.config);
	notify_ready(status);

	rc = server_run(srv);
	cluster_stop(d.cluster);
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
	shards_free(d.shards);
	if (d.cluster)
		cluster_free(d.cluster);
	peers_free(d.peers);
	store_free(d.store);
	aisd_opts_free(&o);
	return exit_code;
}
