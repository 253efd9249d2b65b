#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: two network namespaces joined by a veth pair (the local testbed)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_veth
short_description: Create or delete two network namespaces joined by a veth pair
description:
  - Creates the local testbed with pyroute2. Each endpoint is a network namespace
    holding one end of a veth pair, with an address/prefix, optionally a MAC
    address and an MTU; both ends and the loopback of each namespace are set up.
  - Idempotent. Existing namespaces and a veth pair that already joins them are
    kept; only the address, MAC, MTU or link state that differ are changed.
  - An interface with an endpoint's name that is not the veth end joined to the
    other endpoint is never replaced; the module fails and says how to remove it.
  - With I(state=absent) both namespaces are deleted, which deletes the veth pair.
  - The input is checked (two endpoints, distinct names, valid CIDR addresses in one
    subnet, unicast MACs, MTU range) before anything is touched.
  - Runs on the host, outside the namespaces (the controller itself on the local testbed).
options:
  endpoints:
    description: The two ends, in order (the first is usually the DUT).
    type: list
    elements: dict
    required: true
    suboptions:
      netns:
        description: Network namespace name (as in C(ip netns list)).
        type: str
        required: true
      ifname:
        description: Name of the veth end inside that namespace (at most 15 characters).
        type: str
        required: true
      address:
        description:
          - Address with prefix length, e.g. C(192.168.1.1/24).
          - Required with I(state=present).
        type: str
      mac:
        description:
          - Unicast MAC address of the end, e.g. C(02:00:00:00:01:01).
          - Kept as it is when omitted.
        type: str
      mtu:
        description: MTU of the end. Kept as is when omitted.
        type: int
  state:
    description: Whether the testbed should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pyroute2 (0.9 or later)
author: ebpf-testbed developers
"""

EXAMPLES = r"""
- name: Create the local testbed
  netns_veth:
    endpoints:
      - {netns: dut, ifname: veth-dut, address: 192.168.1.1/24,
         mac: "02:00:00:00:01:01", mtu: 1500}
      - {netns: loadgen, ifname: veth-lg, address: 192.168.1.2/24,
         mac: "02:00:00:00:01:02", mtu: 1500}
  register: testbed

- name: Delete it
  netns_veth:
    state: absent
    endpoints:
      - {netns: dut, ifname: veth-dut}
      - {netns: loadgen, ifname: veth-lg}
"""

RETURN = r"""
endpoints:
  description: Each endpoint as it is now (as it would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - {netns: dut, ifname: veth-dut, ifindex: 2, mac: "02:00:00:00:01:01",
       address: 192.168.1.1/24, mtu: 1500}
actions:
  description: What was changed (or would be, in check mode).
  returned: always
  type: list
  elements: str
"""

import ipaddress
import re
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.testbed_common import ModuleError

try:
    from pyroute2 import IPRoute, netns
    from pyroute2.netlink.exceptions import NetlinkError
except ImportError:  # reported by main() with missing_required_lib
    IPRoute = netns = None

    class NetlinkError(Exception):  # type: ignore[no-redef]
        code = 0


IFF_UP = 0x1
MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
IFNAME_RE = re.compile(r"^[^/:\s]{1,15}$")
NETNS_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def validate(endpoints: list[dict[str, Any]], state: str) -> None:
    """Refuse bad input with a message naming the field, before anything changes."""
    if len(endpoints) != 2:
        raise ModuleError(f"endpoints must list exactly two ends, not {len(endpoints)}")
    for i, ep in enumerate(endpoints):
        where = f"endpoints[{i}]"
        if not NETNS_RE.match(ep["netns"]) or ep["netns"] in (".", ".."):
            raise ModuleError(
                f"{where}.netns '{ep['netns']}' is not a valid namespace name "
                "(letters, digits, '_', '-', '.')"
            )
        if not IFNAME_RE.match(ep["ifname"]):
            raise ModuleError(
                f"{where}.ifname '{ep['ifname']}' is not a valid interface name "
                "(1 to 15 characters, no '/', ':' or spaces)"
            )
        if state == "present":
            validate_settings(ep, where)
    if endpoints[0]["netns"] == endpoints[1]["netns"]:
        raise ModuleError(
            f"both endpoints are in namespace '{endpoints[0]['netns']}'; "
            "give each end its own namespace"
        )
    if state == "present":
        a, b = (ipaddress.ip_interface(ep["address"]) for ep in endpoints)
        if a.ip == b.ip:
            raise ModuleError(f"both endpoints have the address {a.ip}")
        if a.network != b.network:
            raise ModuleError(
                f"the endpoint addresses {a} and {b} are not in one subnet; "
                "give both the same network and prefix length"
            )
        macs = [ep["mac"].lower() for ep in endpoints if ep.get("mac")]
        if len(macs) == 2 and macs[0] == macs[1]:
            raise ModuleError(f"both endpoints have the MAC address {macs[0]}")


def validate_settings(ep: dict[str, Any], where: str) -> None:
    address = ep.get("address")
    if not address or "/" not in address:
        raise ModuleError(
            f"{where}.address must be an address with its prefix length, "
            f"e.g. 192.168.1.1/24 (got {address!r})"
        )
    try:
        iface = ipaddress.ip_interface(address)
    except ValueError as exc:
        raise ModuleError(
            f"{where}.address {address!r} is not a valid CIDR address: {exc}"
        ) from exc
    net = iface.network
    if (
        net.version == 4
        and net.prefixlen < 31
        and iface.ip in (net.network_address, net.broadcast_address)
    ):
        raise ModuleError(f"{where}.address {address} is the network or broadcast address of {net}")
    mac = ep.get("mac")
    if mac is not None:
        if not MAC_RE.match(mac):
            raise ModuleError(f"{where}.mac {mac!r} is not a MAC address like 02:00:00:00:01:01")
        first = int(mac[:2], 16)
        if first & 1 or mac.replace(":", "").strip("0") == "":
            raise ModuleError(
                f"{where}.mac {mac} is not a unicast address (the first byte must be even)"
            )
    mtu = ep.get("mtu")
    if mtu is not None and not 68 <= mtu <= 65535:
        raise ModuleError(f"{where}.mtu {mtu} is out of range (68 to 65535)")


def nl_error(what: str, exc: Exception) -> ModuleError:
    code = getattr(exc, "code", None)
    return ModuleError(f"{what} failed: {exc}" + (f" (errno {code})" if code else ""))


def link_kind(link: Any) -> str | None:
    info = link.get("IFLA_LINKINFO")
    return info.get("IFLA_INFO_KIND") if info else None


def find_link(ipr: Any, ifname: str) -> Any | None:
    for link in ipr.get_links():
        if link.get("IFLA_IFNAME") == ifname:
            return link
    return None


def planned_settings(ep: dict[str, Any]) -> list[str]:
    """What configure() would do on a veth end that check mode did not create."""
    where = f"{ep['netns']}/{ep['ifname']}"
    actions = [f"set MAC of {where} to {ep['mac']}"] if ep.get("mac") else []
    actions += [f"set MTU of {where} to {ep['mtu']}"] if ep.get("mtu") else []
    return [
        *actions,
        f"add {ep['address']} to {where}",
        f"set {where} up",
        f"set {ep['netns']}/lo up",
    ]


class Testbed:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.endpoints = module.params["endpoints"]
        self.check_mode = module.check_mode
        self.actions: list[str] = []

    def do(self, action: str, func: Any, *args: Any, **kwargs: Any) -> None:
        """Record an action and run it unless in check mode."""
        self.actions.append(action)
        if self.check_mode:
            return
        try:
            func(*args, **kwargs)
        except NetlinkError as exc:
            raise nl_error(action, exc) from exc

    def open(self, name: str) -> Any:
        try:
            return IPRoute(netns=name, flags=0)
        except (OSError, NetlinkError) as exc:
            raise nl_error(f"opening network namespace {name}", exc) from exc

    # --- present ---

    def present(self) -> dict[str, Any]:
        existing = set(netns.listnetns())
        a, b = self.endpoints
        links = {ep["netns"]: None for ep in self.endpoints}
        for ep in self.endpoints:
            if ep["netns"] in existing:
                with self.open(ep["netns"]) as ipr:
                    links[ep["netns"]] = find_link(ipr, ep["ifname"])
        self.check_pair(a, b, links[a["netns"]], links[b["netns"]])
        for ep in self.endpoints:
            if ep["netns"] not in existing:
                self.do(f"create network namespace {ep['netns']}", netns.create, ep["netns"])
        if links[a["netns"]] is None:
            self.create_pair(a, b)
        for ep in self.endpoints:
            if self.check_mode and links[ep["netns"]] is None:
                self.actions += planned_settings(ep)
            else:
                self.configure(ep)
        return self.report()

    def check_pair(self, a: dict[str, Any], b: dict[str, Any], link_a: Any, link_b: Any) -> None:
        """Both ends missing (create them) or both present and joined; anything else is refused."""
        if link_a is None and link_b is None:
            return
        for ep, link, other, other_link in ((a, link_a, b, link_b), (b, link_b, a, link_a)):
            if link is None:
                continue
            fix = (
                f"Remove it (ip -n {ep['netns']} link del {ep['ifname']}) or choose another "
                "ifname, then run again"
            )
            if link_kind(link) != "veth":
                raise ModuleError(
                    f"{ep['ifname']} in namespace {ep['netns']} exists but is a "
                    f"{link_kind(link) or 'non-veth'} interface, not a veth end. {fix}"
                )
            joined = (
                other_link is not None
                and link.get("IFLA_LINK") == other_link["index"]
                and other_link.get("IFLA_LINK") == link["index"]
                and link.get("IFLA_LINK_NETNSID") is not None
            )
            if not joined:
                raise ModuleError(
                    f"{ep['ifname']} in namespace {ep['netns']} is a veth end, but its "
                    f"peer is not {other['ifname']} in namespace {other['netns']}. {fix}"
                )

    def create_pair(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        def create() -> None:
            with self.open(a["netns"]) as ipr:
                ipr.link(
                    "add",
                    ifname=a["ifname"],
                    kind="veth",
                    peer={"ifname": b["ifname"], "net_ns_fd": b["netns"]},
                )

        self.do(f"create veth {a['netns']}/{a['ifname']} <-> {b['netns']}/{b['ifname']}", create)

    def configure(self, ep: dict[str, Any]) -> None:
        ns, name = ep["netns"], ep["ifname"]
        with self.open(ns) as ipr:
            link = find_link(ipr, name)
            if link is None:  # created in check mode only
                return
            index = link["index"]
            mac = ep.get("mac")
            if mac and (link.get("IFLA_ADDRESS") or "").lower() != mac.lower():
                self.do(
                    f"set MAC of {ns}/{name} to {mac}",
                    ipr.link,
                    "set",
                    index=index,
                    address=mac.lower(),
                )
            if ep.get("mtu") and link.get("IFLA_MTU") != ep["mtu"]:
                self.do(
                    f"set MTU of {ns}/{name} to {ep['mtu']}",
                    ipr.link,
                    "set",
                    index=index,
                    mtu=ep["mtu"],
                )
            self.ensure_address(ipr, ep, index)
            if not link["flags"] & IFF_UP:
                self.do(f"set {ns}/{name} up", ipr.link, "set", index=index, state="up")
            lo = find_link(ipr, "lo")
            if lo is not None and not lo["flags"] & IFF_UP:
                self.do(f"set {ns}/lo up", ipr.link, "set", index=lo["index"], state="up")

    def ensure_address(self, ipr: Any, ep: dict[str, Any], index: int) -> None:
        want = ipaddress.ip_interface(ep["address"])
        family = 2 if want.version == 4 else 10
        have = [
            (a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index, family=family)
        ]
        if (str(want.ip), want.network.prefixlen) in have:
            return
        for address, prefix in have:
            if address == str(want.ip):  # same address, other prefix length: replace it
                self.do(
                    f"remove {address}/{prefix} from {ep['netns']}/{ep['ifname']}",
                    ipr.addr,
                    "del",
                    index=index,
                    address=address,
                    prefixlen=prefix,
                )
        self.do(
            f"add {want} to {ep['netns']}/{ep['ifname']}",
            ipr.addr,
            "add",
            index=index,
            address=str(want.ip),
            prefixlen=want.network.prefixlen,
        )

    def report(self) -> dict[str, Any]:
        """Each endpoint as it is now; requested settings stand in for what check mode skipped."""
        out = []
        existing = set(netns.listnetns())
        for ep in self.endpoints:
            link = None
            if ep["netns"] in existing:
                with self.open(ep["netns"]) as ipr:
                    link = find_link(ipr, ep["ifname"])
            out.append(
                {
                    "netns": ep["netns"],
                    "ifname": ep["ifname"],
                    "ifindex": link["index"] if link is not None else None,
                    "mac": ep.get("mac")
                    or (link.get("IFLA_ADDRESS") if link is not None else None),
                    "address": ep.get("address"),
                    "mtu": ep.get("mtu") or (link.get("IFLA_MTU") if link is not None else None),
                }
            )
        return {"changed": bool(self.actions), "endpoints": out, "actions": self.actions}

    # --- absent ---

    def absent(self) -> dict[str, Any]:
        existing = set(netns.listnetns())
        busy = {}
        for ep in self.endpoints:
            if ep["netns"] in existing:
                pids = netns.ns_pids().get(ep["netns"], [])
                if pids:
                    busy[ep["netns"]] = pids
                self.do(f"delete network namespace {ep['netns']}", netns.remove, ep["netns"])
        for name, pids in busy.items():
            self.module.warn(
                f"processes {pids} still run in namespace {name}; it (and its veth end) "
                "lives on until they exit. Stop them first (bpf_prog/testbed_daemon cleanup)"
            )
        out = [
            {
                "netns": ep["netns"],
                "ifname": ep["ifname"],
                "ifindex": None,
                "mac": None,
                "address": None,
                "mtu": None,
            }
            for ep in self.endpoints
        ]
        return {"changed": bool(self.actions), "endpoints": out, "actions": self.actions}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "endpoints": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "netns": {"type": "str", "required": True},
                    "ifname": {"type": "str", "required": True},
                    "address": {"type": "str"},
                    "mac": {"type": "str"},
                    "mtu": {"type": "int"},
                },
            },
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=True,
    )
    if IPRoute is None:
        module.fail_json(msg=missing_required_lib("pyroute2"))
    try:
        validate(module.params["endpoints"], module.params["state"])
        testbed = Testbed(module)
        result = testbed.present() if module.params["state"] == "present" else testbed.absent()
    except ModuleError as exc:
        exc.fail(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
