/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A minimal AF_XDP receive socket written against the kernel's UAPI
 * (linux/if_xdp.h) alone: a UMEM, its fill and completion rings, and an
 * RX ring. No TX: Table 4 and Figure 13 only receive.
 *
 * Why not libxdp: libbpf >= 1.0 dropped xsk.h and the project links
 * libbpf only. The part we need is small, and owning it keeps the exact
 * cost of taking a descriptor visible in this file: one acquire load of
 * the producer index per batch, a 16-byte descriptor read per frame, and
 * one release store of the consumer index per batch.
 *
 * Frames are FRAME_SIZE-aligned chunks of the UMEM. Every frame starts in
 * the fill ring (whose size equals the number of frames), so returning a
 * received frame to the fill ring can never find it full.
 */
#ifndef CHAN_XSK_H
#define CHAN_XSK_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_xdp.h>

#include "chan_user.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

/* The smallest chunk the kernel accepts; a 64 B payload needs no more. */
#define CHAN_XSK_FRAME_SIZE 2048

struct chan_xsk_ring {
	uint32_t *producer;
	uint32_t *consumer;
	uint32_t *flags;
	void *descs;
	uint32_t mask;
	void *map;
	size_t map_len;
};

struct chan_xsk {
	int fd;
	void *umem;
	size_t umem_len;
	uint32_t nframes;
	bool zerocopy;
	struct chan_xsk_ring fill;
	struct chan_xsk_ring comp;
	struct chan_xsk_ring rx;
};

struct chan_xsk_config {
	int ifindex;
	uint32_t queue;
	uint32_t nframes;	/* power of two, >= rx_size */
	uint32_t rx_size;	/* power of two */
	bool copy_only;		/* do not even try zero-copy */
};

static inline int chan_xsk_setopt(const char *prog, int fd, int name,
				  const void *val, socklen_t len,
				  const char *what)
{
	if (setsockopt(fd, SOL_XDP, name, val, len) < 0) {
		fprintf(stderr, "%s: AF_XDP %s: %s\n", prog, what, strerror(errno));
		return -1;
	}
	return 0;
}

/* Map one ring: its producer, consumer and flags words and @entries
 * descriptors of @entry_size bytes live in one mapping at @pgoff. */
static inline int chan_xsk_map_ring(const char *prog, int fd,
				    const struct xdp_ring_offset *off,
				    uint64_t pgoff, uint32_t entries,
				    size_t entry_size, struct chan_xsk_ring *r)
{
	size_t len = (size_t)off->desc + (size_t)entries * entry_size;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, (off_t)pgoff);

	if (m == MAP_FAILED) {
		fprintf(stderr, "%s: AF_XDP ring mmap: %s\n", prog, strerror(errno));
		return -1;
	}
	r->map = m;
	r->map_len = len;
	r->producer = (uint32_t *)(m + off->producer);
	r->consumer = (uint32_t *)(m + off->consumer);
	r->flags = (uint32_t *)(m + off->flags);
	r->descs = m + off->desc;
	r->mask = entries - 1;
	return 0;
}

static inline int chan_xsk_register_umem(const char *prog, struct chan_xsk *x)
{
	struct xdp_umem_reg reg;

	x->umem_len = (size_t)x->nframes * CHAN_XSK_FRAME_SIZE;
	x->umem = mmap(NULL, x->umem_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (x->umem == MAP_FAILED) {
		x->umem = NULL;
		fprintf(stderr, "%s: UMEM of %zu bytes: %s\n", prog, x->umem_len,
			strerror(errno));
		return -1;
	}
	memset(&reg, 0, sizeof(reg));
	reg.addr = (uint64_t)(uintptr_t)x->umem;
	reg.len = x->umem_len;
	reg.chunk_size = CHAN_XSK_FRAME_SIZE;
	return chan_xsk_setopt(prog, x->fd, XDP_UMEM_REG, &reg, sizeof(reg),
			       "UMEM registration");
}

static inline int chan_xsk_setup_rings(const char *prog, struct chan_xsk *x,
				       uint32_t rx_size)
{
	struct xdp_mmap_offsets off;
	socklen_t len = sizeof(off);
	/* The kernel insists on a completion ring even without TX. */
	uint32_t comp_size = 64;

	if (chan_xsk_setopt(prog, x->fd, XDP_UMEM_FILL_RING, &x->nframes,
			    sizeof(x->nframes), "fill ring") < 0 ||
	    chan_xsk_setopt(prog, x->fd, XDP_UMEM_COMPLETION_RING, &comp_size,
			    sizeof(comp_size), "completion ring") < 0 ||
	    chan_xsk_setopt(prog, x->fd, XDP_RX_RING, &rx_size, sizeof(rx_size),
			    "RX ring") < 0)
		return -1;
	if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &len) < 0) {
		fprintf(stderr, "%s: AF_XDP ring offsets: %s\n", prog, strerror(errno));
		return -1;
	}
	if (chan_xsk_map_ring(prog, x->fd, &off.fr, XDP_UMEM_PGOFF_FILL_RING,
			      x->nframes, sizeof(uint64_t), &x->fill) < 0 ||
	    chan_xsk_map_ring(prog, x->fd, &off.cr, XDP_UMEM_PGOFF_COMPLETION_RING,
			      comp_size, sizeof(uint64_t), &x->comp) < 0 ||
	    chan_xsk_map_ring(prog, x->fd, &off.rx, XDP_PGOFF_RX_RING, rx_size,
			      sizeof(struct xdp_desc), &x->rx) < 0)
		return -1;
	return 0;
}

/* Hand every frame to the kernel. */
static inline void chan_xsk_fill_all(struct chan_xsk *x)
{
	uint64_t *addrs = x->fill.descs;
	uint32_t prod = *x->fill.producer;
	uint32_t i;

	for (i = 0; i < x->nframes; i++)
		addrs[(prod + i) & x->fill.mask] = (uint64_t)i * CHAN_XSK_FRAME_SIZE;
	chan_store_release32(x->fill.producer, prod + x->nframes);
}

/* Zero-copy where the driver supports it, else copy mode. A failed bind
 * leaves the socket unbound, so the second attempt reuses it. */
static inline int chan_xsk_bind(const char *prog, struct chan_xsk *x,
				const struct chan_xsk_config *cfg)
{
	struct sockaddr_xdp sxdp;
	struct xdp_options opts;
	socklen_t len = sizeof(opts);
	int err = -1;

	memset(&sxdp, 0, sizeof(sxdp));
	sxdp.sxdp_family = AF_XDP;
	sxdp.sxdp_ifindex = (uint32_t)cfg->ifindex;
	sxdp.sxdp_queue_id = cfg->queue;
	if (!cfg->copy_only) {
		sxdp.sxdp_flags = XDP_ZEROCOPY | XDP_USE_NEED_WAKEUP;
		err = bind(x->fd, (struct sockaddr *)&sxdp, sizeof(sxdp));
	}
	if (err < 0) {
		sxdp.sxdp_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
		err = bind(x->fd, (struct sockaddr *)&sxdp, sizeof(sxdp));
	}
	if (err < 0) {
		fprintf(stderr, "%s: AF_XDP bind to ifindex %d queue %u: %s\n", prog,
			cfg->ifindex, cfg->queue, strerror(errno));
		return -1;
	}
	memset(&opts, 0, sizeof(opts));
	if (getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &opts, &len) == 0)
		x->zerocopy = opts.flags & XDP_OPTIONS_ZEROCOPY;
	return 0;
}

static inline void chan_xsk_close(struct chan_xsk *x)
{
	struct chan_xsk_ring *rings[] = { &x->fill, &x->comp, &x->rx };
	size_t i;

	for (i = 0; i < sizeof(rings) / sizeof(rings[0]); i++)
		if (rings[i]->map)
			munmap(rings[i]->map, rings[i]->map_len);
	if (x->fd >= 0)
		close(x->fd);
	if (x->umem)
		munmap(x->umem, x->umem_len);
	memset(x, 0, sizeof(*x));
	x->fd = -1;
}

/* A bound socket with every frame in the fill ring. Returns 0, or -1
 * after printing why (and with @x released). */
static inline int chan_xsk_open(const char *prog, struct chan_xsk *x,
				const struct chan_xsk_config *cfg)
{
	memset(x, 0, sizeof(*x));
	x->nframes = cfg->nframes;
	if (!chan_is_pow2(cfg->nframes) || !chan_is_pow2(cfg->rx_size) ||
	    cfg->nframes < cfg->rx_size) {
		fprintf(stderr, "%s: AF_XDP: ring sizes must be powers of two\n", prog);
		x->fd = -1;
		return -1;
	}
	x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (x->fd < 0) {
		fprintf(stderr, "%s: AF_XDP socket: %s\n", prog, strerror(errno));
		return -1;
	}
	if (chan_xsk_register_umem(prog, x) < 0 ||
	    chan_xsk_setup_rings(prog, x, cfg->rx_size) < 0)
		goto fail;
	chan_xsk_fill_all(x);
	if (chan_xsk_bind(prog, x, cfg) < 0)
		goto fail;
	return 0;
fail:
	chan_xsk_close(x);
	return -1;
}

/* Descriptors the kernel has produced and we have not released yet;
 * @first receives the index of the oldest. */
static inline uint32_t chan_xsk_rx_peek(const struct chan_xsk *x, uint32_t *first)
{
	uint32_t cons = *x->rx.consumer;

	*first = cons;
	return chan_load_acquire32(x->rx.producer) - cons;
}

static inline const struct xdp_desc *chan_xsk_rx_desc(const struct chan_xsk *x,
						       uint32_t idx)
{
	return (const struct xdp_desc *)x->rx.descs + (idx & x->rx.mask);
}

static inline const void *chan_xsk_frame(const struct chan_xsk *x, uint64_t addr)
{
	return (const char *)x->umem + addr;
}

static inline void chan_xsk_rx_release(struct chan_xsk *x, uint32_t n)
{
	chan_store_release32(x->rx.consumer, *x->rx.consumer + n);
}

/*
 * Give the frames of RX descriptors [first, first + n) back to the kernel.
 * Call it before chan_xsk_rx_release of the same descriptors: once
 * released, their ring slots belong to the kernel again. Descriptor
 * addresses point into their chunk (past the headroom); the fill ring
 * wants the chunk's start. A driver that sleeps on an empty fill ring
 * (need_wakeup, zero-copy drivers) is woken.
 */
static inline void chan_xsk_recycle(struct chan_xsk *x, uint32_t first, uint32_t n)
{
	uint64_t *addrs = x->fill.descs;
	uint32_t prod = *x->fill.producer;
	uint32_t i;

	for (i = 0; i < n; i++)
		addrs[(prod + i) & x->fill.mask] =
			chan_xsk_rx_desc(x, first + i)->addr &
			~(uint64_t)(CHAN_XSK_FRAME_SIZE - 1);
	chan_store_release32(x->fill.producer, prod + n);
	if (__atomic_load_n(x->fill.flags, __ATOMIC_RELAXED) & XDP_RING_NEED_WAKEUP)
		recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

/* Frames the kernel could not deliver to this socket: RX ring full, no
 * free frame in the fill ring, or dropped for another reason. */
static inline int chan_xsk_dropped(const struct chan_xsk *x, uint64_t *dropped)
{
	struct xdp_statistics st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &st, &len) < 0)
		return -1;
	/* rx_dropped already counts the fill-ring-empty case, which
	 * rx_fill_ring_empty_descs counts again: do not add that one. */
	*dropped = st.rx_dropped + st.rx_ring_full;
	return 0;
}

#endif /* CHAN_XSK_H */
