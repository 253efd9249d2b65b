"""The local testbed end to end: up, Figure 3, bad input, interruption.

The tests run in file order and share one testbed; test_zz_teardown.py tears it
down after every experiment's test and checks that nothing is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    BIN,
    REPO,
    ansible_env,
    loaded_program_names,
    netns,
    processes_named,
    run_playbook,
    runner_output,
)

from analysis import parsers, stats

ECHO_PROGRAMS = {"xdp_echo", "tc_echo", "sk_skb_echo"}
REQUESTS = 4000


@pytest.fixture(scope="module")
def results_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("results")


def test_testbed_up_is_idempotent(tmp_path: Path) -> None:
    first = run_playbook("testbed_up.yml", tmp_path / "first")
    assert first.rc == 0, runner_output(first)
    second = run_playbook("testbed_up.yml", tmp_path / "second")
    assert second.rc == 0, runner_output(second)
    assert second.stats["changed"] == {}, f"second run changed: {second.stats['changed']}"
    ping = netns("loadgen", "ping", "-c", "1", "-W", "2", "192.168.1.1")
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_fig3_quick_through_ansible_runner(tmp_path: Path, results_root: Path) -> None:
    result = run_playbook(
        "fig3_echo.yml",
        tmp_path,
        {
            "results_root": str(results_root),
            "fig3_echo_requests": REQUESTS,
            "fig3_echo_warmup": 500,
        },
    )
    assert result.rc == 0, runner_output(result)
    exp = results_root / "latest" / "fig3_echo"
    status = json.loads((exp / "status.json").read_text())
    assert status["status"] == "complete", status
    medians = {}
    for hook in ("socket", "sk_skb", "tc", "xdp"):
        samples = parsers.parse_samples(exp / "raw" / hook / "samples.txt")
        assert len(samples) == REQUESTS, f"{hook}: {len(samples)} samples"
        medians[hook] = stats.summarize(samples)["p50"]
        program = exp / "raw" / hook / "program.json"
        assert program.exists() == (hook != "socket")
    assert medians["xdp"] < medians["socket"], medians
    assert (exp / "hosts" / "local-dut.json").exists()
    summary = json.loads((results_root / "latest" / "report" / "summary.json").read_text())
    claims = {c["id"]: c["verdict"] for c in summary["experiments"]["fig3_echo"]["claims"]}
    assert claims["fig3.xdp_below_socket"] == "holds", claims
    assert ECHO_PROGRAMS.isdisjoint(loaded_program_names()), "a program is still loaded"


def test_bad_hook_fails_in_preflight(tmp_path: Path, results_root: Path) -> None:
    before = sorted(os.listdir(results_root))
    result = run_playbook(
        "fig3_echo.yml", tmp_path, {"results_root": str(results_root), "hooks": "xdp,kprobe"}
    )
    assert result.rc != 0
    assert "choose among" in runner_output(result)
    assert sorted(os.listdir(results_root)) == before, "preflight must not create a run"


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def xdp_attached() -> bool:
    link = netns("dut", "ip", "-j", "link", "show", "dev", "veth-dut")
    return link.returncode == 0 and '"xdp"' in link.stdout


def test_interrupt_leaves_nothing_running(results_root: Path) -> None:
    command = [
        str(BIN / "ansible-playbook"),
        str(REPO / "playbooks" / "fig3_echo.yml"),
        "-e", f"results_root={results_root}",
        "-e", "hooks=socket,xdp",
        "-e", "fig3_echo_requests=20000000",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env=ansible_env(), start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert wait_for(lambda: processes_named("echo_server"), 240), "server never started"
        time.sleep(2)
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode != 0
    assert "interrupted" in output, output[-3000:]
    assert not processes_named("echo_server"), output[-3000:]
    assert not processes_named("echo_client"), output[-3000:]
    assert not xdp_attached()
    assert ECHO_PROGRAMS.isdisjoint(loaded_program_names())
    status = json.loads((results_root / "latest" / "fig3_echo" / "status.json").read_text())
    assert status["status"] == "partial", status
    run = json.loads((results_root / "latest" / "run.json").read_text())
    assert run["status"] == "partial", run
