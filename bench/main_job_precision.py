"""The demo main job in float32 and in bfloat16 autocast, side by side: its time and its results.

Runs ``python sweeps/loso.py --demo`` (the README's main job: 4 architectures × 10 folds × the demo's
seeds) twice in fresh processes, the feature cache warm and a new MLflow store each time: once with
``--set train.amp=false`` (float32) and once with ``--set train.amp=true`` (bf16 autocast on the CPU).
For each architecture it reports the test UAR's mean and its spread over seeds (the std over
seeds of each seed's mean over folds of the per-fold test UAR, which MLflow holds; the report
pools the folds' predictions before scoring, so its numbers differ a little) in both precisions,
and whether bf16's mean stays within the float32 seed spread.  A CPU without native bf16
emulates it, so there bf16 is expected to be slower; sertext's default takes bf16 only where it is
native (:mod:`sertext.precision`).

Writes ``bench/results/main_job_precision.json``.

Run: python bench/main_job_precision.py [--folds Ses01F Ses01M ...]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import mlflow
from sertext.precision import cpu_description, native_cpu_bf16
from sertext.tracking import KIND_TAG

ROOT = Path(__file__).resolve().parent.parent
PRECISIONS = {"fp32": "false", "bf16": "true"}


def main_job(folder: Path, precision: str, folds: list[str], name: str = "") -> dict:
    """One launch of the main job (as sweep ``name``, default ``main-job-<precision>``): its wall
    time and each architecture's per-seed test UARs."""
    name = name or f"main-job-{precision}"
    uri = f"sqlite:///{folder / name}.db"
    command = [sys.executable, "sweeps/loso.py", "--demo", "--quiet", "--report-dir", "", "--tracking-uri", uri,
               "--storage-path", str(folder / "ray"), "--name", name,
               "--set", f"train.amp={PRECISIONS[precision]}", *(["--folds", *folds] if folds else [])]
    env = {**os.environ, "RAY_ADDRESS": "local", "RAY_AUTH_MODE": "disabled", "MLFLOW_DISABLE_TELEMETRY": "true"}
    started = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise RuntimeError(f"the {precision} main job failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name(name).experiment_id
    by_arch_seed = defaultdict(list)
    for trial in client.search_runs([experiment], f"tags.`{KIND_TAG}` = 'trial'", max_results=10_000):
        by_arch_seed[trial.data.tags["arch"], trial.data.tags["seed"]].append(trial.data.metrics["test/uar"])
    per_seed = defaultdict(list)
    for (arch, _), values in sorted(by_arch_seed.items()):
        per_seed[arch].append(statistics.mean(values))
    return {"seconds": round(seconds, 1), "trials": sum(len(v) for v in by_arch_seed.values()),
            "test_uar_per_seed": {arch: [round(v, 4) for v in values] for arch, values in per_seed.items()}}


def compare(fp32: dict, bf16: dict) -> dict:
    """Per architecture: both means, the float32 seed spread, and whether bf16's mean lies within it."""
    rows = {}
    for arch, values in fp32["test_uar_per_seed"].items():
        base, other = statistics.mean(values), statistics.mean(bf16["test_uar_per_seed"][arch])
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        rows[arch] = {"fp32_mean": round(base, 4), "fp32_seed_std": round(spread, 4), "bf16_mean": round(other, 4),
                      "difference": round(other - base, 4), "within_seed_spread": abs(other - base) <= spread}
    return rows


def main(folds: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        print("warm-up: the demo corpus and its features into the cache (one fold, fp32)", flush=True)
        main_job(Path(folder), "fp32", folds[:1] or ["Ses01F"], name="warm-up")
        launches = {}
        for precision in PRECISIONS:
            launches[precision] = main_job(Path(folder), precision, folds)
            print(f"{precision}: {launches[precision]['seconds']:.0f} s, {launches[precision]['trials']} trials",
                  flush=True)
    return {"cpu": cpu_description(), "native_bf16": native_cpu_bf16(), "folds": folds or "all",
            "seconds": {p: one["seconds"] for p, one in launches.items()},
            "bf16_speedup": round(launches["fp32"]["seconds"] / launches["bf16"]["seconds"], 2),
            "test_uar": compare(launches["fp32"], launches["bf16"]), "launches": launches}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", nargs="*", default=[], help="only these folds (default: all ten)")
    args = parser.parse_args()
    result = main(args.folds)
    seconds = result["seconds"]
    print(f"\nmain job on {result['cpu']}: fp32 {seconds['fp32']:.0f} s, bf16 {seconds['bf16']:.0f} s "
          f"({result['bf16_speedup']}x)")
    for arch, row in result["test_uar"].items():
        print(f"  {arch:<10} fp32 {row['fp32_mean']:.3f} ({row['fp32_seed_std']:.3f})  bf16 {row['bf16_mean']:.3f}  "
              f"{'within' if row['within_seed_spread'] else 'OUTSIDE'} the seed spread")
    out = Path(__file__).parent / "results" / "main_job_precision.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
