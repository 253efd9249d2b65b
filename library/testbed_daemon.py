#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: start, wait for and stop the long-running servers of an experiment."""

from __future__ import annotations

DOCUMENTATION = r"""
module: testbed_daemon
short_description: Run an experiment server detached, wait until it is ready, stop it again
description:
  - I(state=started) runs I(argv) in a new session (so a Ctrl-C on the controller
    does not reach it, but the cleanup can), optionally pinned to one CPU, with its
    stdout and stderr appended to I(log). It records C(<name>.pid) and C(<name>.json)
    in I(state_dir), then waits until the server is ready, that is until I(ready_regex)
    appears in what it writes to the log and/or a socket of it is bound to I(ready_port).
    If the server exits or is not ready within I(ready_timeout), it is killed and the
    task fails with the end of its log.
  - A daemon of the same name that runs the same I(argv) (and CPU, folder,
    environment, log) is left alone (C(changed=false)); one with other settings is
    stopped and started again.
  - I(state=stopped) sends SIGTERM to the daemon's process group, waits
    I(stop_timeout) seconds, then sends SIGKILL. Stopping a daemon that does not run
    changes nothing.
  - I(state=absent_all) stops every daemon recorded in I(state_dir) that was started
    from this network namespace (cleanup after an interruption); I(name) is not needed.
  - The program must stay in the foreground (not daemonize itself).
options:
  name:
    description: Name of the daemon (letters, digits, C(_), C(-), C(.)); it names the pid file.
    type: str
  state:
    description: Whether the daemon should run.
    type: str
    choices: [started, stopped, absent_all]
    default: started
  argv:
    description: Program and arguments (no shell).
    type: list
    elements: str
  cpu:
    description: CPU to pin the daemon (and its threads and children) to.
    type: int
  chdir:
    description: Working folder of the daemon.
    type: path
  cgroup:
    description:
      - Folder of a cgroup v2 that the daemon joins before it runs I(argv), so that its
        sockets belong to that cgroup (for example to run a cgroup's C(sock_ops) program).
      - It must exist where the task runs; on the local testbed a cgroup2 mount outside
        C(/sys), which C(ip netns exec) hides.
    type: path
  env:
    description: Extra environment variables.
    type: dict
    default: {}
  log:
    description:
      - File that receives stdout and stderr (appended).
      - Defaults to I(state_dir)C(/<name>.log).
    type: path
  state_dir:
    description: Folder of the pid files and records.
    type: path
    default: /run/ebpf-testbed/daemons
  ready_regex:
    description: Regular expression (Python, multiline) that the daemon prints once it is ready.
    type: str
  ready_port:
    description: Port that one of the daemon's sockets binds (listens on, for TCP) once it is ready.
    type: int
  ready_proto:
    description: Protocol of I(ready_port).
    type: str
    choices: [tcp, udp]
    default: tcp
  ready_timeout:
    description: Seconds to wait for readiness.
    type: float
    default: 30
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL.
    type: float
    default: 10
notes:
  - The daemon is not a child of a later task, so its exit status is only known when
    it dies while the starting task waits for it; I(state=stopped) reports the signal used.
author: ebpf-testbed developers
"""

EXAMPLES = r"""
- name: Start the echo server on CPU 1
  testbed_daemon:
    name: fig3_echo_server
    argv: [/opt/ebpf-testbed/build/bin/echo_server, --port, "8080"]
    cpu: 1
    log: /tmp/fig3/server.log
    ready_regex: "^ready"
    ready_port: 8080
    ready_proto: udp

- name: Stop it
  testbed_daemon:
    name: fig3_echo_server
    state: stopped

- name: Stop everything this namespace started (cleanup)
  testbed_daemon:
    state: absent_all
"""

RETURN = r"""
pid:
  description: Process id of the daemon (the leader of its process group).
  returned: when a daemon was found or started
  type: int
name:
  description: Name of the daemon.
  returned: always
  type: str
log:
  description: Its log file.
  returned: when a daemon was found or started
  type: str
cpu:
  description: CPU it is pinned to (null when not pinned).
  returned: when a daemon was found or started
  type: int
cgroup:
  description: Cgroup it was started in (null when not given).
  returned: when a daemon was found or started
  type: str
ready_after:
  description: Seconds from start until it was ready.
  returned: when started
  type: float
signal:
  description: Signal that stopped it (SIGTERM or SIGKILL), null if it was not running.
  returned: when state=stopped
  type: str
exit_status:
  description:
    - Exit status when known (a daemon that died while starting), else null.
    - Not named C(rc), which Ansible reads as a command's status (null would count as failure).
  returned: when state=stopped or on a failed start
  type: int
log_tail:
  description: Last lines of the log.
  returned: when state=stopped and on failures
  type: str
stopped:
  description: Names of the daemons stopped (state=absent_all).
  returned: when state=absent_all
  type: list
"""

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testbed_common import (
    ModuleError,
    current_netns,
    describe_netns,
    netns_alive,
    read_json,
    remove_file,
    write_json,
)

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
LOG_TAIL_LINES = 40
PROC = "/proc"
POLL_SECONDS = 0.05
STARTUP_GRACE = 0.3
TCP_LISTEN = "0A"


# --- processes ---


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state is [0]), None if gone."""
    try:
        with open(f"{PROC}/{pid}/stat", encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    fields = proc_stat(pid)
    return int(fields[19]) if fields else None


def alive(record: dict[str, Any] | None) -> bool:
    """Whether the recorded process still runs (and is the same process, not a reused pid)."""
    if not record or not record.get("pid"):
        return False
    fields = proc_stat(record["pid"])
    return bool(fields) and fields[0] != "Z" and int(fields[19]) == record.get("starttime")


def session_pids(sid: int) -> list[int]:
    out = []
    for entry in os.listdir(PROC):
        if entry.isdigit():
            fields = proc_stat(int(entry))
            if fields and int(fields[3]) == sid:
                out.append(int(entry))
    return out


def socket_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"{PROC}/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{PROC}/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def bound_inodes(port: int, proto: str) -> set[str]:
    """Inodes of sockets bound to `port` (listening, for TCP) in this network namespace."""
    inodes = set()
    for table in (proto, proto + "6"):
        try:
            with open(f"{PROC}/net/{table}", encoding="utf-8") as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and (proto == "udp" or fields[3] == TCP_LISTEN):
                inodes.add(fields[9])
    return inodes


def owners_of(inodes: set[str]) -> list[int]:
    out = []
    for entry in os.listdir(PROC):
        if entry.isdigit() and socket_inodes([int(entry)]) & inodes:
            out.append(int(entry))
    return out


def log_tail(path: str | None, lines: int = LOG_TAIL_LINES) -> str:
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 65536))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.rstrip().splitlines()[-lines:]) or "(the log is empty)"


def read_from(path: str, offset: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def child_setup(cpu: int | None, cgroup: str | None) -> Callable[[], None] | None:
    """What the child does before exec: join the cgroup, pin itself to the CPU."""
    if cpu is None and not cgroup:
        return None

    def setup() -> None:
        if cgroup:
            with open(os.path.join(cgroup, "cgroup.procs"), "w", encoding="ascii") as fh:
                fh.write("0")  # 0: the writing process itself
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return setup


class Daemons:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.p = module.params
        self.netns = current_netns()

    def paths(self, name: str) -> tuple[str, str]:
        base = os.path.join(self.p["state_dir"], name)
        return base + ".pid", base + ".json"

    def record_of(self, name: str) -> dict[str, Any] | None:
        return read_json(self.paths(name)[1])

    def forget(self, name: str) -> None:
        for path in self.paths(name):
            remove_file(path)

    # --- started ---

    def wanted(self) -> dict[str, Any]:
        p = self.p
        log = p["log"] or os.path.join(p["state_dir"], f"{p['name']}.log")
        env = {str(k): str(v) for k, v in (p["env"] or {}).items()}
        return {
            "argv": [str(a) for a in p["argv"]],
            "cpu": p["cpu"],
            "chdir": p["chdir"],
            "cgroup": p["cgroup"],
            "env": env,
            "log": log,
        }

    def validate_start(self) -> None:
        p = self.p
        if not p["argv"]:
            raise ModuleError("state=started needs argv: the program and its arguments")
        if p["cpu"] is not None and p["cpu"] not in os.sched_getaffinity(0):
            cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
            raise ModuleError(
                f"cpu {p['cpu']} is not available on this host (CPUs: {cpus}); "
                "check testbed_cpu in the inventory"
            )
        if p["chdir"] and not os.path.isdir(p["chdir"]):
            raise ModuleError(f"chdir {p['chdir']} is not a folder")
        if p["cgroup"] and not os.path.isfile(os.path.join(p["cgroup"], "cgroup.procs")):
            raise ModuleError(
                f"cgroup {p['cgroup']} is not a cgroup v2 folder (no cgroup.procs in it); "
                "create it first (mkdir below a cgroup2 mount)"
            )
        if p["ready_port"] is not None and not 1 <= p["ready_port"] <= 65535:
            raise ModuleError(f"ready_port {p['ready_port']} is not a port number")
        if p["ready_regex"]:
            try:
                re.compile(p["ready_regex"])
            except re.error as exc:
                raise ModuleError(f"ready_regex is not a valid regular expression: {exc}") from exc

    def started(self) -> dict[str, Any]:
        self.validate_start()
        name = self.p["name"]
        wanted = self.wanted()
        record = self.record_of(name)
        actions = []
        if alive(record):
            self.check_owner(record)
            if all(record.get(k) == v for k, v in wanted.items()):
                return {"changed": False, **self.summary(record)}
            actions.append(f"stop {name} (pid {record['pid']}): its settings changed")
            if not self.module.check_mode:
                self.terminate(record)
        if self.module.check_mode:
            return {
                "changed": True,
                "name": name,
                "pid": None,
                "log": wanted["log"],
                "cpu": wanted["cpu"],
                "actions": [*actions, f"start {name}: {' '.join(wanted['argv'])}"],
            }
        self.forget(name)
        self.check_port_free()
        return {"changed": True, **self.launch(wanted), "actions": [*actions, f"started {name}"]}

    def check_owner(self, record: dict[str, Any]) -> None:
        inode = (record.get("netns") or {}).get("inode")
        if inode not in (None, self.netns["inode"]) and netns_alive(inode):
            raise ModuleError(
                f"a daemon called {record['name']} (pid {record['pid']}) runs in "
                f"{describe_netns(record.get('netns'))}, not in this one. Give each host's daemon "
                "its own name (e.g. prefix it with the inventory host name)"
            )

    def check_port_free(self) -> None:
        port = self.p["ready_port"]
        if port is None:
            return
        bound = bound_inodes(port, self.p["ready_proto"])
        if bound:
            owners = owners_of(bound)
            raise ModuleError(
                f"{self.p['ready_proto'].upper()} port {port} is already bound here"
                + (f" by pid {', '.join(map(str, owners))}" if owners else "")
                + "; stop that process (a daemon left over? testbed_daemon state=absent_all) "
                "or use another port"
            )

    def launch(self, wanted: dict[str, Any]) -> dict[str, Any]:
        name = self.p["name"]
        os.makedirs(self.p["state_dir"], exist_ok=True)
        log_dir = os.path.dirname(wanted["log"])
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
        env = {**os.environ, **wanted["env"]}
        with open(wanted["log"], "ab") as log:
            offset = log.tell()
            try:
                proc = subprocess.Popen(  # argv is a list: no shell
                    wanted["argv"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=wanted["chdir"],
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                    preexec_fn=child_setup(wanted["cpu"], wanted["cgroup"]),
                )
            except OSError as exc:
                raise ModuleError(
                    f"cannot run {wanted['argv'][0]}: {exc.strerror}. "
                    "Check the path (was the program built?)"
                ) from exc
        started_at = time.time()
        record = {
            "name": name,
            **wanted,
            "pid": proc.pid,
            "pgid": proc.pid,
            "starttime": start_time(proc.pid),
            "netns": self.netns,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at)),
        }
        pidfile, record_path = self.paths(name)
        with open(pidfile, "w", encoding="utf-8") as fh:
            fh.write(f"{proc.pid}\n")
        write_json(record_path, record)
        self.wait_ready(proc, record, offset, started_at)
        return {**self.summary(record), "ready_after": round(time.time() - started_at, 3)}

    def wait_ready(
        self, proc: subprocess.Popen, record: dict[str, Any], offset: int, since: float
    ) -> None:
        p = self.p
        deadline = since + p["ready_timeout"]
        regex = re.compile(p["ready_regex"], re.M) if p["ready_regex"] else None
        while True:
            rc = proc.poll()
            if rc is not None:
                self.forget(p["name"])
                raise ModuleError(
                    f"{p['name']} exited with status {rc} before it was ready. Its log "
                    f"({record['log']}) ends with:\n{log_tail(record['log'])}",
                    exit_status=rc,
                    log_tail=log_tail(record["log"]),
                    pid=record["pid"],
                )
            missing = self.not_ready(regex, record, offset, since)
            if not missing:
                return
            if time.time() >= deadline:
                self.terminate(record)
                proc.poll()
                self.forget(p["name"])
                raise ModuleError(
                    f"{p['name']} was not ready within {p['ready_timeout']:g}s ({missing}); it was "
                    f"stopped. Its log ({record['log']}) ends with:\n{log_tail(record['log'])}",
                    log_tail=log_tail(record["log"]),
                    pid=record["pid"],
                )
            time.sleep(POLL_SECONDS)

    def not_ready(
        self, regex: re.Pattern | None, record: dict[str, Any], offset: int, since: float
    ) -> str:
        """Empty when ready, else what is still missing."""
        p = self.p
        missing = []
        if regex and not regex.search(read_from(record["log"], offset)):
            missing.append(f"no line matched {p['ready_regex']!r}")
        if p["ready_port"] is not None:
            bound = bound_inodes(p["ready_port"], p["ready_proto"])
            if not bound & socket_inodes(session_pids(record["pid"])):
                missing.append(
                    f"no {p['ready_proto'].upper()} socket bound to port {p['ready_port']}"
                )
        if not regex and p["ready_port"] is None and time.time() - since < STARTUP_GRACE:
            missing.append("still starting")  # without a readiness check, catch immediate exits
        return "; ".join(missing)

    def summary(self, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": record["name"],
            "pid": record["pid"],
            "log": record.get("log"),
            "cpu": record.get("cpu"),
            "cgroup": record.get("cgroup"),
            "argv": record.get("argv"),
        }

    # --- stopped ---

    def terminate(self, record: dict[str, Any]) -> str | None:
        """SIGTERM the process group, SIGKILL after stop_timeout; the signal that ended it."""
        pgid = record.get("pgid") or record["pid"]
        if pgid <= 1 or pgid == os.getpgrp():
            raise ModuleError(
                f"refusing to signal process group {pgid} of {record['name']}: "
                f"the record {self.paths(record['name'])[1]} looks corrupt"
            )
        for sig, wait in ((signal.SIGTERM, self.p["stop_timeout"]), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return None
            deadline = time.time() + wait
            while time.time() < deadline:
                if not alive(record):
                    return sig.name
                time.sleep(POLL_SECONDS)
        raise ModuleError(
            f"{record['name']} (pid {record['pid']}) did not exit after SIGKILL; "
            "it may be stuck in the kernel (D state)"
        )

    def stopped(self, name: str) -> dict[str, Any]:
        record = self.record_of(name)
        if not alive(record):
            if record and not self.module.check_mode:
                self.forget(name)
            return {
                "changed": False,
                "name": name,
                "signal": None,
                "exit_status": None,
                "log_tail": log_tail((record or {}).get("log")),
            }
        if self.module.check_mode:
            return {"changed": True, **self.summary(record), "signal": None, "exit_status": None}
        sig = self.terminate(record)
        self.forget(name)
        return {
            "changed": True,
            **self.summary(record),
            "signal": sig,
            "exit_status": None,
            "log_tail": log_tail(record.get("log")),
        }

    def absent_all(self) -> dict[str, Any]:
        stopped, skipped = [], []
        folder = self.p["state_dir"]
        names = (
            sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".json"))
            if os.path.isdir(folder)
            else []
        )
        for name in names:
            record = self.record_of(name) or {}
            inode = (record.get("netns") or {}).get("inode")
            if inode not in (None, self.netns["inode"]) and netns_alive(inode):
                skipped.append(name)
                continue
            if self.stopped(name)["changed"]:
                stopped.append(name)
        return {
            "changed": bool(stopped),
            "name": None,
            "stopped": stopped,
            "skipped_other_netns": skipped,
        }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str"},
            "state": {
                "type": "str",
                "choices": ["started", "stopped", "absent_all"],
                "default": "started",
            },
            "argv": {"type": "list", "elements": "str"},
            "cpu": {"type": "int"},
            "chdir": {"type": "path"},
            "cgroup": {"type": "path"},
            "env": {"type": "dict", "default": {}},
            "log": {"type": "path"},
            "state_dir": {"type": "path", "default": "/run/ebpf-testbed/daemons"},
            "ready_regex": {"type": "str"},
            "ready_port": {"type": "int"},
            "ready_proto": {"type": "str", "choices": ["tcp", "udp"], "default": "tcp"},
            "ready_timeout": {"type": "float", "default": 30},
            "stop_timeout": {"type": "float", "default": 10},
        },
        required_if=[("state", "started", ("name", "argv")), ("state", "stopped", ("name",))],
        supports_check_mode=True,
    )
    daemons = Daemons(module)
    try:
        name = module.params["name"]
        if name is not None and not NAME_RE.match(name):
            raise ModuleError(f"name '{name}' may only hold letters, digits, '_', '-' and '.'")
        state = module.params["state"]
        if state == "started":
            result = daemons.started()
        elif state == "stopped":
            result = daemons.stopped(name)
        else:
            result = daemons.absent_all()
    except ModuleError as exc:
        exc.fail(module, name=module.params["name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
