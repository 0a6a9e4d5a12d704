// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_hints_readcost - what a KSM I/O hint costs the read path.
 *
 * Times pread(2) from a tmpfs file into anonymous memory, with ksmd
 * stopped (run=0), in two processes pinned to one CPU that take turns:
 * "merge", whose memory is MADV_MERGEABLE (its reads push hints while
 * io_hints is 1), and "plain", whose mm has no mergeable area (its reads
 * never push).  Every read lands at a place of its own, in a shuffled
 * order, so that no push grows the previous hint: the dearest case for
 * the push.  The memory is faulted in beforehand, so the reads copy into
 * present pages.
 *
 * An emulated CPU on a shared machine drifts by several percent within
 * seconds, more than the cost measured, so the processes alternate in
 * short slices (SLICE reads each, which goes first alternating) and each
 * pair of slices gives a ratio merge/plain.  Phases with io_hints 0 and 1
 * alternate; with io_hints 0 the ratio is what the two processes differ
 * by anyway.  The cost of hints is median(ratio, io_hints 1) /
 * median(ratio, io_hints 0) - 1, and the same from the phases taken
 * separately gives its spread.
 *
 * Usage: ksm_hints_readcost [PAIRS per phase (2000)] [PHASES (6)]
 *                            [SIZES (2: 4 and 64 KiB; 1: 4 KiB only)]
 *
 * Output: per size and phase "PHASE size io_hints median_ratio
 * merge_ns plain_ns", then "RESULT size=B slice=N pairs=P phases=F
 * plain_ns=... merge_off_ns=... merge_on_ns=... overhead_pct=...
 * min_pct=... max_pct=..." (min and max over the pairs of adjacent off
 * and on phases).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define KSM		"/sys/kernel/mm/ksm/"
#define FILE_MIB	16UL
#define NSIZES		2

static const size_t sizes[NSIZES] = { 4096, 65536 };
/* Reads per slice: about 3 ms each on an emulated CPU. */
static const unsigned long slice[NSIZES] = { 128, 8 };

static void die(const char *msg)
{
	fprintf(stderr, "ksm_hints_readcost: %s: %s\n", msg, strerror(errno));
	exit(1);
}

static void knob_write(const char *name, const char *val)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), KSM "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		die(path);
	close(fd);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* @n reads of @size starting at read @first (wrapping); ns per read. */
static double slice_ns(int fd, unsigned char *mem, size_t size,
		       const unsigned long *place, unsigned long first,
		       unsigned long n)
{
	unsigned long nfile = FILE_MIB * 1024 * 1024 / size, i, k;
	double t0 = now_ns();

	for (k = 0; k < n; k++) {
		i = (first + k) % nfile;
		if (pread(fd, mem + place[i] * size, size, i * size) !=
		    (ssize_t)size)
			die("pread");
	}
	return (now_ns() - t0) / n;
}

/*
 * A reader process: for every command (size index, first read) on @cmd,
 * read a slice and answer its ns per read on @ans.
 */
static void reader(const char *path, int merge, int cmd, int ans,
		   const unsigned long *const *places)
{
	size_t len = FILE_MIB * 1024 * 1024, i;
	unsigned long c[2];
	unsigned char *mem;
	cpu_set_t cpus;
	double ns;
	int fd;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	fd = open(path, O_RDONLY);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || mem == MAP_FAILED)
		die("reader");
	for (i = 0; i < len; i += 4096)
		mem[i] = 1;
	if (merge && madvise(mem, len, MADV_MERGEABLE))
		die("MADV_MERGEABLE");
	while (read(cmd, c, sizeof(c)) == sizeof(c)) {
		ns = slice_ns(fd, mem, sizes[c[0]], places[c[0]], c[1],
			      slice[c[0]]);
		if (write(ans, &ns, sizeof(ns)) != sizeof(ns))
			die("answer");
	}
	_exit(0);
}

static double ask(int cmd, int ans, unsigned long z, unsigned long first)
{
	unsigned long c[2] = { z, first };
	double ns;

	if (write(cmd, c, sizeof(c)) != sizeof(c) ||
	    read(ans, &ns, sizeof(ns)) != sizeof(ns))
		die("reader gone");
	return ns;
}

#define MAX_PAIRS	20000
#define MAX_PHASES	20

static double ratio[MAX_PAIRS], mns[MAX_PAIRS], pns[MAX_PAIRS];
static double all_ratio[2][MAX_PAIRS * MAX_PHASES / 2];
static double phase_ratio[MAX_PHASES];

int main(int argc, char **argv)
{
	int pairs = argc > 1 ? atoi(argv[1]) : 2000;
	int phases = argc > 2 ? atoi(argv[2]) : 6;
	unsigned int nsizes = argc > 3 ? atoi(argv[3]) : NSIZES;
	size_t len = FILE_MIB * 1024 * 1024, i;
	const char *path = "/tmp/ksm-readcost";
	int cmd[2][2], ans[2][2], fd, who, f;
	unsigned long *places[NSIZES];
	unsigned char *buf;
	unsigned int z;
	uint64_t s = 42;

	if (pairs < 1 || pairs > MAX_PAIRS)
		pairs = 2000;
	if (nsizes < 1 || nsizes > NSIZES)
		nsizes = NSIZES;
	if (phases < 2 || phases > MAX_PHASES)
		phases = 6;
	phases &= ~1;
	if (access(KSM "io_hints", F_OK)) {
		fprintf(stderr, "ksm_hints_readcost: kernel without io_hints\n");
		return 1;
	}
	/* The file, and for each size the places of its reads, shuffled. */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	buf = malloc(len);
	if (fd < 0 || !buf)
		die("setup");
	for (i = 0; i < len; i += 8) {
		uint64_t v = xs(&s);

		memcpy(buf + i, &v, 8);
	}
	if (write(fd, buf, len) != (ssize_t)len)
		die("file");
	close(fd);
	free(buf);
	for (z = 0; z < NSIZES; z++) {
		unsigned long n = len / sizes[z];

		places[z] = malloc(n * sizeof(*places[z]));
		if (!places[z])
			die("places");
		for (i = 0; i < n; i++)
			places[z][i] = i;
		for (i = n - 1; i > 0; i--) {
			unsigned long j = xs(&s) % (i + 1), t = places[z][i];

			places[z][i] = places[z][j];
			places[z][j] = t;
		}
	}
	knob_write("run", "0");
	knob_write("io_hints", "0");
	for (who = 0; who < 2; who++) {
		if (pipe(cmd[who]) || pipe(ans[who]))
			die("pipe");
		if (!fork()) {
			close(cmd[who][1]);
			close(ans[who][0]);
			reader(path, who == 0, cmd[who][0], ans[who][1],
			       (const unsigned long *const *)places);
		}
		close(cmd[who][0]);
		close(ans[who][1]);
	}

	for (z = 0; z < nsizes; z++) {
		unsigned long first = 0, nall[2] = { 0, 0 };
		double lo = 1e9, hi = -1e9, m[2], mm[2] = { 0, 0 }, pp = 0;

		ask(cmd[0][1], ans[0][0], z, 0);	/* warm up */
		ask(cmd[1][1], ans[1][0], z, 0);
		for (f = 0; f < phases; f++) {
			int on = f % 2;

			knob_write("io_hints", on ? "1" : "0");
			for (i = 0; i < (size_t)pairs; i++) {
				/* merge first, then plain first */
				int a = i % 2;
				double t[2];

				t[a] = ask(cmd[a][1], ans[a][0], z, first);
				t[!a] = ask(cmd[!a][1], ans[!a][0], z, first);
				first += slice[z];
				mns[i] = t[0];
				pns[i] = t[1];
				ratio[i] = t[0] / t[1];
				all_ratio[on][nall[on]++] = ratio[i];
			}
			phase_ratio[f] = median(ratio, pairs);
			mm[on] += median(mns, pairs) / (phases / 2);
			pp += median(pns, pairs) / phases;
			printf("PHASE %zu %d %.4f %.1f %.1f\n", sizes[z], on,
			       phase_ratio[f], median(mns, pairs),
			       median(pns, pairs));
			fflush(stdout);
		}
		knob_write("io_hints", "0");
		for (f = 0; f + 1 < phases; f += 2) {
			double o = (phase_ratio[f + 1] / phase_ratio[f] - 1) * 100;

			lo = o < lo ? o : lo;
			hi = o > hi ? o : hi;
		}
		m[0] = median(all_ratio[0], nall[0]);
		m[1] = median(all_ratio[1], nall[1]);
		printf("RESULT size=%zu slice=%lu pairs=%d phases=%d plain_ns=%.1f merge_off_ns=%.1f merge_on_ns=%.1f overhead_pct=%.2f min_pct=%.2f max_pct=%.2f\n",
		       sizes[z], slice[z], pairs, phases, pp, mm[0], mm[1],
		       (m[1] / m[0] - 1) * 100, lo, hi);
		fflush(stdout);
	}
	for (who = 0; who < 2; who++)
		close(cmd[who][1]);
	while (wait(NULL) > 0)
		;
	unlink(path);
	return 0;
}
