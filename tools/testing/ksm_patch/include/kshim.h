/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Just enough of the kernel's headers to build mm/ksm_patch_codec.c,
 * lib/lz4 and lib/xxhash.c in user space (little-endian hosts).
 */
#ifndef _KSHIM_H
#define _KSHIM_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef u16 __le16;
typedef u32 __le32;
typedef u64 __le64;

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kshim.h assumes a little-endian host"
#endif

/* What the kernel's byteorder and Kconfig headers tell lib/lz4. */
#define __LITTLE_ENDIAN		1234
#define CONFIG_64BIT		1

#define PAGE_SIZE		4096UL
#define BITS_PER_LONG		64
#define U64_MAX			UINT64_MAX
#undef __always_inline
#define __always_inline		inline __attribute__((__always_inline__))
#define noinline		__attribute__((__noinline__))
#define __maybe_unused		__attribute__((__unused__))
#define fallthrough		__attribute__((__fallthrough__))
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#define __init
#define __exit
#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)
#define MODULE_LICENSE(s)
#define MODULE_DESCRIPTION(s)
#define module_init(f)
#define module_exit(f)

#define min_t(t, a, b)		((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b)		((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define min(a, b)		((a) < (b) ? (a) : (b))
#define BUILD_BUG_ON(c)		_Static_assert(!(c), #c)

#define cpu_to_le16(x)		((__le16)(x))
#define cpu_to_le32(x)		((__le32)(x))
#define le16_to_cpu(x)		((u16)(x))
#define le32_to_cpu(x)		((u32)(x))

#define get_unaligned(p) ({				\
	__typeof__(*(p)) __v;				\
	memcpy((void *)&__v, (p), sizeof(__v));		\
	__v; })
#define put_unaligned(v, p) do {			\
	__typeof__(*(p)) __v = (v);			\
	memcpy((p), &__v, sizeof(__v));			\
} while (0)

static inline u16 get_unaligned_le16(const void *p)
{
	return get_unaligned((const u16 *)p);
}

static inline u32 get_unaligned_le32(const void *p)
{
	return get_unaligned((const u32 *)p);
}

static inline u64 get_unaligned_le64(const void *p)
{
	return get_unaligned((const u64 *)p);
}

static inline void put_unaligned_le16(u16 v, void *p)
{
	put_unaligned(v, (u16 *)p);
}

static inline void put_unaligned_le32(u32 v, void *p)
{
	put_unaligned(v, (u32 *)p);
}

static inline unsigned long __ffs(unsigned long x)
{
	return __builtin_ctzl(x);
}

static inline unsigned long __fls(unsigned long x)
{
	return BITS_PER_LONG - 1 - __builtin_clzl(x);
}

static inline unsigned int hweight32(u32 w)
{
	return __builtin_popcount(w);
}

static inline u32 rol32(u32 w, unsigned int s)
{
	return (w << (s & 31)) | (w >> ((-s) & 31));
}

static inline u64 rol64(u64 w, unsigned int s)
{
	return (w << (s & 63)) | (w >> ((-s) & 63));
}

#endif /* _KSHIM_H */
