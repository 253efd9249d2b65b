// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * channel_bench: Figure 13, how many 64-byte payloads per second one
 * user-space consumer receives from XDP through each channel.
 *
 *   channel_bench --channel array|ringbuf|mmap_ring|af_xdp --ifname IF
 *                 --duration S [--queue 0] [--cpu N] [--port 8080]
 *                 [--slots 4096] [--wait busy|poll]
 *                 [--source traffic|testrun [--producer-cpu N]]
 *
 * Loads channels.bpf.o and, once the channel is ready, feeds it from one
 * of two sources:
 *   traffic  (default) the channel's program is attached to IF (native
 *            XDP) and serves UDP datagrams a generator sends to IF;
 *   testrun  nothing is attached: a producer thread runs the program
 *            through BPF_PROG_TEST_RUN in live-frames mode on IF queue 0,
 *            as fast as one CPU can. On veth a sender is slower than every
 *            consumer; this source lets the consumer be the bottleneck, as
 *            it is behind the paper's 100 Gbps NIC.
 * It consumes for S seconds, then stops the source and prints:
 *
 *   throughput: N (pps)                      once per second
 *   total: N payloads in T s (R pps)
 *   queued: N                                handed to the channel by XDP
 *   dropped: N                               no room in the channel
 *
 * "dropped" is counted by the XDP side (per-CPU counter) for array,
 * ringbuf and mmap_ring, and by the kernel's AF_XDP socket statistics for
 * af_xdp, whose ring-full drops happen after the program has returned.
 *
 * The attachment never outlives the process: it is a bpf_link where the
 * kernel has them (closed by the kernel even on SIGKILL), and otherwise
 * removed on normal exit, on exit(), on SIGINT/SIGTERM/SIGHUP/SIGQUIT and
 * on fatal signals; a program of ours left by a killed run is removed at
 * start. Exit status: 0, 1 on failure, 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/udp.h>
#include <poll.h>
#include <signal.h>
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
#include "channels.skel.h"

#include "include/chan_attach.h"
#include "include/chan_msg.h"
#include "include/chan_user.h"
#include "include/chan_xsk.h"

#define PROG "channel_bench"
#define PROG_PREFIX "chan_"	/* names of our XDP programs */
#define DEFAULT_PORT 8080
#define DEFAULT_SLOTS 4096
#define MAX_SLOTS (1U << 20)
#define MAX_DURATION 86400
/* Messages taken per consumer step before the consumer index moves: the
 * producer sees freed room soon, and index traffic stays amortized. */
#define BATCH 64
/* Sleeping waits wake up this often to report and notice a stop. */
#define WAKEUP_MS 100
/* Frames per BPF_PROG_TEST_RUN call of the testrun producer: long enough
 * to amortize the syscall, short enough to stop within milliseconds. */
#define PRODUCER_REPEAT 65536

/* In the order of wait_names and source_names. */
enum wait_mode { WAIT_BUSY, WAIT_POLL };
enum source { SOURCE_TRAFFIC, SOURCE_TESTRUN };

struct bench_opts {
	const struct channel *ch;
	const char *ifname;
	int ifindex;
	uint32_t queue;
	uint32_t port;
	uint32_t slots;
	uint64_t duration_s;
	int cpu;
	int producer_cpu;
	enum wait_mode wait;
	enum source source;
};

/* The testrun source: a thread that runs the channel's program. */
struct producer {
	pthread_t thread;
	bool started;
	int prog_fd;
	int ifindex;
	uint16_t port;
	int cpu;
	bool stop;		/* __atomic: set by the main thread */
	bool failed;		/* __atomic: set by the producer */
	uint64_t frames;	/* read after the join */
};

struct bench {
	const struct bench_opts *o;
	struct channels *skel;
	bool failed;
	/* array and mmap_ring */
	int ring_fd;
	struct chan_msg *ring;	/* mmap_ring: the mapped elements */
	size_t ring_len;
	uint64_t tail;
	/* ringbuf */
	struct ring_buffer *rb;
	/* af_xdp */
	struct chan_xsk xsk;
	/* --source testrun */
	struct producer producer;
};

struct channel {
	const char *name;
	bool can_sleep;
	struct bpf_program *(*prog)(struct channels *s);
	int (*size_maps)(struct bench *b);	/* before load */
	int (*setup)(struct bench *b);		/* after load, before attach */
	uint64_t (*consume)(struct bench *b);	/* one step; payloads taken */
	int (*dropped)(struct bench *b, uint64_t *n);
	void (*teardown)(struct bench *b);
};

static volatile sig_atomic_t stop_requested;
static struct chan_attach attachment = CHAN_ATTACH_INIT;

/* ---- XDP-side counters ------------------------------------------------- */

static int read_stats(struct bench *b, struct chan_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct chan_stats *per_cpu;
	uint32_t key = 0;
	int i, err = -1;

	memset(sum, 0, sizeof(*sum));
	per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return -1;
	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.chan_stats), &key, per_cpu) == 0) {
		for (i = 0; i < ncpu; i++) {
			sum->queued += per_cpu[i].queued;
			sum->dropped += per_cpu[i].dropped;
			sum->short_pkts += per_cpu[i].short_pkts;
		}
		err = 0;
	}
	free(per_cpu);
	return err;
}

static int xdp_side_dropped(struct bench *b, uint64_t *n)
{
	struct chan_stats st;

	if (read_stats(b, &st) < 0)
		return -1;
	*n = st.dropped;
	return 0;
}

/* ---- array ring polled with syscalls ---------------------------------- */

static struct bpf_program *prog_array(struct channels *s)
{
	return s->progs.chan_array;
}

static int size_ring(struct bpf_map *map, uint32_t slots)
{
	return bpf_map__set_max_entries(map, CHAN_RING_ELEMS(slots));
}

static int size_array(struct bench *b)
{
	return size_ring(b->skel->maps.ring_sys, b->o->slots);
}

static int setup_array(struct bench *b)
{
	b->ring_fd = bpf_map__fd(b->skel->maps.ring_sys);
	return 0;
}

static int sys_lookup(struct bench *b, uint32_t key, void *out)
{
	if (bpf_map_lookup_elem(b->ring_fd, &key, out) == 0)
		return 0;
	fprintf(stderr, PROG ": array: lookup of element %u: %s\n", key, strerror(errno));
	b->failed = true;
	return -1;
}

/* One syscall for the head, one per payload, one for the tail. */
static uint64_t consume_array(struct bench *b)
{
	uint64_t mask = b->o->slots - 1, n, i;
	struct chan_index idx;
	struct chan_msg msg;
	uint32_t key;

	if (sys_lookup(b, CHAN_HEAD, &idx) < 0)
		return 0;
	n = idx.value - b->tail;
	if (n > BATCH)
		n = BATCH;
	for (i = 0; i < n; i++) {
		if (sys_lookup(b, CHAN_FIRST_SLOT + (uint32_t)((b->tail + i) & mask), &msg) < 0)
			return 0;
		chan_touch(&msg);
	}
	if (!n)
		return 0;
	b->tail += n;
	memset(&idx, 0, sizeof(idx));
	idx.value = b->tail;
	key = CHAN_TAIL;
	if (bpf_map_update_elem(b->ring_fd, &key, &idx, BPF_ANY) < 0) {
		fprintf(stderr, PROG ": array: tail update: %s\n", strerror(errno));
		b->failed = true;
	}
	return n;
}

/* ---- the same ring in mmap'd memory, busy polled ------------------------ */

static struct bpf_program *prog_mmap(struct channels *s)
{
	return s->progs.chan_mmap_ring;
}

static int size_mmap(struct bench *b)
{
	return size_ring(b->skel->maps.ring_mmap, b->o->slots);
}

static int setup_mmap(struct bench *b)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *m;

	b->ring_len = ((size_t)CHAN_RING_ELEMS(b->o->slots) * sizeof(struct chan_msg) +
		       page - 1) & ~(page - 1);
	m = mmap(NULL, b->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(b->skel->maps.ring_mmap), 0);
	if (m == MAP_FAILED) {
		fprintf(stderr, PROG ": mmap_ring: mmap: %s\n", strerror(errno));
		return -1;
	}
	b->ring = m;
	return 0;
}

static uint64_t consume_mmap(struct bench *b)
{
	struct chan_index *ctl = (struct chan_index *)b->ring;
	uint64_t mask = b->o->slots - 1, n, i;

	n = chan_load_acquire64(&ctl[CHAN_HEAD].value) - b->tail;
	if (n > BATCH)
		n = BATCH;
	for (i = 0; i < n; i++)
		chan_touch(&b->ring[CHAN_FIRST_SLOT + ((b->tail + i) & mask)]);
	if (n) {
		b->tail += n;
		chan_store_release64(&ctl[CHAN_TAIL].value, b->tail);
	}
	return n;
}

static void teardown_mmap(struct bench *b)
{
	if (b->ring)
		munmap(b->ring, b->ring_len);
	b->ring = NULL;
}

/* ---- BPF ring buffer --------------------------------------------------- */

static struct bpf_program *prog_ringbuf(struct channels *s)
{
	return s->progs.chan_ringbuf;
}

/* Room for at least --slots records (8-byte header + payload each),
 * rounded up to the power of two of pages the map requires. */
static int size_ringbuf(struct bench *b)
{
	uint64_t bytes = (uint64_t)b->o->slots * (CHAN_MSG_SIZE + 8);
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	bytes = chan_roundup_pow2(bytes < page ? page : bytes);
	/* A spinning consumer needs no wakeups, a sleeping one does. */
	b->skel->rodata->chan_rb_flags = b->o->wait == WAIT_BUSY ? BPF_RB_NO_WAKEUP : 0;
	return bpf_map__set_max_entries(b->skel->maps.ring_buf, (uint32_t)bytes);
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)size;
	chan_touch(data);
	return 0;
}

static int setup_ringbuf(struct bench *b)
{
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.ring_buf), on_record, b, NULL);
	if (!b->rb) {
		fprintf(stderr, PROG ": ring_buffer__new: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static uint64_t consume_ringbuf(struct bench *b)
{
	int n;

	if (b->o->wait == WAIT_BUSY)
		n = ring_buffer__consume(b->rb);
	else
		n = ring_buffer__poll(b->rb, WAKEUP_MS);
	if (n == -EINTR)
		return 0;
	if (n < 0) {
		fprintf(stderr, PROG ": ringbuf: %s\n", strerror(-n));
		b->failed = true;
		return 0;
	}
	return (uint64_t)n;
}

static void teardown_ringbuf(struct bench *b)
{
	ring_buffer__free(b->rb);
	b->rb = NULL;
}

/* ---- AF_XDP ------------------------------------------------------------ */

static struct bpf_program *prog_af_xdp(struct channels *s)
{
	return s->progs.chan_af_xdp;
}

static int size_af_xdp(struct bench *b)
{
	(void)b;
	return 0;
}

/* RX ring of --slots descriptors and twice as many frames, so the kernel
 * finds free frames while a full ring waits for the consumer. */
static int setup_af_xdp(struct bench *b)
{
	struct chan_xsk_config cfg = {
		.ifindex = b->o->ifindex,
		.queue = b->o->queue,
		.nframes = 2 * b->o->slots,
		.rx_size = b->o->slots,
	};
	uint32_t key = b->o->queue;
	int fd;

	if (chan_xsk_open(PROG, &b->xsk, &cfg) < 0)
		return -1;
	fd = b->xsk.fd;
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.xsks), &key, &fd, BPF_ANY) < 0) {
		fprintf(stderr, PROG ": af_xdp: XSKMAP update: %s\n", strerror(errno));
		return -1;
	}
	fprintf(stderr, PROG ": af_xdp: %s mode\n", b->xsk.zerocopy ? "zero-copy" : "copy");
	return 0;
}

/* chan_af_xdp redirects only frames whose UDP payload holds a message. */
static const void *frame_payload(const unsigned char *frame)
{
	const unsigned char *ip = frame + ETH_HLEN;

	return ip + (ip[0] & 0x0f) * 4 + sizeof(struct udphdr);
}

static bool xsk_wait(struct bench *b)
{
	struct pollfd pfd = { .fd = b->xsk.fd, .events = POLLIN };

	return poll(&pfd, 1, WAKEUP_MS) > 0;
}

static uint64_t consume_af_xdp(struct bench *b)
{
	struct chan_xsk *x = &b->xsk;
	uint32_t first, n, i;

	n = chan_xsk_rx_peek(x, &first);
	if (!n && b->o->wait == WAIT_POLL && xsk_wait(b))
		n = chan_xsk_rx_peek(x, &first);
	if (n > BATCH)
		n = BATCH;
	for (i = 0; i < n; i++)
		chan_touch(frame_payload(chan_xsk_frame(x, chan_xsk_rx_desc(x, first + i)->addr)));
	if (n) {
		chan_xsk_recycle(x, first, n);
		chan_xsk_rx_release(x, n);
	}
	return n;
}

static int af_xdp_dropped(struct bench *b, uint64_t *n)
{
	return chan_xsk_dropped(&b->xsk, n);
}

/* Safe on a socket never opened: main() starts it with fd -1. */
static void teardown_af_xdp(struct bench *b)
{
	chan_xsk_close(&b->xsk);
}

static void teardown_none(struct bench *b)
{
	(void)b;
}

static const struct channel channels[] = {
	{ "array", false, prog_array, size_array, setup_array, consume_array,
	  xdp_side_dropped, teardown_none },
	{ "ringbuf", true, prog_ringbuf, size_ringbuf, setup_ringbuf, consume_ringbuf,
	  xdp_side_dropped, teardown_ringbuf },
	{ "mmap_ring", false, prog_mmap, size_mmap, setup_mmap, consume_mmap,
	  xdp_side_dropped, teardown_mmap },
	{ "af_xdp", true, prog_af_xdp, size_af_xdp, setup_af_xdp, consume_af_xdp,
	  af_xdp_dropped, teardown_af_xdp },
};
#define NCHANNELS (sizeof(channels) / sizeof(channels[0]))

/* ---- attachment that cannot outlive us -------------------------------- */

static void detach_at_exit(void)
{
	chan_xdp_detach(&attachment);
}

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A crash must not leave the program on the interface (netlink case;
 * a link is closed by the kernel anyway). Then die as the signal would. */
static void on_fatal(int sig)
{
	chan_xdp_detach(&attachment);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int install_signals(void)
{
	static const int stops[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	static const int fatals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		if (sigaction(stops[i], &sa, NULL) < 0)
			goto fail;
	sa.sa_handler = on_fatal;
	for (i = 0; i < sizeof(fatals) / sizeof(fatals[0]); i++)
		if (sigaction(fatals[i], &sa, NULL) < 0)
			goto fail;
	/* A closed stdout must end the run through the normal path. */
	signal(SIGPIPE, SIG_IGN);
	if (atexit(detach_at_exit) == 0)
		return 0;
fail:
	fprintf(stderr, PROG ": cannot install signal handlers: %s\n", strerror(errno));
	return -1;
}

/* ---- the testrun source ------------------------------------------------ */

/*
 * Live frames: the kernel builds a real xdp_buff per repetition, runs the
 * program as if the frame had arrived on IF queue 0, and carries out its
 * verdict (drop, or the redirect into the AF_XDP socket). Every channel is
 * fed the same way, so their producer costs stay comparable.
 */
static int produce_batch(struct producer *p, unsigned char *frame, size_t len)
{
	struct xdp_md md = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	md.data_end = (uint32_t)len;
	md.ingress_ifindex = (uint32_t)p->ifindex;
	opts.data_in = frame;
	opts.data_size_in = (uint32_t)len;
	opts.ctx_in = &md;
	opts.ctx_size_in = sizeof(md);
	opts.repeat = PRODUCER_REPEAT;
	opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
	err = bpf_prog_test_run_opts(p->prog_fd, &opts);
	if (err) {
		fprintf(stderr, PROG ": testrun source: BPF_PROG_TEST_RUN: %s\n",
			strerror(-err));
		return -1;
	}
	p->frames += PRODUCER_REPEAT;
	return 0;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	unsigned char frame[CHAN_FRAME_LEN];
	size_t len = chan_build_frame(frame, p->port);

	if (pin_to_cpu(PROG, p->cpu) < 0) {
		__atomic_store_n(&p->failed, true, __ATOMIC_RELAXED);
		return NULL;
	}
	while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED) && !stop_requested)
		if (produce_batch(p, frame, len) < 0) {
			__atomic_store_n(&p->failed, true, __ATOMIC_RELAXED);
			break;
		}
	return NULL;
}

static int start_producer(struct bench *b)
{
	struct producer *p = &b->producer;
	int err;

	p->prog_fd = bpf_program__fd(b->o->ch->prog(b->skel));
	p->ifindex = b->o->ifindex;
	p->port = (uint16_t)b->o->port;
	p->cpu = b->o->producer_cpu;
	err = pthread_create(&p->thread, NULL, producer_main, p);
	if (err) {
		fprintf(stderr, PROG ": cannot start the producer thread: %s\n", strerror(err));
		return -1;
	}
	p->started = true;
	return 0;
}

static void stop_producer(struct bench *b)
{
	struct producer *p = &b->producer;

	if (!p->started)
		return;
	__atomic_store_n(&p->stop, true, __ATOMIC_RELAXED);
	pthread_join(p->thread, NULL);
	p->started = false;
}

/* ---- the run ----------------------------------------------------------- */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* Warnings carry the verifier log; info and debug are noise here. */
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Open the object, configure and size it, load only the chosen program. */
static struct channels *load_skel(struct bench *b)
{
	const struct bench_opts *o = b->o;
	struct bpf_program *p;
	int err;

	b->skel = channels__open();
	if (!b->skel) {
		fprintf(stderr, PROG ": cannot open the eBPF object: %s\n", strerror(errno));
		return NULL;
	}
	b->skel->rodata->chan_port = o->port;
	b->skel->rodata->chan_queue = o->queue;
	b->skel->rodata->chan_slots = o->slots;
	bpf_object__for_each_program(p, b->skel->obj)
		bpf_program__set_autoload(p, p == o->ch->prog(b->skel));
	err = o->ch->size_maps(b);
	if (!err)
		err = channels__load(b->skel);
	if (err) {
		fprintf(stderr, PROG ": cannot load the eBPF object: %s\n", strerror(-err));
		channels__destroy(b->skel);
		b->skel = NULL;
	}
	return b->skel;
}

static void report_second(uint64_t count, uint64_t ns)
{
	printf("throughput: %.0f (pps)\n", (double)count * 1e9 / (double)ns);
	fflush(stdout);
}

/*
 * Consume until the duration is over or a stop is requested. Reports fall
 * on a fixed one-second grid from the start, so an S-second run prints S
 * lines (the last one just before the end test) and a late wakeup does not
 * shift the following seconds.
 */
static int consume_loop(struct bench *b, uint64_t *total, uint64_t *elapsed)
{
	uint64_t start = now_ns(), end = start + b->o->duration_s * NSEC_PER_SEC;
	uint64_t next = start + NSEC_PER_SEC, mark = start, mark_count = 0, now;

	*total = 0;
	for (;;) {
		*total += b->o->ch->consume(b);
		if (b->failed || __atomic_load_n(&b->producer.failed, __ATOMIC_RELAXED))
			return -1;
		now = now_ns();
		if (now >= next) {
			report_second(*total - mark_count, now - mark);
			mark = now;
			mark_count = *total;
			do
				next += NSEC_PER_SEC;
			while (next <= now);
		}
		if (now >= end || stop_requested)
			break;
	}
	*elapsed = now - start;
	return 0;
}

static void report_final(struct bench *b, uint64_t total, uint64_t elapsed)
{
	struct chan_stats st;
	uint64_t dropped = 0;
	double secs = (double)elapsed / 1e9;

	printf("total: %llu payloads in %.3f s (%.0f pps)\n", (unsigned long long)total,
	       secs, secs > 0 ? (double)total / secs : 0.0);
	if (read_stats(b, &st) == 0) {
		printf("queued: %llu\n", (unsigned long long)st.queued);
		if (st.short_pkts)
			fprintf(stderr, PROG ": %llu datagrams to port %u carried less than "
				"%d bytes of payload and were passed up; send larger ones\n",
				(unsigned long long)st.short_pkts, b->o->port, CHAN_MSG_SIZE);
	}
	if (b->o->ch->dropped(b, &dropped) == 0)
		printf("dropped: %llu\n", (unsigned long long)dropped);
	else
		fprintf(stderr, PROG ": cannot read the drop counter: %s\n", strerror(errno));
	fflush(stdout);
}

/* Start the source: attach to IF, or start the producer thread. */
static int start_source(struct bench *b)
{
	const struct bench_opts *o = b->o;

	if (o->source == SOURCE_TESTRUN)
		return start_producer(b);
	if (chan_xdp_clear_stale(PROG, o->ifindex, PROG_PREFIX) < 0)
		return -1;
	return chan_xdp_attach(PROG, &attachment, o->ifindex,
			       bpf_program__fd(o->ch->prog(b->skel)), XDP_FLAGS_DRV_MODE);
}

static void stop_source(struct bench *b)
{
	chan_xdp_detach(&attachment);
	stop_producer(b);
}

static const char *source_name(const struct bench_opts *o)
{
	if (o->source == SOURCE_TESTRUN)
		return "BPF_PROG_TEST_RUN producer";
	return attachment.link_fd >= 0 ? "attached, bpf_link" : "attached, netlink";
}

static int run(struct bench *b)
{
	const struct bench_opts *o = b->o;
	uint64_t total = 0, elapsed = 0;
	int err;

	if (o->ch->setup(b) < 0)
		return -1;
	if (stop_requested)
		return 0;
	if (start_source(b) < 0)
		return -1;
	fprintf(stderr, PROG ": %s on %s queue %u, UDP port %u, %u slots, %s wait, %s\n",
		o->ch->name, o->ifname, o->queue, o->port, o->slots,
		o->wait == WAIT_BUSY ? "busy" : "poll", source_name(o));
	err = consume_loop(b, &total, &elapsed);
	/* Stop the producer before reading its counters. */
	stop_source(b);
	if (!err)
		report_final(b, total, elapsed);
	if (o->source == SOURCE_TESTRUN)
		fprintf(stderr, PROG ": testrun source offered %llu frames\n",
			(unsigned long long)b->producer.frames);
	return err;
}

/* ---- options ----------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --channel array|ringbuf|mmap_ring|af_xdp --ifname IF\n"
		"                     --duration S [--queue Q] [--cpu N] [--port P]\n"
		"                     [--slots N] [--wait busy|poll]\n"
		"                     [--source traffic|testrun [--producer-cpu N]]\n"
		"  --channel C      the kernel-to-user channel to measure\n"
		"  --ifname IF      interface receiving the UDP traffic\n"
		"  --duration S     seconds to consume (1-%d)\n"
		"  --queue Q        RX queue served (default 0)\n"
		"  --cpu N          pin the consumer to CPU N\n"
		"  --port P         UDP destination port served (default %d)\n"
		"  --slots N        channel capacity in messages, power of two\n"
		"                   (default %d)\n"
		"  --wait W         busy (default) or poll: sleep in epoll/poll\n"
		"                   (ringbuf and af_xdp only)\n"
		"  --source S       traffic (default): attach to IF, serve what a\n"
		"                   generator sends; testrun: attach nothing, a thread\n"
		"                   runs the program with BPF_PROG_TEST_RUN (queue 0)\n"
		"  --producer-cpu N pin the testrun producer to CPU N\n"
		"Prints 'throughput: N (pps)' per second, then 'total:', 'queued:'\n"
		"and 'dropped:' lines.\n", MAX_DURATION, DEFAULT_PORT, DEFAULT_SLOTS);
}

static const struct channel *find_channel(const char *name)
{
	size_t i;

	for (i = 0; i < NCHANNELS; i++)
		if (strcmp(channels[i].name, name) == 0)
			return &channels[i];
	fprintf(stderr, PROG ": --channel: expected array, ringbuf, mmap_ring or af_xdp, "
		"got '%s'\n", name);
	return NULL;
}

static const char *const wait_names[] = { "busy", "poll", NULL };
static const char *const source_names[] = { "traffic", "testrun", NULL };

static int check_opts(struct bench_opts *o)
{
	if (!o->ch || !o->ifname || !o->duration_s) {
		fprintf(stderr, PROG ": --channel, --ifname and --duration are required\n");
		return -1;
	}
	if (!chan_is_pow2(o->slots)) {
		fprintf(stderr, PROG ": --slots: %u is not a power of two\n", o->slots);
		return -1;
	}
	if (o->wait == WAIT_POLL && !o->ch->can_sleep) {
		fprintf(stderr, PROG ": --wait poll: %s has no wakeup mechanism, it is "
			"polled by spinning\n", o->ch->name);
		return -1;
	}
	/* Live frames always arrive on queue 0. */
	if (o->source == SOURCE_TESTRUN && o->queue != 0) {
		fprintf(stderr, PROG ": --source testrun feeds queue 0 only; use --queue 0\n");
		return -1;
	}
	if (o->source == SOURCE_TRAFFIC && o->producer_cpu >= 0) {
		fprintf(stderr, PROG ": --producer-cpu is only used with --source testrun\n");
		return -1;
	}
	o->ifindex = (int)if_nametoindex(o->ifname);
	if (!o->ifindex) {
		fprintf(stderr, PROG ": --ifname: no interface '%s' in this network "
			"namespace\n", o->ifname);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{ "channel", required_argument, NULL, 'C' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "queue", required_argument, NULL, 'q' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "slots", required_argument, NULL, 's' },
		{ "wait", required_argument, NULL, 'w' },
		{ "source", required_argument, NULL, 'S' },
		{ "producer-cpu", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, choice;

	memset(o, 0, sizeof(*o));
	o->cpu = -1;
	o->producer_cpu = -1;
	o->port = DEFAULT_PORT;
	o->slots = DEFAULT_SLOTS;
	o->wait = WAIT_BUSY;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			o->ch = find_channel(optarg);
			if (!o->ch)
				return -1;
			break;
		case 'i':
			o->ifname = optarg;
			break;
		case 'd':
			if (parse_u64(PROG, "duration", optarg, 1, MAX_DURATION, &o->duration_s) < 0)
				return -1;
			break;
		case 'q':
			if (parse_u64(PROG, "queue", optarg, 0, 63, &v) < 0)
				return -1;
			o->queue = (uint32_t)v;
			break;
		case 'c':
			if (parse_int(PROG, "cpu", optarg, 0, CPU_MAX, &o->cpu) < 0)
				return -1;
			break;
		case 'p':
			if (parse_u64(PROG, "port", optarg, 1, 65535, &v) < 0)
				return -1;
			o->port = (uint32_t)v;
			break;
		case 's':
			if (parse_u64(PROG, "slots", optarg, 64, MAX_SLOTS, &v) < 0)
				return -1;
			o->slots = (uint32_t)v;
			break;
		case 'w':
			if (parse_choice(PROG, "wait", optarg, wait_names, &choice) < 0)
				return -1;
			o->wait = (enum wait_mode)choice;
			break;
		case 'S':
			if (parse_choice(PROG, "source", optarg, source_names, &choice) < 0)
				return -1;
			o->source = (enum source)choice;
			break;
		case 'P':
			if (parse_int(PROG, "producer-cpu", optarg, 0, CPU_MAX, &o->producer_cpu) < 0)
				return -1;
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
	return check_opts(o);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench b;
	int err;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (pin_to_cpu(PROG, o.cpu) < 0 || install_signals() < 0)
		return 1;
	libbpf_set_print(libbpf_print);
	memset(&b, 0, sizeof(b));
	b.o = &o;
	b.ring_fd = -1;
	b.xsk.fd = -1;
	if (!load_skel(&b))
		return 1;
	err = run(&b);
	stop_source(&b);
	o.ch->teardown(&b);
	channels__destroy(b.skel);
	return err ? 1 : 0;
}
