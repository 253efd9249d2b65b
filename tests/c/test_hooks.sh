#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#
# Smoke test of the Table 1, Table 2 and Figure 10 programs and tools, for
# real, on two private network namespaces joined by a veth pair:
#
#   th_a (load) tha0 10.78.0.1/24  <---->  thb0 10.78.0.2/24 th_b (server)
#
# (1) argument checks of every tool
# (2) Table 2: iperf -P 4 through no program, xdp_pass, tc_pass and
#     sk_skb_pass (sockets inserted by sockops_insert from a cgroup v2);
#     each program must have run on the transfer (bpf_stats run_cnt)
# (3) Table 1: xdp_stamp, tc_reach, sock_reach and sk_skb_reach; the
#     server's file must hold TC, SOCKET_QUEUE, SK_SKB, SOCKET_READY and
#     SOCKET lines in the right order of medians, and "run SK_SKB" spans;
#     hook_timer --probe answers
# (4) Figure 10: xdp_truncate must cut every payload to the configured size;
#     drop_server must print its throughput lines
# (5) udp_flood with many flows (raw socket, Zipf): every packet must
#     arrive with a valid UDP checksum
#
# Needs root. Exit 1 on any failure. Everything it creates (namespaces,
# bpffs, cgroup, processes, bpf_stats setting) is undone on exit.
#
# Environment: TH_BUILD (build dir, default: a temporary one), TH_SERVER_CPU
# (1), TH_LOAD_CPU (0).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

SERVER_CPU=${TH_SERVER_CPU:-1}
LOAD_CPU=${TH_LOAD_CPU:-0}

NS_L=th_a
NS_S=th_b
IF_L=tha0
IF_S=thb0
IP_L=10.78.0.1
IP_S=10.78.0.2
NETNS=("$NS_L" "$NS_S")
IPERF_PORT=8080
REACH_PORT=3131
DROP_PORT=8081
PAYLOAD=1458
TRUNC_SIZE=100

# `ip netns exec` remounts /sys: pins live on a bpffs of our own.
BPFFS=/run/th_hooks_bpffs
CGROUP_NAME=th_hooks
CGROUP_MNT=""		# set when we mount cgroup2 ourselves
CGROUP=""
BUILD=""
PIDS=()
STATS_BEFORE=""

cleanup() {
	set +e
	stop_pid "${PIDS[@]}"
	# Namespaces take their XDP and TC attachments with them.
	remove_netns "${NETNS[@]}"
	if [[ -n $CGROUP && -d $CGROUP ]]; then
		bpftool cgroup detach "$CGROUP" sock_ops pinned "$BPFFS/pass/sockops_insert" 2>/dev/null
		rmdir "$CGROUP"
	fi
	[[ -n $CGROUP_MNT ]] && umount "$CGROUP_MNT" && rmdir "$CGROUP_MNT"
	umount_bpffs "$BPFFS"
	[[ -n $STATS_BEFORE ]] && sysctl -qw kernel.bpf_stats_enabled="$STATS_BEFORE"
	remove_work
}

build() {
	BUILD=${TH_BUILD:-$WORK/build}
	build_bpf_src "$BUILD" "$WORK/build.log"
}

BIN() { echo "$BUILD/bin/$1"; }
OBJ() { echo "$BUILD/bpf/$1.bpf.o"; }

# Fails if "$@" (a tool and its arguments) exits 0.
refuses() {
	"$@" >/dev/null 2>&1 && fail "accepted: $*"
	return 0
}

test_cli() {
	log "(1) argument checks"
	refuses "$(BIN udp_flood)" --port 1
	refuses "$(BIN udp_flood)" --dst "$IP_S" --port 0
	refuses "$(BIN udp_flood)" --dst 255.255.255.255 --port 9
	refuses "$(BIN udp_flood)" --dst "$IP_S" --port 9 --count 5 --duration 5
	refuses "$(BIN udp_flood)" --dst "$IP_S" --port 9 --size 4 --stamp
	refuses "$(BIN udp_flood)" --dst "$IP_S" --port 9 --zipf -1
	refuses "$(BIN udp_flood)" --dst "$IP_S" --port 9 --flows 60000
	refuses "$(BIN drop_server)" --addr "$IP_S"
	refuses "$(BIN drop_server)" --addr "$IP_S" --port 9 --duration 0
	refuses "$(BIN reach_server)" --addr "$IP_S" --port 9
	refuses "$(BIN reach_server)" --addr "$IP_S" --port 9 --output /dev/null --size 2
	refuses "$(BIN hook_timer)" --hooks nope --output /dev/null
	refuses "$(BIN hook_timer)" --hooks tc
}

setup_bpf() {
	mount_bpffs "$BPFFS"
	STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
}

# A cgroup v2 for the iperf server. `ip netns exec` hides /sys/fs/cgroup,
# but a cgroup is not per network namespace: create and attach from here.
setup_cgroup() {
	local mnt
	mnt=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
	if [[ -z $mnt ]]; then
		CGROUP_MNT=/run/th_hooks_cgroup2
		mkdir -p "$CGROUP_MNT"
		mount -t cgroup2 none "$CGROUP_MNT"
		mnt=$CGROUP_MNT
	fi
	CGROUP=$mnt/$CGROUP_NAME
	mkdir -p "$CGROUP"
}

# run_cnt of the program pinned at $1 (bpftool leaves it out while 0).
run_cnt() {
	local n
	n=$(bpftool prog show pinned "$1" | grep -o 'run_cnt [0-9]*' | cut -d' ' -f2 || true)
	echo "${n:-0}"
}

# Start "$@" in the server namespace, output in $WORK/$name.out, and wait
# for its "ready".
start_server() {
	local name=$1
	shift
	# Created here, so that the first look for "ready" finds a file.
	: >"$WORK/$name.out"
	ip netns exec "$NS_S" "$@" >"$WORK/$name.out" 2>&1 &
	PIDS+=($!)
	wait_ready "$name" "${PIDS[-1]}" "$WORK/$name.out"
}

# Wait for the last started server to exit by itself; fail on non-zero.
wait_server() {
	local name=$1 pid=${PIDS[-1]} rc=0
	wait "$pid" || rc=$?
	unset 'PIDS[-1]'
	[[ $rc -eq 0 ]] || fail "$name exited with $rc: $(cat "$WORK/$name.out")"
}

# Start the iperf server in the server namespace and in $CGROUP. It joins
# the cgroup before it becomes iperf (from here: inside `ip netns exec`
# /sys/fs/cgroup is not mounted), so its listening socket and every
# connection it accepts belong to the cgroup.
start_iperf_server() {
	sh -c "echo \$\$ > '$CGROUP/cgroup.procs' && exec ip netns exec $NS_S iperf -s -p $IPERF_PORT" \
		>"$WORK/iperf.out" 2>&1 &
	PIDS+=($!)
	sleep 0.5
	kill -0 "${PIDS[-1]}" 2>/dev/null || fail "iperf server died: $(cat "$WORK/iperf.out")"
}

# Stop the last started process; its exit status is not ours to judge.
kill_last() {
	stop_pid "${PIDS[-1]}"
	unset 'PIDS[-1]'
}

load() {
	local name=$1 dir=$BPFFS/$2
	mkdir -p "$dir"
	bpftool prog loadall "$(OBJ "$name")" "$dir" pinmaps "$dir/maps" ||
		fail "loading $name failed"
}

# iperf -P 4 for $1 seconds; prints the [SUM] bandwidth.
run_iperf() {
	local out
	out=$(ip netns exec "$NS_L" iperf -c "$IP_S" -p "$IPERF_PORT" -P 4 -t "$1" 2>&1) ||
		fail "iperf client failed: $out"
	echo "$out" | grep '\[SUM\]' | tail -n 1 | grep -o '[0-9.]* [GMK]bits/sec' ||
		fail "no [SUM] line in iperf output: $out"
}

# iperf through the program at pin $2 (label $1); it must run.
iperf_through() {
	local label=$1 pin=$2 before after bw
	before=$(run_cnt "$pin")
	bw=$(run_iperf 2)
	after=$(run_cnt "$pin")
	[[ $after -gt $before ]] || fail "$label: the program did not run (run_cnt $before -> $after)"
	echo "   $label: $bw, program runs $((after - before))"
}

test_table2() {
	log "(2) Table 2: iperf -P 4 through each pass program"
	local pins=$BPFFS/pass bw
	load hook_pass pass
	start_iperf_server
	bw=$(run_iperf 2)
	echo "   none: $bw"

	ip -n "$NS_S" link set dev "$IF_S" xdpdrv pinned "$pins/xdp_pass"
	iperf_through xdp_pass "$pins/xdp_pass"
	ip -n "$NS_S" link set dev "$IF_S" xdpdrv off

	tc -n "$NS_S" qdisc add dev "$IF_S" clsact
	tc -n "$NS_S" filter add dev "$IF_S" ingress bpf da pinned "$pins/tc_pass"
	iperf_through tc_pass "$pins/tc_pass"
	tc -n "$NS_S" qdisc del dev "$IF_S" clsact

	# Verdict on the map first: sockets take the map's programs when
	# they are inserted.
	bpftool prog attach pinned "$pins/sk_skb_pass" sk_skb_stream_verdict \
		pinned "$pins/maps/pass_sockmap"
	# shellcheck disable=SC2046 # u32le's bytes: one word each
	bpftool map update pinned "$pins/maps/pass_config" key 0 0 0 0 \
		value $(u32le "$IPERF_PORT")
	bpftool cgroup attach "$CGROUP" sock_ops pinned "$pins/sockops_insert"
	iperf_through sk_skb_pass "$pins/sk_skb_pass"
	[[ $(run_cnt "$pins/sockops_insert") -gt 0 ]] || fail "sockops_insert never ran"
	bpftool cgroup detach "$CGROUP" sock_ops pinned "$pins/sockops_insert"
	kill_last
}

# Median of the "It takes N to reach $2" lines of file $1.
median_of() {
	local n
	n=$(grep -c " to reach $2\$" "$1" || true)
	[[ $n -gt 0 ]] || fail "no '$2' lines in $1"
	grep " to reach $2\$" "$1" | cut -d' ' -f3 | sort -n | sed -n "$((n / 2 + 1))p"
}

test_table1() {
	log "(3) Table 1: time to reach each hook (stamped in XDP)"
	local pins=$BPFFS/reach out=$WORK/reach.txt hook prev=0 m
	load reach_stamp reach
	# Port, then the server's address (bytes in network order): the
	# socket tracepoint sees every socket on the machine.
	# shellcheck disable=SC2046 # u32le's bytes: one word each
	bpftool map update pinned "$pins/maps/reach_config" key 0 0 0 0 \
		value $(u32le "$REACH_PORT") ${IP_S//./ }
	bpftool prog attach pinned "$pins/sk_skb_reach" sk_skb_stream_verdict \
		pinned "$pins/maps/reach_sockmap"
	ip -n "$NS_S" link set dev "$IF_S" xdpdrv pinned "$pins/xdp_stamp"
	tc -n "$NS_S" qdisc add dev "$IF_S" clsact
	tc -n "$NS_S" filter add dev "$IF_S" ingress bpf da pinned "$pins/tc_reach"
	start_server reach "$(BIN reach_server)" --addr "$IP_S" --port "$REACH_PORT" \
		--cpu "$SERVER_CPU" --sockmap "$pins/maps/reach_sockmap" \
		--ringbuf "$pins/maps/reach_events" --tracepoint "$pins/sock_reach" \
		--count 1000 --duration 4 --output "$out"
	ip netns exec "$NS_L" "$(BIN udp_flood)" --dst "$IP_S" --port "$REACH_PORT" \
		--size 128 --rate 1000 --count 1000 --cpu "$LOAD_CPU" >/dev/null ||
		fail "udp_flood failed"
	wait_server reach
	sed 's/^/   /' "$WORK/reach.out"
	# Each point comes after the one before it on the packet's path.
	for hook in TC SOCKET_QUEUE SK_SKB SOCKET_READY SOCKET; do
		m=$(median_of "$out" "$hook")
		[[ $m -gt $prev ]] || fail "median of $hook ($m ns) is not above the previous point's ($prev ns)"
		prev=$m
	done
	grep -q ' to run SK_SKB$' "$out" || fail "no 'run SK_SKB' span in $out"
	[[ $(run_cnt "$pins/xdp_stamp") -gt 0 ]] || fail "xdp_stamp never ran"
	ip -n "$NS_S" link set dev "$IF_S" xdpdrv off
	tc -n "$NS_S" qdisc del dev "$IF_S" clsact

	# Exit 1 means "refused", an answer like "supported" is.
	m=$("$(BIN hook_timer)" --probe || true)
	[[ $m =~ ^fentry:\ (supported|refused\ \(.+\))$ ]] ||
		fail "hook_timer --probe printed neither 'supported' nor 'refused (...)': $m"
	echo "   $m"
}

# drop_server for 3 s against a 2 s flood; sets TOTAL_PKTS and TOTAL_BYTES.
drop_run() {
	start_server drop "$(BIN drop_server)" --addr "$IP_S" --port "$DROP_PORT" \
		--cpu "$SERVER_CPU" --duration 3
	ip netns exec "$NS_L" "$(BIN udp_flood)" --dst "$IP_S" --port "$DROP_PORT" \
		--cpu "$LOAD_CPU" --duration 2 "$@" >"$WORK/flood.out" ||
		fail "udp_flood $* failed: $(cat "$WORK/flood.out")"
	wait_server drop
	grep -qE '^throughput: [0-9]+ \(pps\)$' "$WORK/drop.out" ||
		fail "drop_server printed no throughput line: $(cat "$WORK/drop.out")"
	read -r TOTAL_PKTS TOTAL_BYTES < <(sed -n 's/^total: \([0-9]*\) packets \([0-9]*\) bytes$/\1 \2/p' "$WORK/drop.out")
	[[ ${TOTAL_PKTS:-0} -gt 0 ]] || fail "drop_server received nothing: $(cat "$WORK/drop.out")"
	echo "   $(cat "$WORK/flood.out"); received $TOTAL_PKTS, $((TOTAL_BYTES / TOTAL_PKTS)) B each"
}

test_figure10() {
	log "(4) Figure 10: truncation in XDP"
	local pins=$BPFFS/trunc
	load truncate trunc
	# shellcheck disable=SC2046 # u32le's bytes: one word each
	bpftool map update pinned "$pins/maps/truncate_config" key 0 0 0 0 \
		value $(u32le "$DROP_PORT")
	ip -n "$NS_S" link set dev "$IF_S" xdpdrv pinned "$pins/xdp_truncate"

	drop_run --size "$PAYLOAD"
	[[ $TOTAL_BYTES -eq $((TOTAL_PKTS * PAYLOAD)) ]] ||
		fail "size 0 (off) changed payloads: $TOTAL_BYTES bytes for $TOTAL_PKTS packets"
	# shellcheck disable=SC2046 # u32le's bytes: one word each
	bpftool map update pinned "$pins/maps/size_map" key 0 0 0 0 value $(u32le "$TRUNC_SIZE")
	drop_run --size "$PAYLOAD"
	[[ $TOTAL_BYTES -eq $((TOTAL_PKTS * TRUNC_SIZE)) ]] ||
		fail "payloads not cut to $TRUNC_SIZE: $TOTAL_BYTES bytes for $TOTAL_PKTS packets"
	ip -n "$NS_S" link set dev "$IF_S" xdpdrv off
}

# The server namespace's UdpInCsumErrors counter. Absolute (-a) and
# without touching nstat's history file (-s), which is shared by all
# namespaces.
csum_errors() {
	ip netns exec "$NS_S" nstat -asz UdpInCsumErrors | awk '/UdpInCsumErrors/ {print $2}'
}

test_flows() {
	log "(5) udp_flood: 10K flows, Zipf 1.0, 64-byte frames"
	local before after
	before=$(csum_errors)
	drop_run --size 22 --flows 10000 --zipf 1.0 --src-ip-base 10.78.1.0
	after=$(csum_errors)
	[[ $after -eq $before ]] || fail "$((after - before)) datagrams had a bad UDP checksum"
	[[ $TOTAL_BYTES -eq $((TOTAL_PKTS * 22)) ]] || fail "flow packets arrived with wrong sizes"
}

main() {
	preflight "namespaces, eBPF and cgroups need it" \
		ip tc bpftool iperf make clang gcc nstat findmnt
	begin
	build
	test_cli
	setup_veth_pair "$NS_L" "$IF_L" "$IP_L" "$NS_S" "$IF_S" "$IP_S"
	setup_bpf
	setup_cgroup
	test_table2
	test_table1
	test_figure10
	test_flows
	log "PASS"
}

main "$@"
