/* The fixed frame header: encoding, validation, packing a head behind it. */
#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

void ais_frame_hdr_encode(const struct ais_frame_hdr *h, uint8_t *out)
{
	put32(out, h->magic);
	put16(out + 4, h->version);
	put16(out + 6, h->flags);
	put32(out + 8, h->request_id);
	put32(out + 12, h->head_len);
	put64(out + 16, h->body_len);
}

int ais_frame_hdr_decode(const uint8_t *in, struct ais_frame_hdr *h,
			 char *errmsg)
{
	h->magic = get32(in);
	h->version = get16(in + 4);
	h->flags = get16(in + 6);
	h->request_id = get32(in + 8);
	h->head_len = get32(in + 12);
	h->body_len = get64(in + 16);

	if (h->magic != AIS_FRAME_MAGIC)
		return ais_errf(errmsg, -EPROTO, "bad frame magic 0x%08x",
				h->magic);
	if (h->version != AIS_FRAME_VERSION)
		return ais_errf(errmsg, -EPROTO,
				"unsupported frame version %u (this build "
				"speaks %u)",
				h->version, AIS_FRAME_VERSION);
	if (h->flags & ~AIS_FRAME_FLAGS_KNOWN)
		return ais_errf(errmsg, -EPROTO, "unknown frame flags 0x%04x",
				h->flags);
	if (h->head_len == 0 || h->head_len > AIS_FRAME_HEAD_MAX)
		return ais_errf(errmsg, -EPROTO,
				"frame head length %u out of range (1..%u)",
				h->head_len, AIS_FRAME_HEAD_MAX);
	if (h->body_len > AIS_FRAME_BODY_MAX)
		return ais_errf(errmsg, -EPROTO,
				"frame body length %llu over the limit",
				(unsigned long long)h->body_len);
	return 0;
}

int ais_frame_pack(uint32_t request_id, uint16_t flags,
		   const ProtobufCMessage *head, uint64_t body_len,
		   uint8_t **out, size_t *outlen)
{
	struct ais_frame_hdr h;
	size_t head_len = protobuf_c_message_get_packed_size(head);
	uint8_t *buf;

	/* An all-default message packs to zero bytes, which the header
	 * forbids: every Request has an op and every Response a map version
	 * (maps start at version 1), so only a caller's bug gets here. */
	if (head_len == 0 || head_len > AIS_FRAME_HEAD_MAX ||
	    body_len > AIS_FRAME_BODY_MAX)
		return -EMSGSIZE;
	buf = malloc(AIS_FRAME_HDR_LEN + head_len);
	if (buf == NULL)
		return -ENOMEM;
	h.magic = AIS_FRAME_MAGIC;
	h.version = AIS_FRAME_VERSION;
	h.flags = flags;
	h.request_id = request_id;
	h.head_len = (uint32_t)head_len;
	h.body_len = body_len;
	ais_frame_hdr_encode(&h, buf);
	protobuf_c_message_pack(head, buf + AIS_FRAME_HDR_LEN);
	*out = buf;
	*outlen = AIS_FRAME_HDR_LEN + head_len;
	return 0;
}
