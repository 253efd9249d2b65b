// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * reach_server: the socket end of Table 1, "time to reach a hook".
 *
 *   reach_server --addr IP --port P [--cpu N] [--sockmap PINNED_SOCKMAP]
 *                [--ringbuf PINNED_RINGBUF] [--tracepoint PINNED_PROG]
 *                [--count N] [--duration S] [--size BYTES] [--busy]
 *                --output FILE
 *
 * Every datagram carries a CLOCK_MONOTONIC stamp in its first 8 payload
 * bytes (written by xdp_stamp, or by udp_flood --stamp). For each one the
 * server takes CLOCK_MONOTONIC - stamp as soon as recv returns: the time
 * to reach the socket as user space sees it (see docs/methods.md for what
 * that includes). With --ringbuf it also drains the samples the eBPF
 * readers of reach_stamp.bpf.c took at XDP, TC and SK_SKB. With --sockmap
 * it inserts its socket at key 0 of that SOCKMAP, so that the SK_SKB
 * program attached to the map sees its datagrams. With --tracepoint it
 * attaches that pinned tp_btf program (sock_reach) for as long as it runs:
 * bpftool 7.1 cannot attach tracing programs, and a link that lives with
 * the server cannot be left behind.
 *
 * The output file has one line per sample, in the words of the paper's
 * patched kernel, so one parser reads both:
 *
 *   It takes N to reach TC        (also XDP, SOCKET_QUEUE, SK_SKB,
 *                                  SOCKET_READY, SOCKET; N in ns)
 *   It takes N to run SK_SKB      (span of the SK_SKB path, sock_reach)
 *
 * stdout: "ready" once the socket is bound (and inserted), then at the end
 * one line per hook that has samples, and in sockmap mode a count of the
 * datagrams that did not go through the verdict program (not sampled):
 *
 *   SOCKET: samples N median_ns M p25_ns A p75_ns B
 *   run SK_SKB: samples N median_ns M p25_ns A p75_ns B
 *   bypassed: N
 *
 * It stops after --count socket samples, after --duration seconds, or at
 * SIGINT/SIGTERM (exit 0 in all three cases). Without either limit it runs
 * until a signal.
 *
 * Waiting: by default poll() then a non-blocking recv. A blocking recv
 * would hang on a socket in a sockmap: it waits on the socket's own queue
 * while the verdict program delivers to the psock queue. --busy spins on
 * non-blocking recv instead, taking the scheduler's wake-up out of the
 * socket sample (it needs a CPU of its own); the spinning reader then
 * sometimes dequeues a datagram before sock_reach looks at it, so do not
 * combine it with --tracepoint.
 *
 * Two quirks of UDP sockets in a sockmap (kernel 6.x), handled here:
 * - the psock queue is a byte stream: one recv returns as many queued
 *   datagrams as fit, back to back. So in sockmap mode a read is cut into
 *   --size byte datagrams (the sender's payload size, 128 by default as
 *   in the paper), each sampled at the time of the read. Reading exactly
 *   --size bytes per recv is no way out: on this kernel such reads return
 *   EAGAIN while datagrams are still queued, until the next one arrives.
 * - a recv that finds the psock queue empty reads the socket's own queue,
 *   where a datagram waits until the verdict program takes it: user space
 *   can get it first, without the verdict. Only psock reads leave the
 *   source address empty, so datagrams that come with one are counted as
 *   "bypassed" and not sampled.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "args.h"
#include "cpu.h"
#include "samples.h"
#include "stop.h"
#include "timeutil.h"
#include "include/hooks_reach.h"

#define PROG "reach_server"
#define BUF_SIZE 65536
#define DEFAULT_SIZE 128
#define WAKEUP_MS 100

static const char *const hook_names[REACH_HOOK_COUNT] = {
	[REACH_HOOK_XDP] = "XDP",
	[REACH_HOOK_TC] = "TC",
	[REACH_HOOK_SOCKET_QUEUE] = "SOCKET_QUEUE",
	[REACH_HOOK_SK_SKB] = "SK_SKB",
	[REACH_HOOK_SOCKET_READY] = "SOCKET_READY",
	[REACH_HOOK_SOCKET] = "SOCKET",
};

struct reach_opts {
	struct sockaddr_in addr;
	int cpu;
	const char *sockmap;
	const char *ringbuf;
	const char *tracepoint;
	uint64_t count;		/* 0 = no limit */
	uint64_t duration_ns;	/* 0 = no limit */
	unsigned int size;	/* bytes per recv in sockmap mode */
	bool busy;
	const char *output;
};

/*
 * Samples per hook. A delta is signed (a stamp from another machine's
 * clock can be ahead of ours); it is kept as its two's complement bits in
 * struct samples and read back as int64_t.
 */
#define REACH_KINDS 2

/* The verb of each record kind in the output lines. */
static const char *const kind_verbs[REACH_KINDS] = {
	[REACH_KIND_REACH] = "reach",
	[REACH_KIND_RUN] = "run",
};

struct reach_samples {
	struct samples v[REACH_KINDS][REACH_HOOK_COUNT];
	uint64_t bypassed;
	uint64_t misaligned;
	bool out_of_memory;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --addr IP --port P [--cpu N] [--sockmap PINNED_SOCKMAP]\n"
		"                    [--ringbuf PINNED_RINGBUF] [--tracepoint PINNED_PROG]\n"
		"                    [--count N] [--duration S] [--size BYTES] [--busy]\n"
		"                    --output FILE\n"
		"  --addr IP          IPv4 address to bind\n"
		"  --port P           UDP port to bind\n"
		"  --cpu N            pin to CPU N\n"
		"  --sockmap PATH     insert the socket at key 0 of this pinned SOCKMAP\n"
		"  --ringbuf PATH     drain reach_events samples from this pinned ring buffer\n"
		"  --tracepoint PATH  attach this pinned tp_btf program while running\n"
		"  --count N          stop after N datagrams\n"
		"  --duration S       stop after S seconds\n"
		"  --size BYTES       payload size of the datagrams (sockmap mode, default %d)\n"
		"  --busy             spin on non-blocking recv instead of poll()\n"
		"  --output FILE      'It takes N to reach HOOK' lines\n", DEFAULT_SIZE);
}

static int parse_args(int argc, char **argv, struct reach_opts *o)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "sockmap", required_argument, NULL, 'm' },
		{ "ringbuf", required_argument, NULL, 'r' },
		{ "tracepoint", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "busy", no_argument, NULL, 'B' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ip = NULL;
	uint64_t port = 0, v;
	int c;

	memset(o, 0, sizeof(*o));
	o->cpu = -1;
	o->size = DEFAULT_SIZE;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			ip = optarg;
			break;
		case 'p':
			if (parse_u64(PROG, "port", optarg, 1, 65535, &port) < 0)
				return -1;
			break;
		case 'c':
			if (parse_int(PROG, "cpu", optarg, 0, CPU_MAX, &o->cpu) < 0)
				return -1;
			break;
		case 'm':
			o->sockmap = optarg;
			break;
		case 'r':
			o->ringbuf = optarg;
			break;
		case 'T':
			o->tracepoint = optarg;
			break;
		case 'n':
			if (parse_u64(PROG, "count", optarg, 1, UINT64_MAX, &o->count) < 0)
				return -1;
			break;
		case 't':
			if (parse_u64(PROG, "duration", optarg, 1, 86400, &v) < 0)
				return -1;
			o->duration_ns = v * NSEC_PER_SEC;
			break;
		case 's':
			if (parse_u64(PROG, "size", optarg, REACH_STAMP_BYTES, BUF_SIZE, &v) < 0)
				return -1;
			o->size = (unsigned int)v;
			break;
		case 'B':
			o->busy = true;
			break;
		case 'o':
			o->output = optarg;
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
	if (!ip || !port || !o->output) {
		fprintf(stderr, PROG ": --addr, --port and --output are required\n");
		return -1;
	}
	if (o->busy && o->tracepoint)
		fprintf(stderr, PROG ": warning: with --busy the reader races the "
			"tracepoint, SOCKET_QUEUE loses samples\n");
	return make_sockaddr(PROG, "addr", ip, (unsigned int)port, &o->addr);
}

/* ---- samples --------------------------------------------------------- */

/* Every (kind, hook) array, for loops that visit them all. */
#define for_each_samples(rs, k, h) \
	for ((k) = 0; (k) < REACH_KINDS; (k)++) \
		for ((h) = 0; (h) < REACH_HOOK_COUNT; (h)++)

static int reach_samples_init(struct reach_samples *rs)
{
	int k, h;

	memset(rs, 0, sizeof(*rs));
	/* Small first: most arrays stay empty, and they grow on demand. */
	for_each_samples(rs, k, h)
		if (samples_init(&rs->v[k][h], 1024) < 0) {
			fprintf(stderr, PROG ": out of memory\n");
			return -1;
		}
	return 0;
}

static void reach_samples_free(struct reach_samples *rs)
{
	int k, h;

	for_each_samples(rs, k, h)
		samples_free(&rs->v[k][h]);
}

static void add_sample(struct reach_samples *rs, unsigned int kind,
		       unsigned int hook, int64_t delta)
{
	if (kind >= REACH_KINDS || hook >= REACH_HOOK_COUNT)
		return;
	if (samples_push(&rs->v[kind][hook], (uint64_t)delta) < 0)
		rs->out_of_memory = true;
}

static int write_samples(const struct reach_samples *rs, const char *path)
{
	FILE *f = fopen(path, "w");
	int k, h, err = 0;
	size_t i;

	if (!f) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	for_each_samples(rs, k, h)
		for (i = 0; i < rs->v[k][h].len && !err; i++)
			if (fprintf(f, "It takes %" PRId64 " to %s %s\n",
				    (int64_t)rs->v[k][h].v[i], kind_verbs[k],
				    hook_names[h]) < 0)
				err = -1;
	/* fclose flushes: a full disk shows up here. */
	if (fclose(f) != 0)
		err = -1;
	if (err)
		fprintf(stderr, PROG ": writing %s: %s\n", path, strerror(errno));
	return err;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank quartiles (s[floor(N*q)], as the paper) of each hook. */
static void print_summary(const struct reach_samples *rs)
{
	int k, h;

	for_each_samples(rs, k, h) {
		const struct samples *s = &rs->v[k][h];
		int64_t *sorted;

		if (s->len == 0)
			continue;
		sorted = malloc(s->len * sizeof(*sorted));
		if (!sorted)
			continue;
		memcpy(sorted, s->v, s->len * sizeof(*sorted));
		qsort(sorted, s->len, sizeof(*sorted), cmp_i64);
		printf("%s%s: samples %zu median_ns %" PRId64 " p25_ns %" PRId64
		       " p75_ns %" PRId64 "\n", k == REACH_KIND_RUN ? "run " : "",
		       hook_names[h], s->len,
		       sorted[s->len / 2], sorted[s->len / 4], sorted[s->len * 3 / 4]);
		free(sorted);
	}
}

/* ---- eBPF objects ---------------------------------------------------- */

static int on_event(void *ctx, void *data, size_t size)
{
	const struct reach_event *ev = data;

	if (size >= sizeof(*ev))
		add_sample(ctx, ev->kind, ev->hook, ev->delta_ns);
	return 0;
}

static struct ring_buffer *open_ringbuf(const char *path, struct reach_samples *rs)
{
	struct ring_buffer *rb;
	int fd = bpf_obj_get(path);

	if (fd < 0) {
		fprintf(stderr, PROG ": cannot open pinned ring buffer %s: %s "
			"(load reach_stamp with pinmaps first)\n", path, strerror(errno));
		return NULL;
	}
	rb = ring_buffer__new(fd, on_event, rs, NULL);
	if (!rb)
		fprintf(stderr, PROG ": %s is not a ring buffer: %s\n", path,
			strerror(errno));
	/* The ring buffer keeps its own reference to the map. */
	close(fd);
	return rb;
}

/*
 * Put @sock at key 0 of the pinned SOCKMAP @path, whose value may be 4 or
 * 8 bytes wide. The verdict program must already be attached to the map:
 * a socket takes the map's programs when it is inserted.
 */
static int sockmap_insert(const char *path, int sock)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info), key = 0;
	uint64_t v64 = (uint64_t)sock;
	uint32_t v32 = (uint32_t)sock;
	int fd, err = -1;

	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, PROG ": cannot open pinned sockmap %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 ||
	    info.type != BPF_MAP_TYPE_SOCKMAP)
		fprintf(stderr, PROG ": %s is not a SOCKMAP\n", path);
	else if (bpf_map_update_elem(fd, &key,
				     info.value_size == sizeof(v64) ? (void *)&v64
								    : (void *)&v32,
				     BPF_ANY) < 0)
		fprintf(stderr, PROG ": inserting into %s: %s\n", path, strerror(errno));
	else
		err = 0;
	close(fd);
	return err;
}

/* Samples left in the ring by an earlier run belong to that run. */
static void discard_stale(struct ring_buffer *rb, struct reach_samples *rs)
{
	int k, h;

	ring_buffer__consume(rb);
	for_each_samples(rs, k, h)
		rs->v[k][h].len = 0;
}

/* Attach the pinned BTF tracepoint program @path; the returned fd holds
 * the attachment until it is closed. */
static int attach_tracepoint(const char *path)
{
	int prog_fd, fd;

	prog_fd = bpf_obj_get(path);
	if (prog_fd < 0) {
		fprintf(stderr, PROG ": cannot open pinned program %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	/* No name: a tp_btf program knows its tracepoint from its load. */
	fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	if (fd < 0)
		fprintf(stderr, PROG ": attaching %s: %s\n", path, strerror(errno));
	close(prog_fd);
	return fd;
}

/* ---- receiving ------------------------------------------------------- */

static int open_socket(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[32];
	int one = 1;

	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
		fprintf(stderr, PROG ": bind %s: %s\n",
			format_ip_port(addr, buf, sizeof(buf)), strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait until @fd is readable or WAKEUP_MS pass. 0 or -1 on a real error. */
static int wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, WAKEUP_MS) < 0 && errno != EINTR) {
		fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* A sample for the stamp at @rec, received at @now. Returns 1 if taken. */
static int sample_record(const char *rec, size_t len, uint64_t now,
			 struct reach_samples *rs)
{
	uint64_t stamp;

	if (len < REACH_STAMP_BYTES)
		return 0;
	memcpy(&stamp, rec, sizeof(stamp));
	if (stamp == 0)
		return 0;
	add_sample(rs, REACH_KIND_REACH, REACH_HOOK_SOCKET, (int64_t)(now - stamp));
	return 1;
}

/*
 * Take every datagram queued on @fd. Returns how many were sampled, or -1
 * on an error other than "nothing left". @size > 0 (sockmap mode): a read
 * is a run of whole datagrams of @size bytes, all received at the same
 * moment; reads that come with a source address skipped the psock.
 */
static int take_datagrams(int fd, char *buf, size_t size, struct reach_samples *rs)
{
	int got = 0;

	for (;;) {
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, BUF_SIZE, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fromlen);
		/* First thing after recv returns: this is the sample. */
		uint64_t now = now_ns();
		size_t off;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return got;
			fprintf(stderr, PROG ": recv: %s\n", strerror(errno));
			return -1;
		}
		if (size == 0) {
			got += sample_record(buf, (size_t)n, now, rs);
			continue;
		}
		if (fromlen != 0) {
			rs->bypassed++;
			continue;
		}
		if ((size_t)n % size != 0)
			rs->misaligned++;
		for (off = 0; off + size <= (size_t)n; off += size)
			got += sample_record(buf + off, size, now, rs);
	}
}

static int serve(int fd, const struct reach_opts *o, struct ring_buffer *rb,
		 struct reach_samples *rs)
{
	static char buf[BUF_SIZE];
	size_t size = o->sockmap ? o->size : 0;
	uint64_t start = now_ns(), taken = 0;
	int n;

	while (!stop_requested) {
		if (!o->busy && wait_readable(fd) < 0)
			return -1;
		n = take_datagrams(fd, buf, size, rs);
		if (n < 0)
			return -1;
		taken += (uint64_t)n;
		/* The readers' samples of a datagram were queued before it
		 * reached the socket: collect them now, off the timed path. */
		if (rb && n > 0)
			ring_buffer__consume(rb);
		if (o->count && taken >= o->count)
			break;
		if (o->duration_ns && now_ns() - start >= o->duration_ns)
			break;
	}
	if (rb)
		ring_buffer__consume(rb);
	return 0;
}

static int run(const struct reach_opts *o, struct reach_samples *rs)
{
	struct ring_buffer *rb = NULL;
	int fd, tp_fd = -1, err = -1;

	fd = open_socket(&o->addr);
	if (fd < 0)
		return -1;
	if (o->ringbuf) {
		rb = open_ringbuf(o->ringbuf, rs);
		if (!rb)
			goto out;
		discard_stale(rb, rs);
	}
	if (o->sockmap && sockmap_insert(o->sockmap, fd) < 0)
		goto out;
	if (o->tracepoint) {
		tp_fd = attach_tracepoint(o->tracepoint);
		if (tp_fd < 0)
			goto out;
	}
	printf("ready\n");
	fflush(stdout);
	err = serve(fd, o, rb, rs);
out:
	if (tp_fd >= 0)
		close(tp_fd);
	ring_buffer__free(rb);
	close(fd);
	return err;
}

int main(int argc, char **argv)
{
	struct reach_opts o;
	struct reach_samples rs;
	int err;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (stop_on_signals(PROG) < 0 || pin_to_cpu(PROG, o.cpu) < 0)
		return 1;
	if (reach_samples_init(&rs) < 0)
		return 1;
	err = run(&o, &rs);
	if (rs.out_of_memory)
		fprintf(stderr, PROG ": out of memory, some samples were lost\n");
	if (!err)
		err = write_samples(&rs, o.output);
	if (!err)
		print_summary(&rs);
	if (!err && o.sockmap)
		printf("bypassed: %llu\n", (unsigned long long)rs.bypassed);
	if (rs.misaligned)
		fprintf(stderr, PROG ": %llu reads were not a multiple of --size %u: "
			"does the sender use another size?\n",
			(unsigned long long)rs.misaligned, o.size);
	reach_samples_free(&rs);
	return err ? 1 : 0;
}
