"""Runs last: tearing the local testbed down leaves nothing behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import loaded_program_ids, processes_named, run_playbook, runner_output

TESTBED_PROGRAMS = {"xdp_echo", "tc_echo", "sk_skb_echo", "xdp_napi_pass"}
# Programs of the same names that something outside the testbed holds (another
# checkout's namespaces, say) were there before the tests and are not ours.
FOREIGN = loaded_program_ids(TESTBED_PROGRAMS)


def test_teardown_leaves_nothing_behind(tmp_path: Path) -> None:
    result = run_playbook("testbed_down.yml", tmp_path)
    assert result.rc == 0, runner_output(result)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = {line.split()[0] for line in namespaces.splitlines() if line.strip()}
    assert not names & {"dut", "loadgen"}, namespaces
    assert "/run/ebpf-testbed" not in Path("/proc/mounts").read_text()
    assert not Path("/run/ebpf-testbed").exists()
    assert not loaded_program_ids(TESTBED_PROGRAMS) - FOREIGN, "a testbed program is still loaded"
    assert not processes_named("echo_server")
