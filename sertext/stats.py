"""Significance tests, corrections, effect sizes, confidence intervals and power for results tables.

Small pure functions over arrays of per-seed or per-(fold, seed) results.  The seed papers
compare models with two-sided independent t-tests over seeds at p < 0.05
(:func:`ttest_independent`); sertext adds paired tests over matched runs
(:func:`ttest_paired`) with Holm's correction across the comparisons of a table (:func:`holm`),
effect sizes (:func:`cohens_d`), bootstrap confidence intervals (:func:`bootstrap_ci`) and a power
analysis of the seed count (:func:`minimum_detectable_difference`, :func:`seeds_needed`).

The statistics themselves come from scipy (the t-tests, the bootstrap) and statsmodels (Holm's
correction, the power of the t-tests); this module checks the inputs, fixes the options and
decides what degenerate inputs give.  Results that do not vary at all (every seed the same) have
no spread to test against: the t-tests return NaN there, where scipy would return ±inf and p = 0
for exactly constant samples, or a huge statistic and a tiny p-value for values equal up to
floating-point rounding.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize as _optimize
from scipy import stats as _scipy
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower, TTestPower

# Values whose spread is at most this many units in the last place of their magnitude count as
# constant: 0.1 + 0.1 + 0.1 is not 0.3, so three equal values have a sample variance of ~1e-34.
_ROUNDING_ULPS = 4


@dataclass(frozen=True)
class TestResult:
    """A t-test: statistic, two-sided p-value and degrees of freedom (``nan`` where undefined)."""

    statistic: float
    p_value: float
    df: float

    __test__ = False  # not a pytest test class


def _result(scipy_result) -> TestResult:
    return TestResult(float(scipy_result.statistic), float(scipy_result.pvalue), float(scipy_result.df))


def _values(x, name: str, minimum: int) -> np.ndarray:
    values = np.asarray(x, dtype=float)
    if values.ndim != 1 or len(values) < minimum:
        raise ValueError(f"{name} needs a 1-D array of at least {minimum} values, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return values


def _constant(values: np.ndarray, *, scale: float | None = None) -> bool:
    """Whether ``values`` differ by no more than floating-point rounding at ``scale`` (default: their own)."""
    scale = np.abs(values).max() if scale is None else scale
    return bool(np.ptp(values) <= _ROUNDING_ULPS * np.finfo(float).eps * scale)


def ttest_independent(a, b) -> TestResult:
    """Student's two-sample t-test (equal variances, two-sided), the seed papers' test.

    ``scipy.stats.ttest_ind(a, b)``: pooled variance, df = n_a + n_b − 2.  When both samples are
    constant the statistic is undefined (no spread) and NaN is returned.

    Examples:
        >>> r = ttest_independent([0.61, 0.63, 0.62], [0.55, 0.57, 0.56])
        >>> round(r.statistic, 3), round(r.p_value, 5), r.df
        (7.348, 0.00183, 4.0)
    """
    a, b = _values(a, "a", 2), _values(b, "b", 2)
    if _constant(a) and _constant(b):
        return TestResult(math.nan, math.nan, float(len(a) + len(b) - 2))
    with warnings.catch_warnings():
        if _constant(a) or _constant(b):  # scipy warns of the constant one; the other gives the variance
            warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        return _result(_scipy.ttest_ind(a, b, equal_var=True, alternative="two-sided"))


def ttest_paired(a, b) -> TestResult:
    """Paired t-test (two-sided) over matched results, e.g. the same (fold, seed) of two models.

    ``scipy.stats.ttest_rel(a, b)``: a one-sample test of d = a − b against 0, df = n − 1.  NaN
    when the differences are constant (up to the rounding of a − b).

    Examples:
        >>> r = ttest_paired([0.61, 0.64, 0.60, 0.66], [0.58, 0.60, 0.59, 0.62])
        >>> round(r.statistic, 3), round(r.p_value, 4), r.df
        (4.243, 0.024, 3.0)
    """
    differences = _differences(a, b)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if _constant(differences, scale=max(np.abs(a).max(), np.abs(b).max())):  # rounding of a − b
        return TestResult(math.nan, math.nan, float(len(a) - 1))
    return _result(_scipy.ttest_rel(a, b, alternative="two-sided"))


def ttest_one_sample(x, popmean: float = 0.0) -> TestResult:
    """One-sample t-test (two-sided) of ``mean(x) = popmean``, e.g. residuals of one dialogue act.

    ``scipy.stats.ttest_1samp(x, popmean)``, df = n − 1.  NaN when ``x`` is constant.

    Examples:
        >>> r = ttest_one_sample([0.2, 0.4, 0.1, 0.3, 0.5])
        >>> round(r.statistic, 3), round(r.p_value, 4)
        (4.243, 0.0132)
    """
    x = _values(x, "x", 2)
    if _constant(x):
        return TestResult(math.nan, math.nan, float(len(x) - 1))
    return _result(_scipy.ttest_1samp(x, popmean, alternative="two-sided"))


def _differences(a, b) -> np.ndarray:
    a, b = _values(a, "a", 2), _values(b, "b", 2)
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    return a - b


def holm(p_values) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control across one table's tests).

    ``statsmodels.stats.multitest.multipletests(p, method="holm")``: sorted ascending, p_(i) is
    multiplied by (m − i) for i = 0…m−1, made non-decreasing and capped at 1; reject where the
    adjusted value is below α.  NaN p-values stay NaN and do not count in m.  Values are rounded
    to 12 decimals so that 3 · 0.01 prints as 0.03.

    Examples:
        >>> holm([0.01, 0.04, 0.03, 0.005])
        [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=float).reshape(-1)
    adjusted = np.full(len(p), math.nan)
    valid = ~np.isnan(p)
    if valid.any():
        adjusted[valid] = multipletests(p[valid], method="holm")[1]
    return [round(float(v), 12) for v in adjusted]


def cohens_d(a, b, *, paired: bool = False) -> float:
    """Cohen's d: the mean difference in standard deviations.

    Independent: (mean(a) − mean(b)) / s_p with the pooled standard deviation
    s_p² = ((n_a − 1)·var(a) + (n_b − 1)·var(b)) / (n_a + n_b − 2) of :func:`ttest_independent`.
    Paired (d_z): mean(d) / sd(d) with d = a − b.  NaN when the standard deviation is zero.

    Examples:
        >>> round(cohens_d([0.61, 0.63, 0.62], [0.55, 0.57, 0.56]), 3)
        6.0
    """
    if paired:
        differences = _differences(a, b)
        sd = differences.std(ddof=1)
        return float(differences.mean() / sd) if sd > 0 else math.nan
    a, b = _values(a, "a", 2), _values(b, "b", 2)
    sd = pooled_sd(a, b)
    return float((a.mean() - b.mean()) / sd) if sd > 0 else math.nan


def pooled_sd(a, b) -> float:
    """The pooled standard deviation of two samples, s_p with
    s_p² = ((n_a − 1)·var(a) + (n_b − 1)·var(b)) / (n_a + n_b − 2): the spread the papers' t-test
    over seeds assumes both models share.

    Examples:
        >>> round(pooled_sd([0.61, 0.63, 0.62], [0.55, 0.57, 0.56]), 3)
        0.01
    """
    a, b = _values(a, "a", 2), _values(b, "b", 2)
    return math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))


def bootstrap_ci(values, *, rng: np.random.Generator, confidence: float = 0.95,
                 n_resamples: int = 10_000) -> tuple[float, float]:
    """Bias-corrected and accelerated (BCa) bootstrap confidence interval of the mean.

    ``scipy.stats.bootstrap((values,), np.mean, method="BCa", rng=rng)``.  BCa rather than the
    percentile interval: it corrects for the bias and skew of the resampled means, which
    differences of bounded metrics (UAR, CCC near their ceiling) have.  In a simulation at 95%
    both intervals covered alike for normal data, and BCa 1–2 points more often for skewed data
    (lognormal, exponential) at 10 to 50 values; both cover too rarely below ~20 values (about 85%
    at 5), so read a narrow interval over few seeds with care.  Constant values (also a single
    value) have no spread to resample and give the interval (value, value), without calling scipy,
    whose BCa is undefined there.

    Examples:
        >>> low, high = bootstrap_ci([0.61, 0.64, 0.60, 0.66, 0.63], rng=np.random.default_rng(0))
        >>> round(low, 3), round(high, 3)
        (0.612, 0.648)
    """
    values = _values(values, "values", 1)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    interval = _scipy.bootstrap((values,), np.mean, method="BCa", confidence_level=confidence,
                                n_resamples=n_resamples, rng=rng).confidence_interval
    return float(interval.low), float(interval.high)


def marker(p_value: float, symbol: str, *, alpha: float = 0.05) -> str:
    """``symbol`` where ``p_value < alpha`` (the papers' * and †), else an empty string.

    Examples:
        >>> marker(0.01, "*"), marker(0.2, "*"), marker(float("nan"), "†")
        ('*', '', '')
    """
    return symbol if p_value < alpha else ""


def minimum_detectable_difference(sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8,
                                  paired: bool = False) -> float:
    """The smallest true difference a two-sided t-test over ``n`` seeds detects with ``power``.

    Independent (the papers' test, ``n`` seeds per model): ``sd`` is the pooled standard deviation
    over seeds (the s_p of :func:`cohens_d`), the test has 2n − 2 degrees of freedom and
    noncentrality d·√(n/2) for a true effect d = difference / sd.  Paired (``n`` matched runs):
    ``sd`` is the standard deviation of the differences, n − 1 degrees of freedom, noncentrality
    d·√n.  The power comes from statsmodels (``TTestIndPower``, ``TTestPower``); the effect size
    is solved here by bracketing, since statsmodels' ``solve_power`` returns wrong values without
    an error at 2–5 seeds.  ``sd`` = 0 gives 0.0, the limit (but the t-tests return NaN for
    results that never vary, see the module docstring).

    Raises:
        ValueError: if ``n`` < 2 (no t-test), ``sd`` is negative or not finite, not
            0 < alpha < power < 1, or scipy's noncentral t fails (very few seeds at a strict alpha).

    Examples:
        >>> round(minimum_detectable_difference(0.01, 5), 4)  # UAR sd 1 point, 5 seeds per model
        0.0202
        >>> round(minimum_detectable_difference(0.01, 5, paired=True), 4)
        0.0168
    """
    sd, n = _sd(sd), _seed_count(n)
    _check_levels(alpha, power)
    return 0.0 if sd == 0 else sd * _detectable_effect(n, alpha, power, paired)


def seeds_needed(sd: float, difference: float, *, alpha: float = 0.05, power: float = 0.8,
                 paired: bool = False) -> int:
    """Seeds per model (or matched runs, ``paired``) for a two-sided t-test to detect ``difference``.

    The smallest n ≥ 2 whose power (see :func:`minimum_detectable_difference`, same ``sd``) to
    detect a true ``difference`` (e.g. 0.01, one point of UAR; its sign does not matter) at
    ``alpha`` reaches ``power``.  ``sd`` = 0 gives 2, the limit.

    Raises:
        ValueError: if ``difference`` is 0 or not finite, ``sd`` is negative or not finite, or not
            0 < alpha < power < 1.

    Examples:
        >>> seeds_needed(0.01, 0.01)  # UAR sd 1 point; one point of difference, independent runs
        17
        >>> seeds_needed(0.01, 0.01, paired=True)
        10
    """
    sd = _sd(sd)
    if not math.isfinite(difference) or difference == 0:
        raise ValueError(f"difference must be a finite non-zero number, got {difference}")
    _check_levels(alpha, power)
    if sd == 0:
        return 2
    effect = abs(difference) / sd
    if effect >= _detectable_effect(2, alpha, power, paired):
        return 2  # also keeps the search below away from huge noncentralities
    low, high = 2, 4  # power(low) < power <= power(high), n integer
    while _power(effect, high, alpha, paired) < power:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if _power(effect, middle, alpha, paired) >= power else (middle, high)
    return high


def _sd(sd: float) -> float:
    if not (math.isfinite(sd) and sd >= 0):
        raise ValueError(f"sd must be a finite number >= 0, got {sd}")
    return float(sd)


def _seed_count(n: int) -> int:
    if not float(n).is_integer() or n < 2:
        raise ValueError(f"n must be a whole number of seeds >= 2 (a t-test needs two), got {n}")
    return int(n)


def _check_levels(alpha: float, power: float) -> None:
    if not 0 < alpha < power < 1:
        raise ValueError(f"need 0 < alpha < power < 1, got alpha={alpha}, power={power}")


def _detectable_effect(n: int, alpha: float, power: float, paired: bool) -> float:
    """The standardised effect d at which the two-sided t-test over ``n`` has ``power``."""
    high = (_scipy.norm.isf(alpha / 2) + _scipy.norm.ppf(power)) / math.sqrt(n if paired else n / 2)
    while _power(high, n, alpha, paired) < power:  # the normal approximation undershoots the t's
        high *= 2
    return float(_optimize.brentq(lambda d: _power(d, n, alpha, paired) - power, 0.0, high,
                                  xtol=1e-12, rtol=4 * np.finfo(float).eps))


def _power(effect: float, n: int, alpha: float, paired: bool) -> float:
    """statsmodels' power of the two-sided t-test, around scipy's noncentral t NaNs."""
    analysis = TTestPower() if paired else TTestIndPower()
    value = float(analysis.power(effect, n, alpha, alternative="two-sided"))
    if math.isnan(value):
        # scipy's noncentral t CDF returns NaN in parts of its far tails (scipy issue 25470).  Take
        # the right-sign tail alone (as R's power.t.test does by default), from whichever side scipy
        # computes; the wrong-sign tail left out is below min(alpha / 2, Φ(−noncentrality)).
        value = float(analysis.power(effect, n, alpha / 2, alternative="larger"))
        if math.isnan(value):
            value = float(analysis.power(-effect, n, alpha / 2, alternative="smaller"))
    if not math.isfinite(value):
        raise ValueError(f"scipy's noncentral t failed for effect size {effect}, n={n}, alpha={alpha}")
    return value
