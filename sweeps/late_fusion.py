"""Late fusion of a finished sweep's audio and text models, as a Ray Tune sweep over the weights.

Score fusion p = w1·p_audio + w2·p_text (w2 = 1 − w1) of Makiuchi et al., evaluated from the
predictions that the source sweep stored in MLflow, with no retraining: one trial and one MLflow
run per weight w1 on a grid, with the mean dev and test UAR (or CCC) over the folds and seeds, so
the whole weight curve can be compared in the MLflow UI.  The per-fold weights chosen on dev, and
the test-chosen oracle, are in the source sweep's report (`sertext report`).

Run:  python sweeps/late_fusion.py --source iemocap-loso-demo
      ray submit cluster/cluster.yaml sweeps/late_fusion.py -- --source iemocap-loso
"""

import argparse
import os

from sertext.sweep import run_fusion_sweep, run_script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="iemocap-loso-demo", help="the finished sweep (MLflow experiment)")
    parser.add_argument("--points", type=int, default=101, help="weights w1 from 0 to 1 (default 101)")
    parser.add_argument("--audio", default="cnn14", help="the audio model's architecture (default cnn14)")
    parser.add_argument("--text", default="text", help="the text model's architecture (default text)")
    parser.add_argument("--tracking-uri", default="",
                        help="MLflow store or server (default: $MLFLOW_TRACKING_URI, else SQLite in mlflow/)")
    parser.add_argument("--storage-path", default="", help="Ray Tune results (default ./ray_results)")
    parser.add_argument("--quiet", action="store_true", help="no progress output from Ray Tune")
    parser.add_argument("--dry-run", action="store_true", help="print what it would score; run nothing")
    args = parser.parse_args()
    run_fusion_sweep(args.source, tracking_uri=args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", ""),
                     points=args.points, audio=args.audio, text=args.text, storage_path=args.storage_path,
                     progress=not args.quiet, dry_run=args.dry_run)


if __name__ == "__main__":
    run_script(main)
