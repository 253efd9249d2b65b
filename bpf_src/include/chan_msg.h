/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Layouts shared by the eBPF side and the user-space side of Table 4
 * (user_access) and Figure 13 (channels, channel_bench). Plain types only,
 * so the header compiles for -target bpf and for the host alike.
 */
#ifndef CHAN_MSG_H
#define CHAN_MSG_H

#include <linux/types.h>

/* What moves through every channel: one 64-byte payload (the paper's
 * "64 B entry"). Also the size of one cache line on the hosts we target. */
#define CHAN_MSG_SIZE 64

struct chan_msg {
	__u8 data[CHAN_MSG_SIZE];
};

/*
 * A ring in an array map (Figure 13 "array" and "mmap ring"): element
 * CHAN_HEAD holds the producer's index, element CHAN_TAIL the consumer's,
 * and elements CHAN_FIRST_SLOT.. hold the slots. Indexes are free-running
 * 64-bit counters, slot = CHAN_FIRST_SLOT + (index & (slots - 1)), so
 * "head - tail" is the fill level and never wraps in practice.
 *
 * Each index owns a whole 64-byte element: the producer writes only the
 * head, the consumer only the tail, and neither line bounces between the
 * two CPUs on every message. It also lets the syscall consumer write the
 * tail with bpf_map_update_elem without overwriting the head.
 */
struct chan_index {
	__u64 value;
	__u8 pad[CHAN_MSG_SIZE - sizeof(__u64)];
};

enum chan_ring_elem {
	CHAN_HEAD = 0,
	CHAN_TAIL = 1,
	CHAN_FIRST_SLOT = 2,
};

/* Ring elements needed for @slots slots. */
#define CHAN_RING_ELEMS(slots) ((slots) + CHAN_FIRST_SLOT)

/*
 * Per-CPU counters of the XDP side of Figure 13, one element. "queued":
 * payloads handed to the channel; "dropped": payloads the channel had no
 * room for (ring full, reservation failed); "short": datagrams to the port
 * with less than CHAN_MSG_SIZE bytes of payload, passed up untouched.
 */
struct chan_stats {
	__u64 queued;
	__u64 dropped;
	__u64 short_pkts;
};

/* Context of user_access's ring buffer filler (a SEC("syscall") program
 * run through BPF_PROG_TEST_RUN): in @count, out @queued. */
struct ua_fill_args {
	__u32 count;
	__u32 queued;
};

#endif /* CHAN_MSG_H */
