"""``python -m analysis stats`` as a user runs it: output formats and error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "analysis"
PAPER_DATA = REPO.parent / "shared" / "paper-data"

JSON_KEYS = [
    "file",
    "n",
    "mean",
    "min",
    "max",
    "p1",
    "p25",
    "p50",
    "p75",
    "p99",
    "p99_9",
    "iqr",
    "range",
]


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_stats_json_one_file_is_an_object_with_exact_keys() -> None:
    result = run_cli("stats", FIXTURES / "samples_header.txt", "--format", "samples", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert list(summary) == JSON_KEYS
    assert summary["n"] == 5
    assert summary["p50"] == 44332.0  # sorted: 41684 43730 44332 45094 47140
    assert summary["iqr"] == 45094.0 - 43730.0


def test_stats_json_several_files_is_a_list_and_scale_applies() -> None:
    result = run_cli(
        "stats",
        FIXTURES / "samples_header.txt",
        FIXTURES / "samples_plain.txt",
        "--format",
        "samples",
        "--scale",
        "1e-3",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    first, second = json.loads(result.stdout)
    assert first["file"].endswith("samples_header.txt")
    assert first["p50"] == pytest.approx(44.332)
    assert second["max"] == pytest.approx(39.134)


@pytest.mark.parametrize(
    ("fixture", "fmt", "median"),
    [
        ("iperf_p4_two_runs.txt", "iperf", 60.1),
        ("mutilate_two_runs.txt", "mutilate", 126598.1),
        ("mutilate_save.txt", "mutilate-save", 41.0),
        ("runner_two_runs.txt", "runner", 477612.0),
        ("drop.txt", "drop", 974833.0),
    ],
)
def test_stats_formats(fixture: str, fmt: str, median: float) -> None:
    result = run_cli("stats", FIXTURES / fixture, "--format", fmt, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["p50"] == pytest.approx(median)


def test_stats_dmesg_needs_a_hook_when_the_log_has_several() -> None:
    result = run_cli("stats", FIXTURES / "dmesg_reach.txt", "--format", "dmesg")
    assert result.returncode == 2
    assert "--hook" in result.stderr
    chosen = run_cli(
        "stats", FIXTURES / "dmesg_reach.txt", "--format", "dmesg", "--hook", "SK_SKB", "--json"
    )
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["n"] == 2


def test_stats_human_table() -> None:
    result = run_cli("stats", FIXTURES / "samples_header.txt", "--format", "samples")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert "median ± IQR" in header and "median ± range" in header
    assert "44332 ± 1364" in row  # 45094 - 43730
    assert "44332 ± 2808" in row  # 47140 - 44332, inside the fences


@pytest.mark.skipif(not PAPER_DATA.is_dir(), reason="paper-data not present")
def test_stats_prints_table3_from_the_paper_files() -> None:
    result = run_cli(
        "stats",
        PAPER_DATA / "table3_map_access_time" / "array.txt",
        "--format",
        "runner",
        "--scale",
        "1e-5",
        "--json",
    )
    summary = json.loads(result.stdout)
    assert (round(summary["p50"], 1), round(summary["range"], 1)) == (3.9, 0.8)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stats", "/no/such/file", "--format", "samples"), "No such file"),
        (("stats", FIXTURES / "drop.txt", "--format", "nope"), "invalid choice"),
        (("stats", FIXTURES / "drop.txt", "--format", "runner"), "no 'benchmark res:' lines"),
        (("stats", FIXTURES / "samples_truncated.txt", "--format", "samples"), "num samples: 6"),
        (("stats", FIXTURES, "--format", "samples"), "cannot read"),
        (("stats", FIXTURES / "drop.txt", "--format", "drop", "--scale", "nan"), "--scale"),
        (("stats", "--format", "samples"), "required"),
        (("report", "/no/such/run"), "no such directory"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
