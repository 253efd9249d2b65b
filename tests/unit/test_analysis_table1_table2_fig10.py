"""Table 1, Table 2 and Figure 10: the analysis modules on synthetic results folders
laid out as the playbooks write them, and on the paper's own data."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from analysis import paper
from analysis.experiments import fig10_truncate as fig10
from analysis.experiments import table1_hook_cost as table1
from analysis.experiments import table2_iperf as table2
from analysis.parsers import ParseError
from analysis.results import RunInfo

REPO = Path(__file__).resolve().parents[2]
PAPER_TC = REPO.parent / "shared" / "paper-data" / "table1_time_to_reach" / "time_to_tc.txt"
LOCAL = RunInfo(Path("."), {"testbed": "local"})
CLOUDLAB = RunInfo(Path("."), {"testbed": "cloudlab"})

# Captured on the local testbed: reach_server's stdout and the first lines of its file.
REACH_SERVER_STDOUT = """\
ready
SOCKET_QUEUE: samples 2000 median_ns 468 p25_ns 460 p75_ns 479
SK_SKB: samples 2000 median_ns 983 p25_ns 966 p75_ns 1005
run SK_SKB: samples 2000 median_ns 541 p25_ns 466 p75_ns 609
bypassed: 0
"""
# Captured: iperf 2.1.8 client, -P 4 -t 1 (one run a file, as the playbook keeps them).
IPERF_RUN = """\
------------------------------------------------------------
Client connecting to 192.168.1.1, TCP port 8080
TCP window size: 1.98 MByte (default)
------------------------------------------------------------
[  3] local 192.168.1.2 port 46910 connected with 192.168.1.1 port 8080 (icwnd/mss/irtt=14/1448/16)
[  4] local 192.168.1.2 port 46922 connected with 192.168.1.1 port 8080 (icwnd/mss/irtt=14/1448/7)
[  1] local 192.168.1.2 port 46898 connected with 192.168.1.1 port 8080 (icwnd/mss/irtt=14/1448/58)
[  2] local 192.168.1.2 port 46916 connected with 192.168.1.1 port 8080 (icwnd/mss/irtt=14/1448/8)
[ ID] Interval       Transfer     Bandwidth
[  3] 0.0000-1.0840 sec   136 MBytes  1.05 Gbits/sec
[  4] 0.0000-1.0840 sec   114 MBytes   879 Mbits/sec
[  1] 0.0000-1.0990 sec   149 MBytes  1.14 Gbits/sec
[  2] 0.0000-1.1175 sec   157 MBytes  1.18 Gbits/sec
[SUM] 0.0000-1.0310 sec   556 MBytes  {gbps} Gbits/sec
"""
# Captured: drop_server and udp_flood of one Figure 10 point (1458-byte payloads).
DROP_SERVER_LOG = """\
ready
throughput: 194924 (pps)
throughput: 388324 (pps)
throughput: 451407 (pps)
throughput: 204521 (pps)
total: 1239176 packets 1806718608 bytes
"""
FLOOD_LOG = "sent: 1241344 packets in 3.000 s (413779 pps)\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_json(path: Path, data: object) -> None:
    write(path, json.dumps(data))


def lines(kind: str, hook: str, values: np.ndarray) -> str:
    return "".join(f"It takes {v:.0f} to {kind} {hook}\n" for v in values)


def spread(centre: float, n: int = 400, width: float = 20.0, seed: int = 1) -> np.ndarray:
    return centre + np.random.default_rng(seed).uniform(-width, width, n)


# --- Table 1 -------------------------------------------------------------------------------


def stamp_folder(
    tmp_path: Path,
    rounds: int = 2,
    tc_shift: float = 60.0,
    xdp_shift: float = 70.0,
    span: float = 1500.0,
    programs: dict[str, float] | None = None,
) -> Path:
    """A table1_hook_cost folder as the stamp method leaves it."""
    exp = tmp_path / "table1_hook_cost"
    write_json(
        exp / "params.json",
        {
            "method": "stamp",
            "method_requested": "auto",
            "probe": "fentry: refused (Operation not permitted)",
            "hooks": ["xdp", "tc", "sk_skb", "socket"],
            "rounds": rounds,
        },
    )
    write_json(exp / "status.json", {"status": "complete", "reason": ""})
    raw = exp / "raw"
    write(raw / "reach_tc" / "samples.txt", lines("reach", "TC", spread(250)))
    write(
        raw / "reach_sk_skb" / "samples.txt",
        lines("reach", "SK_SKB", spread(1100))
        + lines("reach", "SOCKET_READY", spread(1700))
        + lines("run", "SK_SKB", spread(900)),
    )
    write(
        raw / "reach_socket" / "samples.txt",
        lines("reach", "SOCKET_QUEUE", spread(1000)) + lines("reach", "SOCKET", spread(6000)),
    )
    for k in range(1, rounds + 1):
        drift = 40.0 * k  # the same in both arms of a round: cancels
        write(
            raw / f"prep_tc_without_r{k}" / "samples.txt",
            lines("reach", "SOCKET_QUEUE", spread(900 + drift, seed=k)),
        )
        write(
            raw / f"prep_tc_with_r{k}" / "samples.txt",
            lines("reach", "SOCKET_QUEUE", spread(900 + drift + tc_shift, seed=k)),
        )
        write(
            raw / f"prep_xdp_without_r{k}" / "samples.txt",
            lines("reach", "TC", spread(1200 + drift, seed=k)),
        )
        write(
            raw / f"prep_xdp_with_r{k}" / "samples.txt",
            lines("reach", "TC", spread(1200 + drift + xdp_shift, seed=k)),
        )
        write(
            raw / f"prep_sk_skb_r{k}" / "samples.txt", lines("run", "SK_SKB", spread(span, seed=k))
        )
    cost = programs or {"xdp_pass": 30.0, "tc_pass": 30.0, "sk_skb_reach": 100.0}
    write_json(
        raw / "prep_stats" / "programs.json",
        {name: {"run_time_ns": ns * 1000, "run_cnt": 1000, "id": 7} for name, ns in cost.items()},
    )
    return exp


def row_of(report, key: str) -> dict:
    return next(row for row in report.table if row["hook"] == key)


def claim_of(report, claim_id: str):
    return next(claim for claim in report.claims if claim.id == claim_id)


def test_table1_lines_parser_reads_ours_and_a_kernels_prefix() -> None:
    text = (
        "[  238.129092] Farbod: It takes 273 to reach TC\n"
        "It takes 865 to run SK_SKB\nIt takes -12 to reach XDP\nnoise\n"
    )
    parsed = table1.parse_lines(text)
    assert parsed[("reach", "tc")].tolist() == [273.0]
    assert parsed[("run", "sk_skb")].tolist() == [865.0]
    assert parsed[("reach", "xdp")].tolist() == [-12.0]
    with pytest.raises(ParseError, match="no 'It takes"):
        table1.parse_lines(REACH_SERVER_STDOUT)


@pytest.mark.skipif(not PAPER_TC.is_file(), reason="paper-data not present")
def test_table1_reads_the_papers_dmesg_log() -> None:
    values = table1.parse_lines(PAPER_TC)[("reach", "tc")]
    assert values.size == 10920
    assert table1.median(values) == pytest.approx(paper.TABLE1_REACH_MEDIAN_NS["tc"], abs=1)


@pytest.mark.skipif(not PAPER_TC.is_file(), reason="paper-data not present")
def test_table1_patched_kernel_folder_takes_the_reach_from_dmesg(tmp_path: Path) -> None:
    exp = tmp_path / "table1_hook_cost"
    write_json(exp / "params.json", {"method": "patched_kernel", "hooks": ["tc"]})
    write(exp / "raw" / "reach_tc" / "dmesg.txt", PAPER_TC.read_text())
    report = table1.analyse(exp, CLOUDLAB)
    assert row_of(report, "tc")["reach_median_ns"] == pytest.approx(274, abs=1)
    assert row_of(report, "tc")["paper_reach_median_ns"] == 273


def test_table1_stamp_method_gives_reach_preparation_and_claims(tmp_path: Path) -> None:
    report = table1.analyse(stamp_folder(tmp_path), CLOUDLAB)
    assert report.status == "complete"
    assert row_of(report, "xdp")["reach_median_ns"] == 0
    assert row_of(report, "tc")["reach_median_ns"] == pytest.approx(250, abs=5)
    assert row_of(report, "socket")["reach_median_ns"] == pytest.approx(6000, abs=5)
    tc = row_of(report, "tc")
    assert tc["prep_measured_ns"] == pytest.approx(60, abs=5)  # the drift cancelled
    assert tc["prep_ns"] == pytest.approx(30, abs=5)  # minus tc_pass' 30 ns
    assert tc["program_ns"] == pytest.approx(30)
    assert tc["prep_low_ns"] < tc["prep_ns"] < tc["prep_high_ns"]
    assert row_of(report, "sk_skb")["prep_ns"] == pytest.approx(1400, abs=5)
    assert claim_of(report, "table1.reach_order").verdict == "holds"
    order = claim_of(report, "table1.sk_skb_prep_order_of_magnitude")
    assert order.verdict == "holds", order.measured
    assert "1350" in order.paper


def test_table1_sk_skb_close_to_tc_fails_the_order_of_magnitude(tmp_path: Path) -> None:
    report = table1.analyse(stamp_folder(tmp_path, tc_shift=200, span=500), CLOUDLAB)
    assert claim_of(report, "table1.sk_skb_prep_order_of_magnitude").verdict == "fails"


def test_table1_one_round_cannot_see_the_drift(tmp_path: Path) -> None:
    report = table1.analyse(stamp_folder(tmp_path, rounds=1), CLOUDLAB)
    claim = claim_of(report, "table1.sk_skb_prep_order_of_magnitude")
    assert claim.verdict == "inconclusive" and "one round" in claim.measured
    assert any("drift between runs is not measured" in note for note in report.notes)


def test_table1_xdp_on_a_veth_is_only_an_upper_bound(tmp_path: Path) -> None:
    # XDP's shift is large on a veth: with a lower bound it would make the claim fail.
    report = table1.analyse(stamp_folder(tmp_path, xdp_shift=400), LOCAL)
    assert row_of(report, "xdp")["prep_low_ns"] == 0
    claim = claim_of(report, "table1.sk_skb_prep_order_of_magnitude")
    assert claim.verdict == "inconclusive" and "XDP's interval" in claim.measured
    assert any("upper bound" in note for note in report.notes)


def test_table1_tc_below_the_resolution_is_inconclusive(tmp_path: Path) -> None:
    exp = stamp_folder(tmp_path, rounds=2, tc_shift=60)
    # round 2 disagrees with round 1 by 300 ns: the rounds' spread is the resolution
    write(
        exp / "raw" / "prep_tc_with_r2" / "samples.txt",
        lines("reach", "SOCKET_QUEUE", spread(900 + 80 + 360, seed=2)),
    )
    report = table1.analyse(exp, CLOUDLAB)
    tc = row_of(report, "tc")
    assert tc["prep_high_ns"] - tc["prep_ns"] > 150
    assert claim_of(report, "table1.sk_skb_prep_order_of_magnitude").verdict == "inconclusive"


def test_table1_fentry_folder_subtracts_the_programs(tmp_path: Path) -> None:
    exp = tmp_path / "table1_hook_cost"
    write_json(exp / "params.json", {"method": "fentry", "hooks": ["xdp", "tc", "sk_skb"]})
    for hook, centre in (("xdp", 80), ("tc", 70), ("sk_skb", 1500)):
        write(
            exp / "raw" / f"prep_{hook}" / "timer.txt",
            lines("run", hook.upper(), spread(centre, width=5, n=2000)),
        )
    write_json(
        exp / "raw" / "prep_stats" / "programs.json",
        {
            p: {"run_time_ns": 30000, "run_cnt": 1000}
            for p in ("xdp_pass", "tc_pass", "sk_skb_pass")
        },
    )
    report = table1.analyse(exp, CLOUDLAB)
    assert row_of(report, "xdp")["prep_ns"] == pytest.approx(50, abs=2)
    assert row_of(report, "sk_skb")["prep_ns"] == pytest.approx(1470, abs=2)
    assert claim_of(report, "table1.sk_skb_prep_order_of_magnitude").verdict == "holds"
    assert claim_of(report, "table1.reach_order").verdict == "inconclusive"  # no reach runs


def test_table1_missing_data_is_reported_not_raised(tmp_path: Path) -> None:
    exp = stamp_folder(tmp_path)
    (exp / "raw" / "reach_sk_skb" / "samples.txt").write_text("garbage\n")
    report = table1.analyse(exp, LOCAL)
    assert report.status == "complete"  # sk_skb still has its preparation
    assert row_of(report, "sk_skb")["reach_median_ns"] is None
    assert claim_of(report, "table1.reach_order").verdict == "inconclusive"
    assert any("reach_sk_skb/samples.txt not usable" in note for note in report.notes)
    empty = tmp_path / "empty" / "table1_hook_cost"
    write_json(empty / "params.json", {"method": "stamp", "hooks": ["tc"]})
    write_json(empty / "status.json", {"status": "complete"})
    assert table1.analyse(empty, LOCAL).status == "failed"


def test_table1_figure_draws_both_panels(tmp_path: Path) -> None:
    report = table1.analyse(stamp_folder(tmp_path), LOCAL)
    fig = table1.figure(report, LOCAL)
    assert fig is not None and len(fig.axes) == 2
    plt.close(fig)


# --- Table 2 -------------------------------------------------------------------------------


def iperf_folder(tmp_path: Path, gbps: dict[str, list[float]], inserted: int = 24) -> Path:
    exp = tmp_path / "table2_iperf"
    write_json(
        exp / "params.json",
        {"hooks": list(gbps), "streams": 8, "seconds": 2, "repetitions": 3, "softirq": "veth: x"},
    )
    write_json(exp / "status.json", {"status": "complete"})
    for hook, values in gbps.items():
        for k, value in enumerate(values, start=1):
            write(exp / "raw" / hook / f"iperf_{k:03d}.txt", IPERF_RUN.format(gbps=value))
    write_json(
        exp / "raw" / "sk_skb" / "sockmap.json", {"inserted": inserted, "expected_at_least": 24}
    )
    return exp


def test_table2_median_and_range_per_hook_beside_the_paper(tmp_path: Path) -> None:
    exp = iperf_folder(
        tmp_path,
        {
            "none": [7.2, 7.3, 7.1],
            "xdp": [7.1, 7.2, 7.15],
            "tc": [7.0, 7.05, 6.95],
            "sk_skb": [6.2, 6.25, 6.15],
        },
    )
    report = table2.analyse(exp, LOCAL)
    rows = {row["hook"]: row for row in report.table}
    assert rows["none"]["median_gbps"] == 7.2 and rows["none"]["runs"] == 3
    assert rows["sk_skb"]["cost_pct"] == pytest.approx(13.89, abs=0.01)
    assert rows["tc"]["paper_cost_pct"] == pytest.approx(3.04, abs=0.01)
    assert rows["sk_skb"]["paper_cost_pct"] == pytest.approx(14.09, abs=0.01)
    assert rows["none"]["paper_median_gbps"] == 7.24
    claim = report.claims[0]
    assert claim.id == "table2.sk_skb_costs_most" and claim.verdict == "holds", claim.measured
    assert "24 connections went through the sockmap" in " ".join(report.notes)


def test_table2_another_hook_clearly_lowest_fails(tmp_path: Path) -> None:
    exp = iperf_folder(
        tmp_path,
        {
            "none": [7.2, 7.3, 7.1],
            "xdp": [4.0, 4.1, 3.9],
            "tc": [7.0, 7.1, 6.9],
            "sk_skb": [6.2, 6.3, 6.1],
        },
    )
    assert table2.analyse(exp, CLOUDLAB).claims[0].verdict == "fails"
    # on a veth XDP's arm measures the veth's XDP receive path: left out of the comparison
    local = table2.analyse(exp, LOCAL).claims[0]
    assert local.verdict == "holds" and "XDP left out" in local.measured


def test_table2_overlapping_noise_or_one_run_is_inconclusive(tmp_path: Path) -> None:
    noisy = iperf_folder(
        tmp_path / "a",
        {
            "none": [7.2, 4.3, 8.1],
            "xdp": [7.1, 5.0, 6.0],
            "tc": [6.0, 7.1, 4.9],
            "sk_skb": [6.2, 3.9, 7.5],
        },
    )
    assert table2.analyse(noisy, LOCAL).claims[0].verdict == "inconclusive"
    single = iperf_folder(
        tmp_path / "b", {"none": [7.2], "xdp": [7.1], "tc": [7.0], "sk_skb": [6.0]}
    )
    claim = table2.analyse(single, LOCAL).claims[0]
    assert claim.verdict == "inconclusive" and "one run per hook" in claim.measured


def test_table2_missing_hook_and_bypassed_sockmap_are_reported(tmp_path: Path) -> None:
    exp = iperf_folder(tmp_path, {"none": [7.2, 7.3], "sk_skb": [6.0, 6.1]}, inserted=3)
    report = table2.analyse(exp, LOCAL)
    assert report.claims[0].verdict == "inconclusive"
    assert "no data for xdp, tc" in report.claims[0].measured
    assert any("only 3 connections entered the sockmap" in note for note in report.notes)
    (exp / "raw" / "none" / "iperf_001.txt").write_text(
        "Client connecting to x\n"
        "[  3] local 1 port 2 connected with 3 port 4\n"
        "[  4] local 1 port 2 connected with 3 port 4\n"
    )
    notes = " ".join(table2.analyse(exp, LOCAL).notes)
    assert "run without a total" in notes or "not usable" in notes


def test_table2_figure(tmp_path: Path) -> None:
    exp = iperf_folder(
        tmp_path, {"none": [7.2, 7.3], "xdp": [7.0, 7.1], "tc": [6.9, 7.0], "sk_skb": [6.0, 6.1]}
    )
    fig = table2.figure(table2.analyse(exp, LOCAL), LOCAL)
    assert fig is not None
    plt.close(fig)


# --- Figure 10 -----------------------------------------------------------------------------


def drop_folder(
    tmp_path: Path, pps: dict[int, float], sent_factor: float = 1.4, keep_ok: bool = True
) -> Path:
    """One point per reduction: 6 s of drop-server lines around `pps`, the flood's summary."""
    exp = tmp_path / "fig10_truncate"
    write_json(
        exp / "params.json",
        {"reductions_pct": list(pps), "payload_bytes": 1458, "seconds": 4, "rate_pps": 0},
    )
    write_json(exp / "status.json", {"status": "complete"})
    for reduction, value in pps.items():
        keep = round(1458 * (100 - reduction) / 100)
        seconds = [0, value * 0.4, value * 0.99, value, value * 1.01, value * 0.98, value * 0.3]
        total = int(sum(seconds))
        per_packet = keep if keep_ok else 1458
        log = "ready\n" + "".join(f"throughput: {v:.0f} (pps)\n" for v in seconds)
        log += f"total: {total} packets {total * per_packet} bytes\n"
        folder = exp / "raw" / f"reduction_{reduction}"
        write(folder / "server.log", log)
        sent = int(total * sent_factor)
        write(folder / "flood.txt", f"sent: {sent} packets in 4.000 s ({sent / 4:.0f} pps)\n")
        write_json(folder / "size_map.json", {"reduction_pct": reduction, "keep_bytes": keep})
    return exp


def test_fig10_window_leaves_out_the_partial_seconds() -> None:
    seconds, trimmed = fig10.window(np.array([0, 100, 500, 510, 490, 50, 0], dtype=float))
    assert trimmed and seconds.tolist() == [500, 510, 490]
    short, trimmed = fig10.window(np.array([0, 300, 200], dtype=float))
    assert not trimmed and short.tolist() == [300, 200]


def test_fig10_parses_a_captured_point(tmp_path: Path) -> None:
    folder = tmp_path / "fig10_truncate" / "raw" / "reduction_0"
    write(folder / "server.log", DROP_SERVER_LOG)
    write(folder / "flood.txt", FLOOD_LOG)
    write_json(folder / "size_map.json", {"keep_bytes": 1458})
    write_json(tmp_path / "fig10_truncate" / "params.json", {"reductions_pct": [0]})
    report = fig10.analyse(tmp_path / "fig10_truncate", LOCAL)
    row = report.table[0]
    assert row["pps"] == 451407 and row["seconds"] == 2  # 388324 and 451407, nearest rank
    assert row["delivered_pct"] == pytest.approx(99.83, abs=0.01)
    assert row["received_bytes_per_packet"] == 1458 and row["paper_pps"] == 973576


def test_fig10_papers_own_points_make_the_claim_hold(tmp_path: Path) -> None:
    values = dict(zip(paper.FIG10_REDUCTION_PCT, paper.FIG10_THROUGHPUT_PPS, strict=True))
    report = fig10.analyse(drop_folder(tmp_path, values), LOCAL)
    claim = report.claims[0]
    assert claim.id == "fig10.small_gain" and claim.verdict == "holds", claim.measured
    assert "+1.9%" in claim.measured  # 991676 at 50% against 973576 at 0%
    assert [row["pps"] for row in report.table] == list(paper.FIG10_THROUGHPUT_PPS)


def test_fig10_a_clear_large_gain_fails(tmp_path: Path) -> None:
    report = fig10.analyse(drop_folder(tmp_path, {0: 400_000, 50: 500_000, 90: 600_000}), LOCAL)
    assert report.claims[0].verdict == "fails"


def test_fig10_a_receiver_that_kept_up_cannot_tell(tmp_path: Path) -> None:
    exp = drop_folder(tmp_path, {0: 400_000, 90: 410_000}, sent_factor=1.0)
    claim = fig10.analyse(exp, LOCAL).claims[0]
    assert claim.verdict == "inconclusive" and "the sender set the rate" in claim.measured


def test_fig10_a_sender_limited_reference_stays_inconclusive_despite_one_lossy_point(
    tmp_path: Path,
) -> None:
    exp = drop_folder(tmp_path, {0: 400_000, 70: 410_000}, sent_factor=1.0)
    flood = exp / "raw" / "reduction_70" / "flood.txt"
    flood.write_text("sent: 99999999 packets in 4.000 s (25000000 pps)\n")  # lossy point
    assert fig10.analyse(exp, LOCAL).claims[0].verdict == "inconclusive"


def test_fig10_payloads_not_cut_are_noted_and_missing_points_reported(tmp_path: Path) -> None:
    exp = drop_folder(tmp_path, {0: 400_000, 50: 401_000}, keep_ok=False)
    (exp / "raw" / "reduction_50" / "server.log").unlink()
    report = fig10.analyse(exp, LOCAL)
    assert report.status == "partial"
    assert any("server.log not usable" in note for note in report.notes)
    assert report.claims[0].verdict == "inconclusive"
    exp2 = drop_folder(tmp_path / "b", {0: 400_000, 50: 401_000}, keep_ok=False)
    notes = " ".join(fig10.analyse(exp2, LOCAL).notes)
    assert "not cut to the size set" in notes and "50%" in notes


def test_fig10_figure(tmp_path: Path) -> None:
    report = fig10.analyse(drop_folder(tmp_path, {0: 400_000, 50: 401_000}), LOCAL)
    fig = fig10.figure(report, LOCAL)
    assert fig is not None and len(fig.axes) == 2
    plt.close(fig)
