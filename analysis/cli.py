"""Command line: ``python -m analysis stats ...`` and ``python -m analysis report RUN_DIR``.

Errors in the input (missing file, unknown format, nothing parsable) print one
line on stderr and exit with status 2; nothing is printed on stdout then.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

from analysis import parsers
from analysis.stats import SUMMARY_KEYS, summarize
from analysis.tables import format_number

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors on one line (no usage dump) and exits with 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


# --- stats formats ------------------------------------------------------------------

Extractor = Callable[[str, argparse.Namespace], np.ndarray]


def _dmesg_values(text: str, args: argparse.Namespace) -> np.ndarray:
    """Values of one hook: ``--hook`` or the only hook in the log."""
    per_hook = parsers.parse_dmesg(text)
    hook = args.hook or (next(iter(per_hook)) if len(per_hook) == 1 else None)
    if hook is None:
        raise UsageError(f"the log has hooks {', '.join(per_hook)}: choose one with --hook")
    if hook not in per_hook:
        raise parsers.ParseError(f"no 'reach {hook}' lines (hooks: {', '.join(per_hook)})")
    return per_hook[hook]


def _iperf_values(text: str, args: argparse.Namespace) -> np.ndarray:
    """Bandwidth (Gbit/s) per run; warns about interrupted runs left out."""
    runs = parsers.parse_iperf(text)
    if runs.incomplete:
        note = f"{runs.incomplete} interrupted run(s) without a total left out"
        print(f"python -m analysis: note: {note}", file=sys.stderr)
    return runs.gbps


FORMATS: dict[str, tuple[Extractor, str]] = {
    "samples": (lambda t, _: parsers.parse_samples(t), "one number a line (echo client, ns)"),
    "iperf": (_iperf_values, "iperf 2 [SUM] bandwidth per run (Gbit/s)"),
    "mutilate": (lambda t, _: parsers.parse_mutilate(t).qps, "Mutilate Total QPS per run"),
    "mutilate-save": (
        lambda t, _: parsers.parse_mutilate_save(t),
        "Mutilate --save latency per request (µs)",
    ),
    "mc-load": (lambda t, _: np.array([parsers.parse_mc_load(t).rps]), "mc_load requests/s"),
    "dmesg": (_dmesg_values, "'It takes N to reach HOOK' (ns), one hook"),
    "runner": (lambda t, _: parsers.parse_runner(t), "'benchmark res: X' per run"),
    "drop": (lambda t, _: parsers.parse_drop(t), "'throughput: N (pps)' per second"),
}


def _finite_float(text: str) -> float:
    """argparse type: a finite number."""
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(text)
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m analysis", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    stats = commands.add_parser("stats", help="statistics of raw files, the paper's conventions")
    stats.add_argument("files", nargs="+", type=Path, metavar="FILE")
    stats.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="; ".join(f"{name}: {what}" for name, (_, what) in FORMATS.items()),
    )
    stats.add_argument(
        "--scale",
        type=_finite_float,
        default=1.0,
        metavar="K",
        help="multiply every value by K first (1e-3: ns to µs; 1e-5: runner to ns per access)",
    )
    stats.add_argument("--hook", help="dmesg: the hook to summarise (TC, SK_SKB, ...)")
    stats.add_argument("--json", action="store_true", help="JSON: one object per file")

    report = commands.add_parser("report", help="figures, tables and claims of a run")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    return parser


# --- stats ----------------------------------------------------------------------------


def file_stats(path: Path, args: argparse.Namespace) -> dict[str, object]:
    """Summary of one file: ``file`` and the keys of :data:`SUMMARY_KEYS`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    extract, _ = FORMATS[args.format]
    try:
        values = extract(text, args) * args.scale
    except parsers.ParseError as err:
        raise UsageError(f"{path}: not {args.format} output: {err}") from None
    except UsageError as err:
        raise UsageError(f"{path}: {err}") from None
    return {"file": str(path), **summarize(values)}


def _human(rows: Sequence[dict[str, object]]) -> str:
    """A terminal table: median ± IQR, median ± range, then the other statistics."""
    header = ["file", "n", "median ± IQR", "median ± range"]
    header += ["mean", "min", "p1", "p99", "p99.9", "max"]
    body = [
        [
            str(r["file"]),
            str(r["n"]),
            f"{_num(r['p50'])} ± {_num(r['iqr'])}",
            f"{_num(r['p50'])} ± {_num(r['range'])}",
            *(_num(r[k]) for k in ("mean", "min", "p1", "p99", "p99_9", "max")),
        ]
        for r in rows
    ]
    lines = [header, *body]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def aligned(line: list[str]) -> str:
        # File names left-aligned, numbers right-aligned.
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells).rstrip()

    return "\n".join(aligned(line) for line in lines)


def _num(value: object) -> str:
    """A statistic for the terminal: about 6 significant digits, integer part kept."""
    return format_number(value, 6) if isinstance(value, float) else str(value)


def run_stats(args: argparse.Namespace) -> int:
    """``stats``: summarise every file, print a table or JSON."""
    rows = [file_stats(path, args) for path in args.files]
    if args.json:
        ordered = [{k: r[k] for k in ("file", *SUMMARY_KEYS)} for r in rows]
        print(json.dumps(ordered[0] if len(ordered) == 1 else ordered, indent=2))
    else:
        print(_human(rows))
    return 0


def run_report(args: argparse.Namespace) -> int:
    """``report``: write RUN_DIR/report/ and print its headline numbers."""
    if not args.run_dir.is_dir():
        raise UsageError(f"{args.run_dir}: not a results folder (no such directory)")
    from analysis.report import build_report, headline  # matplotlib only when needed
    from analysis.results import ResultsError

    try:
        report = build_report(args.run_dir)
    except ResultsError as err:
        raise UsageError(str(err)) from None
    print("\n".join(headline(report)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m analysis``; returns the exit status."""
    try:
        args = _build_parser().parse_args(argv)
        return run_stats(args) if args.command == "stats" else run_report(args)
    except UsageError as err:
        print(f"python -m analysis: error: {err}", file=sys.stderr)
        return EXIT_USAGE
