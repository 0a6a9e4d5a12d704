// SPDX-License-Identifier: GPL-2.0
/*
 * ksmtrace_pack - drop from a recorded guest's snapshots the pages that
 * its reads already explain.
 *
 * usage: ksmtrace_pack GUEST_DIR MEM_MIB
 *
 * Most of a guest's memory is what it read from its disks: the page
 * cache, the kernel, programs.  A snapshot holds every page whose content
 * changed since the snapshot before, read or written; a replay does the
 * reads itself, and writes a snapshot's page only where its content
 * differs from what the replay holds (ksmtrace_apply_snap()).  Applying
 * the trace as the replay does, ksmtrace_pack keeps in each snapshot only
 * the pages a replay would write, so that a packed trace replays to the
 * same memory at every snapshot, and to the same final RAM (checked
 * against the last snapshot's checksum before snaps.bin is replaced).
 * Prints the pages and bytes before and after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "../common/ksmbench.h"
#include "ksmtrace.h"
#include "ksmtrace_guest.h"

/* Write @len bytes of @p to @fd, or die. */
static void write_all(int fd, const void *p, size_t len, const char *what)
{
	const char *c = p;
	ssize_t n;

	while (len) {
		n = write(fd, c, len);
		if (n <= 0)
			die(what);
		c += n;
		len -= n;
	}
}

int main(int argc, char **argv)
{
	unsigned long pages_in = 0, pages_out = 0, mem_mib;
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	unsigned char *mem, *buf, *keep, *zbuf, *check;
	const struct ksmtrace_read *r;
	struct ksmtrace_guest g;
	uint64_t sum = 0, final;
	size_t bytes, zcap, slen_in;
	uint32_t *kept;
	int out;

	if (argc != 3) {
		fprintf(stderr, "usage: ksmtrace_pack GUEST_DIR MEM_MIB\n");
		return 2;
	}
	mem_mib = strtoul(argv[2], NULL, 10);
	if (!mem_mib || mem_mib > 65536) {
		fprintf(stderr, "ksmtrace_pack: bad MEM_MIB\n");
		return 2;
	}
	bytes = mem_mib << 20;
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED || buf == MAP_FAILED)
		die("mmap");
	keep = malloc(bytes / KSMTRACE_PAGE);
	kept = malloc(bytes / KSMTRACE_PAGE * sizeof(*kept));
	zcap = ZSTD_compressBound(bytes);
	zbuf = malloc(zcap);
	if (!keep || !kept || !zbuf)
		die("malloc");
	if (ksmtrace_guest_open(&g, argv[1], bytes, NULL))
		return 2;
	if (ksmtrace_guest_rewind(&g) != 1) {
		fprintf(stderr, "ksmtrace_pack: %s: no snapshot\n", argv[1]);
		return 2;
	}
	slen_in = g.slen;
	snprintf(path, sizeof(path), "%s/snaps.bin", argv[1]);
	snprintf(tmp, sizeof(tmp), "%s.packing", path);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		die(tmp);

	while (ksmtrace_next_event(&g, &r)) {
		struct ksmtrace_snap h;
		uint32_t i, n = 0;
		size_t z = 0;

		if (r) {
			if (ksmtrace_do_read(&g, r, mem, 1))
				return 2;
			continue;
		}
		h = *g.it.h;
		sum = h.checksum;
		pages_in += h.nr_pages;
		/* The snapshot's pages, as the replay will find them. */
		for (i = 0; i < h.nr_pages; i++)
			kept[i] = g.it.pages[i];
		if (ksmtrace_apply_snap(&g, mem, buf, keep) < 0)
			return 2;
		/* @buf holds the snapshot's pages: keep those written. */
		for (i = 0; i < h.nr_pages; i++) {
			if (!keep[i])
				continue;
			if (n != i)
				memcpy(buf + (size_t)n * KSMTRACE_PAGE,
				       buf + (size_t)i * KSMTRACE_PAGE,
				       KSMTRACE_PAGE);
			kept[n++] = kept[i];
		}
		if (n) {
			z = ZSTD_compress(zbuf, zcap, buf, (size_t)n * KSMTRACE_PAGE, 3);
			if (ZSTD_isError(z)) {
				fprintf(stderr, "ksmtrace_pack: zstd: %s\n",
					ZSTD_getErrorName(z));
				return 2;
			}
		}
		h.nr_pages = n;
		h.zlen = z;
		write_all(out, &h, sizeof(h), tmp);
		write_all(out, kept, (size_t)n * sizeof(*kept), tmp);
		write_all(out, zbuf, z, tmp);
		pages_out += n;
		madvise(buf, bytes, MADV_DONTNEED);
	}
	if (fsync(out) || close(out))
		die(tmp);
	final = XXH64(mem, bytes, 0);
	ksmtrace_guest_close(&g);
	if (final != sum) {
		fprintf(stderr, "ksmtrace_pack: %s: the trace does not add up to its final checksum\n",
			argv[1]);
		unlink(tmp);
		return 1;
	}

	/* The packed trace must give the same final RAM: check before use. */
	{
		struct ksmtrace_guest p;
		size_t slen_out;
		int err;

		check = buf;
		/* Open the packed file as the guest's snapshots. */
		if (ksmtrace_guest_open(&p, argv[1], bytes, NULL))
			return 2;
		munmap((void *)p.snaps, p.slen);
		p.snaps = ksmtrace_slurp(tmp, &slen_out);
		p.slen = slen_out;
		err = ksmtrace_final_ram(&p, check, mem, &final);
		if (err || final != sum || XXH64(check, bytes, 0) != sum) {
			fprintf(stderr, "ksmtrace_pack: %s: the packed trace gives another final RAM\n",
				argv[1]);
			unlink(tmp);
			return 1;
		}
		ksmtrace_guest_close(&p);
		if (rename(tmp, path))
			die(path);
		printf("%s: %lu of %lu snapshot pages kept, %zu -> %zu bytes\n",
		       argv[1], pages_out, pages_in, slen_in, slen_out);
	}
	return 0;
}
