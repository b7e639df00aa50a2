"""Statistics against scipy on random inputs, and the corrections on hand-computed cases."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from sertext import stats


@pytest.mark.parametrize("seed", range(20))
def test_t_tests_match_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.6, 0.02, rng.integers(2, 12)), rng.normal(0.58, 0.03, rng.integers(2, 12))
    ours, theirs = stats.ttest_independent(a, b), scipy_stats.ttest_ind(a, b)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=1e-9)
    paired = b[: min(len(a), len(b))], a[: min(len(a), len(b))]
    ours, theirs = stats.ttest_paired(*paired), scipy_stats.ttest_rel(*paired)
    assert (ours.statistic, ours.p_value) == pytest.approx((theirs.statistic, theirs.pvalue), abs=1e-9)
    ours, theirs = stats.ttest_one_sample(a, 0.61), scipy_stats.ttest_1samp(a, 0.61)
    assert (ours.statistic, ours.p_value, ours.df) == pytest.approx((theirs.statistic, theirs.pvalue, theirs.df),
                                                                    abs=1e-9)


def test_undefined_tests_are_nan_not_errors():
    assert math.isnan(stats.ttest_independent([0.5, 0.5], [0.5, 0.5]).p_value)
    assert math.isnan(stats.ttest_paired([0.5, 0.6], [0.4, 0.5]).p_value)  # constant difference
    assert stats.marker(stats.ttest_independent([0.5, 0.5], [0.5, 0.5]).p_value, "*") == ""
    with pytest.raises(ValueError, match="at least 2"):
        stats.ttest_independent([0.5], [0.4, 0.6])
    with pytest.raises(ValueError, match="differ in length"):
        stats.ttest_paired([0.5, 0.6, 0.7], [0.4, 0.6])
    with pytest.raises(ValueError, match="NaN"):
        stats.ttest_one_sample([0.5, float("nan")])


def test_holm_step_down():
    # m = 4: sorted 0.005, 0.01, 0.03, 0.04 -> 0.02, 0.03, 0.06, max(0.06, 0.04) = 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == [0.03, 0.06, 0.06, 0.02]
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]
    adjusted = stats.holm([0.02, float("nan"), 0.01])
    assert adjusted[0] == 0.02 and math.isnan(adjusted[1]) and adjusted[2] == 0.02
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 12)
    adjusted = np.array(stats.holm(p))
    assert (adjusted >= p).all() and (np.diff(adjusted[np.argsort(p)]) >= 0).all()
    assert adjusted.min() == pytest.approx(min(1, len(p) * p.min()))  # Bonferroni for the smallest


def test_effect_sizes():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1, 1, 8), rng.normal(0, 1, 6)
    t = scipy_stats.ttest_ind(a, b).statistic
    assert stats.cohens_d(a, b) == pytest.approx(t * math.sqrt(1 / len(a) + 1 / len(b)))
    d = a[:6] - b
    assert stats.cohens_d(a[:6], b, paired=True) == pytest.approx(d.mean() / d.std(ddof=1))


def test_bootstrap_interval_matches_scipy_percentile_bootstrap():
    values = np.random.default_rng(2).normal(0.6, 0.05, 30)
    ours = stats.bootstrap_ci(values, rng=np.random.default_rng(3), n_resamples=20_000)
    theirs = scipy_stats.bootstrap((values,), np.mean, method="percentile", n_resamples=20_000,
                                   rng=np.random.default_rng(4)).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=2e-3)  # Monte Carlo error only
    assert stats.bootstrap_ci([0.5], rng=np.random.default_rng(0)) == (0.5, 0.5)
