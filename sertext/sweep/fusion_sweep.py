"""The late-fusion weight search of a finished sweep, as a Ray Tune sweep of its own: one trial
per audio weight, each fusing the stored predictions (no retraining) into one MLflow run, so that
the weight curve can be compared in the MLflow UI."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .definition import trial_key

if TYPE_CHECKING:
    import pandas as pd


def run_fusion_sweep(source: str, *, tracking_uri: str = "", points: int = 101, audio: str = "cnn14",
                     text: str = "text", storage_path: str = "", progress: bool = True,
                     dry_run: bool = False) -> pd.DataFrame | None:
    """One trial per audio weight w1 of a ``points``-point grid (w2 = 1 − w1): it fuses the source
    sweep's stored dev and test predictions of every fold and seed at w1 and logs one MLflow child
    run (param ``fusion.w_audio``; metrics ``dev/<score>`` and ``test/<score>``, the means over
    folds and seeds of UAR or mean CCC) under a parent run in the experiment ``<source>-fusion``.
    The weights :mod:`sertext.fusion` chooses per fold on dev are in the source sweep's report.

    With ``dry_run``, print how many weights and prediction pairs it would score, and stop.

    Returns:
        One row per weight: ``w_audio``, ``dev/<score>``, ``test/<score>`` (``None`` for a dry run).
    """
    import pandas as pd

    from sertext import aggregate, tracking
    from sertext.fusion import run_pairs, weight_grid

    from .tune import run_function_grid

    tracking_uri = tracking_uri or tracking.default_tracking_uri()
    experiment_id, parent = tracking.latest_sweep_run(tracking_uri, source)
    runs = aggregate.collect_runs(tracking_uri, experiment_id, parent)
    runs = runs[runs["arch"].isin([audio, text])]
    dev, test = (aggregate.collect_predictions(tracking_uri, runs, split) for split in ("dev", "test"))
    if dev.empty:
        raise ValueError(f"{source}'s {audio} and {text} runs have no dev predictions (a protocol without a dev "
                         "set, as Makiuchi et al.'s): a fusion weight cannot be chosen on dev; the sweep's report "
                         "has its LF and fixed-weight rows")
    name = f"{source}-fusion"
    if dry_run:
        pairs = sum(1 for _ in run_pairs(dev, test, audio, text))
        print(f"dry run of {name}: {points} weights × {pairs} (fold, seed) pairs of {audio} and {text} predictions, "
              f"fused from the stored predictions (no training: seconds); nothing is logged")
        return None
    fusion_experiment = tracking.prepare_experiment(tracking_uri, name)
    fusion_parent = tracking.start_parent_run(tracking_uri, fusion_experiment, name,
                                              {"source": source, "points": points, "audio": audio, "text": text})
    setup = {"tracking_uri": tracking_uri, "experiment_id": fusion_experiment, "parent_run_id": fusion_parent,
             "source": source, "audio": audio, "text": text}
    errors = run_function_grid(name, functools.partial(score_weight, dev=dev, test=test, setup=setup),
                               [round(float(w), 6) for w in weight_grid(points)], storage_path=storage_path,
                               progress=progress)
    tracking.end_run(tracking_uri, fusion_parent, "FAILED" if errors else "FINISHED")
    rows = [{"w_audio": float(run.data.params["fusion.w_audio"]), **run.data.metrics}
            for run in tracking.child_runs(tracking_uri, fusion_experiment, fusion_parent, status="FINISHED")]
    curve = pd.DataFrame(rows).sort_values("w_audio").reset_index(drop=True)
    score = next(c for c in curve.columns if c.startswith("dev/"))
    best = curve.loc[curve[score].idxmax()]
    print(f"\n{name}: {len(curve)} weights, {errors} failed; best on dev: w_audio {best['w_audio']:.2f} "
          f"({score} {best[score]:.3f}, test {best[score.replace('dev/', 'test/')]:.3f})")
    print(tracking.look_at_runs(tracking_uri, fusion_experiment))
    return curve


def score_weight(w_audio: float, dev: pd.DataFrame, test: pd.DataFrame, setup: dict) -> dict:
    """One fusion weight: the mean dev and test score over every (variant, fold, seed) pair, logged
    as one MLflow run (not again when its run already finished)."""
    import numpy as np

    from sertext import tracking
    from sertext.fusion import fuse, run_pairs, selection_score
    from sertext.predictions import task_of

    audio, text = setup["audio"], setup["text"]
    scores = {"dev": [], "test": []}
    for _, dev_audio, dev_text, test_audio, test_text in run_pairs(dev, test, audio, text):
        scores["dev"].append(selection_score(fuse(dev_audio, dev_text, w_audio)))
        scores["test"].append(selection_score(fuse(test_audio, test_text, w_audio)))
    kind = "uar" if task_of(test) == "categorical" else "ccc"
    metrics = {f"{split}/{kind}": float(np.mean(values)) for split, values in scores.items()}
    run = tracking.TrialRun(setup["tracking_uri"], setup["experiment_id"], setup["parent_run_id"],
                            trial_key({"w_audio": w_audio}), f"w_audio={w_audio:.2f}",
                            {"arch": "LF-weighted", "source": setup["source"], "pairs": len(scores["test"])},
                            {"fusion.w_audio": w_audio, "fusion.audio": audio, "fusion.text": text})
    if not run.finished:
        run.log_metrics(metrics, step=0)
        tracking.end_run(setup["tracking_uri"], run.run_id)
    return metrics
