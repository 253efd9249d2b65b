"""Table 2: iperf bandwidth with the smallest program at each hook on the path.

Raw data (the playbook's contract)::

    table2_iperf/params.json                 {"hooks", "streams", "seconds", "repetitions",
                                              "softirq", ...}
    table2_iperf/status.json                 {"status", "reason"}
    table2_iperf/raw/<hook>/iperf_<k>.txt    iperf 2 client output of run k (one run a file)
    table2_iperf/raw/<hook>/server.log       the iperf server's output
    table2_iperf/raw/<hook>/program.json     the attached program (id, tag, JIT size)
    table2_iperf/raw/sk_skb/sockmap.json     {"inserted", "expected_at_least"}: connections
                                             sock_ops put into the sockmap

Hooks: ``none`` (no program, the paper's "No eBPF"), ``xdp``, ``tc``, ``sk_skb``.
The bandwidth of a run is its ``[SUM]`` line; a hook is summarised by the median
of its runs and the paper's "± range" (Tukey whiskers' half-width).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.parsers import ParseError, parse_iperf
from analysis.results import (
    RunInfo,
    effective_status,
    parameters_note,
    read_params,
    read_status,
    status_note,
)
from analysis.stats import median, summarize

NAME = "table2_iperf"
TITLE = "Table 2 — iperf bandwidth with the smallest program at each hook"

#: Hooks in the paper's order (Table 2 lists No eBPF, XDP, TC, SK_SKB).
HOOKS = ("none", "xdp", "tc", "sk_skb")
LABELS = {"none": "No eBPF", "xdp": "XDP", "tc": "TC", "sk_skb": "SK_SKB"}
#: Our hook name -> the key of analysis.paper's Table 2 values.
PAPER_KEY = {"none": "no_ebpf", "xdp": "xdp", "tc": "tc", "sk_skb": "sk_skb"}
#: Two medians differ when their gap exceeds this many standard errors of the gap.
SIGNIFICANCE_SE = 2.0
#: Standard error of a median of n normal samples: sqrt(pi/2) * sigma / sqrt(n).
MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2)

METHOD = (
    "iperf 2 TCP client, the [SUM] bandwidth of each run; per hook the median of the runs "
    "and the paper's \u00b1 range (half-width of the Tukey whiskers)."
)


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Bandwidth per run and hook, the table beside the paper's, the claim."""
    params, status = read_params(exp_dir), read_status(exp_dir)
    hooks = ordered_hooks(params.get("hooks", HOOKS))
    gbps, notes = load_runs(exp_dir, hooks)
    notes += sockmap_notes(exp_dir, hooks)
    medians = {hook: median(values) for hook, values in gbps.items()}
    return ExperimentReport(
        name=NAME,
        title=TITLE,
        status=effective_status(status.get("status"), hooks, list(gbps)),
        table=[table_row(hook, gbps.get(hook), medians.get("none")) for hook in hooks],
        claims=[sk_skb_costs_most(gbps, run.testbed)],
        notes=[*run_notes(params, status, run), *notes],
        data=gbps,
    )


def ordered_hooks(hooks: Sequence[str]) -> list[str]:
    """The run's hooks, those of the paper first in the paper's order."""
    known = [h for h in HOOKS if h in hooks]
    return known + [h for h in hooks if h not in known]


def load_runs(exp_dir: Path, hooks: Sequence[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Gbit/s of every complete run of each hook, and notes on what was left out."""
    runs: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for hook in hooks:
        values: list[float] = []
        files = sorted((exp_dir / "raw" / hook).glob("iperf_*.txt"))
        for path in files:
            try:
                parsed = parse_iperf(path)
            except (ParseError, OSError, UnicodeDecodeError) as err:
                notes.append(f"{hook}: raw/{hook}/{path.name} not usable: {err}")
                continue
            values += [float(v) for v in parsed.gbps]
            if parsed.incomplete:
                notes.append(f"{hook}: raw/{hook}/{path.name} has a run without a total, left out")
        if values:
            runs[hook] = np.array(values)
        else:
            notes.append(f"{hook}: no iperf run (raw/{hook}/iperf_*.txt missing or unusable)")
    return runs, notes


def sockmap_notes(exp_dir: Path, hooks: Sequence[str]) -> list[str]:
    """Whether SK_SKB's connections really went through the sockmap."""
    if "sk_skb" not in hooks:
        return []
    path = exp_dir / "raw" / "sk_skb" / "sockmap.json"
    try:
        counts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [
            "sk_skb: raw/sk_skb/sockmap.json missing: not known how many connections "
            "went through the sockmap"
        ]
    inserted, expected = counts.get("inserted"), counts.get("expected_at_least")
    if inserted is None or expected is None:
        return ["sk_skb: raw/sk_skb/sockmap.json incomplete"]
    if inserted < expected:
        return [
            f"sk_skb: only {inserted} connections entered the sockmap, {expected} were opened: "
            "some streams bypassed the SK_SKB program"
        ]
    return [f"sk_skb: {inserted} connections went through the sockmap ({expected} opened)."]


def table_row(hook: str, gbps: np.ndarray | None, none_median: float | None) -> dict[str, object]:
    """Our median ± range (Gbit/s) and cost against no program, beside the paper's."""
    summary = summarize(gbps) if gbps is not None else None
    ours = float(summary["p50"]) if summary else None
    key = PAPER_KEY.get(hook, hook)
    paper_median = paper.TABLE2_MEDIAN_GBPS.get(key)
    paper_none = paper.TABLE2_MEDIAN_GBPS["no_ebpf"]
    return {
        "hook": hook,
        "runs": int(summary["n"]) if summary else 0,
        "median_gbps": round(ours, 3) if ours is not None else None,
        "range_gbps": round(float(summary["range"]), 3) if summary else None,
        "min_gbps": round(float(summary["min"]), 3) if summary else None,
        "max_gbps": round(float(summary["max"]), 3) if summary else None,
        "cost_pct": cost_pct(none_median, ours),
        "paper_median_gbps": paper_median,
        "paper_range_gbps": paper.TABLE2_RANGE_GBPS.get(key),
        "paper_cost_pct": cost_pct(paper_none, paper_median),
    }


def cost_pct(reference: float | None, value: float | None) -> float | None:
    """How much lower ``value`` is than ``reference``, in percent (negative: higher)."""
    if reference is None or value is None or reference <= 0:
        return None
    return round(100 * (reference - value) / reference, 2)


def median_se(values: np.ndarray) -> float | None:
    """Standard error of the median of ``values`` (None for fewer than two runs)."""
    if values.size < 2:
        return None
    return MEDIAN_SE_FACTOR * float(np.std(values, ddof=1)) / math.sqrt(values.size)


def _costs(medians: Mapping[str, float]) -> str:
    """``"No eBPF 7.24, XDP 7.14 (-1.4%), ... Gbit/s"``: medians, change against none."""
    parts = []
    for hook in HOOKS:
        if hook not in medians:
            continue
        cost = cost_pct(medians.get("none"), medians[hook]) if hook != "none" else None
        parts.append(f"{LABELS[hook]} {medians[hook]:.2f}" + (f" ({-cost:+.1f}%)" if cost else ""))
    return ", ".join(parts) + " Gbit/s (change against No eBPF)"


def sk_skb_costs_most(gbps: Mapping[str, np.ndarray], testbed: str = "cloudlab") -> Claim:
    """SK_SKB gives the lowest bandwidth of the hooks.

    Holds when SK_SKB's median is the lowest and its gap to the next lowest median is
    larger than SIGNIFICANCE_SE standard errors of that gap; fails when another hook's
    median is lower by such a gap; otherwise (or with fewer than two runs a hook) the
    run cannot tell the cost from its noise: inconclusive. On the local testbed XDP is
    left out of the comparison: an XDP program switches a veth to another receive path
    (NAPI, a copy of every skb), so its arm does not measure the hook.
    """
    medians = {hook: median(values) for hook, values in gbps.items()}
    reference = {h: paper.TABLE2_MEDIAN_GBPS[PAPER_KEY[h]] for h in HOOKS}
    claim = {
        "id": "table2.sk_skb_costs_most",
        "text": "A minimal program costs most at SK_SKB (lowest bandwidth, ~14% below no eBPF); "
        "TC costs a little (~3%) and XDP about nothing.",
        "paper": _costs(reference),
    }
    missing = [h for h in HOOKS if h not in gbps]
    if missing:
        return Claim(**claim, measured=f"no data for {', '.join(missing)}", verdict="inconclusive")
    compared = [h for h in HOOKS if h != "sk_skb" and not (h == "xdp" and testbed == "local")]
    others = sorted(compared, key=lambda h: medians[h])
    lowest_other = others[0]
    gap = medians[lowest_other] - medians["sk_skb"]
    se_sk, se_other = median_se(gbps["sk_skb"]), median_se(gbps[lowest_other])
    measured = _costs(medians)
    if "xdp" not in compared:
        measured += "; XDP left out (on a veth it changes the receive path)"
    verdict: Verdict
    if se_sk is None or se_other is None:
        measured += "; one run per hook: no estimate of the noise"
        verdict = "inconclusive"
    else:
        threshold = SIGNIFICANCE_SE * math.hypot(se_sk, se_other)
        measured += (
            f"; gap to the next lowest ({LABELS[lowest_other]}) {gap:+.2f} Gbit/s, "
            f"noise threshold {threshold:.2f}"
        )
        if gap > threshold:
            verdict = "holds"
        elif gap < -threshold:
            verdict = "fails"
        else:
            verdict = "inconclusive"
    return Claim(**claim, measured=measured, verdict=verdict)


def run_notes(
    params: Mapping[str, object], status: Mapping[str, object], run: RunInfo
) -> list[str]:
    """Method, parameters, where the receive work ran, and the recorded status."""
    notes = [METHOD]
    shown = ("streams", "seconds", "repetitions", "write_bytes", "scale")
    notes.extend(parameters_note(params, shown))
    if params.get("softirq"):
        notes.append(f"Receive processing: {' '.join(str(params['softirq']).split())}.")
    if run.testbed == "local":
        notes.append(
            "Local testbed (veth): the bandwidth is that of one VM's CPUs, shared with other "
            "work, not of the paper's ConnectX-6 link; compare hooks within the run. On a veth "
            "an XDP program changes the receive path itself: the veth then receives through "
            "its NAPI ring and converts every skb to an xdp_buff, copying the ones TCP still "
            "holds for retransmission, a cost a NIC driver's XDP does not have."
        )
    notes.extend(status_note(status))
    return notes


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """Bars of the median bandwidth per hook with ± range, the paper's beside."""
    if not report.data:
        return None
    order = [row["hook"] for row in report.table]
    testbed = figures.describe_testbed(run.testbed)
    ours = figures.measured_bars(report.table, "hook", "median_gbps", "range_gbps", run.testbed)
    reference = figures.BarSeries(
        label=f"paper ({paper.TESTBED_LABEL}, median \u00b1 range)",
        values={h: paper.TABLE2_MEDIAN_GBPS.get(PAPER_KEY.get(h, h)) for h in order},
        errors={h: paper.TABLE2_RANGE_GBPS.get(PAPER_KEY.get(h, h), 0.0) for h in order},
        colour=figures.PAPER_COLOUR,
        hatch="//",
    )
    return figures.category_bars(
        [ours, reference],
        order,
        LABELS,
        ylabel="iperf bandwidth (Gbit/s)",
        title=f"Table 2: iperf bandwidth per hook, {testbed}",
    )
