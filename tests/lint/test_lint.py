"""Static checks: ruff, ansible-lint (production profile) and playbook syntax."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted((REPO / "playbooks").glob("*.yml"))


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), PATH=f"{BIN}:{os.environ['PATH']}"
    )
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    result = run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile_is_clean() -> None:
    result = run(str(BIN / "ansible-lint"), "--profile", "production", "--nocolor")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda path: path.name)
def test_playbook_syntax(playbook: Path) -> None:
    result = run(str(BIN / "ansible-playbook"), "--syntax-check", str(playbook))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_experiment_is_in_site_yml() -> None:
    site = (REPO / "playbooks" / "site.yml").read_text()
    experiments = [p.name for p in PLAYBOOKS if p.name[:3] in ("fig", "tab")]
    assert experiments, "no experiment playbook found"
    missing = [name for name in experiments if name not in site]
    assert not missing, f"site.yml does not import {missing}"
