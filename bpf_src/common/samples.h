/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A growable array of nanosecond samples, written once at the end of a run
 * in the paper artifact's format:
 *
 *   num samples: N
 *   <sample 1>
 *   ...
 *
 * Appending never formats or writes anything, so measuring stays cheap.
 */
#ifndef COMMON_SAMPLES_H
#define COMMON_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

struct samples {
	uint64_t *v;
	size_t len;
	size_t cap;
};

/* Reserve room for @cap samples up front (0 picks a default). */
int samples_init(struct samples *s, size_t cap);
void samples_free(struct samples *s);

/* Slow path of samples_push: double the array. */
int samples_grow(struct samples *s);

/* Append one sample; returns -1 only when out of memory. */
static inline int samples_push(struct samples *s, uint64_t value)
{
	if (s->len == s->cap && samples_grow(s) < 0)
		return -1;
	s->v[s->len++] = value;
	return 0;
}

/* Write @s to @path in the artifact format. Returns 0 or -1 (errno set). */
int samples_write(const struct samples *s, const char *path);

struct samples_summary {
	uint64_t min;
	uint64_t median;
	uint64_t p99;
	uint64_t max;
};

/*
 * Nearest-rank quantiles as the paper computes them, s[floor(N*q)] of the
 * sorted samples. Sorts a copy, so @s keeps the measurement order.
 * Returns 0, or -1 if @s is empty or memory runs out.
 */
int samples_summarize(const struct samples *s, struct samples_summary *out);

#endif
