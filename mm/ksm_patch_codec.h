/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KSM patch tier: a page similar to a reference page is kept as a patch
 * against it.  This header is the codec (mm/ksm_patch_codec.c): the
 * similarity features of a page and the patch format.  The codec has no
 * state and touches no mm structure, so that tools/testing/ksm_patch can
 * build the same source in user space and fuzz the decoder.
 */
#ifndef _MM_KSM_PATCH_CODEC_H
#define _MM_KSM_PATCH_CODEC_H

#include <linux/lz4.h>
#include <linux/types.h>
#include <asm/page.h>

/* Bytes hashed at each comparison point (the Difference Engine's block). */
#define KSM_PATCH_BLOCK		64
/*
 * Start positions searched at each comparison point: a point's feature is
 * the smallest block hash over KSM_PATCH_WINDOW consecutive starts, so the
 * same content moved by up to a few dozen bytes usually yields the same
 * feature (the Difference Engine hashed one block at a fixed offset, which
 * misses shifted content).
 */
#define KSM_PATCH_WINDOW	256
/* Upper limit of comparison points per page (the knob k). */
#define KSM_PATCH_MAX_HASHES	8
/* Upper limit of index keys per page: C(8, 4). */
#define KSM_PATCH_MAX_KEYS	70

#define KSM_PATCH_MAGIC		0x504b	/* "KP" */
#define KSM_PATCH_VERSION	1

/**
 * struct ksm_patch_hdr - header of an encoded patch, little endian.
 * @magic: %KSM_PATCH_MAGIC.
 * @version: %KSM_PATCH_VERSION.
 * @flags: zero; other values are rejected.
 * @body_len: bytes of LZ4 block that follow the header, exactly.
 * @csum: xxh64 (seed 0) of the page the patch rebuilds.
 *
 * The body is one LZ4 block that decompresses to exactly one page with the
 * reference page as its external dictionary, so content that moved within
 * the page costs one match, not a rewrite.
 */
struct ksm_patch_hdr {
	__le16 magic;
	u8 version;
	u8 flags;
	__le32 body_len;
	__le64 csum;
};

/* Room that ksm_patch_encode() may need for a patch of one page. */
#define KSM_PATCH_BUF_SIZE	(sizeof(struct ksm_patch_hdr) + \
				 LZ4_COMPRESSBOUND(PAGE_SIZE))

unsigned int ksm_patch_nr_keys(unsigned int k, unsigned int s);
void ksm_patch_features(const u8 *page, unsigned int k, u64 *feat);
unsigned int ksm_patch_keys(const u64 *feat, unsigned int k, unsigned int s,
			    u64 *keys);
int ksm_patch_encode(const void *page, const void *ref, void *out,
		     unsigned int max, void *wrkmem);
int ksm_patch_decode(const void *patch, unsigned int len, const void *ref,
		     void *page);

#endif /* _MM_KSM_PATCH_CODEC_H */
