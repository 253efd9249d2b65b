#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: provenance of a host for the results (kernel, CPU, NIC, tools, BPF state)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_facts
short_description: Gather the provenance of a host for results/<run>/<exp>/hosts/<host>.json
description:
  - Kernel release and version, selected kernel config and boot parameters, CPU
    model, online cores, frequency and governor of each CPU, turbo and SMT state.
  - The experiment interface - driver, channels, offloads (C(ethtool -i/-l/-k)),
    MTU, MAC, ifindex, queues - and the XDP/TC programs attached to it.
  - clang and bpftool versions, C(kernel.bpf_stats_enabled) and the JIT sysctls,
    the BPF programs loaded (id, name, tag, type, JIT size).
  - Whether hardware perf counters work (C(perf stat -e instructions true)) and what
    fentry needs (BTF, kernel config, lockdown state); nothing is loaded to find out.
  - Never fails because a probe is missing. A fact that cannot be read is a
    string that starts with C(unavailable) and gives the reason.
options:
  interface:
    description: The experiment interface.
    type: str
  cpus:
    description: CPUs whose frequency and governor are reported (default - every online CPU).
    type: list
    elements: int
author: ebpf-testbed developers
"""

EXAMPLES = r"""
- name: Gather provenance of the DUT
  host_facts:
    interface: "{{ testbed_exp_ifname }}"
    cpus: [0, 1]
  register: provenance
"""

RETURN = r"""
host_facts:
  description: The facts, one section per subject.
  returned: always
  type: dict
  contains:
    kernel:
      description: release, version, machine, selected config and boot parameters.
      type: dict
    cpu:
      description: model, online, cores_online, smt, turbo and per-CPU governor/frequency.
      type: dict
    interface:
      description: name, ifindex, mtu, mac, driver, channels, features, queues, attached programs.
      type: dict
    tools:
      description: clang and bpftool versions.
      type: dict
    bpf:
      description: sysctls (stats_enabled, jit_enable, jit_harden) and the loaded programs.
      type: dict
    perf:
      description: Whether hardware counters are supported.
      type: dict
    fentry:
      description: BTF, lockdown and config items fentry/fexit programs depend on.
      type: dict
"""

import gzip
import json
import os
import re
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testbed_common import Runner, current_netns

PROC = "/proc"
SYS = "/sys"
BOOT = "/boot"
CONFIG_KEYS = (
    "CONFIG_BPF_JIT_ALWAYS_ON", "CONFIG_DEBUG_INFO_BTF", "CONFIG_BPF_LSM", "CONFIG_KPROBES",
    "CONFIG_FPROBE", "CONFIG_FUNCTION_TRACER", "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS",
    "CONFIG_SECURITY_LOCKDOWN_LSM", "CONFIG_SECURITY_LOCKDOWN_LSM_EARLY", "CONFIG_HZ",
    "CONFIG_PREEMPT", "CONFIG_PREEMPT_DYNAMIC", "CONFIG_NO_HZ_FULL", "CONFIG_XDP_SOCKETS",
)  # fmt: skip
BOOT_PARAMS = (
    "mitigations", "isolcpus", "nohz_full", "rcu_nocbs", "lockdown", "intel_pstate",
    "amd_pstate", "processor.max_cstate", "intel_idle.max_cstate", "idle", "nosmt",
)  # fmt: skip


def unavailable(reason: str) -> str:
    return f"unavailable: {reason}"


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def read_int(path: str) -> int | str:
    text = read(path)
    if text is None:
        return unavailable(f"{path} is not readable here")
    try:
        return int(text)
    except ValueError:
        return text


def host_netns_sysctl(name: str) -> int | str:
    """A net.core sysctl that only the host's (initial) network namespace shows."""
    path = f"{PROC}/sys/{name}"
    if os.path.exists(path):
        return read_int(path)
    return unavailable(
        f"{name.replace('/', '.')} is only visible from the host's network namespace"
    )


def parse_cpu_list(text: str) -> list[int]:
    """`0-3,6` -> [0, 1, 2, 3, 6]."""
    cpus: list[int] = []
    for part in filter(None, text.strip().split(",")):
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def parse_colon_lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_channels(text: str) -> dict[str, dict[str, int | None]]:
    """`ethtool -l` -> {max: {rx, tx, other, combined}, current: {...}}."""
    out: dict[str, dict[str, int | None]] = {}
    section = None
    for line in text.splitlines():
        if line.startswith("Pre-set maximums"):
            section = out.setdefault("max", {})
        elif line.startswith("Current hardware settings"):
            section = out.setdefault("current", {})
        elif section is not None and ":" in line:
            key, _, value = line.partition(":")
            value = value.strip()
            section[key.strip().lower()] = int(value) if value.isdigit() else None
    return out


def parse_features(text: str) -> dict[str, bool]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([\w-]+): (on|off)", line)
        if m:
            out[m.group(1)] = m.group(2) == "on"
    return out


class Facts:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.runner = Runner(module)

    def command(self, argv: list[str]) -> tuple[str | None, str]:
        """(stdout, reason): stdout None when the tool is missing or fails."""
        if not self.module.get_bin_path(argv[0]):
            return None, f"{argv[0]} not installed"
        rc, out, err = self.runner.run(argv)
        if rc != 0:
            lines = (err or out).strip().splitlines()
            return None, f"`{' '.join(argv)}` failed: {lines[-1] if lines else f'exit status {rc}'}"
        return out, ""

    # --- kernel ---

    def kernel(self) -> dict[str, Any]:
        uname = os.uname()
        return {
            "release": uname.release,
            "version": uname.version,
            "machine": uname.machine,
            "config": self.kernel_config(uname.release),
            "boot_params": self.boot_params(),
        }

    def kernel_config(self, release: str) -> dict[str, str] | str:
        text = None
        try:
            with gzip.open(f"{PROC}/config.gz", "rt", encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            text = read(f"{BOOT}/config-{release}")
        if text is None:
            return unavailable(f"neither {PROC}/config.gz nor {BOOT}/config-{release} is readable")
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key in CONFIG_KEYS:
                values[key] = value
        for key in CONFIG_KEYS:
            values.setdefault(key, "not set")
        return values

    def boot_params(self) -> dict[str, str] | str:
        cmdline = read(f"{PROC}/cmdline")
        if cmdline is None:
            return unavailable(f"{PROC}/cmdline is not readable")
        params = {}
        for word in cmdline.split():
            key, _, value = word.partition("=")
            if key in BOOT_PARAMS:
                params[key] = value or "set"
        return params

    # --- CPU ---

    def cpu(self, wanted: list[int] | None) -> dict[str, Any]:
        base = f"{SYS}/devices/system/cpu"
        online_text = read(f"{base}/online")
        online = parse_cpu_list(online_text) if online_text else []
        info = read(f"{PROC}/cpuinfo") or ""
        models = re.findall(r"^model name\s*:\s*(.+)$", info, re.M)
        mhz = dict(
            zip(
                re.findall(r"^processor\s*:\s*(\d+)", info, re.M),
                re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M),
                strict=False,
            )
        )
        cpus = {}
        for cpu in wanted if wanted is not None else online:
            cpus[str(cpu)] = self.cpu_freq(base, cpu, mhz.get(str(cpu)))
        return {
            "model": models[0] if models else unavailable(f"no 'model name' in {PROC}/cpuinfo"),
            "online": online_text or unavailable(f"{base}/online is not readable"),
            "cores_online": len(online)
            if online
            else unavailable(f"{base}/online is not readable"),
            "smt": {
                "control": read(f"{base}/smt/control")
                or unavailable(f"{base}/smt/control is missing"),
                "active": read_int(f"{base}/smt/active"),
            },
            "turbo": self.turbo(base),
            "cpus": cpus,
        }

    def cpu_freq(self, base: str, cpu: int, cpuinfo_mhz: str | None) -> dict[str, Any]:
        folder = f"{base}/cpu{cpu}/cpufreq"
        entry: dict[str, Any] = {"cpuinfo_mhz": float(cpuinfo_mhz) if cpuinfo_mhz else None}
        if not os.path.isdir(folder):
            reason = unavailable(
                f"no cpufreq for cpu{cpu} here (virtual machine or no cpufreq driver)"
            )
            entry.update(governor=reason, cur_freq_khz=reason, driver=reason)
            return entry
        entry.update(
            governor=read(f"{folder}/scaling_governor")
            or unavailable("scaling_governor is not readable"),
            driver=read(f"{folder}/scaling_driver")
            or unavailable("scaling_driver is not readable"),
            cur_freq_khz=read_int(f"{folder}/scaling_cur_freq"),
            min_freq_khz=read_int(f"{folder}/scaling_min_freq"),
            max_freq_khz=read_int(f"{folder}/scaling_max_freq"),
        )
        return entry

    def turbo(self, base: str) -> str:
        no_turbo = read(f"{base}/intel_pstate/no_turbo")
        if no_turbo is not None:
            return f"{'off' if no_turbo == '1' else 'on'} (intel_pstate/no_turbo={no_turbo})"
        boost = read(f"{base}/cpufreq/boost")
        if boost is not None:
            return f"{'on' if boost == '1' else 'off'} (cpufreq/boost={boost})"
        return unavailable("neither intel_pstate/no_turbo nor cpufreq/boost exists here")

    # --- interface ---

    def interface(self, name: str | None) -> dict[str, Any] | str:
        if not name:
            return unavailable("no interface given")
        out, reason = self.command(["ip", "-j", "link", "show", "dev", name])
        if out is None:
            return unavailable(f"interface {name}: {reason}")
        link = (json.loads(out) or [{}])[0]
        facts: dict[str, Any] = {
            "name": name,
            "ifindex": link.get("ifindex"),
            "mtu": link.get("mtu"),
            "mac": link.get("address"),
            "operstate": link.get("operstate"),
            "qdisc": link.get("qdisc"),
        }
        driver, reason = self.command(["ethtool", "-i", name])
        facts["driver"] = parse_colon_lines(driver) if driver is not None else unavailable(reason)
        channels, reason = self.command(["ethtool", "-l", name])
        facts["channels"] = (
            parse_channels(channels) if channels is not None else unavailable(reason)
        )
        features, reason = self.command(["ethtool", "-k", name])
        facts["features"] = (
            parse_features(features) if features is not None else unavailable(reason)
        )
        queues = f"{SYS}/class/net/{name}/queues"
        try:
            entries = os.listdir(queues)
            facts["queues"] = {
                "rx": sum(e.startswith("rx-") for e in entries),
                "tx": sum(e.startswith("tx-") for e in entries),
            }
        except OSError:
            facts["queues"] = unavailable(f"{queues} is not readable")
        numa = read(f"{SYS}/class/net/{name}/device/numa_node")
        facts["numa_node"] = (
            int(numa)
            if numa and numa.lstrip("-").isdigit()
            else unavailable("no NUMA node (virtual device)")
        )
        attached, reason = self.command(["bpftool", "-j", "net", "show", "dev", name])
        if attached is None:
            facts["attached"] = unavailable(reason)
        else:
            first = (json.loads(attached) or [{}])[0]
            facts["attached"] = {"xdp": first.get("xdp", []), "tc": first.get("tc", [])}
        return facts

    # --- tools, BPF, perf, fentry ---

    def tools(self) -> dict[str, Any]:
        clang, reason = self.command(["clang", "--version"])
        bpftool, reason_b = self.command(["bpftool", "-j", "version"])
        return {
            "clang": clang.splitlines()[0].strip() if clang else unavailable(reason),
            "bpftool": json.loads(bpftool) if bpftool else unavailable(reason_b),
        }

    def bpf(self) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "stats_enabled": read_int(f"{PROC}/sys/kernel/bpf_stats_enabled"),
            "jit_enable": host_netns_sysctl("net/core/bpf_jit_enable"),
            "jit_harden": host_netns_sysctl("net/core/bpf_jit_harden"),
            "unprivileged_bpf_disabled": read_int(f"{PROC}/sys/kernel/unprivileged_bpf_disabled"),
        }
        out, reason = self.command(["bpftool", "-j", "prog", "show"])
        if out is None:
            facts["programs"] = unavailable(reason)
        else:
            keys = (
                "id",
                "name",
                "tag",
                "type",
                "bytes_jited",
                "bytes_xlated",
                "run_time_ns",
                "run_cnt",
            )
            facts["programs"] = [{k: p[k] for k in keys if k in p} for p in json.loads(out or "[]")]
        return facts

    def perf(self) -> dict[str, Any]:
        if not self.module.get_bin_path("perf"):
            return {"hardware_counters": "perf not installed"}
        rc, out, err = self.runner.run(["perf", "stat", "-x", ",", "-e", "instructions", "true"])
        text = (err + out).strip()
        line = next((x for x in text.splitlines() if "instructions" in x), "")
        if "<not supported>" in line:
            verdict = "not supported (perf stat: <not supported> instructions)"
        elif "<not counted>" in line:
            verdict = "not counted (perf stat: <not counted> instructions)"
        elif line[:1].isdigit():
            verdict = "supported"
        else:
            last = text.splitlines()[-1] if text else f"exit status {rc}"
            verdict = unavailable(f"perf stat failed: {last}")
        return {
            "hardware_counters": verdict,
            "perf_event_paranoid": read_int(f"{PROC}/sys/kernel/perf_event_paranoid"),
        }

    def fentry(self, config: dict[str, str] | str) -> dict[str, Any]:
        lockdown = read(f"{SYS}/kernel/security/lockdown")
        if lockdown is None:
            lockdown = unavailable(
                f"{SYS}/kernel/security/lockdown is not readable (securityfs not "
                "mounted here; `ip netns exec` mounts its own /sys)"
            )
        wanted = (
            "CONFIG_DEBUG_INFO_BTF",
            "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS",
            "CONFIG_FUNCTION_TRACER",
            "CONFIG_SECURITY_LOCKDOWN_LSM",
            "CONFIG_KPROBES",
        )
        return {
            "btf_vmlinux": os.path.exists(f"{SYS}/kernel/btf/vmlinux"),
            "lockdown": lockdown,
            "config": {k: config[k] for k in wanted} if isinstance(config, dict) else config,
            "note": "support is not probed by loading; the experiment records the method it used",
        }

    def gather(self, interface: str | None, cpus: list[int] | None) -> dict[str, Any]:
        kernel = guarded(self.kernel)
        config = kernel.get("config", {}) if isinstance(kernel, dict) else kernel
        return {
            "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "hostname": os.uname().nodename,
            "netns": current_netns().get("name"),
            "kernel": kernel,
            "cpu": guarded(self.cpu, cpus),
            "interface": guarded(self.interface, interface),
            "tools": guarded(self.tools),
            "bpf": guarded(self.bpf),
            "perf": guarded(self.perf),
            "fentry": guarded(self.fentry, config),
        }


def guarded(probe: Any, *args: Any) -> Any:
    """Run one probe; a probe that breaks becomes an unavailable fact, not a failed task."""
    try:
        return probe(*args)
    except Exception as exc:  # one broken probe must not lose the others
        return unavailable(f"{probe.__name__} probe failed: {exc}")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str"},
            "cpus": {"type": "list", "elements": "int"},
        },
        supports_check_mode=True,
    )
    facts = Facts(module).gather(module.params["interface"], module.params["cpus"])
    module.exit_json(changed=False, host_facts=facts)


if __name__ == "__main__":
    main()
