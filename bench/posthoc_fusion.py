"""Post-hoc fusion grid vs retraining: the 101-point weight search of the demo sweep, side by side.

Reads the latest launch of the demo LOSO sweep from MLflow (run ``python sweeps/loso.py --demo``
first), then times

1. loading every run's stored dev and test predictions, and
2. the 101-point grid of weights (w1 = 0, 0.01, …, 1; w2 = 1 − w1) over every fold and seed:
   the weights chosen on dev, the oracle on test and the fused test predictions (``fuse_sweep``),

next to what the same grid would cost by retraining: each weight point needs the audio (CNN14)
and the text model trained for that fold and seed, measured from the runs' own durations in
MLflow.  Writes ``bench/results/posthoc_fusion.json``.

Run: python bench/posthoc_fusion.py [--experiment iemocap-loso-demo] [--tracking-uri URI]
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from sertext import aggregate, tracking  # noqa: E402
from sertext.fusion import fuse_sweep, weight_grid  # noqa: E402


def main(experiment: str, tracking_uri: str, points: int) -> dict:
    experiment_id, parent = tracking.latest_sweep_run(tracking_uri, experiment)
    runs = aggregate.collect_runs(tracking_uri, experiment_id, parent)
    start = time.perf_counter()
    dev = aggregate.collect_predictions(tracking_uri, runs, "dev")
    test = aggregate.collect_predictions(tracking_uri, runs, "test")
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    _, weights = fuse_sweep(dev, test, grid=weight_grid(points))
    grid_s = time.perf_counter() - start
    durations = {run.info.run_id: (run.info.end_time - run.info.start_time) / 1000
                 for run in tracking.child_runs(tracking_uri, experiment_id, parent, status="FINISHED")}
    finished = runs[runs["status"] == "FINISHED"].assign(seconds=lambda r: r["run_id"].map(durations))
    pairs = finished[finished["arch"].isin(["cnn14", "text"])].groupby(["fold", "seed"])["seconds"].sum()
    retrain_s = points * float(pairs.sum())
    return {"experiment": experiment, "weight_points": points, "fold_seed_pairs": len(weights),
            "load_predictions_s": round(load_s, 2), "grid_s": round(grid_s, 2),
            "posthoc_total_s": round(load_s + grid_s, 2),
            "retrain_per_pair_s": round(float(pairs.mean()), 2), "retrain_grid_s": round(retrain_s, 1),
            "retrain_over_posthoc": round(retrain_s / (load_s + grid_s), 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, cpu"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="iemocap-loso-demo", help="the sweep's MLflow experiment")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI")
                        or tracking.default_tracking_uri(), help="MLflow store (default: SQLite in mlflow/)")
    parser.add_argument("--points", type=int, default=101, help="weight grid size")
    args = parser.parse_args()
    result = main(args.experiment, args.tracking_uri, args.points)
    print(f"{result['weight_points']}-point weight grid over {result['fold_seed_pairs']} fold × seed pairs: "
          f"post-hoc {result['posthoc_total_s']:.1f} s (loading predictions {result['load_predictions_s']:.1f} s, "
          f"grid {result['grid_s']:.1f} s)")
    print(f"by retraining: {result['retrain_per_pair_s']:.1f} s per pair and point (CNN14 + text) -> "
          f"{result['retrain_grid_s'] / 3600:.1f} h; retraining / post-hoc = {result['retrain_over_posthoc']:.0f}x")
    out = Path(__file__).parent / "results" / "posthoc_fusion.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
