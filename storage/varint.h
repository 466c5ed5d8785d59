/* varint.h — unsigned LEB128 varints, as the WAL, block values, the
 * archive and the index's records use them (storage-internal). */
#ifndef VIGIL_STORAGE_VARINT_H
#define VIGIL_STORAGE_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* Longest encoding of a u64. */
#define TSDB_UVARINT_MAX 10

/* Writes v at p (up to TSDB_UVARINT_MAX bytes); returns the length. */
size_t tsdb_uvarint_put(uint8_t *p, uint64_t v);
/* Returns bytes read, 0 if malformed or past end. */
size_t tsdb_uvarint_get_long(const uint8_t *p, const uint8_t *end, uint64_t *v);
static inline size_t tsdb_uvarint_get(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (p < end && *p < 0x80) { /* most are one byte: no call */
        *v = *p;
        return 1;
    }
    return tsdb_uvarint_get_long(p, end, v);
}
/* Length of v's encoding. */
size_t tsdb_uvarint_len(uint64_t v);

#endif
