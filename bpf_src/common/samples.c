// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samples.h"

#define SAMPLES_DEFAULT_CAP (1u << 20)
/* stdio buffer for writing samples: a few large write(2) calls. */
#define SAMPLES_WRITE_BUF (1u << 20)

int samples_init(struct samples *s, size_t cap)
{
	s->len = 0;
	s->cap = cap ? cap : SAMPLES_DEFAULT_CAP;
	s->v = malloc(s->cap * sizeof(*s->v));
	return s->v ? 0 : -1;
}

void samples_free(struct samples *s)
{
	free(s->v);
	s->v = NULL;
	s->len = s->cap = 0;
}

int samples_grow(struct samples *s)
{
	size_t cap = s->cap ? s->cap * 2 : SAMPLES_DEFAULT_CAP;
	uint64_t *v = realloc(s->v, cap * sizeof(*v));

	if (!v)
		return -1;
	s->v = v;
	s->cap = cap;
	return 0;
}

int samples_write(const struct samples *s, const char *path)
{
	FILE *f = fopen(path, "w");
	int err = 0;
	size_t i;

	if (!f)
		return -1;
	setvbuf(f, NULL, _IOFBF, SAMPLES_WRITE_BUF);
	if (fprintf(f, "num samples: %zu\n", s->len) < 0)
		err = errno;
	for (i = 0; !err && i < s->len; i++)
		if (fprintf(f, "%" PRIu64 "\n", s->v[i]) < 0)
			err = errno;
	/* fclose flushes: a full disk shows up here, not in fprintf. */
	if (fclose(f) != 0 && !err)
		err = errno;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int samples_summarize(const struct samples *s, struct samples_summary *out)
{
	uint64_t *sorted;
	size_t n = s->len;

	if (n == 0)
		return -1;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -1;
	memcpy(sorted, s->v, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);

	out->min = sorted[0];
	out->median = sorted[n / 2];
	/* floor(N * 0.99) without floating point; always < n. */
	out->p99 = sorted[n * 99 / 100];
	out->max = sorted[n - 1];
	free(sorted);
	return 0;
}
