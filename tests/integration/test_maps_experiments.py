"""Table 3, Figures 11 and 12 end to end on the local testbed, at quick scale and
smaller still: status, raw files per point, and one measured property each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import loaded_program_names, netns, run_playbook, runner_output

from analysis import parsers, stats
from analysis.experiments import fig11_map_footprint as sweep

#: Where the testbed records its daemons, and the sweep the NAPI mode it changed.
DAEMONS = Path("/run/ebpf-testbed/daemons")
NAPI_RECORD = Path("/run/ebpf-testbed/map_traffic_napi_threaded")


@pytest.fixture(scope="module")
def results_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("maps-results")


def experiment(results_root: Path, name: str) -> Path:
    exp = results_root / "latest" / name
    status = json.loads((exp / "status.json").read_text())
    assert status["status"] == "complete", status
    return exp


def claim_ids(results_root: Path, name: str) -> set[str]:
    summary = json.loads((results_root / "latest" / "report" / "summary.json").read_text())
    return {claim["id"] for claim in summary["experiments"][name]["claims"]}


def test_table3_array_is_faster_than_hash(tmp_path: Path, results_root: Path) -> None:
    runs = 6
    result = run_playbook(
        "table3_map_access.yml",
        tmp_path,
        {
            "results_root": str(results_root),
            "table3_map_access_maps": "stack,array,hash",
            "table3_map_access_key_sizes": "4,16",
            "table3_map_access_runs": runs,
            "table3_map_access_rounds": 2,
        },
    )
    assert result.rc == 0, runner_output(result)
    exp = experiment(results_root, "table3_map_access")
    medians = {}
    for point in ("stack_k4", "array_k4", "hash_k4", "hash_k16"):
        runner = exp / "raw" / point / "runner.txt"
        values = parsers.parse_runner(runner)
        assert values.size == runs, f"{point}: {values.size} runs"
        medians[point] = stats.summarize(values)["p50"]
    assert medians["array_k4"] < medians["hash_k4"], medians
    assert "table3.array_faster_than_hash" in claim_ids(results_root, "table3_map_access")
    assert "xdp_map_access" not in loaded_program_names()


def check_sweep(exp: Path, points: list[str]) -> None:
    """Every point has reads of flow_stats with packets counted on the DUT in every
    window, and cache counters or the reason why there are none."""
    global_perf = exp / "raw" / "perf.txt"
    for point in points:
        folder = exp / "raw" / point
        record = json.loads((folder / "flow_stats.json").read_text())
        rates, mpps = sweep.window_rates(record["reads"])
        assert rates.size >= 1 and (rates > 0).all() and mpps > 0, f"{point}: {rates}"
        perf = folder / "perf.txt"
        if perf.exists():
            assert sweep.parse_perf_intervals(perf.read_text())[0], f"{point}: no counters"
        else:
            assert global_perf.read_text().startswith("unsupported: "), point
    groups = {point.split("/")[0] for point in points}
    for group in groups:
        assert "sent:" in (exp / "raw" / group / "udp_flood.txt").read_text(), group


def check_left_nothing() -> None:
    """Generator stopped, program detached, the veth's NAPI mode put back (other
    users of the machine may run their own udp_flood: only ours is checked)."""
    assert not list(DAEMONS.glob("map_traffic_*")), "a daemon of the sweep is still recorded"
    link = netns("dut", "ip", "-j", "link", "show", "dev", "veth-dut")
    assert '"xdp"' not in link.stdout, "a program is still attached to veth-dut"
    assert not NAPI_RECORD.exists()
    threaded = netns("dut", "cat", "/sys/class/net/veth-dut/threaded")
    assert threaded.stdout.strip() == "0", threaded


def test_fig11_counts_packets_on_the_dut(tmp_path: Path, results_root: Path) -> None:
    result = run_playbook(
        "fig11_map_footprint.yml",
        tmp_path,
        {
            "results_root": str(results_root),
            "fig11_map_footprint_flows": "100,10000",
            "fig11_map_footprint_maps": "array,hash",
            "map_traffic_warmup_s": 0,
        },
    )
    assert result.rc == 0, runner_output(result)
    exp = experiment(results_root, "fig11_map_footprint")
    check_sweep(exp, [f"flows_{f}/{m}" for f in (100, 10000) for m in ("array", "hash", "none")])
    entries = json.loads((exp / "raw" / "flows_100" / "hash" / "flow_stats.json").read_text())
    assert entries["entries"] == 112  # ceil(100 / 0.9)
    assert claim_ids(results_root, "fig11_map_footprint") == {
        "fig11.throughput_falls_with_flows",
        "fig11.l1_misses_rise",
    }
    check_left_nothing()


def test_fig12_counts_packets_on_the_dut(tmp_path: Path, results_root: Path) -> None:
    result = run_playbook(
        "fig12_map_pattern.yml",
        tmp_path,
        {
            "results_root": str(results_root),
            "fig12_map_pattern_zipf": "0,1.5",
            "fig12_map_pattern_maps": "lru_hash",
            "fig12_map_pattern_flows": 20000,
            "map_traffic_warmup_s": 0,
        },
    )
    assert result.rc == 0, runner_output(result)
    exp = experiment(results_root, "fig12_map_pattern")
    check_sweep(exp, [f"zipf_{s}/{m}" for s in ("0", "1.5") for m in ("lru_hash", "none")])
    assert claim_ids(results_root, "fig12_map_pattern") == {"fig12.skew_raises_throughput"}
    check_left_nothing()


def test_bad_sweep_fails_in_preflight(tmp_path: Path, results_root: Path) -> None:
    result = run_playbook(
        "fig11_map_footprint.yml",
        tmp_path,
        {"results_root": str(results_root), "fig11_map_footprint_maps": "array,btree"},
    )
    assert result.rc != 0
    assert "fig11_map_footprint_maps=array,btree (choose among" in runner_output(result)
