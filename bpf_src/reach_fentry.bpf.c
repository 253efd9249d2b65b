// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Table 1, preparation cost, for kernels that allow fentry/fexit (the
 * Cloudlab nodes; this project's local VM refuses them with EPERM).
 *
 * The paper timed, in a patched kernel, the code that prepares a hook's
 * context, enters the program and handles its verdict. On a stock kernel
 * the same span is the kernel function that wraps the program run, timed
 * from its fentry to its fexit:
 *
 *   XDP     bpf_prog_run_generic_xdp (generic XDP); the loader retargets
 *           xdp_enter/xdp_exit to the driver's function for native XDP,
 *           for example mlx5e_xdp_handle (mlx5) or veth_xdp_rcv_skb (veth)
 *   TC      tcf_classify (clsact + cls_bpf, "tc filter ... bpf da")
 *   SK_SKB  sk_psock_verdict_recv (verdict program of a sockmap)
 *
 * Every fexit sends {hook, duration ns} to fentry_events. The program's
 * own time (bpf_stats: run_time_ns / run_cnt) is then subtracted from the
 * median duration; what is left is the preparation cost. reach_server
 * --fentry loads this object, attaches the chosen pairs and writes the
 * durations as "It takes N to run HOOK".
 *
 * Only these functions' callers run these hooks, and only on the
 * interfaces and sockets the experiment set up, so no filter is needed:
 * tcf_classify runs only where a tc filter is attached, the verdict only
 * for sockets in a sockmap, the driver's XDP path only with a program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "hooks_reach.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REACH_HOOK_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} fentry_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} fentry_events SEC(".maps");

static __always_inline int enter(__u32 hook)
{
	__u64 *start = bpf_map_lookup_elem(&fentry_start, &hook);

	if (start)
		*start = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int leave(__u32 hook)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 *start = bpf_map_lookup_elem(&fentry_start, &hook);
	struct reach_event ev = { .hook = hook, .kind = REACH_KIND_RUN };

	/* No start: attached while the function was running. */
	if (!start || *start == 0)
		return 0;
	ev.delta_ns = (__s64)(now - *start);
	*start = 0;
	bpf_ringbuf_output(&fentry_events, &ev, sizeof(ev), BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("fentry/bpf_prog_run_generic_xdp")
int xdp_enter(__u64 *ctx)
{
	return enter(REACH_HOOK_XDP);
}

SEC("fexit/bpf_prog_run_generic_xdp")
int xdp_exit(__u64 *ctx)
{
	return leave(REACH_HOOK_XDP);
}

SEC("fentry/tcf_classify")
int tc_enter(__u64 *ctx)
{
	return enter(REACH_HOOK_TC);
}

SEC("fexit/tcf_classify")
int tc_exit(__u64 *ctx)
{
	return leave(REACH_HOOK_TC);
}

SEC("fentry/sk_psock_verdict_recv")
int sk_skb_enter(__u64 *ctx)
{
	return enter(REACH_HOOK_SK_SKB);
}

SEC("fexit/sk_psock_verdict_recv")
int sk_skb_exit(__u64 *ctx)
{
	return leave(REACH_HOOK_SK_SKB);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
