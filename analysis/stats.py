"""The statistics the paper prints, with the paper's conventions.

- Quantiles are nearest rank on the sorted samples: ``s[floor(N * q)]``, clamped
  to the last sample (so ``q = 1`` is the maximum). No interpolation: every
  quantile is a value that was measured.
- IQR is ``p75 - p25`` with those quantiles.
- "range" (the half-width of "median ± range") is the largest distance from the
  median to a sample inside the Tukey fences ``[Q1 - 1.5 IQR, Q3 + 1.5 IQR]``,
  i.e. how far the box plot's whiskers reach from the median.

``floor(N * q)`` is computed exactly, on the decimal value of ``q`` (0.999 means
999/1000), so no sample count lands on the wrong side of a rank through
floating-point rounding.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

#: Tukey's fence factor: samples further than this many IQRs outside the box are outliers.
TUKEY_K = 1.5

#: Quantiles reported by :func:`summarize`, by key.
QUANTILES: dict[str, Fraction] = {
    "p1": Fraction(1, 100),
    "p25": Fraction(1, 4),
    "p50": Fraction(1, 2),
    "p75": Fraction(3, 4),
    "p99": Fraction(99, 100),
    "p99_9": Fraction(999, 1000),
}

#: Keys of :func:`summarize`'s result, in the order the CLI prints them.
SUMMARY_KEYS = ("n", "mean", "min", "max", *QUANTILES, "iqr", "range")


def as_sorted(values: npt.ArrayLike) -> np.ndarray:
    """Return the values as a sorted 1-D float array; refuse empty or non-finite input."""
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise ValueError("no values to summarise")
    if not np.all(np.isfinite(array)):
        raise ValueError("values contain NaN or infinity")
    return np.sort(array)


def rank(n: int, q: float | Fraction) -> int:
    """Index of the nearest-rank ``q`` quantile among ``n`` sorted samples."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} is outside [0, 1]")
    exact = q if isinstance(q, Fraction) else Fraction(str(q))
    return min(int(n * exact), n - 1)


def quantile(sorted_values: np.ndarray, q: float | Fraction) -> float:
    """Nearest-rank quantile ``s[floor(N q)]`` of already sorted values."""
    return float(sorted_values[rank(len(sorted_values), q)])


def median(values: npt.ArrayLike) -> float:
    """Nearest-rank median: the upper of the two middle samples when N is even."""
    return quantile(as_sorted(values), QUANTILES["p50"])


def iqr(values: npt.ArrayLike) -> float:
    """Interquartile range ``p75 - p25`` with nearest-rank quartiles."""
    s = as_sorted(values)
    return quantile(s, QUANTILES["p75"]) - quantile(s, QUANTILES["p25"])


def tukey_range(sorted_values: np.ndarray) -> float:
    """Largest distance from the median to a sample inside the Tukey fences."""
    q1 = quantile(sorted_values, QUANTILES["p25"])
    mid = quantile(sorted_values, QUANTILES["p50"])
    q3 = quantile(sorted_values, QUANTILES["p75"])
    spread = q3 - q1
    first = np.searchsorted(sorted_values, q1 - TUKEY_K * spread, side="left")
    last = np.searchsorted(sorted_values, q3 + TUKEY_K * spread, side="right") - 1
    # The median lies between the quartiles, so [first, last] is never empty.
    return max(mid - float(sorted_values[first]), float(sorted_values[last]) - mid)


def summarize(values: npt.ArrayLike) -> dict[str, float | int]:
    """Summary of a sample with the paper's conventions.

    Returns a dict with the keys of :data:`SUMMARY_KEYS`: ``n`` (int) and
    ``mean, min, max, p1, p25, p50, p75, p99, p99_9, iqr, range`` (floats).
    """
    s = as_sorted(values)
    summary: dict[str, float | int] = {
        "n": int(s.size),
        "mean": float(np.mean(s)),
        "min": float(s[0]),
        "max": float(s[-1]),
    }
    summary.update({key: quantile(s, q) for key, q in QUANTILES.items()})
    summary["iqr"] = summary["p75"] - summary["p25"]
    summary["range"] = tukey_range(s)
    return summary
