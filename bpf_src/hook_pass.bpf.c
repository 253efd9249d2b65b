// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Table 2: the smallest program each hook can run, so that an iperf
 * transfer measures the cost of the hook itself and not of any logic.
 *
 *   xdp_pass        SEC("xdp")                  XDP_PASS
 *   tc_pass         SEC("tc")                   TC_ACT_OK
 *   sk_skb_pass     SEC("sk_skb/stream_verdict") SK_PASS, on sockets of pass_sockmap
 *   sockops_insert  SEC("sockops")              puts TCP sockets into pass_sockmap
 *
 * An SK_SKB program only sees sockets that are in its map. iperf does not
 * know about sockmaps, so sockops_insert, attached to a cgroup v2 that holds
 * the iperf server, inserts every TCP connection it accepts (or opens) whose
 * local port is the one in pass_config. Nothing has to change in iperf.
 *
 * Attach sk_skb_pass to pass_sockmap BEFORE the first connection: a socket
 * takes the map's programs when it is inserted.
 *
 * The same programs serve Table 1 (an "empty program" at each hook for the
 * differential measurement of the preparation cost, see docs/methods.md).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* Slots of pass_sockmap. iperf -P 48 (the paper) needs 48; a few more
 * than the connections alive at once is enough, see next_slot. */
#define PASS_SOCKMAP_SLOTS 1024

struct pass_config {
	__u32 port;	/* local TCP port to insert, host byte order; 0 = none */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pass_config);
} pass_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, PASS_SOCKMAP_SLOTS);
	__type(key, __u32);
	/* 64-bit values: a lookup from user space returns the socket
	 * cookie, which lets tests count the inserted sockets. */
	__type(value, __u64);
} pass_sockmap SEC(".maps");

/* Next slot to fill. Slots are reused round robin: a closed socket leaves
 * the map by itself, and an iperf run never holds 1024 connections. */
__u32 next_slot = 0;

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("sk_skb/stream_verdict")
int sk_skb_pass(struct __sk_buff *skb)
{
	return SK_PASS;
}

static __always_inline __u32 configured_port(void)
{
	struct pass_config *cfg;
	__u32 key = 0;

	cfg = bpf_map_lookup_elem(&pass_config, &key);
	return cfg ? cfg->port : 0;
}

SEC("sockops")
int sockops_insert(struct bpf_sock_ops *skops)
{
	__u32 port, slot;

	/* Only a connection that just became established is worth
	 * inserting: listeners and half-open sockets carry no data. */
	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;

	port = configured_port();
	/* local_port is in host byte order in sock_ops. */
	if (port == 0 || skops->local_port != port)
		return 1;

	slot = __sync_fetch_and_add(&next_slot, 1) % PASS_SOCKMAP_SLOTS;
	bpf_sock_map_update(skops, &pass_sockmap, &slot, BPF_ANY);
	/* The return value of a sock_ops program only matters for the
	 * callbacks that ask for a decision; 1 means "ok" everywhere. */
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
