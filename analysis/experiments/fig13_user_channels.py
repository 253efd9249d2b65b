"""Figure 13: how many 64-byte payloads per second XDP hands to one user-space consumer.

Raw data (the playbook's contract)::

    fig13_user_channels/params.json     {"channels": [...], "sources": [...], "duration_s", ...}
    fig13_user_channels/status.json     {"status", "reason"}
    fig13_user_channels/raw/traffic/<channel>/channel_bench.log   consumer's output and notes
    fig13_user_channels/raw/traffic/<channel>/udp_flood.txt       generator's summary
    fig13_user_channels/raw/testrun/<channel>/channel_bench.txt   consumer fed on the DUT
    fig13_user_channels/raw/testrun/<channel>/channel_bench.stderr

Two series: ``traffic`` (udp_flood on the load generator, the paper's setup) and
``testrun`` (a producer thread on the DUT runs the program on live frames). A
channel's throughput is the median of its per-second counts inside the window
(the seconds from the first to the last with payloads, the first and the last
of them left out: they are partial; nearest-rank median). A channel that
dropped almost nothing kept up with its source and so measured the source, not
itself: the claims treat such a point as a lower bound of the channel's
capacity, and say when that leaves them open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.parsers import ParseError, parse_channel_bench, parse_udp_flood
from analysis.results import (
    RunInfo,
    effective_status,
    parameters_note,
    read_params,
    read_status,
    status_note,
)
from analysis.stats import median

NAME = "fig13_user_channels"
TITLE = "Figure 13 — throughput of kernel-to-user channels (64-byte payloads)"

CHANNELS = ("array", "ringbuf", "mmap_ring", "af_xdp")
SOURCES = ("traffic", "testrun")
LABELS = {
    "array": "Array (syscalls)",
    "ringbuf": "Ring buffer",
    "mmap_ring": "mmap ring",
    "af_xdp": "AF_XDP",
}
SOURCE_LABELS = {
    "traffic": "udp_flood over the link",
    "testrun": "producer on the DUT (BPF_PROG_TEST_RUN)",
}
#: A channel that delivered at least this fraction of the payloads that reached it
#: (it dropped the rest for want of room) was limited by its source, not by itself:
#: its throughput is only a lower bound of the channel's.
SOURCE_BOUND_FRACTION = 0.9
#: Throughputs closer than this (relative) are not told apart.
NOISE_MARGIN = 0.05
PPS_PER_MPPS = 1e6

METHOD = (
    "channel_bench: one consumer pinned to one CPU counts the payloads it takes each second; "
    "throughput = median of the per-second counts from the first to the last second with "
    "payloads, those two left out. Offered rate: udp_flood's own rate (traffic) or the frames "
    "the testrun producer ran through the program per second. limited_by=source: the channel "
    f"dropped less than {1 - SOURCE_BOUND_FRACTION:.0%} of what reached it, so it measured its "
    "source."
)


@dataclass(frozen=True)
class Point:
    """One channel fed by one source."""

    channel: str
    source: str
    mpps: float | None
    seconds: int
    offered_mpps: float | None
    dropped: int | None
    total: int | None = None

    @property
    def source_bound(self) -> bool:
        """Whether the channel kept up with its source (it measured the source).

        It did when it dropped less than ``1 - SOURCE_BOUND_FRACTION`` of the
        payloads that reached it. Without the totals (a run cut short), when it
        took at least that fraction of the rate its source offered.
        """
        if self.total is not None and self.dropped is not None:
            reached = self.total + self.dropped
            return reached > 0 and self.total >= SOURCE_BOUND_FRACTION * reached
        if self.mpps is None or not self.offered_mpps:
            return False
        return self.mpps >= SOURCE_BOUND_FRACTION * self.offered_mpps


def window(pps: np.ndarray) -> np.ndarray:
    """The per-second counts from the first to the last non-zero one, those two left out."""
    active = np.flatnonzero(pps > 0)
    if active.size == 0:
        return pps[:0]
    return pps[active[0] + 1 : active[-1]]


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Throughput per channel and source, and the paper's claims on each series."""
    params, status = read_params(exp_dir), read_status(exp_dir)
    channels = _ordered(params.get("channels", CHANNELS), CHANNELS)
    sources = _ordered(params.get("sources", SOURCES), SOURCES)
    points: dict[tuple[str, str], Point] = {}
    notes: list[str] = []
    for source in sources:
        for channel in channels:
            point = load_point(exp_dir, source, channel, notes)
            if point is not None:
                points[source, channel] = point
    expected = [f"{s}/{c}" for s in sources for c in channels]
    present = [f"{s}/{c}" for (s, c), p in points.items() if p.mpps is not None]
    return ExperimentReport(
        name=NAME,
        title=TITLE,
        status=effective_status(status.get("status"), expected, present),
        table=[table_row(points.get((s, c)), s, c) for s in sources for c in channels],
        claims=[claim for source in sources for claim in series_claims(source, points)],
        notes=[*_run_notes(params, status, run, points), *notes],
        data={f"{s}/{c}": np.array([p.mpps]) for (s, c), p in points.items() if p.mpps is not None},
    )


def _ordered(values: Sequence[str], known: Sequence[str]) -> list[str]:
    """``values``, those in ``known`` first and in its order."""
    first = [v for v in known if v in values]
    return first + [v for v in values if v not in first]


def _bench_file(exp_dir: Path, source: str, channel: str) -> Path:
    name = "channel_bench.log" if source == "traffic" else "channel_bench.txt"
    return exp_dir / "raw" / source / channel / name


def _read_with_stderr(path: Path) -> str:
    """The consumer's output followed by its stderr notes, where they were kept apart
    (the testrun producer reports the frames it offered there)."""
    text = path.read_text(encoding="utf-8")
    stderr = path.with_suffix(".stderr")
    return text + stderr.read_text(encoding="utf-8") if stderr.is_file() else text


def load_point(exp_dir: Path, source: str, channel: str, notes: list[str]) -> Point | None:
    """Read one point; problems go to ``notes`` (``None``: nothing usable)."""
    path = _bench_file(exp_dir, source, channel)
    where = path.relative_to(exp_dir).as_posix()
    if not path.is_file():
        notes.append(f"{source}/{channel}: no consumer output ({where} is missing)")
        return None
    try:
        bench = parse_channel_bench(_read_with_stderr(path))
    except (ParseError, OSError, UnicodeDecodeError) as err:
        notes.append(f"{source}/{channel}: {where} not usable: {err}")
        return None
    seconds = window(bench.pps)
    if seconds.size == 0:
        notes.append(
            f"{source}/{channel}: fewer than three seconds with payloads in {where}: "
            "no throughput (did the source send anything?)"
        )
    offered = _offered_mpps(exp_dir, source, channel, bench.offered, bench.elapsed_s, notes)
    return Point(
        channel=channel,
        source=source,
        mpps=median(seconds) / PPS_PER_MPPS if seconds.size else None,
        seconds=int(seconds.size),
        offered_mpps=offered,
        dropped=bench.dropped,
        total=bench.total,
    )


def _offered_mpps(
    exp_dir: Path,
    source: str,
    channel: str,
    frames: int | None,
    elapsed_s: float | None,
    notes: list[str],
) -> float | None:
    """What the source offered per second: the generator's rate, or the producer's frames."""
    if source == "testrun":
        return frames / elapsed_s / PPS_PER_MPPS if frames and elapsed_s else None
    path = exp_dir / "raw" / source / channel / "udp_flood.txt"
    try:
        return parse_udp_flood(path).pps / PPS_PER_MPPS
    except (ParseError, OSError, UnicodeDecodeError) as err:
        notes.append(f"{source}/{channel}: sender rate unknown: {err}")
        return None


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return round(value, digits) if value is not None else None


def table_row(point: Point | None, source: str, channel: str) -> dict[str, object]:
    """One row: our throughput, the source's rate and the drops, beside the paper's."""
    limited_by = None
    if point is not None and point.mpps is not None and point.offered_mpps:
        limited_by = "source" if point.source_bound else "channel"
    return {
        "channel": channel,
        "source": source,
        "n": point.seconds if point else 0,
        "mpps": _rounded(point.mpps) if point else None,
        "sender_mpps": _rounded(point.offered_mpps) if point else None,
        "dropped": point.dropped if point else None,
        "limited_by": limited_by,
        "paper_mpps": paper.FIG13_THROUGHPUT_MPPS.get(channel),
    }


# --- claims ---------------------------------------------------------------------------


def beats(faster: Point, slower: Point) -> Verdict:
    """Whether channel ``faster`` has more capacity than ``slower``, from two points.

    A higher throughput shows more capacity only if the lower one was the
    channel's own limit (not its source's); a lower throughput disproves it only
    if it was the channel's own limit. Differences within NOISE_MARGIN decide
    nothing.
    """
    assert faster.mpps is not None and slower.mpps is not None
    if faster.mpps > slower.mpps * (1 + NOISE_MARGIN):
        return "inconclusive" if slower.source_bound else "holds"
    if faster.mpps * (1 + NOISE_MARGIN) < slower.mpps:
        return "inconclusive" if faster.source_bound else "fails"
    return "inconclusive"


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """All hold: holds; one fails: fails; otherwise inconclusive."""
    if verdicts and all(v == "holds" for v in verdicts):
        return "holds"
    return "fails" if "fails" in verdicts else "inconclusive"


def _describe(values: Mapping[str, float], first: str, others: Sequence[str]) -> str:
    """``"AF_XDP 13.4 vs Array (syscalls) 0.9, ... Mpps"``."""
    rest = ", ".join(f"{LABELS[c]} {values[c]:.3g}" for c in others)
    return f"{LABELS[first]} {values[first]:.3g} vs {rest} Mpps"


@dataclass(frozen=True)
class _Statement:
    key: str
    text: str
    pairs: tuple[tuple[str, str], ...]
    subject: str
    others: tuple[str, ...]


_STATEMENTS = (
    _Statement(
        key="af_xdp_highest",
        text="AF_XDP hands user space the most payloads per second of the four channels "
        "(checked: its capacity exceeds each other channel's).",
        pairs=(("af_xdp", "array"), ("af_xdp", "ringbuf"), ("af_xdp", "mmap_ring")),
        subject="af_xdp",
        others=("array", "ringbuf", "mmap_ring"),
    ),
    _Statement(
        key="ring_beats_array",
        text="Rings shared with the kernel beat an array polled with syscalls (checked: the "
        "ring buffer and the mmap ring each exceed the array).",
        pairs=(("ringbuf", "array"), ("mmap_ring", "array")),
        subject="array",
        others=("ringbuf", "mmap_ring"),
    ),
)


def series_claims(source: str, points: Mapping[tuple[str, str], Point]) -> list[Claim]:
    """The paper's two statements checked on one series (``traffic`` is the paper's setup)."""
    series = {c: p for (s, c), p in points.items() if s == source and p.mpps is not None}
    return [_claim(statement, series, source) for statement in _STATEMENTS]


def _claim(statement: _Statement, series: Mapping[str, Point], source: str) -> Claim:
    """One statement on one series; a point limited by its source is a lower bound."""
    needed = (statement.subject, *statement.others)
    missing = [c for c in needed if c not in series]
    verdict: Verdict
    if missing:
        measured, verdict = f"no data for {', '.join(missing)}", "inconclusive"
    else:
        values = {c: float(series[c].mpps or 0.0) for c in needed}
        measured = _describe(values, statement.subject, statement.others)
        verdict = combine([beats(series[a], series[b]) for a, b in statement.pairs])
        bound = [c for c in needed if series[c].source_bound]
        if len(bound) == len(needed):
            measured += (
                f"; no channel ran out of room: the {_source_noun(source)} "
                "is the bottleneck, not the channels"
            )
        elif bound:
            measured += f"; limited by the {_source_noun(source)}: " + ", ".join(
                LABELS[c] for c in bound
            )
    paper_setup = source == "traffic"
    return Claim(
        id=f"fig13.{statement.key}" if paper_setup else f"fig13.{source}.{statement.key}",
        text=statement.text
        + ("" if paper_setup else f" [series: {SOURCE_LABELS.get(source, source)}]"),
        paper=_describe(paper.FIG13_THROUGHPUT_MPPS, statement.subject, statement.others),
        measured=measured,
        verdict=verdict,
    )


def _source_noun(source: str) -> str:
    return "sender" if source == "traffic" else "producer"


def _run_notes(
    params: Mapping[str, object],
    status: Mapping[str, object],
    run: RunInfo,
    points: Mapping[tuple[str, str], Point],
) -> list[str]:
    """Method, parameters, what differs on this testbed, and the recorded status."""
    notes = [METHOD]
    shown = ("duration_s", "payload_bytes", "slots", "wait", "rate_pps", "queue", "scale")
    notes.extend(parameters_note(params, shown))
    notes.append(
        "Series 'testrun' is not the paper's setup: no NIC or link, the program runs on live "
        "frames built by BPF_PROG_TEST_RUN on a producer CPU of the DUT, so the consumer can "
        "be the bottleneck. Its claims carry the id prefix fig13.testrun."
    )
    if run.testbed == "local":
        notes.append(
            "Local testbed: on veth, XDP runs in the sender's softirq on the sender's CPU, so "
            "the traffic series measures the generator plus the producer side, not the "
            "channels; the paper's 100 Gbps NIC offered 14.7 Mpps."
        )
    bound = [f"{s}/{c}" for (s, c), p in points.items() if p.source_bound]
    if bound:
        notes.append(
            "Limited by their source (delivered at least "
            f"{SOURCE_BOUND_FRACTION:.0%} of the payloads that reached the channel): "
            + ", ".join(bound)
        )
    notes.extend(status_note(status))
    return notes


_SERIES_COLOURS = {"traffic": figures.OURS_COLOUR, "testrun": "#55a868"}


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """Bars per channel (Mpps, log scale): each series of this run, the paper's beside."""
    if not report.data:
        return None
    testbed = figures.describe_testbed(run.testbed)
    order = list(dict.fromkeys(row["channel"] for row in report.table))
    series = []
    for source in dict.fromkeys(row["source"] for row in report.table):
        rows = [r for r in report.table if r["source"] == source]
        series.append(
            figures.BarSeries(
                label=f"this run, {SOURCE_LABELS.get(source, source)}",
                values={r["channel"]: r["mpps"] for r in rows},
                colour=_SERIES_COLOURS.get(source, "#8172b3"),
                marks={r["channel"]: r["sender_mpps"] for r in rows if r["sender_mpps"]},
                marks_label="offered by the source" if not series else "",
            )
        )
    series.append(
        figures.BarSeries(
            label=f"paper ({paper.TESTBED_LABEL})",
            values={c: paper.FIG13_THROUGHPUT_MPPS.get(c) for c in order},
            colour=figures.PAPER_COLOUR,
            hatch="//",
        )
    )
    return figures.category_bars(
        series,
        order,
        LABELS,
        ylabel="payloads taken by user space (Mpps, log scale)",
        title=f"Figure 13: kernel-to-user channels, 64 B payloads, {testbed}",
        log=True,
    )
