// SPDX-License-Identifier: GPL-2.0
/*
 * ksmtrace_snap - snapshot a guest's RAM from the host while it runs.
 *
 * usage: ksmtrace_snap RAM_FILE OUT INTERVAL_MS STOP_FILE
 *
 * RAM_FILE is the guest's memory-backend-file (share=on).  Every
 * INTERVAL_MS it copies the whole file, hashes every page (XXH64) and
 * appends to OUT (snaps.bin, see ksmtrace.h) the pages that changed since
 * the previous copy: all pages that are not zero the first time.  Stops
 * after the copy that follows the creation of STOP_FILE (the recorder
 * creates it once the guest has powered off, so the last snapshot is the
 * guest's final memory).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "../common/ksmbench.h"
#include "ksmtrace.h"

#define PAGE 4096UL

int main(int argc, char **argv)
{
	static const unsigned char zero[PAGE];
	uint64_t *hash, zero_hash = XXH64(zero, PAGE, 0);
	unsigned char *ram, *zbuf;
	uint32_t *changed;
	size_t pages, zcap;
	long interval_ms;
	int fd, out, stopping = 0;
	struct stat st;
	ZSTD_CCtx *cctx;

	if (argc != 5) {
		fprintf(stderr, "usage: ksmtrace_snap RAM_FILE OUT INTERVAL_MS STOP_FILE\n");
		return 2;
	}
	interval_ms = atol(argv[3]);
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		die(argv[1]);
	pages = st.st_size / PAGE;
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		die(argv[2]);
	ram = malloc(pages * PAGE);
	hash = calloc(pages, sizeof(*hash));
	changed = malloc(pages * sizeof(*changed));
	zcap = ZSTD_compressBound(pages * PAGE);
	zbuf = malloc(zcap);
	cctx = ZSTD_createCCtx();
	if (!ram || !hash || !changed || !zbuf || !cctx)
		die("memory");
	/* The first snapshot: every page that is not zero. */
	for (size_t i = 0; i < pages; i++)
		hash[i] = zero_hash;
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);

	for (;;) {
		struct ksmtrace_snap h = { .magic = KSMTRACE_SNAP_MAGIC };
		uint64_t start = now_ns();
		size_t done = 0, i, n = 0, z;
		unsigned char *dst;

		stopping = !access(argv[4], F_OK);
		while (done < pages * PAGE) {
			ssize_t r = pread(fd, ram + done, pages * PAGE - done, done);

			if (r <= 0)
				die("read RAM");
			done += r;
		}
		/*
		 * Stamped when the copy ends: a read that returned during the
		 * copy is replayed before it, so what the guest wrote over it
		 * meanwhile, which the copy holds, wins.
		 */
		h.t_ns = now_ns();
		h.checksum = XXH64(ram, pages * PAGE, 0);
		/* Gather the changed pages at the front, in page order. */
		dst = ram;
		for (i = 0; i < pages; i++) {
			uint64_t x = XXH64(ram + i * PAGE, PAGE, 0);

			if (x == hash[i])
				continue;
			hash[i] = x;
			changed[n++] = i;
			if (dst != ram + i * PAGE)
				memcpy(dst, ram + i * PAGE, PAGE);
			dst += PAGE;
		}
		z = ZSTD_compress2(cctx, zbuf, zcap, ram, n * PAGE);
		if (ZSTD_isError(z)) {
			fprintf(stderr, "ksmtrace_snap: zstd: %s\n", ZSTD_getErrorName(z));
			return 1;
		}
		h.nr_pages = n;
		h.zlen = z;
		if (write(out, &h, sizeof(h)) != sizeof(h) ||
		    write(out, changed, n * sizeof(*changed)) != (ssize_t)(n * sizeof(*changed)) ||
		    write(out, zbuf, z) != (ssize_t)z)
			die("write");
		if (stopping)
			break;
		{
			uint64_t next = start + interval_ms * 1000000ull, t = now_ns();

			if (next > t)
				usleep((next - t) / 1000);
		}
	}
	close(out);
	return 0;
}
