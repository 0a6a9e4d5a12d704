/* SPDX-License-Identifier: GPL-2.0 */
/*
 * analyze_codec.h - the patch codec and LZ4 for ksmtrace_analyze.c
 * (analyze_codec.c), in plain C types.
 */
#ifndef ANALYZE_CODEC_H
#define ANALYZE_CODEC_H

/* Most index keys of a page (KSM_PATCH_MAX_KEYS). */
#define CODEC_MAX_KEYS	70

/* The index keys of @page with @k comparison points, @s hashes per key. */
unsigned int codec_keys(const void *page, unsigned int k, unsigned int s,
			unsigned long long *keys);
/* Bytes of the patch of @page against @ref, or <= 0 if over @max. */
int codec_patch_len(const void *page, const void *ref, unsigned int max);
/* Bytes of @page compressed by LZ4 (the kernel's), or 0. */
int codec_lz4_len(const void *page);

#endif
