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

int move__send(struct move *mv, const struct ais_node *to, uint64_t map_version,
	       const char *bucket, const char *name, int mp, uint64_t *bytes,
	       char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__ObjMeta mpb;
	Ais__Response *resp = NULL;
	char path[AISD_PATH_MAX];
	struct ais_obj_meta m;
	struct stat sb;
	int fd, rc;

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
	move__throttle(mv, m.size, atomic_load(&mv->job_id));

	req.op = AIS__OP__OP_PUT;
	req.bucket = (char *)bucket;
	req.name = (char *)name;
	req.map_version = map_version;
	req.migrate = true;
	ais_obj_meta_to_pb(&m, &mpb);
	req.meta = &mpb;
	rc = peers_put_fd(mv->peers, to, &req, fd, 0, m.size, &resp, errmsg);
	close(fd);
	if (rc)
		return rc;
	rc = resp->status;
	if (rc && rc != -EALREADY)
		ais_errf(errmsg, rc, "node %s at %s:%u refused %s/%s: %s",
			 to->id, to->host, to->port, bucket, name,
			 resp->message && resp->message[0] ? resp->message
							   : strerror(-rc));
	ais__response__free_unpacked(resp, NULL);
	if (rc && rc != -EALREADY)
		return rc;
	/* The owner has it durable, or has a newer copy, or deleted it
	 * since: this copy goes, unless it changed meanwhile. */
	*bytes = rc ? 0 : m.size;
	rc = store_delete_if_same(mv->st, bucket, name, mp, &m, errmsg);
	if (rc == 0 && mv->sh)
		shard_on_delete(mv->sh, bucket, name);
	return rc == -ENOENT ? 0 : rc;
}
