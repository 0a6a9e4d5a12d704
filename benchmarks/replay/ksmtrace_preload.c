// SPDX-License-Identifier: GPL-2.0
/*
 * ksmtrace_preload.so - LD_PRELOAD'ed into a QEMU process whose guest RAM
 * is a shared file (memory-backend-file,mem-path=$KSMTRACE_RAM,share=on),
 * records every read(2)-family call that writes into guest RAM: when it
 * returned, which file, at which offset, to which guest-physical address,
 * how many bytes, and whether the file was opened O_DIRECT.
 *
 * Environment:
 *   KSMTRACE_RAM   path of the guest's RAM backend file (required)
 *   KSMTRACE_OUT   directory for reads.bin and files.txt (required)
 *
 * Output, appended:
 *   reads.bin  struct ksmtrace_read records (see ksmtrace.h), one per
 *              contiguous piece of a read that landed in guest RAM;
 *   files.txt  "ID PATH" for every file a record names.
 * Records are written with one write(2) each on an O_APPEND file, so
 * QEMU's I/O threads never interleave them.  QEMU with aio=threads (the
 * default) reads with preadv()/pread(); aio=native and aio=io_uring are
 * not traced: record with aio=threads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../common/ksmbench.h"
#include "ksmtrace.h"

#define MAX_FILES 256
#define MAX_FDS 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int out_fd = -1, files_fd = -1, disabled;
static uintptr_t ram_start, ram_end;	/* host mapping of guest RAM */
static uint64_t ram_off;		/* file offset at ram_start */
static char *file_paths[MAX_FILES];
static int nr_files;
/* fd -> file id + 1 (0: unknown), O_DIRECT flag in bit 16 */
static int fd_ids[MAX_FDS];

static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_preadv)(int, const struct iovec *, int, off_t);
static ssize_t (*real_preadv2)(int, const struct iovec *, int, off_t, int);

/*
 * Find the mapping of KSMTRACE_RAM in /proc/self/maps, by device and inode
 * (its path may be shown through a symlink, or as deleted); lock held.
 * Gives up for good after a few tries, with a message.
 */
static int find_ram(void)
{
	const char *ram = getenv("KSMTRACE_RAM");
	char line[PATH_MAX + 128];
	static int tries;
	struct stat st;
	FILE *maps;

	if (!ram || stat(ram, &st))
		goto fail;
	maps = fopen("/proc/self/maps", "r");
	if (!maps)
		goto fail;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end, off, ino;
		unsigned int maj, mnr;

		if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &off,
			   &maj, &mnr, &ino) != 6 ||
		    ino != st.st_ino || makedev(maj, mnr) != st.st_dev)
			continue;
		/* The largest mapping is guest RAM. */
		if (end - start > ram_end - ram_start) {
			ram_start = start;
			ram_end = end;
			ram_off = off;
		}
	}
	fclose(maps);
	if (ram_end > ram_start)
		return 0;
fail:
	if (++tries == 100) {
		fprintf(stderr, "ksmtrace: no mapping of KSMTRACE_RAM found: not recording\n");
		disabled = 1;
	}
	return -1;
}

/* Open the output files; lock held. */
static int setup(void)
{
	const char *dir = getenv("KSMTRACE_OUT");
	char path[PATH_MAX];

	if (out_fd >= 0)
		return 0;
	if (disabled || !dir)
		goto fail;
	snprintf(path, sizeof(path), "%s/reads.bin", dir);
	out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	snprintf(path, sizeof(path), "%s/files.txt", dir);
	files_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out_fd >= 0 && files_fd >= 0)
		return 0;
fail:
	disabled = 1;
	return -1;
}

/* The id of the file @fd reads from, and whether it is O_DIRECT; lock held. */
static int file_id(int fd, int *direct)
{
	char link[64], path[PATH_MAX], line[PATH_MAX + 16];
	ssize_t n;
	int i, fl;

	fl = fcntl(fd, F_GETFL);
	*direct = fl >= 0 && (fl & O_DIRECT);
	if (fd >= 0 && fd < MAX_FDS && fd_ids[fd])
		return fd_ids[fd] - 1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return -1;
	path[n] = 0;
	for (i = 0; i < nr_files; i++)
		if (!strcmp(file_paths[i], path))
			break;
	if (i == nr_files) {
		if (nr_files == MAX_FILES)
			return -1;
		file_paths[i] = strdup(path);
		if (!file_paths[i])
			return -1;
		nr_files++;
		n = snprintf(line, sizeof(line), "%d %s\n", i, path);
		if (write(files_fd, line, n) != n)
			disabled = 1;
	}
	/* fds are reused for other files: cache only while open (see close) */
	if (fd >= 0 && fd < MAX_FDS)
		fd_ids[fd] = i + 1;
	return i;
}

/* Record the @done bytes a read at @off put into @iov. */
static void record(int fd, const struct iovec *iov, int iovcnt, off_t off,
		   ssize_t done)
{
	struct ksmtrace_read r = { 0 };
	int i, id, direct, err = errno;
	uint64_t t;

	if (done <= 0 || disabled)
		return;
	pthread_mutex_lock(&lock);
	/* Stamped under the lock: reads.bin stays in time order. */
	t = now_ns();
	if (setup() || (!ram_end && find_ram()))
		goto out;
	for (i = 0; i < iovcnt && done > 0; i++) {
		uintptr_t base = (uintptr_t)iov[i].iov_base;
		size_t len = iov[i].iov_len < (size_t)done ? iov[i].iov_len : (size_t)done;

		if (base >= ram_start && base + len <= ram_end) {
			id = file_id(fd, &direct);
			if (id < 0)
				goto out;
			r.t_ns = t;
			r.offset = off;
			r.gpa = base - ram_start + ram_off;
			r.len = len;
			r.file = id;
			r.flags = direct ? KSMTRACE_DIRECT : 0;
			if (write(out_fd, &r, sizeof(r)) != sizeof(r))
				disabled = 1;
		}
		off += len;
		done -= len;
	}
out:
	pthread_mutex_unlock(&lock);
	errno = err;
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		fprintf(stderr, "ksmtrace: no %s\n", name);
		abort();
	}
	return f;
}

ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	struct iovec iov = { buf, count };
	ssize_t n;

	if (!real_pread)
		real_pread = next("pread");
	n = real_pread(fd, buf, count, off);
	record(fd, &iov, 1, off, n);
	return n;
}

ssize_t pread64(int fd, void *buf, size_t count, off_t off)
	__attribute__((alias("pread")));

ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	ssize_t n;

	if (!real_preadv)
		real_preadv = next("preadv");
	n = real_preadv(fd, iov, iovcnt, off);
	record(fd, iov, iovcnt, off, n);
	return n;
}

ssize_t preadv64(int fd, const struct iovec *iov, int iovcnt, off_t off)
	__attribute__((alias("preadv")));

ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off,
		int flags)
{
	ssize_t n;

	if (!real_preadv2)
		real_preadv2 = next("preadv2");
	n = real_preadv2(fd, iov, iovcnt, off, flags);
	if (off >= 0)
		record(fd, iov, iovcnt, off, n);
	return n;
}

ssize_t preadv64v2(int fd, const struct iovec *iov, int iovcnt, off_t off,
		   int flags) __attribute__((alias("preadv2")));

int close(int fd)
{
	static int (*real_close)(int);

	if (!real_close)
		real_close = next("close");
	if (fd >= 0 && fd < MAX_FDS)
		__atomic_store_n(&fd_ids[fd], 0, __ATOMIC_RELAXED);
	return real_close(fd);
}
