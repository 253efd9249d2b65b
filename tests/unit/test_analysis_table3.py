"""Table 3 (time to access a collection): the analysis on synthetic runs and on the
paper's own runner files, and `python -m analysis stats` printing the paper's table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import paper
from analysis.experiments import table3_map_access as table3
from analysis.results import RunInfo

REPO = Path(__file__).resolve().parents[2]
PAPER_DATA = REPO.parent / "shared" / "paper-data" / "table3_map_access_time"
#: The paper's files, by the variant whose runner.txt they stand for.
PAPER_FILES = {
    ("stack", 4): "on_stack.txt",
    ("array", 4): "array.txt",
    ("percpu_array", 4): "array_percpu.txt",
    ("hash", 4): "hash_4b.txt",
    ("lru_hash", 4): "lru_4b.txt",
}
HEADER = (
    "map_runner: map={map} key_size={key} value_size=256 entries=1 max_entries=1 "
    "lookups={lookups} runs={runs} repeat=1 warmup=1 cpu=1 prog=xdp_map_access "
    "prog_id=7 jited_bytes=669\n"
)


def runner_output(kind: str, key: int, ns_per_access: list[float], lookups: int = 1000) -> str:
    """What map_runner prints for runs taking these ns per access."""
    lines = [HEADER.format(map=kind, key=key, lookups=lookups, runs=len(ns_per_access))]
    for ns in ns_per_access:
        lines.append(f"benchmark res: {ns * lookups:.6f}\nreturn value: 1\n")
    lines.append(f"summary: runs={len(ns_per_access)} min_res=0 median_res=0 ns_per_access=0\n")
    return "".join(lines)


def make_experiment(
    root: Path, outputs: dict[tuple[str, int], str], params: dict | None = None
) -> Path:
    exp = root / "table3_map_access"
    exp.mkdir(parents=True)
    for (kind, key), text in outputs.items():
        folder = exp / "raw" / f"{kind}_k{key}"
        folder.mkdir(parents=True)
        (folder / "runner.txt").write_text(text, encoding="utf-8")
    variants = [list(v) for v in outputs]
    defaults = {"variants": variants, "lookups": 1000, "runs": 5, "scale": "quick"}
    (exp / "params.json").write_text(json.dumps(defaults | (params or {})), encoding="utf-8")
    (exp / "status.json").write_text(json.dumps({"status": "complete"}), encoding="utf-8")
    return exp


def local_run(root: Path) -> RunInfo:
    return RunInfo(root, {"testbed": "local"})


def claims_of(report) -> dict[str, str]:
    return {claim.id: claim.verdict for claim in report.claims}


def synthetic(hash_ns: float = 14.0, lru_ns: float = 14.5, array_ns: float = 3.0) -> dict:
    return {
        ("stack", 4): runner_output("stack", 4, [2.3, 2.4, 2.3, 2.5, 2.3]),
        ("array", 4): runner_output("array", 4, [array_ns, array_ns + 0.1, array_ns, 9.0, 3.0]),
        ("hash", 4): runner_output("hash", 4, [hash_ns] * 4 + [hash_ns + 1]),
        ("hash", 16): runner_output("hash", 16, [15.0] * 5),
        ("lru_hash", 4): runner_output("lru_hash", 4, [lru_ns] * 5),
    }


def test_rows_give_ns_per_access_beside_the_paper(tmp_path: Path) -> None:
    report = table3.analyse(make_experiment(tmp_path, synthetic()), local_run(tmp_path))
    rows = {(r["map"], r["key_bytes"]): r for r in report.table}
    assert list(rows) == [("stack", 4), ("array", 4), ("hash", 4), ("hash", 16), ("lru_hash", 4)]
    array = rows[("array", 4)]
    assert array["n"] == 5
    assert array["median_ns"] == pytest.approx(3.0)  # nearest rank: 3.0 3.0 3.0 3.1 9.0
    assert array["paper_median_ns"] == paper.TABLE3_MEDIAN_NS["array"]
    assert array["paper_range_ns"] == paper.TABLE3_RANGE_NS["array"]
    assert rows[("stack", 4)]["paper_median_ns"] == paper.TABLE3_OTHER_MEDIAN_NS["on_stack"]
    assert rows[("hash", 16)]["paper_median_ns"] is None
    assert next(iter(array)) == "map"
    assert report.status == "complete"
    assert any("Lookup alone" in note for note in report.notes)


def test_claims_hold_when_array_is_several_times_faster(tmp_path: Path) -> None:
    report = table3.analyse(make_experiment(tmp_path, synthetic()), local_run(tmp_path))
    assert claims_of(report) == {
        "table3.array_faster_than_hash": "holds",
        "table3.array_faster_than_lru": "holds",
        "table3.hash_close_to_lru": "holds",
    }
    measured = {c.id: c.measured for c in report.claims}
    assert measured["table3.array_faster_than_hash"] == "3.0 vs 14.0 ns (4.7x)"


def test_claims_fail_when_the_ratio_or_the_gap_is_off(tmp_path: Path) -> None:
    outputs = synthetic(hash_ns=5.0, lru_ns=9.0, array_ns=3.0)
    report = table3.analyse(make_experiment(tmp_path, outputs), local_run(tmp_path))
    assert claims_of(report) == {
        "table3.array_faster_than_hash": "fails",  # 1.7x < 2x
        "table3.array_faster_than_lru": "holds",  # 3x
        "table3.hash_close_to_lru": "fails",  # +80%
    }


def test_missing_and_broken_variants_are_reported_not_raised(tmp_path: Path) -> None:
    outputs = synthetic()
    outputs[("lru_hash", 4)] = "map_runner: failed to load\n"
    exp = make_experiment(tmp_path, outputs)
    params = json.loads((exp / "params.json").read_text())
    params["variants"].append(["percpu_array", 4])
    (exp / "params.json").write_text(json.dumps(params))
    report = table3.analyse(exp, local_run(tmp_path))
    assert report.status == "partial"
    assert claims_of(report)["table3.hash_close_to_lru"] == "inconclusive"
    rows = {(r["map"], r["key_bytes"]): r for r in report.table}
    assert rows[("percpu_array", 4)]["median_ns"] is None
    notes = " ".join(report.notes)
    assert "percpu_array_k4: no data" in notes
    assert "lru_hash_k4: raw/lru_hash_k4/runner.txt not usable" in notes


def test_lookups_come_from_the_header_before_params(tmp_path: Path) -> None:
    outputs = {("array", 4): runner_output("array", 4, [3.0] * 5, lookups=50)}
    report = table3.analyse(make_experiment(tmp_path, outputs), local_run(tmp_path))
    assert report.table[0]["median_ns"] == pytest.approx(3.0)


@pytest.mark.skipif(not PAPER_DATA.is_dir(), reason="paper-data not present")
def test_the_paper_files_as_a_run_give_the_papers_table(tmp_path: Path) -> None:
    # The artifact's files have no header: lookups come from params.json (100K).
    outputs = {v: (PAPER_DATA / f).read_text(encoding="utf-8") for v, f in PAPER_FILES.items()}
    exp = make_experiment(tmp_path, outputs, {"lookups": paper.TABLE3_LOOKUPS_PER_RUN})
    report = table3.analyse(exp, RunInfo(tmp_path, {"testbed": "cloudlab"}))
    for row in report.table:
        assert abs(row["median_ns"] - row["paper_median_ns"]) < 0.1, row
    hash_row = next(r for r in report.table if r["map"] == "hash")
    assert abs(hash_row["range_ns"] - paper.TABLE3_RANGE_NS["hash"]) < 0.1
    assert set(claims_of(report).values()) == {"holds"}
    assert table3.figure(report, RunInfo(tmp_path, {"testbed": "cloudlab"})) is not None


@pytest.mark.skipif(not PAPER_DATA.is_dir(), reason="paper-data not present")
def test_stats_cli_prints_table3_from_the_paper_files() -> None:
    files = [PAPER_DATA / f for f in PAPER_FILES.values()]
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "stats", "--format", "runner", "--scale", "1e-5",
         "--json", *map(str, files)],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    medians = [round(s["p50"], 2) for s in json.loads(result.stdout)]
    assert medians == pytest.approx(
        [
            paper.TABLE3_OTHER_MEDIAN_NS["on_stack"],
            paper.TABLE3_MEDIAN_NS["array"],
            paper.TABLE3_OTHER_MEDIAN_NS["percpu_array"],
            paper.TABLE3_MEDIAN_NS["hash"],
            paper.TABLE3_MEDIAN_NS["lru_hash"],
        ],
        abs=0.1,
    )


def test_figure_has_a_key_size_panel_only_when_sizes_vary(tmp_path: Path) -> None:
    run = local_run(tmp_path)
    wide = table3.analyse(make_experiment(tmp_path / "a", synthetic()), run)
    assert len(table3.figure(wide, run).axes) == 2
    narrow_outputs = {k: v for k, v in synthetic().items() if k[1] == 4}
    narrow = table3.analyse(make_experiment(tmp_path / "b", narrow_outputs), run)
    assert len(table3.figure(narrow, run).axes) == 1
    empty = table3.analyse(make_experiment(tmp_path / "c", {}), run)
    assert table3.figure(empty, run) is None
