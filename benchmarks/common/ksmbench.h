/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksmbench.h - helpers shared by the KSM benchmark programs: fatal errors,
 * the monotonic clock, KSM's knobs in sysfs, /proc/meminfo, ksmd's CPU
 * time, a pseudo-random generator and a qsort() comparison.
 *
 * Include it as "../common/ksmbench.h" after defining _GNU_SOURCE (die()
 * names the program by program_invocation_short_name).  Every function is
 * static inline: a program gets no warning for those it does not use.
 */
#ifndef KSMBENCH_H
#define KSMBENCH_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KSM_DIR	"/sys/kernel/mm/ksm/"

/*
 * How die() ends the program: exit(1), unless the program defines
 * ksmbench_die_exit() before it includes this header.
 */
#ifndef ksmbench_die_exit
#define ksmbench_die_exit() exit(1)
#endif

/* Print "program: @what: strerror(errno)" on stderr and end the program. */
static inline void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(errno));
	ksmbench_die_exit();
}

/* CLOCK_MONOTONIC in seconds. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The value of KSM knob @name (KSM_DIR @name), or -1 if it cannot be read. */
static inline long knob(const char *name)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* A counter of KSM: knob(@name), or 0 if the kernel has none. */
static inline long knob_or_0(const char *name)
{
	long v = knob(name);

	return v > 0 ? v : 0;
}

/* Write @v to KSM knob @name: 0 on success, -1 (errno set) on failure. */
static inline int knob_write(const char *name, long v)
{
	char path[256], buf[32];
	int fd, len, ret = 0;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	len = snprintf(buf, sizeof(buf), "%ld\n", v);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != len)
		ret = -1;
	if (close(fd))
		ret = -1;
	return ret;
}

/* Write @v to KSM knob @name, or die naming the knob's path. */
static inline void knob_set(const char *name, long v)
{
	char path[256];
	int err;

	if (!knob_write(name, v))
		return;
	err = errno;
	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	errno = err;
	die(path);
}

/*
 * The number after "@key@sep" at the start of a line of file @path
 * ("Key: N" of /proc/meminfo, "key N" of memory.stat), or @none if there
 * is no such line or file.
 */
static inline long keyed_value(const char *path, const char *key, char sep,
			       long none)
{
	char line[256];
	size_t n = strlen(key);
	long v = none;
	FILE *f = fopen(path, "r");

	if (!f)
		return none;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == sep) {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* A kB value of /proc/meminfo ("@key: N kB"), or 0 if there is none. */
static inline long meminfo_kb(const char *key)
{
	return keyed_value("/proc/meminfo", key, ':', 0);
}

/* The pid of ksmd (the task whose comm is "ksmd"), or 0 if there is none. */
static inline int ksmd_pid(void)
{
	char path[300], comm[32];
	DIR *dir = opendir("/proc");
	struct dirent *d;
	int pid = 0;
	FILE *f;

	while (dir && !pid && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "ksmd\n"))
			pid = atoi(d->d_name);
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return pid;
}

/*
 * ksmd's CPU time in milliseconds, from the first field of
 * /proc/PID/schedstat (nanoseconds run), or -1 if it cannot be read.
 * ksmd is looked up once: it lives as long as the kernel.
 */
static inline double ksmd_cpu_ms(void)
{
	static char path[64];
	unsigned long long ns;
	FILE *f;
	int ok;

	if (!path[0]) {
		int pid = ksmd_pid();

		if (!pid)
			return -1;
		snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	}
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%llu", &ns) == 1;
	fclose(f);
	return ok ? ns / 1e6 : -1;
}

/* The next value of xorshift64 state @s (not zero). */
static inline uint64_t xorshift64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* qsort() comparison of two doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif /* KSMBENCH_H */
