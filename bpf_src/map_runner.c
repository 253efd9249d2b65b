// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * map_runner: Table 3, time to access a collection from eBPF.
 *
 *   map_runner --map array|percpu_array|hash|lru_hash|stack
 *              [--key-size 4|8|16|32] [--entries N] [--lookups N]
 *              [--runs N] [--repeat N] [--warmup N] [--cpu N]
 *
 * Loads map_access.bpf.o (embedded by its skeleton) with the variant chosen in
 * its read-only globals, fills the collection with --entries keys, then
 * runs xdp_map_access through BPF_PROG_TEST_RUN --runs times. Each run
 * performs --lookups lookups cycling over the keys. Output:
 *
 *   map_runner: map=hash key_size=4 value_size=256 entries=1 ...
 *   benchmark res: 1903874.000000     (one pair of lines per run)
 *   return value: 1
 *   summary: runs=100 min_res=1816940 median_res=1903874 ns_per_access=19.039
 *
 * "benchmark res" is the duration the kernel reports for one program run
 * (its average over --repeat runs), in ns, printed as the paper's artifact
 * printed it: divided by --lookups it is the time of one access, loop
 * included. The stack kind measures that loop alone.
 *
 * Every run is checked: the sum of the values read must be the one expected
 * for the keys cycled through, otherwise a lookup missed (an evicting LRU,
 * say) and map_runner fails instead of timing the wrong thing.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "args.h"
#include "cpu.h"
#include "samples.h"
#include "include/maps_access.h"
#include "map_access.skel.h"

#define PROG "map_runner"
#define DEFAULT_LOOKUPS 100000
#define DEFAULT_RUNS 100
/* 4M entries of 256 bytes: a gigabyte, more than any test here needs. */
#define MAX_ENTRIES (1U << 22)
/*
 * An LRU map evicts before it is full: a CPU that finds its local free
 * list empty takes 128 nodes (LOCAL_FREE_TARGET in kernel/bpf/bpf_lru_list.c)
 * from the global list and evicts to make up for any shortfall. This much
 * spare room per CPU keeps all --entries keys in the map.
 */
#define LRU_SPARE_PER_CPU 128
/* XDP test runs need at least an Ethernet header of input. */
#define TEST_FRAME_SIZE 64

struct kind_name {
	const char *name;
	unsigned int kind;
};

static const struct kind_name kinds[] = {
	{ "array", MAPS_KIND_ARRAY },
	{ "percpu_array", MAPS_KIND_PERCPU_ARRAY },
	{ "hash", MAPS_KIND_HASH },
	{ "lru_hash", MAPS_KIND_LRU_HASH },
	{ "stack", MAPS_KIND_STACK },
};

struct runner_opts {
	unsigned int kind;
	const char *kind_name;
	int key_size;
	uint64_t entries;
	uint64_t lookups;
	uint64_t runs;
	uint64_t repeat;
	uint64_t warmup;
	int cpu;
	uint32_t max_entries;	/* capacity of the map under test */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --map array|percpu_array|hash|lru_hash|stack\n"
		"                  [--key-size 4|8|16|32] [--entries N] [--lookups N]\n"
		"                  [--runs N] [--repeat N] [--warmup N] [--cpu N]\n"
		"  --map KIND        collection to look up; stack: the loop alone\n"
		"  --key-size B      key bytes, hash and lru_hash only (default 4)\n"
		"  --entries N       keys in the map, cycled through (default 1)\n"
		"  --lookups N       lookups per program run, 1-%u (default %d)\n"
		"  --runs N          BPF_PROG_TEST_RUN calls printed (default %d)\n"
		"  --repeat N        program runs per call, averaged by the kernel (default 1)\n"
		"  --warmup N        calls made and not printed first (default 1)\n"
		"  --cpu N           pin to CPU N (test runs execute on the caller's CPU)\n"
		"Prints a parameter line, then per run 'benchmark res: NS' (ns of one\n"
		"program run) and 'return value: R', then a 'summary:' line.\n",
		MAPS_MAX_LOOKUPS, DEFAULT_LOOKUPS, DEFAULT_RUNS);
}

static void set_defaults(struct runner_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->key_size = 4;
	o->entries = 1;
	o->lookups = DEFAULT_LOOKUPS;
	o->runs = DEFAULT_RUNS;
	o->repeat = 1;
	o->warmup = 1;
	o->cpu = -1;
	o->max_entries = 1;
}

static int parse_kind(const char *s, struct runner_opts *o)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(s, kinds[i].name) == 0) {
			o->kind = kinds[i].kind;
			o->kind_name = kinds[i].name;
			return 0;
		}
	}
	fprintf(stderr, PROG ": --map: unknown collection '%s' "
		"(array, percpu_array, hash, lru_hash, stack)\n", s);
	return -1;
}

static int parse_key_size(const char *s, int *out)
{
	if (parse_int(PROG, "key-size", s, 4, MAPS_KEY_MAX, out) < 0)
		return -1;
	if (*out != 4 && *out != 8 && *out != 16 && *out != 32) {
		fprintf(stderr, PROG ": --key-size: %d is not one of 4, 8, 16, 32\n", *out);
		return -1;
	}
	return 0;
}

/* Handle one option; returns 0, or -1 on a bad value. */
static int parse_opt(int c, struct runner_opts *o)
{
	switch (c) {
	case 'm':
		return parse_kind(optarg, o);
	case 'k':
		return parse_key_size(optarg, &o->key_size);
	case 'e':
		return parse_u64(PROG, "entries", optarg, 1, MAX_ENTRIES, &o->entries);
	case 'l':
		return parse_u64(PROG, "lookups", optarg, 1, MAPS_MAX_LOOKUPS, &o->lookups);
	case 'r':
		return parse_u64(PROG, "runs", optarg, 1, 1000000, &o->runs);
	case 'R':
		return parse_u64(PROG, "repeat", optarg, 1, 1000000, &o->repeat);
	case 'w':
		return parse_u64(PROG, "warmup", optarg, 0, 1000000, &o->warmup);
	case 'c':
		return parse_int(PROG, "cpu", optarg, 0, CPU_MAX, &o->cpu);
	case 'h':
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		return -1;
	}
}

/* Combinations the object cannot measure, refused with the reason. */
static int check_combination(const struct runner_opts *o)
{
	bool keyed = o->kind == MAPS_KIND_HASH || o->kind == MAPS_KIND_LRU_HASH;

	if (!keyed && o->key_size != 4) {
		fprintf(stderr, PROG ": --key-size %d: %s is indexed by a 4-byte "
			"integer; other key sizes exist for hash and lru_hash only\n",
			o->key_size, o->kind_name);
		return -1;
	}
	if (o->kind == MAPS_KIND_STACK && o->entries != 1) {
		fprintf(stderr, PROG ": --entries: the stack baseline has one entry "
			"(the stack holds 512 bytes); leave --entries out\n");
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct runner_opts *o)
{
	static const struct option longopts[] = {
		{ "map", required_argument, NULL, 'm' },
		{ "key-size", required_argument, NULL, 'k' },
		{ "entries", required_argument, NULL, 'e' },
		{ "lookups", required_argument, NULL, 'l' },
		{ "runs", required_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'R' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	set_defaults(o);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (parse_opt(c, o) < 0)
			return -1;
	if (no_arguments_left(PROG, argc, argv) < 0)
		return -1;
	if (!o->kind_name) {
		fprintf(stderr, PROG ": --map is required\n");
		usage(stderr);
		return -1;
	}
	return check_combination(o);
}

/* The map the program will look up, or NULL for the stack baseline. */
static struct bpf_map *map_under_test(struct map_access *skel,
				      const struct runner_opts *o)
{
	struct bpf_map *hash[] = { skel->maps.hash_k4, skel->maps.hash_k8,
				   skel->maps.hash_k16, skel->maps.hash_k32 };
	struct bpf_map *lru[] = { skel->maps.lru_k4, skel->maps.lru_k8,
				  skel->maps.lru_k16, skel->maps.lru_k32 };
	/* 4, 8, 16, 32 -> 0, 1, 2, 3 */
	int slot = __builtin_ctz((unsigned int)o->key_size) - 2;

	switch (o->kind) {
	case MAPS_KIND_ARRAY:
		return skel->maps.array_k4;
	case MAPS_KIND_PERCPU_ARRAY:
		return skel->maps.pcpu_array_k4;
	case MAPS_KIND_HASH:
		return hash[slot];
	case MAPS_KIND_LRU_HASH:
		return lru[slot];
	default:
		return NULL;
	}
}

/* Capacity for --entries keys: exact, except for the LRU (see above). */
static int set_capacity(struct runner_opts *o)
{
	int ncpus;

	o->max_entries = (uint32_t)o->entries;
	if (o->kind != MAPS_KIND_LRU_HASH)
		return 0;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 1) {
		fprintf(stderr, PROG ": cannot count the possible CPUs\n");
		return -1;
	}
	o->max_entries += (uint32_t)ncpus * LRU_SPARE_PER_CPU;
	return 0;
}

/* Open the object, set the variant and size the map under test. Every
 * other map keeps the single entry it is declared with. */
static struct map_access *open_variant(const struct runner_opts *o)
{
	struct map_access *skel;
	struct bpf_map *map;
	int err;

	skel = map_access__open();
	if (!skel) {
		fprintf(stderr, PROG ": cannot open map_access.bpf.o: %s\n", strerror(errno));
		return NULL;
	}
	skel->rodata->map_kind = o->kind;
	skel->rodata->key_size = (__u32)o->key_size;
	skel->rodata->nr_lookups = (__u32)o->lookups;
	skel->rodata->nr_keys = (__u32)o->entries;

	map = map_under_test(skel, o);
	if (map) {
		err = bpf_map__set_max_entries(map, o->max_entries);
		if (err) {
			fprintf(stderr, PROG ": cannot size %s: %s\n",
				bpf_map__name(map), strerror(-err));
			map_access__destroy(skel);
			return NULL;
		}
	}
	err = map_access__load(skel);
	if (err) {
		/* libbpf has printed the verifier log above. */
		fprintf(stderr, PROG ": loading map_access.bpf.o failed: %s\n", strerror(-err));
		map_access__destroy(skel);
		return NULL;
	}
	return skel;
}

/* Key @id as the program builds it: the id, then filler bytes. */
static void make_key(uint8_t *key, int key_size, uint32_t id)
{
	memset(key, MAPS_KEY_FILL, (size_t)key_size);
	memcpy(key, &id, sizeof(id));
}

/*
 * Write keys 0..entries-1. A per-CPU map takes one value per possible CPU
 * in a single update, all equal here: the program reads its own CPU's copy.
 */
static int fill_map(struct bpf_map *map, const struct runner_opts *o)
{
	int ncpus = bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_ARRAY ?
		    libbpf_num_possible_cpus() : 1;
	uint8_t key[MAPS_KEY_MAX];
	__u64 *value;
	uint64_t i;
	int c, err = 0;

	if (ncpus < 1) {
		fprintf(stderr, PROG ": cannot count the possible CPUs\n");
		return -1;
	}
	value = calloc((size_t)ncpus, MAPS_VALUE_SIZE);
	if (!value) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	for (i = 0; i < o->entries && !err; i++) {
		make_key(key, o->key_size, (uint32_t)i);
		for (c = 0; c < ncpus; c++)
			value[(size_t)c * MAPS_VALUE_WORDS] = MAPS_VALUE_OF(i);
		err = bpf_map__update_elem(map, key, (size_t)o->key_size, value,
					   (size_t)ncpus * MAPS_VALUE_SIZE, BPF_ANY);
	}
	if (err)
		fprintf(stderr, PROG ": inserting key %llu into %s: %s\n",
			(unsigned long long)(i - 1), bpf_map__name(map), strerror(-err));
	free(value);
	return err ? -1 : 0;
}

/* Sum of MAPS_VALUE_OF(id) over @lookups lookups cycling ids 0..@keys-1. */
static uint64_t expected_sum(uint64_t lookups, uint64_t keys)
{
	uint64_t rounds = lookups / keys, rest = lookups % keys;

	/* MAPS_VALUE_OF(id) = id + 1: a full round adds 1 + 2 + ... + keys. */
	return rounds * (keys * (keys + 1) / 2) + rest * (rest + 1) / 2;
}

/* One BPF_PROG_TEST_RUN call, checked. Stores the kernel's duration. */
static int test_run(struct map_access *skel, const struct runner_opts *o,
		    uint32_t *duration, uint32_t *retval)
{
	static char frame[TEST_FRAME_SIZE];
	LIBBPF_OPTS(bpf_test_run_opts, topts,
		.data_in = frame,
		.data_size_in = sizeof(frame),
		.repeat = (int)o->repeat,
	);
	uint64_t want = expected_sum(o->lookups, o->entries);
	int err;

	skel->bss->last_sum = 0;
	skel->bss->last_misses = 0;
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xdp_map_access), &topts);
	if (err) {
		fprintf(stderr, PROG ": BPF_PROG_TEST_RUN: %s\n", strerror(errno));
		return -1;
	}
	if (skel->bss->last_misses || skel->bss->last_sum != want) {
		fprintf(stderr, PROG ": %u of %llu lookups missed (sum %llu, expected %llu):"
			" the map lost keys%s\n", skel->bss->last_misses,
			(unsigned long long)o->lookups,
			(unsigned long long)skel->bss->last_sum, (unsigned long long)want,
			o->kind == MAPS_KIND_LRU_HASH ? " (LRU eviction?)" : "");
		return -1;
	}
	*duration = topts.duration;
	*retval = topts.retval;
	return 0;
}

/* The parameter line: everything needed to interpret the runs below. */
static void print_header(struct map_access *skel, const struct runner_opts *o)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(skel->progs.xdp_map_access);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		memset(&info, 0, sizeof(info));
	printf(PROG ": map=%s key_size=%d value_size=%d entries=%llu max_entries=%u"
	       " lookups=%llu"
	       " runs=%llu repeat=%llu warmup=%llu cpu=%d prog=xdp_map_access"
	       " prog_id=%u jited_bytes=%u\n",
	       o->kind_name, o->key_size, MAPS_VALUE_SIZE,
	       (unsigned long long)o->entries, o->max_entries,
	       (unsigned long long)o->lookups,
	       (unsigned long long)o->runs, (unsigned long long)o->repeat,
	       (unsigned long long)o->warmup, o->cpu, info.id, info.jited_prog_len);
}

static int run_all(struct map_access *skel, const struct runner_opts *o)
{
	struct samples res;
	struct samples_summary sum;
	uint32_t duration, retval;
	uint64_t i;
	int err = -1;

	if (samples_init(&res, (size_t)o->runs) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	for (i = 0; i < o->warmup; i++)
		if (test_run(skel, o, &duration, &retval) < 0)
			goto out;
	print_header(skel, o);
	for (i = 0; i < o->runs; i++) {
		if (test_run(skel, o, &duration, &retval) < 0)
			goto out;
		printf("benchmark res: %f\nreturn value: %u\n", (double)duration, retval);
		if (samples_push(&res, duration) < 0)
			goto out;
	}
	if (samples_summarize(&res, &sum) < 0)
		goto out;
	/* The minimum is there for noisy machines (a VM loses its CPU now
	 * and then); the paper's statistic is the median. */
	printf("summary: runs=%zu min_res=%llu median_res=%llu ns_per_access=%.3f\n",
	       res.len, (unsigned long long)sum.min, (unsigned long long)sum.median,
	       (double)sum.median / (double)o->lookups);
	err = 0;
out:
	samples_free(&res);
	return err;
}

int main(int argc, char **argv)
{
	struct runner_opts o;
	struct map_access *skel;
	struct bpf_map *map;
	int err;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (pin_to_cpu(PROG, o.cpu) < 0 || set_capacity(&o) < 0)
		return 1;
	skel = open_variant(&o);
	if (!skel)
		return 1;
	map = map_under_test(skel, &o);
	err = map ? fill_map(map, &o) : 0;
	if (!err)
		err = run_all(skel, &o);
	map_access__destroy(skel);
	return err ? 1 : 0;
}
