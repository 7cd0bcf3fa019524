/* An object's metadata and its protobuf form. */
#include "objmeta.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* The ctime of an ObjMeta that has none: its commit (which a PUT's ctime
 * is), else its mtime (a file put on the disk by hand). */
static int64_t ctime_unset(int64_t written_ns, int64_t mtime_ns)
{
	return written_ns ? written_ns : mtime_ns;
}

void ais_obj_meta_to_pb(const struct ais_obj_meta *m, Ais__ObjMeta *pb)
{
	ais__obj_meta__init(pb);
	pb->size = m->size;
	pb->cksum_type = (Ais__CksumType)m->cksum_type;
	pb->cksum_value = (char *)m->cksum;
	pb->version = m->version;
	pb->mtime_ns = m->mtime_ns;
	pb->mode = m->mode;
	pb->uid = m->uid;
	pb->gid = m->gid;
	pb->written_ns = m->written_ns;
	pb->owned = m->owned;
	/* A time equal to what a decoder reads for 0 is left out: most
	 * objects have mtime = atime and ctime = the commit time, and the 20
	 * bytes saved keep the node's xattr inside an ext4 inode of 256 bytes
	 * (68 bytes of value at most there) instead of a 4 KiB block of its
	 * own per object, written at every PUT and read at every cold open. */
	pb->ctime_ns = m->ctime_ns != ctime_unset(m->written_ns, m->mtime_ns)
			   ? m->ctime_ns
			   : 0;
	pb->atime_ns = m->atime_ns != m->mtime_ns ? m->atime_ns : 0;
}

void ais_obj_meta_from_pb(const Ais__ObjMeta *pb, struct ais_obj_meta *out)
{
	memset(out, 0, sizeof(*out));
	if (!pb)
		return;
	out->size = pb->size;
	out->cksum_type = (int)pb->cksum_type;
	snprintf(out->cksum, sizeof(out->cksum), "%s",
		 pb->cksum_value ? pb->cksum_value : "");
	out->version = pb->version;
	out->mtime_ns = pb->mtime_ns;
	out->mode = pb->mode;
	out->uid = pb->uid;
	out->gid = pb->gid;
	out->written_ns = pb->written_ns;
	out->owned = pb->owned;
	/* Left out (ais_obj_meta_to_pb), or an object from before these
	 * times existed. */
	out->ctime_ns = pb->ctime_ns
			    ? pb->ctime_ns
			    : ctime_unset(pb->written_ns, pb->mtime_ns);
	out->atime_ns = pb->atime_ns ? pb->atime_ns : pb->mtime_ns;
}

size_t ais_obj_meta_encode(const struct ais_obj_meta *m, uint8_t *buf)
{
	Ais__ObjMeta pb;

	ais_obj_meta_to_pb(m, &pb);
	return ais__obj_meta__pack(&pb, buf);
}

int ais_obj_meta_decode(const uint8_t *buf, size_t len, struct ais_obj_meta *m)
{
	Ais__ObjMeta *pb = ais__obj_meta__unpack(NULL, len, buf);

	if (!pb)
		return -EBADMSG;
	ais_obj_meta_from_pb(pb, m);
	ais__obj_meta__free_unpacked(pb, NULL);
	return 0;
}

long ais_obj_ext_with_etag(const uint8_t *ext, size_t len, const char *etag,
			   uint8_t *out)
{
	Ais__ObjExt blank = AIS__OBJ_EXT__INIT, *pb = &blank;
	char *old;
	long n;

	if (len) {
		pb = ais__obj_ext__unpack(NULL, len, ext);
		if (!pb)
			return -EBADMSG;
	}
	old = pb->etag;
	pb->etag = (char *)etag;
	n = ais__obj_ext__get_packed_size(pb) > AIS_OBJ_EXT_MAX
		? -E2BIG
		: (long)ais__obj_ext__pack(pb, out);
	pb->etag = old;
	if (pb != &blank)
		ais__obj_ext__free_unpacked(pb, NULL);
	return n;
}

void ais_obj_ext_etag(const uint8_t *ext, size_t len, char *out, size_t cap)
{
	Ais__ObjExt *pb = len ? ais__obj_ext__unpack(NULL, len, ext) : NULL;

	snprintf(out, cap, "%s", pb && pb->etag ? pb->etag : "");
	if (pb)
		ais__obj_ext__free_unpacked(pb, NULL);
}

bool ais_obj_ext_header_kept(const char *name)
{
	static const char *const kept[] = {
	    "content-type",	"content-encoding", "content-disposition",
	    "content-language", "cache-control",    "expires"};

	if (!strncmp(name, "x-amz-meta-", 11))
		return name[11] != 0;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (!strcmp(name, kept[i]))
			return true;
	return false;
}

bool ais_obj_ext_header_ok(const char *name, const char *value)
{
	size_t n = name ? strlen(name) : 0, v = value ? strlen(value) : 0;

	if (!n || n > 128 || v > 4096 || !ais_obj_ext_header_kept(name))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return false;
	for (size_t i = 0; i < v; i++) {
		unsigned char c = (unsigned char)value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

int ais_obj_ext_check(const uint8_t *ext, size_t len, char *errmsg)
{
	Ais__ObjExt *x;
	int rc = 0;

	if (!len)
		return 0;
	if (len > AIS_OBJ_EXT_MAX)
		return ais_errf(errmsg, -EINVAL, "S3 metadata over %d bytes",
				AIS_OBJ_EXT_MAX);
	x = ais__obj_ext__unpack(NULL, len, ext);
	if (!x)
		return ais_errf(errmsg, -EINVAL, "S3 metadata does not decode");
	if (x->etag &&
	    (strlen(x->etag) > 64 ||
	     strspn(x->etag, "0123456789abcdef-") != strlen(x->etag)))
		rc = ais_errf(errmsg, -EINVAL, "S3 metadata: a malformed ETag");
	for (size_t i = 0; !rc && i < x->n_headers; i++)
		if (!ais_obj_ext_header_ok(x->headers[i]->name,
					   x->headers[i]->value))
			rc = ais_errf(errmsg, -EINVAL,
				      "S3 metadata: header '%.64s' may not be "
				      "kept (a name of those an S3 PUT keeps, "
				      "a value without control characters)",
				      x->headers[i]->name ? x->headers[i]->name
							  : "");
	ais__obj_ext__free_unpacked(x, NULL);
	return rc;
}
