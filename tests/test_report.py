"""The report of a synthetic sweep (with a failed trial), written as a user gets it from
`sertext report`."""

import numpy as np
import pandas as pd
import pytest

from sertext import aggregate
from sertext.cli import main
from sertext.report import results_table, write_report
from tests.fixtures import SYNTHETIC_CLASSES, write_synthetic_sweep


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('report')}/mlflow.db"
    write_synthetic_sweep(uri)
    return uri


def test_summary_adds_fusion_rows_and_reduced_counts(store):
    tables = aggregate.summarise_sweep(store, "synthetic")
    assert tables.task == "categorical" and tables.metrics[0] == "uar"
    table = results_table(tables).set_index("model")
    assert list(table.index) == ["CNN14", "Text (bert-base-uncased)", "MFCNN14 (bert-base-uncased)", "LF",
                                 "LF (dev-weighted)"]  # each row names the pretrained model it read
    assert table.loc["CNN14", "seeds × folds"] == "3 × 2"
    assert table.loc["Text (bert-base-uncased)", "seeds × folds"] == "3 × 1 ⚠"  # seed 2 lost a fold: the failure
    mean = tables.summary.set_index("arch").loc["mfcnn14", "uar_mean"]
    assert table.loc["MFCNN14 (bert-base-uncased)", "UAR"].startswith(f"{mean:.3f} (")
    assert len(tables.weights) == 5  # fold × seed pairs where both the audio and the text run finished
    assert tables.missing[["arch", "fold", "seed", "status"]].values.tolist() == [["text", "F2", 2, "FAILED"]]
    with pytest.raises(ValueError, match="no experiment 'other'"):
        aggregate.summarise_sweep(store, "other")


def test_report_files_are_complete_and_self_contained(store, tmp_path):
    write_report(aggregate.summarise_sweep(store, "synthetic", pooled=False), tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    for text in ("## Results", "| MFCNN14 (bert-base-uncased) |", "LF (dev-weighted)", "## Paired tests",
                 "## Fusion weights",
                 "each fold's test predictions, then averaged over folds", "| text | F2 | 2 | FAILED |",
                 "![", "figures/confusion_matrices.png", "## Scripted vs improvised", "## Dialogue acts",
                 "| utterances | 20 / 20 |", "## Cross-corpus evaluation", "## F1 per class\n",
                 "| MFCNN14 | scripted |", "figures/uar_by_dialogue_act.png"):
        assert text in markdown
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "src='figures" not in page
    assert {p.name for p in (tmp_path / "tables").iterdir()} >= {
        "results.csv", "p_values.csv", "paired_tests.csv", "fusion_weights.csv", "missing_trials.csv",
        "by_mode.csv", "by_dialogue_act.csv", "cross_corpus.csv", "f1_per_class.csv", "f1_per_class_by_mode.csv"}
    f1 = pd.read_csv(tmp_path / "tables" / "f1_per_class_by_mode.csv")
    assert list(f1.columns) == ["model", "mode", *SYNTHETIC_CLASSES] and len(f1) == 2 * 5  # 2 modes × 5 models


def test_regression_report_has_the_residual_analyses(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    write_synthetic_sweep(uri, "dimensional")
    tables = aggregate.summarise_sweep(uri, "synthetic-dimensional")
    assert tables.task == "dimensional" and tables.metrics[:1] == ["ccc"]
    fits = tables.residual_fits.set_index(["arch", "target"])
    # predictions shrink towards 3 by the model's skill, so e = y_t − y_p has slope ≈ 1 − skill
    assert fits.loc[("cnn14", "valence"), "slope"] == pytest.approx(0.7, abs=0.15)
    assert fits.loc[("mfcnn14", "valence"), "slope"] < fits.loc[("cnn14", "valence"), "slope"]
    assert set(tables.residual_tests["dialogue_act"]) == {"s", "q", "b"}
    best = tables.best_seeds.set_index("arch")
    dev = aggregate.per_seed_metrics(aggregate.collect_predictions(
        uri, aggregate.collect_runs(uri, *aggregate.tracking.latest_sweep_run(uri, "synthetic-dimensional")), "dev"),
        pooled=False)
    for arch in ("cnn14", "mfcnn14"):  # each model's residuals are those of its best seed on dev
        assert best.loc[arch, "seed"] == dev.loc[dev[dev["arch"] == arch]["ccc"].idxmax(), "seed"]
        assert (tables.residuals["arch"] == arch).sum() == len(tables.residuals["utt_id"].unique()) * len(
            set(tables.residuals["target"]))
    tables.alignment = pd.DataFrame({"fold": ["F1"], "semantic/aligned_cosine": [0.51234],
                                     "semantic/random_cosine": [-0.0204]})  # as wavfusion trials log them
    write_report(tables, tmp_path / "report")
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Alignment of the semantic spaces" in markdown and "| F1 | 0.512 | -0.02 |" in markdown
    assert "| fold | aligned cosine | random cosine |" in markdown
    assert (tmp_path / "report" / "tables" / "alignment_checks.csv").is_file()
    for text in ("## Error residuals", "figures/residual_lines.png", "## Residuals per dialogue act",
                 "figures/residuals_by_dialogue_act.png", "| CCC (mean) |", "## Best validation model per architecture",
                 "| model | seed | CCC valence | MSE valence |", "CCC valence (S / I)"):
        assert text in markdown
    assert "## F1 per class" not in markdown and "Cross-corpus" not in markdown


def test_report_command(store, tmp_path, capsys):
    assert main(["report", "--experiment", "synthetic", "--tracking-uri", store, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MFCNN14" in out and "1 trial(s) the sweep promises have no finished run" in out
    assert (tmp_path / "report.html").is_file()
    assert main(["report", "--experiment", "nope", "--tracking-uri", store]) == 2
    assert np.isfinite(aggregate.summarise_sweep(store, "synthetic").paired["p"]).all()


def test_two_sweeps_tested_on_each_others_corpus_read_as_one_table_both_ways(tmp_path, capsys):
    """The multistage paper's Table 1: IEMOCAP in-domain and IEMOCAP → MSP-Podcast beside
    MSP-Podcast in-domain and MSP-Podcast → IEMOCAP, from two sweeps."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    write_synthetic_sweep(uri, name="iemocap-side", with_record=True)
    write_synthetic_sweep(uri, name="msp-side", with_record=True, corpus="msp-podcast")
    assert main(["report", "--experiment", "iemocap-side", "msp-side", "--tracking-uri", uri,
                 "--out", str(tmp_path / "both")]) == 0
    out = capsys.readouterr().out
    assert "cross-corpus (each fold's model trained on IEMOCAP, tested on MSP-Podcast: its official test set" in out
    table = pd.read_csv(tmp_path / "both" / "tables" / "combined.csv", keep_default_na=False).set_index("model")
    assert list(table.columns) == ["IEMOCAP UAR", "IEMOCAP → MSP-Podcast UAR", "MSP-Podcast UAR",
                                   "MSP-Podcast → IEMOCAP UAR"]
    assert list(table.index) == ["CNN14", "Text", "MFCNN14", "LF", "LF (dev-weighted)"]
    one = aggregate.summarise_sweep(uri, "iemocap-side")
    assert table.loc["MFCNN14", "IEMOCAP → MSP-Podcast UAR"] == \
        results_table(one, cross=True).set_index("model").loc["MFCNN14 (bert-base-uncased)", "UAR"]
    markdown = (tmp_path / "both" / "report.md").read_text()
    assert "[msp-side](msp-side/report.html)" in markdown and "Text (bert-base-uncased)" in markdown
    assert (tmp_path / "both" / "iemocap-side" / "report.html").is_file()
