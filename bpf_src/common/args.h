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

/* Stores in @out the index of @s in the NULL-terminated @names and returns 0,
 * or returns -1 after printing "<prog>: --<opt>: expected a, b or c, got 's'". */
int parse_choice(const char *prog, const char *opt, const char *s,
		 const char *const *names, int *out);

/* Returns 0 when getopt consumed every argument, or -1 after naming the
 * first one left over. */
int no_arguments_left(const char *prog, int argc, char **argv);

#endif
