#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: apply, check and restore the paper's host tuning, knob by knob."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_tuning
short_description: Apply, check or restore the host tuning of the paper's testbed
description:
  - Knobs (in the order they are applied) - C(smt) off, CPU frequency C(governor)
    performance, C(energy_perf_preference) performance, C(energy_perf_bias) 0, the
    deepest C(cstate) disabled, C(turbo) off (intel_pstate no_turbo=1 or cpufreq
    boost=0), C(numa_balancing) 0, C(ksm) 0, C(thp) never, C(bpf_stats) 0,
    C(irqbalance) stopped; on the experiment interface C(mtu), C(offloads) off,
    C(ntuple) steering of the given flows to one RX queue, and the
    C(irq_affinity) of that queue's IRQ to one CPU of the NIC's NUMA node.
  - Every knob is read first. C(state=tuned) saves the values it found to
    I(saved_file) before it changes anything, and never replaces a value already
    saved there, so the file keeps the host's original state however often the
    tuning runs. C(state=restored) puts the saved values back and removes the file.
    C(state=checked) changes nothing and reports the knobs that differ from the
    tuning (drift).
  - A knob that does not exist on the host (no cpufreq in a VM, a veth without RX
    queues, no SMT control) is skipped with the reason; the module never fails for
    that. It fails when a knob exists but refuses its value, and names the knob.
options:
  state:
    description:
      - C(tuned) applies the tuning, C(restored) puts back what was saved,
        C(checked) reports drift and changes nothing.
    type: str
    required: true
    choices: [tuned, restored, checked]
  interface:
    description:
      - The experiment interface (for C(mtu), C(offloads), C(ntuple), C(irq_affinity)
        and the NUMA node). Without it these knobs are skipped.
      - With C(state=restored), defaults to the interface that was saved.
    type: str
  skip:
    description:
      - Knobs to leave alone, each with the reason reported for it. Ignored by
        C(state=restored), which puts back everything that was saved.
    type: dict
    default: {}
  mtu:
    description: MTU of the interface (the paper uses 1500; XDP attach fails on mlx5 at 9000).
    type: int
    default: 1500
  offloads:
    description:
      - Offload features switched off (ethtool names, or the aliases rx, tso, gso, gro, lro).
    type: list
    elements: str
    default:
      - rx-checksumming
      - tcp-segmentation-offload
      - generic-segmentation-offload
      - generic-receive-offload
      - large-receive-offload
  rx_queue:
    description: RX queue the steered flows go to.
    type: int
    default: 3
  steer:
    description: Flows steered to I(rx_queue) by n-tuple rules.
    type: list
    elements: dict
    default:
      - {flow_type: udp4, dst_port: 8080}
      - {flow_type: udp4, dst_port: 11211}
      - {flow_type: tcp4, dst_port: 8080}
    suboptions:
      flow_type:
        description: Flow type of the rule.
        type: str
        required: true
        choices: [udp4, tcp4]
      dst_port:
        description: Destination port of the flow.
        type: int
        required: true
  irq:
    description:
      - IRQ of the RX queue, for drivers whose IRQ names do not tell (by default it
        is found in /proc/interrupts).
    type: int
  irq_cpu:
    description:
      - CPU for the queue's IRQ. By default the first CPU of the NIC's NUMA node other
        than CPU 0 that stays online with SMT off.
    type: int
  irqbalance_service:
    description: systemd unit of irqbalance (without .service).
    type: str
    default: irqbalance
  saved_file:
    description: Where the original values are kept between C(tuned) and C(restored).
    type: path
    default: /var/lib/ebpf-testbed/tuning-saved.json
  sysfs_root:
    description: Mount point of sysfs (tests point it to a fake tree).
    type: path
    default: /sys
  procfs_root:
    description: Mount point of procfs (tests point it to a fake tree).
    type: path
    default: /proc
notes:
  - Supports check mode - it reads everything and reports what it would change.
  - On the local testbed the two hosts are namespaces of one machine; the role runs
    the host-wide knobs from the DUT only and keeps one saved file per host.
author: ebpf-testbed developers
"""

EXAMPLES = r"""
- name: Apply the paper's tuning on the DUT
  host_tuning:
    state: tuned
    interface: ens1f0np0
    rx_queue: 3
  register: tuning

- name: Report drift without changing anything
  host_tuning:
    state: checked
    interface: ens1f0np0
    skip:
      smt: left on for this run

- name: Put back what the first tuning found
  host_tuning:
    state: restored
"""

RETURN = r"""
knobs:
  description:
    - One entry per knob - C(status) (applied, already, skipped or drift), C(reason)
      when skipped or drifting, C(before), C(after) and C(wanted) values, C(notes).
    - In check mode C(after) is the value the knob would get.
  returned: always
  type: dict
  sample:
    thp: {status: applied, before: {/sys/kernel/mm/transparent_hugepage/enabled: madvise},
          after: {/sys/kernel/mm/transparent_hugepage/enabled: never},
          wanted: {/sys/kernel/mm/transparent_hugepage/enabled: never}, notes: []}
    smt: {status: skipped, reason: "SMT control not present (... says notsupported)"}
drift:
  description: Knobs whose current value differs from the tuning (state=checked), else empty.
  returned: always
  type: list
  elements: str
summary:
  description: One line per knob, for the play's output.
  returned: always
  type: list
  elements: str
cpus:
  description:
    - NUMA node of the NIC, its CPUs (after SMT off), the CPU of the queue's IRQ
      (null when the IRQ is not pinned) and the CPUs left free for programs.
  returned: always
  type: dict
  sample: {numa_node: 0, node_cpus: [0, 1, 2, 3], irq_cpu: 1, free_cpus: [2, 3]}
saved_file:
  description: Path of the file with the original values.
  returned: always
  type: str
saved:
  description: The original values kept in saved_file (after this run; empty once restored).
  returned: always
  type: dict
"""

import time
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testbed_common import (
    ModuleError,
    Runner,
    read_json,
    remove_file,
    write_json,
)
from ansible.module_utils.tuning import (
    APPLY_ORDER,
    INTERFACE_KNOBS,
    KNOBS,
    RESTORE_ORDER,
    Absent,
    Context,
    KnobError,
    nic_cpus,
)

SAVED_VERSION = 1
RESTORE_HINT = "playbooks/restore.yml (state=restored) puts back what was already changed"


def context_from(module: AnsibleModule, params: dict[str, Any]) -> Context:
    return Context(
        runner=Runner(module),
        sysfs=module.params["sysfs_root"],
        procfs=module.params["procfs_root"],
        interface=params.get("interface"),
        mtu=params["mtu"],
        offloads=tuple(params["offloads"]),
        rx_queue=params["rx_queue"],
        rules=tuple(params["steer"]),
        irq=params.get("irq"),
        irq_cpu=params.get("irq_cpu"),
        irqbalance_service=params["irqbalance_service"],
    )


def tuning_params(module: AnsibleModule) -> dict[str, Any]:
    """The options that decide the tuned values, as saved for restoring."""
    names = ("interface", "mtu", "offloads", "rx_queue", "steer", "irq", "irq_cpu",
             "irqbalance_service")  # fmt: skip
    return {name: module.params[name] for name in names}


def read_knobs(
    ctx: Context, names: tuple[str, ...], skip: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Current value of every knob, and the reason of every knob that is skipped."""
    values: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in names:
        if name in skip:
            skipped[name] = skip[name]
            continue
        try:
            values[name] = KNOBS[name].read(ctx)
        except Absent as absent:
            skipped[name] = absent.reason
    return values, skipped


def entry(status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, **{k: v for k, v in fields.items() if v is not None}}


def summary_lines(knobs: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for name, result in knobs.items():
        line = f"{name}: {result['status']}"
        if result.get("reason"):
            line += f" - {result['reason']}"
        if result.get("notes"):
            line += f" ({'; '.join(result['notes'])})"
        lines.append(line)
    return lines


def move_knob(
    module: AnsibleModule, ctx: Context, name: str, wanted_of: Callable[[Any], Any]
) -> dict[str, Any]:
    """Read the knob again, move it to wanted_of(its value) if it differs, check that it took."""
    knob = KNOBS[name]
    try:
        now = knob.read(ctx)
    except Absent as absent:
        return entry("skipped", reason=f"gone since it was read: {absent.reason}")
    wanted = wanted_of(now)
    if not knob.differs(now, wanted):
        return entry("already", before=now, after=now, wanted=wanted)
    if module.check_mode:
        return entry("applied", before=now, after=wanted, wanted=wanted)
    knob.move(ctx, now, wanted)
    try:
        after = knob.read(ctx)
    except Absent as absent:
        raise KnobError(f"{name}: vanished while it was set ({absent.reason})") from None
    if knob.differs(after, wanted):
        raise KnobError(
            f"{name}: set, but it reads back {difference(after, wanted)}; the kernel or "
            "the driver does not keep this value"
        )
    return entry("applied", before=now, after=after, wanted=wanted)


def differing(after: Any, wanted: Any, prefix: str = "") -> list[str]:
    """'key=now (wanted value)' for every leaf of `wanted` that `after` does not match."""
    if isinstance(after, dict) and isinstance(wanted, dict):
        parts = []
        for key, value in wanted.items():
            parts += differing(after.get(key), value, f"{prefix}{key}.")
        return parts
    if after == wanted:
        return []
    return [f"{prefix.rstrip('.') or 'value'}={after!r} (wanted {wanted!r})"]


def difference(after: Any, wanted: Any) -> str:
    """The parts of `after` that are not as wanted, for messages."""
    parts = differing(after, wanted)
    more = f" and {len(parts) - 4} more" if len(parts) > 4 else ""
    return ", ".join(parts[:4]) + more


def knob_failure(err: ModuleError, name: str, results: dict[str, Any]) -> ModuleError:
    return ModuleError(
        f"{err.msg}. Leave this knob alone with tuning_{name}: false (option skip), or fix "
        f"it by hand; {RESTORE_HINT}",
        knob=name,
        knobs=results,
        **err.details,
    )


def tune(module: AnsibleModule) -> dict[str, Any]:
    params = tuning_params(module)
    ctx = context_from(module, params)
    skip = module.params["skip"]
    current, skipped = read_knobs(ctx, APPLY_ORDER, skip)
    ctx.smt_off = "smt" in current
    cpus = nic_cpus(ctx, params["irq_cpu"], pin_irq="irq_affinity" in current)
    ctx.irq_cpu = cpus["irq_cpu"]

    # Everything that cannot take its value fails here, before anything changes.
    for name, value in current.items():
        try:
            KNOBS[name].wanted(ctx, value)
        except KnobError as err:
            raise knob_failure(err, name, {}) from None

    path = module.params["saved_file"]
    saved = read_json(path) or {"version": SAVED_VERSION, "knobs": {}}
    check_saved_interface(saved, params["interface"], current)
    merged = {
        **saved,
        "params": saved_params(saved.get("params"), params),
        "saved_at": saved.get("saved_at", now_utc()),
        # Values saved before are never replaced: the file keeps the original state.
        "knobs": {**current, **saved["knobs"]},
    }
    wrote = merged != saved
    if wrote and not module.check_mode:
        write_json(path, merged)
    saved = merged

    results: dict[str, Any] = {}
    for name in APPLY_ORDER:
        if name in skipped:
            results[name] = entry("skipped", reason=skipped[name])
            continue
        try:
            result = move_knob(module, ctx, name, lambda now, k=KNOBS[name]: k.wanted(ctx, now))
        except ModuleError as err:
            raise knob_failure(err, name, results) from None
        result["before"] = current[name]
        result["notes"] = ctx.notes.get(name, [])
        results[name] = result
    changed = wrote or any(r["status"] == "applied" for r in results.values())
    return {"changed": changed, "knobs": results, "cpus": cpus, "saved": saved, "drift": []}


def saved_params(before: dict[str, Any] | None, now: dict[str, Any]) -> dict[str, Any]:
    """The first run's options, plus any flow steered since (restore removes its rules too)."""
    if before is None:
        return now
    steer = before["steer"] + [rule for rule in now["steer"] if rule not in before["steer"]]
    return {**before, "steer": steer}


def check_saved_interface(saved: dict[str, Any], interface: str | None, current: dict) -> None:
    before = saved.get("params", {}).get("interface")
    tuned_here = INTERFACE_KNOBS & set(saved["knobs"]) & set(current)
    if tuned_here and before and interface and before != interface:
        raise ModuleError(
            f"the saved tuning is of interface {before}, not {interface}: restore it first "
            "(state=restored, playbooks/restore.yml), then tune the new interface"
        )


def now_utc() -> str:
    # time.gmtime, not datetime.UTC: the hosts run Ubuntu 22.04's Python 3.10.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def restore(module: AnsibleModule) -> dict[str, Any]:
    path = module.params["saved_file"]
    saved = read_json(path)
    if saved is None:
        reason = f"nothing saved in {path} (never tuned, or already restored)"
        knobs = {name: entry("skipped", reason=reason) for name in RESTORE_ORDER}
        return {"changed": False, "knobs": knobs, "cpus": {}, "saved": {}, "drift": []}
    # The knobs go back with the options they were tuned with (interface, queue, rules).
    params = {**tuning_params(module), **saved.get("params", {})}
    params["interface"] = params.get("interface") or module.params["interface"]
    ctx = context_from(module, params)
    results: dict[str, Any] = {}
    for name in RESTORE_ORDER:
        if name not in saved["knobs"]:
            results[name] = entry("skipped", reason="not saved (absent or left alone when tuned)")
            continue
        wanted = saved["knobs"][name]
        if isinstance(wanted, dict) and wanted.get("irq") is not None:
            ctx.irq = wanted["irq"]
        try:
            result = move_knob(module, ctx, name, lambda _now, saved=wanted: saved)
        except ModuleError as err:
            raise ModuleError(
                f"restoring {err.msg}. The saved values stay in {path}; fix the knob by hand "
                "and run the restore again",
                knob=name,
                knobs=results,
            ) from None
        result["notes"] = ctx.notes.get(name, [])
        results[name] = result
    removed = True if module.check_mode else remove_file(path)
    changed = removed or any(r["status"] == "applied" for r in results.values())
    return {"changed": changed, "knobs": results, "cpus": {}, "saved": {}, "drift": []}


def check(module: AnsibleModule) -> dict[str, Any]:
    params = tuning_params(module)
    ctx = context_from(module, params)
    current, skipped = read_knobs(ctx, APPLY_ORDER, module.params["skip"])
    ctx.smt_off = "smt" in current
    cpus = nic_cpus(ctx, params["irq_cpu"], pin_irq="irq_affinity" in current)
    ctx.irq_cpu = cpus["irq_cpu"]
    results: dict[str, Any] = {}
    for name in APPLY_ORDER:
        if name in skipped:
            results[name] = entry("skipped", reason=skipped[name])
            continue
        value = current[name]
        try:
            wanted = KNOBS[name].wanted(ctx, value)
        except KnobError as err:
            results[name] = entry("drift", reason=err.msg, before=value, after=value)
            continue
        drifting = KNOBS[name].differs(value, wanted)
        results[name] = entry(
            "drift" if drifting else "already",
            reason=difference(value, wanted) if drifting else None,
            before=value,
            after=value,
            wanted=wanted,
            notes=ctx.notes.get(name, []),
        )
    drift = [name for name, r in results.items() if r["status"] == "drift"]
    saved = read_json(module.params["saved_file"]) or {}
    return {"changed": False, "knobs": results, "cpus": cpus, "saved": saved, "drift": drift}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "required": True, "choices": ["tuned", "restored", "checked"]},
            "interface": {"type": "str"},
            "skip": {"type": "dict", "default": {}},
            "mtu": {"type": "int", "default": 1500},
            "offloads": {
                "type": "list",
                "elements": "str",
                "default": [
                    "rx-checksumming",
                    "tcp-segmentation-offload",
                    "generic-segmentation-offload",
                    "generic-receive-offload",
                    "large-receive-offload",
                ],
            },
            "rx_queue": {"type": "int", "default": 3},
            "steer": {
                "type": "list",
                "elements": "dict",
                "default": [
                    {"flow_type": "udp4", "dst_port": 8080},
                    {"flow_type": "udp4", "dst_port": 11211},
                    {"flow_type": "tcp4", "dst_port": 8080},
                ],
                "options": {
                    "flow_type": {"type": "str", "required": True, "choices": ["udp4", "tcp4"]},
                    "dst_port": {"type": "int", "required": True},
                },
            },
            "irq": {"type": "int"},
            "irq_cpu": {"type": "int"},
            "irqbalance_service": {"type": "str", "default": "irqbalance"},
            "saved_file": {"type": "path", "default": "/var/lib/ebpf-testbed/tuning-saved.json"},
            "sysfs_root": {"type": "path", "default": "/sys"},
            "procfs_root": {"type": "path", "default": "/proc"},
        },
        supports_check_mode=True,
    )
    unknown = sorted(set(module.params["skip"]) - set(KNOBS))
    if unknown:
        module.fail_json(
            msg=f"skip names unknown knobs {', '.join(unknown)}; the knobs are "
            f"{', '.join(APPLY_ORDER)}"
        )
    if not 0 <= module.params["rx_queue"] < 4096:
        module.fail_json(msg=f"rx_queue={module.params['rx_queue']} is not a queue number (0-4095)")
    state = module.params["state"]
    try:
        result = {"tuned": tune, "restored": restore, "checked": check}[state](module)
    except ModuleError as err:
        err.fail(module, saved_file=module.params["saved_file"])
    result["summary"] = summary_lines(result["knobs"])
    module.exit_json(saved_file=module.params["saved_file"], state=state, **result)


if __name__ == "__main__":
    main()
