// SPDX-License-Identifier: GPL-2.0
/*
 * KSM cold pages
 *
 * Pages that are similar to nothing still hold memory that a host running
 * many guests wants back.  The Difference Engine (Gupta et al., OSDI 2008)
 * finds the pages worth compressing with a not-recently-used clock: each
 * pass tests and clears the referenced bit of a page and sorts pages into
 * four classes - recently modified, not recently modified, not recently
 * accessed, not accessed for an extended period - and only the last class
 * is compressed.  Linux compresses anonymous memory only under memory
 * pressure (zswap); ksmd already visits every mergeable page once per full
 * scan, so it runs the clock as it goes and pushes cold pages that merged
 * with nothing through reclaim into zswap, as MADV_PAGEOUT and DAMON do,
 * before there is any pressure.
 *
 * Ages are counted in ticks of a clock of seconds and kept in two spare
 * bytes of the rmap_item: a page is cold when no visit saw it accessed for
 * nru_cold_secs, however fast or slow ksmd scans.  The clock ticks every
 * nru_cold_secs / 64 seconds (at least 1), and ticks are counted as
 * each ksmd batch starts, all those that passed at once; a page is cold
 * at one tick over nru_cold_secs, so that it was not seen used for at
 * least nru_cold_secs.  An age saturates at 127 ticks; a page not
 * visited for more than 255 ticks (smart_scan skips it, say, while a full
 * scan is slow) may be seen younger than it is, and is pushed later,
 * never sooner.  Accessed bits are only read at visits, so a page turns
 * cold at the first visit nru_cold_secs after the last one that saw it
 * accessed.
 *
 * A page is only pushed after it had its chance to merge: a visit that
 * found its checksum unchanged searched both trees for it and entered it
 * into the unstable tree, where every page visited later in that full
 * scan could find it; it may be pushed from its next visit on.  So pages
 * that are identical while they go cold merge before either is pushed;
 * a copy that appears only later (written after the push, or just before
 * the visit that pushes its twin) does not find a page that is out.  A
 * page pushed leaves ksmd's rmap_list, as a page that is unmapped does,
 * so pages_unshared and pages_volatile keep their meaning.
 *
 * Guest memory is mostly huge pages (QEMU asks for them with
 * MADV_HUGEPAGE), which zswap does not store.  The pages of a huge page
 * mapped by a PMD share its one accessed bit and age together; when they
 * are cold, the visit that pushes the first of them splits the huge page,
 * as KSM splits one to merge a page of it, and the others follow at their
 * visits.  A huge page in use is never split for this.
 *
 * Whether a page came back (a refault: it was accessed within the cold
 * threshold after the push) and which pages zswap refused (they compress
 * poorly; not retried until their content changes) is kept per mm in an
 * xarray, since the rmap_item of a page that left is freed; its nodes
 * are charged to the mm's memory cgroup (mm/ksm_charge.h).  When
 * more than 1 in KSM_COLD_REFAULT_RATIO pushed pages fault back in, ksmd
 * raises the cold threshold (backoff) and lowers it again once refaults
 * stop.
 *
 * Everything runs in ksmd under ksm_thread_mutex, except the sysfs knobs
 * and ksm_cold_slot_destroy() from __ksm_exit().
 *
 * Lock order:
 *   ksm_cold_knob_mutex
 *     ksm_thread_mutex (mm/ksm.c)
 *       mmap_lock
 *         page table lock (ksm_nru_young_pmd())
 *           mmu notifiers' clear_young (ksm_nru_huge_young())
 *           xa_lock of a ksm_cold_slot (ksm_cold_zapped)
 *       folio lock, no mmap_lock (ksm_cold_split())
 *         anon_vma lock (split_huge_page())
 *   ksm_mmlist_lock (mm/ksm.c) nests the xa_lock of a ksm_cold_slot.
 *
 * Copyright (C) 2026 KSM++ developers
 */

#define pr_fmt(fmt) "ksm: " fmt

#include <linux/atomic.h>
#include <linux/hugetlb.h>
#include <linux/jump_label.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/math.h>
#include <linux/math64.h>
#include <linux/memcontrol.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/page_idle.h>
#include <linux/pagewalk.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/sysfs.h>
#include <linux/xarray.h>
#include <linux/zswap.h>

#include <asm/tlbflush.h>

#include "internal.h"
#include "ksm_charge.h"
#include "ksm_cold.h"

DEFINE_STATIC_KEY_FALSE(ksm_cold_key);

/*
 * Tunables
 */

/* nru_idle_secs and nru_cold_secs at most: a day */
#define KSM_NRU_SECS_MAX		86400U
/* Ticks of the clock in nru_cold_secs, at most */
#define KSM_NRU_COLD_TICKS		64U
#define KSM_COLD_PAGES_DEFAULT		64U
#define KSM_COLD_PAGES_MAX		4096U

/* Seconds without access before a page is idle (class 3) */
static unsigned int ksm_nru_idle_secs = 30;
/* Seconds without access before a page is cold (class 4) */
static unsigned int ksm_nru_cold_secs = 120;
/* Pages ksmd pushes out per wakeup at most */
static unsigned int ksm_cold_compress_pages = KSM_COLD_PAGES_DEFAULT;

/* Serialises the knob writers. */
static DEFINE_MUTEX(ksm_cold_knob_mutex);

/*
 * Clock state: ksmd only
 */

/* Back off when more than 1 in this many pushed pages came back. */
#define KSM_COLD_REFAULT_RATIO		8
/* Per-tick push and refault counts kept; more than KSM_NRU_AGE_MAX. */
#define KSM_COLD_WINDOW			128

/*
 * The xarray value of a pushed page is the tick count of the push,
 * that of a refused page its checksum, truncated to what fits, and on
 * 64-bit the tick count of the refusal above it: a refused page is
 * tried again after KSM_COLD_RETRY_TICKS, in case what failed was not the
 * compression (a pool limit, a race with a pin or a lock).
 */
#define KSM_COLD_POOR			1UL
#define KSM_COLD_DATA_MASK		((unsigned long)(BITS_PER_LONG > 32 ? \
						U32_MAX : U32_MAX >> 3))
#define KSM_COLD_RETRY_SHIFT		33
#define KSM_COLD_RETRY_MASK		((1UL << 30) - 1)
#define KSM_COLD_RETRY_TICKS		64

/* Ticks of the clock, counted as ksmd batches start */
static u32 ksm_cold_seq;
/* The length of a tick in seconds, set by ksmd; 0 until it first runs */
static unsigned int ksm_cold_tick;
/* When the last tick counted ended, in jiffies */
static unsigned long ksm_cold_last;
/* No pushes until ksm_cold_hold_until: ages count ticks of another length */
static bool ksm_cold_holding;
static unsigned long ksm_cold_hold_until;
/* Ticks added to the cold threshold because pages came back */
static unsigned int ksm_cold_backoff;
/* Pages pushed in the current ksmd batch */
static unsigned int ksm_cold_batch;
/* The folio ksm_cold_visit() isolated for ksm_cold_push() */
static LIST_HEAD(ksm_cold_folios);
static unsigned int ksm_cold_pushed_ring[KSM_COLD_WINDOW];
static unsigned int ksm_cold_refault_ring[KSM_COLD_WINDOW];
/* Pages per class seen so far in the current full scan */
static unsigned long ksm_nru_counting[KSM_NRU_NR_CLASSES];

/*
 * Statistics
 */

/* Pages per class in the last full scan */
static unsigned long ksm_nru_pages[KSM_NRU_NR_CLASSES];
/* Pages ksmd pushed out and reclaim freed */
static unsigned long ksm_cold_compressed;
/* Pushes that reclaim could not complete: zswap refused the page */
static unsigned long ksm_cold_rejected;
/* Large folios split so that their cold pages could be pushed */
static unsigned long ksm_cold_split_folios;
/* Pushed pages found back in memory, however long they were out */
static unsigned long ksm_cold_back;
/* Pushed pages back within the cold threshold */
static unsigned long ksm_cold_refaults;
/* Pushed pages not seen back yet, in mms still registered */
static atomic_long_t ksm_cold_out = ATOMIC_LONG_INIT(0);

/* The length of a tick for @cold_secs: at most 64 ticks in @cold_secs. */
static unsigned int ksm_cold_tick_secs(unsigned int cold_secs)
{
	return max(DIV_ROUND_UP(cold_secs, KSM_NRU_COLD_TICKS), 1U);
}

/* @secs in ticks of @tick seconds, rounded up, at least 1 */
static unsigned int ksm_cold_ticks(unsigned int secs, unsigned int tick)
{
	return clamp(DIV_ROUND_UP(secs, tick), 1U, KSM_NRU_AGE_MAX);
}

/* The clock's tick length, or the one nru_cold_secs asks for before it ran */
static unsigned int ksm_cold_cur_tick(void)
{
	return ksm_cold_tick ?: ksm_cold_tick_secs(READ_ONCE(ksm_nru_cold_secs));
}

/*
 * nru_cold_secs in ticks of the clock's current length, and one more: a
 * stamp is the tick count when the page was seen, so an age of n ticks
 * means more than n - 1 ticks of time.
 */
static unsigned int ksm_cold_base(void)
{
	return ksm_cold_ticks(READ_ONCE(ksm_nru_cold_secs), ksm_cold_cur_tick()) + 1;
}

/* Ticks without access before a page is cold, backoff included */
static unsigned int ksm_cold_threshold(void)
{
	return min(ksm_cold_base() + ksm_cold_backoff, KSM_NRU_AGE_MAX);
}

/* Ticks without access before a page is idle */
static unsigned int ksm_cold_idle(void)
{
	return ksm_cold_ticks(READ_ONCE(ksm_nru_idle_secs), ksm_cold_cur_tick());
}

static enum ksm_nru_class ksm_nru_class_of(unsigned int age, bool changed,
					   unsigned int idle, unsigned int cold)
{
	if (age >= cold)
		return KSM_NRU_COLD;
	if (age >= idle)
		return KSM_NRU_IDLE;
	return changed ? KSM_NRU_MODIFIED : KSM_NRU_UNMODIFIED;
}

static enum ksm_nru_class ksm_nru_class_get(const struct ksm_nru *nru)
{
	return (nru->flags & KSM_NRU_CLASS_MASK) >> KSM_NRU_CLASS_SHIFT;
}

/*
 * Age @nru at tick count @seq, @young if the page was accessed since
 * the last visit; store and return its class.
 */
static enum ksm_nru_class ksm_nru_age(struct ksm_nru *nru, u32 seq,
				      bool young, unsigned int idle,
				      unsigned int cold)
{
	enum ksm_nru_class class;
	u8 now = seq;
	unsigned int age;

	if (!(nru->flags & KSM_NRU_SEEN) || young) {
		nru->stamp = now;
		nru->flags |= KSM_NRU_SEEN;
	}
	age = (u8)(now - nru->stamp);
	if (age > KSM_NRU_AGE_MAX) {
		/* Saturate, so the byte never wraps round to young. */
		age = KSM_NRU_AGE_MAX;
		nru->stamp = now - age;
	}
	class = ksm_nru_class_of(age, nru->flags & KSM_NRU_CHANGED, idle, cold);
	nru->flags &= ~KSM_NRU_CLASS_MASK;
	nru->flags |= class << KSM_NRU_CLASS_SHIFT;
	return class;
}

/* Was a page pushed at tick @pushed back soon enough at @seq to count? */
static bool ksm_cold_is_refault(unsigned long pushed, u32 seq,
				unsigned int window)
{
	return ((seq - pushed) & KSM_COLD_DATA_MASK) <= window;
}

static unsigned int ksm_cold_next_backoff(unsigned int backoff,
					  unsigned long pushed,
					  unsigned long refaults,
					  unsigned int max)
{
	if (refaults * KSM_COLD_REFAULT_RATIO > pushed)
		return min(2 * backoff + 1, max);
	if (!refaults && backoff)
		return min(backoff - 1, max);
	return min(backoff, max);
}

/* Bytes saved by @out pages in zswap holding @stored pages in @pool pages */
static u64 __maybe_unused ksm_cold_saved(unsigned long out,
					 unsigned long stored,
					 unsigned long pool)
{
	u64 bytes = (u64)out * PAGE_SIZE;

	if (!out || !stored)
		return 0;
	return bytes - mul_u64_u64_div_u64(bytes, min(pool, stored), stored);
}

/* The record of content zswap refused at tick count @seq */
static unsigned long ksm_cold_poor_value(u32 checksum, u32 seq)
{
	unsigned long value = (checksum & KSM_COLD_DATA_MASK) << 1 |
			      KSM_COLD_POOR;

#if BITS_PER_LONG > 32
	value |= (seq & KSM_COLD_RETRY_MASK) << KSM_COLD_RETRY_SHIFT;
#endif
	return value;
}

/* May a page refused as recorded in @value be tried again at @seq? */
static bool ksm_cold_poor_expired(unsigned long value, u32 seq)
{
#if BITS_PER_LONG > 32
	return ((seq - (value >> KSM_COLD_RETRY_SHIFT)) & KSM_COLD_RETRY_MASK) >=
	       KSM_COLD_RETRY_TICKS;
#else
	return false;
#endif
}

/*
 * Per-mm memory of pushed and refused pages
 */

/* Is @entry of a ksm_cold_slot a page pushed out (counted in cold_out)? */
static bool ksm_cold_entry_out(void *entry)
{
	return entry && !(xa_to_value(entry) & KSM_COLD_POOR);
}

static int ksm_cold_record(struct ksm_cold_slot *cs, unsigned long addr,
			   unsigned long value, bool *replaced_out)
{
	void *old;

	if (!cs->ready) {
		/* Its first try at a node, under the lock, is charged too. */
		xa_init_flags(&cs->pages, XA_FLAGS_ACCOUNT);
		cs->ready = true;
	}
	old = xa_store(&cs->pages, addr >> PAGE_SHIFT, xa_mk_value(value),
		       KSM_CHARGE_GFP);
	if (xa_is_err(old))
		return xa_err(old);
	*replaced_out = ksm_cold_entry_out(old);
	return 0;
}

/* Look up what is remembered of @addr. */
static bool ksm_cold_lookup(struct ksm_cold_slot *cs, unsigned long addr,
			    unsigned long *value)
{
	void *entry;

	if (!cs->ready || xa_empty(&cs->pages))
		return false;
	entry = xa_load(&cs->pages, addr >> PAGE_SHIFT);
	if (!entry)
		return false;
	*value = xa_to_value(entry);
	return true;
}

/* Forget @addr, which ksm_cold_lookup() found. */
static void ksm_cold_forget_page(struct ksm_cold_slot *cs, unsigned long addr)
{
	xa_erase(&cs->pages, addr >> PAGE_SHIFT);
}

/* Free @cs; return the pushed pages it still remembered. */
static unsigned long __ksm_cold_slot_destroy(struct ksm_cold_slot *cs)
{
	unsigned long index, out = 0;
	void *entry;

	if (!cs->ready)
		return 0;
	xa_for_each(&cs->pages, index, entry)
		if (ksm_cold_entry_out(entry))
			out++;
	xa_destroy(&cs->pages);
	cs->ready = false;
	return out;
}

/**
 * ksm_cold_slot_destroy() - forget the pushed pages of an mm
 * @cs: the cold state of a ksm_mm_slot that is being freed, or of every
 *      mm_slot when the tier is turned off
 *
 * Context: may hold spinlocks; not concurrently with ksmd on the same @cs.
 */
void ksm_cold_slot_destroy(struct ksm_cold_slot *cs)
{
	atomic_long_sub(__ksm_cold_slot_destroy(cs), &ksm_cold_out);
}

/**
 * ksm_cold_prune() - forget the pushed pages of a range with no mergeable area
 * @cs: cold state of the mm ksmd is scanning
 * @start: first address of the range
 * @end: its end, exclusive; 0 for the end of the address space
 *
 * ksmd's scan found no mergeable area in [@start, @end): what was there was
 * unmapped, or made unmergeable, so its pages are not KSM's to count in
 * cold_pages_out or to take back as refaults.  Costs one xarray range walk
 * of the (usually no) pages remembered there.
 *
 * Context: ksmd, with the mm's mmap_lock held for reading.
 */
void ksm_cold_prune(struct ksm_cold_slot *cs, unsigned long start,
		    unsigned long end)
{
	unsigned long index, last, out = 0;
	void *entry;

	if (!ksm_cold_remembers(cs) || (end && end <= start))
		return;
	last = end ? (end - 1) >> PAGE_SHIFT : ULONG_MAX;
	xa_for_each_range(&cs->pages, index, entry, start >> PAGE_SHIFT, last) {
		if (ksm_cold_entry_out(entry))
			out++;
		xa_erase(&cs->pages, index);
	}
	atomic_long_sub(out, &ksm_cold_out);
}

/**
 * ksm_cold_next() - the next address with a page remembered
 * @cs: cold state of the mm ksmd is scanning, which remembers pages
 * @from: first address to look at
 * @end: end of the range, exclusive
 *
 * Context: ksmd's page walk, with the page table lock held (lockless).
 * Return: the address, or @end if none in [@from, @end).
 */
unsigned long ksm_cold_next(struct ksm_cold_slot *cs, unsigned long from,
			    unsigned long end)
{
	unsigned long index = from >> PAGE_SHIFT;

	if (from >= end ||
	    !xa_find(&cs->pages, &index, (end - 1) >> PAGE_SHIFT, XA_PRESENT))
		return end;
	return index << PAGE_SHIFT;
}

/**
 * ksm_cold_pte_gone() - does @pte show that the page pushed out is gone?
 * @vma: the area
 * @addr: the address of a page remembered as pushed out or refused
 * @pte: its page table entry now
 *
 * A pushed page's pte holds its swap entry until it is faulted back (a
 * refault, which ksm_cold_visit() sees).  None (zapped by MADV_DONTNEED,
 * say), a pte marker, or a zero or file page mapped in its place mean the
 * pushed content is gone.
 *
 * Return: true if what is remembered of @addr no longer applies.
 */
bool ksm_cold_pte_gone(struct vm_area_struct *vma, unsigned long addr,
		       pte_t pte)
{
	struct page *page;

	if (pte_none(pte) || is_pte_marker(pte))
		return true;
	if (!pte_present(pte))
		return false;
	page = vm_normal_page(vma, addr, pte);
	return !page || !folio_test_anon(page_folio(page));
}

/**
 * ksm_cold_zapped() - forget a page that is not pushed out any more
 * @cs: cold state of the mm ksmd is scanning, which remembers pages
 * @addr: the address, where ksm_cold_pte_gone() found the page gone
 *
 * Context: ksmd's page walk, with the page table lock held.
 */
void ksm_cold_zapped(struct ksm_cold_slot *cs, unsigned long addr)
{
	if (ksm_cold_entry_out(xa_erase(&cs->pages, addr >> PAGE_SHIFT)))
		atomic_long_dec(&ksm_cold_out);
}

/*
 * The clock
 */

/**
 * struct ksm_nru_young - what ksm_nru_test_young() looks for and finds
 * @page: the page ksmd visits
 * @cs: the cold state of its mm
 * @young: it was accessed since the last test
 * @huge: it is mapped by a PMD
 * @flush: its TLB entry (of the huge page, if @huge) was not flushed
 *	since the last test: flush it if the page turns idle
 */
struct ksm_nru_young {
	struct page *page;
	struct ksm_cold_slot *cs;
	bool young;
	bool huge;
	bool flush;
};

/**
 * struct ksm_nru_huge - the huge page whose pages ksmd is visiting
 * @cs: the cold state of its mm
 * @haddr: the user address of the huge page
 * @pfn: its first pfn
 * @last: the address of the last of its pages visited
 * @seq: the tick of the clock when its PMD was tested
 * @young: what that test found
 * @flushed: its TLB entry was flushed since
 * @no_split: a split failed since: its other pages do not try again
 */
struct ksm_nru_huge {
	struct ksm_cold_slot *cs;
	unsigned long haddr;
	unsigned long pfn;
	unsigned long last;
	u32 seq;
	bool young;
	bool flushed;
	bool no_split;
};

/* ksmd only (ksm_thread_mutex) */
static struct ksm_nru_huge ksm_huge_seen;

/* Is ksm_huge_seen about @pfn, the huge page at @haddr of @cs, still? */
static bool ksm_huge_seen_is(struct ksm_cold_slot *cs, unsigned long haddr,
			     unsigned long pfn)
{
	struct ksm_nru_huge *h = &ksm_huge_seen;

	/* Within a tick: ksmd may have stopped in the middle of it. */
	return h->cs == cs && h->haddr == haddr && h->pfn == pfn &&
	       ksm_cold_seq - h->seq < 2;
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/*
 * Test and clear the accessed bit of the PMD that maps @folio, a huge page
 * (and of secondary MMUs for its range), for the page at @addr.  A PMD has
 * one accessed bit for all the pages of the huge page: the first visit to
 * one of them in a full scan tests and clears it, and the visits to the
 * others that follow (ksmd visits them in address order) take that answer,
 * so that all of them age together; the TLB entry of the huge page is
 * flushed once.  Context: ksmd, the PMD lock held.
 */
static void ksm_nru_huge_young(struct vm_area_struct *vma, unsigned long addr,
			       pmd_t *pmd, struct folio *folio,
			       struct ksm_nru_young *y)
{
	unsigned long haddr = addr & PMD_MASK;
	struct ksm_nru_huge *h = &ksm_huge_seen;
	pmd_t val = pmdp_get(pmd);

	/* Not mapped by this PMD (migrating, split): count it as used. */
	if (!pmd_present(val) || pmd_pfn(val) != folio_pfn(folio)) {
		y->young = true;
		return;
	}
	if (!ksm_huge_seen_is(y->cs, haddr, folio_pfn(folio)) ||
	    addr <= h->last) {
		h->cs = y->cs;
		h->haddr = haddr;
		h->pfn = folio_pfn(folio);
		h->seq = ksm_cold_seq;
		h->young = pmdp_clear_young_notify(vma, haddr, pmd);
		h->flushed = false;
		h->no_split = false;
		if (h->young)
			folio_set_young(folio);
	}
	h->last = addr;
	y->young = h->young;
	y->huge = true;
	y->flush = !h->flushed;
}

/* Flush the TLB entry of the huge page ksm_nru_huge_young() tested. */
static void ksm_nru_huge_flush(struct vm_area_struct *vma)
{
	struct ksm_nru_huge *h = &ksm_huge_seen;

	flush_pmd_tlb_range(vma, h->haddr, h->haddr + HPAGE_PMD_SIZE);
	h->flushed = true;
}
#else
static void ksm_nru_huge_young(struct vm_area_struct *vma, unsigned long addr,
			       pmd_t *pmd, struct folio *folio,
			       struct ksm_nru_young *y)
{
	y->young = true;
}

static void ksm_nru_huge_flush(struct vm_area_struct *vma)
{
}
#endif

/*
 * Test and clear the accessed bit of the pte of one page, and of secondary
 * MMUs (a KVM guest's accesses are only there), keeping the reference for
 * reclaim in the folio's young flag, as DAMON does; for a page of a huge
 * page mapped by a PMD, the PMD's (ksm_nru_huge_young()).
 */
static int ksm_nru_young_pmd(pmd_t *pmd, unsigned long addr,
			     unsigned long end, struct mm_walk *walk)
{
	struct ksm_nru_young *y = walk->private;
	spinlock_t *ptl;	/* of the pmd or the pte */
	pte_t *ptep, pte;

	ptl = pmd_trans_huge_lock(pmd, walk->vma);
	if (ptl) {
		ksm_nru_huge_young(walk->vma, addr, pmd, page_folio(y->page), y);
		spin_unlock(ptl);
		return 1;
	}
	ptep = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!ptep)
		return 0;
	pte = ptep_get(ptep);
	if (pte_present(pte) && pte_pfn(pte) == page_to_pfn(y->page) &&
	    ptep_clear_young_notify(walk->vma, addr, ptep)) {
		folio_set_young(page_folio(y->page));
		y->young = true;
	}
	pte_unmap_unlock(ptep, ptl);
	return 1;
}

static const struct mm_walk_ops ksm_nru_young_ops = {
	.pmd_entry = ksm_nru_young_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/* Was @y->page, mapped at @addr of @vma, accessed since the last test? */
static void ksm_nru_test_young(struct vm_area_struct *vma, unsigned long addr,
			       struct ksm_nru_young *y)
{
	walk_page_range_vma(vma, addr, addr + PAGE_SIZE, &ksm_nru_young_ops,
			    y);
}

/**
 * ksm_nru_seen() - age a page ksmd visits on its linear scan
 * @cs: cold state of the mm
 * @nru: the clock state of the page's rmap_item
 * @vma: the area mapping the page, with the mmap_lock held for read
 * @addr: user address of the page
 * @page: the page, referenced by ksmd
 *
 * Called for the pages the scan visits, not for those smart_scan skips:
 * those keep their accessed bit until a visit tests it, and their age,
 * counted in time, is right then.  So the clock adds a page table walk
 * per visited page, not per page the scan passes.  The accessed bit is
 * cleared without a TLB flush, so a page used through a cached
 * translation can look idle: when a page turns idle its translation is
 * flushed once (that of a huge page once for all its pages), and from
 * then on an access sets the bit again.  A page
 * remembered as pushed out is back: a refault if that happened within the
 * cold threshold.
 */
void ksm_nru_seen(struct ksm_cold_slot *cs, struct ksm_nru *nru,
		  struct vm_area_struct *vma, unsigned long addr,
		  struct page *page)
{
	struct ksm_nru_young y = { .page = page, .cs = cs, .flush = true };
	enum ksm_nru_class class, was = ksm_nru_class_get(nru);
	unsigned int cold = ksm_cold_threshold();
	unsigned long value;

	ksm_nru_test_young(vma, addr, &y);
	class = ksm_nru_age(nru, ksm_cold_seq, y.young, ksm_cold_idle(), cold);
	ksm_nru_counting[class]++;
	if (class >= KSM_NRU_IDLE && was < KSM_NRU_IDLE && y.flush) {
		if (y.huge)
			ksm_nru_huge_flush(vma);
		else
			flush_tlb_page(vma, addr);
	}

	if (!ksm_cold_lookup(cs, addr, &value) || (value & KSM_COLD_POOR))
		return;
	ksm_cold_forget_page(cs, addr);
	atomic_long_dec(&ksm_cold_out);
	WRITE_ONCE(ksm_cold_back, ksm_cold_back + 1);
	if (ksm_cold_is_refault(value >> 1, ksm_cold_seq, cold)) {
		WRITE_ONCE(ksm_cold_refaults, ksm_cold_refaults + 1);
		ksm_cold_refault_ring[ksm_cold_seq % KSM_COLD_WINDOW]++;
	}
}

/**
 * ksm_nru_touch() - make a page young that ksmd knows was just written
 * @nru: the clock state of its rmap_item
 *
 * A read by DMA (O_DIRECT, AIO, io_uring) sets no accessed bit: ksmd,
 * visiting the page for an I/O hint, marks it used instead.
 */
void ksm_nru_touch(struct ksm_nru *nru)
{
	nru->stamp = ksm_cold_seq;
	nru->flags |= KSM_NRU_SEEN;
}

static bool ksm_cold_may_push(void)
{
	if (ksm_cold_holding) {
		if (time_before(jiffies, ksm_cold_hold_until))
			return false;
		ksm_cold_holding = false;
	}
	/* nru_cold_secs changed since the clock last moved: wait for it. */
	if (ksm_cold_tick != ksm_cold_tick_secs(READ_ONCE(ksm_nru_cold_secs)))
		return false;
	return ksm_cold_batch < READ_ONCE(ksm_cold_compress_pages) &&
	       zswap_is_enabled() && get_nr_swap_pages() > 0;
}

/*
 * May @folio go?  It must be an anonymous folio mapped only here (as for
 * MADV_PAGEOUT: the accessed bit of other mappers was not tested), not a
 * KSM page, not mlocked or pinned; and zswap writeback must be disabled
 * for its memory cgroup, so that what zswap refuses stays in memory
 * instead of being written to the swap device.  A large folio must be
 * split first (ksm_cold_split()): zswap stores small folios only.
 */
static bool ksm_cold_folio_ok(struct folio *folio)
{
	if (folio_test_large(folio)) {
		if (folio_likely_mapped_shared(folio))
			return false;
	} else if (folio_mapcount(folio) != 1) {
		return false;
	}
	return folio_test_anon(folio) && !folio_test_ksm(folio) &&
	       !folio_test_mlocked(folio) && !folio_maybe_dma_pinned(folio) &&
	       folio_test_lru(folio) &&
	       !mem_cgroup_zswap_writeback_enabled(folio_memcg(folio));
}

/*
 * Split the large folio of @page, a cold page ksmd holds a reference on,
 * mapped at @addr, so that its pages can be pushed one by one, as KSM
 * splits a huge page to merge one of its pages and reclaim splits one that
 * cannot be swapped out whole.  Only a huge page mapped by a PMD: all its
 * pages age together (ksm_nru_huge_young()), so when one is cold, all of
 * them are; the pages of a large folio mapped by PTEs age one by one, and
 * one cold page does not make the others cold.  An attempt counts against
 * the pushes of this wakeup.  Return: the folio of @page, small, or NULL
 * if it could not be split now (locked, or referenced by someone else:
 * the other pages of the huge page do not try again before the next full
 * scan).
 */
static struct folio *ksm_cold_split(struct ksm_cold_slot *cs,
				    struct page *page, unsigned long addr)
{
	struct folio *folio = page_folio(page);
	bool seen;

	if (!IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) ||
	    !folio_test_pmd_mappable(folio) || !folio_entire_mapcount(folio))
		return NULL;
	seen = ksm_huge_seen_is(cs, addr & PMD_MASK, folio_pfn(folio));
	if (seen && ksm_huge_seen.no_split)
		return NULL;
	ksm_cold_batch++;
	if (!folio_trylock(folio))
		goto failed;
	if (split_huge_page(page)) {
		folio_unlock(folio);
		goto failed;
	}
	folio = page_folio(page);
	folio_unlock(folio);
	WRITE_ONCE(ksm_cold_split_folios, ksm_cold_split_folios + 1);
	return folio;
failed:
	if (seen)
		ksm_huge_seen.no_split = true;
	return NULL;
}

/* Did zswap refuse this content of @addr at @seq recently? */
static bool ksm_cold_poor(struct ksm_cold_slot *cs, unsigned long addr,
			  u32 checksum, u32 seq)
{
	unsigned long value;

	if (!ksm_cold_lookup(cs, addr, &value))
		return false;
	if ((value >> 1 & KSM_COLD_DATA_MASK) ==
	    (checksum & KSM_COLD_DATA_MASK) &&
	    !ksm_cold_poor_expired(value, seq))
		return true;
	/* The content changed, or it is time for another try. */
	ksm_cold_forget_page(cs, addr);
	return false;
}

/**
 * ksm_cold_visit() - classify a page after ksmd tried to merge it
 * @cs: cold state of the mm
 * @nru: the clock state of the page's rmap_item
 * @page: the page, referenced by ksmd
 * @addr: its user address
 * @changed: its checksum changed on this visit
 * @merged: it is mapped from a KSM page now
 * @checksum: its current checksum
 *
 * A cold page that merged with nothing, although it had its chance at an
 * earlier visit (it kept its checksum, so it was searched for and placed
 * in the unstable tree), is isolated from the LRU for ksm_cold_push(), unless
 * the per-wakeup bound is reached, zswap is off, there is no swap space
 * for its slot, or zswap refused the same content before.  A page of a
 * large folio is split off it first.
 *
 * Return: true if ksm_cold_push() must be called once ksmd has dropped
 * its reference to @page.
 */
bool ksm_cold_visit(struct ksm_cold_slot *cs, struct ksm_nru *nru,
		    struct page *page, unsigned long addr, bool changed,
		    bool merged, u32 checksum)
{
	enum ksm_nru_class class = ksm_nru_class_get(nru);
	struct folio *folio = page_folio(page);
	bool tried;

	if (!(nru->flags & KSM_NRU_SEEN))
		return false;
	/*
	 * A page that kept its checksum and did not merge was searched for
	 * in both trees and (unless a race kept it out) entered into the
	 * unstable tree, where every page visited after it in that full scan
	 * could find it: it had its chance to merge.  Only such a page is
	 * pushed, and only at a later visit.
	 */
	tried = nru->flags & KSM_NRU_TRIED;
	if (changed || merged)
		nru->flags &= ~KSM_NRU_TRIED;
	else
		nru->flags |= KSM_NRU_TRIED;
	if (changed || (nru->flags & KSM_NRU_CHANGED)) {
		enum ksm_nru_class now;

		/* A change is an access: the page is young again. */
		if (changed)
			nru->flags |= KSM_NRU_CHANGED;
		else
			nru->flags &= ~KSM_NRU_CHANGED;
		now = ksm_nru_age(nru, ksm_cold_seq, changed, ksm_cold_idle(),
				  ksm_cold_threshold());
		if (now != class) {
			if (ksm_nru_counting[class])
				ksm_nru_counting[class]--;
			ksm_nru_counting[now]++;
			class = now;
		}
	}

	if (class != KSM_NRU_COLD || merged || !tried || !ksm_cold_may_push() ||
	    ksm_cold_poor(cs, addr, checksum, ksm_cold_seq) ||
	    !ksm_cold_folio_ok(folio))
		return false;
	if (folio_test_large(folio)) {
		folio = ksm_cold_split(cs, page, addr);
		if (!folio || !ksm_cold_may_push() || !ksm_cold_folio_ok(folio))
			return false;
	}
	if (!folio_isolate_lru(folio))
		return false;
	/* Unmapped or shared meanwhile: leave it. */
	if (folio_test_unevictable(folio) || folio_mapcount(folio) != 1) {
		folio_putback_lru(folio);
		return false;
	}
	list_add(&folio->lru, &ksm_cold_folios);
	ksm_cold_batch++;
	return true;
}

/**
 * ksm_cold_push() - push the page ksm_cold_visit() isolated into zswap
 * @cs: cold state of the mm
 * @mm: the mm, whose memory cgroup is charged for the record of the page
 * @addr: user address of the page
 * @checksum: its checksum, remembered if zswap refuses the page
 *
 * Reclaim unmaps the page, stores it in zswap and frees it; with zswap
 * writeback disabled a page zswap refuses stays in memory, unmapped, in
 * the swap cache.  Either way ksmd then forgets the page's rmap_item.
 */
void ksm_cold_push(struct ksm_cold_slot *cs, struct mm_struct *mm,
		   unsigned long addr, u32 checksum)
{
	bool replaced_out = false;
	struct ksm_charge charge;
	unsigned long value;
	bool out;
	int err;

	if (list_empty(&ksm_cold_folios))
		return;
	out = reclaim_pages(&ksm_cold_folios) > 0;
	if (out) {
		value = (ksm_cold_seq & KSM_COLD_DATA_MASK) << 1;
		WRITE_ONCE(ksm_cold_compressed, ksm_cold_compressed + 1);
		ksm_cold_pushed_ring[ksm_cold_seq % KSM_COLD_WINDOW]++;
	} else {
		value = ksm_cold_poor_value(checksum, ksm_cold_seq);
		WRITE_ONCE(ksm_cold_rejected, ksm_cold_rejected + 1);
	}
	/* Without memory to remember it, a page out is just not tracked. */
	ksm_charge_begin(&charge, mm);
	err = ksm_cold_record(cs, addr, value, &replaced_out);
	ksm_charge_end(&charge);
	if (err)
		return;
	if (out)
		atomic_long_inc(&ksm_cold_out);
	if (replaced_out)
		atomic_long_dec(&ksm_cold_out);
}

/*
 * The clock's tick for nru_cold_secs now, and the ticks that passed since
 * the last one counted, all at once.  A new tick length (nru_cold_secs
 * changed) holds pushes for nru_cold_secs: ages so far count ticks of the
 * old length.  Context: ksmd, as a batch starts.
 */
static unsigned long ksm_cold_ticks_passed(unsigned long now)
{
	unsigned int cold = READ_ONCE(ksm_nru_cold_secs);
	unsigned int tick = ksm_cold_tick_secs(cold);
	unsigned long ticks;

	if (tick != ksm_cold_tick) {
		if (ksm_cold_tick) {
			ksm_cold_holding = true;
			ksm_cold_hold_until = now + (unsigned long)cold * HZ;
		}
		ksm_cold_tick = tick;
		ksm_cold_last = now;
		return 0;
	}
	ticks = (now - ksm_cold_last) / ((unsigned long)tick * HZ);
	ksm_cold_last += ticks * tick * HZ;
	return ticks;
}

/*
 * Count the ticks of the clock that passed, and adjust the backoff from
 * the pushes and refaults of the last cold threshold.
 */
static void ksm_cold_tick_on(void)
{
	unsigned long pushed = 0, refaults = 0, ticks;
	unsigned int i, window, slot;

	ticks = ksm_cold_ticks_passed(jiffies);
	if (!ticks)
		return;
	window = ksm_cold_threshold();
	for (i = 0; i < window; i++) {
		slot = (ksm_cold_seq - i) % KSM_COLD_WINDOW;
		pushed += ksm_cold_pushed_ring[slot];
		refaults += ksm_cold_refault_ring[slot];
	}
	WRITE_ONCE(ksm_cold_backoff,
		   ksm_cold_next_backoff(ksm_cold_backoff, pushed, refaults,
					 KSM_NRU_AGE_MAX - ksm_cold_base()));
	for (i = 1; i <= min_t(unsigned long, ticks, KSM_COLD_WINDOW); i++) {
		slot = (ksm_cold_seq + i) % KSM_COLD_WINDOW;
		ksm_cold_pushed_ring[slot] = 0;
		ksm_cold_refault_ring[slot] = 0;
	}
	ksm_cold_seq += ticks;
}

/**
 * ksm_cold_new_batch() - ksmd starts a batch: the clock moves on
 *
 * Resets the per-wakeup bound, and counts the ticks that passed, so that
 * a page is stamped with the time of its visit to within a batch.
 */
void ksm_cold_new_batch(void)
{
	ksm_cold_batch = 0;
	if (ksm_cold_enabled())
		ksm_cold_tick_on();
}

/**
 * ksm_cold_scan_done() - ksmd completed a full scan
 *
 * Publishes the pages per class the scan visited; the next scan tests the
 * accessed bit of a huge page afresh.
 */
void ksm_cold_scan_done(void)
{
	unsigned int i;

	/* The next full scan tests the PMD of a huge page again. */
	ksm_huge_seen.cs = NULL;
	if (!ksm_cold_enabled())
		return;
	for (i = 0; i < KSM_NRU_NR_CLASSES; i++) {
		WRITE_ONCE(ksm_nru_pages[i], ksm_nru_counting[i]);
		ksm_nru_counting[i] = 0;
	}
}

/**
 * ksm_cold_forget() - reset the clock when the tier is turned off
 *
 * Context: ksm_thread_mutex held, every ksm_cold_slot destroyed.
 */
void ksm_cold_forget(void)
{
	unsigned int i;

	/*
	 * The tick length stays: ages kept in rmap_items are in its units,
	 * and a new length holds pushes when the tier is on again.
	 */
	WRITE_ONCE(ksm_cold_backoff, 0);
	ksm_huge_seen.cs = NULL;
	memset(ksm_cold_pushed_ring, 0, sizeof(ksm_cold_pushed_ring));
	memset(ksm_cold_refault_ring, 0, sizeof(ksm_cold_refault_ring));
	for (i = 0; i < KSM_NRU_NR_CLASSES; i++) {
		ksm_nru_counting[i] = 0;
		WRITE_ONCE(ksm_nru_pages[i], 0);
	}
}

#ifdef CONFIG_SYSFS
/* The cold threshold, backoff included, in seconds */
static u64 ksm_cold_threshold_secs(void)
{
	unsigned int cold = READ_ONCE(ksm_nru_cold_secs);
	unsigned int tick = ksm_cold_tick_secs(cold);

	return (u64)min(ksm_cold_ticks(cold, tick) + READ_ONCE(ksm_cold_backoff),
			KSM_NRU_AGE_MAX) * tick;
}

static u64 ksm_cold_bytes_saved(void)
{
#ifdef CONFIG_ZSWAP
	long out = atomic_long_read(&ksm_cold_out);

	return ksm_cold_saved(max(out, 0L), atomic_read(&zswap_stored_pages),
			      zswap_total_pages());
#else
	return 0;
#endif
}

#define KSM_COLD_ATTR_RO(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RO(_name)
#define KSM_COLD_ATTR(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RW(_name)

static ssize_t cold_compress_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", ksm_cold_enabled() ? 1 : 0);
}

static ssize_t cold_compress_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	unsigned int enable;

	if (kstrtouint(buf, 10, &enable) || enable > 1)
		return -EINVAL;

	mutex_lock(&ksm_cold_knob_mutex);
	if (enable && !static_key_enabled(&ksm_cold_key)) {
		static_branch_enable(&ksm_cold_key);
	} else if (!enable && static_key_enabled(&ksm_cold_key)) {
		static_branch_disable(&ksm_cold_key);
		ksm_cold_quiesce();
	}
	mutex_unlock(&ksm_cold_knob_mutex);
	return count;
}
KSM_COLD_ATTR(cold_compress);

/**
 * struct ksm_cold_knob - a sysfs knob taking an integer in a range
 * @attr: the sysfs attribute
 * @value: the tunable it sets
 * @min: smallest value accepted
 * @max: largest value accepted
 */
struct ksm_cold_knob {
	struct kobj_attribute attr;
	unsigned int *value;
	unsigned int min;
	unsigned int max;
};

static ssize_t ksm_cold_knob_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	struct ksm_cold_knob *knob = container_of(attr, struct ksm_cold_knob,
						  attr);

	return sysfs_emit(buf, "%u\n", READ_ONCE(*knob->value));
}

/* Bad values get -EINVAL and change nothing. */
static ssize_t ksm_cold_knob_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	struct ksm_cold_knob *knob = container_of(attr, struct ksm_cold_knob,
						  attr);
	unsigned int value;

	if (kstrtouint(buf, 10, &value) || value < knob->min ||
	    value > knob->max)
		return -EINVAL;
	WRITE_ONCE(*knob->value, value);
	return count;
}

#define KSM_COLD_KNOB(_name, _value, _min, _max)			\
static struct ksm_cold_knob _name##_attr = {				\
	.attr = __ATTR(_name, 0644, ksm_cold_knob_show,			\
		       ksm_cold_knob_store),				\
	.value = _value,						\
	.min = _min,							\
	.max = _max,							\
}

KSM_COLD_KNOB(nru_idle_secs, &ksm_nru_idle_secs, 1, KSM_NRU_SECS_MAX);
KSM_COLD_KNOB(nru_cold_secs, &ksm_nru_cold_secs, 1, KSM_NRU_SECS_MAX);
KSM_COLD_KNOB(cold_compress_pages, &ksm_cold_compress_pages, 1,
	      KSM_COLD_PAGES_MAX);

#define KSM_COLD_STAT(_name, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%llu\n", (u64)(_expr));		\
}									\
KSM_COLD_ATTR_RO(_name)

KSM_COLD_STAT(nru_pages_modified, READ_ONCE(ksm_nru_pages[KSM_NRU_MODIFIED]));
KSM_COLD_STAT(nru_pages_unmodified,
	      READ_ONCE(ksm_nru_pages[KSM_NRU_UNMODIFIED]));
KSM_COLD_STAT(nru_pages_idle, READ_ONCE(ksm_nru_pages[KSM_NRU_IDLE]));
KSM_COLD_STAT(nru_pages_cold, READ_ONCE(ksm_nru_pages[KSM_NRU_COLD]));
KSM_COLD_STAT(cold_threshold_secs, ksm_cold_threshold_secs());
KSM_COLD_STAT(cold_pages_compressed, READ_ONCE(ksm_cold_compressed));
KSM_COLD_STAT(cold_pages_rejected, READ_ONCE(ksm_cold_rejected));
KSM_COLD_STAT(cold_huge_pages_split, READ_ONCE(ksm_cold_split_folios));
KSM_COLD_STAT(cold_pages_out, max(atomic_long_read(&ksm_cold_out), 0L));
KSM_COLD_STAT(cold_pages_back, READ_ONCE(ksm_cold_back));
KSM_COLD_STAT(cold_refaults, READ_ONCE(ksm_cold_refaults));
KSM_COLD_STAT(cold_bytes_saved, ksm_cold_bytes_saved());

static struct attribute *ksm_cold_attrs[] = {
	&cold_compress_attr.attr,
	&nru_idle_secs_attr.attr.attr,
	&nru_cold_secs_attr.attr.attr,
	&cold_compress_pages_attr.attr.attr,
	&nru_pages_modified_attr.attr,
	&nru_pages_unmodified_attr.attr,
	&nru_pages_idle_attr.attr,
	&nru_pages_cold_attr.attr,
	&cold_threshold_secs_attr.attr,
	&cold_pages_compressed_attr.attr,
	&cold_pages_rejected_attr.attr,
	&cold_huge_pages_split_attr.attr,
	&cold_pages_out_attr.attr,
	&cold_pages_back_attr.attr,
	&cold_refaults_attr.attr,
	&cold_bytes_saved_attr.attr,
	NULL,
};

static const struct attribute_group ksm_cold_attr_group = {
	.attrs = ksm_cold_attrs,
	.name = "ksm",
};

/**
 * ksm_cold_init() - add the cold-page knobs to /sys/kernel/mm/ksm
 * @kobj: the kobject that holds the "ksm" group
 *
 * Return: 0 or a negative error.
 */
int ksm_cold_init(struct kobject *kobj)
{
	return sysfs_merge_group(kobj, &ksm_cold_attr_group);
}
#else
int ksm_cold_init(struct kobject *kobj)
{
	return 0;
}
#endif /* CONFIG_SYSFS */

#ifdef CONFIG_KSM_COLD_KUNIT_TEST
#include "tests/ksm_cold_kunit.h"
#endif
