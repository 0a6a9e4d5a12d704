/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of the KSM I/O hint stack, the iterator walk and the
 * rmap_item index.  Included at the end of mm/ksm_hints.c.
 *
 * The tests use their own stacks and fake mm pointers, which the stack
 * never dereferences, so they run beside a live ksmd.
 */

#ifndef _MM_KSM_HINTS_KUNIT_H
#define _MM_KSM_HINTS_KUNIT_H

#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/irq_work.h>
#include <linux/kthread.h>

#define FAKE_MM(n)	((struct mm_struct *)(0x10000UL * (n)))

static struct ksm_hint_stack *ksm_test_stack(struct kunit *test,
					     unsigned int per_cpu)
{
	struct ksm_hint_stack *stack;

	stack = ksm_hint_stack_alloc(per_cpu * num_possible_cpus() *
				     KSM_HINT_CONTEXTS);
	KUNIT_ASSERT_NOT_NULL(test, stack);
	KUNIT_ASSERT_EQ(test, stack->ring_size, per_cpu);
	return stack;
}

static void ksm_test_expect_pop(struct kunit *test,
				struct ksm_hint_stack *stack,
				struct mm_struct *mm, unsigned long start,
				unsigned long nr_pages)
{
	struct ksm_hint hint;

	KUNIT_ASSERT_TRUE(test, ksm_hint_stack_pop(stack, &hint));
	KUNIT_EXPECT_PTR_EQ(test, hint.mm, mm);
	KUNIT_EXPECT_EQ(test, hint.start, start);
	KUNIT_EXPECT_EQ(test, hint.nr_pages, nr_pages);
}

static void ksm_test_expect_stats(struct kunit *test,
				  struct ksm_hint_stack *stack,
				  unsigned long recorded,
				  unsigned long coalesced,
				  unsigned long overwritten,
				  unsigned long popped, unsigned long held)
{
	struct ksm_hint_stack_stats stats;

	ksm_hint_stack_stats(stack, &stats);
	KUNIT_EXPECT_EQ(test, stats.recorded, recorded);
	KUNIT_EXPECT_EQ(test, stats.coalesced, coalesced);
	KUNIT_EXPECT_EQ(test, stats.overwritten, overwritten);
	KUNIT_EXPECT_EQ(test, stats.popped, popped);
	KUNIT_EXPECT_EQ(test, stats.held, held);
	/* Every push is held, merged, overwritten or popped. */
	KUNIT_EXPECT_EQ(test, stats.recorded,
			stats.coalesced + stats.overwritten + stats.popped +
			stats.held);
}

/*
 * push A, B, C  ->  [A B C]  ->  pop C, B, A, then nothing
 */
static void ksm_hints_test_order(struct kunit *test)
{
	struct ksm_hint_stack *stack = ksm_test_stack(test, 16);
	struct ksm_hint hint;

	migrate_disable();
	ksm_hint_stack_push(stack, FAKE_MM(1), 0x1000, 1);
	ksm_hint_stack_push(stack, FAKE_MM(2), 0x1000, 2);
	ksm_hint_stack_push(stack, FAKE_MM(3), 0x1000, 3);
	migrate_enable();
	ksm_test_expect_stats(test, stack, 3, 0, 0, 0, 3);

	ksm_test_expect_pop(test, stack, FAKE_MM(3), 0x1000, 3);
	ksm_test_expect_pop(test, stack, FAKE_MM(2), 0x1000, 2);
	ksm_test_expect_pop(test, stack, FAKE_MM(1), 0x1000, 1);
	KUNIT_EXPECT_FALSE(test, ksm_hint_stack_pop(stack, &hint));
	ksm_test_expect_stats(test, stack, 3, 0, 0, 3, 0);
	ksm_hint_stack_free(stack);
}

/*
 * Ring of 4, push 1..6:
 *   [1 2 3 4] -> push 5 overwrites 1 -> [2 3 4 5] -> push 6 -> [3 4 5 6]
 * pop 6, 5, 4, 3; the ring then takes pushes again.
 */
static void ksm_hints_test_overwrite_oldest(struct kunit *test)
{
	struct ksm_hint_stack *stack = ksm_test_stack(test, 4);
	struct ksm_hint hint;
	int i;

	migrate_disable();
	for (i = 1; i <= 6; i++)
		ksm_hint_stack_push(stack, FAKE_MM(i), 0, 1);
	migrate_enable();
	ksm_test_expect_stats(test, stack, 6, 0, 2, 0, 4);

	for (i = 6; i >= 3; i--)
		ksm_test_expect_pop(test, stack, FAKE_MM(i), 0, 1);
	KUNIT_EXPECT_FALSE(test, ksm_hint_stack_pop(stack, &hint));

	migrate_disable();
	ksm_hint_stack_push(stack, FAKE_MM(7), 0, 1);
	migrate_enable();
	ksm_test_expect_pop(test, stack, FAKE_MM(7), 0, 1);
	ksm_test_expect_stats(test, stack, 7, 0, 2, 5, 0);
	ksm_hint_stack_free(stack);
}

/*
 * Pages of one mm, newest hint first:
 *   push 10..11           -> [10..11]
 *   push 12 (adjacent)    -> [10..12]
 *   push 8..9 (adjacent)  -> [8..12]
 *   push 11..14 (overlap) -> [8..14]
 *   push 9 (inside)       -> [8..14]
 *   push 16 (gap at 15)   -> [8..14] [16]
 *   push 17, other mm     -> [8..14] [16] [17']
 *   push 18, first mm     -> [8..14] [16] [17'] [18]
 */
static void ksm_hints_test_coalesce(struct kunit *test)
{
	struct ksm_hint_stack *stack = ksm_test_stack(test, 16);
	struct mm_struct *mm = FAKE_MM(1), *other = FAKE_MM(2);
	struct ksm_hint hint;

	migrate_disable();
	ksm_hint_stack_push(stack, mm, 10 * PAGE_SIZE, 2);
	ksm_hint_stack_push(stack, mm, 12 * PAGE_SIZE, 1);
	ksm_hint_stack_push(stack, mm, 8 * PAGE_SIZE, 2);
	ksm_hint_stack_push(stack, mm, 11 * PAGE_SIZE, 4);
	ksm_hint_stack_push(stack, mm, 9 * PAGE_SIZE, 1);
	ksm_test_expect_stats(test, stack, 5, 4, 0, 0, 1);
	ksm_hint_stack_push(stack, mm, 16 * PAGE_SIZE, 1);
	ksm_hint_stack_push(stack, other, 17 * PAGE_SIZE, 1);
	ksm_hint_stack_push(stack, mm, 18 * PAGE_SIZE, 1);
	migrate_enable();
	ksm_test_expect_stats(test, stack, 8, 4, 0, 0, 4);

	ksm_test_expect_pop(test, stack, mm, 18 * PAGE_SIZE, 1);
	ksm_test_expect_pop(test, stack, other, 17 * PAGE_SIZE, 1);
	ksm_test_expect_pop(test, stack, mm, 16 * PAGE_SIZE, 1);
	ksm_test_expect_pop(test, stack, mm, 8 * PAGE_SIZE, 7);
	KUNIT_EXPECT_FALSE(test, ksm_hint_stack_pop(stack, &hint));
	ksm_hint_stack_free(stack);
}

/*
 * A hint ksmd took is not grown by a later push:
 *   push 10 -> pop [10] -> push 11 (adjacent) -> [11], not [10..11]
 * while one not taken yet is: push 12 -> [11..12]
 */
static void ksm_hints_test_coalesce_after_pop(struct kunit *test)
{
	struct ksm_hint_stack *stack = ksm_test_stack(test, 16);
	struct mm_struct *mm = FAKE_MM(1);
	struct ksm_hint hint;

	migrate_disable();
	ksm_hint_stack_push(stack, mm, 10 * PAGE_SIZE, 1);
	migrate_enable();
	ksm_test_expect_pop(test, stack, mm, 10 * PAGE_SIZE, 1);
	migrate_disable();
	ksm_hint_stack_push(stack, mm, 11 * PAGE_SIZE, 1);
	ksm_hint_stack_push(stack, mm, 12 * PAGE_SIZE, 1);
	migrate_enable();
	ksm_test_expect_stats(test, stack, 3, 1, 0, 1, 1);
	ksm_test_expect_pop(test, stack, mm, 11 * PAGE_SIZE, 2);
	KUNIT_EXPECT_FALSE(test, ksm_hint_stack_pop(stack, &hint));
	ksm_test_expect_stats(test, stack, 3, 1, 0, 2, 0);
	ksm_hint_stack_free(stack);
}

/*
 * ksmd's stack holds as many hints as the rings: when it is full, the
 * oldest it holds is dropped (and counted as overwritten).
 */
static void ksm_hints_test_taken_full(struct kunit *test)
{
	struct ksm_hint_stack *stack = ksm_test_stack(test, 4);
	unsigned int cap = stack->capacity, i;
	struct ksm_hint hint;

	KUNIT_ASSERT_EQ(test, cap, 4 * num_possible_cpus() * KSM_HINT_CONTEXTS);
	/* Take every hint at once: ksmd's stack fills, then drops 2. */
	for (i = 1; i <= cap + 2; i++) {
		migrate_disable();
		ksm_hint_stack_push(stack, FAKE_MM(i), 0, 1);
		ksm_hint_stack_drain(stack);
		migrate_enable();
	}
	ksm_test_expect_stats(test, stack, cap + 2, 0, 2, 0, cap);
	for (i = cap + 2; i >= 3; i--)
		ksm_test_expect_pop(test, stack, FAKE_MM(i), 0, 1);
	KUNIT_EXPECT_FALSE(test, ksm_hint_stack_pop(stack, &hint));
	ksm_test_expect_stats(test, stack, cap + 2, 0, 2, cap, 0);
	ksm_hint_stack_free(stack);
}

struct ksm_test_irq_work {
	struct irq_work work;
	struct ksm_hint_stack *stack;
	unsigned int level;
};

static void ksm_test_irq_work_fn(struct irq_work *work)
{
	struct ksm_test_irq_work *t = container_of(work, typeof(*t), work);
	int i;

	t->level = interrupt_context_level();
	for (i = 11; i <= 13; i++)
		ksm_hint_stack_push(t->stack, FAKE_MM(i), 0, 1);
}

/*
 * Hints of two rings come back interleaved, newest first: a task pushes
 * 1, 2, 3, then an interrupt on the same CPU (its own ring) 11, 12, 13:
 *   -> pop 3, 13, 2, 12, 1, 11
 */
static void ksm_hints_test_interleave(struct kunit *test)
{
	struct ksm_hint_stack *stack = ksm_test_stack(test, 16);
	struct ksm_test_irq_work t = {
		/* Hard: in hard interrupt context on PREEMPT_RT too. */
		.work = IRQ_WORK_INIT_HARD(ksm_test_irq_work_fn),
		.stack = stack,
	};
	struct ksm_hint hint;
	int i;

	migrate_disable();
	for (i = 1; i <= 3; i++)
		ksm_hint_stack_push(stack, FAKE_MM(i), 0, 1);
	irq_work_queue(&t.work);
	irq_work_sync(&t.work);
	migrate_enable();
	KUNIT_ASSERT_EQ(test, t.level, 2U);
	for (i = 3; i >= 1; i--) {
		ksm_test_expect_pop(test, stack, FAKE_MM(i), 0, 1);
		ksm_test_expect_pop(test, stack, FAKE_MM(10 + i), 0, 1);
	}
	KUNIT_EXPECT_FALSE(test, ksm_hint_stack_pop(stack, &hint));
	ksm_test_expect_stats(test, stack, 6, 0, 0, 6, 0);
	ksm_hint_stack_free(stack);
}

#define KSM_TEST_PUSHES		1000
#define KSM_TEST_RUN		100

struct ksm_test_pusher {
	struct ksm_hint_stack *stack;
	struct completion done;
	int id;
	bool distinct;
};

/*
 * Each pusher, bound to its CPU, pushes KSM_TEST_PUSHES hints of distinct
 * fake mms, then KSM_TEST_RUN adjacent pages of its own mm, which all
 * coalesce into one hint.
 */
static int ksm_test_pusher_fn(void *data)
{
	struct ksm_test_pusher *p = data;
	unsigned long base = 1 + (unsigned long)p->id * (KSM_TEST_PUSHES + 1);
	int i;

	if (p->distinct) {
		/* Every field of hint n follows from n: a torn copy shows. */
		for (i = 0; i < KSM_TEST_PUSHES; i++)
			ksm_hint_stack_push(p->stack, FAKE_MM(base + i),
					    (base + i) << PAGE_SHIFT,
					    (base + i) % 5 + 1);
		complete(&p->done);
		return 0;
	}
	for (i = 0; i < KSM_TEST_PUSHES; i++)
		ksm_hint_stack_push(p->stack, FAKE_MM(base + i), 0, 1);
	for (i = 0; i < KSM_TEST_RUN; i++)
		ksm_hint_stack_push(p->stack, FAKE_MM(base + KSM_TEST_PUSHES),
				    i * PAGE_SIZE, 1);
	complete(&p->done);
	return 0;
}

/* Start a pusher bound to every online CPU; returns how many started. */
static int ksm_test_start_pushers(struct kunit *test,
				  struct ksm_hint_stack *stack,
				  struct ksm_test_pusher **out, bool distinct)
{
	struct ksm_test_pusher *pushers;
	struct task_struct *task;
	int cpu, n = 0;

	pushers = kunit_kcalloc(test, nr_cpu_ids, sizeof(*pushers), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pushers);
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct ksm_test_pusher *p = &pushers[n];

		p->stack = stack;
		p->id = n;
		p->distinct = distinct;
		init_completion(&p->done);
		task = kthread_create(ksm_test_pusher_fn, p, "ksm_hint_push/%d",
				      cpu);
		if (IS_ERR(task))
			break;
		kthread_bind(task, cpu);
		wake_up_process(task);
		n++;
	}
	cpus_read_unlock();
	*out = pushers;
	return n;
}

static void ksm_hints_test_concurrent_pushes(struct kunit *test)
{
	struct ksm_hint_stack *stack = ksm_test_stack(test, 2048);
	unsigned long nr = 0, per = KSM_TEST_PUSHES + 1, *seen;
	struct ksm_test_pusher *pushers;
	struct ksm_hint hint;
	int cpu, n;

	n = ksm_test_start_pushers(test, stack, &pushers, false);
	for (cpu = 0; cpu < n; cpu++)
		wait_for_completion(&pushers[cpu].done);
	KUNIT_ASSERT_GT(test, n, 0);

	ksm_test_expect_stats(test, stack, n * (KSM_TEST_PUSHES + KSM_TEST_RUN),
			      n * (KSM_TEST_RUN - 1), 0, 0, n * per);

	/* Every hint comes back exactly once. */
	seen = kunit_kcalloc(test, BITS_TO_LONGS(n * per), sizeof(long),
			     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, seen);
	while (ksm_hint_stack_pop(stack, &hint)) {
		unsigned long id = (unsigned long)hint.mm / 0x10000UL - 1;

		KUNIT_ASSERT_LT(test, id, n * per);
		KUNIT_EXPECT_FALSE(test, test_and_set_bit(id, seen));
		KUNIT_EXPECT_EQ(test, hint.nr_pages,
				id % per == KSM_TEST_PUSHES ? KSM_TEST_RUN : 1UL);
		nr++;
	}
	KUNIT_EXPECT_EQ(test, nr, n * per);
	ksm_hint_stack_free(stack);
}

struct ksm_test_irq_push {
	struct ksm_hint_stack *stack;
	unsigned long id;
};

/* Runs in hard interrupt context, on the CPU of a pusher, by IPI. */
static void ksm_test_irq_push_fn(void *data)
{
	struct ksm_test_irq_push *p = data;

	ksm_hint_stack_push(p->stack, FAKE_MM(p->id), p->id << PAGE_SHIFT,
			    p->id % 5 + 1);
}

/*
 * ksmd pops while every CPU pushes, and interrupts push in the middle of
 * those pushes (IPIs from this CPU to the others): no lock anywhere, yet
 * every hint comes back exactly once and whole (its fields all follow
 * from its mm).
 */
static void ksm_hints_test_pop_while_pushing(struct kunit *test)
{
	struct ksm_hint_stack *stack = ksm_test_stack(test, 2048);
	unsigned long nr = 0, per = KSM_TEST_PUSHES + 1, *seen, irqs = 0;
	struct ksm_test_irq_push irq = { .stack = stack };
	struct ksm_test_pusher *pushers;
	struct ksm_hint hint;
	bool done = false;
	int cpu, n, this;

	seen = kunit_kcalloc(test, BITS_TO_LONGS((nr_cpu_ids + 1) * per),
			     sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, seen);
	n = ksm_test_start_pushers(test, stack, &pushers, true);
	KUNIT_ASSERT_GT(test, n, 0);
	while (!done) {
		/* Done once every pusher was done before a pop found nothing. */
		done = true;
		for (cpu = 0; cpu < n; cpu++)
			done &= completion_done(&pushers[cpu].done);
		/* Hints from hard interrupts on the other CPUs, ids after all. */
		this = get_cpu();
		for_each_online_cpu(cpu) {
			if (cpu == this || irqs >= KSM_TEST_PUSHES)
				continue;
			irq.id = 1 + n * per + irqs++;
			smp_call_function_single(cpu, ksm_test_irq_push_fn,
						 &irq, 1);
		}
		put_cpu();
		while (ksm_hint_stack_pop(stack, &hint)) {
			unsigned long id = (unsigned long)hint.mm / 0x10000UL;

			/* No ASSERT while the pushers run: they use the stack. */
			if (id - 1 >= (n + 1) * per) {
				KUNIT_FAIL(test, "hint of unknown mm %lx", id);
				continue;
			}
			KUNIT_EXPECT_FALSE(test, test_and_set_bit(id - 1, seen));
			KUNIT_EXPECT_EQ(test, hint.start, id << PAGE_SHIFT);
			KUNIT_EXPECT_EQ(test, hint.nr_pages, id % 5 + 1);
			nr++;
		}
		cond_resched();
	}
	for (cpu = 0; cpu < n; cpu++)
		wait_for_completion(&pushers[cpu].done);
	KUNIT_EXPECT_EQ(test, nr, n * KSM_TEST_PUSHES + irqs);
	ksm_test_expect_stats(test, stack, n * KSM_TEST_PUSHES + irqs, 0, 0,
			      n * KSM_TEST_PUSHES + irqs, 0);
	/* On more than one CPU, some of them came from hard interrupts. */
	if (num_online_cpus() > 1)
		KUNIT_EXPECT_GT(test, irqs, 0UL);
	ksm_hint_stack_free(stack);
}

/*
 * iovecs 0x10000+4096, 0x11000+8192 (contiguous), 0x20010+100; a read of
 * 4096 + 8192 + 50 bytes:
 *   -> pages 0x10..0x12 as one hint, page 0x20 as another
 * the same read cut after 5000 bytes:
 *   -> pages 0x10..0x11
 */
static void ksm_hints_test_iter(struct kunit *test)
{
	struct iovec iov[] = {
		{ .iov_base = (void __user *)0x10000, .iov_len = 4096 },
		{ .iov_base = (void __user *)0x11000, .iov_len = 8192 },
		{ .iov_base = (void __user *)0x20010, .iov_len = 100 },
	};
	struct ksm_hint_stack *stack = ksm_test_stack(test, 16);
	struct ksm_hint_batch *batch;
	struct ksm_hint hint;
	struct iov_iter iter;

	iov_iter_init(&iter, ITER_DEST, iov, ARRAY_SIZE(iov), 4096 + 8192 + 100);
	preempt_disable();
	ksm_hint_stack_push_iter(stack, FAKE_MM(1), &iter, 4096 + 8192 + 50);
	preempt_enable();
	ksm_test_expect_pop(test, stack, FAKE_MM(1), 0x20000, 1);
	ksm_test_expect_pop(test, stack, FAKE_MM(1), 0x10000, 3);

	preempt_disable();
	ksm_hint_stack_push_iter(stack, FAKE_MM(1), &iter, 5000);
	preempt_enable();
	ksm_test_expect_pop(test, stack, FAKE_MM(1), 0x10000, 2);

	/* An iterator part-way through its first segment: 0x10f00.. */
	iov_iter_advance(&iter, 0xf00);
	preempt_disable();
	ksm_hint_stack_push_iter(stack, FAKE_MM(1), &iter, 0x200);
	preempt_enable();
	ksm_test_expect_pop(test, stack, FAKE_MM(1), 0x10000, 2);

	/* A single user buffer straddling a page boundary. */
	iov_iter_ubuf(&iter, ITER_DEST, (void __user *)0x30ff0, 64);
	preempt_disable();
	ksm_hint_stack_push_iter(stack, FAKE_MM(2), &iter, 64);
	preempt_enable();
	ksm_test_expect_pop(test, stack, FAKE_MM(2), 0x30000, 2);
	KUNIT_EXPECT_FALSE(test, ksm_hint_stack_pop(stack, &hint));

	/* A batch keeps the two runs of the iovecs for a later completion. */
	iov_iter_init(&iter, ITER_DEST, iov, ARRAY_SIZE(iov), 4096 + 8192 + 100);
	batch = __ksm_hint_batch_alloc(FAKE_MM(1), &iter, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, batch);
	KUNIT_EXPECT_EQ(test, batch->nr, 2U);
	KUNIT_EXPECT_EQ(test, batch->spans[0].start, 0x10000UL);
	KUNIT_EXPECT_EQ(test, batch->spans[0].len, 4096UL + 8192);
	KUNIT_EXPECT_EQ(test, batch->spans[1].start, 0x20010UL);
	KUNIT_EXPECT_EQ(test, batch->spans[1].len, 100UL);
	ksm_hint_batch_complete(batch, 0);
	ksm_hint_stack_free(stack);
}

/*
 * items at pages 1, 5, 9:
 *   find 5 -> item 5;   find 6 -> none, prev 5;   find 0 -> none, prev none
 *   delete 5 (with flag bits) -> find 6 -> none, prev 1
 */
static void ksm_hints_test_index(struct kunit *test)
{
	struct ksm_hint_index index = {};
	int items[10];
	void *prev;

	KUNIT_EXPECT_EQ(test, ksm_hint_index_add(&index, PAGE_SIZE, &items[1]),
			0);
	ksm_hint_index_start(&index, NULL);
	KUNIT_ASSERT_EQ(test, ksm_hint_index_add(&index, 1 * PAGE_SIZE, &items[1]), 0);
	KUNIT_ASSERT_EQ(test, ksm_hint_index_add(&index, 5 * PAGE_SIZE, &items[5]), 0);
	KUNIT_ASSERT_EQ(test, ksm_hint_index_add(&index, 9 * PAGE_SIZE, &items[9]), 0);

	KUNIT_EXPECT_PTR_EQ(test, ksm_hint_index_find(&index, 5 * PAGE_SIZE, &prev),
			    (void *)&items[5]);
	KUNIT_EXPECT_NULL(test, ksm_hint_index_find(&index, 6 * PAGE_SIZE, &prev));
	KUNIT_EXPECT_PTR_EQ(test, prev, (void *)&items[5]);
	KUNIT_EXPECT_NULL(test, ksm_hint_index_find(&index, 12 * PAGE_SIZE, &prev));
	KUNIT_EXPECT_PTR_EQ(test, prev, (void *)&items[9]);
	KUNIT_EXPECT_NULL(test, ksm_hint_index_find(&index, 0, &prev));
	KUNIT_EXPECT_NULL(test, prev);

	ksm_hint_index_del(&index, 5 * PAGE_SIZE | 0x3ff);
	KUNIT_EXPECT_NULL(test, ksm_hint_index_find(&index, 6 * PAGE_SIZE, &prev));
	KUNIT_EXPECT_PTR_EQ(test, prev, (void *)&items[1]);

	ksm_hint_index_destroy(&index);
	KUNIT_EXPECT_FALSE(test, index.ready);

	/* Out of memory: not rebuilt until KSM_HINT_INDEX_RETRY passed. */
	KUNIT_ASSERT_TRUE(test, ksm_hint_index_start(&index, NULL));
	ksm_hint_index_failed(&index);
	KUNIT_EXPECT_FALSE(test, index.ready);
	KUNIT_EXPECT_FALSE(test, ksm_hint_index_start(&index, NULL));
	KUNIT_EXPECT_FALSE(test, index.ready);
	index.failed_at = jiffies - KSM_HINT_INDEX_RETRY - 1;
	KUNIT_EXPECT_TRUE(test, ksm_hint_index_start(&index, NULL));
	KUNIT_EXPECT_TRUE(test, index.ready);
	ksm_hint_index_destroy(&index);
}

/*
 * Hints drain the per-cpu LRU batches at most once per interval, also
 * across a wrap of jiffies; a drain is due right after boot.
 */
static void ksm_hints_test_drain_rate(struct kunit *test)
{
	const unsigned long iv = KSM_HINTS_DRAIN_INTERVAL;
	unsigned long last = 1000;

	KUNIT_EXPECT_GT(test, iv, 0UL);
	KUNIT_EXPECT_FALSE(test, ksm_hints_drain_due(last, last));
	KUNIT_EXPECT_FALSE(test, ksm_hints_drain_due(last, last + iv - 1));
	KUNIT_EXPECT_TRUE(test, ksm_hints_drain_due(last, last + iv));
	KUNIT_EXPECT_TRUE(test, ksm_hints_drain_due(last, last + 100 * iv));
	last = ULONG_MAX - iv / 2;
	KUNIT_EXPECT_FALSE(test, ksm_hints_drain_due(last, last + iv - 1));
	KUNIT_EXPECT_TRUE(test, ksm_hints_drain_due(last, last + iv));
	KUNIT_EXPECT_TRUE(test, ksm_hints_drain_due(INITIAL_JIFFIES - iv,
						    INITIAL_JIFFIES));
}

/*
 * Hints get pages in proportion to their yield, within the knob's share
 * and the credit, and at least one per batch while they have credit; the
 * average yield follows what batches merged.
 */
static void ksm_hints_test_budget(struct kunit *test)
{
	const long full = KSM_HINTS_CREDIT_MAX, page = KSM_HINTS_CREDIT_SCALE;
	const unsigned int one = KSM_HINTS_YIELD_ONE;
	unsigned int yield = one, i;

	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 50, one, full), 50UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 50, one / 2, full), 50UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 50, one / 4, full), 25UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 400, one, full), 400UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 50, 0, full), 1UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 0, one, full), 0UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(1, 50, one, full), 1UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(30000, 50, 0, full), 1UL);
	/* Never more than the credit holds, even at the largest share... */
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(UINT_MAX, 1000, one, full),
			(unsigned long)(full / page));
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(1U << 30, 400, one, full),
			(unsigned long)(full / page));
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(30000, 400, one, page), 1UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 400, one, 10 * page + 1),
			10UL);
	/* ...and nothing without a page of it. */
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 50, one, page - 1), 0UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 50, one, 0), 0UL);

	/* Batches that merge nothing: down to the one-page floor... */
	for (i = 0; i < 100; i++)
		yield = ksm_hints_next_yield(yield, 50, 0);
	KUNIT_EXPECT_EQ(test, yield, 0U);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(1000, 50, yield, full), 1UL);
	/* ...no visit, no change... */
	KUNIT_EXPECT_EQ(test, ksm_hints_next_yield(yield, 0, 0), yield);
	/* ...and back within a few batches that merge all they visit. */
	for (i = 0; i < 12; i++)
		yield = ksm_hints_next_yield(yield, 1, 2);
	KUNIT_EXPECT_GE(test, yield, one / 2);
	KUNIT_EXPECT_EQ(test, ksm_hints_budget(100, 50, yield, full), 50UL);
}

/*
 * Bad news from a few pages counts little, good news in full: twenty
 * one-page visits that miss leave hints that merged nearly their whole
 * share, thirty full batches that miss take it down to a page or two.
 */
static void ksm_hints_test_yield_weight(struct kunit *test)
{
	const unsigned int one = KSM_HINTS_YIELD_ONE;
	const long full = KSM_HINTS_CREDIT_MAX;
	unsigned int yield = one, i;

	for (i = 0; i < 20; i++)
		yield = ksm_hints_next_yield(yield, 1, 0);
	KUNIT_EXPECT_GE(test, ksm_hints_budget(100, 50, yield, full), 45UL);

	yield = one;
	for (i = 0; i < 30; i++)
		yield = ksm_hints_next_yield(yield, 50, 0);
	KUNIT_EXPECT_LE(test, ksm_hints_budget(100, 50, yield, full), 2UL);

	/* One page: a hit moves 1/8 of the way up, a miss 1/256 down. */
	KUNIT_EXPECT_EQ(test, ksm_hints_next_yield(one / 2, 1, 1),
			one / 2 + one / 16);
	KUNIT_EXPECT_EQ(test, ksm_hints_next_yield(one / 2, 1, 0), one / 2 - 2);
	KUNIT_EXPECT_EQ(test, ksm_hints_next_yield(one / 2, 32, 0),
			one / 2 - one / 16);
}

/* A model of ksmd's hinted visits, batch after batch */
struct ksm_hints_test_model {
	unsigned int yield;
	long credit;
	unsigned long used;
};

/*
 * A batch of @pages_to_scan at the default share in which every hinted page
 * visited merges @merged_per_page pages, and @fresh of them at most are
 * first copies; returns the hinted pages used.
 */
static unsigned long ksm_hints_test_batch(struct ksm_hints_test_model *m,
					  unsigned int pages_to_scan,
					  unsigned long merged_per_page,
					  unsigned long fresh)
{
	unsigned long used = ksm_hints_budget(pages_to_scan, 400, m->yield,
					      m->credit);
	unsigned long merged = used * merged_per_page;

	fresh = min(fresh, used);
	m->credit = ksm_hints_next_credit(m->credit, pages_to_scan, used,
					  merged,
					  ksm_hints_free(fresh, m->yield));
	m->yield = ksm_hints_next_yield(m->yield, used - fresh, merged);
	m->used += used;
	return used;
}

/*
 * Hints that merge nothing cost at most 2048 pages and then one page per
 * KSM_HINTS_CREDIT_SCALE of the linear scan's, and are still visited that
 * often; hints that merge keep their whole share.
 */
static void ksm_hints_test_credit(struct kunit *test)
{
	const long full = KSM_HINTS_CREDIT_MAX, page = KSM_HINTS_CREDIT_SCALE;
	struct ksm_hints_test_model m = { KSM_HINTS_YIELD_ONE, full, 0 };
	unsigned long late = 0;
	unsigned int i;

	KUNIT_EXPECT_EQ(test, ksm_hints_next_credit(full, 100, 50, 0, 0),
			full - 50 * page + 100);
	KUNIT_EXPECT_EQ(test, ksm_hints_next_credit(full, 100, 0, 0, 0), full);
	KUNIT_EXPECT_EQ(test, ksm_hints_next_credit(page, 0, 100, 0, 0), 0L);
	KUNIT_EXPECT_EQ(test, ksm_hints_next_credit(0, UINT_MAX, 0, 0, 0),
			full);
	/* Merging one page in two pays its way, as do unpaid pages. */
	KUNIT_EXPECT_EQ(test, ksm_hints_next_credit(page, 0, 50, 25, 0), page);
	KUNIT_EXPECT_EQ(test, ksm_hints_next_credit(page, 0, 50, 0, 50), page);
	KUNIT_EXPECT_EQ(test, ksm_hints_next_credit(page, 0, 50, 0, 99), page);
	/* First copies are free while the rest merges, paid below half. */
	KUNIT_EXPECT_EQ(test, ksm_hints_free(100, KSM_HINTS_YIELD_ONE), 100UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_free(100, KSM_HINTS_YIELD_ONE / 2),
			0UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_free(100, 3 * KSM_HINTS_YIELD_ONE / 4),
			50UL);
	KUNIT_EXPECT_EQ(test, ksm_hints_free(100, 0), 0UL);

	for (i = 0; i < 10000; i++) {
		unsigned long n = ksm_hints_test_batch(&m, 100, 0, 0);

		if (i >= 9000)
			late += n;
	}
	KUNIT_EXPECT_LE(test, m.used, 2048UL + 10000 * 100 / page + 1);
	KUNIT_EXPECT_GE(test, late, 1000 * 100 / page - 1);
	KUNIT_EXPECT_LE(test, late, 1000 * 100 / page + 1);
	KUNIT_EXPECT_GE(test, m.credit, 0L);

	/* Pages that merge with a KSM page at every visit: all the share. */
	for (i = 0; i < 100; i++)
		ksm_hints_test_batch(&m, 100, 1, 0);
	for (i = 0; i < 100; i++)
		KUNIT_EXPECT_EQ(test, ksm_hints_test_batch(&m, 100, 1, 0),
				400UL);
	KUNIT_EXPECT_EQ(test, m.credit, full);
}

/*
 * Two readers of one file of 16384 pages in their own random orders: a
 * page visited finds its twin with the chance of the twin's file half
 * visited, first copies are the rest.  Hints keep their whole share until
 * every page is visited.  Readers of data found nowhere else, whose pages
 * are first copies again when the hint tree is reset (every 1000 batches
 * here), cost no more than when they were misses from the start, plus the
 * first 2048 first copies.
 */
static void ksm_hints_test_first_copies(struct kunit *test)
{
	struct ksm_hints_test_model m = {
		KSM_HINTS_YIELD_ONE, KSM_HINTS_CREDIT_MAX, 0
	};
	const unsigned long n = 16384, page = KSM_HINTS_CREDIT_SCALE;
	unsigned long visited = 0, batches = 0, fresh_left = 0;
	unsigned int i;

	while (visited < 2 * n && batches < 1000) {
		unsigned long used = ksm_hints_budget(100, 400, m.yield,
						      m.credit);
		unsigned long pairs = 0, fresh, j;

		used = min(used, 2 * n - visited);
		/* The twins of a page are visited at random: expected value. */
		for (j = 0; j < used; j++)
			pairs += (visited + j) / 2;
		pairs /= n;
		fresh = used - pairs;
		m.credit = ksm_hints_next_credit(m.credit, 100, used, 2 * pairs,
						 ksm_hints_free(fresh, m.yield));
		m.yield = ksm_hints_next_yield(m.yield, used - fresh,
					       2 * pairs);
		KUNIT_EXPECT_EQ(test, used, min(400UL, 2 * n - visited));
		visited += used;
		batches++;
	}
	KUNIT_EXPECT_EQ(test, visited, 2 * n);

	m = (struct ksm_hints_test_model){
		KSM_HINTS_YIELD_ONE, KSM_HINTS_CREDIT_MAX, 0
	};
	for (i = 0; i < 10000; i++) {
		if (!(i % 1000))
			fresh_left = 2048;
		fresh_left -= min(fresh_left,
				  ksm_hints_test_batch(&m, 100, 0, fresh_left));
	}
	KUNIT_EXPECT_LE(test, m.used, 2 * 2048UL + 10000 * 100 / page + 1);
}

/*
 * An mm falls back to the two-visit rule when more than one in four of
 * its first-visit merges broke, at least eight, once; halving at each
 * full scan gives first-visit merging back.
 */
static void ksm_hints_test_fallback(struct kunit *test)
{
	struct ksm_hint_yield y = { .seqnr = 250 };
	int i, switches = 0;

	for (i = 0; i < 64; i++)
		ksm_hint_merged_first(&y, 250);
	KUNIT_EXPECT_TRUE(test, ksm_hint_first_visit(&y, 250));
	for (i = 0; i < 15; i++)
		switches += ksm_hint_yield_broken(&y, 250);
	KUNIT_EXPECT_EQ(test, switches, 0);
	KUNIT_EXPECT_TRUE(test, ksm_hint_first_visit(&y, 250));
	switches += ksm_hint_yield_broken(&y, 250);
	KUNIT_EXPECT_EQ(test, switches, 1);
	KUNIT_EXPECT_FALSE(test, ksm_hint_first_visit(&y, 250));
	switches += ksm_hint_yield_broken(&y, 250);
	KUNIT_EXPECT_EQ(test, switches, 1);

	/* A full scan later: 32 merged, 8 broken. */
	KUNIT_EXPECT_FALSE(test, ksm_hint_first_visit(&y, 251));
	KUNIT_EXPECT_EQ(test, y.broken, 8);
	/* Two more: below the minimum of eight broken. */
	KUNIT_EXPECT_TRUE(test, ksm_hint_first_visit(&y, 253));
	KUNIT_EXPECT_EQ(test, y.merged, 8);
	/* After run = 2 reset the count of full scans: all forgotten. */
	KUNIT_EXPECT_TRUE(test, ksm_hint_first_visit(&y, 10));
	KUNIT_EXPECT_EQ(test, y.merged, 0);
	KUNIT_EXPECT_EQ(test, y.broken, 0);

	/* Counts saturate. */
	y.merged = U16_MAX;
	ksm_hint_merged_first(&y, 10);
	KUNIT_EXPECT_EQ(test, y.merged, U16_MAX);
}

static struct kunit_case ksm_hints_test_cases[] = {
	KUNIT_CASE(ksm_hints_test_order),
	KUNIT_CASE(ksm_hints_test_overwrite_oldest),
	KUNIT_CASE(ksm_hints_test_coalesce),
	KUNIT_CASE(ksm_hints_test_coalesce_after_pop),
	KUNIT_CASE(ksm_hints_test_taken_full),
	KUNIT_CASE(ksm_hints_test_interleave),
	KUNIT_CASE(ksm_hints_test_concurrent_pushes),
	KUNIT_CASE(ksm_hints_test_pop_while_pushing),
	KUNIT_CASE(ksm_hints_test_iter),
	KUNIT_CASE(ksm_hints_test_index),
	KUNIT_CASE(ksm_hints_test_drain_rate),
	KUNIT_CASE(ksm_hints_test_budget),
	KUNIT_CASE(ksm_hints_test_yield_weight),
	KUNIT_CASE(ksm_hints_test_credit),
	KUNIT_CASE(ksm_hints_test_first_copies),
	KUNIT_CASE(ksm_hints_test_fallback),
	{},
};

static struct kunit_suite ksm_hints_test_suite = {
	.name = "ksm_hints",
	.test_cases = ksm_hints_test_cases,
};

kunit_test_suite(ksm_hints_test_suite);

#endif /* _MM_KSM_HINTS_KUNIT_H */
