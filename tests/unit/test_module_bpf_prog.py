"""bpf_prog: load, configure, attach, detach, with bpftool/ip/tc answered from captured outputs.

`FakeHost` keeps what the kernel would keep (pins, attachments, map contents) and
answers each command with the real output captured on this kernel
(tests/fixtures/modules/capture.sh), with ids and names filled in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeRunner, fixture_json, fixture_result, fixture_text

CAPTURE_BPFFS = "/tmp/ebpf-fixture-capture/bpffs"
OBJECTS = {
    "hooks": {
        "progs": {"xdp_pass": "xdp", "tc_pass": "sched_cls"},
        "maps": ["echo_config", "counters"],
    },
    "sk_skb": {
        "progs": {
            "skb_stream_verdict": "sk_skb",
            "skb_stream_parser": "sk_skb",
            "skb_verdict": "sk_skb",
        },
        "maps": ["sock_map"],
    },
    "sockops": {"progs": {"sockops_fill": "sock_ops"}, "maps": ["sock_map"]},
}
PROG_TEMPLATES = {
    "xdp": "prog_show_xdp_pass.json",
    "sched_cls": "prog_show_tc_pass.json",
    "sk_skb": "prog_show_skb_stream_verdict.json",
    "sock_ops": "prog_show_sockops_fill.json",
}


def dump_hex(data: bytes) -> list[str]:
    return [f"0x{b:02x}" for b in data]


class FakeHost:
    """A veth `va` in a namespace, a bpffs in tmp_path, and the kernel objects on them."""

    def __init__(self, tmp_path: Path, runner: FakeRunner) -> None:
        self.link = fixture_json("ip/link_show_va.json")[0]
        self.ifindex = self.link["ifindex"]
        self.xdp: list[dict[str, Any]] = []  # {"id", "mode"}
        self.clsact = False
        self.filters: dict[str, list[dict[str, Any]]] = {"ingress": [], "egress": []}
        self.sockmap_progs: dict[str, dict[str, str]] = {}
        self.cgroups: dict[str, list[dict[str, Any]]] = {}  # path -> attached sock_ops programs
        self.maps: dict[int, dict[bytes, bytes]] = {}
        self.next_id = 500
        self.runner = runner
        for prefix, handler in (
            (("ip", "-j", "link", "show"), self.ip_link),
            (("bpftool", "prog", "loadall"), self.loadall),
            (("bpftool", "-j", "prog", "show", "pinned"), self.prog_show),
            (("bpftool", "-j", "prog", "show", "id"), self.prog_show_id),
            (("bpftool", "-j", "map", "show", "pinned"), self.map_show),
            (
                ("bpftool", "-j", "btf", "dump", "id"),
                lambda a, d: (0, fixture_text("bpftool/btf_dump_hooks.json"), ""),
            ),
            (("bpftool", "-j", "map", "dump", "id"), self.map_dump),
            (("bpftool", "-j", "batch", "file", "-"), self.batch),
            (("bpftool", "-j", "net", "show", "dev"), self.net_show),
            (("bpftool", "net", "attach"), self.net_attach),
            (("bpftool", "net", "detach"), self.net_detach),
            (("bpftool", "prog", "attach"), self.sk_attach),
            (("bpftool", "prog", "detach"), self.sk_detach),
            (("tc", "-j", "qdisc", "show"), self.qdisc_show),
            (("tc", "qdisc"), self.qdisc_change),
            (("tc", "-j", "filter", "show"), self.filter_show),
            (("tc", "filter"), self.filter_change),
            (("bpftool", "-j", "cgroup", "show"), self.cgroup_show),
            (("bpftool", "cgroup", "attach"), self.cgroup_attach),
            (("bpftool", "cgroup", "detach"), self.cgroup_detach),
        ):
            runner.on(*prefix, handler=handler)

    # --- pins: regular files holding the object's identity ---

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    @staticmethod
    def pin(path: str) -> dict[str, Any] | None:
        try:
            return json.loads(Path(path).read_text())
        except FileNotFoundError:
            return None

    def missing(self, kind: str, path: str) -> tuple[int, str, str]:
        rc, out, err = fixture_result(f"bpftool/{kind}_show_missing.json")
        return rc, out.replace(f"{CAPTURE_BPFFS}/fixture/{kind}s/missing", path), err

    def loadall(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        obj, progs, maps = argv[3], argv[4], argv[6]
        name = Path(obj).name.split(".")[0]
        if name == "verifier_reject":
            return fixture_result("bpftool/loadall_verifier_reject.out")
        # "map name NAME pinned PATH" after pinmaps: maps taken from pins
        words = argv[7:]
        reused = {words[i + 2]: words[i + 4] for i in range(0, len(words), 5)}
        if set(reused) - set(OBJECTS[name]["maps"]):
            return fixture_result("bpftool/loadall_reuse_unknown_map.out")
        os.makedirs(progs)
        os.makedirs(maps)
        for prog, ptype in OBJECTS[name]["progs"].items():
            Path(progs, prog).write_text(
                json.dumps({"id": self.new_id(), "name": prog, "type": ptype})
            )
        for m in OBJECTS[name]["maps"]:
            if m in reused:
                Path(maps, m).write_text(Path(reused[m]).read_text())
                continue
            map_id = self.new_id()
            Path(maps, m).write_text(json.dumps({"id": map_id, "name": m}))
            self.maps[map_id] = {bytes(4): bytes(16)} if m == "echo_config" else {}
        return fixture_result(
            "bpftool/loadall_reuse_sock_map.out" if reused else "bpftool/loadall_hooks.out"
        )

    def prog_show(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        pin = self.pin(argv[5])
        if pin is None:
            return self.missing("prog", argv[5])
        info = fixture_json(f"bpftool/{PROG_TEMPLATES[pin['type']]}")
        info.update(id=pin["id"], name=pin["name"])
        return 0, json.dumps(info), ""

    def prog_show_id(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        info = fixture_json("bpftool/prog_show_other_xdp_pass.json")
        info["id"] = int(argv[5])
        return 0, json.dumps(info), ""

    def map_show(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        pin = self.pin(argv[5])
        if pin is None:
            return self.missing("map", argv[5])
        info = fixture_json(f"bpftool/map_show_{pin['name']}.json")
        info["id"] = pin["id"]
        return 0, json.dumps(info), ""

    def map_dump(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        entries = self.maps[int(argv[5])]
        return (
            0,
            json.dumps([{"key": dump_hex(k), "value": dump_hex(v)} for k, v in entries.items()]),
            "",
        )

    def batch(self, argv: list[str], data: str | None) -> tuple[int, str, str]:
        results = []
        for line in (data or "").splitlines():
            words = line.split()
            map_id = int(words[3])
            key_end = words.index("value") if "value" in words else len(words)
            key = bytes(int(x, 16) for x in words[6:key_end])
            if words[1] == "update":
                self.maps[map_id][key] = bytes(int(x, 16) for x in words[key_end + 2 :])
            else:
                del self.maps[map_id][key]
            results.append({"command": words, "output": None})
        return 0, json.dumps(results), ""

    # --- links and XDP ---

    def ip_link(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        if len(argv) == 4:
            return 0, json.dumps([self.link]), ""
        if argv[5] != "va":
            rc, out, err = fixture_result("ip/link_show_missing.out")
            return rc, out, err.replace("nosuchdev", argv[5])
        return 0, json.dumps([self.link]), ""

    def net_show(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        shown = fixture_json("bpftool/net_show_empty.json")
        shown[0]["xdp"] = [
            {"devname": "va", "ifindex": self.ifindex, "mode": e["mode"], "id": e["id"]}
            for e in self.xdp
        ]
        shown[0]["tc"] = [
            {
                "devname": "va",
                "ifindex": self.ifindex,
                "kind": f"clsact/{d}",
                "name": f"{f['name']}:[*fsobj]",
                "id": f["id"],
            }
            for d in ("ingress", "egress")
            for f in self.filters[d]
        ]
        return 0, json.dumps(shown), ""

    def net_attach(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        flag, path, dev = argv[3], argv[5], argv[7]
        mode = "driver" if flag == "xdp" else "generic"
        if dev != "va":
            return fixture_result("bpftool/net_attach_xdp_no_dev.out")
        pin = self.pin(path)
        if pin["type"] != "xdp":
            return fixture_result("bpftool/net_attach_xdp_wrong_type.out")
        if any(e["mode"] != mode for e in self.xdp):
            return fixture_result("bpftool/net_attach_xdp_other_mode.out")
        if self.xdp and "overwrite" not in argv:
            return fixture_result("bpftool/net_attach_xdp_busy.out")
        self.xdp = [{"id": pin["id"], "mode": mode}]
        return fixture_result("bpftool/net_attach_xdp.out")

    def net_detach(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        mode = {"xdp": "driver", "xdpgeneric": "generic"}[argv[3]]
        self.xdp = [e for e in self.xdp if e["mode"] != mode]
        return fixture_result("bpftool/net_detach_xdp.out")

    # --- sk_skb ---

    def sk_attach(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        prog, kind, sockmap = argv[4], argv[5], argv[7]
        attached = self.sockmap_progs.setdefault(sockmap, {})
        verdicts = {"sk_skb_stream_verdict", "sk_skb_verdict"}
        if kind in verdicts and verdicts - {kind} & attached.keys():
            return fixture_result("bpftool/prog_attach_verdict_busy.out")
        attached[kind] = prog
        return fixture_result("bpftool/prog_attach_stream_verdict.out")

    def sk_detach(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        attached = self.sockmap_progs.get(argv[7], {})
        if attached.pop(argv[5], None) is None:
            return fixture_result("bpftool/prog_detach_missing.out")
        return fixture_result("bpftool/prog_detach_stream_verdict.out")

    # --- cgroup ---

    def cgroup_show(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        path = argv[4]
        if not os.path.isdir(path):
            rc, out, err = fixture_result("bpftool/cgroup_show_missing.out")
            return rc, out.replace("/tmp/ebpf-fixture-capture/cgroup2/missing", path), err
        attached = self.cgroups.get(path, [])
        if not attached:
            return 0, fixture_text("bpftool/cgroup_show_empty.json"), ""
        entry = fixture_json("bpftool/cgroup_show_sock_ops.json")[0]
        return 0, json.dumps([dict(entry, id=e["id"], name=e["name"]) for e in attached]), ""

    def cgroup_attach(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        path, pin = argv[3], self.pin(argv[6])
        # no flags: exclusive, replaces what is there
        self.cgroups[path] = [{"id": pin["id"], "name": pin["name"]}]
        return fixture_result("bpftool/cgroup_attach_sock_ops.out")

    def cgroup_detach(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        path, prog_id = argv[3], int(argv[6])
        attached = self.cgroups.get(path, [])
        if not any(e["id"] == prog_id for e in attached):
            return fixture_result("bpftool/cgroup_detach_missing.out")
        self.cgroups[path] = [e for e in attached if e["id"] != prog_id]
        return fixture_result("bpftool/cgroup_detach_sock_ops.out")

    # --- tc ---

    def qdisc_show(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        name = "qdisc_show_clsact.json" if self.clsact else "qdisc_show_noqueue.json"
        return 0, fixture_text(f"tc/{name}"), ""

    def qdisc_change(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        self.clsact = argv[2] == "add"
        if not self.clsact:
            self.filters = {"ingress": [], "egress": []}
        return 0, "", ""

    def filter_show(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        if not self.clsact:
            return 0, fixture_text("tc/filter_show_no_clsact.json"), ""
        header, entry = fixture_json("tc/filter_show_ingress.json")
        out = []
        for f in self.filters[argv[6]]:
            h = dict(header, pref=f["pref"])
            e = json.loads(json.dumps(entry))
            e["pref"] = f["pref"]
            e["options"]["handle"] = f["handle"]
            e["options"]["prog"].update(id=f["id"], name=f["name"])
            out += [h, e]
        return 0, json.dumps(out), ""

    def filter_change(self, argv: list[str], data: Any) -> tuple[int, str, str]:
        verb, direction = argv[2], argv[5]
        pref, handle = int(argv[7]), argv[9]
        same = [f for f in self.filters[direction] if f["pref"] == pref and f["handle"] == handle]
        if verb == "del":
            if not same:
                return fixture_result("tc/filter_del_missing.out")
            self.filters[direction].remove(same[0])
            return 0, "", ""
        if verb == "add" and same:
            return fixture_result("tc/filter_add_exists.out")
        pin = self.pin(argv[-1])
        for f in same:
            self.filters[direction].remove(f)
        self.filters[direction].append(
            {"pref": pref, "handle": handle, "id": pin["id"], "name": pin["name"]}
        )
        return 0, "", ""


@pytest.fixture
def host(tmp_path: Path, runner: FakeRunner, monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    bpffs = tmp_path / "bpffs"
    bpffs.mkdir()
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(fixture_text("proc/mountinfo.txt").replace(CAPTURE_BPFFS, str(bpffs)))
    from ansible.module_utils import bpf_common

    monkeypatch.setattr(bpf_common, "MOUNTINFO", str(mountinfo))
    for name in ("hooks", "sk_skb", "sockops", "verifier_reject"):
        (tmp_path / f"{name}.bpf.o").write_bytes(f"ELF {name}".encode())
    return FakeHost(tmp_path, runner)


@pytest.fixture
def args(tmp_path: Path) -> dict[str, Any]:
    return {
        "object": str(tmp_path / "hooks.bpf.o"),
        "program": "xdp_pass",
        "hook": "xdp",
        "interface": "va",
        "pin_dir": "fig3_echo_xdp",
        "pin_root": str(tmp_path / "bpffs"),
        "state_dir": str(tmp_path / "state"),
        "map_values": {"echo_config": {"0": {"port": 8080, "ifindex": 7}}},
    }


def mutating(runner: FakeRunner) -> list[list[str]]:
    """Commands that change the kernel's state."""
    changes = []
    for call in runner.calls:
        words = " ".join(call)
        if any(
            w in words
            for w in (
                "loadall",
                "attach",
                "detach",
                "batch",
                "qdisc add",
                "qdisc del",
                "filter add",
                "filter replace",
                "filter del",
                "cgroup attach",
                "cgroup detach",
            )
        ):
            changes.append(call)
    return changes


def test_fresh_xdp_attach_configures_maps_before_attach(run_module, runner, host, args, tmp_path):
    result = run_module("bpf_prog", args)
    assert result["changed"] is True, result
    assert (
        result["hook"] == "xdp"
        and result["interface"] == "va"
        and result["ifindex"] == host.ifindex
    )
    assert host.xdp == [{"id": result["prog_id"], "mode": "driver"}]
    assert result["tag"] == fixture_json("bpftool/prog_show_xdp_pass.json")["tag"]
    assert result["jited_bytes"] == fixture_json("bpftool/prog_show_xdp_pass.json")["bytes_jited"]
    pin_dir = tmp_path / "bpffs" / "fig3_echo_xdp"
    assert result["pin_dir"] == str(pin_dir)
    assert result["maps"]["echo_config"]["path"] == str(pin_dir / "maps" / "echo_config")
    assert sorted(p.name for p in (pin_dir / "progs").iterdir()) == ["tc_pass", "xdp_pass"]
    assert not (tmp_path / "bpffs" / "fig3_echo_xdp__loading").exists()
    # port 8080 = 0x1f90 and ifindex 7, little-endian, at the BTF offsets of struct echo_config
    echo_id = result["maps"]["echo_config"]["id"]
    assert host.maps[echo_id][bytes(4)] == bytes.fromhex("901f0000070000000000000000000000")
    order = [" ".join(c[:3]) for c in mutating(runner)]
    assert order.index("bpftool -j batch") < order.index("bpftool net attach")
    record = json.loads((tmp_path / "state" / "fig3_echo_xdp.json").read_text())
    assert record["prog_id"] == result["prog_id"] and record["hook"] == "xdp"


def test_second_run_is_unchanged_and_loads_nothing(run_module, runner, host, args):
    first = run_module("bpf_prog", args)
    runner.calls.clear()
    second = run_module("bpf_prog", args)
    assert second["changed"] is False, second
    assert second["prog_id"] == first["prog_id"]
    assert mutating(runner) == []


def test_changed_map_values_are_written_without_reload(run_module, runner, host, args):
    first = run_module("bpf_prog", args)
    runner.calls.clear()
    args["map_values"] = {"echo_config": {"0": {"port": 9090}}}
    second = run_module("bpf_prog", args)
    assert second["changed"] is True and second["map_updates"] == 1
    assert second["prog_id"] == first["prog_id"]
    assert not runner.ran("bpftool", "prog", "loadall")
    value = host.maps[second["maps"]["echo_config"]["id"]][bytes(4)]
    assert value[:8] == bytes.fromhex("8223000007000000")  # port 9090 now, ifindex kept


def test_foreign_xdp_program_is_refused_with_a_way_out(run_module, runner, host, args, tmp_path):
    host.xdp = [{"id": 4242, "mode": "driver"}]
    result = run_module("bpf_prog", args)
    assert result["failed"] is True
    assert "4242" in result["msg"] and "bpftool net detach xdp dev va" in result["msg"]
    assert "force" in result["msg"]
    assert mutating(runner) == []
    assert not (tmp_path / "bpffs" / "fig3_echo_xdp").exists()


def test_force_replaces_a_foreign_program_atomically(run_module, runner, host, args):
    host.xdp = [{"id": 4242, "mode": "driver"}]
    result = run_module("bpf_prog", dict(args, force=True))
    assert result["changed"] is True and result["replaced"] == [4242]
    assert runner.ran("bpftool", "net", "attach")[0][-1] == "overwrite"
    assert host.xdp == [{"id": result["prog_id"], "mode": "driver"}]


def test_verifier_rejection_reports_the_log_tail_and_leaves_nothing(
    run_module, runner, host, args, tmp_path
):
    args["object"] = str(tmp_path / "verifier_reject.bpf.o")
    args["program"] = "xdp_unchecked"
    result = run_module("bpf_prog", args)
    assert result["failed"] is True
    assert "verifier rejected program 'xdp_unchecked'" in result["msg"]
    assert "R0 invalid mem access 'map_value_or_null'" in result["msg"]
    assert result["verifier_log"].splitlines()[-1].startswith("processed 7 insns")
    assert "BEGIN PROG LOAD LOG" not in result["verifier_log"]
    assert host.xdp == []
    assert os.listdir(tmp_path / "bpffs") == []
    assert not (tmp_path / "state" / "fig3_echo_xdp.json").exists()


def test_failure_after_load_leaves_nothing_attached_or_pinned(run_module, host, args, tmp_path):
    args["map_values"] = {"echo_config": {"0": {"prt": 1}}}
    result = run_module("bpf_prog", args)
    assert result["failed"] is True
    assert "no field 'prt'" in result["msg"] and "port, ifindex, seen" in result["msg"]
    assert host.xdp == [] and os.listdir(tmp_path / "bpffs") == []


def test_failed_attach_rolls_back_the_pins(run_module, runner, host, args, tmp_path):
    runner.on("bpftool", "net", "attach", fixture="bpftool/net_attach_xdp_wrong_type.out")
    result = run_module("bpf_prog", args)
    assert result["failed"] is True and "Invalid argument" in result["msg"]
    assert "xdp_mode: generic" in result["msg"]
    assert os.listdir(tmp_path / "bpffs") == []


def test_check_mode_changes_nothing(run_module, runner, host, args, tmp_path):
    result = run_module("bpf_prog", args, check_mode=True)
    assert result["changed"] is True
    assert any("attach xdp_pass" in a for a in result["actions"])
    assert mutating(runner) == []
    assert os.listdir(tmp_path / "bpffs") == [] and not (tmp_path / "state").exists()


def test_check_mode_reports_pending_map_updates_only(run_module, runner, host, args):
    run_module("bpf_prog", args)
    runner.calls.clear()
    args["map_values"] = {"echo_config": {"0": {"port": 1}}}
    result = run_module("bpf_prog", args, check_mode=True)
    assert result["changed"] is True and result["map_updates"] == 1
    assert mutating(runner) == []


def test_switching_xdp_mode_detaches_the_old_mode_first(run_module, runner, host, args):
    run_module("bpf_prog", args)
    result = run_module("bpf_prog", dict(args, xdp_mode="generic"))
    assert result["changed"] is True
    assert host.xdp == [{"id": result["prog_id"], "mode": "generic"}]
    detach = runner.ran("bpftool", "net", "detach")
    assert detach and detach[0][3] == "xdp"


def test_absent_detaches_and_unpins_then_is_unchanged(run_module, runner, host, args, tmp_path):
    run_module("bpf_prog", args)
    gone = run_module(
        "bpf_prog",
        {
            "state": "absent",
            "pin_dir": args["pin_dir"],
            "pin_root": args["pin_root"],
            "state_dir": args["state_dir"],
        },
    )
    assert gone["changed"] is True and host.xdp == []
    assert os.listdir(tmp_path / "bpffs") == [] and os.listdir(tmp_path / "state") == []
    again = run_module(
        "bpf_prog",
        {
            "state": "absent",
            "pin_dir": args["pin_dir"],
            "pin_root": args["pin_root"],
            "state_dir": args["state_dir"],
        },
    )
    assert again["changed"] is False


def test_absent_leaves_a_foreign_program_alone(run_module, host, args):
    run_module("bpf_prog", args)
    host.xdp = [{"id": 4242, "mode": "driver"}]  # someone replaced ours meanwhile
    run_module(
        "bpf_prog",
        {
            "state": "absent",
            "pin_dir": args["pin_dir"],
            "pin_root": args["pin_root"],
            "state_dir": args["state_dir"],
        },
    )
    assert host.xdp == [{"id": 4242, "mode": "driver"}]


def test_tc_attach_adds_clsact_and_absent_removes_it(run_module, runner, host, args):
    args.update(
        program="tc_pass", hook="tc", tc_direction="egress", pin_dir="tc_egress", map_values={}
    )
    result = run_module("bpf_prog", args)
    assert result["changed"] is True and host.clsact
    assert host.filters["egress"] == [
        {"pref": 1, "handle": "0x1", "id": result["prog_id"], "name": "tc_pass"}
    ]
    assert "added a clsact qdisc to va" in result["actions"]
    assert run_module("bpf_prog", args)["changed"] is False
    run_module(
        "bpf_prog",
        {
            "state": "absent",
            "pin_dir": "tc_egress",
            "pin_root": args["pin_root"],
            "state_dir": args["state_dir"],
        },
    )
    assert not host.clsact and host.filters["egress"] == []


def test_tc_keeps_a_clsact_it_did_not_add(run_module, host, args):
    host.clsact = True
    args.update(program="tc_pass", hook="tc", pin_dir="tc_ingress", map_values={})
    run_module("bpf_prog", args)
    run_module(
        "bpf_prog",
        {
            "state": "absent",
            "pin_dir": "tc_ingress",
            "pin_root": args["pin_root"],
            "state_dir": args["state_dir"],
        },
    )
    assert host.clsact and host.filters["ingress"] == []


def test_foreign_tc_filter_is_refused_with_the_tc_command(run_module, host, args):
    host.clsact = True
    host.filters["ingress"] = [{"pref": 1, "handle": "0x1", "id": 4343, "name": "other"}]
    args.update(program="tc_pass", hook="tc", pin_dir="tc_ingress", map_values={})
    result = run_module("bpf_prog", args)
    assert result["failed"] is True
    assert "tc filter del dev va ingress pref 1 handle 0x1 bpf" in result["msg"]


def test_sk_skb_attaches_to_the_objects_sockmap(run_module, runner, host, args, tmp_path):
    args.update(
        object=str(tmp_path / "sk_skb.bpf.o"),
        program="skb_stream_verdict",
        hook="sk_skb",
        sockmap="sock_map",
        pin_dir="echo_sk_skb",
        map_values={},
    )
    del args["interface"]
    result = run_module("bpf_prog", args)
    assert result["changed"] is True and result["interface"] is None
    sockmap = str(tmp_path / "bpffs" / "echo_sk_skb" / "maps" / "sock_map")
    assert result["maps"]["sock_map"]["path"] == sockmap
    attach = runner.ran("bpftool", "prog", "attach")[0]
    assert attach[5] == "sk_skb_stream_verdict"
    assert all("__loading" not in a for a in result["actions"])
    assert run_module("bpf_prog", args)["changed"] is False
    gone = run_module(
        "bpf_prog",
        {
            "state": "absent",
            "pin_dir": "echo_sk_skb",
            "pin_root": args["pin_root"],
            "state_dir": args["state_dir"],
        },
    )
    assert gone["changed"] is True and runner.ran("bpftool", "prog", "detach")


def test_sk_skb_verdict_conflict_is_reported(run_module, runner, host, args, tmp_path):
    runner.on("bpftool", "prog", "attach", fixture="bpftool/prog_attach_verdict_busy.out")
    args.update(
        object=str(tmp_path / "sk_skb.bpf.o"),
        program="skb_verdict",
        hook="sk_skb",
        sk_skb_attach="verdict",
        sockmap="sock_map",
        pin_dir="echo_sk_skb",
        map_values={},
    )
    result = run_module("bpf_prog", args)
    assert result["failed"] is True and "cannot both be attached" in result["msg"]
    assert os.listdir(tmp_path / "bpffs") == []


def test_absent_all_detaches_every_record_of_this_namespace(run_module, host, args):
    run_module("bpf_prog", args)
    run_module(
        "bpf_prog", dict(args, program="tc_pass", hook="tc", pin_dir="tc_ingress", map_values={})
    )
    result = run_module(
        "bpf_prog",
        {"state": "absent_all", "pin_root": args["pin_root"], "state_dir": args["state_dir"]},
    )
    assert result["changed"] is True and len(result["removed"]) == 2
    assert host.xdp == [] and host.filters["ingress"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"interface": None}, "interface"),
        ({"hook": "sk_skb", "sockmap": None}, "sockmap"),
        ({"pin_dir": "fig3.xdp"}, "without spaces or dots"),
        ({"program": "nope"}, "has no program 'nope' (its programs: tc_pass, xdp_pass)"),
        ({"program": "tc_pass"}, "needs type xdp"),
        ({"interface": "eth9"}, "interface 'eth9' does not exist"),
        ({"object": "/nonexistent/x.bpf.o"}, "build it first"),
        ({"map_values": {"nomap": {"0": 1}}}, "does not have (its maps: counters, echo_config)"),
        ({"map_values": {"echo_config": {"1": {"port": 1}}}}, "out of range for array map"),
        ({"map_values": {"echo_config": {"0": {"port": 70000}}}}, "does not fit in 2 byte"),
    ],
)
def test_input_errors_fail_clearly_and_leave_nothing(
    run_module, host, args, tmp_path, change, message
):
    result = run_module(
        "bpf_prog", {k: v for k, v in dict(args, **change).items() if v is not None}
    )
    assert result["failed"] is True
    assert message in result["msg"]
    assert host.xdp == [] and os.listdir(tmp_path / "bpffs") == []


def test_pin_root_that_is_no_bpffs_is_refused_with_the_mount_command(
    run_module, host, args, tmp_path
):
    args["pin_root"] = str(tmp_path / "elsewhere")
    result = run_module("bpf_prog", args)
    assert result["failed"] is True
    assert "is not on a bpffs" in result["msg"] and "mount -t bpf bpf" in result["msg"]


def test_check_mode_before_build_and_mount_warns_instead_of_failing(
    run_module, runner, host, args, tmp_path
):
    args.update(object=str(tmp_path / "not_built.bpf.o"), pin_root=str(tmp_path / "not_mounted"))
    result = run_module("bpf_prog", args, check_mode=True)
    assert result["changed"] is True and "failed" not in result
    assert "build it first" in str(result["warnings"]) and "mount -t bpf" in str(result["warnings"])
    assert mutating(runner) == []


def test_absent_never_removes_a_folder_outside_bpffs(run_module, host, args, tmp_path):
    precious = tmp_path / "precious"
    (precious / "progs").mkdir(parents=True)
    (precious / "progs" / "notes.txt").write_text("keep me")
    result = run_module(
        "bpf_prog",
        {
            "state": "absent",
            "pin_dir": str(precious),
            "pin_root": args["pin_root"],
            "state_dir": args["state_dir"],
        },
    )
    assert result["failed"] is True and "is not on a bpffs" in result["msg"]
    assert (precious / "progs" / "notes.txt").read_text() == "keep me"


# --- cgroup attachments and reused maps ---------------------------------------------------


@pytest.fixture
def cgroup(tmp_path: Path) -> Path:
    path = tmp_path / "cgroup2" / "table2_iperf"
    path.mkdir(parents=True)
    (path / "cgroup.procs").write_text("")
    return path


def sk_skb_args(args: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    out = dict(
        args,
        object=str(tmp_path / "sk_skb.bpf.o"),
        program="skb_stream_verdict",
        hook="sk_skb",
        sockmap="sock_map",
        pin_dir="pass_sk_skb",
        map_values={},
    )
    del out["interface"]
    return out


def sockops_args(args: dict[str, Any], tmp_path: Path, cgroup: Path) -> dict[str, Any]:
    out = dict(
        args,
        object=str(tmp_path / "sockops.bpf.o"),
        program="sockops_fill",
        hook="cgroup",
        cgroup_path=str(cgroup),
        pin_dir="pass_sockops",
        map_values={},
        reuse_maps={"sock_map": str(tmp_path / "bpffs" / "pass_sk_skb" / "maps" / "sock_map")},
    )
    del out["interface"]
    return out


def absent_args(args: dict[str, Any], pin_dir: str) -> dict[str, Any]:
    return {
        "state": "absent",
        "pin_dir": pin_dir,
        "pin_root": args["pin_root"],
        "state_dir": args["state_dir"],
    }


def test_cgroup_hook_shares_the_reused_map_and_is_idempotent(
    run_module, runner, host, args, tmp_path, cgroup
):
    verdict = run_module("bpf_prog", sk_skb_args(args, tmp_path))
    result = run_module("bpf_prog", sockops_args(args, tmp_path, cgroup))
    assert result["changed"] is True, result
    assert result["hook"] == "cgroup" and result["cgroup_path"] == str(cgroup)
    assert host.cgroups[str(cgroup)] == [{"id": result["prog_id"], "name": "sockops_fill"}]
    shared = verdict["maps"]["sock_map"]["id"]
    assert result["maps"]["sock_map"]["id"] == shared
    assert result["reused_maps"] == {"sock_map": shared}
    load = runner.ran("bpftool", "prog", "loadall")[-1]
    assert load[-5:] == ["map", "name", "sock_map", "pinned", verdict["maps"]["sock_map"]["path"]]
    record = json.loads((tmp_path / "state" / "pass_sockops.json").read_text())
    assert record["cgroup_path"] == str(cgroup) and record["reused_maps"] == {"sock_map": shared}
    runner.calls.clear()
    again = run_module("bpf_prog", sockops_args(args, tmp_path, cgroup))
    assert again["changed"] is False and again["prog_id"] == result["prog_id"]
    assert mutating(runner) == []


def test_cgroup_attachment_reloads_when_the_reused_map_was_replaced(
    run_module, host, args, tmp_path, cgroup
):
    run_module("bpf_prog", sk_skb_args(args, tmp_path))
    first = run_module("bpf_prog", sockops_args(args, tmp_path, cgroup))
    (tmp_path / "sk_skb.bpf.o").write_bytes(b"ELF sk_skb, rebuilt")
    verdict = run_module("bpf_prog", sk_skb_args(args, tmp_path))  # a fresh sockmap
    second = run_module("bpf_prog", sockops_args(args, tmp_path, cgroup))
    assert second["changed"] is True and second["prog_id"] != first["prog_id"]
    assert second["reused_maps"] == {"sock_map": verdict["maps"]["sock_map"]["id"]}
    assert host.cgroups[str(cgroup)] == [{"id": second["prog_id"], "name": "sockops_fill"}]


def test_cgroup_absent_takes_the_program_off_then_is_unchanged(
    run_module, host, args, tmp_path, cgroup
):
    run_module("bpf_prog", sk_skb_args(args, tmp_path))
    run_module("bpf_prog", sockops_args(args, tmp_path, cgroup))
    gone = run_module("bpf_prog", absent_args(args, "pass_sockops"))
    assert gone["changed"] is True and host.cgroups[str(cgroup)] == []
    assert any("from cgroup" in a for a in gone["actions"])
    assert not (tmp_path / "bpffs" / "pass_sockops").exists()
    assert (tmp_path / "bpffs" / "pass_sk_skb" / "maps" / "sock_map").exists()  # owner keeps it
    assert run_module("bpf_prog", absent_args(args, "pass_sockops"))["changed"] is False


def test_absent_all_detaches_cgroup_attachments_too(run_module, host, args, tmp_path, cgroup):
    run_module("bpf_prog", sk_skb_args(args, tmp_path))
    run_module("bpf_prog", sockops_args(args, tmp_path, cgroup))
    result = run_module(
        "bpf_prog",
        {"state": "absent_all", "pin_root": args["pin_root"], "state_dir": args["state_dir"]},
    )
    assert sorted(Path(p).name for p in result["removed"]) == ["pass_sk_skb", "pass_sockops"]
    assert host.cgroups[str(cgroup)] == []


def test_cgroup_absent_after_the_cgroup_is_gone_only_unpins(
    run_module, host, args, tmp_path, cgroup
):
    run_module("bpf_prog", sk_skb_args(args, tmp_path))
    run_module("bpf_prog", sockops_args(args, tmp_path, cgroup))
    (cgroup / "cgroup.procs").unlink()
    cgroup.rmdir()
    gone = run_module("bpf_prog", absent_args(args, "pass_sockops"))
    assert gone["changed"] is True and "failed" not in gone
    assert not (tmp_path / "bpffs" / "pass_sockops").exists()


def test_foreign_cgroup_program_is_refused_then_replaced_with_force(
    run_module, host, args, tmp_path, cgroup
):
    run_module("bpf_prog", sk_skb_args(args, tmp_path))
    host.cgroups[str(cgroup)] = [{"id": 4444, "name": "theirs"}]
    refused = run_module("bpf_prog", sockops_args(args, tmp_path, cgroup))
    assert refused["failed"] is True
    assert f"bpftool cgroup detach {cgroup} sock_ops id 4444" in refused["msg"]
    assert host.cgroups[str(cgroup)] == [{"id": 4444, "name": "theirs"}]
    forced = run_module("bpf_prog", dict(sockops_args(args, tmp_path, cgroup), force=True))
    assert forced["changed"] is True and forced["replaced"] == [4444]
    assert host.cgroups[str(cgroup)] == [{"id": forced["prog_id"], "name": "sockops_fill"}]


def test_cgroup_check_mode_changes_nothing(run_module, runner, host, args, tmp_path, cgroup):
    run_module("bpf_prog", sk_skb_args(args, tmp_path))
    runner.calls.clear()
    result = run_module("bpf_prog", sockops_args(args, tmp_path, cgroup), check_mode=True)
    assert result["changed"] is True
    assert any(f"cgroup {cgroup} (sock_ops)" in a for a in result["actions"])
    assert mutating(runner) == [] and not (tmp_path / "bpffs" / "pass_sockops").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cgroup_path": "/nonexistent/cg"}, "is not a cgroup (no cgroup.procs in it)"),
        ({"cgroup_path": None}, "cgroup_path"),
        ({"reuse_maps": {"sock_map": "/nonexistent/pin"}}, "no map is pinned at /nonexistent/pin"),
        ({"reuse_maps": {"sock_map": "relative/pin"}}, "must be the absolute path"),
        ({"reuse_maps": {"nosuch": "SOCK_MAP_PIN"}}, "is map 'sock_map', not 'nosuch'"),
        ({"program": "nope"}, "has no program 'nope'"),
    ],
)
def test_cgroup_input_errors_fail_clearly_and_attach_nothing(
    run_module, host, args, tmp_path, cgroup, change, message
):
    run_module("bpf_prog", sk_skb_args(args, tmp_path))
    pin = str(tmp_path / "bpffs" / "pass_sk_skb" / "maps" / "sock_map")
    if "reuse_maps" in change:
        reuse = {k: pin if v == "SOCK_MAP_PIN" else v for k, v in change["reuse_maps"].items()}
        change = {"reuse_maps": reuse}
    wanted = dict(sockops_args(args, tmp_path, cgroup), **change)
    result = run_module("bpf_prog", {k: v for k, v in wanted.items() if v is not None})
    assert result["failed"] is True
    assert message in result["msg"]
    assert host.cgroups.get(str(cgroup), []) == []
    assert not (tmp_path / "bpffs" / "pass_sockops").exists()


def test_reused_map_unknown_to_the_object_is_reported(run_module, host, args, tmp_path, cgroup):
    run_module("bpf_prog", sk_skb_args(args, tmp_path))
    wanted = sockops_args(args, tmp_path, cgroup)
    wanted.update(object=str(tmp_path / "hooks.bpf.o"), program="xdp_pass")  # no sock_map
    result = run_module("bpf_prog", wanted)
    assert result["failed"] is True and "not a map of the object" in result["msg"]
    assert not (tmp_path / "bpffs" / "pass_sockops").exists()


def test_wrong_program_type_for_a_cgroup_names_the_section(
    run_module, host, args, tmp_path, cgroup
):
    wanted = sockops_args(args, tmp_path, cgroup)
    wanted.update(object=str(tmp_path / "hooks.bpf.o"), program="tc_pass", reuse_maps={})
    result = run_module("bpf_prog", wanted)
    assert result["failed"] is True
    assert 'needs type sock_ops, i.e. a program in SEC("sockops")' in result["msg"]
