/* SPDX-License-Identifier: GPL-2.0 */
/* glibc's <errno.h> includes <linux/errno.h>: only the numbers here. */
#include <asm/errno.h>
