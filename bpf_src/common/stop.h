/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The stop flag of the long-running tools: SIGINT and SIGTERM set it, and the
 * tool's loop checks it. The handler has no SA_RESTART, so a blocking recv()
 * or poll() returns EINTR and the loop sees the flag at once.
 */
#ifndef COMMON_STOP_H
#define COMMON_STOP_H

#include <signal.h>

extern volatile sig_atomic_t stop_requested;

/* Returns 0, or -1 after printing why (prefixed by @prog). */
int stop_on_signals(const char *prog);

#endif
