/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of the KSM patch codec: similarity keys, patch round trips
 * across similarity levels and shifts, and rejection of truncated,
 * corrupted and random patches.  Included at the end of
 * mm/ksm_patch_codec.c.
 *
 * Pages come from a seeded generator, so every run sees the same bytes
 * and the counts asserted below are exact, not statistical.
 */

#ifndef _MM_KSM_PATCH_KUNIT_H
#define _MM_KSM_PATCH_KUNIT_H

#include <kunit/test.h>
#include <linux/prandom.h>
#include <linux/slab.h>

/* The tier's defaults: k = 4 points, s = 1 hash per key. */
#define KT_K	4
#define KT_S	1

struct ksm_patch_kt {
	struct rnd_state rnd;
	u8 *ref;
	u8 *page;
	u8 *out;	/* PAGE_SIZE, then a guard page */
	u8 *patch;
	void *wrkmem;
};

static struct ksm_patch_kt *kt_init(struct kunit *test, u64 seed)
{
	struct ksm_patch_kt *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	t->ref = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	t->page = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	t->out = kunit_kmalloc(test, 2 * PAGE_SIZE, GFP_KERNEL);
	t->patch = kunit_kmalloc(test, KSM_PATCH_BUF_SIZE, GFP_KERNEL);
	t->wrkmem = kunit_kmalloc(test, LZ4_MEM_COMPRESS, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t->ref);
	KUNIT_ASSERT_NOT_NULL(test, t->page);
	KUNIT_ASSERT_NOT_NULL(test, t->out);
	KUNIT_ASSERT_NOT_NULL(test, t->patch);
	KUNIT_ASSERT_NOT_NULL(test, t->wrkmem);
	prandom_seed_state(&t->rnd, seed);
	prandom_bytes_state(&t->rnd, t->ref, PAGE_SIZE);
	return t;
}

/* Change @pct percent of the page in runs of 16 random bytes. */
static void kt_modify(struct ksm_patch_kt *t, unsigned int pct)
{
	unsigned int runs = PAGE_SIZE * pct / 100 / 16, i;

	memcpy(t->page, t->ref, PAGE_SIZE);
	for (i = 0; i < runs; i++) {
		unsigned int at = prandom_u32_state(&t->rnd) % (PAGE_SIZE / 16);

		prandom_bytes_state(&t->rnd, t->page + at * 16, 16);
	}
}

/* Move the content by @d bytes (right if > 0), new bytes where it left. */
static void kt_shift(struct ksm_patch_kt *t, int d)
{
	unsigned int n = abs(d);

	if (d > 0) {
		memcpy(t->page + n, t->ref, PAGE_SIZE - n);
		prandom_bytes_state(&t->rnd, t->page, n);
	} else {
		memcpy(t->page, t->ref + n, PAGE_SIZE - n);
		prandom_bytes_state(&t->rnd, t->page + PAGE_SIZE - n, n);
	}
}

/* Do the page and the reference share an index key? */
static bool kt_similar(struct ksm_patch_kt *t)
{
	u64 fa[KSM_PATCH_MAX_HASHES], fb[KSM_PATCH_MAX_HASHES];
	u64 ka[KSM_PATCH_MAX_KEYS], kb[KSM_PATCH_MAX_KEYS];
	unsigned int n, i, j;

	ksm_patch_features(t->ref, KT_K, fa);
	ksm_patch_features(t->page, KT_K, fb);
	n = ksm_patch_keys(fa, KT_K, KT_S, ka);
	ksm_patch_keys(fb, KT_K, KT_S, kb);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (ka[i] == kb[j])
				return true;
	return false;
}

/* Encode the page, decode it into out and compare; the patch's length. */
static int kt_round_trip(struct kunit *test, struct ksm_patch_kt *t)
{
	int len = ksm_patch_encode(t->page, t->ref, t->patch,
				   KSM_PATCH_BUF_SIZE, t->wrkmem);

	KUNIT_ASSERT_GT(test, len, (int)sizeof(struct ksm_patch_hdr));
	memset(t->out, 0x5a, 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, ksm_patch_decode(t->patch, len, t->ref, t->out),
			0);
	KUNIT_EXPECT_EQ(test, memcmp(t->out, t->page, PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, t->out[PAGE_SIZE], 0x5a);
	return len;
}

static bool kt_guard_intact(struct ksm_patch_kt *t)
{
	return !memchr_inv(t->out + PAGE_SIZE, 0x5a, PAGE_SIZE);
}

static void ksm_patch_test_keys(struct kunit *test)
{
	struct ksm_patch_kt *t = kt_init(test, 1);
	u64 f1[KSM_PATCH_MAX_HASHES], f2[KSM_PATCH_MAX_HASHES];
	u64 keys[KSM_PATCH_MAX_KEYS];

	KUNIT_EXPECT_EQ(test, ksm_patch_nr_keys(4, 1), 4);
	KUNIT_EXPECT_EQ(test, ksm_patch_nr_keys(4, 2), 6);
	KUNIT_EXPECT_EQ(test, ksm_patch_nr_keys(8, 4), KSM_PATCH_MAX_KEYS);
	KUNIT_EXPECT_EQ(test, ksm_patch_nr_keys(8, 8), 1);
	KUNIT_EXPECT_EQ(test, ksm_patch_nr_keys(0, 0), 0);
	KUNIT_EXPECT_EQ(test, ksm_patch_nr_keys(4, 5), 0);
	KUNIT_EXPECT_EQ(test, ksm_patch_nr_keys(9, 1), 0);
	KUNIT_EXPECT_EQ(test, ksm_patch_keys(f1, 9, 1, keys), 0);

	/* Same content, same features; different content, different ones. */
	ksm_patch_features(t->ref, 8, f1);
	memcpy(t->page, t->ref, PAGE_SIZE);
	ksm_patch_features(t->page, 8, f2);
	KUNIT_EXPECT_EQ(test, memcmp(f1, f2, sizeof(f1)), 0);
	prandom_bytes_state(&t->rnd, t->page, PAGE_SIZE);
	ksm_patch_features(t->page, 8, f2);
	KUNIT_EXPECT_NE(test, f1[0], f2[0]);
	KUNIT_EXPECT_EQ(test, ksm_patch_keys(f1, 8, 4, keys),
			KSM_PATCH_MAX_KEYS);

	/* Equal hashes at different points give different keys. */
	f1[1] = f1[0];
	ksm_patch_keys(f1, 2, 1, keys);
	KUNIT_EXPECT_NE(test, keys[0], keys[1]);
}

static void ksm_patch_test_similar(struct kunit *test)
{
	static const unsigned int levels[] = { 0, 1, 5, 10, 25, 50, 100 };
	struct ksm_patch_kt *t = kt_init(test, 2);
	unsigned int l, i, found = 0, small = 0;

	for (l = 0; l < ARRAY_SIZE(levels); l++) {
		kt_modify(t, levels[l]);
		kt_round_trip(test, t);
	}

	/* 95% similar: a patch under a tenth of a page, and found. */
	for (i = 0; i < 64; i++) {
		prandom_bytes_state(&t->rnd, t->ref, PAGE_SIZE);
		kt_modify(t, 5);
		if (kt_round_trip(test, t) <= PAGE_SIZE / 10)
			small++;
		if (kt_similar(t))
			found++;
	}
	kunit_info(test, "95%% similar: %u/64 patches < 10%% of a page, %u/64 share a key\n",
		   small, found);
	KUNIT_EXPECT_EQ(test, small, 64);
	KUNIT_EXPECT_GE(test, found, 58);

	/* Random pages: different keys, the patch would not pay. */
	found = 0;
	for (i = 0; i < 64; i++) {
		prandom_bytes_state(&t->rnd, t->page, PAGE_SIZE);
		if (kt_similar(t))
			found++;
		KUNIT_EXPECT_EQ(test, ksm_patch_encode(t->page, t->ref, t->patch,
						       2048, t->wrkmem),
				-ENOSPC);
	}
	KUNIT_EXPECT_EQ(test, found, 0);
}

static void ksm_patch_test_shift(struct kunit *test)
{
	struct ksm_patch_kt *t = kt_init(test, 3);
	unsigned int found = 0, small = 0;
	int d;

	for (d = -64; d <= 64; d++) {
		if (!d)
			continue;
		kt_shift(t, d);
		if (kt_round_trip(test, t) <= PAGE_SIZE / 10)
			small++;
		if (kt_similar(t))
			found++;
	}
	kunit_info(test, "shifted by 1..64 bytes: %u/128 patches < 10%% of a page, %u/128 share a key\n",
		   small, found);
	KUNIT_EXPECT_EQ(test, small, 128);
	KUNIT_EXPECT_GE(test, found, 122);
}

static void ksm_patch_test_corrupt(struct kunit *test)
{
	static const u8 flips[] = { 0x01, 0x80, 0xff };
	struct ksm_patch_kt *t = kt_init(test, 4);
	u8 *bad = kunit_kmalloc(test, KSM_PATCH_BUF_SIZE, GFP_KERNEL);
	unsigned int i, f, rejected = 0;
	int len;

	KUNIT_ASSERT_NOT_NULL(test, bad);
	kt_modify(t, 5);
	len = kt_round_trip(test, t);

	/* Every truncation, and one byte too many. */
	for (i = 0; i < len; i++) {
		memset(t->out, 0x5a, 2 * PAGE_SIZE);
		KUNIT_EXPECT_LT(test, ksm_patch_decode(t->patch, i, t->ref, t->out), 0);
		KUNIT_EXPECT_TRUE(test, kt_guard_intact(t));
	}
	memcpy(bad, t->patch, len);
	bad[len] = 0;
	KUNIT_EXPECT_EQ(test, ksm_patch_decode(bad, len + 1, t->ref, t->out),
			-EINVAL);

	/*
	 * Every byte corrupted, three ways: an error or, if the change did
	 * not matter (a match offset inside a run of equal bytes), the same
	 * page - never a wrong one.
	 */
	for (i = 0; i < len; i++) {
		for (f = 0; f < ARRAY_SIZE(flips); f++) {
			memcpy(bad, t->patch, len);
			bad[i] ^= flips[f];
			memset(t->out, 0x5a, 2 * PAGE_SIZE);
			if (!ksm_patch_decode(bad, len, t->ref, t->out))
				KUNIT_EXPECT_EQ(test, memcmp(t->out, t->page,
							     PAGE_SIZE), 0);
			else
				rejected++;
			KUNIT_EXPECT_TRUE(test, kt_guard_intact(t));
		}
	}
	kunit_info(test, "%u of %u corruptions rejected, the rest rebuilt the same page\n",
		   rejected, len * (unsigned int)ARRAY_SIZE(flips));
	KUNIT_EXPECT_GT(test, rejected, 0);

	/* The right patch against the wrong reference. */
	prandom_bytes_state(&t->rnd, t->page, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, ksm_patch_decode(t->patch, len, t->page, t->out),
			-EBADMSG);
}

static void ksm_patch_test_random(struct kunit *test)
{
	struct ksm_patch_kt *t = kt_init(test, 5);
	struct ksm_patch_hdr *hdr = (struct ksm_patch_hdr *)t->patch;
	unsigned int i, len;

	for (i = 0; i < 2000; i++) {
		len = sizeof(*hdr) + 1 + prandom_u32_state(&t->rnd) % 2048;
		prandom_bytes_state(&t->rnd, t->patch, len);
		/* A valid header half the time, so the LZ4 body is parsed. */
		if (i & 1) {
			hdr->magic = cpu_to_le16(KSM_PATCH_MAGIC);
			hdr->version = KSM_PATCH_VERSION;
			hdr->flags = 0;
			hdr->body_len = cpu_to_le32(len - sizeof(*hdr));
		}
		memset(t->out, 0x5a, 2 * PAGE_SIZE);
		KUNIT_EXPECT_LT(test, ksm_patch_decode(t->patch, len, t->ref,
						       t->out), 0);
		KUNIT_EXPECT_TRUE(test, kt_guard_intact(t));
	}
}

static struct kunit_case ksm_patch_test_cases[] = {
	KUNIT_CASE(ksm_patch_test_keys),
	KUNIT_CASE(ksm_patch_test_similar),
	KUNIT_CASE(ksm_patch_test_shift),
	KUNIT_CASE(ksm_patch_test_corrupt),
	KUNIT_CASE(ksm_patch_test_random),
	{}
};

static struct kunit_suite ksm_patch_test_suite = {
	.name = "ksm_patch",
	.test_cases = ksm_patch_test_cases,
};

kunit_test_suite(ksm_patch_test_suite);

#endif /* _MM_KSM_PATCH_KUNIT_H */
