"""The stored prediction-table schema: builders and readers agree, on fresh and on stored tables."""

import numpy as np
import pandas as pd
import pytest

from sertext.predictions import (
    categorical_table,
    classes_of,
    dimensional_table,
    most_probable,
    output_column,
    output_columns,
    probability_column,
    probability_columns,
    score_columns,
    targets_of,
    task_of,
)

CLASSES = ["angry", "happy", "neutral", "sad"]


def _categorical(n=6, seed=0, classes=CLASSES):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(len(classes)), size=n).astype(np.float32)
    return categorical_table([f"u{i}" for i in range(n)], rng.choice(classes, n).tolist(), probabilities,
                             classes), probabilities


def _dimensional(n=5, seed=0, targets=("valence", "arousal")):
    rng = np.random.default_rng(seed)
    truths, outputs = rng.random((n, len(targets))), rng.random((n, len(targets))).astype(np.float32)
    return dimensional_table([f"u{i}" for i in range(n)], truths, outputs, list(targets)), truths, outputs


def test_a_categorical_table_reads_back_as_built(tmp_path):
    table, probabilities = _categorical()
    assert list(table.columns) == ["utt_id", "truth", "prediction", *(f"prob_{c}" for c in CLASSES)]
    assert table["prediction"].tolist() == [CLASSES[i] for i in probabilities.argmax(axis=1)]
    assert table[probability_columns(table)].to_numpy().dtype == np.float32  # as the model gave them
    table.to_csv(tmp_path / "test.csv", index=False)
    for stored in (table, pd.read_csv(tmp_path / "test.csv")):
        assert task_of(stored) == "categorical"
        assert classes_of(stored) == CLASSES
        assert targets_of(stored) == [] and output_columns(stored) == []
        assert score_columns(stored) == probability_columns(stored) == [probability_column(c) for c in CLASSES]


def test_a_dimensional_table_pairs_each_truth_with_its_output(tmp_path):
    table, truths, outputs = _dimensional()
    assert list(table.columns) == ["utt_id", "valence", "pred_valence", "arousal", "pred_arousal"]
    assert table["arousal"].tolist() == truths[:, 1].tolist()
    assert table["pred_arousal"].dtype == np.float32 and table["valence"].dtype == np.float64  # dtypes kept
    table.to_csv(tmp_path / "test.csv", index=False)
    for stored in (table, pd.read_csv(tmp_path / "test.csv")):
        assert task_of(stored) == "dimensional"
        assert targets_of(stored) == ["valence", "arousal"]
        assert output_columns(stored) == score_columns(stored) == [output_column(t) for t in ("valence", "arousal")]
        assert classes_of(stored) == [] and probability_columns(stored) == []


def test_builders_reject_a_column_count_that_is_not_the_task_s():
    with pytest.raises(ValueError, match=r"one column per class of \['angry', 'happy'\], got shape \(2, 3\)"):
        categorical_table(["a", "b"], ["angry", "happy"], np.ones((2, 3)) / 3, ["angry", "happy"])
    with pytest.raises(ValueError, match=r"outputs need one column per target of \['valence'\], got shape \(2,\)"):
        dimensional_table(["a", "b"], [[1.0], [2.0]], [1.0, 2.0], ["valence"])


def test_the_task_needs_one_kind_of_prediction_column_and_names_the_columns():
    with pytest.raises(ValueError, match=r"prob_\* or pred_\*.*found neither: \['utt_id', 'valence'\]"):
        task_of(pd.DataFrame(columns=["utt_id", "valence"]))
    with pytest.raises(ValueError, match=r"found both: \['utt_id', 'prob_sad', 'pred_valence'\]"):
        score_columns(pd.DataFrame(columns=["utt_id", "prob_sad", "pred_valence"]))


def test_names_not_values_decide_so_stacked_runs_keep_every_column():
    """Stacking runs fills what one run lacks with NaN; the schema still lists it, and dropping a
    run's all-NaN columns gives that run's own targets."""
    valence_only, _, _ = _dimensional(targets=("valence",))
    both, _, _ = _dimensional(seed=1)
    stacked = pd.concat([valence_only.assign(arch="a"), both.assign(arch="b")], ignore_index=True)
    assert targets_of(stacked) == ["valence", "arousal"]
    run = stacked[stacked["arch"] == "a"]
    assert targets_of(run) == ["valence", "arousal"]
    assert targets_of(run.dropna(axis=1, how="all")) == ["valence"]


def test_classes_keep_column_order_and_ignore_other_columns():
    table = pd.DataFrame({"utt_id": ["a"], "prob_sad": [0.9], "prob_angry": [0.1], 0: [1], "probability": [1.0]})
    assert classes_of(table) == ["sad", "angry"]  # column order, not sorted
    assert task_of(table) == "categorical"


def test_the_most_probable_class_is_the_first_on_a_tie():
    assert most_probable([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]], ["sad", "angry", "happy"]).tolist() == ["sad", "happy"]
