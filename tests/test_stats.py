"""Statistics against scipy / statsmodels and against hand computations of their formulas.

sertext.stats calls scipy and statsmodels, so a comparison with the same call only checks the
plumbing (argument order, options, degrees of freedom); the independent checks are the formulas
computed here by hand: the t statistics, Holm's step-down, the BCa interval, and the power of the
t-test from the noncentral t distribution and, where scipy's noncentral t returns NaN, from a
quadrature over the chi-square distribution of the variance estimate.  The fold-aware tests are
checked against Nadeau & Bengio's formula by hand and against baycomp, the Bayesian correlated
t-test's reference implementation by its authors.
"""

import math
import warnings

import baycomp
import numpy as np
import pytest
from scipy import integrate
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower, TTestPower

from sertext import stats


def _hand_t(a, b=None, *, paired=False, popmean=0.0):
    """t and df from the textbook formulas."""
    if b is None or paired:
        x = np.asarray(a) - (np.asarray(b) if paired else popmean)
        return x.mean() / (x.std(ddof=1) / math.sqrt(len(x))), len(x) - 1
    df = len(a) + len(b) - 2
    pooled = ((len(a) - 1) * np.var(a, ddof=1) + (len(b) - 1) * np.var(b, ddof=1)) / df
    return (np.mean(a) - np.mean(b)) / math.sqrt(pooled * (1 / len(a) + 1 / len(b))), df


@pytest.mark.parametrize("seed", range(20))
def test_t_tests_match_scipy_and_the_formulas(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.6, 0.02, rng.integers(2, 12)), rng.normal(0.58, 0.03, rng.integers(2, 12))
    ours, theirs = stats.ttest_independent(a, b), scipy_stats.ttest_ind(a, b)
    assert (ours.statistic, ours.p_value, ours.df) == pytest.approx((theirs.statistic, theirs.pvalue, theirs.df),
                                                                    abs=1e-9)
    t, df = _hand_t(a, b)
    assert (ours.statistic, ours.p_value, ours.df) == pytest.approx((t, 2 * scipy_stats.t.sf(abs(t), df), df))
    paired = b[: min(len(a), len(b))], a[: min(len(a), len(b))]
    ours, theirs = stats.ttest_paired(*paired), scipy_stats.ttest_rel(*paired)
    assert (ours.statistic, ours.p_value, ours.df) == pytest.approx((theirs.statistic, theirs.pvalue, theirs.df),
                                                                    abs=1e-9)
    t, df = _hand_t(*paired, paired=True)
    assert (ours.statistic, ours.p_value, ours.df) == pytest.approx((t, 2 * scipy_stats.t.sf(abs(t), df), df))
    ours, theirs = stats.ttest_one_sample(a, 0.61), scipy_stats.ttest_1samp(a, 0.61)
    assert (ours.statistic, ours.p_value, ours.df) == pytest.approx((theirs.statistic, theirs.pvalue, theirs.df),
                                                                    abs=1e-9)
    t, df = _hand_t(a, popmean=0.61)
    assert (ours.statistic, ours.p_value, ours.df) == pytest.approx((t, 2 * scipy_stats.t.sf(abs(t), df), df))
    assert all(isinstance(v, float) for v in (ours.statistic, ours.p_value, ours.df))


def test_undefined_tests_are_nan_not_errors():
    assert math.isnan(stats.ttest_independent([0.5, 0.5], [0.5, 0.5]).p_value)
    assert math.isnan(stats.ttest_paired([0.5, 0.6], [0.4, 0.5]).p_value)  # constant difference
    assert stats.marker(stats.ttest_independent([0.5, 0.5], [0.5, 0.5]).p_value, "*") == ""
    assert stats.ttest_independent([0.5, 0.5], [0.5, 0.5]).df == 2.0
    with pytest.raises(ValueError, match="at least 2"):
        stats.ttest_independent([0.5], [0.4, 0.6])
    with pytest.raises(ValueError, match="differ in length"):
        stats.ttest_paired([0.5, 0.6, 0.7], [0.4, 0.6])
    with pytest.raises(ValueError, match="NaN"):
        stats.ttest_one_sample([0.5, float("nan")])


def test_constant_up_to_rounding_is_constant():
    """scipy (and the formulas) turn a rounding-level variance into a huge t and p ~ 1e-33."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy: "catastrophic cancellation"
        assert scipy_stats.ttest_1samp([0.1, 0.1, 0.1], 0).pvalue < 1e-30
    one = stats.ttest_one_sample([0.1, 0.1, 0.1])
    assert math.isnan(one.statistic) and math.isnan(one.p_value) and one.df == 2.0
    assert math.isnan(stats.ttest_independent([0.1, 0.1, 0.1], [0.2, 0.2, 0.2]).p_value)  # both constant, differ
    a = np.random.default_rng(0).uniform(0.3, 0.9, 10)
    assert np.ptp(a - (a - 0.1)) > 0  # the differences are 0.1 only up to rounding
    assert math.isnan(stats.ttest_paired(a, a - 0.1).p_value)
    # one constant sample is fine: the other supplies the variance
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and without scipy's "catastrophic cancellation" warning
        r = stats.ttest_independent([0.5, 0.5, 0.5], [0.4, 0.45, 0.5])
    t, df = _hand_t([0.5, 0.5, 0.5], [0.4, 0.45, 0.5])
    assert (r.statistic, r.p_value) == pytest.approx((t, 2 * scipy_stats.t.sf(abs(t), df)))
    # a small real spread is not rounding
    assert stats.ttest_one_sample([1e-20, 2e-20, 3e-20]).p_value == pytest.approx(
        scipy_stats.ttest_1samp([1e-20, 2e-20, 3e-20], 0).pvalue)


def _hand_holm(p):
    """Holm's step-down, as sertext computed it before statsmodels: NaN stays NaN, not counted in m."""
    p = np.asarray(p, dtype=float)
    adjusted = np.full(len(p), math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def test_holm_step_down():
    # m = 4: sorted 0.005, 0.01, 0.03, 0.04 -> 0.02, 0.03, 0.06, max(0.06, 0.04) = 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == [0.03, 0.06, 0.06, 0.02]
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]
    adjusted = stats.holm([0.02, float("nan"), 0.01])
    assert adjusted[0] == 0.02 and math.isnan(adjusted[1]) and adjusted[2] == 0.02
    assert stats.holm([]) == []
    assert all(math.isnan(v) for v in stats.holm([float("nan")] * 3))
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 12)
    adjusted = np.array(stats.holm(p))
    assert (adjusted >= p).all() and (np.diff(adjusted[np.argsort(p)]) >= 0).all()
    assert adjusted.min() == pytest.approx(min(1, len(p) * p.min()))  # Bonferroni for the smallest


@pytest.mark.parametrize("seed", range(10))
def test_holm_matches_the_step_down_and_statsmodels(seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.3, rng.integers(1, 15))
    p[rng.uniform(size=len(p)) < 0.2] = np.nan
    p[rng.uniform(size=len(p)) < 0.2] = p[0]  # ties
    np.testing.assert_allclose(stats.holm(p), _hand_holm(p), atol=1e-12)
    valid = ~np.isnan(p)
    if valid.any():
        np.testing.assert_allclose(np.array(stats.holm(p))[valid], multipletests(p[valid], method="holm")[1],
                                   atol=1e-12)


def test_effect_sizes():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1, 1, 8), rng.normal(0, 1, 6)
    t = scipy_stats.ttest_ind(a, b).statistic
    assert stats.cohens_d(a, b) == pytest.approx(t * math.sqrt(1 / len(a) + 1 / len(b)))
    d = a[:6] - b
    assert stats.cohens_d(a[:6], b, paired=True) == pytest.approx(d.mean() / d.std(ddof=1))
    assert math.isnan(stats.cohens_d([0.5, 0.5], [0.4, 0.4]))
    with pytest.raises(ValueError, match="differ in length"):
        stats.cohens_d([0.5, 0.6, 0.7], [0.4, 0.6], paired=True)


def _hand_bca(values, rng, confidence, n_resamples):
    """Efron's BCa interval of the mean from its formulas (Efron & Tibshirani 1993, ch. 14.3)."""
    n = len(values)
    means = values[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)
    z0 = scipy_stats.norm.ppf(np.mean(means < values.mean()))
    jackknife = np.array([np.delete(values, i).mean() for i in range(n)])
    deviations = jackknife.mean() - jackknife
    acceleration = (deviations ** 3).sum() / (6 * ((deviations ** 2).sum()) ** 1.5)
    z = scipy_stats.norm.ppf([(1 - confidence) / 2, (1 + confidence) / 2])
    levels = scipy_stats.norm.cdf(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))
    return tuple(np.quantile(means, levels))


@pytest.mark.parametrize("draw", ["normal", "lognormal"])
def test_bootstrap_interval_is_the_bca_interval(draw):
    rng = np.random.default_rng(2)
    values = rng.normal(0.6, 0.05, 30) if draw == "normal" else rng.lognormal(-3, 0.8, 25)
    ours = stats.bootstrap_ci(values, rng=np.random.default_rng(3), n_resamples=40_000)
    by_hand = _hand_bca(values, np.random.default_rng(4), 0.95, 40_000)
    spread = values.std(ddof=1) / math.sqrt(len(values))
    assert ours == pytest.approx(by_hand, abs=0.05 * spread)  # Monte Carlo error only
    theirs = scipy_stats.bootstrap((values,), np.mean, method="BCa", n_resamples=40_000,
                                   rng=np.random.default_rng(3)).confidence_interval
    assert ours == (theirs.low, theirs.high)  # the same resamples: the same interval
    low90, high90 = stats.bootstrap_ci(values, rng=np.random.default_rng(3), confidence=0.9)
    assert ours[0] < low90 < values.mean() < high90 < ours[1]


def test_bootstrap_interval_is_reproducible_and_defined_for_degenerate_input():
    values = [0.61, 0.64, 0.60, 0.66, 0.63]
    first = stats.bootstrap_ci(values, rng=np.random.default_rng(7))
    assert first == stats.bootstrap_ci(values, rng=np.random.default_rng(7))
    assert all(isinstance(v, float) for v in first)
    assert stats.bootstrap_ci([0.5], rng=np.random.default_rng(0)) == (0.5, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's BCa would warn and return NaN on constant data
        assert stats.bootstrap_ci([0.5, 0.5, 0.5], rng=np.random.default_rng(0)) == (0.5, 0.5)
    with pytest.raises(ValueError, match="confidence"):
        stats.bootstrap_ci(values, rng=np.random.default_rng(0), confidence=1.0)
    with pytest.raises(ValueError, match="NaN"):
        stats.bootstrap_ci([0.5, float("nan")], rng=np.random.default_rng(0))


def _nct_power(effect, n, alpha, paired):
    """Two-sided power P(|T| > t_crit) with T ~ noncentral t (df, noncentrality)."""
    df, noncentrality = (n - 1, effect * math.sqrt(n)) if paired else (2 * n - 2, effect * math.sqrt(n / 2))
    critical = scipy_stats.t.isf(alpha / 2, df)
    return scipy_stats.nct.sf(critical, df, noncentrality) + scipy_stats.nct.cdf(-critical, df, noncentrality)


def _quadrature_power(effect, n, alpha, paired):
    """The same power without scipy's noncentral t: T = (Z + noncentrality) / √(V / df), V ~ χ²(df),
    so P(|T| > c) = E_V[Φ(nc − c√(V/df)) + Φ(−nc − c√(V/df))], integrated over V's quantiles."""
    df, noncentrality = (n - 1, effect * math.sqrt(n)) if paired else (2 * n - 2, effect * math.sqrt(n / 2))
    critical = scipy_stats.t.isf(alpha / 2, df)

    def rejection(u):
        threshold = critical * math.sqrt(scipy_stats.chi2.ppf(u, df) / df)
        return scipy_stats.norm.cdf(noncentrality - threshold) + scipy_stats.norm.cdf(-noncentrality - threshold)

    return integrate.quad(rejection, 0, 1, limit=400, epsabs=1e-13, epsrel=1e-11)[0]


@pytest.mark.parametrize("paired", [False, True])
@pytest.mark.parametrize("power", [0.8, 0.9])
def test_minimum_detectable_difference_has_the_power_by_the_noncentral_t(paired, power):
    sd = 0.013
    for n in [*range(3 if paired else 2, 21), 50, 200]:  # paired n = 2: scipy's nct gives NaN (issue 25470)
        difference = stats.minimum_detectable_difference(sd, n, power=power, paired=paired)
        assert _nct_power(difference / sd, n, 0.05, paired) == pytest.approx(power, abs=1e-8), n
        assert isinstance(difference, float)


@pytest.mark.parametrize(("alpha", "power", "n", "paired"), [
    (0.05, 0.8, 2, True), (0.05, 0.9, 2, True),  # scipy's nct returns NaN in the wrong-sign tail here
    (0.001, 0.8, 2, True), (0.001, 0.95, 3, False), (0.0001, 0.9, 2, False), (0.01, 0.9, 4, True),
    (0.1, 0.95, 2, True), (0.05, 0.5, 7, False), (0.001, 0.95, 1000, True), (0.05, 0.8, 10_000, False),
])
def test_minimum_detectable_difference_has_the_power_by_quadrature(alpha, power, n, paired):
    difference = stats.minimum_detectable_difference(1.0, n, alpha=alpha, power=power, paired=paired)
    assert _quadrature_power(difference, n, alpha, paired) == pytest.approx(power, abs=1e-7)


def test_minimum_detectable_difference_agrees_with_statsmodels_solve_power():
    # where solve_power converges; at 2-5 seeds it can return a wrong effect without an error
    # (effect 10, power 0.73 instead of 0.9, for 2 paired runs in statsmodels 0.15.0), hence the
    # bracketing in sertext.stats
    for n in (6, 10, 40):
        assert stats.minimum_detectable_difference(1.0, n) == pytest.approx(
            TTestIndPower().solve_power(effect_size=None, nobs1=n, alpha=0.05, power=0.8), rel=1e-5)
        assert stats.minimum_detectable_difference(1.0, n, paired=True) == pytest.approx(
            TTestPower().solve_power(effect_size=None, nobs=n, alpha=0.05, power=0.8), rel=1e-5)


@pytest.mark.parametrize("paired", [False, True])
def test_seeds_needed_is_the_smallest_n_with_the_power(paired):
    sd = 0.02
    for difference in (0.005, 0.01, 0.02, 0.03, 0.05):
        n = stats.seeds_needed(sd, difference, paired=paired)
        assert isinstance(n, int) and n >= 2
        assert _nct_power(difference / sd, n, 0.05, paired) >= 0.8
        if n > 2:
            assert _nct_power(difference / sd, n - 1, 0.05, paired) < 0.8
        assert stats.seeds_needed(sd, -difference, paired=paired) == n  # two-sided: the sign does not matter
    for n in (2, 3, 5, 10, 33):  # the inverse of minimum_detectable_difference
        detectable = stats.minimum_detectable_difference(sd, n, paired=paired)
        assert stats.seeds_needed(sd, detectable * (1 + 1e-7), paired=paired) == n
        assert stats.seeds_needed(sd, detectable * (1 - 1e-4), paired=paired) == n + 1


def test_seeds_needed_at_the_extremes():
    assert stats.seeds_needed(0.001, 1.0) == 2  # a huge effect: the minimum, no noncentral t at 1000
    assert stats.seeds_needed(0.001, 1.0, paired=True) == 2
    # a tiny effect: about the normal approximation 2 (z_0.975 + z_0.8)² / d² (+1 for the t)
    approximation = 2 * (scipy_stats.norm.isf(0.025) + scipy_stats.norm.ppf(0.8)) ** 2 / 0.01 ** 2
    assert stats.seeds_needed(1.0, 0.01) == pytest.approx(approximation, abs=2)


def test_power_edge_cases():
    assert stats.minimum_detectable_difference(0.0, 5) == 0.0
    assert stats.seeds_needed(0.0, 0.01) == 2
    assert stats.minimum_detectable_difference(0.01, np.int64(5)) == stats.minimum_detectable_difference(0.01, 5.0)
    for n in (1, 0, -3, 2.5, float("nan")):
        with pytest.raises(ValueError, match="n must be"):
            stats.minimum_detectable_difference(0.01, n)
    for sd in (-0.01, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sd must be"):
            stats.minimum_detectable_difference(sd, 5)
        with pytest.raises(ValueError, match="sd must be"):
            stats.seeds_needed(sd, 0.01)
    for difference in (0.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="difference must be"):
            stats.seeds_needed(0.01, difference)
    for alpha, power in ((0.0, 0.8), (0.05, 1.0), (0.5, 0.4), (0.05, 0.05)):
        with pytest.raises(ValueError, match="alpha < power"):
            stats.minimum_detectable_difference(0.01, 5, alpha=alpha, power=power)
        with pytest.raises(ValueError, match="alpha < power"):
            stats.seeds_needed(0.01, 0.01, alpha=alpha, power=power)
    # more seeds, a smaller detectable difference; paired (sd of differences) needs fewer seeds
    differences = [stats.minimum_detectable_difference(0.01, n) for n in range(2, 12)]
    assert all(np.diff(differences) < 0)
    assert stats.seeds_needed(0.01, 0.01, paired=True) < stats.seeds_needed(0.01, 0.01)


def _hand_corrected_t(d, ratio):
    """Nadeau & Bengio's corrected t from its formula, with plain sums, and its two-sided p."""
    k = len(d)
    mean = sum(d) / k
    variance = sum((x - mean) ** 2 for x in d) / (k - 1)
    t = mean / math.sqrt((1 / k + ratio) * variance)
    return t, 2 * scipy_stats.t.sf(abs(t), k - 1)


def _fold_differences(seed, k):
    """k paired differences A − B of UAR-like results, A about a point better."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0.62, 0.02, k)
    return a, a - rng.normal(0.01, 0.015, k)


@pytest.mark.parametrize("seed", range(10))
def test_corrected_resampled_ttest_is_the_formula(seed):
    rng = np.random.default_rng(seed)
    d = list(rng.normal(0.01, 0.02, rng.integers(2, 51)))
    n_test, n_train = float(rng.integers(50, 500)), float(rng.integers(1000, 5000))  # utterances
    r = stats.corrected_resampled_ttest(d, n_test=n_test, n_train=n_train)
    t, p = _hand_corrected_t(d, n_test / n_train)
    assert (r.statistic, r.p_value, r.df) == pytest.approx((t, p, len(d) - 1), rel=1e-9)


@pytest.mark.parametrize(("seed", "folds", "runs"), [(0, 10, 1), (1, 5, 1), (2, 10, 5), (3, 5, 3)])
def test_corrected_t_is_the_correlated_posterior_standardised(seed, folds, runs):
    """With rho = n_test / (n_test + n_train), mean / scale of the posterior is the corrected t."""
    a, b = _fold_differences(seed, folds * runs)
    n_test, n_train = 1, folds - 1  # k-fold cross-validation: one fold tests, the others train
    corrected = stats.corrected_resampled_ttest(a - b, n_test=n_test, n_train=n_train)
    posterior = stats.bayesian_correlated_ttest(a - b, n_test / (n_test + n_train), 0.0)
    standardised = abs(posterior.mean) / posterior.scale
    assert corrected.statistic == pytest.approx(posterior.mean / posterior.scale, rel=1e-12)
    assert corrected.p_value == pytest.approx(2 * (1 - scipy_stats.t.cdf(standardised, folds * runs - 1)), rel=1e-9)
    assert corrected.df == posterior.df == folds * runs - 1
    # the posterior probability of the other sign is half the two-sided p-value
    assert min(posterior.p_a_better, posterior.p_b_better) == pytest.approx(corrected.p_value / 2, rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_corrected_ttest_reduces_to_the_paired_ttest_and_is_more_cautious(seed):
    a, b = _fold_differences(seed, 10)
    naive = scipy_stats.ttest_1samp(a - b, 0)
    for n_test in (0.0, 1e-13):  # n_test / n_train -> 0: no correlation between the folds
        r = stats.corrected_resampled_ttest(a - b, n_test=n_test, n_train=1.0)
        assert (r.statistic, r.p_value, r.df) == pytest.approx((naive.statistic, naive.pvalue, naive.df), rel=1e-9)
    paired = stats.ttest_paired(a, b).p_value
    p = [stats.corrected_resampled_ttest(a - b, n_test=1, n_train=n_train).p_value for n_train in (99, 9, 8, 4, 1)]
    assert paired < p[0] and all(np.diff(p) > 0)  # larger held-out share, more correlated folds, larger p


@pytest.mark.parametrize(("seed", "folds", "runs", "rope"), [
    (0, 10, 1, 0.01), (1, 5, 1, 0.005), (2, 10, 3, 0.01), (3, 5, 10, 0.02), (4, 10, 1, 0.0), (5, 5, 2, 0.0),
    (6, 10, 1, 0.2),  # a ROPE wide enough to dominate
])
def test_bayesian_correlated_ttest_matches_baycomp(seed, folds, runs, rope):
    a, b = _fold_differences(seed, folds * runs)
    r = stats.bayesian_correlated_ttest(a - b, 1 / folds, rope)  # baycomp: rho = runs / len(x) = 1 / folds
    theirs = baycomp.CorrelatedTTest.probs(b, a, rope=rope, runs=runs)  # baycomp's differences: y − x = a − b
    if rope == 0:
        theirs = (theirs[0], 0.0, theirs[1])  # baycomp leaves out the empty ROPE
    assert (r.p_b_better, r.p_equivalent, r.p_a_better) == pytest.approx(theirs, abs=1e-9)
    assert r.p_b_better + r.p_equivalent + r.p_a_better == pytest.approx(1, abs=1e-12)
    mean, variance, df = baycomp.CorrelatedTTest.compute_statistics(b, a, runs=runs)
    assert (r.mean, r.scale, r.df) == pytest.approx((mean, math.sqrt(variance), df), rel=1e-12)
    swapped = baycomp.CorrelatedTTest.probs(a, b, rope=rope, runs=runs)  # its left is then "a better"
    assert r.p_a_better == pytest.approx(swapped[0], abs=1e-9)
    if rope == 0.2:
        assert r.p_equivalent > 0.99
    elif rope:
        assert r.p_a_better > r.p_b_better  # a is the better model in _fold_differences


@pytest.mark.parametrize("difference", [0.0, 0.25, -0.25])
@pytest.mark.parametrize("rope", [0.0, 0.1, 0.25, 0.5])
def test_constant_differences_are_a_point_mass_as_in_baycomp(difference, rope):
    a, b = np.full(10, 0.5 + difference), np.full(10, 0.5)  # exact binary fractions: a − b is exact
    r = stats.bayesian_correlated_ttest(a - b, 0.1, rope)
    theirs = baycomp.CorrelatedTTest.probs(b, a, rope=rope)
    if rope == 0:
        theirs = (theirs[0], 0.0, theirs[1])
    assert (r.p_b_better, r.p_equivalent, r.p_a_better) == theirs
    assert (r.mean, r.scale, r.df) == (difference, 0.0, 9.0)


def test_fold_aware_tests_edge_cases():
    for short in ([], [0.01]):
        with pytest.raises(ValueError, match="at least 2"):
            stats.corrected_resampled_ttest(short, n_test=1, n_train=8)
        with pytest.raises(ValueError, match="at least 2"):
            stats.bayesian_correlated_ttest(short, 0.1, 0.01)
    with pytest.raises(ValueError, match="NaN"):
        stats.corrected_resampled_ttest([0.01, float("nan")], n_test=1, n_train=8)
    for n_test, n_train in ((-1, 8), (1, 0), (1, float("inf")), (float("nan"), 8)):
        with pytest.raises(ValueError, match="n_test"):
            stats.corrected_resampled_ttest([0.01, 0.02], n_test=n_test, n_train=n_train)
    for rho, rope in ((1.0, 0.01), (-0.1, 0.01), (float("nan"), 0.01), (0.1, -0.01), (0.1, float("inf"))):
        with pytest.raises(ValueError, match="rho" if rope == 0.01 else "rope"):
            stats.bayesian_correlated_ttest([0.01, 0.02], rho, rope)
    # all differences equal: no spread, NaN as the other t-tests; the posterior is a point mass
    r = stats.corrected_resampled_ttest([0.02, 0.02, 0.02], n_test=1, n_train=8)
    assert math.isnan(r.statistic) and math.isnan(r.p_value) and r.df == 2.0
    a = np.random.default_rng(0).uniform(0.3, 0.9, 10)
    d = a - (a - 0.05)
    assert np.ptp(d) > 0  # 0.05 only up to the rounding of a − b, which d alone does not show
    assert math.isnan(stats.corrected_resampled_ttest(d, n_test=1, n_train=8, magnitude=np.abs(a).max()).p_value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        posterior = stats.bayesian_correlated_ttest(d, 0.1, 0.01)
    assert (posterior.p_b_better, posterior.p_equivalent, posterior.p_a_better) == pytest.approx((0, 0, 1), abs=1e-12)
    assert stats.bayesian_correlated_ttest([0.0, 0.0], 0.0, 0.0).p_a_better == 0.5  # baycomp's tie
