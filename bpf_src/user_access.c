// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * user_access: Table 4, the time user space needs to reach one 64-byte
 * entry of each kind of collection an eBPF program can share with it.
 *
 *   user_access [--ops 100000] [--cpu N] [--only name,...]
 *               [--ifname IF [--queue 0] [--xsk-fill testrun|traffic]]
 *
 * Prints one line per collection, in the order of Table 4:
 *
 *   access <name>: <ns> ns
 *   access <name>: unsupported here: <reason>
 *
 * names: array hash lru_hash percpu_array percpu_hash percpu_lru_hash
 *        ringbuf mmap_array af_xdp_rx (the last one only with --ifname).
 *
 * <ns> is the wall time of --ops back-to-back operations divided by --ops:
 *   maps         one bpf_map_lookup_elem syscall of key 0
 *   ringbuf      one event taken by ring_buffer__consume, events queued
 *                first by the SEC("syscall") program ua_fill_ringbuf
 *   mmap_array   one 64-byte copy through the mmap'd array
 *   af_xdp_rx    one descriptor taken from the RX ring and 64 bytes of its
 *                frame read, the ring filled first (see --xsk-fill)
 * Ring rounds hold at most UA_RB_ROUND (ring buffer) or UA_XSK_FRAMES
 * (AF_XDP) entries; only the consuming side is inside the timer.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "args.h"
#include "cpu.h"
#include "timeutil.h"
#include "user_access.skel.h"

#include "include/chan_attach.h"
#include "include/chan_msg.h"
#include "include/chan_user.h"
#include "include/chan_xsk.h"

#define PROG "user_access"
#define DEFAULT_OPS 100000
#define MAX_OPS 100000000ULL
/* Untimed operations first: page faults, cold caches and lazy kernel
 * allocations belong to set-up, not to the access being measured. */
#define WARMUP_OPS 1000
/* Events per ring buffer round: 100K as in the paper, plus headroom. */
#define UA_RB_ROUND (1U << 17)
/* Ring buffer record: 8-byte header + payload, 8-byte aligned. */
#define UA_RB_RECORD (CHAN_MSG_SIZE + 8)
/* AF_XDP round: frames in the UMEM, all of which fit the RX ring. A real
 * RX ring size (drivers default to 512-8192), not 100K. */
#define UA_XSK_FRAMES 4096U
/* Traffic mode: give up when the RX ring stops filling for this long. */
#define UA_XSK_TRAFFIC_WAIT_NS (5 * NSEC_PER_SEC)

enum xsk_fill { FILL_TESTRUN, FILL_TRAFFIC };

struct ua_opts {
	uint64_t ops;
	int cpu;
	const char *only;
	const char *ifname;
	uint32_t queue;
	enum xsk_fill fill;
};

struct ua_ctx {
	const struct ua_opts *o;
	struct user_access *skel;
	char why[160];		/* reason of an "unsupported here" */
};

/* A measurement: 0 and *ns set, 1 unsupported (reason in ctx->why), or
 * -1 on error (already printed). */
typedef int (*measure_fn)(struct ua_ctx *c, double *ns);

struct access_row {
	const char *name;
	measure_fn measure;
	bool needs_ifname;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* Warnings carry the verifier log; info and debug are noise here. */
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ---- maps read through bpf_map_lookup_elem ---------------------------- */

/* Value buffer for one lookup: per-CPU maps return one 8-byte aligned
 * copy per possible CPU, which is what makes them slower (Table 4). */
static size_t value_size_of(const struct bpf_map *map)
{
	enum bpf_map_type t = bpf_map__type(map);
	size_t size = bpf_map__value_size(map);

	if (t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH ||
	    t == BPF_MAP_TYPE_LRU_PERCPU_HASH)
		return ((size + 7) & ~(size_t)7) * (size_t)libbpf_num_possible_cpus();
	return size;
}

static int lookup_loop(int fd, void *buf, uint64_t n)
{
	uint32_t key = 0;
	uint64_t i;

	for (i = 0; i < n; i++)
		if (bpf_map_lookup_elem(fd, &key, buf) < 0)
			return -1;
	return 0;
}

static int measure_lookup(struct bpf_map *map, uint64_t ops, double *ns)
{
	size_t size = value_size_of(map);
	int fd = bpf_map__fd(map);
	uint32_t key = 0;
	uint64_t t0, t1;
	void *buf;
	int err = -1;

	buf = calloc(1, size);
	if (!buf) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	memset(buf, 0xab, size);
	/* Key 0 must exist: arrays have it, hash maps get it here. */
	if (bpf_map_update_elem(fd, &key, buf, BPF_ANY) < 0 ||
	    lookup_loop(fd, buf, WARMUP_OPS) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", bpf_map__name(map), strerror(errno));
		goto out;
	}
	t0 = now_ns();
	err = lookup_loop(fd, buf, ops);
	t1 = now_ns();
	if (err < 0) {
		fprintf(stderr, PROG ": %s: lookup: %s\n", bpf_map__name(map), strerror(errno));
		goto out;
	}
	*ns = (double)(t1 - t0) / (double)ops;
out:
	free(buf);
	return err;
}

static int m_array(struct ua_ctx *c, double *ns)
{
	return measure_lookup(c->skel->maps.ua_array, c->o->ops, ns);
}

static int m_hash(struct ua_ctx *c, double *ns)
{
	return measure_lookup(c->skel->maps.ua_hash, c->o->ops, ns);
}

static int m_lru_hash(struct ua_ctx *c, double *ns)
{
	return measure_lookup(c->skel->maps.ua_lru_hash, c->o->ops, ns);
}

static int m_percpu_array(struct ua_ctx *c, double *ns)
{
	return measure_lookup(c->skel->maps.ua_pcpu_array, c->o->ops, ns);
}

static int m_percpu_hash(struct ua_ctx *c, double *ns)
{
	return measure_lookup(c->skel->maps.ua_pcpu_hash, c->o->ops, ns);
}

static int m_percpu_lru_hash(struct ua_ctx *c, double *ns)
{
	return measure_lookup(c->skel->maps.ua_pcpu_lru, c->o->ops, ns);
}

/* ---- BPF ring buffer --------------------------------------------------- */

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)size;
	chan_touch(data);
	return 0;
}

static uint32_t rb_round_events(uint64_t ops)
{
	return ops < UA_RB_ROUND ? (uint32_t)ops : UA_RB_ROUND;
}

/* Queue @n events with the syscall program; all of them must fit. */
static int rb_fill(struct ua_ctx *c, uint32_t n)
{
	struct ua_fill_args args = { .count = n, .queued = 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args,
		    .ctx_size_in = sizeof(args));
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.ua_fill_ringbuf),
				     &opts);
	if (err) {
		fprintf(stderr, PROG ": ringbuf: running ua_fill_ringbuf: %s\n",
			strerror(-err));
		return -1;
	}
	/* The kernel copies the context back into ctx_in. */
	if (args.queued != n) {
		fprintf(stderr, PROG ": ringbuf: queued %u of %u events (ring too small?)\n",
			args.queued, n);
		return -1;
	}
	return 0;
}

/* Fill and consume @n events; returns the consuming time in ns or 0. */
static uint64_t rb_round(struct ua_ctx *c, struct ring_buffer *rb, uint32_t n)
{
	uint64_t t0, t1;
	int got;

	if (rb_fill(c, n) < 0)
		return 0;
	t0 = now_ns();
	got = ring_buffer__consume(rb);
	t1 = now_ns();
	if (got != (int)n) {
		fprintf(stderr, PROG ": ringbuf: consumed %d of %u events\n", got, n);
		return 0;
	}
	return t1 - t0;
}

static int m_ringbuf(struct ua_ctx *c, double *ns)
{
	int fd = bpf_map__fd(c->skel->maps.ua_ringbuf);
	uint64_t left = c->o->ops, total = 0, t;
	struct ring_buffer *rb;
	uint32_t n;
	int err = -1;

	rb = ring_buffer__new(fd, on_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, PROG ": ring_buffer__new: %s\n", strerror(errno));
		return -1;
	}
	if (!rb_round(c, rb, rb_round_events(WARMUP_OPS)))
		goto out;
	while (left) {
		n = rb_round_events(left);
		t = rb_round(c, rb, n);
		if (!t)
			goto out;
		total += t;
		left -= n;
	}
	*ns = (double)total / (double)c->o->ops;
	err = 0;
out:
	ring_buffer__free(rb);
	return err;
}

/* ---- array in mmap-able memory ----------------------------------------- */

static void mmap_loop(const void *entry, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		chan_touch(entry);
}

static int m_mmap_array(struct ua_ctx *c, double *ns)
{
	struct bpf_map *map = c->skel->maps.ua_mmap_array;
	size_t len = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t key = 0;
	struct chan_msg v;
	uint64_t t0, t1;
	void *p;

	memset(&v, 0xab, sizeof(v));
	if (bpf_map_update_elem(bpf_map__fd(map), &key, &v, BPF_ANY) < 0) {
		fprintf(stderr, PROG ": mmap_array: update: %s\n", strerror(errno));
		return -1;
	}
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, bpf_map__fd(map), 0);
	if (p == MAP_FAILED) {
		snprintf(c->why, sizeof(c->why), "mmap of a BPF_F_MMAPABLE array: %s",
			 strerror(errno));
		return 1;
	}
	mmap_loop(p, WARMUP_OPS);
	t0 = now_ns();
	mmap_loop(p, c->o->ops);
	t1 = now_ns();
	munmap(p, len);
	*ns = (double)(t1 - t0) / (double)c->o->ops;
	return 0;
}

/* ---- AF_XDP RX ring ---------------------------------------------------- */

/*
 * Testrun fill: BPF_PROG_TEST_RUN in live-frames mode runs ua_to_xsk on
 * @n copies of a frame as if received on IF's queue, and performs the
 * redirect for real, so the frames reach the RX ring through the same
 * xsk_rcv copy path as received packets. The kernel gives live frames the
 * queue index 0, hence --queue 0 only (checked in preflight).
 */
static int xsk_fill_testrun(struct ua_ctx *c, int ifindex, uint32_t n)
{
	unsigned char frame[CHAN_FRAME_LEN];
	struct xdp_md md = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	/* ua_to_xsk redirects any frame; the port does not matter. */
	md.data_end = (uint32_t)chan_build_frame(frame, 9);
	md.ingress_ifindex = (uint32_t)ifindex;
	md.rx_queue_index = c->o->queue;
	opts.data_in = frame;
	opts.data_size_in = md.data_end;
	opts.ctx_in = &md;
	opts.ctx_size_in = sizeof(md);
	opts.repeat = (int)n;
	opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
	err = bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.ua_to_xsk), &opts);
	if (err) {
		snprintf(c->why, sizeof(c->why),
			 "BPF_PROG_TEST_RUN live frames into AF_XDP: %s", strerror(-err));
		return 1;
	}
	return 0;
}

/* Traffic fill: frames arrive from outside (a generator aimed at IF).
 * Waits until the RX ring holds every frame of the UMEM; the kernel then
 * drops newcomers (fill ring empty), so the ring stands still while the
 * consumer is timed. */
static int xsk_wait_traffic(struct ua_ctx *c, const struct chan_xsk *x, uint32_t want)
{
	uint32_t first, have = 0, prev = 0;
	uint64_t since = now_ns();

	while ((have = chan_xsk_rx_peek(x, &first)) < want) {
		if (have != prev) {
			prev = have;
			since = now_ns();
		} else if (now_ns() - since > UA_XSK_TRAFFIC_WAIT_NS) {
			snprintf(c->why, sizeof(c->why),
				 "no traffic on %s queue %u (%u of %u frames in 5 s); "
				 "send UDP to it or use --xsk-fill testrun",
				 c->o->ifname, c->o->queue, have, want);
			return 1;
		}
	}
	return 0;
}

/*
 * Take @n descriptors and read 64 B of each frame; returns the time. Two
 * timed windows: taking (producer load, descriptor and frame reads) and
 * releasing (consumer store). Handing the frames back to the fill ring sits
 * between them, untimed: it must read the descriptors before the release
 * returns their slots to the kernel, and it is a cost of buffer management
 * that Table 4's "reach the ring" does not include.
 */
static uint64_t xsk_drain_timed(struct chan_xsk *x, uint32_t n)
{
	uint64_t t0, t1, t2, t3;
	uint32_t first, i;

	t0 = now_ns();
	chan_xsk_rx_peek(x, &first);
	for (i = 0; i < n; i++)
		chan_touch(chan_xsk_frame(x, chan_xsk_rx_desc(x, first + i)->addr));
	t1 = now_ns();
	chan_xsk_recycle(x, first, n);
	t2 = now_ns();
	chan_xsk_rx_release(x, n);
	t3 = now_ns();
	return (t1 - t0) + (t3 - t2);
}

/* One round: get @n frames into the RX ring, time their consumption. */
static int xsk_round(struct ua_ctx *c, struct chan_xsk *x, int ifindex, uint32_t n,
		     uint64_t *elapsed)
{
	uint32_t first, have;
	int rc;

	if (c->o->fill == FILL_TESTRUN)
		rc = xsk_fill_testrun(c, ifindex, n);
	else
		rc = xsk_wait_traffic(c, x, x->nframes);
	if (rc)
		return rc;
	have = chan_xsk_rx_peek(x, &first);
	if (have < n) {
		snprintf(c->why, sizeof(c->why),
			 "only %u of %u frames reached the AF_XDP RX ring", have, n);
		return 1;
	}
	*elapsed = xsk_drain_timed(x, n);
	return 0;
}

static int xsk_rounds(struct ua_ctx *c, struct chan_xsk *x, int ifindex, double *ns)
{
	uint64_t left = c->o->ops, total = 0, t = 0;
	uint32_t n;
	int rc;

	rc = xsk_round(c, x, ifindex, UA_XSK_FRAMES, &t);	/* warm-up */
	while (!rc && left) {
		n = left < UA_XSK_FRAMES ? (uint32_t)left : UA_XSK_FRAMES;
		rc = xsk_round(c, x, ifindex, n, &t);
		total += t;
		left -= n;
	}
	if (!rc)
		*ns = (double)total / (double)c->o->ops;
	return rc;
}

static int xsk_register(struct ua_ctx *c, const struct chan_xsk *x)
{
	uint32_t key = c->o->queue;
	int fd = x->fd;

	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.ua_xsks), &key, &fd, BPF_ANY) < 0) {
		fprintf(stderr, PROG ": af_xdp_rx: XSKMAP update: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static struct chan_attach ua_attach = CHAN_ATTACH_INIT;

static void detach_at_exit(void)
{
	chan_xdp_detach(&ua_attach);
}

/* Traffic mode only: ua_to_xsk on IF, native mode. */
static int xsk_attach(struct ua_ctx *c, int ifindex)
{
	if (chan_xdp_clear_stale(PROG, ifindex, "ua_") < 0 ||
	    chan_xdp_attach(PROG, &ua_attach, ifindex,
			    bpf_program__fd(c->skel->progs.ua_to_xsk),
			    XDP_FLAGS_DRV_MODE) < 0)
		return -1;
	atexit(detach_at_exit);
	return 0;
}

static int m_af_xdp_rx(struct ua_ctx *c, double *ns)
{
	struct chan_xsk_config cfg = {
		.queue = c->o->queue,
		.nframes = UA_XSK_FRAMES,
		.rx_size = UA_XSK_FRAMES,
	};
	struct chan_xsk x;
	int rc;

	cfg.ifindex = (int)if_nametoindex(c->o->ifname);
	if (!cfg.ifindex) {
		fprintf(stderr, PROG ": --ifname %s: %s\n", c->o->ifname, strerror(errno));
		return -1;
	}
	if (chan_xsk_open(PROG, &x, &cfg) < 0) {
		snprintf(c->why, sizeof(c->why), "cannot bind an AF_XDP socket to %s queue %u",
			 c->o->ifname, c->o->queue);
		return 1;
	}
	rc = xsk_register(c, &x);
	if (!rc && c->o->fill == FILL_TRAFFIC)
		rc = xsk_attach(c, cfg.ifindex);
	if (!rc) {
		fprintf(stderr, PROG ": af_xdp_rx: %s mode, %u-frame rounds, %s fill\n",
			x.zerocopy ? "zero-copy" : "copy", UA_XSK_FRAMES,
			c->o->fill == FILL_TESTRUN ? "testrun" : "traffic");
		rc = xsk_rounds(c, &x, cfg.ifindex, ns);
	}
	chan_xdp_detach(&ua_attach);
	chan_xsk_close(&x);
	return rc;
}

/* ---- driver ------------------------------------------------------------ */

static const struct access_row rows[] = {
	{ "array", m_array, false },
	{ "hash", m_hash, false },
	{ "lru_hash", m_lru_hash, false },
	{ "percpu_array", m_percpu_array, false },
	{ "percpu_hash", m_percpu_hash, false },
	{ "percpu_lru_hash", m_percpu_lru_hash, false },
	{ "ringbuf", m_ringbuf, false },
	{ "mmap_array", m_mmap_array, false },
	{ "af_xdp_rx", m_af_xdp_rx, true },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--ops N] [--cpu N] [--only name,...]\n"
		"                   [--ifname IF [--queue Q] [--xsk-fill testrun|traffic]]\n"
		"  --ops N          timed operations per collection (default %d)\n"
		"  --cpu N          pin to CPU N\n"
		"  --only LIST      comma-separated subset of: array hash lru_hash\n"
		"                   percpu_array percpu_hash percpu_lru_hash ringbuf\n"
		"                   mmap_array af_xdp_rx\n"
		"  --ifname IF      interface for af_xdp_rx (copy mode on veth)\n"
		"  --queue Q        its RX queue (default 0)\n"
		"  --xsk-fill M     testrun (default): frames injected with\n"
		"                   BPF_PROG_TEST_RUN live frames (queue 0 only);\n"
		"                   traffic: attach ua_to_xsk to IF and wait for\n"
		"                   packets sent to IF by a generator\n"
		"Prints 'access <name>: <ns> ns' per collection.\n", DEFAULT_OPS);
}

static int row_index(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NROWS; i++)
		if (strlen(rows[i].name) == len && strncmp(rows[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* --only "a,b" into @wanted[]; unknown names are an error. */
static int parse_only(const char *s, bool *wanted)
{
	const char *p = s;

	while (*p) {
		size_t len = strcspn(p, ",");
		int i = row_index(p, len);

		if (i < 0) {
			fprintf(stderr, PROG ": --only: unknown collection '%.*s'\n", (int)len, p);
			return -1;
		}
		wanted[i] = true;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* In the order of enum xsk_fill. */
static const char *const fill_names[] = { "testrun", "traffic", NULL };

static int parse_args(int argc, char **argv, struct ua_opts *o)
{
	static const struct option longopts[] = {
		{ "ops", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "only", required_argument, NULL, 'o' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "queue", required_argument, NULL, 'q' },
		{ "xsk-fill", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, choice;

	memset(o, 0, sizeof(*o));
	o->ops = DEFAULT_OPS;
	o->cpu = -1;
	o->fill = FILL_TESTRUN;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u64(PROG, "ops", optarg, 1, MAX_OPS, &o->ops) < 0)
				return -1;
			break;
		case 'c':
			if (parse_int(PROG, "cpu", optarg, 0, CPU_MAX, &o->cpu) < 0)
				return -1;
			break;
		case 'o':
			o->only = optarg;
			break;
		case 'i':
			o->ifname = optarg;
			break;
		case 'q':
			if (parse_u64(PROG, "queue", optarg, 0, 63, &v) < 0)
				return -1;
			o->queue = (uint32_t)v;
			break;
		case 'f':
			if (parse_choice(PROG, "xsk-fill", optarg, fill_names, &choice) < 0)
				return -1;
			o->fill = (enum xsk_fill)choice;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (no_arguments_left(PROG, argc, argv) < 0)
		return -1;
	return 0;
}

/* Which rows to run; an explicit af_xdp_rx without an interface, or a
 * testrun fill on a queue other than 0, is a usage error. */
static int select_rows(const struct ua_opts *o, bool *wanted)
{
	size_t i;

	if (o->only) {
		if (parse_only(o->only, wanted) < 0)
			return -1;
	} else {
		for (i = 0; i < NROWS; i++)
			wanted[i] = !rows[i].needs_ifname || o->ifname;
		if (!o->ifname)
			fprintf(stderr, PROG ": no --ifname: skipping af_xdp_rx\n");
	}
	for (i = 0; i < NROWS; i++) {
		if (wanted[i] && rows[i].needs_ifname && !o->ifname) {
			fprintf(stderr, PROG ": %s needs --ifname IF\n", rows[i].name);
			return -1;
		}
	}
	if (o->ifname && o->fill == FILL_TESTRUN && o->queue != 0) {
		fprintf(stderr, PROG ": --xsk-fill testrun injects into queue 0 only; "
			"use --queue 0 or --xsk-fill traffic\n");
		return -1;
	}
	return 0;
}

/* The ring buffer holds one round of events; a power of two of pages. */
static int size_ringbuf(struct user_access *skel, uint64_t ops)
{
	uint64_t bytes = (uint64_t)rb_round_events(ops) * UA_RB_RECORD;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	bytes = chan_roundup_pow2(bytes < page ? page : bytes);
	return bpf_map__set_max_entries(skel->maps.ua_ringbuf, (uint32_t)bytes);
}

static struct user_access *load_skel(const struct ua_opts *o)
{
	struct user_access *skel = user_access__open();
	int err;

	if (!skel) {
		fprintf(stderr, PROG ": cannot open the eBPF object: %s\n", strerror(errno));
		return NULL;
	}
	skel->rodata->ua_no_socket_verdict = o->fill == FILL_TESTRUN ? XDP_DROP : XDP_PASS;
	err = size_ringbuf(skel, o->ops);
	if (!err)
		err = user_access__load(skel);
	if (err) {
		fprintf(stderr, PROG ": cannot load the eBPF object: %s\n", strerror(-err));
		user_access__destroy(skel);
		return NULL;
	}
	return skel;
}

static int run_row(struct ua_ctx *c, const struct access_row *r)
{
	double ns = 0;
	int rc;

	c->why[0] = '\0';
	rc = r->measure(c, &ns);
	if (rc < 0)
		return -1;
	if (rc > 0)
		printf("access %s: unsupported here: %s\n", r->name, c->why);
	else
		printf("access %s: %.1f ns\n", r->name, ns);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	bool wanted[NROWS] = { false };
	struct ua_opts o;
	struct ua_ctx c;
	size_t i;
	int err = 0;

	if (parse_args(argc, argv, &o) < 0 || select_rows(&o, wanted) < 0)
		return 2;
	if (pin_to_cpu(PROG, o.cpu) < 0)
		return 1;
	libbpf_set_print(libbpf_print);
	/* Per-CPU rows copy one value per possible CPU: say how many. */
	fprintf(stderr, PROG ": %d possible CPUs, %llu operations per collection\n",
		libbpf_num_possible_cpus(), (unsigned long long)o.ops);
	memset(&c, 0, sizeof(c));
	c.o = &o;
	c.skel = load_skel(&o);
	if (!c.skel)
		return 1;
	for (i = 0; i < NROWS && !err; i++)
		if (wanted[i])
			err = run_row(&c, &rows[i]);
	user_access__destroy(c.skel);
	return err ? 1 : 0;
}
