"""The modules for real, through `ansible -m`, on namespaces tc_a/tc_b that the tests create.

Needs root, clang and bpftool; skipped otherwise. Creates only tc_a and tc_b and a
private bpffs under tmp_path, and removes them afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import LIBRARY, MODULE_UTILS, fixture_path

NAMESPACES = ("tc_a", "tc_b")
ENDPOINTS = [
    {
        "netns": "tc_a",
        "ifname": "va",
        "address": "10.99.0.1/24",
        "mac": "02:00:00:00:99:01",
        "mtu": 1500,
    },
    {
        "netns": "tc_b",
        "ifname": "vb",
        "address": "10.99.0.2/24",
        "mac": "02:00:00:00:99:02",
        "mtu": 1500,
    },
]
BARE = [{"netns": e["netns"], "ifname": e["ifname"]} for e in ENDPOINTS]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, eBPF)"),
    pytest.mark.skipif(
        not (shutil.which("clang") and shutil.which("bpftool")), reason="needs clang and bpftool"
    ),
]


def delete_namespaces() -> None:
    for ns in NAMESPACES:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


@pytest.fixture
def ansible(tmp_path: Path) -> Iterator[Any]:
    """ansible(module, args, netns=None, check=False) -> the module's result."""
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(f"[defaults]\nlibrary = {LIBRARY}\nmodule_utils = {MODULE_UTILS}\n")
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(cfg),
        ANSIBLE_STDOUT_CALLBACK="oneline",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_NOCOLOR="1",
    )
    binary = str(Path(sys.executable).parent / "ansible")

    def call(
        module: str, args: dict[str, Any], netns: str | None = None, check: bool = False
    ) -> dict[str, Any]:
        cmd = [
            binary,
            "localhost",
            "-c",
            "local",
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-m",
            module,
            "-a",
            json.dumps(args),
        ]
        if check:
            cmd.append("--check")
        if netns:
            cmd = ["ip", "netns", "exec", netns, *cmd]
        out = subprocess.run(
            cmd, capture_output=True, text=True, env=env, cwd=tmp_path, check=False
        )
        for line in out.stdout.splitlines():  # oneline callback: "localhost | CHANGED => {...}"
            if line.startswith("localhost | ") and " => " in line:
                status, _, data = line.partition(" => ")
                return dict(json.loads(data), failed="FAILED" in status)
        pytest.fail(f"ansible printed no result:\n{out.stdout}\n{out.stderr}")

    delete_namespaces()
    yield call
    delete_namespaces()


@pytest.fixture
def bpffs(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "bpffs"
    root.mkdir()
    subprocess.run(["mount", "-t", "bpf", "bpf", str(root)], check=True)
    yield root
    subprocess.run(["umount", str(root)], check=False)


def compile_object(tmp_path: Path, name: str) -> Path:
    obj = tmp_path / f"{name}.bpf.o"
    subprocess.run(
        [
            "clang",
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-mcpu=v3",
            "-Wall",
            "-Werror",
            "-c",
            str(fixture_path(f"bpf/{name}.bpf.c")),
            "-o",
            str(obj),
        ],
        check=True,
    )
    return obj


def pins(bpffs: Path) -> list[str]:
    """What is pinned on the bpffs, without the kernel's own progs.debug and maps.debug."""
    return [p for p in os.listdir(bpffs) if not p.endswith(".debug")]


def attached_xdp(netns: str, ifname: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["ip", "netns", "exec", netns, "bpftool", "-j", "net", "show", "dev", ifname],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)[0]["xdp"]


def test_netns_veth_twice_then_absent(ansible):
    first = ansible("netns_veth", {"endpoints": ENDPOINTS})
    assert first["changed"] is True, first
    second = ansible("netns_veth", {"endpoints": ENDPOINTS})
    assert second["changed"] is False, second
    assert [e["mac"] for e in second["endpoints"]] == ["02:00:00:00:99:01", "02:00:00:00:99:02"]
    gro = ansible("netdev_features", {"interface": "vb", "features": {"gro": True}}, netns="tc_b")
    assert gro["previous"] == {"gro": False} and gro["current"] == {"gro": True}
    gone = ansible("netns_veth", {"endpoints": BARE, "state": "absent"})
    assert gone["changed"] is True
    assert not set(NAMESPACES) & set(os.listdir("/run/netns"))
    assert ansible("netns_veth", {"endpoints": BARE, "state": "absent"})["changed"] is False


def test_bpf_prog_attach_twice_configure_and_detach(ansible, bpffs, tmp_path):
    obj = compile_object(tmp_path, "hooks")
    assert ansible("netns_veth", {"endpoints": ENDPOINTS})["changed"] is True
    args = {
        "object": str(obj),
        "program": "xdp_pass",
        "hook": "xdp",
        "interface": "va",
        "pin_dir": "live_xdp",
        "pin_root": str(bpffs),
        "state_dir": str(tmp_path / "state"),
        "map_values": {"echo_config": {"0": {"port": 8080, "ifindex": 7}}},
    }
    assert ansible("bpf_prog", args, netns="tc_a", check=True)["changed"] is True
    assert attached_xdp("tc_a", "va") == []
    first = ansible("bpf_prog", args, netns="tc_a")
    assert first["changed"] is True, first
    assert attached_xdp("tc_a", "va") == [
        {"devname": "va", "ifindex": first["ifindex"], "mode": "driver", "id": first["prog_id"]}
    ]
    second = ansible("bpf_prog", args, netns="tc_a")
    assert second["changed"] is False and second["prog_id"] == first["prog_id"], second
    dumped = ansible(
        "bpf_map", {"pinned": first["maps"]["echo_config"]["path"], "state": "dumped"}, netns="tc_a"
    )
    assert (
        dumped["entries"][0]["value"]["port"] == 8080
        and dumped["entries"][0]["value"]["ifindex"] == 7
    )
    other = ansible("bpf_prog", dict(args, pin_dir="live_other"), netns="tc_a")
    assert other["failed"] and "bpf_prog state=absent" in other["msg"]
    tc = ansible(
        "bpf_prog",
        dict(args, program="tc_pass", hook="tc", pin_dir="live_tc", map_values={}),
        netns="tc_a",
    )
    assert tc["changed"] is True, tc
    state = {"pin_root": str(bpffs), "state_dir": str(tmp_path / "state")}
    gone = ansible("bpf_prog", {"state": "absent", "pin_dir": "live_xdp", **state}, netns="tc_a")
    assert gone["changed"] is True and attached_xdp("tc_a", "va") == []
    assert (
        ansible("bpf_prog", {"state": "absent", "pin_dir": "live_xdp", **state}, netns="tc_a")[
            "changed"
        ]
        is False
    )
    assert ansible("bpf_prog", {"state": "absent_all", **state}, netns="tc_a")["removed"] == [
        str(bpffs / "live_tc")
    ]
    assert pins(bpffs) == []


def test_verifier_rejection_for_real(ansible, bpffs, tmp_path):
    obj = compile_object(tmp_path, "verifier_reject")
    assert ansible("netns_veth", {"endpoints": ENDPOINTS})["changed"] is True
    result = ansible(
        "bpf_prog",
        {
            "object": str(obj),
            "program": "xdp_unchecked",
            "hook": "xdp",
            "interface": "va",
            "pin_dir": "live_reject",
            "pin_root": str(bpffs),
            "state_dir": str(tmp_path / "state"),
        },
        netns="tc_a",
    )
    assert result["failed"] and "map_value_or_null" in result["verifier_log"]
    assert pins(bpffs) == [] and attached_xdp("tc_a", "va") == []
