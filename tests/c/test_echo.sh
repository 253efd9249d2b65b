#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#
# Smoke test of the Figure 3 echo programs and tools, on two private network
# namespaces joined by a veth pair:
#
#   tb_a (client) tba0 10.77.0.1/24  <---->  tbb0 10.77.0.2/24 tb_b (server)
#
# (a) socket echo: echo_server in tb_b, echo_client in tb_a
# (b) XDP echo:    echo_xdp on tbb0, no server running
# (c) TC echo:     echo_tc on tbb0 ingress, no server running
# (d) SK_SKB echo: echo_sk_skb on the server's sockets; the server never
#                  reads them, and nothing may be left queued for it
#
# Prints the median RTT of each hook and fails (exit 1) if anything is off,
# including XDP or TC not beating the socket echo. Needs root. Everything it
# creates (namespaces, bpffs mount, pins, processes) is removed on exit.
#
# Environment: TB_BUILD (build dir, /tmp/tb_build), TB_COUNT (samples per
# hook, 2000), TB_SERVER_CPU (1), TB_CLIENT_CPU (0).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

BUILD=${TB_BUILD:-/tmp/tb_build}
COUNT=${TB_COUNT:-2000}
WARMUP=200
SERVER_CPU=${TB_SERVER_CPU:-1}
CLIENT_CPU=${TB_CLIENT_CPU:-0}

NS_C=tb_a
NS_S=tb_b
IF_C=tba0
IF_S=tbb0
IP_C=10.77.0.1
IP_S=10.77.0.2
NETNS=("$NS_C" "$NS_S")
PORT=9000
CLIENT_PORT=7000

# `ip netns exec` remounts /sys, so /sys/fs/bpf is not visible inside the
# namespaces: pin on a bpffs of our own outside /sys.
BPFFS=/run/tb_bpffs
BIN=$BUILD/bin
OBJ=$BUILD/bpf
SERVER_PID=""
SERVED=""
PASSED=""
declare -A MEDIAN

cleanup() {
	set +e
	stop_pid "$SERVER_PID"
	# Deleting the namespaces detaches the XDP and TC programs with them.
	remove_netns "${NETNS[@]}"
	umount_bpffs "$BPFFS"
	remove_work
}

setup_netns() {
	setup_veth_pair "$NS_C" "$IF_C" "$IP_C" "$NS_S" "$IF_S" "$IP_S"
	# With checksum offload a veth leaves the UDP checksum unfinished
	# (CHECKSUM_PARTIAL). An XDP reply is rebuilt as a plain frame, so the
	# client would drop it as corrupt. A NIC finishes checksums on the
	# wire; here the sender must.
	ip netns exec "$NS_C" ethtool -K "$IF_C" tx off >/dev/null
}

# Start echo_server in the server namespace and wait for its "ready".
start_server() {
	local out=$WORK/server.out
	ip netns exec "$NS_S" "$BIN/echo_server" --addr "$IP_S" --port "$PORT" \
		--cpu "$SERVER_CPU" "$@" >"$out" 2>&1 &
	SERVER_PID=$!
	wait_ready echo_server "$SERVER_PID" "$out"
}

# Stop the server with SIGTERM; sets SERVED to the packets user space
# echoed and PASSED to the bytes a sockmap server found left to user space.
stop_server() {
	local out=$WORK/server.out rc=0
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || rc=$?
	SERVER_PID=""
	[[ $rc -eq 0 ]] || fail "echo_server exited with $rc: $(cat "$out")"
	SERVED=$(sed -n 's/^served: \([0-9][0-9]*\)$/\1/p' "$out")
	[[ -n $SERVED ]] || fail "echo_server printed no 'served: N' line"
	PASSED=$(sed -n 's/^passed_bytes: \([0-9][0-9]*\)$/\1/p' "$out")
}

# Run the client for hook $1; check its output and file; keep the median.
run_client() {
	local hook=$1 samples=$WORK/$1.samples summary
	shift
	summary=$(ip netns exec "$NS_C" "$BIN/echo_client" --server "$IP_S" \
		--port "$PORT" --count "$COUNT" --warmup "$WARMUP" \
		--cpu "$CLIENT_CPU" --timeout-ms 100 --output "$samples" "$@") ||
		fail "$hook: echo_client failed: $summary"
	echo "   $hook: $summary"
	[[ $summary =~ ^samples:\ ([0-9]+)\ lost:\ ([0-9]+)\ min_ns:\ [0-9]+\ median_ns:\ ([0-9]+)\ p99_ns:\ [0-9]+$ ]] ||
		fail "$hook: unexpected summary line '$summary'"
	[[ ${BASH_REMATCH[1]} -eq $COUNT ]] ||
		fail "$hook: $COUNT samples expected, got ${BASH_REMATCH[1]}"
	MEDIAN[$hook]=${BASH_REMATCH[3]}
	[[ $(head -n 1 "$samples") == "num samples: $COUNT" ]] ||
		fail "$hook: bad header line '$(head -n 1 "$samples")'"
	[[ $(wc -l <"$samples") -eq $((COUNT + 1)) ]] ||
		fail "$hook: $samples has not $COUNT sample lines"
	grep -qvxE '[0-9]+' <(tail -n +2 "$samples") &&
		fail "$hook: non-numeric sample line in $samples"
	return 0
}

# The id of the echo_config map used by program id $1. Looking it up by
# name alone could pick another loaded copy of the same object. (No
# `bpftool | grep -q` here: with pipefail, grep quitting early makes
# bpftool die of SIGPIPE and the test fail at random.)
config_map_of() {
	local id ids info
	ids=$(bpftool prog show id "$1" | grep -o 'map_ids [0-9,]*' | cut -d' ' -f2)
	for id in ${ids//,/ }; do
		info=$(bpftool map show id "$id")
		if [[ $info == *" name echo_config "* ]]; then
			echo "$id"
			return 0
		fi
	done
	fail "program $1 has no echo_config map (maps: ${ids:-none})"
}

# Write {port, ifindex} into the echo_config map with id $1.
configure() {
	# shellcheck disable=SC2046 # u32le's bytes: one word each
	bpftool map update id "$1" key 0 0 0 0 value $(u32le "$2") $(u32le "$3")
}

test_cli_errors() {
	log "argument checks"
	local args
	for args in "--port 9000" "--server $IP_S --port 0" \
		"--server 10.77.0 --port 9000" "--server $IP_S --port 9000 --count -1" \
		"--server $IP_S --port 9000 --count 5 --duration 5" \
		"--server $IP_S --port 9000 --size 7"; do
		# shellcheck disable=SC2086 # word splitting wanted
		"$BIN/echo_client" $args 2>/dev/null && fail "echo_client accepted: $args"
	done
	for args in "--addr $IP_S" "--addr $IP_S --port 9000 --proto sctp" \
		"--addr $IP_S --port 9000 --sockmap /nonexistent" \
		"--addr $IP_S --port 9000 --peer $IP_C:1"; do
		# shellcheck disable=SC2086
		"$BIN/echo_server" $args 2>/dev/null && fail "echo_server accepted: $args"
	done
	return 0
}

test_socket() {
	log "(a) socket echo"
	start_server
	run_client socket
	stop_server
	[[ $SERVED -ge $((COUNT + WARMUP)) ]] ||
		fail "socket: server echoed $SERVED, expected at least $((COUNT + WARMUP))"
}

test_xdp() {
	log "(b) XDP echo (no server)"
	# XDP_TX into a veth only wakes the peer's NAPI when the peer has an
	# XDP program; GRO on the peer is not enough for XDP_TX (it is for
	# redirects). An unconfigured echo_xdp passes everything.
	ip -n "$NS_C" link set dev "$IF_C" xdpdrv obj "$OBJ/echo_xdp.bpf.o" sec xdp
	ip -n "$NS_S" link set dev "$IF_S" xdpdrv obj "$OBJ/echo_xdp.bpf.o" sec xdp
	local prog map
	prog=$(ip -n "$NS_S" link show dev "$IF_S" | grep -o 'prog/xdp id [0-9]*' |
		cut -d' ' -f3)
	map=$(config_map_of "$prog")
	configure "$map" "$PORT" 0
	run_client xdp
	ip -n "$NS_S" link set dev "$IF_S" xdpdrv off
	ip -n "$NS_C" link set dev "$IF_C" xdpdrv off
}

test_tc() {
	log "(c) TC echo (no server)"
	tc -n "$NS_S" qdisc add dev "$IF_S" clsact
	tc -n "$NS_S" filter add dev "$IF_S" ingress bpf da obj "$OBJ/echo_tc.bpf.o" sec tc
	local prog map ifindex
	prog=$(tc -n "$NS_S" filter show dev "$IF_S" ingress |
		grep -o 'id [0-9]* name tc_echo' | cut -d' ' -f2)
	map=$(config_map_of "$prog")
	# The ingress interface's index, as seen in its own namespace.
	ifindex=$(ip -n "$NS_S" -o link show dev "$IF_S" | cut -d: -f1)
	configure "$map" "$PORT" "$ifindex"
	run_client tc
	tc -n "$NS_S" qdisc del dev "$IF_S" clsact
}

test_sk_skb() {
	log "(d) SK_SKB echo (the server never reads)"
	local pins=$BPFFS/sk_skb
	mkdir -p "$pins"
	bpftool prog load "$OBJ/echo_sk_skb.bpf.o" "$pins/prog" pinmaps "$pins"
	# Attach before the server inserts its sockets: sockets take the map's
	# programs when they are inserted.
	bpftool prog attach pinned "$pins/prog" stream_verdict pinned "$pins/echo_sockmap"
	# shellcheck disable=SC2046 # u32le's bytes: one word each
	bpftool map update pinned "$pins/echo_config" key 0 0 0 0 \
		value $(u32le "$PORT") $(u32le 0)
	start_server --sockmap "$pins/echo_sockmap" --peer "$IP_C:$CLIENT_PORT"
	run_client sk_skb --bind-port "$CLIENT_PORT"
	stop_server
	# The sockmap server never reads its sockets, so every reply came
	# from the kernel; what the program did not redirect is left queued.
	[[ $SERVED -eq 0 ]] ||
		fail "sk_skb: user space echoed $SERVED packets, the eBPF path should have"
	[[ $PASSED -eq 0 ]] ||
		fail "sk_skb: the verdict program passed $PASSED bytes to user space"
	rm -rf "$pins"
}

report() {
	local hook
	log "median RTT (ns), $COUNT samples each, veth (not hardware)"
	for hook in socket sk_skb tc xdp; do
		printf '   %-7s %8d ns  (%d.%02d us)\n' "$hook" "${MEDIAN[$hook]}" \
			$((MEDIAN[$hook] / 1000)) $((MEDIAN[$hook] % 1000 / 10))
	done
	for hook in xdp tc; do
		[[ ${MEDIAN[$hook]} -lt ${MEDIAN[socket]} ]] ||
			fail "$hook median ${MEDIAN[$hook]} is not below the socket's ${MEDIAN[socket]}"
	done
}

main() {
	preflight "namespaces, XDP, TC need it" ip tc bpftool ethtool make clang gcc
	begin
	build_bpf_src "$BUILD"
	test_cli_errors
	setup_netns
	mount_bpffs "$BPFFS"
	test_socket
	test_xdp
	test_tc
	test_sk_skb
	report
	log "PASS"
}

main "$@"
