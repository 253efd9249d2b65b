/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Pinning the calling thread to one CPU. */
#ifndef COMMON_CPU_H
#define COMMON_CPU_H

#include <sched.h>

/* Highest CPU number a cpu_set_t can name, for option range checks. */
#define CPU_MAX (CPU_SETSIZE - 1)

/*
 * Pin the calling thread to @cpu. A negative @cpu means "do not pin" and
 * succeeds. Returns 0, or -1 after printing why (prefixed by @prog).
 */
int pin_to_cpu(const char *prog, int cpu);

#endif
