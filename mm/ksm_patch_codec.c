// SPDX-License-Identifier: GPL-2.0
/*
 * KSM patch tier codec: similarity features of a page and patches of a
 * page against a reference page.
 *
 * Features follow the Difference Engine (Gupta et al., OSDI 2008): k
 * comparison points at fixed pseudo-random offsets, a hash of a 64-byte
 * block at each, and index keys that combine every group of s of the k
 * hashes.  Unlike the Difference Engine, a point's hash is the smallest of
 * the block hashes over a window of start positions, so a page whose
 * content moved by a few bytes still shares keys with the page it came
 * from.
 *
 * A patch is the page compressed by LZ4 with the reference page as the
 * external dictionary: unchanged runs, moved or not, become matches into
 * the reference.  The decoder checks the header, lets the bounds-checking
 * LZ4 decoder rebuild exactly one page, and compares the checksum of the
 * result, so a truncated or corrupted patch is an error, never a wrong
 * page or an access out of bounds.
 *
 * No state, no allocation, no locks: callers pass the work memory.
 * tools/testing/ksm_patch builds this file in user space for fuzzing.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/lz4.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <linux/xxhash.h>
#include <asm/page.h>

#include "ksm_patch_codec.h"

/*
 * The comparison points, as fractions (in 1/65536) of the range of
 * possible offsets: fixed, so that every page is sampled at the same
 * places, and spread so that the first few cover the page.
 */
static const u16 ksm_patch_points[KSM_PATCH_MAX_HASHES] = {
	0x9e37, 0x2f1b, 0xd4a1, 0x5c83, 0x7a19, 0x0b6d, 0xc3f5, 0x46e2,
};

/* Multiplier of the polynomial rolling hash (odd, so invertible). */
#define KSM_PATCH_ROLL_MUL	0x100000001b3ULL

/* The 64-bit finaliser of MurmurHash3: every input bit moves every output bit. */
static inline u64 ksm_patch_mix(u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static unsigned int ksm_patch_point(unsigned int i)
{
	return (ksm_patch_points[i] *
		(PAGE_SIZE - KSM_PATCH_BLOCK - KSM_PATCH_WINDOW + 1)) >> 16;
}

/**
 * ksm_patch_nr_keys() - number of index keys of a page.
 * @k: comparison points, 1..%KSM_PATCH_MAX_HASHES.
 * @s: hashes per key, 1..@k.
 *
 * Return: C(@k, @s), or 0 if @k or @s is out of range.
 */
unsigned int ksm_patch_nr_keys(unsigned int k, unsigned int s)
{
	unsigned int n = 1, i;

	if (!k || k > KSM_PATCH_MAX_HASHES || !s || s > k)
		return 0;
	for (i = 0; i < s; i++)
		n = n * (k - i) / (i + 1);
	return n;
}

/**
 * ksm_patch_features() - hash the comparison points of a page.
 * @page: PAGE_SIZE bytes.
 * @k: comparison points, 1..%KSM_PATCH_MAX_HASHES.
 * @feat: @k hashes out.
 *
 * Point i covers the KSM_PATCH_WINDOW blocks of KSM_PATCH_BLOCK bytes that
 * start at its offset and the bytes after it; its hash is the smallest
 * block hash.  A polynomial rolling hash makes each further block O(1).
 */
void ksm_patch_features(const u8 *page, unsigned int k, u64 *feat)
{
	u64 top = 1;	/* KSM_PATCH_ROLL_MUL ^ (KSM_PATCH_BLOCK - 1) */
	unsigned int i, j;

	for (j = 1; j < KSM_PATCH_BLOCK; j++)
		top *= KSM_PATCH_ROLL_MUL;
	for (i = 0; i < k && i < KSM_PATCH_MAX_HASHES; i++) {
		const u8 *p = page + ksm_patch_point(i);
		u64 h = 0, min = U64_MAX;

		for (j = 0; j < KSM_PATCH_BLOCK; j++)
			h = h * KSM_PATCH_ROLL_MUL + p[j];
		for (j = 0; ; j++) {
			min = min_t(u64, min, ksm_patch_mix(h));
			if (j == KSM_PATCH_WINDOW - 1)
				break;
			h = (h - p[j] * top) * KSM_PATCH_ROLL_MUL +
			    p[j + KSM_PATCH_BLOCK];
		}
		feat[i] = min;
	}
}

/**
 * ksm_patch_keys() - combine the hashes of a page into index keys.
 * @feat: @k hashes from ksm_patch_features().
 * @k: comparison points.
 * @s: hashes per key.
 * @keys: ksm_patch_nr_keys(@k, @s) keys out, at most %KSM_PATCH_MAX_KEYS.
 *
 * One key per group of @s of the @k points, in a fixed order; the group's
 * members are part of the key, so equal hashes at different points do
 * not collide.  Two pages share a key when all @s hashes of a group match.
 *
 * Return: number of keys written.
 */
unsigned int ksm_patch_keys(const u64 *feat, unsigned int k, unsigned int s,
			    u64 *keys)
{
	unsigned int mask, i, n = 0;

	if (!ksm_patch_nr_keys(k, s))
		return 0;
	for (mask = 1; mask < (1U << k); mask++) {
		u64 h;

		if (hweight32(mask) != s)
			continue;
		h = ksm_patch_mix(mask);
		for (i = 0; i < k; i++)
			if (mask & (1U << i))
				h = ksm_patch_mix(h ^ feat[i]) + i;
		keys[n++] = h;
	}
	return n;
}

/**
 * ksm_patch_encode() - encode a page as a patch against a reference page.
 * @page: the page, PAGE_SIZE bytes.
 * @ref: the reference page, PAGE_SIZE bytes; the decoder needs the same.
 * @out: the patch out.
 * @max: bytes available at @out; the patch is kept only if it fits.
 * @wrkmem: %LZ4_MEM_COMPRESS bytes of work memory, aligned for u64.
 *
 * Return: length of the patch, or -ENOSPC if it does not fit in @max.
 */
int ksm_patch_encode(const void *page, const void *ref, void *out,
		     unsigned int max, void *wrkmem)
{
	struct ksm_patch_hdr *hdr = out;
	LZ4_stream_t *stream = wrkmem;
	int n;

	if (max <= sizeof(*hdr))
		return -ENOSPC;
	max = min_t(unsigned int, max, KSM_PATCH_BUF_SIZE);
	LZ4_resetStream(stream);
	LZ4_loadDict(stream, ref, PAGE_SIZE);
	n = LZ4_compress_fast_continue(stream, page, (char *)(hdr + 1),
				       PAGE_SIZE, max - sizeof(*hdr), 1);
	if (n <= 0)
		return -ENOSPC;
	hdr->magic = cpu_to_le16(KSM_PATCH_MAGIC);
	hdr->version = KSM_PATCH_VERSION;
	hdr->flags = 0;
	hdr->body_len = cpu_to_le32(n);
	hdr->csum = cpu_to_le64(xxh64(page, PAGE_SIZE, 0));
	return sizeof(*hdr) + n;
}

/**
 * ksm_patch_decode() - rebuild a page from a patch and its reference page.
 * @patch: the patch.
 * @len: its length in bytes.
 * @ref: the reference page it was encoded against, PAGE_SIZE bytes.
 * @page: PAGE_SIZE bytes out; undefined content on error.
 *
 * Reads no byte outside @patch[0..@len) and @ref, writes none outside
 * @page, whatever @patch holds.
 *
 * Return: 0, -EINVAL if the header or a length is wrong, -EBADMSG if the
 * body does not decode to exactly one page or the page's checksum differs.
 */
int ksm_patch_decode(const void *patch, unsigned int len, const void *ref,
		     void *page)
{
	const struct ksm_patch_hdr *hdr = patch;
	unsigned int body;
	int n;

	if (len <= sizeof(*hdr) || len > KSM_PATCH_BUF_SIZE)
		return -EINVAL;
	if (get_unaligned_le16(&hdr->magic) != KSM_PATCH_MAGIC ||
	    hdr->version != KSM_PATCH_VERSION || hdr->flags)
		return -EINVAL;
	body = get_unaligned_le32(&hdr->body_len);
	if (body != len - sizeof(*hdr))
		return -EINVAL;
	n = LZ4_decompress_safe_usingDict((const char *)(hdr + 1), page, body,
					  PAGE_SIZE, ref, PAGE_SIZE);
	if (n != PAGE_SIZE)
		return -EBADMSG;
	if (xxh64(page, PAGE_SIZE, 0) != get_unaligned_le64(&hdr->csum))
		return -EBADMSG;
	return 0;
}

#ifdef CONFIG_KSM_PATCH_KUNIT_TEST
#include "tests/ksm_patch_kunit.h"
#endif
