"""What an experiment's analysis produces: its table, its claims and its notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Verdict = Literal["holds", "fails", "inconclusive"]

#: Experiment statuses recorded by the playbooks in status.json.
RECORDED_STATUSES = ("complete", "partial", "failed", "running")


@dataclass(frozen=True)
class Claim:
    """A statement of the paper checked against this run.

    ``paper`` and ``measured`` are short strings with the numbers behind the
    verdict (``"44.3 -> 37.8 µs (-14.7%)"``), so a reader sees why it holds.
    """

    id: str
    text: str
    paper: str
    measured: str
    verdict: Verdict

    def as_dict(self) -> dict[str, str]:
        """The claim as summary.json stores it."""
        return {
            "id": self.id,
            "text": self.text,
            "paper": self.paper,
            "measured": self.measured,
            "verdict": self.verdict,
        }


@dataclass
class ExperimentReport:
    """Result of analysing one experiment folder.

    ``table`` rows are dicts whose first key names the category (``"hook"``),
    numeric keys carry their unit (``median_us``) and the paper's values are
    prefixed ``paper_``; ``None`` marks a value that could not be measured.
    ``data`` holds the measured values per category that the figure draws (not
    written to summary.json). ``status`` is the recorded status, downgraded
    when data the experiment should have produced is missing.
    """

    name: str
    title: str
    status: str
    table: list[dict[str, Any]] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self, figures: list[str]) -> dict[str, Any]:
        """The experiment's entry in summary.json (``figures``: paths below report/)."""
        return {
            "status": self.status,
            "table": self.table,
            "claims": [claim.as_dict() for claim in self.claims],
            "figures": figures,
            "notes": self.notes,
        }
