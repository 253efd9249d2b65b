// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Table 3: time to access a collection from eBPF.
 *
 * xdp_map_access is run by map_runner through BPF_PROG_TEST_RUN. One run
 * performs `nr_lookups` lookups in a bpf_loop, so the duration the kernel
 * reports divided by `nr_lookups` is the time of one access, loop included.
 * The `stack` kind runs the same loop on a stack buffer and measures that
 * loop alone.
 *
 * Variants without recompiling: the map kind, key size, number of keys and
 * lookups are `const volatile` globals that map_runner sets before load. The
 * verifier then knows them and drops the branches of the other kinds, so a
 * run contains only the code of its own kind. Key sizes change map
 * definitions, hence one hash and one LRU map per key size; map_runner
 * shrinks the unused ones to one entry before load.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps_access.h"

const volatile __u32 map_kind = MAPS_KIND_ARRAY;
const volatile __u32 key_size = 4;
const volatile __u32 nr_lookups = 100000;
/* Keys 0..nr_keys-1 exist in the map; the loop cycles through them. */
const volatile __u32 nr_keys = 1;

/* Results of the last run, read by map_runner through the skeleton. Storing
 * the sum also keeps the compiler from dropping the loads it adds up. */
__u64 last_sum;
__u32 last_misses;

/*
 * Id of the first key looked up; always 0. It is read from writable memory
 * on purpose: the verifier cannot know its value, so it treats the key id
 * as unknown instead of simulating the loop key by key, which fails once
 * the map holds more than a few thousand keys ("too complex").
 */
__u32 first_id;

struct maps_value {
	__u64 words[MAPS_VALUE_WORDS];
};

struct maps_key {
	__u32 id;
	__u8 fill[MAPS_KEY_MAX - sizeof(__u32)];
};

struct maps_key8 {
	__u32 id;
	__u8 fill[8 - sizeof(__u32)];
};

struct maps_key16 {
	__u32 id;
	__u8 fill[16 - sizeof(__u32)];
};

/* One entry each until map_runner resizes the map under test. */
#define DEFINE_MAP(_name, _type, _key)				\
	struct {						\
		__uint(type, _type);				\
		__uint(max_entries, 1);				\
		__type(key, _key);				\
		__type(value, struct maps_value);		\
	} _name SEC(".maps")

DEFINE_MAP(array_k4, BPF_MAP_TYPE_ARRAY, __u32);
DEFINE_MAP(pcpu_array_k4, BPF_MAP_TYPE_PERCPU_ARRAY, __u32);
DEFINE_MAP(hash_k4, BPF_MAP_TYPE_HASH, __u32);
DEFINE_MAP(hash_k8, BPF_MAP_TYPE_HASH, struct maps_key8);
DEFINE_MAP(hash_k16, BPF_MAP_TYPE_HASH, struct maps_key16);
DEFINE_MAP(hash_k32, BPF_MAP_TYPE_HASH, struct maps_key);
DEFINE_MAP(lru_k4, BPF_MAP_TYPE_LRU_HASH, __u32);
DEFINE_MAP(lru_k8, BPF_MAP_TYPE_LRU_HASH, struct maps_key8);
DEFINE_MAP(lru_k16, BPF_MAP_TYPE_LRU_HASH, struct maps_key16);
DEFINE_MAP(lru_k32, BPF_MAP_TYPE_LRU_HASH, struct maps_key);

/* State of the loop; lives on the program's stack, shared with the
 * callback through bpf_loop's context pointer. */
struct loop_state {
	struct maps_key key;	/* the lookups read its first key_size bytes */
	__u64 sum;
	__u32 next_id;
	__u32 misses;
	struct maps_value on_stack;	/* what the stack kind "looks up" */
};

static __always_inline void *lookup_hash(struct maps_key *key)
{
	switch (key_size) {
	case 8:
		return bpf_map_lookup_elem(&hash_k8, key);
	case 16:
		return bpf_map_lookup_elem(&hash_k16, key);
	case 32:
		return bpf_map_lookup_elem(&hash_k32, key);
	default:
		return bpf_map_lookup_elem(&hash_k4, key);
	}
}

static __always_inline void *lookup_lru(struct maps_key *key)
{
	switch (key_size) {
	case 8:
		return bpf_map_lookup_elem(&lru_k8, key);
	case 16:
		return bpf_map_lookup_elem(&lru_k16, key);
	case 32:
		return bpf_map_lookup_elem(&lru_k32, key);
	default:
		return bpf_map_lookup_elem(&lru_k4, key);
	}
}

/* The value of the current key in the collection under test. */
static __always_inline struct maps_value *lookup(struct loop_state *st)
{
	switch (map_kind) {
	case MAPS_KIND_ARRAY:
		return bpf_map_lookup_elem(&array_k4, &st->key.id);
	case MAPS_KIND_PERCPU_ARRAY:
		return bpf_map_lookup_elem(&pcpu_array_k4, &st->key.id);
	case MAPS_KIND_HASH:
		return lookup_hash(&st->key);
	case MAPS_KIND_LRU_HASH:
		return lookup_lru(&st->key);
	default:
		return &st->on_stack;
	}
}

/* One iteration: set the key, look it up, use the value, move on. */
static long lookup_one(__u32 index, void *ctx)
{
	struct loop_state *st = ctx;
	struct maps_value *value;

	st->key.id = st->next_id;
	value = lookup(st);
	if (value)
		st->sum += value->words[0];
	else
		st->misses++;
	/* A compare instead of `%`: a division per lookup would cost more
	 * than an array access and hide what is measured. */
	if (++st->next_id >= nr_keys)
		st->next_id = 0;
	return 0;
}

SEC("xdp")
int xdp_map_access(struct xdp_md *ctx)
{
	struct loop_state st = {};

	st.next_id = first_id;

	__builtin_memset(st.key.fill, MAPS_KEY_FILL, sizeof(st.key.fill));
	/* The stack kind reads word 0 of key 0, as a map lookup would. */
	st.on_stack.words[0] = MAPS_VALUE_OF(0);

	bpf_loop(nr_lookups, lookup_one, &st, 0);

	last_sum = st.sum;
	last_misses = st.misses;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
