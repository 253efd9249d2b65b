"""Figure 4 end to end on the local testbed, at quick scale made smaller.

The playbook runs through ansible-runner; the test checks the status, that every
reply was right, that the XDP cache (not Memcached) answered the cached runs, one
measured property (the cache raises the throughput), and that nothing the
experiment attached, started or changed is left behind. A bad configuration must
stop in the preflight, naming the variable.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import netns, processes_named, run_playbook, runner_output

from analysis import parsers, stats

RUNS = 2


def assert_nothing_left() -> None:
    link = json.loads(netns("dut", "ip", "-j", "link", "show", "dev", "veth-dut").stdout)[0]
    assert "xdp" not in link, "an XDP program is still attached to veth-dut"
    filters = netns("dut", "tc", "filter", "show", "dev", "veth-dut", "egress")
    assert "mc_cache" not in filters.stdout, filters.stdout
    threaded = netns("dut", "cat", "/sys/class/net/veth-dut/threaded").stdout.strip()
    assert threaded == "0", f"veth-dut's NAPI left threaded ({threaded})"
    assert not [p for p in processes_named("memcached") if "192.168.1.1" in p], "memcached runs"


def test_fig4_quick(tmp_path: Path) -> None:
    root = tmp_path / "results"
    result = run_playbook(
        "fig4_memcached.yml",
        tmp_path / "runner",
        {
            "results_root": str(root),
            "fig4_memcached_runs": RUNS,
            "fig4_memcached_seconds": 2,
        },
    )
    assert result.rc == 0, runner_output(result)
    exp = root / "latest" / "fig4_memcached"
    assert json.loads((exp / "status.json").read_text())["status"] == "complete"
    rps = {}
    for config in ("baseline", "xdp_cache"):
        runs = [parsers.parse_mc_load(exp / "raw" / config / f"run_{k}.txt") for k in range(RUNS)]
        for run in runs:
            assert run.errors == 0 and run.misses == 0, (config, run)
            assert run.hits == run.replies > 0, (config, run)
        rps[config] = stats.median([run.rps for run in runs])
    counters = json.loads((exp / "raw" / "xdp_cache" / f"cache_{RUNS - 1}.json").read_text())
    hits, gets = sum(counters["hit"]), sum(counters["rx_get"])
    assert hits > 0.99 * gets, counters  # XDP answered, Memcached only saw the misses
    assert rps["xdp_cache"] > rps["baseline"], rps
    summary = json.loads((root / "latest" / "report" / "summary.json").read_text())
    claims = {c["id"] for c in summary["experiments"]["fig4_memcached"]["claims"]}
    assert claims == {"fig4.cache_raises_throughput", "fig4.cache_speedup"}
    assert_nothing_left()


def test_fig4_bad_configuration_fails_in_preflight(tmp_path: Path) -> None:
    root = tmp_path / "results"
    extra = {"results_root": str(root), "fig4_memcached_configs": "baseline,bmc"}
    result = run_playbook("fig4_memcached.yml", tmp_path / "runner", extra)
    output = result.stdout.read()
    assert result.rc != 0, output[-3000:]
    assert "fig4_memcached_configs=baseline,bmc" in output, output[-3000:]
    assert "Prepare the hosts" not in output
    assert not root.exists() or not any(root.iterdir())
