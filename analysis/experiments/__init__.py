"""Registry of experiment modules: one module per table or figure.

An experiment module is named like its playbook (``fig3_echo.py`` for
``playbooks/fig3_echo.yml`` and ``results/<run>/fig3_echo/``) and defines:

- ``NAME: str`` — the module's name, which is the experiment folder's name;
- ``TITLE: str`` — the heading of its section in the report;
- ``analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport`` — read the
  folder's raw data, return the table, claims and notes (never raise for missing
  data: report it in ``status`` and ``notes``);
- ``figure(report: ExperimentReport, run: RunInfo) -> Figure | None`` — draw the
  paper's figure from ``report.data`` (``None`` when there is nothing to draw).

Adding an experiment is adding such a module to this package: it is found by
:func:`registry` without further registration.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Protocol

from matplotlib.figure import Figure

from analysis.model import ExperimentReport
from analysis.results import RunInfo


class ExperimentModule(Protocol):
    """The interface every module of this package implements."""

    NAME: str
    TITLE: str

    def analyse(self, exp_dir: Path, run: RunInfo) -> ExperimentReport:
        """Analyse one experiment folder."""
        ...

    def figure(self, report: ExperimentReport, run: RunInfo) -> Figure | None:
        """Draw the experiment's figure from ``report.data``."""
        ...


_REQUIRED = ("NAME", "TITLE", "analyse", "figure")


def registry() -> dict[str, ExperimentModule]:
    """All experiment modules of this package, by experiment name."""
    modules: dict[str, ExperimentModule] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        missing = [attr for attr in _REQUIRED if not hasattr(module, attr)]
        if missing:
            raise TypeError(f"experiment module {info.name} lacks {', '.join(missing)}")
        if info.name != module.NAME:
            raise TypeError(f"experiment module {info.name} has NAME {module.NAME!r}")
        modules[info.name] = module
    return modules
