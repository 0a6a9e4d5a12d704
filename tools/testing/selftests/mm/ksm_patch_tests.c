// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM patch tier: a cold page similar to a KSM page is stored in zswap as
 * a patch against that KSM page.
 *
 * Reference pages are made the way guests make them: two copies of the
 * same random pages, merged by KSM.  Pages similar to them (5% changed,
 * or their content moved by 1..64 bytes) go cold and are pushed into
 * zswap, where they must be stored as patches; they are read back and
 * written byte for byte, also after every mapper of the reference pages
 * exited; swapoff, process exit and the memory cgroup's charge are
 * checked too.  Set up as ksm_cold_tests does: swap slots on a loop device,
 * zswap on, zswap writeback off.
 *
 * Copyright (C) 2026 KSM++ developers
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/loop.h>
#include <linux/mempolicy.h>

#include "../kselftest.h"
#include "vm_util.h"

#ifndef PR_SET_KSM_DOMAIN
#define PR_SET_KSM_DOMAIN	0x4b534d44
#define PR_KSM_DOMAIN_JOIN	1
#define PR_GET_KSM_DOMAIN	0x4b534d45
#endif

#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define ZSWAP_ENABLED	"/sys/module/zswap/parameters/enabled"
#define CG_WRITEBACK	"/sys/fs/cgroup/memory.zswap.writeback"
#define CG_DIR		"/sys/fs/cgroup/ksm_patch_tests"
#define CG_REFS		"/sys/fs/cgroup/ksm_patch_refs"
#define FAIL_DECODE	"/sys/kernel/debug/fail_ksm_patch_decode/"
#define MEM_DIR		"/sys/devices/system/memory/"
#define NR_REF		256	/* reference pages (each merged from two) */
#define SWAP_MB		64
#define TIMEOUT		120	/* seconds */

static size_t pagesize;
/* Only the test process restores the system, not its forked children. */
static pid_t main_pid;
static char swap_file[64];
static char loop_path[64];
static int loop_fd = -1;
static bool swap_on;
/* merge_domains as it was, put back by cleanup() */
static char saved_policy[32];

/* ---------------------------------------------------------------- knobs */

/* Knobs under KSM_DIR, or absolute paths; restored in reverse order. */
static const char * const saved_knobs[] = {
	ZSWAP_ENABLED, CG_WRITEBACK, "run", "pages_to_scan",
	"sleep_millisecs", "nru_idle_secs", "nru_cold_secs",
	"cold_compress_pages", "cold_compress", "patch_hashes",
	"patch_hashes_per_key", "patch_candidates", "patch_max_bytes",
	"patch_tier", "patch_references_max", FAIL_DECODE "verbose", FAIL_DECODE "times",
	FAIL_DECODE "interval", FAIL_DECODE "probability",
};

static char saved_values[ARRAY_SIZE(saved_knobs)][32];

static void knob_path(const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s%s", name[0] == '/' ? "" : KSM_DIR, name);
}

static int knob_write(const char *name, const char *val)
{
	char path[128];
	int fd, ret;

	knob_path(name, path, sizeof(path));
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, val, strlen(val));
	ret = ret < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static int knob_read_str(const char *name, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	knob_path(name, path, sizeof(path));
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static long knob(const char *name)
{
	char buf[64];

	if (knob_read_str(name, buf, sizeof(buf)))
		ksft_exit_fail_msg("reading %s: %s\n", name, strerror(errno));
	return strtol(buf, NULL, 10);
}

static void knob_set(const char *name, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", val);
	if (knob_write(name, buf))
		ksft_exit_fail_msg("writing %ld to %s failed\n", val, name);
}

static int set_policy(const char *policy);

static void cleanup(void)
{
	int i;

	if (getpid() != main_pid)
		return;
	/* Bring everything back from zswap before zswap goes off. */
	knob_write("cold_compress", "0");
	knob_write("patch_tier", "0");
	if (saved_policy[0] && set_policy(saved_policy))
		fprintf(stderr, "merge_domains not put back to %s\n",
			saved_policy);
	if (swap_on)
		swapoff(loop_path);
	if (loop_fd >= 0)
		close(loop_fd);
	if (swap_file[0])
		unlink(swap_file);
	rmdir(CG_DIR);
	rmdir(CG_REFS);
	for (i = ARRAY_SIZE(saved_knobs) - 1; i >= 0; i--)
		if (saved_values[i][0])
			knob_write(saved_knobs[i], saved_values[i]);
}

/* --------------------------------------------------------------- helpers */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Where ksmd is, for a test that waited for it in vain. */
static void print_ksmd_stack(void)
{
	char line[256], path[64];
	FILE *f;

	f = popen("pgrep -x ksmd", "r");
	if (!f)
		return;
	if (!fgets(line, sizeof(line), f)) {
		pclose(f);
		return;
	}
	pclose(f);
	snprintf(path, sizeof(path), "/proc/%ld/stack", strtol(line, NULL, 10));
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		ksft_print_msg("ksmd: %s", line);
	fclose(f);
}

static bool wait_full_scans(int n)
{
	long from = knob("full_scans"), target = from + n;
	double start = now();

	while (knob("full_scans") < target) {
		if (now() - start > TIMEOUT) {
			ksft_print_msg("full_scans %ld -> %ld in %ds, %d wanted\n",
				       from, knob("full_scans"), TIMEOUT, n);
			print_ksmd_stack();
			return false;
		}
		usleep(20000);
	}
	return true;
}

/* The number after "@key@sep" on a line of @path, or -1. */
static long keyed_value(const char *path, const char *key, char sep)
{
	char line[128];
	long val = -1;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) &&
		    line[strlen(key)] == sep) {
			val = strtol(line + strlen(key) + 1, NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

static long meminfo_kb(const char *key)
{
	return keyed_value("/proc/meminfo", key, ':');
}

static char *map_mergeable(size_t pages)
{
	char *p = mmap(NULL, pages * pagesize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	if (madvise(p, pages * pagesize, MADV_NOHUGEPAGE) ||
	    madvise(p, pages * pagesize, MADV_MERGEABLE))
		ksft_exit_fail_msg("madvise: %s\n", strerror(errno));
	return p;
}

/* Pages of [p, p + pages) present in memory in process @pid. */
static int count_present(pid_t pid, const char *p, size_t pages)
{
	char path[64];
	int fd, n = 0;
	size_t i;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	for (i = 0; i < pages; i++)
		if (pagemap_get_entry(fd, (char *)p + i * pagesize) &
		    PM_PRESENT)
			n++;
	close(fd);
	return n;
}

/* Wait until at most @target pages are present; return the last count. */
static int wait_present_below(const char *p, size_t pages, int target,
			      double *took)
{
	double start = now();
	int present;

	do {
		present = count_present(getpid(), p, pages);
		if (present <= target)
			break;
		usleep(50000);
	} while (now() - start < TIMEOUT);
	*took = now() - start;
	return present;
}

/* Swap space for slots only: a loop device on a file in /tmp (tmpfs). */
static bool setup_swap(void)
{
	size_t len = (size_t)SWAP_MB << 20;
	struct loop_config cfg = {};
	int ctl, n, fd;
	char *hdr;

	snprintf(swap_file, sizeof(swap_file), "/tmp/ksm_patch_swap_XXXXXX");
	fd = mkstemp(swap_file);
	if (fd < 0 || ftruncate(fd, len))
		return false;
	hdr = calloc(1, pagesize);
	if (!hdr)
		return false;
	/* union swap_header: version 1, last page, no bad pages */
	((uint32_t *)(hdr + 1024))[0] = 1;
	((uint32_t *)(hdr + 1024))[1] = len / pagesize - 1;
	memcpy(hdr + pagesize - 10, "SWAPSPACE2", 10);
	n = pwrite(fd, hdr, pagesize, 0);
	free(hdr);
	if (n != (int)pagesize)
		return false;

	ctl = open("/dev/loop-control", O_RDWR);
	n = ctl < 0 ? -1 : ioctl(ctl, LOOP_CTL_GET_FREE);
	if (ctl >= 0)
		close(ctl);
	if (n < 0)
		return false;
	snprintf(loop_path, sizeof(loop_path), "/dev/loop%d", n);
	loop_fd = open(loop_path, O_RDWR);
	if (loop_fd < 0)
		return false;
	cfg.fd = fd;
	cfg.block_size = pagesize;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(loop_fd, LOOP_CONFIGURE, &cfg))
		return false;
	close(fd);
	if (swapon(loop_path, 0)) {
		ksft_print_msg("swapon %s: %s\n", loop_path, strerror(errno));
		return false;
	}
	swap_on = true;
	return true;
}

/* ------------------------------------------------------------- content */

static uint64_t rnd_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Page @i of reference set @seed: the same bytes wherever it is made. */
static void fill_ref(char *page, unsigned int seed, size_t i)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)seed << 32) ^ i;
	uint64_t *q = (uint64_t *)page;
	size_t j;

	for (j = 0; j < pagesize / sizeof(*q); j++)
		q[j] = rnd_next(&x);
}

/* @ref with 5% of its bytes changed, in runs of 16 bytes. */
static void make_similar(char *page, const char *ref, uint64_t *x)
{
	size_t runs = pagesize * 5 / 100 / 16, r, b, at;

	memcpy(page, ref, pagesize);
	for (r = 0; r < runs; r++) {
		at = rnd_next(x) % (pagesize / 16) * 16;
		for (b = 0; b < 16; b++)
			page[at + b] = rnd_next(x);
	}
}

/* @ref's content moved by @d bytes (right if > 0), new bytes where it left. */
static void make_shifted(char *page, const char *ref, int d, uint64_t *x)
{
	size_t n = abs(d), b;

	if (d > 0) {
		memcpy(page + n, ref, pagesize - n);
		for (b = 0; b < n; b++)
			page[b] = rnd_next(x);
	} else {
		memcpy(page, ref + n, pagesize - n);
		for (b = pagesize - n; b < pagesize; b++)
			page[b] = rnd_next(x);
	}
}

/* This process's pages mapped from KSM pages (/proc/self/ksm_stat). */
static long merging_pages(void)
{
	char line[128];
	long val = -1;
	FILE *f;

	f = fopen("/proc/self/ksm_stat", "r");
	if (!f)
		ksft_exit_fail_msg("/proc/self/ksm_stat: %s\n", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ksm_merging_pages %ld", &val) == 1)
			break;
	fclose(f);
	return val;
}

/*
 * Two copies of reference set @seed in one mergeable region, and wait
 * until KSM merged them: NR_REF KSM pages, entered into the index.
 */
static char *make_refs(unsigned int seed)
{
	long merging = merging_pages();
	char *r = map_mergeable(2 * NR_REF);
	double start = now();
	size_t i;

	for (i = 0; i < NR_REF; i++) {
		fill_ref(r + i * pagesize, seed, i);
		memcpy(r + (NR_REF + i) * pagesize, r + i * pagesize,
		       pagesize);
	}
	while (merging_pages() < merging + 2 * NR_REF) {
		if (now() - start > TIMEOUT)
			ksft_exit_fail_msg("references not merged: %ld of %d pages\n",
					   merging_pages() - merging,
					   2 * NR_REF);
		usleep(20000);
	}
	return r;
}

/* Unmap a test's regions and let ksmd drop their rmap_items and KSM pages. */
static void unmap_and_settle(char *s, char *r)
{
	munmap(s, NR_REF * pagesize);
	if (r)
		munmap(r, 2 * NR_REF * pagesize);
	wait_full_scans(2);
}

/* Counters of the tier before one push of a region. */
struct tier_run {
	long pages, bytes, faults, refs, unmapped;
};

static void tier_snap(struct tier_run *t)
{
	t->pages = knob("patch_pages");
	t->bytes = knob("patch_bytes");
	t->faults = knob("patch_faults");
	t->refs = knob("patch_references");
	t->unmapped = knob("patch_references_unmapped");
}

/*
 * Read patch_bytes_saved and patch_references_unmapped into @saved and
 * @unmapped (the tier must be idle); true if the saving is what the
 * counters make it: patch_pages pages less patch_bytes and less a page
 * per unmapped reference, 0 if that is negative.
 */
static bool saved_as_counted(long *unmapped, long *saved)
{
	long pages = knob("patch_pages"), bytes = knob("patch_bytes");
	long expect;

	*unmapped = knob("patch_references_unmapped");
	*saved = knob("patch_bytes_saved");
	expect = (pages - *unmapped) * (long)pagesize - bytes;
	if (*saved != (expect > 0 ? expect : 0))
		ksft_print_msg("saved %ld, expected %ld: %ld pages, %ld bytes, %ld unmapped\n",
			       *saved, expect, pages, bytes, *unmapped);
	return *saved == (expect > 0 ? expect : 0);
}

/*
 * Turn the cold tier on and wait until @s went out; print and check how
 * many of its pages were patched and how big the patches are.
 */
static bool push_and_check(const char *what, char *s, size_t pages,
			   const struct tier_run *before, long want_pct)
{
	long zswapped = meminfo_kb("Zswapped"), patched, bytes, refs;
	int present;
	double took;

	knob_set("cold_compress", 1);
	present = wait_present_below(s, pages, pages / 20, &took);
	/* Let the pushes still in flight finish before counting. */
	wait_full_scans(2);
	present = count_present(getpid(), s, pages);
	patched = knob("patch_pages") - before->pages;
	bytes = knob("patch_bytes") - before->bytes;
	refs = knob("patch_references") - before->refs;
	ksft_print_msg("%s: %d/%zu present after %.1fs\n", what, present,
		       pages, took);
	ksft_print_msg("%s: %ld patched in %ld bytes (%.1f%% of their pages)\n",
		       what, patched, bytes,
		       patched ? 100.0 * bytes / (patched * pagesize) : 0);
	ksft_print_msg("%s: %ld references, %ld tried, %ld rejected\n", what,
		       refs, knob("patch_tried"), knob("patch_rejected"));
	ksft_print_msg("%s: Zswapped +%ld kB, patch_changed %ld\n", what,
		       meminfo_kb("Zswapped") - zswapped,
		       knob("patch_changed"));
	return present <= (int)pages / 20 &&
	       patched >= (long)pages * want_pct / 100 &&
	       bytes <= patched * (long)pagesize / 10 && refs > 0;
}

/**
 * struct scenario - the regions of one test
 * @r: two copies of the reference pages, merged
 * @s: the pages similar to them, mergeable
 * @copy: what @s must read back as
 * @before: the tier's counters before @s goes cold
 */
struct scenario {
	char *r, *s, *copy;
	struct tier_run before;
};

/*
 * References of @seed, and NR_REF pages similar to them (shifted if
 * @shift), with the cold tier off until push_and_check().
 */
static void scenario_setup(struct scenario *sc, unsigned int seed, bool shift)
{
	uint64_t x = seed;
	size_t i;

	knob_set("cold_compress", 0);
	sc->r = make_refs(seed);
	sc->s = map_mergeable(NR_REF);
	sc->copy = malloc(NR_REF * pagesize);
	if (!sc->copy)
		ksft_exit_fail_msg("malloc\n");
	for (i = 0; i < NR_REF; i++) {
		char *page = sc->s + i * pagesize, *ref = sc->r + i * pagesize;

		if (shift)
			make_shifted(page, ref, (int)(i % 64 + 1) *
				     (i & 64 ? -1 : 1), &x);
		else
			make_similar(page, ref, &x);
	}
	memcpy(sc->copy, sc->s, NR_REF * pagesize);
	tier_snap(&sc->before);
}

static void scenario_end(struct scenario *sc)
{
	knob_set("cold_compress", 0);
	unmap_and_settle(sc->s, sc->r);
	free(sc->copy);
}

/* ----------------------------------------------------------------- tests */

static void test_knobs(void)
{
	static const struct {
		const char *knob, *bad[4];
	} cases[] = {
		{ "patch_tier", { "2", "-1", "x", " " } },
		{ "patch_hashes", { "0", "9", "-1", "4x" } },
		{ "patch_hashes_per_key", { "0", "5", "9", "y" } },
		{ "patch_candidates", { "0", "9", "-3", "z" } },
		{ "patch_max_bytes", { "63", "2049", "0", "1e3" } },
		{ "patch_references_max", { "-1", "4294967296", "x", "1.5" } },
	};
	static const char * const counters[] = {
		"patch_pages", "patch_bytes", "patch_references",
		"patch_references_unmapped", "patch_faults",
		"patch_bytes_saved", "patch_tried", "patch_rejected",
		"patch_changed", "patch_capped",
	};
	bool ok = true;
	size_t i, j;

	knob_set("patch_hashes", 4);
	knob_set("patch_hashes_per_key", 1);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char before[32], after[32];

		knob_read_str(cases[i].knob, before, sizeof(before));
		for (j = 0; j < ARRAY_SIZE(cases[i].bad); j++) {
			int err = knob_write(cases[i].knob, cases[i].bad[j]);

			knob_read_str(cases[i].knob, after, sizeof(after));
			if (err != -EINVAL || strcmp(before, after)) {
				ksft_print_msg("%s <- \"%s\": %s, %s -> %s\n",
					       cases[i].knob, cases[i].bad[j],
					       strerror(-err), before, after);
				ok = false;
			}
		}
	}
	/* s may not exceed k, from either side. */
	knob_set("patch_hashes", 8);
	knob_set("patch_hashes_per_key", 8);
	ok &= knob("patch_hashes_per_key") == 8;
	ok &= knob_write("patch_hashes", "4") == -EINVAL &&
	      knob("patch_hashes") == 8;
	knob_set("patch_hashes_per_key", 1);
	knob_set("patch_hashes", 4);
	knob_set("patch_max_bytes", 64);
	ok &= knob("patch_max_bytes") == 64;
	knob_set("patch_max_bytes", 2048);
	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		char path[128];
		struct stat st;

		if (knob_write(counters[i], "1") != -EACCES) {
			ksft_print_msg("%s is writable\n", counters[i]);
			ok = false;
		}
		/* They tell how much of a page is in KSM pages: root only. */
		knob_path(counters[i], path, sizeof(path));
		if (stat(path, &st)) {
			ksft_print_msg("%s: %s\n", path, strerror(errno));
			ok = false;
		} else if ((st.st_mode & 0777) != 0400) {
			ksft_print_msg("%s: mode %o, not 0400\n", counters[i],
				       (unsigned int)(st.st_mode & 0777));
			ok = false;
		}
	}
	ksft_test_result(ok, "knobs reject bad values and keep their value, counters root only\n");
}

/*
 * KSM pages made while the tier was off are entered into the index as
 * ksmd passes them in the two full scans after it is turned on: pages
 * similar to them are patched.
 */
static void test_backfill(void)
{
	struct scenario sc;
	bool ok;

	knob_set("patch_tier", 0);
	scenario_setup(&sc, 8, false);
	knob_set("patch_tier", 1);
	ok = wait_full_scans(3);
	ok &= push_and_check("made before the tier", sc.s, NR_REF,
			     &sc.before, 90);
	ok &= !memcmp(sc.copy, sc.s, NR_REF * pagesize);
	ksft_test_result(ok, "KSM pages made before patch_tier=1 are indexed and used\n");
	scenario_end(&sc);
}

/*
 * 95%-similar pages are stored as patches of under a tenth of a page;
 * half are read back, half written (copy-on-write of a patched page), all
 * compared byte for byte; every page that came back freed its patch.
 */
static void test_similar(void)
{
	struct scenario sc;
	long saved;
	size_t i;
	bool ok;

	scenario_setup(&sc, 1, false);
	ok = push_and_check("95% similar", sc.s, NR_REF, &sc.before, 90);
	saved = knob("patch_bytes_saved");
	ksft_print_msg("patch_bytes_saved %ld kB\n", saved / 1024);
	ok &= saved >= (long)(NR_REF * 90 / 100 * pagesize * 9 / 10);
	ksft_test_result(ok, "95%%-similar pages stored as patches\n");

	ok = !memcmp(sc.copy, sc.s, NR_REF / 2 * pagesize);
	for (i = NR_REF / 2; i < NR_REF; i++) {
		sc.s[i * pagesize + 100] ^= 0x5a;
		sc.copy[i * pagesize + 100] ^= 0x5a;
	}
	ok &= !memcmp(sc.copy, sc.s, NR_REF * pagesize);
	ksft_print_msg("read back: patch_faults +%ld, patch_pages %ld -> %ld\n",
		       knob("patch_faults") - sc.before.faults, sc.before.pages,
		       knob("patch_pages"));
	ksft_print_msg("read back: references %ld -> %ld\n", sc.before.refs,
		       knob("patch_references"));
	ok &= knob("patch_faults") - sc.before.faults >= NR_REF * 90 / 100 &&
	      knob("patch_pages") == sc.before.pages &&
	      knob("patch_references") == sc.before.refs;
	ksft_test_result(ok, "patched pages read and written back byte for byte\n");
	scenario_end(&sc);
}

/* Content moved by 1..64 bytes either way is patched too. */
static void test_shifted(void)
{
	struct scenario sc;
	bool ok;

	scenario_setup(&sc, 2, true);
	ok = push_and_check("shifted by 1..64 bytes", sc.s, NR_REF, &sc.before,
			    95);
	ok &= !memcmp(sc.copy, sc.s, NR_REF * pagesize);
	ksft_test_result(ok, "shifted pages stored as patches, read back intact\n");
	scenario_end(&sc);
}

/*
 * The references belong to a child that exits while the patches remain:
 * the patches keep the KSM pages, and the pages still read back.
 */
static void test_mappers_exit(void)
{
	char *s, *copy, *ref;
	int pipefd[2], status;
	long refs_after, unmapped, saved;
	struct tier_run t;
	uint64_t x = 3;
	char c;
	pid_t pid;
	size_t i;
	bool ok;

	knob_set("cold_compress", 0);
	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (!pid) {
		make_refs(3);
		write(pipefd[1], "r", 1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1)
		ksft_exit_fail_msg("the child made no references\n");
	close(pipefd[0]);

	ref = malloc(pagesize);
	s = map_mergeable(NR_REF);
	copy = malloc(NR_REF * pagesize);
	for (i = 0; i < NR_REF; i++) {
		fill_ref(ref, 3, i);
		make_similar(s + i * pagesize, ref, &x);
	}
	memcpy(copy, s, NR_REF * pagesize);
	tier_snap(&t);
	ok = push_and_check("references of a child", s, NR_REF, &t, 90);
	/* While the child maps them, the references cost nothing extra. */
	knob_set("cold_compress", 0);
	ok &= saved_as_counted(&unmapped, &saved);
	ksft_print_msg("child mapping: %ld unmapped, patch_bytes_saved %ld\n",
		       unmapped - t.unmapped, saved);
	ok &= unmapped == t.unmapped && saved > 0;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* ksmd notices the KSM pages lost their mappers. */
	ok &= wait_full_scans(3);
	refs_after = knob("patch_references") - t.refs;
	/*
	 * The kept pages no process maps are a cost of the patches: here
	 * each reference serves one patch, so nothing is saved any more.
	 */
	ok &= saved_as_counted(&unmapped, &saved);
	ksft_print_msg("child gone: %ld references still kept, %ld unmapped, pages_shared %ld\n",
		       refs_after, unmapped, knob("pages_shared"));
	ksft_print_msg("child gone: patch_bytes_saved %ld\n", saved);
	ok &= refs_after > 0 && unmapped - t.unmapped == refs_after;
	ok &= !memcmp(copy, s, NR_REF * pagesize);
	ok &= knob("patch_references") == t.refs &&
	      knob("patch_pages") == t.pages;
	ksft_test_result(ok, "patches outlive the mappers of their references\n");
	knob_set("cold_compress", 0);
	unmap_and_settle(s, NULL);
	free(copy);
	free(ref);
}

/*
 * Swapoff brings every patched page back through zswap: the pages read
 * back intact and the patches and their references are gone.
 */
static void test_swapoff(void)
{
	struct scenario sc;
	bool ok;

	scenario_setup(&sc, 4, false);
	ok = push_and_check("before swapoff", sc.s, NR_REF, &sc.before, 90);
	knob_set("cold_compress", 0);
	if (swapoff(loop_path)) {
		ksft_print_msg("swapoff: %s\n", strerror(errno));
		ok = false;
	}
	swap_on = false;
	ksft_print_msg("after swapoff: %d/%d present, patch_pages %ld -> %ld\n",
		       count_present(getpid(), sc.s, NR_REF), NR_REF,
		       sc.before.pages, knob("patch_pages"));
	ok &= count_present(getpid(), sc.s, NR_REF) == NR_REF &&
	      knob("patch_pages") == sc.before.pages &&
	      knob("patch_references") == sc.before.refs;
	ok &= !memcmp(sc.copy, sc.s, NR_REF * pagesize);
	if (swapon(loop_path, 0))
		ksft_exit_fail_msg("swapon %s again: %s\n", loop_path,
				   strerror(errno));
	swap_on = true;
	ksft_test_result(ok, "swapoff rebuilds patched pages and drops the patches\n");
	scenario_end(&sc);
}

/*
 * Fork a child that joins the cgroup of @procs (if not NULL), makes the
 * pages of scenario @seed and lets them go cold and be patched.  Returns
 * 0 in the child, and the child's pid in the parent once the child's
 * pages are out.
 */
static pid_t fork_patched(struct scenario *sc, unsigned int seed,
			  const char *procs)
{
	int fd[2];
	pid_t pid;
	char c;

	if (pipe(fd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		char buf[32];
		double took;

		close(fd[0]);
		snprintf(buf, sizeof(buf), "%d", getpid());
		if (procs && knob_write(procs, buf))
			_exit(2);
		scenario_setup(sc, seed, false);
		knob_set("cold_compress", 1);
		wait_present_below(sc->s, NR_REF, NR_REF / 20, &took);
		write(fd[1], "p", 1);
		close(fd[1]);
		return 0;
	}
	close(fd[1]);
	if (read(fd[0], &c, 1) != 1)
		ksft_exit_fail_msg("the child did not get its pages patched\n");
	close(fd[0]);
	return pid;
}

/*
 * A process whose pages are patched exits: zswap frees the entries, and
 * with them the patches and their references on the KSM pages.
 */
static void test_exit(void)
{
	struct scenario sc;
	struct tier_run t;
	long patched;
	int status;
	pid_t pid;
	bool ok;

	knob_set("cold_compress", 0);
	tier_snap(&t);
	pid = fork_patched(&sc, 5, NULL);
	if (!pid) {
		pause();
		_exit(0);
	}
	patched = knob("patch_pages") - t.pages;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	knob_set("cold_compress", 0);
	ok = wait_full_scans(2);
	ksft_print_msg("exit: %ld patched before, patch_pages %ld -> %ld, references %ld -> %ld\n",
		       patched, t.pages, knob("patch_pages"), t.refs,
		       knob("patch_references"));
	ok &= patched >= NR_REF * 90 / 100 && knob("patch_pages") == t.pages &&
	      knob("patch_references") == t.refs;
	ksft_test_result(ok, "process exit frees its patches and their references\n");
}

/*
 * The memory cgroup CG_DIR, with zswap writeback off; false, with the
 * test reported skipped, where there is none.
 */
static bool setup_cgroup(void)
{
	if (knob_write("/sys/fs/cgroup/cgroup.subtree_control", "+memory") ||
	    (mkdir(CG_DIR, 0755) && errno != EEXIST) ||
	    knob_write(CG_DIR "/memory.zswap.writeback", "0")) {
		ksft_test_result_skip("no memory cgroup with zswap: %s\n",
				      strerror(errno));
		return false;
	}
	return true;
}

/*
 * A patched page is charged to its memory cgroup at the size of its
 * patch, like a compressed page at its compressed size, and the charge
 * goes when the process exits.
 */
static void test_memcg(void)
{
	long patched, bytes, charged, zswapped, after;
	struct scenario sc;
	struct tier_run t;
	int status, i;
	pid_t pid;
	bool ok;

	if (!setup_cgroup())
		return;
	knob_set("cold_compress", 0);
	tier_snap(&t);
	pid = fork_patched(&sc, 6, CG_DIR "/cgroup.procs");
	if (!pid) {
		pause();
		_exit(0);
	}
	knob_set("cold_compress", 0);
	patched = knob("patch_pages") - t.pages;
	bytes = knob("patch_bytes") - t.bytes;
	/*
	 * memcg statistics are flushed in batches or every 2 seconds: give
	 * the last updates up to 5 seconds to show.
	 */
	for (i = 0; i < 50; i++) {
		charged = knob(CG_DIR "/memory.zswap.current");
		zswapped = keyed_value(CG_DIR "/memory.stat", "zswapped", ' ');
		/*
		 * Every page of the cgroup in zswap is one of its patched
		 * pages or one compressed alone (at most a page each).
		 */
		ok = patched >= NR_REF * 90 / 100 &&
		     zswapped >= patched * (long)pagesize &&
		     charged >= bytes &&
		     charged <= bytes + (zswapped / (long)pagesize - patched) *
				(long)pagesize &&
		     charged < patched * (long)pagesize / 10;
		if (ok)
			break;
		usleep(100000);
	}
	ksft_print_msg("memcg: %ld patched in %ld bytes; zswap.current %ld, zswapped %ld kB\n",
		       patched, bytes, charged, zswapped / 1024);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	for (i = 0; i < 100; i++) {
		after = knob(CG_DIR "/memory.zswap.current");
		if (!after)
			break;
		usleep(20000);
	}
	ksft_print_msg("memcg: after exit memory.zswap.current %ld, patch_pages %ld -> %ld\n",
		       after, t.pages, knob("patch_pages"));
	ok &= after == 0 && knob("patch_pages") == t.pages;
	ok &= wait_full_scans(2);
	ksft_test_result(ok, "patched pages charged to their memcg at patch size\n");
}

/* A counter, or 0 on a kernel that does not have it. */
static long knob_or_0(const char *name)
{
	char buf[64];

	return knob_read_str(name, buf, sizeof(buf)) ? 0 :
	       strtol(buf, NULL, 10);
}

/*
 * Child of test_ref_charge(): in CG_DIR, pages similar to references
 * @seed go cold and are patched; then, when told, read them back.
 */
static void ref_charge_patched(unsigned int seed, int ready, int go)
{
	char *s, *copy, *ref, buf[32], c;
	uint64_t x = seed;
	double took;
	size_t i;

	snprintf(buf, sizeof(buf), "%d", getpid());
	if (knob_write(CG_DIR "/cgroup.procs", buf))
		_exit(2);
	ref = malloc(pagesize);
	s = map_mergeable(NR_REF);
	copy = malloc(NR_REF * pagesize);
	if (!ref || !copy)
		_exit(2);
	for (i = 0; i < NR_REF; i++) {
		fill_ref(ref, seed, i);
		make_similar(s + i * pagesize, ref, &x);
	}
	memcpy(copy, s, NR_REF * pagesize);
	knob_set("cold_compress", 1);
	wait_present_below(s, NR_REF, NR_REF / 20, &took);
	write(ready, "p", 1);
	if (read(go, &c, 1) != 1)
		_exit(2);
	_exit(memcmp(copy, s, NR_REF * pagesize) ? 1 : 0);
}

/*
 * A KSM page that only patches keep is charged to the memory cgroup of
 * the pages patched against it: the references are made in CG_REFS, the
 * patched pages in CG_DIR; once the process of CG_REFS exited, ksmd
 * copies the references into pages charged to CG_DIR, CG_REFS is empty
 * and can go, and the patched pages read back intact.
 */
static void test_ref_charge(void)
{
	long refs_cur, patched, refs, copied0, copied = 0, kernel0, kernel = 0;
	int ready[2], go[2], status, i;
	pid_t refs_pid, pid;
	struct tier_run t;
	char buf[32], c;
	bool ok;

	if (!setup_cgroup())
		return;
	if (mkdir(CG_REFS, 0755) && errno != EEXIST)
		ksft_exit_fail_msg("mkdir %s: %s\n", CG_REFS, strerror(errno));
	knob_set("cold_compress", 0);
	if (pipe(ready) || pipe(go))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	refs_pid = fork();
	if (!refs_pid) {
		snprintf(buf, sizeof(buf), "%d", getpid());
		if (knob_write(CG_REFS "/cgroup.procs", buf))
			_exit(2);
		make_refs(16);
		write(ready[1], "r", 1);
		pause();
		_exit(0);
	}
	if (read(ready[0], &c, 1) != 1)
		ksft_exit_fail_msg("the child made no references\n");
	refs_cur = knob(CG_REFS "/memory.current");
	tier_snap(&t);
	copied0 = knob_or_0("patch_references_copied");
	pid = fork();
	if (!pid)
		ref_charge_patched(16, ready[1], go[0]);
	if (read(ready[0], &c, 1) != 1)
		ksft_exit_fail_msg("the patched child failed\n");
	knob_set("cold_compress", 0);
	patched = knob("patch_pages") - t.pages;
	refs = knob("patch_references") - t.refs;
	kernel0 = keyed_value(CG_DIR "/memory.stat", "kernel", ' ');
	ksft_print_msg("ref charge: %ld patched against %ld references; refs cgroup %ld kB\n",
		       patched, refs, refs_cur / 1024);

	kill(refs_pid, SIGKILL);
	waitpid(refs_pid, &status, 0);
	/* The copies are made at the end of a full scan. */
	ok = wait_full_scans(3);
	/* memcg statistics may take 2 seconds to show. */
	for (i = 0; i < 50; i++) {
		copied = knob_or_0("patch_references_copied") - copied0;
		refs_cur = knob(CG_REFS "/memory.current");
		kernel = keyed_value(CG_DIR "/memory.stat", "kernel", ' ');
		if (copied == refs && refs_cur < NR_REF * (long)pagesize / 4 &&
		    kernel - kernel0 >= refs * (long)pagesize * 9 / 10)
			break;
		usleep(100000);
	}
	ksft_print_msg("ref charge: refs gone: %ld copied, refs cgroup %ld kB\n",
		       copied, refs_cur / 1024);
	ksft_print_msg("ref charge: patched cgroup kernel +%ld kB\n",
		       (kernel - kernel0) / 1024);
	ok &= patched >= NR_REF * 90 / 100 && refs > 0 && copied == refs &&
	      refs_cur < NR_REF * (long)pagesize / 4 &&
	      kernel - kernel0 >= refs * (long)pagesize * 9 / 10;
	if (rmdir(CG_REFS)) {
		ksft_print_msg("rmdir %s: %s\n", CG_REFS, strerror(errno));
		ok = false;
	}

	write(go[1], "c", 1);
	waitpid(pid, &status, 0);
	ksft_print_msg("ref charge: read back %s; patch_pages %ld -> %ld, references %ld -> %ld\n",
		       WIFEXITED(status) && !WEXITSTATUS(status) ?
		       "intact" : "WRONG", t.pages, knob("patch_pages"),
		       t.refs, knob("patch_references"));
	ok &= WIFEXITED(status) && !WEXITSTATUS(status);
	ok &= knob("patch_pages") == t.pages &&
	      knob("patch_references") == t.refs &&
	      knob_or_0("patch_references_copied") == copied0;
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	ok &= wait_full_scans(2);
	ksft_test_result(ok, "a reference only patches keep is charged to their memcg\n");
}

/*
 * zswap writes patched pages back to the swap device when their memory
 * cgroup goes over memory.zswap.max: each store from the cgroup writes
 * back one entry first.  A written back page is rebuilt from its patch
 * first; after the writeback the pages read back intact from the swap
 * device, and the patches and references are gone.
 */
static void test_writeback(void)
{
	int to_child[2], status, ret;
	struct scenario sc;
	struct tier_run t;
	long patched;
	char c;
	pid_t pid;
	bool ok;

	if (mkdir(CG_DIR, 0755) && errno != EEXIST) {
		ksft_test_result_skip("mkdir %s: %s\n", CG_DIR, strerror(errno));
		return;
	}
	ret = knob_write(CG_DIR "/memory.zswap.writeback", "0");
	if (ret) {
		ksft_test_result_skip("no zswap writeback in %s: %s\n", CG_DIR,
				      strerror(-ret));
		return;
	}
	knob_set("cold_compress", 0);
	tier_snap(&t);
	if (pipe(to_child))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork_patched(&sc, 7, CG_DIR "/cgroup.procs");
	if (!pid) {
		size_t n = 0;
		char *scratch;
		double start;
		long zswapped;
		int present;

		knob_set("cold_compress", 0);
		if (read(to_child[0], &c, 1) != 1)
			_exit(2);
		/* Stores from this cgroup, each writing one entry back. */
		scratch = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (scratch == MAP_FAILED)
			_exit(2);
		start = now();
		while (knob("patch_pages") > t.pages && now() - start < TIMEOUT) {
			fill_ref(scratch, 9, n++);
			madvise(scratch, pagesize, MADV_PAGEOUT);
		}
		/*
		 * Written back: out of memory and out of zswap (the cgroup's
		 * zswapped counts what is left there, the scratch page at most).
		 */
		present = count_present(getpid(), sc.s, NR_REF);
		/* memcg statistics: flushed in batches or every 2 seconds */
		for (n = 0; n < 50; n++) {
			zswapped = keyed_value(CG_DIR "/memory.stat",
					       "zswapped", ' ');
			if (zswapped <= (long)pagesize)
				break;
			usleep(100000);
		}
		ksft_print_msg("writeback: %d/%d present, zswapped %ld kB after %.1fs\n",
			       present, NR_REF, zswapped / 1024, now() - start);
		if (present > NR_REF / 20 || zswapped > (long)pagesize)
			_exit(3);
		_exit(memcmp(sc.copy, sc.s, NR_REF * pagesize) ? 1 : 0);
	}
	close(to_child[0]);
	patched = knob("patch_pages") - t.pages;
	if (knob_write(CG_WRITEBACK, "1") ||
	    knob_write(CG_DIR "/memory.zswap.writeback", "1") ||
	    knob_write(CG_DIR "/memory.zswap.max", "0"))
		ksft_exit_fail_msg("cannot turn zswap writeback on in %s\n",
				   CG_DIR);
	write(to_child[1], "g", 1);
	close(to_child[1]);
	waitpid(pid, &status, 0);
	knob_write(CG_WRITEBACK, "0");
	knob_write(CG_DIR "/memory.zswap.writeback", "0");
	knob_write(CG_DIR "/memory.zswap.max", "max");
	ksft_print_msg("writeback: %ld patched, child exit %d\n", patched,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	ksft_print_msg("writeback: patch_pages %ld -> %ld, references %ld -> %ld\n",
		       t.pages, knob("patch_pages"), t.refs,
		       knob("patch_references"));
	ok = patched >= NR_REF * 90 / 100 && WIFEXITED(status) && !WEXITSTATUS(status) &&
	     knob("patch_pages") == t.pages &&
	     knob("patch_references") == t.refs;
	ok &= wait_full_scans(2);
	ksft_test_result(ok, "writeback rebuilds patched pages, which read back intact\n");
}

/*
 * Read every page of @s: the number of pages whose read got SIGBUS, with
 * *@wrong set to the number of the others that differ from @copy.
 */
static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, 1);
}

/* Not locals: siglongjmp() would leave them undefined. */
static size_t rp_page;
static int rp_bus;

static int read_pages(const char *s, const char *copy, size_t pages,
		      int *wrong)
{
	*wrong = 0;
	rp_bus = 0;
	for (rp_page = 0; rp_page < pages; rp_page++) {
		if (sigsetjmp(bus_jmp, 1)) {
			rp_bus++;
			continue;
		}
		if (memcmp(s + rp_page * pagesize, copy + rp_page * pagesize,
			   pagesize))
			(*wrong)++;
	}
	return rp_bus;
}

/*
 * Reclaim what the test's cgroup holds: the pages whose reads failed stay
 * in the swap cache, !uptodate, until reclaim drops them.
 */
static void reclaim_cgroup(void)
{
	int i;

	/* -EAGAIN when less than asked for could go: all of it went. */
	for (i = 0; i < 2; i++)
		knob_write(CG_DIR "/memory.reclaim", "64M");
}

/* The child of test_decode_fail(), in CG_DIR with its pages patched. */
static int decode_fail_child(struct scenario *sc, const struct tier_run *t)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	int bus[4], wrong[4], i, try;
	long patched, faults[4];
	bool ok;

	knob_set("cold_compress", 0);
	/* A push may be under way: count once it is done. */
	if (!wait_full_scans(2))
		return 2;
	patched = knob("patch_pages") - t->pages;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL))
		return 2;
	if (knob_write(FAIL_DECODE "verbose", "0") ||
	    knob_write(FAIL_DECODE "interval", "1") ||
	    knob_write(FAIL_DECODE "times", "-1") ||
	    knob_write(FAIL_DECODE "probability", "100"))
		return 2;
	/*
	 * Twice; then again after the pages left the swap cache: each
	 * such page is read from zswap again (patch_faults counts the
	 * decodes tried), as its entry stayed.
	 */
	for (i = 0; i < 3; i++) {
		if (i == 2)
			reclaim_cgroup();
		faults[i] = knob("patch_faults");
		bus[i] = read_pages(sc->s, sc->copy, NR_REF, &wrong[i]);
		faults[i] = knob("patch_faults") - faults[i];
	}
	/* Decodes work again: every page comes back as it was. */
	knob_write(FAIL_DECODE "probability", "0");
	for (try = 0; try < 3; try++) {
		reclaim_cgroup();
		faults[3] = knob("patch_faults");
		bus[3] = read_pages(sc->s, sc->copy, NR_REF, &wrong[3]);
		faults[3] = knob("patch_faults") - faults[3];
		if (!bus[3])
			break;
	}
	for (i = 0; i < 4; i++)
		ksft_print_msg("decode fails: pass %d: %d SIGBUS, %d pages wrong, %ld decodes%s\n",
			       i + 1, bus[i], wrong[i], faults[i],
			       i == 3 ? " (injection off)" : "");
	ksft_print_msg("decode fails: %ld patched, patch_pages %ld -> %ld\n",
		       patched, t->pages, knob("patch_pages"));
	/* Pass 3 decoded pages again: their entries were kept. */
	ok = patched >= NR_REF * 90 / 100 && faults[0] >= patched &&
	     faults[2] > 0;
	for (i = 0; i < 3; i++)
		ok &= bus[i] == patched && !wrong[i];
	ok &= !bus[3] && !wrong[3];
	ok &= knob("patch_pages") == t->pages;
	return ok ? 0 : 1;
}

/*
 * A patch that fails its checks (injected by fail_ksm_patch_decode) is
 * an I/O error: every access of the page gets SIGBUS, also after the
 * page left the swap cache, and no access ever reads other content (the
 * slot's entry stays, nothing is read from the swap device, where
 * nothing was written); once decodes work again, every page reads back
 * as it was.
 */
static void test_decode_fail(void)
{
	struct scenario sc;
	struct tier_run t;
	int status;
	pid_t pid;

	if (access(FAIL_DECODE "probability", W_OK)) {
		ksft_test_result_skip("no %s: %s\n", FAIL_DECODE,
				      strerror(errno));
		return;
	}
	if (!setup_cgroup())
		return;
	knob_set("cold_compress", 0);
	tier_snap(&t);
	pid = fork_patched(&sc, 10, CG_DIR "/cgroup.procs");
	if (!pid)
		_exit(decode_fail_child(&sc, &t));
	waitpid(pid, &status, 0);
	knob_write(FAIL_DECODE "probability", "0");
	knob_set("cold_compress", 0);
	wait_full_scans(2);
	ksft_print_msg("decode fails: child exit %d, patch_pages %ld -> %ld\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1, t.pages,
		       knob("patch_pages"));
	ksft_test_result(WIFEXITED(status) && !WEXITSTATUS(status) &&
			 knob("patch_pages") == t.pages,
			 "a patch that fails to decode is SIGBUS on every access, never other content\n");
}

/**
 * struct writer - a thread that rewrites pages while the tiers push them
 * @s: the pages
 * @copy: their shadow: what they must read back as
 * @stop: set to end the thread
 * @writes: pages rewritten
 */
struct writer {
	char *s, *copy;
	bool stop;
	long writes;
};

/*
 * Rewrite a 16-byte run of a random page, then sleep a little, so that
 * most pages rest long enough to go cold and be pushed out, and a page
 * is written just as ksmd encodes it now and then.
 */
static void *writer_fn(void *arg)
{
	struct writer *wr = arg;
	uint64_t x = 0x5eed;

	while (!__atomic_load_n(&wr->stop, __ATOMIC_RELAXED)) {
		size_t i = rnd_next(&x) % NR_REF;
		size_t at = i * pagesize + rnd_next(&x) % (pagesize / 16) * 16;
		int b;

		for (b = 0; b < 16; b++) {
			char v = rnd_next(&x);

			wr->s[at + b] = v;
			wr->copy[at + b] = v;
		}
		wr->writes++;
		usleep(rnd_next(&x) % 4000);
	}
	return NULL;
}

/*
 * A writer rewrites the similar pages at random for 20 seconds while the
 * cold and patch tiers push them out and they are faulted back by the
 * writes: every page reads back as its shadow copy, the tier patched and
 * rebuilt pages during the run.
 */
static void test_writer(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	struct writer wr = {};
	struct scenario sc;
	long patched = 0, n, changed;
	int bus, wrong;
	pthread_t th;
	double start;
	bool ok;

	scenario_setup(&sc, 11, false);
	changed = knob("patch_changed");
	wr.s = sc.s;
	wr.copy = sc.copy;
	knob_set("cold_compress", 1);
	if (pthread_create(&th, NULL, writer_fn, &wr))
		ksft_exit_fail_msg("pthread_create\n");
	start = now();
	while (now() - start < 20) {
		n = knob("patch_pages") - sc.before.pages;
		if (n > patched)
			patched = n;
		usleep(100000);
	}
	__atomic_store_n(&wr.stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	knob_set("cold_compress", 0);
	/* A page that fails to come back is SIGBUS: count it, go on. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old))
		ksft_exit_fail_msg("sigaction: %s\n", strerror(errno));
	bus = read_pages(sc.s, sc.copy, NR_REF, &wrong);
	sigaction(SIGBUS, &old, NULL);
	ksft_print_msg("writer: %ld rewrites in 20 s, at most %ld pages patched at once\n",
		       wr.writes, patched);
	ksft_print_msg("writer: patch_faults +%ld, patch_changed +%ld\n",
		       knob("patch_faults") - sc.before.faults,
		       knob("patch_changed") - changed);
	ksft_print_msg("writer: read back %d SIGBUS, %d pages differ from their shadow\n",
		       bus, wrong);
	ok = !bus && !wrong && patched > 0 &&
	     knob("patch_faults") > sc.before.faults;
	ksft_test_result(ok, "pages rewritten while the tiers push them read back intact\n");
	scenario_end(&sc);
}

/*
 * patch_references_max caps the KSM pages the patches use: with room for
 * 16 more, 16 pages are patched against 16 new references and the others,
 * whose candidates are no references yet, are compressed as usual; all
 * read back intact.
 */
static void test_cap(void)
{
	long refs, patched, capped, max = knob("patch_references_max");
	long want = NR_REF * 90 / 100 - 16;
	struct scenario sc;
	double start;
	bool ok;

	/* Random pages: those not patched stay, zswap refuses them. */
	scenario_setup(&sc, 12, false);
	capped = knob("patch_capped");
	knob_set("patch_references_max", sc.before.refs + 16);
	knob_set("cold_compress", 1);
	start = now();
	while (knob("patch_capped") - capped < want && now() - start < TIMEOUT)
		usleep(50000);
	/* Let the pushes still in flight finish before counting. */
	ok = wait_full_scans(2);
	knob_set("cold_compress", 0);
	refs = knob("patch_references") - sc.before.refs;
	patched = knob("patch_pages") - sc.before.pages;
	capped = knob("patch_capped") - capped;
	ksft_print_msg("cap: %ld references, %ld patched, %ld capped after %.1fs\n",
		       refs, patched, capped, now() - start);
	ok &= refs == 16 && patched >= 16 && patched <= 16 + NR_REF / 20 &&
	      capped >= want;
	ok &= !memcmp(sc.copy, sc.s, NR_REF * pagesize);
	knob_set("patch_references_max", max);
	ksft_test_result(ok, "patch_references_max caps the KSM pages used as references\n");
	scenario_end(&sc);
}

/*
 * run=2 unmerges everything: no KSM page may stay behind, not even as a
 * patch reference.  Patched pages are rebuilt, their references go, and
 * the pages read back intact; then KSM runs again.
 */
static void test_unmerge(void)
{
	struct scenario sc;
	bool ok;

	scenario_setup(&sc, 13, false);
	ok = push_and_check("before run=2", sc.s, NR_REF, &sc.before, 90);
	knob_set("cold_compress", 0);
	knob_set("run", 2);
	ksft_print_msg("run=2: patch_pages %ld -> %ld, references %ld -> %ld, pages_shared %ld\n",
		       sc.before.pages, knob("patch_pages"), sc.before.refs,
		       knob("patch_references"), knob("pages_shared"));
	ok &= knob("patch_pages") == sc.before.pages &&
	      knob("patch_references") == sc.before.refs &&
	      knob("pages_shared") == 0;
	ok &= !memcmp(sc.copy, sc.s, NR_REF * pagesize);
	knob_set("run", 1);
	ksft_test_result(ok, "run=2 rebuilds patched pages and drops every reference\n");
	scenario_end(&sc);
}

/*
 * How many of the @n pages at @p are on @node (a move_pages() query);
 * with @say, name the first pages that are not.
 */
static size_t pages_on_node(char *p, size_t n, int node, bool say)
{
	void **pages = calloc(n, sizeof(*pages));
	int *status = calloc(n, sizeof(*status));
	size_t i, on = 0;

	if (!pages || !status)
		ksft_exit_fail_msg("calloc\n");
	for (i = 0; i < n; i++)
		pages[i] = p + i * pagesize;
	if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0))
		ksft_exit_fail_msg("move_pages: %s\n", strerror(errno));
	for (i = 0; i < n; i++) {
		if (status[i] == node)
			on++;
		else if (say && i - on < 4)
			ksft_print_msg("page %zu: node %d, not %d\n", i,
				       status[i], node);
	}
	free(status);
	free(pages);
	return on;
}

/*
 * migrate_pages() of this process from node @from to node @to, tried
 * again while pages stay behind (ksmd may hold one for a moment); the
 * number of the @n pages at @p that reached @to.
 */
static size_t migrate_node(char *p, size_t n, int from, int to)
{
	unsigned long old = 1UL << from, new = 1UL << to;
	size_t on = 0;
	int tries;

	for (tries = 0; tries < 5 && on < n; tries++) {
		if (syscall(SYS_migrate_pages, 0, sizeof(old) * 8, &old,
			    &new) < 0)
			ksft_exit_fail_msg("migrate_pages: %s\n",
					   strerror(errno));
		on = pages_on_node(p, n, to, tries == 4);
	}
	return on;
}

/*
 * The KSM pages that patches are decoded against migrate like any KSM
 * page: migrate_pages() moves this process's references to the other
 * node and back, then compaction runs; the references stay references,
 * and the patched pages read back intact against them.
 */
static void test_migrate(void)
{
	char *ref = malloc(pagesize);
	size_t there, back, i, n = 2 * NR_REF;
	struct scenario sc;
	int from, to, fd;
	long refs;
	bool ok;

	if (access("/sys/devices/system/node/node1", F_OK)) {
		ksft_test_result_skip("migration between nodes needs two NUMA nodes\n");
		free(ref);
		return;
	}
	scenario_setup(&sc, 14, false);
	ok = push_and_check("before migration", sc.s, NR_REF, &sc.before, 90);
	knob_set("cold_compress", 0);
	refs = knob("patch_references");
	from = pages_on_node(sc.r, 1, 1, false) ? 1 : 0;
	to = !from;
	/*
	 * ksmd's scan holds each KSM page for a moment, and migration gives
	 * up on a page with a reference it does not expect: stop ksmd, so
	 * that only the tier's references are left to count.
	 */
	knob_set("run", 0);
	there = migrate_node(sc.r, n, from, to);
	back = migrate_node(sc.r, n, to, from);
	knob_set("run", 1);
	fd = open("/proc/sys/vm/compact_memory", O_WRONLY);
	if (fd < 0 || write(fd, "1", 1) != 1)
		ksft_exit_fail_msg("compact_memory: %s\n", strerror(errno));
	close(fd);
	ksft_print_msg("migrate: %zu of %zu mappings to node %d, %zu back to %d\n",
		       there, n, to, back, from);
	ksft_print_msg("migrate: patch_references %ld -> %ld\n", refs,
		       knob("patch_references"));
	ok &= there == n && back == n && knob("patch_references") == refs;
	for (i = 0; i < n; i++) {
		fill_ref(ref, 14, i % NR_REF);
		ok &= !memcmp(ref, sc.r + i * pagesize, pagesize);
	}
	ok &= !memcmp(sc.copy, sc.s, NR_REF * pagesize);
	ksft_test_result(ok, "references migrate; patched pages read back intact\n");
	scenario_end(&sc);
	free(ref);
}

/*
 * The memory blocks online in ZONE_MOVABLE (the test guest's DIMM), all
 * on one node: their numbers in @blocks, the node in @node.
 */
static int movable_blocks(int *node, int *blocks, int max)
{
	DIR *mem = opendir(MEM_DIR), *blk;
	char path[512], zones[64];
	struct dirent *d, *e;
	int nr = 0, n;

	*node = -1;
	if (!mem)
		return 0;
	while ((d = readdir(mem)) && nr < max) {
		if (sscanf(d->d_name, "memory%d", &n) != 1)
			continue;
		snprintf(path, sizeof(path), MEM_DIR "%s/valid_zones",
			 d->d_name);
		if (knob_read_str(path, zones, sizeof(zones)) ||
		    strncmp(zones, "Movable", 7))
			continue;
		snprintf(path, sizeof(path), MEM_DIR "%s", d->d_name);
		blk = opendir(path);
		while (blk && (e = readdir(blk)))
			if (sscanf(e->d_name, "node%d", node) == 1)
				break;
		if (blk)
			closedir(blk);
		blocks[nr++] = n;
	}
	closedir(mem);
	return *node < 0 ? 0 : nr;
}

static void on_alarm(int sig)
{
}

/* Write @state to memory block @n; give up after 60 s.  0 or an errno. */
static int block_state(int n, const char *state)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	char path[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), MEM_DIR "memory%d/state", n);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	/* No SA_RESTART: a write stuck retrying the offline returns EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	alarm(60);
	if (write(fd, state, strlen(state)) < 0)
		err = errno;
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	close(fd);
	return err;
}

/* How many of the @n pages at @p have their pfn in memory blocks @blocks. */
static int pages_in_blocks(char *p, size_t n, const int *blocks, int nb)
{
	int fd = open("/proc/self/pagemap", O_RDONLY), in = 0, b;
	unsigned long block_pages;
	char hex[32];
	size_t i;

	if (fd < 0 || knob_read_str(MEM_DIR "block_size_bytes", hex,
				    sizeof(hex)))
		ksft_exit_fail_msg("pagemap or block_size_bytes: %s\n",
				   strerror(errno));
	block_pages = strtoul(hex, NULL, 16) / pagesize;
	for (i = 0; i < n; i++) {
		unsigned long pfn = pagemap_get_pfn(fd, p + i * pagesize);

		for (b = 0; b < nb; b++)
			in += pfn / block_pages == (unsigned long)blocks[b];
	}
	close(fd);
	return in;
}

/*
 * Memory offline with references in the memory: the test guest's DIMM,
 * onlined movable, holds the KSM pages that patches are decoded against,
 * half of them mapped by this process and half by nobody any more (only
 * the patches keep them).  Offlining every block of the DIMM migrates
 * them all and succeeds; the patched pages read back intact.
 */
static void test_offline(void)
{
	int blocks[64], nb, node, b, done = 0, err = 0, in;
	size_t half = NR_REF / 2, i;
	char *ref = malloc(pagesize);
	unsigned long mask;
	struct scenario sc;
	long unmapped;
	bool ok;

	nb = movable_blocks(&node, blocks, 64);
	if (!nb) {
		ksft_test_result_skip("memory offline needs memory online in ZONE_MOVABLE\n");
		free(ref);
		return;
	}
	/* Movable allocations of the node fill its movable zone first. */
	mask = 1UL << node;
	if (syscall(SYS_set_mempolicy, MPOL_BIND, &mask, sizeof(mask) * 8))
		ksft_exit_fail_msg("set_mempolicy: %s\n", strerror(errno));
	scenario_setup(&sc, 15, false);
	in = pages_in_blocks(sc.r, NR_REF, blocks, nb);
	ok = push_and_check("before offline", sc.s, NR_REF, &sc.before, 90);
	knob_set("cold_compress", 0);
	munmap(sc.r + half * pagesize, (NR_REF - half) * pagesize);
	munmap(sc.r + (NR_REF + half) * pagesize, (NR_REF - half) * pagesize);
	ok &= wait_full_scans(2);
	unmapped = knob("patch_references_unmapped");
	syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 0);

	for (b = 0; b < nb; b++) {
		int e = block_state(blocks[b], "offline");

		done += !e;
		if (e)
			err = e;
	}
	ksft_print_msg("offline: %d of %d references in the %d movable blocks of node %d\n",
		       in, NR_REF, nb, node);
	ksft_print_msg("offline: %ld references unmapped; %d blocks offlined (%s)\n",
		       unmapped, done, err ? strerror(err) : "no error");
	ok &= in > 0 && unmapped >= (long)(NR_REF - half) / 2 && done == nb;
	ok &= !memcmp(sc.copy, sc.s, NR_REF * pagesize);
	for (i = 0; i < half; i++) {
		fill_ref(ref, 15, i);
		ok &= !memcmp(ref, sc.r + i * pagesize, pagesize);
	}
	for (b = 0; b < nb; b++)
		block_state(blocks[b], "online_movable");
	ksft_test_result(ok, "memory offline migrates references, mapped or not\n");
	scenario_end(&sc);
	free(ref);
}

/* ---------------------------------------------------------- merge domains */

/*
 * Write @policy to merge_domains: it changes only while no KSM page is
 * mapped, so unmerge everything (run=2, which also rebuilds every patched
 * page) and start ksmd again.  Returns 0 or a negative errno.
 */
static int set_policy(const char *policy)
{
	int err = 0, tries;

	/* An exiting process may still map a KSM page for a moment. */
	for (tries = 0; tries < 20; tries++) {
		err = knob_write("run", "2");
		if (!err)
			err = knob_write("merge_domains", policy);
		if (!err)
			break;
		usleep(100000);
	}
	if (knob_write("run", "1") && !err)
		err = -EIO;
	return err;
}

/*
 * A process of its own, exec'd (the test process is registered with KSM
 * and cannot change its domain), in merge domain @domain: "ref" merges
 * the NR_REF reference pages of @seed (two copies), "similar" maps NR_REF
 * pages similar to them; all compress to about half a page on their own.
 * It reports its region on its stdout, waits for a byte on its stdin,
 * then checks that its region still reads as it wrote it: exit status 0
 * if so.
 */
static int domain_member(char **argv)
{
	unsigned long long domain = strtoull(argv[3], NULL, 0), got = 0;
	unsigned int seed = strtoul(argv[4], NULL, 0);
	bool is_ref = !strcmp(argv[2], "ref");
	size_t pages = is_ref ? 2 * NR_REF : NR_REF, i;
	char *p, *copy, *ref, c;
	uint64_t x = seed;
	double start;

	pagesize = getpagesize();
	if (prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_JOIN, domain, 0, 0) ||
	    prctl(PR_GET_KSM_DOMAIN, &got, 0, 0, 0) || got != domain)
		return 10;
	p = map_mergeable(pages);
	copy = malloc(pages * pagesize);
	ref = malloc(pagesize);
	if (!copy || !ref)
		return 11;
	for (i = 0; i < NR_REF; i++) {
		size_t b;

		/* Half of each 64 bytes zero: zswap stores it unpatched too. */
		fill_ref(ref, seed, i);
		for (b = 0; b < pagesize; b += 64)
			memset(ref + b + 32, 0, 32);
		if (is_ref) {
			memcpy(p + i * pagesize, ref, pagesize);
			memcpy(p + (NR_REF + i) * pagesize, ref, pagesize);
		} else {
			make_similar(p + i * pagesize, ref, &x);
		}
	}
	memcpy(copy, p, pages * pagesize);
	start = now();
	while (is_ref && merging_pages() < 2 * NR_REF) {
		if (now() - start > TIMEOUT)
			return 12;
		usleep(20000);
	}
	printf("%p\n", p);
	fflush(stdout);
	if (read(0, &c, 1) < 0)
		return 13;
	return memcmp(copy, p, pages * pagesize) ? 14 : 0;
}

/**
 * struct member - a process of domain_member(), seen from the test
 * @pid: its pid
 * @addr: its region, in its address space
 * @go: write end of its stdin
 */
struct member {
	pid_t pid;
	char *addr;
	int go;
};

static bool start_member(struct member *m, const char *role,
			 unsigned long long domain, unsigned int seed)
{
	char dom[32], sd[16], line[64];
	int in[2], out[2];
	ssize_t n;

	snprintf(dom, sizeof(dom), "%llu", domain);
	snprintf(sd, sizeof(sd), "%u", seed);
	/* Close-on-exec: no member holds another's ends, or its own. */
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	m->pid = fork();
	if (m->pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!m->pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl("/proc/self/exe", "ksm_patch_tests", "--domain-member",
		      role, dom, sd, (char *)NULL);
		_exit(15);
	}
	close(in[0]);
	close(out[1]);
	m->go = in[1];
	n = read(out[0], line, sizeof(line) - 1);
	close(out[0]);
	m->addr = NULL;
	if (n > 0) {
		line[n] = 0;
		if (sscanf(line, "%p", (void **)&m->addr) != 1)
			m->addr = NULL;
	}
	if (!m->addr)
		ksft_print_msg("%s process of domain %llu did not start\n", role,
			       domain);
	return m->addr;
}

/* Let the member check its region and exit: true if it read back intact. */
static bool finish_member(struct member *m, const char *role)
{
	int status;

	if (write(m->go, "x", 1) != 1)
		ksft_print_msg("%s: write: %s\n", role, strerror(errno));
	close(m->go);
	if (waitpid(m->pid, &status, 0) != m->pid)
		return false;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("%s process: status 0x%x\n", role, status);
		return false;
	}
	return true;
}

/*
 * With merge_domains=prctl, a process in domain 1001 holds KSM pages;
 * another, in the same domain or in domain 1002, has pages similar to
 * them that go cold.  In the same domain they are patched as without
 * domains; in another domain none is patched (that would tell the second
 * process how much of the first one's pages it guessed): they are
 * compressed on their own.  Both read back byte for byte.
 */
static void test_domains(bool same)
{
	const char *what = same ? "same domain" : "other domain";
	struct member ref = { .pid = -1 }, sim = { .pid = -1 };
	long patched, tried, tried0, out, out0;
	struct tier_run before;
	int present = -1;
	double start;
	bool ok;

	if (access(KSM_DIR "merge_domains", F_OK)) {
		ksft_test_result_skip("%s: kernel without merge domains\n", what);
		return;
	}
	knob_set("cold_compress", 0);
	knob_set("patch_tier", 1);
	if (!saved_policy[0]) {
		char buf[64], *b;

		/* "[none] prctl": the word in brackets is in force. */
		if (knob_read_str("merge_domains", buf, sizeof(buf)))
			ksft_exit_fail_msg("merge_domains: cannot read\n");
		b = strchr(buf, '[');
		if (!b)
			ksft_exit_fail_msg("merge_domains: %s\n", buf);
		b++;
		b[strcspn(b, "]")] = 0;
		snprintf(saved_policy, sizeof(saved_policy), "%s", b);
	}
	if (set_policy("prctl")) {
		ksft_test_result_fail("%s: merge_domains=prctl refused\n", what);
		return;
	}
	ok = start_member(&ref, "ref", 1001, 21);
	tier_snap(&before);
	tried0 = knob("patch_tried");
	out0 = knob("cold_pages_compressed");
	ok = ok && start_member(&sim, "similar", same ? 1001 : 1002, 21);
	if (ok) {
		knob_set("cold_compress", 1);
		start = now();
		do {
			present = count_present(sim.pid, sim.addr, NR_REF);
			if (present <= NR_REF / 20)
				break;
			usleep(50000);
		} while (now() - start < TIMEOUT);
		wait_full_scans(2);
		present = count_present(sim.pid, sim.addr, NR_REF);
	}
	patched = knob("patch_pages") - before.pages;
	tried = knob("patch_tried") - tried0;
	out = knob("cold_pages_compressed") - out0;
	knob_set("cold_compress", 0);
	ksft_print_msg("%s: %d/%d present, %ld pushed, %ld patched, %ld tried\n",
		       what, present, NR_REF, out, patched, tried);
	/* Across domains no candidate is found, so none is even tried. */
	ok = ok && present <= NR_REF / 20 &&
	     (same ? patched >= NR_REF * 90 / 100 :
		     patched <= 0 && tried == 0 && out >= NR_REF * 95 / 100);
	if (sim.pid > 0)
		ok &= finish_member(&sim, "similar");
	if (ref.pid > 0)
		ok &= finish_member(&ref, "ref");
	wait_full_scans(2);
	ksft_test_result(ok, "%s: %s, read back intact\n", what,
			 same ? "similar pages patched" :
				"no page patched across domains");
}

int main(int argc, char **argv)
{
	char *anchor;
	size_t i;

	if (argc == 5 && !strcmp(argv[1], "--domain-member"))
		return domain_member(argv);
	/* A member that died leaves a pipe nobody reads: not fatal. */
	signal(SIGPIPE, SIG_IGN);
	ksft_print_header();
	pagesize = getpagesize();
	if (getuid())
		ksft_exit_skip("needs root\n");
	if (access(KSM_DIR "patch_tier", F_OK))
		ksft_exit_skip("kernel without the KSM patch tier\n");
	if (access(ZSWAP_ENABLED, F_OK))
		ksft_exit_skip("kernel without zswap\n");
	if (pagesize != 4096)
		ksft_exit_skip("the bounds below assume 4 KiB pages\n");
	ksft_set_plan(19);

	for (i = 0; i < ARRAY_SIZE(saved_knobs); i++)
		if (knob_read_str(saved_knobs[i], saved_values[i],
				  sizeof(saved_values[i])))
			saved_values[i][0] = 0;
	main_pid = getpid();
	atexit(cleanup);

	if (!setup_swap())
		ksft_exit_fail_msg("swap on a loop device: %s\n",
				   strerror(errno));
	if (knob_write(ZSWAP_ENABLED, "Y"))
		ksft_exit_fail_msg("cannot enable zswap\n");
	if (knob_write(CG_WRITEBACK, "0"))
		ksft_exit_fail_msg("cannot disable zswap writeback in %s\n",
				   CG_WRITEBACK);

	knob_set("run", 1);
	knob_set("pages_to_scan", 1000);
	knob_set("sleep_millisecs", 10);
	knob_set("nru_idle_secs", 1);
	knob_set("nru_cold_secs", 2);
	knob_set("cold_compress_pages", 256);

	/*
	 * ksmd drops an mm, and stops when it has none, once no mergeable
	 * area is left: one page stays mapped so that full scans go on
	 * after a test unmapped its regions.
	 */
	anchor = map_mergeable(1);
	snprintf(anchor, pagesize, "ksm_patch_tests anchor %d", getpid());

	test_knobs();
	test_backfill();
	test_similar();
	test_shifted();
	test_mappers_exit();
	test_swapoff();
	test_exit();
	test_memcg();
	test_ref_charge();
	test_writeback();
	test_decode_fail();
	test_writer();
	test_cap();
	test_unmerge();
	test_migrate();
	test_offline();
	test_domains(true);
	test_domains(false);

	ksft_finished();
}
