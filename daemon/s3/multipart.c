/* S3 multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts and
 * ListMultipartUploads, over the nodes' OP_MPU_* (rpc/mpu.c): the parts
 * wait as files at the object's first node and become one whole object
 * there. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "names.h"

#include "s3/s3_i.h"

#define XML_HEAD  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_NS	  "http://s3.amazonaws.com/doc/2006-03-01/"
#define PARTS_MAX 10000

static struct ais_client *client_or_503(struct s3_req *r)
{
	char em[AIS_ERRMSG_LEN] = "";
	struct ais_client *c = s3_client(r->s, em);

	if (!c)
		s3_error(r, 503, "ServiceUnavailable", "%s", em);
	return c;
}

/* The uploadId of the request, checked: NULL after a NoSuchUpload. */
static const char *upload_id(struct s3_req *r)
{
	const char *u = s3_query(r, "uploadId");
	size_t n = u ? strlen(u) : 0;

	for (size_t i = 0; i < n; i++)
		if (!((u[i] >= '0' && u[i] <= '9') ||
		      (u[i] >= 'a' && u[i] <= 'f')))
			n = 0;
	if (n != 32) {
		s3_error(r, 404, "NoSuchUpload",
			 "The specified upload does not exist");
		return NULL;
	}
	return u;
}

static int mpu_error(struct s3_req *r, int rc, const char *em)
{
	switch (rc) {
	case -ENOENT:
		if (strstr(em, "no upload"))
			return s3_error(r, 404, "NoSuchUpload",
					"The specified upload does not exist: "
					"%s",
					em);
		break;
	case -ENODATA:
		return s3_error(r, 400, "InvalidPart", "%s", em);
	case -EDOM:
		return s3_error(r, 400, "InvalidPartOrder", "%s", em);
	case -ERANGE:
		return s3_error(r, 400, "EntityTooSmall", "%s", em);
	}
	return s3_error_errno(r, rc, em, false);
}

void s3_create_upload(struct s3_req *r)
{
	struct ais_client *c;
	struct s3_xml x = {0};
	uint8_t *ext, rnd[16];
	char uid[33], em[AIS_ERRMSG_LEN] = "";
	long n;
	int rc;

	if (s3_need_bucket(r) || !(c = client_or_503(r)))
		return;
	if (ais_name_check_object(r->key, strlen(r->key), em)) {
		s3_error_errno(
		    r, strlen(r->key) > AIS_NAME_MAX ? -ENAMETOOLONG : -EINVAL,
		    em, false);
		return;
	}
	ext = malloc(AIS_OBJ_EXT_MAX);
	if (!ext || getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		free(ext);
		s3_error(r, 500, "InternalError", "out of memory");
		return;
	}
	for (int i = 0; i < 16; i++)
		snprintf(uid + 2 * i, 3, "%02x", rnd[i]);
	n = s3_ext_from_request(r, ext);
	if (n < 0) {
		free(ext);
		return;
	}
	rc = ais_client_mpu_create(c, r->bucket, r->key, uid, ext, (size_t)n,
				   em);
	free(ext);
	if (rc) {
		s3_error_errno(r, rc, em, false);
		return;
	}
	s3_xml_raw(&x, XML_HEAD "<InitiateMultipartUploadResult xmlns=\"" S3_NS
				"\">");
	s3_xml_elem(&x, "Bucket", r->bucket);
	s3_xml_elem(&x, "Key", r->key);
	s3_xml_elem(&x, "UploadId", uid);
	s3_xml_raw(&x, "</InitiateMultipartUploadResult>");
	s3_send_xml(r, 200, &x);
}

static long part_number(struct s3_req *r)
{
	const char *p = s3_query(r, "partNumber");
	char *end;
	long v = p ? strtol(p, &end, 10) : 0;

	if (!p || *end || end == p || v < 1 || v > PARTS_MAX) {
		s3_error(r, 400, "InvalidArgument",
			 "Part number must be an integer between 1 and 10000, "
			 "inclusive");
		return -1;
	}
	return v;
}

/* UploadPartCopy: the source (or its x-amz-copy-source-range) as the
 * part. */
static void upload_part_copy(struct s3_req *r, struct ais_client *c,
			     const char *uid, long num)
{
	const char *range = s3_header(r, "x-amz-copy-source-range");
	struct ais_put_opts o = {0};
	struct s3_copy f = {0};
	struct ais_obj_meta sm;
	struct s3_xml x = {0};
	char *sb = NULL, *sk = NULL, em[AIS_ERRMSG_LEN] = "";
	char etag[AIS_ETAG_MAX], qetag[AIS_ETAG_MAX + 4], date[40];
	uint8_t *sext = malloc(AIS_OBJ_EXT_MAX);
	size_t sext_len = 0;
	uint64_t off = 0, len;
	int rc;

	if (!sext ||
	    s3_copy_source(s3_header(r, "x-amz-copy-source"), &sb, &sk)) {
		s3_error(r, 400, "InvalidArgument",
			 "x-amz-copy-source must be /BUCKET/KEY");
		goto out;
	}
	if (s3_authorize(r, sb, AIS__RIGHT__RIGHT_READ))
		goto out;
	rc = ais_client_head_ext(c, sb, sk, NULL, &sm, sext, &sext_len, em);
	if (rc) {
		s3_error_errno(r, rc, em, false);
		goto out;
	}
	s3_obj_etag(&sm, sext, sext_len, qetag, sizeof(qetag));
	if (s3_conditions(r, "x-amz-copy-source-if-", qetag, sm.mtime_ns,
			  false)) {
		s3_error(r, 412, "PreconditionFailed",
			 "At least one of the pre-conditions you specified "
			 "did not hold");
		goto out;
	}
	len = sm.size;
	if (range) {
		unsigned long long a, b;

		if (sscanf(range, "bytes=%llu-%llu", &a, &b) != 2 || b < a ||
		    b >= sm.size) {
			s3_error(r, 400, "InvalidArgument",
				 "The x-amz-copy-source-range value must be "
				 "of the form bytes=first-last where first "
				 "and last are the zero-based offsets within "
				 "the source");
			goto out;
		}
		off = a;
		len = b - a + 1;
	}
	f.c = c;
	f.bucket = sb;
	f.key = sk;
	f.off = off;
	f.len = len;
	f.want = len;
	f.version = sm.version;
	f.written_ns = sm.written_ns;
	if (len && s3_copy_open(&f)) {
		s3_error(r, 503, "ServiceUnavailable", "no thread for a copy");
		goto out;
	}
	o.upload_id = uid;
	o.part_number = (uint32_t)num;
	o.etag = etag;
	if (len) {
		rc = ais_client_put_cb(c, r->bucket, r->key, len, s3_copy_src,
				       &f, &o, NULL, em);
		if (s3_copy_close(&f)) {
			s3_error_errno(r, f.bad ? f.bad : f.rc, f.em, false);
			goto out;
		}
	} else {
		rc = ais_client_put_buf(c, r->bucket, r->key, "", 0, &o, NULL,
					em);
	}
	if (rc) {
		mpu_error(r, rc, em);
		goto out;
	}
	s3_iso_date(ais_now_real_ns(), date, sizeof(date));
	snprintf(qetag, sizeof(qetag), "\"%s\"", etag);
	s3_xml_raw(&x, XML_HEAD "<CopyPartResult xmlns=\"" S3_NS "\">");
	s3_xml_elem(&x, "LastModified", date);
	s3_xml_elem(&x, "ETag", qetag);
	s3_xml_raw(&x, "</CopyPartResult>");
	s3_send_xml(r, 200, &x);
out:
	free(sb);
	free(sk);
	free(sext);
}

void s3_upload_part(struct s3_req *r)
{
	struct ais_put_opts o = {0};
	struct s3_payload p;
	struct ais_client *c;
	const char *uid;
	char etag[AIS_ETAG_MAX], em[AIS_ERRMSG_LEN] = "", md5[33], h[96];
	long num;
	int rc, have_md5;

	if (s3_need_bucket(r) || !(uid = upload_id(r)) ||
	    (num = part_number(r)) < 0 || !(c = client_or_503(r)))
		return;
	if (s3_header(r, "x-amz-copy-source")) {
		upload_part_copy(r, c, uid, num);
		return;
	}
	have_md5 = s3_content_md5(r, md5);
	if (have_md5 < 0) {
		s3_error(r, 400, "InvalidDigest",
			 "The Content-MD5 you specified was invalid");
		return;
	}
	if (s3_payload_open(r, &p))
		return;
	o.upload_id = uid;
	o.part_number = (uint32_t)num;
	o.etag = etag;
	/* The node checks it before the part replaces an earlier one. */
	o.content_md5 = have_md5 == 0 ? md5 : NULL;
	if (p.unknown) {
		int fd;
		uint64_t size;

		if (s3_spool(r, &p, &fd, &size)) {
			s3_payload_close(&p);
			return;
		}
		rc = ais_client_put_fd(c, r->bucket, r->key, fd, size, &o, NULL,
				       em);
		close(fd);
	} else {
		rc = ais_client_put_cb(c, r->bucket, r->key, p.total,
				       s3_put_src, &p, &o, NULL, em);
	}
	if (rc) {
		if (p.status || rc == -EPIPE || rc == -ETIMEDOUT)
			s3_payload_error(&p, rc, em);
		else
			mpu_error(r, rc, em);
	} else {
		snprintf(h, sizeof(h), "ETag: \"%s\"\r\n", etag);
		s3_send(r, 200, h, NULL, NULL, 0);
	}
	s3_payload_close(&p);
}

struct complete_list {
	struct ais_mpu_part *v;
	size_t n;
	bool too_many, bad;
};

static void complete_start(void *arg, const char *path)
{
	struct complete_list *l = arg;

	if (strcmp(path, "CompleteMultipartUpload/Part"))
		return;
	if (l->n >= PARTS_MAX) {
		l->too_many = true;
		return;
	}
	memset(&l->v[l->n++], 0, sizeof(l->v[0]));
}

static void complete_elem(void *arg, const char *path, const char *text)
{
	struct complete_list *l = arg;
	struct ais_mpu_part *p = l->n ? &l->v[l->n - 1] : NULL;

	if (!p || l->too_many)
		return;
	if (!strcmp(path, "CompleteMultipartUpload/Part/PartNumber")) {
		char *end;
		long v = strtol(text, &end, 10);

		if (*end || v < 1 || v > PARTS_MAX)
			l->bad = true;
		p->number = (uint32_t)v;
	} else if (!strcmp(path, "CompleteMultipartUpload/Part/ETag")) {
		const char *e = text;
		size_t n = strlen(e);

		if (n && e[0] == '"') {
			e++;
			n--;
		}
		if (n && e[n - 1] == '"')
			n--;
		if (n >= sizeof(p->etag))
			l->bad = true;
		else
			snprintf(p->etag, sizeof(p->etag), "%.*s", (int)n, e);
	}
}

void s3_complete_upload(struct s3_req *r)
{
	struct complete_list l = {0};
	struct ais_client *c;
	struct ais_obj_meta m;
	struct s3_payload p;
	struct s3_xml x = {0};
	char em[AIS_ERRMSG_LEN] = "", etag[AIS_ETAG_MAX], q[AIS_ETAG_MAX + 4];
	char *body = NULL, *loc = NULL;
	size_t len = 0;
	const char *uid;
	int rc;

	if (s3_need_bucket(r) || !(uid = upload_id(r)) ||
	    !(c = client_or_503(r)) || s3_payload_open(r, &p))
		return;
	l.v = calloc(PARTS_MAX, sizeof(*l.v));
	if (!l.v) {
		s3_error(r, 500, "InternalError", "out of memory");
		goto out;
	}
	if (s3_payload_slurp(&p, 4u << 20, &body, &len))
		goto out;
	if (s3_xml_parse(body, len, complete_start, complete_elem, &l, em) ||
	    l.bad || l.too_many || !l.n) {
		s3_error(r, 400, "MalformedXML",
			 "The XML you provided was not well-formed or did not "
			 "validate against our published schema%s%s",
			 em[0] ? ": " : "", em);
		goto out;
	}
	rc = ais_client_mpu_complete(c, r->bucket, r->key, uid, l.v, l.n, &m,
				     etag, em);
	if (rc) {
		mpu_error(r, rc, em);
		goto out;
	}
	snprintf(q, sizeof(q), "\"%s\"", etag);
	loc = malloc(3 * strlen(r->key) + strlen(r->bucket) + 8);
	s3_xml_raw(&x, XML_HEAD "<CompleteMultipartUploadResult xmlns=\"" S3_NS
				"\">");
	if (loc) {
		size_t bl = (size_t)sprintf(loc, "/%s/", r->bucket);

		s3_uri_encode(r->key, strlen(r->key), true, loc + bl);
		s3_xml_elem(&x, "Location", loc);
	}
	s3_xml_elem(&x, "Bucket", r->bucket);
	s3_xml_elem(&x, "Key", r->key);
	s3_xml_elem(&x, "ETag", q);
	s3_xml_raw(&x, "</CompleteMultipartUploadResult>");
	s3_send_xml(r, 200, &x);
out:
	s3_payload_close(&p);
	free(body);
	free(loc);
	free(l.v);
}

void s3_abort_upload(struct s3_req *r)
{
	struct ais_client *c;
	const char *uid;
	char em[AIS_ERRMSG_LEN] = "";
	int rc;

	if (s3_need_bucket(r) || !(uid = upload_id(r)) ||
	    !(c = client_or_503(r)))
		return;
	rc = ais_client_mpu_abort(c, r->bucket, r->key, uid, em);
	if (rc) {
		mpu_error(r, rc, em);
		return;
	}
	s3_send(r, 204, NULL, NULL, NULL, 0);
}

void s3_list_parts(struct s3_req *r)
{
	const char *mk = s3_query(r, "part-number-marker");
	const char *mp = s3_query(r, "max-parts");
	struct ais_mpu_part *v = NULL;
	struct ais_client *c;
	struct s3_xml x = {0};
	char em[AIS_ERRMSG_LEN] = "";
	const char *uid;
	size_t n = 0, shown = 0, i;
	long marker = mk ? atol(mk) : 0, max = mp ? atol(mp) : 1000;
	int rc;

	if (s3_need_bucket(r) || !(uid = upload_id(r)) ||
	    !(c = client_or_503(r)))
		return;
	if (max < 0 || max > 1000)
		max = 1000;
	rc = ais_client_mpu_parts(c, r->bucket, r->key, uid, &v, &n, em);
	if (rc) {
		mpu_error(r, rc, em);
		return;
	}
	s3_xml_raw(&x, XML_HEAD "<ListPartsResult xmlns=\"" S3_NS "\">");
	s3_xml_elem(&x, "Bucket", r->bucket);
	s3_xml_elem(&x, "Key", r->key);
	s3_xml_elem(&x, "UploadId", uid);
	s3_xml_printf(&x, "<PartNumberMarker>%ld</PartNumberMarker>", marker);
	s3_xml_printf(&x, "<MaxParts>%ld</MaxParts>", max);
	s3_xml_raw(&x, "<StorageClass>STANDARD</StorageClass>");
	for (i = 0; i < n; i++) {
		char date[40], etag[48];

		if ((long)v[i].number <= marker)
			continue;
		if ((long)shown >= max)
			break;
		s3_iso_date(v[i].mtime_ns, date, sizeof(date));
		snprintf(etag, sizeof(etag), "\"%s\"", v[i].etag);
		s3_xml_raw(&x, "<Part>");
		s3_xml_printf(&x, "<PartNumber>%u</PartNumber>", v[i].number);
		s3_xml_elem(&x, "LastModified", date);
		s3_xml_elem(&x, "ETag", etag);
		s3_xml_printf(&x, "<Size>%" PRIu64 "</Size>", v[i].size);
		s3_xml_raw(&x, "</Part>");
		shown++;
	}
	s3_xml_printf(&x, "<IsTruncated>%s</IsTruncated>",
		      i < n ? "true" : "false");
	if (i < n && shown)
		s3_xml_printf(&x,
			      "<NextPartNumberMarker>%u</NextPartNumberMarker>",
			      v[i - 1].number);
	s3_xml_raw(&x, "</ListPartsResult>");
	free(v);
	s3_send_xml(r, 200, &x);
}

void s3_list_uploads(struct s3_req *r)
{
	const char *prefix = s3_query(r, "prefix");
	const char *km = s3_query(r, "key-marker");
	const char *um = s3_query(r, "upload-id-marker");
	const char *mu = s3_query(r, "max-uploads");
	struct ais_mpu_upload *v = NULL;
	struct ais_client *c;
	struct s3_xml x = {0};
	char em[AIS_ERRMSG_LEN] = "";
	long max = mu ? atol(mu) : 1000;
	size_t n = 0, i, shown = 0, last = 0;
	int rc;

	if (!(c = client_or_503(r)))
		return;
	if (max < 0 || max > 1000)
		max = 1000;
	rc = ais_client_mpu_uploads(c, r->bucket, prefix ? prefix : "", &v, &n,
				    em);
	if (rc) {
		s3_error_errno(r, rc, em, true);
		return;
	}
	s3_xml_raw(&x,
		   XML_HEAD "<ListMultipartUploadsResult xmlns=\"" S3_NS "\">");
	s3_xml_elem(&x, "Bucket", r->bucket);
	s3_xml_elem(&x, "KeyMarker", km ? km : "");
	s3_xml_elem(&x, "UploadIdMarker", um ? um : "");
	if (prefix)
		s3_xml_elem(&x, "Prefix", prefix);
	s3_xml_printf(&x, "<MaxUploads>%ld</MaxUploads>", max);
	for (i = 0; i < n; i++) {
		char date[40];
		int c2 = km ? strcmp(v[i].name, km) : 1;

		/* After key-marker (and, at it, after upload-id-marker). */
		if (c2 < 0 ||
		    (c2 == 0 && (!um || strcmp(v[i].upload_id, um) <= 0)))
			continue;
		if ((long)shown >= max)
			break;
		s3_iso_date(v[i].created_ns, date, sizeof(date));
		s3_xml_raw(&x, "<Upload>");
		s3_xml_elem(&x, "Key", v[i].name);
		s3_xml_elem(&x, "UploadId", v[i].upload_id);
		s3_xml_raw(&x, "<StorageClass>STANDARD</StorageClass>");
		s3_xml_elem(&x, "Initiated", date);
		s3_xml_raw(&x, "</Upload>");
		shown++;
		last = i;
	}
	s3_xml_printf(&x, "<IsTruncated>%s</IsTruncated>",
		      i < n ? "true" : "false");
	if (i < n && shown) {
		s3_xml_elem(&x, "NextKeyMarker", v[last].name);
		s3_xml_elem(&x, "NextUploadIdMarker", v[last].upload_id);
	}
	s3_xml_raw(&x, "</ListMultipartUploadsResult>");
	ais_mpu_uploads_free(v, n);
	s3_send_xml(r, 200, &x);
}
