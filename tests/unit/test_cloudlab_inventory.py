"""The generated hosts.yml, with the back end's group_vars, is an inventory Ansible reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cloudlab import manifest as cm

REPO = Path(__file__).resolve().parents[2]

FIXTURES = REPO / "tests" / "fixtures" / "cloudlab"
GROUP_VARS = REPO / "inventory" / "cloudlab" / "group_vars"
ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"


def ansible_inventory(inventory_dir: Path, home: Path) -> dict:
    if not ANSIBLE_INVENTORY.exists():
        pytest.skip(f"{ANSIBLE_INVENTORY} is not installed (make setup installs it)")
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        # A file Ansible cannot parse must fail the test, not become a warning.
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        "ANSIBLE_INVENTORY_ENABLED": "yaml",
    }
    env.pop("ANSIBLE_CONFIG", None)
    result = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(inventory_dir), "--list"],
        cwd=home,  # no ansible.cfg there: only the inventory under test is read
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def inventory_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "cloudlab"
    directory.mkdir()
    shutil.copytree(GROUP_VARS, directory / "group_vars")
    return directory


def test_group_vars_set_the_back_end_defaults():
    defaults = yaml.safe_load((GROUP_VARS / "all.yml").read_text())
    assert defaults["testbed_kind"] == "cloudlab"
    assert defaults["ansible_python_interpreter"] == "/usr/bin/python3"
    assert defaults["ansible_become"] is True


def test_ansible_reads_the_generated_inventory(inventory_dir, tmp_path):
    cm.write_inventory(FIXTURES / "manifest_sm110p.xml", inventory_dir / "hosts.yml", user="lchen")
    listed = ansible_inventory(inventory_dir, tmp_path)
    assert listed["dut"]["hosts"] == ["cloudlab-dut"]
    assert listed["loadgen"]["hosts"] == ["cloudlab-loadgen"]
    dut = listed["_meta"]["hostvars"]["cloudlab-dut"]
    loadgen = listed["_meta"]["hostvars"]["cloudlab-loadgen"]
    assert (dut["testbed_exp_ip"], dut["testbed_exp_prefix"]) == ("192.168.1.1", 24)
    assert (loadgen["testbed_exp_ip"], loadgen["testbed_exp_prefix"]) == ("192.168.1.2", 24)
    assert dut["testbed_exp_mac"] == "0c:42:a1:dd:5f:8e"
    assert dut["testbed_peer_ip"] == loadgen["testbed_exp_ip"]
    assert loadgen["testbed_peer_mac"] == dut["testbed_exp_mac"]
    for host in (dut, loadgen):
        assert host["ansible_user"] == "lchen"
        assert host["ansible_port"] == 22
        assert host["testbed_kind"] == "cloudlab"
        assert host["ansible_become"] is True
        assert host["ansible_python_interpreter"] == "/usr/bin/python3"
        assert host["cloudlab_experiment"] == "ebpf-repro"


def test_ansible_keeps_an_all_digit_mac_a_string(inventory_dir, tmp_path):
    manifest = tmp_path / "manifest.xml"
    text = (FIXTURES / "manifest_sm110p.xml").read_text()
    manifest.write_text(text.replace("0c42a1dd5f8e", "101020304050"))
    cm.write_inventory(manifest, inventory_dir / "hosts.yml", user="rkumar")
    listed = ansible_inventory(inventory_dir, tmp_path)
    assert listed["_meta"]["hostvars"]["cloudlab-dut"]["testbed_exp_mac"] == "10:10:20:30:40:50"
    assert (
        listed["_meta"]["hostvars"]["cloudlab-loadgen"]["testbed_peer_mac"] == "10:10:20:30:40:50"
    )


def test_ansible_reads_hosts_with_other_node_names(inventory_dir, tmp_path):
    manifest = tmp_path / "manifest.xml"
    text = (FIXTURES / "manifest_sm110p.xml").read_text()
    manifest.write_text(text.replace('"dut', '"node0').replace('"loadgen', '"node1'))
    cm.write_inventory(
        manifest, inventory_dir / "hosts.yml", user="rkumar", dut="node0", loadgen="node1"
    )
    listed = ansible_inventory(inventory_dir, tmp_path)
    assert listed["dut"]["hosts"] == ["cloudlab-node0"]
    assert listed["loadgen"]["hosts"] == ["cloudlab-node1"]
