// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress - KSM and its I/O hints, cold and patch tiers under churn,
 * every page checked against a private shadow copy.
 *
 * Worker processes each own a mergeable region and a shadow copy of it
 * (ordinary memory, never merged).  They fill pages with content that KSM
 * can share (the same pages in every worker), patch (pages similar to
 * those), compress (compressible unique pages) or not (random pages), and
 * zero pages; read file pages into the region (buffered, O_DIRECT, AIO,
 * io_uring), rewrite pages, fork children that check their copy,
 * MADV_DONTNEED, MADV_PAGEOUT, MADV_UNMERGEABLE and MADV_MERGEABLE,
 * mprotect, mremap, replace ranges with new mappings, collapse and split
 * THPs and migrate themselves between NUMA nodes.  Each worker is in a
 * memory cgroup of its own, so KSM pages and the patches against them
 * belong to different cgroups.  The main process meanwhile flips KSM's
 * knobs (io_hints and its scan share, cold_compress, patch_tier, their
 * capacities, run=2 then run=1 with merge domains turned on or off; the
 * workers are in two domains), compacts memory, reclaims the workers'
 * memory cgroup and limits it by memory.high, turns swap off and on, and
 * injects slab and page allocation failures into ksmd.  Each worker
 * checks all its pages against its shadow at every phase (60 s) and at
 * the end.
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>

#include "../kselftest.h"

#ifndef PR_SET_KSM_DOMAIN	/* older uapi headers */
#define PR_SET_KSM_DOMAIN	0x4b534d44
#define PR_KSM_DOMAIN_JOIN	1
#endif
#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define CG_DIR		"/sys/fs/cgroup/ksm_stress"
#define DEBUGFS		"/sys/kernel/debug/"
#define ZSWAP_ENABLED	"/sys/module/zswap/parameters/enabled"
#define MAX_WORKERS	8
#define NR_PATTERNS	64	/* pages every worker may hold */
#define FILE_PAGES	2048	/* pages of the file read into the regions */
#define PHASE_SECONDS	60
#define THP_SIZE	(2UL << 20)

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

enum { OP_WRITE, OP_READ, OP_DIRECT, OP_AIO, OP_URING, OP_CHECK,
	OP_DONTNEED, OP_PAGEOUT, OP_PROTECT, OP_UNMERGE, OP_MREMAP, OP_REMAP,
	OP_FORK, OP_MIGRATE, OP_COLLAPSE, OP_SPLIT, NR_OPS };

static const char * const op_names[NR_OPS] = {
	"write", "read", "direct", "aio", "io_uring", "check", "dontneed",
	"pageout", "mprotect", "unmerge", "mremap", "remap", "fork", "migrate",
	"collapse", "split",
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
/* The file as a block device: O_DIRECT and AIO through the block layer. */
static char file_loop[64];
static const char *swapdev;
static char auto_swap[64];
static char zswap_saved[8];
/* merge_domains as it was, "a [b]": b; empty without merge domains */
static char domains_saved[32];
static sigjmp_buf bus_env;
/* In cmp_page(): only there may SIGBUS jump back. */
static int in_cmp;
/* For cleanup(): the main process, its workers, ksmd. */
static pid_t main_pid, kids[MAX_WORKERS], ksmd = -1;
static int nr_kids;
/* SIGTERM or SIGINT: stop now, clean up, fail. */
static int terminated;

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

/* The first line of @path, without its newline; 0 or -errno. */
static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

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

static long read_long(const char *path)
{
	char buf[64];

	return read_str(path, buf, sizeof(buf)) || !buf[0] ? -1 :
	       strtol(buf, NULL, 10);
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
	"io_hints_capacity", "cold_compress", "nru_idle_secs",
	"nru_cold_secs", "cold_compress_pages", "patch_tier",
	"patch_references_max", "patch_candidates", "io_hints_scan_percent",
};

static long saved[ARRAY_SIZE(knobs)];

/* ------------------------------------------------------------- checks */

/* A worker that cannot go on: say why, exit; the main process fails. */
static void worker_die(const char *what)
{
	ksft_print_msg("worker %d: %s: %s\n", getpid(), what, strerror(errno));
	_exit(1);
}

static void on_bus(int sig)
{
	if (__atomic_load_n(&in_cmp, __ATOMIC_RELAXED))
		siglongjmp(bus_env, 1);
	/* Anywhere else a SIGBUS is a failure of its own: die of it. */
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/* 0 if page @i reads as its shadow, 1 if not, 2 on SIGBUS. */
static int cmp_page(struct worker *w, size_t i)
{
	int r;

	if (sigsetjmp(bus_env, 1)) {
		__atomic_store_n(&in_cmp, 0, __ATOMIC_RELAXED);
		return 2;
	}
	__atomic_store_n(&in_cmp, 1, __ATOMIC_RELAXED);
	r = memcmp(w->mem + i * ps, w->shadow + i * ps, ps) ? 1 : 0;
	__atomic_store_n(&in_cmp, 0, __ATOMIC_RELAXED);
	return r;
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
		worker_die("mmap");
	/* THP-aligned, so that worker 0's THPs can form. */
	a = (char *)(((uintptr_t)p + THP_SIZE - 1) & ~(THP_SIZE - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + THP_SIZE - a);
	return a;
}

/*
 * One IORING_OP_READ of @len bytes at @off of @fd into @dst, on a ring of
 * its own: the bytes read, or -1 with errno set.
 */
static ssize_t uring_read(int fd, char *dst, size_t len, off_t off)
{
	struct io_uring_params p = {};
	size_t sq_size, cq_size;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned int *tail, *head;
	ssize_t got = -1;
	char *sq, *cq;
	int ring;

	ring = syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0)
		return -1;
	sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_size = p.cq_off.cqes + p.cq_entries * sizeof(*cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		sq_size = sq_size > cq_size ? sq_size : cq_size;
		cq_size = sq_size;
	}
	sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		  IORING_OFF_SQ_RING);
	cq = p.features & IORING_FEAT_SINGLE_MMAP ? sq :
	     mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		  IORING_OFF_CQ_RING);
	sqe = mmap(NULL, sizeof(*sqe), PROT_READ | PROT_WRITE, MAP_SHARED,
		   ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqe == MAP_FAILED)
		goto out;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)dst;
	sqe->len = len;
	sqe->off = off;
	((unsigned int *)(sq + p.sq_off.array))[0] = 0;
	tail = (unsigned int *)(sq + p.sq_off.tail);
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 0, 0, NULL, 0) != 1)
		goto out;
	/* Task work (of this ring, say) interrupts waits: wait again. */
	head = (unsigned int *)(cq + p.cq_off.head);
	while (__atomic_load_n((unsigned int *)(cq + p.cq_off.tail),
			       __ATOMIC_ACQUIRE) == *head)
		if (syscall(__NR_io_uring_enter, ring, 0, 1,
			    IORING_ENTER_GETEVENTS, NULL, 0) < 0 &&
		    errno != EINTR)
			goto out;
	cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) +
	      (*head & *(unsigned int *)(cq + p.cq_off.ring_mask));
	got = cqe->res;
	if (got < 0) {
		errno = -got;
		got = -1;
	}
	__atomic_store_n(head, *head + 1, __ATOMIC_RELEASE);
out:
	if (sqe != MAP_FAILED)
		munmap(sqe, sizeof(*sqe));
	if (cq != MAP_FAILED && cq != sq)
		munmap(cq, cq_size);
	if (sq != MAP_FAILED)
		munmap(sq, sq_size);
	close(ring);
	return got;
}

static void op_read(struct worker *w, size_t i, size_t n, int how)
{
	unsigned int f = rnd(&w->x) % (FILE_PAGES - n);
	char *dst = w->mem + i * ps;
	ssize_t got = -1;
	size_t j;

	if ((how == OP_DIRECT || how == OP_AIO) && direct_fd < 0)
		how = OP_READ;
	if (how == OP_URING) {
		/* Buffered or O_DIRECT, as QEMU's aio=io_uring does either. */
		int fd = direct_fd >= 0 && rnd(&w->x) & 1 ? direct_fd : file_fd;

		got = uring_read(fd, dst, n * ps, (off_t)f * ps);
	} else if (how == OP_AIO) {
		aio_context_t ctx = 0;
		struct iocb cb = {}, *cbs[1] = { &cb };
		struct io_event ev;

		if (syscall(SYS_io_setup, 1, &ctx))
			worker_die("io_setup");
		cb.aio_lio_opcode = IOCB_CMD_PREAD;
		cb.aio_fildes = direct_fd;
		cb.aio_buf = (uintptr_t)dst;
		cb.aio_nbytes = n * ps;
		cb.aio_offset = (off_t)f * ps;
		if (syscall(SYS_io_submit, ctx, 1, cbs) == 1) {
			long r;

			/* io_uring's task work interrupts the wait. */
			do {
				r = syscall(SYS_io_getevents, ctx, 1, 1, &ev,
					    NULL);
			} while (r < 0 && errno == EINTR);
			got = r == 1 ? (ssize_t)ev.res : -1;
			if (got < 0 && r == 1)
				errno = -got;
		}
		syscall(SYS_io_destroy, ctx);
	} else if (how == OP_DIRECT) {
		got = pread(direct_fd, dst, n * ps, (off_t)f * ps);
	} else {
		/* preadv(), in two pieces unless it is one page. */
		struct iovec iov[2] = {
			{ dst, n / 2 * ps },
			{ dst + n / 2 * ps, (n - n / 2) * ps },
		};

		got = preadv(file_fd, iov + !(n / 2), 2 - !(n / 2),
			     (off_t)f * ps);
	}
	if (got != (ssize_t)(n * ps)) {
		if (got >= 0)
			errno = EIO;
		worker_die(op_names[how]);
	}
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
			worker_die("mremap");
	}
}

static void op_fork(struct worker *w)
{
	int status, k;
	pid_t pid = fork();

	if (pid < 0)
		worker_die("fork");
	if (!pid) {
		/* The child's copy reads as the parent's shadow. */
		for (k = 0; k < 64; k++)
			check(w, rnd(&w->x) % w->pages, 1);
		fill_page(w->mem, &w->x);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		worker_die("a forked child failed");
}

static void op_migrate(struct worker *w)
{
	unsigned long from = 1, to = 2;

	if (rnd(&w->x) & 1) {
		from = 2;
		to = 1;
	}
	if (syscall(SYS_migrate_pages, 0, sizeof(from) * 8, &from, &to) < 0)
		worker_die("migrate_pages");
}

/* Split the THPs of the first 2 MiB at @p, if debugfs lets us. */
static bool split_thp(char *p)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d,%#lx,%#lx", getpid(), (unsigned long)p,
		 (unsigned long)p + THP_SIZE);
	return !write_str(DEBUGFS "split_huge_pages", buf);
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
		worker_die("malloc");
	if (thp)
		madvise(w.mem, w.size, MADV_HUGEPAGE);
	if (madvise(w.mem, w.size, MADV_MERGEABLE))
		worker_die("MADV_MERGEABLE");
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
		/*
		 * What an operation overwrites is checked first: a page that
		 * came back wrong must not be hidden by new content.
		 */
		if (op < 45 || (op >= 60 && op < 63) || op == 71)
			check(&w, i, n);
		if (op < 30) {
			for (j = i; j < i + n; j++) {
				fill_page(w.shadow + j * ps, &w.x);
				memcpy(w.mem + j * ps, w.shadow + j * ps, ps);
			}
			w.res->ops[OP_WRITE]++;
		} else if (op < 45) {
			op_read(&w, i, n, OP_READ + op % 4);
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
				worker_die("mmap");
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
			if (rnd(&w.x) & 1) {
				madvise(w.mem, THP_SIZE, MADV_COLLAPSE);
				w.res->ops[OP_COLLAPSE]++;
			} else if (split_thp(w.mem)) {
				w.res->ops[OP_SPLIT]++;
			}
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

/* Detach loop device @dev: 0 or the status of losetup. */
static int loop_detach(const char *dev)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	return system(cmd);
}

/* A swap device for the run: 256 MiB on a loop device, file in /tmp. */
/*
 * The first line @cmd prints, without its newline, into @buf: 0 if the
 * command succeeded and printed one, else -1 with @buf empty.
 */
static int popen_line(const char *cmd, char *buf, size_t len)
{
	FILE *p = popen(cmd, "r");

	buf[0] = 0;
	if (!p)
		return -1;
	if (!fgets(buf, len, p))
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (pclose(p) || !buf[0]) {
		buf[0] = 0;
		return -1;
	}
	return 0;
}

static bool swap_auto(void)
{
	static const char * const steps[] = {
		"f=$(mktemp /tmp/ksm_stress_swap.XXXXXX)", "truncate -s 256M $f",
		"d=$(losetup -f --show $f)", "echo $d", "rm -f $f",
		"mkswap $d >/dev/null",
	};
	char cmd[256] = "";
	size_t i;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		if (i)
			strcat(cmd, " && ");
		strcat(cmd, steps[i]);
	}
	if (popen_line(cmd, auto_swap, sizeof(auto_swap)) ||
	    swapon(auto_swap, 0)) {
		if (auto_swap[0])
			loop_detach(auto_swap);
		auto_swap[0] = 0;
		return false;
	}
	swapdev = auto_swap;
	return true;
}

static void swap_auto_end(void)
{
	if (!auto_swap[0])
		return;
	if (swapoff(auto_swap))
		ksft_print_msg("swapoff %s: %s\n", auto_swap, strerror(errno));
	if (loop_detach(auto_swap))
		ksft_print_msg("losetup -d %s failed\n", auto_swap);
	auto_swap[0] = 0;
}

/* ksmd's pid, for fault injection into it; -1 if not found. */
static int ksmd_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], comm[32];
	int pid = -1;

	while (d && (e = readdir(d)) && pid < 0) {
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if (!read_str(path, comm, sizeof(comm)) &&
		    !strcmp(comm, "ksmd"))
			pid = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return pid;
}

/* The fault-injection attributes ksm_stress sets, and their old values. */
static const char * const fi_dirs[] = { "failslab", "fail_page_alloc" };
static const char * const fi_attrs[] = {
	"verbose", "task-filter", "ignore-gfp-wait", "interval", "times",
	"probability",
};

static const char * const fi_on[] = { "0", "Y", "N", "1", "-1", "1" };
static char fi_saved[ARRAY_SIZE(fi_dirs)][ARRAY_SIZE(fi_attrs)][24];

static void fi_path(char *path, size_t len, size_t d, size_t a)
{
	snprintf(path, len, DEBUGFS "%s/%s", fi_dirs[d], fi_attrs[a]);
}

/*
 * Fail 1% of ksmd's slab and page allocations (@on), or put back what was
 * there.  False if the kernel cannot (no fault injection, no ksmd).
 */
static bool inject(bool on)
{
	char path[128];
	bool ok = ksmd > 0;
	size_t d, a;

	snprintf(path, sizeof(path), "/proc/%d/make-it-fail", ksmd);
	if (ksmd > 0 && !on)
		write_str(path, "0");
	for (d = 0; d < ARRAY_SIZE(fi_dirs); d++) {
		/*
		 * Off in reverse: probability goes back first, before the
		 * task filter that kept the failures to ksmd.
		 */
		for (a = 0; a < ARRAY_SIZE(fi_attrs); a++) {
			size_t i = on ? a : ARRAY_SIZE(fi_attrs) - 1 - a;
			char *old = fi_saved[d][i];

			fi_path(path, sizeof(path), d, i);
			if (on) {
				if (read_str(path, old, sizeof(fi_saved[d][i])))
					old[0] = 0;
				ok &= old[0] && !write_str(path, fi_on[i]);
			} else if (old[0]) {
				write_str(path, old);
			}
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/make-it-fail", ksmd);
	if (ksmd > 0 && on)
		ok &= !write_str(path, "1");
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
		{ "nru_cold_secs", { 1, 2, 4 } },
		{ "io_hints_scan_percent", { 0, 50, 400 } },
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
 * @back0: cold_pages_back at the start
 * @refaults0: cold_refaults at the start
 * @hinted0: io_hints_pages_merged at the start
 * @compressed0: cold_pages_compressed at the start
 */
struct tier_max {
	long sharing, patched, cold, faults0, back0, refaults0, hinted0;
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
 * Set the workers' memory.high to 4 MiB below what they use (@on), or
 * back to max: reclaim then pushes some of their pages into zswap as they
 * allocate.  Mild: over memory.high every return to user space is
 * throttled, and a deep cut stalls the workers for the whole squeeze.
 */
static void squeeze(bool on)
{
	long cur = read_long(CG_DIR "/memory.current");
	char buf[32] = "max";

	if (on && cur > (8L << 20))
		snprintf(buf, sizeof(buf), "%ld", cur - (4L << 20));
	if (write_str(CG_DIR "/memory.high", buf))
		ksft_print_msg("memory.high %s: %s\n", buf, strerror(errno));
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

	while ((t = (long)(now() - start)) < seconds &&
	       !__atomic_load_n(&terminated, __ATOMIC_RELAXED)) {
		if (t == last) {
			usleep(100000);
			continue;
		}
		if (crossed(last, t, 3, 0))
			flip_knob(&x);
		/* Rarely: the tiers need a few full scans to work again. */
		if (crossed(last, t, 120, 30)) {
			ksm_set("run", 2);
			/* Nothing merged: merge domains may go on or off. */
			write_str(KSM_DIR "merge_domains",
				  rnd(&x) % 2 ? "prctl" : "none");
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
		/* A limit that forces reclaim for 2 s of every 30 s. */
		if (crossed(last, t, 30, 20))
			squeeze(true);
		if (crossed(last, t, 30, 18))
			squeeze(false);
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

/* Put back what the run changed; the main process only, once. */
static void cleanup(void)
{
	static bool done;
	size_t k;
	int w;

	if (getpid() != main_pid || done)
		return;
	done = true;
	if (sh)
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	for (w = 0; w < nr_kids; w++) {
		if (kids[w] <= 0)
			continue;
		kill(kids[w], SIGKILL);
		waitpid(kids[w], NULL, 0);
	}
	inject(false);
	/*
	 * Merge domains as they were: only with no KSM page mapped, which a
	 * forked child that is still exiting may hold for a moment.
	 */
	if (domains_saved[0]) {
		int tries = 0, err;

		ksm_set("run", 2);
		while ((err = write_str(KSM_DIR "merge_domains",
					domains_saved)) && ++tries < 50) {
			usleep(100000);
			ksm_set("run", 2);
		}
		if (err)
			ksft_print_msg("merge_domains not put back to %s: %s\n",
				       domains_saved, strerror(-err));
	}
	for (k = ARRAY_SIZE(knobs); k-- > 0;)
		if (saved[k] >= 0)
			ksm_set(knobs[k], saved[k]);
	for (w = 0; w < MAX_WORKERS; w++) {
		char cg[64];

		snprintf(cg, sizeof(cg), CG_DIR "/w%d", w);
		if (rmdir(cg) && errno != ENOENT)
			ksft_print_msg("rmdir %s: %s\n", cg, strerror(errno));
	}
	if (rmdir(CG_DIR) && errno != ENOENT)
		ksft_print_msg("rmdir %s: %s\n", CG_DIR, strerror(errno));
	if (direct_fd >= 0)
		close(direct_fd);
	if (file_loop[0] && loop_detach(file_loop))
		ksft_print_msg("losetup -d %s failed\n", file_loop);
	if (file_fd >= 0)
		unlink(file_path);
	swap_auto_end();
	if (zswap_saved[0])
		write_str(ZSWAP_ENABLED, zswap_saved);
}

static void on_term(int sig)
{
	__atomic_store_n(&terminated, 1, __ATOMIC_RELAXED);
}

/* Whether node 1 has memory: the workers migrate between 0 and 1. */
static int memory_nodes(void)
{
	char buf[64];

	if (read_str("/sys/devices/system/node/has_memory", buf, sizeof(buf)))
		return 1;
	return !strncmp(buf, "0-1", 3) || !strncmp(buf, "0,1", 3) ? 2 : 1;
}

/* The test file as a loop block device, opened O_DIRECT; -1 if not. */
static int open_direct(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "losetup -f --show %s", file_path);
	if (popen_line(cmd, file_loop, sizeof(file_loop)))
		return -1;
	return open(file_loop, O_RDONLY | O_DIRECT);
}

int main(int argc, char **argv)
{
	int seconds = 180, workers = 4, pages = 4096, opt, i, w;
	struct sigaction sa = { .sa_handler = on_term };
	struct tier_max tm = {};
	long verified = 0, lost = 0, bus = 0, ops[NR_OPS] = {};
	long hinted, compressed, pfaults, back, refaults;
	bool injected, ok = true, tiers = false, active;
	double start;
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
	    access(KSM_DIR "patch_tier", F_OK) || access(ZSWAP_ENABLED, F_OK))
		ksft_exit_skip("kernel without the KSM++ tiers or zswap\n");
	if (seconds < 1 || workers < 1 || workers > MAX_WORKERS || pages < 64)
		ksft_exit_fail_msg("bad arguments\n");

	/* From here on, every exit puts back what was changed. */
	main_pid = getpid();
	for (k = 0; k < ARRAY_SIZE(knobs); k++)
		saved[k] = ksm(knobs[k]);
	if (!read_str(KSM_DIR "merge_domains", domains_saved,
		      sizeof(domains_saved))) {
		char *b = strchr(domains_saved, '[');

		/* "none [prctl]" -> "prctl" */
		if (b)
			memmove(domains_saved, b + 1, strcspn(b + 1, "]") + 1);
		domains_saved[strcspn(domains_saved, "]\n")] = 0;
	}
	atexit(cleanup);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (read_str(ZSWAP_ENABLED, zswap_saved, sizeof(zswap_saved)) ||
	    write_str(ZSWAP_ENABLED, "Y"))
		ksft_exit_fail_msg("cannot enable zswap\n");
	if (swapdev && !strcmp(swapdev, "auto") && !swap_auto())
		ksft_exit_fail_msg("no swap device: losetup or mkswap failed\n");
	nr_nodes = memory_nodes();

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
	direct_fd = open_direct();
	if (direct_fd < 0)
		ksft_print_msg("no O_DIRECT reads (loop device: %s)\n",
			       strerror(errno));

	ksm_set("run", 1);
	ksm_set("pages_to_scan", 1000);
	ksm_set("sleep_millisecs", 10);
	ksm_set("io_hints", 1);
	ksm_set("nru_idle_secs", 1);
	ksm_set("nru_cold_secs", 2);
	ksm_set("cold_compress_pages", 256);
	ksm_set("cold_compress", 1);
	ksm_set("patch_tier", 1);
	tm.faults0 = ksm("patch_faults");
	tm.back0 = ksm("cold_pages_back");
	tm.refaults0 = ksm("cold_refaults");
	tm.hinted0 = ksm("io_hints_pages_merged");
	tm.compressed0 = ksm("cold_pages_compressed");

	/*
	 * The workers' memory cgroup, zswap writeback off: the cold tier
	 * pushes pages only where what zswap refuses stays in memory.  A
	 * cgroup of its own for each worker below it: a KSM page is charged
	 * to one worker's cgroup, and patches of others are made against it.
	 */
	if (write_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory") ||
	    (mkdir(CG_DIR, 0755) && errno != EEXIST) ||
	    write_str(CG_DIR "/memory.zswap.writeback", "0") ||
	    write_str(CG_DIR "/cgroup.subtree_control", "+memory"))
		ksft_exit_fail_msg("memory cgroup %s: %s\n", CG_DIR,
				   strerror(errno));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		sh = NULL;
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	}
	for (w = 0; w < workers; w++) {
		pid_t pid = fork();

		if (pid < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (!pid) {
			char me[16], cg[64];

			/* Never outlive the main process. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != main_pid)
				_exit(1);
			/*
			 * Two merge domains, used while merge_domains is
			 * "prctl"; a kernel without them says EINVAL.
			 */
			prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_JOIN, 1 + w % 2,
			      0, 0);
			snprintf(me, sizeof(me), "%d", getpid());
			snprintf(cg, sizeof(cg), CG_DIR "/w%d", w);
			if ((mkdir(cg, 0755) && errno != EEXIST) ||
			    write_str(strcat(cg, "/cgroup.procs"), me)) {
				errno = EIO;
				worker_die(cg);
			}
			worker_run(w, pages, w == 0);
		}
		kids[nr_kids++] = pid;
	}
	ksmd = ksmd_pid();
	injected = inject(true);
	if (!injected)
		ksft_print_msg("no allocation failures injected into ksmd\n");

	start = now();
	control(seconds, &tm);
	squeeze(false);
	inject(false);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	for (w = 0; w < nr_kids; w++) {
		int status = 0;
		pid_t got;

		while ((got = waitpid(kids[w], &status, 0)) < 0 &&
		       errno == EINTR)
			if (__atomic_load_n(&terminated, __ATOMIC_RELAXED))
				kill(kids[w], SIGKILL);
		if (got != kids[w] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) || !sh->res[w].done) {
			ksft_print_msg("worker %d did not finish (status %#x)\n",
				       w, status);
			ok = false;
		}
		kids[w] = 0;
		verified += sh->res[w].verified;
		lost += sh->res[w].lost;
		bus += sh->res[w].sigbus;
		for (i = 0; i < NR_OPS; i++)
			ops[i] += sh->res[w].ops[i];
	}
	if (__atomic_load_n(&terminated, __ATOMIC_RELAXED)) {
		ksft_print_msg("stress: stopped by a signal\n");
		ok = false;
	}
	hinted = ksm("io_hints_pages_merged") - tm.hinted0;
	compressed = ksm("cold_pages_compressed") - tm.compressed0;
	pfaults = ksm("patch_faults") - tm.faults0;
	back = ksm("cold_pages_back") - tm.back0;
	refaults = ksm("cold_refaults") - tm.refaults0;

	for (i = 0; i < NR_OPS; i++)
		ksft_print_msg("ops: %s %ld\n", op_names[i], ops[i]);
	ksft_print_msg("stress: %d s of churn (%.0f s in all), %d workers x %d pages\n",
		       seconds, now() - start, workers, pages);
	ksft_print_msg("stress: %ld full scans since the last run=2\n",
		       ksm("full_scans"));
	ksft_print_msg("stress: %ld pages verified, lost %ld, sigbus %ld\n",
		       verified, lost, bus);
	ksft_print_msg("stress: merged: pages_sharing max %ld, by hints %ld\n",
		       tm.sharing, hinted);
	ksft_print_msg("stress: compressed %ld (cold_pages_out max %ld), patched max %ld\n",
		       compressed, tm.cold, tm.patched);
	ksft_print_msg("stress: back: %ld patched faults, %ld compressed (%ld refaults)\n",
		       pfaults, back, refaults);
	ksft_print_msg("stress: injected into ksmd: %s; O_DIRECT: %s; nodes: %d\n",
		       injected ? "yes" : "no", direct_fd >= 0 ? "yes" : "no",
		       nr_nodes);
	cleanup();

	active = tm.sharing > 0 && hinted > 0 && compressed > 0 &&
		 tm.patched > 0 && pfaults > 0 && back > 0;
	ksft_print_msg("stress: every tier active: %s\n", active ? "yes" : "no");
	ok &= !lost && !bus;
	/* -t: and everything was exercised. */
	if (tiers)
		ok &= active && injected && direct_fd >= 0 && nr_nodes > 1;
	ksft_test_result(ok, "no page lost under churn%s\n",
			 tiers ? ", every tier active" : "");
	ksft_finished();
}
