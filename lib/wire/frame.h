/* The fixed 24-byte frame header of the wire protocol, and packing of a
 * protobuf head behind it. See DESIGN.md "Wire protocol". */
#ifndef AIS_FRAME_H
#define AIS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define AIS_FRAME_MAGIC	      0x31534941u /* the bytes "AIS1" read little-endian */
#define AIS_FRAME_VERSION     1
#define AIS_FRAME_HDR_LEN     24
#define AIS_FRAME_HEAD_MAX    (1u << 20) /* 1 MiB: larger heads are malformed */
#define AIS_FRAME_BODY_MAX    (1ull << 44) /* 16 TiB: a sanity bound */
#define AIS_FRAME_FLAG_LZ4    0x0001u	   /* body is an LZ4 frame */
#define AIS_FRAME_FLAGS_KNOWN (AIS_FRAME_FLAG_LZ4)

struct ais_frame_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t flags;
	uint32_t request_id;
	uint32_t head_len;
	uint64_t body_len;
};

/* Writes h little-endian into out[0..23]. */
void ais_frame_hdr_encode(const struct ais_frame_hdr *h, uint8_t *out);

/* Reads out of in[0..23] and validates magic, version, known flags, head_len
 * (1..AIS_FRAME_HEAD_MAX) and body_len (<= AIS_FRAME_BODY_MAX).
 * Returns 0, or -EPROTO with the reason in errmsg. */
int ais_frame_hdr_decode(const uint8_t *in, struct ais_frame_hdr *h,
			 char *errmsg);

/* Packs header + protobuf head into one heap buffer: *out (freed by the
 * caller with free()) of *outlen bytes; the body (body_len bytes) is sent
 * after it by the caller. Returns 0 or -ENOMEM / -EMSGSIZE. */
int ais_frame_pack(uint32_t request_id, uint16_t flags,
		   const ProtobufCMessage *head, uint64_t body_len,
		   uint8_t **out, size_t *outlen);

#endif
