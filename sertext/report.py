"""A sweep's tables and figures → ``report.md``, a self-contained ``report.html`` (figures
embedded), ``tables/*.csv`` and ``figures/*.png``.

Takes the :class:`sertext.aggregate.SweepTables` that aggregation computed; runs without torch,
ray or mlflow.  The results table is shaped like the papers' tables: mean (std) over seeds, ``*``
where a model differs from the audio baseline and ``†`` where it differs from the text baseline
(two-sided independent t-tests over seeds, p < 0.05), with the counts behind every cell.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from sertext.data.iemocap import DIALOGUE_ACTS
from sertext.metrics import confusion
from sertext.models.registry import ARCHITECTURES, display_name
from sertext.predictions import classes_of
from sertext.progress import Stages

FUSIONS = {"LF": "LF", "LF-weighted": "LF (dev-weighted)", "LF-fixed": "LF (fixed weights)"}  # after the models
METRIC_NAMES = {"uar": "UAR", "wa": "WA", "f1_macro": "F1 (macro)", "ccc": "CCC (mean)"}
METRIC_MEANINGS = {"uar": "UAR (the mean recall over the classes)",
                   "wa": "accuracy (the share of utterances classified correctly)"}
CORPUS_NAMES = {"iemocap": "IEMOCAP", "msp-podcast": "MSP-Podcast"}
# what each corpus is tested on when a model trained on another one is (sertext.data.cross_corpus_set)
CROSS_SETS = {"msp-podcast": "its official test set (Test1)", "iemocap": "all of it"}


def write_report(tables, out, *, progress: bool = True) -> Path:
    """Write the report of one sweep into the folder ``out``; return the path of ``report.md``.
    ``progress``: a line on stderr as the figures and the writing begin."""
    out = Path(out)
    for folder in ("tables", "figures"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    stages = Stages("report", enabled=progress)
    stages.begin("figures", f"tables and figures of {tables.experiment}")
    blocks = _blocks(tables, out)
    stages.begin("writing", f"report.md, report.html and tables/ in {out}")
    return _write_blocks(blocks, out, tables.experiment)


def write_combined_report(all_tables: list, out, *, progress: bool = True) -> Path:
    """Several sweeps side by side, each also reported on its own in ``out/<experiment>/``: the
    multistage-conditioning paper's Tables 1 and 2, which put each corpus' in-domain results
    beside those of its models tested on the other corpus, so both cross-corpus directions read in
    one table (:func:`combined_table`).  Returns the path of ``out/report.md``."""
    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for tables in all_tables:
        write_report(tables, out / tables.experiment, progress=progress)
    names = ", ".join(f"`{t.experiment}`" for t in all_tables)
    models = "; ".join(f"{t.experiment}: " + ", ".join(f"{row_name(t, arch, variant)}" for arch, variant in t.models)
                       for t in all_tables if t.models)
    blocks = [("h1", f"Sweeps {names}"),
              ("p", "Each sweep's in-domain results and, where its trials tested on another corpus, the results of "
                    "its models there (→), as the multistage-conditioning paper's Tables 1 and 2 show both "
                    "directions side by side: mean (std) over seeds with each sweep's own markers (`*` differs "
                    "from its audio baseline, `†` from its text baseline; two-sided t-tests over seeds, p < 0.05). "
                    "Cross-corpus cells average each fold's model on the other corpus' test set per seed; "
                    "dimensions are compared across corpora by PCC."),
              ("table", combined_table(all_tables), "combined"),
              *([("p", f"Pretrained models per row: {models}.")] if models else []),
              ("p", "Each sweep's full report: " + ", ".join(f"[{t.experiment}]({t.experiment}/report.html)"
                                                            for t in all_tables) + ".")]
    return _write_blocks(blocks, out, ", ".join(t.experiment for t in all_tables))


def combined_table(all_tables: list) -> pd.DataFrame:
    """One row per model (and variant), and per sweep its in-domain metric columns (``IEMOCAP UAR``)
    and its cross-corpus ones (``IEMOCAP → MSP-Podcast UAR``); empty where a sweep has no such model."""
    merged = None
    for tables in all_tables:
        for cross in (False, True) if len(tables.cross_summary) else (False,):
            corpus = CORPUS_NAMES.get(tables.corpus, tables.corpus or tables.experiment)
            where = f"{corpus} → {CORPUS_NAMES.get(tables.cross_corpus, tables.cross_corpus or 'other')}" \
                if cross else corpus
            frame = _results_frame(tables, "cross" if cross else "test", key=True)
            metrics = _paper_columns(tables.cross_metrics if cross else tables.metrics, "pcc_" if cross else "ccc_")
            frame = frame[["arch", "variant", *(metric_name(m, tables) for m in metrics)]].rename(
                columns={metric_name(m, tables): f"{where} {metric_name(m, tables)}" for m in metrics})
            merged = frame if merged is None else merged.merge(frame, on=["arch", "variant"], how="outer", sort=False)
    merged = merged.iloc[np.argsort([_order(a) for a in merged["arch"]], kind="stable")].fillna("")
    merged.insert(0, "model", [model_name(a) for a in merged["arch"]])
    return _plain(merged.drop(columns="arch"))


def _paper_columns(metrics: list[str], per_dimension: str) -> list[str]:
    """The columns of the papers' cross-corpus tables: UAR, or per dimension CCC in-domain and PCC
    across corpora (``per_dimension``: ``"ccc_"`` or ``"pcc_"``)."""
    return [m for m in metrics if m.startswith(per_dimension)] or metrics[:1]


def _write_blocks(blocks: list[tuple], out: Path, title: str) -> Path:
    """``report.md``, a self-contained ``report.html`` and ``tables/*.csv`` of ``blocks`` in ``out``."""
    for block in blocks:
        if block[0] == "table":
            block[1].to_csv(out / "tables" / f"{block[2]}.csv", index=False)
    (out / "report.md").write_text("\n\n".join(_markdown(block) for block in blocks) + "\n")
    body = "\n".join(_html(block, out) for block in blocks)
    (out / "report.html").write_text(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
                                     f"{html.escape(title)}</title><style>{_CSS}</style></head>"
                                     f"<body>\n{body}\n</body></html>\n")
    return out / "report.md"


def results_table(tables, cross: bool = False, split: str = "test") -> pd.DataFrame:
    """The papers' table: one row per model, mean (std) per metric with its own markers, and the
    seeds and folds behind each row (``⚠`` where fewer than the sweep's most); ``◆`` marks the
    weighting dev chose among a grid of loss weights.  ``cross``: the same table for the
    cross-corpus evaluation (UAR, or PCC per dimension); ``split="dev"``: on the development
    partition, without markers (dev chose the best epochs and the fusion weights)."""
    return _results_frame(tables, "cross" if cross else split)


def _results_frame(tables, split: str, key: bool = False) -> pd.DataFrame:
    """:func:`results_table` of ``split`` (test, cross or dev); ``key``: with each row's ``arch``
    and ``variant`` first."""
    summary, tests, metrics = {"cross": (tables.cross_summary, tables.cross_significance, tables.cross_metrics),
                               "dev": (tables.dev_summary, pd.DataFrame(), tables.metrics),
                               "test": (tables.summary, tables.significance, tables.metrics)}[split]
    chosen = set(zip(tables.weightings.get("arch", []), tables.weightings.get("variant", []), strict=True))
    markers = {(t.arch, t.variant, t.metric): t.marker for t in tests.itertuples()}
    unrun = [(arch, variant) for arch, variant in tables.expected
             if not ((summary["arch"] == arch) & (summary["variant"] == variant)).any()]
    if unrun:  # a model the definition trains with no finished run still gets its row
        summary = pd.concat([summary, pd.DataFrame([{"arch": a, "variant": v, "seeds": 0, "folds": 0}
                                                    for a, v in unrun])], ignore_index=True)
    summary = summary.iloc[np.argsort([_order(a) for a in summary["arch"]], kind="stable")]
    rows = []
    for row in summary.itertuples(index=False):
        reduced = row.seeds < summary["seeds"].max() or row.folds < summary["folds"].max()
        cells = {"arch": row.arch, "variant": row.variant} if key else {}
        cells["model"] = row_name(tables, row.arch, row.variant)
        if summary["variant"].ne("-").any() and not key:
            cells["variant"] = row.variant + (" ◆" if (row.arch, row.variant) in chosen else "")
        cells["seeds × folds"] = f"{row.seeds} × {row.folds}" + (" ⚠" if reduced else "")
        for metric in metrics:
            mean, std = getattr(row, f"{metric}_mean"), getattr(row, f"{metric}_std")
            marker = markers.get((row.arch, row.variant, metric), "")
            cells[metric_name(metric, tables)] = ("no finished run" if row.seeds == 0 else "" if pd.isna(mean)
                                          else f"{mean:.3f} ({std:.3f}){marker}")
        rows.append(cells)
    return pd.DataFrame(rows)


def row_name(tables, arch: str, variant: str = "-") -> str:
    """A results row's model with the pretrained models it read: ``Text (bert-base-uncased)``."""
    label = tables.models.get((arch, variant), "")
    return f"{model_name(arch)} ({label})" if label else model_name(arch)


def cross_note(tables) -> str:
    """Which way the cross-corpus table goes: ``trained on IEMOCAP, tested on MSP-Podcast's
    official test set (Test1)``."""
    if not tables.cross_corpus:
        return "each fold's model tested on the other corpus"
    return (f"trained on {CORPUS_NAMES.get(tables.corpus, tables.corpus)}, tested on "
            f"{CORPUS_NAMES.get(tables.cross_corpus, tables.cross_corpus)}: "
            f"{CROSS_SETS.get(tables.cross_corpus, 'all of it')}")


def results_note(tables) -> str:
    """How the results table was computed and what its markers mean (the report's first paragraph
    and the note above the table a sweep prints when it ends)."""
    audio, text = model_name(tables.audio), model_name(tables.text)
    over = ("the pooled test predictions of all folds (every utterance predicted once, as the papers do)"
            if tables.pooled else "each fold's test predictions, then averaged over folds")
    note = (f"Metrics are computed per seed over {over}, then mean (std) over seeds. `*` differs from {audio} "
            f"(audio), `†` from {text} (text) (two-sided independent t-test over seeds of each metric, p < 0.05).")
    fused = set(tables.summary["arch"])
    if "LF" in fused:
        note += " LF averages the audio and text posteriors"
        note += ("; LF (dev-weighted) uses weights chosen on each fold's dev set." if "LF-weighted" in fused else ".")
    if tables.metric_names:
        note += (" Here " + " and ".join(f"{name} is the {METRIC_MEANINGS[m]}" for m, name in
                                        tables.metric_names.items())
                 + ", as this paper names them (\"WA is the average recall over the classes and UA is the fraction of "
                   "samples correctly classified\"), the other way round from common use.")
    if tables.fixed_fusion:
        w_audio, w_text = tables.fixed_fusion
        note += f" LF (fixed weights) is {w_audio:g}·audio + {w_text:g}·text, the published weights."
    return note


def metric_name(metric: str, tables=None) -> str:
    """``UAR``, ``CCC valence``, …: a metric key as a column header; in the report of a sweep whose
    paper names it otherwise, the paper's name (``tables.metric_names``: Makiuchi et al.'s WA is
    the UAR, their UA the accuracy)."""
    if tables is not None and metric in tables.metric_names:
        return tables.metric_names[metric]
    if metric in METRIC_NAMES:
        return METRIC_NAMES[metric]
    kind, _, target = metric.partition("_")
    return f"{kind.upper()} {target}" if target else metric


def model_name(arch: str) -> str:
    """How the report names a model (the registry's display name) or a fusion row."""
    return FUSIONS.get(arch) or display_name(arch)


def _order(arch: str) -> int:
    """Rows in the registry's order, then the fusion rows, then anything else."""
    order = [*ARCHITECTURES, *FUSIONS]
    return order.index(arch) if arch in order else len(order)


def _blocks(tables, out: Path) -> list[tuple]:
    """The report as a list of blocks: ("h1"|"h2"|"p", text), ("table", frame, csv name) or
    ("figure", png name, caption)."""
    primary = metric_name(tables.metrics[0], tables)
    audio, text = model_name(tables.audio), model_name(tables.text)
    blocks = [("h1", f"Sweep {tables.experiment}"),
              ("p", f"Parent run `{tables.parent_run_id}`. {results_note(tables)}"),
              *([("p", tables.selection)] if tables.selection else []),
              *_chosen_blocks(tables),
              ("h2", "Results"), ("table", results_table(tables), "results"),
              ("figure", _bar_figure(tables, out), f"{primary} per model: mean and std over seeds"),
              *_weighting_blocks(tables), *_text_blocks(tables), *_dev_blocks(tables),
              *_class_distribution_blocks(tables, out)]
    p_values = _by_model(tables.significance).rename(columns={"p_vs_audio": f"p vs {audio}",
                                                               "p_vs_text": f"p vs {text}"})
    p_values["metric"] = p_values["metric"].map(metric_name)
    blocks += [("h2", "p-values of the t-tests over seeds"),
               ("table", _plain(p_values.drop(columns="arch")), "p_values")]
    blocks += _best_validation_blocks(tables)
    if len(tables.paired):
        paired = tables.paired.assign(model=[model_name(a) for a in tables.paired["model"]],
                                      baseline=[model_name(a) for a in tables.paired["baseline"]])
        blocks += [("h2", "Paired comparisons over folds"),
                   ("p", f"Each model against each baseline on {primary}, over the (fold, seed) results both have: "
                         "the mean difference with a bootstrap 95% interval and Cohen's d_z, and three tests. "
                         "**Read the fold-aware ones.** The folds' training sets overlap (each fold trains on most "
                         "of the same speakers) and a fold's seeds share its split, so the results are not "
                         "independent: `p_naive`, a paired t-test over all of them as if they were, overstates "
                         "significance, and is shown only for comparison. `p_corrected` is Nadeau & Bengio's "
                         "corrected resampled t-test over the folds (each fold's difference averaged over its seeds; "
                         "the variance widened by a fold's test over training size), and `P(better)`, "
                         "`P(equivalent)`, `P(worse)` are Benavoli et al.'s Bayesian correlated t-test over the "
                         "same folds: the probabilities that the model beats the baseline by more than 0.01 (one "
                         "point), lies within 0.01 of it, or trails it by more. `_holm` columns adjust across the "
                         "table with Holm's correction. The papers' own markers in the results table are t-tests "
                         "over seeds, which these do not replace."),
                   ("table", _plain(paired), "paired_tests")]
    blocks += _per_fold_blocks(tables)
    blocks += _power_blocks(tables)
    if len(tables.weights):
        blocks += _weight_blocks(tables.weights)
    blocks += _probe_blocks(tables)
    blocks += _alignment_blocks(tables.alignment)
    if tables.task == "categorical" and tables.best_seed_predictions:
        blocks += [("h2", "Confusion matrices (best seed per model)"),
                   ("figure", _confusion_figure(tables, out),
                    f"Row percentages of each model's best seed on dev; below them, for every model but the two "
                    f"baselines, the paper's \"% change with respect to {audio}\": each cell's relative change "
                    f"against {audio}'s (– where {audio}'s cell is 0)")]
    if len(tables.cross_summary):
        blocks += [("h2", "Cross-corpus evaluation"),
                   ("p", f"Every fold's model {cross_note(tables)} (the sweep's cross_corpus), as the "
                         "multistage-conditioning paper tests across corpora; metrics per fold model, averaged "
                         "over folds, then mean (std) over seeds; dimensions in PCC, as the corpora rate on "
                         "different scales. Markers as above, per metric. Fusion weights are the ones chosen on "
                         "the in-domain dev sets."),
                   ("table", results_table(tables, cross=True), "cross_corpus")]
    blocks += _strata_blocks(tables, out)
    blocks += _mode_distribution_blocks(tables, out)
    blocks += _class_f1_blocks(tables)
    blocks += _improvement_blocks(tables, out)
    blocks += _residual_blocks(tables, out)
    blocks += [("h2", "Missing or failed trials")]
    if tables.inferred_grid:
        blocks += [("p", "This launch kept no definition in its parent run (it predates sertext's sweep record), "
                         "so the expected trials are the grid its runs span: a model or fold without any run "
                         "cannot be listed.")]
    blocks += [("table", _plain(tables.missing), "missing_trials")] if len(tables.missing) else [
        ("p", "None: every trial the sweep's definition promises has a finished run.")]
    if len(tables.stopped):
        blocks += [("h2", "Stopped early by the scheduler"),
                   ("p", f"ASHA stopped {len(tables.stopped)} poor candidate(s) early, after "
                         f"{int(tables.stopped['runs'].sum())} run(s) (not failures); they are set aside."),
                   ("table", _plain(_by_model(tables.stopped).drop(columns="arch")), "stopped_trials")]
    tables.per_seed.to_csv(out / "tables" / "per_seed.csv", index=False)
    return blocks


def _class_distribution_blocks(tables, out: Path) -> list[tuple]:
    """The multistage paper's Fig. 2: the four classes in each corpus the trials read (per split
    where the corpus has splits), counted on the same utterance table the trials read."""
    corpora = {c: d["classes"] for c, d in tables.corpora.items() if d.get("classes", {}).get("all")}
    if not corpora:
        return []
    rows = [{"corpus": CORPUS_NAMES.get(corpus, corpus), "group": group, **counts}
            for corpus, groups in corpora.items() for group, counts in groups.items() if not group.startswith("mode=")]
    table = pd.DataFrame(rows).fillna(0)
    return [("h2", "Classes of each corpus"),
            ("p", "The four classes (excited merged into happy for IEMOCAP) of the utterances the trials read, per "
                  "corpus and split (the multistage-conditioning paper's Fig. 2)."),
            ("figure", _class_figure(corpora, out), "Utterances per class and corpus"),
            ("table", table, "classes")]


def _mode_distribution_blocks(tables, out: Path) -> list[tuple]:
    """The multistage paper's Fig. 6: scripted vs improvised utterances, their classes and the
    distributions of their arousal, valence and dominance ratings."""
    corpus, description = next(((c, d) for c, d in tables.corpora.items()
                                if {"scripted", "improvised"} <= set(d.get("ratings", {}).get("counts", {}))),
                               (None, None))
    if corpus is None:
        return []
    return [("h2", "Scripted vs improvised utterances"),
            ("p", f"{CORPUS_NAMES.get(corpus, corpus)}'s utterances the trials read, scripted against improvised "
                  "(the multistage-conditioning paper's Fig. 6): the four classes, and the share of utterances at "
                  "each rating of arousal, valence and dominance."),
            ("figure", _mode_figure(description, out), "Scripted vs improvised: classes and ratings")]


def _weighting_blocks(tables) -> list[tuple]:
    """The loss weighting dev chose in each grid of weightings (``◆`` in the results)."""
    if not len(tables.weightings):
        return []
    metric = metric_name(tables.metrics[0], tables)
    table = _by_model(tables.weightings).drop(columns="arch")
    return [("h2", "Weighting chosen on dev"),
            ("p", f"Per model and setting, the multitask loss weighting with the best mean dev {metric} over seeds "
                  f"among the {int(tables.weightings['weightings'].max())} of its grid, marked ◆ in the results: "
                  "the configuration the sweep chooses, on dev, never on test (Atmaja & Akagi's linear search "
                  "chose α = 0.7, β = 0.2 with text and α = 0.1, β = 0.4 acoustic-only)."),
            ("table", table.round(4), "chosen_weightings")]


def _dev_blocks(tables) -> list[tuple]:
    """The results on the development partition (Tzirakis et al.'s Tables 2 and 3 report dev) and,
    for their model, Table 4's layout: test with dev in parentheses."""
    if not len(tables.dev_summary):
        return []
    blocks = [("h2", "Results on the development set"),
              ("p", "The same table on each fold's development utterances (on IEMOCAP's leave-one-speaker-out folds, "
                    "the other speaker of the test speaker's session), pooled over folds per seed. Dev chose each "
                    "trial's best epoch, so these numbers read optimistic; no markers, and no dev-weighted fusion, "
                    "whose weights dev itself chose."),
              ("table", results_table(tables, split="dev"), "results_dev")]
    semantic = tables.summary[tables.summary["arch"] == "wavfusion"]
    metrics = [m for m in tables.metrics if m.startswith("ccc_")]
    if len(semantic) and metrics:
        dev = tables.dev_summary.set_index(["arch", "variant"])
        rows = [{"model": model_name(arch), "variant": variant,
                 **{metric_name(m, tables): f"{row[f'{m}_mean']:.3f} ({dev.loc[(arch, variant), f'{m}_mean']:.3f})"
                    for m in metrics}} for (arch, variant), row in semantic.set_index(["arch", "variant"]).iterrows()]
        blocks += [("h2", "Test (dev)"),
                   ("p", "Tzirakis et al.'s Table 4 layout: each model's test CCC with its development CCC in "
                         "parentheses, mean over seeds."),
                   ("table", pd.DataFrame(rows), "test_dev")]
    return blocks


def _text_blocks(tables) -> list[tuple]:
    """Where each corpus' text came from: its own transcripts or speech recognition (the
    multistage-conditioning paper recognised MSP-Podcast with DeepSpeech2), with the recognised
    text's word error rate against the corpus' own transcripts."""
    if not tables.transcripts:
        return []
    rows = []
    for corpus, entry in tables.transcripts.items():
        recognised = entry["source"] != "corpus"
        wer = (f"{entry['wer']:.3f} over {entry['wer_utterances']} utterances" if entry.get("wer_utterances")
               else "no transcripts of its own to compare" if recognised else "")
        rows.append({"corpus": CORPUS_NAMES.get(corpus, corpus),
                     "text": f"recognised by {entry['source']}" if recognised else "its own transcripts",
                     "utterances": entry["utterances"], "without words": entry["empty"],
                     "WER against its own transcripts": wer})
    note = ("The text the text-reading models saw, per corpus. Recognised text replaces the corpus' transcripts "
            "for every utterance, errors included; an utterance the recogniser heard no words in keeps an empty "
            "text.")
    if any(c == "msp-podcast" and e["source"] == "corpus" for c, e in tables.transcripts.items()):
        note += (" The multistage-conditioning paper had no MSP-Podcast transcripts and recognised its speech with "
                 "DeepSpeech2 (its §4); rows on the release's transcripts differ from it there (--asr-model "
                 "follows it).")
    return [("h2", "Text of each corpus"), ("p", note), ("table", pd.DataFrame(rows), "text_sources")]


def _per_fold_blocks(tables) -> list[tuple]:
    """Each fold's result beside the mean ± std over folds (Makiuchi et al.'s Tables 1, 3 and 4), per
    model and metric, each fold's value the mean over its seeds."""
    folds = tables.per_fold
    if folds.empty or folds["fold"].nunique() < 2:
        return []
    metrics = [m for m in tables.metrics if m in folds.columns][:2]
    means = folds.groupby(["arch", "variant", "fold"], sort=False)[metrics].mean().reset_index()
    return [("h2", "Per fold"),
            ("p", "Each fold's test result (the mean over its seeds) and the mean ± std over folds, as Makiuchi "
                  "et al.'s tables give them; the results table above pools all folds' predictions instead."),
            ("table", _fold_table(means, metrics, {m: metric_name(m, tables) for m in metrics}), "per_fold")]


def _fold_table(means: pd.DataFrame, metrics: list[str], names: dict) -> pd.DataFrame:
    """One row per model, variant and metric: each fold's value in ``means`` (one row per arch,
    variant and fold) and the mean ± std over folds."""
    rows = []
    for (arch, variant), group in means.groupby(["arch", "variant"], sort=False):
        for metric in metrics:
            values = group.set_index("fold")[metric].sort_index()
            rows.append({"arch": arch, "variant": variant, "metric": names[metric],
                         **{fold: f"{value:.3f}" for fold, value in values.items()},
                         "mean ± std over folds": f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"})
    return _plain(_by_model(pd.DataFrame(rows)).drop(columns="arch"))


def _power_blocks(tables) -> list[tuple]:
    """How many seeds are enough: what each comparison could detect with the seeds run, and the
    seeds it would need for one point of the metric."""
    if not len(tables.power):
        return []
    metric = metric_name(tables.metrics[0], tables)
    table = tables.power.assign(model=[model_name(a) for a in tables.power["model"]],
                                baseline=[model_name(a) for a in tables.power["baseline"]])
    table = table.rename(columns={
        "observed": "observed difference", "sd": "sd over seeds", "detectable": "detectable difference",
        "seeds_for_difference": "seeds for 0.01", "paired_detectable": "detectable (paired)",
        "paired_seeds_for_difference": "seeds for 0.01 (paired)"})
    return [("h2", "How many seeds are enough"),
            ("p", f"A difference in {metric} between two models means something only if it is larger than the "
                  "spread over seeds allows by chance. *detectable difference* is the smallest true difference "
                  "that the t-test over seeds of this report (two-sided, p < 0.05) finds with 80 % probability, "
                  "given the spread observed and the seeds run: a smaller difference in the table may be real, "
                  "but these seeds cannot tell it from noise, and \"not significant\" then means \"not enough "
                  "seeds\". *seeds for 0.01* is the seeds per model the test would need to detect a difference "
                  "of 0.01 (one point). The paired columns are the same for the paired test over matched (fold, "
                  "seed) runs, which usually needs fewer seeds, as variation both models share cancels out "
                  "(but folds that share speakers make it optimistic). The spread is itself estimated from few "
                  "seeds: read these as rough guides."),
            ("table", _plain(table[["model", "variant", "baseline", "seeds", "observed difference", "sd over seeds",
                                    "detectable difference", "seeds for 0.01", "pairs", "detectable (paired)",
                                    "seeds for 0.01 (paired)"]]).round(4), "seed_power")]


def _best_validation_blocks(tables) -> list[tuple]:
    """Regression sweeps: the test metrics of each model's seed with the best dev score (the
    multistage-conditioning paper's Tables 3 and 6: CCC and MSE of "the model showing the best
    validation set performance")."""
    if tables.task != "dimensional" or not len(tables.best_validation):
        return []
    metrics = [c for c in tables.best_validation.columns if c.startswith(("ccc_", "mse_"))]
    table = _by_model(tables.best_validation)[["model", "variant", "seed", *metrics]]
    table = table.rename(columns={m: metric_name(m, tables) for m in metrics})
    return [("h2", "Best validation model per architecture"),
            ("p", f"Per model, the seed with the best mean dev {metric_name(tables.metrics[0], tables)} over its "
                  "folds; its test CCC and MSE over the pooled predictions of all folds. The residual analyses below "
                  "use these models."),
            ("table", _plain(table).round(4), "best_validation")]


def _chosen_blocks(tables) -> list[tuple]:
    """The one setting chosen per model by a search over the whole protocol, and why."""
    if not len(tables.chosen):
        return []
    metric = next(c for c in tables.chosen.columns if c.startswith("dev/"))
    lines = "; ".join(f"{model_name(row.arch)}{'' if row.variant == '-' else ' ' + row.variant}: **{row.setting}**"
                      for row in tables.chosen.itertuples())
    return [("h2", "Chosen setting"),
            ("p", f"Each candidate setting trained on every fold and seed; the one with the best mean {metric} was "
                  f"chosen per model (settings not trained on all of them were not eligible): {lines}. The tables "
                  "below are that setting's runs."),
            ("table", _plain(_by_model(tables.chosen).drop(columns="arch")), "chosen_settings")]


def _weight_blocks(weights: pd.DataFrame) -> list[tuple]:
    chosen, oracle = weights["w_audio"], weights["oracle_w_audio"]
    text = (f"Audio weight w1 chosen on dev (w2 = 1 − w1, 101-point grid): mean {chosen.mean():.2f}, range "
            f"{chosen.min():.2f}–{chosen.max():.2f} over {len(weights)} fold × seed pairs. The weight the test "
            f"set itself would choose (an oracle, not a result): mean {oracle.mean():.2f}, with a test score of "
            f"{weights['oracle_score'].mean():.3f} on average.")
    return [("h2", "Fusion weights"), ("p", text),
            ("table", _plain(weights.sort_values(["variant", "seed", "fold"])), "fusion_weights")]


def _probe_blocks(tables) -> list[tuple]:
    """Probes of what a model's learned codes hold (the cross-representation paper's Table 3: a
    speaker classifier on the bottleneck codes; less speaker information = better disentangled)."""
    if tables.probes.empty:
        return []
    probes = _by_model(tables.probes)
    table = probes[["model", "variant", "runs"]].copy()
    for column in [c[:-len("_mean")] for c in probes.columns if c.endswith("_mean")]:
        table[_probe_name(column, tables)] = [
            f"{m:.3f} ({s:.3f})" if column != "probe/speakers" else f"{m:.0f}"
            for m, s in zip(probes[f"{column}_mean"], probes[f"{column}_std"], strict=True)]
    text = ("A speaker classifier on each trained model's bottleneck codes (`model.probe`: the paper's "
            "2048-1024-1024 MLP, or logistic regression with `linear`), fitted on 80 % of every training speaker's "
            "utterances and scored on the other 20 %; mean (std) over folds and seeds, then each fold (the mean "
            "over its seeds) with the mean ± std over folds. Chance is 1 / speakers.")
    blocks = [("h2", "Speaker identification from the learned codes"), ("p", text),
              ("table", _plain(table), "speaker_probe")]
    metrics = [c for c in ("probe/speaker_uar", "probe/speaker_wa") if c in tables.probe_folds.columns]
    if tables.probe_folds["fold"].nunique() > 1 and metrics:
        names = {m: _probe_name(m, tables) for m in metrics}
        blocks.append(("table", _fold_table(tables.probe_folds, metrics, names), "speaker_probe_per_fold"))
    return blocks


def _probe_name(column: str, tables) -> str:
    """``probe/speaker_uar`` as a header: ``speaker UAR`` (or the paper's name of the metric)."""
    name = column.removeprefix("probe/")
    kind, _, metric = name.rpartition("_")
    return f"{kind} {metric_name(metric, tables)}" if metric in ("uar", "wa") else name.replace("_", " ")


def _alignment_blocks(checks: pd.DataFrame) -> list[tuple]:
    """Tzirakis et al.'s Speech2Vec → Word2Vec map, per fold: does it align held-out words better
    than a random map would?"""
    if checks.empty:
        return []
    table = checks.rename(columns=lambda c: c.removeprefix("semantic/").replace("_", " "))
    text = ("Each fold's semantic space (Word2Vec, Speech2Vec and the map between them, trained on the fold's "
            "training utterances) checked on frequent words that no step of the alignment saw: the mean cosine "
            "of a mapped Speech2Vec vector and the same word's Word2Vec vector with the refined map (aligned), "
            "the adversarial map alone and a random orthogonal map; the discriminator's accuracy before and "
            "after the adversarial game (0.5: it cannot tell the spaces apart); the share of the refinement's "
            "dictionary pairs that are the same word (induced dictionary) and its size.")
    return [("h2", "Alignment of the semantic spaces"), ("p", text),
            ("table", table.round(3), "alignment_checks")]


MAX_FIGURE_MODELS = 6  # per-stratum figures with more models (or variants) than this would not read; tables do
STRATA_TITLES = {"mode": "Scripted vs improvised", "dialogue_act": "Dialogue acts"}


def _strata_blocks(tables, out: Path) -> list[tuple]:
    """Scripted vs improvised as the paper's Table 7 (models as rows, each metric as ``S / I``);
    dialogue acts with their values as rows and the models as columns (mean (std) over seeds of
    the first metric), and a bar chart."""
    blocks = []
    for column, summary in tables.strata.items():
        summary = _by_model(summary)
        label = summary["model"] + np.where(summary["variant"] == "-", "", " " + summary["variant"])
        metrics = [c[:-len("_mean")] for c in summary.columns if c.endswith("_mean")]
        if column == "mode":
            blocks += [("h2", STRATA_TITLES[column]),
                       ("p", "Per model, each metric within the scripted (S) and the improvised (I) utterances, as "
                             "S / I, over the pooled test predictions of that mode "
                             + ("of the model's best seed on dev (the multistage-conditioning paper's Tables 7 and 8 "
                                "analyse \"the best performing models\")." if len(tables.best_seeds) else
                                "averaged over seeds (no dev set chose a best seed; the std over seeds is in "
                                "tables/by_mode_per_metric.csv).")),
                       ("table", _scripted_vs_improvised(summary.assign(label=label), metrics, tables), "by_mode")]
            summary.to_csv(out / "tables" / "by_mode_per_metric.csv", index=False)
            continue
        metric = metrics[0]
        cells = summary.assign(label=label, cell=[f"{m:.3f} ({s:.3f})" for m, s in
                                                  zip(summary[f"{metric}_mean"], summary[f"{metric}_std"],
                                                      strict=True)])
        table = _pivot(cells, [column], "label", "cell").sort_index()
        counts = cells.groupby(column)["utterances"].max()
        table.insert(0, "utterances", counts.reindex(table.index).astype(int))
        if column == "dialogue_act":
            table.index = pd.Index([f"{act} ({DIALOGUE_ACTS.get(act, '?')})" for act in table.index], name=column)
        blocks += [("h2", STRATA_TITLES.get(column, column)),
                   ("p", f"{metric_name(metric, tables)} within each {column.replace('_', ' ')}: mean (std) over "
                         f"seeds of the pooled test predictions of that {column.replace('_', ' ')}."),
                   ("table", table.reset_index(), f"by_{column}")]
        if column == "dialogue_act" and len(set(label)) <= MAX_FIGURE_MODELS:
            blocks.append(("figure", _strata_figure(cells, column, metric, metric_name(metric, tables), out),
                           f"{metric_name(metric, tables)} per dialogue act and model: mean and std over seeds"))
    return blocks


def _scripted_vs_improvised(summary: pd.DataFrame, metrics: list[str], tables) -> pd.DataFrame:
    """One row per model, one ``S / I`` column per metric; the better of the two in bold."""
    rows = []
    for label, group in summary.groupby("label", sort=False):
        by_mode = group.set_index("mode")
        row = {"model": label}
        for metric in metrics:
            values = [by_mode[f"{metric}_mean"].get(mode, np.nan) for mode in ("scripted", "improvised")]
            shown = [f"{v:.3f}" if pd.notna(v) else "–" for v in values]
            if all(pd.notna(values)) and values[0] != values[1]:
                best = int(values[1] > values[0])
                shown[best] = f"**{shown[best]}**"
            row[f"{metric_name(metric, tables)} (S / I)"] = " / ".join(shown)
        rows.append(row)
    counts = summary.groupby("mode")["utterances"].max()
    rows.append({"model": "utterances", **{f"{metric_name(m, tables)} (S / I)": f"{counts.get('scripted', 0)} / "
                                            f"{counts.get('improvised', 0)}" for m in metrics}})
    return pd.DataFrame(rows)


def _class_f1_blocks(tables) -> list[tuple]:
    """Per-class F1: overall, mean (std) over seeds; scripted vs improvised (the paper's Table 8)
    of each model's best seed on dev, as the paper analyses its best models."""
    blocks = []
    for key, title in (("all", "F1 per class"), ("mode", "F1 per class, scripted vs improvised")):
        if key not in tables.class_f1 or tables.class_f1[key].empty:
            continue
        f1 = _by_model(tables.class_f1[key])
        rows = ["model", *(["variant"] if f1["variant"].ne("-").any() else []), *(["mode"] if key == "mode" else [])]
        best = key == "mode" and len(tables.best_seeds) > 0
        f1 = f1.assign(cell=[f"{m:.3f}" if best else f"{m:.3f} ({s:.3f})"
                             for m, s in zip(f1["f1_mean"], f1["f1_std"], strict=True)])
        table = _pivot(f1, rows, "class", "cell")
        over = "; each model's best seed on dev." if best else "; mean (std) over seeds."
        blocks += [("h2", title),
                   ("p", "F1 of each emotion over the pooled test predictions of a seed"
                         + (" within scripted or improvised utterances" if key == "mode" else "") + over),
                   ("table", table.reset_index(), "f1_per_class" + ("_by_mode" if key == "mode" else ""))]
    return blocks


def _improvement_blocks(tables, out: Path) -> list[tuple]:
    """Atmaja & Akagi's Fig. 2: the relative improvement in valence CCC of each variant with text
    over the acoustic-only variant with the same targets."""
    if not len(tables.improvements):
        return []
    table = _by_model(tables.improvements).drop(columns="arch").round(4)
    return [("h2", "Improvement over the acoustic-only model"),
            ("p", "Valence CCC of each variant with text against the acoustic-only variant (`modalities=audio`) "
                  "with the same targets: (CCC − baseline CCC) / |baseline CCC|, mean and std over seeds of "
                  "each seed's relative improvement (Atmaja & Akagi's Fig. 2)."),
            ("figure", _improvement_figure(tables.improvements, out),
             "Relative improvement in valence CCC over the acoustic-only model"),
            ("table", table, "improvements")]


def _improvement_figure(improvements: pd.DataFrame, out: Path) -> str:
    plt = _pyplot()
    labels = [f"{model_name(a)} · {v}" for a, v in zip(improvements["arch"], improvements["variant"], strict=True)]
    figure, axes = plt.subplots(figsize=(8.0, 0.9 + 0.32 * len(labels)), dpi=120)
    axes.barh(range(len(labels)), 100 * improvements["improvement"], xerr=100 * improvements["improvement_std"],
              capsize=3, color="#55a868")
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    axes.invert_yaxis()
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel("relative improvement in valence CCC (%)")
    return _save(figure, out, "improvement_over_acoustic_only.png")


def _residual_blocks(tables, out: Path) -> list[tuple]:
    """Regression sweeps: residual box plots and t-tests per dialogue act (the paper's Fig. 4 and
    Table 4), and least-squares residual lines against the gold standard (its Fig. 5)."""
    if tables.residuals.empty:
        return []
    blocks = [("h2", "Error residuals"),
              ("p", "Residual e = truth − prediction per utterance of each model's best validation seed (above): "
                    "e > 0 means the model under-predicts. Lines are least-squares fits of e against the gold "
                    "standard; a slope away from 0 means errors grow towards the edges of the scale."),
              ("figure", _residual_lines_figure(tables, out),
               "Residuals against the gold standard: fitted lines, one panel per target (row) and setting (column)"),
              ("table", _plain(_by_model(tables.residual_fits).drop(columns="arch")), "residual_fits")]
    if len(tables.residual_tests):
        blocks += [("h2", "Residuals per dialogue act"),
                   ("p", "Residuals tested against zero per model, target and dialogue act (two-sided one-sample "
                         "t-tests); `significant` is the paper's p < 0.05, `p_holm` a stricter reading with Holm's "
                         "correction across the table."),
                   *(("figure", name, f"{target.capitalize()} residuals per dialogue act: one panel per model and "
                                      "setting")
                     for target, name in _residual_box_figures(tables, out)),
                   ("table", _plain(_by_model(tables.residual_tests).drop(columns="arch")), "residuals")]
    return blocks


def _pivot(frame: pd.DataFrame, index: list[str], columns: str, values: str) -> pd.DataFrame:
    """``frame.pivot`` keeping rows and columns in their order of appearance (the model order)."""
    table = frame.pivot(index=index, columns=columns, values=values)
    rows = frame[index].drop_duplicates()
    rows = pd.MultiIndex.from_frame(rows) if len(index) > 1 else pd.Index(rows[index[0]])
    return table.loc[rows, list(dict.fromkeys(frame[columns]))].rename_axis(columns=None)  # no extra header


def _by_model(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the papers' model order, with a readable ``model`` name first."""
    frame = frame.iloc[np.argsort([_order(a) for a in frame["arch"]], kind="stable")]
    return frame.assign(model=[model_name(a) for a in frame["arch"]])[["model", *frame.columns]]


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Without the ``variant`` column when the sweep has no variants."""
    return frame.drop(columns="variant") if frame["variant"].eq("-").all() else frame


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, out: Path, name: str) -> str:
    """Write a figure to ``figures/name`` and close it; return the name."""
    figure.tight_layout()
    figure.savefig(out / "figures" / name)
    _pyplot().close(figure)
    return name


def _bar_figure(tables, out: Path) -> str:
    """Mean and std over seeds of the first metric per model; horizontal bars when variants make
    the labels long."""
    plt = _pyplot()
    metric = tables.metrics[0]
    summary = tables.summary.iloc[np.argsort([_order(a) for a in tables.summary["arch"]], kind="stable")]
    labels = [model_name(a) + ("" if v == "-" else f" · {v}") for a, v in zip(summary["arch"], summary["variant"],
                                                                               strict=True)]
    means, stds = summary[f"{metric}_mean"], summary[f"{metric}_std"]
    if summary["variant"].eq("-").all():
        figure, axes = plt.subplots(figsize=(max(4.0, 0.9 * len(labels)), 3.2), dpi=120)
        axes.bar(range(len(labels)), means, yerr=stds, capsize=3, color="#4c72b0")
        axes.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
        axes.set_ylabel(metric_name(metric, tables))
    else:
        figure, axes = plt.subplots(figsize=(8.0, 0.9 + 0.32 * len(labels)), dpi=120)
        axes.barh(range(len(labels)), means, xerr=stds, capsize=3, color="#4c72b0")
        axes.set_yticks(range(len(labels)), labels, fontsize=7)
        axes.invert_yaxis()  # the table's order, top to bottom
        axes.set_xlabel(metric_name(metric, tables))
    return _save(figure, out, f"{metric}.png")


def percent_change(share: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """The multistage paper's Fig. 3 annotation, "% change with respect to CNN14": each cell's
    relative change 100 · (share − baseline) / baseline; NaN where the baseline cell is 0.

    Examples:
        >>> percent_change(np.array([[60.0, 40.0]]), np.array([[50.0, 0.0]]))
        array([[20., nan]])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(baseline > 0, 100 * (share - baseline) / np.where(baseline > 0, baseline, 1), np.nan)


def _confusion_figure(tables, out: Path) -> str:
    plt = _pyplot()
    tables_by_arch = dict(sorted(tables.best_seed_predictions.items(), key=lambda item: _order(item[0])))
    shares = {}
    for arch, table in tables_by_arch.items():
        labels = sorted(classes_of(table))
        matrix = confusion(table["truth"], table["prediction"], labels=labels)
        shares[arch] = 100 * matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    columns = min(3, len(shares))
    rows = -(-len(shares) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 3.3 * rows), dpi=110, squeeze=False)
    for axis in axes.flat[len(shares):]:
        axis.axis("off")
    baseline = shares.get(tables.audio)
    for axis, (arch, share) in zip(axes.flat, shares.items(), strict=False):
        axis.imshow(share, cmap="Blues", vmin=0, vmax=100)
        change = percent_change(share, baseline) if baseline is not None and arch not in (tables.audio, tables.text) \
            else None
        for i in range(len(labels)):
            for j in range(len(labels)):
                note = f"{share[i, j]:.0f}%"
                if change is not None:
                    note += "\n–" if np.isnan(change[i, j]) else f"\n{change[i, j]:+.0f}%"
                axis.text(j, i, note, ha="center", va="center", fontsize=7,
                          color="white" if share[i, j] > 60 else "black")
        seed = tables_by_arch[arch]["best_seed"].iloc[0]
        variant = tables_by_arch[arch]["variant"].iloc[0]
        axis.set_title(f"{model_name(arch)} (seed {seed})" + ("" if variant == "-" else f"\n{variant}"),
                       fontsize=9)
        axis.set_xticks(range(len(labels)), labels, rotation=40, fontsize=7)
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
        axis.set_xlabel("predicted", fontsize=7)
        axis.set_ylabel("true", fontsize=7)
    return _save(figure, out, "confusion_matrices.png")


def _class_figure(corpora: dict, out: Path) -> str:
    """One panel per corpus: utterances per class, one bar per split (or one for all)."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(corpora), figsize=(3.8 * len(corpora), 3.0), dpi=110, squeeze=False)
    for axis, (corpus, groups) in zip(axes.flat, corpora.items(), strict=True):
        splits = {g.removeprefix("split="): c for g, c in groups.items() if g.startswith("split=")} or \
            {"all": groups["all"]}
        classes = sorted(groups["all"])
        width = 0.8 / len(splits)
        for i, (split, counts) in enumerate(splits.items()):
            axis.bar(np.arange(len(classes)) + (i - (len(splits) - 1) / 2) * width,
                     [counts.get(c, 0) for c in classes], width, label=split)
        axis.set_xticks(range(len(classes)), classes, fontsize=8)
        axis.set_title(CORPUS_NAMES.get(corpus, corpus), fontsize=9)
        axis.set_ylabel("utterances", fontsize=8)
        if len(splits) > 1:
            axis.legend(fontsize=7)
    return _save(figure, out, "classes.png")


def _mode_figure(description: dict, out: Path) -> str:
    """Left: utterances per class, scripted and improvised; then one panel per dimension: the share
    of each mode's utterances per rating bin."""
    plt = _pyplot()
    ratings = description["ratings"]
    edges, counts = np.array(ratings["edges"]), ratings["counts"]
    dimensions = list(counts["scripted"])
    figure, axes = plt.subplots(1, 1 + len(dimensions), figsize=(3.0 * (1 + len(dimensions)), 2.8), dpi=110)
    classes = sorted(description["classes"]["all"])
    for i, mode in enumerate(("scripted", "improvised")):
        per_class = description["classes"].get(f"mode={mode}", {})
        axes[0].bar(np.arange(len(classes)) + (i - 0.5) * 0.4, [per_class.get(c, 0) for c in classes], 0.4,
                    label=mode)
    axes[0].set_xticks(range(len(classes)), classes, fontsize=7)
    axes[0].set_ylabel("utterances", fontsize=8)
    axes[0].legend(fontsize=7)
    for axis, dimension in zip(axes[1:], dimensions, strict=True):
        for mode in ("scripted", "improvised"):
            values = np.asarray(counts[mode][dimension], float)
            axis.stairs(values / max(values.sum(), 1), edges, label=mode)
        axis.set_xlabel(dimension, fontsize=8)
        axis.set_ylabel("share of utterances", fontsize=8)
    return _save(figure, out, "scripted_vs_improvised.png")


def _strata_figure(cells: pd.DataFrame, column: str, metric: str, name: str, out: Path) -> str:
    """Grouped bars: one group per value of ``column``, one bar per model."""
    plt = _pyplot()
    values, labels = sorted(cells[column].unique()), list(dict.fromkeys(cells["label"]))
    width = 0.8 / len(labels)
    figure, axes = plt.subplots(figsize=(min(9.0, max(5.0, 0.12 * len(values) * len(labels))), 3.4), dpi=120)
    for i, label in enumerate(labels):
        rows = cells[cells["label"] == label].set_index(column).reindex(values)
        axes.bar(np.arange(len(values)) + (i - (len(labels) - 1) / 2) * width, rows[f"{metric}_mean"],
                 width, yerr=rows[f"{metric}_std"], capsize=2, label=label)
    axes.set_xticks(range(len(values)), values)
    axes.set_xlabel(column.replace("_", " "))
    axes.set_ylabel(name)
    axes.legend(fontsize=7, ncols=min(len(labels), 6), loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return _save(figure, out, f"{metric}_by_{column}.png")


def _residual_lines_figure(tables, out: Path) -> str:
    """The paper's Fig. 5 at any size: one panel per target (rows) and setting (columns: the
    variants that predict the target), each model's fitted residual line over the gold standard's
    range."""
    plt = _pyplot()
    fits = _by_model(tables.residual_fits)
    targets = list(dict.fromkeys(fits["target"]))
    settings = {t: list(dict.fromkeys(fits.loc[fits["target"] == t, "variant"])) for t in targets}
    columns = max(len(v) for v in settings.values())
    figure, axes = plt.subplots(len(targets), columns, figsize=(3.4 * columns, 2.9 * len(targets)), dpi=110,
                                squeeze=False, sharey="row")
    for axis in axes.flat:
        axis.axis("off")
    for row, target in enumerate(targets):
        truth = tables.residuals.loc[tables.residuals["target"] == target, "truth"]
        x = np.linspace(truth.min(), truth.max(), 2)
        for column, variant in enumerate(settings[target]):
            axis = axes[row, column]
            axis.axis("on")
            for fit in fits[(fits["target"] == target) & (fits["variant"] == variant)].itertuples(index=False):
                axis.plot(x, fit.intercept + fit.slope * x, label=fit.model)
            axis.axhline(0, color="#999", linewidth=0.8)
            axis.set_title(f"{target}\n{_panel_label(variant)}", fontsize=7)
            axis.set_xlabel("gold standard", fontsize=7)
        axes[row, 0].set_ylabel("residual (truth − prediction)", fontsize=7)
        axes[row, 0].legend(fontsize=6)
    return _save(figure, out, "residual_lines.png")


def _panel_label(variant: str) -> str:
    """A variant as a panel title: without its targets (the panel names them), wrapped.

    Examples:
        >>> print(_panel_label("targets=arousal,valence,dominance loss=ccc loss_weights=0.7,0.2,0.1"))
        loss=ccc loss_weights=0.7,0.2,0.1
    """
    import textwrap

    kept = " ".join(token for token in variant.split() if not token.startswith("targets="))
    return textwrap.fill(kept if kept not in ("", "-") else "", width=40)


def _residual_box_figures(tables, out: Path) -> list[tuple[str, str]]:
    """The paper's Fig. 4 at any size: per target, one panel per model and setting (small multiples,
    six to a row, one y scale), a box of residuals per dialogue act.  Returns ``(target, file)``."""
    plt = _pyplot()
    data = _by_model(tables.residuals.dropna(subset=["dialogue_act"]))
    data = data.assign(label=[f"{model}\n{_panel_label(variant)}".strip() for model, variant
                              in zip(data["model"], data["variant"], strict=True)])
    acts = sorted(data["dialogue_act"].unique())
    figures = []
    for target in dict.fromkeys(data["target"]):
        rows = data[data["target"] == target]
        labels = list(dict.fromkeys(rows["label"]))
        columns = min(6, len(labels))
        lines = -(-len(labels) // columns)
        figure, axes = plt.subplots(lines, columns, figsize=(max(2.6 * columns, 5.0), 2.4 * lines), dpi=110,
                                    squeeze=False, sharey=True)
        for axis in axes.flat[len(labels):]:
            axis.axis("off")
        for axis, label in zip(axes.flat, labels, strict=False):
            model = rows[rows["label"] == label]
            axis.boxplot([model.loc[model["dialogue_act"] == act, "residual"].to_numpy() for act in acts],
                         showfliers=False, medianprops={"color": "black"})
            axis.axhline(0, color="#999", linewidth=0.8)
            axis.set_xticks(range(1, len(acts) + 1), acts, fontsize=6, rotation=90)
            axis.set_title(label, fontsize=6)
        for axis in axes[:, 0]:
            axis.set_ylabel(f"{target} residual", fontsize=7)
        figures.append((target, _save(figure, out, f"residuals_by_dialogue_act_{target}.png")))
    return figures


def _markdown(block: tuple) -> str:
    kind = block[0]
    if kind == "h1":
        return f"# {block[1]}"
    if kind == "h2":
        return f"## {block[1]}"
    if kind == "p":
        return block[1]
    if kind == "figure":
        return f"![{block[2]}](figures/{block[1]})"
    return _markdown_table(block[1])


HEADERS = {"mean_difference": "mean difference", "ci_low": "95% CI low", "ci_high": "95% CI high",
           "cohens_d": "Cohen's d", "p_holm": "p (Holm)", "w_audio": "w1 (dev)", "dev_score": "dev score",
           "oracle_w_audio": "w1 (test oracle)", "oracle_score": "oracle test score", "mean_residual": "mean residual",
           "dialogue_act": "dialogue act", "mode": "scripted / improvised"}


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """Readable column headers and numbers (the CSV files keep the raw ones)."""
    return frame.rename(columns=HEADERS).map(_format)


def _markdown_table(frame: pd.DataFrame) -> str:
    cells = _display(frame).astype(str)
    lines = ["| " + " | ".join(map(str, cells.columns)) + " |", "|" + "---|" * len(cells.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def _format(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return ""
        return f"{value:.1e}" if 0 < abs(value) < 1e-3 else f"{value:.4g}"
    return str(value)


def _html(block: tuple, out: Path) -> str:
    kind = block[0]
    if kind in ("h1", "h2"):
        return f"<{kind}>{html.escape(block[1])}</{kind}>"
    if kind == "p":
        return f"<p>{html.escape(block[1]).replace('`', '')}</p>"
    if kind == "figure":
        data = base64.b64encode((out / "figures" / block[1]).read_bytes()).decode()
        return (f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(block[2])}'>"
                f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
    return _html_table(block[1])


def _html_table(frame: pd.DataFrame) -> str:
    """A table with its text columns aligned left and its number columns right."""
    cells = _display(frame)
    text = [pd.api.types.is_bool_dtype(frame[c]) or not pd.api.types.is_numeric_dtype(frame[c])
            and not frame[c].astype(str).str.match(r"^[-+]?[\d.]").any() for c in frame.columns]
    head = "".join(f"<th{' class=t' if t else ''}>{html.escape(str(c))}</th>" for c, t in zip(cells.columns, text,
                                                                                               strict=True))
    rows = "".join("<tr>" + "".join(f"<td{' class=t' if t else ''}>{html.escape(str(v))}</td>"
                                    for v, t in zip(row, text, strict=True)) + "</tr>\n"
                   for row in cells.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody></table>"


_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{padding:.3rem .7rem;text-align:right}
th{border-bottom:2px solid #444}td{border-bottom:1px solid #ddd;white-space:nowrap}
.t{text-align:left}
figure{margin:1rem 0}img{max-width:100%}figcaption{font-size:.85rem;color:#555}"""
