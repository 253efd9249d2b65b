#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: gather kernel log lines (dmesg or trace_pipe) into a file for the results."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kernel_log
short_description: Gather the kernel's log lines of a time window into a file
description:
  - Reads the kernel log (C(/dev/kmsg), what C(dmesg) shows) or the tracing pipe
    (C(trace_pipe), where C(bpf_printk) writes) for a window and writes the lines
    that match I(pattern) to I(dest), as the tool would print them. The file is
    written on the host; the results role fetches it.
  - The window is I(duration) seconds and/or I(lines) matching lines, whichever
    comes first. With I(lines) alone it lasts until that many lines came (bound it
    with the task's C(timeout)). With neither, the lines already there are taken
    without waiting.
  - dmesg never mixes in older lines. Without I(since) the window starts when the
    task starts; with I(since) (the I(marker) a previous call returned) it starts
    right after that record, so that a call before the traffic and a call after
    it capture exactly what the traffic caused. Records the kernel overwrote
    before they were read are counted in I(lost).
  - trace_pipe is a stream that reading consumes, so it has no I(since). Run the
    task while the traffic flows (C(async)). Where tracefs is not mounted (inside
    C(ip netns exec), which mounts its own C(/sys)), the module mounts it on a
    private folder for the time of the read and unmounts it afterwards.
  - In check mode nothing is read or written; the current I(marker) is returned.
options:
  source:
    description: Which log to read.
    type: str
    choices: [dmesg, trace_pipe]
    default: dmesg
  pattern:
    description: Python regular expression a line must match (searched anywhere in it) to be kept.
    type: str
  duration:
    description: Seconds to wait for lines. 0 takes only the lines already there.
    type: float
  lines:
    description: Stop after this many matching lines (0 for no limit).
    type: int
    default: 0
  since:
    description:
      - dmesg only. Sequence number of the last record not to include (the I(marker) of an
        earlier call). Without it the window starts now.
    type: int
  dest:
    description:
      - File for the matching lines (its folder is created).
      - Without it the lines are only counted.
    type: path
  tracefs:
    description:
      - trace_pipe only. Where tracefs is mounted. Without it C(/sys/kernel/tracing) and
        C(/sys/kernel/debug/tracing) are tried, then tracefs is mounted on a private folder.
    type: path
notes:
  - Needs root (or CAP_SYSLOG for dmesg with C(kernel.dmesg_restrict=1)).
  - dmesg lines are formatted as C(dmesg) formats them, C([seconds.microseconds] message).
author: ebpf-testbed developers
"""

EXAMPLES = r"""
- name: Remember where the kernel log ends now
  kernel_log:
    source: dmesg
  register: log_start

- name: Send the traffic that makes the patched kernel print
  ansible.builtin.command: ...

- name: Keep the lines the traffic caused
  kernel_log:
    source: dmesg
    since: "{{ log_start.marker }}"
    pattern: 'It takes \d+ to reach '
    dest: /run/ebpf-testbed/work/table1/dmesg_tc.txt

- name: Follow bpf_printk output for 10 s while traffic runs
  kernel_log:
    source: trace_pipe
    pattern: "tput:"
    duration: 10
    dest: /run/ebpf-testbed/work/trace.txt
  async: 60
  poll: 0
  register: tracing
"""

RETURN = r"""
count:
  description: Number of lines captured (matching I(pattern)).
  returned: always
  type: int
marker:
  description: dmesg - sequence number of the last record seen, for I(since) of a later call.
  returned: when source=dmesg
  type: int
lost:
  description: dmesg - records of the window the kernel overwrote before they could be read.
  returned: when source=dmesg
  type: int
head:
  description: The first captured lines (at most 10).
  returned: always
  type: list
  elements: str
dest:
  description: The file written.
  returned: when dest is given
  type: str
tracefs:
  description: trace_pipe - the tracefs folder read, and whether the module mounted it.
  returned: when source=trace_pipe
  type: dict
  sample: {path: /sys/kernel/tracing, mounted_by_module: false}
elapsed:
  description: Seconds spent reading.
  returned: always
  type: float
"""

import errno
import math
import os
import re
import select
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testbed_common import ModuleError, Runner, tail

KMSG = "/dev/kmsg"
TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
HEAD_LINES = 10
READ_SIZE = 8192  # /dev/kmsg returns one record per read; a record is at most ~1 KiB
POLL_SLICE = 0.2  # seconds between checks of the window's end when nothing arrives


class Kmsg:
    """/dev/kmsg, read without blocking: one record per read, `None` when none is left."""

    def __init__(self, path: str = KMSG) -> None:
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise ModuleError(
                f"cannot read the kernel log {path}: {exc.strerror}. Run as root "
                "(kernel.dmesg_restrict needs CAP_SYSLOG)"
            ) from exc
        self.overwritten = 0

    def close(self) -> None:
        os.close(self.fd)

    def seek_end(self) -> None:
        os.lseek(self.fd, 0, os.SEEK_END)

    def read(self) -> bytes | None:
        while True:
            try:
                return os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                return None
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise
                # the record we were about to read was overwritten; the next read resyncs
                self.overwritten += 1

    def wait(self, timeout: float) -> None:
        select.select([self.fd], [], [], max(timeout, 0))


def parse_record(raw: bytes) -> tuple[int, str] | None:
    """(sequence number, dmesg-formatted line) of one /dev/kmsg record."""
    text = raw.decode("utf-8", errors="replace")
    header, sep, body = text.partition(";")
    fields = header.split(",")
    if not sep or len(fields) < 3:
        return None
    try:
        seq, usec = int(fields[1]), int(fields[2])
    except ValueError:
        return None
    message = body.split("\n", 1)[0]  # continuation lines (" KEY=value") are metadata
    return seq, f"[{usec // 1_000_000:5d}.{usec % 1_000_000:06d}] {message}"


class Window:
    """When to stop: after `duration` seconds or `lines` matches, whichever comes first."""

    def __init__(self, duration: float | None, lines: int) -> None:
        self.started = time.monotonic()
        if duration is None:
            duration = math.inf if lines > 0 else 0.0
        self.deadline = self.started + duration
        self.lines = lines

    def full(self, count: int) -> bool:
        return self.lines > 0 and count >= self.lines

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)


class Capture:
    """The lines kept, filtered by the pattern."""

    def __init__(self, pattern: str | None, window: Window) -> None:
        self.regex = re.compile(pattern) if pattern else None
        self.window = window
        self.kept: list[str] = []

    def offer(self, line: str) -> None:
        if self.window.full(len(self.kept)):
            return
        if self.regex is None or self.regex.search(line):
            self.kept.append(line)

    @property
    def done(self) -> bool:
        return self.window.full(len(self.kept))


def records(kmsg: Kmsg) -> Iterator[tuple[int, str]]:
    """Every record readable now."""
    while (raw := kmsg.read()) is not None:
        parsed = parse_record(raw)
        if parsed:
            yield parsed


def read_dmesg(kmsg: Kmsg, since: int | None, capture: Capture, check_mode: bool) -> dict[str, Any]:
    """Collect the dmesg records after `since` (or from now) until the window closes."""
    lost = 0
    marker = since
    if since is None:
        # what is already there is before the window: skip it, remembering where it ends
        for seq, _ in records(kmsg):
            marker = seq
        if marker is None:
            kmsg.seek_end()
    if check_mode:
        return {"marker": marker if marker is not None else -1, "lost": 0}
    expected = None if marker is None else marker + 1
    while True:
        for seq, line in records(kmsg):
            if marker is not None and seq <= marker:
                continue
            if expected is not None and seq > expected:
                lost += seq - expected
            expected, marker = seq + 1, seq
            capture.offer(line)
        left = capture.window.left()
        if capture.done or left <= 0:
            break
        kmsg.wait(min(left, POLL_SLICE))
    return {"marker": marker if marker is not None else -1, "lost": lost + kmsg.overwritten}


class TracePipe:
    """trace_pipe of a tracefs, mounting one on a private folder when none is visible."""

    def __init__(self, runner: Runner, wanted: str | None) -> None:
        self.runner = runner
        self.mounted: str | None = None
        self.path = self.locate(wanted)

    def locate(self, wanted: str | None) -> str:
        if wanted:
            if not os.path.exists(os.path.join(wanted, "trace_pipe")):
                raise ModuleError(
                    f"tracefs {wanted} has no trace_pipe; give the folder where tracefs is "
                    "mounted, or leave tracefs out to let the module mount one"
                )
            return wanted
        for candidate in TRACEFS_CANDIDATES:
            if os.path.exists(os.path.join(candidate, "trace_pipe")):
                return candidate
        folder = tempfile.mkdtemp(prefix="kernel_log-tracefs-")
        rc, out, err = self.runner.run(["mount", "-t", "tracefs", "nodev", folder])
        if rc != 0:
            os.rmdir(folder)
            raise ModuleError(
                f"tracefs is not mounted here and mounting it on {folder} failed: "
                f"{tail(err or out, 3)}. Is CONFIG_TRACING on, and does the task run as root?",
                rc=rc,
                stderr=err,
            )
        self.mounted = folder
        return folder

    def release(self) -> None:
        if self.mounted:
            self.runner.run(["umount", self.mounted])
            os.rmdir(self.mounted)

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "mounted_by_module": self.mounted is not None}


def read_trace_pipe(path: str, capture: Capture) -> None:
    """Lines of `path`/trace_pipe until the window closes (reading consumes them)."""
    fd = os.open(os.path.join(path, "trace_pipe"), os.O_RDONLY | os.O_NONBLOCK)
    pending = b""
    try:
        while not capture.done:
            try:
                chunk = os.read(fd, READ_SIZE)
            except BlockingIOError:
                chunk = None
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    capture.offer(line.decode("utf-8", errors="replace"))
                continue
            left = capture.window.left()
            if left <= 0:
                break
            select.select([fd], [], [], min(left, POLL_SLICE))
    finally:
        os.close(fd)


def write_lines(dest: str, lines: list[str]) -> None:
    folder = os.path.dirname(dest)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(dest, "w", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)


def gather(module: AnsibleModule) -> dict[str, Any]:
    p = module.params
    if p["lines"] < 0 or (p["duration"] or 0) < 0:
        raise ModuleError("duration and lines must not be negative")
    if p["source"] == "trace_pipe" and p["since"] is not None:
        raise ModuleError(
            "since is for dmesg only: trace_pipe is consumed as it is read, so read it "
            "while the traffic runs (async) instead"
        )
    try:
        window = Window(p["duration"], p["lines"])
        capture = Capture(p["pattern"], window)
    except re.error as exc:
        raise ModuleError(f"pattern is not a valid regular expression: {exc}") from exc
    result: dict[str, Any] = {"changed": False, "source": p["source"]}
    if p["source"] == "dmesg":
        kmsg = Kmsg()
        try:
            result.update(read_dmesg(kmsg, p["since"], capture, module.check_mode))
        finally:
            kmsg.close()
    elif module.check_mode:
        result["tracefs"] = {"path": p["tracefs"], "mounted_by_module": False}
    else:
        pipe = TracePipe(Runner(module), p["tracefs"])
        try:
            read_trace_pipe(pipe.path, capture)
        finally:
            pipe.release()
        result["tracefs"] = pipe.describe()
    if p["dest"]:
        result["dest"] = p["dest"]
        result["changed"] = True
        if not module.check_mode:
            write_lines(p["dest"], capture.kept)
    result.update(count=len(capture.kept), head=capture.kept[:HEAD_LINES], elapsed=window.elapsed())
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "source": {"type": "str", "choices": ["dmesg", "trace_pipe"], "default": "dmesg"},
            "pattern": {"type": "str"},
            "duration": {"type": "float"},
            "lines": {"type": "int", "default": 0},
            "since": {"type": "int"},
            "dest": {"type": "path"},
            "tracefs": {"type": "path"},
        },
        supports_check_mode=True,
    )
    try:
        result = gather(module)
    except ModuleError as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
