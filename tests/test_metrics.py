"""Metrics against independent implementations (scikit-learn, scipy, audmetric)."""

import audmetric
import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from sertext import metrics

SEEDS = range(20)


def _classes(seed, n=200, k=4):
    rng = np.random.default_rng(seed)
    names = np.array(["angry", "happy", "neutral", "sad"][:k])
    return names[rng.integers(k, size=n)], names[rng.integers(k, size=n)]


def _values(seed, n=300):
    rng = np.random.default_rng(seed)
    truth = rng.normal(3, 1, size=n)
    return truth, 0.6 * truth + rng.normal(0.5, 0.8, size=n)


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_metrics_match_sklearn_and_audmetric(seed):
    truth, prediction = _classes(seed)
    assert metrics.uar(truth, prediction) == pytest.approx(
        balanced_accuracy_score(truth, prediction), abs=1e-9)
    assert metrics.uar(truth, prediction) == pytest.approx(
        audmetric.unweighted_average_recall(truth, prediction), abs=1e-9)
    assert metrics.wa(truth, prediction) == pytest.approx(accuracy_score(truth, prediction), abs=1e-9)
    assert metrics.f1_macro(truth, prediction) == pytest.approx(
        f1_score(truth, prediction, average="macro"), abs=1e-9)
    labels = ["angry", "happy", "neutral", "sad"]
    assert (metrics.confusion(truth, prediction, labels=labels)
            == confusion_matrix(truth, prediction, labels=labels)).all()


def test_f1_with_a_never_predicted_class_matches_sklearn():
    truth = ["a", "a", "b", "c"]
    prediction = ["a", "a", "a", "a"]
    assert metrics.f1_macro(truth, prediction) == pytest.approx(
        f1_score(truth, prediction, average="macro", zero_division=0), abs=1e-9)
    assert metrics.uar(truth, prediction) == pytest.approx(balanced_accuracy_score(truth, prediction))



def test_f1_per_class_matches_sklearn():
    truth = ["a", "a", "b", "c", "c", "b"]
    prediction = ["a", "b", "b", "a", "c", "a"]
    labels = ["a", "b", "c", "d"]  # "d" neither occurs nor is predicted: no F1
    per_class = metrics.f1_per_class(truth, prediction, labels=labels)
    expected = f1_score(truth, prediction, labels=labels[:3], average=None, zero_division=0)
    assert [per_class[c] for c in labels[:3]] == pytest.approx(expected, abs=1e-12)
    assert np.isnan(per_class["d"])

@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_match_scipy_and_audmetric(seed):
    truth, prediction = _values(seed)
    assert metrics.ccc(truth, prediction) == pytest.approx(
        audmetric.concordance_cc(truth, prediction), abs=1e-9)
    assert metrics.pcc(truth, prediction) == pytest.approx(pearsonr(truth, prediction)[0], abs=1e-9)
    assert metrics.mse(truth, prediction) == pytest.approx(np.mean((truth - prediction) ** 2), abs=1e-9)


def test_ccc_uses_population_moments():
    truth, prediction = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 3.0, 5.0])
    mean_t, mean_p = truth.mean(), prediction.mean()
    cov = np.mean((truth - mean_t) * (prediction - mean_p))
    expected = 2 * cov / (truth.var() + prediction.var() + (mean_t - mean_p) ** 2)
    assert metrics.ccc(truth, prediction) == pytest.approx(expected, abs=1e-12)


def test_labels_argument_fixes_uar_classes():
    # A class absent from truth has no recall; listing it does not change UAR.
    assert metrics.uar(["a", "a"], ["a", "b"], labels=["a", "b", "c"]) == 0.5


@pytest.mark.parametrize("metric", [metrics.uar, metrics.wa, metrics.ccc, metrics.mse])
def test_mismatched_or_empty_inputs_are_refused(metric):
    with pytest.raises(ValueError, match="equal length"):
        metric([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        metric([], [])


def test_table_metrics_of_stored_prediction_tables():
    import pandas as pd

    from sertext.metrics import table_metrics

    rng = np.random.default_rng(5)
    classes = ["angry", "happy", "neutral", "sad"]
    truth, predicted = rng.choice(classes, 50), rng.choice(classes, 50)
    table = pd.DataFrame({"utt_id": range(50), "truth": truth, "prediction": predicted,
                          **{f"prob_{c}": rng.random(50) for c in classes}})
    assert table_metrics(table)["uar"] == pytest.approx(balanced_accuracy_score(truth, predicted), abs=1e-9)
    values = pd.DataFrame({"utt_id": range(50), "valence": rng.random(50), "pred_valence": rng.random(50),
                           "arousal": rng.random(50), "pred_arousal": rng.random(50)})
    scores = table_metrics(values)
    assert scores["pcc_valence"] == pytest.approx(pearsonr(values["valence"], values["pred_valence"])[0], abs=1e-9)
    assert scores["ccc"] == pytest.approx((scores["ccc_valence"] + scores["ccc_arousal"]) / 2)
    with pytest.raises(ValueError, match="prob_\\* or pred_\\*"):
        table_metrics(values[["utt_id", "valence"]])
