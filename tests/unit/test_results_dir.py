"""results_dir: runs and experiments are created exclusively and never overwritten."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "library" / "results_dir.py"


def call(tmp_path: Path, **args: Any) -> dict[str, Any]:
    """Run the module as Ansible does for a local module: a JSON args file."""
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    out = subprocess.run(
        [sys.executable, str(MODULE), str(args_file)], capture_output=True, text=True, check=False
    )
    return json.loads(out.stdout)


def start(tmp_path: Path, root: Path) -> dict[str, Any]:
    return call(
        tmp_path,
        action="start_run",
        root=str(root),
        run_id="20261201T000000Z-abc",
        data={"scale": "quick"},
    )


def test_start_run_creates_folder_and_latest(tmp_path: Path) -> None:
    root = tmp_path / "results"
    run = start(tmp_path, root)
    assert run["changed"] and run["run_id"] == "20261201T000000Z-abc"
    assert (root / "latest").resolve() == root / run["run_id"]
    meta = json.loads((root / run["run_id"] / "run.json").read_text())
    assert meta["status"] == "running" and meta["scale"] == "quick"


def test_same_second_gets_a_suffix_and_latest_moves(tmp_path: Path) -> None:
    root = tmp_path / "results"
    first, second = start(tmp_path, root), start(tmp_path, root)
    assert second["run_id"] == f"{first['run_id']}-2"
    assert (root / "latest").resolve().name == second["run_id"]
    assert (root / first["run_id"] / "run.json").exists()


def test_experiment_is_never_overwritten(tmp_path: Path) -> None:
    root = tmp_path / "results"
    run = start(tmp_path, root)
    common = {"root": str(root), "run_id": run["run_id"], "experiment": "fig3_echo"}
    made = call(tmp_path, action="start_experiment", data={"hooks": ["xdp"]}, **common)
    exp = Path(made["experiment_dir"])
    assert json.loads((exp / "status.json").read_text())["status"] == "running"
    (exp / "raw" / "keep.txt").write_text("data")
    again = call(tmp_path, action="start_experiment", data={}, **common)
    assert again.get("failed") and "never overwritten" in again["msg"]
    assert (exp / "raw" / "keep.txt").read_text() == "data"
    assert json.loads((exp / "params.json").read_text()) == {"hooks": ["xdp"]}


def test_status_and_finish_follow_experiments(tmp_path: Path) -> None:
    root = tmp_path / "results"
    run = start(tmp_path, root)
    common = {"root": str(root), "run_id": run["run_id"]}
    for name in ("fig3_echo", "table2_iperf"):
        call(tmp_path, action="start_experiment", experiment=name, **common)
    call(tmp_path, action="set_status", experiment="fig3_echo", status="complete", **common)
    finished = call(tmp_path, action="finish_run", **common)
    assert finished["status"] == "partial"
    assert finished["experiments"] == {"fig3_echo": "complete", "table2_iperf": "running"}


def test_interrupt_marks_running_work_partial(tmp_path: Path) -> None:
    root = tmp_path / "results"
    run = start(tmp_path, root)
    common = {"root": str(root), "run_id": run["run_id"]}
    for name in ("fig3_echo", "table2_iperf"):
        call(tmp_path, action="start_experiment", experiment=name, **common)
    call(tmp_path, action="set_status", experiment="fig3_echo", status="complete", **common)
    marked = call(tmp_path, action="interrupt", root=str(root), run_id="latest")
    assert marked["marked"] == ["table2_iperf", "run"]
    status = json.loads((root / run["run_id"] / "table2_iperf" / "status.json").read_text())
    assert status["status"] == "partial" and status["reason"] == "interrupted"
    done = json.loads((root / run["run_id"] / "fig3_echo" / "status.json").read_text())
    assert done["status"] == "complete"
    assert call(tmp_path, action="interrupt", root=str(root), run_id="latest")["changed"] is False


def test_unknown_run_is_a_clear_error(tmp_path: Path) -> None:
    result = call(
        tmp_path,
        action="set_status",
        root=str(tmp_path),
        run_id="nope",
        experiment="x",
        status="complete",
    )
    assert result["failed"] and "does not exist" in result["msg"]
