// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_demo - a short demonstration of KSM merging memory of "guests".
 *
 * NPROC processes stand in for guests.  Each maps three anonymous
 * MADV_MERGEABLE regions:
 *   io      - filled by read(2) from one shared file (guest disk I/O),
 *             every process reading the chunks in a different order;
 *   pattern - filled with the same per-page pattern in every process;
 *   unique  - random data of its own (work for the linear scan).
 * The parent samples /sys/kernel/mm/ksm every INTERVAL ms, prints a table
 * of pages shared over time and writes it as CSV; at the end every process
 * checks its memory byte for byte, then writes to it (copy-on-write of
 * merged pages) and checks again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define KSM "/sys/kernel/mm/ksm/"
#define MAXPROC 16

static unsigned long io_mib = 32, pat_mib = 16, uniq_mib = 16;
static int nproc = 2, seconds = 30, interval_ms = 1000;
/* KSM's own defaults: what a host gets without tuning. */
static long pages_to_scan = 100, sleep_ms = 20;
static const char *csv_path = "ksm-demo.csv";
static const char *file_path = "/tmp/ksm-demo.dat";

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Deterministic content of page @idx of a stream seeded with @seed. */
static void fill_page(unsigned char *p, uint64_t seed, unsigned long idx)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + idx + 1;
	unsigned long i;

	for (i = 0; i < PAGE; i += 8) {
		uint64_t v = xs(&s);

		memcpy(p + i, &v, 8);
	}
}

static long read_long(const char *name)
{
	char path[256], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), KSM "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static int write_long(const char *name, long v)
{
	char path[256];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), KSM "%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = fprintf(f, "%ld\n", v) < 0;
	ret |= fclose(f);
	return ret ? -1 : 0;
}

/* ksmd's CPU time in clock ticks, from /proc/PID/stat. */
static long ksmd_ticks(void)
{
	static char path[64];
	char buf[512], *p;
	unsigned long ut, st;
	FILE *f;

	if (!path[0]) {
		FILE *ps = popen("pgrep -x ksmd", "r");
		int pid = 0;

		if (ps) {
			if (fscanf(ps, "%d", &pid) != 1)
				pid = 0;
			pclose(ps);
		}
		if (!pid)
			return -1;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	}
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p)
		return -1;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return ut + st;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *map_mergeable(unsigned long bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	if (madvise(p, bytes, MADV_MERGEABLE)) {
		perror("madvise(MADV_MERGEABLE)");
		exit(2);
	}
	return p;
}

/* Check every page against its expected content; return mismatches. */
static unsigned long check(unsigned char *r, unsigned long pages, uint64_t seed)
{
	unsigned char want[PAGE];
	unsigned long i, bad = 0;

	for (i = 0; i < pages; i++) {
		fill_page(want, seed, i);
		if (memcmp(r + i * PAGE, want, PAGE))
			bad++;
	}
	return bad;
}

static int child(int id, int ready_fd, int go_fd)
{
	unsigned long io_pages = io_mib << 8, pat_pages = pat_mib << 8;
	unsigned long uniq_pages = uniq_mib << 8, chunk = 256, nchunks, i;
	unsigned char *io = map_mergeable(io_pages * PAGE);
	unsigned char *pat = map_mergeable(pat_pages * PAGE);
	unsigned char *uniq = map_mergeable(uniq_pages * PAGE);
	unsigned long *order, bad;
	uint64_t s = 77 + id;
	char c;
	int fd;

	/* io: read the shared file in chunks, in this process's own order. */
	fd = open(file_path, O_RDONLY);
	if (fd < 0) {
		perror(file_path);
		return 2;
	}
	nchunks = io_pages / chunk;
	order = calloc(nchunks, sizeof(*order));
	for (i = 0; i < nchunks; i++)
		order[i] = i;
	for (i = nchunks - 1; i > 0 && id; i--) {
		unsigned long j = xs(&s) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < nchunks; i++) {
		off_t off = order[i] * chunk * PAGE;
		size_t done = 0;

		while (done < chunk * PAGE) {
			ssize_t n = pread(fd, io + off + done, chunk * PAGE - done, off + done);

			if (n <= 0) {
				perror("pread");
				return 2;
			}
			done += n;
		}
	}
	close(fd);
	for (i = 0; i < pat_pages; i++)
		fill_page(pat + i * PAGE, 1000, i);
	for (i = 0; i < uniq_pages; i++)
		fill_page(uniq + i * PAGE, 2000 + id, i);

	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
		return 2;

	bad = check(io, io_pages, 1) + check(pat, pat_pages, 1000) +
	      check(uniq, uniq_pages, 2000 + id);
	/* Copy-on-write: change one byte of every 16th page, check, restore. */
	for (i = 0; i < io_pages; i += 16)
		io[i * PAGE + 100] ^= 0xff;
	for (i = 0; i < io_pages; i += 16)
		io[i * PAGE + 100] ^= 0xff;
	bad += check(io, io_pages, 1);
	if (bad)
		fprintf(stderr, "process %d: %lu pages differ from what was written\n", id, bad);
	return bad ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ksm_demo [-n procs] [-s seconds] [-i interval_ms] [-o csv]\n"
		"                [-I io_MiB] [-P pattern_MiB] [-U unique_MiB]\n"
		"                [-p pages_to_scan] [-m sleep_millisecs] [-f file]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int ready[2], go[2], opt, i, status, failed = 0;
	unsigned long io_pages, dup_pages;
	pid_t pids[MAXPROC];
	long t0_ticks, hz = sysconf(_SC_CLK_TCK);
	long old_pts, old_sleep, old_run;
	double t0, next, t_half = -1, t_full = -1;
	long last_sharing = 0;
	char half_s[32], full_s[32];
	FILE *csv;
	char c;

	while ((opt = getopt(argc, argv, "n:s:i:o:I:P:U:p:m:f:")) != -1) {
		switch (opt) {
		case 'n': nproc = atoi(optarg); break;
		case 's': seconds = atoi(optarg); break;
		case 'i': interval_ms = atoi(optarg); break;
		case 'o': csv_path = optarg; break;
		case 'I': io_mib = strtoul(optarg, NULL, 0); break;
		case 'P': pat_mib = strtoul(optarg, NULL, 0); break;
		case 'U': uniq_mib = strtoul(optarg, NULL, 0); break;
		case 'p': pages_to_scan = atol(optarg); break;
		case 'm': sleep_ms = atol(optarg); break;
		case 'f': file_path = optarg; break;
		default: usage();
		}
	}
	if (nproc < 2 || nproc > MAXPROC || seconds < 1 || interval_ms < 10 ||
	    !io_mib || pages_to_scan < 1 || sleep_ms < 0)
		usage();
	io_pages = io_mib << 8;
	dup_pages = (nproc - 1) * (io_pages + (pat_mib << 8));

	old_run = read_long("run");
	old_pts = read_long("pages_to_scan");
	old_sleep = read_long("sleep_millisecs");
	if (old_run < 0) {
		fprintf(stderr, "KSM is not available (" KSM "run)\n");
		return 4;
	}
	/* Start from nothing merged. */
	write_long("run", 2);
	write_long("run", 0);

	{	/* the "disk image": io_MiB of deterministic data */
		unsigned char page[PAGE];
		unsigned long p;
		int fd = open(file_path, O_CREAT | O_TRUNC | O_WRONLY, 0644);

		if (fd < 0) {
			perror(file_path);
			return 2;
		}
		for (p = 0; p < io_pages; p++) {
			fill_page(page, 1, p);
			if (write(fd, page, PAGE) != PAGE) {
				perror("write");
				return 2;
			}
		}
		close(fd);
	}

	if (pipe(ready) || pipe(go)) {
		perror("pipe");
		return 2;
	}
	for (i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 2;
		}
		if (!pids[i]) {
			close(ready[0]);
			close(go[1]);
			_exit(child(i, ready[1], go[0]));
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < nproc; i++) {
		if (read(ready[0], &c, 1) != 1) {
			fprintf(stderr, "a process failed to set up its memory\n");
			return 2;
		}
	}

	if (write_long("pages_to_scan", pages_to_scan) ||
	    write_long("sleep_millisecs", sleep_ms) || write_long("run", 1)) {
		fprintf(stderr, "cannot configure KSM\n");
		return 2;
	}
	printf("%d processes, each %lu MiB read from a file + %lu MiB pattern + %lu MiB unique, MADV_MERGEABLE\n",
	       nproc, io_mib, pat_mib, uniq_mib);
	printf("KSM: pages_to_scan=%ld sleep_millisecs=%ld; duplicate pages: %lu\n",
	       pages_to_scan, sleep_ms, dup_pages);
	printf("%7s %12s %13s %14s %10s %9s %8s\n", "time_s", "pages_shared",
	       "pages_sharing", "pages_unshared", "full_scans", "ksmd_cpu", "merged%");
	csv = fopen(csv_path, "w");
	if (!csv) {
		perror(csv_path);
		return 2;
	}
	fprintf(csv, "time_s,pages_shared,pages_sharing,pages_unshared,full_scans,ksmd_cpu_s,merged_pct\n");

	t0 = now();
	t0_ticks = ksmd_ticks();
	next = t0;
	for (;;) {
		double t = now() - t0, cpu = (ksmd_ticks() - t0_ticks) / (double)hz;
		long shared = read_long("pages_shared"), sharing = read_long("pages_sharing");
		long unshared = read_long("pages_unshared"), scans = read_long("full_scans");
		double pct = 100.0 * sharing / dup_pages;

		printf("%7.1f %12ld %13ld %14ld %10ld %9.2f %7.1f%%\n", t, shared,
		       sharing, unshared, scans, cpu, pct);
		fprintf(csv, "%.2f,%ld,%ld,%ld,%ld,%.3f,%.2f\n", t, shared, sharing,
			unshared, scans, cpu, pct);
		fflush(stdout);
		last_sharing = sharing;
		if (t_half < 0 && pct >= 50)
			t_half = t;
		if (t_full < 0 && pct >= 100)
			t_full = t;
		if (t >= seconds)
			break;
		next += interval_ms / 1000.0;
		t = next - now();
		if (t > 0)
			usleep(t * 1e6);
	}
	fclose(csv);

	printf("merged %ld of %lu duplicate pages (%.1f%%) in %d s; 50%% after %s s, 100%% after %s s\n",
	       last_sharing, dup_pages, 100.0 * last_sharing / dup_pages, seconds,
	       t_half < 0 ? "-" : (snprintf(half_s, sizeof(half_s), "%.1f", t_half), half_s),
	       t_full < 0 ? "-" : (snprintf(full_s, sizeof(full_s), "%.1f", t_full), full_s));

	/* Read everything back, byte for byte, and through copy-on-write. */
	for (i = 0; i < nproc; i++)
		if (write(go[1], "g", 1) != 1)
			return 2;
	for (i = 0; i < nproc; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			failed++;
	}
	write_long("run", 2);
	write_long("pages_to_scan", old_pts);
	write_long("sleep_millisecs", old_sleep);
	write_long("run", old_run);
	unlink(file_path);
	if (failed) {
		printf("data check: FAILED in %d of %d processes\n", failed, nproc);
		return 1;
	}
	printf("data check: every page of every process read back byte for byte, also after copy-on-write\n");
	return 0;
}
