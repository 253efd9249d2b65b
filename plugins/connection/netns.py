# SPDX-License-Identifier: GPL-3.0-or-later
"""Connection plugin that runs a host's tasks inside a Linux network namespace."""

from __future__ import annotations

DOCUMENTATION = r"""
name: netns
short_description: Run tasks inside a network namespace of the controller
description:
  - The local testbed models the DUT and the load generator as two network
    namespaces of the controller machine. This plugin runs every task of a host
    through C(ip netns exec), so playbooks never mention namespaces and the same
    playbook runs over SSH on real machines.
  - Files are copied with plain file operations, since the namespaces share the
    controller's file system.
  - C(ip netns exec) mounts a fresh C(/sys) for the namespace, so C(/sys/fs/bpf)
    and tracefs are not visible inside; pin BPF objects on a bpffs mounted outside C(/sys).
extends_documentation_fragment:
  - connection_pipelining
options:
  netns_name:
    description:
      - Name of the network namespace (as listed by C(ip netns list)).
      - Defaults to the host's address (C(ansible_host), which defaults to its inventory name).
    type: str
    vars:
      - name: ansible_netns_name
  netns_run_dir:
    description: Directory where iproute2 keeps the namespace handles.
    type: str
    default: /run/netns
    vars:
      - name: ansible_netns_run_dir
"""

import os
import shlex

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.display import Display

display = Display()


class Connection(LocalConnection):
    """Local connection whose commands enter a network namespace first."""

    transport = "netns"
    has_pipelining = True

    def _namespace(self) -> str:
        return str(self.get_option("netns_name") or self._play_context.remote_addr)

    def _check_namespace(self, name: str) -> None:
        handle = os.path.join(self.get_option("netns_run_dir"), name)
        if not os.path.exists(handle):
            raise AnsibleConnectionFailure(
                f"network namespace '{name}' does not exist ({handle} is missing). "
                "Bring the local testbed up first: `make testbed-up` "
                "(or ansible-playbook playbooks/testbed_up.yml)."
            )

    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = True
    ) -> tuple[int, bytes, bytes]:
        name = self._namespace()
        self._check_namespace(name)
        wrapped = f"ip netns exec {shlex.quote(name)} /bin/sh -c {shlex.quote(cmd)}"
        display.vvv(f"NETNS {name}: {cmd}", host=name)
        return super().exec_command(wrapped, in_data=in_data, sudoable=sudoable)
