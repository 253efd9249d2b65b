// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Table 1, time to reach a hook, on a stock kernel.
 *
 * The paper patched the NIC driver to write a time stamp into UDP packets
 * for port 3030 and made TC, SK_SKB and the socket print "now - stamp".
 * Here an XDP program plays the driver's part and eBPF programs at the
 * later hooks read the stamp:
 *
 *   xdp_stamp     SEC("xdp")    writes bpf_ktime_get_ns() into the payload
 *   xdp_reach     SEC("xdp")    reports now - stamp, for a stamp written by
 *                               the sender (udp_flood --stamp); used where
 *                               the time to reach XDP itself is wanted
 *   tc_reach      SEC("tc")     reports now - stamp, TC_ACT_OK
 *   sk_skb_reach  SEC("sk_skb/stream_verdict")
 *                               reports now - stamp, SK_PASS
 *   sock_reach    SEC("tp_btf/sk_data_ready")
 *                               reports SOCKET_QUEUE and SOCKET_READY
 *
 * sk_skb_reach runs for the sockets in reach_sockmap.
 * Reports go to the ring buffer reach_events as struct reach_event;
 * reach_server drains it and adds the socket's own sample. Only UDP
 * datagrams to reach_config.port (and reach_config.addr, unless 0) with at
 * least REACH_STAMP_BYTES of payload are looked at; everything else passes
 * untouched.
 *
 * sk_skb_reach runs on UDP sockets as a stream verdict: without a stream
 * parser the kernel calls it once per datagram, with the data starting at
 * the UDP payload. The libbpf 1.1 of Debian 12 does not know the newer
 * "sk_skb/verdict" section name; on this kernel both run the same code.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "net_parse.h"
#include "hooks_kernel.h"
#include "hooks_reach.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reach_config);
} reach_config SEC(".maps");

/* The socket whose datagrams sk_skb_reach sees: reach_server --sockmap
 * puts its socket at key 0. Attach sk_skb_reach to this map first. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} reach_sockmap SEC(".maps");

/* 4 MiB: 24 bytes a record (header included), about 170K samples, so a
 * reader that falls behind by a second at 100K pps loses nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} reach_events SEC(".maps");

/*
 * What sock_reach needs to know between the tracepoint's calls for one
 * datagram; they all run on the CPU that received it, in one softirq.
 */
struct reach_cpu_state {
	__u64 verdict_stamp;	/* set by sk_skb_reach, taken by sock_reach */
	__u64 last_queued;	/* stamp of the last SOCKET_QUEUE sample */
	__u64 queue_done;	/* when sock_reach finished that sample */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reach_cpu_state);
} reach_cpu SEC(".maps");

static __always_inline struct reach_cpu_state *cpu_state(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&reach_cpu, &key);
}

/* The configuration, or NULL while measuring is off (port 0). */
static __always_inline struct reach_config *reach_cfg(void)
{
	struct reach_config *cfg;
	__u32 key = 0;

	cfg = bpf_map_lookup_elem(&reach_config, &key);
	return cfg && cfg->port ? cfg : NULL;
}

static __always_inline int addr_matches(const struct reach_config *cfg, __be32 addr)
{
	return cfg->addr == 0 || cfg->addr == addr;
}

/*
 * The stamp of a UDP/IPv4 frame for the configured port and address, in
 * [data, data_end): a pointer to its first byte, or NULL when the frame
 * is not one of ours.
 */
static __always_inline void *frame_stamp(void *data, void *data_end)
{
	struct reach_config *cfg = reach_cfg();
	struct udp4_pkt pkt;
	void *payload;

	if (!cfg || parse_udp4(data, data_end, &pkt) < 0)
		return NULL;
	if (pkt.udp->dest != bpf_htons(cfg->port) || !addr_matches(cfg, pkt.ip->daddr))
		return NULL;
	payload = pkt.udp + 1;
	if (payload + REACH_STAMP_BYTES > data_end)
		return NULL;
	return payload;
}

/*
 * Queue one record. BPF_RB_NO_WAKEUP: waking the reader costs an irq_work
 * on this CPU, on the very path being timed, and reach_server polls the
 * ring after every datagram anyway.
 */
static __always_inline void emit(__u32 hook, __u32 kind, __s64 delta)
{
	struct reach_event ev = { .hook = hook, .kind = kind, .delta_ns = delta };

	bpf_ringbuf_output(&reach_events, &ev, sizeof(ev), BPF_RB_NO_WAKEUP);
}

/* A reach sample; a stamp of 0 is an unstamped packet (for example
 * udp_flood without --stamp). */
static __always_inline void report(__u32 hook, __u64 stamp, __u64 now)
{
	if (stamp)
		emit(hook, REACH_KIND_REACH, (__s64)(now - stamp));
}

SEC("xdp")
int xdp_stamp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct udphdr *udp;
	void *stamp;
	__u64 now;

	stamp = frame_stamp(data, data_end);
	if (!stamp)
		return XDP_PASS;
	now = bpf_ktime_get_ns();
	__builtin_memcpy(stamp, &now, sizeof(now));
	/* The payload changed, so the old UDP checksum is wrong. Zero means
	 * "no checksum" in IPv4 and is cheaper than an update the driver
	 * stage of the paper would not have paid either. */
	udp = stamp - sizeof(*udp);
	udp->check = 0;
	return XDP_PASS;
}

SEC("xdp")
int xdp_reach(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u64 now = bpf_ktime_get_ns();
	void *stamp;
	__u64 then;

	stamp = frame_stamp(data, data_end);
	if (!stamp)
		return XDP_PASS;
	__builtin_memcpy(&then, stamp, sizeof(then));
	report(REACH_HOOK_XDP, then, now);
	return XDP_PASS;
}

SEC("tc")
int tc_reach(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	void *data = (void *)(long)skb->data;
	/* Read the clock first: the parsing below belongs to this program,
	 * not to the path that brought the packet here. */
	__u64 now = bpf_ktime_get_ns();
	void *stamp;
	__u64 then;

	/* A frame whose headers are not in the linear area is not a small
	 * UDP datagram of ours; no pull, it would cost every packet. */
	stamp = frame_stamp(data, data_end);
	if (!stamp)
		return TC_ACT_OK;
	__builtin_memcpy(&then, stamp, sizeof(then));
	report(REACH_HOOK_TC, then, now);
	return TC_ACT_OK;
}

SEC("sk_skb/stream_verdict")
int sk_skb_reach(struct __sk_buff *skb)
{
	__u64 now = bpf_ktime_get_ns();
	struct reach_config *cfg = reach_cfg();
	struct reach_cpu_state *state;
	__u64 then;

	/* In sk_skb, local_port is the receiving socket's port (host byte
	 * order), and the data starts at the UDP payload. */
	if (!cfg || skb->local_port != cfg->port || !addr_matches(cfg, skb->local_ip4))
		return SK_PASS;
	if (bpf_skb_load_bytes(skb, 0, &then, sizeof(then)) < 0)
		return SK_PASS;
	report(REACH_HOOK_SK_SKB, then, now);
	/* Tell sock_reach that the next wake-up of this socket is the one
	 * that follows the verdict. */
	state = cpu_state();
	if (state)
		state->verdict_stamp = then;
	return SK_PASS;
}

/* The stamp of the newest datagram on @sk's receive queue, or 0. At this
 * point skb->data may or may not have passed the UDP header; the
 * transport header offset says where it is either way. */
static __always_inline __u64 newest_stamp(struct sock *sk)
{
	struct sk_buff *skb = BPF_CORE_READ(sk, sk_receive_queue.prev);
	unsigned char *head;
	__u16 transport;
	__u64 stamp = 0;

	if (!skb || (void *)skb == (void *)&sk->sk_receive_queue)
		return 0;	/* empty: prev points back to the list head */
	head = BPF_CORE_READ(skb, head);
	transport = BPF_CORE_READ(skb, transport_header);
	bpf_probe_read_kernel(&stamp, sizeof(stamp),
			      head + transport + sizeof(struct udphdr));
	return stamp;
}

/*
 * The kernel's "data is ready" notice to a socket. Without a sockmap it
 * fires once per datagram, right after the datagram is queued:
 * SOCKET_QUEUE. On a socket in a sockmap it fires first when the
 * datagram is queued (the verdict has not run yet), then when the verdict's
 * result was queued for the reader (sk_skb_reach ran in between and left
 * its stamp): SOCKET_READY, and once more after that, ignored. The span
 * between the end of the first call and the start of the second is the
 * SK_SKB path itself (dequeue, context, verdict program, psock queueing),
 * reported as a "run SK_SKB" record.
 *
 * SOCKET_READY needs sk_skb_reach as the verdict program: an empty
 * verdict leaves no mark to tell the calls apart.
 */
SEC("tp_btf/sk_data_ready")
int sock_reach(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	__u64 now = bpf_ktime_get_ns();
	struct reach_config *cfg = reach_cfg();
	struct reach_cpu_state *state;
	__u64 then;

	/* A TCP socket on the same port would have no stamp where we look. */
	if (!cfg || BPF_CORE_READ(sk, __sk_common.skc_num) != cfg->port ||
	    BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP ||
	    !addr_matches(cfg, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr)))
		return 0;
	state = cpu_state();
	if (!state)
		return 0;
	if (state->verdict_stamp) {
		report(REACH_HOOK_SOCKET_READY, state->verdict_stamp, now);
		/* The SK_SKB path from queued to ready, this program's own
		 * work at SOCKET_QUEUE left out. */
		if (state->queue_done)
			emit(REACH_HOOK_SK_SKB, REACH_KIND_RUN,
			     (__s64)(now - state->queue_done));
		state->verdict_stamp = 0;
		state->queue_done = 0;
		return 0;
	}
	then = newest_stamp(sk);
	/* The same datagram may still be the newest at a later call. */
	if (then == 0 || then == state->last_queued)
		return 0;
	state->last_queued = then;
	report(REACH_HOOK_SOCKET_QUEUE, then, now);
	state->queue_done = bpf_ktime_get_ns();
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
