"""Figure 12: access pattern (100K flows drawn from a Zipf(s) popularity, Mpps by s).

Same measurement and raw layout as Figure 11 (see :mod:`.fig11_map_footprint`),
swept over the Zipf exponent instead of the number of flows: folders
``raw/zipf_<s>/<map>/`` with ``s`` printed by ``%g`` (``zipf_0``, ``zipf_1.5``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.experiments.fig11_map_footprint import (
    AGAINST_BASELINE,
    Point,
    Sweep,
    change_text,
    levels,
    noise,
    relative_change,
    sweep_figure,
    sweep_report,
)
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.results import RunInfo

NAME = "fig12_map_pattern"
TITLE = "Figure 12 — access pattern of collections (throughput by Zipf exponent)"

SWEEP = Sweep(
    name=NAME,
    title=TITLE,
    parameter="zipf",
    category="zipf_s",
    paper_values=paper.FIG12_ZIPF_S,
    paper_mpps=paper.FIG12_THROUGHPUT_MPPS,
    #: The paper's parse-only baseline (its fig12 baseline file: 14.7 at s = 0).
    paper_baseline_mpps=paper.FIG11_BASELINE_MPPS,
)

#: Collections whose cost depends on where their entries sit in the caches.
KEYED = ("hash", "lru_hash")


def skew_claim(points: Mapping[tuple[float, str], Point], first: float, last: float) -> Claim:
    """ "More skew, more cache locality, more throughput" for the hash and LRU maps."""
    span = f"s = {first:g} -> {last:g}"
    text = (
        "More skew gives more cache locality and so more throughput (checked: from the "
        "least to the most skewed traffic, the hash and LRU maps' throughput relative to "
        "the parse-only baseline of the same s grows by more than the noise)."
    )
    paper_changes = {
        k: paper.FIG12_THROUGHPUT_MPPS[k][-1] / paper.FIG12_THROUGHPUT_MPPS[k][0] - 1 for k in KEYED
    }
    paper_span = f"s = {paper.FIG12_ZIPF_S[0]:g} -> {paper.FIG12_ZIPF_S[-1]:g}"
    missing = sorted({k for k in KEYED for v in (first, last) if (v, k) not in points})
    if first == last or missing:
        why = "one Zipf exponent" if first == last else f"no data for {', '.join(missing)}"
        return Claim(
            "fig12.skew_raises_throughput",
            text,
            change_text(paper_changes, paper_span),
            why,
            "inconclusive",
        )
    level, relative = levels(points, KEYED, (first, last))
    changes = {k: relative_change(level[(first, k)], level[(last, k)]) for k in KEYED}
    threshold = noise(*level.values())
    verdict: Verdict
    if any(change < -threshold for change in changes.values()):
        verdict = "fails"
    elif all(change > threshold for change in changes.values()):
        verdict = "holds"
    else:
        verdict = "inconclusive"
    return Claim(
        "fig12.skew_raises_throughput",
        text,
        change_text(paper_changes, paper_span),
        change_text(changes, span + (AGAINST_BASELINE if relative else ""), threshold),
        verdict,
    )


def claims(
    points: Mapping[tuple[float, str], Point], values: Sequence[float], perf: str
) -> list[Claim]:
    """Figure 12's statement, between the least and the most skewed traffic measured."""
    del perf  # the paper draws no cache counters for Figure 12
    return [skew_claim(points, values[0], values[-1])]


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Throughput of each collection by Zipf exponent, and the paper's claim."""
    return sweep_report(exp_dir, run, SWEEP, claims)


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """Figure 12: Mpps by Zipf exponent per collection, beside the paper's."""
    testbed = figures.describe_testbed(run.testbed)
    return sweep_figure(
        report.table,
        SWEEP,
        xlabel="Zipf exponent s (100K flows)",
        title=f"Figure 12: throughput by access pattern, {testbed}",
        testbed=testbed,
    )
