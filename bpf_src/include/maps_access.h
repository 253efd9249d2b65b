/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Table 3: what map_access.bpf.c and map_runner.c agree on.
 *
 * Included by the eBPF object and by user space, so it uses fixed-width
 * types only and defines constants, not enums: an enum used as the type of
 * a global would be re-emitted by the skeleton and clash with this one.
 */
#ifndef MAPS_ACCESS_H
#define MAPS_ACCESS_H

#include <linux/types.h>

/* Collection looked up by xdp_map_access, value of the `map_kind` global. */
#define MAPS_KIND_ARRAY 0
#define MAPS_KIND_PERCPU_ARRAY 1
#define MAPS_KIND_HASH 2
#define MAPS_KIND_LRU_HASH 3
#define MAPS_KIND_STACK 4	/* baseline: the same loop reading the stack */

/* The paper's entry: 256 bytes of state behind every key. */
#define MAPS_VALUE_SIZE 256
#define MAPS_VALUE_WORDS (MAPS_VALUE_SIZE / 8)

/* Key sizes the object has a hash and an LRU map for. Arrays are indexed
 * by a 4-byte integer; the kernel accepts no other key size for them. */
#define MAPS_KEY_MAX 32

/*
 * Every key is its 32-bit id (host order) in the first 4 bytes followed by
 * this filler, so longer keys really have more bytes to hash and compare.
 */
#define MAPS_KEY_FILL 0xa5

/* bpf_loop refuses more iterations than this (BPF_MAX_LOOPS). */
#define MAPS_MAX_LOOKUPS (1U << 23)

/*
 * Value word 0 of key i holds i + 1: the program adds what it reads, and
 * the runner compares the sum with the one expected for the keys it cycled
 * through, which proves every lookup found its own entry.
 */
#define MAPS_VALUE_OF(id) ((__u64)(id) + 1)

#endif /* MAPS_ACCESS_H */
