"""Table 3: time to access a collection from eBPF (ns per access, median ± range).

Raw data (the playbook's contract)::

    table3_map_access/params.json                 {"variants": [[map, key_bytes], ...],
                                                   "lookups", "runs", "entries", "value_bytes", ...}
    table3_map_access/raw/<map>_k<key>/runner.txt map_runner's stdout: a header line with
                                                  ``lookups=N``, one ``benchmark res: X`` per
                                                  run (ns per program run), a summary line

A program run does ``lookups`` accesses in a loop, so ``X / lookups`` is the time of
one access, loop included; the ``stack`` kind runs the loop alone (the baseline).
Statistics are the paper's: nearest-rank median ± range over the runs. The claims
compare collections within this run, so they hold or fail on any CPU; absolute
times depend on the CPU and its frequency.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.parsers import ParseError, parse_runner, read_source
from analysis.results import (
    RunInfo,
    effective_status,
    parameters_note,
    read_params,
    read_status,
    status_note,
)
from analysis.stats import summarize

NAME = "table3_map_access"
TITLE = "Table 3 — time to access a collection from eBPF"

#: Collections in the paper's order; ``stack`` is the loop alone.
MAP_ORDER = ("stack", "array", "percpu_array", "hash", "lru_hash")
MAP_LABELS = {
    "stack": "on stack (loop)",
    "array": "Array",
    "percpu_array": "Per-CPU array",
    "hash": "Hash",
    "lru_hash": "LRU hash",
}
#: Collections that take keys of every size (the others only 4-byte keys).
KEYED_MAPS = ("hash", "lru_hash")
#: Key size of the paper's Table 3.
PAPER_KEY_BYTES = 4

#: "Several times faster": the slower median is at least this many times the faster one.
SEVERAL_TIMES = 2.0
#: Hash and LRU "cost about the same": medians within this fraction of the hash's.
CLOSE_FRACTION = 0.15

METHOD = (
    "map_runner: BPF_PROG_TEST_RUN of an XDP program that does N lookups in a bpf_loop; "
    "ns per access = the kernel's duration of one run / N (loop included; the on-stack "
    "row is the loop alone). Median ± range over the runs (range: furthest run inside "
    "the Tukey fences)."
)

_LOOKUPS = re.compile(r"^map_runner: .*\blookups=(\d+)\b", re.MULTILINE)

Variant = tuple[str, int]


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Summarise the ns per access of each variant and check the paper's claims."""
    params, status = read_params(exp_dir), read_status(exp_dir)
    variants = ordered_variants(planned_variants(params))
    ns, notes = load_variants(exp_dir, variants, params.get("lookups"))
    summaries = {variant: summarize(values) for variant, values in ns.items()}
    medians = {v[0]: float(s["p50"]) for v, s in summaries.items() if v[1] == PAPER_KEY_BYTES}
    return ExperimentReport(
        name=NAME,
        title=TITLE,
        status=effective_status(
            status.get("status"), [point_name(v) for v in variants], [point_name(v) for v in ns]
        ),
        table=[table_row(variant, summaries.get(variant)) for variant in variants],
        claims=claims(medians),
        notes=[*run_notes(params, status, run, medians), *notes],
        data={point_name(v): values for v, values in ns.items()},
    )


def point_name(variant: Variant) -> str:
    """Folder of a variant below raw/: ``hash_k16``."""
    return f"{variant[0]}_k{variant[1]}"


def planned_variants(params: Mapping[str, object]) -> list[Variant]:
    """The variants params.json lists; the paper's five collections when it lists none."""
    listed = params.get("variants")
    if isinstance(listed, list) and listed:
        return [(str(m), int(k)) for m, k in listed]
    return [(m, PAPER_KEY_BYTES) for m in MAP_ORDER]


def ordered_variants(variants: Sequence[Variant]) -> list[Variant]:
    """The paper's collections first, in its order, each by key size; unknown ones last."""

    def order(variant: Variant) -> tuple[int, int]:
        kind = MAP_ORDER.index(variant[0]) if variant[0] in MAP_ORDER else len(MAP_ORDER)
        return kind, variant[1]

    return sorted(dict.fromkeys(variants), key=order)


def lookups_of(text: str, fallback: object) -> int:
    """Lookups per run: the runner's header says it; params.json otherwise."""
    if match := _LOOKUPS.search(text):
        return int(match.group(1))
    if isinstance(fallback, int) and fallback > 0:
        return fallback
    raise ParseError("no 'lookups=N' in the header and none in params.json")


def load_variants(
    exp_dir: Path, variants: Sequence[Variant], lookups: object
) -> tuple[dict[Variant, np.ndarray], list[str]]:
    """ns per access of every run of each variant that has a usable runner.txt, and
    notes on those that have none."""
    ns: dict[Variant, np.ndarray] = {}
    notes: list[str] = []
    for variant in variants:
        relative = f"raw/{point_name(variant)}/runner.txt"
        path = exp_dir / relative
        if not path.is_file():
            notes.append(f"{point_name(variant)}: no data ({relative} is missing)")
            continue
        try:
            text = read_source(path)
            ns[variant] = parse_runner(text) / lookups_of(text, lookups)
        except (ParseError, OSError, UnicodeDecodeError) as err:
            notes.append(f"{point_name(variant)}: {relative} not usable: {err}")
    return ns, notes


def paper_values(variant: Variant) -> tuple[float | None, float | None]:
    """The paper's median and range (ns) of a variant; ``None`` where it prints none."""
    kind, key = variant
    if key != PAPER_KEY_BYTES:
        return None, None
    other = {"stack": "on_stack", "percpu_array": "percpu_array"}
    if kind in other:
        return paper.TABLE3_OTHER_MEDIAN_NS.get(other[kind]), None
    return paper.TABLE3_MEDIAN_NS.get(kind), paper.TABLE3_RANGE_NS.get(kind)


def table_row(variant: Variant, ours: Mapping[str, float] | None) -> dict[str, object]:
    """One row: our median ± range (ns per access) beside the paper's."""
    paper_median, paper_range = paper_values(variant)
    return {
        "map": variant[0],
        "key_bytes": variant[1],
        "n": int(ours["n"]) if ours else 0,
        "median_ns": round(float(ours["p50"]), 3) if ours else None,
        "range_ns": round(float(ours["range"]), 3) if ours else None,
        "paper_median_ns": paper_median,
        "paper_range_ns": paper_range,
    }


def claims(medians: Mapping[str, float]) -> list[Claim]:
    """The paper's statements on Table 3, on the 4-byte-key medians (ns)."""
    return [
        _faster_claim("hash", medians),
        _faster_claim("lru_hash", medians),
        _close_claim(medians),
    ]


def _missing(kinds: Sequence[str], medians: Mapping[str, float]) -> list[str]:
    return [kind for kind in kinds if kind not in medians]


def _ratio(faster: float, slower: float) -> str:
    """``"3.0 vs 13.8 ns (4.6x)"``."""
    return f"{faster:.1f} vs {slower:.1f} ns ({slower / faster:.1f}x)"


def _faster_claim(other: str, medians: Mapping[str, float]) -> Claim:
    """ "An array access is several times faster than a <other> access"."""
    label = MAP_LABELS[other].lower().replace("lru", "LRU")
    missing = _missing(("array", other), medians)
    verdict: Verdict
    if missing:
        measured, verdict = f"no data for {', '.join(missing)}", "inconclusive"
    else:
        measured = _ratio(medians["array"], medians[other])
        verdict = "holds" if medians[other] >= SEVERAL_TIMES * medians["array"] else "fails"
    short = "hash" if other == "hash" else "lru"
    return Claim(
        id=f"table3.array_faster_than_{short}",
        text=f"An array access is several times faster than a {label} map access "
        f"(checked: the {label} median is at least {SEVERAL_TIMES:g}x the array's, 4-byte keys).",
        paper=_ratio(paper.TABLE3_MEDIAN_NS["array"], paper.TABLE3_MEDIAN_NS[other]),
        measured=measured,
        verdict=verdict,
    )


def _difference(hash_ns: float, lru_ns: float) -> str:
    """``"hash 13.8 ns, LRU 14.5 ns (+5.1%)"``."""
    return f"hash {hash_ns:.1f} ns, LRU {lru_ns:.1f} ns ({(lru_ns - hash_ns) / hash_ns:+.1%})"


def _close_claim(medians: Mapping[str, float]) -> Claim:
    """ "Hash and LRU hash maps cost about the same per access"."""
    missing = _missing(("hash", "lru_hash"), medians)
    verdict: Verdict
    if missing:
        measured, verdict = f"no data for {', '.join(missing)}", "inconclusive"
    else:
        measured = _difference(medians["hash"], medians["lru_hash"])
        gap = abs(medians["lru_hash"] - medians["hash"]) / medians["hash"]
        verdict = "holds" if gap <= CLOSE_FRACTION else "fails"
    return Claim(
        id="table3.hash_close_to_lru",
        text="A hash map and an LRU hash map cost about the same per access (checked: "
        f"medians within {CLOSE_FRACTION:.0%} of the hash map's, 4-byte keys).",
        paper=_difference(paper.TABLE3_MEDIAN_NS["hash"], paper.TABLE3_MEDIAN_NS["lru_hash"]),
        measured=measured,
        verdict=verdict,
    )


def run_notes(
    params: Mapping[str, object],
    status: Mapping[str, object],
    run: RunInfo,
    medians: Mapping[str, float],
) -> list[str]:
    """Method, parameters, the cost of the lookups alone, and the recorded status."""
    notes = [METHOD]
    shown = ("lookups", "runs", "rounds", "entries", "value_bytes", "cpu", "scale")
    notes.extend(parameters_note(params, shown))
    if "stack" in medians:
        loop = medians["stack"]
        alone = ", ".join(
            f"{MAP_LABELS[k]} {medians[k] - loop:.1f} ns" for k in MAP_ORDER[1:] if k in medians
        )
        if alone:
            caveat = (
                " A negative value means the runs' noise is larger than the lookup's cost."
                if any(medians[k] < loop for k in MAP_ORDER[1:] if k in medians)
                else ""
            )
            notes.append(f"Lookup alone (median minus the loop's {loop:.2f} ns): {alone}.{caveat}")
    if run.testbed == "local":
        notes.append(
            "Local testbed: the runner times the collections on the VM's vCPU (no packets, "
            "so veth plays no part). Absolute times depend on the CPU and its frequency; "
            "the claims compare collections within this run."
        )
    notes.extend(status_note(status))
    return notes


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """Bars of ns per access with range error bars, the paper's medians marked: every
    collection with 4-byte keys, then hash and LRU by key size."""
    rows = [r for r in report.table if r["median_ns"] is not None]
    if not rows:
        return None
    # No packets here: a local run is the VM's CPU, not the veth link.
    testbed = (
        "local testbed (VM)" if run.testbed == "local" else figures.describe_testbed(run.testbed)
    )
    keyed = [r for r in rows if r["map"] in KEYED_MAPS]
    sizes = sorted({int(r["key_bytes"]) for r in keyed})
    wide = len(sizes) > 1
    fig, axes = _axes(2 if wide else 1)
    base = [r for r in rows if r["key_bytes"] == PAPER_KEY_BYTES]
    _bars_by_collection(axes[0], base)
    axes[0].set_title(f"{PAPER_KEY_BYTES}-byte keys")
    if wide:
        _bars_by_key_size(axes[1], keyed, sizes)
        axes[1].set_title("hash and LRU maps by key size")
    fig.suptitle(f"Table 3: time per access, {testbed}")
    return fig


def _axes(count: int) -> tuple[Figure, list]:
    """A figure in the house style with ``count`` panels side by side."""
    fig, _ = figures.new_figure(width=6.4 * count, height=4.2)
    fig.clear()
    return fig, list(np.atleast_1d(fig.subplots(1, count)))


def _bars_by_collection(ax, rows: Sequence[Mapping[str, object]]) -> None:
    """One bar per collection (4-byte keys), range error bars, paper medians as diamonds."""
    positions = np.arange(len(rows))
    ax.bar(
        positions,
        [r["median_ns"] for r in rows],
        yerr=[r["range_ns"] for r in rows],
        capsize=4,
        width=0.6,
        color=figures.OURS_COLOUR,
        label="this run: median ± range",
    )
    marked = [(i, r["paper_median_ns"]) for i, r in enumerate(rows) if r["paper_median_ns"]]
    if marked:
        ax.scatter(
            [i for i, _ in marked],
            [v for _, v in marked],
            marker="D",
            s=45,
            color=figures.PAPER_COLOUR,
            zorder=5,
            label=f"paper median ({paper.TESTBED_LABEL})",
        )
    ax.set_xticks(positions, [MAP_LABELS.get(str(r["map"]), str(r["map"])) for r in rows])
    ax.tick_params(axis="x", labelrotation=15)
    ax.set_ylabel("time per access (ns)")
    ax.legend(loc="upper left")


def _bars_by_key_size(ax, rows: Sequence[Mapping[str, object]], sizes: Sequence[int]) -> None:
    """Grouped bars: key size on x, one bar per keyed collection."""
    kinds = [k for k in KEYED_MAPS if any(r["map"] == k for r in rows)]
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        by_size = {int(r["key_bytes"]): r for r in rows if r["map"] == kind}
        present = [s for s in sizes if s in by_size]
        ax.bar(
            [sizes.index(s) + (i - (len(kinds) - 1) / 2) * width for s in present],
            [by_size[s]["median_ns"] for s in present],
            yerr=[by_size[s]["range_ns"] for s in present],
            capsize=3,
            width=width,
            color=figures.OURS_COLOUR if kind == "hash" else "#8fa8d6",
            label=f"this run: {MAP_LABELS[kind]}",
        )
    ax.set_xticks(range(len(sizes)), [f"{s} B" for s in sizes])
    ax.set_xlabel("key size")
    ax.set_ylabel("time per access (ns)")
    ax.legend(loc="upper left")
