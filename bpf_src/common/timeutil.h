/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Monotonic time in nanoseconds, inline because it sits on timed paths. */
#ifndef COMMON_TIMEUTIL_H
#define COMMON_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* CLOCK_MONOTONIC goes through the vDSO: no system call, and no jumps
 * when NTP or an administrator sets the wall clock during a run. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

#endif
