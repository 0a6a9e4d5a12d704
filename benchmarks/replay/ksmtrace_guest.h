/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksmtrace_guest.h - reading one recorded guest of a trace (FORMAT.md):
 * its files, its reads and snapshots in time order, and applying them to
 * a guest RAM image.  Shared by ksm_replay (in real time, into mergeable
 * memory) and ksmtrace_pack (at once, into a private buffer).
 *
 * Include after ../common/ksmbench.h and ksmtrace.h.
 */
#ifndef KSMTRACE_GUEST_H
#define KSMTRACE_GUEST_H

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>

#define KSMTRACE_PAGE		4096UL
#define KSMTRACE_MAX_FILES	256

/* The guests and MiB of RAM each of trace @dir (manifest.txt); 0 or -1. */
static inline int ksmtrace_manifest(const char *dir, int *guests,
				    unsigned long *mem_mib)
{
	char path[PATH_MAX], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/manifest.txt", dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	*guests = 0;
	*mem_mib = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "guests=", 7))
			*guests = atoi(line + 7);
		else if (!strncmp(line, "mem_mib=", 8))
			*mem_mib = strtoul(line + 8, NULL, 10);
	}
	fclose(f);
	return *guests > 0 && *mem_mib ? 0 : -1;
}

/* The whole of a file, mapped, or NULL (*@len 0) if it does not exist. */
static inline void *ksmtrace_slurp(const char *path, size_t *len)
{
	struct stat st;
	void *p = NULL;
	int fd = open(path, O_RDONLY);

	*len = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st))
		die(path);
	*len = st.st_size;
	if (st.st_size) {
		p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			die(path);
	}
	close(fd);
	return p;
}

/**
 * struct ksmtrace_snap_iter - walks the snapshots of a snaps.bin
 * @p: the next snapshot
 * @end: the end of the file
 * @h: the current snapshot's header, NULL before the first and at the end
 * @pages: its page numbers
 * @z: its ZSTD frame
 */
struct ksmtrace_snap_iter {
	const unsigned char *p, *end;
	const struct ksmtrace_snap *h;
	const uint32_t *pages;
	const void *z;
};

/* Move to the next snapshot: 1, 0 at the end, -1 in a damaged file. */
static inline int ksmtrace_snap_next(struct ksmtrace_snap_iter *it, size_t bytes)
{
	if (it->p == it->end) {
		it->h = NULL;
		return 0;
	}
	if (it->p + sizeof(*it->h) > it->end)
		return -1;
	it->h = (const void *)it->p;
	if (it->h->magic != KSMTRACE_SNAP_MAGIC ||
	    it->h->nr_pages > bytes / KSMTRACE_PAGE)
		return -1;
	it->pages = (const void *)(it->p + sizeof(*it->h));
	it->z = it->pages + it->h->nr_pages;
	it->p = (const unsigned char *)it->z + it->h->zlen;
	return it->p <= it->end ? 1 : -1;
}

/* Decompress the pages of the current snapshot into @buf; 0 on success. */
static inline int ksmtrace_snap_pages(const struct ksmtrace_snap_iter *it, void *buf)
{
	size_t want = it->h->nr_pages * KSMTRACE_PAGE;
	size_t n = ZSTD_decompress(buf, want, it->z, it->h->zlen);

	return ZSTD_isError(n) || n != want ? -1 : 0;
}

/**
 * struct ksmtrace_guest - one recorded guest, opened
 * @dir: its directory
 * @bytes: its RAM
 * @fds: the files its reads came from, by id: [0] buffered, [1] O_DIRECT
 * @nfiles: ids below this may be in use
 * @reads: its read records, in time order
 * @nreads: how many
 * @snaps: its snaps.bin
 * @slen: the size of @snaps
 * @ri: the next read record
 * @it: the next snapshot (@it.h NULL once they are all done)
 */
struct ksmtrace_guest {
	const char *dir;
	size_t bytes;
	int fds[KSMTRACE_MAX_FILES][2];
	int nfiles;
	const struct ksmtrace_read *reads;
	size_t nreads;
	const unsigned char *snaps;
	size_t slen;
	size_t ri;
	struct ksmtrace_snap_iter it;
};

/*
 * Open recorded file @path: as @image if that is given and @path is the
 * base image, else in the guest's directory, else where it was.
 */
static inline int ksmtrace_open_file(const char *path, const char *gdir,
			      const char *image, int direct)
{
	const char *base = strrchr(path, '/');
	int flags = O_RDONLY | (direct ? O_DIRECT : 0), fd;
	char alt[2 * PATH_MAX];

	base = base ? base + 1 : path;
	if (image && !strcmp(base, "root.img"))
		return open(image, flags);
	snprintf(alt, sizeof(alt), "%s/%s", gdir, base);
	fd = open(alt, flags);
	if (fd < 0)
		fd = open(path, flags);
	return fd;
}

/* Open guest @dir of @bytes of RAM (files, reads, snapshots); 0 or -1. */
static inline int ksmtrace_guest_open(struct ksmtrace_guest *g, const char *dir,
			       size_t bytes, const char *image)
{
	char path[PATH_MAX], line[PATH_MAX + 16], fpath[PATH_MAX];
	size_t rlen;
	FILE *files;
	int id;

	memset(g, 0, sizeof(*g));
	memset(g->fds, -1, sizeof(g->fds));
	g->dir = dir;
	g->bytes = bytes;
	snprintf(path, sizeof(path), "%s/files.txt", dir);
	files = fopen(path, "r");
	while (files && fgets(line, sizeof(line), files)) {
		if (sscanf(line, "%d %4095s", &id, fpath) != 2 || id < 0 ||
		    id >= KSMTRACE_MAX_FILES)
			continue;
		g->fds[id][0] = ksmtrace_open_file(fpath, dir, image, 0);
		g->fds[id][1] = ksmtrace_open_file(fpath, dir, image, 1);
		if (g->fds[id][0] < 0) {
			fprintf(stderr, "%s: cannot open %s\n", dir, fpath);
			fclose(files);
			return -1;
		}
		if (id >= g->nfiles)
			g->nfiles = id + 1;
	}
	if (files)
		fclose(files);
	snprintf(path, sizeof(path), "%s/reads.bin", dir);
	g->reads = ksmtrace_slurp(path, &rlen);
	g->nreads = rlen / sizeof(*g->reads);
	if (g->reads && rlen != g->nreads * sizeof(*g->reads)) {
		fprintf(stderr, "%s: reads.bin is cut short\n", dir);
		munmap((void *)g->reads, rlen);
		g->reads = NULL;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/snaps.bin", dir);
	g->snaps = ksmtrace_slurp(path, &g->slen);
	return 0;
}

/* Close the files and unmap the records of @g. */
static inline void ksmtrace_guest_close(struct ksmtrace_guest *g)
{
	int i;

	for (i = 0; i < g->nfiles; i++) {
		if (g->fds[i][0] >= 0)
			close(g->fds[i][0]);
		if (g->fds[i][1] >= 0)
			close(g->fds[i][1]);
	}
	if (g->reads)
		munmap((void *)g->reads, g->nreads * sizeof(*g->reads));
	if (g->snaps)
		munmap((void *)g->snaps, g->slen);
	g->reads = NULL;
	g->snaps = NULL;
	g->nfiles = 0;
}

/* Start over at the first event: 1, or 0 without snapshots, -1 damaged. */
static inline int ksmtrace_guest_rewind(struct ksmtrace_guest *g)
{
	g->ri = 0;
	g->it.p = g->snaps;
	g->it.end = g->snaps + g->slen;
	g->it.h = NULL;
	return ksmtrace_snap_next(&g->it, g->bytes);
}

/*
 * The next event, in time order (a read before a snapshot of the same
 * time): 1 and *@read set (NULL: the snapshot g->it.h), 0 at the end.
 */
static inline int ksmtrace_next_event(struct ksmtrace_guest *g,
			       const struct ksmtrace_read **read)
{
	if (g->ri < g->nreads &&
	    (!g->it.h || g->reads[g->ri].t_ns <= g->it.h->t_ns)) {
		*read = &g->reads[g->ri++];
		return 1;
	}
	*read = NULL;
	return g->it.h ? 1 : 0;
}

/*
 * Do read @r into guest RAM @mem as QEMU did (O_DIRECT if it did, unless
 * the kernel refuses the alignment), or with @buffered always: 0 or -1.
 */
static inline int ksmtrace_do_read(struct ksmtrace_guest *g,
			    const struct ksmtrace_read *r, unsigned char *mem,
			    int buffered)
{
	int direct = !buffered && (r->flags & KSMTRACE_DIRECT);
	int fd = r->file < g->nfiles ? g->fds[r->file][direct] : -1;
	struct iovec iov;
	ssize_t n;

	if (fd < 0 && r->file < g->nfiles)
		fd = g->fds[r->file][0];
	if (fd < 0 || r->len > g->bytes || r->gpa > g->bytes - r->len) {
		fprintf(stderr, "%s: bad read record\n", g->dir);
		return -1;
	}
	iov.iov_base = mem + r->gpa;
	iov.iov_len = r->len;
	n = preadv(fd, &iov, 1, r->offset);
	/* O_DIRECT needs alignment QEMU may not have had to give */
	if (n < 0 && errno == EINVAL && fd != g->fds[r->file][0])
		n = preadv(g->fds[r->file][0], &iov, 1, r->offset);
	if (n != (ssize_t)r->len) {
		fprintf(stderr, "%s: read of %u bytes at %llu: %zd\n", g->dir,
			r->len, (unsigned long long)r->offset, n);
		return -1;
	}
	return 0;
}

/*
 * Apply the current snapshot to @mem: write the pages whose content
 * differs (what the guest wrote, not a read), decompressed via @buf; set
 * @changed[i] for each page i of the snapshot written, if @changed.
 * Returns the pages written, or -1 for a damaged snapshot.  Moves on to
 * the next snapshot.
 */
static inline long ksmtrace_apply_snap(struct ksmtrace_guest *g, unsigned char *mem,
				unsigned char *buf, unsigned char *changed)
{
	const struct ksmtrace_snap_iter *it = &g->it;
	long written = 0;
	uint32_t i;

	if (ksmtrace_snap_pages(it, buf)) {
		fprintf(stderr, "%s: bad snapshot\n", g->dir);
		return -1;
	}
	for (i = 0; i < it->h->nr_pages; i++) {
		unsigned char *dst = mem + (size_t)it->pages[i] * KSMTRACE_PAGE;
		const unsigned char *src = buf + i * KSMTRACE_PAGE;
		int differs;

		if (it->pages[i] >= g->bytes / KSMTRACE_PAGE)
			continue;
		differs = memcmp(dst, src, KSMTRACE_PAGE) != 0;
		if (differs) {
			memcpy(dst, src, KSMTRACE_PAGE);
			written++;
		}
		if (changed)
			changed[i] = differs;
	}
	if (ksmtrace_snap_next(&g->it, g->bytes) < 0) {
		fprintf(stderr, "%s: damaged snapshots\n", g->dir);
		return -1;
	}
	return written;
}

/*
 * The guest's final RAM into @mem (zeroed here): every read and snapshot
 * applied at once, through @buf; the checksum of the last snapshot in
 * *@sum.  0, or -1 on errors.
 */
static inline int ksmtrace_final_ram(struct ksmtrace_guest *g, unsigned char *mem,
			      unsigned char *buf, uint64_t *sum)
{
	const struct ksmtrace_read *r;

	memset(mem, 0, g->bytes);
	*sum = 0;
	if (ksmtrace_guest_rewind(g) != 1)
		return -1;
	while (ksmtrace_next_event(g, &r)) {
		if (r) {
			if (ksmtrace_do_read(g, r, mem, 1))
				return -1;
			continue;
		}
		*sum = g->it.h->checksum;
		if (ksmtrace_apply_snap(g, mem, buf, NULL) < 0)
			return -1;
	}
	return 0;
}

#endif
