// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_cold_bench - the heterogeneous scenario of the KSM cold-page tier.
 *
 * Four processes stand in for guests running different workloads.  Each
 * maps one mergeable area made of pages of five kinds in its own mix:
 *
 *   shared  identical in every guest (the common OS image)
 *   zero    zero-filled
 *   text    unique but compressible (logs, page cache of text files)
 *   random  unique and incompressible (compressed or encrypted data)
 *   hot     unique, written all the time (the working set)
 *
 *   guest   shared zero text random hot
 *   web       40    10   30    10    10
 *   db        20     5   20    45    10
 *   build     30    10   45     5    10
 *   idle      50    30   15     5     0
 *
 * KSM runs with the given knobs; with -c the cold-page tier is on.  Every
 * second a CSV row records what KSM and zswap save; at the end each guest
 * times the first access to its pages that are out (in zswap) and to pages
 * that are resident, then checks every page byte for byte.
 *
 * CSV: t_s,pages_sharing,ksm_zero_pages,zswapped_kb,zswap_kb,saved_kb,
 *      cold_compressed,cold_refaults,cold_out,ksmd_cpu_ms,full_scans
 * Last line: "RESULT key=value ...".
 *
 * Copyright (C) 2026 KSM++ developers
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "../common/ksmbench.h"

#define NR_GUESTS 4
#define NR_SAMPLES 4096		/* latency samples per kind and guest */

enum kind { SHARED, ZERO, TEXT, RANDOM, HOT, NR_KINDS };

static const char * const guest_names[NR_GUESTS] = { "web", "db", "build", "idle" };
static const int mix[NR_GUESTS][NR_KINDS] = {
	{ 40, 10, 30, 10, 10 },
	{ 20, 5, 20, 45, 10 },
	{ 30, 10, 45, 5, 10 },
	{ 50, 30, 15, 5, 0 },
};

static size_t pagesize;
static size_t guest_pages;

/* ------------------------------------------------------------- content */

static enum kind kind_of(int g, size_t i)
{
	size_t pct = i * 100 / guest_pages, sum = 0;
	int k;

	for (k = 0; k < NR_KINDS; k++) {
		sum += mix[g][k];
		if (pct < sum)
			return k;
	}
	return SHARED;
}

/* Page @i of guest @g as it was written; hot pages get @gen too. */
static void make_page(char *p, int g, size_t i, unsigned int gen)
{
	enum kind k = kind_of(g, i);
	uint64_t s = (uint64_t)g << 40 ^ i ^ 0x9e3779b97f4a7c15ULL;
	size_t off;

	switch (k) {
	case ZERO:
		memset(p, 0, pagesize);
		break;
	case RANDOM:
		for (off = 0; off < pagesize; off += 8) {
			uint64_t v = xorshift64(&s);

			memcpy(p + off, &v, 8);
		}
		break;
	default:
		for (off = 0; off < pagesize; off += 64)
			snprintf(p + off, 65, "%-6s page %08x line %02x gen %08x ....................\n",
				 k == SHARED ? "shared" : guest_names[g],
				 (unsigned int)i, (unsigned int)(off / 64),
				 k == HOT ? gen : 0);
	}
}

/* ------------------------------------------------------------- a guest */

/* Time the first access to up to NR_SAMPLES pages that are out / in. */
static void time_accesses(char *p, int g, double *out_us, int *n_out,
			  double *in_us, int *n_in)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	size_t i;

	*n_out = *n_in = 0;
	for (i = 0; i < guest_pages && fd >= 0; i++) {
		uint64_t e;
		double t;

		if (kind_of(g, i) != TEXT)
			continue;
		if (pread(fd, &e, 8, (uintptr_t)(p + i * pagesize) / pagesize * 8) != 8)
			break;
		if (!(e >> 62 & 3))	/* neither present nor swapped */
			continue;
		t = now();
		(void)__atomic_load_n(&p[i * pagesize + 100], __ATOMIC_RELAXED);
		t = (now() - t) * 1e6;
		if (e >> 63 & 1) {
			if (*n_in < NR_SAMPLES)
				in_us[(*n_in)++] = t;
		} else if (*n_out < NR_SAMPLES) {
			out_us[(*n_out)++] = t;
		}
	}
	if (fd >= 0)
		close(fd);
}

static void guest(int g, double seconds, int ready_fd)
{
	char *p, *page = malloc(pagesize);
	double out_us[NR_SAMPLES], in_us[NR_SAMPLES], end;
	unsigned int gen = 0;
	int n_out, n_in, bad = 0;
	size_t i;

	p = mmap(NULL, guest_pages * pagesize, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || !page)
		die("guest memory");
	madvise(p, guest_pages * pagesize, MADV_NOHUGEPAGE);
	if (madvise(p, guest_pages * pagesize, MADV_MERGEABLE))
		die("MADV_MERGEABLE");
	for (i = 0; i < guest_pages; i++)
		make_page(p + i * pagesize, g, i, 0);
	if (write(ready_fd, "r", 1) != 1)
		die("ready");
	close(ready_fd);

	/*
	 * The working set: every hot page rewritten about 10 times a second,
	 * until the sampling is over (it stops at @seconds).
	 */
	end = now() + seconds + 2;
	while (now() < end) {
		gen++;
		for (i = 0; i < guest_pages; i++)
			if (kind_of(g, i) == HOT)
				make_page(p + i * pagesize, g, i, gen);
		usleep(100000);
	}

	time_accesses(p, g, out_us, &n_out, in_us, &n_in);
	for (i = 0; i < guest_pages; i++) {
		make_page(page, g, i, kind_of(g, i) == HOT ? gen : 0);
		if (memcmp(page, p + i * pagesize, pagesize))
			bad++;
	}
	qsort(out_us, n_out, sizeof(double), cmp_double);
	qsort(in_us, n_in, sizeof(double), cmp_double);
	printf("GUEST %s out_pages=%d out_median_us=%.2f out_p90_us=%.2f in_pages=%d in_median_us=%.3f in_p90_us=%.3f bad_pages=%d\n",
	       guest_names[g], n_out, n_out ? out_us[n_out / 2] : 0,
	       n_out ? out_us[n_out * 9 / 10] : 0, n_in,
	       n_in ? in_us[n_in / 2] : 0, n_in ? in_us[n_in * 9 / 10] : 0,
	       bad);
	fflush(stdout);
	exit(bad ? 1 : 0);
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr, "usage: ksm_cold_bench [-c] [-m MiB per guest] [-s seconds] -o CSV\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double seconds = 60, t0, cpu0, next;
	const char *csv_path = NULL;
	int mib = 32, opt, g, bad = 0, pipefd[2];
	pid_t pids[NR_GUESTS];
	bool cold = false;
	long zswapped0, zswap0, compressed0, refaults0;
	FILE *csv;
	char c;

	while ((opt = getopt(argc, argv, "cm:s:o:")) != -1) {
		switch (opt) {
		case 'c':
			cold = true;
			break;
		case 'm':
			mib = atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'o':
			csv_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (!csv_path || mib <= 0 || seconds <= 0)
		usage();
	if (access(KSM_DIR "cold_compress", F_OK))
		die("kernel without the KSM cold-page tier");
	pagesize = getpagesize();
	guest_pages = (size_t)mib << 20 >> __builtin_ctzl(pagesize);
	csv = fopen(csv_path, "w");
	if (!csv)
		die(csv_path);

	knob_set("run", 2);	/* start from nothing merged */
	knob_set("cold_compress", 0);
	if (pipe(pipefd))
		die("pipe");
	for (g = 0; g < NR_GUESTS; g++) {
		pids[g] = fork();
		if (pids[g] < 0)
			die("fork");
		if (!pids[g]) {
			close(pipefd[0]);
			guest(g, seconds, pipefd[1]);
		}
	}
	close(pipefd[1]);
	for (g = 0; g < NR_GUESTS; g++)
		if (read(pipefd[0], &c, 1) != 1)
			die("a guest did not start");

	zswapped0 = meminfo_kb("Zswapped");
	zswap0 = meminfo_kb("Zswap");
	compressed0 = knob("cold_pages_compressed");
	refaults0 = knob("cold_refaults");
	cpu0 = ksmd_cpu_ms();
	knob_set("cold_compress", cold);
	knob_set("run", 1);
	t0 = now();
	fprintf(csv, "t_s,pages_sharing,ksm_zero_pages,zswapped_kb,zswap_kb,saved_kb,cold_compressed,cold_refaults,cold_out,ksmd_cpu_ms,full_scans\n");
	for (next = t0; now() - t0 < seconds; next += 1) {
		long sharing = knob("pages_sharing"), zero = knob("ksm_zero_pages");
		long zd = meminfo_kb("Zswapped") - zswapped0;
		long zp = meminfo_kb("Zswap") - zswap0;

		fprintf(csv, "%.1f,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%.0f,%ld\n",
			now() - t0, sharing, zero, zd, zp,
			(sharing + zero) * (long)(pagesize / 1024) + zd - zp,
			knob("cold_pages_compressed") - compressed0,
			knob("cold_refaults") - refaults0, knob("cold_pages_out"),
			ksmd_cpu_ms() - cpu0, knob("full_scans"));
		fflush(csv);
		while (now() < next + 1)
			usleep(20000);
	}
	for (g = 0; g < NR_GUESTS; g++) {
		int status;

		waitpid(pids[g], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	printf("RESULT mode=%s guests=%d guest_mib=%d pages=%zu ksmd_cpu_ms=%.0f bad_guests=%d\n",
	       cold ? "tier" : "stock", NR_GUESTS, mib, guest_pages * NR_GUESTS,
	       ksmd_cpu_ms() - cpu0, bad);
	knob_set("cold_compress", 0);
	knob_set("run", 2);
	fclose(csv);
	return bad ? 1 : 0;
}
