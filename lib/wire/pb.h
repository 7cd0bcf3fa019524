/* Protobuf heads read with one more check than protobuf-c makes: protobuf-c
 * keeps a string field as a C string, so "a\0b" on the wire reaches a
 * handler as "a" without a word. A node must refuse such names instead of
 * acting on a shorter one. */
#ifndef AIS_PB_H
#define AIS_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Unpacks len bytes of a message of type d. *nul is set when a string field
 * (of a nested message too) holds a NUL byte. Returns the message, to free
 * with ais_pb_free (not with the generated free_unpacked), or NULL if the
 * bytes do not unpack or memory is short. */
ProtobufCMessage *ais_pb_unpack(const ProtobufCMessageDescriptor *d, size_t len,
				const uint8_t *data, bool *nul);

void ais_pb_free(ProtobufCMessage *m);

/* A copy of m on its own (packed and unpacked), to free with the
 * generated free_unpacked of its type; NULL when memory is short. */
ProtobufCMessage *ais_pb_dup(const ProtobufCMessage *m);

#endif
