"""`make bench`: our tools against the reference ones, side by side in one run.

1. Echo RTT on the socket path of the local testbed: our echo_client and
   echo_server against `sockperf ping-pong --full-rtt` and `sockperf server`
   (sockperf's client only accepts replies from its own server), on the same
   CPUs, in interleaved rounds.
2. Statistics of a 1M-sample file: `python -m analysis stats` against a plain
   Python reading (float() per line, sorted, nearest-rank quantiles), both as whole
   processes, in interleaved rounds.

Prints each pair and the ratio. Needs root (namespaces), like the testbed.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BUILD = REPO / "bpf_src" / "build"
DUT_IP, PORT, SIZE = "192.168.1.1", 8080, 64
ROUNDS, REQUESTS, SECONDS = 3, 30000, 3


def sh(*argv: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=True, **kwargs)


def netns(name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", name, *argv)


def prepare() -> None:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    sh(str(BIN / "ansible-playbook"), str(REPO / "playbooks" / "testbed_up.yml"), env=env, cwd=REPO)
    sh("make", "-C", str(REPO / "bpf_src"), f"BUILD={BUILD}")


def our_client_median_us(samples: Path) -> float:
    netns(
        "loadgen", str(BUILD / "bin" / "echo_client"), "--server", DUT_IP, "--port", str(PORT),
        "--size", str(SIZE), "--count", str(REQUESTS), "--warmup", "1000", "--cpu", "0",
        "--output", str(samples),
    )  # fmt: skip
    values = sorted(int(line) for line in samples.read_text().split("\n")[1:] if line)
    return values[len(values) // 2] / 1000


def sockperf_median_us() -> float:
    out = netns(
        "loadgen", "taskset", "-c", "0", "sockperf", "ping-pong", "-i", DUT_IP, "-p", str(PORT),
        "--full-rtt", "-m", str(SIZE), "-t", str(SECONDS),
    ).stdout  # fmt: skip
    match = re.search(r"percentile 50\.000 =\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"no median in sockperf output:\n{out}")
    return float(match.group(1))


def start_server(argv: list[str], ready: str) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        ["ip", "netns", "exec", "dut", "taskset", "-c", "1", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    for line in server.stdout:
        if ready in line:
            return server
    raise RuntimeError(f"{argv[0]} exited before it was ready")


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    server.wait(timeout=10)


def measure(argv: list[str], ready: str, client) -> float:
    server = start_server(argv, ready)
    try:
        return client()
    finally:
        stop(server)


def bench_echo(tmp: Path) -> None:
    ours_server = [str(BUILD / "bin" / "echo_server"), "--addr", DUT_IP, "--port", str(PORT)]
    sockperf_server = ["sockperf", "server", "-i", DUT_IP, "-p", str(PORT)]
    ours, theirs = [], []
    for _ in range(ROUNDS):  # interleaved, so drift hits both alike
        ours.append(measure(ours_server, "ready", lambda: our_client_median_us(tmp / "s.txt")))
        theirs.append(measure(sockperf_server, "using recvfrom", sockperf_median_us))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"echo RTT, socket path ({ROUNDS} interleaved rounds, median of medians):")
    print(
        f"  echo_client/echo_server   {a:8.2f} us   rounds: {', '.join(f'{v:.2f}' for v in ours)}"
    )
    print(
        f"  sockperf ping-pong/server {b:8.2f} us   rounds: {', '.join(f'{v:.2f}' for v in theirs)}"
    )
    print(f"  ratio ours/sockperf       {a / b:8.3f}")


#: The plain reading, run as its own process like ours: float() per line, sorted,
#: nearest-rank quantiles (the paper's convention), printed as JSON.
PLAIN_READER = """
import json, math, sys
with open(sys.argv[1]) as handle:
    handle.readline()
    values = sorted(float(line) for line in handle if line.strip())
n = len(values)
rank = lambda q: values[max(1, math.ceil(q * n)) - 1]
print(json.dumps({"p25": rank(0.25), "p50": rank(0.5), "p75": rank(0.75)}))
"""
STATS_ROUNDS = 3


def timed_json(argv: list[str]) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    out = json.loads(sh(*argv, cwd=REPO).stdout)
    return time.perf_counter() - start, out


def bench_stats(tmp: Path) -> None:
    import random
    import statistics

    rng = random.Random(1)
    path = tmp / "samples_1m.txt"
    count = 1_000_000
    with path.open("w") as handle:
        handle.write(f"num samples: {count}\n")
        handle.writelines(f"{int(rng.lognormvariate(10.6, 0.1))}\n" for _ in range(count))
    python = str(BIN / "python")
    ours_argv = [python, "-m", "analysis", "stats", str(path), "--format", "samples", "--json"]
    plain_argv = [python, "-c", PLAIN_READER, str(path)]
    t_ours, t_plain = [], []
    for _ in range(STATS_ROUNDS):  # interleaved, both as whole processes
        elapsed, ours = timed_json(ours_argv)
        t_ours.append(elapsed)
        elapsed, plain = timed_json(plain_argv)
        t_plain.append(elapsed)
    same = all(ours[key] == plain[key] for key in plain)
    a, b = statistics.median(t_ours), statistics.median(t_plain)
    print(f"statistics of a 1M-sample file ({STATS_ROUNDS} interleaved rounds, whole processes):")
    print(f"  python -m analysis stats   {a:6.2f} s (p50 {ours['p50']:.0f})")
    print(f"  plain Python reading       {b:6.2f} s (p50 {plain['p50']:.0f})")
    print(f"  ratio ours/plain           {a / b:6.3f}   same quantiles: {same}")


def main() -> None:
    prepare()
    with tempfile.TemporaryDirectory() as tmp:
        bench_echo(Path(tmp))
        bench_stats(Path(tmp))


if __name__ == "__main__":
    main()
