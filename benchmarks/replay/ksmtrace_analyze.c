// SPDX-License-Identifier: GPL-2.0
/*
 * ksmtrace_analyze - what the memory of a recorded trace holds: the
 * ceiling of what each KSM++ mechanism can save on it.
 *
 * usage: ksmtrace_analyze [-i interval_s] [-k hashes] [-c candidates]
 *                         [-m max_bytes] TRACE_DIR
 *
 * At every interval_s of the recording (default 10) and at its end, the
 * RAM of every guest as the trace has it then (reads and snapshots
 * applied in time order, ksmtrace_guest.h), and every page of it put in
 * the first class that fits:
 *
 *   zero      all zero
 *   across    identical to a page of another guest
 *   within    identical to another page of the same guest only
 *   patchable similar to a page of the two classes above (a KSM page
 *             once merged): the series' own codec (mm/ksm_patch_codec.c,
 *             analyze_codec.c) finds it among the candidates of its index
 *             keys, as the patch tier does (patch_hashes -k 4, one hash
 *             per key, patch_candidates -c 2), with a patch of at most
 *             patch_max_bytes (-m 2048)
 *   compress  LZ4 (the kernel's) makes it smaller than a page
 *   none      none of these
 *
 * and the memory each mechanism could save at most: merging, every
 * identical page but one per content; patching, a page less its patch
 * per patchable page; compression, a page less its LZ4 size per
 * compressible page.  Zero pages are counted apart: a replay never
 * writes a page that is zero (its memory starts zero), so they take no
 * memory there, while in QEMU a page the guest zeroed does.  The tiers
 * save only the cold part of that; merging only what ksmd has reached.
 * Output: a CSV on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "../common/ksmbench.h"
#include "ksmtrace.h"
#include "ksmtrace_guest.h"
#include "analyze_codec.h"

#define MAX_GUESTS	8
#define PAGE		KSMTRACE_PAGE

struct entry {
	uint64_t hash;
	uint32_t guest;
	uint32_t page;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->guest != y->guest)
		return x->guest < y->guest ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

/* The index of reference pages by key: open addressing, first one wins. */
struct index {
	unsigned long long *keys;
	uint32_t *refs;		/* entry number of the reference, + 1 */
	size_t size;		/* a power of two */
};

static void index_add(struct index *ix, unsigned long long key, uint32_t ref)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (ix->size - 1);

	while (ix->refs[i]) {
		if (ix->keys[i] == key)
			return;
		i = (i + 1) & (ix->size - 1);
	}
	ix->keys[i] = key;
	ix->refs[i] = ref + 1;
}

static uint32_t index_find(const struct index *ix, unsigned long long key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (ix->size - 1);

	while (ix->refs[i]) {
		if (ix->keys[i] == key)
			return ix->refs[i];
		i = (i + 1) & (ix->size - 1);
	}
	return 0;
}

static int nr_guests;
static size_t bytes;
static struct ksmtrace_guest guests[MAX_GUESTS];
static unsigned char *ram[MAX_GUESTS], *buf;

/* The time of @g's next event, or UINT64_MAX after the last. */
static uint64_t next_ns(struct ksmtrace_guest *g)
{
	uint64_t t = UINT64_MAX;

	if (g->ri < g->nreads)
		t = g->reads[g->ri].t_ns;
	if (g->it.h && g->it.h->t_ns < t)
		t = g->it.h->t_ns;
	return t;
}

/* Apply the events of every guest up to time @t. */
static void advance(uint64_t t)
{
	const struct ksmtrace_read *r;
	int g;

	for (g = 0; g < nr_guests; g++) {
		while (next_ns(&guests[g]) <= t &&
		       ksmtrace_next_event(&guests[g], &r)) {
			if (r) {
				if (ksmtrace_do_read(&guests[g], r, ram[g], 1))
					exit(2);
			} else if (ksmtrace_apply_snap(&guests[g], ram[g], buf,
						       NULL) < 0) {
				exit(2);
			}
		}
	}
}

static const unsigned char *page_of(const struct entry *e)
{
	return ram[e->guest] + (size_t)e->page * PAGE;
}

/* Classify every page of every guest now; one CSV line. */
static void classify(double t_s, unsigned int k, unsigned int cands,
		     unsigned int max_bytes)
{
	static const unsigned char zero[PAGE];
	size_t pages = bytes / PAGE, n = nr_guests * pages, i, j, nref = 0;
	unsigned long zero_pages = 0, across = 0, within = 0, patchable = 0;
	unsigned long compress = 0, none = 0, merge_saved = 0;
	unsigned long long patch_saved = 0, comp_saved = 0;
	unsigned long long keys[CODEC_MAX_KEYS];
	uint32_t *refs;
	struct entry *e = malloc(n * sizeof(*e));
	struct index ix;

	refs = malloc(n * sizeof(*refs));
	if (!e || !refs)
		die("malloc");
	for (i = 0; i < n; i++) {
		e[i].guest = i / pages;
		e[i].page = i % pages;
		e[i].hash = XXH64(page_of(&e[i]), PAGE, 0);
	}
	qsort(e, n, sizeof(*e), cmp_entry);
	/* Groups of equal content: the first page of each is a reference. */
	for (i = 0; i < n; i = j) {
		int guests_seen = 1;

		for (j = i + 1; j < n && e[j].hash == e[i].hash; j++)
			if (e[j].guest != e[j - 1].guest)
				guests_seen++;
		if (!memcmp(page_of(&e[i]), zero, PAGE)) {
			zero_pages += j - i;
			continue;
		}
		if (j - i == 1)
			continue;
		merge_saved += j - i - 1;
		if (guests_seen > 1)
			across += j - i;
		else
			within += j - i;
		refs[nref++] = i;
	}
	ix.size = 1;
	while (ix.size < nref * CODEC_MAX_KEYS * 2 + 2)
		ix.size <<= 1;
	ix.keys = calloc(ix.size, sizeof(*ix.keys));
	ix.refs = calloc(ix.size, sizeof(*ix.refs));
	if (!ix.keys || !ix.refs)
		die("calloc");
	for (i = 0; i < nref; i++) {
		unsigned int nk = codec_keys(page_of(&e[refs[i]]), k, 1, keys);

		for (j = 0; j < nk; j++)
			index_add(&ix, keys[j], refs[i]);
	}
	/* Pages alike to no other: patch against a reference, or compress. */
	for (i = 0; i < n; i++) {
		const unsigned char *p = page_of(&e[i]);
		uint32_t tried[CODEC_MAX_KEYS];
		unsigned int nk, nt = 0, c;
		int best = 0, len;

		if ((i && e[i - 1].hash == e[i].hash) ||
		    (i + 1 < n && e[i + 1].hash == e[i].hash))
			continue;
		if (!memcmp(p, zero, PAGE))
			continue;
		nk = codec_keys(p, k, 1, keys);
		for (j = 0; j < nk && nt < cands; j++) {
			uint32_t ref = index_find(&ix, keys[j]);

			if (!ref)
				continue;
			for (c = 0; c < nt && tried[c] != ref; c++)
				;
			if (c < nt)
				continue;
			tried[nt++] = ref;
			len = codec_patch_len(p, page_of(&e[ref - 1]), max_bytes);
			if (len > 0 && (!best || len < best))
				best = len;
		}
		if (best) {
			patchable++;
			patch_saved += PAGE - best;
			continue;
		}
		len = codec_lz4_len(p);
		if (len > 0 && len < (int)PAGE) {
			compress++;
			comp_saved += PAGE - len;
		} else {
			none++;
		}
	}
	printf("%.0f,%zu,%lu,%lu,%lu,%lu,%lu,%lu,%.1f,%.1f,%.1f,%.1f\n", t_s,
	       n, zero_pages, across, within, patchable, compress, none,
	       zero_pages * (PAGE / 1024.0) / 1024,
	       merge_saved * (PAGE / 1024.0) / 1024, patch_saved / 1048576.0,
	       comp_saved / 1048576.0);
	fflush(stdout);
	free(ix.keys);
	free(ix.refs);
	free(refs);
	free(e);
}

int main(int argc, char **argv)
{
	unsigned int k = 4, cands = 2, max_bytes = 2048;
	uint64_t t0 = UINT64_MAX, t_end = 0, t;
	double interval = 10;
	unsigned long mem_mib = 0;
	char path[PATH_MAX];
	int opt, g;

	while ((opt = getopt(argc, argv, "i:k:c:m:")) != -1) {
		switch (opt) {
		case 'i':
			interval = atof(optarg);
			break;
		case 'k':
			k = atoi(optarg);
			break;
		case 'c':
			cands = atoi(optarg);
			break;
		case 'm':
			max_bytes = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || interval <= 0 || k < 1 || k > 8 ||
	    cands < 1 || cands > CODEC_MAX_KEYS || max_bytes < 64)
		goto usage;
	if (ksmtrace_manifest(argv[optind], &nr_guests, &mem_mib) ||
	    nr_guests > MAX_GUESTS) {
		fprintf(stderr, "ksmtrace_analyze: bad manifest\n");
		return 2;
	}
	bytes = mem_mib << 20;
	buf = malloc(bytes);
	if (!buf)
		die("malloc");
	for (g = 0; g < nr_guests; g++) {
		snprintf(path, sizeof(path), "%s/g%d", argv[optind], g);
		ram[g] = calloc(1, bytes);
		if (!ram[g])
			die("calloc");
		if (ksmtrace_guest_open(&guests[g], strdup(path), bytes, NULL) ||
		    ksmtrace_guest_rewind(&guests[g]) != 1)
			return 2;
		t = next_ns(&guests[g]);
		if (t < t0)
			t0 = t;
	}
	/* The end: the last snapshot of any guest (taken after power-off). */
	for (g = 0; g < nr_guests; g++) {
		struct ksmtrace_snap_iter it = guests[g].it;

		while (it.h) {
			if (it.h->t_ns > t_end)
				t_end = it.h->t_ns;
			if (ksmtrace_snap_next(&it, bytes) < 0)
				return 2;
		}
	}
	printf("t_s,pages,zero,identical_across,identical_within,patchable,compressible,none,zero_mib,merge_saved_mib,patch_saved_mib,compress_saved_mib\n");
	for (t = t0 + interval * 1e9; t < t_end; t += interval * 1e9) {
		advance(t);
		classify((t - t0) / 1e9, k, cands, max_bytes);
	}
	advance(t_end);
	classify((t_end - t0) / 1e9, k, cands, max_bytes);
	return 0;
usage:
	fprintf(stderr, "usage: ksmtrace_analyze [-i interval_s] [-k hashes] [-c candidates] [-m max_bytes] TRACE_DIR\n");
	return 2;
}
