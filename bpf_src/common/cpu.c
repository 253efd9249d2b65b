// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"

int pin_to_cpu(const char *prog, int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	if (cpu >= CPU_SETSIZE) {
		fprintf(stderr, "%s: CPU %d is out of range (max %d)\n",
			prog, cpu, CPU_SETSIZE - 1);
		return -1;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* pid 0: this thread. EINVAL means the CPU is offline or outside
	 * our cpuset, which is worth saying in words. */
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, "%s: cannot pin to CPU %d: %s%s\n", prog, cpu,
			strerror(errno),
			errno == EINVAL ? " (offline or not allowed?)" : "");
		return -1;
	}
	return 0;
}
