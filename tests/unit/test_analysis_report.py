"""``python -m analysis report`` on synthetic results folders built in tmp_path."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from analysis.experiments import fig3_echo, registry
from analysis.figures import describe_testbed
from analysis.report import build_report
from analysis.results import effective_status, read_run

REPO = Path(__file__).resolve().parents[2]
HOOKS = ["socket", "sk_skb", "tc", "xdp"]
#: Medians (ns) like the paper's: XDP and TC well below the socket, SK_SKB close to it.
PAPER_LIKE_NS = {"socket": 44_300, "sk_skb": 43_100, "tc": 38_500, "xdp": 37_800}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def make_run(
    root: Path,
    medians_ns: Mapping[str, int],
    *,
    testbed: str = "local",
    status: str = "complete",
    n: int = 2000,
) -> Path:
    """A results folder with fig3_echo samples around the given medians."""
    run = root / "20251201T000000Z-abc1234"
    write_json(
        run / "run.json",
        {
            "run_id": run.name,
            "command": "ansible-playbook playbooks/fig3_echo.yml",
            "inventory": ["inventory/local"],
            "testbed": testbed,
            "scale": "quick",
            "started": "2025-12-01T00:00:00Z",
            "ended": "2025-12-01T00:03:00Z",
            "status": status,
            "git_sha": "abc1234",
        },
    )
    exp = run / "fig3_echo"
    write_json(
        exp / "params.json",
        {"hooks": HOOKS, "scale": "quick", "payload_bytes": 64, "requests": n, "warmup": 100},
    )
    write_json(
        exp / "status.json", {"status": status, "reason": "", "hooks_done": list(medians_ns)}
    )
    write_json(exp / "hosts" / "dut.json", {"kernel": "6.18.0-test", "method": "veth, netns"})
    rng = np.random.default_rng(7)
    for hook, median in medians_ns.items():
        samples = (median + rng.normal(0, 500, n)).astype(int)
        samples[::97] *= 50  # a heavy tail, as real echo runs have
        raw = exp / "raw" / hook
        raw.mkdir(parents=True)
        lines = "\n".join(map(str, samples))
        (raw / "samples.txt").write_text(f"num samples: {n}\n{lines}\n", encoding="utf-8")
        (raw / "client.log").write_text("sent all requests\n", encoding="utf-8")
    return run


def tree_digest(run: Path) -> dict[str, str]:
    """Hash of every file of the run outside report/."""
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file() and "report" not in p.relative_to(run).parts
    }


def verdicts(summary: Mapping[str, object]) -> dict[str, str]:
    claims = summary["experiments"]["fig3_echo"]["claims"]  # type: ignore[index]
    return {c["id"]: c["verdict"] for c in claims}


def test_registry_finds_fig3_with_its_interface() -> None:
    modules = registry()
    assert modules["fig3_echo"] is fig3_echo
    for module in modules.values():
        assert callable(module.analyse) and callable(module.figure)
        assert module.TITLE


def test_complete_run(tmp_path: Path) -> None:
    run = make_run(tmp_path, PAPER_LIKE_NS)
    before = tree_digest(run)
    report = build_report(run)

    summary = json.loads((run / "report" / "summary.json").read_text(encoding="utf-8"))
    assert summary == report.summary
    assert summary["run"]["testbed"] == "local"
    exp = summary["experiments"]["fig3_echo"]
    assert list(exp) == ["status", "table", "claims", "figures", "notes"]
    assert exp["status"] == "complete"
    assert [row["hook"] for row in exp["table"]] == HOOKS
    assert list(exp["table"][0]) == [
        "hook",
        "n",
        "median_us",
        "iqr_us",
        "p99_us",
        "paper_median_us",
        "paper_iqr_us",
    ]
    socket = exp["table"][0]
    assert socket["n"] == 2000
    assert socket["median_us"] == pytest.approx(44.3, abs=0.1)
    assert socket["paper_median_us"] == 44.3
    assert verdicts(summary) == {
        "fig3.xdp_below_socket": "holds",
        "fig3.tc_below_socket": "holds",
        "fig3.sk_skb_near_socket": "holds",
    }
    claim = exp["claims"][0]
    assert set(claim) == {"id", "text", "paper", "measured", "verdict"}
    assert claim["paper"] == "44.3 -> 37.8 µs (-14.7%)"
    assert any("6.18.0-test" in note and "veth, netns" in note for note in exp["notes"])

    assert (run / "report").stat().st_mode & 0o777 == 0o755
    png = run / "report" / "figures" / "fig3_echo.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert (run / "report" / "figures" / "fig3_echo.pdf").stat().st_size > 0
    assert exp["figures"] == ["figures/fig3_echo.png", "figures/fig3_echo.pdf"]
    markdown = (run / "report" / "tables" / "fig3_echo.md").read_text(encoding="utf-8")
    assert markdown.startswith("| hook | n | median_us |")
    csv_lines = (run / "report" / "tables" / "fig3_echo.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(HOOKS)
    page = (run / "report" / "index.html").read_text(encoding="utf-8")
    assert "<img src='figures/fig3_echo.png'" in page
    assert "class='verdict holds'" in page
    assert tree_digest(run) == before  # raw data untouched


def test_missing_hook_is_partial_and_its_claims_inconclusive(tmp_path: Path) -> None:
    medians = {hook: ns for hook, ns in PAPER_LIKE_NS.items() if hook != "xdp"}
    run = make_run(tmp_path, medians)  # status.json still says complete
    exp = build_report(run).summary["experiments"]["fig3_echo"]
    assert exp["status"] == "partial"
    xdp = exp["table"][3]
    assert (xdp["hook"], xdp["n"], xdp["median_us"], xdp["paper_median_us"]) == (
        "xdp",
        0,
        None,
        37.8,
    )
    assert verdicts(build_report(run).summary) == {
        "fig3.xdp_below_socket": "inconclusive",
        "fig3.tc_below_socket": "holds",
        "fig3.sk_skb_near_socket": "inconclusive",
    }
    assert any(note.startswith("xdp: no samples") for note in exp["notes"])
    assert (run / "report" / "figures" / "fig3_echo.png").exists()


def test_claims_fail_when_the_ordering_is_reversed(tmp_path: Path) -> None:
    run = make_run(tmp_path, {"socket": 30_000, "sk_skb": 20_000, "tc": 31_000, "xdp": 25_000})
    assert verdicts(build_report(run).summary) == {
        "fig3.xdp_below_socket": "holds",
        "fig3.tc_below_socket": "fails",
        "fig3.sk_skb_near_socket": "fails",  # SK_SKB gains 10 µs, more than half of XDP's 5
    }


def test_sk_skb_claim_inconclusive_without_an_xdp_gain(tmp_path: Path) -> None:
    run = make_run(tmp_path, {"socket": 30_000, "sk_skb": 29_000, "tc": 31_000, "xdp": 32_000})
    assert verdicts(build_report(run).summary)["fig3.sk_skb_near_socket"] == "inconclusive"


def test_truncated_samples_file_is_reported_not_fatal(tmp_path: Path) -> None:
    run = make_run(tmp_path, PAPER_LIKE_NS)
    samples = run / "fig3_echo" / "raw" / "tc" / "samples.txt"
    samples.write_text("num samples: 10\n1\n2\n", encoding="utf-8")
    exp = build_report(run).summary["experiments"]["fig3_echo"]
    assert exp["status"] == "partial"
    assert any("tc: raw/tc/samples.txt not usable" in note for note in exp["notes"])


def test_other_folders_and_broken_files_never_crash_the_report(tmp_path: Path) -> None:
    run = make_run(tmp_path, PAPER_LIKE_NS)
    write_json(run / "table9_future" / "status.json", {"status": "failed", "reason": "no NIC"})
    (run / "fig3_echo" / "params.json").write_text("{not json", encoding="utf-8")
    experiments = build_report(run).summary["experiments"]
    assert experiments["table9_future"]["status"] == "failed"
    assert experiments["table9_future"]["table"] == []
    assert experiments["fig3_echo"]["status"] == "error"
    assert "params.json" in experiments["fig3_echo"]["notes"][0]
    assert (run / "report" / "index.html").exists()


def test_rerun_replaces_only_the_report(tmp_path: Path) -> None:
    run = make_run(tmp_path, PAPER_LIKE_NS)
    build_report(run)
    stale = run / "report" / "figures" / "stale.png"
    stale.write_bytes(PNG_MAGIC)
    before = tree_digest(run)
    build_report(run)
    assert not stale.exists()
    assert tree_digest(run) == before
    assert sorted(p.name for p in run.iterdir()) == ["fig3_echo", "report", "run.json"]


@pytest.mark.parametrize(
    ("recorded", "present", "expected"),
    [
        ("complete", HOOKS, "complete"),
        ("complete", HOOKS[:2], "partial"),
        ("complete", [], "failed"),
        (None, HOOKS, "unknown"),
        (None, HOOKS[:1], "partial"),
        ("running", HOOKS[:1], "running"),
        ("failed", HOOKS[:3], "failed"),
    ],
)
def test_effective_status(recorded: str | None, present: list[str], expected: str) -> None:
    assert effective_status(recorded, HOOKS, present) == expected


@pytest.mark.parametrize(
    ("testbed", "label"),
    [("local", "local testbed (veth)"), ("cloudlab", "Cloudlab (hardware)")],
)
def test_figure_title_names_the_testbed(tmp_path: Path, testbed: str, label: str) -> None:
    run = make_run(tmp_path, PAPER_LIKE_NS, testbed=testbed, n=500)
    info = read_run(run)
    fig = fig3_echo.figure(fig3_echo.analyse(run / "fig3_echo", info), info)
    assert fig is not None
    assert describe_testbed(testbed) == label
    assert fig.axes[0].get_title() == f"Figure 3: echo RTT per hook, {label}"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == [f"this run: {label}", "paper median (CX-6, bare metal)"]
    plt.close(fig)


def test_recorded_partial_status_stands(tmp_path: Path) -> None:
    run = make_run(tmp_path, {"socket": 44_300}, status="partial")
    exp = build_report(run).summary["experiments"]["fig3_echo"]
    assert exp["status"] == "partial"
    assert [row["n"] for row in exp["table"]] == [2000, 0, 0, 0]


def test_cli_report_prints_path_and_one_line_per_row(tmp_path: Path) -> None:
    run = make_run(tmp_path, PAPER_LIKE_NS, n=500)
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "report", str(run)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"report: {run / 'report' / 'index.html'}"
    assert lines[1] == "fig3_echo [complete]"
    rows = [line for line in lines if line.startswith("  ") and "median_us=" in line]
    assert [row.split(":")[0].strip() for row in rows] == HOOKS


def test_provenance_notes_read_the_sections_of_host_facts(tmp_path: Path) -> None:
    from analysis.results import provenance_notes

    hosts = tmp_path / "hosts"
    hosts.mkdir()
    facts = {
        "kernel": {"release": "6.18.44", "config": {"CONFIG_BPF_LSM": "y"}},
        "cpu": {"model": "Xeon Silver 4310", "online": "0-1"},
        "method": "stamp",
    }
    (hosts / "local-dut.json").write_text(json.dumps(facts), encoding="utf-8")
    (hosts / "old.json").write_text(json.dumps({"kernel": "5.15.0", "cpu": "EPYC"}), "utf-8")
    assert provenance_notes(tmp_path) == [
        "local-dut: kernel 6.18.44, CPU Xeon Silver 4310; method: stamp",
        "old: kernel 5.15.0, CPU EPYC; method: not recorded",
    ]
