"""The netns connection plugin wraps every command with `ip netns exec`."""

from __future__ import annotations

import shlex
from pathlib import Path
from unittest import mock

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader

REPO = Path(__file__).resolve().parents[2]
connection_loader.add_directory(str(REPO / "plugins" / "connection"))


def make_connection(run_dir: Path, name: str | None = "dut"):
    context = PlayContext()
    context.remote_addr = "local-dut"
    conn = connection_loader.get("netns", context)
    options = {"ansible_netns_run_dir": str(run_dir)}
    if name:
        options["ansible_netns_name"] = name
    conn.set_options(var_options=options)
    return conn


def test_command_runs_inside_the_namespace(tmp_path: Path) -> None:
    (tmp_path / "dut").touch()
    conn = make_connection(tmp_path)
    with mock.patch(
        "ansible.plugins.connection.local.Connection.exec_command", return_value=(0, b"", b"")
    ) as local_exec:
        conn.exec_command("echo 'a b' && true", in_data=b"x")
    wrapped = local_exec.call_args.args[0]
    assert shlex.split(wrapped) == [
        "ip",
        "netns",
        "exec",
        "dut",
        "/bin/sh",
        "-c",
        "echo 'a b' && true",
    ]
    assert local_exec.call_args.kwargs["in_data"] == b"x"


def test_namespace_defaults_to_the_host_address(tmp_path: Path) -> None:
    (tmp_path / "local-dut").touch()
    conn = make_connection(tmp_path, name=None)
    with mock.patch(
        "ansible.plugins.connection.local.Connection.exec_command", return_value=(0, b"", b"")
    ) as local_exec:
        conn.exec_command("true")
    assert shlex.split(local_exec.call_args.args[0])[3] == "local-dut"


def test_missing_namespace_says_how_to_fix(tmp_path: Path) -> None:
    conn = make_connection(tmp_path)
    with pytest.raises(AnsibleConnectionFailure, match="make testbed-up"):
        conn.exec_command("true")


def test_real_namespace_runs_commands(tmp_path: Path) -> None:
    """With root, a throw-away namespace proves the wrapping works for real."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("needs root to create a namespace")
    name = f"tbunit{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        conn = make_connection(Path("/run/netns"), name=name)
        rc, out, _ = conn.exec_command("ip -o link show | wc -l")
        assert rc == 0 and out.strip() == b"1", out  # only the namespace's loopback
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)
