/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's own LZ4 API. */
#include "../../../../../include/linux/lz4.h"
