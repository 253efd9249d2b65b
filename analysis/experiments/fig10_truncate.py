"""Figure 10: does cutting UDP payloads short in XDP speed up a user-space receiver?

Raw data (the playbook's contract)::

    fig10_truncate/params.json                       {"reductions_pct", "payload_bytes",
                                                      "seconds", "rate_pps", ...}
    fig10_truncate/status.json                       {"status", "reason"}
    fig10_truncate/raw/reduction_<p>/server.log      drop_server: "throughput: N (pps)" once a
                                                     second, then "total: N packets B bytes"
    fig10_truncate/raw/reduction_<p>/flood.txt       udp_flood: "sent: N packets in T s (R pps)"
    fig10_truncate/raw/reduction_<p>/size_map.json   {"reduction_pct", "keep_bytes", ...}

The drop server starts before the flood and stops after it, so its first and last
non-zero seconds are partial: a point's throughput is the median of the full
seconds between them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.parsers import ParseError, parse_drop, parse_udp_flood, read_source
from analysis.results import (
    RunInfo,
    effective_status,
    parameters_note,
    read_params,
    read_status,
    status_note,
)
from analysis.stats import median

NAME = "fig10_truncate"
TITLE = "Figure 10 — truncating payloads in XDP before user space"

#: The claim holds when the best point gains at most this much over 0% (the paper: 2.8%).
MAX_SMALL_GAIN_PCT = 5.0
#: A receiver that got at least this share of what was sent was not the bottleneck.
KEPT_UP_PCT = 98.0
_TOTAL = re.compile(r"^total: (\d+) packets (\d+) bytes", re.MULTILINE)

METHOD = (
    "drop_server's per-second 'throughput: N (pps)' lines; a point is the median of its full "
    "seconds (the first and last non-zero seconds, partial, left out)."
)


@dataclass(frozen=True)
class Point:
    """What one payload reduction measured."""

    reduction_pct: int
    per_second: np.ndarray  # the full seconds inside the flood window
    packets: int | None  # what the drop server received in total
    bytes: int | None
    sent: int | None  # what udp_flood sent
    offered_pps: float | None
    keep_bytes: int | None

    @property
    def pps(self) -> float:
        return median(self.per_second)

    @property
    def delivered_pct(self) -> float | None:
        if self.packets is None or not self.sent:
            return None
        return 100 * self.packets / self.sent


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Throughput per payload reduction beside the paper's, and the claim."""
    params, status = read_params(exp_dir), read_status(exp_dir)
    reductions = [int(r) for r in params.get("reductions_pct", paper.FIG10_REDUCTION_PCT)]
    points, notes = load_points(exp_dir, reductions)
    present = [str(r) for r in points]
    return ExperimentReport(
        name=NAME,
        title=TITLE,
        status=effective_status(status.get("status"), [str(r) for r in reductions], present),
        table=[table_row(r, points.get(r)) for r in reductions],
        claims=[small_gain(points)],
        notes=[*run_notes(params, status, run), *notes, *truncation_notes(points)],
        data={str(r): p.per_second for r, p in points.items()},
    )


def window(per_second: np.ndarray) -> tuple[np.ndarray, bool]:
    """The full seconds of a drop-server log, and whether partial ones could be left out."""
    busy = per_second[per_second > 0]
    if busy.size >= 3:
        return busy[1:-1], True
    return busy, False


def load_points(exp_dir: Path, reductions: Sequence[int]) -> tuple[dict[int, Point], list[str]]:
    """Every point with a usable drop-server log, and notes on the others."""
    points: dict[int, Point] = {}
    notes: list[str] = []
    for reduction in reductions:
        folder = exp_dir / "raw" / f"reduction_{reduction}"
        try:
            text = read_source(folder / "server.log")
            seconds, trimmed = window(parse_drop(text))
        except (ParseError, OSError, UnicodeDecodeError) as err:
            notes.append(f"{reduction}%: raw/{folder.name}/server.log not usable: {err}")
            continue
        if seconds.size == 0:
            notes.append(f"{reduction}%: the drop server received nothing")
            continue
        if not trimmed:
            notes.append(
                f"{reduction}%: fewer than 3 busy seconds, partial seconds kept in the median"
            )
        points[reduction] = _point(reduction, folder, text, seconds)
    return points, notes


def _point(reduction: int, folder: Path, server_log: str, seconds: np.ndarray) -> Point:
    total = _TOTAL.findall(server_log)
    try:
        flood = parse_udp_flood(folder / "flood.txt")
        sent, offered = flood.packets, flood.pps
    except (ParseError, OSError, UnicodeDecodeError):
        sent, offered = None, None
    try:
        keep = int(json.loads((folder / "size_map.json").read_text())["keep_bytes"])
    except (OSError, ValueError, KeyError, TypeError):
        keep = None
    return Point(
        reduction_pct=reduction,
        per_second=seconds,
        packets=int(total[-1][0]) if total else None,
        bytes=int(total[-1][1]) if total else None,
        sent=sent,
        offered_pps=offered,
        keep_bytes=keep,
    )


def paper_pps(reduction: int) -> float | None:
    """The paper's throughput at ``reduction`` percent (None for a point it did not plot)."""
    if reduction in paper.FIG10_REDUCTION_PCT:
        return float(paper.FIG10_THROUGHPUT_PPS[paper.FIG10_REDUCTION_PCT.index(reduction)])
    return None


def table_row(reduction: int, point: Point | None) -> dict[str, object]:
    """One point: our median pps and its spread, what was offered and kept, the paper's."""
    delivered = point.delivered_pct if point else None
    per_packet = (
        round(point.bytes / point.packets, 1) if point and point.packets and point.bytes else None
    )
    return {
        "reduction_pct": reduction,
        "keep_bytes": point.keep_bytes if point else None,
        "pps": round(point.pps) if point else None,
        "seconds": int(point.per_second.size) if point else 0,
        "min_pps": round(float(point.per_second.min())) if point else None,
        "max_pps": round(float(point.per_second.max())) if point else None,
        "offered_pps": round(point.offered_pps) if point and point.offered_pps else None,
        "delivered_pct": round(delivered, 2) if delivered is not None else None,
        "received_bytes_per_packet": per_packet,
        "paper_pps": paper_pps(reduction),
    }


def truncation_notes(points: Mapping[int, Point]) -> list[str]:
    """Whether the payloads arrived cut to the size set in size_map."""
    wrong = [
        f"{r}% ({p.bytes / p.packets:.0f} B received, {p.keep_bytes} B set)"
        for r, p in sorted(points.items())
        if p.packets
        and p.bytes is not None
        and p.keep_bytes
        and abs(p.bytes / p.packets - p.keep_bytes) > 1
    ]
    if wrong:
        return ["Payloads not cut to the size set in size_map at: " + ", ".join(wrong)]
    return []


def _gains(values: Mapping[int, float]) -> str:
    """``"0%: 973576 pps; best 50%: 991676 pps (+1.9%)"``."""
    best = max(values, key=lambda r: values[r])
    gain = 100 * (values[best] / values[0] - 1)
    return f"0%: {values[0]:.0f} pps; best {best}%: {values[best]:.0f} pps ({gain:+.1f}%)"


def small_gain(points: Mapping[int, Point]) -> Claim:
    """Truncating gains little: the best point is at most MAX_SMALL_GAIN_PCT above 0%.

    Inconclusive without the 0% point or another one, and when the drop server got
    (nearly) everything that was sent at 0%: then the sender, not the receive path,
    set the reference rate, and a cheaper receive path cannot show against it. A
    larger gain fails only when it is clear of the noise (every full second of the
    best point above every full second of 0%).
    """
    reference = dict(zip(paper.FIG10_REDUCTION_PCT, paper.FIG10_THROUGHPUT_PPS, strict=True))
    claim = {
        "id": "fig10.small_gain",
        "text": "Cutting the payload in XDP before user space gains little "
        f"(at most ~{paper.FIG10_MAX_GAIN_PCT}% in the paper; checked: the best point is at "
        f"most {MAX_SMALL_GAIN_PCT:.0f}% above no cut).",
        "paper": _gains(reference),
    }
    if 0 not in points or len(points) < 2:
        return Claim(**claim, measured="no 0% point or no other point", verdict="inconclusive")
    measured = _gains({r: p.pps for r, p in points.items()})
    delivered = points[0].delivered_pct
    verdict: Verdict
    if delivered is not None and delivered >= KEPT_UP_PCT:
        measured += (
            f"; at 0% the drop server received {delivered:.1f}% of what was sent: the "
            "sender set the rate, so a cheaper receive path could not show"
        )
        return Claim(**claim, measured=measured, verdict="inconclusive")
    best = max(points, key=lambda r: points[r].pps)
    gain = 100 * (points[best].pps / points[0].pps - 1)
    if gain <= MAX_SMALL_GAIN_PCT:
        verdict = "holds"
    elif points[best].per_second.min() > points[0].per_second.max():
        verdict = "fails"
    else:
        measured += "; the gain is within the second-to-second spread"
        verdict = "inconclusive"
    return Claim(**claim, measured=measured, verdict=verdict)


def run_notes(
    params: Mapping[str, object], status: Mapping[str, object], run: RunInfo
) -> list[str]:
    """Method, parameters and recorded status."""
    notes = [METHOD]
    shown = ("payload_bytes", "rate_pps", "flood_threads", "seconds", "scale")
    notes.extend(parameters_note(params, shown, " (rate_pps=0: as fast as udp_flood can)"))
    if run.testbed == "local":
        notes.append(
            "Local testbed (veth): udp_flood, the veth's receive path (XDP included) and the "
            "socket's softirq share the load generator's CPU, the drop server has the other "
            "one; the paper offered 1.2 Mpps to a ConnectX-6. Compare points within the run."
        )
    notes.extend(status_note(status))
    return notes


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """The paper's line plot (pps per reduction), ours beside, and both relative to 0%."""
    rows = [row for row in report.table if row["pps"] is not None]
    if not rows:
        return None
    testbed = figures.describe_testbed(run.testbed)
    fig, only = figures.new_figure(width=11.0, height=5.2)
    only.remove()  # the house style, two panels
    absolute, relative = fig.subplots(1, 2)
    x = [row["reduction_pct"] for row in rows]
    ours = np.array([row["pps"] for row in rows], dtype=float)
    low = ours - np.array([row["min_pps"] for row in rows], dtype=float)
    high = np.array([row["max_pps"] for row in rows], dtype=float) - ours
    px, pv = list(paper.FIG10_REDUCTION_PCT), np.array(paper.FIG10_THROUGHPUT_PPS, dtype=float)
    absolute.errorbar(
        x,
        ours / 1e3,
        yerr=[low / 1e3, high / 1e3],
        marker="o",
        capsize=3,
        color=figures.OURS_COLOUR,
        label=f"this run: {testbed} (median, min-max)",
    )
    absolute.plot(
        px, pv / 1e3, marker="D", color=figures.PAPER_COLOUR, label=f"paper ({paper.TESTBED_LABEL})"
    )
    offered = [(row["reduction_pct"], row["offered_pps"]) for row in rows if row["offered_pps"]]
    if offered:
        absolute.plot(
            [r for r, _ in offered],
            [v / 1e3 for _, v in offered],
            linestyle=":",
            marker=".",
            color=figures.OURS_COLOUR,
            label="this run: offered by udp_flood",
        )
    absolute.set_xlabel("payload reduction (%)")
    absolute.set_ylabel("drop-server throughput (kpps)")
    absolute.set_ylim(bottom=0)
    # Below the panel: the measured and the paper's lines cross the whole x range.
    absolute.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8)
    zero = next((row["pps"] for row in rows if row["reduction_pct"] == 0), None)
    if zero:
        relative.plot(
            x, 100 * (ours / zero - 1), marker="o", color=figures.OURS_COLOUR, label="this run"
        )
    relative.plot(px, 100 * (pv / pv[0] - 1), marker="D", color=figures.PAPER_COLOUR, label="paper")
    relative.axhline(
        MAX_SMALL_GAIN_PCT,
        color="grey",
        linestyle="--",
        linewidth=1,
        label=f"+{MAX_SMALL_GAIN_PCT:.0f}% (claim's limit)",
    )
    relative.axhline(0, color="black", linewidth=0.8)
    relative.set_xlabel("payload reduction (%)")
    relative.set_ylabel("change against 0% (%)")
    relative.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8)
    for ax in (absolute, relative):
        ax.set_xticks(px)
    fig.suptitle(
        f"Figure 10: truncating {paper.FIG10_PAYLOAD_BYTES}-byte payloads in XDP, {testbed}"
    )
    return fig
