"""Write the Ansible inventory of the Cloudlab back end from an experiment's manifest RSpec.

    python -m cloudlab.manifest MANIFEST [--user NAME] [--output PATH] [--dut NAME]
                                         [--loadgen NAME]

The manifest is the GENI RSpec v3 document the Cloudlab portal shows in an experiment's
"Manifest" tab once the nodes are ready. It names the physical nodes, the ssh login of
every project member, and the MAC and IPv4 address of each experiment interface. The
inventory gets two groups, `dut` and `loadgen`, with one host each; see docs/cloudlab.md
for the variables of each host. Any problem is reported in one line on stderr with its
fix, the exit status is 2 and the output file is left as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import ipaddress
import os
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RSPEC_NS = "http://www.geni.net/resources/rspec/3"
EMULAB_NS = "http://www.protogeni.net/resources/rspec/ext/emulab/1"
NS = {"rspec": RSPEC_NS, "emulab": EMULAB_NS}

DEFAULT_OUTPUT = Path("inventory/cloudlab/hosts.yml")
DEFAULT_DUT = "dut"
DEFAULT_LOADGEN = "loadgen"
EXIT_ERROR = 2
SSH_PORT = 22
MAC_HEX_DIGITS = 12

FETCH_HINT = "once the experiment is ready, save its Manifest tab again"
PROFILE_HINT = "instantiate cloudlab/profile.py, which requests it"
USER_HINT = "pass --user NAME (CLOUDLAB_USER=NAME with make)"


class ManifestError(Exception):
    """A problem with the manifest or the options, told in one line with its fix."""


@dataclass(frozen=True)
class Login:
    username: str
    hostname: str
    port: int


@dataclass(frozen=True)
class Interface:
    client_id: str
    mac: str | None
    ip: str | None
    netmask: str | None


@dataclass(frozen=True)
class Node:
    client_id: str
    component_id: str | None
    physical_name: str | None
    hardware_type: str | None
    disk_image: str | None
    control_hostname: str | None
    control_ip: str | None
    logins: tuple[Login, ...]
    interfaces: tuple[Interface, ...]


@dataclass(frozen=True)
class Link:
    client_id: str
    interface_ids: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    source: str
    sha256: str
    nodes: dict[str, Node]
    links: tuple[Link, ...]
    project: str | None
    experiment: str | None
    portal_url: str | None


@dataclass(frozen=True)
class Endpoint:
    """One end of the experiment link, as the inventory describes it."""

    node: Node
    login: Login
    interface: Interface
    prefix: int


# Reading the manifest ------------------------------------------------------------------


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Parse a manifest RSpec file; raise ManifestError if it is not one."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ManifestError(
            f"cannot read {source}: {err.strerror}; save the experiment's Manifest tab there"
        ) from None
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise ManifestError(f"{source} is not well-formed XML ({err}); {FETCH_HINT}") from None
    _check_root(root, source)
    nodes: dict[str, Node] = {}
    for element in root.findall("rspec:node", NS):
        node = _parse_node(element, source)
        nodes.setdefault(node.client_id, node)
    _check_is_manifest(root, nodes, source)
    portal = root.find("emulab:portal", NS)
    return Manifest(
        source=source,
        sha256=hashlib.sha256(data).hexdigest(),
        nodes=nodes,
        links=tuple(_parse_link(element) for element in root.findall("rspec:link", NS)),
        project=_attribute(portal, "project"),
        experiment=_attribute(portal, "experiment"),
        portal_url=_attribute(portal, "url"),
    )


def _check_root(root: ET.Element, source: str) -> None:
    if root.tag != f"{{{RSPEC_NS}}}rspec":
        raise ManifestError(
            f"{source} is not a GENI RSpec v3 document (its root element is {root.tag}, "
            f"not rspec in {RSPEC_NS}); {FETCH_HINT}"
        )
    if root.get("type") == "advertisement":
        raise ManifestError(
            f"{source} is an advertisement RSpec, not a manifest; save the Manifest tab "
            "of your experiment instead"
        )


def _check_is_manifest(root: ET.Element, nodes: dict[str, Node], source: str) -> None:
    """A request lists no logins and no MACs; the portal may label a manifest "request"."""
    has_logins = any(node.logins for node in nodes.values())
    has_macs = any(intf.mac for node in nodes.values() for intf in node.interfaces)
    if has_logins or has_macs:
        return
    kind = "a request RSpec" if root.get("type") == "request" else "not a usable manifest"
    raise ManifestError(
        f"{source} is {kind}: it lists no ssh logins and no MAC addresses; once the "
        "experiment is ready, save its Manifest tab instead"
    )


def _attribute(element: ET.Element | None, name: str) -> str | None:
    if element is None:
        return None
    value = element.get(name, "").strip()
    return value or None


def _parse_node(element: ET.Element, source: str) -> Node:
    client_id = element.get("client_id", "").strip()
    component_id = _attribute(element, "component_id")
    vnode = element.find("emulab:vnode", NS)
    host = element.find("rspec:host", NS)
    physical_name = _attribute(vnode, "name")
    if physical_name is None and component_id:
        physical_name = component_id.rsplit("+", 1)[-1]
    return Node(
        client_id=client_id,
        component_id=component_id,
        physical_name=physical_name,
        hardware_type=_attribute(vnode, "hardware_type")
        or _attribute(element.find("rspec:hardware_type", NS), "name"),
        disk_image=_attribute(element.find("rspec:sliver_type/rspec:disk_image", NS), "name")
        or _attribute(vnode, "disk_image"),
        control_hostname=_attribute(host, "name"),
        control_ip=_attribute(host, "ipv4"),
        logins=tuple(
            _parse_login(login, client_id, source)
            for login in element.findall("rspec:services/rspec:login", NS)
            if login.get("authentication", "ssh-keys") == "ssh-keys"
        ),
        interfaces=tuple(
            _parse_interface(intf, source) for intf in element.findall("rspec:interface", NS)
        ),
    )


def _parse_login(element: ET.Element, node: str, source: str) -> Login:
    username = _attribute(element, "username")
    hostname = _attribute(element, "hostname")
    port_text = _attribute(element, "port") or str(SSH_PORT)
    if username is None or hostname is None:
        raise ManifestError(
            f"a login of node '{node}' in {source} lacks its username or hostname; {FETCH_HINT}"
        )
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ManifestError(
            f"the login of '{username}' on node '{node}' in {source} has an invalid port "
            f"'{port_text}'; {FETCH_HINT}"
        )
    return Login(username=username, hostname=hostname, port=int(port_text))


def _parse_interface(element: ET.Element, source: str) -> Interface:
    client_id = element.get("client_id", "").strip()
    ipv4 = next(
        (ip for ip in element.findall("rspec:ip", NS) if ip.get("type", "ipv4") == "ipv4"),
        None,
    )
    mac = _attribute(element, "mac_address")
    return Interface(
        client_id=client_id,
        mac=None if mac is None else format_mac(mac, client_id, source),
        ip=_attribute(ipv4, "address"),
        netmask=_attribute(ipv4, "netmask"),
    )


def _parse_link(element: ET.Element) -> Link:
    return Link(
        client_id=element.get("client_id", "").strip(),
        interface_ids=tuple(
            ref.get("client_id", "").strip() for ref in element.findall("rspec:interface_ref", NS)
        ),
    )


def format_mac(raw: str, interface: str = "?", source: str = "the manifest") -> str:
    """'0c42a1dd5f8e' (the manifest's form) -> '0c:42:a1:dd:5f:8e'."""
    digits = "".join(ch for ch in raw.lower() if ch not in ":-.")
    if len(digits) != MAC_HEX_DIGITS or any(ch not in "0123456789abcdef" for ch in digits):
        raise ManifestError(
            f"interface '{interface}' in {source} has a malformed mac_address '{raw}'; {FETCH_HINT}"
        )
    return ":".join(digits[i : i + 2] for i in range(0, MAC_HEX_DIGITS, 2))


def prefix_length(netmask: str) -> int:
    """'255.255.255.0' -> 24; ValueError for a mask that is not contiguous."""
    return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen


# Choosing what goes into the inventory -------------------------------------------------


def find_nodes(manifest: Manifest, dut: str, loadgen: str) -> tuple[Node, Node]:
    """The DUT and load-generator nodes, or a ManifestError naming the ones present."""
    if dut == loadgen:
        raise ManifestError(
            f"--dut and --loadgen both name node '{dut}'; give the two different nodes"
        )
    wanted = (("--dut", dut), ("--loadgen", loadgen))
    missing = [(option, name) for option, name in wanted if name not in manifest.nodes]
    if not missing:
        return manifest.nodes[dut], manifest.nodes[loadgen]
    present = list(manifest.nodes)
    spare = [name for name in present if name not in (dut, loadgen)]
    if len(spare) >= len(missing):
        hint = "pass " + " ".join(
            f"{option} {name}" for (option, _), name in zip(missing, spare, strict=False)
        )
    else:
        hint = f"the experiment needs both nodes: {PROFILE_HINT}"
    names = " and ".join(f"'{name}'" for _, name in missing)
    noun = "node" if len(missing) == 1 else "nodes"
    raise ManifestError(
        f"{noun} {names} not found in {manifest.source}; nodes present: "
        f"{', '.join(present) or 'none'}; {hint}"
    )


def choose_user(manifest: Manifest, nodes: tuple[Node, ...], user: str | None) -> str:
    """The given user, else the only user with logins, else a ManifestError listing them."""
    if user is not None:
        return user
    names = list(dict.fromkeys(login.username for node in nodes for login in node.logins))
    if len(names) == 1:
        return names[0]
    if not names:
        raise ManifestError(
            f"nodes {', '.join(repr(n.client_id) for n in nodes)} have no ssh login in "
            f"{manifest.source}; {FETCH_HINT}"
        )
    raise ManifestError(
        f"{manifest.source} has logins for several users ({', '.join(names)}); {USER_HINT}"
    )


def login_for(manifest: Manifest, node: Node, user: str) -> Login:
    """The node's ssh login for the user, or a ManifestError listing the users it has."""
    for login in node.logins:
        if login.username == user:
            return login
    if not node.logins:
        raise ManifestError(
            f"node '{node.client_id}' has no ssh login in {manifest.source}; {FETCH_HINT}"
        )
    names = [login.username for login in node.logins]
    case_note = (
        " (user names are case-sensitive)"
        if user.lower() in (name.lower() for name in names)
        else ""
    )
    raise ManifestError(
        f"no login for user '{user}' on node '{node.client_id}' in {manifest.source}"
        f"{case_note}; logins present: {', '.join(names)}; pass --user with one of them "
        "(CLOUDLAB_USER with make)"
    )


def link_interfaces(manifest: Manifest, dut: Node, loadgen: Node) -> tuple[Interface, Interface]:
    """The two interfaces of the one link that joins the DUT and the load generator."""
    joining: list[tuple[Link, Interface, Interface]] = []
    for link in manifest.links:
        ends = [
            next((i for i in node.interfaces if i.client_id in link.interface_ids), None)
            for node in (dut, loadgen)
        ]
        if ends[0] is not None and ends[1] is not None:
            joining.append((link, ends[0], ends[1]))
    pair = f"nodes '{dut.client_id}' and '{loadgen.client_id}'"
    if not joining:
        raise ManifestError(f"no link joins {pair} in {manifest.source}; {PROFILE_HINT}")
    if len(joining) > 1:
        names = ", ".join(link.client_id for link, _, _ in joining)
        raise ManifestError(
            f"{pair} share {len(joining)} links in {manifest.source} ({names}); the "
            f"experiments need exactly one link between them: {PROFILE_HINT}"
        )
    link, dut_end, loadgen_end = joining[0]
    for node, end in ((dut, dut_end), (loadgen, loadgen_end)):
        _check_interface(manifest, node, link, end)
    return dut_end, loadgen_end


def _check_interface(manifest: Manifest, node: Node, link: Link, intf: Interface) -> None:
    where = f"interface '{intf.client_id}' on link '{link.client_id}'"
    if intf.ip is None or intf.netmask is None:
        raise ManifestError(
            f"node '{node.client_id}' has no experiment interface IP in {manifest.source} "
            f'({where} has no <ip type="ipv4"> with an address and a netmask); request '
            "the link with pg.IPv4Address addresses, as cloudlab/profile.py does"
        )
    if intf.mac is None:
        raise ManifestError(
            f"{where} of node '{node.client_id}' has no mac_address in {manifest.source}; "
            f"{FETCH_HINT}"
        )


def endpoints(
    manifest: Manifest, user: str | None, dut_name: str, loadgen_name: str
) -> tuple[Endpoint, Endpoint]:
    """Resolve and check both ends of the experiment link."""
    nodes = find_nodes(manifest, dut_name, loadgen_name)
    interfaces = link_interfaces(manifest, *nodes)
    prefixes = [
        _prefix_of(manifest, node, intf) for node, intf in zip(nodes, interfaces, strict=True)
    ]
    chosen = choose_user(manifest, nodes, user)
    dut, loadgen = (
        Endpoint(node, login_for(manifest, node, chosen), intf, prefix)
        for node, intf, prefix in zip(nodes, interfaces, prefixes, strict=True)
    )
    _check_addresses(manifest, dut, loadgen)
    return dut, loadgen


def _prefix_of(manifest: Manifest, node: Node, intf: Interface) -> int:
    try:
        ipaddress.IPv4Address(intf.ip)
        return prefix_length(str(intf.netmask))
    except ValueError:
        raise ManifestError(
            f"interface '{intf.client_id}' of node '{node.client_id}' in {manifest.source} "
            f"has an invalid IPv4 address or netmask ({intf.ip} / {intf.netmask}); "
            f"{FETCH_HINT}"
        ) from None


def _check_addresses(manifest: Manifest, dut: Endpoint, loadgen: Endpoint) -> None:
    """Traffic must stay on the experiment link: private addresses of one subnet."""
    for end in (dut, loadgen):
        if not ipaddress.IPv4Address(end.interface.ip).is_private:
            raise ManifestError(
                f"the experiment address {end.interface.ip} of node '{end.node.client_id}' "
                f"in {manifest.source} is not a private address; the load generators must "
                f"only reach the experiment link: {PROFILE_HINT}"
            )
    dut_if = ipaddress.IPv4Interface(f"{dut.interface.ip}/{dut.prefix}")
    loadgen_if = ipaddress.IPv4Interface(f"{loadgen.interface.ip}/{loadgen.prefix}")
    if dut_if.ip == loadgen_if.ip or dut_if.network != loadgen_if.network:
        raise ManifestError(
            f"the experiment addresses of '{dut.node.client_id}' ({dut.interface.ip}/"
            f"{dut.prefix}) and '{loadgen.node.client_id}' ({loadgen.interface.ip}/"
            f"{loadgen.prefix}) in {manifest.source} are not two hosts of one subnet; "
            f"{PROFILE_HINT}"
        )


# Building and writing the inventory ----------------------------------------------------


def host_vars(end: Endpoint, peer: Endpoint) -> dict[str, Any]:
    """Connection, experiment-link and provenance variables of one host."""
    values: dict[str, Any] = {
        "ansible_host": end.login.hostname,
        "ansible_port": end.login.port,
        "ansible_user": end.login.username,
        "testbed_exp_ip": end.interface.ip,
        "testbed_exp_prefix": end.prefix,
        "testbed_exp_netmask": end.interface.netmask,
        "testbed_exp_mac": end.interface.mac,
        "testbed_peer_ip": peer.interface.ip,
        "testbed_peer_mac": peer.interface.mac,
        "testbed_hardware_type": end.node.hardware_type,
        "cloudlab_node": end.node.physical_name,
        "cloudlab_component_id": end.node.component_id,
        "cloudlab_control_hostname": end.node.control_hostname,
        "cloudlab_control_ip": end.node.control_ip,
        "cloudlab_disk_image": end.node.disk_image,
    }
    return {key: value for key, value in values.items() if value is not None}


def build_inventory(
    manifest: Manifest,
    user: str | None = None,
    dut: str = DEFAULT_DUT,
    loadgen: str = DEFAULT_LOADGEN,
) -> dict[str, Any]:
    """The YAML inventory (as a dict) for a parsed manifest."""
    dut_end, loadgen_end = endpoints(manifest, user, dut, loadgen)
    run_vars = {
        "cloudlab_project": manifest.project,
        "cloudlab_experiment": manifest.experiment,
        "cloudlab_portal_url": manifest.portal_url,
        "cloudlab_manifest_sha256": manifest.sha256,
    }
    return {
        "all": {
            "vars": {key: value for key, value in run_vars.items() if value is not None},
            "children": {
                "dut": {"hosts": {host_name(dut_end): host_vars(dut_end, loadgen_end)}},
                "loadgen": {"hosts": {host_name(loadgen_end): host_vars(loadgen_end, dut_end)}},
            },
        }
    }


def host_name(end: Endpoint) -> str:
    """Inventory name of a node: prefixed, so that it never equals its group's name."""
    return f"cloudlab-{end.node.client_id}"


def render_inventory(inventory: dict[str, Any], manifest: Manifest) -> str:
    header = (
        f"# Generated by `python -m cloudlab.manifest` from {Path(manifest.source).name}.\n"
        "# Do not edit: regenerate it with `make inventory MANIFEST=...`. Defaults of the\n"
        "# Cloudlab back end are in group_vars/ beside this file.\n"
    )
    return header + yaml.safe_dump(inventory, sort_keys=False, default_flow_style=False)


def write_atomically(path: Path, text: str) -> None:
    """Replace path with text in one step: readers see the old file or the whole new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise ManifestError(f"cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(err, OSError):
            raise ManifestError(f"cannot write {path}: {err.strerror}") from None
        raise


def write_inventory(
    manifest_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str] = DEFAULT_OUTPUT,
    user: str | None = None,
    dut: str = DEFAULT_DUT,
    loadgen: str = DEFAULT_LOADGEN,
) -> dict[str, Any]:
    """Parse the manifest, check it, and write the inventory; return what was written.

    Raises ManifestError, before anything is written, if the manifest cannot give a
    complete inventory.
    """
    manifest = load_manifest(manifest_path)
    inventory = build_inventory(manifest, user=user, dut=dut, loadgen=loadgen)
    write_atomically(Path(output_path), render_inventory(inventory, manifest))
    return inventory


# Command line ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cloudlab.manifest",
        description="Write the Cloudlab Ansible inventory from an experiment's manifest.",
    )
    parser.add_argument("manifest", help="manifest RSpec saved from the portal's Manifest tab")
    parser.add_argument(
        "--user", help="Cloudlab user to log in as (needed when several members have logins)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"inventory file to write (default: {DEFAULT_OUTPUT})",
    )
    parser.add_argument(
        "--dut", default=DEFAULT_DUT, help=f"node of the DUT (default: {DEFAULT_DUT})"
    )
    parser.add_argument(
        "--loadgen",
        default=DEFAULT_LOADGEN,
        help=f"node of the load generator (default: {DEFAULT_LOADGEN})",
    )
    return parser.parse_args(argv)


def summary(inventory: dict[str, Any], output: Path) -> str:
    lines = [f"wrote {output}"]
    for group, content in inventory["all"]["children"].items():
        for host, values in content["hosts"].items():
            lines.append(
                f"  {group:<8} {host}: {values['ansible_user']}@{values['ansible_host']}:"
                f"{values['ansible_port']}, experiment link {values['testbed_exp_ip']}/"
                f"{values['testbed_exp_prefix']} ({values['testbed_exp_mac']})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        inventory = write_inventory(
            args.manifest, args.output, user=args.user, dut=args.dut, loadgen=args.loadgen
        )
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    print(summary(inventory, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
