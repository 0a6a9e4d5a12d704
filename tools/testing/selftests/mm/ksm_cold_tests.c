// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM cold pages: ksmd runs a not-recently-used clock on mergeable pages
 * and pushes cold pages that merged with nothing into zswap.
 *
 * The test sets up what an operator would: a swap device that only
 * provides slots (a loop device on a tmpfs file), zswap enabled and zswap
 * writeback disabled in the root memory cgroup, so that nothing reaches the
 * swap device.  Residency is read from /proc/PID/pagemap, zswap's share
 * from /proc/meminfo, and every page is read back byte for byte.
 *
 * Copyright (C) 2026 KSM++ developers
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <sys/wait.h>
#include <linux/loop.h>

#include "../kselftest.h"
#include "vm_util.h"

#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define ZSWAP_ENABLED	"/sys/module/zswap/parameters/enabled"
#define CG_WRITEBACK	"/sys/fs/cgroup/memory.zswap.writeback"
#define CG_DIR		"/sys/fs/cgroup/ksm_cold_tests"
#define NR_CHARGED	8192	/* pages whose record is charged */
#define NR_PAGES	1024	/* pages of the compressible region */
#define NR_POOR		256	/* pages of random data */
#define SWAP_MB		64
#define TIMEOUT		120	/* seconds */

static size_t pagesize;
/* Only the test process restores the system, not its forked children. */
static pid_t main_pid;
static char swap_file[64];
static char loop_path[64];
static int loop_fd = -1;
static bool swap_on;

/* ---------------------------------------------------------------- knobs */

/* Knobs under KSM_DIR, or absolute paths; restored in reverse order. */
static const char * const saved_knobs[] = {
	ZSWAP_ENABLED, CG_WRITEBACK, "run", "pages_to_scan",
	"sleep_millisecs", "smart_scan", "nru_idle_secs", "nru_cold_secs",
	"cold_compress_pages", "cold_compress",
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

static void cleanup(void)
{
	int i;

	if (getpid() != main_pid)
		return;
	/* Bring everything back from zswap before zswap goes off. */
	knob_write("cold_compress", "0");
	if (swap_on)
		swapoff(loop_path);
	if (loop_fd >= 0)
		close(loop_fd);
	if (swap_file[0])
		unlink(swap_file);
	rmdir(CG_DIR);
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

static bool wait_full_scans(int n)
{
	long target = knob("full_scans") + n;
	double start = now();

	while (knob("full_scans") < target) {
		if (now() - start > TIMEOUT)
			return false;
		usleep(20000);
	}
	return true;
}

/*
 * Wait for @n full scans and @ages times nru_cold_secs: what must not be
 * pushed had the time to go cold, however fast ksmd scans.
 */
static bool wait_scans_and_ages(int n, int ages)
{
	double until = now() + ages * knob("nru_cold_secs");
	bool ok = wait_full_scans(n);

	while (now() < until)
		usleep(50000);
	return ok;
}

static long meminfo_kb(const char *key)
{
	char line[128];
	long val = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) &&
		    line[strlen(key)] == ':') {
			val = strtol(line + strlen(key) + 1, NULL, 10);
			break;
		}
	fclose(f);
	return val;
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

/* The size of a PMD-mapped huge page in pages; 0 without THP. */
static size_t huge_pages(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size",
			"r");
	unsigned long size = 0;

	if (f) {
		if (fscanf(f, "%lu", &size) != 1)
			size = 0;
		fclose(f);
	}
	return size / pagesize;
}

/*
 * @nr huge pages of mergeable memory, aligned, MADV_HUGEPAGE as QEMU
 * maps guest RAM; *@pages is set to its size in pages.
 */
static char *map_huge(size_t nr, size_t *pages)
{
	size_t huge = huge_pages() * pagesize, len = nr * huge;
	char *raw, *p;

	raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	p = (char *)(((unsigned long)raw + huge - 1) & ~(huge - 1));
	if (p > raw)
		munmap(raw, p - raw);
	munmap(p + len, raw + huge - p);
	if (madvise(p, len, MADV_HUGEPAGE) || madvise(p, len, MADV_MERGEABLE))
		ksft_exit_fail_msg("madvise: %s\n", strerror(errno));
	*pages = len / pagesize;
	return p;
}

/* AnonHugePages of the mapping at @p in process @pid, in kB. */
static long anon_huge_kb(pid_t pid, const char *p)
{
	unsigned long start, end, at = (unsigned long)p;
	char path[64], *line = NULL;
	bool inside = false;
	size_t size = 0;
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (getline(&line, &size, f) > 0) {
		/* A mapping's first line starts with its range; fields "Key:" */
		if (!strchr(line, ':') || strchr(line, ' ') < strchr(line, ':')) {
			if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
				inside = start <= at && at < end;
		} else if (inside &&
			   sscanf(line, "AnonHugePages: %ld", &kb) == 1) {
			break;
		}
	}
	free(line);
	fclose(f);
	return kb;
}

/* Unique but compressible text: about 20:1 with lz4. */
static void fill_text(char *p, size_t pages, unsigned int salt)
{
	size_t i, off;

	for (i = 0; i < pages; i++)
		for (off = 0; off + 64 <= pagesize; off += 64)
			snprintf(p + i * pagesize + off, 65,
				 "ksm cold page %08x salt %08x line %04x .......\n",
				 (unsigned int)i, salt,
				 (unsigned int)(off / 64));
}

/* Random bytes: zswap cannot compress them. */
static void fill_random(char *p, size_t pages)
{
	size_t i;

	for (i = 0; i < pages * pagesize / sizeof(long); i++)
		((long *)p)[i] = random() ^ ((long)random() << 31);
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

/*
 * Wait until at most @target pages are present in process @pid; return
 * the last count.
 */
static int wait_present_below(pid_t pid, const char *p, size_t pages,
			      int target, double *took)
{
	double start = now();
	int present;

	do {
		present = count_present(pid, p, pages);
		if (present <= target)
			break;
		usleep(50000);
	} while (now() - start < TIMEOUT);
	*took = now() - start;
	return present;
}

/*
 * Turn the tier on with short ages and wait until at most 5 % of the
 * @pages at @p in process @pid are present; return how many are.
 */
static int push_cold_of(pid_t pid, const char *p, size_t pages,
			double *took)
{
	knob_set("nru_idle_secs", 1);
	knob_set("nru_cold_secs", 2);
	knob_set("cold_compress_pages", 256);
	knob_set("cold_compress", 1);
	return wait_present_below(pid, p, pages, pages / 20, took);
}

static int push_cold(const char *p, size_t pages, double *took)
{
	return push_cold_of(getpid(), p, pages, took);
}

/* Swap space for slots only: a loop device on a file in /tmp (tmpfs). */
static bool setup_swap(void)
{
	size_t len = (size_t)SWAP_MB << 20;
	struct loop_config cfg = {};
	int ctl, n, fd;
	char *hdr;

	snprintf(swap_file, sizeof(swap_file), "/tmp/ksm_cold_swap_XXXXXX");
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

/* ----------------------------------------------------------------- tests */

static void test_knobs(void)
{
	static const struct {
		const char *knob, *bad[5];
	} cases[] = {
		{ "cold_compress", { "2", "-1", "abc", " ", "4294967297" } },
		{ "nru_idle_secs", { "0", "86401", "-1", "x", "1x" } },
		{ "nru_cold_secs", { "0", "86401", "-1", "x", "4294967297" } },
		{ "cold_compress_pages", { "0", "4097", "-5", "y", "1e3" } },
	};
	static const char * const counters[] = {
		"nru_pages_modified", "nru_pages_unmodified", "nru_pages_idle",
		"nru_pages_cold", "cold_threshold_secs",
		"cold_pages_compressed", "cold_pages_rejected",
		"cold_huge_pages_split", "cold_pages_out", "cold_pages_back", "cold_refaults",
		"cold_bytes_saved",
	};
	bool ok = true;
	size_t i, j;

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
	/* Good values at the edges are taken. */
	knob_set("nru_idle_secs", 86400);
	ok &= knob("nru_idle_secs") == 86400;
	knob_set("nru_idle_secs", 1);
	knob_set("cold_compress_pages", 4096);
	ok &= knob("cold_compress_pages") == 4096;
	knob_set("cold_compress_pages", 1);
	ok &= knob("cold_compress_pages") == 1;
	/* Counters are read-only. */
	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		if (knob_write(counters[i], "1") != -EACCES) {
			ksft_print_msg("%s is writable\n", counters[i]);
			ok = false;
		}
	}
	ksft_test_result(ok, "knobs reject bad values and keep their value\n");
}

/* With the tier off, a cold region stays put and nothing is counted. */
static void test_off(void)
{
	long compressed = knob("cold_pages_compressed");
	long zswapped = meminfo_kb("Zswapped");
	char *p = map_mergeable(NR_PAGES), *copy;
	int present;
	bool ok;

	copy = malloc(NR_PAGES * pagesize);
	fill_text(p, NR_PAGES, 1);
	memcpy(copy, p, NR_PAGES * pagesize);
	knob_set("cold_compress", 0);
	knob_set("nru_cold_secs", 1);
	ok = wait_scans_and_ages(8, 3);
	present = count_present(getpid(), p, NR_PAGES);
	ok &= present == NR_PAGES &&
	      knob("cold_pages_compressed") == compressed &&
	      knob("nru_pages_cold") == 0 && knob("nru_pages_idle") == 0 &&
	      knob("nru_pages_modified") == 0 &&
	      knob("nru_pages_unmodified") == 0 &&
	      meminfo_kb("Zswapped") <= zswapped + 64;
	ksft_print_msg("off: %d/%d present, zswapped %ld -> %ld kB\n",
		       present, NR_PAGES, zswapped, meminfo_kb("Zswapped"));
	ok &= !memcmp(copy, p, NR_PAGES * pagesize);
	ksft_test_result(ok, "tier off: cold pages stay resident, no counters move\n");
	munmap(p, NR_PAGES * pagesize);
	free(copy);
}

/*
 * An untouched region of unique compressible data goes to zswap after
 * nru_cold_secs, reads back byte for byte, and the pages that came
 * back are counted as refaults and raise the cold threshold.
 */
static void test_compress(void)
{
	long compressed = knob("cold_pages_compressed");
	long refaults = knob("cold_refaults");
	long back = knob("cold_pages_back");
	long zswapped = meminfo_kb("Zswapped");
	long scans = knob("full_scans");
	char *p = map_mergeable(NR_PAGES), *copy;
	long cold, saved, out, dz, pushed;
	int present, i;
	double took;
	bool ok;

	copy = malloc(NR_PAGES * pagesize);
	fill_text(p, NR_PAGES, 2);
	memcpy(copy, p, NR_PAGES * pagesize);
	present = push_cold(p, NR_PAGES, &took);
	/*
	 * A refault counts only within the cold threshold of the push: stop
	 * ksmd while this slow guest reads back.
	 */
	knob_set("run", 0);
	dz = meminfo_kb("Zswapped") - zswapped;
	pushed = knob("cold_pages_compressed") - compressed;
	out = knob("cold_pages_out");
	saved = knob("cold_bytes_saved");
	cold = knob("nru_pages_cold");
	ksft_print_msg("%d/%d present after %.1fs, %ld full scans\n",
		       present, NR_PAGES, took, knob("full_scans") - scans);
	ksft_print_msg("pushed %ld, out %ld, zswapped +%ld kB, saved %ld kB, last scan cold %ld\n",
		       pushed, out, dz, saved / 1024, cold);
	ok = present <= NR_PAGES / 20 && pushed >= NR_PAGES * 95 / 100 &&
	     out >= NR_PAGES * 95 / 100 &&
	     dz >= (long)(NR_PAGES * 95 / 100 * pagesize / 1024) &&
	     saved > 0 && saved < out * (long)pagesize;
	/*
	 * Read everything back: with the window widened (it is the cold
	 * threshold) each page found again counts as a refault and ksmd
	 * backs off.
	 */
	knob_set("nru_cold_secs", 32);
	ok &= !memcmp(copy, p, NR_PAGES * pagesize);
	knob_set("run", 1);
	ksft_test_result(ok, "cold region compressed into zswap, read back intact\n");
	/* The backoff is adjusted as the clock ticks: a second or two. */
	ok = wait_full_scans(12);
	for (i = 0; i < 100 && knob("cold_threshold_secs") <= 32; i++)
		usleep(100000);
	ksft_print_msg("back %ld, refaults %ld, out %ld, threshold %ld s\n",
		       knob("cold_pages_back") - back,
		       knob("cold_refaults") - refaults, knob("cold_pages_out"),
		       knob("cold_threshold_secs"));
	ok &= knob("cold_pages_back") - back >= pushed * 95 / 100 &&
	      knob("cold_refaults") - refaults >= pushed * 95 / 100 &&
	      knob("cold_pages_out") <= out - pushed * 95 / 100 &&
	      knob("cold_threshold_secs") > 32;
	ok &= count_present(getpid(), p, NR_PAGES) == NR_PAGES &&
	      !memcmp(copy, p, NR_PAGES * pagesize);
	ksft_test_result(ok, "pages faulted back are refaults, cold threshold raised\n");
	knob_set("cold_compress", 0);	/* resets the backoff */
	knob_set("nru_cold_secs", 2);
	munmap(p, NR_PAGES * pagesize);
	free(copy);
}

/*
 * A region in use all the time is never cold and stays resident: its
 * first half written (the checksum changes), its second half only read
 * (only the accessed bit tells).
 */
static void test_hot(void)
{
	long compressed, scans, pushed, modified, unmodified;
	int pipefd[2], written, reads;
	bool ok;
	pid_t pid;
	char *p;

	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (!pid) {
		unsigned long iter = 0;
		size_t i;

		/* Its own region: a copy left in the parent would go cold. */
		p = map_mergeable(NR_PAGES);
		fill_text(p, NR_PAGES, 3);
		write(pipefd[1], &p, sizeof(p));
		for (;;) {
			for (i = 0; i < NR_PAGES / 2; i++)
				p[i * pagesize + iter % 64 * 64]++;
			/* An atomic load is a load the compiler keeps. */
			for (; i < NR_PAGES; i++)
				(void)__atomic_load_n(&p[i * pagesize +
							 iter % 64 * 64],
						      __ATOMIC_RELAXED);
			iter++;
			usleep(1000);
		}
	}
	close(pipefd[1]);
	if (read(pipefd[0], &p, sizeof(p)) != sizeof(p))
		ksft_exit_fail_msg("writer did not start\n");
	close(pipefd[0]);
	/*
	 * Only now: while it filled the region, its first pages were idle.
	 * Slow scans, and a cold age of 4 s that outlasts any pause of the
	 * writer in this slow guest; three cold ages to go cold in.
	 */
	knob_set("sleep_millisecs", 100);
	knob_set("nru_cold_secs", 4);
	knob_set("cold_compress", 1);
	compressed = knob("cold_pages_compressed");
	scans = knob("full_scans");
	ok = wait_scans_and_ages(12, 3);
	pushed = knob("cold_pages_compressed") - compressed;
	written = count_present(pid, p, NR_PAGES / 2);
	reads = count_present(pid, p + NR_PAGES / 2 * pagesize, NR_PAGES / 2);
	modified = knob("nru_pages_modified");
	unmodified = knob("nru_pages_unmodified");
	ksft_print_msg("hot: %d+%d/%d present (written+read) after %ld full scans, %ld pushed\n",
		       written, reads, NR_PAGES, knob("full_scans") - scans,
		       pushed);
	ksft_print_msg("last scan: modified %ld unmodified %ld idle %ld cold %ld\n",
		       modified, unmodified, knob("nru_pages_idle"),
		       knob("nru_pages_cold"));
	/*
	 * The property is that nothing was pushed; how the last scan
	 * classed the pages shifts with the load of this emulated CPU (a
	 * pause of the reader makes pages idle) and with smart_scan (only
	 * the pages a scan visits are classed), so it is only printed.
	 */
	ok &= written + reads == NR_PAGES && !pushed;
	knob_set("cold_compress", 0);
	knob_set("sleep_millisecs", 10);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ksft_test_result(ok, "region written or read all the time stays resident\n");
}

/*
 * Guest memory is huge pages (QEMU maps it MADV_HUGEPAGE): a cold region
 * of huge pages is split and pushed into zswap as small pages are, and
 * reads back byte for byte.
 */
static void test_huge(void)
{
	long compressed = knob("cold_pages_compressed");
	long split = knob("cold_huge_pages_split");
	long huge_kb, pushed, splits;
	size_t pages;
	char *p, *copy;
	int present;
	double took;
	bool ok;

	if (!huge_pages()) {
		ksft_test_result_skip("huge pages: kernel without THP\n");
		return;
	}
	p = map_huge(2, &pages);
	fill_text(p, pages, 5);
	huge_kb = anon_huge_kb(getpid(), p);
	if (huge_kb <= 0) {
		ksft_test_result_skip("huge pages: none to be had (%ld kB)\n",
				      huge_kb);
		munmap(p, pages * pagesize);
		return;
	}
	copy = malloc(pages * pagesize);
	if (!copy)
		ksft_exit_fail_msg("malloc\n");
	memcpy(copy, p, pages * pagesize);
	present = push_cold(p, pages, &took);
	knob_set("cold_compress", 0);
	pushed = knob("cold_pages_compressed") - compressed;
	splits = knob("cold_huge_pages_split") - split;
	ksft_print_msg("huge: %ld kB THP; %d/%zu present after %.1fs\n",
		       huge_kb, present, pages, took);
	ksft_print_msg("huge: %ld pushed, %ld split\n", pushed, splits);
	ok = present <= (int)pages / 20 && pushed >= (long)pages * 95 / 100 &&
	     splits >= huge_kb * 1024 / (long)(huge_pages() * pagesize);
	ok &= !memcmp(copy, p, pages * pagesize);
	munmap(p, pages * pagesize);
	free(copy);
	ksft_test_result(ok, "cold huge pages split, compressed, read back intact\n");
}

/*
 * A huge page in use is neither split nor pushed, even when only one of
 * its pages is read: the PMD's accessed bit stands for all of them.
 */
static void test_huge_hot(void)
{
	long compressed, split, huge_kb, pushed, splits;
	int pipefd[2], present;
	size_t pages;
	bool ok;
	pid_t pid;
	char *p;

	if (!huge_pages()) {
		ksft_test_result_skip("huge pages in use: kernel without THP\n");
		return;
	}
	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (!pid) {
		unsigned long iter = 0;
		size_t i, per = huge_pages();

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		p = map_huge(2, &pages);
		fill_text(p, pages, 6);
		if (write(pipefd[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		for (;;) {
			/* One page of each huge page, read only. */
			for (i = 0; i < pages; i += per)
				(void)__atomic_load_n(&p[(i + iter % per) *
							 pagesize],
						      __ATOMIC_RELAXED);
			iter++;
			usleep(1000);
		}
	}
	close(pipefd[1]);
	if (read(pipefd[0], &p, sizeof(p)) != sizeof(p))
		ksft_exit_fail_msg("reader did not start\n");
	close(pipefd[0]);
	pages = 2 * huge_pages();
	huge_kb = anon_huge_kb(pid, p);
	if (huge_kb <= 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ksft_test_result_skip("huge pages in use: none to be had\n");
		return;
	}
	/*
	 * An idle page's TLB entry is flushed: idle well before cold, so
	 * that a cached translation cannot hide a use until it is cold.
	 */
	knob_set("sleep_millisecs", 100);
	knob_set("nru_idle_secs", 1);
	knob_set("nru_cold_secs", 4);
	knob_set("cold_compress", 1);
	compressed = knob("cold_pages_compressed");
	split = knob("cold_huge_pages_split");
	ok = wait_scans_and_ages(12, 3);
	pushed = knob("cold_pages_compressed") - compressed;
	splits = knob("cold_huge_pages_split") - split;
	present = count_present(pid, p, pages);
	knob_set("cold_compress", 0);
	knob_set("sleep_millisecs", 10);
	ksft_print_msg("huge in use: %ld kB THP (now %ld), %d/%zu present\n",
		       huge_kb, anon_huge_kb(pid, p), present, pages);
	ksft_print_msg("huge in use: %ld pushed, %ld split\n", pushed, splits);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ok &= present == (int)pages && !pushed && !splits;
	ksft_test_result(ok, "huge pages in use stay whole and resident\n");
}

/*
 * Pages zswap refuses are remembered: once read back (mapped again, same
 * content) and cold again, ksmd does not push them again.
 */
static void test_poor(void)
{
	long rejected = knob("cold_pages_rejected");
	long zswapped = meminfo_kb("Zswapped");
	char *p = map_mergeable(NR_POOR), *copy;
	long r1, r2, dz;
	double start;
	bool ok;

	copy = malloc(NR_POOR * pagesize);
	fill_random(p, NR_POOR);
	memcpy(copy, p, NR_POOR * pagesize);
	knob_set("nru_cold_secs", 2);
	knob_set("cold_compress", 1);
	start = now();
	while (knob("cold_pages_rejected") - rejected < NR_POOR * 9 / 10 &&
	       now() - start < TIMEOUT)
		usleep(50000);
	/* The last first-time refusals land in the next scans. */
	wait_full_scans(2);
	r1 = knob("cold_pages_rejected") - rejected;
	dz = meminfo_kb("Zswapped") - zswapped;
	ok = r1 >= NR_POOR * 9 / 10 &&
	     dz < (long)(NR_POOR / 10 * pagesize / 1024);
	/* Touch them all: mapped again, unchanged. */
	ok &= !memcmp(copy, p, NR_POOR * pagesize);
	ok &= wait_scans_and_ages(16, 3);
	r2 = knob("cold_pages_rejected") - rejected;
	ksft_print_msg("poor: %ld rejected in %.1fs, zswapped +%ld kB; %ld 3 ages later\n",
		       r1, now() - start, dz, r2);
	/*
	 * Refused once each: NR_POOR refusals in all, with a tenth of slack,
	 * however many of the first ones came after r1 was read (a slow
	 * scan may refuse the last tenth only then: 230 by r1, 256 three
	 * ages later, in one run).
	 */
	ok &= r2 <= NR_POOR + NR_POOR / 10;
	ok &= !memcmp(copy, p, NR_POOR * pagesize);
	ksft_test_result(ok, "incompressible pages refused once, not retried, intact\n");
	knob_set("cold_compress", 0);
	munmap(p, NR_POOR * pagesize);
	free(copy);
}

/*
 * Cold pages that must stay: with zswap writeback enabled (what zswap
 * refuses would go to the swap device), and pages shared with a child
 * after fork (only this mapping's accessed bit was tested).
 */
static void test_not_pushed(void)
{
	long compressed = knob("cold_pages_compressed");
	char *p = map_mergeable(NR_PAGES);
	long pushed_wb, pushed;
	int present, shared;
	pid_t pid;
	bool ok;

	fill_text(p, NR_PAGES, 4);
	knob_set("nru_cold_secs", 2);
	knob_set("cold_compress", 1);
	if (knob_write(CG_WRITEBACK, "1"))
		ksft_exit_fail_msg("cannot enable zswap writeback\n");
	ok = wait_scans_and_ages(12, 3);
	present = count_present(getpid(), p, NR_PAGES);
	pushed_wb = knob("cold_pages_compressed") - compressed;
	ok &= present == NR_PAGES && !pushed_wb;

	/* Shared with a child that never touches them (before they can go) */
	pid = fork();
	if (!pid) {
		pause();
		_exit(0);
	}
	knob_write(CG_WRITEBACK, "0");
	ok &= wait_scans_and_ages(12, 3);
	shared = count_present(getpid(), p, NR_PAGES);
	pushed = knob("cold_pages_compressed") - compressed;
	/*
	 * Tier off before the child goes: once it has exited the pages are
	 * mapped once, cold, and may rightly be pushed.
	 */
	knob_set("cold_compress", 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ksft_print_msg("writeback on: %d/%d present, %ld pushed; shared: %d/%d, %ld pushed\n",
		       present, NR_PAGES, pushed_wb, shared, NR_PAGES, pushed);
	ok &= shared == NR_PAGES && !pushed;
	munmap(p, NR_PAGES * pagesize);
	ksft_test_result(ok, "not pushed: zswap writeback on, pages shared after fork\n");
}

/*
 * Pages pushed out and then zapped (MADV_DONTNEED), or pushed out of a
 * region that is then unmapped, are no longer out: ksmd's scan finds
 * their ptes none, or no mergeable area there, and forgets them, so
 * cold_pages_out falls back (another mergeable region keeps the mm, and
 * its cold state, in KSM).
 */
static void test_unmapped(void)
{
	long compressed, out_before, pushed, out, zapped, after, refaults;
	char *keep = map_mergeable(1);
	size_t i, sum = 0;
	char *p = map_mergeable(NR_PAGES);
	size_t half = NR_PAGES / 2;
	double took;
	int present;
	bool ok;

	/* What the tests before left behind is gone after two scans. */
	wait_full_scans(2);
	compressed = knob("cold_pages_compressed");
	out_before = knob("cold_pages_out");
	fill_random(keep, 1);	/* refused by zswap: never out */
	fill_text(p, NR_PAGES, 6);
	knob_set("nru_idle_secs", 1);
	knob_set("nru_cold_secs", 2);
	knob_set("cold_compress_pages", 256);
	knob_set("cold_compress", 1);
	/* All out, or as many as go; then no push is in flight. */
	wait_present_below(getpid(), p, NR_PAGES, 0, &took);
	ok = wait_full_scans(2);
	pushed = knob("cold_pages_compressed") - compressed;
	out = knob("cold_pages_out");
	present = count_present(getpid(), p, NR_PAGES);
	/*
	 * The first half zapped, and every other page of it read again at
	 * once (the zero page is mapped there): at most half of what is
	 * out goes, and none of it counts as a refault.
	 */
	refaults = knob("cold_refaults");
	madvise(p, half * pagesize, MADV_DONTNEED);
	for (i = 0; i < half; i += 2)
		sum += __atomic_load_n(&p[i * pagesize], __ATOMIC_RELAXED);
	ok &= wait_full_scans(2);
	refaults = knob("cold_refaults") - refaults;
	zapped = knob("cold_pages_out");
	munmap(p, NR_PAGES * pagesize);
	ok &= wait_full_scans(2);
	after = knob("cold_pages_out");
	ksft_print_msg("unmapped: %d/%d present after %.1fs, %ld pushed\n",
		       present, NR_PAGES, took, pushed);
	ksft_print_msg("unmapped: cold_pages_out %ld -> %ld; half zapped %ld\n",
		       out_before, out, zapped);
	ksft_print_msg("unmapped: %ld refaults (zero pages read: sum %zu)\n",
		       refaults, sum);
	ksft_print_msg("unmapped: cold_pages_out after munmap %ld\n", after);
	/*
	 * A page still present then and pushed later from the second half
	 * is counted out and not zapped: the only slack.
	 */
	ok &= present <= NR_PAGES / 20 && pushed >= NR_PAGES * 95 / 100 &&
	      out - out_before >= NR_PAGES * 95 / 100 &&
	      out - zapped >= (long)half - present &&
	      out - zapped <= (long)half && !refaults && after <= out_before;
	knob_set("cold_compress", 0);
	munmap(keep, pagesize);
	ksft_test_result(ok, "pages zapped or unmapped after their push are not counted out\n");
}

/* A line "@key N" of this process's ksm_stat in /proc. */
static long proc_ksm_stat(const char *key)
{
	static const char path[] = "/proc/self/ksm_stat";
	char line[128];
	long val = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) &&
		    line[strlen(key)] == ' ') {
			val = strtol(line + strlen(key) + 1, NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

/*
 * Two copies of the same pages, with the shortest cold age there is and
 * full scans that take longer (4 s): the pages are cold at their second
 * visit, the first with an unchanged checksum, which is the one that
 * merges them.  The tier must not push a page before it had that chance,
 * so every pair merges and nothing goes out.  Once with compressible
 * pages (which zswap would take), once with random ones (which it would
 * refuse).
 */
static void test_duplicates(void)
{
	long compressed = knob("cold_pages_compressed");
	long rejected = knob("cold_pages_rejected");
	long merging = 0;
	bool ok = true;
	double start;
	int round;
	char *p;

	knob_set("nru_idle_secs", 1);
	knob_set("nru_cold_secs", 1);
	knob_set("cold_compress_pages", 256);
	knob_set("pages_to_scan", 32);
	knob_set("sleep_millisecs", 250);
	for (round = 0; round < 2; round++) {
		/*
		 * A fresh region each round, once ksmd has dropped the
		 * merged pages of the last one (this process has no other).
		 */
		start = now();
		while (proc_ksm_stat("ksm_merging_pages") &&
		       now() - start < TIMEOUT)
			usleep(50000);
		knob_set("cold_compress", 0);
		knob_set("run", 0);
		p = map_mergeable(2 * NR_POOR);
		if (round)
			fill_random(p, NR_POOR);
		else
			fill_text(p, NR_POOR, 7);
		memcpy(p + NR_POOR * pagesize, p, NR_POOR * pagesize);
		knob_set("cold_compress", 1);
		knob_set("run", 1);
		start = now();
		do {
			usleep(50000);
			merging = proc_ksm_stat("ksm_merging_pages");
		} while (merging < 2 * NR_POOR && now() - start < TIMEOUT);
		/* And nothing of them goes out later either. */
		ok &= wait_scans_and_ages(2, 3);
		merging = proc_ksm_stat("ksm_merging_pages");
		ksft_print_msg("dups (%s): %ld of %d merged, %.1fs; pushed %ld, refused %ld\n",
			       round ? "random" : "text", merging, 2 * NR_POOR,
			       now() - start,
			       knob("cold_pages_compressed") - compressed,
			       knob("cold_pages_rejected") - rejected);
		ok &= merging == 2 * NR_POOR &&
		      count_present(getpid(), p, 2 * NR_POOR) == 2 * NR_POOR &&
		      !memcmp(p, p + NR_POOR * pagesize, NR_POOR * pagesize);
		munmap(p, 2 * NR_POOR * pagesize);
	}
	knob_set("cold_compress", 0);
	knob_set("pages_to_scan", 1000);
	knob_set("sleep_millisecs", 10);
	ksft_test_result(ok, "duplicates merge before they can go cold\n");
}

/*
 * A pushed page is not KSM's to count: pages_unshared falls by the pages
 * that went out and pages_volatile does not rise, also while pushes are
 * under way (ksmd stopped half way through).  Without smart_scan, which
 * takes the pages it skips out of the unstable tree (counting them as
 * volatile): with it the counts move on their own.
 */
static void test_counters(void)
{
	long compressed = knob("cold_pages_compressed");
	long unshared, volatile0, pushed, items, present;
	char *p = map_mergeable(NR_PAGES), *copy = malloc(NR_PAGES * pagesize);
	long smart = knob("smart_scan");
	double start;
	bool ok;

	fill_text(p, NR_PAGES, 8);
	memcpy(copy, p, NR_PAGES * pagesize);
	knob_set("cold_compress", 0);
	knob_set("smart_scan", 0);
	ok = wait_full_scans(3);
	unshared = knob("pages_unshared");
	volatile0 = knob("pages_volatile");
	/* Few pushes per wakeup, so they are spread over many. */
	knob_set("nru_idle_secs", 1);
	knob_set("nru_cold_secs", 1);
	knob_set("cold_compress_pages", 16);
	knob_set("cold_compress", 1);
	start = now();
	while (knob("cold_pages_compressed") - compressed < NR_PAGES / 2 &&
	       now() - start < TIMEOUT)
		usleep(5000);
	knob_set("run", 0);
	pushed = knob("cold_pages_compressed") - compressed;
	present = count_present(getpid(), p, NR_PAGES);
	items = proc_ksm_stat("ksm_rmap_items");
	ksft_print_msg("counters: %ld pushed, %ld present\n", pushed, present);
	ksft_print_msg("counters: pages_unshared %ld -> %ld, pages_volatile %ld -> %ld\n",
		       unshared, knob("pages_unshared"), volatile0,
		       knob("pages_volatile"));
	ksft_print_msg("counters: ksm_rmap_items %ld\n", items);
	/* One page of slack: the anchor of main(). */
	ok &= pushed >= NR_PAGES / 2 &&
	      knob("pages_volatile") <= volatile0 + 1 &&
	      knob("pages_unshared") <= unshared - pushed + 1 &&
	      items <= present + 1;
	knob_set("run", 1);
	knob_set("cold_compress", 0);
	knob_set("cold_compress_pages", 256);
	knob_set("smart_scan", smart);
	ok &= !memcmp(copy, p, NR_PAGES * pagesize);
	munmap(p, NR_PAGES * pagesize);
	free(copy);
	ksft_test_result(ok, "pushed pages leave pages_unshared, not into pages_volatile\n");
}

/*
 * Pages smart_scan skips, counted over 16 full scans of a fresh region of
 * unique pages, with the tier as it is; *@aged: the fewest pages the clock
 * aged (classed) in one of those scans.
 */
static long smart_skipped(long *aged)
{
	char *p = map_mergeable(NR_PAGES);
	long skipped, n;
	int i;

	fill_random(p, NR_PAGES);
	wait_full_scans(2);
	skipped = knob("pages_skipped");
	*aged = LONG_MAX;
	for (i = 0; i < 16; i++) {
		wait_full_scans(1);
		n = knob("nru_pages_modified") + knob("nru_pages_unmodified") +
		    knob("nru_pages_idle") + knob("nru_pages_cold");
		*aged = n < *aged ? n : *aged;
	}
	skipped = knob("pages_skipped") - skipped;
	munmap(p, NR_PAGES * pagesize);
	/* Its rmap_items go as the scan passes. */
	wait_full_scans(2);
	return skipped;
}

/*
 * smart_scan skips unique pages about as often with the tier on as with
 * it off (with a cold age of a day nothing is pushed meanwhile), and the
 * clock does not age, so costs nothing for, the pages it skips.  The 16
 * scans are counted from wherever ksmd is when the test looks, so the
 * region's skips in them vary by a scan or two (an eighth): a quarter of
 * slack.  A clock that made smart_scan skip nothing would be far below.
 */
static void test_smart_scan(void)
{
	long smart = knob("smart_scan"), off, on, aged_off, aged_on;
	bool ok;

	knob_set("smart_scan", 1);
	knob_set("cold_compress", 0);
	off = smart_skipped(&aged_off);
	knob_set("nru_cold_secs", 86400);
	knob_set("cold_compress", 1);
	on = smart_skipped(&aged_on);
	knob_set("cold_compress", 0);
	knob_set("nru_cold_secs", 2);
	knob_set("smart_scan", smart);
	ksft_print_msg("smart_scan: %ld skipped with the tier off, %ld on\n",
		       off, on);
	ksft_print_msg("smart_scan: %ld of %d pages aged in a scan at least\n",
		       aged_on, NR_PAGES);
	ok = off > 0 && on >= off * 3 / 4 && aged_off == 0 &&
	     aged_on < NR_PAGES;
	ksft_test_result(ok, "smart_scan skips about as much, tier on; skipped pages not aged\n");
}

/* The value of @key in the "key value" lines of @path, or -1. */
static long stat_value(const char *path, const char *key)
{
	char name[64];
	long val = -1, v;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", name, &v) == 2)
		if (!strcmp(name, key)) {
			val = v;
			break;
		}
	fclose(f);
	return val;
}

/*
 * The record of the pages ksmd pushed out of a process (an xarray, a
 * few bytes per page) is charged to the process's memory cgroup, not to
 * ksmd's: a child in a cgroup of its own has NR_CHARGED pages pushed, and
 * the cgroup's slab grows by at least half the record's leaf nodes (576
 * bytes per 64 pages on 64-bit); it shrinks again when the child exits,
 * and the cgroup can be removed.
 */
static void test_memcg_records(void)
{
	long slab0, slab = -1, grown = 0, want, pushed;
	long compressed = knob("cold_pages_compressed");
	int ready[2], status, present, i;
	double took, start;
	char *p, c;
	pid_t pid;
	bool ok;

	if (knob_write("/sys/fs/cgroup/cgroup.subtree_control", "+memory") ||
	    (mkdir(CG_DIR, 0755) && errno != EEXIST) ||
	    knob_write(CG_DIR "/memory.zswap.writeback", "0")) {
		ksft_test_result_skip("no memory cgroup with zswap: %s\n",
				      strerror(errno));
		return;
	}
	knob_set("cold_compress", 0);
	p = map_mergeable(NR_CHARGED);
	if (pipe(ready))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		char buf[16];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(buf, sizeof(buf), "%d", getpid());
		if (knob_write(CG_DIR "/cgroup.procs", buf))
			_exit(1);
		/* Faulted in the cgroup: the pages are its own. */
		fill_text(p, NR_CHARGED, 9);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	close(ready[1]);
	ok = read(ready[0], &c, 1) == 1;
	close(ready[0]);
	munmap(p, NR_CHARGED * pagesize);
	/* memcg statistics are flushed every 2 seconds at the latest. */
	usleep(2500000);
	slab0 = stat_value(CG_DIR "/memory.stat", "slab");
	present = push_cold_of(pid, p, NR_CHARGED, &took);
	pushed = knob("cold_pages_compressed") - compressed;
	/* The child's pages that are out, whatever else was pushed. */
	want = (NR_CHARGED - present) / 64 * 576 / 2;
	for (start = now(); now() - start < 5; usleep(100000)) {
		slab = stat_value(CG_DIR "/memory.stat", "slab");
		grown = slab - slab0;
		if (grown >= want)
			break;
	}
	ksft_print_msg("memcg records: %d/%d present after %.1fs, %ld pushed\n",
		       present, NR_CHARGED, took, pushed);
	ksft_print_msg("memcg records: cgroup slab %ld -> %ld (+%ld, want %ld)\n",
		       slab0, slab, grown, want);
	ok &= slab0 >= 0 && present <= NR_CHARGED / 20 &&
	      pushed >= NR_CHARGED * 95 / 100 && grown >= want;
	knob_set("cold_compress", 0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* Freeing the record (cold_compress=0, the exit) uncharges it. */
	for (start = now(); now() - start < 5; usleep(100000))
		if (stat_value(CG_DIR "/memory.stat", "slab") < slab - want)
			break;
	ksft_print_msg("memcg records: after exit, cgroup slab %ld\n",
		       stat_value(CG_DIR "/memory.stat", "slab"));
	ok &= stat_value(CG_DIR "/memory.stat", "slab") < slab - want;
	for (i = 0; i < 50 && rmdir(CG_DIR); i++)
		usleep(100000);
	ok &= access(CG_DIR, F_OK) != 0;
	ksft_test_result(ok, "records of pushed pages charged to the process's memory cgroup\n");
}

int main(void)
{
	size_t i;

	ksft_print_header();
	pagesize = getpagesize();
	if (getuid())
		ksft_exit_skip("needs root\n");
	if (access(KSM_DIR "cold_compress", F_OK))
		ksft_exit_skip("kernel without the KSM cold-page tier\n");
	if (access(ZSWAP_ENABLED, F_OK))
		ksft_exit_skip("kernel without zswap\n");
	ksft_set_plan(14);

	for (i = 0; i < ARRAY_SIZE(saved_knobs); i++)
		if (knob_read_str(saved_knobs[i], saved_values[i],
				  sizeof(saved_values[i])))
			saved_values[i][0] = 0;
	main_pid = getpid();
	atexit(cleanup);
	srandom(getpid());

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

	test_knobs();
	test_off();
	test_compress();
	test_hot();
	test_huge();
	test_huge_hot();
	test_poor();
	test_not_pushed();
	test_unmapped();
	test_duplicates();
	test_counters();
	test_smart_scan();
	test_memcg_records();

	ksft_finished();
}
