"""``python -m analysis report RUN_DIR``: figures, tables, claims, index.html, summary.json.

Every experiment folder of the run is analysed by its module (see
:mod:`analysis.experiments`); a folder without a module, or whose analysis
fails, is still listed with its recorded status. The report is written to a
temporary folder and then swapped in as ``RUN_DIR/report/``, so a rerun replaces
the whole previous report and nothing else in the run folder is touched.
"""

from __future__ import annotations

import html
import json
import math
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import figures, tables
from analysis.experiments import ExperimentModule, registry
from analysis.model import ExperimentReport
from analysis.results import (
    REPORT_DIR,
    ResultsError,
    RunInfo,
    provenance_notes,
    read_run,
    read_status,
)


@dataclass(frozen=True)
class Report:
    """A written report: where it is, what summary.json holds, and the reports behind it."""

    path: Path
    summary: dict[str, Any]
    experiments: list[ExperimentReport]


def build_report(run_dir: Path) -> Report:
    """Analyse every experiment of ``run_dir`` and write ``run_dir/report/``."""
    run = read_run(run_dir)
    modules = registry()
    reports = [
        analyse_experiment(exp_dir, run, modules.get(exp_dir.name))
        for exp_dir in run.experiment_dirs()
    ]
    final = run_dir / REPORT_DIR
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=run_dir))
    staging.chmod(0o755)  # mkdtemp makes it private; the report is meant to be shared
    try:
        summary = _write(run, reports, modules, staging)
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Report(final, summary, reports)


def analyse_experiment(
    exp_dir: Path, run: RunInfo, module: ExperimentModule | None
) -> ExperimentReport:
    """Run ``module`` on ``exp_dir``; never raise, report problems as status and notes."""
    if module is None:
        report = ExperimentReport(
            name=exp_dir.name,
            title=exp_dir.name,
            status=_recorded_status(exp_dir),
            notes=["No analysis module for this experiment yet: raw data kept, nothing computed."],
        )
    else:
        try:
            report = module.analyse(exp_dir, run)
        except Exception as err:  # a broken file must not take the other experiments down
            report = ExperimentReport(
                name=module.NAME,
                title=module.TITLE,
                status="error",
                notes=[f"Analysis failed: {type(err).__name__}: {err}"],
            )
    try:
        report.notes.extend(provenance_notes(exp_dir))
    except ResultsError as err:
        report.notes.append(f"Provenance not readable: {err}")
    return report


def _recorded_status(exp_dir: Path) -> str:
    """status.json's status, ``unknown`` without one, ``error`` if unreadable."""
    try:
        return str(read_status(exp_dir).get("status", "unknown"))
    except ResultsError:
        return "error"


def _write(
    run: RunInfo,
    reports: Sequence[ExperimentReport],
    modules: Mapping[str, ExperimentModule],
    out_dir: Path,
) -> dict[str, Any]:
    """Write figures, tables, summary.json and index.html below ``out_dir``."""
    experiments: dict[str, Any] = {}
    for report in reports:
        figure_paths = _draw(report, run, modules.get(report.name), out_dir / "figures")
        if report.table:
            tables.write(report.table, out_dir / "tables", report.name)
        experiments[report.name] = report.summary(
            [p.relative_to(out_dir).as_posix() for p in figure_paths]
        )
    summary = _json_safe({"run": run.meta, "experiments": experiments})
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    (out_dir / "index.html").write_text(render_html(run, reports, summary), encoding="utf-8")
    return summary


def _draw(
    report: ExperimentReport, run: RunInfo, module: ExperimentModule | None, out_dir: Path
) -> list[Path]:
    """Draw and save the experiment's figure; a failure becomes a note."""
    if module is None or report.status == "error":
        return []
    try:
        fig = module.figure(report, run)
    except Exception as err:  # the table and claims are still worth reporting
        report.notes.append(f"Figure failed: {type(err).__name__}: {err}")
        return []
    return figures.save(fig, out_dir, report.name) if fig is not None else []


def _json_safe(value: Any) -> Any:
    """``value`` with numpy scalars made Python numbers and NaN/inf made null."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- index.html ----------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.paper, th.paper { background: #fdf1f0; }
.status, .verdict { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; color: #fff; }
.complete, .holds { background: #2e7d32; } .fails, .failed, .error { background: #c62828; }
.partial, .running, .inconclusive, .unknown { background: #9e7b00; }
img { max-width: 100%; border: 1px solid #eee; } .notes li { margin: 0.2em 0; }
.warning { color: #c62828; }
"""


def render_html(
    run: RunInfo, reports: Sequence[ExperimentReport], summary: Mapping[str, Any]
) -> str:
    """A self-contained page: run info, then one section per experiment."""
    sections = "\n".join(
        _experiment_html(r, summary["experiments"][r.name]["figures"]) for r in reports
    )
    title = html.escape(f"Run {run.meta.get('run_id', run.path.name)}")
    problems = "".join(f"<p class='warning'>{html.escape(p)}</p>" for p in run.problems)
    empty = "" if reports else "<p>No experiment folders in this run.</p>"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f"<h1>{title}</h1>{problems}{_run_html(run)}{_overview_html(reports)}{empty}"
        f"{sections}</body></html>\n"
    )


def _run_html(run: RunInfo) -> str:
    """run.json as a two-column table."""
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_plain(v))}</td></tr>"
        for k, v in run.meta.items()
    )
    return f"<table class='run'>{rows}</table>" if rows else ""


def _plain(value: Any) -> str:
    """A run.json value as text (lists joined, objects as JSON)."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _overview_html(reports: Sequence[ExperimentReport]) -> str:
    """One line per experiment: status and claim verdicts, linking to its section."""
    items = "".join(
        f"<li><a href='#{html.escape(r.name)}'>{html.escape(r.name)}</a> "
        + _badge("status", r.status)
        + "".join(f" {_badge('verdict', c.verdict)}" for c in r.claims)
        + "</li>"
        for r in reports
    )
    return f"<ul class='overview'>{items}</ul>" if items else ""


def _badge(kind: str, value: str) -> str:
    return f"<span class='{kind} {html.escape(value)}'>{html.escape(value)}</span>"


def _experiment_html(report: ExperimentReport, figure_paths: Sequence[str]) -> str:
    """The section of one experiment: table, claims, figure, notes."""
    name = html.escape(report.name)
    image = "".join(
        f"<p><img src='{html.escape(p)}' alt='{name} figure'></p>"
        for p in figure_paths
        if p.endswith(".png")
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    return (
        f"<section id='{name}'><h2>{html.escape(report.title)} "
        f"{_badge('status', report.status)}</h2>"
        f"{tables.to_html(report.table) if report.table else ''}{_claims_html(report)}{image}"
        f"<h3>Notes</h3><ul class='notes'>{notes}</ul></section>"
    )


def _claims_html(report: ExperimentReport) -> str:
    """The claims as a table, verdicts coloured."""
    if not report.claims:
        return ""
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(v)}</td>" for v in (c.id, c.text, c.paper, c.measured))
        + f"<td>{_badge('verdict', c.verdict)}</td></tr>"
        for c in report.claims
    )
    head = "<tr><th>claim</th><th>text</th><th>paper</th><th>measured</th><th>verdict</th></tr>"
    return f"<h3>Claims</h3><table><thead>{head}</thead><tbody>{rows}</tbody></table>"


# --- terminal ----------------------------------------------------------------------------


def headline(report: Report) -> list[str]:
    """What the CLI prints: the report's path, then per experiment its rows and claims."""
    lines = [f"report: {report.path / 'index.html'}"]
    for exp in report.experiments:
        lines.append(f"{exp.name} [{exp.status}]")
        lines += [f"  {tables.format_row(row)}" for row in exp.table]
        lines += [f"  {c.id}: {c.verdict} ({c.measured})" for c in exp.claims]
    return lines
