// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM I/O hints: reads into mergeable memory let ksmd merge those pages
 * before its linear scan reaches them.
 *
 * Every read path that records hints is driven here, buffered and
 * O_DIRECT (through a loop device, so that AIO and io_uring really
 * complete asynchronously); merging is checked through the PFNs in
 * /proc/PID/pagemap, and merged memory is read back byte for byte, also
 * after copy-on-write.  A large unrelated mergeable area ("ballast") keeps
 * the linear scan busy, so merges seen within seconds come from hints.
 *
 * Copyright (C) 2026 KSM++ developers
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <linux/loop.h>

#include "../kselftest.h"
#include "vm_util.h"

#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define NR_PAGES	64		/* pages per reader buffer */
#define BALLAST_MB	256		/* unrelated mergeable memory */
#define MERGE_TIMEOUT	20		/* seconds */
#define CG_DIR		"/sys/fs/cgroup/ksm_hints_tests"
#define NR_CHARGED	8192		/* pages of the charged index */

static size_t pagesize;
/* Only the test process restores the system, not its forked children. */
static pid_t main_pid;
static char file_path[64];
static int file_fd = -1;
static char *file_data;		/* what the file holds */
static char loop_path[64];
static pid_t ballast_pid;

/* ---------------------------------------------------------------- knobs */

static const char * const saved_knobs[] = {
	"run", "pages_to_scan", "sleep_millisecs", "io_hints",
	"io_hints_capacity", "io_hints_scan_percent", "merge_across_nodes",
};

static char saved_values[ARRAY_SIZE(saved_knobs)][32];

/* Write @val to the file at @path: 0 or a negative errno. */
static int file_write(const char *path, const char *val)
{
	int fd, ret;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, val, strlen(val));
	ret = ret < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static int knob_write(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	return file_write(path, val);
}

static int knob_read_str(const char *name, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
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

static void restore_knobs(void)
{
	int i;

	/* io_hints last: capacity changes while it is off are cheap. */
	for (i = ARRAY_SIZE(saved_knobs) - 1; i >= 0; i--)
		if (saved_values[i][0])
			knob_write(saved_knobs[i], saved_values[i]);
}

static void cleanup(void)
{
	if (getpid() != main_pid)
		return;
	if (ballast_pid > 0) {
		kill(ballast_pid, SIGKILL);
		waitpid(ballast_pid, NULL, 0);
	}
	if (file_fd >= 0)
		unlink(file_path);
	rmdir(CG_DIR);
	restore_knobs();
}

/* --------------------------------------------------------------- helpers */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *map_mergeable(size_t pages)
{
	void *p = mmap(NULL, pages * pagesize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	if (madvise(p, pages * pagesize, MADV_MERGEABLE))
		ksft_exit_fail_msg("MADV_MERGEABLE: %s\n", strerror(errno));
	return p;
}

/*
 * A mergeable area inside a PMD-aligned transparent huge page, 8 pages in
 * so that ksmd's first merge in it is not of the head page, and merging
 * must split it; munmap() the returned *@base, *@len.
 */
static void *map_mergeable_thp(size_t pages, void **base, size_t *len)
{
	size_t pmd = read_pmd_pagesize();
	char *p;

	*len = pages * pagesize + 2 * pmd;
	*base = mmap(NULL, *len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*base == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	p = (char *)(((uintptr_t)*base + pmd - 1) & ~(pmd - 1));
	madvise(p, pmd, MADV_HUGEPAGE);
	if (madvise(p, pmd, MADV_MERGEABLE))
		ksft_exit_fail_msg("MADV_MERGEABLE: %s\n", strerror(errno));
	return p + 8 * pagesize;
}

/* PFN of a page of process @pid, 0 if not present. */
static unsigned long pid_pfn(pid_t pid, const char *addr)
{
	char path[64];
	unsigned long pfn;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	pfn = pagemap_get_pfn(fd, (char *)addr);
	close(fd);
	return pfn == -1UL ? 0 : pfn;
}

/* Pages i where a[i] and b[i] map the same page frame. */
static int count_shared(pid_t pa, const char *a, pid_t pb, const char *b,
			int nr)
{
	int i, shared = 0;

	for (i = 0; i < nr; i++) {
		unsigned long pfn = pid_pfn(pa, a + i * pagesize);

		if (pfn && pfn == pid_pfn(pb, b + i * pagesize))
			shared++;
	}
	return shared;
}

/* Wait until @nr pages are shared, up to @timeout seconds. */
static int wait_shared(pid_t pa, const char *a, pid_t pb, const char *b,
		       int nr, double timeout, double *took)
{
	double start = now();
	int shared;

	do {
		shared = count_shared(pa, a, pb, b, nr);
		if (shared == nr)
			break;
		usleep(10000);
	} while (now() - start < timeout);
	if (took)
		*took = now() - start;
	return shared;
}

static bool wait_full_scans(int n)
{
	long target = knob("full_scans") + n;
	double start = now();

	while (knob("full_scans") < target) {
		if (now() - start > 120)
			return false;
		usleep(20000);
	}
	return true;
}

/*
 * The file every reader reads: unique random bytes in every page, fresh
 * for every call so that nothing left from an earlier case matches.
 */
static void refill_file(void)
{
	size_t i, len = NR_PAGES * pagesize;

	for (i = 0; i < len / sizeof(long); i++)
		((long *)file_data)[i] = random() ^ ((long)random() << 31);
	if (pwrite(file_fd, file_data, len, 0) != (ssize_t)len)
		ksft_exit_fail_msg("writing %s: %s\n", file_path, strerror(errno));
	fsync(file_fd);
	/* The loop device caches nothing with direct I/O, but be sure. */
	if (loop_path[0]) {
		int fd = open(loop_path, O_RDONLY);

		if (fd >= 0) {
			ioctl(fd, BLKFLSBUF, 0);
			close(fd);
		}
	}
}

/*
 * A process holding @pages populated mergeable pages of unique content,
 * until it is killed.  Returns its pid once the pages are there.
 */
static pid_t start_holder(size_t pages)
{
	int pipefd[2];
	pid_t pid;
	size_t i;
	char c;

	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (!pid) {
		char *p = map_mergeable(pages);

		for (i = 0; i < pages; i++)
			*(unsigned long *)(p + i * pagesize) = i + 1;
		write(pipefd[1], "x", 1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1)
		ksft_exit_fail_msg("holder of %zu pages did not start\n", pages);
	close(pipefd[0]);
	return pid;
}

/* A mergeable area of unique pages that keeps the linear scan busy. */
static void start_ballast(void)
{
	ballast_pid = start_holder(BALLAST_MB * (1024 * 1024 / pagesize));
}

static void stop_ballast(void)
{
	if (ballast_pid > 0) {
		kill(ballast_pid, SIGKILL);
		waitpid(ballast_pid, NULL, 0);
		ballast_pid = 0;
	}
}

/* Set up a loop device with direct I/O on the file, for O_DIRECT reads. */
static void setup_loop(void)
{
	struct loop_config cfg = {};
	int ctl, n, fd;

	ctl = open("/dev/loop-control", O_RDWR);
	if (ctl < 0)
		return;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return;
	snprintf(loop_path, sizeof(loop_path), "/dev/loop%d", n);
	fd = open(loop_path, O_RDWR);
	if (fd < 0) {
		loop_path[0] = 0;
		return;
	}
	cfg.fd = file_fd;
	cfg.block_size = pagesize;
	cfg.info.lo_flags = LO_FLAGS_DIRECT_IO | LO_FLAGS_AUTOCLEAR |
			    LO_FLAGS_READ_ONLY;
	if (ioctl(fd, LOOP_CONFIGURE, &cfg)) {
		ksft_print_msg("loop device: %s\n", strerror(errno));
		loop_path[0] = 0;
	}
	/*
	 * Keep fd open: with LO_FLAGS_AUTOCLEAR the device goes away with
	 * the last opener, i.e. when the test exits.
	 */
}

/* ------------------------------------------------------------ read paths */

enum path {
	P_READ, P_PREAD64, P_READV, P_PREADV, P_PREADV2,
	P_AIO_PREAD, P_AIO_PREADV, P_URING_READ, P_URING_READV,
	P_URING_READ_FIXED, NR_PATHS,
};

static const char * const path_names[] = {
	"read", "pread64", "readv", "preadv", "preadv2",
	"aio PREAD", "aio PREADV", "io_uring READ", "io_uring READV",
	"io_uring READ_FIXED",
};

/* Split @len bytes at @buf into page-sized iovecs. */
static int make_iov(struct iovec *iov, char *buf, size_t len)
{
	int i, n = len / pagesize;

	for (i = 0; i < n; i++) {
		iov[i].iov_base = buf + i * pagesize;
		iov[i].iov_len = pagesize;
	}
	return n;
}

static ssize_t read_aio(int fd, char *buf, size_t len, bool vectored)
{
	struct iovec iov[NR_PAGES];
	aio_context_t ctx = 0;
	struct iocb cb = {}, *cbs[1] = { &cb };
	struct io_event ev;
	ssize_t ret;

	if (syscall(__NR_io_setup, 1, &ctx))
		return -errno;
	cb.aio_fildes = fd;
	cb.aio_offset = 0;
	if (vectored) {
		cb.aio_lio_opcode = IOCB_CMD_PREADV;
		cb.aio_buf = (uintptr_t)iov;
		cb.aio_nbytes = make_iov(iov, buf, len);
	} else {
		cb.aio_lio_opcode = IOCB_CMD_PREAD;
		cb.aio_buf = (uintptr_t)buf;
		cb.aio_nbytes = len;
	}
	ret = syscall(__NR_io_submit, ctx, 1, cbs);
	if (ret == 1)
		ret = syscall(__NR_io_getevents, ctx, 1, 1, &ev, NULL) == 1 ?
		      (ssize_t)ev.res : -errno;
	else
		ret = ret < 0 ? -errno : -EIO;
	syscall(__NR_io_destroy, ctx);
	return ret;
}

/* A minimal io_uring: one SQE, one CQE, no liburing. */
static ssize_t read_uring(int fd, char *buf, size_t len, int op)
{
	struct io_uring_params p = {};
	struct iovec iov[NR_PAGES], fixed = { buf, len };
	struct io_uring_sqe *sqes, *sqe;
	struct io_uring_cqe *cqe;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_mask;
	unsigned int tail, idx;
	size_t sq_len, cq_len;
	char *sq, *cq;
	bool registered = false;
	ssize_t ret;
	int ring;

	ring = syscall(__NR_io_uring_setup, 4, &p);
	if (ring < 0)
		return -errno;
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		ret = -ENOMEM;
		goto out;
	}
	sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	sq_array = (unsigned int *)(sq + p.sq_off.array);
	cq_head = (unsigned int *)(cq + p.cq_off.head);
	cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);

	if (op == IORING_OP_READ_FIXED &&
	    syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &fixed, 1)) {
		ret = -errno;
		goto out;
	}
	registered = op == IORING_OP_READ_FIXED;

	tail = *sq_tail;
	idx = tail & *sq_mask;
	sqe = &sqes[idx];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->off = 0;
	if (op == IORING_OP_READV) {
		sqe->addr = (uintptr_t)iov;
		sqe->len = make_iov(iov, buf, len);
	} else {
		sqe->addr = (uintptr_t)buf;
		sqe->len = len;
		sqe->buf_index = 0;
	}
	sq_array[idx] = idx;
	__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);

	ret = syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS,
		      NULL, 0);
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) +
	      (__atomic_load_n(cq_head, __ATOMIC_ACQUIRE) & *cq_mask);
	ret = cqe->res;
	__atomic_store_n(cq_head, *cq_head + 1, __ATOMIC_RELEASE);
out:
	/*
	 * Unpin the fixed buffer now: close() leaves that to a work item
	 * after an RCU grace period, and ksmd cannot merge a pinned page.
	 */
	if (registered)
		syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
			NULL, 0);
	close(ring);
	if (sq != MAP_FAILED)
		munmap(sq, sq_len);
	if (cq != MAP_FAILED)
		munmap(cq, cq_len);
	if (sqes != MAP_FAILED)
		munmap(sqes, p.sq_entries * sizeof(*sqes));
	return ret;
}

/* Read the whole file into @buf through @path; returns bytes or -errno. */
static ssize_t read_by(enum path path, bool direct, char *buf)
{
	size_t len = NR_PAGES * pagesize;
	struct iovec iov[NR_PAGES];
	ssize_t ret;
	int fd;

	fd = direct ? open(loop_path, O_RDONLY | O_DIRECT) :
		      open(file_path, O_RDONLY);
	if (fd < 0)
		return -errno;
	switch (path) {
	case P_READ:
		ret = read(fd, buf, len);
		break;
	case P_PREAD64:
		ret = pread(fd, buf, len, 0);
		break;
	case P_READV:
		ret = readv(fd, iov, make_iov(iov, buf, len));
		break;
	case P_PREADV:
		ret = preadv(fd, iov, make_iov(iov, buf, len), 0);
		break;
	case P_PREADV2:
		ret = preadv2(fd, iov, make_iov(iov, buf, len), 0, 0);
		break;
	case P_AIO_PREAD:
	case P_AIO_PREADV:
		ret = read_aio(fd, buf, len, path == P_AIO_PREADV);
		break;
	case P_URING_READ:
		ret = read_uring(fd, buf, len, IORING_OP_READ);
		break;
	case P_URING_READV:
		ret = read_uring(fd, buf, len, IORING_OP_READV);
		break;
	case P_URING_READ_FIXED:
		ret = read_uring(fd, buf, len, IORING_OP_READ_FIXED);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret == -1 && path <= P_PREADV2)
		ret = -errno;
	close(fd);
	return ret;
}

/* ------------------------------------------------------------------ tests */

/* (d) Every knob rejects bad values and keeps its value. */
static void test_knobs(void)
{
	static const struct {
		const char *knob, *bad;
	} cases[] = {
		{ "io_hints", "2" }, { "io_hints", "-1" }, { "io_hints", "on" },
		{ "io_hints_capacity", "15" }, { "io_hints_capacity", "4194305" },
		{ "io_hints_capacity", "-16" }, { "io_hints_capacity", "1k" },
		{ "io_hints_scan_percent", "1001" },
		{ "io_hints_scan_percent", "-1" },
		{ "io_hints_scan_percent", "50%" },
	};
	bool ok = true;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char before[32], after[32];
		int err;

		knob_read_str(cases[i].knob, before, sizeof(before));
		err = knob_write(cases[i].knob, cases[i].bad);
		knob_read_str(cases[i].knob, after, sizeof(after));
		if (err != -EINVAL || strcmp(before, after)) {
			ksft_print_msg("%s <- \"%s\": %s, %s -> %s\n",
				       cases[i].knob, cases[i].bad,
				       strerror(-err), before, after);
			ok = false;
		}
	}
	/* Good values are taken. */
	knob_set("io_hints_capacity", 16);
	ok &= knob("io_hints_capacity") == 16;
	knob_set("io_hints_capacity", 65536);
	knob_set("io_hints_scan_percent", 1000);
	ok &= knob("io_hints_scan_percent") == 1000;
	knob_set("io_hints_scan_percent", 50);
	ksft_test_result(ok, "knobs reject bad values and keep their value\n");
}

/* Wait until ksmd used every pending hint and counted @n more stale. */
static bool wait_stale(long stale0, long n)
{
	double start = now();

	while (knob("io_hints_stale") < stale0 + n || knob("io_hints_pending")) {
		if (now() - start > 30)
			return false;
		usleep(20000);
	}
	return true;
}

/* Global rmap_items, from general_profit = shared * PAGE_SIZE - items * 64. */
static long global_rmap_items(void)
{
	long shared = knob("pages_sharing") + knob("ksm_zero_pages");

	return (shared * (long)pagesize - knob("general_profit")) / 64;
}

static long pid_rmap_items(pid_t pid)
{
	char line[128];
	long n = -1;
	FILE *f;

	snprintf(line, sizeof(line), "/proc/%d/ksm_stat", pid);
	f = fopen(line, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ksm_rmap_items %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* (c) Hints of an exited process or an unmapped range are stale. */
static void test_stale(void)
{
	long stale0, items0;
	pid_t exited, unmapper, keeper;
	int status, pipefd[2];
	char c;
	bool ok;

	/*
	 * ksmd only runs while some mm is registered: a keeper process holds
	 * one.  Not this one: its own reads of sysfs would leave hints.
	 */
	keeper = start_holder(4);
	/* Settled: every mm ksmd knows has its rmap_items (keeper's too). */
	ok = wait_full_scans(2);
	items0 = global_rmap_items() - pid_rmap_items(keeper);

	knob_set("run", 0);
	stale0 = knob("io_hints_stale");

	exited = fork();
	if (!exited) {
		char *buf = map_mergeable(NR_PAGES);

		_exit(read_by(P_PREAD64, false, buf) ==
		      (ssize_t)(NR_PAGES * pagesize) ? 0 : 1);
	}
	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	unmapper = fork();
	if (!unmapper) {
		char *buf = map_mergeable(NR_PAGES);

		if (read_by(P_PREAD64, false, buf) != (ssize_t)(NR_PAGES * pagesize))
			_exit(1);
		munmap(buf, NR_PAGES * pagesize);
		write(pipefd[1], "x", 1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	waitpid(exited, &status, 0);
	ok &= WIFEXITED(status) && !WEXITSTATUS(status);
	ok &= read(pipefd[0], &c, 1) == 1;
	close(pipefd[0]);
	if (!ok)
		ksft_print_msg("a reader failed\n");
	if (knob("io_hints_pending") < 2) {
		ksft_print_msg("%ld hints pending, expected 2 or more\n",
			       knob("io_hints_pending"));
		ok = false;
	}

	knob_set("run", 1);
	if (!wait_stale(stale0, 2)) {
		ksft_print_msg("stale: %ld more, pending %ld\n",
			       knob("io_hints_stale") - stale0,
			       knob("io_hints_pending"));
		ok = false;
	}
	kill(unmapper, SIGKILL);
	waitpid(unmapper, NULL, 0);

	/*
	 * Nothing is left behind once ksmd has been round twice: the only
	 * new rmap_items are those of the keeper.
	 */
	ok &= wait_full_scans(2);
	if (global_rmap_items() != items0 + pid_rmap_items(keeper)) {
		ksft_print_msg("rmap_items: %ld before, %ld after, keeper %ld\n",
			       items0, global_rmap_items(),
			       pid_rmap_items(keeper));
		ok = false;
	}
	kill(keeper, SIGKILL);
	waitpid(keeper, NULL, 0);
	ksft_test_result(ok, "stale hints: exited process, unmapped range; nothing leaks\n");
}

/*
 * (b) and (e): read the file twice into two mergeable buffers through
 * @path; with hints both merge within seconds although the linear scan
 * is busy with the ballast.  Then check the data and copy-on-write.
 */
/* What the reader child of test_path() tells the parent. */
struct path_report {
	ssize_t ra, rb;
	char *a, *b;
};

/*
 * The reader child of test_path(): reads the file into @a and @b, reports,
 * waits for the parent to see them merged, then checks the data, writes
 * (copy-on-write) and checks again.  Exit status 0 if all is well.
 */
static void path_reader(enum path path, bool direct, bool thp, int report,
			int go)
{
	size_t len = NR_PAGES * pagesize, len_a, len_b;
	struct path_report r;
	void *base_a, *base_b;
	bool ok = true;
	int i;

	if (thp) {
		r.a = map_mergeable_thp(NR_PAGES, &base_a, &len_a);
		r.b = map_mergeable_thp(NR_PAGES, &base_b, &len_b);
	} else {
		r.a = map_mergeable(NR_PAGES);
		r.b = map_mergeable(NR_PAGES);
	}
	r.ra = read_by(path, direct, r.a);
	r.rb = read_by(path, direct, r.b);
	if (thp && !check_huge_anon(r.a - 8 * pagesize, 1, read_pmd_pagesize()))
		ksft_print_msg("no THP was allocated\n");
	if (write(report, &r, sizeof(r)) != sizeof(r) || read(go, &i, 1) != 1)
		_exit(2);

	ok &= !memcmp(r.a, file_data, len) && !memcmp(r.b, file_data, len);
	/* Copy-on-write: a's pages change, b keeps the file's bytes. */
	for (i = 0; i < NR_PAGES; i++)
		r.a[i * pagesize + i] ^= 0x5a;
	ok &= count_shared(getpid(), r.a, getpid(), r.b, NR_PAGES) == 0;
	ok &= !memcmp(r.b, file_data, len);
	for (i = 0; i < NR_PAGES; i++) {
		ok &= (char)(r.a[i * pagesize + i] ^ 0x5a) ==
		      file_data[i * pagesize + i];
		r.a[i * pagesize + i] ^= 0x5a;
	}
	ok &= !memcmp(r.a, file_data, len);
	_exit(ok ? 0 : 1);
}

/*
 * (b) and (e): a child reads the file twice into two mergeable buffers
 * through @path; with hints both merge within seconds although the linear
 * scan is busy with the ballast.  The parent watches from outside: it has
 * no mergeable memory, so its own reads of pagemap and sysfs leave no
 * hints to compete with the child's.
 */
static void test_path(enum path path, bool direct, bool thp)
{
	long merged0 = knob("io_hints_pages_merged");
	long visited0 = knob("io_hints_pages_visited");
	long rec0 = knob("io_hints_recorded");
	const char *how = thp ? "into a THP" : direct ? "O_DIRECT" : "buffered";
	int report[2], go[2], status, shared = 0, i;
	struct path_report r = {};
	bool ok = false, failed = true;
	double took = 0;
	pid_t pid;

	if (direct && !loop_path[0]) {
		ksft_test_result_skip("%s %s: no loop device\n",
				      path_names[path], how);
		return;
	}
	refill_file();
	if (pipe(report) || pipe(go))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (!pid)
		path_reader(path, direct, thp, report[1], go[0]);
	close(report[1]);
	close(go[0]);
	if (read(report[0], &r, sizeof(r)) != sizeof(r)) {
		ksft_test_result_fail("%s %s: reader died\n", path_names[path], how);
		goto out;
	}
	if (r.ra != (ssize_t)(NR_PAGES * pagesize) ||
	    r.rb != (ssize_t)(NR_PAGES * pagesize)) {
		ksft_test_result_fail("%s %s: read returned %zd, %zd\n",
				      path_names[path], how, r.ra, r.rb);
		goto out;
	}
	failed = false;
	ok = knob("io_hints_recorded") > rec0;
	/*
	 * read_uring() unregistered READ_FIXED's buffer before it returned,
	 * so no pin is left: KSM never merges pinned pages.
	 */
	shared = wait_shared(pid, r.a, pid, r.b, NR_PAGES, MERGE_TIMEOUT, &took);
	ok &= shared == NR_PAGES;
	/*
	 * The linear scan may have merged the last pages while ksmd was
	 * still part way through the second hint: let it finish.
	 */
	for (i = 0; i < 100; i++) {
		if (knob("io_hints_pages_visited") - visited0 >= 2 * NR_PAGES)
			break;
		usleep(50000);
	}
	ok &= knob("io_hints_pages_visited") - visited0 >= 2 * NR_PAGES;
	/* Stale KSM pages pruned meanwhile may lower the count a little. */
	ok &= knob("io_hints_pages_merged") - merged0 >= NR_PAGES;
	ksft_print_msg("%s %s: hints recorded %ld, pages visited %ld, merged %ld\n",
		       path_names[path], how, knob("io_hints_recorded") - rec0,
		       knob("io_hints_pages_visited") - visited0,
		       knob("io_hints_pages_merged") - merged0);
out:
	if (write(go[1], "g", 1) != 1)
		ok = false;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("%s %s: the reader's data check failed\n",
			       path_names[path], how);
		ok = false;
	}
	close(report[0]);
	close(go[1]);
	if (!failed)
		ksft_test_result(ok, "%s %s: %d/%d pages merged in %.2fs, data intact\n",
				 path_names[path], how, shared, NR_PAGES, took);
}

/*
 * Fork two children that mark @len bytes at @p mergeable and fill them
 * with @fill(@p, @arg), then wait until killed (also when the test dies);
 * returns once both have filled them.
 */
static void start_pair(pid_t pid[2], char *p, size_t len,
		       void (*fill)(char *p, void *arg), void *arg)
{
	int i, pipefd[2];
	char c;

	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (!pid[i]) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			madvise(p, len, MADV_MERGEABLE);
			fill(p, arg);
			write(pipefd[1], "x", 1);
			pause();
			_exit(0);
		}
	}
	close(pipefd[1]);
	for (i = 0; i < 2; i++)
		if (read(pipefd[0], &c, 1) != 1)
			ksft_exit_fail_msg("a child died\n");
	close(pipefd[0]);
}

static void fill_by_pread(char *p, void *arg)
{
	read_by(P_PREAD64, false, p);
}

/* The first NR_PAGES pages of the file *@arg (an int fd) */
static void fill_by_pread_fd(char *p, void *arg)
{
	size_t len = NR_PAGES * pagesize;

	if (pread(*(int *)arg, p, len, 0) != (ssize_t)len)
		_exit(1);
}

/*
 * Two readers, each in its own process, read the file into mergeable
 * memory; returns how many pages they share after @window seconds, or
 * when all are shared if @window is 0 (then *took says when).
 */
static int two_readers(double window, double *took)
{
	char *buf = mmap(NULL, NR_PAGES * pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i, shared;
	pid_t pid[2];

	if (buf == MAP_FAILED)
		ksft_exit_fail_msg("readers: %s\n", strerror(errno));
	refill_file();
	start_pair(pid, buf, NR_PAGES * pagesize, fill_by_pread, NULL);

	if (window > 0) {
		usleep(window * 1e6);
		shared = count_shared(pid[0], buf, pid[1], buf, NR_PAGES);
	} else {
		shared = wait_shared(pid[0], buf, pid[1], buf, NR_PAGES,
				     MERGE_TIMEOUT, took);
	}
	for (i = 0; i < 2; i++) {
		kill(pid[i], SIGKILL);
		waitpid(pid[i], NULL, 0);
	}
	munmap(buf, NR_PAGES * pagesize);
	return shared;
}

/* (a) Hints merge two readers' pages long before the linear scan would. */
static void test_speed(void)
{
	double took = 0, window;
	int on, off;

	on = two_readers(0, &took);
	knob_set("io_hints", 0);
	window = took < 0.5 ? 0.5 : took;
	off = two_readers(window, NULL);
	knob_set("io_hints", 1);
	ksft_print_msg("two readers, %d pages each, %d MiB ballast:\n",
		       NR_PAGES, BALLAST_MB);
	ksft_print_msg("hints on: %d merged in %.2fs; off: %d in %.2fs\n",
		       on, took, off, window);
	ksft_test_result(on == NR_PAGES && off < NR_PAGES / 4,
			 "two readers merge with hints (%d/%d in %.2fs), not without (%d/%d)\n",
			 on, NR_PAGES, took, off, NR_PAGES);
}

/* ------------------------------------------- hints that find nothing */

#define IDENT_PAGES	1024	/* pages of each of two identical regions */
#define STREAM_PAGES	1024	/* pages of the file the readers stream */

/* Shared with the forked readers */
struct reader_stats {
	long rounds;
	long bad;		/* reads that returned wrong data */
};

/*
 * A file of @pages unique random pages, and a copy of what it holds; the
 * file is unlinked at once.
 */
static int stream_file(size_t pages, char **data)
{
	char path[] = "/tmp/ksm_hints_stream_XXXXXX";
	size_t i, len = pages * pagesize;
	int fd = mkstemp(path);

	*data = malloc(len);
	if (fd < 0 || !*data)
		ksft_exit_fail_msg("stream file: %s\n", strerror(errno));
	unlink(path);
	for (i = 0; i < len / sizeof(long); i++)
		((long *)*data)[i] = random() ^ ((long)random() << 31);
	if (pwrite(fd, *data, len, 0) != (ssize_t)len)
		ksft_exit_fail_msg("writing the stream file: %s\n",
				   strerror(errno));
	return fd;
}

/*
 * In a child, until killed (also when the test dies): read NR_PAGES pages
 * of @fd into one mergeable buffer, again and again, checking each read:
 * chunk i % (@pages / NR_PAGES) in round i; with @period_ms, the chunk of
 * the current period instead, once per period at its start, so that
 * readers read the same chunk at about the same time.
 */
static void stream_reader(int fd, const char *data, size_t pages,
			  int period_ms, struct reader_stats *st)
{
	size_t len = NR_PAGES * pagesize, chunks = pages / NR_PAGES;
	char *buf;
	long i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	buf = map_mergeable(NR_PAGES);
	for (i = 0;; i++) {
		size_t c = i % chunks;

		if (period_ms)
			c = (size_t)(now() * 1000 / period_ms) % chunks;
		if (pread(fd, buf, len, c * len) != (ssize_t)len ||
		    memcmp(buf, data + c * len, len))
			__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&st->rounds, 1, __ATOMIC_RELAXED);
		if (period_ms) {
			long ms = (long)(now() * 1000);

			usleep((period_ms - ms % period_ms) * 1000);
		} else {
			usleep(2000);
		}
	}
}

struct twin_content {
	const char *data;
	size_t len;
};

static void fill_twin(char *p, void *arg)
{
	const struct twin_content *t = arg;

	memcpy(p, t->data, t->len);
}

/* Two processes holding the same @pages random pages; their pids. */
static void *start_twins(size_t pages, pid_t pid[2])
{
	size_t j, len = pages * pagesize;
	char *content = malloc(len);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct twin_content t = { content, len };

	if (!content || p == MAP_FAILED)
		ksft_exit_fail_msg("twins: %s\n", strerror(errno));
	for (j = 0; j < len / sizeof(long); j++)
		((long *)content)[j] = random() ^ ((long)random() << 31);
	/* Written after fork: no page is shared yet. */
	start_pair(pid, p, len, fill_twin, &t);
	free(content);
	return p;
}

static void stop(pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
}

/*
 * (f) Hints that find nothing do not spoil what the linear scan finds: two
 * readers keep streaming data that exists nowhere else (a file each) into
 * mergeable buffers, so hints are always pending and never merge, while
 * two identical regions wait for the linear scan.  They merge within
 * four full scans, as without hints (the first visit of a page records
 * its checksum, the second merges it; one scan of slack): hinted pages
 * that change at once do not join the unstable tree, whose order they
 * would break.
 */
static void test_nothing_found(void)
{
	struct reader_stats *st = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long scans, visited = knob("io_hints_pages_visited");
	pid_t twin[2], reader[2];
	int i, fd[2], shared = 0;
	char *data[2], *p;
	bool ok;

	if (st == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	for (i = 0; i < 2; i++) {
		fd[i] = stream_file(STREAM_PAGES, &data[i]);
		reader[i] = fork();
		if (!reader[i])
			stream_reader(fd[i], data[i], STREAM_PAGES, 0, st);
	}
	p = start_twins(IDENT_PAGES, twin);
	scans = knob("full_scans");
	for (i = 0; i < 4 && shared < IDENT_PAGES; i++) {
		if (!wait_full_scans(1))
			break;
		shared = count_shared(twin[0], p, twin[1], p, IDENT_PAGES);
	}
	stop(reader, 2);
	ksft_print_msg("twins: %d/%d merged after %ld full scans\n",
		       shared, IDENT_PAGES, knob("full_scans") - scans);
	ksft_print_msg("readers: %ld reads, %ld wrong, %ld pages hinted\n",
		       st->rounds, st->bad,
		       knob("io_hints_pages_visited") - visited);
	ok = shared == IDENT_PAGES && !st->bad && st->rounds > 0;
	stop(twin, 2);
	munmap(p, IDENT_PAGES * pagesize);
	munmap(st, pagesize);
	for (i = 0; i < 2; i++) {
		close(fd[i]);
		free(data[i]);
	}
	ksft_test_result(ok, "readers of unique data do not keep identical pages apart\n");
}

/*
 * (g) Merges of hinted pages that a read breaks at once are counted, and
 * the mm goes back to the two-visit rule; merges that last are not
 * counted.  Two readers read the same chunk of a file at about the same
 * time, so hints merge their buffers: first once, then kept (no break
 * may be counted when the linear scan finds them still merged), then a
 * new chunk into the same buffers every 400 ms.  The ballast keeps full
 * scans long, as on a host, so that hints come back to a page first.
 */
static void test_refilled(void)
{
	struct reader_stats *st = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long broken = knob("io_hints_merges_broken");
	long fallbacks = knob("io_hints_fallbacks");
	long merged = knob("io_hints_pages_merged");
	long kept_broken, kept_fallbacks;
	char *data, *buf;
	pid_t reader[2];
	double start;
	int i, fd, kept;
	bool ok;

	if (st == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	/* Hints start with their full share. */
	knob_set("io_hints", 0);
	knob_set("io_hints", 1);
	fd = stream_file(STREAM_PAGES, &data);

	/* Read once and kept: merged by hints, and nothing breaks. */
	buf = mmap(NULL, NR_PAGES * pagesize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	start_pair(reader, buf, NR_PAGES * pagesize, fill_by_pread_fd, &fd);
	kept = wait_shared(reader[0], buf, reader[1], buf, NR_PAGES,
			   MERGE_TIMEOUT, NULL);
	wait_full_scans(1);
	kept_broken = knob("io_hints_merges_broken") - broken;
	kept_fallbacks = knob("io_hints_fallbacks") - fallbacks;
	stop(reader, 2);
	munmap(buf, NR_PAGES * pagesize);
	ksft_print_msg("kept buffers: %d/%d merged, broken %ld, fallbacks %ld\n",
		       kept, NR_PAGES, kept_broken, kept_fallbacks);

	/* Read into again and again. */
	broken = knob("io_hints_merges_broken");
	fallbacks = knob("io_hints_fallbacks");
	start = now();
	for (i = 0; i < 2; i++) {
		reader[i] = fork();
		if (!reader[i])
			stream_reader(fd, data, STREAM_PAGES, 400, st);
	}
	while (knob("io_hints_fallbacks") == fallbacks && now() - start < 60)
		usleep(100000);
	/* A few more rounds with the fallback in place, reads checked. */
	usleep(2000000);
	stop(reader, 2);
	broken = knob("io_hints_merges_broken") - broken;
	fallbacks = knob("io_hints_fallbacks") - fallbacks;
	ksft_print_msg("refilled buffers: %ld reads, %ld wrong, in %.1fs\n",
		       st->rounds, st->bad, now() - start);
	ksft_print_msg("hinted merges %ld, broken %ld, fallbacks %ld\n",
		       knob("io_hints_pages_merged") - merged, broken,
		       fallbacks);
	ok = kept == NR_PAGES && !kept_broken && !kept_fallbacks &&
	     broken > 0 && fallbacks > 0 && !st->bad && st->rounds > 0;
	munmap(st, pagesize);
	close(fd);
	free(data);
	ksft_test_result(ok, "merges a read breaks at once are counted, the mm falls back\n");
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
 * The index ksmd keeps of a hinted process's rmap_items (a maple tree,
 * 16 to 32 bytes per page) is charged to the process's memory cgroup,
 * not to ksmd's: a child in a cgroup of its own reads NR_CHARGED pages
 * into mergeable memory, and once ksmd indexed them the cgroup's slab
 * grew by at least 8 bytes per page; the cgroup can be removed after the
 * child exits.
 */
static void test_memcg_index(void)
{
	size_t len = NR_CHARGED * pagesize, off;
	int go[2], ready[2], status, fd, i;
	long slab0, slab = -1, grown = 0;
	long want = NR_CHARGED * 8L;
	char *data, c;
	double start;
	pid_t pid;
	bool ok;

	if (file_write("/sys/fs/cgroup/cgroup.subtree_control", "+memory") ||
	    (mkdir(CG_DIR, 0755) && errno != EEXIST)) {
		ksft_test_result_skip("no memory cgroup: %s\n", strerror(errno));
		return;
	}
	fd = stream_file(NR_CHARGED, &data);
	if (pipe(go) || pipe(ready))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		char buf[16], *p;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(buf, sizeof(buf), "%d", getpid());
		if (file_write(CG_DIR "/cgroup.procs", buf))
			_exit(1);
		p = map_mergeable(NR_CHARGED);
		if (write(ready[1], "x", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		for (off = 0; off < len; off += NR_PAGES * pagesize)
			if (pread(fd, p + off, NR_PAGES * pagesize, off) !=
			    (ssize_t)(NR_PAGES * pagesize))
				_exit(3);
		if (memcmp(p, data, len))
			_exit(4);
		if (write(ready[1], "x", 1) != 1)
			_exit(5);
		pause();
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ok = read(ready[0], &c, 1) == 1;
	/* memcg statistics are flushed every 2 seconds at the latest. */
	usleep(2500000);
	slab0 = stat_value(CG_DIR "/memory.stat", "slab");
	ok &= write(go[1], "x", 1) == 1 && read(ready[0], &c, 1) == 1;
	/* The linear scan's rmap_items join the index of a hinted mm too. */
	ok &= wait_full_scans(3);
	for (start = now(); now() - start < 5; usleep(100000)) {
		slab = stat_value(CG_DIR "/memory.stat", "slab");
		grown = slab - slab0;
		if (grown >= want)
			break;
	}
	ksft_print_msg("memcg index: cgroup slab %ld -> %ld (+%ld, want %ld)\n",
		       slab0, slab, grown, want);
	ok &= slab0 >= 0 && grown >= want;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ok &= WIFSIGNALED(status);
	/* The exit frees the index: the charge goes with it. */
	for (start = now(); now() - start < 5; usleep(100000))
		if (stat_value(CG_DIR "/memory.stat", "slab") < slab - want)
			break;
	ksft_print_msg("memcg index: after exit, cgroup slab %ld\n",
		       stat_value(CG_DIR "/memory.stat", "slab"));
	ok &= stat_value(CG_DIR "/memory.stat", "slab") < slab - want;
	for (i = 0; i < 50 && rmdir(CG_DIR); i++)
		usleep(100000);
	ok &= access(CG_DIR, F_OK) != 0;
	close(fd);
	free(data);
	close(go[1]);
	close(ready[0]);
	ksft_test_result(ok, "index of a hinted process charged to its memory cgroup\n");
}

int main(void)
{
	size_t i;
	int p;

	ksft_print_header();
	pagesize = getpagesize();
	if (getuid())
		ksft_exit_skip("needs root\n");
	if (access(KSM_DIR "io_hints", F_OK))
		ksft_exit_skip("kernel without KSM I/O hints\n");
	ksft_set_plan(7 + NR_PATHS * 2);

	for (i = 0; i < ARRAY_SIZE(saved_knobs); i++)
		if (knob_read_str(saved_knobs[i], saved_values[i],
				  sizeof(saved_values[i])))
			saved_values[i][0] = 0;
	main_pid = getpid();
	atexit(cleanup);
	srandom(getpid());

	snprintf(file_path, sizeof(file_path), "/tmp/ksm_hints_XXXXXX");
	file_fd = mkstemp(file_path);
	file_data = malloc(NR_PAGES * pagesize);
	if (file_fd < 0 || !file_data)
		ksft_exit_fail_msg("test file: %s\n", strerror(errno));
	refill_file();
	setup_loop();

	knob_set("run", 1);
	knob_set("pages_to_scan", 100);
	knob_set("sleep_millisecs", 20);
	knob_set("io_hints", 1);
	knob_set("io_hints_scan_percent", 50);

	test_knobs();
	test_stale();

	start_ballast();
	for (p = 0; p < NR_PATHS; p++) {
		test_path(p, false, false);
		test_path(p, true, false);
	}
	/* Merging a hinted page of a THP splits it under ksmd. */
	test_path(P_PREAD64, false, true);
	test_speed();
	test_refilled();
	stop_ballast();
	test_nothing_found();
	test_memcg_index();

	ksft_finished();
}
