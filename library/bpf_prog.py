#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: load an eBPF object, configure its maps and attach one program to a hook."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bpf_prog
short_description: Load an eBPF object, configure its maps and attach one of its programs
description:
  - Loads every program of an eBPF object with C(bpftool prog loadall), pins the
    programs under I(pin_dir)C(/progs) and the maps under I(pin_dir)C(/maps),
    writes I(map_values) into the fresh maps and only then attaches the program
    named I(program) to an XDP or TC hook of an interface, to a sockmap (sk_skb),
    or to a cgroup v2 (cgroup, for example a C(sock_ops) program).
  - I(reuse_maps) makes the object use maps that another attachment already
    pinned instead of creating its own, so that programs of one object attached
    from several pin folders share their maps (an SK_SKB verdict on a sockmap and
    the C(sock_ops) program that fills that sockmap).
  - The attachment is recorded in a JSON file under I(state_dir) (bpffs cannot
    hold regular files), with the object's SHA-256, the program id and tag, and
    whether the module created the clsact qdisc.
  - Idempotent. When the program recorded for I(pin_dir) is still attached at the
    requested hook, its pins are intact and the object did not change, nothing
    is reloaded; only I(map_values) entries that differ are written. Any other
    change (object, program, hook settings) loads the object again, with fresh
    maps, and replaces the old attachment (atomically for XDP in the same mode
    and for TC at the same priority).
  - A program at the hook that this I(pin_dir) did not attach is never replaced
    silently; the module fails and says how to detach it, unless I(force=true).
  - If anything fails after the load, nothing new stays attached or pinned.
  - With I(state=absent) the program is detached, the clsact qdisc removed if
    the module created it and nothing else uses it, and the pins removed.
    I(state=absent_all) does that for every attachment recorded in I(state_dir)
    that was made from the current network namespace (cleanup after an interruption).
  - Runs inside a network namespace on the local testbed; pins must be on a
    bpffs mounted outside C(/sys), since C(ip netns exec) mounts its own C(/sys).
options:
  state:
    description:
      - Whether the program should be attached or detached.
      - C(absent_all) detaches every attachment recorded in I(state_dir) from this namespace.
    type: str
    choices: [present, absent, absent_all]
    default: present
  object:
    description:
      - Path of the compiled eBPF object (C(.bpf.o)).
      - Every program in it is loaded, so every program must pass the verifier.
    type: path
  program:
    description: Name of the program (its C function name) to attach.
    type: str
  hook:
    description: Where to attach.
    type: str
    choices: [xdp, tc, sk_skb, cgroup]
  interface:
    description: Network interface for I(hook=xdp) and I(hook=tc).
    type: str
  xdp_mode:
    description: XDP attach mode; C(native) is the driver hook, C(generic) the skb-based one.
    type: str
    choices: [native, generic]
    default: native
  tc_direction:
    description: TC hook direction (a clsact qdisc is added when missing).
    type: str
    choices: [ingress, egress]
    default: ingress
  tc_priority:
    description: Priority (C(pref)) of the TC filter; the filter handle is always 1.
    type: int
    default: 1
  sk_skb_attach:
    description:
      - Attach type for I(hook=sk_skb).
      - C(stream_verdict) and C(verdict) exclude each other on one sockmap.
      - With libbpf 1.1 a C(verdict) program must use C(SEC("sk_skb")),
        since libbpf 1.1 does not know C(SEC("sk_skb/verdict")).
    type: str
    choices: [stream_verdict, stream_parser, verdict]
    default: stream_verdict
  sockmap:
    description: Name of the sockmap (or sockhash) in the object to attach the sk_skb program to.
    type: str
  cgroup_path:
    description:
      - Folder of the cgroup v2 to attach to, for I(hook=cgroup). It must exist and be
        visible where the task runs (on the local testbed a cgroup2 mount outside C(/sys),
        since C(ip netns exec) mounts its own C(/sys)).
      - The program is attached without flags, so it is the only program of its attach
        type on that cgroup; its sockets and those of its descendants run it.
    type: path
  cgroup_attach:
    description: Attach type for I(hook=cgroup); C(sock_ops) needs a C(SEC("sockops")) program.
    type: str
    choices: [sock_ops]
    default: sock_ops
  reuse_maps:
    description:
      - "Maps of the object taken from pins instead of created by this load: C({map: pinned path})."
      - The reused maps are pinned in this I(pin_dir) too and keep their contents.
        I(map_values) written to them change them for every program that uses them.
      - When a reused map is replaced (its attachment was reloaded), the next run loads again.
    type: dict
    default: {}
  pin_dir:
    description:
      - bpffs folder owned by this attachment, absolute or relative to I(pin_root).
      - Programs are pinned as I(pin_dir)C(/progs/<function>),
        maps as I(pin_dir)C(/maps/<map name>).
    type: str
  pin_root:
    description: bpffs mount that holds the pin folders (mounted by the testbed role).
    type: path
    default: /run/ebpf-testbed/bpffs
  state_dir:
    description: Folder of the attachment records (one C(<name>.json) per pin folder).
    type: path
    default: /run/ebpf-testbed/state
  map_values:
    description:
      - "Entries written to the object's maps after load and before attach: C({map: {key: value}}),
        or C({map: [{key: K, value: V}]}) for maps with struct keys."
      - Keys and values are integers, or dicts of field to integer for structs, encoded with the
        map's BTF layout (little-endian). Fields left out keep their current value (0 in a new map).
        Arrays are lists, enums accept member names, C(.data)/C(.bss) maps take a dict of
        global variable to value (name them by pin name, e.g. C(prog_bss), or C(.bss)).
      - Maps whose value has no BTF type take plain integers of the map's value size.
    type: dict
    default: {}
  force:
    description: Replace a program at the hook that this pin_dir did not attach.
    type: bool
    default: false
notes:
  - Needs bpftool (JSON output), iproute2 (C(ip), C(tc)) and root.
  - Reloading an sk_skb attachment creates a new sockmap; restart servers that opened the old one.
  - The kernel offers no query for the program attached to a sockmap, so sk_skb attachments are
    known from the record and the pins only.
  - TC programs attached through tcx links are not listed by bpftool 7.1, so they are
    not detected as foreign.
author: ebpf-testbed developers
"""

EXAMPLES = r"""
- name: Attach the XDP echo with its port and interface configured
  bpf_prog:
    object: /opt/ebpf-testbed/build/bpf/echo.bpf.o
    program: xdp_echo
    hook: xdp
    interface: veth-dut
    pin_dir: fig3_echo_xdp
    map_values:
      echo_config:
        0: {port: 8080, ifindex: 7}
  register: echo

- name: Attach a TC program on egress
  bpf_prog:
    object: /opt/ebpf-testbed/build/bpf/echo.bpf.o
    program: tc_echo
    hook: tc
    tc_direction: egress
    interface: veth-dut
    pin_dir: fig3_echo_tc

- name: Attach an sk_skb verdict program to the object's sockmap
  bpf_prog:
    object: /opt/ebpf-testbed/build/bpf/echo.bpf.o
    program: skb_echo
    hook: sk_skb
    sockmap: echo_sockmap
    pin_dir: fig3_echo_sk_skb

- name: Attach the sock_ops program that fills that sockmap to a cgroup, sharing its maps
  bpf_prog:
    object: /opt/ebpf-testbed/build/bpf/hook_pass.bpf.o
    program: sockops_insert
    hook: cgroup
    cgroup_path: /run/ebpf-testbed/cgroup2/table2_iperf
    pin_dir: table2_sockops
    reuse_maps:
      pass_sockmap: /run/ebpf-testbed/bpffs/table2_sk_skb/maps/pass_sockmap
      pass_config: /run/ebpf-testbed/bpffs/table2_sk_skb/maps/pass_config

- name: Detach it again
  bpf_prog:
    state: absent
    pin_dir: fig3_echo_xdp

- name: Detach everything this namespace attached (cleanup)
  bpf_prog:
    state: absent_all
"""

RETURN = r"""
prog_id:
  description: Kernel id of the attached program.
  returned: when state=present
  type: int
tag:
  description: Program tag (hash of its instructions) as shown by bpftool.
  returned: when state=present
  type: str
name:
  description: Program name as the kernel knows it.
  returned: when state=present
  type: str
jited_bytes:
  description: Size of the JIT-compiled program.
  returned: when state=present
  type: int
xlated_bytes:
  description: Size of the program after verification (BPF instructions).
  returned: when state=present
  type: int
hook:
  description: The hook the program is attached to.
  returned: when state=present
  type: str
interface:
  description: Interface of an XDP or TC attachment (null for sk_skb and cgroup).
  returned: when state=present
  type: str
ifindex:
  description: Index of that interface in the namespace (null for sk_skb and cgroup).
  returned: when state=present
  type: int
cgroup_path:
  description: Cgroup of a cgroup attachment (null otherwise).
  returned: when state=present
  type: str
reused_maps:
  description: Maps taken from other pins (I(reuse_maps)), by name, with their kernel id.
  returned: when state=present
  type: dict
pin_dir:
  description: The pin folder of the attachment.
  returned: always
  type: str
maps:
  description: Maps of the object, by name, with their pinned path and kernel id.
  returned: when state=present
  type: dict
  sample: {echo_config: {path: /run/ebpf-testbed/bpffs/fig3_echo_xdp/maps/echo_config, id: 12}}
map_updates:
  description: Number of map entries written for I(map_values).
  returned: when state=present
  type: int
replaced:
  description: Ids of programs of others replaced because of I(force).
  returned: when state=present
  type: list
actions:
  description: What was done (or, in check mode, what would be done).
  returned: always
  type: list
verifier_log:
  description: Last lines of the verifier log when the verifier rejected a program.
  returned: on verifier failure
  type: str
removed:
  description: Pin folders whose attachments were removed (state=absent_all).
  returned: when state=absent_all
  type: list
"""

import hashlib
import json
import os
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.bpf_common import (
    PROG_TYPE_OF_HOOK,
    SECTION_OF_HOOK,
    link_show,
    list_pins,
    net_show,
    prog_show_pinned,
    prog_summary,
    remove_tree,
    require_bpffs,
    verifier_failure,
)
from ansible.module_utils.bpf_maps import BpfMap, BtfCache
from ansible.module_utils.testbed_common import (
    ModuleError,
    Runner,
    current_netns,
    describe_netns,
    netns_alive,
    read_json,
    remove_file,
    tail,
    write_json,
)

STAGING_SUFFIX = "__loading"  # bpffs refuses names with a dot
TC_HANDLE = "0x1"
SK_SKB_ATTACH = {
    "stream_verdict": "sk_skb_stream_verdict",
    "stream_parser": "sk_skb_stream_parser",
    "verdict": "sk_skb_verdict",
}
# xdp_mode -> (bpftool attach keyword, mode as bpftool net show prints it)
XDP_MODES = {"native": ("xdp", "driver"), "generic": ("xdpgeneric", "generic")}
XDP_DETACH = {"driver": "xdp", "generic": "xdpgeneric", "offload": "xdpoffload"}
# settings that identify an attachment, per hook
# cgroup_attach -> (bpftool attach keyword, program type, attach type as bpftool shows it)
CGROUP_ATTACH = {"sock_ops": ("sock_ops", "sock_ops", "cgroup_sock_ops")}
IDENTITY = {
    "xdp": ("interface", "xdp_mode"),
    "tc": ("interface", "tc_direction", "tc_priority"),
    "sk_skb": ("sk_skb_attach", "sockmap"),
    "cgroup": ("cgroup_path", "cgroup_attach"),
}


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def require_object(path: str) -> None:
    if not os.path.isfile(path):
        raise ModuleError(
            f"object {path} does not exist; build it first (the build role compiles bpf_src/)"
        )


def require_cgroup(path: str) -> None:
    if not os.path.isfile(os.path.join(path, "cgroup.procs")):
        raise ModuleError(
            f"cgroup_path {path} is not a cgroup (no cgroup.procs in it). Create it first "
            "(mkdir below a cgroup2 mount; on the local testbed testbed_cgroup_root, mounted "
            "outside /sys, which `ip netns exec` hides)"
        )


class Hooks:
    """Looks at and changes XDP, TC and sk_skb attachments."""

    def __init__(self, runner: Runner) -> None:
        self.run = runner

    # --- what is attached ---

    def attached(self, hook: str, interface: str | None, direction: str) -> list[dict[str, Any]]:
        if hook == "xdp":
            return [
                {"id": e["id"], "mode": e.get("mode")} for e in net_show(self.run, interface)["xdp"]
            ]
        if hook == "tc":
            return self.tc_filters(interface, direction)
        return []

    def tc_filters(self, interface: str, direction: str) -> list[dict[str, Any]]:
        data = (
            self.run.json(
                ["tc", "-j", "filter", "show", "dev", interface, direction],
                f"listing the TC {direction} filters of {interface}",
            )
            or []
        )
        out = []
        for f in data:
            prog = (f.get("options") or {}).get("prog")
            if f.get("kind") == "bpf" and prog:
                out.append(
                    {
                        "id": prog["id"],
                        "name": prog.get("name"),
                        "pref": f.get("pref"),
                        "handle": f["options"].get("handle", TC_HANDLE),
                    }
                )
        return out

    def interface_index(self, interface: str) -> int | None:
        rc, out, _ = self.run.run(["ip", "-j", "link", "show", "dev", interface])
        if rc != 0:
            return None
        links = json.loads(out or "[]")
        return links[0].get("ifindex") if links else None

    # --- XDP ---

    def attach_xdp(
        self,
        prog_path: str,
        prog_id: int,
        interface: str,
        mode: str,
        occupants: list[dict[str, Any]],
    ) -> list[str]:
        flag, shown = XDP_MODES[mode]
        actions = []
        for other in occupants:
            if other["mode"] != shown:
                self.run.check(
                    [
                        "bpftool",
                        "net",
                        "detach",
                        XDP_DETACH.get(other["mode"], "xdp"),
                        "dev",
                        interface,
                    ],
                    f"detaching XDP program {other['id']} ({other['mode']} mode) from {interface}",
                )
                actions.append(
                    f"detached XDP program {other['id']} ({other['mode']}) from {interface}"
                )
        cmd = ["bpftool", "net", "attach", flag, "pinned", prog_path, "dev", interface]
        if any(o["mode"] == shown for o in occupants):
            cmd.append("overwrite")
        hint = (
            f"If the driver of {interface} has no native XDP, or the MTU is too large for XDP, "
            "try xdp_mode: generic or a smaller MTU"
        )
        self.run.check(cmd, f"attaching {prog_path} to XDP ({mode}) of {interface}", hint)
        now = self.attached("xdp", interface, "")
        if not any(e["id"] == prog_id and e["mode"] == shown for e in now):
            raise ModuleError(
                f"bpftool reported success, but program {prog_id} is not attached to XDP "
                f"of {interface} (attached now: {now})"
            )
        actions.append(f"attached program {prog_id} to XDP ({mode}) of {interface}")
        return actions

    def detach_xdp(self, interface: str, prog_id: int) -> list[str]:
        actions = []
        for e in self.attached("xdp", interface, ""):
            if e["id"] == prog_id:
                self.run.check(
                    [
                        "bpftool",
                        "net",
                        "detach",
                        XDP_DETACH.get(e["mode"], "xdp"),
                        "dev",
                        interface,
                    ],
                    f"detaching XDP program {prog_id} from {interface}",
                )
                actions.append(f"detached XDP program {prog_id} from {interface}")
        return actions

    # --- TC ---

    def ensure_clsact(self, interface: str) -> bool:
        """Add a clsact qdisc when missing; True when it was added."""
        qdiscs = (
            self.run.json(
                ["tc", "-j", "qdisc", "show", "dev", interface],
                f"listing the qdiscs of {interface}",
            )
            or []
        )
        kinds = {q.get("kind") for q in qdiscs}
        if "clsact" in kinds:
            return False
        if "ingress" in kinds:
            raise ModuleError(
                f"{interface} has an 'ingress' qdisc, which excludes clsact. Remove it "
                f"(tc qdisc del dev {interface} ingress) if nothing needs it"
            )
        self.run.check(
            ["tc", "qdisc", "add", "dev", interface, "clsact"],
            f"adding a clsact qdisc to {interface}",
        )
        return True

    def remove_clsact_if_unused(self, interface: str) -> list[str]:
        left = self.tc_filters(interface, "ingress") + self.tc_filters(interface, "egress")
        if left:
            return []
        qdiscs = (
            self.run.json(
                ["tc", "-j", "qdisc", "show", "dev", interface],
                f"listing the qdiscs of {interface}",
            )
            or []
        )
        if not any(q.get("kind") == "clsact" for q in qdiscs):
            return []
        self.run.check(
            ["tc", "qdisc", "del", "dev", interface, "clsact"],
            f"removing the clsact qdisc of {interface}",
        )
        return [f"removed the clsact qdisc of {interface}"]

    def delete_tc_filter(self, interface: str, direction: str, f: dict[str, Any]) -> str:
        self.run.check(
            [
                "tc",
                "filter",
                "del",
                "dev",
                interface,
                direction,
                "pref",
                str(f["pref"]),
                "handle",
                str(f["handle"]),
                "bpf",
            ],
            f"deleting TC {direction} filter pref {f['pref']} of {interface}",
        )
        return f"deleted TC {direction} filter pref {f['pref']} (program {f['id']}) of {interface}"

    def attach_tc(
        self,
        prog_path: str,
        prog_id: int,
        interface: str,
        direction: str,
        pref: int,
        occupants: list[dict[str, Any]],
    ) -> list[str]:
        def in_our_slot(f: dict[str, Any]) -> bool:
            return f["pref"] == pref and str(f["handle"]) in (TC_HANDLE, "1")

        # filters elsewhere go first; one in our slot is replaced atomically
        actions = [
            self.delete_tc_filter(interface, direction, f) for f in occupants if not in_our_slot(f)
        ]
        verb = "replace" if any(in_our_slot(f) for f in occupants) else "add"
        self.run.check(
            [
                "tc",
                "filter",
                verb,
                "dev",
                interface,
                direction,
                "pref",
                str(pref),
                "handle",
                TC_HANDLE,
                "bpf",
                "da",
                "pinned",
                prog_path,
            ],
            f"attaching {prog_path} to TC {direction} of {interface}",
        )
        if not any(
            f["id"] == prog_id and f["pref"] == pref for f in self.tc_filters(interface, direction)
        ):
            raise ModuleError(
                f"tc reported success, but program {prog_id} is not attached to TC {direction} "
                f"of {interface}"
            )
        actions.append(f"attached program {prog_id} to TC {direction} of {interface} (pref {pref})")
        return actions

    def detach_tc(self, interface: str, direction: str, prog_id: int) -> list[str]:
        return [
            self.delete_tc_filter(interface, direction, f)
            for f in self.tc_filters(interface, direction)
            if f["id"] == prog_id
        ]

    # --- sk_skb ---

    def attach_sk_skb(self, prog_path: str, map_path: str, attach: str) -> list[str]:
        kind = SK_SKB_ATTACH[attach]
        self.run.check(
            ["bpftool", "prog", "attach", "pinned", prog_path, kind, "pinned", map_path],
            f"attaching {prog_path} as {attach} to the sockmap {map_path}",
            "stream_verdict and verdict cannot both be attached to one sockmap",
        )
        return [f"attached {os.path.basename(prog_path)} as {attach} to {map_path}"]

    def detach_sk_skb(self, prog_path: str, map_path: str, attach: str) -> list[str]:
        if not (os.path.lexists(prog_path) and os.path.lexists(map_path)):
            return []
        rc, _, _ = self.run.run(
            [
                "bpftool",
                "prog",
                "detach",
                "pinned",
                prog_path,
                SK_SKB_ATTACH[attach],
                "pinned",
                map_path,
            ]
        )
        return (
            [f"detached {os.path.basename(prog_path)} ({attach}) from {map_path}"]
            if rc == 0
            else []
        )

    # --- cgroup ---

    def cgroup_progs(self, path: str, attach: str) -> list[dict[str, Any]]:
        """Programs attached to the cgroup at `path` with attach type `attach`."""
        if not os.path.isdir(path):
            raise ModuleError(
                f"cgroup_path {path} does not exist. Create the cgroup first (mkdir below a "
                "cgroup2 mount); on the local testbed the cgroup2 mount is testbed_cgroup_root, "
                "outside /sys, which `ip netns exec` hides"
            )
        shown = CGROUP_ATTACH[attach][2]
        data = (
            self.run.json(
                ["bpftool", "-j", "cgroup", "show", path],
                f"listing the programs of cgroup {path}",
                "is it a folder of a cgroup2 mount (not cgroup v1)?",
            )
            or []
        )
        return [
            {"id": e["id"], "name": e.get("name"), "attach_type": e.get("attach_type")}
            for e in data
            if e.get("attach_type") == shown
        ]

    def attach_cgroup(
        self, prog_path: str, prog_id: int, path: str, attach: str, foreign: list[dict[str, Any]]
    ) -> list[str]:
        # Without flags the attachment is exclusive and replaces the program there; a
        # foreign one is only there when force allowed it, and goes first.
        actions = []
        for other in foreign:
            actions += self.detach_cgroup(path, attach, other["id"])
        self.run.check(
            ["bpftool", "cgroup", "attach", path, CGROUP_ATTACH[attach][0], "pinned", prog_path],
            f"attaching {prog_path} as {attach} to cgroup {path}",
        )
        if not any(e["id"] == prog_id for e in self.cgroup_progs(path, attach)):
            raise ModuleError(
                f"bpftool reported success, but program {prog_id} is not attached as {attach} "
                f"to cgroup {path}"
            )
        actions.append(f"attached program {prog_id} as {attach} to cgroup {path}")
        return actions

    def detach_cgroup(self, path: str, attach: str, prog_id: int) -> list[str]:
        if not os.path.isdir(path):
            return []  # the cgroup is gone, and its attachments with it
        if not any(e["id"] == prog_id for e in self.cgroup_progs(path, attach)):
            return []
        self.run.check(
            ["bpftool", "cgroup", "detach", path, CGROUP_ATTACH[attach][0], "id", str(prog_id)],
            f"detaching program {prog_id} ({attach}) from cgroup {path}",
        )
        return [f"detached program {prog_id} ({attach}) from cgroup {path}"]


class BpfProg:
    """One attachment, identified by its pin folder."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.p = module.params
        self.check_mode = module.check_mode
        self.runner = Runner(module)
        self.hooks = Hooks(self.runner)
        self.netns = current_netns()

    # --- paths ---

    def pin_dir_of(self, value: str) -> str:
        root = os.path.normpath(self.p["pin_root"])
        path = os.path.normpath(value if os.path.isabs(value) else os.path.join(root, value))
        below = (
            os.path.relpath(path, root) if path.startswith(root + "/") else os.path.basename(path)
        )
        if (
            any(c.isspace() for c in path)
            or "." in below
            or path.endswith(STAGING_SUFFIX)
            or path == root
        ):
            raise ModuleError(
                f"pin_dir '{value}' is not usable: give a folder name below {root} without "
                "spaces or dots (bpffs refuses dots), e.g. fig3_echo_xdp"
            )
        return path

    def state_path(self, pin_dir: str) -> str:
        root = os.path.normpath(self.p["pin_root"])
        rel = (
            os.path.relpath(pin_dir, root) if pin_dir.startswith(root + "/") else pin_dir.strip("/")
        )
        return os.path.join(self.p["state_dir"], rel.replace("/", "__") + ".json")

    # --- present ---

    def validate_present(self) -> None:
        p = self.p
        if p["hook"] in ("xdp", "tc") and not p["interface"]:
            raise ModuleError(f"hook={p['hook']} needs interface")
        if p["hook"] == "sk_skb" and not p["sockmap"]:
            raise ModuleError("hook=sk_skb needs sockmap: the name of the sockmap in the object")
        if p["hook"] == "cgroup" and not p["cgroup_path"]:
            raise ModuleError("hook=cgroup needs cgroup_path: the folder of a cgroup v2")
        for name, path in p["reuse_maps"].items():
            if not isinstance(path, str) or not os.path.isabs(path):
                raise ModuleError(
                    f"reuse_maps.{name} must be the absolute path of a pinned map, not {path!r}"
                )
        if not 1 <= p["tc_priority"] <= 65535:
            raise ModuleError(f"tc_priority must be between 1 and 65535, not {p['tc_priority']}")
        if not isinstance(p["map_values"], dict) or any(
            not isinstance(v, (dict, list)) for v in p["map_values"].values()
        ):
            raise ModuleError(
                "map_values must be a dict of map name -> {key: value} "
                "(or map name -> a list of {key:, value:})"
            )

    def desired(self) -> dict[str, Any]:
        p = self.p
        return {k: p[k] for k in ("program", "hook", *IDENTITY[p["hook"]])}

    def check_netns(self, record: dict[str, Any] | None, pin_dir: str) -> dict[str, Any] | None:
        """The record if it belongs to this namespace; None if its namespace is gone (stale)."""
        inode = (record or {}).get("netns", {}).get("inode")
        if not record or inode in (None, self.netns["inode"]):
            return record
        if not netns_alive(inode):
            # its namespace was deleted, and the attachments with it: only pins are left
            return None
        raise ModuleError(
            f"{pin_dir} belongs to an attachment made in {describe_netns(record.get('netns'))}, "
            f"not in this one ({describe_netns(self.netns)}). Use another pin_dir, or remove it "
            "from the host that made it (state: absent)"
        )

    def prerequisite(self, check: Any, *args: Any) -> bool:
        """Run a check of something an earlier step makes (the build, the bpffs mount).

        In check mode those steps did not run, so a failure is a warning there.
        """
        try:
            check(*args)
            return True
        except ModuleError as exc:
            if not self.check_mode:
                raise
            self.module.warn(f"{exc.msg} (check mode: assuming an earlier step provides it)")
            return False

    def present(self) -> dict[str, Any]:
        self.validate_present()
        p = self.p
        pin_dir = self.pin_dir_of(p["pin_dir"])
        built = self.prerequisite(require_object, p["object"])
        mounted = self.prerequisite(require_bpffs, os.path.dirname(pin_dir))
        made = p["hook"] != "cgroup" or self.prerequisite(require_cgroup, p["cgroup_path"])
        reused = self.prerequisite(self.resolve_reused_maps)
        if not (built and mounted and made and reused):
            return {
                "changed": True,
                "pin_dir": pin_dir,
                "hook": p["hook"],
                "interface": p["interface"],
                "ifindex": None,
                "replaced": [],
                "actions": [
                    f"load {p['object']} into {pin_dir}",
                    f"attach {p['program']} to {self.where()}",
                ],
            }
        state_path = self.state_path(pin_dir)
        record = self.check_netns(read_json(state_path), pin_dir)
        ifindex = (
            link_show(self.runner, p["interface"])["ifindex"]
            if p["hook"] in ("xdp", "tc")
            else None
        )
        sha = sha256_of(p["object"])
        occupants = self.occupants()
        ours = record.get("prog_id") if record else None
        if self.up_to_date(record, sha, occupants, pin_dir, ifindex):
            return self.keep(record, pin_dir)
        foreign = [o for o in occupants if o["id"] != ours]
        if foreign and not p["force"]:
            raise ModuleError(self.foreign_message(foreign))
        actions = [f"load {p['object']} into {pin_dir}"]
        if p["map_values"]:
            actions.append(f"write map_values into {', '.join(p['map_values'])}")
        actions.append(f"attach {p['program']} to {self.where()}")
        actions += [f"replace program {o['id']} (force)" for o in foreign]
        if record:
            actions.append(f"replace the previous attachment (program {ours})")
        if self.check_mode:
            return {
                "changed": True,
                "pin_dir": pin_dir,
                "hook": p["hook"],
                "interface": p["interface"],
                "ifindex": ifindex,
                "actions": actions,
                "replaced": [o["id"] for o in foreign],
            }
        return self.install(record, sha, pin_dir, state_path, ifindex, occupants, foreign)

    def occupants(self) -> list[dict[str, Any]]:
        """Programs at the requested hook now (none known for sk_skb)."""
        p = self.p
        if p["hook"] == "cgroup":
            return self.hooks.cgroup_progs(p["cgroup_path"], p["cgroup_attach"])
        return self.hooks.attached(p["hook"], p["interface"], p["tc_direction"])

    def resolve_reused_maps(self) -> None:
        """Kernel id of each map of reuse_maps, in self.reused; fails naming a missing one."""
        self.reused: dict[str, int] = {}
        for name, path in sorted(self.p["reuse_maps"].items()):
            rc, out, err = self.runner.run(["bpftool", "-j", "map", "show", "pinned", path])
            if rc != 0:
                raise ModuleError(
                    f"reuse_maps.{name}: no map is pinned at {path}. Attach the program whose "
                    "maps these are first (its pin_dir holds them under maps/)",
                    rc=rc,
                    stderr=err,
                )
            shown = json.loads(out or "{}")
            if shown.get("name") != str(name)[:15]:
                raise ModuleError(
                    f"reuse_maps.{name}: {path} is map '{shown.get('name')}', not '{name}'"
                )
            self.reused[str(name)] = shown["id"]

    def where(self) -> str:
        p = self.p
        if p["hook"] == "xdp":
            return f"XDP ({p['xdp_mode']}) of {p['interface']}"
        if p["hook"] == "tc":
            return f"TC {p['tc_direction']} of {p['interface']} (pref {p['tc_priority']})"
        if p["hook"] == "cgroup":
            return f"cgroup {p['cgroup_path']} ({p['cgroup_attach']})"
        return f"sockmap {p['sockmap']} ({p['sk_skb_attach']})"

    def up_to_date(
        self,
        record: dict[str, Any] | None,
        sha: str,
        occupants: list[dict[str, Any]],
        pin_dir: str,
        ifindex: int | None,
    ) -> bool:
        p = self.p
        if not record or record.get("object_sha256") != sha or record.get("ifindex") != ifindex:
            return False
        if any(record.get(k) != v for k, v in self.desired().items()):
            return False
        if (record.get("reused_maps") or {}) != self.reused:
            return False
        info = prog_show_pinned(self.runner, os.path.join(pin_dir, "progs", p["program"]))
        if not info or info["id"] != record.get("prog_id"):
            return False
        if p["hook"] == "xdp":
            return any(
                o["id"] == info["id"] and o["mode"] == XDP_MODES[p["xdp_mode"]][1]
                for o in occupants
            )
        if p["hook"] == "tc":
            return any(o["id"] == info["id"] and o["pref"] == p["tc_priority"] for o in occupants)
        if p["hook"] == "cgroup":
            return any(o["id"] == info["id"] for o in occupants)
        return os.path.lexists(os.path.join(pin_dir, "maps", p["sockmap"]))

    def foreign_message(self, foreign: list[dict[str, Any]]) -> str:
        p = self.p
        owners = self.owners()
        parts = []
        for o in foreign:
            owner = owners.get(o["id"])
            who = (
                f"attached by this testbed from {owner}"
                if owner
                else "not attached from this pin_dir"
            )
            if p["hook"] == "cgroup":
                how = (
                    f"bpf_prog state=absent pin_dir={owner}"
                    if owner
                    else f"bpftool cgroup detach {p['cgroup_path']} "
                    f"{CGROUP_ATTACH[p['cgroup_attach']][0]} id {o['id']}"
                )
                parts.append(f"program {o['id']} ({o.get('name')}) is {who}; detach it with: {how}")
            elif p["hook"] == "xdp":
                flag = XDP_DETACH.get(o["mode"], "xdp")
                how = (
                    f"bpf_prog state=absent pin_dir={owner}"
                    if owner
                    else f"bpftool net detach {flag} dev {p['interface']}"
                )
                parts.append(
                    f"XDP program {o['id']} ({o['mode']} mode) is {who}; detach it with: {how}"
                )
            else:
                how = (
                    f"bpf_prog state=absent pin_dir={owner}"
                    if owner
                    else f"tc filter del dev {p['interface']} {p['tc_direction']} pref {o['pref']} "
                    f"handle {o['handle']} bpf"
                )
                parts.append(
                    f"TC {p['tc_direction']} filter pref {o['pref']} runs program {o['id']} "
                    f"({o.get('name')}), {who}; detach it with: {how}"
                )
        return (
            f"{self.where()} is already in use. "
            + "; ".join(parts)
            + ". Or set force: true to replace it."
        )

    def owners(self) -> dict[int, str]:
        """Program id -> pin_dir, from the records in state_dir."""
        out = {}
        for name in list_pins(self.p["state_dir"]):
            if name.endswith(".json"):
                rec = read_json(os.path.join(self.p["state_dir"], name)) or {}
                if rec.get("prog_id"):
                    out[rec["prog_id"]] = rec.get("pin_dir")
        return out

    def keep(self, record: dict[str, Any], pin_dir: str) -> dict[str, Any]:
        """Already attached: only reconcile map_values."""
        updates = self.write_map_values(pin_dir, apply=not self.check_mode)
        result = self.describe(pin_dir, record)
        result.update(
            changed=updates > 0,
            map_updates=updates,
            replaced=[],
            actions=[f"write {updates} map entries"] if updates else [],
        )
        return result

    def install(
        self,
        record: dict[str, Any] | None,
        sha: str,
        pin_dir: str,
        state_path: str,
        ifindex: int | None,
        occupants: list[dict[str, Any]],
        foreign: list[dict[str, Any]],
    ) -> dict[str, Any]:
        p = self.p
        staging = pin_dir + STAGING_SUFFIX
        remove_tree(staging)  # leftovers of an interrupted run
        os.makedirs(staging)
        actions: list[str] = []
        new_id: int | None = None
        created_qdisc = False
        final = staging
        try:
            self.load(staging)
            info = self.program_info(staging)
            new_id = info["id"]
            actions.append(
                f"loaded {p['object']} (program {p['program']}: id {new_id}, tag {info.get('tag')})"
            )
            updates = self.write_map_values(staging, apply=True)
            if updates:
                actions.append(f"wrote {updates} map entries")
            prog_path = os.path.join(staging, "progs", p["program"])
            if p["hook"] == "xdp":
                actions += self.hooks.attach_xdp(
                    prog_path, new_id, p["interface"], p["xdp_mode"], occupants
                )
            elif p["hook"] == "cgroup":
                actions += self.hooks.attach_cgroup(
                    prog_path, new_id, p["cgroup_path"], p["cgroup_attach"], foreign
                )
            elif p["hook"] == "tc":
                created_qdisc = self.hooks.ensure_clsact(p["interface"])
                actions += self.hooks.attach_tc(
                    prog_path,
                    new_id,
                    p["interface"],
                    p["tc_direction"],
                    p["tc_priority"],
                    occupants,
                )
            else:
                actions += self.hooks.attach_sk_skb(
                    prog_path, self.sockmap_path(staging), p["sk_skb_attach"]
                )
            if record:
                actions += self.detach_record(
                    record,
                    keep_qdisc_of=p["interface"] if p["hook"] == "tc" else None,
                    skip_id=new_id,
                )
            remove_tree(pin_dir)
            os.rename(staging, pin_dir)
            final = pin_dir
            kept_qdisc = bool(
                record
                and record.get("hook") == "tc"
                and record.get("interface") == p["interface"]
                and record.get("qdisc_created")
            )
            new_record = {
                **self.desired(),
                "pin_dir": pin_dir,
                "object": p["object"],
                "object_sha256": sha,
                "prog_id": new_id,
                "tag": info.get("tag"),
                "ifindex": ifindex,
                "tc_handle": TC_HANDLE if p["hook"] == "tc" else None,
                "qdisc_created": created_qdisc or kept_qdisc,
                "reused_maps": self.reused,
                "netns": self.netns,
                "attached_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            write_json(state_path, new_record)
        except Exception:
            self.rollback(new_id, created_qdisc, final, state_path if final == pin_dir else None)
            raise
        if created_qdisc:
            actions.insert(1, f"added a clsact qdisc to {p['interface']}")
        actions = [a.replace(staging, pin_dir) for a in actions]
        result = self.describe(pin_dir, new_record)
        result.update(
            changed=True, map_updates=updates, actions=actions, replaced=[o["id"] for o in foreign]
        )
        return result

    def load(self, staging: str) -> None:
        p = self.p
        rc, out, err = self.runner.run(
            [
                "bpftool",
                "prog",
                "loadall",
                p["object"],
                os.path.join(staging, "progs"),
                "pinmaps",
                os.path.join(staging, "maps"),
                *[
                    word
                    for name, path in sorted(p["reuse_maps"].items())
                    for word in ("map", "name", str(name), "pinned", path)
                ],
            ]
        )
        if rc == 0:
            return
        rejected, log = verifier_failure(err)
        if log:
            other = (
                ""
                if rejected in (None, p["program"])
                else (
                    f" (not the program to attach, {p['program']}: "
                    "bpftool loads every program of the object)"
                )
            )
            raise ModuleError(
                f"the verifier rejected program '{rejected}' of {p['object']}{other}. "
                f"Last lines of the verifier log:\n{log}",
                verifier_log=log,
                rejected_program=rejected,
                rc=rc,
                stderr=err,
            )
        hint = ""
        if "unable to find map" in err:
            hint = ". A map named in reuse_maps is not a map of the object"
        if "failed to guess program type" in err:
            hint = (
                '. libbpf 1.1 does not know one of the object\'s SEC() names; use SEC("xdp"), '
                'SEC("tc"), SEC("sk_skb/stream_verdict"), SEC("sk_skb/stream_parser") '
                'or SEC("sk_skb")'
            )
        raise ModuleError(
            f"loading {p['object']} failed: {tail(err or out, 8)}{hint}", rc=rc, stderr=err
        )

    def program_info(self, folder: str) -> dict[str, Any]:
        p = self.p
        info = prog_show_pinned(self.runner, os.path.join(folder, "progs", p["program"]))
        if info is None:
            names = ", ".join(list_pins(os.path.join(folder, "progs"))) or "none"
            raise ModuleError(
                f"{p['object']} has no program '{p['program']}' (its programs: {names})"
            )
        if p["hook"] == "cgroup":
            wanted = CGROUP_ATTACH[p["cgroup_attach"]][1]
            section = f'SEC("{wanted.replace("_", "")}")'
        else:
            wanted, section = PROG_TYPE_OF_HOOK[p["hook"]], SECTION_OF_HOOK[p["hook"]]
        if info.get("type") != wanted:
            raise ModuleError(
                f"program '{p['program']}' has type {info.get('type')}; hook {p['hook']} needs "
                f"type {wanted}, i.e. a program in {section}"
            )
        return info

    def sockmap_path(self, folder: str) -> str:
        path = os.path.join(folder, "maps", self.p["sockmap"])
        if not os.path.lexists(path):
            names = ", ".join(list_pins(os.path.join(folder, "maps"))) or "none"
            raise ModuleError(
                f"{self.p['object']} has no map '{self.p['sockmap']}' (its maps: {names})"
            )
        return path

    def map_pin(self, folder: str, name: str) -> str:
        pins = list_pins(os.path.join(folder, "maps"))
        if name in pins:
            return name
        if name.startswith("."):
            suffix = "_" + name[1:].replace(".", "_")
            matches = [pin for pin in pins if pin.endswith(suffix)]
            if len(matches) == 1:
                return matches[0]
        raise ModuleError(
            f"map_values names map '{name}', which {self.p['object']} does not have "
            f"(its maps: {', '.join(pins) or 'none'})"
        )

    def write_map_values(self, folder: str, apply: bool) -> int:
        cache = BtfCache(self.runner)
        count = 0
        for name, entries in self.p["map_values"].items():
            pin = self.map_pin(folder, str(name))
            bpf_map = BpfMap.open(
                self.runner, cache, "pinned", os.path.join(folder, "maps", pin), pin_name=pin
            )
            current = bpf_map.dump(self.runner)
            pairs = bpf_map.parse_entries(entries, f"map_values.{name}")
            updates = bpf_map.plan_updates(current, pairs, f"map_values.{name}")
            if apply:
                bpf_map.apply(self.runner, updates, [])
            count += len(updates)
        return count

    def describe(self, pin_dir: str, record: dict[str, Any]) -> dict[str, Any]:
        info = (
            prog_show_pinned(self.runner, os.path.join(pin_dir, "progs", record["program"])) or {}
        )
        maps = {}
        for pin in list_pins(os.path.join(pin_dir, "maps")):
            path = os.path.join(pin_dir, "maps", pin)
            shown = (
                self.runner.json(
                    ["bpftool", "-j", "map", "show", "pinned", path], f"reading map {path}"
                )
                or {}
            )
            maps[pin] = {"path": path, "id": shown.get("id"), "type": shown.get("type")}
        summary = prog_summary(info)
        return {
            **summary,
            "hook": record["hook"],
            "interface": record.get("interface"),
            "ifindex": record.get("ifindex"),
            "pin_dir": pin_dir,
            "maps": maps,
            "xdp_mode": record.get("xdp_mode"),
            "tc_direction": record.get("tc_direction"),
            "sk_skb_attach": record.get("sk_skb_attach"),
            "sockmap": record.get("sockmap"),
            "cgroup_path": record.get("cgroup_path"),
            "reused_maps": record.get("reused_maps") or {},
            "netns": self.netns.get("name"),
        }

    def rollback(
        self, new_id: int | None, created_qdisc: bool, folder: str, state_path: str | None
    ) -> None:
        """Undo a failed install: nothing new stays attached or pinned."""
        p = self.p
        try:
            if new_id is not None and p["hook"] == "xdp":
                self.hooks.detach_xdp(p["interface"], new_id)
            elif new_id is not None and p["hook"] == "tc":
                self.hooks.detach_tc(p["interface"], p["tc_direction"], new_id)
                if created_qdisc:
                    self.hooks.remove_clsact_if_unused(p["interface"])
            elif new_id is not None and p["hook"] == "cgroup":
                self.hooks.detach_cgroup(p["cgroup_path"], p["cgroup_attach"], new_id)
            elif new_id is not None and p["hook"] == "sk_skb":
                self.hooks.detach_sk_skb(
                    os.path.join(folder, "progs", p["program"]),
                    os.path.join(folder, "maps", p["sockmap"]),
                    p["sk_skb_attach"],
                )
        finally:
            remove_tree(folder)
            if state_path:
                remove_file(state_path)

    # --- absent ---

    def detach_record(
        self, record: dict[str, Any], keep_qdisc_of: str | None = None, skip_id: int | None = None
    ) -> list[str]:
        """Detach what `record` attached, if still attached; remove a clsact qdisc we added."""
        prog_id = record.get("prog_id")
        hook, interface = record.get("hook"), record.get("interface")
        if prog_id is None or prog_id == skip_id:
            return []
        if hook in ("xdp", "tc"):
            if self.hooks.interface_index(interface) != record.get("ifindex"):
                return []  # the interface is gone or was re-created: nothing of ours is attached
            if hook == "xdp":
                return self.hooks.detach_xdp(interface, prog_id)
            actions = self.hooks.detach_tc(
                interface, record.get("tc_direction", "ingress"), prog_id
            )
            if record.get("qdisc_created") and interface != keep_qdisc_of:
                actions += self.hooks.remove_clsact_if_unused(interface)
            return actions
        if hook == "cgroup":
            return self.hooks.detach_cgroup(
                record["cgroup_path"], record.get("cgroup_attach", "sock_ops"), prog_id
            )
        pin_dir = record["pin_dir"]
        return self.hooks.detach_sk_skb(
            os.path.join(pin_dir, "progs", record["program"]),
            os.path.join(pin_dir, "maps", record["sockmap"]),
            record.get("sk_skb_attach", "stream_verdict"),
        )

    def plan_absent(self, record: dict[str, Any] | None, pin_dir: str) -> list[str]:
        actions = []
        if record and record.get("prog_id") is not None:
            actions.append(f"detach program {record['prog_id']} from {record.get('hook')}")
        for folder in (pin_dir, pin_dir + STAGING_SUFFIX):
            if os.path.lexists(folder):
                actions.append(f"remove the pins in {folder}")
        if record:
            actions.append("remove the attachment record")
        return actions

    def orphan_detach(self, pin_dir: str) -> list[str]:
        """Without a record: detach from `interface` whatever runs a program pinned in pin_dir."""
        interface = self.p["interface"]
        if not interface or self.hooks.interface_index(interface) is None:
            return []
        ids = set()
        for pin in list_pins(os.path.join(pin_dir, "progs")):
            info = prog_show_pinned(self.runner, os.path.join(pin_dir, "progs", pin))
            if info:
                ids.add(info["id"])
        actions = []
        for prog_id in sorted(ids):
            actions += self.hooks.detach_xdp(interface, prog_id)
            for direction in ("ingress", "egress"):
                actions += self.hooks.detach_tc(interface, direction, prog_id)
        return actions

    def absent(self, pin_dir: str) -> dict[str, Any]:
        state_path = self.state_path(pin_dir)
        stored = read_json(state_path)
        record = self.check_netns(stored, pin_dir)
        for folder in (pin_dir, pin_dir + STAGING_SUFFIX):
            if os.path.lexists(folder):
                require_bpffs(folder)  # never remove a tree that does not hold pins
        planned = self.plan_absent(record, pin_dir)
        if stored and not record:
            planned.append("remove the record of an attachment whose namespace is gone")
        if not planned or self.check_mode:
            return {"changed": bool(planned), "pin_dir": pin_dir, "actions": planned}
        actions = self.detach_record(record) if record else self.orphan_detach(pin_dir)
        for folder in (pin_dir, pin_dir + STAGING_SUFFIX):
            if remove_tree(folder):
                actions.append(f"removed the pins in {folder}")
        if remove_file(state_path):
            actions.append("removed the attachment record")
        return {"changed": True, "pin_dir": pin_dir, "actions": actions}

    def absent_all(self) -> dict[str, Any]:
        removed, skipped, actions = [], [], []
        for name in list_pins(self.p["state_dir"]):
            if not name.endswith(".json"):
                continue
            record = read_json(os.path.join(self.p["state_dir"], name)) or {}
            pin_dir = record.get("pin_dir")
            if not pin_dir:
                continue
            inode = record.get("netns", {}).get("inode")
            if inode not in (None, self.netns["inode"]) and netns_alive(inode):
                skipped.append(pin_dir)
                continue
            result = self.absent(pin_dir)
            if result["changed"]:
                removed.append(pin_dir)
                actions += result["actions"]
        return {
            "changed": bool(removed),
            "removed": removed,
            "skipped_other_netns": skipped,
            "actions": actions,
            "pin_dir": None,
        }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {
                "type": "str",
                "choices": ["present", "absent", "absent_all"],
                "default": "present",
            },
            "object": {"type": "path"},
            "program": {"type": "str"},
            "hook": {"type": "str", "choices": ["xdp", "tc", "sk_skb", "cgroup"]},
            "interface": {"type": "str"},
            "xdp_mode": {"type": "str", "choices": ["native", "generic"], "default": "native"},
            "tc_direction": {"type": "str", "choices": ["ingress", "egress"], "default": "ingress"},
            "tc_priority": {"type": "int", "default": 1},
            "sk_skb_attach": {
                "type": "str",
                "choices": list(SK_SKB_ATTACH),
                "default": "stream_verdict",
            },
            "sockmap": {"type": "str"},
            "cgroup_path": {"type": "path"},
            "cgroup_attach": {"type": "str", "choices": list(CGROUP_ATTACH), "default": "sock_ops"},
            "reuse_maps": {"type": "dict", "default": {}},
            "pin_dir": {"type": "str"},
            "pin_root": {"type": "path", "default": "/run/ebpf-testbed/bpffs"},
            "state_dir": {"type": "path", "default": "/run/ebpf-testbed/state"},
            "map_values": {"type": "dict", "default": {}},
            "force": {"type": "bool", "default": False},
        },
        required_if=[
            ("state", "present", ("object", "program", "hook", "pin_dir")),
            ("state", "absent", ("pin_dir",)),
            ("hook", "xdp", ("interface",)),
            ("hook", "tc", ("interface",)),
            ("hook", "sk_skb", ("sockmap",)),
            ("hook", "cgroup", ("cgroup_path",)),
        ],
        supports_check_mode=True,
    )
    prog = BpfProg(module)
    try:
        state = module.params["state"]
        if state == "present":
            result = prog.present()
        elif state == "absent":
            result = prog.absent(prog.pin_dir_of(module.params["pin_dir"]))
        else:
            result = prog.absent_all()
    except ModuleError as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
