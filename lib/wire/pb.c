/* Protobuf heads with NUL-checked strings. protobuf-c copies a string field
 * of n bytes into an allocation of n + 1: with an allocator that records
 * each allocation's size, a string whose strlen is shorter held a NUL. The
 * message descriptors say where the strings are. */
#include "pb.h"

#include <stdlib.h>
#include <string.h>

#define HDR 16 /* the size in front of each block, keeping malloc alignment */

static void *pb_alloc(void *data, size_t size)
{
	uint8_t *p = malloc(HDR + size);

	(void)data;
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof(size));
	return p + HDR;
}

static void pb_free(void *data, void *ptr)
{
	(void)data;
	if (ptr)
		free((uint8_t *)ptr - HDR);
}

static ProtobufCAllocator sized = {
    .alloc = pb_alloc,
    .free = pb_free,
};

static size_t block_size(const void *p)
{
	size_t n;

	memcpy(&n, (const uint8_t *)p - HDR, sizeof(n));
	return n;
}

static bool msg_has_nul(const ProtobufCMessage *m);

static bool item_has_nul(const ProtobufCFieldDescriptor *f, const void *p)
{
	if (!p)
		return false;
	if (f->type == PROTOBUF_C_TYPE_STRING)
		/* Unset fields point at the (static) default. */
		return p != protobuf_c_empty_string && p != f->default_value &&
		       strlen(p) + 1 != block_size(p);
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return msg_has_nul(p);
	return false;
}

static bool msg_has_nul(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	unsigned i;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *member = base + f->offset;
		size_t n, j;

		if (f->type != PROTOBUF_C_TYPE_STRING &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			if (item_has_nul(f, *(void *const *)member))
				return true;
			continue;
		}
		n = *(const size_t *)(base + f->quantifier_offset);
		for (j = 0; j < n; j++)
			if (item_has_nul(f, (*(void *const *const *)member)[j]))
				return true;
	}
	return false;
}

ProtobufCMessage *ais_pb_unpack(const ProtobufCMessageDescriptor *d, size_t len,
				const uint8_t *data, bool *nul)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, &sized, len, data);

	*nul = m && msg_has_nul(m);
	return m;
}

void ais_pb_free(ProtobufCMessage *m)
{
	if (m)
		protobuf_c_message_free_unpacked(m, &sized);
}

ProtobufCMessage *ais_pb_dup(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	ProtobufCMessage *c;

	if (!buf)
		return NULL;
	protobuf_c_message_pack(m, buf);
	c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
	free(buf);
	return c;
}
