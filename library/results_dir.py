#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module that keeps the results/ folder: runs, experiments and their status."""

from __future__ import annotations

DOCUMENTATION = r"""
module: results_dir
short_description: Create run and experiment folders under results/ and record their status
description:
  - Runs on the controller. A run is C(results/<run-id>/) with C(run.json); an
    experiment is a sub-folder with C(params.json) and C(status.json).
  - Folders are created exclusively, so results are never overwritten: a second
    run in the same second gets a suffix, and an experiment that already has
    results in a run is refused.
  - C(results/latest) always points to the newest run.
options:
  action:
    description: What to do.
    type: str
    required: true
    choices: [start_run, start_experiment, set_status, finish_run, interrupt]
  root:
    description: The results folder.
    type: path
    required: true
  run_id:
    description:
      - Name of the run folder. With I(action=start_run) it is a prefix (UTC time
        and git sha); with the other actions the folder must exist.
      - With I(action=interrupt), C(latest) names the newest run.
    type: str
    required: true
  experiment:
    description: Experiment name (the playbook's name, for example C(fig3_echo)).
    type: str
  data:
    description: >-
      JSON object written as run.json (start_run), params.json (start_experiment)
      or merged into status.json (set_status).
    type: dict
    default: {}
  status:
    description:
      - New status of the experiment (set_status) or the run (finish_run).
      - For finish_run it defaults to complete when every experiment is complete, else partial.
    type: str
    choices: [running, complete, partial, failed]
author: ebpf-testbed developers
"""

EXAMPLES = r"""
- name: Create the run folder
  results_dir:
    action: start_run
    root: "{{ results_root }}"
    run_id: "20261201T071500Z-1a2b3c4"
    data: {command: "ansible-playbook playbooks/fig3_echo.yml", scale: quick}
  register: run

- name: Mark the experiment complete
  results_dir:
    action: set_status
    root: "{{ results_root }}"
    run_id: "{{ run.run_id }}"
    experiment: fig3_echo
    status: complete
"""

RETURN = r"""
run_id:
  description: Name of the run folder (with a suffix when the prefix was taken).
  type: str
  returned: always
run_dir:
  description: Absolute path of the run folder.
  type: str
  returned: always
experiment_dir:
  description: Absolute path of the experiment folder.
  type: str
  returned: when experiment is given
"""

import datetime as dt
import json
import os

from ansible.module_utils.basic import AnsibleModule


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_json(path: str, data: dict) -> None:
    """Write atomically so a reader never sees half a file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (FileNotFoundError, NotADirectoryError):
        return {}


def create_exclusive(root: str, prefix: str) -> str:
    """Create root/prefix, or root/prefix-N when taken; return the name used."""
    for attempt in range(1, 100):
        name = prefix if attempt == 1 else f"{prefix}-{attempt}"
        try:
            os.mkdir(os.path.join(root, name))
            return name
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a unique run folder for {prefix} in {root}")


def point_latest(root: str, run_id: str) -> None:
    link = os.path.join(root, "latest")
    tmp = f"{link}.tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(run_id, tmp)
    os.replace(tmp, link)


def start_run(module: AnsibleModule, root: str, run_id: str) -> dict:
    os.makedirs(root, exist_ok=True)
    name = create_exclusive(root, run_id)
    data = dict(module.params["data"], run_id=name, started=utc_now(), status="running")
    write_json(os.path.join(root, name, "run.json"), data)
    point_latest(root, name)
    return {"changed": True, "run_id": name, "run_dir": os.path.join(root, name)}


def start_experiment(module: AnsibleModule, run_dir: str, experiment: str) -> dict:
    exp_dir = os.path.join(run_dir, experiment)
    try:
        os.mkdir(exp_dir)
    except FileExistsError:
        module.fail_json(
            msg=f"{exp_dir} already holds results; results are never overwritten. "
            "Start a new run (leave results_run_id unset) to measure again."
        )
    for sub in ("raw", "hosts"):
        os.mkdir(os.path.join(exp_dir, sub))
    write_json(os.path.join(exp_dir, "params.json"), module.params["data"])
    write_json(
        os.path.join(exp_dir, "status.json"),
        {"status": "running", "started": utc_now(), "reason": "experiment in progress"},
    )
    return {"changed": True, "experiment_dir": exp_dir}


def set_status(module: AnsibleModule, run_dir: str, experiment: str) -> dict:
    path = os.path.join(run_dir, experiment, "status.json")
    if not os.path.isdir(os.path.dirname(path)):
        module.fail_json(msg=f"experiment folder {os.path.dirname(path)} does not exist")
    current = read_json(path)
    updated = dict(current, **module.params["data"])
    if module.params["status"]:
        updated["status"] = module.params["status"]
    if updated.get("status") != "running":
        updated.setdefault("ended", utc_now())
    changed = updated != current
    if changed and not module.check_mode:
        write_json(path, updated)
    return {"changed": changed, "experiment_dir": os.path.dirname(path), "status": updated}


def experiment_statuses(run_dir: str) -> dict[str, str]:
    statuses = {}
    for name in sorted(os.listdir(run_dir)):
        status = read_json(os.path.join(run_dir, name, "status.json"))
        if status:
            statuses[name] = status.get("status", "unknown")
    return statuses


def finish_run(module: AnsibleModule, run_dir: str) -> dict:
    """Close the run; without an explicit status it follows its experiments."""
    path = os.path.join(run_dir, "run.json")
    statuses = experiment_statuses(run_dir)
    status = module.params["status"]
    if status is None:
        done = all(value == "complete" for value in statuses.values())
        status = "complete" if statuses and done else "partial"
    updated = dict(read_json(path), **module.params["data"], status=status, ended=utc_now())
    updated["experiments"] = statuses
    if not module.check_mode:
        write_json(path, updated)
    return {"changed": True, "status": status, "experiments": statuses}


def interrupt(module: AnsibleModule, run_dir: str) -> dict:
    """Mark what was still running as partial: the run was cut short."""
    marked = []
    for name in sorted(os.listdir(run_dir)):
        path = os.path.join(run_dir, name, "status.json")
        status = read_json(path)
        if status.get("status") == "running":
            status.update(status="partial", reason="interrupted", ended=utc_now())
            if not module.check_mode:
                write_json(path, status)
            marked.append(name)
    run_path = os.path.join(run_dir, "run.json")
    run = read_json(run_path)
    if run.get("status") == "running":
        run.update(status="partial", ended=utc_now(), reason="interrupted")
        if not module.check_mode:
            write_json(run_path, run)
        marked.append("run")
    return {"changed": bool(marked), "marked": marked}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "action": {
                "type": "str",
                "required": True,
                "choices": [
                    "start_run",
                    "start_experiment",
                    "set_status",
                    "finish_run",
                    "interrupt",
                ],
            },
            "root": {"type": "path", "required": True},
            "run_id": {"type": "str", "required": True},
            "experiment": {"type": "str"},
            "data": {"type": "dict", "default": {}},
            "status": {
                "type": "str",
                "choices": ["running", "complete", "partial", "failed"],
            },
        },
        required_if=[
            ("action", "start_experiment", ["experiment"]),
            ("action", "set_status", ["experiment"]),
        ],
        supports_check_mode=True,
    )
    action, root, run_id = (module.params[k] for k in ("action", "root", "run_id"))
    run_dir = os.path.realpath(os.path.join(root, run_id))
    result = {"run_id": os.path.basename(run_dir), "run_dir": run_dir}
    if action == "start_run":
        if module.check_mode:
            module.exit_json(changed=True, **result)
        module.exit_json(**start_run(module, root, run_id))
    if not os.path.isdir(run_dir):
        module.fail_json(msg=f"run folder {run_dir} does not exist; start the run first")
    if action == "start_experiment":
        if module.check_mode:
            exp_dir = os.path.join(run_dir, module.params["experiment"])
            module.exit_json(changed=True, experiment_dir=exp_dir, **result)
        result.update(start_experiment(module, run_dir, module.params["experiment"]))
    elif action == "interrupt":
        result.update(interrupt(module, run_dir))
    elif action == "set_status":
        result.update(set_status(module, run_dir, module.params["experiment"]))
    else:
        result.update(finish_run(module, run_dir))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
