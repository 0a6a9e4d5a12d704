// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM merge domains: with merge_domains=prctl, pages merge only with pages
 * of processes in the same domain (prctl(PR_SET_KSM_DOMAIN)), also when
 * I/O hints bring them to ksmd; with "none", as stock KSM, everyone is in
 * one domain.
 *
 * Merging is told apart by the page frames /proc/PID/pagemap gives: the
 * probe an attacker would make.  (The KSM flag of /proc/kpageflags cannot
 * tell: this kernel sets it for every anonymous page.)  Every process
 * reads its memory back byte for byte, before and after writing to it.
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/prctl.h>

#include "../kselftest.h"
#include "vm_util.h"

#ifndef PR_SET_KSM_DOMAIN
#define PR_SET_KSM_DOMAIN	0x4b534d44
#define PR_KSM_DOMAIN_NEW	0
#define PR_KSM_DOMAIN_JOIN	1
#define PR_GET_KSM_DOMAIN	0x4b534d45
#endif

#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define NR_PAGES	256		/* pages per process */
#define MERGE_TIMEOUT	120		/* seconds */
#define PRIVATE		0x8000000000000000ULL	/* PR_KSM_DOMAIN_NEW's first */

static size_t pagesize;
static pid_t main_pid;
static char file_path[64];
static int file_fd = -1;

/* ---------------------------------------------------------------- knobs */

static const char * const saved_knobs[] = {
	"run", "pages_to_scan", "sleep_millisecs", "io_hints",
	"merge_domains", "smart_scan", "cold_compress",
};

static char saved_values[ARRAY_SIZE(saved_knobs)][64];

static int knob_write(const char *name, const char *val)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
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

static void knob_set(const char *name, const char *val)
{
	int err = knob_write(name, val);

	if (err)
		ksft_exit_fail_msg("writing %s to %s: %s\n", val, name,
				   strerror(-err));
}

/* The word in brackets of "[none] prctl". */
static const char *policy_now(void)
{
	static char buf[64];
	char *open, *close;

	if (knob_read_str("merge_domains", buf, sizeof(buf)))
		return "?";
	open = strchr(buf, '[');
	close = open ? strchr(open, ']') : NULL;
	if (!close)
		return "?";
	*close = 0;
	return open + 1;
}

static void restore_knobs(void)
{
	size_t i;

	/* The saved policy only takes once nothing is merged. */
	knob_write("run", "2");
	for (i = 0; i < ARRAY_SIZE(saved_knobs); i++) {
		const char *v = saved_values[i];

		if (!v[0])
			continue;
		if (!strcmp(saved_knobs[i], "merge_domains")) {
			char word[32];

			v = strchr(v, '[');
			if (!v)
				continue;
			snprintf(word, sizeof(word), "%.*s",
				 (int)strcspn(v + 1, "]"), v + 1);
			knob_write("merge_domains", word);
			continue;
		}
		if (strcmp(saved_knobs[i], "run"))
			knob_write(saved_knobs[i], v);
	}
	knob_write("run", saved_values[0]);
}

static void cleanup(void)
{
	if (getpid() != main_pid)
		return;
	if (file_fd >= 0)
		unlink(file_path);
	restore_knobs();
}

/* ---------------------------------------------------------------- tools */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

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
static int count_shared(pid_t pa, const char *a, pid_t pb, const char *b)
{
	int i, shared = 0;

	for (i = 0; i < NR_PAGES; i++) {
		unsigned long pfn = pid_pfn(pa, a + i * pagesize);

		if (pfn && pfn == pid_pfn(pb, b + i * pagesize))
			shared++;
	}
	return shared;
}

static bool wait_full_scans(int n)
{
	long target = knob("full_scans") + n;
	double start = now();

	while (knob("full_scans") < target) {
		if (now() - start > MERGE_TIMEOUT)
			return false;
		usleep(20000);
	}
	return true;
}

/* A value of /proc/PID/ksm_stat, -1 if missing. */
static long long pid_ksm_value(pid_t pid, const char *key)
{
	char path[64], line[128];
	long long val = -1;
	size_t len = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ' ')
			val = strtoull(line + len + 1, NULL, 10);
	fclose(f);
	return val;
}

static unsigned long long get_domain(void)
{
	unsigned long long d = ~0ULL;

	if (prctl(PR_GET_KSM_DOMAIN, &d, 0, 0, 0))
		return ~0ULL - 1;
	return d;
}

/* Page @i of every process: the same in all, different from page j. */
static void fill_page(char *p, int i)
{
	size_t k;

	for (k = 0; k < pagesize; k += sizeof(uint64_t)) {
		uint64_t v = (0x9e3779b97f4a7c15ULL * (i + 1)) ^ (k * 31 + 7);

		memcpy(p + k, &v, sizeof(v));
	}
}

/* ---------------------------------------------------------------- knob */

static void test_knob(void)
{
	/* (An empty write never reaches the kernel's store.) */
	static const char * const bad[] = { "\n", "nonee", "prctl2", "1",
					    "cgroup-x" };
	bool ok = true;
	size_t i;

	knob_set("run", "2");
	knob_set("merge_domains", "none");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int err = knob_write("merge_domains", bad[i]);

		if (err != -EINVAL || strcmp(policy_now(), "none")) {
			ksft_print_msg("merge_domains <- \"%s\": %s, now %s\n",
				       bad[i], strerror(-err), policy_now());
			ok = false;
		}
	}
	if (knob_write("merge_domains", "prctl\n") ||
	    strcmp(policy_now(), "prctl")) {
		ksft_print_msg("merge_domains <- prctl: now %s\n", policy_now());
		ok = false;
	}
	knob_set("run", "1");
	ksft_test_result(ok, "merge_domains rejects bad values, keeps its value\n");
}

/* ---------------------------------------------------------------- prctl */

/* Count a failed expectation of prctl_child(), with its line. */
static int expect(bool cond, int line, const char *what)
{
	if (!cond)
		ksft_print_msg("line %d: %s (errno %d)\n", line, what, errno);
	return cond;
}

#define CHECK(cond)	(ok &= expect(cond, __LINE__, #cond))

/*
 * In a child of a process in domain @d0: everything PR_SET_KSM_DOMAIN
 * takes and refuses.
 */
static int prctl_child(unsigned long long d0)
{
	unsigned long long d1, d2;
	int status, fds[2], ok = 1;
	char buf[64];
	pid_t pid;
	void *p;

	CHECK(get_domain() == d0);
	CHECK(!prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_NEW, 0, 0, 0));
	d1 = get_domain();
	CHECK(d1 >= PRIVATE);
	CHECK(!prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_NEW, 0, 0, 0));
	d2 = get_domain();
	CHECK(d2 >= PRIVATE && d2 != d1);
	/* Bad requests change nothing. */
	CHECK(prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_NEW, 5, 0, 0) == -1 &&
	      errno == EINVAL);
	CHECK(prctl(PR_SET_KSM_DOMAIN, 7, 0, 0, 0) == -1 && errno == EINVAL);
	CHECK(prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_JOIN, 5, 1, 0) == -1 &&
	      errno == EINVAL);
	/* New domains cannot be joined by name (ids >= 2^63: 64-bit). */
	if (sizeof(unsigned long) == 8)
		CHECK(prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_JOIN,
			    (unsigned long)PRIVATE, 0, 0) == -1 &&
		      errno == EINVAL);
	CHECK(prctl(PR_GET_KSM_DOMAIN, NULL, 0, 0, 0) == -1 &&
	      errno == EFAULT);
	CHECK(get_domain() == d2);
	CHECK(!prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_JOIN, 5, 0, 0));
	CHECK(get_domain() == 5);

	/* Kept across fork and execve. */
	CHECK(!pipe(fds));
	pid = fork();
	if (!pid) {
		dup2(fds[1], 1);
		execl("/proc/self/exe", "ksm_domain_tests", "--print-domain",
		      NULL);
		_exit(1);
	}
	close(fds[1]);
	memset(buf, 0, sizeof(buf));
	CHECK(read(fds[0], buf, sizeof(buf) - 1) > 0);
	close(fds[0]);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      !WEXITSTATUS(status));
	CHECK(strtoull(buf, NULL, 10) == 5);

	/* Without CAP_SYS_ADMIN: a new domain, but no joining. */
	pid = fork();
	if (!pid) {
		if (setresuid(65534, 65534, 65534))
			_exit(2);
		if (prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_JOIN, 0, 0, 0) != -1 ||
		    errno != EPERM || get_domain() != 5)
			_exit(3);
		if (prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_NEW, 0, 0, 0) ||
		    get_domain() < PRIVATE)
			_exit(4);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	CHECK(!WEXITSTATUS(status));

	/* Registered with KSM: the domain is fixed. */
	p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED && !madvise(p, pagesize, MADV_MERGEABLE));
	CHECK(prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_NEW, 0, 0, 0) == -1 &&
	      errno == EBUSY);
	CHECK(prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_JOIN, 6, 0, 0) == -1 &&
	      errno == EBUSY);
	CHECK(get_domain() == 5);
	CHECK(pid_ksm_value(getpid(), "ksm_domain") == 5);
	return !ok;
}

static void test_prctl(void)
{
	unsigned long long d0 = get_domain();
	int status;
	pid_t pid = fork();

	if (!pid)
		_exit(prctl_child(d0));
	ksft_test_result(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			 !WEXITSTATUS(status),
			 "PR_SET_KSM_DOMAIN: new, join, bad values, privilege, fork, exec, fixed once registered\n");
}

/* ---------------------------------------------------------------- merging */

struct member {
	pid_t pid;
	int go;			/* write end: tells it to check and exit */
	int done;		/* read end: its verdict */
	char *mem;		/* same address in every member */
};

/*
 * A process in domain @domain (PRIVATE: a new one) with NR_PAGES pages at
 * @mem, filled by pread from the test file if @by_read, else written.  It
 * tells its domain, waits, checks its pages, writes them and checks them
 * again.
 */
static void start_member(struct member *m, char *mem,
			 unsigned long long domain, bool by_read)
{
	int go[2], done[2];
	char c;

	if (pipe(go) || pipe(done))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	m->mem = mem;
	m->pid = fork();
	if (m->pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!m->pid) {
		char *page = malloc(pagesize);
		unsigned long long d;
		int i, bad = 0;

		close(go[1]);
		close(done[0]);
		if (domain == PRIVATE)
			bad |= prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_NEW, 0,
				     0, 0);
		else
			bad |= prctl(PR_SET_KSM_DOMAIN, PR_KSM_DOMAIN_JOIN,
				     domain, 0, 0);
		if (mmap(mem, NR_PAGES * pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != mem ||
		    madvise(mem, NR_PAGES * pagesize, MADV_NOHUGEPAGE) ||
		    madvise(mem, NR_PAGES * pagesize, MADV_MERGEABLE) || !page)
			_exit(10);
		for (i = 0; i < NR_PAGES; i++) {
			if (!by_read) {
				fill_page(mem + i * pagesize, i);
				continue;
			}
			if (pread(file_fd, mem + i * pagesize, pagesize,
				  i * pagesize) != (ssize_t)pagesize)
				_exit(11);
		}
		d = get_domain();
		if (write(done[1], &d, sizeof(d)) != sizeof(d))
			_exit(12);
		if (bad || read(go[0], &c, 1) != 1)
			_exit(13);
		for (i = 0; i < NR_PAGES; i++) {
			fill_page(page, i);
			bad += !!memcmp(mem + i * pagesize, page, pagesize);
		}
		for (i = 0; i < NR_PAGES; i++)
			mem[i * pagesize + 5] ^= 0x5a;
		for (i = 0; i < NR_PAGES; i++) {
			fill_page(page, i);
			page[5] ^= 0x5a;
			bad += !!memcmp(mem + i * pagesize, page, pagesize);
		}
		_exit(bad ? 14 : 0);
	}
	close(go[0]);
	close(done[1]);
	m->go = go[1];
	m->done = done[0];
}

/* Its domain once it is set up, or ~0 if it failed. */
static unsigned long long member_ready(struct member *m)
{
	unsigned long long d;

	if (read(m->done, &d, sizeof(d)) != sizeof(d))
		return ~0ULL;
	return d;
}

/* Let it check its memory; true if every byte was right. */
static bool member_finish(struct member *m)
{
	int status;

	if (write(m->go, "g", 1) != 1)
		kill(m->pid, SIGKILL);
	close(m->go);
	close(m->done);
	if (waitpid(m->pid, &status, 0) != m->pid || !WIFEXITED(status))
		return false;
	if (WEXITSTATUS(status))
		ksft_print_msg("member %d: exit %d\n", m->pid,
			       WEXITSTATUS(status));
	return !WEXITSTATUS(status);
}

/*
 * Three processes with the same NR_PAGES pages: A and C in domain 77, B in
 * @b_domain.  Under @policy, A and C merge; B merges with them only if it
 * is in their domain or the policy is "none".
 */
static void test_merge(const char *policy, unsigned long long b_domain,
		       bool hinted, bool try_policy)
{
	bool b_joins = !strcmp(policy, "none") || b_domain == 77;
	char *mem = mmap(NULL, NR_PAGES * pagesize, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ac, ab, bc, ok = 1, i;
	long visited0 = knob("io_hints_pages_visited");
	struct member m[3];
	double start;

	if (mem == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	knob_set("run", "2");
	knob_set("merge_domains", policy);
	knob_set("io_hints", hinted ? "1" : "0");
	knob_set("run", "1");

	start_member(&m[0], mem, 77, hinted);
	start_member(&m[1], mem, b_domain, hinted);
	start_member(&m[2], mem, 77, hinted);
	for (i = 0; i < 3; i++) {
		unsigned long long want = i == 1 ? b_domain : 77;
		unsigned long long d = member_ready(&m[i]);

		if (d == ~0ULL || (want == PRIVATE ? d < PRIVATE : d != want)) {
			ksft_print_msg("member %d: domain %llu\n", i, d);
			ok = 0;
		}
	}

	/* A and C merge; then two more full scans for B's chance. */
	start = now();
	while ((ac = count_shared(m[0].pid, mem, m[2].pid, mem)) < NR_PAGES &&
	       now() - start < MERGE_TIMEOUT)
		usleep(20000);
	if (ac < NR_PAGES)
		ksft_print_msg("A and C: %d of %d pages merged\n", ac, NR_PAGES);
	if (b_joins) {
		while (count_shared(m[0].pid, mem, m[1].pid, mem) < NR_PAGES &&
		       now() - start < MERGE_TIMEOUT)
			usleep(20000);
	}
	if (!wait_full_scans(2)) {
		ksft_print_msg("ksmd made no two full scans in %d s\n",
			       MERGE_TIMEOUT);
		ok = 0;
	}
	/* B's pages are there, and ksmd visited every one of them. */
	for (i = 0; i < NR_PAGES; i++)
		if (!pid_pfn(m[1].pid, mem + i * pagesize)) {
			ksft_print_msg("B's page %d is not present\n", i);
			ok = 0;
			break;
		}
	if (pid_ksm_value(m[1].pid, "ksm_rmap_items") < NR_PAGES) {
		ksft_print_msg("B: %lld rmap_items, fewer than its pages\n",
			       pid_ksm_value(m[1].pid, "ksm_rmap_items"));
		ok = 0;
	}
	if (hinted && knob("io_hints_pages_visited") == visited0) {
		ksft_print_msg("no hinted page was visited\n");
		ok = 0;
	}
	ab = count_shared(m[0].pid, mem, m[1].pid, mem);
	bc = count_shared(m[1].pid, mem, m[2].pid, mem);
	ksft_print_msg("%s, B in %s, %s: pages shared A-C %d, A-B %d, B-C %d\n",
		       policy, b_domain == PRIVATE ? "a new domain" :
		       b_domain == 77 ? "A's domain" : "domain 78",
		       hinted ? "read with I/O hints" : "written", ac, ab, bc);
	ksft_print_msg("B: ksm_merging_pages %lld, ksm_domain %llu\n",
		       pid_ksm_value(m[1].pid, "ksm_merging_pages"),
		       (unsigned long long)pid_ksm_value(m[1].pid, "ksm_domain"));
	if (ac != NR_PAGES)
		ok = 0;
	if (b_joins ? (ab != NR_PAGES || bc != NR_PAGES) : (ab || bc))
		ok = 0;
	if (!b_joins && pid_ksm_value(m[1].pid, "ksm_merging_pages") != 0)
		ok = 0;
	if (!strcmp(policy, "none") && pid_ksm_value(m[1].pid, "ksm_domain") != 0)
		ok = 0;

	/* KSM pages exist: the policy stays. */
	if (try_policy) {
		const char *other = strcmp(policy, "none") ? "none" : "prctl";
		int err = knob_write("merge_domains", other);

		if (err != -EBUSY || strcmp(policy_now(), policy)) {
			ksft_print_msg("merge_domains <- %s with KSM pages: %s, now %s\n",
				       other, strerror(-err), policy_now());
			ok = 0;
		}
	}
	for (i = 0; i < 3; i++)
		if (!member_finish(&m[i]))
			ok = 0;
	munmap(mem, NR_PAGES * pagesize);
	ksft_test_result(ok, "%s: B in %s, %s: %s\n", policy,
			 b_domain == PRIVATE ? "a new domain" :
			 b_domain == 77 ? "A's domain" : "another domain",
			 hinted ? "read (hints)" : "written",
			 b_joins ? "all merge" : "B merges with nobody");
}

int main(int argc, char **argv)
{
	char *data;
	size_t i;

	pagesize = getpagesize();
	if (argc > 1 && !strcmp(argv[1], "--print-domain")) {
		printf("%llu\n", get_domain());
		return 0;
	}
	ksft_print_header();
	if (getuid())
		ksft_exit_skip("needs root\n");
	if (access(KSM_DIR "merge_domains", F_OK))
		ksft_exit_skip("kernel without KSM merge domains\n");
	ksft_set_plan(7);

	for (i = 0; i < ARRAY_SIZE(saved_knobs); i++)
		if (knob_read_str(saved_knobs[i], saved_values[i],
				  sizeof(saved_values[i])))
			saved_values[i][0] = 0;
	main_pid = getpid();
	atexit(cleanup);

	/* The file the readers read: the pages fill_page() writes. */
	snprintf(file_path, sizeof(file_path), "/tmp/ksm_domain_XXXXXX");
	file_fd = mkstemp(file_path);
	data = malloc(NR_PAGES * pagesize);
	if (file_fd < 0 || !data)
		ksft_exit_fail_msg("test file: %s\n", strerror(errno));
	for (i = 0; i < NR_PAGES; i++)
		fill_page(data + i * pagesize, i);
	if (pwrite(file_fd, data, NR_PAGES * pagesize, 0) !=
	    (ssize_t)(NR_PAGES * pagesize))
		ksft_exit_fail_msg("writing %s: %s\n", file_path,
				   strerror(errno));
	free(data);

	knob_set("pages_to_scan", "1000");
	knob_set("sleep_millisecs", "10");
	/* Every page at every scan, and none pushed out while it waits. */
	knob_set("smart_scan", "0");
	knob_set("cold_compress", "0");

	test_knob();
	test_prctl();
	test_merge("prctl", 78, false, true);
	test_merge("prctl", PRIVATE, false, false);
	test_merge("prctl", 78, true, false);
	test_merge("prctl", 77, false, false);
	test_merge("none", 78, false, true);
	ksft_finished();
}
