// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Local testbed only: an XDP program that passes every frame, attached to the
 * load generator's veth end. A veth delivers frames that its peer sends back
 * with XDP_TX only when it has an XDP program of its own (GRO alone does not
 * wake it), so without this the XDP echo of Figure 3 would never be received.
 * It sits on the reply path of every hook alike.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_napi_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
