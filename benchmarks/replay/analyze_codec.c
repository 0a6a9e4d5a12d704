// SPDX-License-Identifier: GPL-2.0
/*
 * analyze_codec.c - the series' patch codec and the kernel's LZ4, built in
 * user space as tools/testing/ksm_patch does (kshim.h, the kernel's own
 * sources), behind a plain interface for ksmtrace_analyze.c, which is
 * built without the kernel's headers.
 */
#include <linux/kernel.h>
#include <linux/lz4.h>

#include "../../mm/ksm_patch_codec.h"
#include "analyze_codec.h"

static u64 wrkmem[LZ4_MEM_COMPRESS / 8 + 1];

unsigned int codec_keys(const void *page, unsigned int k, unsigned int s,
			unsigned long long *keys)
{
	u64 feat[KSM_PATCH_MAX_HASHES], k64[KSM_PATCH_MAX_KEYS];
	unsigned int n, i;

	ksm_patch_features(page, k, feat);
	n = ksm_patch_keys(feat, k, s, k64);
	for (i = 0; i < n; i++)
		keys[i] = k64[i];
	return n;
}

int codec_patch_len(const void *page, const void *ref, unsigned int max)
{
	static u8 out[KSM_PATCH_BUF_SIZE];

	return ksm_patch_encode(page, ref, out, max, wrkmem);
}

int codec_lz4_len(const void *page)
{
	static char out[LZ4_COMPRESSBOUND(PAGE_SIZE)];

	return LZ4_compress_default(page, out, PAGE_SIZE, sizeof(out), wrkmem);
}
