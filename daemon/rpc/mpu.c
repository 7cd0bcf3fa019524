/* Multipart uploads (the S3 endpoint's), at the owner of the object: an
 * upload is a directory <mp>/.ais/mpu/ID on the mountpath the object will
 * be on, holding "info" (MpuInfo) and the parts as files part.NNNNN, each
 * with its MD5 in the "user.ais.md5" xattr. COMPLETE reads the parts
 * through a PUT of the object (its checksums and block table computed as
 * any PUT's), commits it and its copies, then drops the directory; so the
 * object is one whole object as every other, and no part is ever held in
 * memory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cksum.h"
#include "fileio.h"
#include "log.h"
#include "map.h"

#include "net/sock_io.h"
#include "rpc/rpc_i.h"
#include "store/mountpath.h"
#include "store/store.h"

#define MD5_XATTR    "user.ais.md5"
#define PART_MAX     10000
#define PART_MIN     (5u << 20) /* every part but the last, as S3 */
#define COPY_BUF     (1u << 20)
#define MPU_PATH_MAX (AISD_PATH_MAX + 64)

/* Only the object's first node keeps its uploads. */
static int check_first(struct rpc *r)
{
	Ais__Request *q = r->req;
	const struct ais_node *self = cluster_self(r->d->cluster);
	const struct ais_node *o;
	int rc = rpc_check_object(r, q->bucket, q->name);

	if (rc)
		return rc;
	for (const char *u = q->upload_id; *u; u++)
		if (!((*u >= '0' && *u <= '9') || (*u >= 'a' && *u <= 'f')))
			return ais_errf(r->errmsg, -ENOENT,
					"no upload %s of %s/%s", q->upload_id,
					q->bucket, q->name);
	if (strlen(q->upload_id) != 32)
		return ais_errf(r->errmsg, -ENOENT, "no upload %s of %s/%s",
				q->upload_id, q->bucket, q->name);
	o = ais_map_owner(r->cm->m, q->bucket, q->name);
	if (o && !strcmp(o->id, self->id))
		return 0;
	rc = rpc_check_owner(r, q->bucket, q->name);
	return rc ? rc
		  : ais_errf(r->errmsg, -EREMOTE,
			     "wrong node: uploads of %s/%s are kept at its "
			     "first node %s",
			     q->bucket, q->name, o ? o->id : "(none)");
}

/* The upload's directory (and its mountpath's index into *mp). */
static void upload_dir(struct rpc *r, char *out, int *mp)
{
	const struct mpset *mps = r->d->store->mps;
	int order[mps->n];

	mpset_order(mps, r->req->bucket, r->req->name, order);
	if (mp)
		*mp = order[0];
	snprintf(out, MPU_PATH_MAX, "%s/.ais/mpu/%s", mps->paths[order[0]],
		 r->req->upload_id);
}

/* Reads dir/info: 0, -ENOENT (no such upload) or -errno. */
static int read_info(struct rpc *r, const char *dir, Ais__MpuInfo **out)
{
	char path[MPU_PATH_MAX + 16];
	uint8_t buf[AIS_OBJ_EXT_MAX + 4096];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/info", dir);
	n = ais_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return ais_errf(r->errmsg, n == -ENOENT ? -ENOENT : (int)n,
				n == -ENOENT ? "no upload %s of %s/%s"
					     : "upload %s of %s/%s: %s",
				r->req->upload_id, r->req->bucket, r->req->name,
				strerror((int)-n));
	*out = ais__mpu_info__unpack(NULL, (size_t)n, buf);
	if (!*out || strcmp((*out)->bucket, r->req->bucket) ||
	    strcmp((*out)->name, r->req->name)) {
		if (*out)
			ais__mpu_info__free_unpacked(*out, NULL);
		return ais_errf(r->errmsg, -ENOENT, "no upload %s of %s/%s",
				r->req->upload_id, r->req->bucket,
				r->req->name);
	}
	return 0;
}

/* Removes an upload (its lock held): the parts, then "info" (a part
 * upload that waits for the lock then finds none and removes its own work
 * file, and the directory if it is the last), then the directory. */
static int rm_dir(const char *dir)
{
	char path[MPU_PATH_MAX + 32];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "info"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/info", dir);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (rmdir(dir) < 0 && errno != ENOTEMPTY && errno != ENOENT)
		return -errno;
	return 0;
}

/* Takes the upload's lock (an flock of its "info"): part commits,
 * completions and aborts of one upload run one at a time. The lock's
 * descriptor (close it to let go), or -ENOENT when the upload is gone. */
static int lock_upload(struct rpc *r, const char *dir)
{
	char path[MPU_PATH_MAX + 16];
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "%s/info", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ais_errf(r->errmsg, errno == ENOENT ? -ENOENT : -errno,
				"no upload %s of %s/%s", r->req->upload_id,
				r->req->bucket, r->req->name);
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &sb) < 0 || !sb.st_nlink) {
		close(fd);
		return ais_errf(r->errmsg, -ENOENT, "no upload %s of %s/%s",
				r->req->upload_id, r->req->bucket,
				r->req->name);
	}
	return fd;
}

int rpc_mpu_create(struct rpc *r)
{
	Ais__Request *q = r->req;
	Ais__MpuInfo info = AIS__MPU_INFO__INIT;
	char dir[MPU_PATH_MAX], path[MPU_PATH_MAX + 16];
	uint8_t *buf;
	size_t len;
	int rc = check_first(r);

	if (rc)
		return rc;
	if (!store_bucket_exists(r->d->store, q->bucket))
		return ais_errf(r->errmsg, -ENOENT, "bucket %s does not exist",
				q->bucket);
	rc = ais_obj_ext_check(q->ext.data, q->ext.len, r->errmsg);
	if (rc)
		return rc;
	upload_dir(r, dir, NULL);
	snprintf(path, sizeof(path), "%.*s", (int)(strrchr(dir, '/') - dir),
		 dir);
	if ((mkdir(path, 0755) < 0 && errno != EEXIST) || mkdir(dir, 0755) < 0)
		return ais_errf(r->errmsg, -errno, "upload %s: mkdir %s: %s",
				q->upload_id, dir, strerror(errno));
	info.bucket = q->bucket;
	info.name = q->name;
	info.upload_id = q->upload_id;
	info.created_ns = ais_now_real_ns();
	info.ext = q->ext;
	len = ais__mpu_info__get_packed_size(&info);
	buf = malloc(len ? len : 1);
	if (!buf) {
		rm_dir(dir);
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	}
	ais__mpu_info__pack(&info, buf);
	snprintf(path, sizeof(path), "%s/info", dir);
	rc = ais_file_replace(path, buf, len, 0644);
	free(buf);
	if (rc) {
		rm_dir(dir);
		return ais_errf(r->errmsg, rc, "upload %s: %s", q->upload_id,
				strerror(-rc));
	}
	ais_log(LOG_INFO, "mpu: upload %s of %s/%s begins", q->upload_id,
		q->bucket, q->name);
	return 0;
}

/* The etag answer: an ObjExt with only it. */
static void answer_etag(struct rpc *r, const char *etag)
{
	long n = ais_obj_ext_with_etag(NULL, 0, etag, r->ext);

	if (n > 0) {
		r->resp.ext.data = r->ext;
		r->resp.ext.len = (size_t)n;
	}
}

int rpc_mpu_part(struct rpc *r)
{
	Ais__Request *q = r->req;
	char dir[MPU_PATH_MAX], tmp[MPU_PATH_MAX + 32], part[MPU_PATH_MAX + 16];
	char md5[AIS_CKSUM_HEX_MAX];
	struct ais_cksum ck;
	Ais__MpuInfo *info;
	uint8_t *buf = NULL;
	ssize_t n = 0;
	int fd = -1, lk, rc;

	rc = check_first(r);
	if (!rc && (q->part_number < 1 || q->part_number > PART_MAX))
		rc = ais_errf(r->errmsg, -EINVAL, "part number %u: 1 to %d",
			      q->part_number, PART_MAX);
	if (rc)
		return rc;
	upload_dir(r, dir, NULL);
	rc = read_info(r, dir, &info);
	if (rc)
		return rc;
	ais__mpu_info__free_unpacked(info, NULL);
	snprintf(tmp, sizeof(tmp), "%s/tmp.%u.%llx", dir, q->part_number,
		 (unsigned long long)ais_now_mono_ns());
	snprintf(part, sizeof(part), "%s/part.%05u", dir, q->part_number);
	buf = malloc(COPY_BUF);
	rc = ais_cksum_init(&ck, AIS_CKSUM_MD5);
	if (!buf || rc) {
		free(buf);
		if (!rc)
			ais_cksum_abort(&ck);
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = ais_errf(r->errmsg, -errno, "part %u: %s", q->part_number,
			      strerror(errno));
		goto out;
	}
	while ((n = sock_io_read_body(&r->j->io, buf, COPY_BUF)) > 0) {
		rc = ais_write_all(fd, buf, (size_t)n);
		if (rc) {
			ais_errf(r->errmsg, rc, "part %u: %s", q->part_number,
				 strerror(-rc));
			break;
		}
		ais_cksum_update(&ck, buf, (size_t)n);
	}
	if (n < 0) {
		ais_log(LOG_INFO, "%s: part %u of upload %s: body: %s; closing",
			r->j->peer, q->part_number, q->upload_id,
			sock_io_strerror(n));
		r->j->close = true;
		rc = 1;
		goto out;
	}
	if (rc)
		goto out;
	ais_cksum_final(&ck, md5);
	if (q->content_md5[0] && strcasecmp(q->content_md5, md5)) {
		rc = ais_errf(r->errmsg, -EBADMSG,
			      "part %u: Content-MD5 mismatch: expected %s, the "
			      "body has %s",
			      q->part_number, q->content_md5, md5);
		goto out;
	}
	if (fsetxattr(fd, MD5_XATTR, md5, strlen(md5), 0) < 0 ||
	    fsync(fd) < 0) {
		rc = ais_errf(r->errmsg, -errno, "part %u: %s", q->part_number,
			      strerror(errno));
		goto out;
	}
	/* Under the upload's lock: not into a completion, nor after an
	 * abort. */
	lk = lock_upload(r, dir);
	if (lk < 0) {
		rc = lk;
		goto out;
	}
	if (rename(tmp, part) < 0)
		rc = ais_errf(r->errmsg, -errno, "part %u: %s", q->part_number,
			      strerror(errno));
	close(lk);
	if (rc)
		goto out;
	(void)ais_fsync_parent(part);
	answer_etag(r, md5);
out:
	ais_cksum_abort(&ck);
	if (fd >= 0)
		close(fd);
	if (rc) {
		unlink(tmp);
		(void)rmdir(dir); /* the last of an aborted upload */
	}
	free(buf);
	return rc;
}

/* A part's file: its size and MD5 (hex). 0 or -errno. */
static int part_stat(const char *dir, uint32_t num, char *md5, struct stat *sb)
{
	char path[MPU_PATH_MAX + 16];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/part.%05u", dir, num);
	if (stat(path, sb) < 0)
		return -errno;
	n = getxattr(path, MD5_XATTR, md5, 32);
	if (n != 32)
		return -EBADMSG;
	md5[32] = 0;
	return 0;
}

/* The S3 etag of the parts: the MD5 of their MD5s, and "-N". */
static int multipart_etag(Ais__MpuPart *const *p, size_t n, char *out)
{
	struct ais_cksum ck;
	char hex[AIS_CKSUM_HEX_MAX];
	int rc = ais_cksum_init(&ck, AIS_CKSUM_MD5);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint8_t raw[16];

		for (int k = 0; k < 16; k++) {
			unsigned v;

			sscanf(p[i]->etag + 2 * k, "%2x", &v);
			raw[k] = (uint8_t)v;
		}
		ais_cksum_update(&ck, raw, 16);
	}
	ais_cksum_final(&ck, hex);
	snprintf(out, 96, "%s-%zu", hex, n);
	return 0;
}

/* Checks the parts asked for against those kept. */
static int check_parts(struct rpc *r, const char *dir)
{
	Ais__Request *q = r->req;
	char md5[40];
	struct stat sb;

	if (!q->n_mpu_parts)
		return ais_errf(r->errmsg, -EINVAL,
				"a completion names at least one part");
	for (size_t i = 0; i < q->n_mpu_parts; i++) {
		const Ais__MpuPart *p = q->mpu_parts[i];
		const char *e = p->etag ? p->etag : "";

		if (i && p->number <= q->mpu_parts[i - 1]->number)
			return ais_errf(r->errmsg, -EDOM,
					"The list of parts was not in "
					"ascending order (part %u after %u)",
					p->number, q->mpu_parts[i - 1]->number);
		if (part_stat(dir, p->number, md5, &sb))
			return ais_errf(r->errmsg, -ENODATA,
					"part %u was not uploaded", p->number);
		if (strlen(e) != 32 || strcasecmp(e, md5))
			return ais_errf(r->errmsg, -ENODATA,
					"part %u's ETag is %s, not %s",
					p->number, md5, e);
		if (i + 1 < q->n_mpu_parts && (uint64_t)sb.st_size < PART_MIN)
			return ais_errf(r->errmsg, -ERANGE,
					"part %u is %lld bytes: every part but "
					"the last must be at least 5 MiB",
					p->number, (long long)sb.st_size);
	}
	return 0;
}

/* The parts in order into p. */
static int feed_parts(struct rpc *r, const char *dir, struct store_put *p)
{
	Ais__Request *q = r->req;
	char path[MPU_PATH_MAX + 16];
	uint8_t *buf = malloc(COPY_BUF);
	int rc = 0;

	if (!buf)
		return ais_errf(r->errmsg, -ENOMEM, "out of memory");
	for (size_t i = 0; i < q->n_mpu_parts && !rc; i++) {
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "%s/part.%05u", dir,
			 q->mpu_parts[i]->number);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = ais_errf(r->errmsg, -errno, "part %u: %s",
				      q->mpu_parts[i]->number, strerror(errno));
			break;
		}
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		while ((n = read(fd, buf, COPY_BUF)) > 0) {
			rc = store_put_write(p, buf, (size_t)n, r->errmsg);
			if (rc)
				break;
		}
		if (n < 0)
			rc = ais_errf(r->errmsg, -errno, "part %u: %s",
				      q->mpu_parts[i]->number, strerror(errno));
		close(fd);
	}
	free(buf);
	return rc;
}

int rpc_mpu_complete(struct rpc *r)
{
	Ais__Request *q = r->req;
	struct store_put_args a = {0};
	struct store_put p;
	char dir[MPU_PATH_MAX], etag[96];
	uint8_t *ext = NULL;
	Ais__MpuInfo *info = NULL;
	long n;
	int lk = -1, rc = check_first(r);

	if (rc)
		return rc;
	upload_dir(r, dir, NULL);
	lk = lock_upload(r, dir);
	if (lk < 0)
		return lk;
	rc = read_info(r, dir, &info);
	if (!rc)
		rc = check_parts(r, dir);
	if (!rc)
		rc = multipart_etag(q->mpu_parts, q->n_mpu_parts, etag);
	if (rc)
		goto out;
	ext = malloc(AIS_OBJ_EXT_MAX);
	n = ext ? ais_obj_ext_with_etag(info->ext.data, info->ext.len, etag,
					ext)
		: -ENOMEM;
	if (n < 0) {
		rc = ais_errf(r->errmsg, (int)n, "upload %s: %s", q->upload_id,
			      strerror((int)-n));
		goto out;
	}
	a.bucket = q->bucket;
	a.name = q->name;
	a.ext = ext;
	a.ext_len = (size_t)n;
	rc = store_put_begin(r->d->store, &a, &p, r->errmsg);
	if (rc)
		goto out;
	rc = rpc_check_conflicts(r, q->bucket, q->name);
	if (!rc)
		rc = feed_parts(r, dir, &p);
	if (rc) {
		store_put_abort(&p);
		goto out;
	}
	rc = store_put_commit(&p, &r->meta, r->errmsg);
	if (rc)
		goto out;
	shard_written(r->d->shards, q->bucket, q->name);
	rpc_set_meta(r);
	rpc_replicate(r);
	answer_etag(r, etag);
	rm_dir(dir);
	ais_log(LOG_INFO,
		"mpu: upload %s of %s/%s completed: %zu parts, %llu "
		"bytes",
		q->upload_id, q->bucket, q->name, q->n_mpu_parts,
		(unsigned long long)r->meta.size);
out:
	close(lk);
	if (info)
		ais__mpu_info__free_unpacked(info, NULL);
	free(ext);
	return rc;
}

int rpc_mpu_abort(struct rpc *r)
{
	char dir[MPU_PATH_MAX];
	Ais__MpuInfo *info;
	int lk, rc = check_first(r);

	if (rc)
		return rc;
	upload_dir(r, dir, NULL);
	lk = lock_upload(r, dir);
	if (lk < 0)
		return lk;
	rc = read_info(r, dir, &info);
	if (rc) {
		close(lk);
		return rc;
	}
	ais__mpu_info__free_unpacked(info, NULL);
	rc = rm_dir(dir);
	close(lk);
	if (rc)
		return ais_errf(r->errmsg, rc, "upload %s: %s",
				r->req->upload_id, strerror(-rc));
	ais_log(LOG_INFO, "mpu: upload %s of %s/%s aborted", r->req->upload_id,
		r->req->bucket, r->req->name);
	return 0;
}

/* ---- OP_MPU_LIST ------------------------------------------------------- */

static int part_cmp(const void *a, const void *b)
{
	const Ais__MpuPart *x = *(Ais__MpuPart *const *)a;
	const Ais__MpuPart *y = *(Ais__MpuPart *const *)b;

	return x->number < y->number ? -1 : x->number > y->number;
}

static int list_parts(struct rpc *r)
{
	char dir[MPU_PATH_MAX];
	Ais__MpuInfo *info;
	struct dirent *e;
	DIR *d;
	int rc = check_first(r);

	if (rc)
		return rc;
	upload_dir(r, dir, NULL);
	rc = read_info(r, dir, &info);
	if (rc)
		return rc;
	ais__mpu_info__free_unpacked(info, NULL);
	d = opendir(dir);
	if (!d)
		return ais_errf(r->errmsg, -errno, "upload %s: %s",
				r->req->upload_id, strerror(errno));
	while ((e = readdir(d))) {
		unsigned num;
		struct stat sb;
		char md5[40];
		Ais__MpuPart *p;
		void **v;

		if (sscanf(e->d_name, "part.%5u", &num) != 1 ||
		    part_stat(dir, num, md5, &sb))
			continue;
		if (r->nmpu % 64 == 0) {
			v = realloc(r->mpu, (r->nmpu + 64) * sizeof(*v));
			if (!v)
				break;
			r->mpu = v;
		}
		p = calloc(1, sizeof(*p) + 33);
		if (!p)
			break;
		ais__mpu_part__init(p);
		p->number = num;
		p->etag = (char *)(p + 1);
		memcpy(p->etag, md5, 33);
		p->size = (uint64_t)sb.st_size;
		p->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
			      sb.st_mtim.tv_nsec;
		r->mpu[r->nmpu++] = p;
	}
	closedir(d);
	qsort(r->mpu, r->nmpu, sizeof(*r->mpu), part_cmp);
	r->resp.n_mpu_parts = r->nmpu;
	r->resp.mpu_parts = (Ais__MpuPart **)r->mpu;
	return 0;
}

/* Every upload of the bucket on this node's mountpaths (a node may keep
 * some of a name it no longer owns: they are listed, and completing one
 * is refused). */
static int list_uploads(struct rpc *r)
{
	const struct mpset *mps = r->d->store->mps;
	Ais__Request *q = r->req;
	char dir[MPU_PATH_MAX];

	for (size_t m = 0; m < mps->n; m++) {
		struct dirent *e;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s/.ais/mpu", mps->paths[m]);
		d = opendir(dir);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			char path[MPU_PATH_MAX + 300];
			uint8_t buf[AIS_OBJ_EXT_MAX + 4096];
			Ais__MpuInfo *info;
			void **v;
			ssize_t n;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/info", dir,
				 e->d_name);
			n = ais_read_file(path, buf, sizeof(buf));
			if (n < 0)
				continue;
			info = ais__mpu_info__unpack(NULL, (size_t)n, buf);
			if (!info)
				continue;
			if (strcmp(info->bucket, q->bucket) ||
			    strncmp(info->name, q->prefix, strlen(q->prefix))) {
				ais__mpu_info__free_unpacked(info, NULL);
				continue;
			}
			info->ext.len = 0; /* not for the answer */
			if (r->nmpu % 64 == 0) {
				v = realloc(r->mpu,
					    (r->nmpu + 64) * sizeof(*v));
				if (!v) {
					ais__mpu_info__free_unpacked(info,
								     NULL);
					break;
				}
				r->mpu = v;
			}
			r->mpu[r->nmpu++] = info;
		}
		closedir(d);
	}
	r->mpu_infos = true;
	r->resp.n_mpu_uploads = r->nmpu;
	r->resp.mpu_uploads = (Ais__MpuInfo **)r->mpu;
	return 0;
}

int rpc_mpu_list(struct rpc *r)
{
	int rc;

	if (r->req->upload_id[0])
		return list_parts(r);
	rc = rpc_check_bucket(r, r->req->bucket);
	return rc ? rc : list_uploads(r);
}

void rpc_mpu_free(struct rpc *r)
{
	for (size_t i = 0; i < r->nmpu; i++) {
		if (r->mpu_infos)
			ais__mpu_info__free_unpacked(r->mpu[i], NULL);
		else
			free(r->mpu[i]);
	}
	free(r->mpu);
	r->mpu = NULL;
	r->nmpu = 0;
}
