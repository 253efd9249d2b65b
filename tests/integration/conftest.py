"""Integration tests: real eBPF programs and real packets in the local namespaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="integration tests need root (namespaces, eBPF)")
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(skip)


def ansible_env() -> dict[str, str]:
    return dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        PATH=f"{BIN}:{os.environ['PATH']}",
        ANSIBLE_NOCOLOR="1",
    )


def run_playbook(
    playbook: str, private_dir: Path, extravars: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    """Run a playbook through ansible-runner, as CI pipelines do."""
    import ansible_runner

    private_dir.mkdir(parents=True, exist_ok=True)
    return ansible_runner.run(
        private_data_dir=str(private_dir),
        project_dir=str(REPO),
        playbook=str(REPO / "playbooks" / playbook),
        inventory=str(REPO / "inventory" / "local"),
        extravars=extravars or {},
        envvars=ansible_env(),
        quiet=True,
        **kwargs,
    )


def runner_output(result: Any) -> str:
    return result.stdout.read()[-6000:]


def netns(name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", name, *argv], capture_output=True, text=True, check=False
    )


def loaded_program_names() -> set[str]:
    out = subprocess.run(
        ["bpftool", "-j", "prog", "show"], capture_output=True, text=True, check=True
    ).stdout
    return {prog.get("name", "") for prog in json.loads(out or "[]")}


def loaded_program_ids(names: set[str]) -> set[int]:
    out = subprocess.run(
        ["bpftool", "-j", "prog", "show"], capture_output=True, text=True, check=True
    ).stdout
    return {prog["id"] for prog in json.loads(out or "[]") if prog.get("name") in names}


def processes_named(name: str) -> list[str]:
    out = subprocess.run(["pgrep", "-a", "-x", name], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()
