// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * echo_client: UDP round-trip time with exactly one request in flight, the
 * client of Figure 3.
 *
 *   echo_client --server IP --port P [--size BYTES] [--duration S | --count N]
 *               [--warmup N] [--cpu N] [--output FILE] [--bind-port P]
 *               [--timeout-ms MS]
 *
 * Each request carries a sequence number; the RTT is CLOCK_MONOTONIC from
 * just before send() to just after the matching reply, in nanoseconds.
 * A request unanswered within the timeout counts as lost and the next one
 * is sent; a late reply to an old request is recognised by its sequence
 * number and skipped. The first --warmup samples are dropped (caches, ARP,
 * page faults). Kept samples stay in memory and are written once at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include "addr.h"
#include "args.h"
#include "cpu.h"
#include "samples.h"
#include "stop.h"
#include "timeutil.h"

#define PROG "echo_client"
/* Largest UDP payload over IPv4. */
#define MAX_PAYLOAD 65507
/* The sequence number lives in the first 8 bytes of the payload. */
#define MIN_PAYLOAD ((int)sizeof(uint64_t))
#define DEFAULT_SIZE 64
#define DEFAULT_WARMUP 1000
#define DEFAULT_TIMEOUT_MS 100
#define DEFAULT_DURATION_S 10
/* Stop early when the server has been silent this long: a count-based
 * run against a dead server must not hang forever. */
#define GIVE_UP_NS (5 * NSEC_PER_SEC)

struct client_opts {
	struct sockaddr_in server;
	int size;
	uint64_t duration_s;	/* 0 when --count is used */
	uint64_t count;		/* 0 when --duration is used */
	uint64_t warmup;
	int cpu;
	const char *output;
	int bind_port;		/* 0: any */
	int timeout_ms;
};

struct run_stats {
	struct samples kept;
	uint64_t replies;	/* including warm-up */
	uint64_t lost;
};

enum wait_result { REPLY_OK, REPLY_LOST, REPLY_STOP, REPLY_ERROR };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --server IP --port P [--size BYTES] [--duration S | --count N]\n"
		"                   [--warmup N] [--cpu N] [--output FILE] [--bind-port P]\n"
		"                   [--timeout-ms MS]\n"
		"  --server IP       echo server address\n"
		"  --port P          echo server port\n"
		"  --size BYTES      UDP payload, %d-%d (default %d)\n"
		"  --duration S      measure for S seconds (default %d)\n"
		"  --count N         measure N samples after the warm-up\n"
		"  --warmup N        samples discarded first (default %d)\n"
		"  --cpu N           pin to CPU N\n"
		"  --output FILE     write samples: 'num samples: N', then one RTT (ns) a line\n"
		"  --bind-port P     local port (the SK_SKB server connects to it)\n"
		"  --timeout-ms MS   a reply later than this is a loss (default %d)\n"
		"Prints 'samples: N lost: L min_ns: A median_ns: B p99_ns: C'.\n",
		MIN_PAYLOAD, MAX_PAYLOAD, DEFAULT_SIZE, DEFAULT_DURATION_S,
		DEFAULT_WARMUP, DEFAULT_TIMEOUT_MS);
}

static void set_defaults(struct client_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size = DEFAULT_SIZE;
	o->warmup = DEFAULT_WARMUP;
	o->cpu = -1;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
}

/* Handle one option; returns 0, or -1 on a bad value. */
static int parse_opt(int c, struct client_opts *o, const char **ip, uint64_t *port)
{
	switch (c) {
	case 's':
		*ip = optarg;
		return 0;
	case 'p':
		return parse_u64(PROG, "port", optarg, 1, 65535, port);
	case 'z':
		return parse_int(PROG, "size", optarg, MIN_PAYLOAD, MAX_PAYLOAD, &o->size);
	case 'd':
		return parse_u64(PROG, "duration", optarg, 1, 1000000, &o->duration_s);
	case 'n':
		return parse_u64(PROG, "count", optarg, 1, UINT32_MAX, &o->count);
	case 'w':
		return parse_u64(PROG, "warmup", optarg, 0, UINT32_MAX, &o->warmup);
	case 'c':
		return parse_int(PROG, "cpu", optarg, 0, CPU_MAX, &o->cpu);
	case 'o':
		o->output = optarg;
		return 0;
	case 'b':
		return parse_int(PROG, "bind-port", optarg, 1, 65535, &o->bind_port);
	case 't':
		return parse_int(PROG, "timeout-ms", optarg, 1, 60000, &o->timeout_ms);
	case 'h':
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		return -1;
	}
}

static int parse_args(int argc, char **argv, struct client_opts *o)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 'z' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "bind-port", required_argument, NULL, 'b' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ip = NULL;
	uint64_t port = 0;
	int c;

	set_defaults(o);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (parse_opt(c, o, &ip, &port) < 0)
			return -1;
	if (no_arguments_left(PROG, argc, argv) < 0)
		return -1;
	if (!ip || port == 0) {
		fprintf(stderr, PROG ": --server and --port are required\n");
		return -1;
	}
	if (o->duration_s && o->count) {
		fprintf(stderr, PROG ": --duration and --count exclude each other\n");
		return -1;
	}
	if (!o->duration_s && !o->count)
		o->duration_s = DEFAULT_DURATION_S;
	return make_sockaddr(PROG, "server", ip, (unsigned int)port, &o->server);
}

/*
 * A UDP socket connected to the server. Connecting lets the kernel drop
 * datagrams from anyone else and saves passing an address on every call.
 * The reply timeout is SO_RCVTIMEO on a blocking recv(): the same effect as
 * poll() with a timeout, with one system call per reply instead of two.
 */
static int open_socket(const struct client_opts *o)
{
	struct timeval tv = {
		.tv_sec = o->timeout_ms / 1000,
		.tv_usec = (o->timeout_ms % 1000) * 1000,
	};
	struct sockaddr_in local;
	char buf[32];
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		fprintf(stderr, PROG ": setsockopt SO_RCVTIMEO: %s\n", strerror(errno));
		goto fail;
	}
	if (o->bind_port) {
		memset(&local, 0, sizeof(local));
		local.sin_family = AF_INET;
		local.sin_addr.s_addr = htonl(INADDR_ANY);
		local.sin_port = htons((uint16_t)o->bind_port);
		if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
			fprintf(stderr, PROG ": bind port %d: %s\n", o->bind_port,
				strerror(errno));
			goto fail;
		}
	}
	if (connect(fd, (const struct sockaddr *)&o->server, sizeof(o->server)) < 0) {
		fprintf(stderr, PROG ": connect %s: %s\n",
			format_ip_port(&o->server, buf, sizeof(buf)), strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Sleep for the reply timeout: used when the kernel reports the server
 * unreachable at once, so that a missing server is not hammered. */
static void wait_timeout(int timeout_ms)
{
	struct timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long)(timeout_ms % 1000) * (long)NSEC_PER_MSEC,
	};

	nanosleep(&ts, NULL);
}

/* Wait for the reply carrying @seq, skipping late replies to older
 * requests. */
static enum wait_result wait_reply(int fd, uint64_t seq, char *rbuf, int size,
				   int timeout_ms)
{
	uint64_t got;
	ssize_t n;

	for (;;) {
		n = recv(fd, rbuf, MAX_PAYLOAD, 0);
		if (n < 0) {
			if (stop_requested)
				return REPLY_STOP;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return REPLY_LOST;
			if (errno == ECONNREFUSED) {
				wait_timeout(timeout_ms);
				return REPLY_LOST;
			}
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": recv: %s\n", strerror(errno));
			return REPLY_ERROR;
		}
		if (n != size)
			continue;
		memcpy(&got, rbuf, sizeof(got));
		if (got == seq)
			return REPLY_OK;
	}
}

/* Send request @seq; store its RTT in @rtt_ns when it is answered. */
static enum wait_result ping(int fd, uint64_t seq, char *sbuf, char *rbuf,
			     const struct client_opts *o, uint64_t *rtt_ns)
{
	enum wait_result r;
	uint64_t t0;

	memcpy(sbuf, &seq, sizeof(seq));
	t0 = now_ns();
	if (send(fd, sbuf, (size_t)o->size, 0) < 0) {
		if (errno == EINTR && stop_requested)
			return REPLY_STOP;
		if (errno == ECONNREFUSED || errno == ENOBUFS || errno == EAGAIN) {
			wait_timeout(o->timeout_ms);
			return REPLY_LOST;
		}
		fprintf(stderr, PROG ": send: %s\n", strerror(errno));
		return REPLY_ERROR;
	}
	r = wait_reply(fd, seq, rbuf, o->size, o->timeout_ms);
	*rtt_ns = now_ns() - t0;
	return r;
}

static bool finished(const struct client_opts *o, const struct run_stats *st,
		     uint64_t now, uint64_t deadline)
{
	if (stop_requested)
		return true;
	if (o->count)
		return st->kept.len >= o->count;
	return now >= deadline;
}

/* The measurement loop. Returns 0, or -1 on a hard error. */
static int run(int fd, const struct client_opts *o, struct run_stats *st,
	       char *sbuf, char *rbuf)
{
	uint64_t start = now_ns();
	uint64_t deadline = start + o->duration_s * NSEC_PER_SEC;
	uint64_t last_reply = start;
	uint64_t seq = 0, rtt, now;
	enum wait_result r;

	do {
		r = ping(fd, ++seq, sbuf, rbuf, o, &rtt);
		now = now_ns();
		if (r == REPLY_ERROR)
			return -1;
		if (r == REPLY_STOP)
			break;
		if (r == REPLY_LOST) {
			st->lost++;
			if (now - last_reply > GIVE_UP_NS) {
				fprintf(stderr, PROG ": no reply for %llu s, giving up\n",
					(unsigned long long)(GIVE_UP_NS / NSEC_PER_SEC));
				break;
			}
			continue;
		}
		last_reply = now;
		if (st->replies++ < o->warmup)
			continue;
		if (samples_push(&st->kept, rtt) < 0) {
			fprintf(stderr, PROG ": out of memory after %zu samples\n",
				st->kept.len);
			return -1;
		}
	} while (!finished(o, st, now, deadline));
	return 0;
}

static int report(const struct client_opts *o, const struct run_stats *st)
{
	struct samples_summary sum = { 0 };

	if (o->output && samples_write(&st->kept, o->output) < 0) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", o->output, strerror(errno));
		return -1;
	}
	if (st->kept.len > 0 && samples_summarize(&st->kept, &sum) < 0) {
		fprintf(stderr, PROG ": out of memory sorting samples\n");
		return -1;
	}
	printf("samples: %zu lost: %llu min_ns: %llu median_ns: %llu p99_ns: %llu\n",
	       st->kept.len, (unsigned long long)st->lost,
	       (unsigned long long)sum.min, (unsigned long long)sum.median,
	       (unsigned long long)sum.p99);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct client_opts opts;
	struct run_stats st = { 0 };
	char *sbuf, *rbuf;
	int fd, err;

	if (parse_args(argc, argv, &opts) < 0)
		return 2;
	if (stop_on_signals(PROG) < 0 || pin_to_cpu(PROG, opts.cpu) < 0)
		return 1;
	fd = open_socket(&opts);
	if (fd < 0)
		return 1;
	sbuf = calloc(1, MAX_PAYLOAD);
	rbuf = malloc(MAX_PAYLOAD);
	/* A count run knows its size; a timed run starts with the default
	 * and doubles, which touches memory only between requests. */
	if (!sbuf || !rbuf || samples_init(&st.kept, opts.count) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	err = run(fd, &opts, &st, sbuf, rbuf);
	close(fd);
	if (err == 0)
		err = report(&opts, &st);
	if (err == 0 && st.replies == 0) {
		fprintf(stderr, PROG ": no reply received from the server\n");
		err = -1;
	} else if (err == 0 && st.kept.len == 0) {
		fprintf(stderr, PROG ": all %llu replies fell in the warm-up\n",
			(unsigned long long)st.replies);
		err = -1;
	}
	samples_free(&st.kept);
	free(sbuf);
	free(rbuf);
	return err < 0 ? 1 : 0;
}
