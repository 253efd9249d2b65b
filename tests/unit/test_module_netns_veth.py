"""netns_veth and netdev_features: pyroute2 and ethtool answered from captured outputs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import fixture_json, fixture_result, load_library

LINKS = fixture_json("pyroute2/tc_a_links.json")
ADDRS = fixture_json("pyroute2/tc_a_addrs.json")
IFF_UP = 1


class FakeMsg:
    """Reads a captured pyroute2 message dump the way the module reads real messages."""

    def __init__(self, dump: dict[str, Any]) -> None:
        self.dump = dump

    def __getitem__(self, key: str) -> Any:
        return self.dump[key]

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.dump and key != "attrs":
            return self.dump[key]
        for name, value in self.dump.get("attrs", []):
            if name == key:
                return FakeMsg(value) if isinstance(value, dict) and "attrs" in value else value
        return default


def set_attr(dump: dict[str, Any], name: str, value: Any) -> None:
    dump["attrs"] = [a for a in dump["attrs"] if a[0] != name] + [[name, value]]


class FakeKernel:
    """Namespaces, links and addresses, changed through a fake IPRoute and netns module."""

    def __init__(self) -> None:
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.ops: list[str] = []
        self.pids: dict[str, list[int]] = {}
        self.next_index = 20

    # netns module
    def listnetns(self) -> list[str]:
        return list(self.namespaces)

    def create(self, name: str) -> None:
        self.ops.append(f"create {name}")
        lo = copy.deepcopy(LINKS[0])
        lo["flags"] &= ~IFF_UP
        self.namespaces[name] = {"links": {"lo": lo}, "addrs": []}

    def remove(self, name: str) -> None:
        self.ops.append(f"remove {name}")
        del self.namespaces[name]

    def ns_pids(self) -> dict[str, list[int]]:
        return self.pids

    def iproute(self, netns: str, flags: int = 0) -> FakeIPRoute:
        assert netns in self.namespaces, f"IPRoute opened on missing namespace {netns}"
        return FakeIPRoute(self, netns)


class FakeIPRoute:
    def __init__(self, kernel: FakeKernel, netns: str) -> None:
        self.kernel, self.ns = kernel, kernel.namespaces[netns]
        self.name = netns

    def __enter__(self) -> FakeIPRoute:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def get_links(self) -> list[FakeMsg]:
        return [FakeMsg(d) for d in self.ns["links"].values()]

    def by_index(self, index: int) -> dict[str, Any]:
        return next(d for d in self.ns["links"].values() if d["index"] == index)

    def link(self, command: str, **kw: Any) -> None:
        self.kernel.ops.append(f"{self.name}: link {command} {sorted(kw)}")
        if command == "add":
            peer_ns = self.kernel.namespaces[kw["peer"]["net_ns_fd"]]
            a, b = copy.deepcopy(LINKS[1]), copy.deepcopy(LINKS[1])
            a["index"], b["index"] = self.kernel.next_index, self.kernel.next_index + 1
            self.kernel.next_index += 2
            for d, name, other in ((a, kw["ifname"], b), (b, kw["peer"]["ifname"], a)):
                d["flags"] &= ~IFF_UP
                set_attr(d, "IFLA_IFNAME", name)
                set_attr(d, "IFLA_LINK", other["index"])
            self.ns["links"][kw["ifname"]] = a
            peer_ns["links"][kw["peer"]["ifname"]] = b
            return
        d = self.by_index(kw["index"])
        if "address" in kw:
            set_attr(d, "IFLA_ADDRESS", kw["address"])
        if "mtu" in kw:
            set_attr(d, "IFLA_MTU", kw["mtu"])
        if kw.get("state") == "up":
            d["flags"] |= IFF_UP

    def get_addr(self, index: int, family: int) -> list[FakeMsg]:
        return [
            FakeMsg(a) for a in self.ns["addrs"] if a["index"] == index and a["family"] == family
        ]

    def addr(self, command: str, index: int, address: str, prefixlen: int) -> None:
        self.kernel.ops.append(f"{self.name}: addr {command} {address}/{prefixlen}")
        if command == "add":
            a = copy.deepcopy(ADDRS[1])
            a.update(index=index, prefixlen=prefixlen, family=10 if ":" in address else 2)
            set_attr(a, "IFA_ADDRESS", address)
            self.ns["addrs"].append(a)
        else:
            self.ns["addrs"] = [
                a
                for a in self.ns["addrs"]
                if not (a["index"] == index and FakeMsg(a).get("IFA_ADDRESS") == address)
            ]


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    fake = FakeKernel()
    module = load_library("netns_veth")
    monkeypatch.setattr(module, "netns", fake)
    monkeypatch.setattr(module, "IPRoute", fake.iproute)
    return fake


def endpoints(**change: Any) -> list[dict[str, Any]]:
    eps = [
        {
            "netns": "tc_a",
            "ifname": "va",
            "address": "10.99.0.1/24",
            "mac": "02:00:00:00:00:0a",
            "mtu": 1500,
        },
        {
            "netns": "tc_b",
            "ifname": "vb",
            "address": "10.99.0.2/24",
            "mac": "02:00:00:00:00:0b",
            "mtu": 1500,
        },
    ]
    for key, value in change.items():
        index, field = key.split("_", 1)
        eps[int(index[1:])][field] = value
    return eps


def test_creates_the_pair_then_is_unchanged(run_module, kernel):
    first = run_module("netns_veth", {"endpoints": endpoints()})
    assert first["changed"] is True, first
    assert kernel.ops[:2] == ["create tc_a", "create tc_b"]
    assert (
        "tc_a: addr add 10.99.0.1/24" in kernel.ops and "tc_b: addr add 10.99.0.2/24" in kernel.ops
    )
    a, b = first["endpoints"]
    assert (a["netns"], a["ifname"], a["mac"], a["address"], a["mtu"]) == (
        "tc_a",
        "va",
        "02:00:00:00:00:0a",
        "10.99.0.1/24",
        1500,
    )
    assert isinstance(a["ifindex"], int) and isinstance(b["ifindex"], int)
    assert kernel.namespaces["tc_a"]["links"]["lo"]["flags"] & IFF_UP
    kernel.ops.clear()
    second = run_module("netns_veth", {"endpoints": endpoints()})
    assert second["changed"] is False and second["actions"] == [] and kernel.ops == []
    assert second["endpoints"] == first["endpoints"]


def test_only_what_differs_is_changed(run_module, kernel):
    run_module("netns_veth", {"endpoints": endpoints()})
    kernel.ops.clear()
    result = run_module(
        "netns_veth", {"endpoints": endpoints(e0_mtu=1400, e1_address="10.99.0.3/24")}
    )
    assert result["changed"] is True
    assert result["actions"] == ["set MTU of tc_a/va to 1400", "add 10.99.0.3/24 to tc_b/vb"]


def test_check_mode_creates_nothing(run_module, kernel):
    result = run_module("netns_veth", {"endpoints": endpoints()}, check_mode=True)
    assert result["changed"] is True
    assert "create veth tc_a/va <-> tc_b/vb" in result["actions"]
    assert kernel.ops == [] and kernel.namespaces == {}


def test_absent_removes_both_namespaces_then_is_unchanged(run_module, kernel):
    run_module("netns_veth", {"endpoints": endpoints()})
    kernel.ops.clear()
    bare = [{"netns": "tc_a", "ifname": "va"}, {"netns": "tc_b", "ifname": "vb"}]
    result = run_module("netns_veth", {"endpoints": bare, "state": "absent"})
    assert result["changed"] is True and kernel.ops == ["remove tc_a", "remove tc_b"]
    assert run_module("netns_veth", {"endpoints": bare, "state": "absent"})["changed"] is False


def test_absent_warns_about_processes_left_in_a_namespace(run_module, kernel):
    run_module("netns_veth", {"endpoints": endpoints()})
    kernel.pids = {"tc_a": [4321]}
    result = run_module("netns_veth", {"endpoints": endpoints(), "state": "absent"})
    assert "processes [4321] still run in namespace tc_a" in str(result["warnings"])


def test_an_interface_that_is_not_our_veth_end_is_refused(run_module, kernel):
    kernel.create("tc_a")
    kernel.namespaces["tc_a"]["links"]["va"] = copy.deepcopy(LINKS[1])
    set_attr(kernel.namespaces["tc_a"]["links"]["va"], "IFLA_IFNAME", "va")
    kernel.ops.clear()
    result = run_module("netns_veth", {"endpoints": endpoints()})
    assert result["failed"] is True
    assert (
        "its peer is not vb in namespace tc_b" in result["msg"]
        and "ip -n tc_a link del va" in result["msg"]
    )
    assert kernel.ops == []


@pytest.mark.parametrize(
    ("eps", "message"),
    [
        (endpoints()[:1], "exactly two ends, not 1"),
        (endpoints(e1_netns="tc_a"), "both endpoints are in namespace 'tc_a'"),
        (endpoints(e0_address="10.99.0.1"), "with its prefix length"),
        (endpoints(e0_address="10.99.0.300/24"), "not a valid CIDR address"),
        (endpoints(e1_address="10.98.0.2/24"), "not in one subnet"),
        (endpoints(e1_address="10.99.0.1/24"), "both endpoints have the address 10.99.0.1"),
        (endpoints(e0_address="10.99.0.255/24"), "network or broadcast address"),
        (endpoints(e0_mac="01:00:5e:00:00:01"), "not a unicast address"),
        (endpoints(e0_mac="02:00:00:00:00"), "is not a MAC address"),
        (endpoints(e1_mac="02:00:00:00:00:0a"), "both endpoints have the MAC address"),
        (endpoints(e0_mtu=20), "out of range (68 to 65535)"),
        (endpoints(e0_ifname="a-very-long-interface"), "not a valid interface name"),
        (endpoints(e1_netns="bad/name"), "not a valid namespace name"),
    ],
)
def test_bad_input_is_refused_before_anything_changes(run_module, kernel, eps, message):
    result = run_module("netns_veth", {"endpoints": eps})
    assert result["failed"] is True
    assert message in result["msg"]
    assert kernel.ops == [] and kernel.namespaces == {}


# --- netdev_features ---


def test_gro_on_records_the_previous_state(run_module, runner):
    states = iter(["ethtool/features_va.txt", "ethtool/features_va_gro_on.txt"])
    runner.on("ethtool", "-k", "va", handler=lambda argv, data: fixture_result(next(states)))
    runner.on("ethtool", "-K", "va", fixture="ethtool/set_gro_on.out")
    result = run_module("netdev_features", {"interface": "va", "features": {"gro": True}})
    assert result["changed"] is True
    assert result["previous"] == {"gro": False} and result["current"] == {"gro": True}
    assert runner.ran("ethtool", "-K") == [["ethtool", "-K", "va", "generic-receive-offload", "on"]]


def test_features_already_set_are_unchanged(run_module, runner):
    runner.on("ethtool", "-k", "va", fixture="ethtool/features_va_gro_on.txt")
    result = run_module(
        "netdev_features", {"interface": "va", "features": {"generic-receive-offload": "on"}}
    )
    assert result["changed"] is False and result["previous"] == {"generic-receive-offload": True}
    assert not runner.ran("ethtool", "-K")


def test_check_mode_does_not_run_ethtool_K(run_module, runner):
    runner.on("ethtool", "-k", "va", fixture="ethtool/features_va.txt")
    result = run_module(
        "netdev_features", {"interface": "va", "features": {"gro": True}}, check_mode=True
    )
    assert result["changed"] is True and result["current"] == {"gro": True}
    assert not runner.ran("ethtool", "-K")


def test_fixed_unknown_and_refused_features_fail_clearly(run_module, runner):
    runner.on("ethtool", "-k", "va", fixture="ethtool/features_va.txt")
    result = run_module("netdev_features", {"interface": "va", "features": {"lro": True}})
    assert result["failed"] is True and "fixed (off) by its driver" in result["msg"]
    result = run_module("netdev_features", {"interface": "va", "features": {"warp-drive": True}})
    assert result["failed"] is True and "has no feature 'warp-drive'" in result["msg"]
    runner.on("ethtool", "-K", "va", fixture="ethtool/set_unknown.out")
    result = run_module("netdev_features", {"interface": "va", "features": {"gso": False}})
    assert (
        result["failed"] is True and "could not set generic-segmentation-offload" in result["msg"]
    )
    runner.on("ethtool", "-k", "eth9", fixture="ethtool/features_missing.out")
    result = run_module("netdev_features", {"interface": "eth9", "features": {"gro": True}})
    assert result["failed"] is True and "No such device" in result["msg"]
