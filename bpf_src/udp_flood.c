// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * udp_flood: a UDP load generator for Table 1 (time stamps), Figure 10
 * (1458-byte payloads at a fixed rate) and Figures 11/12 (many flows,
 * uniform or Zipf).
 *
 *   udp_flood --dst IP --port P [--size BYTES] [--rate PPS]
 *             [--duration S | --count N] [--cpu N]
 *             [--src-ip-base IP] [--flows F] [--zipf S] [--seed N]
 *             [--stamp] [--batch B] [--threads T]
 *
 * --size is the UDP payload (1458 by default, as in the paper; a 64-byte
 * Ethernet frame without FCS is --size 22). --rate 0 sends as fast as
 * possible. Without --duration or --count it runs for 10 s; SIGINT or
 * SIGTERM stop it early. At the end it prints
 *
 *   sent: N packets in T s (R pps)
 *
 * A flow is a (source IP, source port) pair. With one flow the datagrams
 * leave through a plain connected UDP socket. With several flows, or a
 * --src-ip-base, every packet carries its own IPv4 and UDP headers through
 * a raw socket (IPPROTO_RAW): a plain socket cannot pick its source address
 * per packet, and one socket per flow would break the sendmmsg batches.
 * Flow i (0 <= i < F) is
 *
 *   with --src-ip-base B   source IP B + i,  source port FLOW_PORT_BASE
 *   without                source IP: the one the route to --dst uses,
 *                          source port FLOW_PORT_BASE + i (F <= FLOW_PORTS)
 *
 * so that (source IP + source port) differs from flow to flow, which is
 * what a per-flow array indexed by that sum needs (flow_counter.bpf.c),
 * and the 5-tuples differ for hash maps. The order in which flows
 * send is drawn once before sending (uniformly, or by Zipf(s) rank with
 * flow 0 the most popular, through an inverse CDF table) and replayed in a
 * loop, so no random number is drawn on the sending path.
 *
 * --threads T sends from T threads, each with its own socket and pinned
 * to CPU N+k with --cpu N; the rate and count are split between them and
 * each starts at its own place in the flow order. One core cannot fill
 * a 100 Gb/s link with small packets; several cores, one per transmit
 * queue, get closer.
 *
 * --stamp writes CLOCK_MONOTONIC nanoseconds (host byte order) into the
 * first 8 payload bytes just before the packet's sendmmsg call. With
 * --stamp the batch defaults to 1, so that a stamp is not older than its
 * packet by the time the packets before it in the batch take to send.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>

#include "addr.h"
#include "args.h"
#include "cpu.h"
#include "stop.h"
#include "timeutil.h"

#define PROG "udp_flood"

#define DEFAULT_SIZE 1458
#define DEFAULT_DURATION_S 10
#define DEFAULT_BATCH 64
#define MAX_BATCH 1024
#define MAX_THREADS 256
#define MAX_SIZE (65535 - 20 - 8)
#define MAX_FLOWS (1u << 24)
#define STAMP_BYTES 8

#define FLOW_PORT_BASE 10000
#define FLOW_PORTS (65536 - FLOW_PORT_BASE)

/* Length of the precomputed flow order: long enough that a 100K-flow run
 * visits every flow many times before the order repeats. */
#define SEQ_MIN_LEN (1u << 20)
#define SEQ_PER_FLOW 16
#define SEQ_MAX_LEN (1u << 26)

/* A pacing wait longer than this sleeps (minus the margin) before it
 * spins; shorter waits only spin, a sleep would overshoot them. */
#define SLEEP_THRESHOLD_NS 200000ULL
#define SLEEP_MARGIN_NS 60000ULL

struct flood_opts {
	struct sockaddr_in dst;
	unsigned int size;
	uint64_t rate;
	uint64_t duration_ns;
	uint64_t count;	/* 0 = until the duration ends */
	int cpu;
	struct in_addr src_base;
	bool has_src_base;
	uint32_t flows;
	double zipf;
	uint64_t seed;
	bool stamp;
	unsigned int batch;
	unsigned int threads;
};

/* IPv4 and UDP headers of one flow, as they go on the wire. */
struct flow_hdr {
	struct iphdr ip;
	struct udphdr udp;
} __attribute__((packed));

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --dst IP --port P [--size BYTES] [--rate PPS]\n"
		"                 [--duration S | --count N] [--cpu N]\n"
		"                 [--src-ip-base IP] [--flows F] [--zipf S] [--seed N]\n"
		"                 [--stamp] [--batch B] [--threads T]\n"
		"  --dst IP          destination IPv4 address\n"
		"  --port P          destination UDP port\n"
		"  --size BYTES      UDP payload size (default %d)\n"
		"  --rate PPS        packets per second, 0 = as fast as possible (default)\n"
		"  --duration S      stop after S seconds (default %d)\n"
		"  --count N         stop after N packets\n"
		"  --cpu N           pin to CPU N\n"
		"  --src-ip-base IP  first source address of the flows\n"
		"  --flows F         number of (source IP, source port) flows (default 1)\n"
		"  --zipf S          Zipf exponent of flow popularity (default 0: uniform)\n"
		"  --seed N          seed of the flow order (default 1)\n"
		"  --stamp           CLOCK_MONOTONIC ns in the first 8 payload bytes\n"
		"  --batch B         packets per sendmmsg (default %d, 1 with --stamp)\n"
		"  --threads T       sending threads, each with its socket (default 1);\n"
		"                    with --cpu N, thread k runs on CPU N+k\n"
		"Prints 'sent: N packets in T s (R pps)' at the end.\n",
		DEFAULT_SIZE, DEFAULT_DURATION_S, DEFAULT_BATCH);
}

/* Strict: the whole string is a number in [min, max]. */
static int parse_double(const char *opt, const char *s, double min, double max,
			double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= min && v <= max)) {
		fprintf(stderr, PROG ": --%s: expected a number in [%g, %g], got '%s'\n",
			opt, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* A flood must aim at one host: refuse addresses that reach many. */
static int check_dst(const struct sockaddr_in *dst)
{
	uint32_t a = ntohl(dst->sin_addr.s_addr);

	if (a == INADDR_ANY || a == INADDR_BROADCAST || IN_MULTICAST(a)) {
		fprintf(stderr, PROG ": --dst: %s is not a unicast address\n",
			inet_ntoa(dst->sin_addr));
		return -1;
	}
	return 0;
}

static int check_opts(struct flood_opts *o, const char *dst, bool has_port,
		      bool has_duration, bool has_batch)
{
	if (!dst || !has_port) {
		fprintf(stderr, PROG ": --dst and --port are required\n");
		return -1;
	}
	if (has_duration && o->count) {
		fprintf(stderr, PROG ": give --duration or --count, not both\n");
		return -1;
	}
	if (!has_duration && !o->count)
		o->duration_ns = DEFAULT_DURATION_S * NSEC_PER_SEC;
	if (o->stamp && o->size < STAMP_BYTES) {
		fprintf(stderr, PROG ": --stamp needs --size of at least %d\n",
			STAMP_BYTES);
		return -1;
	}
	if (!o->has_src_base && o->flows > FLOW_PORTS) {
		fprintf(stderr, PROG ": --flows above %d needs --src-ip-base "
			"(one source address per flow)\n", FLOW_PORTS);
		return -1;
	}
	/* The last flow's address must still be a unicast one. */
	if (o->has_src_base &&
	    (uint64_t)ntohl(o->src_base.s_addr) + o->flows - 1 >= 0xe0000000ULL) {
		fprintf(stderr, PROG ": --src-ip-base %s + %u flows runs past the "
			"unicast addresses\n", inet_ntoa(o->src_base), o->flows);
		return -1;
	}
	if (!has_batch)
		o->batch = o->stamp ? 1 : DEFAULT_BATCH;
	/* Every thread needs a non-zero share: 0 means "no limit". */
	if ((o->rate && o->rate < o->threads) || (o->count && o->count < o->threads)) {
		fprintf(stderr, PROG ": --rate and --count must be at least --threads\n");
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct flood_opts *o)
{
	static const struct option longopts[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "src-ip-base", required_argument, NULL, 'S' },
		{ "flows", required_argument, NULL, 'f' },
		{ "zipf", required_argument, NULL, 'z' },
		{ "seed", required_argument, NULL, 'e' },
		{ "stamp", no_argument, NULL, 'T' },
		{ "batch", required_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool has_port = false, has_duration = false, has_batch = false;
	struct sockaddr_in sa;
	const char *dst = NULL;
	uint64_t v, port = 0;
	int c;

	memset(o, 0, sizeof(*o));
	o->size = DEFAULT_SIZE;
	o->cpu = -1;
	o->flows = 1;
	o->seed = 1;
	o->threads = 1;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dst = optarg;
			break;
		case 'p':
			if (parse_u64(PROG, "port", optarg, 1, 65535, &port) < 0)
				return -1;
			has_port = true;
			break;
		case 's':
			if (parse_u64(PROG, "size", optarg, 0, MAX_SIZE, &v) < 0)
				return -1;
			o->size = (unsigned int)v;
			break;
		case 'r':
			if (parse_u64(PROG, "rate", optarg, 0, 1000000000, &o->rate) < 0)
				return -1;
			break;
		case 't':
			if (parse_u64(PROG, "duration", optarg, 1, 86400, &v) < 0)
				return -1;
			o->duration_ns = v * NSEC_PER_SEC;
			has_duration = true;
			break;
		case 'n':
			if (parse_u64(PROG, "count", optarg, 1, UINT64_MAX, &o->count) < 0)
				return -1;
			break;
		case 'c':
			if (parse_int(PROG, "cpu", optarg, 0, CPU_MAX, &o->cpu) < 0)
				return -1;
			break;
		case 'S':
			if (make_sockaddr(PROG, "src-ip-base", optarg, 0, &sa) < 0)
				return -1;
			o->src_base = sa.sin_addr;
			o->has_src_base = true;
			break;
		case 'f':
			if (parse_u64(PROG, "flows", optarg, 1, MAX_FLOWS, &v) < 0)
				return -1;
			o->flows = (uint32_t)v;
			break;
		case 'z':
			if (parse_double("zipf", optarg, 0.0, 10.0, &o->zipf) < 0)
				return -1;
			break;
		case 'e':
			if (parse_u64(PROG, "seed", optarg, 0, UINT64_MAX, &o->seed) < 0)
				return -1;
			break;
		case 'T':
			o->stamp = true;
			break;
		case 'b':
			if (parse_u64(PROG, "batch", optarg, 1, MAX_BATCH, &v) < 0)
				return -1;
			o->batch = (unsigned int)v;
			has_batch = true;
			break;
		case 'j':
			if (parse_u64(PROG, "threads", optarg, 1, MAX_THREADS, &v) < 0)
				return -1;
			o->threads = (unsigned int)v;
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
	if (check_opts(o, dst, has_port, has_duration, has_batch) < 0)
		return -1;
	if (make_sockaddr(PROG, "dst", dst, (unsigned int)port, &o->dst) < 0)
		return -1;
	return check_dst(&o->dst);
}

/* ---- flow order ------------------------------------------------------ */

/* splitmix64: small, fast, and good enough to shuffle flows. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(uint64_t *state)
{
	return (double)(next_random(state) >> 11) * 0x1.0p-53;
}

/* cdf[i] = P(rank <= i) of Zipf(s) over @n ranks. */
static double *zipf_cdf(uint32_t n, double s)
{
	double *cdf = malloc((size_t)n * sizeof(*cdf));
	double sum = 0.0;
	uint32_t i;

	if (!cdf)
		return NULL;
	for (i = 0; i < n; i++) {
		sum += 1.0 / pow((double)(i + 1), s);
		cdf[i] = sum;
	}
	for (i = 0; i < n; i++)
		cdf[i] /= sum;
	cdf[n - 1] = 1.0;	/* no rounding gap above the last rank */
	return cdf;
}

/* The first rank whose cdf is above @u. */
static uint32_t zipf_rank(const double *cdf, uint32_t n, double u)
{
	uint32_t lo = 0, hi = n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static size_t seq_length(const struct flood_opts *o)
{
	uint64_t len = (uint64_t)o->flows * SEQ_PER_FLOW;

	if (len < SEQ_MIN_LEN)
		len = SEQ_MIN_LEN;
	if (len > SEQ_MAX_LEN)
		len = SEQ_MAX_LEN;
	/* A short run needs no more draws than packets. */
	if (o->count && o->count < len)
		len = o->count;
	return (size_t)len;
}

/* The flow of every packet, in sending order. s = 0 is uniform. */
static uint32_t *flow_sequence(const struct flood_opts *o, size_t *len_out)
{
	size_t len = o->flows == 1 ? 1 : seq_length(o);
	uint32_t *seq = calloc(len, sizeof(*seq));
	uint64_t state = o->seed;
	double *cdf = NULL;
	size_t i;

	if (!seq)
		return NULL;
	*len_out = len;
	if (o->flows == 1)
		return seq;
	if (o->zipf > 0.0) {
		cdf = zipf_cdf(o->flows, o->zipf);
		if (!cdf) {
			free(seq);
			return NULL;
		}
	}
	for (i = 0; i < len; i++)
		seq[i] = cdf ? zipf_rank(cdf, o->flows, next_unit(&state))
			     : (uint32_t)(next_random(&state) % o->flows);
	free(cdf);
	return seq;
}

/* ---- packets --------------------------------------------------------- */

/* One's complement sum of @len bytes, in memory order (RFC 1071: the
 * result stored back in memory order is right on either endianness).
 * memcpy, not a uint16_t pointer: the buffers are structs of other types,
 * and the aliasing rules would let the compiler drop the stores to them. */
static uint32_t csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint16_t w;

	for (; len > 1; len -= 2, p += 2) {
		memcpy(&w, p, sizeof(w));
		sum += w;
	}
	if (len) {
		/* The trailing byte, padded with a zero byte after it. */
		uint8_t last[2] = { *p, 0 };

		memcpy(&w, last, sizeof(w));
		sum += w;
	}
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The UDP checksum field for a finished sum; 0 is sent as 0xffff, because
 * 0 would mean "no checksum". */
static uint16_t csum_final(uint32_t sum)
{
	uint16_t c = (uint16_t)~csum_fold(sum);

	return c ? c : 0xffff;
}

/* Headers of flow @i, UDP checksum included for a payload whose one's
 * complement sum is @payload_sum (the stamp bytes counted as zero). */
static void build_flow(const struct flood_opts *o, struct in_addr src0,
		       uint32_t i, uint32_t payload_sum, struct flow_hdr *h)
{
	uint16_t udp_len = (uint16_t)(sizeof(h->udp) + o->size);
	struct {
		uint32_t src, dst;
		uint8_t zero, proto;
		uint16_t len;
	} __attribute__((packed)) pseudo;
	uint32_t sum;

	memset(h, 0, sizeof(*h));
	h->ip.version = 4;
	h->ip.ihl = sizeof(h->ip) / 4;
	h->ip.tot_len = htons((uint16_t)(sizeof(h->ip) + udp_len));
	/* DF: no fragments, so the id may stay 0. The kernel fills in the IP
	 * checksum of a raw socket's header. */
	h->ip.frag_off = htons(IP_DF);
	h->ip.ttl = 64;
	h->ip.protocol = IPPROTO_UDP;
	h->ip.saddr = o->has_src_base ? htonl(ntohl(src0.s_addr) + i) : src0.s_addr;
	h->ip.daddr = o->dst.sin_addr.s_addr;
	h->udp.source = htons((uint16_t)(FLOW_PORT_BASE + (o->has_src_base ? 0 : i)));
	h->udp.dest = o->dst.sin_port;
	h->udp.len = htons(udp_len);

	pseudo.src = h->ip.saddr;
	pseudo.dst = h->ip.daddr;
	pseudo.zero = 0;
	pseudo.proto = IPPROTO_UDP;
	pseudo.len = h->udp.len;
	sum = csum_add(payload_sum, &pseudo, sizeof(pseudo));
	sum = csum_add(sum, &h->udp, sizeof(h->udp));
	h->udp.check = csum_final(sum);
}

/* The address the kernel would send from towards @dst. */
static int route_source(const struct sockaddr_in *dst, struct in_addr *src)
{
	struct sockaddr_in local;
	socklen_t len = sizeof(local);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int err = -1;

	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		fprintf(stderr, PROG ": no route to %s: %s\n",
			inet_ntoa(dst->sin_addr), strerror(errno));
	else {
		*src = local.sin_addr;
		err = 0;
	}
	close(fd);
	return err;
}

static struct flow_hdr *build_flows(const struct flood_opts *o,
				    const char *payload)
{
	struct flow_hdr *flows = calloc(o->flows, sizeof(*flows));
	struct in_addr src0 = o->src_base;
	uint32_t payload_sum, i;

	if (!flows)
		return NULL;
	if (!o->has_src_base && route_source(&o->dst, &src0) < 0) {
		free(flows);
		return NULL;
	}
	payload_sum = (uint32_t)csum_add(0, payload, o->size);
	for (i = 0; i < o->flows; i++)
		build_flow(o, src0, i, payload_sum, &flows[i]);
	return flows;
}

/* ---- sockets --------------------------------------------------------- */

static int open_plain(const struct flood_opts *o)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return -1;
	}
	/* Connected: one route lookup, not one per packet. */
	if (connect(fd, (const struct sockaddr *)&o->dst, sizeof(o->dst)) < 0) {
		fprintf(stderr, PROG ": connect %s: %s\n",
			inet_ntoa(o->dst.sin_addr), strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int open_raw(void)
{
	/* IPPROTO_RAW implies IP_HDRINCL: we write the IPv4 header. */
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	if (fd < 0)
		fprintf(stderr, PROG ": raw socket: %s%s\n", strerror(errno),
			errno == EPERM ? " (several flows need CAP_NET_RAW)" : "");
	return fd;
}

/* ---- the sender ------------------------------------------------------ */

/* What every sending thread reads and nobody writes once sending starts. */
struct flood_plan {
	const struct flood_opts *o;
	bool raw;
	const struct flow_hdr *flows;	/* raw only */
	const uint32_t *seq;
	size_t seq_len;
	char *payload;
};

/* One sending thread: its socket, its messages, its share of the work. */
struct sender {
	const struct flood_plan *plan;
	int fd;
	int cpu;		/* -1: not pinned */
	uint64_t count;		/* this thread's packets; 0 = until the end */
	uint64_t rate;		/* this thread's packets per second; 0 = max */
	size_t seq_pos;
	struct mmsghdr *msgs;
	struct iovec *iovs;	/* 3 per message: header, stamp, rest */
	struct flow_hdr *slot_hdr;	/* per message, raw + stamp only */
	uint64_t *slot_stamp;	/* per message, --stamp only */
	pthread_t thread;
	uint64_t sent;
	uint64_t elapsed_ns;
	int err;
};

static void plan_free(struct flood_plan *p)
{
	free((void *)p->flows);
	free((void *)p->seq);
	free(p->payload);
}

static int plan_init(struct flood_plan *p, const struct flood_opts *o)
{
	memset(p, 0, sizeof(*p));
	p->o = o;
	p->raw = o->flows > 1 || o->has_src_base;
	/* +1: an empty payload still needs a valid pointer. */
	p->payload = calloc(1, o->size + 1);
	p->seq = flow_sequence(o, &p->seq_len);
	if (!p->payload || !p->seq) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	if (p->raw) {
		p->flows = build_flows(o, p->payload);
		if (!p->flows)
			return -1;
	}
	return 0;
}

static void sender_free(struct sender *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->msgs);
	free(s->iovs);
	free(s->slot_hdr);
	free(s->slot_stamp);
}

/*
 * Point message @i at its buffers. iov 0: the headers (raw only), iov 1:
 * the stamp (--stamp only), iov 2: the rest of the payload, shared by all
 * messages since it never changes.
 */
static void setup_msg(struct sender *s, unsigned int i)
{
	const struct flood_opts *o = s->plan->o;
	struct iovec *iov = &s->iovs[3 * i];
	struct msghdr *m = &s->msgs[i].msg_hdr;
	size_t skip = o->stamp ? STAMP_BYTES : 0;
	int n = 0;

	if (s->plan->raw) {
		iov[n].iov_base = s->slot_hdr ? (void *)&s->slot_hdr[i] : NULL;
		iov[n++].iov_len = sizeof(struct flow_hdr);
		/* Raw sockets need the destination for the route lookup. */
		m->msg_name = (void *)&o->dst;
		m->msg_namelen = sizeof(o->dst);
	}
	if (o->stamp) {
		iov[n].iov_base = &s->slot_stamp[i];
		iov[n++].iov_len = STAMP_BYTES;
	}
	iov[n].iov_base = s->plan->payload + skip;
	iov[n++].iov_len = o->size - skip;
	m->msg_iov = iov;
	m->msg_iovlen = (size_t)n;
}

static int sender_init(struct sender *s, const struct flood_plan *plan)
{
	const struct flood_opts *o = plan->o;
	unsigned int i;

	s->plan = plan;
	s->fd = -1;
	s->msgs = calloc(o->batch, sizeof(*s->msgs));
	s->iovs = calloc(3 * (size_t)o->batch, sizeof(*s->iovs));
	if (o->stamp)
		s->slot_stamp = calloc(o->batch, sizeof(*s->slot_stamp));
	if (plan->raw && o->stamp)
		s->slot_hdr = calloc(o->batch, sizeof(*s->slot_hdr));
	if (!s->msgs || !s->iovs || (o->stamp && !s->slot_stamp) ||
	    (plan->raw && o->stamp && !s->slot_hdr)) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	s->fd = plan->raw ? open_raw() : open_plain(o);
	if (s->fd < 0)
		return -1;
	for (i = 0; i < o->batch; i++)
		setup_msg(s, i);
	return 0;
}

/* The UDP checksum of @h once @stamp replaces the zeros it was built with. */
static uint16_t stamped_check(const struct flow_hdr *h, uint64_t stamp)
{
	uint32_t sum = (uint16_t)~h->udp.check;

	return csum_final(csum_add(sum, &stamp, sizeof(stamp)));
}

/* Fill the first @n messages: their flows (raw) and their stamps. */
static void fill_batch(struct sender *s, unsigned int n)
{
	const struct flood_plan *p = s->plan;
	bool stamp = p->o->stamp;
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct flow_hdr *f = NULL;

		if (p->raw) {
			f = &p->flows[p->seq[s->seq_pos]];
			if (++s->seq_pos == p->seq_len)
				s->seq_pos = 0;
		}
		if (stamp)
			s->slot_stamp[i] = now_ns();
		if (s->slot_hdr) {
			s->slot_hdr[i] = *f;
			s->slot_hdr[i].udp.check = stamped_check(f, s->slot_stamp[i]);
		} else if (f) {
			s->iovs[3 * i].iov_base = (void *)f;
		}
	}
}

/* Wait until @t (CLOCK_MONOTONIC ns): sleep the long part, spin the rest. */
static void wait_until(uint64_t t)
{
	uint64_t now = now_ns();

	if (now >= t)
		return;
	if (t - now > SLEEP_THRESHOLD_NS) {
		uint64_t wake = t - SLEEP_MARGIN_NS;
		struct timespec ts = {
			.tv_sec = (time_t)(wake / NSEC_PER_SEC),
			.tv_nsec = (long)(wake % NSEC_PER_SEC),
		};

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	while (now_ns() < t && !stop_requested)
		;
}

/* Errors that lose a batch but not the run: a full queue, or an ICMP port
 * unreachable reported on the connected socket (nobody listens yet). */
static bool transient(int err)
{
	return err == EINTR || err == ENOBUFS || err == EAGAIN ||
	       err == ECONNREFUSED;
}

/* The sending loop of one thread. */
static void *flood(void *arg)
{
	struct sender *s = arg;
	const struct flood_opts *o = s->plan->o;
	uint64_t start, now, end, failed = 0;

	/* Each thread pins itself, so that its socket's memory and its
	 * transmit queue belong to its CPU from the first packet on. */
	if (pin_to_cpu(PROG, s->cpu) < 0) {
		s->err = -1;
		return NULL;
	}
	start = now = now_ns();
	end = o->duration_ns ? start + o->duration_ns : UINT64_MAX;
	while (!stop_requested && (!s->count || s->sent < s->count)) {
		unsigned int n = o->batch;
		int r;

		if (s->count && s->count - s->sent < n)
			n = (unsigned int)(s->count - s->sent);
		if (s->rate)
			wait_until(start + (uint64_t)((double)s->sent * 1e9 / (double)s->rate));
		now = now_ns();
		if (now >= end)
			break;
		fill_batch(s, n);
		r = sendmmsg(s->fd, s->msgs, n, 0);
		if (r < 0) {
			if (!transient(errno)) {
				fprintf(stderr, PROG ": sendmmsg: %s\n", strerror(errno));
				s->err = -1;
				break;
			}
			failed++;
			continue;
		}
		s->sent += (uint64_t)r;
	}
	s->elapsed_ns = now_ns() - start;
	if (failed)
		fprintf(stderr, PROG ": %llu sendmmsg calls failed transiently\n",
			(unsigned long long)failed);
	return NULL;
}

/* Thread @k's share of @total (0 stays 0: no limit); thread 0 takes the
 * remainder. */
static uint64_t share(uint64_t total, unsigned int k, unsigned int n)
{
	return total / n + (k == 0 ? total % n : 0);
}

/* Prepare @n senders: CPUs, shares, and where in the flow order each
 * starts, so that threads do not send the same flow at the same time. */
static int senders_init(struct sender *ss, unsigned int n,
			const struct flood_plan *plan)
{
	const struct flood_opts *o = plan->o;
	unsigned int k;

	memset(ss, 0, n * sizeof(*ss));
	for (k = 0; k < n; k++) {
		ss[k].fd = -1;
		ss[k].cpu = o->cpu < 0 ? -1 : o->cpu + (int)k;
		ss[k].count = share(o->count, k, n);
		ss[k].rate = share(o->rate, k, n);
		ss[k].seq_pos = plan->seq_len * k / n;
		if (ss[k].cpu > CPU_MAX) {
			fprintf(stderr, PROG ": thread %u would run on CPU %d (> %d)\n",
				k, ss[k].cpu, CPU_MAX);
			return -1;
		}
		if (sender_init(&ss[k], plan) < 0)
			return -1;
	}
	return 0;
}

/* Run every sender in its own thread (the first in this one). */
static int run_senders(struct sender *ss, unsigned int n)
{
	unsigned int k, started;
	int err = 0;

	for (started = 1; started < n; started++) {
		err = pthread_create(&ss[started].thread, NULL, flood, &ss[started]);
		if (err) {
			fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
			stop_requested = 1;
			break;
		}
	}
	flood(&ss[0]);
	for (k = 1; k < started; k++)
		pthread_join(ss[k].thread, NULL);
	for (k = 0; k < n; k++)
		if (ss[k].err)
			err = -1;
	return err ? -1 : 0;
}

static void report(const struct sender *ss, unsigned int n)
{
	uint64_t sent = 0, elapsed = 0;
	unsigned int k;

	for (k = 0; k < n; k++) {
		sent += ss[k].sent;
		if (ss[k].elapsed_ns > elapsed)
			elapsed = ss[k].elapsed_ns;
	}
	printf("sent: %llu packets in %.3f s (%.0f pps)\n",
	       (unsigned long long)sent, (double)elapsed / 1e9,
	       elapsed ? (double)sent * 1e9 / (double)elapsed : 0.0);
}

int main(int argc, char **argv)
{
	struct flood_opts o;
	struct flood_plan plan;
	struct sender *ss;
	unsigned int k;
	int err = -1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (stop_on_signals(PROG) < 0)
		return 1;
	/* Pacing sleeps must end when asked, not 50 us later. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	ss = calloc(o.threads, sizeof(*ss));
	if (!ss) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (plan_init(&plan, &o) == 0 && senders_init(ss, o.threads, &plan) == 0) {
		err = run_senders(ss, o.threads);
		report(ss, o.threads);
	}
	for (k = 0; k < o.threads; k++)
		sender_free(&ss[k]);
	free(ss);
	plan_free(&plan);
	return err ? 1 : 0;
}
