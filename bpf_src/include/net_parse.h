/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Ethernet / IPv4 / UDP parsing for XDP and TC programs.
 *
 * Every pointer handed out has been checked against data_end, in a form the
 * verifier can follow (compare the end of the header, not its start, with
 * data_end). Callers get NULL-free pointers or an error, nothing in between.
 */
#ifndef NET_PARSE_H
#define NET_PARSE_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Fragment offset and "more fragments" bits of iphdr.frag_off. */
#define NET_IP_MF 0x2000
#define NET_IP_OFFSET 0x1fff

struct udp4_pkt {
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
};

/*
 * Find the Ethernet, IPv4 and UDP headers of the frame [data, data_end).
 * Returns 0 and fills @pkt when the frame is an unfragmented UDP/IPv4
 * datagram with a complete UDP header, -1 otherwise. VLAN tags are not
 * handled: the experiment link is untagged, and a tagged frame simply
 * falls through to the kernel.
 */
static __always_inline int parse_udp4(void *data, void *data_end,
				      struct udp4_pkt *pkt)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	__u32 ihl_bytes;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -1;
	if (ip->version != 4 || ip->protocol != IPPROTO_UDP)
		return -1;
	/* A fragment either lacks the UDP header or lacks part of the
	 * payload: echoing it would return a different datagram. */
	if (ip->frag_off & bpf_htons(NET_IP_MF | NET_IP_OFFSET))
		return -1;

	/* IP options are legal; the header length is variable. */
	ihl_bytes = ip->ihl * 4;
	if (ihl_bytes < sizeof(*ip))
		return -1;
	udp = (void *)ip + ihl_bytes;
	if ((void *)(udp + 1) > data_end)
		return -1;

	pkt->eth = eth;
	pkt->ip = ip;
	pkt->udp = udp;
	return 0;
}

/*
 * Turn a request into its reply in place: swap MAC addresses, IPv4
 * addresses and UDP ports. Both the IPv4 header checksum and the UDP
 * checksum are one's complement sums in which source and destination
 * appear symmetrically, so swapping leaves them valid and nothing has to
 * be recomputed.
 */
static __always_inline void swap_udp4(struct udp4_pkt *pkt)
{
	unsigned char mac[ETH_ALEN];
	__be32 addr;
	__be16 port;

	__builtin_memcpy(mac, pkt->eth->h_dest, ETH_ALEN);
	__builtin_memcpy(pkt->eth->h_dest, pkt->eth->h_source, ETH_ALEN);
	__builtin_memcpy(pkt->eth->h_source, mac, ETH_ALEN);

	addr = pkt->ip->saddr;
	pkt->ip->saddr = pkt->ip->daddr;
	pkt->ip->daddr = addr;

	port = pkt->udp->source;
	pkt->udp->source = pkt->udp->dest;
	pkt->udp->dest = port;
}

#endif /* NET_PARSE_H */
