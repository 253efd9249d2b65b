"""testbed_daemon with real short-lived processes in a temporary state folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture_path, fixture_text, load_library

SERVER = textwrap.dedent(
    """
    import signal, socket, sys, time
    mode = sys.argv[1]
    print("booting", flush=True)
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "crash":
        print("cannot open config", flush=True)
        sys.exit(3)
    if mode.startswith("udp:"):
        time.sleep(0.2)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", int(mode[4:])))
    if mode != "silent":
        print("ready", flush=True)
    while True:
        time.sleep(1)
    """
)


@pytest.fixture
def daemon(tmp_path: Path, run_module):
    """call(name, mode, **options) runs the module for the test server; stops everything after."""
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    state_dir = tmp_path / "daemons"

    def call(
        name: str,
        mode: str = "ready",
        state: str = "started",
        check_mode: bool = False,
        **options: Any,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"name": name, "state": state, "state_dir": str(state_dir)}
        if state == "started":
            args.update(argv=[sys.executable, str(script), mode], ready_timeout=10)
        args.update(options)
        return run_module("testbed_daemon", args, check_mode=check_mode)

    yield call
    run_module(
        "testbed_daemon", {"state": "absent_all", "state_dir": str(state_dir), "stop_timeout": 1}
    )


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_waits_for_the_ready_line_in_a_new_session(daemon, tmp_path):
    result = daemon("srv", ready_regex="^ready$", cpu=0, log=str(tmp_path / "logs" / "srv.log"))
    assert result["changed"] is True, result
    pid = result["pid"]
    assert running(pid) and os.getsid(pid) == pid
    assert (tmp_path / "daemons" / "srv.pid").read_text().strip() == str(pid)
    assert "Cpus_allowed_list:\t0\n" in Path(f"/proc/{pid}/status").read_text()
    assert (tmp_path / "logs" / "srv.log").read_text().startswith("booting\n")
    assert result["cpu"] == 0 and result["ready_after"] >= 0


def test_start_joins_the_cgroup_before_the_program_runs(daemon, tmp_path):
    # A folder with a regular cgroup.procs stands in for a cgroup v2: the child
    # writes "0" (itself) into it before exec, as into a real one.
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "cgroup.procs").write_text("")
    result = daemon("srv", ready_regex="^ready$", cpu=0, cgroup=str(cgroup))
    assert result["changed"] is True and result["cgroup"] == str(cgroup)
    assert (cgroup / "cgroup.procs").read_text() == "0"
    assert "Cpus_allowed_list:\t0\n" in Path(f"/proc/{result['pid']}/status").read_text()
    assert daemon("srv", ready_regex="^ready$", cpu=0, cgroup=str(cgroup))["changed"] is False


def test_same_daemon_again_is_unchanged(daemon):
    first = daemon("srv", ready_regex="ready")
    second = daemon("srv", ready_regex="ready")
    assert second["changed"] is False and second["pid"] == first["pid"]


def test_other_argv_restarts_it(daemon):
    first = daemon("srv", ready_regex="ready")
    second = daemon("srv", mode="ignore-term", ready_regex="ready")
    assert second["changed"] is True and second["pid"] != first["pid"]
    assert not running(first["pid"])


def test_stop_sends_sigterm_then_is_unchanged(daemon, tmp_path):
    pid = daemon("srv", ready_regex="ready")["pid"]
    result = daemon("srv", state="stopped")
    assert (
        result["changed"] is True
        and result["signal"] == "SIGTERM"
        and result["exit_status"] is None
    )
    assert "ready" in result["log_tail"]
    assert not running(pid) and not (tmp_path / "daemons" / "srv.pid").exists()
    assert daemon("srv", state="stopped")["changed"] is False


def test_stop_kills_a_daemon_that_ignores_sigterm(daemon):
    pid = daemon("stubborn", mode="ignore-term", ready_regex="ready")["pid"]
    result = daemon("stubborn", state="stopped", stop_timeout=0.3)
    assert result["signal"] == "SIGKILL" and not running(pid)


def test_a_daemon_that_dies_fails_with_its_log_and_status(daemon, tmp_path):
    result = daemon("crashy", mode="crash", ready_regex="ready")
    assert result["failed"] is True and result["exit_status"] == 3
    assert "exited with status 3" in result["msg"] and "cannot open config" in result["msg"]
    assert not (tmp_path / "daemons" / "crashy.json").exists()


def test_a_daemon_that_is_never_ready_is_killed(daemon, tmp_path):
    result = daemon("mute", mode="silent", ready_regex="ready", ready_timeout=0.5)
    assert result["failed"] is True and "not ready within 0.5s" in result["msg"]
    assert not running(result["pid"]) and not (tmp_path / "daemons" / "mute.pid").exists()


def test_ready_port_waits_for_the_daemons_own_socket(daemon):
    port = free_udp_port()
    result = daemon("udp", mode=f"udp:{port}", ready_port=port, ready_proto="udp")
    assert result["changed"] is True and result["ready_after"] >= 0.2


def test_a_port_taken_by_someone_else_is_refused(daemon):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = daemon("udp", mode=f"udp:{port}", ready_port=port, ready_proto="udp")
    assert (
        result["failed"] is True
        and f"UDP port {port} is already bound here by pid {os.getpid()}" in result["msg"]
    )


def test_check_mode_starts_nothing(daemon, tmp_path):
    result = daemon("srv", ready_regex="ready", check_mode=True)
    assert result["changed"] is True and result["pid"] is None
    assert not (tmp_path / "daemons").exists()


def test_absent_all_stops_every_recorded_daemon(daemon, run_module, tmp_path):
    pids = [daemon(name, ready_regex="ready")["pid"] for name in ("one", "two")]
    result = run_module(
        "testbed_daemon", {"state": "absent_all", "state_dir": str(tmp_path / "daemons")}
    )
    assert result["changed"] is True and result["stopped"] == ["one", "two"]
    assert not any(running(pid) for pid in pids)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cpu": 4096}, "cpu 4096 is not available on this host"),
        ({"name": "bad name"}, "may only hold letters"),
        ({"ready_regex": "("}, "not a valid regular expression"),
        ({"argv": ["/nonexistent/server"]}, "cannot run /nonexistent/server"),
        ({"cgroup": "/nonexistent/cgroup"}, "is not a cgroup v2 folder"),
    ],
)
def test_bad_input_fails_clearly(daemon, options, message):
    name = options.pop("name", "srv")
    result = daemon(name, **options)
    assert result["failed"] is True and message in result["msg"]


def test_started_needs_argv(run_module, tmp_path):
    result = run_module("testbed_daemon", {"name": "x", "state_dir": str(tmp_path)})
    assert result["failed"] is True and "argv" in result["msg"]


def test_socket_tables_are_read_from_proc_net(tmp_path, monkeypatch):
    module = load_library("testbed_daemon")
    (tmp_path / "net").mkdir()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        (tmp_path / "net" / table).write_text(fixture_text(f"proc/net_{table}.txt"))
    monkeypatch.setattr(module, "PROC", str(tmp_path))
    tcp_inode, udp_inode = (
        line[8:-1] for line in fixture_path("proc/socket_inodes.txt").read_text().split()
    )
    assert module.bound_inodes(18080, "tcp") == {tcp_inode}
    assert module.bound_inodes(18081, "udp") == {udp_inode}
    assert module.bound_inodes(18081, "tcp") == set()


def test_record_keeps_what_cleanup_needs(daemon, tmp_path):
    pid = daemon("srv", ready_regex="ready", env={"MODE": 1})["pid"]
    record = json.loads((tmp_path / "daemons" / "srv.json").read_text())
    assert record["pid"] == record["pgid"] == pid and record["env"] == {"MODE": "1"}
    assert record["netns"]["inode"] == os.readlink("/proc/self/ns/net")
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert daemon("srv", state="stopped")["changed"] is False  # gone already: nothing to do
