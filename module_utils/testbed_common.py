# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the testbed's modules: commands, errors, state files, namespaces."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any

# Every tool is run with a C locale so its messages and number formats are the ones we parse.
C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"}
NETNS_RUN_DIR = "/run/netns"


class ModuleError(Exception):
    """A failure to report with fail_json: a message that says what to do, plus details."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details

    def fail(self, module: Any, **extra: Any) -> None:
        module.fail_json(msg=self.msg, **self.details, **extra)


def tail(text: str, lines: int = 40) -> str:
    """The last `lines` lines of `text`, without trailing blank lines."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


class Runner:
    """Runs commands through module.run_command with a C locale.

    Binaries are resolved once with get_bin_path, so a missing tool fails with
    its name instead of an obscure exec error.
    """

    def __init__(self, module: Any) -> None:
        self.module = module
        self._paths: dict[str, str] = {}

    def binary(self, name: str) -> str:
        if name not in self._paths:
            path = self.module.get_bin_path(name)
            if not path:
                raise ModuleError(
                    f"'{name}' is not installed on this host (or not in PATH). "
                    "Install it first (the deps role does: "
                    "ansible-playbook playbooks/provision.yml)."
                )
            self._paths[name] = path
        return self._paths[name]

    def run(self, argv: list[str], data: str | None = None) -> tuple[int, str, str]:
        cmd = [self.binary(argv[0]), *argv[1:]]
        return self.module.run_command(cmd, data=data, environ_update=C_LOCALE)

    def check(self, argv: list[str], what: str, hint: str = "", data: str | None = None) -> str:
        """Run and return stdout; raise ModuleError naming `what` when the command fails."""
        rc, out, err = self.run(argv, data=data)
        if rc != 0:
            reason = tail(err or out, 5) or f"exit status {rc}"
            raise ModuleError(
                f"{what} failed: {reason}" + (f". {hint}" if hint else ""),
                cmd=" ".join(argv),
                rc=rc,
                stdout=out,
                stderr=err,
            )
        return out

    def json(self, argv: list[str], what: str, hint: str = "") -> Any:
        out = self.check(argv, what, hint)
        try:
            return json.loads(out) if out.strip() else None
        except ValueError as exc:
            raise ModuleError(
                f"{what}: could not parse the JSON printed by {argv[0]} ({exc})",
                cmd=" ".join(argv),
                stdout=out,
            ) from exc


def read_json(path: str) -> Any:
    """Parsed JSON of `path`, or None when the file does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ModuleError(
            f"state file {path} is not valid JSON ({exc}); remove it if nothing uses it any more"
        ) from exc


def write_json(path: str, data: Any) -> None:
    """Write JSON atomically (temporary file + rename), creating the folder if needed."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_file(path: str) -> bool:
    """Remove a file; True when it existed."""
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def current_netns(run_dir: str = NETNS_RUN_DIR) -> dict[str, str | None]:
    """Identity of this process's network namespace: inode link and iproute2 name if any."""
    try:
        inode = os.readlink("/proc/self/ns/net")
        ino = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return {"inode": None, "name": None}
    name = None
    try:
        for entry in sorted(os.listdir(run_dir)):
            try:
                if os.stat(os.path.join(run_dir, entry)).st_ino == ino:
                    name = entry
                    break
            except OSError:
                continue
    except OSError:
        pass
    return {"inode": inode, "name": name}


def netns_alive(inode: str, run_dir: str = NETNS_RUN_DIR) -> bool:
    """Whether the namespace `inode` (as in net:[N]) still exists: named, or the host's own."""
    try:
        number = int(inode.strip("net:[]"))
    except (AttributeError, ValueError):
        return False
    candidates = ["/proc/1/ns/net"]
    with contextlib.suppress(OSError):
        candidates += [os.path.join(run_dir, n) for n in os.listdir(run_dir)]
    for path in candidates:
        try:
            if os.stat(path).st_ino == number:
                return True
        except OSError:
            continue
    return False


def describe_netns(netns: dict[str, Any] | None) -> str:
    if not netns or not netns.get("inode"):
        return "an unknown network namespace"
    if netns.get("name"):
        return f"network namespace '{netns['name']}' ({netns['inode']})"
    return f"the network namespace {netns['inode']}"
