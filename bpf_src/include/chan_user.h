/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * User-space side of the channels: how a consumer reads a payload and
 * orders its accesses against the eBPF producer. Host only.
 */
#ifndef CHAN_USER_H
#define CHAN_USER_H

#include <stdint.h>
#include <string.h>

#include "chan_msg.h"

/*
 * Read the CHAN_MSG_SIZE bytes at @p the way a real consumer would: copy
 * them out. The empty asm takes the copy's address and clobbers memory, so
 * the compiler can neither drop the copy (the asm "uses" it) nor hoist the
 * load of @p out of the caller's loop (memory "changed" in between). Without
 * it, timing 100K reads of the same mmap'd entry would time one read.
 */
static inline void chan_touch(const void *p)
{
	static struct chan_msg sink;

	memcpy(&sink, p, CHAN_MSG_SIZE);
	__asm__ __volatile__("" : : "r"(&sink) : "memory");
}

/* Indexes shared with a producer on another CPU: acquire on the index the
 * other side writes (its data is visible once the index is), release on
 * the index we write (our reads of the slots are done before it moves). */
static inline __u64 chan_load_acquire64(const __u64 *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void chan_store_release64(__u64 *p, __u64 v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint32_t chan_load_acquire32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void chan_store_release32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Room chan_build_frame needs. */
#define CHAN_FRAME_LEN (14 + 20 + 8 + CHAN_MSG_SIZE)

/*
 * A UDP/IPv4 frame to @port with a CHAN_MSG_SIZE payload, for
 * BPF_PROG_TEST_RUN producers. It never reaches a wire: the addresses are
 * documentation-only ones and the checksums are left out (the XDP programs
 * here do not verify them).
 * Returns its length, CHAN_FRAME_LEN.
 */
static inline size_t chan_build_frame(unsigned char *f, uint16_t port)
{
	static const unsigned char hdr[] = {
		/* Ethernet: broadcast <- locally administered, IPv4 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
		/* IPv4: IHL 5, total length 92, DF, TTL 64, UDP, no checksum,
		 * 192.0.2.1 -> 192.0.2.2 (TEST-NET-1: routed nowhere) */
		0x45, 0, 0, 92, 0, 0, 0x40, 0, 64, 17, 0, 0,
		192, 0, 2, 1, 192, 0, 2, 2,
		/* UDP: source port 9, destination patched below, length 72 */
		0, 9, 0, 0, 0, 72, 0, 0,
	};

	memcpy(f, hdr, sizeof(hdr));
	f[36] = (unsigned char)(port >> 8);
	f[37] = (unsigned char)port;
	memset(f + sizeof(hdr), 0x5a, CHAN_MSG_SIZE);
	return sizeof(hdr) + CHAN_MSG_SIZE;
}

static inline int chan_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Smallest power of two >= @v (v >= 1, v <= 2^63). */
static inline uint64_t chan_roundup_pow2(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

#endif /* CHAN_USER_H */
