// SPDX-License-Identifier: GPL-2.0
/*
 * KSM I/O hints
 *
 * Pages that a read has just filled in mergeable memory - a guest's RAM
 * receiving blocks of its disk image - are the likeliest duplicates on a
 * host, yet ksmd's linear scan reaches them only minutes later and merges
 * them only on its second visit.  The read paths record where such reads
 * landed as (mm, start, nr_pages) hints on a bounded stack; in every batch
 * ksmd visits the newest hints on top of its linear scan, as many as
 * hinted visits lately merged pages.  The idea and measurements are from
 * "KSM++: Using I/O-based hints to make memory-deduplication scanners more
 * efficient" (Miller et al., RESoLVE 2012) and XLH (Miller et al., USENIX
 * ATC 2013).
 *
 * Producer: any context but NMI, O(1), a few stores to the local CPU's ring
 * of its context with preemption off: no lock, no atomic instruction.
 * Consumer: ksmd, with ksm_thread_mutex held; it takes the new hints of
 * every ring without a lock (see struct ksm_hint_slot).
 *
 * Lock order:
 *   ksm_hints_knob_mutex
 *     ksm_thread_mutex (mm/ksm.c)
 *       mmap_lock
 *   ksm_mmlist_lock (mm/ksm.c) nests the maple tree lock of an index.
 *
 * Copyright (C) 2026 KSM++ developers
 */

#define pr_fmt(fmt) "ksm: " fmt

#include <linux/cpumask.h>
#include <linux/jiffies.h>
#include <linux/jump_label.h>
#include <linux/kobject.h>
#include <linux/lockdep.h>
#include <linux/log2.h>
#include <linux/ksm.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uio.h>

#include "ksm_charge.h"
#include "ksm_hints.h"

/*
 * Statistics
 */

/* Counters of stacks that were freed (capacity changes, disable). */
static struct ksm_hint_stack_stats ksm_hints_retired;
/* Hints dropped by ksmd: mm gone or unregistered, range not mergeable */
static unsigned long ksm_hints_stale;
/* Pages ksmd visited because a hint pointed at them */
static unsigned long ksm_hints_pages_visited;
/* Pages that became KSM pages on a visit from a hint */
static unsigned long ksm_hints_pages_merged;
/* Pages merged at their first, hinted, visit and found broken at the next */
static unsigned long ksm_hints_merges_broken;
/* Times an mm went back to the two-visit rule for its hinted pages */
static unsigned long ksm_hints_fallbacks;

/*
 * Tunables
 */

DEFINE_STATIC_KEY_FALSE(ksm_hints_key);

/* Default capacity: 64Ki hints of 56 bytes (ring and ksmd's), 3.5 MiB */
#define KSM_HINTS_CAPACITY_DEFAULT	65536U
#define KSM_HINTS_CAPACITY_MIN		16U
#define KSM_HINTS_CAPACITY_MAX		(4U * 1024 * 1024)

static unsigned int ksm_hints_capacity = KSM_HINTS_CAPACITY_DEFAULT;
/* Hinted pages per batch at most, in percent of pages_to_scan, on top */
#define KSM_HINTS_SCAN_PERCENT_MAX	1000U
static unsigned int ksm_hints_scan_percent = 400;

/*
 * What hinted visits yielded lately: pages merged per page visited, in
 * 1/KSM_HINTS_YIELD_ONE, averaged over ksmd's batches.  Starts optimistic.
 */
#define KSM_HINTS_YIELD_ONE	1024U
static unsigned int ksm_hints_yield = KSM_HINTS_YIELD_ONE;

/*
 * What hinted visits may still spend, in 1/KSM_HINTS_CREDIT_SCALE of a
 * page: a page merged from a hint earns two pages, a hinted page visited
 * (or a stale hint) costs one, a first copy (see ksm_hints_scan()) costs
 * less the more hints yield, and every batch earns 1/KSM_HINTS_CREDIT_SCALE
 * of a page per page of the linear scan.  A batch's hints spend no more
 * than it holds: none while it holds less than a page.  Starts full.
 */
#define KSM_HINTS_CREDIT_SCALE	512L
#define KSM_HINTS_CREDIT_MAX	(2048 * KSM_HINTS_CREDIT_SCALE)
static long ksm_hints_credit = KSM_HINTS_CREDIT_MAX;

/* Serialises the knobs that replace or free the stack. */
static DEFINE_MUTEX(ksm_hints_knob_mutex);

/* The stack the read paths push to; NULL while hints are off. */
static struct ksm_hint_stack __rcu *ksm_hints;

/*
 * Hint stack
 */

/*
 * Is generation @a newer than @b?  0 is no generation (a slot never
 * written or being written); generations wrap on 32-bit, where a push
 * skips 0 and a ring holds far fewer than 2^31 of them.
 */
static inline bool gen_after(unsigned long a, unsigned long b)
{
	return a && (long)(a - b) > 0;
}

/* The slot that the @n-th write of a slot to @ring went to. */
static struct ksm_hint_slot *ring_slot(const struct ksm_hint_stack *stack,
				       struct ksm_hint_ring *ring,
				       unsigned long n)
{
	return &ring->slots[n & (stack->ring_size - 1)];
}

static struct ksm_hint_ring *ksm_hint_ring_of(struct ksm_hint_stack *stack,
					      int cpu, int ctx)
{
	return &per_cpu_ptr(stack->rings, cpu)->ctx[ctx];
}

/* Free the slots of the rings listed in @stack->drain, and the rings. */
static void ksm_hint_free_slots(struct ksm_hint_stack *stack)
{
	unsigned int i;

	for (i = 0; i < stack->nr_rings; i++)
		kvfree(stack->drain[i].ring->slots);
	free_percpu(stack->rings);
}

/**
 * ksm_hint_stack_alloc() - allocate an empty hint stack
 * @capacity: hints the stack holds; divided evenly between the rings, one
 *            per possible CPU and context (task, softirq, hard interrupt),
 *            and rounded down to a power of two per ring
 *
 * Return: the stack, or NULL if memory ran out.
 */
struct ksm_hint_stack *ksm_hint_stack_alloc(unsigned int capacity)
{
	struct ksm_hint_stack *stack;
	int cpu, ctx;

	stack = kzalloc(sizeof(*stack), GFP_KERNEL);
	if (!stack)
		return NULL;
	stack->ring_size = rounddown_pow_of_two(max(capacity /
		(num_possible_cpus() * KSM_HINT_CONTEXTS), 1U));
	stack->capacity = stack->ring_size * num_possible_cpus() *
			  KSM_HINT_CONTEXTS;
	stack->taken = kvcalloc(stack->capacity, sizeof(*stack->taken),
				GFP_KERNEL);
	if (!stack->taken)
		goto free_stack;
	stack->drain = kvcalloc(num_possible_cpus() * KSM_HINT_CONTEXTS,
				sizeof(*stack->drain), GFP_KERNEL);
	if (!stack->drain)
		goto free_taken;
	stack->rings = alloc_percpu(struct ksm_hint_cpu);
	if (!stack->rings)
		goto free_drain;
	for_each_possible_cpu(cpu) {
		for (ctx = 0; ctx < KSM_HINT_CONTEXTS; ctx++) {
			struct ksm_hint_ring *ring = ksm_hint_ring_of(stack,
								      cpu, ctx);

			/* Listed before its slots: the error path frees them. */
			stack->drain[stack->nr_rings++].ring = ring;
			ring->slots = kvcalloc_node(stack->ring_size,
						    sizeof(*ring->slots),
						    GFP_KERNEL,
						    cpu_to_node(cpu));
			if (!ring->slots)
				goto free_rings;
		}
	}
	return stack;

free_rings:
	ksm_hint_free_slots(stack);
free_drain:
	kvfree(stack->drain);
free_taken:
	kvfree(stack->taken);
free_stack:
	kfree(stack);
	return NULL;
}

/**
 * ksm_hint_stack_free() - free a hint stack and the hints it holds
 * @stack: stack from ksm_hint_stack_alloc(), or NULL
 *
 * The caller makes sure that nobody pushes to or pops from @stack.
 */
void ksm_hint_stack_free(struct ksm_hint_stack *stack)
{
	if (!stack)
		return;
	ksm_hint_free_slots(stack);
	kvfree(stack->drain);
	kvfree(stack->taken);
	kfree(stack);
}

/*
 * Would [start, start + nr pages) touch or overlap @hint?  Then a push
 * grows @hint instead of taking a slot.
 */
static bool ksm_hint_coalesces(const struct ksm_hint *hint,
			       struct mm_struct *mm, unsigned long start,
			       unsigned long nr_pages)
{
	return hint->mm == mm &&
	       start <= hint->start + (hint->nr_pages << PAGE_SHIFT) &&
	       hint->start <= start + (nr_pages << PAGE_SHIFT);
}

/*
 * The ring of the current context, indexed like interrupt_context_level(),
 * with one test in the common case, a task.
 */
static __always_inline unsigned int ksm_hint_context(void)
{
	if (likely(!(preempt_count() &
		     (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET))))
		return 0;
	return interrupt_context_level();
}

/*
 * The push, inlined into the read path's entry (__ksm_hint_range()) and
 * ksm_hint_stack_push(); the caller has disabled preemption.  Each context
 * of a CPU has its own ring: a softirq or hard interrupt that interrupts a
 * push writes another ring, and preemption off keeps other tasks off the
 * task ring, which on PREEMPT_RT also takes threaded softirqs and
 * interrupt handlers (they run as tasks).  No read completes in NMI
 * context; a push from there is dropped.
 */
static __always_inline void __ksm_hint_stack_push(struct ksm_hint_stack *stack,
						  struct mm_struct *mm,
						  unsigned long start,
						  unsigned long nr_pages)
{
	unsigned int ctx = ksm_hint_context();
	struct ksm_hint_ring *ring;
	struct ksm_hint_slot *slot;
	unsigned long head, gen;

	lockdep_assert_preemption_disabled();
	if (unlikely(ctx >= KSM_HINT_CONTEXTS))
		return;
	ring = &this_cpu_ptr(stack->rings)->ctx[ctx];
	head = ring->head;
	gen = ++ring->gen;
	/* 0 is no generation; a 64-bit count does not wrap in practice. */
	if (!IS_ENABLED(CONFIG_64BIT) && unlikely(!gen)) {
		ring->gen = 1;
		gen = 1;
	}
	slot = ring_slot(stack, ring, head - 1);
	if (gen_after(slot->gen, READ_ONCE(ring->drained)) &&
	    ksm_hint_coalesces(&slot->hint, mm, start, nr_pages)) {
		unsigned long end = max(slot->hint.start +
					(slot->hint.nr_pages << PAGE_SHIFT),
					start + (nr_pages << PAGE_SHIFT));

		start = min(slot->hint.start, start);
		WRITE_ONCE(slot->gen, 0);
		smp_wmb();	/* gen 0 before the fields; pairs with drain */
		WRITE_ONCE(slot->hint.start, start);
		WRITE_ONCE(slot->hint.nr_pages, (end - start) >> PAGE_SHIFT);
		/* The fields before the new gen; pairs with the drain. */
		smp_store_release(&slot->gen, gen);
		ring->coalesced++;
		return;
	}
	slot = ring_slot(stack, ring, head);
	WRITE_ONCE(slot->gen, 0);
	smp_wmb();		/* gen 0 before the fields; pairs with drain */
	WRITE_ONCE(slot->hint.mm, mm);
	WRITE_ONCE(slot->hint.start, start);
	WRITE_ONCE(slot->hint.nr_pages, nr_pages);
	/* The fields before the new gen; pairs with the drain. */
	smp_store_release(&slot->gen, gen);
	/* The slot before the head that counts it; pairs with the drain. */
	smp_store_release(&ring->head, head + 1);
}

/**
 * ksm_hint_stack_push() - record that a read filled a range of pages
 * @stack: the stack
 * @mm: address space of the range
 * @start: page-aligned address of the first page
 * @nr_pages: pages in the range, at least one
 *
 * Pushes on the local CPU's ring of the current context (task, softirq or
 * hard interrupt).  A range that touches or overlaps the newest hint of
 * that ring, not yet taken by ksmd, grows it; otherwise it takes a new
 * slot, and if the ring is full the oldest hint is overwritten.  Stores to
 * that ring only, with preemption off: no lock, no atomic instruction,
 * interrupts left on; the only cache lines ksmd touches too are the
 * ring's @drained, which it writes when it takes hints, and the slots it
 * reads.  Any context but NMI.
 */
void ksm_hint_stack_push(struct ksm_hint_stack *stack, struct mm_struct *mm,
			 unsigned long start, unsigned long nr_pages)
{
	preempt_disable();
	__ksm_hint_stack_push(stack, mm, start, nr_pages);
	preempt_enable();
}

/*
 * Copy the hint of @slot if its generation is @gen, read before; false if
 * the producer rewrote the slot meanwhile.
 */
static bool ksm_hint_slot_read(struct ksm_hint_slot *slot, unsigned long gen,
			       struct ksm_hint *hint)
{
	hint->mm = READ_ONCE(slot->hint.mm);
	hint->start = READ_ONCE(slot->hint.start);
	hint->nr_pages = READ_ONCE(slot->hint.nr_pages);
	smp_rmb();	/* the fields before gen again; pairs with push */
	return READ_ONCE(slot->gen) == gen;
}

/* Put @hint on top of ksmd's stack, dropping its oldest if it is full. */
static void ksm_hint_taken_push(struct ksm_hint_stack *stack,
				const struct ksm_hint *hint)
{
	stack->taken[stack->top] = *hint;
	stack->top = stack->top + 1 == stack->capacity ? 0 : stack->top + 1;
	if (stack->count == stack->capacity)
		WRITE_ONCE(stack->dropped, stack->dropped + 1);
	else
		WRITE_ONCE(stack->count, stack->count + 1);
}

/*
 * Find the hints of a ring newer than its @drained, newest first from its
 * head; writes only *@d, so it may run beside ksmd and the producers.  A
 * slot being written (generation 0) at the top is a hint being grown, or
 * the oldest slot being rewritten by a producer that went round the ring:
 * the next drain takes it.  The walk stops at the first slot taken
 * before, unwritten, or rewritten while the walk ran (the producer went
 * round the ring: what lay further back is lost).
 */
static void ksm_hint_ring_scan(struct ksm_hint_stack *stack,
			       struct ksm_hint_drain *d)
{
	unsigned long drained = READ_ONCE(d->ring->drained), gen;
	unsigned int n;

	d->old = drained;
	/* Slots below head are written; pairs with the push. */
	d->head = smp_load_acquire(&d->ring->head);
	d->newest = 0;
	d->skip = 0;
	d->nr = 0;
	d->took = 0;
	for (n = 0; n < stack->ring_size; n++) {
		/* gen before the fields; pairs with the push. */
		gen = smp_load_acquire(&ring_slot(stack, d->ring,
						  d->head - 1 - n)->gen);
		if (!gen && !n) {
			d->skip = 1;
			continue;
		}
		if (!gen_after(gen, drained) ||
		    (d->newest && gen_after(gen, d->newest)))
			break;
		if (!d->newest)
			d->newest = gen;
		d->nr++;
	}
}

/*
 * Take the new hints of every ring onto ksmd's stack, interleaved: the
 * newest of each ring, then the second newest of each, and so on, so
 * that readers on different CPUs take turns, as their reads did.  They
 * go on oldest first, so that the top is the newest hint of the first
 * ring that had any.  Each ring's @drained moves before the copies, so
 * that a push stops growing a hint being taken; a slot rewritten since
 * ksm_hint_ring_scan() saw it is lost, or taken next time if it was a
 * hint being grown.
 */
static void ksm_hint_stack_drain(struct ksm_hint_stack *stack)
{
	unsigned int i, r, most = 0;
	struct ksm_hint_slot *slot;
	struct ksm_hint_drain *d;
	struct ksm_hint hint;
	unsigned long gen;

	for (i = 0; i < stack->nr_rings; i++) {
		d = &stack->drain[i];
		ksm_hint_ring_scan(stack, d);
		most = max(most, d->nr);
		if (d->newest)
			WRITE_ONCE(d->ring->drained, d->newest);
	}
	/* @drained before the copies; pairs with the producer's coalescing. */
	smp_mb();
	for (r = most; r-- > 0; ) {
		for (i = stack->nr_rings; i-- > 0; ) {
			d = &stack->drain[i];
			if (r >= d->nr)
				continue;
			slot = ring_slot(stack, d->ring,
					 d->head - 1 - d->skip - r);
			/* gen before the fields; pairs with the push. */
			gen = smp_load_acquire(&slot->gen);
			if (!gen_after(gen, d->old) || gen_after(gen, d->newest) ||
			    !ksm_hint_slot_read(slot, gen, &hint))
				continue;
			ksm_hint_taken_push(stack, &hint);
			d->took++;
		}
	}
	for (i = 0; i < stack->nr_rings; i++) {
		d = &stack->drain[i];
		if (d->took)
			WRITE_ONCE(d->ring->taken, d->ring->taken + d->took);
	}
}

/**
 * ksm_hint_stack_pop() - take the hint on top: the newest of some ring
 * @stack: the stack
 * @hint: filled with the hint taken
 *
 * Takes the hints pushed since the last pop from every ring onto ksmd's
 * stack (ksm_hint_stack_drain()), then pops the top.  Only one task may
 * pop from a stack at a time (ksmd).
 *
 * Return: true if a hint was taken, false if the stack is empty.
 */
bool ksm_hint_stack_pop(struct ksm_hint_stack *stack, struct ksm_hint *hint)
{
	ksm_hint_stack_drain(stack);
	if (!stack->count)
		return false;
	stack->top = stack->top ? stack->top - 1 : stack->capacity - 1;
	*hint = stack->taken[stack->top];
	WRITE_ONCE(stack->count, stack->count - 1);
	WRITE_ONCE(stack->popped, stack->popped + 1);
	return true;
}

/*
 * Hints of @ring that ksmd has not taken yet, by the drain's walk; not a
 * slot being written at the top (or the unwritten top of an empty ring).
 */
static unsigned long ksm_hint_ring_pending(struct ksm_hint_stack *stack,
					   struct ksm_hint_ring *ring)
{
	struct ksm_hint_drain d = { .ring = ring };

	ksm_hint_ring_scan(stack, &d);
	return d.nr;
}

/**
 * ksm_hint_stack_stats() - sum the counters of a stack's rings
 * @stack: the stack
 * @stats: the sums; exact when nobody pushes or pops concurrently
 */
void ksm_hint_stack_stats(struct ksm_hint_stack *stack,
			  struct ksm_hint_stack_stats *stats)
{
	unsigned int i;

	memset(stats, 0, sizeof(*stats));
	for (i = 0; i < stack->nr_rings; i++) {
		struct ksm_hint_ring *ring = stack->drain[i].ring;
		/*
		 * Counters of another CPU, exact only when quiet; coalesced
		 * first: a push counts in gen first.
		 */
		unsigned long coalesced = data_race(ring->coalesced);
		unsigned long pending, kept, gen;

		smp_rmb();	/* pairs with the push's release */
		gen = data_race(ring->gen);
		pending = ksm_hint_ring_pending(stack, ring);
		kept = READ_ONCE(ring->taken) + pending;
		stats->recorded += gen;
		stats->coalesced += coalesced;
		stats->held += pending;
		/* Slots taken less the hints ksmd took or will. */
		if (gen >= coalesced && gen - coalesced > kept)
			stats->overwritten += gen - coalesced - kept;
	}
	stats->overwritten += READ_ONCE(stack->dropped);
	stats->popped = READ_ONCE(stack->popped);
	stats->held += READ_ONCE(stack->count);
}

static void ksm_hint_stats_add(struct ksm_hint_stack_stats *sum,
			       const struct ksm_hint_stack_stats *add)
{
	sum->recorded += add->recorded;
	sum->coalesced += add->coalesced;
	sum->overwritten += add->overwritten;
	sum->popped += add->popped;
	sum->held += add->held;
}

/*
 * Producer
 */

/*
 * A run of contiguous user memory being collected from the segments of a
 * read, pushed as one hint when the next segment does not continue it.
 */
struct ksm_hint_span {
	unsigned long start;
	unsigned long len;
};

/*
 * Disable preemption, which keeps the task on its ring for the pushes and
 * is the RCU read side of ksm_hints (ksm_hints_replace_stack() frees a
 * stack after synchronize_rcu(), which waits for preemption-disabled
 * regions too): cheaper than rcu_read_lock() on PREEMPT_RCU, where the
 * push would disable preemption a second time.  The caller pushes to the
 * stack returned, if not NULL, then calls preempt_enable().
 */
static __always_inline struct ksm_hint_stack *ksm_hint_push_begin(void)
{
	preempt_disable();
	return rcu_dereference_sched(ksm_hints);
}

static __always_inline void ksm_hint_push_span(struct ksm_hint_stack *stack,
					       struct mm_struct *mm,
					       const struct ksm_hint_span *span)
{
	unsigned long first, last;

	if (!span->len || span->start + span->len < span->start)
		return;
	first = span->start >> PAGE_SHIFT;
	last = (span->start + span->len - 1) >> PAGE_SHIFT;
	__ksm_hint_stack_push(stack, mm, first << PAGE_SHIFT, last - first + 1);
}

/*
 * Call @fn for each run of contiguous memory among the first @bytes of a
 * user-backed @iter, from where @iter currently stands.  Returns how many
 * runs there were.  Other iterator types hold no user addresses.
 */
static unsigned int ksm_hint_walk_iter(const struct iov_iter *iter,
				       size_t bytes,
				       void (*fn)(const struct ksm_hint_span *,
						  void *),
				       void *arg)
{
	struct ksm_hint_span span = {};
	const struct iovec *vec;
	unsigned int runs = 0;
	size_t skip, len;
	unsigned long seg;

	if (!user_backed_iter(iter))
		return 0;
	bytes = min(bytes, iov_iter_count(iter));
	vec = iter_iov(iter);
	skip = iter->iov_offset;
	for (seg = 0; bytes && (iter_is_ubuf(iter) || seg < iter->nr_segs);
	     seg++) {
		unsigned long base = (unsigned long)vec[seg].iov_base + skip;

		len = iter_is_ubuf(iter) ? bytes :
		      min(vec[seg].iov_len - skip, bytes);
		skip = 0;
		if (!len)
			continue;
		bytes -= len;
		if (span.len && span.start + span.len == base) {
			span.len += len;
			continue;
		}
		if (span.len) {
			fn(&span, arg);
			runs++;
		}
		span.start = base;
		span.len = len;
	}
	if (span.len) {
		fn(&span, arg);
		runs++;
	}
	return runs;
}

struct ksm_hint_push_arg {
	struct ksm_hint_stack *stack;
	struct mm_struct *mm;
};

static void ksm_hint_push_fn(const struct ksm_hint_span *span, void *data)
{
	struct ksm_hint_push_arg *arg = data;

	ksm_hint_push_span(arg->stack, arg->mm, span);
}

static void ksm_hint_stack_push_iter(struct ksm_hint_stack *stack,
				     struct mm_struct *mm,
				     const struct iov_iter *iter, size_t bytes)
{
	struct ksm_hint_push_arg arg = { .stack = stack, .mm = mm };

	/* At most UIO_MAXIOV segments, with preemption off. */
	ksm_hint_walk_iter(iter, bytes, ksm_hint_push_fn, &arg);
}

/**
 * __ksm_hint_range() - record that a read filled user memory
 * @mm: address space of the memory
 * @start: user address of the first byte
 * @len: bytes read
 *
 * Called through ksm_hint_range() once the caller has seen that hints are
 * on and @mm has mergeable areas.  Any context.
 */
void __ksm_hint_range(struct mm_struct *mm, unsigned long start, size_t len)
{
	struct ksm_hint_span span = { .start = start, .len = len };
	struct ksm_hint_stack *stack;

	stack = ksm_hint_push_begin();
	if (stack)
		ksm_hint_push_span(stack, mm, &span);
	preempt_enable();
}

/**
 * __ksm_hint_iter() - record that a read filled the memory of an iterator
 * @mm: address space of the memory
 * @iter: user-backed iterator as it stood before the read
 * @bytes: bytes read
 *
 * Called through ksm_hint_iter().  Any context.
 */
void __ksm_hint_iter(struct mm_struct *mm, const struct iov_iter *iter,
		     size_t bytes)
{
	struct ksm_hint_stack *stack;

	stack = ksm_hint_push_begin();
	if (stack)
		ksm_hint_stack_push_iter(stack, mm, iter, bytes);
	preempt_enable();
}

/**
 * struct ksm_hint_batch - the memory of a read that completes later
 * @mm: address space of the memory
 * @nr: number of spans
 * @spans: contiguous runs of the read's memory, in iterator order
 */
struct ksm_hint_batch {
	struct mm_struct *mm;
	unsigned int nr;
	struct ksm_hint_span spans[] __counted_by(nr);
};

struct ksm_hint_fill_arg {
	struct ksm_hint_batch *batch;
	unsigned int next;
};

static void ksm_hint_batch_fill(const struct ksm_hint_span *span, void *data)
{
	struct ksm_hint_fill_arg *arg = data;

	if (!WARN_ON_ONCE(arg->next >= arg->batch->nr))
		arg->batch->spans[arg->next++] = *span;
}

static void ksm_hint_count_fn(const struct ksm_hint_span *span, void *data)
{
}

/**
 * __ksm_hint_batch_alloc() - remember the memory of an asynchronous read
 * @mm: address space of the memory
 * @iter: user-backed iterator as it stands before the read is issued
 * @gfp: allocation flags
 *
 * Asynchronous reads (Linux AIO, O_DIRECT) complete after the iterator
 * and its iovec array are gone.  The batch keeps the read's memory until
 * ksm_hint_batch_complete() pushes the part that was read.
 *
 * Return: the batch, or NULL if @iter holds no user memory or memory ran
 * out (the read then simply leaves no hint).
 */
struct ksm_hint_batch *__ksm_hint_batch_alloc(struct mm_struct *mm,
					      const struct iov_iter *iter,
					      gfp_t gfp)
{
	struct ksm_hint_fill_arg arg = {};
	struct ksm_hint_batch *batch;
	unsigned int runs;

	runs = ksm_hint_walk_iter(iter, SIZE_MAX, ksm_hint_count_fn, NULL);
	if (!runs)
		return NULL;
	batch = kmalloc(struct_size(batch, spans, runs), gfp | __GFP_NOWARN);
	if (!batch)
		return NULL;
	batch->mm = mm;
	batch->nr = runs;
	arg.batch = batch;
	ksm_hint_walk_iter(iter, SIZE_MAX, ksm_hint_batch_fill, &arg);
	return batch;
}

/**
 * ksm_hint_batch_complete() - record an asynchronous read and free its batch
 * @batch: from __ksm_hint_batch_alloc(), or NULL
 * @res: bytes the read returned, or a negative error
 *
 * Pushes the first @res bytes of the batch's memory.  Any context,
 * including the interrupt that completes the I/O.
 */
void ksm_hint_batch_complete(struct ksm_hint_batch *batch, long res)
{
	struct ksm_hint_stack *stack;
	unsigned int i;

	if (!batch)
		return;
	stack = ksm_hint_push_begin();
	for (i = 0; stack && res > 0 && i < batch->nr; i++) {
		struct ksm_hint_span span = batch->spans[i];

		span.len = min_t(unsigned long, span.len, res);
		ksm_hint_push_span(stack, batch->mm, &span);
		res -= span.len;
	}
	preempt_enable();
	kfree(batch);
}

/*
 * Rmap_item index
 */

/*
 * An index that ran out of memory is built again only this much later: at
 * its memory cgroup's limit every hint into the mm would rebuild it.
 */
#define KSM_HINT_INDEX_RETRY	HZ

/**
 * ksm_hint_index_start() - start an empty index
 * @index: index that is not ready
 * @mm: the mm of the mm_slot: its memory cgroup is charged for the index
 *
 * The caller then adds every rmap_item of the mm_slot.
 *
 * Return: true; false, with nothing done, within KSM_HINT_INDEX_RETRY of
 * the index running out of memory.
 */
bool ksm_hint_index_start(struct ksm_hint_index *index, struct mm_struct *mm)
{
	if (index->failed &&
	    time_before(jiffies, index->failed_at + KSM_HINT_INDEX_RETRY))
		return false;
	index->failed = false;
	mt_init(&index->tree);
	index->mm = mm;
	index->ready = true;
	return true;
}

/* Forget the whole index: memory ran out while it was changed. */
static void ksm_hint_index_failed(struct ksm_hint_index *index)
{
	ksm_hint_index_destroy(index);
	index->failed = true;
	index->failed_at = jiffies;
}

/*
 * Store @item at @addr's page; the nodes are charged to index->mm's memcg.
 * mtree_store() would first try to allocate them with a GFP_NOWAIT of its
 * own, not charged: preallocate them here under the tree's lock, charged
 * and without waiting (KSM_CHARGE_GFP).  If that fails the store fails:
 * an uncharged retry would let a tenant at its limit escape it.
 */
static int ksm_hint_index_store(struct ksm_hint_index *index,
				unsigned long addr, void *item)
{
	MA_STATE(mas, &index->tree, addr >> PAGE_SHIFT, addr >> PAGE_SHIFT);
	struct ksm_charge charge;
	int err;

	ksm_charge_begin(&charge, index->mm);
	mtree_lock(&index->tree);
	err = mas_preallocate(&mas, item, KSM_CHARGE_GFP);
	if (!err)
		mas_store_prealloc(&mas, item);
	mtree_unlock(&index->tree);
	ksm_charge_end(&charge);
	return err;
}

/**
 * ksm_hint_index_add() - index an rmap_item
 * @index: the index; nothing happens unless it is ready
 * @addr: page-aligned address of the item
 * @item: the rmap_item
 *
 * If memory runs out, or the memory cgroup of the index's mm is at its
 * limit, the index is destroyed: it is rebuilt when a hint needs it,
 * KSM_HINT_INDEX_RETRY later at the earliest.
 *
 * Return: 0, or -ENOMEM if the index had to be destroyed.
 */
int ksm_hint_index_add(struct ksm_hint_index *index, unsigned long addr,
		       void *item)
{
	int err;

	if (!index->ready)
		return 0;
	err = ksm_hint_index_store(index, addr, item);
	if (err)
		ksm_hint_index_failed(index);
	return err;
}

/**
 * ksm_hint_index_del() - forget the rmap_item at an address
 * @index: the index; nothing happens unless it is ready
 * @addr: address of the item; flags in the low bits are ignored
 *
 * If memory runs out, the index is destroyed instead (and is not ready).
 */
void ksm_hint_index_del(struct ksm_hint_index *index, unsigned long addr)
{
	/*
	 * Erasing from a maple tree may need memory.  mtree_erase() gives up
	 * silently when it gets none, and the index would keep the item the
	 * caller is about to free: store NULL, which says so, and forget the
	 * whole index if it fails.
	 */
	if (index->ready && ksm_hint_index_store(index, addr, NULL))
		ksm_hint_index_failed(index);
}

/**
 * ksm_hint_index_destroy() - free an index; it is then not ready
 * @index: the index
 */
void ksm_hint_index_destroy(struct ksm_hint_index *index)
{
	if (!index->ready)
		return;
	mtree_destroy(&index->tree);
	index->ready = false;
}

/**
 * ksm_hint_index_find() - look up the rmap_item of an address
 * @index: a ready index
 * @addr: page-aligned address
 * @prev: if no item is at @addr, set to the item with the highest
 *        address below @addr, or NULL if there is none
 *
 * Return: the item at @addr, or NULL.
 */
void *ksm_hint_index_find(struct ksm_hint_index *index, unsigned long addr,
			  void **prev)
{
	unsigned long i = addr >> PAGE_SHIFT;
	void *item;

	item = mtree_load(&index->tree, i);
	if (!item)
		*prev = i ? mt_prev(&index->tree, i, 0) : NULL;
	return item;
}

/*
 * Consumer
 */

/* The hint ksmd is working through; ksmd only (ksm_thread_mutex). */
static struct ksm_hint ksm_hint_cursor;

/*
 * The hint in ksm_hint_cursor may wait for a page in a per-cpu LRU batch
 * (ksm_scan_hint()) until the batches may be drained again (every
 * KSM_HINTS_DRAIN_INTERVAL, below), and at most KSM_HINT_DEFER_TIME after
 * it first waited, whatever ksmd's sleep: a page off the LRU for another
 * reason is then visited, not merged, rather than hold up every hint
 * behind it.  ksm_hint_deferred: it waited; ksm_hint_deferred_at: since.
 */
#define KSM_HINT_DEFER_TIME	(2 * KSM_HINTS_DRAIN_INTERVAL)
static bool ksm_hint_deferred;
static unsigned long ksm_hint_deferred_at;

/**
 * ksm_hints_forget() - drop the hint in progress and what hints yielded
 *
 * Hints start with their full share and credit when turned on again.
 * Called with ksm_thread_mutex held, as ksmd's batches are.
 */
void ksm_hints_forget(void)
{
	ksm_hint_cursor.nr_pages = 0;
	ksm_hint_deferred = false;
	ksm_hints_yield = KSM_HINTS_YIELD_ONE;
	ksm_hints_credit = KSM_HINTS_CREDIT_MAX;
}

/*
 * A page a read faulted in may still sit in the per-cpu LRU batch of the
 * reader's CPU, whose reference stops write_protect_page() from merging
 * it; ksm_scan_hint() then drains every CPU's batches, which queues work
 * on every CPU that has pages batched.  Upstream KSM drains once per full
 * scan; hints, which any process reading into mergeable memory makes, may
 * drain at most once per KSM_HINTS_DRAIN_INTERVAL, whatever the scan rate.
 */
#define KSM_HINTS_DRAIN_INTERVAL	(HZ / 10)

/* jiffies of the last drain; due at once after boot */
static unsigned long ksm_hints_drained_at = INITIAL_JIFFIES -
					    KSM_HINTS_DRAIN_INTERVAL;

/* May ksmd drain the LRU batches at @now, the last drain at @last? */
static bool ksm_hints_drain_due(unsigned long last, unsigned long now)
{
	/* An unsigned difference stays right when jiffies wrap. */
	return now - last >= KSM_HINTS_DRAIN_INTERVAL;
}

/*
 * The pages hints may have in a batch of @pages_to_scan: up to
 * io_hints_scan_percent of it, in proportion to what they yield (twice
 * the merged pages per visited page gets all of it), and at least one,
 * so that hints that start to yield are noticed; never more than @credit
 * holds, so none while it holds less than a page.
 */
static unsigned long ksm_hints_budget(unsigned int pages_to_scan,
				      unsigned int percent, unsigned int yield,
				      long credit)
{
	u64 most = div_u64((u64)pages_to_scan * percent, 100);

	if (!percent || credit < KSM_HINTS_CREDIT_SCALE)
		return 0;
	most = div_u64(most * min(2 * yield, KSM_HINTS_YIELD_ONE),
		       KSM_HINTS_YIELD_ONE);
	most = min_t(u64, most, credit / KSM_HINTS_CREDIT_SCALE);
	return max_t(u64, most, 1);
}

/*
 * The average yield after a batch that visited @visited and merged
 * @merged.  Good news counts in full (1/8 of the way to the batch's
 * yield); bad news from fewer than 32 visited pages counts in proportion,
 * so that a few one-page visits that miss do not undo what full batches
 * found, while full batches that merge nothing bring it down to 0.
 */
static unsigned int ksm_hints_next_yield(unsigned int yield,
					 unsigned long visited,
					 unsigned long merged)
{
	unsigned int sample, weight;

	if (!visited)
		return yield;
	sample = div64_ul((u64)min(merged, visited) * KSM_HINTS_YIELD_ONE,
			  visited);
	if (sample >= yield)
		return yield + DIV_ROUND_UP(sample - yield, 8);
	weight = min(visited, 32UL);
	return yield - DIV_ROUND_UP((yield - sample) * weight, 8 * 32);
}

/*
 * The pages of @fresh first copies that hints do not pay for at @yield:
 * all of them when every other visit merges, none below half that.  While
 * hints merge, a first copy is the start of a merge; while they do not, it
 * is a miss like any other.
 */
static unsigned long ksm_hints_free(unsigned long fresh, unsigned int yield)
{
	unsigned int over = 2 * min(yield, KSM_HINTS_YIELD_ONE);

	if (over <= KSM_HINTS_YIELD_ONE)
		return 0;
	return div64_ul((u64)fresh * (over - KSM_HINTS_YIELD_ONE),
			KSM_HINTS_YIELD_ONE);
}

/*
 * The credit after a batch of @pages_to_scan linear pages in which hints
 * used @used pages (visited or stale), @free of them unpaid, and merged
 * @merged: hints that merge nothing spend one page per
 * KSM_HINTS_CREDIT_SCALE of the linear scan's, after a first 2048 pages;
 * hints that merge one page in two pay their way.
 */
static long ksm_hints_next_credit(long credit, unsigned int pages_to_scan,
				  unsigned long used, unsigned long merged,
				  unsigned long free)
{
	s64 next = (s64)credit + pages_to_scan;

	next += ((s64)2 * merged + (s64)min(free, used) - (s64)used) *
		KSM_HINTS_CREDIT_SCALE;
	return clamp_t(s64, next, 0, KSM_HINTS_CREDIT_MAX);
}

/**
 * ksm_hints_scan() - visit hinted pages in a ksmd batch
 * @pages_to_scan: the pages of the batch, all of them the linear scan's
 *
 * Visits the newest hints first, on top of the linear scan's
 * @pages_to_scan, for at most ksm_hints_budget() pages: hints that merge
 * nothing cost one page in KSM_HINTS_CREDIT_SCALE of the linear scan's,
 * not its pace.  A stale hint counts one page.
 * Called by ksmd with ksm_thread_mutex held.
 */
void ksm_hints_scan(unsigned int pages_to_scan)
{
	unsigned long budget, used = 0, visited_all = 0, merged_all = 0;
	unsigned long fresh_all = 0;
	struct ksm_hint_stack *stack;
	bool drained, may_drain;

	if (!static_branch_unlikely(&ksm_hints_key))
		return;
	/* "drained" tells ksm_scan_hint() not to drain (again). */
	may_drain = ksm_hints_drain_due(ksm_hints_drained_at, jiffies);
	drained = !may_drain;
	budget = ksm_hints_budget(pages_to_scan,
				  READ_ONCE(ksm_hints_scan_percent),
				  ksm_hints_yield, ksm_hints_credit);
	while (used < budget) {
		unsigned long merged = 0, fresh = 0;
		bool defer;
		long visited;

		if (!ksm_hint_cursor.nr_pages) {
			bool popped = false;

			ksm_hint_deferred = false;
			rcu_read_lock();
			stack = rcu_dereference(ksm_hints);
			if (stack)
				popped = ksm_hint_stack_pop(stack,
							    &ksm_hint_cursor);
			rcu_read_unlock();
			if (!popped)
				break;
		}
		defer = !ksm_hint_deferred ||
			time_before(jiffies, ksm_hint_deferred_at +
					     KSM_HINT_DEFER_TIME);
		visited = ksm_scan_hint(ksm_hint_cursor.mm,
					ksm_hint_cursor.start,
					min(ksm_hint_cursor.nr_pages,
					    budget - used), &merged, &fresh,
					&drained, &defer);
		if (defer) {
			/*
			 * A page that cannot be merged yet: the rest of the
			 * hint waits for the next batch.
			 */
			if (!ksm_hint_deferred) {
				ksm_hint_deferred = true;
				ksm_hint_deferred_at = jiffies;
			}
			visited_all += visited;
			merged_all += merged;
			fresh_all += fresh;
			ksm_hint_cursor.start += visited << PAGE_SHIFT;
			ksm_hint_cursor.nr_pages -= visited;
			used += visited;
			break;
		}
		if (visited <= 0) {
			ksm_hints_stale++;
			ksm_hint_cursor.nr_pages = 0;
			used++;
			continue;
		}
		visited_all += visited;
		merged_all += merged;
		fresh_all += fresh;
		ksm_hint_cursor.start += visited << PAGE_SHIFT;
		ksm_hint_cursor.nr_pages -= visited;
		used += visited;
	}
	ksm_hints_pages_visited += visited_all;
	ksm_hints_pages_merged += merged_all;
	/*
	 * First copies are not failures: they may merge with the next; they
	 * cost credit unless the other visits merge.
	 */
	ksm_hints_credit = ksm_hints_next_credit(ksm_hints_credit,
						 pages_to_scan, used,
						 merged_all,
						 ksm_hints_free(fresh_all,
								ksm_hints_yield));
	ksm_hints_yield = ksm_hints_next_yield(ksm_hints_yield,
					       visited_all - fresh_all,
					       merged_all);
	if (may_drain && drained)
		ksm_hints_drained_at = jiffies;
}

/*
 * First-visit merges that break
 *
 * A hinted page is merged at its first visit, without the linear scan's
 * proof that it stays unchanged (the same checksum at two visits): it was
 * just filled by a read.  A process that refills its buffer right after
 * each read breaks such merges at once by copy-on-write, which costs it a
 * fault and a copy per page.  ksmd counts, per mm, hinted pages merged at
 * their first visit and those found no longer merged at their next visit;
 * while one in KSM_HINT_BROKEN_SHARE or more broke (and at least
 * KSM_HINT_BROKEN_MIN), the mm's hinted pages get the two-visit rule too.
 */
#define KSM_HINT_BROKEN_MIN	8
#define KSM_HINT_BROKEN_SHARE	4

/*
 * Halve both counts once per full scan since they were last halved (all
 * of them after writing 2 to run, which resets the count of full scans).
 */
static void ksm_hint_yield_decay(struct ksm_hint_yield *yield,
				 unsigned long seqnr)
{
	unsigned long scans = seqnr - yield->seqnr;

	if (!scans)
		return;
	scans = min(scans, 16UL);
	yield->merged >>= scans;
	yield->broken >>= scans;
	yield->seqnr = seqnr;
}

static bool ksm_hint_breaking(const struct ksm_hint_yield *yield)
{
	return yield->broken >= KSM_HINT_BROKEN_MIN &&
	       yield->broken * KSM_HINT_BROKEN_SHARE >= yield->merged;
}

/**
 * ksm_hint_first_visit() - may an mm's hinted pages merge at their first visit?
 * @yield: what that gave in the mm so far
 * @seqnr: ksmd's full-scan count
 *
 * Return: false while too many of the mm's first-visit merges broke.
 */
bool ksm_hint_first_visit(struct ksm_hint_yield *yield, unsigned long seqnr)
{
	ksm_hint_yield_decay(yield, seqnr);
	return !ksm_hint_breaking(yield);
}

/**
 * ksm_hint_merged_first() - count a hinted page merged at its first visit
 * @yield: of the page's mm
 * @seqnr: ksmd's full-scan count
 */
void ksm_hint_merged_first(struct ksm_hint_yield *yield, unsigned long seqnr)
{
	ksm_hint_yield_decay(yield, seqnr);
	if (yield->merged < U16_MAX)
		yield->merged++;
}

/* Count a broken merge in @yield; true if the mm falls back just now. */
static bool ksm_hint_yield_broken(struct ksm_hint_yield *yield,
				  unsigned long seqnr)
{
	bool was;

	ksm_hint_yield_decay(yield, seqnr);
	was = ksm_hint_breaking(yield);
	if (yield->broken < U16_MAX)
		yield->broken++;
	return !was && ksm_hint_breaking(yield);
}

/**
 * ksm_hint_merge_broken() - count a first-visit merge found broken
 * @yield: of the page's mm
 * @seqnr: ksmd's full-scan count
 */
void ksm_hint_merge_broken(struct ksm_hint_yield *yield, unsigned long seqnr)
{
	ksm_hints_merges_broken++;
	if (ksm_hint_yield_broken(yield, seqnr))
		ksm_hints_fallbacks++;
}

/*
 * Sysfs
 */

#ifdef CONFIG_SYSFS

/* Counters of the current stack plus those of the stacks freed before. */
static void ksm_hints_stats(struct ksm_hint_stack_stats *stats)
{
	struct ksm_hint_stack_stats cur = {};
	struct ksm_hint_stack *stack;

	mutex_lock(&ksm_hints_knob_mutex);
	*stats = ksm_hints_retired;
	stack = rcu_dereference_protected(ksm_hints,
					  lockdep_is_held(&ksm_hints_knob_mutex));
	if (stack)
		ksm_hint_stack_stats(stack, &cur);
	mutex_unlock(&ksm_hints_knob_mutex);
	ksm_hint_stats_add(stats, &cur);
}

/*
 * Replace the stack by @stack (may be NULL) and free the old one once no
 * reader can see it.  Hints it still held count as overwritten.
 */
static void ksm_hints_replace_stack(struct ksm_hint_stack *stack)
{
	struct ksm_hint_stack_stats old_stats;
	struct ksm_hint_stack *old;

	lockdep_assert_held(&ksm_hints_knob_mutex);
	old = rcu_replace_pointer(ksm_hints, stack,
				  lockdep_is_held(&ksm_hints_knob_mutex));
	if (!old)
		return;
	/* Waits for the pushes too: they run with preemption disabled. */
	synchronize_rcu();
	ksm_hint_stack_stats(old, &old_stats);
	old_stats.overwritten += old_stats.held;
	old_stats.held = 0;
	ksm_hint_stats_add(&ksm_hints_retired, &old_stats);
	ksm_hint_stack_free(old);
}

/* Allocate a stack of @capacity hints and put it in place of the old one. */
static int ksm_hints_new_stack(unsigned int capacity)
{
	struct ksm_hint_stack *stack = ksm_hint_stack_alloc(capacity);

	if (!stack)
		return -ENOMEM;
	ksm_hints_replace_stack(stack);
	return 0;
}

#define KSM_HINTS_ATTR_RO(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RO(_name)
#define KSM_HINTS_ATTR(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RW(_name)

static ssize_t io_hints_show(struct kobject *kobj,
			     struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  static_key_enabled(&ksm_hints_key) ? 1 : 0);
}

static ssize_t io_hints_store(struct kobject *kobj,
			      struct kobj_attribute *attr,
			      const char *buf, size_t count)
{
	unsigned int enable;
	int err = 0;

	if (kstrtouint(buf, 10, &enable) || enable > 1)
		return -EINVAL;

	mutex_lock(&ksm_hints_knob_mutex);
	if (enable && !static_key_enabled(&ksm_hints_key)) {
		err = ksm_hints_new_stack(ksm_hints_capacity);
		if (!err)
			static_branch_enable(&ksm_hints_key);
	} else if (!enable && static_key_enabled(&ksm_hints_key)) {
		static_branch_disable(&ksm_hints_key);
		ksm_hints_quiesce();
		ksm_hints_replace_stack(NULL);
	}
	mutex_unlock(&ksm_hints_knob_mutex);
	return err ?: count;
}
KSM_HINTS_ATTR(io_hints);

static ssize_t io_hints_capacity_show(struct kobject *kobj,
				      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_hints_capacity));
}

static ssize_t io_hints_capacity_store(struct kobject *kobj,
				       struct kobj_attribute *attr,
				       const char *buf, size_t count)
{
	unsigned int capacity;
	int err = 0;

	if (kstrtouint(buf, 10, &capacity) ||
	    capacity < KSM_HINTS_CAPACITY_MIN ||
	    capacity > KSM_HINTS_CAPACITY_MAX)
		return -EINVAL;

	mutex_lock(&ksm_hints_knob_mutex);
	if (capacity != ksm_hints_capacity &&
	    static_key_enabled(&ksm_hints_key))
		err = ksm_hints_new_stack(capacity);
	if (!err)
		WRITE_ONCE(ksm_hints_capacity, capacity);
	mutex_unlock(&ksm_hints_knob_mutex);
	return err ?: count;
}
KSM_HINTS_ATTR(io_hints_capacity);

static ssize_t io_hints_scan_percent_show(struct kobject *kobj,
					  struct kobj_attribute *attr,
					  char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_hints_scan_percent));
}

static ssize_t io_hints_scan_percent_store(struct kobject *kobj,
					   struct kobj_attribute *attr,
					   const char *buf, size_t count)
{
	unsigned int percent;

	if (kstrtouint(buf, 10, &percent) ||
	    percent > KSM_HINTS_SCAN_PERCENT_MAX)
		return -EINVAL;
	WRITE_ONCE(ksm_hints_scan_percent, percent);
	return count;
}
KSM_HINTS_ATTR(io_hints_scan_percent);

#define KSM_HINTS_STAT(_name, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	struct ksm_hint_stack_stats stats;				\
									\
	ksm_hints_stats(&stats);					\
	return sysfs_emit(buf, "%lu\n", _expr);				\
}									\
KSM_HINTS_ATTR_RO(_name)

KSM_HINTS_STAT(io_hints_recorded, stats.recorded);
KSM_HINTS_STAT(io_hints_coalesced, stats.coalesced);
KSM_HINTS_STAT(io_hints_overwritten, stats.overwritten);
KSM_HINTS_STAT(io_hints_pending, stats.held);

#define KSM_HINTS_COUNTER(_name, _var)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lu\n", READ_ONCE(_var));		\
}									\
KSM_HINTS_ATTR_RO(_name)

KSM_HINTS_COUNTER(io_hints_stale, ksm_hints_stale);
KSM_HINTS_COUNTER(io_hints_pages_visited, ksm_hints_pages_visited);
KSM_HINTS_COUNTER(io_hints_pages_merged, ksm_hints_pages_merged);
KSM_HINTS_COUNTER(io_hints_merges_broken, ksm_hints_merges_broken);
KSM_HINTS_COUNTER(io_hints_fallbacks, ksm_hints_fallbacks);

static struct attribute *ksm_hints_attrs[] = {
	&io_hints_attr.attr,
	&io_hints_capacity_attr.attr,
	&io_hints_scan_percent_attr.attr,
	&io_hints_recorded_attr.attr,
	&io_hints_coalesced_attr.attr,
	&io_hints_overwritten_attr.attr,
	&io_hints_pending_attr.attr,
	&io_hints_stale_attr.attr,
	&io_hints_pages_visited_attr.attr,
	&io_hints_pages_merged_attr.attr,
	&io_hints_merges_broken_attr.attr,
	&io_hints_fallbacks_attr.attr,
	NULL,
};

static const struct attribute_group ksm_hints_attr_group = {
	.attrs = ksm_hints_attrs,
	.name = "ksm",
};

/**
 * ksm_hints_init() - add the hint knobs to /sys/kernel/mm/ksm
 * @kobj: the kobject that holds the "ksm" group
 *
 * Return: 0 or a negative error.
 */
int ksm_hints_init(struct kobject *kobj)
{
	return sysfs_merge_group(kobj, &ksm_hints_attr_group);
}
#else
int ksm_hints_init(struct kobject *kobj)
{
	return 0;
}
#endif /* CONFIG_SYSFS */

#ifdef CONFIG_KSM_HINTS_KUNIT_TEST
#include "tests/ksm_hints_kunit.h"
#endif
