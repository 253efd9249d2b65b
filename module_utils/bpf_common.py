# SPDX-License-Identifier: GPL-3.0-or-later
"""bpffs checks, bpftool/iproute2 queries and verifier-log parsing shared by the BPF modules."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from ansible.module_utils.testbed_common import ModuleError, Runner, tail

MOUNTINFO = "/proc/self/mountinfo"
VERIFIER_TAIL_LINES = 40

PROG_TYPE_OF_HOOK = {"xdp": "xdp", "tc": "sched_cls", "sk_skb": "sk_skb"}
SECTION_OF_HOOK = {"xdp": 'SEC("xdp")', "tc": 'SEC("tc")', "sk_skb": 'SEC("sk_skb/...")'}


def _unescape_mount(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_of(path: str, mountinfo: str | None = None) -> tuple[str, str]:
    """(mount point, file system type) of the mount that holds `path` (which may not exist yet)."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and probe != "/":
        probe = os.path.dirname(probe)
    probe = os.path.realpath(probe)
    best, fstype = "", ""
    with open(mountinfo or MOUNTINFO, encoding="utf-8") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if len(fields) < 5 or not right:
                continue
            point = _unescape_mount(fields[4])
            inside = probe == point or probe.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, fstype = point, right.split()[0]
    return best, fstype


def require_bpffs(path: str, mountinfo: str | None = None) -> None:
    point, fstype = mount_of(path, mountinfo)
    if fstype != "bpf":
        raise ModuleError(
            f"{path} is not on a bpffs (it is on {fstype or 'an unknown file system'} mounted at "
            f"{point or '?'}). Mount one from the host, outside any `ip netns exec` (which has its "
            f"own mount namespace): mkdir -p {path} && mount -t bpf bpf {path} "
            "(the testbed role does this: ansible-playbook playbooks/testbed_up.yml)"
        )


def remove_tree(path: str) -> bool:
    """Remove a directory of pins (unpins every object); True when something was removed."""
    if not os.path.lexists(path):
        return False
    if not os.path.isdir(path) or os.path.islink(path):
        os.unlink(path)
        return True
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            full = os.path.join(root, name)
            if os.path.islink(full):
                os.unlink(full)
            else:
                os.rmdir(full)
    os.rmdir(path)
    return True


def list_pins(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except FileNotFoundError:
        return []


def verifier_failure(stderr: str) -> tuple[str | None, str]:
    """(name of the rejected program, tail of its verifier log) from `bpftool prog load*` stderr."""
    match = re.search(r"libbpf: prog '([^']+)': BPF program load failed", stderr)
    name = match.group(1) if match else None
    log = re.search(
        r"-- BEGIN PROG LOAD LOG --\n(.*?)(?:\n-- END PROG LOAD LOG --|\Z)", stderr, re.S
    )
    if log:
        return name, tail(log.group(1), VERIFIER_TAIL_LINES)
    return name, ""


def prog_show_pinned(runner: Runner, path: str) -> dict[str, Any] | None:
    """`bpftool prog show pinned PATH`, None when nothing is pinned there."""
    rc, out, err = runner.run(["bpftool", "-j", "prog", "show", "pinned", path])
    if rc != 0:
        if "No such file" in (out + err):
            return None
        raise ModuleError(
            f"reading the program pinned at {path} failed: {tail(err or out, 3)}", rc=rc, stderr=err
        )
    return json.loads(out)


def prog_summary(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "prog_id": info.get("id"),
        "tag": info.get("tag"),
        "name": info.get("name"),
        "type": info.get("type"),
        "jited_bytes": info.get("bytes_jited"),
        "xlated_bytes": info.get("bytes_xlated"),
    }


def link_show(runner: Runner, ifname: str) -> dict[str, Any]:
    """`ip -j link show dev IF`; fails naming the interfaces that do exist."""
    rc, out, err = runner.run(["ip", "-j", "link", "show", "dev", ifname])
    if rc == 0:
        links = json.loads(out)
        if links:
            return links[0]
    rc2, out2, _ = runner.run(["ip", "-j", "link", "show"])
    names = []
    if rc2 == 0:
        names = [link.get("ifname") for link in json.loads(out2 or "[]")]
    raise ModuleError(
        f"interface '{ifname}' does not exist in this network namespace "
        f"(interfaces here: {', '.join(n for n in names if n) or 'none'}). "
        "Check the interface variable of the host (testbed_exp_ifname) and that the task "
        "runs on the right host",
        rc=rc,
        stderr=err,
    )


def net_show(runner: Runner, ifname: str) -> dict[str, list[dict[str, Any]]]:
    """XDP and TC programs attached to `ifname`, from `bpftool net show dev IF`."""
    data = runner.json(
        ["bpftool", "-j", "net", "show", "dev", ifname],
        f"listing the programs attached to {ifname}",
    ) or [{}]
    first = data[0] if data else {}
    return {"xdp": first.get("xdp", []), "tc": first.get("tc", [])}
