# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#
# Plumbing shared by the smoke tests in tests/c, sourced by each test_*.sh:
#
#   log, fail           progress lines; failure message and exit 1
#   preflight           root, the tools needed, no namespaces left over
#   begin               trap cleanup on exit (and exit 130 on INT/TERM), WORK
#   build_bpf_src       make -C bpf_src BUILD=...
#   setup_veth_pair     two namespaces joined by a veth pair, addresses, up
#   static_neigh        a permanent neighbour entry instead of ARP
#   mount_bpffs         a bpffs of the script's own (`ip netns exec` hides /sys)
#   wait_ready          wait for a background server's "ready" line
#   u32le               a u32 as the little-endian bytes bpftool wants
#   for cleanup():      stop_pid, remove_netns, umount_bpffs, remove_work
#
# The script sets NETNS (an array of its namespace names) and defines its
# own cleanup() from the helpers above. lib.sh sets ROOT (the repository)
# and WORK (empty until begin makes the run's temporary folder).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=""

log() { printf '== %s\n' "$*"; }
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# Deletes the namespaces "$@"; those that do not exist are no error.
remove_netns() {
	local ns
	for ns in "$@"; do
		ip netns del "$ns" 2>/dev/null || true
	done
}

# Fails unless root ($1: what needs it) and the tools "${@:2}" are there.
# Leftovers of an interrupted run are ours by name: removes the namespaces
# in NETNS.
preflight() {
	local why=$1 tool
	shift
	[[ $(id -u) -eq 0 ]] || fail "run as root ($why)"
	for tool in "$@"; do
		command -v "$tool" >/dev/null || fail "$tool is not installed"
	done
	remove_netns "${NETNS[@]}"
}

# From here on the script's cleanup runs on every exit, failures included;
# SIGINT and SIGTERM exit 130. Creates WORK.
begin() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	WORK=$(mktemp -d)
}

# Builds bpf_src into $1. With a log file $2 all of make's output goes there
# and its last lines into the failure; without, make's stderr is shown.
build_bpf_src() {
	local dir=$1 logfile=${2:-}
	log "build into $dir"
	if [[ -n $logfile ]]; then
		make -s -C "$ROOT/bpf_src" BUILD="$dir" >"$logfile" 2>&1 ||
			fail "make -C bpf_src failed: $(tail -n 20 "$logfile")"
	else
		make -s -C "$ROOT/bpf_src" BUILD="$dir" >/dev/null ||
			fail "make -C bpf_src failed"
	fi
}

# setup_veth_pair NS_A IF_A IP_A NS_B IF_B IP_B: namespaces NS_A and NS_B,
# joined by the veth pair IF_A (in NS_A, IP_A/24) <-> IF_B (in NS_B,
# IP_B/24); lo and the pair up.
setup_veth_pair() {
	local ns_a=$1 if_a=$2 ip_a=$3 ns_b=$4 if_b=$5 ip_b=$6
	log "namespaces $ns_a ($ip_a) and $ns_b ($ip_b)"
	ip netns add "$ns_a"
	ip netns add "$ns_b"
	ip link add "$if_a" netns "$ns_a" type veth peer name "$if_b" netns "$ns_b"
	ip -n "$ns_a" addr add "$ip_a/24" dev "$if_a"
	ip -n "$ns_b" addr add "$ip_b/24" dev "$if_b"
	ip -n "$ns_a" link set lo up
	ip -n "$ns_b" link set lo up
	ip -n "$ns_a" link set "$if_a" up
	ip -n "$ns_b" link set "$if_b" up
}

# static_neigh NS IF IP PEER_NS PEER_IF: in NS, a permanent entry for IP
# on IF with the MAC address of PEER_IF (in PEER_NS), so nothing sent from
# NS ever waits for ARP.
static_neigh() {
	local ns=$1 dev=$2 ip=$3 peer_ns=$4 peer_if=$5 mac
	mac=$(ip -n "$peer_ns" -o link show dev "$peer_if" |
		grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	ip -n "$ns" neigh replace "$ip" lladdr "$mac" dev "$dev" nud permanent
}

# A bpffs mounted at $1 (once), for pins the namespaces can see.
mount_bpffs() {
	mkdir -p "$1"
	mountpoint -q "$1" || mount -t bpf bpf "$1"
}

# Waits up to 5 s for the line "ready" in file $3 of server $1, pid $2;
# fails if the server dies first or never prints it.
wait_ready() {
	local name=$1 pid=$2 out=$3
	for _ in $(seq 50); do
		grep -qx ready "$out" && return 0
		kill -0 "$pid" 2>/dev/null || fail "$name died: $(cat "$out")"
		sleep 0.1
	done
	fail "$name did not print 'ready'"
}

# Little-endian bytes of a u32, as bpftool wants keys and values.
u32le() {
	local v=$1
	echo "$((v & 255)) $((v >> 8 & 255)) $((v >> 16 & 255)) $((v >> 24 & 255))"
}

# Stops the processes "$@" (empty ones skipped); how they end is not ours
# to judge.
stop_pid() {
	local pid
	for pid in "$@"; do
		[[ -n $pid ]] || continue
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# Unmounts the bpffs at $1 and removes its folder. Unmounting the last
# mount of a bpffs drops every pin on it.
umount_bpffs() {
	if mountpoint -q "$1"; then
		umount "$1"
	fi
	rmdir "$1" 2>/dev/null || true
}

remove_work() {
	if [[ -n $WORK ]]; then
		rm -rf "$WORK"
	fi
}
