"""Post-hoc score fusion of an audio and a text model from their stored predictions, no retraining.

Works on the per-utterance prediction tables that every trial stores (``predictions/dev.csv`` and
``predictions/test.csv``, :mod:`sertext.predictions`): categorical tables have ``utt_id``,
``truth``, ``prediction`` and one ``prob_<class>`` column per class; dimensional tables have
``utt_id``, one column per target and ``pred_<target>``.  Fusion is

    p = w1 · p_audio + w2 · p_text,   w1 + w2 = 1

on the class posteriors (or the regression outputs): late fusion (LF) of the
multistage-conditioning paper is w1 = w2 = 0.5; the score fusion of Makiuchi et al. chooses
(w1, w2) on a grid.  :func:`fuse_fold` chooses the weights on the fold's **dev** predictions and
applies them to test; the weights that the test set itself would pick are reported apart as an
oracle, never as a result.  With w1 + w2 = 1 the argmax depends only on w1 and regression outputs
keep their scale, so the grid is one-dimensional.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sertext import metrics as M
from sertext.predictions import classes_of, most_probable, score_columns, targets_of, task_of


def weight_grid(points: int = 101) -> np.ndarray:
    """The audio weights w1 to try: ``points`` evenly spaced values from 0 to 1 (w2 = 1 − w1).

    Examples:
        >>> weight_grid(5).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if points < 2:
        raise ValueError(f"a weight grid needs at least 2 points, got {points}")
    return np.linspace(0.0, 1.0, points)


def fuse(audio: pd.DataFrame, text: pd.DataFrame, w_audio: float = 0.5) -> pd.DataFrame:
    """The fused prediction table of two models' tables for the same utterances.

    Args:
        audio, text: prediction tables of the two models (same task, same utterances).
        w_audio: w1; the text model gets w2 = 1 − w1.

    Returns:
        A prediction table in the same format (for classification, ``prediction`` is the argmax
        of the fused posteriors).

    Raises:
        ValueError: if the tables do not cover the same utterances (naming some missing ones),
            disagree on a truth, or have different prediction columns.
    """
    audio, text = _aligned(audio, text)
    fused = audio.copy()
    columns = _score_columns(audio)
    fused[columns] = w_audio * audio[columns].to_numpy() + (1 - w_audio) * text[columns].to_numpy()
    if task_of(audio) == "categorical":
        fused["prediction"] = most_probable(fused[columns].to_numpy(), sorted(classes_of(audio)))
    return fused


def selection_score(table: pd.DataFrame) -> float:
    """What the weights are chosen by: UAR for classification, mean CCC over the targets else."""
    scores = M.table_metrics(table)
    return scores["uar"] if "uar" in scores else scores["ccc"]


def best_weight(audio: pd.DataFrame, text: pd.DataFrame, grid: np.ndarray) -> tuple[float, float]:
    """The audio weight of ``grid`` that scores best on these tables, and its score.

    Ties go to the weight closest to 0.5 (plain late fusion), then to the smaller weight, so the
    choice does not depend on the grid's order.  Scores the same as :func:`selection_score` of
    :func:`fuse`, for every weight of the grid at once (a report over a thousand runs searches
    the grid thousands of times).
    """
    audio, text = _aligned(audio, text)
    columns = _score_columns(audio)
    a, t = audio[columns].to_numpy(dtype=float), text[columns].to_numpy(dtype=float)
    fused = grid[:, None, None] * a[None] + (1 - grid)[:, None, None] * t[None]  # weight × utterance × column
    if task_of(audio) == "categorical":
        scores = _uar_per_weight(fused, audio["truth"].to_numpy(), sorted(classes_of(audio)))
    else:
        scores = _ccc_per_weight(fused, audio[sorted(targets_of(audio))].to_numpy(dtype=float))
    ranked = np.where(np.isfinite(scores), scores, -np.inf)  # an undefined score (NaN) never wins
    best = np.flatnonzero(ranked == ranked.max())
    chosen = min(best, key=lambda i: (abs(grid[i] - 0.5), grid[i]))
    return float(grid[chosen]), float(scores[chosen])


def _uar_per_weight(fused: np.ndarray, truth: np.ndarray, classes: list) -> np.ndarray:
    """:func:`sertext.metrics.uar` of the argmax (first class on a tie, as
    :func:`~sertext.predictions.most_probable`) of each weight's fused posteriors."""
    predicted = fused.argmax(axis=2)
    recalls = [(predicted[:, truth == c] == k).mean(axis=1) for k, c in enumerate(classes) if np.any(truth == c)]
    return np.mean(recalls, axis=0)


def _ccc_per_weight(fused: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The mean over targets of :func:`sertext.metrics.ccc` (population moments; NaN for a zero
    denominator) of each weight's fused outputs."""
    t_centred = truth - truth.mean(axis=0)
    p_mean = fused.mean(axis=1, keepdims=True)
    p_centred = fused - p_mean
    covariance = (t_centred[None] * p_centred).mean(axis=1)
    denominator = (t_centred**2).mean(axis=0)[None] + (p_centred**2).mean(axis=1) + \
        (truth.mean(axis=0)[None] - p_mean[:, 0]) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        per_target = np.where(denominator > 0, 2 * covariance / denominator, np.nan)
    return per_target.mean(axis=1)


@dataclass(frozen=True)
class FoldFusion:
    """Fusion results of one fold (and seed).

    Attributes:
        late: test predictions of late fusion (w1 = w2 = 0.5).
        weighted: test predictions with the weight chosen on dev.
        w_audio: the weight chosen on dev (w1; w2 = 1 − w1).
        dev_score: its dev score.
        oracle_w_audio: the weight the test set would choose (an upper bound, not a result).
        oracle_score: its test score.
    """

    late: pd.DataFrame
    weighted: pd.DataFrame
    w_audio: float
    dev_score: float
    oracle_w_audio: float
    oracle_score: float


def fuse_fold(dev_audio: pd.DataFrame, dev_text: pd.DataFrame, test_audio: pd.DataFrame,
              test_text: pd.DataFrame, *, grid: np.ndarray | None = None) -> FoldFusion:
    """Late fusion and dev-weighted score fusion of one fold's audio and text predictions."""
    grid = weight_grid() if grid is None else np.asarray(grid, dtype=float)
    w_audio, dev_score = best_weight(dev_audio, dev_text, grid)
    oracle_w, oracle_score = best_weight(test_audio, test_text, grid)
    return FoldFusion(fuse(test_audio, test_text, 0.5), fuse(test_audio, test_text, w_audio), w_audio, dev_score,
                      oracle_w, oracle_score)


def _score_columns(table: pd.DataFrame) -> list[str]:
    """The table's probability or output columns, sorted so that two models' tables line up (in
    the order of its sorted classes or targets, since the columns share one prefix)."""
    return sorted(score_columns(table))


def _aligned(audio: pd.DataFrame, text: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables in the same utterance order, after checking that they can be fused."""
    if _score_columns(audio) != _score_columns(text):
        raise ValueError(f"the tables predict different things: {_score_columns(audio)} and "
                         f"{_score_columns(text)}")
    for name, table in (("audio", audio), ("text", text)):
        if table["utt_id"].duplicated().any():
            raise ValueError(f"the {name} predictions list utterance(s) twice: "
                             f"{sorted(table.loc[table['utt_id'].duplicated(), 'utt_id'])[:5]}")
    only_audio = sorted(set(audio["utt_id"]) - set(text["utt_id"]))
    only_text = sorted(set(text["utt_id"]) - set(audio["utt_id"]))
    if only_audio or only_text:
        raise ValueError(f"the audio and text predictions cover different utterances: {len(only_audio)} only "
                         f"in audio (e.g. {only_audio[:3]}), {len(only_text)} only in text (e.g. {only_text[:3]})")
    audio = audio.sort_values("utt_id", kind="stable").reset_index(drop=True)
    text = text.sort_values("utt_id", kind="stable").reset_index(drop=True)
    truths = [c for c in audio.columns if c not in _score_columns(audio) and c not in ("utt_id", "prediction")]
    for column in truths:
        if column in text and not audio[column].equals(text[column]):
            raise ValueError(f"the audio and text predictions disagree on the truth column {column!r}")
    return audio, text


def run_pairs(dev: pd.DataFrame, test: pd.DataFrame, audio: str, text: str):
    """For every (variant, fold, seed) with finished audio and text runs: the key and the four
    prediction tables ``dev_audio, dev_text, test_audio, test_text`` (a pair missing a run is
    skipped; aggregation lists it as missing); the two dev tables are ``None`` when ``dev`` is
    empty (a protocol without a dev set).  A text model run without variants (``-``) pairs with
    every variant of the audio model.  Each stack is split into its runs once, so the cost grows
    with the runs, not with their square (a report over 1,440 runs)."""
    keys = ["variant", "fold", "seed"]
    dev_runs, test_runs = ({} if dev.empty else _runs(dev, (audio, text), keys)), _runs(test, (audio, text), keys)
    text_variants = {key[1] for key in test_runs if key[0] == text}
    missing = pd.DataFrame()
    for key in test.loc[test["arch"] == audio, keys].drop_duplicates().itertuples(index=False, name=None):
        text_key = key if key[0] in text_variants else ("-", *key[1:])  # a text model the variants leave alone
        tables = [None, None] if dev.empty else [dev_runs.get((audio, *key), missing),
                                                  dev_runs.get((text, *text_key), missing)]
        tables += [test_runs.get((audio, *key), missing), test_runs.get((text, *text_key), missing)]
        if not any(table is not None and table.empty for table in tables):
            yield dict(zip(keys, key, strict=True)), *tables


def fuse_sweep(dev: pd.DataFrame, test: pd.DataFrame, *, audio: str = "cnn14", text: str = "text",
               grid: np.ndarray | None = None, fixed: tuple = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Late fusion (``LF``) and dev-weighted fusion (``LF-weighted``) for every (variant, fold,
    seed) that has finished runs of both the audio and the text model, and with ``fixed`` weights
    (``LF-fixed``) where given.  Without dev predictions (a protocol with no dev set, as Makiuchi
    et al.'s fixed budget), no weight can be chosen: LF and LF-fixed only, and no weights.

    Args:
        dev, test: stacked prediction tables with ``arch``, ``variant``, ``fold`` and ``seed``
            columns (:func:`sertext.aggregate.collect_predictions`).
        fixed: ``(w1, w2)`` of a published score fusion p = w1·p_audio + w2·p_text, e.g. Makiuchi
            et al.'s (0.6, 1); applied as w1 / (w1 + w2), which gives the same argmax.

    Returns:
        The fused test predictions, stacked in the same format with ``arch`` set to ``LF`` or
        ``LF-weighted``, and one row of weights per (variant, fold, seed): ``w_audio`` chosen on
        dev with its ``dev_score``, and the test set's ``oracle_w_audio`` and ``oracle_score``.
    """
    fused, weights = [], []
    for labels, dev_audio, dev_text, test_audio, test_text in run_pairs(dev, test, audio, text):
        if dev_audio is None:
            fused.append(fuse(test_audio, test_text, 0.5).assign(arch="LF", **labels))
        else:
            result = fuse_fold(dev_audio, dev_text, test_audio, test_text, grid=grid)
            fused += [result.late.assign(arch="LF", **labels), result.weighted.assign(arch="LF-weighted", **labels)]
            weights.append({**labels, "w_audio": result.w_audio, "dev_score": result.dev_score,
                            "oracle_w_audio": result.oracle_w_audio, "oracle_score": result.oracle_score})
        if fixed:
            fused.append(fuse(test_audio, test_text, fixed[0] / sum(fixed)).assign(arch="LF-fixed", **labels))
    if not fused:
        raise ValueError(f"no fold and seed has finished runs of both {audio!r} and {text!r} to fuse")
    return pd.concat(fused, ignore_index=True), pd.DataFrame(weights)


def _runs(frame: pd.DataFrame, archs: tuple, keys: list[str]) -> dict[tuple, pd.DataFrame]:
    """The tables of ``archs``' runs in a stack, by (arch, *keys), each without the columns only
    other runs fill (the targets of other single-task variants)."""
    rows = frame[frame["arch"].isin(archs)]
    return {key: part.drop(columns=["arch", *keys]).dropna(axis=1, how="all").reset_index(drop=True)
            for key, part in rows.groupby(["arch", *keys], sort=False)}
