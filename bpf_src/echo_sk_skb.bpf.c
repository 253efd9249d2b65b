// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Figure 3, SK_SKB hook: answer UDP requests in the socket layer, after the
 * IP and UDP receive path but without the server process (which must not
 * wait on these sockets, or the psock wakes it for every datagram).
 *
 * The echo server puts two sockets into echo_sockmap: its receiving socket
 * at key 0, and at key 1 a UDP socket bound to the same address and port
 * and connected to the client. Every datagram for the echo port is
 * redirected to the egress of key 1, so the kernel sends the payload back
 * to the client through that connected socket.
 *
 * Attach this program to the map BEFORE the server inserts its sockets: a
 * socket takes the map's programs when it is inserted, and a program
 * attached later never sees the sockets already in the map.
 *
 * Section: "sk_skb/stream_verdict", attached as stream_verdict. Without a
 * stream parser the kernel runs a stream verdict program per datagram on
 * UDP sockets, exactly like the newer "sk_skb/verdict" (skb_verdict) type,
 * and the libbpf 1.1 / bpftool 7.1 of Debian 12 do not know the
 * "sk_skb/verdict" section name at all. See README.md.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "echo_config.h"

/* Keys of echo_sockmap; echo_server.c inserts its sockets at the same. */
#define ECHO_SOCK_RX 0
#define ECHO_SOCK_TX 1

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	/* 64-bit values so that a lookup from user space returns the
	 * socket cookie, which lets tools check what is inserted. */
	__type(value, __u64);
} echo_sockmap SEC(".maps");

SEC("sk_skb/stream_verdict")
int sk_skb_echo(struct __sk_buff *skb)
{
	struct echo_config *cfg;

	cfg = echo_config_get();
	if (!cfg)
		return SK_PASS;
	/* In sk_skb programs local_port is the receiving socket's port, in
	 * host byte order: the socket lookup already did the parsing. */
	if (skb->local_port != cfg->port)
		return SK_PASS;

	/* Flags 0: egress of the target socket, i.e. send it. */
	return bpf_sk_redirect_map(skb, &echo_sockmap, ECHO_SOCK_TX, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
