"""Runs last: tearing the local testbed down leaves nothing behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import loaded_program_names, processes_named, run_playbook, runner_output

TESTBED_PROGRAMS = {"xdp_echo", "tc_echo", "sk_skb_echo", "xdp_napi_pass"}


def test_teardown_leaves_nothing_behind(tmp_path: Path) -> None:
    result = run_playbook("testbed_down.yml", tmp_path)
    assert result.rc == 0, runner_output(result)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = {line.split()[0] for line in namespaces.splitlines() if line.strip()}
    assert not names & {"dut", "loadgen"}, namespaces
    assert "/run/ebpf-testbed" not in Path("/proc/mounts").read_text()
    assert not Path("/run/ebpf-testbed").exists()
    assert TESTBED_PROGRAMS.isdisjoint(loaded_program_names())
    assert not processes_named("echo_server")
