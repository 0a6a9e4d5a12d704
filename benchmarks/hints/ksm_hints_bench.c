// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_hints_bench - one run of a KSM I/O-hints benchmark scenario.
 *
 * Workload "dup" (I/O duplicates): NPROC reader processes stand in for
 * guests: each maps a mergeable anonymous region and reads the same file
 * corpus into it in 64 KiB chunks, in its own random order and at its own
 * random places (as guests fill their page cache from one disk image).
 * A ballast process holds BALLAST MiB of unique mergeable pages, so that
 * the linear scan has work.  The run lasts until 95 % of the duplicate
 * pages are merged (and at least MIN seconds), or CAP seconds.
 *
 * Workload "unique" (hints find nothing): every reader reads a file of
 * its own, again and again, into a buffer a quarter of its size (so that
 * hints are always pending, never merge, and the buffers keep changing),
 * while idle mergeable memory waits for the linear scan: two identical
 * regions and a region of zero pages, next to the ballast.  The run lasts
 * CAP seconds; "duplicates" are then the idle pages the scan can merge.
 *
 * Modes: stock (io_hints off), hints (io_hints on), advisor (io_hints off,
 * advisor_mode=scan-time with advisor_target_scan_time -T, 10 s: at its
 * default of 200 s the advisor slows a scan of this size down, and merged
 * nothing in 120 s), domains (hints with merge_domains=prctl: readers 2k
 * and 2k+1 in merge domain DOMAIN_BASE + k, the ballast in one of its
 * own, so the duplicates are those within a pair), pairs (its control:
 * hints, no domains, readers 2k and 2k+1 read a corpus of their own, k,
 * so that the same pages are shared as with domains; buffered only);
 * -p sets pages_to_scan in any mode.
 *
 * Mode alt (unique workload only): what hints that find nothing cost ksmd,
 * measured so that an emulated CPU's drift cancels.  ksmd's cost per page
 * differs along the linear scan (unique ballast pages against pages merged
 * already), so a phase must cover whole full scans, and smart_scan is off
 * for the run (its skipping makes one full scan take 5 s and the next 25
 * s, in cycles of 2, 4, 8 ... scans that alternating phases would alias
 * with; without it every full scan visits every page, and what hints add
 * to a batch is a larger share of it: an upper bound): after WARM (60) s with
 * io_hints off, 2 x -A phases follow, io_hints on, off, on, ...; each phase
 * switches io_hints, waits SETTLE (3) s and for the full scan in progress
 * to end (hints, turned on, start with their full credit, spent in the
 * first batches), then measures one whole full scan: ksmd's CPU and the
 * scan's duration.  Every two adjacent phases give on/off ratios of both
 * (drift cancels: the "on" phase comes first in half of them); the run
 * reports their medians with min-max and the geometric mean of the CPU
 * ratios ("ALT" lines per phase, alt_* fields in RESULT).
 *
 * Every INTERVAL ms the run samples pages_sharing, the hint counters and
 * ksmd's CPU time and writes a CSV row; at the end each reader checks its
 * memory byte for byte, then again after copy-on-write writes.
 *
 * Output: CSV rows "t_s,pages_sharing,pages_shared,hint_merged,
 * ksmd_cpu_ms,full_scans,merges_broken,pages_scanned" and a last line
 * "RESULT key=value ..." with the times to 50 % and 95 % of the
 * duplicates merged (t50, t95; -1 if never), ksmd CPU seconds until then
 * (cpu50, cpu95), pages_sharing at fixed times (s10, s30, s60, s90, s120;
 * -1 if the run had ended), pages the linear scan visited per second
 * (scanned_per_s) and until t95 (scanned95), hinted pages visited and
 * merged, io_hints_scan_percent, hinted merges broken by copy-on-write
 * during the run, and the readers' throughput.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/loop.h>

#define PAGE		4096UL
#define CHUNK		(64 * 1024UL)
#define KSM		"/sys/kernel/mm/ksm/"
#define MAXPROC		16

static int nproc = 2, cap_s = 600, min_s = 20, interval_ms = 100, direct;
static int hints, advisor, unique, domains, pairs;

#ifndef PR_SET_KSM_DOMAIN
#define PR_SET_KSM_DOMAIN	0x4b534d44
#define PR_KSM_DOMAIN_JOIN	1
#endif
/* Mode domains: reader n is in DOMAIN_BASE + 1 + n / 2, the ballast in DOMAIN_BASE. */
#define DOMAIN_BASE	4200

/* Mode alt: pairs of phases; warm-up and settling time in seconds. */
static int alt_pairs;
#define ALT_WARM_S	60
#define ALT_SETTLE_S	3
#define ALT_MAX_PAIRS	32
/* A phase that has not measured a full scan in this long fails the run. */
#define ALT_PHASE_MAX_S	300
static unsigned long corpus_mib = 16, ballast_mib = 512, idle_mib = 32;
static long pages_to_scan = 100, sleep_ms = 20, advisor_target_s = 10;
/* io_hints_scan_percent for the run (-P), -1: leave it as it is */
static long scan_percent = -1;
static const char *csv_path = "run.csv";
static char corpus[] = "/tmp/ksm-bench-corpus";

static void die(const char *msg)
{
	fprintf(stderr, "ksm_hints_bench: %s: %s\n", msg, strerror(errno));
	exit(1);
}

/* In mode domains, put this process in merge domain @d before it registers. */
static void join_domain(unsigned long d)
{
	if (domains && prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_JOIN, d, 0, 0))
		die("PR_SET_KSM_DOMAIN");
}

static int knob_write_str(const char *name, const char *val)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), KSM "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return ret;
}

static int knob_write(const char *name, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", val);
	return knob_write_str(name, buf);
}

static long knob(const char *name)
{
	char path[128], buf[64] = "";
	int fd;

	snprintf(path, sizeof(path), KSM "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return atol(buf);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long max_ul(unsigned long a, unsigned long b)
{
	return a > b ? a : b;
}

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = xs(&s);

		memcpy(p + i, &v, 8);
	}
}

/* ksmd's CPU time in ms, from /proc/PID/stat (utime + stime). */
static pid_t ksmd_pid;

static void find_ksmd(void)
{
	struct dirent *d;
	char path[300], comm[32];
	DIR *dir = opendir("/proc");
	FILE *f;

	while (dir && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "ksmd\n"))
			ksmd_pid = atoi(d->d_name);
		fclose(f);
	}
	if (dir)
		closedir(dir);
}

static double ksmd_cpu_ms(void)
{
	unsigned long long run_ns;
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;

	/* schedstat: nanoseconds on the CPU, if the kernel keeps it. */
	snprintf(path, sizeof(path), "/proc/%d/schedstat", ksmd_pid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu", &run_ns) == 1) {
			fclose(f);
			return run_ns / 1e6;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", ksmd_pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000.0 / sysconf(_SC_CLK_TCK);
}

/* A loop device with direct I/O over the corpus, for O_DIRECT reads. */
static int loop_fd = -1;
static char loop_path[64];

static void setup_loop(void)
{
	struct loop_config cfg = {};
	int ctl, n, fd;

	ctl = open("/dev/loop-control", O_RDWR);
	if (ctl < 0)
		die("/dev/loop-control");
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	snprintf(loop_path, sizeof(loop_path), "/dev/loop%d", n);
	loop_fd = open(loop_path, O_RDWR);
	fd = open(corpus, O_RDONLY);
	if (n < 0 || loop_fd < 0 || fd < 0)
		die("loop device");
	cfg.fd = fd;
	cfg.block_size = PAGE;
	cfg.info.lo_flags = LO_FLAGS_DIRECT_IO | LO_FLAGS_AUTOCLEAR |
			    LO_FLAGS_READ_ONLY;
	if (ioctl(loop_fd, LOOP_CONFIGURE, &cfg))
		die("LOOP_CONFIGURE");
	close(fd);
}

static void shuffle(unsigned long *v, unsigned long n, uint64_t seed)
{
	uint64_t s = seed * 0x2545f4914f6cdd1dULL + 7;
	unsigned long i;

	for (i = 0; i < n; i++)
		v[i] = i;
	for (i = n - 1; i > 0; i--) {
		unsigned long j = xs(&s) % (i + 1), t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

/* Corpus seed of chunk @i read by reader @id (all alike unless unique). */
static uint64_t chunk_seed(int id, unsigned long i)
{
	return unique || pairs ? (id + 1) * 1000000ULL + i : i;
}

/* The corpus reader @id reads: its own (unique), its pair's, or one. */
static int corpus_of(int id)
{
	return unique ? id : pairs ? id / 2 : 0;
}

/* Corpora to make: one per reader, one per pair of readers, or one. */
static int corpora(void)
{
	return unique ? nproc : pairs ? (nproc + 1) / 2 : 1;
}

static void corpus_path(char *buf, size_t size, int id)
{
	if (unique || pairs)
		snprintf(buf, size, "%s-%d", corpus, id);
	else
		snprintf(buf, size, "%s", corpus);
}

static void make_corpus(int id)
{
	unsigned long nchunks = corpus_mib * 1024 * 1024 / CHUNK, i;
	unsigned char *buf = malloc(CHUNK);
	char path[128];
	int fd;

	corpus_path(path, sizeof(path), id);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !buf)
		die("corpus");
	for (i = 0; i < nchunks; i++) {
		fill(buf, CHUNK, chunk_seed(id, i));
		if (write(fd, buf, CHUNK) != (ssize_t)CHUNK)
			die("corpus write");
	}
	close(fd);
	free(buf);
}

#define NONE	(~0UL)

/* What a place holds: chunk @chunk of reader @id (NONE: zeros), @flipped. */
static void expect(unsigned char *ref, int id, unsigned long chunk,
		   int flipped)
{
	unsigned long p;

	if (chunk == NONE)
		memset(ref, 0, CHUNK);
	else
		fill(ref, CHUNK, chunk_seed(id, chunk));
	if (flipped)
		for (p = 0; p < CHUNK; p += PAGE)
			ref[p] ^= 0xff;
}

/* Flag the parent sets in shared memory to stop the unique readers. */
static volatile int *stop_flag;

/*
 * Reader @id.  dup: read every chunk of the corpus, in an order of its
 * own, to a place of its own, once.  unique: read its own file over and
 * over into a buffer a quarter of its size, a chunk every 5 ms, until told
 * to stop.  Then report the read time, wait, and check the data.
 */
static int reader(int id, int report, int go)
{
	unsigned long nchunks = corpus_mib * 1024 * 1024 / CHUNK;
	unsigned long nplaces = unique ? max_ul(nchunks / 4, 1) : nchunks;
	size_t len = nplaces * CHUNK;
	unsigned long *order = malloc(nchunks * sizeof(*order));
	unsigned long *place = malloc(nchunks * sizeof(*place));
	unsigned long *held = malloc(nplaces * sizeof(*held));
	unsigned char *mem, *ref = malloc(CHUNK);
	unsigned long i, reads = 0, bad = 0;
	char c, path[128];
	double t0, t;
	int fd;

	join_domain(DOMAIN_BASE + 1 + id / 2);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || !order || !place || !ref || !held ||
	    madvise(mem, len, MADV_MERGEABLE))
		die("reader memory");
	shuffle(order, nchunks, 100 + id);
	shuffle(place, nchunks, 200 + id);
	for (i = 0; i < nplaces; i++)
		held[i] = NONE;
	corpus_path(path, sizeof(path), corpus_of(id));
	fd = direct ? open(loop_path, O_RDONLY | O_DIRECT) : open(path, O_RDONLY);
	if (fd < 0)
		die("open corpus");
	t0 = now();
	do {
		for (i = 0; i < nchunks; i++) {
			unsigned long at = place[i] % nplaces;

			if (pread(fd, mem + at * CHUNK, CHUNK,
				  order[i] * CHUNK) != (ssize_t)CHUNK)
				die("pread");
			held[at] = order[i];
			reads++;
			if (unique) {
				if (*stop_flag)
					break;
				usleep(5000);
			}
		}
	} while (unique && !*stop_flag);
	t = now() - t0;
	close(fd);
	/* Throughput in MiB/s (unique readers sleep between reads). */
	t = reads * (double)CHUNK / (1024 * 1024) / t;
	if (write(report, &t, sizeof(t)) != sizeof(t))
		die("report");

	/* Wait for the end of the run, then check, write, check again. */
	if (read(go, &c, 1) != 1)
		_exit(1);
	for (i = 0; i < nplaces; i++) {
		expect(ref, corpus_of(id), held[i], 0);
		bad += !!memcmp(mem + i * CHUNK, ref, CHUNK);
	}
	for (i = 0; i < len; i += PAGE)
		mem[i] ^= 0xff;
	for (i = 0; i < nplaces; i++) {
		expect(ref, corpus_of(id), held[i], 1);
		bad += !!memcmp(mem + i * CHUNK, ref, CHUNK);
	}
	if (write(report, &bad, sizeof(bad)) != sizeof(bad))
		die("report");
	_exit(0);
}


/*
 * The ballast: BALLAST MiB of unique mergeable pages.  With the unique
 * workload also the idle duplicates the linear scan must find: two
 * identical regions of IDLE MiB and IDLE/2 MiB of zero pages.  Checked
 * byte for byte at the end (SIGTERM); exit status 1 if anything changed.
 */
static pid_t start_ballast(void)
{
	size_t i, pages = ballast_mib * 256, idle = unique ? idle_mib * 256 : 0;
	size_t total = pages + 2 * idle + idle / 2;
	int pipefd[2];
	sigset_t set;
	pid_t pid;
	char c;

	if (pipe(pipefd))
		die("pipe");
	pid = fork();
	if (!pid) {
		unsigned char *p = mmap(NULL, total * PAGE,
					PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		unsigned long bad = 0;
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		join_domain(DOMAIN_BASE);
		if (p == MAP_FAILED || madvise(p, total * PAGE, MADV_MERGEABLE))
			die("ballast");
		for (i = 0; i < pages; i++)
			*(uint64_t *)(p + i * PAGE) = i + 1;
		for (i = 0; i < idle; i++) {
			fill(p + (pages + i) * PAGE, PAGE, 7000000 + i);
			fill(p + (pages + idle + i) * PAGE, PAGE, 7000000 + i);
		}
		for (i = pages + 2 * idle; i < total; i++)
			p[i * PAGE] = 0;	/* fault in a zero-filled page */
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		sigwait(&set, &sig);
		for (i = 0; i < pages; i++)
			bad += *(uint64_t *)(p + i * PAGE) != i + 1;
		for (i = 0; i < 2 * idle; i++) {
			unsigned char ref[PAGE];

			fill(ref, PAGE, 7000000 + i % idle);
			bad += !!memcmp(p + (pages + i) * PAGE, ref, PAGE);
		}
		for (i = (pages + 2 * idle) * PAGE; i < total * PAGE; i++)
			bad += !!p[i];
		_exit(bad ? 1 : 0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1)
		die("ballast start");
	close(pipefd[0]);
	return pid;
}

/* Mode alt, per phase: ksmd CPU (ms) and seconds of its measured scan. */
static double alt_cpu[2 * ALT_MAX_PAIRS], alt_secs[2 * ALT_MAX_PAIRS];
/* ... and the pages of the linear scan and of hints in that scan. */
static long alt_linear[2 * ALT_MAX_PAIRS], alt_hinted[2 * ALT_MAX_PAIRS];
static long alt_scanned0, alt_hinted0;
static int alt_phase = -1, alt_state, alt_done;
static double alt_t0, alt_cpu0, alt_switched;
static long alt_fs;

enum { ALT_SETTLE, ALT_WAIT_SCAN, ALT_MEASURE };

/* Phase @ph of mode alt has io_hints on if even. */
static int alt_on(int ph)
{
	return ph % 2 == 0;
}

static void alt_switch(int ph, double real)
{
	if (knob_write("io_hints", ph < 2 * alt_pairs && alt_on(ph)))
		die("io_hints");
	alt_phase = ph;
	alt_state = ALT_SETTLE;
	alt_switched = real;
	alt_done = ph >= 2 * alt_pairs;
}

/*
 * Mode alt, at every sample (@real s into the run by the clock, ksmd's
 * CPU @cpu ms since its start, @full_scans): switch io_hints at the start
 * of a phase, settle, wait for a full scan to start, measure it whole.
 */
static void alt_step(double real, double cpu, long full_scans)
{
	if (!alt_pairs || alt_done || real < ALT_WARM_S)
		return;
	if (alt_phase < 0)
		alt_switch(0, real);
	if (real - alt_switched > ALT_PHASE_MAX_S) {
		fprintf(stderr, "ksm_hints_bench: phase %d measured no full scan in %d s\n",
			alt_phase, ALT_PHASE_MAX_S);
		exit(1);
	}
	switch (alt_state) {
	case ALT_SETTLE:
		if (real - alt_switched < ALT_SETTLE_S)
			break;
		alt_fs = full_scans;
		alt_state = ALT_WAIT_SCAN;
		break;
	case ALT_WAIT_SCAN:
		if (full_scans == alt_fs)
			break;
		alt_fs = full_scans;
		alt_t0 = real;
		alt_cpu0 = cpu;
		alt_scanned0 = knob("pages_scanned");
		alt_hinted0 = knob("io_hints_pages_visited");
		alt_state = ALT_MEASURE;
		break;
	case ALT_MEASURE:
		if (full_scans == alt_fs)
			break;
		alt_cpu[alt_phase] = cpu - alt_cpu0;
		alt_linear[alt_phase] = knob("pages_scanned") - alt_scanned0;
		alt_hinted[alt_phase] = knob("io_hints_pages_visited") -
					alt_hinted0;
		alt_secs[alt_phase] = real - alt_t0;
		alt_switch(alt_phase + 1, real);
		break;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of @n values (sorted in place). */
static void stats3(double *v, int n, double *mid, double *lo, double *hi)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*mid = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[0];
	*hi = v[n - 1];
}

/*
 * Mode alt: median, min and max of the adjacent phases' on/off ratios of
 * CPU per full scan and of the scan's duration; geometric mean of the
 * CPU ratios; ratios measured.
 */
static double alt_stats[2][3], alt_gmean;
static int alt_n;

/* Mode alt: an ALT line per phase, and the statistics of the ratios. */
static void alt_report_phases(void)
{
	double cpu[2 * ALT_MAX_PAIRS], secs[2 * ALT_MAX_PAIRS], logsum = 0;
	int k;

	for (k = 0; k < 2 * alt_pairs; k++)
		printf("ALT phase=%d io_hints=%d cpu_ms=%.1f scan_s=%.2f cpu_ms_per_s=%.1f linear_pages=%ld hinted_pages=%ld\n",
		       k, alt_on(k), alt_cpu[k], alt_secs[k],
		       alt_secs[k] > 0 ? alt_cpu[k] / alt_secs[k] : 0,
		       alt_linear[k], alt_hinted[k]);
	for (k = 0; k + 1 < 2 * alt_pairs; k++) {
		int on = alt_on(k) ? k : k + 1, off = alt_on(k) ? k + 1 : k;

		if (alt_cpu[on] <= 0 || alt_cpu[off] <= 0 ||
		    alt_secs[on] <= 0 || alt_secs[off] <= 0)
			continue;
		cpu[alt_n] = alt_cpu[on] / alt_cpu[off];
		secs[alt_n] = alt_secs[on] / alt_secs[off];
		logsum += log(cpu[alt_n]);
		alt_n++;
	}
	if (!alt_n)
		return;
	alt_gmean = exp(logsum / alt_n);
	stats3(cpu, alt_n, &alt_stats[0][0], &alt_stats[0][1], &alt_stats[0][2]);
	stats3(secs, alt_n, &alt_stats[1][0], &alt_stats[1][1], &alt_stats[1][2]);
}

/* Mode alt: the alt_* fields of the RESULT line. */
static void alt_report_fields(void)
{
	static const char * const name[2] = { "cpu", "scan_time" };
	int k;

	printf(" alt_ratios=%d", alt_n);
	if (alt_n)
		printf(" alt_cpu_ratio_gmean=%.4f", alt_gmean);
	for (k = 0; alt_n && k < 2; k++)
		printf(" alt_%s_ratio=%.4f alt_%s_ratio_min=%.4f alt_%s_ratio_max=%.4f",
		       name[k], alt_stats[k][0], name[k], alt_stats[k][1],
		       name[k], alt_stats[k][2]);
}

/*
 * What a run changes, to undo on every way out (atexit: die() too, but
 * only in the parent, not in the readers or the ballast).
 */
static pid_t main_pid, ballast_pid, reader_pid[MAXPROC];
static long smart_scan0 = -1, percent0 = -1, sleep0 = -1;
static int knobs_changed;

static void restore_knobs(void)
{
	if (!knobs_changed)
		return;
	knobs_changed = 0;
	knob_write("run", 2);
	knob_write("io_hints", 0);
	knob_write_str("advisor_mode", "none");
	knob_write("advisor_target_scan_time", 200);
	if (domains)
		knob_write_str("merge_domains", "none");
	if (smart_scan0 >= 0)
		knob_write("smart_scan", smart_scan0);
	if (percent0 >= 0)
		knob_write("io_hints_scan_percent", percent0);
	if (sleep0 >= 0)
		knob_write("sleep_millisecs", sleep0);
	knob_write("pages_to_scan", 100);
}

static void cleanup(void)
{
	int n;

	if (getpid() != main_pid)
		return;
	if (stop_flag)
		*stop_flag = 1;
	for (n = 0; n < MAXPROC; n++)
		if (reader_pid[n] > 0)
			kill(reader_pid[n], SIGKILL);
	if (ballast_pid > 0)
		kill(ballast_pid, SIGTERM);
	restore_knobs();
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ksm_hints_bench [-w dup|unique] [-m stock|hints|advisor|domains|pairs|alt]\n"
		"  [-n procs] [-s cap_seconds] [-M min_seconds] [-i interval_ms]\n"
		"  [-c corpus_MiB] [-b ballast_MiB] [-I idle_MiB] [-p pages_to_scan]\n"
		"  [-S sleep_ms] [-T advisor_target_scan_time_s] [-d (O_DIRECT)]\n"
		"  [-A alt_pairs] [-P io_hints_scan_percent] [-o csv]\n");
	exit(2);
}

/* pages_sharing at @t s: the first sample at or after it; -1 if none. */
#define NFIXED	5
static const int fixed_s[NFIXED] = { 10, 30, 60, 90, 120 };

int main(int argc, char **argv)
{
	double t50 = -1, t95 = -1, cpu50 = -1, cpu95 = -1, cpu_end = 0;
	long fixed[NFIXED] = { -1, -1, -1, -1, -1 };
	unsigned long nchunks, target, i, bad = 0;
	int report[2], go[2], opt, n, status;
	double t0, mibps = 0, cpu0, t = 0;
	pid_t ballast, pid[MAXPROC];
	long hm0, hv0, br0, ps0, sharing = 0, broken = 0, hmerged = 0;
	long hvisited = 0, scanned95 = -1, percent;
	const char *mode = "stock";
	FILE *csv;

	while ((opt = getopt(argc, argv, "w:m:n:s:M:i:c:b:I:p:S:T:A:P:do:")) != -1) {
		switch (opt) {
		case 'w': unique = !strcmp(optarg, "unique");
			  if (!unique && strcmp(optarg, "dup"))
				usage();
			  break;
		case 'm': mode = optarg; break;
		case 'n': nproc = atoi(optarg); break;
		case 's': cap_s = atoi(optarg); break;
		case 'M': min_s = atoi(optarg); break;
		case 'i': interval_ms = atoi(optarg); break;
		case 'c': corpus_mib = atol(optarg); break;
		case 'b': ballast_mib = atol(optarg); break;
		case 'I': idle_mib = atol(optarg); break;
		case 'p': pages_to_scan = atol(optarg); break;
		case 'S': sleep_ms = atol(optarg); break;
		case 'T': advisor_target_s = atol(optarg); break;
		case 'A': alt_pairs = atoi(optarg); break;
		case 'P': scan_percent = atol(optarg); break;
		case 'd': direct = 1; break;
		case 'o': csv_path = optarg; break;
		default: usage();
		}
	}
	domains = !strcmp(mode, "domains");
	pairs = !strcmp(mode, "pairs");
	hints = !strcmp(mode, "hints") || domains || pairs;
	advisor = !strcmp(mode, "advisor");
	if (!strcmp(mode, "alt")) {
		if (!unique || alt_pairs < 1 || alt_pairs > ALT_MAX_PAIRS)
			usage();
		/* Ends when the last phase is measured (alt_step() fails a stuck one). */
		cap_s = ALT_WARM_S + (2 * alt_pairs + 1) * ALT_PHASE_MAX_S;
	} else if (!hints && !advisor && strcmp(mode, "stock")) {
		usage();
	} else {
		alt_pairs = 0;
	}
	if (nproc < 2 || nproc > MAXPROC || cap_s < 1 || interval_ms < 10 ||
	    corpus_mib < 1 || (unique && direct) || (unique && idle_mib < 1))
		usage();
	if (access(KSM "io_hints", F_OK) && (hints || alt_pairs)) {
		fprintf(stderr, "ksm_hints_bench: kernel without io_hints\n");
		return 1;
	}
	if (domains && (unique || access(KSM "merge_domains", F_OK)))
		usage();
	if (pairs && (unique || direct))
		usage();

	/* The corpus: unique pages, chunk i filled from its seed. */
	nchunks = corpus_mib * 1024 * 1024 / CHUNK;
	for (n = 0; n < corpora(); n++)
		make_corpus(n);
	if (direct)
		setup_loop();
	find_ksmd();
	stop_flag = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (stop_flag == MAP_FAILED)
		die("stop flag");
	if (unique)
		target = idle_mib * 256 + idle_mib * 128 - 1;
	else if (domains || pairs)	/* a copy less per pair */
		target = (nproc - (nproc + 1) / 2) * nchunks * CHUNK / PAGE;
	else
		target = (nproc - 1) * nchunks * CHUNK / PAGE;

	/* Start from nothing merged, with the rates of the mode. */
	main_pid = getpid();
	smart_scan0 = knob("smart_scan");
	percent0 = knob("io_hints_scan_percent");
	sleep0 = knob("sleep_millisecs");
	knobs_changed = 1;
	atexit(cleanup);
	knob_write("run", 2);
	if (alt_pairs && knob_write("smart_scan", 0))
		die("smart_scan");
	knob_write("io_hints", 0);
	knob_write_str("advisor_mode", "none");
	/* With no KSM page left after run=2, the policy may change. */
	if (domains && knob_write_str("merge_domains", "prctl"))
		die("merge_domains");
	knob_write("pages_to_scan", pages_to_scan);
	knob_write("sleep_millisecs", sleep_ms);
	knob_write("io_hints", hints);
	if (scan_percent >= 0 &&
	    knob_write("io_hints_scan_percent", scan_percent))
		die("io_hints_scan_percent");
	if (advisor && (knob_write("advisor_target_scan_time", advisor_target_s) ||
			knob_write_str("advisor_mode", "scan-time")))
		die("advisor_mode");
	ballast = start_ballast();
	ballast_pid = ballast;
	knob_write("run", 1);
	usleep(500000);		/* let the linear scan get going */

	if (pipe(report) || pipe(go))
		die("pipe");
	hm0 = knob("io_hints_pages_merged");
	hv0 = knob("io_hints_pages_visited");
	percent = knob("io_hints_scan_percent");
	br0 = knob("io_hints_merges_broken");
	ps0 = knob("pages_scanned");
	cpu0 = ksmd_cpu_ms();
	t0 = now();
	for (n = 0; n < nproc; n++) {
		pid[n] = fork();
		reader_pid[n] = pid[n];
		if (!pid[n]) {
			close(go[1]);
			reader(n, report[1], go[0]);
		}
	}
	csv = fopen(csv_path, "w");
	if (!csv)
		die(csv_path);
	fprintf(csv, "t_s,pages_sharing,pages_shared,hint_merged,ksmd_cpu_ms,full_scans,merges_broken,pages_scanned\n");
	for (i = 0; ; i++) {
		double due = t0 + i * interval_ms / 1000.0, tn = now(), cpu;
		long scanned, full_scans;
		int k;

		if (due > tn)
			usleep((due - tn) * 1e6);
		t = i * interval_ms / 1000.0;
		sharing = knob("pages_sharing");
		cpu = ksmd_cpu_ms() - cpu0;
		scanned = knob("pages_scanned") - ps0;
		full_scans = knob("full_scans");
		fprintf(csv, "%.1f,%ld,%ld,%ld,%.0f,%ld,%ld,%ld\n", t, sharing,
			knob("pages_shared"),
			hints || alt_pairs ?
			knob("io_hints_pages_merged") - hm0 : 0,
			cpu, full_scans,
			br0 >= 0 ? knob("io_hints_merges_broken") - br0 : 0,
			scanned);
		for (k = 0; k < NFIXED; k++)
			if (fixed[k] < 0 && t >= fixed_s[k] - 1e-6)
				fixed[k] = sharing;
		if (t50 < 0 && sharing >= 0.5 * target) {
			t50 = t;
			cpu50 = cpu / 1000;
		}
		if (t95 < 0 && sharing >= 0.95 * target) {
			t95 = t;
			cpu95 = cpu / 1000;
			scanned95 = scanned;
		}
		cpu_end = cpu / 1000;
		alt_step(now() - t0, cpu, full_scans);
		if (t >= cap_s - 1e-6 || alt_done ||
		    (!unique && t95 >= 0 && t >= min_s - 1e-6))
			break;
	}
	fclose(csv);
	/* Counted now: the readers' check below writes every page. */
	broken = br0 >= 0 ? knob("io_hints_merges_broken") - br0 : 0;
	hmerged = hints || alt_pairs ? knob("io_hints_pages_merged") - hm0 : 0;
	hvisited = hints || alt_pairs ? knob("io_hints_pages_visited") - hv0 : 0;
	*stop_flag = 1;
	for (n = 0; n < nproc; n++) {
		double r;

		if (read(report[0], &r, sizeof(r)) == sizeof(r))
			mibps += r;
	}
	if (write(go[1], "gggggggggggggggg", nproc) != nproc)
		die("go");
	for (n = 0; n < nproc; n++) {
		unsigned long b = 0;

		if (read(report[0], &b, sizeof(b)) != sizeof(b))
			b = 1;
		bad += b;
		waitpid(pid[n], NULL, 0);
		reader_pid[n] = 0;
	}
	kill(ballast, SIGTERM);
	if (waitpid(ballast, &status, 0) != ballast || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		bad++;
	ballast_pid = 0;
	if (alt_pairs)
		alt_report_phases();
	printf("RESULT workload=%s mode=%s procs=%d direct=%d ballast_mib=%lu pages_to_scan=%ld target=%lu t50=%.1f t95=%.1f cpu50=%.2f cpu95=%.2f cpu_end=%.2f t_end=%.1f cpu_ms_per_s=%.1f",
	       unique ? "unique" : "dup", mode, nproc, direct, ballast_mib,
	       knob("pages_to_scan"), target, t50, t95, cpu50, cpu95, cpu_end,
	       t, (t95 >= 0 ? cpu95 / (t95 ? t95 : 1) : cpu_end / t) * 1000);
	for (n = 0; n < NFIXED; n++)
		printf(" s%d=%ld", fixed_s[n], fixed[n]);
	if (alt_pairs)
		alt_report_fields();
	printf(" sharing_end=%ld full_scans=%ld scanned_per_s=%.0f scanned95=%ld hint_merged=%ld hint_visited=%ld hints_percent=%ld merges_broken=%ld read_MiBps=%.1f data=%s\n",
	       sharing, knob("full_scans"), (knob("pages_scanned") - ps0) / t,
	       scanned95, hmerged, hvisited, percent, broken, mibps / nproc,
	       bad ? "CORRUPT" : "ok");
	restore_knobs();
	if (loop_fd >= 0)
		close(loop_fd);
	for (n = 0; n < corpora(); n++) {
		char path[128];

		corpus_path(path, sizeof(path), n);
		unlink(path);
	}
	return bad ? 1 : 0;
}
