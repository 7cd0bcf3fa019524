/* The state of one aisd process that request handlers share. */
#ifndef AISD_AISD_H
#define AISD_AISD_H

#include <stdint.h>

#include "cluster.h"
#include "indexer.h"
#include "mountpath.h"
#include "opts.h"
#include "peer.h"

struct aisd {
	const struct aisd_opts *opts;
	struct mpset *mps;
	struct cluster *cluster;
	struct peers *peers;	 /* for cross-node name-conflict probes */
	struct indexer *indexer; /* shard indexes, built after the answer */
	uint64_t start_mono_ns;
	uint32_t connections; /* atomic: open client connections */
	uint64_t requests;    /* atomic: requests handled */
};

#endif
