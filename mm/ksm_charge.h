/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KSM: what ksmd keeps for a process - the index of its rmap_items
 * (mm/ksm_hints.c), the record of its pages pushed out (mm/ksm_cold.c) -
 * is charged to that process's memory cgroup, not to ksmd's.
 */
#ifndef _MM_KSM_CHARGE_H
#define _MM_KSM_CHARGE_H

#include <linux/gfp.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>

/*
 * How ksmd allocates what it keeps for a process, between
 * ksm_charge_begin() and ksm_charge_end(): charged to the process's
 * memory cgroup, never waiting: at that cgroup's limit (or its
 * memory.high) ksmd neither reclaims for it nor sleeps, nor OOM-kills;
 * the allocation fails and the caller does without.  A tenant at its
 * limit must not stall ksmd, which holds ksm_thread_mutex, for everyone.
 */
#define KSM_CHARGE_GFP	(GFP_NOWAIT | __GFP_NOWARN | __GFP_ACCOUNT)

/**
 * struct ksm_charge - the memory cgroup ksmd charges for a while
 * @memcg: the cgroup charged, referenced
 * @old: the active memory cgroup it replaced
 */
struct ksm_charge {
	struct mem_cgroup *memcg;
	struct mem_cgroup *old;
};

/*
 * Charge ksmd's KSM_CHARGE_GFP allocations to the memory cgroup of @mm
 * (of the current task if @mm is NULL) until ksm_charge_end().
 */
static inline void ksm_charge_begin(struct ksm_charge *charge,
				    struct mm_struct *mm)
{
	charge->memcg = get_mem_cgroup_from_mm(mm);
	charge->old = set_active_memcg(charge->memcg);
}

static inline void ksm_charge_end(struct ksm_charge *charge)
{
	set_active_memcg(charge->old);
	mem_cgroup_put(charge->memcg);
}

#endif /* _MM_KSM_CHARGE_H */
