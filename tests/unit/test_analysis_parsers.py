"""Parsers on captured tool output (fixtures) and on the paper's published raw files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis import parsers
from analysis.parsers import ParseError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "analysis"
PAPER_DATA = REPO.parent / "shared" / "paper-data"

needs_paper_data = pytest.mark.skipif(not PAPER_DATA.is_dir(), reason="paper-data not present")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def paper_file(relative: str) -> str:
    return (PAPER_DATA / relative).read_text(encoding="utf-8")


# --- samples -------------------------------------------------------------------------


def test_samples_with_header() -> None:
    values = parsers.parse_samples(fixture("samples_header.txt"))
    np.testing.assert_array_equal(values, [44332, 43730, 45094, 41684, 47140])


def test_parsers_read_a_path_as_the_file_it_names() -> None:
    path = FIXTURES / "samples_header.txt"
    np.testing.assert_array_equal(
        parsers.parse_samples(path), parsers.parse_samples(fixture(path.name))
    )
    assert parsers.parse_runner(FIXTURES / "runner_two_runs.txt").size == 2
    with pytest.raises(FileNotFoundError):
        parsers.parse_drop(FIXTURES / "no_such_file.txt")


def test_samples_without_header_skips_blank_lines() -> None:
    np.testing.assert_array_equal(
        parsers.parse_samples(fixture("samples_plain.txt")), [38479, 37953, 39134]
    )


def test_samples_header_mismatch_names_both_counts() -> None:
    with pytest.raises(ParseError, match=r"num samples: 6.*3 samples"):
        parsers.parse_samples(fixture("samples_truncated.txt"))


def test_samples_bad_token_names_its_line() -> None:
    with pytest.raises(ParseError, match=r"line 4: 'foo' is not a number"):
        parsers.parse_samples(fixture("samples_bad_token.txt"))


@pytest.mark.parametrize("text", ["", "num samples: 0\n", "\n\n"])
def test_samples_empty_is_an_error(text: str) -> None:
    with pytest.raises(ParseError, match="no samples"):
        parsers.parse_samples(text)


def test_samples_refuse_nan() -> None:
    with pytest.raises(ParseError, match="NaN"):
        parsers.parse_samples("1\nnan\n")


# --- iperf ---------------------------------------------------------------------------


def test_iperf_sum_line_of_each_appended_run() -> None:
    runs = parsers.parse_iperf(fixture("iperf_p4_two_runs.txt"))
    np.testing.assert_allclose(runs.gbps, [60.1, 2.77])
    assert runs.incomplete == 0


def test_iperf_single_stream_run_uses_its_final_report() -> None:
    np.testing.assert_allclose(parsers.parse_iperf(fixture("iperf_single_stream.txt")).gbps, [28.9])


def test_iperf_interval_reports_are_not_runs() -> None:
    # -i 1 -t 2: two interval [SUM] lines, then the total 0-2 s.
    np.testing.assert_allclose(parsers.parse_iperf(fixture("iperf_p2_interval.txt")).gbps, [71.3])


def test_iperf_mixed_styles_units_and_interrupted_run() -> None:
    runs = parsers.parse_iperf(fixture("iperf_mixed.txt"))
    # 7.24 Gbit/s (iperf 2.0 interval), 7140 Mbit/s, [SUM] without interval.
    np.testing.assert_allclose(runs.gbps, [7.24, 7.14, 6.22])
    assert runs.incomplete == 2  # two streams and one report; connected, no report


def test_iperf_without_reports_is_an_error() -> None:
    with pytest.raises(ParseError, match="no iperf bandwidth"):
        parsers.parse_iperf(fixture("mutilate_save.txt"))


# --- mutilate ------------------------------------------------------------------------


def test_mutilate_qps_and_read_row() -> None:
    runs = parsers.parse_mutilate(fixture("mutilate_two_runs.txt"))
    np.testing.assert_allclose(runs.qps, [118590.9, 126598.1])
    np.testing.assert_allclose(runs.read["p50"], [283.2, 251.6])
    np.testing.assert_allclose(runs.read["p99_9"], [590.4, 51304.2])
    assert list(runs.read)[:3] == ["avg", "std", "min"]


def test_mutilate_read_row_must_match_header() -> None:
    text = "#type avg std\nread 1.0 2.0 3.0\nTotal QPS = 5.0 (5 / 1.0s)\n"
    with pytest.raises(ParseError, match="line 2"):
        parsers.parse_mutilate(text)


def test_mutilate_read_row_must_be_numbers() -> None:
    text = "#type avg std\nread 1.0 x\nTotal QPS = 5.0 (5 / 1.0s)\n"
    with pytest.raises(ParseError, match="line 2: 'read' row: 'x' is not a number"):
        parsers.parse_mutilate(text)


def test_mutilate_save_latency_is_third_field() -> None:
    np.testing.assert_allclose(
        parsers.parse_mutilate_save(fixture("mutilate_save.txt")), [40.6, 39.9, 161.2, 41.0]
    )


def test_mutilate_save_bad_latency() -> None:
    with pytest.raises(ParseError, match="'x' is not a number"):
        parsers.parse_mutilate_save("11211 0.1 x\n")


@needs_paper_data
def test_mutilate_paper_files_have_40_runs() -> None:
    for name in ("socket", "bmc", "af_xdp", "af_xdp_bmc"):
        runs = parsers.parse_mutilate(paper_file(f"fig4_fig7_memcached_tput/{name}.txt"))
        assert runs.qps.size == 40
        assert runs.read["p50"].size == 40


@needs_paper_data
def test_mutilate_paper_foreground_flow_medians() -> None:
    folder = "fig5_fig6_memcached_two_flows"
    baseline = parsers.parse_mutilate(paper_file(f"{folder}/baseline/m2_result.txt"))
    offload = parsers.parse_mutilate(paper_file(f"{folder}/with_bpf_offload/m2_result.txt"))
    assert baseline.read["p50"][0] == 40.6
    assert offload.read["p50"][0] == 61.5


# --- dmesg, runner, drop --------------------------------------------------------------


def test_dmesg_values_per_hook_ignoring_other_lines() -> None:
    per_hook = parsers.parse_dmesg(fixture("dmesg_reach.txt"))
    assert list(per_hook) == ["TC", "SK_SKB"]
    np.testing.assert_array_equal(per_hook["TC"], [273, 270, 289])
    np.testing.assert_array_equal(per_hook["SK_SKB"], [1072, 1090])


def test_dmesg_without_reach_lines() -> None:
    with pytest.raises(ParseError, match="It takes"):
        parsers.parse_dmesg("[ 1.0] eth0: link up\n")


@needs_paper_data
def test_dmesg_paper_file() -> None:
    per_hook = parsers.parse_dmesg(paper_file("table1_time_to_reach/time_to_tc.txt"))
    assert list(per_hook) == ["TC"]
    assert per_hook["TC"].size == 10920


def test_runner_results() -> None:
    np.testing.assert_array_equal(
        parsers.parse_runner(fixture("runner_two_runs.txt")), [382453.0, 477612.0]
    )


@needs_paper_data
def test_runner_paper_files() -> None:
    counts = {
        name: parsers.parse_runner(paper_file(f"table3_map_access_time/{name}.txt")).size
        for name in ("array", "array_percpu", "hash_4b", "lru_4b", "on_stack")
    }
    assert counts == {
        "array": 100,
        "array_percpu": 100,
        "hash_4b": 100,
        "lru_4b": 350,
        "on_stack": 100,
    }


def test_drop_throughput_lines() -> None:
    np.testing.assert_array_equal(parsers.parse_drop(fixture("drop.txt")), [973576, 974833, 976874])


def test_drop_without_lines() -> None:
    with pytest.raises(ParseError, match="throughput"):
        parsers.parse_drop(fixture("dmesg_reach.txt"))


# --- perf stat and sweeps -------------------------------------------------------------


def test_flows_points_with_counters_and_unsupported_events() -> None:
    first, second = parsers.parse_flows(fixture("perf_flows_point.txt"))
    assert (first.parameter, first.value, first.tput_mpps) == ("flows", 100.0, 8.5)
    assert first.perf is not None
    assert first.perf.counters["L1-dcache-load-misses"] == 75_332_281
    assert first.perf.counters["l2_rqsts.demand_data_rd_miss"] == 632_271
    assert len(first.perf.counters) == 8
    assert first.perf.elapsed_s == pytest.approx(1.00239)
    assert (second.value, second.tput_mpps) == (5000.0, 8.1)
    assert second.perf is not None
    assert second.perf.unsupported == ("cycles", "L1-dcache-load-misses")
    assert second.perf.counters == {"cpu-clock": 1001.23}


def test_perfstat_without_counters() -> None:
    with pytest.raises(ParseError, match="perf stat"):
        parsers.parse_perfstat("tput: 8.5\n")


def test_flows_point_without_tput() -> None:
    with pytest.raises(ParseError, match="no 'tput:' line"):
        parsers.parse_flows("-- flows: 100\n   1,000  cycles\n")


@needs_paper_data
@pytest.mark.parametrize(
    ("relative", "parameter", "tput"),
    [
        ("fig11_map_footprint/array.txt", "flows", [13.8, 13.5, 13.4, 13.1, 12.3]),
        ("fig11_map_footprint/hash.txt", "flows", [8.5, 8.1, 7.7, 6.3, 5.9]),
        ("fig11_map_footprint/lru_hash.txt", "flows", [8.4, 8.3, 8.14, 6.7, 6.5]),
        ("fig12_map_access_pattern/hash.txt", "zipf", [5.5, 5.7, 7.5, 9.5, 9.8]),
        ("fig12_map_access_pattern/baseline.txt", "zipf", [14.7]),
    ],
)
def test_flows_paper_files(relative: str, parameter: str, tput: list[float]) -> None:
    points = parsers.parse_flows(paper_file(relative))
    assert [p.parameter for p in points] == [parameter] * len(tput)
    assert [p.tput_mpps for p in points] == tput
    assert all(p.perf is not None and "L1-dcache-load-misses" in p.perf.counters for p in points)
