/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KSM I/O hints: internal interface between mm/ksm.c and mm/ksm_hints.c.
 *
 * Reads that land in mergeable memory push (mm, start, nr_pages) hints on a
 * bounded stack; ksmd pops the newest hints first and visits those pages
 * before its linear scan would reach them.  See the "I/O hints" section of
 * Documentation/admin-guide/mm/ksm.rst.
 */
#ifndef _MM_KSM_HINTS_H
#define _MM_KSM_HINTS_H

#include <linux/maple_tree.h>
#include <linux/cache.h>
#include <linux/types.h>

struct kobject;
struct mm_struct;

/**
 * struct ksm_hint - one range of user memory that a read has just written
 * @mm: the address space; not referenced: ksmd validates it before use
 * @start: page-aligned user address of the first page
 * @nr_pages: number of pages in the range
 */
struct ksm_hint {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long nr_pages;
};

/**
 * struct ksm_hint_slot - a hint in a CPU's ring
 * @gen: generation of the write that filled the slot (from the ring's
 *       @gen); 0 while the producer writes the slot, or before the first
 * @hint: the hint
 *
 * The producer writes @gen 0, then @hint, then the new generation; the
 * consumer reads @gen, @hint and @gen again and keeps the copy only if
 * both reads of @gen are equal and not 0, as with a seqcount.
 */
struct ksm_hint_slot {
	unsigned long gen;
	struct ksm_hint hint;
};

/**
 * struct ksm_hint_ring - the part of a hint stack owned by one CPU context
 * @gen: writes to the ring's slots so far, the newest one's generation:
 *       each push writes once, a new slot or a grown hint
 * @head: slots taken so far; slot @head modulo @ring_size is the next,
 *        the newest hint is in the one before
 * @coalesced: pushes merged into the newest hint instead of taking a slot
 * @slots: the stack's @ring_size slots
 * @drained: newest generation ksmd has taken: slots of generations up to
 *           @drained were taken (or lost), newer ones are pending
 * @taken: hints ksmd took from the ring
 *
 * The producer is the owning CPU in one context: each CPU has a ring for
 * tasks, one for softirqs and one for hard interrupts (AIO completions
 * push from interrupts), so a push that interrupts another never shares
 * its ring, and a push needs neither interrupts off nor a lock nor an
 * atomic instruction, only preemption off.  It writes @gen, @head,
 * @coalesced and @slots; ksmd writes @drained and @taken, on a cache
 * line of their own.  Generations grow from the oldest slot to the
 * newest, which lets ksmd take the new hints of a ring newest first and
 * stop at the first it took before.  Hints lost to a full ring are not
 * counted as they go, to keep the push short: they are the slots taken
 * (@gen - @coalesced) less those ksmd took or has yet to take.
 */
struct ksm_hint_ring {
	unsigned long gen;
	unsigned long head;
	unsigned long coalesced;
	struct ksm_hint_slot *slots;
	unsigned long drained ____cacheline_aligned_in_smp;
	unsigned long taken;
};

/* Contexts a read completes in: task, softirq, hard interrupt. */
#define KSM_HINT_CONTEXTS	3

/**
 * struct ksm_hint_cpu - the rings of one CPU
 * @ctx: a ring per context, indexed by interrupt_context_level()
 */
struct ksm_hint_cpu {
	struct ksm_hint_ring ctx[KSM_HINT_CONTEXTS];
};

/**
 * struct ksm_hint_drain - what a walk of one ring found: ksmd's when it
 * takes hints, or a statistics reader's own copy
 * @ring: the ring
 * @old: its @drained before
 * @head: its @head then
 * @newest: generation of its newest new hint, 0 if it had none
 * @skip: 1 if its newest slot was being grown (taken next time)
 * @nr: new hints, newest first from slot @head - 1 - @skip
 * @took: of those, hints taken (the others were rewritten meanwhile)
 */
struct ksm_hint_drain {
	struct ksm_hint_ring *ring;
	unsigned long old;
	unsigned long head;
	unsigned long newest;
	unsigned int skip;
	unsigned int nr;
	unsigned int took;
};

/**
 * struct ksm_hint_stack - bounded stack of hints: rings per CPU, and ksmd's
 * @rings: per-CPU rings; a push only stores to its own CPU's ring of its
 *         context
 * @ring_size: slots per ring, a power of two
 * @taken: ksmd's stack of @capacity hints taken from the rings, circular:
 *         the oldest is lost when a newer one does not fit
 * @capacity: hints @taken holds, @ring_size times the rings
 * @top: slot of @taken the next hint taken goes to
 * @count: hints in @taken
 * @popped: hints ksmd popped
 * @dropped: hints lost from @taken for lack of room
 * @drain: ksmd's notes on each ring while it takes hints; @drain[i].ring,
 *         set when the stack is allocated, also lists the rings for the
 *         statistics and for freeing
 * @nr_rings: rings, and entries of @drain
 *
 * Per-CPU rings keep the read path free of locks and of atomic
 * instructions; ksmd takes the new hints of every ring onto @taken, the
 * rings interleaved, each ring's newest first, each time it pops one.
 * Only ksmd (one task at a time) pops and touches @taken and writes the
 * rings' @drained; the statistics read them too.  A ring holds what its
 * CPU and context push between two of ksmd's batches: a burst from one
 * reader beyond the ring's size loses its oldest hints even while the
 * other rings are empty.
 */
struct ksm_hint_stack {
	struct ksm_hint_cpu __percpu *rings;
	unsigned int ring_size;
	struct ksm_hint *taken;
	unsigned int capacity;
	unsigned int top;
	unsigned int count;
	unsigned long popped;
	unsigned long dropped;
	struct ksm_hint_drain *drain;
	unsigned int nr_rings;
};

/**
 * struct ksm_hint_stack_stats - counters of a stack summed over its rings
 * @recorded: pushes accepted
 * @coalesced: pushes merged into the newest hint of their ring
 * @overwritten: hints lost to newer ones (in a ring or ksmd's stack)
 * @popped: hints taken by the consumer
 * @held: hints currently held (pending in a ring or on ksmd's stack)
 */
struct ksm_hint_stack_stats {
	unsigned long recorded;
	unsigned long coalesced;
	unsigned long overwritten;
	unsigned long popped;
	unsigned long held;
};

struct ksm_hint_stack *ksm_hint_stack_alloc(unsigned int capacity);
void ksm_hint_stack_free(struct ksm_hint_stack *stack);
void ksm_hint_stack_push(struct ksm_hint_stack *stack, struct mm_struct *mm,
			 unsigned long start, unsigned long nr_pages);
bool ksm_hint_stack_pop(struct ksm_hint_stack *stack, struct ksm_hint *hint);
void ksm_hint_stack_stats(struct ksm_hint_stack *stack,
			  struct ksm_hint_stack_stats *stats);

/**
 * struct ksm_hint_index - per-mm index of rmap_items by address
 * @tree: page index (address >> PAGE_SHIFT) to rmap_item
 * @mm: the mm whose memory cgroup the tree's nodes are charged to
 * @failed_at: jiffies when @tree last ran out of memory, if @failed
 * @failed: @tree ran out of memory (or its memory cgroup's limit)
 * @ready: @tree holds every rmap_item of the mm_slot
 *
 * ksmd builds the index of an mm_slot the first time a hint points into
 * it and keeps it in step with the mm_slot's rmap_list while hints are
 * enabled, so that a hinted address finds its rmap_item, or the item to
 * link a new one after, in O(log n) instead of walking the list.
 * It is only changed by ksmd or under ksm_thread_mutex, like the list.
 */
struct ksm_hint_index {
	struct maple_tree tree;
	struct mm_struct *mm;
	unsigned long failed_at;
	bool failed;
	bool ready;
};

bool ksm_hint_index_start(struct ksm_hint_index *index, struct mm_struct *mm);
int ksm_hint_index_add(struct ksm_hint_index *index, unsigned long addr,
		       void *item);
void ksm_hint_index_del(struct ksm_hint_index *index, unsigned long addr);
void ksm_hint_index_destroy(struct ksm_hint_index *index);
void *ksm_hint_index_find(struct ksm_hint_index *index, unsigned long addr,
			  void **prev);

/**
 * struct ksm_hint_yield - what first-visit merges of one mm's hinted pages gave
 * @merged: hinted pages merged at their first visit, decayed
 * @broken: of those, pages found no longer merged at their next visit
 *          (copy-on-write: a read refilled the buffer), decayed
 * @seqnr: ksmd's full-scan count when both were last halved
 *
 * Both are halved once per full scan, so an mm whose hinted merges stop
 * breaking gets first-visit merging back within a few full scans.
 * Changed by ksmd only.
 */
struct ksm_hint_yield {
	u16 merged;
	u16 broken;
	unsigned long seqnr;
};

bool ksm_hint_first_visit(struct ksm_hint_yield *yield, unsigned long seqnr);
void ksm_hint_merged_first(struct ksm_hint_yield *yield, unsigned long seqnr);
void ksm_hint_merge_broken(struct ksm_hint_yield *yield, unsigned long seqnr);

/*
 * Provided by mm/ksm.c for the consumer.
 */
long ksm_scan_hint(struct mm_struct *mm, unsigned long start,
		   unsigned long nr_pages, unsigned long *merged,
		   unsigned long *fresh, bool *drained, bool *defer);
void ksm_hints_quiesce(void);

/*
 * Provided by mm/ksm_hints.c for ksmd.
 */
int ksm_hints_init(struct kobject *kobj);
void ksm_hints_scan(unsigned int pages_to_scan);
void ksm_hints_forget(void);

#endif /* _MM_KSM_HINTS_H */
