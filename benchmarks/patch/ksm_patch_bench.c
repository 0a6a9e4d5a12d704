// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_patch_bench - what the KSM patch tier saves on pages similar to KSM
 * pages, and what a patched page costs to fault in.
 *
 * One run is one mode: stock (-m stock: KSM only), compression only
 * (-m compress: the cold-page tier) or the patch tier (-m patch: the
 * cold-page tier with patch_tier=1).  Each run does, in one process:
 *
 *   refs     N random pages, twice: KSM merges them into N KSM pages
 *            (the similar and shifted pages are random too: zswap cannot
 *            compress them, only patch them)
 *   similar  N pages, each its reference with 5% of its bytes changed (in
 *            16-byte runs)
 *   shifted  N pages, each its reference moved by 1..64 bytes either way
 *   text     N unique but compressible pages (the compression control)
 *
 * then waits until no page went out for 5 s (at most SECONDS) and
 * reports the memory saved in all (KSM plus zswap's net saving) and
 * ksmd's CPU time, then, per region, the pages that went out, how many
 * were patched and in how many bytes (a page "out" is in zswap: not
 * mapped, not in the swap cache), what they are estimated to occupy
 * in zswap (patch bytes, or zswap's average for compressed pages), the
 * share of the region saved and the first-access latency of pages that
 * were out (median and p90; the regions' pages are touched interleaved).
 * Every page is then compared byte for byte with its expected content.
 *
 * Output: "TOTAL ..." and "REGION name=... key=value ..." lines, then
 * "RESULT ok=1|0 ...".
 *
 * Copyright (C) 2026 KSM++ developers
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "../common/ksmbench.h"

#define PM_PRESENT	(1ULL << 63)

enum region { SIMILAR, SHIFTED, TEXT, NR_REGIONS };
static const char * const region_names[NR_REGIONS] = {
	"similar", "shifted", "text"
};

static size_t pagesize, nr;

static void fill_random(char *p, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1, *q = (uint64_t *)p;
	size_t j;

	for (j = 0; j < pagesize / 8; j++)
		q[j] = xorshift64(&x);
}

/* The expected content of page @i of @r, from @ref (the reference). */
static void expected(enum region r, size_t i, const char *ref, char *out)
{
	uint64_t x = 0x5eed0000 + i * 7 + r;
	size_t b, n;

	switch (r) {
	case SIMILAR:
		memcpy(out, ref, pagesize);
		for (n = 0; n < pagesize * 5 / 100 / 16; n++) {
			size_t at = xorshift64(&x) % (pagesize / 16) * 16;

			for (b = 0; b < 16; b++)
				out[at + b] = xorshift64(&x);
		}
		break;
	case SHIFTED:
		n = i % 64 + 1;
		if (i & 64) {
			memcpy(out, ref + n, pagesize - n);
			for (b = pagesize - n; b < pagesize; b++)
				out[b] = xorshift64(&x);
		} else {
			memcpy(out + n, ref, pagesize - n);
			for (b = 0; b < n; b++)
				out[b] = xorshift64(&x);
		}
		break;
	default:
		/* Unique but compressible: 64-byte lines of text. */
		memset(out, '.', pagesize);
		for (b = 0; b + 64 <= pagesize; b += 64) {
			char line[80];
			int len = snprintf(line, sizeof(line),
					   "patch bench text page %08zx line %04zx",
					   i, b / 64);

			memcpy(out + b, line, len < 63 ? len : 63);
			out[b + 63] = '\n';
		}
		break;
	}
}

static char *map_mergeable(size_t pages)
{
	char *p = mmap(NULL, pages * pagesize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (madvise(p, pages * pagesize, MADV_NOHUGEPAGE) ||
	    madvise(p, pages * pagesize, MADV_MERGEABLE))
		die("madvise");
	return p;
}

static int pm_fd;

static bool present(const char *p)
{
	uint64_t e;

	if (pread(pm_fd, &e, 8, (uintptr_t)p / pagesize * 8) != 8)
		die("pagemap");
	return e & PM_PRESENT;
}

/*
 * Out of memory: not mapped and not in the swap cache either (mincore
 * counts swap-cache pages as resident).  A page zswap refused is unmapped
 * but stays in the swap cache until it is used again.
 */
static bool in_zswap(char *p)
{
	unsigned char vec;

	if (present(p))
		return false;
	if (mincore(p, pagesize, &vec))
		die("mincore");
	return !(vec & 1);
}

static size_t count_out(char *p)
{
	size_t i, out = 0;

	for (i = 0; i < nr; i++)
		out += in_zswap(p + i * pagesize);
	return out;
}

int main(int argc, char **argv)
{
	const char *mode = "stock";
	char *refs, *reg[NR_REGIONS], *want;
	long zswapped0, zswap0, cpu0, patched0, pbytes0, compressed0;
	long secs = 60, cpu_ms, zd, zp, np, pb, total;
	double ratio;
	size_t out[NR_REGIONS] = {}, i;
	long reg_patched[NR_REGIONS] = {}, reg_pbytes[NR_REGIONS] = {};
	size_t n_out[NR_REGIONS] = {};
	double start, *lat[NR_REGIONS];
	bool ok = true;
	int opt, r;

	pagesize = getpagesize();
	nr = 1024;
	while ((opt = getopt(argc, argv, "m:n:s:")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'n':
			nr = strtoul(optarg, NULL, 10);
			break;
		case 's':
			secs = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: ksm_patch_bench [-m stock|compress|patch] [-n pages] [-s seconds]\n");
			return 2;
		}
	}
	if (strcmp(mode, "stock") && strcmp(mode, "compress") &&
	    strcmp(mode, "patch")) {
		fprintf(stderr, "ksm_patch_bench: unknown mode '%s'\n", mode);
		return 2;
	}
	pm_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pm_fd < 0)
		die("pagemap");
	want = malloc(pagesize);
	for (r = 0; r < NR_REGIONS; r++) {
		lat[r] = malloc(nr * sizeof(*lat[r]));
		if (!lat[r])
			die("malloc");
	}

	knob_set("cold_compress", 0);
	if (knob("patch_tier") >= 0)
		knob_set("patch_tier", !strcmp(mode, "patch"));

	/* The references: merged before anything goes cold. */
	refs = map_mergeable(2 * nr);
	for (i = 0; i < nr; i++) {
		fill_random(refs + i * pagesize, i + 1);
		memcpy(refs + (nr + i) * pagesize, refs + i * pagesize, pagesize);
	}
	start = now();
	while (knob("pages_sharing") < (long)nr * 95 / 100 && now() - start < secs)
		usleep(100000);
	printf("INFO refs merged: pages_shared %ld pages_sharing %ld after %.1fs\n",
	       knob("pages_shared"), knob("pages_sharing"), now() - start);

	for (r = 0; r < NR_REGIONS; r++) {
		reg[r] = map_mergeable(nr);
		for (i = 0; i < nr; i++)
			expected(r, i, refs + i * pagesize, reg[r] + i * pagesize);
	}
	zswapped0 = meminfo_kb("Zswapped");
	zswap0 = meminfo_kb("Zswap");
	patched0 = knob("patch_pages");
	pbytes0 = knob("patch_bytes");
	compressed0 = knob("cold_pages_compressed");
	cpu0 = (long)ksmd_cpu_ms();
	if (strcmp(mode, "stock"))
		knob_set("cold_compress", 1);

	/* Until nothing moved for 5 s, or the time is up. */
	start = now();
	{
		size_t last = 0, sum;
		double moved = start;

		do {
			usleep(500000);
			for (sum = 0, r = 0; r < NR_REGIONS; r++)
				sum += out[r] = count_out(reg[r]);
			if (sum != last)
				moved = now();
			last = sum;
		} while (now() - moved < 5 && now() - start < secs);
	}
	cpu_ms = (long)ksmd_cpu_ms() - cpu0;
	zd = meminfo_kb("Zswapped") - zswapped0;
	zp = meminfo_kb("Zswap") - zswap0;
	np = knob("patch_pages") - patched0;
	pb = knob("patch_bytes") - pbytes0;
	/* Pool per compressed (not patched) kB: zswap's average for them. */
	ratio = zd - np * 4 > 0 ? (zp - pb / 1024.0) / (zd - np * 4) : 0;
	total = (knob("pages_sharing") + knob("ksm_zero_pages")) * pagesize / 1024 +
		zd - zp;
	printf("TOTAL mode=%s seconds=%.1f saved_kb=%ld zswapped_kb=%ld zswap_kb=%ld patched=%ld patch_bytes=%ld compressed=%ld ksmd_ms=%ld\n",
	       mode, now() - start, total, zd, zp, np, pb,
	       knob("cold_pages_compressed") - compressed0, cpu_ms);
	/* Stop pushing: the latencies below are first accesses only. */
	knob_set("cold_compress", 0);

	/*
	 * First accesses interleaved across the regions, so that what else
	 * the machine does at the time weighs on every region alike; the
	 * counters read around each access tell which region's patches
	 * the fault-ins freed.
	 */
	for (i = 0; i < nr; i++) {
		for (r = 0; r < NR_REGIONS; r++) {
			char *p = reg[r] + i * pagesize;
			long pp = knob("patch_pages"), pbr = knob("patch_bytes");
			bool was_out = in_zswap(p);
			double t0 = now();
			volatile char c = *p;

			(void)c;
			if (was_out)
				lat[r][n_out[r]++] = (now() - t0) * 1e6;
			reg_patched[r] += pp - knob("patch_pages");
			reg_pbytes[r] += pbr - knob("patch_bytes");
		}
	}
	for (r = 0; r < NR_REGIONS; r++) {
		size_t n = n_out[r], bad = 0;
		double stored;

		stored = reg_pbytes[r] / 1024.0 +
			 (n - reg_patched[r]) * (pagesize / 1024) * ratio;
		for (i = 0; i < nr; i++) {
			expected(r, i, refs + i * pagesize, want);
			bad += !!memcmp(want, reg[r] + i * pagesize, pagesize);
		}
		qsort(lat[r], n, sizeof(*lat[r]), cmp_double);
		printf("REGION name=%s mode=%s pages=%zu out=%zu patched=%ld patch_bytes=%ld stored_kb=%.0f saved_pct=%.1f lat_us_p50=%.1f lat_us_p90=%.1f bad=%zu\n",
		       region_names[r], mode, nr, n, reg_patched[r],
		       reg_pbytes[r], stored,
		       100.0 * ((double)n * pagesize / 1024 - stored) /
		       ((double)nr * pagesize / 1024),
		       n ? lat[r][n / 2] : 0, n ? lat[r][n * 9 / 10] : 0, bad);
		ok &= !bad;
	}
	printf("RESULT ok=%d mode=%s ksmd_ms=%ld patch_tried=%ld\n", ok, mode,
	       cpu_ms, knob("patch_tried"));
	return ok ? 0 : 1;
}
