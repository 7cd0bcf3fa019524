/* An object's metadata, as the node keeps it (the "user.ais" xattr of the
 * object's file) and as every answer carries it (Response.meta): one struct
 * for the node and the client, and its protobuf (ObjMeta) form. */
#ifndef AIS_OBJMETA_H
#define AIS_OBJMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ais.pb-c.h"
#include "cksum.h"

struct ais_obj_meta {
	uint64_t size;
	int cksum_type; /* enum ais_cksum_type */
	char cksum[AIS_CKSUM_HEX_MAX];
	uint64_t version;
	int64_t mtime_ns;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	/* When the node that took the write committed it (CLOCK_REALTIME ns);
	 * of two copies the later one wins; 0 = older than any. */
	int64_t written_ns;
	/* uid/gid name an owner (set by aisfs, chown); false: none was given
	 * (ais put), and a mount shows its own user. */
	bool owned;
	/* Last change of the bytes or the metadata (the node's clock), and
	 * the access time as a client set it (reads never move it). Left out
	 * of the encoding when they are what a decoder makes of none: ctime
	 * the commit (written_ns, else mtime_ns), atime mtime_ns; so objects
	 * from before they existed decode that way too. */
	int64_t ctime_ns;
	int64_t atime_ns;
};

/* The largest encoded ObjMeta (the longest checksum and every varint at its
 * widest) is well under this. */
#define AIS_OBJ_META_MAX 512

/* The largest ObjExt (an object's S3 ETag and stored headers, ais.proto)
 * a node keeps. */
#define AIS_OBJ_EXT_MAX 8192

/* ext (an encoded ObjExt of len bytes; len 0: none) with its etag set to
 * etag, encoded into out (AIS_OBJ_EXT_MAX bytes). Returns the length, or
 * -EBADMSG (ext does not decode), -E2BIG or -ENOMEM. */
long ais_obj_ext_with_etag(const uint8_t *ext, size_t len, const char *etag,
			   uint8_t *out);

/* Whether a header may be kept in an ObjExt: a lower-case name the S3
 * endpoint keeps (content-type, content-encoding, content-disposition,
 * content-language, cache-control, expires, x-amz-meta-*: letters,
 * digits, '-', at most 128 bytes) and a value of at most 4096 bytes with
 * no control character but tab. ais_obj_ext_check: every header of an
 * encoded ObjExt so (and an etag of hex digits and '-'): 0, or -EINVAL
 * with errmsg. What a node stores goes out in HTTP answers as it is. */
bool ais_obj_ext_header_kept(const char *name);
bool ais_obj_ext_header_ok(const char *name, const char *value);
int ais_obj_ext_check(const uint8_t *ext, size_t len, char *errmsg);

/* The etag of an encoded ObjExt into out (cap bytes; "" when there is
 * none or it does not decode). */
void ais_obj_ext_etag(const uint8_t *ext, size_t len, char *out, size_t cap);

/* Fills pb (caller's, initialised here) pointing into m: m must outlive it.
 */
void ais_obj_meta_to_pb(const struct ais_obj_meta *m, Ais__ObjMeta *pb);

/* pb -> *out; a NULL pb gives all zeroes. */
void ais_obj_meta_from_pb(const Ais__ObjMeta *pb, struct ais_obj_meta *out);

/* Encodes m as a protobuf ObjMeta into buf (AIS_OBJ_META_MAX bytes);
 * returns the length. */
size_t ais_obj_meta_encode(const struct ais_obj_meta *m, uint8_t *buf);

/* Decodes len bytes of an encoded ObjMeta. Returns 0 or -EBADMSG. */
int ais_obj_meta_decode(const uint8_t *buf, size_t len, struct ais_obj_meta *m);

#endif
