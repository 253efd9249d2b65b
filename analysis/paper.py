"""Reference values printed in the paper, by table and figure.

Source: "Demystifying Performance of eBPF Network Applications" (CoNEXT 2025),
as summarised in the project's paper notes. Units are in the names; keys are the
categories the paper uses, spelled as our playbooks and results spell them
(hooks ``socket, sk_skb, tc, xdp``; collections ``array, hash, lru_hash``). The
paper measured on bare metal (ConnectX-6, Xeon Silver 4310): these numbers are
references for hardware runs, and give only the direction for local veth runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, TypeVar

V = TypeVar("V")


def _frozen(values: dict[str, V]) -> Mapping[str, V]:
    """A read-only view, so no analysis can alter a reference value by accident."""
    return MappingProxyType(values)


#: Short label of the paper's testbed, for figure legends.
TESTBED_LABEL: Final = "CX-6, bare metal"
#: Hooks in the order the paper's figures and tables list them.
HOOK_ORDER: Final = ("socket", "sk_skb", "tc", "xdp")
#: Display names of the hooks.
HOOK_LABELS: Final = _frozen({"socket": "Socket", "sk_skb": "SK_SKB", "tc": "TC", "xdp": "XDP"})

# --- Table 1: time to reach a hook and cost of preparing it ---------------------------
#: Time from the driver to the hook, median (XDP is the origin).
TABLE1_REACH_MEDIAN_NS: Final = _frozen({"xdp": 0, "tc": 273, "sk_skb": 1072, "socket": 5738})
#: Time from the driver to the hook, IQR (none for XDP, the origin).
TABLE1_REACH_IQR_NS: Final = _frozen({"tc": 51, "sk_skb": 65, "socket": 779})
#: Preparing the context, entering and leaving an empty program (none for the socket).
TABLE1_PREPARATION_NS: Final = _frozen({"xdp": 38, "tc": 35, "sk_skb": 1350})
#: The same preparation cost measured on a laptop VM (stream_verdict: 1020-1100).
TABLE1_VM_PREPARATION_NS: Final = _frozen(
    {"xdp": 37, "xdp_generic": 155, "tc": 55, "sk_skb_low": 1020, "sk_skb_high": 1100}
)

# --- Figure 3: echo latency with the echo logic at each hook ---------------------------
FIG3_MEDIAN_US: Final = _frozen({"socket": 44.3, "sk_skb": 43.1, "tc": 38.5, "xdp": 37.8})
FIG3_IQR_US: Final = _frozen({"socket": 1.36, "sk_skb": 1.22, "tc": 1.18, "xdp": 1.11})
#: "XDP and TC cut about 6 µs against a user-space echo".
FIG3_XDP_TC_GAIN_US: Final = 6.0

# --- Figure 4: Memcached throughput, one key, one core --------------------------------
FIG4_THROUGHPUT_KRPS: Final = _frozen({"socket": 126.5, "bmc": 318.0})
#: BMC's runs are bimodal between these throughputs.
FIG4_BMC_SPAN_KRPS: Final = (305.0, 415.0)
#: Claim: BMC gives more than this factor over the baseline.
FIG4_BMC_MIN_SPEEDUP: Final = 2.5
FIG4_RUNS: Final = 40

# --- Figures 5 and 6: the fast path interferes with the slow path ------------------------
#: Foreground (always user space) flow, baseline vs with BMC.
FIG6_FOREGROUND_MEDIAN_US: Final = _frozen({"baseline": 40.6, "bmc": 61.5})
FIG6_MEDIAN_INCREASE_PCT: Final = 51.0
FIG6_MEDIAN_INCREASE_US: Final = 20.9
FIG6_P99_INCREASE_PCT: Final = 11.0
FIG6_P99_INCREASE_US: Final = 24.4
FIG5_BACKGROUND_RATE_RPS: Final = 50_000
FIG5_FOREGROUND_RATE_RPS: Final = 5_000

# --- Figures 7, 8, 9: the same with an AF_XDP key-value store ----------------------------
FIG7_THROUGHPUT_KRPS: Final = _frozen({"af_xdp": 297.0, "af_xdp_bmc": 333.0})
FIG7_OFFLOAD_GAIN_PCT: Final = 12.0
FIG9_SLOW_PATH_MEDIAN_US: Final = _frozen({"af_xdp": 39.0, "af_xdp_bmc": 58.0})

# --- Table 2: iperf bandwidth with a minimal program on the path -------------------------
TABLE2_MEDIAN_GBPS: Final = _frozen({"no_ebpf": 7.24, "xdp": 7.14, "tc": 7.02, "sk_skb": 6.22})
TABLE2_RANGE_GBPS: Final = _frozen({"no_ebpf": 0.64, "xdp": 0.22, "tc": 0.89, "sk_skb": 0.30})
#: Claimed cost against no eBPF program.
TABLE2_COST_PCT: Final = _frozen({"tc": 3.0, "sk_skb": 14.0})
TABLE2_STREAMS: Final = 48

# --- Figure 10: truncating payloads in XDP before user space -----------------------------
FIG10_PAYLOAD_BYTES: Final = 1458
FIG10_OFFERED_MPPS: Final = 1.2
FIG10_REDUCTION_PCT: Final = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90)
FIG10_THROUGHPUT_PPS: Final = (
    973576,
    974833,
    976874,
    978190,
    980303,
    991676,
    985589,
    963671,
    981455,
    991025,
)
#: Claim: truncating gains at most this much.
FIG10_MAX_GAIN_PCT: Final = 2.8
FIG10_MAX_GAIN_PPS: Final = 27_000

# --- Table 3: time to access a collection from eBPF ---------------------------------------
TABLE3_MEDIAN_NS: Final = _frozen({"array": 3.9, "hash": 18.8, "lru_hash": 19.2})
TABLE3_RANGE_NS: Final = _frozen({"array": 0.8, "hash": 1.2, "lru_hash": 1.4})
#: Also measured (median): per-CPU array, and the loop alone with an on-stack value.
TABLE3_OTHER_MEDIAN_NS: Final = _frozen({"percpu_array": 4.78, "on_stack": 2.39})
#: Speed-up when the JIT inlines the lookup helper.
TABLE3_INLINING_GAIN_PCT: Final = _frozen({"array": 20.0, "hash": 8.0, "lru_hash": 4.0})
TABLE3_LOOKUPS_PER_RUN: Final = 100_000
TABLE3_RUNS: Final = 100

# --- Figure 11: memory footprint of collections (XDP per-flow counters) -------------------
FIG11_FLOWS: Final = (100, 5_000, 10_000, 50_000, 100_000)
FIG11_THROUGHPUT_MPPS: Final[Mapping[str, tuple[float, ...]]] = MappingProxyType(
    {
        "array": (13.8, 13.5, 13.4, 13.1, 12.3),
        "hash": (8.5, 8.1, 7.7, 6.3, 5.9),
        "lru_hash": (8.4, 8.3, 8.1, 6.7, 6.5),
    }
)
FIG11_BASELINE_MPPS: Final = 14.7
#: Throughput at 100K flows against 100 flows.
FIG11_DROP_PCT: Final = _frozen({"array": 10.8, "hash": 30.5, "lru_hash": 22.6})
FIG11_FILL_PCT: Final = 90

# --- Figure 12: access pattern (100K flows, Zipf parameter s) ------------------------------
FIG12_ZIPF_S: Final = (0.0, 0.5, 1.0, 1.5, 2.0)
FIG12_THROUGHPUT_MPPS: Final[Mapping[str, tuple[float, ...]]] = MappingProxyType(
    {
        "array": (12.4, 12.5, 13.3, 13.8, 13.8),
        "hash": (5.5, 5.7, 7.5, 9.5, 9.8),
        "lru_hash": (5.7, 5.8, 7.6, 9.6, 9.7),
    }
)
FIG12_FLOWS: Final = 100_000

# --- Table 4: time to reach a collection from user space (100K operations) -----------------
TABLE4_ACCESS_NS: Final = _frozen(
    {
        "array": 485,
        "hash": 495,
        "lru_hash": 495,
        "percpu_array": 1552,
        "percpu_hash": 1550,
        "percpu_lru_hash": 1554,
        "ring_queue": 10,
        "mmap_array": 2,
        "af_xdp_rx_ring": 14,
    }
)

# --- Beyond the runbook ---------------------------------------------------------------------
#: Figure 13: kernel-to-user channels, 64 B packets.
FIG13_THROUGHPUT_MPPS: Final = _frozen(
    {"array": 0.9, "ringbuf": 2.1, "mmap_ring": 5.4, "af_xdp": 13.4}
)
#: Table 5: program chaining in BMC.
TABLE5_THROUGHPUT_MRPS: Final = _frozen(
    {
        "tail_calls_no_jit_opt": 1.07,
        "tail_calls": 1.12,
        "no_tail_calls": 1.14,
        "bpf_to_bpf": 1.11,
        "global_functions": 1.14,
    }
)
#: Figure 16: an echo server sharing the RX queue with Memcached + BMC.
FIG16_ECHO_MEDIAN_US: Final = _frozen({"alone": 57.9, "shared": 89.0})
FIG16_INCREASE_PCT: Final = 45.0
#: Table 6: copying 1 KB.
TABLE6_COPY_1KB_NS: Final = _frozen({"kernel_module": 32, "ebpf": 340, "ebpf_memcpy_kfunc": 36})
