"""Table writers: how rows look to a reader (Markdown, terminal) and to a program (CSV)."""

from __future__ import annotations

import pytest

from analysis import tables

ROWS = [
    {"hook": "socket", "n": 3, "median_us": 44.332, "paper_median_us": 44.3},
    {"hook": "xdp", "n": 0, "median_us": None, "paper_median_us": 37.8},
]


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (44.332, 4, "44.33"),
        (973576.0, 4, "973576"),
        (3.93427, 6, "3.93427"),
        (44.0, 6, "44"),
        (0.47795, 4, "0.478"),
        (1234567.8, 6, "1234568"),
    ],
)
def test_format_number_keeps_the_integer_part(value: float, digits: int, shown: str) -> None:
    assert tables.format_number(value, digits) == shown


def test_markdown_marks_missing_values() -> None:
    assert tables.to_markdown(ROWS).splitlines() == [
        "| hook | n | median_us | paper_median_us |",
        "|---|---|---|---|",
        "| socket | 3 | 44.33 | 44.3 |",
        "| xdp | 0 | n/a | 37.8 |",
    ]


def test_csv_keeps_full_precision_and_leaves_missing_empty() -> None:
    assert tables.to_csv(ROWS).splitlines() == [
        "hook,n,median_us,paper_median_us",
        "socket,3,44.332,44.3",
        "xdp,0,,37.8",
    ]


def test_html_marks_paper_columns() -> None:
    page = tables.to_html(ROWS)
    assert "<th class='paper'>paper_median_us</th>" in page
    assert "<td>n/a</td>" in page


def test_format_row_for_the_terminal() -> None:
    assert tables.format_row(ROWS[0]) == "socket: n=3, median_us=44.33, paper_median_us=44.3"
