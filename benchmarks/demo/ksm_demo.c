// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_demo - a short demonstration of what KSM and KSM++ save of the memory
 * of "guests".
 *
 * NPROC processes stand in for guests.  Each maps six anonymous
 * MADV_MERGEABLE regions:
 *   io      - filled by read(2) from one shared file (guest disk I/O),
 *             every process reading the chunks in a different order;
 *   pattern - filled with the same per-page pattern in every process;
 *   zero    - pages written with zeros;
 *   similar - the pattern's pages with four 16-byte runs of their own
 *             (sub-page duplicates: the patch tier stores them as patches
 *             against the merged pattern pages);
 *   text    - text of its own (compressible, similar to nothing);
 *   unique  - random data of its own (work for the linear scan).
 * Mode "stock" runs KSM as upstream (use_zero_pages on, so zero pages are
 * counted apart); mode "all" turns on every KSM++ feature: I/O hints, the
 * cold-page tier and the patch tier (zswap must be set up: see
 * ../zswap-setup.sh).  The parent samples /sys/kernel/mm/ksm and
 * /proc/meminfo every INTERVAL ms, prints a table of the memory saved by
 * kind (shared, zero pages, patched, compressed) and writes it as CSV; at
 * the end every process checks its memory byte for byte, then writes to it
 * (copy-on-write of merged pages, faults of patched and compressed pages)
 * and checks again.
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
#include <unistd.h>

#include "../common/ksmbench.h"

#define PAGE 4096UL
#define MAXPROC 16

static unsigned long io_mib = 16, pat_mib = 8, uniq_mib = 8;
static unsigned long zero_mib = 4, sim_mib = 8, text_mib = 8;
static int nproc = 2, seconds = 60, interval_ms = 1000;
static const char *mode = "stock";
static int nohuge = 1;	/* -H: leave huge pages to the kernel's THP policy */
/* KSM's own defaults: what a host gets without tuning. */
static long pages_to_scan = 100, sleep_ms = 20;
static const char *csv_path = "ksm-demo.csv";
static const char *file_path = "/tmp/ksm-demo.dat";

/* Deterministic content of page @idx of a stream seeded with @seed. */
static void fill_page(unsigned char *p, uint64_t seed, unsigned long idx)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + idx + 1;
	unsigned long i;

	for (i = 0; i < PAGE; i += 8) {
		uint64_t v = xorshift64(&s);

		memcpy(p + i, &v, 8);
	}
}

/* Page @idx of the similar region: pattern page @idx, four runs changed. */
static void fill_similar(unsigned char *p, int id, unsigned long idx)
{
	uint64_t s = (id + 1) * 0x51ed270b27a2c5c3ULL + idx;
	int r;

	fill_page(p, 1000, idx);
	for (r = 0; r < 4; r++) {
		unsigned long off = (xorshift64(&s) % (PAGE / 16)) * 16;
		uint64_t a = xorshift64(&s), b = xorshift64(&s);

		memcpy(p + off, &a, 8);
		memcpy(p + off + 8, &b, 8);
	}
}

/* Page @idx of the text region of process @id: compressible, unique. */
static void fill_text(unsigned char *p, int id, unsigned long idx)
{
	static const char *const words[] = {
		"guest ", "memory ", "page ", "kernel ", "merge ", "scan ",
		"disk ", "image ", "block ", "cache ", "host ", "read ",
	};
	uint64_t s = (id + 1) * 0x2545f4914f6cdd1dULL + idx;
	unsigned long n = 0;

	n += snprintf((char *)p, PAGE, "process %d page %lu: ", id, idx);
	while (n < PAGE) {
		const char *w = words[xorshift64(&s) % 12];
		size_t len = strlen(w);

		if (len > PAGE - n)
			len = PAGE - n;
		memcpy(p + n, w, len);
		n += len;
	}
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
	/*
	 * Small pages, as with THP off, unless -H: the kernel's THP policy,
	 * as QEMU asks for huge pages.  With huge pages the zero region's
	 * pages were not counted as KSM zero pages (README).
	 */
	if (nohuge && madvise(p, bytes, MADV_NOHUGEPAGE)) {
		perror("madvise(MADV_NOHUGEPAGE)");
		exit(2);
	}
	return p;
}

enum region { R_IO, R_PAT, R_ZERO, R_SIM, R_TEXT, R_UNIQ, NR_REGIONS };

/* Expected content of page @idx of region @r of process @id. */
static void expected(int r, int id, unsigned long idx, unsigned char *p)
{
	switch (r) {
	case R_IO:
		fill_page(p, 1, idx);
		break;
	case R_PAT:
		fill_page(p, 1000, idx);
		break;
	case R_ZERO:
		memset(p, 0, PAGE);
		break;
	case R_SIM:
		fill_similar(p, id, idx);
		break;
	case R_TEXT:
		fill_text(p, id, idx);
		break;
	default:
		fill_page(p, 2000 + id, idx);
		break;
	}
}

/* Check every page of a region against its content; return mismatches. */
static unsigned long check(unsigned char *m, unsigned long pages, int r, int id)
{
	unsigned char want[PAGE];
	unsigned long i, bad = 0;

	for (i = 0; i < pages; i++) {
		expected(r, id, i, want);
		if (memcmp(m + i * PAGE, want, PAGE))
			bad++;
	}
	return bad;
}

static int child(int id, int ready_fd, int go_fd)
{
	unsigned long mib[NR_REGIONS] = {
		io_mib, pat_mib, zero_mib, sim_mib, text_mib, uniq_mib
	};
	unsigned long pages[NR_REGIONS], chunk = 256, nchunks, i, bad = 0;
	unsigned char *m[NR_REGIONS];
	unsigned long *order;
	uint64_t s = 77 + id;
	int fd, r;
	char c;

	for (r = 0; r < NR_REGIONS; r++) {
		pages[r] = mib[r] << 8;
		m[r] = pages[r] ? map_mergeable(pages[r] * PAGE) : NULL;
	}
	/* io: read the shared file in chunks, in this process's own order. */
	fd = open(file_path, O_RDONLY);
	if (fd < 0) {
		perror(file_path);
		return 2;
	}
	nchunks = pages[R_IO] / chunk;
	order = calloc(nchunks, sizeof(*order));
	if (!order)
		return 2;
	for (i = 0; i < nchunks; i++)
		order[i] = i;
	for (i = nchunks - 1; i > 0 && id; i--) {
		unsigned long j = xorshift64(&s) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < nchunks; i++) {
		off_t off = order[i] * chunk * PAGE;
		size_t done = 0;

		while (done < chunk * PAGE) {
			ssize_t n = pread(fd, m[R_IO] + off + done,
					  chunk * PAGE - done, off + done);

			if (n <= 0) {
				perror("pread");
				return 2;
			}
			done += n;
		}
	}
	close(fd);
	for (r = R_PAT; r < NR_REGIONS; r++)
		for (i = 0; i < pages[r]; i++)
			expected(r, id, i, m[r] + i * PAGE);

	/* Closed at once: the parent sees a child that died before this. */
	if (write(ready_fd, "r", 1) != 1)
		return 2;
	close(ready_fd);
	if (read(go_fd, &c, 1) != 1)
		return 2;

	/*
	 * Writes first (copy-on-write of merged pages, faults of patched and
	 * compressed ones): change one byte of every 16th page and restore
	 * it; then read every page back.
	 */
	for (r = 0; r < NR_REGIONS; r++) {
		for (i = 0; i < pages[r]; i += 16)
			m[r][i * PAGE + 100] ^= 0xff;
		for (i = 0; i < pages[r]; i += 16)
			m[r][i * PAGE + 100] ^= 0xff;
	}
	for (r = 0; r < NR_REGIONS; r++)
		bad += check(m[r], pages[r], r, id);
	if (bad)
		fprintf(stderr, "process %d: %lu pages differ from what was written\n", id, bad);
	return bad ? 1 : 0;
}

/* Memory saved, by kind, in KiB. */
struct saved {
	long shared, zero, patched, compressed;
};

/* zswap's stored and pool kB when the run began: not the demo's. */
static long zswapped0, zswap0;

static void sample_saved(struct saved *sv)
{
	long zswapped = meminfo_kb("Zswapped") - zswapped0;
	long zswap = meminfo_kb("Zswap") - zswap0;
	long ppages = knob_or_0("patch_pages"), pbytes = knob_or_0("patch_bytes");

	sv->shared = knob_or_0("pages_sharing") * (PAGE / 1024);
	sv->zero = knob_or_0("ksm_zero_pages") * (PAGE / 1024);
	sv->patched = knob_or_0("patch_bytes_saved") / 1024;
	/* zswap's pages less the patched ones, less their share of the pool */
	sv->compressed = (zswapped - ppages * (long)(PAGE / 1024)) -
			 (zswap - pbytes / 1024);
	if (sv->compressed < 0)
		sv->compressed = 0;
}

/* Set the knobs of @mode; 0 on success. */
static int set_mode(void)
{
	int all = !strcmp(mode, "all"), err = 0;

	static const char *const features[] = {
		"io_hints", "cold_compress", "patch_tier",
	};
	unsigned int f;

	err |= knob_write("use_zero_pages", 1);
	for (f = 0; f < 3; f++) {
		if (knob(features[f]) < 0) {
			if (!all)
				continue;	/* a stock kernel: nothing to turn off */
			fprintf(stderr, "mode all: no %s in this kernel\n", features[f]);
			return -1;
		}
		err |= knob_write(features[f], all);
	}
	if (all) {
		err |= knob_write("nru_idle_secs", 1);
		err |= knob_write("nru_cold_secs", 4);
	}
	return err;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ksm_demo [-H] [-M stock|all] [-n procs] [-s seconds] [-i interval_ms] [-o csv]\n"
		"                [-I io_MiB] [-P pattern_MiB] [-Z zero_MiB] [-S similar_MiB]\n"
		"                [-T text_MiB] [-U unique_MiB] [-p pages_to_scan] [-m sleep_millisecs]\n"
		"                [-f file]\n");
	exit(2);
}

static const char *const knobs[] = {
	"run", "pages_to_scan", "sleep_millisecs", "use_zero_pages", "io_hints",
	"cold_compress", "patch_tier", "nru_idle_secs", "nru_cold_secs",
};

#define NR_KNOBS (sizeof(knobs) / sizeof(knobs[0]))

int main(int argc, char **argv)
{
	int ready[2], go[2], opt, i, status, failed = 0;
	unsigned long io_pages;
	pid_t pids[MAXPROC];
	long old[NR_KNOBS];
	double t0, cpu0, next;
	struct saved sv = { 0 };
	long total = 0;
	unsigned int k;
	FILE *csv;
	char c;

	while ((opt = getopt(argc, argv, "HM:n:s:i:o:I:P:Z:S:T:U:p:m:f:")) != -1) {
		switch (opt) {
		case 'H':
			nohuge = 0;
			break;
		case 'M':
			mode = optarg;
			break;
		case 'n':
			nproc = atoi(optarg);
			break;
		case 's':
			seconds = atoi(optarg);
			break;
		case 'i':
			interval_ms = atoi(optarg);
			break;
		case 'o':
			csv_path = optarg;
			break;
		case 'I':
			io_mib = strtoul(optarg, NULL, 0);
			break;
		case 'P':
			pat_mib = strtoul(optarg, NULL, 0);
			break;
		case 'Z':
			zero_mib = strtoul(optarg, NULL, 0);
			break;
		case 'S':
			sim_mib = strtoul(optarg, NULL, 0);
			break;
		case 'T':
			text_mib = strtoul(optarg, NULL, 0);
			break;
		case 'U':
			uniq_mib = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			pages_to_scan = atol(optarg);
			break;
		case 'm':
			sleep_ms = atol(optarg);
			break;
		case 'f':
			file_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (nproc < 2 || nproc > MAXPROC || seconds < 1 || interval_ms < 10 ||
	    !io_mib || pages_to_scan < 1 || sleep_ms < 0 ||
	    (strcmp(mode, "stock") && strcmp(mode, "all")) ||
	    sim_mib > pat_mib)
		usage();
	io_pages = io_mib << 8;

	for (k = 0; k < NR_KNOBS; k++)
		old[k] = knob(knobs[k]);
	if (old[0] < 0) {
		fprintf(stderr, "KSM is not available (" KSM_DIR "run)\n");
		return 4;
	}
	/* Start from nothing merged. */
	knob_write("run", 2);
	knob_write("run", 0);
	if (set_mode()) {
		fprintf(stderr, "cannot configure KSM for mode %s\n", mode);
		return 2;
	}

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
	/* KSM runs while the processes fill their memory, as with guests. */
	if (knob_write("pages_to_scan", pages_to_scan) ||
	    knob_write("sleep_millisecs", sleep_ms) || knob_write("run", 1)) {
		fprintf(stderr, "cannot configure KSM\n");
		return 2;
	}
	t0 = now();
	cpu0 = ksmd_cpu_ms();
	zswapped0 = meminfo_kb("Zswapped");
	zswap0 = meminfo_kb("Zswap");
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

	printf("mode %s: %d processes, each %lu MiB read from a file + %lu MiB pattern + %lu MiB zero\n"
	       "  + %lu MiB similar to the pattern + %lu MiB text + %lu MiB random, MADV_MERGEABLE\n",
	       mode, nproc, io_mib, pat_mib, zero_mib, sim_mib, text_mib, uniq_mib);
	printf("KSM: pages_to_scan=%ld sleep_millisecs=%ld use_zero_pages=1%s\n",
	       pages_to_scan, sleep_ms,
	       strcmp(mode, "all") ? "" : " io_hints=1 cold_compress=1 patch_tier=1 nru_idle_secs=1 nru_cold_secs=4");
	printf("%7s %11s %11s %11s %14s %11s %9s\n", "time_s", "shared_MiB",
	       "zero_MiB", "patched_MiB", "compressed_MiB", "total_MiB", "ksmd_cpu");
	csv = fopen(csv_path, "w");
	if (!csv) {
		perror(csv_path);
		return 2;
	}
	fprintf(csv, "time_s,shared_kib,zero_kib,patched_kib,compressed_kib,total_kib,ksmd_cpu_s\n");

	next = now();
	for (;;) {
		double t = now() - t0, cpu = (ksmd_cpu_ms() - cpu0) / 1000;

		sample_saved(&sv);
		total = sv.shared + sv.zero + sv.patched + sv.compressed;
		printf("%7.1f %11.1f %11.1f %11.1f %14.1f %11.1f %9.2f\n", t,
		       sv.shared / 1024.0, sv.zero / 1024.0, sv.patched / 1024.0,
		       sv.compressed / 1024.0, total / 1024.0, cpu);
		fprintf(csv, "%.2f,%ld,%ld,%ld,%ld,%ld,%.3f\n", t, sv.shared,
			sv.zero, sv.patched, sv.compressed, total, cpu);
		fflush(stdout);
		if (t >= seconds)
			break;
		next += interval_ms / 1000.0;
		t = next - now();
		if (t > 0)
			usleep(t * 1e6);
	}
	fclose(csv);
	printf("RESULT mode=%s procs=%d seconds=%d shared_kib=%ld zero_kib=%ld patched_kib=%ld compressed_kib=%ld total_kib=%ld ksmd_cpu_s=%.2f\n",
	       mode, nproc, seconds, sv.shared, sv.zero, sv.patched,
	       sv.compressed, total, (ksmd_cpu_ms() - cpu0) / 1000);

	/* Read everything back, byte for byte, and after writes. */
	for (i = 0; i < nproc; i++)
		if (write(go[1], "g", 1) != 1)
			return 2;
	for (i = 0; i < nproc; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			failed++;
	}
	knob_write("run", 2);
	for (k = NR_KNOBS; k-- > 1; )
		if (old[k] >= 0)
			knob_write(knobs[k], old[k]);
	knob_write("run", old[0]);
	unlink(file_path);
	if (failed) {
		printf("data check: FAILED in %d of %d processes\n", failed, nproc);
		return 1;
	}
	printf("data check: every page of every process read back byte for byte, also after writes\n");
	return 0;
}
