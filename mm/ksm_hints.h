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
#include <linux/spinlock.h>
#include <linux/types.h>

struct kobject;
struct mm_struct;

/**
 * struct ksm_hint - one range of user memory that a read has just written
 * @mm: the address space; not referenced: ksmd validates it before use
 * @start: page-aligned user address of the first page
 * @nr_pages: number of pages in the range
 * @stamp: local_clock() of the last push that created or grew the hint
 */
struct ksm_hint {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long nr_pages;
	u64 stamp;
};

/**
 * struct ksm_hint_ring - the part of a hint stack owned by one CPU
 * @lock: serialises the pushes of this CPU with ksmd's pops; raw, as
 *        pushes come from hard interrupts (AIO completion), also on RT
 * @head: slot the next push writes; the newest hint is in the slot before
 * @count: hints held, at most the stack's @ring_size
 * @recorded: pushes accepted (coalesced or not)
 * @coalesced: pushes merged into the newest hint instead of taking a slot
 * @overwritten: oldest hints lost because the ring was full
 * @popped: hints taken by the consumer
 * @slots: @ring_size hints
 *
 * A push overwrites the oldest hint when the ring is full, so that
 * recorded == coalesced + overwritten + popped + count at all times.
 */
struct ksm_hint_ring {
	raw_spinlock_t lock;	/* see above */
	unsigned int head;
	unsigned int count;
	unsigned long recorded;
	unsigned long coalesced;
	unsigned long overwritten;
	unsigned long popped;
	struct ksm_hint *slots;
};

/**
 * struct ksm_hint_stack - bounded stack of hints, one ring per CPU
 * @rings: per-CPU rings; a push only takes the lock of its own CPU's ring
 * @ring_size: hints per ring
 *
 * Per-CPU rings keep the read path free of shared cache lines; the
 * consumer pops from the ring whose newest hint is the newest overall.
 */
struct ksm_hint_stack {
	struct ksm_hint_ring __percpu *rings;
	unsigned int ring_size;
};

/**
 * struct ksm_hint_stack_stats - counters of a stack summed over its rings
 * @recorded: pushes accepted
 * @coalesced: pushes merged into the newest hint of their ring
 * @overwritten: hints lost to newer ones
 * @popped: hints taken by the consumer
 * @held: hints currently held
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
	bool ready;
};

void ksm_hint_index_start(struct ksm_hint_index *index);
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
		   unsigned long nr_pages, unsigned long *merged, bool *drained);
void ksm_hints_quiesce(void);

/*
 * Provided by mm/ksm_hints.c for ksmd.
 */
int ksm_hints_init(struct kobject *kobj);
void ksm_hints_scan(unsigned int pages_to_scan);
void ksm_hints_forget_cursor(void);

#endif /* _MM_KSM_HINTS_H */
