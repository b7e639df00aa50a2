"""Significance tests, corrections, effect sizes, confidence intervals and power for results tables.

Small pure functions over arrays of per-seed or per-(fold, seed) results.  The seed papers
compare models with two-sided independent t-tests over seeds at p < 0.05
(:func:`ttest_independent`); sertext adds paired tests over matched runs
(:func:`ttest_paired`) with Holm's correction across the comparisons of a table (:func:`holm`),
effect sizes (:func:`cohens_d`), bootstrap confidence intervals (:func:`bootstrap_ci`) and a power
analysis of the seed count (:func:`minimum_detectable_difference`, :func:`seeds_needed`).
Cross-validation folds share training data, so their results are correlated and the paired test
overstates significance; two fold-aware comparisons correct for that: Nadeau & Bengio's corrected
resampled t-test (:func:`corrected_resampled_ttest`) and Benavoli et al.'s Bayesian correlated
t-test (:func:`bayesian_correlated_ttest`).

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


def corrected_resampled_ttest(differences, *, n_test: float, n_train: float,
                              magnitude: float | None = None) -> TestResult:
    """Nadeau & Bengio's corrected resampled t-test (two-sided) of paired differences over folds.

    Nadeau & Bengio (2003), "Inference for the generalization error", Machine Learning 52:239-281.
    For k differences d_j = A − B over resamplings (folds, or fold × seed), whose training sets
    overlap: t = mean(d) / √((1/k + n_test/n_train) · s²), s² the sample variance, k − 1 degrees of
    freedom.  The paired t-test's 1/k assumes independent results; overlapping training sets
    correlate them, and the added n_test/n_train (test over training size of one fold, e.g. mean
    utterance or speaker counts over the folds) widens the variance for that.  n_test = 0 gives the
    paired t-test.  Fold × seed differences reuse each split, so they correlate more than the
    correction assumes: averaging the seeds per fold first (k = folds) is the more cautious input.
    NaN statistic and p-value when the differences are constant (as :func:`ttest_paired`): up to
    their own rounding, or, given ``magnitude`` (the size of the results they came from, e.g.
    max |a|, |b| for d = a − b), up to the rounding of a − b, which ``differences`` alone cannot show.

    Raises:
        ValueError: fewer than 2 differences, NaN or infinite ones, n_test < 0 or n_train <= 0.

    Examples:
        >>> d = [0.021, 0.034, -0.005, 0.012, 0.027, 0.018, 0.009, 0.030, -0.002, 0.015]  # 10 LOSO folds
        >>> r = corrected_resampled_ttest(d, n_test=1, n_train=8)  # speakers per fold
        >>> round(r.statistic, 3), round(r.p_value, 4), r.df
        (2.596, 0.0289, 9.0)
        >>> round(ttest_one_sample(d).p_value, 4)  # the paired test, uncorrected
        0.0037
    """
    d = _values(differences, "differences", 2)
    ratio = _size_ratio(n_test, n_train)
    if _constant(d, scale=magnitude):
        return TestResult(math.nan, math.nan, float(len(d) - 1))
    statistic = d.mean() / math.sqrt((1 / len(d) + ratio) * d.var(ddof=1))
    return TestResult(float(statistic), float(2 * _scipy.t.sf(abs(statistic), len(d) - 1)), float(len(d) - 1))


@dataclass(frozen=True)
class CorrelatedPosterior:
    """The Bayesian correlated t-test for d = A − B (higher = better): the probabilities that the mean
    difference lies left of, inside and right of the ROPE [−rope, rope] (they sum to 1), and the
    Student t posterior of the mean difference (location ``mean``, ``scale``, ``df``)."""

    p_b_better: float  # P(mean < −rope)
    p_equivalent: float  # P(−rope ≤ mean ≤ rope)
    p_a_better: float  # P(mean > rope)
    mean: float
    scale: float
    df: float


def bayesian_correlated_ttest(differences, rho: float, rope: float) -> CorrelatedPosterior:
    """Benavoli, Corani, Demšar & Zaffalon's Bayesian correlated t-test of paired differences over folds.

    Benavoli et al. (2017), "Time for a change: a tutorial for comparing multiple classifiers through
    Bayesian analysis", JMLR 18(77), section 3; ``baycomp.CorrelatedTTest``.  The k differences
    d = A − B over resamplings are normal with correlation ``rho`` between any two (folds share
    training data); under a flat prior the mean difference's posterior is Student t with k − 1 degrees
    of freedom, location mean(d) and scale √((1/k + rho/(1 − rho)) · s²), s² the sample variance.
    With rho = n_test / (n_test + n_train) (baycomp: 1 / number of folds) the scale is Nadeau &
    Bengio's, and mean / scale is :func:`corrected_resampled_ttest`'s statistic.  ``rope`` is the
    half-width of the region of practical equivalence, in the metric's units (0.01: one point of UAR).

    Constant differences (up to rounding) have no spread: the posterior is a point mass at mean(d),
    as in baycomp 1.0.3: P(A better) = 1 if mean > rope, P(B better) = 1 if mean < −rope, else
    P(equivalent) = 1; with rope = 0 a mean of exactly 0 gives P(A better) = P(B better) = 0.5.

    Raises:
        ValueError: fewer than 2 differences, NaN or infinite ones, rho outside [0, 1), rope < 0.

    Examples:
        >>> d = [0.021, 0.034, -0.005, 0.012, 0.027, 0.018, 0.009, 0.030, -0.002, 0.015]  # 10 LOSO folds
        >>> r = bayesian_correlated_ttest(d, rho=1 / 9, rope=0.01)  # 1 test, 8 training speakers
        >>> round(r.p_b_better, 3), round(r.p_equivalent, 3), round(r.p_a_better, 3)
        (0.001, 0.179, 0.82)
    """
    d = _values(differences, "differences", 2)
    if not 0 <= rho < 1:
        raise ValueError(f"rho must be in [0, 1), got {rho}")
    if not (math.isfinite(rope) and rope >= 0):
        raise ValueError(f"rope must be a finite number >= 0, got {rope}")
    mean, df = float(d.mean()), float(len(d) - 1)
    if _constant(d):
        right = (mean > rope) + 0.5 * (mean == rope == 0)
        left = (mean < -rope) + 0.5 * (mean == rope == 0)
        return CorrelatedPosterior(float(left), float(1 - left - right), float(right), mean, 0.0, df)
    scale = math.sqrt((1 / len(d) + rho / (1 - rho)) * d.var(ddof=1))
    left = float(_scipy.t.cdf(-rope, df, mean, scale))
    right = float(_scipy.t.sf(rope, df, mean, scale))
    return CorrelatedPosterior(left, max(0.0, 1 - left - right), right, mean, scale, df)


def _size_ratio(n_test: float, n_train: float) -> float:
    if not (math.isfinite(n_test) and n_test >= 0 and math.isfinite(n_train) and n_train > 0):
        raise ValueError(f"need n_test >= 0 and n_train > 0, got n_test={n_test}, n_train={n_train}")
    return n_test / n_train


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
