/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The few kernel structures a tracing program of this project reads, as
 * CO-RE views: only the fields used, marked preserve_access_index, so that
 * libbpf moves every access to the field's real offset in the running
 * kernel's BTF when the object is loaded. No vmlinux.h to generate or to
 * keep in the tree, and one object for every kernel that has these names.
 *
 * Only for tracing programs (tp_btf, fentry, fexit): these are the kernel's
 * own struct sock and struct sk_buff, not the __sk_buff or bpf_sock that
 * network programs see.
 */
#ifndef HOOKS_KERNEL_H
#define HOOKS_KERNEL_H

#include <linux/types.h>

struct sk_buff {
	unsigned char *head;
	__u16 transport_header;	/* offset from head */
} __attribute__((preserve_access_index));

struct sk_buff_head {
	struct sk_buff *next;
	struct sk_buff *prev;	/* the newest skb, or the head itself if empty */
} __attribute__((preserve_access_index));

struct sock_common {
	__be32 skc_rcv_saddr;	/* bound local IPv4 address */
	__u16 skc_num;		/* local port, host byte order */
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	struct sk_buff_head sk_receive_queue;
	__u16 sk_protocol;	/* IPPROTO_*; a plain field since Linux 5.6 */
} __attribute__((preserve_access_index));

#endif /* HOOKS_KERNEL_H */
