/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KSM patch tier: a cold page similar to a KSM page is stored in zswap as
 * a patch against that page (mm/ksm_patch.c).  Hooks for mm/ksm.c,
 * mm/ksm_cold.c and mm/zswap.c.
 */
#ifndef _MM_KSM_PATCH_H
#define _MM_KSM_PATCH_H

#include <linux/types.h>

struct folio;
struct kobject;
struct ksm_patch_ref;

#ifdef CONFIG_KSM_PATCH
void ksm_patch_index(struct folio *kfolio, u64 domain);
void ksm_patch_backfill(struct folio *kfolio, u64 domain);
void ksm_patch_scan_done(void);
void ksm_patch_prepare(struct folio *folio, u64 domain);
void ksm_patch_finish(void);
unsigned int ksm_patch_zswap_store(struct folio *folio, u8 *dst,
				   struct ksm_patch_ref **ref);
int ksm_patch_zswap_load(struct ksm_patch_ref *ref, const u8 *src,
			 unsigned int len, struct folio *folio);
void ksm_patch_zswap_free(struct ksm_patch_ref *ref, unsigned int len);
int ksm_patch_init(struct kobject *kobj);
/* mm/zswap.c: rebuild every patched page (KSM's run=2). */
int zswap_ksm_unpatch_all(void);
/* Migration of KSM pages that patches are decoded against. */
int ksm_patch_folio_refs(struct folio *folio);
bool ksm_patch_maybe_ref(struct folio *folio);
void ksm_patch_migrate(struct folio *newfolio, struct folio *folio);
/* mm/ksm.c: a KSM page no rmap_item maps any more; a page's domain. */
bool ksm_folio_unused(struct folio *folio);
bool ksm_folio_in_domain(struct folio *folio, u64 domain);
#else
static inline void ksm_patch_index(struct folio *kfolio, u64 domain)
{
}

static inline void ksm_patch_backfill(struct folio *kfolio, u64 domain)
{
}

static inline void ksm_patch_scan_done(void)
{
}

static inline void ksm_patch_prepare(struct folio *folio, u64 domain)
{
}

static inline void ksm_patch_finish(void)
{
}

static inline unsigned int ksm_patch_zswap_store(struct folio *folio, u8 *dst,
						 struct ksm_patch_ref **ref)
{
	return 0;
}

static inline int ksm_patch_zswap_load(struct ksm_patch_ref *ref,
				       const u8 *src, unsigned int len,
				       struct folio *folio)
{
	return -EINVAL;
}

static inline void ksm_patch_zswap_free(struct ksm_patch_ref *ref,
					unsigned int len)
{
}

static inline int ksm_patch_init(struct kobject *kobj)
{
	return 0;
}

static inline int zswap_ksm_unpatch_all(void)
{
	return 0;
}

static inline int ksm_patch_folio_refs(struct folio *folio)
{
	return 0;
}

static inline bool ksm_patch_maybe_ref(struct folio *folio)
{
	return false;
}

static inline void ksm_patch_migrate(struct folio *newfolio,
				     struct folio *folio)
{
}
#endif /* CONFIG_KSM_PATCH */

#endif /* _MM_KSM_PATCH_H */
