/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksmtrace.h - the on-disk format of a recorded guest trace (see
 * FORMAT.md): little-endian, fixed-size records.
 */
#ifndef KSMTRACE_H
#define KSMTRACE_H

#include <stdint.h>

#define KSMTRACE_DIRECT	0x1	/* the file was opened O_DIRECT */

/* reads.bin: a piece of a read that landed in guest RAM */
struct ksmtrace_read {
	uint64_t t_ns;		/* CLOCK_MONOTONIC when the read returned */
	uint64_t offset;	/* file offset of the piece */
	uint64_t gpa;		/* guest-physical address it landed at */
	uint32_t len;		/* bytes */
	uint16_t file;		/* id in files.txt */
	uint16_t flags;		/* KSMTRACE_* */
};

/*
 * snaps.bin: a sequence of snapshots of guest RAM, each a header and
 * nr_pages page numbers (uint32_t) followed by the ZSTD frame of those
 * pages' contents, zlen bytes, in the same order.  The first snapshot
 * holds every page that is not zero; each later one the pages that
 * changed since the one before.
 */
#define KSMTRACE_SNAP_MAGIC 0x50414e534d534bULL	/* "KSMSNAP" */
struct ksmtrace_snap {
	uint64_t magic;
	uint64_t t_ns;		/* CLOCK_MONOTONIC when the copy ended */
	uint32_t nr_pages;	/* pages in this snapshot */
	uint32_t zlen;		/* bytes of the ZSTD frame */
	uint64_t checksum;	/* XXH64 of all of guest RAM at this time */
};

_Static_assert(sizeof(struct ksmtrace_read) == 32, "read record size");
_Static_assert(sizeof(struct ksmtrace_snap) == 32, "snapshot header size");

#endif
