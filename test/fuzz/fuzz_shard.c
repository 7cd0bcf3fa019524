/* Fuzz target: the shard indexers and member reads (lib/shard/). The input
 * is an archive object: its format is told by its first bytes (gzip: a
 * tar.gz, LZ4 frame: a tar.lz4, a zip's local header or end of central
 * directory: a zip, else a tar), as a node tells it by the object's name.
 * It is indexed, the sidecar loaded back, and members are looked up,
 * listed and read through the index: whole, and in two consecutive ranges
 * through a parked decoder, as a FUSE client reads. An input that starts
 * as a sidecar does ("AISSHIX") is loaded as one instead. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fileio.h"
#include "shard_index.h"
#include "shard_read.h"
#include "util.h"

#include "fuzz.h"

/* Members read per input, at most: enough for the seeds, and a bound on
 * the time an input of many members takes. */
#define READS_MAX 32
#define WHOLE_MAX (1u << 20)

/* shard_i.h's SC_MAGIC, with its NUL. */
#define SIDECAR_MAGIC "AISSHIX"

static enum ais_shard_format format_of(const uint8_t *d, size_t n)
{
	if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b)
		return AIS_SHARD_TGZ;
	if (n >= 4 && !memcmp(d, "\x04\x22\x4d\x18", 4))
		return AIS_SHARD_TLZ4;
	if (n >= 4 &&
	    (!memcmp(d, "PK\x03\x04", 4) || !memcmp(d, "PK\x05\x06", 4)))
		return AIS_SHARD_ZIP;
	/* A zip with bytes in front (self-extracting): its end record. */
	if (n >= 22 && memmem(d + (n > 65557 ? n - 65557 : 0),
			      n > 65557 ? 65557 : n, "PK\x05\x06", 4))
		return AIS_SHARD_ZIP;
	return AIS_SHARD_TAR;
}

static int count_bytes(void *arg, const void *buf, size_t len)
{
	uint64_t *n = arg;

	(void)buf;
	*n += len;
	return 0;
}

static int dirent_cb(void *arg, const char *name,
		     const struct ais_shard_member *m)
{
	size_t *n = arg;

	(void)name;
	(void)m;
	return ++*n >= 64;
}

static void read_member(struct ais_shard_stream_cache *cache, int fd,
			const struct ais_shard_index *idx,
			const struct ais_shard_member *m)
{
	char errmsg[AIS_ERRMSG_LEN];
	uint8_t buf[512];
	uint64_t n = 0, off;
	size_t got = 0;
	int rc;

	/* A member may be huge and cheap (a sparse one's holes, a gzip of
	 * zeros): past WHOLE_MAX only its start is read. */
	rc = ais_shard_member_read(fd, idx, m, 0,
				   m->size > WHOLE_MAX ? WHOLE_MAX : UINT64_MAX,
				   count_bytes, &n, errmsg);
	/* A read that succeeds returns what was asked. */
	if (rc == 0 && n != (m->size > WHOLE_MAX ? WHOLE_MAX : m->size))
		abort();
	ais_shard_member_range(idx, m, &off);
	off = m->size / 2;
	n = 0;
	rc = ais_shard_member_read_cached(cache, fd, idx, m, off, 100,
					  count_bytes, &n, errmsg);
	if (rc == 0)
		ais_shard_member_read_cached(cache, fd, idx, m, off + n, 100,
					     count_bytes, &n, errmsg);
	ais_shard_member_pread(fd, idx, m, buf, sizeof(buf), off, &got, errmsg);
	if (got > sizeof(buf))
		abort();
}

/* built: the index was built here, so its invariants hold (a sidecar
 * from the disk may be out of order: a lookup may then miss). */
static void walk(const struct ais_shard_index *idx, int fd,
		 struct ais_shard_stream_cache *cache, bool built)
{
	struct ais_shard_member m, l;
	size_t count = ais_shard_index_count(idx), i, n = 0;
	uint64_t off;

	ais_shard_index_error(idx, &off);
	for (i = 0; i < count && i < READS_MAX; i++) {
		if (ais_shard_index_at(idx, i, &m) < 0)
			break;
		if (ais_shard_index_lookup(idx, m.path, &l) < 0 && built)
			abort(); /* every member is found by its path */
		ais_shard_index_seek(idx, m.path);
		if (m.type == AIS_SHARD_DIR)
			ais_shard_index_readdir(idx, m.path, NULL, 16,
						dirent_cb, &n);
		read_member(cache, fd, idx, &m);
	}
	ais_shard_index_readdir(idx, "", NULL, 0, dirent_cb, &n);
	ais_shard_index_lookup(idx, "a/b", &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ais_shard_stream_cache *cache;
	char errmsg[AIS_ERRMSG_LEN];
	struct ais_shard_index *idx = NULL, *again = NULL;
	struct ais_shard_stamp stamp = {.size = size, .mtime_ns = 1};
	int fd, side;

	if (!cache && !(cache = ais_shard_stream_cache_new(4)))
		return 0;
	fd = memfd_create("shard", MFD_CLOEXEC);
	side = memfd_create("sidecar", MFD_CLOEXEC);
	if (fd < 0 || side < 0 || ais_write_all(fd, data, size) < 0)
		goto out;
	/* A sidecar (as a node finds one on its disk): loaded, walked, and
	 * read from (the object is the sidecar's own bytes). */
	if (size >= sizeof(SIDECAR_MAGIC) &&
	    !memcmp(data, SIDECAR_MAGIC, sizeof(SIDECAR_MAGIC))) {
		if (ais_shard_index_open(fd, &idx, errmsg) == 0) {
			walk(idx, fd, cache, false);
			ais_shard_index_free(idx);
		}
		goto out;
	}
	if (ais_shard_index_build(fd, format_of(data, size), &stamp, side, &idx,
				  errmsg) < 0)
		goto out;
	walk(idx, fd, cache, true);
	/* The sidecar as a node loads it again. */
	if (ais_shard_index_open(side, &again, errmsg) == 0) {
		if (ais_shard_index_count(again) !=
			ais_shard_index_count(idx) ||
		    ais_shard_index_is_stale(again, &stamp))
			abort();
		ais_shard_index_free(again);
	}
	ais_shard_index_free(idx);
out:
	/* Parked decoders hold their own descriptor of this input. */
	ais_shard_stream_cache_clear(cache);
	if (fd >= 0)
		close(fd);
	if (side >= 0)
		close(side);
	return 0;
}
