"""The paper's own raw data, run through our parsers and statistics, against the
numbers the paper prints. Where a file does not give the printed number, the test
pins what the file gives and docs/analysis.md explains the difference."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import paper, parsers
from analysis.stats import summarize

REPO = Path(__file__).resolve().parents[2]
PAPER_DATA = REPO.parent / "shared" / "paper-data"

pytestmark = pytest.mark.skipif(not PAPER_DATA.is_dir(), reason="paper-data not present")

#: The paper prints one decimal; it truncates as often as it rounds (see
#: docs/analysis.md), so a value is reproduced when it is less than one unit of the
#: last printed digit away.
ONE_DECIMAL = 0.1


def read(relative: str) -> str:
    return (PAPER_DATA / relative).read_text(encoding="utf-8")


def ns_per_access(name: str) -> dict[str, float | int]:
    """Table 3: the runner's result is the duration of 100K lookups."""
    runs = parsers.parse_runner(read(f"table3_map_access_time/{name}.txt"))
    return summarize(runs / paper.TABLE3_LOOKUPS_PER_RUN)


@pytest.mark.parametrize(
    ("file", "collection", "median_ns", "range_ns"),
    [("array", "array", 3.93427, 0.84185), ("hash_4b", "hash", 18.86756, 1.20974)],
)
def test_table3_median_and_range(
    file: str, collection: str, median_ns: float, range_ns: float
) -> None:
    summary = ns_per_access(file)
    assert summary["n"] == paper.TABLE3_RUNS
    assert summary["p50"] == pytest.approx(median_ns, abs=1e-9)
    assert summary["range"] == pytest.approx(range_ns, abs=1e-9)
    assert abs(summary["p50"] - paper.TABLE3_MEDIAN_NS[collection]) < ONE_DECIMAL
    assert abs(summary["range"] - paper.TABLE3_RANGE_NS[collection]) < ONE_DECIMAL


def test_table3_lru_whole_file() -> None:
    # 350 runs in the file (the paper says 100): the median matches 19.2, the range
    # is 1.1 and not the printed 1.4.
    summary = ns_per_access("lru_4b")
    assert summary["n"] == 350
    assert abs(summary["p50"] - paper.TABLE3_MEDIAN_NS["lru_hash"]) < ONE_DECIMAL
    assert summary["range"] == pytest.approx(1.1443, abs=1e-4)


def test_table3_lru_printed_value_is_a_100_run_window() -> None:
    # Runs 51-150 of the file give the printed 19.2 ± 1.4 (and so do most windows
    # starting between runs 45 and 64), which is where we think it came from.
    runs = parsers.parse_runner(read("table3_map_access_time/lru_4b.txt"))
    summary = summarize(runs[50:150] / paper.TABLE3_LOOKUPS_PER_RUN)
    assert summary["p50"] == pytest.approx(19.198, abs=1e-3)
    assert summary["range"] == pytest.approx(1.402, abs=1e-3)


@pytest.mark.parametrize(
    ("file", "key"), [("array_percpu", "percpu_array"), ("on_stack", "on_stack")]
)
def test_table3_other_collections(file: str, key: str) -> None:
    assert ns_per_access(file)["p50"] == pytest.approx(paper.TABLE3_OTHER_MEDIAN_NS[key], abs=0.005)


def test_table1_time_to_reach_tc() -> None:
    values = parsers.parse_dmesg(read("table1_time_to_reach/time_to_tc.txt"))["TC"]
    summary = summarize(values)
    # The median is 274 (5454 of 10920 samples are <= 273: it sits on the boundary),
    # 1 ns from the printed 273. The IQR of this file is 22, not the printed 51.
    assert summary["p50"] == 274.0
    assert abs(summary["p50"] - paper.TABLE1_REACH_MEDIAN_NS["tc"]) <= 1
    assert summary["iqr"] == 22.0
    assert summary["range"] == 53.0


@pytest.mark.parametrize(
    ("file", "key", "reference_krps", "tolerance_krps"),
    [
        ("socket", "socket", paper.FIG4_THROUGHPUT_KRPS["socket"], ONE_DECIMAL),
        ("bmc", "bmc", paper.FIG4_THROUGHPUT_KRPS["bmc"], 1.0),
        ("af_xdp", "af_xdp", paper.FIG7_THROUGHPUT_KRPS["af_xdp"], 1.0),
        ("af_xdp_bmc", "af_xdp_bmc", paper.FIG7_THROUGHPUT_KRPS["af_xdp_bmc"], 1.0),
    ],
)
def test_memcached_throughput_medians(
    file: str, key: str, reference_krps: float, tolerance_krps: float
) -> None:
    runs = parsers.parse_mutilate(read(f"fig4_fig7_memcached_tput/{file}.txt"))
    median_krps = summarize(runs.qps / 1e3)["p50"]
    assert abs(median_krps - reference_krps) < tolerance_krps, key


def test_fig4_bmc_claims() -> None:
    socket = parsers.parse_mutilate(read("fig4_fig7_memcached_tput/socket.txt")).qps
    bmc = parsers.parse_mutilate(read("fig4_fig7_memcached_tput/bmc.txt")).qps
    assert summarize(bmc)["p50"] / summarize(socket)["p50"] > paper.FIG4_BMC_MIN_SPEEDUP
    low, high = paper.FIG4_BMC_SPAN_KRPS
    assert low <= bmc.min() / 1e3 < bmc.max() / 1e3 <= high + 1


def test_fig6_foreground_median_increase() -> None:
    folder = "fig5_fig6_memcached_two_flows"
    before = parsers.parse_mutilate(read(f"{folder}/baseline/m2_result.txt")).read["p50"][0]
    after = parsers.parse_mutilate(read(f"{folder}/with_bpf_offload/m2_result.txt")).read["p50"][0]
    assert (before, after) == (
        paper.FIG6_FOREGROUND_MEDIAN_US["baseline"],
        paper.FIG6_FOREGROUND_MEDIAN_US["bmc"],
    )
    assert after - before == pytest.approx(paper.FIG6_MEDIAN_INCREASE_US, abs=0.05)
    assert int((after / before - 1) * 100) == paper.FIG6_MEDIAN_INCREASE_PCT


@pytest.mark.parametrize("collection", ["array", "hash", "lru_hash"])
def test_fig11_throughput_and_drop(collection: str) -> None:
    points = parsers.parse_flows(read(f"fig11_map_footprint/{collection}.txt"))
    tput = [p.tput_mpps for p in points]
    assert [p.value for p in points] == list(paper.FIG11_FLOWS)
    assert all(
        abs(ours - ref) < ONE_DECIMAL
        for ours, ref in zip(tput, paper.FIG11_THROUGHPUT_MPPS[collection], strict=True)
    )
    drop_pct = (tput[0] - tput[-1]) / tput[0] * 100
    assert abs(drop_pct - paper.FIG11_DROP_PCT[collection]) < ONE_DECIMAL


@pytest.mark.parametrize("collection", ["array", "hash", "lru_hash"])
def test_fig12_throughput(collection: str) -> None:
    points = parsers.parse_flows(read(f"fig12_map_access_pattern/{collection}.txt"))
    assert [p.value for p in points] == list(paper.FIG12_ZIPF_S)
    assert tuple(p.tput_mpps for p in points) == paper.FIG12_THROUGHPUT_MPPS[collection]
