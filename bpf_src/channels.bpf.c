// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Figure 13: four ways to move a 64-byte payload from XDP to user space.
 * Each program takes UDP/IPv4 datagrams to chan_port arriving on RX queue
 * chan_queue, copies the first CHAN_MSG_SIZE bytes of their payload into
 * its channel, and drops the frame (the payload has been delivered):
 *
 *   chan_array      ring in a plain array; user space polls it with
 *                   bpf_map_lookup_elem / bpf_map_update_elem syscalls
 *   chan_ringbuf    BPF ring buffer (reserve + submit)
 *   chan_mmap_ring  the same ring as chan_array in a BPF_F_MMAPABLE array;
 *                   user space spins on the shared memory
 *   chan_af_xdp     XDP_REDIRECT of the whole frame into an XSKMAP
 *
 * Everything else passes. Only one queue is served so that every ring has
 * a single producer (one NAPI context) and lock-free single-producer
 * single-consumer indexes are correct; AF_XDP binds one queue anyway.
 * channel_bench (user space) loads one program, sizes the maps, and
 * attaches it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "chan_msg.h"
#include "net_parse.h"

/* Set by channel_bench before load. chan_slots is a power of two. */
const volatile __u32 chan_port = 0;
const volatile __u32 chan_queue = 0;
const volatile __u32 chan_slots = 1;
/* Flags of bpf_ringbuf_submit: BPF_RB_NO_WAKEUP when the consumer spins
 * (a wakeup is an irq_work per message it does not need), 0 when it
 * sleeps in epoll (the kernel then wakes it only when it has caught up). */
const volatile __u64 chan_rb_flags = 0;

/* Resized before load: CHAN_RING_ELEMS(chan_slots) elements. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CHAN_RING_ELEMS(1));
	__type(key, __u32);
	__type(value, struct chan_msg);
} ring_sys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, CHAN_RING_ELEMS(1));
	__type(key, __u32);
	__type(value, struct chan_msg);
} ring_mmap SEC(".maps");

/* Resized before load to hold chan_slots messages with their headers. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 12);
} ring_buf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chan_stats);
} chan_stats SEC(".maps");

enum chan_event { EV_QUEUED, EV_DROPPED, EV_SHORT };

/* Per-CPU counters: no atomic, no shared cache line with the consumer. */
static __always_inline void count(enum chan_event ev)
{
	__u32 key = 0;
	struct chan_stats *st = bpf_map_lookup_elem(&chan_stats, &key);

	if (!st)
		return;
	if (ev == EV_QUEUED)
		st->queued++;
	else if (ev == EV_DROPPED)
		st->dropped++;
	else
		st->short_pkts++;
}

/*
 * The payload of a datagram this program serves, with at least
 * CHAN_MSG_SIZE bytes checked against data_end; NULL for any other frame.
 */
static __always_inline void *served_payload(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct udp4_pkt pkt;
	void *payload;

	if (ctx->rx_queue_index != chan_queue)
		return NULL;
	if (parse_udp4(data, data_end, &pkt) < 0)
		return NULL;
	if (bpf_ntohs(pkt.udp->dest) != chan_port)
		return NULL;
	payload = pkt.udp + 1;
	if (payload + CHAN_MSG_SIZE > data_end) {
		count(EV_SHORT);
		return NULL;
	}
	return payload;
}

static __always_inline struct chan_msg *ring_elem(void *ring, __u32 index)
{
	return bpf_map_lookup_elem(ring, &index);
}

/*
 * Single-producer push into an array ring (see chan_msg.h for the layout).
 * The tail is the consumer's; a value outside [head - slots, head] can only
 * be a torn or stale read and is treated as "full", never as free room.
 * The head is published with an atomic exchange, a full barrier on every
 * JIT: the slot's bytes are visible before the index that announces them.
 */
static __always_inline void ring_push(void *ring, const void *payload)
{
	struct chan_msg *head_elem = ring_elem(ring, CHAN_HEAD);
	struct chan_msg *tail_elem = ring_elem(ring, CHAN_TAIL);
	struct chan_index *head, *tail;
	struct chan_msg *slot;
	__u64 h, t;

	if (!head_elem || !tail_elem)
		return;
	head = (struct chan_index *)head_elem;
	tail = (struct chan_index *)tail_elem;
	h = head->value;
	t = *(volatile __u64 *)&tail->value;
	if (t > h || h - t >= chan_slots) {
		count(EV_DROPPED);
		return;
	}
	slot = ring_elem(ring, CHAN_FIRST_SLOT + (__u32)(h & (chan_slots - 1)));
	if (!slot)
		return;
	__builtin_memcpy(slot->data, payload, CHAN_MSG_SIZE);
	__atomic_exchange_n(&head->value, h + 1, __ATOMIC_SEQ_CST);
	count(EV_QUEUED);
}

SEC("xdp")
int chan_array(struct xdp_md *ctx)
{
	void *payload = served_payload(ctx);

	if (!payload)
		return XDP_PASS;
	ring_push(&ring_sys, payload);
	return XDP_DROP;
}

SEC("xdp")
int chan_mmap_ring(struct xdp_md *ctx)
{
	void *payload = served_payload(ctx);

	if (!payload)
		return XDP_PASS;
	ring_push(&ring_mmap, payload);
	return XDP_DROP;
}

SEC("xdp")
int chan_ringbuf(struct xdp_md *ctx)
{
	void *payload = served_payload(ctx);
	struct chan_msg *msg;

	if (!payload)
		return XDP_PASS;
	/* reserve + submit writes the payload once, straight into the ring;
	 * bpf_ringbuf_output would do the same copy through a helper. */
	msg = bpf_ringbuf_reserve(&ring_buf, sizeof(*msg), 0);
	if (!msg) {
		count(EV_DROPPED);
		return XDP_DROP;
	}
	__builtin_memcpy(msg->data, payload, CHAN_MSG_SIZE);
	bpf_ringbuf_submit(msg, chan_rb_flags);
	count(EV_QUEUED);
	return XDP_DROP;
}

SEC("xdp")
int chan_af_xdp(struct xdp_md *ctx)
{
	long act;

	if (!served_payload(ctx))
		return XDP_PASS;
	/* The socket's ring may still be full: the kernel counts that drop
	 * in the socket's XDP_STATISTICS, which is where user space reads
	 * it. Here "queued" means "redirected". */
	act = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
	if (act == XDP_REDIRECT)
		count(EV_QUEUED);
	return (int)act;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
