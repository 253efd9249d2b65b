#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#
# Smoke test of the collection experiments (Table 3, Figures 11 and 12).
#
# (a) map_runner: every collection kind through BPF_PROG_TEST_RUN, its output
#     format, key sizes, many keys; array must beat hash and LRU per access.
# (b) flow_counter: the ARRAY, HASH, LRU and NONE variants (FLOW_ENTRIES=1000)
#     on a veth pair in two private namespaces,
#
#       tm_a (sender) tma0 10.79.0.1/24  <---->  tmb0 10.79.0.2/24 tm_b (DUT)
#
#     first with a counted burst over 900 flows (flow_stats and the entries
#     of flow_table must match exactly), then with a timed flood whose rate
#     is read from flow_stats on the DUT side.
#
# Prints ns per access of each collection and the pps of each variant
# (veth, not hardware) and fails (exit 1) if anything is off. Needs root.
# Everything it creates (namespaces, processes, files) is removed on exit.
#
# Environment: TM_BUILD (build dir, /tmp/tm_build), TM_RUNS (test runs per
# collection, 20), TM_WINDOW (seconds of each rate window, 2), TM_DUT_CPU (1),
# TM_GEN_CPU (0).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

BUILD=${TM_BUILD:-/tmp/tm_build}
RUNS=${TM_RUNS:-20}
WINDOW=${TM_WINDOW:-2}
DUT_CPU=${TM_DUT_CPU:-1}
GEN_CPU=${TM_GEN_CPU:-0}

NS_G=tm_a
NS_D=tm_b
IF_G=tma0
IF_D=tmb0
IP_G=10.79.0.1
IP_D=10.79.0.2
NETNS=("$NS_G" "$NS_D")
PORT=8080
OTHER_PORT=8081
FLOWS=900
ENTRIES=1000
PER_FLOW=20
# UDP payload of a 60-byte frame: 64 bytes on a wire, with the FCS.
PAYLOAD=18
FRAME=60
LOOKUPS=100000

BIN=$BUILD/bin
GEN_PID=""
declare -A NS_PER_ACCESS PPS

cleanup() {
	set +e
	stop_pid "$GEN_PID"
	# Deleting the namespaces takes the veth pair and its XDP program.
	remove_netns "${NETNS[@]}"
	remove_work
}

# flow_counter variant $1 (ARRAY, HASH, LRU, NONE) is built in its own
# folder, as the play builds one object per point.
variant_dir() { echo "$BUILD/flow_${1,,}"; }

build() {
	build_bpf_src "$BUILD"
	local kind dir
	for kind in ARRAY HASH LRU NONE; do
		dir=$(variant_dir "$kind")
		make -s -C "$ROOT/bpf_src" BUILD="$dir" "$dir/bpf/flow_counter.bpf.o" \
			BPF_DEFINES="-DFLOW_MAP=$kind -DFLOW_ENTRIES=$ENTRIES -DFLOW_PORT=$PORT" \
			>/dev/null || fail "building flow_counter with FLOW_MAP=$kind failed"
	done
	dir=$WORK/bogus
	make -s -C "$ROOT/bpf_src" BUILD="$dir" "$dir/bpf/flow_counter.bpf.o" \
		BPF_DEFINES="-DFLOW_MAP=BOGUS" >/dev/null 2>&1 &&
		fail "flow_counter built with FLOW_MAP=BOGUS"
	return 0
}

test_runner_cli() {
	log "map_runner argument checks"
	local args
	for args in "" "--map btree" "--map array --key-size 8" \
		"--map hash --key-size 12" "--map stack --entries 4" \
		"--map hash --lookups 0" "--map hash --lookups 8388609" \
		"--map hash --runs -1" "--map hash extra"; do
		# shellcheck disable=SC2086 # word splitting wanted
		"$BIN/map_runner" $args >/dev/null 2>&1 && fail "map_runner accepted: '$args'"
	done
	return 0
}

# Run map_runner with "$@" and check its output; prints the summary line.
run_runner() {
	local out=$WORK/runner.out runs=$RUNS line
	"$BIN/map_runner" --runs "$runs" --cpu "$DUT_CPU" "$@" >"$out" 2>&1 ||
		fail "map_runner $*: $(tail -n 5 "$out")"
	line=$(head -n 1 "$out")
	[[ $line =~ ^map_runner:\ map=[a-z_]+\ key_size=[0-9]+\ value_size=256\ entries=[0-9]+\ max_entries=[0-9]+\ lookups=[0-9]+\ runs=$runs\  ]] ||
		fail "map_runner $*: bad header '$line'"
	[[ $(grep -cE '^benchmark res: [0-9]+\.[0-9]{6}$' "$out") -eq $runs ]] ||
		fail "map_runner $*: not $runs 'benchmark res' lines"
	[[ $(grep -cx 'return value: 1' "$out") -eq $runs ]] ||
		fail "map_runner $*: a run did not return XDP_DROP (1)"
	line=$(tail -n 1 "$out")
	[[ $line =~ ^summary:\ runs=$runs\ min_res=[0-9]+\ median_res=[0-9]+\ ns_per_access=[0-9.]+$ ]] ||
		fail "map_runner $*: bad summary '$line'"
	echo "$line"
}

# ns_per_access=X of a summary line.
ns_of() { echo "${1##*ns_per_access=}"; }

# 0 (true) when decimal $1 < decimal $2.
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

test_runner() {
	log "(a) map_runner, $RUNS runs of $LOOKUPS lookups, CPU $DUT_CPU"
	local kind size line
	for kind in stack array percpu_array hash lru_hash; do
		line=$(run_runner --map "$kind")
		NS_PER_ACCESS[$kind/4]=$(ns_of "$line")
	done
	for kind in hash lru_hash; do
		for size in 8 16 32; do
			line=$(run_runner --map "$kind" --key-size "$size")
			NS_PER_ACCESS[$kind/$size]=$(ns_of "$line")
		done
	done
	# Many keys: the runner checks that every lookup found its own key,
	# which also covers the LRU's room for keys it must not evict.
	for kind in array percpu_array hash lru_hash; do
		run_runner --map "$kind" --entries 4096 --key-size 4 >/dev/null
	done
	for kind in hash lru_hash; do
		less_than "${NS_PER_ACCESS[array/4]}" "${NS_PER_ACCESS[$kind/4]}" ||
			fail "array (${NS_PER_ACCESS[array/4]} ns) is not faster than $kind (${NS_PER_ACCESS[$kind/4]} ns)"
	done
}

setup_netns() {
	setup_veth_pair "$NS_G" "$IF_G" "$IP_G" "$NS_D" "$IF_D" "$IP_D"
	# A static neighbour: datagrams sent while ARP is pending would be
	# queued or dropped, and the counts below must be exact.
	static_neigh "$NS_G" "$IF_G" "$IP_D" "$NS_D" "$IF_D"
}

# A throw-away sender: one socket per flow (source ports 20000...), round
# robin. Counted mode sends N datagrams per flow; timed mode sends for S s.
write_sender() {
	cat >"$WORK/sender.py" <<'EOF'
import socket
import sys
import time

dst, port, flows, size, mode, amount = sys.argv[1:7]
to = (dst, int(port))
socks = []
for i in range(int(flows)):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 20000 + i))
    socks.append(s)
payload = b"x" * int(size)
sent = 0
# Unconnected sockets: an ICMP error from a closed port must not fail
# the next send.
if mode == "count":
    for _ in range(int(amount)):
        for s in socks:
            s.sendto(payload, to)
    sent = int(amount) * len(socks)
else:
    end = time.monotonic() + float(amount)
    while time.monotonic() < end:
        for s in socks:
            s.sendto(payload, to)
        sent += len(socks)
print(f"sent: {sent}")
EOF
}

send() {
	ip netns exec "$NS_G" taskset -c "$GEN_CPU" python3 "$WORK/sender.py" \
		"$IP_D" "$@" >/dev/null
}

attach() {
	ip -n "$NS_D" link set dev "$IF_D" xdpdrv obj "$(variant_dir "$1")/bpf/flow_counter.bpf.o" sec xdp
}

detach() { ip -n "$NS_D" link set dev "$IF_D" xdpdrv off; }

# Id of map $1 of the program attached to the DUT veth, or nothing.
map_id() {
	local prog id
	prog=$(ip -n "$NS_D" -j link show dev "$IF_D" | jq '.[0].xdp.prog.id')
	for id in $(bpftool -j prog show id "$prog" | jq '.map_ids[]'); do
		if [[ $(bpftool -j map show id "$id" | jq -r .name) == "$1" ]]; then
			echo "$id"
			return 0
		fi
	done
}

# flow_stats key $1, summed over CPUs.
flow_stat() {
	bpftool -j map lookup id "$(map_id flow_stats)" key "$1" 0 0 0 |
		jq '[.formatted.values[].value] | add'
}

# "<entries in use> <sum of their packet counters>" of flow_table. An array
# has all its slots: those in use are the non-zero ones.
table_usage() {
	bpftool -j map dump id "$(map_id flow_table)" |
		jq -r '[.[].formatted.value | select(.packets > 0)] |
			"\(length) \(map(.packets) | add)"'
}

check_counts() {
	local kind=$1 want=$((FLOWS * PER_FLOW)) got
	got=$(flow_stat 0)
	[[ $got -eq $want ]] || fail "$kind: flow_stats counted $got packets, $want sent"
	got=$(flow_stat 1)
	[[ $got -eq $((want * FRAME)) ]] ||
		fail "$kind: flow_stats counted $got bytes, $((want * FRAME)) sent"
	got=$(flow_stat 2)
	[[ $got -eq 0 ]] || fail "$kind: $got packets found no room in flow_table"
	if [[ $kind == NONE ]]; then
		[[ -z $(map_id flow_table) ]] || fail "NONE: the baseline has a flow_table"
		return 0
	fi
	got=$(table_usage)
	if [[ $kind == LRU ]]; then
		check_lru_usage "$got" "$want"
		return 0
	fi
	[[ $got == "$FLOWS $want" ]] ||
		fail "$kind: flow_table holds '$got' (entries packets), expected '$FLOWS $want'"
}

# The kernel's LRU evicts before it is full: a CPU whose local free list is
# empty takes 128 nodes from the global list and evicts to make up for any
# shortfall. While 900 flows fill 1000 entries a few flows are evicted and
# come back with fresh counters, so the LRU's per-flow counts may add up
# to less than was sent; every flow must still be there at the end.
check_lru_usage() {
	local entries=${1% *} packets=${1#* } want=$2
	[[ $entries -eq $FLOWS ]] ||
		fail "LRU: flow_table holds $entries flows, expected $FLOWS"
	[[ $packets -le $want && $packets -gt $((want / 2)) ]] ||
		fail "LRU: flow_table counted $packets packets, $want sent"
	[[ $packets -eq $want ]] ||
		echo "   LRU: $((want - packets)) packets counted in entries evicted while filling"
}

# Give the DUT its own CPU: the veth's NAPI runs in a kernel thread pinned
# to DUT_CPU instead of in the sender's softirq, like the RX queue's core
# on the paper's DUT. Prints "threaded" or "softirq" (if not possible).
dut_napi_on_own_cpu() {
	local pid pinned=""
	ip netns exec "$NS_D" sh -c "echo 1 > /sys/class/net/$IF_D/threaded" 2>/dev/null || {
		echo softirq
		return 0
	}
	for pid in $(pgrep "^napi/$IF_D-"); do
		taskset -pc "$DUT_CPU" "$pid" >/dev/null && pinned=yes
	done
	[[ -n $pinned ]] && echo threaded || echo softirq
}

dut_napi_in_softirq() {
	ip netns exec "$NS_D" sh -c "echo 0 > /sys/class/net/$IF_D/threaded" 2>/dev/null || true
}

# Rate over WINDOW seconds, read from flow_stats, while a sender floods.
measure_pps() {
	local kind=$1 a b t0 t1
	send "$PORT" "$FLOWS" "$PAYLOAD" time $((WINDOW + 2)) &
	GEN_PID=$!
	sleep 1
	a=$(flow_stat 0)
	t0=$(date +%s%N)
	sleep "$WINDOW"
	b=$(flow_stat 0)
	t1=$(date +%s%N)
	wait "$GEN_PID" || fail "$kind: the sender failed"
	GEN_PID=""
	PPS[$kind]=$(((b - a) * 1000000000 / (t1 - t0)))
	[[ ${PPS[$kind]} -gt 0 ]] || fail "$kind: no packet counted during the window"
}

test_flow_counter() {
	local kind mode
	write_sender
	for kind in NONE ARRAY HASH LRU; do
		log "(b) flow_counter FLOW_MAP=$kind FLOW_ENTRIES=$ENTRIES"
		attach "$kind"
		# Counted burst in the sender's softirq: nothing can be dropped
		# on the way, so the counts must be exact.
		dut_napi_in_softirq
		send "$PORT" "$FLOWS" "$PAYLOAD" count "$PER_FLOW"
		send "$OTHER_PORT" 10 "$PAYLOAD" count 10	# must pass uncounted
		check_counts "$kind"
		mode=$(dut_napi_on_own_cpu)
		measure_pps "$kind"
		printf '   %-5s %8d pps (NAPI %s, CPU %s)\n' "$kind" "${PPS[$kind]}" "$mode" "$DUT_CPU"
		dut_napi_in_softirq
		detach
	done
}

report() {
	local key
	log "ns per access (median of $RUNS runs / $LOOKUPS lookups), BPF_PROG_TEST_RUN"
	for key in stack/4 array/4 percpu_array/4 hash/4 hash/8 hash/16 hash/32 \
		lru_hash/4 lru_hash/8 lru_hash/16 lru_hash/32; do
		printf '   %-14s key %2s B  %8s ns\n' "${key%/*}" "${key#*/}" "${NS_PER_ACCESS[$key]}"
	done
	log "flow_counter, $FLOWS flows, $FRAME-byte frames, veth (not hardware)"
	for key in NONE ARRAY HASH LRU; do
		printf '   %-5s %8d pps\n' "$key" "${PPS[$key]}"
	done
}

main() {
	preflight "BPF_PROG_TEST_RUN, namespaces, XDP need it" \
		ip bpftool jq python3 make clang gcc taskset pgrep
	begin
	build
	test_runner_cli
	test_runner
	setup_netns
	test_flow_counter
	report
	log "PASS"
}

main "$@"
