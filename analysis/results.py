"""Reading a results folder: run.json, and each experiment's params, status and hosts.

The layout is the playbooks' contract (see docs/analysis.md). Everything here only
reads; a missing optional file gives an empty result, a file that is not valid
JSON raises :class:`ResultsError` naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Name of the folder the report is written to, inside the run folder.
REPORT_DIR = "report"


class ResultsError(ValueError):
    """A results file exists but cannot be read as the layout requires."""


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from ``path``; ``{}`` when the file does not exist."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: not readable as JSON ({err})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


@dataclass(frozen=True)
class RunInfo:
    """A run folder and its run.json (``meta``); ``problems`` says what was wrong with it."""

    path: Path
    meta: dict[str, Any]
    problems: tuple[str, ...] = field(default=())

    @property
    def testbed(self) -> str:
        """``local`` (veth namespaces), ``cloudlab`` (hardware) or ``unknown``."""
        return str(self.meta.get("testbed", "unknown"))

    def experiment_dirs(self) -> list[Path]:
        """Experiment folders of the run, by name (report/ and hidden folders excluded)."""
        return sorted(
            p
            for p in self.path.iterdir()
            if p.is_dir() and p.name != REPORT_DIR and not p.name.startswith(".")
        )


def read_run(run_dir: Path) -> RunInfo:
    """Read a run folder; a missing or broken run.json is recorded, not fatal."""
    if not run_dir.is_dir():
        raise ResultsError(f"{run_dir}: not a results folder (no such directory)")
    run_json = run_dir / "run.json"
    if not run_json.exists():
        return RunInfo(run_dir, {}, ("run.json is missing: run details unknown",))
    try:
        return RunInfo(run_dir, read_json(run_json))
    except ResultsError as err:
        return RunInfo(run_dir, {}, (str(err),))


def read_params(exp_dir: Path) -> dict[str, Any]:
    """The experiment's resolved parameters (params.json)."""
    return read_json(exp_dir / "params.json")


def read_status(exp_dir: Path) -> dict[str, Any]:
    """The experiment's status.json (``{}`` while absent)."""
    return read_json(exp_dir / "status.json")


def read_hosts(exp_dir: Path) -> dict[str, dict[str, Any]]:
    """Provenance of each host (hosts/<host>.json), by host name."""
    host_dir = exp_dir / "hosts"
    if not host_dir.is_dir():
        return {}
    return {path.stem: read_json(path) for path in sorted(host_dir.glob("*.json"))}


def parameters_note(
    params: Mapping[str, object], shown: Sequence[str], comment: str = ""
) -> list[str]:
    """``Parameters: k=v, ...`` for the recorded ones of ``shown``, or nothing."""
    described = ", ".join(f"{k}={params[k]}" for k in shown if k in params)
    return [f"Parameters: {described}{comment}."] if described else []


def status_note(status: Mapping[str, object]) -> list[str]:
    """The reason status.json gives for a run that did not complete, or nothing."""
    if not status.get("reason"):
        return []
    return [f"status.json: {status.get('status', '?')}: {status['reason']}"]


def _field(facts: Mapping[str, Any], name: str, key: str) -> Any:
    """``facts[name][key]`` when host_facts recorded a section, ``facts[name]`` when it
    recorded a plain value (older runs), else None."""
    value = facts.get(name)
    return value.get(key) if isinstance(value, Mapping) else value


def provenance_notes(exp_dir: Path) -> list[str]:
    """One line per host: kernel, CPU and the measurement method it used."""
    notes = []
    for host, facts in read_hosts(exp_dir).items():
        kernel = _field(facts, "kernel", "release") or facts.get("kernel_release") or "?"
        cpu = facts.get("cpu_model") or _field(facts, "cpu", "model") or "?"
        method = facts.get("method") or "not recorded"
        notes.append(f"{host}: kernel {kernel}, CPU {cpu}; method: {method}")
    return notes or ["no hosts/*.json: kernel and method not recorded"]


def effective_status(recorded: str | None, expected: Sequence[str], present: Sequence[str]) -> str:
    """The status to report: the recorded one, downgraded if data is missing.

    A run recorded ``complete``, or without status.json, that lacks some
    expected data becomes ``partial`` (``failed`` if it has none); ``partial``,
    ``failed`` and ``running`` stand. Without status.json and with all data
    present the status is ``unknown``.
    """
    missing = [item for item in expected if item not in present]
    if not missing:
        return recorded or "unknown"
    if recorded in (None, "complete"):
        return "partial" if present else "failed"
    return recorded
