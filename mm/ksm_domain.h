/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KSM merge domains: pages merge only with pages of their own domain.
 * Internal to mm/ksm.c and mm/ksm_domain.c; see ksm_domain.c.
 */
#ifndef _MM_KSM_DOMAIN_H
#define _MM_KSM_DOMAIN_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/compiler.h>
#include <linux/mm_types.h>
#include <linux/types.h>

struct kobject;

/**
 * enum ksm_domain_policies - how KSM finds the merge domain of a process
 * @KSM_DOMAINS_NONE: every process in domain 0, as stock KSM merges
 * @KSM_DOMAINS_PRCTL: the domain the process took with PR_SET_KSM_DOMAIN
 *	(0 unless it, or a process it descends from, took another)
 * @KSM_DOMAINS_NR: the number of policies
 */
enum ksm_domain_policies {
	KSM_DOMAINS_NONE,
	KSM_DOMAINS_PRCTL,
	KSM_DOMAINS_NR
};

/* The first domain PR_KSM_DOMAIN_NEW hands out; named domains lie below. */
#define KSM_DOMAIN_PRIVATE	BIT_ULL(63)

/* sysfs merge_domains; changed under ksm_thread_mutex only */
extern int ksm_domain_policy;

/**
 * ksm_mm_domain() - the merge domain of the pages of @mm
 * @mm: an mm; once registered with KSM, its domain no longer changes
 *
 * Context: ksmd, under ksm_thread_mutex, which a change of policy takes:
 * the policy is the same for every page of a batch.
 *
 * Return: the domain KSM compares, 0 for everyone under "none".
 */
static inline u64 ksm_mm_domain(const struct mm_struct *mm)
{
	if (READ_ONCE(ksm_domain_policy) != KSM_DOMAINS_PRCTL)
		return 0;
	return atomic64_read(&mm->ksm_domain);
}

/*
 * The first key of KSM's trees, before the content: negative, 0 or
 * positive as domain @a sorts before, with or after domain @b.
 */
static inline int ksm_domain_cmp(u64 a, u64 b)
{
	return a < b ? -1 : a > b;
}

int ksm_set_domain_policy(int policy);
int ksm_domain_init(struct kobject *kobj);

#endif /* _MM_KSM_DOMAIN_H */
