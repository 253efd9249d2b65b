/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Figures 11 and 12: layout of the maps of flow_counter.bpf.c, for the
 * program and for anything in user space that decodes them.
 *
 *   flow_table  per-flow counters (absent in the parse-only variant)
 *               array:       key __u32 slot, value struct flow_counters
 *               hash / LRU:  key struct flow_key, value struct flow_counters
 *   flow_stats  per-CPU array of __u64, keys FLOW_STAT_*: every packet the
 *               program counted and dropped, summed over CPUs by the reader
 */
#ifndef MAPS_FLOW_H
#define MAPS_FLOW_H

#include <linux/types.h>

/* Keys of flow_stats. */
#define FLOW_STAT_PACKETS 0
#define FLOW_STAT_BYTES 1
/* Packets of a new flow that found the hash map full (HASH only; the LRU
 * evicts instead). Non-zero means the map was sized too small. */
#define FLOW_STAT_NO_ROOM 2
#define FLOW_STAT_COUNT 3

/* The 5-tuple, in network byte order as it is on the wire. The padding is
 * named and zeroed: hash keys are compared byte by byte. */
struct flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* 16 bytes of state per flow, as in the paper. */
struct flow_counters {
	__u64 packets;
	__u64 bytes;
};

#endif /* MAPS_FLOW_H */
