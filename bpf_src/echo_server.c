// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * echo_server: the user-space echo of Figure 3, and the socket owner of the
 * SK_SKB echo.
 *
 *   echo_server --addr IP --port P [--cpu N] [--proto udp|tcp]
 *               [--sockmap PINNED_MAP --peer IP:PORT]
 *
 * Plain mode sends every datagram (or TCP byte stream) back to its sender
 * from user space. Sockmap mode puts the sockets into the SK_SKB program's
 * map and then never reads them: the kernel answers, and a reply the client
 * gets cannot have come from here ("served" stays 0). At the stop it counts
 * what the program left for user space and prints "passed_bytes: N".
 *
 * Prints "ready" once it can receive, and "served: N" when SIGINT or
 * SIGTERM stops it (exit status 0).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <bpf/bpf.h>

#include "addr.h"
#include "args.h"
#include "cpu.h"
#include "stop.h"

#define PROG "echo_server"
#define BUF_SIZE 65536
/* Blocking calls wake up this often to notice a stop request that raced
 * with entering the call. No cost per packet. */
#define WAKEUP_MS 100
#define TCP_BACKLOG 64
#define MAX_EVENTS 64

/* Keys of echo_sockmap, see echo_sk_skb.bpf.c. */
#define SOCKMAP_KEY_RX 0
#define SOCKMAP_KEY_TX 1

enum proto { PROTO_UDP, PROTO_TCP };

struct server_opts {
	struct sockaddr_in addr;
	int cpu;
	enum proto proto;
	const char *sockmap;
	struct sockaddr_in peer;
	bool has_peer;
};

static uint64_t served;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --addr IP --port P [--cpu N] [--proto udp|tcp]\n"
		"                   [--sockmap PINNED_MAP --peer IP:PORT]\n"
		"  --addr IP         IPv4 address to bind\n"
		"  --port P          port to bind (1-65535)\n"
		"  --cpu N           pin to CPU N\n"
		"  --proto P         udp (default) or tcp\n"
		"  --sockmap PATH    pinned echo_sockmap of echo_sk_skb: insert the\n"
		"                    receiving socket at key 0 and a socket connected\n"
		"                    to --peer at key 1, then leave echoing to the\n"
		"                    kernel (UDP only; attach the verdict program first)\n"
		"  --peer IP:PORT    the client's address, required by --sockmap\n"
		"Prints 'ready' when bound, 'served: N' on SIGINT/SIGTERM\n"
		"(sockmap mode first prints 'passed_bytes: N', left to user space).\n");
}

static int parse_proto(const char *s, enum proto *out)
{
	if (strcmp(s, "udp") == 0)
		*out = PROTO_UDP;
	else if (strcmp(s, "tcp") == 0)
		*out = PROTO_TCP;
	else {
		fprintf(stderr, PROG ": --proto: expected udp or tcp, got '%s'\n", s);
		return -1;
	}
	return 0;
}

static int check_opts(const struct server_opts *o, const char *ip, bool has_port)
{
	if (!ip || !has_port) {
		fprintf(stderr, PROG ": --addr and --port are required\n");
		return -1;
	}
	if (o->sockmap && !o->has_peer) {
		fprintf(stderr, PROG ": --sockmap needs --peer IP:PORT (the client)\n");
		return -1;
	}
	if (o->has_peer && !o->sockmap) {
		fprintf(stderr, PROG ": --peer is only used with --sockmap\n");
		return -1;
	}
	if (o->sockmap && o->proto != PROTO_UDP) {
		fprintf(stderr, PROG ": --sockmap supports --proto udp only\n");
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct server_opts *o)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "proto", required_argument, NULL, 'P' },
		{ "sockmap", required_argument, NULL, 'm' },
		{ "peer", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ip = NULL;
	uint64_t port = 0;
	bool has_port = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->cpu = -1;
	o->proto = PROTO_UDP;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			ip = optarg;
			break;
		case 'p':
			if (parse_u64(PROG, "port", optarg, 1, 65535, &port) < 0)
				return -1;
			has_port = true;
			break;
		case 'c':
			if (parse_int(PROG, "cpu", optarg, 0, CPU_MAX, &o->cpu) < 0)
				return -1;
			break;
		case 'P':
			if (parse_proto(optarg, &o->proto) < 0)
				return -1;
			break;
		case 'm':
			o->sockmap = optarg;
			break;
		case 'r':
			if (parse_ip_port(PROG, "peer", optarg, &o->peer) < 0)
				return -1;
			o->has_peer = true;
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
	if (check_opts(o, ip, has_port) < 0)
		return -1;
	return make_sockaddr(PROG, "addr", ip, (unsigned int)port, &o->addr);
}

/* SIGINT/SIGTERM without SA_RESTART, so blocking calls return EINTR. */
static int set_int_opt(int fd, int level, int name, int value, const char *what)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) {
		fprintf(stderr, PROG ": setsockopt %s: %s\n", what, strerror(errno));
		return -1;
	}
	return 0;
}

static int set_wakeup(int fd)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = WAKEUP_MS * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		fprintf(stderr, PROG ": setsockopt SO_RCVTIMEO: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A socket of @type bound to @addr. @shared adds SO_REUSEPORT so that the
 * sockmap mode can bind a second UDP socket to the same address and port.
 */
static int open_bound(int type, const struct sockaddr_in *addr, bool shared)
{
	char buf[32];
	int fd = socket(AF_INET, type, 0);

	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return -1;
	}
	if (set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR") < 0 ||
	    (shared && set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT") < 0))
		goto fail;
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

static bool interrupted(void)
{
	return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
}

/* Read one datagram from @fd and send it back to its sender. */
static int echo_datagram(int fd, char *buf)
{
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	ssize_t n;

	n = recvfrom(fd, buf, BUF_SIZE, 0, (struct sockaddr *)&from, &fromlen);
	if (n < 0)
		return interrupted() ? 0 : -1;
	served++;
	/* A lost reply is the client's business (it counts a loss); the
	 * server keeps going. */
	sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
	return 0;
}

/* One socket: a blocking recvfrom/sendto pair per packet, nothing more,
 * since this is the baseline the eBPF hooks are compared with. */
static int serve_udp_one(int fd, char *buf)
{
	while (!stop_requested)
		if (echo_datagram(fd, buf) < 0) {
			fprintf(stderr, PROG ": recvfrom: %s\n", strerror(errno));
			return -1;
		}
	return 0;
}

/*
 * Sockmap mode: the kernel answers, so do not wait on the sockets at all.
 * The psock wakes a reader on every datagram even when the program has
 * redirected it, and a reader that is awake can dequeue a datagram before
 * the verdict program runs; both would slow or bypass the path measured.
 * Sleep until SIGINT/SIGTERM instead (signals blocked outside sigsuspend,
 * so a stop request cannot slip in between the check and the sleep).
 */
static int park_until_signal(void)
{
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, &old) < 0) {
		fprintf(stderr, PROG ": sigprocmask: %s\n", strerror(errno));
		return -1;
	}
	while (!stop_requested)
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

/*
 * Bytes queued for user space on @fd, read and discarded: what the verdict
 * program passed instead of redirecting. Bytes, not datagrams, because a
 * sockmap UDP socket returns its psock queue like a stream (one recv can
 * span several datagrams).
 */
static uint64_t drain(int fd, char *buf)
{
	uint64_t bytes = 0;
	ssize_t n;

	while ((n = recv(fd, buf, BUF_SIZE, MSG_DONTWAIT)) > 0)
		bytes += (uint64_t)n;
	return bytes;
}

static int sockmap_check(int map_fd, const char *path, uint32_t *value_size)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len) < 0) {
		fprintf(stderr, PROG ": %s: cannot query map: %s\n", path, strerror(errno));
		return -1;
	}
	if (info.type != BPF_MAP_TYPE_SOCKMAP || info.max_entries <= SOCKMAP_KEY_TX) {
		fprintf(stderr, PROG ": %s: expected a SOCKMAP with at least %d entries "
			"(echo_sockmap of echo_sk_skb)\n", path, SOCKMAP_KEY_TX + 1);
		return -1;
	}
	*value_size = info.value_size;
	return 0;
}

static int sockmap_put(int map_fd, uint32_t value_size, uint32_t key, int sock)
{
	uint64_t v64 = (uint64_t)sock;
	uint32_t v32 = (uint32_t)sock;
	const void *value = value_size == sizeof(v64) ? (void *)&v64 : (void *)&v32;

	if (bpf_map_update_elem(map_fd, &key, value, BPF_ANY) < 0) {
		fprintf(stderr, PROG ": sockmap key %u: %s\n", key, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Put @rx_fd at key 0 and @tx_fd at key 1 of the pinned map. The verdict
 * program must already be attached to the map: a socket takes the map's
 * programs when it is inserted.
 */
static int sockmap_insert(const char *path, int rx_fd, int tx_fd)
{
	uint32_t value_size;
	int map_fd, err = -1;

	map_fd = bpf_obj_get(path);
	if (map_fd < 0) {
		fprintf(stderr, PROG ": cannot open pinned map %s: %s "
			"(load echo_sk_skb with pinmaps first)\n", path, strerror(errno));
		return -1;
	}
	if (sockmap_check(map_fd, path, &value_size) == 0 &&
	    sockmap_put(map_fd, value_size, SOCKMAP_KEY_RX, rx_fd) == 0 &&
	    sockmap_put(map_fd, value_size, SOCKMAP_KEY_TX, tx_fd) == 0)
		err = 0;
	/* The map holds its own references to the sockets. */
	close(map_fd);
	return err;
}

static int open_udp(const struct server_opts *o, int *fds)
{
	bool shared = o->sockmap != NULL;
	char buf[32];

	fds[0] = open_bound(SOCK_DGRAM, &o->addr, shared);
	if (fds[0] < 0 || set_wakeup(fds[0]) < 0)
		return -1;
	if (!shared)
		return 1;

	/* The egress socket: same address and port, connected to the client.
	 * A connected socket wins the lookup for its 4-tuple, so the client's
	 * requests arrive here; the verdict program runs either way. */
	fds[1] = open_bound(SOCK_DGRAM, &o->addr, true);
	if (fds[1] < 0)
		return -1;
	if (connect(fds[1], (const struct sockaddr *)&o->peer, sizeof(o->peer)) < 0) {
		fprintf(stderr, PROG ": connect %s: %s\n",
			format_ip_port(&o->peer, buf, sizeof(buf)), strerror(errno));
		return -1;
	}
	if (sockmap_insert(o->sockmap, fds[0], fds[1]) < 0)
		return -1;
	return 2;
}

static int run_udp(const struct server_opts *o, char *buf)
{
	int fds[2] = { -1, -1 };
	int nfds, err;

	nfds = open_udp(o, fds);
	if (nfds < 0)
		return -1;
	printf("ready\n");
	fflush(stdout);
	if (nfds == 1) {
		err = serve_udp_one(fds[0], buf);
	} else {
		err = park_until_signal();
		printf("passed_bytes: %llu\n",
		       (unsigned long long)(drain(fds[0], buf) + drain(fds[1], buf)));
	}
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return err;
}

/* Write all of @buf, looping over short writes. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Echo what is readable on @fd; close it on EOF or error. */
static void tcp_echo_conn(int ep, int fd, char *buf)
{
	ssize_t n = read(fd, buf, BUF_SIZE);

	if (n > 0 && write_all(fd, buf, (size_t)n) == 0) {
		served++;
		return;
	}
	if (n < 0 && errno == EINTR)
		return;
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static void tcp_accept(int ep, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		return;
	/* Echo replies are small and latency is what is measured. */
	set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		close(fd);
}

static int serve_tcp(int ep, int lfd, char *buf)
{
	struct epoll_event events[MAX_EVENTS];
	int i, n;

	while (!stop_requested) {
		n = epoll_wait(ep, events, MAX_EVENTS, WAKEUP_MS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": epoll_wait: %s\n", strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (events[i].data.fd == lfd)
				tcp_accept(ep, lfd);
			else
				tcp_echo_conn(ep, events[i].data.fd, buf);
		}
	}
	return 0;
}

static int run_tcp(const struct server_opts *o, char *buf)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int lfd, ep, err = -1;

	lfd = open_bound(SOCK_STREAM, &o->addr, false);
	if (lfd < 0)
		return -1;
	if (listen(lfd, TCP_BACKLOG) < 0) {
		fprintf(stderr, PROG ": listen: %s\n", strerror(errno));
		close(lfd);
		return -1;
	}
	ep = epoll_create1(0);
	ev.data.fd = lfd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		fprintf(stderr, PROG ": epoll: %s\n", strerror(errno));
	} else {
		printf("ready\n");
		fflush(stdout);
		err = serve_tcp(ep, lfd, buf);
	}
	if (ep >= 0)
		close(ep);
	close(lfd);
	return err;
}

int main(int argc, char **argv)
{
	struct server_opts opts;
	char *buf;
	int err;

	if (parse_args(argc, argv, &opts) < 0)
		return 2;
	if (stop_on_signals(PROG) < 0 || pin_to_cpu(PROG, opts.cpu) < 0)
		return 1;
	buf = malloc(BUF_SIZE);
	if (!buf) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	err = opts.proto == PROTO_UDP ? run_udp(&opts, buf) : run_tcp(&opts, buf);
	free(buf);
	if (err < 0)
		return 1;
	printf("served: %llu\n", (unsigned long long)served);
	fflush(stdout);
	return 0;
}
