/* Offline transforms: see job.h. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "map.h"
#include "objmeta.h"
#include "pb.h"
#include "shard_index.h"
#include "shard_names.h"
#include "shard_read.h"
#include "util.h"

#include "aisd.h"
#include "cluster/cluster.h"
#include "cluster/peer.h"
#include "etl/etl.h"
#include "job/job.h"
#include "move/walk.h"
#include "store/blocks.h"
#include "store/mountpath.h"
#include "shard/shard.h"
#include "store/store.h"

#define STATS_MAX 128 /* jobs remembered here (the metadata keeps 64) */
/* How long an output waits for its owner to answer. */
#define JOB_PUT_WAIT_S 120
#define QUEUE_CAP      64
#define ID_MAX	       48

/* This node's part of one job. */
struct jstat {
	char id[ID_MAX];
	bool used, running, done, stopped;
	uint64_t total, transformed, skipped, failed, bytes_in, bytes_out;
	char last_error[AIS_ERRMSG_LEN];
};

struct jobs {
	struct aisd *d;
	char dir[AISD_PATH_MAX - 128]; /* <mp0>/.ais/etl-jobs */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a new snapshot, or stopping */
	/* The newest snapshot jobs_follow was given (a reference): it is
	 * given to subscribers before cluster_map_get returns it. */
	struct cluster_map *latest;
	bool changed; /* a snapshot since the thread last looked */
	bool stopping;
	atomic_bool closing; /* the node stops: what fails now is not the
				job's failure (it resumes at the restart) */
	atomic_bool cancel;  /* the running job must end */
	char running[ID_MAX];
	struct jstat st[STATS_MAX];
	char forget[STATS_MAX][ID_MAX]; /* jobs removed: their files go */
	size_t nforget;
};

/* One job's run here. */
struct run {
	struct jobs *j;
	Ais__EtlJob *job; /* a copy */
	struct jstat *s;  /* under j->mu */
	const char *self;
	bool resume;
	bool counting;
	atomic_bool fatal; /* a failure stops the job (no continue_on_error) */
	/* The walk feeds the threads. */
	pthread_mutex_t qmu;
	pthread_cond_t qready, qroom;
	char *q[QUEUE_CAP];
	size_t qhead, qlen;
	bool qdone;
};

static struct jstat *stat_find(struct jobs *j, const char *id, bool make)
{
	struct jstat *free_slot = NULL;

	for (size_t i = 0; i < STATS_MAX; i++) {
		if (j->st[i].used && !strcmp(j->st[i].id, id))
			return &j->st[i];
		if (!j->st[i].used && !free_slot)
			free_slot = &j->st[i];
	}
	if (!make || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	snprintf(free_slot->id, sizeof(free_slot->id), "%s", id);
	return free_slot;
}

static void state_path(const struct jobs *j, const char *id, const char *ext,
		       char *out)
{
	snprintf(out, AISD_PATH_MAX, "%s/%s.%s", j->dir, id, ext);
}

/* The parts finished here before a restart (ID.done). */
static void load_done(struct jobs *j)
{
	DIR *dir = opendir(j->dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char path[AISD_PATH_MAX], id[ID_MAX], *dot;
		struct jstat *s;
		FILE *f;

		dot = strrchr(de->d_name, '.');
		if (!dot || strcmp(dot, ".done") ||
		    strncmp(de->d_name, "etl-", 4) ||
		    (size_t)(dot - de->d_name) >= sizeof(id))
			continue;
		snprintf(id, sizeof(id), "%.*s", (int)(dot - de->d_name),
			 de->d_name);
		state_path(j, id, "done", path);
		f = fopen(path, "re");
		s = f ? stat_find(j, id, true) : NULL;
		if (s && fscanf(f,
				"%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				" %" SCNu64 " %" SCNu64,
				&s->total, &s->transformed, &s->skipped,
				&s->failed, &s->bytes_in, &s->bytes_out) == 6)
			s->done = true;
		else if (s)
			s->used = false;
		if (f)
			fclose(f);
	}
	closedir(dir);
}

int jobs_new(struct aisd *d, struct jobs **out, char *errmsg)
{
	struct jobs *j = calloc(1, sizeof(*j));
	int rc;

	if (!j)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	j->d = d;
	snprintf(j->dir, sizeof(j->dir), "%s/.ais/etl-jobs",
		 d->store->mps->paths[0]);
	if (mkdir(j->dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		free(j);
		return ais_errf(errmsg, rc, "%s: %s", j->dir, strerror(-rc));
	}
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	load_done(j);
	*out = j;
	return 0;
}

void jobs_free(struct jobs *j)
{
	if (!j)
		return;
	cluster_map_put(j->latest);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

void jobs_follow(struct jobs *j, struct cluster_map *cm)
{
	bool gone = true;

	__atomic_add_fetch(&cm->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&j->mu);
	cluster_map_put(j->latest);
	j->latest = cm;
	j->changed = true;
	for (size_t i = 0; j->running[0] && i < cm->njobs; i++)
		if (!strcmp(cm->jobs[i]->id, j->running) &&
		    !cm->jobs[i]->stopped)
			gone = false;
	if (j->running[0] && gone)
		atomic_store(&j->cancel, true);
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

/* ---- one object ------------------------------------------------------ */

/* --members: the name of the shard made of name (a .tar of the same name,
 * ".tar" for ".tgz", ".tar.gz" and ".tar.lz4"), or false for a name that
 * is no shard this job rewrites (zip, or not a shard). */
static bool shard_out_name(const char *name, char *out, size_t cap)
{
	static const char *const sfx[] = {".tar.gz", ".tgz", ".tar.lz4"};
	enum ais_shard_format f = ais_shard_format_from_name(name);
	size_t n = strlen(name);

	if (f == AIS_SHARD_TAR)
		return snprintf(out, cap, "%s", name) < (int)cap;
	if (f != AIS_SHARD_TGZ && f != AIS_SHARD_TLZ4)
		return false;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t k = strlen(sfx[i]);

		if (n > k && !strcasecmp(name + n - k, sfx[i]))
			return snprintf(out, cap, "%.*s.tar", (int)(n - k),
					name) < (int)cap;
	}
	return false;
}

/* The name a member (or, without --members, an object) gets after the
 * transform with --ext, or false when ext_from does not match. */
static bool ext_name(const Ais__EtlJob *job, const char *name, char *out,
		     size_t cap)
{
	size_t n = strlen(name), f = strlen(job->ext_from);

	if (!f)
		return snprintf(out, cap, "%s", name) < (int)cap;
	if (n <= f + 1 || name[n - f - 1] != '.' ||
	    strcmp(name + n - f, job->ext_from) != 0)
		return false;
	return snprintf(out, cap, "%.*s%s", (int)(n - f), name, job->ext_to) <
	       (int)cap;
}

/* The name the output of name gets, or false when the job skips name. */
static bool dst_name(const Ais__EtlJob *job, const char *name, char *out,
		     size_t cap)
{
	size_t n = strlen(name), f = strlen(job->ext_from);

	if (strncmp(name, job->prefix, strlen(job->prefix)) != 0)
		return false;
	if (job->members)
		return shard_out_name(name, out, cap);
	if (!f) {
		snprintf(out, cap, "%s", name);
		return true;
	}
	if (n <= f + 1 || name[n - f - 1] != '.' ||
	    strcmp(name + n - f, job->ext_from) != 0)
		return false;
	return snprintf(out, cap, "%.*s%s", (int)(n - f), name, job->ext_to) <
	       (int)cap;
}

static void fail(struct run *r, const char *name, int rc, const char *why)
{
	struct jobs *j = r->j;

	if (atomic_load(&j->closing))
		return;
	ais_log(LOG_WARNING, "etl job %s: %s/%s: %s", r->job->id,
		r->job->src_bucket, name, why);
	etl_note_error(j->d->etl, r->job->etl, r->job->src_bucket, name, why,
		       r->job->id);
	pthread_mutex_lock(&j->mu);
	r->s->failed++;
	snprintf(r->s->last_error, sizeof(r->s->last_error), "%s: %s", name,
		 why);
	pthread_mutex_unlock(&j->mu);
	if (!r->job->continue_on_error) {
		atomic_store(&r->fatal, true);
		atomic_store(&j->cancel, true);
	}
	(void)rc;
}

/* Whether dst_bucket/dst at owner was written by this job already. */
static bool already_there(struct run *r, const struct ais_node *owner,
			  uint64_t mapv, const char *dst)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp;
	char errmsg[AIS_ERRMSG_LEN];
	bool there;

	req.op = AIS__OP__OP_HEAD;
	req.bucket = r->job->dst_bucket;
	req.name = (char *)dst;
	req.map_version = mapv;
	if (peers_call(r->j->d->peers, owner, &req, &resp, errmsg))
		return false;
	there = resp->status == 0 && resp->meta &&
		(resp->meta->written_ns
		     ? resp->meta->written_ns
		     : resp->meta->mtime_ns) >= r->job->created_ns;
	ais__response__free_unpacked(resp, NULL);
	return there;
}

/* PUTs the output to dst's owner. 0 or -errno with errmsg. */
static int put_output(struct run *r, const struct ais_node *owner,
		      uint64_t mapv, const char *dst, struct etl_output *out,
		      char *errmsg)
{
	Ais__Request req = AIS__REQUEST__INIT;
	Ais__Response *resp;
	int fd = out->fd, rc;

	if (fd < 0) {
		/* In memory: staged in a file for the PUT's body. */
		fd = etl_spool_open(r->j->d->etl, errmsg);
		if (fd < 0)
			return fd;
		rc = out->size ? ais_write_all(fd, out->buf, out->size) : 0;
		if (rc) {
			close(fd);
			return ais_errf(errmsg, rc, "staging the output: %s",
					strerror(-rc));
		}
	}
	req.op = AIS__OP__OP_PUT;
	req.bucket = r->job->dst_bucket;
	req.name = (char *)dst;
	req.map_version = mapv;
	rc = peers_put_fd(r->j->d->peers, owner, &req, fd, 0, out->size, &resp,
			  errmsg);
	if (fd != out->fd)
		close(fd);
	if (rc)
		return rc;
	rc = resp->status;
	if (rc)
		ais_errf(errmsg, rc, "PUT %s/%s at node %s: %s",
			 r->job->dst_bucket, dst, owner->id,
			 resp->message && resp->message[0] ? resp->message
							   : strerror(-rc));
	ais__response__free_unpacked(resp, NULL);
	return rc;
}

/* Errors of a PUT that another try may not have: the owner is down or
 * restarting, or the map moved on. */
static bool put_retryable(int rc)
{
	return rc == -ECONNREFUSED || rc == -EHOSTDOWN || rc == -ETIMEDOUT ||
	       rc == -ECONNRESET || rc == -EPIPE || rc == -EHOSTUNREACH ||
	       rc == -ENETUNREACH || rc == -EAGAIN || rc == -EREMOTE ||
	       rc == -ECONNABORTED;
}

/* PUTs out as dst, waiting up to JOB_PUT_WAIT_S for an owner that does
 * not answer (restarting, or about to be marked down and replaced). */
static int put_waiting(struct run *r, const char *dst, struct etl_output *out,
		       char *errmsg)
{
	uint64_t deadline =
	    ais_now_mono_ns() + (uint64_t)JOB_PUT_WAIT_S * 1000000000ull;
	int rc;

	for (;;) {
		struct cluster_map *cm = cluster_map_get(r->j->d->cluster);
		const struct ais_node *owner =
		    ais_map_owner(cm->m, r->job->dst_bucket, dst);

		rc = owner ? put_output(r, owner, cm->m->version, dst, out,
					errmsg)
			   : ais_errf(errmsg, -EHOSTDOWN, "no node takes data");
		cluster_map_put(cm);
		if (!rc || !put_retryable(rc) || ais_now_mono_ns() >= deadline)
			return rc;
		for (int i = 0; i < 10; i++) {
			if (atomic_load(&r->j->cancel))
				return rc;
			usleep(100000);
		}
	}
}

/* etl_run, asked again while the node runs as many transforms as it may
 * (GETs through transforms share them with jobs). */
static int run_waiting(struct run *r, const Ais__EtlSpec *spec,
		       const char *name, int fd, uint64_t off, uint64_t len,
		       struct etl_output *out, char *errmsg)
{
	unsigned ms = 5;
	int rc;

	for (;;) {
		rc = etl_run(r->j->d->etl, (Ais__EtlSpec *)spec,
			     r->job->src_bucket, name, r->job->etl_args, fd,
			     off, len, out, errmsg);
		if (rc != -EBUSY || atomic_load(&r->j->cancel))
			return rc;
		usleep(ms * 1000);
		if (ms < 200)
			ms *= 2;
	}
}

static int stage_write(void *arg, const void *buf, size_t len)
{
	return ais_write_all(*(int *)arg, buf, len);
}

/* Writes len bytes of fd from off (or of buf, when fd < 0) as the data of
 * the entry just written to a. */
static int entry_data(struct archive *a, int fd, uint64_t off, const char *buf,
		      uint64_t len, char *errmsg)
{
	char chunk[65536];

	for (uint64_t done = 0; done < len;) {
		size_t step = len - done < sizeof(chunk) ? (size_t)(len - done)
							 : sizeof(chunk);
		const char *p = buf ? buf + done : chunk;
		ssize_t n = (ssize_t)step;

		if (!buf) {
			n = pread(fd, chunk, step, (off_t)(off + done));
			if (n <= 0)
				return ais_errf(errmsg, n < 0 ? -errno : -EIO,
						"reading: %s",
						n < 0 ? strerror(errno)
						      : "short file");
		}
		if (archive_write_data(a, p, (size_t)n) != n)
			return ais_errf(errmsg, -EIO, "writing the shard: %s",
					archive_error_string(a));
		done += (uint64_t)n;
	}
	return 0;
}

struct by_off {
	uint64_t off;
	size_t i;
};

static int cmp_off(const void *a, const void *b)
{
	const struct by_off *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* One member of a shard being remade: transformed (or copied) into a. */
static int remake_member(struct run *r, const Ais__EtlSpec *spec,
			 const char *shard, int fd,
			 const struct ais_shard_index *idx,
			 const struct ais_shard_member *mb, struct archive *a,
			 char *errmsg)
{
	struct aisd *d = r->j->d;
	struct archive_entry *e = archive_entry_new();
	struct etl_output out = {.fd = -1};
	char path[AIS_NAME_MAX * 5], full[AIS_NAME_MAX * 6];
	uint64_t off = 0, len = mb->size;
	int in = fd, staged = -1, rc = 0;
	bool through;

	if (!e)
		return ais_errf(errmsg, -ENOMEM, "out of memory");
	archive_entry_set_mtime(e, mb->mtime, 0);
	archive_entry_set_perm(e, mb->mode & 07777);
	if (mb->type == AIS_SHARD_DIR || mb->type == AIS_SHARD_SYMLINK) {
		archive_entry_set_pathname(e, mb->path);
		archive_entry_set_filetype(
		    e, mb->type == AIS_SHARD_DIR ? AE_IFDIR : AE_IFLNK);
		if (mb->type == AIS_SHARD_SYMLINK)
			archive_entry_set_symlink(e, mb->link);
		if (archive_write_header(a, e) != ARCHIVE_OK)
			rc = ais_errf(errmsg, -EIO, "member %s: %s", mb->path,
				      archive_error_string(a));
		archive_entry_free(e);
		return rc;
	}
	/* Its bytes: a range of the shard, or decoded into a file. */
	if (!ais_shard_member_range(idx, mb, &off)) {
		staged = etl_spool_open(d->etl, errmsg);
		if (staged < 0) {
			archive_entry_free(e);
			return staged;
		}
		rc = shard_member_read(d->shards, fd, idx, mb, 0, mb->size,
				       stage_write, &staged, errmsg);
		in = staged;
		off = 0;
	}
	through = ext_name(r->job, mb->path, path, sizeof(path));
	if (!rc && through) {
		snprintf(full, sizeof(full), "%s/%s", shard, mb->path);
		rc = run_waiting(r, spec, full, in, off, len, &out, errmsg);
	} else if (!through) {
		snprintf(path, sizeof(path), "%s", mb->path);
	}
	if (!rc) {
		archive_entry_set_pathname(e, path);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_size(e,
				       (la_int64_t)(through ? out.size : len));
		if (archive_write_header(a, e) != ARCHIVE_OK)
			rc = ais_errf(errmsg, -EIO, "member %s: %s", path,
				      archive_error_string(a));
	}
	if (!rc && through)
		rc = entry_data(a, out.fd, 0, out.fd < 0 ? out.buf : NULL,
				out.size, errmsg);
	else if (!rc)
		rc = entry_data(a, in, off, NULL, len, errmsg);
	etl_output_free(&out);
	if (staged >= 0)
		close(staged);
	archive_entry_free(e);
	return rc;
}

/* --members: the shard on fd remade member by member, in their order in
 * it, into an uncompressed tar in a spool file (*res). */
static int remake_shard(struct run *r, const Ais__EtlSpec *spec,
			const char *name, int fd, const struct ais_obj_meta *m,
			struct etl_output *res, char *errmsg)
{
	struct aisd *d = r->j->d;
	struct shard_ref *ref = NULL;
	struct archive *a = NULL;
	struct by_off *order = NULL;
	size_t n, k = 0;
	int out = -1, rc;
	off_t end;

	rc =
	    shard_get(d->shards, r->job->src_bucket, name, fd, m, &ref, errmsg);
	if (rc)
		return rc;
	n = ais_shard_index_count(ref->idx);
	order = calloc(n ? n : 1, sizeof(*order));
	if (!order) {
		rc = ais_errf(errmsg, -ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		struct ais_shard_member mb;

		if (ais_shard_index_at(ref->idx, i, &mb) ||
		    (mb.flags & AIS_SHARD_F_IMPLICIT) ||
		    mb.type == AIS_SHARD_OTHER)
			continue;
		order[k].off = mb.header_off;
		order[k++].i = i;
	}
	qsort(order, k, sizeof(*order), cmp_off);
	out = etl_spool_open(d->etl, errmsg);
	if (out < 0) {
		rc = out;
		goto done;
	}
	a = archive_write_new();
	if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, out) != ARCHIVE_OK) {
		rc = ais_errf(errmsg, -ENOMEM, "cannot write a tar: %s",
			      a ? archive_error_string(a) : "out of memory");
		goto done;
	}
	for (size_t i = 0; i < k && !rc; i++) {
		struct ais_shard_member mb;

		if (atomic_load(&r->j->cancel)) {
			rc = ais_errf(errmsg, -ECANCELED, "cancelled");
			break;
		}
		rc = ais_shard_index_at(ref->idx, order[i].i, &mb);
		if (!rc)
			rc = remake_member(r, spec, name, fd, ref->idx, &mb, a,
					   errmsg);
	}
	if (!rc && archive_write_close(a) != ARCHIVE_OK)
		rc = ais_errf(errmsg, -EIO, "writing the shard: %s",
			      archive_error_string(a));
	if (!rc && ((end = lseek(out, 0, SEEK_END)) < 0 ||
		    lseek(out, 0, SEEK_SET) < 0))
		rc = ais_errf(errmsg, -errno, "%s", strerror(errno));
	if (!rc) {
		res->fd = out;
		res->size = (uint64_t)end;
		out = -1;
	}
done:
	if (a)
		archive_write_free(a);
	if (out >= 0)
		close(out);
	free(order);
	shard_ref_put(ref);
	return rc;
}

static void one(struct run *r, const char *name, uint8_t *scratch)
{
	struct aisd *d = r->j->d;
	const Ais__EtlJob *job = r->job;
	char dst[AIS_NAME_MAX + 64], errmsg[AIS_ERRMSG_LEN] = "";
	struct cluster_map *cm = cluster_map_get(d->cluster);
	const Ais__EtlSpec *spec = cluster_etl_find(cm, job->etl);
	const struct ais_node *owner;
	struct etl_output out = {.fd = -1};
	struct ais_obj_meta m;
	int fd, rc;

	if (!dst_name(job, name, dst, sizeof(dst)) ||
	    ais_map_copy_rank(cm->m, job->src_bucket, name, r->self) != 0)
		goto out; /* not this node's (any more) */
	if (!spec || spec->stopped) {
		fail(r, name, -ENOENT,
		     spec ? "the transform is stopped"
			  : "the transform was removed");
		atomic_store(&r->fatal, true);
		atomic_store(&r->j->cancel, true);
		goto out;
	}
	owner = ais_map_owner(cm->m, job->dst_bucket, dst);
	if (!owner) {
		fail(r, name, -EHOSTDOWN, "no node takes data");
		goto out;
	}
	if (r->resume && !job->dry_run &&
	    already_there(r, owner, cm->m->version, dst)) {
		pthread_mutex_lock(&r->j->mu);
		r->s->skipped++;
		pthread_mutex_unlock(&r->j->mu);
		goto out;
	}
	rc = store_open(d->store, job->src_bucket, name, &fd, &m, errmsg);
	if (rc == -ENOENT)
		goto out; /* deleted since the count */
	if (rc) {
		fail(r, name, rc, errmsg);
		goto out;
	}
	/* A corrupt copy is never fed to a transform. */
	if (d->store->verify)
		rc = blk_verify(d->store->mps, d->store->blk, fd, &m, 0, m.size,
				scratch, false, errmsg);
	if (!rc && job->members)
		rc = remake_shard(r, spec, name, fd, &m, &out, errmsg);
	else if (!rc)
		rc = run_waiting(r, spec, name, fd, 0, m.size, &out, errmsg);
	close(fd);
	if (!rc && !job->dry_run)
		rc = put_waiting(r, dst, &out, errmsg);
	if (rc) {
		fail(r, name, rc, errmsg);
	} else {
		pthread_mutex_lock(&r->j->mu);
		r->s->transformed++;
		r->s->bytes_in += m.size;
		r->s->bytes_out += out.size;
		pthread_mutex_unlock(&r->j->mu);
	}
	etl_output_free(&out);
out:
	cluster_map_put(cm);
}

static void *worker(void *arg)
{
	struct run *r = arg;
	uint8_t *scratch = malloc(BLK_SCRATCH);
	char *name;

	for (;;) {
		pthread_mutex_lock(&r->qmu);
		while (!r->qlen && !r->qdone)
			pthread_cond_wait(&r->qready, &r->qmu);
		if (!r->qlen) {
			pthread_mutex_unlock(&r->qmu);
			break;
		}
		name = r->q[r->qhead];
		r->qhead = (r->qhead + 1) % QUEUE_CAP;
		r->qlen--;
		pthread_cond_signal(&r->qroom);
		pthread_mutex_unlock(&r->qmu);
		if (scratch && !atomic_load(&r->j->cancel))
			one(r, name, scratch);
		else if (!scratch)
			fail(r, name, -ENOMEM, "out of memory");
		free(name);
	}
	free(scratch);
	return NULL;
}

/* The walk's callback: counts (first pass) or queues (second). */
static int visit(void *arg, const char *bucket, const char *name, int mp)
{
	struct run *r = arg;
	char dst[AIS_NAME_MAX + 64];
	char *copy;

	(void)mp;
	if (strcmp(bucket, r->job->src_bucket) ||
	    !dst_name(r->job, name, dst, sizeof(dst)))
		return 0;
	if (r->counting) {
		struct cluster_map *cm = cluster_map_get(r->j->d->cluster);
		bool mine =
		    ais_map_copy_rank(cm->m, bucket, name, r->self) == 0;

		cluster_map_put(cm);
		if (mine) {
			pthread_mutex_lock(&r->j->mu);
			r->s->total++;
			pthread_mutex_unlock(&r->j->mu);
		}
		return 0;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&r->qmu);
	while (r->qlen == QUEUE_CAP && !atomic_load(&r->j->cancel))
		pthread_cond_wait(&r->qroom, &r->qmu);
	if (atomic_load(&r->j->cancel)) {
		pthread_mutex_unlock(&r->qmu);
		free(copy);
		return -ECANCELED;
	}
	r->q[(r->qhead + r->qlen) % QUEUE_CAP] = copy;
	r->qlen++;
	pthread_cond_signal(&r->qready);
	pthread_mutex_unlock(&r->qmu);
	return 0;
}

static void walk_all(struct run *r)
{
	const struct mpset *mps = r->j->d->store->mps;

	for (size_t i = 0; i < mps->n && !atomic_load(&r->j->cancel); i++)
		(void)walk_mountpath(mps->paths[i], (int)i, visit, r,
				     &r->j->cancel);
}

static void write_done(struct jobs *j, const struct jstat *s)
{
	char path[AISD_PATH_MAX], text[256];
	int n = snprintf(text, sizeof(text),
			 "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			 " %" PRIu64 " %" PRIu64 "\n",
			 s->total, s->transformed, s->skipped, s->failed,
			 s->bytes_in, s->bytes_out);

	state_path(j, s->id, "done", path);
	if (ais_file_replace(path, text, (size_t)n, 0644) < 0)
		ais_log(LOG_WARNING, "etl job %s: %s: %m", s->id, path);
}

/* Runs job here until done or cancelled. */
static void run_job(struct jobs *j, Ais__EtlJob *job, struct jstat *s)
{
	struct run r = {.j = j, .job = job, .s = s};
	struct jstat done_copy;
	char path[AISD_PATH_MAX];
	pthread_t th[JOB_THREADS];
	unsigned nth = 4, started = 0;
	struct cluster_map *cm;
	const Ais__EtlSpec *spec;
	struct stat sb;
	int fd;

	r.self = cluster_self(j->d->cluster)->id;
	state_path(j, job->id, "started", path);
	r.resume = stat(path, &sb) == 0;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	cm = cluster_map_get(j->d->cluster);
	spec = cluster_etl_find(cm, job->etl);
	if (spec && spec->mode == AIS__ETL_MODE__ETL_WORKER)
		nth = spec->workers ? spec->workers : ETL_WORKERS_DEFAULT;
	cluster_map_put(cm);
	if (nth > JOB_THREADS)
		nth = JOB_THREADS;
	ais_log(LOG_NOTICE, "etl job %s: %s ais://%s/%s -> ais://%s%s", job->id,
		r.resume ? "resumed" : "started", job->src_bucket, job->prefix,
		job->dst_bucket, job->dry_run ? " (dry run)" : "");
	pthread_mutex_init(&r.qmu, NULL);
	pthread_cond_init(&r.qready, NULL);
	pthread_cond_init(&r.qroom, NULL);

	r.counting = true;
	walk_all(&r);
	r.counting = false;
	for (; started < nth; started++)
		if (pthread_create(&th[started], NULL, worker, &r))
			break;
	if (started)
		walk_all(&r);
	pthread_mutex_lock(&r.qmu);
	r.qdone = true;
	pthread_cond_broadcast(&r.qready);
	pthread_mutex_unlock(&r.qmu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	/* Whatever a cancelled walk left queued. */
	while (r.qlen) {
		free(r.q[r.qhead]);
		r.qhead = (r.qhead + 1) % QUEUE_CAP;
		r.qlen--;
	}
	pthread_cond_destroy(&r.qroom);
	pthread_cond_destroy(&r.qready);
	pthread_mutex_destroy(&r.qmu);

	pthread_mutex_lock(&j->mu);
	s->running = false;
	if (!started) {
		s->stopped = true;
		snprintf(s->last_error, sizeof(s->last_error),
			 "cannot start threads");
	} else if (!atomic_load(&j->closing) &&
		   (atomic_load(&r.fatal) || !atomic_load(&j->cancel))) {
		/* Finished, or ended by its own failure (then the job is
		 * stopped everywhere: below). */
		s->done = !atomic_load(&r.fatal);
		s->stopped = atomic_load(&r.fatal);
	} else {
		s->stopped = !j->stopping;
	}
	done_copy = *s;
	pthread_mutex_unlock(&j->mu);
	/* Outside j->mu: the Raft thread takes it (jobs_follow). */
	if (done_copy.done)
		write_done(j, &done_copy);
	ais_log(LOG_NOTICE,
		"etl job %s: %s here: %" PRIu64 " transformed, %" PRIu64
		" skipped, %" PRIu64 " failed of %" PRIu64,
		job->id, s->done ? "done" : "stopped", s->transformed,
		s->skipped, s->failed, s->total);
	if (atomic_load(&r.fatal)) {
		char errmsg[AIS_ERRMSG_LEN];

		/* The first failure stops the job everywhere. */
		if (cluster_job_stop(j->d->cluster, job->id, errmsg) &&
		    !strstr(errmsg, "no job"))
			ais_log(LOG_WARNING, "etl job %s: stopping it: %s",
				job->id, errmsg);
	}
}

/* Under j->mu: forgets the jobs the metadata no longer has, marks those
 * it stopped, and picks the next to run (a copy), or NULL. */
static Ais__EtlJob *next_job(struct jobs *j, const struct cluster_map *cm,
			     struct jstat **sp)
{
	Ais__EtlJob *pick = NULL;

	for (size_t i = 0; i < STATS_MAX; i++) {
		struct jstat *s = &j->st[i];
		bool known = false;

		if (!s->used)
			continue;
		for (size_t k = 0; k < cm->njobs && !known; k++)
			known = !strcmp(cm->jobs[k]->id, s->id);
		if (!known && j->nforget < STATS_MAX) {
			/* Its files go after j->mu is released. */
			snprintf(j->forget[j->nforget++], ID_MAX, "%s", s->id);
			s->used = false;
		}
	}
	for (size_t k = 0; k < cm->njobs && !pick; k++) {
		const Ais__EtlJob *job = cm->jobs[k];
		struct jstat *s = stat_find(j, job->id, !job->stopped);

		if (job->stopped) {
			if (s && !s->done)
				s->stopped = true;
			continue;
		}
		if (!s || s->done || s->stopped)
			continue;
		pick = (Ais__EtlJob *)ais_pb_dup(&job->base);
		if (pick) {
			memset(s, 0, sizeof(*s));
			s->used = true;
			snprintf(s->id, sizeof(s->id), "%s", job->id);
			s->running = true;
			*sp = s;
		}
	}
	return pick;
}

static void *jobs_main(void *arg)
{
	struct jobs *j = arg;
	Ais__EtlJob *job;
	struct jstat *s = NULL;

	for (;;) {
		struct cluster_map *cm;

		pthread_mutex_lock(&j->mu);
		/* Not cluster_map_get under j->mu: the thread that publishes
		 * snapshots may hold its lock while it calls jobs_follow. */
		while (!j->latest && !j->stopping)
			pthread_cond_wait(&j->cv, &j->mu);
		cm = j->latest;
		if (cm)
			__atomic_add_fetch(&cm->refs, 1, __ATOMIC_ACQ_REL);
		if (j->stopping) {
			pthread_mutex_unlock(&j->mu);
			cluster_map_put(cm);
			break;
		}
		j->changed = false;
		job = next_job(j, cm, &s);
		if (job) {
			/* Before j->mu is let go: a stop from now on cancels
			 * it. */
			snprintf(j->running, sizeof(j->running), "%s", job->id);
			atomic_store(&j->cancel, false);
		}
		while (j->nforget) {
			char id[ID_MAX], path[AISD_PATH_MAX];

			snprintf(id, sizeof(id), "%s", j->forget[--j->nforget]);
			pthread_mutex_unlock(&j->mu);
			state_path(j, id, "done", path);
			unlink(path);
			state_path(j, id, "started", path);
			unlink(path);
			pthread_mutex_lock(&j->mu);
		}
		if (!job) {
			while (!j->changed && !j->stopping)
				pthread_cond_wait(&j->cv, &j->mu);
			pthread_mutex_unlock(&j->mu);
			cluster_map_put(cm);
			continue;
		}
		pthread_mutex_unlock(&j->mu);
		cluster_map_put(cm);
		run_job(j, job, s);
		ais__etl_job__free_unpacked(job, NULL);
		pthread_mutex_lock(&j->mu);
		j->running[0] = '\0';
		pthread_mutex_unlock(&j->mu);
	}
	return NULL;
}

int jobs_start(struct jobs *j)
{
	int rc = pthread_create(&j->thread, NULL, jobs_main, j);

	if (rc)
		return -rc;
	j->started = true;
	return 0;
}

void jobs_stop(struct jobs *j)
{
	if (!j || !j->started)
		return;
	atomic_store(&j->closing, true);
	pthread_mutex_lock(&j->mu);
	j->stopping = true;
	atomic_store(&j->cancel, true);
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	j->started = false;
}

int jobs_status(struct jobs *j, Ais__EtlJobStatus ***out, size_t *n)
{
	Ais__EtlJobStatus **v = calloc(STATS_MAX, sizeof(*v));
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (!v)
		return -ENOMEM;
	pthread_mutex_lock(&j->mu);
	for (size_t i = 0; i < STATS_MAX; i++) {
		const struct jstat *s = &j->st[i];
		Ais__EtlJobStatus *o;
		bool kept = false;

		if (!s->used)
			continue;
		/* A job removed is not shown, even before the thread forgets
		 * it. */
		for (size_t k = 0; j->latest && k < j->latest->njobs && !kept;
		     k++)
			kept = !strcmp(j->latest->jobs[k]->id, s->id);
		if (!kept)
			continue;
		o = calloc(1, sizeof(*o));
		if (!o)
			break;
		ais__etl_job_status__init(o);
		o->id = strdup(s->id);
		o->last_error = strdup(s->last_error);
		if (!o->id || !o->last_error) {
			free(o->id);
			free(o->last_error);
			free(o);
			break;
		}
		o->running = s->running;
		o->done = s->done;
		o->stopped = s->stopped;
		o->total = s->total;
		o->transformed = s->transformed;
		o->skipped = s->skipped;
		o->failed = s->failed;
		o->bytes_in = s->bytes_in;
		o->bytes_out = s->bytes_out;
		v[k++] = o;
	}
	pthread_mutex_unlock(&j->mu);
	*out = v;
	*n = k;
	return 0;
}

void jobs_status_free(Ais__EtlJobStatus **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i]->id);
		free(v[i]->last_error);
		free(v[i]);
	}
	free(v);
}
