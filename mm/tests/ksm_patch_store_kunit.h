/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of the patch tier's path from ksmd to zswap: a page that is
 * written while ksmd encodes it still gets a patch that rebuilds the bytes
 * its checksum covers, and a pending patch is taken only by the task that
 * prepared it; a reference follows its page when the page migrates, and
 * is never taken or dropped while migration has the refcount frozen.
 * Included at the end of mm/ksm_patch.c.
 *
 * The pages are ordinary pages, not KSM pages: the functions tested do
 * not care.  The index is that of the test's own work buffers, and tells
 * merge domains apart.
 */

#ifndef _MM_KSM_PATCH_STORE_KUNIT_H
#define _MM_KSM_PATCH_STORE_KUNIT_H

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/prandom.h>

/**
 * struct ksm_patch_skt - pages and a second task for one test
 * @test: the test
 * @w: work buffers, as ksmd has them while the tier is on
 * @live: the page being pushed out, written by @writer
 * @ref: the reference page
 * @out: a decoded page, as a folio for ksm_patch_zswap_load()
 * @dst: a patch as zswap stores it
 * @writes: rewrites the writer made
 * @stored: what ksm_patch_zswap_store() returned in the other task
 * @other_ref: the reference it handed out there
 * @done: the other task finished its call
 */
struct ksm_patch_skt {
	struct kunit *test;
	struct ksm_patch_work *w;
	struct folio *live;
	struct folio *ref;
	struct folio *out;
	u8 *dst;
	unsigned long writes;
	unsigned int stored;
	struct ksm_patch_ref *other_ref;
	struct completion done;
};

static void skt_exit(void *data)
{
	struct ksm_patch_skt *t = data;

	ksm_patch_work_free(t->w);
	if (t->live)
		folio_put(t->live);
	if (t->ref)
		folio_put(t->ref);
	if (t->out)
		folio_put(t->out);
}

static struct ksm_patch_skt *skt_init(struct kunit *test)
{
	struct ksm_patch_skt *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	struct rnd_state rnd;
	u8 *live, *ref;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, t);
	t->test = test;
	init_completion(&t->done);
	t->w = ksm_patch_work_alloc();
	t->live = folio_alloc(GFP_KERNEL, 0);
	t->ref = folio_alloc(GFP_KERNEL, 0);
	t->out = folio_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, skt_exit, t), 0);
	t->dst = kunit_kmalloc(test, KSM_PATCH_BUF_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t->w);
	KUNIT_ASSERT_NOT_NULL(test, t->live);
	KUNIT_ASSERT_NOT_NULL(test, t->ref);
	KUNIT_ASSERT_NOT_NULL(test, t->out);
	KUNIT_ASSERT_NOT_NULL(test, t->dst);

	/* A reference page and a page 95% like it. */
	prandom_seed_state(&rnd, 11);
	ref = folio_address(t->ref);
	live = folio_address(t->live);
	prandom_bytes_state(&rnd, ref, PAGE_SIZE);
	memcpy(live, ref, PAGE_SIZE);
	for (i = 0; i < PAGE_SIZE / 20 / 16; i++)
		prandom_bytes_state(&rnd, live + prandom_u32_state(&rnd) %
				    (PAGE_SIZE / 16) * 16, 16);
	return t;
}

/* Rewrites 16-byte runs of the live page until stopped. */
static int skt_writer(void *data)
{
	struct ksm_patch_skt *t = data;
	u8 *live = folio_address(t->live);
	struct rnd_state rnd;

	prandom_seed_state(&rnd, 12);
	while (!kthread_should_stop()) {
		u32 at = prandom_u32_state(&rnd) % (PAGE_SIZE / 16) * 16;

		prandom_bytes_state(&rnd, live + at, 16);
		WRITE_ONCE(t->writes, t->writes + 1);
		cond_resched();
	}
	return 0;
}

/*
 * The page is rewritten all the time while ksmd encodes it, as a guest
 * rewrites its memory: every patch still decodes, to exactly the copy
 * whose checksum it carries.  (Encoding the live page and hashing it
 * again, as the tier first did, gives patches that fail their checksum.)
 */
static void ksm_patch_test_live_page(struct kunit *test)
{
	struct ksm_patch_skt *t = skt_init(test);
	unsigned int i, failed = 0, rounds = 2000;
	struct task_struct *writer;
	void *ref;
	int len;

	writer = kthread_run(skt_writer, t, "ksm_patch_kunit");
	KUNIT_ASSERT_FALSE(test, IS_ERR(writer));
	ref = kmap_local_folio(t->ref, 0);
	for (i = 0; i < rounds; i++) {
		ksm_patch_snapshot(t->w, t->live);
		len = ksm_patch_try(t->w, t->ref, KSM_PATCH_BUF_SIZE);
		if (len < 0 ||
		    ksm_patch_decode(t->w->trial, len, ref,
				     folio_address(t->out)) ||
		    memcmp(folio_address(t->out), t->w->snap, PAGE_SIZE))
			failed++;
		cond_resched();
	}
	kunmap_local(ref);
	kthread_stop(writer);
	kunit_info(test, "%u encodes while the writer made %lu rewrites: %u failed\n",
		   rounds, READ_ONCE(t->writes), failed);
	KUNIT_EXPECT_EQ(test, failed, 0);
}

/* Another task, e.g. kswapd, stores the folio ksmd has a patch for. */
static int skt_other_store(void *data)
{
	struct ksm_patch_skt *t = data;

	t->stored = ksm_patch_zswap_store(t->live, t->dst, &t->other_ref);
	complete(&t->done);
	return 0;
}

/*
 * A pending patch is taken only by the task that prepared it, for the
 * folio it was prepared for, and only while that folio still has the
 * content of the copy that was encoded.
 */
static void ksm_patch_test_pending_owner(struct kunit *test)
{
	struct ksm_patch_skt *t = skt_init(test);
	struct ksm_patch_ref *ref = NULL, *want;
	unsigned long changed;
	long pages, bytes;
	struct task_struct *other;
	unsigned int len;
	u8 *live;

	mutex_lock(&ksm_patch_mutex);
	if (ksm_patch_work) {
		mutex_unlock(&ksm_patch_mutex);
		kunit_skip(test, "the patch tier is on");
	}
	/* The tier's counters are the user's: put them back at the end. */
	pages = atomic_long_read(&ksm_patch_pages);
	bytes = atomic_long_read(&ksm_patch_bytes);
	changed = ksm_patch_changed;

	/* What ksm_patch_prepare() leaves for reclaim_pages(). */
	ksm_patch_work = t->w;
	ksm_patch_snapshot(t->w, t->live);
	len = ksm_patch_try(t->w, t->ref, KSM_PATCH_BUF_SIZE);
	KUNIT_EXPECT_GT(test, (int)len, 0);
	t->w->best_len = (int)len > 0 ? len : 0;
	swap(t->w->trial, t->w->best);
	t->w->ref = ksm_patch_ref_get(t->ref);
	want = t->w->ref;
	KUNIT_EXPECT_NOT_NULL(test, want);
	ksm_patch_set_pending(t->live);

	other = kthread_run(skt_other_store, t, "ksm_patch_kunit");
	if (!IS_ERR(other))
		wait_for_completion(&t->done);
	KUNIT_EXPECT_FALSE(test, IS_ERR(other));
	KUNIT_EXPECT_EQ(test, t->stored, 0);
	KUNIT_EXPECT_NULL(test, t->other_ref);

	/* Not for another folio, even from the owner. */
	KUNIT_EXPECT_EQ(test, ksm_patch_zswap_store(t->ref, t->dst, &ref), 0);

	/* A byte changed after the copy: compressed as usual. */
	live = folio_address(t->live);
	live[7] ^= 1;
	KUNIT_EXPECT_EQ(test, ksm_patch_zswap_store(t->live, t->dst, &ref), 0);
	live[7] ^= 1;

	ksm_patch_set_pending(t->live);
	len = ksm_patch_zswap_store(t->live, t->dst, &ref);
	KUNIT_EXPECT_EQ(test, len, t->w->best_len);
	KUNIT_EXPECT_PTR_EQ(test, ref, want);
	KUNIT_EXPECT_NULL(test, t->w->ref);
	if (len && ref == want) {
		KUNIT_EXPECT_EQ(test, ksm_patch_zswap_load(ref, t->dst, len,
							   t->out), 0);
		KUNIT_EXPECT_EQ(test, memcmp(folio_address(t->out), live,
					     PAGE_SIZE), 0);
		ksm_patch_zswap_free(ref, len);
		atomic_long_dec(&ksm_patch_faults);
	}
	/* The test's buffers are no longer the tier's, then unlock. */
	if (t->w->ref) {
		ksm_patch_ref_put(t->w->ref);
		t->w->ref = NULL;
	}
	ksm_patch_work = NULL;
	WRITE_ONCE(ksm_patch_changed, changed);
	ksm_patch_finish();

	KUNIT_EXPECT_EQ(test, atomic_long_read(&ksm_patch_pages), pages);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ksm_patch_bytes), bytes);
	spin_lock(&ksm_patch_refs_lock);
	KUNIT_EXPECT_NULL(test, ksm_patch_ref_find(t->ref));
	spin_unlock(&ksm_patch_refs_lock);
}

/*
 * A reference follows its page when the page migrates: the tier's folio
 * reference moves from the old folio to the new one, patches decode
 * against the new one, and freeing the last patch drops the new one.
 */
static void ksm_patch_test_migrate(struct kunit *test)
{
	struct ksm_patch_skt *t = skt_init(test);
	struct folio *moved = folio_alloc(GFP_KERNEL, 0);
	struct ksm_patch_ref *ref;
	int old_refs, new_refs;
	unsigned int len;

	KUNIT_ASSERT_NOT_NULL(test, moved);
	ksm_patch_snapshot(t->w, t->live);
	len = ksm_patch_try(t->w, t->ref, KSM_PATCH_BUF_SIZE);
	KUNIT_ASSERT_GT(test, (int)len, 0);
	memcpy(t->dst, t->w->trial, len);

	ref = ksm_patch_ref_get(t->ref);
	KUNIT_ASSERT_NOT_NULL(test, ref);
	old_refs = folio_ref_count(t->ref);
	new_refs = folio_ref_count(moved);
	/* What migration does: copy, then folio_migrate_ksm(). */
	folio_copy(moved, t->ref);
	ksm_patch_migrate(moved, t->ref);
	KUNIT_EXPECT_EQ(test, folio_ref_count(t->ref), old_refs - 1);
	KUNIT_EXPECT_EQ(test, folio_ref_count(moved), new_refs + 1);
	spin_lock(&ksm_patch_refs_lock);
	KUNIT_EXPECT_NULL(test, ksm_patch_ref_find(t->ref));
	KUNIT_EXPECT_PTR_EQ(test, ksm_patch_ref_find(moved), ref);
	spin_unlock(&ksm_patch_refs_lock);

	/* The old page is gone for the tier: decode against the new one. */
	memset(folio_address(t->ref), 0, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, ksm_patch_zswap_load(ref, t->dst, len, t->out),
			0);
	KUNIT_EXPECT_EQ(test, memcmp(folio_address(t->out), t->w->snap,
				     PAGE_SIZE), 0);
	atomic_long_dec(&ksm_patch_faults);
	/* A page the tier holds no reference on is not touched. */
	ksm_patch_migrate(t->ref, t->out);
	KUNIT_EXPECT_EQ(test, folio_ref_count(t->ref), old_refs - 1);

	ksm_patch_ref_put(ref);
	KUNIT_EXPECT_EQ(test, folio_ref_count(moved), new_refs);
	folio_put(moved);
}

/* Make @folio look like a KSM page with stable node @node (or none). */
static void skt_fake_ksm(struct folio *folio, void *node)
{
	folio->mapping = (void *)((unsigned long)node | PAGE_MAPPING_KSM);
}

/*
 * Migration counts the tier's reference on a KSM page, moves it to the
 * new folio, and the old folio (its stable node gone) gets no new one.
 */
static void ksm_patch_test_stable_node(struct kunit *test)
{
	struct ksm_patch_skt *t = skt_init(test);
	struct folio *moved = folio_alloc(GFP_KERNEL, 0);
	static unsigned long node;
	struct ksm_patch_ref *ref, *again;

	KUNIT_ASSERT_NOT_NULL(test, moved);
	skt_fake_ksm(t->ref, &node);
	ref = ksm_patch_ref_get(t->ref);
	KUNIT_EXPECT_NOT_NULL(test, ref);
	KUNIT_EXPECT_EQ(test, ksm_patch_folio_refs(t->ref), 1);
	KUNIT_EXPECT_EQ(test, ksm_patch_folio_refs(moved), 0);
	if (ref) {
		/* As folio_migrate_ksm() does it. */
		skt_fake_ksm(moved, &node);
		skt_fake_ksm(t->ref, NULL);
		ksm_patch_migrate(moved, t->ref);
		KUNIT_EXPECT_EQ(test, ksm_patch_folio_refs(t->ref), 0);
		KUNIT_EXPECT_EQ(test, ksm_patch_folio_refs(moved), 1);
		KUNIT_EXPECT_NULL(test, ksm_patch_ref_get(t->ref));
		again = ksm_patch_ref_get(moved);
		KUNIT_EXPECT_PTR_EQ(test, again, ref);
		if (again)
			ksm_patch_ref_put(again);
		ksm_patch_ref_put(ref);
	}
	KUNIT_EXPECT_EQ(test, ksm_patch_folio_refs(moved), 0);
	moved->mapping = NULL;
	t->ref->mapping = NULL;
	folio_put(moved);
}

/*
 * A KSM page whose stable node is gone (KSM emptied its stable tree, as
 * run=2 does, while patches kept the page) is used by no process: the
 * tier may copy it into a page charged where its patches are.  A page
 * that is not a KSM page is not.
 */
static void ksm_patch_test_no_stable_node(struct kunit *test)
{
	struct ksm_patch_skt *t = skt_init(test);

	KUNIT_EXPECT_FALSE(test, ksm_folio_unused(t->ref));
	skt_fake_ksm(t->ref, NULL);
	KUNIT_EXPECT_TRUE(test, ksm_folio_unused(t->ref));
	t->ref->mapping = NULL;
}

/*
 * The index finds a KSM page only for pages of its own merge domain:
 * another domain's keys miss it, domain 0's (everyone's when domains are
 * off) included; domain 0 finds its own.  Every domain's keys are salted,
 * and differently in another index.
 */
static void ksm_patch_test_domain(struct kunit *test)
{
	static const u64 others[] = { 0, 1002, BIT_ULL(63), U64_MAX };
	struct ksm_patch_skt *t = skt_init(test);
	void *ref = folio_address(t->ref);
	unsigned long pfns[KSM_PATCH_MAX_CANDIDATES];
	struct ksm_patch_work *other = ksm_patch_work_alloc();
	unsigned int i, nr;

	KUNIT_ASSERT_NOT_NULL(test, other);
	KUNIT_EXPECT_NE(test, ksm_patch_domain_salt(t->w, 0), 0ULL);
	KUNIT_EXPECT_NE(test, ksm_patch_domain_salt(t->w, 0),
			ksm_patch_domain_salt(t->w, 1001));
	KUNIT_EXPECT_NE(test, ksm_patch_domain_salt(t->w, 1001),
			ksm_patch_domain_salt(other, 1001));
	ksm_patch_work_free(other);
	ksm_patch_index_page(t->w, ref, 77, 1001);
	nr = ksm_patch_candidates_of(t->w, ref, 1001, pfns, ARRAY_SIZE(pfns));
	KUNIT_EXPECT_EQ(test, nr, 1U);
	KUNIT_EXPECT_EQ(test, pfns[0], 77UL);
	for (i = 0; i < ARRAY_SIZE(others); i++)
		KUNIT_EXPECT_EQ(test, ksm_patch_candidates_of(t->w, ref,
							      others[i], pfns,
							      ARRAY_SIZE(pfns)),
				0U);
	ksm_patch_index_page(t->w, ref, 78, 0);
	nr = ksm_patch_candidates_of(t->w, ref, 0, pfns, ARRAY_SIZE(pfns));
	KUNIT_EXPECT_EQ(test, nr, 1U);
	KUNIT_EXPECT_EQ(test, pfns[0], 78UL);
}

static int skt_put(void *data)
{
	struct ksm_patch_skt *t = data;

	ksm_patch_ref_put(t->other_ref);
	complete(&t->done);
	return 0;
}

/*
 * Migration of a page in the swap cache freezes its refcount, the tier's
 * reference counted in: the tier waits for the thaw to drop it, so the
 * count migration sets back stays exact.
 */
static void ksm_patch_test_frozen(struct kunit *test)
{
	struct ksm_patch_skt *t = skt_init(test);
	struct task_struct *other;
	int count;

	/* The put spins until the thaw: on one CPU nothing would thaw it. */
	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two CPUs");
	t->other_ref = ksm_patch_ref_get(t->ref);
	KUNIT_ASSERT_NOT_NULL(test, t->other_ref);
	count = folio_ref_count(t->ref);
	KUNIT_ASSERT_TRUE(test, folio_ref_freeze(t->ref, count));
	other = kthread_run(skt_put, t, "ksm_patch_kunit");
	if (IS_ERR(other)) {
		folio_ref_unfreeze(t->ref, count);
		ksm_patch_ref_put(t->other_ref);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(other));
		return;
	}
	msleep(50);
	KUNIT_EXPECT_FALSE(test, completion_done(&t->done));
	KUNIT_EXPECT_EQ(test, folio_ref_count(t->ref), 0);
	folio_ref_unfreeze(t->ref, count);
	wait_for_completion(&t->done);
	KUNIT_EXPECT_EQ(test, folio_ref_count(t->ref), count - 1);
}

static struct kunit_case ksm_patch_store_test_cases[] = {
	KUNIT_CASE(ksm_patch_test_live_page),
	KUNIT_CASE(ksm_patch_test_pending_owner),
	KUNIT_CASE(ksm_patch_test_migrate),
	KUNIT_CASE(ksm_patch_test_stable_node),
	KUNIT_CASE(ksm_patch_test_no_stable_node),
	KUNIT_CASE(ksm_patch_test_frozen),
	KUNIT_CASE(ksm_patch_test_domain),
	{}
};

static struct kunit_suite ksm_patch_store_test_suite = {
	.name = "ksm_patch_store",
	.test_cases = ksm_patch_store_test_cases,
};

kunit_test_suite(ksm_patch_store_test_suite);

#endif /* _MM_KSM_PATCH_STORE_KUNIT_H */
