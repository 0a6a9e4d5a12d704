// SPDX-License-Identifier: GPL-2.0
/*
 * KSM patch tier
 *
 * Many pages of virtual machines are not identical to another page but
 * close to one: the same binary relocated, a structure with a few fields
 * changed, a buffer whose content moved by some bytes.  The Difference
 * Engine (Gupta et al., OSDI 2008) stored such pages as patches against a
 * similar reference page and found it its largest saving.  Here the
 * reference pages are KSM pages, which never change while they exist, and
 * a patch is the page compressed by LZ4 with the reference page as
 * dictionary (mm/ksm_patch_codec.c).
 *
 * When ksmd creates a KSM page it hashes the page's comparison points into
 * a direct-mapped similarity index (key -> pfn; a newer page takes the
 * slot); KSM pages made before the tier was turned on are entered as
 * ksmd's scan passes them in the next two full scans.  The keys are salted
 * with the merge domain of the page's stable node (mm/ksm_domain.c) and a
 * random salt, and a candidate serves only a page of its own domain: a
 * patch's length would tell a page's owner how much of another tenant's
 * page it guessed.  When
 * the cold-page tier (mm/ksm_cold.c) pushes a cold page into zswap, ksmd
 * first looks the page's keys up, encodes the page against up to
 * patch_candidates KSM pages found, and keeps the smallest patch if it is
 * at most patch_max_bytes.  The page is copied first and the copy is what
 * is encoded and checksummed: the page is still mapped and may be written
 * (by its process, or by a guest through KVM's mapping) while it is
 * encoded.  zswap_store(), called by ksmd itself from reclaim_pages(),
 * then stores that patch instead of compressing the page, once it has
 * checked that the unmapped page still has the content of the copy; the
 * patch belongs to ksmd and that folio, so no other task's zswap_store()
 * can take it.  The zswap entry holds a reference (struct ksm_patch_ref)
 * on the KSM page, so that the patch can be decoded after every mapper of
 * the KSM page is gone.  That reference does not pin the page: migration
 * (compaction, migrate_pages(), memory offline) counts it as expected,
 * like the swap cache's, and moves it to the new page as the page's
 * stable node moves (ksm_patch_migrate()).  A page kept only for patches
 * costs a page, so patch_references_max caps how many KSM pages serve as
 * references, and once a full scan ksmd copies each KSM page no process
 * maps any more into a page charged to the memory cgroup of the first
 * page patched against it (if it is charged elsewhere), and lets the KSM
 * page go: the cost of a reference is then borne by the patched pages
 * that keep it, and (with kernel memory accounting, the default) a
 * removed cgroup is not kept alive by one.  On
 * swap-in or writeback, zswap rebuilds the page from the patch; a patch
 * that fails its checks is an I/O error and its entry stays, so every
 * access gets SIGBUS and never other content; freeing the last entry
 * drops the reference.  Swapoff, process exit and the memory cgroup
 * accounting of patches are zswap's own: the patch is what the entry
 * stores.
 *
 * Lock order:
 *   ksm_thread_mutex (mm/ksm.c: ksmd's scan)
 *     ksm_patch_mutex (index, work buffers, the pending patch, owner)
 *       ksm_patch_refs_lock (ksm_patch_prepare(), ksm_patch_copy_refs())
 *       folio lock (reclaim_pages() -> zswap_store())
 *         acomp_ctx->mutex (zswap_compress(): ksm_patch_zswap_store())
 *   swap cluster lock / zswap tree (zswap_invalidate())
 *     ksm_patch_refs_lock (never under an LRU lock or with irqs off)
 *   zsmalloc mapping of the patch (zswap_decompress())
 *     ksm_patch_refs_lock
 *   folio locks of a migration (folio_migrate_ksm())
 *     ksm_patch_refs_lock
 *
 * Copyright (C) 2026 KSM++ developers
 */

#define pr_fmt(fmt) "ksm: " fmt

#include <linux/atomic.h>
#include <linux/fault-inject.h>
#include <linux/highmem.h>
#include <linux/kobject.h>
#include <linux/lz4.h>
#include <linux/memcontrol.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/vmalloc.h>
#include <linux/xxhash.h>

#include "internal.h"
#include "ksm_patch.h"
#include "ksm_patch_codec.h"

#define KSM_PATCH_INDEX_ORDER		16
#define KSM_PATCH_INDEX_MASK		((1UL << KSM_PATCH_INDEX_ORDER) - 1)
#define KSM_PATCH_MAX_CANDIDATES	8U
#define KSM_PATCH_MIN_BYTES		64U
/* References ksmd copies at the end of a full scan at most */
#define KSM_PATCH_COPIES_PER_SCAN	1024U

/*
 * Tunables (knobs below; k, s and c of the Difference Engine)
 */
static unsigned int ksm_patch_tier;
static unsigned int ksm_patch_hashes = 4;
static unsigned int ksm_patch_hashes_per_key = 1;
static unsigned int ksm_patch_candidates = 2;
static unsigned int ksm_patch_max_bytes = 2048;
/*
 * KSM pages that may serve as references at most: one that every mapper
 * left stays in memory for its patches.  Set to 1/64 of RAM by
 * ksm_patch_init().
 */
static unsigned int ksm_patch_refs_max;

static DEFINE_MUTEX(ksm_patch_mutex);

/**
 * struct ksm_patch_slot - a slot of the similarity index
 * @key: an index key of a KSM page (ksm_patch_keys())
 * @pfn: that KSM page's pfn when it was indexed; checked when used
 */
struct ksm_patch_slot {
	u64 key;
	unsigned long pfn;
};

/**
 * struct ksm_patch_work - what ksmd needs while the tier is on
 * @index: the similarity index, 1 << %KSM_PATCH_INDEX_ORDER slots
 * @snap: a copy of the page being pushed: what is encoded and checksummed
 * @wrkmem: LZ4 work memory
 * @trial: the patch being tried
 * @best: the smallest patch so far; the pending patch
 * @best_len: its length
 * @ref: the reference the pending patch needs, or NULL
 * @salt: random, chosen with @index: the index keys of a merge domain are
 *        the page's keys hashed with a seed derived from it and the domain
 *
 * Allocated when the tier is turned on, freed when it is turned off;
 * under ksm_patch_mutex.
 */
struct ksm_patch_work {
	struct ksm_patch_slot *index;
	u8 *snap;
	void *wrkmem;
	u8 *trial;
	u8 *best;
	unsigned int best_len;
	struct ksm_patch_ref *ref;
	u64 salt;
};

static struct ksm_patch_work *ksm_patch_work;
/*
 * Full scans left in which ksmd enters the KSM pages it passes into the
 * index: those made while the tier was off or before the index was
 * emptied.  Two, as the scan under way when it was set is a partial one.
 */
static unsigned int ksm_patch_backfill_scans;
/*
 * The folio whose patch waits in ksm_patch_work->best for zswap_store(),
 * and the task that may store it: ksmd, from its own reclaim_pages().
 * Set and cleared by that task under ksm_patch_mutex; other tasks only
 * compare the owner with themselves.
 */
static struct folio *ksm_patch_pending;
static struct task_struct *ksm_patch_owner;

#ifdef CONFIG_KSM_PATCH_FAULT_INJECTION
/* Fails decodes of patched pages: fail_ksm_patch_decode in debugfs. */
static DECLARE_FAULT_ATTR(ksm_patch_fail_decode);

static bool ksm_patch_should_fail_decode(void)
{
	return should_fail(&ksm_patch_fail_decode, 1);
}

static int __init ksm_patch_fault_init(void)
{
	/* Without debugfs nothing is ever injected: not an error. */
	fault_create_debugfs_attr("fail_ksm_patch_decode", NULL,
				  &ksm_patch_fail_decode);
	return 0;
}
late_initcall(ksm_patch_fault_init);
#else
static bool ksm_patch_should_fail_decode(void)
{
	return false;
}
#endif /* CONFIG_KSM_PATCH_FAULT_INJECTION */

/**
 * struct ksm_patch_ref - a KSM page that patches are decoded against
 * @node: in ksm_patch_refs, sorted by @pfn
 * @folio: the page, referenced once for all its users
 * @pfn: its pfn
 * @users: zswap entries (and the pending patch) that use it
 * @objcg: the memory cgroup of the first page patched against it, or NULL
 *	(the root, or no memory cgroups); set (once, with @charged) and read
 *	by ksmd under ksm_patch_mutex
 * @charged: @objcg is set
 * @copied: @folio is the tier's copy of a KSM page no process mapped any
 *	more (ksm_patch_copy_refs()), not a KSM page
 *
 * When the page migrates, @folio and @pfn follow it (ksm_patch_migrate());
 * both, and @copied, are read and changed under ksm_patch_refs_lock only.
 */
struct ksm_patch_ref {
	struct rb_node node;
	struct folio *folio;
	unsigned long pfn;
	refcount_t users;
	struct obj_cgroup *objcg;
	bool charged;
	bool copied;
};

static struct rb_root ksm_patch_refs = RB_ROOT;
static DEFINE_SPINLOCK(ksm_patch_refs_lock);
/* Where ksm_patch_copy_refs() goes on (ksm_patch_mutex) */
static unsigned long ksm_patch_copy_pfn;

/* Statistics */
static atomic_long_t ksm_patch_pages = ATOMIC_LONG_INIT(0);
static atomic_long_t ksm_patch_bytes = ATOMIC_LONG_INIT(0);
static atomic_long_t ksm_patch_nr_refs = ATOMIC_LONG_INIT(0);
static atomic_long_t ksm_patch_nr_copied = ATOMIC_LONG_INIT(0);
static atomic_long_t ksm_patch_faults = ATOMIC_LONG_INIT(0);
static unsigned long ksm_patch_tried;
static unsigned long ksm_patch_rejected;
static unsigned long ksm_patch_capped;
static unsigned long ksm_patch_changed;

/* The reference with the lowest pfn >= @pfn; under ksm_patch_refs_lock. */
static struct ksm_patch_ref *ksm_patch_ref_from(unsigned long pfn)
{
	struct rb_node *node = ksm_patch_refs.rb_node;
	struct ksm_patch_ref *found = NULL;

	while (node) {
		struct ksm_patch_ref *ref = rb_entry(node, struct ksm_patch_ref,
						     node);

		if (ref->pfn >= pfn) {
			found = ref;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	return found;
}

/* The reference to @folio, if any; under ksm_patch_refs_lock. */
static struct ksm_patch_ref *ksm_patch_ref_find(struct folio *folio)
{
	struct ksm_patch_ref *ref = ksm_patch_ref_from(folio_pfn(folio));

	return ref && ref->folio == folio ? ref : NULL;
}

static bool ksm_patch_ref_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct ksm_patch_ref, node)->pfn <
	       rb_entry(b, struct ksm_patch_ref, node)->pfn;
}

/*
 * Take a reference on the folio of a reference.  Migration of a KSM page
 * in the swap cache freezes its refcount at what it expects, the tier's
 * reference included (ksm_patch_folio_refs()), and sets it again when
 * done: a reference taken or dropped meanwhile would be lost.  So wait
 * for the count to thaw; the tier's own reference keeps it above zero
 * otherwise.
 */
static void ksm_patch_folio_get(struct folio *folio)
{
	while (!folio_try_get(folio))
		cpu_relax();
}

/* Drop the tier's reference on @folio, not while its count is frozen. */
static void ksm_patch_folio_put(struct folio *folio)
{
	/* With one more taken, no freeze can succeed before both go. */
	ksm_patch_folio_get(folio);
	folio_put_refs(folio, 2);
}

static struct ksm_patch_ref *ksm_patch_ref_get(struct folio *kfolio)
{
	struct ksm_patch_ref *ref, *new;

	spin_lock(&ksm_patch_refs_lock);
	ref = ksm_patch_ref_find(kfolio);
	if (ref)
		refcount_inc(&ref->users);
	spin_unlock(&ksm_patch_refs_lock);
	if (ref)
		return ref;

	new = kmalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return NULL;
	spin_lock(&ksm_patch_refs_lock);
	/*
	 * Only ksmd adds references, but the page may have migrated since
	 * ksmd found it: the old folio has no stable node any more, cleared
	 * before ksm_patch_migrate() takes this lock and moves references.
	 */
	if (folio_test_ksm(kfolio) && !folio_raw_mapping(kfolio)) {
		spin_unlock(&ksm_patch_refs_lock);
		kfree(new);
		return NULL;
	}
	/* Or a migration moved a reference onto it (a reused pfn). */
	ref = ksm_patch_ref_find(kfolio);
	if (ref) {
		refcount_inc(&ref->users);
		spin_unlock(&ksm_patch_refs_lock);
		kfree(new);
		return ref;
	}
	/* The caller's reference keeps the count from being frozen. */
	folio_get(kfolio);
	new->folio = kfolio;
	new->pfn = folio_pfn(kfolio);
	refcount_set(&new->users, 1);
	new->objcg = NULL;
	new->charged = false;
	new->copied = false;
	rb_add(&new->node, &ksm_patch_refs, ksm_patch_ref_less);
	atomic_long_inc(&ksm_patch_nr_refs);
	spin_unlock(&ksm_patch_refs_lock);
	return new;
}

static void ksm_patch_ref_put(struct ksm_patch_ref *ref)
{
	struct folio *folio;

	if (!refcount_dec_and_lock(&ref->users, &ksm_patch_refs_lock))
		return;
	rb_erase(&ref->node, &ksm_patch_refs);
	folio = ref->folio;
	atomic_long_dec(&ksm_patch_nr_refs);
	if (ref->copied)
		atomic_long_dec(&ksm_patch_nr_copied);
	spin_unlock(&ksm_patch_refs_lock);
	ksm_patch_folio_put(folio);
	if (ref->objcg)
		obj_cgroup_put(ref->objcg);
	kfree(ref);
}

/* The reference's folio, referenced: wherever the page migrated to. */
static struct folio *ksm_patch_ref_folio(struct ksm_patch_ref *ref)
{
	struct folio *folio;

	spin_lock(&ksm_patch_refs_lock);
	folio = ref->folio;
	ksm_patch_folio_get(folio);
	spin_unlock(&ksm_patch_refs_lock);
	return folio;
}

/**
 * ksm_patch_folio_refs() - references the patch tier holds on a folio
 * @folio: a folio being migrated, locked
 *
 * Migration counts these as expected references, like the swap cache's:
 * ksm_patch_migrate() moves them to the new folio.
 *
 * Return: 1 if @folio is a KSM page patches are decoded against, else 0.
 */
int ksm_patch_folio_refs(struct folio *folio)
{
	int refs;

	if (!folio_test_ksm(folio) || !atomic_long_read(&ksm_patch_nr_refs))
		return 0;
	spin_lock(&ksm_patch_refs_lock);
	refs = !!ksm_patch_ref_find(folio);
	spin_unlock(&ksm_patch_refs_lock);
	return refs;
}

/**
 * ksm_patch_maybe_ref() - may the patch tier hold a reference on a folio?
 * @folio: a folio, referenced by the caller
 *
 * For compaction's racy check for pinned pages, which may run under the
 * LRU lock: no lock taken, and a yes may be wrong (migration then checks).
 *
 * Return: true if @folio is a KSM page and the tier holds references.
 */
bool ksm_patch_maybe_ref(struct folio *folio)
{
	return folio_test_ksm(folio) &&
	       atomic_long_read(&ksm_patch_nr_refs) > 0;
}

/**
 * ksm_patch_migrate() - a KSM page that patches use has migrated
 * @newfolio: the page's new folio, locked
 * @folio: the old folio, locked, its stable node already moved
 *
 * The tier's reference moves to @newfolio: patches are decoded against
 * the new page, and the old one is freed when migration drops it.  Not to
 * device memory (device-private migration does not count the reference):
 * there the reference stays on the old folio, which stays valid.
 *
 * Context: folio_migrate_ksm(), from migration, after the refcount was
 * thawed; no spinlock held.
 */
void ksm_patch_migrate(struct folio *newfolio, struct folio *folio)
{
	struct ksm_patch_ref *ref;

	if (folio_is_zone_device(newfolio))
		return;
	spin_lock(&ksm_patch_refs_lock);
	ref = ksm_patch_ref_find(folio);
	if (ref) {
		rb_erase(&ref->node, &ksm_patch_refs);
		folio_get(newfolio);
		ref->folio = newfolio;
		ref->pfn = folio_pfn(newfolio);
		rb_add(&ref->node, &ksm_patch_refs, ksm_patch_ref_less);
	}
	spin_unlock(&ksm_patch_refs_lock);
	/* Migration holds a reference of its own: this never frees it. */
	if (ref)
		ksm_patch_folio_put(folio);
}

/* The KSM folio at @pfn, referenced, if it still is one. */
static struct folio *ksm_patch_get_ksm_folio(unsigned long pfn)
{
	struct page *page = pfn_to_online_page(pfn);
	struct folio *folio;

	if (!page)
		return NULL;
	folio = page_folio(page);
	if (!folio_try_get(folio))
		return NULL;
	if (page_folio(page) != folio || !folio_test_ksm(folio) ||
	    folio_test_large(folio)) {
		folio_put(folio);
		return NULL;
	}
	return folio;
}

/*
 * The seed of the index keys of pages of merge @domain: a page of one
 * domain finds only KSM pages of its own (ksm_folio_in_domain() checks
 * what a collision of two keys would let through).  Derived from a random
 * salt, so that no process can tell which slots another domain's pages
 * take, domain 0 (everyone's under merge_domains "none") included.
 */
static u64 ksm_patch_domain_salt(const struct ksm_patch_work *w, u64 domain)
{
	return xxh64(&domain, sizeof(domain), w->salt);
}

/*
 * The index key of similarity key @key under @seed: hashed again, not
 * XORed, so that two keys that share a slot in one domain do not share
 * one in every domain.
 */
static u64 ksm_patch_index_key(u64 key, u64 seed)
{
	return xxh64(&key, sizeof(key), seed);
}

/* Enter @page, the KSM page at @pfn, into @w's index under @domain. */
static void ksm_patch_index_page(struct ksm_patch_work *w, const void *page,
				 unsigned long pfn, u64 domain)
{
	u64 feat[KSM_PATCH_MAX_HASHES], keys[KSM_PATCH_MAX_KEYS];
	u64 salt = ksm_patch_domain_salt(w, domain);
	unsigned int k = ksm_patch_hashes, n, i;

	ksm_patch_features(page, k, feat);
	n = ksm_patch_keys(feat, k, ksm_patch_hashes_per_key, keys);
	for (i = 0; i < n; i++) {
		u64 key = ksm_patch_index_key(keys[i], salt);
		struct ksm_patch_slot *slot;

		slot = &w->index[key & KSM_PATCH_INDEX_MASK];
		slot->key = key;
		slot->pfn = pfn;
	}
}

/**
 * ksm_patch_index() - enter a new KSM page into the similarity index
 * @kfolio: the KSM page, referenced by the caller
 * @domain: the merge domain of @kfolio's stable node
 *
 * Context: ksmd, after stable_tree_insert(), with no page lock held.
 */
void ksm_patch_index(struct folio *kfolio, u64 domain)
{
	void *addr;

	if (!READ_ONCE(ksm_patch_tier))
		return;
	mutex_lock(&ksm_patch_mutex);
	if (ksm_patch_work) {
		addr = kmap_local_folio(kfolio, 0);
		ksm_patch_index_page(ksm_patch_work, addr, folio_pfn(kfolio),
				     domain);
		kunmap_local(addr);
	}
	mutex_unlock(&ksm_patch_mutex);
}

/**
 * ksm_patch_backfill() - index a KSM page made before the index was ready
 * @kfolio: the KSM page ksmd's scan found a mapping of, referenced
 * @domain: the merge domain of @kfolio's stable node
 *
 * The index is filled as KSM pages are made; KSM pages made while the
 * tier was off, or before a knob change emptied the index, are entered
 * as ksmd passes them in the two full scans that follow.
 *
 * Context: ksmd, no page lock held.
 */
void ksm_patch_backfill(struct folio *kfolio, u64 domain)
{
	if (READ_ONCE(ksm_patch_backfill_scans))
		ksm_patch_index(kfolio, domain);
}

/* Is @folio charged to the memory cgroup a copy of @ref would be? */
static bool ksm_patch_charged_there(struct ksm_patch_ref *ref,
				    struct folio *folio)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *want = root_mem_cgroup;
	bool same;

	/* Without kernel memory accounting the copy is charged nowhere. */
	if (mem_cgroup_disabled() || !memcg_kmem_online())
		return true;
	rcu_read_lock();
	if (ref->objcg)
		want = obj_cgroup_memcg(ref->objcg);
	same = folio_memcg(folio) == want;
	rcu_read_unlock();
	return same;
#else
	return true;
#endif
}

/*
 * Copy the page of @ref, @folio (referenced by the caller), a KSM page no
 * process uses and not charged where its patches are
 * (ksm_patch_ref_wants_copy()), into a page charged to the memory cgroup
 * of the first page patched against it, and drop the KSM page.  (A KSM
 * page charged there already stays, and can migrate.)  The copy is kernel
 * memory: a removed cgroup's charge moves to its parent, as for zswap's
 * entries, so no copy keeps a removed cgroup alive.  Poisoned pages are
 * not copied.  Never waits for memory: no reclaim, and no memory.high
 * throttling of ksmd on a cgroup's behalf; a copy that fails is tried
 * again at a later full scan.  Context: ksmd (ksm_thread_mutex).
 */
static void ksm_patch_copy_ref(struct ksm_patch_ref *ref, struct folio *folio)
{
	struct mem_cgroup *memcg, *old;
	struct page *page;
	bool ok;

	memcg = ref->objcg ? get_mem_cgroup_from_objcg(ref->objcg) : NULL;
	old = set_active_memcg(memcg);
	page = alloc_page(GFP_NOWAIT | __GFP_ACCOUNT | __GFP_NOWARN);
	set_active_memcg(old);
	mem_cgroup_put(memcg);
	if (!page)
		return;
	/*
	 * Migration holds the folio lock from before it unmaps the page
	 * until the reference follows the new page (ksm_patch_migrate()); in
	 * between, the old page looks unused (its stable node is gone).
	 */
	if (!folio_trylock(folio)) {
		__free_page(page);
		return;
	}
	/* A KSM page never changes; but it may be poisoned. */
	if (copy_mc_highpage(page, folio_page(folio, 0))) {
		folio_unlock(folio);
		__free_page(page);
		return;
	}
	spin_lock(&ksm_patch_refs_lock);
	/* Migrated, or mapped again by a merge: not now. */
	ok = ref->folio == folio && !folio_mapped(folio) &&
	     ksm_folio_unused(folio);
	if (ok) {
		rb_erase(&ref->node, &ksm_patch_refs);
		ref->folio = page_folio(page);
		ref->pfn = page_to_pfn(page);
		ref->copied = true;
		rb_add(&ref->node, &ksm_patch_refs, ksm_patch_ref_less);
		atomic_long_inc(&ksm_patch_nr_copied);
	}
	spin_unlock(&ksm_patch_refs_lock);
	folio_unlock(folio);
	if (!ok) {
		__free_page(page);
		return;
	}
	ksm_patch_folio_put(folio);
}

/*
 * Does @ref want a copy?  Its page is a KSM page nobody uses but the tier
 * (no mapping, no rmap_item), not charged where the copy would be.
 * Context: ksm_patch_mutex (@ref->charged), ksm_patch_refs_lock.
 */
static bool ksm_patch_ref_wants_copy(struct ksm_patch_ref *ref)
{
	struct folio *folio = ref->folio;

	return ref->charged && !ref->copied && !folio_mapped(folio) &&
	       !folio_test_hwpoison(folio) && ksm_folio_unused(folio) &&
	       !ksm_patch_charged_there(ref, folio);
}

/*
 * The first reference at or after *@pfn that wants a copy, with a user
 * and a folio reference taken (in *@folio); *@pfn moves past it.  NULL
 * after 1024 references without one, or at the end, where *@end is set.
 */
static struct ksm_patch_ref *ksm_patch_next_to_copy(unsigned long *pfn,
						    struct folio **folio,
						    bool *end)
{
	struct ksm_patch_ref *ref;
	struct rb_node *node;
	unsigned int seen = 0;

	spin_lock(&ksm_patch_refs_lock);
	ref = ksm_patch_ref_from(*pfn);
	while (ref && !ksm_patch_ref_wants_copy(ref)) {
		*pfn = ref->pfn + 1;
		node = rb_next(&ref->node);
		ref = node ? rb_entry(node, struct ksm_patch_ref, node) : NULL;
		if (ref && ++seen == 1024) {
			spin_unlock(&ksm_patch_refs_lock);
			return NULL;
		}
	}
	*end = !ref;
	if (ref) {
		*pfn = ref->pfn + 1;
		*folio = ref->folio;
		ksm_patch_folio_get(*folio);
		refcount_inc(&ref->users);
	}
	spin_unlock(&ksm_patch_refs_lock);
	return ref;
}

/*
 * Copy the references that want it (ksm_patch_copy_ref()): at most
 * KSM_PATCH_COPIES_PER_SCAN tries, from where the last call stopped, so
 * that copies which keep failing (no memory in the cgroup) do not hold
 * up those after them; after the last reference, the next call starts
 * from the first.
 */
static void ksm_patch_copy_refs(void)
{
	unsigned int tries = 0;
	struct ksm_patch_ref *ref;
	unsigned long pfn = ksm_patch_copy_pfn;
	struct folio *folio;
	bool end = false;

	lockdep_assert_held(&ksm_patch_mutex);
	if (!atomic_long_read(&ksm_patch_nr_refs))
		return;
	while (!end && tries < KSM_PATCH_COPIES_PER_SCAN) {
		ref = ksm_patch_next_to_copy(&pfn, &folio, &end);
		if (ref) {
			ksm_patch_copy_ref(ref, folio);
			ksm_patch_folio_put(folio);
			ksm_patch_ref_put(ref);
			tries++;
		}
		cond_resched();
	}
	ksm_patch_copy_pfn = end ? 0 : pfn;
}

/**
 * ksm_patch_scan_done() - ksmd finished a full scan
 *
 * Context: ksmd.
 */
void ksm_patch_scan_done(void)
{
	mutex_lock(&ksm_patch_mutex);
	if (ksm_patch_backfill_scans)
		ksm_patch_backfill_scans--;
	ksm_patch_copy_refs();
	mutex_unlock(&ksm_patch_mutex);
}

/*
 * The distinct pfns @w's index holds for @page's keys in @domain, at most
 * @max.
 */
static unsigned int ksm_patch_candidates_of(struct ksm_patch_work *w,
					    const void *page, u64 domain,
					    unsigned long *pfns,
					    unsigned int max)
{
	u64 feat[KSM_PATCH_MAX_HASHES], keys[KSM_PATCH_MAX_KEYS];
	u64 salt = ksm_patch_domain_salt(w, domain);
	unsigned int k = ksm_patch_hashes, n, i, j, nr = 0;

	ksm_patch_features(page, k, feat);
	n = ksm_patch_keys(feat, k, ksm_patch_hashes_per_key, keys);
	for (i = 0; i < n && nr < max; i++) {
		u64 key = ksm_patch_index_key(keys[i], salt);
		struct ksm_patch_slot *slot;

		slot = &w->index[key & KSM_PATCH_INDEX_MASK];
		if (slot->key != key)
			continue;
		for (j = 0; j < nr && pfns[j] != slot->pfn; j++)
			;
		if (j == nr)
			pfns[nr++] = slot->pfn;
	}
	return nr;
}

/*
 * Copy @folio into the work buffer that is encoded and checksummed: the
 * folio is mapped, and may be written, while ksmd encodes it, and a patch
 * must rebuild exactly the bytes its checksum was computed over.
 */
static void ksm_patch_snapshot(struct ksm_patch_work *w, struct folio *folio)
{
	memcpy_from_folio((char *)w->snap, folio, 0, PAGE_SIZE);
}

/* Encode the snapshot against KSM page @kfolio into w->trial. */
static int ksm_patch_try(struct ksm_patch_work *w, struct folio *kfolio,
			 unsigned int max)
{
	void *ref = kmap_local_folio(kfolio, 0);
	int len;

	len = ksm_patch_encode(w->snap, ref, w->trial, max, w->wrkmem);
	kunmap_local(ref);
	return len;
}

/* The pending patch is for @folio, and only the calling task may store it. */
static void ksm_patch_set_pending(struct folio *folio)
{
	lockdep_assert_held(&ksm_patch_mutex);
	WRITE_ONCE(ksm_patch_pending, folio);
	WRITE_ONCE(ksm_patch_owner, current);
}

/**
 * ksm_patch_prepare() - find a patch for a page ksmd is about to push out
 * @folio: the cold page, isolated by ksmd
 * @domain: the merge domain of @folio's mm
 *
 * Encodes a copy of @folio against the KSM pages of its merge domain
 * that its keys find (never another domain's: a patch's length would
 * tell how much of that page's content @folio shares) and keeps
 * the smallest patch within patch_max_bytes as the pending patch, which
 * zswap_store() takes instead of compressing @folio if ksmd itself stores
 * @folio and its content is still that of the copy.
 *
 * Context: ksmd; takes ksm_patch_mutex, which ksm_patch_finish() drops
 * once the page was reclaimed (or not).
 */
void ksm_patch_prepare(struct folio *folio, u64 domain)
{
	unsigned long pfns[KSM_PATCH_MAX_CANDIDATES];
	struct ksm_patch_work *w;
	struct folio *best = NULL;
	bool full, capped = false;
	unsigned int nr, i;

	mutex_lock(&ksm_patch_mutex);
	w = ksm_patch_work;
	if (!READ_ONCE(ksm_patch_tier) || !w || folio_test_large(folio))
		return;
	w->best_len = 0;
	ksm_patch_snapshot(w, folio);
	nr = ksm_patch_candidates_of(w, w->snap, domain, pfns,
				     ksm_patch_candidates);
	/* Only ksmd adds references: the count cannot grow meanwhile. */
	full = atomic_long_read(&ksm_patch_nr_refs) >=
	       READ_ONCE(ksm_patch_refs_max);
	for (i = 0; i < nr; i++) {
		unsigned int max = w->best_len ? w->best_len - 1 :
				   ksm_patch_max_bytes;
		struct folio *kfolio;
		int len;

		kfolio = ksm_patch_get_ksm_folio(pfns[i]);
		if (!kfolio)
			continue;
		if (!ksm_folio_in_domain(kfolio, domain)) {
			folio_put(kfolio);
			continue;
		}
		/* At the cap, only pages referenced already serve. */
		if (full && !ksm_patch_folio_refs(kfolio)) {
			folio_put(kfolio);
			capped = true;
			continue;
		}
		len = ksm_patch_try(w, kfolio, max);
		WRITE_ONCE(ksm_patch_tried, ksm_patch_tried + 1);
		if (len < 0) {
			folio_put(kfolio);
			continue;
		}
		swap(w->trial, w->best);
		w->best_len = len;
		if (best)
			folio_put(best);
		best = kfolio;
	}
	if (!best) {
		if (capped)
			WRITE_ONCE(ksm_patch_capped, ksm_patch_capped + 1);
		else if (nr)
			WRITE_ONCE(ksm_patch_rejected, ksm_patch_rejected + 1);
		return;
	}
	w->ref = ksm_patch_ref_get(best);
	folio_put(best);
	if (w->ref)
		ksm_patch_set_pending(folio);
}

/**
 * ksm_patch_finish() - forget a patch zswap did not take; unlock
 *
 * Context: ksmd, after ksm_patch_prepare() and reclaim_pages().
 */
void ksm_patch_finish(void)
{
	WRITE_ONCE(ksm_patch_owner, NULL);
	WRITE_ONCE(ksm_patch_pending, NULL);
	if (ksm_patch_work && ksm_patch_work->ref) {
		ksm_patch_ref_put(ksm_patch_work->ref);
		ksm_patch_work->ref = NULL;
	}
	mutex_unlock(&ksm_patch_mutex);
}

/**
 * ksm_patch_zswap_store() - hand zswap the patch of the folio it stores
 * @folio: the folio zswap_store() is storing, locked and unmapped
 * @dst: where the patch goes, at least %KSM_PATCH_BUF_SIZE bytes
 * @ref: the reference the patch needs, out
 *
 * Only the folio ksmd prepared a patch for has one, only when ksmd itself
 * stores it (from its reclaim_pages(), within ksm_patch_prepare() and
 * ksm_patch_finish()): the same folio reclaimed later by kswapd or direct
 * reclaim is compressed as usual.  And only if its content still is the
 * copy the patch rebuilds: it was mapped, and maybe written, until
 * reclaim unmapped it.
 *
 * Return: the patch's length, with *@ref set and held for the entry
 * until ksm_patch_zswap_free(); 0 to compress the folio as usual.
 */
unsigned int ksm_patch_zswap_store(struct folio *folio, u8 *dst,
				   struct ksm_patch_ref **ref)
{
	const struct ksm_patch_hdr *hdr;
	struct ksm_patch_work *w;
	unsigned int len;
	void *addr;
	u64 csum;

	if (likely(READ_ONCE(ksm_patch_owner) != current))
		return 0;
	/* ksmd itself, in reclaim_pages() under ksm_patch_mutex. */
	lockdep_assert_held(&ksm_patch_mutex);
	if (ksm_patch_pending != folio)
		return 0;
	WRITE_ONCE(ksm_patch_pending, NULL);
	w = ksm_patch_work;
	if (WARN_ON_ONCE(!w || !w->ref || !w->best_len))
		return 0;
	addr = kmap_local_folio(folio, 0);
	csum = xxh64(addr, PAGE_SIZE, 0);
	kunmap_local(addr);
	hdr = (const struct ksm_patch_hdr *)w->best;
	if (csum != le64_to_cpu(hdr->csum)) {
		WRITE_ONCE(ksm_patch_changed, ksm_patch_changed + 1);
		return 0;
	}
	len = w->best_len;
	memcpy(dst, w->best, len);
	if (!w->ref->charged) {
		w->ref->objcg = get_obj_cgroup_from_folio(folio);
		w->ref->charged = true;
	}
	*ref = w->ref;
	w->ref = NULL;
	atomic_long_inc(&ksm_patch_pages);
	atomic_long_add(len, &ksm_patch_bytes);
	return len;
}

/**
 * ksm_patch_zswap_load() - rebuild a patched page
 * @ref: the entry's reference
 * @src: the patch
 * @len: its length
 * @folio: the folio to fill
 *
 * Return: 0, or a negative error if the patch failed its checks (or
 * fail_ksm_patch_decode injected a failure): the folio's content is then
 * undefined and must not be used, and the entry must stay.
 */
int ksm_patch_zswap_load(struct ksm_patch_ref *ref, const u8 *src,
			 unsigned int len, struct folio *folio)
{
	struct folio *kfolio = ksm_patch_ref_folio(ref);
	void *dst, *base;
	int err;

	dst = kmap_local_folio(folio, 0);
	base = kmap_local_folio(kfolio, 0);
	err = ksm_patch_decode(src, len, base, dst);
	kunmap_local(base);
	kunmap_local(dst);
	if (!err && ksm_patch_should_fail_decode())
		err = -EBADMSG;
	atomic_long_inc(&ksm_patch_faults);
	if (err)
		pr_err_ratelimited("patch of %u bytes against pfn %#lx rejected (%d)\n",
				   len, folio_pfn(kfolio), err);
	folio_put(kfolio);
	return err;
}

/**
 * ksm_patch_zswap_free() - a patched zswap entry is freed
 * @ref: its reference
 * @len: the patch's length
 */
void ksm_patch_zswap_free(struct ksm_patch_ref *ref, unsigned int len)
{
	atomic_long_dec(&ksm_patch_pages);
	atomic_long_sub(len, &ksm_patch_bytes);
	ksm_patch_ref_put(ref);
}

static void ksm_patch_work_free(struct ksm_patch_work *w)
{
	if (!w)
		return;
	vfree(w->index);
	kfree(w->snap);
	kfree(w->wrkmem);
	kfree(w->trial);
	kfree(w->best);
	kfree(w);
}

static struct ksm_patch_work *ksm_patch_work_alloc(void)
{
	struct ksm_patch_work *w = kzalloc(sizeof(*w), GFP_KERNEL);

	if (!w)
		return NULL;
	w->index = vzalloc(sizeof(*w->index) << KSM_PATCH_INDEX_ORDER);
	w->snap = kmalloc(PAGE_SIZE, GFP_KERNEL);
	w->wrkmem = kmalloc(LZ4_MEM_COMPRESS, GFP_KERNEL);
	w->trial = kmalloc(KSM_PATCH_BUF_SIZE, GFP_KERNEL);
	w->best = kmalloc(KSM_PATCH_BUF_SIZE, GFP_KERNEL);
	if (!w->index || !w->snap || !w->wrkmem || !w->trial || !w->best) {
		ksm_patch_work_free(w);
		return NULL;
	}
	w->salt = get_random_u64();
	return w;
}

#ifdef CONFIG_SYSFS
static ssize_t patch_tier_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_patch_tier));
}

static ssize_t patch_tier_store(struct kobject *kobj,
				struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	struct ksm_patch_work *w = NULL;
	unsigned int enable;
	ssize_t ret = count;

	if (kstrtouint(buf, 10, &enable) || enable > 1)
		return -EINVAL;
	mutex_lock(&ksm_patch_mutex);
	if (enable && !ksm_patch_work) {
		ksm_patch_work = ksm_patch_work_alloc();
		if (!ksm_patch_work)
			ret = -ENOMEM;
		else
			WRITE_ONCE(ksm_patch_backfill_scans, 2);
	} else if (!enable && ksm_patch_work) {
		/* Stored patches keep their references. */
		w = ksm_patch_work;
		ksm_patch_work = NULL;
	}
	if (ret > 0)
		WRITE_ONCE(ksm_patch_tier, enable);
	mutex_unlock(&ksm_patch_mutex);
	ksm_patch_work_free(w);
	return ret;
}

static struct kobj_attribute patch_tier_attr = __ATTR_RW(patch_tier);

/**
 * struct ksm_patch_knob - a sysfs knob taking an integer in a range
 * @attr: the sysfs attribute
 * @value: the tunable it sets
 * @min: smallest value accepted
 * @max: largest value accepted
 * @reindex: a change makes the index keys differ: empty the index
 */
struct ksm_patch_knob {
	struct kobj_attribute attr;
	unsigned int *value;
	unsigned int min;
	unsigned int max;
	bool reindex;
};

static ssize_t ksm_patch_knob_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	struct ksm_patch_knob *knob = container_of(attr, struct ksm_patch_knob,
						   attr);

	return sysfs_emit(buf, "%u\n", READ_ONCE(*knob->value));
}

/* Bad values get -EINVAL and change nothing; s may not exceed k. */
static ssize_t ksm_patch_knob_store(struct kobject *kobj,
				    struct kobj_attribute *attr,
				    const char *buf, size_t count)
{
	struct ksm_patch_knob *knob = container_of(attr, struct ksm_patch_knob,
						   attr);
	unsigned int value, k, s;

	if (kstrtouint(buf, 10, &value) || value < knob->min ||
	    value > knob->max)
		return -EINVAL;
	mutex_lock(&ksm_patch_mutex);
	k = knob->value == &ksm_patch_hashes ? value : ksm_patch_hashes;
	s = knob->value == &ksm_patch_hashes_per_key ? value :
	    ksm_patch_hashes_per_key;
	if (s > k) {
		mutex_unlock(&ksm_patch_mutex);
		return -EINVAL;
	}
	if (knob->reindex && ksm_patch_work && *knob->value != value) {
		memset(ksm_patch_work->index, 0,
		       sizeof(*ksm_patch_work->index) << KSM_PATCH_INDEX_ORDER);
		WRITE_ONCE(ksm_patch_backfill_scans, 2);
	}
	WRITE_ONCE(*knob->value, value);
	mutex_unlock(&ksm_patch_mutex);
	return count;
}

#define KSM_PATCH_KNOB(_name, _value, _min, _max, _reindex)		\
static struct ksm_patch_knob _name##_attr = {				\
	.attr = __ATTR(_name, 0644, ksm_patch_knob_show,		\
		       ksm_patch_knob_store),				\
	.value = _value,						\
	.min = _min,							\
	.max = _max,							\
	.reindex = _reindex,						\
}

KSM_PATCH_KNOB(patch_hashes, &ksm_patch_hashes, 1, KSM_PATCH_MAX_HASHES,
	       true);
KSM_PATCH_KNOB(patch_hashes_per_key, &ksm_patch_hashes_per_key, 1,
	       KSM_PATCH_MAX_HASHES, true);
KSM_PATCH_KNOB(patch_candidates, &ksm_patch_candidates, 1,
	       KSM_PATCH_MAX_CANDIDATES, false);
KSM_PATCH_KNOB(patch_max_bytes, &ksm_patch_max_bytes, KSM_PATCH_MIN_BYTES,
	       PAGE_SIZE / 2, false);
KSM_PATCH_KNOB(patch_references_max, &ksm_patch_refs_max, 0, UINT_MAX,
	       false);

/*
 * The counters are readable by root only: how many bytes patches take and
 * how encodings turn out tell a process how much of its cold pages'
 * content is found in KSM pages, which may be another tenant's when
 * merge_domains is "none" - a compression oracle on their content.
 */
#define KSM_PATCH_STAT(_name, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%llu\n", (u64)(_expr));		\
}									\
static struct kobj_attribute _name##_attr = __ATTR_RO_MODE(_name, 0400)

/*
 * References that no process maps any more: each is a page kept only for
 * the patches against it.  A walk of the references, dropping the
 * lock every 1024 of them.
 */
static unsigned long ksm_patch_unmapped_refs(void)
{
	unsigned long n = 0, seen = 0, pfn;
	struct ksm_patch_ref *ref;
	struct rb_node *node;

	spin_lock(&ksm_patch_refs_lock);
	node = rb_first(&ksm_patch_refs);
	while (node) {
		ref = rb_entry(node, struct ksm_patch_ref, node);
		if (!folio_mapped(ref->folio))
			n++;
		node = rb_next(node);
		if (!node || ++seen % 1024)
			continue;
		/* Go on after this pfn: references may move while unlocked. */
		pfn = ref->pfn;
		spin_unlock(&ksm_patch_refs_lock);
		cond_resched();
		spin_lock(&ksm_patch_refs_lock);
		ref = ksm_patch_ref_from(pfn + 1);
		node = ref ? &ref->node : NULL;
	}
	spin_unlock(&ksm_patch_refs_lock);
	return n;
}

static u64 ksm_patch_saved(void)
{
	long pages = atomic_long_read(&ksm_patch_pages);
	long bytes = atomic_long_read(&ksm_patch_bytes);
	u64 cost;

	if (pages <= 0 || bytes < 0)
		return 0;
	cost = bytes + (u64)ksm_patch_unmapped_refs() * PAGE_SIZE;
	return (u64)pages * PAGE_SIZE > cost ? (u64)pages * PAGE_SIZE - cost : 0;
}

KSM_PATCH_STAT(patch_pages, max(atomic_long_read(&ksm_patch_pages), 0L));
KSM_PATCH_STAT(patch_bytes, max(atomic_long_read(&ksm_patch_bytes), 0L));
KSM_PATCH_STAT(patch_references,
	       max(atomic_long_read(&ksm_patch_nr_refs), 0L));
KSM_PATCH_STAT(patch_references_unmapped, ksm_patch_unmapped_refs());
KSM_PATCH_STAT(patch_references_copied,
	       max(atomic_long_read(&ksm_patch_nr_copied), 0L));
KSM_PATCH_STAT(patch_faults, atomic_long_read(&ksm_patch_faults));
KSM_PATCH_STAT(patch_bytes_saved, ksm_patch_saved());
KSM_PATCH_STAT(patch_tried, READ_ONCE(ksm_patch_tried));
KSM_PATCH_STAT(patch_rejected, READ_ONCE(ksm_patch_rejected));
KSM_PATCH_STAT(patch_capped, READ_ONCE(ksm_patch_capped));
KSM_PATCH_STAT(patch_changed, READ_ONCE(ksm_patch_changed));

static struct attribute *ksm_patch_attrs[] = {
	&patch_tier_attr.attr,
	&patch_hashes_attr.attr.attr,
	&patch_hashes_per_key_attr.attr.attr,
	&patch_candidates_attr.attr.attr,
	&patch_max_bytes_attr.attr.attr,
	&patch_references_max_attr.attr.attr,
	&patch_pages_attr.attr,
	&patch_bytes_attr.attr,
	&patch_references_attr.attr,
	&patch_references_unmapped_attr.attr,
	&patch_references_copied_attr.attr,
	&patch_faults_attr.attr,
	&patch_bytes_saved_attr.attr,
	&patch_tried_attr.attr,
	&patch_rejected_attr.attr,
	&patch_capped_attr.attr,
	&patch_changed_attr.attr,
	NULL,
};

static const struct attribute_group ksm_patch_attr_group = {
	.attrs = ksm_patch_attrs,
	.name = "ksm",
};

static int ksm_patch_sysfs_init(struct kobject *kobj)
{
	return sysfs_merge_group(kobj, &ksm_patch_attr_group);
}
#else
static int ksm_patch_sysfs_init(struct kobject *kobj)
{
	return 0;
}
#endif /* CONFIG_SYSFS */

/**
 * ksm_patch_init() - set the defaults, add the knobs to /sys/kernel/mm/ksm
 * @kobj: the kobject that holds the "ksm" group
 *
 * Return: 0 or a negative error.
 */
int ksm_patch_init(struct kobject *kobj)
{
	ksm_patch_refs_max = min_t(unsigned long, totalram_pages() / 64,
				   UINT_MAX);
	return ksm_patch_sysfs_init(kobj);
}

#ifdef CONFIG_KSM_PATCH_KUNIT_TEST
#include "tests/ksm_patch_store_kunit.h"
#endif
