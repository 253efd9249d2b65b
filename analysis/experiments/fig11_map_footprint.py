"""Figure 11: memory footprint of collections (XDP per-flow counters, Mpps by flows).

Raw data (the playbook's contract, shared with Figure 12 through roles/map_traffic)::

    <exp>/params.json     {"parameter": "flows"|"zipf", "values": [...], "maps": [...],
                           "baseline": true, "flows", "window_s", "windows", ...}
    <exp>/raw/setup.json  {"perf": "supported" | "unsupported: <reason>", ...}
    <exp>/raw/<parameter>_<value>/udp_flood.txt           the generator's output
    <exp>/raw/<parameter>_<value>/<map>/flow_stats.json   {"reads": [{"dumped_at": s,
                           "entries": [{"key": 0, "value": [packets per CPU]}, ...]}], ...}
    <exp>/raw/<parameter>_<value>/<map>/perf.txt          ``perf stat -x, -I`` output (hosts
                                                          with hardware counters)
    <exp>/raw/perf.txt    ``unsupported: <reason>`` (hosts without: no per-point perf.txt)

``<map>`` is ``array``, ``hash``, ``lru_hash`` or ``none`` (the parse-only baseline);
``<value>`` is printed with ``%g`` (``flows_100000``, ``zipf_1.5``). Each pair of
consecutive reads of ``flow_stats`` (packets the program counted, summed over CPUs)
is one window; a point's throughput is the packets of all its windows over their
total time, its spread the slowest and fastest window.

The claims compare each collection's throughput relative to the parse-only
baseline measured at the same value (the machine's speed may change from value
to value), and take a difference as real only when it is larger than the spread
of the windows involved (relative, never below :data:`NOISE_FLOOR`); otherwise
the claim is inconclusive. On the local veth testbed the copy of every packet into the
DUT costs far more than a map access, so the verdicts are mostly inconclusive there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.parsers import ParseError, read_source
from analysis.results import (
    RunInfo,
    effective_status,
    parameters_note,
    read_json,
    read_params,
    read_status,
    status_note,
)

NAME = "fig11_map_footprint"
TITLE = "Figure 11 — memory footprint of collections (throughput by number of flows)"

#: Collections in the paper's order; ``none`` is the parse-only baseline.
MAP_ORDER = ("array", "hash", "lru_hash", "none")
MAP_LABELS = {
    "array": "Array",
    "hash": "Hash",
    "lru_hash": "LRU hash",
    "none": "Baseline (parse only)",
}
MAP_COLOURS = {"array": "#4c72b0", "hash": "#dd8452", "lru_hash": "#55a868", "none": "0.45"}
#: flow_stats keys (bpf_src/include/maps_flow.h).
STAT_PACKETS, STAT_NO_ROOM = 0, 2
#: The event behind Figure 11b.
L1_MISSES = "L1-dcache-load-misses"
#: Smallest relative difference ever taken as real, whatever the windows' spread.
NOISE_FLOOR = 0.05

METHOD = (
    "Throughput measured on the DUT: packets counted by the XDP program in the per-CPU "
    "map flow_stats between consecutive reads (bpf_map dumps, CLOCK_MONOTONIC), over the "
    "time between them; one point = all its windows, its spread = slowest and fastest "
    "window. 64-byte frames (with FCS) from udp_flood."
)
LOCAL_NOTE = (
    "Local testbed (veth): every packet is copied into the DUT before XDP runs, about "
    "1 µs against 10-50 ns for a map access, so rates are far below the paper's and "
    "the collections' differences mostly stay within the noise; two vCPUs shared with "
    "the controller. Only a hardware run can reproduce the figure's shape."
)


@dataclass(frozen=True)
class Point:
    """One collection at one value of the swept parameter."""

    map: str
    value: float
    windows_mpps: np.ndarray
    mpps: float
    no_room: int
    l1_per_packet: float | None

    @property
    def spread(self) -> float:
        """Relative spread of the windows: (fastest - slowest) / throughput."""
        if self.mpps <= 0:
            return float("inf")
        return float(np.ptp(self.windows_mpps)) / self.mpps


# --- reading the raw files --------------------------------------------------------------


def value_label(value: float) -> str:
    """The value as folder names spell it (``%g``: 100000, 0.5, 2)."""
    return f"{value:g}"


def point_dir(parameter: str, value: float, kind: str) -> str:
    """``flows_100000/hash``."""
    return f"{parameter}_{value_label(value)}/{kind}"


def packets_of(read: Mapping[str, Any], key: int = STAT_PACKETS) -> int:
    """flow_stats[key] of one read, summed over CPUs."""
    for entry in read.get("entries", []):
        if entry.get("key") == key:
            value = entry.get("value")
            return int(sum(value)) if isinstance(value, list) else int(value or 0)
    raise ParseError(f"flow_stats has no key {key}")


def window_rates(reads: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, float]:
    """Mpps of each window between consecutive reads, and of all of them together."""
    if len(reads) < 2:
        raise ParseError(f"{len(reads)} read(s) of flow_stats: a window needs two")
    times = np.array([float(r["dumped_at"]) for r in reads])
    packets = np.array([packets_of(r) for r in reads], dtype=float)
    if np.any(np.diff(times) <= 0):
        raise ParseError("reads of flow_stats are not in time order")
    if np.any(np.diff(packets) < 0):
        raise ParseError("the packet counter went down: reads of different programs?")
    rates = np.diff(packets) / np.diff(times) / 1e6
    return rates, float((packets[-1] - packets[0]) / (times[-1] - times[0]) / 1e6)


def parse_perf_intervals(source: str) -> tuple[dict[str, float], tuple[str, ...]]:
    """``perf stat -x, -I MS`` output: each counted event's rate (per second) over
    the intervals after the first (which includes perf's start), and the events
    perf could not count (``<not supported>``, ``<not counted>``)."""
    counts: dict[str, list[tuple[float, float]]] = {}
    unsupported: dict[str, None] = {}
    for line in read_source(source).splitlines():
        fields = line.strip().split(",")
        if len(fields) < 4 or line.lstrip().startswith("#"):
            continue
        try:
            stamp = float(fields[0])
        except ValueError:
            continue
        event, count = fields[3], fields[1]
        if count.startswith("<"):
            unsupported[event] = None
            continue
        try:
            counts.setdefault(event, []).append((stamp, float(count)))
        except ValueError:
            raise ParseError(f"perf interval line {line.strip()[:60]!r}") from None
    if not counts and not unsupported:
        raise ParseError("no 'time,count,unit,event' lines of perf stat -x, -I")
    return {event: _interval_rate(samples) for event, samples in counts.items()}, tuple(unsupported)


def _interval_rate(samples: list[tuple[float, float]]) -> float:
    """Count per second over the intervals after the first (all, if there is one)."""
    stamps = np.array([0.0, *(s for s, _ in samples)])
    values = np.array([c for _, c in samples])
    lengths = np.diff(stamps)
    if len(values) > 1:
        lengths, values = lengths[1:], values[1:]
    return float(values.sum() / lengths.sum())


def l1_per_packet(path: Path, mpps: float) -> float | None:
    """L1 misses per packet from a point's perf.txt; ``None`` without counts (no file,
    ``unsupported: ...``, or the event not counted)."""
    if not path.is_file():
        return None
    text = read_source(path)
    if text.startswith("unsupported:"):
        return None
    rates, _ = parse_perf_intervals(text)
    return rates[L1_MISSES] / (mpps * 1e6) if L1_MISSES in rates and mpps > 0 else None


def load_point(exp_dir: Path, parameter: str, value: float, kind: str) -> Point:
    """Read one point's flow_stats.json (and perf.txt); ParseError if unusable."""
    folder = exp_dir / "raw" / point_dir(parameter, value, kind)
    try:
        data = json.loads((folder / "flow_stats.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ParseError(f"flow_stats.json is not JSON: {err}") from None
    reads = data.get("reads", [])
    rates, mpps = window_rates(reads)
    no_room = packets_of(reads[-1], STAT_NO_ROOM) - packets_of(reads[0], STAT_NO_ROOM)
    return Point(kind, value, rates, mpps, no_room, l1_per_packet(folder / "perf.txt", mpps))


def planned(params: Mapping[str, Any], parameter: str) -> list[tuple[float, str]]:
    """(value, collection) of every point params.json promises, baseline included."""
    values = [float(v) for v in params.get("values", [])]
    maps = [str(m) for m in params.get("maps", [])]
    kinds = ordered_maps(maps) + (["none"] if params.get("baseline") else [])
    points = [(v, m) for v in values for m in kinds]
    if params.get("parameter", parameter) != parameter:
        raise ParseError(f"params.json sweeps {params.get('parameter')}, not {parameter}")
    return points


def ordered_maps(maps: Sequence[str]) -> list[str]:
    """The paper's collections first, in its order; unknown ones after."""
    known = [m for m in MAP_ORDER if m in maps]
    return known + [m for m in maps if m not in known]


def load_points(
    exp_dir: Path, params: Mapping[str, Any], parameter: str
) -> tuple[list[tuple[float, str]], dict[tuple[float, str], Point], list[str]]:
    """Planned points, the points with usable data, and notes on the others."""
    plan = planned(params, parameter)
    points: dict[tuple[float, str], Point] = {}
    notes: list[str] = []
    for value, kind in plan:
        where = f"raw/{point_dir(parameter, value, kind)}"
        try:
            points[(value, kind)] = load_point(exp_dir, parameter, value, kind)
        except FileNotFoundError:
            notes.append(f"{where}: no data (flow_stats.json is missing)")
        except (ParseError, OSError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
            notes.append(f"{where}: not usable: {err}")
    return plan, points, notes


# --- table, claims, notes ---------------------------------------------------------------


def rounded(value: float | None, digits: int = 3) -> float | None:
    """``value`` rounded for the table; ``None`` stays ``None``."""
    return None if value is None else round(float(value), digits)


#: What the L1-misses column says on a host without hardware counters.
NOT_SUPPORTED = "not supported here"


def point_row(
    category: str,
    value: float,
    kind: str,
    point: Point | None,
    baseline: Point | None,
    paper_value: float | None,
    paper_baseline: float,
    perf: str,
) -> dict[str, object]:
    """One row: our throughput, its spread and its ratio to the baseline of the same
    value, beside the paper's (``None``: not measured). Without hardware counters
    (``perf`` is not ``supported``) the L1 column says so."""
    value_out: float | int = int(value) if category == "flows" else value
    l1: object = NOT_SUPPORTED if perf != "supported" else None
    if point and point.l1_per_packet is not None:
        l1 = rounded(point.l1_per_packet, 2)
    return {
        "map": kind,
        category: value_out,
        "mpps": rounded(point.mpps) if point else None,
        "min_mpps": rounded(float(point.windows_mpps.min())) if point else None,
        "max_mpps": rounded(float(point.windows_mpps.max())) if point else None,
        "windows": int(point.windows_mpps.size) if point else 0,
        "of_baseline": (
            rounded(point.mpps / baseline.mpps)
            if point and baseline and baseline.mpps > 0
            else None
        ),
        "l1_misses_per_pkt": l1,
        "paper_mpps": paper_value,
        "paper_of_baseline": rounded(paper_value / paper_baseline) if paper_value else None,
    }


def paper_mpps(
    kind: str,
    value: float,
    values: Sequence[float],
    reference: Mapping[str, Sequence[float]],
    baseline: float,
) -> float | None:
    """The paper's Mpps of a point: the baseline for ``none``, ``None`` where it has none."""
    if kind == "none":
        return baseline
    series = dict(zip(map(float, values), reference.get(kind, ()), strict=False))
    return series.get(float(value))


@dataclass(frozen=True)
class Level:
    """What a claim compares for one point: its throughput, relative to the baseline
    measured at the same value when the sweep has one, and the noise of that number."""

    value: float
    spread: float


def levels(
    points: Mapping[tuple[float, str], Point], kinds: Sequence[str], values: Sequence[float]
) -> tuple[dict[tuple[float, str], Level], bool]:
    """Levels of the ``kinds`` at ``values`` (those measured), and whether they are
    relative to each value's baseline: only when every value has one, since the
    machine's speed may change from value to value (it does on a shared VM) and the
    baseline, measured in between, tracks it."""
    relative = all((v, "none") in points and points[(v, "none")].mpps > 0 for v in values)
    out = {}
    for value in values:
        for kind in kinds:
            point = points.get((value, kind))
            if point is None:
                continue
            if relative:
                base = points[(value, "none")]
                out[(value, kind)] = Level(point.mpps / base.mpps, point.spread + base.spread)
            else:
                out[(value, kind)] = Level(point.mpps, point.spread)
    return out, relative


def noise(*compared: Level) -> float:
    """Relative noise of a comparison: the largest spread involved, at least the floor."""
    return max([NOISE_FLOOR, *(c.spread for c in compared)])


def relative_change(before: Level, after: Level) -> float:
    """(after - before) / before."""
    return (after.value - before.value) / before.value


def change_text(changes: Mapping[str, float], span: str, noise_pct: float | None = None) -> str:
    """``"100 -> 100000 flows: Array -10.8%, Hash -30.5% (noise 5%)"``."""
    parts = ", ".join(f"{MAP_LABELS.get(k, k)} {v:+.1%}" for k, v in changes.items())
    tail = f" (noise {noise_pct:.0%})" if noise_pct is not None else ""
    return f"{span}: {parts}{tail}"


#: How a measured change says what it was computed on.
AGAINST_BASELINE = ", each against the baseline of its value"


def footprint_claim(points: Mapping[tuple[float, str], Point], first: float, last: float) -> Claim:
    """ "Throughput falls as flows grow, most for the hash and LRU maps"."""
    span = f"{first:g} -> {last:g} flows"
    paper_changes = {k: -paper.FIG11_DROP_PCT[k] / 100 for k in ("array", "hash", "lru_hash")}
    text = (
        "Throughput falls as the number of flows grows, most for the hash and LRU maps "
        "(checked: from the fewest to the most flows, each collection's throughput relative "
        "to the parse-only baseline of the same number of flows; the hash and LRU maps lose "
        "more than the noise, and more than the array by more than the noise)."
    )
    kinds = ("array", "hash", "lru_hash")
    missing = sorted({k for k in kinds for v in (first, last) if (v, k) not in points})
    if first == last or missing:
        why = "one number of flows" if first == last else f"no data for {', '.join(missing)}"
        return Claim(
            "fig11.throughput_falls_with_flows",
            text,
            change_text(paper_changes, span),
            why,
            "inconclusive",
        )
    level, relative = levels(points, kinds, (first, last))
    changes = {k: relative_change(level[(first, k)], level[(last, k)]) for k in kinds}
    threshold = noise(*level.values())
    keyed = ("hash", "lru_hash")
    verdict: Verdict
    if any(changes[k] > threshold for k in keyed) or any(
        changes["array"] - changes[k] < -threshold for k in keyed
    ):
        verdict = "fails"  # a keyed map gains, or loses clearly less than the array
    elif all(changes[k] < -threshold and changes[k] - changes["array"] < -threshold for k in keyed):
        verdict = "holds"
    else:
        verdict = "inconclusive"
    return Claim(
        "fig11.throughput_falls_with_flows",
        text,
        change_text(paper_changes, span),
        change_text(changes, span + (AGAINST_BASELINE if relative else ""), threshold),
        verdict,
    )


def l1_claim(
    points: Mapping[tuple[float, str], Point], first: float, last: float, perf: str
) -> Claim:
    """Figure 11b: L1 misses per packet rise with the number of flows."""
    text = (
        "L1 data cache misses per packet rise with the number of flows (Figure 11b; "
        "checked: more misses per packet at the most flows than at the fewest, for each "
        "collection)."
    )
    paper_text = "rise with flows (perf stat on the core running the XDP softirq)"
    if perf != "supported":
        return Claim(
            "fig11.l1_misses_rise", text, paper_text, f"not supported here ({perf})", "inconclusive"
        )
    pairs = {
        k: (points[(first, k)].l1_per_packet, points[(last, k)].l1_per_packet)
        for k in ("array", "hash", "lru_hash")
        if (first, k) in points and (last, k) in points
    }
    counted = {k: (a, b) for k, (a, b) in pairs.items() if a is not None and b is not None}
    if not counted or first == last:
        return Claim(
            "fig11.l1_misses_rise", text, paper_text, "no counts of L1 misses", "inconclusive"
        )
    measured = ", ".join(f"{MAP_LABELS[k]} {a:.2f} -> {b:.2f}" for k, (a, b) in counted.items())
    verdict: Verdict = "holds" if all(b > a for a, b in counted.values()) else "fails"
    return Claim(
        "fig11.l1_misses_rise",
        text,
        paper_text,
        f"{first:g} -> {last:g} flows, misses per packet: {measured}",
        verdict,
    )


def spread_note(points: Mapping[tuple[float, str], Point]) -> str | None:
    """How much the windows of a point differed: the noise the verdicts are held to."""
    spreads = [p.spread for p in points.values() if np.isfinite(p.spread)]
    if not spreads:
        return None
    return (
        f"Noise: the windows of a point differ by {np.median(spreads):.1%} (median over "
        f"{len(spreads)} points, at most {max(spreads):.1%}); differences under the compared "
        f"points' spread, or under {NOISE_FLOOR:.0%}, are inconclusive."
    )


def common_notes(
    exp_dir: Path,
    params: Mapping[str, Any],
    status: Mapping[str, Any],
    run: RunInfo,
    points: Mapping[tuple[float, str], Point],
) -> list[str]:
    """Method, parameters, perf, noise, full maps, the testbed and the recorded status."""
    notes = [METHOD]
    shown = (
        "window_s",
        "windows",
        "warmup_s",
        "frame_bytes",
        "fill_pct",
        "rx_cpu",
        "generator_cpu",
        "threaded_napi",
        "scale",
    )
    notes.extend(parameters_note(params, shown))
    perf = perf_status(exp_dir)
    notes.append(
        "Cache misses (perf stat): "
        + (
            "counted on the CPU running the program."
            if perf == "supported"
            else f"not supported here — {perf}."
        )
    )
    if note := spread_note(points):
        notes.append(note)
    full = [f"{p.map} at {p.value:g}: {p.no_room}" for p in points.values() if p.no_room]
    if full:
        notes.append("Packets that found the hash map full (map too small): " + ", ".join(full))
    if run.testbed == "local":
        notes.append(LOCAL_NOTE)
    notes.extend(status_note(status))
    return notes


def perf_status(exp_dir: Path) -> str:
    """``supported`` or ``unsupported: <reason>`` as the sweep recorded it."""
    try:
        setup = read_json(exp_dir / "raw" / "setup.json")
    except ValueError as err:
        return f"unknown (raw/setup.json: {err})"
    return str(setup.get("perf", "unknown (raw/setup.json is missing)"))


@dataclass(frozen=True)
class Sweep:
    """What distinguishes Figures 11 and 12: the swept parameter and the paper's values."""

    name: str
    title: str
    parameter: str  # as folders and params.json name it: flows, zipf
    category: str  # as table rows name it: flows, zipf_s
    paper_values: Sequence[float]
    paper_mpps: Mapping[str, Sequence[float]]
    paper_baseline_mpps: float


ClaimsOf = Callable[[Mapping[tuple[float, str], Point], Sequence[float], str], list[Claim]]


def sweep_report(
    exp_dir: Path, run: RunInfo, sweep: Sweep, claims_of: ClaimsOf
) -> ExperimentReport:
    """Table, claims and notes of a Figure 11/12 experiment folder."""
    params, status = read_params(exp_dir), read_status(exp_dir)
    plan, points, notes = load_points(exp_dir, params, sweep.parameter)
    perf = perf_status(exp_dir)
    rows = [
        point_row(
            sweep.category,
            value,
            kind,
            points.get((value, kind)),
            points.get((value, "none")),
            paper_mpps(
                kind, value, sweep.paper_values, sweep.paper_mpps, sweep.paper_baseline_mpps
            ),
            sweep.paper_baseline_mpps,
            perf,
        )
        for value, kind in plan
    ]
    values = sorted({v for v, _ in plan})
    return ExperimentReport(
        name=sweep.name,
        title=sweep.title,
        status=effective_status(
            status.get("status"),
            [point_dir(sweep.parameter, v, k) for v, k in plan],
            [point_dir(sweep.parameter, v, k) for v, k in points],
        ),
        table=rows,
        claims=claims_of(points, values, perf) if values else [],
        notes=[*common_notes(exp_dir, params, status, run, points), *notes],
        data={f"{k}/{v:g}": p.windows_mpps for (v, k), p in points.items()},
    )


SWEEP = Sweep(
    name=NAME,
    title=TITLE,
    parameter="flows",
    category="flows",
    paper_values=paper.FIG11_FLOWS,
    paper_mpps=paper.FIG11_THROUGHPUT_MPPS,
    paper_baseline_mpps=paper.FIG11_BASELINE_MPPS,
)


def claims(
    points: Mapping[tuple[float, str], Point], values: Sequence[float], perf: str
) -> list[Claim]:
    """Figure 11's statements, between the fewest and the most flows measured."""
    return [
        footprint_claim(points, values[0], values[-1]),
        l1_claim(points, values[0], values[-1], perf),
    ]


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Throughput of each collection by number of flows, and the paper's claims."""
    return sweep_report(exp_dir, run, SWEEP, claims)


# --- figure -----------------------------------------------------------------------------


def sweep_figure(
    rows: Sequence[Mapping[str, Any]],
    sweep: Sweep,
    *,
    xlabel: str,
    title: str,
    testbed: str,
) -> Figure | None:
    """Two panels with the same axes: this run's Mpps (bars, windows' range as error
    bars; the baseline measured at every value is a grey bar) and the paper's (its
    baseline, measured once, a dashed line), by value of the swept parameter."""
    category = sweep.category
    measured = [r for r in rows if r["mpps"] is not None]
    if not measured:
        return None
    fig, _ = figures.new_figure(width=12.8, height=4.8)
    fig.clear()
    ours_ax, paper_ax = fig.subplots(1, 2)
    values = sorted({float(r[category]) for r in rows})
    kinds = [k for k in MAP_ORDER if any(r["map"] == k for r in rows)]
    _bars(ours_ax, measured, category, values, kinds, with_errors=True)
    ours_ax.set_title(
        f"this run: {testbed}; error bars: slowest to fastest window", fontsize="medium"
    )
    paper_kinds = [k for k in kinds if k in sweep.paper_mpps]
    paper_rows = [
        {"map": k, category: v, "mpps": m}
        for k in paper_kinds
        for v, m in zip(sweep.paper_values, sweep.paper_mpps[k], strict=True)
    ]
    _bars(
        paper_ax,
        paper_rows,
        category,
        [float(v) for v in sweep.paper_values],
        paper_kinds,
        with_errors=False,
    )
    _baseline(paper_ax, sweep.paper_baseline_mpps)
    paper_ax.set_title(f"paper: {paper.TESTBED_LABEL}")
    for ax in (ours_ax, paper_ax):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("throughput (Mpps)")
        ax.set_ylim(top=ax.get_ylim()[1] * 1.08)
    legend = dict(zip(*reversed(ours_ax.get_legend_handles_labels()), strict=True))
    legend.update(zip(*reversed(paper_ax.get_legend_handles_labels()), strict=True))
    fig.legend(
        list(legend.values()),
        list(legend),
        loc="outside lower center",
        ncol=len(legend),
        frameon=False,
    )
    fig.suptitle(title)
    return fig


def _bars(
    ax, rows, category: str, values: Sequence[float], kinds: Sequence[str], *, with_errors: bool
) -> None:
    """Grouped bars: one group per value, one bar per collection."""
    width = 0.8 / max(1, len(kinds))
    for i, kind in enumerate(kinds):
        by_value = {float(r[category]): r for r in rows if r["map"] == kind}
        present = [v for v in values if v in by_value]
        mpps = np.array([by_value[v]["mpps"] for v in present], dtype=float)
        errors = None
        if with_errors:
            low = np.array([by_value[v]["min_mpps"] for v in present], dtype=float)
            high = np.array([by_value[v]["max_mpps"] for v in present], dtype=float)
            errors = np.vstack([mpps - low, high - mpps])
        ax.bar(
            [values.index(v) + (i - (len(kinds) - 1) / 2) * width for v in present],
            mpps,
            yerr=errors,
            capsize=3,
            width=width,
            color=MAP_COLOURS[kind],
            label=MAP_LABELS[kind],
        )
    ax.set_xticks(range(len(values)), [_tick(v) for v in values])


def _tick(value: float) -> str:
    """``100``, ``5K``, ``100K``; ``0.5`` for Zipf exponents."""
    if value >= 1000 and value % 1000 == 0:
        return f"{value / 1000:g}K"
    return f"{value:g}"


def _baseline(ax, mpps: float) -> None:
    """The paper's parse-only throughput (measured once) as a dashed line, its value on it."""
    ax.axhline(
        mpps,
        color=MAP_COLOURS["none"],
        linestyle="--",
        linewidth=1.2,
        label="paper's baseline (parse only, measured once)",
    )
    ax.annotate(
        f"{mpps:.3g}",
        (1.0, mpps),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 3),
        textcoords="offset points",
        ha="right",
        va="bottom",
        color=MAP_COLOURS["none"],
    )


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """Figure 11a: Mpps by number of flows per collection, beside the paper's."""
    testbed = figures.describe_testbed(run.testbed)
    return sweep_figure(
        report.table,
        SWEEP,
        xlabel="flows (uniform traffic)",
        title=f"Figure 11: throughput by number of flows, {testbed}",
        testbed=testbed,
    )
