// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the KSM patch codec, built from the kernel's own
 * mm/ksm_patch_codec.c, lib/lz4 and lib/xxhash.c (see the Makefile).
 *
 * The first input byte picks what the rest is:
 *  even: a patch, decoded against a fixed reference page.  It must be
 *        rejected or rebuild a page with the patch's checksum;
 *  odd:  edits of the reference page (writes and one shift).  The edited
 *        page is encoded, decoded and compared byte for byte; then the
 *        patch is cut short, which must fail, and corrupted at
 *        input-chosen places, which must fail or still rebuild the same
 *        page (a changed match offset inside a run of equal bytes does).
 * Every buffer is allocated to its exact size, so AddressSanitizer
 * reports any byte read or written out of bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kernel.h>
#include <linux/lz4.h>
#include <linux/unaligned.h>
#include <linux/xxhash.h>

#include "../../../mm/ksm_patch_codec.h"

static u8 *ref, *page, *out, *patch;
static void *wrkmem;

static void setup(void)
{
	u64 x = 0x9e3779b97f4a7c15ULL;
	size_t i;

	ref = malloc(PAGE_SIZE);
	page = malloc(PAGE_SIZE);
	out = malloc(PAGE_SIZE);
	patch = malloc(KSM_PATCH_BUF_SIZE);
	wrkmem = malloc(LZ4_MEM_COMPRESS);
	if (!ref || !page || !out || !patch || !wrkmem)
		abort();
	/* Half random, half text-like: both literal and match paths. */
	for (i = 0; i < PAGE_SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ref[i] = i < PAGE_SIZE / 2 ? (u8)x : "ksm patch tier "[i % 15];
	}
}

static void decode_raw(const u8 *data, size_t size)
{
	u8 *p = malloc(size ? size : 1);

	memcpy(p, data, size);
	if (!ksm_patch_decode(p, size, ref, out) &&
	    xxh64(out, PAGE_SIZE, 0) != get_unaligned_le64(p + 8))
		abort();
	free(p);
}

static void round_trip(const u8 *data, size_t size)
{
	int shift = size ? (int)(data[0] % 129) - 64 : 0;
	unsigned int n = abs(shift);
	size_t i;
	u8 *p;
	int len;

	if (shift > 0) {
		memcpy(page + n, ref, PAGE_SIZE - n);
		memset(page, 0xa5, n);
	} else {
		memcpy(page, ref + n, PAGE_SIZE - n);
		memset(page + PAGE_SIZE - n, 0x5a, n);
	}
	/* Then writes: (offset low, offset high, byte) triples. */
	for (i = 1; i + 3 <= size && i < 1 + 3 * 512; i += 3)
		page[(data[i] | data[i + 1] << 8) % PAGE_SIZE] = data[i + 2];

	len = ksm_patch_encode(page, ref, patch, KSM_PATCH_BUF_SIZE, wrkmem);
	if (len <= (int)sizeof(struct ksm_patch_hdr))
		abort();
	p = malloc(len);
	memcpy(p, patch, len);
	if (ksm_patch_decode(p, len, ref, out) || memcmp(out, page, PAGE_SIZE))
		abort();
	/* Cut short: must fail. */
	if (!ksm_patch_decode(p, len - 1 - (size ? data[size - 1] % len : 0),
			      ref, out))
		abort();
	/* A byte changed, at a place the input picks: never a wrong page. */
	for (i = 1; i < size && i < 64; i++) {
		size_t at = (data[i] * 131 + i) % len;
		u8 was = p[at], to = data[i] ^ (u8)i;

		if (to == was)
			continue;
		p[at] = to;
		if (!ksm_patch_decode(p, len, ref, out) &&
		    memcmp(out, page, PAGE_SIZE))
			abort();
		p[at] = was;
	}
	free(p);
}

/* libFuzzer's entry point (linked as LLVMFuzzerTestOneInput). */
int ksm_patch_fuzz_one(const u8 *data, size_t size);

int ksm_patch_fuzz_one(const u8 *data, size_t size)
{
	if (!ref)
		setup();
	if (!size)
		return 0;
	if (data[0] & 1)
		round_trip(data + 1, size - 1);
	else
		decode_raw(data + 1, size - 1);
	return 0;
}
