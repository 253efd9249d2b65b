"""Helpers for the unit tests of the custom modules in library/.

- `module_utils/*.py` import as `ansible.module_utils.<name>`, as under Ansible.
- `run_module` runs a module's main() in-process with given args and returns the
  JSON it printed; `AnsibleModule.run_command` goes to a `FakeRunner` that answers
  from captured real outputs in tests/fixtures/modules/.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_UTILS = REPO / "module_utils"
LIBRARY = REPO / "library"
FIXTURES = REPO / "tests" / "fixtures" / "modules"


class _ProjectModuleUtils(importlib.abc.MetaPathFinder):
    """Finds `ansible.module_utils.X` in the project's module_utils/, like ansible.cfg does."""

    prefix = "ansible.module_utils."

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith(self.prefix):
            return None
        candidate = MODULE_UTILS / (fullname[len(self.prefix) :] + ".py")
        if "." in fullname[len(self.prefix) :] or not candidate.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, candidate)


if not any(isinstance(f, _ProjectModuleUtils) for f in sys.meta_path):
    sys.meta_path.insert(0, _ProjectModuleUtils())


def load_library(name: str) -> ModuleType:
    """Import library/<name>.py as the module `library_<name>` (once)."""
    key = f"library_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, LIBRARY / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


# --- fixtures (captured outputs) ---


def fixture_path(rel: str) -> Path:
    return FIXTURES / rel


def fixture_text(rel: str) -> str:
    return fixture_path(rel).read_text()


def fixture_json(rel: str) -> Any:
    return json.loads(fixture_text(rel))


def fixture_result(rel: str) -> tuple[int, str, str]:
    """(rc, stdout, stderr) of a captured command: REL, REL.stderr, REL.rc."""
    base = fixture_path(rel)
    out = base.read_text() if base.exists() else ""
    err_path = base.with_name(base.name + ".stderr")
    rc_path = base.with_name(base.name + ".rc")
    err = err_path.read_text() if err_path.exists() else ""
    rc = int(rc_path.read_text()) if rc_path.exists() else 0
    return rc, out, err


# --- run_command fake ---

Response = tuple[int, str, str]
Handler = Callable[[list[str], "str | None"], Response]


class FakeRunner:
    """Stands in for AnsibleModule.run_command.

    Rules match on a prefix of argv (argv[0] by basename); the most recently added
    matching rule answers. A rule answers with a fixed (rc, out, err), a fixture
    name, or a handler called with (argv, stdin data). Every call is recorded.
    """

    def __init__(self) -> None:
        self.rules: list[tuple[tuple[str, ...], Handler]] = []
        self.calls: list[list[str]] = []
        self.stdin: list[str | None] = []

    def on(
        self,
        *prefix: str,
        result: Response | None = None,
        fixture: str | None = None,
        handler: Handler | None = None,
    ) -> FakeRunner:
        if handler is None:
            response = fixture_result(fixture) if fixture is not None else (result or (0, "", ""))
            handler = lambda argv, data, r=response: r  # noqa: E731
        self.rules.append((tuple(prefix), handler))
        return self

    def __call__(
        self, args: Sequence[str], *_: Any, data: str | None = None, **__: Any
    ) -> Response:
        argv = [os.path.basename(str(args[0])), *[str(a) for a in args[1:]]]
        self.calls.append(argv)
        self.stdin.append(data)
        for prefix, handler in reversed(self.rules):
            if tuple(argv[: len(prefix)]) == prefix:
                return handler(argv, data)
        raise AssertionError(f"unexpected command: {argv}")

    def ran(self, *prefix: str) -> list[list[str]]:
        """The calls whose argv starts with `prefix`."""
        return [c for c in self.calls if tuple(c[: len(prefix)]) == prefix]


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def run_module(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], runner: FakeRunner
) -> Callable[..., dict[str, Any]]:
    """run_module(name, args, check_mode=False, bins=None) -> the module's JSON result.

    `bins` lists the tools get_bin_path finds (default: all of them).
    """
    from ansible.module_utils import _internal, basic
    from ansible.module_utils.testing import patch_module_args

    # other tests import controller code, which makes warnings go to the display instead
    monkeypatch.setattr(_internal, "is_controller", False)

    def call(
        name: str, args: dict[str, Any], check_mode: bool = False, bins: set[str] | None = None
    ) -> dict[str, Any]:
        module = load_library(name)
        monkeypatch.setattr(
            basic.AnsibleModule, "run_command", lambda self, cmd, *a, **kw: runner(cmd, *a, **kw)
        )
        monkeypatch.setattr(
            basic.AnsibleModule,
            "get_bin_path",
            lambda self, arg, required=False, opt_dirs=None: (
                f"/usr/sbin/{arg}" if bins is None or arg in bins else None
            ),
        )
        full = dict(args, _ansible_check_mode=check_mode)
        capsys.readouterr()
        with patch_module_args(full), pytest.raises(SystemExit):
            module.main()
        out = capsys.readouterr().out
        lines = [line for line in out.splitlines() if line.strip()]
        assert lines, "the module printed nothing"
        return json.loads(lines[-1])

    return call
