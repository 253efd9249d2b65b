// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * mc_load: Memcached load over UDP (ASCII protocol), the client of
 * Figures 4, 5 and 6.
 *
 *   mc_load --server IP --port P [--key-size N] [--value-size N] [--keys K]
 *           [--key-index I] [--duration S] [--warmup S] [--window W]
 *           [--rate R] [--timeout-ms MS] [--cpu N] [--populate]
 *           [--samples FILE] [--pad N]
 *   mc_load --server IP --port P --stats
 *
 * Keeps W "get" requests in flight, each one datagram with Memcached's
 * 8-byte frame header; replies are matched to requests by the header's
 * request id. A request unanswered within the timeout is lost; its late
 * reply, if any, is ignored. With --rate the requests are sent on a
 * schedule of R per second (still at most W in flight); without, as fast
 * as replies come back.
 *
 * Keys and values are deterministic, so that every reply can be checked:
 * key i is "<i>:" padded with letters to --key-size bytes, and its value
 * is --value-size letters that depend on i and on the size. A hit is a
 * reply carrying exactly that key and value (flags 0); a miss is "END";
 * anything else is an error.
 *
 * --pad N fills each get with spaces after the key, up to N bytes of text;
 * Memcached ignores them. It is for veth only: there, an XDP program can
 * grow a frame by little more than its headroom, and a large cached reply
 * needs a request about as large. Use it for the baseline run as well.
 *
 * Output: "throughput: N (rps)" once per measured second (replies in that
 * second), then one line
 *   total: requests N replies M hits H misses X lost L errors E seconds S
 * counting only requests sent after the warm-up (replies + lost = requests).
 * --samples writes the RTT (ns) of every counted reply in the format of
 * common/samples.h. --stats prints Memcached's "STAT name value" lines.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include "addr.h"
#include "args.h"
#include "cpu.h"
#include "samples.h"
#include "stop.h"
#include "timeutil.h"
#include "include/mc_proto.h"

#define PROG "mc_load"
#define DEFAULT_KEY_SIZE 128
#define DEFAULT_VALUE_SIZE 64
#define DEFAULT_DURATION_S 10
#define DEFAULT_TIMEOUT_MS 100
#define MAX_KEYS 1000000
#define MAX_WINDOW 4096
/* Datagrams handed to the kernel per sendmmsg/recvmmsg call. */
#define BATCH 64
#define RECV_BUF 2048
/* A set request must fit one datagram: Memcached refuses multi-datagram
 * requests. */
#define MAX_DATAGRAM 65507
#define POPULATE_TRIES 3
/* Below this wait, spinning on recvmmsg beats sleeping in ppoll. */
#define SPIN_NS 20000ULL
/* The request ids in flight span less than this, so a new id never meets
 * a request still waiting for its reply. */
#define ID_SPACE 65536u

struct load_opts {
	struct sockaddr_in server;
	int key_size;
	int value_size;
	uint64_t keys;
	int64_t key_index;	/* -1: all keys, round robin */
	uint64_t duration_s;
	uint64_t warmup_s;
	int window;
	uint64_t rate;		/* requests/s; 0 = as fast as the window allows */
	int timeout_ms;
	int cpu;
	bool populate;
	bool stats;
	const char *samples;
	int pad;		/* get request text padded to this; 0 = off */
};

/* Request slot, indexed by request id. */
struct slot {
	uint64_t sent_ns;
	uint32_t key;
	bool active;
	bool counted;	/* sent in the measured phase */
};

struct totals {
	uint64_t requests;
	uint64_t replies;
	uint64_t hits;
	uint64_t misses;
	uint64_t lost;
	uint64_t errors;
};

struct load {
	const struct load_opts *o;
	int fd;
	/* key i: keys + i * key_size; its get request: reqs + i * req_len */
	char *keys;
	char *reqs;
	size_t req_len;
	/* values: pattern + (i % 26), value_size bytes */
	char *pattern;
	char suffix[32];	/* " 0 <value_size>\r\n" */
	size_t suffix_len;
	size_t hit_len;		/* length of a hit reply after the frame header */
	struct slot *slots;
	uint16_t head;		/* oldest id not yet retired */
	uint16_t next_id;
	int in_flight;
	uint64_t next_key;
	struct totals t;
	uint64_t second_replies;
	double seconds;		/* measured, warm-up and drain excluded */
	struct samples rtt;
	char (*rbuf)[RECV_BUF];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --server IP --port P [--key-size N] [--value-size N] [--keys K]\n"
		"               [--key-index I] [--duration S] [--warmup S] [--window W]\n"
		"               [--rate R] [--timeout-ms MS] [--cpu N] [--populate]\n"
		"               [--samples FILE] [--pad N]\n"
		"       " PROG " --server IP --port P --stats\n"
		"  --server IP        Memcached address\n"
		"  --port P           Memcached UDP port\n"
		"  --key-size N       bytes per key, 1-%d (default %d)\n"
		"  --value-size N     bytes per value (default %d); a reply must fit one\n"
		"                     %d-byte datagram\n"
		"  --keys K           distinct keys, requested round robin (default 1)\n"
		"  --key-index I      request key I only (0 <= I < K)\n"
		"  --duration S       measured seconds (default %d)\n"
		"  --warmup S         seconds run and discarded first (default 0)\n"
		"  --window W         requests in flight, 1-%d (default 1)\n"
		"  --rate R           requests per second, 0 = as fast as possible (default 0)\n"
		"  --timeout-ms MS    a reply later than this is lost (default %d)\n"
		"  --cpu N            pin to CPU N\n"
		"  --populate         first set every requested key, and check it is STORED\n"
		"  --samples FILE     write every RTT (ns): 'num samples: N', one a line\n"
		"  --pad N            pad each get with spaces to N bytes (veth: room for\n"
		"                     XDP replies; 0 = off, the default)\n"
		"  --stats            print Memcached's statistics and exit\n"
		"Prints 'throughput: N (rps)' each second, then\n"
		"'total: requests N replies M hits H misses X lost L errors E seconds S'.\n",
		MC_KEY_MAX, DEFAULT_KEY_SIZE, DEFAULT_VALUE_SIZE, MC_UDP_PAYLOAD_MAX,
		DEFAULT_DURATION_S, MAX_WINDOW, DEFAULT_TIMEOUT_MS);
}

static void set_defaults(struct load_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->key_size = DEFAULT_KEY_SIZE;
	o->value_size = DEFAULT_VALUE_SIZE;
	o->keys = 1;
	o->key_index = -1;
	o->duration_s = DEFAULT_DURATION_S;
	o->window = 1;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->cpu = -1;
}

static int parse_opt(int c, struct load_opts *o, const char **ip, uint64_t *port,
		     char **argv)
{
	uint64_t v;

	switch (c) {
	case 's':
		*ip = optarg;
		return 0;
	case 'p':
		return parse_u64(PROG, "port", optarg, 1, 65535, port);
	case 'k':
		return parse_int(PROG, "key-size", optarg, 1, MC_KEY_MAX, &o->key_size);
	case 'v':
		return parse_int(PROG, "value-size", optarg, 0, MAX_DATAGRAM, &o->value_size);
	case 'K':
		return parse_u64(PROG, "keys", optarg, 1, MAX_KEYS, &o->keys);
	case 'i':
		if (parse_u64(PROG, "key-index", optarg, 0, MAX_KEYS - 1, &v) < 0)
			return -1;
		o->key_index = (int64_t)v;
		return 0;
	case 'd':
		return parse_u64(PROG, "duration", optarg, 1, 1000000, &o->duration_s);
	case 'w':
		return parse_u64(PROG, "warmup", optarg, 0, 1000000, &o->warmup_s);
	case 'W':
		return parse_int(PROG, "window", optarg, 1, MAX_WINDOW, &o->window);
	case 'r':
		return parse_u64(PROG, "rate", optarg, 0, 100000000, &o->rate);
	case 't':
		return parse_int(PROG, "timeout-ms", optarg, 1, 60000, &o->timeout_ms);
	case 'c':
		return parse_int(PROG, "cpu", optarg, 0, CPU_MAX, &o->cpu);
	case 'P':
		o->populate = true;
		return 0;
	case 'S':
		o->stats = true;
		return 0;
	case 'o':
		o->samples = optarg;
		return 0;
	case 'a':
		return parse_int(PROG, "pad", optarg, 0, MC_UDP_PAYLOAD_MAX - MC_FRAME_HDR_LEN,
				 &o->pad);
	case 'h':
		usage(stdout);
		exit(0);
	case ':':
		fprintf(stderr, PROG ": %s needs a value (see --help)\n", argv[optind - 1]);
		return -1;
	default:
		fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", argv[optind - 1]);
		return -1;
	}
}

static int digits(uint64_t v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Checks that span options. */
static int check_opts(const struct load_opts *o)
{
	size_t reply = 6 + (size_t)o->key_size + 3 + (size_t)digits((uint64_t)o->value_size) +
		       2 + (size_t)o->value_size + 7;
	size_t set = MC_FRAME_HDR_LEN + 4 + (size_t)o->key_size + 5 +
		     (size_t)digits((uint64_t)o->value_size) + 2 + (size_t)o->value_size + 2;

	if (o->key_index >= 0 && (uint64_t)o->key_index >= o->keys) {
		fprintf(stderr, PROG ": --key-index %" PRId64 " is not below --keys %" PRIu64 "\n",
			o->key_index, o->keys);
		return -1;
	}
	if (digits(o->keys - 1) + 1 > o->key_size) {
		fprintf(stderr, PROG ": --key-size %d is too short to tell %" PRIu64
			" keys apart (need %d)\n", o->key_size, o->keys, digits(o->keys - 1) + 1);
		return -1;
	}
	if (MC_FRAME_HDR_LEN + reply > MC_UDP_PAYLOAD_MAX) {
		fprintf(stderr, PROG ": a reply of key %d B and value %d B takes %zu bytes,"
			" more than one %d-byte datagram\n", o->key_size, o->value_size,
			MC_FRAME_HDR_LEN + reply, MC_UDP_PAYLOAD_MAX);
		return -1;
	}
	if (o->populate && set > MAX_DATAGRAM) {
		fprintf(stderr, PROG ": --value-size %d: a set does not fit one datagram\n",
			o->value_size);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct load_opts *o)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "key-size", required_argument, NULL, 'k' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "keys", required_argument, NULL, 'K' },
		{ "key-index", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "window", required_argument, NULL, 'W' },
		{ "rate", required_argument, NULL, 'r' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "populate", no_argument, NULL, 'P' },
		{ "stats", no_argument, NULL, 'S' },
		{ "samples", required_argument, NULL, 'o' },
		{ "pad", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ip = NULL;
	uint64_t port = 0;
	int c;

	set_defaults(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1)
		if (parse_opt(c, o, &ip, &port, argv) < 0)
			return -1;
	if (no_arguments_left(PROG, argc, argv) < 0)
		return -1;
	if (!ip || port == 0) {
		fprintf(stderr, PROG ": --server and --port are required\n");
		return -1;
	}
	if (make_sockaddr(PROG, "server", ip, (unsigned int)port, &o->server) < 0)
		return -1;
	return o->stats ? 0 : check_opts(o);
}

static int open_socket(const struct load_opts *o)
{
	int bufsize = 4 << 20;
	char buf[32];
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return -1;
	}
	/* Best effort: the default buffer holds enough for small windows. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	if (connect(fd, (const struct sockaddr *)&o->server, sizeof(o->server)) < 0) {
		fprintf(stderr, PROG ": connect %s: %s\n",
			format_ip_port(&o->server, buf, sizeof(buf)), strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void frame_hdr(char *buf, uint16_t id)
{
	struct mc_frame_hdr fh = {
		.req_id = htons(id),
		.seq = 0,
		.count = htons(1),
		.reserved = 0,
	};

	memcpy(buf, &fh, sizeof(fh));
}

static const char *key_of(const struct load *l, uint64_t i)
{
	return l->keys + i * (uint64_t)l->o->key_size;
}

static const char *value_of(const struct load *l, uint64_t i)
{
	return l->pattern + i % 26;
}

/* Keys, get requests, the value pattern and the hit reply's shape. */
static int build_keys(struct load *l)
{
	const struct load_opts *o = l->o;
	size_t ks = (size_t)o->key_size;
	uint64_t i;
	size_t j;
	int n;

	l->req_len = 4 + ks + 2;
	if ((size_t)o->pad > l->req_len)
		l->req_len = (size_t)o->pad;
	l->keys = malloc(o->keys * ks);
	l->reqs = malloc(o->keys * l->req_len);
	l->pattern = malloc((size_t)o->value_size + 26);
	if (!l->keys || !l->reqs || !l->pattern)
		return -1;
	for (i = 0; i < o->keys; i++) {
		char *k = l->keys + i * ks, *r = l->reqs + i * l->req_len;

		n = snprintf(k, ks + 1 > 24 ? 24 : ks + 1, "%" PRIu64 ":", i);
		for (j = (size_t)n; j < ks; j++)
			k[j] = (char)('a' + (j + i) % 26);
		memcpy(r, "get ", 4);
		memcpy(r + 4, k, ks);
		memset(r + 4 + ks, ' ', l->req_len - 6 - ks);
		memcpy(r + l->req_len - 2, "\r\n", 2);
	}
	for (j = 0; j < (size_t)o->value_size + 26; j++)
		l->pattern[j] = (char)('A' + (j + (size_t)o->value_size) % 26);
	l->suffix_len = (size_t)snprintf(l->suffix, sizeof(l->suffix), " 0 %d\r\n",
					 o->value_size);
	l->hit_len = 6 + ks + l->suffix_len + (size_t)o->value_size + 7;
	return 0;
}

/* Waits up to @timeout_ms for a datagram carrying request id @id; returns
 * its length (frame header included) or -1. */
static ssize_t wait_for_id(int fd, uint16_t id, char *buf, size_t size, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct mc_frame_hdr fh;
	uint64_t now;
	ssize_t n;

	while (!stop_requested && (now = now_ns()) < deadline) {
		if (poll(&pfd, 1, (int)((deadline - now) / NSEC_PER_MSEC) + 1) <= 0)
			continue;
		n = recv(fd, buf, size, MSG_DONTWAIT);
		if (n < (ssize_t)sizeof(fh))
			continue;
		memcpy(&fh, buf, sizeof(fh));
		if (ntohs(fh.req_id) == id)
			return n;
	}
	return -1;
}

static int set_key(struct load *l, uint64_t i, char *sbuf, char *rbuf)
{
	const struct load_opts *o = l->o;
	size_t ks = (size_t)o->key_size, vs = (size_t)o->value_size, len;
	int try, hdr;
	ssize_t n;

	hdr = snprintf(sbuf + MC_FRAME_HDR_LEN, 32, "set ");
	len = MC_FRAME_HDR_LEN + (size_t)hdr;
	memcpy(sbuf + len, key_of(l, i), ks);
	len += ks;
	len += (size_t)snprintf(sbuf + len, 32, " 0 0 %zu\r\n", vs);
	memcpy(sbuf + len, value_of(l, i), vs);
	len += vs;
	memcpy(sbuf + len, "\r\n", 2);
	len += 2;

	for (try = 0; try < POPULATE_TRIES && !stop_requested; try++) {
		uint16_t id = l->next_id++;

		frame_hdr(sbuf, id);
		l->head = l->next_id;
		if (send(l->fd, sbuf, len, 0) < 0) {
			fprintf(stderr, PROG ": populate: send: %s\n", strerror(errno));
			usleep((useconds_t)o->timeout_ms * 1000);
			continue;
		}
		n = wait_for_id(l->fd, id, rbuf, RECV_BUF, o->timeout_ms);
		if (n < 0)
			continue;
		if (n - MC_FRAME_HDR_LEN == 8 && memcmp(rbuf + MC_FRAME_HDR_LEN, "STORED\r\n", 8) == 0)
			return 0;
		rbuf[n] = '\0';
		fprintf(stderr, PROG ": populate: key %" PRIu64 ": Memcached replied '%.*s'\n",
			i, (int)strcspn(rbuf + MC_FRAME_HDR_LEN, "\r\n"), rbuf + MC_FRAME_HDR_LEN);
		return -1;
	}
	fprintf(stderr, PROG ": populate: key %" PRIu64 ": no reply to set after %d tries\n",
		i, POPULATE_TRIES);
	return -1;
}

static int populate(struct load *l)
{
	const struct load_opts *o = l->o;
	char *sbuf = malloc(MAX_DATAGRAM + 1), *rbuf = malloc(RECV_BUF + 1);
	uint64_t i, first = 0, last = o->keys;
	int err = 0;

	if (!sbuf || !rbuf) {
		fprintf(stderr, PROG ": out of memory\n");
		err = -1;
	}
	if (o->key_index >= 0) {
		first = (uint64_t)o->key_index;
		last = first + 1;
	}
	for (i = first; !err && i < last; i++)
		err = set_key(l, i, sbuf, rbuf);
	free(sbuf);
	free(rbuf);
	return err;
}

/* --stats: Memcached's "stats" reply, possibly several datagrams. */
static int print_stats(int fd, int timeout_ms)
{
	enum { MAX_PARTS = 64 };
	char *parts[MAX_PARTS] = { 0 };
	size_t lens[MAX_PARTS] = { 0 };
	char buf[RECV_BUF];
	struct mc_frame_hdr fh;
	unsigned int count = 0, got = 0, i;
	int err = -1;
	ssize_t n;

	frame_hdr(buf, 1);
	memcpy(buf + MC_FRAME_HDR_LEN, "stats\r\n", 7);
	if (send(fd, buf, MC_FRAME_HDR_LEN + 7, 0) < 0) {
		fprintf(stderr, PROG ": send: %s\n", strerror(errno));
		return -1;
	}
	while ((n = wait_for_id(fd, 1, buf, sizeof(buf), timeout_ms)) >= 0) {
		unsigned int seq;

		memcpy(&fh, buf, sizeof(fh));
		seq = ntohs(fh.seq);
		count = ntohs(fh.count);
		if (count == 0 || count > MAX_PARTS || seq >= count || parts[seq])
			continue;
		parts[seq] = malloc((size_t)n);
		if (!parts[seq])
			break;
		lens[seq] = (size_t)n - MC_FRAME_HDR_LEN;
		memcpy(parts[seq], buf + MC_FRAME_HDR_LEN, lens[seq]);
		if (++got == count) {
			err = 0;
			break;
		}
	}
	if (err)
		fprintf(stderr, PROG ": stats: got %u of %u datagrams\n", got, count);
	for (i = 0; i < MAX_PARTS; i++) {
		if (!err)
			fwrite(parts[i], 1, lens[i], stdout);
		free(parts[i]);
	}
	return err;
}

static const char *classify(const struct load *l, const struct slot *s,
			    const char *m, size_t len)
{
	const struct load_opts *o = l->o;
	const char *p = m;

	if (len == 5 && memcmp(m, "END\r\n", 5) == 0)
		return "miss";
	if (len != l->hit_len || memcmp(p, "VALUE ", 6) != 0)
		return "error";
	p += 6;
	if (memcmp(p, key_of(l, s->key), (size_t)o->key_size) != 0)
		return "error";
	p += o->key_size;
	if (memcmp(p, l->suffix, l->suffix_len) != 0)
		return "error";
	p += l->suffix_len;
	if (memcmp(p, value_of(l, s->key), (size_t)o->value_size) != 0)
		return "error";
	p += o->value_size;
	if (memcmp(p, "\r\nEND\r\n", 7) != 0)
		return "error";
	return "hit";
}

static int on_reply(struct load *l, const char *buf, size_t n, uint64_t now)
{
	struct mc_frame_hdr fh;
	struct slot *s;
	const char *kind;

	if (n < sizeof(fh))
		return 0;
	memcpy(&fh, buf, sizeof(fh));
	s = &l->slots[ntohs(fh.req_id)];
	if (!s->active)
		return 0;	/* late reply to a lost request, or a stray */
	s->active = false;
	l->in_flight--;
	if (!s->counted)
		return 0;
	if (fh.seq != 0 || fh.count != htons(1))
		kind = "error";
	else
		kind = classify(l, s, buf + sizeof(fh), n - sizeof(fh));
	l->t.replies++;
	l->second_replies++;
	if (kind[0] == 'h')
		l->t.hits++;
	else if (kind[0] == 'm')
		l->t.misses++;
	else
		l->t.errors++;
	if (l->o->samples && samples_push(&l->rtt, now - s->sent_ns) < 0) {
		fprintf(stderr, PROG ": out of memory after %zu samples\n", l->rtt.len);
		return -1;
	}
	return 0;
}

/* Retire the oldest ids: answered ones, and those past the timeout. */
static void expire(struct load *l, uint64_t now, uint64_t timeout_ns)
{
	while (l->head != l->next_id) {
		struct slot *s = &l->slots[l->head];

		if (s->active) {
			if (now - s->sent_ns < timeout_ns)
				return;
			s->active = false;
			l->in_flight--;
			if (s->counted)
				l->t.lost++;
		}
		l->head++;
	}
}

/* Sends up to @n requests in one sendmmsg. Returns the number sent, or -1
 * on a hard error. */
static int send_batch(struct load *l, int n, bool counted)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH][2];
	char hdrs[BATCH][MC_FRAME_HDR_LEN];
	uint16_t ids[BATCH];
	uint64_t keys[BATCH], now;
	const struct load_opts *o = l->o;
	int i, sent;

	memset(msgs, 0, sizeof(msgs[0]) * (size_t)n);
	for (i = 0; i < n; i++) {
		uint64_t k;

		if (o->key_index >= 0) {
			k = (uint64_t)o->key_index;
		} else {
			k = l->next_key++;
			if (l->next_key == o->keys)
				l->next_key = 0;
		}
		ids[i] = (uint16_t)(l->next_id + i);
		keys[i] = k;
		frame_hdr(hdrs[i], ids[i]);
		iov[i][0].iov_base = hdrs[i];
		iov[i][0].iov_len = MC_FRAME_HDR_LEN;
		iov[i][1].iov_base = l->reqs + k * l->req_len;
		iov[i][1].iov_len = l->req_len;
		msgs[i].msg_hdr.msg_iov = iov[i];
		msgs[i].msg_hdr.msg_iovlen = 2;
	}
	now = now_ns();
	sent = sendmmsg(l->fd, msgs, (unsigned int)n, 0);
	if (sent < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS ||
		    errno == ECONNREFUSED)
			return 0;
		fprintf(stderr, PROG ": sendmmsg: %s\n", strerror(errno));
		return -1;
	}
	for (i = 0; i < sent; i++) {
		struct slot *s = &l->slots[ids[i]];

		s->sent_ns = now;
		s->key = (uint32_t)keys[i];
		s->active = true;
		s->counted = counted;
	}
	l->next_id = (uint16_t)(l->next_id + sent);
	l->in_flight += sent;
	if (counted)
		l->t.requests += (uint64_t)sent;
	return sent;
}

/* Reads what has arrived without blocking. Returns datagrams read or -1. */
static int receive(struct load *l)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t now;
	int i, n;

	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = l->rbuf[i];
		iov[i].iov_len = RECV_BUF;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(l->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNREFUSED)
			return 0;
		fprintf(stderr, PROG ": recvmmsg: %s\n", strerror(errno));
		return -1;
	}
	now = now_ns();
	for (i = 0; i < n; i++)
		if (on_reply(l, l->rbuf[i], msgs[i].msg_len, now) < 0)
			return -1;
	return n;
}

static void wait_readable(int fd, uint64_t wait_ns)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts = {
		.tv_sec = (time_t)(wait_ns / NSEC_PER_SEC),
		.tv_nsec = (long)(wait_ns % NSEC_PER_SEC),
	};

	if (wait_ns < SPIN_NS)
		return;
	ppoll(&pfd, 1, &ts, NULL);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* How many requests may go now: free window, and the schedule of --rate. */
static int sendable(const struct load *l, uint64_t now, uint64_t next_send)
{
	int n = l->o->window - l->in_flight;

	if ((uint16_t)(l->next_id - l->head) >= ID_SPACE - (unsigned int)BATCH - 1)
		return 0;	/* ids wrapped onto requests still waiting */
	if (n > BATCH)
		n = BATCH;
	if (n > 0 && l->o->rate && now < next_send)
		return 0;
	if (n > 0 && l->o->rate)
		n = 1;
	return n;
}

static int run(struct load *l)
{
	const struct load_opts *o = l->o;
	uint64_t timeout_ns = (uint64_t)o->timeout_ms * NSEC_PER_MSEC;
	uint64_t interval = o->rate ? NSEC_PER_SEC / o->rate : 0;
	uint64_t start = now_ns();
	uint64_t measure = start + o->warmup_s * NSEC_PER_SEC;
	uint64_t end = measure + o->duration_s * NSEC_PER_SEC;
	uint64_t next_report = measure + NSEC_PER_SEC;
	uint64_t next_send = start, now, wake;
	int n, got, sent;

	while (!stop_requested && (now = now_ns()) < end) {
		if (now >= next_report) {
			printf("throughput: %" PRIu64 " (rps)\n", l->second_replies);
			fflush(stdout);
			l->second_replies = 0;
			next_report += NSEC_PER_SEC;
		}
		if (now < measure)
			l->second_replies = 0;
		expire(l, now, timeout_ns);
		sent = 0;
		n = sendable(l, now, next_send);
		if (n > 0) {
			sent = send_batch(l, n, now >= measure);
			if (sent < 0)
				return -1;
			/* A schedule more than a second behind restarts
			 * from now instead of bursting to catch up. */
			if (o->rate && now > next_send + NSEC_PER_SEC)
				next_send = now;
			next_send += interval;
		}
		got = receive(l);
		if (got < 0)
			return -1;
		if (got > 0 || sent > 0)
			continue;
		/* Nothing to do: sleep until a reply, a send, a timeout or a
		 * report is due. */
		wake = min_u64(end, next_report);
		if (l->head != l->next_id)
			wake = min_u64(wake, l->slots[l->head].sent_ns + timeout_ns);
		if (o->rate && l->in_flight < o->window)
			wake = min_u64(wake, next_send);
		now = now_ns();
		if (wake > now)
			wait_readable(l->fd, wake - now);
	}
	now = min_u64(now_ns(), end);
	l->seconds = now > measure ? (double)(now - measure) / 1e9 : 0.0;
	/* Give the requests still in flight their full timeout. */
	while (!stop_requested && l->in_flight > 0) {
		now = now_ns();
		expire(l, now, timeout_ns);
		if (l->in_flight == 0)
			break;
		got = receive(l);
		if (got < 0)
			return -1;
		if (got == 0)
			wait_readable(l->fd, min_u64(timeout_ns, 1000 * 1000));
	}
	expire(l, UINT64_MAX, 0);
	return 0;
}

static int report(const struct load *l)
{
	const struct totals *t = &l->t;

	if (l->o->samples && samples_write(&l->rtt, l->o->samples) < 0) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", l->o->samples, strerror(errno));
		return -1;
	}
	printf("total: requests %" PRIu64 " replies %" PRIu64 " hits %" PRIu64
	       " misses %" PRIu64 " lost %" PRIu64 " errors %" PRIu64 " seconds %.3f\n",
	       t->requests, t->replies, t->hits, t->misses, t->lost, t->errors, l->seconds);
	fflush(stdout);
	return 0;
}

static void free_load(struct load *l)
{
	free(l->keys);
	free(l->reqs);
	free(l->pattern);
	free(l->slots);
	free(l->rbuf);
	samples_free(&l->rtt);
}

int main(int argc, char **argv)
{
	struct load_opts opts;
	struct load l;
	int err;

	if (parse_args(argc, argv, &opts) < 0)
		return 2;
	if (stop_on_signals(PROG) < 0 || pin_to_cpu(PROG, opts.cpu) < 0)
		return 1;
	/* Sleeps in ppoll are short and timed: no timer slack. */
	prctl(PR_SET_TIMERSLACK, 1UL);
	memset(&l, 0, sizeof(l));
	l.o = &opts;
	l.fd = open_socket(&opts);
	if (l.fd < 0)
		return 1;
	if (opts.stats) {
		err = print_stats(l.fd, opts.timeout_ms * 10);
		close(l.fd);
		return err < 0 ? 1 : 0;
	}
	l.slots = calloc(ID_SPACE, sizeof(*l.slots));
	l.rbuf = malloc(sizeof(*l.rbuf) * BATCH);
	if (!l.slots || !l.rbuf || build_keys(&l) < 0 ||
	    samples_init(&l.rtt, opts.samples ? 0 : 1) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	err = opts.populate ? populate(&l) : 0;
	if (!err)
		err = run(&l);
	if (!err)
		err = report(&l);
	if (!err && l.t.replies == 0 && !stop_requested) {
		fprintf(stderr, PROG ": no reply received from the server\n");
		err = -1;
	}
	close(l.fd);
	free_load(&l);
	return err < 0 ? 1 : 0;
}
