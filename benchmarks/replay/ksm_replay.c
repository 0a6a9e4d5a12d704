// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_replay - replay a recorded guest trace (FORMAT.md) in the running
 * kernel, as QEMU guests with mem-merge=on would load it.
 *
 * usage: ksm_replay [-N] [-x speed] [-r replicas] [-d delay_s] [-i interval_ms]
 *                   [-o csv] [-I image] [-t tail_s] TRACE_DIR
 *
 * One process per recorded guest (times replicas) maps the guest's RAM as
 * anonymous MADV_MERGEABLE memory, as QEMU does with mem-merge=on, and
 * MADV_HUGEPAGE, as QEMU does for every RAM block (-N: not), then
 * replays the trace in real time divided by speed: every recorded read is
 * a real preadv(2) from the same file (O_DIRECT if QEMU's was) at the same
 * offset into the same guest-physical place, so the kernel's read paths
 * run as they did for QEMU; every snapshot writes the pages whose content
 * differs from what the replay holds (what the guest wrote itself).
 * Replica k of a guest starts k * delay_s later.  The parent samples
 * /sys/kernel/mm/ksm, /proc/meminfo and ksmd's CPU every interval_ms into
 * the CSV until tail_s after the last event (with the anonymous refaults
 * and zswap loads of its memory cgroup since the start, so that the
 * check below, which reads every page, does not count in them), then
 * every process rebuilds
 * the recorded final RAM in a private buffer (every read and snapshot at
 * once; it must have the last snapshot's checksum, taken after the guest
 * powered off) and compares its memory with it byte for byte.
 *
 * Output: the CSV, and a line "RESULT key=value ..." (see main()).
 * Exit status 0 only if every process's memory equals the recording.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

/* in a child too: no stdio buffer of the parent's */
#define ksmbench_die_exit() _exit(2)
#include "../common/ksmbench.h"
#include "ksmtrace.h"
#include "ksmtrace_guest.h"

#define PAGE 4096UL
#define MAX_GUESTS 8
#define MAX_PROCS 64

static const char *trace_dir, *csv_path = "replay.csv", *image_override;
static double speed = 1, delay_s = 5, tail_s = 30;
static int replicas = 1, interval_ms = 1000;
static int huge = 1;	/* MADV_HUGEPAGE, as QEMU asks for guest RAM; -N: not */
static int nr_guests;
static unsigned long mem_mib;

/* memory.stat of the replay's own cgroup (cgroup v2), or "" if none. */
static char cg_stat[PATH_MAX];

static void find_cgroup(void)
{
	char line[PATH_MAX - 64];
	FILE *f = fopen("/proc/self/cgroup", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(cg_stat, sizeof(cg_stat), "/sys/fs/cgroup%s/memory.stat",
			 strcmp(line + 3, "/") ? line + 3 : "");
		if (access(cg_stat, R_OK))
			cg_stat[0] = 0;
		break;
	}
	if (f)
		fclose(f);
}

/* Counter @key of the cgroup's memory.stat, or -1 if there is none. */
static long cg_counter(const char *key)
{
	return cg_stat[0] ? keyed_value(cg_stat, key, ' ', -1) : -1;
}

/* The first event time of guest @gdir (reads and snapshots), ns. */
static uint64_t first_ns(const char *gdir)
{
	struct ksmtrace_guest g;
	uint64_t t = UINT64_MAX;

	if (ksmtrace_guest_open(&g, gdir, mem_mib << 20, image_override))
		return t;
	if (ksmtrace_guest_rewind(&g) >= 0) {
		if (g.nreads)
			t = g.reads[0].t_ns;
		if (g.it.h && g.it.h->t_ns < t)
			t = g.it.h->t_ns;
	}
	ksmtrace_guest_close(&g);
	return t;
}

/*
 * Replay guest @gdir into fresh mergeable memory from @start (seconds on
 * the monotonic clock, the recording's t0); report "done" on @done_fd,
 * wait for a byte on @go_fd, then check the memory against the recorded
 * final RAM (every read and snapshot applied at once, its checksum that
 * of the last snapshot, taken after the guest powered off).  Exit status:
 * 0 if it is equal, 1 if not, 2 on errors.
 */
static int replay(const char *gdir, uint64_t t0_ns, double start,
		  int done_fd, int go_fd)
{
	size_t bytes = mem_mib << 20, i;
	unsigned long written = 0, nread = 0, bad = 0;
	const struct ksmtrace_read *r;
	struct ksmtrace_guest g;
	unsigned char *mem, *buf;
	uint64_t sum;
	long n;
	char c;

	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest RAM");
	if (madvise(mem, bytes, MADV_MERGEABLE))
		die("madvise(MADV_MERGEABLE)");
	/* QEMU's ram_block_add() asks for huge pages for every RAM block. */
	if (huge && madvise(mem, bytes, MADV_HUGEPAGE))
		die("madvise(MADV_HUGEPAGE)");
	/* Dropped after each snapshot: not counted as the guest's memory. */
	buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	if (ksmtrace_guest_open(&g, gdir, bytes, image_override))
		return 2;
	if (ksmtrace_guest_rewind(&g) != 1) {
		fprintf(stderr, "ksm_replay: %s: no snapshot\n", gdir);
		return 2;
	}
	while (ksmtrace_next_event(&g, &r)) {
		uint64_t t_ns = r ? r->t_ns : g.it.h->t_ns;
		double due = start + (t_ns > t0_ns ? (t_ns - t0_ns) / 1e9 : 0) / speed;

		if (due > now())
			usleep((due - now()) * 1e6);
		if (r) {
			if (ksmtrace_do_read(&g, r, mem, 0))
				return 2;
			nread += r->len;
			continue;
		}
		n = ksmtrace_apply_snap(&g, mem, buf, NULL);
		if (n < 0)
			return 2;
		written += n;
		madvise(buf, bytes, MADV_DONTNEED);
	}
	{
		uint64_t msg[2] = { nread >> 12, written };

		/* One write of 16 bytes: atomic on a pipe. */
		if (write(done_fd, msg, sizeof(msg)) != sizeof(msg) ||
		    read(go_fd, &c, 1) != 1)
			return 2;
	}

	/* The recorded final RAM, rebuilt in @buf. */
	{
		unsigned char *pg = malloc(bytes);

		if (!pg)
			die("malloc");
		if (ksmtrace_final_ram(&g, buf, pg, &sum))
			return 2;
		free(pg);
		if (XXH64(buf, bytes, 0) != sum) {
			fprintf(stderr, "ksm_replay: %s: the trace does not add up to the final checksum\n",
				gdir);
			return 2;
		}
		for (i = 0; i < bytes / PAGE; i++)
			if (memcmp(mem + i * PAGE, buf + i * PAGE, PAGE))
				bad++;
	}
	if (bad)
		fprintf(stderr, "ksm_replay: %s: %lu pages differ from the recording\n", gdir, bad);
	return bad ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ksm_replay [-N] [-x speed] [-r replicas] [-d delay_s] [-i interval_ms]\n"
			"                  [-o csv] [-I image] [-t tail_s] TRACE_DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int done[2], go[2], opt, g, k, nprocs, status, failed = 0, finished = 0;
	pid_t pids[MAX_PROCS];
	char gdirs[MAX_GUESTS][PATH_MAX];
	uint64_t t0_ns = UINT64_MAX;
	unsigned long reads_pages = 0, written = 0;
	double start, cpu0, last_event = 0, t = 0, max_saved = 0, cpu = 0;
	long refault0, zswpin0, refaults = -1, zswpins = -1;
	FILE *csv;

	while ((opt = getopt(argc, argv, "Nx:r:d:i:o:I:t:")) != -1) {
		switch (opt) {
		case 'N':
			huge = 0;
			break;
		case 'x':
			speed = atof(optarg);
			break;
		case 'r':
			replicas = atoi(optarg);
			break;
		case 'd':
			delay_s = atof(optarg);
			break;
		case 'i':
			interval_ms = atoi(optarg);
			break;
		case 'o':
			csv_path = optarg;
			break;
		case 'I':
			image_override = optarg;
			break;
		case 't':
			tail_s = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || speed <= 0 || replicas < 1 || delay_s < 0 ||
	    interval_ms < 10 || tail_s < 0)
		usage();
	trace_dir = argv[optind];
	if (ksmtrace_manifest(trace_dir, &nr_guests, &mem_mib) ||
	    nr_guests > MAX_GUESTS || nr_guests * replicas > MAX_PROCS) {
		fprintf(stderr, "ksm_replay: bad manifest or too many processes\n");
		return 2;
	}
	nprocs = nr_guests * replicas;
	for (g = 0; g < nr_guests; g++) {
		uint64_t f;

		snprintf(gdirs[g], sizeof(gdirs[g]), "%s/g%d", trace_dir, g);
		f = first_ns(gdirs[g]);
		if (f < t0_ns)
			t0_ns = f;
	}
	if (pipe(done) || pipe(go))
		die("pipe");
	csv = fopen(csv_path, "w");
	if (!csv)
		die(csv_path);
	fprintf(csv, "t_s,pages_sharing,pages_shared,ksm_zero_pages,patch_bytes_saved,cold_bytes_saved,zswapped_kib,zswap_kib,anon_kib,ksmd_cpu_ms,patch_pages,patch_bytes,swapcached_kib,refaults,zswpin\n");
	find_cgroup();
	refault0 = cg_counter("workingset_refault_anon");
	zswpin0 = cg_counter("zswpin");
	cpu0 = ksmd_cpu_ms();
	start = now() + 1;
	signal(SIGPIPE, SIG_IGN);
	fflush(NULL);
	for (k = 0; k < replicas; k++) {
		for (g = 0; g < nr_guests; g++) {
			pid_t pid = fork();

			if (pid < 0)
				die("fork");
			if (!pid) {
				close(done[0]);
				close(go[1]);
				_exit(replay(gdirs[g], t0_ns, start + k * delay_s,
					     done[1], go[0]));
			}
			pids[k * nr_guests + g] = pid;
		}
	}
	close(done[1]);
	close(go[0]);

	/* Sample until every process is done, then tail_s more. */
	{
		fd_set rs;

		for (;;) {
			struct timeval tv = { 0, interval_ms * 1000 };
			long psaved = knob("patch_bytes_saved"), csaved = knob("cold_bytes_saved");
			long sharing = knob("pages_sharing"), zero = knob("ksm_zero_pages");
			long rf = cg_counter("workingset_refault_anon");
			long zi = cg_counter("zswpin");
			double saved;

			refaults = rf >= 0 && refault0 >= 0 ? rf - refault0 : -1;
			zswpins = zi >= 0 && zswpin0 >= 0 ? zi - zswpin0 : -1;
			t = now() - start;
			cpu = ksmd_cpu_ms() - cpu0;
			fprintf(csv, "%.1f,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%.0f,%ld,%ld,%ld,%ld,%ld\n",
				t, sharing, knob("pages_shared"), zero, psaved,
				csaved, meminfo_kb("Zswapped"),
				meminfo_kb("Zswap"), meminfo_kb("AnonPages"),
				cpu, knob_or_0("patch_pages"),
				knob_or_0("patch_bytes"), meminfo_kb("SwapCached"),
				refaults, zswpins);
			fflush(csv);
			saved = (sharing + (zero > 0 ? zero : 0)) * 4.0 +
				(psaved > 0 ? psaved / 1024.0 : 0) +
				(csaved > 0 ? csaved / 1024.0 : 0);
			if (saved > max_saved)
				max_saved = saved;
			if (finished == nprocs && t >= last_event + tail_s)
				break;
			FD_ZERO(&rs);
			FD_SET(done[0], &rs);
			while (finished < nprocs &&
			       select(done[0] + 1, &rs, NULL, NULL, &tv) > 0) {
				uint64_t msg[2];

				if (read(done[0], msg, sizeof(msg)) != sizeof(msg)) {
					fprintf(stderr, "ksm_replay: a process failed\n");
					failed = nprocs;
					break;
				}
				reads_pages += msg[0];
				written += msg[1];
				if (++finished == nprocs)
					last_event = now() - start;
				FD_ZERO(&rs);
				FD_SET(done[0], &rs);
			}
			if (failed)
				break;
			/* A child that died before it reported: give up. */
			for (g = 0; g < nprocs && finished < nprocs; g++) {
				if (pids[g] > 0 &&
				    waitpid(pids[g], &status, WNOHANG) == pids[g]) {
					fprintf(stderr, "ksm_replay: process %d ended early (status %#x)\n",
						g, status);
					pids[g] = -1;
					failed++;
				}
			}
			if (failed)
				break;
			if (tv.tv_sec || tv.tv_usec)
				usleep(tv.tv_sec * 1000000 + tv.tv_usec);
		}
	}
	fclose(csv);
	/*
	 * One check at a time: each holds its memory and the rebuilt final
	 * RAM.  The first to read "go" checks; the others wait for theirs.
	 */
	for (g = 0; g < nprocs && !failed; g++) {
		if (write(go[1], "g", 1) != 1 || wait(&status) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	if (failed)
		for (g = 0; g < nprocs; g++)
			if (pids[g] > 0)
				kill(pids[g], SIGKILL);
	while (wait(&status) > 0)
		;
	/* ksmd's CPU until end_s, and with the check (which it may scan). */
	printf("RESULT procs=%d mem_mib=%lu speed=%g replay_s=%.1f end_s=%.1f pages_read=%lu pages_written=%lu max_saved_kib=%.0f ksmd_cpu_ms=%.0f ksmd_cpu_ms_with_check=%.0f refaults=%ld zswpin=%ld data=%s\n",
	       nprocs, mem_mib, speed, last_event, t, reads_pages, written,
	       max_saved, cpu, ksmd_cpu_ms() - cpu0, refaults, zswpins,
	       failed ? "CORRUPT" : "ok");
	return failed ? 1 : 0;
}
