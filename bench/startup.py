"""A sweep's start-up, stage by stage: what a user waits before the first trial starts.

Runs the demo main job as a user does (``python sweeps/loso.py --demo``, one fold, one seed, one
epoch; the demo corpus and its features already cached, a new MLflow SQLite store each time, as a
first sweep in a new project has) in a fresh process, ``--runs`` times, and splits the wait into:

- *python + imports*: from the process' start to the sweep's first stage (interpreter, torch, Ray,
  MLflow and sertext imports, argument parsing);
- the stages the sweep times itself and prints on its ``start-up`` line (:mod:`sertext.sweep.startup`):
  corpus, checks, Ray, features, MLflow;
- *first trial*: from that line until the first trial's MLflow run is created (Tune's set-up, a
  worker process starting and importing the trial code, the fold's data loading).

The medians over the runs are reported with the CPU named.  Writes ``bench/results/startup.json``.

Run: python bench/startup.py [--runs 3] [--fold Ses01F]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
from sertext.precision import cpu_description
from sertext.sweep.startup import LINE_START, parse_line
from sertext.tracking import KIND_TAG

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ["sweeps/loso.py", "--demo", "--seeds", "0", "--set", "train.epochs=1", "--quiet", "--report-dir", ""]


def launch(folder: Path, name: str, fold: str) -> dict:
    """One sweep in a fresh process: its stage seconds and the seconds to its first trial run."""
    uri = f"sqlite:///{folder / name}.db"
    command = [sys.executable, *SWEEP, "--folds", fold, "--name", name, "--tracking-uri", uri,
               "--storage-path", str(folder / "ray_results")]
    env = {**os.environ, "RAY_ADDRESS": "local",  # its own Ray, never one another program started here
           "RAY_AUTH_MODE": "disabled", "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}
    started = time.time()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, line_at = [], None
    for line in process.stdout:
        output.append(line)
        if line.startswith(LINE_START) and line_at is None:
            line_at = time.time()
    if process.wait() != 0 or line_at is None:
        raise RuntimeError(f"the sweep failed (exit {process.returncode}):\n{''.join(output[-30:])}")
    stages, alongside = parse_line("".join(output))
    client = mlflow.MlflowClient(uri)
    trials = client.search_runs([client.get_experiment_by_name(name).experiment_id], f"tags.`{KIND_TAG}` = 'trial'")
    first_run = min(run.info.start_time for run in trials) / 1000
    before_stages = line_at - started - sum(stages.values())
    return {"python + imports": before_stages, **stages, "first trial": first_run - line_at,
            "total to the first trial": first_run - started, "whole sweep": time.time() - started,
            **{f"{task} (alongside Ray and features)": seconds for task, seconds in alongside.items()}}


def main(runs: int, fold: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        print("warm-up launch (demo corpus and features into the cache)", flush=True)
        launch(Path(folder), "startup-warmup", fold)
        launches = []
        for index in range(runs):
            launches.append(launch(Path(folder), f"startup-{index}", fold))
            print(f"launch {index + 1}: " + ", ".join(f"{k} {v:.1f} s" for k, v in launches[-1].items()), flush=True)
    medians = {stage: round(statistics.median(one[stage] for one in launches), 2) for stage in launches[0]}
    return {"cpu": cpu_description(), "sweep": " ".join(SWEEP + ["--folds", fold]), "runs": runs,
            "statistic": "median over fresh-process launches after one warm-up launch",
            "seconds": medians, "launches": [{k: round(v, 2) for k, v in one.items()} for one in launches]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="measured launches (after one warm-up launch)")
    parser.add_argument("--fold", default="Ses01F", help="the demo fold the sweep trains")
    args = parser.parse_args()
    result = main(args.runs, args.fold)
    print(f"\nstart-up on {result['cpu']} (median of {args.runs}):")
    for stage, seconds in result["seconds"].items():
        print(f"  {stage:<26} {seconds:6.1f} s")
    out = Path(__file__).parent / "results" / "startup.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
