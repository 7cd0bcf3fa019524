/* S3 requests on objects: GetObject (ranges, conditions, response-*
 * overrides, shard members with ?archpath=), HeadObject, PutObject,
 * CopyObject, DeleteObject, DeleteObjects. A GET of an object whose first
 * copy is on this node is sent from its file with sendfile(2), its blocks
 * checked first; everything else goes through the cluster client to the
 * owner, streamed both ways. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "map.h"
#include "fileio.h"
#include "names.h"

#include "cluster/cluster.h"
#include "move/move.h"
#include "s3/s3_i.h"
#include "store/blocks.h"
#include "store/mountpath.h"
#include "store/store.h"
#include "store/xattr.h"

#define VERIFY_CHUNK (4u << 20)
#define XML_HEAD     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_NS	     "http://s3.amazonaws.com/doc/2006-03-01/"

/* ---- metadata --------------------------------------------------------- */

/* The request's headers to keep, as an encoded ObjExt into out
 * (AIS_OBJ_EXT_MAX): its length, or the error answered (< 0). */
long s3_ext_from_request(struct s3_req *r, uint8_t *out)
{
	Ais__ObjExt x = AIS__OBJ_EXT__INIT;
	Ais__ExtHeader hv[S3_HDRS_MAX], *hp[S3_HDRS_MAX];
	size_t meta = 0, i;

	for (i = 0; i < r->nh; i++) {
		const char *n = r->h[i].name;
		bool keep = ais_obj_ext_header_kept(n);

		/* aws-chunked is how the body came, not what it is. */
		if (!strcmp(n, "content-encoding") &&
		    strcasestr(r->h[i].value, "aws-chunked"))
			keep = false;
		if (!keep)
			continue;
		if (!ais_obj_ext_header_ok(n, r->h[i].value))
			return s3_error(r, 400, "InvalidArgument",
					"header %.64s may not be kept as "
					"metadata (a name of letters, digits "
					"and '-', a value of at most 4096 "
					"bytes without control characters)",
					n);
		if (!strncmp(n, "x-amz-meta-", 11))
			meta += strlen(n) - 11 + strlen(r->h[i].value);
		ais__ext_header__init(&hv[x.n_headers]);
		hv[x.n_headers].name = (char *)n;
		hv[x.n_headers].value = (char *)r->h[i].value;
		hp[x.n_headers] = &hv[x.n_headers];
		x.n_headers++;
	}
	if (meta > S3_META_MAX)
		return s3_error(r, 400, "MetadataTooLarge",
				"Your metadata headers exceed the maximum "
				"allowed metadata size (%d bytes)",
				S3_META_MAX);
	if (!x.n_headers)
		return 0;
	x.headers = hp;
	if (ais__obj_ext__get_packed_size(&x) > AIS_OBJ_EXT_MAX)
		return s3_error(r, 400, "MetadataTooLarge",
				"the headers to keep are over %d bytes",
				AIS_OBJ_EXT_MAX);
	return (long)ais__obj_ext__pack(&x, out);
}

/* "Name: value\r\n" to h (cap HDRS_MAX) at *len. */
static void hdr(char *h, size_t *len, const char *name, const char *value)
{
	int n = snprintf(h + *len, HDRS_MAX - *len, "%s: %s\r\n", name, value);

	if (n > 0 && (size_t)n < HDRS_MAX - *len)
		*len += (size_t)n;
}

void s3_object_headers(struct s3_req *r, const struct ais_obj_meta *m,
		       const uint8_t *ext, size_t ext_len, const char *etag,
		       char *h, size_t *len)
{
	static const char *const over[][2] = {
	    {"response-content-type", "Content-Type"},
	    {"response-content-language", "Content-Language"},
	    {"response-expires", "Expires"},
	    {"response-cache-control", "Cache-Control"},
	    {"response-content-disposition", "Content-Disposition"},
	    {"response-content-encoding", "Content-Encoding"},
	};
	Ais__ObjExt *x =
	    ext_len ? ais__obj_ext__unpack(NULL, ext_len, ext) : NULL;
	char date[64];
	bool have_type = false;
	size_t i, k;

	s3_http_date(m->mtime_ns, date, sizeof(date));
	hdr(h, len, "Last-Modified", date);
	hdr(h, len, "ETag", etag);
	hdr(h, len, "Accept-Ranges", "bytes");
	for (i = 0; x && i < x->n_headers; i++) {
		const char *n = x->headers[i]->name;
		bool overridden = false;

		/* Checked when stored; never a header of ours in doubt. */
		if (!ais_obj_ext_header_ok(n, x->headers[i]->value))
			continue;
		for (k = 0; k < sizeof(over) / sizeof(over[0]); k++)
			if (!strcasecmp(n, over[k][1]) &&
			    s3_query(r, over[k][0]))
				overridden = true;
		if (overridden)
			continue;
		if (!strcmp(n, "content-type"))
			have_type = true;
		hdr(h, len, n, x->headers[i]->value);
	}
	for (k = 0; k < sizeof(over) / sizeof(over[0]); k++) {
		const char *v = s3_query(r, over[k][0]);

		if (!v || strpbrk(v, "\r\n"))
			continue;
		if (k == 0)
			have_type = true;
		hdr(h, len, over[k][1], v);
	}
	if (!have_type)
		hdr(h, len, "Content-Type", "binary/octet-stream");
	if (x)
		ais__obj_ext__free_unpacked(x, NULL);
}

/* ---- conditions and ranges ------------------------------------------- */

/* Whether etag (quoted) is in a list of ETags ("*" matches any). */
static bool etag_in(const char *list, const char *etag)
{
	size_t el = strlen(etag) - 2; /* without the quotes */
	const char *p = list;

	while (*p) {
		const char *e;
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		if (*p == '*')
			return true;
		if (!strncmp(p, "W/", 2))
			p += 2;
		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		while (n && p[n - 1] == ' ')
			n--;
		if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
			p++;
			n -= 2;
		}
		if (n == el && !strncmp(p, etag + 1, el))
			return true;
		p += n;
		if (*p == '"')
			p++;
	}
	return false;
}

/* RFC 9110's order: 0 to go on, else 304 or 412. prefix: the headers'
 * prefix ("if-" or "x-amz-copy-source-if-"). */
int s3_conditions(struct s3_req *r, const char *prefix, const char *etag,
		  int64_t mtime_ns, bool get)
{
	char name[64];
	const char *im, *inm, *ims, *ius;
	int64_t t, sec = mtime_ns / 1000000000;

	snprintf(name, sizeof(name), "%smatch", prefix);
	im = s3_header(r, name);
	snprintf(name, sizeof(name), "%snone-match", prefix);
	inm = s3_header(r, name);
	snprintf(name, sizeof(name), "%smodified-since", prefix);
	ims = s3_header(r, name);
	snprintf(name, sizeof(name), "%sunmodified-since", prefix);
	ius = s3_header(r, name);
	if (im && !etag_in(im, etag))
		return 412;
	if (!im && ius && (t = s3_parse_http_date(ius)) >= 0 &&
	    sec > t / 1000000000)
		return 412;
	if (inm && etag_in(inm, etag))
		return get ? 304 : 412;
	if (!inm && ims && get && (t = s3_parse_http_date(ims)) >= 0 &&
	    sec <= t / 1000000000)
		return 304;
	return 0;
}

/* Answers a failed condition. */
static void condition_failed(struct s3_req *r, int status, const char *etag,
			     const struct ais_obj_meta *m)
{
	char h[512], date[64];

	if (status == 304) {
		s3_http_date(m->mtime_ns, date, sizeof(date));
		snprintf(h, sizeof(h), "ETag: %s\r\nLast-Modified: %s\r\n",
			 etag, date);
		s3_send_head(r, 304, h, -1, false);
		return;
	}
	s3_error(r, 412, "PreconditionFailed",
		 "At least one of the pre-conditions you specified did not "
		 "hold");
}

int s3_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	unsigned long long a, b;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &end, 10);
		if (*end || end == h + 1)
			return 0;
		if (!b || !size)
			return -1;
		*len = b < size ? b : size;
		*off = size - *len;
		return 1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-')
		return 0;
	h = end + 1;
	if (!*h) {
		b = size ? size - 1 : 0;
	} else {
		b = strtoull(h, &end, 10);
		if (*end || b < a)
			return 0;
	}
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

/* ---- GET and HEAD ------------------------------------------------------ */

struct get_state {
	struct s3_req *r;
	bool head_only;
	bool ranged; /* a Range was given and holds */
	uint64_t off, len;
	uint8_t ext[AIS_OBJ_EXT_MAX];
	size_t ext_len;
	char etag[AIS_ETAG_MAX + 32];
	int answered;	       /* 0, or the status sent from on_head */
	struct ais_get_ext *x; /* a GET through the cluster's */
};

/* The head of a GET/HEAD answer: 200 or 206. */
static int send_object_head(struct s3_req *r, struct get_state *g,
			    const struct ais_obj_meta *m, uint64_t body_len,
			    uint64_t size)
{
	char *h = malloc(HDRS_MAX), cr[96];
	size_t hl = 0;
	int rc;

	if (!h)
		return -ENOMEM;
	h[0] = 0;
	s3_object_headers(r, m, g->ext, g->ext_len, g->etag, h, &hl);
	if (g->ranged) {
		snprintf(cr, sizeof(cr),
			 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, g->off,
			 g->off + body_len - 1, size);
		hdr(h, &hl, "Content-Range", cr);
	}
	rc = s3_send_head(r, g->ranged ? 206 : 200, h, (long long)body_len,
			  body_len > 0 && !g->head_only);
	free(h);
	return rc;
}

/* Conditions and range against the object's metadata: 0 to send, else
 * answered (> 0). */
static int judge(struct s3_req *r, struct get_state *g,
		 const struct ais_obj_meta *m, bool range_known)
{
	int st;

	s3_obj_etag(m, g->ext, g->ext_len, g->etag, sizeof(g->etag));
	st = s3_conditions(r, "if-", g->etag, m->mtime_ns, true);
	if (st) {
		condition_failed(r, st, g->etag, m);
		return st;
	}
	if (!range_known) {
		int rg = s3_parse_range(s3_header(r, "range"), m->size, &g->off,
					&g->len);

		if (rg < 0) {
			char h[96];

			snprintf(h, sizeof(h),
				 "Content-Range: bytes */%" PRIu64 "\r\n",
				 m->size);
			(void)h;
			s3_error(r, 416, "InvalidRange",
				 "The requested range is not satisfiable "
				 "(the object has %" PRIu64 " bytes)",
				 m->size);
			return 416;
		}
		g->ranged = rg == 1;
		if (!g->ranged) {
			g->off = 0;
			g->len = m->size;
		}
	}
	return 0;
}

/* Each worker thread's buffer for block checks (freed when it exits). */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_key_make(void)
{
	(void)pthread_key_create(&scratch_key, free);
}

static uint8_t *scratch_get(void)
{
	uint8_t *b;

	pthread_once(&scratch_once, scratch_key_make);
	b = pthread_getspecific(scratch_key);
	if (!b && (b = malloc(BLK_SCRATCH)) &&
	    pthread_setspecific(scratch_key, b)) {
		free(b);
		b = NULL;
	}
	return b;
}

/* The GET from this node's disk when it holds the object's first copy.
 * 0 answered (whole or broken off), 1 not here (the client's turn). */
static int get_local(struct s3_req *r, struct get_state *g)
{
	struct aisd *d = r->s->d;
	struct store *st = d->store;
	struct cluster_map *cm = cluster_map_get(d->cluster);
	const struct ais_node *owner, *self = cluster_self(d->cluster);
	struct ais_obj_meta m;
	char em[AIS_ERRMSG_LEN];
	uint8_t *scratch;
	uint64_t done = 0;
	bool mine;
	long n;
	int fd, rc;

	owner = ais_map_owner(cm->m, r->bucket, r->key);
	mine = owner && !strcmp(owner->id, self->id) &&
	       !(move_catching_up(d->move) &&
		 ais_map_copies(cm->m, r->bucket) > 1);
	cluster_map_put(cm);
	if (!mine || ais_name_check_object(r->key, strlen(r->key), em))
		return 1;
	if (store_open(st, r->bucket, r->key, &fd, &m, em))
		return 1;
	n = objext_read_fd(fd, g->ext, sizeof(g->ext));
	g->ext_len = n > 0 ? (size_t)n : 0;
	if (judge(r, g, &m, false)) {
		close(fd);
		return 0;
	}
	scratch = st->verify ? scratch_get() : NULL;
	if (st->verify && !scratch) {
		close(fd);
		return 1;
	}
	/* The first blocks are checked before the answer begins: a bad
	 * copy then goes to the owner's GET, which repairs it. */
	while (done < g->len || (!done && !g->len)) {
		uint64_t step =
		    g->len - done < VERIFY_CHUNK ? g->len - done : VERIFY_CHUNK;

		if (st->verify && step &&
		    (rc = blk_verify(st->mps, st->blk, fd, &m, g->off + done,
				     step, scratch, false, em))) {
			if (!done) {
				ais_log(LOG_WARNING,
					"S3 GET %s/%s: %s; reading it through "
					"the cluster",
					r->bucket, r->key, em);
				close(fd);
				return 1;
			}
			ais_log(LOG_ERR, "S3 GET %s/%s: %s; closing", r->bucket,
				r->key, em);
			r->close = true;
			break;
		}
		if (!done && send_object_head(r, g, &m, g->len, m.size)) {
			r->close = true;
			break;
		}
		if (g->head_only || !step)
			break;
		rc = sock_io_sendfile(&r->io, fd, (off_t)(g->off + done), step);
		if (rc) {
			ais_log(LOG_INFO, "%s: S3 GET %s/%s: sending: %s",
				r->c->peer, r->bucket, r->key,
				sock_io_strerror(rc));
			r->close = true;
			break;
		}
		done += step;
	}
	close(fd);
	return 0;
}

static int on_head(void *arg, const struct ais_obj_meta *m, uint64_t body_len)
{
	struct get_state *g = arg;
	struct s3_req *r = g->r;
	int st;

	g->ext_len = g->x->ext_len;
	st = judge(r, g, m, true);

	if (st) {
		g->answered = st;
		return -ECANCELED;
	}
	/* A range past the end (known now) is S3's 416. */
	if (g->ranged && g->off >= m->size) {
		s3_error(r, 416, "InvalidRange",
			 "The requested range is not satisfiable");
		g->answered = 416;
		return -ECANCELED;
	}
	if (!g->ranged)
		g->len = body_len;
	g->answered = 200;
	if (send_object_head(r, g, m, body_len, m->size))
		return -EPIPE;
	return 0;
}

static int on_body(void *arg, const void *buf, size_t len)
{
	struct get_state *g = arg;
	int rc = sock_io_write_all(&g->r->io, buf, len);

	if (rc)
		g->r->close = true;
	return rc;
}

static void get_object(struct s3_req *r, bool head_only)
{
	struct get_state *g = calloc(1, sizeof(*g));
	const char *archpath = s3_query(r, "archpath");
	struct ais_get_ext x = {0};
	struct ais_client *c;
	struct ais_obj_meta m;
	char em[AIS_ERRMSG_LEN] = "";
	int rc;

	if (!g) {
		s3_error(r, 500, "InternalError", "out of memory");
		return;
	}
	g->r = r;
	g->head_only = head_only;
	if (archpath && !archpath[0])
		archpath = NULL;
	if (!archpath && get_local(r, g) == 0)
		goto out;
	c = s3_client(r->s, em);
	if (!c) {
		s3_error(r, 503, "ServiceUnavailable", "%s", em);
		goto out;
	}
	if (head_only || (s3_header(r, "range") &&
			  !strncmp(s3_header(r, "range"), "bytes=-", 7))) {
		/* A HEAD, and a GET of the last N bytes (which needs the
		 * size first). */
		rc = ais_client_head_ext(c, r->bucket, r->key, archpath, &m,
					 g->ext, &g->ext_len, em);
		if (rc) {
			s3_error_errno(r, rc, em, false);
			goto out;
		}
		if (judge(r, g, &m, false))
			goto out;
		if (head_only) {
			send_object_head(r, g, &m, g->len, m.size);
			goto out;
		}
	} else if (s3_parse_range(s3_header(r, "range"), UINT64_MAX, &g->off,
				  &g->len) == 1) {
		g->ranged = true;
	}
	x.archpath = archpath;
	x.ext = g->ext;
	x.on_head = on_head;
	g->x = &x;
	rc = ais_client_get_ext_cb(c, r->bucket, r->key, g->off,
				   g->ranged ? g->len : 0, on_body, g, &x, NULL,
				   em);
	if (rc && !g->answered) {
		if (rc == -EINVAL && g->ranged)
			s3_error(r, 416, "InvalidRange",
				 "The requested range is not satisfiable");
		else
			s3_error_errno(r, rc, em, false);
	} else if (rc && g->answered == 200) {
		/* The head went out: a broken body is a closed
		 * connection. */
		ais_log(LOG_INFO, "S3 GET %s/%s: %s; closing", r->bucket,
			r->key, em);
		r->close = true;
	}
out:
	free(g);
}

/* ---- PUT --------------------------------------------------------------- */

int s3_spool(struct s3_req *r, struct s3_payload *p, int *fd, uint64_t *size)
{
	const struct mpset *mps = r->s->d->store->mps;
	char dir[AISD_PATH_MAX];
	uint8_t *buf = malloc(S3_BUF);
	ssize_t n;
	int rc = 0;

	*size = 0;
	snprintf(dir, sizeof(dir), "%s/.ais/tmp", mps->paths[0]);
	*fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (*fd < 0 || !buf) {
		free(buf);
		if (*fd >= 0)
			close(*fd);
		return s3_error(r, 500, "InternalError",
				"no work file for a body of unknown length: "
				"%s",
				strerror(errno));
	}
	while ((n = s3_payload_read(p, buf, S3_BUF)) > 0) {
		*size += (uint64_t)n;
		/* S3's largest single PUT: more needs a multipart upload. */
		if (*size > S3_PUT_MAX) {
			free(buf);
			close(*fd);
			*fd = -1;
			r->close = true;
			return s3_error(r, 400, "EntityTooLarge",
					"a body of unknown length over 5 GiB: "
					"use a multipart upload");
		}
		rc = ais_write_all(*fd, buf, (size_t)n);
		if (rc)
			break;
	}
	free(buf);
	if (n < 0 || rc) {
		close(*fd);
		*fd = -1;
		return n < 0
			   ? s3_payload_error(p, (int)n, NULL)
			   : s3_error_errno(r, rc, "spooling the body", false);
	}
	return 0;
}

ssize_t s3_put_src(void *arg, void *buf, size_t len)
{
	return s3_payload_read(arg, buf, len);
}

/* Content-MD5 (base64) as hex into out (33): 0, 1 none, -1 malformed. */
int s3_content_md5(struct s3_req *r, char out[33])
{
	const char *b64 = s3_header(r, "content-md5");
	uint8_t raw[64];
	int n;

	if (!b64)
		return 1;
	/* 16 bytes are 24 characters of base64: anything longer is refused
	 * before it is decoded. */
	if (strlen(b64) != 24)
		return -1;
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, 24);
	if (n != 18 || b64[22] != '=' || b64[23] != '=')
		return -1;
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static void put_object(struct s3_req *r)
{
	struct s3_payload p;
	struct ais_put_opts o = {0};
	struct ais_obj_meta m;
	struct ais_client *c;
	uint8_t *ext = NULL;
	char em[AIS_ERRMSG_LEN] = "", md5[33], h[128];
	long n;
	int rc;

	if (s3_need_bucket(r))
		return;
	rc = s3_content_md5(r, md5);
	if (rc < 0) {
		s3_error(r, 400, "InvalidDigest",
			 "The Content-MD5 you specified was invalid");
		return;
	}
	ext = malloc(AIS_OBJ_EXT_MAX);
	if (!ext) {
		s3_error(r, 500, "InternalError", "out of memory");
		return;
	}
	n = s3_ext_from_request(r, ext);
	if (n < 0 || s3_payload_open(r, &p)) {
		free(ext);
		return;
	}
	c = s3_client(r->s, em);
	if (!c) {
		s3_error(r, 503, "ServiceUnavailable", "%s", em);
		goto out;
	}
	/* The object's checksum is its MD5 (its ETag): the node checks
	 * Content-MD5 against it before the commit. */
	o.cksum_type = AIS_CKSUM_MD5;
	o.cksum = rc == 0 ? md5 : NULL;
	o.ext = ext;
	o.ext_len = (size_t)n;
	if (p.unknown) {
		/* Chunked with no length: the body first, then the PUT. */
		int fd;
		uint64_t size;

		if (s3_spool(r, &p, &fd, &size))
			goto out;
		rc = ais_client_put_fd(c, r->bucket, r->key, fd, size, &o, &m,
				       em);
		close(fd);
	} else {
		rc = ais_client_put_cb(c, r->bucket, r->key, p.total,
				       s3_put_src, &p, &o, &m, em);
	}
	if (rc) {
		s3_payload_error(&p, rc, em);
		goto out;
	}
	snprintf(h, sizeof(h), "ETag: \"%s\"\r\n", m.cksum);
	s3_send(r, 200, h, NULL, NULL, 0);
out:
	s3_payload_close(&p);
	free(ext);
}

/* ---- CopyObject ------------------------------------------------------- */

static void *copy_reader(void *arg)
{
	struct s3_copy *f = arg;

	f->rc = ais_client_get_fd(f->c, f->bucket, f->key, f->off, f->len,
				  f->wfd, &f->got_meta, f->em);
	close(f->wfd);
	return NULL;
}

/* The reader's end: 0 if it read the version the HEAD saw, whole. */
static int copy_reader_end(struct s3_copy *f)
{
	if (!f->joined) {
		pthread_join(f->thr, NULL);
		f->joined = true;
	}
	if (f->rc)
		return f->rc;
	if (f->got_meta.version != f->version ||
	    f->got_meta.written_ns != f->written_ns)
		return ais_errf(f->em, -EIO,
				"the source %s/%s changed during the copy",
				f->bucket, f->key);
	return 0;
}

ssize_t s3_copy_src(void *arg, void *buf, size_t len)
{
	struct s3_copy *f = arg;
	ssize_t n;
	bool more;
	char extra;

	if (f->bad)
		return f->bad;
	do {
		n = read(f->rfd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* Shorter than the HEAD said, or broken. */
		f->bad = copy_reader_end(f);
		if (!f->bad)
			f->bad = ais_errf(f->em, -EIO,
					  "the source %s/%s changed during "
					  "the copy",
					  f->bucket, f->key);
		return f->bad;
	}
	f->done += (uint64_t)n;
	if (f->done < f->want)
		return n;
	/* The last bytes go only once the reader ended cleanly (its
	 * checksum held) with nothing more, and the version is the
	 * HEAD's: a PUT commits when its last byte arrives. */
	more = read(f->rfd, &extra, 1) > 0;
	f->bad = copy_reader_end(f);
	if (!f->bad && more)
		f->bad = ais_errf(f->em, -EIO,
				  "the source %s/%s changed during the copy",
				  f->bucket, f->key);
	return f->bad ? f->bad : n;
}

int s3_copy_open(struct s3_copy *f)
{
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	f->rfd = pfd[0];
	f->wfd = pfd[1];
	f->rc = 0;
	f->bad = 0;
	f->done = 0;
	f->joined = false;
	f->em[0] = 0;
	if (pthread_create(&f->thr, NULL, copy_reader, f)) {
		close(pfd[0]);
		close(pfd[1]);
		return -EAGAIN;
	}
	return 0;
}

int s3_copy_close(struct s3_copy *f)
{
	int rc;

	/* A reader still writing gets EPIPE once the read end goes. */
	close(f->rfd);
	rc = copy_reader_end(f);
	return f->bad ? f->bad : rc;
}

/* "/bucket/key" or "bucket/key" (URL-encoded, maybe "?versionId=..."),
 * decoded into bucket and key (heap). 0 or -1. */
int s3_copy_source(const char *src, char **bucket, char **key)
{
	size_t n = strlen(src);
	char *dec = malloc(n + 1), *q, *slash;
	const char *e = strchr(src, '?');

	if (!dec)
		return -1;
	if (e)
		n = (size_t)(e - src);
	if (s3_uri_decode(src, n, false, dec) < 0) {
		free(dec);
		return -1;
	}
	q = dec[0] == '/' ? dec + 1 : dec;
	slash = strchr(q, '/');
	if (!slash || !slash[1]) {
		free(dec);
		return -1;
	}
	*slash = 0;
	*bucket = strdup(q);
	*key = strdup(slash + 1);
	free(dec);
	if (!*bucket || !*key) {
		free(*bucket);
		free(*key);
		return -1;
	}
	return 0;
}

static void copy_object(struct s3_req *r)
{
	const char *dir = s3_header(r, "x-amz-metadata-directive");
	struct ais_put_opts o = {0};
	struct s3_copy f = {0};
	struct ais_obj_meta sm, m;
	struct ais_client *c;
	char *sb = NULL, *sk = NULL, em[AIS_ERRMSG_LEN] = "";
	char etag[AIS_ETAG_MAX + 32], date[40];
	uint8_t *sext = NULL, *ext = NULL;
	size_t sext_len = 0;
	struct s3_xml x = {0};
	int rc, st;
	long n;

	if (s3_need_bucket(r))
		return;
	if (s3_copy_source(s3_header(r, "x-amz-copy-source"), &sb, &sk)) {
		s3_error(r, 400, "InvalidArgument",
			 "x-amz-copy-source must be /BUCKET/KEY");
		return;
	}
	if (s3_authorize(r, sb, AIS__RIGHT__RIGHT_READ)) {
		free(sb);
		free(sk);
		return;
	}
	c = s3_client(r->s, em);
	sext = malloc(AIS_OBJ_EXT_MAX);
	ext = malloc(AIS_OBJ_EXT_MAX);
	if (!c || !sext || !ext) {
		s3_error(r, 503, "ServiceUnavailable", "%s",
			 c ? "out of memory" : em);
		goto out;
	}
	rc = ais_client_head_ext(c, sb, sk, NULL, &sm, sext, &sext_len, em);
	if (rc) {
		s3_error_errno(r, rc, em, false);
		goto out;
	}
	s3_obj_etag(&sm, sext, sext_len, etag, sizeof(etag));
	st =
	    s3_conditions(r, "x-amz-copy-source-if-", etag, sm.mtime_ns, false);
	if (st) {
		s3_error(r, 412, "PreconditionFailed",
			 "At least one of the pre-conditions you specified "
			 "did not hold");
		goto out;
	}
	if (dir && !strcasecmp(dir, "REPLACE")) {
		n = s3_ext_from_request(r, ext);
		if (n < 0)
			goto out;
	} else if (!strcmp(sb, r->bucket) && !strcmp(sk, r->key)) {
		s3_error(r, 400, "InvalidRequest",
			 "This copy request is illegal because it is trying "
			 "to copy an object to itself without changing the "
			 "object's metadata");
		goto out;
	} else {
		/* The source's headers, its etag left for the new one. */
		n = sext_len ? ais_obj_ext_with_etag(sext, sext_len, "", ext)
			     : 0;
		if (n < 0)
			n = 0;
	}
	f.c = c;
	f.bucket = sb;
	f.key = sk;
	f.want = sm.size;
	f.version = sm.version;
	f.written_ns = sm.written_ns;
	if (s3_copy_open(&f)) {
		s3_error(r, 503, "ServiceUnavailable", "no thread for a copy");
		goto out;
	}
	o.cksum_type = AIS_CKSUM_MD5;
	o.ext = ext;
	o.ext_len = (size_t)n;
	rc = ais_client_put_cb(c, r->bucket, r->key, sm.size, s3_copy_src, &f,
			       &o, &m, em);
	/* The source's failure first: it made the PUT fail. */
	if (s3_copy_close(&f)) {
		s3_error_errno(r, f.bad ? f.bad : f.rc, f.em, false);
		goto out;
	}
	if (rc) {
		s3_error_errno(r, rc, em, false);
		goto out;
	}
	s3_iso_date(m.mtime_ns, date, sizeof(date));
	snprintf(etag, sizeof(etag), "\"%s\"", m.cksum);
	s3_xml_raw(&x, XML_HEAD "<CopyObjectResult xmlns=\"" S3_NS "\">");
	s3_xml_elem(&x, "LastModified", date);
	s3_xml_elem(&x, "ETag", etag);
	s3_xml_raw(&x, "</CopyObjectResult>");
	s3_send_xml(r, 200, &x);
out:
	free(sb);
	free(sk);
	free(sext);
	free(ext);
}

/* ---- DELETE ------------------------------------------------------------ */

static void delete_object(struct s3_req *r)
{
	struct ais_client *c;
	char em[AIS_ERRMSG_LEN] = "";
	int rc;

	if (s3_need_bucket(r))
		return;
	c = s3_client(r->s, em);
	if (!c) {
		s3_error(r, 503, "ServiceUnavailable", "%s", em);
		return;
	}
	rc = ais_client_delete(c, r->bucket, r->key, em);
	/* Deleting what is not there succeeds, as in S3. */
	if (rc && rc != -ENOENT) {
		s3_error_errno(r, rc, em, false);
		return;
	}
	s3_send(r, 204, NULL, NULL, NULL, 0);
}

struct del_list {
	char **keys;
	size_t n;
	bool quiet;
	bool too_many;
};

static void del_elem(void *arg, const char *path, const char *text)
{
	struct del_list *d = arg;

	if (!strcmp(path, "Delete/Quiet")) {
		d->quiet = !strcasecmp(text, "true");
	} else if (!strcmp(path, "Delete/Object/Key")) {
		if (d->n >= 1000) {
			d->too_many = true;
			return;
		}
		d->keys[d->n] = strdup(text);
		if (d->keys[d->n])
			d->n++;
	}
}

void s3_delete_objects(struct s3_req *r)
{
	struct del_list d = {0};
	struct ais_client *c;
	struct s3_payload p;
	struct s3_xml x = {0};
	char em[AIS_ERRMSG_LEN] = "", *body = NULL;
	size_t len = 0;
	int rc;

	if (s3_need_bucket(r) || s3_payload_open(r, &p))
		return;
	d.keys = calloc(1000, sizeof(char *));
	if (!d.keys) {
		s3_error(r, 500, "InternalError", "out of memory");
		goto out;
	}
	if (s3_payload_slurp(&p, 2u << 20, &body, &len))
		goto out;
	if (s3_xml_parse(body, len, NULL, del_elem, &d, em)) {
		s3_error(r, 400, "MalformedXML",
			 "The XML you provided was not well-formed: %s", em);
		goto out;
	}
	if (d.too_many) {
		s3_error(r, 400, "MalformedXML",
			 "a DeleteObjects request names at most 1000 keys");
		goto out;
	}
	c = s3_client(r->s, em);
	if (!c) {
		s3_error(r, 503, "ServiceUnavailable", "%s", em);
		goto out;
	}
	s3_xml_raw(&x, XML_HEAD "<DeleteResult xmlns=\"" S3_NS "\">");
	for (size_t i = 0; i < d.n; i++) {
		rc = ais_client_delete(c, r->bucket, d.keys[i], em);
		if (!rc || rc == -ENOENT) {
			if (d.quiet)
				continue;
			s3_xml_raw(&x, "<Deleted>");
			s3_xml_elem(&x, "Key", d.keys[i]);
			s3_xml_raw(&x, "</Deleted>");
			continue;
		}
		s3_xml_raw(&x, "<Error>");
		s3_xml_elem(&x, "Key", d.keys[i]);
		s3_xml_elem(&x, "Code",
			    rc == -EINVAL || rc == -ENAMETOOLONG
				? "InvalidArgument"
				: "InternalError");
		s3_xml_elem(&x, "Message", em);
		s3_xml_raw(&x, "</Error>");
	}
	s3_xml_raw(&x, "</DeleteResult>");
	s3_send_xml(r, 200, &x);
out:
	s3_payload_close(&p);
	for (size_t i = 0; i < d.n; i++)
		free(d.keys[i]);
	free(d.keys);
	free(body);
}

/* ---- dispatch ---------------------------------------------------------- */

void s3_object_op(struct s3_req *r)
{
	bool part = s3_has_query(r, "uploadId");

	switch (r->method) {
	case HTTP_GET:
	case HTTP_HEAD:
		if (part && r->method == HTTP_GET) {
			s3_list_parts(r);
			return;
		}
		if (s3_has_query(r, "acl") || s3_has_query(r, "tagging") ||
		    s3_has_query(r, "attributes") || s3_has_query(r, "torrent"))
			break;
		if (s3_need_bucket(r))
			return;
		get_object(r, r->method == HTTP_HEAD);
		return;
	case HTTP_PUT:
		if (part) {
			s3_upload_part(r);
			return;
		}
		if (s3_has_query(r, "acl") || s3_has_query(r, "tagging") ||
		    s3_has_query(r, "retention") ||
		    s3_has_query(r, "legal-hold"))
			break;
		if (s3_header(r, "x-amz-copy-source"))
			copy_object(r);
		else
			put_object(r);
		return;
	case HTTP_DELETE:
		if (part) {
			s3_abort_upload(r);
			return;
		}
		if (s3_has_query(r, "tagging"))
			break;
		delete_object(r);
		return;
	case HTTP_POST:
		if (s3_has_query(r, "uploads")) {
			s3_create_upload(r);
			return;
		}
		if (part) {
			s3_complete_upload(r);
			return;
		}
		break;
	default:
		s3_error(r, 405, "MethodNotAllowed",
			 "%s is not allowed on an object", r->method_name);
		return;
	}
	s3_error(r, 501, "NotImplemented",
		 "this object operation (%s with %s) is not supported here "
		 "(see aisd(8), \"S3 endpoint\")",
		 r->method_name, r->nq ? r->q[0].name : "no parameter");
}
