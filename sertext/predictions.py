"""The stored prediction table: the one place that knows its columns.

Every trial stores one table per split (``predictions/dev.csv``, ``predictions/test.csv``), one
row per utterance, and everything downstream (metrics, fusion, aggregation, the report) reads
those tables.  Their columns:

- categorical task: ``utt_id``, ``truth`` (the true class), ``prediction`` (the most probable
  class) and ``prob_<class>``, the model's probability of each class of the task;
- dimensional task: ``utt_id``, and per target (``arousal``, ``valence``, ...) the true value
  ``<target>`` and the model's output ``pred_<target>``.

A trial adds the strata columns its corpus has (``speaker``, ``gender``, ``mode``,
``dialogue_act``); aggregation stacks the tables of many runs and adds ``arch``, ``variant``,
``fold`` and ``seed``.  A table's task, classes and targets are read from its column names alone:
a table has ``prob_`` columns or ``pred_`` columns, never both.

Stacked tables of several runs keep every column any run has, NaN where a run lacks it (a variant
that predicts valence only next to one that also predicts arousal).  Such an all-NaN column still
counts here, since the functions read names, not values; to get one run's classes or targets,
drop its all-NaN columns first (``run.dropna(axis=1, how="all")``), as :mod:`sertext.aggregate`
does.

Light to import: pandas and NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

PROB_PREFIX = "prob_"  # prob_<class>: a class probability (categorical)
PRED_PREFIX = "pred_"  # pred_<target>: a model output (dimensional)


def probability_column(label: str) -> str:
    """The name of the column that holds the probability of class ``label``.

    Examples:
        >>> probability_column("sad")
        'prob_sad'
    """
    return f"{PROB_PREFIX}{label}"


def output_column(target: str) -> str:
    """The name of the column that holds the model's output for ``target`` (its truth is ``target``).

    Examples:
        >>> output_column("valence")
        'pred_valence'
    """
    return f"{PRED_PREFIX}{target}"


def most_probable(probabilities, classes: Sequence[str]) -> np.ndarray:
    """The class of the highest probability in each row (the first of ``classes`` on a tie): what
    the ``prediction`` column holds.

    Args:
        probabilities: (utterances, classes) array, columns in the order of ``classes``.
        classes: the class names.

    Examples:
        >>> most_probable([[0.2, 0.8], [0.5, 0.5]], ["ang", "sad"]).tolist()
        ['sad', 'ang']
    """
    return np.asarray(classes, dtype=object)[np.asarray(probabilities).argmax(axis=1)]


def categorical_table(ids: Sequence[str], truth: Sequence[str], probabilities,
                      classes: Sequence[str]) -> pd.DataFrame:
    """The prediction table of a categorical task.

    Args:
        ids: ``utt_id`` per utterance.
        truth: the true class per utterance.
        probabilities: (utterances, classes) class probabilities, columns in the order of
            ``classes`` (their dtype is kept).
        classes: every class of the task, in the order of the ``prob_`` columns.

    Returns:
        ``utt_id``, ``truth``, ``prediction`` (the most probable class) and ``prob_<class>`` per class.

    Raises:
        ValueError: if ``probabilities`` is not one column per class.

    Examples:
        >>> categorical_table(["u1", "u2"], ["sad", "sad"], [[0.2, 0.8], [0.6, 0.4]], ["ang", "sad"])
          utt_id truth prediction  prob_ang  prob_sad
        0     u1   sad        sad       0.2       0.8
        1     u2   sad        ang       0.6       0.4
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes):
        raise ValueError(f"probabilities need one column per class of {list(classes)}, got shape "
                         f"{probabilities.shape}")
    return pd.DataFrame({"utt_id": ids, "truth": truth, "prediction": most_probable(probabilities, classes),
                         **{probability_column(c): probabilities[:, i] for i, c in enumerate(classes)}})


def dimensional_table(ids: Sequence[str], truths, outputs, targets: Sequence[str]) -> pd.DataFrame:
    """The prediction table of a dimensional task.

    Args:
        ids: ``utt_id`` per utterance.
        truths: (utterances, targets) true values, columns in the order of ``targets``.
        outputs: (utterances, targets) model outputs, likewise (both keep their dtype).
        targets: the target names.

    Returns:
        ``utt_id``, then per target its truth ``<target>`` and output ``pred_<target>``.

    Raises:
        ValueError: if ``truths`` or ``outputs`` is not one column per target.

    Examples:
        >>> dimensional_table(["u1", "u2"], [[0.1], [0.3]], [[0.2], [0.2]], ["valence"])
          utt_id  valence  pred_valence
        0     u1      0.1           0.2
        1     u2      0.3           0.2
    """
    truths, outputs = np.asarray(truths), np.asarray(outputs)
    for name, values in (("truths", truths), ("outputs", outputs)):
        if values.ndim != 2 or values.shape[1] != len(targets):
            raise ValueError(f"{name} need one column per target of {list(targets)}, got shape {values.shape}")
    columns = {"utt_id": ids}
    for i, target in enumerate(targets):
        columns[target], columns[output_column(target)] = truths[:, i], outputs[:, i]
    return pd.DataFrame(columns)


def probability_columns(table: pd.DataFrame) -> list[str]:
    """The ``prob_<class>`` columns of a table, in column order (none for a dimensional table).

    Examples:
        >>> probability_columns(pd.DataFrame(columns=["utt_id", "truth", "prob_sad", "prob_ang"]))
        ['prob_sad', 'prob_ang']
    """
    return [c for c in table.columns if isinstance(c, str) and c.startswith(PROB_PREFIX)]


def output_columns(table: pd.DataFrame) -> list[str]:
    """The ``pred_<target>`` columns of a table, in column order (none for a categorical table).

    Examples:
        >>> output_columns(pd.DataFrame(columns=["utt_id", "valence", "pred_valence"]))
        ['pred_valence']
    """
    return [c for c in table.columns if isinstance(c, str) and c.startswith(PRED_PREFIX)]


def classes_of(table: pd.DataFrame) -> list[str]:
    """The classes a table has probabilities for, in column order (see the module docstring on
    all-NaN columns of stacked tables).

    Examples:
        >>> classes_of(pd.DataFrame(columns=["utt_id", "truth", "prediction", "prob_sad", "prob_ang"]))
        ['sad', 'ang']
    """
    return [c[len(PROB_PREFIX):] for c in probability_columns(table)]


def targets_of(table: pd.DataFrame) -> list[str]:
    """The targets a table has outputs for, in column order (see the module docstring on all-NaN
    columns of stacked tables).

    Examples:
        >>> targets_of(pd.DataFrame(columns=["utt_id", "valence", "pred_valence", "arousal", "pred_arousal"]))
        ['valence', 'arousal']
    """
    return [c[len(PRED_PREFIX):] for c in output_columns(table)]


def task_of(table: pd.DataFrame) -> str:
    """``"categorical"`` for a table with ``prob_`` columns, ``"dimensional"`` for one with
    ``pred_`` columns.

    Raises:
        ValueError: if the table has both kinds of columns or neither (naming its columns).

    Examples:
        >>> task_of(pd.DataFrame(columns=["utt_id", "valence", "pred_valence"]))
        'dimensional'
    """
    probabilities, outputs = probability_columns(table), output_columns(table)
    if bool(probabilities) == bool(outputs):
        raise ValueError(f"a prediction table needs {PROB_PREFIX}* or {PRED_PREFIX}* columns (a categorical or a "
                         f"dimensional task), found {'both' if probabilities else 'neither'}: {list(table.columns)}")
    return "categorical" if probabilities else "dimensional"


def score_columns(table: pd.DataFrame) -> list[str]:
    """What the model predicted, in column order: the ``prob_`` columns of a categorical table, the
    ``pred_`` columns of a dimensional one.

    Raises:
        ValueError: as :func:`task_of`.

    Examples:
        >>> score_columns(pd.DataFrame(columns=["utt_id", "truth", "prediction", "prob_ang", "prob_sad"]))
        ['prob_ang', 'prob_sad']
    """
    return probability_columns(table) if task_of(table) == "categorical" else output_columns(table)
