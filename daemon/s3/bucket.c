/* S3 requests on the service and on buckets: ListBuckets, CreateBucket,
 * DeleteBucket, HeadBucket, GetBucketLocation, GetBucketVersioning, and
 * the dispatch of every request to its operation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"

#include "cluster/cluster.h"
#include "s3/s3_i.h"

#define XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_NS	 "http://s3.amazonaws.com/doc/2006-03-01/"

/* s3_need_bucket; synced: after a read barrier (an answer about the
 * bucket itself must not come from before a change made through another
 * node). */
static int need_bucket(struct s3_req *r, bool synced)
{
	struct cluster *cl = r->s->d->cluster;
	struct cluster_map *cm;
	char em[AIS_ERRMSG_LEN];
	bool have;

	if (ais_name_check_bucket(r->bucket, em))
		return s3_error(r, 400, "InvalidBucketName", "%s", em);
	if (synced)
		(void)cluster_sync(cl, 2000);
	for (int tries = synced;; tries++) {
		cm = cluster_map_get(cl);
		have = cluster_has_bucket(cm, r->bucket);
		cluster_map_put(cm);
		/* Made a moment ago through another node: this one may not
		 * have applied it yet. */
		if (have || tries || cluster_sync(cl, 2000))
			break;
	}
	if (!have)
		return s3_error(r, 404, "NoSuchBucket",
				"The specified bucket does not exist");
	return 0;
}

int s3_need_bucket(struct s3_req *r)
{
	return need_bucket(r, false);
}

void s3_list_buckets(struct s3_req *r)
{
	struct s3_xml x = {0};
	struct cluster_map *cm;
	char date[40];

	/* Buckets made or gone through another node a moment ago too. */
	(void)cluster_sync(r->s->d->cluster, 2000);
	cm = cluster_map_get(r->s->d->cluster);

	s3_xml_raw(&x, XML_HEAD "<ListAllMyBucketsResult xmlns=\"" S3_NS
				"\"><Owner><ID>ais</ID><DisplayName>ais"
				"</DisplayName></Owner><Buckets>");
	for (size_t i = 0; i < cm->nbuckets; i++) {
		struct s3_fail f = {.quiet = true};

		if (s3_may(r, cm->buckets[i], AIS__RIGHT__RIGHT_READ, &f))
			continue;
		s3_xml_raw(&x, "<Bucket>");
		s3_xml_elem(&x, "Name", cm->buckets[i]);
		s3_iso_date(cm->bucket_created[i], date, sizeof(date));
		s3_xml_elem(&x, "CreationDate", date);
		s3_xml_raw(&x, "</Bucket>");
	}
	cluster_map_put(cm);
	s3_xml_raw(&x, "</Buckets></ListAllMyBucketsResult>");
	s3_send_xml(r, 200, &x);
}

static void create_bucket(struct s3_req *r)
{
	struct ais_client *c;
	struct s3_payload p;
	char em[AIS_ERRMSG_LEN] = "", *body = NULL, loc[128];
	size_t len;
	int rc;

	if (ais_name_check_bucket(r->bucket, em)) {
		s3_error(r, 400, "InvalidBucketName", "%s", em);
		return;
	}
	/* The body names a location: any is taken (there is one). */
	if (s3_payload_open(r, &p))
		return;
	rc = s3_payload_slurp(&p, 64 * 1024, &body, &len);
	s3_payload_close(&p);
	free(body);
	if (rc)
		return;
	c = s3_client(r->s, em);
	if (!c) {
		s3_error(r, 503, "ServiceUnavailable", "%s", em);
		return;
	}
	rc = ais_client_bucket_create(c, r->bucket, em);
	if (rc) {
		s3_error_errno(r, rc, em, true);
		return;
	}
	ais_log(LOG_INFO, "S3: bucket %s created (%s)", r->bucket,
		r->auth.access_key[0] ? r->auth.access_key : "anonymous");
	snprintf(loc, sizeof(loc), "Location: /%s\r\n", r->bucket);
	s3_send(r, 200, loc, NULL, NULL, 0);
}

static void delete_bucket(struct s3_req *r)
{
	struct ais_client *c;
	struct ais_list_page pg;
	char em[AIS_ERRMSG_LEN] = "";
	int rc;

	if (need_bucket(r, true))
		return;
	c = s3_client(r->s, em);
	if (!c) {
		s3_error(r, 503, "ServiceUnavailable", "%s", em);
		return;
	}
	/* A bucket's destroy takes its objects with it; S3 deletes only
	 * empty ones. */
	rc = ais_client_list(c, r->bucket, "", "", NULL, 1, &pg, em);
	if (rc) {
		s3_error_errno(r, rc, em, true);
		return;
	}
	rc = pg.n ? -ENOTEMPTY : 0;
	ais_list_page_free(&pg);
	if (rc) {
		s3_error(r, 409, "BucketNotEmpty",
			 "The bucket you tried to delete is not empty");
		return;
	}
	rc = ais_client_bucket_destroy(c, r->bucket, em);
	if (rc) {
		s3_error_errno(r, rc, em, true);
		return;
	}
	ais_log(LOG_INFO, "S3: bucket %s deleted (%s)", r->bucket,
		r->auth.access_key[0] ? r->auth.access_key : "anonymous");
	s3_send(r, 204, NULL, NULL, NULL, 0);
}

void s3_bucket_op(struct s3_req *r)
{
	struct s3_xml x = {0};

	switch (r->method) {
	case HTTP_PUT:
		if (s3_has_query(r, "versioning") || s3_has_query(r, "acl") ||
		    s3_has_query(r, "policy") || s3_has_query(r, "tagging") ||
		    s3_has_query(r, "lifecycle") || s3_has_query(r, "cors"))
			break;
		create_bucket(r);
		return;
	case HTTP_DELETE:
		if (r->nq)
			break;
		delete_bucket(r);
		return;
	case HTTP_HEAD:
		if (need_bucket(r, true))
			return;
		s3_send(r, 200, "x-amz-bucket-region: us-east-1\r\n", NULL,
			NULL, 0);
		return;
	case HTTP_POST:
		if (s3_has_query(r, "delete")) {
			s3_delete_objects(r);
			return;
		}
		break;
	case HTTP_GET:
		if (s3_need_bucket(r))
			return;
		if (s3_has_query(r, "location")) {
			const char *region = r->s->d->opts->s3_region;

			/* us-east-1 is written as none, as S3 does. */
			s3_xml_raw(&x, XML_HEAD
				   "<LocationConstraint xmlns=\"" S3_NS "\">");
			if (strcmp(region, "us-east-1"))
				s3_xml_text(&x, region);
			s3_xml_raw(&x, "</LocationConstraint>");
			s3_send_xml(r, 200, &x);
			return;
		}
		if (s3_has_query(r, "versioning")) {
			s3_xml_raw(&x, XML_HEAD "<VersioningConfiguration "
						"xmlns=\"" S3_NS "\"/>");
			s3_send_xml(r, 200, &x);
			return;
		}
		if (s3_has_query(r, "uploads")) {
			s3_list_uploads(r);
			return;
		}
		if (s3_has_query(r, "acl") || s3_has_query(r, "policy") ||
		    s3_has_query(r, "tagging") ||
		    s3_has_query(r, "lifecycle") || s3_has_query(r, "cors") ||
		    s3_has_query(r, "website") ||
		    s3_has_query(r, "encryption") ||
		    s3_has_query(r, "object-lock") ||
		    s3_has_query(r, "replication") ||
		    s3_has_query(r, "logging") ||
		    s3_has_query(r, "notification") ||
		    s3_has_query(r, "accelerate") ||
		    s3_has_query(r, "requestPayment") ||
		    s3_has_query(r, "versions") ||
		    s3_has_query(r, "ownershipControls"))
			break;
		s3_list_objects(r);
		return;
	default:
		s3_error(r, 405, "MethodNotAllowed",
			 "%s is not allowed on a bucket", r->method_name);
		return;
	}
	s3_error(r, 501, "NotImplemented",
		 "this bucket operation (%s with %s) is not supported here "
		 "(see aisd(8), \"S3 endpoint\")",
		 r->method_name, r->nq ? r->q[0].name : "no parameter");
}

void s3_dispatch(struct s3_req *r)
{
	if (!r->bucket[0]) {
		if (r->method == HTTP_GET && !r->nq) {
			s3_list_buckets(r);
			return;
		}
		s3_error(r, r->method == HTTP_GET ? 501 : 405,
			 r->method == HTTP_GET ? "NotImplemented"
					       : "MethodNotAllowed",
			 "only GET (ListBuckets) is served on /");
		return;
	}
	if (!r->key[0])
		s3_bucket_op(r);
	else
		s3_object_op(r);
}
