"""Parsing Cloudlab manifests into the inventory, and every error the user can meet."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cloudlab import manifest as cm

REPO = Path(__file__).resolve().parents[2]

FIXTURES = REPO / "tests" / "fixtures" / "cloudlab"
MAIN = FIXTURES / "manifest_sm110p.xml"


def variant(tmp_path: Path, edit, source: Path = MAIN, name: str = "manifest.xml") -> Path:
    """A copy of a fixture changed by edit(text) -> text."""
    text = source.read_text()
    changed = edit(text)
    assert changed != text, "the edit did not change the fixture"
    path = tmp_path / name
    path.write_text(changed)
    return path


def drop_node(text: str, client_id: str) -> str:
    return re.sub(rf'  <node [^>]*client_id="{client_id}".*?</node>\n', "", text, flags=re.S)


def inventory_of(path: Path, tmp_path: Path, **options) -> dict:
    output = tmp_path / "inventory" / "hosts.yml"
    written = cm.write_inventory(path, output, **options)
    loaded = yaml.safe_load(output.read_text())
    assert loaded == written
    return loaded


def hosts(inventory: dict, group: str) -> dict:
    return inventory["all"]["children"][group]["hosts"]


def error_of(path: Path, **options) -> str:
    with pytest.raises(cm.ManifestError) as caught:
        cm.build_inventory(cm.load_manifest(path), **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


# What a good manifest gives --------------------------------------------------------------


def test_writes_both_hosts_with_the_chosen_users_login(tmp_path):
    inventory = inventory_of(MAIN, tmp_path, user="lchen")
    dut = hosts(inventory, "dut")
    loadgen = hosts(inventory, "loadgen")
    assert list(dut) == ["cloudlab-dut"]
    assert list(loadgen) == ["cloudlab-loadgen"]
    assert dut["cloudlab-dut"] == {
        "ansible_host": "sm110p-10s10613.wisc.cloudlab.us",
        "ansible_port": 22,
        "ansible_user": "lchen",
        "testbed_exp_ip": "192.168.1.1",
        "testbed_exp_prefix": 24,
        "testbed_exp_netmask": "255.255.255.0",
        "testbed_exp_mac": "0c:42:a1:dd:5f:8e",
        "testbed_peer_ip": "192.168.1.2",
        "testbed_peer_mac": "0c:42:a1:dd:60:b2",
        "testbed_hardware_type": "sm110p",
        "cloudlab_node": "sm110p-10s10613",
        "cloudlab_component_id": "urn:publicid:IDN+wisc.cloudlab.us+node+sm110p-10s10613",
        "cloudlab_control_hostname": "dut.ebpf-repro.EBPFPerf.wisc.cloudlab.us",
        "cloudlab_control_ip": "128.105.145.113",
        "cloudlab_disk_image": "urn:publicid:IDN+emulab.net+image+emulab-ops//UBUNTU22-64-STD",
    }
    assert loadgen["cloudlab-loadgen"]["ansible_host"] == "sm110p-10s10619.wisc.cloudlab.us"
    assert loadgen["cloudlab-loadgen"]["testbed_exp_ip"] == "192.168.1.2"
    assert loadgen["cloudlab-loadgen"]["testbed_exp_mac"] == "0c:42:a1:dd:60:b2"
    assert loadgen["cloudlab-loadgen"]["testbed_peer_ip"] == "192.168.1.1"
    assert loadgen["cloudlab-loadgen"]["testbed_peer_mac"] == "0c:42:a1:dd:5f:8e"


def test_records_the_experiment_and_the_manifest_digest(tmp_path):
    run_vars = inventory_of(MAIN, tmp_path, user="rkumar")["all"]["vars"]
    assert run_vars["cloudlab_project"] == "EBPFPerf"
    assert run_vars["cloudlab_experiment"] == "ebpf-repro"
    assert run_vars["cloudlab_portal_url"].startswith("https://www.cloudlab.us/status.php?uuid=")
    assert re.fullmatch(r"[0-9a-f]{64}", run_vars["cloudlab_manifest_sha256"])


def test_the_only_login_is_used_when_no_user_is_given(tmp_path):
    inventory = inventory_of(FIXTURES / "manifest_single_user.xml", tmp_path)
    assert hosts(inventory, "dut")["cloudlab-dut"]["ansible_user"] == "rkumar"
    assert hosts(inventory, "loadgen")["cloudlab-loadgen"]["ansible_user"] == "rkumar"


def test_login_port_comes_from_the_manifest(tmp_path):
    path = variant(
        tmp_path,
        lambda t: t.replace(
            'hostname="sm110p-10s10613.wisc.cloudlab.us" port="22" username="lchen"',
            'hostname="pc1.example.test" port="30022" username="lchen"',
        ),
    )
    dut = hosts(inventory_of(path, tmp_path, user="lchen"), "dut")["cloudlab-dut"]
    assert (dut["ansible_host"], dut["ansible_port"]) == ("pc1.example.test", 30022)


@pytest.mark.parametrize(
    ("raw", "formatted"),
    [
        ("0c42a1dd5f8e", "0c:42:a1:dd:5f:8e"),
        ("0C42A1DD5F8E", "0c:42:a1:dd:5f:8e"),
        ("0c:42:a1:dd:5f:8e", "0c:42:a1:dd:5f:8e"),
    ],
)
def test_mac_gets_colons(raw, formatted):
    assert cm.format_mac(raw) == formatted


@pytest.mark.parametrize("raw", ["0c42a1dd5f", "0c42a1dd5f8e00", "0c42a1dd5fzz"])
def test_malformed_mac_is_refused(raw):
    with pytest.raises(cm.ManifestError, match="malformed mac_address"):
        cm.format_mac(raw, "dut:if0", "manifest.xml")


def test_all_digit_mac_stays_a_string(tmp_path):
    # "10:10:20:30:40:50" would be a base-60 integer to a YAML 1.1 reader if left bare.
    path = variant(tmp_path, lambda t: t.replace("0c42a1dd5f8e", "101020304050"))
    text_inventory = inventory_of(path, tmp_path, user="lchen")
    assert hosts(text_inventory, "dut")["cloudlab-dut"]["testbed_exp_mac"] == "10:10:20:30:40:50"


@pytest.mark.parametrize(
    ("netmask", "prefix"),
    [("255.255.255.0", 24), ("255.255.0.0", 16), ("255.255.255.252", 30), ("255.0.0.0", 8)],
)
def test_prefix_from_netmask(netmask, prefix):
    assert cm.prefix_length(netmask) == prefix


def test_non_contiguous_netmask_is_refused(tmp_path):
    path = variant(
        tmp_path, lambda t: t.replace('netmask="255.255.255.0"', 'netmask="255.0.255.0"')
    )
    assert "invalid IPv4 address or netmask" in error_of(path, user="lchen")


def test_prefix_follows_the_manifest_netmask(tmp_path):
    path = variant(
        tmp_path, lambda t: t.replace('netmask="255.255.255.0"', 'netmask="255.255.0.0"')
    )
    dut = hosts(inventory_of(path, tmp_path, user="lchen"), "dut")["cloudlab-dut"]
    assert (dut["testbed_exp_prefix"], dut["testbed_exp_netmask"]) == (16, "255.255.0.0")


def test_vnode_hardware_type_wins_over_the_requested_one(tmp_path):
    path = variant(
        tmp_path,
        lambda t: t.replace('<hardware_type name="sm110p"/>', '<hardware_type name="d430"/>'),
    )
    dut = hosts(inventory_of(path, tmp_path, user="lchen"), "dut")["cloudlab-dut"]
    assert dut["testbed_hardware_type"] == "sm110p"


def test_hardware_type_element_is_used_without_vnode(tmp_path):
    path = variant(tmp_path, lambda t: re.sub(r"\n    <emulab:vnode [^>]*/>", "", t))
    dut = hosts(inventory_of(path, tmp_path, user="lchen"), "dut")["cloudlab-dut"]
    assert dut["testbed_hardware_type"] == "sm110p"
    assert dut["cloudlab_node"] == "sm110p-10s10613"  # from the component_id


def test_manifest_labelled_request_by_the_portal_is_still_read(tmp_path):
    path = variant(tmp_path, lambda t: t.replace('type="manifest"', 'type="request"'))
    dut = hosts(inventory_of(path, tmp_path, user="rkumar"), "dut")["cloudlab-dut"]
    assert dut["testbed_exp_ip"] == "192.168.1.1"


def test_other_node_names_are_chosen_with_options(tmp_path):
    path = variant(tmp_path, lambda t: t.replace('"dut', '"node0').replace('"loadgen', '"node1'))
    inventory = inventory_of(path, tmp_path, user="lchen", dut="node0", loadgen="node1")
    assert list(hosts(inventory, "dut")) == ["cloudlab-node0"]
    assert list(hosts(inventory, "loadgen")) == ["cloudlab-node1"]
    assert hosts(inventory, "loadgen")["cloudlab-node1"]["testbed_peer_ip"] == "192.168.1.1"


def test_an_extra_node_off_the_link_is_ignored(tmp_path):
    extra = (
        '  <node client_id="monitor" component_id="urn:publicid:IDN+wisc.cloudlab.us+node+'
        'c220g5-110531"><services><login authentication="ssh-keys" hostname="c220g5-110531'
        '.wisc.cloudlab.us" port="22" username="lchen"/></services></node>\n  <link '
    )
    path = variant(tmp_path, lambda t: t.replace("  <link ", extra, 1))
    inventory = inventory_of(path, tmp_path, user="lchen")
    assert set(inventory["all"]["children"]) == {"dut", "loadgen"}


# Errors: one line, naming what is missing and the fix -----------------------------------


def test_malformed_xml():
    message = error_of(FIXTURES / "manifest_malformed.xml")
    assert "manifest_malformed.xml is not well-formed XML" in message
    assert "Manifest tab" in message


def test_saved_web_page_is_not_an_rspec(tmp_path):
    page = tmp_path / "manifest.xml"
    page.write_text("<html><body><p>Experiment status</p></body></html>")
    assert "is not a GENI RSpec v3 document" in error_of(page)


def test_request_rspec_is_not_a_manifest():
    message = error_of(FIXTURES / "request_sm110p.xml")
    assert "request_sm110p.xml is a request RSpec" in message
    assert "no ssh logins and no MAC addresses" in message
    assert "Manifest tab" in message


def test_missing_file(tmp_path):
    assert "cannot read" in error_of(tmp_path / "absent.xml")


def test_missing_loadgen_names_the_nodes_present():
    message = error_of(FIXTURES / "manifest_missing_loadgen.xml", user="lchen")
    assert message.endswith(
        "node 'loadgen' not found in "
        f"{FIXTURES / 'manifest_missing_loadgen.xml'}; nodes present: dut, node1; "
        "pass --loadgen node1"
    )


def test_default_node_names_suggest_both_options(tmp_path):
    path = variant(tmp_path, lambda t: t.replace('"dut', '"node0').replace('"loadgen', '"node1'))
    assert error_of(path, user="lchen") == (
        f"nodes 'dut' and 'loadgen' not found in {path}; nodes present: node0, node1; "
        "pass --dut node0 --loadgen node1"
    )


def test_single_node_experiment_points_to_the_profile(tmp_path):
    path = variant(tmp_path, lambda t: drop_node(t, "loadgen"))
    message = error_of(path, user="lchen")
    assert "node 'loadgen' not found" in message
    assert "nodes present: dut;" in message
    assert "cloudlab/profile.py" in message


def test_same_node_for_both_roles():
    assert "name node 'dut'" in error_of(MAIN, user="lchen", dut="dut", loadgen="dut")


def test_several_users_and_none_chosen_lists_them():
    message = error_of(MAIN)
    assert "several users (rkumar, lchen)" in message
    assert "--user NAME" in message
    assert "CLOUDLAB_USER" in message


def test_user_without_login_lists_the_logins():
    message = error_of(FIXTURES / "manifest_single_user.xml", user="lchen")
    assert message.startswith("no login for user 'lchen' on node 'dut'")
    assert "logins present: rkumar" in message


def test_user_names_are_case_sensitive():
    assert "case-sensitive" in error_of(MAIN, user="LChen")


def test_node_not_ready_has_no_login(tmp_path):
    path = variant(
        tmp_path,
        lambda t: re.sub(r"\n      <login [^>]*sm110p-10s10619[^>]*/>", "", t),
    )
    message = error_of(path, user="lchen")
    assert message.startswith("node 'loadgen' has no ssh login")
    assert "once the experiment is ready" in message


def test_no_experiment_ip():
    message = error_of(FIXTURES / "manifest_no_ip.xml", user="lchen")
    assert message.startswith("node 'dut' has no experiment interface IP in")
    assert "pg.IPv4Address" in message


def test_no_experiment_ip_is_reported_before_the_user_question():
    assert "no experiment interface IP" in error_of(FIXTURES / "manifest_no_ip.xml")


def test_no_link_between_the_nodes(tmp_path):
    path = variant(tmp_path, lambda t: re.sub(r"  <link .*?</link>\n", "", t, flags=re.S))
    assert "no link joins nodes 'dut' and 'loadgen'" in error_of(path, user="lchen")


def test_two_links_between_the_nodes(tmp_path):
    def add_second_link(text: str) -> str:
        link = re.search(r"  <link .*?</link>\n", text, flags=re.S).group(0)
        return text.replace(link, link + link.replace('client_id="link"', 'client_id="link2"'))

    message = error_of(variant(tmp_path, add_second_link), user="lchen")
    assert "share 2 links" in message
    assert "(link, link2)" in message


def test_interface_without_mac(tmp_path):
    path = variant(tmp_path, lambda t: t.replace(' mac_address="0c42a1dd60b2"', ""))
    message = error_of(path, user="lchen")
    assert "'loadgen:if0'" in message
    assert "no mac_address" in message


def test_public_experiment_address_is_refused(tmp_path):
    path = variant(tmp_path, lambda t: t.replace('"192.168.1.', '"128.105.1.'))
    assert "is not a private address" in error_of(path, user="lchen")


def test_addresses_of_different_subnets_are_refused(tmp_path):
    path = variant(tmp_path, lambda t: t.replace('"192.168.1.2"', '"192.168.2.2"'))
    assert "not two hosts of one subnet" in error_of(path, user="lchen")


# Writing: all or nothing -----------------------------------------------------------------


def test_failure_leaves_the_previous_inventory(tmp_path):
    output = tmp_path / "hosts.yml"
    output.write_text("previous inventory\n")
    with pytest.raises(cm.ManifestError):
        cm.write_inventory(FIXTURES / "manifest_no_ip.xml", output, user="lchen")
    assert output.read_text() == "previous inventory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hosts.yml"]


def test_failed_replace_leaves_no_partial_file(tmp_path, monkeypatch):
    output = tmp_path / "hosts.yml"
    output.write_text("previous inventory\n")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cm.os, "replace", refuse)
    with pytest.raises(cm.ManifestError, match=r"cannot write .*No space left on device"):
        cm.write_inventory(MAIN, output, user="lchen")
    assert output.read_text() == "previous inventory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hosts.yml"]


def test_group_vars_beside_the_output_are_untouched(tmp_path):
    group_vars = tmp_path / "group_vars" / "all.yml"
    group_vars.parent.mkdir()
    group_vars.write_text("testbed_kind: cloudlab\n")
    output = tmp_path / "hosts.yml"
    cm.write_inventory(MAIN, output, user="lchen")
    assert group_vars.read_text() == "testbed_kind: cloudlab\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["group_vars", "hosts.yml"]
    assert output.stat().st_mode & 0o777 == 0o644
    assert output.read_text().startswith("# Generated by `python -m cloudlab.manifest`")


# Command line ------------------------------------------------------------------------------


def run_cli(*args: str, module: bool = True) -> subprocess.CompletedProcess[str]:
    entry = ["-m", "cloudlab.manifest"] if module else [str(REPO / "cloudlab" / "manifest.py")]
    return subprocess.run(
        [sys.executable, *entry, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


@pytest.mark.parametrize("module", [True, False], ids=["python-m", "script"])
def test_cli_writes_the_inventory(tmp_path, module):
    output = tmp_path / "hosts.yml"
    result = run_cli(str(MAIN), "--user", "rkumar", "--output", str(output), module=module)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"wrote {output}" in result.stdout
    written = yaml.safe_load(output.read_text())
    assert hosts(written, "dut")["cloudlab-dut"]["ansible_user"] == "rkumar"


@pytest.mark.parametrize(
    ("fixture", "args", "expected"),
    [
        ("manifest_malformed.xml", [], "not well-formed XML"),
        ("request_sm110p.xml", [], "is a request RSpec"),
        ("manifest_missing_loadgen.xml", ["--user", "lchen"], "pass --loadgen node1"),
        ("manifest_single_user.xml", ["--user", "lchen"], "no login for user 'lchen'"),
        ("manifest_no_ip.xml", ["--user", "lchen"], "no experiment interface IP"),
        ("manifest_sm110p.xml", [], "several users (rkumar, lchen)"),
        ("manifest_sm110p.xml", ["--dut", "node0"], "pass --dut"),
    ],
)
def test_cli_errors_are_one_line_with_exit_status_2(tmp_path, fixture, args, expected):
    output = tmp_path / "hosts.yml"
    result = run_cli(str(FIXTURES / fixture), *args, "--output", str(output))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()
