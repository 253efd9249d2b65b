"""Figure 3: round-trip time of a UDP echo answered at each hook.

Raw data (the playbook's contract)::

    fig3_echo/params.json               {"hooks": [...], "payload_bytes", "requests", "warmup", ...}
    fig3_echo/status.json               {"status", "reason", "hooks_done": [...]}
    fig3_echo/raw/<hook>/samples.txt    echo client RTTs in ns ("num samples: N" header)
    fig3_echo/raw/<hook>/client.log     client stdout

The client keeps one request in flight, so each sample is one request's RTT.
Claims compare the hooks within this run: on a local veth testbed the absolute
RTTs have nothing to do with the paper's ConnectX-6 numbers, the ordering does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.parsers import ParseError, parse_samples
from analysis.results import (
    RunInfo,
    effective_status,
    parameters_note,
    read_params,
    read_status,
    status_note,
)
from analysis.stats import summarize

NAME = "fig3_echo"
TITLE = "Figure 3 — echo latency with the echo logic at each hook"

US_PER_NS = 1e-3

METHOD = (
    "Echo client with one UDP request in flight, RTT of each request in ns (shown in µs); "
    "nearest-rank quantiles; box whiskers at 1.5 IQR, outliers not drawn."
)
#: A hook whose gain over the socket is below this fraction of XDP's gain "gains almost nothing".
NEAR_SOCKET_FRACTION = 0.5


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Summarise each hook's RTTs and check the paper's claims on them."""
    params, status = read_params(exp_dir), read_status(exp_dir)
    hooks = ordered_hooks(params.get("hooks", paper.HOOK_ORDER))
    samples_us, load_notes = load_samples(exp_dir, hooks)
    summaries = {hook: summarize(values) for hook, values in samples_us.items()}
    return ExperimentReport(
        name=NAME,
        title=TITLE,
        status=effective_status(status.get("status"), hooks, list(samples_us)),
        table=[table_row(hook, summaries.get(hook)) for hook in hooks],
        claims=claims({hook: float(s["p50"]) for hook, s in summaries.items()}),
        notes=[*_run_notes(params, status, run), *load_notes],
        data=samples_us,
    )


def ordered_hooks(hooks: Sequence[str]) -> list[str]:
    """The run's hooks, those of the paper first in the paper's order."""
    known = [h for h in paper.HOOK_ORDER if h in hooks]
    return known + [h for h in hooks if h not in known]


def load_samples(exp_dir: Path, hooks: Sequence[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """RTT samples in µs of each hook that has a readable samples file, and notes
    on the hooks that have none (missing, or cut short)."""
    samples: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for hook in hooks:
        path = exp_dir / "raw" / hook / "samples.txt"
        if not path.is_file():
            notes.append(f"{hook}: no samples (raw/{hook}/samples.txt is missing)")
            continue
        try:
            samples[hook] = parse_samples(path) * US_PER_NS
        except (ParseError, OSError, UnicodeDecodeError) as err:
            notes.append(f"{hook}: raw/{hook}/samples.txt not usable: {err}")
    return samples, notes


def table_row(hook: str, ours: Mapping[str, float] | None) -> dict[str, object]:
    """One row of the table: our summary (µs) beside the paper's (``None``: not measured)."""

    def value(key: str) -> float | None:
        return round(float(ours[key]), 3) if ours else None

    return {
        "hook": hook,
        "n": int(ours["n"]) if ours else 0,
        "median_us": value("p50"),
        "iqr_us": value("iqr"),
        "p99_us": value("p99"),
        "paper_median_us": paper.FIG3_MEDIAN_US.get(hook),
        "paper_iqr_us": paper.FIG3_IQR_US.get(hook),
    }


def claims(medians: Mapping[str, float]) -> list[Claim]:
    """The paper's three statements on Figure 3, checked on our medians (µs)."""
    return [
        _below_socket_claim("xdp", medians),
        _below_socket_claim("tc", medians),
        _near_socket_claim(medians),
    ]


def _change(before: float, after: float) -> str:
    """``"44.3 -> 37.8 µs (-14.7%)"``."""
    return f"{before:.1f} -> {after:.1f} µs ({(after - before) / before:+.1%})"


def _missing(hooks: Sequence[str], medians: Mapping[str, float]) -> list[str]:
    return [hook for hook in hooks if hook not in medians]


def _below_socket_claim(hook: str, medians: Mapping[str, float]) -> Claim:
    """ "<hook> answers faster than the socket echo": holds if its median is lower."""
    label = paper.HOOK_LABELS[hook]
    reference = paper.FIG3_MEDIAN_US
    missing = _missing(("socket", hook), medians)
    verdict: Verdict
    if missing:
        measured, verdict = f"no data for {', '.join(missing)}", "inconclusive"
    else:
        measured = _change(medians["socket"], medians[hook])
        verdict = "holds" if medians[hook] < medians["socket"] else "fails"
    return Claim(
        id=f"fig3.{hook}_below_socket",
        text=f"Echoing at {label} cuts about {paper.FIG3_XDP_TC_GAIN_US:.0f} µs off the "
        f"socket echo's RTT (checked: {label}'s median is below the socket's).",
        paper=_change(reference["socket"], reference[hook]),
        measured=measured,
        verdict=verdict,
    )


def _gains(medians: Mapping[str, float]) -> str:
    """``"gain over socket: SK_SKB 1.2 µs, XDP 6.5 µs"``."""
    sk_skb = medians["socket"] - medians["sk_skb"]
    xdp = medians["socket"] - medians["xdp"]
    return f"gain over socket: SK_SKB {sk_skb:.1f} µs, XDP {xdp:.1f} µs"


def _near_socket_claim(medians: Mapping[str, float]) -> Claim:
    """ "SK_SKB gains almost nothing": its gain over the socket is less than half
    of XDP's. Inconclusive when a hook is missing or XDP itself gains nothing,
    since then there is no gain to compare with."""
    missing = _missing(("socket", "sk_skb", "xdp"), medians)
    verdict: Verdict
    if missing:
        measured, verdict = f"no data for {', '.join(missing)}", "inconclusive"
    else:
        measured = _gains(medians)
        sk_skb_gain = medians["socket"] - medians["sk_skb"]
        xdp_gain = medians["socket"] - medians["xdp"]
        if xdp_gain <= 0:
            verdict = "inconclusive"
        else:
            verdict = "holds" if sk_skb_gain < NEAR_SOCKET_FRACTION * xdp_gain else "fails"
    return Claim(
        id="fig3.sk_skb_near_socket",
        text="Echoing at SK_SKB gains almost nothing over the socket echo (checked: its "
        f"gain is less than {NEAR_SOCKET_FRACTION:.0%} of XDP's gain).",
        paper=_gains(paper.FIG3_MEDIAN_US),
        measured=measured,
        verdict=verdict,
    )


def _run_notes(
    params: Mapping[str, object], status: Mapping[str, object], run: RunInfo
) -> list[str]:
    """Method, parameters and recorded status, as the report shows them."""
    notes = [METHOD]
    shown = ("payload_bytes", "requests", "warmup", "scale")
    notes.extend(parameters_note(params, shown))
    if run.testbed == "local":
        notes.append(
            "Local testbed: veth pair between network namespaces on one VM. Absolute RTTs "
            "are not comparable with the paper's ConnectX-6 hardware; claims compare hooks "
            "within this run."
        )
    notes.extend(status_note(status))
    return notes


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """Box plot of RTT per hook (socket, sk_skb, tc, xdp), the paper's medians marked."""
    if not report.data:
        return None
    order = [row["hook"] for row in report.table]
    testbed = figures.describe_testbed(run.testbed)
    return figures.category_boxplot(
        report.data,
        order,
        paper.HOOK_LABELS,
        paper.FIG3_MEDIAN_US,
        ylabel="RTT (µs)",
        title=f"Figure 3: echo RTT per hook, {testbed}",
        ours_label=f"this run: {testbed}",
    )
