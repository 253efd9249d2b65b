// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Figures 11 and 12: memory footprint and access pattern of collections
 * under traffic.
 *
 * xdp_flow_count counts packets and bytes per flow for UDP/IPv4 datagrams
 * to FLOW_PORT, then drops them, so that user space never limits the rate.
 * Every such packet is also counted in the per-CPU array flow_stats: the
 * throughput is read there, on the DUT, and not taken from the sender.
 * Everything else (ARP, other ports) passes untouched.
 *
 * Build variants (one object per point of the figure; max_entries is part
 * of the map definition, which the loader does not change):
 *
 *   -DFLOW_MAP=ARRAY   array, slot = (source address + source port) % entries
 *   -DFLOW_MAP=HASH    hash map keyed by the 5-tuple (default)
 *   -DFLOW_MAP=LRU     LRU hash map keyed by the 5-tuple
 *   -DFLOW_MAP=NONE    parse, count in flow_stats, drop: the baseline
 *   -DFLOW_ENTRIES=N   max_entries of flow_table (default 1024)
 *   -DFLOW_PORT=P      UDP destination port counted (default 8080)
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "maps_flow.h"
#include "net_parse.h"

#define FLOW_KIND_ARRAY 1
#define FLOW_KIND_HASH 2
#define FLOW_KIND_LRU 3
#define FLOW_KIND_NONE 4

#ifndef FLOW_MAP
#define FLOW_MAP HASH
#endif
#ifndef FLOW_ENTRIES
#define FLOW_ENTRIES 1024
#endif
#ifndef FLOW_PORT
#define FLOW_PORT 8080
#endif

/* -DFLOW_MAP=HASH selects FLOW_KIND_HASH. Pasting (rather than defining
 * HASH and friends) keeps such short names out of the namespace, and an
 * unknown name pastes into an undefined macro, which #if reads as 0. */
#define FLOW_PASTE_(a, b) a##b
#define FLOW_PASTE(a, b) FLOW_PASTE_(a, b)
#define FLOW_KIND FLOW_PASTE(FLOW_KIND_, FLOW_MAP)

#if FLOW_KIND < FLOW_KIND_ARRAY || FLOW_KIND > FLOW_KIND_NONE
#error "FLOW_MAP must be ARRAY, HASH, LRU or NONE"
#endif
#if FLOW_ENTRIES < 1
#error "FLOW_ENTRIES must be at least 1"
#endif
#if FLOW_PORT < 1 || FLOW_PORT > 65535
#error "FLOW_PORT must be a UDP port, 1-65535"
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOW_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} flow_stats SEC(".maps");

#if FLOW_KIND == FLOW_KIND_ARRAY
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FLOW_ENTRIES);
	__type(key, __u32);
	__type(value, struct flow_counters);
} flow_table SEC(".maps");
#elif FLOW_KIND == FLOW_KIND_HASH || FLOW_KIND == FLOW_KIND_LRU
#if FLOW_KIND == FLOW_KIND_HASH
#define FLOW_TABLE_TYPE BPF_MAP_TYPE_HASH
#else
#define FLOW_TABLE_TYPE BPF_MAP_TYPE_LRU_HASH
#endif
struct {
	__uint(type, FLOW_TABLE_TYPE);
	__uint(max_entries, FLOW_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct flow_counters);
} flow_table SEC(".maps");
#endif

static __always_inline void stat_add(__u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&flow_stats, &key);

	/* Per-CPU: no other CPU writes this copy, a plain add is exact. */
	if (v)
		*v += n;
}

#if FLOW_KIND != FLOW_KIND_NONE
/*
 * Per-flow counters use plain adds, as the measured applications would:
 * a flow arrives on one RX queue and is handled by one CPU at a time, so
 * its entry has one writer. (Two flows sharing an array slot on different
 * queues could lose an increment; the figures' throughput comes from
 * flow_stats, which cannot.)
 */
static __always_inline void counters_add(struct flow_counters *c, __u64 len)
{
	c->packets++;
	c->bytes += len;
}
#endif

#if FLOW_KIND == FLOW_KIND_ARRAY
/* Consecutive source addresses or consecutive source ports (how the
 * generators vary flows) land in consecutive slots: no collisions as long
 * as the flows fit, like the hash maps. FLOW_ENTRIES is a constant, so the
 * compiler turns `%` into a multiplication. */
static __always_inline void count_flow(const struct udp4_pkt *pkt, __u64 len)
{
	__u32 slot = (bpf_ntohl(pkt->ip->saddr) + bpf_ntohs(pkt->udp->source)) %
		     FLOW_ENTRIES;
	struct flow_counters *c = bpf_map_lookup_elem(&flow_table, &slot);

	if (c)
		counters_add(c, len);
}
#elif FLOW_KIND == FLOW_KIND_HASH || FLOW_KIND == FLOW_KIND_LRU
static __always_inline void make_flow_key(const struct udp4_pkt *pkt,
					  struct flow_key *key)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->saddr = pkt->ip->saddr;
	key->daddr = pkt->ip->daddr;
	key->sport = pkt->udp->source;
	key->dport = pkt->udp->dest;
	key->proto = pkt->ip->protocol;
}

/* First packet of a flow: insert its entry. Another CPU may insert the
 * same flow in between (EEXIST): then count into its entry. */
static __always_inline void insert_flow(const struct flow_key *key, __u64 len)
{
	struct flow_counters init = { .packets = 1, .bytes = len };
	struct flow_counters *c;

	if (bpf_map_update_elem(&flow_table, key, &init, BPF_NOEXIST) == 0)
		return;
	c = bpf_map_lookup_elem(&flow_table, key);
	if (c)
		counters_add(c, len);
	else
		stat_add(FLOW_STAT_NO_ROOM, 1);
}

static __always_inline void count_flow(const struct udp4_pkt *pkt, __u64 len)
{
	struct flow_key key;
	struct flow_counters *c;

	make_flow_key(pkt, &key);
	c = bpf_map_lookup_elem(&flow_table, &key);
	if (c)
		counters_add(c, len);
	else
		insert_flow(&key, len);
}
#else
/* Baseline: parsing and flow_stats only. */
static __always_inline void count_flow(const struct udp4_pkt *pkt, __u64 len)
{
}
#endif

SEC("xdp")
int xdp_flow_count(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u64 len = data_end - data;
	struct udp4_pkt pkt;

	if (parse_udp4(data, data_end, &pkt) < 0)
		return XDP_PASS;
	if (pkt.udp->dest != bpf_htons(FLOW_PORT))
		return XDP_PASS;

	count_flow(&pkt, len);
	stat_add(FLOW_STAT_PACKETS, 1);
	stat_add(FLOW_STAT_BYTES, len);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
