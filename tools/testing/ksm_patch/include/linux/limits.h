/* SPDX-License-Identifier: GPL-2.0 */
#include <stdint.h>

#define U64_MAX	UINT64_MAX
