// SPDX-License-Identifier: GPL-2.0
/*
 * KSM merge domains
 *
 * Merging tells a process whether another one holds a page of the same
 * content: a write to a merged page takes a copy-on-write fault that an
 * unmerged page does not, and the attacks that time it (Dedup Est Machina,
 * Flip Feng Shui, CAIN, VUsion) read other tenants' memory one guessed page
 * at a time.  VMware ESXi shares pages across VMs only when their "salt"
 * matches; Windows combines pages within a security domain.  A merge
 * domain is the same for KSM: a number per process, and pages merge only
 * with pages of their own domain, in the stable tree and the unstable
 * tree (and hinted pages in the hint trees), because the domain is the
 * first key of those trees, before the content.
 *
 * The domain is a property of the mm, set with prctl(PR_SET_KSM_DOMAIN)
 * and kept across fork and execve, so that a VM launcher (libvirt, a
 * systemd unit, a wrapper) puts QEMU in a domain before QEMU runs, without
 * changing QEMU; QEMU's madvise(MADV_MERGEABLE) then registers guest
 * memory in that domain.  PR_KSM_DOMAIN_NEW gives the caller a domain
 * nobody else is in and needs no privilege (a process may always merge
 * less); joining a named domain needs CAP_SYS_ADMIN, or a tenant could
 * join another's.  Once an mm is registered with KSM its domain is fixed
 * (-EBUSY): its pages may sit in the trees under that domain.
 *
 * /sys/kernel/mm/ksm/merge_domains chooses whether KSM uses the domains:
 * "none" (the default) puts every process in domain 0, which is stock KSM;
 * "prctl" uses them.  It changes only while no KSM page is mapped, so
 * that no page stays shared across what became two domains.
 *
 * Why the prctl and not only the memory cgroup: the domain must be set
 * before the first page is registered and must not change under the pages
 * that are merged, while a task's memory cgroup is often set after exec
 * and tasks move between cgroups; a number the launcher chooses also
 * lets a host group several VMs of one tenant in one domain.
 */
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/kobject.h>
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/prctl.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include "ksm_domain.h"

int ksm_domain_policy = KSM_DOMAINS_NONE;

/*
 * The last domain PR_KSM_DOMAIN_NEW handed out: 2^63 of them before the
 * count would wrap into named domains, centuries at any rate a process
 * can ask.
 */
static atomic64_t ksm_domain_last = ATOMIC64_INIT(KSM_DOMAIN_PRIVATE - 1);

/*
 * Is a PR_SET_KSM_DOMAIN request well formed, before privilege and the mm
 * are looked at?  *@fresh is set to whether it asks for a new domain
 * rather than to join @id.
 */
static int ksm_domain_request(unsigned long op, unsigned long id, bool *fresh)
{
	*fresh = op == PR_KSM_DOMAIN_NEW;
	switch (op) {
	case PR_KSM_DOMAIN_NEW:
		return id ? -EINVAL : 0;
	case PR_KSM_DOMAIN_JOIN:
		return (u64)id < KSM_DOMAIN_PRIVATE ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/**
 * ksm_set_domain() - PR_SET_KSM_DOMAIN: put a process in a merge domain
 * @mm: the caller's mm, its mmap_lock held for writing
 * @op: PR_KSM_DOMAIN_NEW (a domain nobody else is in) or PR_KSM_DOMAIN_JOIN
 * @id: the domain to join, below 2^63 (0: everyone's), or 0 for NEW
 *
 * The domain is kept across fork and execve.  KSM uses it while
 * merge_domains is "prctl".
 *
 * Return: 0; -EINVAL for an unknown @op or a bad @id; -EPERM if joining
 * without CAP_SYS_ADMIN; -EBUSY if @mm is registered with KSM already
 * (MADV_MERGEABLE or PR_SET_MEMORY_MERGE came first).
 */
int ksm_set_domain(struct mm_struct *mm, unsigned long op, unsigned long id)
{
	bool fresh;
	int err;

	mmap_assert_write_locked(mm);
	err = ksm_domain_request(op, id, &fresh);
	if (err)
		return err;
	/* Only a well-formed join asks for (and audits) the capability. */
	if (!fresh && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	/* Registration sets this under the mmap_lock held for writing. */
	if (test_bit(MMF_VM_MERGEABLE, &mm->flags))
		return -EBUSY;
	atomic64_set(&mm->ksm_domain,
		     fresh ? atomic64_inc_return(&ksm_domain_last) : (s64)id);
	return 0;
}

/**
 * ksm_get_domain() - PR_GET_KSM_DOMAIN: the domain a process took
 * @mm: the caller's mm
 * @to: where to store it, a __u64
 *
 * Return: 0 or -EFAULT.
 */
int ksm_get_domain(struct mm_struct *mm, u64 __user *to)
{
	u64 domain = atomic64_read(&mm->ksm_domain);

	return put_user(domain, to) ? -EFAULT : 0;
}

/**
 * ksm_process_domain() - the domain KSM merges the pages of @mm in
 * @mm: an mm
 *
 * Return: the domain of @mm under the current merge_domains policy, as
 * /proc/PID/ksm_stat shows it.
 */
u64 ksm_process_domain(struct mm_struct *mm)
{
	return ksm_mm_domain(mm);
}

#ifdef CONFIG_SYSFS
static const char * const ksm_domain_policies[KSM_DOMAINS_NR] = {
	[KSM_DOMAINS_NONE] = "none",
	[KSM_DOMAINS_PRCTL] = "prctl",
};

static ssize_t merge_domains_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	int policy = READ_ONCE(ksm_domain_policy), i, len = 0;

	for (i = 0; i < KSM_DOMAINS_NR; i++)
		len += sysfs_emit_at(buf, len, i == policy ? "%s[%s]" : "%s%s",
				     i ? " " : "", ksm_domain_policies[i]);
	return len + sysfs_emit_at(buf, len, "\n");
}

static ssize_t merge_domains_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	int policy = sysfs_match_string(ksm_domain_policies, buf);
	int err;

	if (policy < 0)
		return -EINVAL;
	err = ksm_set_domain_policy(policy);
	return err ? err : count;
}

static struct kobj_attribute merge_domains_attr = __ATTR_RW(merge_domains);

static struct attribute *ksm_domain_attrs[] = {
	&merge_domains_attr.attr,
	NULL,
};

static const struct attribute_group ksm_domain_attr_group = {
	.attrs = ksm_domain_attrs,
	.name = "ksm",
};

/**
 * ksm_domain_init() - add merge_domains to /sys/kernel/mm/ksm
 * @kobj: the kobject that holds the "ksm" group
 *
 * Return: 0 or a negative error.
 */
int ksm_domain_init(struct kobject *kobj)
{
	return sysfs_merge_group(kobj, &ksm_domain_attr_group);
}
#else
int ksm_domain_init(struct kobject *kobj)
{
	return 0;
}
#endif /* CONFIG_SYSFS */

#ifdef CONFIG_KSM_DOMAIN_KUNIT_TEST
#include "tests/ksm_domain_kunit.h"
#endif
