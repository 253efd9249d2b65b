"""The Cloudlab path over SSH: provision.yml, Figure 3 and restore.yml against a stand-in.

Two network namespaces of this machine, ts_dut and ts_lg, joined by a veth pair, stand
in for the two Cloudlab nodes. Each gets its own sshd on the root namespace's loopback
(127.0.0.1:22201 and :22202) whose ForceCommand runs every session inside its namespace,
so Ansible reaches them exactly as it reaches Cloudlab nodes: ssh connection, no netns
plugin. The inventory is written by cloudlab.manifest.write_inventory from a manifest
fixture (the code path of `make inventory`); a group_vars file per group overrides only
what must differ for the stand-in (key, known_hosts, interpreter, paths, CPUs, and the
host-wide tuning of this shared machine, which is left alone).

The tests share the stand-in and run in file order: check-mode provisioning of a fresh
host, a real provisioning (twice: the second changes nothing), Figure 3 with the socket
and XDP hooks, and the restore.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import REPO, ansible_env

from analysis import parsers
from cloudlab import manifest

SSHD = Path("/usr/sbin/sshd")
MANIFEST = REPO / "tests" / "fixtures" / "ssh" / "manifest_local.xml"
ENDS = {
    # namespace: (interface, address, MAC, ssh port) - as in the manifest fixture.
    "ts_dut": ("ts-dut", "192.168.1.1/24", "0e:74:73:00:01:01", 22201),
    "ts_lg": ("ts-lg", "192.168.1.2/24", "0e:74:73:00:01:02", 22202),
}
REQUESTS = 2000
PLAYBOOK_TIMEOUT = 900

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not SSHD.exists() or shutil.which("ssh") is None,
    reason="needs root, sshd (openssh-server, `make setup`) and ssh",
)


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def in_ns(ns: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", ns, *argv, check=False)


# The stand-in ------------------------------------------------------------------------


def remove_namespaces() -> None:
    for ns in ENDS:
        sh("ip", "netns", "del", ns, check=False)


def create_namespaces() -> None:
    remove_namespaces()
    for ns in ENDS:
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    (dut_if, *_), (lg_if, *_) = ENDS["ts_dut"], ENDS["ts_lg"]
    sh("ip", "link", "add", dut_if, "netns", "ts_dut", "type", "veth",
       "peer", "name", lg_if, "netns", "ts_lg")  # fmt: skip
    for ns, (ifname, address, mac, _) in ENDS.items():
        sh("ip", "-n", ns, "link", "set", "dev", ifname, "address", mac, "mtu", "1500")
        sh("ip", "-n", ns, "addr", "add", address, "dev", ifname)
        sh("ip", "-n", ns, "link", "set", "dev", ifname, "up")


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def descendants(pid: int) -> list[int]:
    """Processes below `pid` (sshd's per-connection children and their sessions)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_start(pid: int) -> str | None:
    """Start time of a live process (None once it is gone or a zombie): tells reused pids apart."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def stop_sshd(process: subprocess.Popen[bytes]) -> None:
    """Stop one sshd we started, its connections and their sessions, by process id."""
    started = {pid: process_start(pid) for pid in [*descendants(process.pid), process.pid]}
    ours = {pid: start for pid, start in started.items() if start is not None}

    def alive() -> list[int]:
        return [pid for pid, start in ours.items() if process_start(pid) == start]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and alive():
            process.poll()
            time.sleep(0.1)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def start_sshd(root: Path, ns: str, port: int, authorized: Path) -> subprocess.Popen[bytes]:
    if port_open(port):
        pytest.fail(f"127.0.0.1:{port} is taken: the SSH stand-in needs it (another run?)")
    host_key = root / f"host_{ns}"
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key))
    config = root / f"sshd_{ns}.conf"
    config.write_text(
        f"ListenAddress 127.0.0.1:{port}\n"
        f"HostKey {host_key}\n"
        "PidFile none\n"
        f"AuthorizedKeysFile {authorized}\n"
        "AllowUsers root\n"
        "PermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "PrintMotd no\n"
        # Every session - commands and Ansible's piped transfers - runs in the namespace.
        f'ForceCommand exec ip netns exec {ns} /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = (root / f"sshd_{ns}.log").open("wb")
    process = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=log, start_new_session=True
    )
    deadline = time.monotonic() + 10
    while not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_sshd(process)
            pytest.fail(f"sshd for {ns} did not start: {(root / f'sshd_{ns}.log').read_text()}")
        time.sleep(0.1)
    return process


@dataclass
class StandIn:
    root: Path
    inventory: Path
    key: Path
    src: Path
    build: Path
    results: Path
    env: dict[str, str]
    runs: int = 0

    def playbook(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i", str(self.inventory),
            str(REPO / "playbooks" / name),
            "-e", f"results_root={self.results}",
            *args,
        ]  # fmt: skip
        result = subprocess.run(
            command, cwd=REPO, env=self.env, capture_output=True, text=True,
            timeout=PLAYBOOK_TIMEOUT, check=False,
        )  # fmt: skip
        self.runs += 1
        log = self.root / f"{self.runs:02d}-{Path(name).stem}.log"
        log.write_text(result.stdout + result.stderr)
        return result

    def saved_tuning(self, host: str) -> Path:
        return self.root / "state" / f"tuning-saved-{host}.json"


def write_inventory(root: Path, key: Path) -> Path:
    """hosts.yml from the manifest, the back end's group_vars/all.yml, and the overrides."""
    inventory = root / "inventory"
    manifest.write_inventory(MANIFEST, inventory / "hosts.yml")
    group_vars = inventory / "group_vars"
    group_vars.mkdir(parents=True)
    shutil.copy(REPO / "inventory" / "cloudlab" / "group_vars" / "all.yml", group_vars)
    stand_in = {
        # The test key, a known_hosts of our own; no sftp behind the ForceCommand.
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={root / 'known_hosts'} -o IdentitiesOnly=yes "
            "-o ServerAliveInterval=30 -o ServerAliveCountMax=10"
        ),
        "ansible_ssh_transfer_method": "piped",
        # The namespaces share this machine's file system and virtualenv; we are root.
        "ansible_python_interpreter": sys.executable,
        "ansible_become": False,
        "testbed_kind": "cloudlab",
        "testbed_src_dir": str(root / "src"),
        "testbed_build_dir": str(root / "build"),
        "testbed_work_dir": str(root / "work"),
        "testbed_bpffs": str(root / "bpffs"),
        "testbed_state_dir": str(root / "state"),
        "tuning_saved_file": str(root / "state" / "tuning-saved-{{ inventory_hostname }}.json"),
        # This machine's CPU, memory and sysctls are shared with everything else it runs:
        # the stand-in tunes (and restores) the interface knobs only.
        "tuning_host_wide": False,
        "tuning_allow_drift": True,
        # Mutilate needs git access to its repository, which this machine has not.
        "mutilate_enabled": False,
    }
    for group, cpu in (("dut", 1), ("loadgen", 0)):
        text = yaml.safe_dump({**stand_in, "testbed_cpu": cpu}, sort_keys=False)
        (group_vars / f"{group}.yml").write_text("---\n" + text)
    return inventory


def mount_bpffs(path: Path) -> None:
    path.mkdir()
    sh("mount", "-t", "bpf", "bpf", str(path))


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    root = tmp_path_factory.mktemp("ssh")
    key = root / "id_ed25519"
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ssh-path-test", "-f", str(key))
    authorized = root / "authorized_keys"
    authorized.write_text(Path(f"{key}.pub").read_text())
    sshds: list[subprocess.Popen[bytes]] = []
    bpffs = root / "bpffs"
    try:
        create_namespaces()
        mount_bpffs(bpffs)
        for ns, (*_, port) in ENDS.items():
            sshds.append(start_sshd(root, ns, port, authorized))
        env = dict(
            ansible_env(),
            ANSIBLE_SSH_CONTROL_PATH_DIR=str(root / "cp"),
            ANSIBLE_HOST_KEY_CHECKING="False",
        )
        yield StandIn(
            root=root,
            inventory=write_inventory(root, key),
            key=key,
            src=root / "src",
            build=root / "build",
            results=root / "results",
            env=env,
        )
    finally:
        for process in sshds:
            stop_sshd(process)
        for ns in ENDS:
            in_ns(ns, "ip", "link", "set", "dev", ENDS[ns][0], "xdp", "off")
        remove_namespaces()
        sh("umount", str(bpffs), check=False)


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP lines -> {host: {ok, changed, failed, ...}}."""
    hosts = {}
    for line in output.splitlines():
        match = re.match(r"^(\S+)\s+:\s+(ok=.*)$", line)
        if match:
            hosts[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
    return hosts


def tail(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-6000:]


# The tests -----------------------------------------------------------------------------


def test_the_stand_in_lands_in_its_namespace(stand_in: StandIn) -> None:
    for ns, (ifname, *_, port) in ENDS.items():
        out = sh(
            "ssh", "-i", str(stand_in.key), "-p", str(port), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no",
            "-o", f"UserKnownHostsFile={stand_in.root / 'known_hosts'}",
            "root@127.0.0.1", "ip -o link show",
        )  # fmt: skip
        assert ifname in out.stdout, f"{ns}: {out.stdout}"


def test_provision_check_mode_on_a_fresh_host(stand_in: StandIn) -> None:
    result = stand_in.playbook("provision.yml", "--check")
    assert result.returncode == 0, tail(result)
    hosts = recap(result.stdout)
    assert set(hosts) == {"cloudlab-dut", "cloudlab-loadgen"}, hosts
    assert all(h["failed"] == 0 and h["unreachable"] == 0 for h in hosts.values()), hosts
    assert not stand_in.src.exists(), "check mode must not copy the sources"
    assert not stand_in.saved_tuning("cloudlab-dut").exists(), "check mode must not tune"


def test_provision_over_ssh_then_again_changes_nothing(stand_in: StandIn) -> None:
    # The namespaces have no network for apt; the packages are those of `make setup`.
    first = stand_in.playbook("provision.yml", "--skip-tags", "deps")
    assert first.returncode == 0, tail(first)
    assert (stand_in.src / "Makefile").exists()
    assert not (stand_in.src / "build").exists(), "the controller's build outputs stay home"
    assert (stand_in.build / "bpf" / "echo_xdp.bpf.o").exists()
    assert (stand_in.build / "bin" / "echo_server").exists()
    saved = json.loads(stand_in.saved_tuning("cloudlab-dut").read_text())
    assert saved["knobs"]["offloads"]["interface"] == "ts-dut"
    features = in_ns("ts_dut", "ethtool", "-k", "ts-dut").stdout
    assert "generic-segmentation-offload: off" in features
    second = stand_in.playbook("provision.yml", "--skip-tags", "deps")
    assert second.returncode == 0, tail(second)
    changed = {host: counts["changed"] for host, counts in recap(second.stdout).items()}
    assert changed == {"cloudlab-dut": 0, "cloudlab-loadgen": 0}, tail(second)


def give_the_load_generator_a_receive_path(stand_in: StandIn) -> None:
    """What prepare.yml does on the local testbed only (see docs/design.md, Local testbed)."""
    napi = stand_in.build / "bpf" / "testbed_napi.bpf.o"
    attach = in_ns("ts_lg", "ip", "link", "set", "dev", "ts-lg", "xdpdrv", "obj", str(napi),
                   "sec", "xdp")  # fmt: skip
    assert attach.returncode == 0, attach.stderr
    offload = in_ns("ts_lg", "ethtool", "-K", "ts-lg", "tx", "off")
    assert offload.returncode == 0, offload.stderr


def test_fig3_over_ssh(stand_in: StandIn) -> None:
    give_the_load_generator_a_receive_path(stand_in)
    result = stand_in.playbook(
        "fig3_echo.yml",
        "-e", "hooks=socket,xdp",
        "-e", f"fig3_echo_requests={REQUESTS}",
        "-e", "fig3_echo_warmup=200",
    )  # fmt: skip
    assert result.returncode == 0, tail(result)
    exp = stand_in.results / "latest" / "fig3_echo"
    status = json.loads((exp / "status.json").read_text())
    assert status["status"] == "complete", status
    for hook in ("socket", "xdp"):
        samples = parsers.parse_samples(exp / "raw" / hook / "samples.txt")
        assert len(samples) == REQUESTS, f"{hook}: {len(samples)} samples"
    assert (exp / "hosts" / "cloudlab-dut.json").exists()
    assert json.loads((exp / "params.json").read_text())["testbed"] == "cloudlab"


def test_restore_over_ssh(stand_in: StandIn) -> None:
    # restore.yml's cleanup detaches what the testbed attached; this XDP program the test
    # attached itself. While it is there, the DUT's veth cannot get TSO back.
    detach = in_ns("ts_lg", "ip", "link", "set", "dev", "ts-lg", "xdp", "off")
    assert detach.returncode == 0, detach.stderr
    result = stand_in.playbook("restore.yml")
    assert result.returncode == 0, tail(result)
    assert not stand_in.saved_tuning("cloudlab-dut").exists()
    features = in_ns("ts_dut", "ethtool", "-k", "ts-dut").stdout
    assert "generic-segmentation-offload: on" in features
    assert "tcp-segmentation-offload: on" in features
    again = stand_in.playbook("restore.yml")
    assert again.returncode == 0, tail(again)
