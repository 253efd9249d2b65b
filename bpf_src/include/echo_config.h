/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Configuration shared by the echo programs (XDP, TC, SK_SKB).
 *
 * The loader writes one entry into the array map `echo_config` after the
 * object is loaded, so no address, port or interface is compiled in and the
 * same object serves the local namespaces and the Cloudlab nodes. Until the
 * entry is written the port reads as zero and the programs pass every
 * packet untouched: attaching an unconfigured echo program is harmless.
 */
#ifndef ECHO_CONFIG_H
#define ECHO_CONFIG_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct echo_config {
	__u32 port;	/* UDP port to echo, host byte order; 0 = off */
	__u32 ifindex;	/* interface TC redirects out of; 0 = off */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct echo_config);
} echo_config SEC(".maps");

/* The configuration, or NULL while echoing is switched off. */
static __always_inline struct echo_config *echo_config_get(void)
{
	__u32 key = 0;
	struct echo_config *cfg;

	cfg = bpf_map_lookup_elem(&echo_config, &key);
	if (!cfg || cfg->port == 0)
		return NULL;
	return cfg;
}

#endif /* ECHO_CONFIG_H */
