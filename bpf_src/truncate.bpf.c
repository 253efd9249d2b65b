// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Figure 10: does cutting payloads short in XDP make user space faster?
 *
 * xdp_truncate (SEC "xdp") shrinks the payload of every UDP/IPv4 datagram
 * to truncate_config.port down to the size in size_map[0] (bytes of UDP
 * payload), then passes it on. 0, or a size not below the current
 * payload, leaves the packet as it is; so does an unconfigured port.
 *
 * Both maps are read per packet, so the size can change during a run
 * (the paper's sweep: bpftool map update name size_map key 0 ... value ...).
 * The headers are kept consistent: IPv4 total length and header checksum,
 * UDP length, and the UDP checksum set to 0 ("none", legal in IPv4), since
 * recomputing it over the kept payload would cost more than the cut saves.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "net_parse.h"

struct truncate_config {
	__u32 port;	/* UDP destination port, host byte order; 0 = off */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct truncate_config);
} truncate_config SEC(".maps");

/* Key 0: the UDP payload size to keep, in bytes. The name is the one of
 * the paper's artifact, so its bpftool commands work unchanged. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} size_map SEC(".maps");

static __always_inline __u32 read_u32(void *map)
{
	__u32 key = 0, *v;

	v = bpf_map_lookup_elem(map, &key);
	return v ? *v : 0;
}

/* RFC 1624: the checksum after a 16-bit field went from @old to @new. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + (__u32)new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Bytes to cut from the end of the frame [data, data_end) to keep @keep
 * payload bytes, or 0 to leave it. Frame bytes past the datagram
 * (Ethernet padding) go too. Lengths, not pointers: the verifier refuses
 * 32-bit arithmetic on packet pointers. */
static __always_inline __u32 bytes_to_cut(struct udp4_pkt *pkt, void *data,
					   void *data_end, __u32 keep)
{
	__u64 frame_len = data_end - data;
	__u64 payload_off = (void *)(pkt->udp + 1) - data;
	__u32 udp_len = bpf_ntohs(pkt->udp->len);

	if (udp_len < sizeof(struct udphdr) ||
	    payload_off - sizeof(struct udphdr) + udp_len > frame_len)
		return 0;	/* malformed: not ours to fix */
	if (keep == 0 || keep >= udp_len - sizeof(struct udphdr))
		return 0;
	return (__u32)(frame_len - payload_off - keep);
}

/* After the cut: lengths and checksums that describe @keep payload bytes. */
static __always_inline void fix_headers(struct udp4_pkt *pkt, __u32 keep)
{
	__u16 udp_len = (__u16)(sizeof(struct udphdr) + keep);
	__u16 old_tot = pkt->ip->tot_len;
	__u16 new_tot = bpf_htons((__u16)(pkt->ip->ihl * 4) + udp_len);

	pkt->ip->tot_len = new_tot;
	pkt->ip->check = csum_replace16(pkt->ip->check, old_tot, new_tot);
	pkt->udp->len = bpf_htons(udp_len);
	pkt->udp->check = 0;
}

SEC("xdp")
int xdp_truncate(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 port = read_u32(&truncate_config);
	struct udp4_pkt pkt;
	__u32 keep, cut;

	if (port == 0 || parse_udp4(data, data_end, &pkt) < 0)
		return XDP_PASS;
	if (pkt.udp->dest != bpf_htons(port))
		return XDP_PASS;
	keep = read_u32(&size_map);
	cut = bytes_to_cut(&pkt, data, data_end, keep);
	if (cut == 0)
		return XDP_PASS;

	/* Cut first: if the kernel refuses, the packet is still whole and
	 * consistent. The cut moves data_end, so parse again after it. */
	if (bpf_xdp_adjust_tail(ctx, -(int)cut) < 0)
		return XDP_PASS;
	data_end = (void *)(long)ctx->data_end;
	data = (void *)(long)ctx->data;
	if (parse_udp4(data, data_end, &pkt) < 0)
		return XDP_PASS;
	fix_headers(&pkt, keep);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
