"""Significance tests, corrections, effect sizes and confidence intervals for results tables.

Small pure functions over arrays of per-seed or per-(fold, seed) results.  The seed papers
compare models with two-sided independent t-tests over seeds at p < 0.05
(:func:`ttest_independent`); sertext adds paired tests over matched runs
(:func:`ttest_paired`) with Holm's correction across the comparisons of a table (:func:`holm`),
effect sizes (:func:`cohens_d`) and bootstrap confidence intervals (:func:`bootstrap_ci`).
The test statistics are computed from their formulas here and checked against scipy in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy


@dataclass(frozen=True)
class TestResult:
    """A t-test: statistic, two-sided p-value and degrees of freedom (``nan`` where undefined)."""

    statistic: float
    p_value: float
    df: float

    __test__ = False  # not a pytest test class


def _t_result(t: float, df: float) -> TestResult:
    if not math.isfinite(t) or df < 1:
        return TestResult(math.nan, math.nan, float(df))
    return TestResult(float(t), float(2 * _scipy.t.sf(abs(t), df)), float(df))


def _values(x, name: str, minimum: int) -> np.ndarray:
    values = np.asarray(x, dtype=float)
    if values.ndim != 1 or len(values) < minimum:
        raise ValueError(f"{name} needs a 1-D array of at least {minimum} values, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return values


def ttest_independent(a, b) -> TestResult:
    """Student's two-sample t-test (equal variances, two-sided), the seed papers' test.

    t = (mean(a) − mean(b)) / (s_p · √(1/n_a + 1/n_b)) with the pooled variance
    s_p² = ((n_a − 1)·var(a) + (n_b − 1)·var(b)) / (n_a + n_b − 2), df = n_a + n_b − 2.
    When both samples are constant the statistic is undefined and NaN is returned.

    Examples:
        >>> r = ttest_independent([0.61, 0.63, 0.62], [0.55, 0.57, 0.56])
        >>> round(r.statistic, 3), round(r.p_value, 5), r.df
        (7.348, 0.00183, 4.0)
    """
    a, b = _values(a, "a", 2), _values(b, "b", 2)
    df = len(a) + len(b) - 2
    pooled = ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / df
    scale = math.sqrt(pooled * (1 / len(a) + 1 / len(b)))
    return _t_result((a.mean() - b.mean()) / scale if scale > 0 else math.nan, df)


def ttest_paired(a, b) -> TestResult:
    """Paired t-test (two-sided) over matched results, e.g. the same (fold, seed) of two models.

    t = mean(d) / (sd(d) / √n) with d = a − b, df = n − 1.

    Examples:
        >>> r = ttest_paired([0.61, 0.64, 0.60, 0.66], [0.58, 0.60, 0.59, 0.62])
        >>> round(r.statistic, 3), round(r.p_value, 4), r.df
        (4.243, 0.024, 3.0)
    """
    differences = _differences(a, b)
    return ttest_one_sample(differences, 0.0)


def ttest_one_sample(x, popmean: float = 0.0) -> TestResult:
    """One-sample t-test (two-sided) of ``mean(x) = popmean``, e.g. residuals of one dialogue act.

    t = (mean(x) − popmean) / (sd(x) / √n), df = n − 1.

    Examples:
        >>> r = ttest_one_sample([0.2, 0.4, 0.1, 0.3, 0.5])
        >>> round(r.statistic, 3), round(r.p_value, 4)
        (4.243, 0.0132)
    """
    x = _values(x, "x", 2)
    scale = x.std(ddof=1) / math.sqrt(len(x))
    return _t_result((x.mean() - popmean) / scale if scale > 0 else math.nan, len(x) - 1)


def _differences(a, b) -> np.ndarray:
    a, b = _values(a, "a", 2), _values(b, "b", 2)
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    return a - b


def holm(p_values) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control across one table's tests).

    Sorted ascending, p_(i) is multiplied by (m − i) for i = 0…m−1, made non-decreasing and capped
    at 1; reject where the adjusted value is below α.  NaN p-values stay NaN and do not count in m.

    Examples:
        >>> holm([0.01, 0.04, 0.03, 0.005])
        [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        adjusted[index] = running
    return [round(float(v), 12) for v in adjusted]


def cohens_d(a, b, *, paired: bool = False) -> float:
    """Cohen's d: the mean difference in standard deviations.

    Independent: (mean(a) − mean(b)) / s_p with the pooled standard deviation of
    :func:`ttest_independent`.  Paired (d_z): mean(d) / sd(d) with d = a − b.  NaN when the
    standard deviation is zero.

    Examples:
        >>> round(cohens_d([0.61, 0.63, 0.62], [0.55, 0.57, 0.56]), 3)
        6.0
    """
    if paired:
        differences = _differences(a, b)
        sd = differences.std(ddof=1)
        return float(differences.mean() / sd) if sd > 0 else math.nan
    a, b = _values(a, "a", 2), _values(b, "b", 2)
    pooled = ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)
    return float((a.mean() - b.mean()) / math.sqrt(pooled)) if pooled > 0 else math.nan


def bootstrap_ci(values, *, rng: np.random.Generator, confidence: float = 0.95,
                 n_resamples: int = 10_000) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    Resamples ``values`` with replacement ``n_resamples`` times and returns the (1 − confidence)/2
    and (1 + confidence)/2 quantiles of the resampled means.

    Examples:
        >>> low, high = bootstrap_ci([0.61, 0.64, 0.60, 0.66, 0.63], rng=np.random.default_rng(0))
        >>> 0.60 <= low < 0.628 < high <= 0.66
        True
    """
    values = _values(values, "values", 1)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    means = values[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def marker(p_value: float, symbol: str, *, alpha: float = 0.05) -> str:
    """``symbol`` where ``p_value < alpha`` (the papers' * and †), else an empty string.

    Examples:
        >>> marker(0.01, "*"), marker(0.2, "*"), marker(float("nan"), "†")
        ('*', '', '')
    """
    return symbol if p_value < alpha else ""
