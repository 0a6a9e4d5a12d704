// SPDX-License-Identifier: GPL-2.0
/*
 * Speed of the KSM patch codec in user space, built from the kernel's own
 * sources like fuzz.c but without sanitizers: features and keys of a page,
 * encoding against a reference (what ksmd pays per candidate), decoding
 * with and without the checksum, and plain LZ4 of a page for comparison.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kernel.h>
#include <linux/lz4.h>
#include <linux/xxhash.h>

#include "../../../mm/ksm_patch_codec.h"

#define ROUNDS 20000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	static u8 ref[PAGE_SIZE], page[PAGE_SIZE], out[PAGE_SIZE];
	static u8 patch[KSM_PATCH_BUF_SIZE], comp[2 * PAGE_SIZE];
	static u64 wrkmem[LZ4_MEM_COMPRESS / 8 + 1];
	u64 feat[KSM_PATCH_MAX_HASHES], keys[KSM_PATCH_MAX_KEYS];
	u64 x = 0x9e3779b97f4a7c15ULL;
	u32 sink = 0;
	double t, us[6];
	int len = 0, clen = 0, i, j;

	for (i = 0; i < (int)PAGE_SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ref[i] = x;
	}
	/* 95% similar: 12 runs of 16 changed bytes. */
	memcpy(page, ref, PAGE_SIZE);
	for (i = 0; i < 12; i++)
		for (j = 0; j < 16; j++)
			page[(i * 331) % (PAGE_SIZE / 16) * 16 + j] ^= 0x5a + i;

	t = now();
	for (i = 0; i < ROUNDS; i++) {
		ksm_patch_features(page, 4, feat);
		sink += ksm_patch_keys(feat, 4, 1, keys);
	}
	us[0] = (now() - t) * 1e6 / ROUNDS;
	t = now();
	for (i = 0; i < ROUNDS; i++)
		len = ksm_patch_encode(page, ref, patch, 2048, wrkmem);
	us[1] = (now() - t) * 1e6 / ROUNDS;
	t = now();
	for (i = 0; i < ROUNDS; i++)
		sink += ksm_patch_decode(patch, len, ref, out);
	us[2] = (now() - t) * 1e6 / ROUNDS;
	t = now();
	for (i = 0; i < ROUNDS; i++)
		sink += xxh64(out, PAGE_SIZE, 0);
	us[3] = (now() - t) * 1e6 / ROUNDS;
	/* The text of ksm_cold_bench: what zswap compresses well. */
	for (i = 0; i + 64 <= (int)PAGE_SIZE; i += 64)
		snprintf((char *)page + i, 65, "ksm cold page %08x salt %08x line %04x .......\n",
			 1, 2, i / 64);
	t = now();
	for (i = 0; i < ROUNDS; i++)
		clen = LZ4_compress_default((char *)page, (char *)comp, PAGE_SIZE,
					    sizeof(comp), wrkmem);
	us[4] = (now() - t) * 1e6 / ROUNDS;
	t = now();
	for (i = 0; i < ROUNDS; i++)
		sink += LZ4_decompress_safe((char *)comp, (char *)out, clen,
					    PAGE_SIZE);
	us[5] = (now() - t) * 1e6 / ROUNDS;
	printf("features+keys %.2f us, encode %.2f us (%d bytes), ",
	       us[0], us[1], len);
	printf("decode %.2f us (of which xxh64 %.2f us)\n", us[2], us[3]);
	printf("plain lz4 of a text page: compress %.2f us (%d bytes), decompress %.2f us\n",
	       us[4], clen, us[5]);
	/* Printed so that the compiler keeps every round. */
	printf("(check %08x)\n", sink);
	return 0;
}
