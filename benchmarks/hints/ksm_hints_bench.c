// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_hints_bench - one run of the I/O-duplication scenario.
 *
 * NPROC reader processes stand in for guests: each maps a mergeable
 * anonymous region and reads the same file corpus into it in 64 KiB
 * chunks, in its own random order and at its own random places (as guests
 * fill their page cache from one disk image).  A ballast process holds
 * BALLAST MiB of unique mergeable pages, so that the linear scan has work.
 * Every INTERVAL ms the run samples pages_sharing, the hint counters and
 * ksmd's CPU time and writes a CSV row; at the end each reader checks its
 * memory byte for byte, then again after copy-on-write writes.
 *
 * Output: CSV rows "t_s,pages_sharing,pages_shared,hint_merged,
 * ksmd_cpu_ms,full_scans" and a last line "RESULT key=value ...".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/loop.h>

#define PAGE		4096UL
#define CHUNK		(64 * 1024UL)
#define KSM		"/sys/kernel/mm/ksm/"
#define MAXPROC		16

static int nproc = 2, seconds = 60, interval_ms = 100, direct, hints;
static unsigned long corpus_mib = 16, ballast_mib = 512;
static long pages_to_scan = 100, sleep_ms = 20;
static const char *csv_path = "run.csv";
static char corpus[] = "/tmp/ksm-bench-corpus";

static void die(const char *msg)
{
	fprintf(stderr, "ksm_hints_bench: %s: %s\n", msg, strerror(errno));
	exit(1);
}

static int knob_write(const char *name, long val)
{
	char path[128], buf[32];
	int fd, n, ret;

	snprintf(path, sizeof(path), KSM "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld", val);
	ret = write(fd, buf, n) == n ? 0 : -1;
	close(fd);
	return ret;
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

/*
 * Reader @id: read every chunk of the corpus, in an order of its own, to
 * a place of its own; report the read time, wait, then check the data.
 */
static int reader(int id, int report, int go)
{
	unsigned long nchunks = corpus_mib * 1024 * 1024 / CHUNK;
	size_t len = nchunks * CHUNK;
	unsigned long *order = malloc(nchunks * sizeof(*order));
	unsigned long *place = malloc(nchunks * sizeof(*place));
	unsigned char *mem, *ref = malloc(CHUNK);
	unsigned long i, bad = 0;
	double t0, t;
	char c;
	int fd;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || !order || !place || !ref ||
	    madvise(mem, len, MADV_MERGEABLE))
		die("reader memory");
	shuffle(order, nchunks, 100 + id);
	shuffle(place, nchunks, 200 + id);
	fd = direct ? open(loop_path, O_RDONLY | O_DIRECT) : open(corpus, O_RDONLY);
	if (fd < 0)
		die("open corpus");
	t0 = now();
	for (i = 0; i < nchunks; i++)
		if (pread(fd, mem + place[i] * CHUNK, CHUNK,
			  order[i] * CHUNK) != (ssize_t)CHUNK)
			die("pread");
	t = now() - t0;
	close(fd);
	if (write(report, &t, sizeof(t)) != sizeof(t))
		die("report");

	/* Wait for the end of the run, then check and write. */
	if (read(go, &c, 1) != 1)
		_exit(1);
	for (i = 0; i < nchunks; i++) {
		fill(ref, CHUNK, order[i]);
		if (memcmp(mem + place[i] * CHUNK, ref, CHUNK))
			bad++;
	}
	for (i = 0; i < len; i += PAGE)
		mem[i] ^= 0xff;
	for (i = 0; i < nchunks; i++) {
		unsigned long p;

		fill(ref, CHUNK, order[i]);
		for (p = 0; p < CHUNK; p += PAGE)
			ref[p] ^= 0xff;
		if (memcmp(mem + place[i] * CHUNK, ref, CHUNK))
			bad++;
	}
	if (write(report, &bad, sizeof(bad)) != sizeof(bad))
		die("report");
	_exit(0);
}

static pid_t start_ballast(void)
{
	size_t i, pages = ballast_mib * 256;
	int pipefd[2];
	pid_t pid;
	char c;

	if (pipe(pipefd))
		die("pipe");
	pid = fork();
	if (!pid) {
		unsigned char *p = mmap(NULL, pages * PAGE,
					PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || madvise(p, pages * PAGE, MADV_MERGEABLE))
			die("ballast");
		for (i = 0; i < pages; i++)
			*(uint64_t *)(p + i * PAGE) = i + 1;
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1)
		die("ballast start");
	close(pipefd[0]);
	return pid;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ksm_hints_bench [-n procs] [-s seconds] [-i interval_ms]\n"
		"  [-c corpus_MiB] [-b ballast_MiB] [-p pages_to_scan]\n"
		"  [-S sleep_ms] [-d (O_DIRECT)] [-H (hints on)] [-o csv]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long nchunks, i, bad = 0;
	int report[2], go[2], opt, n;
	double t0, read_s = 0, cpu0;
	pid_t ballast, pid[MAXPROC];
	unsigned char *buf;
	FILE *csv;
	long hm0;
	int fd;

	while ((opt = getopt(argc, argv, "n:s:i:c:b:p:S:dHo:")) != -1) {
		switch (opt) {
		case 'n': nproc = atoi(optarg); break;
		case 's': seconds = atoi(optarg); break;
		case 'i': interval_ms = atoi(optarg); break;
		case 'c': corpus_mib = atol(optarg); break;
		case 'b': ballast_mib = atol(optarg); break;
		case 'p': pages_to_scan = atol(optarg); break;
		case 'S': sleep_ms = atol(optarg); break;
		case 'd': direct = 1; break;
		case 'H': hints = 1; break;
		case 'o': csv_path = optarg; break;
		default: usage();
		}
	}
	if (nproc < 2 || nproc > MAXPROC || seconds < 1 || interval_ms < 10 ||
	    !corpus_mib)
		usage();
	if (access(KSM "io_hints", F_OK) && hints) {
		fprintf(stderr, "ksm_hints_bench: kernel without io_hints\n");
		return 1;
	}

	/* The corpus: unique pages, chunk i filled from seed i. */
	nchunks = corpus_mib * 1024 * 1024 / CHUNK;
	buf = malloc(CHUNK);
	fd = open(corpus, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !buf)
		die("corpus");
	for (i = 0; i < nchunks; i++) {
		fill(buf, CHUNK, i);
		if (write(fd, buf, CHUNK) != (ssize_t)CHUNK)
			die("corpus write");
	}
	close(fd);
	if (direct)
		setup_loop();
	find_ksmd();

	/* Start from nothing merged, with the same rates in every mode. */
	knob_write("run", 2);
	knob_write("io_hints", 0);
	knob_write("pages_to_scan", pages_to_scan);
	knob_write("sleep_millisecs", sleep_ms);
	knob_write("io_hints_scan_percent", 50);
	knob_write("io_hints", hints);
	ballast = start_ballast();
	knob_write("run", 1);
	usleep(500000);		/* let the linear scan get going */

	if (pipe(report) || pipe(go))
		die("pipe");
	hm0 = knob("io_hints_pages_merged");
	cpu0 = ksmd_cpu_ms();
	t0 = now();
	for (n = 0; n < nproc; n++) {
		pid[n] = fork();
		if (!pid[n]) {
			close(go[1]);
			reader(n, report[1], go[0]);
		}
	}
	csv = fopen(csv_path, "w");
	if (!csv)
		die(csv_path);
	fprintf(csv, "t_s,pages_sharing,pages_shared,hint_merged,ksmd_cpu_ms,full_scans\n");
	for (i = 0; i <= (unsigned long)seconds * 1000 / interval_ms; i++) {
		double due = t0 + i * interval_ms / 1000.0, t = now();

		if (due > t)
			usleep((due - t) * 1e6);
		fprintf(csv, "%.1f,%ld,%ld,%ld,%.0f,%ld\n", i * interval_ms / 1000.0,
			knob("pages_sharing"), knob("pages_shared"),
			hints ? knob("io_hints_pages_merged") - hm0 : 0,
			ksmd_cpu_ms() - cpu0, knob("full_scans"));
	}
	fclose(csv);
	for (n = 0; n < nproc; n++) {
		double t;

		if (read(report[0], &t, sizeof(t)) == sizeof(t))
			read_s += t;
	}
	if (write(go[1], "gggggggggggggggg", nproc) != nproc)
		die("go");
	for (n = 0; n < nproc; n++) {
		unsigned long b = 0;

		if (read(report[0], &b, sizeof(b)) != sizeof(b))
			b = 1;
		bad += b;
		waitpid(pid[n], NULL, 0);
	}
	kill(ballast, SIGKILL);
	waitpid(ballast, NULL, 0);
	knob_write("run", 2);
	knob_write("io_hints", 0);
	if (loop_fd >= 0)
		close(loop_fd);
	unlink(corpus);

	printf("RESULT procs=%d direct=%d hints=%d corpus_pages=%lu dup_pages=%lu read_MiBps=%.1f data=%s\n",
	       nproc, direct, hints, nchunks * CHUNK / PAGE,
	       (nproc - 1) * nchunks * CHUNK / PAGE,
	       corpus_mib / (read_s / nproc), bad ? "CORRUPT" : "ok");
	return bad ? 1 : 0;
}
