/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What tools/include lacks to build mm/ksm_patch_codec.c, lib/lz4 and
 * lib/xxhash.c in user space: byte order helpers, hweight32() and module
 * information macros.
 * Little-endian hosts only (the Makefile defines __LITTLE_ENDIAN).
 */
#ifndef _KSM_PATCH_KSHIM_H
#define _KSM_PATCH_KSHIM_H

#include <endian.h>
#include <linux/types.h>

static inline u16 le16_to_cpu(__le16 x) { return le16toh(x); }
static inline u32 le32_to_cpu(__le32 x) { return le32toh(x); }
static inline u64 le64_to_cpu(__le64 x) { return le64toh(x); }
static inline __le16 cpu_to_le16(u16 x) { return htole16(x); }
static inline __le32 cpu_to_le32(u32 x) { return htole32(x); }
static inline __le64 cpu_to_le64(u64 x) { return htole64(x); }
static inline u16 be16_to_cpu(__be16 x) { return be16toh(x); }
static inline u32 be32_to_cpu(__be32 x) { return be32toh(x); }
static inline u64 be64_to_cpu(__be64 x) { return be64toh(x); }
static inline __be16 cpu_to_be16(u16 x) { return htobe16(x); }
static inline __be32 cpu_to_be32(u32 x) { return htobe32(x); }
static inline __be64 cpu_to_be64(u64 x) { return htobe64(x); }

/* lib/lz4 is also a module; here it is not. */
#define MODULE_LICENSE(...)
#define MODULE_DESCRIPTION(...)

static inline unsigned int hweight32(u32 w)
{
	return __builtin_popcount(w);
}

#endif /* _KSM_PATCH_KSHIM_H */
