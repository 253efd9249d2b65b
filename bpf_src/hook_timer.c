// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * hook_timer: Table 1's preparation cost where fentry/fexit are allowed.
 * Times the kernel function that wraps each hook's program run (see
 * reach_fentry.bpf.c) while traffic flows through an empty program.
 *
 *   hook_timer --hooks LIST [--xdp-func FUNC] [--count N] [--duration S]
 *              --output FILE
 *   hook_timer --probe
 *
 * LIST is a comma-separated subset of xdp,tc,sk_skb. --xdp-func replaces
 * the XDP function (bpf_prog_run_generic_xdp, generic XDP) by the driver's
 * native one, e.g. mlx5e_xdp_handle or veth_xdp_rcv_skb.
 *
 * Prints "ready" once attached; stops after --count durations of every
 * hook, after --duration seconds, or at SIGINT/SIGTERM; then writes one
 * line per sample to FILE and one summary line per hook to stdout:
 *
 *   It takes N to run TC                        (FILE, N in ns)
 *   TC: samples N median_ns M p99_ns P          (stdout)
 *
 * The preparation cost is the median minus the program's own run time
 * (bpf_stats run_time_ns / run_cnt of the empty program).
 *
 * --probe loads the TC pair and reports, for the playbooks' method choice:
 *
 *   fentry: supported                           exit 0
 *   fentry: refused (REASON)                    exit 1
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "args.h"
#include "samples.h"
#include "stop.h"
#include "timeutil.h"
#include "include/hooks_reach.h"
#include "reach_fentry.skel.h"

#define PROG "hook_timer"
#define POLL_MS 100
/* The kernel's internal ENOTSUPP, which reaches user space as is when a
 * kernel or JIT has no BPF trampoline; libc has no name for it. */
#define KERNEL_ENOTSUPP 524

/* The hooks this tool can time, by their reach_hook id. */
static const struct timed_hook {
	const char *option;	/* name in --hooks */
	const char *label;	/* name in output lines */
	enum reach_hook id;
} timed_hooks[] = {
	{ "xdp", "XDP", REACH_HOOK_XDP },
	{ "tc", "TC", REACH_HOOK_TC },
	{ "sk_skb", "SK_SKB", REACH_HOOK_SK_SKB },
};
#define N_TIMED (sizeof(timed_hooks) / sizeof(timed_hooks[0]))

struct timer_opts {
	bool want[N_TIMED];
	const char *xdp_func;
	uint64_t count;		/* per hook; 0 = no limit */
	uint64_t duration_ns;	/* 0 = no limit */
	const char *output;
	bool probe;
};

struct timer_samples {
	struct samples hook[N_TIMED];
	bool out_of_memory;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --hooks LIST [--xdp-func FUNC] [--count N] [--duration S]\n"
		"                  --output FILE\n"
		"       " PROG " --probe\n"
		"  --hooks LIST     comma-separated subset of xdp,tc,sk_skb\n"
		"  --xdp-func FUNC  kernel function of native XDP (default: generic XDP)\n"
		"  --count N        stop after N samples of every hook\n"
		"  --duration S     stop after S seconds\n"
		"  --output FILE    'It takes N to run HOOK' lines\n"
		"  --probe          print 'fentry: supported' or 'fentry: refused (REASON)'\n");
}

static int parse_hooks(char *list, struct timer_opts *o)
{
	char *tok, *save = NULL;
	size_t i;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < N_TIMED; i++)
			if (strcmp(tok, timed_hooks[i].option) == 0)
				break;
		if (i == N_TIMED) {
			fprintf(stderr, PROG ": --hooks: unknown hook '%s' "
				"(expected xdp, tc or sk_skb)\n", tok);
			return -1;
		}
		o->want[i] = true;
	}
	return 0;
}

static bool wants_any(const struct timer_opts *o)
{
	size_t i;

	for (i = 0; i < N_TIMED; i++)
		if (o->want[i])
			return true;
	return false;
}

static int parse_args(int argc, char **argv, struct timer_opts *o)
{
	static const struct option longopts[] = {
		{ "hooks", required_argument, NULL, 'k' },
		{ "xdp-func", required_argument, NULL, 'x' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "probe", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (parse_hooks(optarg, o) < 0)
				return -1;
			break;
		case 'x':
			o->xdp_func = optarg;
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
		case 'o':
			o->output = optarg;
			break;
		case 'P':
			o->probe = true;
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
	if (o->probe)
		return 0;
	if (!wants_any(o) || !o->output) {
		fprintf(stderr, PROG ": --hooks and --output are required (or --probe)\n");
		return -1;
	}
	return 0;
}

/* ---- loading --------------------------------------------------------- */

/* The fentry and fexit programs of timed hook @i. */
static void hook_progs(struct reach_fentry *skel, size_t i,
		       struct bpf_program **enter, struct bpf_program **leave)
{
	struct bpf_program *progs[N_TIMED][2] = {
		{ skel->progs.xdp_enter, skel->progs.xdp_exit },
		{ skel->progs.tc_enter, skel->progs.tc_exit },
		{ skel->progs.sk_skb_enter, skel->progs.sk_skb_exit },
	};

	*enter = progs[i][0];
	*leave = progs[i][1];
}

/*
 * Open and load the pairs chosen in @want. Returns the skeleton, or NULL
 * with errno set (EPERM: this kernel refuses fentry).
 */
static struct reach_fentry *load_pairs(const bool *want, const char *xdp_func)
{
	struct bpf_program *enter, *leave;
	struct reach_fentry *skel;
	int err = 0;
	size_t i;

	skel = reach_fentry__open();
	if (!skel)
		return NULL;
	for (i = 0; i < N_TIMED && !err; i++) {
		hook_progs(skel, i, &enter, &leave);
		bpf_program__set_autoload(enter, want[i]);
		bpf_program__set_autoload(leave, want[i]);
		if (want[i] && timed_hooks[i].id == REACH_HOOK_XDP && xdp_func)
			err = bpf_program__set_attach_target(enter, 0, xdp_func) ?:
			      bpf_program__set_attach_target(leave, 0, xdp_func);
	}
	if (!err)
		err = reach_fentry__load(skel);
	if (err) {
		reach_fentry__destroy(skel);
		errno = -err > 0 ? -err : errno;
		return NULL;
	}
	return skel;
}

/* A one-line reason for a refused load, for --probe and for errors. */
static const char *refusal(int err)
{
	switch (err) {
	case EPERM:
		return "Operation not permitted: lockdown, missing CAP_BPF/CAP_PERFMON, "
		       "or tracing disabled";
	case KERNEL_ENOTSUPP:
	case EOPNOTSUPP:
		return "not supported: no BPF trampoline on this kernel or JIT";
	case ESRCH:
	case ENOENT:
		return "target function not found in the kernel's BTF";
	default:
		return strerror(err);
	}
}

static int probe(void)
{
	bool want[N_TIMED] = { false };
	struct reach_fentry *skel;
	size_t i;

	for (i = 0; i < N_TIMED; i++)
		want[i] = timed_hooks[i].id == REACH_HOOK_TC;
	/* libbpf's own report of the refusal would only repeat ours. */
	libbpf_set_print(NULL);
	skel = load_pairs(want, NULL);
	if (!skel) {
		printf("fentry: refused (%s)\n", refusal(errno));
		return 1;
	}
	/* Loading is not attaching: the check does not touch traffic. */
	reach_fentry__destroy(skel);
	printf("fentry: supported\n");
	return 0;
}

/* ---- samples --------------------------------------------------------- */

static int on_duration(void *ctx, void *data, size_t size)
{
	struct timer_samples *ts = ctx;
	const struct reach_event *ev = data;
	size_t i;

	if (size < sizeof(*ev) || ev->kind != REACH_KIND_RUN || ev->delta_ns < 0)
		return 0;
	for (i = 0; i < N_TIMED; i++)
		if (timed_hooks[i].id == ev->hook &&
		    samples_push(&ts->hook[i], (uint64_t)ev->delta_ns) < 0)
			ts->out_of_memory = true;
	return 0;
}

static bool enough(const struct timer_opts *o, const struct timer_samples *ts)
{
	size_t i;

	if (!o->count)
		return false;
	for (i = 0; i < N_TIMED; i++)
		if (o->want[i] && ts->hook[i].len < o->count)
			return false;
	return true;
}

static int collect(struct reach_fentry *skel, const struct timer_opts *o,
		   struct timer_samples *ts)
{
	struct ring_buffer *rb;
	uint64_t start = now_ns();
	int err = 0;

	rb = ring_buffer__new(bpf_map__fd(skel->maps.fentry_events), on_duration,
			      ts, NULL);
	if (!rb) {
		fprintf(stderr, PROG ": ring buffer: %s\n", strerror(errno));
		return -1;
	}
	if (reach_fentry__attach(skel) < 0) {
		fprintf(stderr, PROG ": attach: %s\n", strerror(errno));
		ring_buffer__free(rb);
		return -1;
	}
	printf("ready\n");
	fflush(stdout);
	/* The programs do not wake us (BPF_RB_NO_WAKEUP keeps the timed
	 * path short), so read the ring on a timer instead. */
	while (!stop_requested && !enough(o, ts)) {
		usleep(POLL_MS * 1000);
		if (ring_buffer__consume(rb) < 0 && errno != EINTR) {
			fprintf(stderr, PROG ": ring buffer: %s\n", strerror(errno));
			err = -1;
			break;
		}
		if (o->duration_ns && now_ns() - start >= o->duration_ns)
			break;
	}
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return err;
}

static int write_samples(const struct timer_opts *o, const struct timer_samples *ts)
{
	FILE *f = fopen(o->output, "w");
	int err = 0;
	size_t i, j;

	if (!f) {
		fprintf(stderr, PROG ": %s: %s\n", o->output, strerror(errno));
		return -1;
	}
	for (i = 0; i < N_TIMED && !err; i++)
		for (j = 0; j < ts->hook[i].len && !err; j++)
			if (fprintf(f, "It takes %llu to run %s\n",
				    (unsigned long long)ts->hook[i].v[j],
				    timed_hooks[i].label) < 0)
				err = -1;
	if (fclose(f) != 0)
		err = -1;
	if (err)
		fprintf(stderr, PROG ": writing %s: %s\n", o->output, strerror(errno));
	return err;
}

static void print_summary(const struct timer_opts *o, const struct timer_samples *ts)
{
	struct samples_summary sum;
	size_t i;

	for (i = 0; i < N_TIMED; i++) {
		if (!o->want[i])
			continue;
		if (samples_summarize(&ts->hook[i], &sum) < 0) {
			printf("%s: samples 0\n", timed_hooks[i].label);
			continue;
		}
		printf("%s: samples %zu median_ns %llu p99_ns %llu\n",
		       timed_hooks[i].label, ts->hook[i].len,
		       (unsigned long long)sum.median, (unsigned long long)sum.p99);
	}
}

static int time_hooks(const struct timer_opts *o)
{
	struct timer_samples ts = { 0 };
	struct reach_fentry *skel;
	int err = -1;
	size_t i;

	for (i = 0; i < N_TIMED; i++)
		if (samples_init(&ts.hook[i], 0) < 0) {
			fprintf(stderr, PROG ": out of memory\n");
			goto out;
		}
	skel = load_pairs(o->want, o->xdp_func);
	if (!skel) {
		int e = errno;

		fprintf(stderr, PROG ": cannot load the fentry/fexit programs: %s\n",
			refusal(e));
		if (e == EPERM || e == KERNEL_ENOTSUPP || e == EOPNOTSUPP)
			fprintf(stderr, "  this kernel refuses fentry: use the "
				"differential method (docs/methods.md)\n");
		goto out;
	}
	err = collect(skel, o, &ts);
	reach_fentry__destroy(skel);
	if (ts.out_of_memory)
		fprintf(stderr, PROG ": out of memory, some samples were lost\n");
	if (!err)
		err = write_samples(o, &ts);
	if (!err)
		print_summary(o, &ts);
out:
	for (i = 0; i < N_TIMED; i++)
		samples_free(&ts.hook[i]);
	return err;
}

int main(int argc, char **argv)
{
	struct timer_opts o;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.probe)
		return probe();
	if (stop_on_signals(PROG) < 0)
		return 1;
	return time_hooks(&o) < 0 ? 1 : 0;
}
