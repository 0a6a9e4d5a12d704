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
 * the CSV until tail_s after the last event, then every process rebuilds
 * the recorded final RAM from the snapshots alone and compares its memory
 * with it byte for byte.
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

#define PAGE 4096UL
#define MAX_GUESTS 8
#define MAX_PROCS 64
#define MAX_FILES 256

static const char *trace_dir, *csv_path = "replay.csv", *image_override;
static double speed = 1, delay_s = 5, tail_s = 30;
static int replicas = 1, interval_ms = 1000;
static int huge = 1;	/* MADV_HUGEPAGE, as QEMU asks for guest RAM; -N: not */
static int nr_guests;
static unsigned long mem_mib;

/* The whole of a file, or NULL if it does not exist. */
static void *slurp(const char *path, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY);

	*len = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st))
		die(path);
	*len = st.st_size;
	p = st.st_size ? mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	if (p == MAP_FAILED)
		die(path);
	close(fd);
	return p;
}

/* Recorded file @path, found where the trace says or in the trace's dir. */
static int open_file(const char *path, const char *gdir, int direct)
{
	const char *base = strrchr(path, '/');
	char alt[PATH_MAX];
	int flags = O_RDONLY | (direct ? O_DIRECT : 0), fd;

	base = base ? base + 1 : path;
	if (image_override && !strcmp(base, "root.img"))
		return open(image_override, flags);
	snprintf(alt, sizeof(alt), "%s/%s", gdir, base);
	fd = open(alt, flags);
	if (fd < 0)
		fd = open(path, flags);
	return fd;
}

struct snap_iter {
	const unsigned char *p, *end;
	const struct ksmtrace_snap *h;
	const uint32_t *pages;
	const void *z;
};

/* 1: the next snapshot, 0: the end, -1: a damaged file */
static int snap_next(struct snap_iter *it)
{
	if (it->p == it->end)
		return 0;
	if (it->p + sizeof(*it->h) > it->end)
		return -1;
	it->h = (const void *)it->p;
	if (it->h->magic != KSMTRACE_SNAP_MAGIC ||
	    it->h->nr_pages > (mem_mib << 20) / PAGE)
		return -1;
	it->pages = (const void *)(it->p + sizeof(*it->h));
	it->z = it->pages + it->h->nr_pages;
	it->p = (const unsigned char *)it->z + it->h->zlen;
	return it->p <= it->end ? 1 : -1;
}

/* Decompress the pages of snapshot @it into @buf; 0 on success. */
static int snap_pages(const struct snap_iter *it, void *buf)
{
	size_t n = ZSTD_decompress(buf, it->h->nr_pages * PAGE, it->z, it->h->zlen);

	return ZSTD_isError(n) || n != it->h->nr_pages * PAGE ? -1 : 0;
}

/* The first event time of guest @gdir (reads and snapshots), ns. */
static uint64_t first_ns(const char *gdir)
{
	char path[PATH_MAX];
	const struct ksmtrace_read *r;
	struct snap_iter it = { 0 };
	uint64_t t = UINT64_MAX;
	size_t len, slen;

	snprintf(path, sizeof(path), "%s/reads.bin", gdir);
	r = slurp(path, &len);
	if (len >= sizeof(*r))
		t = r[0].t_ns;
	snprintf(path, sizeof(path), "%s/snaps.bin", gdir);
	it.p = slurp(path, &slen);
	it.end = it.p + slen;
	if (snap_next(&it) == 1 && it.h->t_ns < t)
		t = it.h->t_ns;
	if (r)
		munmap((void *)r, len);
	if (it.h)
		munmap((void *)(it.end - slen), slen);
	return t;
}

/*
 * Replay guest @gdir into fresh mergeable memory from @start (seconds on
 * the monotonic clock, the recording's t0); report "done" on @done_fd,
 * wait for a byte on @go_fd, then check the memory.  Exit status: 0 if it
 * equals the recorded final RAM, 1 if not, 2 on errors.
 */
static int replay(const char *gdir, uint64_t t0_ns, double start,
		  int done_fd, int go_fd)
{
	size_t bytes = mem_mib << 20, rlen, slen, nreads, ri = 0, i;
	int fds[MAX_FILES][2], nfiles = 0;
	char path[PATH_MAX], line[PATH_MAX + 16], c;
	const struct ksmtrace_read *reads;
	unsigned char *mem, *buf, *snaps;
	int more;
	struct snap_iter it = { 0 };
	unsigned long written = 0, nread = 0, bad = 0;
	uint64_t last_sum = 0;
	FILE *files;

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
	memset(fds, -1, sizeof(fds));
	snprintf(path, sizeof(path), "%s/files.txt", gdir);
	files = fopen(path, "r");
	while (files && fgets(line, sizeof(line), files)) {
		int id;
		char fpath[PATH_MAX];

		if (sscanf(line, "%d %4095s", &id, fpath) != 2 || id < 0 || id >= MAX_FILES)
			continue;
		fds[id][0] = open_file(fpath, gdir, 0);
		fds[id][1] = open_file(fpath, gdir, 1);
		if (fds[id][0] < 0) {
			fprintf(stderr, "ksm_replay: %s: cannot open %s\n", gdir, fpath);
			return 2;
		}
		if (id >= nfiles)
			nfiles = id + 1;
	}
	if (files)
		fclose(files);
	snprintf(path, sizeof(path), "%s/reads.bin", gdir);
	reads = slurp(path, &rlen);
	nreads = rlen / sizeof(*reads);
	snprintf(path, sizeof(path), "%s/snaps.bin", gdir);
	snaps = slurp(path, &slen);
	it.p = snaps;
	it.end = snaps + slen;
	if (snap_next(&it) != 1) {
		fprintf(stderr, "ksm_replay: %s: no snapshot\n", gdir);
		return 2;
	}

	for (;;) {
		int is_read = ri < nreads &&
			      (!it.h || reads[ri].t_ns <= it.h->t_ns);
		uint64_t t_ns;
		double due;

		if (ri >= nreads && !it.h)
			break;
		t_ns = is_read ? reads[ri].t_ns : it.h->t_ns;
		due = start + (t_ns > t0_ns ? (t_ns - t0_ns) / 1e9 : 0) / speed;
		if (due > now())
			usleep((due - now()) * 1e6);
		if (is_read) {
			const struct ksmtrace_read *r = &reads[ri++];
			int direct = !!(r->flags & KSMTRACE_DIRECT);
			int fd = r->file < nfiles ? fds[r->file][direct] : -1;
			struct iovec iov;

			if (fd < 0 && r->file < nfiles)
				fd = fds[r->file][0];
			ssize_t n;

			if (fd < 0 || r->len > bytes || r->gpa > bytes - r->len) {
				fprintf(stderr, "ksm_replay: %s: bad read record\n", gdir);
				return 2;
			}
			iov.iov_base = mem + r->gpa;
			iov.iov_len = r->len;
			n = preadv(fd, &iov, 1, r->offset);
			/* O_DIRECT needs alignment QEMU may not have had to give */
			if (n < 0 && errno == EINVAL && fd != fds[r->file][0])
				n = preadv(fds[r->file][0], &iov, 1, r->offset);
			if (n != (ssize_t)r->len) {
				fprintf(stderr, "ksm_replay: %s: read of %u bytes at %llu: %zd\n",
					gdir, r->len, (unsigned long long)r->offset, n);
				return 2;
			}
			nread += r->len;
		} else {
			if (snap_pages(&it, buf)) {
				fprintf(stderr, "ksm_replay: %s: bad snapshot\n", gdir);
				return 2;
			}
			/* What differs is what the guest wrote, not a read. */
			for (i = 0; i < it.h->nr_pages; i++) {
				unsigned char *dst = mem + (size_t)it.pages[i] * PAGE;

				if (it.pages[i] >= bytes / PAGE)
					continue;
				if (memcmp(dst, buf + i * PAGE, PAGE)) {
					memcpy(dst, buf + i * PAGE, PAGE);
					written++;
				}
			}
			last_sum = it.h->checksum;
			madvise(buf, bytes, MADV_DONTNEED);
			more = snap_next(&it);
			if (more < 0) {
				fprintf(stderr, "ksm_replay: %s: damaged snapshots\n", gdir);
				return 2;
			}
			if (!more)
				it.h = NULL;
		}
	}
	{
		uint64_t msg[2] = { nread >> 12, written };

		/* One write of 16 bytes: atomic on a pipe. */
		if (write(done_fd, msg, sizeof(msg)) != sizeof(msg) ||
		    read(go_fd, &c, 1) != 1)
			return 2;
	}

	/* The recorded final RAM, from the snapshots alone. */
	{
		unsigned char *want = buf, *pg = malloc(bytes);

		if (!pg)
			die("malloc");
		memset(want, 0, bytes);
		it.p = snaps;
		while ((more = snap_next(&it)) == 1) {
			if (snap_pages(&it, pg))
				return 2;
			for (i = 0; i < it.h->nr_pages; i++)
				if (it.pages[i] < bytes / PAGE)
					memcpy(want + (size_t)it.pages[i] * PAGE,
					       pg + i * PAGE, PAGE);
		}
		if (more < 0)
			return 2;
		if (XXH64(want, bytes, 0) != last_sum)
			fprintf(stderr, "ksm_replay: %s: snapshots do not add up to the last checksum\n", gdir);
		for (i = 0; i < bytes / PAGE; i++)
			if (memcmp(mem + i * PAGE, want + i * PAGE, PAGE))
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
	char path[PATH_MAX], line[256], gdirs[MAX_GUESTS][PATH_MAX];
	uint64_t t0_ns = UINT64_MAX;
	unsigned long reads_pages = 0, written = 0;
	double start, cpu0, last_event = 0, t = 0, max_saved = 0;
	FILE *manifest, *csv;

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
	snprintf(path, sizeof(path), "%s/manifest.txt", trace_dir);
	manifest = fopen(path, "r");
	if (!manifest)
		die(path);
	while (fgets(line, sizeof(line), manifest)) {
		if (!strncmp(line, "guests=", 7))
			nr_guests = atoi(line + 7);
		else if (!strncmp(line, "mem_mib=", 8))
			mem_mib = strtoul(line + 8, NULL, 10);
	}
	fclose(manifest);
	if (nr_guests < 1 || nr_guests > MAX_GUESTS || !mem_mib ||
	    nr_guests * replicas > MAX_PROCS) {
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
	fprintf(csv, "t_s,pages_sharing,pages_shared,ksm_zero_pages,patch_bytes_saved,cold_bytes_saved,zswapped_kib,zswap_kib,anon_kib,ksmd_cpu_ms,patch_pages,patch_bytes\n");
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
			double saved;

			t = now() - start;
			fprintf(csv, "%.1f,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%.0f,%ld,%ld\n",
				t, sharing, knob("pages_shared"), zero, psaved,
				csaved, meminfo_kb("Zswapped"),
				meminfo_kb("Zswap"), meminfo_kb("AnonPages"),
				ksmd_cpu_ms() - cpu0, knob_or_0("patch_pages"),
				knob_or_0("patch_bytes"));
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
	printf("RESULT procs=%d mem_mib=%lu speed=%g replay_s=%.1f end_s=%.1f pages_read=%lu pages_written=%lu max_saved_kib=%.0f ksmd_cpu_ms=%.0f data=%s\n",
	       nprocs, mem_mib, speed, last_event, t, reads_pages, written,
	       max_saved, ksmd_cpu_ms() - cpu0, failed ? "CORRUPT" : "ok");
	return failed ? 1 : 0;
}
