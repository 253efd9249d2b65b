// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * drop_server: the user-space end of Figure 10. Receives UDP datagrams as
 * fast as it can and throws them away, counting.
 *
 *   drop_server --addr IP --port P [--cpu N] [--duration S]
 *
 * Prints "ready" once bound, then once a second, like the paper's tool,
 *
 *   throughput: N (pps)
 *
 * and when SIGINT/SIGTERM or the end of --duration stops it (exit 0)
 *
 *   total: N packets B bytes
 *
 * where B counts UDP payload bytes as they arrived, so that a payload cut
 * short by xdp_truncate shows up as fewer bytes per packet.
 *
 * Every datagram is copied whole into a user buffer: that copy is what
 * truncating the payload in XDP is supposed to make cheaper.
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
#include "stop.h"
#include "timeutil.h"

#define PROG "drop_server"
#define BATCH 64
/* A full Ethernet MTU datagram fits; a larger one is counted at its real
 * size (MSG_TRUNC) but only this much of it is copied. */
#define SLOT_BYTES 2048
/* recvmmsg wakes up this often when no packet arrives, to print a zero
 * throughput line and to notice the end of the run. */
#define WAKEUP_MS 100

struct drop_opts {
	struct sockaddr_in addr;
	int cpu;
	uint64_t duration_ns;	/* 0 = until a signal */
};

struct counters {
	uint64_t packets;
	uint64_t bytes;
	uint64_t interval_packets;
	uint64_t interval_start;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --addr IP --port P [--cpu N] [--duration S]\n"
		"  --addr IP      IPv4 address to bind\n"
		"  --port P       UDP port to bind\n"
		"  --cpu N        pin to CPU N\n"
		"  --duration S   stop after S seconds (default: at SIGINT/SIGTERM)\n"
		"Prints 'ready', then 'throughput: N (pps)' every second, and\n"
		"'total: N packets B bytes' at the end.\n");
}

static int parse_args(int argc, char **argv, struct drop_opts *o)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ip = NULL;
	uint64_t port = 0, v;
	int c;

	memset(o, 0, sizeof(*o));
	o->cpu = -1;
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
		case 't':
			if (parse_u64(PROG, "duration", optarg, 1, 86400, &v) < 0)
				return -1;
			o->duration_ns = v * NSEC_PER_SEC;
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
	if (!ip || !port) {
		fprintf(stderr, PROG ": --addr and --port are required\n");
		return -1;
	}
	return make_sockaddr(PROG, "addr", ip, (unsigned int)port, &o->addr);
}

static int open_socket(const struct sockaddr_in *addr)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = WAKEUP_MS * 1000 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[32];
	int one = 1;

	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		fprintf(stderr, PROG ": setsockopt: %s\n", strerror(errno));
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
		fprintf(stderr, PROG ": bind %s: %s\n",
			format_ip_port(addr, buf, sizeof(buf)), strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* One message per slot of @bufs, reused for every call. */
static void setup_msgs(struct mmsghdr *msgs, struct iovec *iovs, char *bufs)
{
	int i;

	memset(msgs, 0, BATCH * sizeof(*msgs));
	for (i = 0; i < BATCH; i++) {
		iovs[i].iov_base = bufs + (size_t)i * SLOT_BYTES;
		iovs[i].iov_len = SLOT_BYTES;
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
}

/* Print the packets of every whole second that ended by @now. */
static void report_seconds(struct counters *c, uint64_t now)
{
	while (now - c->interval_start >= NSEC_PER_SEC) {
		printf("throughput: %llu (pps)\n",
		       (unsigned long long)c->interval_packets);
		fflush(stdout);
		c->interval_packets = 0;
		c->interval_start += NSEC_PER_SEC;
	}
}

static int drain(int fd, const struct drop_opts *o)
{
	static char bufs[BATCH * SLOT_BYTES];
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	struct counters c = { 0 };
	uint64_t start = now_ns(), now;
	int i, n;

	setup_msgs(msgs, iovs, bufs);
	c.interval_start = start;
	while (!stop_requested) {
		/* MSG_WAITFORONE: block for the first datagram only, then take
		 * whatever else is queued. MSG_TRUNC: real sizes in msg_len. */
		n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE | MSG_TRUNC, NULL);
		if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			fprintf(stderr, PROG ": recvmmsg: %s\n", strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++)
			c.bytes += msgs[i].msg_len;
		if (n > 0) {
			c.packets += (uint64_t)n;
			c.interval_packets += (uint64_t)n;
		}
		now = now_ns();
		report_seconds(&c, now);
		if (o->duration_ns && now - start >= o->duration_ns)
			break;
	}
	printf("total: %llu packets %llu bytes\n", (unsigned long long)c.packets,
	       (unsigned long long)c.bytes);
	return 0;
}

int main(int argc, char **argv)
{
	struct drop_opts o;
	int fd, err;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (stop_on_signals(PROG) < 0 || pin_to_cpu(PROG, o.cpu) < 0)
		return 1;
	fd = open_socket(&o.addr);
	if (fd < 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	err = drain(fd, &o);
	close(fd);
	return err ? 1 : 0;
}
