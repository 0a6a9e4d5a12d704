/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of KSM merge domains: which PR_SET_KSM_DOMAIN requests are
 * taken, that a registered mm keeps its domain, that new domains are
 * never handed out twice nor collide with named ones, the order of the
 * trees' first key, and that the policy decides which domain KSM sees.
 * Included at the end of mm/ksm_domain.c.
 *
 * The tests use an mm_struct of their own, never registered with KSM;
 * the policy test changes the policy and puts it back, which it can only
 * while no KSM page is mapped (at boot, when built-in suites run).
 */

#ifndef _MM_KSM_DOMAIN_KUNIT_H
#define _MM_KSM_DOMAIN_KUNIT_H

#include <kunit/test.h>
#include <linux/mmap_lock.h>

static void ksm_domain_test_request(struct kunit *test)
{
	bool fresh;

	KUNIT_EXPECT_EQ(test, ksm_domain_request(PR_KSM_DOMAIN_NEW, 0, &fresh),
			0);
	KUNIT_EXPECT_TRUE(test, fresh);
	KUNIT_EXPECT_EQ(test, ksm_domain_request(PR_KSM_DOMAIN_NEW, 7, &fresh),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_domain_request(PR_KSM_DOMAIN_JOIN, 7, &fresh),
			0);
	KUNIT_EXPECT_FALSE(test, fresh);
	KUNIT_EXPECT_EQ(test, ksm_domain_request(PR_KSM_DOMAIN_JOIN, 0, &fresh),
			0);
	KUNIT_EXPECT_EQ(test, ksm_domain_request(2, 0, &fresh), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_domain_request(ULONG_MAX, 0, &fresh),
			-EINVAL);
#ifdef CONFIG_64BIT
	/* New domains' numbers cannot be joined by name. */
	KUNIT_EXPECT_EQ(test, ksm_domain_request(PR_KSM_DOMAIN_JOIN,
						 KSM_DOMAIN_PRIVATE, &fresh),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_domain_request(PR_KSM_DOMAIN_JOIN,
						 KSM_DOMAIN_PRIVATE - 1,
						 &fresh), 0);
	KUNIT_EXPECT_EQ(test, ksm_domain_request(PR_KSM_DOMAIN_JOIN, ULONG_MAX,
						 &fresh), -EINVAL);
#endif
}

static void ksm_domain_test_set(struct kunit *test)
{
	struct mm_struct *mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	u64 first, second;

	KUNIT_ASSERT_NOT_NULL(test, mm);
	mmap_init_lock(mm);
	mmap_write_lock(mm);
	KUNIT_EXPECT_EQ(test, ksm_set_domain(mm, PR_KSM_DOMAIN_NEW, 0), 0);
	first = atomic64_read(&mm->ksm_domain);
	KUNIT_EXPECT_EQ(test, ksm_set_domain(mm, PR_KSM_DOMAIN_NEW, 0), 0);
	second = atomic64_read(&mm->ksm_domain);
	KUNIT_EXPECT_GE(test, first, KSM_DOMAIN_PRIVATE);
	KUNIT_EXPECT_GT(test, second, first);
	/* A refused request leaves the domain as it was. */
	KUNIT_EXPECT_EQ(test, ksm_set_domain(mm, PR_KSM_DOMAIN_NEW, 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, (u64)atomic64_read(&mm->ksm_domain), second);
	/* Built-in suites run as root. */
	KUNIT_EXPECT_EQ(test, ksm_set_domain(mm, PR_KSM_DOMAIN_JOIN, 42), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&mm->ksm_domain), 42LL);
	/* Registered with KSM: the domain is fixed. */
	set_bit(MMF_VM_MERGEABLE, &mm->flags);
	KUNIT_EXPECT_EQ(test, ksm_set_domain(mm, PR_KSM_DOMAIN_NEW, 0),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, ksm_set_domain(mm, PR_KSM_DOMAIN_JOIN, 0),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, atomic64_read(&mm->ksm_domain), 42LL);
	mmap_write_unlock(mm);
}

static void ksm_domain_test_order(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ksm_domain_cmp(0, 0), 0);
	KUNIT_EXPECT_LT(test, ksm_domain_cmp(0, 1), 0);
	KUNIT_EXPECT_GT(test, ksm_domain_cmp(1, 0), 0);
	/* Unsigned: new domains sort after every named one. */
	KUNIT_EXPECT_LT(test, ksm_domain_cmp(KSM_DOMAIN_PRIVATE - 1,
					     KSM_DOMAIN_PRIVATE), 0);
	KUNIT_EXPECT_GT(test, ksm_domain_cmp(U64_MAX, 1), 0);
	KUNIT_EXPECT_EQ(test, ksm_domain_cmp(U64_MAX, U64_MAX), 0);
}

#ifdef CONFIG_SYSFS
/* No KSM page exists when built-in suites run: the policy may change. */
static void ksm_domain_test_policy(struct kunit *test)
{
	struct mm_struct *mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	int policy = READ_ONCE(ksm_domain_policy);

	KUNIT_ASSERT_NOT_NULL(test, mm);
	atomic64_set(&mm->ksm_domain, KSM_DOMAIN_PRIVATE + 3);
	KUNIT_ASSERT_EQ(test, ksm_set_domain_policy(KSM_DOMAINS_NONE), 0);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), 0ULL);
	KUNIT_EXPECT_EQ(test, ksm_process_domain(mm), 0ULL);
	/* The same policy again is no change. */
	KUNIT_EXPECT_EQ(test, ksm_set_domain_policy(KSM_DOMAINS_NONE), 0);
	KUNIT_ASSERT_EQ(test, ksm_set_domain_policy(KSM_DOMAINS_PRCTL), 0);
	KUNIT_EXPECT_EQ(test, ksm_mm_domain(mm), KSM_DOMAIN_PRIVATE + 3);
	KUNIT_EXPECT_EQ(test, ksm_process_domain(mm), KSM_DOMAIN_PRIVATE + 3);
	KUNIT_EXPECT_EQ(test, ksm_set_domain_policy(policy), 0);
}
#endif

static struct kunit_case ksm_domain_test_cases[] = {
	KUNIT_CASE(ksm_domain_test_request),
	KUNIT_CASE(ksm_domain_test_set),
	KUNIT_CASE(ksm_domain_test_order),
#ifdef CONFIG_SYSFS
	KUNIT_CASE(ksm_domain_test_policy),
#endif
	{},
};

static struct kunit_suite ksm_domain_test_suite = {
	.name = "ksm_domain",
	.test_cases = ksm_domain_test_cases,
};

kunit_test_suite(ksm_domain_test_suite);

#endif /* _MM_KSM_DOMAIN_KUNIT_H */
