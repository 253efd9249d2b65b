#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#
# Smoke test of the Memcached programs and tools (Figures 4, 5 and 6), on two
# private network namespaces joined by a veth pair:
#
#   mc_a (load) mca0 10.78.0.1/24  <---->  mcb0 10.78.0.2/24 mc_b (memcached)
#
# (1) argument checks of mc_load
# (2) baseline: memcached -U alone; mc_load --populate, then a timed run
#     whose replies must all be hits
# (3) cache: mc_cache_rx (XDP, driver mode) and mc_cache_tx (TC egress) on
#     mcb0, sharing their maps; one get fills the cache, then a timed run
#     must be answered by XDP (mc_stats hit) with correct replies, and
#     memcached's own get_hits must not grow with it
# (4) invalidation: a set of a new value through the cache, then every get
#     must return the new value
# (5) Figures 5/6 sizes: key 200 B, value 1000 B is cached (its gets padded
#     with mc_load --pad: on a veth the reply needs a frame about as large);
#     value 1100 B is too big and always answered by memcached
#
# Prints baseline and cache throughput (veth, not hardware) and their ratio.
# Needs root. Exit 1 on any failure. Everything it creates (namespaces,
# memcached, programs, pins, bpffs mount, files) is removed on exit.
#
# Environment: MC_BUILD (build dir, /tmp/mc_build), MC_DURATION (seconds
# per timed run, 3), MC_WINDOW (requests in flight, 16), MC_SERVER_CPU (1),
# MC_LOAD_CPU (0).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

BUILD=${MC_BUILD:-/tmp/mc_build}
DURATION=${MC_DURATION:-3}
WINDOW=${MC_WINDOW:-16}
SERVER_CPU=${MC_SERVER_CPU:-1}
LOAD_CPU=${MC_LOAD_CPU:-0}

NS_L=mc_a
NS_S=mc_b
IF_L=mca0
IF_S=mcb0
IP_L=10.78.0.1
IP_S=10.78.0.2
NETNS=("$NS_L" "$NS_S")
PORT=11211
# Figure 4: one key of 128 B, value 64 B.
KEY_SIZE=128
VALUE_SIZE=64

# `ip netns exec` remounts /sys: pins live on a bpffs of our own.
BPFFS=/run/mc_bpffs
PROGS=$BPFFS/progs
MAPS=$BPFFS/maps
BIN=$BUILD/bin
OBJ=$BUILD/bpf
MC_PID=""
# Fields of mc_load's last total line.
declare -A TOTAL
declare -A RPS
# Indexes of mc_stats (include/mc_proto.h).
declare -A STAT_IDX=([rx_get]=0 [hit]=1 [miss]=2 [invalidate]=3 [fill]=4
	[too_big]=5 [parse_error]=6 [no_room]=7)

cleanup() {
	set +e
	stop_pid "$MC_PID"
	# Namespaces take the veth pair and its XDP and TC attachments.
	remove_netns "${NETNS[@]}"
	# The last reference to the programs and maps is their pin.
	umount_bpffs "$BPFFS"
	remove_work
}

test_cli_errors() {
	log "argument checks"
	local args err
	for args in "--port $PORT" "--server $IP_S" "--server $IP_S --port 0" \
		"--server 10.78.0 --port $PORT" "--server $IP_S --port $PORT --window 0" \
		"--server $IP_S --port $PORT --key-size 251" \
		"--server $IP_S --port $PORT --keys 2 --key-index 2" \
		"--server $IP_S --port $PORT --key-size 1 --keys 11" \
		"--server $IP_S --port $PORT --value-size 1300 --key-size 200" \
		"--server $IP_S --port $PORT --duration -1" \
		"--server $IP_S --port $PORT --bogus" "--server $IP_S --port $PORT extra"; do
		# shellcheck disable=SC2086 # word splitting wanted
		if err=$("$BIN/mc_load" $args 2>&1 >/dev/null); then
			fail "mc_load accepted: $args"
		fi
		[[ $(wc -l <<<"$err") -eq 1 ]] ||
			fail "mc_load $args: expected one line of error, got: $err"
	done
	return 0
}

setup_netns() {
	setup_veth_pair "$NS_L" "$IF_L" "$IP_L" "$NS_S" "$IF_S" "$IP_S"
	static_neigh "$NS_L" "$IF_L" "$IP_S" "$NS_S" "$IF_S"
	static_neigh "$NS_S" "$IF_S" "$IP_L" "$NS_L" "$IF_L"
	# With checksum offload a veth leaves the UDP checksum unfinished; a
	# request turned into a reply by XDP would then be dropped as corrupt.
	ip netns exec "$NS_L" ethtool -K "$IF_L" tx off >/dev/null
	# XDP_TX into a veth reaches the peer only when the peer runs NAPI,
	# i.e. has an XDP program of its own. On both runs alike.
	ip -n "$NS_L" link set dev "$IF_L" xdpdrv obj "$OBJ/testbed_napi.bpf.o" sec xdp
}

mc_load() {
	ip netns exec "$NS_L" "$BIN/mc_load" --server "$IP_S" --port "$PORT" "$@"
}

start_memcached() {
	log "memcached -U $PORT -t 1 on CPU $SERVER_CPU"
	ip netns exec "$NS_S" taskset -c "$SERVER_CPU" memcached -U "$PORT" -p 0 -t 1 \
		-u root -l "$IP_S" >"$WORK/memcached.out" 2>&1 &
	MC_PID=$!
	for _ in $(seq 50); do
		mc_load --stats --timeout-ms 20 >/dev/null 2>&1 && return 0
		kill -0 "$MC_PID" 2>/dev/null ||
			fail "memcached died: $(cat "$WORK/memcached.out")"
		sleep 0.1
	done
	fail "memcached does not answer stats on $IP_S:$PORT"
}

# memcached's own counter $1 (get_hits, cmd_get, ...).
mc_stat() {
	local out
	out=$(mc_load --stats) || fail "mc_load --stats failed"
	sed -n "s/^STAT $1 \([0-9][0-9]*\)\r\$/\1/p" <<<"$out"
}

# mc_stats counter $1 (a name of STAT_IDX), summed over the CPUs.
bpf_stat() {
	# shellcheck disable=SC2046 # u32le's bytes: one word each
	bpftool -j map lookup pinned "$MAPS/mc_stats" key $(u32le "${STAT_IDX[$1]}") |
		jq '.formatted.values | map(.value) | add'
}

# Runs mc_load with "$@" as run $1; checks its output, fills TOTAL.
run_load() {
	local name=$1 out line
	shift
	out=$(mc_load --cpu "$LOAD_CPU" --timeout-ms 200 "$@") ||
		fail "$name: mc_load failed: $out"
	line=$(tail -n 1 <<<"$out")
	[[ $line =~ ^total:\ requests\ ([0-9]+)\ replies\ ([0-9]+)\ hits\ ([0-9]+)\ misses\ ([0-9]+)\ lost\ ([0-9]+)\ errors\ ([0-9]+)\ seconds\ ([0-9]+\.[0-9]{3})$ ]] ||
		fail "$name: unexpected total line '$line'"
	TOTAL=([requests]=${BASH_REMATCH[1]} [replies]=${BASH_REMATCH[2]}
		[hits]=${BASH_REMATCH[3]} [misses]=${BASH_REMATCH[4]}
		[lost]=${BASH_REMATCH[5]} [errors]=${BASH_REMATCH[6]}
		[seconds]=${BASH_REMATCH[7]})
	grep -qvxE 'throughput: [0-9]+ \(rps\)' <(head -n -1 <<<"$out") &&
		fail "$name: unexpected line in: $out"
	echo "   $name: $line"
	[[ $((TOTAL[replies] + TOTAL[lost])) -eq ${TOTAL[requests]} ]] ||
		fail "$name: replies + lost != requests"
	[[ ${TOTAL[errors]} -eq 0 ]] || fail "$name: ${TOTAL[errors]} wrong replies"
	[[ ${TOTAL[hits]} -gt 0 && ${TOTAL[hits]} -eq ${TOTAL[replies]} ]] ||
		fail "$name: ${TOTAL[hits]} hits for ${TOTAL[replies]} replies"
	return 0
}

# Replies per second of the last run (integer).
rps() {
	awk -v r="${TOTAL[replies]}" -v s="${TOTAL[seconds]}" 'BEGIN { printf "%d", r / s }'
}

test_baseline() {
	log "(2) baseline: memcached alone"
	run_load populate --populate --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" \
		--duration 1
	run_load baseline --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" \
		--window "$WINDOW" --warmup 1 --duration "$DURATION" \
		--samples "$WORK/baseline.samples"
	RPS[baseline]=$(rps)
	[[ $(head -n 1 "$WORK/baseline.samples") == "num samples: ${TOTAL[replies]}" ]] ||
		fail "baseline: bad samples header"
	[[ $(wc -l <"$WORK/baseline.samples") -eq $((TOTAL[replies] + 1)) ]] ||
		fail "baseline: samples file has not one line per reply"
}

attach_cache() {
	log "attach mc_cache_rx (xdpdrv) and mc_cache_tx (tc egress) on $IF_S"
	mount_bpffs "$BPFFS"
	# One load, so that both programs share mc_cache and mc_config.
	bpftool prog loadall "$OBJ/mc_cache.bpf.o" "$PROGS" pinmaps "$MAPS" ||
		fail "mc_cache.bpf.o was refused"
	ip -n "$NS_S" link set dev "$IF_S" xdpdrv pinned "$PROGS/mc_cache_rx"
	tc -n "$NS_S" qdisc add dev "$IF_S" clsact
	tc -n "$NS_S" filter add dev "$IF_S" egress bpf da object-pinned "$PROGS/mc_cache_tx"
	# shellcheck disable=SC2046 # u32le's bytes: one word each
	bpftool map update pinned "$MAPS/mc_config" key 0 0 0 0 value $(u32le "$PORT")
}

test_cache() {
	log "(3) cache: XDP answers from the cache"
	local hits_before hits_after served
	# A few gets through memcached; its reply fills the cache.
	run_load fill --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" --rate 100 \
		--duration 1
	[[ $(bpf_stat fill) -ge 1 ]] || fail "cache: mc_cache_tx stored nothing"
	[[ $(bpf_stat hit) -ge 1 ]] || fail "cache: no hit after the fill"
	hits_before=$(mc_stat get_hits)
	served=$(bpf_stat hit)
	run_load cache --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" \
		--window "$WINDOW" --warmup 1 --duration "$DURATION"
	RPS[cache]=$(rps)
	hits_after=$(mc_stat get_hits)
	served=$(($(bpf_stat hit) - served))
	echo "   mc_stats hit +$served, memcached get_hits +$((hits_after - hits_before))"
	[[ $served -ge ${TOTAL[replies]} ]] ||
		fail "cache: XDP answered $served of ${TOTAL[replies]} replies"
	[[ $((hits_after - hits_before)) -le $((TOTAL[replies] / 100)) ]] ||
		fail "cache: memcached served $((hits_after - hits_before)) gets itself"
	[[ $(bpf_stat parse_error) -eq 0 ]] || fail "cache: parse errors"
}

test_invalidate() {
	log "(4) invalidation: a set through the cache, then gets"
	local inval hits
	inval=$(bpf_stat invalidate)
	hits=$(bpf_stat hit)
	# A new value (65 B, other letters): every get must return it.
	run_load invalidate --populate --key-size "$KEY_SIZE" --value-size 65 \
		--duration 1
	[[ $(bpf_stat invalidate) -gt $inval ]] || fail "invalidate: the set invalidated nothing"
	[[ $(bpf_stat hit) -gt $hits ]] || fail "invalidate: the new value was not cached"
	# And back: the cached 65-byte value must go as well.
	run_load revert --populate --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" \
		--duration 1
}

test_sizes() {
	log "(5) Figures 5/6: value 1000 B cached, 1100 B too big"
	local hits too_big
	hits=$(bpf_stat hit)
	run_load big --populate --keys 2 --key-index 1 --key-size 200 --value-size 1000 \
		--pad 1100 --duration 1
	[[ $(bpf_stat hit) -gt $((hits + TOTAL[replies] / 2)) ]] ||
		fail "sizes: the 1000-byte value is not answered from the cache"
	hits=$(bpf_stat hit)
	too_big=$(bpf_stat too_big)
	run_load too_big --populate --keys 2 --key-index 0 --key-size 200 \
		--value-size 1100 --duration 1
	[[ $(bpf_stat hit) -eq $hits ]] || fail "sizes: the 1100-byte value was served by XDP"
	[[ $(bpf_stat too_big) -ge $((too_big + TOTAL[replies])) ]] ||
		fail "sizes: mc_cache_tx did not count the 1100-byte replies as too big"
}

report() {
	log "throughput (veth, not hardware), window $WINDOW"
	echo "   baseline ${RPS[baseline]} rps, cache ${RPS[cache]} rps, ratio" \
		"$(awk -v a="${RPS[cache]}" -v b="${RPS[baseline]}" 'BEGIN { printf "%.2f", a / b }')"
	local name
	for name in rx_get hit miss invalidate fill too_big parse_error no_room; do
		printf '   mc_stats %-11s %s\n' "$name" "$(bpf_stat "$name")"
	done
}

main() {
	preflight "namespaces, XDP, TC need it" ip tc bpftool ethtool jq make clang gcc \
		memcached taskset
	begin
	build_bpf_src "$BUILD"
	test_cli_errors
	setup_netns
	start_memcached
	test_baseline
	attach_cache
	test_cache
	test_invalidate
	test_sizes
	report
	log "PASS"
}

main "$@"
