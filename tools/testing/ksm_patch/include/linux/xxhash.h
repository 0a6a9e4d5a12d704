/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's own xxhash API. */
#include "../../../../../include/linux/xxhash.h"
