"""Table 4: time for user space to reach one entry of a collection shared with eBPF.

Raw data (the playbook's contract)::

    table4_user_access/params.json      {"collections": [...], "ops", "repetitions", ...}
    table4_user_access/status.json      {"status", "reason"}
    table4_user_access/raw/rep<k>/user_access.txt          user_access stdout: maps and rings
    table4_user_access/raw/rep<k>/user_access.stderr       its notes ("N possible CPUs")
    table4_user_access/raw/rep<k>/user_access_af_xdp.txt   user_access stdout: AF_XDP RX ring
    table4_user_access/raw/rep<k>/user_access_af_xdp.stderr

Each run prints one mean per collection (``access <name>: <ns> ns``: the wall
time of ``ops`` back-to-back operations divided by ``ops``), or ``unsupported
here: <reason>``. The table gives the median of the runs and the paper's
"± range" of them. Syscall rows measure the host's syscall entry (mitigations,
hypervisor, frequency), so the claims compare rows within the run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.parsers import ParseError, parse_user_access
from analysis.results import (
    RunInfo,
    effective_status,
    parameters_note,
    read_params,
    read_status,
    status_note,
)
from analysis.stats import summarize

NAME = "table4_user_access"
TITLE = "Table 4 — time to reach a collection from user space"

#: Collections in the paper's order, spelled as user_access prints them.
COLLECTIONS = (
    "array",
    "hash",
    "lru_hash",
    "percpu_array",
    "percpu_hash",
    "percpu_lru_hash",
    "ringbuf",
    "mmap_array",
    "af_xdp_rx",
)
LABELS = {
    "array": "Array",
    "hash": "Hash",
    "lru_hash": "LRU hash",
    "percpu_array": "Per-CPU array",
    "percpu_hash": "Per-CPU hash",
    "percpu_lru_hash": "Per-CPU LRU",
    "ringbuf": "Ring queue",
    "mmap_array": "mmap array",
    "af_xdp_rx": "AF_XDP RX ring",
}
#: Where the paper's name of a row differs from user_access's.
_PAPER_KEYS = {"ringbuf": "ring_queue", "af_xdp_rx": "af_xdp_rx_ring"}
#: Reached with a bpf_map_lookup_elem syscall each.
SYSCALL_ROWS = ("array", "hash", "lru_hash")
#: Reached through memory shared with the kernel.
SHARED_MEMORY_ROWS = ("ringbuf", "mmap_array")
#: Each per-CPU collection and the plain one it is compared with.
PERCPU_PAIRS = {"percpu_array": "array", "percpu_hash": "hash", "percpu_lru_hash": "lru_hash"}
#: "Orders of magnitude": the syscall rows must cost at least this many times more.
RING_MIN_RATIO = 10.0
#: "Per-CPU costs more": each per-CPU row must cost at least this many times its plain row.
PERCPU_MIN_RATIO = 2.0
#: Below this many possible CPUs a per-CPU lookup copies too few values for the
#: paper's gap to show: a ratio under PERCPU_MIN_RATIO is then not a contradiction.
PERCPU_MIN_CPUS = 8

METHOD = (
    "user_access: each run times --ops back-to-back operations per collection on one 64-byte "
    "entry and prints their mean; the table shows the median of the runs and the largest "
    "distance from it to a run inside the Tukey fences (range)."
)

_POSSIBLE_CPUS = re.compile(r"(\d+) possible CPUs")


def paper_ns(collection: str) -> float | None:
    """The paper's value of a row (``None``: not in the paper)."""
    return paper.TABLE4_ACCESS_NS.get(_PAPER_KEYS.get(collection, collection))


@dataclass
class Runs:
    """What the runs of user_access printed, gathered over the repetitions."""

    ns: dict[str, list[float]] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)
    possible_cpus: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Median time per collection over the runs, and the paper's two claims on them."""
    params, status = read_params(exp_dir), read_status(exp_dir)
    collections = ordered(params.get("collections", COLLECTIONS))
    runs = load_runs(exp_dir)
    data = {name: np.array(values) for name, values in runs.ns.items() if values}
    medians = {name: float(summarize(values)["p50"]) for name, values in data.items()}
    present = [c for c in collections if c in data or c in runs.unsupported]
    return ExperimentReport(
        name=NAME,
        title=TITLE,
        status=effective_status(status.get("status"), collections, present),
        table=[table_row(c, data.get(c), runs.unsupported.get(c)) for c in collections],
        claims=[ring_claim(medians), percpu_claim(medians, runs.possible_cpus)],
        notes=[*_run_notes(params, status, run, runs), *runs.notes],
        data=data,
    )


def ordered(collections: Sequence[str]) -> list[str]:
    """The run's collections, the paper's first and in the paper's order."""
    known = [c for c in COLLECTIONS if c in collections]
    return known + [c for c in collections if c not in known]


def _rep_number(path: Path) -> int:
    return int(path.name[3:]) if path.name[3:].isdigit() else 0


def load_runs(exp_dir: Path) -> Runs:
    """Parse every ``raw/rep<k>/user_access*.txt`` (and the CPU count of its stderr)."""
    runs = Runs()
    raw = exp_dir / "raw"
    reps = sorted(raw.glob("rep*"), key=_rep_number) if raw.is_dir() else []
    if not reps:
        runs.notes.append("no raw/rep<k>/ folders: user_access never ran")
    for rep in reps:
        outputs = sorted(rep.glob("user_access*.txt"))
        if not outputs:
            runs.notes.append(f"{rep.name}: no user_access output")
        for path in outputs:
            _add_output(runs, path, exp_dir)
    return runs


def _add_output(runs: Runs, path: Path, exp_dir: Path) -> None:
    """Add one user_access output (and its stderr) to ``runs``."""
    where = path.relative_to(exp_dir).as_posix()
    try:
        result = parse_user_access(path)
    except (ParseError, OSError, UnicodeDecodeError) as err:
        runs.notes.append(f"{where} not usable: {err}")
        return
    for name, values in result.ns.items():
        runs.ns.setdefault(name, []).extend(float(v) for v in values)
    runs.unsupported.update(result.unsupported)
    stderr = path.with_suffix(".stderr")
    if stderr.is_file():
        found = _POSSIBLE_CPUS.search(stderr.read_text(encoding="utf-8", errors="replace"))
        if found:
            runs.possible_cpus.add(int(found.group(1)))


def table_row(
    collection: str, values: np.ndarray | None, unsupported: str | None
) -> dict[str, object]:
    """One row: median and range of the runs (ns) beside the paper's value."""
    summary = summarize(values) if values is not None else None
    note = ""
    if unsupported is not None:
        note = f"unsupported here: {unsupported}"
        if summary is not None:
            note = f"some runs: {note}"
    return {
        "collection": collection,
        "n": int(summary["n"]) if summary else 0,
        "median_ns": round(float(summary["p50"]), 2) if summary else None,
        "range_ns": round(float(summary["range"]), 2) if summary else None,
        "paper_ns": paper_ns(collection),
        "note": note,
    }


def _ring_comparison(medians: Mapping[str, float]) -> tuple[str, float] | None:
    """ "cheapest syscall row vs dearest shared-memory row" and their ratio, over the
    rows measured; ``None`` unless both groups have one."""
    syscalls = [n for n in SYSCALL_ROWS if n in medians]
    shared = [n for n in SHARED_MEMORY_ROWS if n in medians]
    if not syscalls or not shared:
        return None
    cheapest = min(syscalls, key=medians.__getitem__)
    dearest = max(shared, key=medians.__getitem__)
    ratio = medians[cheapest] / medians[dearest]
    rings = ", ".join(f"{LABELS[n]} {medians[n]:.3g} ns" for n in shared)
    text = f"cheapest syscall: {LABELS[cheapest]} {medians[cheapest]:.0f} ns; {rings}: {ratio:.0f}x"
    return text, ratio


def _reference() -> dict[str, float]:
    return {c: float(v) for c in COLLECTIONS if (v := paper_ns(c)) is not None}


def ring_claim(medians: Mapping[str, float]) -> Claim:
    """ "Ring buffer and mmap'd array are orders of magnitude cheaper than syscalls"."""
    comparison = _ring_comparison(medians)
    verdict: Verdict
    if comparison is None:
        measured, verdict = "needs a syscall row and a shared-memory row", "inconclusive"
    else:
        measured, ratio = comparison
        verdict = "holds" if ratio >= RING_MIN_RATIO else "fails"
    reference = _ring_comparison(_reference())
    return Claim(
        id="table4.ring_beats_syscalls",
        text="Reaching a ring buffer or an mmap'd array costs orders of magnitude less than a "
        "map lookup through a syscall (checked: the cheapest syscall row costs at least "
        f"{RING_MIN_RATIO:.0f}x the dearest shared-memory row).",
        paper=reference[0] if reference else "",
        measured=measured,
        verdict=verdict,
    )


def _percpu_ratios(medians: Mapping[str, float]) -> dict[str, float]:
    """Per-CPU row / plain row, for the pairs with both rows measured."""
    return {
        pc: medians[pc] / medians[plain]
        for pc, plain in PERCPU_PAIRS.items()
        if pc in medians and plain in medians
    }


def _describe_ratios(ratios: Mapping[str, float]) -> str:
    return ", ".join(
        f"{LABELS[pc]} / {LABELS[PERCPU_PAIRS[pc]]} {ratio:.2f}x" for pc, ratio in ratios.items()
    )


def percpu_claim(medians: Mapping[str, float], possible_cpus: set[int]) -> Claim:
    """ "Per-CPU collections cost about 3x more": holds if every ratio reaches
    PERCPU_MIN_RATIO; a smaller ratio on a host with fewer than PERCPU_MIN_CPUS
    possible CPUs is inconclusive, since the syscall copies one value per possible
    CPU and there are too few of them here for the paper's gap."""
    ratios = _percpu_ratios(medians)
    cpus = max(possible_cpus) if possible_cpus else None
    verdict: Verdict
    if not ratios:
        measured, verdict = "needs a per-CPU row and its plain row", "inconclusive"
    else:
        measured = _describe_ratios(ratios)
        if cpus is not None:
            measured += f" ({cpus} possible CPUs)"
        if min(ratios.values()) >= PERCPU_MIN_RATIO:
            verdict = "holds"
        elif cpus is None or cpus < PERCPU_MIN_CPUS:
            verdict = "inconclusive"
        else:
            verdict = "fails"
    return Claim(
        id="table4.percpu_costs_more",
        text="Per-CPU collections cost about three times more to reach from user space than "
        "their plain counterparts (checked: every per-CPU row costs at least "
        f"{PERCPU_MIN_RATIO:.0f}x its plain row; below {PERCPU_MIN_CPUS} possible CPUs a "
        "smaller ratio is inconclusive).",
        paper=_describe_ratios(_percpu_ratios(_reference())),
        measured=measured,
        verdict=verdict,
    )


def _run_notes(
    params: Mapping[str, object], status: Mapping[str, object], run: RunInfo, runs: Runs
) -> list[str]:
    """Method, parameters, what differs on this testbed, and the recorded status."""
    notes = [METHOD]
    shown = ("ops", "repetitions", "cpu", "xsk_fill", "queue", "scale")
    notes.extend(parameters_note(params, shown))
    if runs.possible_cpus:
        cpus = ", ".join(str(n) for n in sorted(runs.possible_cpus))
        notes.append(
            f"Per-CPU rows: the lookup syscall copies one value per possible CPU ({cpus} here); "
            "the paper's gap (about 3x) needs a host with as many CPUs as its Xeon."
        )
    if run.testbed == "local":
        notes.append(
            "Local testbed: a VM's syscall entry (hypervisor, mitigations) sets the syscall "
            "rows, and the AF_XDP socket on veth is in copy mode; compare rows within this run."
        )
    notes.extend(status_note(status))
    return notes


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """Bars of the median time per collection (log scale), the paper's values beside."""
    if not report.data:
        return None
    order = [row["collection"] for row in report.table]
    testbed = figures.describe_testbed(run.testbed)
    ours = figures.measured_bars(report.table, "collection", "median_ns", "range_ns", run.testbed)
    reference = figures.BarSeries(
        label=f"paper ({paper.TESTBED_LABEL})",
        values={c: paper_ns(c) for c in order},
        colour=figures.PAPER_COLOUR,
        hatch="//",
    )
    unsupported = {row["collection"]: "unsupported here" for row in report.table if row["note"]}
    return figures.category_bars(
        [ours, reference],
        order,
        LABELS,
        ylabel="time per access (ns, log scale)",
        title=f"Table 4: reaching a collection from user space, {testbed}",
        log=True,
        slot_notes=unsupported,
    )
