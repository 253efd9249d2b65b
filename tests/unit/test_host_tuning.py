"""host_tuning: tuned -> saved + applied, idempotent, restored exactly, drift, skipped knobs.

The module runs in-process against a fake sysfs/procfs tree in tmp_path; its commands
(ethtool, ip, systemctl, pgrep) go to a fake host that keeps their state.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import ansible.module_utils
import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

REPO = Path(__file__).resolve().parents[2]
ansible.module_utils.__path__.append(str(REPO / "module_utils"))
sys.path.insert(0, str(REPO / "library"))

import host_tuning
from ansible.module_utils import tuning

IFACE = "ens1f0np0"
CPUS = 8
FEATURES = {
    "rx-checksumming": [True, False],
    "tx-checksumming": [True, False],
    "tcp-segmentation-offload": [True, False],
    "generic-segmentation-offload": [True, False],
    "generic-receive-offload": [True, False],
    "large-receive-offload": [False, False],
    "ntuple-filters": [False, False],
}
VETH_FEATURES = {
    "rx-checksumming": [True, False],
    "tx-checksumming": [True, False],
    "tcp-segmentation-offload": [True, False],
    "generic-segmentation-offload": [True, False],
    "generic-receive-offload": [False, False],
    "large-receive-offload": [False, True],
    "ntuple-filters": [False, True],
}
ALIASES = {**tuning.FEATURE_ALIASES}


class Exit(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result.get("msg", ""))
        self.result = result


class FakeHost:
    """A fake sysfs/procfs tree plus the state behind ethtool, ip and systemctl."""

    def __init__(self, root: Path, features: dict[str, list[bool]], systemd: bool = True) -> None:
        self.root = root
        self.sys = root / "sys"
        self.proc = root / "proc"
        self.features = {name: list(state) for name, state in features.items()}
        self.rules: list[dict[str, Any]] = []
        self.next_rule = 1023
        self.systemd = systemd
        self.irqbalance = "active"
        self.binaries = {"ethtool", "ip", "systemctl", "pgrep"}
        self.refuse_features: set[str] = set()
        # Features another setting keeps off whatever is requested (TSO on a veth whose
        # peer has an XDP program).
        self.held_off: set[str] = set()
        # Group features whose members the driver fixes for now (shown as in ethtool -k).
        self.locked_groups: set[str] = set()
        self.commands: list[list[str]] = []

    def file(self, path: str, text: str) -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n")

    def text(self, path: str) -> str:
        return (self.root / path.lstrip("/")).read_text().strip()

    def snapshot(self) -> dict[str, str]:
        files = {
            "/" + str(p.relative_to(self.root)): p.read_text().strip()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }
        # The kernel shows THP's choice in brackets; a plain file keeps what was written.
        thp = "/sys/kernel/mm/transparent_hugepage/enabled"
        if thp in files:
            files[thp] = tuning.Thp().parse(files[thp])
        return {
            **files,
            "features": json.dumps(self.features, sort_keys=True),
            "rules": json.dumps(self.rules),
            "irqbalance": self.irqbalance,
        }

    # Stand-ins for AnsibleModule methods.

    def get_bin_path(self, name: str, required: bool = False, opt_dirs: Any = None) -> Any:
        return f"/usr/sbin/{name}" if name in self.binaries else None

    def run_command(self, cmd: list[str], data: Any = None, environ_update: Any = None, **_: Any):
        assert environ_update and environ_update.get("LC_ALL") == "C", "commands need a C locale"
        argv = [Path(cmd[0]).name, *cmd[1:]]
        self.commands.append(argv)
        handler = getattr(self, f"cmd_{argv[0]}")
        return handler(argv[1:])

    def cmd_ethtool(self, args: list[str]) -> tuple[int, str, str]:
        option, ifname, rest = args[0], args[1], args[2:]
        if ifname not in ("ens1f0np0", "veth-dut"):
            return 1, "", f"netlink error: no device matches name ({ifname})"
        if option == "-k":
            lines = [f"Features for {ifname}:"]
            for name, (on, fixed) in self.features.items():
                if name in self.locked_groups:
                    lines += [f"{name}: off", f"\ttx-{name}-child: off [fixed]"]
                elif on and name in self.held_off:
                    lines.append(f"{name}: off [requested on]")
                else:
                    lines.append(f"{name}: {'on' if on else 'off'}{' [fixed]' if fixed else ''}")
            return 0, "\n".join(lines) + "\n", ""
        if option == "-K":
            for name, state in zip(rest[::2], rest[1::2], strict=True):
                full = ALIASES.get(name, name)
                if full in self.refuse_features or full in self.locked_groups:
                    return (
                        1,
                        "",
                        f"Could not change any device features\n{full}: off [requested on]",
                    )
                self.features[full][0] = state == "on"
            return 0, "", ""
        if option == "-n":
            lines = [f"{CPUS} RX rings available", f"Total {len(self.rules)} rules", ""]
            for rule in self.rules:
                kind = tuning.FLOW_TYPES[rule["flow_type"]]
                lines += [
                    f"Filter: {rule['id']}",
                    f"\tRule Type: {kind}",
                    "\tSrc IP addr: 0.0.0.0 mask: 255.255.255.255",
                    "\tDest IP addr: 0.0.0.0 mask: 255.255.255.255",
                    "\tTOS: 0x0 mask: 0xff",
                    "\tSrc port: 0 mask: 0xffff",
                    f"\tDest port: {rule['dst_port']} mask: 0x0",
                    f"\tAction: Direct to queue {rule['queue']}",
                    "",
                ]
            return 0, "\n".join(lines), ""
        if option == "-N" and rest[0] == "delete":
            self.rules = [r for r in self.rules if r["id"] != int(rest[1])]
            return 0, "", ""
        if option == "-N":
            if not self.features["ntuple-filters"][0]:
                return 1, "", "rmgr: Cannot insert RX class rule: Operation not supported"
            spec = dict(zip(rest[::2], rest[1::2], strict=True))
            rule = {
                "id": self.next_rule,
                "flow_type": spec["flow-type"],
                "dst_port": int(spec["dst-port"]),
                "queue": int(spec["action"]),
            }
            self.rules.append(rule)
            self.next_rule -= 1
            return 0, f"Added rule with ID {rule['id']}\n", ""
        raise AssertionError(f"unexpected ethtool {args}")

    def cmd_ip(self, args: list[str]) -> tuple[int, str, str]:
        assert args[:3] == ["link", "set", "dev"] and args[4] == "mtu", args
        self.file(f"/sys/class/net/{args[3]}/mtu", args[5])
        return 0, "", ""

    def cmd_systemctl(self, args: list[str]) -> tuple[int, str, str]:
        if not self.systemd:
            return 1, "", "System has not been booted with systemd as init system (PID 1)."
        if args[0] == "show":
            return 0, f"LoadState=loaded\nActiveState={self.irqbalance}\n", ""
        self.irqbalance = "active" if args[0] == "start" else "inactive"
        return 0, "", ""

    def cmd_pgrep(self, args: list[str]) -> tuple[int, str, str]:
        return 1, "", ""


def cloudlab_like(root: Path) -> FakeHost:
    """8 CPUs (siblings n and n+4), two NUMA nodes, intel_pstate, a ConnectX port on node 1."""
    host = FakeHost(root, FEATURES)
    cpu = "/sys/devices/system/cpu"
    host.file(f"{cpu}/online", f"0-{CPUS - 1}")
    host.file(f"{cpu}/smt/control", "on")
    host.file(f"{cpu}/intel_pstate/no_turbo", "0")
    for n in range(CPUS):
        host.file(f"{cpu}/cpu{n}/cpufreq/scaling_governor", "powersave")
        host.file(f"{cpu}/cpu{n}/cpufreq/scaling_available_governors", "performance powersave")
        host.file(f"{cpu}/cpu{n}/cpufreq/energy_performance_preference", "balance_performance")
        host.file(
            f"{cpu}/cpu{n}/cpufreq/energy_performance_available_preferences",
            "default performance balance_performance balance_power power",
        )
        host.file(f"{cpu}/cpu{n}/power/energy_perf_bias", "6")
        for state, name in enumerate(("POLL", "C1", "C1E", "C6")):
            host.file(f"{cpu}/cpu{n}/cpuidle/state{state}/name", name)
            host.file(f"{cpu}/cpu{n}/cpuidle/state{state}/disable", "0")
        host.file(f"{cpu}/cpu{n}/topology/thread_siblings_list", f"{n % 4},{n % 4 + 4}")
    host.file("/sys/devices/system/node/node0/cpulist", "0-1,4-5")
    host.file("/sys/devices/system/node/node1/cpulist", "2-3,6-7")
    host.file("/sys/kernel/mm/ksm/run", "1")
    host.file("/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never")
    host.file("/proc/sys/kernel/numa_balancing", "1")
    host.file("/proc/sys/kernel/bpf_stats_enabled", "1")
    net = f"/sys/class/net/{IFACE}"
    host.file(f"{net}/mtu", "9000")
    host.file(f"{net}/device/numa_node", "1")
    for queue in range(CPUS):
        host.file(f"{net}/queues/rx-{queue}/rps_cpus", "00")
    interrupts = ["            CPU0       CPU1"]
    names = ["mlx5_async0"] + [f"mlx5_comp{q}" for q in range(CPUS)]
    for irq, name in enumerate(names, start=60):
        host.file(f"{net}/device/msi_irqs/{irq}", "msix")
        host.file(f"/proc/irq/{irq}/smp_affinity_list", f"0-{CPUS - 1}")
        interrupts.append(
            f" {irq}:   0   0  IR-PCI-MSIX-0000:17:00.0 {irq}-edge  {name}@pci:0000:17:00.0"
        )
    host.file("/proc/interrupts", "\n".join(interrupts))
    return host


def vm_like(root: Path) -> FakeHost:
    """The local testbed: 2 vCPUs without cpufreq or cpuidle, no SMT control, a veth, no systemd."""
    host = FakeHost(root, VETH_FEATURES, systemd=False)
    cpu = "/sys/devices/system/cpu"
    host.file(f"{cpu}/online", "0-1")
    host.file(f"{cpu}/smt/control", "notsupported")
    for n in range(2):
        host.file(f"{cpu}/cpu{n}/topology/thread_siblings_list", str(n))
    host.file("/sys/kernel/mm/ksm/run", "0")
    host.file("/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never")
    host.file("/proc/sys/kernel/numa_balancing", "0")
    host.file("/proc/sys/kernel/bpf_stats_enabled", "0")
    host.file("/sys/class/net/veth-dut/mtu", "1500")
    host.file("/sys/class/net/veth-dut/queues/rx-0/rps_cpus", "0")
    host.file("/proc/interrupts", "            CPU0       CPU1")
    return host


def run(host: FakeHost, check_mode: bool = False, **args: Any) -> dict[str, Any]:
    """Run host_tuning in-process; return its result (failures have failed=True)."""
    args.setdefault("interface", IFACE)
    args.setdefault("saved_file", str(host.root / "var" / "tuning-saved.json"))
    args.update(
        sysfs_root=str(host.sys), procfs_root=str(host.proc), _ansible_check_mode=check_mode
    )

    def exit_json(self: AnsibleModule, **result: Any) -> None:
        raise Exit(result)

    def fail_json(self: AnsibleModule, msg: str, **result: Any) -> None:
        raise Exit({"failed": True, "msg": msg, **result})

    with (
        patch_module_args(args),
        mock.patch.object(AnsibleModule, "run_command", host.run_command),
        mock.patch.object(AnsibleModule, "get_bin_path", host.get_bin_path),
        mock.patch.object(AnsibleModule, "exit_json", exit_json),
        mock.patch.object(AnsibleModule, "fail_json", fail_json),
        pytest.raises(Exit) as done,
    ):
        host_tuning.main()
    return done.value.result


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {name: knob["status"] for name, knob in result["knobs"].items()}


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return cloudlab_like(tmp_path / "host")


def test_tuned_saves_the_original_values_then_applies_the_paper_settings(host: FakeHost) -> None:
    result = run(host, state="tuned")
    assert not result.get("failed"), result
    assert result["changed"]
    assert set(statuses(result).values()) == {"applied"}, statuses(result)
    saved = json.loads(Path(result["saved_file"]).read_text())
    assert saved["knobs"]["governor"]["/sys/devices/system/cpu/cpu5/cpufreq/scaling_governor"] == (
        "powersave"
    )
    assert saved["knobs"]["thp"] == {"/sys/kernel/mm/transparent_hugepage/enabled": "madvise"}
    assert saved["knobs"]["mtu"] == {"interface": IFACE, "mtu": 9000}
    assert saved["knobs"]["irqbalance"] == "active"
    assert saved["knobs"]["irq_affinity"] == {"interface": IFACE, "irq": 64, "cpus": "0-7"}
    cpu = "/sys/devices/system/cpu"
    assert host.text(f"{cpu}/smt/control") == "off"
    assert host.text(f"{cpu}/cpu3/cpufreq/scaling_governor") == "performance"
    assert host.text(f"{cpu}/cpu3/cpufreq/energy_performance_preference") == "performance"
    assert host.text(f"{cpu}/cpu3/power/energy_perf_bias") == "0"
    assert host.text(f"{cpu}/cpu3/cpuidle/state3/disable") == "1"
    assert host.text(f"{cpu}/cpu3/cpuidle/state2/disable") == "0", "only the deepest state"
    assert host.text(f"{cpu}/intel_pstate/no_turbo") == "1"
    assert host.text("/sys/kernel/mm/transparent_hugepage/enabled") == "never"
    assert host.text("/sys/kernel/mm/ksm/run") == "0"
    assert host.text("/proc/sys/kernel/numa_balancing") == "0"
    assert host.text("/proc/sys/kernel/bpf_stats_enabled") == "0"
    assert host.text(f"/sys/class/net/{IFACE}/mtu") == "1500"
    assert host.irqbalance == "inactive"
    off = ["rx-checksumming", "tcp-segmentation-offload", "generic-segmentation-offload",
           "generic-receive-offload"]  # fmt: skip
    assert all(not host.features[name][0] for name in off)
    assert host.features["tx-checksumming"][0], "TX checksumming is not the paper's"
    assert host.features["ntuple-filters"][0]
    steered = {(r["flow_type"], r["dst_port"], r["queue"]) for r in host.rules}
    assert steered == {("udp4", 8080, 3), ("udp4", 11211, 3), ("tcp4", 8080, 3)}
    # Queue 3 is served by mlx5_comp3 (IRQ 64); node 1 keeps CPUs 2 and 3 with SMT off.
    assert host.text("/proc/irq/64/smp_affinity_list") == "2"
    assert result["cpus"] == {"numa_node": 1, "node_cpus": [2, 3], "irq_cpu": 2, "free_cpus": [3]}


def test_second_tuned_run_changes_nothing_and_keeps_the_original(host: FakeHost) -> None:
    first = run(host, state="tuned")
    saved_before = Path(first["saved_file"]).read_text()
    commands = len(host.commands)
    second = run(host, state="tuned")
    assert not second.get("failed"), second
    assert not second["changed"]
    assert set(statuses(second).values()) == {"already"}, statuses(second)
    assert Path(second["saved_file"]).read_text() == saved_before
    mutating = [c for c in host.commands[commands:] if c[:2] not in (["ethtool", "-k"],
                ["ethtool", "-n"]) and c[1] != "show"]  # fmt: skip
    assert not mutating, mutating
    assert len(host.rules) == 3, "no duplicate steering rules"


def test_restored_puts_back_exactly_what_was_saved(host: FakeHost) -> None:
    saved_file = str(host.root / "var" / "tuning-saved.json")
    original = host.snapshot()
    run(host, state="tuned")
    run(host, state="tuned")
    result = run(host, state="restored")
    assert not result.get("failed"), result
    assert result["changed"]
    assert set(statuses(result).values()) == {"applied"}, statuses(result)
    assert not Path(saved_file).exists()
    assert host.snapshot() == original
    again = run(host, state="restored")
    assert not again["changed"]
    assert set(statuses(again).values()) == {"skipped"}


def test_restore_keeps_steering_rules_of_others(host: FakeHost) -> None:
    host.features["ntuple-filters"][0] = True
    host.rules.append({"id": 5, "flow_type": "udp4", "dst_port": 9999, "queue": 1})
    run(host, state="tuned")
    assert len(host.rules) == 4
    run(host, state="restored")
    assert host.rules == [{"id": 5, "flow_type": "udp4", "dst_port": 9999, "queue": 1}]
    assert host.features["ntuple-filters"][0]


def test_rules_steered_by_a_later_run_are_removed_too(host: FakeHost) -> None:
    run(host, state="tuned")
    run(host, state="tuned", steer=[{"flow_type": "udp4", "dst_port": 3030}])
    assert len(host.rules) == 4
    run(host, state="restored")
    assert host.rules == []


def test_checked_reports_drift_and_changes_nothing(host: FakeHost) -> None:
    before = run(host, state="checked")
    assert not before["changed"]
    assert set(before["drift"]) == set(tuning.APPLY_ORDER)
    run(host, state="tuned")
    assert run(host, state="checked")["drift"] == []
    host.file("/sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never")
    host.file("/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "powersave")
    host.rules.pop()
    snapshot = host.snapshot()
    result = run(host, state="checked")
    assert result["drift"] == ["governor", "thp", "ntuple"]
    assert result["knobs"]["thp"]["before"] == {
        "/sys/kernel/mm/transparent_hugepage/enabled": "always"
    }
    assert host.snapshot() == snapshot


def test_missing_knobs_are_skipped_with_reasons(tmp_path: Path) -> None:
    host = vm_like(tmp_path / "vm")
    result = run(host, state="tuned", interface="veth-dut")
    assert not result.get("failed"), result
    knobs = result["knobs"]
    reasons = {name: knob.get("reason", "") for name, knob in knobs.items()}
    assert "no cpufreq" in reasons["governor"]
    assert "SMT control not present" in reasons["smt"]
    assert "cpuidle" in reasons["cstate"]
    assert "turbo" in reasons["turbo"]
    assert "systemd" in reasons["irqbalance"]
    assert "no RX queues to steer" in reasons["ntuple"]
    assert "virtual device without IRQs" in reasons["irq_affinity"]
    assert statuses(result)["thp"] == "applied"
    assert statuses(result)["ksm"] == "already"
    assert statuses(result)["mtu"] == "already"
    assert statuses(result)["offloads"] == "applied"
    assert any("large-receive-offload is fixed off" in n for n in knobs["offloads"]["notes"])
    assert not host.features["generic-segmentation-offload"][0]
    assert result["cpus"]["irq_cpu"] is None and result["cpus"]["free_cpus"] == [1]
    restored = run(host, state="restored", interface="veth-dut")
    assert host.text("/sys/kernel/mm/transparent_hugepage/enabled") == "madvise"
    assert host.features["generic-segmentation-offload"][0]
    assert statuses(restored)["governor"] == "skipped"


def test_a_feature_held_off_by_another_setting_counts_as_restored(host: FakeHost) -> None:
    run(host, state="tuned")
    host.held_off.add("tcp-segmentation-offload")
    result = run(host, state="restored")
    assert not result.get("failed"), result
    assert result["knobs"]["offloads"]["status"] == "applied"
    assert host.features["tcp-segmentation-offload"][0], "requested on again"
    assert any("kept off by another setting" in n for n in result["knobs"]["offloads"]["notes"])


def test_restoring_a_feature_the_driver_holds_fixed_fails_and_keeps_the_file(
    host: FakeHost,
) -> None:
    run(host, state="tuned")
    host.locked_groups.add("tcp-segmentation-offload")
    result = run(host, state="restored")
    assert result["failed"] and result["knob"] == "offloads"
    assert "tcp-segmentation-offload" in result["msg"] and "detach" in result["msg"]
    assert Path(result["saved_file"]).exists(), "kept for the next restore"
    host.locked_groups.clear()
    again = run(host, state="restored")
    assert not again.get("failed"), again
    assert host.features["tcp-segmentation-offload"][0]


def test_check_mode_reads_everything_and_writes_nothing(host: FakeHost) -> None:
    snapshot = host.snapshot()
    result = run(host, check_mode=True, state="tuned")
    assert not result.get("failed"), result
    assert result["changed"]
    assert set(statuses(result).values()) == {"applied"}
    assert not Path(result["saved_file"]).exists()
    assert host.snapshot() == snapshot
    assert all(c[1] in ("-k", "-n", "show") for c in host.commands), host.commands


def test_skip_leaves_a_knob_alone_with_the_given_reason(host: FakeHost) -> None:
    result = run(host, state="tuned", skip={"smt": "tuning_smt is false"})
    assert result["knobs"]["smt"] == {"status": "skipped", "reason": "tuning_smt is false"}
    assert host.text("/sys/devices/system/cpu/smt/control") == "on"
    assert "smt" not in json.loads(Path(result["saved_file"]).read_text())["knobs"]
    # With SMT left on, the IRQ may go to any CPU of node 1.
    assert result["cpus"]["node_cpus"] == [2, 3, 6, 7]


def test_unknown_knob_in_skip_fails(host: FakeHost) -> None:
    result = run(host, state="tuned", skip={"hyperthreading": "x"})
    assert result["failed"] and "smt" in result["msg"]


def test_a_knob_that_refuses_its_value_fails_and_names_it(host: FakeHost) -> None:
    host.refuse_features.add("generic-receive-offload")
    result = run(host, state="tuned")
    assert result["failed"]
    assert result["knob"] == "offloads"
    assert "offloads" in result["msg"] and "tuning_offloads: false" in result["msg"]
    assert result["knobs"]["thp"]["status"] == "applied", "what came before is reported"
    assert Path(result["saved_file"]).exists(), "the original values are kept for restoring"


def test_missing_performance_governor_fails_before_changing_anything(host: FakeHost) -> None:
    for n in range(CPUS):
        host.file(
            f"/sys/devices/system/cpu/cpu{n}/cpufreq/scaling_available_governors", "schedutil"
        )
    snapshot = host.snapshot()
    result = run(host, state="tuned")
    assert result["failed"] and result["knob"] == "governor", result
    assert "performance" in result["msg"]
    assert host.snapshot() == snapshot


def test_conflicting_steering_rule_fails_with_the_fix(host: FakeHost) -> None:
    host.features["ntuple-filters"][0] = True
    host.rules.append({"id": 7, "flow_type": "udp4", "dst_port": 8080, "queue": 5})
    result = run(host, state="tuned")
    assert result["failed"] and result["knob"] == "ntuple"
    assert f"ethtool -N {IFACE} delete 7" in result["msg"]


def test_queue_beyond_the_nic_fails(host: FakeHost) -> None:
    result = run(host, state="tuned", rx_queue=12)
    assert result["failed"] and "has 8 RX queues" in result["msg"]


def test_rule_and_list_parsers() -> None:
    assert tuning.parse_cpu_list("0-2,5,7-8") == [0, 1, 2, 5, 7, 8]
    assert tuning.format_cpu_list([8, 0, 1, 2, 5, 7]) == "0-2,5,7-8"
    text = (
        "8 RX rings available\nTotal 1 rules\n\nFilter: 1023\n\tRule Type: TCP over IPv4\n"
        "\tSrc port: 0 mask: 0xffff\n\tDest port: 8080 mask: 0x0\n\tAction: Direct to queue 3\n"
    )
    assert tuning.parse_rules(text) == [
        {"id": 1023, "flow_type": "tcp4", "dst_port": 8080, "queue": 3}
    ]
    names = tuning.parse_interrupts(" 64:  1  2  IR-PCI-MSIX-0000:17:00.0 4-edge  eth1-TxRx-3\n")
    assert names == {64: "eth1-TxRx-3"}
    assert any(p.search("eth1-TxRx-3") for p in tuning.queue_irq_patterns(3))
    assert not any(p.search("eth1-TxRx-13") for p in tuning.queue_irq_patterns(3))
