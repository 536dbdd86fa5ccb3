/* SPDX-License-Identifier: GPL-2.0 */
/* endian-util.h - byte-order-explicit field access for COW headers. */
#ifndef UMLCOW_ENDIAN_UTIL_H
#define UMLCOW_ENDIAN_UTIL_H

#include <stdint.h>

#include "cowfmt.h"

static inline uint32_t get_u32(const uint8_t *p, enum cow_byte_order o)
{
	if (o == COW_BE)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		       (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[1] << 8 | p[0];
}

static inline uint64_t get_u64(const uint8_t *p, enum cow_byte_order o)
{
	if (o == COW_BE)
		return (uint64_t)get_u32(p, o) << 32 | get_u32(p + 4, o);
	return (uint64_t)get_u32(p + 4, o) << 32 | get_u32(p, o);
}

static inline void put_u32(uint8_t *p, uint32_t v, enum cow_byte_order o)
{
	int i;

	for (i = 0; i < 4; i++)
		p[o == COW_BE ? 3 - i : i] = (uint8_t)(v >> (8 * i));
}

static inline void put_u64(uint8_t *p, uint64_t v, enum cow_byte_order o)
{
	int i;

	for (i = 0; i < 8; i++)
		p[o == COW_BE ? 7 - i : i] = (uint8_t)(v >> (8 * i));
}

#endif /* UMLCOW_ENDIAN_UTIL_H */
