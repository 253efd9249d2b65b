#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#
# Smoke test of the Table 4 and Figure 13 tools, on two private network
# namespaces joined by a veth pair:
#
#   tu_a (sender) tua0 10.80.0.1/24  <---->  tub0 10.80.0.2/24 tu_b (DUT)
#
# (a) user_access: every line parses, and the shared-memory channels
#     (ringbuf, mmap_array, af_xdp_rx) are far cheaper than the
#     bpf_map_lookup_elem syscalls; af_xdp_rx once filled by
#     BPF_PROG_TEST_RUN, once by real traffic.
# (b) channel_bench, each channel, against UDP traffic from tu_a: per-second
#     throughput lines, total/queued/dropped lines, payloads received, and
#     no XDP program left on tub0 afterwards.
# (b') the same, fed by channel_bench's BPF_PROG_TEST_RUN producer instead.
# (c) channel_bench stopped by SIGINT and killed by SIGKILL: still nothing
#     left attached.
#
# Needs root. Builds into a temporary BUILD dir; everything it creates
# (namespaces, processes, files) is removed on exit.
#
# Environment: TU_OPS (user_access --ops, 20000), TU_DURATION (channel_bench
# seconds, 2), TU_GEN_CPU (0), TU_DUT_CPU (1), TU_KEEP_BUILD (set: keep the
# build dir and print its path).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

OPS=${TU_OPS:-20000}
DURATION=${TU_DURATION:-2}
GEN_CPU=${TU_GEN_CPU:-0}
DUT_CPU=${TU_DUT_CPU:-1}

NS_GEN=tu_a
NS_DUT=tu_b
IF_GEN=tua0
IF_DUT=tub0
IP_GEN=10.80.0.1
IP_DUT=10.80.0.2
NETNS=("$NS_GEN" "$NS_DUT")
PORT=8080
# UDP payload bytes per datagram: the channels move 64-byte payloads.
SIZE=64
# The shared-memory channels must beat the syscalls by at least this.
MIN_RATIO=5

BIN=""
GEN_PID=""
BENCH_PID=""

cleanup() {
	set +e
	stop_pid "$BENCH_PID"
	stop_pid "$GEN_PID"
	# Deleting the namespaces also removes anything still attached.
	remove_netns "${NETNS[@]}"
	if [[ -n $WORK && -n ${TU_KEEP_BUILD:-} ]]; then
		echo "build kept in $WORK/build"
	else
		remove_work
	fi
}

build() {
	build_bpf_src "$WORK/build" "$WORK/make.log"
	BIN=$WORK/build/bin
	local tool
	for tool in user_access channel_bench; do
		[[ -x $BIN/$tool ]] || fail "$tool was not built"
	done
}

# $1: tool, rest: arguments that must be refused with exit status 2.
expect_usage_error() {
	local tool=$1 rc=0
	shift
	"$BIN/$tool" "$@" >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 2 ]] || fail "$tool $* exited with $rc, expected 2 (usage error)"
}

test_cli_errors() {
	log "argument checks"
	expect_usage_error user_access --ops 0
	expect_usage_error user_access --ops 12x
	expect_usage_error user_access --only array,nosuch
	expect_usage_error user_access --only af_xdp_rx
	expect_usage_error user_access --ifname lo --queue 1
	expect_usage_error user_access --xsk-fill sometimes
	expect_usage_error channel_bench --channel array --ifname lo
	expect_usage_error channel_bench --channel pipe --ifname lo --duration 1
	expect_usage_error channel_bench --channel array --ifname nosuch0 --duration 1
	expect_usage_error channel_bench --channel array --ifname lo --duration 1 --slots 100
	expect_usage_error channel_bench --channel mmap_ring --ifname lo --duration 1 --wait poll
	expect_usage_error channel_bench --channel ringbuf --ifname lo --duration 0
	expect_usage_error channel_bench --channel ringbuf --ifname lo --duration 1 --source pcap
	expect_usage_error channel_bench --channel ringbuf --ifname lo --duration 1 \
		--source testrun --queue 1
	expect_usage_error channel_bench --channel ringbuf --ifname lo --duration 1 \
		--producer-cpu 0
}

setup_netns() {
	setup_veth_pair "$NS_GEN" "$IF_GEN" "$IP_GEN" "$NS_DUT" "$IF_DUT" "$IP_DUT"
	# ua_to_xsk (user_access --xsk-fill traffic) takes every frame of the
	# queue, ARP included: give the sender a static neighbour entry so it
	# never waits for a reply that cannot come.
	static_neigh "$NS_GEN" "$IF_GEN" "$IP_DUT" "$NS_DUT" "$IF_DUT"
}

# Start UDP traffic from tu_a to tub0 for $1 seconds: the project's
# udp_flood when it has been built, iperf 2 otherwise.
start_traffic() {
	local secs=$1 out=$WORK/gen.out
	if [[ -x $BIN/udp_flood ]]; then
		ip netns exec "$NS_GEN" "$BIN/udp_flood" --dst "$IP_DUT" --port "$PORT" \
			--size "$SIZE" --rate 0 --duration "$secs" --cpu "$GEN_CPU" \
			>"$out" 2>&1 &
	else
		command -v iperf >/dev/null || fail "no generator: build udp_flood or install iperf"
		ip netns exec "$NS_GEN" taskset -c "$GEN_CPU" iperf -c "$IP_DUT" -u \
			-p "$PORT" -l "$SIZE" -b 10G -t "$secs" >"$out" 2>&1 &
	fi
	GEN_PID=$!
}

stop_traffic() {
	stop_pid "$GEN_PID"
	GEN_PID=""
}

# Fails if tub0 still has an XDP program.
assert_no_xdp() {
	local what=$1 show
	show=$(ip -n "$NS_DUT" -d link show dev "$IF_DUT")
	if grep -q 'prog/xdp' <<<"$show"; then
		fail "$what: an XDP program is still attached to $IF_DUT: $(grep -o 'prog/xdp.*' <<<"$show")"
	fi
}

# Checks user_access output in $1; sets the global ACCESS[name]=ns.
declare -A ACCESS
check_access_lines() {
	local out=$1 line name
	ACCESS=()
	while IFS= read -r line; do
		if [[ $line =~ ^access\ ([a-z_]+):\ ([0-9]+(\.[0-9]+)?)\ ns$ ]]; then
			ACCESS[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
		elif [[ $line =~ ^access\ ([a-z_]+):\ unsupported\ here:\ .+$ ]]; then
			fail "user_access: ${BASH_REMATCH[1]} is unsupported here: $line"
		else
			fail "user_access: unexpected line '$line'"
		fi
	done <"$out"
	for name in "${@:2}"; do
		[[ -n ${ACCESS[$name]:-} ]] || fail "user_access printed no line for $name"
	done
}

# $1 < $2 / MIN_RATIO, on decimals.
far_below() {
	awk -v a="$1" -v b="$2" -v r="$MIN_RATIO" 'BEGIN { exit !(a * r < b) }'
}

# Runs user_access once (all rows); returns 1 if a shared-memory row is not
# far below the fastest syscall row.
run_user_access() {
	local out=$WORK/access.out name fastest
	local syscalls=(array hash lru_hash percpu_array percpu_hash percpu_lru_hash)
	local shared=(ringbuf mmap_array af_xdp_rx)
	ip netns exec "$NS_DUT" "$BIN/user_access" --ops "$OPS" --cpu "$DUT_CPU" \
		--ifname "$IF_DUT" >"$out" 2>"$WORK/access.err" ||
		fail "user_access failed: $(cat "$WORK/access.err")"
	check_access_lines "$out" "${syscalls[@]}" "${shared[@]}"
	sed 's/^/   /' "$out"
	fastest=$(for name in "${syscalls[@]}"; do echo "${ACCESS[$name]}"; done |
		sort -g | head -n 1)
	for name in "${shared[@]}"; do
		if ! far_below "${ACCESS[$name]}" "$fastest"; then
			echo "   $name (${ACCESS[$name]} ns) is not $MIN_RATIO times below the fastest syscall ($fastest ns)"
			return 1
		fi
	done
	echo "   shared memory is more than $MIN_RATIO times below the fastest syscall ($fastest ns)"
}

test_user_access() {
	log "(a) user_access --ops $OPS"
	local attempt
	# A mean over few operations absorbs any preemption of the 2-vCPU VM
	# whole; a real regression fails every attempt.
	for attempt in 1 2 3; do
		run_user_access && break
		[[ $attempt -lt 3 ]] || fail "user_access: shared-memory rows not far below the syscalls in 3 runs"
		echo "   (noisy run, retrying)"
	done
	assert_no_xdp "user_access"
}

test_user_access_traffic() {
	log "(a') user_access af_xdp_rx filled by traffic"
	local out=$WORK/access_traffic.out
	start_traffic 30
	ip netns exec "$NS_DUT" "$BIN/user_access" --ops "$OPS" --cpu "$DUT_CPU" \
		--only af_xdp_rx --ifname "$IF_DUT" --xsk-fill traffic >"$out" \
		2>"$WORK/access.err" || fail "user_access (traffic) failed: $(cat "$WORK/access.err")"
	stop_traffic
	check_access_lines "$out" af_xdp_rx
	sed 's/^/   /' "$out"
	assert_no_xdp "user_access --xsk-fill traffic"
}

# Checks channel_bench output $1 of a $2-second run; prints the summary.
check_bench_output() {
	local out=$1 secs=$2 ch=$3 lines total
	lines=$(grep -c '^throughput: [0-9][0-9]* (pps)$' "$out" || true)
	[[ $lines -ge 1 && $lines -le $secs ]] ||
		fail "$ch: expected 1-$secs 'throughput: N (pps)' lines, got $lines: $(cat "$out")"
	grep -qE '^total: [0-9]+ payloads in [0-9]+\.[0-9]{3} s \([0-9]+ pps\)$' "$out" ||
		fail "$ch: no 'total:' line: $(cat "$out")"
	grep -qE '^queued: [0-9]+$' "$out" || fail "$ch: no 'queued:' line"
	grep -qE '^dropped: [0-9]+$' "$out" || fail "$ch: no 'dropped:' line"
	grep -vqE '^(throughput|total|queued|dropped): ' "$out" &&
		fail "$ch: unexpected output line in: $(cat "$out")"
	total=$(sed -n 's/^total: \([0-9]*\) payloads.*/\1/p' "$out")
	[[ $total -gt 0 ]] || fail "$ch: no payload reached user space"
	printf '   %-9s %s, %s\n' "$ch" "$(grep '^total:' "$out")" "$(grep '^dropped:' "$out")"
	return 0
}

test_channels() {
	log "(b) channel_bench, ${DURATION} s per channel, sender on CPU $GEN_CPU"
	local ch out
	for ch in array ringbuf mmap_ring af_xdp; do
		out=$WORK/bench_$ch.out
		start_traffic $((DURATION + 2))
		ip netns exec "$NS_DUT" "$BIN/channel_bench" --channel "$ch" --ifname "$IF_DUT" \
			--duration "$DURATION" --cpu "$DUT_CPU" --port "$PORT" >"$out" \
			2>"$WORK/bench.err" || fail "channel_bench $ch failed: $(cat "$WORK/bench.err")"
		stop_traffic
		assert_no_xdp "channel_bench $ch"
		check_bench_output "$out" "$DURATION" "$ch"
	done
	out=$WORK/bench_ringbuf_poll.out
	start_traffic $((DURATION + 2))
	ip netns exec "$NS_DUT" "$BIN/channel_bench" --channel ringbuf --wait poll \
		--ifname "$IF_DUT" --duration "$DURATION" --cpu "$DUT_CPU" >"$out" \
		2>"$WORK/bench.err" || fail "channel_bench ringbuf --wait poll failed: $(cat "$WORK/bench.err")"
	stop_traffic
	assert_no_xdp "channel_bench ringbuf --wait poll"
	check_bench_output "$out" "$DURATION" "ringbuf/poll"
}

test_channels_testrun() {
	log "(b') channel_bench --source testrun, 1 s per channel, producer on CPU $GEN_CPU"
	local ch out
	for ch in array ringbuf mmap_ring af_xdp; do
		out=$WORK/bench_testrun_$ch.out
		ip netns exec "$NS_DUT" "$BIN/channel_bench" --channel "$ch" --ifname "$IF_DUT" \
			--duration 1 --cpu "$DUT_CPU" --source testrun --producer-cpu "$GEN_CPU" \
			>"$out" 2>"$WORK/bench.err" ||
			fail "channel_bench $ch --source testrun failed: $(cat "$WORK/bench.err")"
		assert_no_xdp "channel_bench $ch --source testrun"
		check_bench_output "$out" 1 "$ch"
	done
}

# Start channel_bench $1 for long in the background; wait until attached.
start_long_bench() {
	local ch=$1
	ip netns exec "$NS_DUT" "$BIN/channel_bench" --channel "$ch" --ifname "$IF_DUT" \
		--duration 60 --cpu "$DUT_CPU" >"$WORK/long.out" 2>&1 &
	BENCH_PID=$!
	for _ in $(seq 50); do
		ip -n "$NS_DUT" -d link show dev "$IF_DUT" | grep -q 'prog/xdp' && return 0
		sleep 0.1
	done
	fail "channel_bench $ch did not attach: $(cat "$WORK/long.out")"
}

test_signals() {
	log "(c) SIGINT and SIGKILL leave nothing attached"
	local rc=0
	start_long_bench mmap_ring
	kill -INT "$BENCH_PID"
	wait "$BENCH_PID" || rc=$?
	BENCH_PID=""
	[[ $rc -eq 0 ]] || fail "channel_bench exited with $rc on SIGINT: $(cat "$WORK/long.out")"
	grep -q '^total: ' "$WORK/long.out" || fail "no 'total:' line after SIGINT"
	assert_no_xdp "SIGINT"
	start_long_bench af_xdp
	kill -KILL "$BENCH_PID"
	wait "$BENCH_PID" 2>/dev/null || true
	BENCH_PID=""
	# The link is released with the last file of the dead process.
	sleep 0.5
	assert_no_xdp "SIGKILL"
}

main() {
	preflight "namespaces and XDP need it" ip make clang gcc bpftool
	begin
	build
	test_cli_errors
	setup_netns
	test_user_access
	test_user_access_traffic
	test_channels
	test_channels_testrun
	test_signals
	log "PASS"
}

main "$@"
