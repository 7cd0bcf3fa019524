/* An object's metadata and its protobuf form. */
#include "objmeta.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
	pb->ctime_ns = m->ctime_ns;
	pb->atime_ns = m->atime_ns;
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
	/* Objects from before these times existed: what stat showed then. */
	out->ctime_ns = pb->ctime_ns ? pb->ctime_ns : pb->mtime_ns;
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
