"""The report of a synthetic sweep (with a failed trial), written as a user gets it from
`sertext report`."""

import numpy as np
import pandas as pd
import pytest

from sertext import aggregate
from sertext.cli import main
from sertext.report import results_table, write_report
from tests.fixtures import FOLDS, SYNTHETIC_CLASSES, synthetic_predictions, write_synthetic_sweep


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
    for text in ("## Results", "| MFCNN14 (bert-base-uncased) |", "LF (dev-weighted)",
                 "## Paired comparisons over folds", "## Fusion weights",
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
                 "figures/residuals_by_dialogue_act_valence.png", "| CCC (mean) |",
                 "## Best validation model per architecture",
                 "| model | seed | CCC valence | MSE valence |", "CCC valence (S / I)"):
        assert text in markdown
    assert "## F1 per class" not in markdown and "Cross-corpus" not in markdown


def test_report_command(store, tmp_path, capsys):
    assert main(["report", "--experiment", "synthetic", "--tracking-uri", store, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MFCNN14" in out and "1 trial(s) the sweep promises have no finished run" in out
    assert (tmp_path / "report.html").is_file()
    assert main(["report", "--experiment", "nope", "--tracking-uri", store]) == 2
    assert np.isfinite(aggregate.summarise_sweep(store, "synthetic").paired["p_naive"]).all()


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


def test_one_model_as_both_baselines_gets_no_fusion_rows(store):
    """Makiuchi et al.'s Table 4 sweeps the text CNN alone: fusing it with itself is no result."""
    tables = aggregate.summarise_sweep(store, "synthetic", audio="text", text="text")
    assert not set(tables.summary["arch"]) & {"LF", "LF-weighted", "LF-fixed"} and tables.weights.empty


def test_scripted_vs_improvised_tables_use_each_models_best_seed_on_dev(store):
    """The multistage paper's Tables 7 and 8 analyse "the best performing models", chosen on
    validation, as its Tables 3 and 6 and Fig. 3 do: one seed per model, not the mean of all."""
    from sertext.metrics import table_metrics

    tables = aggregate.summarise_sweep(store, "synthetic")
    mode = tables.strata["mode"].set_index(["arch", "mode"])
    best = tables.best_seeds.set_index("arch").loc["mfcnn14", "seed"]
    scripted = pd.concat([synthetic_predictions("mfcnn14", fold, best) for fold in FOLDS]).query("mode == 'scripted'")
    assert mode.loc[("mfcnn14", "scripted"), "seeds"] == 1
    assert mode.loc[("mfcnn14", "scripted"), "uar_mean"] == pytest.approx(table_metrics(scripted)["uar"])
    by_mode = tables.class_f1["mode"]
    assert by_mode[by_mode["arch"] == "mfcnn14"]["seeds"].eq(1).all()
    assert tables.strata["dialogue_act"]["seeds"].max() == 3  # the sertext extra stays over every seed


def test_results_on_dev_and_the_semantic_papers_test_dev_layout(tmp_path):
    """Tzirakis et al. report the development partition (Tables 2, 3) and test (dev) (Table 4)."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    write_synthetic_sweep(uri, "dimensional")
    tables = aggregate.summarise_sweep(uri, "synthetic-dimensional")
    dev = results_table(tables, split="dev").set_index("model")
    assert "LF (dev-weighted)" not in dev.index and "*" not in "".join(dev["CCC (mean)"])
    mean = tables.dev_summary.set_index("arch").loc["cnn14", "ccc_mean"]
    assert dev.loc["CNN14", "CCC (mean)"].startswith(f"{mean:.3f} (")
    for frame in (tables.summary, tables.dev_summary):  # as if the sweep were the semantic paper's model
        frame.loc[frame["arch"] == "mfcnn14", "arch"] = "wavfusion"
    write_report(tables, tmp_path / "report")
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Results on the development set" in markdown and "## Test (dev)" in markdown
    test_dev = pd.read_csv(tmp_path / "report" / "tables" / "test_dev.csv")
    test, dev_valence = (frame.set_index("arch").loc["wavfusion", "ccc_valence_mean"]
                         for frame in (tables.summary, tables.dev_summary))
    assert test_dev.loc[0, "CCC valence"] == f"{test:.3f} ({dev_valence:.3f})"


def test_residual_figures_are_drawn_at_the_papers_size(tmp_path):
    """Fig. 4 and Fig. 5 with the paper's 6 models × 7 variants: small multiples per target, and a
    panel per target and setting, where the report used to leave them out past 6 pairs."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    write_synthetic_sweep(uri, "dimensional")
    tables = aggregate.summarise_sweep(uri, "synthetic-dimensional")
    copies = [tables.residuals.assign(variant=f"loss_weights={i}", arch=arch)
              for i in range(7) for arch in ("cnn14", "text", "sfcnn14", "mfcnn14", "LF", "LF-fixed")]
    tables.residuals = pd.concat(copies, ignore_index=True)
    tables.residual_fits = aggregate.residual_fits(tables.residuals)
    tables.residual_tests = aggregate.residual_tests(tables.residuals)
    write_report(tables, tmp_path / "report")
    figures = {p.name for p in (tmp_path / "report" / "figures").iterdir()}
    assert {"residual_lines.png", "residuals_by_dialogue_act_valence.png",
            "residuals_by_dialogue_act_arousal.png"} <= figures


def test_the_corpus_figures_come_from_the_table_the_trials_read(store, tmp_path, iemocap_root):
    """Fig. 2 (classes of each corpus) and Fig. 6 (scripted vs improvised classes and ratings)."""
    from sertext.data import load_corpus
    from sertext.data.describe import describe_corpus

    tables = aggregate.summarise_sweep(store, "synthetic")
    described = describe_corpus(load_corpus("iemocap", iemocap_root))
    assert described["classes"]["all"] == {"angry": 3, "happy": 5, "neutral": 4, "sad": 4}
    assert sum(described["classes"]["mode=scripted"].values()) == 6
    counts = described["ratings"]["counts"]
    assert sum(counts["scripted"]["valence"]) + sum(counts["improvised"]["valence"]) == 18
    tables.corpora = {"iemocap": described}
    write_report(tables, tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    assert "## Classes of each corpus" in markdown and "## Scripted vs improvised utterances" in markdown
    assert {"classes.png", "scripted_vs_improvised.png"} <= {p.name for p in (tmp_path / "figures").iterdir()}


def test_the_weighting_dev_chooses_is_marked():
    per_seed = pd.DataFrame([{"arch": "lstmfusion", "variant": f"targets=valence loss=ccc loss_weights={w}",
                              "seed": seed, "ccc": score + 0.01 * seed}
                             for w, score in (("0.7,0.2,0.1", 0.5), ("0.1,0.4,0.5", 0.4)) for seed in (0, 1)])
    per_seed.loc[len(per_seed)] = {"arch": "lstmfusion", "variant": "targets=valence loss=mse", "seed": 0, "ccc": 0.9}
    chosen = aggregate.dev_chosen_weightings(per_seed, "ccc")
    assert chosen[["variant", "weightings"]].values.tolist() == [["targets=valence loss=ccc loss_weights=0.7,0.2,0.1",
                                                                   2]]


def test_a_sweep_without_a_dev_set_reports_what_needs_none(tmp_path):
    """Makiuchi et al.'s protocol: no dev set, the last model.  Nothing can choose fusion weights or a
    best seed, so the report has late fusion but no dev-weighted fusion, no best-seed analyses and
    no dev table, and says nothing false about them."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    write_synthetic_sweep(uri, name="no-dev", with_dev=False)
    tables = aggregate.summarise_sweep(uri, "no-dev")
    assert set(tables.summary["arch"]) == {"cnn14", "text", "mfcnn14", "LF"}
    assert tables.weights.empty and tables.best_seeds.empty and tables.dev_summary.empty
    assert tables.strata["mode"]["seeds"].max() == 3  # every seed, as nothing chose one
    write_report(tables, tmp_path / "report")
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Results on the development set" not in markdown and "Confusion matrices" not in markdown


def test_each_fold_beside_the_mean_and_std_over_folds(store, tmp_path):
    """Makiuchi et al.'s Tables 1, 3 and 4 give every fold and the mean ± std over folds."""
    tables = aggregate.summarise_sweep(store, "synthetic")
    write_report(tables, store_dir := tmp_path)
    table = pd.read_csv(store_dir / "tables" / "per_fold.csv", dtype=str).set_index(["model", "metric"])
    per_fold = tables.per_fold[tables.per_fold["arch"] == "cnn14"].groupby("fold")["uar"].mean()
    assert table.loc[("CNN14", "UAR"), "F1"] == f"{per_fold['F1']:.3f}"
    assert table.loc[("CNN14", "UAR"), "mean ± std over folds"] == \
        f"{per_fold.mean():.3f} ± {per_fold.std(ddof=1):.3f}"


def test_the_speaker_probe_per_fold_in_the_papers_metric_names(store, tmp_path):
    """Makiuchi et al.'s Table 3: speaker identification UA per fold and mean ± std, UA being their
    name for the accuracy."""
    tables = aggregate.summarise_sweep(store, "synthetic")
    tables.metric_names = {"uar": "WA", "wa": "UA"}
    folds = pd.DataFrame({"arch": "cnn14", "variant": "-", "fold": ["F1", "F2"], "probe/speaker_uar": [0.5, 0.7],
                          "probe/speaker_wa": [0.4, 0.6], "probe/speakers": [8.0, 8.0]})
    tables.probe_folds = folds
    tables.probes = pd.DataFrame({"arch": ["cnn14"], "variant": ["-"], "probe/speaker_wa_mean": [0.5],
                                  "probe/speaker_wa_std": [0.1], "runs": [2]})
    write_report(tables, tmp_path)
    per_fold = pd.read_csv(tmp_path / "tables" / "speaker_probe_per_fold.csv", dtype=str).set_index("metric")
    assert per_fold.loc["speaker UA", "F2"] == "0.600" and per_fold.loc["speaker UA", "mean ± std over folds"] == \
        "0.500 ± 0.141"
    assert "speaker UA" in pd.read_csv(tmp_path / "tables" / "speaker_probe.csv").columns
