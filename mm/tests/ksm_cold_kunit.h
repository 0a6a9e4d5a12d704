/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of the KSM NRU clock: classification, ageing across ticks,
 * the clock's ticks in seconds, the refault window, the backoff, the
 * per-mm record of pushed and refused pages and the estimate of memory
 * saved.  Included at the end of mm/ksm_cold.c.
 *
 * The tests pass the tick count and thresholds in and use their own
 * ksm_cold_slot; the test of the clock saves and restores its state,
 * which ksmd only touches with the tier on (never at boot, when built-in
 * suites run; run later, with the tier on, that test races with ksmd).
 */

#ifndef _MM_KSM_COLD_KUNIT_H
#define _MM_KSM_COLD_KUNIT_H

#include <kunit/test.h>

static void ksm_cold_test_class(struct kunit *test)
{
	/* idle after 2 scans, cold after 5 */
	KUNIT_EXPECT_EQ(test, ksm_nru_class_of(0, true, 2, 5), KSM_NRU_MODIFIED);
	KUNIT_EXPECT_EQ(test, ksm_nru_class_of(0, false, 2, 5),
			KSM_NRU_UNMODIFIED);
	KUNIT_EXPECT_EQ(test, ksm_nru_class_of(1, false, 2, 5),
			KSM_NRU_UNMODIFIED);
	KUNIT_EXPECT_EQ(test, ksm_nru_class_of(2, false, 2, 5), KSM_NRU_IDLE);
	KUNIT_EXPECT_EQ(test, ksm_nru_class_of(2, true, 2, 5), KSM_NRU_IDLE);
	KUNIT_EXPECT_EQ(test, ksm_nru_class_of(4, false, 2, 5), KSM_NRU_IDLE);
	KUNIT_EXPECT_EQ(test, ksm_nru_class_of(5, false, 2, 5), KSM_NRU_COLD);
	KUNIT_EXPECT_EQ(test, ksm_nru_class_of(KSM_NRU_AGE_MAX, true, 2, 5),
			KSM_NRU_COLD);
	/* A cold threshold at or below the idle one leaves no idle class. */
	KUNIT_EXPECT_EQ(test, ksm_nru_class_of(3, false, 4, 3), KSM_NRU_COLD);
}

static void ksm_cold_test_ageing(struct kunit *test)
{
	struct ksm_nru nru = {};
	u32 seq = 250;	/* the stamp byte wraps on the way */
	unsigned int i;

	/* First sight: young whatever the accessed bit said. */
	KUNIT_EXPECT_EQ(test, ksm_nru_age(&nru, seq, false, 1, 4),
			KSM_NRU_UNMODIFIED);
	KUNIT_EXPECT_TRUE(test, nru.flags & KSM_NRU_SEEN);
	KUNIT_EXPECT_EQ(test, ksm_nru_class_get(&nru), KSM_NRU_UNMODIFIED);

	/* Untouched: idle after one scan, cold after four. */
	KUNIT_EXPECT_EQ(test, ksm_nru_age(&nru, seq + 1, false, 1, 4),
			KSM_NRU_IDLE);
	KUNIT_EXPECT_EQ(test, ksm_nru_age(&nru, seq + 3, false, 1, 4),
			KSM_NRU_IDLE);
	KUNIT_EXPECT_EQ(test, ksm_nru_age(&nru, seq + 4, false, 1, 4),
			KSM_NRU_COLD);
	KUNIT_EXPECT_EQ(test, ksm_nru_class_get(&nru), KSM_NRU_COLD);

	/* An access makes it young again; a change marks it modified. */
	KUNIT_EXPECT_EQ(test, ksm_nru_age(&nru, seq + 5, true, 1, 4),
			KSM_NRU_UNMODIFIED);
	nru.flags |= KSM_NRU_CHANGED;
	KUNIT_EXPECT_EQ(test, ksm_nru_age(&nru, seq + 5, false, 1, 4),
			KSM_NRU_MODIFIED);
	nru.flags &= ~KSM_NRU_CHANGED;

	/* Age saturates: 300 scans later the byte has not wrapped to young. */
	seq += 5;
	for (i = 1; i <= 300; i++)
		KUNIT_EXPECT_EQ(test, ksm_nru_age(&nru, seq + i, false, 1, 4),
				i >= 4 ? KSM_NRU_COLD : KSM_NRU_IDLE);
	KUNIT_EXPECT_EQ(test, (u8)(seq + 300 - nru.stamp), KSM_NRU_AGE_MAX);

	/* Seen only every ninth scan (smart scan skips), still aged right. */
	nru = (struct ksm_nru){};
	ksm_nru_age(&nru, 1000, false, 2, 16);
	KUNIT_EXPECT_EQ(test, ksm_nru_age(&nru, 1009, false, 2, 16),
			KSM_NRU_IDLE);
	KUNIT_EXPECT_EQ(test, ksm_nru_age(&nru, 1018, false, 2, 16),
			KSM_NRU_COLD);
}

static void ksm_cold_test_refault_window(struct kunit *test)
{
	unsigned long pushed = 100 & KSM_COLD_DATA_MASK;

	KUNIT_EXPECT_TRUE(test, ksm_cold_is_refault(pushed, 101, 8));
	KUNIT_EXPECT_TRUE(test, ksm_cold_is_refault(pushed, 108, 8));
	KUNIT_EXPECT_FALSE(test, ksm_cold_is_refault(pushed, 109, 8));
	/* Across the wrap of the scan count and of the stored bits */
	pushed = (U32_MAX - 2) & KSM_COLD_DATA_MASK;
	KUNIT_EXPECT_TRUE(test, ksm_cold_is_refault(pushed, 3, 8));
	KUNIT_EXPECT_FALSE(test, ksm_cold_is_refault(pushed, 10, 8));
}

static void ksm_cold_test_backoff(struct kunit *test)
{
	unsigned int b = 0;

	/* 1 in 8 back is tolerated, more is not */
	KUNIT_EXPECT_EQ(test, ksm_cold_next_backoff(b, 80, 10, 50), 0U);
	b = ksm_cold_next_backoff(b, 80, 11, 50);
	KUNIT_EXPECT_EQ(test, b, 1U);
	b = ksm_cold_next_backoff(b, 80, 40, 50);
	KUNIT_EXPECT_EQ(test, b, 3U);
	/* Refaults with no pushes in the window: back off too */
	b = ksm_cold_next_backoff(b, 0, 1, 50);
	KUNIT_EXPECT_EQ(test, b, 7U);
	b = ksm_cold_next_backoff(b, 0, 1, 50);
	b = ksm_cold_next_backoff(b, 0, 1, 50);
	KUNIT_EXPECT_EQ(test, b, 31U);
	b = ksm_cold_next_backoff(b, 0, 1, 50);
	KUNIT_EXPECT_EQ(test, b, 50U);	/* capped */
	/* Few refaults: holds; none: decays one scan at a time */
	KUNIT_EXPECT_EQ(test, ksm_cold_next_backoff(b, 100, 2, 50), 50U);
	b = ksm_cold_next_backoff(b, 100, 0, 50);
	KUNIT_EXPECT_EQ(test, b, 49U);
	KUNIT_EXPECT_EQ(test, ksm_cold_next_backoff(0, 0, 0, 50), 0U);
	/* A lowered cap (nru_cold_secs raised) applies at once */
	KUNIT_EXPECT_EQ(test, ksm_cold_next_backoff(49, 100, 1, 10), 10U);
}

static void ksm_cold_test_slot(struct kunit *test)
{
	struct ksm_cold_slot cs = {};
	bool replaced = true;
	unsigned long value;

	KUNIT_EXPECT_FALSE(test, ksm_cold_lookup(&cs, 0x1000, &value));
	KUNIT_EXPECT_EQ(test, __ksm_cold_slot_destroy(&cs), 0UL);

	/* Two pages out, one refused */
	KUNIT_ASSERT_EQ(test, ksm_cold_record(&cs, 0x1000, 7 << 1, &replaced),
			0);
	KUNIT_EXPECT_FALSE(test, replaced);
	KUNIT_ASSERT_EQ(test, ksm_cold_record(&cs, 0x7f0000002000UL, 8 << 1,
					      &replaced), 0);
	KUNIT_ASSERT_EQ(test, ksm_cold_record(&cs, 0x3000,
					      0xabcd << 1 | KSM_COLD_POOR,
					      &replaced), 0);
	KUNIT_EXPECT_TRUE(test, ksm_cold_lookup(&cs, 0x1000, &value));
	KUNIT_EXPECT_EQ(test, value, 7UL << 1);
	KUNIT_EXPECT_TRUE(test, ksm_cold_lookup(&cs, 0x1000, &value));
	ksm_cold_forget_page(&cs, 0x1000);
	KUNIT_EXPECT_FALSE(test, ksm_cold_lookup(&cs, 0x1000, &value));
	KUNIT_EXPECT_FALSE(test, ksm_cold_lookup(&cs, 0x2000, &value));

	/* Refused content: remembered until the checksum changes */
	KUNIT_EXPECT_TRUE(test, ksm_cold_poor(&cs, 0x3000, 0xabcd, 5));
	KUNIT_EXPECT_TRUE(test, ksm_cold_poor(&cs, 0x3000, 0xabcd, 6));
	KUNIT_EXPECT_FALSE(test, ksm_cold_poor(&cs, 0x3000, 0xabce, 6));
	KUNIT_EXPECT_FALSE(test, ksm_cold_lookup(&cs, 0x3000, &value));

	/* ... or, on 64-bit, for KSM_COLD_RETRY_TICKS ticks */
	KUNIT_ASSERT_EQ(test, ksm_cold_record(&cs, 0x4000,
					      ksm_cold_poor_value(0xfeedbeef,
								  U32_MAX - 1),
					      &replaced), 0);
	KUNIT_EXPECT_FALSE(test, replaced);
	KUNIT_EXPECT_TRUE(test, ksm_cold_poor(&cs, 0x4000, 0xfeedbeef, 10));
	KUNIT_EXPECT_EQ(test, ksm_cold_poor(&cs, 0x4000, 0xfeedbeef,
					    KSM_COLD_RETRY_TICKS - 2),
			BITS_PER_LONG == 32);
	KUNIT_EXPECT_EQ(test, ksm_cold_lookup(&cs, 0x4000, &value),
			BITS_PER_LONG == 32);

	/* An entry replacing a page still out says so */
	KUNIT_ASSERT_EQ(test, ksm_cold_record(&cs, 0x7f0000002000UL,
					      1 << 1 | KSM_COLD_POOR,
					      &replaced), 0);
	KUNIT_EXPECT_TRUE(test, replaced);
	KUNIT_ASSERT_EQ(test, ksm_cold_record(&cs, 0x5000, 9 << 1, &replaced),
			0);

	/* Destroy counts the pages still out: 0x5000 only */
	KUNIT_EXPECT_EQ(test, __ksm_cold_slot_destroy(&cs), 1UL);
	KUNIT_EXPECT_FALSE(test, cs.ready);
	KUNIT_EXPECT_FALSE(test, ksm_cold_lookup(&cs, 0x5000, &value));
}

static void ksm_cold_test_saved(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ksm_cold_saved(0, 100, 25), 0ULL);
	KUNIT_EXPECT_EQ(test, ksm_cold_saved(10, 0, 0), 0ULL);
	/* zswap at 4:1 saves three quarters of each page out */
	KUNIT_EXPECT_EQ(test, ksm_cold_saved(100, 400, 100),
			(u64)75 * PAGE_SIZE);
	/* A pool larger than what it stores saves nothing */
	KUNIT_EXPECT_EQ(test, ksm_cold_saved(100, 100, 150), 0ULL);
	/* Large counts do not overflow, also on 32-bit */
	KUNIT_EXPECT_EQ(test, ksm_cold_saved(1UL << 30, 1UL << 30, 1UL << 29),
			(u64)(1UL << 29) * PAGE_SIZE);
}

static void ksm_cold_test_clock(struct kunit *test)
{
	unsigned int cold = ksm_nru_cold_secs, tick = ksm_cold_tick;
	unsigned long last = ksm_cold_last, until = ksm_cold_hold_until;
	unsigned long t0 = 1000000;
	bool holding = ksm_cold_holding;

	/* At most 64 ticks in the cold age, of a second at least */
	KUNIT_EXPECT_EQ(test, ksm_cold_tick_secs(1), 1U);
	KUNIT_EXPECT_EQ(test, ksm_cold_tick_secs(64), 1U);
	KUNIT_EXPECT_EQ(test, ksm_cold_tick_secs(65), 2U);
	KUNIT_EXPECT_EQ(test, ksm_cold_tick_secs(120), 2U);
	KUNIT_EXPECT_EQ(test, ksm_cold_tick_secs(KSM_NRU_SECS_MAX), 1350U);
	/* Ages rounded up, so a page is never cold sooner than asked */
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks(120, 2), 60U);
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks(31, 2), 16U);
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks(1, 2), 1U);
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks(KSM_NRU_SECS_MAX, 1),
			KSM_NRU_AGE_MAX);

	/* The clock counts whole ticks, all that passed at once */
	ksm_nru_cold_secs = 120;
	ksm_cold_tick = 0;
	ksm_cold_holding = false;
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks_passed(t0), 0UL);
	KUNIT_EXPECT_EQ(test, ksm_cold_tick, 2U);
	KUNIT_EXPECT_FALSE(test, ksm_cold_holding);
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks_passed(t0 + 2 * HZ - 1), 0UL);
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks_passed(t0 + 2 * HZ), 1UL);
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks_passed(t0 + 11 * HZ), 4UL);
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks_passed(t0 + 12 * HZ), 1UL);
	/* A new tick length counts nothing and holds pushes a cold age */
	ksm_nru_cold_secs = 640;
	KUNIT_EXPECT_EQ(test, ksm_cold_ticks_passed(t0 + 13 * HZ), 0UL);
	KUNIT_EXPECT_EQ(test, ksm_cold_tick, 10U);
	KUNIT_EXPECT_TRUE(test, ksm_cold_holding);
	KUNIT_EXPECT_EQ(test, ksm_cold_hold_until, t0 + 653 * HZ);

	ksm_nru_cold_secs = cold;
	ksm_cold_tick = tick;
	ksm_cold_last = last;
	ksm_cold_hold_until = until;
	ksm_cold_holding = holding;
}

static struct kunit_case ksm_cold_test_cases[] = {
	KUNIT_CASE(ksm_cold_test_class),
	KUNIT_CASE(ksm_cold_test_ageing),
	KUNIT_CASE(ksm_cold_test_refault_window),
	KUNIT_CASE(ksm_cold_test_backoff),
	KUNIT_CASE(ksm_cold_test_slot),
	KUNIT_CASE(ksm_cold_test_saved),
	KUNIT_CASE(ksm_cold_test_clock),
	{},
};

static struct kunit_suite ksm_cold_test_suite = {
	.name = "ksm_cold",
	.test_cases = ksm_cold_test_cases,
};

kunit_test_suite(ksm_cold_test_suite);

#endif /* _MM_KSM_COLD_KUNIT_H */
