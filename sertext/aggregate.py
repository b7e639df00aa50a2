"""Runs of a sweep → results tables: mean (std) over seeds with counts, and significance tests.

Per (architecture, variant, seed) each metric is recomputed over the cross-validation from the
stored test predictions, with the same :func:`sertext.metrics.table_metrics` that trials use: by
default over the pooled predictions of all folds (every utterance predicted once), or as the mean
over folds (``pooled=False``).  Then mean and std over seeds.  Counts travel with every cell, so a
cell built from fewer seeds or folds than the sweep promised shows it, and
:func:`missing_trials` lists the trials without a finished run: failed trials are never hidden.

Significance follows the seed papers (two-sided independent t-tests over seeds: ``*`` against
the audio baseline, ``†`` against the text baseline) and adds paired tests over matched
(fold, seed) runs with Holm's correction, Cohen's d and bootstrap confidence intervals.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sertext import fetch, record, stats, tracking
from sertext.fusion import fuse_sweep
from sertext.metrics import f1_per_class, table_metrics
from sertext.models.registry import ARCHITECTURES
from sertext.predictions import classes_of, output_column, targets_of, task_of
from sertext.progress import Stages

KEYS = ["arch", "variant", "fold", "seed"]


def collect_runs(tracking_uri: str, experiment_id: str, parent_run_id: str) -> pd.DataFrame:
    """The sweep's child runs, one row each (:func:`sertext.record.trial_row`): ``run_id``,
    ``arch``, ``variant``, ``fold``, ``seed``, ``setting`` (the grid point or searched values),
    ``status``, ``stopped`` (stopped early by the scheduler), ``models`` (the pretrained models it
    read), ``end_time`` (when the run last ended, ms since the epoch: part of the prediction
    cache's key, :mod:`sertext.fetch`) and the final dev/test/cross metrics (and probes,
    ``probe/…``, and semantic spaces' alignment checks, ``semantic/…``) MLflow holds."""
    rows = [{**record.trial_row(run), "end_time": run.info.end_time}
            for run in tracking.child_runs(tracking_uri, experiment_id, parent_run_id)]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["run_id", *KEYS, "setting", "status", "stopped",
                                                                 "models", "end_time"])


def collect_predictions(tracking_uri: str, runs: pd.DataFrame, split: str = "test", *, tables: dict | None = None,
                        progress: bool = False) -> pd.DataFrame:
    """The stored ``split`` predictions of every FINISHED run that made them (a run of a protocol
    without a dev set has no dev predictions), stacked, with the run's keys; empty when no run has
    ``split`` predictions.

    Args:
        tracking_uri, runs: the store and the sweep's runs (:func:`collect_runs`).
        split: ``dev``, ``test`` or ``cross``.
        tables: the tables already fetched (:func:`sertext.fetch.fetch_predictions`), else they
            are fetched now, in parallel and through the prediction cache.
        progress: a progress bar while fetching.

    Raises:
        ValueError: the sweep has no finished run at all.
    """
    finished = runs[runs["status"] == "FINISHED"]
    if finished.empty:
        raise ValueError("the sweep has no finished runs to aggregate")
    requests = [r for r in fetch.prediction_requests(finished, (split,)) if r.splits]
    if tables is None:
        tables = fetch.fetch_predictions(tracking_uri, requests, progress=progress)
    keys = finished.set_index("run_id")[KEYS]
    frames = [tables[(r.run_id, split)].assign(**keys.loc[r.run_id].to_dict()) for r in requests]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["utt_id", *KEYS])


def per_seed_metrics(predictions: pd.DataFrame, *, pooled: bool = True) -> pd.DataFrame:
    """Metrics per (arch, variant, seed) over the folds, with the number of folds behind each.

    Args:
        predictions: stacked prediction tables (:func:`collect_predictions`).
        pooled: metrics over the pooled predictions of all folds (default), else the mean of the
            per-fold metrics.

    Raises:
        ValueError: when pooling would count an utterance twice (folds that overlap in test).
    """
    rows = []
    for (arch, variant, seed), group in predictions.groupby(["arch", "variant", "seed"], sort=False):
        table = group.dropna(axis=1, how="all")  # variants of one sweep may predict other targets
        if pooled:
            repeated = table["utt_id"].duplicated()
            if repeated.any():
                raise ValueError(f"{arch} seed {seed}: utterances predicted in more than one fold "
                                 f"(e.g. {table.loc[repeated, 'utt_id'].iloc[0]}); use pooled=False")
            scores = table_metrics(table.drop(columns=KEYS))
        else:
            scores = pd.DataFrame([table_metrics(fold.drop(columns=KEYS))
                                   for _, fold in table.groupby("fold")]).mean().to_dict()
        rows.append({"arch": arch, "variant": variant, "seed": seed, "folds": table["fold"].nunique(), **scores})
    return pd.DataFrame(rows)


def seed_summary(per_seed: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Per (arch, variant): ``seeds`` (how many), ``folds`` (the fewest behind any seed), and
    ``<metric>_mean`` and ``<metric>_std`` (sample std over seeds; 0 for a single seed)."""
    rows = []
    for (arch, variant), group in per_seed.groupby(["arch", "variant"], sort=False):
        row = {"arch": arch, "variant": variant, "seeds": len(group), "folds": int(group["folds"].min())}
        for metric in metrics:
            values = group[metric].dropna()
            row[f"{metric}_mean"] = float(values.mean()) if len(values) else np.nan
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def significance(per_seed: pd.DataFrame, metrics: list[str], *, audio: str = "cnn14", text: str = "text",
                 alpha: float = 0.05) -> pd.DataFrame:
    """The papers' tests, per metric (Tables 5 and 6 of the multistage-conditioning paper mark each
    dimension): per (arch, variant, metric), two-sided independent t-tests over seeds against the
    audio and the text baseline of the same variant; ``marker`` holds ``*`` (differs from audio)
    and ``†`` (differs from text) where p < alpha, for every model but the baselines."""
    rows = []
    for (arch, variant), group in per_seed.groupby(["arch", "variant"], sort=False):
        for metric in metrics:
            row = {"arch": arch, "variant": variant, "metric": metric, "marker": ""}
            for baseline, column, symbol in ((audio, "p_vs_audio", "*"), (text, "p_vs_text", "†")):
                other = _baseline_rows(per_seed, baseline, variant)[metric].dropna()
                values = group[metric].dropna()
                p = np.nan
                if arch != baseline and len(other) >= 2 and len(values) >= 2:
                    p = stats.ttest_independent(values, other).p_value
                row[column] = p
                if arch not in (audio, text):  # the papers mark the fusion rows
                    row["marker"] += stats.marker(p, symbol, alpha=alpha)
            rows.append(row)
    return pd.DataFrame(rows, columns=["arch", "variant", "metric", "marker", "p_vs_audio", "p_vs_text"])


def _baseline_rows(frame: pd.DataFrame, baseline: str, variant: str) -> pd.DataFrame:
    """The baseline's rows of ``variant``, or of no variant (``-``) when the variants left it alone."""
    rows = frame[frame["arch"] == baseline]
    same = rows[rows["variant"] == variant]
    return same if len(same) else rows[rows["variant"] == "-"]


def per_fold_metrics(predictions: pd.DataFrame) -> pd.DataFrame:
    """Metrics per (arch, variant, fold, seed): one row per run (or fused pair of runs)."""
    rows = [{**dict(zip(KEYS, key, strict=True)), **table_metrics(group.dropna(axis=1, how="all").drop(columns=KEYS))}
            for key, group in predictions.groupby(KEYS, sort=False)]
    return pd.DataFrame(rows)


def paired_tests(per_fold: pd.DataFrame, metric: str, comparisons: list[tuple[str, str]], *,
                 rng: np.random.Generator, test_over_train: float | None = None, rope: float = 0.01) -> pd.DataFrame:
    """Paired comparisons of ``metric`` over the (fold, seed) results two architectures share, naive
    and fold-aware.

    One row per (model, variant, baseline) comparison, against the baseline's runs of the same
    variant (or of none): ``n`` matched results, mean difference with its bootstrap 95% interval and
    Cohen's d_z, and three tests:

    * ``p_naive`` (with ``p_naive_holm``, Holm's adjustment across the table): the paired t-test over
      the n (fold, seed) results, as if they were independent; they are not (the folds' training
      sets overlap, and seeds share a fold), so it overstates significance;
    * ``p_corrected`` (and ``p_corrected_holm``): Nadeau & Bengio's corrected resampled t-test over
      the folds (each fold's difference averaged over its seeds; :func:`sertext.stats.corrected_resampled_ttest`);
    * ``P(better)``, ``P(equivalent)``, ``P(worse)``: the Bayesian correlated t-test over the same
      fold differences (:func:`sertext.stats.bayesian_correlated_ttest`), the probabilities that the
      model is better than the baseline by more than ``rope``, within it, or worse.

    ``test_over_train`` is a fold's test size over its training size (the sweep's record gives it);
    without it, 1 / (folds − 1), its value for k-fold cross-validation.  Fold-aware columns are NaN
    with fewer than two folds.
    """
    rows = []
    for model, baseline in comparisons:
        for variant, results in per_fold[per_fold["arch"] == model].groupby("variant", sort=False):
            pairs = pd.merge(results, _baseline_rows(per_fold, baseline, variant), on=["fold", "seed"],
                             suffixes=("", "_baseline")).dropna(subset=[metric, f"{metric}_baseline"])
            a, b = pairs[metric].to_numpy(), pairs[f"{metric}_baseline"].to_numpy()
            row = {"model": model, "variant": variant, "baseline": baseline, "n": len(pairs),
                   "mean_difference": np.nan, "ci_low": np.nan, "ci_high": np.nan, "cohens_d": np.nan,
                   "p_naive": np.nan}
            if len(pairs) >= 2:
                low, high = stats.bootstrap_ci(a - b, rng=rng)
                row.update(mean_difference=float(np.mean(a - b)), ci_low=low, ci_high=high,
                           cohens_d=stats.cohens_d(a, b, paired=True), p_naive=stats.ttest_paired(a, b).p_value)
            row.update(_fold_aware(pairs, metric, test_over_train, rope))
            rows.append(row)
    table = pd.DataFrame(rows, columns=_PAIRED_COLUMNS)
    for p in ("p_naive", "p_corrected"):
        table.insert(table.columns.get_loc(p) + 1, f"{p}_holm", stats.holm(table[p]) if len(table) else [])
    return table


_PAIRED_COLUMNS = ["model", "variant", "baseline", "n", "mean_difference", "ci_low", "ci_high", "cohens_d", "p_naive",
                   "folds", "p_corrected", "P(better)", "P(equivalent)", "P(worse)"]


def _fold_aware(pairs: pd.DataFrame, metric: str, test_over_train: float | None, rope: float) -> dict:
    """The corrected resampled t-test and the Bayesian correlated t-test over the folds of matched
    results (each fold's difference the mean over its seeds)."""
    folds = pairs.groupby("fold")[[metric, f"{metric}_baseline"]].mean()
    row = {"folds": len(folds), "p_corrected": np.nan, "P(better)": np.nan, "P(equivalent)": np.nan,
           "P(worse)": np.nan}
    if len(folds) < 2:
        return row
    ratio = test_over_train if test_over_train else 1 / (len(folds) - 1)
    differences = (folds[metric] - folds[f"{metric}_baseline"]).to_numpy()
    magnitude = float(np.abs(folds.to_numpy()).max())
    row["p_corrected"] = stats.corrected_resampled_ttest(differences, n_test=ratio, n_train=1,
                                                         magnitude=magnitude).p_value
    posterior = stats.bayesian_correlated_ttest(differences, rho=ratio / (1 + ratio), rope=rope)
    row.update({"P(better)": posterior.p_a_better, "P(equivalent)": posterior.p_equivalent,
                "P(worse)": posterior.p_b_better})
    return row


def seed_power(per_seed: pd.DataFrame, per_fold: pd.DataFrame, metric: str, comparisons: list[tuple[str, str]], *,
               difference: float = 0.01, power: float = 0.8) -> pd.DataFrame:
    """How many seeds are enough: per (model, variant, baseline) comparison, from the observed spread,
    the smallest difference the papers' test over seeds detects with ``power`` at p < 0.05 with the
    seeds run (``detectable``), and the seeds per model it would need to detect ``difference``
    (``seeds_for_difference``); the same for the paired test over matched (fold, seed) runs, whose
    needed runs are turned into seeds at the folds run.  ``NaN`` where fewer than two seeds or
    pairs leave the spread unknown."""
    rows = []
    for model, baseline in comparisons:
        for variant, group in per_seed[per_seed["arch"] == model].groupby("variant", sort=False):
            a = group[metric].dropna().to_numpy()
            b = _baseline_rows(per_seed, baseline, variant)[metric].dropna().to_numpy()
            row = {"model": model, "variant": variant, "baseline": baseline, "seeds": min(len(a), len(b)),
                   "observed": float(a.mean() - b.mean()) if len(a) and len(b) else np.nan}
            sd = stats.pooled_sd(a, b) if len(a) >= 2 and len(b) >= 2 else np.nan
            row.update(_power_columns(sd, row["seeds"], difference, power, paired=False))
            runs = per_fold[(per_fold["arch"] == model) & (per_fold["variant"] == variant)]
            pairs = pd.merge(runs, _baseline_rows(per_fold, baseline, variant), on=["fold", "seed"],
                             suffixes=("", "_baseline")).dropna(subset=[metric, f"{metric}_baseline"])
            gaps = (pairs[metric] - pairs[f"{metric}_baseline"]).to_numpy()
            paired = _power_columns(float(np.std(gaps, ddof=1)) if len(gaps) >= 2 else np.nan, len(gaps), difference,
                                    power, paired=True)
            folds = max(pairs["fold"].nunique(), 1)
            rows.append({**row, "pairs": len(gaps), "paired_detectable": paired["detectable"],
                         "paired_seeds_for_difference": float(np.ceil(paired["seeds_for_difference"] / folds))})
    return pd.DataFrame(rows)


def _power_columns(sd: float, n: int, difference: float, power: float, *, paired: bool) -> dict:
    if n < 2 or not np.isfinite(sd):
        return {"sd": sd, "detectable": np.nan, "seeds_for_difference": np.nan}
    return {"sd": sd, "detectable": stats.minimum_detectable_difference(sd, n, power=power, paired=paired),
            "seeds_for_difference": float(stats.seeds_needed(sd, difference, power=power, paired=paired))}


AUDIO_ONLY = "modalities=audio"  # the variant label of an acoustic-only run (Atmaja & Akagi's baseline)


def relative_improvements(per_seed: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Atmaja & Akagi's Fig. 2: how much each variant with text improves ``metric`` over the
    acoustic-only variant (``modalities=audio``) of the same model and targets, relative to it.

    Per (arch, variant with text): the baseline is the acoustic-only variant with the same
    ``targets=``; ``improvement`` = (mean − baseline mean) / |baseline mean| over the seeds' means,
    and ``improvement_std`` the std over seeds of each seed's relative improvement.  Empty when the
    sweep has no acoustic-only variants."""
    rows = []
    for arch, group in per_seed.groupby("arch", sort=False):
        baselines = {_field(v, "targets"): g for v, g in group.groupby("variant", sort=False) if AUDIO_ONLY in v}
        for variant, runs in group.groupby("variant", sort=False):
            base = baselines.get(_field(variant, "targets"))
            if AUDIO_ONLY in variant or base is None or runs[metric].isna().all():
                continue
            reference = float(base[metric].mean())
            relative = (runs[metric].to_numpy() - reference) / abs(reference)
            rows.append({"arch": arch, "variant": variant, "baseline": base["variant"].iloc[0],
                         metric: float(runs[metric].mean()), f"baseline {metric}": reference,
                         "improvement": float(relative.mean()),
                         "improvement_std": float(relative.std(ddof=1)) if len(relative) > 1 else 0.0})
    return pd.DataFrame(rows)


def paper_metric_names(archs) -> dict:
    """The metric names of the papers of ``archs`` where they all use the same ones and they differ
    from sertext's (Makiuchi et al. call the UAR "WA" and the accuracy "UA"); else ``{}``."""
    names = {tuple(sorted(ARCHITECTURES[arch].metric_names.items())) for arch in archs if arch in ARCHITECTURES}
    return dict(names.pop()) if len(names) == 1 else {}


def dev_chosen_weightings(dev_per_seed: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per group of variants that differ only in their loss weights (``loss_weights=…``: a grid of
    multitask weightings, Atmaja & Akagi's linear search of α and β), the weighting with the best
    mean dev ``metric`` over seeds: the configuration the sweep chooses, on dev, never on test.
    One row per group of two or more: ``arch``, ``group`` (the other settings), ``variant`` chosen,
    ``metric`` and how many weightings were compared."""
    rows = []
    means = dev_per_seed.groupby(["arch", "variant"], sort=False)[metric].mean().reset_index()
    means = means[means["variant"].str.contains("loss_weights=", regex=False)]
    means["group"] = [" ".join(t for t in v.split() if not t.startswith("loss_weights=")) for v in means["variant"]]
    for (arch, group), candidates in means.groupby(["arch", "group"], sort=False):
        if len(candidates) > 1 and candidates[metric].notna().any():
            best = candidates.loc[candidates[metric].idxmax()]
            rows.append({"arch": arch, "group": group, "variant": best["variant"], f"dev {metric}": best[metric],
                         "weightings": len(candidates)})
    return pd.DataFrame(rows, columns=["arch", "group", "variant", f"dev {metric}", "weightings"])


def _field(variant: str, name: str) -> str | None:
    """The value of ``name=`` in a variant's label (:func:`sertext.sweep.definition.describe`)."""
    return next((token.partition("=")[2] for token in variant.split() if token.startswith(f"{name}=")), None)


def missing_trials(runs: pd.DataFrame, expected) -> pd.DataFrame:
    """The ``expected`` trials (``(arch, variant, fold, seed)`` each: the sweep's definition
    expanded, :meth:`sertext.record.SweepRecord.expected_trials`) without a FINISHED run, with the
    status of their run if any (``FAILED``, ``KILLED``, ``RUNNING``) or ``missing`` (never started,
    or a whole architecture that never ran)."""
    finished = set(map(tuple, runs.loc[runs["status"] == "FINISHED", KEYS].astype(str).to_numpy()))
    status = {tuple(map(str, key)): s for *key, s in runs[[*KEYS, "status"]].itertuples(index=False)}
    rows = [dict(zip(KEYS, key, strict=True), status=status.get(tuple(map(str, key)), "missing"))
            for key in expected if tuple(map(str, key)) not in finished]
    return pd.DataFrame(rows, columns=[*KEYS, "status"])


def grid_of_runs(runs: pd.DataFrame) -> list[tuple]:
    """The grid the runs span (per architecture: its variants × every fold × every seed seen): the
    expected trials of a launch whose parent run kept no definition (made before sweeps did)."""
    folds, seeds = (sorted(runs[k].dropna().unique()) for k in ("fold", "seed"))
    return [(arch, *rest) for arch, group in runs.groupby("arch", sort=False)
            for rest in itertools.product(sorted(group["variant"].dropna().unique()), folds, seeds)]


def models_used(runs: pd.DataFrame) -> dict:
    """``{(arch, variant): label}`` of the pretrained models the finished runs of each model read
    (:func:`sertext.record.models_label`; several labels joined with `` / ``, which a sweep varying
    the model per fold or seed would show)."""
    finished = runs[(runs["status"] == "FINISHED") & runs["models"].fillna("").ne("")]
    return {key: " / ".join(dict.fromkeys(group["models"]))
            for key, group in finished.groupby(["arch", "variant"], sort=False)}


def stratified_summary(predictions: pd.DataFrame, column: str, metrics: list[str]) -> pd.DataFrame:
    """Metrics within each value of ``column`` (``mode``: scripted / improvised, ``dialogue_act``):
    per (arch, variant, value) mean and std over seeds of the metrics over that value's pooled
    predictions, with the number of utterances behind each seed's value."""
    rows = []
    for (arch, variant, seed, value), group in predictions.dropna(subset=[column]).groupby(
            ["arch", "variant", "seed", column], sort=False):
        table = group.dropna(axis=1, how="all").drop(columns=KEYS)
        rows.append({"arch": arch, "variant": variant, "seed": seed, column: value, "utterances": len(group),
                     **table_metrics(table)})
    per_seed = pd.DataFrame(rows)
    summary = per_seed.groupby(["arch", "variant", column], sort=False).agg(
        seeds=("seed", "nunique"), utterances=("utterances", "max"),
        **{f"{m}_mean": (m, "mean") for m in metrics}, **{f"{m}_std": (m, "std") for m in metrics})
    return summary.reset_index().fillna({f"{m}_std": 0.0 for m in metrics})


def residuals(predictions: pd.DataFrame) -> pd.DataFrame:
    """Error residuals e = truth − prediction (the multistage-conditioning paper's Eq. 7; e > 0:
    the model under-predicts), one row per (arch, variant, target, utterance) of ``predictions``
    (one seed per model: the paper analyses the model with the best validation performance, see
    :func:`best_seeds`), with the ``truth`` and the strata columns the predictions carry."""
    strata = [c for c in ("mode", "dialogue_act") if c in predictions.columns]
    frames = []
    for target in targets_of(predictions):
        data = predictions.dropna(subset=[output_column(target), target])  # the runs that predict it
        frames.append(data[["arch", "variant", "utt_id", *strata]].assign(
            target=target, truth=data[target], residual=data[target] - data[output_column(target)]))
    columns = ["arch", "variant", "target", "utt_id", *strata, "truth", "residual"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def residual_tests(residual_table: pd.DataFrame, column: str = "dialogue_act", alpha: float = 0.05) -> pd.DataFrame:
    """The multistage-conditioning paper's residual analysis (its Table 4) for regression sweeps.

    Per (arch, variant, target, value of ``column``): the :func:`residuals` tested against zero with
    a two-sided one-sample t-test.  ``significant`` is the paper's uncorrected p < alpha;
    ``p_holm`` (Holm's correction across the whole table) is an extra, stricter reading.  A
    systematic residual means the model over- or under-estimates the target for that dialogue act.
    """
    rows = []
    for (arch, variant, target, value), group in residual_table.dropna(subset=[column]).groupby(
            ["arch", "variant", "target", column], sort=False):
        p = stats.ttest_one_sample(group["residual"]).p_value if len(group) >= 2 else np.nan
        rows.append({"arch": arch, "variant": variant, "target": target, column: value, "n": len(group),
                     "mean_residual": float(group["residual"].mean()), "p": p})
    table = pd.DataFrame(rows)
    if len(table):
        table["significant"] = table["p"] < alpha
        table["p_holm"] = stats.holm(table["p"])
    return table


def residual_fits(residual_table: pd.DataFrame) -> pd.DataFrame:
    """Least-squares lines residual = intercept + slope · truth per (arch, variant, target): the
    paper's Fig. 5.  A slope away from 0 means errors grow towards the edges of the scale."""
    rows = []
    for (arch, variant, target), group in residual_table.groupby(["arch", "variant", "target"], sort=False):
        slope, intercept = np.polyfit(group["truth"], group["residual"], 1) if len(group) >= 2 else (np.nan,) * 2
        rows.append({"arch": arch, "variant": variant, "target": target, "n": len(group),
                     "slope": float(slope), "intercept": float(intercept)})
    return pd.DataFrame(rows)


def class_f1(predictions: pd.DataFrame, column: str | None = None) -> pd.DataFrame:
    """F1 per emotion class (the multistage-conditioning paper's Table 8): per (arch, variant[,
    value of ``column``], class) mean and std over seeds of the F1 over the pooled predictions."""
    by = ["arch", "variant", *([column] if column else [])]
    rows = []
    for key, group in predictions.dropna(subset=[column] if column else []).groupby([*by, "seed"], sort=False):
        classes = classes_of(group.dropna(axis=1, how="all"))  # these runs' classes, not the stack's
        for label, f1 in f1_per_class(group["truth"], group["prediction"], labels=classes).items():
            rows.append({**dict(zip([*by, "seed"], key, strict=True)), "class": label, "f1": f1})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=[*by, "class", "seeds", "f1_mean", "f1_std"])
    summary = table.groupby([*by, "class"], sort=False).agg(seeds=("f1", "count"), f1_mean=("f1", "mean"),
                                                             f1_std=("f1", "std"))
    return summary.reset_index().fillna({"f1_std": 0.0})


def probe_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (arch, variant): mean and std over all finished runs (folds × seeds) of each ``probe/…``
    metric a trial logged, e.g. ``probe/speaker_uar`` (how well a classifier recovers the speaker
    from a model's learned codes, the cross-representation paper's Table 3), with the run count."""
    columns = [c for c in runs.columns if c.startswith("probe/")]
    finished = runs[runs["status"] == "FINISHED"].dropna(subset=columns, how="all")
    if not columns or finished.empty:
        return pd.DataFrame()
    grouped = finished.groupby(["arch", "variant"], sort=False)[columns]
    summary = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).fillna(0.0).add_suffix("_std"))
    return summary.join(grouped.size().rename("runs")).reset_index()


def probe_folds(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (arch, variant, fold): the mean over seeds of each ``probe/…`` metric (the
    cross-representation paper's Table 3 gives each fold)."""
    columns = [c for c in runs.columns if c.startswith("probe/")]
    finished = runs[runs["status"] == "FINISHED"].dropna(subset=columns, how="all")
    if not columns or finished.empty:
        return pd.DataFrame()
    return finished.groupby(["arch", "variant", "fold"], sort=False)[columns].mean().reset_index()


def alignment_checks(runs: pd.DataFrame) -> pd.DataFrame:
    """Per fold, the alignment check of each semantic space its finished runs used (``semantic/…``
    metrics, Tzirakis et al.'s Speech2Vec → Word2Vec map): one row per distinct space, as every run
    of a fold with the same space settings logs the same values."""
    columns = [c for c in runs.columns if c.startswith("semantic/")]
    if not columns:
        return pd.DataFrame()
    finished = runs[runs["status"] == "FINISHED"].dropna(subset=columns, how="all")
    return finished[["fold", *columns]].drop_duplicates().sort_values("fold").reset_index(drop=True)


def best_trials(runs: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, int]:
    """Per (arch, variant, fold, seed) cell, the FINISHED run with the highest ``metric``.

    A search (Optuna) runs several hyperparameter settings per cell; choosing each cell's run on
    a dev metric keeps the test predictions untouched by the choice.  Cells without a finished run
    keep their runs, so :func:`missing_trials` still lists them.  Returns the runs kept and how
    many finished runs were set aside.
    """
    finished = runs["status"] == "FINISHED"
    if not runs[finished].duplicated(KEYS).any():
        return runs, 0
    if metric not in runs.columns:
        raise ValueError(f"the sweep has several runs per trial cell but no {metric!r} metric to choose by")
    best = runs[finished].sort_values(metric, ascending=False, na_position="last").drop_duplicates(KEYS)
    cells = set(map(tuple, best[KEYS].astype(str).to_numpy()))
    open_cells = ~runs[KEYS].astype(str).apply(tuple, axis=1).isin(cells)
    return pd.concat([best, runs[~finished & open_cells]]), int(finished.sum()) - len(best)


def stopped_trials(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs the scheduler stopped early (ASHA), per model, variant and setting: set aside, listed
    apart from failed trials."""
    stopped = runs[runs["stopped"]]
    return (stopped.groupby(["arch", "variant", "setting"], sort=False).size().rename("runs").reset_index()
            if len(stopped) else pd.DataFrame(columns=["arch", "variant", "setting", "runs"]))


def choose_settings(runs: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A protocol-scope search or grid: per (arch, variant), the setting whose runs have the best
    mean ``metric`` (a dev metric) over every fold and seed, among the settings trained on all of
    them; keep only that setting's runs.  Returns the runs kept and one row per (arch, variant):
    the chosen ``setting``, its mean, its trials and how many settings were compared."""
    finished = runs[(runs["status"] == "FINISHED") & ~runs["stopped"]]
    if metric not in finished.columns:
        raise ValueError(f"no run of the sweep has its selection metric {metric!r}")
    scores = finished.groupby(["arch", "variant", "setting"], sort=False)[metric].agg(["mean", "size"]).reset_index()
    kept, chosen = [], []
    for (arch, variant), group in scores.groupby(["arch", "variant"], sort=False):
        complete = group[group["size"] == group["size"].max()]
        best = complete.loc[complete["mean"].idxmax()]
        kept.append(runs[(runs["arch"] == arch) & (runs["variant"] == variant) & (runs["setting"] == best["setting"])
                         & ~runs["stopped"]])
        chosen.append({"arch": arch, "variant": variant, "setting": best["setting"], metric: best["mean"],
                       "trials": int(best["size"]), "settings compared": len(group)})
    return pd.concat(kept, ignore_index=True), pd.DataFrame(chosen)


@dataclass
class SweepTables:
    """Everything a report shows of one sweep launch (see :func:`summarise_sweep`)."""

    experiment: str
    parent_run_id: str
    task: str  # "categorical" or "dimensional"
    pooled: bool
    metrics: list[str]  # the first is what significance is tested on
    audio: str  # the audio and text baselines of the markers and the fusion
    text: str
    fixed_fusion: tuple  # (w_audio, w_text) of the LF-fixed rows, if the sweep asked for them
    summary: pd.DataFrame  # seed_summary, with the fusion rows
    significance: pd.DataFrame
    paired: pd.DataFrame
    power: pd.DataFrame  # seed_power: how many seeds each comparison needs
    missing: pd.DataFrame
    weights: pd.DataFrame  # dev-chosen and oracle fusion weights (empty without audio + text runs)
    per_seed: pd.DataFrame
    best_seeds: pd.DataFrame = field(default_factory=pd.DataFrame)  # best_seeds: per model, its best seed on dev
    best_seed_predictions: dict = field(default_factory=dict)  # arch -> pooled test table of its best seed
    best_validation: pd.DataFrame = field(default_factory=pd.DataFrame)  # test metrics of those seeds
    strata: dict = field(default_factory=dict)  # "mode" / "dialogue_act" -> stratified_summary
    class_f1: dict = field(default_factory=dict)  # "all" / "mode" -> class_f1 (categorical)
    improvements: pd.DataFrame = field(default_factory=pd.DataFrame)  # relative_improvements on valence CCC
    residuals: pd.DataFrame = field(default_factory=pd.DataFrame)  # regression: per-utterance residuals
    residual_tests: pd.DataFrame = field(default_factory=pd.DataFrame)  # … tested per dialogue act
    residual_fits: pd.DataFrame = field(default_factory=pd.DataFrame)  # … against the gold standard
    cross_metrics: list = field(default_factory=list)  # the cross-corpus table's: UAR, or PCC per dimension
    cross_summary: pd.DataFrame = field(default_factory=pd.DataFrame)  # seed_summary on the other corpus
    cross_significance: pd.DataFrame = field(default_factory=pd.DataFrame)
    selection: str = ""  # how a search's runs were reduced to one per trial cell, if they were
    chosen: pd.DataFrame = field(default_factory=pd.DataFrame)  # choose_settings: one setting per model
    stopped: pd.DataFrame = field(default_factory=pd.DataFrame)  # stopped_trials: set aside, not failed
    probes: pd.DataFrame = field(default_factory=pd.DataFrame)  # probe_summary: e.g. speaker ID from codes
    alignment: pd.DataFrame = field(default_factory=pd.DataFrame)  # alignment_checks of semantic spaces
    dev_summary: pd.DataFrame = field(default_factory=pd.DataFrame)  # seed_summary on dev (no dev-weighted fusion)
    weightings: pd.DataFrame = field(default_factory=pd.DataFrame)  # dev_chosen_weightings
    models: dict = field(default_factory=dict)  # models_used: (arch, variant) -> the pretrained models it read
    per_fold: pd.DataFrame = field(default_factory=pd.DataFrame)  # per_fold_metrics of the test predictions
    probe_folds: pd.DataFrame = field(default_factory=pd.DataFrame)  # probe_folds: probes per fold
    metric_names: dict = field(default_factory=dict)  # the papers' names of metrics, where they differ
    expected: list = field(default_factory=list)  # (arch, variant) of every model the definition trains
    transcripts: dict = field(default_factory=dict)  # per corpus: how its text was made (the sweep's record)
    corpora: dict = field(default_factory=dict)  # per corpus: describe_corpus of what the trials read
    corpus: str = ""  # the corpus trained on, and the one tested across corpora (with a record)
    cross_corpus: str = ""
    inferred_grid: bool = False  # no record: the expected trials are the grid the runs span


def summarise_sweep(tracking_uri: str, experiment: str, *, pooled: bool = True, audio: str | None = None,
                    text: str | None = None, rng: np.random.Generator | None = None,
                    progress: bool = True) -> SweepTables:
    """Aggregate the latest launch of a sweep from MLflow alone: its runs and stored predictions.

    Adds late fusion (``LF``) and dev-weighted fusion (``LF-weighted``) rows when the sweep has
    both the audio and the text model: ``audio`` and ``text`` (default: the sweep's
    ``audio_baseline`` and ``text_baseline``, else ``cnn14`` and ``text``) are also the baselines of
    the significance markers.  Missing trials are those the sweep's definition promises (kept in
    its parent run, :mod:`sertext.record`) without a finished run; for a launch that kept no
    definition, the grid the runs span.  A search sweep keeps the best run per cell on
    the sweep's dev metric (:func:`best_trials`), or, searched over the whole protocol
    (``scope="protocol"``), the runs of the one setting with the best mean dev metric
    (:func:`choose_settings`); runs the scheduler stopped early are set aside (:func:`stopped_trials`).
    Cross-corpus predictions, when the trials made
    them, are scored per fold model and averaged over folds (each fold's model sees the other
    corpus' test set), as the multistage-conditioning paper does.

    Every prediction table is fetched once, in parallel and through the prediction cache
    (:mod:`sertext.fetch`); ``progress`` shows a progress bar for it and a line per stage after
    it on stderr.
    """
    stages = Stages("report", enabled=progress)
    stages.begin("runs", f"searching experiment {experiment!r}")
    experiment_id, parent = tracking.latest_sweep_run(tracking_uri, experiment)
    runs = collect_runs(tracking_uri, experiment_id, parent)
    sweep = record.read_sweep_record(tracking_uri, parent)
    params = sweep.sweep.definition() if sweep else _definition_params(tracking.run_params(tracking_uri, parent))
    select_by = params.get("metric", "dev/uar")
    audio, text = audio or params.get("audio_baseline", "cnn14"), text or params.get("text_baseline", "text")
    fixed = tuple(params.get("fixed_fusion", ()))
    expected = sweep.expected_trials() if sweep else grid_of_runs(runs)
    stopped = stopped_trials(runs)
    chosen = pd.DataFrame()
    if params.get("scope") == "protocol":
        runs, chosen = choose_settings(runs, select_by)
        set_aside = 0
    else:
        runs, set_aside = best_trials(runs[~runs["stopped"]], select_by)
    splits = ("dev", "test", *(("cross",) if runs.columns.str.startswith("cross/").any() else ()))
    fetched = fetch.fetch_predictions(tracking_uri, fetch.prediction_requests(runs, splits), progress=progress)
    stages.begin("aggregation", f"{len(runs)} runs: fusion, metrics per seed and per fold")
    dev = collect_predictions(tracking_uri, runs, "dev", tables=fetched)
    test, weights = _with_fusion(dev, collect_predictions(tracking_uri, runs, "test", tables=fetched), audio, text,
                                 fixed)
    task = task_of(test)
    per_seed = per_seed_metrics(test, pooled=pooled)
    metrics = _report_metrics(per_seed, task)
    best, dev_per_seed = _dev_choices(dev, audio, text, fixed, metrics[0], pooled)
    best_test = _of_seeds(test, best) if len(best) else test.iloc[0:0]
    by_best = best_test if len(best) else test  # without a dev set nothing chooses a seed: every seed
    per_fold = per_fold_metrics(test)
    comparisons = [(arch, baseline) for arch in per_seed["arch"].unique() for baseline in (audio, text)
                   if arch not in (audio, text) and baseline in set(per_seed["arch"])]
    stages.begin("statistics", "t-tests over seeds, paired tests over folds, seed power, strata")
    tables = SweepTables(
        experiment=experiment, parent_run_id=parent, task=task, pooled=pooled, metrics=metrics,
        audio=audio, text=text, fixed_fusion=fixed, summary=seed_summary(per_seed, metrics),
        significance=significance(per_seed, metrics, audio=audio, text=text),
        paired=paired_tests(per_fold, metrics[0], comparisons, rng=rng or np.random.default_rng(0),
                            test_over_train=sweep.test_over_train() if sweep else None),
        power=seed_power(per_seed, per_fold, metrics[0], comparisons),
        missing=missing_trials(runs, expected),
        weights=weights, per_seed=per_seed, best_seeds=best,
        best_seed_predictions=_best_seed_tables(test, best, metrics[0]),
        best_validation=per_seed_metrics(best_test, pooled=pooled) if len(best) else pd.DataFrame(),
        strata={c: stratified_summary(by_best if c == "mode" else test, c, _strata_metrics(metrics))
                for c in ("mode", "dialogue_act") if c in test.columns and test[c].nunique() > 1},
        selection=(f"{set_aside} finished runs set aside: the search ran several per (model, fold, seed); "
                   f"each cell keeps its run with the best {select_by}." if set_aside else ""),
        chosen=chosen, stopped=stopped)
    if len(dev_per_seed):
        tables.dev_summary = seed_summary(dev_per_seed, metrics)
        tables.weightings = dev_chosen_weightings(dev_per_seed, metrics[0])
    tables.models = models_used(runs)
    tables.per_fold = per_fold
    tables.metric_names = paper_metric_names(runs["arch"].dropna().unique())
    tables.expected = list(dict.fromkeys((arch, variant) for arch, variant, _, _ in expected))
    tables.transcripts = sweep.transcripts if sweep else {}
    tables.corpora = sweep.corpora if sweep else {}
    if sweep:
        tables.corpus, tables.cross_corpus = sweep.sweep.corpus, sweep.sweep.cross_corpus
    tables.inferred_grid = sweep is None
    tables.probes = probe_summary(runs)
    tables.probe_folds = probe_folds(runs)
    tables.alignment = alignment_checks(runs)
    if task == "categorical":
        tables.class_f1 = {"all": class_f1(test), **({"mode": class_f1(by_best, "mode")} if "mode" in tables.strata
                                                      else {})}
    else:
        if "ccc_valence" in per_seed.columns:
            tables.improvements = relative_improvements(per_seed, "ccc_valence")
        tables.residuals = residuals(by_best)
        tables.residual_fits = residual_fits(tables.residuals)
        if "dialogue_act" in tables.residuals.columns:
            tables.residual_tests = residual_tests(tables.residuals)
    if "cross" in splits:
        stages.begin("cross-corpus", "fusion, metrics and t-tests on the other corpus")
        cross, _ = _with_fusion(dev, collect_predictions(tracking_uri, runs, "cross", tables=fetched), audio, text,
                                fixed)
        cross_per_seed = per_seed_metrics(cross, pooled=False)
        tables.cross_metrics = _cross_metrics(metrics)
        tables.cross_summary = seed_summary(cross_per_seed, tables.cross_metrics)
        tables.cross_significance = significance(cross_per_seed, tables.cross_metrics, audio=audio, text=text)
    return tables


def _dev_choices(dev: pd.DataFrame, audio: str, text: str, fixed: tuple, metric: str,
                 pooled: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What dev decides: each model's best seed on ``metric`` (:func:`best_seeds`), and the metrics
    per seed on dev (without the dev-weighted fusion, whose weights dev itself chose); both empty
    without dev predictions (a protocol with no dev set)."""
    if dev.empty:
        return pd.DataFrame(columns=["arch", "variant", "seed", metric]), pd.DataFrame()
    fused = _with_fusion(dev, dev, audio, text, fixed)[0]
    best = best_seeds(per_seed_metrics(fused, pooled=False), metric)
    return best, per_seed_metrics(fused[fused["arch"] != "LF-weighted"], pooled=pooled)


def _definition_params(params: dict) -> dict:
    """What aggregation reads of a definition, from the string params of a parent run that kept no
    record (a launch made before sweeps did)."""
    return {**params, "fixed_fusion": json.loads(params.get("fixed_fusion", "[]"))}


def _with_fusion(dev: pd.DataFrame, evaluated: pd.DataFrame, audio: str, text: str, fixed: tuple = ()):
    """``evaluated`` with the LF and LF-weighted rows (weights chosen on ``dev``) and the
    ``fixed``-weight rows appended, and the weights; unchanged, with no weights, when the sweep
    lacks the audio or the text model, or has one model as both (a text-models sweep: nothing to
    fuse)."""
    if audio == text or not {audio, text} <= set(evaluated["arch"]):
        return evaluated, pd.DataFrame()
    fused, weights = fuse_sweep(dev, evaluated, audio=audio, text=text, fixed=fixed)
    return pd.concat([evaluated, fused], ignore_index=True), weights


def _report_metrics(per_seed: pd.DataFrame, task: str) -> list[str]:
    if task == "categorical":
        return ["uar", "wa", "f1_macro"]
    return ["ccc", *sorted(c for c in per_seed.columns if c.startswith(("ccc_", "pcc_")))]


def _strata_metrics(metrics: list[str]) -> list[str]:
    """Within scripted/improvised and dialogue acts: UAR, or the CCC of each dimension (the
    multistage-conditioning paper's Table 7)."""
    per_target = [m for m in metrics if m.startswith("ccc_")]
    return per_target or metrics[:1]


def _cross_metrics(metrics: list[str]) -> list[str]:
    """Across corpora the categorical metrics stay; dimensions are compared by PCC, since the
    corpora rate on different scales (the multistage-conditioning paper's Table 2)."""
    return [m for m in metrics if m.startswith("pcc_")] or metrics


def best_seeds(dev_per_seed: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (arch, variant), the seed with the best mean per-fold dev ``metric``: "the model with the
    best validation performance" of the multistage-conditioning paper (its Fig. 3 and Tables 3, 4
    and 6).  Chosen on dev, so the test results it selects stay unbiased."""
    frame = dev_per_seed.reset_index(drop=True)
    best = frame.loc[frame.groupby(["arch", "variant"], sort=False)[metric].idxmax()]
    return best[["arch", "variant", "seed", metric]].reset_index(drop=True)


def _of_seeds(predictions: pd.DataFrame, seeds: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``predictions`` of each (arch, variant)'s seed in ``seeds``."""
    return predictions.merge(seeds[["arch", "variant", "seed"]], on=["arch", "variant", "seed"])


def _best_seed_tables(predictions: pd.DataFrame, seeds: pd.DataFrame, metric: str) -> dict:
    """Per architecture, the pooled test predictions of its best seed (of its best variant on dev)."""
    best = {}
    for arch, group in seeds.groupby("arch", sort=False):
        row = group.loc[group[metric].idxmax()]
        best[arch] = _of_seeds(predictions, group.loc[[row.name]]).dropna(axis=1, how="all").assign(
            best_seed=row["seed"])
    return best
