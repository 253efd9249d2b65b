#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: set offload features of a network interface with ethtool, reversibly."""

from __future__ import annotations

DOCUMENTATION = r"""
module: netdev_features
short_description: Turn offload features (GRO, GSO, TSO, ...) of an interface on or off
description:
  - Reads the features with C(ethtool -k) and changes, with one C(ethtool -K),
    only those that differ; then reads them again to check the change took.
  - Returns the previous values, so a later task can restore them by passing
    the registered result's C(previous) as I(features).
  - On the local testbed GRO must be on for the veth end that receives frames sent
    back with C(XDP_TX) or redirected into it (it gives the veth a NAPI context).
options:
  interface:
    description: The network interface.
    type: str
    required: true
  features:
    description:
      - Feature name -> wanted state. Names are those of C(ethtool -k)
        (C(generic-receive-offload)) or the short ethtool aliases
        (C(gro), C(gso), C(tso), C(lro), C(sg), C(rx), C(tx), C(rxvlan),
        C(txvlan), C(ntuple), C(rxhash)).
    type: dict
    required: true
notes:
  - Features marked C([fixed]) by the driver cannot be changed; asking for another value fails.
author: ebpf-testbed developers
"""

EXAMPLES = r"""
- name: Enable GRO on the load generator's veth end
  netdev_features:
    interface: veth-lg
    features:
      gro: true
  register: gro

- name: Put the features back as they were
  netdev_features:
    interface: veth-lg
    features: "{{ gro.previous }}"
"""

RETURN = r"""
previous:
  description: The requested features as they were before, by the names given.
  returned: always
  type: dict
  sample: {gro: false}
current:
  description: The requested features as they are now (as they would be, in check mode).
  returned: always
  type: dict
  sample: {gro: true}
"""

import re
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testbed_common import ModuleError, Runner

ALIASES = {
    "rx": "rx-checksumming",
    "tx": "tx-checksumming",
    "sg": "scatter-gather",
    "tso": "tcp-segmentation-offload",
    "ufo": "udp-fragmentation-offload",
    "gso": "generic-segmentation-offload",
    "gro": "generic-receive-offload",
    "lro": "large-receive-offload",
    "rxvlan": "rx-vlan-offload",
    "txvlan": "tx-vlan-offload",
    "ntuple": "ntuple-filters",
    "rxhash": "receive-hashing",
}
LINE_RE = re.compile(r"^\s*([\w-]+): (on|off)(?: \[(fixed|requested (?:on|off))\])?\s*$")


def parse_features(text: str) -> dict[str, dict[str, bool]]:
    """`ethtool -k` output -> {name: {"on": bool, "fixed": bool}}."""
    out = {}
    for line in text.splitlines():
        m = LINE_RE.match(line)
        if m:
            out[m.group(1)] = {"on": m.group(2) == "on", "fixed": m.group(3) == "fixed"}
    return out


def read_features(runner: Runner, interface: str) -> dict[str, dict[str, bool]]:
    rc, out, err = runner.run(["ethtool", "-k", interface])
    if rc != 0:
        raise ModuleError(
            f"reading the features of {interface} failed: {(err or out).strip()}. Check that "
            "the interface exists on this host (in this namespace)",
            rc=rc,
            stderr=err,
        )
    return parse_features(out)


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise ModuleError(f"features.{name}: expected true/false (or on/off), got {value!r}")


def run(module: AnsibleModule) -> dict[str, Any]:
    interface = module.params["interface"]
    wanted = {name: as_bool(v, name) for name, v in module.params["features"].items()}
    runner = Runner(module)
    have = read_features(runner, interface)
    names = {}
    for name in wanted:
        full = ALIASES.get(name, name)
        if full not in have:
            raise ModuleError(
                f"{interface} has no feature '{name}'. Its features: {', '.join(sorted(have))}"
            )
        names[name] = full
    previous = {name: have[names[name]]["on"] for name in wanted}
    todo = {name: on for name, on in wanted.items() if previous[name] != on}
    for name in todo:
        if have[names[name]]["fixed"]:
            raise ModuleError(
                f"feature {names[name]} of {interface} is fixed "
                f"({'on' if previous[name] else 'off'}) by its driver and cannot be changed"
            )
    result = {"changed": bool(todo), "previous": previous, "current": {**previous, **todo}}
    if not todo or module.check_mode:
        return result
    argv = ["ethtool", "-K", interface]
    for name, on in todo.items():
        argv += [names[name], "on" if on else "off"]
    rc, out, err = runner.run(argv)
    now = read_features(runner, interface)
    current = {name: now[names[name]]["on"] for name in wanted}
    missed = [names[n] for n, on in wanted.items() if current[n] != on]
    if rc != 0 or missed:
        raise ModuleError(
            f"ethtool could not set {', '.join(missed) or 'the features'} on {interface}: "
            f"{(err or out).strip() or 'the driver refused'}",
            rc=rc,
            stdout=out,
            stderr=err,
            previous=previous,
            current=current,
        )
    result["current"] = current
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "required": True},
            "features": {"type": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except ModuleError as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
