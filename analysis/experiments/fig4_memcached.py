"""Figure 4: Memcached throughput on one core, alone and behind an XDP cache.

Raw data (the playbook's contract)::

    fig4_memcached/params.json                    {"configs", "runs", "seconds", "window",
                                                   "key_bytes", "value_bytes", ...}
    fig4_memcached/status.json                    {"status", "reason"}
    fig4_memcached/raw/<config>/run_<k>.txt       the load generator's output of run k:
                                                  mc_load's, or Mutilate's (Total QPS)
    fig4_memcached/raw/<config>/cache_<k>.json    the XDP cache's counters after run k
                                                  ({name: [per-CPU counts]}, cumulative)
    fig4_memcached/raw/<config>/memcached.log     the server's log
    fig4_memcached/raw/<config>/program.json      the attached program (id, tag, JIT size)

Configurations: ``baseline`` (Memcached alone, the paper's "Socket") and
``xdp_cache`` (Memcached with our XDP cache in front, in the spirit of the paper's
BMC). A run's throughput is its completed requests per second; a configuration is
summarised by the median of its runs and the paper's "± range".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from analysis import figures, paper
from analysis.model import Claim, ExperimentReport, Verdict
from analysis.parsers import ParseError, parse_mc_load, parse_mutilate, read_source
from analysis.results import (
    RunInfo,
    effective_status,
    parameters_note,
    read_params,
    read_status,
    status_note,
)
from analysis.stats import median, summarize

NAME = "fig4_memcached"
TITLE = "Figure 4 — Memcached throughput on one core, alone and behind an XDP cache"

CONFIGS = ("baseline", "xdp_cache")
LABELS = {"baseline": "Memcached (socket)", "xdp_cache": "Memcached + XDP cache"}
#: Our configuration -> the key of analysis.paper's Figure 4 values.
PAPER_KEY = {"baseline": "socket", "xdp_cache": "bmc"}

METHOD = (
    "Throughput of each run: replies per second the load generator received over its "
    "measured seconds (warm-up left out); per configuration the median of the runs and "
    "the paper's \u00b1 range (half-width of the Tukey whiskers). Every request asks for "
    "the same key; the server has one thread on one CPU."
)


def analyse(exp_dir: Path, run: RunInfo) -> ExperimentReport:
    """Requests per second per run and configuration, beside the paper's, the claims."""
    params, status = read_params(exp_dir), read_status(exp_dir)
    configs = [c for c in CONFIGS if c in params.get("configs", CONFIGS)]
    rps, notes = load_runs(exp_dir, configs)
    notes += cache_notes(exp_dir, configs)
    base = median(rps["baseline"]) if "baseline" in rps else None
    return ExperimentReport(
        name=NAME,
        title=TITLE,
        status=effective_status(status.get("status"), configs, list(rps)),
        table=[table_row(c, rps.get(c), base) for c in configs],
        claims=[cache_is_faster(rps), cache_speedup(rps)],
        notes=[*run_notes(params, status, run), *notes],
        data=rps,
    )


def run_throughput(path: Path) -> tuple[list[float], str | None]:
    """Requests/s of the run(s) in one file, and a note on what looks wrong in it."""
    text = read_source(path)
    if "Total QPS" in text:
        return [float(q) for q in parse_mutilate(text).qps], None
    result = parse_mc_load(text)
    problems = []
    if result.errors:
        problems.append(f"{result.errors} malformed replies")
    if result.misses:
        problems.append(f"{result.misses} replies without the value")
    if result.lost:
        problems.append(f"{result.lost} requests lost")
    return [result.rps], ", ".join(problems) or None


def load_runs(exp_dir: Path, configs: Sequence[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Requests/s of every usable run of each configuration, and notes."""
    runs: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for config in configs:
        values: list[float] = []
        for path in sorted((exp_dir / "raw" / config).glob("run_*.txt")):
            try:
                found, problem = run_throughput(path)
            except (ParseError, OSError, UnicodeDecodeError) as err:
                notes.append(f"{config}: raw/{config}/{path.name} not usable: {err}")
                continue
            values += found
            if problem:
                notes.append(f"{config}: raw/{config}/{path.name}: {problem}")
        if values:
            runs[config] = np.array(values)
        else:
            notes.append(f"{config}: no run (raw/{config}/run_*.txt missing or unusable)")
    return runs, notes


def cache_counters(exp_dir: Path, config: str) -> dict[str, int]:
    """The XDP cache's counters summed over CPUs, as the last run left them (they add up
    over the configuration's runs: the map lives as long as the program); empty when
    none were kept."""
    runs = {
        int(path.stem.removeprefix("cache_")): path
        for path in (exp_dir / "raw" / config).glob("cache_*.json")
        if path.stem.removeprefix("cache_").isdigit()
    }
    if not runs:
        return {}
    try:
        counters = json.loads(runs[max(runs)].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    totals: dict[str, int] = {}
    for name, value in counters.items():
        count = sum(value) if isinstance(value, list) else value
        if isinstance(count, int):
            totals[name] = count
    return totals


def cache_notes(exp_dir: Path, configs: Sequence[str]) -> list[str]:
    """How many GETs the XDP cache answered itself, from its own counters."""
    if "xdp_cache" not in configs:
        return []
    counters = cache_counters(exp_dir, "xdp_cache")
    if not counters:
        return ["xdp_cache: no cache counters kept (raw/xdp_cache/cache_*.json)"]
    gets, hits = counters.get("rx_get", 0), counters.get("hit", 0)
    share = f" ({100 * hits / gets:.1f}% of {gets} GETs)" if gets else ""
    described = ", ".join(f"{k} {v}" for k, v in counters.items())
    return [f"xdp_cache: the cache answered {hits} GETs in XDP{share}; counters: {described}."]


def table_row(config: str, rps: np.ndarray | None, base: float | None) -> dict[str, object]:
    """Our median ± range (K requests/s) and speed-up, beside the paper's."""
    summary = summarize(rps / 1e3) if rps is not None else None
    ours = float(summary["p50"]) if summary else None
    reference = paper.FIG4_THROUGHPUT_KRPS[PAPER_KEY[config]]
    return {
        "config": config,
        "runs": int(summary["n"]) if summary else 0,
        "median_krps": round(ours, 2) if ours is not None else None,
        "range_krps": round(float(summary["range"]), 2) if summary else None,
        "min_krps": round(float(summary["min"]), 2) if summary else None,
        "max_krps": round(float(summary["max"]), 2) if summary else None,
        "speedup": round(1e3 * ours / base, 2) if ours is not None and base else None,
        "paper_krps": reference,
        "paper_speedup": round(reference / paper.FIG4_THROUGHPUT_KRPS["socket"], 2),
    }


def _paper_text() -> str:
    values = paper.FIG4_THROUGHPUT_KRPS
    return (
        f"Socket {values['socket']:.1f}, BMC {values['bmc']:.1f} K req/s "
        f"({values['bmc'] / values['socket']:.2f}x; BMC's runs span "
        f"{paper.FIG4_BMC_SPAN_KRPS[0]:.0f}-{paper.FIG4_BMC_SPAN_KRPS[1]:.0f})"
    )


def _measured_text(rps: Mapping[str, np.ndarray]) -> str:
    base, cache = rps["baseline"] / 1e3, rps["xdp_cache"] / 1e3
    return (
        f"baseline {median(base):.1f} [{base.min():.1f}, {base.max():.1f}], "
        f"XDP cache {median(cache):.1f} [{cache.min():.1f}, {cache.max():.1f}] K req/s "
        f"({median(cache) / median(base):.2f}x)"
    )


def _speedup_claim(rps: Mapping[str, np.ndarray], claim_id: str, text: str, factor: float) -> Claim:
    """Compares the medians, as the paper does, once the two configurations are told
    apart: their interquartile ranges must not overlap, otherwise the run cannot
    separate them from their noise (inconclusive). Then the claim holds when the
    cache's median exceeds ``factor`` times the baseline's and fails when it does not."""
    missing = [c for c in CONFIGS if c not in rps]
    if missing:
        return Claim(
            claim_id, text, _paper_text(), f"no data for {', '.join(missing)}", "inconclusive"
        )
    base, cache = summarize(rps["baseline"]), summarize(rps["xdp_cache"])
    measured = _measured_text(rps)
    verdict: Verdict
    if cache["p25"] <= base["p75"] and base["p25"] <= cache["p75"]:
        measured += "; the interquartile ranges overlap"
        verdict = "inconclusive"
    else:
        verdict = "holds" if cache["p50"] > factor * base["p50"] else "fails"
    return Claim(claim_id, text, _paper_text(), measured, verdict)


def cache_is_faster(rps: Mapping[str, np.ndarray]) -> Claim:
    """The direction of Figure 4: answering in XDP raises the throughput."""
    return _speedup_claim(
        rps,
        "fig4.cache_raises_throughput",
        "Answering GETs in XDP raises Memcached's single-core throughput.",
        1.0,
    )


def cache_speedup(rps: Mapping[str, np.ndarray]) -> Claim:
    """The size of Figure 4's effect: more than 2.5 times the baseline."""
    return _speedup_claim(
        rps,
        "fig4.cache_speedup",
        f"The in-kernel cache gives more than {paper.FIG4_BMC_MIN_SPEEDUP}x the baseline.",
        paper.FIG4_BMC_MIN_SPEEDUP,
    )


def run_notes(
    params: Mapping[str, object], status: Mapping[str, object], run: RunInfo
) -> list[str]:
    """Method, parameters, where the receive work ran, and the recorded status."""
    notes = [METHOD]
    shown = ("runs", "seconds", "warmup", "window", "key_bytes", "value_bytes", "scale")
    notes.extend(parameters_note(params, shown))
    if params.get("rx_cpu") is not None:
        notes.append(
            f"The DUT's receive path (the veth's NAPI, XDP included) runs in a thread pinned "
            f"to CPU {params['rx_cpu']}, Memcached's CPU: one core serves both, as in the paper."
        )
    if run.testbed == "local":
        notes.append(
            "Local testbed (veth): the load generator shares the VM with the server, and "
            "both configurations carry an XDP program (a pass-all one for the baseline) so "
            "that the veth receives the same way; compare configurations within the run."
        )
    notes.extend(status_note(status))
    return notes


def figure(report: ExperimentReport, run: RunInfo) -> Figure | None:
    """Bars of the median throughput per configuration with ± range, the paper's beside."""
    if not report.data:
        return None
    order = [row["config"] for row in report.table]
    testbed = figures.describe_testbed(run.testbed)
    ours = figures.measured_bars(report.table, "config", "median_krps", "range_krps", run.testbed)
    reference = figures.BarSeries(
        label=f"paper ({paper.TESTBED_LABEL}, median; BMC)",
        values={c: paper.FIG4_THROUGHPUT_KRPS[PAPER_KEY[c]] for c in order},
        colour=figures.PAPER_COLOUR,
        hatch="//",
    )
    return figures.category_bars(
        [ours, reference],
        order,
        LABELS,
        ylabel="throughput (K requests/s)",
        title=f"Figure 4: Memcached, one key, one core, {testbed}",
    )
