"""Table writers: an experiment's rows as Markdown, CSV and HTML.

Rows are dicts sharing their keys (the first names the category, numeric keys
carry their unit, the paper's values are prefixed ``paper_``). ``None`` is a
value that could not be measured: "n/a" in Markdown and HTML, empty in CSV.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Row = dict[str, Any]

#: How a missing value is shown to a reader.
MISSING = "n/a"
#: Significant digits shown to a reader (CSV keeps full precision).
SHOWN_DIGITS = 4


def columns(rows: Sequence[Row]) -> list[str]:
    """Keys of all rows, in order of first appearance."""
    return list(dict.fromkeys(key for row in rows for key in row))


def format_number(value: float, significant: int) -> str:
    """``value`` with about ``significant`` digits: the integer part is never rounded
    and never in e-notation (973576.0 stays 973576), trailing zeros are dropped."""
    integer_digits = len(str(int(abs(value)))) if abs(value) >= 1 else 1
    text = f"{value:.{max(0, significant - integer_digits)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(value: Any) -> str:
    """A cell for a reader: floats to :data:`SHOWN_DIGITS` digits, ``None`` as n/a."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return format_number(value, SHOWN_DIGITS)
    return str(value)


def format_row(row: Row) -> str:
    """One line for a terminal: ``socket: n=1000, median_us=44.31, ...``."""
    items = list(row.items())
    category = items[0][1]
    return f"{category}: " + ", ".join(f"{key}={format_value(v)}" for key, v in items[1:])


def to_markdown(rows: Sequence[Row]) -> str:
    """A GitHub-flavoured Markdown table (empty string for no rows)."""
    if not rows:
        return ""
    keys = columns(rows)
    lines = [
        "| " + " | ".join(keys) + " |",
        "|" + "|".join("---" for _ in keys) + "|",
        *("| " + " | ".join(format_value(row.get(k)) for k in keys) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[Row]) -> str:
    """CSV with a header line; numbers at full precision, missing values empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_html(rows: Sequence[Row]) -> str:
    """An HTML table; the paper's columns get the class ``paper``."""
    if not rows:
        return "<p class='empty'>no rows</p>"
    keys = columns(rows)
    head = "".join(f"<th{_paper_class(k)}>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>"
        + "".join(f"<td{_paper_class(k)}>{html.escape(format_value(r.get(k)))}</td>" for k in keys)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _paper_class(key: str) -> str:
    """The class attribute marking a column with the paper's values."""
    return " class='paper'" if key.startswith("paper_") else ""


def write(rows: Sequence[Row], out_dir: Path, name: str) -> list[Path]:
    """Write ``out_dir/name.md`` and ``out_dir/name.csv``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown, table_csv = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    markdown.write_text(to_markdown(rows), encoding="utf-8")
    table_csv.write_text(to_csv(rows), encoding="utf-8")
    return [markdown, table_csv]
