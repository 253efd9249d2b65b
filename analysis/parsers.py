"""Parsers for the raw outputs of the tools the experiments run, one per tool.

Every parser takes the output, as text (``str``) or as the path of a file holding
it (``pathlib.Path``), and returns numbers (a numpy array, or a small dataclass when
a tool prints several fields). None of them edits or normalises the
raw file: they only read it. A parser raises :class:`ParseError` with the line
number when the text is not what the tool prints, and when nothing parsable is
found, so a wrong ``--format`` never silently yields an empty result.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class ParseError(ValueError):
    """The text is not the output of the expected tool (the message says where)."""


#: What a parser reads: the output itself, or the path of the file holding it.
Source = str | os.PathLike[str]


def read_source(source: Source) -> str:
    """The text of ``source``: a ``str`` is the text, a path is read as UTF-8.

    Raises OSError if the file cannot be read and UnicodeDecodeError if it is not text.
    """
    if isinstance(source, str):
        return source
    with open(source, encoding="utf-8") as handle:
        return handle.read()


def _checked(values: np.ndarray, what: str) -> np.ndarray:
    """Return ``values`` if it holds at least one value and only finite ones."""
    if values.size == 0:
        raise ParseError(f"no {what} found")
    if not np.all(np.isfinite(values)):
        raise ParseError(f"{what} contain NaN or infinity")
    return values


def _is_number(token: str) -> bool:
    """Whether ``float()`` accepts the token."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def _floats(tokens: Sequence[str | float], what: str) -> np.ndarray:
    """Convert tokens to a finite float array, or raise ParseError naming ``what``."""
    try:
        values = np.array(tokens, dtype=float)
    except ValueError:
        bad = next((t for t in tokens if not _is_number(str(t))), "?")
        raise ParseError(f"{what}: {str(bad)[:60]!r} is not a number") from None
    return _checked(values, what)


# --- echo client samples -----------------------------------------------------------

_SAMPLES_HEADER = re.compile(r"\s*num samples:\s*(\d+)\s*$")


def parse_samples(source: Source) -> np.ndarray:
    """One number per line, with an optional first line ``num samples: N``.

    The echo client (ours and the artifact's) writes the header; when it is
    present the number of samples must equal N, otherwise the file was cut short
    (the client was killed while writing) and the error says so.
    """
    text = read_source(source)
    first, _, rest = text.partition("\n")
    header = _SAMPLES_HEADER.match(first)
    body, first_line = (rest, 2) if header else (text, 1)
    try:
        values = np.array(body.split(), dtype=float)
    except ValueError:
        raise ParseError(_describe_bad_token(body, first_line)) from None
    _checked(values, "samples")
    if header and int(header.group(1)) != values.size:
        raise ParseError(
            f"header says 'num samples: {header.group(1)}' but the file has "
            f"{values.size} samples (truncated or appended file?)"
        )
    return values


def _describe_bad_token(body: str, first_line: int) -> str:
    """Name the first line of ``body`` holding a token that is not a number."""
    for number, line in enumerate(body.splitlines(), start=first_line):
        bad = [token for token in line.split() if not _is_number(token)]
        if bad:
            return f"line {number}: {bad[0][:60]!r} is not a number"
    return "a sample is not a number"


# --- iperf 2 -----------------------------------------------------------------------

_BITS = {"": 1e-9, "K": 1e-6, "M": 1e-3, "G": 1.0, "T": 1e3}
# "[SUM] 0.0000-10.0012 sec  8.43 GBytes  7.24 Gbits/sec" (interval optional),
# "[  3] 0.0-10.0 sec ..." for a single stream; iperf 2.1 may print "[SUM-48]".
_IPERF_REPORT = re.compile(
    r"^\[\s*(?P<id>SUM(?:-\d+)?|\d+)\]\s+"
    r"(?:(?P<start>\d+(?:\.\d+)?)\s*-\s*(?P<end>\d+(?:\.\d+)?)\s+sec\s+)?"
    r"\d+(?:\.\d+)?\s+[KMGT]?Bytes\s+"
    r"(?P<value>\d+(?:\.\d+)?)\s+(?P<unit>[KMGT]?)bits/sec",
    re.MULTILINE,
)
_IPERF_CONNECTED = re.compile(r"^\[\s*(\d+)\] local .* connected with ", re.MULTILINE)
_IPERF_CLIENT_BANNER = re.compile(r"^Client connecting to ", re.MULTILINE)


@dataclass(frozen=True)
class IperfRuns:
    """Aggregate bandwidth of each iperf run in a file.

    ``gbps`` has one value per complete run. ``incomplete`` counts runs that
    connected but have no total: several streams and no ``[SUM]`` line, or no
    report at all (iperf was interrupted). Their total is unknown, so they are
    left out rather than guessed.
    """

    gbps: np.ndarray
    incomplete: int


def parse_iperf(source: Source) -> IperfRuns:
    """iperf 2 client output, many runs appended to one file.

    A run is the text after a ``Client connecting to`` banner (or the whole file
    if there is none). Its bandwidth is its final ``[SUM]`` report, normalised to
    Gbits/sec. A run's final report is one whose interval starts at 0 and that is
    not followed by a later interval of the same run (with ``-i``, iperf prints
    per-interval ``[SUM]`` lines before the total). A ``[SUM]`` line without an
    interval counts as a total. A run with a single stream (one ``connected
    with`` line, one stream id in the reports) has no ``[SUM]`` line: its
    stream's final report is the run's bandwidth.
    """
    text = read_source(source)
    segments = _IPERF_CLIENT_BANNER.split(text)
    runs: list[float] = []
    incomplete = 0
    for segment in segments:
        reports = list(_IPERF_REPORT.finditer(segment))
        sums = [r for r in reports if r["id"].startswith("SUM")]
        streams = set(_IPERF_CONNECTED.findall(segment))
        streams |= {r["id"] for r in reports} - {r["id"] for r in sums}
        if sums:
            runs += _run_totals(sums)
        elif len(streams) == 1 and reports:
            runs += _run_totals(reports)
        elif streams:  # several streams without a [SUM], or no report at all
            incomplete += 1
    return IperfRuns(gbps=_floats(runs, "iperf bandwidth reports"), incomplete=incomplete)


def _run_totals(reports: list[re.Match[str]]) -> list[float]:
    """Bandwidths (Gbit/s) of the reports that close a run (see :func:`parse_iperf`)."""
    totals = []
    for this, following in zip(reports, [*reports[1:], None], strict=True):
        starts_at_zero = this["start"] is None or float(this["start"]) == 0
        followed_by_next_run = following is None or (
            following["start"] is None or float(following["start"]) == 0
        )
        if starts_at_zero and followed_by_next_run:
            totals.append(float(this["value"]) * _BITS[this["unit"]])
    return totals


# --- mutilate ----------------------------------------------------------------------

_MUTILATE_QPS = re.compile(r"^Total QPS = (\d+(?:\.\d+)?)", re.MULTILINE)
# Column names of the "#type" header, as dict keys (avg, std and min keep their names).
_MUTILATE_COLUMNS = {
    "5th": "p5",
    "10th": "p10",
    "50th": "p50",
    "90th": "p90",
    "95th": "p95",
    "99th": "p99",
    "99.9th": "p99_9",
    "99.99th": "p99_99",
}


@dataclass(frozen=True)
class MutilateRuns:
    """What each Mutilate run in a file printed.

    ``qps``: ``Total QPS`` of each run. ``read``: the ``read`` row of each run
    (latency in µs) by column: ``avg, std, min, p5, p10, p50, p90, p95, p99,
    p99_9, p99_99``. A run cut short may have a ``read`` row but no QPS line, so
    the arrays can differ in length by the runs that did not finish.
    """

    qps: np.ndarray
    read: dict[str, np.ndarray]


def parse_mutilate(source: Source) -> MutilateRuns:
    """Mutilate's text output, one or many runs concatenated."""
    text = read_source(source)
    qps = _floats(_MUTILATE_QPS.findall(text), "'Total QPS' lines")
    columns: list[str] = []
    rows: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if fields[:1] == ["#type"]:
            columns = [_MUTILATE_COLUMNS.get(name, name) for name in fields[1:]]
        elif fields[:1] == ["read"]:
            if len(fields) - 1 != len(columns):
                raise ParseError(f"line {number}: 'read' row does not match the #type header")
            rows.append(list(_floats(fields[1:], f"line {number}: 'read' row")))
    table = np.array(rows, dtype=float).reshape(len(rows), len(columns))
    return MutilateRuns(qps=qps, read={c: table[:, i] for i, c in enumerate(columns)})


_MUTILATE_SAVE_LATENCY = re.compile(r"^[ \t]*\S+[ \t]+\S+[ \t]+(\S+)", re.MULTILINE)


def parse_mutilate_save(source: Source) -> np.ndarray:
    """Mutilate ``--save`` samples: one request a line, ``port start_time latency_us ...``.

    Returns the latencies (third field, µs) of every request, in file order.
    """
    text = read_source(source)
    return _floats(_MUTILATE_SAVE_LATENCY.findall(text), "mutilate --save latencies")


# --- kernel log, BPF_PROG_TEST_RUN runner, drop server -------------------------------

_DMESG_REACH = re.compile(r"It takes (\d+(?:\.\d+)?) to reach (\S+)")


def parse_dmesg(source: Source) -> dict[str, np.ndarray]:
    """Kernel log lines ``[ts] tag: It takes N to reach HOOK`` → N (ns) per HOOK.

    Other kernel messages in the log are ignored. Hooks keep the spelling of the
    log (``TC``, ``SK_SKB``, ...).
    """
    text = read_source(source)
    per_hook: dict[str, list[str]] = {}
    for value, hook in _DMESG_REACH.findall(text):
        per_hook.setdefault(hook, []).append(value)
    if not per_hook:
        raise ParseError("no 'It takes N to reach HOOK' lines found")
    return {hook: _floats(values, f"{hook} values") for hook, values in per_hook.items()}


_RUNNER_RESULT = re.compile(r"^benchmark res: (\S+)", re.MULTILINE)


def parse_runner(source: Source) -> np.ndarray:
    """BPF_PROG_TEST_RUN runner: ``benchmark res: X`` (ns per program run), one per run."""
    text = read_source(source)
    return _floats(_RUNNER_RESULT.findall(text), "'benchmark res:' lines")


_DROP_THROUGHPUT = re.compile(r"throughput:\s*(\d+(?:\.\d+)?)\s*\(pps\)")


def parse_drop(source: Source) -> np.ndarray:
    """Drop server: ``throughput: N (pps)``, one line per second."""
    text = read_source(source)
    return _floats(_DROP_THROUGHPUT.findall(text), "'throughput: N (pps)' lines")


# --- perf stat and the Figure 11/12 sweeps -------------------------------------------

_PERF_COUNTER = re.compile(
    r"^\s*(?P<value>\d[\d,]*(?:\.\d+)?|<not supported>|<not counted>)\s+"
    r"(?:(?:msec|usec|nsec)\s+)?(?P<name>[A-Za-z][\w.:/\-]*)"
)
_PERF_ELAPSED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+(?:\+-\s+\S+\s+)?seconds time elapsed")


@dataclass(frozen=True)
class PerfStat:
    """One ``perf stat`` block.

    ``counters`` maps an event name to its count (``cycles``,
    ``L1-dcache-load-misses``, ...). Events perf printed as ``<not supported>``
    or ``<not counted>`` are listed in ``unsupported`` instead (a VM without
    hardware counters prints that). ``elapsed_s`` is the measured duration.
    """

    counters: dict[str, float]
    unsupported: tuple[str, ...] = ()
    elapsed_s: float | None = None


def parse_perfstat(source: Source) -> PerfStat:
    """Counters of a ``perf stat`` block (lines ``  2,097,541,922  cycles  # ...``)."""
    text = read_source(source)
    counters: dict[str, float] = {}
    unsupported: list[str] = []
    elapsed = None
    for line in text.splitlines():
        if match := _PERF_ELAPSED.match(line):
            elapsed = float(match.group(1))
        elif match := _PERF_COUNTER.match(line):
            if match["value"].startswith("<"):
                unsupported.append(match["name"])
            else:
                counters[match["name"]] = float(match["value"].replace(",", ""))
    if not counters and not unsupported:
        raise ParseError("no perf stat counter lines found")
    return PerfStat(counters=counters, unsupported=tuple(unsupported), elapsed_s=elapsed)


_SWEEP_POINT = re.compile(r"^-- (\w+): (\d+(?:\.\d+)?)\s*$", re.MULTILINE)
_SWEEP_TPUT = re.compile(r"^\s*tput: (\d+(?:\.\d+)?)", re.MULTILINE)


@dataclass(frozen=True)
class SweepPoint:
    """One point of a Figure 11/12 sweep: ``-- flows: N`` or ``-- zipf: s``.

    ``parameter`` is the swept variable's name (``flows``, ``zipf``), ``value``
    its value, ``tput_mpps`` the throughput printed as ``tput:`` (Mpps) and
    ``perf`` the perf stat block that follows, if any.
    """

    parameter: str
    value: float
    tput_mpps: float
    perf: PerfStat | None


def parse_flows(source: Source) -> list[SweepPoint]:
    """A Figure 11/12 file: points ``-- flows: N`` / ``-- zipf: s``, each with
    ``tput: X`` and a perf stat block. Notes after the last point are ignored."""
    text = read_source(source)
    heads = list(_SWEEP_POINT.finditer(text))
    if not heads:
        raise ParseError("no '-- flows: N' or '-- zipf: s' lines found")
    ends = [h.start() for h in heads[1:]] + [len(text)]
    bodies = [text[head.end() : end] for head, end in zip(heads, ends, strict=True)]
    return [_sweep_point(head, body) for head, body in zip(heads, bodies, strict=True)]


def _sweep_point(head: re.Match[str], body: str) -> SweepPoint:
    """Parse the text of one sweep point after its ``-- name: value`` line."""
    tput = _SWEEP_TPUT.search(body)
    if tput is None:
        raise ParseError(f"point '-- {head[1]}: {head[2]}' has no 'tput:' line")
    try:
        perf = parse_perfstat(body)
    except ParseError:
        perf = None
    return SweepPoint(parameter=head[1], value=float(head[2]), tput_mpps=float(tput[1]), perf=perf)


# --- user_access (Table 4) -------------------------------------------------------------

_USER_ACCESS_LINE = re.compile(
    r"^access (?P<name>[a-z_]+): (?:(?P<ns>\d+(?:\.\d+)?) ns|unsupported here: (?P<why>.*))$"
)


@dataclass(frozen=True)
class UserAccess:
    """What ``user_access`` printed: ``access <name>: <ns> ns`` per collection.

    ``ns`` has one value per run in the file (runs may be appended) for each
    collection measured. ``unsupported`` maps a collection that the host could
    not measure (``access <name>: unsupported here: <reason>``) to the reason.
    """

    ns: dict[str, np.ndarray]
    unsupported: dict[str, str]


def parse_user_access(source: Source) -> UserAccess:
    """``user_access`` output: one ``access <name>: ...`` line per collection.

    Lines that do not start with ``access `` (notes a log may hold) are ignored;
    one that does but is neither form is an error naming its line.
    """
    text = read_source(source)
    values: dict[str, list[str]] = {}
    unsupported: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("access "):
            continue
        match = _USER_ACCESS_LINE.match(line.rstrip())
        if match is None:
            raise ParseError(f"line {number}: {line[:60]!r} is not an 'access <name>:' result")
        if match["ns"] is not None:
            values.setdefault(match["name"], []).append(match["ns"])
        else:
            unsupported[match["name"]] = match["why"].strip()
    if not values and not unsupported:
        raise ParseError("no 'access <name>: <ns> ns' lines found")
    return UserAccess(
        ns={name: _floats(v, f"{name} times") for name, v in values.items()},
        unsupported=unsupported,
    )


# --- channel_bench and udp_flood (Figure 13) -------------------------------------------

_CHANNEL_TOTAL = re.compile(
    r"^total: (\d+) payloads in (\d+(?:\.\d+)?) s \((\d+(?:\.\d+)?) pps\)", re.MULTILINE
)
_CHANNEL_QUEUED = re.compile(r"^queued: (\d+)", re.MULTILINE)
_CHANNEL_DROPPED = re.compile(r"^dropped: (\d+)", re.MULTILINE)
_CHANNEL_OFFERED = re.compile(r"testrun source offered (\d+) frames")


@dataclass(frozen=True)
class ChannelBench:
    """What ``channel_bench`` printed (its log may also hold its stderr notes).

    ``pps``: the ``throughput: N (pps)`` line of each second, in order.
    ``total``/``elapsed_s``: payloads user space took and the run's length;
    ``queued``/``dropped``: what XDP handed to the channel and what found no room;
    ``offered``: frames the ``--source testrun`` producer ran through the program.
    A run stopped before its end has per-second lines but no totals (``None``).
    """

    pps: np.ndarray
    total: int | None
    elapsed_s: float | None
    queued: int | None
    dropped: int | None
    offered: int | None


def _last_int(pattern: re.Pattern[str], text: str) -> int | None:
    found = pattern.findall(text)
    return int(found[-1]) if found else None


def parse_channel_bench(source: Source) -> ChannelBench:
    """``channel_bench`` output: per-second ``throughput:`` lines, then the totals."""
    text = read_source(source)
    total = _CHANNEL_TOTAL.findall(text)
    return ChannelBench(
        pps=parse_drop(text),
        total=int(total[-1][0]) if total else None,
        elapsed_s=float(total[-1][1]) if total else None,
        queued=_last_int(_CHANNEL_QUEUED, text),
        dropped=_last_int(_CHANNEL_DROPPED, text),
        offered=_last_int(_CHANNEL_OFFERED, text),
    )


_FLOOD_SENT = re.compile(
    r"^sent: (\d+) packets in (\d+(?:\.\d+)?) s \((\d+(?:\.\d+)?) pps\)", re.MULTILINE
)


@dataclass(frozen=True)
class FloodReport:
    """``udp_flood``'s summary: packets sent, in how long, at what rate."""

    packets: int
    seconds: float
    pps: float


def parse_udp_flood(source: Source) -> FloodReport:
    """``udp_flood`` output: ``sent: N packets in T s (R pps)`` (the last one counts)."""
    found = _FLOOD_SENT.findall(read_source(source))
    if not found:
        raise ParseError("no 'sent: N packets in T s (R pps)' line found")
    packets, seconds, pps = found[-1]
    return FloodReport(packets=int(packets), seconds=float(seconds), pps=float(pps))


# --- Memcached load generator ----------------------------------------------------------

_MC_LOAD_TOTAL = re.compile(
    r"^total: requests (\d+) replies (\d+) hits (\d+) misses (\d+) lost (\d+) errors (\d+)"
    r" seconds (\d+(?:\.\d+)?)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class McLoadRun:
    """``mc_load``'s totals over its measured seconds (warm-up excluded).

    ``hits``: replies carrying the value asked for; ``misses``: replies without one
    (``END`` only); ``lost``: requests never answered within the timeout.
    """

    requests: int
    replies: int
    hits: int
    misses: int
    lost: int
    errors: int
    seconds: float

    @property
    def rps(self) -> float:
        """Completed requests per second, Mutilate's ``Total QPS``."""
        return self.replies / self.seconds if self.seconds > 0 else 0.0


def parse_mc_load(source: Source) -> McLoadRun:
    """``mc_load`` output: per-second lines, then one ``total: ...`` line (the last counts)."""
    found = _MC_LOAD_TOTAL.findall(read_source(source))
    if not found:
        raise ParseError(
            "no 'total: requests N replies M hits H misses X lost L errors E seconds S' line"
        )
    *counts, seconds = found[-1]
    return McLoadRun(*(int(c) for c in counts), seconds=float(seconds))
