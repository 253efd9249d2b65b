"""Two bare-metal servers joined back to back by one experiment link, for reproducing
"Demystifying Performance of eBPF Network Applications" (CoNEXT'25).

`dut` (device under test, 192.168.1.1/24) runs the eBPF programs and servers;
`loadgen` (load generator, 192.168.1.2/24) runs the clients. Both are `sm110p`
nodes of the Cloudlab Wisconsin cluster with the standard Ubuntu 22.04 image, and
the link between them is a dedicated, non best-effort 100 Gbps link.

Instructions:
Wait until both nodes are ready, open the experiment's **Manifest** tab and save
it as `manifest.xml` in the project's checkout. Then, from the checkout:

    make inventory MANIFEST=manifest.xml CLOUDLAB_USER=<your Cloudlab user>
    ansible-playbook -i inventory/cloudlab playbooks/provision.yml

See docs/cloudlab.md of the project for the experiments and for restoring the hosts.
"""

import geni.portal as portal
import geni.rspec.pg as pg

SUBNET_MASK = "255.255.255.0"
DUT_ADDRESS = "192.168.1.1"
LOADGEN_ADDRESS = "192.168.1.2"
KBPS_PER_GBPS = 1000 * 1000

context = portal.context

context.defineParameter(
    "hardware_type",
    "Hardware type of both nodes",
    portal.ParameterType.NODETYPE,
    "sm110p",
    longDescription="The paper's reproduction target is sm110p (Cloudlab Wisconsin). "
    "Both nodes get the same type so that the two ends of the link match.",
)
context.defineParameter(
    "disk_image",
    "Disk image of both nodes",
    portal.ParameterType.IMAGE,
    "urn:publicid:IDN+emulab.net+image+emulab-ops//UBUNTU22-64-STD",
    longDescription="The provisioning playbooks are written for Ubuntu 22.04.",
)
context.defineParameter(
    "link_speed",
    "Speed of the experiment link",
    portal.ParameterType.BANDWIDTH,
    100 * KBPS_PER_GBPS,
    [
        (100 * KBPS_PER_GBPS, "100 Gbps"),
        (25 * KBPS_PER_GBPS, "25 Gbps"),
        (10 * KBPS_PER_GBPS, "10 Gbps"),
    ],
    longDescription="In kbps, as the portal expects. The paper used 100 Gbps NICs.",
)
context.defineParameter(
    "dut_name",
    "Name of the device-under-test node",
    portal.ParameterType.STRING,
    "dut",
    advanced=True,
    longDescription="The inventory generator looks for this name (its --dut option).",
)
context.defineParameter(
    "loadgen_name",
    "Name of the load-generator node",
    portal.ParameterType.STRING,
    "loadgen",
    advanced=True,
    longDescription="The inventory generator looks for this name (its --loadgen option).",
)

params = context.bindParameters()

if params.dut_name == params.loadgen_name:
    context.reportError(
        portal.ParameterError("The two nodes need different names.", ["dut_name", "loadgen_name"])
    )
context.verifyParameters()

request = context.makeRequestRSpec()


def add_node(name, address):
    """Request one bare-metal node and its experiment interface; return the interface."""
    node = request.RawPC(name)
    node.hardware_type = params.hardware_type
    node.disk_image = params.disk_image
    return node.addInterface("if0", pg.IPv4Address(address, SUBNET_MASK))


dut_interface = add_node(params.dut_name, DUT_ADDRESS)
loadgen_interface = add_node(params.loadgen_name, LOADGEN_ADDRESS)

link = request.Link("link", members=[dut_interface, loadgen_interface])
link.bandwidth = int(params.link_speed)
link.best_effort = False

context.printRequestRSpec()
