// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "args.h"

int make_sockaddr(const char *prog, const char *opt, const char *ip,
		  unsigned int port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	/* inet_pton, unlike inet_aton, refuses "1.2.3" and "0x7f.1". */
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
		fprintf(stderr, "%s: --%s: '%s' is not an IPv4 address\n",
			prog, opt, ip);
		return -1;
	}
	return 0;
}

int parse_ip_port(const char *prog, const char *opt, const char *s,
		  struct sockaddr_in *sa)
{
	char ip[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	size_t ip_len;
	uint64_t port;

	if (!colon) {
		fprintf(stderr, "%s: --%s: expected IP:PORT, got '%s'\n",
			prog, opt, s);
		return -1;
	}
	ip_len = (size_t)(colon - s);
	if (ip_len == 0 || ip_len >= sizeof(ip)) {
		fprintf(stderr, "%s: --%s: expected IP:PORT, got '%s'\n",
			prog, opt, s);
		return -1;
	}
	memcpy(ip, s, ip_len);
	ip[ip_len] = '\0';
	if (parse_u64(prog, opt, colon + 1, 1, 65535, &port) < 0)
		return -1;
	return make_sockaddr(prog, opt, ip, (unsigned int)port, sa);
}

const char *format_ip_port(const struct sockaddr_in *sa, char *buf,
			   unsigned int len)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(sa->sin_port));
	return buf;
}
