"""Table 1: time for a packet to reach each hook, and the cost of preparing each hook.

Raw data (the playbook's contract)::

    table1_hook_cost/params.json        {"method": "stamp|fentry|patched_kernel", "probe",
                                         "hooks", "rounds", "reach_rate", "prep_rate", ...}
    table1_hook_cost/status.json        {"status", "reason"}
    raw/reach_<hook>/samples.txt        reach_server: "It takes N to reach TC" (also
                                        SOCKET_QUEUE, SK_SKB, SOCKET_READY, SOCKET) and
                                        "It takes N to run SK_SKB" (the SK_SKB span), N in ns
    raw/prep_<hook>_{with,without}_r<k>/samples.txt   stamp method, round k
    raw/prep_sk_skb_r<k>/samples.txt    stamp method: the SK_SKB span at the preparation rate
    raw/prep_<hook>/timer.txt           fentry method: hook_timer "It takes N to run TC"
    raw/reach_<hook>/dmesg.txt          patched kernel: its "It takes N to reach HOOK" lines
    raw/prep_<hook>/dmesg.txt           patched kernel: its preparation lines
    raw/prep_stats/programs.json        bpftool prog show of the empty programs, with
                                        run_time_ns and run_cnt (bpf_stats on)

Reach: XDP is the origin (the stamp is written there). Preparation, by method:
fentry times the kernel function around the program; stamp takes the shift of a
downstream stamp when an empty program is attached (TC: SOCKET_QUEUE, XDP: TC with
the sender's stamp) over rounds of with/without runs, and for SK_SKB the in-kernel
span from the datagram's queueing to the verdict's result being queued; each minus
the empty program's own run time.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.parsers import ParseError, read_source
from analysis.results import (
    RunInfo,
    effective_status,
    parameters_note,
    read_params,
    read_status,
    status_note,
)
from analysis.stats import iqr, median
from analysis.tables import format_number

NAME = "table1_hook_cost"
TITLE = "Table 1 — time to reach each hook and the cost of preparing it"

#: Rows in the paper's order; socket_queue and socket_ready are stock-kernel points of ours.
ROWS = ("xdp", "tc", "sk_skb", "socket_queue", "socket")
LABELS = {
    "xdp": "XDP",
    "tc": "TC",
    "sk_skb": "SK_SKB",
    "socket_queue": "socket queue (kernel)",
    "socket_ready": "SK_SKB result queued",
    "socket": "Socket",
}
PREP_HOOKS = ("xdp", "tc", "sk_skb")
#: Which empty program each preparation cost subtracts, by method.
PROGRAM = {
    "stamp": {"xdp": "xdp_pass", "tc": "tc_pass", "sk_skb": "sk_skb_reach"},
    "fentry": {"xdp": "xdp_pass", "tc": "tc_pass", "sk_skb": "sk_skb_pass"},
}
#: The claim: SK_SKB's preparation is at least this many times XDP's and TC's.
ORDER_OF_MAGNITUDE = 10.0
#: A difference is resolved when it exceeds this many standard errors.
SIGNIFICANCE_SE = 2.0
#: Standard error of a median: sqrt(pi/2) * sigma / sqrt(n), sigma = IQR / 1.349 (normal).
MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2) / 1.349

_LINE = re.compile(r"It takes (-?\d+(?:\.\d+)?) to (reach|run) (\S+)")


def parse_lines(source: str | Path) -> dict[tuple[str, str], np.ndarray]:
    """``It takes N to reach|run HOOK`` lines (ours or a kernel's, prefixes ignored).

    Returns ``{(kind, hook): values}`` with kind ``reach`` or ``run`` and the hook
    lower-cased (``tc``, ``sk_skb``, ``socket_queue``, ...).
    """
    found: dict[tuple[str, str], list[float]] = {}
    for value, kind, hook in _LINE.findall(read_source(source)):
        found.setdefault((kind, hook.lower()), []).append(float(value))
    if not found:
        raise ParseError("no 'It takes N to reach|run HOOK' lines found")
    return {key: np.array(values) for key, values in found.items()}


def median_se(values: np.ndarray) -> float:
    """Standard error of the median, from the IQR (robust to the long tails here)."""
    return MEDIAN_SE_FACTOR * iqr(values) / math.sqrt(values.size)


@dataclass
class Reach:
    """The time to reach one point: median, IQR, count and the median's standard error."""

    median: float
    iqr: float
    n: int
    se: float

    @classmethod
    def of(cls, values: np.ndarray) -> Reach:
        return cls(median(values), iqr(values), int(values.size), median_se(values))


@dataclass
class Prep:
    """A preparation cost: ``ns`` within [``low``, ``high``].

    ``raw`` is what the method measured before the program's own time ``program`` was
    taken off. ``resolved`` is false when the run could not estimate its own noise (one
    round); ``bound_only`` when the value can only be an upper bound (XDP on a veth).
    """

    ns: float
    resolution: float
    raw: float
    program: float | None
    resolved: bool = True
    bound_only: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def low(self) -> float:
        return 0.0 if self.bound_only else self.ns - self.resolution

    @property
    def high(self) -> float:
        return self.ns + self.resolution


class Runs:
    """The parsed samples of every run folder below raw/, read once."""

    def __init__(self, exp_dir: Path) -> None:
        self.raw = exp_dir / "raw"
        self.notes: list[str] = []
        self._cache: dict[tuple[str, str], dict[tuple[str, str], np.ndarray] | None] = {}

    def lines(self, run: str, name: str = "samples.txt") -> dict[tuple[str, str], np.ndarray]:
        key = (run, name)
        if key not in self._cache:
            path = self.raw / run / name
            try:
                self._cache[key] = parse_lines(path) if path.is_file() else None
            except (ParseError, OSError, UnicodeDecodeError) as err:
                self.notes.append(f"raw/{run}/{name} not usable: {err}")
                self._cache[key] = None
        return self._cache[key] or {}

    def values(
        self, run: str, kind: str, hook: str, name: str = "samples.txt"
    ) -> np.ndarray | None:
        return self.lines(run, name).get((kind, hook))

    def program_ns(self, program: str) -> float | None:
        """Mean run time of an empty program (bpf_stats run_time_ns / run_cnt)."""
        path = self.raw / "prep_stats" / "programs.json"
        try:
            stats = json.loads(path.read_text(encoding="utf-8"))
            shown = stats[program]
            return shown["run_time_ns"] / shown["run_cnt"] if shown.get("run_cnt") else None
        except (OSError, ValueError, KeyError, TypeError):
            return None


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Reach and preparation per hook beside the paper's Table 1, and the two claims."""
    params, status = read_params(exp_dir), read_status(exp_dir)
    method = str(params.get("method", "stamp"))
    hooks = [str(h) for h in params.get("hooks", ("xdp", "tc", "sk_skb", "socket"))]
    runs = Runs(exp_dir)
    reach = reach_points(runs, method)
    prep = prep_costs(runs, method, int(params.get("rounds", 1) or 1), run.testbed)
    rows = [r for r in ROWS if r in hooks or (r == "socket_queue" and "socket" in hooks)]
    measured = [h for h in hooks if h in reach or h in prep]
    data = {LABELS[k]: v for k, v in reach_samples(runs, method).items()}
    return ExperimentReport(
        name=NAME,
        title=TITLE,
        status=effective_status(status.get("status"), hooks, measured),
        table=[table_row(r, reach.get(r), prep.get(r)) for r in rows],
        claims=[reach_order(reach), sk_skb_prep_order(prep)],
        notes=[*run_notes(params, status, run, method), *prep_notes(prep), *runs.notes],
        data=data,
    )


# --- reach -------------------------------------------------------------------------------

#: (run folder, log hook) of each reach row, by method family.
REACH_SOURCES = {
    "tc": ("reach_tc", "tc"),
    "sk_skb": ("reach_sk_skb", "sk_skb"),
    "socket_queue": ("reach_socket", "socket_queue"),
    "socket_ready": ("reach_sk_skb", "socket_ready"),
    "socket": ("reach_socket", "socket"),
}


def reach_samples(runs: Runs, method: str) -> dict[str, np.ndarray]:
    """Reach samples (ns) of each row that has them."""
    name = "dmesg.txt" if method == "patched_kernel" else "samples.txt"
    out = {}
    for row, (folder, hook) in REACH_SOURCES.items():
        values = runs.values(folder, "reach", hook, name)
        if values is not None and values.size:
            out[row] = values
    return out


def reach_points(runs: Runs, method: str) -> dict[str, Reach]:
    """Median, IQR and standard error of each reach row; XDP is the origin."""
    points = {row: Reach.of(values) for row, values in reach_samples(runs, method).items()}
    if points:
        points["xdp"] = Reach(0.0, 0.0, 0, 0.0)
    return points


def reach_order(reach: Mapping[str, Reach]) -> Claim:
    """XDP < TC < SK_SKB < socket, each step larger than its noise."""
    order = ("xdp", "tc", "sk_skb", "socket")
    claim = {
        "id": "table1.reach_order",
        "text": "A packet reaches XDP first, then TC, then SK_SKB, then the socket "
        "(checked: each median above the previous one by more than its noise).",
        "paper": " < ".join(f"{LABELS[h]} {paper.TABLE1_REACH_MEDIAN_NS[h]:.0f}" for h in order)
        + " ns",
    }
    missing = [h for h in order if h not in reach]
    if missing:
        return Claim(**claim, measured=f"no data for {', '.join(missing)}", verdict="inconclusive")
    measured = " < ".join(f"{LABELS[h]} {reach[h].median:.0f}" for h in order) + " ns"
    steps = []
    for before, after in itertools.pairwise(order):
        gap = reach[after].median - reach[before].median
        noise = SIGNIFICANCE_SE * math.hypot(reach[after].se, reach[before].se)
        steps.append((before, after, gap, noise))
    verdict: Verdict
    if all(gap > noise for *_, gap, noise in steps):
        verdict = "holds"
    elif any(gap < -noise for *_, gap, noise in steps):
        verdict = "fails"
        measured += "; out of order: " + ", ".join(
            f"{LABELS[a]} before {LABELS[b]}" for a, b, gap, noise in steps if gap < -noise
        )
    else:
        verdict = "inconclusive"
        measured += "; within the noise: " + ", ".join(
            f"{LABELS[a]}/{LABELS[b]}" for a, b, gap, noise in steps if abs(gap) <= noise
        )
    return Claim(**claim, measured=measured, verdict=verdict)


# --- preparation -----------------------------------------------------------------------------


def prep_costs(runs: Runs, method: str, rounds: int, testbed: str) -> dict[str, Prep]:
    """The preparation cost of each hook the method measured."""
    if method == "stamp":
        costs = {
            "tc": differential(runs, "tc", "socket_queue", rounds),
            "xdp": differential(runs, "xdp", "tc", rounds),
            "sk_skb": sk_skb_span(runs, rounds),
        }
        if costs["xdp"] and testbed == "local":
            costs["xdp"].bound_only = True
            costs["xdp"].notes.append(
                "on a veth, attaching XDP also makes the veth copy each skb into a page before "
                "the program runs, which a NIC driver does not: an upper bound"
            )
    elif method == "fentry":
        costs = {h: timed(runs, h, f"prep_{h}", "timer.txt") for h in PREP_HOOKS}
    else:
        costs = {h: timed(runs, h, f"prep_{h}", "dmesg.txt") for h in PREP_HOOKS}
    for hook, cost in costs.items():
        if cost is None:
            continue
        program = PROGRAM.get(method, {}).get(hook)
        cost.program = runs.program_ns(program) if program else None
        if cost.program is not None:
            cost.ns = cost.raw - cost.program
        elif method in PROGRAM:
            cost.notes.append(
                "the empty program's own time is unknown (no prep_stats): not taken off"
            )
    return {hook: cost for hook, cost in costs.items() if cost is not None}


def _spread(deltas: Sequence[float], stat_se: Sequence[float]) -> tuple[float, bool]:
    """Half-width of the estimate of the mean of ``deltas`` and whether it saw the drift."""
    statistical = SIGNIFICANCE_SE * float(np.mean(stat_se)) / math.sqrt(len(stat_se))
    if len(deltas) < 2:
        return statistical, False
    drift = SIGNIFICANCE_SE * float(np.std(deltas, ddof=1)) / math.sqrt(len(deltas))
    return max(statistical, drift), True


def differential(runs: Runs, hook: str, point: str, rounds: int) -> Prep | None:
    """Mean over rounds of (median at ``point`` with the empty program - without it)."""
    deltas, errors = [], []
    for k in range(1, rounds + 1):
        with_ = runs.values(f"prep_{hook}_with_r{k}", "reach", point)
        without = runs.values(f"prep_{hook}_without_r{k}", "reach", point)
        if with_ is None or without is None or not with_.size or not without.size:
            continue
        deltas.append(median(with_) - median(without))
        errors.append(math.hypot(median_se(with_), median_se(without)))
    if not deltas:
        return None
    resolution, resolved = _spread(deltas, errors)
    raw = float(np.mean(deltas))
    cost = Prep(ns=raw, resolution=resolution, raw=raw, program=None, resolved=resolved)
    cost.notes.append(
        f"shift of the {LABELS.get(point, point)} median over {len(deltas)} round(s): "
        + ", ".join(f"{d:.0f}" for d in deltas)
        + " ns"
    )
    if not resolved:
        cost.notes.append("one round: the drift between runs is not measured")
    return cost


def sk_skb_span(runs: Runs, rounds: int) -> Prep | None:
    """Mean over rounds of the median in-kernel span of the SK_SKB path."""
    spans, errors = [], []
    for k in range(1, rounds + 1):
        values = runs.values(f"prep_sk_skb_r{k}", "run", "sk_skb")
        if values is not None and values.size:
            spans.append(median(values))
            errors.append(median_se(values))
    if not spans:
        return None
    resolution, resolved = _spread(spans, errors)
    raw = float(np.mean(spans))
    cost = Prep(ns=raw, resolution=resolution, raw=raw, program=None, resolved=resolved)
    cost.notes.append(
        "span from the datagram's queueing to the verdict's result being queued "
        "(dequeue, context, program, psock queueing): "
        + ", ".join(f"{s:.0f}" for s in spans)
        + " ns"
    )
    return cost


def timed(runs: Runs, hook: str, folder: str, name: str) -> Prep | None:
    """Median of directly timed spans (hook_timer's fentry/fexit or the patched kernel)."""
    values = runs.values(folder, "run", hook, name)
    if values is None or not values.size:
        return None
    raw = median(values)
    return Prep(ns=raw, resolution=SIGNIFICANCE_SE * median_se(values), raw=raw, program=None)


def _bounds(cost: Prep) -> str:
    return f"{cost.ns:.0f} ns [{cost.low:.0f}, {cost.high:.0f}]"


def sk_skb_prep_order(prep: Mapping[str, Prep]) -> Claim:
    """SK_SKB's preparation is at least ORDER_OF_MAGNITUDE times XDP's and TC's.

    Holds when SK_SKB's lower bound reaches that many times the others' upper bounds;
    fails when its upper bound stays below that many times a lower bound of another
    (a bound-only value has no lower bound); otherwise, and when a value could not
    estimate its own noise, the method cannot tell: inconclusive.
    """
    reference = paper.TABLE1_PREPARATION_NS
    claim = {
        "id": "table1.sk_skb_prep_order_of_magnitude",
        "text": "Preparing SK_SKB costs about an order of magnitude more than preparing XDP "
        f"or TC (checked: at least {ORDER_OF_MAGNITUDE:.0f} times both).",
        "paper": f"SK_SKB {reference['sk_skb']} ns, XDP {reference['xdp']} ns, "
        f"TC {reference['tc']} ns "
        f"({reference['sk_skb'] / max(reference['xdp'], reference['tc']):.0f} times)",
    }
    missing = [h for h in PREP_HOOKS if h not in prep]
    if missing:
        return Claim(**claim, measured=f"no data for {', '.join(missing)}", verdict="inconclusive")
    sk, others = prep["sk_skb"], {h: prep[h] for h in ("xdp", "tc")}
    measured = ", ".join(f"{LABELS[h]} {_bounds(prep[h])}" for h in PREP_HOOKS)
    unresolved = [h for h in PREP_HOOKS if not prep[h].resolved]
    verdict: Verdict
    if sk.low >= ORDER_OF_MAGNITUDE * max(max(o.high, 0.0) for o in others.values()):
        verdict = "holds"
    elif any(o.low > 0 and sk.high < ORDER_OF_MAGNITUDE * o.low for o in others.values()):
        verdict = "fails"
    else:
        verdict = "inconclusive"
        why = [
            f"{LABELS[h]}'s interval times {ORDER_OF_MAGNITUDE:.0f} overlaps SK_SKB's"
            for h, o in others.items()
            if ORDER_OF_MAGNITUDE * max(o.high, 0.0) > sk.low
        ]
        measured += "; " + "; ".join(why or ["intervals overlap"])
    if unresolved and verdict != "inconclusive":
        measured += f"; {', '.join(LABELS[h] for h in unresolved)} from one round only"
        verdict = "inconclusive"
    return Claim(**claim, measured=measured, verdict=verdict)


# --- table, notes, figure -------------------------------------------------------------------


def table_row(row: str, reach: Reach | None, prep: Prep | None) -> dict[str, object]:
    """Reach (median ± IQR) and preparation (with its interval) beside the paper's."""

    def rounded(value: float | None) -> float | None:
        return round(value, 1) if value is not None else None

    return {
        "hook": row,
        "reach_n": reach.n if reach else 0,
        "reach_median_ns": rounded(reach.median) if reach else None,
        "reach_iqr_ns": rounded(reach.iqr) if reach and reach.n else None,
        "prep_ns": rounded(prep.ns) if prep else None,
        "prep_low_ns": rounded(prep.low) if prep else None,
        "prep_high_ns": rounded(prep.high) if prep else None,
        "prep_measured_ns": rounded(prep.raw) if prep else None,
        "program_ns": rounded(prep.program) if prep and prep.program is not None else None,
        "paper_reach_median_ns": paper.TABLE1_REACH_MEDIAN_NS.get(row),
        "paper_reach_iqr_ns": paper.TABLE1_REACH_IQR_NS.get(row),
        "paper_prep_ns": paper.TABLE1_PREPARATION_NS.get(row),
    }


METHOD_NOTES = {
    "stamp": (
        "Method stamp (fentry refused on this DUT): reach = now - stamp with the stamp written "
        "by xdp_stamp at XDP; preparation of TC and XDP = shift of a downstream median (socket "
        "queue, TC with the sender's stamp) when the empty program is attached, averaged over "
        "rounds run without/with and with/without (ABBA); SK_SKB = in-kernel span of its path; "
        "each minus the empty program's bpf_stats run time. Interval: 2 standard errors, or 2 "
        "standard errors of the round-to-round spread when larger."
    ),
    "fentry": (
        "Method fentry: reach = now - stamp (xdp_stamp at XDP); preparation = median fentry-to-"
        "fexit span of the kernel function that runs each hook's program (hook_timer), minus "
        "the empty program's bpf_stats run time; the span includes parts of the trampolines."
    ),
    "patched_kernel": (
        "Method patched_kernel: the paper's patched kernel stamps the datagrams in the driver "
        "and prints the reach and the preparation cost to dmesg (gathered with kernel_log)."
    ),
}


def run_notes(
    params: Mapping[str, object], status: Mapping[str, object], run: RunInfo, method: str
) -> list[str]:
    """Method, probe, parameters and recorded status."""
    notes = [METHOD_NOTES.get(method, f"Method {method}.")]
    if params.get("probe"):
        notes.append(
            f"Probe of the DUT's kernel: {params['probe']} "
            f"(asked: {params.get('method_requested', '?')})."
        )
    shown = (
        "reach_rate",
        "reach_samples",
        "prep_rate",
        "prep_samples",
        "rounds",
        "payload_bytes",
        "scale",
    )
    notes.extend(parameters_note(params, shown))
    if run.testbed == "local":
        notes.append(
            "Local testbed (veth): XDP native on a veth receives through NAPI and copies each "
            "skb first, the sender's and the receiver's softirq share one CPU of a VM shared "
            "with other work; absolute times are not the paper's hardware. The socket row is "
            "user space (poll wake-up included); the kernel's socket queue is shown beside it."
        )
    notes.extend(status_note(status))
    return notes


def prep_notes(prep: Mapping[str, Prep]) -> list[str]:
    """What each preparation cost is made of."""
    notes = []
    for hook in PREP_HOOKS:
        if hook in prep:
            cost = prep[hook]
            program = (
                f", minus {cost.program:.0f} ns of program" if cost.program is not None else ""
            )
            notes.append(
                f"{LABELS[hook]} preparation {_bounds(cost)}{program}: " + "; ".join(cost.notes)
            )
    return notes


#: Short labels for the figure's x axis.
SHORT = {
    "tc": "TC",
    "sk_skb": "SK_SKB",
    "socket_queue": "socket\nqueue",
    "socket": "Socket\n(user space)",
}


@dataclass(frozen=True)
class Series:
    """Bars of one source in a panel: values and (lower, upper) error lengths by row."""

    label: str
    values: dict[str, float]
    errors: dict[str, tuple[float, float]]
    colour: str
    hatch: str = ""


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """Two panels: time to reach each point (median ± IQR/2), preparation cost per hook."""
    rows = {row["hook"]: row for row in report.table}
    if not any(r["reach_median_ns"] is not None or r["prep_ns"] is not None for r in rows.values()):
        return None
    testbed = figures.describe_testbed(run.testbed)
    fig, only = figures.new_figure(width=11.0, height=4.6)
    only.remove()  # the house style, two panels
    reach_ax, prep_ax = fig.subplots(1, 2)
    reach_rows = [r for r in ROWS if r in rows and r != "xdp"]
    _panel(
        reach_ax,
        reach_rows,
        [
            _reach_series(rows, "", f"this run: {testbed} (median ± IQR/2)", figures.OURS_COLOUR),
            _reach_series(
                rows, "paper_", f"paper ({paper.TESTBED_LABEL})", figures.PAPER_COLOUR, "//"
            ),
        ],
        "time to reach from XDP (ns, log scale)",
        "time to reach (XDP is the origin)",
    )
    prep_rows = [r for r in PREP_HOOKS if r in rows]
    ours = {r: rows[r]["prep_ns"] for r in prep_rows if rows[r]["prep_ns"] is not None}
    _panel(
        prep_ax,
        prep_rows,
        [
            Series(
                f"this run: {testbed} (interval)",
                {r: max(v, 1.0) for r, v in ours.items()},
                {
                    r: (
                        max(v - max(rows[r]["prep_low_ns"], 1.0), 0.0),
                        max(rows[r]["prep_high_ns"] - v, 0.0),
                    )
                    for r, v in ours.items()
                },
                figures.OURS_COLOUR,
            ),
            Series(
                f"paper ({paper.TESTBED_LABEL})",
                {r: float(v) for r in prep_rows if (v := paper.TABLE1_PREPARATION_NS.get(r))},
                {},
                figures.PAPER_COLOUR,
                "//",
            ),
        ],
        "preparation cost (ns, log scale)",
        "preparing, entering, leaving the hook",
    )
    bound = [r for r in prep_rows if rows[r]["prep_low_ns"] == 0 and rows[r]["prep_ns"]]
    prep_ax.set_xticks(
        range(len(prep_rows)),
        [LABELS[r] + ("\n(upper bound)" if r in bound else "") for r in prep_rows],
    )
    fig.suptitle(f"Table 1: reaching and preparing each hook, {testbed}")
    return fig


def _reach_series(
    rows: Mapping[str, Mapping[str, object]], prefix: str, label: str, colour: str, hatch: str = ""
) -> Series:
    values, errors = {}, {}
    for row, data in rows.items():
        value = data.get(f"{prefix}reach_median_ns")
        if isinstance(value, (int, float)) and value > 0:
            half = float(data.get(f"{prefix}reach_iqr_ns") or 0.0) / 2
            values[row], errors[row] = float(value), (min(half, float(value) * 0.99), half)
    return Series(label, values, errors, colour, hatch)


def _panel(
    ax: Axes, order: Sequence[str], series: Sequence[Series], ylabel: str, title: str
) -> None:
    """Grouped bars on a log axis, each labelled with its value."""
    width = 0.8 / len(series)
    for k, one in enumerate(series):
        offset = (k - (len(series) - 1) / 2) * width
        shown = [r for r in order if r in one.values]
        bars = ax.bar(
            [order.index(r) + offset for r in shown],
            [one.values[r] for r in shown],
            width=width * 0.95,
            color=one.colour,
            edgecolor="0.3",
            hatch=one.hatch,
            label=one.label,
            yerr=[
                [one.errors.get(r, (0.0, 0.0))[0] for r in shown],
                [one.errors.get(r, (0.0, 0.0))[1] for r in shown],
            ],
            capsize=3,
        )
        ax.bar_label(bars, [format_number(one.values[r], 3) for r in shown], fontsize=7, padding=2)
    ax.set_yscale("log")
    ax.margins(y=0.2)
    ax.set_xticks(range(len(order)), [SHORT.get(r, LABELS.get(r, r)) for r in order])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
