"""Figure helpers shared by the experiment modules.

Figures follow the paper's (same axes, units, categories) and draw the paper's
values beside ours. Every title says which testbed produced the data, so a local
veth result is never read as a hardware result.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: figures are only written to files

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from analysis import paper
from analysis.tables import format_number

#: Formats every figure is saved in.
FORMATS = ("png", "pdf")
PAPER_COLOUR = "#c0392b"
OURS_COLOUR = "#4c72b0"

_TESTBEDS = {"local": "local testbed (veth)", "cloudlab": "Cloudlab (hardware)"}


def describe_testbed(testbed: str) -> str:
    """How a figure names the testbed of a run (``local`` → "local testbed (veth)")."""
    return _TESTBEDS.get(testbed, f"testbed: {testbed}")


def new_figure(width: float = 6.4, height: float = 4.0) -> tuple[Figure, plt.Axes]:
    """A figure with one axes in the house style (seaborn whitegrid, paper context)."""
    sns.set_theme(style="whitegrid", context="paper", font_scale=1.2)
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def category_boxplot(
    values: Mapping[str, np.ndarray],
    order: Sequence[str],
    labels: Mapping[str, str],
    reference: Mapping[str, float],
    *,
    ylabel: str,
    title: str,
    ours_label: str,
) -> Figure:
    """Box plot of ``values`` per category in ``order``, the paper's medians marked.

    Whiskers reach the last sample within 1.5 IQR (Tukey), outliers are not
    drawn (latency tails reach seconds and would flatten the boxes). Categories
    in ``order`` without values keep their slot, labelled "no data".
    """
    fig, ax = new_figure()
    frame = pd.DataFrame(
        {
            "category": pd.Categorical(
                np.concatenate([np.full(len(values[c]), c) for c in order if c in values]),
                categories=list(order),
            ),
            "value": np.concatenate([values[c] for c in order if c in values]),
        }
    )
    with warnings.catch_warnings():
        # seaborn 0.13 passes matplotlib 3.10 the old `vert` argument; nothing to act on.
        warnings.filterwarnings("ignore", "vert: bool", PendingDeprecationWarning)
        sns.boxplot(
            data=frame,
            x="category",
            y="value",
            order=list(order),
            whis=1.5,
            showfliers=False,
            width=0.55,
            color=OURS_COLOUR,
            ax=ax,
        )
    _mark_reference(ax, order, reference)
    _mark_missing(ax, order, values)
    ax.set_xticks(range(len(order)), [labels.get(c, c) for c in order])
    ax.set_xlabel("")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(handles=[_ours_handle(ours_label), *ax.get_legend_handles_labels()[0]], loc="best")
    return fig


def _mark_reference(ax: plt.Axes, order: Sequence[str], reference: Mapping[str, float]) -> None:
    """Draw the paper's value of each category as a red diamond, once in the legend."""
    positions = [i for i, c in enumerate(order) if c in reference]
    ax.scatter(
        positions,
        [reference[order[i]] for i in positions],
        marker="D",
        s=45,
        color=PAPER_COLOUR,
        zorder=5,
        label=f"paper median ({paper.TESTBED_LABEL})",
    )


def _mark_missing(ax: plt.Axes, order: Sequence[str], values: Mapping[str, np.ndarray]) -> None:
    """Write "no data" in the slot of every category without values."""
    for i, category in enumerate(order):
        if category not in values:
            ax.text(
                i,
                0.5,
                "no data",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="center",
                color="grey",
                style="italic",
            )


def _ours_handle(label: str) -> Patch:
    """Legend entry for our boxes."""
    return Patch(facecolor=OURS_COLOUR, edgecolor="0.3", label=label)


def save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``fig`` as ``out_dir/name.<format>`` for each of :data:`FORMATS`; close it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.{fmt}" for fmt in FORMATS]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths


@dataclass(frozen=True)
class BarSeries:
    """One series of :func:`category_bars`: a value per category (``None``: not measured).

    ``errors`` are symmetric half-widths drawn as error bars (the paper's "± range");
    ``marks`` are values drawn as a black tick across the category's bar (a limit
    such as the offered rate), labelled ``marks_label`` in the legend.
    """

    label: str
    values: Mapping[str, float | None]
    colour: str = OURS_COLOUR
    errors: Mapping[str, float] | None = None
    hatch: str = ""
    marks: Mapping[str, float] | None = None
    marks_label: str = ""


def measured_bars(
    table: Sequence[Mapping[str, Any]], key: str, value: str, error: str, testbed: str
) -> BarSeries:
    """This run's series from a report's table: ``row[value] ± row[error]`` for each
    ``row[key]``; rows without a value are left out (drawn as "no data")."""
    measured = [row for row in table if row[value] is not None]
    return BarSeries(
        label=f"this run: {describe_testbed(testbed)} (median ± range)",
        values={row[key]: row[value] for row in measured},
        errors={row[key]: row[error] for row in measured},
    )


def category_bars(
    series: Sequence[BarSeries],
    order: Sequence[str],
    labels: Mapping[str, str],
    *,
    ylabel: str,
    title: str,
    log: bool = False,
    slot_notes: Mapping[str, str] | None = None,
    significant: int = 3,
) -> Figure:
    """Grouped bars: one group per category in ``order``, one bar per series.

    Every bar is labelled with its value (``significant`` digits), so a log axis
    (``log=True``, for values spanning orders of magnitude) still reads exactly.
    ``slot_notes[category]`` is written across a category's slot (why a bar is
    missing); a category that no series measured shows "no data".
    """
    fig, ax = new_figure(width=max(6.4, 0.9 * len(order) + 2), height=4.4)
    width = 0.8 / max(1, len(series))
    for index, one in enumerate(series):
        offset = (index - (len(series) - 1) / 2) * width
        positions = [i + offset for i, c in enumerate(order) if one.values.get(c) is not None]
        heights = [float(v) for c in order if (v := one.values.get(c)) is not None]
        errors = one.errors or {}
        bars = ax.bar(
            positions,
            heights,
            width=width * 0.95,
            color=one.colour,
            edgecolor="0.3",
            hatch=one.hatch,
            label=one.label,
            yerr=[errors.get(c, 0.0) for c in order if one.values.get(c) is not None],
            capsize=3 if one.errors else 0,
        )
        texts = ax.bar_label(
            bars, [format_number(h, significant) for h in heights], fontsize=7, padding=2
        )
        for text in texts:  # legible over a mark that crosses it
            text.set(zorder=7, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3})
        if one.marks:
            marked = [i for i, c in enumerate(order) if c in one.marks]
            ax.hlines(
                [one.marks[order[i]] for i in marked],
                [i + offset - width / 2 for i in marked],
                [i + offset + width / 2 for i in marked],
                colors="black",
                linewidths=2,
                zorder=6,
                label=one.marks_label or None,
            )
    for i, category in enumerate(order):
        note = (slot_notes or {}).get(category)
        if note is None and all(one.values.get(category) is None for one in series):
            note = "no data"
        if note is not None:
            ax.text(
                i,
                0.5,
                note,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="center",
                rotation=90,
                color="grey",
                style="italic",
                fontsize=8,
            )
    if log:
        ax.set_yscale("log")
    ax.margins(y=0.15)
    ax.set_xticks(range(len(order)), [labels.get(c, c) for c in order], rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return fig
