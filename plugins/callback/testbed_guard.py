# SPDX-License-Identifier: GPL-3.0-or-later
"""Callback plugin that cleans the testbed up when a playbook is interrupted."""

from __future__ import annotations

DOCUMENTATION = r"""
name: testbed_guard
type: aggregate
short_description: Run playbooks/cleanup.yml when an experiment is interrupted
description:
  - Ansible does not run C(always) blocks when it is interrupted (Ctrl-C,
    SIGTERM, SIGHUP). This plugin notices a playbook that did not reach its end
    and then runs C(playbooks/cleanup.yml) with the same inventory and extra vars,
    so no program stays attached, no server keeps running, and the interrupted
    run is marked partial.
  - It also exports the command line as C(TESTBED_COMMAND) so that run.json
    records how the run was started.
requirements:
  - enabled in ansible.cfg (callbacks_enabled)
"""

import atexit
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from ansible import context
from ansible.plugins.callback import CallbackBase

# Playbooks that start nothing: interrupting them needs no cleanup.
_HARMLESS = {"cleanup.yml", "testbed_down.yml", "testbed_up.yml", "setup_local.yml"}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "testbed_guard"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._playbook: Path | None = None
        self._finished = False
        self._main_pid = os.getpid()
        os.environ.setdefault("TESTBED_COMMAND", shlex.join(["ansible-playbook", *sys.argv[1:]]))

    def v2_playbook_on_start(self, playbook) -> None:
        path = Path(playbook._file_name).resolve()
        if path.name in _HARMLESS or self._playbook is not None:
            return
        self._playbook = path
        # Ansible's own handlers turn SIGINT into KeyboardInterrupt but kill the
        # process outright on SIGTERM and SIGHUP, which would skip the cleanup.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._interrupt)
        atexit.register(self._cleanup_if_interrupted)

    def v2_playbook_on_stats(self, stats) -> None:
        self._finished = True

    def _interrupt(self, signum: int, frame) -> None:
        if os.getpid() != self._main_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt

    def _cleanup_if_interrupted(self) -> None:
        if self._finished or self._playbook is None or os.getpid() != self._main_pid:
            return
        cleanup = self._playbook.parent / "cleanup.yml"
        if not cleanup.exists():
            return
        command = [sys.argv[0], str(cleanup), "-e", "testbed_interrupted=true"]
        for source in context.CLIARGS.get("inventory") or ():
            command += ["-i", source]
        for extra in context.CLIARGS.get("extra_vars") or ():
            command += ["-e", extra]
        self._display.warning(
            "The playbook was interrupted: stopping servers and detaching programs "
            f"({shlex.join(command)})"
        )
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        # Captured, then shown: the interrupted controller's own stdout may no
        # longer accept a child's writes.
        result = subprocess.run(
            command, check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        self._display.display(result.stdout + result.stderr)
        if result.returncode != 0:
            self._display.error(
                f"cleanup failed (rc={result.returncode}): "
                "run `make cleanup` before the next experiment"
            )
