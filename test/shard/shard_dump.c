/* shard_dump: prints a shard's index (a debugging aid for the shard tests).
 * Usage: shard_dump ARCHIVE [MEMBER [OFF LEN]] — without MEMBER lists the
 * members; with it, writes the member's bytes to stdout; MEMBER "--all"
 * reads every member (to exercise the readers on hostile input). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shard_index.h"
#include "shard_read.h"
#include "fileio.h"
#include "util.h"

static const char *const types[] = {"file", "dir", "symlink", "hardlink",
				    "other"};

static int to_stdout(void *arg, const void *buf, size_t len)
{
	return ais_write_all(STDOUT_FILENO, buf, len);
}

static int discard(void *arg, const void *buf, size_t len)
{
	return 0;
}

int main(int argc, char **argv)
{
	char errmsg[AIS_ERRMSG_LEN];
	struct ais_shard_index *idx;
	struct ais_shard_member m;
	const char *e;
	uint64_t off = 0;
	int fd, rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s ARCHIVE [MEMBER [OFF LEN]]\n",
			argv[0]);
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY)) < 0) {
		perror(argv[1]);
		return 1;
	}
	rc = ais_shard_index_build(fd, ais_shard_format_from_name(argv[1]),
				   NULL, -1, &idx, errmsg);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], errmsg);
		return 1;
	}
	if (argc >= 3 && strcmp(argv[2], "--all") == 0) {
		for (size_t i = 0; i < ais_shard_index_count(idx); i++)
			if (ais_shard_index_at(idx, i, &m) == 0 &&
			    ais_shard_member_read(fd, idx, &m, 0, UINT64_MAX,
						  discard, NULL, errmsg) < 0)
				fprintf(stderr, "%s: %s\n", m.path, errmsg);
		ais_shard_index_free(idx);
		close(fd);
		return 0;
	}
	if (argc >= 3) {
		rc = ais_shard_index_lookup(idx, argv[2], &m);
		if (rc == 0)
			rc = ais_shard_member_read(
			    fd, idx, &m,
			    argc > 3 ? strtoull(argv[3], NULL, 0) : 0,
			    argc > 4 ? strtoull(argv[4], NULL, 0) : UINT64_MAX,
			    to_stdout, NULL, errmsg);
		else
			ais_errf(errmsg, rc, "no member %s", argv[2]);
		if (rc < 0)
			fprintf(stderr, "%s: %s\n", argv[2], errmsg);
		ais_shard_index_free(idx);
		close(fd);
		return rc < 0;
	}
	for (size_t i = 0; i < ais_shard_index_count(idx); i++) {
		if (ais_shard_index_at(idx, i, &m) < 0)
			return 1;
		printf("%-8s %06o %12" PRIu64 " hdr@%-10" PRIu64
		       " data@%-10" PRIu64 " %s%s%s\n",
		       types[m.type < 5 ? m.type : 4], (unsigned)m.mode, m.size,
		       m.header_off, m.data_off, m.path,
		       m.link[0] ? " -> " : "", m.link);
	}
	printf("%zu members, sidecar %" PRIu64 " bytes\n",
	       ais_shard_index_count(idx), ais_shard_index_file_size(idx));
	if ((e = ais_shard_index_error(idx, &off)) != NULL)
		printf("error at %" PRIu64 ": %s\n", off, e);
	ais_shard_index_free(idx);
	close(fd);
	return e != NULL ? 3 : 0;
}
