/* Fuzz target: the wire protocol's frames as a node and a client read them.
 *
 * The input is a byte stream from a socket. As the node's server
 * (daemon/net/server.c) does: a 24-byte header (ais_frame_hdr_decode), the
 * Request head behind it unpacked with NUL-checked strings (ais_pb_unpack),
 * then the body skipped, and the next pipelined frame. The same heads are
 * also read as the client reads an answer (lib/wire/conn.c, async.c): a
 * Response, its map (ais_map_from_pb), its object metadata and S3 headers.
 * A head that unpacks must pack again to something that unpacks. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "map.h"
#include "objmeta.h"
#include "pb.h"
#include "util.h"

#include "fuzz.h"

/* What a node does with a request head before its handler. */
static void request(const uint8_t *head, size_t len)
{
	Ais__Request *req;
	ProtobufCMessage *dup;
	struct ais_obj_meta meta;
	char errmsg[AIS_ERRMSG_LEN];
	bool nul;

	req = (Ais__Request *)ais_pb_unpack(&ais__request__descriptor, len,
					    head, &nul);
	if (!req)
		return;
	if (req->meta)
		ais_obj_meta_from_pb(req->meta, &meta);
	if (req->ext.len)
		ais_obj_ext_check(req->ext.data, req->ext.len, errmsg);
	dup = ais_pb_dup(&req->base);
	if (dup)
		protobuf_c_message_free_unpacked(dup, NULL);
	ais_pb_free(&req->base);
}

/* What a client does with an answer's head. */
static void response(const uint8_t *head, size_t len)
{
	char errmsg[AIS_ERRMSG_LEN], etag[128];
	struct ais_obj_meta meta;
	struct ais_map *m = NULL;
	Ais__Response *resp;

	resp = ais__response__unpack(NULL, len, head);
	if (!resp)
		return;
	ais_obj_meta_from_pb(resp->meta, &meta);
	if (resp->ext.len)
		ais_obj_ext_etag(resp->ext.data, resp->ext.len, etag,
				 sizeof(etag));
	if (resp->map && ais_map_from_pb(resp->map, &m, errmsg) == 0) {
		ais_map_owner(m, "bucket", "name");
		ais_map_copy_set(m, "bucket", "a/b", (int[4]){0}, 4);
		ais_map_free(m);
	}
	ais__response__free_unpacked(resp, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errmsg[AIS_ERRMSG_LEN];
	struct ais_frame_hdr h;

	while (size >= AIS_FRAME_HDR_LEN) {
		size_t need;

		if (ais_frame_hdr_decode(data, &h, errmsg) < 0)
			break;
		need = AIS_FRAME_HDR_LEN + h.head_len;
		if (size < need)
			break;
		request(data + AIS_FRAME_HDR_LEN, h.head_len);
		response(data + AIS_FRAME_HDR_LEN, h.head_len);
		data += need;
		size -= need;
		/* The body: what of it is here. */
		need = h.body_len < size ? (size_t)h.body_len : size;
		data += need;
		size -= need;
	}
	return 0;
}
