"""The paper's statistics conventions, on data small enough to check by hand."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from analysis import stats


def test_nearest_rank_is_floor_of_n_q() -> None:
    s = np.arange(1.0, 11.0)  # 1..10
    assert stats.quantile(s, 0.25) == 3.0  # s[floor(2.5)] = s[2]
    assert stats.quantile(s, 0.5) == 6.0  # upper middle sample, not 5.5
    assert stats.quantile(s, 0.75) == 8.0  # s[floor(7.5)] = s[7]
    assert stats.quantile(s, 0.01) == 1.0
    assert stats.quantile(s, 0.99) == 10.0


def test_rank_is_clamped_to_the_last_sample() -> None:
    assert stats.rank(10, 1) == 9
    assert stats.rank(1, 0.5) == 0


def test_rank_is_exact_on_the_decimal_quantile() -> None:
    # 100 * 0.29 is 28.999999999999996 in binary floating point: the rank is 29.
    assert stats.rank(100, 0.29) == 29
    assert stats.rank(1000, 0.999) == 999
    assert stats.rank(7, Fraction(1, 2)) == 3


def test_rank_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match="outside"):
        stats.rank(10, 1.5)


def test_median_and_iqr_ignore_input_order() -> None:
    values = [9, 1, 8, 2, 7, 3, 6, 4, 5, 10]
    assert stats.median(values) == 6.0
    assert stats.iqr(values) == 5.0  # 8 - 3


def test_summarize_keys_and_values() -> None:
    summary = stats.summarize(np.arange(1.0, 11.0))
    assert tuple(summary) == stats.SUMMARY_KEYS
    assert summary == {
        "n": 10,
        "mean": 5.5,
        "min": 1.0,
        "max": 10.0,
        "p1": 1.0,
        "p25": 3.0,
        "p50": 6.0,
        "p75": 8.0,
        "p99": 10.0,
        "p99_9": 10.0,
        "iqr": 5.0,
        "range": 5.0,  # max(6 - 1, 10 - 6): every sample is inside the fences
    }
    assert isinstance(summary["n"], int)


def test_range_stops_at_the_tukey_fences() -> None:
    # Q1 = s[2] = 10, median = s[5] = 10, Q3 = s[8] = 13, IQR 3: fences [5.5, 17.5].
    # 0 and 30 are outside; the farthest sample inside is 14, 4 above the median.
    values = [0, 10, 10, 10, 10, 10, 11, 12, 13, 14, 30]
    summary = stats.summarize(values)
    assert (summary["p25"], summary["p50"], summary["p75"]) == (10.0, 10.0, 13.0)
    assert summary["range"] == 4.0


def test_range_takes_the_farther_side() -> None:
    # Q1 = s[2] = 2, median = s[4] = 5, Q3 = s[6] = 6: fences [-4, 12], all inside.
    # Below the median the farthest sample is 5 away (0), above only 2 (7).
    assert stats.tukey_range(np.array([0.0, 1, 2, 3, 5, 6, 6, 7])) == 5.0


def test_fence_is_inclusive() -> None:
    # Q1 = s[1] = 0, median = Q3 = 2, IQR 2: the upper fence is exactly 5, which counts
    # as inside, so the range is 3 (it would be 2 if 5 were left out).
    values = np.array([0.0, 0, 1, 2, 2, 5])
    assert stats.quantile(values, 0.75) == 2.0
    assert stats.tukey_range(values) == 5.0 - stats.quantile(values, 0.5)


def test_single_sample() -> None:
    summary = stats.summarize([42.0])
    assert summary["p1"] == summary["p99_9"] == 42.0
    assert summary["iqr"] == summary["range"] == 0.0


@pytest.mark.parametrize("values", [[], [1.0, float("nan")], [float("inf")]])
def test_summarize_refuses_empty_or_non_finite(values: list[float]) -> None:
    with pytest.raises(ValueError, match=r"no values|NaN"):
        stats.summarize(values)
