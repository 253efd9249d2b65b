"""Smoke tests of the C tools and eBPF programs, each in namespaces of its own.

Each script in tests/c builds bpf_src into a temporary folder, creates its own
namespaces, runs its programs on real packets and removes everything again.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((REPO / "tests" / "c").glob("test_*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_c_smoke(script: Path) -> None:
    result = subprocess.run(
        ["bash", str(script)], cwd=REPO, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
