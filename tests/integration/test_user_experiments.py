"""Table 4 and Figure 13 end to end on the local testbed, at quick scale made smaller.

Each playbook runs through ansible-runner; the tests check the status, the raw
files, one measured property that a broken tool or program would fail, and that
nothing the experiments attached or started is left behind.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import netns, processes_named, run_playbook, runner_output

from analysis import parsers, stats
from analysis.experiments import fig13_user_channels as fig13

REPETITIONS = 2
CHANNELS = ("array", "ringbuf", "mmap_ring", "af_xdp")


@pytest.fixture(scope="module")
def results_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("results")


def xdp_on_dut_interface() -> bool:
    link = netns("dut", "ip", "-j", "link", "show", "dev", "veth-dut")
    assert link.returncode == 0, link.stderr
    return "xdp" in json.loads(link.stdout)[0]


def processes_in_testbed(name: str) -> list[str]:
    """Processes called ``name`` in the testbed's namespaces (other tests on this
    machine may run the same tools in namespaces of their own)."""
    pids = set()
    for namespace in ("dut", "loadgen"):
        listed = subprocess.run(
            ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
        )
        pids |= set(listed.stdout.split())
    return [line for line in processes_named(name) if line.split()[0] in pids]


def assert_nothing_left() -> None:
    assert not xdp_on_dut_interface(), "an XDP program is still attached to veth-dut"
    for tool in ("user_access", "channel_bench", "udp_flood"):
        assert not processes_in_testbed(tool), f"{tool} still runs"


def test_table4_quick(tmp_path: Path, results_root: Path) -> None:
    result = run_playbook(
        "table4_user_access.yml",
        tmp_path,
        {
            "results_root": str(results_root),
            "table4_user_access_repetitions": REPETITIONS,
            "table4_user_access_ops": 20000,
        },
    )
    assert result.rc == 0, runner_output(result)
    exp = results_root / "latest" / "table4_user_access"
    status = json.loads((exp / "status.json").read_text())
    assert status["status"] == "complete", status
    runs: dict[str, list[float]] = {}
    for rep in range(1, REPETITIONS + 1):
        for name in ("user_access.txt", "user_access_af_xdp.txt"):
            output = parsers.parse_user_access(exp / "raw" / f"rep{rep}" / name)
            for collection, values in output.ns.items():
                runs.setdefault(collection, []).extend(values)
            assert not output.unsupported, output.unsupported
        assert "possible CPUs" in (exp / "raw" / f"rep{rep}" / "user_access.stderr").read_text()
    medians = {name: stats.median(values) for name, values in runs.items()}
    assert len(runs["af_xdp_rx"]) == REPETITIONS, runs
    assert medians["ringbuf"] < medians["array"], medians
    assert medians["mmap_array"] < medians["array"], medians
    summary = json.loads((results_root / "latest" / "report" / "summary.json").read_text())
    claims = {c["id"] for c in summary["experiments"]["table4_user_access"]["claims"]}
    assert claims == {"table4.ring_beats_syscalls", "table4.percpu_costs_more"}
    assert_nothing_left()


def test_fig13_quick(tmp_path: Path, results_root: Path) -> None:
    result = run_playbook(
        "fig13_user_channels.yml",
        tmp_path,
        {"results_root": str(results_root), "fig13_user_channels_duration": 3},
    )
    assert result.rc == 0, runner_output(result)
    exp = results_root / "latest" / "fig13_user_channels"
    status = json.loads((exp / "status.json").read_text())
    assert status["status"] == "complete", status
    for channel in CHANNELS:
        traffic = exp / "raw" / "traffic" / channel
        bench = parsers.parse_channel_bench(traffic / "channel_bench.log")
        assert bench.total is not None, f"{channel}: the consumer printed no totals"
        assert parsers.parse_udp_flood(traffic / "udp_flood.txt").packets > 0
        assert fig13.window(bench.pps).size >= 1, f"{channel}: {bench.pps}"
        testrun = exp / "raw" / "testrun" / channel / "channel_bench.txt"
        assert parsers.parse_channel_bench(testrun).total, f"{channel}: testrun took nothing"
    summary = json.loads((results_root / "latest" / "report" / "summary.json").read_text())
    table = summary["experiments"]["fig13_user_channels"]["table"]
    mpps = {(row["source"], row["channel"]): row["mpps"] for row in table}
    assert len(mpps) == 2 * len(CHANNELS), mpps
    assert all(value is not None and value > 0 for value in mpps.values()), mpps
    assert_nothing_left()
