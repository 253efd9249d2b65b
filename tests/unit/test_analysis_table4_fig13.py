"""Table 4 and Figure 13: parsers of user_access / channel_bench / udp_flood, the
analysis modules on synthetic results folders and on the paper's own numbers."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from analysis import paper, parsers
from analysis.experiments import fig13_user_channels as fig13
from analysis.experiments import table4_user_access as table4
from analysis.parsers import ParseError
from analysis.results import RunInfo

# Captured on the local testbed (user_access --ops 100000 --cpu 1, two invocations).
USER_ACCESS_MAPS = """\
access array: 783.9 ns
access hash: 810.2 ns
access lru_hash: 810.6 ns
access percpu_array: 789.8 ns
access percpu_hash: 599.4 ns
access percpu_lru_hash: 751.1 ns
access ringbuf: 13.9 ns
access mmap_array: 1.3 ns
"""
USER_ACCESS_MAPS_STDERR = "user_access: 2 possible CPUs, 100000 operations per collection\n"
USER_ACCESS_XSK = "access af_xdp_rx: 37.9 ns\n"
USER_ACCESS_XSK_STDERR = (
    "user_access: 2 possible CPUs, 100000 operations per collection\n"
    "user_access: af_xdp_rx: copy mode, 4096-frame rounds, testrun fill\n"
)
# Captured: channel_bench --channel array --source testrun (stdout, then stderr).
BENCH_TESTRUN = """\
throughput: 345778 (pps)
throughput: 310520 (pps)
throughput: 338758 (pps)
throughput: 342252 (pps)
throughput: 369086 (pps)
total: 1706439 payloads in 5.000 s (341286 pps)
queued: 1710535
dropped: 7267897
"""
BENCH_TESTRUN_STDERR = (
    "channel_bench: array on veth-dut queue 0, UDP port 8080, 4096 slots, busy wait, "
    "BPF_PROG_TEST_RUN producer\n"
    "channel_bench: testrun source offered 8978432 frames\n"
)

LOCAL = RunInfo(Path("."), {"testbed": "local"})


# --- parsers ----------------------------------------------------------------------------


def test_user_access_parses_times_and_unsupported_rows() -> None:
    text = USER_ACCESS_MAPS + "access af_xdp_rx: unsupported here: cannot bind an AF_XDP socket\n"
    result = parsers.parse_user_access(text)
    assert result.ns["array"].tolist() == [783.9]
    assert result.ns["mmap_array"].tolist() == [1.3]
    assert "af_xdp_rx" not in result.ns
    assert result.unsupported == {"af_xdp_rx": "cannot bind an AF_XDP socket"}


def test_user_access_keeps_every_run_of_an_appended_file_and_ignores_notes() -> None:
    text = USER_ACCESS_MAPS_STDERR + USER_ACCESS_MAPS + USER_ACCESS_MAPS.replace("783.9", "700")
    assert parsers.parse_user_access(text).ns["array"].tolist() == [783.9, 700.0]


def test_user_access_names_a_broken_line() -> None:
    with pytest.raises(ParseError, match=r"line 2: 'access hash: fast'"):
        parsers.parse_user_access("access array: 5.0 ns\naccess hash: fast\n")


def test_user_access_refuses_other_output() -> None:
    with pytest.raises(ParseError, match="no 'access"):
        parsers.parse_user_access("throughput: 5 (pps)\n")


def test_channel_bench_reads_seconds_totals_and_offered_frames() -> None:
    bench = parsers.parse_channel_bench(BENCH_TESTRUN + BENCH_TESTRUN_STDERR)
    assert bench.pps.tolist() == [345778, 310520, 338758, 342252, 369086]
    assert (bench.total, bench.elapsed_s) == (1706439, 5.0)
    assert (bench.queued, bench.dropped, bench.offered) == (1710535, 7267897, 8978432)


def test_channel_bench_cut_short_has_seconds_but_no_totals() -> None:
    bench = parsers.parse_channel_bench("throughput: 10 (pps)\nthroughput: 12 (pps)\n")
    assert bench.pps.size == 2
    assert bench.total is None and bench.dropped is None and bench.offered is None


def test_udp_flood_summary() -> None:
    report = parsers.parse_udp_flood("sent: 2500000 packets in 5.000 s (500000 pps)\n")
    assert (report.packets, report.seconds, report.pps) == (2500000, 5.0, 500000.0)
    with pytest.raises(ParseError):
        parsers.parse_udp_flood("throughput: 5 (pps)\n")


# --- Table 4 ----------------------------------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def table4_dir(
    tmp_path: Path, reps: list[dict[str, float | str]], cpus: int = 2, status: str = "complete"
) -> Path:
    """A results folder of Table 4 with one user_access output per repetition."""
    exp = tmp_path / "table4_user_access"
    names = list(reps[0]) if reps else list(table4.COLLECTIONS)
    write(exp / "params.json", json.dumps({"collections": names, "ops": 100000}))
    write(exp / "status.json", json.dumps({"status": status}))
    for k, values in enumerate(reps, start=1):
        lines = [
            f"access {name}: unsupported here: {v}"
            if isinstance(v, str)
            else f"access {name}: {v} ns"
            for name, v in values.items()
        ]
        write(exp / "raw" / f"rep{k}" / "user_access.txt", "\n".join(lines) + "\n")
        write(
            exp / "raw" / f"rep{k}" / "user_access.stderr",
            f"user_access: {cpus} possible CPUs, 100000 operations per collection\n",
        )
    return exp


PAPER_TABLE4 = {c: float(table4.paper_ns(c) or 0) for c in table4.COLLECTIONS}


def claims_of(report) -> dict[str, str]:
    return {claim.id: claim.verdict for claim in report.claims}


def test_table4_on_the_papers_numbers_both_claims_hold(tmp_path: Path) -> None:
    report = table4.analyse(table4_dir(tmp_path, [PAPER_TABLE4] * 3, cpus=48), LOCAL)
    assert claims_of(report) == {
        "table4.ring_beats_syscalls": "holds",
        "table4.percpu_costs_more": "holds",
    }
    ring = report.claims[0]
    assert ring.measured == ring.paper
    assert "48x" in ring.paper
    row = report.table[0]
    assert row == {
        "collection": "array",
        "n": 3,
        "median_ns": 485.0,
        "range_ns": 0.0,
        "paper_ns": 485,
        "note": "",
    }


def test_table4_from_captured_local_runs(tmp_path: Path) -> None:
    exp = tmp_path / "table4_user_access"
    write(exp / "params.json", json.dumps({"collections": list(table4.COLLECTIONS)}))
    write(exp / "status.json", json.dumps({"status": "complete"}))
    for k in (1, 2, 3):
        write(exp / "raw" / f"rep{k}" / "user_access.txt", USER_ACCESS_MAPS)
        write(exp / "raw" / f"rep{k}" / "user_access.stderr", USER_ACCESS_MAPS_STDERR)
        write(exp / "raw" / f"rep{k}" / "user_access_af_xdp.txt", USER_ACCESS_XSK)
        write(exp / "raw" / f"rep{k}" / "user_access_af_xdp.stderr", USER_ACCESS_XSK_STDERR)
    report = table4.analyse(exp, LOCAL)
    assert report.status == "complete"
    rows = {row["collection"]: row for row in report.table}
    assert rows["af_xdp_rx"]["median_ns"] == 37.9
    assert rows["ringbuf"]["paper_ns"] == 10
    verdicts = claims_of(report)
    assert verdicts["table4.ring_beats_syscalls"] == "holds"
    # 2 possible CPUs: per-CPU rows cost as much as plain ones, which says nothing.
    assert verdicts["table4.percpu_costs_more"] == "inconclusive"
    assert "2 possible CPUs" in report.claims[1].measured
    assert any("one value per possible CPU" in note for note in report.notes)


def test_table4_percpu_gap_missing_on_a_big_host_fails(tmp_path: Path) -> None:
    flat = dict(PAPER_TABLE4, percpu_array=485.0, percpu_hash=495.0, percpu_lru_hash=495.0)
    report = table4.analyse(table4_dir(tmp_path, [flat], cpus=48), LOCAL)
    assert claims_of(report)["table4.percpu_costs_more"] == "fails"


def test_table4_rings_close_to_syscalls_fail(tmp_path: Path) -> None:
    slow = dict(PAPER_TABLE4, ringbuf=100.0)
    report = table4.analyse(table4_dir(tmp_path, [slow]), LOCAL)
    assert claims_of(report)["table4.ring_beats_syscalls"] == "fails"


def test_table4_subset_compares_the_rows_it_has(tmp_path: Path) -> None:
    subset = {"array": 845.0, "ringbuf": 12.9, "af_xdp_rx": 15.5}
    report = table4.analyse(table4_dir(tmp_path, [subset]), LOCAL)
    assert [row["collection"] for row in report.table] == ["array", "ringbuf", "af_xdp_rx"]
    ring, percpu = report.claims
    assert ring.verdict == "holds"
    assert ring.measured == "cheapest syscall: Array 845 ns; Ring queue 12.9 ns: 66x"
    assert percpu.verdict == "inconclusive"


def test_table4_median_and_range_over_repetitions(tmp_path: Path) -> None:
    reps = [dict(PAPER_TABLE4, array=v) for v in (500.0, 400.0, 600.0, 450.0, 550.0)]
    row = table4.analyse(table4_dir(tmp_path, reps), LOCAL).table[0]
    assert (row["n"], row["median_ns"], row["range_ns"]) == (5, 500.0, 100.0)


def test_table4_unsupported_row_is_shown_as_such(tmp_path: Path) -> None:
    values: dict[str, float | str] = dict(PAPER_TABLE4)
    values["af_xdp_rx"] = "cannot bind an AF_XDP socket to eth1 queue 0"
    report = table4.analyse(table4_dir(tmp_path, [values]), LOCAL)
    row = report.table[-1]
    assert row["median_ns"] is None and row["n"] == 0
    assert row["note"] == "unsupported here: cannot bind an AF_XDP socket to eth1 queue 0"
    assert report.status == "complete", "an unsupported row is an answer, not missing data"
    fig = table4.figure(report, LOCAL)
    assert fig is not None
    assert "unsupported here" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)


def test_table4_missing_data_is_reported_not_raised(tmp_path: Path) -> None:
    exp = tmp_path / "table4_user_access"
    write(exp / "params.json", json.dumps({"collections": ["array", "ringbuf"]}))
    write(exp / "status.json", json.dumps({"status": "partial", "reason": "killed"}))
    write(exp / "raw" / "rep1" / "user_access.txt", "garbage\n")
    report = table4.analyse(exp, LOCAL)
    assert report.status == "partial"
    assert set(claims_of(report).values()) == {"inconclusive"}
    assert any("rep1/user_access.txt not usable" in note for note in report.notes)
    assert table4.figure(report, LOCAL) is None


def test_table4_figure_is_drawn(tmp_path: Path) -> None:
    report = table4.analyse(table4_dir(tmp_path, [PAPER_TABLE4] * 2), LOCAL)
    fig = table4.figure(report, LOCAL)
    assert fig is not None
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert "local testbed (veth)" in ax.get_title()
    plt.close(fig)


# --- Figure 13 --------------------------------------------------------------------------


def test_window_leaves_out_idle_and_partial_seconds() -> None:
    pps = np.array([0, 0, 120, 500, 510, 490, 300, 0, 0])
    assert fig13.window(pps).tolist() == [500, 510, 490]
    assert fig13.window(np.array([0, 0])).size == 0
    assert fig13.window(np.array([7, 8])).size == 0


def dropped_per_second(mpps: float, offered: float) -> int:
    """Drops of a channel taking ``mpps`` of ``offered``: a full channel drops the
    rest, one that keeps up (within 5%: the source's rate wavers) drops nothing."""
    return 0 if mpps >= 0.95 * offered else int((offered - mpps) * 1e6)


def point(channel: str, mpps: float, offered: float) -> fig13.Point:
    dropped = 5 * dropped_per_second(mpps, offered)
    return fig13.Point(channel, "traffic", mpps, 5, offered, dropped, int(5 * mpps * 1e6))


def test_source_bound_from_the_drop_count_or_else_from_the_rates() -> None:
    assert point("af_xdp", 0.5, 0.5).source_bound
    assert not point("af_xdp", 0.3, 0.5).source_bound
    # A wavering sender: the median second is below its mean rate, yet nothing was dropped.
    wavering = fig13.Point("mmap_ring", "traffic", 0.38, 4, 0.45, dropped=28053, total=2209899)
    assert wavering.source_bound
    cut_short = fig13.Point("array", "traffic", 0.3, 4, 0.5, dropped=None, total=None)
    assert not cut_short.source_bound


@pytest.mark.parametrize(
    ("faster", "slower", "verdict"),
    [
        (point("af_xdp", 13.4, 14.7), point("array", 0.9, 14.7), "holds"),
        (point("af_xdp", 0.5, 0.5), point("array", 0.3, 0.5), "holds"),  # a lower bound suffices
        (point("af_xdp", 0.5, 0.5), point("array", 0.49, 0.5), "inconclusive"),  # both sender-bound
        (point("af_xdp", 0.3, 1.0), point("array", 0.5, 1.0), "fails"),
        (point("af_xdp", 0.3, 0.3), point("array", 0.5, 0.5), "inconclusive"),  # sender was slower
        (point("af_xdp", 0.51, 1.0), point("array", 0.5, 1.0), "inconclusive"),  # within noise
    ],
)
def test_beats(faster: fig13.Point, slower: fig13.Point, verdict: str) -> None:
    assert fig13.beats(faster, slower) == verdict


def fig13_dir(
    tmp_path: Path,
    traffic: dict[str, tuple[float, float]] | None = None,
    testrun: dict[str, tuple[float, float]] | None = None,
) -> Path:
    """A results folder of Figure 13: per channel (Mpps taken, Mpps offered) per series."""
    exp = tmp_path / "fig13_user_channels"
    sources = [s for s, v in (("traffic", traffic), ("testrun", testrun)) if v is not None]
    channels = list((traffic or testrun or {}).keys())
    write(exp / "params.json", json.dumps({"channels": channels, "sources": sources}))
    write(exp / "status.json", json.dumps({"status": "complete"}))
    for source, values in (("traffic", traffic or {}), ("testrun", testrun or {})):
        for channel, (mpps, offered) in values.items():
            pps = int(mpps * 1e6)
            seconds = [0, pps // 3, pps, pps, pps, pps // 2, 0]
            body = "".join(f"throughput: {n} (pps)\n" for n in seconds)
            dropped = 5 * dropped_per_second(mpps, offered)
            body += f"total: {sum(seconds)} payloads in 7.000 s (1 pps)\nqueued: 1\n"
            body += f"dropped: {dropped}\n"
            folder = exp / "raw" / source / channel
            if source == "traffic":
                write(
                    folder / "channel_bench.log",
                    f"channel_bench: {channel} on eth1 queue 3\n" + body,
                )
                write(
                    folder / "udp_flood.txt",
                    f"sent: {int(offered * 5e6)} packets in 5.000 s ({int(offered * 1e6)} pps)\n",
                )
            else:
                write(folder / "channel_bench.txt", body)
                write(
                    folder / "channel_bench.stderr",
                    f"channel_bench: testrun source offered {int(offered * 7e6)} frames\n",
                )
    return exp


def test_fig13_on_the_papers_numbers_both_claims_hold(tmp_path: Path) -> None:
    nic = {c: (v, 14.7) for c, v in paper.FIG13_THROUGHPUT_MPPS.items()}
    report = fig13.analyse(fig13_dir(tmp_path, traffic=nic), RunInfo(tmp_path, {}))
    assert claims_of(report) == {"fig13.af_xdp_highest": "holds", "fig13.ring_beats_array": "holds"}
    assert report.claims[0].measured == report.claims[0].paper
    rows = {row["channel"]: row for row in report.table}
    assert rows["af_xdp"]["mpps"] == 13.4
    assert rows["af_xdp"]["sender_mpps"] == 14.7
    assert rows["af_xdp"]["dropped"] == pytest.approx(5 * 1.3e6, rel=1e-5)
    assert rows["af_xdp"]["paper_mpps"] == 13.4
    assert rows["array"]["limited_by"] == "channel"


def test_fig13_sender_bound_everywhere_is_inconclusive(tmp_path: Path) -> None:
    veth = {c: (0.5, 0.51) for c in fig13.CHANNELS}
    report = fig13.analyse(fig13_dir(tmp_path, traffic=veth), LOCAL)
    assert set(claims_of(report).values()) == {"inconclusive"}
    assert all("the sender is the bottleneck" in c.measured for c in report.claims)
    assert {row["limited_by"] for row in report.table} == {"source"}


def test_fig13_testrun_series_gets_claims_of_its_own(tmp_path: Path) -> None:
    veth = {c: (0.5, 0.51) for c in fig13.CHANNELS}
    inside = {"array": (0.34, 1.8), "ringbuf": (0.55, 1.26), "mmap_ring": (0.59, 1.1)}
    inside["af_xdp"] = (0.9, 0.9)
    report = fig13.analyse(fig13_dir(tmp_path, traffic=veth, testrun=inside), LOCAL)
    verdicts = claims_of(report)
    assert verdicts["fig13.af_xdp_highest"] == "inconclusive"
    assert verdicts["fig13.testrun.af_xdp_highest"] == "holds"
    assert verdicts["fig13.testrun.ring_beats_array"] == "holds"
    testrun_claim = next(c for c in report.claims if c.id == "fig13.testrun.af_xdp_highest")
    assert "limited by the producer: AF_XDP" in testrun_claim.measured
    assert "[series: producer on the DUT" in testrun_claim.text
    rows = {(r["source"], r["channel"]): r for r in report.table}
    assert rows["testrun", "array"]["sender_mpps"] == pytest.approx(1.8, rel=1e-3)
    fig = fig13.figure(report, LOCAL)
    assert fig is not None
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "offered by the source" in labels
    assert any("paper" in label for label in labels)
    plt.close(fig)


def test_fig13_slow_af_xdp_fails(tmp_path: Path) -> None:
    measured = {"array": (0.9, 14.7), "ringbuf": (2.1, 14.7), "mmap_ring": (5.4, 14.7)}
    measured["af_xdp"] = (3.0, 14.7)
    report = fig13.analyse(fig13_dir(tmp_path, traffic=measured), LOCAL)
    assert claims_of(report)["fig13.af_xdp_highest"] == "fails"
    assert claims_of(report)["fig13.ring_beats_array"] == "holds"


def test_fig13_missing_channel_is_reported(tmp_path: Path) -> None:
    exp = fig13_dir(tmp_path, traffic={"array": (0.9, 14.7), "ringbuf": (2.1, 14.7)})
    params = json.loads((exp / "params.json").read_text())
    params["channels"] = list(fig13.CHANNELS)
    write(exp / "params.json", json.dumps(params))
    report = fig13.analyse(exp, LOCAL)
    assert report.status == "partial"
    assert set(claims_of(report).values()) == {"inconclusive"}
    assert any("traffic/af_xdp: no consumer output" in note for note in report.notes)
    assert [row["mpps"] for row in report.table][2:] == [None, None]


def test_fig13_idle_channel_has_no_throughput(tmp_path: Path) -> None:
    exp = fig13_dir(tmp_path, traffic={c: (1.0, 14.7) for c in fig13.CHANNELS})
    write(exp / "raw" / "traffic" / "array" / "channel_bench.log", "throughput: 0 (pps)\n" * 5)
    report = fig13.analyse(exp, LOCAL)
    assert report.table[0]["mpps"] is None
    assert report.status == "partial"
    assert any("fewer than three seconds with payloads" in note for note in report.notes)
