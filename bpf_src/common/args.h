/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Strict number parsing for command-line options: the whole string must be
 * a number within [min, max], otherwise an error naming the option is
 * printed. "--port 80x" or "--count -1" must fail, not be half-read.
 */
#ifndef COMMON_ARGS_H
#define COMMON_ARGS_H

#include <stdint.h>

/* Returns 0 and stores the value in @out, or -1 after printing an error
 * "<prog>: --<opt>: ..." to stderr. */
int parse_u64(const char *prog, const char *opt, const char *s,
	      uint64_t min, uint64_t max, uint64_t *out);
int parse_int(const char *prog, const char *opt, const char *s,
	      int min, int max, int *out);

#endif
