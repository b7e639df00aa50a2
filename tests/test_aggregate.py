"""Aggregation of a synthetic sweep in a real MLflow store: pooled metrics, counts with a failed
trial, the papers' t-tests and the paired tests with Holm's correction, against scipy."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import f1_score

from sertext import aggregate
from sertext.metrics import table_metrics
from tests.fixtures import ARCHS, FAILED, FOLDS, SEEDS, SYNTHETIC_CLASSES, synthetic_predictions, write_synthetic_sweep


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('aggregate')}/mlflow.db"
    experiment, parent = write_synthetic_sweep(uri)
    runs = aggregate.collect_runs(uri, experiment, parent)
    return uri, runs, aggregate.collect_predictions(uri, runs)


def test_runs_and_predictions_are_collected(sweep):
    _, runs, predictions = sweep
    assert len(runs) == 18 and (runs["status"] == "FINISHED").sum() == 17
    assert len(predictions) == 17 * 20
    stored = predictions[(predictions.arch == "cnn14") & (predictions.fold == "F1") & (predictions.seed == 0)]
    expected = synthetic_predictions("cnn14", "F1", 0)
    assert stored[expected.columns].reset_index(drop=True).round(12).equals(expected.round(12))


def test_metrics_are_pooled_over_folds_or_averaged(sweep):
    _, _, predictions = sweep
    pooled = aggregate.per_seed_metrics(predictions).set_index(["arch", "seed"])
    both = pd.concat([synthetic_predictions("mfcnn14", f, 1) for f in FOLDS])
    assert pooled.loc[("mfcnn14", 1), "uar"] == pytest.approx(table_metrics(both)["uar"], abs=1e-12)
    averaged = aggregate.per_seed_metrics(predictions, pooled=False).set_index(["arch", "seed"])
    per_fold = [table_metrics(synthetic_predictions("mfcnn14", f, 1))["uar"] for f in FOLDS]
    assert averaged.loc[("mfcnn14", 1), "uar"] == pytest.approx(np.mean(per_fold), abs=1e-12)
    assert pooled.loc[("text", 2), "folds"] == 1  # its second fold failed
    with pytest.raises(ValueError, match="more than one fold"):
        aggregate.per_seed_metrics(predictions.assign(fold="same", utt_id="u"))


def test_summary_counts_seeds_and_folds_behind_each_cell(sweep):
    _, _, predictions = sweep
    per_seed = aggregate.per_seed_metrics(predictions)
    summary = aggregate.seed_summary(per_seed, ["uar", "wa"]).set_index("arch")
    assert summary.loc["text", "folds"] == 1 and summary.loc["cnn14", "folds"] == 2
    assert (summary["seeds"] == 3).all()
    values = per_seed[per_seed.arch == "cnn14"]["uar"]
    assert summary.loc["cnn14", "uar_mean"] == pytest.approx(values.mean())
    assert summary.loc["cnn14", "uar_std"] == pytest.approx(np.std(values, ddof=1))


def test_papers_t_tests_over_seeds_match_scipy(sweep):
    _, _, predictions = sweep
    per_seed = aggregate.per_seed_metrics(predictions)
    both = aggregate.significance(per_seed, ["uar", "f1_macro"])
    assert set(both["metric"]) == {"uar", "f1_macro"} and len(both) == 2 * len(ARCHS)  # each metric its markers
    f1 = both[both["metric"] == "f1_macro"].set_index("arch")
    f1_values = {a: per_seed[per_seed.arch == a]["f1_macro"].to_numpy() for a in ARCHS}
    assert f1.loc["mfcnn14", "p_vs_text"] == pytest.approx(
        scipy_stats.ttest_ind(f1_values["mfcnn14"], f1_values["text"]).pvalue)
    table = both[both["metric"] == "uar"].set_index("arch")
    uar = {a: per_seed[per_seed.arch == a]["uar"].to_numpy() for a in ARCHS}
    for baseline, column in (("cnn14", "p_vs_audio"), ("text", "p_vs_text")):
        expected = scipy_stats.ttest_ind(uar["mfcnn14"], uar[baseline]).pvalue
        assert table.loc["mfcnn14", column] == pytest.approx(expected)
    assert np.isnan(table.loc["cnn14", "p_vs_audio"])
    assert table.loc["text", "p_vs_audio"] == pytest.approx(scipy_stats.ttest_ind(uar["text"], uar["cnn14"]).pvalue)
    assert table.loc["text", "marker"] == table.loc["cnn14", "marker"] == ""  # baselines carry no marker
    expected = ("*" if table.loc["mfcnn14", "p_vs_audio"] < 0.05 else "") + (
        "†" if table.loc["mfcnn14", "p_vs_text"] < 0.05 else "")
    assert table.loc["mfcnn14", "marker"] == expected


def test_paired_tests_with_holm_correction(sweep):
    _, runs, predictions = sweep
    per_fold = aggregate.per_fold_metrics(predictions)
    assert len(per_fold) == 17
    table = aggregate.paired_tests(per_fold, "uar", [("mfcnn14", "cnn14"), ("mfcnn14", "text")],
                                   rng=np.random.default_rng(0)).set_index("baseline")
    assert table.loc["cnn14", "n"] == 6 and table.loc["text", "n"] == 5  # the failed trial has no pair
    finished = runs[runs.status == "FINISHED"].set_index(["arch", "fold", "seed"])["test/uar"]
    pairs = [(f, s) for f in FOLDS for s in SEEDS if (f, s) != FAILED[1:]]
    a = np.array([finished[("mfcnn14", f, s)] for f, s in pairs])
    b = np.array([finished[("text", f, s)] for f, s in pairs])
    assert table.loc["text", "p_naive"] == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue)
    assert table.loc["text", "mean_difference"] == pytest.approx((a - b).mean())
    assert table.loc["text", "ci_low"] <= table.loc["text", "mean_difference"] <= table.loc["text", "ci_high"]
    p = table["p_naive"].to_numpy()  # two comparisons: the smaller p doubled, the larger kept, monotone
    smaller, larger = sorted(p)
    expected = {smaller: min(1, 2 * smaller), larger: min(1, max(2 * smaller, larger))}
    assert table["p_naive_holm"].tolist() == pytest.approx([expected[v] for v in p])
    assert "significant" not in table.columns  # a naive "significant" read (fold, seed) runs as independent


def test_fold_aware_comparisons_average_seeds_per_fold_and_correct_for_shared_training_data():
    """Nadeau & Bengio's corrected t-test and the Bayesian correlated t-test over folds, checked
    against baycomp on the per-fold differences; a fold's test over training size from the record."""
    import baycomp

    rng = np.random.default_rng(3)
    folds = [f"F{i}" for i in range(10)]
    per_fold = pd.DataFrame([{"arch": arch, "variant": "-", "fold": fold, "seed": seed,
                              "uar": 0.5 + (0.02 if arch == "mfcnn14" else 0) + rng.normal(0, 0.02)}
                             for arch in ("mfcnn14", "cnn14") for fold in folds for seed in (0, 1, 2)])
    row = aggregate.paired_tests(per_fold, "uar", [("mfcnn14", "cnn14")], rng=np.random.default_rng(0),
                                 test_over_train=1 / 8).iloc[0]
    means = per_fold.groupby(["arch", "fold"])["uar"].mean()
    d = (means["mfcnn14"] - means["cnn14"]).to_numpy()
    t = d.mean() / np.sqrt((1 / len(d) + 1 / 8) * d.var(ddof=1))
    assert row["folds"] == 10 and row["p_corrected"] == pytest.approx(2 * scipy_stats.t.sf(abs(t), len(d) - 1))
    assert row["p_corrected"] > row["p_naive"]  # 30 (fold, seed) results are not 30 independent ones
    worse, equivalent, better = baycomp.CorrelatedTTest.probs(means["cnn14"].to_numpy(), means["mfcnn14"].to_numpy(),
                                                              rope=0.01, runs=1)  # runs=1: rho = 1 / 10
    fallback = aggregate.paired_tests(per_fold, "uar", [("mfcnn14", "cnn14")], rng=np.random.default_rng(0)).iloc[0]
    assert (fallback["P(worse)"], fallback["P(equivalent)"], fallback["P(better)"]) == pytest.approx(
        (worse, equivalent, better), abs=1e-9)  # without sizes, 1 / (folds − 1): k-fold cross-validation


def test_paired_tests_per_variant_against_an_unvaried_baseline():
    rng = np.random.default_rng(1)
    folds = [{"fold": f, "seed": s} for f in ("F1", "F2", "F3") for s in (0, 1)]
    per_fold = pd.DataFrame([{"arch": arch, "variant": variant, **cell, "uar": rng.random()}
                             for arch, variant in (("speech", "small"), ("speech", "large"), ("text", "-"))
                             for cell in folds])
    table = aggregate.paired_tests(per_fold, "uar", [("speech", "text")], rng=np.random.default_rng(0))
    assert table[["variant", "n"]].values.tolist() == [["small", 6], ["large", 6]]
    small = per_fold[per_fold.variant == "small"]["uar"].to_numpy()
    text = per_fold[per_fold.arch == "text"]["uar"].to_numpy()
    assert table.loc[0, "p_naive"] == pytest.approx(scipy_stats.ttest_rel(small, text).pvalue)


def test_failed_and_missing_trials_are_listed(sweep):
    _, runs, _ = sweep
    missing = aggregate.missing_trials(runs, aggregate.grid_of_runs(runs))
    assert missing.to_dict("records") == [{"arch": "text", "variant": "-", "fold": "F2", "seed": 2,
                                           "status": "FAILED"}]
    extra = aggregate.missing_trials(runs, itertools.product(ARCHS, ["-"], (*FOLDS, "F3"), SEEDS))
    assert len(extra) == 1 + 9 and set(extra[extra.fold == "F3"]["status"]) == {"missing"}


def test_an_architecture_without_any_run_is_listed_from_the_sweeps_definition(sweep, tmp_path):
    """The definition kept in the parent run, not the runs, says what was promised: with every run
    of one architecture gone, each of its trials is listed and its row says it has no run."""
    from mlflow.tracking import MlflowClient

    from sertext import record, report

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    experiment, parent = write_synthetic_sweep(uri, name="gone", with_record=True)
    kept = record.read_sweep_record(uri, parent)
    assert kept.sweep.archs == ARCHS and kept.folds == FOLDS
    assert kept.sweep.fingerprint() == record.SweepRecord.from_json(kept.to_json()).sweep.fingerprint()
    client = MlflowClient(uri)
    for run in aggregate.tracking.child_runs(uri, experiment, parent):
        if run.data.tags["arch"] == "mfcnn14":
            client.delete_run(run.info.run_id)
    tables = aggregate.summarise_sweep(uri, "gone")
    gone = tables.missing[tables.missing.arch == "mfcnn14"]
    assert len(gone) == len(FOLDS) * len(SEEDS) and set(gone["status"]) == {"missing"}
    assert len(tables.missing) == len(gone) + 1  # and the failed text trial
    row = report.results_table(tables).set_index("model").loc["MFCNN14"]
    assert row["seeds × folds"].startswith("0 × 0") and row["UAR"] == "no finished run"
    before = aggregate.summarise_sweep(sweep[0], "synthetic")  # a launch without a record: the grid of its runs
    assert before.inferred_grid and len(before.missing) == 1


def test_metrics_within_strata(sweep):
    _, _, predictions = sweep
    summary = aggregate.stratified_summary(predictions, "mode", ["uar"]).set_index(["arch", "mode"])
    scripted = [table_metrics(pd.concat([synthetic_predictions("cnn14", f, s) for f in FOLDS]).query(
        "mode == 'scripted'"))["uar"] for s in SEEDS]
    assert summary.loc[("cnn14", "scripted"), "uar_mean"] == pytest.approx(np.mean(scripted))
    assert summary.loc[("cnn14", "scripted"), "uar_std"] == pytest.approx(np.std(scripted, ddof=1))
    assert summary.loc[("cnn14", "scripted"), "utterances"] == 20
    acts = aggregate.stratified_summary(predictions, "dialogue_act", ["uar"])
    assert set(acts["dialogue_act"]) == {"s", "q", "b"}  # utterances without an act are left out


def _regression_predictions():
    return pd.DataFrame({
        "arch": "cnn14", "variant": "-", "fold": "F1", "seed": [0] * 6 + [1] * 6,
        "utt_id": [f"u{i}" for i in range(6)] * 2, "dialogue_act": ["s", "s", "s", "q", "q", "q"] * 2,
        "valence": [3.0, 2.0, 4.0, 1.0, 3.5, 5.0] * 2,
        "pred_valence": [3.5, 3.2, 3.9, 2.9, 3.1, 3.0, 3.3, 3.4, 3.7, 3.1, 2.7, 3.2]})


def test_residuals_per_dialogue_act_match_scipy():
    predictions = _regression_predictions()
    residual_table = aggregate.residuals(predictions[predictions["seed"] == 1])  # one model: its best seed
    assert len(residual_table) == 6
    table = aggregate.residual_tests(residual_table).set_index("dialogue_act")
    residuals_s = np.array([3.0, 2.0, 4.0]) - np.array([3.3, 3.4, 3.7])  # truth − prediction (paper, Eq. 7)
    assert table.loc["s", "mean_residual"] == pytest.approx(residuals_s.mean())
    assert table.loc["s", "p"] == pytest.approx(scipy_stats.ttest_1samp(residuals_s, 0).pvalue)
    assert table.loc["q", "n"] == 3 and list(table["target"]) == ["valence", "valence"]
    assert table["p_holm"].tolist() == pytest.approx(aggregate.stats.holm(table["p"]))
    assert (table["significant"] == (table["p"] < 0.05)).all()  # the paper's uncorrected marker


def test_the_best_seed_is_chosen_on_dev_not_on_test():
    dev = pd.DataFrame({"arch": "cnn14", "variant": "-", "seed": [0, 1, 2], "uar": [0.4, 0.7, 0.5]})
    best = aggregate.best_seeds(pd.concat([dev, dev.assign(arch="text", uar=[0.9, 0.1, 0.2])]), "uar")
    assert best[["arch", "seed"]].values.tolist() == [["cnn14", 1], ["text", 0]]


def test_residual_lines_against_the_gold_standard_match_scipy():
    predictions = _regression_predictions()
    residual_table = aggregate.residuals(predictions[predictions["seed"] == 0])
    fit = aggregate.residual_fits(residual_table).iloc[0]
    expected = scipy_stats.linregress(residual_table["truth"], residual_table["residual"])
    assert fit["slope"] == pytest.approx(expected.slope) and fit["intercept"] == pytest.approx(expected.intercept)
    assert fit["slope"] > 0  # a model that regresses to the mean under-predicts high values: e = y_t − y_p grows


def test_per_class_f1_matches_sklearn(sweep):
    _, _, predictions = sweep
    table = aggregate.class_f1(predictions).set_index(["arch", "class"])
    per_seed = [f1_score(*_pooled("mfcnn14", s), labels=SYNTHETIC_CLASSES, average=None, zero_division=0)
                for s in SEEDS]
    for i, label in enumerate(SYNTHETIC_CLASSES):
        values = [scores[i] for scores in per_seed]
        assert table.loc[("mfcnn14", label), "f1_mean"] == pytest.approx(np.mean(values))
        assert table.loc[("mfcnn14", label), "f1_std"] == pytest.approx(np.std(values, ddof=1))
    by_mode = aggregate.class_f1(predictions, "mode").set_index(["arch", "mode", "class"])
    scripted = [f1_score(*_pooled("cnn14", s, mode="scripted"), labels=["sad"], average=None, zero_division=0)[0]
                for s in SEEDS]
    assert by_mode.loc[("cnn14", "scripted", "sad"), "f1_mean"] == pytest.approx(np.mean(scripted))
    assert by_mode.loc[("cnn14", "scripted", "sad"), "seeds"] == 3


def _pooled(arch, seed, mode=None):
    table = pd.concat([synthetic_predictions(arch, f, seed) for f in FOLDS])
    table = table if mode is None else table[table["mode"] == mode]
    return table["truth"], table["prediction"]


def test_a_search_keeps_the_best_dev_run_per_cell():
    runs = pd.DataFrame({"run_id": list("abcdef"), "arch": "cnn14", "variant": "-",
                         "fold": ["F1", "F1", "F1", "F2", "F2", "F2"], "seed": 0,
                         "status": ["FINISHED", "FINISHED", "FAILED", "FAILED", "KILLED", "FINISHED"],
                         "dev/uar": [0.4, 0.6, np.nan, np.nan, np.nan, 0.5], "test/uar": [0.9, 0.1, 0, 0, 0, 0.5]})
    kept, set_aside = aggregate.best_trials(runs, "dev/uar")
    assert set(kept["run_id"]) == {"b", "f"} and set_aside == 1  # chosen on dev, not on test
    failed_cell = runs.assign(status=["FINISHED", "FINISHED", "FAILED", "FAILED", "KILLED", "FAILED"])
    kept, _ = aggregate.best_trials(failed_cell, "dev/uar")
    assert set(kept["run_id"]) == {"b", "d", "e", "f"}  # a cell with no finished run stays visible as missing
    assert aggregate.best_trials(runs.iloc[[0, 5]], "dev/ccc")[1] == 0  # one run per cell: nothing to choose
    with pytest.raises(ValueError, match="'dev/ccc'"):
        aggregate.best_trials(runs, "dev/ccc")


def test_a_protocol_search_keeps_the_setting_with_the_best_mean_dev_score():
    """One setting per model for the whole protocol: the best mean dev score over every fold and seed,
    among the settings trained on all of them (an early-stopped one is not eligible)."""
    cells = [("F1", 0), ("F2", 0), ("F1", 1), ("F2", 1)]
    rows = [{"setting": setting, "fold": fold, "seed": seed, "dev/uar": dev, "test/uar": 1 - dev,
             "status": "FINISHED", "stopped": False}
            for setting, devs in (("lr=0.1", (0.5, 0.6, 0.5, 0.6)), ("lr=0.01", (0.7, 0.3, 0.6, 0.5)))
            for (fold, seed), dev in zip(cells, devs, strict=True)]
    rows += [{"setting": "lr=0.5", "fold": "F1", "seed": 0, "dev/uar": 0.9, "test/uar": 0.0, "status": "FINISHED",
              "stopped": True},
             {"setting": "lr=0.5", "fold": "F2", "seed": 0, "dev/uar": np.nan, "test/uar": np.nan, "status": "KILLED",
              "stopped": True}]
    runs = pd.DataFrame(rows).assign(arch="cnn14", variant="-", run_id=[str(i) for i in range(len(rows))])
    kept, chosen = aggregate.choose_settings(runs, "dev/uar")
    assert set(kept["setting"]) == {"lr=0.1"} and len(kept) == 4  # mean 0.55 beats 0.525; test scores unused
    assert chosen.to_dict("records") == [{"arch": "cnn14", "variant": "-", "setting": "lr=0.1", "dev/uar": 0.55,
                                          "trials": 4, "settings compared": 2}]
    assert aggregate.stopped_trials(runs).to_dict("records") == [
        {"arch": "cnn14", "variant": "-", "setting": "lr=0.5", "runs": 2}]
    partial = runs[~((runs["setting"] == "lr=0.1") & (runs["fold"] == "F2") & (runs["seed"] == 1))]
    assert set(aggregate.choose_settings(partial, "dev/uar")[0]["setting"]) == {"lr=0.01"}  # lr=0.1 lacks a trial


def test_seed_power_reads_the_spread_the_tests_see(sweep):
    _, _, predictions = sweep
    per_seed, per_fold = aggregate.per_seed_metrics(predictions), aggregate.per_fold_metrics(predictions)
    table = aggregate.seed_power(per_seed, per_fold, "uar", [("mfcnn14", "cnn14"), ("mfcnn14", "text")])
    row = table.set_index("baseline").loc["cnn14"]
    a, b = (per_seed[per_seed.arch == arch]["uar"].to_numpy() for arch in ("mfcnn14", "cnn14"))
    sd = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)  # equal seeds: the pooled sd is the mean variance's root
    assert row["seeds"] == 3 and row["sd"] == pytest.approx(sd)
    assert row["observed"] == pytest.approx(a.mean() - b.mean())
    assert row["detectable"] == pytest.approx(aggregate.stats.minimum_detectable_difference(sd, 3))
    assert row["seeds_for_difference"] == aggregate.stats.seeds_needed(sd, 0.01)
    gaps = (per_fold[per_fold.arch == "mfcnn14"].set_index(["fold", "seed"])["uar"]
            - per_fold[per_fold.arch == "cnn14"].set_index(["fold", "seed"])["uar"]).dropna()
    assert row["pairs"] == len(gaps) == 6
    assert row["paired_detectable"] == pytest.approx(
        aggregate.stats.minimum_detectable_difference(gaps.std(ddof=1), 6, paired=True))
    assert row["paired_seeds_for_difference"] == np.ceil(
        aggregate.stats.seeds_needed(gaps.std(ddof=1), 0.01, paired=True) / 2)  # runs over 2 folds → seeds
    assert table.set_index("baseline").loc["text", "pairs"] == 5  # the failed text trial has no pair


def test_relative_improvement_over_the_acoustic_only_variant_with_the_same_targets():
    stl, mtl = "targets=valence loss=ccc", "targets=valence,arousal,dominance loss=ccc loss_weights=0.7,0.2,0.1"
    audio_stl = "targets=valence loss=ccc modalities=audio optimizer=nadam"
    audio_mtl = "targets=valence,arousal,dominance loss=ccc loss_weights=0.1,0.4,0.5 modalities=audio optimizer=nadam"
    values = {stl: [0.40, 0.44], mtl: [0.30, 0.36], audio_stl: [0.20, 0.20], audio_mtl: [0.10, 0.14]}
    per_seed = pd.DataFrame([{"arch": "lstmfusion", "variant": v, "seed": s, "ccc_valence": x}
                             for v, xs in values.items() for s, x in enumerate(xs)])
    table = aggregate.relative_improvements(per_seed, "ccc_valence").set_index("variant")
    assert set(table.index) == {stl, mtl}  # the acoustic-only rows are the baselines
    assert table.loc[stl, "baseline"] == audio_stl and table.loc[mtl, "baseline"] == audio_mtl
    assert table.loc[stl, "improvement"] == pytest.approx((0.42 - 0.20) / 0.20)
    assert table.loc[mtl, "improvement"] == pytest.approx((0.33 - 0.12) / 0.12)
    assert table.loc[mtl, "improvement_std"] == pytest.approx(np.std([(0.30 - 0.12) / 0.12, (0.36 - 0.12) / 0.12],
                                                                     ddof=1))
    assert aggregate.relative_improvements(per_seed[per_seed.variant.isin([stl, mtl])], "ccc_valence").empty


def test_alignment_checks_give_one_row_per_fold_space_from_finished_runs():
    runs = pd.DataFrame({
        "fold": ["Ses01F", "Ses01F", "Ses01M", "Ses01M", "Ses02F"], "seed": [0, 1, 0, 1, 0],
        "status": ["FINISHED", "FINISHED", "FINISHED", "FINISHED", "FAILED"],
        "semantic/aligned_cosine": [0.5, 0.5, 0.4, 0.4, 0.9], "semantic/random_cosine": [0.0, 0.0, 0.1, 0.1, 0.0]})
    checks = aggregate.alignment_checks(runs.iloc[::-1])
    assert checks.to_dict("list") == {"fold": ["Ses01F", "Ses01M"], "semantic/aligned_cosine": [0.5, 0.4],
                                      "semantic/random_cosine": [0.0, 0.1]}
    assert aggregate.alignment_checks(runs.drop(columns=["semantic/aligned_cosine", "semantic/random_cosine"])).empty


def test_a_sweep_with_nothing_to_compare_has_an_empty_paired_table():
    """One architecture alone (Atmaja & Akagi's sweep): no model against a baseline."""
    per_fold = pd.DataFrame({"arch": "lstmfusion", "variant": "-", "fold": ["F1", "F2"], "seed": 0, "ccc": [0.4, 0.5]})
    table = aggregate.paired_tests(per_fold, "ccc", [], rng=np.random.default_rng(0))
    assert table.empty and {"p_naive_holm", "p_corrected_holm", "P(better)"} <= set(table.columns)
