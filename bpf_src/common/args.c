// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

int parse_u64(const char *prog, const char *opt, const char *s,
	      uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull accepts "-1" and wraps it around: refuse signs first. */
	if (!s || !isdigit((unsigned char)s[0])) {
		fprintf(stderr, "%s: --%s: expected a non-negative integer, got '%s'\n",
			prog, opt, s ? s : "");
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0') {
		fprintf(stderr, "%s: --%s: expected a non-negative integer, got '%s'\n",
			prog, opt, s);
		return -1;
	}
	if (v < min || v > max) {
		fprintf(stderr, "%s: --%s: %llu is out of range [%" PRIu64 ", %" PRIu64 "]\n",
			prog, opt, v, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int parse_int(const char *prog, const char *opt, const char *s,
	      int min, int max, int *out)
{
	uint64_t v;

	if (min < 0) {
		fprintf(stderr, "%s: --%s: internal error, negative minimum\n",
			prog, opt);
		return -1;
	}
	if (parse_u64(prog, opt, s, (uint64_t)min, (uint64_t)max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

int no_arguments_left(const char *prog, int argc, char **argv)
{
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		return -1;
	}
	return 0;
}

int parse_choice(const char *prog, const char *opt, const char *s,
		 const char *const *names, int *out)
{
	int i, n;

	for (n = 0; names[n]; n++) {
		if (strcmp(s, names[n]) == 0) {
			*out = n;
			return 0;
		}
	}
	fprintf(stderr, "%s: --%s: expected ", prog, opt);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s%s", names[i], i + 2 < n ? ", " : i + 1 < n ? " or " : "");
	fprintf(stderr, ", got '%s'\n", s);
	return -1;
}
