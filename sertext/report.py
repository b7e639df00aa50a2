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

from sertext.metrics import confusion

NAMES = {"cnn14": "CNN14", "text": "Text", "sfcnn14": "SFCNN14", "mfcnn14": "MFCNN14", "LF": "LF",
         "LF-weighted": "LF (dev-weighted)"}
METRIC_NAMES = {"uar": "UAR", "wa": "WA", "f1_macro": "F1 (macro)", "ccc": "CCC (mean)"}


def write_report(tables, out) -> Path:
    """Write the report of one sweep into the folder ``out``; return the path of ``report.md``."""
    out = Path(out)
    for folder in ("tables", "figures"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    blocks = _blocks(tables, out)
    for block in blocks:
        if block[0] == "table":
            block[1].to_csv(out / "tables" / f"{block[2]}.csv", index=False)
    (out / "report.md").write_text("\n\n".join(_markdown(block) for block in blocks) + "\n")
    body = "\n".join(_html(block, out) for block in blocks)
    (out / "report.html").write_text(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
                                     f"{html.escape(tables.experiment)}</title><style>{_CSS}</style></head>"
                                     f"<body>\n{body}\n</body></html>\n")
    return out / "report.md"


def results_table(tables) -> pd.DataFrame:
    """The papers' table: one row per model, mean (std) per metric, markers on the first metric,
    and the seeds and folds behind each row (``⚠`` where fewer than the sweep's most)."""
    summary = tables.summary.merge(tables.significance[["arch", "variant", "marker"]], on=["arch", "variant"])
    summary = summary.iloc[np.argsort([_order(a) for a in summary["arch"]], kind="stable")]
    rows = []
    for row in summary.itertuples(index=False):
        reduced = row.seeds < tables.summary["seeds"].max() or row.folds < tables.summary["folds"].max()
        cells = {"model": NAMES.get(row.arch, row.arch)}
        if tables.summary["variant"].ne("-").any():
            cells["variant"] = row.variant
        cells["seeds × folds"] = f"{row.seeds} × {row.folds}" + (" ⚠" if reduced else "")
        for i, metric in enumerate(tables.metrics):
            mean, std = getattr(row, f"{metric}_mean"), getattr(row, f"{metric}_std")
            cells[metric_name(metric)] = (
                "" if pd.isna(mean) else f"{mean:.3f} ({std:.3f}){row.marker if i == 0 else ''}")
        rows.append(cells)
    return pd.DataFrame(rows)


def metric_name(metric: str) -> str:
    """``UAR``, ``CCC valence``, …: a metric key as a column header."""
    if metric in METRIC_NAMES:
        return METRIC_NAMES[metric]
    kind, _, target = metric.partition("_")
    return f"{kind.upper()} {target}" if target else metric


def _order(arch: str) -> int:
    return list(NAMES).index(arch) if arch in NAMES else len(NAMES)


def _blocks(tables, out: Path) -> list[tuple]:
    """The report as a list of blocks: ("h1"|"h2"|"p", text), ("table", frame, csv name) or
    ("figure", png name, caption)."""
    primary = metric_name(tables.metrics[0])
    over = ("the pooled test predictions of all folds (every utterance predicted once)" if tables.pooled
            else "each fold's test predictions, then averaged over folds")
    blocks = [("h1", f"Sweep {tables.experiment}"),
              ("p", f"Parent run `{tables.parent_run_id}`. Metrics are computed per seed over {over}, then "
                    f"mean (std) over seeds. `*` differs from CNN14 (audio), `†` from the text model "
                    f"(two-sided independent t-test over seeds on {primary}, p < 0.05). LF averages the audio "
                    f"and text posteriors; LF (dev-weighted) uses weights chosen on each fold's dev set."),
              ("h2", "Results"), ("table", results_table(tables), "results"),
              ("figure", _bar_figure(tables, out), f"{primary} per model: mean and std over seeds")]
    p_values = _by_model(tables.significance).rename(columns={"p_vs_audio": "p vs CNN14", "p_vs_text": "p vs text"})
    blocks += [("h2", "p-values of the t-tests over seeds"),
               ("table", _plain(p_values.drop(columns="arch")), "p_values")]
    if len(tables.paired):
        paired = tables.paired.assign(model=[NAMES.get(a, a) for a in tables.paired["model"]],
                                      baseline=[NAMES.get(a, a) for a in tables.paired["baseline"]])
        blocks += [("h2", "Paired tests over matched (fold, seed) results"),
                   ("p", f"Two-sided paired t-tests on {primary} with Holm's correction across the rows; "
                         "mean difference with a bootstrap 95% interval and Cohen's d_z."),
                   ("table", paired, "paired_tests")]
    if len(tables.weights):
        blocks += _weight_blocks(tables.weights)
    if tables.task == "categorical" and tables.best_seed_predictions:
        blocks += [("h2", "Confusion matrices (best seed per model)"),
                   ("figure", _confusion_figure(tables, out),
                    "Row percentages; for other models, the change against CNN14 in percentage points")]
    blocks += _strata_blocks(tables)
    blocks += [("h2", "Missing or failed trials")]
    blocks += [("table", _plain(tables.missing), "missing_trials")] if len(tables.missing) else [
        ("p", "None: every trial of the grid has a finished run.")]
    tables.per_seed.to_csv(out / "tables" / "per_seed.csv", index=False)
    return blocks


def _weight_blocks(weights: pd.DataFrame) -> list[tuple]:
    chosen, oracle = weights["w_audio"], weights["oracle_w_audio"]
    text = (f"Audio weight w1 chosen on dev (w2 = 1 − w1, 101-point grid): mean {chosen.mean():.2f}, range "
            f"{chosen.min():.2f}–{chosen.max():.2f} over {len(weights)} fold × seed pairs. The weight the test "
            f"set itself would choose (an oracle, not a result): mean {oracle.mean():.2f}, with a test score of "
            f"{weights['oracle_score'].mean():.3f} on average.")
    return [("h2", "Fusion weights"), ("p", text),
            ("table", _plain(weights.sort_values(["variant", "seed", "fold"])), "fusion_weights")]


STRATA_TITLES = {"mode": "Scripted vs improvised", "dialogue_act": "Dialogue acts"}


def _strata_blocks(tables) -> list[tuple]:
    """One table per stratification: its values as rows, the models as columns (mean (std) over
    seeds of the first metric), and for regression sweeps the residual tests per dialogue act."""
    blocks = []
    metric = tables.metrics[0]
    for column, summary in tables.strata.items():
        summary = _by_model(summary)
        label = summary["model"] + np.where(summary["variant"] == "-", "", " " + summary["variant"])
        cells = summary.assign(label=label, cell=[f"{m:.3f} ({s:.3f})" for m, s in
                                                  zip(summary[f"{metric}_mean"], summary[f"{metric}_std"],
                                                      strict=True)])
        table = cells.pivot(index=column, columns="label", values="cell")[list(dict.fromkeys(label))]
        table = table.rename_axis(columns=None)  # else the HTML grows an extra header column
        counts = cells.groupby(column)["utterances"].max()
        table.insert(0, "utterances", counts.reindex(table.index).astype(int))
        blocks += [("h2", STRATA_TITLES.get(column, column)),
                   ("p", f"{metric_name(metric)} within each {column.replace('_', ' ')}: mean (std) over seeds of "
                         f"the pooled test predictions of that {column.replace('_', ' ')}."),
                   ("table", table.reset_index(), f"by_{column}")]
    if len(tables.residuals):
        blocks += [("h2", "Residuals per dialogue act"),
                   ("p", "Prediction − truth per utterance, averaged over seeds, tested against zero per model, "
                         "target and dialogue act (two-sided one-sample t-tests, Holm-corrected across the table)."),
                   ("table", _plain(_by_model(tables.residuals).drop(columns="arch")), "residuals")]
    return blocks


def _by_model(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the papers' model order, with a readable ``model`` name first."""
    frame = frame.iloc[np.argsort([_order(a) for a in frame["arch"]], kind="stable")]
    return frame.assign(model=[NAMES.get(a, a) for a in frame["arch"]])[["model", *frame.columns]]


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Without the ``variant`` column when the sweep has no variants."""
    return frame.drop(columns="variant") if frame["variant"].eq("-").all() else frame


def _bar_figure(tables, out: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = tables.metrics[0]
    summary = tables.summary.iloc[np.argsort([_order(a) for a in tables.summary["arch"]], kind="stable")]
    labels = [NAMES.get(a, a) + ("" if v == "-" else f"\n{v}") for a, v in zip(summary["arch"], summary["variant"],
                                                                              strict=True)]
    figure, axes = plt.subplots(figsize=(max(4.0, 0.9 * len(labels)), 3.2), dpi=120)
    axes.bar(range(len(labels)), summary[f"{metric}_mean"], yerr=summary[f"{metric}_std"], capsize=3,
             color="#4c72b0")
    axes.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
    axes.set_ylabel(metric_name(metric))
    figure.tight_layout()
    figure.savefig(out / "figures" / f"{metric}.png")
    plt.close(figure)
    return f"{metric}.png"


def _confusion_figure(tables, out: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables_by_arch = dict(sorted(tables.best_seed_predictions.items(), key=lambda item: _order(item[0])))
    shares = {}
    for arch, table in tables_by_arch.items():
        labels = sorted(c[len("prob_"):] for c in table.columns if c.startswith("prob_"))
        matrix = confusion(table["truth"], table["prediction"], labels=labels)
        shares[arch] = 100 * matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    columns = min(3, len(shares))
    rows = -(-len(shares) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 3.3 * rows), dpi=110, squeeze=False)
    for axis in axes.flat[len(shares):]:
        axis.axis("off")
    baseline = shares.get("cnn14")
    for axis, (arch, share) in zip(axes.flat, shares.items(), strict=False):
        axis.imshow(share, cmap="Blues", vmin=0, vmax=100)
        for i in range(len(labels)):
            for j in range(len(labels)):
                note = f"{share[i, j]:.0f}%"
                if baseline is not None and arch != "cnn14":
                    note += f"\n{share[i, j] - baseline[i, j]:+.0f}"
                axis.text(j, i, note, ha="center", va="center", fontsize=7,
                          color="white" if share[i, j] > 60 else "black")
        seed = tables_by_arch[arch]["best_seed"].iloc[0]
        axis.set_title(f"{NAMES.get(arch, arch)} (seed {seed})", fontsize=9)
        axis.set_xticks(range(len(labels)), labels, rotation=40, fontsize=7)
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
        axis.set_xlabel("predicted", fontsize=7)
        axis.set_ylabel("true", fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "figures" / "confusion_matrices.png")
    plt.close(figure)
    return "confusion_matrices.png"


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
           "dialogue_act": "dialogue act"}


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """Readable column headers and numbers (the CSV files keep the raw ones)."""
    return frame.rename(columns=HEADERS).map(_format)


def _markdown_table(frame: pd.DataFrame) -> str:
    cells = _display(frame).astype(str)
    lines = ["| " + " | ".join(map(str, cells.columns)) + " |", "|" + "---|" * len(cells.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def _format(value) -> str:
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
    return _display(block[1]).to_html(index=False, border=0, classes="results")


_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{padding:.3rem .7rem;text-align:right}
th{border-bottom:2px solid #444}td{border-bottom:1px solid #ddd;white-space:nowrap}
td:first-child,th:first-child{text-align:left}
figure{margin:1rem 0}img{max-width:100%}figcaption{font-size:.85rem;color:#555}"""
