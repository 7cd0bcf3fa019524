/* The state of one aisd process. Every per-node mutable thing hangs off
 * struct aisd (no subsystem keeps file globals), so that one process can
 * hold several nodes, as the tests that link libaisd do.
 *
 * The subsystems, each a folder with a header that says what it owns:
 *   net/      the libuv loop, connections, framing, worker threads
 *             -> rpc/
 *   rpc/      the op table: where a request is dispatched, one file per
 *             family of ops   -> store/, shard/, cluster/
 *   store/    where an object hits the disk: mountpaths, objects and their
 *             metadata, listings, buckets   -> nothing else of aisd
 *   shard/    shard indexes, parked decoders, appends and their journal
 *             -> store/
 *   cluster/  the cluster metadata (node map, bucket table) replicated by
 *             Raft, node lifecycle, node-to-node calls
 *             -> nothing else of aisd (others subscribe to its snapshots)
 *   move/     data movement: the rebalance that follows placement
 *             changes from cluster/, resilver across mountpaths,
 *             reads relayed from previous owners   -> store/, shard/,
 *             cluster/
 *   lease/    mounts' leases and the feed of changes that keeps their
 *             caches right   -> nothing else of aisd
 *   etl/      transforms: the programs a node runs on what it holds
 *             (registered through cluster/)   -> nothing else of aisd
 *   job/      offline transforms of whole buckets (ais etl bucket): the
 *             jobs in the metadata, run by every node on what it holds
 *             -> store/, cluster/, etl/
 * main.c, opts.c and notify.c are the program around them. */
#ifndef AISD_AISD_H
#define AISD_AISD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "opts.h"

struct store;
struct shards;
struct cluster;
struct peers;
struct probes;
struct move;
struct leases;
struct etl;
struct jobs;
struct ais_auth_key;
struct ais_tls;

struct aisd {
	const struct aisd_opts *opts;
	struct store *store;	 /* store/: objects on the mountpaths */
	struct shards *shards;	 /* shard/: indexes, decoders, appends */
	struct cluster *cluster; /* cluster/: the map, membership */
	struct peers *peers;	 /* cluster/: node-to-node calls (name-conflict
				    probes) */
	struct probes *probes;	 /* rpc/conflict.c: those probes, batched */
	char **buckets_seen; /* the bucket table as this node last applied it
				(Raft thread only: rpc_buckets_follow) */
	int64_t *buckets_seen_created; /* their creation times */
	size_t nbuckets_seen;
	struct move *move;     /* move/: rebalance, resilver, relays and fetches
				  from previous owners (NULL: not started;
				  fetches then go uncounted, deletes keep
				  tombstones only while the map has history) */
	struct leases *leases; /* lease/: mounts' caches (NULL: none kept;
				  changes are answered at once) */
	struct etl *etl;       /* etl/: the transforms this node runs (NULL:
				  none) */
	struct jobs *jobs;     /* job/: offline transforms (NULL: not
				  started) */
	uint64_t start_mono_ns;
	atomic_uint connections; /* open client connections */
	atomic_ulong requests;	 /* requests handled */
	/* When an object request for a client (GET, HEAD, PUT, shard ops,
	 * also relayed from another node; not a rebalance's copy) last
	 * started or ended here, monotonic ns: a rebalance slows down while
	 * clients are served (move/). */
	atomic_ullong client_ns;
	/* The cluster's key (auth_secret_file), or NULL: no auth. */
	const struct ais_auth_key *auth_key;
	atomic_uint logins; /* OP_AUTH_LOGIN in flight (each 32 MiB) */
	/* TLS (tls_ca_file...): the listeners' configuration, and the one
	 * this node calls other nodes with (its certificate shown), both
	 * reloaded on SIGHUP; NULL: plain TCP. */
	struct ais_tls *tls_server, *tls_client;
};

#endif
