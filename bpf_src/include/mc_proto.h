/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Memcached over UDP: what the in-kernel cache (mc_cache.bpf.c) and the
 * load generator (mc_load.c) agree on. Included by both, so only plain
 * fixed-size integer types here.
 *
 * A Memcached UDP datagram is an 8-byte frame header, then ASCII:
 *
 *   request id  u16 (big endian)  chosen by the client, echoed in the reply
 *   sequence    u16               datagram number within the message, from 0
 *   count       u16               datagrams in the message
 *   reserved    u16               0
 *
 *   request:  "get <key>\r\n"
 *   reply:    "VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n"  (hit)
 *             "END\r\n"                                          (miss)
 *
 * Limits. Memcached keys are at most 250 bytes. A cached value is at most
 * MC_VALUE_MAX (1024) bytes, so the paper's 1000-byte value (Figures 5 and
 * 6, background flow) is cached and its 1100-byte value (foreground flow)
 * never is. The whole reply of a cacheable value fits one datagram within
 * a 1500-byte MTU: 8 + MC_REPLY_MAX + 28 <= 1500.
 */
#ifndef MC_PROTO_H
#define MC_PROTO_H

#include <linux/types.h>

#define MC_FRAME_HDR_LEN 8
#define MC_KEY_MAX 250
#define MC_VALUE_MAX 1024
/* Room for the key, in 8-byte words: 256 bytes. */
#define MC_KEY_WORDS 32
/* Longest reply line before the data: "VALUE " key " " flags (u32, 10
 * digits) " " bytes (4 digits up to MC_VALUE_MAX) "\r\n". */
#define MC_REPLY_HDR_MAX (6 + MC_KEY_MAX + 1 + 10 + 1 + 4 + 2)
/* Header line + data + "\r\nEND\r\n", rounded up to 8 bytes. */
#define MC_REPLY_MAX ((MC_REPLY_HDR_MAX + MC_VALUE_MAX + 7 + 7) & ~7)
/* Largest datagram payload Memcached sends (its UDP_MAX_PAYLOAD_SIZE),
 * frame header included; longer replies are split across datagrams. */
#define MC_UDP_PAYLOAD_MAX 1400

/* Entries of the cache map; a variant can change it with -D. */
#ifndef MC_CACHE_ENTRIES
#define MC_CACHE_ENTRIES 8192
#endif

/* Frame header, fields in network byte order. */
struct mc_frame_hdr {
	__be16 req_id;
	__be16 seq;
	__be16 count;
	__be16 reserved;
};

/*
 * mc_config, an ARRAY map with one entry (key 0), written by user space
 * after loading and before traffic: 4 bytes, little endian on x86.
 * Until it is written the port reads 0 and both programs pass everything.
 */
struct mc_config {
	__u32 port;	/* Memcached UDP port, host byte order; 0 = off */
};

/*
 * Value of mc_cache (LRU_HASH, key: __u64 hash of the key bytes). The key
 * is kept whole and compared on every hit, so a hash collision is a miss,
 * never a wrong answer. reply[] holds the reply exactly as Memcached sent
 * it after the frame header ("VALUE ... END\r\n"): a hit copies it into the
 * request's packet as it is.
 */
struct mc_entry {
	__u32 key_len;
	__u32 value_len;
	__u32 flags;
	__u32 reply_len;	/* bytes used in reply[] */
	__u32 epoch;		/* mc_state.epoch when it was filled */
	__u32 pad;
	__u64 key[MC_KEY_WORDS];	/* key bytes, zero padded */
	char reply[MC_REPLY_MAX];
};

/*
 * mc_state, an ARRAY map with one entry (key 0) that only the programs
 * write. Commands the cache cannot map to one key (flush_all, gat, meta
 * commands, anything unknown) bump the epoch: every entry filled before
 * is then a miss.
 */
struct mc_state {
	__u32 epoch;
	__u32 pad;
};

/*
 * mc_stats, a PERCPU_ARRAY of __u64 counters, one key per counter (sum
 * the CPUs' values):
 *   MC_STAT_RX_GET       0  single-key "get" requests seen by mc_cache_rx
 *   MC_STAT_HIT          1  answered from the cache (XDP_TX)
 *   MC_STAT_MISS         2  passed on to Memcached
 *   MC_STAT_INVALIDATE   3  entries dropped by a write (or epoch bumps)
 *   MC_STAT_FILL         4  entries stored by mc_cache_tx
 *   MC_STAT_TOO_BIG      5  VALUE replies too large to cache
 *   MC_STAT_PARSE_ERROR  6  datagrams to or from the port not understood
 *   MC_STAT_NO_ROOM      7  hits passed on to Memcached (also counted in
 *                           MC_STAT_MISS) because the frame could not grow
 *                           to the reply's size
 */
enum mc_stat {
	MC_STAT_RX_GET = 0,
	MC_STAT_HIT = 1,
	MC_STAT_MISS = 2,
	MC_STAT_INVALIDATE = 3,
	MC_STAT_FILL = 4,
	MC_STAT_TOO_BIG = 5,
	MC_STAT_PARSE_ERROR = 6,
	MC_STAT_NO_ROOM = 7,
	MC_STAT_COUNT = 8,
};

#endif /* MC_PROTO_H */
