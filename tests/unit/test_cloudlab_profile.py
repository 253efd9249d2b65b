"""cloudlab/profile.py: what it requests from the portal.

geni-lib's only PyPI release (0.9.9.4) does not import on Python 3 (its geni.portal is
Python 2 code), and the portal runs the profile with its own copy. So the profile is
checked three ways here: it compiles; its parameters and addresses read from its syntax
tree; and it runs against a small recording stand-in for the two geni-lib modules it
uses. When a Python 3 geni-lib is importable, the last test also runs it for real.
"""

from __future__ import annotations

import ast
import importlib
import operator
import py_compile
import runpy
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "cloudlab" / "profile.py"
UBUNTU_22 = "urn:publicid:IDN+emulab.net+image+emulab-ops//UBUNTU22-64-STD"
GBPS_100_IN_KBPS = 100_000_000


# Syntax -----------------------------------------------------------------------------------


def tree() -> ast.Module:
    return ast.parse(PROFILE.read_text(), filename=str(PROFILE))


def module_constants(module: ast.Module) -> dict[str, object]:
    constants: dict[str, object] = {}
    for statement in module.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                try:
                    constants[target.id] = evaluate(statement.value, constants)
                except ValueError:
                    continue
    return constants


OPERATORS = {ast.Mult: operator.mul, ast.Add: operator.add}


def evaluate(node: ast.expr, constants: dict[str, object]) -> object:
    """Literal values, names of earlier literals, and products/sums of them."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = evaluate(node.left, constants), evaluate(node.right, constants)
        return OPERATORS[type(node.op)](left, right)
    raise ValueError(ast.dump(node))


def calls_to(module: ast.Module, attribute: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(module)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == attribute
    ]


def test_profile_compiles(tmp_path):
    py_compile.compile(str(PROFILE), cfile=str(tmp_path / "profile.pyc"), doraise=True)


def test_profile_imports_geni_lib_as_the_portal_expects():
    imports = {
        (alias.name, alias.asname)
        for node in ast.walk(tree())
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert ("geni.portal", "portal") in imports
    assert ("geni.rspec.pg", "pg") in imports


def test_profile_defines_its_parameters_with_the_papers_defaults():
    module = tree()
    constants = module_constants(module)
    parameters = {}
    for call in calls_to(module, "defineParameter"):
        name, _description, typ, default = call.args[:4]
        parameters[evaluate(name, constants)] = (typ.attr, evaluate(default, constants))
    assert parameters == {
        "hardware_type": ("NODETYPE", "sm110p"),
        "disk_image": ("IMAGE", UBUNTU_22),
        "link_speed": ("BANDWIDTH", GBPS_100_IN_KBPS),
        "dut_name": ("STRING", "dut"),
        "loadgen_name": ("STRING", "loadgen"),
    }


def test_profile_addresses_the_link_as_the_paper_did():
    module = tree()
    constants = module_constants(module)
    assert constants["DUT_ADDRESS"] == "192.168.1.1"
    assert constants["LOADGEN_ADDRESS"] == "192.168.1.2"
    assert constants["SUBNET_MASK"] == "255.255.255.0"
    assert calls_to(module, "IPv4Address"), "the interfaces get no pg.IPv4Address"
    assert calls_to(module, "printRequestRSpec"), "the request is never printed"


# Running it against a recording stand-in for geni-lib ------------------------------------


class Recorder:
    """Just enough of geni.portal.context and geni.rspec.pg.Request for the profile."""

    def __init__(self, overrides: dict[str, object]):
        self.overrides = overrides
        self.parameters: dict[str, dict[str, object]] = {}
        self.errors: list[Exception] = []
        self.request: SimpleNamespace | None = None
        self.printed = False

    def defineParameter(self, name, description, typ, defaultValue, legalValues=None, **kw):
        legal = [value[0] if isinstance(value, tuple) else value for value in legalValues or []]
        assert not legal or defaultValue in legal, f"default of {name} is not a legal value"
        self.parameters[name] = {"type": typ, "default": defaultValue, "legal": legal, **kw}

    def bindParameters(self):
        values = {name: p["default"] for name, p in self.parameters.items()}
        return SimpleNamespace(**{**values, **self.overrides})

    def reportError(self, error, immediate=False):
        self.errors.append(error)

    def verifyParameters(self):
        if self.errors:
            raise SystemExit(100 + len(self.errors))

    def makeRequestRSpec(self):
        nodes, links = [], []

        def raw_pc(name):
            node = SimpleNamespace(name=name, hardware_type=None, disk_image=None, interfaces=[])

            def add_interface(intf_name=None, address=None):
                intf = SimpleNamespace(client_id=f"{name}:{intf_name}", address=address)
                node.interfaces.append(intf)
                return intf

            node.addInterface = add_interface
            nodes.append(node)
            return node

        def link(name=None, members=None):
            made = SimpleNamespace(
                client_id=name, interfaces=list(members or []), bandwidth=-1, best_effort=None
            )
            links.append(made)
            return made

        self.request = SimpleNamespace(RawPC=raw_pc, Link=link, nodes=nodes, links=links)
        return self.request

    def printRequestRSpec(self, rspec=None):
        self.printed = True


def run_profile(monkeypatch, **overrides) -> Recorder:
    recorder = Recorder(overrides)
    portal = types.ModuleType("geni.portal")
    portal.context = recorder
    portal.ParameterType = SimpleNamespace(
        NODETYPE="nodetype", IMAGE="image", BANDWIDTH="bandwidth", STRING="string"
    )

    class ParameterError(Exception):
        def __init__(self, message, parameters):
            super().__init__(message)
            self.parameters = parameters

    portal.ParameterError = ParameterError
    pg = types.ModuleType("geni.rspec.pg")
    pg.IPv4Address = lambda address, netmask: SimpleNamespace(address=address, netmask=netmask)
    geni = types.ModuleType("geni")
    rspec = types.ModuleType("geni.rspec")
    geni.portal, geni.rspec, rspec.pg = portal, rspec, pg
    for name, module in {
        "geni": geni,
        "geni.portal": portal,
        "geni.rspec": rspec,
        "geni.rspec.pg": pg,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    runpy.run_path(str(PROFILE), run_name="__main__")
    return recorder


def test_profile_requests_two_nodes_joined_by_one_link(monkeypatch):
    recorder = run_profile(monkeypatch)
    request = recorder.request
    assert recorder.printed
    assert [node.name for node in request.nodes] == ["dut", "loadgen"]
    for node in request.nodes:
        assert node.hardware_type == "sm110p"
        assert node.disk_image == UBUNTU_22
        assert len(node.interfaces) == 1
    addresses = [
        (node.interfaces[0].address.address, node.interfaces[0].address.netmask)
        for node in request.nodes
    ]
    assert addresses == [("192.168.1.1", "255.255.255.0"), ("192.168.1.2", "255.255.255.0")]
    [link] = request.links
    assert link.client_id == "link"
    assert link.interfaces == [node.interfaces[0] for node in request.nodes]
    assert link.bandwidth == GBPS_100_IN_KBPS
    assert link.best_effort is False


def test_profile_parameters_reach_the_request(monkeypatch):
    recorder = run_profile(
        monkeypatch,
        hardware_type="c6525-100g",
        link_speed=25_000_000.0,  # the portal binds BANDWIDTH parameters as floats
        dut_name="server",
        loadgen_name="client",
    )
    assert [node.name for node in recorder.request.nodes] == ["server", "client"]
    assert {node.hardware_type for node in recorder.request.nodes} == {"c6525-100g"}
    assert recorder.request.links[0].bandwidth == 25_000_000
    assert isinstance(recorder.request.links[0].bandwidth, int)


def test_profile_refuses_one_name_for_both_nodes(monkeypatch):
    with pytest.raises(SystemExit):
        run_profile(monkeypatch, dut_name="node", loadgen_name="node")


# Running it with geni-lib itself, where a Python 3 copy is installed ----------------------


def geni_lib_importable() -> bool:
    try:
        importlib.import_module("geni.portal")
        importlib.import_module("geni.rspec.pg")
    except (ImportError, SyntaxError):
        return False
    return True


@pytest.mark.skipif(not geni_lib_importable(), reason="no Python 3 geni-lib installed")
def test_profile_with_geni_lib_prints_the_request(tmp_path):
    result = subprocess.run(
        [sys.executable, str(PROFILE)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    ns = {"r": "http://www.geni.net/resources/rspec/3"}
    root = ET.fromstring(result.stdout)
    assert root.get("type") == "request"
    nodes = {node.get("client_id"): node for node in root.findall("r:node", ns)}
    assert set(nodes) == {"dut", "loadgen"}
    for name, address in (("dut", "192.168.1.1"), ("loadgen", "192.168.1.2")):
        node = nodes[name]
        assert node.find("r:hardware_type", ns).get("name") == "sm110p"
        assert node.find("r:sliver_type/r:disk_image", ns).get("name") == UBUNTU_22
        ip = node.find("r:interface/r:ip", ns)
        assert (ip.get("address"), ip.get("netmask")) == (address, "255.255.255.0")
    [link] = root.findall("r:link", ns)
    refs = {ref.get("client_id") for ref in link.findall("r:interface_ref", ns)}
    assert refs == {"dut:if0", "loadgen:if0"}
