"""Evaluation metrics, each ``f(truth, prediction)`` in scikit-learn's argument order.

Classification: ``uar``, ``wa``, ``f1_macro``, ``confusion``.  Regression: ``ccc``, ``pcc``,
``mse``.  All return plain Python floats (``confusion`` a NumPy array).  Naming: UAR is the mean
per-class recall and WA plain accuracy, as in the multistage-conditioning paper; Makiuchi et al.
use the two names the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sertext.predictions import classes_of, output_column, targets_of, task_of


def _pair(truth, prediction) -> tuple[np.ndarray, np.ndarray]:
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    if truth.ndim != 1 or truth.shape != prediction.shape:
        raise ValueError(f"truth and prediction must be 1-D of equal length, got {truth.shape} "
                         f"and {prediction.shape}")
    if truth.size == 0:
        raise ValueError("truth and prediction are empty")
    return truth, prediction


def _classes(truth: np.ndarray, labels: Sequence | None) -> list:
    return list(labels) if labels is not None else sorted(set(truth.tolist()))


def confusion(truth, prediction, *, labels: Sequence | None = None) -> np.ndarray:
    """Confusion matrix C with C[i, j] = number of utterances of class i predicted as class j.

    Args:
        truth: true class per utterance.
        prediction: predicted class per utterance.
        labels: class order of rows and columns (default: sorted classes of truth and prediction).

    Examples:
        >>> confusion(["a", "a", "b"], ["a", "b", "b"]).tolist()
        [[1, 1], [0, 1]]
    """
    truth, prediction = _pair(truth, prediction)
    classes = list(labels) if labels is not None else sorted(set(truth.tolist()) | set(prediction.tolist()))
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(truth.tolist(), prediction.tolist(), strict=True):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    return matrix


def uar(truth, prediction, *, labels: Sequence | None = None) -> float:
    """Unweighted average recall: the mean over classes c of |{i: t_i = p_i = c}| / |{i: t_i = c}|.

    Args:
        truth: true class per utterance.
        prediction: predicted class per utterance.
        labels: every class of the task (default: those in truth); classes absent from truth
            are skipped, since their recall is undefined.

    Examples:
        >>> uar(["ang", "ang", "sad"], ["ang", "sad", "sad"], labels=["ang", "sad"])
        0.75
    """
    truth, prediction = _pair(truth, prediction)
    recalls = [
        float(np.mean(prediction[truth == c] == c))
        for c in _classes(truth, labels)
        if np.any(truth == c)
    ]
    return float(np.mean(recalls))


def wa(truth, prediction) -> float:
    """Weighted accuracy: plain accuracy, |{i: t_i = p_i}| / N (recall weighted by class size).

    Examples:
        >>> wa(["ang", "ang", "sad"], ["ang", "sad", "sad"])
        0.6666666666666666
    """
    truth, prediction = _pair(truth, prediction)
    return float(np.mean(truth == prediction))


def f1_per_class(truth, prediction, *, labels: Sequence | None = None) -> dict:
    """F1 of each class: 2·precision·recall / (precision + recall) = 2·hits / (true + predicted).

    A class with no true and no predicted utterance has no F1 (NaN); precision or recall with a
    zero denominator count as 0 (scikit-learn's ``zero_division=0``).

    Examples:
        >>> f1_per_class(["a", "a", "b"], ["a", "b", "b"])
        {'a': 0.6666666666666666, 'b': 0.6666666666666666}
    """
    truth, prediction = _pair(truth, prediction)
    classes = list(labels) if labels is not None else sorted(set(truth.tolist()) | set(prediction.tolist()))
    scores = {}
    for c in classes:
        true_c, pred_c = truth == c, prediction == c
        denominator = float(true_c.sum() + pred_c.sum())
        scores[c] = 2 * float(np.sum(true_c & pred_c)) / denominator if denominator else float("nan")
    return scores


def f1_macro(truth, prediction, *, labels: Sequence | None = None) -> float:
    """Macro F1: the mean of :func:`f1_per_class` over the classes that occur in truth or prediction.

    Examples:
        >>> f1_macro(["a", "a", "b"], ["a", "b", "b"])
        0.6666666666666666
    """
    return float(np.nanmean(list(f1_per_class(truth, prediction, labels=labels).values())))


def _moments(truth, prediction) -> tuple[np.ndarray, np.ndarray]:
    truth, prediction = _pair(truth, prediction)
    return truth.astype(np.float64), prediction.astype(np.float64)


def ccc(truth, prediction) -> float:
    """Concordance correlation coefficient over the whole set, with population moments:
    2·cov(t, p) / (var(t) + var(p) + (mean(t) − mean(p))²).

    Examples:
        >>> ccc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
        1.0
        >>> round(ccc([1.0, 2.0, 3.0], [2.0, 3.0, 4.0]), 4)
        0.5714
    """
    t, p = _moments(truth, prediction)
    t_centred, p_centred = t - t.mean(), p - p.mean()
    covariance = float(np.mean(t_centred * p_centred))
    denominator = float(np.mean(t_centred**2) + np.mean(p_centred**2) + (t.mean() - p.mean()) ** 2)
    return 2 * covariance / denominator if denominator > 0 else float("nan")


def pcc(truth, prediction) -> float:
    """Pearson correlation coefficient: cov(t, p) / (std(t)·std(p)); NaN if either is constant.

    Examples:
        >>> pcc([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
        1.0
    """
    t, p = _moments(truth, prediction)
    t_centred, p_centred = t - t.mean(), p - p.mean()
    denominator = float(np.sqrt(np.sum(t_centred**2) * np.sum(p_centred**2)))
    return float(np.sum(t_centred * p_centred)) / denominator if denominator > 0 else float("nan")


def mse(truth, prediction) -> float:
    """Mean squared error: mean((t − p)²).

    Examples:
        >>> mse([1.0, 2.0], [1.0, 4.0])
        2.0
    """
    t, p = _moments(truth, prediction)
    return float(np.mean((t - p) ** 2))


def table_metrics(table) -> dict[str, float]:
    """The metrics of a prediction table as trials store it (``predictions/<split>.csv``).

    Recomputing metrics from stored predictions makes a metric fix a re-aggregation, not a re-sweep.

    Args:
        table: a prediction table (:mod:`sertext.predictions`): classification: ``truth``,
            ``prediction`` and one ``prob_<class>`` column per class of the task; regression:
            ``<target>`` and ``pred_<target>`` per target.

    Returns:
        Classification: ``uar``, ``wa``, ``f1_macro`` over the classes of the ``prob_`` columns.
        Regression: ``ccc_<target>``, ``pcc_<target>``, ``mse_<target>`` and ``ccc``, the mean CCC.

    Raises:
        ValueError: if the table has neither ``prob_`` nor ``pred_`` columns, or both.

    Examples:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"truth": ["sad", "sad"], "prediction": ["sad", "ang"],
        ...                   "prob_ang": [0.2, 0.6], "prob_sad": [0.8, 0.4]})
        >>> table_metrics(t)
        {'uar': 0.5, 'wa': 0.5, 'f1_macro': 0.3333333333333333}
    """
    if task_of(table) == "categorical":
        classes = classes_of(table)
        truth, predicted = table["truth"], table["prediction"]
        return {"uar": uar(truth, predicted, labels=classes), "wa": wa(truth, predicted),
                "f1_macro": f1_macro(truth, predicted, labels=classes)}
    targets = targets_of(table)
    scores = {}
    for target in targets:
        truth, predicted = table[target], table[output_column(target)]
        scores.update({f"ccc_{target}": ccc(truth, predicted), f"pcc_{target}": pcc(truth, predicted),
                       f"mse_{target}": mse(truth, predicted)})
    scores["ccc"] = float(np.mean([scores[f"ccc_{t}"] for t in targets]))
    return scores
