/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * XDP attachment owned by a benchmark process (channel_bench, user_access
 * --xsk-fill traffic), made so that no exit path leaves a program behind.
 *
 * First choice is a bpf_link: the kernel detaches the program when the
 * last descriptor of the link closes, so even SIGKILL or a crash cleans
 * up. Kernels or drivers without XDP links get the netlink attachment
 * (bpf_xdp_attach); the caller then must call chan_xdp_detach on every
 * exit path (atexit and signal handlers), and a program a killed run left
 * behind is removed by chan_xdp_clear_stale at the next start.
 *
 * Host only (libbpf).
 */
#ifndef CHAN_ATTACH_H
#define CHAN_ATTACH_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct chan_attach {
	int ifindex;
	int link_fd;		/* >= 0: attached through a bpf_link */
	int prog_fd;		/* >= 0: attached through netlink */
	__u32 mode_flags;	/* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
};

#define CHAN_ATTACH_INIT { .ifindex = 0, .link_fd = -1, .prog_fd = -1, .mode_flags = 0 }

static inline bool chan_name_has_prefix(const char *name, const char *prefix)
{
	return strncmp(name, prefix, strlen(prefix)) == 0;
}

/* The interface's name for messages; "ifindex N" if it has gone. */
static inline const char *chan_ifname(int ifindex, char *buf)
{
	if (!if_indextoname((unsigned int)ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "ifindex %d", ifindex);
	return buf;
}

/*
 * Program @id attached to @ifindex in mode @mode_flags: if its name starts
 * with @prefix it is ours and is removed, unless a bpf_link of a live
 * process holds it (EBUSY). Any other program is left alone and reported:
 * the benchmark must not replace somebody else's program.
 */
static inline int chan_xdp_clear_one(const char *prog, int ifindex, __u32 id,
				     __u32 mode_flags, const char *prefix)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	char ifname[IF_NAMESIZE];
	int fd, err;

	chan_ifname(ifindex, ifname);
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot inspect XDP program id %u on %s: %s\n",
			prog, id, ifname, strerror(errno));
		return -1;
	}
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err || !chan_name_has_prefix(info.name, prefix)) {
		fprintf(stderr, "%s: %s already runs XDP program '%s' (id %u); detach it "
			"first (ip link set dev %s xdp off) or use another interface\n",
			prog, ifname, err ? "?" : info.name, id, ifname);
		close(fd);
		return -1;
	}
	/* old_prog_fd makes the detach conditional: if another run replaced
	 * the program meanwhile, that one stays. */
	opts.old_prog_fd = fd;
	err = bpf_xdp_detach(ifindex, mode_flags, &opts);
	close(fd);
	if (err == -EBUSY) {
		fprintf(stderr, "%s: XDP program '%s' (id %u) on %s belongs to a running "
			"process (bpf_link); stop it first\n", prog, info.name, id, ifname);
		return -1;
	}
	if (err) {
		fprintf(stderr, "%s: cannot detach stale XDP program '%s' (id %u): %s\n",
			prog, info.name, id, strerror(-err));
		return -1;
	}
	fprintf(stderr, "%s: detached stale XDP program '%s' (id %u) left by an earlier run\n",
		prog, info.name, id);
	return 0;
}

/* Remove what a previous run of ours left on @ifindex; refuse (-1) if the
 * interface runs someone else's XDP program. */
static inline int chan_xdp_clear_stale(const char *prog, int ifindex, const char *prefix)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char ifname[IF_NAMESIZE];
	int err;

	err = bpf_xdp_query(ifindex, 0, &q);
	if (err) {
		fprintf(stderr, "%s: cannot query XDP on %s: %s\n", prog,
			chan_ifname(ifindex, ifname), strerror(-err));
		return -1;
	}
	if (q.drv_prog_id &&
	    chan_xdp_clear_one(prog, ifindex, q.drv_prog_id, XDP_FLAGS_DRV_MODE, prefix) < 0)
		return -1;
	if (q.skb_prog_id &&
	    chan_xdp_clear_one(prog, ifindex, q.skb_prog_id, XDP_FLAGS_SKB_MODE, prefix) < 0)
		return -1;
	if (q.hw_prog_id) {
		fprintf(stderr, "%s: %s has an offloaded XDP program (id %u); "
			"remove it first\n", prog, chan_ifname(ifindex, ifname), q.hw_prog_id);
		return -1;
	}
	return 0;
}

/* Attach @prog_fd to @ifindex in @mode_flags mode; a bpf_link if possible. */
static inline int chan_xdp_attach(const char *prog, struct chan_attach *a, int ifindex,
				  int prog_fd, __u32 mode_flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = mode_flags);
	char ifname[IF_NAMESIZE];
	int link_err, err;

	a->ifindex = ifindex;
	a->mode_flags = mode_flags;
	a->link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lopts);
	if (a->link_fd >= 0)
		return 0;
	link_err = errno;
	/* UPDATE_IF_NOEXIST: never replace a program attached meanwhile. */
	err = bpf_xdp_attach(ifindex, prog_fd, mode_flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		fprintf(stderr, "%s: cannot attach XDP to %s: link: %s, netlink: %s%s\n",
			prog, chan_ifname(ifindex, ifname), strerror(link_err), strerror(-err),
			err == -EOPNOTSUPP ? " (no native XDP in this driver?)" : "");
		return -1;
	}
	a->prog_fd = prog_fd;
	return 0;
}

/* Idempotent, so that atexit, signal handlers and the normal path may all
 * call it. */
static inline void chan_xdp_detach(struct chan_attach *a)
{
	if (a->link_fd >= 0) {
		close(a->link_fd);
		a->link_fd = -1;
	}
	if (a->prog_fd >= 0) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = a->prog_fd);

		bpf_xdp_detach(a->ifindex, a->mode_flags, &opts);
		a->prog_fd = -1;
	}
}

/* Whether @a still holds an attachment. */
static inline bool chan_xdp_attached(const struct chan_attach *a)
{
	return a->link_fd >= 0 || a->prog_fd >= 0;
}

#endif /* CHAN_ATTACH_H */
