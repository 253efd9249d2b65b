# SPDX-License-Identifier: GPL-3.0-or-later
"""Knobs of the host tuning the paper applies: how each one is read, set and compared.

Each knob reads its current value into a JSON-friendly form, computes the value the
paper wants from it, and moves the host from one value to another. The same move
serves tuning (current -> wanted) and restoring (current -> saved), so what is saved
is exactly what is put back. A knob that does not exist here raises Absent (the
module reports it skipped, with the reason); a knob that exists but refuses a value
raises KnobError (the module fails and names it).

Paths are written with their usual roots (/sys, /proc) and mapped to the roots the
module was given, so that tests can point them to a fake tree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.testbed_common import ModuleError, Runner, tail

# Order in which the knobs are applied. SMT goes first so that the per-CPU knobs
# see the CPUs that stay online; the governor precedes the energy preference
# (intel_pstate accepts only "performance" there under the performance governor);
# irqbalance is stopped before an IRQ is pinned, else it would move it again.
APPLY_ORDER = (
    "smt", "governor", "energy_perf_preference", "energy_perf_bias", "cstate", "turbo",
    "numa_balancing", "ksm", "thp", "bpf_stats", "irqbalance",
    "mtu", "offloads", "ntuple", "irq_affinity",
)  # fmt: skip
# Restoring follows the same order (SMT brings CPUs back before their settings are
# written), except that irqbalance starts again only after the IRQ got its affinity back.
RESTORE_ORDER = (*(k for k in APPLY_ORDER if k != "irqbalance"), "irqbalance")
INTERFACE_KNOBS = frozenset({"mtu", "offloads", "ntuple", "irq_affinity"})

FEATURE_ALIASES = {
    "rx": "rx-checksumming",
    "tx": "tx-checksumming",
    "tso": "tcp-segmentation-offload",
    "gso": "generic-segmentation-offload",
    "gro": "generic-receive-offload",
    "lro": "large-receive-offload",
    "ntuple": "ntuple-filters",
}
FLOW_TYPES = {"udp4": "UDP over IPv4", "tcp4": "TCP over IPv4"}


class Absent(Exception):
    """The knob does not exist on this host; the reason says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KnobError(ModuleError):
    """The knob exists but could not be read or set."""


# Files and CPU lists ---------------------------------------------------------------


def parse_cpu_list(text: str) -> list[int]:
    """'0-3,8,10-11' -> [0, 1, 2, 3, 8, 10, 11]."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            cpus.update(range(int(low), int(high) + 1))
        else:
            cpus.add(int(part))
    return sorted(cpus)


def format_cpu_list(cpus: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    spans: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if spans and cpu == spans[-1][1] + 1:
            spans[-1][1] = cpu
        else:
            spans.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@dataclass
class Context:
    """Where the knobs live and how to run tools; the module fills it from its options."""

    runner: Runner
    sysfs: str = "/sys"
    procfs: str = "/proc"
    interface: str | None = None
    mtu: int = 1500
    offloads: tuple[str, ...] = ()
    rx_queue: int = 3
    rules: tuple[dict[str, Any], ...] = ()
    irq: int | None = None
    irq_cpu: int | None = None
    irqbalance_service: str = "irqbalance"
    # Whether SMT is to be switched off in this run (CPU choice happens after it).
    smt_off: bool = True
    notes: dict[str, list[str]] = field(default_factory=dict)

    def path(self, canonical: str) -> str:
        """/sys/... or /proc/... -> the same path below the configured roots."""
        for root, real in (("/sys", self.sysfs), ("/proc", self.procfs)):
            if canonical == root or canonical.startswith(root + "/"):
                return real + canonical[len(root) :]
        raise ValueError(f"not a /sys or /proc path: {canonical}")

    def exists(self, canonical: str) -> bool:
        return os.path.exists(self.path(canonical))

    def read(self, canonical: str) -> str | None:
        try:
            with open(self.path(canonical), encoding="utf-8", errors="replace") as fh:
                return fh.read().strip()
        except OSError:
            return None

    def listdir(self, canonical: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(canonical)))
        except OSError:
            return []

    def write(self, knob: str, canonical: str, value: str) -> None:
        """Write an existing sysfs/procfs file (never creates one)."""
        try:
            fd = os.open(self.path(canonical), os.O_WRONLY | os.O_TRUNC)
        except OSError as err:
            raise KnobError(
                f"{knob}: cannot open {canonical} for writing ({err.strerror})"
            ) from None
        try:
            os.write(fd, value.encode())
        except OSError as err:
            raise KnobError(
                f"{knob}: the kernel refused '{value}' in {canonical} ({err.strerror})"
            ) from None
        finally:
            os.close(fd)

    def note(self, knob: str, text: str) -> None:
        notes = self.notes.setdefault(knob, [])
        if text not in notes:
            notes.append(text)

    def online_cpus(self) -> list[int]:
        text = self.read("/sys/devices/system/cpu/online")
        if text:
            return parse_cpu_list(text)
        return sorted(
            int(name[3:])
            for name in self.listdir("/sys/devices/system/cpu")
            if re.fullmatch(r"cpu\d+", name)
        )

    def iface(self, knob: str) -> str:
        if not self.interface:
            raise Absent("no experiment interface given")
        if not self.exists(f"/sys/class/net/{self.interface}"):
            raise KnobError(
                f"{knob}: interface {self.interface} does not exist on this host. Check "
                "testbed_exp_ifname/testbed_exp_mac in the inventory"
            )
        return self.interface


# Knobs ---------------------------------------------------------------------------


class Knob:
    """A setting of the host. Values are JSON-friendly; moving is generic."""

    name = ""
    title = ""

    def read(self, ctx: Context) -> Any:
        raise NotImplementedError

    def wanted(self, ctx: Context, current: Any) -> Any:
        raise NotImplementedError

    def differs(self, current: Any, wanted: Any) -> bool:
        return current != wanted

    def move(self, ctx: Context, current: Any, wanted: Any) -> None:
        raise NotImplementedError


class FilesKnob(Knob):
    """Plain sysfs/procfs files: the value is {path: content}, the target one content each."""

    target = ""

    def files(self, ctx: Context) -> list[str]:
        raise NotImplementedError

    def absent_reason(self, ctx: Context) -> str:
        raise NotImplementedError

    def parse(self, text: str) -> str:
        return text

    def check_target(self, ctx: Context, path: str) -> None:
        """Raise KnobError when the file exists but cannot take the target value."""

    def read(self, ctx: Context) -> dict[str, str]:
        values = {}
        for path in self.files(ctx):
            text = ctx.read(path)
            if text is not None:
                values[path] = self.parse(text)
        if not values:
            raise Absent(self.absent_reason(ctx))
        return values

    def wanted(self, ctx: Context, current: dict[str, str]) -> dict[str, str]:
        for path in current:
            if current[path] != self.target:
                self.check_target(ctx, path)
        return dict.fromkeys(current, self.target)

    def differs(self, current: dict[str, str], wanted: dict[str, str]) -> bool:
        # Files that vanished (a CPU that went offline) are not compared.
        return any(current[p] != v for p, v in wanted.items() if p in current)

    def move(self, ctx: Context, current: dict[str, str], wanted: dict[str, str]) -> None:
        for path, value in wanted.items():
            if path not in current:
                ctx.note(self.name, f"{path} is gone (CPU offline?): left as it is")
            elif current[path] != value:
                ctx.write(self.name, path, value)


class PerCpuKnob(FilesKnob):
    """One file per online CPU below /sys/devices/system/cpu/cpuN/."""

    leaf = ""

    def files(self, ctx: Context) -> list[str]:
        return [f"/sys/devices/system/cpu/cpu{n}/{self.leaf}" for n in ctx.online_cpus()]


class Governor(PerCpuKnob):
    name, title, target = "governor", "CPU frequency governor", "performance"
    leaf = "cpufreq/scaling_governor"

    def absent_reason(self, ctx: Context) -> str:
        return "no cpufreq driver (a VM or cpufreq disabled): the CPUs have no governor to set"

    def check_target(self, ctx: Context, path: str) -> None:
        available = ctx.read(path.replace("scaling_governor", "scaling_available_governors"))
        if available is not None and self.target not in available.split():
            raise KnobError(
                f"governor: the cpufreq driver offers no 'performance' governor in {path} "
                f"(only: {available})"
            )


class EnergyPerfPreference(PerCpuKnob):
    name, title, target = "energy_perf_preference", "energy-performance preference", "performance"
    leaf = "cpufreq/energy_performance_preference"

    def absent_reason(self, ctx: Context) -> str:
        return "no energy_performance_preference (needs intel_pstate/amd_pstate with HWP/CPPC)"

    def check_target(self, ctx: Context, path: str) -> None:
        available = ctx.read(
            path.replace(
                "energy_performance_preference", "energy_performance_available_preferences"
            )
        )
        if available is not None and self.target not in available.split():
            raise KnobError(
                f"energy_perf_preference: {path} does not offer 'performance' (only: {available})"
            )


class EnergyPerfBias(PerCpuKnob):
    name, title, target = "energy_perf_bias", "energy-performance bias (EPB)", "0"
    leaf = "power/energy_perf_bias"

    def absent_reason(self, ctx: Context) -> str:
        return "no energy_perf_bias (not an Intel CPU, or a VM)"


class CState(FilesKnob):
    """The deepest idle state of every online CPU gets disabled."""

    name, title, target = "cstate", "deepest C-state", "1"

    def files(self, ctx: Context) -> list[str]:
        paths = []
        for cpu in ctx.online_cpus():
            base = f"/sys/devices/system/cpu/cpu{cpu}/cpuidle"
            states = [s for s in ctx.listdir(base) if re.fullmatch(r"state\d+", s)]
            if not states:
                continue
            deepest = max(states, key=lambda s: int(s[5:]))
            if deepest == "state0" or ctx.read(f"{base}/{deepest}/name") == "POLL":
                continue
            paths.append(f"{base}/{deepest}/disable")
        return paths

    def absent_reason(self, ctx: Context) -> str:
        return "no cpuidle states below POLL (a VM, or cpuidle disabled)"


class Turbo(FilesKnob):
    """intel_pstate's no_turbo=1, or the generic cpufreq boost=0."""

    name, title = "turbo", "turbo boost"

    def files(self, ctx: Context) -> list[str]:
        for path in ("/sys/devices/system/cpu/intel_pstate/no_turbo",
                     "/sys/devices/system/cpu/cpufreq/boost"):  # fmt: skip
            if ctx.exists(path):
                return [path]
        return []

    def absent_reason(self, ctx: Context) -> str:
        return "no turbo control (neither intel_pstate/no_turbo nor cpufreq/boost; a VM?)"

    def wanted(self, ctx: Context, current: dict[str, str]) -> dict[str, str]:
        return {p: "1" if p.endswith("no_turbo") else "0" for p in current}


class SingleFile(FilesKnob):
    canonical = ""
    missing = ""

    def files(self, ctx: Context) -> list[str]:
        return [self.canonical]

    def absent_reason(self, ctx: Context) -> str:
        return self.missing


class NumaBalancing(SingleFile):
    name, title, target = "numa_balancing", "automatic NUMA balancing", "0"
    canonical = "/proc/sys/kernel/numa_balancing"
    missing = "kernel without automatic NUMA balancing (single node or not configured)"


class Ksm(SingleFile):
    name, title, target = "ksm", "kernel same-page merging", "0"
    canonical = "/sys/kernel/mm/ksm/run"
    missing = "kernel without KSM"


class BpfStats(SingleFile):
    name, title, target = "bpf_stats", "kernel.bpf_stats_enabled", "0"
    canonical = "/proc/sys/kernel/bpf_stats_enabled"
    missing = "kernel without kernel.bpf_stats_enabled"


class Thp(SingleFile):
    name, title, target = "thp", "transparent huge pages", "never"
    canonical = "/sys/kernel/mm/transparent_hugepage/enabled"
    missing = "kernel without transparent huge pages"

    def parse(self, text: str) -> str:
        """'always [madvise] never' -> 'madvise'."""
        match = re.search(r"\[(\w+)\]", text)
        return match.group(1) if match else text


class Smt(SingleFile):
    name, title, target = "smt", "simultaneous multithreading", "off"
    canonical = "/sys/devices/system/cpu/smt/control"
    missing = "SMT control not present (kernel without CONFIG_HOTPLUG_SMT)"

    def read(self, ctx: Context) -> dict[str, str]:
        values = super().read(ctx)
        state = values[self.canonical]
        if state in ("notsupported", "notimplemented"):
            raise Absent(f"SMT control not present ({self.canonical} says {state})")
        return values

    def differs(self, current: dict[str, str], wanted: dict[str, str]) -> bool:
        # forceoff (nosmt=force at boot) is off too, and cannot be changed anyway.
        same = {("forceoff", "off"), ("off", "forceoff")}
        return any(
            current[p] != v and (current[p], v) not in same
            for p, v in wanted.items()
            if p in current
        )


class Irqbalance(Knob):
    """The irqbalance service: stopped while measuring (it moves IRQs between CPUs)."""

    name, title = "irqbalance", "irqbalance service"

    def read(self, ctx: Context) -> str:
        unit = ctx.irqbalance_service
        if not ctx.runner.module.get_bin_path("systemctl"):
            return self._without_systemd(ctx, "no systemctl on this host")
        rc, out, err = ctx.runner.run(
            ["systemctl", "show", "--property=LoadState,ActiveState", f"{unit}.service"]
        )
        props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        if rc != 0 or not props.get("LoadState"):
            return self._without_systemd(ctx, f"systemd is not running here ({tail(err, 1)})")
        if props["LoadState"] == "not-found":
            raise Absent(f"{unit} is not installed")
        return "active" if props.get("ActiveState") in ("active", "activating") else "inactive"

    def _without_systemd(self, ctx: Context, why: str) -> str:
        if ctx.runner.module.get_bin_path("pgrep"):
            rc, _, _ = ctx.runner.run(["pgrep", "-x", "irqbalance"])
            if rc == 0:
                raise KnobError(
                    f"irqbalance: it runs but is not managed by systemd ({why}): stop it by hand"
                )
        raise Absent(f"{why}; irqbalance is not running")

    def wanted(self, ctx: Context, current: str) -> str:
        return "inactive"

    def move(self, ctx: Context, current: str, wanted: str) -> None:
        verb = "start" if wanted == "active" else "stop"
        ctx.runner.check(
            ["systemctl", verb, f"{ctx.irqbalance_service}.service"],
            f"irqbalance: systemctl {verb} {ctx.irqbalance_service}",
        )


class Mtu(Knob):
    name, title = "mtu", "MTU of the experiment interface"

    def read(self, ctx: Context) -> dict[str, Any]:
        ifname = ctx.iface(self.name)
        text = ctx.read(f"/sys/class/net/{ifname}/mtu")
        if text is None:
            raise KnobError(f"mtu: cannot read the MTU of {ifname}")
        return {"interface": ifname, "mtu": int(text)}

    def wanted(self, ctx: Context, current: dict[str, Any]) -> dict[str, Any]:
        return {**current, "mtu": ctx.mtu}

    def move(self, ctx: Context, current: dict[str, Any], wanted: dict[str, Any]) -> None:
        ifname = wanted["interface"]
        ctx.runner.check(
            ["ip", "link", "set", "dev", ifname, "mtu", str(wanted["mtu"])],
            f"mtu: setting the MTU of {ifname} to {wanted['mtu']}",
        )


def parse_features(text: str) -> dict[str, dict[str, Any]]:
    """`ethtool -k` output -> {name: {"on", "fixed", "requested"}}.

    "off [requested on]" is a feature that was asked for but that another setting keeps
    off for now: "requested" is the setting, "on" what is active. A group feature (such
    as tcp-segmentation-offload) is fixed when every feature listed below it is.
    """
    features: dict[str, dict[str, Any]] = {}
    group: str | None = None
    members: dict[str, list[bool]] = {}
    for line in text.splitlines():
        match = re.match(
            r"^(\s*)([\w-]+): (on|off)(?: \[(fixed|requested (?:on|off))\])?\s*$", line
        )
        if not match:
            continue
        indent, name, on, note = (
            match.group(1),
            match.group(2),
            match.group(3) == "on",
            match.group(4) or "",
        )
        features[name] = {
            "on": on,
            "fixed": note == "fixed",
            "requested": note.endswith(" on") if note.startswith("requested") else on,
        }
        if indent and group:
            members.setdefault(group, []).append(note == "fixed")
        elif not indent:
            group = name
    for name, fixed in members.items():
        if fixed and all(fixed):
            features[name]["fixed"] = True
    return features


def read_features(ctx: Context, knob: str, ifname: str) -> dict[str, dict[str, Any]]:
    out = ctx.runner.check(["ethtool", "-k", ifname], f"{knob}: reading the features of {ifname}")
    return parse_features(out)


def set_features(ctx: Context, knob: str, ifname: str, values: dict[str, str]) -> None:
    argv = ["ethtool", "-K", ifname]
    for name, state in values.items():
        argv += [name, state]
    ctx.runner.check(argv, f"{knob}: ethtool -K {ifname} {' '.join(argv[3:])}")


class Offloads(Knob):
    """Offload features of the NIC: "features" holds those the driver lets us change now,
    "fixed" those it does not (they are compared with nothing, and reported in notes)."""

    name, title = "offloads", "NIC offloads"

    def read(self, ctx: Context) -> dict[str, Any]:
        ifname = ctx.iface(self.name)
        have = read_features(ctx, self.name, ifname)
        values, fixed = {}, {}
        for requested in ctx.offloads:
            feature = FEATURE_ALIASES.get(requested, requested)
            if feature not in have:
                ctx.note(self.name, f"{ifname} has no feature {feature}")
                continue
            state = have[feature]
            if state["fixed"]:
                fixed[feature] = "on" if state["on"] else "off"
                ctx.note(
                    self.name, f"{feature} is fixed {fixed[feature]} by the driver of {ifname}"
                )
                continue
            values[feature] = "on" if state["requested"] else "off"
            if state["requested"] != state["on"]:
                ctx.note(
                    self.name,
                    f"{feature} of {ifname} is requested {values[feature]} but kept "
                    f"{'on' if state['on'] else 'off'} by another setting for now",
                )
        if not values and not fixed:
            raise Absent(f"{ifname} has none of the offload features {', '.join(ctx.offloads)}")
        return {"interface": ifname, "features": values, "fixed": fixed}

    def wanted(self, ctx: Context, current: dict[str, Any]) -> dict[str, Any]:
        return {**current, "features": dict.fromkeys(current["features"], "off")}

    def differs(self, current: dict[str, Any], wanted: dict[str, Any]) -> bool:
        return any(current["features"].get(n) != v for n, v in wanted["features"].items())

    def move(self, ctx: Context, current: dict[str, Any], wanted: dict[str, Any]) -> None:
        ifname = wanted["interface"]
        todo = {
            name: state
            for name, state in wanted["features"].items()
            if current["features"].get(name) != state
        }
        stuck = sorted(set(todo) & set(current.get("fixed", {})))
        if stuck:
            raise KnobError(
                f"offloads: {', '.join(stuck)} of {ifname} cannot be set to "
                f"{', '.join(todo[n] for n in stuck)}: the driver holds it fixed "
                f"{', '.join(current['fixed'][n] for n in stuck)} for now (on a veth, while its "
                "peer has an XDP program: detach that first)"
            )
        if todo:
            set_features(ctx, self.name, ifname, todo)


RULE_FILTER_RE = re.compile(r"^\s*Filter:\s*(\d+)")
RULE_FIELD_RE = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?):\s*(.*)$")


def parse_rules(text: str) -> list[dict[str, Any]]:
    """`ethtool -n` output -> [{"id", "flow_type", "dst_port", "queue"}] (None where unparsed)."""
    rules: list[dict[str, Any]] = []
    rule: dict[str, Any] | None = None
    types = {v: k for k, v in FLOW_TYPES.items()}
    for line in text.splitlines():
        start = RULE_FILTER_RE.match(line)
        if start:
            rule = {"id": int(start.group(1)), "flow_type": None, "dst_port": None, "queue": None}
            rules.append(rule)
            continue
        field_match = RULE_FIELD_RE.match(line)
        if rule is None or not field_match:
            continue
        key, value = field_match.group(1), field_match.group(2).strip()
        if key in ("Rule Type", "Flow Type"):
            rule["flow_type"] = types.get(value, value)
        elif key == "Dest port":
            port = re.match(r"(\d+) mask: 0x0$", value)
            rule["dst_port"] = int(port.group(1)) if port else None
        elif key == "Action":
            queue = re.match(r"Direct to queue (\d+)", value)
            rule["queue"] = int(queue.group(1)) if queue else None
    return rules


def rule_key(rule: dict[str, Any]) -> tuple[Any, Any, Any]:
    return (rule["flow_type"], rule["dst_port"], rule["queue"])


class Ntuple(Knob):
    """n-tuple steering: ntuple-filters on and one rule per (flow type, port) to the queue.

    The value is the feature state and the rules we manage (those steering one of the
    requested flows); rules of anyone else are never touched.
    """

    name, title = "ntuple", "n-tuple flow steering"

    def read(self, ctx: Context) -> dict[str, Any]:
        ifname = ctx.iface(self.name)
        feature = read_features(ctx, self.name, ifname).get("ntuple-filters")
        if feature is None or (feature["fixed"] and not feature["on"]):
            raise Absent(
                f"{ifname} has no n-tuple filters (a virtual device has no RX queues to steer)"
            )
        queues = [q for q in ctx.listdir(f"/sys/class/net/{ifname}/queues") if q.startswith("rx-")]
        if ctx.rx_queue >= len(queues):
            raise KnobError(
                f"ntuple: {ifname} has {len(queues)} RX queues, so queue {ctx.rx_queue} does not "
                "exist; pick one below that (tuning_rx_queue)"
            )
        rules = self.list_rules(ctx, ifname) if feature["on"] else []
        return {
            "interface": ifname,
            "ntuple": "on" if feature["on"] else "off",
            "rules": [r for r in rules if self.managed(ctx, r)],
            "other_rules": [r["id"] for r in rules if not self.managed(ctx, r)],
        }

    def list_rules(self, ctx: Context, ifname: str) -> list[dict[str, Any]]:
        out = ctx.runner.check(["ethtool", "-n", ifname], f"ntuple: listing the rules of {ifname}")
        return parse_rules(out)

    @staticmethod
    def managed(ctx: Context, rule: dict[str, Any]) -> bool:
        return any(
            (rule["flow_type"], rule["dst_port"]) == (r["flow_type"], r["dst_port"])
            for r in ctx.rules
        )

    def wanted(self, ctx: Context, current: dict[str, Any]) -> dict[str, Any]:
        rules = [
            {"flow_type": r["flow_type"], "dst_port": r["dst_port"], "queue": ctx.rx_queue}
            for r in ctx.rules
        ]
        for rule in current["rules"]:
            if rule["queue"] != ctx.rx_queue:
                raise KnobError(
                    f"ntuple: rule {rule['id']} of {current['interface']} already steers "
                    f"{rule['flow_type']} dst port {rule['dst_port']} to queue {rule['queue']}. "
                    f"Delete it (ethtool -N {current['interface']} delete {rule['id']}) or steer "
                    f"to queue {rule['queue']} (tuning_rx_queue)"
                )
        return {**current, "ntuple": "on", "rules": rules}

    def differs(self, current: dict[str, Any], wanted: dict[str, Any]) -> bool:
        have = {rule_key(r) for r in current["rules"]}
        want = {rule_key(r) for r in wanted["rules"]}
        return current["ntuple"] != wanted["ntuple"] or have != want

    def move(self, ctx: Context, current: dict[str, Any], wanted: dict[str, Any]) -> None:
        ifname = wanted["interface"]
        want = {rule_key(r) for r in wanted["rules"]}
        for rule in current["rules"]:
            if rule_key(rule) not in want:
                ctx.runner.check(
                    ["ethtool", "-N", ifname, "delete", str(rule["id"])],
                    f"ntuple: deleting rule {rule['id']} of {ifname}",
                )
        if wanted["ntuple"] == "on" and current["ntuple"] != "on":
            set_features(ctx, self.name, ifname, {"ntuple": "on"})
        have = {rule_key(r) for r in current["rules"]}
        for rule in wanted["rules"]:
            if rule_key(rule) in have:
                continue
            ctx.runner.check(
                ["ethtool", "-N", ifname, "flow-type", rule["flow_type"],
                 "dst-port", str(rule["dst_port"]), "action", str(rule["queue"])],
                f"ntuple: steering {rule['flow_type']} dst port {rule['dst_port']} of {ifname} "
                f"to queue {rule['queue']}",
            )  # fmt: skip
        if wanted["ntuple"] == "off" and current["ntuple"] != "off":
            set_features(ctx, self.name, ifname, {"ntuple": "off"})


def parse_interrupts(text: str) -> dict[int, str]:
    """/proc/interrupts -> {irq: name} for the numbered lines (name: last column)."""
    names = {}
    for line in text.splitlines():
        match = re.match(r"^\s*(\d+):\s+(.*)$", line)
        if match:
            fields = match.group(2).split()
            names[int(match.group(1))] = fields[-1] if fields else ""
    return names


def queue_irq_patterns(queue: int) -> list[re.Pattern[str]]:
    """IRQ names of an RX queue: mlx5_comp3@pci:..., eth1-TxRx-3, virtio0-input.3, ..."""
    return [
        re.compile(rf"^mlx5_comp{queue}@"),
        re.compile(rf"(?i)(?:txrx|rxtx|tx-rx|rx|input|comp|fp|queue)[-_.]?{queue}(?:@|$)"),
    ]


class IrqAffinity(Knob):
    """The IRQ of the steered RX queue, pinned to one CPU of the NIC's NUMA node."""

    name, title = "irq_affinity", "IRQ affinity of the steered queue"

    def find_irq(self, ctx: Context, ifname: str) -> int:
        device = f"/sys/class/net/{ifname}/device"
        if not ctx.exists(device):
            raise Absent(f"{ifname} is a virtual device without IRQs")
        irqs = [int(n) for n in ctx.listdir(f"{device}/msi_irqs") if n.isdigit()]
        if ctx.irq is not None:
            return ctx.irq
        if not irqs:
            legacy = ctx.read(f"{device}/irq")
            if legacy and legacy.isdigit() and int(legacy) > 0:
                ctx.note(self.name, f"{ifname} has one legacy IRQ for every queue")
                return int(legacy)
            raise Absent(f"{ifname} has no MSI or legacy IRQ")
        names = parse_interrupts(ctx.read("/proc/interrupts") or "")
        for pattern in queue_irq_patterns(ctx.rx_queue):
            found = [irq for irq in irqs if pattern.search(names.get(irq, ""))]
            if found:
                return found[0]
        listed = ", ".join(f"{irq}={names.get(irq, '?')}" for irq in irqs[:12])
        raise KnobError(
            f"irq_affinity: cannot tell which IRQ of {ifname} serves RX queue {ctx.rx_queue} "
            f"(its IRQs: {listed}); give it with tuning_irq"
        )

    def read(self, ctx: Context) -> dict[str, Any]:
        ifname = ctx.iface(self.name)
        irq = self.find_irq(ctx, ifname)
        text = ctx.read(f"/proc/irq/{irq}/smp_affinity_list")
        if text is None:
            raise KnobError(f"irq_affinity: /proc/irq/{irq}/smp_affinity_list is not readable")
        return {"interface": ifname, "irq": irq, "cpus": format_cpu_list(parse_cpu_list(text))}

    def wanted(self, ctx: Context, current: dict[str, Any]) -> dict[str, Any]:
        if ctx.irq_cpu is None:
            raise KnobError("irq_affinity: no online CPU found for the IRQ")
        return {**current, "cpus": str(ctx.irq_cpu)}

    def differs(self, current: dict[str, Any], wanted: dict[str, Any]) -> bool:
        return current["irq"] != wanted["irq"] or parse_cpu_list(current["cpus"]) != parse_cpu_list(
            wanted["cpus"]
        )

    def move(self, ctx: Context, current: dict[str, Any], wanted: dict[str, Any]) -> None:
        ctx.write(self.name, f"/proc/irq/{wanted['irq']}/smp_affinity_list", wanted["cpus"])


KNOBS: dict[str, Knob] = {
    knob.name: knob
    for knob in (
        Smt(), Governor(), EnergyPerfPreference(), EnergyPerfBias(), CState(), Turbo(),
        NumaBalancing(), Ksm(), Thp(), BpfStats(), Irqbalance(),
        Mtu(), Offloads(), Ntuple(), IrqAffinity(),
    )
}  # fmt: skip


# CPUs of the NIC's NUMA node ------------------------------------------------------


def nic_numa_node(ctx: Context) -> int | None:
    if not ctx.interface:
        return None
    text = ctx.read(f"/sys/class/net/{ctx.interface}/device/numa_node")
    if text is None or not text.lstrip("-").isdigit() or int(text) < 0:
        return None
    return int(text)


def cpus_after_smt(ctx: Context) -> list[int]:
    """Online CPUs, without the sibling threads that switching SMT off takes away."""
    online = ctx.online_cpus()
    if not ctx.smt_off:
        return online
    kept = []
    for cpu in online:
        siblings = ctx.read(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        if not siblings or min(parse_cpu_list(siblings)) == cpu:
            kept.append(cpu)
    return kept


def nic_cpus(ctx: Context, requested_irq_cpu: int | None, pin_irq: bool) -> dict[str, Any]:
    """The NIC's node, its usable CPUs, the CPU for the queue's IRQ and the CPUs left free.

    CPU 0 is avoided where the node has others: it takes most housekeeping work.
    """
    node = nic_numa_node(ctx)
    usable = cpus_after_smt(ctx)
    if node is not None:
        listed = ctx.read(f"/sys/devices/system/node/node{node}/cpulist")
        if listed:
            on_node = [c for c in usable if c in parse_cpu_list(listed)]
            usable = on_node or usable
    irq_cpu: int | None = None
    if pin_irq:
        preferred = [c for c in usable if c != 0] or usable
        irq_cpu = requested_irq_cpu if requested_irq_cpu is not None else preferred[0]
    free = [c for c in usable if c not in (irq_cpu, 0)] or [c for c in usable if c != irq_cpu]
    return {"numa_node": node, "node_cpus": usable, "irq_cpu": irq_cpu, "free_cpus": free or usable}
