// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Table 4: the collections user space reaches, one 64-byte entry each, and
 * the two programs that put data where user space then reads it:
 *
 *   ua_fill_ringbuf  SEC("syscall"), run through BPF_PROG_TEST_RUN: queues
 *                    args->count events into ua_ringbuf before the
 *                    consumer is timed (the paper queues 100K first).
 *   ua_to_xsk        SEC("xdp"): sends every frame of its queue to the
 *                    AF_XDP socket of that queue, so the RX ring fills.
 *
 * Nothing here is timed: user_access times only its own side.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "chan_msg.h"

/* Key 0 is the entry user space reads; the maps are small on purpose
 * (one hot entry, like the paper's). */
#define UA_ENTRIES 1

#define UA_MAP(_name, _type)                                                   \
	struct {                                                               \
		__uint(type, _type);                                           \
		__uint(max_entries, UA_ENTRIES);                               \
		__type(key, __u32);                                            \
		__type(value, struct chan_msg);                                \
	} _name SEC(".maps")

UA_MAP(ua_array, BPF_MAP_TYPE_ARRAY);
UA_MAP(ua_hash, BPF_MAP_TYPE_HASH);
UA_MAP(ua_lru_hash, BPF_MAP_TYPE_LRU_HASH);
UA_MAP(ua_pcpu_array, BPF_MAP_TYPE_PERCPU_ARRAY);
UA_MAP(ua_pcpu_hash, BPF_MAP_TYPE_PERCPU_HASH);
UA_MAP(ua_pcpu_lru, BPF_MAP_TYPE_LRU_PERCPU_HASH);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, UA_ENTRIES);
	__type(key, __u32);
	__type(value, struct chan_msg);
} ua_mmap_array SEC(".maps");

/* Resized by user space before load to hold one round of events. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} ua_ringbuf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} ua_xsks SEC(".maps");

/* bpf_loop callback: one 64-byte event. A full ring ends the loop (return
 * 1) instead of spinning through failures. */
static long queue_one(__u64 index, void *data)
{
	struct ua_fill_args *args = data;
	struct chan_msg msg;

	__builtin_memset(&msg, 0, sizeof(msg));
	*(__u64 *)msg.data = index;
	/* No wakeup: nobody sleeps on this ring, the consumer runs after. */
	if (bpf_ringbuf_output(&ua_ringbuf, &msg, sizeof(msg), BPF_RB_NO_WAKEUP))
		return 1;
	args->queued++;
	return 0;
}

SEC("syscall")
int ua_fill_ringbuf(struct ua_fill_args *ctx)
{
	struct ua_fill_args args = { .count = ctx->count, .queued = 0 };

	/* bpf_loop: 100K iterations would never pass as an unrolled or
	 * bounded loop, and a helper call per event is what a real
	 * producer pays too. */
	bpf_loop(args.count, queue_one, &args, 0);
	ctx->queued = args.queued;
	return 0;
}

/* Verdict for a frame whose queue has no socket. Attached to an interface
 * (--xsk-fill traffic) that is XDP_PASS, so the other queues keep working;
 * for injected test frames user space sets XDP_DROP, so that none of them
 * ever reaches the stack. */
const volatile __u32 ua_no_socket_verdict = XDP_PASS;

SEC("xdp")
int ua_to_xsk(struct xdp_md *ctx)
{
	return bpf_redirect_map(&ua_xsks, ctx->rx_queue_index, ua_no_socket_verdict);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
