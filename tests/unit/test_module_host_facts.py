"""host_facts: /proc, /sys and tools as captured here; a probe that fails is reported, not fatal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FakeRunner, fixture_json, fixture_path, load_library


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner: FakeRunner) -> Path:
    root = tmp_path / "host"
    shutil.copytree(fixture_path("host"), root)
    module = load_library("host_facts")
    monkeypatch.setattr(module, "PROC", str(root / "proc"))
    monkeypatch.setattr(module, "SYS", str(root / "sys"))
    monkeypatch.setattr(module, "BOOT", str(root / "boot"))
    queues = root / "sys" / "class" / "net" / "va" / "queues"
    for q in ("rx-0", "tx-0"):
        (queues / q).mkdir(parents=True)
    for prefix, fixture in (
        (("ip", "-j", "link", "show", "dev", "va"), "ip/link_show_va.json"),
        (("ip", "-j", "link", "show", "dev", "eth9"), "ip/link_show_missing.out"),
        (("ethtool", "-i", "va"), "ethtool/driver_va.txt"),
        (("ethtool", "-l", "va"), "ethtool/channels_va.txt"),
        (("ethtool", "-k", "va"), "ethtool/features_va.txt"),
        (("bpftool", "-j", "net", "show", "dev", "va"), "bpftool/net_show_xdp_driver.json"),
        (("bpftool", "-j", "version"), "bpftool/version.json"),
        (("bpftool", "-j", "prog", "show"), "bpftool/prog_show_all.json"),
        (("clang", "--version"), "host/clang_version.txt"),
        (("perf", "stat"), "perf/stat_instructions.out"),
    ):
        runner.on(*prefix, fixture=fixture)
    return root


def test_facts_of_this_vm(run_module, host):
    result = run_module("host_facts", {"interface": "va"})
    assert result["changed"] is False
    facts = result["host_facts"]
    cpu = facts["cpu"]
    assert cpu["model"] == "Intel(R) Xeon(R) Processor" and cpu["cores_online"] == 2
    assert cpu["smt"] == {"control": "notsupported", "active": 0}
    assert cpu["cpus"]["1"]["governor"].startswith("unavailable: no cpufreq for cpu1")
    assert cpu["cpus"]["1"]["cpuinfo_mhz"] == 2100.0
    assert cpu["turbo"].startswith("unavailable:")
    iface = facts["interface"]
    link = fixture_json("ip/link_show_va.json")[0]
    assert (iface["ifindex"], iface["mac"], iface["mtu"]) == (
        link["ifindex"],
        link["address"],
        link["mtu"],
    )
    assert iface["driver"]["driver"] == "veth"
    assert iface["channels"]["max"] == {"rx": 2, "tx": 2, "other": None, "combined": None}
    assert iface["features"]["generic-receive-offload"] is False
    assert iface["queues"] == {"rx": 1, "tx": 1}
    assert iface["attached"]["xdp"][0]["mode"] == "driver"
    assert facts["tools"]["clang"] == "Debian clang version 14.0.6"
    assert facts["tools"]["bpftool"]["version"] == "7.1.0"
    assert facts["bpf"]["stats_enabled"] == 0
    first = fixture_json("bpftool/prog_show_all.json")[0]
    assert {"id": first["id"], "tag": first["tag"]}.items() <= facts["bpf"]["programs"][0].items()
    assert facts["perf"]["hardware_counters"].startswith("not supported")
    assert facts["fentry"]["lockdown"].startswith("unavailable:")
    assert facts["kernel"]["config"].startswith("unavailable:")


def test_cpufreq_and_turbo_are_read_when_present(run_module, host):
    cpu = host / "sys" / "devices" / "system" / "cpu"
    freq = cpu / "cpu0" / "cpufreq"
    freq.mkdir(parents=True)
    for name, value in (
        ("scaling_governor", "performance"),
        ("scaling_driver", "intel_pstate"),
        ("scaling_cur_freq", "2400000"),
        ("scaling_min_freq", "800000"),
        ("scaling_max_freq", "3500000"),
    ):
        (freq / name).write_text(value + "\n")
    (cpu / "intel_pstate").mkdir()
    (cpu / "intel_pstate" / "no_turbo").write_text("1\n")
    facts = run_module("host_facts", {"cpus": [0]})["host_facts"]
    assert facts["cpu"]["cpus"]["0"]["governor"] == "performance"
    assert facts["cpu"]["cpus"]["0"]["cur_freq_khz"] == 2400000
    assert facts["cpu"]["turbo"] == "off (intel_pstate/no_turbo=1)"
    assert facts["interface"] == "unavailable: no interface given"


def test_missing_tools_and_failing_probes_never_fail_the_task(
    run_module, runner, host, monkeypatch
):
    runner.on("ethtool", "-i", "va", fixture="ethtool/driver_lo.out")
    result = run_module("host_facts", {"interface": "va"}, bins={"ip", "ethtool"})
    facts = result["host_facts"]
    assert "failed" not in result
    assert facts["perf"] == {"hardware_counters": "perf not installed"}
    assert facts["tools"]["clang"] == "unavailable: clang not installed"
    assert facts["bpf"]["programs"] == "unavailable: bpftool not installed"
    assert facts["interface"]["driver"].startswith("unavailable: `ethtool -i va` failed")
    assert facts["interface"]["attached"] == "unavailable: bpftool not installed"
    module = load_library("host_facts")

    def broken(self, wanted):
        raise OSError("no such thing")

    monkeypatch.setattr(module.Facts, "cpu", broken)
    facts = run_module("host_facts", {"interface": "eth9"})["host_facts"]
    assert facts["cpu"] == "unavailable: broken probe failed: no such thing"
    assert facts["interface"].startswith("unavailable: interface eth9:")
