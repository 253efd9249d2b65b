/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Table 1, "time to reach a hook": what reach_stamp.bpf.c and reach_server.c
 * share. Included by eBPF programs and by user space, so only fixed-size
 * <linux/types.h> types appear here.
 *
 * A stamp is a CLOCK_MONOTONIC time in nanoseconds (bpf_ktime_get_ns() in
 * the kernel, clock_gettime(CLOCK_MONOTONIC) in user space: the same clock)
 * stored in host byte order in the first REACH_STAMP_BYTES bytes of the UDP
 * payload. Every reader reports "now - stamp" for the hook it runs at.
 */
#ifndef HOOKS_REACH_H
#define HOOKS_REACH_H

#include <linux/types.h>

#define REACH_STAMP_BYTES 8

/*
 * Where a sample was taken, in the order a packet meets them. The names
 * are the words of the paper's kernel log ("It takes N to reach TC"); the
 * two socket-queue points are ours (a tracepoint, see reach_stamp.bpf.c):
 *
 *   XDP           xdp_reach (stamp from the sender)
 *   TC            tc_reach
 *   SOCKET_QUEUE  the datagram was queued on the UDP socket
 *   SK_SKB        sk_skb_reach, the verdict program
 *   SOCKET_READY  the verdict's result was queued for the reader (sockmap only)
 *   SOCKET        user space got it (reach_server)
 */
enum reach_hook {
	REACH_HOOK_XDP = 0,
	REACH_HOOK_TC = 1,
	REACH_HOOK_SOCKET_QUEUE = 2,
	REACH_HOOK_SK_SKB = 3,
	REACH_HOOK_SOCKET_READY = 4,
	REACH_HOOK_SOCKET = 5,
	REACH_HOOK_COUNT
};

/* What a record measures. */
enum reach_kind {
	REACH_KIND_REACH = 0,	/* now - stamp: "It takes N to reach HOOK" */
	REACH_KIND_RUN = 1,	/* a span of kernel work at HOOK, program included:
				 * "It takes N to run HOOK" */
};

/* One record of the reach_events (and fentry_events) ring buffer. */
struct reach_event {
	__u32 hook;	/* enum reach_hook */
	__u32 kind;	/* enum reach_kind */
	__s64 delta_ns;	/* REACH: negative only across two clocks */
};

/*
 * Value of reach_config[0]. The address matters for the socket tracepoint,
 * which sees every socket of the machine in every network namespace:
 * another experiment's socket on the same port must not count.
 */
struct reach_config {
	__u32 port;	/* UDP destination port, host byte order; 0 = off */
	__be32 addr;	/* destination/bound IPv4 address, network order; 0 = any */
};

#endif /* HOOKS_REACH_H */
