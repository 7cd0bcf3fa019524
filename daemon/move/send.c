/* One object to its new owner: a migrate PUT streamed from the local file
 * with the object's metadata, then the local copy deleted only if it is
 * still the one that was sent. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objmeta.h"

#include "cluster/peer.h"
#include "move/move_i.h"
#include "shard/shard.h"
#include "store/store.h"
#include "store/xattr.h"

int move__send(struct move *mv, const struct ais_node *const *to, size_t nto,
	       uint64_t map_version, const char *bucket, const char *name,
	       int mp, bool drop, uint64_t *bytes, char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__ObjMeta mpb;
	char path[AISD_PATH_MAX];
	struct ais_obj_meta m;
	uint8_t ext[AIS_OBJ_EXT_MAX];
	struct stat sb;
	size_t i;
	long n;
	int fd, rc = 0;

	*bytes = 0;
	mpset_obj_path(mv->st->mps, mp, bucket, name, path);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR
			   ? 1
			   : ais_errf(errmsg, -errno, "open %s: %s", path,
				      strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return 1;
	}
	if (objmeta_read_fd(fd, &m))
		objmeta_from_stat(&sb, &m);
	m.size = (uint64_t)sb.st_size;
	n = objext_read_fd(fd, ext, sizeof(ext));
	if (n > 0) {
		req.ext.data = ext;
		req.ext.len = (size_t)n;
	}

	req.op = AIS__OP__OP_PUT;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	req.map_version = map_version;
	req.migrate = true;
	ais_obj_meta_to_pb(&m, &mpb);
	req.meta = &mpb;
	for (i = 0; i < nto && !rc; i++) {
		Ais__Response *resp = NULL;
		const struct ais_node *n = to[i];

		move__throttle(mv, m.size, atomic_load(&mv->job_id));
		rc = peers_put_fd(mv->peers, n, &req, fd, 0, m.size, &resp,
				  errmsg);
		if (rc)
			break;
		rc = resp->status;
		if (rc && rc != -EALREADY)
			ais_errf(
			    errmsg, rc, "node %s at %s:%u refused %s/%s: %s",
			    n->id, n->host, n->port, bucket, name,
			    resp->message && resp->message[0] ? resp->message
							      : strerror(-rc));
		ais__response__free_unpacked(resp, NULL);
		if (rc == 0)
			*bytes += m.size;
		if (rc == -EALREADY)
			rc = 0; /* as new or newer there, or deleted since */
	}
	close(fd);
	if (rc || !drop)
		return rc;
	/* Every new holder has it durable, or has a newer copy, or deleted
	 * it since: this copy goes, unless it changed meanwhile. */
	rc = store_delete_if_same(mv->st, bucket, name, mp, &m, errmsg);
	if (rc == 0 && mv->sh)
		shard_on_delete(mv->sh, bucket, name);
	return rc == -ENOENT ? 0 : rc;
}
