#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#
# Which Table 1 preparation-cost method this host can use: "fentry" where
# the kernel loads fentry/fexit programs (timing the kernel function around
# each hook, hook_timer), "differential" where it refuses them (this
# project's local VM: EPERM), see docs/methods.md.
#
#   tests/c/probe_fentry.sh [BUILD_DIR]
#
# BUILD_DIR is where bpf_src was built (default bpf_src/build); the tools
# are built there first if hook_timer is missing. Prints the probe's answer
# and the method, e.g.
#
#   fentry: refused (Operation not permitted: ...)
#   method: differential
#
# Exit 0 with either answer; 2 if the probe itself cannot run. Loads
# programs without attaching them: no traffic is touched.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/bpf_src/build}
TOOL=$BUILD/bin/hook_timer

[[ $(id -u) -eq 0 ]] || { echo "probe_fentry: run as root" >&2; exit 2; }
if [[ ! -x $TOOL ]]; then
	make -s -C "$ROOT/bpf_src" BUILD="$BUILD" >/dev/null ||
		{ echo "probe_fentry: building bpf_src into $BUILD failed" >&2; exit 2; }
fi

rc=0
answer=$("$TOOL" --probe) || rc=$?
echo "$answer"
case $rc in
0) echo "method: fentry" ;;
1) echo "method: differential" ;;
*) echo "probe_fentry: hook_timer --probe failed ($rc)" >&2; exit 2 ;;
esac
