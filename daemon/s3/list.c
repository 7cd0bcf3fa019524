/* ListObjectsV2 and ListObjects (V1): one page of a bucket's names, merged
 * across the nodes by the cluster client; with the delimiter "/" the nodes
 * roll names up into common prefixes themselves, any other delimiter is
 * rolled up here from the flat listing. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cksum.h"
#include "names.h"

#include "s3/s3_i.h"

#define XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_NS	 "http://s3.amazonaws.com/doc/2006-03-01/"
#define MAX_KEYS 1000

/* One name for the answer: as it is, or URL-encoded (EncodingType=url). */
static void xml_name(struct s3_xml *x, const char *tag, const char *name,
		     bool url)
{
	char *enc;

	if (!url) {
		s3_xml_elem(x, tag, name);
		return;
	}
	enc = malloc(3 * strlen(name) + 1);
	if (!enc) {
		x->fail = true;
		return;
	}
	s3_uri_encode(name, strlen(name), true, enc);
	s3_xml_elem(x, tag, enc);
	free(enc);
}

void s3_obj_etag(const struct ais_obj_meta *m, const uint8_t *ext,
		 size_t ext_len, char *out, size_t cap)
{
	char e[AIS_ETAG_MAX] = "";

	if (ext_len)
		ais_obj_ext_etag(ext, ext_len, e, sizeof(e));
	if (e[0])
		snprintf(out, cap, "\"%s\"", e);
	else if (m->cksum_type == AIS_CKSUM_MD5 && m->cksum[0])
		snprintf(out, cap, "\"%s\"", m->cksum);
	else
		/* Not an MD5 (a native PUT's XXH3 and version): tools that
		 * take a 32-digit ETag for an MD5 do not take this one. */
		snprintf(out, cap, "\"%s-%" PRIu64 "\"",
			 m->cksum[0] ? m->cksum : "0", m->version);
}

static void hex_token(const char *t, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; t[i]; i++) {
		out[2 * i] = hex[(unsigned char)t[i] >> 4];
		out[2 * i + 1] = hex[(unsigned char)t[i] & 15];
	}
	out[2 * i] = 0;
}

static int unhex_token(const char *t, char *out, size_t cap)
{
	size_t n = strlen(t);

	if (n % 2 || n / 2 >= cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(t + 2 * i, "%2x", &v) != 1 || !v)
			return -1;
		out[i] = (char)v;
	}
	out[n / 2] = 0;
	return 0;
}

struct item {
	char *name;
	bool prefix;
	struct ais_obj_meta meta;
};

void s3_list_objects(struct s3_req *r)
{
	const char *lt = s3_query(r, "list-type");
	bool v2 = lt && !strcmp(lt, "2");
	const char *prefix = s3_query(r, "prefix");
	const char *delim = s3_query(r, "delimiter");
	const char *mk = s3_query(r, "max-keys");
	const char *enc = s3_query(r, "encoding-type");
	const char *token = v2 ? s3_query(r, "continuation-token") : NULL;
	const char *start =
	    v2 ? s3_query(r, "start-after") : s3_query(r, "marker");
	bool url = enc && !strcmp(enc, "url");
	bool native_delim;
	char em[AIS_ERRMSG_LEN] = "", *after = NULL, *next = NULL;
	struct ais_client *c;
	struct item *items = NULL;
	size_t n = 0, maxk = MAX_KEYS, nkeys = 0;
	struct s3_xml x = {0};
	bool truncated = false;
	char *end;
	int rc = 0;

	if (!prefix)
		prefix = "";
	if (delim && !delim[0])
		delim = NULL;
	native_delim = delim && !strcmp(delim, "/");
	if (enc && !url) {
		s3_error(r, 400, "InvalidArgument",
			 "Invalid Encoding Method specified in Request");
		return;
	}
	if (mk) {
		long v = strtol(mk, &end, 10);

		if (*end || end == mk || v < 0) {
			s3_error(r, 400, "InvalidArgument",
				 "max-keys must be a non-negative integer");
			return;
		}
		maxk = v < MAX_KEYS ? (size_t)v : MAX_KEYS;
	}
	if (strlen(prefix) > AIS_NAME_MAX ||
	    (start && strlen(start) > AIS_NAME_MAX)) {
		s3_error(r, 400, "InvalidArgument",
			 "prefix, marker or start-after longer than %d bytes",
			 AIS_NAME_MAX);
		return;
	}
	c = s3_client(r->s, em);
	if (!c) {
		s3_error(r, 503, "ServiceUnavailable", "%s", em);
		return;
	}
	after = malloc(2 * AIS_NAME_MAX + 8);
	items = calloc(maxk + 1, sizeof(*items));
	if (!after || !items) {
		s3_error(r, 500, "InternalError", "out of memory");
		goto out;
	}
	after[0] = 0;
	if (token && token[0]) {
		if (unhex_token(token, after, 2 * AIS_NAME_MAX + 8)) {
			s3_error(r, 400, "InvalidArgument",
				 "The continuation token provided is "
				 "incorrect");
			goto out;
		}
	} else if (start && start[0]) {
		snprintf(after, 2 * AIS_NAME_MAX + 8, "%s", start);
		/* A V1 marker that is a common prefix skips what it
		 * rolled up (0xff is in no UTF-8 name). */
		if (delim && strlen(start) >= strlen(delim) &&
		    !strcmp(start + strlen(start) - strlen(delim), delim))
			strcat(after, "\xff");
	}

	/* Pages until maxk items (keys and prefixes) or the end. */
	while (n < maxk) {
		struct ais_list_page pg;
		size_t i;

		rc = ais_client_list(
		    c, r->bucket, prefix, native_delim ? "/" : "",
		    after[0] ? after : NULL, maxk - n, &pg, em);
		if (rc)
			break;
		for (i = 0; i < pg.n && n < maxk; i++) {
			struct ais_list_entry *e = &pg.entries[i];
			const char *d = NULL;
			size_t cpl;

			if (delim && !native_delim)
				d = strstr(e->name + strlen(prefix), delim);
			if (d) {
				/* Rolled up here: the prefix once, then
				 * past all its names. */
				cpl = (size_t)(d - e->name) + strlen(delim);
				items[n].name = strndup(e->name, cpl);
				items[n].prefix = true;
				if (!items[n].name) {
					rc = -ENOMEM;
					break;
				}
				snprintf(after, 2 * AIS_NAME_MAX + 8, "%s\xff",
					 items[n].name);
				n++;
				break; /* the page's rest may be inside it */
			}
			items[n].name = strdup(e->name);
			if (!items[n].name) {
				rc = -ENOMEM;
				break;
			}
			items[n].prefix = e->is_prefix;
			items[n].meta = e->meta;
			snprintf(after, 2 * AIS_NAME_MAX + 8, "%s%s", e->name,
				 e->is_prefix ? "\xff" : "");
			n++;
		}
		/* Done when the listing is, and no page was cut short by a
		 * roll-up here. */
		if (!pg.next_token && i >= pg.n) {
			ais_list_page_free(&pg);
			break;
		}
		if (pg.next_token && i >= pg.n && !(delim && !native_delim))
			snprintf(after, 2 * AIS_NAME_MAX + 8, "%s",
				 pg.next_token);
		ais_list_page_free(&pg);
		if (rc)
			break;
		if (n >= maxk) {
			truncated = true;
			break;
		}
	}
	if (rc) {
		if (rc == -ENOMEM)
			s3_error(r, 500, "InternalError", "out of memory");
		else
			s3_error_errno(r, rc, em, false);
		goto out;
	}
	/* A full page is truncated only if something follows. */
	if (truncated) {
		struct ais_list_page pg;

		rc =
		    ais_client_list(c, r->bucket, prefix,
				    native_delim ? "/" : "", after, 1, &pg, em);
		if (rc) {
			s3_error_errno(r, rc, em, false);
			goto out;
		}
		truncated = pg.n > 0;
		ais_list_page_free(&pg);
	}

	s3_xml_raw(&x, XML_HEAD "<ListBucketResult xmlns=\"" S3_NS "\">");
	s3_xml_elem(&x, "Name", r->bucket);
	xml_name(&x, "Prefix", prefix, url);
	if (delim)
		xml_name(&x, "Delimiter", delim, url);
	s3_xml_printf(&x, "<MaxKeys>%zu</MaxKeys>", maxk);
	if (url)
		s3_xml_raw(&x, "<EncodingType>url</EncodingType>");
	s3_xml_printf(&x, "<IsTruncated>%s</IsTruncated>",
		      truncated ? "true" : "false");
	if (v2) {
		s3_xml_printf(&x, "<KeyCount>%zu</KeyCount>", n);
		if (token)
			s3_xml_elem(&x, "ContinuationToken", token);
		if (start)
			xml_name(&x, "StartAfter", start, url);
		if (truncated) {
			next = malloc(2 * strlen(after) + 1);
			if (!next) {
				x.fail = true;
			} else {
				hex_token(after, next);
				s3_xml_elem(&x, "NextContinuationToken", next);
			}
		}
	} else {
		xml_name(&x, "Marker", start ? start : "", url);
		if (truncated && n)
			xml_name(&x, "NextMarker", items[n - 1].name, url);
	}
	for (size_t i = 0; i < n; i++) {
		char date[40], etag[AIS_ETAG_MAX + 32];

		if (items[i].prefix)
			continue;
		nkeys++;
		s3_xml_raw(&x, "<Contents>");
		xml_name(&x, "Key", items[i].name, url);
		s3_iso_date(items[i].meta.mtime_ns, date, sizeof(date));
		s3_xml_elem(&x, "LastModified", date);
		s3_obj_etag(&items[i].meta, NULL, 0, etag, sizeof(etag));
		s3_xml_elem(&x, "ETag", etag);
		s3_xml_printf(&x, "<Size>%" PRIu64 "</Size>",
			      items[i].meta.size);
		s3_xml_raw(&x, "<StorageClass>STANDARD</StorageClass>");
		if (!v2 || s3_has_query(r, "fetch-owner"))
			s3_xml_raw(&x, "<Owner><ID>ais</ID><DisplayName>ais"
				       "</DisplayName></Owner>");
		s3_xml_raw(&x, "</Contents>");
	}
	for (size_t i = 0; i < n; i++) {
		if (!items[i].prefix)
			continue;
		s3_xml_raw(&x, "<CommonPrefixes>");
		xml_name(&x, "Prefix", items[i].name, url);
		s3_xml_raw(&x, "</CommonPrefixes>");
	}
	s3_xml_raw(&x, "</ListBucketResult>");
	(void)nkeys;
	s3_send_xml(r, 200, &x);
out:
	for (size_t i = 0; items && i < n; i++)
		free(items[i].name);
	free(items);
	free(after);
	free(next);
}
