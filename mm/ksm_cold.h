/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KSM NRU clock and cold-page compression: internal interface between
 * mm/ksm.c and mm/ksm_cold.c.
 *
 * At each visit ksmd tests and clears the accessed bit of a mergeable page
 * and ages it in ticks of a clock of seconds; pages not accessed for
 * nru_cold_secs that had their chance to merge and merged with nothing
 * are pushed through reclaim into zswap.  See the
 * "Cold pages" section of Documentation/admin-guide/mm/ksm.rst.
 *
 * Everything here runs in ksmd under ksm_thread_mutex, except
 * ksm_cold_slot_destroy(), which __ksm_exit() may call for an mm_slot
 * ksmd is not scanning.
 */
#ifndef _MM_KSM_COLD_H
#define _MM_KSM_COLD_H

#include <linux/jump_label.h>
#include <linux/pgtable.h>
#include <linux/types.h>
#include <linux/xarray.h>

struct kobject;
struct folio;
struct mm_struct;
struct page;
struct vm_area_struct;

/**
 * enum ksm_nru_class - the Difference Engine's not-recently-used classes
 * @KSM_NRU_MODIFIED: content changed since the previous visit
 * @KSM_NRU_UNMODIFIED: unchanged, but accessed within nru_idle_secs
 * @KSM_NRU_IDLE: not accessed for nru_idle_secs
 * @KSM_NRU_COLD: not accessed for the cold threshold (nru_cold_secs plus
 *                the refault backoff): a candidate for compression
 * @KSM_NRU_NR_CLASSES: number of classes
 */
enum ksm_nru_class {
	KSM_NRU_MODIFIED,
	KSM_NRU_UNMODIFIED,
	KSM_NRU_IDLE,
	KSM_NRU_COLD,
	KSM_NRU_NR_CLASSES,
};

/**
 * struct ksm_nru - clock state of one rmap_item (two bytes of its padding)
 * @stamp: low byte of the clock's tick count when the page was last seen
 *         accessed or modified; age = count - stamp, at most
 *         KSM_NRU_AGE_MAX
 * @flags: KSM_NRU_SEEN, KSM_NRU_CHANGED, KSM_NRU_TRIED and the class of
 *         the last visit
 */
struct ksm_nru {
	u8 stamp;
	u8 flags;
};

/* Bits of @flags: 0-1 and 4 flags, 2-3 the class, 5-7 free */
#define KSM_NRU_AGE_MAX		127
#define KSM_NRU_SEEN		0x01	/* @stamp is valid */
#define KSM_NRU_CHANGED		0x02	/* content changed at the last visit */
#define KSM_NRU_TRIED		0x10	/* had its chance to merge */
#define KSM_NRU_CLASS_SHIFT	2
#define KSM_NRU_CLASS_MASK	(3 << KSM_NRU_CLASS_SHIFT)

/**
 * struct ksm_cold_slot - what ksmd remembers of one mm's pushed pages
 * @pages: by page index of the user address: an xa_mk_value() of
 *         KSM_COLD_OUT | full-scan count of the push, for pages pushed
 *         out, or KSM_COLD_POOR | checksum, for pages zswap refused
 * @ready: @pages is initialised
 *
 * Lives in struct ksm_mm_slot; its xarray is created on first use and
 * freed with the mm_slot or when the tier is turned off.
 */
struct ksm_cold_slot {
	struct xarray pages;
	bool ready;
};

DECLARE_STATIC_KEY_FALSE(ksm_cold_key);

/**
 * ksm_cold_enabled() - is the NRU clock running?
 *
 * Return: true while /sys/kernel/mm/ksm/cold_compress is 1.
 */
static inline bool ksm_cold_enabled(void)
{
	return static_branch_unlikely(&ksm_cold_key);
}

void ksm_nru_seen(struct ksm_cold_slot *cs, struct ksm_nru *nru,
		  struct vm_area_struct *vma, unsigned long addr,
		  struct page *page);
void ksm_nru_touch(struct ksm_nru *nru);
bool ksm_cold_visit(struct ksm_cold_slot *cs, struct ksm_nru *nru,
		    struct page *page, unsigned long addr, bool changed,
		    bool merged, u32 checksum);
void ksm_cold_push(struct ksm_cold_slot *cs, struct mm_struct *mm,
		   unsigned long addr, u32 checksum);
void ksm_cold_new_batch(void);
void ksm_cold_scan_done(void);
void ksm_cold_forget(void);
void ksm_cold_slot_destroy(struct ksm_cold_slot *cs);
void ksm_cold_prune(struct ksm_cold_slot *cs, unsigned long start,
		    unsigned long end);
unsigned long ksm_cold_next(struct ksm_cold_slot *cs, unsigned long from,
			    unsigned long end);
bool ksm_cold_pte_gone(struct vm_area_struct *vma, unsigned long addr,
		       pte_t pte);
void ksm_cold_zapped(struct ksm_cold_slot *cs, unsigned long addr);

/**
 * ksm_cold_remembers() - does ksmd remember pages of this mm?
 * @cs: cold state of an mm
 *
 * Return: @cs if it remembers pages pushed out or refused, else NULL.
 */
static inline struct ksm_cold_slot *
ksm_cold_remembers(struct ksm_cold_slot *cs)
{
	return cs->ready && !xa_empty(&cs->pages) ? cs : NULL;
}

int ksm_cold_init(struct kobject *kobj);

/* mm/ksm.c: free the cold state of every mm_slot (tier turned off). */
void ksm_cold_quiesce(void);

#endif /* _MM_KSM_COLD_H */
