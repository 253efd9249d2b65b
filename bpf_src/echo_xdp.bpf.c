// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Figure 3, XDP hook: answer UDP/IPv4 requests to the configured port from
 * the driver, before an sk_buff exists. The reply leaves through the same
 * interface with XDP_TX.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "echo_config.h"
#include "net_parse.h"

SEC("xdp")
int xdp_echo(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct echo_config *cfg;
	struct udp4_pkt pkt;

	cfg = echo_config_get();
	if (!cfg)
		return XDP_PASS;
	if (parse_udp4(data, data_end, &pkt) < 0)
		return XDP_PASS;
	if (bpf_ntohs(pkt.udp->dest) != cfg->port)
		return XDP_PASS;

	swap_udp4(&pkt);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
