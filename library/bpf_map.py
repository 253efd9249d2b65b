#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: update, delete and dump entries of a BPF map, with numbers and dicts."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bpf_map
short_description: Update, delete and dump entries of a BPF map
description:
  - Works on a pinned map (I(pinned)), a map given by kernel I(id), or by I(name)
    when exactly one loaded map has that name.
  - Keys and values are integers, or dicts of struct fields, encoded with the
    map's BTF layout into its key_size/value_size (little-endian, the host order
    on x86 and arm64). Without BTF types, keys and values are plain integers.
  - I(state=present) dumps the map first and writes only the entries that differ,
    all in one C(bpftool batch). Fields left out of a struct value keep their
    current value (0 for a new entry).
  - I(state=absent) deletes the given keys that exist (not possible for array maps).
  - I(state=dumped) returns all entries, decoded to integers and dicts, and the
    time they were read (C(dumped_at)), so that the rate of a counter is the
    difference of two dumps divided by the difference of their times.
  - For per-CPU maps a written value goes to every CPU, and dumped values are lists
    with one value per CPU.
options:
  pinned:
    description:
      - Path of the pinned map.
      - bpf_prog pins maps as C(<pin_dir>/maps/<map name>).
    type: path
  name:
    description: Kernel name of the map (at most 15 characters are kept by the kernel).
    type: str
  id:
    description: Kernel id of the map.
    type: int
  entries:
    description:
      - "With I(state=present), the entries to write, C({key: value})."
      - "Maps with struct keys take a list of C({key: {field: ...}, value: ...})."
      - Integers may also be given as strings (C("8080"), C("0x1f90")); enums take member names.
    type: raw
  keys:
    description: With I(state=absent), a list of the keys to delete (integers or dicts of fields).
    type: raw
  state:
    description: What to do with the entries.
    type: str
    choices: [present, absent, dumped]
    default: present
notes:
  - Needs bpftool with JSON output (C(-j)).
  - Maps that hold sockets, programs or maps (sockmap, prog_array, ...) cannot be written.
author: ebpf-testbed developers
"""

EXAMPLES = r"""
- name: Set the echo port and interface
  bpf_map:
    pinned: /run/ebpf-testbed/bpffs/fig3_echo_xdp/maps/echo_config
    entries:
      0: {port: 8080, ifindex: 7}

- name: Set the size of each request (integer keys and values)
  bpf_map:
    name: size_map
    entries: {0: 64}

- name: Add a flow with a struct key
  bpf_map:
    pinned: /run/ebpf-testbed/bpffs/flows/maps/flows
    entries:
      - key: {saddr: 33579786, daddr: 16802570, sport: 4000, dport: 8080, proto: 17}
        value: {packets: 0}

- name: Delete two entries
  bpf_map:
    name: counters
    state: absent
    keys: [1, 2]

- name: Read the counters
  bpf_map:
    pinned: /run/ebpf-testbed/bpffs/fig3_echo_xdp/maps/counters
    state: dumped
  register: counters
"""

RETURN = r"""
map:
  description: The map, as bpftool shows it, with the types used to encode keys and values.
  returned: always
  type: dict
  sample: {id: 12, name: echo_config, type: array, key_size: 4, value_size: 16,
           max_entries: 1, key_type: int __u32, value_type: struct echo_config}
entries:
  description: All entries decoded, a list of C({key, value}) (state=dumped).
  returned: when state=dumped
  type: list
  sample: [{key: 0, value: {port: 8080, ifindex: 7, seen: 0}}]
dumped_at:
  description:
    - CLOCK_MONOTONIC time in seconds, halfway through the dump (state=dumped).
    - The clock is the host's, shared by every process and network namespace of it.
  returned: when state=dumped
  type: float
  sample: 5123.402917
updated:
  description: Keys written (or that would be written in check mode).
  returned: when state=present
  type: list
deleted:
  description: Keys deleted (or that would be deleted in check mode).
  returned: when state=absent
  type: list
"""

import ast
import json
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.bpf_maps import BpfMap, BtfCache
from ansible.module_utils.testbed_common import ModuleError, Runner


def parse_structured(value: Any, option: str) -> Any:
    """Entries or keys given as a JSON/Python literal string (ad-hoc `-a` calls) become data."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            continue
    raise ModuleError(f"{option}: could not read {value!r} as a dict or list")


def open_map(runner: Runner, params: dict[str, Any]) -> BpfMap:
    for kind in ("pinned", "id", "name"):
        if params[kind] is not None:
            return BpfMap.open(runner, BtfCache(runner), kind, str(params[kind]))
    raise ModuleError("give one of pinned, id or name")


def run(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    runner = Runner(module)
    state = params["state"]
    bpf_map = open_map(runner, params)
    before = time.monotonic()
    current = bpf_map.dump(runner)
    dumped_at = (before + time.monotonic()) / 2
    result: dict[str, Any] = {"changed": False, "map": bpf_map.summary()}
    if state == "dumped":
        result["entries"] = bpf_map.decode_entries(current)
        result["dumped_at"] = round(dumped_at, 6)
        return result
    if state == "present":
        entries = parse_structured(params["entries"], "entries")
        pairs = bpf_map.parse_entries(entries, "entries")
        updates = bpf_map.plan_updates(current, pairs, "entries")
        if updates and not module.check_mode:
            bpf_map.apply(runner, updates, [])
        result.update(changed=bool(updates), updated=[key for _, _, key in updates])
        return result
    keys = parse_structured(params["keys"], "keys")
    keys = list(keys) if isinstance(keys, (list, tuple)) else [keys]
    deletes = bpf_map.plan_deletes(current, keys, "keys")
    if deletes and not module.check_mode:
        bpf_map.apply(runner, [], deletes)
    result.update(changed=bool(deletes), deleted=[key for _, key in deletes])
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "pinned": {"type": "path"},
            "name": {"type": "str"},
            "id": {"type": "int"},
            "entries": {"type": "raw"},
            "keys": {"type": "raw"},
            "state": {
                "type": "str",
                "choices": ["present", "absent", "dumped"],
                "default": "present",
            },
        },
        mutually_exclusive=[("pinned", "id", "name")],
        required_one_of=[("pinned", "id", "name")],
        required_if=[("state", "present", ("entries",)), ("state", "absent", ("keys",))],
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except ModuleError as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
