// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress - KSM and its I/O hints, cold and patch tiers under churn,
 * every page checked against a private shadow copy.
 *
 * Worker processes each own a mergeable region and a shadow copy of it
 * (ordinary memory, never merged).  They fill pages with content that KSM
 * can share (the same pages in every worker), patch (pages similar to
 * those), compress (compressible unique pages) or not (random pages), and
 * zero pages; read file pages into the region (buffered, O_DIRECT, AIO),
 * rewrite pages, fork children that check their copy, MADV_DONTNEED,
 * MADV_PAGEOUT, MADV_UNMERGEABLE and MADV_MERGEABLE, mprotect, mremap,
 * replace ranges with new mappings, collapse THPs and migrate themselves
 * between NUMA nodes.  The main process meanwhile flips KSM's knobs
 * (io_hints, cold_compress, patch_tier, their capacities, run=2 then
 * run=1), compacts memory, reclaims the workers' memory cgroup, turns
 * swap off and on, and injects slab and page allocation failures into
 * ksmd.  Each worker checks all its pages against its shadow at every
 * phase (60 s) and at the end.
 *
 * Usage: ksm_stress [-s SECONDS] [-w WORKERS] [-p PAGES] [-S SWAPDEV|auto] [-t]
 *
 * SWAPDEV is a swap device in use, which the run turns off and on again;
 * "auto" sets one up for the run (256 MiB on a loop device, losetup and
 * mkswap of util-linux) and removes it at the end.
 *
 * A summary: seconds, pages verified, pages lost, SIGBUS, and the tiers'
 * activity.  It passes if no page was lost, no access got SIGBUS and every
 * worker finished; with -t, only if every tier also worked: pages merged,
 * patched, compressed and faulted back (how much the tiers do in a short
 * run depends on the speed of the machine: make stress's long run asks for
 * it, make test's three minutes do not).  Kernel splats are for the caller
 * to count in the kernel log.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/aio_abi.h>

#include "../kselftest.h"

#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define CG_DIR		"/sys/fs/cgroup/ksm_stress"
#define DEBUGFS		"/sys/kernel/debug/"
#define MAX_WORKERS	8
#define NR_PATTERNS	64	/* pages every worker may hold */
#define FILE_PAGES	2048	/* pages of the file read into the regions */
#define PHASE_SECONDS	60
#define THP_SIZE	(2UL << 20)

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

enum { OP_WRITE, OP_READ, OP_DIRECT, OP_AIO, OP_CHECK, OP_DONTNEED,
	OP_PAGEOUT, OP_PROTECT, OP_UNMERGE, OP_MREMAP, OP_REMAP, OP_FORK,
	OP_MIGRATE, OP_COLLAPSE, NR_OPS };

static const char * const op_names[NR_OPS] = {
	"write", "read", "direct", "aio", "check", "dontneed", "pageout",
	"mprotect", "unmerge", "mremap", "remap", "fork", "migrate",
	"collapse",
};

/**
 * struct wres - what one worker did and found, in shared memory
 * @verified: page comparisons with the shadow
 * @lost: pages that differed from their shadow
 * @sigbus: accesses that got SIGBUS
 * @ops: operations done, by kind
 * @done: the worker finished its final check
 */
struct wres {
	long verified, lost, sigbus;
	long ops[NR_OPS];
	int done;
};

/**
 * struct shared - state shared by the main process and the workers
 * @stop: the workers do their final check and exit
 * @phase: bumped every PHASE_SECONDS: the workers check everything
 * @res: each worker's results
 */
struct shared {
	int stop;
	int phase;
	struct wres res[MAX_WORKERS];
};

/**
 * struct worker - one worker's region and its shadow
 * @mem: the mergeable region
 * @alt: a reserved range of the same size, where mremap() moves pages
 * @shadow: what @mem must read as
 * @pages: pages in the region
 * @size: its size in bytes
 * @res: its results
 * @x: its random state
 */
struct worker {
	char *mem, *alt, *shadow;
	size_t pages, size;
	struct wres *res;
	uint64_t x;
};

static size_t ps;
static struct shared *sh;
static int file_fd = -1, direct_fd = -1, nr_nodes = 1;
static char file_path[32] = "/tmp/ksm_stress_file_XXXXXX";
static const char *swapdev;
static char auto_swap[64];
static sigjmp_buf bus_env;

/* ------------------------------------------------------------- content */

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Pattern @g: random bytes, the same in every process. */
static void fill_pattern(char *p, unsigned int g)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)g << 20), *q;
	size_t j;

	q = (uint64_t *)p;
	for (j = 0; j < ps / sizeof(*q); j++)
		q[j] = rnd(&x);
}

/* Pattern @g with 5% of its bytes changed, in 16-byte runs, from @x. */
static void fill_similar(char *p, unsigned int g, uint64_t *x)
{
	size_t j;

	fill_pattern(p, g);
	for (j = 0; j < ps / 20 / 16; j++) {
		uint64_t *q = (uint64_t *)(p + rnd(x) % (ps / 16) * 16);

		q[0] = rnd(x);
		q[1] = rnd(x);
	}
}

/* Content of one of five kinds: shared, similar, random, zero, text. */
static void fill_page(char *p, uint64_t *x)
{
	size_t j;

	switch (rnd(x) % 5) {
	case 0:
		fill_pattern(p, rnd(x) % NR_PATTERNS);
		break;
	case 1:
		fill_similar(p, rnd(x) % NR_PATTERNS, x);
		break;
	case 2:
		for (j = 0; j < ps / 8; j++)
			((uint64_t *)p)[j] = rnd(x);
		break;
	case 3:
		memset(p, 0, ps);
		break;
	default:
		/* Compressible and unique: four letters at random. */
		for (j = 0; j < ps; j++)
			p[j] = 'a' + (rnd(x) >> 17) % 4;
		break;
	}
}

/* Page @f of the file: shared and similar pages, as disk images hold. */
static void fill_file_page(char *p, unsigned int f)
{
	uint64_t x = 0x51ed270b27a1c3d5ULL + f;

	if (f % 2)
		fill_similar(p, f % NR_PATTERNS, &x);
	else
		fill_pattern(p, f % NR_PATTERNS);
}

/* ------------------------------------------------------------- sysfs */

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static long read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static long ksm(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	return read_long(path);
}

static int ksm_set(const char *name, long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%ld", val);
	return write_str(path, buf);
}

/* Knobs the run changes, put back at the end. */
static const char * const knobs[] = {
	"run", "pages_to_scan", "sleep_millisecs", "io_hints",
	"io_hints_capacity", "cold_compress", "nru_idle_scans",
	"nru_cold_scans", "cold_compress_pages", "patch_tier",
	"patch_references_max", "patch_candidates",
};

static long saved[ARRAY_SIZE(knobs)];

/* ------------------------------------------------------------- checks */

static void on_bus(int sig)
{
	siglongjmp(bus_env, 1);
}

/* 0 if page @i reads as its shadow, 1 if not, 2 on SIGBUS. */
static int cmp_page(struct worker *w, size_t i)
{
	if (sigsetjmp(bus_env, 1))
		return 2;
	return memcmp(w->mem + i * ps, w->shadow + i * ps, ps) ? 1 : 0;
}

/* Check pages [i, i + n); a bad page is counted, then made good again. */
static void check(struct worker *w, size_t i, size_t n)
{
	for (; n; n--, i++) {
		int r = cmp_page(w, i);

		w->res->verified++;
		if (r == 1) {
			if (w->res->lost < 10)
				ksft_print_msg("worker %d: page %zu differs from its shadow\n",
					       (int)(w->res - sh->res), i);
			w->res->lost++;
			memcpy(w->mem + i * ps, w->shadow + i * ps, ps);
		} else if (r == 2) {
			if (w->res->sigbus < 10)
				ksft_print_msg("worker %d: page %zu: SIGBUS\n",
					       (int)(w->res - sh->res), i);
			w->res->sigbus++;
			madvise(w->mem + i * ps, ps, MADV_DONTNEED);
			memset(w->shadow + i * ps, 0, ps);
		}
	}
}

/* ------------------------------------------------------------- workers */

static void *map_region(size_t size, int prot)
{
	char *p = mmap(NULL, size + THP_SIZE, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	/* THP-aligned, so that worker 0's THPs can form. */
	a = (char *)(((uintptr_t)p + THP_SIZE - 1) & ~(THP_SIZE - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + THP_SIZE - a);
	return a;
}

static void op_read(struct worker *w, size_t i, size_t n, int how)
{
	unsigned int f = rnd(&w->x) % (FILE_PAGES - n);
	char *dst = w->mem + i * ps;
	ssize_t got = -1;
	size_t j;

	if (how != OP_READ && direct_fd < 0)
		how = OP_READ;
	if (how == OP_AIO) {
		aio_context_t ctx = 0;
		struct iocb cb = {}, *cbs[1] = { &cb };
		struct io_event ev;

		if (syscall(SYS_io_setup, 1, &ctx))
			ksft_exit_fail_msg("io_setup: %s\n", strerror(errno));
		cb.aio_lio_opcode = IOCB_CMD_PREAD;
		cb.aio_fildes = direct_fd;
		cb.aio_buf = (uintptr_t)dst;
		cb.aio_nbytes = n * ps;
		cb.aio_offset = (off_t)f * ps;
		if (syscall(SYS_io_submit, ctx, 1, cbs) == 1 &&
		    syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) == 1)
			got = ev.res;
		syscall(SYS_io_destroy, ctx);
	} else {
		got = pread(how == OP_DIRECT ? direct_fd : file_fd, dst, n * ps,
			    (off_t)f * ps);
	}
	if (got != (ssize_t)(n * ps))
		ksft_exit_fail_msg("%s of %zu pages: %zd (%s)\n",
				   op_names[how], n, got, strerror(errno));
	for (j = 0; j < n; j++)
		fill_file_page(w->shadow + (i + j) * ps, f + j);
	w->res->ops[how]++;
}

/*
 * Move pages [i, i + n) away and back, one at a time (the region may be
 * split into several VMAs by now, and mremap() moves within one).
 */
static void op_mremap(struct worker *w, size_t i, size_t n)
{
	for (; n; n--, i++) {
		char *from = w->mem + i * ps, *to = w->alt + i * ps;

		if (mremap(from, ps, ps, MREMAP_MAYMOVE | MREMAP_FIXED,
			   to) == MAP_FAILED ||
		    mremap(to, ps, ps, MREMAP_MAYMOVE | MREMAP_FIXED,
			   from) == MAP_FAILED)
			ksft_exit_fail_msg("mremap: %s\n", strerror(errno));
	}
}

static void op_fork(struct worker *w)
{
	int status, k;
	pid_t pid = fork();

	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		/* The child's copy reads as the parent's shadow. */
		for (k = 0; k < 64; k++)
			check(w, rnd(&w->x) % w->pages, 1);
		fill_page(w->mem, &w->x);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		ksft_exit_fail_msg("a forked child failed\n");
}

static void op_migrate(struct worker *w)
{
	unsigned long from = 1, to = 2;

	if (rnd(&w->x) & 1) {
		from = 2;
		to = 1;
	}
	if (syscall(SYS_migrate_pages, 0, sizeof(from) * 8, &from, &to) < 0)
		ksft_exit_fail_msg("migrate_pages: %s\n", strerror(errno));
}

static void worker_run(int id, size_t pages, bool thp)
{
	struct sigaction sa = { .sa_handler = on_bus };
	struct worker w = { .pages = pages, .size = pages * ps };
	int phase = 0;
	size_t i, j;

	w.res = &sh->res[id];
	w.x = 0x2545f4914f6cdd1dULL * (id + 1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	w.mem = map_region(w.size, PROT_READ | PROT_WRITE);
	w.alt = map_region(w.size, PROT_NONE);
	w.shadow = malloc(w.size);
	if (!w.shadow)
		ksft_exit_fail_msg("malloc\n");
	if (thp)
		madvise(w.mem, w.size, MADV_HUGEPAGE);
	if (madvise(w.mem, w.size, MADV_MERGEABLE))
		ksft_exit_fail_msg("MADV_MERGEABLE: %s\n", strerror(errno));
	for (i = 0; i < pages; i++) {
		fill_page(w.shadow + i * ps, &w.x);
		memcpy(w.mem + i * ps, w.shadow + i * ps, ps);
	}

	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		unsigned int op = rnd(&w.x) % 100;
		size_t n = 1 + rnd(&w.x) % 16;

		/*
		 * Most work on the first half: pages of the second half stay
		 * untouched long enough to go cold (one in 20 operations).
		 */
		if (rnd(&w.x) % 20)
			i = rnd(&w.x) % (pages / 2 - n);
		else
			i = rnd(&w.x) % (pages - n);
		if (__atomic_load_n(&sh->phase, __ATOMIC_RELAXED) != phase) {
			phase = __atomic_load_n(&sh->phase, __ATOMIC_RELAXED);
			check(&w, 0, pages);
		}
		if (op < 30) {
			for (j = i; j < i + n; j++) {
				fill_page(w.shadow + j * ps, &w.x);
				memcpy(w.mem + j * ps, w.shadow + j * ps, ps);
			}
			w.res->ops[OP_WRITE]++;
		} else if (op < 45) {
			op_read(&w, i, n, OP_READ + op % 3);
		} else if (op < 60) {
			check(&w, i, n);
			w.res->ops[OP_CHECK]++;
		} else if (op < 63) {
			madvise(w.mem + i * ps, n * ps, MADV_DONTNEED);
			memset(w.shadow + i * ps, 0, n * ps);
			w.res->ops[OP_DONTNEED]++;
		} else if (op < 66) {
			madvise(w.mem + i * ps, n * ps, MADV_PAGEOUT);
			w.res->ops[OP_PAGEOUT]++;
		} else if (op < 68) {
			/* check() may repair a page: only when writable. */
			mprotect(w.mem + i * ps, n * ps, PROT_READ);
			mprotect(w.mem + i * ps, n * ps, PROT_READ | PROT_WRITE);
			check(&w, i, n);
			w.res->ops[OP_PROTECT]++;
		} else if (op < 70) {
			madvise(w.mem + i * ps, n * ps, MADV_UNMERGEABLE);
			madvise(w.mem + i * ps, n * ps, MADV_MERGEABLE);
			w.res->ops[OP_UNMERGE]++;
		} else if (op < 71) {
			op_mremap(&w, i, n);
			w.res->ops[OP_MREMAP]++;
		} else if (op < 72) {
			if (mmap(w.mem + i * ps, n * ps, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				 0) == MAP_FAILED)
				ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
			madvise(w.mem + i * ps, n * ps, MADV_MERGEABLE);
			memset(w.shadow + i * ps, 0, n * ps);
			w.res->ops[OP_REMAP]++;
		} else if (op < 73) {
			op_fork(&w);
			w.res->ops[OP_FORK]++;
		} else if (op < 74 && nr_nodes > 1) {
			op_migrate(&w);
			w.res->ops[OP_MIGRATE]++;
		} else if (op < 75 && thp) {
			madvise(w.mem, THP_SIZE, MADV_COLLAPSE);
			w.res->ops[OP_COLLAPSE]++;
		} else {
			/* Leave pages alone for a while: they go cold. */
			usleep(2000);
		}
	}
	check(&w, 0, pages);
	__atomic_store_n(&w.res->done, 1, __ATOMIC_RELEASE);
	_exit(0);
}

/* ------------------------------------------------------------- control */

/* A swap device for the run: 256 MiB on a loop device, file in /tmp. */
static bool swap_auto(void)
{
	static const char * const steps[] = {
		"f=$(mktemp /tmp/ksm_stress_swap.XXXXXX)", "truncate -s 256M $f",
		"d=$(losetup -f --show $f)", "rm -f $f", "mkswap $d >/dev/null",
		"echo $d",
	};
	char cmd[256] = "";
	size_t i;
	FILE *p;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		if (i)
			strcat(cmd, " && ");
		strcat(cmd, steps[i]);
	}
	p = popen(cmd, "r");
	if (!p)
		return false;
	if (!fgets(auto_swap, sizeof(auto_swap), p))
		auto_swap[0] = 0;
	auto_swap[strcspn(auto_swap, "\n")] = 0;
	if (pclose(p) || !auto_swap[0] || swapon(auto_swap, 0))
		return false;
	swapdev = auto_swap;
	return true;
}

static void swap_auto_end(void)
{
	char cmd[96];

	if (!auto_swap[0])
		return;
	if (swapoff(auto_swap))
		ksft_print_msg("swapoff %s: %s\n", auto_swap, strerror(errno));
	snprintf(cmd, sizeof(cmd), "losetup -d %s", auto_swap);
	if (system(cmd))
		ksft_print_msg("%s failed\n", cmd);
}

/* ksmd's pid, for fault injection into it; -1 if not found. */
static int ksmd_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], comm[32];
	int pid = -1, fd;
	ssize_t n;

	while (d && (e = readdir(d)) && pid < 0) {
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (n == 5 && !strncmp(comm, "ksmd\n", 5))
			pid = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return pid;
}

/* Fail 1% of ksmd's slab and page allocations (@on), or none. */
static bool inject(int pid, bool on)
{
	static const char * const attrs[] = { "failslab", "fail_page_alloc" };
	char path[128];
	bool ok = true;
	size_t a;

	for (a = 0; a < 2; a++) {
		const char *dir = attrs[a];

#define SET(f, v) do {							\
		snprintf(path, sizeof(path), DEBUGFS "%s/" f, dir);	\
		ok &= !write_str(path, v);				\
	} while (0)
		SET("verbose", "0");
		SET("task-filter", "Y");
		SET("ignore-gfp-wait", "N");
		SET("interval", "1");
		SET("times", "-1");
		SET("probability", on ? "1" : "0");
#undef SET
	}
	snprintf(path, sizeof(path), "/proc/%d/make-it-fail", pid);
	ok &= !write_str(path, on ? "1" : "0");
	return ok;
}

/* A random knob to a random allowed value. */
static void flip_knob(uint64_t *x)
{
	static const struct { const char *name; long v[3]; } f[] = {
		{ "io_hints", { 0, 1, 1 } },
		{ "io_hints_capacity", { 64, 4096, 65536 } },
		{ "cold_compress", { 0, 1, 1 } },
		{ "cold_compress_pages", { 16, 256, 1024 } },
		{ "patch_tier", { 0, 1, 1 } },
		{ "patch_references_max", { 16, 4096, 262144 } },
		{ "patch_candidates", { 1, 2, 8 } },
		{ "pages_to_scan", { 500, 2000, 4000 } },
		{ "nru_cold_scans", { 1, 2, 3 } },
	};
	unsigned int k = rnd(x) % ARRAY_SIZE(f);

	ksm_set(f[k].name, f[k].v[rnd(x) % 3]);
}

/**
 * struct tier_max - what the tiers held at most, and counters at the start
 * @sharing: pages_sharing, at most
 * @patched: patch_pages, at most
 * @cold: cold_pages_out, at most
 * @faults0: patch_faults at the start
 * @refaults0: cold_refaults at the start
 * @hinted0: io_hints_pages_merged at the start
 * @compressed0: cold_pages_compressed at the start
 */
struct tier_max {
	long sharing, patched, cold, faults0, refaults0, hinted0;
	long compressed0;
};

static void tier_sample(struct tier_max *t)
{
	long v;

	v = ksm("pages_sharing");
	t->sharing = v > t->sharing ? v : t->sharing;
	v = ksm("patch_pages");
	t->patched = v > t->patched ? v : t->patched;
	v = ksm("cold_pages_out");
	t->cold = v > t->cold ? v : t->cold;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Did a period of @period s, shifted by @shift s, end in (last, t]? */
static bool crossed(long last, long t, long period, long shift)
{
	return (t + shift) / period > (last + shift) / period;
}

/*
 * The main process's part for @seconds of wall time: each event at its
 * own period.  An event that takes long (swapoff, run=2) delays the
 * others, each of which then runs once, and not the end.
 */
static void control(int seconds, struct tier_max *tm)
{
	uint64_t x = 0x853c49e6748fea9bULL;
	double start = now();
	long t, last = 0;
	int fd;

	while ((t = (long)(now() - start)) < seconds) {
		if (t == last) {
			usleep(100000);
			continue;
		}
		if (crossed(last, t, 3, 0))
			flip_knob(&x);
		/* Rarely: the tiers need a few full scans to work again. */
		if (crossed(last, t, 120, 30)) {
			ksm_set("run", 2);
			ksm_set("run", 1);
		}
		if (crossed(last, t, 15, 8)) {
			fd = open("/proc/sys/vm/compact_memory", O_WRONLY);
			if (fd >= 0 && write(fd, "1", 1) < 0)
				ksft_print_msg("compact_memory: %s\n",
					       strerror(errno));
			if (fd >= 0)
				close(fd);
		}
		if (crossed(last, t, 5, 0)) {
			write_str(CG_DIR "/memory.reclaim", "8M");
			tier_sample(tm);
		}
		if (swapdev && crossed(last, t, 30, 5)) {
			if (swapoff(swapdev))
				ksft_print_msg("swapoff: %s\n", strerror(errno));
			else if (swapon(swapdev, 0))
				ksft_exit_fail_msg("swapon %s: %s\n", swapdev,
						   strerror(errno));
		}
		if (crossed(last, t, PHASE_SECONDS, 0))
			__atomic_add_fetch(&sh->phase, 1, __ATOMIC_RELAXED);
		last = t;
	}
}

int main(int argc, char **argv)
{
	int seconds = 180, workers = 4, pages = 4096, opt, pid, i, w;
	struct tier_max tm = {};
	long verified = 0, lost = 0, bus = 0, ops[NR_OPS] = {};
	long merged, compressed, faults;
	double start;
	bool injected, ok, tiers = false, active;
	pid_t kids[MAX_WORKERS];
	char *buf;
	size_t k;

	while ((opt = getopt(argc, argv, "s:w:p:S:t")) != -1) {
		switch (opt) {
		case 's':
			seconds = atoi(optarg);
			break;
		case 'w':
			workers = atoi(optarg);
			break;
		case 'p':
			pages = atoi(optarg);
			break;
		case 'S':
			swapdev = optarg;
			break;
		case 't':
			tiers = true;
			break;
		default:
			ksft_exit_fail_msg("usage: %s [-s SECS] [-w N] [-p N] [-S DEV|auto] [-t]\n",
					   argv[0]);
		}
	}
	ksft_print_header();
	ksft_set_plan(1);
	ps = getpagesize();
	if (getuid())
		ksft_exit_skip("needs root\n");
	if (access(KSM_DIR "io_hints", F_OK) ||
	    access(KSM_DIR "cold_compress", F_OK) ||
	    access(KSM_DIR "patch_tier", F_OK))
		ksft_exit_skip("kernel without the KSM++ tiers\n");
	if (seconds < 1 || workers < 1 || workers > MAX_WORKERS || pages < 64)
		ksft_exit_fail_msg("bad arguments\n");
	if (swapdev && !strcmp(swapdev, "auto") && !swap_auto())
		ksft_exit_fail_msg("no swap device: losetup or mkswap failed\n");
	if (!access("/sys/module/zswap/parameters/enabled", F_OK))
		write_str("/sys/module/zswap/parameters/enabled", "Y");
	if (!access("/sys/devices/system/node/node1", F_OK))
		nr_nodes = 2;

	/* The file the workers read from: a disk image's worth of pages. */
	file_fd = mkstemp(file_path);
	buf = aligned_alloc(ps, ps);
	if (file_fd < 0 || !buf)
		ksft_exit_fail_msg("file: %s\n", strerror(errno));
	for (i = 0; i < FILE_PAGES; i++) {
		fill_file_page(buf, i);
		if (pwrite(file_fd, buf, ps, (off_t)i * ps) != (ssize_t)ps)
			ksft_exit_fail_msg("pwrite: %s\n", strerror(errno));
	}
	free(buf);
	direct_fd = open(file_path, O_RDONLY | O_DIRECT);
	if (direct_fd < 0)
		ksft_print_msg("no O_DIRECT on %s (%s): buffered reads only\n",
			       file_path, strerror(errno));

	for (k = 0; k < ARRAY_SIZE(knobs); k++)
		saved[k] = ksm(knobs[k]);
	ksm_set("run", 1);
	ksm_set("pages_to_scan", 1000);
	ksm_set("sleep_millisecs", 10);
	ksm_set("io_hints", 1);
	ksm_set("nru_idle_scans", 1);
	ksm_set("nru_cold_scans", 2);
	ksm_set("cold_compress_pages", 256);
	ksm_set("cold_compress", 1);
	ksm_set("patch_tier", 1);
	tm.faults0 = ksm("patch_faults");
	tm.refaults0 = ksm("cold_refaults");
	tm.hinted0 = ksm("io_hints_pages_merged");
	tm.compressed0 = ksm("cold_pages_compressed");

	/*
	 * The workers' memory cgroup, zswap writeback off: the cold tier
	 * pushes pages only where what zswap refuses stays in memory.
	 */
	if (write_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory") ||
	    (mkdir(CG_DIR, 0755) && errno != EEXIST) ||
	    write_str(CG_DIR "/memory.zswap.writeback", "0"))
		ksft_exit_fail_msg("memory cgroup %s: %s\n", CG_DIR,
				   strerror(errno));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	for (w = 0; w < workers; w++) {
		kids[w] = fork();
		if (kids[w] < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (!kids[w]) {
			char me[16];

			snprintf(me, sizeof(me), "%d", getpid());
			write_str(CG_DIR "/cgroup.procs", me);
			worker_run(w, pages, w == 0);
		}
	}
	pid = ksmd_pid();
	injected = pid > 0 && inject(pid, true);
	if (!injected)
		ksft_print_msg("no allocation failures injected into ksmd\n");

	start = now();
	control(seconds, &tm);
	if (injected)
		inject(pid, false);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	ok = true;
	for (w = 0; w < workers; w++) {
		int status;

		if (waitpid(kids[w], &status, 0) != kids[w] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) ||
		    !sh->res[w].done) {
			ksft_print_msg("worker %d did not finish (status %#x)\n",
				       w, status);
			ok = false;
		}
		verified += sh->res[w].verified;
		lost += sh->res[w].lost;
		bus += sh->res[w].sigbus;
		for (i = 0; i < NR_OPS; i++)
			ops[i] += sh->res[w].ops[i];
	}
	merged = tm.sharing + ksm("io_hints_pages_merged") - tm.hinted0;
	compressed = ksm("cold_pages_compressed") - tm.compressed0;
	faults = ksm("patch_faults") - tm.faults0 +
		 ksm("cold_refaults") - tm.refaults0;

	for (i = 0; i < NR_OPS; i++)
		ksft_print_msg("ops: %s %ld\n", op_names[i], ops[i]);
	ksft_print_msg("stress: %d s of churn (%.0f s in all), %d workers x %d pages\n",
		       seconds, now() - start, workers, pages);
	ksft_print_msg("stress: %ld full scans since the last run=2\n",
		       ksm("full_scans"));
	ksft_print_msg("stress: %ld pages verified, lost %ld, sigbus %ld\n",
		       verified, lost, bus);
	ksft_print_msg("stress: merged: pages_sharing max %ld, by hints %ld\n",
		       tm.sharing, ksm("io_hints_pages_merged") - tm.hinted0);
	ksft_print_msg("stress: compressed %ld (cold_pages_out max %ld), patched max %ld\n",
		       compressed, tm.cold, tm.patched);
	ksft_print_msg("stress: faults back %ld; failures injected into ksmd: %s\n",
		       faults, injected ? "yes" : "no");

	for (k = ARRAY_SIZE(knobs); k-- > 0;)
		if (saved[k] >= 0)
			ksm_set(knobs[k], saved[k]);
	rmdir(CG_DIR);
	unlink(file_path);
	swap_auto_end();

	active = merged > 0 && compressed > 0 && tm.patched > 0 && faults > 0;
	ksft_print_msg("stress: every tier active: %s\n", active ? "yes" : "no");
	ok &= !lost && !bus && (active || !tiers);
	ksft_test_result(ok, "no page lost under churn%s\n",
			 tiers ? ", every tier active" : "");
	ksft_finished();
}
