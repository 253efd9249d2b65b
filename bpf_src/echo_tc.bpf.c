// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Figure 3, TC hook: answer UDP/IPv4 requests to the configured port at TC
 * ingress (clsact), after the sk_buff is built but before the IP stack.
 *
 * TC has no "transmit back" verdict like XDP_TX, so the reply is redirected
 * to the egress of the interface it came in on. That ifindex differs per
 * host, so the loader writes it into echo_config next to the port.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "echo_config.h"
#include "net_parse.h"

/* Ethernet + IPv4 without options + UDP: what must be in the linear part. */
#define ECHO_MIN_HDRS (sizeof(struct ethhdr) + sizeof(struct iphdr) + \
		       sizeof(struct udphdr))

SEC("tc")
int tc_echo(struct __sk_buff *skb)
{
	struct echo_config *cfg;
	struct udp4_pkt pkt;
	void *data_end;
	void *data;

	cfg = echo_config_get();
	if (!cfg || cfg->ifindex == 0)
		return TC_ACT_OK;

	/* Direct packet access only sees the linear head. Small datagrams
	 * are linear already; pull only when they are not, since a pull may
	 * have to reallocate the head. */
	if (skb->data_end - skb->data < ECHO_MIN_HDRS &&
	    bpf_skb_pull_data(skb, ECHO_MIN_HDRS) < 0)
		return TC_ACT_OK;

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (parse_udp4(data, data_end, &pkt) < 0)
		return TC_ACT_OK;
	if (bpf_ntohs(pkt.udp->dest) != cfg->port)
		return TC_ACT_OK;

	swap_udp4(&pkt);
	/* Flags 0: to the egress queue of the interface, not its ingress. */
	return bpf_redirect(cfg->ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
