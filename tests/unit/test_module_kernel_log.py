"""kernel_log: dmesg records from a fake /dev/kmsg, trace_pipe from a file, mounts faked."""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from conftest import load_library

REPO = Path(__file__).resolve().parents[2]
PAPER_DMESG = REPO.parent / "shared" / "paper-data" / "table1_time_to_reach" / "time_to_tc.txt"
# Real /dev/kmsg records of this kernel, as os.read returns them (one per read).
KMSG_RECORDS = [
    b"6,401,2779257017,-;RBP: 00007ffd8f5b5e40 R08: 0000000000000000 R09: 0000000000000000\n",
    b"4,403,2779257020,-; </TASK>\n",
    b"4,404,2779257021,-;---[ end trace 0000000000000000 ]---\n",
]


def record(seq: int, usec: int, message: str) -> bytes:
    return f"6,{seq},{usec},-;{message}\n SUBSYSTEM=net\n".encode()


class FakeKmsg:
    """/dev/kmsg: `present` records now, each list of `arrivals` after one more wait()."""

    def __init__(self, present: Iterable[bytes], arrivals: Iterable[list[bytes]] = ()) -> None:
        self.queue: list[bytes | OSError] = list(present)
        self.arrivals = list(arrivals)
        self.overwritten = 0
        self.waits = 0
        self.closed = False
        self.sought_end = False

    def seek_end(self) -> None:
        self.sought_end = True
        self.queue.clear()

    def read(self) -> bytes | None:
        while self.queue:
            item = self.queue.pop(0)
            if isinstance(item, OSError):
                self.overwritten += 1
                continue
            return item
        return None

    def wait(self, timeout: float) -> None:
        self.waits += 1
        if self.arrivals:
            self.queue += self.arrivals.pop(0)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def kmsg(monkeypatch: pytest.MonkeyPatch):
    """kmsg(present, arrivals) installs a FakeKmsg as the module's /dev/kmsg."""
    module = load_library("kernel_log")
    made: list[FakeKmsg] = []

    def install(present: Iterable[bytes], arrivals: Iterable[list[bytes]] = ()) -> list[FakeKmsg]:
        fake = FakeKmsg(present, arrivals)
        made.append(fake)
        monkeypatch.setattr(module, "Kmsg", lambda *a: fake)
        return made

    return install


def test_dmesg_from_now_skips_older_lines_and_keeps_matches(run_module, kmsg, tmp_path):
    made = kmsg(
        [record(10, 1_000_000, "Farbod: It takes 111 to reach TC")],
        arrivals=[
            [record(11, 238_129_092, "Farbod: It takes 273 to reach TC")],
            [
                record(12, 238_129_163, "eth0: link up"),
                record(13, 238_129_234, "It takes 5738 to reach SOCKET"),
            ],
        ],
    )
    dest = tmp_path / "raw" / "dmesg.txt"
    result = run_module(
        "kernel_log",
        {"pattern": r"It takes \d+ to reach", "duration": 0.5, "dest": str(dest)},
    )
    assert result["changed"] is True and result["count"] == 2, result
    assert dest.read_text() == (
        "[  238.129092] Farbod: It takes 273 to reach TC\n"
        "[  238.129234] It takes 5738 to reach SOCKET\n"
    )
    assert result["marker"] == 13 and result["lost"] == 0
    assert result["head"][0].endswith("273 to reach TC")
    assert made[0].closed


def test_dmesg_since_a_marker_takes_what_followed_it(run_module, kmsg, tmp_path):
    kmsg([record(s, s * 1000, f"It takes {s} to reach TC") for s in range(20, 26)])
    dest = tmp_path / "after.txt"
    result = run_module("kernel_log", {"since": 22, "dest": str(dest)})
    assert result["count"] == 3 and result["marker"] == 25 and result["lost"] == 0
    assert [int(v) for v in re.findall(r"takes (\d+)", dest.read_text())] == [23, 24, 25]


def test_dmesg_counts_records_overwritten_before_they_were_read(run_module, kmsg, tmp_path):
    # records 31..33 were overwritten: the buffer now starts at 34, and one read hits EPIPE
    kmsg([record(34, 1, "a"), OSError(errno.EPIPE, "Broken pipe"), record(36, 2, "b")])
    result = run_module("kernel_log", {"since": 30})
    assert result["count"] == 2 and result["marker"] == 36
    assert result["lost"] == 3 + 1 + 1  # 31..33 skipped, 35 missing, one EPIPE


def test_dmesg_with_a_line_limit_alone_waits_for_the_lines(run_module, kmsg):
    made = kmsg([], arrivals=[[record(1, 1, "x 1")], [], [record(2, 2, "x 2")]])
    result = run_module("kernel_log", {"lines": 2})
    assert result["count"] == 2 and made[0].waits == 3


def test_dmesg_stops_at_the_line_limit_without_waiting_out_the_duration(run_module, kmsg):
    made = kmsg([], arrivals=[[record(1, 1, "x 1"), record(2, 2, "x 2"), record(3, 3, "x 3")]])
    result = run_module("kernel_log", {"pattern": "^\\[.*x", "lines": 2, "duration": 30})
    assert result["count"] == 2 and result["elapsed"] < 5
    assert made[0].waits == 1


@pytest.mark.skipif(not PAPER_DMESG.is_file(), reason="paper-data not present")
def test_dmesg_keeps_the_format_of_the_paper_log(run_module, kmsg, tmp_path):
    lines = PAPER_DMESG.read_text().splitlines()[:200]
    records = []
    for seq, line in enumerate(lines):
        stamp, message = re.match(r"\[\s*(\d+\.\d+)\] (.*)", line).groups()
        usec = int(stamp.replace(".", ""))
        records.append(record(seq, usec, message))
    kmsg([], arrivals=[records])
    dest = tmp_path / "tc.txt"
    result = run_module("kernel_log", {"pattern": "to reach TC", "lines": 200, "dest": str(dest)})
    assert result["count"] == 200
    assert dest.read_text().splitlines() == lines


def test_real_kmsg_records_are_parsed():
    module = load_library("kernel_log")
    parsed = [module.parse_record(raw) for raw in KMSG_RECORDS]
    assert parsed[1] == (403, "[ 2779.257020]  </TASK>")
    assert parsed[2][1] == "[ 2779.257021] ---[ end trace 0000000000000000 ]---"
    assert module.parse_record(b"garbage without header") is None


def test_check_mode_reads_and_writes_nothing(run_module, kmsg, tmp_path):
    made = kmsg([record(7, 1, "old")], arrivals=[[record(8, 2, "new")]])
    dest = tmp_path / "x.txt"
    result = run_module("kernel_log", {"duration": 5, "dest": str(dest)}, check_mode=True)
    assert result["changed"] is True and result["marker"] == 7 and result["count"] == 0
    assert not dest.exists() and made[0].waits == 0


def test_marker_call_then_collect_call(run_module, kmsg, tmp_path):
    kmsg([record(1, 1, "boot")])
    start = run_module("kernel_log", {})
    assert start["changed"] is False and start["marker"] == 1 and start["count"] == 0
    kmsg([record(1, 1, "boot"), record(2, 5, "It takes 9 to reach SK_SKB")])
    end = run_module("kernel_log", {"since": start["marker"], "pattern": "to reach"})
    assert end["count"] == 1 and end["marker"] == 2


def tracefs_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "tracing"
    folder.mkdir()
    (folder / "trace_pipe").write_text(text)
    return folder


def test_trace_pipe_lines_are_filtered_and_a_partial_line_is_not_kept(run_module, tmp_path):
    folder = tracefs_with(
        tmp_path,
        "  <idle>-0  [001] ..s2. 12.5: bpf_trace_printk: tput: 13800000\n"
        "  <idle>-0  [001] ..s2. 13.5: bpf_trace_printk: other\n"
        "  <idle>-0  [001] ..s2. 14.5: bpf_trace_printk: tput: 138",
    )
    dest = tmp_path / "trace.txt"
    result = run_module(
        "kernel_log",
        {
            "source": "trace_pipe",
            "tracefs": str(folder),
            "pattern": "tput:",
            "duration": 0.3,
            "dest": str(dest),
        },
    )
    assert result["count"] == 1 and dest.read_text().endswith("tput: 13800000\n")
    assert result["tracefs"] == {"path": str(folder), "mounted_by_module": False}


def test_trace_pipe_mounts_tracefs_when_none_is_visible_and_unmounts_it(
    run_module, runner, tmp_path, monkeypatch
):
    module = load_library("kernel_log")
    monkeypatch.setattr(module, "TRACEFS_CANDIDATES", (str(tmp_path / "no-tracefs"),))
    monkeypatch.setattr(module.tempfile, "tempdir", str(tmp_path))
    mounted: list[str] = []

    def mount(argv: list[str], data: Any) -> tuple[int, str, str]:
        Path(argv[-1], "trace_pipe").write_text("x: 1\nx: 2\n")
        mounted.append(argv[-1])
        return 0, "", ""

    def umount(argv: list[str], data: Any) -> tuple[int, str, str]:
        Path(argv[-1], "trace_pipe").unlink()
        return 0, "", ""

    runner.on("mount", handler=mount)
    runner.on("umount", handler=umount)
    result = run_module("kernel_log", {"source": "trace_pipe", "lines": 2, "duration": 5})
    assert result["count"] == 2 and result["tracefs"]["mounted_by_module"] is True
    assert runner.ran("mount")[0][:4] == ["mount", "-t", "tracefs", "nodev"]
    assert runner.ran("umount") == [["umount", mounted[0]]]
    assert not Path(mounted[0]).exists()


def test_a_failed_tracefs_mount_says_what_to_check(run_module, runner, tmp_path, monkeypatch):
    module = load_library("kernel_log")
    monkeypatch.setattr(module, "TRACEFS_CANDIDATES", (str(tmp_path / "no-tracefs"),))
    runner.on("mount", result=(32, "", "mount: permission denied"))
    result = run_module("kernel_log", {"source": "trace_pipe"})
    assert result["failed"] is True
    assert "mounting it on" in result["msg"] and "permission denied" in result["msg"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"source": "trace_pipe", "since": 3}, "since is for dmesg only"),
        ({"pattern": "("}, "pattern is not a valid regular expression"),
        ({"lines": -1}, "must not be negative"),
        ({"source": "trace_pipe", "tracefs": "/nonexistent"}, "has no trace_pipe"),
    ],
)
def test_bad_input_fails_clearly(run_module, kmsg, args, message):
    kmsg([])
    result = run_module("kernel_log", args)
    assert result["failed"] is True and message in result["msg"]
