"""Table 1, Table 2 and Figure 10 end to end on the local testbed, smaller than quick.

Each playbook runs through ansible-runner; the tests check the status, the raw
files, one measured property that a broken tool or program would fail, and that
nothing the experiments attached or started is left behind. A last test gives the
playbooks an unknown hook and a wrong interface: they must stop in their preflight,
before anything changes, naming the variable.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import netns, processes_named, run_playbook, runner_output

from analysis import parsers, stats
from analysis.experiments import table1_hook_cost as table1

TOOLS = ("reach_server", "hook_timer", "udp_flood", "drop_server", "iperf")


@pytest.fixture(scope="module")
def results_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("results")


def processes_in_testbed(name: str) -> list[str]:
    """Processes called ``name`` in the testbed's namespaces."""
    pids = set()
    for namespace in ("dut", "loadgen"):
        listed = subprocess.run(
            ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
        )
        pids |= set(listed.stdout.split())
    return [line for line in processes_named(name) if line.split()[0] in pids]


def assert_nothing_left() -> None:
    link = netns("dut", "ip", "-j", "link", "show", "dev", "veth-dut")
    assert link.returncode == 0, link.stderr
    assert "xdp" not in json.loads(link.stdout)[0], "an XDP program is still attached to veth-dut"
    filters = netns("dut", "tc", "filter", "show", "dev", "veth-dut", "ingress")
    assert "bpf" not in filters.stdout, f"a TC program is still attached: {filters.stdout}"
    state = Path("/run/ebpf-testbed/state")
    leftovers = [p.name for p in state.glob("*.json") if p.name != "testbed_napi.json"]
    assert not leftovers, f"attachments still recorded: {leftovers}"
    assert not Path("/run/ebpf-testbed/cgroup2/table2_iperf").exists(), "the cgroup is left"
    for tool in TOOLS:
        assert not processes_in_testbed(tool), f"{tool} still runs"


def experiment(results_root: Path, name: str) -> Path:
    exp = results_root / "latest" / name
    status = json.loads((exp / "status.json").read_text())
    assert status["status"] == "complete", status
    return exp


def claims(results_root: Path, name: str) -> dict[str, str]:
    summary = json.loads((results_root / "latest" / "report" / "summary.json").read_text())
    return {c["id"]: c["verdict"] for c in summary["experiments"][name]["claims"]}


def test_table1_quick(tmp_path: Path, results_root: Path) -> None:
    result = run_playbook(
        "table1_hook_cost.yml",
        tmp_path,
        {
            "results_root": str(results_root),
            "table1_hook_cost_reach_samples": 500,
            "table1_hook_cost_prep_samples": 1000,
            "table1_hook_cost_rounds": 1,
        },
    )
    assert result.rc == 0, runner_output(result)
    exp = experiment(results_root, "table1_hook_cost")
    params = json.loads((exp / "params.json").read_text())
    assert params["method"] in ("stamp", "fentry") and params["probe"].startswith("fentry: ")
    host = json.loads((exp / "hosts" / "local-dut.json").read_text())
    assert host["method"].startswith(params["method"])
    reach = {
        run: table1.parse_lines(exp / "raw" / run / "samples.txt")
        for run in ("reach_tc", "reach_sk_skb", "reach_socket")
    }
    tc = reach["reach_tc"][("reach", "tc")]
    socket = reach["reach_socket"][("reach", "socket")]
    assert stats.median(tc) > 0 and stats.median(socket) > 0
    assert stats.median(tc) < stats.median(socket), (stats.median(tc), stats.median(socket))
    assert ("run", "sk_skb") in reach["reach_sk_skb"]
    programs = json.loads((exp / "raw" / "prep_stats" / "programs.json").read_text())
    assert all(p["run_cnt"] > 0 for p in programs.values()), programs
    assert set(claims(results_root, "table1_hook_cost")) == {
        "table1.reach_order",
        "table1.sk_skb_prep_order_of_magnitude",
    }
    assert_nothing_left()


def test_table2_quick(tmp_path: Path, results_root: Path) -> None:
    result = run_playbook(
        "table2_iperf.yml",
        tmp_path,
        {
            "results_root": str(results_root),
            "table2_iperf_streams": 4,
            "table2_iperf_seconds": 1,
            "table2_iperf_repetitions": 2,
        },
    )
    assert result.rc == 0, runner_output(result)
    exp = experiment(results_root, "table2_iperf")
    for hook in ("none", "xdp", "tc", "sk_skb"):
        runs = sorted((exp / "raw" / hook).glob("iperf_*.txt"))
        assert len(runs) == 2, (hook, runs)
        for path in runs:
            gbps = parsers.parse_iperf(path).gbps
            assert gbps.size == 1 and gbps[0] > 0, (path, gbps)
    inserted = json.loads((exp / "raw" / "sk_skb" / "sockmap.json").read_text())
    assert inserted["inserted"] >= inserted["expected_at_least"], inserted
    assert "table2.sk_skb_costs_most" in claims(results_root, "table2_iperf")
    assert_nothing_left()


def test_fig10_quick(tmp_path: Path, results_root: Path) -> None:
    reductions = (0, 50, 90)
    result = run_playbook(
        "fig10_truncate.yml",
        tmp_path,
        {
            "results_root": str(results_root),
            "fig10_truncate_reductions": ",".join(map(str, reductions)),
            "fig10_truncate_seconds": 3,
        },
    )
    assert result.rc == 0, runner_output(result)
    exp = experiment(results_root, "fig10_truncate")
    for reduction in reductions:
        folder = exp / "raw" / f"reduction_{reduction}"
        per_second = parsers.parse_drop(folder / "server.log")
        assert per_second.max() > 0, (reduction, per_second)
        keep = json.loads((folder / "size_map.json").read_text())["keep_bytes"]
        total = (folder / "server.log").read_text().split("total: ")[1].split()
        packets, payload = int(total[0]), int(total[2])
        assert payload == packets * keep, (reduction, packets, payload, keep)
    assert "fig10.small_gain" in claims(results_root, "fig10_truncate")
    assert_nothing_left()


@pytest.mark.parametrize(
    ("playbook", "extra", "variable"),
    [
        ("table2_iperf.yml", {"hooks": "none,bogus"}, "table2_iperf_hooks=none,bogus"),
        ("table1_hook_cost.yml", {"table1_hook_cost_method": "magic"}, "table1_hook_cost_method"),
        ("fig10_truncate.yml", {"fig10_truncate_reductions": "0,120"}, "fig10_truncate_reductions"),
        ("fig10_truncate.yml", {"testbed_exp_ifname": "veth-nope"}, "testbed_exp_ifname=veth-nope"),
    ],
)
def test_preflight_stops_before_anything_changes(
    tmp_path: Path, playbook: str, extra: dict[str, str], variable: str
) -> None:
    root = tmp_path / "results"
    if "testbed_exp_ifname" in extra:
        # Only a running testbed has names to compare with; a missing one is built
        # with whatever names the inventory gives.
        up = run_playbook("testbed_up.yml", tmp_path / "up")
        assert up.rc == 0, runner_output(up)
    before = sorted(Path("/run/ebpf-testbed/state").glob("*.json"))
    result = run_playbook(playbook, tmp_path / "runner", {"results_root": str(root), **extra})
    output = result.stdout.read()
    assert "unable to load" not in output, "the testbed_guard callback did not load"
    assert result.rc != 0, output[-3000:]
    assert variable in output, output[-3000:]
    assert "Prepare the hosts" not in output  # prepare.yml never started
    assert not root.exists() or not any(root.iterdir()), "a results folder was created"
    assert sorted(Path("/run/ebpf-testbed/state").glob("*.json")) == before
