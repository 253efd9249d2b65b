/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* IPv4 address and "IP:PORT" parsing into struct sockaddr_in. */
#ifndef COMMON_ADDR_H
#define COMMON_ADDR_H

#include <netinet/in.h>

/* Dotted-quad @ip and @port into @sa. Returns 0, or -1 after printing an
 * error naming option @opt. */
int make_sockaddr(const char *prog, const char *opt, const char *ip,
		  unsigned int port, struct sockaddr_in *sa);

/* "A.B.C.D:PORT" (port 1-65535) into @sa. Returns 0 or -1 as above. */
int parse_ip_port(const char *prog, const char *opt, const char *s,
		  struct sockaddr_in *sa);

/* "A.B.C.D:PORT" of @sa into @buf (at least 22 bytes). */
const char *format_ip_port(const struct sockaddr_in *sa, char *buf,
			   unsigned int len);

#endif
